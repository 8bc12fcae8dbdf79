package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/keyvault/keyvault/internal/authz"
	"github.com/keyvault/keyvault/internal/certs"
	"github.com/keyvault/keyvault/internal/vault"
)

// certificateBundle is CertificateBundle and, with the deletion fields,
// DeletedCertificateBundle. CertificateItem is the same without kid, sid,
// cer and policy.
type certificateBundle struct {
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        int64             `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64             `json:"scheduledPurgeDate,omitempty"`
	ID                 string            `json:"id"`
	Kid                string            `json:"kid,omitempty"`
	Sid                string            `json:"sid,omitempty"`
	X5t                string            `json:"x5t,omitempty"`
	Cer                string            `json:"cer,omitempty"`
	ContentType        string            `json:"contentType,omitempty"`
	Attributes         attributesJSON    `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	Policy             *certs.Policy     `json:"policy,omitempty"`
}

// certificateOperationJSON is CertificateOperation.
type certificateOperationJSON struct {
	ID                    string              `json:"id"`
	Issuer                *certs.IssuerParams `json:"issuer,omitempty"`
	CSR                   string              `json:"csr,omitempty"`
	CancellationRequested bool                `json:"cancellation_requested"`
	Status                string              `json:"status"`
	StatusDetails         string              `json:"status_details,omitempty"`
	Target                string              `json:"target,omitempty"`
	RequestID             string              `json:"request_id,omitempty"`
	Error                 *ErrorDetail        `json:"error,omitempty"`
}

type certificateRequest struct {
	Value      string             `json:"value"`
	Password   string             `json:"pwd"`
	Policy     *certs.Policy      `json:"policy"`
	Attributes *requestAttributes `json:"attributes"`
	Tags       map[string]string  `json:"tags"`
	X5c        []string           `json:"x5c"`
}

func (h *Handler) routeCertificates(w http.ResponseWriter, r *http.Request, req *Request, segs []string) {
	if len(segs) > 0 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1]
	}
	m := r.Method
	switch {
	case len(segs) == 0 && m == http.MethodGet:
		h.listCertificates(w, r, req)
	case len(segs) >= 1 && strings.EqualFold(segs[0], "contacts"):
		h.routeContacts(w, r, req, segs[1:])
	case len(segs) >= 1 && strings.EqualFold(segs[0], "issuers"):
		h.routeIssuers(w, r, req, segs[1:])
	case len(segs) == 1 && m == http.MethodPost && strings.EqualFold(segs[0], "restore"):
		h.restoreCertificate(w, r, req)
	case len(segs) == 1 && m == http.MethodGet:
		h.getCertificate(w, r, req, segs[0], "")
	case len(segs) == 1 && m == http.MethodPatch:
		h.updateCertificate(w, r, req, segs[0], "")
	case len(segs) == 1 && m == http.MethodDelete:
		h.deleteCertificate(w, r, req, segs[0])
	case len(segs) == 2:
		h.routeCertificateAction(w, r, req, segs[0], segs[1])
	case len(segs) == 3 && strings.EqualFold(segs[1], "pending") && strings.EqualFold(segs[2], "merge") && m == http.MethodPost:
		h.mergeCertificate(w, r, req, segs[0])
	default:
		pathNotFound(w, r)
	}
}

func (h *Handler) routeCertificateAction(w http.ResponseWriter, r *http.Request, req *Request, name, second string) {
	m := r.Method
	switch action := strings.ToLower(second); {
	case action == "create" && m == http.MethodPost:
		h.createCertificate(w, r, req, name)
	case action == "import" && m == http.MethodPost:
		h.importCertificate(w, r, req, name)
	case action == "backup" && m == http.MethodPost:
		h.backupCertificate(w, r, req, name)
	case action == "versions" && m == http.MethodGet:
		h.listCertificateVersions(w, r, req, name)
	case action == "policy" && m == http.MethodGet:
		h.getCertificatePolicy(w, r, req, name)
	case action == "policy" && m == http.MethodPatch:
		h.updateCertificatePolicy(w, r, req, name)
	case action == "pending":
		h.routePending(w, r, req, name)
	case m == http.MethodGet:
		h.getCertificate(w, r, req, name, second)
	case m == http.MethodPatch:
		h.updateCertificate(w, r, req, name, second)
	default:
		methodNotAllowed(w, r)
	}
}

func (h *Handler) routeDeletedCertificates(w http.ResponseWriter, r *http.Request, req *Request, segs []string) {
	routeDeleted(w, r, req, segs, deletedRoutes{
		list: h.listDeletedCertificates, get: h.getDeletedCertificate, purge: h.purgeDeletedCertificate, recover: h.recoverDeletedCertificate,
	})
}

func (h *Handler) certificateJSON(r *http.Request, v *vault.Vault, c *vault.Certificate, full bool) certificateBundle {
	b := certificateBundle{
		ID: objectURL(r, "certificates", c.Name, c.Version), X5t: base64.RawURLEncoding.EncodeToString(certs.Thumbprint(c.CER)),
		Attributes: attributes(c.Attributes, v, full), Tags: c.Tags,
	}
	if !full {
		b.ID = objectURL(r, "certificates", c.Name)
		return b
	}
	b.Kid = objectURL(r, "keys", c.Name, c.Version)
	b.Sid = objectURL(r, "secrets", c.Name, c.Version)
	b.Cer = base64.StdEncoding.EncodeToString(c.CER)
	b.ContentType = c.ContentType
	b.Policy = policyWithID(r, c.Name, c.Policy)
	return b
}

func policyWithID(r *http.Request, name string, p *certs.Policy) *certs.Policy {
	out := *p
	out.ID = objectURL(r, "certificates", name, "policy")
	return &out
}

func operationJSON(r *http.Request, op *vault.PendingOperation) certificateOperationJSON {
	out := certificateOperationJSON{
		ID: objectURL(r, "certificates", op.Name, "pending"), Issuer: &op.Issuer, CancellationRequested: op.CancellationRequested,
		Status: op.Status, StatusDetails: op.StatusDetails, RequestID: op.RequestID,
	}
	if len(op.CSR) > 0 {
		out.CSR = base64.StdEncoding.EncodeToString(op.CSR)
	}
	if op.Target != "" {
		out.Target = objectURL(r, "certificates", op.Name)
	}
	if op.ErrorCode != "" {
		out.Error = &ErrorDetail{Code: op.ErrorCode, Message: op.ErrorMessage}
	}
	return out
}

func certParams(body *certificateRequest) vault.CertificateParams {
	p := vault.CertificateParams{Policy: body.Policy, Tags: body.Tags}
	if body.Attributes != nil {
		p.Enabled = body.Attributes.Enabled
	}
	return p
}

func (h *Handler) createCertificate(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.CertCreate, "certificates/"+name) {
		return
	}
	var body certificateRequest
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	op, err := h.Vaults.CreateCertificate(r.Context(), req.Vault, name, certParams(&body))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", objectURL(r, "certificates", op.Name, "pending")+"?api-version="+req.APIVersion)
	writeJSON(w, http.StatusAccepted, operationJSON(r, acceptedOperation(op)))
}

// acceptedOperation returns op as the 202 response to a create shows it.
// Azure issues every certificate asynchronously, so that response always
// has the status inProgress. The Python SDK (azure-keyvault-certificates
// 4.7) polls only then: given a completed operation, its poller never
// fetches the certificate and returns None. A self-signed certificate is
// issued before the response is sent, so the first poll of the pending
// operation reports it completed.
func acceptedOperation(op *vault.PendingOperation) *vault.PendingOperation {
	if op.Status != "completed" {
		return op
	}
	accepted := *op
	accepted.Status = "inProgress"
	accepted.StatusDetails = "Pending certificate created. Certificate request is in progress. This may take some time based on the issuer provider. Please check again later."
	accepted.Target = ""
	return &accepted
}

func (h *Handler) importCertificate(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.CertImport, "certificates/"+name) {
		return
	}
	var body certificateRequest
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	if body.Value == "" {
		WriteError(w, r, badRequest("The request body must have 'value': a base64 PKCS #12 file or PEM text with the private key."))
		return
	}
	c, err := h.Vaults.ImportCertificate(r.Context(), req.Vault, name, importValue(body.Value), body.Password, certParams(&body))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.certificateJSON(r, req.Vault, c, true))
}

// importValue returns the PEM text inside value when value is base64 of PEM
// text, and value unchanged otherwise. The Python SDK
// (azure-keyvault-certificates 4.7) base64-encodes whatever bytes it is
// given, PEM files included, where the JavaScript SDK sends PEM as text;
// Azure accepts both.
func importValue(value string) string {
	if strings.Contains(value, "-----BEGIN") {
		return value
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(value), ""))
	if err != nil || !strings.Contains(string(raw), "-----BEGIN") {
		return value
	}
	return string(raw)
}

func (h *Handler) mergeCertificate(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.CertCreate, "certificates/"+name) {
		return
	}
	var body certificateRequest
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	chain := make([][]byte, 0, len(body.X5c))
	for _, c := range body.X5c {
		der, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			WriteError(w, r, badRequest("Every x5c entry must be a base64 DER certificate."))
			return
		}
		chain = append(chain, der)
	}
	c, err := h.Vaults.MergeCertificate(r.Context(), req.Vault, name, chain, certParams(&body))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, h.certificateJSON(r, req.Vault, c, true))
}

func (h *Handler) getCertificate(w http.ResponseWriter, r *http.Request, req *Request, name, version string) {
	if !h.allow(w, r, req, authz.CertGet, "certificates/"+name) {
		return
	}
	c, err := h.Vaults.GetCertificate(r.Context(), req.Vault, name, version)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.certificateJSON(r, req.Vault, c, true))
}

func (h *Handler) updateCertificate(w http.ResponseWriter, r *http.Request, req *Request, name, version string) {
	if !h.allow(w, r, req, authz.CertUpdate, "certificates/"+name) {
		return
	}
	var body struct {
		Attributes *requestAttributes `json:"attributes"`
		Tags       *map[string]string `json:"tags"`
		Policy     *certs.Policy      `json:"policy"`
	}
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	u := vault.CertificateUpdate{}
	if body.Attributes != nil {
		u.Enabled = body.Attributes.Enabled
	}
	if body.Tags != nil {
		u.SetTags, u.Tags = true, *body.Tags
	}
	if body.Policy != nil {
		// Check that the version exists first, so that a request that ends
		// in 404 leaves the policy unchanged.
		if _, err := h.Vaults.GetCertificate(r.Context(), req.Vault, name, version); err != nil {
			WriteError(w, r, err)
			return
		}
		if _, err := h.Vaults.UpdateCertificatePolicy(r.Context(), req.Vault, name, body.Policy); err != nil {
			WriteError(w, r, err)
			return
		}
	}
	c, err := h.Vaults.UpdateCertificate(r.Context(), req.Vault, name, version, u)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.certificateJSON(r, req.Vault, c, true))
}

func (h *Handler) deleteCertificate(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.CertDelete, "certificates/"+name) {
		return
	}
	d, err := h.Vaults.DeleteCertificate(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.deletedCertificateJSON(r, req.Vault, d, true))
}

func (h *Handler) deletedCertificateJSON(r *http.Request, v *vault.Vault, d *vault.DeletedCertificate, full bool) certificateBundle {
	b := h.certificateJSON(r, v, &d.Certificate, full)
	b.RecoveryID = objectURL(r, "deletedcertificates", d.Name)
	b.DeletedDate, b.ScheduledPurgeDate = d.DeletedDate, d.ScheduledPurgeDate
	return b
}

func (h *Handler) listCertificates(w http.ResponseWriter, r *http.Request, req *Request) {
	if !h.allow(w, r, req, authz.CertList, "") {
		return
	}
	writePage(w, r, req, "/certificates", func(ctx context.Context, cursor string, max int) ([]*vault.Certificate, string, error) {
		return h.Vaults.ListCertificates(ctx, req.Vault, cursor, max)
	}, func(c *vault.Certificate) certificateBundle { return h.certificateJSON(r, req.Vault, c, false) })
}

func (h *Handler) listCertificateVersions(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.CertList, "certificates/"+name) {
		return
	}
	writePage(w, r, req, "/certificates/"+name+"/versions", func(ctx context.Context, cursor string, max int) ([]*vault.Certificate, string, error) {
		return h.Vaults.ListCertificateVersions(ctx, req.Vault, name, cursor, max)
	}, func(c *vault.Certificate) certificateBundle {
		b := h.certificateJSON(r, req.Vault, c, false)
		b.ID = objectURL(r, "certificates", c.Name, c.Version)
		return b
	})
}

func (h *Handler) listDeletedCertificates(w http.ResponseWriter, r *http.Request, req *Request) {
	if !h.allow(w, r, req, authz.CertList, "") {
		return
	}
	writePage(w, r, req, "/deletedcertificates", func(ctx context.Context, cursor string, max int) ([]*vault.DeletedCertificate, string, error) {
		return h.Vaults.ListDeletedCertificates(ctx, req.Vault, cursor, max)
	}, func(d *vault.DeletedCertificate) certificateBundle {
		return h.deletedCertificateJSON(r, req.Vault, d, false)
	})
}

func (h *Handler) getDeletedCertificate(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.CertGet, "certificates/"+name) {
		return
	}
	d, err := h.Vaults.GetDeletedCertificate(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.deletedCertificateJSON(r, req.Vault, d, true))
}

func (h *Handler) recoverDeletedCertificate(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.CertRecover, "certificates/"+name) {
		return
	}
	c, err := h.Vaults.RecoverDeletedCertificate(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.certificateJSON(r, req.Vault, c, true))
}

func (h *Handler) purgeDeletedCertificate(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.CertPurge, "certificates/"+name) {
		return
	}
	if err := h.Vaults.PurgeDeletedCertificate(r.Context(), req.Vault, name); err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) backupCertificate(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.CertBackup, "certificates/"+name) {
		return
	}
	blob, err := h.Vaults.BackupCertificate(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, backupBlob{Value: encodeB64(blob)})
}

func (h *Handler) restoreCertificate(w http.ResponseWriter, r *http.Request, req *Request) {
	if !h.allow(w, r, req, authz.CertRestore, "") {
		return
	}
	var body backupBlob
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	blob, err := decodeBlob(body.Value)
	if err != nil || len(blob) == 0 {
		WriteError(w, r, badRequest("The 'value' property must be a backup blob in base64url, as returned by backup."))
		return
	}
	c, err := h.Vaults.RestoreCertificate(r.Context(), req.Vault, blob)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.certificateJSON(r, req.Vault, c, true))
}

func (h *Handler) getCertificatePolicy(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.CertGet, "certificates/"+name) {
		return
	}
	p, err := h.Vaults.GetCertificatePolicy(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, policyWithID(r, name, p))
}

func (h *Handler) updateCertificatePolicy(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.CertUpdate, "certificates/"+name) {
		return
	}
	var body certs.Policy
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	p, err := h.Vaults.UpdateCertificatePolicy(r.Context(), req.Vault, name, &body)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, policyWithID(r, name, p))
}

func (h *Handler) routePending(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	var op *vault.PendingOperation
	var err error
	switch r.Method {
	case http.MethodGet:
		if !h.allow(w, r, req, authz.CertGet, "certificates/"+name) {
			return
		}
		op, err = h.Vaults.GetCertificateOperation(r.Context(), req.Vault, name)
	case http.MethodPatch:
		if !h.allow(w, r, req, authz.CertUpdate, "certificates/"+name) {
			return
		}
		var body struct {
			CancellationRequested *bool `json:"cancellation_requested"`
		}
		if err := decodeBody(r, &body); err != nil {
			WriteError(w, r, err)
			return
		}
		if body.CancellationRequested == nil || !*body.CancellationRequested {
			WriteError(w, r, badRequest(`The body must be {"cancellation_requested": true}.`))
			return
		}
		op, err = h.Vaults.CancelCertificateOperation(r.Context(), req.Vault, name)
	case http.MethodDelete:
		if !h.allow(w, r, req, authz.CertDelete, "certificates/"+name) {
			return
		}
		op, err = h.Vaults.DeleteCertificateOperation(r.Context(), req.Vault, name)
	default:
		methodNotAllowed(w, r)
		return
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, operationJSON(r, op))
}

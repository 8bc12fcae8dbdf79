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

// routeSecrets routes /secrets/... (segs excludes "secrets"). An empty last
// segment is a trailing slash: /secrets/ lists and /secrets/{name}/ reads
// the latest version, as the SDKs send them.
func (h *Handler) routeSecrets(w http.ResponseWriter, r *http.Request, req *Request, segs []string) {
	if len(segs) > 0 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1]
	}
	switch len(segs) {
	case 0:
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r)
			return
		}
		h.listSecrets(w, r, req)
	case 1:
		name := segs[0]
		switch {
		case r.Method == http.MethodPost && strings.EqualFold(name, "restore"):
			h.restoreSecret(w, r, req)
		case r.Method == http.MethodPut:
			h.setSecret(w, r, req, name)
		case r.Method == http.MethodGet:
			h.getSecret(w, r, req, name, "")
		case r.Method == http.MethodPatch:
			h.updateSecret(w, r, req, name, "")
		case r.Method == http.MethodDelete:
			h.deleteSecret(w, r, req, name)
		default:
			methodNotAllowed(w, r)
		}
	case 2:
		name, second := segs[0], segs[1]
		switch {
		case r.Method == http.MethodGet && strings.EqualFold(second, "versions"):
			h.listSecretVersions(w, r, req, name)
		case r.Method == http.MethodPost && strings.EqualFold(second, "backup"):
			h.backupSecret(w, r, req, name)
		case r.Method == http.MethodGet:
			h.getSecret(w, r, req, name, second)
		case r.Method == http.MethodPatch:
			h.updateSecret(w, r, req, name, second)
		default:
			methodNotAllowed(w, r)
		}
	default:
		pathNotFound(w, r)
	}
}

// routeDeletedSecrets routes /deletedsecrets/... (segs excludes the
// collection).
func (h *Handler) routeDeletedSecrets(w http.ResponseWriter, r *http.Request, req *Request, segs []string) {
	routeDeleted(w, r, req, segs, deletedRoutes{
		list: h.listDeletedSecrets, get: h.getDeletedSecret, purge: h.purgeDeletedSecret, recover: h.recoverDeletedSecret,
	})
}

// secretJSON renders a secret version. The value is included when
// withValue is set; list items carry the versionless id when versioned is
// false, as Azure's lists do.
func secretJSON(r *http.Request, v *vault.Vault, s *vault.Secret, withValue, versioned, withRecovery bool) secretBundle {
	b := secretBundle{
		ID:          objectURL(r, "secrets", s.Name, s.Version),
		ContentType: s.ContentType,
		Attributes:  attributes(s.Attributes, v, withRecovery),
		Tags:        s.Tags,
		Kid:         keyIDURL(r, s.KeyID),
		Managed:     s.Managed,
	}
	if !versioned {
		b.ID = objectURL(r, "secrets", s.Name)
	}
	if withValue {
		value := s.Value
		b.Value = &value
	}
	return b
}

func deletedSecretJSON(r *http.Request, v *vault.Vault, d *vault.DeletedSecret, item bool) secretBundle {
	// Deleted items carry the recovery level, unlike live items, as in
	// Azure's published list responses.
	b := secretJSON(r, v, &d.Secret, false, !item, true)
	b.RecoveryID = objectURL(r, "deletedsecrets", d.Name)
	b.DeletedDate = d.DeletedDate
	b.ScheduledPurgeDate = d.ScheduledPurgeDate
	return b
}

func (h *Handler) setSecret(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.SecretSet, "secrets/"+name) {
		return
	}
	var body setSecretRequest
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	if body.Value == nil {
		WriteError(w, r, badRequest("The request body must have a 'value' property (a string; it may be empty)."))
		return
	}
	p := vault.SecretParams{Value: *body.Value, Tags: body.Tags}
	if body.ContentType != nil {
		p.ContentType = *body.ContentType
	}
	if a := body.Attributes; a != nil {
		p.Enabled, p.NotBefore, p.Expires = a.Enabled, a.NotBefore, a.Expires
	}
	s, err := h.Vaults.SetSecret(r.Context(), req.Vault, name, p)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, secretJSON(r, req.Vault, s, true, true, true))
}

func (h *Handler) getSecret(w http.ResponseWriter, r *http.Request, req *Request, name, version string) {
	if !h.allow(w, r, req, authz.SecretGet, "secrets/"+name) {
		return
	}
	s, err := h.Vaults.GetSecret(r.Context(), req.Vault, name, version)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if out := r.URL.Query().Get("outContentType"); out != "" {
		if err := convertCertificateSecret(s, out); err != nil {
			WriteError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, secretJSON(r, req.Vault, s, true, true, true))
}

// convertCertificateSecret rewrites the value of a certificate's secret in
// the format outContentType names, as GetSecret's outContentType parameter
// requests. PKCS #12 can become PEM.
func convertCertificateSecret(s *vault.Secret, outContentType string) error {
	if outContentType != certs.ContentTypePEM && outContentType != certs.ContentTypePKCS12 {
		return badRequest("outContentType must be " + certs.ContentTypePEM + " or " + certs.ContentTypePKCS12 + ".")
	}
	if !s.Managed || outContentType == s.ContentType {
		return nil
	}
	if s.ContentType != certs.ContentTypePKCS12 {
		return badRequest("Only a PKCS #12 certificate secret can be converted, to " + certs.ContentTypePEM + ".")
	}
	imp, err := certs.Decode(s.Value, "")
	if err != nil {
		return badRequest("The certificate secret cannot be converted: " + err.Error())
	}
	value, err := certs.Encode(outContentType, imp.Key, imp.Chain)
	if err != nil {
		return err
	}
	s.Value, s.ContentType = value, outContentType
	return nil
}

func (h *Handler) updateSecret(w http.ResponseWriter, r *http.Request, req *Request, name, version string) {
	if !h.allow(w, r, req, authz.SecretUpdate, "secrets/"+name) {
		return
	}
	var body updateSecretRequest
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	u := vault.SecretUpdate{ContentType: body.ContentType}
	if body.Tags != nil {
		u.SetTags, u.Tags = true, *body.Tags
	}
	if a := body.Attributes; a != nil {
		u.Enabled, u.NotBefore, u.Expires = a.Enabled, a.NotBefore, a.Expires
	}
	s, err := h.Vaults.UpdateSecret(r.Context(), req.Vault, name, version, u)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, secretJSON(r, req.Vault, s, false, true, true))
}

func (h *Handler) deleteSecret(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.SecretDelete, "secrets/"+name) {
		return
	}
	d, err := h.Vaults.DeleteSecret(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deletedSecretJSON(r, req.Vault, d, false))
}

func (h *Handler) listSecrets(w http.ResponseWriter, r *http.Request, req *Request) {
	if !h.allow(w, r, req, authz.SecretList, "") {
		return
	}
	writePage(w, r, req, "/secrets", func(ctx context.Context, cursor string, max int) ([]*vault.Secret, string, error) {
		return h.Vaults.ListSecrets(ctx, req.Vault, cursor, max)
	}, func(s *vault.Secret) secretBundle { return secretJSON(r, req.Vault, s, false, false, false) })
}

func (h *Handler) listSecretVersions(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.SecretList, "secrets/"+name) {
		return
	}
	writePage(w, r, req, "/secrets/"+name+"/versions", func(ctx context.Context, cursor string, max int) ([]*vault.Secret, string, error) {
		return h.Vaults.ListSecretVersions(ctx, req.Vault, name, cursor, max)
	}, func(s *vault.Secret) secretBundle { return secretJSON(r, req.Vault, s, false, true, false) })
}

func (h *Handler) listDeletedSecrets(w http.ResponseWriter, r *http.Request, req *Request) {
	if !h.allow(w, r, req, authz.SecretList, "") {
		return
	}
	writePage(w, r, req, "/deletedsecrets", func(ctx context.Context, cursor string, max int) ([]*vault.DeletedSecret, string, error) {
		return h.Vaults.ListDeletedSecrets(ctx, req.Vault, cursor, max)
	}, func(d *vault.DeletedSecret) secretBundle { return deletedSecretJSON(r, req.Vault, d, true) })
}

func (h *Handler) getDeletedSecret(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.SecretList, "secrets/"+name) {
		return
	}
	d, err := h.Vaults.GetDeletedSecret(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deletedSecretJSON(r, req.Vault, d, false))
}

func (h *Handler) recoverDeletedSecret(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.SecretRecover, "secrets/"+name) {
		return
	}
	s, err := h.Vaults.RecoverDeletedSecret(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, secretJSON(r, req.Vault, s, false, true, true))
}

func (h *Handler) purgeDeletedSecret(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.SecretPurge, "secrets/"+name) {
		return
	}
	if err := h.Vaults.PurgeDeletedSecret(r.Context(), req.Vault, name); err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) backupSecret(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.SecretBackup, "secrets/"+name) {
		return
	}
	blob, err := h.Vaults.BackupSecret(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, backupBlob{Value: base64.RawURLEncoding.EncodeToString(blob)})
}

func (h *Handler) restoreSecret(w http.ResponseWriter, r *http.Request, req *Request) {
	if !h.allow(w, r, req, authz.SecretRestore, "") {
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
	s, err := h.Vaults.RestoreSecret(r.Context(), req.Vault, blob)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, secretJSON(r, req.Vault, s, false, true, true))
}

// keyIDURL turns the key path a certificate's secret records ("keys/name/
// version") into the key's URL on the request's host.
func keyIDURL(r *http.Request, path string) string {
	if path == "" {
		return ""
	}
	return scheme(r) + "://" + r.Host + "/" + path
}

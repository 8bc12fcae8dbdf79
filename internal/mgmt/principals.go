package mgmt

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keyvault/keyvault/internal/identity"
)

// principalJSON is a principal as /keyvault/principals shows it: never a
// secret, except once, on creation or when a secret is added.
type principalJSON struct {
	ClientID     string           `json:"clientId"`
	ObjectID     string           `json:"objectId"`
	TenantID     string           `json:"tenantId"`
	DisplayName  string           `json:"displayName"`
	Admin        bool             `json:"admin,omitempty"`
	Created      string           `json:"created,omitempty"`
	Credentials  []credentialJSON `json:"credentials"`
	ClientSecret string           `json:"clientSecret,omitempty"`
}

type credentialJSON struct {
	ID         string `json:"id"`
	Type       string `json:"type"` // secret or certificate
	Hint       string `json:"hint,omitempty"`
	Thumbprint string `json:"thumbprint,omitempty"`
	Subject    string `json:"subject,omitempty"`
	NotAfter   string `json:"notAfter,omitempty"`
	Created    string `json:"created,omitempty"`
	Secret     string `json:"secret,omitempty"`
}

func (h *Handler) principalJSON(p *identity.Principal) principalJSON {
	out := principalJSON{ClientID: p.ClientID, ObjectID: p.ObjectID, TenantID: h.TenantID, DisplayName: p.DisplayName,
		Admin: p.Admin, Created: unixRFC3339(p.Created), Credentials: []credentialJSON{}}
	for _, c := range p.Secrets {
		out.Credentials = append(out.Credentials, credentialJSON{ID: c.ID, Type: "secret", Hint: c.Hint, Created: unixRFC3339(c.Created)})
	}
	for _, c := range p.Certificates {
		out.Credentials = append(out.Credentials, credentialJSON{ID: c.ID, Type: "certificate", Thumbprint: c.Thumbprint,
			Subject: c.Subject, NotAfter: time.Unix(c.NotAfter, 0).UTC().Format(time.RFC3339), Created: unixRFC3339(c.Created)})
	}
	return out
}

// servePrincipals routes /keyvault/principals/...: principal and credential
// administration, for the administrator only.
func (h *Handler) servePrincipals(q *request) {
	if !q.caller.Admin {
		writeError(q.w, http.StatusForbidden, "AuthorizationFailed", "Only the administrator may manage principals.")
		return
	}
	if q.seg(1) != "principals" {
		writeError(q.w, http.StatusNotFound, "NotFound", "The path '"+q.r.URL.Path+"' is not served by this server.")
		return
	}
	rest := q.segs[2:]
	m := q.r.Method
	switch {
	case len(rest) == 0 && m == http.MethodPost:
		h.createPrincipal(q)
	case len(rest) == 0 && m == http.MethodGet:
		h.listPrincipals(q)
	case len(rest) == 1 && m == http.MethodGet:
		h.showPrincipal(q, rest[0])
	case len(rest) == 1 && m == http.MethodDelete:
		h.deletePrincipal(q, rest[0])
	case len(rest) == 2 && strings.EqualFold(rest[1], "credentials") && m == http.MethodGet:
		h.showPrincipal(q, rest[0])
	case len(rest) == 2 && strings.EqualFold(rest[1], "credentials") && m == http.MethodPost:
		h.addCredential(q, rest[0])
	case len(rest) == 3 && strings.EqualFold(rest[1], "credentials") && strings.EqualFold(rest[2], "reset") && m == http.MethodPost:
		h.resetCredentials(q, rest[0])
	case len(rest) == 3 && strings.EqualFold(rest[1], "credentials") && m == http.MethodDelete:
		h.deleteCredential(q, rest[0], rest[2])
	default:
		writeError(q.w, http.StatusNotFound, "NotFound", "No principal operation "+m+" "+q.r.URL.Path+".")
	}
}

func (h *Handler) principalError(q *request, err error) {
	switch {
	case errors.Is(err, identity.ErrPrincipalNotFound):
		writeError(q.w, http.StatusNotFound, "PrincipalNotFound", err.Error())
	case errors.Is(err, identity.ErrInvalidCredential):
		writeError(q.w, http.StatusBadRequest, "InvalidCredential", err.Error())
	default:
		h.fail(q, err)
	}
}

func (h *Handler) createPrincipal(q *request) {
	var body struct {
		DisplayName string `json:"displayName"`
	}
	if !decode(q, &body) {
		return
	}
	if strings.TrimSpace(body.DisplayName) == "" || len(body.DisplayName) > 120 {
		writeError(q.w, http.StatusBadRequest, "BadRequest", "displayName is required, at most 120 characters.")
		return
	}
	p, secret, err := h.Identity.CreatePrincipal(q.r.Context(), body.DisplayName)
	if err != nil {
		h.principalError(q, err)
		return
	}
	h.Log.Info("principal created", "objectId", p.ObjectID, "clientId", p.ClientID, "displayName", p.DisplayName)
	out := h.principalJSON(p)
	out.ClientSecret = secret
	writeJSON(q.w, http.StatusCreated, out)
}

func (h *Handler) listPrincipals(q *request) {
	list, err := h.Identity.ListPrincipals(q.r.Context())
	if err != nil {
		h.principalError(q, err)
		return
	}
	out := make([]principalJSON, 0, len(list))
	for _, p := range list {
		out = append(out, h.principalJSON(p))
	}
	writeJSON(q.w, http.StatusOK, map[string]any{"value": out})
}

func (h *Handler) showPrincipal(q *request, objectID string) {
	p, err := h.Identity.GetPrincipal(q.r.Context(), objectID)
	if err != nil {
		h.principalError(q, err)
		return
	}
	writeJSON(q.w, http.StatusOK, h.principalJSON(p))
}

func (h *Handler) deletePrincipal(q *request, objectID string) {
	p, err := h.Identity.DeletePrincipal(q.r.Context(), objectID)
	if err != nil {
		h.principalError(q, err)
		return
	}
	if err := h.Authz.DeletePrincipal(q.r.Context(), p.ObjectID); err != nil {
		h.Log.Error("removing role assignments of a deleted principal failed", "objectId", p.ObjectID, "error", err)
	}
	h.Log.Info("principal deleted", "objectId", p.ObjectID, "clientId", p.ClientID)
	writeJSON(q.w, http.StatusOK, h.principalJSON(p))
}

func (h *Handler) addCredential(q *request, objectID string) {
	var body struct {
		Type        string `json:"type"`
		Certificate string `json:"certificate"`
	}
	if !decode(q, &body) {
		return
	}
	switch strings.ToLower(body.Type) {
	case "secret":
		c, secret, err := h.Identity.AddSecret(q.r.Context(), objectID)
		if err != nil {
			h.principalError(q, err)
			return
		}
		h.Log.Info("client secret added", "objectId", objectID, "credentialId", c.ID)
		writeJSON(q.w, http.StatusCreated, credentialJSON{ID: c.ID, Type: "secret", Hint: c.Hint, Created: unixRFC3339(c.Created), Secret: secret})
	case "certificate":
		c, err := h.Identity.AddCertificate(q.r.Context(), objectID, []byte(body.Certificate))
		if err != nil {
			h.principalError(q, err)
			return
		}
		h.Log.Info("certificate credential added", "objectId", objectID, "credentialId", c.ID, "thumbprint", c.Thumbprint)
		writeJSON(q.w, http.StatusCreated, credentialJSON{ID: c.ID, Type: "certificate", Thumbprint: c.Thumbprint, Subject: c.Subject,
			NotAfter: time.Unix(c.NotAfter, 0).UTC().Format(time.RFC3339), Created: unixRFC3339(c.Created)})
	default:
		writeError(q.w, http.StatusBadRequest, "BadRequest", `type must be "secret" or "certificate" (with "certificate": PEM text).`)
	}
}

func (h *Handler) resetCredentials(q *request, objectID string) {
	c, secret, err := h.Identity.ResetCredentials(q.r.Context(), objectID)
	if err != nil {
		h.principalError(q, err)
		return
	}
	h.Log.Info("principal credentials reset", "objectId", objectID, "credentialId", c.ID)
	writeJSON(q.w, http.StatusOK, credentialJSON{ID: c.ID, Type: "secret", Hint: c.Hint, Created: unixRFC3339(c.Created), Secret: secret})
}

func (h *Handler) deleteCredential(q *request, objectID, credID string) {
	if err := h.Identity.DeleteCredential(q.r.Context(), objectID, credID); err != nil {
		h.principalError(q, err)
		return
	}
	h.Log.Info("credential deleted", "objectId", objectID, "credentialId", credID)
	q.w.WriteHeader(http.StatusNoContent)
}

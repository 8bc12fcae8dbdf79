package api

import (
	"net/http"

	"github.com/keyvault/keyvault/internal/authz"
	"github.com/keyvault/keyvault/internal/vault"
)

type contactsJSON struct {
	ID       string          `json:"id,omitempty"`
	Contacts []vault.Contact `json:"contacts"`
}

// routeContacts serves /certificates/contacts.
func (h *Handler) routeContacts(w http.ResponseWriter, r *http.Request, req *Request, rest []string) {
	if len(rest) != 0 {
		pathNotFound(w, r)
		return
	}
	op := authz.CertManageContacts
	if r.Method == http.MethodGet {
		op = authz.CertGet
	}
	if !h.allow(w, r, req, op, "") {
		return
	}
	var list []vault.Contact
	var err error
	switch r.Method {
	case http.MethodGet:
		list, err = h.Vaults.GetCertificateContacts(r.Context(), req.Vault)
	case http.MethodPut:
		var body contactsJSON
		if err := decodeBody(r, &body); err != nil {
			WriteError(w, r, err)
			return
		}
		list, err = h.Vaults.SetCertificateContacts(r.Context(), req.Vault, body.Contacts)
	case http.MethodDelete:
		list, err = h.Vaults.DeleteCertificateContacts(r.Context(), req.Vault)
	default:
		methodNotAllowed(w, r)
		return
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, contactsJSON{ID: objectURL(r, "certificates", "contacts"), Contacts: list})
}

// issuerJSON is IssuerBundle. The account password is write-only.
type issuerJSON struct {
	ID          string `json:"id,omitempty"`
	Provider    string `json:"provider,omitempty"`
	Credentials *struct {
		AccountID string `json:"account_id,omitempty"`
		Password  string `json:"pwd,omitempty"`
	} `json:"credentials,omitempty"`
	OrgDetails *struct {
		ID           string              `json:"id,omitempty"`
		AdminDetails []vault.IssuerAdmin `json:"admin_details,omitempty"`
	} `json:"org_details,omitempty"`
	Attributes *struct {
		Enabled *bool `json:"enabled,omitempty"`
		Created int64 `json:"created,omitempty"`
		Updated int64 `json:"updated,omitempty"`
	} `json:"attributes,omitempty"`
}

func toIssuerJSON(r *http.Request, is *vault.Issuer) issuerJSON {
	out := issuerJSON{ID: objectURL(r, "certificates", "issuers", is.Name), Provider: is.Provider}
	if is.AccountID != "" {
		out.Credentials = &struct {
			AccountID string `json:"account_id,omitempty"`
			Password  string `json:"pwd,omitempty"`
		}{AccountID: is.AccountID}
	}
	if is.OrgID != "" || len(is.Admins) > 0 {
		out.OrgDetails = &struct {
			ID           string              `json:"id,omitempty"`
			AdminDetails []vault.IssuerAdmin `json:"admin_details,omitempty"`
		}{ID: is.OrgID, AdminDetails: is.Admins}
	}
	enabled := is.Enabled
	out.Attributes = &struct {
		Enabled *bool `json:"enabled,omitempty"`
		Created int64 `json:"created,omitempty"`
		Updated int64 `json:"updated,omitempty"`
	}{Enabled: &enabled, Created: is.Created, Updated: is.Updated}
	return out
}

// fromIssuerJSON returns the issuer of a request body and its enabled
// attribute, nil when the body leaves it out.
func fromIssuerJSON(in *issuerJSON) (vault.Issuer, *bool) {
	is := vault.Issuer{Provider: in.Provider}
	if in.Credentials != nil {
		is.AccountID, is.Password = in.Credentials.AccountID, in.Credentials.Password
	}
	if in.OrgDetails != nil {
		is.OrgID, is.Admins = in.OrgDetails.ID, in.OrgDetails.AdminDetails
	}
	var enabled *bool
	if in.Attributes != nil {
		enabled = in.Attributes.Enabled
	}
	return is, enabled
}

// routeIssuers serves /certificates/issuers[/{name}].
func (h *Handler) routeIssuers(w http.ResponseWriter, r *http.Request, req *Request, rest []string) {
	if len(rest) == 0 {
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r)
			return
		}
		if !h.allow(w, r, req, authz.CertListIssuers, "") {
			return
		}
		list, err := h.Vaults.ListCertificateIssuers(r.Context(), req.Vault)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		type item struct {
			ID       string `json:"id"`
			Provider string `json:"provider"`
		}
		page := struct {
			Value    []item  `json:"value"`
			NextLink *string `json:"nextLink"`
		}{Value: []item{}}
		for _, is := range list {
			page.Value = append(page.Value, item{ID: objectURL(r, "certificates", "issuers", is.Name), Provider: is.Provider})
		}
		writeJSON(w, http.StatusOK, page)
		return
	}
	if len(rest) != 1 {
		pathNotFound(w, r)
		return
	}
	name := rest[0]
	var is *vault.Issuer
	var err error
	switch r.Method {
	case http.MethodGet:
		if !h.allow(w, r, req, authz.CertGetIssuers, "") {
			return
		}
		is, err = h.Vaults.GetCertificateIssuer(r.Context(), req.Vault, name)
	case http.MethodPut, http.MethodPatch:
		if !h.allow(w, r, req, authz.CertSetIssuers, "") {
			return
		}
		var body issuerJSON
		if err := decodeBody(r, &body); err != nil {
			WriteError(w, r, err)
			return
		}
		in, enabled := fromIssuerJSON(&body)
		is, err = h.Vaults.SetCertificateIssuer(r.Context(), req.Vault, name, in, enabled, r.Method == http.MethodPatch)
	case http.MethodDelete:
		if !h.allow(w, r, req, authz.CertDeleteIssuers, "") {
			return
		}
		is, err = h.Vaults.DeleteCertificateIssuer(r.Context(), req.Vault, name)
	default:
		methodNotAllowed(w, r)
		return
	}
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toIssuerJSON(r, is))
}

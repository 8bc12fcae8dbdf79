package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/keyvault/keyvault/internal/authz"
	"github.com/keyvault/keyvault/internal/keys"
	"github.com/keyvault/keyvault/internal/vault"
)

// keyBundle is KeyBundle and, with the deletion fields, DeletedKeyBundle.
type keyBundle struct {
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        int64             `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64             `json:"scheduledPurgeDate,omitempty"`
	Key                *keys.JSONWebKey  `json:"key"`
	Attributes         attributesJSON    `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	Managed            bool              `json:"managed,omitempty"`
}

// keyItem is KeyItem and DeletedKeyItem: a list entry without key material.
type keyItem struct {
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        int64             `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64             `json:"scheduledPurgeDate,omitempty"`
	Kid                string            `json:"kid"`
	Attributes         attributesJSON    `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	Managed            bool              `json:"managed,omitempty"`
}

// createKeyRequest is KeyCreateParameters.
type createKeyRequest struct {
	Kty            string             `json:"kty"`
	KeySize        *int               `json:"key_size"`
	PublicExponent *int               `json:"public_exponent"`
	KeyOps         []string           `json:"key_ops"`
	Attributes     *requestAttributes `json:"attributes"`
	Tags           map[string]string  `json:"tags"`
	Crv            string             `json:"crv"`
}

// importKeyRequest is KeyImportParameters.
type importKeyRequest struct {
	HSM        *bool              `json:"Hsm"`
	Key        *keys.JSONWebKey   `json:"key"`
	Attributes *requestAttributes `json:"attributes"`
	Tags       map[string]string  `json:"tags"`
}

// updateKeyRequest is KeyUpdateParameters.
type updateKeyRequest struct {
	KeyOps     *[]string          `json:"key_ops"`
	Attributes *requestAttributes `json:"attributes"`
	Tags       *map[string]string `json:"tags"`
}

// routeKeys routes /keys/... (segs excludes the collection).
func (h *Handler) routeKeys(w http.ResponseWriter, r *http.Request, req *Request, segs []string) {
	if len(segs) > 0 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1]
	}
	switch len(segs) {
	case 0:
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r)
			return
		}
		h.listKeys(w, r, req)
	case 1:
		name := segs[0]
		switch {
		case r.Method == http.MethodPost && strings.EqualFold(name, "restore"):
			h.restoreKey(w, r, req)
		case r.Method == http.MethodPut:
			h.importKey(w, r, req, name)
		case r.Method == http.MethodGet:
			h.getKey(w, r, req, name, "")
		case r.Method == http.MethodPatch:
			h.updateKey(w, r, req, name, "")
		case r.Method == http.MethodDelete:
			h.deleteKey(w, r, req, name)
		default:
			methodNotAllowed(w, r)
		}
	case 2:
		h.routeKeyAction(w, r, req, segs[0], segs[1])
	case 3:
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r)
			return
		}
		h.keyOperation(w, r, req, segs[0], segs[1], segs[2])
	default:
		pathNotFound(w, r)
	}
}

// routeKeyAction routes /keys/{name}/{second}: an action on the key, a
// versionless operation, or a version.
func (h *Handler) routeKeyAction(w http.ResponseWriter, r *http.Request, req *Request, name, second string) {
	action := strings.ToLower(second)
	switch {
	case r.Method == http.MethodPost && action == "create":
		h.createKey(w, r, req, name)
	case r.Method == http.MethodPost && action == "backup":
		h.backupKey(w, r, req, name)
	case r.Method == http.MethodPost && action == "rotate":
		h.rotateKey(w, r, req, name)
	case action == "rotationpolicy" && r.Method == http.MethodGet:
		h.getRotationPolicy(w, r, req, name)
	case action == "rotationpolicy" && r.Method == http.MethodPut:
		h.updateRotationPolicy(w, r, req, name)
	case r.Method == http.MethodGet && action == "versions":
		h.listKeyVersions(w, r, req, name)
	case r.Method == http.MethodPost:
		h.keyOperation(w, r, req, name, "", second)
	case r.Method == http.MethodGet:
		h.getKey(w, r, req, name, second)
	case r.Method == http.MethodPatch:
		h.updateKey(w, r, req, name, second)
	default:
		methodNotAllowed(w, r)
	}
}

func (h *Handler) routeDeletedKeys(w http.ResponseWriter, r *http.Request, req *Request, segs []string) {
	routeDeleted(w, r, req, segs, deletedRoutes{
		list: h.listDeletedKeys, get: h.getDeletedKey, purge: h.purgeDeletedKey, recover: h.recoverDeletedKey,
	})
}

func kid(r *http.Request, k *vault.Key) string {
	return objectURL(r, "keys", k.Name, k.Version)
}

func keyAttributes(k *vault.Key, v *vault.Vault, withRecovery bool) attributesJSON {
	return attributes(k.Attributes, v, withRecovery)
}

func keyJSON(r *http.Request, v *vault.Vault, k *vault.Key) keyBundle {
	jwk := *k.Public
	jwk.Kid = kid(r, k)
	return keyBundle{Key: &jwk, Attributes: keyAttributes(k, v, true), Tags: k.Tags, Managed: k.Managed}
}

func deletedKeyJSON(r *http.Request, v *vault.Vault, d *vault.DeletedKey) keyBundle {
	b := keyJSON(r, v, &d.Key)
	b.RecoveryID = objectURL(r, "deletedkeys", d.Name)
	b.DeletedDate, b.ScheduledPurgeDate = d.DeletedDate, d.ScheduledPurgeDate
	return b
}

func keyItemJSON(r *http.Request, v *vault.Vault, k *vault.Key, versioned bool) keyItem {
	it := keyItem{Kid: objectURL(r, "keys", k.Name), Attributes: keyAttributes(k, v, true), Tags: k.Tags, Managed: k.Managed}
	if versioned {
		it.Kid = kid(r, k)
	}
	return it
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.KeyCreate, "keys/"+name) {
		return
	}
	var body createKeyRequest
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	if body.Kty == "" {
		WriteError(w, r, badRequest("The request body must have 'kty' (RSA, RSA-HSM, EC, EC-HSM, oct or oct-HSM)."))
		return
	}
	p := vault.KeyParams{Kty: body.Kty, Curve: body.Crv, KeyOps: body.KeyOps, Tags: body.Tags}
	if body.KeySize != nil {
		p.Size = *body.KeySize
		if p.Size <= 0 {
			WriteError(w, r, badRequest("key_size must be a positive number of bits."))
			return
		}
	}
	if body.PublicExponent != nil {
		p.Exponent = *body.PublicExponent
	}
	if a := body.Attributes; a != nil {
		p.Enabled, p.NotBefore, p.Expires = a.Enabled, a.NotBefore, a.Expires
	}
	k, err := h.Vaults.CreateKey(r.Context(), req.Vault, name, p)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keyJSON(r, req.Vault, k))
}

func (h *Handler) importKey(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.KeyImport, "keys/"+name) {
		return
	}
	var body importKeyRequest
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	p := vault.ImportParams{JWK: body.Key, HSM: body.HSM != nil && *body.HSM, Tags: body.Tags}
	if a := body.Attributes; a != nil {
		p.Enabled, p.NotBefore, p.Expires = a.Enabled, a.NotBefore, a.Expires
	}
	k, err := h.Vaults.ImportKey(r.Context(), req.Vault, name, p)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keyJSON(r, req.Vault, k))
}

func (h *Handler) getKey(w http.ResponseWriter, r *http.Request, req *Request, name, version string) {
	if !h.allow(w, r, req, authz.KeyGet, "keys/"+name) {
		return
	}
	k, err := h.Vaults.GetKey(r.Context(), req.Vault, name, version)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keyJSON(r, req.Vault, k))
}

func (h *Handler) updateKey(w http.ResponseWriter, r *http.Request, req *Request, name, version string) {
	if !h.allow(w, r, req, authz.KeyUpdate, "keys/"+name) {
		return
	}
	var body updateKeyRequest
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	u := vault.KeyUpdate{KeyOps: body.KeyOps}
	if body.Tags != nil {
		u.SetTags, u.Tags = true, *body.Tags
	}
	if a := body.Attributes; a != nil {
		u.Enabled, u.NotBefore, u.Expires = a.Enabled, a.NotBefore, a.Expires
	}
	k, err := h.Vaults.UpdateKey(r.Context(), req.Vault, name, version, u)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keyJSON(r, req.Vault, k))
}

func (h *Handler) deleteKey(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.KeyDelete, "keys/"+name) {
		return
	}
	d, err := h.Vaults.DeleteKey(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deletedKeyJSON(r, req.Vault, d))
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request, req *Request) {
	if !h.allow(w, r, req, authz.KeyList, "") {
		return
	}
	writePage(w, r, req, "/keys", func(ctx context.Context, cursor string, max int) ([]*vault.Key, string, error) {
		return h.Vaults.ListKeys(ctx, req.Vault, cursor, max)
	}, func(k *vault.Key) keyItem { return keyItemJSON(r, req.Vault, k, false) })
}

func (h *Handler) listKeyVersions(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.KeyList, "keys/"+name) {
		return
	}
	writePage(w, r, req, "/keys/"+name+"/versions", func(ctx context.Context, cursor string, max int) ([]*vault.Key, string, error) {
		return h.Vaults.ListKeyVersions(ctx, req.Vault, name, cursor, max)
	}, func(k *vault.Key) keyItem { return keyItemJSON(r, req.Vault, k, true) })
}

func (h *Handler) listDeletedKeys(w http.ResponseWriter, r *http.Request, req *Request) {
	if !h.allow(w, r, req, authz.KeyList, "") {
		return
	}
	writePage(w, r, req, "/deletedkeys", func(ctx context.Context, cursor string, max int) ([]*vault.DeletedKey, string, error) {
		return h.Vaults.ListDeletedKeys(ctx, req.Vault, cursor, max)
	}, func(d *vault.DeletedKey) keyItem { return deletedKeyItemJSON(r, req.Vault, d) })
}

func deletedKeyItemJSON(r *http.Request, v *vault.Vault, d *vault.DeletedKey) keyItem {
	it := keyItemJSON(r, v, &d.Key, false)
	it.RecoveryID = objectURL(r, "deletedkeys", d.Name)
	it.DeletedDate, it.ScheduledPurgeDate = d.DeletedDate, d.ScheduledPurgeDate
	return it
}

func (h *Handler) getDeletedKey(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.KeyList, "keys/"+name) {
		return
	}
	d, err := h.Vaults.GetDeletedKey(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, deletedKeyJSON(r, req.Vault, d))
}

func (h *Handler) recoverDeletedKey(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.KeyRecover, "keys/"+name) {
		return
	}
	k, err := h.Vaults.RecoverDeletedKey(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keyJSON(r, req.Vault, k))
}

func (h *Handler) purgeDeletedKey(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.KeyPurge, "keys/"+name) {
		return
	}
	if err := h.Vaults.PurgeDeletedKey(r.Context(), req.Vault, name); err != nil {
		WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) backupKey(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.KeyBackup, "keys/"+name) {
		return
	}
	blob, err := h.Vaults.BackupKey(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, backupBlob{Value: encodeB64(blob)})
}

func (h *Handler) restoreKey(w http.ResponseWriter, r *http.Request, req *Request) {
	if !h.allow(w, r, req, authz.KeyRestore, "") {
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
	k, err := h.Vaults.RestoreKey(r.Context(), req.Vault, blob)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keyJSON(r, req.Vault, k))
}

func (h *Handler) rotateKey(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.KeyRotate, "keys/"+name) {
		return
	}
	k, err := h.Vaults.RotateKey(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, keyJSON(r, req.Vault, k))
}

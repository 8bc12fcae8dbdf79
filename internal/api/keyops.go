package api

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/keyvault/keyvault/internal/authz"
	"github.com/keyvault/keyvault/internal/keys"
	"github.com/keyvault/keyvault/internal/vault"
)

// keyOperationRequest is KeyOperationsParameters, KeySignParameters and
// KeyVerifyParameters in one: every binary field is base64url.
type keyOperationRequest struct {
	Alg    string         `json:"alg"`
	Value  keys.Base64URL `json:"value"`
	IV     keys.Base64URL `json:"iv"`
	AAD    keys.Base64URL `json:"aad"`
	Tag    keys.Base64URL `json:"tag"`
	Digest keys.Base64URL `json:"digest"`
}

// keyOperationResult is KeyOperationResult (and KeySignResult).
type keyOperationResult struct {
	Kid   string         `json:"kid"`
	Value keys.Base64URL `json:"value"`
	IV    keys.Base64URL `json:"iv,omitempty"`
	Tag   keys.Base64URL `json:"tag,omitempty"`
	AAD   keys.Base64URL `json:"aad,omitempty"`
}

// operationNames maps the lower-case path segment of each key operation to
// its key_ops name.
var operationNames = map[string]string{
	"encrypt": vault.OpEncrypt, "decrypt": vault.OpDecrypt,
	"wrapkey": vault.OpWrapKey, "unwrapkey": vault.OpUnwrapKey,
	"sign": vault.OpSign, "verify": vault.OpVerify,
}

// operationPermissions maps each key operation to the permission it needs.
var operationPermissions = map[string]authz.Operation{
	vault.OpEncrypt: authz.KeyEncrypt, vault.OpDecrypt: authz.KeyDecrypt,
	vault.OpWrapKey: authz.KeyWrap, vault.OpUnwrapKey: authz.KeyUnwrap,
	vault.OpSign: authz.KeySign, vault.OpVerify: authz.KeyVerify,
}

// keyOperation serves POST /keys/{name}[/{version}]/{operation}.
func (h *Handler) keyOperation(w http.ResponseWriter, r *http.Request, req *Request, name, version, segment string) {
	op, ok := operationNames[strings.ToLower(segment)]
	if !ok {
		switch strings.ToLower(segment) {
		case "release", "securewrapkey", "secureunwrapkey":
			WriteError(w, r, badRequest("The key operation '"+segment+"' (secure key release) is not supported by this server."))
		default:
			pathNotFound(w, r)
		}
		return
	}
	if !h.allow(w, r, req, operationPermissions[op], "keys/"+name) {
		return
	}
	raw, err := readBody(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	body, ok := parseKeyOperation(raw)
	if !ok {
		body = keyOperationRequest{}
		if err := decodeJSON(raw, &body); err != nil {
			WriteError(w, r, err)
			return
		}
	}
	if body.Alg == "" {
		WriteError(w, r, badRequest("The request body must have 'alg', the algorithm of the operation."))
		return
	}
	p := vault.OpParams{Alg: body.Alg, Value: body.Value, IV: body.IV, AAD: body.AAD, Tag: body.Tag}
	if op == vault.OpVerify {
		// verify carries the digest in 'digest' and the signature in 'value'.
		p.Value, p.Signature = body.Digest, body.Value
	}
	res, err := h.Vaults.KeyOperation(r.Context(), req.Vault, name, version, op, p)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if h.OnCrypto != nil {
		h.OnCrypto(op, body.Alg)
	}
	if op == vault.OpVerify {
		writeJSON(w, http.StatusOK, map[string]bool{"value": res.Valid})
		return
	}
	out := keyOperationResult{
		Kid: objectURL(r, "keys", name, res.Version), Value: res.Value, IV: res.IV, Tag: res.Tag, AAD: res.AAD,
	}
	writeBody(w, http.StatusOK, appendKeyOperationResult(make([]byte, 0, 512), &out))
}

// rotationPolicyJSON is KeyRotationPolicy on the wire.
type rotationPolicyJSON struct {
	ID              string               `json:"id,omitempty"`
	LifetimeActions []lifetimeActionJSON `json:"lifetimeActions"`
	Attributes      *policyAttributes    `json:"attributes,omitempty"`
}

type lifetimeActionJSON struct {
	Trigger struct {
		TimeAfterCreate  string `json:"timeAfterCreate,omitempty"`
		TimeBeforeExpiry string `json:"timeBeforeExpiry,omitempty"`
	} `json:"trigger"`
	Action struct {
		Type string `json:"type"`
	} `json:"action"`
}

type policyAttributes struct {
	ExpiryTime string `json:"expiryTime,omitempty"`
	Created    int64  `json:"created,omitempty"`
	Updated    int64  `json:"updated,omitempty"`
}

func policyJSON(r *http.Request, name string, p *vault.RotationPolicy) rotationPolicyJSON {
	out := rotationPolicyJSON{
		ID:              objectURL(r, "keys", name, "rotationpolicy"),
		LifetimeActions: make([]lifetimeActionJSON, len(p.LifetimeActions)),
		Attributes:      &policyAttributes{ExpiryTime: p.ExpiryTime, Created: p.Created, Updated: p.Updated},
	}
	for i, a := range p.LifetimeActions {
		out.LifetimeActions[i].Trigger.TimeAfterCreate = a.TimeAfterCreate
		out.LifetimeActions[i].Trigger.TimeBeforeExpiry = a.TimeBeforeExpiry
		out.LifetimeActions[i].Action.Type = a.Type
	}
	return out
}

func (h *Handler) getRotationPolicy(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.KeyGetRotationPolicy, "keys/"+name) {
		return
	}
	p, err := h.Vaults.GetKeyRotationPolicy(r.Context(), req.Vault, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, policyJSON(r, name, p))
}

func (h *Handler) updateRotationPolicy(w http.ResponseWriter, r *http.Request, req *Request, name string) {
	if !h.allow(w, r, req, authz.KeySetRotationPolicy, "keys/"+name) {
		return
	}
	var body rotationPolicyJSON
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	p := vault.RotationPolicy{LifetimeActions: make([]vault.LifetimeAction, len(body.LifetimeActions))}
	for i, a := range body.LifetimeActions {
		p.LifetimeActions[i] = vault.LifetimeAction{
			TimeAfterCreate: a.Trigger.TimeAfterCreate, TimeBeforeExpiry: a.Trigger.TimeBeforeExpiry, Type: a.Action.Type,
		}
	}
	if body.Attributes != nil {
		p.ExpiryTime = body.Attributes.ExpiryTime
	}
	stored, err := h.Vaults.UpdateKeyRotationPolicy(r.Context(), req.Vault, name, p)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, policyJSON(r, name, stored))
}

// randomBytes serves POST /rng.
func (h *Handler) randomBytes(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r)
		return
	}
	var body struct {
		Count *int `json:"count"`
	}
	if err := decodeBody(r, &body); err != nil {
		WriteError(w, r, err)
		return
	}
	if body.Count == nil {
		WriteError(w, r, badRequest("The request body must have 'count', the number of bytes (1 to 128)."))
		return
	}
	b, err := h.Vaults.RandomBytes(*body.Count)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"value": encodeB64(b)})
}

func encodeB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

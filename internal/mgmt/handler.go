// Package mgmt serves KeyVault's management API. It offers the Azure Resource
// Manager shape of Microsoft.KeyVault/vaults (create, update, delete, list,
// access policies, deleted vaults, name availability), Microsoft.Authorization
// role assignments and role definitions, and the subscription list that tools
// read. It also serves KeyVault's own principal administration under
// /keyvault/principals.
package mgmt

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/keyvault/keyvault/internal/api"
	"github.com/keyvault/keyvault/internal/authz"
	"github.com/keyvault/keyvault/internal/identity"
	"github.com/keyvault/keyvault/internal/vault"
)

// Handler serves the management API.
type Handler struct {
	Vaults   *vault.Service
	Authz    *authz.Service
	Identity *identity.Service
	// VaultURI returns the data-plane URL of a vault.
	VaultURI       func(name string) string
	TenantID       string
	SubscriptionID string // the default subscription
	Log            *slog.Logger
}

// Match reports whether a path on the bare address belongs to the
// management API.
func Match(path string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	switch strings.ToLower(first) {
	case "subscriptions", "providers", "keyvault":
		return true
	}
	return false
}

// request is a management request being served.
type request struct {
	w      http.ResponseWriter
	r      *http.Request
	caller *identity.Caller
	segs   []string // path segments, as sent
}

// seg returns segment i in lower case, or "".
func (q *request) seg(i int) string {
	if i < len(q.segs) {
		return strings.ToLower(q.segs[i])
	}
	return ""
}

// Serve handles an authenticated management request.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, caller *identity.Caller) {
	path := strings.Trim(r.URL.Path, "/")
	q := &request{w: w, r: r, caller: caller, segs: strings.Split(path, "/")}

	if q.seg(0) == "keyvault" {
		h.servePrincipals(q)
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		writeError(w, http.StatusBadRequest, "MissingApiVersionParameter",
			"The api-version query parameter (?api-version=) is required for all requests.")
		return
	}
	if i := IndexFold(path, "providers/microsoft.authorization/"); i >= 0 {
		scope := "/" + strings.TrimSuffix(path[:i], "/")
		if scope == "/" {
			scope = ""
		}
		h.serveAuthorization(q, scope, strings.Split(path[i+len("providers/microsoft.authorization/"):], "/"))
		return
	}
	h.serveResources(q)
}

// serveResources routes subscription, resource group and vault paths.
func (h *Handler) serveResources(q *request) {
	n := len(q.segs)
	switch {
	case n == 1 && q.seg(0) == "subscriptions":
		h.listSubscriptions(q)
	case n == 2 && q.seg(0) == "subscriptions":
		h.getSubscription(q)
	case n == 3 && q.seg(2) == "resources":
		h.listResources(q)
	case n == 3 && q.seg(2) == "resourcegroups":
		h.listResourceGroups(q)
	case n == 4 && q.seg(2) == "resourcegroups":
		h.serveResourceGroup(q)
	case n >= 5 && q.seg(2) == "providers" && q.seg(3) == "microsoft.keyvault":
		h.serveSubscriptionProvider(q, q.segs[4:])
	case n >= 7 && q.seg(2) == "resourcegroups" && q.seg(4) == "providers" && q.seg(5) == "microsoft.keyvault" && q.seg(6) == "vaults":
		h.serveVaults(q, q.segs[7:])
	default:
		writeError(q.w, http.StatusNotFound, "InvalidResourceType", "The resource path '"+q.r.URL.Path+"' is not served by this server.")
	}
}

// serveSubscriptionProvider routes /subscriptions/{sub}/providers/Microsoft.KeyVault/...
func (h *Handler) serveSubscriptionProvider(q *request, rest []string) {
	kind := strings.ToLower(rest[0])
	switch {
	case kind == "vaults" && len(rest) == 1:
		h.listVaults(q, "")
	case kind == "deletedvaults" && len(rest) == 1:
		h.listDeletedVaults(q)
	case kind == "checknameavailability" && len(rest) == 1:
		h.checkNameAvailability(q)
	case kind == "locations" && len(rest) == 4 && strings.EqualFold(rest[2], "deletedVaults"):
		h.getDeletedVault(q, rest[3])
	case kind == "locations" && len(rest) == 5 && strings.EqualFold(rest[2], "deletedVaults") && strings.EqualFold(rest[4], "purge"):
		h.purgeDeletedVault(q, rest[3])
	default:
		writeError(q.w, http.StatusNotFound, "InvalidResourceType", "The resource path '"+q.r.URL.Path+"' is not served by this server.")
	}
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	api.WriteErrorDetail(w, status, api.ErrorDetail{Code: code, Message: message})
}

// fail writes err: domain errors keep their code, others become 500.
func (h *Handler) fail(q *request, err error) {
	api.WriteError(q.w, q.r, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalServerError", "response encoding failed")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// decode reads a JSON body into v.
func decode(q *request, v any) bool {
	body, err := io.ReadAll(q.r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(q.w, http.StatusRequestEntityTooLarge, "RequestBodyTooLarge", "The request body is too large.")
			return false
		}
		writeError(q.w, http.StatusBadRequest, "InvalidRequestContent", "The request body could not be read.")
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		writeError(q.w, http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid: the body is empty.")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(q.w, http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "+err.Error())
		return false
	}
	return true
}

// allow checks a control-plane action on resource for the caller, writing
// the 403 when it is not allowed.
func (h *Handler) allow(q *request, resource, action string) bool {
	if err := h.Authz.AuthorizeControl(q.r.Context(), q.caller, resource, action); err != nil {
		h.fail(q, err)
		return false
	}
	return true
}

func methodNotAllowed(q *request) {
	writeError(q.w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The method "+q.r.Method+" is not allowed on "+q.r.URL.Path+".")
}

// IndexFold is strings.Index without regard to ASCII case. Unlike an index
// into strings.ToLower(s), its result is always an index into s:
// ToLower changes the length of a string with invalid UTF-8 or with
// characters such as KELVIN SIGN.
func IndexFold(s, substr string) int {
	for i := 0; i+len(substr) <= len(s); i++ {
		if asciiEqualFold(s[i:i+len(substr)], substr) {
			return i
		}
	}
	return -1
}

func asciiEqualFold(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

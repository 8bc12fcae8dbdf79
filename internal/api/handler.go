package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keyvault/keyvault/internal/audit"
	"github.com/keyvault/keyvault/internal/authz"
	"github.com/keyvault/keyvault/internal/identity"
	"github.com/keyvault/keyvault/internal/vault"
)

// DefaultMaxResults is the page size of a list when maxresults is absent,
// and the largest that may be asked for.
const DefaultMaxResults = 25

// Request is an authenticated data-plane request, resolved to its vault.
type Request struct {
	Vault      *vault.Vault
	Caller     *identity.Caller
	APIVersion string
	// Segments are the path segments after the host, such as
	// ["secrets", "s1", ""] for /secrets/s1/.
	Segments []string
}

// Handler serves the data-plane API of every vault.
type Handler struct {
	Vaults *vault.Service
	// Authz checks every operation's permission; nil allows everything,
	// for tests of the API alone.
	Authz *authz.Service
	// OnCrypto, if set, is called for every key operation performed.
	OnCrypto func(operation, algorithm string)
}

// allow checks that the caller may perform op on the object at objectPath,
// such as "secrets/s1" (empty for vault-wide operations). When the caller may
// not, it writes the 403 response and returns false.
func (h *Handler) allow(w http.ResponseWriter, r *http.Request, req *Request, op authz.Operation, objectPath string) bool {
	if h.Authz == nil {
		return true
	}
	if err := h.Authz.Authorize(r.Context(), req.Vault, req.Caller, op, objectPath); err != nil {
		audit.SetAuthorization(r.Context(), req.Vault.RBAC, false)
		WriteError(w, r, err)
		return false
	}
	audit.SetAuthorization(r.Context(), req.Vault.RBAC, true)
	if objectPath != "" {
		audit.SetObjectID(r.Context(), objectURL(r, objectPath))
	}
	return true
}

// Serve routes req to the operation its method and path name. Collection
// names match without regard to case.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, req *Request) {
	segs := req.Segments
	switch strings.ToLower(segs[0]) {
	case "secrets":
		h.routeSecrets(w, r, req, segs[1:])
	case "deletedsecrets":
		h.routeDeletedSecrets(w, r, req, segs[1:])
	case "keys":
		h.routeKeys(w, r, req, segs[1:])
	case "deletedkeys":
		h.routeDeletedKeys(w, r, req, segs[1:])
	case "certificates":
		h.routeCertificates(w, r, req, segs[1:])
	case "deletedcertificates":
		h.routeDeletedCertificates(w, r, req, segs[1:])
	case "rng":
		if len(segs) > 2 || (len(segs) == 2 && segs[1] != "") {
			pathNotFound(w, r)
			return
		}
		h.randomBytes(w, r)
	default:
		WriteErrorDetail(w, http.StatusNotFound, ErrorDetail{Code: "NotFound",
			Message: "The path " + r.URL.Path + " is not an operation of this API."})
	}
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	WriteErrorDetail(w, http.StatusMethodNotAllowed, ErrorDetail{Code: "MethodNotAllowed",
		Message: "The method " + r.Method + " is not allowed on " + r.URL.Path + "."})
}

func pathNotFound(w http.ResponseWriter, r *http.Request) {
	WriteErrorDetail(w, http.StatusNotFound, ErrorDetail{Code: "NotFound",
		Message: "The path " + r.URL.Path + " is not an operation of this API."})
}

// decodeBody reads a JSON object from the request body into v. Unknown
// fields are ignored, as Azure ignores them.
func decodeBody(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(body, v)
}

// readBody reads the request body, which must not be empty.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, badRequest("The request body is missing: this operation needs a JSON object.")
	}
	return body, nil
}

// decodeJSON decodes a request body into v.
func decodeJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return badRequest("The request body is invalid: property '" + typeErr.Field + "' has the wrong type (" + typeErr.Value + ").")
		}
		return badRequest("The request body is not valid JSON: " + err.Error())
	}
	return nil
}

// maxResults reads the maxresults query parameter (1..25, default 25).
func maxResults(r *http.Request) (int, error) {
	raw := r.URL.Query().Get("maxresults")
	if raw == "" {
		return DefaultMaxResults, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > DefaultMaxResults {
		return 0, badRequest("Invalid value for maxresults: '" + raw + "'. It must be an integer from 1 to 25.")
	}
	return n, nil
}

// nextLink builds the absolute URL of the page after cursor, or nil at the
// end of the list. It names the request's api-version and page size, so
// clients can follow it unchanged.
func nextLink(r *http.Request, req *Request, path, cursor string, max int) *string {
	if cursor == "" {
		return nil
	}
	q := url.Values{}
	q.Set("api-version", req.APIVersion)
	q.Set("$skiptoken", cursor)
	q.Set("maxresults", strconv.Itoa(max))
	link := scheme(r) + "://" + r.Host + path + "?" + q.Encode()
	return &link
}

func objectURL(r *http.Request, parts ...string) string {
	return scheme(r) + "://" + r.Host + "/" + strings.Join(parts, "/")
}

func scheme(r *http.Request) string {
	if r.TLS == nil {
		return "http"
	}
	return "https"
}

func decodeBlob(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

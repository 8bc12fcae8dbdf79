package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keyvault/keyvault/internal/api"
	"github.com/keyvault/keyvault/internal/identity"
	"github.com/keyvault/keyvault/internal/mgmt"
	"github.com/keyvault/keyvault/internal/storage"
)

// ServiceVersion is sent in the x-ms-keyvault-service-version header.
const ServiceVersion = "keyvault-0.1"

// statusWriter records the status code for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP handles every request: health checks, the token service, then
// vault requests. A vault request is authenticated before anything else about
// it is checked, because SDKs send their first request without a token and
// without a body to learn where to get one.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &statusWriter{ResponseWriter: rw}
	requestID := newRequestID()
	h := w.Header()
	h.Set("x-ms-request-id", requestID)
	h.Set("x-ms-keyvault-service-version", ServiceVersion)
	if id := r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}
	var caller *identity.Caller
	vaultName := ""
	defer func() {
		attrs := []any{"requestId", requestID, "method", r.Method, "path", r.URL.Path, "status", w.status,
			"durationMs", float64(time.Since(start).Microseconds()) / 1000, "host", r.Host}
		if vaultName != "" {
			attrs = append(attrs, "vault", vaultName)
		}
		if caller != nil {
			attrs = append(attrs, "objectId", caller.ObjectID, "appId", caller.ApplicationID)
		}
		s.log.Info("request", attrs...)
	}()

	switch r.URL.Path {
	case "/healthz":
		writePlain(w, http.StatusOK, "ok\n")
		return
	case "/readyz":
		s.serveReady(w, r)
		return
	case "/_test/clock":
		s.serveTestClock(w, r)
		return
	}
	if identity.Match(r.URL.Path) {
		// Tokens name the host they were issued on, and only hosts this
		// server answers to are accepted as issuers, so refuse the rest here.
		if !s.hostAllowed(r.Host) {
			api.WriteErrorDetail(w, http.StatusNotFound, api.ErrorDetail{Code: "NotFound",
				Message: "The host " + r.Host + " is not served here: use localhost or a host under " + s.cfg.DNSSuffix + "."})
			return
		}
		s.ident.ServeHTTP(w, r)
		return
	}

	if s.isBareHost(r.Host) && mgmt.Match(r.URL.Path) {
		if caller, ok := s.authenticateManagement(w, r); ok {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
			s.mgmt.Serve(w, r, caller)
		}
		return
	}

	name, ok := s.vaultForHost(r.Host)
	if !ok {
		api.WriteErrorDetail(w, http.StatusNotFound, api.ErrorDetail{Code: "VaultNotFound",
			Message: "The host " + r.Host + " is not a vault of this server: use {vault}." + s.cfg.DNSSuffix + " or localhost."})
		return
	}
	vaultName = name
	if caller, ok = s.authenticate(w, r); !ok {
		return
	}
	v, err := s.vaults.GetVault(r.Context(), name)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	query := r.URL.Query() // decodes percent-encoded keys such as api%2Dversion
	apiVersion := query.Get("api-version")
	if err := api.CheckAPIVersion(apiVersion); err != nil {
		api.WriteError(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	s.api.Serve(w, r, &api.Request{
		Vault: v, Caller: caller, APIVersion: apiVersion,
		Segments: strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/"),
	})
}

// authenticate verifies the bearer token. Without a valid one it writes 401
// with the challenge that names the token authority and resource, and
// returns false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*identity.Caller, bool) {
	auth := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(auth, " ")
	if auth == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		s.challenge(w, r, "AKV10000: Request is missing a Bearer or PoP token.")
		return nil, false
	}
	caller, err := s.ident.Verify(r.Context(), strings.TrimSpace(token))
	if err != nil {
		if !errors.Is(err, identity.ErrInvalidToken) {
			api.WriteError(w, r, err)
			return nil, false
		}
		s.challenge(w, r, "AKV10022: The access token is invalid: "+err.Error())
		return nil, false
	}
	if caller.Audience != s.ident.VaultResource() {
		s.challenge(w, r, "AKV10022: Invalid audience: the token is for "+caller.Audience+", not "+s.ident.VaultResource()+".")
		return nil, false
	}
	return caller, true
}

// authenticateManagement verifies the bearer token of a management request,
// which must be issued for the management resource. Without a valid one it
// writes 401 in Azure Resource Manager's form and returns false.
func (s *Server) authenticateManagement(w http.ResponseWriter, r *http.Request) (*identity.Caller, bool) {
	fail := func(code, message string) {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+s.scheme+"://"+r.Host+"/"+s.ident.TenantID()+
			`", error="invalid_token", error_description="`+code+`"`)
		api.WriteErrorDetail(w, http.StatusUnauthorized, api.ErrorDetail{Code: code, Message: message})
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		fail("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
		return nil, false
	}
	caller, err := s.ident.Verify(r.Context(), strings.TrimSpace(token))
	if err != nil {
		if !errors.Is(err, identity.ErrInvalidToken) {
			api.WriteError(w, r, err)
			return nil, false
		}
		fail("InvalidAuthenticationToken", "The access token is invalid: "+err.Error())
		return nil, false
	}
	if caller.Audience != s.ident.ManagementResource() {
		fail("InvalidAuthenticationTokenAudience", "The access token has the audience "+caller.Audience+
			"; the management API needs a token for "+s.ident.ManagementResource()+".")
		return nil, false
	}
	return caller, true
}

// isBareHost reports whether host is the server's own address rather than a
// vault host name.
func (s *Server) isBareHost(host string) bool {
	switch strings.ToLower(hostOnly(host)) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// challenge writes 401 with WWW-Authenticate naming the authority (this
// server, with the tenant as the first path segment) and the resource to ask
// a token for. Parameters are separated by ", " and hold no spaces, which
// every SDK's parser accepts.
func (s *Server) challenge(w http.ResponseWriter, r *http.Request, message string) {
	authority := s.scheme + "://" + r.Host + "/" + s.ident.TenantID()
	w.Header().Set("WWW-Authenticate",
		`Bearer authorization="`+authority+`", resource="`+s.ident.VaultResource()+`"`)
	api.WriteErrorDetail(w, http.StatusUnauthorized, api.ErrorDetail{Code: "Unauthorized", Message: message})
}

func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		writePlain(w, http.StatusServiceUnavailable, "not ready: shutting down\n")
		return
	}
	if err := s.store.View(r.Context(), func(storage.Tx) error { return nil }); err != nil {
		writePlain(w, http.StatusServiceUnavailable, "not ready: the store is not readable\n")
		return
	}
	writePlain(w, http.StatusOK, "ready\n")
}

func writePlain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyvault/keyvault/internal/api"
	"github.com/keyvault/keyvault/internal/audit"
	"github.com/keyvault/keyvault/internal/authz"
	"github.com/keyvault/keyvault/internal/identity"
	"github.com/keyvault/keyvault/internal/mgmt"
	"github.com/keyvault/keyvault/internal/storage"
)

// ServiceVersion is sent in the x-ms-keyvault-service-version header.
const ServiceVersion = "keyvault-0.1"

// ServeHTTP handles every request: health checks and metrics, then the
// token service, the management API and vault requests, each of which gets
// exactly one audit record (see audit.Request for writes). A vault request
// is authenticated before anything else about it is checked, because SDKs
// send their first request without a token and without a body to learn
// where to get one.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := newRequestID()
	h := rw.Header()
	h.Set("x-ms-request-id", requestID)
	h.Set("x-ms-keyvault-service-version", ServiceVersion)
	if id := r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}

	switch r.URL.Path {
	case "/healthz":
		writePlain(rw, http.StatusOK, "ok\n")
		return
	case "/readyz":
		s.serveReady(rw, r)
		return
	case "/metrics":
		s.metrics.handler.ServeHTTP(rw, r)
		return
	case pathUnseal:
		// Not audited: while sealed there is no audit log to write to.
		s.serveUnseal(rw, r)
		return
	}
	if !s.unsealed.Load() {
		s.writeSealed(rw)
		return
	}

	// Audit: the record is filled in as the request is routed, and written
	// before the response leaves (for writes, before their commit).
	rec := s.newAuditRequest(r, start)
	r = r.WithContext(audit.WithRequest(r.Context(), rec))
	w := &bufferedWriter{header: rw.Header(), status: http.StatusOK}
	info := s.route(w, r, rec)

	description := ""
	if w.status >= http.StatusBadRequest {
		description = errorMessage(w.body.Bytes())
	}
	err := rec.Complete(s.audit, w.status, description)
	if err != nil {
		s.metrics.auditFailures.Inc()
		s.log.Error("audit record could not be written", "requestId", requestID, "operation", rec.Record.OperationName, "error", err)
		if !s.cfg.AuditFailOpen {
			w.reset()
			api.WriteErrorDetail(w, http.StatusServiceUnavailable, api.ErrorDetail{Code: "ServiceUnavailable",
				Message: "The request was refused because the audit log cannot record it. Try again later; the server log has the cause."})
		}
	}
	w.flushTo(rw)

	duration := time.Since(start)
	s.metrics.observe(rec.Record.OperationName, w.status, duration)
	if s.cfg.AccessLog {
		s.logRequest(r, requestID, w.status, duration, rec.Record.OperationName, info)
	}
}

// logRequest writes the access log line of a request.
func (s *Server) logRequest(r *http.Request, requestID string, status int, duration time.Duration, operation string, info routeInfo) {
	attrs := []slog.Attr{slog.String("requestId", requestID), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", status),
		slog.Float64("durationMs", float64(duration.Microseconds())/1000), slog.String("host", r.Host),
		slog.String("operation", operation)}
	if info.vault != "" {
		attrs = append(attrs, slog.String("vault", info.vault))
	}
	if info.caller != nil {
		attrs = append(attrs, slog.String("objectId", info.caller.ObjectID), slog.String("appId", info.caller.ApplicationID))
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// routeInfo holds the vault and caller that routing found, for the access log.
type routeInfo struct {
	vault  string
	caller *identity.Caller
}

// route sends a request to the test clock, the token service, the
// management API or a vault.
func (s *Server) route(w http.ResponseWriter, r *http.Request, rec *audit.Request) routeInfo {
	var info routeInfo
	switch {
	case r.URL.Path == "/_test/clock":
		rec.Record.OperationName = "TestClock"
		s.serveTestClock(w, r)
		return info
	case strings.HasPrefix(r.URL.Path, "/_operator/"):
		rec.Record.OperationName = operatorOperation(r.URL.Path)
		s.serveOperator(w, r, rec)
		return info
	case identity.Match(r.URL.Path):
		rec.Record.OperationName = "Authentication"
		// Tokens name the host they were issued on, and only hosts this
		// server serves are accepted as issuers, so refuse the rest here.
		if !s.hostAllowed(r.Host) {
			api.WriteErrorDetail(w, http.StatusNotFound, api.ErrorDetail{Code: "NotFound",
				Message: "The host " + r.Host + " is not served here: use localhost or a host under " + s.cfg.DNSSuffix + "."})
			return info
		}
		s.ident.ServeHTTP(w, r)
		return info
	case s.isBareHost(r.Host) && mgmt.Match(r.URL.Path):
		rec.Record.OperationName, rec.Success = mgmt.OperationName(r.Method, r.URL.Path)
		rec.Record.OperationVersion = r.URL.Query().Get("api-version")
		rec.Record.ResourceID = managementVaultID(r.URL.Path)
		caller, ok := s.authenticateManagement(w, r)
		if !ok {
			return info
		}
		info.caller = caller
		rec.Record.Identity = identityClaims(caller)
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		s.mgmt.Serve(w, r, caller)
		return info
	}

	segments := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	rec.Record.OperationName, rec.Success = api.OperationName(r.Method, segments)
	name, ok := s.vaultForHost(r.Host)
	if !ok {
		api.WriteErrorDetail(w, http.StatusNotFound, api.ErrorDetail{Code: "VaultNotFound",
			Message: "The host " + r.Host + " is not a vault of this server: use {vault}." + s.cfg.DNSSuffix + " or localhost."})
		return info
	}
	info.vault = name
	rec.Record.Properties.Vault = name
	caller, ok := s.authenticate(w, r)
	if !ok {
		// The record of a rejected request still names the vault the host
		// addresses. The 401 response does not say whether it exists.
		if v, err := s.vaults.GetVault(r.Context(), name); err == nil {
			rec.Record.ResourceID = strings.ToUpper(authz.VaultResourceID(v))
		}
		return info
	}
	info.caller = caller
	rec.Record.Identity = identityClaims(caller)
	v, err := s.vaults.GetVault(r.Context(), name)
	if err != nil {
		api.WriteError(w, r, err)
		return info
	}
	rec.Record.ResourceID = strings.ToUpper(authz.VaultResourceID(v))
	query := r.URL.Query() // decodes percent-encoded keys such as api%2Dversion
	apiVersion := query.Get("api-version")
	rec.Record.OperationVersion = apiVersion
	if err := api.CheckAPIVersion(apiVersion); err != nil {
		api.WriteError(w, r, err)
		return info
	}
	if s.throttle != nil {
		if wait, ok := s.throttle.allow(v.ID(), rec.Record.OperationName, time.Now()); !ok {
			s.metrics.throttled.Inc()
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
			api.WriteErrorDetail(w, http.StatusTooManyRequests, api.ErrorDetail{Code: "Throttled",
				Message: "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached. Retry after the time in the Retry-After header."})
			return info
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	s.api.Serve(w, r, &api.Request{Vault: v, Caller: caller, APIVersion: apiVersion, Segments: segments})
	return info
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
	if !s.unsealed.Load() {
		writePlain(w, http.StatusServiceUnavailable, "not ready: sealed\n")
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

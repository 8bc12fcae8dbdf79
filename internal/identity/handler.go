package identity

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// MaxFormBytes bounds a token request body.
const MaxFormBytes = 64 << 10

// Match reports whether path is one of the token service's endpoints:
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	GET  /{tenant}/discovery/v2.0/keys
//	POST /{tenant}/oauth2/v2.0/token
//
// and the same three under the ADFS-style authority /adfs:
//
//	GET  /adfs/.well-known/openid-configuration
//	GET  /adfs/discovery/keys
//	POST /adfs/oauth2/token
func Match(path string) bool {
	if _, ok := adfsRoute(path); ok {
		return true
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) != 4 {
		return false
	}
	switch strings.Join(segs[1:], "/") {
	case "v2.0/.well-known/openid-configuration", "discovery/v2.0/keys", "oauth2/v2.0/token", "oauth2/v2.0/authorize":
		return true
	}
	return false
}

// adfsRoute returns the part of path after /adfs/ when it is an ADFS
// endpoint. The Azure CLI (2.45) signs in to a custom cloud whose
// active-directory endpoint ends in /adfs without instance discovery: MSAL
// treats such an authority as ADFS, reads {authority}/.well-known/openid-configuration
// (no tenant, no /v2.0) and posts to the token_endpoint that document names.
func adfsRoute(path string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.Trim(path, "/"), "adfs/")
	if !ok {
		return "", false
	}
	switch rest {
	case ".well-known/openid-configuration", "discovery/keys", "oauth2/token", "oauth2/authorize":
		return rest, true
	}
	return "", false
}

// ServeHTTP serves the token service's endpoints; see Match.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if route, ok := adfsRoute(r.URL.Path); ok {
		s.serveADFS(w, r, route)
		return
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) != 4 {
		writeOAuthError(w, http.StatusNotFound, "not_found", "No such endpoint.")
		return
	}
	if !strings.EqualFold(segs[0], s.opts.TenantID) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_tenant",
			"AADSTS90002: Tenant '"+segs[0]+"' not found. This server's tenant is "+s.opts.TenantID+" (see credentials.json).")
		return
	}
	switch route := strings.Join(segs[1:], "/"); {
	case route == "v2.0/.well-known/openid-configuration" && r.Method == http.MethodGet:
		s.serveDiscovery(w, r)
	case route == "discovery/v2.0/keys" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.jwks())
	case route == "oauth2/v2.0/token" && r.Method == http.MethodPost:
		s.serveToken(w, r, s.issuer(r.Host))
	case route == "oauth2/v2.0/authorize":
		writeOAuthError(w, http.StatusBadRequest, "unsupported_response_type",
			"Interactive sign-in is not supported: use the client_credentials grant.")
	default:
		w.Header().Set("Allow", "GET, POST")
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "Method "+r.Method+" is not allowed here.")
	}
}

// serveADFS serves the ADFS-style endpoints under /adfs. They issue the
// same tokens as the v2.0 endpoints, with the issuer https://{host}/adfs.
func (s *Service) serveADFS(w http.ResponseWriter, r *http.Request, route string) {
	switch {
	case route == ".well-known/openid-configuration" && r.Method == http.MethodGet:
		base := s.adfsIssuer(r.Host)
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                base,
			"token_endpoint":                        base + "/oauth2/token",
			"authorization_endpoint":                base + "/oauth2/authorize",
			"jwks_uri":                              base + "/discovery/keys",
			"response_types_supported":              []string{"token"},
			"grant_types_supported":                 []string{"client_credentials"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
			"access_token_issuer":                   base,
		})
	case route == "discovery/keys" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.jwks())
	case route == "oauth2/token" && r.Method == http.MethodPost:
		s.serveToken(w, r, s.adfsIssuer(r.Host))
	case route == "oauth2/authorize":
		writeOAuthError(w, http.StatusBadRequest, "unsupported_response_type",
			"Interactive sign-in is not supported: use the client_credentials grant.")
	default:
		w.Header().Set("Allow", "GET, POST")
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "Method "+r.Method+" is not allowed here.")
	}
}

func (s *Service) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	// The issuer uses the host the request came in on: MSAL requires the
	// issuer's host to equal the authority host the client was given.
	base := s.opts.Scheme + "://" + r.Host + "/" + s.opts.TenantID
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base + "/v2.0",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"token"},
		"grant_types_supported":                 []string{"client_credentials"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"tenant_region_scope":                   nil,
	})
}

// serveToken handles a client-credentials token request and returns a
// token whose iss claim is issuer.
func (s *Service) serveToken(w http.ResponseWriter, r *http.Request, issuer string) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The request body is not a valid form: "+err.Error())
		return
	}
	// Only the body counts: clients add query parameters of their own
	// (msal-node appends client-request-id), which are ignored.
	form := r.PostForm
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type",
			"AADSTS70003: grant_type "+quote(gt)+" is not supported: use client_credentials.")
		return
	}
	resource, ok := s.scopeResource(form.Get("scope"))
	if !ok {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope",
			"AADSTS70011: The scope "+quote(form.Get("scope"))+" is not valid. Request RESOURCE/.default for one of: "+strings.Join(s.opts.Resources, ", ")+".")
		return
	}
	p, ok := s.authenticateClient(w, r, form)
	if !ok {
		return
	}

	token, exp, err := s.issue(p, resource, issuer)
	if err != nil {
		slog.Error("token request: signing failed", "clientId", p.ClientID, "error", err)
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "The token service failed; see the server log.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	seconds := int(exp.Sub(s.opts.Now()).Seconds()) - 1
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type": "Bearer", "expires_in": seconds, "ext_expires_in": seconds, "access_token": token,
	})
}

// authenticateClient checks the client's credential: a client secret (in
// the form or HTTP Basic authentication) or a JWT client assertion signed
// with a certificate's key. On failure it writes the error and returns false.
func (s *Service) authenticateClient(w http.ResponseWriter, r *http.Request, form url.Values) (*Principal, bool) {
	clientID := form.Get("client_id")
	if form.Get("client_assertion") != "" || form.Get("client_assertion_type") != "" {
		if form.Get("client_assertion_type") != clientAssertionType {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request",
				"AADSTS50027: client_assertion_type must be "+clientAssertionType+".")
			return nil, false
		}
		p, err := s.verifyAssertion(r.Context(), clientID, form.Get("client_assertion"))
		if err != nil {
			slog.Info("token request: client assertion rejected", "clientId", clientID, "error", err)
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client",
				"AADSTS700027: The client assertion is invalid: "+err.Error()+".")
			return nil, false
		}
		return p, true
	}

	secret := form.Get("client_secret")
	if id, pw, ok := r.BasicAuth(); ok {
		clientID, secret = id, pw
	}
	if clientID == "" || secret == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request",
			"AADSTS900144: client_id and a client_secret or client_assertion are required.")
		return nil, false
	}
	p, err := lookupPrincipal(r.Context(), s.opts.Store, clientID)
	if err != nil {
		slog.Error("token request: principal lookup failed", "clientId", clientID, "error", err)
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "The token service failed; see the server log.")
		return nil, false
	}
	if p == nil || !p.secretMatches(secret) {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client",
			"AADSTS7000215: Invalid client secret provided, or application "+quote(clientID)+" does not exist.")
		return nil, false
	}
	return p, true
}

// scopeResource finds the RESOURCE/.default entry among the space-separated
// scopes and returns the resource if tokens may be issued for it. Other
// scopes that clients add (openid, profile, offline_access) are ignored.
func (s *Service) scopeResource(scope string) (string, bool) {
	found := ""
	for _, sc := range strings.Fields(scope) {
		if r, ok := strings.CutSuffix(sc, "/.default"); ok {
			if found != "" {
				return "", false // one resource per token
			}
			found = r
		}
	}
	if found == "" {
		return "", false
	}
	return s.resourceAllowed(found)
}

func quote(s string) string { return "'" + s + "'" }

func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

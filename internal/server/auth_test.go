package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/keyvault/keyvault/internal/identity"
	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/server"
	"github.com/keyvault/keyvault/internal/storage/bolt"
)

// sendRaw sends req through the instance's HTTP client, which connects to
// the server's loopback address whatever host the URL names, and reads the
// response.
func sendRaw(t *testing.T, in *kvtest.Instance, req *http.Request) *kvtest.Response {
	t.Helper()
	resp, err := in.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return &kvtest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// getWithAuthorization sends GET rawURL with the Authorization header set to
// authorization, or with none when it is empty.
func getWithAuthorization(t *testing.T, in *kvtest.Instance, rawURL, authorization string) *kvtest.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return sendRaw(t, in, req)
}

// checkChallenge checks that r is a 401 with a Bearer challenge and the
// Unauthorized error code.
func checkChallenge(t *testing.T, r *kvtest.Response) {
	t.Helper()
	checkAzureError(t, r, http.StatusUnauthorized, "Unauthorized", "")
	if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer authorization="https://`) {
		t.Errorf("WWW-Authenticate: got %q, want a Bearer challenge", got)
	}
}

// unverifiedClaims decodes the header and claims of a JWT without checking
// its signature.
func unverifiedClaims(t *testing.T, token string) (map[string]any, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(token, claims)
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	return parsed.Header, claims
}

// adminTokenForm returns the client-credentials form of the administrator
// for the server's vault resource.
func adminTokenForm(in *kvtest.Instance) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {in.Creds.ClientID},
		"client_secret": {in.Creds.ClientSecret},
		"scope":         {in.Creds.Resource + "/.default"},
	}
}

func postTokenForm(t *testing.T, in *kvtest.Instance, tokenURL string, form url.Values, basicID, basicSecret string) *kvtest.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(basicID, basicSecret)
	}
	return sendRaw(t, in, req)
}

type tokenResponse struct {
	TokenType   string `json:"token_type"`
	ExpiresIn   any    `json:"expires_in"`
	AccessToken string `json:"access_token"`
	Error       string `json:"error"`
}

// discovery fetches the OpenID configuration through host.
func discovery(t *testing.T, in *kvtest.Instance, host string) map[string]any {
	t.Helper()
	r := in.Do(t, http.MethodGet, "https://"+host+"/"+in.Creds.TenantID+"/v2.0/.well-known/openid-configuration", "", "")
	if r.Status != http.StatusOK {
		t.Fatalf("discovery: got %v, want status 200", r)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("discovery Content-Type: got %q, want application/json", ct)
	}
	var doc map[string]any
	r.JSON(t, &doc)
	return doc
}

func TestAuthDiscoveryIssuerHost(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	vaultURL := "https://default.vault.localhost:" + in.Port + "/secrets?api-version=" + wireAPIVersion

	for _, host := range []string{"localhost:" + in.Port, "127.0.0.1:" + in.Port, "default.vault.localhost:" + in.Port} {
		t.Run(host, func(t *testing.T) {
			doc := discovery(t, in, host)
			base := "https://" + host + "/" + in.Creds.TenantID
			want := map[string]string{
				"issuer":                 base + "/v2.0",
				"token_endpoint":         base + "/oauth2/v2.0/token",
				"authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"jwks_uri":               base + "/discovery/v2.0/keys",
			}
			for field, value := range want {
				if doc[field] != value {
					t.Errorf("%s: got %v, want %s", field, doc[field], value)
				}
			}

			// A token from this host's token endpoint names the same issuer
			// and is accepted at the vault's host.
			tokenURL, _ := doc["token_endpoint"].(string)
			r := postTokenForm(t, in, tokenURL, adminTokenForm(in), "", "")
			var tok tokenResponse
			r.JSON(t, &tok)
			if r.Status != http.StatusOK || tok.AccessToken == "" {
				t.Fatalf("token: got %v, want status 200 with a token", r)
			}
			_, claims := unverifiedClaims(t, tok.AccessToken)
			if claims["iss"] != want["issuer"] {
				t.Errorf("token iss: got %v, want %s", claims["iss"], want["issuer"])
			}
			if r := in.Do(t, http.MethodGet, vaultURL, tok.AccessToken, ""); r.Status != http.StatusOK {
				t.Errorf("vault request with the token: got %v, want status 200", r)
			}
		})
	}

	t.Run("unknown tenant", func(t *testing.T) {
		r := in.Do(t, http.MethodGet, "https://localhost:"+in.Port+"/"+uuid.NewString()+"/v2.0/.well-known/openid-configuration", "", "")
		if r.Status != http.StatusBadRequest {
			t.Errorf("got %v, want status 400", r)
		}
	})
}

func TestAuthJWKSVerifiesTokens(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	token := in.Token(t)
	header, _ := unverifiedClaims(t, token)
	kid, _ := header["kid"].(string)
	if kid == "" {
		t.Fatalf("token header %v has no kid", header)
	}

	jwksURI, _ := discovery(t, in, "localhost:"+in.Port)["jwks_uri"].(string)
	r := in.Do(t, http.MethodGet, jwksURI, "", "")
	if r.Status != http.StatusOK {
		t.Fatalf("JWKS: got %v, want status 200", r)
	}
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	r.JSON(t, &set)

	var pub *rsa.PublicKey
	for _, k := range set.Keys {
		if k.D != "" {
			t.Errorf("JWKS key %s has a private exponent", k.Kid)
		}
		if k.Kid != kid {
			continue
		}
		if pub != nil {
			t.Fatalf("JWKS has two keys with kid %s", kid)
		}
		if k.Kty != "RSA" || k.Alg != "RS256" || k.Use != "sig" {
			t.Errorf("key %s: got kty %q alg %q use %q, want RSA RS256 sig", kid, k.Kty, k.Alg, k.Use)
		}
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if errN != nil || errE != nil {
			t.Fatalf("key %s: n or e is not base64url: %v %v", kid, errN, errE)
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	if pub == nil {
		t.Fatalf("JWKS %s has no key with the token's kid %s", r.Body, kid)
	}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"})).Parse(token, func(*jwt.Token) (any, error) { return pub, nil })
	if err != nil {
		t.Errorf("the JWKS key does not verify the token: %v", err)
	}
}

func TestTokenEndpointGrants(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	tokenURL := "https://localhost:" + in.Port + "/" + in.Creds.TenantID + "/oauth2/v2.0/token"
	resource := in.Creds.Resource
	vaultURL := "https://default.vault.localhost:" + in.Port + "/secrets?api-version=" + wireAPIVersion

	tests := []struct {
		name     string
		edit     func(form url.Values)
		basic    string // if set, the client secret sent with HTTP Basic instead of the form
		tenant   string // empty means the server's tenant
		query    string
		status   int
		errCode  string // the OAuth error code, if the request fails
		anyError bool   // any non-empty error code is accepted
	}{
		{name: "secret in form", status: http.StatusOK},
		{name: "secret in basic auth", basic: in.Creds.ClientSecret, status: http.StatusOK},
		{name: "extra scopes", status: http.StatusOK, edit: func(f url.Values) {
			f.Set("scope", resource+"/.default openid offline_access profile")
		}},
		{name: "unknown fields and claims", query: "?client-request-id=x", status: http.StatusOK, edit: func(f url.Values) {
			f.Set("client_info", "1")
			f.Set("claims", `{"access_token":{"xms_cc":{"values":["CP1"]}}}`)
			f.Set("x-client-SKU", "msal.js.node")
			f.Set("client-request-id", uuid.NewString())
		}},
		{name: "resource trailing slash", status: http.StatusOK, edit: func(f url.Values) {
			f.Set("scope", resource+"//.default")
		}},
		{name: "resource upper case", status: http.StatusOK, edit: func(f url.Values) {
			f.Set("scope", strings.ToUpper(resource)+"/.default")
		}},
		{name: "other resource", status: http.StatusBadRequest, errCode: "invalid_scope", edit: func(f url.Values) {
			f.Set("scope", "https://vault.azure.net/.default")
		}},
		{name: "two resources", status: http.StatusBadRequest, errCode: "invalid_scope", edit: func(f url.Values) {
			f.Set("scope", resource+"/.default https://vault.azure.net/.default")
		}},
		{name: "no default scope", status: http.StatusBadRequest, errCode: "invalid_scope", edit: func(f url.Values) {
			f.Set("scope", "openid profile")
		}},
		{name: "missing scope", status: http.StatusBadRequest, errCode: "invalid_scope", edit: func(f url.Values) {
			f.Del("scope")
		}},
		{name: "wrong secret", status: http.StatusUnauthorized, errCode: "invalid_client", edit: func(f url.Values) {
			f.Set("client_secret", in.Creds.ClientSecret+"x")
		}},
		{name: "wrong secret in basic auth", basic: "wrong", status: http.StatusUnauthorized, errCode: "invalid_client"},
		{name: "unknown client", status: http.StatusUnauthorized, errCode: "invalid_client", edit: func(f url.Values) {
			f.Set("client_id", uuid.NewString())
		}},
		{name: "missing grant type", status: http.StatusBadRequest, errCode: "unsupported_grant_type", edit: func(f url.Values) {
			f.Del("grant_type")
		}},
		{name: "password grant", status: http.StatusBadRequest, errCode: "unsupported_grant_type", edit: func(f url.Values) {
			f.Set("grant_type", "password")
		}},
		{name: "wrong tenant", tenant: uuid.NewString(), status: http.StatusBadRequest, anyError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := adminTokenForm(in)
			if tt.edit != nil {
				tt.edit(form)
			}
			target := tokenURL + tt.query
			if tt.tenant != "" {
				target = "https://localhost:" + in.Port + "/" + tt.tenant + "/oauth2/v2.0/token" + tt.query
			}
			basicID := ""
			if tt.basic != "" {
				basicID = in.Creds.ClientID
				form.Del("client_id")
				form.Del("client_secret")
			}
			r := postTokenForm(t, in, target, form, basicID, tt.basic)
			if r.Status != tt.status {
				t.Fatalf("got %v, want status %d", r, tt.status)
			}
			var tok tokenResponse
			r.JSON(t, &tok)
			if tt.status != http.StatusOK {
				switch {
				case tt.anyError && tok.Error == "":
					t.Errorf("error: got none, want an OAuth error code")
				case !tt.anyError && tok.Error != tt.errCode:
					t.Errorf("error: got %q, want %q", tok.Error, tt.errCode)
				}
				if tok.AccessToken != "" {
					t.Errorf("a failed request returned an access token")
				}
				return
			}
			checkTokenResponse(t, tok)
			_, claims := unverifiedClaims(t, tok.AccessToken)
			if aud, _ := claims.GetAudience(); len(aud) != 1 || aud[0] != resource {
				t.Errorf("aud: got %v, want [%s]", aud, resource)
			}
			if r := in.Do(t, http.MethodGet, vaultURL, tok.AccessToken, ""); r.Status != http.StatusOK {
				t.Errorf("vault request with the token: got %v, want status 200", r)
			}
		})
	}

	t.Run("GET not allowed", func(t *testing.T) {
		r := in.Do(t, http.MethodGet, tokenURL, "", "")
		if r.Status != http.StatusMethodNotAllowed {
			t.Errorf("got %v, want status 405", r)
		}
	})
}

func checkTokenResponse(t *testing.T, tok tokenResponse) {
	t.Helper()
	if tok.TokenType != "Bearer" {
		t.Errorf("token_type: got %q, want Bearer", tok.TokenType)
	}
	seconds, ok := tok.ExpiresIn.(float64)
	if !ok {
		t.Errorf("expires_in: got %#v, want a JSON number", tok.ExpiresIn)
	} else if seconds <= 0 || seconds > 3600 {
		t.Errorf("expires_in: got %v, want 1 to 3600", seconds)
	}
	if tok.AccessToken == "" {
		t.Errorf("access_token is empty")
	}
}

// resignToken returns a token with the given claims and header kid, signed
// by key with method.
func resignToken(t *testing.T, method jwt.SigningMethod, claims jwt.MapClaims, kid string, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return signed
}

// withPayload returns token with its payload replaced by claims and the
// original signature kept.
func withPayload(t *testing.T, token string, claims jwt.MapClaims) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestAuthRejectsForgedTokens(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	vaultURL := "https://default.vault.localhost:" + in.Port + "/secrets?api-version=" + wireAPIVersion
	valid := in.Token(t)
	header, claims := unverifiedClaims(t, valid)
	kid, _ := header["kid"].(string)
	if r := getWithAuthorization(t, in, vaultURL, "Bearer "+valid); r.Status != http.StatusOK {
		t.Fatalf("the server's own token: got %v, want status 200", r)
	}

	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(serverPublicKey(t, in))
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	edited := func(edit func(c jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range claims {
			c[k] = v
		}
		edit(c)
		return c
	}
	now := time.Now().Unix()
	tenant := in.Creds.TenantID

	tests := []struct {
		name          string
		authorization string
	}{
		{name: "garbage", authorization: "Bearer not-a-jwt"},
		{name: "three garbage segments", authorization: "Bearer a.b.c"},
		{name: "truncated signature", authorization: "Bearer " + valid[:len(valid)-8]},
		{name: "tampered object id", authorization: "Bearer " + withPayload(t, valid, edited(func(c jwt.MapClaims) {
			c["oid"] = uuid.NewString()
		}))},
		{name: "tampered expiry", authorization: "Bearer " + withPayload(t, valid, edited(func(c jwt.MapClaims) {
			c["exp"] = now + 7*24*3600
		}))},
		{name: "other RSA key", authorization: "Bearer " + resignToken(t, jwt.SigningMethodRS256, claims, kid, otherKey)},
		{name: "other RSA key expired", authorization: "Bearer " + resignToken(t, jwt.SigningMethodRS256, edited(func(c jwt.MapClaims) {
			c["iat"], c["nbf"], c["exp"] = now-7200, now-7200, now-3600
		}), kid, otherKey)},
		{name: "other RSA key foreign issuer", authorization: "Bearer " + resignToken(t, jwt.SigningMethodRS256, edited(func(c jwt.MapClaims) {
			c["iss"] = "https://login.microsoftonline.com/" + tenant + "/v2.0"
		}), kid, otherKey)},
		{name: "alg none", authorization: "Bearer " + resignToken(t, jwt.SigningMethodNone, claims, kid, jwt.UnsafeAllowNoneSignatureType)},
		{name: "HS256 keyed with the public key", authorization: "Bearer " + resignToken(t, jwt.SigningMethodHS256, claims, kid, pubPEM)},
		{name: "basic scheme", authorization: "Basic " + valid},
		{name: "no scheme", authorization: valid},
		{name: "empty bearer", authorization: "Bearer "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkChallenge(t, getWithAuthorization(t, in, vaultURL, tt.authorization))
		})
	}
}

// serverPublicKey returns the token-signing key from the server's JWKS.
func serverPublicKey(t *testing.T, in *kvtest.Instance) *rsa.PublicKey {
	t.Helper()
	r := in.Do(t, http.MethodGet, "https://localhost:"+in.Port+"/"+in.Creds.TenantID+"/discovery/v2.0/keys", "", "")
	var set struct {
		Keys []struct {
			N string `json:"n"`
			E string `json:"e"`
		} `json:"keys"`
	}
	r.JSON(t, &set)
	if len(set.Keys) == 0 {
		t.Fatalf("JWKS has no keys: %s", r.Body)
	}
	n, _ := base64.RawURLEncoding.DecodeString(set.Keys[0].N)
	e, _ := base64.RawURLEncoding.DecodeString(set.Keys[0].E)
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
}

// reserveLoopbackAddr returns a free 127.0.0.1 address, so that a test can
// restart a server on the same port and keep its tokens valid, because the
// token audience contains the port.
//
// NOTE: another process may take the port before the server binds it, and
// the test then fails to start the server.
func reserveLoopbackAddr(t *testing.T) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := listener.Addr().String()
	if err := listener.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestAuthRejectsServerSignedBadClaims signs tokens with the server's own
// key, through the identity package and a chosen clock, while the server is
// stopped, so that each token fails only on the claim under test.
func TestAuthRejectsServerSignedBadClaims(t *testing.T) {
	dir := t.TempDir()
	rootKeyFile := filepath.Join(dir, "root.key")
	addr := reserveLoopbackAddr(t)
	configure := func(c *server.Config) {
		c.Addr = addr
		c.RootKeyFile = rootKeyFile
	}

	// The first run creates the signing key and the administrator, whose
	// ids its token carries.
	var firstToken string
	t.Run("first run", func(t *testing.T) {
		in := kvtest.Start(t, kvtest.Options{DataDir: dir, Configure: configure})
		firstToken = in.Token(t)
	})
	if firstToken == "" {
		t.Fatal("the first run did not return a token")
	}
	_, claims := unverifiedClaims(t, firstToken)
	tenant, _ := claims["tid"].(string)
	admin := &identity.Principal{}
	admin.ClientID, _ = claims["appid"].(string)
	admin.ObjectID, _ = claims["oid"].(string)
	audience, err := claims.GetAudience()
	if err != nil || len(audience) != 1 {
		t.Fatalf("aud: got %v (%v), want one resource", audience, err)
	}
	resource := audience[0]
	_, port, _ := net.SplitHostPort(addr)
	localhost := "localhost:" + port

	// Sign with the stored key while no server holds the store.
	root, _, err := seal.LoadOrCreateFileRootKey(rootKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	store, err := bolt.Open(filepath.Join(dir, server.StoreFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys := seal.NewKeyring(store, root)
	issue := func(tenantID string, now time.Time, p *identity.Principal, aud, host string) string {
		svc, err := identity.New(t.Context(), identity.Options{
			Store: store, Keyring: keys, TenantID: tenantID, Scheme: "https",
			Resources: []string{aud}, HostAllowed: func(string) bool { return true },
			Now: func() time.Time { return now },
		})
		if err != nil {
			t.Fatalf("identity service: %v", err)
		}
		token, _, err := svc.Issue(p, aud, host)
		if err != nil {
			t.Fatalf("issue token: %v", err)
		}
		return token
	}
	now := time.Now()
	tests := []struct {
		name        string
		token       string
		status      int
		wantMessage string // a substring of the 401 message
	}{
		{name: "first run token", token: firstToken, status: http.StatusOK},
		{name: "current", token: issue(tenant, now, admin, resource, localhost), status: http.StatusOK},
		{name: "issued at vault host", token: issue(tenant, now, admin, resource, "default.vault.localhost:"+port), status: http.StatusOK},
		{name: "expired", token: issue(tenant, now.Add(-2*time.Hour), admin, resource, localhost), status: http.StatusUnauthorized, wantMessage: "expired"},
		{name: "not yet valid", token: issue(tenant, now.Add(time.Hour), admin, resource, localhost), status: http.StatusUnauthorized},
		{name: "foreign issuer host", token: issue(tenant, now, admin, resource, "login.microsoftonline.com"), status: http.StatusUnauthorized, wantMessage: "issuer"},
		{name: "foreign tenant", token: issue(uuid.NewString(), now, admin, resource, localhost), status: http.StatusUnauthorized},
		{name: "other audience", token: issue(tenant, now, admin, "https://vault.azure.net", localhost), status: http.StatusUnauthorized, wantMessage: "audience"},
		{name: "unknown principal", token: issue(tenant, now, &identity.Principal{ClientID: uuid.NewString(), ObjectID: uuid.NewString()}, resource, localhost), status: http.StatusUnauthorized},
		{name: "wrong object id", token: issue(tenant, now, &identity.Principal{ClientID: admin.ClientID, ObjectID: uuid.NewString()}, resource, localhost), status: http.StatusUnauthorized},
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	in := kvtest.Start(t, kvtest.Options{DataDir: dir, Configure: configure})
	vaultURL := "https://default.vault.localhost:" + port + "/secrets?api-version=" + wireAPIVersion
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := in.Do(t, http.MethodGet, vaultURL, tt.token, "")
			if tt.status == http.StatusOK {
				if r.Status != http.StatusOK {
					t.Errorf("got %v, want status 200", r)
				}
				return
			}
			checkChallenge(t, r)
			if msg := errorMessage(r); !strings.Contains(msg, tt.wantMessage) {
				t.Errorf("message %q: want it to contain %q", msg, tt.wantMessage)
			}
		})
	}
}

func TestAuthTokenAcceptedOnAnyHost(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	hosts := []string{"localhost:" + in.Port, "127.0.0.1:" + in.Port, "default.vault.localhost:" + in.Port}
	for _, issuedAt := range hosts {
		tokenURL := "https://" + issuedAt + "/" + in.Creds.TenantID + "/oauth2/v2.0/token"
		r := postTokenForm(t, in, tokenURL, adminTokenForm(in), "", "")
		var tok tokenResponse
		r.JSON(t, &tok)
		if r.Status != http.StatusOK {
			t.Fatalf("token at %s: got %v, want status 200", issuedAt, r)
		}
		for _, usedAt := range hosts {
			t.Run(issuedAt+" to "+usedAt, func(t *testing.T) {
				r := in.Do(t, http.MethodGet, "https://"+usedAt+"/secrets?api-version="+wireAPIVersion, tok.AccessToken, "")
				if r.Status != http.StatusOK {
					t.Errorf("got %v, want status 200", r)
				}
			})
		}
	}
}

func TestAuthHostRouting(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	token := in.Token(t)
	port := in.Port
	tests := []struct {
		name      string
		host      string
		withToken bool
		status    int
		code      string
	}{
		{name: "foreign host", host: "other.example", status: http.StatusNotFound, code: "VaultNotFound"},
		{name: "foreign host with token", host: "other.example", withToken: true, status: http.StatusNotFound, code: "VaultNotFound"},
		{name: "foreign host with port", host: "other.example:" + port, withToken: true, status: http.StatusNotFound, code: "VaultNotFound"},
		{name: "nested vault host", host: "a.b.vault.localhost:" + port, withToken: true, status: http.StatusNotFound, code: "VaultNotFound"},
		{name: "resource host", host: "vault.localhost:" + port, withToken: true, status: http.StatusNotFound, code: "VaultNotFound"},
		{name: "unknown vault", host: "nosuch.vault.localhost:" + port, status: http.StatusUnauthorized, code: "Unauthorized"},
		{name: "unknown vault with token", host: "nosuch.vault.localhost:" + port, withToken: true, status: http.StatusNotFound, code: "VaultNotFound"},
		{name: "upper-case vault host", host: "DEFAULT.VAULT.LOCALHOST:" + port, withToken: true, status: http.StatusOK},
		{name: "loopback address", host: "127.0.0.1:" + port, withToken: true, status: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The URL keeps localhost for TLS, and only the Host header changes.
			req, err := http.NewRequest(http.MethodGet, "https://localhost:"+port+"/secrets?api-version="+wireAPIVersion, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tt.host
			if tt.withToken {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			r := sendRaw(t, in, req)
			if tt.status == http.StatusOK {
				if r.Status != http.StatusOK {
					t.Errorf("got %v, want status 200", r)
				}
				return
			}
			checkAzureError(t, r, tt.status, tt.code, "")
		})
	}
}

func TestAuthRequestIDHeaders(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	token := in.Token(t)
	vaultURL := "https://default.vault.localhost:" + in.Port + "/secrets?api-version=" + wireAPIVersion
	requestID := regexp.MustCompile(`^[0-9a-f]{32}$`)

	seen := make(map[string]bool)
	for _, tt := range []struct {
		name  string
		token string
	}{
		{name: "authorized", token: token},
		{name: "challenge", token: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, vaultURL, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			req.Header.Set("x-ms-client-request-id", "client-"+tt.name)
			r := sendRaw(t, in, req)
			if got := r.Header.Get("x-ms-client-request-id"); got != "client-"+tt.name {
				t.Errorf("x-ms-client-request-id: got %q, want %q", got, "client-"+tt.name)
			}
			id := r.Header.Get("x-ms-request-id")
			if !requestID.MatchString(id) {
				t.Errorf("x-ms-request-id: got %q, want 32 hex digits", id)
			}
			if seen[id] {
				t.Errorf("x-ms-request-id %q repeats", id)
			}
			seen[id] = true
		})
	}

	t.Run("no client id", func(t *testing.T) {
		r := in.Do(t, http.MethodGet, vaultURL, token, "")
		if got, ok := r.Header["X-Ms-Client-Request-Id"]; ok {
			t.Errorf("x-ms-client-request-id: got %q, want no header", got)
		}
		if id := r.Header.Get("x-ms-request-id"); !requestID.MatchString(id) {
			t.Errorf("x-ms-request-id: got %q, want 32 hex digits", id)
		}
	})
}

func TestAuthNotNeededForHealth(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	tests := []struct {
		path string
		body string
	}{
		{path: "/healthz", body: "ok\n"},
		{path: "/readyz", body: "ready\n"},
	}
	for _, tt := range tests {
		for _, host := range []string{"localhost:" + in.Port, "default.vault.localhost:" + in.Port} {
			t.Run(host+tt.path, func(t *testing.T) {
				r := in.Do(t, http.MethodGet, "https://"+host+tt.path, "", "")
				if r.Status != http.StatusOK {
					t.Fatalf("got %v, want status 200", r)
				}
				if string(r.Body) != tt.body {
					t.Errorf("body: got %q, want %q", r.Body, tt.body)
				}
			})
		}
	}
}

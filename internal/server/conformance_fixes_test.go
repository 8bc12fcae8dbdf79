package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyvault/keyvault/internal/kvtest"
)

// The tests in this file pin server behaviour that the Python SDK, the
// JavaScript SDK or the Azure CLI depend on, found by the conformance suite
// in test/conformance. Each sends the requests those clients send.

// confPostForm posts form to rawURL and decodes the JSON response into out.
func confPostForm(t *testing.T, in *kvtest.Instance, rawURL string, form url.Values, out any) int {
	t.Helper()
	resp, err := in.HTTPClient().PostForm(rawURL, form)
	if err != nil {
		t.Fatalf("POST %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("POST %s: decode response: %v", rawURL, err)
	}
	return resp.StatusCode
}

// confPayload returns the claims of a JWT as raw JSON values, without
// verifying it.
func confPayload(t *testing.T, token string) map[string]json.RawMessage {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode token payload: %v", err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatalf("parse token payload %s: %v", raw, err)
	}
	return claims
}

// confMSALForm returns the token request that MSAL Python 1.21 sends for a
// client-credentials grant, including fields the server must ignore.
func confMSALForm(in *kvtest.Instance, scope string) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {in.Creds.ClientID},
		"client_secret": {in.Creds.ClientSecret},
		"scope":         {scope},
		"client_info":   {"1"},
		"claims":        {`{"access_token": {"xms_cc": {"values": ["CP1"]}}}`},
	}
}

func TestADFSDiscoveryDocument(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	base := "https://localhost:" + in.Port + "/adfs"
	r := in.Do(t, http.MethodGet, base+"/.well-known/openid-configuration", "", "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET openid-configuration: %v, want 200", r)
	}
	var doc map[string]any
	r.JSON(t, &doc)
	want := map[string]string{
		"issuer":                 base,
		"token_endpoint":         base + "/oauth2/token",
		"authorization_endpoint": base + "/oauth2/authorize",
		"jwks_uri":               base + "/discovery/keys",
	}
	for field, value := range want {
		if doc[field] != value {
			t.Errorf("%s: got %v, want %s", field, doc[field], value)
		}
	}

	keys := in.Do(t, http.MethodGet, base+"/discovery/keys", "", "")
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	keys.JSON(t, &jwks)
	if keys.Status != http.StatusOK || len(jwks.Keys) != 1 || jwks.Keys[0]["kty"] != "RSA" {
		t.Errorf("GET discovery/keys: %v, want one RSA key", keys)
	}
	if r := in.Do(t, http.MethodGet, base+"/oauth2/token", "", ""); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET oauth2/token: %v, want 405", r)
	}
}

func TestADFSTokenForAzureCLI(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	base := "https://localhost:" + in.Port + "/adfs"
	tests := []struct {
		name     string
		scope    string // as az sends it: the resource id and /.default
		audience string
		use      func(t *testing.T, token string)
	}{
		{
			// az login: the cloud's active-directory resource id ends in
			// "/", so the scope has a double slash.
			name: "management", scope: "https://management.localhost//.default", audience: "https://management.localhost",
			use: func(t *testing.T, token string) {
				r := in.Do(t, http.MethodGet, "https://localhost:"+in.Port+"/subscriptions?api-version=2019-11-01", token, "")
				var subs struct {
					Value []struct {
						SubscriptionID string `json:"subscriptionId"`
						TenantID       string `json:"tenantId"`
					} `json:"value"`
				}
				r.JSON(t, &subs)
				if r.Status != http.StatusOK || len(subs.Value) != 1 || subs.Value[0].SubscriptionID != in.Creds.SubscriptionID || subs.Value[0].TenantID != in.Creds.TenantID {
					t.Errorf("GET /subscriptions: %v, want the subscription %s", r, in.Creds.SubscriptionID)
				}
			},
		},
		{
			// az account get-access-token --resource / az rest --resource.
			name: "vault", scope: in.Creds.Resource + "/.default", audience: in.Creds.Resource,
			use: func(t *testing.T, token string) {
				r := in.Do(t, http.MethodPut, in.VaultURL("default")+"/secrets/from-az?api-version=7.4", token, `{"value":"v"}`)
				if r.Status != http.StatusOK {
					t.Errorf("PUT secret with the ADFS token: %v, want 200", r)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body struct {
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
				AccessToken string `json:"access_token"`
			}
			if status := confPostForm(t, in, base+"/oauth2/token", confMSALForm(in, tt.scope), &body); status != http.StatusOK {
				t.Fatalf("POST oauth2/token: status %d, want 200", status)
			}
			if body.TokenType != "Bearer" || body.ExpiresIn < 3000 || body.AccessToken == "" {
				t.Fatalf("token response: type %q, expires_in %d, token empty %v; want Bearer, about 3600, a token",
					body.TokenType, body.ExpiresIn, body.AccessToken == "")
			}
			claims := confPayload(t, body.AccessToken)
			if got, want := string(claims["iss"]), `"`+base+`"`; got != want {
				t.Errorf("iss: got %s, want %s", got, want)
			}
			if got, want := string(claims["aud"]), `"`+tt.audience+`"`; got != want {
				t.Errorf("aud: got %s, want %s", got, want)
			}
			tt.use(t, body.AccessToken)
		})
	}
}

func TestADFSTokenRejectsBadSecret(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	form := confMSALForm(in, in.Creds.Resource+"/.default")
	form.Set("client_secret", "wrong")
	var body struct {
		Error string `json:"error"`
	}
	status := confPostForm(t, in, "https://localhost:"+in.Port+"/adfs/oauth2/token", form, &body)
	if status != http.StatusUnauthorized || body.Error != "invalid_client" {
		t.Errorf("POST oauth2/token with a wrong secret: status %d error %q, want 401 invalid_client", status, body.Error)
	}
}

func TestTokenAudienceIsString(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	claims := confPayload(t, in.Token(t))
	if got, want := string(claims["aud"]), `"`+in.Creds.Resource+`"`; got != want {
		t.Errorf("aud: got %s, want the JSON string %s", got, want)
	}
}

func TestCertCreateAnswersInProgress(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	token := in.Token(t)
	vaultURL := in.VaultURL("default")
	r := in.Do(t, http.MethodPost, vaultURL+"/certificates/py-poll/create?api-version=7.3", token,
		`{"policy":{"issuer":{"name":"Self"},"x509_props":{"subject":"CN=py-poll.example"}}}`)
	if r.Status != http.StatusAccepted {
		t.Fatalf("create: %v, want 202", r)
	}
	var op struct {
		Status        string `json:"status"`
		StatusDetails string `json:"status_details"`
		Target        string `json:"target"`
	}
	r.JSON(t, &op)
	if op.Status != "inProgress" {
		t.Errorf("create response status: got %q, want inProgress", op.Status)
	}
	if op.Target != "" {
		t.Errorf("create response target: got %q, want none", op.Target)
	}
	if op.StatusDetails == "" {
		t.Error("create response has no status_details")
	}

	r = in.Do(t, http.MethodGet, vaultURL+"/certificates/py-poll/pending?api-version=7.3", token, "")
	op.Target = ""
	r.JSON(t, &op)
	if r.Status != http.StatusOK || op.Status != "completed" || op.Target != vaultURL+"/certificates/py-poll" {
		t.Errorf("first poll: %v, want 200, completed, target %s/certificates/py-poll", r, vaultURL)
	}
	if r := in.Do(t, http.MethodGet, vaultURL+"/certificates/py-poll/?api-version=7.3", token, ""); r.Status != http.StatusOK {
		t.Errorf("get certificate: %v, want 200", r)
	}
}

// confSelfSignedPEM returns PEM text with a new EC key and a self-signed
// certificate for it, and the certificate's DER bytes.
func confSelfSignedPEM(t *testing.T, cn string) (string, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	text := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})) +
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	return text, der
}

func TestCertImportPEMEncodings(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	token := in.Token(t)
	vaultURL := in.VaultURL("default")
	tests := []struct {
		name   string
		encode func(pemText string) string
	}{
		// The Python SDK base64-encodes the bytes it is given.
		{name: "base64", encode: func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }},
		// The JavaScript SDK sends PEM as text.
		{name: "text", encode: func(s string) string { return s }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pemText, der := confSelfSignedPEM(t, "pem-"+tt.name+".example")
			body, err := json.Marshal(map[string]any{
				"value":  tt.encode(pemText),
				"policy": map[string]any{"secret_props": map[string]string{"contentType": "application/x-pem-file"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			name := "pem-" + tt.name
			r := in.Do(t, http.MethodPost, vaultURL+"/certificates/"+name+"/import?api-version=7.3", token, string(body))
			if r.Status != http.StatusOK {
				t.Fatalf("import: %v, want 200", r)
			}
			var cert struct {
				Cer string `json:"cer"`
			}
			r.JSON(t, &cert)
			if cert.Cer != base64.StdEncoding.EncodeToString(der) {
				t.Errorf("cer: got %.40s..., want the imported certificate", cert.Cer)
			}

			r = in.Do(t, http.MethodGet, vaultURL+"/secrets/"+name+"/?api-version=7.3", token, "")
			var secret struct {
				Value       string `json:"value"`
				ContentType string `json:"contentType"`
			}
			r.JSON(t, &secret)
			if secret.ContentType != "application/x-pem-file" {
				t.Errorf("secret contentType: got %q, want application/x-pem-file", secret.ContentType)
			}
			if !strings.Contains(secret.Value, "BEGIN CERTIFICATE") || !strings.Contains(secret.Value, "PRIVATE KEY") {
				t.Errorf("secret value lacks the certificate or the key: %.80q", secret.Value)
			}
		})
	}
}

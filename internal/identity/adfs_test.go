package identity

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage/bolt"
)

const (
	adfsTestResource = "https://vault.localhost:8443"
	adfsTestHost     = "localhost:8443"
)

// openADFSTestIdentity returns a token service on a bbolt store in a
// temporary directory, and the administrator's credentials.
func openADFSTestIdentity(t *testing.T) (*Service, *Credentials) {
	t.Helper()
	ctx := context.Background()
	store, err := bolt.Open(filepath.Join(t.TempDir(), "keyvault.db"), bolt.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})

	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	root, err := seal.NewFileRootKey(raw)
	if err != nil {
		t.Fatalf("root key: %v", err)
	}

	creds, err := BootstrapAdmin(ctx, store, nil)
	if err != nil {
		t.Fatalf("bootstrap administrator: %v", err)
	}
	s, err := New(ctx, Options{
		Store: store, Keyring: seal.NewKeyring(store, root), TenantID: creds.TenantID,
		Resources:   []string{adfsTestResource},
		HostAllowed: func(host string) bool { return host == adfsTestHost },
	})
	if err != nil {
		t.Fatalf("new token service: %v", err)
	}
	return s, creds
}

func TestMatchADFSPaths(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/adfs/.well-known/openid-configuration", true},
		{"/adfs/oauth2/token", true},
		{"/adfs/oauth2/token/", true},
		{"/adfs/discovery/keys", true},
		{"/adfs/oauth2/authorize", true},
		{"/adfs", false},
		{"/adfs/oauth2", false},
		{"/adfs/.well-known/openid-configuration/extra", false},
		{"/secrets/adfs", false},
		{"/tenant/oauth2/v2.0/token", true},
	}
	for _, tt := range tests {
		if got := Match(tt.path); got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestADFSDiscoveryNamesEndpoints(t *testing.T) {
	s, _ := openADFSTestIdentity(t)
	req := httptest.NewRequest(http.MethodGet, "https://"+adfsTestHost+"/adfs/.well-known/openid-configuration", nil)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200; body %s", rec.Code, rec.Body)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	base := "https://" + adfsTestHost + "/adfs"
	for field, want := range map[string]string{
		"issuer": base, "token_endpoint": base + "/oauth2/token",
		"authorization_endpoint": base + "/oauth2/authorize", "jwks_uri": base + "/discovery/keys",
	} {
		if doc[field] != want {
			t.Errorf("%s: got %v, want %s", field, doc[field], want)
		}
	}
}

func TestADFSTokenVerifies(t *testing.T) {
	s, creds := openADFSTestIdentity(t)
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {creds.ClientID}, "client_secret": {creds.ClientSecret},
		"scope": {adfsTestResource + "/.default"}, "client_info": {"1"},
	}
	req := httptest.NewRequest(http.MethodPost, "https://"+adfsTestHost+"/adfs/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200; body %s", rec.Code, rec.Body)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.AccessToken == "" {
		t.Fatalf("decode %s: %v, want an access token", rec.Body, err)
	}

	caller, err := s.Verify(context.Background(), body.AccessToken)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if caller.ApplicationID != creds.ClientID || caller.Audience != adfsTestResource {
		t.Errorf("caller: app %s audience %s, want %s and %s", caller.ApplicationID, caller.Audience, creds.ClientID, adfsTestResource)
	}
	var cl jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(body.AccessToken, &cl); err != nil {
		t.Fatalf("parse token: %v", err)
	}
	if got, want := cl["iss"], "https://"+adfsTestHost+"/adfs"; got != want {
		t.Errorf("iss: got %v, want %s", got, want)
	}
	if got := cl["aud"]; got != adfsTestResource {
		t.Errorf("aud: got %#v, want the string %s", got, adfsTestResource)
	}
}

func TestVerifyRejectsOtherIssuerPaths(t *testing.T) {
	s, creds := openADFSTestIdentity(t)
	p, err := lookupPrincipal(context.Background(), s.opts.Store, creds.ClientID)
	if err != nil || p == nil {
		t.Fatalf("look up administrator: principal %v, error %v", p, err)
	}
	for _, issuer := range []string{
		"https://" + adfsTestHost + "/adfs/services/trust",
		"https://" + adfsTestHost + "/other/v2.0",
		"https://other.example/adfs",
	} {
		token, _, err := s.issue(p, adfsTestResource, issuer)
		if err != nil {
			t.Fatalf("issue: %v", err)
		}
		if _, err := s.Verify(context.Background(), token); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Verify with issuer %s: got %v, want ErrInvalidToken", issuer, err)
		}
	}
}

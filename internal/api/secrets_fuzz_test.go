package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyvault/keyvault/internal/api"
	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage/bolt"
	"github.com/keyvault/keyvault/internal/vault"
)

// maxBodyBytes matches the server's default request body limit.
const maxBodyBytes = 1 << 20

// newFuzzHandler returns a Handler on a real vault.Service over a bolt store
// in a temporary directory, and the vault it serves.
func newFuzzHandler(tb testing.TB) (*api.Handler, *vault.Vault) {
	tb.Helper()
	store, err := bolt.Open(filepath.Join(tb.TempDir(), "store.db"), bolt.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := store.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		tb.Fatal(err)
	}
	root, err := seal.NewFileRootKey(raw)
	if err != nil {
		tb.Fatal(err)
	}
	svc := vault.NewService(store, seal.NewKeyring(store, root))
	v, err := svc.EnsureVault(context.Background(), vault.Vault{Name: "fuzz", RetentionDays: 90})
	if err != nil {
		tb.Fatal(err)
	}
	return &api.Handler{Vaults: svc}, v
}

// FuzzSetSecretBody sends arbitrary names and bodies to the set-secret
// operation. Every response must be a 200 carrying the value sent, or a 4xx
// with an Azure error body: never a 5xx, which would mean the handler failed
// on client input.
func FuzzSetSecretBody(f *testing.F) {
	h, v := newFuzzHandler(f)
	seeds := []struct {
		name string
		body string
	}{
		{name: "s1", body: `{"value":"v"}`},
		{name: "s1", body: `{"value":""}`},
		{name: "s2", body: `{"value":"v","contentType":"text/plain","tags":{"a":"b"},"attributes":{"enabled":false,"nbf":1,"exp":2}}`},
		{name: "s3", body: `{"value":"v","attributes":{"nbf":2,"exp":1}}`},
		{name: "s3", body: `{"value":"v","attributes":{"exp":1e30}}`},
		{name: "s3", body: `{"value":"v","attributes":{"enabled":"yes"}}`},
		{name: "s3", body: `{"value":"v","attributes":null,"tags":null,"contentType":null}`},
		{name: "s4", body: `{"value":"v","tags":{"":"x"}}`},
		{name: "s4", body: `{"value":"v","tags":{"a":1}}`},
		{name: "s4", body: `{"value":"v","contentType":"` + strings.Repeat("c", 256) + `"}`},
		{name: "s5", body: `{"value":"\ud800"}`},
		{name: "s5", body: "{\"value\":\"\xff\xfe\"}"},
		{name: "s5", body: `{"value":"v"} trailing`},
		{name: "s5", body: `{"value":"v"}{"value":"w"}`},
		{name: "s6", body: `{"value":1}`},
		{name: "s6", body: `{}`},
		{name: "s6", body: `null`},
		{name: "s6", body: `[]`},
		{name: "s6", body: `"value"`},
		{name: "s6", body: ``},
		{name: "s6", body: `   `},
		{name: "s6", body: `{"value":"v"`},
		{name: "bad_name", body: `{"value":"v"}`},
		{name: "", body: `{"value":"v"}`},
		{name: "restore", body: `{"value":"v"}`},
		{name: strings.Repeat("n", 128), body: `{"value":"v"}`},
	}
	for _, s := range seeds {
		f.Add(s.name, []byte(s.body))
	}

	f.Fuzz(func(t *testing.T, name string, body []byte) {
		target := "/secrets/" + url.PathEscape(name) + "?api-version=7.5"
		r := httptest.NewRequest(http.MethodPut, target, bytes.NewReader(body))
		w := httptest.NewRecorder()
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		h.Serve(w, r, &api.Request{Vault: v, APIVersion: "7.5", Segments: []string{"secrets", name}})

		res := w.Result()
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		switch {
		case res.StatusCode == http.StatusOK:
			checkSetResponse(t, name, body, w.Body.Bytes())
		case res.StatusCode >= 400 && res.StatusCode < 500:
			var e api.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatalf("status %d with a body that is not JSON: %q", res.StatusCode, w.Body.Bytes())
			}
			if e.Error.Code == "" || e.Error.Message == "" {
				t.Errorf("status %d error body %q lacks a code or message", res.StatusCode, w.Body.Bytes())
			}
		default:
			t.Fatalf("status %d, want 200 or 4xx; body %q", res.StatusCode, w.Body.Bytes())
		}
	})
}

// checkSetResponse checks a 200 response to a set-secret request: it names
// the secret and returns the value the request sent.
func checkSetResponse(t *testing.T, name string, reqBody, resBody []byte) {
	t.Helper()
	var sent struct {
		Value *string `json:"value"`
	}
	if err := json.Unmarshal(reqBody, &sent); err != nil || sent.Value == nil {
		t.Fatalf("200 for a request without a readable value: %q (%v)", reqBody, err)
	}
	var got struct {
		Value *string `json:"value"`
		ID    string  `json:"id"`
	}
	if err := json.Unmarshal(resBody, &got); err != nil {
		t.Fatalf("200 with a body that is not JSON: %q", resBody)
	}
	if got.Value == nil || *got.Value != *sent.Value {
		t.Errorf("returned value = %v, want %q", got.Value, *sent.Value)
	}
	// The id spells the name as the secret was first created, so compare
	// without regard to case.
	prefix := strings.ToLower("/secrets/" + name + "/")
	id := strings.ToLower(got.ID)
	if i := strings.Index(id, prefix); i < 0 || len(id)-i-len(prefix) != 32 {
		t.Errorf("id = %q, want it to end in %s followed by a 32-character version", got.ID, prefix)
	}
}

package identity

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage/bolt"
)

const (
	benchResource = "https://vault.localhost:8443"
	benchHost     = "localhost:8443"
)

// openBenchIdentity returns a token service on a bbolt store in a temporary
// directory, and the administrator principal it issues tokens to.
func openBenchIdentity(b *testing.B) (*Service, *Principal) {
	b.Helper()
	ctx := context.Background()
	store, err := bolt.Open(filepath.Join(b.TempDir(), "keyvault.db"), bolt.Options{})
	if err != nil {
		b.Fatalf("open store: %v", err)
	}
	b.Cleanup(func() {
		if err := store.Close(); err != nil {
			b.Errorf("close store: %v", err)
		}
	})

	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	root, err := seal.NewFileRootKey(raw)
	if err != nil {
		b.Fatalf("root key: %v", err)
	}

	creds, err := BootstrapAdmin(ctx, store, nil)
	if err != nil {
		b.Fatalf("bootstrap administrator: %v", err)
	}
	s, err := New(ctx, Options{
		Store: store, Keyring: seal.NewKeyring(store, root), TenantID: creds.TenantID,
		Resources:   []string{benchResource},
		HostAllowed: func(host string) bool { return host == benchHost },
	})
	if err != nil {
		b.Fatalf("new token service: %v", err)
	}
	p, err := lookupPrincipal(ctx, store, creds.ClientID)
	if err != nil || p == nil {
		b.Fatalf("look up administrator %s: principal %v, error %v", creds.ClientID, p, err)
	}
	return s, p
}

// BenchmarkVerifyToken verifies an access token as every vault request
// does: "cached" finds it in the verified-token cache, "uncached" checks the
// RS256 signature and claims and looks up the principal each time.
func BenchmarkVerifyToken(b *testing.B) {
	ctx := context.Background()
	s, p := openBenchIdentity(b)
	token, _, err := s.Issue(p, benchResource, benchHost)
	if err != nil {
		b.Fatalf("issue token: %v", err)
	}

	verify := func(b *testing.B) {
		b.Helper()
		caller, err := s.Verify(ctx, token)
		if err != nil {
			b.Fatalf("verify: %v", err)
		}
		if caller.ApplicationID != p.ClientID {
			b.Fatalf("verify: got application id %s, want %s", caller.ApplicationID, p.ClientID)
		}
	}

	b.Run("cached", func(b *testing.B) {
		verify(b) // fills the cache
		b.ReportAllocs()
		for b.Loop() {
			verify(b)
		}
	})

	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.mu.Lock()
			delete(s.cache, token)
			s.mu.Unlock()
			verify(b)
		}
	})
}

// BenchmarkIssueToken signs an access token, the work of one token request
// after the client secret has been checked.
func BenchmarkIssueToken(b *testing.B) {
	s, p := openBenchIdentity(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Issue(p, benchResource, benchHost); err != nil {
			b.Fatalf("issue token: %v", err)
		}
	}
}

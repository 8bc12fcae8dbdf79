package vault

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyvault/keyvault/internal/keys"
)

// memoryHSM is an HSM that keeps its keys in memory, so that tests can see
// which keys it holds. internal/server tests the PKCS#11 token itself.
type memoryHSM struct {
	mu   sync.Mutex
	keys map[string]*keys.Key
}

// Generate makes EC-HSM P-256 keys only, which is all the test needs.
func (m *memoryHSM) Generate(kty string, _ int, crv string, _ string) (*keys.Key, string, error) {
	if kty != "EC-HSM" || crv != "P-256" {
		return nil, "", fmt.Errorf("memoryHSM makes EC-HSM P-256 keys only, not %s %s", kty, crv)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	k, err := keys.FromHSMSigner(kty, priv)
	if err != nil {
		return nil, "", err
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	ref := hex.EncodeToString(id)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]*keys.Key{}
	}
	m.keys[ref] = k
	return k, ref, nil
}

func (m *memoryHSM) Load(ref string, _ *keys.JSONWebKey) (*keys.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys[ref], nil
}

func (m *memoryHSM) Destroy(ref, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, ref)
	return nil
}

func (m *memoryHSM) refs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.keys))
}

// TestPurgeDestroysHSMKeys checks that each way a key goes for good (purge,
// purge when retention ends, and the purge of its vault) deletes the HSM
// keys of all its versions, and only those, unless a backup names them.
func TestPurgeDestroysHSMKeys(t *testing.T) {
	ctx := context.Background()
	svc, clock := newTestService(t, mustOpenStore(t), mustRootKey(t))
	hsm := &memoryHSM{}
	svc.HSM = hsm
	set := VaultSettings{RetentionDays: 7, TenantID: "00000000-0000-0000-0000-000000000001", SKU: SKUPremium}
	create := func(vaultName string, names ...string) *Vault {
		t.Helper()
		v, _, err := svc.PutVault(ctx, "sub", "rg", vaultName, set, false, "test")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if _, err := svc.CreateKey(ctx, v, name, KeyParams{Kty: "EC-HSM", Curve: "P-256"}); err != nil {
				t.Fatal(err)
			}
		}
		return v
	}
	v := create("hsm-vault", "purged", "expired", "kept")
	if _, err := svc.RotateKey(ctx, v, "purged"); err != nil {
		t.Fatal(err)
	}
	other := create("other-vault", "a", "b")
	due := create("due-vault", "c")
	if got := len(hsm.refs()); got != 7 {
		t.Fatalf("the HSM holds %d keys after the setup, want 7", got)
	}

	if _, err := svc.DeleteKey(ctx, v, "purged"); err != nil {
		t.Fatal(err)
	}
	if err := svc.PurgeDeletedKey(ctx, v, "purged"); err != nil {
		t.Fatal(err)
	}
	if got := len(hsm.refs()); got != 5 {
		t.Errorf("the HSM holds %d keys after purging a key of two versions, want 5", got)
	}

	if _, err := svc.DeleteKey(ctx, v, "expired"); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteVault(ctx, "sub", "rg", due.Name); err != nil {
		t.Fatal(err)
	}
	clock.Set(clock.Now().Add(8 * 24 * time.Hour))
	if n, err := svc.PurgeDue(ctx); err != nil || n != 2 {
		t.Fatalf("PurgeDue = %d, %v; want the deleted key and the deleted vault", n, err)
	}
	if got := len(hsm.refs()); got != 3 {
		t.Errorf("the HSM holds %d keys after the retention of a deleted key and a deleted vault ended, want 3", got)
	}

	if err := svc.DeleteVault(ctx, "sub", "rg", other.Name); err != nil {
		t.Fatal(err)
	}
	if err := svc.PurgeDeletedVault(ctx, "sub", other.Name); err != nil {
		t.Fatal(err)
	}
	if got := len(hsm.refs()); got != 1 {
		t.Errorf("the HSM holds %d keys after purging a vault of two keys, want 1", got)
	}
	digest := make([]byte, 32)
	if _, err := svc.KeyOperation(ctx, v, "kept", "", OpSign, OpParams{Alg: "ES256", Value: digest}); err != nil {
		t.Errorf("the key that was not purged no longer signs: %v", err)
	}

	// A backup holds only the HSM key's reference, so a purge keeps the
	// HSM key of a key that was backed up, and the backup restores.
	if _, err := svc.CreateKey(ctx, v, "backed", KeyParams{Kty: "EC-HSM", Curve: "P-256"}); err != nil {
		t.Fatal(err)
	}
	blob, err := svc.BackupKey(ctx, v, "backed")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeleteKey(ctx, v, "backed"); err != nil {
		t.Fatal(err)
	}
	if err := svc.PurgeDeletedKey(ctx, v, "backed"); err != nil {
		t.Fatal(err)
	}
	if got := len(hsm.refs()); got != 2 {
		t.Errorf("the HSM holds %d keys after purging a key that was backed up, want 2", got)
	}
	if _, err := svc.RestoreKey(ctx, v, blob); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.KeyOperation(ctx, v, "backed", "", OpSign, OpParams{Alg: "ES256", Value: digest}); err != nil {
		t.Errorf("the restored key does not sign: %v", err)
	}
}

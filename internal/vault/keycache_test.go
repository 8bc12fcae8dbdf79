package vault

import (
	"context"
	"crypto/sha256"
	"testing"
)

// TestKeyOperationSeesChanges checks that the key cache never serves an
// operation that a change since the last operation forbids: each step runs
// an operation first, so the cache holds the key when the change is made.
func TestKeyOperationSeesChanges(t *testing.T) {
	ctx := context.Background()
	svc, clock := newTestService(t, mustOpenStore(t), mustRootKey(t))
	v := mustVault(t, svc, "cache-vault", 7, false)
	created, err := svc.CreateKey(ctx, v, "k", KeyParams{Kty: "EC", Curve: "P-256"})
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("cached"))
	sign := func(version string) (*OpResult, error) {
		return svc.KeyOperation(ctx, v, "K", version, OpSign, OpParams{Alg: "ES256", Value: digest[:]})
	}
	mustSign := func(step, version, wantVersion string) {
		t.Helper()
		res, err := sign(version)
		if err != nil {
			t.Fatalf("%s: sign: %v", step, err)
		}
		if res.Version != wantVersion {
			t.Fatalf("%s: signed with version %s, want %s", step, res.Version, wantVersion)
		}
	}
	first := created.Version
	mustSign("before any change", "", first)
	mustSign("before any change", first, first)

	off, on := false, true
	if _, err := svc.UpdateKey(ctx, v, "k", "", KeyUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	_, err = sign(first)
	wantError(t, "sign with a disabled key", err, KindForbidden, "Forbidden")
	if _, err := svc.UpdateKey(ctx, v, "k", "", KeyUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	mustSign("enabled again", first, first)

	verifyOnly := []string{OpVerify}
	if _, err := svc.UpdateKey(ctx, v, "k", first, KeyUpdate{KeyOps: &verifyOnly}); err != nil {
		t.Fatal(err)
	}
	_, err = sign("")
	wantError(t, "sign outside key_ops", err, KindForbidden, "Forbidden")
	all := []string{OpSign, OpVerify}
	if _, err := svc.UpdateKey(ctx, v, "k", first, KeyUpdate{KeyOps: &all}); err != nil {
		t.Fatal(err)
	}
	mustSign("sign back in key_ops", "", first)

	exp := clock.Now().Add(-1).Unix()
	if _, err := svc.UpdateKey(ctx, v, "k", "", KeyUpdate{Expires: &exp}); err != nil {
		t.Fatal(err)
	}
	_, err = sign("")
	wantError(t, "sign with an expired key", err, KindForbidden, "Forbidden")
	later := clock.Now().Add(24 * 3600 * 1e9).Unix()
	if _, err := svc.UpdateKey(ctx, v, "k", "", KeyUpdate{Expires: &later}); err != nil {
		t.Fatal(err)
	}
	mustSign("expiry moved", "", first)

	rotated, err := svc.RotateKey(ctx, v, "k")
	if err != nil {
		t.Fatal(err)
	}
	mustSign("after rotation, latest", "", rotated.Version)
	mustSign("after rotation, old version", first, first)

	if _, err := svc.DeleteKey(ctx, v, "k"); err != nil {
		t.Fatal(err)
	}
	_, err = sign("")
	wantError(t, "sign with a deleted key", err, KindNotFound, "KeyNotFound")
	_, err = sign(first)
	wantError(t, "sign with a version of a deleted key", err, KindNotFound, "KeyNotFound")
	if _, err := svc.RecoverDeletedKey(ctx, v, "k"); err != nil {
		t.Fatal(err)
	}
	mustSign("recovered", "", rotated.Version)

	if _, err := svc.DeleteKey(ctx, v, "k"); err != nil {
		t.Fatal(err)
	}
	if err := svc.PurgeDeletedKey(ctx, v, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateKey(ctx, v, "k", KeyParams{Kty: "EC", Curve: "P-256", KeyOps: []string{OpVerify}}); err != nil {
		t.Fatal(err)
	}
	_, err = sign("")
	wantError(t, "sign with a new key of the same name", err, KindForbidden, "Forbidden")
	_, err = sign(first)
	wantError(t, "sign with a version of the purged key", err, KindNotFound, "KeyNotFound")
}

// TestKeyOperationNonASCIIName checks that a cached key is not reached by a
// name that strings.ToLower maps onto its name: KELVIN SIGN (U+212A)
// lowers to k, but a key name may hold only ASCII letters, digits and
// hyphens.
func TestKeyOperationNonASCIIName(t *testing.T) {
	ctx := context.Background()
	svc, _ := newTestService(t, mustOpenStore(t), mustRootKey(t))
	v := mustVault(t, svc, "kelvin-vault", 7, false)
	if _, err := svc.CreateKey(ctx, v, "mykey", KeyParams{Kty: "EC", Curve: "P-256"}); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("kelvin"))
	sign := func(name string) error {
		_, err := svc.KeyOperation(ctx, v, name, "", OpSign, OpParams{Alg: "ES256", Value: digest[:]})
		return err
	}
	if err := sign("MyKey"); err != nil {
		t.Fatalf("sign with MyKey: %v", err)
	}
	wantError(t, "sign with my\u212aey after MyKey was cached", sign("my\u212aey"), KindNotFound, "KeyNotFound")
}

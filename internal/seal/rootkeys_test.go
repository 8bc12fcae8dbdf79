package seal_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
)

// cheapParams are Argon2id parameters small enough for unit tests.
func cheapParams(t *testing.T) *seal.PassphraseParams {
	t.Helper()
	p, err := seal.NewPassphraseParams()
	if err != nil {
		t.Fatal(err)
	}
	p.Time, p.MemoryKiB, p.Threads = 1, 64, 1
	return p
}

func TestPassphraseRootKey(t *testing.T) {
	params := cheapParams(t)
	key, err := seal.DerivePassphraseRootKey(params, "correct horse battery")
	if err != nil {
		t.Fatalf("derive with new params: %v", err)
	}
	if len(params.Check) != 32 {
		t.Fatalf("check value is %d bytes, want 32", len(params.Check))
	}
	if key.ID() != params.KeyID || !strings.HasPrefix(key.ID(), "passphrase:") {
		t.Errorf("ID = %q, want the params' key id %q with prefix passphrase:", key.ID(), params.KeyID)
	}
	aad := seal.AAD("datakey", "v1\x00id")
	wrapped, err := key.Wrap([]byte("data key"), aad)
	if err != nil {
		t.Fatal(err)
	}

	again, err := seal.DerivePassphraseRootKey(params, "correct horse battery")
	if err != nil {
		t.Fatalf("derive again: %v", err)
	}
	if got, err := again.Unwrap(wrapped, aad); err != nil || string(got) != "data key" {
		t.Errorf("Unwrap with the key derived again = %q, %v, want %q", got, err, "data key")
	}

	t.Run("WrongPassphrase", func(t *testing.T) {
		if _, err := seal.DerivePassphraseRootKey(params, "correct horse battery!"); !errors.Is(err, seal.ErrWrongPassphrase) {
			t.Errorf("derive with a wrong passphrase = %v, want %v", err, seal.ErrWrongPassphrase)
		}
	})
	t.Run("ShortNewPassphrase", func(t *testing.T) {
		_, err := seal.DerivePassphraseRootKey(cheapParams(t), "short")
		if err == nil || !strings.Contains(err.Error(), "at least 12 bytes") {
			t.Errorf("derive a new seal from a 5-byte passphrase = %v, want an error naming the 12-byte minimum", err)
		}
	})
	t.Run("OtherSalt", func(t *testing.T) {
		other := cheapParams(t)
		key2, err := seal.DerivePassphraseRootKey(other, "correct horse battery")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := key2.Unwrap(wrapped, aad); !errors.Is(err, seal.ErrDecrypt) {
			t.Errorf("Unwrap with the same passphrase and another salt = %v, want %v", err, seal.ErrDecrypt)
		}
	})
	t.Run("InvalidParams", func(t *testing.T) {
		tests := []struct {
			name   string
			change func(*seal.PassphraseParams)
		}{
			{name: "ShortSalt", change: func(p *seal.PassphraseParams) { p.Salt = p.Salt[:8] }},
			{name: "ZeroTime", change: func(p *seal.PassphraseParams) { p.Time = 0 }},
			{name: "ZeroThreads", change: func(p *seal.PassphraseParams) { p.Threads = 0 }},
			{name: "HugeMemory", change: func(p *seal.PassphraseParams) { p.MemoryKiB = 5 << 20 }},
			{name: "NoKeyID", change: func(p *seal.PassphraseParams) { p.KeyID = "" }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := cheapParams(t)
				tt.change(p)
				if _, err := seal.DerivePassphraseRootKey(p, "correct horse battery"); err == nil {
					t.Error("derive = nil error, want an error")
				}
			})
		}
	})
}

func TestRotationRootKeyKeyring(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	oldRoot := newRootKey(t)
	keyring := seal.NewKeyring(store, oldRoot)
	records := sealRecords(t, store, keyring, []string{"v1", "v2", seal.ServerScope}, 5)

	// Requests keep sealing and opening records while the root key
	// changes; none of them may fail.
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				scope := fmt.Sprintf("w%d-%d", w, i%3)
				s, err := keyring.Sealer(ctx, scope)
				if err != nil {
					errs <- err
					return
				}
				aad := seal.AAD("x", scope)
				rec, err := s.Seal([]byte("value"), aad)
				if err == nil {
					_, err = s.Open(rec, aad)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	newRoot := newRootKey(t)
	n, err := keyring.RotateRootKey(ctx, newRoot)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent seal during rotation: %v", err)
	}
	if err != nil {
		t.Fatalf("RotateRootKey: %v", err)
	}
	if n < 3 {
		t.Errorf("re-wrapped %d data keys, want at least 3", n)
	}
	if keyring.RootKeyID() != newRoot.ID() {
		t.Errorf("RootKeyID = %s, want %s", keyring.RootKeyID(), newRoot.ID())
	}

	// A restart with the new root key reads everything; the old one is
	// rejected.
	fresh := seal.NewKeyring(store, newRoot)
	if err := fresh.CheckRootKey(ctx); err != nil {
		t.Errorf("CheckRootKey with the new root key: %v", err)
	}
	if err := seal.NewKeyring(store, oldRoot).CheckRootKey(ctx); !errors.Is(err, seal.ErrWrongRootKey) {
		t.Errorf("CheckRootKey with the old root key = %v, want %v", err, seal.ErrWrongRootKey)
	}
	checkRecords(t, store, fresh, records)
	if _, err := keyring.RotateRootKey(ctx, newRoot); err == nil {
		t.Error("RotateRootKey to the key in use = nil error, want an error")
	}
}

func TestRotationDataKeysResume(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	root := newRootKey(t)
	keyring := seal.NewKeyring(store, root)
	records := sealRecords(t, store, keyring, []string{"v1", "v2"}, 7)
	before := recordKeyIDs(t, store)

	progress, err := keyring.RotateDataKeys(ctx, time.Unix(1000, 0))
	if err != nil {
		t.Fatalf("RotateDataKeys: %v", err)
	}
	if !progress.Running() || progress.Scopes != 2 {
		t.Fatalf("progress = %+v, want running over 2 scopes", progress)
	}
	if _, err := keyring.RotateDataKeys(ctx, time.Unix(1001, 0)); !errors.Is(err, seal.ErrRotationRunning) {
		t.Errorf("second RotateDataKeys while running = %v, want %v", err, seal.ErrRotationRunning)
	}
	// New records use the new key at once.
	sealer, err := keyring.Sealer(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := sealer.Seal([]byte("x"), seal.AAD("x"))
	if err != nil {
		t.Fatal(err)
	}
	if id := keyID(fresh); id == before["v1\x00r0"] {
		t.Errorf("a record sealed after rotation uses the old data key %s", id)
	}

	// Two batches of two records, then a "crash": the cursor is stored.
	buckets := []seal.SealedBucket{testBucket}
	if err := keyring.Reencrypt(ctx, buckets, seal.ReencryptOptions{BatchSize: 2, MaxBatches: 2}); err != nil {
		t.Fatalf("Reencrypt (interrupted): %v", err)
	}
	mid, err := keyring.Rotation(ctx)
	if err != nil || !mid.Running() {
		t.Fatalf("progress after 2 batches = %+v, %v, want running", mid, err)
	}
	if mid.Reencrypted != 4 || mid.Bucket != testBucket.Name || len(mid.After) == 0 {
		t.Errorf("progress after 2 batches = %+v, want 4 records re-encrypted and a cursor in %s", mid, testBucket.Name)
	}

	// A restarted keyring resumes from the cursor and finishes.
	restarted := seal.NewKeyring(store, root)
	if err := restarted.Reencrypt(ctx, buckets, seal.ReencryptOptions{BatchSize: 3}); err != nil {
		t.Fatalf("Reencrypt (resumed): %v", err)
	}
	done, err := restarted.Rotation(ctx)
	if err != nil || done.Running() {
		t.Fatalf("progress after resume = %+v, %v, want finished", done, err)
	}
	if done.Reencrypted != int64(len(records)) || done.Skipped != 0 {
		t.Errorf("re-encrypted %d records and skipped %d, want %d and 0", done.Reencrypted, done.Skipped, len(records))
	}
	after := recordKeyIDs(t, store)
	for key, id := range after {
		if id == before[key] {
			t.Errorf("record %q still uses data key %s", key, id)
		}
	}
	checkRecords(t, store, restarted, records)
	if err := restarted.Reencrypt(ctx, buckets, seal.ReencryptOptions{}); err != nil {
		t.Errorf("Reencrypt with no rotation running: %v", err)
	}
}

const recordBucket = "test-records"

// testBucket holds records keyed scope \x00 name, sealed with AAD(name).
var testBucket = seal.SealedBucket{Name: recordBucket, Locate: func(key []byte) (string, []byte, bool) {
	scope, name, ok := strings.Cut(string(key), "\x00")
	return scope, seal.AAD("record", name), ok
}}

// sealRecords stores n sealed records in each scope and returns their
// plaintexts by store key.
func sealRecords(t *testing.T, store storage.Store, keyring *seal.Keyring, scopes []string, n int) map[string]string {
	t.Helper()
	ctx := context.Background()
	records := map[string]string{}
	for _, scope := range scopes {
		s, err := keyring.Sealer(ctx, scope)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			name := fmt.Sprintf("r%d", i)
			value := scope + "/" + name
			rec, err := s.Seal([]byte(value), seal.AAD("record", name))
			if err != nil {
				t.Fatal(err)
			}
			key := scope + "\x00" + name
			if err := store.Update(ctx, func(tx storage.Tx) error { return tx.Put(recordBucket, []byte(key), rec) }); err != nil {
				t.Fatal(err)
			}
			records[key] = value
		}
	}
	return records
}

// checkRecords opens every record with keyring and compares it with want.
func checkRecords(t *testing.T, store storage.Store, keyring *seal.Keyring, want map[string]string) {
	t.Helper()
	ctx := context.Background()
	for key, value := range want {
		scope, name, _ := strings.Cut(key, "\x00")
		s, err := keyring.Sealer(ctx, scope)
		if err != nil {
			t.Fatal(err)
		}
		var rec []byte
		if err := store.View(ctx, func(tx storage.Tx) error {
			var err error
			rec, err = tx.Get(recordBucket, []byte(key))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Open(rec, seal.AAD("record", name))
		if err != nil || string(got) != value {
			t.Errorf("record %q = %q, %v, want %q", key, got, err, value)
		}
	}
}

// recordKeyIDs returns the data key id of every record by store key.
func recordKeyIDs(t *testing.T, store storage.Store) map[string]string {
	t.Helper()
	ids := map[string]string{}
	err := store.View(context.Background(), func(tx storage.Tx) error {
		return tx.Scan(recordBucket, nil, nil, func(k, v []byte) (bool, error) {
			ids[string(k)] = keyID(v)
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// keyID returns the data key id of a sealed record: format, id length, id.
func keyID(record []byte) string { return string(record[2 : 2+int(record[1])]) }

package seal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
	"github.com/keyvault/keyvault/internal/storage/bolt"
)

func TestRootKeyFileCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root.key")
	key, created, err := seal.LoadOrCreateFileRootKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateFileRootKey: %v", err)
	}
	if !created {
		t.Error("created = false for a new file, want true")
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %04o, want 0600", got)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	digits := strings.TrimSuffix(string(text), "\n")
	if len(digits) != 64 {
		t.Errorf("file holds %d characters, want 64 hexadecimal digits", len(digits))
	}
	if _, err := hex.DecodeString(digits); err != nil {
		t.Errorf("file content %q is not hexadecimal: %v", digits, err)
	}

	again, created, err := seal.LoadOrCreateFileRootKey(path)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if created {
		t.Error("created = true on reload, want false")
	}
	if again.ID() != key.ID() {
		t.Errorf("reloaded ID = %s, want %s", again.ID(), key.ID())
	}
	if !strings.HasPrefix(key.ID(), "file:") {
		t.Errorf("ID = %s, want the prefix file:", key.ID())
	}
	if strings.Contains(key.String(), digits) || strings.Contains(key.String(), digits[:16]) {
		t.Errorf("String() = %q reveals the key", key.String())
	}
}

func TestRootKeyFileRejected(t *testing.T) {
	valid := strings.Repeat("ab", 32) + "\n"
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    []string // substrings of the error
	}{
		{name: "GroupReadable", content: valid, mode: 0o644, want: []string{"0644", "chmod 600"}},
		{name: "GroupWritable", content: valid, mode: 0o620, want: []string{"0620"}},
		{name: "OthersReadable", content: valid, mode: 0o604, want: []string{"0604"}},
		{name: "Empty", content: "", mode: 0o600, want: []string{"64 hexadecimal digits"}},
		{name: "Short", content: strings.Repeat("ab", 31), mode: 0o600, want: []string{"64 hexadecimal digits"}},
		{name: "Long", content: strings.Repeat("ab", 33), mode: 0o600, want: []string{"64 hexadecimal digits"}},
		{name: "NotHex", content: strings.Repeat("zz", 32), mode: 0o600, want: []string{"64 hexadecimal digits"}},
		{name: "OddDigits", content: strings.Repeat("a", 63), mode: 0o600, want: []string{"64 hexadecimal digits"}},
		{name: "Base64", content: "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=", mode: 0o600, want: []string{"64 hexadecimal digits"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "root.key")
			if err := os.WriteFile(path, []byte(tt.content), tt.mode); err != nil {
				t.Fatal(err)
			}
			// WriteFile's mode is filtered by the umask.
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			key, _, err := seal.LoadOrCreateFileRootKey(path)
			if err == nil {
				t.Fatalf("LoadOrCreateFileRootKey = %v, nil error, want an error", key)
			}
			for _, want := range append(tt.want, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestRootKeyFileWhitespace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root.key")
	digits := strings.Repeat("0123456789abcdef", 4)
	if err := os.WriteFile(path, []byte("  "+digits+"\r\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key, created, err := seal.LoadOrCreateFileRootKey(path)
	if err != nil {
		t.Fatalf("LoadOrCreateFileRootKey: %v", err)
	}
	if created {
		t.Error("created = true for an existing file, want false")
	}
	raw, _ := hex.DecodeString(digits)
	want, err := seal.NewFileRootKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	if key.ID() != want.ID() {
		t.Errorf("ID = %s, want %s", key.ID(), want.ID())
	}
}

func TestNewFileRootKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := seal.NewFileRootKey(make([]byte, n)); err == nil {
			t.Errorf("NewFileRootKey(%d bytes): got nil error, want an error", n)
		}
	}
}

func TestWrapUnwrap(t *testing.T) {
	key := newRootKey(t)
	plain := []byte("data key material")
	aad := seal.AAD("datakey", "v1\x00id")
	wrapped, err := key.Wrap(plain, aad)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	if bytes.Contains(wrapped, plain) {
		t.Error("wrapped output contains the plaintext")
	}
	got, err := key.Unwrap(wrapped, aad)
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	if !bytes.Equal(got, plain) {
		t.Errorf("Unwrap = %q, want %q", got, plain)
	}
	again, err := key.Wrap(plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again, wrapped) {
		t.Error("two Wraps of the same plaintext are equal, want a fresh nonce each time")
	}

	t.Run("OtherAAD", func(t *testing.T) {
		_, err := key.Unwrap(wrapped, seal.AAD("datakey", "v2\x00id"))
		if !errors.Is(err, seal.ErrDecrypt) {
			t.Errorf("Unwrap with other AAD = %v, want %v", err, seal.ErrDecrypt)
		}
	})
	t.Run("FlippedByte", func(t *testing.T) {
		for i := range wrapped {
			changed := bytes.Clone(wrapped)
			changed[i] ^= 0x01
			if _, err := key.Unwrap(changed, aad); !errors.Is(err, seal.ErrDecrypt) {
				t.Errorf("Unwrap with byte %d flipped = %v, want %v", i, err, seal.ErrDecrypt)
			}
		}
	})
	t.Run("Truncated", func(t *testing.T) {
		for n := range len(wrapped) {
			if _, err := key.Unwrap(wrapped[:n], aad); !errors.Is(err, seal.ErrDecrypt) {
				t.Errorf("Unwrap of the first %d bytes = %v, want %v", n, err, seal.ErrDecrypt)
			}
		}
	})
	t.Run("OtherKey", func(t *testing.T) {
		if _, err := newRootKey(t).Unwrap(wrapped, aad); !errors.Is(err, seal.ErrDecrypt) {
			t.Errorf("Unwrap with another root key = %v, want %v", err, seal.ErrDecrypt)
		}
	})
}

func TestAADInjective(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
	}{
		{name: "SplitPoint", a: []string{"ab", "c"}, b: []string{"a", "bc"}},
		{name: "EmptyPart", a: []string{"a", ""}, b: []string{"a"}},
		{name: "NoParts", a: nil, b: []string{""}},
		{name: "EmptyFirst", a: []string{"", "a"}, b: []string{"a", ""}},
		{name: "JoinedWithZero", a: []string{"a\x00b"}, b: []string{"a", "b"}},
		{name: "LengthByte", a: []string{"\x01a"}, b: []string{"a", "a"}},
		{name: "Order", a: []string{"secret", "v", "n"}, b: []string{"secret", "n", "v"}},
		{name: "LongPart", a: []string{strings.Repeat("x", 200)}, b: []string{strings.Repeat("x", 199), "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := seal.AAD(tt.a...), seal.AAD(tt.b...)
			if bytes.Equal(a, b) {
				t.Errorf("AAD(%q) = AAD(%q) = %q, want different bytes", tt.a, tt.b, a)
			}
		})
	}
	if !bytes.Equal(seal.AAD("x", "y"), seal.AAD("x", "y")) {
		t.Error("AAD of equal parts differs between calls")
	}
}

func TestKeyringSealerStable(t *testing.T) {
	store := openStore(t)
	root := newRootKey(t)
	ctx := context.Background()

	first, err := seal.NewKeyring(store, root).Sealer(ctx, "v1")
	if err != nil {
		t.Fatalf("Sealer: %v", err)
	}
	aad := seal.AAD("secret", "v1", "name", "version")
	record, err := first.Seal([]byte("value"), aad)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if bytes.Contains(record, []byte("value")) {
		t.Error("record contains the plaintext")
	}

	keyring := seal.NewKeyring(store, root)
	second, err := keyring.Sealer(ctx, "v1")
	if err != nil {
		t.Fatalf("Sealer from a new keyring: %v", err)
	}
	got, err := second.Open(record, aad)
	if err != nil {
		t.Fatalf("Open with a new keyring: %v", err)
	}
	if string(got) != "value" {
		t.Errorf("Open = %q, want %q", got, "value")
	}
	if again, err := keyring.Sealer(ctx, "v1"); err != nil || again != second {
		t.Errorf("second Sealer call = %p, %v, want the cached sealer %p", again, err, second)
	}
	if n := countKeys(t, store, "datakeys"); n != 1 {
		t.Errorf("stored data keys = %d, want 1", n)
	}
	if err := keyring.CheckRootKey(ctx); err != nil {
		t.Errorf("CheckRootKey with the right key: %v", err)
	}
}

func TestKeyringScopesSeparate(t *testing.T) {
	keyring := seal.NewKeyring(openStore(t), newRootKey(t))
	ctx := context.Background()
	sealerOne, err := keyring.Sealer(ctx, "one")
	if err != nil {
		t.Fatal(err)
	}
	sealerTwo, err := keyring.Sealer(ctx, "two")
	if err != nil {
		t.Fatal(err)
	}
	aad := seal.AAD("secret", "name")
	record, err := sealerOne.Seal([]byte("value"), aad)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sealerTwo.Open(record, aad)
	if err == nil {
		t.Fatalf("Open in another scope = %q, nil error, want an error", got)
	}
	if !errors.Is(err, seal.ErrDecrypt) {
		t.Errorf("Open in another scope = %v, want %v", err, seal.ErrDecrypt)
	}
}

func TestSealerOpenRejects(t *testing.T) {
	keyring := seal.NewKeyring(openStore(t), newRootKey(t))
	sealer, err := keyring.Sealer(context.Background(), "v1")
	if err != nil {
		t.Fatal(err)
	}
	aad := seal.AAD("secret", "v1", "name", "version")
	record, err := sealer.Seal([]byte("value"), aad)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("OtherIdentity", func(t *testing.T) {
		for _, other := range [][]byte{
			seal.AAD("secret", "v1", "name", "other"),
			seal.AAD("secret", "v1", "other", "version"),
			seal.AAD("secret", "v2", "name", "version"),
			seal.AAD("key", "v1", "name", "version"),
			nil,
		} {
			if got, err := sealer.Open(record, other); !errors.Is(err, seal.ErrDecrypt) {
				t.Errorf("Open with AAD %q = %q, %v, want %v", other, got, err, seal.ErrDecrypt)
			}
		}
	})
	t.Run("FlippedByte", func(t *testing.T) {
		for i := range record {
			changed := bytes.Clone(record)
			changed[i] ^= 0x80
			if got, err := sealer.Open(changed, aad); !errors.Is(err, seal.ErrDecrypt) {
				t.Errorf("Open with byte %d flipped = %q, %v, want %v", i, got, err, seal.ErrDecrypt)
			}
		}
	})
	t.Run("Truncated", func(t *testing.T) {
		for n := range len(record) {
			if got, err := sealer.Open(record[:n], aad); !errors.Is(err, seal.ErrDecrypt) {
				t.Errorf("Open of the first %d bytes = %q, %v, want %v", n, got, err, seal.ErrDecrypt)
			}
		}
	})
	t.Run("Extended", func(t *testing.T) {
		if got, err := sealer.Open(append(bytes.Clone(record), 0), aad); !errors.Is(err, seal.ErrDecrypt) {
			t.Errorf("Open with a byte appended = %q, %v, want %v", got, err, seal.ErrDecrypt)
		}
	})
}

func TestCheckRootKeyWrongKey(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	right := seal.NewKeyring(store, newRootKey(t))
	for _, scope := range []string{"v1", "v2", seal.ServerScope} {
		if _, err := right.Sealer(ctx, scope); err != nil {
			t.Fatal(err)
		}
	}
	before := dump(t, store)

	wrongKey := newRootKey(t)
	wrong := seal.NewKeyring(store, wrongKey)
	err := wrong.CheckRootKey(ctx)
	if !errors.Is(err, seal.ErrWrongRootKey) {
		t.Fatalf("CheckRootKey with another root key = %v, want %v", err, seal.ErrWrongRootKey)
	}
	if !strings.Contains(err.Error(), wrongKey.ID()) || !strings.Contains(err.Error(), right.RootKeyID()) {
		t.Errorf("error %q does not name both root key ids %s and %s", err, wrongKey.ID(), right.RootKeyID())
	}
	if _, err := wrong.Sealer(ctx, "v1"); !errors.Is(err, seal.ErrWrongRootKey) {
		t.Errorf("Sealer with another root key = %v, want %v", err, seal.ErrWrongRootKey)
	}
	if after := dump(t, store); after != before {
		t.Errorf("store changed by the wrong root key:\nbefore %s\nafter  %s", before, after)
	}
	if err := right.CheckRootKey(ctx); err != nil {
		t.Errorf("CheckRootKey with the right key afterwards: %v", err)
	}
}

func TestCheckRootKeySameID(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	right := newRootKey(t)
	if _, err := seal.NewKeyring(store, right).Sealer(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	// A root key that claims the right id but holds another key must still
	// be caught, by the unwrap check.
	impostor := idRootKey{RootKey: newRootKey(t), id: right.ID()}
	err := seal.NewKeyring(store, impostor).CheckRootKey(ctx)
	if !errors.Is(err, seal.ErrWrongRootKey) {
		t.Errorf("CheckRootKey with a same-id impostor = %v, want %v", err, seal.ErrWrongRootKey)
	}
}

func TestCheckRootKeyEmptyStore(t *testing.T) {
	if err := seal.NewKeyring(openStore(t), newRootKey(t)).CheckRootKey(context.Background()); err != nil {
		t.Errorf("CheckRootKey on an empty store: %v", err)
	}
}

func TestDeleteScopeKeys(t *testing.T) {
	store := openStore(t)
	root := newRootKey(t)
	ctx := context.Background()
	keyring := seal.NewKeyring(store, root)
	deletedSealer, err := keyring.Sealer(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	keptSealer, err := keyring.Sealer(ctx, "gone2")
	if err != nil {
		t.Fatal(err)
	}
	aad := seal.AAD("x")
	goneRecord, _ := deletedSealer.Seal([]byte("a"), aad)
	keptRecord, _ := keptSealer.Seal([]byte("b"), aad)

	if err := store.Update(ctx, func(tx storage.Tx) error { return seal.DeleteScopeKeys(tx, "gone") }); err != nil {
		t.Fatalf("DeleteScopeKeys: %v", err)
	}
	keyring.Forget("gone")

	fresh := seal.NewKeyring(store, root)
	newGone, err := fresh.Sealer(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := newGone.Open(goneRecord, aad); err == nil {
		t.Errorf("Open after DeleteScopeKeys = %q, nil error, want an error", got)
	}
	newKept, err := fresh.Sealer(ctx, "gone2")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := newKept.Open(keptRecord, aad); err != nil || string(got) != "b" {
		t.Errorf("Open in scope gone2 = %q, %v, want %q: the scope shares a prefix with the deleted one", got, err, "b")
	}
}

// idRootKey is a root key that reports another key's id.
type idRootKey struct {
	seal.RootKey
	id string
}

func (k idRootKey) ID() string { return k.id }

func newRootKey(t testing.TB) *seal.FileRootKey {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	key, err := seal.NewFileRootKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func openStore(t testing.TB) storage.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "store.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func countKeys(t *testing.T, s storage.Store, bucket string) int {
	t.Helper()
	n := 0
	err := s.View(context.Background(), func(tx storage.Tx) error {
		return tx.Scan(bucket, nil, nil, func(_, _ []byte) (bool, error) { n++; return true, nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// dump renders the keyring's buckets for comparison.
func dump(t *testing.T, s storage.Store) string {
	t.Helper()
	var b strings.Builder
	err := s.View(context.Background(), func(tx storage.Tx) error {
		for _, bucket := range []string{"datakeys", "datakeys-current"} {
			err := tx.Scan(bucket, nil, nil, func(k, v []byte) (bool, error) {
				b.WriteString(bucket + " " + hex.EncodeToString(k) + "=" + hex.EncodeToString(v) + "\n")
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// FuzzOpenRecord checks that Sealer.Open never panics and returns plaintext
// only for a record that Seal made, opened with the AAD it was sealed with.
func FuzzOpenRecord(f *testing.F) {
	keyring := seal.NewKeyring(openStore(f), newRootKey(f))
	sealer, err := keyring.Sealer(context.Background(), "v1")
	if err != nil {
		f.Fatal(err)
	}
	type sealed struct{ record, aad, plain []byte }
	var genuine []sealed
	for _, plain := range []string{"", "value", strings.Repeat("long value ", 100)} {
		aad := seal.AAD("secret", "v1", plain)
		record, err := sealer.Seal([]byte(plain), aad)
		if err != nil {
			f.Fatal(err)
		}
		genuine = append(genuine, sealed{record: record, aad: aad, plain: []byte(plain)})
	}

	for _, g := range genuine {
		f.Add(g.record, g.aad)
		f.Add(g.record, seal.AAD("secret", "v2", string(g.plain)))
		f.Add(g.record[:len(g.record)-1], g.aad)
		f.Add(append(bytes.Clone(g.record), 0), g.aad)
		flipped := bytes.Clone(g.record)
		flipped[len(flipped)/2] ^= 1
		f.Add(flipped, g.aad)
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1}, []byte{})
	f.Add([]byte{1, 0}, []byte{})
	f.Add([]byte{1, 255, 'a'}, []byte{})
	f.Add([]byte{1, 16}, []byte{})
	f.Add([]byte{2, 16, 'a', 'b'}, []byte{})

	f.Fuzz(func(t *testing.T, record, aad []byte) {
		plain, err := sealer.Open(record, aad)
		if err != nil {
			if !errors.Is(err, seal.ErrDecrypt) {
				t.Errorf("Open error = %v, want it to wrap %v", err, seal.ErrDecrypt)
			}
			if plain != nil {
				t.Errorf("Open returned plaintext %q with error %v", plain, err)
			}
			return
		}
		for _, g := range genuine {
			if bytes.Equal(record, g.record) && bytes.Equal(aad, g.aad) {
				if !bytes.Equal(plain, g.plain) {
					t.Errorf("Open = %q, want %q", plain, g.plain)
				}
				return
			}
		}
		t.Errorf("Open accepted a record Seal did not make: record %x, aad %x, plaintext %q", record, aad, plain)
	})
}

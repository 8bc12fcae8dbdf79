package seal

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyvault/keyvault/internal/storage"
)

// Storage buckets of the keyring.
const (
	bucketDataKeys = "datakeys"         // scope \x00 key id -> wrappedKey (JSON)
	bucketCurrent  = "datakeys-current" // scope -> id of the key that seals new records
)

// recordFormat is the first byte of every sealed record.
const recordFormat = 1

// ErrWrongRootKey is returned when the store's data keys were wrapped by a
// root key other than the one loaded.
var ErrWrongRootKey = errors.New("seal: the store was sealed with a different root key")

// AAD builds additional authenticated data from the parts that identify a
// record (its kind, vault, name, version). Each part is length-prefixed, so
// no two different part lists produce the same bytes.
func AAD(parts ...string) []byte {
	b := make([]byte, 0, 64)
	b = append(b, "keyvault-aad-v1"...)
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// wrappedKey is the stored form of a data key.
type wrappedKey struct {
	RootKeyID string `json:"rootKeyId"`
	Wrapped   []byte `json:"wrapped"`
	Created   int64  `json:"created"`
}

// Keyring holds the unwrapped data keys of every scope (a vault, or the
// server itself) that has been used since start.
type Keyring struct {
	store storage.Store
	root  RootKey

	mu      sync.RWMutex
	sealers map[string]*Sealer
}

// NewKeyring returns a keyring that keeps data keys in store, wrapped by root.
func NewKeyring(store storage.Store, root RootKey) *Keyring {
	return &Keyring{store: store, root: root, sealers: make(map[string]*Sealer)}
}

// RootKeyID returns the id of the root key in use.
func (k *Keyring) RootKeyID() string { return k.rootKey().ID() }

// rootKey returns the root key in use; RotateRootKey replaces it.
func (k *Keyring) rootKey() RootKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.root
}

// CheckRootKey verifies that every stored data key was wrapped by the loaded
// root key and that one of them unwraps. It returns ErrWrongRootKey (wrapped
// with the ids involved) otherwise, and changes nothing.
func (k *Keyring) CheckRootKey(ctx context.Context) error {
	root := k.rootKey()
	return k.store.View(ctx, func(tx storage.Tx) error {
		checked := false
		return tx.Scan(bucketDataKeys, nil, nil, func(key, value []byte) (bool, error) {
			var w wrappedKey
			if err := json.Unmarshal(value, &w); err != nil {
				return false, fmt.Errorf("data key %q: %w", key, err)
			}
			if w.RootKeyID != root.ID() {
				return false, fmt.Errorf("%w: data keys are wrapped by root key %s, the loaded root key is %s",
					ErrWrongRootKey, w.RootKeyID, root.ID())
			}
			if !checked {
				if _, err := root.Unwrap(w.Wrapped, AAD("datakey", string(key))); err != nil {
					return false, fmt.Errorf("%w: root key %s does not unwrap data key %q", ErrWrongRootKey, root.ID(), key)
				}
				checked = true
			}
			return true, nil
		})
	})
}

// Sealer returns the sealer of scope, creating the scope's first data key if
// it has none.
func (k *Keyring) Sealer(ctx context.Context, scope string) (*Sealer, error) {
	k.mu.RLock()
	s := k.sealers[scope]
	k.mu.RUnlock()
	if s != nil {
		return s, nil
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	if s := k.sealers[scope]; s != nil {
		return s, nil
	}
	if err := k.ensureDataKey(ctx, scope); err != nil {
		return nil, err
	}
	s, err := k.load(ctx, scope)
	if err != nil {
		return nil, err
	}
	k.sealers[scope] = s
	return s, nil
}

// Forget drops the scope's keys from memory, as when its vault is purged.
func (k *Keyring) Forget(scope string) {
	k.mu.Lock()
	delete(k.sealers, scope)
	k.mu.Unlock()
}

// DeleteScopeKeys removes the data keys of scope inside tx. Records sealed
// under them can never be read again.
func DeleteScopeKeys(tx storage.Tx, scope string) error {
	var keys [][]byte
	err := tx.Scan(bucketDataKeys, append([]byte(scope), 0), nil, func(key, _ []byte) (bool, error) {
		keys = append(keys, bytes.Clone(key))
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, key := range keys {
		if err := tx.Delete(bucketDataKeys, key); err != nil {
			return err
		}
	}
	return tx.Delete(bucketCurrent, []byte(scope))
}

func (k *Keyring) ensureDataKey(ctx context.Context, scope string) error {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	idBytes := make([]byte, 8)
	if _, err := rand.Read(idBytes); err != nil {
		return err
	}
	id := hex.EncodeToString(idBytes)
	storeKey := scope + "\x00" + id
	wrapped, err := k.root.Wrap(raw, AAD("datakey", storeKey))
	if err != nil {
		return fmt.Errorf("wrap data key: %w", err)
	}
	value, err := json.Marshal(wrappedKey{RootKeyID: k.root.ID(), Wrapped: wrapped, Created: time.Now().Unix()})
	if err != nil {
		return err
	}
	return k.store.Update(ctx, func(tx storage.Tx) error {
		cur, err := tx.Get(bucketCurrent, []byte(scope))
		if err != nil || cur != nil {
			return err
		}
		if err := tx.Put(bucketDataKeys, []byte(storeKey), value); err != nil {
			return err
		}
		return tx.Put(bucketCurrent, []byte(scope), []byte(id))
	})
}

func (k *Keyring) load(ctx context.Context, scope string) (*Sealer, error) {
	s := &Sealer{scope: scope, keys: make(map[string]cipher.AEAD)}
	err := k.store.View(ctx, func(tx storage.Tx) error {
		cur, err := tx.Get(bucketCurrent, []byte(scope))
		if err != nil {
			return err
		}
		s.current = string(cur)
		return tx.Scan(bucketDataKeys, append([]byte(scope), 0), nil, func(key, value []byte) (bool, error) {
			var w wrappedKey
			if err := json.Unmarshal(value, &w); err != nil {
				return false, fmt.Errorf("data key %q: %w", key, err)
			}
			if w.RootKeyID != k.root.ID() {
				return false, fmt.Errorf("%w: data key of %q is wrapped by root key %s, the loaded root key is %s",
					ErrWrongRootKey, scope, w.RootKeyID, k.root.ID())
			}
			raw, err := k.root.Unwrap(w.Wrapped, AAD("datakey", string(key)))
			if err != nil {
				return false, fmt.Errorf("%w: unwrap data key of %q", ErrWrongRootKey, scope)
			}
			aead, err := newGCM(raw)
			if err != nil {
				return false, err
			}
			s.keys[string(key[len(scope)+1:])] = aead
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	if s.keys[s.current] == nil {
		return nil, fmt.Errorf("seal: current data key %q of %q is missing", s.current, scope)
	}
	return s, nil
}

func newGCM(raw []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Sealer encrypts and decrypts the records of one scope. It is safe for
// concurrent use.
type Sealer struct {
	scope   string
	current string
	keys    map[string]cipher.AEAD
}

// Seal encrypts plaintext under the scope's current data key with AES-256-GCM
// and a random 96-bit nonce. The record is
//
//	format (1 byte) | len(key id) (1 byte) | key id | nonce (12) | ciphertext | tag (16)
//
// so that Open finds the key that sealed it after keys rotate.
//
// NOTE: random nonces are safe for about 2^32 records per data key (NIST SP
// 800-38D, section 8.3); data-key rotation must happen well before that.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	aead := s.keys[s.current]
	out := make([]byte, 0, 2+len(s.current)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, recordFormat, byte(len(s.current)))
	out = append(out, s.current...)
	body, err := gcmSeal(aead, plaintext, aad)
	if err != nil {
		return nil, err
	}
	return append(out, body...), nil
}

// Open decrypts a record made by Seal. Every error it returns wraps
// ErrDecrypt: the record was changed, aad does not match the one it was
// sealed with, or no data key of this scope sealed it.
func (s *Sealer) Open(record, aad []byte) ([]byte, error) {
	if len(record) < 2 || record[0] != recordFormat || len(record) < 2+int(record[1]) {
		return nil, fmt.Errorf("%w: unknown record format", ErrDecrypt)
	}
	id := string(record[2 : 2+int(record[1])])
	aead := s.keys[id]
	if aead == nil {
		return nil, fmt.Errorf("%w: record sealed by unknown data key %q of %q", ErrDecrypt, id, s.scope)
	}
	return gcmOpen(aead, record[2+int(record[1]):], aad)
}

// ServerScope is the keyring scope of server-wide records such as the backup
// key and the token-signing key. Vault names cannot contain "_", so it never
// clashes with a vault.
const ServerScope = "_server"

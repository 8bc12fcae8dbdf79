// Package seal encrypts everything KeyVault writes to storage.
//
// Three layers of keys protect a record:
//
//   - The root key (a [RootKey]) never touches storage. It wraps data keys.
//   - Each vault has data keys, stored wrapped by the root key. A [Keyring]
//     unwraps them on first use and keeps them in memory.
//   - A [Sealer] encrypts records with the vault's current data key using
//     AES-256-GCM, binding each record to its identity through the
//     additional authenticated data (see [AAD]).
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// RootKey wraps and unwraps data keys. Implementations may keep the key in a
// file, derive it from a passphrase or hold it in an HSM.
type RootKey interface {
	// ID identifies the key without revealing it. It is stored beside every
	// data key the root key wraps, so a store opened with another root key
	// is detected before any decryption is tried.
	ID() string
	// Wrap encrypts plaintext, authenticating aad with it.
	Wrap(plaintext, aad []byte) ([]byte, error)
	// Unwrap reverses Wrap. It fails if ciphertext or aad was changed or the
	// key is not the one that wrapped it.
	Unwrap(ciphertext, aad []byte) ([]byte, error)
}

// FileRootKey is a 256-bit AES key kept in a file of 64 hexadecimal digits.
type FileRootKey struct {
	id   string
	aead cipher.AEAD
}

var _ RootKey = (*FileRootKey)(nil)

// LoadOrCreateFileRootKey reads the root key file at path, creating it with
// a new random key (mode 0600) if it does not exist. It rejects a file that
// group or others can read, because anyone who reads it can read the store.
func LoadOrCreateFileRootKey(path string) (key *FileRootKey, created bool, err error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, false, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("create root key file: %w", err)
		}
		_, werr := f.WriteString(hex.EncodeToString(raw) + "\n")
		serr := f.Sync()
		cerr := f.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			return nil, false, fmt.Errorf("write root key file %s: %w", path, err)
		}
		k, err := NewFileRootKey(raw)
		return k, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("root key file: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("root key file %s has mode %04o: it must not be readable by group or others (run chmod 600 %s)",
			path, info.Mode().Perm(), path)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("read root key file: %w", err)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil || len(raw) != 32 {
		return nil, false, fmt.Errorf("root key file %s is invalid: it must hold 64 hexadecimal digits (a 256-bit key)", path)
	}
	k, err := NewFileRootKey(raw)
	return k, false, err
}

// WriteNewFileRootKey writes a new random root key to path atomically with
// mode 0600, replacing any file there, and returns it. Root-key rotation
// writes the next key beside the current one with it.
func WriteNewFileRootKey(path string) (*FileRootKey, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, []byte(hex.EncodeToString(raw)+"\n")); err != nil {
		return nil, fmt.Errorf("write root key file %s: %w", path, err)
	}
	return NewFileRootKey(raw)
}

// NewFileRootKey returns a root key for the 32-byte key raw.
func NewFileRootKey(raw []byte) (*FileRootKey, error) {
	if len(raw) != 32 {
		return nil, fmt.Errorf("root key must be 32 bytes, got %d", len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	// The id is a truncated hash under a domain-separation label: it
	// distinguishes keys without revealing anything usable about the key.
	sum := sha256.Sum256(append([]byte("keyvault root key id\x00"), raw...))
	return &FileRootKey{id: "file:" + hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// ID implements RootKey.
func (k *FileRootKey) ID() string { return k.id }

// Wrap implements RootKey with AES-256-GCM and a random 96-bit nonce.
func (k *FileRootKey) Wrap(plaintext, aad []byte) ([]byte, error) {
	return gcmSeal(k.aead, plaintext, aad)
}

// Unwrap implements RootKey.
func (k *FileRootKey) Unwrap(ciphertext, aad []byte) ([]byte, error) {
	return gcmOpen(k.aead, ciphertext, aad)
}

// String keeps the key out of logs and formatted errors.
func (k *FileRootKey) String() string { return "FileRootKey(" + k.id + ")" }

func gcmSeal(aead cipher.AEAD, plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return aead.Seal(out, out, plaintext, aad), nil
}

// ErrDecrypt is returned when a ciphertext fails authentication: it was
// changed, bound to another identity, or sealed under another key.
var ErrDecrypt = errors.New("seal: message authentication failed")

func gcmOpen(aead cipher.AEAD, ciphertext, aad []byte) ([]byte, error) {
	n := aead.NonceSize()
	if len(ciphertext) < n+aead.Overhead() {
		return nil, ErrDecrypt
	}
	out, err := aead.Open(nil, ciphertext[:n], ciphertext[n:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}

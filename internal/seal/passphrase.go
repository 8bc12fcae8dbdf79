package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters of new passphrase root keys: the second recommended
// option of RFC 9106, section 4 (t = 3, m = 64 MiB, p = 4), which costs
// about a quarter of a second per derivation on one core of a laptop.
const (
	DefaultArgon2Time      = 3
	DefaultArgon2MemoryKiB = 64 * 1024
	DefaultArgon2Threads   = 4
)

// minPassphraseLen is the shortest passphrase accepted for a new seal. Argon2
// slows guessing but cannot save a short passphrase.
const minPassphraseLen = 12

// ErrWrongPassphrase is returned when a passphrase does not derive the root
// key that seal.json records.
var ErrWrongPassphrase = errors.New("seal: wrong passphrase")

// PassphraseParams are the stored parameters of a passphrase root key: the
// Argon2id salt and costs, the key id and a check value that distinguishes a
// wrong passphrase from the right one before any data key is tried. None of them is
// secret, but the check value lets whoever reads it test guesses offline at
// Argon2id's cost, as the wrapped data keys in the store already do.
type PassphraseParams struct {
	Salt      []byte `json:"salt"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memoryKiB"`
	Threads   uint8  `json:"threads"`
	KeyID     string `json:"keyId"`
	Check     []byte `json:"check"`
}

// NewPassphraseParams returns parameters for a new passphrase root key: a
// random 128-bit salt and key id, the default costs, and no check value yet
// (DerivePassphraseRootKey sets it).
func NewPassphraseParams() (*PassphraseParams, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return &PassphraseParams{
		Salt: salt, Time: DefaultArgon2Time, MemoryKiB: DefaultArgon2MemoryKiB, Threads: DefaultArgon2Threads,
		KeyID: "passphrase:" + hex.EncodeToString(id),
	}, nil
}

// PassphraseRootKey is a root key derived from a passphrase with Argon2id.
type PassphraseRootKey struct {
	id   string
	aead cipher.AEAD
}

var _ RootKey = (*PassphraseRootKey)(nil)

// DerivePassphraseRootKey derives the root key of params from passphrase. If
// params has no check value yet, it is a new seal: the passphrase must be at
// least 12 bytes long, and the check value is set in params. Otherwise a
// passphrase that does not match the check value returns ErrWrongPassphrase.
func DerivePassphraseRootKey(params *PassphraseParams, passphrase string) (*PassphraseRootKey, error) {
	if err := params.validate(); err != nil {
		return nil, err
	}
	if passphrase == "" {
		return nil, errors.New("seal: the passphrase is empty")
	}
	if len(params.Check) == 0 && len(passphrase) < minPassphraseLen {
		return nil, fmt.Errorf("seal: a new passphrase must be at least %d bytes long, got %d", minPassphraseLen, len(passphrase))
	}
	raw := argon2.IDKey([]byte(passphrase), params.Salt, params.Time, params.MemoryKiB, params.Threads, 32)
	check := passphraseCheck(raw)
	if len(params.Check) == 0 {
		params.Check = check
	} else if !hmac.Equal(check, params.Check) {
		return nil, ErrWrongPassphrase
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &PassphraseRootKey{id: params.KeyID, aead: aead}, nil
}

// passphraseCheck is an HMAC of a fixed label under the derived key: it
// reveals nothing about the key, and only the right key reproduces it.
func passphraseCheck(key []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("keyvault passphrase check v1"))
	return mac.Sum(nil)
}

func (p *PassphraseParams) validate() error {
	switch {
	case len(p.Salt) < 16:
		return fmt.Errorf("seal: passphrase parameters: the salt must be at least 16 bytes, got %d", len(p.Salt))
	case p.Time < 1 || p.Threads < 1 || p.MemoryKiB < 8*uint32(p.Threads):
		return fmt.Errorf("seal: passphrase parameters: invalid Argon2id costs time=%d memoryKiB=%d threads=%d", p.Time, p.MemoryKiB, p.Threads)
	case p.MemoryKiB > 4*1024*1024:
		return fmt.Errorf("seal: passphrase parameters: memoryKiB %d is above the 4 GiB limit", p.MemoryKiB)
	case p.KeyID == "":
		return errors.New("seal: passphrase parameters: the key id is missing")
	}
	return nil
}

// ID implements RootKey.
func (k *PassphraseRootKey) ID() string { return k.id }

// Wrap implements RootKey with AES-256-GCM and a random 96-bit nonce.
func (k *PassphraseRootKey) Wrap(plaintext, aad []byte) ([]byte, error) {
	return gcmSeal(k.aead, plaintext, aad)
}

// Unwrap implements RootKey.
func (k *PassphraseRootKey) Unwrap(ciphertext, aad []byte) ([]byte, error) {
	return gcmOpen(k.aead, ciphertext, aad)
}

// String keeps the key out of logs and formatted errors.
func (k *PassphraseRootKey) String() string { return "PassphraseRootKey(" + k.id + ")" }

//go:build cgo

package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// PKCS11Available reports whether this binary was built with PKCS#11
// support, which needs cgo.
const PKCS11Available = true

// PKCS11Token is a logged-in session pool on one PKCS#11 token. It is safe
// for concurrent use.
type PKCS11Token struct {
	ctx        *crypto11.Context
	tokenLabel string
}

// OpenPKCS11 loads the module of cfg, finds the token by label and logs in
// with the PIN. Its errors name the module or token and what to check.
// None of them has changed anything on the token.
func OpenPKCS11(cfg PKCS11Config) (*PKCS11Token, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.Module); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("PKCS#11 module %s not found: set KEYVAULT_PKCS11_MODULE to the path of the token's library", cfg.Module)
	}
	ctx, err := crypto11.Configure(&crypto11.Config{
		Path: cfg.Module, TokenLabel: cfg.TokenLabel, Pin: cfg.PIN,
		// AES-GCM with the 96-bit nonce of NIST SP 800-38D, as the other
		// root keys use (crypto11 defaults to 128 bits).
		GCMIVLength: 12,
	})
	if err != nil {
		return nil, pkcs11OpenError(cfg, err)
	}
	return &PKCS11Token{ctx: ctx, tokenLabel: cfg.TokenLabel}, nil
}

// pkcs11OpenError turns the errors of crypto11.Configure into messages that
// name what to fix.
func pkcs11OpenError(cfg PKCS11Config, err error) error {
	var code pkcs11.Error
	if errors.As(err, &code) {
		switch code {
		case pkcs11.CKR_PIN_INCORRECT:
			return fmt.Errorf("PKCS#11 login to token %q failed: wrong PIN (check KEYVAULT_PKCS11_PIN or KEYVAULT_PKCS11_PIN_FILE)", cfg.TokenLabel)
		case pkcs11.CKR_PIN_LOCKED:
			return fmt.Errorf("PKCS#11 login to token %q failed: the PIN is locked; unlock it with the token's security officer PIN", cfg.TokenLabel)
		case pkcs11.CKR_PIN_LEN_RANGE:
			return fmt.Errorf("PKCS#11 login to token %q failed: the PIN has a length the token does not accept", cfg.TokenLabel)
		}
	}
	if err.Error() == "could not find PKCS#11 token" {
		return fmt.Errorf("PKCS#11 token %q not found in module %s: check KEYVAULT_PKCS11_TOKEN_LABEL and that the token is initialized", cfg.TokenLabel, cfg.Module)
	}
	return fmt.Errorf("PKCS#11 module %s, token %q: %w", cfg.Module, cfg.TokenLabel, err)
}

// Close logs out and releases the module once no other token of this
// process uses it.
func (t *PKCS11Token) Close() error { return t.ctx.Close() }

// TokenLabel returns the label of the token.
func (t *PKCS11Token) TokenLabel() string { return t.tokenLabel }

// PKCS11RootKey is a root key whose AES-256 key is a sensitive,
// non-extractable object of a PKCS#11 token. Wrap and Unwrap run AES-GCM
// inside the token, so the key never reaches this process.
type PKCS11RootKey struct {
	id    string
	label string
	key   *crypto11.SecretKey
	aead  cipher.AEAD
}

var _ RootKey = (*PKCS11RootKey)(nil)

// RootKey finds the AES key labelled label in the token. If there is none
// and create is true, it generates one (created is then true); if there is
// none and create is false, it fails. More than one key with the label is an
// error, because the data keys could be wrapped by either.
func (t *PKCS11Token) RootKey(label string, create bool) (key *PKCS11RootKey, created bool, err error) {
	if label == "" {
		return nil, false, errors.New("the PKCS#11 key label is empty: set KEYVAULT_PKCS11_KEY_LABEL")
	}
	found, err := t.ctx.FindKeys(nil, []byte(label))
	if err != nil {
		return nil, false, fmt.Errorf("find key %q in PKCS#11 token %q: %w", label, t.tokenLabel, err)
	}
	var secret *crypto11.SecretKey
	switch {
	case len(found) > 1:
		return nil, false, fmt.Errorf("PKCS#11 token %q has %d keys labelled %q: delete the extra ones or choose another KEYVAULT_PKCS11_KEY_LABEL", t.tokenLabel, len(found), label)
	case len(found) == 1:
		secret = found[0]
	case !create:
		return nil, false, fmt.Errorf("PKCS#11 token %q has no key labelled %q", t.tokenLabel, label)
	default:
		if secret, err = t.generateAESKey(label, 256); err != nil {
			return nil, false, fmt.Errorf("create root key %q in PKCS#11 token %q: %w", label, t.tokenLabel, err)
		}
		created = true
	}
	aead, err := secret.NewGCM()
	if err != nil {
		return nil, false, fmt.Errorf("root key %q in PKCS#11 token %q: %w", label, t.tokenLabel, err)
	}
	return &PKCS11RootKey{id: "pkcs11:" + label, label: label, key: secret, aead: aead}, created, nil
}

// generateAESKey creates an AES key of bits bits in the token as a private,
// sensitive, non-extractable token object with a random CKA_ID.
func (t *PKCS11Token) generateAESKey(label string, bits int) (*crypto11.SecretKey, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return t.generateAESKeyWithID(id, label, bits)
}

// Label returns the token label of the key.
func (k *PKCS11RootKey) Label() string { return k.label }

// ID implements RootKey.
func (k *PKCS11RootKey) ID() string { return k.id }

// Wrap implements RootKey with AES-256-GCM in the token and a random 96-bit
// nonce chosen here.
func (k *PKCS11RootKey) Wrap(plaintext, aad []byte) (out []byte, err error) {
	// crypto11's AEAD panics when the token fails, because cipher.AEAD's
	// Seal has no error result.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("seal: PKCS#11 encryption with key %q failed: %v", k.label, r)
		}
	}()
	return gcmSeal(k.aead, plaintext, aad)
}

// Unwrap implements RootKey. A failure of the token itself is reported as
// ErrDecrypt too, because crypto11 does not tell it apart from a wrong tag.
func (k *PKCS11RootKey) Unwrap(ciphertext, aad []byte) ([]byte, error) {
	return gcmOpen(k.aead, ciphertext, aad)
}

// String keeps the key out of logs and formatted errors.
func (k *PKCS11RootKey) String() string { return "PKCS11RootKey(" + k.id + ")" }

//go:build !cgo

package seal

import (
	"errors"

	"github.com/keyvault/keyvault/internal/keys"
)

// PKCS11Available reports whether this binary was built with PKCS#11
// support, which needs cgo.
const PKCS11Available = false

var errNoPKCS11 = errors.New("this keyvault binary was built without cgo, so it has no PKCS#11 support: rebuild it with CGO_ENABLED=1")

// PKCS11Token is not available without cgo.
type PKCS11Token struct{}

// OpenPKCS11 fails: PKCS#11 needs cgo.
func OpenPKCS11(PKCS11Config) (*PKCS11Token, error) { return nil, errNoPKCS11 }

// Close does nothing.
func (t *PKCS11Token) Close() error { return nil }

// TokenLabel returns "".
func (t *PKCS11Token) TokenLabel() string { return "" }

// RootKey fails: PKCS#11 needs cgo.
func (t *PKCS11Token) RootKey(string, bool) (*PKCS11RootKey, bool, error) {
	return nil, false, errNoPKCS11
}

// PKCS11RootKey is not available without cgo.
type PKCS11RootKey struct{ RootKey }

// Label returns "".
func (k *PKCS11RootKey) Label() string { return "" }

// Generate fails: PKCS#11 needs cgo.
func (t *PKCS11Token) Generate(string, int, string, string) (*keys.Key, string, error) {
	return nil, "", errNoPKCS11
}

// Load fails: PKCS#11 needs cgo.
func (t *PKCS11Token) Load(string, *keys.JSONWebKey) (*keys.Key, error) { return nil, errNoPKCS11 }

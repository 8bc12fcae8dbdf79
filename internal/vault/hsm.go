package vault

import (
	"fmt"
	"strings"

	"github.com/keyvault/keyvault/internal/keys"
)

// HSM keeps the private material of -HSM keys in a hardware security
// module. The store keeps only the reference it returns and the public key.
type HSM interface {
	// Generate creates a key of type kty (RSA-HSM, EC-HSM or oct-HSM) inside
	// the module, labelled label, and returns it with its reference.
	Generate(kty string, size int, crv string, label string) (k *keys.Key, ref string, err error)
	// Load returns the key that ref names, whose public JWK is pub.
	Load(ref string, pub *keys.JSONWebKey) (*keys.Key, error)
}

// inHSM reports whether keys of type kty are generated in the HSM.
func (s *Service) inHSM(kty string) bool {
	return s.HSM != nil && strings.HasSuffix(kty, "-HSM")
}

// hsmLabel is the label of a key version's object in the HSM, for the
// operators who list the token's objects.
func hsmLabel(v *Vault, name, version string) string {
	return "keyvault/" + v.ID() + "/" + lower(name) + "/" + version
}

// loadMaterial returns the key of stored key data: from the HSM when it
// holds the key, else parsed from the stored private JWK.
func (s *Service) loadMaterial(jwk *keys.JSONWebKey, hsmRef string) (*keys.Key, error) {
	if hsmRef == "" {
		return keys.FromStoredJWK(jwk)
	}
	if s.HSM == nil {
		return nil, &Error{Kind: KindInvalid, Code: "BadParameter",
			Message: "This key is held in a PKCS#11 token, and the server runs without one (--seal pkcs11)."}
	}
	return s.HSM.Load(hsmRef, jwk)
}

// checkCertKeyType is checkKeyType for the key of a certificate. Certificate
// keys are software keys, so with an HSM in use a -HSM certificate key is
// rejected rather than kept outside the HSM under an -HSM type.
func (s *Service) checkCertKeyType(v *Vault, kty string) error {
	if err := s.checkKeyType(v, kty); err != nil {
		return err
	}
	if s.inHSM(kty) {
		return &Error{Kind: KindInvalid, Code: "BadParameter",
			Message: fmt.Sprintf("Certificates with %s keys are not supported with the PKCS#11 token: certificate keys are software keys. Use %s.", kty, strings.TrimSuffix(kty, "-HSM"))}
	}
	return nil
}

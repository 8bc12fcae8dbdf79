package vault

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyvault/keyvault/internal/keys"
	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
)

// HSM keeps the private material of -HSM keys in a hardware security
// module. The store keeps only the reference it returns and the public key.
type HSM interface {
	// Generate creates a key of type kty (RSA-HSM, EC-HSM or oct-HSM) inside
	// the module, labelled label, and returns it with its reference.
	Generate(kty string, size int, crv string, label string) (k *keys.Key, ref string, err error)
	// Load returns the key that ref names, whose public JWK is pub.
	Load(ref string, pub *keys.JSONWebKey) (*keys.Key, error)
	// Destroy deletes the objects of the key of type kty that ref names.
	// A key already gone is not an error.
	Destroy(ref, kty string) error
}

// bucketHSMBackedUp holds the references of HSM keys that a backup names
// (ref -> kty). A backup of an -HSM key holds only the reference, so a purge
// leaves these keys in the HSM, where a restore finds them again.
const bucketHSMBackedUp = "hsm-backed-up"

// keepBackedUpHSMKeys records the HSM keys of the versions of key name
// that a backup holds (decrypted contents by version), so that a purge
// keeps them.
func (s *Service) keepBackedUpHSMKeys(ctx context.Context, name string, versions map[string][]byte) error {
	if s.HSM == nil {
		return nil
	}
	var objects []hsmObject
	for version, content := range versions {
		o, err := storedHSMObject(&object{Name: name, Version: version, Content: content})
		if err != nil {
			return err
		}
		if o.ref != "" {
			objects = append(objects, o)
		}
	}
	if len(objects) == 0 {
		return nil
	}
	return s.store.Update(ctx, func(tx storage.Tx) error {
		for _, o := range objects {
			if err := tx.Put(bucketHSMBackedUp, []byte(o.ref), []byte(o.kty)); err != nil {
				return err
			}
		}
		return nil
	})
}

// storedHSMObject returns the HSM key of a stored key version, with an
// empty ref for a software key.
func storedHSMObject(obj *object) (hsmObject, error) {
	d, err := decodeKeyData(obj)
	if err != nil {
		return hsmObject{}, err
	}
	return hsmObject{ref: d.HSM, kty: d.JWK.Kty}, nil
}

// hsmObject is the HSM key of one stored key version.
type hsmObject struct {
	ref, kty string
}

// hsmPurge finds, inside a purge transaction, the HSM keys of the key
// versions the transaction deletes, and destroys them once it has
// committed. Without an HSM it does nothing.
type hsmPurge struct {
	s       *Service
	vaultID string
	sealer  *seal.Sealer
	objects []hsmObject
}

// newHSMPurge prepares the purge of key versions of vault vaultID.
func (s *Service) newHSMPurge(ctx context.Context, vaultID string) (*hsmPurge, error) {
	if s.HSM == nil {
		return nil, nil
	}
	sealer, err := s.keys.Sealer(ctx, vaultID)
	if err != nil {
		return nil, err
	}
	return &hsmPurge{s: s, vaultID: vaultID, sealer: sealer}, nil
}

// collect reads, in tx, the HSM keys of the versions of key lname, or of
// every key of the vault when lname is empty, leaving out those a backup
// names. It starts over at each call, because a transaction function may
// run more than once.
func (p *hsmPurge) collect(tx storage.Tx, lname string) error {
	if p == nil {
		return nil
	}
	p.objects = p.objects[:0]
	prefix := p.vaultID + "\x00"
	if lname != "" {
		prefix += lname + "\x00"
	}
	return tx.Scan(keyKind.versions, []byte(prefix), nil, func(key, value []byte) (bool, error) {
		parts := strings.Split(string(key), "\x00") // vault, name, version
		if len(parts) != 3 {
			return true, nil
		}
		content, err := p.sealer.Open(value, keyKind.aad(parts[0], parts[1], parts[2]))
		if err != nil {
			return false, fmt.Errorf("unseal stored key %s/%s: %w", parts[1], parts[2], err)
		}
		o, err := storedHSMObject(&object{Name: parts[1], Version: parts[2], Content: content})
		if err != nil {
			return false, err
		}
		if o.ref == "" {
			return true, nil
		}
		backedUp, err := tx.Get(bucketHSMBackedUp, []byte(o.ref))
		if err != nil {
			return false, err
		}
		if backedUp == nil {
			p.objects = append(p.objects, o)
		}
		return true, nil
	})
}

// destroy deletes the collected keys from the HSM. The purge has
// committed, so a failure is logged and leaves an object that nothing
// refers to.
func (p *hsmPurge) destroy() {
	if p == nil {
		return
	}
	for _, o := range p.objects {
		if err := p.s.HSM.Destroy(o.ref, o.kty); err != nil {
			p.s.Log.Error("a purged key's object could not be deleted from the HSM", "vault", p.vaultID, "ref", o.ref, "error", err)
		}
	}
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

package vault

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/keyvault/keyvault/internal/keys"
)

// Key operation names, as in the URL path and in key_ops.
const (
	OpEncrypt   = keys.OpEncrypt
	OpDecrypt   = keys.OpDecrypt
	OpWrapKey   = keys.OpWrapKey
	OpUnwrapKey = keys.OpUnwrapKey
	OpSign      = keys.OpSign
	OpVerify    = keys.OpVerify
)

// OpParams are the inputs of a key operation. Value is the plaintext,
// ciphertext, key or digest; Signature is the signature to verify.
type OpParams struct {
	Alg       string
	Value     []byte
	IV        []byte
	AAD       []byte
	Tag       []byte
	Signature []byte
}

// OpResult is the output of a key operation.
type OpResult struct {
	Version string // the version that ran the operation
	Value   []byte
	IV      []byte
	Tag     []byte
	AAD     []byte
	Valid   bool // for verify
}

// timeBound reports whether an operation is refused outside the key's
// nbf/exp window. Decrypt, unwrap and verify keep working, so data protected
// before expiry stays readable.
func timeBound(op string) bool {
	return op == OpEncrypt || op == OpWrapKey || op == OpSign
}

// KeyOperation runs op (encrypt, decrypt, wrapKey, unwrapKey, sign or verify)
// with a version of the key name (the latest when version is empty).
func (s *Service) KeyOperation(ctx context.Context, v *Vault, name, version, op string, p OpParams) (*OpResult, error) {
	key, err := s.operationKey(ctx, v, name, version)
	if err != nil {
		return nil, err
	}
	if err := s.checkOperation(&key.meta, op); err != nil {
		return nil, err
	}
	material := key.material

	res := &OpResult{Version: key.version}
	switch op {
	case OpEncrypt, OpDecrypt:
		cp := keys.CipherParams{Alg: p.Alg, Value: p.Value, IV: p.IV, AAD: p.AAD, Tag: p.Tag}
		var out *keys.CipherResult
		if op == OpEncrypt {
			out, err = material.Encrypt(cp)
		} else {
			out, err = material.Decrypt(cp)
		}
		if err == nil {
			res.Value, res.IV, res.Tag, res.AAD = out.Value, out.IV, out.Tag, out.AAD
		}
	case OpWrapKey:
		res.Value, err = material.WrapKey(p.Alg, p.Value)
	case OpUnwrapKey:
		res.Value, err = material.UnwrapKey(p.Alg, p.Value)
	case OpSign:
		res.Value, err = material.Sign(p.Alg, p.Value)
	case OpVerify:
		res.Valid, err = material.Verify(p.Alg, p.Value, p.Signature)
	default:
		return nil, badParameter("Unknown key operation '%s'.", op)
	}
	if err != nil {
		return nil, keyError(err)
	}
	return res, nil
}

// keyMeta is keyData with the JWK left undecoded, for operations that find
// the parsed key in the cache.
type keyMeta struct {
	JWK       json.RawMessage `json:"jwk"`
	KeyOps    []string        `json:"ops"`
	Enabled   bool            `json:"e"`
	NotBefore *int64          `json:"nbf,omitempty"`
	Expires   *int64          `json:"exp,omitempty"`
	HSM       string          `json:"hsm,omitempty"`
}

func storedKeyError(obj *object, err error) error {
	return fmt.Errorf("stored key %s/%s: %w", obj.Name, obj.Version, err)
}

func (s *Service) checkOperation(d *keyMeta, op string) error {
	if !d.Enabled {
		return &Error{Kind: KindForbidden, Code: "Forbidden", Inner: "KeyDisabled",
			Message: fmt.Sprintf("Operation %s is not allowed on a disabled key.", op)}
	}
	if !slices.Contains(d.KeyOps, op) {
		return &Error{Kind: KindForbidden, Code: "Forbidden", Inner: "KeyOperationNotAllowed",
			Message: fmt.Sprintf("Operation %s is not allowed by the key's key_ops %v.", op, d.KeyOps)}
	}
	if timeBound(op) {
		now := s.Now().Unix()
		if d.NotBefore != nil && now < *d.NotBefore {
			return &Error{Kind: KindForbidden, Code: "Forbidden", Inner: "KeyNotYetValid",
				Message: fmt.Sprintf("Operation %s is not allowed on a key that is not yet valid (nbf %d).", op, *d.NotBefore)}
		}
		if d.Expires != nil && now >= *d.Expires {
			return &Error{Kind: KindForbidden, Code: "Forbidden", Inner: "KeyExpired",
				Message: fmt.Sprintf("Operation %s is not allowed on an expired key (exp %d).", op, *d.Expires)}
		}
	}
	return nil
}

// RandomBytes returns count (1 to 128) random bytes from the system's
// cryptographic random number generator.
func (s *Service) RandomBytes(count int) ([]byte, error) {
	if count < 1 || count > 128 {
		return nil, badParameter("count must be from 1 to 128, got %d.", count)
	}
	b := make([]byte, count)
	_, err := rand.Read(b)
	return b, err
}

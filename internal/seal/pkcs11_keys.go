//go:build cgo

package seal

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/keyvault/keyvault/internal/keys"
)

// Generate creates a key of type kty (RSA-HSM, EC-HSM or oct-HSM) in the
// token as a private, sensitive, non-extractable token object labelled
// label, with a random 16-byte CKA_ID. ref is the hexadecimal CKA_ID, which
// Load takes. size and crv follow keys.Generate; P-256K is not offered
// because PKCS#11 tokens rarely support secp256k1.
func (t *PKCS11Token) Generate(kty string, size int, crv string, label string) (k *keys.Key, ref string, err error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, "", err
	}
	ref = hex.EncodeToString(id)
	switch keys.Family(kty) {
	case keys.KtyRSA:
		k, err = t.generateRSA(kty, id, label, size, crv)
	case keys.KtyEC:
		k, err = t.generateEC(kty, id, label, size, crv)
	case keys.KtyOct:
		k, err = t.generateOct(kty, id, label, size, crv)
	default:
		return nil, "", &keys.Error{Code: "BadParameter", Message: fmt.Sprintf("Key type '%s' cannot be kept in the PKCS#11 token.", kty)}
	}
	if err != nil {
		return nil, "", err
	}
	return k, ref, nil
}

// keyPairTemplates returns the attributes of a token key pair: the private
// half is private, sensitive and never extractable.
func keyPairTemplates(id []byte, label string, private ...*pkcs11.Attribute) (crypto11.AttributeSet, crypto11.AttributeSet, error) {
	public, err := crypto11.NewAttributeSetWithIDAndLabel(id, []byte(label))
	if err != nil {
		return nil, nil, err
	}
	priv := public.Copy()
	priv.AddIfNotPresent(append(private,
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	))
	public.AddIfNotPresent([]*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true)})
	return public, priv, nil
}

func (t *PKCS11Token) generateRSA(kty string, id []byte, label string, size int, crv string) (*keys.Key, error) {
	if size == 0 {
		size = 2048
	}
	if size != 2048 && size != 3072 && size != 4096 {
		return nil, &keys.Error{Code: "BadParameter", Message: fmt.Sprintf("RSA key size %d is not supported. Use 2048, 3072 or 4096.", size)}
	}
	if crv != "" {
		return nil, &keys.Error{Code: "BadParameter", Message: "An RSA key has no curve; remove crv."}
	}
	public, private, err := keyPairTemplates(id, label,
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true), pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true))
	if err != nil {
		return nil, err
	}
	signer, err := t.ctx.GenerateRSAKeyPairWithAttributes(public, private, size)
	if err != nil {
		return nil, fmt.Errorf("generate an RSA key in PKCS#11 token %q: %w", t.tokenLabel, err)
	}
	return keys.FromHSMSigner(kty, &rsaTokenKey{SignerDecrypter: signer})
}

func (t *PKCS11Token) generateEC(kty string, id []byte, label string, size int, crv string) (*keys.Key, error) {
	if size != 0 {
		return nil, &keys.Error{Code: "BadParameter", Message: "An EC key takes a curve (crv), not key_size or public_exponent."}
	}
	var curve elliptic.Curve
	switch crv {
	case "", keys.CurveP256:
		curve = elliptic.P256()
	case keys.CurveP384:
		curve = elliptic.P384()
	case keys.CurveP521:
		curve = elliptic.P521()
	case keys.CurveP256K, "SECP256K1":
		return nil, &keys.Error{Code: "KeyCurveNotSupported",
			Message: "The curve 'P-256K' is not available for EC-HSM keys in the PKCS#11 token. Use P-256, P-384 or P-521, or an EC key."}
	default:
		return nil, &keys.Error{Code: "KeyCurveNotSupported", Message: fmt.Sprintf("The curve '%s' is not supported. Use P-256, P-384 or P-521.", crv)}
	}
	public, private, err := keyPairTemplates(id, label, pkcs11.NewAttribute(pkcs11.CKA_SIGN, true))
	if err != nil {
		return nil, err
	}
	signer, err := t.ctx.GenerateECDSAKeyPairWithAttributes(public, private, curve)
	if err != nil {
		return nil, fmt.Errorf("generate an EC key in PKCS#11 token %q: %w", t.tokenLabel, err)
	}
	return keys.FromHSMSigner(kty, signer)
}

func (t *PKCS11Token) generateOct(kty string, id []byte, label string, size int, crv string) (*keys.Key, error) {
	if size == 0 {
		size = 256
	}
	if size != 128 && size != 192 && size != 256 {
		return nil, &keys.Error{Code: "BadParameter", Message: fmt.Sprintf("Symmetric key size %d is not supported. Use 128, 192 or 256.", size)}
	}
	if crv != "" {
		return nil, &keys.Error{Code: "BadParameter", Message: "A symmetric key takes only key_size."}
	}
	secret, err := t.generateAESKeyWithID(id, label, size)
	if err != nil {
		return nil, fmt.Errorf("generate an AES key in PKCS#11 token %q: %w", t.tokenLabel, err)
	}
	return keys.FromHSMBlock(kty, &tokenBlock{key: secret}, size)
}

// Load finds the key that ref (a hexadecimal CKA_ID made by Generate) names
// and checks that its public part is pub.
func (t *PKCS11Token) Load(ref string, pub *keys.JSONWebKey) (*keys.Key, error) {
	id, err := hex.DecodeString(ref)
	if err != nil || len(id) == 0 {
		return nil, fmt.Errorf("invalid PKCS#11 key reference %q", ref)
	}
	if keys.Family(pub.Kty) == keys.KtyOct {
		secret, err := t.ctx.FindKey(id, nil)
		if err != nil {
			return nil, fmt.Errorf("PKCS#11 token %q: AES key %s not found: %w", t.tokenLabel, ref, err)
		}
		attr, err := t.ctx.GetAttribute(secret, crypto11.CkaValueLen)
		if err != nil {
			return nil, fmt.Errorf("PKCS#11 token %q: AES key %s: %w", t.tokenLabel, ref, err)
		}
		return keys.FromHSMBlock(pub.Kty, &tokenBlock{key: secret}, 8*int(ulongValue(attr.Value)))
	}
	signer, err := t.ctx.FindKeyPair(id, nil)
	if err != nil || signer == nil {
		return nil, fmt.Errorf("PKCS#11 token %q: key pair %s not found (%v)", t.tokenLabel, ref, err)
	}
	if !publicMatches(signer.Public(), pub) {
		return nil, fmt.Errorf("PKCS#11 token %q: key pair %s does not hold the stored public key", t.tokenLabel, ref)
	}
	if sd, ok := signer.(crypto11.SignerDecrypter); ok {
		return keys.FromHSMSigner(pub.Kty, &rsaTokenKey{SignerDecrypter: sd})
	}
	return keys.FromHSMSigner(pub.Kty, signer)
}

// Destroy deletes the token objects of the key that ref names: the secret
// key of an oct-HSM key, or both halves of a key pair. A key already gone
// is not an error.
func (t *PKCS11Token) Destroy(ref, kty string) error {
	id, err := hex.DecodeString(ref)
	if err != nil || len(id) == 0 {
		return fmt.Errorf("invalid PKCS#11 key reference %q", ref)
	}
	if keys.Family(kty) == keys.KtyOct {
		secrets, err := t.ctx.FindKeys(id, nil)
		if err != nil {
			return fmt.Errorf("PKCS#11 token %q: find AES key %s: %w", t.tokenLabel, ref, err)
		}
		for _, secret := range secrets {
			if err := secret.Delete(); err != nil {
				return fmt.Errorf("PKCS#11 token %q: delete AES key %s: %w", t.tokenLabel, ref, err)
			}
		}
		return nil
	}
	signers, err := t.ctx.FindKeyPairs(id, nil)
	if err != nil {
		return fmt.Errorf("PKCS#11 token %q: find key pair %s: %w", t.tokenLabel, ref, err)
	}
	for _, signer := range signers {
		if err := signer.Delete(); err != nil {
			return fmt.Errorf("PKCS#11 token %q: delete key pair %s: %w", t.tokenLabel, ref, err)
		}
	}
	return nil
}

// publicMatches reports whether the token's public key is the stored one.
func publicMatches(pub crypto.PublicKey, stored *keys.JSONWebKey) bool {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return p.N.Cmp(new(big.Int).SetBytes(stored.N)) == 0
	case *ecdsa.PublicKey:
		return p.X.Cmp(new(big.Int).SetBytes(stored.X)) == 0 && p.Y.Cmp(new(big.Int).SetBytes(stored.Y)) == 0
	}
	return false
}

// ulongValue decodes a CK_ULONG attribute value, in the host's byte order.
func ulongValue(b []byte) uint64 {
	switch len(b) {
	case 4:
		return uint64(binary.NativeEndian.Uint32(b))
	case 8:
		return binary.NativeEndian.Uint64(b)
	}
	return 0
}

// generateAESKeyWithID creates an AES key of bits bits in the token as a
// private, sensitive, non-extractable token object with CKA_ID id.
func (t *PKCS11Token) generateAESKeyWithID(id []byte, label string, bits int) (*crypto11.SecretKey, error) {
	template, err := crypto11.NewAttributeSetWithIDAndLabel(id, []byte(label))
	if err != nil {
		return nil, err
	}
	template.AddIfNotPresent([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	})
	return t.ctx.GenerateSecretKeyWithAttributes(template, bits, crypto11.CipherAES)
}

// rsaTokenKey turns the token's rejection of an RSA-OAEP hash into a clear
// error. SoftHSM2 2.6 accepts only SHA-1 for CKM_RSA_PKCS_OAEP decryption.
type rsaTokenKey struct {
	crypto11.SignerDecrypter
}

// Decrypt implements crypto.Decrypter in the token.
func (k *rsaTokenKey) Decrypt(rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	out, err := k.SignerDecrypter.Decrypt(rand, ciphertext, opts)
	if err == nil {
		return out, nil
	}
	var code pkcs11.Error
	if o, ok := opts.(*rsa.OAEPOptions); ok && o.Hash != crypto.SHA1 && errors.As(err, &code) &&
		(code == pkcs11.CKR_ARGUMENTS_BAD || code == pkcs11.CKR_MECHANISM_PARAM_INVALID || code == pkcs11.CKR_MECHANISM_INVALID) {
		return nil, &keys.Error{Code: "BadParameter",
			Message: "The PKCS#11 token holding this key does not support RSA-OAEP with " + o.Hash.String() + " for decryption. Use RSA-OAEP or RSA1_5 with this key."}
	}
	return nil, err
}

// tokenBlock is the AES block function of a token key. crypto11 v1.6.2
// offers no AES-ECB call, so each block is one CKM_AES_CBC operation with a
// zero IV, which for one block equals AES-ECB. It panics when the token
// fails, because cipher.Block has no error result, and the keys package
// recovers.
type tokenBlock struct {
	key *crypto11.SecretKey
}

var zeroIV = make([]byte, 16)

func (b *tokenBlock) BlockSize() int { return 16 }

func (b *tokenBlock) Encrypt(dst, src []byte) { b.crypt(dst, src, true) }

func (b *tokenBlock) Decrypt(dst, src []byte) { b.crypt(dst, src, false) }

func (b *tokenBlock) crypt(dst, src []byte, encrypt bool) {
	var mode crypto11.BlockModeCloser
	var err error
	if encrypt {
		mode, err = b.key.NewCBCEncrypterCloser(zeroIV)
	} else {
		mode, err = b.key.NewCBCDecrypterCloser(zeroIV)
	}
	if err != nil {
		panic(err)
	}
	defer mode.Close()
	in := bytes.Clone(src[:16]) // dst and src may overlap
	mode.CryptBlocks(dst[:16], in)
}

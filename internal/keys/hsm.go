package keys

import (
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// hsmKey holds the handles of a key whose private material stays in a
// hardware security module: the module signs, decrypts and runs the AES
// block function, and this process keeps only the public key.
type hsmKey struct {
	signer    crypto.Signer    // RSA-HSM, EC-HSM
	decrypter crypto.Decrypter // RSA-HSM
	block     cipher.Block     // oct-HSM
	bits      int              // oct-HSM key length
}

// FromHSMSigner wraps an RSA or ECDSA (P-256, P-384, P-521) key held in a
// hardware security module as a key of type kty. RSA keys must also
// implement crypto.Decrypter. Its private operations call signer; its
// public ones (encrypt, wrapKey, verify) run here on the public key.
func FromHSMSigner(kty string, signer crypto.Signer) (*Key, error) {
	switch pub := signer.Public().(type) {
	case *rsa.PublicKey:
		if Family(kty) != KtyRSA {
			return nil, fmt.Errorf("keys: the HSM key is an RSA key, but the key type is %s", kty)
		}
		decrypter, ok := signer.(crypto.Decrypter)
		if !ok {
			return nil, fmt.Errorf("keys: the HSM's RSA key cannot decrypt")
		}
		return &Key{kty: kty, rsa: &rsa.PrivateKey{PublicKey: *pub}, hsm: &hsmKey{signer: signer, decrypter: decrypter}}, nil
	case *ecdsa.PublicKey:
		if Family(kty) != KtyEC {
			return nil, fmt.Errorf("keys: the HSM key is an EC key, but the key type is %s", kty)
		}
		var crv string
		switch pub.Curve {
		case elliptic.P256():
			crv = CurveP256
		case elliptic.P384():
			crv = CurveP384
		case elliptic.P521():
			crv = CurveP521
		default:
			return nil, curveNotSupported(pub.Curve.Params().Name)
		}
		return &Key{kty: kty, crv: crv, ec: &ecdsa.PrivateKey{PublicKey: *pub}, hsm: &hsmKey{signer: signer}}, nil
	}
	return nil, fmt.Errorf("keys: unsupported HSM public key %T", signer.Public())
}

// FromHSMBlock wraps an AES key of bits bits held in a hardware security
// module, reached through its block function, as a key of type kty. The
// modes (GCM, CBC, CBC with padding, key wrap) run here around the
// module's block operations, so the key itself never leaves the module.
func FromHSMBlock(kty string, block cipher.Block, bits int) (*Key, error) {
	if Family(kty) != KtyOct || block.BlockSize() != 16 || (bits != 128 && bits != 192 && bits != 256) {
		return nil, fmt.Errorf("keys: invalid HSM symmetric key: type %s, %d bits", kty, bits)
	}
	return &Key{kty: kty, hsm: &hsmKey{block: block, bits: bits}}, nil
}

// InHSM reports whether the key's private material is in a hardware
// security module.
func (k *Key) InHSM() bool { return k.hsm != nil }

// symmetric reports whether k is an AES key, in memory or in an HSM.
func (k *Key) symmetric() bool { return k.oct != nil || (k.hsm != nil && k.hsm.block != nil) }

// symmetricLen returns the length of an AES key in bytes.
func (k *Key) symmetricLen() int {
	if k.hsm != nil {
		return k.hsm.bits / 8
	}
	return len(k.oct)
}

// recoverHSM turns a panic of an HSM's cipher.Block or cipher.AEAD (whose
// methods have no error result) into an error.
func recoverHSM(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("keys: the hardware security module failed: %v", r)
	}
}

// hsmSign signs digest in the HSM and returns the signature in the JWS
// form: PKCS #1 v1.5 or PSS bytes for RSA, r || s for ECDSA.
func (k *Key) hsmSign(alg string, h crypto.Hash, digest []byte) ([]byte, error) {
	var opts crypto.SignerOpts = h
	if alg[:2] == "PS" {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
	}
	sig, err := k.hsm.signer.Sign(nil, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("keys: signing in the hardware security module failed: %w", err)
	}
	if k.ec == nil {
		return sig, nil
	}
	// crypto.Signer returns ECDSA signatures in ASN.1 DER.
	var r, s big.Int
	input := cryptobyte.String(sig)
	var inner cryptobyte.String
	if !input.ReadASN1(&inner, asn1.SEQUENCE) || !inner.ReadASN1Integer(&r) || !inner.ReadASN1Integer(&s) {
		return nil, fmt.Errorf("keys: the hardware security module returned a malformed ECDSA signature")
	}
	n := curveBytes(k.crv)
	out := make([]byte, 2*n)
	r.FillBytes(out[:n])
	s.FillBytes(out[n:])
	return out, nil
}

// hsmDecrypt decrypts an RSA ciphertext in the HSM.
func (k *Key) hsmDecrypt(alg string, ciphertext []byte) ([]byte, error) {
	var opts crypto.DecrypterOpts
	if alg == AlgRSA15 {
		opts = &rsa.PKCS1v15DecryptOptions{}
	} else if h, ok := oaepHash(alg); ok {
		opts = &rsa.OAEPOptions{Hash: h, MGFHash: h}
	} else {
		return nil, algNotSupported(alg, k.kty)
	}
	out, err := k.hsm.decrypter.Decrypt(nil, ciphertext, opts)
	if err != nil {
		if ke, ok := err.(*Error); ok {
			return nil, ke
		}
		return nil, badParameter("Decryption with %s failed: the ciphertext is invalid for this key and algorithm.", alg)
	}
	return out, nil
}

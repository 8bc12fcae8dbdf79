package keys

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1"   // registers SHA-1 for RSA-OAEP
	_ "crypto/sha256" // registers SHA-256 and SHA-384/512 users below
	_ "crypto/sha512"
	"crypto/subtle"
	"math/big"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

// Encryption and key-wrap algorithms (JsonWebKeyEncryptionAlgorithm).
const (
	AlgRSA15      = "RSA1_5"
	AlgRSAOAEP    = "RSA-OAEP"
	AlgRSAOAEP256 = "RSA-OAEP-256"
)

// CipherParams are the inputs of Encrypt and Decrypt. IV, AAD and Tag apply
// to the symmetric algorithms only.
type CipherParams struct {
	Alg   string
	Value []byte
	IV    []byte
	AAD   []byte
	Tag   []byte
}

// CipherResult is the output of Encrypt and Decrypt.
type CipherResult struct {
	Value []byte
	IV    []byte
	Tag   []byte
	AAD   []byte
}

func algNotSupported(alg, kty string) *Error {
	return badParameter("Algorithm '%s' is not supported for key type '%s'.", alg, kty)
}

func oaepHash(alg string) (crypto.Hash, bool) {
	switch alg {
	case AlgRSAOAEP:
		return crypto.SHA1, true // RFC 7518, section 4.3: SHA-1 and MGF1 with SHA-1
	case AlgRSAOAEP256:
		return crypto.SHA256, true
	}
	return 0, false
}

// Encrypt encrypts p.Value with the key. RSA keys take RSA1_5, RSA-OAEP and
// RSA-OAEP-256; symmetric keys take AES-GCM (the IV is generated here and
// returned with the tag), AES-CBC and AES-CBC with PKCS#7 padding (the
// caller supplies a 16-byte IV).
func (k *Key) Encrypt(p CipherParams) (_ *CipherResult, err error) {
	defer recoverHSM(&err)
	switch {
	case k.rsa != nil:
		out, err := k.rsaEncrypt(p.Alg, p.Value)
		if err != nil {
			return nil, err
		}
		return &CipherResult{Value: out}, nil
	case k.symmetric():
		return k.aesEncrypt(p)
	}
	return nil, algNotSupported(p.Alg, k.kty)
}

// Decrypt reverses Encrypt. A ciphertext that does not decrypt under the
// named algorithm is an error, never wrong plaintext.
func (k *Key) Decrypt(p CipherParams) (_ *CipherResult, err error) {
	defer recoverHSM(&err)
	switch {
	case k.rsa != nil:
		out, err := k.rsaDecrypt(p.Alg, p.Value)
		if err != nil {
			return nil, err
		}
		return &CipherResult{Value: out}, nil
	case k.symmetric():
		return k.aesDecrypt(p)
	}
	return nil, algNotSupported(p.Alg, k.kty)
}

func (k *Key) rsaEncrypt(alg string, plaintext []byte) ([]byte, error) {
	pub := &k.rsa.PublicKey
	if alg == AlgRSA15 {
		if len(plaintext) > pub.Size()-11 {
			return nil, badParameter("The plaintext is too long for RSA1_5 with a %d-bit key: at most %d bytes.", pub.N.BitLen(), pub.Size()-11)
		}
		return rsa.EncryptPKCS1v15(rand.Reader, pub, plaintext)
	}
	h, ok := oaepHash(alg)
	if !ok {
		return nil, algNotSupported(alg, k.kty)
	}
	if max := pub.Size() - 2*h.Size() - 2; len(plaintext) > max {
		return nil, badParameter("The plaintext is too long for %s with a %d-bit key: at most %d bytes.", alg, pub.N.BitLen(), max)
	}
	return rsa.EncryptOAEP(h.New(), rand.Reader, pub, plaintext, nil)
}

func (k *Key) rsaDecrypt(alg string, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) != k.rsa.Size() {
		return nil, badParameter("The ciphertext must be %d bytes for this %d-bit key, got %d.", k.rsa.Size(), k.rsa.N.BitLen(), len(ciphertext))
	}
	if k.hsm != nil {
		return k.hsmDecrypt(alg, ciphertext)
	}
	var out []byte
	var err error
	if alg == AlgRSA15 {
		out, err = rsa.DecryptPKCS1v15(nil, k.rsa, ciphertext)
	} else if h, ok := oaepHash(alg); ok {
		out, err = rsa.DecryptOAEP(h.New(), nil, k.rsa, ciphertext, nil)
	} else {
		return nil, algNotSupported(alg, k.kty)
	}
	if err != nil {
		return nil, badParameter("Decryption with %s failed: the ciphertext is invalid for this key and algorithm.", alg)
	}
	return out, nil
}

// aesMode splits a symmetric algorithm name into its key length in bytes and
// mode: "GCM", "CBC", "CBCPAD" or "KW".
func aesMode(alg string) (keyLen int, mode string) {
	if len(alg) < 5 || alg[0] != 'A' {
		return 0, ""
	}
	switch alg[1:4] {
	case "128":
		keyLen = 16
	case "192":
		keyLen = 24
	case "256":
		keyLen = 32
	default:
		return 0, ""
	}
	switch mode = alg[4:]; mode {
	case "GCM", "CBC", "CBCPAD", "KW":
		return keyLen, mode
	}
	return 0, ""
}

func (k *Key) aesCipher(alg string, modes ...string) (cipher.Block, string, error) {
	keyLen, mode := aesMode(alg)
	ok := false
	for _, m := range modes {
		ok = ok || m == mode
	}
	if keyLen == 0 || !ok {
		return nil, "", algNotSupported(alg, k.kty)
	}
	if keyLen != k.symmetricLen() {
		return nil, "", badParameter("Algorithm '%s' needs a %d-bit key; this key has %d bits.", alg, keyLen*8, k.symmetricLen()*8)
	}
	if k.hsm != nil {
		return k.hsm.block, mode, nil
	}
	block, err := aes.NewCipher(k.oct)
	return block, mode, err
}

func (k *Key) aesEncrypt(p CipherParams) (*CipherResult, error) {
	block, mode, err := k.aesCipher(p.Alg, "GCM", "CBC", "CBCPAD")
	if err != nil {
		return nil, err
	}
	if mode == "GCM" {
		if len(p.IV) > 0 {
			return nil, badParameter("Do not send an iv with %s: the server generates it and returns it.", p.Alg)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		iv := make([]byte, aead.NonceSize())
		if _, err := rand.Read(iv); err != nil {
			return nil, err
		}
		sealed := aead.Seal(nil, iv, p.Value, p.AAD)
		n := len(sealed) - aead.Overhead()
		return &CipherResult{Value: sealed[:n], IV: iv, Tag: sealed[n:], AAD: p.AAD}, nil
	}
	if len(p.IV) != aes.BlockSize {
		return nil, badParameter("%s needs a 16-byte iv, got %d bytes.", p.Alg, len(p.IV))
	}
	plain := p.Value
	if mode == "CBCPAD" {
		plain = pkcs7Pad(plain)
	} else if len(plain) == 0 || len(plain)%aes.BlockSize != 0 {
		return nil, badParameter("%s encrypts one or more whole 16-byte blocks; the plaintext is %d bytes. Use %sPAD for other lengths.", p.Alg, len(plain), p.Alg)
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, p.IV).CryptBlocks(out, plain)
	return &CipherResult{Value: out, IV: p.IV}, nil
}

func (k *Key) aesDecrypt(p CipherParams) (*CipherResult, error) {
	block, mode, err := k.aesCipher(p.Alg, "GCM", "CBC", "CBCPAD")
	if err != nil {
		return nil, err
	}
	if mode == "GCM" {
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		if len(p.IV) != aead.NonceSize() || len(p.Tag) != aead.Overhead() {
			return nil, badParameter("%s decryption needs the 12-byte iv and 16-byte tag that encryption returned.", p.Alg)
		}
		out, err := aead.Open(nil, p.IV, append(append([]byte(nil), p.Value...), p.Tag...), p.AAD)
		if err != nil {
			return nil, badParameter("Decryption with %s failed: the ciphertext, iv, tag or aad is not the one encryption produced.", p.Alg)
		}
		return &CipherResult{Value: out}, nil
	}
	if len(p.IV) != aes.BlockSize {
		return nil, badParameter("%s needs a 16-byte iv, got %d bytes.", p.Alg, len(p.IV))
	}
	if len(p.Value) == 0 || len(p.Value)%aes.BlockSize != 0 {
		return nil, badParameter("%s ciphertext must be a non-empty multiple of 16 bytes, got %d bytes.", p.Alg, len(p.Value))
	}
	out := make([]byte, len(p.Value))
	cipher.NewCBCDecrypter(block, p.IV).CryptBlocks(out, p.Value)
	if mode == "CBCPAD" {
		if out, err = pkcs7Unpad(out); err != nil {
			return nil, badParameter("Decryption with %s failed: the padding is invalid.", p.Alg)
		}
	}
	return &CipherResult{Value: out}, nil
}

func pkcs7Pad(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	out := append([]byte(nil), b...)
	for range n {
		out = append(out, byte(n))
	}
	return out
}

func pkcs7Unpad(b []byte) ([]byte, error) {
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, badParameter("invalid padding")
	}
	bad := 0
	for _, c := range b[len(b)-n:] {
		bad |= subtle.ConstantTimeByteEq(c, byte(n)) ^ 1
	}
	if bad != 0 {
		return nil, badParameter("invalid padding")
	}
	return b[:len(b)-n], nil
}

// WrapKey encrypts a key with RSA1_5, RSA-OAEP, RSA-OAEP-256 (RSA keys) or
// AES key wrap, A128KW/A192KW/A256KW (RFC 3394, symmetric keys).
func (k *Key) WrapKey(alg string, key []byte) (_ []byte, err error) {
	defer recoverHSM(&err)
	if k.rsa != nil {
		return k.rsaEncrypt(alg, key)
	}
	if k.symmetric() {
		block, _, err := k.aesCipher(alg, "KW")
		if err != nil {
			return nil, err
		}
		return aesKeyWrap(block, key)
	}
	return nil, algNotSupported(alg, k.kty)
}

// UnwrapKey reverses WrapKey.
func (k *Key) UnwrapKey(alg string, wrapped []byte) (_ []byte, err error) {
	defer recoverHSM(&err)
	if k.rsa != nil {
		return k.rsaDecrypt(alg, wrapped)
	}
	if k.symmetric() {
		block, _, err := k.aesCipher(alg, "KW")
		if err != nil {
			return nil, err
		}
		return aesKeyUnwrap(block, wrapped)
	}
	return nil, algNotSupported(alg, k.kty)
}

// Signature algorithms (JsonWebKeySignatureAlgorithm).
const (
	AlgRS256  = "RS256"
	AlgRS384  = "RS384"
	AlgRS512  = "RS512"
	AlgPS256  = "PS256"
	AlgPS384  = "PS384"
	AlgPS512  = "PS512"
	AlgES256  = "ES256"
	AlgES384  = "ES384"
	AlgES512  = "ES512"
	AlgES256K = "ES256K"
)

func signHash(alg string) (crypto.Hash, bool) {
	switch alg {
	case AlgRS256, AlgPS256, AlgES256, AlgES256K:
		return crypto.SHA256, true
	case AlgRS384, AlgPS384, AlgES384:
		return crypto.SHA384, true
	case AlgRS512, AlgPS512, AlgES512:
		return crypto.SHA512, true
	}
	return 0, false
}

// ecCurveFor names the curve each ECDSA algorithm requires.
var ecCurveFor = map[string]string{AlgES256: CurveP256, AlgES384: CurveP384, AlgES512: CurveP521, AlgES256K: CurveP256K}

// checkSign validates alg against the key and the digest length. The service
// signs a digest the caller computed, so its length must be the hash's.
func (k *Key) checkSign(alg string, digest []byte) (crypto.Hash, error) {
	h, ok := signHash(alg)
	if !ok {
		return 0, algNotSupported(alg, k.kty)
	}
	switch alg[:2] {
	case "RS", "PS":
		if k.rsa == nil {
			return 0, badParameter("Key and signing algorithm are incompatible: %s needs an RSA key.", alg)
		}
	case "ES":
		if k.ec == nil && k.k1 == nil {
			return 0, badParameter("Key and signing algorithm are incompatible: %s needs an EC key.", alg)
		}
		if want := ecCurveFor[alg]; want != k.crv {
			return 0, badParameter("Key and signing algorithm are incompatible: %s needs curve %s, the key's curve is %s.", alg, want, k.crv)
		}
	}
	if len(digest) != h.Size() {
		return 0, badParameter("Invalid digest length for %s: expected %d bytes, got %d.", alg, h.Size(), len(digest))
	}
	return h, nil
}

// Sign signs digest. RSA signatures are PKCS #1 v1.5 (RS*) or PSS with a salt
// as long as the hash (PS*, RFC 7518 section 3.5); ECDSA signatures are the
// fixed-width r || s of RFC 7518 section 3.4, not DER.
func (k *Key) Sign(alg string, digest []byte) ([]byte, error) {
	h, err := k.checkSign(alg, digest)
	if err != nil {
		return nil, err
	}
	if k.hsm != nil {
		return k.hsmSign(alg, h, digest)
	}
	switch {
	case alg[:2] == "RS":
		return rsa.SignPKCS1v15(nil, k.rsa, h, digest)
	case alg[:2] == "PS":
		return rsa.SignPSS(rand.Reader, k.rsa, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case k.k1 != nil:
		sig := secpecdsa.Sign(k.k1, digest) // RFC 6979 deterministic nonce
		r, s := sig.R(), sig.S()
		out := make([]byte, 64)
		r.PutBytesUnchecked(out[:32])
		s.PutBytesUnchecked(out[32:])
		return out, nil
	default:
		r, s, err := ecdsa.Sign(rand.Reader, k.ec, digest)
		if err != nil {
			return nil, err
		}
		n := curveBytes(k.crv)
		out := make([]byte, 2*n)
		r.FillBytes(out[:n])
		s.FillBytes(out[n:])
		return out, nil
	}
}

// Verify reports whether sig is a valid signature of digest. A signature of
// the wrong shape (such as DER for ECDSA) is simply not valid.
func (k *Key) Verify(alg string, digest, sig []byte) (bool, error) {
	h, err := k.checkSign(alg, digest)
	if err != nil {
		return false, err
	}
	switch {
	case alg[:2] == "RS":
		return rsa.VerifyPKCS1v15(&k.rsa.PublicKey, h, digest, sig) == nil, nil
	case alg[:2] == "PS":
		return rsa.VerifyPSS(&k.rsa.PublicKey, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil, nil
	}
	n := curveBytes(k.crv)
	if len(sig) != 2*n {
		return false, nil
	}
	if k.k1 != nil {
		var r, s secp256k1.ModNScalar
		if r.SetByteSlice(sig[:32]) || s.SetByteSlice(sig[32:]) {
			return false, nil
		}
		return secpecdsa.NewSignature(&r, &s).Verify(digest, k.k1.PubKey()), nil
	}
	r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
	return ecdsa.Verify(&k.ec.PublicKey, digest, r, s), nil
}

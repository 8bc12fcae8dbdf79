package keys

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("decode hex %q: %v", s, err)
	}
	return b
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("read random bytes: %v", err)
	}
	return b
}

// wantCode fails t unless err is a *Error with the given Azure error code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ke *Error
	if !errors.As(err, &ke) {
		t.Fatalf("error = %v (%T), want *Error with code %s", err, err, code)
	}
	if ke.Code != code {
		t.Fatalf("error code = %s (%s), want %s", ke.Code, ke.Message, code)
	}
}

var (
	generatedKeysMu sync.Mutex
	generatedKeys   = map[string]*Key{}
)

// testKey returns a key made by Generate. The tests of this package share
// keys because RSA generation takes up to seconds. Sharing is safe because
// operations on a Key do not change it.
func testKey(t testing.TB, kty string, size int, crv string) *Key {
	t.Helper()
	id := fmt.Sprintf("%s/%d/%s", kty, size, crv)
	generatedKeysMu.Lock()
	defer generatedKeysMu.Unlock()
	if k, ok := generatedKeys[id]; ok {
		return k
	}
	k, err := Generate(kty, size, 0, crv)
	if err != nil {
		t.Fatalf("Generate(%q, %d, 0, %q): %v", kty, size, crv, err)
	}
	generatedKeys[id] = k
	return k
}

func octKey(t testing.TB, raw []byte) *Key {
	t.Helper()
	k, err := FromJWK(&JSONWebKey{Kty: KtyOct, K: raw})
	if err != nil {
		t.Fatalf("FromJWK(oct, %d bytes): %v", len(raw), err)
	}
	return k
}

func digestOf(h crypto.Hash, msg string) []byte {
	d := h.New()
	d.Write([]byte(msg))
	return d.Sum(nil)
}

func flipFirstBit(b []byte) []byte {
	c := bytes.Clone(b)
	c[0] ^= 0x01
	return c
}

// TestAESKeyWrapRFC3394 checks A128KW, A192KW and A256KW against the test
// vectors of RFC 3394, section 4. Every vector uses the KEK 000102... and
// the key data 00112233... cut to the lengths in its title.
func TestAESKeyWrapRFC3394(t *testing.T) {
	tests := []struct {
		name    string
		alg     string
		kek     string
		data    string
		wrapped string
	}{
		{
			name:    "RFC 3394, section 4.1",
			alg:     "A128KW",
			kek:     "000102030405060708090A0B0C0D0E0F",
			data:    "00112233445566778899AABBCCDDEEFF",
			wrapped: "1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5",
		},
		{
			name:    "RFC 3394, section 4.2",
			alg:     "A192KW",
			kek:     "000102030405060708090A0B0C0D0E0F1011121314151617",
			data:    "00112233445566778899AABBCCDDEEFF",
			wrapped: "96778B25AE6CA435 F92B5B97C050AED2 468AB8A17AD84E5D",
		},
		{
			name:    "RFC 3394, section 4.3",
			alg:     "A256KW",
			kek:     "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
			data:    "00112233445566778899AABBCCDDEEFF",
			wrapped: "64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7",
		},
		{
			name:    "RFC 3394, section 4.4",
			alg:     "A192KW",
			kek:     "000102030405060708090A0B0C0D0E0F1011121314151617",
			data:    "00112233445566778899AABBCCDDEEFF0001020304050607",
			wrapped: "031D33264E15D332 68F24EC260743EDC E1C6C7DDEE725A93 6BA814915C6762D2",
		},
		{
			name:    "RFC 3394, section 4.5",
			alg:     "A256KW",
			kek:     "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
			data:    "00112233445566778899AABBCCDDEEFF0001020304050607",
			wrapped: "A8F9BC1612C68B3F F6E6F4FBE30E71E4 769C8B80A32CB895 8CD5D17D6B254DA1",
		},
		{
			name:    "RFC 3394, section 4.6",
			alg:     "A256KW",
			kek:     "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
			data:    "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
			wrapped: "28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := octKey(t, mustHex(t, tt.kek))
			data, want := mustHex(t, tt.data), mustHex(t, tt.wrapped)

			got, err := k.WrapKey(tt.alg, data)
			if err != nil {
				t.Fatalf("WrapKey: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("WrapKey = %X, want %X", got, want)
			}

			plain, err := k.UnwrapKey(tt.alg, want)
			if err != nil {
				t.Fatalf("UnwrapKey: %v", err)
			}
			if !bytes.Equal(plain, data) {
				t.Errorf("UnwrapKey = %X, want %X", plain, data)
			}

			// Changing any 64-bit block, the integrity block included,
			// must make the integrity check fail.
			for block := 0; block < len(want)/8; block++ {
				modified := bytes.Clone(want)
				modified[8*block+3] ^= 0x80
				_, err := k.UnwrapKey(tt.alg, modified)
				if err == nil {
					t.Fatalf("UnwrapKey with block %d modified succeeded, want an error", block)
				}
				wantCode(t, err, "BadParameter")
			}
		})
	}
}

func TestAESKeyWrapRejectsBadInput(t *testing.T) {
	k256 := testKey(t, KtyOct, 256, "")
	tests := []struct {
		name  string
		key   *Key
		alg   string
		value []byte
		wrap  bool
	}{
		{name: "wrap empty", key: k256, alg: "A256KW", value: nil, wrap: true},
		{name: "wrap 8 bytes", key: k256, alg: "A256KW", value: make([]byte, 8), wrap: true},
		{name: "wrap 12 bytes", key: k256, alg: "A256KW", value: make([]byte, 12), wrap: true},
		{name: "wrap 17 bytes", key: k256, alg: "A256KW", value: make([]byte, 17), wrap: true},
		{name: "unwrap 16 bytes", key: k256, alg: "A256KW", value: make([]byte, 16)},
		{name: "unwrap 25 bytes", key: k256, alg: "A256KW", value: make([]byte, 25)},
		{name: "unwrap zeros", key: k256, alg: "A256KW", value: make([]byte, 24)},
		{name: "A128KW with 256-bit key", key: k256, alg: "A128KW", value: make([]byte, 16), wrap: true},
		{name: "A192KW with 128-bit key", key: testKey(t, KtyOct, 128, ""), alg: "A192KW", value: make([]byte, 16), wrap: true},
		{name: "GCM is not a wrap algorithm", key: k256, alg: "A256GCM", value: make([]byte, 16), wrap: true},
		{name: "RSA algorithm on symmetric key", key: k256, alg: AlgRSAOAEP, value: make([]byte, 16), wrap: true},
		{name: "wrap with EC key", key: testKey(t, KtyEC, 0, CurveP256), alg: "A256KW", value: make([]byte, 16), wrap: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.wrap {
				_, err = tt.key.WrapKey(tt.alg, tt.value)
			} else {
				_, err = tt.key.UnwrapKey(tt.alg, tt.value)
			}
			wantCode(t, err, "BadParameter")
		})
	}
}

// rfc7515Vector is testdata/rfc7515-a2.json: the RSA key, JWS signing input
// and RS256 signature of RFC 7515, Appendix A.2.
type rfc7515Vector struct {
	JWK          JSONWebKey `json:"jwk"`
	SigningInput string     `json:"signingInput"`
	Signature    Base64URL  `json:"signature"`
}

func readRFC7515Vector(t testing.TB) ([]byte, rfc7515Vector) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "rfc7515-a2.json"))
	if err != nil {
		t.Fatalf("read test vector: %v", err)
	}
	var v rfc7515Vector
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode test vector: %v", err)
	}
	return raw, v
}

// TestSignRFC7515AppendixA2 signs the SHA-256 digest of the JWS signing
// input of RFC 7515, Appendix A.2 with that appendix's RSA key. PKCS #1 v1.5
// signatures are deterministic, so the result must equal the published
// signature byte for byte.
func TestSignRFC7515AppendixA2(t *testing.T) {
	_, v := readRFC7515Vector(t)
	k, err := FromJWK(&v.JWK)
	if err != nil {
		t.Fatalf("FromJWK: %v", err)
	}
	if got := k.Bits(); got != 2048 {
		t.Errorf("Bits = %d, want 2048", got)
	}
	digest := sha256.Sum256([]byte(v.SigningInput))

	sig, err := k.Sign(AlgRS256, digest[:])
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if !bytes.Equal(sig, v.Signature) {
		t.Errorf("Sign(RS256) =\n%X\nwant\n%X", sig, []byte(v.Signature))
	}

	ok, err := k.Verify(AlgRS256, digest[:], v.Signature)
	if err != nil || !ok {
		t.Errorf("Verify(published signature) = %v, %v; want true, nil", ok, err)
	}
	pub := k.PublicJWK()
	if !bytes.Equal(pub.N, v.JWK.N) || !bytes.Equal(pub.E, v.JWK.E) {
		t.Errorf("PublicJWK n, e = %X, %X; want the imported %X, %X", pub.N, pub.E, v.JWK.N, v.JWK.E)
	}
}

// requireOpenSSL returns the path of the openssl command. Without it the
// test is skipped on a developer machine and fails in CI, which must
// install openssl.
func requireOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("openssl is not installed (%v): CI must install the Debian package openssl", err)
	}
	t.Skipf("openssl is not installed (%v); install it to run this test", err)
	return ""
}

func runOpenSSL(t *testing.T, openssl string, args ...string) {
	t.Helper()
	out, err := exec.Command(openssl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestSignMatchesOpenSSL compares RS256, RS384 and RS512 signatures with
// those of `openssl pkeyutl -sign` on the same key and digest. PKCS #1 v1.5
// padding is deterministic, so both must be equal byte for byte.
func TestSignMatchesOpenSSL(t *testing.T) {
	openssl := requireOpenSSL(t)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate RSA key: %v", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatalf("marshal PKCS #8: %v", err)
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatalf("write key: %v", err)
	}
	k, err := FromJWK(&JSONWebKey{
		Kty: KtyRSA,
		N:   priv.N.Bytes(),
		E:   big.NewInt(int64(priv.E)).Bytes(),
		D:   priv.D.Bytes(),
		P:   priv.Primes[0].Bytes(),
		Q:   priv.Primes[1].Bytes(),
	})
	if err != nil {
		t.Fatalf("FromJWK: %v", err)
	}

	tests := []struct {
		alg    string
		hash   crypto.Hash
		digest string // openssl's digest name
	}{
		{alg: AlgRS256, hash: crypto.SHA256, digest: "sha256"},
		{alg: AlgRS384, hash: crypto.SHA384, digest: "sha384"},
		{alg: AlgRS512, hash: crypto.SHA512, digest: "sha512"},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			digest := digestOf(tt.hash, "signed by KeyVault and by openssl")
			in, out := filepath.Join(dir, tt.alg+".digest"), filepath.Join(dir, tt.alg+".sig")
			if err := os.WriteFile(in, digest, 0o600); err != nil {
				t.Fatalf("write digest: %v", err)
			}
			runOpenSSL(t, openssl, "pkeyutl", "-sign", "-inkey", keyPath, "-pkeyopt", "digest:"+tt.digest, "-in", in, "-out", out)
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatalf("read openssl signature: %v", err)
			}

			got, err := k.Sign(tt.alg, digest)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Sign(%s) =\n%X\nopenssl signed\n%X", tt.alg, got, want)
			}
		})
	}
}

// TestCBCMatchesOpenSSL compares AES-CBC and AES-CBC with PKCS #7 padding
// with `openssl enc` (which pads with PKCS #7 unless given -nopad).
func TestCBCMatchesOpenSSL(t *testing.T) {
	openssl := requireOpenSSL(t)
	dir := t.TempDir()
	for _, bits := range []int{128, 192, 256} {
		k := testKey(t, KtyOct, bits, "")
		raw := k.PrivateJWK().K
		iv := randomBytes(t, 16)
		for _, n := range []int{0, 1, 15, 16, 17, 32, 33} {
			for _, pad := range []bool{true, false} {
				// Unpadded CBC takes one or more whole blocks.
				if !pad && (n == 0 || n%16 != 0) {
					continue
				}
				alg := fmt.Sprintf("A%dCBC", bits)
				args := []string{"enc", fmt.Sprintf("-aes-%d-cbc", bits), "-K", hex.EncodeToString(raw), "-iv", hex.EncodeToString(iv)}
				if pad {
					alg += "PAD"
				} else {
					args = append(args, "-nopad")
				}
				t.Run(fmt.Sprintf("%s %d bytes", alg, n), func(t *testing.T) {
					plain := randomBytes(t, n)
					in, out := filepath.Join(dir, "plain"), filepath.Join(dir, "cipher")
					if err := os.WriteFile(in, plain, 0o600); err != nil {
						t.Fatalf("write plaintext: %v", err)
					}
					runOpenSSL(t, openssl, append(args, "-in", in, "-out", out)...)
					want, err := os.ReadFile(out)
					if err != nil {
						t.Fatalf("read openssl ciphertext: %v", err)
					}

					got, err := k.Encrypt(CipherParams{Alg: alg, Value: plain, IV: iv})
					if err != nil {
						t.Fatalf("Encrypt: %v", err)
					}
					if !bytes.Equal(got.Value, want) {
						t.Errorf("Encrypt(%s) = %X, openssl = %X", alg, got.Value, want)
					}
				})
			}
		}
	}
}

func TestRSARoundTrip(t *testing.T) {
	plain := []byte("a 32-byte content encryption key")
	for _, size := range []int{2048, 3072, 4096} {
		k := testKey(t, KtyRSA, size, "")
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			if got := k.Bits(); got != size {
				t.Fatalf("Bits = %d, want %d", got, size)
			}
			for _, alg := range []string{AlgRSA15, AlgRSAOAEP, AlgRSAOAEP256} {
				t.Run(alg+" encrypt", func(t *testing.T) {
					enc, err := k.Encrypt(CipherParams{Alg: alg, Value: plain})
					if err != nil {
						t.Fatalf("Encrypt: %v", err)
					}
					if len(enc.Value) != size/8 {
						t.Errorf("ciphertext is %d bytes, want %d", len(enc.Value), size/8)
					}
					dec, err := k.Decrypt(CipherParams{Alg: alg, Value: enc.Value})
					if err != nil {
						t.Fatalf("Decrypt: %v", err)
					}
					if !bytes.Equal(dec.Value, plain) {
						t.Errorf("Decrypt = %q, want %q", dec.Value, plain)
					}
					checkRSADecryptsWithStdlib(t, k, alg, enc.Value, plain)
				})
				t.Run(alg+" wrap", func(t *testing.T) {
					wrapped, err := k.WrapKey(alg, plain)
					if err != nil {
						t.Fatalf("WrapKey: %v", err)
					}
					got, err := k.UnwrapKey(alg, wrapped)
					if err != nil {
						t.Fatalf("UnwrapKey: %v", err)
					}
					if !bytes.Equal(got, plain) {
						t.Errorf("UnwrapKey = %q, want %q", got, plain)
					}
				})
			}
			for _, alg := range []string{AlgRS256, AlgRS384, AlgRS512, AlgPS256, AlgPS384, AlgPS512} {
				t.Run(alg, func(t *testing.T) {
					checkSignVerify(t, k, alg, size/8)
				})
			}
		})
	}
}

// checkRSADecryptsWithStdlib decrypts ciphertext with crypto/rsa directly,
// to show that RSA-OAEP uses SHA-1 and RSA-OAEP-256 SHA-256 for both the
// label hash and MGF1 (RFC 7518, section 4.3).
func checkRSADecryptsWithStdlib(t *testing.T, k *Key, alg string, ciphertext, want []byte) {
	t.Helper()
	var got []byte
	var err error
	switch alg {
	case AlgRSA15:
		got, err = rsa.DecryptPKCS1v15(nil, k.rsa, ciphertext)
	case AlgRSAOAEP:
		got, err = rsa.DecryptOAEP(sha1.New(), nil, k.rsa, ciphertext, nil)
	case AlgRSAOAEP256:
		got, err = rsa.DecryptOAEP(sha256.New(), nil, k.rsa, ciphertext, nil)
	}
	if err != nil {
		t.Fatalf("crypto/rsa decryption of %s ciphertext: %v", alg, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("crypto/rsa decrypted %s to %q, want %q", alg, got, want)
	}
}

// checkSignVerify signs a digest with alg, checks the signature's length,
// that Verify accepts it and rejects a modified signature or digest.
func checkSignVerify(t *testing.T, k *Key, alg string, sigLen int) []byte {
	t.Helper()
	h, _ := signHash(alg)
	digest := digestOf(h, "message for "+alg)
	sig, err := k.Sign(alg, digest)
	if err != nil {
		t.Fatalf("Sign(%s): %v", alg, err)
	}
	if len(sig) != sigLen {
		t.Errorf("signature is %d bytes, want %d", len(sig), sigLen)
	}
	if ok, err := k.Verify(alg, digest, sig); err != nil || !ok {
		t.Errorf("Verify(signature) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := k.Verify(alg, digest, flipFirstBit(sig)); err != nil || ok {
		t.Errorf("Verify(modified signature) = %v, %v; want false, nil", ok, err)
	}
	if ok, err := k.Verify(alg, flipFirstBit(digest), sig); err != nil || ok {
		t.Errorf("Verify(other digest) = %v, %v; want false, nil", ok, err)
	}
	return sig
}

// TestPSSVerifiesWithStdlib checks PS256, PS384 and PS512 with crypto/rsa
// and a salt as long as the hash, as RFC 7518, section 3.5 requires.
func TestPSSVerifiesWithStdlib(t *testing.T) {
	k := testKey(t, KtyRSA, 2048, "")
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(k.PublicJWK().N), E: int(new(big.Int).SetBytes(k.PublicJWK().E).Int64())}
	for _, alg := range []string{AlgPS256, AlgPS384, AlgPS512} {
		t.Run(alg, func(t *testing.T) {
			h, _ := signHash(alg)
			digest := digestOf(h, "PSS "+alg)
			sig, err := k.Sign(alg, digest)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: h.Size(), Hash: h}); err != nil {
				t.Errorf("rsa.VerifyPSS with salt length %d: %v", h.Size(), err)
			}
			// A salt of any other length must not verify.
			if err := rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: h.Size() - 1, Hash: h}); err == nil {
				t.Errorf("rsa.VerifyPSS with salt length %d succeeded, want an error", h.Size()-1)
			}
			// PSS is randomized: two signatures of one digest differ.
			again, err := k.Sign(alg, digest)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if bytes.Equal(sig, again) {
				t.Errorf("two PSS signatures are equal, want a random salt in each")
			}
		})
	}
}

func TestRSAPlaintextLimits(t *testing.T) {
	k := testKey(t, KtyRSA, 2048, "")
	// A 256-byte modulus leaves 256-11 bytes for PKCS #1 v1.5 and
	// 256-2*hLen-2 bytes for OAEP.
	tests := []struct {
		alg string
		max int
	}{
		{alg: AlgRSA15, max: 245},
		{alg: AlgRSAOAEP, max: 214},
		{alg: AlgRSAOAEP256, max: 190},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			if _, err := k.Encrypt(CipherParams{Alg: tt.alg, Value: make([]byte, tt.max)}); err != nil {
				t.Errorf("Encrypt(%d bytes): %v", tt.max, err)
			}
			_, err := k.Encrypt(CipherParams{Alg: tt.alg, Value: make([]byte, tt.max+1)})
			wantCode(t, err, "BadParameter")
			_, err = k.WrapKey(tt.alg, make([]byte, tt.max+1))
			wantCode(t, err, "BadParameter")
		})
	}
}

func TestRSADecryptRejectsBadInput(t *testing.T) {
	k := testKey(t, KtyRSA, 2048, "")
	enc, err := k.Encrypt(CipherParams{Alg: AlgRSAOAEP, Value: []byte("secret")})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	tests := []struct {
		name  string
		alg   string
		value []byte
	}{
		{name: "short ciphertext", alg: AlgRSAOAEP, value: enc.Value[1:]},
		{name: "long ciphertext", alg: AlgRSAOAEP, value: append(bytes.Clone(enc.Value), 0)},
		{name: "empty ciphertext", alg: AlgRSAOAEP, value: nil},
		{name: "modified ciphertext", alg: AlgRSAOAEP, value: flipFirstBit(enc.Value)},
		{name: "other OAEP hash", alg: AlgRSAOAEP256, value: enc.Value},
		{name: "unknown algorithm", alg: "RSA-OAEP-384", value: enc.Value},
		{name: "symmetric algorithm", alg: "A256GCM", value: enc.Value},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Decrypt(CipherParams{Alg: tt.alg, Value: tt.value})
			wantCode(t, err, "BadParameter")
			_, err = k.UnwrapKey(tt.alg, tt.value)
			wantCode(t, err, "BadParameter")
		})
	}
}

func TestAESRoundTrip(t *testing.T) {
	for _, bits := range []int{128, 192, 256} {
		k := testKey(t, KtyOct, bits, "")
		prefix := fmt.Sprintf("A%d", bits)
		t.Run(prefix+"GCM", func(t *testing.T) {
			plain, aad := []byte("attack at dawn"), []byte("header")
			enc, err := k.Encrypt(CipherParams{Alg: prefix + "GCM", Value: plain, AAD: aad})
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if len(enc.IV) != 12 || len(enc.Tag) != 16 || len(enc.Value) != len(plain) {
				t.Errorf("iv, tag, ciphertext = %d, %d, %d bytes; want 12, 16, %d", len(enc.IV), len(enc.Tag), len(enc.Value), len(plain))
			}
			if !bytes.Equal(enc.AAD, aad) {
				t.Errorf("result aad = %q, want %q", enc.AAD, aad)
			}
			dec, err := k.Decrypt(CipherParams{Alg: prefix + "GCM", Value: enc.Value, IV: enc.IV, AAD: aad, Tag: enc.Tag})
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(dec.Value, plain) {
				t.Errorf("Decrypt = %q, want %q", dec.Value, plain)
			}

			// crypto/cipher opens the same ciphertext || tag.
			block, err := aes.NewCipher(k.PrivateJWK().K)
			if err != nil {
				t.Fatalf("aes.NewCipher: %v", err)
			}
			aead, err := cipher.NewGCM(block)
			if err != nil {
				t.Fatalf("cipher.NewGCM: %v", err)
			}
			opened, err := aead.Open(nil, enc.IV, append(bytes.Clone(enc.Value), enc.Tag...), aad)
			if err != nil || !bytes.Equal(opened, plain) {
				t.Errorf("crypto/cipher GCM Open = %q, %v; want %q", opened, err, plain)
			}

			// Each encryption draws a new IV.
			again, err := k.Encrypt(CipherParams{Alg: prefix + "GCM", Value: plain, AAD: aad})
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if bytes.Equal(again.IV, enc.IV) {
				t.Errorf("two encryptions used the IV %X", enc.IV)
			}
		})
		t.Run(prefix+"CBC", func(t *testing.T) {
			plain, iv := randomBytes(t, 48), randomBytes(t, 16)
			enc, err := k.Encrypt(CipherParams{Alg: prefix + "CBC", Value: plain, IV: iv})
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if len(enc.Value) != 48 || !bytes.Equal(enc.IV, iv) {
				t.Errorf("ciphertext %d bytes, iv %X; want 48 bytes, iv %X", len(enc.Value), enc.IV, iv)
			}
			dec, err := k.Decrypt(CipherParams{Alg: prefix + "CBC", Value: enc.Value, IV: iv})
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(dec.Value, plain) {
				t.Errorf("Decrypt = %X, want %X", dec.Value, plain)
			}
		})
		t.Run(prefix+"KW", func(t *testing.T) {
			for _, n := range []int{16, 24, 32, 40} {
				cek := randomBytes(t, n)
				wrapped, err := k.WrapKey(prefix+"KW", cek)
				if err != nil {
					t.Fatalf("WrapKey(%d bytes): %v", n, err)
				}
				if len(wrapped) != n+8 {
					t.Errorf("wrapped %d bytes into %d, want %d", n, len(wrapped), n+8)
				}
				got, err := k.UnwrapKey(prefix+"KW", wrapped)
				if err != nil {
					t.Fatalf("UnwrapKey: %v", err)
				}
				if !bytes.Equal(got, cek) {
					t.Errorf("UnwrapKey = %X, want %X", got, cek)
				}
			}
		})
		t.Run("other key size", func(t *testing.T) {
			other := 256
			if bits == 256 {
				other = 128
			}
			_, err := k.Encrypt(CipherParams{Alg: fmt.Sprintf("A%dGCM", other), Value: []byte("x")})
			wantCode(t, err, "BadParameter")
		})
	}
}

func TestGCMTamperFails(t *testing.T) {
	k := testKey(t, KtyOct, 256, "")
	plain, aad := []byte("attack at dawn"), []byte("header")
	enc, err := k.Encrypt(CipherParams{Alg: "A256GCM", Value: plain, AAD: aad})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	good := CipherParams{Alg: "A256GCM", Value: enc.Value, IV: enc.IV, AAD: aad, Tag: enc.Tag}
	if _, err := k.Decrypt(good); err != nil {
		t.Fatalf("Decrypt of the untouched ciphertext: %v", err)
	}

	tests := []struct {
		name   string
		change func(p *CipherParams)
	}{
		{name: "tag", change: func(p *CipherParams) { p.Tag = flipFirstBit(p.Tag) }},
		{name: "aad", change: func(p *CipherParams) { p.AAD = flipFirstBit(p.AAD) }},
		{name: "aad missing", change: func(p *CipherParams) { p.AAD = nil }},
		{name: "iv", change: func(p *CipherParams) { p.IV = flipFirstBit(p.IV) }},
		{name: "ciphertext", change: func(p *CipherParams) { p.Value = flipFirstBit(p.Value) }},
		{name: "tag truncated", change: func(p *CipherParams) { p.Tag = p.Tag[:12] }},
		{name: "tag missing", change: func(p *CipherParams) { p.Tag = nil }},
		{name: "iv truncated", change: func(p *CipherParams) { p.IV = p.IV[:8] }},
		{name: "iv missing", change: func(p *CipherParams) { p.IV = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			tt.change(&p)
			_, err := k.Decrypt(p)
			wantCode(t, err, "BadParameter")
		})
	}

	t.Run("caller iv on encrypt", func(t *testing.T) {
		_, err := k.Encrypt(CipherParams{Alg: "A256GCM", Value: plain, IV: make([]byte, 12)})
		wantCode(t, err, "BadParameter")
	})
}

func TestCBCRequiresIVAndBlocks(t *testing.T) {
	k := testKey(t, KtyOct, 256, "")
	block := make([]byte, 32)
	tests := []struct {
		name    string
		decrypt bool
		p       CipherParams
	}{
		{name: "encrypt without iv", p: CipherParams{Alg: "A256CBC", Value: block}},
		{name: "encrypt 12-byte iv", p: CipherParams{Alg: "A256CBC", Value: block, IV: make([]byte, 12)}},
		{name: "encrypt 17-byte iv", p: CipherParams{Alg: "A256CBC", Value: block, IV: make([]byte, 17)}},
		{name: "encrypt 15 bytes", p: CipherParams{Alg: "A256CBC", Value: make([]byte, 15), IV: make([]byte, 16)}},
		{name: "encrypt 33 bytes", p: CipherParams{Alg: "A256CBC", Value: make([]byte, 33), IV: make([]byte, 16)}},
		{name: "padded encrypt without iv", p: CipherParams{Alg: "A256CBCPAD", Value: block}},
		{name: "decrypt without iv", decrypt: true, p: CipherParams{Alg: "A256CBC", Value: block}},
		{name: "decrypt 15 bytes", decrypt: true, p: CipherParams{Alg: "A256CBC", Value: make([]byte, 15), IV: make([]byte, 16)}},
		{name: "padded decrypt empty", decrypt: true, p: CipherParams{Alg: "A256CBCPAD", Value: nil, IV: make([]byte, 16)}},
		{name: "padded decrypt 17 bytes", decrypt: true, p: CipherParams{Alg: "A256CBCPAD", Value: make([]byte, 17), IV: make([]byte, 16)}},
		{name: "unknown mode", p: CipherParams{Alg: "A256CTR", Value: block, IV: make([]byte, 16)}},
		{name: "key wrap algorithm", p: CipherParams{Alg: "A256KW", Value: block}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.decrypt {
				_, err = k.Decrypt(tt.p)
			} else {
				_, err = k.Encrypt(tt.p)
			}
			wantCode(t, err, "BadParameter")
		})
	}
}

func TestCBCPADAnyLength(t *testing.T) {
	k := testKey(t, KtyOct, 128, "")
	iv := randomBytes(t, 16)
	for n := 0; n <= 48; n++ {
		plain := randomBytes(t, n)
		enc, err := k.Encrypt(CipherParams{Alg: "A128CBCPAD", Value: plain, IV: iv})
		if err != nil {
			t.Fatalf("Encrypt(%d bytes): %v", n, err)
		}
		// PKCS #7 always adds 1 to 16 bytes.
		if want := (n/16 + 1) * 16; len(enc.Value) != want {
			t.Errorf("Encrypt(%d bytes) gave %d bytes, want %d", n, len(enc.Value), want)
		}
		dec, err := k.Decrypt(CipherParams{Alg: "A128CBCPAD", Value: enc.Value, IV: iv})
		if err != nil {
			t.Fatalf("Decrypt(%d bytes): %v", n, err)
		}
		if !bytes.Equal(dec.Value, plain) {
			t.Errorf("Decrypt = %X, want %X", dec.Value, plain)
		}
	}
}

// TestCBCPADRejectsBadPadding encrypts chosen final blocks without padding
// (A128CBC) and decrypts them with A128CBCPAD, which must check PKCS #7.
func TestCBCPADRejectsBadPadding(t *testing.T) {
	k := testKey(t, KtyOct, 128, "")
	iv := randomBytes(t, 16)
	withTail := func(tail ...byte) []byte {
		b := bytes.Repeat([]byte{'a'}, 32)
		copy(b[32-len(tail):], tail)
		return b
	}
	tests := []struct {
		name  string
		plain []byte
		want  []byte // nil when the padding is invalid
	}{
		{name: "last byte 0", plain: withTail(0)},
		{name: "last byte 17", plain: withTail(17)},
		{name: "last byte 255", plain: withTail(255)},
		{name: "two bytes 01 02", plain: withTail(1, 2)},
		{name: "three bytes 03 04 03", plain: withTail(3, 4, 3)},
		{name: "one byte 01", plain: withTail(1), want: bytes.Repeat([]byte{'a'}, 31)},
		{name: "full block of 16", plain: withTail(bytes.Repeat([]byte{16}, 16)...), want: bytes.Repeat([]byte{'a'}, 16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := k.Encrypt(CipherParams{Alg: "A128CBC", Value: tt.plain, IV: iv})
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			dec, err := k.Decrypt(CipherParams{Alg: "A128CBCPAD", Value: enc.Value, IV: iv})
			if tt.want == nil {
				wantCode(t, err, "BadParameter")
				return
			}
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(dec.Value, tt.want) {
				t.Errorf("Decrypt = %q, want %q", dec.Value, tt.want)
			}
		})
	}
}

// uncompressedPoint is the SEC 1 encoding 0x04 || x || y of a public JWK.
func uncompressedPoint(j *JSONWebKey) []byte {
	return append(append([]byte{4}, j.X...), j.Y...)
}

// TestECDSASignatures checks that ES256, ES384 and ES512 signatures are the
// fixed-width r || s of RFC 7518, section 3.4 and verify with crypto/ecdsa.
// Many signatures are made so that some r or s has leading zero bytes.
func TestECDSASignatures(t *testing.T) {
	tests := []struct {
		alg   string
		crv   string
		curve elliptic.Curve
		size  int // bytes of r and of s
	}{
		{alg: AlgES256, crv: CurveP256, curve: elliptic.P256(), size: 32},
		{alg: AlgES384, crv: CurveP384, curve: elliptic.P384(), size: 48},
		{alg: AlgES512, crv: CurveP521, curve: elliptic.P521(), size: 66},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			k := testKey(t, KtyEC, 0, tt.crv)
			pub, err := ecdsa.ParseUncompressedPublicKey(tt.curve, uncompressedPoint(k.PublicJWK()))
			if err != nil {
				t.Fatalf("parse public key: %v", err)
			}
			h, _ := signHash(tt.alg)
			for i := range 64 {
				digest := digestOf(h, fmt.Sprintf("message %d", i))
				sig, err := k.Sign(tt.alg, digest)
				if err != nil {
					t.Fatalf("Sign: %v", err)
				}
				if len(sig) != 2*tt.size {
					t.Fatalf("signature is %d bytes, want %d", len(sig), 2*tt.size)
				}
				r, s := new(big.Int).SetBytes(sig[:tt.size]), new(big.Int).SetBytes(sig[tt.size:])
				if !ecdsa.Verify(pub, digest, r, s) {
					t.Fatalf("crypto/ecdsa rejects signature %X of digest %X", sig, digest)
				}
				if ok, err := k.Verify(tt.alg, digest, sig); err != nil || !ok {
					t.Fatalf("Verify = %v, %v; want true, nil", ok, err)
				}
			}
			sig := checkSignVerify(t, k, tt.alg, 2*tt.size)
			checkRejectsOtherShapes(t, k, tt.alg, sig, tt.size)
		})
	}
}

// checkRejectsOtherShapes checks that Verify returns false, and no error,
// for the DER encoding of a valid r || s signature, for a truncated one and
// for r = s = 0.
func checkRejectsOtherShapes(t *testing.T, k *Key, alg string, sig []byte, size int) {
	t.Helper()
	h, _ := signHash(alg)
	digest := digestOf(h, "message for "+alg)
	der, err := asn1.Marshal(struct{ R, S *big.Int }{
		R: new(big.Int).SetBytes(sig[:size]),
		S: new(big.Int).SetBytes(sig[size:]),
	})
	if err != nil {
		t.Fatalf("DER-encode signature: %v", err)
	}
	shapes := map[string][]byte{
		"DER":       der,
		"truncated": sig[:len(sig)-1],
		"zero":      make([]byte, len(sig)),
		"empty":     nil,
	}
	for name, bad := range shapes {
		if ok, err := k.Verify(alg, digest, bad); err != nil || ok {
			t.Errorf("Verify(%s signature) = %v, %v; want false, nil", name, ok, err)
		}
	}
}

func TestES256KSignatures(t *testing.T) {
	k := testKey(t, KtyEC, 0, CurveP256K)
	pub, err := secp256k1.ParsePubKey(uncompressedPoint(k.PublicJWK()))
	if err != nil {
		t.Fatalf("parse public key: %v", err)
	}
	for i := range 64 {
		digest := digestOf(crypto.SHA256, fmt.Sprintf("message %d", i))
		sig, err := k.Sign(AlgES256K, digest)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if len(sig) != 64 {
			t.Fatalf("signature is %d bytes, want 64", len(sig))
		}
		var r, s secp256k1.ModNScalar
		if r.SetByteSlice(sig[:32]) || s.SetByteSlice(sig[32:]) {
			t.Fatalf("r or s of %X is not below the group order", sig)
		}
		if !secpecdsa.NewSignature(&r, &s).Verify(digest, pub) {
			t.Fatalf("the secp256k1 library rejects signature %X of digest %X", sig, digest)
		}
		// RFC 6979 nonces make the signature a function of key and digest.
		again, err := k.Sign(AlgES256K, digest)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if !bytes.Equal(again, sig) {
			t.Fatalf("two ES256K signatures of one digest differ: %X and %X", sig, again)
		}
	}
	sig := checkSignVerify(t, k, AlgES256K, 64)
	checkRejectsOtherShapes(t, k, AlgES256K, sig, 32)
}

func TestSignRejectsMismatch(t *testing.T) {
	rsaKey := testKey(t, KtyRSA, 2048, "")
	p256 := testKey(t, KtyEC, 0, CurveP256)
	p384 := testKey(t, KtyEC, 0, CurveP384)
	k1 := testKey(t, KtyEC, 0, CurveP256K)
	oct := testKey(t, KtyOct, 256, "")
	tests := []struct {
		name      string
		key       *Key
		alg       string
		digestLen int
	}{
		{name: "RS256 short digest", key: rsaKey, alg: AlgRS256, digestLen: 31},
		{name: "RS256 SHA-512 digest", key: rsaKey, alg: AlgRS256, digestLen: 64},
		{name: "PS384 SHA-256 digest", key: rsaKey, alg: AlgPS384, digestLen: 32},
		{name: "RS512 empty digest", key: rsaKey, alg: AlgRS512, digestLen: 0},
		{name: "ES256 SHA-384 digest", key: p256, alg: AlgES256, digestLen: 48},
		{name: "ES256K long digest", key: k1, alg: AlgES256K, digestLen: 33},
		{name: "ES512 on P-256", key: p256, alg: AlgES512, digestLen: 64},
		{name: "ES256 on P-384", key: p384, alg: AlgES256, digestLen: 32},
		{name: "ES256 on P-256K", key: k1, alg: AlgES256, digestLen: 32},
		{name: "ES256K on P-256", key: p256, alg: AlgES256K, digestLen: 32},
		{name: "RS256 on EC", key: p256, alg: AlgRS256, digestLen: 32},
		{name: "ES256 on RSA", key: rsaKey, alg: AlgES256, digestLen: 32},
		{name: "PS256 on symmetric", key: oct, alg: AlgPS256, digestLen: 32},
		{name: "HS256 not supported", key: rsaKey, alg: "HS256", digestLen: 32},
		{name: "empty algorithm", key: p256, alg: "", digestLen: 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			digest := make([]byte, tt.digestLen)
			_, err := tt.key.Sign(tt.alg, digest)
			wantCode(t, err, "BadParameter")
			ok, err := tt.key.Verify(tt.alg, digest, make([]byte, 64))
			if ok {
				t.Errorf("Verify = true, want false")
			}
			wantCode(t, err, "BadParameter")
		})
	}
}

func TestOperationsRejectWrongKeyType(t *testing.T) {
	p256 := testKey(t, KtyEC, 0, CurveP256)
	_, err := p256.Encrypt(CipherParams{Alg: AlgRSAOAEP, Value: []byte("x")})
	wantCode(t, err, "BadParameter")
	_, err = p256.Decrypt(CipherParams{Alg: "A256GCM", Value: []byte("x")})
	wantCode(t, err, "BadParameter")
	_, err = p256.UnwrapKey(AlgRSAOAEP, make([]byte, 24))
	wantCode(t, err, "BadParameter")
	_, err = testKey(t, KtyOct, 256, "").Sign(AlgES256, make([]byte, 32))
	wantCode(t, err, "BadParameter")
}

func TestGenerateDefaults(t *testing.T) {
	tests := []struct {
		name     string
		kty      string
		crv      string
		wantKty  string
		wantBits int
		wantCrv  string
	}{
		{name: "RSA", kty: KtyRSA, wantKty: KtyRSA, wantBits: 2048},
		{name: "RSA-HSM", kty: KtyRSAHSM, wantKty: KtyRSAHSM, wantBits: 2048},
		{name: "EC", kty: KtyEC, wantKty: KtyEC, wantCrv: CurveP256},
		{name: "EC-HSM P-384", kty: KtyECHSM, crv: CurveP384, wantKty: KtyECHSM, wantCrv: CurveP384},
		{name: "EC SECP256K1", kty: KtyEC, crv: "SECP256K1", wantKty: KtyEC, wantCrv: CurveP256K},
		{name: "oct", kty: KtyOct, wantKty: KtyOct, wantBits: 256},
		{name: "oct-HSM", kty: KtyOctHSM, wantKty: KtyOctHSM, wantBits: 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Generate(tt.kty, 0, 0, tt.crv)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if k.Kty() != tt.wantKty || k.Bits() != tt.wantBits || k.Curve() != tt.wantCrv {
				t.Errorf("kty, bits, crv = %q, %d, %q; want %q, %d, %q",
					k.Kty(), k.Bits(), k.Curve(), tt.wantKty, tt.wantBits, tt.wantCrv)
			}
			pub := k.PublicJWK()
			if pub.Kty != tt.wantKty || pub.Crv != tt.wantCrv {
				t.Errorf("PublicJWK kty, crv = %q, %q; want %q, %q", pub.Kty, pub.Crv, tt.wantKty, tt.wantCrv)
			}
			if Family(tt.kty) == KtyRSA && !bytes.Equal(pub.E, []byte{1, 0, 1}) {
				t.Errorf("public exponent = %X, want 010001 (65537)", pub.E)
			}
		})
	}
}

func TestGenerateRejectsBadParameters(t *testing.T) {
	tests := []struct {
		name     string
		kty      string
		size     int
		exponent int
		crv      string
		code     string
	}{
		{name: "RSA 1024 bits", kty: KtyRSA, size: 1024, code: "BadParameter"},
		{name: "RSA 2047 bits", kty: KtyRSA, size: 2047, code: "BadParameter"},
		{name: "RSA 8192 bits", kty: KtyRSA, size: 8192, code: "BadParameter"},
		{name: "RSA negative size", kty: KtyRSAHSM, size: -2048, code: "BadParameter"},
		{name: "RSA exponent 3", kty: KtyRSA, size: 2048, exponent: 3, code: "BadParameter"},
		{name: "RSA exponent 65539", kty: KtyRSA, exponent: 65539, code: "BadParameter"},
		{name: "RSA with curve", kty: KtyRSA, crv: CurveP256, code: "BadParameter"},
		{name: "EC with size", kty: KtyEC, size: 256, code: "BadParameter"},
		{name: "EC with exponent", kty: KtyEC, exponent: 65537, code: "BadParameter"},
		{name: "EC Ed25519", kty: KtyEC, crv: "Ed25519", code: "KeyCurveNotSupported"},
		{name: "EC-HSM X25519", kty: KtyECHSM, crv: "X25519", code: "KeyCurveNotSupported"},
		{name: "EC P-224", kty: KtyEC, crv: "P-224", code: "KeyCurveNotSupported"},
		{name: "oct 64 bits", kty: KtyOct, size: 64, code: "BadParameter"},
		{name: "oct 512 bits", kty: KtyOct, size: 512, code: "BadParameter"},
		{name: "oct with curve", kty: KtyOct, crv: CurveP256, code: "BadParameter"},
		{name: "oct with exponent", kty: KtyOctHSM, exponent: 65537, code: "BadParameter"},
		{name: "unknown type", kty: "DSA", code: "BadParameter"},
		{name: "empty type", kty: "", code: "BadParameter"},
		{name: "lower-case rsa", kty: "rsa", code: "BadParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Generate(tt.kty, tt.size, tt.exponent, tt.crv)
			if k != nil {
				t.Errorf("Generate returned a key, want nil")
			}
			wantCode(t, err, tt.code)
		})
	}
}

func TestFromJWKRejectsInvalidKeys(t *testing.T) {
	rsaKey := testKey(t, KtyRSA, 2048, "")
	otherRSA, err := Generate(KtyRSA, 2048, 0, "")
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatalf("generate 1024-bit key: %v", err)
	}
	p256 := testKey(t, KtyEC, 0, CurveP256)
	otherP256, err := Generate(KtyEC, 0, 0, CurveP256)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	k1 := testKey(t, KtyEC, 0, CurveP256K)
	otherK1, err := Generate(KtyEC, 0, 0, CurveP256K)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}

	// change copies the private JWK of k and applies edit to it.
	change := func(k *Key, edit func(j *JSONWebKey)) *JSONWebKey {
		j := k.PrivateJWK()
		edit(j)
		return j
	}
	tests := []struct {
		name string
		jwk  *JSONWebKey
		code string
	}{
		{name: "RSA public only", jwk: rsaKey.PublicJWK(), code: "BadParameter"},
		{name: "RSA without p", jwk: change(rsaKey, func(j *JSONWebKey) { j.P = nil }), code: "BadParameter"},
		{name: "RSA d of another key", jwk: change(rsaKey, func(j *JSONWebKey) { j.D = otherRSA.PrivateJWK().D }), code: "BadParameter"},
		{name: "RSA q of another key", jwk: change(rsaKey, func(j *JSONWebKey) { j.Q = otherRSA.PrivateJWK().Q }), code: "BadParameter"},
		{name: "RSA exponent 1", jwk: change(rsaKey, func(j *JSONWebKey) { j.E = []byte{1} }), code: "BadParameter"},
		{name: "RSA exponent 2^40", jwk: change(rsaKey, func(j *JSONWebKey) { j.E = []byte{1, 0, 0, 0, 0, 0} }), code: "BadParameter"},
		{name: "RSA 1024-bit modulus", jwk: &JSONWebKey{
			Kty: KtyRSA, N: short.N.Bytes(), E: big.NewInt(int64(short.E)).Bytes(),
			D: short.D.Bytes(), P: short.Primes[0].Bytes(), Q: short.Primes[1].Bytes(),
		}, code: "BadParameter"},
		{name: "EC public only", jwk: p256.PublicJWK(), code: "BadParameter"},
		{name: "EC x and y of another key", jwk: change(p256, func(j *JSONWebKey) {
			j.X, j.Y = otherP256.PublicJWK().X, otherP256.PublicJWK().Y
		}), code: "BadParameter"},
		{name: "EC y of another key", jwk: change(p256, func(j *JSONWebKey) { j.Y = otherP256.PublicJWK().Y }), code: "BadParameter"},
		{name: "EC x without y", jwk: change(p256, func(j *JSONWebKey) { j.Y = nil }), code: "BadParameter"},
		{name: "P-256K x and y of another key", jwk: change(k1, func(j *JSONWebKey) {
			j.X, j.Y = otherK1.PublicJWK().X, otherK1.PublicJWK().Y
		}), code: "BadParameter"},
		{name: "EC d too long", jwk: change(p256, func(j *JSONWebKey) { j.D = append([]byte{1}, j.D...) }), code: "BadParameter"},
		{name: "EC d zero", jwk: &JSONWebKey{Kty: KtyEC, Crv: CurveP256, D: make([]byte, 32)}, code: "BadParameter"},
		{name: "EC d equal to group order", jwk: &JSONWebKey{Kty: KtyEC, Crv: CurveP256, D: elliptic.P256().Params().N.Bytes()}, code: "BadParameter"},
		{name: "P-256K d zero", jwk: &JSONWebKey{Kty: KtyEC, Crv: CurveP256K, D: []byte{0}}, code: "BadParameter"},
		{name: "P-256K d equal to group order", jwk: &JSONWebKey{Kty: KtyEC, Crv: CurveP256K, D: secp256k1.S256().N.Bytes()}, code: "BadParameter"},
		{name: "EC curve Ed25519", jwk: &JSONWebKey{Kty: KtyEC, Crv: "Ed25519", D: make([]byte, 32)}, code: "KeyCurveNotSupported"},
		{name: "EC without curve", jwk: &JSONWebKey{Kty: KtyEC, D: make([]byte, 32)}, code: "KeyCurveNotSupported"},
		{name: "oct without k", jwk: &JSONWebKey{Kty: KtyOct}, code: "BadParameter"},
		{name: "oct k of 15 bytes", jwk: &JSONWebKey{Kty: KtyOct, K: make([]byte, 15)}, code: "BadParameter"},
		{name: "oct k of 20 bytes", jwk: &JSONWebKey{Kty: KtyOctHSM, K: make([]byte, 20)}, code: "BadParameter"},
		{name: "oct k of 33 bytes", jwk: &JSONWebKey{Kty: KtyOct, K: make([]byte, 33)}, code: "BadParameter"},
		{name: "oct k of 64 bytes", jwk: &JSONWebKey{Kty: KtyOct, K: make([]byte, 64)}, code: "BadParameter"},
		{name: "key_hsm blob", jwk: &JSONWebKey{Kty: KtyRSAHSM, T: []byte("blob")}, code: "BadParameter"},
		{name: "unknown type", jwk: &JSONWebKey{Kty: "OKP", D: make([]byte, 32)}, code: "BadParameter"},
		{name: "empty JWK", jwk: &JSONWebKey{}, code: "BadParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := FromJWK(tt.jwk)
			if k != nil {
				t.Errorf("FromJWK returned a key, want nil")
			}
			wantCode(t, err, tt.code)
		})
	}
}

// sampleKeys returns one generated key of every type, size and curve.
func sampleKeys(t testing.TB) map[string]*Key {
	t.Helper()
	return map[string]*Key{
		"RSA 2048":    testKey(t, KtyRSA, 2048, ""),
		"RSA-HSM":     testKey(t, KtyRSAHSM, 0, ""),
		"P-256":       testKey(t, KtyEC, 0, CurveP256),
		"P-384":       testKey(t, KtyEC, 0, CurveP384),
		"P-521":       testKey(t, KtyECHSM, 0, CurveP521),
		"P-256K":      testKey(t, KtyEC, 0, CurveP256K),
		"oct 128":     testKey(t, KtyOct, 128, ""),
		"oct 192":     testKey(t, KtyOct, 192, ""),
		"oct-HSM 256": testKey(t, KtyOctHSM, 256, ""),
	}
}

// privateMembers are the JWK members that carry private key material.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "k", "key_hsm"}

// checkNoPrivateMembers fails t if j, or its JSON form, has a private member.
func checkNoPrivateMembers(t testing.TB, j *JSONWebKey) {
	t.Helper()
	for name, v := range map[string][]byte{"d": j.D, "p": j.P, "q": j.Q, "dp": j.DP, "dq": j.DQ, "qi": j.QI, "k": j.K, "key_hsm": j.T} {
		if len(v) != 0 {
			t.Errorf("public JWK of kty %s has private member %s", j.Kty, name)
		}
	}
	raw, err := json.Marshal(j)
	if err != nil {
		t.Fatalf("marshal public JWK: %v", err)
	}
	var members map[string]any
	if err := json.Unmarshal(raw, &members); err != nil {
		t.Fatalf("decode public JWK: %v", err)
	}
	for _, name := range privateMembers {
		if _, ok := members[name]; ok {
			t.Errorf("public JWK JSON %s has member %q", raw, name)
		}
	}
}

func TestPublicJWKHasNoPrivateMembers(t *testing.T) {
	for name, k := range sampleKeys(t) {
		t.Run(name, func(t *testing.T) {
			pub := k.PublicJWK()
			checkNoPrivateMembers(t, pub)
			if pub.Kty != k.Kty() {
				t.Errorf("kty = %q, want %q", pub.Kty, k.Kty())
			}
			switch Family(k.Kty()) {
			case KtyRSA:
				if len(pub.N) != k.Bits()/8 || len(pub.E) == 0 {
					t.Errorf("n, e = %d, %d bytes; want %d, at least 1", len(pub.N), len(pub.E), k.Bits()/8)
				}
			case KtyEC:
				n := curveBytes(k.Curve())
				if pub.Crv != k.Curve() || len(pub.X) != n || len(pub.Y) != n {
					t.Errorf("crv, x, y = %q, %d, %d bytes; want %q, %d, %d", pub.Crv, len(pub.X), len(pub.Y), k.Curve(), n, n)
				}
			case KtyOct:
				if !bytes.Equal(mustJSON(t, pub), mustJSON(t, &JSONWebKey{Kty: k.Kty()})) {
					t.Errorf("symmetric public JWK = %s, want only kty", mustJSON(t, pub))
				}
			}
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	return raw
}

// TestPrivateJWKRoundTrip stores each key's private JWK as JSON, imports it
// again and checks that the result is the same key.
func TestPrivateJWKRoundTrip(t *testing.T) {
	for name, k := range sampleKeys(t) {
		t.Run(name, func(t *testing.T) {
			stored := mustJSON(t, k.PrivateJWK())
			var j JSONWebKey
			if err := json.Unmarshal(stored, &j); err != nil {
				t.Fatalf("decode private JWK: %v", err)
			}
			back, err := FromJWK(&j)
			if err != nil {
				t.Fatalf("FromJWK(PrivateJWK()): %v", err)
			}
			if got := mustJSON(t, back.PrivateJWK()); !bytes.Equal(got, stored) {
				t.Errorf("private JWK after round trip =\n%s\nwant\n%s", got, stored)
			}
			if back.Kty() != k.Kty() || back.Curve() != k.Curve() || back.Bits() != k.Bits() {
				t.Errorf("kty, crv, bits = %q, %q, %d; want %q, %q, %d",
					back.Kty(), back.Curve(), back.Bits(), k.Kty(), k.Curve(), k.Bits())
			}
			checkSameKey(t, k, back)

			stored2, err := FromStoredJWK(&j)
			if err != nil {
				t.Fatalf("FromStoredJWK(PrivateJWK()): %v", err)
			}
			if got := mustJSON(t, stored2.PrivateJWK()); !bytes.Equal(got, stored) {
				t.Errorf("private JWK after FromStoredJWK =\n%s\nwant\n%s", got, stored)
			}
			checkSameKey(t, k, stored2)
		})
	}
}

func TestJSONWebKeyPublic(t *testing.T) {
	for name, k := range sampleKeys(t) {
		t.Run(name, func(t *testing.T) {
			priv := k.PrivateJWK()
			priv.KeyOps = []string{OpSign, OpVerify}
			pub := priv.Public()
			checkNoPrivateMembers(t, pub)
			want := k.PublicJWK()
			want.KeyOps = []string{OpSign, OpVerify}
			if got := mustJSON(t, pub); !bytes.Equal(got, mustJSON(t, want)) {
				t.Errorf("Public() = %s, want %s", got, mustJSON(t, want))
			}
			pub.KeyOps[0] = "changed"
			if priv.KeyOps[0] != OpSign {
				t.Errorf("changing Public().KeyOps changed the original to %v", priv.KeyOps)
			}
			if len(priv.D) == 0 && len(priv.K) == 0 {
				t.Errorf("Public() cleared the private members of the original")
			}
		})
	}
}

// checkSameKey checks that b verifies what a signed, or unwraps what a wrapped.
func checkSameKey(t *testing.T, a, b *Key) {
	t.Helper()
	switch Family(a.Kty()) {
	case KtyRSA:
		digest := digestOf(crypto.SHA256, "same key")
		sig, err := a.Sign(AlgPS256, digest)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if ok, err := b.Verify(AlgPS256, digest, sig); err != nil || !ok {
			t.Errorf("re-imported key: Verify = %v, %v; want true, nil", ok, err)
		}
	case KtyEC:
		alg := map[string]string{CurveP256: AlgES256, CurveP384: AlgES384, CurveP521: AlgES512, CurveP256K: AlgES256K}[a.Curve()]
		h, _ := signHash(alg)
		digest := digestOf(h, "same key")
		sig, err := a.Sign(alg, digest)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if ok, err := b.Verify(alg, digest, sig); err != nil || !ok {
			t.Errorf("re-imported key: Verify(%s) = %v, %v; want true, nil", alg, ok, err)
		}
	case KtyOct:
		alg := fmt.Sprintf("A%dKW", a.Bits())
		wrapped, err := a.WrapKey(alg, make([]byte, 16))
		if err != nil {
			t.Fatalf("WrapKey: %v", err)
		}
		if _, err := b.UnwrapKey(alg, wrapped); err != nil {
			t.Errorf("re-imported key: UnwrapKey: %v", err)
		}
	}
}

func TestFromJWKAcceptsShortECScalar(t *testing.T) {
	// A d with its leading zero bytes dropped is the same scalar.
	k, err := FromJWK(&JSONWebKey{Kty: KtyEC, Crv: CurveP256, D: []byte{1}})
	if err != nil {
		t.Fatalf("FromJWK(d = 1): %v", err)
	}
	pub := k.PublicJWK()
	gx := elliptic.P256().Params().Gx.FillBytes(make([]byte, 32))
	if !bytes.Equal(pub.X, gx) {
		t.Errorf("x of d = 1 is %X, want the generator's %X", pub.X, gx)
	}
	if d := k.PrivateJWK().D; len(d) != 32 || d[31] != 1 {
		t.Errorf("stored d = %X, want 32 bytes ending in 01", d)
	}
}

// TestFromJWKAcceptsSECP256K1 imports a P-256K key under the curve name
// SECP256K1, which Generate also accepts, and expects it as P-256K.
func TestFromJWKAcceptsSECP256K1(t *testing.T) {
	k1 := testKey(t, KtyEC, 0, CurveP256K)
	j := k1.PrivateJWK()
	j.Crv = "SECP256K1"
	k, err := FromJWK(j)
	if err != nil {
		t.Fatalf("FromJWK(crv SECP256K1): %v", err)
	}
	if k.Curve() != CurveP256K {
		t.Errorf("curve = %q, want %q", k.Curve(), CurveP256K)
	}
	if got, want := mustJSON(t, k.PublicJWK()), mustJSON(t, k1.PublicJWK()); !bytes.Equal(got, want) {
		t.Errorf("PublicJWK = %s, want %s", got, want)
	}
}

func TestBase64URL(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []byte
	}{
		{name: "unpadded", in: `"AQAB"`, want: []byte{1, 0, 1}},
		{name: "padded", in: `"_-8"`, want: []byte{0xff, 0xef}},
		{name: "padded with =", in: `"_-8="`, want: []byte{0xff, 0xef}},
		{name: "standard alphabet", in: `"/+8="`, want: []byte{0xff, 0xef}},
		{name: "empty", in: `""`, want: []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Base64URL
			if err := json.Unmarshal([]byte(tt.in), &b); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tt.in, err)
			}
			if !bytes.Equal(b, tt.want) {
				t.Errorf("Unmarshal(%s) = %X, want %X", tt.in, []byte(b), tt.want)
			}
		})
	}
	for _, bad := range []string{`"!!"`, `"A"`, `123`, `["AQAB"]`} {
		var b Base64URL
		if err := json.Unmarshal([]byte(bad), &b); err == nil {
			t.Errorf("Unmarshal(%s) = %X, want an error", bad, []byte(b))
		}
	}
	if got := string(mustJSON(t, Base64URL{0xff, 0xef})); got != `"_-8"` {
		t.Errorf("Marshal = %s, want \"_-8\" (URL alphabet, no padding)", got)
	}
}

// FuzzFromJWK decodes arbitrary JSON into a JSONWebKey and imports it.
// FromJWK must not panic, must fail only with a *Error (which the API turns
// into a 400), and a key it accepts must survive PrivateJWK -> FromJWK and
// have a PublicJWK without private members. FromStoredJWK, which the vault
// uses to read keys back, must return the same key.
func FuzzFromJWK(f *testing.F) {
	for _, k := range sampleKeys(f) {
		f.Add(mustJSON(f, k.PrivateJWK()))
		f.Add(mustJSON(f, k.PublicJWK()))
	}
	raw, _ := readRFC7515Vector(f)
	var vector struct {
		JWK json.RawMessage `json:"jwk"`
	}
	if err := json.Unmarshal(raw, &vector); err != nil {
		f.Fatalf("decode test vector: %v", err)
	}
	f.Add([]byte(vector.JWK))
	for _, seed := range []string{
		`{}`,
		`null`,
		`{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA"}`,
		`{"kty":"oct-HSM","k":""}`,
		`{"kty":"EC","crv":"P-256","d":"AQ"}`,
		`{"kty":"EC","crv":"P-256K","d":"AQ","x":"AQ","y":"AQ"}`,
		`{"kty":"EC","crv":"SECP256K1","d":"AQ"}`,
		`{"kty":"EC-HSM","crv":"P-521","d":"AAAA","x":"AQ"}`,
		`{"kty":"RSA","n":"AQ","e":"AQAB","d":"AQ","p":"AQ","q":"AQ"}`,
		`{"kty":"RSA","n":"AQ","e":"AA","d":"AA","p":"AA","q":"AA"}`,
		`{"kty":"RSA-HSM","key_hsm":"AQ"}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		var j JSONWebKey
		if err := json.Unmarshal(data, &j); err != nil {
			return
		}
		k, err := FromJWK(&j)
		if err != nil {
			var ke *Error
			if !errors.As(err, &ke) {
				t.Fatalf("FromJWK error %v is a %T, want *Error", err, err)
			}
			return
		}
		checkNoPrivateMembers(t, k.PublicJWK())

		priv := k.PrivateJWK()
		back, err := FromJWK(priv)
		if err != nil {
			t.Fatalf("FromJWK(PrivateJWK()) of an accepted key: %v", err)
		}
		if want, got := mustJSON(t, priv), mustJSON(t, back.PrivateJWK()); !bytes.Equal(got, want) {
			t.Fatalf("private JWK after round trip =\n%s\nwant\n%s", got, want)
		}
		if back.Kty() != k.Kty() || back.Curve() != k.Curve() || back.Bits() != k.Bits() {
			t.Fatalf("kty, crv, bits = %q, %q, %d after round trip; want %q, %q, %d",
				back.Kty(), back.Curve(), back.Bits(), k.Kty(), k.Curve(), k.Bits())
		}
		stored, err := FromStoredJWK(priv)
		if err != nil {
			t.Fatalf("FromStoredJWK(PrivateJWK()) of an accepted key: %v", err)
		}
		if want, got := mustJSON(t, priv), mustJSON(t, stored.PrivateJWK()); !bytes.Equal(got, want) {
			t.Fatalf("private JWK after FromStoredJWK =\n%s\nwant\n%s", got, want)
		}
	})
}

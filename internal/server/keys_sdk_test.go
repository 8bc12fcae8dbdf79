package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	secpecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"

	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/server"
)

// These tests drive the whole keys API through the Azure SDK for Go (azkeys)
// against a real server over TLS. Every cryptographic result is checked
// locally on the public key that the server returned, with the Go standard
// library or, for P-256K, the secp256k1 package. Helpers shared with the
// secrets tests (sdkDeref, sdkWantError, sdkInnerCode, sdkMaxResultsPolicy)
// live in secrets_sdk_test.go, and checkAzureError in cases_test.go.

// sdkKeyAPIVersion is the api-version of raw requests, the same one that
// azkeys v1.5.0 sends.
const sdkKeyAPIVersion = "2025-07-01"

// sdkKeyPrivateMembers are the JWK members that hold private key material
// (RFC 7518, section 6) plus Azure's key_hsm. No response may contain them.
var sdkKeyPrivateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "k", "key_hsm"}

// sdkKeyVault bundles a server, an azkeys client for its default vault and
// an administrator token for raw requests.
type sdkKeyVault struct {
	in    *kvtest.Instance
	c     *azkeys.Client
	base  string // https://default.vault.localhost:PORT
	token string
}

func startSDKKeyVault(t *testing.T, opts kvtest.Options) *sdkKeyVault {
	t.Helper()
	in := kvtest.Start(t, opts)
	return &sdkKeyVault{in: in, c: in.KeysClient(t, "default"), base: in.VaultURL("default"),
		token: in.Token(t)}
}

// raw sends a request to the default vault with the administrator token.
// path must not have a query string, because raw appends the api-version.
func (v *sdkKeyVault) raw(t *testing.T, method, path, body string) *kvtest.Response {
	t.Helper()
	return v.in.Do(t, method, v.base+path+"?api-version="+sdkKeyAPIVersion, v.token, body)
}

// create creates a key and fails the test on error.
func (v *sdkKeyVault) create(t *testing.T, name string, p azkeys.CreateKeyParameters) azkeys.KeyBundle {
	t.Helper()
	resp, err := v.c.CreateKey(context.Background(), name, p, nil)
	if err != nil {
		t.Fatalf("CreateKey(%q, %s): %v", name, sdkDeref(p.Kty), err)
	}
	if resp.Key == nil || resp.Key.KID == nil {
		t.Fatalf("CreateKey(%q): response has no key or kid", name)
	}
	return resp.KeyBundle
}

func (v *sdkKeyVault) createRSA(t *testing.T, name string, bits int32) azkeys.KeyBundle {
	t.Helper()
	return v.create(t, name,
		azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr(bits)})
}

func (v *sdkKeyVault) createEC(t *testing.T, name string, crv azkeys.CurveName) azkeys.KeyBundle {
	t.Helper()
	return v.create(t, name,
		azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC), Curve: to.Ptr(crv)})
}

// importOct imports raw as a symmetric key and fails the test on error.
func (v *sdkKeyVault) importOct(t *testing.T, name string, raw []byte) azkeys.KeyBundle {
	t.Helper()
	resp, err := v.c.ImportKey(context.Background(), name, azkeys.ImportKeyParameters{
		Key: &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeOct), K: raw},
	}, nil)
	if err != nil {
		t.Fatalf("ImportKey(%q, oct): %v", name, err)
	}
	return resp.KeyBundle
}

// versions lists the version ids of name through the SDK pager, sorted.
func (v *sdkKeyVault) versions(t *testing.T, name string) []string {
	t.Helper()
	var ids []string
	pager := v.c.NewListKeyPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list versions of %q: %v", name, err)
		}
		for _, item := range page.Value {
			ids = append(ids, item.KID.Version())
		}
	}
	slices.Sort(ids)
	return ids
}

// kidPattern matches the versioned kid of the key name.
func (v *sdkKeyVault) kidPattern(name string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(v.base+"/keys/"+name+"/") + `[0-9a-f]{32}$`)
}

func (v *sdkKeyVault) checkKID(t *testing.T, kid *azkeys.ID, name string) {
	t.Helper()
	if kid == nil {
		t.Fatalf("kid is missing, want %s/keys/%s/<version>", v.base, name)
	}
	if !v.kidPattern(name).MatchString(string(*kid)) {
		t.Errorf("kid = %q, want %s/keys/%s/<32 hex digits>", *kid, v.base, name)
	}
}

// sdkKeyOp returns the parameters of encrypt, decrypt, wrapKey or unwrapKey
// without iv, tag or aad.
func sdkKeyOp(alg azkeys.EncryptionAlgorithm, value []byte) azkeys.KeyOperationParameters {
	return azkeys.KeyOperationParameters{Algorithm: to.Ptr(alg), Value: value}
}

func sdkKeySignParams(alg azkeys.SignatureAlgorithm, digest []byte) azkeys.SignParameters {
	return azkeys.SignParameters{Algorithm: to.Ptr(alg), Value: digest}
}

func sdkKeyVerifyParams(alg azkeys.SignatureAlgorithm, digest, sig []byte) azkeys.VerifyParameters {
	return azkeys.VerifyParameters{Algorithm: to.Ptr(alg), Digest: digest, Signature: sig}
}

// sdkKeyOps converts SDK key_ops to strings, keeping the order.
func sdkKeyOps(ops []*azkeys.KeyOperation) []string {
	out := make([]string, 0, len(ops))
	for _, op := range ops {
		out = append(out, string(sdkDeref(op)))
	}
	return out
}

// sdkKeyOpParams converts strings to SDK key_ops.
func sdkKeyOpParams(ops ...string) []*azkeys.KeyOperation {
	out := make([]*azkeys.KeyOperation, 0, len(ops))
	for _, op := range ops {
		out = append(out, to.Ptr(azkeys.KeyOperation(op)))
	}
	return out
}

// sdkKeyCheckNoPrivate fails the test if the decoded JWK holds private
// material.
func sdkKeyCheckNoPrivate(t *testing.T, jwk *azkeys.JSONWebKey) {
	t.Helper()
	for _, m := range []struct {
		name  string
		value []byte
	}{{"d", jwk.D}, {"p", jwk.P}, {"q", jwk.Q}, {"dp", jwk.DP}, {"dq", jwk.DQ}, {"qi", jwk.QI}, {"k", jwk.K}, {"key_hsm", jwk.T}} {
		if m.value != nil {
			t.Errorf("JWK has private member %s (%d bytes)", m.name, len(m.value))
		}
	}
}

// sdkKeyCheckRawNoPrivate fails the test if any JSON object in body has a
// member that holds private key material.
func sdkKeyCheckRawNoPrivate(t *testing.T, body []byte) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for name, member := range v {
				if slices.Contains(sdkKeyPrivateMembers, name) {
					t.Errorf("response has private member %q: %s", name, body)
				}
				walk(member)
			}
		case []any:
			for _, item := range v {
				walk(item)
			}
		}
	}
	walk(doc)
}

// sdkKeyErrorMessage returns error.message of the response behind err.
func sdkKeyErrorMessage(t *testing.T, err error) string {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want an *azcore.ResponseError", err)
	}
	body, readErr := runtime.Payload(re.RawResponse)
	if readErr != nil {
		t.Fatalf("read error body: %v", readErr)
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Message
}

// sdkKeyWantForbidden checks that err is 403 Forbidden with the inner error
// code inner.
func sdkKeyWantForbidden(t *testing.T, err error, inner string) {
	t.Helper()
	re := sdkWantError(t, err, http.StatusForbidden, "Forbidden")
	if got := sdkInnerCode(t, re); got != inner {
		t.Errorf("inner error code = %q, want %q", got, inner)
	}
}

// sdkKeyCheckRecent checks that *got lies in [before, after], to the second.
func sdkKeyCheckRecent(t *testing.T, field string, got *time.Time, before, after time.Time) {
	t.Helper()
	if got == nil {
		t.Errorf("%s is missing", field)
		return
	}
	if got.Before(before.Truncate(time.Second)) || got.After(after) {
		t.Errorf("%s = %v, want between %v and %v", field, *got, before, after)
	}
}

// sdkKeyRSAPublic builds the RSA public key of a JWK.
func sdkKeyRSAPublic(t *testing.T, jwk *azkeys.JSONWebKey) *rsa.PublicKey {
	t.Helper()
	if len(jwk.N) == 0 || len(jwk.E) == 0 {
		t.Fatalf("JWK of kty %s has no n or e", sdkDeref(jwk.Kty))
	}
	e := new(big.Int).SetBytes(jwk.E)
	return &rsa.PublicKey{N: new(big.Int).SetBytes(jwk.N), E: int(e.Int64())}
}

// sdkKeyCurves maps the NIST curve names of JWKs to Go curves.
var sdkKeyCurves = map[azkeys.CurveName]elliptic.Curve{
	azkeys.CurveNameP256: elliptic.P256(), azkeys.CurveNameP384: elliptic.P384(), azkeys.CurveNameP521: elliptic.P521(),
}

// sdkKeyECPublic builds the ECDSA public key of a JWK on a NIST curve.
func sdkKeyECPublic(t *testing.T, jwk *azkeys.JSONWebKey) *ecdsa.PublicKey {
	t.Helper()
	curve := sdkKeyCurves[sdkDeref(jwk.Crv)]
	if curve == nil {
		t.Fatalf("JWK curve %q is not a NIST curve", sdkDeref(jwk.Crv))
	}
	point := append(append([]byte{4}, jwk.X...), jwk.Y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		t.Fatalf("JWK x/y is not a point of %s: %v", sdkDeref(jwk.Crv), err)
	}
	return pub
}

// sdkKeyHash returns the hash of a signature algorithm.
func sdkKeyHash(alg azkeys.SignatureAlgorithm) crypto.Hash {
	switch alg {
	case azkeys.SignatureAlgorithmRS384, azkeys.SignatureAlgorithmPS384, azkeys.SignatureAlgorithmES384:
		return crypto.SHA384
	case azkeys.SignatureAlgorithmRS512, azkeys.SignatureAlgorithmPS512, azkeys.SignatureAlgorithmES512:
		return crypto.SHA512
	}
	return crypto.SHA256
}

// sdkKeyDigest hashes msg with the hash of alg.
func sdkKeyDigest(alg azkeys.SignatureAlgorithm, msg string) []byte {
	switch sdkKeyHash(alg) {
	case crypto.SHA384:
		d := sha512.Sum384([]byte(msg))
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512([]byte(msg))
		return d[:]
	}
	d := sha256.Sum256([]byte(msg))
	return d[:]
}

// sdkKeyVerifyLocal verifies sig over digest with the public key of jwk,
// without the server. RS* is RSA PKCS #1 v1.5, PS* is RSA-PSS with a salt as
// long as the hash (RFC 7518, section 3.5), and ES* is ECDSA over the raw
// r||s of RFC 7518, section 3.4.
func sdkKeyVerifyLocal(t *testing.T, jwk *azkeys.JSONWebKey, alg azkeys.SignatureAlgorithm, digest, sig []byte) error {
	t.Helper()
	h := sdkKeyHash(alg)
	switch a := string(alg); {
	case strings.HasPrefix(a, "RS"):
		return rsa.VerifyPKCS1v15(sdkKeyRSAPublic(t, jwk), h, digest, sig)
	case strings.HasPrefix(a, "PS"):
		return rsa.VerifyPSS(sdkKeyRSAPublic(t, jwk), h, digest, sig,
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case alg == azkeys.SignatureAlgorithmES256K:
		pub, err := secp256k1.ParsePubKey(append(append([]byte{4}, jwk.X...), jwk.Y...))
		if err != nil {
			t.Fatalf("JWK x/y is not a secp256k1 point: %v", err)
		}
		if len(sig) != 64 {
			return fmt.Errorf("ES256K signature is %d bytes, want 64", len(sig))
		}
		var r, s secp256k1.ModNScalar
		if r.SetByteSlice(sig[:32]) || s.SetByteSlice(sig[32:]) {
			return errors.New("ES256K signature r or s overflows the group order")
		}
		if !secpecdsa.NewSignature(&r, &s).Verify(digest, pub) {
			return errors.New("ES256K signature does not verify")
		}
		return nil
	default:
		pub := sdkKeyECPublic(t, jwk)
		n := len(sig) / 2
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return fmt.Errorf("%s signature does not verify", alg)
		}
		return nil
	}
}

// sdkKeyRSAEncrypt encrypts plaintext locally with an RSA public key. RSA1_5
// is PKCS #1 v1.5, RSA-OAEP uses SHA-1 and MGF1-SHA-1, and RSA-OAEP-256 uses
// SHA-256 for both (RFC 7518, section 4.3).
func sdkKeyRSAEncrypt(t *testing.T, pub *rsa.PublicKey, alg azkeys.EncryptionAlgorithm, plaintext []byte) []byte {
	t.Helper()
	var out []byte
	var err error
	switch alg {
	case azkeys.EncryptionAlgorithmRSA15:
		out, err = rsa.EncryptPKCS1v15(rand.Reader, pub, plaintext)
	case azkeys.EncryptionAlgorithmRSAOAEP:
		out, err = rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, plaintext, nil)
	case azkeys.EncryptionAlgorithmRSAOAEP256:
		out, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, plaintext, nil)
	default:
		t.Fatalf("no local RSA encryption for %s", alg)
	}
	if err != nil {
		t.Fatalf("local %s encryption: %v", alg, err)
	}
	return out
}

// sdkKeyRandom returns n random bytes.
func sdkKeyRandom(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random bytes: %v", err)
	}
	return b
}

// sdkKeyCounting returns n bytes 0x00, 0x01, ..., the key pattern of the
// RFC 3394 test vectors.
func sdkKeyCounting(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func sdkKeyHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("decode hex %q: %v", s, err)
	}
	return b
}

func sdkKeyB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decode base64url %q: %v", s, err)
	}
	return b
}

// sdkKeyPad pads b to whole AES blocks as PKCS #7 does.
func sdkKeyPad(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	return append(append([]byte(nil), b...), bytes.Repeat([]byte{byte(n)}, n)...)
}

// sdkKeyCBC encrypts whole blocks with AES-CBC locally.
func sdkKeyCBC(t *testing.T, key, iv, plaintext []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatalf("AES key: %v", err)
	}
	out := make([]byte, len(plaintext))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, plaintext)
	return out
}

// sdkKeyGCMOpen decrypts AES-GCM locally.
func sdkKeyGCMOpen(key, iv, ciphertext, tag, aad []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return aead.Open(nil, iv, append(append([]byte(nil), ciphertext...), tag...), aad)
}

func TestKeysCreateAllTypes(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()
	rsaOps := []string{"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"}
	ecOps := []string{"sign", "verify"}
	octOps := []string{"encrypt", "decrypt", "wrapKey", "unwrapKey"}

	for _, tc := range []struct {
		name    string
		kty     azkeys.KeyType
		size    int32            // RSA and oct only
		crv     azkeys.CurveName // EC only
		coord   int              // EC coordinate length in bytes
		wantOps []string
	}{
		{name: "rsa-2048", kty: azkeys.KeyTypeRSA, size: 2048, wantOps: rsaOps},
		{name: "rsa-3072", kty: azkeys.KeyTypeRSA, size: 3072, wantOps: rsaOps},
		{name: "rsa-4096", kty: azkeys.KeyTypeRSA, size: 4096, wantOps: rsaOps},
		{name: "rsa-hsm-2048", kty: azkeys.KeyTypeRSAHSM, size: 2048, wantOps: rsaOps},
		{name: "rsa-hsm-3072", kty: azkeys.KeyTypeRSAHSM, size: 3072, wantOps: rsaOps},
		{name: "rsa-hsm-4096", kty: azkeys.KeyTypeRSAHSM, size: 4096, wantOps: rsaOps},
		{name: "ec-p256", kty: azkeys.KeyTypeEC, crv: azkeys.CurveNameP256, coord: 32, wantOps: ecOps},
		{name: "ec-p384", kty: azkeys.KeyTypeEC, crv: azkeys.CurveNameP384, coord: 48, wantOps: ecOps},
		{name: "ec-p521", kty: azkeys.KeyTypeEC, crv: azkeys.CurveNameP521, coord: 66, wantOps: ecOps},
		{name: "ec-p256k", kty: azkeys.KeyTypeEC, crv: azkeys.CurveNameP256K, coord: 32, wantOps: ecOps},
		{name: "ec-hsm-p256", kty: azkeys.KeyTypeECHSM, crv: azkeys.CurveNameP256, coord: 32, wantOps: ecOps},
		{name: "ec-hsm-p384", kty: azkeys.KeyTypeECHSM, crv: azkeys.CurveNameP384, coord: 48, wantOps: ecOps},
		{name: "ec-hsm-p521", kty: azkeys.KeyTypeECHSM, crv: azkeys.CurveNameP521, coord: 66, wantOps: ecOps},
		{name: "ec-hsm-p256k", kty: azkeys.KeyTypeECHSM, crv: azkeys.CurveNameP256K, coord: 32, wantOps: ecOps},
		{name: "oct-128", kty: azkeys.KeyTypeOct, size: 128, wantOps: octOps},
		{name: "oct-192", kty: azkeys.KeyTypeOct, size: 192, wantOps: octOps},
		{name: "oct-256", kty: azkeys.KeyTypeOct, size: 256, wantOps: octOps},
		{name: "oct-hsm-128", kty: azkeys.KeyTypeOctHSM, size: 128, wantOps: octOps},
		{name: "oct-hsm-192", kty: azkeys.KeyTypeOctHSM, size: 192, wantOps: octOps},
		{name: "oct-hsm-256", kty: azkeys.KeyTypeOctHSM, size: 256, wantOps: octOps},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := azkeys.CreateKeyParameters{Kty: to.Ptr(tc.kty)}
			if tc.size != 0 {
				p.KeySize = to.Ptr(tc.size)
			}
			if tc.crv != "" {
				p.Curve = to.Ptr(tc.crv)
			}
			before := time.Now()
			created := v.create(t, tc.name, p)
			after := time.Now()
			jwk := created.Key

			v.checkKID(t, jwk.KID, tc.name)
			if got := jwk.KID.Name(); got != tc.name {
				t.Errorf("kid name = %q, want %q", got, tc.name)
			}
			if got := sdkDeref(jwk.Kty); got != tc.kty {
				t.Errorf("kty = %q, want %q", got, tc.kty)
			}
			if got := sdkKeyOps(jwk.KeyOps); !slices.Equal(got, tc.wantOps) {
				t.Errorf("key_ops = %v, want %v", got, tc.wantOps)
			}
			switch {
			case tc.crv != "":
				if got := sdkDeref(jwk.Crv); got != tc.crv {
					t.Errorf("crv = %q, want %q", got, tc.crv)
				}
				if len(jwk.X) != tc.coord || len(jwk.Y) != tc.coord {
					t.Errorf("len(x), len(y) = %d, %d, want %d each", len(jwk.X), len(jwk.Y),
						tc.coord)
				}
				if jwk.N != nil || jwk.E != nil {
					t.Errorf("EC JWK has n or e")
				}
			case tc.kty == azkeys.KeyTypeRSA || tc.kty == azkeys.KeyTypeRSAHSM:
				if got := new(big.Int).SetBytes(jwk.N).BitLen(); got != int(tc.size) {
					t.Errorf("modulus = %d bits, want %d", got, tc.size)
				}
				if !bytes.Equal(jwk.E, []byte{1, 0, 1}) {
					t.Errorf("e = %x, want 010001 (65537)", jwk.E)
				}
				if jwk.Crv != nil || jwk.X != nil || jwk.Y != nil {
					t.Errorf("RSA JWK has crv, x or y")
				}
			default:
				if jwk.N != nil || jwk.E != nil || jwk.Crv != nil || jwk.X != nil || jwk.Y != nil {
					t.Errorf("symmetric JWK has public members: %+v", jwk)
				}
			}
			sdkKeyCheckNoPrivate(t, jwk)

			a := created.Attributes
			if a == nil {
				t.Fatalf("attributes are missing")
			}
			if !sdkDeref(a.Enabled) {
				t.Errorf("enabled = false, want true")
			}
			sdkKeyCheckRecent(t, "created", a.Created, before, after)
			sdkKeyCheckRecent(t, "updated", a.Updated, before, after)
			if a.Expires != nil || a.NotBefore != nil {
				t.Errorf("exp, nbf = %v, %v, want none", a.Expires, a.NotBefore)
			}

			// The raw body of the same version has no private member.
			r := v.raw(t, http.MethodGet, "/keys/"+tc.name+"/"+jwk.KID.Version(), "")
			if r.Status != http.StatusOK {
				t.Fatalf("GET key: %v", r)
			}
			sdkKeyCheckRawNoPrivate(t, r.Body)
			var body struct {
				Key map[string]json.RawMessage `json:"key"`
			}
			r.JSON(t, &body)
			if got := string(body.Key["kid"]); got != `"`+string(*jwk.KID)+`"` {
				t.Errorf("raw kid = %s, want %q", got, *jwk.KID)
			}
			if _, ok := body.Key["key_ops"]; !ok {
				t.Errorf("raw key has no key_ops member: %s", r.Body)
			}
		})
	}

	t.Run("KeyOpsEchoed", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			p    azkeys.CreateKeyParameters
			ops  []string
		}{
			{name: "ops-rsa", p: azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, ops: []string{"wrapKey", "unwrapKey"}},
			{name: "ops-rsa-order", p: azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA)}, ops: []string{"verify", "encrypt", "sign"}},
			{name: "ops-ec", p: azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, ops: []string{"verify"}},
			{name: "ops-oct", p: azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeOct)}, ops: []string{"unwrapKey", "wrapKey"}},
		} {
			tc.p.KeyOps = sdkKeyOpParams(tc.ops...)
			created := v.create(t, tc.name, tc.p)
			if got := sdkKeyOps(created.Key.KeyOps); !slices.Equal(got, tc.ops) {
				t.Errorf("%s: created key_ops = %v, want %v", tc.name, got, tc.ops)
			}
			got, err := v.c.GetKey(ctx, tc.name, "", nil)
			if err != nil {
				t.Fatalf("GetKey(%q): %v", tc.name, err)
			}
			if ops := sdkKeyOps(got.Key.KeyOps); !slices.Equal(ops, tc.ops) {
				t.Errorf("%s: read key_ops = %v, want %v", tc.name, ops, tc.ops)
			}
		}
	})

	t.Run("Rejected", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			p    azkeys.CreateKeyParameters
			code string
		}{
			{name: "ed25519", code: "KeyCurveNotSupported",
				p: azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC),
					Curve: to.Ptr(azkeys.CurveName("Ed25519"))}},
			{name: "ed25519-hsm", code: "KeyCurveNotSupported",
				p: azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeECHSM),
					Curve: to.Ptr(azkeys.CurveName("Ed25519"))}},
			{name: "rsa-1024", code: "BadParameter",
				p: azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA),
					KeySize: to.Ptr(int32(1024))}},
			{name: "rsa-exponent-3", code: "BadParameter",
				p: azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA),
					PublicExponent: to.Ptr(int32(3))}},
			{name: "oct-512", code: "BadParameter",
				p: azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeOct),
					KeySize: to.Ptr(int32(512))}},
			{name: "kty-foo", code: "BadParameter",
				p: azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyType("foo"))}},
			{name: "unknown-key-op", code: "BadParameter",
				p: azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA),
					KeyOps: sdkKeyOpParams("sign", "frobnicate")}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := v.c.CreateKey(ctx, tc.name, tc.p, nil)
				sdkWantError(t, err, http.StatusBadRequest, tc.code)
				_, err = v.c.GetKey(ctx, tc.name, "", nil)
				sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
			})
		}
	})

	t.Run("ExponentExplicit65537", func(t *testing.T) {
		created := v.create(t, "rsa-e65537", azkeys.CreateKeyParameters{
			Kty: to.Ptr(azkeys.KeyTypeRSA), PublicExponent: to.Ptr(int32(65537)),
		})
		if !bytes.Equal(created.Key.E, []byte{1, 0, 1}) {
			t.Errorf("e = %x, want 010001", created.Key.E)
		}
	})
}

// RFC 7515, appendix A.2: a 2048-bit RSA key as a JWK, a JWS signing input
// and its RS256 signature. PKCS #1 v1.5 signing is deterministic, so a
// server that holds this key must reproduce the signature byte for byte.
const (
	rfc7515N  = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
	rfc7515E  = "AQAB"
	rfc7515D  = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"
	rfc7515P  = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc"
	rfc7515Q  = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc"
	rfc7515DP = "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0"
	rfc7515DQ = "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU"
	rfc7515QI = "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"

	rfc7515SigningInput = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
	rfc7515Signature    = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
)

// sdkKeyRSAJWK returns the complete private JWK of priv.
func sdkKeyRSAJWK(priv *rsa.PrivateKey) *azkeys.JSONWebKey {
	priv.Precompute()
	return &azkeys.JSONWebKey{
		Kty: to.Ptr(azkeys.KeyTypeRSA),
		N:   priv.N.Bytes(), E: big.NewInt(int64(priv.E)).Bytes(), D: priv.D.Bytes(),
		P: priv.Primes[0].Bytes(), Q: priv.Primes[1].Bytes(),
		DP: priv.Precomputed.Dp.Bytes(), DQ: priv.Precomputed.Dq.Bytes(), QI: priv.Precomputed.Qinv.Bytes(),
	}
}

// sdkKeyECSignLocal signs digest with priv and returns the raw r||s form.
func sdkKeyECSignLocal(t *testing.T, priv *ecdsa.PrivateKey, digest []byte) []byte {
	t.Helper()
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest)
	if err != nil {
		t.Fatalf("local ECDSA signature: %v", err)
	}
	n := (priv.Curve.Params().BitSize + 7) / 8
	sig := make([]byte, 2*n)
	r.FillBytes(sig[:n])
	s.FillBytes(sig[n:])
	return sig
}

func TestKeysImportJWK(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()

	t.Run("RFC7515Vector", func(t *testing.T) {
		jwk := &azkeys.JSONWebKey{
			Kty: to.Ptr(azkeys.KeyTypeRSA),
			N:   sdkKeyB64(t, rfc7515N), E: sdkKeyB64(t, rfc7515E), D: sdkKeyB64(t, rfc7515D),
			P: sdkKeyB64(t, rfc7515P), Q: sdkKeyB64(t, rfc7515Q),
			DP: sdkKeyB64(t, rfc7515DP), DQ: sdkKeyB64(t, rfc7515DQ), QI: sdkKeyB64(t, rfc7515QI),
			KeyOps: sdkKeyOpParams("sign", "verify"),
		}
		imported, err := v.c.ImportKey(ctx, "rfc7515",
			azkeys.ImportKeyParameters{Key: jwk, HSM: to.Ptr(false)}, nil)
		if err != nil {
			t.Fatalf("ImportKey: %v", err)
		}
		v.checkKID(t, imported.Key.KID, "rfc7515")
		if got := sdkDeref(imported.Key.Kty); got != azkeys.KeyTypeRSA {
			t.Errorf("kty = %q, want RSA", got)
		}
		if !bytes.Equal(imported.Key.N, jwk.N) || !bytes.Equal(imported.Key.E, jwk.E) {
			t.Errorf("n/e differ from the imported key")
		}
		if got := sdkKeyOps(imported.Key.KeyOps); !slices.Equal(got, []string{"sign", "verify"}) {
			t.Errorf("key_ops = %v, want [sign verify]", got)
		}
		if imported.Attributes == nil || !sdkDeref(imported.Attributes.Enabled) {
			t.Errorf("attributes = %+v, want enabled", imported.Attributes)
		}
		sdkKeyCheckNoPrivate(t, imported.Key)

		digest := sha256.Sum256([]byte(rfc7515SigningInput))
		signed, err := v.c.Sign(ctx, "rfc7515", imported.Key.KID.Version(),
			sdkKeySignParams(azkeys.SignatureAlgorithmRS256, digest[:]), nil)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if want := sdkKeyB64(t, rfc7515Signature); !bytes.Equal(signed.Result, want) {
			t.Errorf("RS256 signature = %x, want the RFC 7515 A.2 signature %x", signed.Result,
				want)
		}
		verified, err := v.c.Verify(ctx, "rfc7515", "",
			sdkKeyVerifyParams(azkeys.SignatureAlgorithmRS256, digest[:],
				sdkKeyB64(t, rfc7515Signature)), nil)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if !sdkDeref(verified.Value) {
			t.Errorf("Verify of the RFC 7515 signature = false, want true")
		}
	})

	t.Run("RSAAsHSM", func(t *testing.T) {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatalf("generate RSA key: %v", err)
		}
		jwk := sdkKeyRSAJWK(priv)
		imported, err := v.c.ImportKey(ctx, "rsa-import",
			azkeys.ImportKeyParameters{Key: jwk, HSM: to.Ptr(true)}, nil)
		if err != nil {
			t.Fatalf("ImportKey: %v", err)
		}
		if got := sdkDeref(imported.Key.Kty); got != azkeys.KeyTypeRSAHSM {
			t.Errorf("kty = %q, want RSA-HSM", got)
		}
		if !bytes.Equal(imported.Key.N, jwk.N) || !bytes.Equal(imported.Key.E, jwk.E) {
			t.Errorf("n/e differ from the imported key")
		}
		wantOps := []string{"encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"}
		if got := sdkKeyOps(imported.Key.KeyOps); !slices.Equal(got, wantOps) {
			t.Errorf("key_ops = %v, want the RSA defaults %v", got, wantOps)
		}
		sdkKeyCheckNoPrivate(t, imported.Key)
		r := v.raw(t, http.MethodGet, "/keys/rsa-import/", "")
		if r.Status != http.StatusOK {
			t.Fatalf("GET key: %v", r)
		}
		sdkKeyCheckRawNoPrivate(t, r.Body)

		// A local PS256 signature verifies on the server.
		digest := sdkKeyDigest(azkeys.SignatureAlgorithmPS256, "imported key")
		local, err := rsa.SignPSS(rand.Reader, priv, crypto.SHA256, digest,
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			t.Fatalf("local PS256 signature: %v", err)
		}
		verified, err := v.c.Verify(ctx, "rsa-import", "",
			sdkKeyVerifyParams(azkeys.SignatureAlgorithmPS256, digest, local), nil)
		if err != nil || !sdkDeref(verified.Value) {
			t.Errorf("server Verify of a local PS256 signature = %v, %v; want true, nil",
				sdkDeref(verified.Value), err)
		}

		// The server's RS256 signature equals the local one (PKCS #1 v1.5 is
		// deterministic) and verifies with the private key's public half.
		signed, err := v.c.Sign(ctx, "rsa-import", "",
			sdkKeySignParams(azkeys.SignatureAlgorithmRS256, digest), nil)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if err := rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, digest, signed.Result); err != nil {
			t.Errorf("local verification of the server's RS256 signature: %v", err)
		}
		want, _ := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, digest)
		if !bytes.Equal(signed.Result, want) {
			t.Errorf("server RS256 signature differs from the local one")
		}

		// The server encrypts with the imported key: the private key decrypts.
		plaintext := sdkKeyRandom(t, 32)
		enc, err := v.c.Encrypt(ctx, "rsa-import", "",
			sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP256, plaintext), nil)
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		got, err := rsa.DecryptOAEP(sha256.New(), nil, priv, enc.Result, nil)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Errorf("local RSA-OAEP-256 decryption of the server's ciphertext = %x, %v; want %x",
				got, err, plaintext)
		}
	})

	for _, tc := range []struct {
		name string
		crv  azkeys.CurveName
		alg  azkeys.SignatureAlgorithm
		hsm  bool
		kty  azkeys.KeyType
	}{
		{name: "EC-P-256", crv: azkeys.CurveNameP256, alg: azkeys.SignatureAlgorithmES256, kty: azkeys.KeyTypeEC},
		{name: "EC-P-384-HSM", crv: azkeys.CurveNameP384, alg: azkeys.SignatureAlgorithmES384, hsm: true, kty: azkeys.KeyTypeECHSM},
		{name: "EC-P-521", crv: azkeys.CurveNameP521, alg: azkeys.SignatureAlgorithmES512, kty: azkeys.KeyTypeEC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			priv, err := ecdsa.GenerateKey(sdkKeyCurves[tc.crv], rand.Reader)
			if err != nil {
				t.Fatalf("generate EC key: %v", err)
			}
			d, err := priv.Bytes()
			if err != nil {
				t.Fatalf("EC private key bytes: %v", err)
			}
			point, err := priv.PublicKey.Bytes()
			if err != nil {
				t.Fatalf("EC public key bytes: %v", err)
			}
			n := len(d)
			jwk := &azkeys.JSONWebKey{
				Kty: to.Ptr(azkeys.KeyTypeEC), Crv: to.Ptr(tc.crv), D: d, X: point[1 : 1+n], Y: point[1+n:],
			}
			name := strings.ToLower(tc.name) + "-import"
			imported, err := v.c.ImportKey(ctx, name,
				azkeys.ImportKeyParameters{Key: jwk, HSM: to.Ptr(tc.hsm)}, nil)
			if err != nil {
				t.Fatalf("ImportKey: %v", err)
			}
			if got := sdkDeref(imported.Key.Kty); got != tc.kty {
				t.Errorf("kty = %q, want %q", got, tc.kty)
			}
			if got := sdkDeref(imported.Key.Crv); got != tc.crv {
				t.Errorf("crv = %q, want %q", got, tc.crv)
			}
			if !bytes.Equal(imported.Key.X, jwk.X) || !bytes.Equal(imported.Key.Y, jwk.Y) {
				t.Errorf("x/y differ from the imported key")
			}
			if got := sdkKeyOps(imported.Key.KeyOps); !slices.Equal(got, []string{"sign", "verify"}) {
				t.Errorf("key_ops = %v, want [sign verify]", got)
			}
			sdkKeyCheckNoPrivate(t, imported.Key)

			digest := sdkKeyDigest(tc.alg, "imported EC key")
			verified, err := v.c.Verify(ctx, name, "",
				sdkKeyVerifyParams(tc.alg, digest, sdkKeyECSignLocal(t, priv, digest)), nil)
			if err != nil || !sdkDeref(verified.Value) {
				t.Errorf("server Verify of a local %s signature = %v, %v; want true, nil", tc.alg,
					sdkDeref(verified.Value), err)
			}
			signed, err := v.c.Sign(ctx, name, "", sdkKeySignParams(tc.alg, digest), nil)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if len(signed.Result) != 2*n {
				t.Fatalf("%s signature is %d bytes, want %d", tc.alg, len(signed.Result), 2*n)
			}
			r, s := new(big.Int).SetBytes(signed.Result[:n]), new(big.Int).SetBytes(signed.Result[n:])
			if !ecdsa.Verify(&priv.PublicKey, digest, r, s) {
				t.Errorf("the server's %s signature does not verify with the imported public key",
					tc.alg)
			}
		})
	}

	t.Run("OctAsHSM", func(t *testing.T) {
		raw := sdkKeyRandom(t, 32)
		imported, err := v.c.ImportKey(ctx, "oct-import", azkeys.ImportKeyParameters{
			Key: &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeOct), K: raw,
				KeyOps: sdkKeyOpParams("encrypt", "decrypt")},
			HSM: to.Ptr(true),
		}, nil)
		if err != nil {
			t.Fatalf("ImportKey: %v", err)
		}
		if got := sdkDeref(imported.Key.Kty); got != azkeys.KeyTypeOctHSM {
			t.Errorf("kty = %q, want oct-HSM", got)
		}
		if got := sdkKeyOps(imported.Key.KeyOps); !slices.Equal(got, []string{"encrypt", "decrypt"}) {
			t.Errorf("key_ops = %v, want [encrypt decrypt]", got)
		}
		sdkKeyCheckNoPrivate(t, imported.Key)
		r := v.raw(t, http.MethodGet, "/keys/oct-import/", "")
		if r.Status != http.StatusOK {
			t.Fatalf("GET key: %v", r)
		}
		sdkKeyCheckRawNoPrivate(t, r.Body)

		// The server encrypts with the imported bytes, not a key of its own.
		iv := sdkKeyRandom(t, 16)
		plaintext := sdkKeyRandom(t, 48)
		enc, err := v.c.Encrypt(ctx, "oct-import", "", azkeys.KeyOperationParameters{
			Algorithm: to.Ptr(azkeys.EncryptionAlgorithmA256CBC), Value: plaintext, IV: iv,
		}, nil)
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		if want := sdkKeyCBC(t, raw, iv, plaintext); !bytes.Equal(enc.Result, want) {
			t.Errorf("A256CBC ciphertext = %x, want %x (local AES-CBC with the imported key)",
				enc.Result, want)
		}
	})

	t.Run("Rejected", func(t *testing.T) {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatalf("generate RSA key: %v", err)
		}
		wrongD := sdkKeyRSAJWK(priv)
		wrongD.D = new(big.Int).Add(priv.D, big.NewInt(2)).Bytes()
		ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("generate EC key: %v", err)
		}
		point, _ := ecPriv.PublicKey.Bytes()

		for _, tc := range []struct {
			name string
			jwk  *azkeys.JSONWebKey
			code string // BadParameter when empty
		}{
			{name: "rsa-public-only", jwk: &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeRSA), N: priv.N.Bytes(), E: []byte{1, 0, 1}}},
			{name: "rsa-with-k", jwk: &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeRSA), K: sdkKeyRandom(t, 32)}},
			{name: "rsa-wrong-d", jwk: wrongD},
			{name: "ec-without-d", jwk: &azkeys.JSONWebKey{
				Kty: to.Ptr(azkeys.KeyTypeEC), Crv: to.Ptr(azkeys.CurveNameP256), X: point[1:33], Y: point[33:],
			}},
			{name: "ec-point-not-of-d", jwk: &azkeys.JSONWebKey{
				Kty: to.Ptr(azkeys.KeyTypeEC), Crv: to.Ptr(azkeys.CurveNameP256),
				D: sdkKeyRandom(t, 32), X: point[1:33], Y: point[33:],
			}},
			{name: "ec-curve-ed25519", code: "KeyCurveNotSupported", jwk: &azkeys.JSONWebKey{
				Kty: to.Ptr(azkeys.KeyTypeEC), Crv: to.Ptr(azkeys.CurveName("Ed25519")), D: sdkKeyRandom(t, 32),
			}},
			{name: "oct-10-bytes", jwk: &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeOct), K: sdkKeyRandom(t, 10)}},
			{name: "oct-without-k", jwk: &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeOct)}},
			{name: "kty-foo", jwk: &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyType("foo")), K: sdkKeyRandom(t, 32)}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code := tc.code
				if code == "" {
					code = "BadParameter"
				}
				_, err := v.c.ImportKey(ctx, tc.name, azkeys.ImportKeyParameters{Key: tc.jwk}, nil)
				sdkWantError(t, err, http.StatusBadRequest, code)
				_, err = v.c.GetKey(ctx, tc.name, "", nil)
				sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
			})
		}
	})
}

func TestKeysGetAndList(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()

	// list-a has two versions, list-b one, list-c three.
	created := map[string][]azkeys.KeyBundle{}
	for _, name := range []string{"list-a", "list-b", "list-c", "list-a", "list-c", "list-c"} {
		created[name] = append(created[name], v.createEC(t, name, azkeys.CurveNameP256))
	}

	t.Run("Latest", func(t *testing.T) {
		var raw *http.Response
		got, err := v.c.GetKey(policy.WithCaptureResponse(ctx, &raw), "list-c", "", nil)
		if err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		if raw.Request.URL.Path != "/keys/list-c/" {
			t.Errorf("GetKey latest path = %q, want /keys/list-c/ (the SDK's trailing slash)",
				raw.Request.URL.Path)
		}
		latest := created["list-c"][2]
		if *got.Key.KID != *latest.Key.KID {
			t.Errorf("kid = %q, want the latest %q", *got.Key.KID, *latest.Key.KID)
		}
		if !bytes.Equal(got.Key.X, latest.Key.X) {
			t.Errorf("x differs from the latest version's")
		}
		sdkKeyCheckNoPrivate(t, got.Key)
	})

	t.Run("ByVersion", func(t *testing.T) {
		for _, want := range created["list-c"] {
			got, err := v.c.GetKey(ctx, "list-c", want.Key.KID.Version(), nil)
			if err != nil {
				t.Fatalf("GetKey(%s): %v", want.Key.KID.Version(), err)
			}
			if *got.Key.KID != *want.Key.KID {
				t.Errorf("kid = %q, want %q", *got.Key.KID, *want.Key.KID)
			}
			if !bytes.Equal(got.Key.X, want.Key.X) || !bytes.Equal(got.Key.Y, want.Key.Y) {
				t.Errorf("version %s: x/y differ from the created key", want.Key.KID.Version())
			}
		}
		if bytes.Equal(created["list-c"][0].Key.X, created["list-c"][1].Key.X) {
			t.Errorf("two versions share a public key: each version must have new material")
		}
	})

	t.Run("Missing", func(t *testing.T) {
		_, err := v.c.GetKey(ctx, "list-c", strings.Repeat("0", 32), nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		_, err = v.c.GetKey(ctx, "no-such-key", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		pager := v.c.NewListKeyPropertiesVersionsPager("no-such-key", nil)
		_, err = pager.NextPage(ctx)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
	})

	t.Run("ListKeys", func(t *testing.T) {
		// Pages of one item make the pager follow nextLink.
		opts := v.in.ClientOptions()
		opts.PerCallPolicies = append(opts.PerCallPolicies, sdkMaxResultsPolicy{pageSize: 1})
		c, err := azkeys.NewClient(v.base, v.in.Credential(t),
			&azkeys.ClientOptions{ClientOptions: opts})
		if err != nil {
			t.Fatalf("keys client: %v", err)
		}
		var kids []string
		pages := 0
		pager := c.NewListKeyPropertiesPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list keys: %v", err)
			}
			pages++
			for _, item := range page.Value {
				kids = append(kids, string(*item.KID))
				if item.KID.Version() != "" {
					t.Errorf("list item kid %q has a version, want none", *item.KID)
				}
				if item.Attributes == nil || !sdkDeref(item.Attributes.Enabled) {
					t.Errorf("list item %q: attributes = %+v, want enabled", *item.KID,
						item.Attributes)
				}
			}
		}
		want := []string{v.base + "/keys/list-a", v.base + "/keys/list-b", v.base + "/keys/list-c"}
		if !slices.Equal(kids, want) {
			t.Errorf("listed kids = %v, want %v", kids, want)
		}
		if pages < 3 {
			t.Errorf("pages = %d, want at least 3 with maxresults=1", pages)
		}

		// The raw list items carry no key material at all.
		r := v.raw(t, http.MethodGet, "/keys", "")
		if r.Status != http.StatusOK {
			t.Fatalf("GET /keys: %v", r)
		}
		var body struct {
			Value []map[string]json.RawMessage `json:"value"`
		}
		r.JSON(t, &body)
		if len(body.Value) != 3 {
			t.Fatalf("raw list has %d items, want 3: %s", len(body.Value), r.Body)
		}
		for _, item := range body.Value {
			for member := range item {
				if !slices.Contains([]string{"kid", "attributes", "tags", "managed"}, member) {
					t.Errorf("list item has member %q, want only kid, attributes, tags, managed: %s", member, r.Body)
				}
			}
		}
	})

	t.Run("ListVersions", func(t *testing.T) {
		var want []string
		for _, k := range created["list-c"] {
			want = append(want, k.Key.KID.Version())
		}
		slices.Sort(want)
		if got := v.versions(t, "list-c"); !slices.Equal(got, want) {
			t.Errorf("versions = %v, want %v", got, want)
		}
		pager := v.c.NewListKeyPropertiesVersionsPager("list-c", nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list versions: %v", err)
			}
			for _, item := range page.Value {
				v.checkKID(t, item.KID, "list-c")
			}
		}
		r := v.raw(t, http.MethodGet, "/keys/list-c/versions", "")
		if r.Status != http.StatusOK {
			t.Fatalf("GET versions: %v", r)
		}
		sdkKeyCheckRawNoPrivate(t, r.Body)
		if bytes.Contains(r.Body, []byte(`"x"`)) || bytes.Contains(r.Body, []byte(`"key"`)) {
			t.Errorf("version list carries key material: %s", r.Body)
		}
	})
}

func TestKeysUpdateAttributes(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()
	first := v.createRSA(t, "upd", 2048)
	second := v.createRSA(t, "upd", 2048)
	v1 := first.Key.KID.Version()

	t.Run("OneVersion", func(t *testing.T) {
		exp := time.Now().Add(48 * time.Hour).Truncate(time.Second)
		nbf := time.Now().Add(-time.Hour).Truncate(time.Second)
		updated, err := v.c.UpdateKey(ctx, "upd", v1, azkeys.UpdateKeyParameters{
			KeyOps:        sdkKeyOpParams("sign", "verify"),
			Tags:          map[string]*string{"env": to.Ptr("test")},
			KeyAttributes: &azkeys.KeyAttributes{Expires: &exp, NotBefore: &nbf},
		}, nil)
		if err != nil {
			t.Fatalf("UpdateKey: %v", err)
		}
		if *updated.Key.KID != *first.Key.KID {
			t.Errorf("kid = %q, want %q", *updated.Key.KID, *first.Key.KID)
		}
		if got := sdkKeyOps(updated.Key.KeyOps); !slices.Equal(got, []string{"sign", "verify"}) {
			t.Errorf("key_ops = %v, want [sign verify]", got)
		}
		if got := sdkDeref(updated.Tags["env"]); got != "test" || len(updated.Tags) != 1 {
			t.Errorf("tags = %v, want env=test", updated.Tags)
		}
		if got := sdkDeref(updated.Attributes.Expires); !got.Equal(exp) {
			t.Errorf("exp = %v, want %v", got, exp)
		}
		if got := sdkDeref(updated.Attributes.NotBefore); !got.Equal(nbf) {
			t.Errorf("nbf = %v, want %v", got, nbf)
		}
		if !bytes.Equal(updated.Key.N, first.Key.N) {
			t.Errorf("update changed the key material")
		}

		// The stored version has the changes; the latest version has none.
		got, err := v.c.GetKey(ctx, "upd", v1, nil)
		if err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		if ops := sdkKeyOps(got.Key.KeyOps); !slices.Equal(ops, []string{"sign", "verify"}) {
			t.Errorf("stored key_ops = %v, want [sign verify]", ops)
		}
		latest, err := v.c.GetKey(ctx, "upd", "", nil)
		if err != nil {
			t.Fatalf("GetKey latest: %v", err)
		}
		if *latest.Key.KID != *second.Key.KID || len(latest.Tags) != 0 || latest.Attributes.Expires != nil {
			t.Errorf("latest version changed: kid %q, tags %v, exp %v", *latest.Key.KID,
				latest.Tags, latest.Attributes.Expires)
		}
		if ops := sdkKeyOps(latest.Key.KeyOps); len(ops) != 6 {
			t.Errorf("latest key_ops = %v, want the six RSA defaults", ops)
		}

		// key_ops is enforced at once: v1 no longer encrypts.
		_, err = v.c.Encrypt(ctx, "upd", v1,
			sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, []byte("x")), nil)
		sdkKeyWantForbidden(t, err, "KeyOperationNotAllowed")
	})

	t.Run("LatestVersion", func(t *testing.T) {
		updated, err := v.c.UpdateKey(ctx, "upd", "", azkeys.UpdateKeyParameters{
			Tags: map[string]*string{"owner": to.Ptr("team-a"), "tier": to.Ptr("1")},
		}, nil)
		if err != nil {
			t.Fatalf("UpdateKey: %v", err)
		}
		if *updated.Key.KID != *second.Key.KID {
			t.Errorf("kid = %q, want the latest %q", *updated.Key.KID, *second.Key.KID)
		}
		if len(updated.Tags) != 2 || sdkDeref(updated.Tags["owner"]) != "team-a" {
			t.Errorf("tags = %v, want owner=team-a tier=1", updated.Tags)
		}
		if ops := sdkKeyOps(updated.Key.KeyOps); len(ops) != 6 {
			t.Errorf("key_ops = %v, want unchanged (six RSA defaults)", ops)
		}
	})

	t.Run("DisableAndEnable", func(t *testing.T) {
		updated, err := v.c.UpdateKey(ctx, "upd", "", azkeys.UpdateKeyParameters{
			KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)},
		}, nil)
		if err != nil {
			t.Fatalf("UpdateKey: %v", err)
		}
		if sdkDeref(updated.Attributes.Enabled) {
			t.Errorf("enabled = true after disabling")
		}
		_, err = v.c.GetKey(ctx, "upd", "", nil)
		sdkKeyWantForbidden(t, err, "KeyDisabled")

		// A disabled key is still listed, as disabled.
		pager := v.c.NewListKeyPropertiesPager(nil)
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list keys: %v", err)
		}
		if len(page.Value) != 1 || sdkDeref(page.Value[0].Attributes.Enabled) {
			t.Errorf("list = %+v, want one disabled key", page.Value)
		}

		if _, err := v.c.UpdateKey(ctx, "upd", "", azkeys.UpdateKeyParameters{
			KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(true)},
		}, nil); err != nil {
			t.Fatalf("UpdateKey enable: %v", err)
		}
		if _, err := v.c.GetKey(ctx, "upd", "", nil); err != nil {
			t.Errorf("GetKey after enabling: %v", err)
		}
	})

	t.Run("Rejected", func(t *testing.T) {
		_, err := v.c.UpdateKey(ctx, "upd", "",
			azkeys.UpdateKeyParameters{KeyOps: sdkKeyOpParams("frobnicate")}, nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		nbf := time.Now().Add(time.Hour)
		exp := time.Now()
		_, err = v.c.UpdateKey(ctx, "upd", "", azkeys.UpdateKeyParameters{
			KeyAttributes: &azkeys.KeyAttributes{NotBefore: &nbf, Expires: &exp},
		}, nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		_, err = v.c.UpdateKey(ctx, "no-such-key", "",
			azkeys.UpdateKeyParameters{Tags: map[string]*string{}}, nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
	})
}

func TestKeysDeleteRecoverPurge(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()
	v.createEC(t, "del", azkeys.CurveNameP256)
	latest := v.createEC(t, "del", azkeys.CurveNameP256)
	versions := v.versions(t, "del")
	if _, err := v.c.UpdateKeyRotationPolicy(ctx, "del", sdkKeyPolicy(azkeys.KeyRotationPolicyActionRotate, "P30D", "", ""), nil); err != nil {
		t.Fatalf("UpdateKeyRotationPolicy: %v", err)
	}
	// policyRotates reports whether the key's policy is the Rotate one set
	// above rather than the default.
	policyRotates := func(t *testing.T) bool {
		t.Helper()
		p, err := v.c.GetKeyRotationPolicy(ctx, "del", nil)
		if err != nil {
			t.Fatalf("GetKeyRotationPolicy: %v", err)
		}
		return len(p.LifetimeActions) == 1 && sdkDeref(p.LifetimeActions[0].Action.Type) == azkeys.KeyRotationPolicyActionRotate
	}

	before := time.Now()
	deleted, err := v.c.DeleteKey(ctx, "del", nil)
	after := time.Now()
	if err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	if got, want := sdkDeref(deleted.RecoveryID), v.base+"/deletedkeys/del"; got != want {
		t.Errorf("recoveryId = %q, want %q", got, want)
	}
	if *deleted.Key.KID != *latest.Key.KID {
		t.Errorf("deleted kid = %q, want the latest %q", *deleted.Key.KID, *latest.Key.KID)
	}
	sdkKeyCheckRecent(t, "deletedDate", deleted.DeletedDate, before, after)
	if deleted.DeletedDate != nil && deleted.ScheduledPurgeDate != nil {
		if got := deleted.ScheduledPurgeDate.Sub(*deleted.DeletedDate); got != sdkDefaultRetention {
			t.Errorf("scheduledPurgeDate - deletedDate = %v, want %v", got, sdkDefaultRetention)
		}
	} else {
		t.Errorf("deletedDate or scheduledPurgeDate is missing")
	}
	sdkKeyCheckNoPrivate(t, deleted.Key)

	t.Run("GoneWhileDeleted", func(t *testing.T) {
		_, err := v.c.GetKey(ctx, "del", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		_, err = v.c.Sign(ctx, "del", "",
			sdkKeySignParams(azkeys.SignatureAlgorithmES256, make([]byte, 32)), nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		_, err = v.c.DeleteKey(ctx, "del", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		_, err = v.c.GetKeyRotationPolicy(ctx, "del", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		_, err = v.c.RotateKey(ctx, "del", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
	})

	t.Run("GetAndListDeleted", func(t *testing.T) {
		got, err := v.c.GetDeletedKey(ctx, "del", nil)
		if err != nil {
			t.Fatalf("GetDeletedKey: %v", err)
		}
		if *got.Key.KID != *latest.Key.KID || sdkDeref(got.RecoveryID) != v.base+"/deletedkeys/del" {
			t.Errorf("deleted key = kid %q, recoveryId %q", *got.Key.KID, sdkDeref(got.RecoveryID))
		}
		r := v.raw(t, http.MethodGet, "/deletedkeys/del", "")
		if r.Status != http.StatusOK {
			t.Fatalf("GET deleted key: %v", r)
		}
		sdkKeyCheckRawNoPrivate(t, r.Body)

		var names []string
		pager := v.c.NewListDeletedKeyPropertiesPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list deleted keys: %v", err)
			}
			for _, item := range page.Value {
				names = append(names, item.KID.Name())
				if got, want := string(*item.KID), v.base+"/keys/del"; got != want {
					t.Errorf("deleted item kid = %q, want %q", got, want)
				}
				if sdkDeref(item.RecoveryID) != v.base+"/deletedkeys/del" || item.DeletedDate == nil || item.ScheduledPurgeDate == nil {
					t.Errorf("deleted item = recoveryId %q, deletedDate %v, scheduledPurgeDate %v",
						sdkDeref(item.RecoveryID), item.DeletedDate, item.ScheduledPurgeDate)
				}
			}
		}
		if !slices.Equal(names, []string{"del"}) {
			t.Errorf("deleted keys = %v, want [del]", names)
		}
	})

	t.Run("NameReuseConflict", func(t *testing.T) {
		_, err := v.c.CreateKey(ctx, "del",
			azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil)
		re := sdkWantError(t, err, http.StatusConflict, "Conflict")
		if got := sdkInnerCode(t, re); got != "ObjectIsDeletedButRecoverable" {
			t.Errorf("CreateKey inner code = %q, want ObjectIsDeletedButRecoverable", got)
		}
		_, err = v.c.ImportKey(ctx, "del", azkeys.ImportKeyParameters{
			Key: &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeOct), K: sdkKeyRandom(t, 32)},
		}, nil)
		re = sdkWantError(t, err, http.StatusConflict, "Conflict")
		if got := sdkInnerCode(t, re); got != "ObjectIsDeletedButRecoverable" {
			t.Errorf("ImportKey inner code = %q, want ObjectIsDeletedButRecoverable", got)
		}
	})

	t.Run("Recover", func(t *testing.T) {
		recovered, err := v.c.RecoverDeletedKey(ctx, "del", nil)
		if err != nil {
			t.Fatalf("RecoverDeletedKey: %v", err)
		}
		if *recovered.Key.KID != *latest.Key.KID {
			t.Errorf("recovered kid = %q, want %q", *recovered.Key.KID, *latest.Key.KID)
		}
		if got := v.versions(t, "del"); !slices.Equal(got, versions) {
			t.Errorf("versions after recovery = %v, want %v", got, versions)
		}
		got, err := v.c.GetKey(ctx, "del", "", nil)
		if err != nil {
			t.Fatalf("GetKey after recovery: %v", err)
		}
		if !bytes.Equal(got.Key.X, latest.Key.X) {
			t.Errorf("recovered key material differs")
		}
		_, err = v.c.GetDeletedKey(ctx, "del", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		_, err = v.c.RecoverDeletedKey(ctx, "del", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		if !policyRotates(t) {
			t.Errorf("rotation policy lost by delete and recover")
		}
	})

	t.Run("Purge", func(t *testing.T) {
		if _, err := v.c.DeleteKey(ctx, "del", nil); err != nil {
			t.Fatalf("DeleteKey: %v", err)
		}
		if _, err := v.c.PurgeDeletedKey(ctx, "del", nil); err != nil {
			t.Fatalf("PurgeDeletedKey: %v", err)
		}
		_, err := v.c.GetDeletedKey(ctx, "del", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		_, err = v.c.PurgeDeletedKey(ctx, "del", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		page, err := v.c.NewListDeletedKeyPropertiesPager(nil).NextPage(ctx)
		if err != nil {
			t.Fatalf("list deleted keys: %v", err)
		}
		if len(page.Value) != 0 {
			t.Errorf("deleted keys after purge = %d items, want 0", len(page.Value))
		}

		// The name is free again and starts with one new version.
		fresh := v.createEC(t, "del", azkeys.CurveNameP256)
		if got := v.versions(t, "del"); !slices.Equal(got, []string{fresh.Key.KID.Version()}) {
			t.Errorf("versions after re-creation = %v, want only %s", got, fresh.Key.KID.Version())
		}
		if policyRotates(t) {
			t.Errorf("the purged key's rotation policy applies to the new key of the same name")
		}
	})
}

func TestKeysBackupRestore(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()

	// Three versions: two created, one rotated; plus a rotation policy.
	first := v.createRSA(t, "bk", 2048)
	v.createRSA(t, "bk", 2048)
	policyIn := azkeys.KeyRotationPolicy{
		LifetimeActions: []*azkeys.LifetimeAction{{
			Trigger: &azkeys.LifetimeActionTrigger{TimeAfterCreate: to.Ptr("P30D")},
			Action:  &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionRotate)},
		}},
		Attributes: &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P90D")},
	}
	stored, err := v.c.UpdateKeyRotationPolicy(ctx, "bk", policyIn, nil)
	if err != nil {
		t.Fatalf("UpdateKeyRotationPolicy: %v", err)
	}
	rotated, err := v.c.RotateKey(ctx, "bk", nil)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	versions := v.versions(t, "bk")
	if len(versions) != 3 {
		t.Fatalf("versions = %v, want 3", versions)
	}
	plaintext := []byte("protected before the backup")
	ciphertext := sdkKeyRSAEncrypt(t, sdkKeyRSAPublic(t, first.Key),
		azkeys.EncryptionAlgorithmRSAOAEP, plaintext)

	backup, err := v.c.BackupKey(ctx, "bk", nil)
	if err != nil {
		t.Fatalf("BackupKey: %v", err)
	}
	if len(backup.Value) == 0 {
		t.Fatalf("backup blob is empty")
	}
	if bytes.Contains(backup.Value, first.Key.N) {
		t.Errorf("backup blob contains the modulus in the clear")
	}

	_, err = v.c.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: backup.Value}, nil)
	sdkWantError(t, err, http.StatusConflict, "Conflict")

	if _, err := v.c.DeleteKey(ctx, "bk", nil); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	_, err = v.c.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: backup.Value}, nil)
	sdkWantError(t, err, http.StatusConflict, "Conflict")
	if _, err := v.c.PurgeDeletedKey(ctx, "bk", nil); err != nil {
		t.Fatalf("PurgeDeletedKey: %v", err)
	}

	t.Run("DamagedBlob", func(t *testing.T) {
		for i, pos := range []int{0, len(backup.Value) / 2, len(backup.Value) - 1} {
			damaged := slices.Clone(backup.Value)
			damaged[pos] ^= 0x01
			_, err := v.c.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: damaged}, nil)
			if err == nil {
				t.Fatalf("case %d: RestoreKey of a blob with byte %d flipped succeeded", i, pos)
			}
			sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		}
		_, err := v.c.RestoreKey(ctx,
			azkeys.RestoreKeyParameters{KeyBackup: backup.Value[:len(backup.Value)/2]}, nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		_, err = v.c.GetKey(ctx, "bk", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
	})

	t.Run("SecretBlob", func(t *testing.T) {
		sc := v.in.SecretsClient(t, "default")
		if _, err := sc.SetSecret(ctx, "not-a-key", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil); err != nil {
			t.Fatalf("SetSecret: %v", err)
		}
		secretBackup, err := sc.BackupSecret(ctx, "not-a-key", nil)
		if err != nil {
			t.Fatalf("BackupSecret: %v", err)
		}
		_, err = v.c.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: secretBackup.Value},
			nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
	})

	t.Run("Restore", func(t *testing.T) {
		restored, err := v.c.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: backup.Value},
			nil)
		if err != nil {
			t.Fatalf("RestoreKey: %v", err)
		}
		if *restored.Key.KID != *rotated.Key.KID {
			t.Errorf("restored kid = %q, want the latest %q", *restored.Key.KID, *rotated.Key.KID)
		}
		if !bytes.Equal(restored.Key.N, rotated.Key.N) {
			t.Errorf("restored latest modulus differs")
		}
		sdkKeyCheckNoPrivate(t, restored.Key)
		if got := v.versions(t, "bk"); !slices.Equal(got, versions) {
			t.Errorf("restored versions = %v, want %v", got, versions)
		}
		if got := sdkDeref(restored.Attributes.Expires); !got.Equal(sdkDeref(rotated.Attributes.Expires)) {
			t.Errorf("restored exp = %v, want %v", got, sdkDeref(rotated.Attributes.Expires))
		}

		// The first version's private key came back.
		dec, err := v.c.Decrypt(ctx, "bk", first.Key.KID.Version(),
			sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, ciphertext), nil)
		if err != nil {
			t.Fatalf("Decrypt with the restored first version: %v", err)
		}
		if !bytes.Equal(dec.Result, plaintext) {
			t.Errorf("Decrypt = %q, want %q", dec.Result, plaintext)
		}

		got, err := v.c.GetKeyRotationPolicy(ctx, "bk", nil)
		if err != nil {
			t.Fatalf("GetKeyRotationPolicy: %v", err)
		}
		if sdkDeref(got.Attributes.ExpiryTime) != "P90D" || len(got.LifetimeActions) != 1 ||
			sdkDeref(got.LifetimeActions[0].Trigger.TimeAfterCreate) != "P30D" ||
			sdkDeref(got.LifetimeActions[0].Action.Type) != azkeys.KeyRotationPolicyActionRotate {
			t.Errorf("restored policy = %s, want Rotate after P30D with expiryTime P90D",
				sdkKeyPolicyString(got.KeyRotationPolicy))
		}
		if !sdkDeref(got.Attributes.Created).Equal(sdkDeref(stored.Attributes.Created)) {
			t.Errorf("restored policy created = %v, want %v", got.Attributes.Created,
				stored.Attributes.Created)
		}
	})
}

// sdkKeyPolicyString renders a rotation policy for failure messages.
func sdkKeyPolicyString(p azkeys.KeyRotationPolicy) string {
	b, _ := json.Marshal(p)
	return string(b)
}

var sdkKeyRSAAlgorithms = []azkeys.EncryptionAlgorithm{
	azkeys.EncryptionAlgorithmRSA15, azkeys.EncryptionAlgorithmRSAOAEP, azkeys.EncryptionAlgorithmRSAOAEP256,
}

func TestKeysRSAEncryptDecrypt(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()
	key := v.createRSA(t, "rsa-enc", 2048)
	version := key.Key.KID.Version()
	pub := sdkKeyRSAPublic(t, key.Key)

	for _, alg := range sdkKeyRSAAlgorithms {
		t.Run(string(alg), func(t *testing.T) {
			plaintext := sdkKeyRandom(t, 32)
			enc, err := v.c.Encrypt(ctx, "rsa-enc", version, sdkKeyOp(alg, plaintext), nil)
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			if *enc.KID != *key.Key.KID {
				t.Errorf("Encrypt kid = %q, want %q", *enc.KID, *key.Key.KID)
			}
			if len(enc.Result) != 256 {
				t.Errorf("ciphertext is %d bytes, want 256", len(enc.Result))
			}
			if enc.IV != nil || enc.AuthenticationTag != nil {
				t.Errorf("RSA encryption returned iv %x or tag %x", enc.IV, enc.AuthenticationTag)
			}
			dec, err := v.c.Decrypt(ctx, "rsa-enc", version, sdkKeyOp(alg, enc.Result), nil)
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if !bytes.Equal(dec.Result, plaintext) {
				t.Errorf("Decrypt = %x, want %x", dec.Result, plaintext)
			}
			if *dec.KID != *key.Key.KID {
				t.Errorf("Decrypt kid = %q, want %q", *dec.KID, *key.Key.KID)
			}

			// Ciphertext made locally from the public JWK decrypts on the server.
			local := sdkKeyRSAEncrypt(t, pub, alg, plaintext)
			dec, err = v.c.Decrypt(ctx, "rsa-enc", version, sdkKeyOp(alg, local), nil)
			if err != nil {
				t.Fatalf("Decrypt of local ciphertext: %v", err)
			}
			if !bytes.Equal(dec.Result, plaintext) {
				t.Errorf("Decrypt of local ciphertext = %x, want %x", dec.Result, plaintext)
			}
		})
	}

	t.Run("WrongAlgorithmClaimed", func(t *testing.T) {
		plaintext := sdkKeyRandom(t, 32)
		oaep256 := sdkKeyRSAEncrypt(t, pub, azkeys.EncryptionAlgorithmRSAOAEP256, plaintext)
		_, err := v.c.Decrypt(ctx, "rsa-enc", version,
			sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, oaep256), nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		_, err = v.c.UnwrapKey(ctx, "rsa-enc", version,
			sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, oaep256), nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")

		oaep := sdkKeyRSAEncrypt(t, pub, azkeys.EncryptionAlgorithmRSAOAEP, plaintext)
		_, err = v.c.Decrypt(ctx, "rsa-enc", version,
			sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP256, oaep), nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
	})

	t.Run("BadInput", func(t *testing.T) {
		corrupted := sdkKeyRSAEncrypt(t, pub, azkeys.EncryptionAlgorithmRSAOAEP256,
			sdkKeyRandom(t, 32))
		corrupted[100] ^= 0x80
		for _, tc := range []struct {
			name string
			op   func() error
		}{
			{"corrupted ciphertext", func() error {
				_, err := v.c.Decrypt(ctx, "rsa-enc", version,
					sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP256, corrupted), nil)
				return err
			}},
			{"short ciphertext", func() error {
				_, err := v.c.Decrypt(ctx, "rsa-enc", version,
					sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, make([]byte, 255)), nil)
				return err
			}},
			{"OAEP plaintext over 214 bytes", func() error {
				_, err := v.c.Encrypt(ctx, "rsa-enc", version,
					sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, make([]byte, 215)), nil)
				return err
			}},
			{"AES algorithm on RSA key", func() error {
				_, err := v.c.Encrypt(ctx, "rsa-enc", version,
					sdkKeyOp(azkeys.EncryptionAlgorithmA256GCM, []byte("x")), nil)
				return err
			}},
			{"unknown algorithm", func() error {
				_, err := v.c.Encrypt(ctx, "rsa-enc", version,
					sdkKeyOp(azkeys.EncryptionAlgorithm("RSA-OAEP-1024"), []byte("x")), nil)
				return err
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				sdkWantError(t, tc.op(), http.StatusBadRequest, "BadParameter")
			})
		}
	})
}

// sdkKeyAESKeys are the symmetric test keys: the RFC 3394 key-encryption
// keys 00 01 02 ... of 128, 192 and 256 bits.
var sdkKeyAESKeys = []struct {
	name string
	raw  []byte
	gcm  azkeys.EncryptionAlgorithm
	cbc  azkeys.EncryptionAlgorithm
	pad  azkeys.EncryptionAlgorithm
	kw   azkeys.EncryptionAlgorithm
}{
	{name: "aes-128", raw: sdkKeyCounting(16), gcm: azkeys.EncryptionAlgorithmA128GCM, cbc: azkeys.EncryptionAlgorithmA128CBC,
		pad: azkeys.EncryptionAlgorithmA128CBCPAD, kw: azkeys.EncryptionAlgorithmA128KW},
	{name: "aes-192", raw: sdkKeyCounting(24), gcm: azkeys.EncryptionAlgorithmA192GCM, cbc: azkeys.EncryptionAlgorithmA192CBC,
		pad: azkeys.EncryptionAlgorithmA192CBCPAD, kw: azkeys.EncryptionAlgorithmA192KW},
	{name: "aes-256", raw: sdkKeyCounting(32), gcm: azkeys.EncryptionAlgorithmA256GCM, cbc: azkeys.EncryptionAlgorithmA256CBC,
		pad: azkeys.EncryptionAlgorithmA256CBCPAD, kw: azkeys.EncryptionAlgorithmA256KW},
}

func TestKeysAESEncryptDecrypt(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()

	for _, k := range sdkKeyAESKeys {
		v.importOct(t, k.name, k.raw)
		encrypt := func(t *testing.T, p azkeys.KeyOperationParameters) azkeys.EncryptResponse {
			t.Helper()
			resp, err := v.c.Encrypt(ctx, k.name, "", p, nil)
			if err != nil {
				t.Fatalf("Encrypt %s: %v", sdkDeref(p.Algorithm), err)
			}
			return resp
		}
		decrypt := func(p azkeys.KeyOperationParameters) ([]byte, error) {
			resp, err := v.c.Decrypt(ctx, k.name, "", p, nil)
			return resp.Result, err
		}

		t.Run(string(k.gcm), func(t *testing.T) {
			for _, aad := range [][]byte{nil, []byte("header v1")} {
				plaintext := sdkKeyRandom(t, 45)
				enc := encrypt(t, azkeys.KeyOperationParameters{
					Algorithm: to.Ptr(k.gcm), Value: plaintext, AdditionalAuthenticatedData: aad,
				})
				if len(enc.IV) != 12 || len(enc.AuthenticationTag) != 16 {
					t.Fatalf("aad %q: iv %d bytes, tag %d bytes; want 12 and 16", aad, len(enc.IV),
						len(enc.AuthenticationTag))
				}
				if len(enc.Result) != len(plaintext) {
					t.Errorf("aad %q: ciphertext is %d bytes, want %d", aad, len(enc.Result),
						len(plaintext))
				}
				local, err := sdkKeyGCMOpen(k.raw, enc.IV, enc.Result, enc.AuthenticationTag, aad)
				if err != nil || !bytes.Equal(local, plaintext) {
					t.Errorf("aad %q: local AES-GCM decryption = %x, %v; want %x", aad, local, err,
						plaintext)
				}
				good := azkeys.KeyOperationParameters{
					Algorithm: to.Ptr(k.gcm), Value: enc.Result, IV: enc.IV,
					AuthenticationTag: enc.AuthenticationTag, AdditionalAuthenticatedData: aad,
				}
				got, err := decrypt(good)
				if err != nil || !bytes.Equal(got, plaintext) {
					t.Errorf("aad %q: Decrypt = %x, %v; want %x", aad, got, err, plaintext)
				}

				wrongTag := good
				wrongTag.AuthenticationTag = slices.Clone(enc.AuthenticationTag)
				wrongTag.AuthenticationTag[0] ^= 1
				wrongAAD := good
				wrongAAD.AdditionalAuthenticatedData = []byte("header v2")
				wrongIV := good
				wrongIV.IV = slices.Clone(enc.IV)
				wrongIV.IV[11] ^= 1
				noTag := good
				noTag.AuthenticationTag = nil
				for name, p := range map[string]azkeys.KeyOperationParameters{
					"wrong tag": wrongTag, "wrong aad": wrongAAD, "wrong iv": wrongIV, "no tag": noTag,
				} {
					if _, err := decrypt(p); err == nil {
						t.Errorf("aad %q: Decrypt with %s succeeded, want 400", aad, name)
					} else {
						sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
					}
				}
			}
		})

		t.Run(string(k.cbc), func(t *testing.T) {
			iv := sdkKeyRandom(t, 16)
			for _, n := range []int{16, 48} {
				plaintext := sdkKeyRandom(t, n)
				enc := encrypt(t, azkeys.KeyOperationParameters{Algorithm: to.Ptr(k.cbc), Value: plaintext, IV: iv})
				if want := sdkKeyCBC(t, k.raw, iv, plaintext); !bytes.Equal(enc.Result, want) {
					t.Errorf("%d bytes: ciphertext = %x, want %x (local AES-CBC)", n, enc.Result,
						want)
				}
				got, err := decrypt(azkeys.KeyOperationParameters{Algorithm: to.Ptr(k.cbc),
					Value: enc.Result, IV: iv})
				if err != nil || !bytes.Equal(got, plaintext) {
					t.Errorf("%d bytes: Decrypt = %x, %v; want %x", n, got, err, plaintext)
				}
			}
			_, err := v.c.Encrypt(ctx, k.name, "",
				azkeys.KeyOperationParameters{Algorithm: to.Ptr(k.cbc), Value: make([]byte, 20),
					IV: iv}, nil)
			sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
			_, err = v.c.Encrypt(ctx, k.name, "",
				azkeys.KeyOperationParameters{Algorithm: to.Ptr(k.cbc), Value: make([]byte, 16),
					IV: iv[:8]}, nil)
			sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
			_, err = v.c.Encrypt(ctx, k.name, "", sdkKeyOp(k.cbc, make([]byte, 16)), nil)
			sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		})

		t.Run(string(k.pad), func(t *testing.T) {
			iv := sdkKeyRandom(t, 16)
			for _, n := range []int{1, 15, 16, 17, 33} {
				plaintext := sdkKeyRandom(t, n)
				enc := encrypt(t, azkeys.KeyOperationParameters{Algorithm: to.Ptr(k.pad), Value: plaintext, IV: iv})
				if want := sdkKeyCBC(t, k.raw, iv, sdkKeyPad(plaintext)); !bytes.Equal(enc.Result, want) {
					t.Errorf("%d bytes: ciphertext = %x, want %x (local AES-CBC with PKCS #7 padding)", n, enc.Result, want)
				}
				got, err := decrypt(azkeys.KeyOperationParameters{Algorithm: to.Ptr(k.pad),
					Value: enc.Result, IV: iv})
				if err != nil || !bytes.Equal(got, plaintext) {
					t.Errorf("%d bytes: Decrypt = %x, %v; want %x", n, got, err, plaintext)
				}
			}
			// A last block whose padding is not PKCS #7 is rejected.
			badPad := sdkKeyCBC(t, k.raw, iv, bytes.Repeat([]byte{0x11}, 16))
			_, err := decrypt(azkeys.KeyOperationParameters{Algorithm: to.Ptr(k.pad), Value: badPad,
				IV: iv})
			sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		})
	}

	t.Run("KeySizeMismatch", func(t *testing.T) {
		for _, alg := range []azkeys.EncryptionAlgorithm{azkeys.EncryptionAlgorithmA128GCM,
			azkeys.EncryptionAlgorithmA192CBCPAD} {
			_, err := v.c.Encrypt(ctx, "aes-256", "", azkeys.KeyOperationParameters{
				Algorithm: to.Ptr(alg), Value: make([]byte, 16), IV: make([]byte, 16),
			}, nil)
			sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		}
		_, err := v.c.Encrypt(ctx, "aes-256", "",
			sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, make([]byte, 16)), nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
	})

	t.Run("GeneratedKeys", func(t *testing.T) {
		// Generated symmetric keys of every size round-trip through GCM.
		for _, k := range sdkKeyAESKeys {
			name := "gen-" + k.name
			v.create(t, name,
				azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeOctHSM),
					KeySize: to.Ptr(int32(len(k.raw) * 8))})
			enc, err := v.c.Encrypt(ctx, name, "", sdkKeyOp(k.gcm, []byte("hello")), nil)
			if err != nil {
				t.Fatalf("Encrypt %s: %v", k.gcm, err)
			}
			dec, err := v.c.Decrypt(ctx, name, "", azkeys.KeyOperationParameters{
				Algorithm: to.Ptr(k.gcm), Value: enc.Result, IV: enc.IV, AuthenticationTag: enc.AuthenticationTag,
			}, nil)
			if err != nil || string(dec.Result) != "hello" {
				t.Errorf("%s: Decrypt = %q, %v; want hello", name, dec.Result, err)
			}
		}
	})
}

func TestKeysWrapUnwrap(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()

	t.Run("RSA", func(t *testing.T) {
		key := v.createRSA(t, "rsa-wrap", 3072)
		pub := sdkKeyRSAPublic(t, key.Key)
		for _, alg := range sdkKeyRSAAlgorithms {
			cek := sdkKeyRandom(t, 32)
			wrapped, err := v.c.WrapKey(ctx, "rsa-wrap", "", sdkKeyOp(alg, cek), nil)
			if err != nil {
				t.Fatalf("WrapKey %s: %v", alg, err)
			}
			if len(wrapped.Result) != 384 || *wrapped.KID != *key.Key.KID {
				t.Errorf("%s: wrapped %d bytes with kid %q, want 384 bytes with %q", alg,
					len(wrapped.Result), *wrapped.KID, *key.Key.KID)
			}
			for name, blob := range map[string][]byte{"server": wrapped.Result,
				"local": sdkKeyRSAEncrypt(t, pub, alg, cek)} {
				unwrapped, err := v.c.UnwrapKey(ctx, "rsa-wrap", "", sdkKeyOp(alg, blob), nil)
				if err != nil {
					t.Fatalf("%s: UnwrapKey of %s-wrapped key: %v", alg, name, err)
				}
				if !bytes.Equal(unwrapped.Result, cek) {
					t.Errorf("%s: UnwrapKey of %s-wrapped key = %x, want %x", alg, name,
						unwrapped.Result, cek)
				}
			}
		}
	})

	// RFC 3394, section 4: AES key wrap test vectors.
	vectors := []struct {
		name    string
		kek     string // key name from sdkKeyAESKeys
		alg     azkeys.EncryptionAlgorithm
		keyData string
		wrapped string
	}{
		{name: "4.1", kek: "aes-128", alg: azkeys.EncryptionAlgorithmA128KW, keyData: "00112233445566778899AABBCCDDEEFF",
			wrapped: "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"},
		{name: "4.2", kek: "aes-192", alg: azkeys.EncryptionAlgorithmA192KW, keyData: "00112233445566778899AABBCCDDEEFF",
			wrapped: "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D"},
		{name: "4.3", kek: "aes-256", alg: azkeys.EncryptionAlgorithmA256KW, keyData: "00112233445566778899AABBCCDDEEFF",
			wrapped: "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"},
		{name: "4.4", kek: "aes-192", alg: azkeys.EncryptionAlgorithmA192KW, keyData: "00112233445566778899AABBCCDDEEFF0001020304050607",
			wrapped: "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2"},
		{name: "4.6", kek: "aes-256", alg: azkeys.EncryptionAlgorithmA256KW, keyData: "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
			wrapped: "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"},
	}
	for _, k := range sdkKeyAESKeys {
		v.importOct(t, k.name, k.raw)
	}
	for _, tc := range vectors {
		t.Run("RFC3394-"+tc.name, func(t *testing.T) {
			keyData, want := sdkKeyHex(t, tc.keyData), sdkKeyHex(t, tc.wrapped)
			wrapped, err := v.c.WrapKey(ctx, tc.kek, "", sdkKeyOp(tc.alg, keyData), nil)
			if err != nil {
				t.Fatalf("WrapKey: %v", err)
			}
			if !bytes.Equal(wrapped.Result, want) {
				t.Errorf("WrapKey = %X, want %X", wrapped.Result, want)
			}
			unwrapped, err := v.c.UnwrapKey(ctx, tc.kek, "", sdkKeyOp(tc.alg, want), nil)
			if err != nil {
				t.Fatalf("UnwrapKey: %v", err)
			}
			if !bytes.Equal(unwrapped.Result, keyData) {
				t.Errorf("UnwrapKey = %X, want %X", unwrapped.Result, keyData)
			}
			tampered := slices.Clone(want)
			tampered[len(tampered)-1] ^= 1
			_, err = v.c.UnwrapKey(ctx, tc.kek, "", sdkKeyOp(tc.alg, tampered), nil)
			sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		})
	}

	t.Run("KWBadInput", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			alg   azkeys.EncryptionAlgorithm
			value []byte
		}{
			{"key data of 15 bytes", azkeys.EncryptionAlgorithmA256KW, make([]byte, 15)},
			{"key data of 8 bytes", azkeys.EncryptionAlgorithmA256KW, make([]byte, 8)},
			{"A128KW with a 256-bit key", azkeys.EncryptionAlgorithmA128KW, make([]byte, 16)},
			{"GCM for wrapping", azkeys.EncryptionAlgorithmA256GCM, make([]byte, 16)},
		} {
			_, err := v.c.WrapKey(ctx, "aes-256", "", sdkKeyOp(tc.alg, tc.value), nil)
			if err == nil {
				t.Errorf("%s: WrapKey succeeded, want 400", tc.name)
				continue
			}
			sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		}
	})
}

// sdkKeyDER encodes a raw r||s signature as the ASN.1 DER SEQUENCE of two
// INTEGERs that crypto/ecdsa and OpenSSL use.
func sdkKeyDER(t *testing.T, sig []byte) []byte {
	t.Helper()
	n := len(sig) / 2
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]),
		new(big.Int).SetBytes(sig[n:])})
	if err != nil {
		t.Fatalf("DER-encode signature: %v", err)
	}
	return der
}

func TestKeysSignVerify(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()
	keys := map[string]azkeys.KeyBundle{
		"rsa": v.createRSA(t, "sig-rsa", 2048),
		"rsa-hsm": v.create(t, "sig-rsa-hsm",
			azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSAHSM),
				KeySize: to.Ptr(int32(3072))}),
		"p256":  v.createEC(t, "sig-p256", azkeys.CurveNameP256),
		"p384":  v.createEC(t, "sig-p384", azkeys.CurveNameP384),
		"p521":  v.createEC(t, "sig-p521", azkeys.CurveNameP521),
		"p256k": v.createEC(t, "sig-p256k", azkeys.CurveNameP256K),
		"p256-hsm": v.create(t, "sig-p256-hsm",
			azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeECHSM),
				Curve: to.Ptr(azkeys.CurveNameP256)}),
	}

	for _, tc := range []struct {
		key    string
		alg    azkeys.SignatureAlgorithm
		sigLen int
	}{
		{key: "rsa", alg: azkeys.SignatureAlgorithmRS256, sigLen: 256},
		{key: "rsa", alg: azkeys.SignatureAlgorithmRS384, sigLen: 256},
		{key: "rsa", alg: azkeys.SignatureAlgorithmRS512, sigLen: 256},
		{key: "rsa", alg: azkeys.SignatureAlgorithmPS256, sigLen: 256},
		{key: "rsa", alg: azkeys.SignatureAlgorithmPS384, sigLen: 256},
		{key: "rsa", alg: azkeys.SignatureAlgorithmPS512, sigLen: 256},
		{key: "rsa-hsm", alg: azkeys.SignatureAlgorithmRS256, sigLen: 384},
		{key: "rsa-hsm", alg: azkeys.SignatureAlgorithmPS512, sigLen: 384},
		{key: "p256", alg: azkeys.SignatureAlgorithmES256, sigLen: 64},
		{key: "p384", alg: azkeys.SignatureAlgorithmES384, sigLen: 96},
		{key: "p521", alg: azkeys.SignatureAlgorithmES512, sigLen: 132},
		{key: "p256k", alg: azkeys.SignatureAlgorithmES256K, sigLen: 64},
		{key: "p256-hsm", alg: azkeys.SignatureAlgorithmES256, sigLen: 64},
	} {
		t.Run(tc.key+"-"+string(tc.alg), func(t *testing.T) {
			key := keys[tc.key]
			name, version := key.Key.KID.Name(), key.Key.KID.Version()
			digest := sdkKeyDigest(tc.alg, "message for "+string(tc.alg))
			signed, err := v.c.Sign(ctx, name, version, sdkKeySignParams(tc.alg, digest), nil)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if *signed.KID != *key.Key.KID {
				t.Errorf("Sign kid = %q, want %q", *signed.KID, *key.Key.KID)
			}
			sig := signed.Result
			if len(sig) != tc.sigLen {
				t.Fatalf("signature is %d bytes, want %d", len(sig), tc.sigLen)
			}
			if err := sdkKeyVerifyLocal(t, key.Key, tc.alg, digest, sig); err != nil {
				t.Errorf("local verification with the returned JWK: %v", err)
			}

			verify := func(digest, sig []byte) (bool, error) {
				resp, err := v.c.Verify(ctx, name, version, sdkKeyVerifyParams(tc.alg, digest, sig),
					nil)
				return sdkDeref(resp.Value), err
			}
			if ok, err := verify(digest, sig); err != nil || !ok {
				t.Errorf("Verify of the signature = %v, %v; want true, nil", ok, err)
			}
			flipped := slices.Clone(sig)
			flipped[len(flipped)/3] ^= 0x04
			if ok, err := verify(digest, flipped); err != nil || ok {
				t.Errorf("Verify of a modified signature = %v, %v; want false, nil", ok, err)
			}
			other := sdkKeyDigest(tc.alg, "another message")
			if ok, err := verify(other, sig); err != nil || ok {
				t.Errorf("Verify over another digest = %v, %v; want false, nil", ok, err)
			}
			if strings.HasPrefix(string(tc.alg), "ES") {
				// The DER form of a valid signature is not a Key Vault signature.
				if ok, err := verify(digest, sdkKeyDER(t, sig)); ok {
					t.Errorf("Verify of the DER-encoded signature = true (err %v), want false or 400", err)
				} else if err != nil {
					sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
				}
			}
		})
	}
}

func TestKeysOperationPaths(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()
	first := v.createEC(t, "path", azkeys.CurveNameP256)
	second := v.createEC(t, "path", azkeys.CurveNameP256)
	digest := sdkKeyDigest(azkeys.SignatureAlgorithmES256, "versionless")

	t.Run("VersionlessUsesLatest", func(t *testing.T) {
		var raw *http.Response
		signed, err := v.c.Sign(policy.WithCaptureResponse(ctx, &raw), "path", "",
			sdkKeySignParams(azkeys.SignatureAlgorithmES256, digest), nil)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if raw.Request.URL.Path != "/keys/path/sign" {
			t.Errorf("versionless sign path = %q, want /keys/path/sign", raw.Request.URL.Path)
		}
		if *signed.KID != *second.Key.KID {
			t.Errorf("Sign kid = %q, want the latest %q", *signed.KID, *second.Key.KID)
		}
		if err := sdkKeyVerifyLocal(t, second.Key, azkeys.SignatureAlgorithmES256, digest, signed.Result); err != nil {
			t.Errorf("signature does not verify with the latest version: %v", err)
		}
		if err := sdkKeyVerifyLocal(t, first.Key, azkeys.SignatureAlgorithmES256, digest, signed.Result); err == nil {
			t.Errorf("signature verifies with the first version, want only the latest")
		}

		old, err := v.c.Verify(ctx, "path", first.Key.KID.Version(),
			sdkKeyVerifyParams(azkeys.SignatureAlgorithmES256, digest, signed.Result), nil)
		if err != nil || sdkDeref(old.Value) {
			t.Errorf("Verify with the first version = %v, %v; want false, nil", sdkDeref(old.Value),
				err)
		}
		latest, err := v.c.Verify(ctx, "path", "",
			sdkKeyVerifyParams(azkeys.SignatureAlgorithmES256, digest, signed.Result), nil)
		if err != nil || !sdkDeref(latest.Value) {
			t.Errorf("versionless Verify = %v, %v; want true, nil", sdkDeref(latest.Value), err)
		}
	})

	t.Run("OperationNameCase", func(t *testing.T) {
		body := fmt.Sprintf(`{"alg":"ES256","value":%q}`, base64.RawURLEncoding.EncodeToString(digest))
		// An empty version segment means the latest version too.
		for _, path := range []string{"/keys/path/SIGN", "/keys/path/Sign", "/keys/path//SIGN",
			"/keys/path/" + first.Key.KID.Version() + "/sIgN"} {
			r := v.raw(t, http.MethodPost, path, body)
			if r.Status != http.StatusOK {
				t.Fatalf("POST %s: %v", path, r)
			}
			var res struct {
				Kid   string `json:"kid"`
				Value string `json:"value"`
			}
			r.JSON(t, &res)
			wantKey := second.Key
			if strings.Contains(path, first.Key.KID.Version()) {
				wantKey = first.Key
			}
			if res.Kid != string(*wantKey.KID) {
				t.Errorf("POST %s: kid = %q, want %q", path, res.Kid, *wantKey.KID)
			}
			if err := sdkKeyVerifyLocal(t, wantKey, azkeys.SignatureAlgorithmES256, digest, sdkKeyB64(t, res.Value)); err != nil {
				t.Errorf("POST %s: %v", path, err)
			}
		}

		sig, err := v.c.Sign(ctx, "path", "",
			sdkKeySignParams(azkeys.SignatureAlgorithmES256, digest), nil)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		verifyBody := fmt.Sprintf(`{"alg":"ES256","digest":%q,"value":%q}`,
			base64.RawURLEncoding.EncodeToString(digest), base64.RawURLEncoding.EncodeToString(sig.Result))
		r := v.raw(t, http.MethodPost, "/keys/path/"+second.Key.KID.Version()+"/VERIFY", verifyBody)
		if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != `{"value":true}` {
			t.Errorf("POST .../VERIFY = %v, want 200 {\"value\":true}", r)
		}
	})
}

func TestKeysOperationErrors(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()
	rsaKey := v.createRSA(t, "err-rsa", 2048)
	v.createEC(t, "err-p256", azkeys.CurveNameP256)
	v.createEC(t, "err-p384", azkeys.CurveNameP384)
	v.createEC(t, "err-p256k", azkeys.CurveNameP256K)
	sign := func(name string, alg azkeys.SignatureAlgorithm, digest []byte) error {
		_, err := v.c.Sign(ctx, name, "", sdkKeySignParams(alg, digest), nil)
		return err
	}

	t.Run("DigestLength", func(t *testing.T) {
		for _, tc := range []struct {
			key    string
			alg    azkeys.SignatureAlgorithm
			digest int
		}{
			{"err-rsa", azkeys.SignatureAlgorithmRS256, 20},
			{"err-rsa", azkeys.SignatureAlgorithmPS512, 32},
			{"err-p256", azkeys.SignatureAlgorithmES256, 48},
			{"err-p384", azkeys.SignatureAlgorithmES384, 32},
			{"err-p256k", azkeys.SignatureAlgorithmES256K, 31},
		} {
			err := sign(tc.key, tc.alg, make([]byte, tc.digest))
			if err == nil {
				t.Errorf("%s with a %d-byte digest: Sign succeeded, want 400", tc.alg, tc.digest)
				continue
			}
			sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		}
		_, err := v.c.Verify(ctx, "err-p256", "",
			sdkKeyVerifyParams(azkeys.SignatureAlgorithmES256, make([]byte, 20),
				make([]byte, 64)), nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
	})

	t.Run("Incompatible", func(t *testing.T) {
		for _, tc := range []struct {
			key string
			alg azkeys.SignatureAlgorithm
		}{
			{"err-p384", azkeys.SignatureAlgorithmES256},
			{"err-p256", azkeys.SignatureAlgorithmES256K},
			{"err-p256k", azkeys.SignatureAlgorithmES256},
			{"err-p256", azkeys.SignatureAlgorithmES384},
			{"err-p256", azkeys.SignatureAlgorithmRS256},
			{"err-rsa", azkeys.SignatureAlgorithmES256},
		} {
			err := sign(tc.key, tc.alg, sdkKeyDigest(tc.alg, "x"))
			if err == nil {
				t.Errorf("%s on %s: Sign succeeded, want 400", tc.alg, tc.key)
				continue
			}
			sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
			if msg := sdkKeyErrorMessage(t, err); !strings.Contains(strings.ToLower(msg), "incompatible") {
				t.Errorf("%s on %s: message %q does not say incompatible", tc.alg, tc.key, msg)
			}
		}
		err := sign("err-rsa", azkeys.SignatureAlgorithmHS256, make([]byte, 32))
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
	})

	t.Run("OperationNotInKeyOps", func(t *testing.T) {
		v.create(t, "err-wrap-only", azkeys.CreateKeyParameters{
			Kty: to.Ptr(azkeys.KeyTypeRSA), KeyOps: sdkKeyOpParams("wrapKey", "unwrapKey"),
		})
		err := sign("err-wrap-only", azkeys.SignatureAlgorithmRS256, make([]byte, 32))
		sdkKeyWantForbidden(t, err, "KeyOperationNotAllowed")
		_, err = v.c.Encrypt(ctx, "err-wrap-only", "",
			sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, []byte("x")), nil)
		sdkKeyWantForbidden(t, err, "KeyOperationNotAllowed")
		_, err = v.c.Verify(ctx, "err-wrap-only", "",
			sdkKeyVerifyParams(azkeys.SignatureAlgorithmRS256, make([]byte, 32),
				make([]byte, 256)), nil)
		sdkKeyWantForbidden(t, err, "KeyOperationNotAllowed")
		if _, err := v.c.WrapKey(ctx, "err-wrap-only", "", sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP256, make([]byte, 32)), nil); err != nil {
			t.Errorf("WrapKey with wrapKey in key_ops: %v", err)
		}

		// EC keys do not decrypt: key_ops are sign and verify.
		_, err = v.c.Decrypt(ctx, "err-p256", "",
			sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, make([]byte, 64)), nil)
		sdkKeyWantForbidden(t, err, "KeyOperationNotAllowed")
	})

	t.Run("MissingKey", func(t *testing.T) {
		err := sign("no-such-key", azkeys.SignatureAlgorithmES256, make([]byte, 32))
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		_, err = v.c.Sign(ctx, "err-p256", strings.Repeat("a", 32),
			sdkKeySignParams(azkeys.SignatureAlgorithmES256, make([]byte, 32)), nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
	})

	// The windowed subtests prepare a signature, a ciphertext and a wrapped
	// key while the key is valid, then move exp or nbf and check that only
	// sign, encrypt and wrapKey stop.
	pub := sdkKeyRSAPublic(t, rsaKey.Key)
	digest := sdkKeyDigest(azkeys.SignatureAlgorithmRS256, "before the change")
	signed, err := v.c.Sign(ctx, "err-rsa", "",
		sdkKeySignParams(azkeys.SignatureAlgorithmRS256, digest), nil)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	plaintext := []byte("still readable")
	ciphertext := sdkKeyRSAEncrypt(t, pub, azkeys.EncryptionAlgorithmRSAOAEP256, plaintext)
	cek := sdkKeyRandom(t, 32)
	wrapped := sdkKeyRSAEncrypt(t, pub, azkeys.EncryptionAlgorithmRSAOAEP, cek)

	checkWindow := func(t *testing.T, inner string) {
		t.Helper()
		err := sign("err-rsa", azkeys.SignatureAlgorithmRS256, digest)
		sdkKeyWantForbidden(t, err, inner)
		_, err = v.c.Encrypt(ctx, "err-rsa", "",
			sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP256, plaintext), nil)
		sdkKeyWantForbidden(t, err, inner)
		_, err = v.c.WrapKey(ctx, "err-rsa", "", sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, cek),
			nil)
		sdkKeyWantForbidden(t, err, inner)

		dec, err := v.c.Decrypt(ctx, "err-rsa", "",
			sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP256, ciphertext), nil)
		if err != nil || !bytes.Equal(dec.Result, plaintext) {
			t.Errorf("Decrypt = %q, %v; want %q", dec.Result, err, plaintext)
		}
		unwrapped, err := v.c.UnwrapKey(ctx, "err-rsa", "",
			sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, wrapped), nil)
		if err != nil || !bytes.Equal(unwrapped.Result, cek) {
			t.Errorf("UnwrapKey = %x, %v; want %x", unwrapped.Result, err, cek)
		}
		verified, err := v.c.Verify(ctx, "err-rsa", "",
			sdkKeyVerifyParams(azkeys.SignatureAlgorithmRS256, digest, signed.Result), nil)
		if err != nil || !sdkDeref(verified.Value) {
			t.Errorf("Verify = %v, %v; want true, nil", sdkDeref(verified.Value), err)
		}
		if _, err := v.c.GetKey(ctx, "err-rsa", "", nil); err != nil {
			t.Errorf("GetKey: %v", err)
		}
	}
	setWindow := func(t *testing.T, nbf, exp time.Time) {
		t.Helper()
		if _, err := v.c.UpdateKey(ctx, "err-rsa", "", azkeys.UpdateKeyParameters{
			KeyAttributes: &azkeys.KeyAttributes{NotBefore: &nbf, Expires: &exp},
		}, nil); err != nil {
			t.Fatalf("UpdateKey: %v", err)
		}
	}

	t.Run("Expired", func(t *testing.T) {
		setWindow(t, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
		checkWindow(t, "KeyExpired")
	})

	t.Run("NotYetValid", func(t *testing.T) {
		setWindow(t, time.Now().Add(time.Hour), time.Now().Add(48*time.Hour))
		checkWindow(t, "KeyNotYetValid")
	})

	t.Run("ValidAgain", func(t *testing.T) {
		setWindow(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		if err := sign("err-rsa", azkeys.SignatureAlgorithmRS256, digest); err != nil {
			t.Errorf("Sign inside nbf..exp: %v", err)
		}
	})

	t.Run("ExpiredAtCreation", func(t *testing.T) {
		exp := time.Now().Add(-time.Minute)
		v.create(t, "err-born-expired", azkeys.CreateKeyParameters{
			Kty: to.Ptr(azkeys.KeyTypeEC), KeyAttributes: &azkeys.KeyAttributes{Expires: &exp},
		})
		err := sign("err-born-expired", azkeys.SignatureAlgorithmES256, make([]byte, 32))
		sdkKeyWantForbidden(t, err, "KeyExpired")
	})

	t.Run("Disabled", func(t *testing.T) {
		v.createRSA(t, "err-disabled", 2048)
		if _, err := v.c.UpdateKey(ctx, "err-disabled", "", azkeys.UpdateKeyParameters{
			KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(false)},
		}, nil); err != nil {
			t.Fatalf("UpdateKey: %v", err)
		}
		_, err := v.c.GetKey(ctx, "err-disabled", "", nil)
		sdkKeyWantForbidden(t, err, "KeyDisabled")
		rsaOp := sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, make([]byte, 32))
		rsaBlob := sdkKeyOp(azkeys.EncryptionAlgorithmRSAOAEP, make([]byte, 256))
		for name, op := range map[string]func() error{
			"encrypt": func() error {
				_,
					err := v.c.Encrypt(ctx, "err-disabled", "", rsaOp, nil)
				return err
			},
			"decrypt": func() error {
				_,
					err := v.c.Decrypt(ctx, "err-disabled", "", rsaBlob, nil)
				return err
			},
			"wrapKey": func() error {
				_,
					err := v.c.WrapKey(ctx, "err-disabled", "", rsaOp, nil)
				return err
			},
			"unwrapKey": func() error {
				_,
					err := v.c.UnwrapKey(ctx, "err-disabled", "", rsaBlob, nil)
				return err
			},
			"sign": func() error {
				return sign("err-disabled", azkeys.SignatureAlgorithmRS256,
					make([]byte, 32))
			},
			"verify": func() error {
				_, err := v.c.Verify(ctx, "err-disabled", "",
					sdkKeyVerifyParams(azkeys.SignatureAlgorithmRS256, make([]byte, 32),
						make([]byte, 256)), nil)
				return err
			},
		} {
			t.Run(name, func(t *testing.T) {
				sdkKeyWantForbidden(t, op(), "KeyDisabled")
			})
		}
	})
}

// sdkKeyPolicy builds a rotation policy with one lifetime action.
func sdkKeyPolicy(action azkeys.KeyRotationPolicyAction, afterCreate, beforeExpiry, expiryTime string) azkeys.KeyRotationPolicy {
	trigger := &azkeys.LifetimeActionTrigger{}
	if afterCreate != "" {
		trigger.TimeAfterCreate = to.Ptr(afterCreate)
	}
	if beforeExpiry != "" {
		trigger.TimeBeforeExpiry = to.Ptr(beforeExpiry)
	}
	p := azkeys.KeyRotationPolicy{LifetimeActions: []*azkeys.LifetimeAction{{
		Trigger: trigger, Action: &azkeys.LifetimeActionType{Type: to.Ptr(action)},
	}}}
	if expiryTime != "" {
		p.Attributes = &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr(expiryTime)}
	}
	return p
}

func TestKeysRotateOnDemand(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		p    azkeys.CreateKeyParameters
		ops  []string
	}{
		{name: "rot-rsa", ops: []string{"sign", "verify"}, p: azkeys.CreateKeyParameters{
			Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr(int32(3072)), KeyOps: sdkKeyOpParams("sign", "verify"),
			Tags: map[string]*string{"app": to.Ptr("billing")},
		}},
		{name: "rot-ec", ops: []string{"sign", "verify"}, p: azkeys.CreateKeyParameters{
			Kty: to.Ptr(azkeys.KeyTypeECHSM), Curve: to.Ptr(azkeys.CurveNameP384),
		}},
		{name: "rot-oct", ops: []string{"wrapKey", "unwrapKey"}, p: azkeys.CreateKeyParameters{
			Kty: to.Ptr(azkeys.KeyTypeOct), KeySize: to.Ptr(int32(192)), KeyOps: sdkKeyOpParams("wrapKey", "unwrapKey"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := v.create(t, tc.name, tc.p)
			if _, err := v.c.UpdateKeyRotationPolicy(ctx, tc.name, sdkKeyPolicy(azkeys.KeyRotationPolicyActionRotate, "P30D", "", "P90D"), nil); err != nil {
				t.Fatalf("UpdateKeyRotationPolicy: %v", err)
			}
			before := time.Now()
			rotated, err := v.c.RotateKey(ctx, tc.name, nil)
			after := time.Now()
			if err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
			v.checkKID(t, rotated.Key.KID, tc.name)
			if rotated.Key.KID.Version() == old.Key.KID.Version() {
				t.Fatalf("RotateKey kept version %s, want a new one", old.Key.KID.Version())
			}
			if got, want := sdkDeref(rotated.Key.Kty), sdkDeref(old.Key.Kty); got != want {
				t.Errorf("kty = %q, want %q", got, want)
			}
			if got := sdkKeyOps(rotated.Key.KeyOps); !slices.Equal(got, tc.ops) {
				t.Errorf("key_ops = %v, want %v", got, tc.ops)
			}
			if got, want := sdkTags(rotated.Tags), sdkTags(old.Tags); !maps.Equal(got, want) {
				t.Errorf("tags = %v, want %v", got, want)
			}
			if len(old.Key.N) > 0 {
				if len(rotated.Key.N) != len(old.Key.N) || bytes.Equal(rotated.Key.N, old.Key.N) {
					t.Errorf("modulus: %d bytes (same as old: %v), want %d new bytes",
						len(rotated.Key.N), bytes.Equal(rotated.Key.N, old.Key.N), len(old.Key.N))
				}
			}
			if old.Key.Crv != nil {
				if sdkDeref(rotated.Key.Crv) != sdkDeref(old.Key.Crv) || bytes.Equal(rotated.Key.X, old.Key.X) {
					t.Errorf("crv = %q (x unchanged: %v), want new material on %q",
						sdkDeref(rotated.Key.Crv), bytes.Equal(rotated.Key.X,
							old.Key.X), sdkDeref(old.Key.Crv))
				}
			}
			// exp is now plus the policy's expiryTime of 90 calendar days.
			exp := rotated.Attributes.Expires
			if exp == nil {
				t.Fatalf("rotated key has no exp, want now + P90D")
			}
			if lo, hi := before.AddDate(0, 0, 90).Truncate(time.Second), after.AddDate(0, 0, 90); exp.Before(lo) || exp.After(hi) {
				t.Errorf("exp = %v, want between %v and %v", *exp, lo, hi)
			}
			sdkKeyCheckRecent(t, "created", rotated.Attributes.Created, before, after)

			latest, err := v.c.GetKey(ctx, tc.name, "", nil)
			if err != nil {
				t.Fatalf("GetKey: %v", err)
			}
			if *latest.Key.KID != *rotated.Key.KID {
				t.Errorf("latest kid = %q, want the rotated %q", *latest.Key.KID, *rotated.Key.KID)
			}
			want := []string{old.Key.KID.Version(), rotated.Key.KID.Version()}
			slices.Sort(want)
			if got := v.versions(t, tc.name); !slices.Equal(got, want) {
				t.Errorf("versions = %v, want %v", got, want)
			}
		})
	}

	t.Run("SymmetricSizeKept", func(t *testing.T) {
		// rot-oct was 192 bits: A192KW works on the new version, A256KW does not.
		if _, err := v.c.WrapKey(ctx, "rot-oct", "", sdkKeyOp(azkeys.EncryptionAlgorithmA192KW, make([]byte, 16)), nil); err != nil {
			t.Errorf("A192KW on the rotated key: %v", err)
		}
		_, err := v.c.WrapKey(ctx, "rot-oct", "",
			sdkKeyOp(azkeys.EncryptionAlgorithmA256KW, make([]byte, 16)), nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
	})

	t.Run("WithoutPolicy", func(t *testing.T) {
		v.createEC(t, "rot-plain", azkeys.CurveNameP521)
		rotated, err := v.c.RotateKey(ctx, "rot-plain", nil)
		if err != nil {
			t.Fatalf("RotateKey: %v", err)
		}
		if sdkDeref(rotated.Key.Crv) != azkeys.CurveNameP521 {
			t.Errorf("crv = %q, want P-521", sdkDeref(rotated.Key.Crv))
		}
		if rotated.Attributes.Expires != nil {
			t.Errorf("exp = %v, want none without a policy expiryTime", *rotated.Attributes.Expires)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		_, err := v.c.RotateKey(ctx, "no-such-key", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
	})
}

func TestKeysRotationPolicy(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()
	v.createRSA(t, "pol", 2048)

	t.Run("Default", func(t *testing.T) {
		got, err := v.c.GetKeyRotationPolicy(ctx, "pol", nil)
		if err != nil {
			t.Fatalf("GetKeyRotationPolicy: %v", err)
		}
		if want := v.base + "/keys/pol/rotationpolicy"; sdkDeref(got.ID) != want {
			t.Errorf("id = %q, want %q", sdkDeref(got.ID), want)
		}
		if len(got.LifetimeActions) != 1 {
			t.Fatalf("lifetimeActions = %s, want one Notify action",
				sdkKeyPolicyString(got.KeyRotationPolicy))
		}
		a := got.LifetimeActions[0]
		if sdkDeref(a.Action.Type) != azkeys.KeyRotationPolicyActionNotify ||
			sdkDeref(a.Trigger.TimeBeforeExpiry) != "P30D" || a.Trigger.TimeAfterCreate != nil {
			t.Errorf("default policy = %s, want Notify 30 days (P30D) before expiry",
				sdkKeyPolicyString(got.KeyRotationPolicy))
		}
	})

	t.Run("Rejected", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			p    azkeys.KeyRotationPolicy
		}{
			{"timeAfterCreate P1D", sdkKeyPolicy(azkeys.KeyRotationPolicyActionRotate, "P1D", "", "P90D")},
			{"expiryTime P7D", sdkKeyPolicy(azkeys.KeyRotationPolicyActionRotate, "P30D", "", "P7D")},
			{"timeBeforeExpiry without expiryTime", sdkKeyPolicy(azkeys.KeyRotationPolicyActionRotate, "", "P30D", "")},
			{"rotation less than 7 days before expiry", sdkKeyPolicy(azkeys.KeyRotationPolicyActionRotate, "P85D", "", "P90D")},
			{"both triggers", sdkKeyPolicy(azkeys.KeyRotationPolicyActionRotate, "P30D", "P30D", "P90D")},
			{"Notify after creation", sdkKeyPolicy(azkeys.KeyRotationPolicyActionNotify, "P30D", "", "P90D")},
			{"unknown action", sdkKeyPolicy(azkeys.KeyRotationPolicyAction("Explode"), "P30D", "", "P90D")},
			{"not a duration", sdkKeyPolicy(azkeys.KeyRotationPolicyActionRotate, "30 days", "", "P90D")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := v.c.UpdateKeyRotationPolicy(ctx, "pol", tc.p, nil)
				sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
			})
		}
	})

	t.Run("Valid", func(t *testing.T) {
		before := time.Now()
		stored, err := v.c.UpdateKeyRotationPolicy(ctx, "pol",
			sdkKeyPolicy(azkeys.KeyRotationPolicyActionRotate, "P30D", "", "P90D"), nil)
		after := time.Now()
		if err != nil {
			t.Fatalf("UpdateKeyRotationPolicy: %v", err)
		}
		if want := v.base + "/keys/pol/rotationpolicy"; sdkDeref(stored.ID) != want {
			t.Errorf("id = %q, want %q", sdkDeref(stored.ID), want)
		}
		if len(stored.LifetimeActions) != 1 ||
			sdkDeref(stored.LifetimeActions[0].Trigger.TimeAfterCreate) != "P30D" ||
			sdkDeref(stored.LifetimeActions[0].Action.Type) != azkeys.KeyRotationPolicyActionRotate {
			t.Errorf("stored actions = %s, want Rotate after P30D",
				sdkKeyPolicyString(stored.KeyRotationPolicy))
		}
		if stored.Attributes == nil || sdkDeref(stored.Attributes.ExpiryTime) != "P90D" {
			t.Fatalf("stored attributes = %s, want expiryTime P90D",
				sdkKeyPolicyString(stored.KeyRotationPolicy))
		}
		sdkKeyCheckRecent(t, "created", stored.Attributes.Created, before, after)
		sdkKeyCheckRecent(t, "updated", stored.Attributes.Updated, before, after)

		got, err := v.c.GetKeyRotationPolicy(ctx, "pol", nil)
		if err != nil {
			t.Fatalf("GetKeyRotationPolicy: %v", err)
		}
		if sdkKeyPolicyString(got.KeyRotationPolicy) != sdkKeyPolicyString(stored.KeyRotationPolicy) {
			t.Errorf("GetKeyRotationPolicy = %s, want %s",
				sdkKeyPolicyString(got.KeyRotationPolicy), sdkKeyPolicyString(stored.KeyRotationPolicy))
		}

		// A second update keeps created; action types match without regard to case.
		again, err := v.c.UpdateKeyRotationPolicy(ctx, "pol", azkeys.KeyRotationPolicy{
			LifetimeActions: []*azkeys.LifetimeAction{
				{Trigger: &azkeys.LifetimeActionTrigger{TimeAfterCreate: to.Ptr("P60D")},
					Action: &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyAction("rotate"))}},
				{Trigger: &azkeys.LifetimeActionTrigger{TimeBeforeExpiry: to.Ptr("P10D")},
					Action: &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyAction("notify"))}},
			},
			Attributes: &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P1Y")},
		}, nil)
		if err != nil {
			t.Fatalf("second UpdateKeyRotationPolicy: %v", err)
		}
		if !sdkDeref(again.Attributes.Created).Equal(sdkDeref(stored.Attributes.Created)) {
			t.Errorf("created = %v after a second update, want %v", again.Attributes.Created,
				stored.Attributes.Created)
		}
		var types []azkeys.KeyRotationPolicyAction
		for _, a := range again.LifetimeActions {
			types = append(types, sdkDeref(a.Action.Type))
		}
		if !slices.Equal(types, []azkeys.KeyRotationPolicyAction{azkeys.KeyRotationPolicyActionRotate, azkeys.KeyRotationPolicyActionNotify}) {
			t.Errorf("action types = %v, want [Rotate Notify]", types)
		}
	})

	t.Run("MissingKey", func(t *testing.T) {
		_, err := v.c.GetKeyRotationPolicy(ctx, "no-such-key", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		_, err = v.c.UpdateKeyRotationPolicy(ctx, "no-such-key",
			sdkKeyPolicy(azkeys.KeyRotationPolicyActionRotate, "P30D", "", "P90D"), nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
	})
}

// sdkKeyLog collects a server's log lines for the test to search.
type sdkKeyLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *sdkKeyLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// lines returns the log lines that contain every one of parts.
func (l *sdkKeyLog) lines(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.buf.String(), "\n") {
		match := line != ""
		for _, p := range parts {
			match = match && strings.Contains(line, p)
		}
		if match {
			out = append(out, line)
		}
	}
	return out
}

// startSDKKeyClockVault starts a server with the test clock on, as
// kvtest.Start does, but keeps its log, because the Notify action of a
// rotation policy shows only there.
func startSDKKeyClockVault(t *testing.T) (*sdkKeyVault, *sdkKeyLog) {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	cfg.TestClock = true
	logs := &sdkKeyLog{}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		cancel()
		t.Fatalf("open server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	in := kvtest.Load(t, cfg.DataDir, srv.Addr().String())
	return &sdkKeyVault{in: in, c: in.KeysClient(t, "default"), base: in.VaultURL("default"),
		token: in.Token(t)}, logs
}

// advance moves the server's object clock forward by d, which runs the due
// jobs before the response, and returns the total offset in seconds.
func (v *sdkKeyVault) advance(t *testing.T, d time.Duration) int64 {
	t.Helper()
	r := v.in.Do(t, http.MethodPost, v.base+"/_test/clock", v.token, fmt.Sprintf(`{"advanceSeconds": %d}`, int64(d/time.Second)))
	if r.Status != http.StatusOK {
		t.Fatalf("POST /_test/clock: %v", r)
	}
	var body struct {
		Now           int64 `json:"now"`
		OffsetSeconds int64 `json:"offsetSeconds"`
	}
	r.JSON(t, &body)
	return body.OffsetSeconds
}

const sdkKeyDay = 24 * time.Hour

func TestKeysAutoRotation(t *testing.T) {
	clockOn := kvtest.Options{Configure: func(c *server.Config) { c.TestClock = true }}

	t.Run("AfterCreate", func(t *testing.T) {
		v := startSDKKeyVault(t, clockOn)
		ctx := context.Background()
		start := time.Now()
		original := v.create(t, "auto", azkeys.CreateKeyParameters{
			Kty: to.Ptr(azkeys.KeyTypeEC), Curve: to.Ptr(azkeys.CurveNameP384), KeyOps: sdkKeyOpParams("sign", "verify"),
		})
		if _, err := v.c.UpdateKeyRotationPolicy(ctx, "auto", sdkKeyPolicy(azkeys.KeyRotationPolicyActionRotate, "P30D", "", "P90D"), nil); err != nil {
			t.Fatalf("UpdateKeyRotationPolicy: %v", err)
		}
		// A key without a policy never rotates by itself.
		bystander := v.createEC(t, "no-policy", azkeys.CurveNameP256)

		if got := v.advance(t, 29*sdkKeyDay); got != int64(29*sdkKeyDay/time.Second) {
			t.Errorf("offset = %d s, want %d", got, int64(29*sdkKeyDay/time.Second))
		}
		if got := v.versions(t, "auto"); len(got) != 1 {
			t.Fatalf("versions after 29 days = %v, want only the original", got)
		}

		v.advance(t, 2*sdkKeyDay)
		done := time.Now()
		versions := v.versions(t, "auto")
		if len(versions) != 2 {
			t.Fatalf("versions after 31 days = %v, want 2", versions)
		}
		latest, err := v.c.GetKey(ctx, "auto", "", nil)
		if err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		if latest.Key.KID.Version() == original.Key.KID.Version() || !slices.Contains(versions, latest.Key.KID.Version()) {
			t.Errorf("latest version = %s, want the new one of %v (not the original %s)",
				latest.Key.KID.Version(), versions, original.Key.KID.Version())
		}
		if sdkDeref(latest.Key.Crv) != azkeys.CurveNameP384 {
			t.Errorf("rotated crv = %q, want P-384", sdkDeref(latest.Key.Crv))
		}
		if got := sdkKeyOps(latest.Key.KeyOps); !slices.Equal(got, []string{"sign", "verify"}) {
			t.Errorf("rotated key_ops = %v, want [sign verify]", got)
		}
		// The new version was created on the object clock, 31 days ahead,
		// and expires 90 days after that.
		lo, hi := start.Add(31*sdkKeyDay), done.Add(31*sdkKeyDay)
		sdkKeyCheckRecent(t, "rotated created", latest.Attributes.Created, lo, hi)
		sdkKeyCheckRecent(t, "rotated exp", latest.Attributes.Expires, lo.AddDate(0, 0, 90),
			hi.AddDate(0, 0, 90))
		if got := v.versions(t, "no-policy"); !slices.Equal(got, []string{bystander.Key.KID.Version()}) {
			t.Errorf("versions of the key without a policy = %v, want only %s", got,
				bystander.Key.KID.Version())
		}

		// The next rotation is due 30 days after the new version's creation.
		v.advance(t, 20*sdkKeyDay)
		if got := v.versions(t, "auto"); len(got) != 2 {
			t.Errorf("versions 20 days after the rotation = %d, want 2", len(got))
		}
		v.advance(t, 11*sdkKeyDay)
		if got := v.versions(t, "auto"); len(got) != 3 {
			t.Errorf("versions 31 days after the rotation = %d, want 3", len(got))
		}
	})

	t.Run("BeforeExpiry", func(t *testing.T) {
		v := startSDKKeyVault(t, clockOn)
		ctx := context.Background()
		exp := time.Now().Add(45 * sdkKeyDay)
		original := v.create(t, "expiring", azkeys.CreateKeyParameters{
			Kty: to.Ptr(azkeys.KeyTypeOct), KeySize: to.Ptr(int32(128)), KeyAttributes: &azkeys.KeyAttributes{Expires: &exp},
		})
		if _, err := v.c.UpdateKeyRotationPolicy(ctx, "expiring", sdkKeyPolicy(azkeys.KeyRotationPolicyActionRotate, "", "P30D", "P90D"), nil); err != nil {
			t.Fatalf("UpdateKeyRotationPolicy: %v", err)
		}

		// Rotation is due 30 days before exp: on day 15.
		v.advance(t, 14*sdkKeyDay)
		if got := v.versions(t, "expiring"); len(got) != 1 {
			t.Fatalf("versions on day 14 = %v, want only the original", got)
		}
		v.advance(t, 2*sdkKeyDay)
		latest, err := v.c.GetKey(ctx, "expiring", "", nil)
		if err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		if latest.Key.KID.Version() == original.Key.KID.Version() {
			t.Fatalf("latest version on day 16 is still the original, want a rotated one")
		}
		if got := v.versions(t, "expiring"); len(got) != 2 {
			t.Errorf("versions on day 16 = %v, want 2", got)
		}
		if _, err := v.c.WrapKey(ctx, "expiring", "", sdkKeyOp(azkeys.EncryptionAlgorithmA128KW, make([]byte, 16)), nil); err != nil {
			t.Errorf("A128KW on the rotated key: %v", err)
		}
	})
}

func TestKeysNotifyAction(t *testing.T) {
	v, logs := startSDKKeyClockVault(t)
	ctx := context.Background()
	exp := time.Now().Add(40 * sdkKeyDay)
	v.create(t, "notify", azkeys.CreateKeyParameters{
		Kty: to.Ptr(azkeys.KeyTypeRSA), KeyAttributes: &azkeys.KeyAttributes{Expires: &exp},
	})
	if _, err := v.c.UpdateKeyRotationPolicy(ctx, "notify", sdkKeyPolicy(azkeys.KeyRotationPolicyActionNotify, "", "P30D", "P90D"), nil); err != nil {
		t.Fatalf("UpdateKeyRotationPolicy: %v", err)
	}
	const message = "Notify action of its rotation policy"

	// The notification is due 30 days before exp: on day 10.
	v.advance(t, 9*sdkKeyDay)
	if got := logs.lines(message, "key=notify"); len(got) != 0 {
		t.Errorf("notification logged 31 days before exp: %q", got)
	}
	v.advance(t, 2*sdkKeyDay)
	if got := logs.lines(message, "key=notify"); len(got) != 1 {
		t.Errorf("notification lines 29 days before exp = %q, want exactly one", got)
	}
	v.advance(t, 3*sdkKeyDay)
	if got := logs.lines(message, "key=notify"); len(got) != 1 {
		t.Errorf("notification lines after more jobs = %d, want still one per version", len(got))
	}
	if got := v.versions(t, "notify"); len(got) != 1 {
		t.Errorf("versions = %v, want one: Notify never rotates", got)
	}
	if got := logs.lines("rotated key by its rotation policy"); len(got) != 0 {
		t.Errorf("rotation logged for a Notify policy: %q", got)
	}
}

func TestKeysTestClockAccess(t *testing.T) {
	t.Run("Off", func(t *testing.T) {
		v := startSDKKeyVault(t, kvtest.Options{})
		r := v.in.Do(t, http.MethodPost, v.base+"/_test/clock", v.token, `{"advanceSeconds": 60}`)
		checkAzureError(t, r, http.StatusNotFound, "NotFound", "")
	})

	t.Run("On", func(t *testing.T) {
		v := startSDKKeyVault(t, kvtest.Options{Configure: func(c *server.Config) { c.TestClock = true }})
		r := v.in.Do(t, http.MethodPost, v.base+"/_test/clock", "", `{"advanceSeconds": 60}`)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("POST without a token: status %d, want 401", r.Status)
		}
		for _, body := range []string{`{"advanceSeconds": -1}`, `{}`, `not json`} {
			r := v.in.Do(t, http.MethodPost, v.base+"/_test/clock", v.token, body)
			checkAzureError(t, r, http.StatusBadRequest, "BadParameter", "")
		}
		before := time.Now()
		r = v.in.Do(t, http.MethodGet, v.base+"/_test/clock", v.token, "")
		if r.Status != http.StatusOK {
			t.Fatalf("GET /_test/clock: %v", r)
		}
		var body struct {
			Now           int64 `json:"now"`
			OffsetSeconds int64 `json:"offsetSeconds"`
		}
		r.JSON(t, &body)
		if body.OffsetSeconds != 0 || body.Now < before.Unix()-1 || body.Now > time.Now().Unix()+1 {
			t.Errorf("GET /_test/clock = %s, want offset 0 and now near %d", r.Body, before.Unix())
		}
		if got := v.advance(t, time.Hour); got != 3600 {
			t.Errorf("offset after an hour = %d s, want 3600", got)
		}
	})
}

func TestKeysRandomBytes(t *testing.T) {
	v := startSDKKeyVault(t, kvtest.Options{})
	ctx := context.Background()
	var results [][]byte
	for _, count := range []int32{1, 32, 128, 128} {
		resp, err := v.c.GetRandomBytes(ctx, azkeys.GetRandomBytesParameters{Count: to.Ptr(count)},
			nil)
		if err != nil {
			t.Fatalf("GetRandomBytes(%d): %v", count, err)
		}
		if len(resp.Value) != int(count) {
			t.Errorf("GetRandomBytes(%d) returned %d bytes", count, len(resp.Value))
		}
		results = append(results, resp.Value)
	}
	if bytes.Equal(results[2], results[3]) {
		t.Errorf("two 128-byte results are equal: %x", results[2])
	}
	for _, count := range []int32{0, 129, -1} {
		_, err := v.c.GetRandomBytes(ctx, azkeys.GetRandomBytesParameters{Count: to.Ptr(count)},
			nil)
		if err == nil {
			t.Errorf("GetRandomBytes(%d) succeeded, want 400", count)
			continue
		}
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
	}
}

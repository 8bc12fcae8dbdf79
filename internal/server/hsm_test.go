//go:build cgo

package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/server"
	"github.com/keyvault/keyvault/internal/storage"
	"github.com/keyvault/keyvault/internal/storage/bolt"
)

// hsmKeyBody is the JSON of a key bundle, as far as these tests read it.
type hsmKeyBody struct {
	Key struct {
		Kid string `json:"kid"`
		Kty string `json:"kty"`
		N   string `json:"n"`
		E   string `json:"e"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Y   string `json:"y"`
	} `json:"key"`
}

type hsmOpBody struct {
	Kid   string `json:"kid"`
	Value string `json:"value"`
	IV    string `json:"iv"`
	Tag   string `json:"tag"`
}

func hsmB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func hsmDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// hsmClient sends REST requests to the default vault as the administrator.
type hsmClient struct {
	in    *kvtest.Instance
	token string
}

func (c *hsmClient) do(t *testing.T, method, path, body string) *kvtest.Response {
	t.Helper()
	return c.in.Do(t, method, c.in.VaultURL("default")+path+"?api-version=7.5", c.token, body)
}

func (c *hsmClient) op(t *testing.T, key, op, body string) hsmOpBody {
	t.Helper()
	r := c.do(t, http.MethodPost, "/keys/"+key+"/"+op, body)
	if r.Status != http.StatusOK {
		t.Fatalf("%s with %s: %v, want 200", op, key, r)
	}
	var out hsmOpBody
	r.JSON(t, &out)
	return out
}

func TestHSMKeysPKCS11(t *testing.T) {
	hsm := kvtest.SoftHSM(t)
	dir := t.TempDir()
	srv := sealStart(t, dir, pkcs11Seal(hsm))
	in := srv.loadCreds(t)
	c := &hsmClient{in: in, token: in.Token(t)}

	created := map[string]hsmKeyBody{}
	for name, body := range map[string]string{
		"rsa": `{"kty":"RSA-HSM","key_size":2048}`,
		"ec":  `{"kty":"EC-HSM","crv":"P-256"}`,
		"oct": `{"kty":"oct-HSM","key_size":256}`,
	} {
		r := c.do(t, http.MethodPost, "/keys/"+name+"/create", body)
		if r.Status != http.StatusOK {
			t.Fatalf("create %s: %v", body, r)
		}
		var k hsmKeyBody
		r.JSON(t, &k)
		created[name] = k
	}
	digest := sha256.Sum256([]byte("message"))

	t.Run("RSA", func(t *testing.T) {
		k := created["rsa"].Key
		if k.Kty != "RSA-HSM" || len(hsmDecode(t, k.N)) != 256 {
			t.Fatalf("key = %+v, want an RSA-HSM key with a 2048-bit modulus", k)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(hsmDecode(t, k.N)), E: int(new(big.Int).SetBytes(hsmDecode(t, k.E)).Int64())}
		for _, alg := range []string{"RS256", "PS256"} {
			sig := hsmDecode(t, c.op(t, "rsa", "sign", `{"alg":"`+alg+`","value":"`+hsmB64(digest[:])+`"}`).Value)
			var err error
			if alg == "RS256" {
				err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
			} else {
				err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			}
			if err != nil {
				t.Errorf("%s signature from the token does not verify: %v", alg, err)
			}
		}
		for _, alg := range []string{"RSA1_5", "RSA-OAEP"} {
			for _, op := range [][2]string{{"encrypt", "decrypt"}, {"wrapkey", "unwrapkey"}} {
				plain := []byte("thirty-two bytes of key material")
				enc := c.op(t, "rsa", op[0], `{"alg":"`+alg+`","value":"`+hsmB64(plain)+`"}`)
				dec := c.op(t, "rsa", op[1], `{"alg":"`+alg+`","value":"`+enc.Value+`"}`)
				if got := hsmDecode(t, dec.Value); !bytes.Equal(got, plain) {
					t.Errorf("%s %s/%s round trip = %q, want %q", alg, op[0], op[1], got, plain)
				}
			}
		}
		// SoftHSM2 2.6 implements RSA-OAEP decryption with SHA-1 only, so
		// decryption with SHA-256 is rejected with a clear message.
		enc := c.op(t, "rsa", "encrypt", `{"alg":"RSA-OAEP-256","value":"`+hsmB64([]byte("x"))+`"}`)
		r := c.do(t, http.MethodPost, "/keys/rsa/decrypt", `{"alg":"RSA-OAEP-256","value":"`+enc.Value+`"}`)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "does not support RSA-OAEP with SHA-256") {
			t.Errorf("RSA-OAEP-256 decrypt in SoftHSM2: %v, want 400 naming the missing support", r)
		}
	})
	t.Run("EC", func(t *testing.T) {
		k := created["ec"].Key
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(hsmDecode(t, k.X)), Y: new(big.Int).SetBytes(hsmDecode(t, k.Y))}
		sig := hsmDecode(t, c.op(t, "ec", "sign", `{"alg":"ES256","value":"`+hsmB64(digest[:])+`"}`).Value)
		if len(sig) != 64 {
			t.Fatalf("ES256 signature is %d bytes, want 64 (r || s)", len(sig))
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, digest[:], r, s) {
			t.Error("ES256 signature from the token does not verify")
		}
		verify := c.do(t, http.MethodPost, "/keys/ec/verify", `{"alg":"ES256","digest":"`+hsmB64(digest[:])+`","value":"`+hsmB64(sig)+`"}`)
		if verify.Status != http.StatusOK || !strings.Contains(string(verify.Body), `"value":true`) {
			t.Errorf("verify: %v, want value true", verify)
		}
	})
	t.Run("Oct", func(t *testing.T) {
		plain := []byte("a secret message that spans more than one AES block")
		enc := c.op(t, "oct", "encrypt", `{"alg":"A256GCM","value":"`+hsmB64(plain)+`"}`)
		dec := c.op(t, "oct", "decrypt", `{"alg":"A256GCM","value":"`+enc.Value+`","iv":"`+enc.IV+`","tag":"`+enc.Tag+`"}`)
		if got := hsmDecode(t, dec.Value); !bytes.Equal(got, plain) {
			t.Errorf("A256GCM round trip = %q, want %q", got, plain)
		}
		cek := bytes.Repeat([]byte{7}, 32)
		wrapped := hsmDecode(t, c.op(t, "oct", "wrapkey", `{"alg":"A256KW","value":"`+hsmB64(cek)+`"}`).Value)
		if len(wrapped) != 40 {
			t.Errorf("A256KW output is %d bytes, want 40", len(wrapped))
		}
		unwrapped := c.op(t, "oct", "unwrapkey", `{"alg":"A256KW","value":"`+hsmB64(wrapped)+`"}`)
		if got := hsmDecode(t, unwrapped.Value); !bytes.Equal(got, cek) {
			t.Errorf("A256KW round trip = %x, want %x", got, cek)
		}
		iv := bytes.Repeat([]byte{1}, 16)
		cbc := c.op(t, "oct", "encrypt", `{"alg":"A256CBCPAD","value":"`+hsmB64(plain)+`","iv":"`+hsmB64(iv)+`"}`)
		back := c.op(t, "oct", "decrypt", `{"alg":"A256CBCPAD","value":"`+cbc.Value+`","iv":"`+hsmB64(iv)+`"}`)
		if got := hsmDecode(t, back.Value); !bytes.Equal(got, plain) {
			t.Errorf("A256CBCPAD round trip = %q, want %q", got, plain)
		}
	})
	t.Run("Rejected", func(t *testing.T) {
		tests := []struct {
			name, path, body, want string
		}{
			{name: "P256K", path: "/keys/k1/create", body: `{"kty":"EC-HSM","crv":"P-256K"}`, want: "KeyCurveNotSupported"},
			{name: "Import", path: "/keys/imported", body: `{"key":{"kty":"oct-HSM","k":"` + hsmB64(make([]byte, 32)) + `"}}`, want: "cannot import private keys"},
			{name: "Certificate", path: "/certificates/c1/create", body: `{"policy":{"key_props":{"kty":"RSA-HSM"},"x509_props":{"subject":"CN=x"}}}`, want: "certificate keys are software keys"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				method := http.MethodPost
				if tt.name == "Import" {
					method = http.MethodPut
				}
				r := c.do(t, method, tt.path, tt.body)
				if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), tt.want) {
					t.Errorf("%s: %v, want 400 containing %q", tt.path, r, tt.want)
				}
			})
		}
	})
	srv.stop()

	refs := hsmStoredRefs(t, dir, hsm)
	t.Run("StoreHoldsReference", func(t *testing.T) {
		for name, ref := range refs {
			if ref.HSM == "" {
				t.Errorf("stored key %s has no HSM reference", name)
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
				if _, ok := ref.JWK[private]; ok {
					t.Errorf("stored key %s has the private JWK member %q", name, private)
				}
			}
		}
	})
	t.Run("TokenAttributes", func(t *testing.T) {
		ctx, err := crypto11.Configure(&crypto11.Config{Path: hsm.Module, TokenLabel: hsm.TokenLabel, Pin: hsm.PIN})
		if err != nil {
			t.Fatal(err)
		}
		defer ctx.Close()
		for name, ref := range refs {
			id, _ := hex.DecodeString(ref.HSM)
			var object any
			if name == "oct" {
				object, err = ctx.FindKey(id, nil)
			} else {
				object, err = ctx.FindKeyPair(id, nil)
			}
			if err != nil || object == nil {
				t.Fatalf("find %s (id %s) in the token: %v", name, ref.HSM, err)
			}
			attrs, err := ctx.GetAttributes(object, []crypto11.AttributeType{crypto11.CkaSensitive, crypto11.CkaExtractable})
			if err != nil {
				t.Fatalf("GetAttributeValue of %s: %v", name, err)
			}
			if v := attrs[crypto11.CkaSensitive].Value; !bytes.Equal(v, []byte{1}) {
				t.Errorf("%s: CKA_SENSITIVE = %v, want true", name, v)
			}
			if v := attrs[crypto11.CkaExtractable].Value; !bytes.Equal(v, []byte{0}) {
				t.Errorf("%s: CKA_EXTRACTABLE = %v, want false", name, v)
			}
		}
	})

	// After a restart the keys are found in the token again by reference.
	srv = sealStart(t, dir, pkcs11Seal(hsm))
	in = srv.loadCreds(t)
	c = &hsmClient{in: in, token: in.Token(t)}
	k := created["rsa"].Key
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(hsmDecode(t, k.N)), E: 65537}
	sig := hsmDecode(t, c.op(t, "rsa", "sign", `{"alg":"RS256","value":"`+hsmB64(digest[:])+`"}`).Value)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("signature after restart does not verify: %v", err)
	}
	r := c.do(t, http.MethodPost, "/keys/rsa/rotate", "")
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"kty":"RSA-HSM"`) {
		t.Errorf("rotate RSA-HSM key: %v, want 200 with a new RSA-HSM version", r)
	}

	// Purging a key deletes the token objects of all its versions (two for
	// rsa after the rotation).
	ctx, err := crypto11.Configure(&crypto11.Config{Path: hsm.Module, TokenLabel: hsm.TokenLabel, Pin: hsm.PIN})
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := ctx.FindAllKeyPairs()
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 3 {
		t.Errorf("the token holds %d key pairs before the purge, want 3 (rsa twice, ec)", len(pairs))
	}
	ctx.Close()
	for _, name := range []string{"rsa", "ec", "oct"} {
		if r := c.do(t, http.MethodDelete, "/keys/"+name, ""); r.Status != http.StatusOK {
			t.Fatalf("delete %s: %v", name, r)
		}
		if r := c.do(t, http.MethodDelete, "/deletedkeys/"+name, ""); r.Status != http.StatusNoContent {
			t.Fatalf("purge %s: %v", name, r)
		}
	}
	srv.stop()
	ctx, err = crypto11.Configure(&crypto11.Config{Path: hsm.Module, TokenLabel: hsm.TokenLabel, Pin: hsm.PIN})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	if pairs, err := ctx.FindAllKeyPairs(); err != nil || len(pairs) != 0 {
		t.Errorf("the token holds %d key pairs after the purge (%v), want none", len(pairs), err)
	}
	octID, _ := hex.DecodeString(refs["oct"].HSM)
	if secrets, err := ctx.FindKeys(octID, nil); err != nil || len(secrets) != 0 {
		t.Errorf("the token holds %d AES keys of the oct-HSM key after the purge (%v), want none", len(secrets), err)
	}
}

// hsmStoredKey is the decrypted stored form of a key version.
type hsmStoredKey struct {
	JWK map[string]any `json:"jwk"`
	HSM string         `json:"hsm"`
}

// hsmStoredRefs opens the stopped server's store with its token root key
// and returns the stored content of the latest version of each test key.
func hsmStoredRefs(t *testing.T, dir string, hsm seal.PKCS11Config) map[string]hsmStoredKey {
	t.Helper()
	token, err := seal.OpenPKCS11(hsm)
	if err != nil {
		t.Fatal(err)
	}
	defer token.Close()
	root, _, err := token.RootKey(hsm.KeyLabel, false)
	if err != nil {
		t.Fatal(err)
	}
	store, err := bolt.Open(filepath.Join(dir, server.StoreFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	sealer, err := seal.NewKeyring(store, root).Sealer(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]hsmStoredKey{}
	err = store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan("key-versions", []byte("default\x00"), nil, func(k, v []byte) (bool, error) {
			parts := strings.Split(string(k), "\x00")
			plain, err := sealer.Open(v, seal.AAD("key", parts[0], parts[1], parts[2]))
			if err != nil {
				return false, err
			}
			var stored hsmStoredKey
			if err := json.Unmarshal(plain, &stored); err != nil {
				return false, err
			}
			out[parts[1]] = stored
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 {
		t.Fatalf("stored keys = %d, want 3", len(out))
	}
	return out
}

func TestHSMKeysRejectedWithoutToken(t *testing.T) {
	srv := sealStart(t, t.TempDir(), func(c *server.Config) { c.AllowSoftwareHSM = false })
	in := srv.loadCreds(t)
	c := &hsmClient{in: in, token: in.Token(t)}
	for _, kty := range []string{"RSA-HSM", "EC-HSM", "oct-HSM"} {
		r := c.do(t, http.MethodPost, "/keys/k/create", `{"kty":"`+kty+`"}`)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "needs a hardware security module") ||
			!strings.Contains(string(r.Body), "--allow-software-hsm") {
			t.Errorf("create %s without a token: %v, want 400 naming --seal pkcs11 and --allow-software-hsm", kty, r)
		}
	}
	if r := c.do(t, http.MethodPost, "/keys/k/create", `{"kty":"RSA"}`); r.Status != http.StatusOK {
		t.Errorf("create RSA without a token: %v, want 200", r)
	}
}

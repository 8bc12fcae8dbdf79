package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyvault/keyvault/internal/api"
	"github.com/keyvault/keyvault/internal/keys"
	"github.com/keyvault/keyvault/internal/vault"
)

// keyOperations are the path segments of the key operations, as the Azure
// SDKs send them.
var keyOperations = []string{"encrypt", "decrypt", "wrapkey", "unwrapkey", "sign", "verify"}

// opTarget is one key version that FuzzKeyOperationBody runs operations with.
type opTarget struct {
	name    string
	version string
}

// createOpTargets creates one key of each family, curve and a few sizes,
// each allowing every operation so that request bodies reach the crypto
// code instead of the key_ops check.
func createOpTargets(tb testing.TB, h *api.Handler, v *vault.Vault) []opTarget {
	tb.Helper()
	allOps := []string{keys.OpEncrypt, keys.OpDecrypt, keys.OpWrapKey, keys.OpUnwrapKey, keys.OpSign, keys.OpVerify}
	specs := []struct {
		name string
		p    vault.KeyParams
	}{
		{name: "rsa2048", p: vault.KeyParams{Kty: keys.KtyRSA, Size: 2048}},
		{name: "p256", p: vault.KeyParams{Kty: keys.KtyEC, Curve: keys.CurveP256}},
		{name: "p521", p: vault.KeyParams{Kty: keys.KtyECHSM, Curve: keys.CurveP521}},
		{name: "secp256k1", p: vault.KeyParams{Kty: keys.KtyEC, Curve: keys.CurveP256K}},
		{name: "aes128", p: vault.KeyParams{Kty: keys.KtyOct, Size: 128}},
		{name: "aes256", p: vault.KeyParams{Kty: keys.KtyOctHSM, Size: 256}},
	}
	targets := make([]opTarget, 0, len(specs))
	for _, s := range specs {
		s.p.KeyOps = allOps
		k, err := h.Vaults.CreateKey(context.Background(), v, s.name, s.p)
		if err != nil {
			tb.Fatalf("CreateKey(%s): %v", s.name, err)
		}
		targets = append(targets, opTarget{name: k.Name, version: k.Version})
	}
	return targets
}

// keyOpBody is a key operation request body as the handler reads it.
type keyOpBody struct {
	Alg    string         `json:"alg"`
	Value  keys.Base64URL `json:"value"`
	IV     keys.Base64URL `json:"iv,omitempty"`
	AAD    keys.Base64URL `json:"aad,omitempty"`
	Tag    keys.Base64URL `json:"tag,omitempty"`
	Digest keys.Base64URL `json:"digest,omitempty"`
}

// keyOpResult is the 200 response of encrypt, decrypt, wrapKey, unwrapKey
// and sign.
type keyOpResult struct {
	Kid   string          `json:"kid"`
	Value json.RawMessage `json:"value"`
	IV    keys.Base64URL  `json:"iv"`
	Tag   keys.Base64URL  `json:"tag"`
	AAD   keys.Base64URL  `json:"aad"`
}

// postKeyOperation sends body to POST /keys/{name}/{version}/{op} and checks
// the parts every response shares: a JSON body, and a 200 or a 400 with an
// Azure error code and message (413 only for a body over the limit). It
// returns the status and the body.
func postKeyOperation(tb testing.TB, h *api.Handler, v *vault.Vault, target opTarget, op string, body []byte) (int, []byte) {
	tb.Helper()
	path := "/keys/" + target.name + "/" + target.version + "/" + op + "?api-version=7.5"
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	w := httptest.NewRecorder()
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	h.Serve(w, r, &api.Request{Vault: v, APIVersion: "7.5", Segments: []string{"keys", target.name, target.version, op}})

	res := w.Result()
	out := w.Body.Bytes()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("%s %s: Content-Type = %q, want application/json", op, target.name, ct)
	}
	if !json.Valid(out) {
		tb.Fatalf("%s %s: status %d with a body that is not JSON: %q", op, target.name, res.StatusCode, out)
	}
	switch {
	case res.StatusCode == http.StatusOK:
	case res.StatusCode == http.StatusBadRequest:
		var e api.ErrorBody
		if err := json.Unmarshal(out, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			tb.Errorf("%s %s: 400 body %q lacks an error code or message (%v)", op, target.name, out, err)
		}
	case res.StatusCode == http.StatusRequestEntityTooLarge && len(body) > maxBodyBytes:
	default:
		tb.Fatalf("%s %s: status %d for body %q, want 200 or 400; response %q", op, target.name, res.StatusCode, body, out)
	}
	return res.StatusCode, out
}

// checkKeyOpRoundTrip takes a successful encrypt, wrapKey or sign and checks
// that the reverse operation (decrypt, unwrapKey, verify) on its result gives
// back the request's value, or verifies.
func checkKeyOpRoundTrip(tb testing.TB, h *api.Handler, v *vault.Vault, target opTarget, op string, reqBody, resBody []byte) {
	tb.Helper()
	var req keyOpBody
	if err := json.Unmarshal(reqBody, &req); err != nil {
		tb.Fatalf("%s %s: 200 for a body the handler's types cannot read: %q (%v)", op, target.name, reqBody, err)
	}
	var res keyOpResult
	if err := json.Unmarshal(resBody, &res); err != nil {
		tb.Fatalf("%s %s: decode 200 response %q: %v", op, target.name, resBody, err)
	}
	if op == "verify" {
		// KeyVerifyResult has only value, a boolean.
		var verified struct {
			Value *bool `json:"value"`
		}
		if err := json.Unmarshal(resBody, &verified); err != nil || verified.Value == nil {
			tb.Errorf("verify %s: response %s, want {\"value\":true|false}", target.name, resBody)
		}
		return
	}
	if want := "/keys/" + target.name + "/" + target.version; !strings.HasSuffix(res.Kid, want) {
		tb.Errorf("%s %s: kid = %q, want it to end in %s", op, target.name, res.Kid, want)
	}
	if op == "decrypt" || op == "unwrapkey" {
		return
	}
	var out keys.Base64URL
	if err := json.Unmarshal(res.Value, &out); err != nil {
		tb.Fatalf("%s %s: value %s is not base64url: %v", op, target.name, res.Value, err)
	}

	var reverse keyOpBody
	var wantValue []byte
	switch op {
	case "encrypt":
		reverse = keyOpBody{Alg: req.Alg, Value: out, IV: res.IV, Tag: res.Tag, AAD: req.AAD}
		wantValue = req.Value
	case "wrapkey":
		reverse = keyOpBody{Alg: req.Alg, Value: out}
		wantValue = req.Value
	case "sign":
		reverse = keyOpBody{Alg: req.Alg, Digest: req.Value, Value: out}
	}
	reverseOp := map[string]string{"encrypt": "decrypt", "wrapkey": "unwrapkey", "sign": "verify"}[op]
	raw, err := json.Marshal(reverse)
	if err != nil {
		tb.Fatalf("marshal %s body: %v", reverseOp, err)
	}
	status, back := postKeyOperation(tb, h, v, target, reverseOp, raw)
	if status != http.StatusOK {
		tb.Fatalf("%s %s of the result of %s %q: status %d, body %s", reverseOp, target.name, op, reqBody, status, back)
	}
	if op == "sign" {
		var verified struct {
			Value *bool `json:"value"`
		}
		if err := json.Unmarshal(back, &verified); err != nil || verified.Value == nil || !*verified.Value {
			tb.Errorf("verify %s of the signature of %q = %s, want {\"value\":true}", target.name, reqBody, back)
		}
		return
	}
	var plain struct {
		Value keys.Base64URL `json:"value"`
	}
	if err := json.Unmarshal(back, &plain); err != nil {
		tb.Fatalf("decode %s response %s: %v", reverseOp, back, err)
	}
	if !bytes.Equal(plain.Value, wantValue) {
		tb.Errorf("%s %s of the result of %s = %X, want %X", reverseOp, target.name, op, []byte(plain.Value), wantValue)
	}
}

// runKeyOperations sends body to every operation of every target and
// returns how many requests succeeded.
func runKeyOperations(tb testing.TB, h *api.Handler, v *vault.Vault, targets []opTarget, body []byte) int {
	tb.Helper()
	succeeded := 0
	for _, target := range targets {
		for _, op := range keyOperations {
			status, out := postKeyOperation(tb, h, v, target, op, body)
			if status != http.StatusOK {
				continue
			}
			succeeded++
			checkKeyOpRoundTrip(tb, h, v, target, op, body, out)
		}
	}
	return succeeded
}

func b64(n int) string {
	return base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, n))
}

// FuzzKeyOperationBody sends arbitrary bodies to each key operation of an
// RSA, three EC and two AES keys through Handler.Serve on a real
// vault.Service. Every response must be JSON with status 200 or 400, and
// every successful encrypt, wrapKey or sign must round-trip through its
// reverse operation.
func FuzzKeyOperationBody(f *testing.F) {
	h, v := newFuzzHandler(f)
	targets := createOpTargets(f, h, v)

	// Each of these succeeds on at least one key.
	valid := []string{
		`{"alg":"RSA-OAEP","value":"aGVsbG8"}`,
		`{"alg":"RSA-OAEP-256","value":"` + b64(190) + `"}`,
		`{"alg":"RSA1_5","value":"` + b64(32) + `"}`,
		`{"alg":"A128GCM","value":"aGVsbG8","aad":"YWFk"}`,
		`{"alg":"A256GCM","value":""}`,
		`{"alg":"A128CBCPAD","value":"aGVsbG8","iv":"` + b64(16) + `"}`,
		`{"alg":"A256CBC","value":"` + b64(32) + `","iv":"` + b64(16) + `"}`,
		`{"alg":"A128KW","value":"` + b64(16) + `"}`,
		`{"alg":"A256KW","value":"` + b64(40) + `"}`,
		`{"alg":"ES256","value":"` + b64(32) + `"}`,
		`{"alg":"ES512","value":"` + b64(64) + `"}`,
		`{"alg":"ES256K","value":"` + b64(32) + `"}`,
		`{"alg":"PS256","value":"` + b64(32) + `"}`,
		`{"alg":"RS512","value":"` + b64(64) + `"}`,
		`{"alg":"ES256","digest":"` + b64(32) + `","value":"` + b64(64) + `"}`,
		`{"ALG":"RS384","Value":"` + b64(48) + `"}`,
	}
	for _, body := range valid {
		if runKeyOperations(f, h, v, targets, []byte(body)) == 0 {
			f.Fatalf("seed %s succeeded on no key and operation", body)
		}
		f.Add([]byte(body))
	}
	for _, body := range []string{
		``,
		`   `,
		`null`,
		`[]`,
		`{}`,
		`"alg"`,
		`{"alg":1}`,
		`{"alg":""}`,
		`{"alg":"ES256"}`,
		`{"alg":"ES256","value":"!!"}`,
		`{"alg":"ES256","value":null}`,
		`{"alg":"ES256","value":["AA"]}`,
		`{"alg":"A128GCM","value":"","iv":"","tag":""}`,
		`{"alg":"A128GCM","value":"AA","iv":"` + b64(12) + `","tag":"` + b64(16) + `"}`,
		`{"alg":"A128CBCPAD","value":"` + b64(16) + `","iv":"` + b64(16) + `"}`,
		`{"alg":"RSA1_5","value":"` + b64(256) + `"}`,
		`{"alg":"RS256","digest":"` + b64(32) + `","value":"` + b64(256) + `"}`,
		`{"alg":"ES256K","digest":"` + b64(32) + `","value":"` + strings.Repeat("_", 86) + `"}`,
		`{"alg":"A256KW","value":"` + b64(24) + `"}`,
		`{"alg":"RSA-OAEP","value":"aGVsbG8"} trailing`,
		`{"alg":"HS256","value":"` + b64(32) + `"}`,
	} {
		f.Add([]byte(body))
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		runKeyOperations(t, h, v, targets, body)
	})
}

package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/keyvault/keyvault/internal/keys"
)

// b64 returns the base64url of n bytes.
func b64(n int) string {
	return base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, n))
}

// fastPathBodies are key operation bodies in the usual form and in forms
// the fast path must leave to encoding/json.
var fastPathBodies = []string{
	`{"alg":"ES256","value":"` + b64(32) + `"}`,
	` { "alg" : "A256GCM" , "value" : "aGVsbG8" , "aad" : "YWFk" } `,
	"{\n\t\"alg\": \"RSA-OAEP\",\r\n\"value\": \"aGVsbG8=\"\n}",
	`{"alg":"A128CBC","value":"aGVsbG8","iv":"` + b64(16) + `","tag":"","digest":"AA"}`,
	`{"alg":"ES256","alg":"ES384","value":"AA","value":"AQ"}`,
	`{"alg":"RS256","value":"a+b/"}`,
	`{}`,
	`{"ALG":"RS384","Value":"AA"}`,
	`{"alg":"ES256","value":null}`,
	`{"alg":"ES256","value":"!!"}`,
	`{"alg":"E\u0053256","value":"AA"}`,
	`{"alg":"<&>","value":"AA"}`,
	`{"alg":"ES256","value":"AA","extra":1}`,
	`{"alg":"ES256","value":"AA"} x`,
	`{"alg":"ES256","value":"AA",}`,
	`{"alg":"ES256" "value":"AA"}`,
	`{"alg":"ES256","value":"AA"`,
	`{"alg":"ES256","value":"A`,
	`{"alg":1}`,
	`[]`,
	`null`,
}

// checkFastPath fails if parseKeyOperation accepts body but decodes it
// differently from encoding/json.
func checkFastPath(t *testing.T, body []byte) {
	t.Helper()
	fast, ok := parseKeyOperation(body)
	if !ok {
		return
	}
	var want keyOperationRequest
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("fast path accepted %q, which encoding/json rejects: %v", body, err)
	}
	if !reflect.DeepEqual(normalize(fast), normalize(want)) {
		t.Fatalf("fast path decoded %q as %+v, encoding/json as %+v", body, fast, want)
	}
}

// normalize treats an absent and an empty base64 field alike, as every
// reader of keyOperationRequest does.
func normalize(r keyOperationRequest) keyOperationRequest {
	for _, f := range []*keys.Base64URL{&r.Value, &r.IV, &r.AAD, &r.Tag, &r.Digest} {
		if len(*f) == 0 {
			*f = nil
		}
	}
	return r
}

func TestKeyOperationFastPath(t *testing.T) {
	accepted := 0
	for _, body := range fastPathBodies {
		checkFastPath(t, []byte(body))
		if _, ok := parseKeyOperation([]byte(body)); ok {
			accepted++
		}
	}
	if accepted < 5 {
		t.Errorf("the fast path accepted %d of the bodies, want at least the first 5", accepted)
	}
	if _, ok := parseKeyOperation([]byte(fastPathBodies[0])); !ok {
		t.Errorf("the fast path refused the usual body %s", fastPathBodies[0])
	}
}

func FuzzKeyOperationFastPath(f *testing.F) {
	for _, body := range fastPathBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFastPath(t, body) })
}

func TestKeyOperationResultEncoding(t *testing.T) {
	for _, out := range []keyOperationResult{
		{Kid: "https://default.vault.localhost:8443/keys/k/0123", Value: keys.Base64URL{1, 2, 3}},
		{Kid: "https://h/keys/k/v", Value: nil},
		{Kid: "https://h/keys/k/v", Value: keys.Base64URL{}, IV: keys.Base64URL{0xfb, 0xff}, Tag: keys.Base64URL{9}, AAD: keys.Base64URL{7, 7}},
		{Kid: `https://a<b>&"c"\d/keys/é`, Value: bytes.Repeat([]byte{0xff}, 300)},
	} {
		if out.Value == nil {
			// keyOperation's encoder writes "" for no value; so does
			// Base64URL.MarshalJSON for an empty one.
			out.Value = keys.Base64URL{}
		}
		want, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendKeyOperationResult(nil, &out); !bytes.Equal(got, want) {
			t.Errorf("hand encoding differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	}
}

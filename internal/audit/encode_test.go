package audit

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// marshalLine is the reference: the line json.Marshal makes of r once the
// chain fields are set, which is what Verify accepts.
func marshalLine(t testing.TB, r Record, seq uint64, prev string) []byte {
	t.Helper()
	r.Seq, r.PrevHash, r.Hash = seq, prev, ""
	raw, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	r.Hash = hashLine(prev, raw)
	line, err := json.Marshal(&r)
	if err != nil {
		t.Fatal(err)
	}
	return append(line, '\n')
}

func checkEncoding(t testing.TB, r Record) {
	t.Helper()
	r.makeValidUTF8() // as Append does
	const prev = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	want := marshalLine(t, r, 42, prev)
	got, hash := chainLine(appendBody(nil, &r), 42, prev)
	if !bytes.Equal(got, want) {
		t.Fatalf("hand encoding differs from encoding/json:\n got %s\nwant %s", got, want)
	}
	var back Record
	if err := json.Unmarshal(got, &back); err != nil || back.Hash != hash {
		t.Fatalf("line does not decode to its hash %s: %v, %+v", hash, err, back)
	}
	// Verify accepts a line only if it is the encoding of what it decodes to.
	again, err := json.Marshal(&back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(again, '\n'), got) {
		t.Fatalf("line does not survive decoding and encoding again:\n got %s\nwant %s", again, got)
	}
	if h, err := chainHash(&back); err != nil || h != hash {
		t.Fatalf("chainHash of the decoded record = %s, %v; want %s", h, err, hash)
	}
}

// awkward holds strings that encoding/json escapes, each in its own way.
var awkward = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr",
	"\x00\x01\x1f\x7f", "\b\f", "é ü 日本", "\u2028\u2029", "\xff\xfe invalid", "emoji 🔑",
}

func TestEncodingMatchesMarshal(t *testing.T) {
	yes, no := true, false
	full := Record{
		Time: "2026-12-04T19:00:00.0000000Z", ResourceID: "/SUBSCRIPTIONS/X/VAULTS/V", OperationName: "SecretGet",
		OperationVersion: "7.4", Category: CategoryAuditEvent, ResultType: "Success", ResultSignature: "OK",
		ResultDescription: "d", DurationMs: "3", CallerIPAddress: "127.0.0.1", CorrelationID: "c",
		Identity: &Identity{Claim: map[string]string{"oid": "o", "appid": "a", "tid": "t", "idtyp": "app"}},
		Properties: Properties{ID: "https://v/secrets/s", ClientInfo: "azsdk-go", HTTPStatusCode: 200,
			RequestURI: "https://v/secrets/s?api-version=7.4", IsAccessPolicyMatch: &yes, IsRbacAuthorized: &no,
			TLSVersion: "TLS1_3", Algorithm: "RS256", Vault: "v", Details: "x"},
	}
	checkEncoding(t, full)
	checkEncoding(t, Record{})
	checkEncoding(t, Record{Identity: &Identity{}})
	checkEncoding(t, Record{Identity: &Identity{Claim: map[string]string{}}})
	checkEncoding(t, Record{Properties: Properties{HTTPStatusCode: -1, IsRbacAuthorized: &yes}})
	for _, s := range awkward {
		r := full
		r.ResultDescription, r.Properties.ClientInfo = s, s
		r.Identity = &Identity{Claim: map[string]string{s: s, "oid": s}}
		checkEncoding(t, r)
	}

	// Random records: each field empty, plain or awkward.
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() string {
		switch rng.IntN(3) {
		case 0:
			return ""
		case 1:
			return "value"
		}
		return awkward[rng.IntN(len(awkward))]
	}
	for range 2000 {
		r := Record{Time: pick(), ResourceID: pick(), OperationName: pick(), OperationVersion: pick(),
			Category: pick(), ResultType: pick(), ResultSignature: pick(), ResultDescription: pick(),
			DurationMs: pick(), CallerIPAddress: pick(), CorrelationID: pick(),
			Properties: Properties{ID: pick(), ClientInfo: pick(), HTTPStatusCode: rng.IntN(3) * 200,
				RequestURI: pick(), TLSVersion: pick(), Algorithm: pick(), Vault: pick(), Details: pick()}}
		if rng.IntN(2) == 0 {
			r.Identity = &Identity{Claim: map[string]string{pick(): pick(), pick(): pick()}}
		}
		if rng.IntN(2) == 0 {
			r.Properties.IsAccessPolicyMatch = &yes
		}
		checkEncoding(t, r)
	}
}

func FuzzEncoding(f *testing.F) {
	for _, s := range awkward {
		f.Add(s, s, 200)
	}
	f.Fuzz(func(t *testing.T, a, b string, status int) {
		checkEncoding(t, Record{Time: a, OperationName: b, Category: CategoryAuditEvent,
			Identity:   &Identity{Claim: map[string]string{a: b}},
			Properties: Properties{ClientInfo: a, RequestURI: b, HTTPStatusCode: status}})
	})
}

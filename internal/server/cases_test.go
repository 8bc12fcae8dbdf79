package server_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/keyvault/keyvault/internal/api"
	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/server"
)

// wireAPIVersion is the api-version these tests send, unless a test is about
// api-version itself.
const wireAPIVersion = "7.5"

// wireVault is a running server with an administrator token, addressed
// through the default vault's host name.
type wireVault struct {
	in    *kvtest.Instance
	token string
	host  string // default.vault.localhost:PORT
}

func startWireVault(t *testing.T, opts kvtest.Options) *wireVault {
	t.Helper()
	in := kvtest.Start(t, opts)
	return &wireVault{in: in, token: in.Token(t), host: "default.vault.localhost:" + in.Port}
}

// url returns the absolute URL of pathQuery on the default vault with
// api-version added to the query.
func (v *wireVault) url(pathQuery string) string {
	sep := "?"
	if strings.Contains(pathQuery, "?") {
		sep = "&"
	}
	return "https://" + v.host + pathQuery + sep + "api-version=" + wireAPIVersion
}

// do sends an authenticated request to pathQuery on the default vault.
func (v *wireVault) do(t *testing.T, method, pathQuery, body string) *kvtest.Response {
	t.Helper()
	return v.in.Do(t, method, v.url(pathQuery), v.token, body)
}

// put sets a secret and fails the test unless the server returns 200.
func (v *wireVault) put(t *testing.T, name, body string) wireSecret {
	t.Helper()
	r := v.do(t, http.MethodPut, "/secrets/"+name, body)
	if r.Status != http.StatusOK {
		t.Fatalf("PUT /secrets/%s: got %v, want status 200", name, r)
	}
	checkNoNullAttributes(t, r.Body)
	var s wireSecret
	r.JSON(t, &s)
	return s
}

// wireSecret is SecretBundle, DeletedSecretBundle or a list item as the
// client reads it. Value is nil when the body has no value member.
type wireSecret struct {
	ID                 string            `json:"id"`
	Value              *string           `json:"value"`
	ContentType        string            `json:"contentType"`
	Tags               map[string]string `json:"tags"`
	Attributes         map[string]any    `json:"attributes"`
	RecoveryID         string            `json:"recoveryId"`
	DeletedDate        int64             `json:"deletedDate"`
	ScheduledPurgeDate int64             `json:"scheduledPurgeDate"`
}

type wirePage struct {
	Value    []wireSecret `json:"value"`
	NextLink *string      `json:"nextLink"`
}

// checkAzureError checks that r is an Azure error response with status, a
// JSON content type, error.code equal to code and a non-empty message. An
// empty inner means that no inner error code is expected.
func checkAzureError(t *testing.T, r *kvtest.Response, status int, code, inner string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status: got %d, want %d (body %s)", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type: got %q, want application/json", ct)
	}
	gotCode, gotInner := r.ErrorCode()
	if gotCode != code {
		t.Errorf("error code: got %q, want %q (body %s)", gotCode, code, r.Body)
	}
	if gotInner != inner {
		t.Errorf("inner error code: got %q, want %q (body %s)", gotInner, inner, r.Body)
	}
	if msg := errorMessage(r); msg == "" {
		t.Errorf("error message is empty (body %s)", r.Body)
	}
}

func errorMessage(r *kvtest.Response) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Message
}

// checkNoNullAttributes fails the test if an "attributes" object anywhere in
// body is null or has a null member. Unset times must be left out, never sent
// as null.
func checkNoNullAttributes(t *testing.T, body []byte) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for key, member := range v {
				if key != "attributes" {
					walk(member)
					continue
				}
				attrs, ok := member.(map[string]any)
				if !ok {
					t.Errorf("attributes: got %v, want an object", member)
					continue
				}
				for name, value := range attrs {
					if value == nil {
						t.Errorf("attributes.%s is null in %s", name, body)
					}
				}
			}
		case []any:
			for _, item := range v {
				walk(item)
			}
		}
	}
	walk(doc)
}

// listNames reads every page of the list at firstURL, following nextLink
// verbatim, and returns the last path segment of each item id in order.
// Every page must hold at most pageSize items and every nextLink must be
// an absolute https URL on host that names the api-version.
func listNames(t *testing.T, v *wireVault, firstURL, host string, pageSize int) []string {
	t.Helper()
	var names []string
	link := firstURL
	for page := 0; link != ""; page++ {
		if page > 100 {
			t.Fatalf("more than 100 pages: the list does not end")
		}
		r := v.in.Do(t, http.MethodGet, link, v.token, "")
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: got %v, want status 200", link, r)
		}
		checkNoNullAttributes(t, r.Body)
		var p wirePage
		r.JSON(t, &p)
		if len(p.Value) > pageSize {
			t.Errorf("page %d: got %d items, want at most %d", page, len(p.Value), pageSize)
		}
		for _, item := range p.Value {
			names = append(names, path.Base(item.ID))
		}
		link = ""
		if p.NextLink != nil {
			link = *p.NextLink
			checkNextLink(t, link, host)
		}
	}
	return names
}

func checkNextLink(t *testing.T, link, host string) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("nextLink %q: %v", link, err)
	}
	if u.Scheme != "https" || u.Host != host {
		t.Errorf("nextLink %q: got scheme %q and host %q, want https and %q", link, u.Scheme, u.Host, host)
	}
	if got := u.Query().Get("api-version"); got != wireAPIVersion {
		t.Errorf("nextLink %q: api-version is %q, want %q", link, got, wireAPIVersion)
	}
	if u.Query().Get("$skiptoken") == "" {
		t.Errorf("nextLink %q has no $skiptoken", link)
	}
}

func TestCaseBodilessPutChallenge(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})

	// The SDK's first request: no Authorization and an empty body.
	req, err := http.NewRequest(http.MethodPut, v.url("/secrets/first"), http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	r := sendRaw(t, v.in, req)
	checkAzureError(t, r, http.StatusUnauthorized, "Unauthorized", "")
	want := `Bearer authorization="https://` + v.host + "/" + v.in.Creds.TenantID +
		`", resource="https://vault.localhost:` + v.in.Port + `"`
	if got := r.Header.Get("WWW-Authenticate"); got != want {
		t.Errorf("WWW-Authenticate:\ngot  %s\nwant %s", got, want)
	}
	if msg := errorMessage(r); !strings.HasPrefix(msg, "AKV10000") {
		t.Errorf("message: got %q, want it to start with AKV10000", msg)
	}

	// The retry with a token and the body.
	s := v.put(t, "first", `{"value":"v1"}`)
	if s.Value == nil || *s.Value != "v1" {
		t.Errorf("value: got %v, want v1", s.Value)
	}
	if prefix := "https://" + v.host + "/secrets/first/"; !strings.HasPrefix(s.ID, prefix) {
		t.Errorf("id: got %q, want prefix %q", s.ID, prefix)
	}
}

func TestCaseAuthenticatesBeforeValidation(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	tests := []struct {
		name        string
		method      string
		rawURL      string
		contentType string
		body        string
	}{
		{name: "bodiless POST restore", method: http.MethodPost, rawURL: v.url("/secrets/restore")},
		{name: "bodiless PATCH", method: http.MethodPatch, rawURL: v.url("/secrets/s1")},
		{name: "invalid JSON", method: http.MethodPut, rawURL: v.url("/secrets/s1"), contentType: "application/json", body: "{"},
		{name: "text content type", method: http.MethodPut, rawURL: v.url("/secrets/s1"), contentType: "text/plain", body: "x"},
		{name: "invalid name", method: http.MethodPut, rawURL: v.url("/secrets/bad_name")},
		{name: "unknown api-version", method: http.MethodGet, rawURL: "https://" + v.host + "/secrets?api-version=99.0"},
		{name: "missing api-version", method: http.MethodGet, rawURL: "https://" + v.host + "/secrets"},
		{name: "unknown path", method: http.MethodGet, rawURL: v.url("/nothing/here")},
		{name: "method not allowed", method: http.MethodDelete, rawURL: v.url("/secrets")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.rawURL, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			r := sendRaw(t, v.in, req)
			checkAzureError(t, r, http.StatusUnauthorized, "Unauthorized", "")
			if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer authorization="https://`) {
				t.Errorf("WWW-Authenticate: got %q, want a Bearer challenge", got)
			}
		})
	}
}

// challengeParams parses a Bearer challenge whose parameters are quoted and
// separated by ", ".
func challengeParams(t *testing.T, header string) map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		t.Fatalf("WWW-Authenticate %q does not start with \"Bearer \"", header)
	}
	params := make(map[string]string)
	for _, part := range strings.Split(rest, ", ") {
		key, quoted, ok := strings.Cut(part, "=")
		if !ok || len(quoted) < 2 || quoted[0] != '"' || quoted[len(quoted)-1] != '"' {
			t.Fatalf("WWW-Authenticate %q: parameter %q is not key=\"value\"", header, part)
		}
		if _, dup := params[key]; dup {
			t.Fatalf("WWW-Authenticate %q: parameter %q appears twice", header, key)
		}
		params[key] = quoted[1 : len(quoted)-1]
	}
	return params
}

func TestCaseChallengeParameters(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	resourceHost := "vault.localhost:" + in.Port
	for _, host := range []string{"default.vault.localhost:" + in.Port, "localhost:" + in.Port} {
		t.Run(host, func(t *testing.T) {
			r := in.Do(t, http.MethodGet, "https://"+host+"/secrets/s1?api-version=7.5", "", "")
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("got %v, want status 401", r)
			}
			params := challengeParams(t, r.Header.Get("WWW-Authenticate"))

			// The authorization parameter is an absolute https URL whose only
			// path segment is the tenant, because clients read the tenant
			// from the first segment.
			authz, err := url.Parse(params["authorization"])
			if err != nil || !authz.IsAbs() {
				t.Fatalf("authorization %q is not an absolute URL (%v)", params["authorization"], err)
			}
			if authz.Scheme != "https" || authz.Host != host {
				t.Errorf("authorization %q: want https://%s/...", authz, host)
			}
			if want := "/" + in.Creds.TenantID; authz.Path != want {
				t.Errorf("authorization path: got %q, want %q", authz.Path, want)
			}
			if _, err := uuid.Parse(strings.TrimPrefix(authz.Path, "/")); err != nil {
				t.Errorf("authorization tenant segment %q is not a tenant id: %v", authz.Path, err)
			}

			// The resource is the bare resource URI, because clients append
			// /.default themselves.
			resource := params["resource"]
			if strings.HasSuffix(resource, "/.default") {
				t.Errorf("resource %q must not end with /.default", resource)
			}
			if want := "https://" + resourceHost; resource != want {
				t.Errorf("resource: got %q, want %q", resource, want)
			}
			if scope, ok := params["scope"]; ok && scope != resource+"/.default" {
				t.Errorf("scope: got %q, want absent or %q", scope, resource+"/.default")
			}
			for key := range params {
				if key != "authorization" && key != "resource" && key != "scope" {
					t.Errorf("unexpected challenge parameter %q", key)
				}
			}
		})
	}

	// SDKs that verify the challenge resource require the vault host to be
	// a subdomain of the resource host, port included.
	if vaultHost := "default.vault.localhost:" + in.Port; !strings.HasSuffix(vaultHost, "."+resourceHost) {
		t.Errorf("vault host %q is not a subdomain of resource host %q", vaultHost, resourceHost)
	}
}

func TestCaseTrailingSlashes(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	v.put(t, "s1", `{"value":"a"}`)
	v.put(t, "gone", `{"value":"b"}`)
	if r := v.do(t, http.MethodDelete, "/secrets/gone", ""); r.Status != http.StatusOK {
		t.Fatalf("DELETE /secrets/gone: %v", r)
	}

	t.Run("latest version", func(t *testing.T) {
		plain := v.do(t, http.MethodGet, "/secrets/s1", "")
		slash := v.do(t, http.MethodGet, "/secrets/s1/", "")
		if plain.Status != http.StatusOK || slash.Status != http.StatusOK {
			t.Fatalf("without slash: %v; with slash: %v; want 200 for both", plain, slash)
		}
		if string(plain.Body) != string(slash.Body) {
			t.Errorf("bodies differ:\nwithout slash %s\nwith slash    %s", plain.Body, slash.Body)
		}
	})

	lists := []struct {
		name      string
		pathQuery string
		want      []string
	}{
		{name: "secrets", pathQuery: "/secrets/?maxresults=25", want: []string{"s1"}},
		{name: "deleted secrets", pathQuery: "/deletedsecrets/", want: []string{"gone"}},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			r := v.do(t, http.MethodGet, tt.pathQuery, "")
			if r.Status != http.StatusOK {
				t.Fatalf("got %v, want status 200", r)
			}
			var p wirePage
			r.JSON(t, &p)
			var got []string
			for _, item := range p.Value {
				got = append(got, path.Base(item.ID))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("names: got %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("versions", func(t *testing.T) {
		r := v.do(t, http.MethodGet, "/secrets/s1/versions/", "")
		if r.Status != http.StatusOK {
			t.Fatalf("got %v, want status 200", r)
		}
		var p wirePage
		r.JSON(t, &p)
		if len(p.Value) != 1 {
			t.Errorf("got %d versions, want 1", len(p.Value))
		}
	})
}

func TestCaseAPIVersion(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	v.put(t, "s1", `{"value":"a"}`)
	base := "https://" + v.host + "/secrets/s1"

	t.Run("unknown", func(t *testing.T) {
		for _, target := range []string{base, "https://" + v.host + "/secrets"} {
			r := v.in.Do(t, http.MethodGet, target+"?api-version=99.0", v.token, "")
			checkAzureError(t, r, http.StatusBadRequest, "BadParameter", "")
			msg := errorMessage(r)
			if !strings.Contains(msg, "99.0") || !strings.Contains(msg, api.LatestAPIVersion) {
				t.Errorf("message %q: want it to name 99.0 and the supported version %s", msg, api.LatestAPIVersion)
			}
		}
	})

	t.Run("missing", func(t *testing.T) {
		for _, target := range []string{base, base + "?api-version="} {
			r := v.in.Do(t, http.MethodGet, target, v.token, "")
			if r.Status != http.StatusBadRequest {
				t.Errorf("GET %s: got status %d, want 400", target, r.Status)
			}
			if code, _ := r.ErrorCode(); code == "" {
				t.Errorf("GET %s: body %s is not a JSON error", target, r.Body)
			}
		}
	})

	// The GA versions 7.0 to 7.6 and the versions that current Go, Python
	// and JS SDKs send.
	supported := []string{
		"7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "7.4-preview.1",
		"2025-06-01", "2025-07-01", "2026-04-01",
	}
	for _, version := range supported {
		t.Run(version, func(t *testing.T) {
			r := v.in.Do(t, http.MethodGet, base+"?api-version="+version, v.token, "")
			if r.Status != http.StatusOK {
				t.Errorf("got %v, want status 200", r)
			}
		})
	}

	t.Run("percent-encoded key", func(t *testing.T) {
		r := v.in.Do(t, http.MethodGet, base+"/?api%2Dversion=2025-07-01", v.token, "")
		if r.Status != http.StatusOK {
			t.Errorf("got %v, want status 200", r)
		}
	})
}

func TestCaseSecretNames(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	tests := []struct {
		name    string
		urlName string // the name as it appears in the URL path
		valid   bool
	}{
		{name: "all digits", urlName: "000", valid: true},
		{name: "leading dash", urlName: "-lead", valid: true},
		{name: "127 characters", urlName: strings.Repeat("a", 127), valid: true},
		{name: "mixed case", urlName: "Mixed-Case-9", valid: true},
		{name: "underscore", urlName: "bad_name"},
		{name: "128 characters", urlName: strings.Repeat("a", 128)},
		{name: "dot", urlName: "a.b"},
		{name: "space", urlName: "a%20b"},
		{name: "non-ASCII letter", urlName: "caf%C3%A9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := v.do(t, http.MethodPut, "/secrets/"+tt.urlName, `{"value":"x"}`)
			if !tt.valid {
				checkAzureError(t, r, http.StatusBadRequest, "BadParameter", "")
				if msg := errorMessage(r); !strings.Contains(msg, "invalid name") {
					t.Errorf("message %q: want it to say the name is invalid", msg)
				}
				return
			}
			if r.Status != http.StatusOK {
				t.Fatalf("PUT: got %v, want status 200", r)
			}
			var s wireSecret
			r.JSON(t, &s)
			if got := path.Base(path.Dir(s.ID)); got != tt.urlName {
				t.Errorf("name in id %q: got %q, want %q", s.ID, got, tt.urlName)
			}
			if r := v.do(t, http.MethodGet, "/secrets/"+tt.urlName+"/", ""); r.Status != http.StatusOK {
				t.Errorf("GET: got %v, want status 200", r)
			}
		})
	}
}

func TestCaseSecretValueLimits(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	jsonString := func(s string) string {
		raw, _ := json.Marshal(s)
		return string(raw)
	}

	// Values and content types that must be stored and returned exactly.
	stored := []struct {
		name        string
		value       string
		contentType string
	}{
		{name: "empty value", value: ""},
		{name: "whitespace value", value: "   "},
		{name: "control characters", value: "\n\t\r "},
		{name: "maximum value length", value: strings.Repeat("v", 25600)},
		{name: "maximum content type length", value: "x", contentType: strings.Repeat("c", 255)},
	}
	for i, tt := range stored {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("ok%d", i)
			body := `{"value":` + jsonString(tt.value) + `,"contentType":` + jsonString(tt.contentType) + `}`
			set := v.put(t, name, body)
			if set.Value == nil || *set.Value != tt.value {
				t.Errorf("PUT value: got %v, want %q", set.Value, tt.value)
			}
			r := v.do(t, http.MethodGet, "/secrets/"+name+"/", "")
			if r.Status != http.StatusOK {
				t.Fatalf("GET: got %v, want status 200", r)
			}
			var got wireSecret
			r.JSON(t, &got)
			if got.Value == nil {
				t.Fatalf("GET: the body %s has no value member", r.Body)
			}
			if *got.Value != tt.value {
				t.Errorf("GET value: got %d characters %q, want %d characters", len(*got.Value), *got.Value, len(tt.value))
			}
			if got.ContentType != tt.contentType {
				t.Errorf("GET contentType: got %q, want %q", got.ContentType, tt.contentType)
			}
		})
	}

	rejected := []struct {
		name        string
		body        string
		wantMessage string // a substring of the error message, if not empty
	}{
		{name: "value too long", body: `{"value":"` + strings.Repeat("v", 25601) + `"}`, wantMessage: "25600"},
		{name: "content type too long", body: `{"value":"x","contentType":"` + strings.Repeat("c", 256) + `"}`},
		{name: "empty object", body: `{}`},
		{name: "null value", body: `{"value":null}`},
		{name: "content type only", body: `{"contentType":"text/plain"}`},
	}
	for i, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("bad%d", i)
			r := v.do(t, http.MethodPut, "/secrets/"+name, tt.body)
			checkAzureError(t, r, http.StatusBadRequest, "BadParameter", "")
			if msg := errorMessage(r); !strings.Contains(msg, tt.wantMessage) {
				t.Errorf("message %q: want it to contain %q", msg, tt.wantMessage)
			}
			if r := v.do(t, http.MethodGet, "/secrets/"+name, ""); r.Status != http.StatusNotFound {
				t.Errorf("GET after the rejected PUT: got status %d, want 404", r.Status)
			}
		})
	}
}

func TestCaseTagLimits(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	tags := func(n int) map[string]string {
		m := make(map[string]string, n)
		for i := 1; i <= n; i++ {
			m[fmt.Sprintf("t%02d", i)] = "v"
		}
		return m
	}
	body := func(fields map[string]any) string {
		raw, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	long := func(n int) string { return strings.Repeat("k", n) }

	set := []struct {
		name  string
		tags  map[string]string
		valid bool
	}{
		{name: "15 tags", tags: tags(15), valid: true},
		{name: "16 tags", tags: tags(16)},
		{name: "tag name 256", tags: map[string]string{long(256): "v"}, valid: true},
		{name: "tag name 257", tags: map[string]string{long(257): "v"}},
		{name: "tag value 256", tags: map[string]string{"t": long(256)}, valid: true},
		{name: "tag value 257", tags: map[string]string{"t": long(257)}},
	}
	for i, tt := range set {
		t.Run("set "+tt.name, func(t *testing.T) {
			name := fmt.Sprintf("tags%d", i)
			r := v.do(t, http.MethodPut, "/secrets/"+name, body(map[string]any{"value": "x", "tags": tt.tags}))
			if !tt.valid {
				checkAzureError(t, r, http.StatusBadRequest, "BadParameter", "")
				return
			}
			if r.Status != http.StatusOK {
				t.Fatalf("got %v, want status 200", r)
			}
			var s wireSecret
			r.JSON(t, &s)
			if !maps.Equal(s.Tags, tt.tags) {
				t.Errorf("tags: got %v, want %v", s.Tags, tt.tags)
			}
		})
	}

	// PATCH of a version checks the same limits and leaves the tags
	// unchanged when it rejects the update.
	original := v.put(t, "patched", body(map[string]any{"value": "x", "tags": tags(15)}))
	versionPath := "/secrets/patched/" + path.Base(original.ID)
	update := []struct {
		name  string
		tags  map[string]string
		valid bool
	}{
		{name: "16 tags", tags: tags(16)},
		{name: "tag name 257", tags: map[string]string{long(257): "v"}},
		{name: "tag value 257", tags: map[string]string{"t": long(257)}},
		{name: "one tag", tags: map[string]string{"only": "one"}, valid: true},
	}
	want := tags(15)
	for _, tt := range update {
		t.Run("update "+tt.name, func(t *testing.T) {
			r := v.do(t, http.MethodPatch, versionPath, body(map[string]any{"tags": tt.tags}))
			if tt.valid {
				if r.Status != http.StatusOK {
					t.Fatalf("got %v, want status 200", r)
				}
				want = tt.tags
			} else {
				checkAzureError(t, r, http.StatusBadRequest, "BadParameter", "")
			}
			r = v.do(t, http.MethodGet, versionPath, "")
			var s wireSecret
			r.JSON(t, &s)
			if !maps.Equal(s.Tags, want) {
				t.Errorf("tags after PATCH: got %v, want %v", s.Tags, want)
			}
		})
	}
}

func TestCaseDisabledSecret(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	set := v.put(t, "off", `{"value":"x","attributes":{"enabled":false}}`)
	versionPath := "/secrets/off/" + path.Base(set.ID)

	for _, p := range []string{"/secrets/off/", "/secrets/off", versionPath} {
		r := v.do(t, http.MethodGet, p, "")
		checkAzureError(t, r, http.StatusForbidden, "Forbidden", "SecretDisabled")
	}

	// The list still shows the secret's metadata, without the value.
	r := v.do(t, http.MethodGet, "/secrets", "")
	if r.Status != http.StatusOK {
		t.Fatalf("list: got %v, want status 200", r)
	}
	var page wirePage
	r.JSON(t, &page)
	if len(page.Value) != 1 {
		t.Fatalf("list: got %d items, want 1: %s", len(page.Value), r.Body)
	}
	item := page.Value[0]
	if item.ID != "https://"+v.host+"/secrets/off" {
		t.Errorf("list id: got %q, want the versionless id", item.ID)
	}
	if enabled, ok := item.Attributes["enabled"].(bool); !ok || enabled {
		t.Errorf("list attributes.enabled: got %v, want false", item.Attributes["enabled"])
	}
	if item.Value != nil {
		t.Errorf("list item has a value: %s", r.Body)
	}

	// Enabling the version makes it readable again.
	r = v.do(t, http.MethodPatch, versionPath, `{"attributes":{"enabled":true}}`)
	if r.Status != http.StatusOK {
		t.Fatalf("PATCH: got %v, want status 200", r)
	}
	var patched wireSecret
	r.JSON(t, &patched)
	if enabled, ok := patched.Attributes["enabled"].(bool); !ok || !enabled {
		t.Errorf("PATCH attributes.enabled: got %v, want true", patched.Attributes["enabled"])
	}
	r = v.do(t, http.MethodGet, "/secrets/off/", "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET after enabling: got %v, want status 200", r)
	}
	var got wireSecret
	r.JSON(t, &got)
	if got.Value == nil || *got.Value != "x" {
		t.Errorf("value after enabling: got %v, want x", got.Value)
	}
}

func TestCaseMissingSecret(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	v.put(t, "s1", `{"value":"a"}`)
	v.put(t, "live", `{"value":"b"}`)

	notFound := []struct {
		name   string
		method string
		path   string
		body   string
	}{
		{name: "get latest", method: http.MethodGet, path: "/secrets/nope/"},
		{name: "get without slash", method: http.MethodGet, path: "/secrets/nope"},
		{name: "unknown version", method: http.MethodGet, path: "/secrets/s1/0123456789abcdef0123456789abcdef"},
		{name: "versions", method: http.MethodGet, path: "/secrets/nope/versions"},
		{name: "update", method: http.MethodPatch, path: "/secrets/nope", body: `{"contentType":"x"}`},
		{name: "update unknown version", method: http.MethodPatch, path: "/secrets/s1/0123456789abcdef0123456789abcdef", body: `{"contentType":"x"}`},
		{name: "delete", method: http.MethodDelete, path: "/secrets/nope"},
		{name: "get deleted", method: http.MethodGet, path: "/deletedsecrets/nope"},
		{name: "recover", method: http.MethodPost, path: "/deletedsecrets/nope/recover"},
		{name: "purge", method: http.MethodDelete, path: "/deletedsecrets/nope"},
		{name: "purge live secret", method: http.MethodDelete, path: "/deletedsecrets/live"},
	}
	for _, tt := range notFound {
		t.Run(tt.name, func(t *testing.T) {
			r := v.do(t, tt.method, tt.path, tt.body)
			checkAzureError(t, r, http.StatusNotFound, "SecretNotFound", "")
		})
	}

	// A malformed version may be 404 or 400, but always a JSON error.
	malformed := []string{"not-a-version", "0123456789abcdef0123456789abcdeg", "0123456789abcdef0123456789abcdef0", "%00", "..%2F"}
	for _, version := range malformed {
		t.Run("malformed version "+version, func(t *testing.T) {
			r := v.do(t, http.MethodGet, "/secrets/s1/"+version, "")
			if r.Status != http.StatusNotFound && r.Status != http.StatusBadRequest {
				t.Errorf("got %v, want status 404 or 400", r)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type: got %q, want application/json", ct)
			}
			if code, _ := r.ErrorCode(); code == "" {
				t.Errorf("body %s is not a JSON error", r.Body)
			}
		})
	}
}

func TestCaseListShowsLatestVersion(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	first := v.put(t, "s1", `{"value":"a","contentType":"first","tags":{"v":"1"}}`)
	second := v.put(t, "s1", `{"value":"b","contentType":"text/plain","tags":{"v":"2"}}`)
	v.put(t, "s2", `{"value":"c"}`)

	t.Run("secrets", func(t *testing.T) {
		r := v.do(t, http.MethodGet, "/secrets", "")
		if r.Status != http.StatusOK {
			t.Fatalf("got %v, want status 200", r)
		}
		checkItemsHaveNoValue(t, r.Body)
		var p wirePage
		r.JSON(t, &p)
		var ids []string
		for _, item := range p.Value {
			ids = append(ids, item.ID)
		}
		want := []string{"https://" + v.host + "/secrets/s1", "https://" + v.host + "/secrets/s2"}
		if !slices.Equal(ids, want) {
			t.Fatalf("ids: got %v, want %v", ids, want)
		}
		if got := p.Value[0].ContentType; got != "text/plain" {
			t.Errorf("s1 contentType: got %q, want the latest version's text/plain", got)
		}
		if got := p.Value[0].Tags; !maps.Equal(got, map[string]string{"v": "2"}) {
			t.Errorf("s1 tags: got %v, want the latest version's v=2", got)
		}
	})

	t.Run("versions", func(t *testing.T) {
		r := v.do(t, http.MethodGet, "/secrets/s1/versions", "")
		if r.Status != http.StatusOK {
			t.Fatalf("got %v, want status 200", r)
		}
		checkItemsHaveNoValue(t, r.Body)
		var p wirePage
		r.JSON(t, &p)
		var ids []string
		for _, item := range p.Value {
			ids = append(ids, item.ID)
		}
		want := []string{first.ID, second.ID}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("ids: got %v, want the versioned ids %v", ids, want)
		}
	})
}

// checkItemsHaveNoValue fails the test if an item of a list page has a
// value member, even an empty one.
func checkItemsHaveNoValue(t *testing.T, body []byte) {
	t.Helper()
	var p struct {
		Value []map[string]json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	for _, item := range p.Value {
		if _, ok := item["value"]; ok {
			t.Errorf("list item %s has a value member", item["id"])
		}
	}
}

func TestCasePagingFollowsNextLink(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	var want []string
	for i := range 30 {
		name := fmt.Sprintf("p%02d", i)
		v.put(t, name, `{"value":"x"}`)
		want = append(want, name)
	}

	for _, host := range []string{v.host, "localhost:" + v.in.Port} {
		t.Run(host, func(t *testing.T) {
			first := "https://" + host + "/secrets?api-version=" + wireAPIVersion + "&maxresults=10"
			got := listNames(t, v, first, host, 10)
			if !slices.Equal(got, want) {
				t.Errorf("names: got %v, want %v", got, want)
			}
		})
	}

	t.Run("versions", func(t *testing.T) {
		var versions []string
		for range 12 {
			s := v.put(t, "many", `{"value":"x"}`)
			versions = append(versions, path.Base(s.ID))
		}
		got := listNames(t, v, v.url("/secrets/many/versions?maxresults=5"), v.host, 5)
		slices.Sort(got)
		slices.Sort(versions)
		if !slices.Equal(got, versions) {
			t.Errorf("versions: got %v, want %v", got, versions)
		}
	})

	t.Run("deleted secrets", func(t *testing.T) {
		for _, name := range want[:7] {
			if r := v.do(t, http.MethodDelete, "/secrets/"+name, ""); r.Status != http.StatusOK {
				t.Fatalf("DELETE %s: %v", name, r)
			}
		}
		got := listNames(t, v, v.url("/deletedsecrets?maxresults=3"), v.host, 3)
		if !slices.Equal(got, want[:7]) {
			t.Errorf("names: got %v, want %v", got, want[:7])
		}
	})
}

func TestCasePagingMaxResultsBounds(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	v.put(t, "s1", `{"value":"x"}`)
	v.put(t, "s2", `{"value":"x"}`)
	v.put(t, "d1", `{"value":"x"}`)
	if r := v.do(t, http.MethodDelete, "/secrets/d1", ""); r.Status != http.StatusOK {
		t.Fatalf("DELETE d1: %v", r)
	}

	for _, list := range []string{"/secrets", "/secrets/s1/versions", "/deletedsecrets"} {
		for _, bad := range []string{"26", "0", "-1", "abc", "1.5", "100000000000000000000"} {
			t.Run(list+" maxresults="+bad, func(t *testing.T) {
				r := v.do(t, http.MethodGet, list+"?maxresults="+bad, "")
				checkAzureError(t, r, http.StatusBadRequest, "BadParameter", "")
			})
		}
		for _, good := range []int{1, 25} {
			t.Run(fmt.Sprintf("%s maxresults=%d", list, good), func(t *testing.T) {
				r := v.do(t, http.MethodGet, fmt.Sprintf("%s?maxresults=%d", list, good), "")
				if r.Status != http.StatusOK {
					t.Fatalf("got %v, want status 200", r)
				}
				var p wirePage
				r.JSON(t, &p)
				if len(p.Value) > good {
					t.Errorf("got %d items, want at most %d", len(p.Value), good)
				}
			})
		}
	}
}

func TestCasePagingSurvivesChanges(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	for i := range 30 {
		v.put(t, fmt.Sprintf("c%02d", i), `{"value":"x"}`)
	}

	r := v.do(t, http.MethodGet, "/secrets?maxresults=10", "")
	if r.Status != http.StatusOK {
		t.Fatalf("first page: %v", r)
	}
	var p wirePage
	r.JSON(t, &p)
	var got []string
	for _, item := range p.Value {
		got = append(got, path.Base(item.ID))
	}
	if p.NextLink == nil {
		t.Fatalf("first page has no nextLink: %s", r.Body)
	}

	// Between pages, delete one name already returned and one not yet
	// returned, and add a name that sorts after the first page. A cursor
	// resumes after the last name returned, but an offset would skip names.
	for _, name := range []string{"c05", "c15"} {
		if r := v.do(t, http.MethodDelete, "/secrets/"+name, ""); r.Status != http.StatusOK {
			t.Fatalf("DELETE %s: %v", name, r)
		}
	}
	v.put(t, "c095", `{"value":"x"}`)
	got = append(got, listNames(t, v, *p.NextLink, v.host, 10)...)

	var want []string
	for i := range 30 {
		if name := fmt.Sprintf("c%02d", i); name != "c15" {
			want = append(want, name)
		}
		if i == 9 {
			want = append(want, "c095")
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("names:\ngot  %v\nwant %v", got, want)
	}
}

func TestCaseTamperedSkipToken(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	for i := range 3 {
		v.put(t, fmt.Sprintf("s%d", i), `{"value":"x"}`)
	}
	r := v.do(t, http.MethodGet, "/secrets?maxresults=1", "")
	var p wirePage
	r.JSON(t, &p)
	if p.NextLink == nil {
		t.Fatalf("first page has no nextLink: %s", r.Body)
	}
	link, err := url.Parse(*p.NextLink)
	if err != nil {
		t.Fatal(err)
	}
	token := link.Query().Get("$skiptoken")

	tests := []struct {
		name  string
		token string
	}{
		{name: "not base64", token: "not a token!"},
		{name: "appended character", token: token + "*"},
		{name: "unknown format", token: base64.RawURLEncoding.EncodeToString([]byte("2:s1"))},
		{name: "too short", token: base64.RawURLEncoding.EncodeToString([]byte("1"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := link.Query()
			q.Set("$skiptoken", tt.token)
			tampered := *link
			tampered.RawQuery = q.Encode()
			r := v.in.Do(t, http.MethodGet, tampered.String(), v.token, "")
			checkAzureError(t, r, http.StatusBadRequest, "BadParameter", "")
		})
	}
}

func TestCaseRecreateDeletedName(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	v.put(t, "s1", `{"value":"a"}`)
	if r := v.do(t, http.MethodDelete, "/secrets/s1", ""); r.Status != http.StatusOK {
		t.Fatalf("DELETE: %v", r)
	}

	for _, name := range []string{"s1", "S1"} {
		r := v.do(t, http.MethodPut, "/secrets/"+name, `{"value":"b"}`)
		checkAzureError(t, r, http.StatusConflict, "Conflict", "ObjectIsDeletedButRecoverable")
		if msg := errorMessage(r); !strings.Contains(msg, "recover") || !strings.Contains(msg, "purge") {
			t.Errorf("PUT %s message %q: want it to name recover and purge", name, msg)
		}
	}

	// After recovery the name takes new versions again.
	if r := v.do(t, http.MethodPost, "/deletedsecrets/s1/recover", ""); r.Status != http.StatusOK {
		t.Fatalf("recover: got %v, want status 200", r)
	}
	s := v.put(t, "s1", `{"value":"c"}`)
	if s.Value == nil || *s.Value != "c" {
		t.Errorf("value after recovery: got %v, want c", s.Value)
	}
}

// checkDeletedBundle checks the deletion fields of a deleted secret bundle.
func checkDeletedBundle(t *testing.T, v *wireVault, d wireSecret, name, recoveryLevel string) {
	t.Helper()
	if want := "https://" + v.host + "/deletedsecrets/" + name; d.RecoveryID != want {
		t.Errorf("recoveryId: got %q, want %q", d.RecoveryID, want)
	}
	if d.DeletedDate <= 0 {
		t.Errorf("deletedDate: got %d, want a Unix time", d.DeletedDate)
	}
	if want := d.DeletedDate + 90*24*3600; d.ScheduledPurgeDate != want {
		t.Errorf("scheduledPurgeDate: got %d, want deletedDate + 90 days = %d", d.ScheduledPurgeDate, want)
	}
	if got := d.Attributes["recoveryLevel"]; got != recoveryLevel {
		t.Errorf("attributes.recoveryLevel: got %v, want %s", got, recoveryLevel)
	}
	if got := d.Attributes["recoverableDays"]; got != float64(90) {
		t.Errorf("attributes.recoverableDays: got %v, want 90", got)
	}
	if d.Value != nil {
		t.Errorf("deleted bundle has a value")
	}
}

func TestCasePurgeDeletedSecret(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	v.put(t, "s1", `{"value":"a"}`)
	r := v.do(t, http.MethodDelete, "/secrets/s1", "")
	if r.Status != http.StatusOK {
		t.Fatalf("DELETE: got %v, want status 200", r)
	}
	checkNoNullAttributes(t, r.Body)
	var deleted wireSecret
	r.JSON(t, &deleted)
	checkDeletedBundle(t, v, deleted, "s1", "Recoverable+Purgeable")

	r = v.do(t, http.MethodGet, "/deletedsecrets/s1", "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET deleted: got %v, want status 200", r)
	}
	var got wireSecret
	r.JSON(t, &got)
	checkDeletedBundle(t, v, got, "s1", "Recoverable+Purgeable")

	r = v.do(t, http.MethodDelete, "/deletedsecrets/s1", "")
	if r.Status != http.StatusNoContent {
		t.Fatalf("purge: got %v, want status 204", r)
	}
	if len(r.Body) != 0 {
		t.Errorf("purge body: got %q, want empty", r.Body)
	}
	r = v.do(t, http.MethodGet, "/deletedsecrets/s1", "")
	checkAzureError(t, r, http.StatusNotFound, "SecretNotFound", "")
	r = v.do(t, http.MethodDelete, "/deletedsecrets/s1", "")
	checkAzureError(t, r, http.StatusNotFound, "SecretNotFound", "")

	// The name is free again, with no versions left from before.
	s := v.put(t, "s1", `{"value":"b"}`)
	if s.Value == nil || *s.Value != "b" {
		t.Errorf("value after purge: got %v, want b", s.Value)
	}
	r = v.do(t, http.MethodGet, "/secrets/s1/versions", "")
	var versions wirePage
	r.JSON(t, &versions)
	if len(versions.Value) != 1 {
		t.Errorf("versions after purge: got %d, want 1", len(versions.Value))
	}
}

func TestCasePurgeProtectedVault(t *testing.T) {
	v := startWireVault(t, kvtest.Options{Configure: func(c *server.Config) {
		c.DefaultVaultPurgeProtection = true
	}})
	v.put(t, "s1", `{"value":"a"}`)
	r := v.do(t, http.MethodDelete, "/secrets/s1", "")
	if r.Status != http.StatusOK {
		t.Fatalf("DELETE: got %v, want status 200", r)
	}
	var deleted wireSecret
	r.JSON(t, &deleted)
	checkDeletedBundle(t, v, deleted, "s1", "Recoverable")

	r = v.do(t, http.MethodDelete, "/deletedsecrets/s1", "")
	checkAzureError(t, r, http.StatusForbidden, "Forbidden", "")
	if msg := errorMessage(r); !strings.Contains(msg, "purge protection") {
		t.Errorf("message %q: want it to name purge protection", msg)
	}

	// The secret stays deleted and recoverable, and its name reserved.
	if r := v.do(t, http.MethodGet, "/deletedsecrets/s1", ""); r.Status != http.StatusOK {
		t.Errorf("GET deleted after the rejected purge: got %v, want status 200", r)
	}
	r = v.do(t, http.MethodPut, "/secrets/s1", `{"value":"b"}`)
	checkAzureError(t, r, http.StatusConflict, "Conflict", "ObjectIsDeletedButRecoverable")
}

func TestCaseRequestErrors(t *testing.T) {
	const maxBody = 64 << 10
	v := startWireVault(t, kvtest.Options{Configure: func(c *server.Config) {
		c.MaxBodyBytes = maxBody
	}})
	v.put(t, "s1", `{"value":"a"}`)
	tooLarge := `{"value":"` + strings.Repeat("x", maxBody) + `"}`

	tests := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		code   string
	}{
		{name: "unknown collection", method: http.MethodGet, path: "/nothing", status: http.StatusNotFound, code: "NotFound"},
		{name: "too many segments", method: http.MethodGet, path: "/secrets/s1/a/b", status: http.StatusNotFound, code: "NotFound"},
		{name: "DELETE collection", method: http.MethodDelete, path: "/secrets", status: http.StatusMethodNotAllowed, code: "MethodNotAllowed"},
		{name: "POST secret", method: http.MethodPost, path: "/secrets/s1", body: `{"value":"x"}`, status: http.StatusMethodNotAllowed, code: "MethodNotAllowed"},
		{name: "PUT version", method: http.MethodPut, path: "/secrets/s1/versions", body: `{"value":"x"}`, status: http.StatusMethodNotAllowed, code: "MethodNotAllowed"},
		{name: "PATCH deleted", method: http.MethodPatch, path: "/deletedsecrets/s1", body: `{}`, status: http.StatusMethodNotAllowed, code: "MethodNotAllowed"},
		{name: "body over limit", method: http.MethodPut, path: "/secrets/big", body: tooLarge, status: http.StatusRequestEntityTooLarge, code: "RequestBodyTooLarge"},
		{name: "body not JSON", method: http.MethodPut, path: "/secrets/s2", body: "value=x", status: http.StatusBadRequest, code: "BadParameter"},
		{name: "JSON array", method: http.MethodPut, path: "/secrets/s2", body: `["x"]`, status: http.StatusBadRequest, code: "BadParameter"},
		{name: "trailing data", method: http.MethodPut, path: "/secrets/s2", body: `{"value":"x"} {}`, status: http.StatusBadRequest, code: "BadParameter"},
		{name: "value number", method: http.MethodPut, path: "/secrets/s2", body: `{"value":5}`, status: http.StatusBadRequest, code: "BadParameter"},
		{name: "tags array", method: http.MethodPut, path: "/secrets/s2", body: `{"value":"x","tags":["a"]}`, status: http.StatusBadRequest, code: "BadParameter"},
		{name: "enabled string", method: http.MethodPut, path: "/secrets/s2", body: `{"value":"x","attributes":{"enabled":"yes"}}`, status: http.StatusBadRequest, code: "BadParameter"},
		{name: "exp before nbf", method: http.MethodPut, path: "/secrets/s2", body: `{"value":"x","attributes":{"nbf":2000000000,"exp":1000000000}}`, status: http.StatusBadRequest, code: "BadParameter"},
		{name: "PATCH not JSON", method: http.MethodPatch, path: "/secrets/s1", body: "{", status: http.StatusBadRequest, code: "BadParameter"},
		{name: "PATCH without body", method: http.MethodPatch, path: "/secrets/s1", status: http.StatusBadRequest, code: "BadParameter"},
		{name: "PUT without body", method: http.MethodPut, path: "/secrets/s2", status: http.StatusBadRequest, code: "BadParameter"},
		{name: "restore not base64", method: http.MethodPost, path: "/secrets/restore", body: `{"value":"!!"}`, status: http.StatusBadRequest, code: "BadParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := v.do(t, tt.method, tt.path, tt.body)
			checkAzureError(t, r, tt.status, tt.code, "")
		})
	}

	// No rejected write left anything behind.
	if r := v.do(t, http.MethodGet, "/secrets/s2", ""); r.Status != http.StatusNotFound {
		t.Errorf("GET s2: got status %d, want 404", r.Status)
	}
	if r := v.do(t, http.MethodGet, "/secrets/big", ""); r.Status != http.StatusNotFound {
		t.Errorf("GET big: got status %d, want 404", r.Status)
	}
}

func TestCaseNoNullAttributes(t *testing.T) {
	v := startWireVault(t, kvtest.Options{})
	plain := v.put(t, "plain", `{"value":"a"}`)
	for _, name := range []string{"nbf", "exp"} {
		if _, ok := plain.Attributes[name]; ok {
			t.Errorf("attributes.%s is present although unset", name)
		}
	}
	v.put(t, "gone", `{"value":"a"}`)

	requests := []struct {
		method string
		path   string
		body   string
	}{
		{method: http.MethodGet, path: "/secrets/plain"},
		{method: http.MethodGet, path: "/secrets/plain/" + path.Base(plain.ID)},
		{method: http.MethodPatch, path: "/secrets/plain", body: `{"contentType":"text/plain"}`},
		{method: http.MethodGet, path: "/secrets"},
		{method: http.MethodGet, path: "/secrets/plain/versions"},
		{method: http.MethodDelete, path: "/secrets/gone"},
		{method: http.MethodGet, path: "/deletedsecrets/gone"},
		{method: http.MethodGet, path: "/deletedsecrets"},
	}
	for _, req := range requests {
		r := v.do(t, req.method, req.path, req.body)
		if r.Status != http.StatusOK {
			t.Errorf("%s %s: got %v, want status 200", req.method, req.path, r)
			continue
		}
		checkNoNullAttributes(t, r.Body)
		if strings.Contains(string(r.Body), `"nbf"`) || strings.Contains(string(r.Body), `"exp"`) {
			t.Errorf("%s %s: nbf or exp present although unset: %s", req.method, req.path, r.Body)
		}
	}

	// Set times are numbers.
	timed := v.put(t, "timed", `{"value":"a","attributes":{"nbf":1700000000,"exp":1900000000}}`)
	if got := timed.Attributes["nbf"]; got != float64(1700000000) {
		t.Errorf("attributes.nbf: got %v, want 1700000000", got)
	}
	if got := timed.Attributes["exp"]; got != float64(1900000000) {
		t.Errorf("attributes.exp: got %v, want 1900000000", got)
	}
}

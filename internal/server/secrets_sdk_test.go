package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/server"
)

// These tests drive the whole secrets API through the Azure SDK for Go
// (azsecrets) against a real server over TLS. The client reaches
// https://default.vault.localhost:PORT with the SDK's challenge-resource
// verification on, as an application would.

// sdkDefaultRetention is the retention of soft-deleted secrets in a vault
// created with the default configuration.
const sdkDefaultRetention = 90 * 24 * time.Hour

var sdkVersionPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// sdkDeref returns *p, or the zero value when p is nil.
func sdkDeref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// sdkTags converts SDK tags to a plain map. Nil and empty tags both give an
// empty map.
func sdkTags(tags map[string]*string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = sdkDeref(v)
	}
	return out
}

// sdkTagParams converts a plain map to SDK tags.
func sdkTagParams(tags map[string]string) map[string]*string {
	out := make(map[string]*string, len(tags))
	for k, v := range tags {
		out[k] = to.Ptr(v)
	}
	return out
}

// sdkManyTags returns n distinct tags t01..tNN.
func sdkManyTags(n int) map[string]*string {
	tags := make(map[string]*string, n)
	for i := 1; i <= n; i++ {
		tags[fmt.Sprintf("t%02d", i)] = to.Ptr("v")
	}
	return tags
}

// sdkSet stores value as a new version of name and fails the test on error.
func sdkSet(t *testing.T, c *azsecrets.Client, name, value string) azsecrets.Secret {
	t.Helper()
	resp, err := c.SetSecret(context.Background(), name, azsecrets.SetSecretParameters{Value: to.Ptr(value)}, nil)
	if err != nil {
		t.Fatalf("SetSecret(%q): %v", name, err)
	}
	return resp.Secret
}

// sdkGet reads a version of name (the latest when version is empty) and
// fails the test on error.
func sdkGet(t *testing.T, c *azsecrets.Client, name, version string) azsecrets.Secret {
	t.Helper()
	resp, err := c.GetSecret(context.Background(), name, version, nil)
	if err != nil {
		t.Fatalf("GetSecret(%q, %q): %v", name, version, err)
	}
	return resp.Secret
}

// sdkCheckID checks that id is base/secrets/name/<32 lower-case hex> and
// returns the version.
func sdkCheckID(t *testing.T, id *azsecrets.ID, base, name string) string {
	t.Helper()
	if id == nil {
		t.Fatalf("id is nil, want %s/secrets/%s/<version>", base, name)
	}
	prefix := base + "/secrets/" + name + "/"
	version, ok := strings.CutPrefix(string(*id), prefix)
	if !ok || !sdkVersionPattern.MatchString(version) {
		t.Fatalf("id = %q, want %s<32 lower-case hex digits>", *id, prefix)
	}
	if got := id.Version(); got != version {
		t.Errorf("id.Version() = %q, want %q", got, version)
	}
	return version
}

// sdkCheckRecent checks that got is set and lies between before (rounded
// down to the second, as the API keeps Unix seconds) and after.
func sdkCheckRecent(t *testing.T, field string, got *time.Time, before, after time.Time) {
	t.Helper()
	if got == nil {
		t.Errorf("%s is not set", field)
		return
	}
	if got.Before(before.Truncate(time.Second)) || got.After(after) {
		t.Errorf("%s = %v, want between %v and %v", field, *got, before, after)
	}
}

// sdkCheckRecovery checks the recovery attributes that every secret bundle
// carries.
func sdkCheckRecovery(t *testing.T, a *azsecrets.SecretAttributes, level string, days int32) {
	t.Helper()
	if a == nil {
		t.Fatalf("attributes are nil")
	}
	if got := sdkDeref(a.RecoveryLevel); got != level {
		t.Errorf("recoveryLevel = %q, want %q", got, level)
	}
	if got := sdkDeref(a.RecoverableDays); got != days {
		t.Errorf("recoverableDays = %d, want %d", got, days)
	}
}

// sdkWantError checks that err is an *azcore.ResponseError with the given
// HTTP status and error code, and returns it.
func sdkWantError(t *testing.T, err error, status int, code string) *azcore.ResponseError {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want *azcore.ResponseError with status %d and code %s", err, status, code)
	}
	if re.StatusCode != status {
		t.Errorf("StatusCode = %d, want %d", re.StatusCode, status)
	}
	if re.ErrorCode != code {
		t.Errorf("ErrorCode = %q, want %q", re.ErrorCode, code)
	}
	return re
}

// sdkInnerCode returns error.innererror.code of the response body of re.
func sdkInnerCode(t *testing.T, re *azcore.ResponseError) string {
	t.Helper()
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		t.Fatalf("read error body: %v", err)
	}
	resp := kvtest.Response{Body: body}
	_, inner := resp.ErrorCode()
	return inner
}

// sdkVersionIDs lists the version ids of name through the SDK pager.
func sdkVersionIDs(t *testing.T, c *azsecrets.Client, name string) []string {
	t.Helper()
	var ids []string
	pager := c.NewListSecretPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list versions of %q: %v", name, err)
		}
		for _, item := range page.Value {
			ids = append(ids, item.ID.Version())
		}
	}
	slices.Sort(ids)
	return ids
}

// sdkMaxResultsPolicy adds maxresults to list requests that lack it, since
// azsecrets v1.5.1 has no option for the page size. Next-page requests keep
// the maxresults that the server put in nextLink.
type sdkMaxResultsPolicy struct{ pageSize int }

func (p sdkMaxResultsPolicy) Do(req *policy.Request) (*http.Response, error) {
	u := req.Raw().URL
	q := u.Query()
	if req.Raw().Method == http.MethodGet && q.Get("maxresults") == "" {
		q.Set("maxresults", strconv.Itoa(p.pageSize))
		u.RawQuery = q.Encode()
	}
	return req.Next()
}

// sdkPagedClient returns a client for the default vault whose lists ask for
// pages of at most pageSize items.
func sdkPagedClient(t *testing.T, in *kvtest.Instance, pageSize int) *azsecrets.Client {
	t.Helper()
	opts := in.ClientOptions()
	opts.PerCallPolicies = append(opts.PerCallPolicies, sdkMaxResultsPolicy{pageSize: pageSize})
	c, err := azsecrets.NewClient(in.VaultURL("default"), in.Credential(t), &azsecrets.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatalf("secrets client: %v", err)
	}
	return c
}

func TestSDKSecretSetGet(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	c := in.SecretsClient(t, "default")
	base := in.VaultURL("default")
	ctx := context.Background()

	t.Run("AllFields", func(t *testing.T) {
		nbf := time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z
		exp := time.Unix(1893456000, 0) // 2030-01-01T00:00:00Z
		tags := map[string]string{"env": "test", "owner": "team-a"}
		before := time.Now()
		set, err := c.SetSecret(ctx, "full", azsecrets.SetSecretParameters{
			Value:            to.Ptr("s3cr3t value"),
			ContentType:      to.Ptr("text/plain"),
			Tags:             sdkTagParams(tags),
			SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(true), NotBefore: &nbf, Expires: &exp},
		}, nil)
		after := time.Now()
		if err != nil {
			t.Fatalf("SetSecret: %v", err)
		}
		sdkCheckID(t, set.ID, base, "full")

		var raw *http.Response
		got, err := c.GetSecret(policy.WithCaptureResponse(ctx, &raw), "full", "", nil)
		if err != nil {
			t.Fatalf("GetSecret: %v", err)
		}
		if raw.Request.URL.Path != "/secrets/full/" {
			t.Errorf("GetSecret latest path = %q, want /secrets/full/ (the SDK's trailing slash)", raw.Request.URL.Path)
		}

		for _, tc := range []struct {
			op string
			s  azsecrets.Secret
		}{{"SetSecret", set.Secret}, {"GetSecret", got.Secret}} {
			if *tc.s.ID != *set.ID {
				t.Errorf("%s: id = %q, want %q", tc.op, *tc.s.ID, *set.ID)
			}
			if v := sdkDeref(tc.s.Value); v != "s3cr3t value" {
				t.Errorf("%s: value = %q, want %q", tc.op, v, "s3cr3t value")
			}
			if ct := sdkDeref(tc.s.ContentType); ct != "text/plain" {
				t.Errorf("%s: contentType = %q, want text/plain", tc.op, ct)
			}
			if gotTags := sdkTags(tc.s.Tags); !maps.Equal(gotTags, tags) {
				t.Errorf("%s: tags = %v, want %v", tc.op, gotTags, tags)
			}
			a := tc.s.Attributes
			if a == nil {
				t.Fatalf("%s: attributes are nil", tc.op)
			}
			if !sdkDeref(a.Enabled) {
				t.Errorf("%s: enabled = %v, want true", tc.op, a.Enabled)
			}
			if a.NotBefore == nil || !a.NotBefore.Equal(nbf) {
				t.Errorf("%s: nbf = %v, want %v", tc.op, a.NotBefore, nbf)
			}
			if a.Expires == nil || !a.Expires.Equal(exp) {
				t.Errorf("%s: exp = %v, want %v", tc.op, a.Expires, exp)
			}
			sdkCheckRecent(t, tc.op+": created", a.Created, before, after)
			sdkCheckRecent(t, tc.op+": updated", a.Updated, before, after)
			if a.Created != nil && a.Updated != nil && !a.Created.Equal(*a.Updated) {
				t.Errorf("%s: updated = %v, want created %v for a new version", tc.op, *a.Updated, *a.Created)
			}
			sdkCheckRecovery(t, a, "Recoverable+Purgeable", 90)
			if tc.s.KID != nil {
				t.Errorf("%s: kid = %q, want none for a plain secret", tc.op, *tc.s.KID)
			}
			if sdkDeref(tc.s.Managed) {
				t.Errorf("%s: managed = true, want false for a plain secret", tc.op)
			}
		}
	})

	t.Run("DefaultsWithoutOptions", func(t *testing.T) {
		set := sdkSet(t, c, "plain", "v")
		a := set.Attributes
		if a == nil {
			t.Fatalf("attributes are nil")
		}
		if !sdkDeref(a.Enabled) {
			t.Errorf("enabled = %v, want true when not given", a.Enabled)
		}
		if a.NotBefore != nil {
			t.Errorf("nbf = %v, want unset", *a.NotBefore)
		}
		if a.Expires != nil {
			t.Errorf("exp = %v, want unset", *a.Expires)
		}
		if set.ContentType != nil {
			t.Errorf("contentType = %q, want none", *set.ContentType)
		}
		if len(set.Tags) != 0 {
			t.Errorf("tags = %v, want none", sdkTags(set.Tags))
		}
	})

	t.Run("ByVersion", func(t *testing.T) {
		first := sdkSet(t, c, "versioned", "one")
		second := sdkSet(t, c, "versioned", "two")
		v1 := sdkCheckID(t, first.ID, base, "versioned")
		v2 := sdkCheckID(t, second.ID, base, "versioned")
		if v1 == v2 {
			t.Fatalf("two versions share the id %s", v1)
		}
		for _, tc := range []struct {
			version, wantValue string
			wantID             azsecrets.ID
		}{
			{version: v1, wantValue: "one", wantID: *first.ID},
			{version: v2, wantValue: "two", wantID: *second.ID},
			{version: "", wantValue: "two", wantID: *second.ID},
		} {
			got := sdkGet(t, c, "versioned", tc.version)
			if v := sdkDeref(got.Value); v != tc.wantValue {
				t.Errorf("GetSecret(version %q) value = %q, want %q", tc.version, v, tc.wantValue)
			}
			if *got.ID != tc.wantID {
				t.Errorf("GetSecret(version %q) id = %q, want %q", tc.version, *got.ID, tc.wantID)
			}
		}
	})

	t.Run("NameCaseInsensitive", func(t *testing.T) {
		set := sdkSet(t, c, "S1", "upper")
		got := sdkGet(t, c, "s1", "")
		if *got.ID != *set.ID {
			t.Errorf("GetSecret(s1) id = %q, want %q", *got.ID, *set.ID)
		}
		if v := sdkDeref(got.Value); v != "upper" {
			t.Errorf("GetSecret(s1) value = %q, want upper", v)
		}

		// A new version set through another casing joins the same secret,
		// which keeps the name as first created.
		next := sdkSet(t, c, "s1", "lower")
		sdkCheckID(t, next.ID, base, "S1")
		if ids := sdkVersionIDs(t, c, "S1"); len(ids) != 2 {
			t.Errorf("versions of S1 = %v, want 2", ids)
		}
	})

	t.Run("CreatedDisabled", func(t *testing.T) {
		set, err := c.SetSecret(ctx, "born-disabled", azsecrets.SetSecretParameters{
			Value: to.Ptr("x"), SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(false)},
		}, nil)
		if err != nil {
			t.Fatalf("SetSecret: %v", err)
		}
		if set.Attributes == nil {
			t.Fatalf("attributes are nil")
		}
		if sdkDeref(set.Attributes.Enabled) {
			t.Errorf("enabled = true, want false")
		}
		_, err = c.GetSecret(ctx, "born-disabled", "", nil)
		re := sdkWantError(t, err, http.StatusForbidden, "Forbidden")
		if inner := sdkInnerCode(t, re); inner != "SecretDisabled" {
			t.Errorf("innererror.code = %q, want SecretDisabled", inner)
		}
	})
}

func TestSDKSecretList(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	c := in.SecretsClient(t, "default")
	base := in.VaultURL("default")
	ctx := context.Background()

	// 60 secrets with two versions each. The latest version differs from the
	// first in content type, tags and, for every third secret, attributes,
	// so the list shows whether it reports the latest version.
	const count = 60
	latest := make(map[string]azsecrets.Secret, count)
	for i := range count {
		name := fmt.Sprintf("list-%02d", i)
		sdkSet(t, c, name, "old")
		params := azsecrets.SetSecretParameters{
			Value:       to.Ptr("new"),
			ContentType: to.Ptr("ct-" + strconv.Itoa(i)),
			Tags:        map[string]*string{"i": to.Ptr(strconv.Itoa(i))},
		}
		if i%3 == 0 {
			exp := time.Unix(1893456000+int64(i), 0)
			params.SecretAttributes = &azsecrets.SecretAttributes{Enabled: to.Ptr(false), Expires: &exp}
		}
		resp, err := c.SetSecret(ctx, name, params, nil)
		if err != nil {
			t.Fatalf("SetSecret(%q): %v", name, err)
		}
		latest[name] = resp.Secret
	}

	// checkItem compares a list item with the latest version of its secret.
	checkItem := func(t *testing.T, item *azsecrets.SecretProperties) string {
		t.Helper()
		name := item.ID.Name()
		want, ok := latest[name]
		if !ok {
			t.Fatalf("unexpected item %q", *item.ID)
		}
		if wantID := base + "/secrets/" + name; string(*item.ID) != wantID {
			t.Errorf("item id = %q, want the versionless %q", *item.ID, wantID)
		}
		if got := sdkDeref(item.ContentType); got != *want.ContentType {
			t.Errorf("%s: contentType = %q, want %q", name, got, *want.ContentType)
		}
		if got, wantTags := sdkTags(item.Tags), sdkTags(want.Tags); !maps.Equal(got, wantTags) {
			t.Errorf("%s: tags = %v, want %v", name, got, wantTags)
		}
		a, w := item.Attributes, want.Attributes
		if a == nil {
			t.Fatalf("%s: attributes are nil", name)
		}
		if sdkDeref(a.Enabled) != sdkDeref(w.Enabled) {
			t.Errorf("%s: enabled = %v, want %v", name, sdkDeref(a.Enabled), sdkDeref(w.Enabled))
		}
		if !sdkDeref(a.Expires).Equal(sdkDeref(w.Expires)) {
			t.Errorf("%s: exp = %v, want %v", name, a.Expires, w.Expires)
		}
		if !sdkDeref(a.Created).Equal(sdkDeref(w.Created)) {
			t.Errorf("%s: created = %v, want %v", name, a.Created, w.Created)
		}
		if !sdkDeref(a.Updated).Equal(sdkDeref(w.Updated)) {
			t.Errorf("%s: updated = %v, want %v", name, a.Updated, w.Updated)
		}
		if sdkDeref(item.Managed) {
			t.Errorf("%s: managed = true, want false", name)
		}
		return name
	}

	t.Run("DefaultPageSize", func(t *testing.T) {
		var sizes []int
		seen := map[string]bool{}
		pager := c.NewListSecretPropertiesPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("page %d: %v", len(sizes)+1, err)
			}
			sizes = append(sizes, len(page.Value))
			for _, item := range page.Value {
				name := checkItem(t, item)
				if seen[name] {
					t.Errorf("%s listed twice", name)
				}
				seen[name] = true
			}
		}
		if want := []int{25, 25, 10}; !slices.Equal(sizes, want) {
			t.Errorf("page sizes = %v, want %v", sizes, want)
		}
		if len(seen) != count {
			t.Errorf("listed %d secrets, want %d", len(seen), count)
		}
	})

	t.Run("SmallPages", func(t *testing.T) {
		pc := sdkPagedClient(t, in, 7)
		var sizes []int
		seen := map[string]bool{}
		pager := pc.NewListSecretPropertiesPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("page %d: %v", len(sizes)+1, err)
			}
			sizes = append(sizes, len(page.Value))
			for _, item := range page.Value {
				name := checkItem(t, item)
				if seen[name] {
					t.Errorf("%s listed twice", name)
				}
				seen[name] = true
			}
			if len(sizes) > count {
				t.Fatalf("more than %d pages", count)
			}
		}
		want := []int{7, 7, 7, 7, 7, 7, 7, 7, 4}
		if !slices.Equal(sizes, want) {
			t.Errorf("page sizes = %v, want %v", sizes, want)
		}
		if len(seen) != count {
			t.Errorf("listed %d secrets, want %d", len(seen), count)
		}
	})

	t.Run("RawItemsHaveNoValue", func(t *testing.T) {
		token := in.Token(t)
		next := base + "/secrets?api-version=7.6&maxresults=10"
		seen := map[string]bool{}
		pages := 0
		for next != "" {
			pages++
			if pages > 10 {
				t.Fatalf("more than 10 pages of 10 for %d secrets", count)
			}
			resp := in.Do(t, http.MethodGet, next, token, "")
			if resp.Status != http.StatusOK {
				t.Fatalf("GET %s: %v", next, resp)
			}
			var page struct {
				Value    []map[string]json.RawMessage `json:"value"`
				NextLink *string                      `json:"nextLink"`
			}
			resp.JSON(t, &page)
			if len(page.Value) > 10 {
				t.Errorf("page %d has %d items, want at most 10", pages, len(page.Value))
			}
			for _, item := range page.Value {
				var id string
				if err := json.Unmarshal(item["id"], &id); err != nil {
					t.Fatalf("item id: %v", err)
				}
				if _, ok := item["value"]; ok {
					t.Errorf("item %s has a value property", id)
				}
				seen[id] = true
			}
			next = sdkDeref(page.NextLink)
			if next != "" && !strings.HasPrefix(next, base+"/secrets?") {
				t.Errorf("nextLink = %q, want an absolute URL under %s/secrets", next, base)
			}
			if next != "" && !strings.Contains(next, "api-version=7.6") {
				t.Errorf("nextLink = %q, want it to keep api-version=7.6", next)
			}
		}
		if pages != 6 {
			t.Errorf("got %d pages, want 6 pages of at most 10 for %d secrets", pages, count)
		}
		if len(seen) != count {
			t.Errorf("listed %d distinct ids, want %d", len(seen), count)
		}
	})

	t.Run("RawMaxResultsBounds", func(t *testing.T) {
		token := in.Token(t)
		for _, maxResults := range []string{"0", "26", "x"} {
			resp := in.Do(t, http.MethodGet, base+"/secrets?api-version=7.6&maxresults="+maxResults, token, "")
			if resp.Status != http.StatusBadRequest {
				t.Errorf("maxresults=%s: %v, want status 400", maxResults, resp)
			}
			if code, _ := resp.ErrorCode(); code != "BadParameter" {
				t.Errorf("maxresults=%s: error code = %q, want BadParameter", maxResults, code)
			}
		}
	})

	t.Run("Versions", func(t *testing.T) {
		const versions = 30
		want := map[string]azsecrets.Secret{}
		for i := range versions {
			resp, err := c.SetSecret(ctx, "many-versions", azsecrets.SetSecretParameters{
				Value: to.Ptr(strconv.Itoa(i)), ContentType: to.Ptr(fmt.Sprintf("v%02d", i)),
			}, nil)
			if err != nil {
				t.Fatalf("SetSecret %d: %v", i, err)
			}
			want[sdkCheckID(t, resp.ID, base, "many-versions")] = resp.Secret
		}

		for _, tc := range []struct {
			name   string
			client *azsecrets.Client
			sizes  []int
		}{
			{name: "DefaultPageSize", client: c, sizes: []int{25, 5}},
			{name: "PagesOf4", client: sdkPagedClient(t, in, 4), sizes: []int{4, 4, 4, 4, 4, 4, 4, 2}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var sizes []int
				seen := map[string]bool{}
				pager := tc.client.NewListSecretPropertiesVersionsPager("many-versions", nil)
				for pager.More() {
					page, err := pager.NextPage(ctx)
					if err != nil {
						t.Fatalf("page %d: %v", len(sizes)+1, err)
					}
					sizes = append(sizes, len(page.Value))
					for _, item := range page.Value {
						version := sdkCheckID(t, item.ID, base, "many-versions")
						w, ok := want[version]
						if !ok || seen[version] {
							t.Errorf("unexpected or repeated version %s", version)
							continue
						}
						seen[version] = true
						if got := sdkDeref(item.ContentType); got != *w.ContentType {
							t.Errorf("version %s: contentType = %q, want %q", version, got, *w.ContentType)
						}
					}
					if len(sizes) > versions {
						t.Fatalf("more than %d pages", versions)
					}
				}
				if !slices.Equal(sizes, tc.sizes) {
					t.Errorf("page sizes = %v, want %v", sizes, tc.sizes)
				}
				if len(seen) != versions {
					t.Errorf("listed %d versions, want %d", len(seen), versions)
				}
			})
		}

		t.Run("RawItemsHaveNoValue", func(t *testing.T) {
			resp := in.Do(t, http.MethodGet, base+"/secrets/many-versions/versions?api-version=7.6", in.Token(t), "")
			if resp.Status != http.StatusOK {
				t.Fatalf("list versions: %v", resp)
			}
			var page struct {
				Value []map[string]json.RawMessage `json:"value"`
			}
			resp.JSON(t, &page)
			if len(page.Value) != 25 {
				t.Errorf("first page has %d items, want 25", len(page.Value))
			}
			for i, item := range page.Value {
				if _, ok := item["value"]; ok {
					t.Errorf("item %d has a value property", i)
				}
			}
		})
	})
}

func TestSDKSecretUpdate(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	c := in.SecretsClient(t, "default")
	base := in.VaultURL("default")
	ctx := context.Background()

	t.Run("ByVersion", func(t *testing.T) {
		first, err := c.SetSecret(ctx, "upd", azsecrets.SetSecretParameters{
			Value: to.Ptr("one"), ContentType: to.Ptr("a"), Tags: map[string]*string{"x": to.Ptr("1")},
		}, nil)
		if err != nil {
			t.Fatalf("SetSecret: %v", err)
		}
		second, err := c.SetSecret(ctx, "upd", azsecrets.SetSecretParameters{
			Value: to.Ptr("two"), ContentType: to.Ptr("b"), Tags: map[string]*string{"y": to.Ptr("2")},
		}, nil)
		if err != nil {
			t.Fatalf("SetSecret: %v", err)
		}
		v1 := sdkCheckID(t, first.ID, base, "upd")

		// Tags are replaced as a whole, not merged.
		before := time.Now()
		upd, err := c.UpdateSecretProperties(ctx, "upd", v1, azsecrets.UpdateSecretPropertiesParameters{
			ContentType: to.Ptr("c"), Tags: map[string]*string{"z": to.Ptr("3")},
		}, nil)
		after := time.Now()
		if err != nil {
			t.Fatalf("UpdateSecretProperties: %v", err)
		}
		if *upd.ID != *first.ID {
			t.Errorf("id = %q, want %q", *upd.ID, *first.ID)
		}
		if upd.Value != nil {
			t.Errorf("value = %q, want none in an update response", *upd.Value)
		}
		if got := sdkDeref(upd.ContentType); got != "c" {
			t.Errorf("contentType = %q, want c", got)
		}
		if got, want := sdkTags(upd.Tags), map[string]string{"z": "3"}; !maps.Equal(got, want) {
			t.Errorf("tags = %v, want %v", got, want)
		}
		sdkCheckRecent(t, "updated", upd.Attributes.Updated, before, after)
		if !sdkDeref(upd.Attributes.Created).Equal(sdkDeref(first.Attributes.Created)) {
			t.Errorf("created = %v, want unchanged %v", upd.Attributes.Created, first.Attributes.Created)
		}
		sdkCheckRecovery(t, upd.Attributes, "Recoverable+Purgeable", 90)

		got := sdkGet(t, c, "upd", v1)
		if v := sdkDeref(got.Value); v != "one" {
			t.Errorf("version 1 value after update = %q, want one", v)
		}
		if ct := sdkDeref(got.ContentType); ct != "c" {
			t.Errorf("version 1 contentType after update = %q, want c", ct)
		}
		if tags := sdkTags(got.Tags); !maps.Equal(tags, map[string]string{"z": "3"}) {
			t.Errorf("version 1 tags after update = %v, want map[z:3]", tags)
		}

		// Updating version 1 leaves the latest version unchanged.
		latest := sdkGet(t, c, "upd", "")
		if *latest.ID != *second.ID {
			t.Errorf("latest id = %q, want %q", *latest.ID, *second.ID)
		}
		if ct := sdkDeref(latest.ContentType); ct != "b" {
			t.Errorf("latest contentType = %q, want b", ct)
		}
		if tags := sdkTags(latest.Tags); !maps.Equal(tags, map[string]string{"y": "2"}) {
			t.Errorf("latest tags = %v, want map[y:2]", tags)
		}
	})

	t.Run("EmptyVersionIsLatest", func(t *testing.T) {
		first := sdkSet(t, c, "upd-latest", "one")
		second := sdkSet(t, c, "upd-latest", "two")
		upd, err := c.UpdateSecretProperties(ctx, "upd-latest", "", azsecrets.UpdateSecretPropertiesParameters{
			ContentType: to.Ptr("latest-only"),
		}, nil)
		if err != nil {
			t.Fatalf("UpdateSecretProperties: %v", err)
		}
		if *upd.ID != *second.ID {
			t.Errorf("id = %q, want the latest %q", *upd.ID, *second.ID)
		}
		if got := sdkDeref(sdkGet(t, c, "upd-latest", "").ContentType); got != "latest-only" {
			t.Errorf("latest contentType = %q, want latest-only", got)
		}
		if got := sdkGet(t, c, "upd-latest", first.ID.Version()).ContentType; got != nil {
			t.Errorf("first version contentType = %q, want none", *got)
		}
	})

	t.Run("DisableAndEnable", func(t *testing.T) {
		first := sdkSet(t, c, "upd-disable", "one")
		second := sdkSet(t, c, "upd-disable", "two")
		upd, err := c.UpdateSecretProperties(ctx, "upd-disable", "", azsecrets.UpdateSecretPropertiesParameters{
			SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(false)},
		}, nil)
		if err != nil {
			t.Fatalf("UpdateSecretProperties: %v", err)
		}
		if sdkDeref(upd.Attributes.Enabled) {
			t.Errorf("enabled = true, want false")
		}

		for _, version := range []string{"", second.ID.Version()} {
			_, err = c.GetSecret(ctx, "upd-disable", version, nil)
			re := sdkWantError(t, err, http.StatusForbidden, "Forbidden")
			if inner := sdkInnerCode(t, re); inner != "SecretDisabled" {
				t.Errorf("GetSecret(version %q): innererror.code = %q, want SecretDisabled", version, inner)
			}
		}
		if got := sdkGet(t, c, "upd-disable", first.ID.Version()); sdkDeref(got.Value) != "one" {
			t.Errorf("enabled older version value = %q, want one", sdkDeref(got.Value))
		}

		// The list still reports the disabled secret, as disabled.
		found := false
		pager := c.NewListSecretPropertiesPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			for _, item := range page.Value {
				if item.ID.Name() == "upd-disable" {
					found = true
					if sdkDeref(item.Attributes.Enabled) {
						t.Errorf("listed enabled = true, want false")
					}
				}
			}
		}
		if !found {
			t.Errorf("disabled secret missing from the list")
		}

		_, err = c.UpdateSecretProperties(ctx, "upd-disable", second.ID.Version(), azsecrets.UpdateSecretPropertiesParameters{
			SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(true)},
		}, nil)
		if err != nil {
			t.Fatalf("re-enable: %v", err)
		}
		if got := sdkGet(t, c, "upd-disable", ""); sdkDeref(got.Value) != "two" {
			t.Errorf("value after re-enable = %q, want two", sdkDeref(got.Value))
		}
	})

	t.Run("UnsetFieldsKept", func(t *testing.T) {
		nbf := time.Unix(1767225600, 0)
		exp := time.Unix(1893456000, 0)
		_, err := c.SetSecret(ctx, "upd-keep", azsecrets.SetSecretParameters{
			Value: to.Ptr("v"), ContentType: to.Ptr("keep-me"), Tags: map[string]*string{"k": to.Ptr("v")},
		}, nil)
		if err != nil {
			t.Fatalf("SetSecret: %v", err)
		}
		_, err = c.UpdateSecretProperties(ctx, "upd-keep", "", azsecrets.UpdateSecretPropertiesParameters{
			SecretAttributes: &azsecrets.SecretAttributes{NotBefore: &nbf, Expires: &exp},
		}, nil)
		if err != nil {
			t.Fatalf("UpdateSecretProperties: %v", err)
		}
		got := sdkGet(t, c, "upd-keep", "")
		if ct := sdkDeref(got.ContentType); ct != "keep-me" {
			t.Errorf("contentType = %q, want keep-me kept", ct)
		}
		if tags := sdkTags(got.Tags); !maps.Equal(tags, map[string]string{"k": "v"}) {
			t.Errorf("tags = %v, want map[k:v] kept", tags)
		}
		if !sdkDeref(got.Attributes.Enabled) {
			t.Errorf("enabled = false, want true kept")
		}
		if !sdkDeref(got.Attributes.NotBefore).Equal(nbf) {
			t.Errorf("nbf = %v, want %v", got.Attributes.NotBefore, nbf)
		}
		if !sdkDeref(got.Attributes.Expires).Equal(exp) {
			t.Errorf("exp = %v, want %v", got.Attributes.Expires, exp)
		}

		// An empty tag map removes every tag.
		_, err = c.UpdateSecretProperties(ctx, "upd-keep", "", azsecrets.UpdateSecretPropertiesParameters{
			Tags: map[string]*string{},
		}, nil)
		if err != nil {
			t.Fatalf("UpdateSecretProperties: %v", err)
		}
		if got := sdkGet(t, c, "upd-keep", ""); len(got.Tags) != 0 {
			t.Errorf("tags = %v, want none", sdkTags(got.Tags))
		}
	})
}

func TestSDKSecretDeleteRecoverPurge(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	c := in.SecretsClient(t, "default")
	base := in.VaultURL("default")
	ctx := context.Background()

	// checkDeleted checks the fields of a deleted secret bundle.
	checkDeleted := func(t *testing.T, op string, d azsecrets.DeletedSecret, latest azsecrets.Secret, before, after time.Time) {
		t.Helper()
		name := latest.ID.Name()
		if *d.ID != *latest.ID {
			t.Errorf("%s: id = %q, want the latest version %q", op, *d.ID, *latest.ID)
		}
		if got, want := sdkDeref(d.RecoveryID), base+"/deletedsecrets/"+name; got != want {
			t.Errorf("%s: recoveryId = %q, want %q", op, got, want)
		}
		if d.Value != nil {
			t.Errorf("%s: value = %q, want none", op, *d.Value)
		}
		sdkCheckRecent(t, op+": deletedDate", d.DeletedDate, before, after)
		if d.DeletedDate != nil {
			want := d.DeletedDate.Add(sdkDefaultRetention)
			if d.ScheduledPurgeDate == nil || !d.ScheduledPurgeDate.Equal(want) {
				t.Errorf("%s: scheduledPurgeDate = %v, want deletedDate + 90 days = %v", op, d.ScheduledPurgeDate, want)
			}
		}
		sdkCheckRecovery(t, d.Attributes, "Recoverable+Purgeable", 90)
	}

	t.Run("DeleteGetRecover", func(t *testing.T) {
		first := sdkSet(t, c, "del", "one")
		second := sdkSet(t, c, "del", "two")
		versions := sdkVersionIDs(t, c, "del")

		before := time.Now()
		del, err := c.DeleteSecret(ctx, "del", nil)
		after := time.Now()
		if err != nil {
			t.Fatalf("DeleteSecret: %v", err)
		}
		checkDeleted(t, "DeleteSecret", del.DeletedSecret, second, before, after)

		_, err = c.GetSecret(ctx, "del", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")
		_, err = c.GetSecret(ctx, "del", first.ID.Version(), nil)
		sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")

		got, err := c.GetDeletedSecret(ctx, "del", nil)
		if err != nil {
			t.Fatalf("GetDeletedSecret: %v", err)
		}
		checkDeleted(t, "GetDeletedSecret", got.DeletedSecret, second, before, after)
		if !sdkDeref(got.DeletedDate).Equal(sdkDeref(del.DeletedDate)) {
			t.Errorf("GetDeletedSecret deletedDate = %v, want %v", got.DeletedDate, del.DeletedDate)
		}

		// The name stays reserved while the secret is soft-deleted, in any
		// casing.
		for _, name := range []string{"del", "DEL"} {
			_, err = c.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: to.Ptr("three")}, nil)
			re := sdkWantError(t, err, http.StatusConflict, "Conflict")
			if inner := sdkInnerCode(t, re); inner != "ObjectIsDeletedButRecoverable" {
				t.Errorf("SetSecret(%q): innererror.code = %q, want ObjectIsDeletedButRecoverable", name, inner)
			}
		}

		rec, err := c.RecoverDeletedSecret(ctx, "del", nil)
		if err != nil {
			t.Fatalf("RecoverDeletedSecret: %v", err)
		}
		if *rec.ID != *second.ID {
			t.Errorf("recovered id = %q, want %q", *rec.ID, *second.ID)
		}
		if rec.Value != nil {
			t.Errorf("recovered value = %q, want none in a recover response", *rec.Value)
		}
		sdkCheckRecovery(t, rec.Attributes, "Recoverable+Purgeable", 90)
		if v := sdkDeref(sdkGet(t, c, "del", "").Value); v != "two" {
			t.Errorf("value after recover = %q, want two", v)
		}
		if v := sdkDeref(sdkGet(t, c, "del", first.ID.Version()).Value); v != "one" {
			t.Errorf("first version after recover = %q, want one", v)
		}
		if got := sdkVersionIDs(t, c, "del"); !slices.Equal(got, versions) {
			t.Errorf("versions after recover = %v, want %v", got, versions)
		}
		_, err = c.GetDeletedSecret(ctx, "del", nil)
		sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")
	})

	t.Run("Purge", func(t *testing.T) {
		old := sdkSet(t, c, "purge-me", "one")
		sdkSet(t, c, "purge-me", "two")
		if _, err := c.DeleteSecret(ctx, "purge-me", nil); err != nil {
			t.Fatalf("DeleteSecret: %v", err)
		}

		var raw *http.Response
		if _, err := c.PurgeDeletedSecret(policy.WithCaptureResponse(ctx, &raw), "purge-me", nil); err != nil {
			t.Fatalf("PurgeDeletedSecret: %v", err)
		}
		if raw.StatusCode != http.StatusNoContent {
			t.Errorf("purge status = %d, want 204", raw.StatusCode)
		}
		if body, err := runtime.Payload(raw); err != nil || len(body) != 0 {
			t.Errorf("purge body = %q (err %v), want empty", body, err)
		}

		_, err := c.GetDeletedSecret(ctx, "purge-me", nil)
		sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")
		_, err = c.RecoverDeletedSecret(ctx, "purge-me", nil)
		sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")
		_, err = c.PurgeDeletedSecret(ctx, "purge-me", nil)
		sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")

		// The name is free again and starts with no old versions.
		reborn := sdkSet(t, c, "purge-me", "three")
		if reborn.ID.Version() == old.ID.Version() {
			t.Errorf("new secret reused the purged version id %s", old.ID.Version())
		}
		if got := sdkVersionIDs(t, c, "purge-me"); !slices.Equal(got, []string{reborn.ID.Version()}) {
			t.Errorf("versions after purge and set = %v, want only %s", got, reborn.ID.Version())
		}
		_, err = c.GetSecret(ctx, "purge-me", old.ID.Version(), nil)
		sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")
	})

	t.Run("ListDeleted", func(t *testing.T) {
		// 30 deleted secrets need two pages of the default size 25.
		const count = 30
		latest := map[string]azsecrets.Secret{}
		before := time.Now()
		for i := range count {
			name := fmt.Sprintf("dl-%02d", i)
			resp, err := c.SetSecret(ctx, name, azsecrets.SetSecretParameters{
				Value: to.Ptr("v"), ContentType: to.Ptr(name), Tags: map[string]*string{"n": to.Ptr(name)},
			}, nil)
			if err != nil {
				t.Fatalf("SetSecret(%q): %v", name, err)
			}
			latest[name] = resp.Secret
			if _, err := c.DeleteSecret(ctx, name, nil); err != nil {
				t.Fatalf("DeleteSecret(%q): %v", name, err)
			}
		}
		after := time.Now()

		pages := 0
		seen := map[string]bool{}
		pager := c.NewListDeletedSecretPropertiesPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("page %d: %v", pages+1, err)
			}
			pages++
			if pages > 10 {
				t.Fatalf("more than 10 pages")
			}
			for _, item := range page.Value {
				name := item.ID.Name()
				if !strings.HasPrefix(name, "dl-") {
					continue
				}
				if seen[name] {
					t.Errorf("%s listed twice", name)
				}
				seen[name] = true
				if got, want := string(*item.ID), base+"/secrets/"+name; got != want {
					t.Errorf("item id = %q, want the versionless %q", got, want)
				}
				if got, want := sdkDeref(item.RecoveryID), base+"/deletedsecrets/"+name; got != want {
					t.Errorf("recoveryId = %q, want %q", got, want)
				}
				if got := sdkDeref(item.ContentType); got != name {
					t.Errorf("%s: contentType = %q, want %q", name, got, name)
				}
				if got := sdkTags(item.Tags); !maps.Equal(got, map[string]string{"n": name}) {
					t.Errorf("%s: tags = %v, want map[n:%s]", name, got, name)
				}
				sdkCheckRecent(t, name+": deletedDate", item.DeletedDate, before, after)
				if item.DeletedDate != nil && !sdkDeref(item.ScheduledPurgeDate).Equal(item.DeletedDate.Add(sdkDefaultRetention)) {
					t.Errorf("%s: scheduledPurgeDate = %v, want deletedDate + 90 days", name, item.ScheduledPurgeDate)
				}
				if !sdkDeref(item.Attributes.Created).Equal(sdkDeref(latest[name].Attributes.Created)) {
					t.Errorf("%s: created = %v, want %v", name, item.Attributes.Created, latest[name].Attributes.Created)
				}
			}
		}
		if len(seen) != count {
			t.Errorf("listed %d deleted dl- secrets, want %d", len(seen), count)
		}
		if pages < 2 {
			t.Errorf("got %d pages, want at least 2 for more than 25 items", pages)
		}
	})
}

func TestSDKSecretBackupRestore(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	c := in.SecretsClient(t, "default")
	base := in.VaultURL("default")
	ctx := context.Background()

	// Three versions with distinct values and content types. The second is
	// disabled, so restore must bring back attributes too.
	want := map[string]azsecrets.Secret{}
	var latest azsecrets.Secret
	for i, value := range []string{"alpha", "beta", "gamma"} {
		resp, err := c.SetSecret(ctx, "bk", azsecrets.SetSecretParameters{
			Value: to.Ptr(value), ContentType: to.Ptr("ct-" + value),
			SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(i != 1)},
		}, nil)
		if err != nil {
			t.Fatalf("SetSecret: %v", err)
		}
		want[sdkCheckID(t, resp.ID, base, "bk")] = resp.Secret
		latest = resp.Secret
	}
	versions := sdkVersionIDs(t, c, "bk")

	backup, err := c.BackupSecret(ctx, "bk", nil)
	if err != nil {
		t.Fatalf("BackupSecret: %v", err)
	}
	blob := backup.Value
	if len(blob) == 0 {
		t.Fatalf("backup blob is empty")
	}

	t.Run("ConflictWhileLive", func(t *testing.T) {
		_, err := c.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: blob}, nil)
		sdkWantError(t, err, http.StatusConflict, "Conflict")
	})

	t.Run("ConflictWhileDeleted", func(t *testing.T) {
		if _, err := c.DeleteSecret(ctx, "bk", nil); err != nil {
			t.Fatalf("DeleteSecret: %v", err)
		}
		_, err := c.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: blob}, nil)
		sdkWantError(t, err, http.StatusConflict, "Conflict")
		if _, err := c.PurgeDeletedSecret(ctx, "bk", nil); err != nil {
			t.Fatalf("PurgeDeletedSecret: %v", err)
		}
		_, err = c.GetSecret(ctx, "bk", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")
	})

	t.Run("ModifiedBlob", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			modify func([]byte) []byte
		}{
			{name: "HeaderByte", modify: func(b []byte) []byte { b[0] ^= 0x01; return b }},
			{name: "CiphertextByte", modify: func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }},
			{name: "TagByte", modify: func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }},
			{name: "Truncated", modify: func(b []byte) []byte { return b[:len(b)-20] }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bad := tc.modify(slices.Clone(blob))
				_, err := c.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: bad}, nil)
				sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
			})
		}
		_, err := c.GetSecret(ctx, "bk", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")
	})

	t.Run("RestoreAllVersions", func(t *testing.T) {
		res, err := c.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: blob}, nil)
		if err != nil {
			t.Fatalf("RestoreSecret: %v", err)
		}
		if *res.ID != *latest.ID {
			t.Errorf("restored id = %q, want %q", *res.ID, *latest.ID)
		}
		if res.Value != nil {
			t.Errorf("restored value = %q, want none in a restore response", *res.Value)
		}
		sdkCheckRecovery(t, res.Attributes, "Recoverable+Purgeable", 90)

		if got := sdkVersionIDs(t, c, "bk"); !slices.Equal(got, versions) {
			t.Errorf("versions after restore = %v, want %v", got, versions)
		}
		for version, w := range want {
			if !sdkDeref(w.Attributes.Enabled) {
				_, err := c.GetSecret(ctx, "bk", version, nil)
				sdkWantError(t, err, http.StatusForbidden, "Forbidden")
				continue
			}
			got := sdkGet(t, c, "bk", version)
			if v := sdkDeref(got.Value); v != *w.Value {
				t.Errorf("version %s: value = %q, want %q", version, v, *w.Value)
			}
			if ct := sdkDeref(got.ContentType); ct != *w.ContentType {
				t.Errorf("version %s: contentType = %q, want %q", version, ct, *w.ContentType)
			}
			if !sdkDeref(got.Attributes.Created).Equal(sdkDeref(w.Attributes.Created)) {
				t.Errorf("version %s: created = %v, want %v", version, got.Attributes.Created, w.Attributes.Created)
			}
		}
		got := sdkGet(t, c, "bk", "")
		if *got.ID != *latest.ID {
			t.Errorf("latest id after restore = %q, want %q", *got.ID, *latest.ID)
		}
		if v := sdkDeref(got.Value); v != "gamma" {
			t.Errorf("latest value after restore = %q, want gamma", v)
		}

		_, err = c.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: blob}, nil)
		sdkWantError(t, err, http.StatusConflict, "Conflict")
	})
}

func TestSDKSecretRecoveryLevel(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*server.Config)
		level     string
		days      int32
		purgeable bool
	}{
		{name: "Default", level: "Recoverable+Purgeable", days: 90, purgeable: true},
		{
			name:      "Retention7Days",
			configure: func(cfg *server.Config) { cfg.DefaultVaultRetentionDays = 7 },
			level:     "CustomizedRecoverable+Purgeable", days: 7, purgeable: true,
		},
		{
			name:      "PurgeProtection",
			configure: func(cfg *server.Config) { cfg.DefaultVaultPurgeProtection = true },
			level:     "Recoverable", days: 90,
		},
		{
			name: "Retention7DaysPurgeProtection",
			configure: func(cfg *server.Config) {
				cfg.DefaultVaultRetentionDays = 7
				cfg.DefaultVaultPurgeProtection = true
			},
			level: "CustomizedRecoverable", days: 7,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := kvtest.Start(t, kvtest.Options{Configure: tc.configure})
			c := in.SecretsClient(t, "default")
			ctx := context.Background()

			set := sdkSet(t, c, "lvl", "v")
			sdkCheckRecovery(t, set.Attributes, tc.level, tc.days)
			sdkCheckRecovery(t, sdkGet(t, c, "lvl", "").Attributes, tc.level, tc.days)

			del, err := c.DeleteSecret(ctx, "lvl", nil)
			if err != nil {
				t.Fatalf("DeleteSecret: %v", err)
			}
			sdkCheckRecovery(t, del.Attributes, tc.level, tc.days)
			retention := time.Duration(tc.days) * 24 * time.Hour
			if del.DeletedDate == nil || !sdkDeref(del.ScheduledPurgeDate).Equal(del.DeletedDate.Add(retention)) {
				t.Errorf("scheduledPurgeDate = %v, want deletedDate %v + %d days", del.ScheduledPurgeDate, del.DeletedDate, tc.days)
			}

			_, err = c.PurgeDeletedSecret(ctx, "lvl", nil)
			if tc.purgeable {
				if err != nil {
					t.Fatalf("PurgeDeletedSecret: %v", err)
				}
				_, err = c.GetDeletedSecret(ctx, "lvl", nil)
				sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")
				return
			}
			sdkWantError(t, err, http.StatusForbidden, "Forbidden")
			got, err := c.GetDeletedSecret(ctx, "lvl", nil)
			if err != nil {
				t.Fatalf("GetDeletedSecret after a rejected purge: %v", err)
			}
			sdkCheckRecovery(t, got.Attributes, tc.level, tc.days)
		})
	}
}

func TestSDKSecretErrors(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	c := in.SecretsClient(t, "default")
	ctx := context.Background()
	existing := sdkSet(t, c, "exists", "v")

	set := func(name, value string) func() error {
		return func() error {
			_, err := c.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: to.Ptr(value)}, nil)
			return err
		}
	}
	for _, tc := range []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{
			name:   "GetMissing",
			call:   func() error { _, err := c.GetSecret(ctx, "missing", "", nil); return err },
			status: http.StatusNotFound, code: "SecretNotFound",
		},
		{
			name: "GetUnknownVersion",
			call: func() error {
				_, err := c.GetSecret(ctx, "exists", "0123456789abcdef0123456789abcdef", nil)
				return err
			},
			status: http.StatusNotFound, code: "SecretNotFound",
		},
		{
			name:   "GetMalformedVersion",
			call:   func() error { _, err := c.GetSecret(ctx, "exists", "not-a-version", nil); return err },
			status: http.StatusNotFound, code: "SecretNotFound",
		},
		{name: "SetInvalidName", call: set("bad_name", "x"), status: http.StatusBadRequest, code: "BadParameter"},
		{name: "SetName128Chars", call: set(strings.Repeat("a", 128), "x"), status: http.StatusBadRequest, code: "BadParameter"},
		{name: "SetValue25601Chars", call: set("big", strings.Repeat("x", 25601)), status: http.StatusBadRequest, code: "BadParameter"},
		{
			// 12,801 characters outside the BMP are 25,602 UTF-16 code units.
			name: "SetValueOverLimitUTF16", call: set("big16", strings.Repeat("\U0001F600", 12801)),
			status: http.StatusBadRequest, code: "BadParameter",
		},
		{
			name: "SetContentType256Chars",
			call: func() error {
				_, err := c.SetSecret(ctx, "ct", azsecrets.SetSecretParameters{
					Value: to.Ptr("x"), ContentType: to.Ptr(strings.Repeat("c", 256)),
				}, nil)
				return err
			},
			status: http.StatusBadRequest, code: "BadParameter",
		},
		{
			name: "Set16Tags",
			call: func() error {
				_, err := c.SetSecret(ctx, "tags16", azsecrets.SetSecretParameters{Value: to.Ptr("x"), Tags: sdkManyTags(16)}, nil)
				return err
			},
			status: http.StatusBadRequest, code: "BadParameter",
		},
		{
			name: "Update16Tags",
			call: func() error {
				_, err := c.UpdateSecretProperties(ctx, "exists", existing.ID.Version(),
					azsecrets.UpdateSecretPropertiesParameters{Tags: sdkManyTags(16)}, nil)
				return err
			},
			status: http.StatusBadRequest, code: "BadParameter",
		},
		{
			name: "SetExpiryBeforeNotBefore",
			call: func() error {
				nbf, exp := time.Unix(1893456000, 0), time.Unix(1767225600, 0)
				_, err := c.SetSecret(ctx, "window", azsecrets.SetSecretParameters{
					Value: to.Ptr("x"), SecretAttributes: &azsecrets.SecretAttributes{NotBefore: &nbf, Expires: &exp},
				}, nil)
				return err
			},
			status: http.StatusBadRequest, code: "BadParameter",
		},
		{
			name: "UpdateMissing",
			call: func() error {
				_, err := c.UpdateSecretProperties(ctx, "missing", "", azsecrets.UpdateSecretPropertiesParameters{ContentType: to.Ptr("x")}, nil)
				return err
			},
			status: http.StatusNotFound, code: "SecretNotFound",
		},
		{
			name:   "DeleteMissing",
			call:   func() error { _, err := c.DeleteSecret(ctx, "missing", nil); return err },
			status: http.StatusNotFound, code: "SecretNotFound",
		},
		{
			name:   "GetDeletedMissing",
			call:   func() error { _, err := c.GetDeletedSecret(ctx, "missing", nil); return err },
			status: http.StatusNotFound, code: "SecretNotFound",
		},
		{
			name:   "RecoverMissing",
			call:   func() error { _, err := c.RecoverDeletedSecret(ctx, "missing", nil); return err },
			status: http.StatusNotFound, code: "SecretNotFound",
		},
		{
			name:   "PurgeMissing",
			call:   func() error { _, err := c.PurgeDeletedSecret(ctx, "missing", nil); return err },
			status: http.StatusNotFound, code: "SecretNotFound",
		},
		{
			name:   "BackupMissing",
			call:   func() error { _, err := c.BackupSecret(ctx, "missing", nil); return err },
			status: http.StatusNotFound, code: "SecretNotFound",
		},
		{
			name: "ListVersionsMissing",
			call: func() error {
				_, err := c.NewListSecretPropertiesVersionsPager("missing", nil).NextPage(ctx)
				return err
			},
			status: http.StatusNotFound, code: "SecretNotFound",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdkWantError(t, tc.call(), tc.status, tc.code)
		})
	}

	// The limits themselves are accepted, and the value comes back exactly.
	for _, tc := range []struct {
		name, secret, value string
		tags                int
	}{
		{name: "Value25600Chars", secret: "max-ascii", value: strings.Repeat("x", 25600)},
		{name: "Value25600NonASCII", secret: "max-accent", value: strings.Repeat("é", 25600)},
		{name: "EmptyValue", secret: "empty", value: ""},
		{name: "WhitespaceValue", secret: "blank", value: "   "},
		{name: "Name127Chars", secret: strings.Repeat("a", 127), value: "x"},
		{name: "NameAllDigits", secret: "000", value: "x"},
		{name: "NameLeadingDash", secret: "-lead", value: "x"},
		{name: "15Tags", secret: "tags15", value: "x", tags: 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := azsecrets.SetSecretParameters{Value: to.Ptr(tc.value)}
			if tc.tags > 0 {
				params.Tags = sdkManyTags(tc.tags)
			}
			if _, err := c.SetSecret(ctx, tc.secret, params, nil); err != nil {
				t.Fatalf("SetSecret: %v", err)
			}
			got := sdkGet(t, c, tc.secret, "")
			if got.Value == nil || *got.Value != tc.value {
				t.Errorf("value = %v, want %d characters %.10q", got.Value, len([]rune(tc.value)), tc.value)
			}
			if len(got.Tags) != tc.tags {
				t.Errorf("got %d tags, want %d", len(got.Tags), tc.tags)
			}
		})
	}
}

func TestSDKBareAddress(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	vc := in.SecretsClient(t, "default")

	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run(host, func(t *testing.T) {
			bareURL := "https://" + host + ":" + in.Port
			bc, err := azsecrets.NewClient(bareURL, in.Credential(t), &azsecrets.ClientOptions{
				ClientOptions: in.ClientOptions(), DisableChallengeResourceVerification: true,
			})
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}

			// A secret set through the vault host name is visible at the
			// bare address, and the other way round.
			name := "bare-" + strings.ReplaceAll(host, ".", "-")
			viaVault := sdkSet(t, vc, name, "from vault host")
			got := sdkGet(t, bc, name, "")
			if v := sdkDeref(got.Value); v != "from vault host" {
				t.Errorf("bare GetSecret value = %q, want %q", v, "from vault host")
			}
			if version := sdkCheckID(t, got.ID, bareURL, name); version != viaVault.ID.Version() {
				t.Errorf("bare GetSecret version = %s, want %s", version, viaVault.ID.Version())
			}

			viaBare := sdkSet(t, bc, name, "from bare address")
			sdkCheckID(t, viaBare.ID, bareURL, name)
			got = sdkGet(t, vc, name, "")
			if v := sdkDeref(got.Value); v != "from bare address" {
				t.Errorf("vault-host GetSecret value = %q, want %q", v, "from bare address")
			}
			if got.ID.Version() != viaBare.ID.Version() {
				t.Errorf("vault-host GetSecret version = %s, want %s", got.ID.Version(), viaBare.ID.Version())
			}
		})
	}
}

func TestSDKAPIVersions(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	ctx := context.Background()

	for _, version := range []string{"7.0", "7.3", "7.4", "7.5", "7.6", "2025-07-01", "2026-04-01"} {
		t.Run(version, func(t *testing.T) {
			opts := in.ClientOptions()
			opts.APIVersion = version
			c, err := azsecrets.NewClient(in.VaultURL("default"), in.Credential(t), &azsecrets.ClientOptions{ClientOptions: opts})
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			name := "api-" + strings.ReplaceAll(version, ".", "-")
			value := "value for " + version

			var setRaw, getRaw *http.Response
			set, err := c.SetSecret(policy.WithCaptureResponse(ctx, &setRaw), name, azsecrets.SetSecretParameters{Value: to.Ptr(value)}, nil)
			if err != nil {
				t.Fatalf("SetSecret: %v", err)
			}
			got, err := c.GetSecret(policy.WithCaptureResponse(ctx, &getRaw), name, "", nil)
			if err != nil {
				t.Fatalf("GetSecret: %v", err)
			}
			for op, raw := range map[string]*http.Response{"SetSecret": setRaw, "GetSecret": getRaw} {
				if sent := raw.Request.URL.Query().Get("api-version"); sent != version {
					t.Errorf("%s sent api-version=%q, want %q", op, sent, version)
				}
			}
			if *got.ID != *set.ID {
				t.Errorf("GetSecret id = %q, want %q", *got.ID, *set.ID)
			}
			if v := sdkDeref(got.Value); v != value {
				t.Errorf("GetSecret value = %q, want %q", v, value)
			}
		})
	}
}

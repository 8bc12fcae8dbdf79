package mgmt

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
)

// page cuts items, sorted by name, to the page that the request's $top and
// $skiptoken ask for, as Azure Resource Manager lists do. It returns the
// page and the nextLink of the page after it, or "" for the last page.
// Without $top every item is one page. ok is false after it has written a
// 400 for an invalid $top or $skiptoken.
func page[T any](q *request, items []T, name func(T) string) (out []T, nextLink string, ok bool) {
	query := q.r.URL.Query()
	if token := query.Get("$skiptoken"); token != "" {
		after, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			writeError(q.w, http.StatusBadRequest, "InvalidSkipToken", "The $skiptoken '"+token+"' is invalid: it was not issued by this server. Start the list again without it.")
			return nil, "", false
		}
		i := sort.Search(len(items), func(i int) bool { return name(items[i]) > string(after) })
		items = items[i:]
	}

	raw := query.Get("$top")
	if raw == "" {
		return items, "", true
	}
	top, err := strconv.Atoi(raw)
	if err != nil || top < 1 {
		writeError(q.w, http.StatusBadRequest, "InvalidParameter", "The value '"+raw+"' of $top is invalid: it must be a positive integer.")
		return nil, "", false
	}
	if len(items) <= top {
		return items, "", true
	}
	items = items[:top]

	// The next page's link repeats the query with the new skip token.
	next := url.Values{}
	for k, v := range query {
		next[k] = v
	}
	next.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(name(items[top-1]))))
	scheme := "https"
	if q.r.TLS == nil {
		scheme = "http"
	}
	return items, scheme + "://" + q.r.Host + q.r.URL.Path + "?" + next.Encode(), true
}

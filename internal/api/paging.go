package api

import (
	"context"
	"net/http"
	"strings"
)

// page is a list response: up to maxresults items and the absolute link to
// the next page, null on the last one.
type page[T any] struct {
	Value    []T     `json:"value"`
	NextLink *string `json:"nextLink"`
}

// writePage serves one page of a list at path: it reads maxresults and the
// $skiptoken cursor, calls list, renders each item and adds the nextLink.
func writePage[I, T any](w http.ResponseWriter, r *http.Request, req *Request, path string,
	list func(ctx context.Context, cursor string, max int) ([]I, string, error), render func(I) T) {
	max, err := maxResults(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	items, next, err := list(r.Context(), r.URL.Query().Get("$skiptoken"), max)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	out := page[T]{Value: make([]T, 0, len(items)), NextLink: nextLink(r, req, path, next, max)}
	for _, item := range items {
		out.Value = append(out.Value, render(item))
	}
	writeJSON(w, http.StatusOK, out)
}

// deletedRoutes are the handlers of a family's deleted-object collection.
type deletedRoutes struct {
	list    func(w http.ResponseWriter, r *http.Request, req *Request)
	get     func(w http.ResponseWriter, r *http.Request, req *Request, name string)
	purge   func(w http.ResponseWriter, r *http.Request, req *Request, name string)
	recover func(w http.ResponseWriter, r *http.Request, req *Request, name string)
}

// routeDeleted routes /deleted{family}/... (segs excludes the collection):
// list, get, purge (DELETE) and POST .../recover.
func routeDeleted(w http.ResponseWriter, r *http.Request, req *Request, segs []string, h deletedRoutes) {
	if len(segs) > 0 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1]
	}
	switch {
	case len(segs) == 0 && r.Method == http.MethodGet:
		h.list(w, r, req)
	case len(segs) == 1 && r.Method == http.MethodGet:
		h.get(w, r, req, segs[0])
	case len(segs) == 1 && r.Method == http.MethodDelete:
		h.purge(w, r, req, segs[0])
	case len(segs) == 2 && r.Method == http.MethodPost && strings.EqualFold(segs[1], "recover"):
		h.recover(w, r, req, segs[0])
	case len(segs) <= 2:
		methodNotAllowed(w, r)
	default:
		pathNotFound(w, r)
	}
}

package server_test

import (
	"net/http"
	"testing"

	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/server"
)

// TestHTTP2Option checks that a client that offers HTTP/2 gets it by
// default and gets HTTP/1.1 from a server run with --no-http2.
func TestHTTP2Option(t *testing.T) {
	for _, tt := range []struct {
		name      string
		noHTTP2   bool
		wantMajor int
	}{
		{name: "Default", wantMajor: 2},
		{name: "NoHTTP2", noHTTP2: true, wantMajor: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := kvtest.Start(t, kvtest.Options{Configure: func(c *server.Config) { c.NoHTTP2 = tt.noHTTP2 }})
			resp, err := in.HTTPClient().Get("https://localhost:" + in.Port + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.ProtoMajor != tt.wantMajor {
				t.Errorf("GET /healthz: %s %s, want 200 over HTTP/%d", resp.Proto, resp.Status, tt.wantMajor)
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/ThalesGroup/crypto11"
	"github.com/google/uuid"
	"github.com/spf13/pflag"

	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/pki"
	"github.com/keyvault/keyvault/internal/server"
)

// TestCrashKeepsAcknowledgedWrites kills the server with SIGKILL while 32
// clients write secrets, restarts it and checks that every write that
// returned success survived, then completes the rest and checks the whole
// set through list and get.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	const writers = 32
	killAfter := int64(n * 4 / 10)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	names, values := make([]string, n), make([]string, n)
	for i := range n {
		names[i], values[i] = uuid.NewString(), uuid.NewString()
	}
	dir, port := t.TempDir(), freePort(t)
	srv := startServer(t, dir, port)
	client := kvtest.Load(t, dir, srv.addr).SecretsClient(t, "default")

	// Write until killAfter writes have succeeded, then kill the server.
	// versions[i] is the version id of write i if it returned success.
	versions := make([]string, n)
	var (
		succeeded  atomic.Int64
		killed     atomic.Bool
		killFailed atomic.Int64
		mu         sync.Mutex
		preKillErr []error
	)
	reached, writersDone := make(chan struct{}), make(chan struct{})
	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	close(work)
	start := time.Now()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for i := range work {
				if killed.Load() {
					return
				}
				resp, err := client.SetSecret(ctx, names[i], azsecrets.SetSecretParameters{Value: &values[i]}, nil)
				if err != nil {
					// Errors after the kill are expected; before it, none is.
					if killed.Load() {
						killFailed.Add(1)
						continue
					}
					mu.Lock()
					preKillErr = append(preKillErr, fmt.Errorf("set #%d: %w", i, err))
					mu.Unlock()
					continue
				}
				versions[i] = resp.ID.Version()
				if succeeded.Add(1) == killAfter {
					close(reached)
				}
			}
		})
	}
	go func() { wg.Wait(); close(writersDone) }()
	select {
	case <-reached:
	case <-writersDone:
		t.Fatalf("writers stopped after %d successes without a kill: %v", succeeded.Load(), errors.Join(preKillErr...))
	case <-ctx.Done():
		t.Fatalf("only %d of %d writes succeeded before the deadline", succeeded.Load(), killAfter)
	}
	elapsed := time.Since(start)
	killed.Store(true)
	srv.kill()
	<-writersDone
	reportErrors(t, "writes before the kill", n, preKillErr)
	acked := int(succeeded.Load())
	t.Logf("first %d writes took %v (%.0f writes/s with %d writers; information only)",
		killAfter, elapsed.Round(time.Millisecond), float64(killAfter)/elapsed.Seconds(), writers)
	t.Logf("%d writes succeeded before SIGKILL; %d were in flight and failed", acked, killFailed.Load())

	// Restart on the same data directory and port.
	srv = startServer(t, dir, port)
	in := kvtest.Load(t, dir, srv.addr)
	client = in.SecretsClient(t, "default")

	// Acknowledged writes are there with their value and version. A write
	// that was in flight at the kill may or may not be there, but if it is,
	// its value is the one sent.
	var inFlightKept atomic.Int64
	errs := forEach(n, writers, func(i int) error {
		got, err := client.GetSecret(ctx, names[i], "", nil)
		if versions[i] == "" {
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("get unacknowledged %s: %w", names[i], err)
			}
			inFlightKept.Add(1)
			return checkValue(got, names[i], values[i], "")
		}
		if err != nil {
			return fmt.Errorf("get acknowledged %s: %w", names[i], err)
		}
		return checkValue(got, names[i], values[i], versions[i])
	})
	reportErrors(t, "acknowledged writes after restart", n, errs)
	t.Logf("%d unacknowledged writes had been committed before the kill", inFlightKept.Load())

	// Complete the writes that did not return success.
	start = time.Now()
	errs = forEach(n, writers, func(i int) error {
		if versions[i] != "" {
			return nil
		}
		resp, err := client.SetSecret(ctx, names[i], azsecrets.SetSecretParameters{Value: &values[i]}, nil)
		if err != nil {
			return fmt.Errorf("set %s: %w", names[i], err)
		}
		versions[i] = resp.ID.Version()
		return nil
	})
	reportErrors(t, "remaining writes", n-acked, errs)
	elapsed = time.Since(start)
	t.Logf("%d remaining writes in %v (%.0f writes/s; information only)",
		n-acked, elapsed.Round(time.Millisecond), float64(n-acked)/elapsed.Seconds())
	if t.Failed() {
		t.FailNow()
	}

	checkListedNames(ctx, t, client, in.VaultURL("default"), names)

	// Every secret reads back with its value, at the version last written.
	errs = forEach(n, writers, func(i int) error {
		got, err := client.GetSecret(ctx, names[i], "", nil)
		if err != nil {
			return fmt.Errorf("get %s: %w", names[i], err)
		}
		return checkValue(got, names[i], values[i], versions[i])
	})
	reportErrors(t, "final reads", n, errs)
}

// checkValue compares a GetSecret result with the expected value and, if
// version is not empty, the expected version.
func checkValue(got azsecrets.GetSecretResponse, name, value, version string) error {
	if got.Value == nil || *got.Value != value {
		return fmt.Errorf("secret %s: value = %v, want %q", name, ptrString(got.Value), value)
	}
	if version != "" && (got.ID == nil || got.ID.Version() != version) {
		return fmt.Errorf("secret %s: id = %v, want version %s", name, got.ID, version)
	}
	return nil
}

// checkListedNames lists every secret and checks that the list holds each
// of names exactly once, each with a versionless id.
func checkListedNames(ctx context.Context, t *testing.T, client *azsecrets.Client, vaultURL string, names []string) {
	t.Helper()
	want := make(map[string]bool, len(names))
	for _, name := range names {
		want[name] = true
	}
	seen := make(map[string]bool, len(names))
	pager := client.NewListSecretPropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list secrets after %d items: %v", len(seen), err)
		}
		for _, item := range page.Value {
			if item.ID == nil {
				t.Fatalf("list item without id")
			}
			id := string(*item.ID)
			name := item.ID.Name()
			if wantID := vaultURL + "/secrets/" + name; id != wantID {
				t.Errorf("list item id = %s, want %s", id, wantID)
			}
			if seen[name] {
				t.Errorf("list returned %s twice", name)
			}
			if !want[name] {
				t.Errorf("list returned %s, which was never written", name)
			}
			seen[name] = true
		}
	}
	if len(seen) != len(names) {
		t.Errorf("list returned %d distinct names, want %d", len(seen), len(names))
	}
}

func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound && re.ErrorCode == "SecretNotFound"
}

func ptrString(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%q", *s)
}

// heldBody is a request body that returns nothing until release is closed,
// so a request stays in the server's handler for as long as the test wants.
type heldBody struct {
	release <-chan struct{}
	r       io.Reader
}

func (b *heldBody) Read(p []byte) (int, error) {
	<-b.release
	return b.r.Read(p)
}

func (b *heldBody) Close() error { return nil }

// TestSIGTERMFinishesInFlightRequests holds requests inside the server's
// handler, sends SIGTERM, then lets them finish: each gets its response, the
// process exits with status 0 and the writes are there after a restart.
func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	const inFlight = 24
	dir, port := t.TempDir(), freePort(t)
	srv := startServer(t, dir, port)
	in := kvtest.Load(t, dir, srv.addr)
	token := in.Token(t)

	// The requests use HTTP/1.1 and "Expect: 100-continue". The server sends
	// 100 Continue when the handler first reads the body, which shows that
	// the request was accepted and is being handled.
	transport := in.Transport()
	transport.ForceAttemptHTTP2 = false
	transport.ExpectContinueTimeout = time.Minute
	hc := &http.Client{Transport: transport, Timeout: 2 * time.Minute}
	defer hc.CloseIdleConnections()

	names, values := make([]string, inFlight), make([]string, inFlight)
	release := make(chan struct{})
	continued := make(chan int, inFlight)
	type result struct {
		status int
		body   string
		err    error
	}
	results := make(chan result, inFlight)
	for i := range inFlight {
		names[i], values[i] = "held-"+uuid.NewString(), randomText(32)
		body := fmt.Sprintf(`{"value":%q}`, values[i])
		trace := &httptrace.ClientTrace{Got100Continue: func() { continued <- i }}
		ctx := httptrace.WithClientTrace(context.Background(), trace)
		req, err := http.NewRequestWithContext(ctx, http.MethodPut,
			in.VaultURL("default")+"/secrets/"+names[i]+"?api-version=7.5", &heldBody{release: release, r: strings.NewReader(body)})
		if err != nil {
			t.Fatalf("new request: %v", err)
		}
		req.ContentLength = int64(len(body))
		req.Header.Set("Expect", "100-continue")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		go func() {
			resp, err := hc.Do(req)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			results <- result{status: resp.StatusCode, body: string(raw), err: err}
		}()
	}
	for range inFlight {
		select {
		case <-continued:
		case <-time.After(startTimeout):
			close(release)
			t.Fatalf("requests did not reach the handler within %v", startTimeout)
		}
	}

	// Every request is in a handler: stop the server, then let them finish.
	srv.signal(syscall.SIGTERM)
	srv.waitLog("shutting down")
	close(release)
	for range inFlight {
		r := <-results
		if r.err != nil {
			t.Errorf("in-flight request failed: %v", r.err)
			continue
		}
		if r.status != http.StatusOK {
			t.Errorf("in-flight request: status %d, want 200: %s", r.status, r.body)
		}
	}
	if code := srv.waitExit(); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
	if log := srv.log(); !strings.Contains(log, "msg=stopped") {
		t.Errorf("log has no stop line (msg=stopped)")
	}

	srv = startServer(t, dir, port)
	client := kvtest.Load(t, dir, srv.addr).SecretsClient(t, "default")
	for i := range inFlight {
		got, err := client.GetSecret(context.Background(), names[i], "", nil)
		if err != nil {
			t.Errorf("get %s after restart: %v", names[i], err)
			continue
		}
		if err := checkValue(got, names[i], values[i], ""); err != nil {
			t.Error(err)
		}
	}
}

// TestNoPlaintextAtRest writes a secret with a unique value, content type
// and tag, stops the server and searches every file of the data directory
// for them in the clear, in base64 and in hex.
func TestNoPlaintextAtRest(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	srv := startServer(t, dir, port)
	client := kvtest.Load(t, dir, srv.addr).SecretsClient(t, "default")

	value := randomText(40)
	contentType := "application/x-" + strings.ToLower(randomText(24))
	tagName, tagValue := "tag"+randomText(20), randomText(40)
	ctx := context.Background()
	_, err := client.SetSecret(ctx, "at-rest", azsecrets.SetSecretParameters{
		Value: &value, ContentType: &contentType, Tags: map[string]*string{tagName: &tagValue},
	}, nil)
	if err != nil {
		t.Fatalf("set secret: %v", err)
	}
	got, err := client.GetSecret(ctx, "at-rest", "", nil)
	if err != nil {
		t.Fatalf("get secret: %v", err)
	}
	if err := checkValue(got, "at-rest", value, ""); err != nil {
		t.Fatal(err)
	}
	if got.ContentType == nil || *got.ContentType != contentType {
		t.Fatalf("content type = %v, want %q", ptrString(got.ContentType), contentType)
	}
	if v := got.Tags[tagName]; v == nil || *v != tagValue {
		t.Fatalf("tag %s = %v, want %q", tagName, ptrString(v), tagValue)
	}
	srv.stop()

	forbidden := map[string]string{"secret value": value, "content type": contentType, "tag name": tagName, "tag value": tagValue}
	files := 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for field, text := range forbidden {
			for _, enc := range encodings(text) {
				if bytes.Contains(data, []byte(enc.text)) {
					t.Errorf("%s contains the %s (%s)", filepath.Base(path), field, enc.name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk data directory: %v", err)
	}
	if files < 5 {
		t.Errorf("data directory has %d files, want at least 5 (store, root key, CA, TLS, credentials)", files)
	}
	if log := srv.log(); strings.Contains(log, value) {
		t.Errorf("server log contains the secret value")
	}
}

type encoded struct{ name, text string }

// encodings returns text and the forms it could take in a file: standard
// and URL base64, padded and unpadded, at each of the 3 byte alignments it
// can have inside a longer encoded buffer, and hex. For an alignment the
// form is the encoding of the whole 3-byte groups, which appears in the
// encoding of any buffer that holds text at that alignment.
func encodings(text string) []encoded {
	out := []encoded{{"plain", text}, {"hex", hex.EncodeToString([]byte(text))}}
	b64 := []struct {
		name string
		enc  *base64.Encoding
	}{
		{"std base64", base64.StdEncoding}, {"std base64 unpadded", base64.RawStdEncoding},
		{"URL base64", base64.URLEncoding}, {"URL base64 unpadded", base64.RawURLEncoding},
	}
	for offset := range 3 {
		rest := []byte(text[offset:])
		groups := rest[:len(rest)/3*3]
		for _, e := range b64 {
			out = append(out,
				encoded{fmt.Sprintf("%s at offset %d", e.name, offset), e.enc.EncodeToString(rest)},
				encoded{fmt.Sprintf("%s of whole groups at offset %d", e.name, offset), e.enc.EncodeToString(groups)})
		}
	}
	return out
}

// TestRootKeyChecks stops a server with data, then starts it with another
// root key and with a root key file that others can read. Both starts fail
// with an error naming the root key file and change no file. The original
// key then reads the data back.
func TestRootKeyChecks(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	srv := startServer(t, dir, port)
	client := kvtest.Load(t, dir, srv.addr).SecretsClient(t, "default")
	value := randomText(32)
	if _, err := client.SetSecret(context.Background(), "kept", azsecrets.SetSecretParameters{Value: &value}, nil); err != nil {
		t.Fatalf("set secret: %v", err)
	}
	srv.stop()

	keyPath := filepath.Join(dir, "root.key")
	original, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatalf("read root key: %v", err)
	}
	before := snapshot(t, dir, "root.key")

	tests := []struct {
		name     string
		key      []byte
		mode     os.FileMode
		wantText string
	}{
		{name: "OtherKey", key: []byte(hex.EncodeToString([]byte(randomText(32))) + "\n"), mode: 0o600, wantText: "different root key"},
		{name: "GroupReadable", key: original, mode: 0o644, wantText: "has mode 0644"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeRootKey(t, keyPath, tt.key, tt.mode)
			code, log := runToExit(t, dir, port, nil, nil)
			if code == 0 {
				t.Fatalf("exit status = 0, want non-zero")
			}
			if !strings.Contains(log, "keyvault: error: ") || !strings.Contains(log, keyPath) || !strings.Contains(log, tt.wantText) {
				t.Errorf("output does not name %s with %q:\n%s", keyPath, tt.wantText, log)
			}
			if after := snapshot(t, dir, "root.key"); !equalSnapshots(before, after) {
				t.Errorf("a failed start changed the data directory: before %v, after %v", before, after)
			}
		})
	}

	writeRootKey(t, keyPath, original, 0o600)
	srv = startServer(t, dir, port)
	got, err := kvtest.Load(t, dir, srv.addr).SecretsClient(t, "default").GetSecret(context.Background(), "kept", "", nil)
	if err != nil {
		t.Fatalf("get secret with the original root key: %v", err)
	}
	if err := checkValue(got, "kept", value, ""); err != nil {
		t.Error(err)
	}
}

// writeRootKey replaces the root key file with key and sets its mode.
func writeRootKey(t *testing.T, path string, key []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, key, mode); err != nil {
		t.Fatalf("write root key: %v", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatalf("chmod root key: %v", err)
	}
}

// snapshot returns the SHA-256 of every file in dir except skip, by name.
func snapshot(t *testing.T, dir, skip string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read data directory: %v", err)
	}
	sums := make(map[string]string)
	for _, e := range entries {
		if e.IsDir() || e.Name() == skip {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatalf("read %s: %v", e.Name(), err)
		}
		sum := sha256.Sum256(data)
		sums[e.Name()] = hex.EncodeToString(sum[:8])
	}
	return sums
}

func equalSnapshots(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for name, sum := range a {
		if b[name] != sum {
			return false
		}
	}
	return true
}

// TestCredentialsFile checks credentials.json and the key file modes after
// a first start, its rewrite for a new port with the same client secret,
// and the new client secret issued when the file is deleted.
func TestCredentialsFile(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	srv := startServer(t, dir, port)
	first := readCredentials(t, dir)
	checkCredentials(t, first, port)
	for _, name := range []string{"root.key", pki.CAKeyFile, pki.ServerKeyFile, server.CredentialsFile} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("stat %s: %v", name, err)
			continue
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", name, mode)
		}
	}
	checkCA(t, filepath.Join(dir, pki.CAFile))
	value := randomText(32)
	client := kvtest.Load(t, dir, srv.addr).SecretsClient(t, "default")
	if _, err := client.SetSecret(context.Background(), "probe", azsecrets.SetSecretParameters{Value: &value}, nil); err != nil {
		t.Fatalf("set secret: %v", err)
	}
	srv.stop()

	t.Run("NewPort", func(t *testing.T) {
		port2 := freePort(t)
		srv := startServer(t, dir, port2)
		got := readCredentials(t, dir)
		checkCredentials(t, got, port2)
		if got.TenantID != first.TenantID || got.ClientID != first.ClientID || got.ClientSecret != first.ClientSecret {
			t.Errorf("credentials changed on restart: tenant %s client %s, want tenant %s client %s and the same client secret",
				got.TenantID, got.ClientID, first.TenantID, first.ClientID)
		}
		readProbe(t, kvtest.Load(t, dir, srv.addr), value)
		srv.stop()
	})

	t.Run("Deleted", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, server.CredentialsFile)); err != nil {
			t.Fatalf("remove credentials.json: %v", err)
		}
		srv := startServer(t, dir, port)
		got := readCredentials(t, dir)
		checkCredentials(t, got, port)
		if got.ClientSecret == first.ClientSecret {
			t.Errorf("client secret unchanged after credentials.json was deleted")
		}
		if got.TenantID != first.TenantID || got.ClientID != first.ClientID {
			t.Errorf("tenant %s client %s, want tenant %s client %s", got.TenantID, got.ClientID, first.TenantID, first.ClientID)
		}
		info, err := os.Stat(filepath.Join(dir, server.CredentialsFile))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("rewritten credentials.json: stat %v, want mode 0600", err)
		}

		in := kvtest.Load(t, dir, srv.addr)
		readProbe(t, in, value)
		if status, body := tokenStatus(t, in, got.ClientSecret); status != http.StatusOK {
			t.Errorf("token with the new secret: status %d, want 200: %s", status, body)
		}
		status, body := tokenStatus(t, in, first.ClientSecret)
		if status != http.StatusUnauthorized || !strings.Contains(body, `"invalid_client"`) {
			t.Errorf("token with the old secret: status %d %s, want 401 invalid_client", status, body)
		}
		old := *in
		old.Creds.ClientSecret = first.ClientSecret
		_, err = old.SecretsClient(t, "default").GetSecret(context.Background(), "probe", "", nil)
		var authErr *azidentity.AuthenticationFailedError
		if !errors.As(err, &authErr) {
			t.Errorf("get secret with the old secret: error %v, want an azidentity.AuthenticationFailedError", err)
		}
		srv.stop()
	})
}

// checkCredentials checks the fields of credentials.json for a server on
// port with the default DNS suffix.
func checkCredentials(t *testing.T, c server.CredentialsJSON, port string) {
	t.Helper()
	if _, err := uuid.Parse(c.TenantID); err != nil {
		t.Errorf("tenantId %q is not a GUID", c.TenantID)
	}
	if _, err := uuid.Parse(c.ClientID); err != nil {
		t.Errorf("clientId %q is not a GUID", c.ClientID)
	}
	if len(c.ClientSecret) < 32 {
		t.Errorf("clientSecret has %d characters, want at least 32", len(c.ClientSecret))
	}
	want := map[string][2]string{
		"authorityHost": {c.AuthorityHost, "https://localhost:" + port + "/"},
		"resource":      {c.Resource, "https://vault.localhost:" + port},
		"vaultUrl":      {c.VaultURL, "https://default.vault.localhost:" + port + "/"},
	}
	for field, gotWant := range want {
		if gotWant[0] != gotWant[1] {
			t.Errorf("%s = %q, want %q", field, gotWant[0], gotWant[1])
		}
	}
}

// checkCA checks that path holds one PEM certificate of a CA.
func checkCA(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read CA: %v", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s holds no PEM certificate", filepath.Base(path))
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse CA: %v", err)
	}
	if !cert.IsCA {
		t.Errorf("%s is not a CA certificate", filepath.Base(path))
	}
}

// readProbe reads the secret "probe" through the SDK and compares its value.
func readProbe(t *testing.T, in *kvtest.Instance, value string) {
	t.Helper()
	got, err := in.SecretsClient(t, "default").GetSecret(context.Background(), "probe", "", nil)
	if err != nil {
		t.Fatalf("get probe: %v", err)
	}
	if err := checkValue(got, "probe", value, ""); err != nil {
		t.Error(err)
	}
}

// tokenStatus requests a client-credentials token with secret and returns
// the status and body.
func tokenStatus(t *testing.T, in *kvtest.Instance, secret string) (int, string) {
	t.Helper()
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {in.Creds.ClientID},
		"client_secret": {secret}, "scope": {in.Creds.Resource + "/.default"},
	}
	resp, err := in.HTTPClient().PostForm("https://localhost:"+in.Port+"/"+in.Creds.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read token response: %v", err)
	}
	return resp.StatusCode, string(body)
}

// TestConfigPrecedence sets dns-suffix in a YAML file, the environment and
// a flag, and reads the winner from credentials.json. The file also sets
// default-vault, which nothing overrides, so every case shows that the file
// still applies.
func TestConfigPrecedence(t *testing.T) {
	configPath := filepath.Join(t.TempDir(), "keyvault.yaml")
	if err := os.WriteFile(configPath, []byte("dns-suffix: file.localhost\ndefault-vault: fromfile\n"), 0o600); err != nil {
		t.Fatalf("write config: %v", err)
	}
	tests := []struct {
		name       string
		env        []string
		args       []string
		wantSuffix string
	}{
		{name: "FileOnly", wantSuffix: "file.localhost"},
		{name: "EnvOverFile", env: []string{"KEYVAULT_DNS_SUFFIX=env.localhost"}, wantSuffix: "env.localhost"},
		{
			name: "FlagOverEnv", env: []string{"KEYVAULT_DNS_SUFFIX=env.localhost"},
			args: []string{"--dns-suffix", "flag.localhost"}, wantSuffix: "flag.localhost",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, port := t.TempDir(), freePort(t)
			srv := startProcess(t, dir, port, append([]string{"--config", configPath}, tt.args...), tt.env)
			srv.waitReady()
			c := readCredentials(t, dir)
			if want := "https://" + tt.wantSuffix + ":" + port; c.Resource != want {
				t.Errorf("resource = %q, want %q", c.Resource, want)
			}
			if want := "https://fromfile." + tt.wantSuffix + ":" + port + "/"; c.VaultURL != want {
				t.Errorf("vaultUrl = %q, want %q", c.VaultURL, want)
			}
			srv.stop()
		})
	}
}

// TestConfigUnknownKey starts the server with a YAML key that is no flag: it
// exits non-zero naming the key, before it creates the data directory.
func TestConfigUnknownKey(t *testing.T) {
	configPath := filepath.Join(t.TempDir(), "keyvault.yaml")
	if err := os.WriteFile(configPath, []byte("dns-suffix: file.localhost\nlisten-port: 8443\n"), 0o600); err != nil {
		t.Fatalf("write config: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	code, log := runToExit(t, dir, freePort(t), []string{"--config", configPath}, nil)
	if code == 0 {
		t.Fatalf("exit status = 0, want non-zero")
	}
	if !strings.Contains(log, `unknown setting "listen-port"`) {
		t.Errorf("output does not name the unknown key listen-port:\n%s", log)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("data directory after a rejected config: stat error %v, want not exist", err)
	}
}

// TestServeHelpListsFlags checks that `keyvault serve --help` lists every
// flag the serve command defines.
func TestServeHelpListsFlags(t *testing.T) {
	cmd := exec.Command(binPath, "serve", "--help")
	cmd.Env = childEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("serve --help: %v\n%s", err, out)
	}
	var flags []string
	newServeCommand().Flags().VisitAll(func(f *pflag.Flag) { flags = append(flags, f.Name) })
	if len(flags) < 15 {
		t.Fatalf("serve defines %d flags, want at least 15: %v", len(flags), flags)
	}
	for _, name := range append(flags, "help") {
		if !strings.Contains(string(out), "--"+name+" ") {
			t.Errorf("help does not list --%s", name)
		}
	}
}

// TestSecondServerLocked starts a second server on the data directory of a
// running one: it exits non-zero with a "locked" error, leaves
// credentials.json alone, and the first server keeps serving.
func TestSecondServerLocked(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	srv := startServer(t, dir, port)
	credsBefore, err := os.ReadFile(filepath.Join(dir, server.CredentialsFile))
	if err != nil {
		t.Fatalf("read credentials: %v", err)
	}

	code, log := runToExit(t, dir, freePort(t), nil, nil)
	if code == 0 {
		t.Fatalf("second server: exit status = 0, want non-zero")
	}
	if !strings.Contains(log, "keyvault: error: ") || !strings.Contains(log, "locked by another process") {
		t.Errorf("second server output has no locked error:\n%s", log)
	}
	credsAfter, err := os.ReadFile(filepath.Join(dir, server.CredentialsFile))
	if err != nil {
		t.Fatalf("read credentials: %v", err)
	}
	if !bytes.Equal(credsBefore, credsAfter) {
		t.Errorf("the second server rewrote credentials.json")
	}

	if !srv.ready() {
		t.Errorf("first server no longer ready")
	}
	value := randomText(32)
	client := kvtest.Load(t, dir, srv.addr).SecretsClient(t, "default")
	if _, err := client.SetSecret(context.Background(), "probe", azsecrets.SetSecretParameters{Value: &value}, nil); err != nil {
		t.Errorf("set secret on the first server: %v", err)
	}
	srv.stop()
}

// TestConfigPKCS11FromFile starts the server with --seal pkcs11 configured
// by the YAML file only (the PIN from a PIN file), restarts it, and checks
// that the same token key opens the store again.
func TestConfigPKCS11FromFile(t *testing.T) {
	hsm := kvtest.SoftHSM(t)
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(hsm.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	configPath := filepath.Join(t.TempDir(), "keyvault.yaml")
	config := "seal: pkcs11\npkcs11-module: " + hsm.Module + "\npkcs11-token-label: " + hsm.TokenLabel +
		"\npkcs11-key-label: from-file-root\npkcs11-pin-file: " + pinFile + "\n"
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for range 2 {
		srv := startProcess(t, dir, freePort(t), []string{"--config", configPath}, nil)
		srv.waitReady()
		srv.stop()
	}
	ctx, err := crypto11.Configure(&crypto11.Config{Path: hsm.Module, TokenLabel: hsm.TokenLabel, Pin: hsm.PIN})
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	keys, err := ctx.FindKeys(nil, []byte("from-file-root"))
	if err != nil || len(keys) != 1 {
		t.Errorf("the token holds %d keys labelled from-file-root (%v), want the one root key", len(keys), err)
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Files the server writes into its data directory.
const (
	credentialsFile = "credentials.json"
	caFile          = "ca.pem"
)

const (
	startTimeout = 30 * time.Second
	// stopTimeout is longer than the server's default shutdown timeout
	// (30 s), so a clean shutdown is never cut short.
	stopTimeout = 40 * time.Second
)

// credentials are the fields of credentials.json that kvbench uses.
type credentials struct {
	TenantID      string `json:"tenantId"`
	ClientID      string `json:"clientId"`
	ClientSecret  string `json:"clientSecret"`
	AuthorityHost string `json:"authorityHost"`
	Resource      string `json:"resource"`
	VaultURL      string `json:"vaultUrl"`
}

// serverProcess is a keyvault server running as a child process.
type serverProcess struct {
	cmd      *exec.Cmd
	logPath  string
	addr     string // 127.0.0.1:PORT, where every connection goes
	vaultURL string // https://default.vault.localhost:PORT, without a trailing slash
	creds    credentials
	caPool   *x509.CertPool

	exited  chan struct{} // closed when the process has exited
	waitErr error         // the result of cmd.Wait, set before exited closes
}

// buildServer builds the keyvault command into dir and returns its path. It
// must run inside the module, as `go run ./cmd/kvbench` from the repository
// root does.
func buildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "keyvault")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/keyvault/keyvault/cmd/keyvault")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the server (run kvbench from the repository root, or pass -server-bin): %w", err)
	}
	return bin, nil
}

// startServer runs `bin serve` on a new data directory under dir and port 0
// of 127.0.0.1, with its log (access log included) in dir/server.log, and
// waits until /healthz returns 200.
func startServer(ctx context.Context, bin, dir string, cpus []int) (*serverProcess, error) {
	dataDir := filepath.Join(dir, "data")
	s := &serverProcess{logPath: filepath.Join(dir, "server.log"), exited: make(chan struct{})}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor

	s.cmd = exec.Command(bin, "serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0")
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.Env = serverEnv()
	// A process group of its own keeps a terminal's Ctrl-C away from the
	// server, so that kvbench stops it in order. The parent-death signal
	// stops the server if kvbench dies first.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := startPinned(s.cmd, cpus); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()

	if err := s.awaitReady(ctx, dataDir); err != nil {
		_ = s.stop()
		return nil, fmt.Errorf("%w (server log: %s)", err, s.logTail())
	}
	return s, nil
}

// serverEnv returns the environment without KEYVAULT_* variables, so that a
// developer's own settings do not change what is measured.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYVAULT_") {
			env = append(env, kv)
		}
	}
	return env
}

// awaitReady waits for credentials.json, which the server writes after it
// has bound its port. It loads that file and ca.pem, then waits until
// /healthz returns 200.
func (s *serverProcess) awaitReady(ctx context.Context, dataDir string) error {
	deadline := time.Now().Add(startTimeout)
	for {
		raw, err := os.ReadFile(filepath.Join(dataDir, credentialsFile))
		if err == nil {
			if err := s.load(raw, dataDir); err != nil {
				return err
			}
			break
		}
		if err := s.pause(ctx, deadline, "credentials.json"); err != nil {
			return err
		}
	}

	client := &http.Client{Transport: s.newTransport(nil, false), Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for {
		resp, err := client.Get(s.vaultURL + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := s.pause(ctx, deadline, "/healthz"); err != nil {
			return err
		}
	}
}

// pause waits a moment before the next readiness check, and fails if the
// server has exited, the deadline has passed or ctx is done.
func (s *serverProcess) pause(ctx context.Context, deadline time.Time, what string) error {
	if time.Now().After(deadline) {
		return fmt.Errorf("server did not get ready within %s (waiting for %s)", startTimeout, what)
	}
	select {
	case <-s.exited:
		return fmt.Errorf("server exited during start: %v", s.waitErr)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(20 * time.Millisecond):
		return nil
	}
}

// load reads the credentials and the CA certificate, and derives the
// loopback address that every connection dials.
func (s *serverProcess) load(rawCreds []byte, dataDir string) error {
	if err := json.Unmarshal(rawCreds, &s.creds); err != nil {
		return fmt.Errorf("parse %s: %w", credentialsFile, err)
	}
	u, err := url.Parse(s.creds.VaultURL)
	if err != nil || u.Scheme != "https" || u.Port() == "" {
		return fmt.Errorf("%s: vaultUrl %q is not an https URL with a port", credentialsFile, s.creds.VaultURL)
	}
	s.addr = net.JoinHostPort("127.0.0.1", u.Port())
	s.vaultURL = strings.TrimSuffix(s.creds.VaultURL, "/")

	caPEM, err := os.ReadFile(filepath.Join(dataDir, caFile))
	if err != nil {
		return fmt.Errorf("read the server's CA: %w", err)
	}
	s.caPool = x509.NewCertPool()
	if !s.caPool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s contains no PEM certificate", caFile)
	}
	return nil
}

// newTransport returns an HTTP/1.1 (or, with http2, HTTP/2) transport with
// at most one connection, which trusts the server's CA and dials the
// server's loopback address for every host name; TLS still checks the
// certificate against the URL's host. onDial, when not nil, is called with
// every new connection and returns the connection to use.
func (s *serverProcess) newTransport(onDial func(net.Conn) net.Conn, http2 bool) *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	protocols := new(http.Protocols)
	if http2 {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetHTTP1(true)
	}
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, "tcp", s.addr)
			if err != nil || onDial == nil {
				return c, err
			}
			return onDial(c), nil
		},
		TLSClientConfig:     &tls.Config{RootCAs: s.caPool},
		Protocols:           protocols,
		MaxConnsPerHost:     1,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
}

// fetchToken gets an access token for the vault resource from the server's
// token endpoint with the administrator's client secret. A token lives one
// hour, longer than any bounded run of kvbench.
func (s *serverProcess) fetchToken(ctx context.Context) (string, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {s.creds.ClientID},
		"client_secret": {s.creds.ClientSecret},
		"scope":         {s.creds.Resource + "/.default"},
	}
	endpoint := strings.TrimSuffix(s.creds.AuthorityHost, "/") + "/" + s.creds.TenantID + "/oauth2/v2.0/token"

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	client := &http.Client{Transport: s.newTransport(nil, false), Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("token request: read response: %w", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("token request: status %d: %s", resp.StatusCode, body)
	}
	return tok.AccessToken, nil
}

// stop sends SIGTERM, waits for a graceful shutdown and kills the server if
// it takes longer than stopTimeout. It returns an error unless the server
// exited with status 0 on SIGTERM.
func (s *serverProcess) stop() error {
	select {
	case <-s.exited:
		return fmt.Errorf("server had already exited: %v", s.waitErr)
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("send SIGTERM to pid %d: %w", s.cmd.Process.Pid, err)
	}
	select {
	case <-s.exited:
		return s.waitErr
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("server did not stop within %s of SIGTERM and was killed", stopTimeout)
	}
}

// logProblems counts the ERROR and WARN lines of the server log and
// returns the first three of each level.
func (s *serverProcess) logProblems() (errs, warns int, first string) {
	f, err := os.Open(s.logPath)
	if err != nil {
		return 0, 0, ""
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var n *int
		switch {
		case bytes.Contains(line, []byte("level=ERROR")) || bytes.Contains(line, []byte(`"level":"ERROR"`)):
			n = &errs
		case bytes.Contains(line, []byte("level=WARN")) || bytes.Contains(line, []byte(`"level":"WARN"`)):
			n = &warns
		default:
			continue
		}
		*n++
		if *n <= 3 {
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	return errs, warns, b.String()
}

// logTail returns the last 2 KiB of the server log, for start failures.
func (s *serverProcess) logTail() string {
	raw, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	if len(raw) > 2048 {
		raw = raw[len(raw)-2048:]
	}
	return strings.TrimSpace(string(raw))
}

package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyvault/keyvault/internal/pki"
	"github.com/keyvault/keyvault/internal/server"
)

// binPath is the keyvault binary that TestMain builds for the tests.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

// runTests builds the binary once, runs the tests and removes the binary.
func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "keyvault-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "create build directory:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "keyvault")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build keyvault:", err)
		return 1
	}
	return m.Run()
}

// Bounds of waits on the child process. They only stop a stuck test, and no
// assertion depends on how fast the server is.
const (
	startTimeout = time.Minute
	exitTimeout  = time.Minute
)

// logTailLines is how much of a server log a failed test prints. The crash
// test logs one line per request, far too many to print whole.
const logTailLines = 150

// process is a keyvault binary running as a child of the test.
type process struct {
	t       *testing.T
	dir     string // --data-dir
	addr    string // 127.0.0.1:port
	port    string
	cmd     *exec.Cmd
	logPath string // the child's stderr

	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited is closed
}

var logCounter atomic.Int64

// startProcess starts `keyvault serve --data-dir dir --addr 127.0.0.1:port`
// with extra arguments and environment variables (NAME=value) and returns
// without waiting for it to be ready. KEYVAULT_* variables of the test's own
// environment are not passed on. The process is killed when the test ends
// if it still runs, and its log is printed if the test failed.
func startProcess(t *testing.T, dir, port string, args, env []string) *process {
	t.Helper()
	p := &process{t: t, dir: dir, port: port, addr: "127.0.0.1:" + port, exited: make(chan struct{})}
	p.logPath = filepath.Join(t.TempDir(), fmt.Sprintf("server-%d.log", logCounter.Add(1)))
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatalf("create server log: %v", err)
	}
	defer logFile.Close()

	full := append([]string{"serve", "--data-dir", dir, "--addr", p.addr}, args...)
	p.cmd = exec.Command(binPath, full...)
	p.cmd.Env = append(childEnv(), env...)
	p.cmd.Stdout = logFile
	p.cmd.Stderr = logFile
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start keyvault: %v", err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if !p.hasExited() {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("server log %s (%s):\n%s", filepath.Base(p.logPath), strings.Join(full, " "), p.logTail())
		}
	})
	return p
}

// startServer starts a server and waits until GET /readyz returns 200.
func startServer(t *testing.T, dir, port string, args ...string) *process {
	t.Helper()
	p := startProcess(t, dir, port, args, nil)
	p.waitReady()
	return p
}

// childEnv returns the test's environment without KEYVAULT_* variables, so
// that only what a test sets reaches the server.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYVAULT_") {
			env = append(env, kv)
		}
	}
	return env
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// waitReady polls GET https://localhost:PORT/readyz until it returns 200. It
// fails the test if the process exits first or the wait runs out.
func (p *process) waitReady() {
	p.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		if p.hasExited() {
			p.t.Fatalf("server exited before it was ready: %v", p.waitErr)
		}
		if p.ready() {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("server not ready after %v", startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ready reports whether /readyz returns 200. The CA is read from the data
// directory on every call because a first start creates it.
func (p *process) ready() bool {
	caPEM, err := os.ReadFile(filepath.Join(p.dir, pki.CAFile))
	if err != nil {
		return false
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return false
	}
	client := loopbackClient(p.addr, pool)
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://localhost:" + p.port + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// loopbackClient returns an HTTP client that trusts pool and connects every
// request to addr, so that no host name is looked up.
func loopbackClient(addr string, pool *x509.CertPool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			TLSClientConfig: &tls.Config{RootCAs: pool},
		},
	}
}

// signal sends sig to the process.
func (p *process) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("send %v to keyvault: %v", sig, err)
	}
}

// waitExit waits for the process to exit and returns its exit code, or -1
// if a signal ended it. It fails the test if the process still runs after
// exitTimeout.
func (p *process) waitExit() int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(exitTimeout):
		p.t.Fatalf("server still running %v after it was expected to exit", exitTimeout)
	}
	var exitErr *exec.ExitError
	if p.waitErr != nil && !errors.As(p.waitErr, &exitErr) {
		p.t.Fatalf("wait for keyvault: %v", p.waitErr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// stop sends SIGTERM and fails the test unless the process exits with
// status 0.
func (p *process) stop() {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	if code := p.waitExit(); code != 0 {
		p.t.Fatalf("exit status after SIGTERM = %d, want 0", code)
	}
}

// kill ends the process with SIGKILL and waits until it is gone.
func (p *process) kill() {
	p.t.Helper()
	p.signal(syscall.SIGKILL)
	p.waitExit()
}

// log returns the server's output so far.
func (p *process) log() string {
	raw, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(read server log: %v)", err)
	}
	return string(raw)
}

// logTail returns the last logTailLines lines of the log.
func (p *process) logTail() string {
	lines := strings.SplitAfter(p.log(), "\n")
	if len(lines) <= logTailLines {
		return strings.Join(lines, "")
	}
	return fmt.Sprintf("(%d earlier lines left out)\n%s", len(lines)-logTailLines, strings.Join(lines[len(lines)-logTailLines:], ""))
}

// waitLog waits until the log contains text, failing the test if the
// process exits or startTimeout passes first.
func (p *process) waitLog(text string) {
	p.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for !strings.Contains(p.log(), text) {
		if p.hasExited() && !strings.Contains(p.log(), text) {
			p.t.Fatalf("server exited without logging %q", text)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("server did not log %q within %v", text, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runToExit runs keyvault serve, expecting it to exit by itself, and returns
// its exit code and output.
func runToExit(t *testing.T, dir, port string, args, env []string) (int, string) {
	t.Helper()
	p := startProcess(t, dir, port, args, env)
	code := p.waitExit()
	return code, p.log()
}

// readCredentials parses credentials.json in dir.
func readCredentials(t *testing.T, dir string) server.CredentialsJSON {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, server.CredentialsFile))
	if err != nil {
		t.Fatalf("read credentials: %v", err)
	}
	var c server.CredentialsJSON
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("parse credentials.json %s: %v", raw, err)
	}
	return c
}

// randomText returns n random letters and digits.
func randomText(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// forEach calls fn for every index below n on the given number of
// goroutines and returns the errors, each prefixed with its index.
func forEach(n, workers int, fn func(i int) error) []error {
	var (
		mu   sync.Mutex
		errs []error
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("#%d: %w", i, err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errs
}

// reportErrors fails the test with the count of errs and the first few.
func reportErrors(t *testing.T, step string, total int, errs []error) {
	t.Helper()
	if len(errs) == 0 {
		return
	}
	first := errs[:min(len(errs), 5)]
	t.Errorf("%s: %d of %d failed; first: %v", step, len(errs), total, errors.Join(first...))
}

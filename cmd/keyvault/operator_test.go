package main

import (
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyvault/keyvault/internal/pki"
)

// TestOperatorUnsealSealedServer starts the binary with --seal passphrase and
// no passphrase, so it starts sealed, then unseals it with keyvault operator
// unseal reading the passphrase from standard input.
func TestOperatorUnsealSealedServer(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	p := startProcess(t, dir, port, []string{"--seal", "passphrase"}, nil)
	p.waitHealthy()
	if p.ready() {
		t.Fatal("GET /readyz = 200 while sealed, want 503")
	}

	unseal := func(passphrase string) (string, error) {
		cmd := exec.Command(binPath, "operator", "unseal", "--server", "https://127.0.0.1:"+port,
			"--ca-file", filepath.Join(dir, pki.CAFile))
		cmd.Env = childEnv()
		cmd.Stdin = strings.NewReader(passphrase + "\n")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := unseal("short")
	if err == nil || !strings.Contains(out, "at least 12 bytes") {
		t.Errorf("unseal with a 5-byte passphrase: %v, output %q, want a failure naming the 12-byte minimum", err, out)
	}
	out, err = unseal("a long enough passphrase")
	if err != nil || strings.TrimSpace(out) != "unsealed" {
		t.Fatalf("unseal: %v, output %q, want \"unsealed\"", err, out)
	}
	p.waitReady()
	p.stop()

	// With KEYVAULT_PASSPHRASE the next start is unsealed at once.
	q := startProcess(t, dir, port, []string{"--seal", "passphrase"}, []string{"KEYVAULT_PASSPHRASE=a long enough passphrase"})
	q.waitReady()
	q.stop()
}

// waitHealthy polls GET /healthz until it returns 200, which a sealed
// server does while /readyz returns 503.
func (p *process) waitHealthy() {
	p.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for !p.healthy() {
		if p.hasExited() {
			p.t.Fatalf("server exited before it was healthy: %v", p.waitErr)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("server not healthy after %v", startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *process) healthy() bool {
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
	resp, err := client.Get("https://localhost:" + p.port + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

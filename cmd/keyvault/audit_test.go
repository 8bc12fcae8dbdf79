package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyvault/keyvault/internal/audit"
	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/server"
)

// auditTestLog runs a server with small audit files on dataDir, sends 24
// requests, enough to rotate the log at least twice, and stops the server,
// so the audit files end with a signed checkpoint.
func auditTestLog(t *testing.T, dataDir string) []string {
	t.Helper()
	t.Run("server", func(t *testing.T) {
		in := kvtest.Start(t, kvtest.Options{DataDir: dataDir, Configure: func(c *server.Config) {
			c.AuditMaxFileBytes = 4096
		}})
		token := in.Token(t)
		base := in.VaultURL("default")
		for i := range 12 {
			url := fmt.Sprintf("%s/secrets/audit-%d?api-version=7.5", base, i)
			if r := in.Do(t, http.MethodPut, url, token, `{"value":"v"}`); r.Status != http.StatusOK {
				t.Fatalf("set secret %d: %v", i, r)
			}
			if r := in.Do(t, http.MethodGet, url, token, ""); r.Status != http.StatusOK {
				t.Fatalf("get secret %d: %v", i, r)
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	files, err := audit.Files(filepath.Join(dataDir, "audit"))
	if err != nil {
		t.Fatalf("list audit files: %v", err)
	}
	if len(files) < 3 {
		t.Fatalf("the server wrote %d audit files, want at least 3 to test rotation", len(files))
	}
	return files
}

// auditCopy copies files to a new directory and returns the copies, in
// the same order.
func auditCopy(t *testing.T, files []string) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			t.Fatal(err)
		}
		out = append(out, dst)
	}
	return out
}

func TestAuditVerifyCommand(t *testing.T) {
	dataDir := t.TempDir()
	files := auditTestLog(t, dataDir)
	keyFile := filepath.Join(dataDir, server.AuditKeyFile)

	t.Run("data directory", func(t *testing.T) {
		out, err := execute("audit", "verify", "--data-dir", dataDir)
		if err != nil {
			t.Fatalf("audit verify: %v", err)
		}
		// 12 sets and 12 gets, plus the token request.
		want := fmt.Sprintf("ok: 25 records and %d signed checkpoints in %d files; last record", len(files), len(files))
		if !strings.HasPrefix(out, want) {
			t.Errorf("output = %q, want prefix %q", out, want)
		}
		if strings.Contains(out, "note:") {
			t.Errorf("output = %q, want no note about unsigned records after a clean shutdown", out)
		}
	})

	t.Run("audit directory", func(t *testing.T) {
		moved := filepath.Join(t.TempDir(), "elsewhere")
		if err := os.Rename(filepath.Join(dataDir, "audit"), moved); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.Rename(moved, filepath.Join(dataDir, "audit")); err != nil {
				t.Fatal(err)
			}
		}()
		out, err := execute("audit", "verify", "--data-dir", dataDir, "--audit-dir", moved)
		if err != nil {
			t.Fatalf("audit verify --audit-dir: %v", err)
		}
		if !strings.HasPrefix(out, "ok: 25 records") {
			t.Errorf("output = %q, want it to start with ok: 25 records", out)
		}
	})

	t.Run("file arguments", func(t *testing.T) {
		args := append([]string{"audit", "verify", "--key", keyFile}, files...)
		out, err := execute(args...)
		if err != nil {
			t.Fatalf("audit verify FILE...: %v", err)
		}
		if !strings.HasPrefix(out, "ok: 25 records") {
			t.Errorf("output = %q, want it to start with ok: 25 records", out)
		}
	})

	t.Run("unsigned tail", func(t *testing.T) {
		copies := auditCopy(t, files)
		last := copies[len(copies)-1]
		data, err := os.ReadFile(last)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.SplitAfter(data, []byte("\n"))
		// Drop the final checkpoint (the last element is empty).
		if err := os.WriteFile(last, bytes.Join(lines[:len(lines)-2], nil), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := execute(append([]string{"audit", "verify", "--key", keyFile}, copies...)...)
		if err != nil {
			t.Fatalf("audit verify: %v", err)
		}
		if !strings.Contains(out, "note: the last") {
			t.Errorf("output = %q, want a note about the records after the last checkpoint", out)
		}
	})

	t.Run("tampered record", func(t *testing.T) {
		copies := auditCopy(t, files)
		target := copies[1]
		data, err := os.ReadFile(target)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(data, []byte("\n"))
		var rec audit.Record
		if err := json.Unmarshal(lines[1], &rec); err != nil {
			t.Fatal(err)
		}
		tampered := bytes.Replace(lines[1], []byte(`"httpStatusCode":200`), []byte(`"httpStatusCode":403`), 1)
		if bytes.Equal(tampered, lines[1]) {
			t.Fatalf("line 2 of %s has no status 200 to change: %s", target, lines[1])
		}
		lines[1] = tampered
		if err := os.WriteFile(target, bytes.Join(lines, []byte("\n")), 0o600); err != nil {
			t.Fatal(err)
		}

		out, err := execute(append([]string{"audit", "verify", "--key", keyFile}, copies...)...)
		if err == nil {
			t.Fatalf("audit verify of a tampered file: nil error, output %q", out)
		}
		want := fmt.Sprintf("%s:2: record %d: ", target, rec.Seq)
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "changed") {
			t.Errorf("error = %q, want it to contain %q and say the record was changed", err, want)
		}
		if strings.HasPrefix(out, "ok") {
			t.Errorf("output = %q, want no ok line", out)
		}
	})

	t.Run("another key", func(t *testing.T) {
		other := t.TempDir()
		kvtest.Start(t, kvtest.Options{DataDir: other})
		_, err := execute(append([]string{"audit", "verify", "--key", filepath.Join(other, server.AuditKeyFile)}, files...)...)
		if err == nil || !strings.Contains(err.Error(), "checkpoint signature is not valid") {
			t.Errorf("audit verify with another server's key: %v, want an invalid checkpoint signature", err)
		}
	})

	// This case changes the log of dataDir, so it runs after the cases that
	// read it.
	t.Run("repaired torn record", func(t *testing.T) {
		current := files[len(files)-1]
		f, err := os.OpenFile(current, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString(`{"time":"2026-01-02T03:04:05.0000000Z","operationName":"Secr`); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		t.Run("restart", func(t *testing.T) {
			kvtest.Start(t, kvtest.Options{DataDir: dataDir})
		})

		out, err := execute("audit", "verify", "--data-dir", dataDir)
		if err != nil {
			t.Fatalf("audit verify after the repair: %v", err)
		}
		// The 25 records of the first run and the AuditRepair record, in
		// the same files as before.
		want := fmt.Sprintf("ok: 26 records and %d signed checkpoints in %d files;", len(files)+2, len(files))
		if !strings.HasPrefix(out, want) {
			t.Errorf("output = %q, want prefix %q", out, want)
		}
		quarantined, err := filepath.Glob(filepath.Join(dataDir, "audit", "audit-torn-*.partial"))
		if err != nil || len(quarantined) != 1 {
			t.Errorf("quarantine files %v (%v), want 1", quarantined, err)
		}
	})

	t.Run("no audit files", func(t *testing.T) {
		empty := t.TempDir()
		key, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(empty, server.AuditKeyFile), key, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = execute("audit", "verify", "--data-dir", empty)
		if err == nil || !strings.Contains(err.Error(), "no audit files") {
			t.Errorf("audit verify without audit files: %v, want an error naming the missing files", err)
		}
	})
}

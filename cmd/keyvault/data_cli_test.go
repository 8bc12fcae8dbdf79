package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/server"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite cmd/keyvault/testdata/golden/*.json from the output of the data-plane CLI tests")

// dataCLI runs keyvault commands in-process through run, as the binary
// does, against one test server.
type dataCLI struct {
	in    *kvtest.Instance
	creds string // the server's credentials.json
}

// cmdResult is what one command printed and its exit status.
type cmdResult struct {
	stdout string
	stderr string
	code   int
}

// newDataCLI starts a server, clears the environment variables that
// choose a server or an identity, and points the user config directory at
// a new directory, so that no saved profile applies.
func newDataCLI(t *testing.T) *dataCLI {
	t.Helper()
	clearClientEnv(t)
	isolateConfig(t)
	in := kvtest.Start(t, kvtest.Options{})
	return &dataCLI{in: in, creds: filepath.Join(in.DataDir, server.CredentialsFile)}
}

// isolateConfig points HOME and XDG_CONFIG_HOME at a new directory and
// returns the profiles file that os.UserConfigDir then names.
func isolateConfig(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "config"))
	return filepath.Join(home, "config", "keyvault", "profiles.json")
}

// runCLI runs the command line args as main does.
func runCLI(ctx context.Context, args ...string) cmdResult {
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return cmdResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// exec runs a command with --credentials of the test server.
func (c *dataCLI) exec(args ...string) cmdResult {
	return c.execContext(context.Background(), args...)
}

func (c *dataCLI) execContext(ctx context.Context, args ...string) cmdResult {
	return runCLI(ctx, append(slices.Clone(args), "--credentials", c.creds)...)
}

// must runs a command that must exit 0 and returns its output.
func (c *dataCLI) must(t *testing.T, args ...string) string {
	t.Helper()
	r := c.exec(args...)
	if r.code != exitOK {
		t.Fatalf("keyvault %s: exit status %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// mustJSON runs a command that must exit 0 and decodes its output into v.
func (c *dataCLI) mustJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := c.must(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("keyvault %s: decode output %q: %v", strings.Join(args, " "), out, err)
	}
}

// object runs a command that must exit 0 and returns its JSON object.
func (c *dataCLI) object(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var v map[string]any
	c.mustJSON(t, &v, args...)
	return v
}

// wantExit runs a command that must exit with code and print the error
// text on stderr.
func (c *dataCLI) wantExit(t *testing.T, code int, text string, args ...string) cmdResult {
	t.Helper()
	r := c.exec(args...)
	if r.code != code {
		t.Fatalf("keyvault %s: exit status %d (stderr %q), want %d", strings.Join(args, " "), r.code, r.stderr, code)
	}
	if !strings.Contains(r.stderr, text) {
		t.Errorf("keyvault %s: stderr %q, want it to contain %q", strings.Join(args, " "), r.stderr, text)
	}
	return r
}

// vaultArgs inserts --vault-name vault after the command words of args
// (the words before the first flag).
func vaultArgs(vault string, args ...string) []string {
	i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") })
	if i < 0 {
		i = len(args)
	}
	out := append(slices.Clone(args[:i]), "--vault-name", vault)
	return append(out, args[i:]...)
}

// field returns the value at a dotted path of a decoded JSON object.
func field(v any, path string) any {
	return lookupPath(v, path)
}

// wantField checks the value at a dotted path.
func wantField(t *testing.T, v any, path string, want any) {
	t.Helper()
	if got := field(v, path); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", path, got, want)
	}
}

// Output normalization for golden files: vault URLs lose their port,
// object versions and server-set times become placeholders.
var (
	portPattern    = regexp.MustCompile(`(\.vault\.localhost):\d+`)
	versionPattern = regexp.MustCompile(`/[0-9a-f]{32}\b`)
	serverTimeKeys = []string{"created", "updated", "deletedDate", "scheduledPurgeDate"}
)

func normalize(v any, volatile []string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			switch {
			case item != nil && slices.Contains(serverTimeKeys, k):
				out[k] = "TIME"
			case item != nil && slices.Contains(volatile, k):
				out[k] = "<" + k + ">"
			default:
				out[k] = normalize(item, volatile)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = normalize(item, volatile)
		}
		return out
	case string:
		return versionPattern.ReplaceAllString(portPattern.ReplaceAllString(v, "$1:PORT"), "/VERSION")
	}
	return v
}

// checkGolden compares the JSON output of a command with
// testdata/golden/NAME.json after normalizing it; the values of the
// volatile keys (random key material, thumbprints) become "<key>".
func checkGolden(t *testing.T, name, output string, volatile ...string) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(output), &v); err != nil {
		t.Fatalf("golden %s: decode output %q: %v", name, output, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(normalize(v, volatile)); err != nil {
		t.Fatalf("golden %s: %v", name, err)
	}
	got := buf.String()

	path := filepath.Join("testdata", "golden", name+".json")
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update-golden to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// listedNames returns the name field of every item of a list output.
func listedNames(t *testing.T, c *dataCLI, args ...string) []string {
	t.Helper()
	var list []map[string]any
	c.mustJSON(t, &list, args...)
	names := make([]string, len(list))
	for i, item := range list {
		names[i], _ = item["name"].(string)
	}
	sort.Strings(names)
	return names
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return raw
}

func TestDataCLISecrets(t *testing.T) {
	c := newDataCLI(t)
	dir := t.TempDir()

	var firstID string
	t.Run("set and show", func(t *testing.T) {
		out := c.must(t, vaultArgs("default", "secret", "set", "--name", "db-password", "--value", "s3cret,with comma",
			"--content-type", "text/plain", "--tags", "env=test", "owner=ops",
			"--expires", "2030-01-02T03:04:05Z", "--not-before", "2026-01-01")...)
		checkGolden(t, "secret_set", out)
		set := map[string]any{}
		if err := json.Unmarshal([]byte(out), &set); err != nil {
			t.Fatal(err)
		}
		firstID, _ = set["id"].(string)
		wantField(t, set, "attributes.expires", "2030-01-02T03:04:05+00:00")
		wantField(t, set, "attributes.notBefore", "2026-01-01T00:00:00+00:00")
		wantField(t, set, "tags.file-encoding", "utf-8")

		show := c.must(t, vaultArgs("default", "secret", "show", "-n", "db-password")...)
		checkGolden(t, "secret_show", show)
		byID := c.object(t, "secret", "show", "--id", firstID)
		wantField(t, byID, "value", "s3cret,with comma")
	})

	t.Run("versions", func(t *testing.T) {
		c.must(t, vaultArgs("default", "secret", "set", "-n", "db-password", "--value", "second")...)
		wantField(t, c.object(t, vaultArgs("default", "secret", "show", "-n", "db-password")...), "value", "second")
		version := firstID[strings.LastIndex(firstID, "/")+1:]
		old := c.object(t, vaultArgs("default", "secret", "show", "-n", "db-password", "--version", version)...)
		wantField(t, old, "value", "s3cret,with comma")
		var versions []map[string]any
		c.mustJSON(t, &versions, vaultArgs("default", "secret", "list-versions", "-n", "db-password")...)
		if len(versions) != 2 {
			t.Fatalf("list-versions = %d versions, want 2", len(versions))
		}
		for _, item := range versions {
			if _, ok := item["value"]; ok {
				t.Errorf("list-versions item has a value: %v", item)
			}
		}
		checkGolden(t, "secret_list", c.must(t, vaultArgs("default", "secret", "list")...))
	})

	t.Run("set-attributes", func(t *testing.T) {
		out := c.object(t, vaultArgs("default", "secret", "set-attributes", "-n", "db-password", "--enabled", "false",
			"--tags", "stage=prod", "--content-type", "application/json")...)
		wantField(t, out, "attributes.enabled", false)
		wantField(t, out, "contentType", "application/json")
		wantField(t, out, "tags", map[string]any{"stage": "prod"})
		if out["value"] != nil {
			t.Errorf("set-attributes value = %v, want null", out["value"])
		}
		r := c.wantExit(t, exitFailed, "Forbidden", vaultArgs("default", "secret", "show", "-n", "db-password")...)
		if !strings.Contains(r.stderr, "disabled") {
			t.Errorf("show of a disabled secret: stderr %q, want it to say the secret is disabled", r.stderr)
		}
		c.must(t, vaultArgs("default", "secret", "set-attributes", "-n", "db-password", "--enabled", "true")...)
		wantField(t, c.object(t, vaultArgs("default", "secret", "show", "-n", "db-password")...), "value", "second")
	})

	t.Run("file encodings", func(t *testing.T) {
		blob := make([]byte, 300)
		if _, err := rand.Read(blob); err != nil {
			t.Fatal(err)
		}
		src := writeFile(t, filepath.Join(dir, "blob.bin"), blob)
		for _, enc := range []string{"base64", "hex"} {
			name := "blob-" + enc
			out := c.object(t, vaultArgs("default", "secret", "set", "-n", name, "--file", src, "--encoding", enc)...)
			wantField(t, out, "tags.file-encoding", enc)
			dst := filepath.Join(dir, name+".out")
			c.must(t, vaultArgs("default", "secret", "download", "-n", name, "--file", dst)...)
			if got := readFile(t, dst); !bytes.Equal(got, blob) {
				t.Errorf("download of %s = %d bytes, want the %d bytes uploaded", name, len(got), len(blob))
			}
			info, err := os.Stat(dst)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Errorf("downloaded file mode = %v (%v), want 0600", info.Mode().Perm(), err)
			}
		}
		raw := filepath.Join(dir, "blob-base64.raw")
		c.must(t, vaultArgs("default", "secret", "download", "-n", "blob-base64", "--file", raw, "--encoding", "utf-8")...)
		if got := string(readFile(t, raw)); got != base64.StdEncoding.EncodeToString(blob) {
			t.Errorf("download with --encoding utf-8 = %q, want the stored base64 text", got)
		}
		c.wantExit(t, exitFailed, "already exists", vaultArgs("default", "secret", "download", "-n", "blob-hex", "--file", raw)...)
		c.wantExit(t, exitFailed, "not UTF-8", vaultArgs("default", "secret", "set", "-n", "bad-text", "--file", src)...)
	})

	t.Run("delete recover purge", func(t *testing.T) {
		c.must(t, vaultArgs("default", "secret", "set", "-n", "temp", "--value", "t1")...)
		backup := filepath.Join(dir, "temp.backup")
		c.must(t, vaultArgs("default", "secret", "backup", "-n", "temp", "--file", backup)...)
		if len(readFile(t, backup)) == 0 {
			t.Fatal("backup file is empty")
		}
		checkGolden(t, "secret_delete", c.must(t, vaultArgs("default", "secret", "delete", "-n", "temp")...))
		c.wantExit(t, exitFailed, "SecretNotFound: ", vaultArgs("default", "secret", "show", "-n", "temp")...)
		if names := listedNames(t, c, vaultArgs("default", "secret", "list-deleted")...); !slices.Contains(names, "temp") {
			t.Errorf("list-deleted = %v, want temp", names)
		}
		deleted := c.object(t, vaultArgs("default", "secret", "show-deleted", "-n", "temp")...)
		recoveryID, _ := deleted["recoveryId"].(string)
		if !strings.Contains(recoveryID, "/deletedsecrets/temp") {
			t.Errorf("recoveryId = %q, want a deletedsecrets URL", recoveryID)
		}
		checkGolden(t, "secret_recover", c.must(t, "secret", "recover", "--id", recoveryID))
		wantField(t, c.object(t, vaultArgs("default", "secret", "show", "-n", "temp")...), "value", "t1")

		c.must(t, vaultArgs("default", "secret", "delete", "-n", "temp", "-o", "none")...)
		if out := c.must(t, vaultArgs("default", "secret", "purge", "-n", "temp")...); out != "" {
			t.Errorf("purge printed %q, want nothing", out)
		}
		c.wantExit(t, exitFailed, "SecretNotFound: ", vaultArgs("default", "secret", "show-deleted", "-n", "temp")...)
		restored := c.object(t, vaultArgs("default", "secret", "restore", "--file", backup)...)
		wantField(t, restored, "name", "temp")
		wantField(t, c.object(t, vaultArgs("default", "secret", "show", "-n", "temp")...), "value", "t1")
	})

	t.Run("managed secrets hidden", func(t *testing.T) {
		c.must(t, vaultArgs("default", "certificate", "create", "-n", "web-cert", "--policy", "@default", "-o", "none")...)
		if names := listedNames(t, c, vaultArgs("default", "secret", "list")...); slices.Contains(names, "web-cert") {
			t.Errorf("secret list = %v, want the certificate's secret left out", names)
		}
		var list []map[string]any
		c.mustJSON(t, &list, vaultArgs("default", "secret", "list", "--include-managed")...)
		found := false
		for _, item := range list {
			if item["name"] == "web-cert" {
				found = true
				wantField(t, item, "managed", true)
			}
		}
		if !found {
			t.Errorf("secret list --include-managed has no web-cert: %v", list)
		}
		if names := listedNames(t, c, vaultArgs("default", "secret", "list", "--maxresults", "2")...); len(names) != 2 {
			t.Errorf("secret list --maxresults 2 = %v, want 2 items", names)
		}
	})
}

// digestB64 returns the base64 SHA-256 digest of data.
func digestB64(data string) string {
	sum := sha256.Sum256([]byte(data))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestDataCLIKeys(t *testing.T) {
	c := newDataCLI(t)
	dir := t.TempDir()

	t.Run("create", func(t *testing.T) {
		out := c.must(t, vaultArgs("default", "key", "create", "-n", "rsa-key", "--tags", "team=pay")...)
		checkGolden(t, "key_create", out, "n")
		ec := c.object(t, vaultArgs("default", "key", "create", "-n", "ec-key", "--curve", "P-256", "--ops", "sign", "verify")...)
		wantField(t, ec, "key.kty", "EC")
		wantField(t, ec, "key.crv", "P-256")
		wantField(t, ec, "key.keyOps", []any{"sign", "verify"})
		// --protection hsm requests RSA-HSM, which a standard vault rejects.
		c.must(t, "vault", "create", "--name", "standard-vault", "--sku", "standard", "-o", "none")
		c.wantExit(t, exitFailed, "RSA-HSM", vaultArgs("standard-vault", "key", "create", "-n", "hsm-key", "--protection", "hsm")...)
	})

	t.Run("sign and verify", func(t *testing.T) {
		for _, tt := range []struct{ key, alg string }{{"rsa-key", "RS256"}, {"rsa-key", "PS256"}, {"ec-key", "ES256"}} {
			digest := digestB64("message for " + tt.alg)
			signed := c.object(t, vaultArgs("default", "key", "sign", "-n", tt.key, "--algorithm", tt.alg, "--value", digest)...)
			signature, _ := signed["signature"].(string)
			if _, err := base64.StdEncoding.DecodeString(signature); err != nil || signature == "" {
				t.Fatalf("%s signature %q is not base64: %v", tt.alg, signature, err)
			}
			ok := c.object(t, vaultArgs("default", "key", "verify", "-n", tt.key, "--algorithm", tt.alg, "--digest", digest, "--value", signature)...)
			wantField(t, ok, "isValid", true)
			other := digestB64("another message")
			bad := c.object(t, vaultArgs("default", "key", "verify", "-n", tt.key, "--algorithm", tt.alg, "--digest", other, "--signature", signature)...)
			wantField(t, bad, "isValid", false)
		}
	})

	t.Run("encrypt decrypt wrap unwrap", func(t *testing.T) {
		enc := c.object(t, vaultArgs("default", "key", "encrypt", "-n", "rsa-key", "-a", "RSA-OAEP-256", "--value", "top secret", "--data-type", "plaintext")...)
		ciphertext, _ := enc["result"].(string)
		wantField(t, enc, "algorithm", "RSA-OAEP-256")
		dec := c.object(t, vaultArgs("default", "key", "decrypt", "-n", "rsa-key", "-a", "RSA-OAEP-256", "--value", ciphertext, "--data-type", "plaintext")...)
		wantField(t, dec, "result", "top secret")

		aesKey := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
		wrapped := c.object(t, vaultArgs("default", "key", "wrap", "-n", "rsa-key", "-a", "RSA-OAEP", "--value", aesKey)...)
		unwrapped := c.object(t, vaultArgs("default", "key", "unwrap", "-n", "rsa-key", "-a", "RSA-OAEP", "--value", wrapped["result"].(string))...)
		wantField(t, unwrapped, "result", aesKey)
	})

	t.Run("random", func(t *testing.T) {
		out := c.object(t, vaultArgs("default", "key", "random", "--count", "32")...)
		raw, err := base64.StdEncoding.DecodeString(out["value"].(string))
		if err != nil || len(raw) != 32 {
			t.Errorf("random --count 32 = %v (%d bytes, %v), want 32 bytes", out["value"], len(raw), err)
		}
	})

	t.Run("rotate and rotation policy", func(t *testing.T) {
		c.must(t, vaultArgs("default", "key", "rotate", "-n", "rsa-key", "-o", "none")...)
		var versions []map[string]any
		c.mustJSON(t, &versions, vaultArgs("default", "key", "list-versions", "-n", "rsa-key")...)
		if len(versions) != 2 {
			t.Errorf("list-versions after rotate = %d, want 2", len(versions))
		}
		policy := writeFile(t, filepath.Join(dir, "policy.json"), []byte(`{
  "lifetimeActions": [
    {"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "Rotate"}},
    {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}
  ],
  "attributes": {"expiryTime": "P2Y"}
}`))
		checkGolden(t, "key_rotation_policy", c.must(t, vaultArgs("default", "key", "rotation-policy", "update", "-n", "rsa-key", "--value", policy)...))
		checkGolden(t, "key_rotation_policy", c.must(t, vaultArgs("default", "key", "rotation-policy", "show", "-n", "rsa-key")...))

		flat := writeFile(t, filepath.Join(dir, "flat.json"), []byte(`{"lifetimeActions": [{"action": "Rotate", "timeBeforeExpiry": "P10D"}], "attributes": {"expiresIn": "P1Y"}}`))
		out := c.object(t, vaultArgs("default", "key", "rotation-policy", "update", "-n", "rsa-key", "--value", flat)...)
		wantField(t, out, "attributes.expiresIn", "P1Y")
		wantField(t, out, "lifetimeActions", []any{map[string]any{"action": "Rotate", "timeAfterCreate": nil, "timeBeforeExpiry": "P10D"}})
	})

	t.Run("import", func(t *testing.T) {
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
		if err != nil {
			t.Fatal(err)
		}
		pemFile := writeFile(t, filepath.Join(dir, "rsa.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		imported := c.object(t, vaultArgs("default", "key", "import", "-n", "imported-rsa", "--pem-file", pemFile)...)
		wantField(t, imported, "key.n", base64.StdEncoding.EncodeToString(rsaKey.N.Bytes()))
		wantField(t, imported, "key.d", nil)

		ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		b64 := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.FillBytes(make([]byte, 48))) }
		jwk := fmt.Sprintf(`{"kty":"EC","crv":"P-384","x":%q,"y":%q,"d":%q}`, b64(ecKey.X), b64(ecKey.Y), b64(ecKey.D))
		jwkFile := writeFile(t, filepath.Join(dir, "ec.json"), []byte(jwk))
		out := c.object(t, vaultArgs("default", "key", "import", "-n", "imported-ec", "--jwk-file", jwkFile, "--ops", "sign", "verify")...)
		wantField(t, out, "key.x", base64.StdEncoding.EncodeToString(ecKey.X.FillBytes(make([]byte, 48))))
		wantField(t, out, "key.crv", "P-384")

		// The imported private key signs; the local public key verifies.
		sum := sha512.Sum384([]byte("imported"))
		signed := c.object(t, vaultArgs("default", "key", "sign", "-n", "imported-ec", "-a", "ES384", "--digest", base64.StdEncoding.EncodeToString(sum[:]))...)
		sig, _ := base64.StdEncoding.DecodeString(signed["signature"].(string))
		r, s := new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])
		if !ecdsa.Verify(&ecKey.PublicKey, sum[:], r, s) {
			t.Error("signature of the imported EC key does not verify with the local public key")
		}
	})

	t.Run("set-attributes", func(t *testing.T) {
		out := c.object(t, vaultArgs("default", "key", "set-attributes", "-n", "ec-key", "--ops", "verify", "--expires", "2031-05-06", "--tags", "a=1")...)
		wantField(t, out, "key.keyOps", []any{"verify"})
		wantField(t, out, "attributes.expires", "2031-05-06T00:00:00+00:00")
		wantField(t, out, "tags", map[string]any{"a": "1"})
		c.wantExit(t, exitFailed, "", vaultArgs("default", "key", "sign", "-n", "ec-key", "-a", "ES256", "--value", digestB64("x"))...)
	})

	t.Run("delete recover purge", func(t *testing.T) {
		backup := filepath.Join(dir, "ec.backup")
		c.must(t, vaultArgs("default", "key", "backup", "-n", "ec-key", "--file", backup)...)
		checkGolden(t, "key_delete", c.must(t, vaultArgs("default", "key", "delete", "-n", "ec-key")...), "x", "y")
		if names := listedNames(t, c, vaultArgs("default", "key", "list-deleted")...); !slices.Contains(names, "ec-key") {
			t.Errorf("key list-deleted = %v, want ec-key", names)
		}
		recovered := c.object(t, vaultArgs("default", "key", "recover", "-n", "ec-key")...)
		wantField(t, recovered, "key.crv", "P-256")
		c.must(t, vaultArgs("default", "key", "delete", "-n", "ec-key", "-o", "none")...)
		c.must(t, vaultArgs("default", "key", "purge", "-n", "ec-key")...)
		c.wantExit(t, exitFailed, "KeyNotFound: ", vaultArgs("default", "key", "show", "-n", "ec-key")...)
		restored := c.object(t, vaultArgs("default", "key", "restore", "--file", backup)...)
		wantField(t, restored, "key.kty", "EC")
	})

	t.Run("list", func(t *testing.T) {
		c.must(t, vaultArgs("default", "certificate", "create", "-n", "tls-cert", "--policy", "@default", "-o", "none")...)
		names := listedNames(t, c, vaultArgs("default", "key", "list")...)
		if want := []string{"ec-key", "imported-ec", "imported-rsa", "rsa-key"}; !slices.Equal(names, want) {
			t.Errorf("key list = %v, want %v", names, want)
		}
		if names := listedNames(t, c, vaultArgs("default", "key", "list", "--include-managed")...); !slices.Contains(names, "tls-cert") {
			t.Errorf("key list --include-managed = %v, want tls-cert", names)
		}
	})
}

// newTestCA returns a self-signed CA certificate and its key.
func newTestCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "merge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestDataCLICertificates(t *testing.T) {
	c := newDataCLI(t)
	dir := t.TempDir()
	certTimes := []string{"expires", "notBefore", "cer", "x509Thumbprint", "x509ThumbprintHex", "requestId"}

	t.Run("default policy and create", func(t *testing.T) {
		checkGolden(t, "certificate_default_policy", c.must(t, "certificate", "get-default-policy"))
		checkGolden(t, "certificate_create", c.must(t, vaultArgs("default", "certificate", "create", "-n", "site", "--policy", "@default")...), certTimes...)
		checkGolden(t, "certificate_show", c.must(t, vaultArgs("default", "certificate", "show", "-n", "site")...), certTimes...)
		if names := listedNames(t, c, vaultArgs("default", "certificate", "list")...); !slices.Equal(names, []string{"site"}) {
			t.Errorf("certificate list = %v, want [site]", names)
		}
	})

	t.Run("download", func(t *testing.T) {
		site := c.object(t, vaultArgs("default", "certificate", "show", "-n", "site")...)
		pemPath := filepath.Join(dir, "site.pem")
		derPath := filepath.Join(dir, "site.cer")
		c.must(t, vaultArgs("default", "certificate", "download", "-n", "site", "--file", pemPath)...)
		c.must(t, vaultArgs("default", "certificate", "download", "-n", "site", "--file", derPath, "--encoding", "DER")...)
		block, _ := pem.Decode(readFile(t, pemPath))
		if block == nil || block.Type != "CERTIFICATE" {
			t.Fatalf("download --encoding PEM wrote no CERTIFICATE block")
		}
		der := readFile(t, derPath)
		if !bytes.Equal(block.Bytes, der) {
			t.Error("the PEM and DER downloads hold different certificates")
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("parse downloaded certificate: %v", err)
		}
		if cert.Subject.CommonName != "CLIGetDefaultPolicy" {
			t.Errorf("subject CN = %q, want CLIGetDefaultPolicy", cert.Subject.CommonName)
		}
		sum := sha1.Sum(der)
		wantField(t, site, "x509ThumbprintHex", strings.ToUpper(hex.EncodeToString(sum[:])))
		c.wantExit(t, exitUsage, "invalid --encoding", vaultArgs("default", "certificate", "download", "-n", "site", "--file", filepath.Join(dir, "x"), "--encoding", "P7B")...)
	})

	t.Run("pending merge", func(t *testing.T) {
		policy := writeFile(t, filepath.Join(dir, "unknown.json"), []byte(`{
  "issuerParameters": {"name": "Unknown"},
  "keyProperties": {"keyType": "RSA", "keySize": 2048, "exportable": true, "reuseKey": false},
  "secretProperties": {"contentType": "application/x-pem-file"},
  "x509CertificateProperties": {"subject": "CN=pending.example", "validityInMonths": 6}
}`))
		op := c.object(t, vaultArgs("default", "certificate", "create", "-n", "ext", "--policy", policy)...)
		wantField(t, op, "status", "inProgress")
		wantField(t, op, "issuerParameters.name", "Unknown")
		checkGolden(t, "certificate_pending", c.must(t, vaultArgs("default", "certificate", "pending", "show", "-n", "ext")...), "csr", "requestId")

		csrDER, err := base64.StdEncoding.DecodeString(op["csr"].(string))
		if err != nil {
			t.Fatalf("csr is not base64: %v", err)
		}
		csr, err := x509.ParseCertificateRequest(csrDER)
		if err != nil {
			t.Fatalf("parse CSR: %v", err)
		}
		if csr.Subject.CommonName != "pending.example" {
			t.Errorf("CSR subject CN = %q, want pending.example", csr.Subject.CommonName)
		}
		caCert, caKey := newTestCA(t)
		leafTemplate := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: csr.Subject,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour)}
		leafDER, err := x509.CreateCertificate(rand.Reader, leafTemplate, caCert, csr.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
			pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})...)
		merged := c.object(t, vaultArgs("default", "certificate", "pending", "merge", "-n", "ext", "--file", writeFile(t, filepath.Join(dir, "chain.pem"), chain))...)
		sum := sha1.Sum(leafDER)
		wantField(t, merged, "x509ThumbprintHex", strings.ToUpper(hex.EncodeToString(sum[:])))
		wantField(t, merged, "policy.issuerParameters.name", "Unknown")

		c.must(t, vaultArgs("default", "certificate", "create", "-n", "abandoned", "--policy", policy, "-o", "none")...)
		deleted := c.object(t, vaultArgs("default", "certificate", "pending", "delete", "-n", "abandoned")...)
		wantField(t, deleted, "status", "inProgress")
		c.wantExit(t, exitFailed, "NotFound", vaultArgs("default", "certificate", "pending", "show", "-n", "abandoned")...)
	})

	t.Run("import", func(t *testing.T) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		template := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "imported.example"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		pfx, err := pkcs12.Modern.Encode(key, cert, nil, "pfx-password")
		if err != nil {
			t.Fatal(err)
		}
		pfxFile := writeFile(t, filepath.Join(dir, "imported.pfx"), pfx)
		out := c.object(t, vaultArgs("default", "certificate", "import", "-n", "from-pfx", "--file", pfxFile, "--password", "pfx-password")...)
		sum := sha1.Sum(der)
		wantField(t, out, "x509ThumbprintHex", strings.ToUpper(hex.EncodeToString(sum[:])))
		wantField(t, out, "contentType", "application/x-pkcs12")

		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		pemText := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
		out = c.object(t, vaultArgs("default", "certificate", "import", "-n", "from-pem", "--file", writeFile(t, filepath.Join(dir, "imported.pem"), pemText))...)
		wantField(t, out, "contentType", "application/x-pem-file")
		c.wantExit(t, exitFailed, "", vaultArgs("default", "certificate", "import", "-n", "bad-password", "--file", pfxFile, "--password", "wrong")...)
	})

	t.Run("delete recover purge", func(t *testing.T) {
		deleted := c.object(t, vaultArgs("default", "certificate", "delete", "-n", "from-pem")...)
		if id, _ := deleted["recoveryId"].(string); !strings.Contains(id, "/deletedcertificates/from-pem") {
			t.Errorf("recoveryId = %q, want a deletedcertificates URL", id)
		}
		wantField(t, c.object(t, vaultArgs("default", "certificate", "recover", "-n", "from-pem")...), "name", "from-pem")
		c.must(t, vaultArgs("default", "certificate", "delete", "-n", "from-pem", "-o", "none")...)
		c.must(t, vaultArgs("default", "certificate", "purge", "-n", "from-pem")...)
		c.wantExit(t, exitFailed, "CertificateNotFound: ", vaultArgs("default", "certificate", "show", "-n", "from-pem")...)
	})

	t.Run("contacts", func(t *testing.T) {
		var list []map[string]any
		c.mustJSON(t, &list, vaultArgs("default", "certificate", "contact", "list")...)
		if len(list) != 0 {
			t.Errorf("contacts of a new vault = %v, want none", list)
		}
		c.must(t, vaultArgs("default", "certificate", "contact", "add", "--email", "ops@example.com", "--name", "Ops", "--phone", "555-0100")...)
		checkGolden(t, "certificate_contacts", c.must(t, vaultArgs("default", "certificate", "contact", "add", "--email", "sec@example.com")...))
		c.mustJSON(t, &list, vaultArgs("default", "certificate", "contact", "delete", "--email", "ops@example.com")...)
		if len(list) != 1 || list[0]["email"] != "sec@example.com" {
			t.Errorf("contacts after delete = %v, want sec@example.com", list)
		}
		c.mustJSON(t, &list, vaultArgs("default", "certificate", "contact", "delete", "--email", "sec@example.com")...)
		if len(list) != 0 {
			t.Errorf("contacts after deleting the last = %v, want none", list)
		}
		c.wantExit(t, exitFailed, "no contact has the email", vaultArgs("default", "certificate", "contact", "delete", "--email", "sec@example.com")...)
	})

	t.Run("issuers", func(t *testing.T) {
		out := c.must(t, vaultArgs("default", "certificate", "issuer", "set", "--issuer-name", "digi", "--provider-name", "DigiCert",
			"--account-id", "acct-1", "--password", "issuer-pw", "--organization-id", "org-9")...)
		checkGolden(t, "certificate_issuer", out)
		if strings.Contains(out, "issuer-pw") {
			t.Error("issuer set printed the account password")
		}
		issuer := c.object(t, vaultArgs("default", "certificate", "issuer", "show", "--issuer-name", "digi")...)
		wantField(t, issuer, "credentials.accountId", "acct-1")
		if names := listedNames(t, c, vaultArgs("default", "certificate", "issuer", "list")...); !slices.Equal(names, []string{"digi"}) {
			t.Errorf("issuer list = %v, want [digi]", names)
		}
		c.must(t, vaultArgs("default", "certificate", "issuer", "delete", "--issuer-name", "digi", "-o", "none")...)
		c.wantExit(t, exitFailed, "NotFound", vaultArgs("default", "certificate", "issuer", "show", "--issuer-name", "digi")...)
	})
}

func TestDataCLIOutputTable(t *testing.T) {
	c := newDataCLI(t)
	c.must(t, vaultArgs("default", "secret", "set", "-n", "tabled", "--value", "visible")...)
	c.must(t, vaultArgs("default", "key", "create", "-n", "tabled-key", "--ops", "sign", "verify", "-o", "none")...)
	c.must(t, vaultArgs("default", "certificate", "create", "-n", "tabled-cert", "--policy", "@default", "-o", "none")...)

	tests := []struct {
		name   string
		args   []string
		header []string
		cells  []string
	}{
		{"secret", []string{"secret", "show", "-n", "tabled"},
			[]string{"Name", "ContentType", "Enabled", "Expires", "Updated", "Value"}, []string{"tabled", "true", "visible"}},
		{"key", []string{"key", "show", "-n", "tabled-key"},
			[]string{"Kid", "Kty", "KeyOps", "Enabled", "Expires", "Updated"}, []string{"RSA", "sign, verify", "true"}},
		{"certificate", []string{"certificate", "show", "-n", "tabled-cert"},
			[]string{"Name", "Enabled", "Expires", "Subject", "Thumbprint", "Id"}, []string{"tabled-cert", "CN=CLIGetDefaultPolicy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := c.must(t, vaultArgs("default", append(slices.Clone(tt.args), "--output", "table")...)...)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != 3 {
				t.Fatalf("table = %q, want a header, a rule and one row", out)
			}
			if got := strings.Fields(lines[0]); !slices.Equal(got, tt.header) {
				t.Errorf("header = %v, want %v", got, tt.header)
			}
			for _, cell := range tt.cells {
				if !strings.Contains(lines[2], cell) {
					t.Errorf("row %q has no %q", lines[2], cell)
				}
			}
		})
	}

	t.Run("tsv", func(t *testing.T) {
		out := c.must(t, vaultArgs("default", "secret", "show", "-n", "tabled", "-o", "tsv")...)
		fields := strings.Split(strings.TrimSuffix(out, "\n"), "\t")
		if len(fields) != 6 || fields[0] != "tabled" || fields[5] != "visible" {
			t.Errorf("tsv = %q, want 6 fields from tabled to visible", out)
		}
	})
}

func TestDataCLIQuery(t *testing.T) {
	c := newDataCLI(t)
	c.must(t, vaultArgs("default", "secret", "set", "-n", "alpha", "--value", "one")...)
	c.must(t, vaultArgs("default", "secret", "set", "-n", "beta", "--value", "two", "--tags", "env=prod")...)

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"scalar json", []string{"secret", "show", "-n", "alpha", "--query", "value"}, "\"one\"\n"},
		{"scalar tsv", []string{"secret", "show", "-n", "alpha", "--query", "value", "-o", "tsv"}, "one\n"},
		{"projection", []string{"secret", "list", "--query", "[].name"}, "[\n  \"alpha\",\n  \"beta\"\n]\n"},
		{"filter", []string{"secret", "list", "--query", "[?tags.env=='prod'].name", "-o", "tsv"}, "beta\n"},
		{"multiselect table", []string{"secret", "list", "--query", "[].{name:name, enabled:attributes.enabled}", "-o", "table"},
			"Enabled  Name\n-------  ----\ntrue     alpha\ntrue     beta\n"},
		{"management command", []string{"vault", "show", "--name", "default", "--query", "name", "-o", "tsv"}, "default\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if args[0] != "vault" {
				args = vaultArgs("default", args...)
			}
			if got := c.must(t, args...); got != tt.want {
				t.Errorf("output = %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("invalid query", func(t *testing.T) {
		c.wantExit(t, exitUsage, "invalid --query", vaultArgs("default", "secret", "list", "--query", "[?name==")...)
	})
}

func TestDataCLIExitCodes(t *testing.T) {
	c := newDataCLI(t)
	c.must(t, vaultArgs("default", "secret", "set", "-n", "present", "--value", "x")...)

	tests := []struct {
		name string
		args []string
		code int
		text string
	}{
		{"unknown flag", vaultArgs("default", "secret", "show", "-n", "present", "--colour"), exitUsage, "unknown flag: --colour"},
		{"unknown command", []string{"secret", "reveal"}, exitUsage, `unknown command "reveal"`},
		{"missing required flag", []string{"secret", "list"}, exitUsage, `required flag(s) "vault-name" not set`},
		{"exclusive flags", vaultArgs("default", "secret", "set", "-n", "a", "--value", "b", "--file", "c"), exitUsage, "none of the others can be"},
		{"invalid encoding", vaultArgs("default", "secret", "set", "-n", "a", "--file", "x", "--encoding", "utf-16"), exitUsage, "invalid --encoding"},
		{"invalid time", vaultArgs("default", "secret", "set", "-n", "a", "--value", "b", "--expires", "next week"), exitUsage, "invalid --expires"},
		{"invalid output", vaultArgs("default", "secret", "show", "-n", "present", "-o", "yaml"), exitUsage, "invalid --output"},
		{"invalid algorithm", vaultArgs("default", "key", "sign", "-n", "k", "-a", "RS999", "--value", "AA=="), exitUsage, "invalid --algorithm"},
		{"invalid vault name", vaultArgs("bad.vault", "secret", "show", "-n", "present"), exitUsage, "invalid --vault-name"},
		{"id on another host", []string{"secret", "show", "--id", "https://other.example.com/secrets/a"}, exitUsage, "is not on this server"},
		{"id and name", []string{"secret", "show", "--id", "https://default.vault.localhost:1/secrets/a", "-n", "a"}, exitUsage, "leave out"},
		{"secret not found", vaultArgs("default", "secret", "show", "-n", "absent"), exitFailed, "SecretNotFound: A secret with (name/id) absent was not found"},
		{"key not found", vaultArgs("default", "key", "show", "-n", "absent"), exitFailed, "KeyNotFound: "},
		{"invalid name", vaultArgs("default", "secret", "set", "-n", "bad_name", "--value", "v"), exitFailed, "BadParameter: "},
		{"vault not found", vaultArgs("absent", "secret", "show", "-n", "present"), exitFailed, "VaultNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.wantExit(t, tt.code, tt.text, tt.args...)
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing on failure", r.stdout)
			}
			if tt.code == exitUsage && !strings.Contains(r.stderr, "--help' for usage") {
				t.Errorf("stderr %q has no usage hint", r.stderr)
			}
		})
	}

	t.Run("missing credentials file", func(t *testing.T) {
		r := runCLI(context.Background(), "secret", "list", "--vault-name", "default", "--credentials", filepath.Join(t.TempDir(), "none.json"))
		if r.code != exitFailed || !strings.Contains(r.stderr, "read credentials file") {
			t.Errorf("exit %d, stderr %q; want 1 and a read error", r.code, r.stderr)
		}
	})
}

// profilesFile is the content of profiles.json, for checks.
type profilesFile struct {
	Current  string                    `json:"current"`
	Profiles map[string]map[string]any `json:"profiles"`
}

func TestLoginProfileRoundTrip(t *testing.T) {
	c := newDataCLI(t)
	profilesPath := isolateConfig(t)
	ctx := context.Background()

	r := runCLI(ctx, "login", "--credentials", c.creds)
	if r.code != exitOK {
		t.Fatalf("login: exit %d, stderr %q", r.code, r.stderr)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("login output %q: %v", r.stdout, err)
	}
	wantField(t, out, "profile", "default")
	wantField(t, out, "server", "localhost:"+c.in.Port)
	wantField(t, out, "dnsSuffix", "vault.localhost")
	wantField(t, out, "tenantId", c.in.Creds.TenantID)
	wantField(t, out, "clientId", c.in.Creds.ClientID)
	wantField(t, out, "credentialsFile", c.creds)
	wantField(t, out, "caFile", filepath.Join(c.in.DataDir, "ca.pem"))

	t.Run("file modes", func(t *testing.T) {
		info, err := os.Stat(profilesPath)
		if err != nil {
			t.Fatalf("stat profiles: %v", err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("profiles.json mode = %v, want 0600", info.Mode().Perm())
		}
		dirInfo, err := os.Stat(filepath.Dir(profilesPath))
		if err != nil || dirInfo.Mode().Perm() != 0o700 {
			t.Errorf("profiles directory mode = %v (%v), want 0700", dirInfo.Mode().Perm(), err)
		}
		if raw := readFile(t, profilesPath); bytes.Contains(raw, []byte(c.in.Creds.ClientSecret)) {
			t.Error("profiles.json contains the client secret")
		}
	})

	t.Run("commands use the profile", func(t *testing.T) {
		r := runCLI(ctx, "secret", "set", "--vault-name", "default", "-n", "via-profile", "--value", "p1")
		if r.code != exitOK {
			t.Fatalf("secret set with the profile: exit %d, stderr %q", r.code, r.stderr)
		}
		r = runCLI(ctx, "secret", "show", "--vault-name", "default", "-n", "via-profile", "--query", "value", "-o", "tsv")
		if r.code != exitOK || r.stdout != "p1\n" {
			t.Errorf("secret show with the profile = %q (exit %d, %q), want p1", r.stdout, r.code, r.stderr)
		}
	})

	t.Run("second profile", func(t *testing.T) {
		other := kvtest.Start(t, kvtest.Options{})
		otherCreds := filepath.Join(other.DataDir, server.CredentialsFile)
		if r := runCLI(ctx, "login", "--credentials", otherCreds, "--profile", "other", "-o", "none"); r.code != exitOK {
			t.Fatalf("login --profile other: exit %d, stderr %q", r.code, r.stderr)
		}
		var st profilesFile
		if err := json.Unmarshal(readFile(t, profilesPath), &st); err != nil {
			t.Fatal(err)
		}
		if st.Current != "other" || len(st.Profiles) != 2 {
			t.Errorf("profiles = current %q with %d profiles, want other of 2", st.Current, len(st.Profiles))
		}
		// The current profile is the other server, which has no such secret.
		r := runCLI(ctx, "secret", "show", "--vault-name", "default", "-n", "via-profile")
		if r.code != exitFailed || !strings.Contains(r.stderr, "SecretNotFound") {
			t.Errorf("show on the other server: exit %d, stderr %q; want 1 SecretNotFound", r.code, r.stderr)
		}
		r = runCLI(ctx, "secret", "show", "--vault-name", "default", "-n", "via-profile", "--profile", "default", "--query", "value")
		if r.code != exitOK || r.stdout != "\"p1\"\n" {
			t.Errorf("show with --profile default = %q (exit %d, %q), want \"p1\"", r.stdout, r.code, r.stderr)
		}
	})

	t.Run("server address", func(t *testing.T) {
		// Every connection, to vault host names included, dials --server.
		r := runCLI(ctx, "login", "--credentials", c.creds, "--profile", "by-ip", "--server", c.in.Addr, "--query", "server", "-o", "tsv")
		if r.code != exitOK || r.stdout != c.in.Addr+"\n" {
			t.Fatalf("login --server %s = %q (exit %d, %q)", c.in.Addr, r.stdout, r.code, r.stderr)
		}
		r = runCLI(ctx, "secret", "show", "--vault-name", "default", "-n", "via-profile", "--query", "value", "-o", "tsv")
		if r.code != exitOK || r.stdout != "p1\n" {
			t.Errorf("show through the by-ip profile = %q (exit %d, %q), want p1", r.stdout, r.code, r.stderr)
		}
		r = runCLI(ctx, "login", "--credentials", c.creds, "--profile", "by-ip", "--server", "no-port")
		if r.code != exitUsage || !strings.Contains(r.stderr, "invalid --server") {
			t.Errorf("login --server no-port: exit %d, stderr %q; want 2", r.code, r.stderr)
		}
	})

	t.Run("missing profile", func(t *testing.T) {
		r := runCLI(ctx, "secret", "list", "--vault-name", "default", "--profile", "nope")
		if r.code != exitUsage || !strings.Contains(r.stderr, `no profile "nope"`) {
			t.Errorf("exit %d, stderr %q; want 2 naming the profile", r.code, r.stderr)
		}
		r = runCLI(ctx, "secret", "list", "--vault-name", "default", "--profile", "default", "--credentials", c.creds)
		if r.code != exitUsage || !strings.Contains(r.stderr, "cannot be used together") {
			t.Errorf("--profile with --credentials: exit %d, stderr %q; want 2", r.code, r.stderr)
		}
	})

	t.Run("environment identity", func(t *testing.T) {
		var p principal
		c.mustJSON(t, &p, "principal", "create", "--name", "no-access")
		t.Setenv("AZURE_CLIENT_ID", p.ClientID)
		t.Setenv("AZURE_CLIENT_SECRET", p.ClientSecret)
		r := runCLI(ctx, "secret", "show", "--vault-name", "default", "-n", "via-profile", "--profile", "default")
		if r.code != exitFailed || !strings.Contains(r.stderr, "Forbidden") {
			t.Errorf("show as a principal without access: exit %d, stderr %q; want 1 Forbidden", r.code, r.stderr)
		}
	})
}

// writeDevicesCSV writes a header and rows of GUID names and values, and
// returns the names in row order and the value of each.
func writeDevicesCSV(t *testing.T, path string, rows int) ([]string, map[string]string) {
	t.Helper()
	names := make([]string, rows)
	values := make(map[string]string, rows)
	var b strings.Builder
	b.WriteString("name,value\n")
	for i := range rows {
		names[i] = uuid.NewString()
		values[names[i]] = uuid.NewString()
		b.WriteString(names[i] + "," + values[names[i]] + "\n")
	}
	writeFile(t, path, []byte(b.String()))
	return names, values
}

// readCheckpoint parses FILE.progress, or returns nil while it does not
// exist yet.
func readCheckpoint(t *testing.T, path string) *checkpoint {
	t.Helper()
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("read checkpoint: %v", err)
	}
	cp, err := parseCheckpoint(string(raw))
	if err != nil {
		t.Fatalf("parse checkpoint %q: %v", raw, err)
	}
	return cp
}

func decodeSummary(t *testing.T, out string) importSummary {
	t.Helper()
	var s importSummary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("decode import summary %q: %v", out, err)
	}
	return s
}

// TestBulkImportResume imports 100,000 device secrets (5,000 with -short),
// interrupts the import after about 30% of the rows, resumes it, and checks
// that every secret is in the vault once, with its value and one version.
func TestBulkImportResume(t *testing.T) {
	rows := 100_000
	if testing.Short() {
		rows = 5_000
	}
	c := newDataCLI(t)
	c.must(t, "vault", "create", "--name", "devices", "-o", "none")
	path := filepath.Join(t.TempDir(), "devices.csv")
	names, values := writeDevicesCSV(t, path, rows)
	cpPath := path + checkpointSuffix
	importArgs := []string{"secret", "import", "--vault-name", "devices", "--file", path}

	// First run: cancel once the checkpoint lists 30% of the rows as done.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan cmdResult, 1)
	go func() { done <- c.execContext(ctx, importArgs...) }()
	deadline := time.After(3 * time.Minute)
	var first cmdResult
wait:
	for {
		select {
		case first = <-done:
			t.Fatalf("import finished before the interruption (exit %d, stderr %q)", first.code, first.stderr)
		case <-deadline:
			t.Fatal("import did not reach 30% of the rows within 3 minutes")
		case <-time.After(100 * time.Millisecond):
			if cp := readCheckpoint(t, cpPath); cp != nil && len(cp.done) >= rows*3/10 {
				cancel()
				first = <-done
				break wait
			}
		}
	}
	if first.code != exitFailed || !strings.Contains(first.stderr, "import interrupted") {
		t.Fatalf("interrupted import: exit %d, stderr %q; want 1 and an interruption message", first.code, first.stderr)
	}
	if strings.Contains(first.stderr, "\r") {
		t.Errorf("stderr is not a terminal, but a progress line was written: %q", first.stderr)
	}
	firstSummary := decodeSummary(t, first.stdout)
	interrupted := readCheckpoint(t, cpPath)
	if n := len(interrupted.done); n < rows*3/10 || n >= rows {
		t.Fatalf("checkpoint after the interruption lists %d rows as done, want from %d to %d", n, rows*3/10, rows-1)
	}
	if firstSummary.Written == 0 || firstSummary.Failed != 0 {
		t.Errorf("first run summary = %+v, want rows written and none failed", firstSummary)
	}

	// Second run: resume from the checkpoint.
	second := c.exec(importArgs...)
	if second.code != exitOK {
		t.Fatalf("resumed import: exit %d, stderr %q", second.code, second.stderr)
	}
	s := decodeSummary(t, second.stdout)
	if s.Rows != rows || s.Written+s.Skipped != rows || s.Failed != 0 {
		t.Errorf("resumed summary = %+v, want %d rows written or skipped, none failed", s, rows)
	}
	if s.Skipped < firstSummary.Written {
		t.Errorf("resumed run skipped %d rows, want at least the %d written before", s.Skipped, firstSummary.Written)
	}
	final := readCheckpoint(t, cpPath)
	if len(final.done) != rows+1 || len(final.pending) != 0 {
		t.Errorf("final checkpoint: %d done (want %d rows and the header), %d pending (want 0)", len(final.done), rows+1, len(final.pending))
	}

	// Every secret is listed exactly once.
	client := c.in.SecretsClient(t, "devices")
	seen := make(map[string]int, rows)
	pager := client.NewListSecretPropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list secrets: %v", err)
		}
		for _, p := range page.Value {
			seen[p.ID.Name()]++
		}
	}
	if len(seen) != rows {
		t.Errorf("vault lists %d secrets, want %d", len(seen), rows)
	}
	for name, n := range seen {
		if _, ok := values[name]; !ok || n != 1 {
			t.Errorf("secret %s listed %d times (in the file: %v), want once", name, n, ok)
		}
	}

	// A sample of values, and the rows in flight at the interruption, which
	// must not have been written twice.
	for i := 0; i < rows; i += rows / 200 {
		resp, err := client.GetSecret(context.Background(), names[i], "", nil)
		if err != nil {
			t.Fatalf("get %s: %v", names[i], err)
		}
		if resp.Value == nil || *resp.Value != values[names[i]] {
			t.Errorf("secret %s = %v, want %s", names[i], resp.Value, values[names[i]])
		}
	}
	for row := range interrupted.pending {
		name := names[row-2] // row 1 is the header
		versions := 0
		vp := client.NewListSecretPropertiesVersionsPager(name, nil)
		for vp.More() {
			page, err := vp.NextPage(context.Background())
			if err != nil {
				t.Fatalf("list versions of %s: %v", name, err)
			}
			versions += len(page.Value)
		}
		if versions != 1 {
			t.Errorf("secret %s, in flight at the interruption, has %d versions, want 1", name, versions)
		}
	}

	// A third run finds everything done.
	third := decodeSummary(t, c.must(t, importArgs...))
	if third.Written != 0 || third.Skipped != rows {
		t.Errorf("third run summary = %+v, want all %d rows skipped", third, rows)
	}
}

func TestBulkImportErrors(t *testing.T) {
	c := newDataCLI(t)
	dir := t.TempDir()
	path := writeFile(t, filepath.Join(dir, "mixed.csv"), []byte("good-1,v1\nbad_name,v2\nonly-one-field\ngood-2,\"multi\nline, \"\"quoted\"\"\"\n"))
	args := []string{"secret", "import", "--vault-name", "default", "--file", path, "--workers", "2"}

	r := c.exec(args...)
	if r.code != exitFailed || !strings.Contains(r.stderr, "2 of 4 rows failed") {
		t.Fatalf("import of a file with bad rows: exit %d, stderr %q; want 1 and 2 failed rows", r.code, r.stderr)
	}
	s := decodeSummary(t, r.stdout)
	if s.Written != 2 || s.Failed != 2 || len(s.Errors) != 2 {
		t.Fatalf("summary = %+v, want 2 written and 2 failed", s)
	}
	sort.Slice(s.Errors, func(i, j int) bool { return s.Errors[i].Row < s.Errors[j].Row })
	if s.Errors[0].Row != 2 || !strings.Contains(s.Errors[0].Error, "BadParameter") {
		t.Errorf("first error = %+v, want row 2 BadParameter", s.Errors[0])
	}
	if s.Errors[1].Row != 3 || !strings.Contains(s.Errors[1].Error, "has 1 fields") {
		t.Errorf("second error = %+v, want row 3 with 1 field", s.Errors[1])
	}
	wantField(t, c.object(t, "secret", "show", "--vault-name", "default", "-n", "good-2"), "value", "multi\nline, \"quoted\"")

	// A rerun retries only the failed rows.
	r = c.exec(args...)
	if s := decodeSummary(t, r.stdout); s.Written != 0 || s.Skipped != 2 || s.Failed != 2 {
		t.Errorf("rerun summary = %+v, want 2 skipped and 2 failed", s)
	}

	// A changed file does not match its checkpoint.
	writeFile(t, path, []byte("good-1,v1\n"))
	c.wantExit(t, exitFailed, "belongs to another version of the file", args...)
	c.wantExit(t, exitUsage, "invalid --workers", "secret", "import", "--vault-name", "default", "--file", path, "--workers", "0")
}

func TestBulkExport(t *testing.T) {
	c := newDataCLI(t)
	dir := t.TempDir()
	c.must(t, "vault", "create", "--name", "source", "-o", "none")
	c.must(t, "vault", "create", "--name", "copy", "-o", "none")

	want := map[string]string{}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	for i := range 120 {
		name, value := fmt.Sprintf("device-%03d", i), uuid.NewString()
		if i%40 == 0 {
			value = "comma, \"quote\"\nand newline " + value
		}
		want[name] = value
		if err := w.Write([]string{name, value}); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	c.must(t, "secret", "import", "--vault-name", "source", "--file", writeFile(t, filepath.Join(dir, "in.csv"), b.Bytes()))
	c.must(t, "secret", "set", "--vault-name", "source", "-n", "switched-off", "--value", "x", "--disabled")
	c.must(t, "certificate", "create", "--vault-name", "source", "-n", "cert", "--policy", "@default", "-o", "none")

	readCSV := func(t *testing.T, path string) map[string]string {
		t.Helper()
		records, err := csv.NewReader(bytes.NewReader(readFile(t, path))).ReadAll()
		if err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
		got := map[string]string{}
		for _, r := range records {
			got[r[0]] = r[1]
		}
		if len(got) != len(records) {
			t.Errorf("%s has %d rows for %d names", path, len(records), len(got))
		}
		return got
	}

	out := filepath.Join(dir, "out.csv")
	var summary exportSummary
	c.mustJSON(t, &summary, "secret", "export", "--vault-name", "source", "--file", out, "--workers", "8")
	if summary.Exported != 120 || summary.Skipped != 2 || summary.Failed != 0 {
		t.Errorf("export summary = %+v, want 120 exported and 2 skipped (disabled, certificate)", summary)
	}
	got := readCSV(t, out)
	if len(got) != len(want) {
		t.Errorf("export has %d secrets, want %d", len(got), len(want))
	}
	for name, value := range want {
		if got[name] != value {
			t.Errorf("exported %s = %q, want %q", name, got[name], value)
		}
	}
	if info, err := os.Stat(out); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("export file mode = %v (%v), want 0600", info.Mode().Perm(), err)
	}
	c.wantExit(t, exitFailed, "already exists", "secret", "export", "--vault-name", "source", "--file", out)

	// The export imports into another vault, which exports the same rows.
	c.must(t, "secret", "import", "--vault-name", "copy", "--file", out)
	again := filepath.Join(dir, "again.csv")
	c.must(t, "secret", "export", "--vault-name", "copy", "--file", again)
	if !bytes.Equal(readFile(t, again), readFile(t, out)) {
		t.Error("export of the copy differs from the export of the source")
	}

	withManaged := filepath.Join(dir, "managed.csv")
	c.mustJSON(t, &summary, "secret", "export", "--vault-name", "source", "--file", withManaged, "--include-managed")
	if summary.Exported != 121 || summary.Skipped != 1 {
		t.Errorf("export --include-managed summary = %+v, want 121 exported, 1 skipped", summary)
	}
}

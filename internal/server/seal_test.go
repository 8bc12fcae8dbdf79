package server_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/pki"
	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/server"
	"github.com/keyvault/keyvault/internal/storage"
	"github.com/keyvault/keyvault/internal/storage/bolt"
)

const sealPassphrase = "correct horse battery staple"

// sealServer is a server started by sealStart, which, unlike kvtest.Start,
// also starts servers that are sealed and so have no credentials yet.
type sealServer struct {
	dir  string
	in   *kvtest.Instance // Creds is empty until loadCreds
	stop func()
}

// sealStart opens and serves a server on dir with configure applied to a
// default configuration that allows software -HSM keys.
func sealStart(t *testing.T, dir string, configure func(*server.Config)) *sealServer {
	t.Helper()
	srv, err := sealOpen(t, dir, configure)
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server shutdown: %v", err)
			}
		})
	}
	t.Cleanup(stop)

	in := &kvtest.Instance{DataDir: dir, Addr: srv.Addr().String()}
	_, in.Port, _ = net.SplitHostPort(in.Addr)
	caPEM, err := os.ReadFile(filepath.Join(dir, pki.CAFile))
	if err != nil {
		t.Fatalf("read CA: %v", err)
	}
	in.CAPool = x509.NewCertPool()
	in.CAPool.AppendCertsFromPEM(caPEM)
	return &sealServer{dir: dir, in: in, stop: stop}
}

func sealOpen(t *testing.T, dir string, configure func(*server.Config)) (*server.Server, error) {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir = dir
	cfg.Addr = "127.0.0.1:0"
	cfg.AllowSoftwareHSM = true
	if configure != nil {
		configure(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("KEYVAULT_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return server.Open(context.Background(), cfg, log)
}

// loadCreds reads credentials.json, which an unsealed server has written.
func (s *sealServer) loadCreds(t *testing.T) *kvtest.Instance {
	t.Helper()
	s.in = kvtest.Load(t, s.dir, s.in.Addr)
	return s.in
}

// url returns https://localhost:PORT followed by path.
func (s *sealServer) url(path string) string { return "https://localhost:" + s.in.Port + path }

func passphraseSeal(passphrase string) func(*server.Config) {
	return func(c *server.Config) {
		c.Seal = seal.KindPassphrase
		c.Passphrase = passphrase
	}
}

func pkcs11Seal(cfg seal.PKCS11Config) func(*server.Config) {
	return func(c *server.Config) {
		c.Seal = seal.KindPKCS11
		c.PKCS11 = cfg
	}
}

// sealSetSecrets sets secrets name-0 .. name-(n-1) to value-i and returns
// them by name.
func sealSetSecrets(t *testing.T, client *azsecrets.Client, prefix string, n int) map[string]string {
	t.Helper()
	want := map[string]string{}
	for i := range n {
		name, value := fmt.Sprintf("%s-%d", prefix, i), fmt.Sprintf("value-%s-%d", prefix, i)
		if _, err := client.SetSecret(context.Background(), name, azsecrets.SetSecretParameters{Value: &value}, nil); err != nil {
			t.Fatalf("set secret %s: %v", name, err)
		}
		want[name] = value
	}
	return want
}

// sealCheckSecrets reads every secret of want back.
func sealCheckSecrets(t *testing.T, client *azsecrets.Client, want map[string]string) {
	t.Helper()
	for name, value := range want {
		got, err := client.GetSecret(context.Background(), name, "", nil)
		if err != nil {
			t.Errorf("get secret %s: %v", name, err)
			continue
		}
		if got.Value == nil || *got.Value != value {
			t.Errorf("secret %s = %v, want %q", name, got.Value, value)
		}
	}
}

// sealHashDir returns the SHA-256 of every file under dir by relative path.
func sealHashDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		sum := sha256.Sum256(data)
		sums[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatalf("hash data directory: %v", err)
	}
	return sums
}

func sealSameHashes(t *testing.T, before, after map[string]string) {
	t.Helper()
	for name, sum := range before {
		if after[name] != sum {
			t.Errorf("file %s changed (or was removed)", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("file %s was created", name)
		}
	}
}

func TestSealPassphraseRestart(t *testing.T) {
	dir := t.TempDir()
	srv := sealStart(t, dir, passphraseSeal(sealPassphrase))
	want := sealSetSecrets(t, srv.loadCreds(t).SecretsClient(t, "default"), "kept", 3)
	srv.stop()

	info, err := os.Stat(filepath.Join(dir, seal.SealFileName))
	if err != nil {
		t.Fatalf("seal.json: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("seal.json mode = %04o, want 0600", info.Mode().Perm())
	}
	sf, err := seal.ReadSealFile(filepath.Join(dir, seal.SealFileName))
	if err != nil {
		t.Fatal(err)
	}
	p := sf.Passphrase
	if sf.Kind != seal.KindPassphrase || p == nil || len(p.Salt) != 16 || p.Time != seal.DefaultArgon2Time ||
		p.MemoryKiB != seal.DefaultArgon2MemoryKiB || p.Threads != seal.DefaultArgon2Threads || len(p.Check) != 32 || p.KeyID == "" {
		t.Errorf("seal.json = %+v %+v, want kind passphrase with salt, costs, key id and check value", sf, p)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("root.key exists under a passphrase seal (stat error %v)", err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, seal.SealFileName))
	if strings.Contains(string(raw), sealPassphrase) {
		t.Error("seal.json contains the passphrase")
	}

	srv = sealStart(t, dir, passphraseSeal(sealPassphrase))
	sealCheckSecrets(t, srv.loadCreds(t).SecretsClient(t, "default"), want)
}

func TestSealPassphraseSealedStart(t *testing.T) {
	dir := t.TempDir()
	srv := sealStart(t, dir, passphraseSeal(""))
	in := srv.in

	t.Run("Sealed", func(t *testing.T) {
		if r := in.Do(t, http.MethodGet, srv.url("/healthz"), "", ""); r.Status != http.StatusOK {
			t.Errorf("GET /healthz: %v, want 200", r)
		}
		r := in.Do(t, http.MethodGet, srv.url("/readyz"), "", "")
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "sealed") {
			t.Errorf("GET /readyz: %v, want 503 naming sealed", r)
		}
		for _, path := range []string{"/secrets/x?api-version=7.5", "/subscriptions?api-version=2022-07-01", "/_operator/rotation"} {
			r := in.Do(t, http.MethodGet, srv.url(path), "", "")
			code, inner := r.ErrorCode()
			if r.Status != http.StatusServiceUnavailable || code != "ServiceUnavailable" || inner != "Sealed" {
				t.Errorf("GET %s: %v, want 503 ServiceUnavailable/Sealed", path, r)
			}
			if !strings.Contains(string(r.Body), "sealed") {
				t.Errorf("GET %s: body %s does not say the server is sealed", path, r.Body)
			}
		}
		if got := sealMetric(t, srv, "keyvault_sealed"); got != "1" {
			t.Errorf("keyvault_sealed = %q, want 1", got)
		}
		if _, err := os.Stat(filepath.Join(dir, server.CredentialsFile)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("credentials.json exists before unseal (stat error %v)", err)
		}
	})
	t.Run("BadRequests", func(t *testing.T) {
		if r := in.Do(t, http.MethodGet, srv.url("/_operator/unseal"), "", ""); r.Status != http.StatusMethodNotAllowed {
			t.Errorf("GET unseal: %v, want 405", r)
		}
		if r := in.Do(t, http.MethodPost, srv.url("/_operator/unseal"), "", `{"pass":"x"}`); r.Status != http.StatusBadRequest {
			t.Errorf("unseal without passphrase: %v, want 400", r)
		}
		if r := in.Do(t, http.MethodPost, srv.url("/_operator/unseal"), "", `{"passphrase":"short"}`); r.Status != http.StatusInternalServerError ||
			!strings.Contains(string(r.Body), "at least 12 bytes") {
			t.Errorf("first unseal with a 5-byte passphrase: %v, want 500 naming the 12-byte minimum", r)
		}
	})

	r := in.Do(t, http.MethodPost, srv.url("/_operator/unseal"), "", `{"passphrase":"`+sealPassphrase+`"}`)
	if r.Status != http.StatusOK {
		t.Fatalf("unseal: %v, want 200", r)
	}
	if r := in.Do(t, http.MethodGet, srv.url("/readyz"), "", ""); r.Status != http.StatusOK {
		t.Errorf("GET /readyz after unseal: %v, want 200", r)
	}
	if got := sealMetric(t, srv, "keyvault_sealed"); got != "0" {
		t.Errorf("keyvault_sealed after unseal = %q, want 0", got)
	}
	if r := in.Do(t, http.MethodPost, srv.url("/_operator/unseal"), "", `{"passphrase":"`+sealPassphrase+`"}`); r.Status != http.StatusConflict {
		t.Errorf("second unseal: %v, want 409", r)
	}
	want := sealSetSecrets(t, srv.loadCreds(t).SecretsClient(t, "default"), "s", 2)
	srv.stop()

	// A second start is sealed again; a wrong passphrase changes nothing.
	srv = sealStart(t, dir, passphraseSeal(""))
	before := sealHashDir(t, dir)
	r = srv.in.Do(t, http.MethodPost, srv.url("/_operator/unseal"), "", `{"passphrase":"wrong passphrase!"}`)
	if code, inner := r.ErrorCode(); r.Status != http.StatusForbidden || code != "Forbidden" || inner != "WrongPassphrase" {
		t.Errorf("unseal with a wrong passphrase: %v, want 403 Forbidden/WrongPassphrase", r)
	}
	sealSameHashes(t, before, sealHashDir(t, dir))
	if r := srv.in.Do(t, http.MethodPost, srv.url("/_operator/unseal"), "", `{"passphrase":"`+sealPassphrase+`"}`); r.Status != http.StatusOK {
		t.Fatalf("unseal: %v, want 200", r)
	}
	sealCheckSecrets(t, srv.loadCreds(t).SecretsClient(t, "default"), want)
}

// sealMetric returns the value of an unlabelled metric from /metrics.
func sealMetric(t *testing.T, s *sealServer, name string) string {
	t.Helper()
	r := s.in.Do(t, http.MethodGet, s.url("/metrics"), "", "")
	for _, line := range strings.Split(string(r.Body), "\n") {
		if value, ok := strings.CutPrefix(line, name+" "); ok {
			return value
		}
	}
	t.Fatalf("metric %s not in /metrics", name)
	return ""
}

func TestSealUnsealRateLimit(t *testing.T) {
	dir := t.TempDir()
	srv := sealStart(t, dir, passphraseSeal(sealPassphrase))
	srv.stop()
	srv = sealStart(t, dir, passphraseSeal(""))
	for i := range 5 {
		r := srv.in.Do(t, http.MethodPost, srv.url("/_operator/unseal"), "", fmt.Sprintf(`{"passphrase":"wrong passphrase %d"}`, i))
		if r.Status != http.StatusForbidden {
			t.Fatalf("wrong attempt %d: %v, want 403", i+1, r)
		}
	}
	// The fifth failure locks unsealing, even with the right passphrase.
	r := srv.in.Do(t, http.MethodPost, srv.url("/_operator/unseal"), "", `{"passphrase":"`+sealPassphrase+`"}`)
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("attempt after 5 failures: %v, want 429", r)
	}
	if r.Header.Get("Retry-After") != "30" {
		t.Errorf("Retry-After = %q, want 30", r.Header.Get("Retry-After"))
	}
	if r := srv.in.Do(t, http.MethodGet, srv.url("/readyz"), "", ""); r.Status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz: %v, want 503 while sealed", r)
	}
}

func TestSealWrongSecretUnchanged(t *testing.T) {
	tests := []struct {
		name    string
		pkcs11  bool // the case needs SoftHSM2
		setup   func(hsm seal.PKCS11Config) func(*server.Config)
		wrong   func(t *testing.T, dir string, hsm seal.PKCS11Config) func(*server.Config)
		wantErr string
	}{
		{
			name:  "FileKey",
			setup: func(seal.PKCS11Config) func(*server.Config) { return nil },
			wrong: func(t *testing.T, _ string, _ seal.PKCS11Config) func(*server.Config) {
				other := filepath.Join(t.TempDir(), "other.key")
				if _, _, err := seal.LoadOrCreateFileRootKey(other); err != nil {
					t.Fatal(err)
				}
				return func(c *server.Config) { c.RootKeyFile = other }
			},
			wantErr: "different root key",
		},
		{
			name:  "Passphrase",
			setup: func(seal.PKCS11Config) func(*server.Config) { return passphraseSeal(sealPassphrase) },
			wrong: func(*testing.T, string, seal.PKCS11Config) func(*server.Config) {
				return passphraseSeal("not the passphrase")
			},
			wantErr: "wrong passphrase",
		},
		{
			name:   "PIN",
			pkcs11: true,
			setup:  pkcs11Seal,
			wrong: func(_ *testing.T, _ string, hsm seal.PKCS11Config) func(*server.Config) {
				hsm.PIN = "4321"
				return pkcs11Seal(hsm)
			},
			wantErr: "wrong PIN",
		},
		{
			name:   "TokenKeyLabel",
			pkcs11: true,
			setup:  pkcs11Seal,
			wrong: func(t *testing.T, dir string, hsm seal.PKCS11Config) func(*server.Config) {
				// Without seal.json the label comes from the configuration,
				// and the store's data keys need the key it names.
				if err := os.Remove(filepath.Join(dir, seal.SealFileName)); err != nil {
					t.Fatal(err)
				}
				hsm.KeyLabel = "kv-root-other"
				return pkcs11Seal(hsm)
			},
			wantErr: `no key labelled "kv-root-other"`,
		},
		{
			name:  "SealKind",
			setup: func(seal.PKCS11Config) func(*server.Config) { return passphraseSeal(sealPassphrase) },
			wrong: func(*testing.T, string, seal.PKCS11Config) func(*server.Config) {
				return func(c *server.Config) { c.Seal = seal.KindFile }
			},
			wantErr: "sealed with --seal passphrase",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hsm seal.PKCS11Config
			if tt.pkcs11 {
				hsm = kvtest.SoftHSM(t)
			}
			dir := t.TempDir()
			srv := sealStart(t, dir, tt.setup(hsm))
			sealSetSecrets(t, srv.loadCreds(t).SecretsClient(t, "default"), "s", 1)
			srv.stop()

			configure := tt.wrong(t, dir, hsm)
			before := sealHashDir(t, dir)
			s, err := sealOpen(t, dir, configure)
			if err == nil {
				t.Fatalf("Open with the wrong secret = %v, nil error, want an error", s)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			sealSameHashes(t, before, sealHashDir(t, dir))
		})
	}
}

func TestPKCS11ServerRestart(t *testing.T) {
	hsm := kvtest.SoftHSM(t)
	dir := t.TempDir()
	srv := sealStart(t, dir, pkcs11Seal(hsm))
	in := srv.loadCreds(t)
	want := sealSetSecrets(t, in.SecretsClient(t, "default"), "p", 3)
	keyBody := `{"kty":"RSA","key_size":2048}`
	r := in.Do(t, http.MethodPost, in.VaultURL("default")+"/keys/k1/create?api-version=7.5", in.Token(t), keyBody)
	if r.Status != http.StatusOK {
		t.Fatalf("create key: %v", r)
	}
	srv.stop()

	sf, err := seal.ReadSealFile(filepath.Join(dir, seal.SealFileName))
	if err != nil || sf == nil || sf.Kind != seal.KindPKCS11 || sf.PKCS11.KeyLabel != hsm.KeyLabel || sf.PKCS11.TokenLabel != hsm.TokenLabel {
		t.Fatalf("seal.json = %+v, %v, want kind pkcs11 naming token %q and key %q", sf, err, hsm.TokenLabel, hsm.KeyLabel)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("root.key exists under a PKCS#11 seal (stat error %v)", err)
	}

	srv = sealStart(t, dir, pkcs11Seal(hsm))
	in = srv.loadCreds(t)
	sealCheckSecrets(t, in.SecretsClient(t, "default"), want)
	r = in.Do(t, http.MethodGet, in.VaultURL("default")+"/keys/k1?api-version=7.5", in.Token(t), "")
	if r.Status != http.StatusOK {
		t.Errorf("get key after restart: %v", r)
	}
}

// sealLoad runs writers and readers of secrets until stop is closed and
// returns the values last written, by name. Every error is reported.
func sealLoad(t *testing.T, client *azsecrets.Client, stop <-chan struct{}) func() map[string]string {
	t.Helper()
	var mu sync.Mutex
	written := map[string]string{}
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			// Bounded: at most 500 writes per writer even if stop never closes.
			for i := 0; i < 500; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name, value := fmt.Sprintf("load-%d-%d", w, i%5), fmt.Sprintf("v%d", i)
				if _, err := client.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: &value}, nil); err != nil {
					errs <- fmt.Errorf("set %s: %w", name, err)
					return
				}
				mu.Lock()
				written[name] = value
				mu.Unlock()
				got, err := client.GetSecret(ctx, name, "", nil)
				if err != nil {
					errs <- fmt.Errorf("get %s: %w", name, err)
					return
				}
				if *got.Value != value {
					errs <- fmt.Errorf("get %s = %q right after setting %q", name, *got.Value, value)
					return
				}
			}
		}()
	}
	return func() map[string]string {
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("request during rotation: %v", err)
		}
		return written
	}
}

func TestRotationRootKey(t *testing.T) {
	// The PKCS11 case starts SoftHSM2 itself; its configuration is filled in
	// there, before the closures below read it.
	var hsm seal.PKCS11Config
	const newPassphrase = "a different passphrase for the rotation"
	tests := []struct {
		name    string
		before  func(*server.Config)
		body    string
		after   func(*server.Config) // configuration for the restart
		stale   func(*server.Config) // the old secret, which must now fail
		checkFS func(t *testing.T, dir string, oldRootKeyID, newRootKeyID string)
	}{
		{
			name:   "File",
			before: nil,
			after:  nil,
			checkFS: func(t *testing.T, dir, _, newID string) {
				old, err := os.ReadFile(filepath.Join(dir, "root.key.old"))
				if err != nil {
					t.Fatalf("root.key.old: %v", err)
				}
				cur, err := os.ReadFile(filepath.Join(dir, "root.key"))
				if err != nil || string(cur) == string(old) {
					t.Errorf("root.key is unchanged by the rotation (err %v)", err)
				}
				if _, err := os.Stat(filepath.Join(dir, "root.key.new")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("root.key.new remains after the rotation (stat error %v)", err)
				}
				key, _, err := seal.LoadOrCreateFileRootKey(filepath.Join(dir, "root.key"))
				if err != nil || key.ID() != newID {
					t.Errorf("root.key holds key %v (%v), want the new root key %s", key, err, newID)
				}
			},
		},
		{
			name:   "Passphrase",
			before: passphraseSeal(sealPassphrase),
			body:   `{"newPassphrase":"` + newPassphrase + `"}`,
			after:  passphraseSeal(newPassphrase),
			stale:  passphraseSeal(sealPassphrase),
			checkFS: func(t *testing.T, dir, _, newID string) {
				sf, err := seal.ReadSealFile(filepath.Join(dir, seal.SealFileName))
				if err != nil || sf.Passphrase.KeyID != newID {
					t.Errorf("seal.json = %+v, %v, want the new key id %s", sf, err, newID)
				}
			},
		},
		{
			name:   "PKCS11",
			before: func(c *server.Config) { pkcs11Seal(hsm)(c) },
			after:  func(c *server.Config) { pkcs11Seal(hsm)(c) },
			checkFS: func(t *testing.T, dir, _, newID string) {
				sf, err := seal.ReadSealFile(filepath.Join(dir, seal.SealFileName))
				if err != nil || sf.PKCS11.KeyLabel != hsm.KeyLabel+".2" || newID != "pkcs11:"+hsm.KeyLabel+".2" {
					t.Errorf("seal.json = %+v, %v, new id %s, want key label %s.2", sf.PKCS11, err, newID, hsm.KeyLabel)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "PKCS11" {
				hsm = kvtest.SoftHSM(t)
			}
			dir := t.TempDir()
			srv := sealStart(t, dir, tt.before)
			in := srv.loadCreds(t)
			client := in.SecretsClient(t, "default")
			want := sealSetSecrets(t, client, "r", 5)
			token := in.Token(t)

			if r := in.Do(t, http.MethodPost, srv.url("/_operator/rotate-root-key"), "", tt.body); r.Status != http.StatusUnauthorized {
				t.Errorf("rotate without a token: %v, want 401", r)
			}
			stop := make(chan struct{})
			wait := sealLoad(t, client, stop)
			r := in.Do(t, http.MethodPost, srv.url("/_operator/rotate-root-key"), token, tt.body)
			close(stop)
			written := wait()
			if r.Status != http.StatusOK {
				t.Fatalf("rotate-root-key: %v, want 200", r)
			}
			var body struct {
				RootKeyID, PreviousRootKeyID string
				DataKeys                     int
			}
			r.JSON(t, &body)
			if body.RootKeyID == body.PreviousRootKeyID || body.DataKeys < 2 {
				t.Errorf("rotate-root-key = %+v, want a new root key id and at least 2 data keys", body)
			}
			sealCheckSecrets(t, client, want)
			srv.stop()
			tt.checkFS(t, dir, body.PreviousRootKeyID, body.RootKeyID)

			if tt.stale != nil {
				if _, err := sealOpen(t, dir, tt.stale); err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
					t.Errorf("start with the old passphrase = %v, want a wrong-passphrase error", err)
				}
			}
			srv = sealStart(t, dir, tt.after)
			client = srv.loadCreds(t).SecretsClient(t, "default")
			sealCheckSecrets(t, client, want)
			sealCheckSecrets(t, client, written)
		})
	}
}

// TestRotationRootKeyInterrupted stops a file root-key rotation between its
// commit and the renaming of root.key.new, as a crash would, and checks that
// the next start finishes it.
func TestRotationRootKeyInterrupted(t *testing.T) {
	dir := t.TempDir()
	srv := sealStart(t, dir, nil)
	want := sealSetSecrets(t, srv.loadCreds(t).SecretsClient(t, "default"), "i", 2)
	srv.stop()

	keyPath := filepath.Join(dir, "root.key")
	oldKey, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := seal.LoadOrCreateFileRootKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	next, err := seal.WriteNewFileRootKey(keyPath + seal.PendingSuffix)
	if err != nil {
		t.Fatal(err)
	}
	store, err := bolt.Open(filepath.Join(dir, server.StoreFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seal.NewKeyring(store, old).RotateRootKey(context.Background(), next); err != nil {
		t.Fatalf("RotateRootKey: %v", err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	srv = sealStart(t, dir, nil)
	sealCheckSecrets(t, srv.loadCreds(t).SecretsClient(t, "default"), want)
	srv.stop()
	if got, err := os.ReadFile(keyPath + ".old"); err != nil || string(got) != string(oldKey) {
		t.Errorf("root.key.old = %q, %v, want the previous key", got, err)
	}
	if key, _, err := seal.LoadOrCreateFileRootKey(keyPath); err != nil || key.ID() != next.ID() {
		t.Errorf("root.key holds %v (%v), want the new root key %s", key, err, next.ID())
	}
	if _, err := os.Stat(keyPath + seal.PendingSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("root.key.new remains (stat error %v)", err)
	}
}

func TestRotationDataKeys(t *testing.T) {
	dir := t.TempDir()
	srv := sealStart(t, dir, nil)
	in := srv.loadCreds(t)
	client := in.SecretsClient(t, "default")
	want := sealSetSecrets(t, client, "d", 40)
	token := in.Token(t)

	r := in.Do(t, http.MethodGet, srv.url("/_operator/rotation"), token, "")
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"state":"none"`) {
		t.Errorf("GET rotation before any: %v, want state none", r)
	}
	stop := make(chan struct{})
	wait := sealLoad(t, client, stop)
	r = in.Do(t, http.MethodPost, srv.url("/_operator/rotate-data-keys"), token, "")
	if r.Status != http.StatusAccepted {
		close(stop)
		wait()
		t.Fatalf("rotate-data-keys: %v, want 202", r)
	}
	var started struct {
		ID     string
		State  string
		Scopes int
	}
	r.JSON(t, &started)
	if started.State != "running" || started.Scopes < 2 {
		t.Errorf("rotate-data-keys = %+v, want running over the vault and server scopes", started)
	}

	// Poll until the background re-encryption is done (at most 60 s).
	var progress struct {
		ID, State   string
		Reencrypted int64
		Skipped     int64
		Pass        int
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		r = in.Do(t, http.MethodGet, srv.url("/_operator/rotation"), token, "")
		r.JSON(t, &progress)
		if progress.State == "finished" || time.Now().After(deadline) {
			break
		}
	}
	close(stop)
	written := wait()
	if progress.ID != started.ID || progress.State != "finished" {
		t.Fatalf("rotation progress = %+v, want rotation %s finished", progress, started.ID)
	}
	if progress.Reencrypted < int64(len(want)) || progress.Skipped != 0 {
		t.Errorf("rotation = %+v, want at least %d records re-encrypted and none skipped", progress, len(want))
	}
	sealCheckSecrets(t, client, want)
	sealCheckSecrets(t, client, written)
	srv.stop()

	// Every sealed record is now under its scope's current data key.
	store, err := bolt.Open(filepath.Join(dir, server.StoreFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stale := sealStaleRecords(t, store, []string{"secret-versions", "key-versions", "identity", "server-keys", "server"})
	if len(stale) > 0 {
		t.Errorf("records still under an old data key: %q", stale)
	}
}

// sealStaleRecords returns the keys of sealed records in buckets that were
// not sealed by the current data key of their scope.
func sealStaleRecords(t *testing.T, store storage.Store, buckets []string) []string {
	t.Helper()
	var stale []string
	err := store.View(context.Background(), func(tx storage.Tx) error {
		current := map[string]string{}
		if err := tx.Scan("datakeys-current", nil, nil, func(k, v []byte) (bool, error) {
			current[string(k)] = string(v)
			return true, nil
		}); err != nil {
			return err
		}
		for _, bucket := range buckets {
			err := tx.Scan(bucket, nil, nil, func(k, v []byte) (bool, error) {
				if len(v) < 2 || v[0] != 1 {
					return true, nil // not a sealed record
				}
				scope := seal.ServerScope
				if strings.HasSuffix(bucket, "-versions") {
					scope, _, _ = strings.Cut(string(k), "\x00")
				}
				if id := string(v[2 : 2+int(v[1])]); id != current[scope] {
					stale = append(stale, bucket+"/"+string(k))
				}
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return stale
}

func TestRotationOperatorAccess(t *testing.T) {
	srv := sealStart(t, t.TempDir(), nil)
	in := srv.loadCreds(t)
	token := in.Token(t)
	tests := []struct {
		name, method, path, token string
		want                      int
	}{
		{name: "NoToken", method: http.MethodPost, path: "/_operator/rotate-data-keys", want: http.StatusUnauthorized},
		{name: "WrongMethod", method: http.MethodGet, path: "/_operator/rotate-root-key", token: token, want: http.StatusMethodNotAllowed},
		{name: "RotationPost", method: http.MethodPost, path: "/_operator/rotation", token: token, want: http.StatusMethodNotAllowed},
		{name: "Unknown", method: http.MethodPost, path: "/_operator/nothing", token: token, want: http.StatusNotFound},
		{name: "UnsealFileSeal", method: http.MethodPost, path: "/_operator/unseal", want: http.StatusConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := ""
			if tt.path == "/_operator/unseal" {
				body = `{"passphrase":"x"}`
			}
			if r := in.Do(t, tt.method, srv.url(tt.path), tt.token, body); r.Status != tt.want {
				t.Errorf("%s %s: %v, want %d", tt.method, tt.path, r, tt.want)
			}
		})
	}
	var raw json.RawMessage
	in.Do(t, http.MethodGet, srv.url("/_operator/rotation"), token, "").JSON(t, &raw)
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/server"
)

// envPrefix starts the environment variable of every serve flag:
// --data-dir is KEYVAULT_DATA_DIR.
const envPrefix = "KEYVAULT_"

type serveOptions struct {
	cfg        server.Config
	configFile string
	logFormat  string
	logLevel   string

	// PKCS#11 settings of --seal pkcs11. The PIN is never a flag.
	pkcs11Module     string
	pkcs11TokenLabel string
	pkcs11KeyLabel   string
	pkcs11PINFile    string
}

func (o *serveOptions) addFlags(fs *pflag.FlagSet) {
	d := server.DefaultConfig()
	c := &o.cfg
	fs.StringVar(&o.configFile, "config", "", "YAML file of settings, keyed by flag name (data-dir: /var/lib/keyvault)")
	fs.StringVar(&c.DataDir, "data-dir", d.DataDir, "directory of the store, TLS files, root key and credentials.json")
	fs.StringVar(&c.Addr, "addr", d.Addr, "address to listen on, host:port (port 0 picks a free port)")
	fs.StringVar(&c.DNSSuffix, "dns-suffix", d.DNSSuffix, "DNS suffix of vault host names: a vault answers at https://{vault}.{suffix}:{port}/")
	fs.StringVar(&c.DefaultVault, "default-vault", d.DefaultVault, "name of the vault created on first start, which also answers at localhost and 127.0.0.1")
	fs.IntVar(&c.DefaultVaultRetentionDays, "default-vault-retention-days", d.DefaultVaultRetentionDays, "days (7 to 90) that deleted objects of the default vault stay recoverable; applies when the vault is created")
	fs.BoolVar(&c.DefaultVaultPurgeProtection, "default-vault-purge-protection", false, "turn on purge protection for the default vault (it cannot be turned off again)")
	fs.StringVar(&c.RootKeyFile, "root-key-file", "", "file of the root key that seals the store (default DATA_DIR/root.key; created with mode 0600)")
	fs.StringVar(&c.Seal, "seal", d.Seal, "root of trust: file (the root key file), passphrase (Argon2id from KEYVAULT_PASSPHRASE; without it the server starts sealed) or pkcs11 (an AES key in the token that the --pkcs11-* settings name)")
	fs.StringVar(&o.pkcs11Module, "pkcs11-module", "", "with --seal pkcs11: path of the token's PKCS#11 library")
	fs.StringVar(&o.pkcs11TokenLabel, "pkcs11-token-label", "", "with --seal pkcs11: label of the token")
	fs.StringVar(&o.pkcs11KeyLabel, "pkcs11-key-label", seal.DefaultPKCS11KeyLabel, "with --seal pkcs11: label of the root key in the token, created on first start")
	fs.StringVar(&o.pkcs11PINFile, "pkcs11-pin-file", "", "with --seal pkcs11: file holding the token's PIN (or set KEYVAULT_PKCS11_PIN; the PIN is never a flag)")
	fs.BoolVar(&c.AllowSoftwareHSM, "allow-software-hsm", false, "let premium vaults create RSA-HSM, EC-HSM and oct-HSM keys as software keys when no PKCS#11 token (--seal pkcs11) holds them")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate chain to serve instead of the generated one (needs --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.BoolVar(&c.NoHTTP2, "no-http2", false, "serve HTTP/1.1 only: clients that would use HTTP/2 open several connections instead, and each request costs the server less CPU (see docs/benchmarks.md)")
	fs.BoolVar(&c.PlainHTTP, "plain-http", false, "serve plain HTTP without TLS (insecure; the Go and Python SDKs refuse to send tokens over it)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", d.MaxBodyBytes, "largest request body accepted, in bytes")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", d.ShutdownTimeout, "how long a shutdown waits for requests in flight")
	fs.DurationVar(&c.PurgeInterval, "purge-interval", d.PurgeInterval, "how often the time-driven jobs run: purge of deleted objects past their retention, policy-driven key rotation")
	fs.BoolVar(&c.TestClock, "test-clock", false, "enable POST /_test/clock, with which the administrator moves object time forward (for tests only)")
	fs.BoolVar(&c.AccessLog, "access-log", false, "log one line per request at level info (the audit log records every request in any case)")
	fs.StringVar(&c.AuditDir, "audit-dir", "", "directory of the audit files (default DATA_DIR/audit)")
	fs.BoolVar(&c.AuditStdout, "audit-stdout", false, "also write every audit record to standard output")
	fs.Int64Var(&c.AuditMaxFileBytes, "audit-max-file-bytes", d.AuditMaxFileBytes, "size in bytes at which the current audit file is rotated")
	fs.BoolVar(&c.AuditFailOpen, "audit-fail-open", false, "serve requests even when the audit log cannot record them (default: refuse them with 503)")
	fs.StringVar(&c.Throttle, "throttle", d.Throttle, "request throttling: off, or azure for Azure Key Vault's per-vault limits")
	fs.Float64Var(&c.ThrottleScale, "throttle-scale", d.ThrottleScale, "factor applied to every throttling limit (0.5 halves them)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "lowest level logged: debug, info, warn or error")
}

func newServeCommand() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the KeyVault server",
		Long: `Run the KeyVault server on the embedded store.

Every flag can also be set by an environment variable, KEYVAULT_ and the flag
name in capitals with "_" for "-" (KEYVAULT_DATA_DIR), or by a key of the same
name in the --config YAML file. A flag wins over the environment, which wins
over the file.

On first start the server creates DATA_DIR with a root key, a local CA
(ca.pem, to trust in clients), a TLS certificate, the default vault and an
administrator principal, whose credentials it writes to
DATA_DIR/credentials.json (mode 0600) at every start.

Root of trust (--seal): file keeps the root key in DATA_DIR/root.key.
passphrase derives it with Argon2id from KEYVAULT_PASSPHRASE; without that
variable the server starts sealed and waits for keyvault operator unseal.
pkcs11 keeps it in a PKCS#11 token named by --pkcs11-module,
--pkcs11-token-label and --pkcs11-key-label (default keyvault-root), which
like every flag may also come from KEYVAULT_PKCS11_MODULE and the other
variables or the config file. The token's PIN comes from KEYVAULT_PKCS11_PIN
or from --pkcs11-pin-file. Secrets are read from the environment or files
only, never from flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnvAndFile(cmd.Flags(), o); err != nil {
				return err
			}
			return o.run(cmd.Context())
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// applyEnvAndFile sets every flag not given on the command line from its
// environment variable or, failing that, from the config file.
func applyEnvAndFile(fs *pflag.FlagSet, o *serveOptions) error {
	if !fs.Changed("config") {
		if v, ok := os.LookupEnv(envPrefix + "CONFIG"); ok {
			o.configFile = v
		}
	}
	fileValues := map[string]any{}
	if o.configFile != "" {
		raw, err := os.ReadFile(o.configFile)
		if err != nil {
			return fmt.Errorf("read config file: %w", err)
		}
		if err := yaml.Unmarshal(raw, &fileValues); err != nil {
			return fmt.Errorf("config file %s: %w", o.configFile, err)
		}
		for key := range fileValues {
			if f := fs.Lookup(key); f == nil || key == "config" {
				return fmt.Errorf("config file %s: unknown setting %q (settings are named as the serve flags)", o.configFile, key)
			}
		}
	}

	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "config" {
			return
		}
		env := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("environment variable %s: %w", env, serr)
			}
			return
		}
		if v, ok := fileValues[f.Name]; ok {
			if serr := fs.Set(f.Name, fmt.Sprint(v)); serr != nil {
				err = fmt.Errorf("config file %s: setting %s: %w", o.configFile, f.Name, serr)
			}
		}
	})
	return err
}

func (o *serveOptions) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("log-level %q: use debug, info, warn or error", o.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log-format %q: use text or json", o.logFormat)
}

// serveGCPercent is the server's GOGC unless the environment sets one.
const serveGCPercent = 400

func (o *serveOptions) run(ctx context.Context) error {
	log, err := o.logger()
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// The live heap is small (a few MB) and every request allocates, so
	// Go's default GOGC of 100 collects very often. GOGC in the
	// environment wins over this.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}

	c := o.cfg
	if err := o.readSealSecrets(&c); err != nil {
		return err
	}
	log.Info("starting keyvault", "dataDir", c.DataDir, "addr", c.Addr, "dnsSuffix", c.DNSSuffix,
		"defaultVault", c.DefaultVault, "rootKeyFile", c.RootKeyFile, "seal", c.Seal, "ownTLSCert", c.TLSCert != "", "plainHTTP", c.PlainHTTP)
	srv, err := server.Open(ctx, c, log)
	if err != nil {
		return err
	}
	return srv.Serve(ctx)
}

// envPassphrase holds the passphrase of --seal passphrase. It is read from
// the environment only, never from a flag, and removed from the environment
// once read so that child processes do not inherit it.
const envPassphrase = "KEYVAULT_PASSPHRASE"

// readSealSecrets fills the passphrase and the PKCS#11 settings of c, as
// --seal needs them. Secrets come from the environment or a file only.
func (o *serveOptions) readSealSecrets(c *server.Config) error {
	switch c.Seal {
	case seal.KindPassphrase:
		c.Passphrase = os.Getenv(envPassphrase)
		os.Unsetenv(envPassphrase)
	case seal.KindPKCS11:
		cfg, err := seal.PKCS11ConfigFrom(o.pkcs11Module, o.pkcs11TokenLabel, o.pkcs11KeyLabel, o.pkcs11PINFile)
		if err != nil {
			return err
		}
		c.PKCS11 = cfg
		os.Unsetenv(seal.EnvPKCS11PIN)
	}
	return nil
}

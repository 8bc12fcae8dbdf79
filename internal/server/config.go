// Package server runs KeyVault: it opens the store, loads the root key,
// prepares TLS and the token service, and serves HTTPS, routing each request
// to its vault by host name and authenticating it before the api package
// handles it.
package server

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/vault"
)

// Config is the server's configuration. The keyvault command fills it from
// flags, KEYVAULT_* environment variables and a YAML file.
type Config struct {
	DataDir     string // holds the store, TLS files, root key and credentials.json
	Addr        string // host:port to listen on
	DNSSuffix   string // vaults answer at {vault}.{DNSSuffix}
	RootKeyFile string // empty means DataDir/root.key

	// Seal selects the root of trust. "file" reads RootKeyFile.
	// "passphrase" derives the root key from Passphrase with Argon2id, and
	// the server starts sealed when Passphrase is empty. "pkcs11" uses an
	// AES key in the token that PKCS11 names.
	Seal       string
	Passphrase string // never logged; the keyvault command reads it from KEYVAULT_PASSPHRASE
	PKCS11     seal.PKCS11Config

	// AllowSoftwareHSM lets premium vaults create -HSM key types as
	// software keys when no PKCS#11 token holds them.
	AllowSoftwareHSM bool

	DefaultVault                string
	DefaultVaultRetentionDays   int
	DefaultVaultPurgeProtection bool

	TLSCert, TLSKey string // both empty: generate a CA and certificate in DataDir
	PlainHTTP       bool   // serve HTTP without TLS (SDKs refuse bearer tokens over it)

	// NoHTTP2 serves HTTP/1.1 only. Clients that would use HTTP/2 (the
	// Azure SDK for Go does) then open several HTTP/1.1 connections, each
	// request of which costs the server less CPU than an HTTP/2 stream.
	NoHTTP2 bool

	// TestClock enables POST /_test/clock, which moves the clock of objects
	// (purge dates, rotation, nbf/exp checks) forward for tests.
	TestClock bool

	// AccessLog logs one line per request (method, path, status, duration,
	// caller) at level info. The audit log records every request anyway.
	AccessLog bool

	// Audit settings. AuditDir is the directory of the audit files (empty
	// means DataDir/audit). AuditStdout copies every record to standard
	// output, and AuditMaxFileBytes is the size at which the current file
	// rotates. AuditFailOpen serves requests the audit log cannot record
	// instead of rejecting them.
	AuditDir          string
	AuditStdout       bool
	AuditMaxFileBytes int64
	AuditFailOpen     bool

	// Throttle is "off" or "azure" (Azure's per-vault limits, multiplied
	// by ThrottleScale).
	Throttle      string
	ThrottleScale float64

	MaxBodyBytes    int64
	ShutdownTimeout time.Duration
	PurgeInterval   time.Duration
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		DataDir:                   "keyvault-data",
		Addr:                      "127.0.0.1:8443",
		DNSSuffix:                 "vault.localhost",
		Seal:                      seal.KindFile,
		DefaultVault:              "default",
		DefaultVaultRetentionDays: vault.DefaultRetentionDays,
		MaxBodyBytes:              1 << 20,
		ShutdownTimeout:           30 * time.Second,
		PurgeInterval:             time.Minute,
		AuditMaxFileBytes:         100 << 20,
		Throttle:                  "off",
		ThrottleScale:             1,
	}
}

func (c *Config) sealFilePath() string { return filepath.Join(c.DataDir, seal.SealFileName) }

func (c *Config) rootKeyPath() string {
	if c.RootKeyFile != "" {
		return c.RootKeyFile
	}
	return filepath.Join(c.DataDir, "root.key")
}

// Validate checks the configuration before anything is opened.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("data-dir must not be empty")
	}
	if c.DNSSuffix == "" {
		return fmt.Errorf("dns-suffix must not be empty")
	}
	if err := vault.ValidateVaultName(c.DefaultVault); err != nil {
		return fmt.Errorf("default-vault: %s", vault.AsError(err).Message)
	}
	if c.DefaultVaultRetentionDays < vault.MinRetentionDays || c.DefaultVaultRetentionDays > vault.MaxRetentionDays {
		return fmt.Errorf("default-vault-retention-days must be from %d to %d, got %d",
			vault.MinRetentionDays, vault.MaxRetentionDays, c.DefaultVaultRetentionDays)
	}
	switch c.Seal {
	case "", seal.KindFile, seal.KindPassphrase: // "" is file, for configurations built without DefaultConfig
	case seal.KindPKCS11:
		if !seal.PKCS11Available {
			return fmt.Errorf("seal pkcs11: this binary was built without cgo, which PKCS#11 needs")
		}
	default:
		return fmt.Errorf("seal must be file, passphrase or pkcs11, got %q", c.Seal)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("tls-cert and tls-key must be given together")
	}
	if c.MaxBodyBytes < 64<<10 {
		return fmt.Errorf("max-body-bytes must be at least 65536, got %d", c.MaxBodyBytes)
	}
	if c.Throttle != "off" && c.Throttle != "azure" {
		return fmt.Errorf("throttle must be off or azure, got %q", c.Throttle)
	}
	if c.ThrottleScale <= 0 {
		return fmt.Errorf("throttle-scale must be positive, got %v", c.ThrottleScale)
	}
	if c.AuditMaxFileBytes < 4096 {
		return fmt.Errorf("audit-max-file-bytes must be at least 4096, got %d", c.AuditMaxFileBytes)
	}
	if c.PurgeInterval <= 0 || c.ShutdownTimeout <= 0 {
		return fmt.Errorf("purge-interval and shutdown-timeout must be positive")
	}
	return nil
}

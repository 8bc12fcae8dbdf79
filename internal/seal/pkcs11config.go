package seal

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// PKCS11Config selects a PKCS#11 token and the root key in it. It comes
// from the environment (see PKCS11ConfigFromEnv), never from the command
// line, where the PIN would show in the process list.
type PKCS11Config struct {
	Module     string // path of the token's PKCS#11 library
	TokenLabel string
	PIN        string
	KeyLabel   string // label of the root key created on first start
}

// Environment variables of the PKCS#11 configuration.
const (
	EnvPKCS11Module     = "KEYVAULT_PKCS11_MODULE"
	EnvPKCS11TokenLabel = "KEYVAULT_PKCS11_TOKEN_LABEL"
	EnvPKCS11PIN        = "KEYVAULT_PKCS11_PIN"
	EnvPKCS11PINFile    = "KEYVAULT_PKCS11_PIN_FILE"
	EnvPKCS11KeyLabel   = "KEYVAULT_PKCS11_KEY_LABEL"
)

// DefaultPKCS11KeyLabel is the root key's label when KEYVAULT_PKCS11_KEY_LABEL
// is not set.
const DefaultPKCS11KeyLabel = "keyvault-root"

// PKCS11ConfigFromEnv reads the PKCS#11 configuration from the environment.
// The PIN comes from KEYVAULT_PKCS11_PIN or from the file named by
// KEYVAULT_PKCS11_PIN_FILE (one trailing newline is dropped), not both.
func PKCS11ConfigFromEnv() (PKCS11Config, error) {
	cfg := PKCS11Config{
		Module:     os.Getenv(EnvPKCS11Module),
		TokenLabel: os.Getenv(EnvPKCS11TokenLabel),
		PIN:        os.Getenv(EnvPKCS11PIN),
		KeyLabel:   os.Getenv(EnvPKCS11KeyLabel),
	}
	if cfg.KeyLabel == "" {
		cfg.KeyLabel = DefaultPKCS11KeyLabel
	}
	if path := os.Getenv(EnvPKCS11PINFile); path != "" {
		if cfg.PIN != "" {
			return cfg, fmt.Errorf("set only one of %s and %s", EnvPKCS11PIN, EnvPKCS11PINFile)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("read the PKCS#11 PIN file (%s): %w", EnvPKCS11PINFile, err)
		}
		cfg.PIN = strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
	}
	return cfg, cfg.validate()
}

func (c PKCS11Config) validate() error {
	var missing []string
	if c.Module == "" {
		missing = append(missing, EnvPKCS11Module)
	}
	if c.TokenLabel == "" {
		missing = append(missing, EnvPKCS11TokenLabel)
	}
	if c.PIN == "" {
		missing = append(missing, EnvPKCS11PIN+" or "+EnvPKCS11PINFile)
	}
	if len(missing) > 0 {
		return fmt.Errorf("--seal pkcs11 needs %s in the environment", strings.Join(missing, ", "))
	}
	if c.KeyLabel == "" {
		return errors.New("the PKCS#11 key label is empty: set " + EnvPKCS11KeyLabel)
	}
	return nil
}

// String keeps the PIN out of logs and formatted errors.
func (c PKCS11Config) String() string {
	return fmt.Sprintf("PKCS11Config{Module: %s, TokenLabel: %s, KeyLabel: %s, PIN: REDACTED}", c.Module, c.TokenLabel, c.KeyLabel)
}

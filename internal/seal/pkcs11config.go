package seal

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// PKCS11Config selects a PKCS#11 token and the root key in it. The PIN
// comes from the environment or a file (see PKCS11ConfigFrom), never from
// the command line, where it would show in the process list.
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
	return PKCS11ConfigFrom(os.Getenv(EnvPKCS11Module), os.Getenv(EnvPKCS11TokenLabel),
		os.Getenv(EnvPKCS11KeyLabel), os.Getenv(EnvPKCS11PINFile))
}

// PKCS11ConfigFrom builds the PKCS#11 configuration from settings that may
// come from flags or a configuration file, with the PIN from
// KEYVAULT_PKCS11_PIN or else from pinFile (one trailing newline is
// dropped), not both. An empty keyLabel means DefaultPKCS11KeyLabel.
func PKCS11ConfigFrom(module, tokenLabel, keyLabel, pinFile string) (PKCS11Config, error) {
	cfg := PKCS11Config{Module: module, TokenLabel: tokenLabel, PIN: os.Getenv(EnvPKCS11PIN), KeyLabel: keyLabel}
	if cfg.KeyLabel == "" {
		cfg.KeyLabel = DefaultPKCS11KeyLabel
	}
	if pinFile != "" {
		if cfg.PIN != "" {
			return cfg, fmt.Errorf("set only one of %s and the PIN file (%s)", EnvPKCS11PIN, EnvPKCS11PINFile)
		}
		raw, err := os.ReadFile(pinFile)
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
		return fmt.Errorf("--seal pkcs11 is missing %s: set the variables, the serve flags of the same name (--pkcs11-module, --pkcs11-token-label, --pkcs11-pin-file) or the config file", strings.Join(missing, ", "))
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

package kvtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keyvault/keyvault/internal/seal"
)

// SoftHSM2 locations as Debian's softhsm2 package installs them.
const (
	SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"
	softHSMUtil   = "softhsm2-util"
)

// SoftHSM token settings that SoftHSM initializes.
const (
	SoftHSMTokenLabel = "kv"
	SoftHSMPIN        = "1234"
	SoftHSMSOPIN      = "5678"
)

// SoftHSM initializes a fresh SoftHSM2 token labelled "kv" (user PIN 1234)
// in a temporary token directory, points SOFTHSM2_CONF at it for the rest
// of the test and returns the PKCS#11 configuration that reaches it. It
// skips the test when SoftHSM2 is not installed, except on CI (CI=true),
// where that is a failure: .ci/softhsm.sh installs it there.
func SoftHSM(tb testing.TB) seal.PKCS11Config {
	tb.Helper()
	_, moduleErr := os.Stat(SoftHSMModule)
	util, utilErr := exec.LookPath(softHSMUtil)
	if moduleErr != nil || utilErr != nil || !seal.PKCS11Available {
		msg := "SoftHSM2 is not installed (apt-get install softhsm2) or this test binary has no cgo"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	dir := tb.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		tb.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	text := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", SoftHSMTokenLabel,
		"--pin", SoftHSMPIN, "--so-pin", SoftHSMSOPIN).CombinedOutput()
	if err != nil {
		tb.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return seal.PKCS11Config{Module: SoftHSMModule, TokenLabel: SoftHSMTokenLabel, PIN: SoftHSMPIN, KeyLabel: "kv-root"}
}

//go:build cgo

package seal_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/seal"
)

func TestPKCS11RootKey(t *testing.T) {
	cfg := kvtest.SoftHSM(t)
	token, err := seal.OpenPKCS11(cfg)
	if err != nil {
		t.Fatalf("OpenPKCS11: %v", err)
	}
	defer token.Close()

	if _, _, err := token.RootKey("kv-root", false); err == nil || !strings.Contains(err.Error(), `no key labelled "kv-root"`) {
		t.Errorf("RootKey of a missing label without create = %v, want a not-found error", err)
	}
	key, created, err := token.RootKey("kv-root", true)
	if err != nil || !created {
		t.Fatalf("RootKey with create = %v, created %v, want a new key", err, created)
	}
	if key.ID() != "pkcs11:kv-root" {
		t.Errorf("ID = %q, want pkcs11:kv-root", key.ID())
	}
	aad := seal.AAD("datakey", "v1\x00id")
	wrapped, err := key.Wrap([]byte("data key material"), aad)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	if bytes.Contains(wrapped, []byte("data key material")) {
		t.Error("wrapped output contains the plaintext")
	}

	found, created, err := token.RootKey("kv-root", true)
	if err != nil || created {
		t.Fatalf("RootKey of an existing label = %v, created %v, want the existing key", err, created)
	}
	if got, err := found.Unwrap(wrapped, aad); err != nil || string(got) != "data key material" {
		t.Errorf("Unwrap = %q, %v, want %q", got, err, "data key material")
	}
	if _, err := found.Unwrap(wrapped, seal.AAD("datakey", "v2\x00id")); !errors.Is(err, seal.ErrDecrypt) {
		t.Errorf("Unwrap with another AAD = %v, want %v", err, seal.ErrDecrypt)
	}
	other, _, err := token.RootKey("kv-other", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Unwrap(wrapped, aad); !errors.Is(err, seal.ErrDecrypt) {
		t.Errorf("Unwrap with another token key = %v, want %v", err, seal.ErrDecrypt)
	}

	t.Run("Attributes", func(t *testing.T) {
		ctx, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.TokenLabel, Pin: cfg.PIN})
		if err != nil {
			t.Fatal(err)
		}
		defer ctx.Close()
		secret, err := ctx.FindKey(nil, []byte("kv-root"))
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := ctx.GetAttributes(secret, []crypto11.AttributeType{crypto11.CkaSensitive, crypto11.CkaExtractable})
		if err != nil {
			t.Fatalf("GetAttributeValue: %v", err)
		}
		if v := attrs[crypto11.CkaSensitive].Value; !bytes.Equal(v, []byte{1}) {
			t.Errorf("CKA_SENSITIVE = %v, want true", v)
		}
		if v := attrs[crypto11.CkaExtractable].Value; !bytes.Equal(v, []byte{0}) {
			t.Errorf("CKA_EXTRACTABLE = %v, want false", v)
		}
	})
}

func TestPKCS11OpenErrors(t *testing.T) {
	cfg := kvtest.SoftHSM(t)
	tests := []struct {
		name   string
		change func(*seal.PKCS11Config)
		want   string
	}{
		{name: "WrongPIN", change: func(c *seal.PKCS11Config) { c.PIN = "9999" }, want: "wrong PIN"},
		{name: "MissingModule", change: func(c *seal.PKCS11Config) { c.Module = "/nonexistent/libpkcs11.so" }, want: "/nonexistent/libpkcs11.so not found"},
		{name: "MissingToken", change: func(c *seal.PKCS11Config) { c.TokenLabel = "absent" }, want: `token "absent" not found`},
		{name: "NoPIN", change: func(c *seal.PKCS11Config) { c.PIN = "" }, want: "KEYVAULT_PKCS11_PIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			tt.change(&c)
			token, err := seal.OpenPKCS11(c)
			if err == nil {
				token.Close()
				t.Fatal("OpenPKCS11 = nil error, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

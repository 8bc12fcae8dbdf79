package main

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/spf13/cobra"
)

// cryptoOptions are the flags of the key operations.
type cryptoOptions struct {
	obj       objectOptions
	algorithm string
	value     string
	dataType  string
	iv        string
	aad       string
	tag       string
	digest    string
	signature string
}

func (o *cryptoOptions) addFlags(cmd *cobra.Command, valueUsage string) {
	fs := cmd.Flags()
	o.obj.addFlags(fs, "key", true)
	fs.StringVarP(&o.algorithm, "algorithm", "a", "", "algorithm, such as RSA-OAEP-256, A256GCM, RS256 or ES256")
	fs.StringVar(&o.value, "value", "", valueUsage)
	_ = cmd.MarkFlagRequired("algorithm")
}

// decodeBase64Flag decodes a base64 flag value, padded or not, in the
// standard or the URL alphabet.
func decodeBase64Flag(flag, value string) ([]byte, error) {
	if value == "" {
		return nil, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(value); err == nil {
			return b, nil
		}
	}
	return nil, usageError{fmt.Errorf("invalid %s: it is not base64", flag)}
}

// base64OrNil returns b in standard base64, or nil when b is empty.
func base64OrNil(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return base64.StdEncoding.EncodeToString(b)
}

func kidText(id *azkeys.ID) any {
	if id == nil {
		return nil
	}
	return string(*id)
}

var cryptoColumns = []column{{"Kid", "kid"}, {"Algorithm", "algorithm"}, {"Result", "result"}}

func newKeyCryptoCommands(conn *clientOptions) []*cobra.Command {
	return []*cobra.Command{newKeyEncryptCommand(conn), newKeyDecryptCommand(conn), newKeySignCommand(conn),
		newKeyVerifyCommand(conn), newKeyWrapCommand(conn, "wrap"), newKeyWrapCommand(conn, "unwrap")}
}

// dataTypes are the values of --data-type of encrypt and decrypt.
var dataTypes = []string{"base64", "plaintext"}

func newKeyEncryptCommand(conn *clientOptions) *cobra.Command {
	o := &cryptoOptions{obj: objectOptions{collection: "keys"}}
	cmd := &cobra.Command{
		Use:   "encrypt (--vault-name V --name N [--version VER] | --id URL) --algorithm ALG --value DATA [--data-type base64|plaintext] [--iv B64] [--aad B64]",
		Short: "Encrypt data with a key; prints the ciphertext as base64",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			alg, err := pickValue("--algorithm", o.algorithm, azkeys.PossibleEncryptionAlgorithmValues())
			if err != nil {
				return err
			}
			params := azkeys.KeyOperationParameters{Algorithm: &alg}
			if params.Value, err = o.data(); err != nil {
				return err
			}
			if params.IV, err = decodeBase64Flag("--iv", o.iv); err != nil {
				return err
			}
			if params.AdditionalAuthenticatedData, err = decodeBase64Flag("--aad", o.aad); err != nil {
				return err
			}
			s, c, ref, err := openKey(cmd, conn, &o.obj)
			if err != nil {
				return err
			}
			resp, err := c.Encrypt(cmd.Context(), ref.name, ref.version, params, nil)
			if err != nil {
				return explain(err)
			}
			out := map[string]any{"aad": base64OrNil(resp.AdditionalAuthenticatedData), "algorithm": string(alg),
				"iv": base64OrNil(resp.IV), "kid": kidText(resp.KID), "result": base64OrNil(resp.Result),
				"tag": base64OrNil(resp.AuthenticationTag)}
			return s.printer.printValue(out, cryptoColumns)
		},
	}
	o.addFlags(cmd, "data to encrypt, base64 unless --data-type plaintext")
	fs := cmd.Flags()
	fs.StringVar(&o.dataType, "data-type", "base64", "form of --value: base64 or plaintext")
	fs.StringVar(&o.iv, "iv", "", "initialization vector for AES-CBC, base64 (AES-GCM generates its own)")
	fs.StringVar(&o.aad, "aad", "", "additional authenticated data for AES-GCM, base64")
	_ = cmd.MarkFlagRequired("value")
	return cmd
}

// data returns --value as bytes, decoded as --data-type names.
func (o *cryptoOptions) data() ([]byte, error) {
	switch strings.ToLower(o.dataType) {
	case "plaintext":
		return []byte(o.value), nil
	case "base64":
		return decodeBase64Flag("--value", o.value)
	}
	return nil, usageError{fmt.Errorf("invalid --data-type %q: use %s", o.dataType, strings.Join(dataTypes, " or "))}
}

func newKeyDecryptCommand(conn *clientOptions) *cobra.Command {
	o := &cryptoOptions{obj: objectOptions{collection: "keys"}}
	cmd := &cobra.Command{
		Use:   "decrypt (--vault-name V --name N [--version VER] | --id URL) --algorithm ALG --value B64 [--iv B64] [--aad B64] [--tag B64] [--data-type base64|plaintext]",
		Short: "Decrypt ciphertext with a key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			alg, err := pickValue("--algorithm", o.algorithm, azkeys.PossibleEncryptionAlgorithmValues())
			if err != nil {
				return err
			}
			plaintext := false
			switch strings.ToLower(o.dataType) {
			case "base64":
			case "plaintext":
				plaintext = true
			default:
				return usageError{fmt.Errorf("invalid --data-type %q: use %s", o.dataType, strings.Join(dataTypes, " or "))}
			}
			params := azkeys.KeyOperationParameters{Algorithm: &alg}
			for _, f := range []struct {
				flag, value string
				dst         *[]byte
			}{{"--value", o.value, &params.Value}, {"--iv", o.iv, &params.IV},
				{"--aad", o.aad, &params.AdditionalAuthenticatedData}, {"--tag", o.tag, &params.AuthenticationTag}} {
				if *f.dst, err = decodeBase64Flag(f.flag, f.value); err != nil {
					return err
				}
			}
			s, c, ref, err := openKey(cmd, conn, &o.obj)
			if err != nil {
				return err
			}
			resp, err := c.Decrypt(cmd.Context(), ref.name, ref.version, params, nil)
			if err != nil {
				return explain(err)
			}
			result := base64OrNil(resp.Result)
			if plaintext {
				result = string(resp.Result)
			}
			out := map[string]any{"algorithm": string(alg), "kid": kidText(resp.KID), "result": result}
			return s.printer.printValue(out, cryptoColumns)
		},
	}
	o.addFlags(cmd, "ciphertext, base64")
	fs := cmd.Flags()
	fs.StringVar(&o.dataType, "data-type", "base64", "form in which to print the result: base64 or plaintext")
	fs.StringVar(&o.iv, "iv", "", "initialization vector of AES-CBC or AES-GCM, base64")
	fs.StringVar(&o.aad, "aad", "", "additional authenticated data of AES-GCM, base64")
	fs.StringVar(&o.tag, "tag", "", "authentication tag of AES-GCM, base64")
	_ = cmd.MarkFlagRequired("value")
	return cmd
}

func newKeySignCommand(conn *clientOptions) *cobra.Command {
	o := &cryptoOptions{obj: objectOptions{collection: "keys"}}
	cmd := &cobra.Command{
		Use:   "sign (--vault-name V --name N [--version VER] | --id URL) --algorithm ALG --value DIGEST",
		Short: "Sign a digest with a key; prints the signature as base64",
		Long: `Sign a digest with a key. --value (or --digest, as az names it) is the
base64 digest of the data, computed with the algorithm's hash: SHA-256 for
RS256, PS256 and ES256, SHA-384 for the 384 variants, SHA-512 for the 512
ones.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			alg, err := pickValue("--algorithm", o.algorithm, azkeys.PossibleSignatureAlgorithmValues())
			if err != nil {
				return err
			}
			digest, err := decodeBase64Flag("--value", o.value+o.digest)
			if err != nil {
				return err
			}
			s, c, ref, err := openKey(cmd, conn, &o.obj)
			if err != nil {
				return err
			}
			resp, err := c.Sign(cmd.Context(), ref.name, ref.version, azkeys.SignParameters{Algorithm: &alg, Value: digest}, nil)
			if err != nil {
				return explain(err)
			}
			out := map[string]any{"algorithm": string(alg), "kid": kidText(resp.KID), "signature": base64OrNil(resp.Result)}
			return s.printer.printValue(out, []column{{"Kid", "kid"}, {"Algorithm", "algorithm"}, {"Signature", "signature"}})
		},
	}
	o.addFlags(cmd, "digest to sign, base64")
	cmd.Flags().StringVar(&o.digest, "digest", "", "the same as --value")
	cmd.MarkFlagsMutuallyExclusive("value", "digest")
	cmd.MarkFlagsOneRequired("value", "digest")
	return cmd
}

func newKeyVerifyCommand(conn *clientOptions) *cobra.Command {
	o := &cryptoOptions{obj: objectOptions{collection: "keys"}}
	cmd := &cobra.Command{
		Use:   "verify (--vault-name V --name N [--version VER] | --id URL) --algorithm ALG --digest B64 --value SIGNATURE",
		Short: "Verify a signature of a digest with a key; prints isValid",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			alg, err := pickValue("--algorithm", o.algorithm, azkeys.PossibleSignatureAlgorithmValues())
			if err != nil {
				return err
			}
			digest, err := decodeBase64Flag("--digest", o.digest)
			if err != nil {
				return err
			}
			signature, err := decodeBase64Flag("--value", o.value+o.signature)
			if err != nil {
				return err
			}
			s, c, ref, err := openKey(cmd, conn, &o.obj)
			if err != nil {
				return err
			}
			params := azkeys.VerifyParameters{Algorithm: &alg, Digest: digest, Signature: signature}
			resp, err := c.Verify(cmd.Context(), ref.name, ref.version, params, nil)
			if err != nil {
				return explain(err)
			}
			// The verify response has no kid, so the output names the key
			// that was asked for.
			kid := ref.vaultURL + "keys/" + ref.name
			if ref.version != "" {
				kid += "/" + ref.version
			}
			out := map[string]any{"algorithm": string(alg), "isValid": valueOr(resp.Value, false), "kid": kid}
			return s.printer.printValue(out, []column{{"Kid", "kid"}, {"Algorithm", "algorithm"}, {"IsValid", "isValid"}})
		},
	}
	o.addFlags(cmd, "signature to verify, base64")
	fs := cmd.Flags()
	fs.StringVar(&o.digest, "digest", "", "digest that was signed, base64")
	fs.StringVar(&o.signature, "signature", "", "the same as --value")
	_ = cmd.MarkFlagRequired("digest")
	cmd.MarkFlagsMutuallyExclusive("value", "signature")
	cmd.MarkFlagsOneRequired("value", "signature")
	return cmd
}

// newKeyWrapCommand returns the wrap or the unwrap command.
func newKeyWrapCommand(conn *clientOptions, op string) *cobra.Command {
	o := &cryptoOptions{obj: objectOptions{collection: "keys"}}
	short, valueUsage := "Wrap (encrypt) a key with a key; prints the wrapped key as base64", "key to wrap, base64"
	if op == "unwrap" {
		short, valueUsage = "Unwrap (decrypt) a wrapped key with a key; prints the key as base64", "wrapped key, base64"
	}
	cmd := &cobra.Command{
		Use:   op + " (--vault-name V --name N [--version VER] | --id URL) --algorithm ALG --value B64",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			alg, err := pickValue("--algorithm", o.algorithm, azkeys.PossibleEncryptionAlgorithmValues())
			if err != nil {
				return err
			}
			value, err := decodeBase64Flag("--value", o.value)
			if err != nil {
				return err
			}
			s, c, ref, err := openKey(cmd, conn, &o.obj)
			if err != nil {
				return err
			}
			params := azkeys.KeyOperationParameters{Algorithm: &alg, Value: value}
			var result azkeys.KeyOperationResult
			if op == "wrap" {
				resp, err := c.WrapKey(cmd.Context(), ref.name, ref.version, params, nil)
				if err != nil {
					return explain(err)
				}
				result = resp.KeyOperationResult
			} else {
				resp, err := c.UnwrapKey(cmd.Context(), ref.name, ref.version, params, nil)
				if err != nil {
					return explain(err)
				}
				result = resp.KeyOperationResult
			}
			out := map[string]any{"algorithm": string(alg), "kid": kidText(result.KID), "result": base64OrNil(result.Result)}
			return s.printer.printValue(out, cryptoColumns)
		},
	}
	o.addFlags(cmd, valueUsage)
	_ = cmd.MarkFlagRequired("value")
	return cmd
}

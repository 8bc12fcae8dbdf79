package main

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/spf13/cobra"
)

func newKeyCommand() *cobra.Command {
	conn := &clientOptions{}
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage the keys of a vault and use them for cryptographic operations",
		Long: `Manage keys through a vault's data plane, with the flags and output layout of
az keyvault key. Private key material never leaves the server: show prints
the public part, and encrypt, decrypt, sign, verify, wrap and unwrap run on
the server. Binary values are base64 in flags and output.`,
		Args: cobra.ArbitraryArgs,
		RunE: runGroup,
	}
	conn.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(newKeyCreateCommand(conn), newKeyImportCommand(conn), newKeyShowCommand(conn),
		newKeyListCommand(conn), newKeyListVersionsCommand(conn), newKeyListDeletedCommand(conn),
		newKeyShowDeletedCommand(conn), newKeySetAttributesCommand(conn), newKeyDeleteCommand(conn),
		newKeyRecoverCommand(conn), newKeyPurgeCommand(conn), newKeyBackupCommand(conn), newKeyRestoreCommand(conn),
		newKeyRotateCommand(conn), newKeyRotationPolicyCommand(conn), newKeyRandomCommand(conn))
	cmd.AddCommand(newKeyCryptoCommands(conn)...)
	return cmd
}

// keysClient returns an azkeys client for the vault at vaultURL.
func (s *session) keysClient(vaultURL string) (*azkeys.Client, error) {
	c, err := azkeys.NewClient(vaultURL, s.cred, &azkeys.ClientOptions{ClientOptions: s.clientOptions()})
	if err != nil {
		return nil, fmt.Errorf("keys client: %w", err)
	}
	return c, nil
}

// openKey connects and returns a client of the vault of the key that o
// names.
func openKey(cmd *cobra.Command, conn *clientOptions, o *objectOptions) (*session, *azkeys.Client, objectRef, error) {
	s, err := conn.connect(cmd)
	if err != nil {
		return nil, nil, objectRef{}, err
	}
	ref, err := o.resolve(s)
	if err != nil {
		return nil, nil, objectRef{}, err
	}
	c, err := s.keysClient(ref.vaultURL)
	return s, c, ref, err
}

// openKeyVault connects and returns a client of the vault of o.
func openKeyVault(cmd *cobra.Command, conn *clientOptions, o *vaultOptions) (*session, *azkeys.Client, error) {
	s, err := conn.connect(cmd)
	if err != nil {
		return nil, nil, err
	}
	u, err := s.vaultURL(o.vaultName)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.keysClient(u)
	return s, c, err
}

// keyAttributesOutput is the attributes object of az's key output.
type keyAttributesOutput struct {
	Created         *azTime `json:"created"`
	Enabled         *bool   `json:"enabled"`
	Expires         *azTime `json:"expires"`
	Exportable      *bool   `json:"exportable"`
	HSMPlatform     *string `json:"hsmPlatform"`
	NotBefore       *azTime `json:"notBefore"`
	RecoverableDays *int32  `json:"recoverableDays"`
	RecoveryLevel   *string `json:"recoveryLevel"`
	Updated         *azTime `json:"updated"`
}

func newKeyAttributesOutput(a *azkeys.KeyAttributes) keyAttributesOutput {
	if a == nil {
		return keyAttributesOutput{}
	}
	return keyAttributesOutput{
		Created: newAzTime(a.Created), Enabled: a.Enabled, Expires: newAzTime(a.Expires), Exportable: a.Exportable,
		HSMPlatform: a.HSMPlatform, NotBefore: newAzTime(a.NotBefore), RecoverableDays: a.RecoverableDays,
		RecoveryLevel: a.RecoveryLevel, Updated: newAzTime(a.Updated),
	}
}

// jwkOutput is the key object of az's key output: all sixteen JWK fields,
// with binary fields in standard base64 (as Python's b64encode prints
// them) and null where absent.
type jwkOutput struct {
	Crv    *string  `json:"crv"`
	D      []byte   `json:"d"`
	DP     []byte   `json:"dp"`
	DQ     []byte   `json:"dq"`
	E      []byte   `json:"e"`
	K      []byte   `json:"k"`
	KeyOps []string `json:"keyOps"`
	KID    *string  `json:"kid"`
	Kty    *string  `json:"kty"`
	N      []byte   `json:"n"`
	P      []byte   `json:"p"`
	Q      []byte   `json:"q"`
	QI     []byte   `json:"qi"`
	T      []byte   `json:"t"`
	X      []byte   `json:"x"`
	Y      []byte   `json:"y"`
}

func newJWKOutput(k *azkeys.JSONWebKey) *jwkOutput {
	if k == nil {
		return nil
	}
	out := &jwkOutput{D: k.D, DP: k.DP, DQ: k.DQ, E: k.E, K: k.K, N: k.N, P: k.P, Q: k.Q, QI: k.QI, T: k.T, X: k.X, Y: k.Y}
	if k.Crv != nil {
		out.Crv = to.Ptr(string(*k.Crv))
	}
	if k.Kty != nil {
		out.Kty = to.Ptr(string(*k.Kty))
	}
	if k.KID != nil {
		out.KID = to.Ptr(string(*k.KID))
	}
	for _, op := range k.KeyOps {
		if op != nil {
			out.KeyOps = append(out.KeyOps, string(*op))
		}
	}
	return out
}

// keyOutput is the output of az keyvault key create, show, import, rotate
// and set-attributes. As in az, it has no name: the name is in key.kid.
type keyOutput struct {
	Attributes    keyAttributesOutput      `json:"attributes"`
	Key           *jwkOutput               `json:"key"`
	Managed       *bool                    `json:"managed"`
	ReleasePolicy *azkeys.KeyReleasePolicy `json:"releasePolicy"`
	Tags          map[string]string        `json:"tags"`
}

func newKeyOutput(k azkeys.KeyBundle) keyOutput {
	return keyOutput{Attributes: newKeyAttributesOutput(k.Attributes), Key: newJWKOutput(k.Key), Managed: k.Managed,
		ReleasePolicy: k.ReleasePolicy, Tags: tagsOutput(k.Tags, false)}
}

type deletedKeyOutput struct {
	keyOutput
	deletionOutput
}

// keyItemOutput is an item of az keyvault key list.
type keyItemOutput struct {
	Attributes    keyAttributesOutput      `json:"attributes"`
	KID           *string                  `json:"kid"`
	Managed       *bool                    `json:"managed"`
	Name          string                   `json:"name"`
	ReleasePolicy *azkeys.KeyReleasePolicy `json:"releasePolicy"`
	Tags          map[string]string        `json:"tags"`
}

func newKeyItemOutput(a *azkeys.KeyAttributes, kid *azkeys.ID, managed *bool, tags map[string]*string) keyItemOutput {
	out := keyItemOutput{Attributes: newKeyAttributesOutput(a), Managed: managed, Tags: tagsOutput(tags, false)}
	if kid != nil {
		out.KID, out.Name = to.Ptr(string(*kid)), kid.Name()
	}
	return out
}

type deletedKeyItemOutput struct {
	keyItemOutput
	deletionOutput
}

// Table columns of key output.
var (
	keyColumns = []column{{"Kid", "key.kid"}, {"Kty", "key.kty"}, {"KeyOps", "key.keyOps"},
		{"Enabled", "attributes.enabled"}, {"Expires", "attributes.expires"}, {"Updated", "attributes.updated"}}
	keyItemColumns = []column{{"Name", "name"}, {"Enabled", "attributes.enabled"}, {"Managed", "managed"},
		{"Expires", "attributes.expires"}, {"Updated", "attributes.updated"}, {"Kid", "kid"}}
)

// keyAttributes returns the SDK attributes of p, or nil when no flag set
// one.
func (p parsedAttributes) keyAttributes() *azkeys.KeyAttributes {
	if p.enabled == nil && p.expires == nil && p.notBefore == nil {
		return nil
	}
	return &azkeys.KeyAttributes{Enabled: p.enabled, Expires: p.expires, NotBefore: p.notBefore}
}

// pickValue returns the value of allowed that equals value, ignoring case,
// or a usage error that lists them.
func pickValue[T ~string](flag, value string, allowed []T) (T, error) {
	for _, a := range allowed {
		if strings.EqualFold(string(a), value) {
			return a, nil
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return "", usageError{fmt.Errorf("invalid %s %q: use one of %s", flag, value, strings.Join(names, ", "))}
}

// parseKeyOps reads --ops values.
func parseKeyOps(values []string) ([]*azkeys.KeyOperation, error) {
	var ops []*azkeys.KeyOperation
	for _, v := range values {
		op, err := pickValue("--ops", v, azkeys.PossibleKeyOperationValues())
		if err != nil {
			return nil, err
		}
		ops = append(ops, to.Ptr(op))
	}
	return ops, nil
}

// keyType returns the key type of --kty, --curve and --protection: EC when
// only --curve is given, else RSA, with -HSM for --protection hsm.
func keyType(kty, curve, protection string) (azkeys.KeyType, error) {
	hsm := false
	switch strings.ToLower(protection) {
	case "", "software":
	case "hsm":
		hsm = true
	default:
		return "", usageError{fmt.Errorf("invalid --protection %q: use software or hsm", protection)}
	}
	if kty == "" {
		kty = string(azkeys.KeyTypeRSA)
		if curve != "" {
			kty = string(azkeys.KeyTypeEC)
		}
	}
	t, err := pickValue("--kty", kty, azkeys.PossibleKeyTypeValues())
	if err != nil {
		return "", err
	}
	isHSM := strings.HasSuffix(string(t), "-HSM")
	if isHSM && strings.EqualFold(protection, "software") {
		return "", usageError{fmt.Errorf("--kty %s is an HSM key type, which contradicts --protection software", t)}
	}
	if hsm && !isHSM {
		t += "-HSM"
	}
	return t, nil
}

type keyCreateOptions struct {
	obj        objectOptions
	attrs      attributeFlags
	kty        string
	size       int
	curve      string
	ops        []string
	protection string
}

func newKeyCreateCommand(conn *clientOptions) *cobra.Command {
	o := &keyCreateOptions{obj: objectOptions{collection: "keys"}}
	cmd := &cobra.Command{
		Use:   "create --vault-name V --name N [--kty RSA|EC|oct] [--size BITS] [--curve C] [--ops OP ...] [--protection software|hsm]",
		Short: "Create a key, or a new version of it",
		Long: `Create a key, or a new version of it. The default is a 2048-bit RSA key, or an
EC key when only --curve is given. --protection hsm makes the -HSM key type
(RSA-HSM, EC-HSM, oct-HSM), which needs a premium vault.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, conn)
		},
	}
	fs := cmd.Flags()
	o.obj.addFlags(fs, "key", false)
	o.attrs.addCreateFlags(fs)
	fs.StringVar(&o.kty, "kty", "", "key type: RSA, EC or oct, or the -HSM variant (default RSA)")
	fs.IntVar(&o.size, "size", 0, "key size in bits: 2048, 3072 or 4096 for RSA, 128, 192 or 256 for oct")
	fs.StringVar(&o.curve, "curve", "", "elliptic curve of an EC key: P-256, P-256K, P-384 or P-521")
	fs.StringArrayVar(&o.ops, "ops", nil,
		"space-separated operations the key allows: encrypt decrypt sign verify wrapKey unwrapKey (default: all its type allows)")
	fs.StringVar(&o.protection, "protection", "software", "software, or hsm for an -HSM key type")
	allowSpacedValues(cmd, "ops", "tags")
	return cmd
}

func (o *keyCreateOptions) run(cmd *cobra.Command, conn *clientOptions) error {
	attrs, err := o.attrs.parse(cmd)
	if err != nil {
		return err
	}
	kty, err := keyType(o.kty, o.curve, o.protection)
	if err != nil {
		return err
	}
	ops, err := parseKeyOps(o.ops)
	if err != nil {
		return err
	}

	params := azkeys.CreateKeyParameters{Kty: &kty, KeyOps: ops, KeyAttributes: attrs.keyAttributes(), Tags: attrs.tags}
	if o.size < 0 {
		return usageError{fmt.Errorf("invalid --size %d: use a number of bits", o.size)}
	}
	if o.size > 0 {
		params.KeySize = to.Ptr(int32(o.size))
	}
	if o.curve != "" {
		crv, err := pickValue("--curve", o.curve, azkeys.PossibleCurveNameValues())
		if err != nil {
			return err
		}
		params.Curve = &crv
	}

	s, c, ref, err := openKey(cmd, conn, &o.obj)
	if err != nil {
		return err
	}
	resp, err := c.CreateKey(cmd.Context(), ref.name, params, nil)
	if err != nil {
		return explain(err)
	}
	return s.printer.printValue(newKeyOutput(resp.KeyBundle), keyColumns)
}

type keyImportOptions struct {
	obj        objectOptions
	attrs      attributeFlags
	pemFile    string
	jwkFile    string
	ops        []string
	protection string
}

func newKeyImportCommand(conn *clientOptions) *cobra.Command {
	o := &keyImportOptions{obj: objectOptions{collection: "keys"}}
	cmd := &cobra.Command{
		Use:   "import --vault-name V --name N (--pem-file FILE | --jwk-file FILE) [--protection software|hsm]",
		Short: "Import a private key from a PEM or JWK file",
		Long: `Import a private key as a new key or a new version of it. --pem-file takes an
unencrypted RSA or EC (P-256, P-384, P-521) private key in PKCS #8, PKCS #1 or
SEC 1 form. --jwk-file takes a JSON Web Key with its private fields, which
may also be a symmetric oct key.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, conn)
		},
	}
	fs := cmd.Flags()
	o.obj.addFlags(fs, "key", false)
	o.attrs.addCreateFlags(fs)
	fs.StringVar(&o.pemFile, "pem-file", "", "PEM file of the private key")
	fs.StringVar(&o.jwkFile, "jwk-file", "", "JSON Web Key file of the private key")
	fs.StringArrayVar(&o.ops, "ops", nil, "space-separated operations the key allows (default: all its type allows)")
	fs.StringVar(&o.protection, "protection", "software", "software, or hsm to import it as an HSM key")
	cmd.MarkFlagsMutuallyExclusive("pem-file", "jwk-file")
	cmd.MarkFlagsOneRequired("pem-file", "jwk-file")
	allowSpacedValues(cmd, "ops", "tags")
	return cmd
}

func (o *keyImportOptions) run(cmd *cobra.Command, conn *clientOptions) error {
	attrs, err := o.attrs.parse(cmd)
	if err != nil {
		return err
	}
	hsm := false
	switch strings.ToLower(o.protection) {
	case "software":
	case "hsm":
		hsm = true
	default:
		return usageError{fmt.Errorf("invalid --protection %q: use software or hsm", o.protection)}
	}

	var jwk *azkeys.JSONWebKey
	if o.pemFile != "" {
		jwk, err = readPEMKey(o.pemFile)
	} else {
		jwk, err = readJWKFile(o.jwkFile)
	}
	if err != nil {
		return err
	}
	if len(o.ops) > 0 {
		if jwk.KeyOps, err = parseKeyOps(o.ops); err != nil {
			return err
		}
	}

	s, c, ref, err := openKey(cmd, conn, &o.obj)
	if err != nil {
		return err
	}
	params := azkeys.ImportKeyParameters{Key: jwk, HSM: &hsm, KeyAttributes: attrs.keyAttributes(), Tags: attrs.tags}
	resp, err := c.ImportKey(cmd.Context(), ref.name, params, nil)
	if err != nil {
		return explain(err)
	}
	return s.printer.printValue(newKeyOutput(resp.KeyBundle), keyColumns)
}

func readJWKFile(path string) (*azkeys.JSONWebKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --jwk-file: %w", err)
	}
	var jwk azkeys.JSONWebKey
	if err := json.Unmarshal(raw, &jwk); err != nil {
		return nil, fmt.Errorf("--jwk-file %s: %w", path, err)
	}
	if jwk.Kty == nil {
		return nil, fmt.Errorf("--jwk-file %s has no kty", path)
	}
	return &jwk, nil
}

// readPEMKey reads the first private key of a PEM file as a JWK.
func readPEMKey(path string) (*azkeys.JSONWebKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --pem-file: %w", err)
	}
	for rest := raw; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("--pem-file %s has no PEM private key", path)
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "" {
			return nil, fmt.Errorf("--pem-file %s is encrypted: decrypt it first (openssl pkey -in FILE -out PLAIN.pem)", path)
		}
		var key any
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("--pem-file %s: %w", path, err)
		}
		return privateJWK(key)
	}
}

// privateJWK converts an RSA or ECDSA private key to a JWK (RFC 7518
// section 6), with EC coordinates padded to the curve's size.
func privateJWK(key any) (*azkeys.JSONWebKey, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if len(k.Primes) != 2 {
			return nil, errors.New("the RSA key has more than two primes, which a JWK cannot hold")
		}
		k.Precompute()
		return &azkeys.JSONWebKey{
			Kty: to.Ptr(azkeys.KeyTypeRSA), N: k.N.Bytes(), E: big.NewInt(int64(k.E)).Bytes(), D: k.D.Bytes(),
			P: k.Primes[0].Bytes(), Q: k.Primes[1].Bytes(), DP: k.Precomputed.Dp.Bytes(), DQ: k.Precomputed.Dq.Bytes(),
			QI: k.Precomputed.Qinv.Bytes(),
		}, nil
	case *ecdsa.PrivateKey:
		crv, err := pickValue("curve", k.Curve.Params().Name, azkeys.PossibleCurveNameValues())
		if err != nil {
			return nil, fmt.Errorf("unsupported EC curve %s", k.Curve.Params().Name)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		return &azkeys.JSONWebKey{
			Kty: to.Ptr(azkeys.KeyTypeEC), Crv: &crv,
			X: k.X.FillBytes(make([]byte, size)), Y: k.Y.FillBytes(make([]byte, size)), D: k.D.FillBytes(make([]byte, size)),
		}, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T: use an RSA or EC key", key)
}

func newKeyShowCommand(conn *clientOptions) *cobra.Command {
	o := &objectOptions{collection: "keys"}
	cmd := &cobra.Command{
		Use:   "show (--vault-name V --name N [--version VER] | --id URL)",
		Short: "Show a key's public part and attributes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, ref, err := openKey(cmd, conn, o)
			if err != nil {
				return err
			}
			resp, err := c.GetKey(cmd.Context(), ref.name, ref.version, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newKeyOutput(resp.KeyBundle), keyColumns)
		},
	}
	o.addFlags(cmd.Flags(), "key", true)
	return cmd
}

func newKeyListCommand(conn *clientOptions) *cobra.Command {
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list --vault-name V [--include-managed] [--maxresults N]",
		Short: "List the keys of a vault",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			s, c, err := openKeyVault(cmd, conn, &o.vault)
			if err != nil {
				return err
			}
			keep := func(p *azkeys.KeyProperties) bool { return o.includeManaged || !valueOr(p.Managed, false) }
			list, err := listAll(cmd.Context(), c.NewListKeyPropertiesPager(nil),
				func(r azkeys.ListKeyPropertiesResponse) []*azkeys.KeyProperties { return r.Value }, keep, o.maxResults)
			if err != nil {
				return err
			}
			out := make([]keyItemOutput, len(list))
			for i, p := range list {
				out[i] = newKeyItemOutput(p.Attributes, p.KID, p.Managed, p.Tags)
			}
			return s.printer.printValue(out, keyItemColumns)
		},
	}
	o.addFlags(cmd, "keys")
	return cmd
}

func newKeyListVersionsCommand(conn *clientOptions) *cobra.Command {
	o := &objectOptions{collection: "keys"}
	var maxResults int
	cmd := &cobra.Command{
		Use:   "list-versions (--vault-name V --name N | --id URL)",
		Short: "List the versions of a key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, ref, err := openKey(cmd, conn, o)
			if err != nil {
				return err
			}
			list, err := listAll(cmd.Context(), c.NewListKeyPropertiesVersionsPager(ref.name, nil),
				func(r azkeys.ListKeyPropertiesVersionsResponse) []*azkeys.KeyProperties { return r.Value }, nil, maxResults)
			if err != nil {
				return err
			}
			out := make([]keyItemOutput, len(list))
			for i, p := range list {
				out[i] = newKeyItemOutput(p.Attributes, p.KID, p.Managed, p.Tags)
			}
			return s.printer.printValue(out, keyItemColumns)
		},
	}
	o.addFlags(cmd.Flags(), "key", false)
	cmd.Flags().IntVar(&maxResults, "maxresults", 0, "print at most this many versions (default: all)")
	return cmd
}

func newKeyListDeletedCommand(conn *clientOptions) *cobra.Command {
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list-deleted --vault-name V [--maxresults N]",
		Short: "List the deleted keys of a vault that can still be recovered or purged",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			s, c, err := openKeyVault(cmd, conn, &o.vault)
			if err != nil {
				return err
			}
			list, err := listAll(cmd.Context(), c.NewListDeletedKeyPropertiesPager(nil),
				func(r azkeys.ListDeletedKeyPropertiesResponse) []*azkeys.DeletedKeyProperties { return r.Value },
				nil, o.maxResults)
			if err != nil {
				return err
			}
			out := make([]deletedKeyItemOutput, len(list))
			for i, d := range list {
				out[i] = deletedKeyItemOutput{keyItemOutput: newKeyItemOutput(d.Attributes, d.KID, d.Managed, d.Tags),
					deletionOutput: deletionOutput{DeletedDate: newAzTime(d.DeletedDate), RecoveryID: d.RecoveryID,
						ScheduledPurgeDate: newAzTime(d.ScheduledPurgeDate)}}
			}
			return s.printer.printValue(out, deletedColumns)
		},
	}
	o.addFlags(cmd, "")
	return cmd
}

// newKeyObjectCommand returns a command on one key, named by --vault-name
// and --name or by --id, that runs fn.
func newKeyObjectCommand(conn *clientOptions, use, short string, withVersion bool,
	fn func(cmd *cobra.Command, s *session, c *azkeys.Client, ref objectRef) error) *cobra.Command {
	o := &objectOptions{collection: "keys"}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, ref, err := openKey(cmd, conn, o)
			if err != nil {
				return err
			}
			return fn(cmd, s, c, ref)
		},
	}
	o.addFlags(cmd.Flags(), "key", withVersion)
	return cmd
}

func newDeletedKeyOutput(d azkeys.DeletedKey) deletedKeyOutput {
	return deletedKeyOutput{
		keyOutput: keyOutput{Attributes: newKeyAttributesOutput(d.Attributes), Key: newJWKOutput(d.Key), Managed: d.Managed,
			ReleasePolicy: d.ReleasePolicy, Tags: tagsOutput(d.Tags, false)},
		deletionOutput: deletionOutput{DeletedDate: newAzTime(d.DeletedDate), RecoveryID: d.RecoveryID,
			ScheduledPurgeDate: newAzTime(d.ScheduledPurgeDate)},
	}
}

func newKeyShowDeletedCommand(conn *clientOptions) *cobra.Command {
	return newKeyObjectCommand(conn, "show-deleted (--vault-name V --name N | --id RECOVERY-ID)", "Show a deleted key", false,
		func(cmd *cobra.Command, s *session, c *azkeys.Client, ref objectRef) error {
			resp, err := c.GetDeletedKey(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newDeletedKeyOutput(resp.DeletedKey), deletedColumns)
		})
}

func newKeyDeleteCommand(conn *clientOptions) *cobra.Command {
	return newKeyObjectCommand(conn, "delete (--vault-name V --name N | --id URL)",
		"Delete a key with all its versions (a soft delete: recover or purge it later)", false,
		func(cmd *cobra.Command, s *session, c *azkeys.Client, ref objectRef) error {
			resp, err := c.DeleteKey(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newDeletedKeyOutput(resp.DeletedKey), deletedColumns)
		})
}

func newKeyRecoverCommand(conn *clientOptions) *cobra.Command {
	return newKeyObjectCommand(conn, "recover (--vault-name V --name N | --id RECOVERY-ID)", "Recover a deleted key", false,
		func(cmd *cobra.Command, s *session, c *azkeys.Client, ref objectRef) error {
			resp, err := c.RecoverDeletedKey(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newKeyOutput(resp.KeyBundle), keyColumns)
		})
}

func newKeyPurgeCommand(conn *clientOptions) *cobra.Command {
	return newKeyObjectCommand(conn, "purge (--vault-name V --name N | --id RECOVERY-ID)",
		"Delete a deleted key for good; it prints nothing", false,
		func(cmd *cobra.Command, s *session, c *azkeys.Client, ref objectRef) error {
			if _, err := c.PurgeDeletedKey(cmd.Context(), ref.name, nil); err != nil {
				return explain(err)
			}
			return nil
		})
}

func newKeyRotateCommand(conn *clientOptions) *cobra.Command {
	return newKeyObjectCommand(conn, "rotate (--vault-name V --name N | --id URL)",
		"Create a new version of a key with the same type, size and operations", false,
		func(cmd *cobra.Command, s *session, c *azkeys.Client, ref objectRef) error {
			resp, err := c.RotateKey(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newKeyOutput(resp.KeyBundle), keyColumns)
		})
}

func newKeyBackupCommand(conn *clientOptions) *cobra.Command {
	f := &fileOptions{}
	cmd := newKeyObjectCommand(conn, "backup (--vault-name V --name N | --id URL) --file FILE",
		"Write an encrypted backup of a key, with all its versions, to a new file", false,
		func(cmd *cobra.Command, s *session, c *azkeys.Client, ref objectRef) error {
			resp, err := c.BackupKey(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return writeNewFile(f.file, resp.Value, 0o600)
		})
	f.addFlags(cmd, "file to write the backup to; it must not exist")
	return cmd
}

func newKeyRestoreCommand(conn *clientOptions) *cobra.Command {
	o := &vaultOptions{}
	f := &fileOptions{}
	cmd := &cobra.Command{
		Use:   "restore --vault-name V --file FILE",
		Short: "Restore a key, with all its versions, from a backup file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			blob, err := os.ReadFile(f.file)
			if err != nil {
				return fmt.Errorf("read --file: %w", err)
			}
			s, c, err := openKeyVault(cmd, conn, o)
			if err != nil {
				return err
			}
			resp, err := c.RestoreKey(cmd.Context(), azkeys.RestoreKeyParameters{KeyBackup: blob}, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newKeyOutput(resp.KeyBundle), keyColumns)
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("vault-name")
	f.addFlags(cmd, "backup file written by key backup")
	return cmd
}

func newKeySetAttributesCommand(conn *clientOptions) *cobra.Command {
	o := &objectOptions{collection: "keys"}
	attrs := &attributeFlags{}
	var ops []string
	cmd := &cobra.Command{
		Use:   "set-attributes (--vault-name V --name N [--version VER] | --id URL) [--enabled true|false] [--ops OP ...] [--expires T] [--not-before T] [--tags k=v ...]",
		Short: "Change the attributes, operations or tags of a key version",
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := attrs.parse(cmd)
			if err != nil {
				return err
			}
			params := azkeys.UpdateKeyParameters{KeyAttributes: p.keyAttributes(), Tags: p.tags}
			if cmd.Flags().Changed("ops") {
				if params.KeyOps, err = parseKeyOps(ops); err != nil {
					return err
				}
			}
			s, c, ref, err := openKey(cmd, conn, o)
			if err != nil {
				return err
			}
			resp, err := c.UpdateKey(cmd.Context(), ref.name, ref.version, params, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newKeyOutput(resp.KeyBundle), keyColumns)
		},
	}
	fs := cmd.Flags()
	o.addFlags(fs, "key", true)
	attrs.addUpdateFlags(fs)
	fs.StringArrayVar(&ops, "ops", nil, "space-separated operations the key allows, replacing the current ones")
	allowSpacedValues(cmd, "ops", "tags")
	return cmd
}

func newKeyRandomCommand(conn *clientOptions) *cobra.Command {
	o := &vaultOptions{}
	var count int
	cmd := &cobra.Command{
		Use:   "random --vault-name V --count N",
		Short: "Get random bytes from the vault's generator, as base64",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 1 || count > 128 {
				return usageError{fmt.Errorf("invalid --count %d: use 1 to 128", count)}
			}
			s, c, err := openKeyVault(cmd, conn, o)
			if err != nil {
				return err
			}
			resp, err := c.GetRandomBytes(cmd.Context(), azkeys.GetRandomBytesParameters{Count: to.Ptr(int32(count))}, nil)
			if err != nil {
				return explain(err)
			}
			out := map[string]string{"value": base64.StdEncoding.EncodeToString(resp.Value)}
			return s.printer.printValue(out, []column{{"Value", "value"}})
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().IntVar(&count, "count", 0, "number of bytes, 1 to 128")
	_ = cmd.MarkFlagRequired("vault-name")
	_ = cmd.MarkFlagRequired("count")
	return cmd
}

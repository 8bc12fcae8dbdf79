package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// fileEncodingTag is the tag in which secret set records the --encoding of
// the value, as az does; secret download decodes with it by default.
const fileEncodingTag = "file-encoding"

// secretEncodings are the values of --encoding of secret set and download.
var secretEncodings = []string{"utf-8", "ascii", "base64", "hex"}

func newSecretCommand() *cobra.Command {
	conn := &clientOptions{}
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Manage the secrets of a vault",
		Long: `Manage secrets through a vault's data plane, with the flags and output layout of
az keyvault secret. A vault is addressed as https://{vault}.{dns-suffix}:{port}/
and every connection goes to the server of the credentials file or profile.`,
		Args: cobra.ArbitraryArgs,
		RunE: runGroup,
	}
	conn.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(newSecretSetCommand(conn), newSecretShowCommand(conn), newSecretListCommand(conn),
		newSecretListVersionsCommand(conn), newSecretListDeletedCommand(conn), newSecretShowDeletedCommand(conn),
		newSecretSetAttributesCommand(conn), newSecretDeleteCommand(conn), newSecretRecoverCommand(conn),
		newSecretPurgeCommand(conn), newSecretBackupCommand(conn), newSecretRestoreCommand(conn),
		newSecretDownloadCommand(conn), newSecretImportCommand(conn), newSecretExportCommand(conn))
	return cmd
}

// secretsClient returns an azsecrets client for the vault at vaultURL.
func (s *session) secretsClient(vaultURL string) (*azsecrets.Client, error) {
	c, err := azsecrets.NewClient(vaultURL, s.cred, &azsecrets.ClientOptions{ClientOptions: s.clientOptions()})
	if err != nil {
		return nil, fmt.Errorf("secrets client: %w", err)
	}
	return c, nil
}

// openSecret connects and returns a client of the vault of the secret that
// o names.
func openSecret(cmd *cobra.Command, conn *clientOptions, o *objectOptions) (*session, *azsecrets.Client, objectRef, error) {
	s, err := conn.connect(cmd)
	if err != nil {
		return nil, nil, objectRef{}, err
	}
	ref, err := o.resolve(s)
	if err != nil {
		return nil, nil, objectRef{}, err
	}
	c, err := s.secretsClient(ref.vaultURL)
	return s, c, ref, err
}

// openSecretVault connects and returns a client of the vault of o.
func openSecretVault(cmd *cobra.Command, conn *clientOptions, o *vaultOptions) (*session, *azsecrets.Client, error) {
	s, err := conn.connect(cmd)
	if err != nil {
		return nil, nil, err
	}
	u, err := s.vaultURL(o.vaultName)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.secretsClient(u)
	return s, c, err
}

// secretAttributesOutput is the attributes object of az's secret output.
type secretAttributesOutput struct {
	Created         *azTime `json:"created"`
	Enabled         *bool   `json:"enabled"`
	Expires         *azTime `json:"expires"`
	NotBefore       *azTime `json:"notBefore"`
	RecoverableDays *int32  `json:"recoverableDays"`
	RecoveryLevel   *string `json:"recoveryLevel"`
	Updated         *azTime `json:"updated"`
}

func newSecretAttributesOutput(a *azsecrets.SecretAttributes) secretAttributesOutput {
	if a == nil {
		return secretAttributesOutput{}
	}
	return secretAttributesOutput{
		Created: newAzTime(a.Created), Enabled: a.Enabled, Expires: newAzTime(a.Expires), NotBefore: newAzTime(a.NotBefore),
		RecoverableDays: a.RecoverableDays, RecoveryLevel: a.RecoveryLevel, Updated: newAzTime(a.Updated),
	}
}

// secretItemOutput is an item of az keyvault secret list: the secret
// without kid and value.
type secretItemOutput struct {
	Attributes  secretAttributesOutput `json:"attributes"`
	ContentType *string                `json:"contentType"`
	ID          *string                `json:"id"`
	Managed     *bool                  `json:"managed"`
	Name        string                 `json:"name"`
	Tags        map[string]string      `json:"tags"`
}

// secretOutput is the output of az keyvault secret show and set.
type secretOutput struct {
	secretItemOutput
	KID   *string `json:"kid"`
	Value *string `json:"value"`
}

// deletionOutput are the fields that a deleted object adds.
type deletionOutput struct {
	DeletedDate        *azTime `json:"deletedDate"`
	RecoveryID         *string `json:"recoveryId"`
	ScheduledPurgeDate *azTime `json:"scheduledPurgeDate"`
}

type deletedSecretOutput struct {
	secretOutput
	deletionOutput
}

type deletedSecretItemOutput struct {
	secretItemOutput
	deletionOutput
}

// secretID returns the id and name of an object id.
func secretID(id *azsecrets.ID) (*string, string) {
	if id == nil {
		return nil, ""
	}
	s := string(*id)
	return &s, id.Name()
}

func newSecretItemOutput(a *azsecrets.SecretAttributes, contentType *string, id *azsecrets.ID,
	managed *bool, tags map[string]*string) secretItemOutput {
	idText, name := secretID(id)
	return secretItemOutput{Attributes: newSecretAttributesOutput(a), ContentType: contentType, ID: idText,
		Managed: managed, Name: name, Tags: tagsOutput(tags, true)}
}

func newSecretOutput(s azsecrets.Secret) secretOutput {
	item := newSecretItemOutput(s.Attributes, s.ContentType, s.ID, s.Managed, s.Tags)
	out := secretOutput{secretItemOutput: item, Value: s.Value}
	out.KID, _ = secretID(s.KID)
	return out
}

func newDeletedSecretOutput(d azsecrets.DeletedSecret) deletedSecretOutput {
	out := deletedSecretOutput{secretOutput: secretOutput{
		secretItemOutput: newSecretItemOutput(d.Attributes, d.ContentType, d.ID, d.Managed, d.Tags), Value: d.Value}}
	out.KID, _ = secretID(d.KID)
	out.deletionOutput = deletionOutput{DeletedDate: newAzTime(d.DeletedDate), RecoveryID: d.RecoveryID,
		ScheduledPurgeDate: newAzTime(d.ScheduledPurgeDate)}
	return out
}

// tagsOutput returns tags as az prints them: {} (orEmpty) or null when
// there are none.
func tagsOutput(tags map[string]*string, orEmpty bool) map[string]string {
	if tags == nil && !orEmpty {
		return nil
	}
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = valueOr(v, "")
	}
	return out
}

// Table columns of secret output.
var (
	secretColumns = []column{{"Name", "name"}, {"ContentType", "contentType"}, {"Enabled", "attributes.enabled"},
		{"Expires", "attributes.expires"}, {"Updated", "attributes.updated"}, {"Value", "value"}}
	secretItemColumns = []column{{"Name", "name"}, {"ContentType", "contentType"}, {"Enabled", "attributes.enabled"},
		{"Managed", "managed"}, {"Updated", "attributes.updated"}, {"Id", "id"}}
	deletedColumns = []column{{"Name", "name"}, {"DeletedDate", "deletedDate"},
		{"ScheduledPurgeDate", "scheduledPurgeDate"}, {"RecoveryId", "recoveryId"}}
)

// attributeFlags are the --expires, --not-before and enabled state flags
// of the commands that create or update an object.
type attributeFlags struct {
	expires   string
	notBefore string
	disabled  bool
	enabled   string // set-attributes: "true" or "false"
	tags      []string
}

func (a *attributeFlags) addCreateFlags(fs *pflag.FlagSet) {
	fs.StringVar(&a.expires, "expires", "", "expiry time, ISO 8601 in UTC unless it has an offset (2026-12-31T23:59:59Z)")
	fs.StringVar(&a.notBefore, "not-before", "", "time before which the object is not usable, ISO 8601")
	fs.BoolVar(&a.disabled, "disabled", false, "create the object disabled")
	fs.StringArrayVar(&a.tags, "tags", nil, "space-separated tags key=value; \"\" for none")
}

func (a *attributeFlags) addUpdateFlags(fs *pflag.FlagSet) {
	fs.StringVar(&a.expires, "expires", "", "expiry time, ISO 8601 in UTC unless it has an offset (2026-12-31T23:59:59Z)")
	fs.StringVar(&a.notBefore, "not-before", "", "time before which the object is not usable, ISO 8601")
	fs.StringVar(&a.enabled, "enabled", "", "enable (true) or disable (false) the object")
	fs.StringArrayVar(&a.tags, "tags", nil, "space-separated tags key=value, replacing all tags; \"\" removes them")
}

// parsedAttributes are the attribute flags as values; nil where a flag was
// not given.
type parsedAttributes struct {
	enabled   *bool
	expires   *time.Time
	notBefore *time.Time
	tags      map[string]*string
}

// parse reads the attribute flags of cmd.
func (a *attributeFlags) parse(cmd *cobra.Command) (parsedAttributes, error) {
	var p parsedAttributes
	var err error
	if p.expires, err = parseISOTime("--expires", a.expires); err != nil {
		return p, err
	}
	if p.notBefore, err = parseISOTime("--not-before", a.notBefore); err != nil {
		return p, err
	}
	if f := cmd.Flags().Lookup("disabled"); f != nil && f.Changed {
		p.enabled = to.Ptr(!a.disabled)
	}
	if f := cmd.Flags().Lookup("enabled"); f != nil && f.Changed {
		switch strings.ToLower(a.enabled) {
		case "true":
			p.enabled = to.Ptr(true)
		case "false":
			p.enabled = to.Ptr(false)
		default:
			return p, usageError{fmt.Errorf("invalid --enabled %q: use true or false", a.enabled)}
		}
	}
	if f := cmd.Flags().Lookup("tags"); f != nil && f.Changed {
		if p.tags, err = tagFlags(a.tags); err != nil {
			return p, err
		}
	}
	return p, nil
}

// secretAttributes returns the SDK attributes of p, or nil when no flag set
// one.
func (p parsedAttributes) secretAttributes() *azsecrets.SecretAttributes {
	if p.enabled == nil && p.expires == nil && p.notBefore == nil {
		return nil
	}
	return &azsecrets.SecretAttributes{Enabled: p.enabled, Expires: p.expires, NotBefore: p.notBefore}
}

type secretSetOptions struct {
	obj         objectOptions
	attrs       attributeFlags
	value       string
	file        string
	encoding    string
	contentType string
}

func newSecretSetCommand(conn *clientOptions) *cobra.Command {
	o := &secretSetOptions{obj: objectOptions{collection: "secrets"}}
	cmd := &cobra.Command{
		Use:   "set --vault-name V --name N (--value VALUE | --file FILE [--encoding E])",
		Short: "Create a secret, or a new version of it",
		Long: `Create a secret or a new version of it. The value comes from --value, or from
--file encoded as --encoding (utf-8, ascii, base64 or hex; default utf-8).
As az does, the encoding is stored in the tag file-encoding, which secret
download uses to decode the value.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, conn)
		},
	}
	fs := cmd.Flags()
	o.obj.addFlags(fs, "secret", false)
	o.attrs.addCreateFlags(fs)
	fs.StringVar(&o.value, "value", "", "value of the secret")
	fs.StringVarP(&o.file, "file", "f", "", "file whose content is the value, encoded as --encoding")
	fs.StringVarP(&o.encoding, "encoding", "e", "",
		"encoding of --file in the value: utf-8, ascii, base64 or hex (default utf-8)")
	fs.StringVar(&o.contentType, "content-type", "", "content type of the value, such as text/plain")
	cmd.MarkFlagsMutuallyExclusive("value", "file")
	cmd.MarkFlagsOneRequired("value", "file")
	allowSpacedValues(cmd, "tags")
	return cmd
}

func (o *secretSetOptions) run(cmd *cobra.Command, conn *clientOptions) error {
	attrs, err := o.attrs.parse(cmd)
	if err != nil {
		return err
	}
	encoding, err := secretEncoding(o.encoding, "utf-8")
	if err != nil {
		return err
	}
	value := o.value
	if o.file != "" {
		raw, err := os.ReadFile(o.file)
		if err != nil {
			return fmt.Errorf("read --file: %w", err)
		}
		if value, err = encodeSecretValue(raw, encoding); err != nil {
			return fmt.Errorf("--file %s: %w", o.file, err)
		}
	} else if o.encoding != "" {
		return usageError{errors.New("--encoding applies to --file only")}
	}
	tags := attrs.tags
	if tags == nil {
		tags = map[string]*string{}
	}
	if _, ok := tags[fileEncodingTag]; !ok {
		tags[fileEncodingTag] = to.Ptr(encoding)
	}

	s, c, ref, err := openSecret(cmd, conn, &o.obj)
	if err != nil {
		return err
	}
	params := azsecrets.SetSecretParameters{Value: &value, Tags: tags, SecretAttributes: attrs.secretAttributes()}
	if o.contentType != "" {
		params.ContentType = &o.contentType
	}
	resp, err := c.SetSecret(cmd.Context(), ref.name, params, nil)
	if err != nil {
		return explain(err)
	}
	return s.printer.printValue(newSecretOutput(resp.Secret), secretColumns)
}

// secretEncoding checks an --encoding value; "" is def.
func secretEncoding(encoding, def string) (string, error) {
	if encoding == "" {
		return def, nil
	}
	e := strings.ToLower(encoding)
	if !slices.Contains(secretEncodings, e) {
		return "", usageError{fmt.Errorf("invalid --encoding %q: use %s", encoding, strings.Join(secretEncodings, ", "))}
	}
	return e, nil
}

// encodeSecretValue returns raw encoded as a secret value in encoding.
func encodeSecretValue(raw []byte, encoding string) (string, error) {
	switch encoding {
	case "base64":
		return base64.StdEncoding.EncodeToString(raw), nil
	case "hex":
		return hex.EncodeToString(raw), nil
	case "ascii":
		for _, b := range raw {
			if b >= utf8.RuneSelf {
				return "", errors.New("the content is not ASCII: use --encoding base64")
			}
		}
		return string(raw), nil
	}
	if !utf8.Valid(raw) {
		return "", errors.New("the content is not UTF-8 text: use --encoding base64")
	}
	return string(raw), nil
}

// decodeSecretValue returns the bytes that a secret value encodes in
// encoding.
func decodeSecretValue(value, encoding string) ([]byte, error) {
	switch encoding {
	case "base64":
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return nil, fmt.Errorf("the value is not base64: %w", err)
		}
		return raw, nil
	case "hex":
		raw, err := hex.DecodeString(value)
		if err != nil {
			return nil, fmt.Errorf("the value is not hex: %w", err)
		}
		return raw, nil
	}
	return []byte(value), nil
}

func newSecretShowCommand(conn *clientOptions) *cobra.Command {
	o := &objectOptions{collection: "secrets"}
	cmd := &cobra.Command{
		Use:   "show (--vault-name V --name N [--version VER] | --id URL)",
		Short: "Show a secret with its value",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, ref, err := openSecret(cmd, conn, o)
			if err != nil {
				return err
			}
			resp, err := c.GetSecret(cmd.Context(), ref.name, ref.version, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newSecretOutput(resp.Secret), secretColumns)
		},
	}
	o.addFlags(cmd.Flags(), "secret", true)
	return cmd
}

// listOptions are the flags of the list commands.
type listOptions struct {
	vault          vaultOptions
	maxResults     int
	includeManaged bool
}

func (o *listOptions) addFlags(cmd *cobra.Command, managedNoun string) {
	fs := cmd.Flags()
	o.vault.addFlags(fs)
	fs.IntVar(&o.maxResults, "maxresults", 0, "print at most this many items (default: all)")
	if managedNoun != "" {
		fs.BoolVar(&o.includeManaged, "include-managed", false,
			"include the "+managedNoun+" that back certificates, which are left out by default")
	}
	_ = cmd.MarkFlagRequired("vault-name")
}

func (o *listOptions) check() error {
	if o.maxResults < 0 {
		return usageError{fmt.Errorf("invalid --maxresults %d: use a positive number", o.maxResults)}
	}
	return nil
}

func newSecretListCommand(conn *clientOptions) *cobra.Command {
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list --vault-name V [--include-managed] [--maxresults N]",
		Short: "List the secrets of a vault, without values",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			s, c, err := openSecretVault(cmd, conn, &o.vault)
			if err != nil {
				return err
			}
			keep := func(p *azsecrets.SecretProperties) bool { return o.includeManaged || !valueOr(p.Managed, false) }
			list, err := listAll(cmd.Context(), c.NewListSecretPropertiesPager(nil),
				func(r azsecrets.ListSecretPropertiesResponse) []*azsecrets.SecretProperties { return r.Value },
				keep, o.maxResults)
			if err != nil {
				return err
			}
			out := make([]secretItemOutput, len(list))
			for i, p := range list {
				out[i] = newSecretItemOutput(p.Attributes, p.ContentType, p.ID, p.Managed, p.Tags)
			}
			return s.printer.printValue(out, secretItemColumns)
		},
	}
	o.addFlags(cmd, "secrets")
	return cmd
}

func newSecretListVersionsCommand(conn *clientOptions) *cobra.Command {
	o := &objectOptions{collection: "secrets"}
	var maxResults int
	cmd := &cobra.Command{
		Use:   "list-versions (--vault-name V --name N | --id URL)",
		Short: "List the versions of a secret, without values",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, ref, err := openSecret(cmd, conn, o)
			if err != nil {
				return err
			}
			list, err := listAll(cmd.Context(), c.NewListSecretPropertiesVersionsPager(ref.name, nil),
				func(r azsecrets.ListSecretPropertiesVersionsResponse) []*azsecrets.SecretProperties { return r.Value },
				nil, maxResults)
			if err != nil {
				return err
			}
			out := make([]secretItemOutput, len(list))
			for i, p := range list {
				out[i] = newSecretItemOutput(p.Attributes, p.ContentType, p.ID, p.Managed, p.Tags)
			}
			return s.printer.printValue(out, secretItemColumns)
		},
	}
	o.addFlags(cmd.Flags(), "secret", false)
	cmd.Flags().IntVar(&maxResults, "maxresults", 0, "print at most this many versions (default: all)")
	return cmd
}

func newSecretListDeletedCommand(conn *clientOptions) *cobra.Command {
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list-deleted --vault-name V [--maxresults N]",
		Short: "List the deleted secrets of a vault that can still be recovered or purged",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			s, c, err := openSecretVault(cmd, conn, &o.vault)
			if err != nil {
				return err
			}
			list, err := listAll(cmd.Context(), c.NewListDeletedSecretPropertiesPager(nil),
				func(r azsecrets.ListDeletedSecretPropertiesResponse) []*azsecrets.DeletedSecretProperties {
					return r.Value
				}, nil, o.maxResults)
			if err != nil {
				return err
			}
			out := make([]deletedSecretItemOutput, len(list))
			for i, d := range list {
				out[i] = deletedSecretItemOutput{
					secretItemOutput: newSecretItemOutput(d.Attributes, d.ContentType, d.ID, d.Managed, d.Tags),
					deletionOutput: deletionOutput{DeletedDate: newAzTime(d.DeletedDate), RecoveryID: d.RecoveryID,
						ScheduledPurgeDate: newAzTime(d.ScheduledPurgeDate)},
				}
			}
			return s.printer.printValue(out, deletedColumns)
		},
	}
	o.addFlags(cmd, "")
	return cmd
}

// newSecretObjectCommand returns a command on one secret, named by
// --vault-name and --name or by --id, that runs fn.
func newSecretObjectCommand(conn *clientOptions, use, short string,
	fn func(cmd *cobra.Command, s *session, c *azsecrets.Client, ref objectRef) error) *cobra.Command {
	o := &objectOptions{collection: "secrets"}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, ref, err := openSecret(cmd, conn, o)
			if err != nil {
				return err
			}
			return fn(cmd, s, c, ref)
		},
	}
	o.addFlags(cmd.Flags(), "secret", false)
	return cmd
}

func newSecretShowDeletedCommand(conn *clientOptions) *cobra.Command {
	return newSecretObjectCommand(conn, "show-deleted (--vault-name V --name N | --id RECOVERY-ID)", "Show a deleted secret",
		func(cmd *cobra.Command, s *session, c *azsecrets.Client, ref objectRef) error {
			resp, err := c.GetDeletedSecret(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newDeletedSecretOutput(resp.DeletedSecret), deletedColumns)
		})
}

func newSecretDeleteCommand(conn *clientOptions) *cobra.Command {
	return newSecretObjectCommand(conn, "delete (--vault-name V --name N | --id URL)",
		"Delete a secret with all its versions (a soft delete: recover or purge it later)",
		func(cmd *cobra.Command, s *session, c *azsecrets.Client, ref objectRef) error {
			resp, err := c.DeleteSecret(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newDeletedSecretOutput(resp.DeletedSecret), deletedColumns)
		})
}

func newSecretRecoverCommand(conn *clientOptions) *cobra.Command {
	return newSecretObjectCommand(conn, "recover (--vault-name V --name N | --id RECOVERY-ID)", "Recover a deleted secret",
		func(cmd *cobra.Command, s *session, c *azsecrets.Client, ref objectRef) error {
			resp, err := c.RecoverDeletedSecret(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newSecretOutput(resp.Secret), secretColumns)
		})
}

func newSecretPurgeCommand(conn *clientOptions) *cobra.Command {
	return newSecretObjectCommand(conn, "purge (--vault-name V --name N | --id RECOVERY-ID)",
		"Delete a deleted secret for good; it prints nothing",
		func(cmd *cobra.Command, s *session, c *azsecrets.Client, ref objectRef) error {
			if _, err := c.PurgeDeletedSecret(cmd.Context(), ref.name, nil); err != nil {
				return explain(err)
			}
			return nil
		})
}

func newSecretSetAttributesCommand(conn *clientOptions) *cobra.Command {
	o := &objectOptions{collection: "secrets"}
	attrs := &attributeFlags{}
	var contentType string
	cmd := &cobra.Command{
		Use:   "set-attributes (--vault-name V --name N [--version VER] | --id URL) [--enabled true|false] [--expires T] [--not-before T] [--content-type T] [--tags k=v ...]",
		Short: "Change the attributes, content type or tags of a secret version",
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := attrs.parse(cmd)
			if err != nil {
				return err
			}
			s, c, ref, err := openSecret(cmd, conn, o)
			if err != nil {
				return err
			}
			params := azsecrets.UpdateSecretPropertiesParameters{SecretAttributes: p.secretAttributes(), Tags: p.tags}
			if cmd.Flags().Changed("content-type") {
				params.ContentType = &contentType
			}
			resp, err := c.UpdateSecretProperties(cmd.Context(), ref.name, ref.version, params, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newSecretOutput(resp.Secret), secretColumns)
		},
	}
	fs := cmd.Flags()
	o.addFlags(fs, "secret", true)
	attrs.addUpdateFlags(fs)
	fs.StringVar(&contentType, "content-type", "", "content type of the value")
	allowSpacedValues(cmd, "tags")
	return cmd
}

// fileOptions name the file of a backup, restore or download.
type fileOptions struct {
	file string
}

func (f *fileOptions) addFlags(cmd *cobra.Command, usage string) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "", usage)
	_ = cmd.MarkFlagRequired("file")
}

func newSecretBackupCommand(conn *clientOptions) *cobra.Command {
	f := &fileOptions{}
	cmd := newSecretObjectCommand(conn, "backup (--vault-name V --name N | --id URL) --file FILE",
		"Write an encrypted backup of a secret, with all its versions, to a new file",
		func(cmd *cobra.Command, s *session, c *azsecrets.Client, ref objectRef) error {
			resp, err := c.BackupSecret(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return writeNewFile(f.file, resp.Value, 0o600)
		})
	f.addFlags(cmd, "file to write the backup to; it must not exist")
	return cmd
}

func newSecretRestoreCommand(conn *clientOptions) *cobra.Command {
	o := &vaultOptions{}
	f := &fileOptions{}
	cmd := &cobra.Command{
		Use:   "restore --vault-name V --file FILE",
		Short: "Restore a secret, with all its versions, from a backup file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			blob, err := os.ReadFile(f.file)
			if err != nil {
				return fmt.Errorf("read --file: %w", err)
			}
			s, c, err := openSecretVault(cmd, conn, o)
			if err != nil {
				return err
			}
			resp, err := c.RestoreSecret(cmd.Context(), azsecrets.RestoreSecretParameters{SecretBackup: blob}, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newSecretOutput(resp.Secret), secretColumns)
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("vault-name")
	f.addFlags(cmd, "backup file written by secret backup")
	return cmd
}

func newSecretDownloadCommand(conn *clientOptions) *cobra.Command {
	o := &objectOptions{collection: "secrets"}
	f := &fileOptions{}
	var encoding string
	cmd := &cobra.Command{
		Use:   "download (--vault-name V --name N [--version VER] | --id URL) --file FILE [--encoding E]",
		Short: "Write the decoded value of a secret to a new file",
		Long: `Write the value of a secret to a new file (mode 0600), decoded from --encoding:
utf-8 and ascii write the value as it is, base64 and hex decode it. The
default is the secret's file-encoding tag, else utf-8.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := secretEncoding(encoding, ""); err != nil {
				return err
			}
			_, c, ref, err := openSecret(cmd, conn, o)
			if err != nil {
				return err
			}
			resp, err := c.GetSecret(cmd.Context(), ref.name, ref.version, nil)
			if err != nil {
				return explain(err)
			}
			enc := encoding
			if enc == "" {
				enc = "utf-8"
				if tag := resp.Tags[fileEncodingTag]; tag != nil && slices.Contains(secretEncodings, strings.ToLower(*tag)) {
					enc = strings.ToLower(*tag)
				}
			}
			raw, err := decodeSecretValue(valueOr(resp.Value, ""), strings.ToLower(enc))
			if err != nil {
				return fmt.Errorf("secret %s: %w", ref.name, err)
			}
			return writeNewFile(f.file, raw, 0o600)
		},
	}
	o.addFlags(cmd.Flags(), "secret", true)
	f.addFlags(cmd, "file to write the value to; it must not exist")
	cmd.Flags().StringVarP(&encoding, "encoding", "e", "",
		"encoding of the value: utf-8, ascii, base64 or hex (default: the file-encoding tag, else utf-8)")
	return cmd
}

// isoLayouts are the time layouts that --expires and --not-before accept,
// the ISO 8601 forms that az accepts. A time without an offset is UTC.
var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"}

// parseISOTime parses the value of a time flag; "" is nil.
func parseISOTime(flag, value string) (*time.Time, error) {
	if value == "" {
		return nil, nil
	}
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, value); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, usageError{fmt.Errorf("invalid %s %q: use ISO 8601, such as 2026-12-31T23:59:59Z or 2026-12-31", flag, value)}
}

// tagFlags parses the values of --tags; a single "" means no tags.
func tagFlags(values []string) (map[string]*string, error) {
	if len(values) == 1 && values[0] == "" {
		return map[string]*string{}, nil
	}
	tags, err := parseTags(values)
	if err != nil {
		return nil, usageError{err}
	}
	return tags, nil
}

// valueOr returns *p, or def when p is nil.
func valueOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

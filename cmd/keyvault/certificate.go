package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Certificate creation with issuer Self completes at once on this server;
// create still polls a pending operation, up to createPollTimeout.
const (
	createPollInterval = 500 * time.Millisecond
	createPollTimeout  = time.Minute
)

func newCertificateCommand() *cobra.Command {
	conn := &clientOptions{}
	cmd := &cobra.Command{
		Use:   "certificate",
		Short: "Manage the certificates of a vault, their policies, pending requests, contacts and issuers",
		Long: `Manage certificates through a vault's data plane, with the flags and output
layout of az keyvault certificate. A certificate owns a key and a secret of
the same name; download writes its public certificate, and secret download
its PKCS #12 or PEM file with the private key.`,
		Args: cobra.ArbitraryArgs,
		RunE: runGroup,
	}
	conn.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(newCertificateCreateCommand(conn), newCertificateDefaultPolicyCommand(conn),
		newCertificateImportCommand(conn), newCertificateShowCommand(conn), newCertificateListCommand(conn),
		newCertificateListVersionsCommand(conn), newCertificateDownloadCommand(conn), newCertificateDeleteCommand(conn),
		newCertificateRecoverCommand(conn), newCertificatePurgeCommand(conn), newCertificatePendingCommand(conn),
		newCertificateContactCommand(conn), newCertificateIssuerCommand(conn))
	return cmd
}

// certificatesClient returns an azcertificates client for the vault at
// vaultURL.
func (s *session) certificatesClient(vaultURL string) (*azcertificates.Client, error) {
	c, err := azcertificates.NewClient(vaultURL, s.cred, &azcertificates.ClientOptions{ClientOptions: s.clientOptions()})
	if err != nil {
		return nil, fmt.Errorf("certificates client: %w", err)
	}
	return c, nil
}

// openCertificate connects and returns a client of the vault of the
// certificate that o names.
func openCertificate(cmd *cobra.Command, conn *clientOptions, o *objectOptions) (
	*session, *azcertificates.Client, objectRef, error) {
	s, err := conn.connect(cmd)
	if err != nil {
		return nil, nil, objectRef{}, err
	}
	ref, err := o.resolve(s)
	if err != nil {
		return nil, nil, objectRef{}, err
	}
	c, err := s.certificatesClient(ref.vaultURL)
	return s, c, ref, err
}

// openCertificateVault connects and returns a client of the vault of o.
func openCertificateVault(cmd *cobra.Command, conn *clientOptions, o *vaultOptions) (*session, *azcertificates.Client, error) {
	s, err := conn.connect(cmd)
	if err != nil {
		return nil, nil, err
	}
	u, err := s.vaultURL(o.vaultName)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.certificatesClient(u)
	return s, c, err
}

// certAttributesOutput is the attributes object of az's certificate
// output.
type certAttributesOutput struct {
	Created         *azTime `json:"created"`
	Enabled         *bool   `json:"enabled"`
	Expires         *azTime `json:"expires"`
	NotBefore       *azTime `json:"notBefore"`
	RecoverableDays *int32  `json:"recoverableDays"`
	RecoveryLevel   *string `json:"recoveryLevel"`
	Updated         *azTime `json:"updated"`
}

func newCertAttributesOutput(a *azcertificates.CertificateAttributes) *certAttributesOutput {
	if a == nil {
		return nil
	}
	return &certAttributesOutput{
		Created: newAzTime(a.Created), Enabled: a.Enabled, Expires: newAzTime(a.Expires), NotBefore: newAzTime(a.NotBefore),
		RecoverableDays: a.RecoverableDays, RecoveryLevel: a.RecoveryLevel, Updated: newAzTime(a.Updated),
	}
}

// certPolicyJSON is a certificate policy in az's layout. It is both the
// output of the certificate commands and an input layout of --policy.
type certPolicyJSON struct {
	Attributes                *certAttributesOutput `json:"attributes"`
	ID                        *string               `json:"id"`
	IssuerParameters          *issuerParamsJSON     `json:"issuerParameters"`
	KeyProperties             *keyPropsJSON         `json:"keyProperties"`
	LifetimeActions           []certLifetimeJSON    `json:"lifetimeActions"`
	SecretProperties          *secretPropsJSON      `json:"secretProperties"`
	X509CertificateProperties *x509PropsJSON        `json:"x509CertificateProperties"`
}

type issuerParamsJSON struct {
	CertificateTransparency *bool   `json:"certificateTransparency"`
	CertificateType         *string `json:"certificateType"`
	Name                    *string `json:"name"`
}

type keyPropsJSON struct {
	Curve      *string `json:"curve"`
	Exportable *bool   `json:"exportable"`
	KeySize    *int32  `json:"keySize"`
	KeyType    *string `json:"keyType"`
	ReuseKey   *bool   `json:"reuseKey"`
}

type certLifetimeJSON struct {
	Action struct {
		ActionType *string `json:"actionType"`
	} `json:"action"`
	Trigger struct {
		DaysBeforeExpiry   *int32 `json:"daysBeforeExpiry"`
		LifetimePercentage *int32 `json:"lifetimePercentage"`
	} `json:"trigger"`
}

type secretPropsJSON struct {
	ContentType *string `json:"contentType"`
}

type x509PropsJSON struct {
	EKUs                    []string  `json:"ekus"`
	KeyUsage                []string  `json:"keyUsage"`
	Subject                 *string   `json:"subject"`
	SubjectAlternativeNames *sansJSON `json:"subjectAlternativeNames"`
	ValidityInMonths        *int32    `json:"validityInMonths"`
}

type sansJSON struct {
	DNSNames []string `json:"dnsNames"`
	Emails   []string `json:"emails"`
	UPNs     []string `json:"upns"`
}

func derefStrings(list []*string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out
}

func newCertPolicyJSON(p *azcertificates.CertificatePolicy) *certPolicyJSON {
	if p == nil {
		return nil
	}
	out := &certPolicyJSON{Attributes: newCertAttributesOutput(p.Attributes), LifetimeActions: []certLifetimeJSON{}}
	if p.ID != nil {
		out.ID = to.Ptr(string(*p.ID))
	}
	out.IssuerParameters = newIssuerParamsJSON(p.IssuerParameters)
	if kp := p.KeyProperties; kp != nil {
		out.KeyProperties = &keyPropsJSON{Exportable: kp.Exportable, KeySize: kp.KeySize, ReuseKey: kp.ReuseKey}
		if kp.Curve != nil {
			out.KeyProperties.Curve = to.Ptr(string(*kp.Curve))
		}
		if kp.KeyType != nil {
			out.KeyProperties.KeyType = to.Ptr(string(*kp.KeyType))
		}
	}
	for _, la := range p.LifetimeActions {
		if la == nil {
			continue
		}
		var item certLifetimeJSON
		if la.Action != nil && la.Action.ActionType != nil {
			item.Action.ActionType = to.Ptr(string(*la.Action.ActionType))
		}
		if t := la.Trigger; t != nil {
			item.Trigger.DaysBeforeExpiry, item.Trigger.LifetimePercentage = t.DaysBeforeExpiry, t.LifetimePercentage
		}
		out.LifetimeActions = append(out.LifetimeActions, item)
	}
	if sp := p.SecretProperties; sp != nil {
		out.SecretProperties = &secretPropsJSON{ContentType: sp.ContentType}
	}
	if xp := p.X509CertificateProperties; xp != nil {
		out.X509CertificateProperties = &x509PropsJSON{EKUs: derefStrings(xp.EnhancedKeyUsage), Subject: xp.Subject,
			ValidityInMonths: xp.ValidityInMonths}
		for _, u := range xp.KeyUsage {
			if u != nil {
				out.X509CertificateProperties.KeyUsage = append(out.X509CertificateProperties.KeyUsage, string(*u))
			}
		}
		if san := xp.SubjectAlternativeNames; san != nil {
			out.X509CertificateProperties.SubjectAlternativeNames = &sansJSON{DNSNames: derefStrings(san.DNSNames),
				Emails: derefStrings(san.Emails), UPNs: derefStrings(san.UserPrincipalNames)}
		}
	}
	return out
}

// sdkPolicy converts a policy in az's layout to the SDK's.
func (p *certPolicyJSON) sdkPolicy() *azcertificates.CertificatePolicy {
	out := &azcertificates.CertificatePolicy{}
	if a := p.Attributes; a != nil && a.Enabled != nil {
		out.Attributes = &azcertificates.CertificateAttributes{Enabled: a.Enabled}
	}
	if ip := p.IssuerParameters; ip != nil {
		out.IssuerParameters = &azcertificates.IssuerParameters{CertificateTransparency: ip.CertificateTransparency,
			CertificateType: ip.CertificateType, Name: ip.Name}
	}
	if kp := p.KeyProperties; kp != nil {
		out.KeyProperties = &azcertificates.KeyProperties{Exportable: kp.Exportable, KeySize: kp.KeySize, ReuseKey: kp.ReuseKey}
		if kp.Curve != nil {
			out.KeyProperties.Curve = to.Ptr(azcertificates.CurveName(*kp.Curve))
		}
		if kp.KeyType != nil {
			out.KeyProperties.KeyType = to.Ptr(azcertificates.KeyType(*kp.KeyType))
		}
	}
	for _, la := range p.LifetimeActions {
		item := &azcertificates.LifetimeAction{Trigger: &azcertificates.LifetimeActionTrigger{
			DaysBeforeExpiry: la.Trigger.DaysBeforeExpiry, LifetimePercentage: la.Trigger.LifetimePercentage}}
		if a := la.Action.ActionType; a != nil {
			item.Action = &azcertificates.LifetimeActionType{ActionType: to.Ptr(azcertificates.CertificatePolicyAction(*a))}
		}
		out.LifetimeActions = append(out.LifetimeActions, item)
	}
	if sp := p.SecretProperties; sp != nil {
		out.SecretProperties = &azcertificates.SecretProperties{ContentType: sp.ContentType}
	}
	if xp := p.X509CertificateProperties; xp != nil {
		out.X509CertificateProperties = &azcertificates.X509CertificateProperties{
			EnhancedKeyUsage: to.SliceOfPtrs(xp.EKUs...), Subject: xp.Subject, ValidityInMonths: xp.ValidityInMonths}
		x509Props := out.X509CertificateProperties
		for _, u := range xp.KeyUsage {
			x509Props.KeyUsage = append(x509Props.KeyUsage, to.Ptr(azcertificates.KeyUsageType(u)))
		}
		if san := xp.SubjectAlternativeNames; san != nil {
			x509Props.SubjectAlternativeNames = &azcertificates.SubjectAlternativeNames{DNSNames: to.SliceOfPtrs(san.DNSNames...),
				Emails: to.SliceOfPtrs(san.Emails...), UserPrincipalNames: to.SliceOfPtrs(san.UPNs...)}
		}
	}
	return out
}

// defaultCertPolicy is the policy of az keyvault certificate
// get-default-policy: a self-signed 2048-bit RSA certificate for 12 months
// in a PKCS #12 secret, renewed 90 days before it expires.
func defaultCertPolicy() *certPolicyJSON {
	p := &certPolicyJSON{
		IssuerParameters: &issuerParamsJSON{Name: to.Ptr("Self")},
		KeyProperties: &keyPropsJSON{Exportable: to.Ptr(true), KeySize: to.Ptr(int32(2048)), KeyType: to.Ptr("RSA"),
			ReuseKey: to.Ptr(true)},
		SecretProperties: &secretPropsJSON{ContentType: to.Ptr("application/x-pkcs12")},
		X509CertificateProperties: &x509PropsJSON{
			KeyUsage: []string{"cRLSign", "dataEncipherment", "digitalSignature", "keyEncipherment",
				"keyAgreement", "keyCertSign"},
			Subject: to.Ptr("CN=CLIGetDefaultPolicy"), ValidityInMonths: to.Ptr(int32(12)),
		},
	}
	var renew certLifetimeJSON
	renew.Action.ActionType = to.Ptr("AutoRenew")
	renew.Trigger.DaysBeforeExpiry = to.Ptr(int32(90))
	p.LifetimeActions = []certLifetimeJSON{renew}
	return p
}

// wirePolicyKeys are the top-level keys of a policy in the REST layout.
var wirePolicyKeys = []string{"key_props", "secret_props", "x509_props", "lifetime_actions", "issuer"}

// readPolicy reads --policy: "@default" for the default policy, inline
// JSON, or a JSON file (with or without a leading "@"), in az's layout or
// the REST layout.
func readPolicy(value string) (*azcertificates.CertificatePolicy, error) {
	if value == "@default" {
		return defaultCertPolicy().sdkPolicy(), nil
	}
	raw := []byte(value)
	if !strings.HasPrefix(strings.TrimSpace(value), "{") {
		var err error
		if raw, err = os.ReadFile(strings.TrimPrefix(value, "@")); err != nil {
			return nil, usageError{fmt.Errorf("read --policy: %w", err)}
		}
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, usageError{fmt.Errorf("--policy: %w", err)}
	}
	for _, k := range wirePolicyKeys {
		if _, ok := keys[k]; ok {
			var p azcertificates.CertificatePolicy
			if err := json.Unmarshal(raw, &p); err != nil {
				return nil, usageError{fmt.Errorf("--policy: %w", err)}
			}
			return &p, nil
		}
	}
	var p certPolicyJSON
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, usageError{fmt.Errorf("--policy: %w", err)}
	}
	return p.sdkPolicy(), nil
}

// certificateItemOutput is an item of az keyvault certificate list.
type certificateItemOutput struct {
	Attributes        *certAttributesOutput `json:"attributes"`
	ID                *string               `json:"id"`
	Name              string                `json:"name"`
	Tags              map[string]string     `json:"tags"`
	X509Thumbprint    *string               `json:"x509Thumbprint"`
	X509ThumbprintHex *string               `json:"x509ThumbprintHex"`
}

// certificateOutput is the output of az keyvault certificate show and
// import.
type certificateOutput struct {
	certificateItemOutput
	Cer         []byte          `json:"cer"`
	ContentType *string         `json:"contentType"`
	KID         *string         `json:"kid"`
	Policy      *certPolicyJSON `json:"policy"`
	SID         *string         `json:"sid"`
}

type deletedCertificateOutput struct {
	certificateOutput
	deletionOutput
}

func newCertificateItemOutput(a *azcertificates.CertificateAttributes, id *azcertificates.ID,
	tags map[string]*string, thumbprint []byte) certificateItemOutput {
	out := certificateItemOutput{Attributes: newCertAttributesOutput(a), Tags: tagsOutput(tags, true)}
	if id != nil {
		out.ID, out.Name = to.Ptr(string(*id)), id.Name()
	}
	if len(thumbprint) > 0 {
		out.X509Thumbprint = to.Ptr(base64.StdEncoding.EncodeToString(thumbprint))
		out.X509ThumbprintHex = to.Ptr(strings.ToUpper(hex.EncodeToString(thumbprint)))
	}
	return out
}

func newIssuerParamsJSON(ip *azcertificates.IssuerParameters) *issuerParamsJSON {
	if ip == nil {
		return nil
	}
	return &issuerParamsJSON{CertificateTransparency: ip.CertificateTransparency, CertificateType: ip.CertificateType, Name: ip.Name}
}

func idText(id *azcertificates.ID) *string {
	if id == nil {
		return nil
	}
	return to.Ptr(string(*id))
}

func newCertificateOutput(c azcertificates.Certificate) certificateOutput {
	return certificateOutput{certificateItemOutput: newCertificateItemOutput(c.Attributes, c.ID, c.Tags, c.X509Thumbprint),
		Cer: c.CER, ContentType: c.ContentType, KID: idText(c.KID), Policy: newCertPolicyJSON(c.Policy), SID: idText(c.SID)}
}

// operationOutput is a pending certificate operation as az prints it.
type operationOutput struct {
	CancellationRequested *bool             `json:"cancellationRequested"`
	CSR                   []byte            `json:"csr"`
	Error                 *operationError   `json:"error"`
	ID                    *string           `json:"id"`
	IssuerParameters      *issuerParamsJSON `json:"issuerParameters"`
	Name                  string            `json:"name"`
	RequestID             *string           `json:"requestId"`
	Status                *string           `json:"status"`
	StatusDetails         *string           `json:"statusDetails"`
	Target                *string           `json:"target"`
}

type operationError struct {
	Code    *string `json:"code"`
	Message *string `json:"message"`
}

func newOperationOutput(op azcertificates.CertificateOperation, name string) operationOutput {
	out := operationOutput{CancellationRequested: op.CancellationRequested, CSR: op.CSR, ID: idText(op.ID), Name: name,
		RequestID: op.RequestID, Status: op.Status, StatusDetails: op.StatusDetails, Target: op.Target}
	out.IssuerParameters = newIssuerParamsJSON(op.IssuerParameters)
	if e := op.Error; e != nil {
		// ErrorInfo keeps only the code; Error returns the raw error object.
		var raw struct {
			Message *string `json:"message"`
		}
		_ = json.Unmarshal([]byte(e.Error()), &raw)
		out.Error = &operationError{Code: to.Ptr(e.Code), Message: raw.Message}
	}
	return out
}

// Table columns of certificate output.
var (
	certificateColumns = []column{{"Name", "name"}, {"Enabled", "attributes.enabled"}, {"Expires", "attributes.expires"},
		{"Subject", "policy.x509CertificateProperties.subject"}, {"Thumbprint", "x509ThumbprintHex"}, {"Id", "id"}}
	certificateItemColumns = []column{{"Name", "name"}, {"Enabled", "attributes.enabled"}, {"Expires", "attributes.expires"},
		{"Thumbprint", "x509ThumbprintHex"}, {"Id", "id"}}
	operationColumns = []column{{"Name", "name"}, {"Status", "status"}, {"Issuer", "issuerParameters.name"},
		{"StatusDetails", "statusDetails"}, {"Target", "target"}}
	policyColumns = []column{{"Subject", "x509CertificateProperties.subject"}, {"Issuer", "issuerParameters.name"},
		{"KeyType", "keyProperties.keyType"}, {"KeySize", "keyProperties.keySize"},
		{"ValidityInMonths", "x509CertificateProperties.validityInMonths"}, {"ContentType", "secretProperties.contentType"}}
)

// certificateAttributes returns the SDK attributes of p, or nil when no
// flag set one.
func (p parsedAttributes) certificateAttributes() *azcertificates.CertificateAttributes {
	if p.enabled == nil {
		return nil
	}
	return &azcertificates.CertificateAttributes{Enabled: p.enabled}
}

// certificateCreateFlags are the flags of certificate create and import
// besides the certificate's name.
type certificateCreateFlags struct {
	policy   string
	disabled bool
	tags     []string
}

func (f *certificateCreateFlags) addFlags(fs *pflag.FlagSet, policyUsage string) {
	fs.StringVarP(&f.policy, "policy", "p", "", policyUsage)
	fs.BoolVar(&f.disabled, "disabled", false, "create the certificate disabled")
	fs.StringArrayVar(&f.tags, "tags", nil, "space-separated tags key=value")
}

func (f *certificateCreateFlags) parse(cmd *cobra.Command) (parsedAttributes, error) {
	a := attributeFlags{disabled: f.disabled, tags: f.tags}
	return a.parse(cmd)
}

func newCertificateCreateCommand(conn *clientOptions) *cobra.Command {
	o := &objectOptions{collection: "certificates"}
	f := &certificateCreateFlags{}
	var validity int
	cmd := &cobra.Command{
		Use:   "create --vault-name V --name N --policy (@default | FILE | JSON) [--validity MONTHS]",
		Short: "Create a certificate, or a new version of it, from a policy",
		Long: `Create a certificate, or a new version of it, from a policy. With issuer Self
the certificate is issued at once; with issuer Unknown (or a third-party
issuer) the request stays pending with a CSR: sign it elsewhere and run
certificate pending merge. The command prints the certificate operation.

--policy is @default (certificate get-default-policy), a JSON file, or inline
JSON, in the layout that get-default-policy prints or in the REST layout.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			attrs, err := f.parse(cmd)
			if err != nil {
				return err
			}
			policy, err := readPolicy(f.policy)
			if err != nil {
				return err
			}
			if validity < 0 {
				return usageError{fmt.Errorf("invalid --validity %d: use a number of months", validity)}
			}
			if validity > 0 {
				if policy.X509CertificateProperties == nil {
					policy.X509CertificateProperties = &azcertificates.X509CertificateProperties{}
				}
				policy.X509CertificateProperties.ValidityInMonths = to.Ptr(int32(validity))
			}
			s, c, ref, err := openCertificate(cmd, conn, o)
			if err != nil {
				return err
			}
			params := azcertificates.CreateCertificateParameters{CertificatePolicy: policy,
				CertificateAttributes: attrs.certificateAttributes(), Tags: attrs.tags}
			resp, err := c.CreateCertificate(cmd.Context(), ref.name, params, nil)
			if err != nil {
				return explain(err)
			}
			op, err := waitSelfSigned(cmd.Context(), c, ref.name, resp.CertificateOperation)
			if err != nil {
				return err
			}
			return s.printer.printValue(newOperationOutput(op, ref.name), operationColumns)
		},
	}
	o.addFlags(cmd.Flags(), "certificate", false)
	f.addFlags(cmd.Flags(), "policy: @default, a JSON file or inline JSON")
	cmd.Flags().IntVar(&validity, "validity", 0, "validity in months, in place of the policy's")
	_ = cmd.MarkFlagRequired("policy")
	allowSpacedValues(cmd, "tags")
	return cmd
}

// waitSelfSigned polls the operation of a self-signed certificate until it
// is no longer in progress. Operations of other issuers wait for a merge,
// so they are returned as they are.
func waitSelfSigned(ctx context.Context, c *azcertificates.Client, name string,
	op azcertificates.CertificateOperation) (azcertificates.CertificateOperation, error) {
	deadline := time.Now().Add(createPollTimeout)
	for valueOr(op.Status, "") == "inProgress" && op.IssuerParameters != nil &&
		strings.EqualFold(valueOr(op.IssuerParameters.Name, ""), "Self") {
		if time.Now().After(deadline) {
			return op, fmt.Errorf("certificate %s is still being issued after %s: see certificate pending show",
				name, createPollTimeout)
		}
		select {
		case <-ctx.Done():
			return op, ctx.Err()
		case <-time.After(createPollInterval):
		}
		resp, err := c.GetCertificateOperation(ctx, name, nil)
		if err != nil {
			return op, explain(err)
		}
		op = resp.CertificateOperation
	}
	return op, nil
}

func newCertificateDefaultPolicyCommand(conn *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "get-default-policy",
		Short: "Print az's default certificate policy, to edit and pass to create --policy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := newPrinter(cmd.OutOrStdout(), conn.output)
			if err != nil {
				return usageError{err}
			}
			if p.query, err = compileQuery(conn.query); err != nil {
				return usageError{err}
			}
			return p.printValue(defaultCertPolicy(), policyColumns)
		},
	}
}

func newCertificateImportCommand(conn *clientOptions) *cobra.Command {
	o := &objectOptions{collection: "certificates"}
	f := &certificateCreateFlags{}
	var file, password string
	cmd := &cobra.Command{
		Use:   "import --vault-name V --name N --file FILE [--password P] [--policy FILE]",
		Short: "Import a certificate with its private key from a PKCS #12 or PEM file",
		Long: `Import a certificate with its private key. --file is a PKCS #12 (PFX) file,
with --password if it has one, or a PEM file with the certificate chain and
an unencrypted private key; a PEM file is stored as PEM
(application/x-pem-file) unless --policy says otherwise.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			attrs, err := f.parse(cmd)
			if err != nil {
				return err
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("read --file: %w", err)
			}
			params := azcertificates.ImportCertificateParameters{
				CertificateAttributes: attrs.certificateAttributes(), Tags: attrs.tags}
			if f.policy != "" {
				if params.CertificatePolicy, err = readPolicy(f.policy); err != nil {
					return err
				}
			}
			if bytes.Contains(raw, []byte("-----BEGIN")) {
				params.Base64EncodedCertificate = to.Ptr(string(raw))
				if params.CertificatePolicy == nil {
					params.CertificatePolicy = &azcertificates.CertificatePolicy{
						SecretProperties: &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pem-file")}}
				}
			} else {
				params.Base64EncodedCertificate = to.Ptr(base64.StdEncoding.EncodeToString(raw))
			}
			if password != "" {
				params.Password = &password
			}
			s, c, ref, err := openCertificate(cmd, conn, o)
			if err != nil {
				return err
			}
			resp, err := c.ImportCertificate(cmd.Context(), ref.name, params, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newCertificateOutput(resp.Certificate), certificateColumns)
		},
	}
	o.addFlags(cmd.Flags(), "certificate", false)
	f.addFlags(cmd.Flags(), "policy: @default, a JSON file or inline JSON (default: derived from the certificate)")
	cmd.Flags().StringVarP(&file, "file", "f", "", "PKCS #12 or PEM file of the certificate and its private key")
	cmd.Flags().StringVar(&password, "password", "", "password of the PKCS #12 file")
	_ = cmd.MarkFlagRequired("file")
	allowSpacedValues(cmd, "tags")
	return cmd
}

func newCertificateShowCommand(conn *clientOptions) *cobra.Command {
	o := &objectOptions{collection: "certificates"}
	cmd := &cobra.Command{
		Use:   "show (--vault-name V --name N [--version VER] | --id URL)",
		Short: "Show a certificate with its policy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, ref, err := openCertificate(cmd, conn, o)
			if err != nil {
				return err
			}
			resp, err := c.GetCertificate(cmd.Context(), ref.name, ref.version, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newCertificateOutput(resp.Certificate), certificateColumns)
		},
	}
	o.addFlags(cmd.Flags(), "certificate", true)
	return cmd
}

func newCertificateListCommand(conn *clientOptions) *cobra.Command {
	o := &listOptions{}
	cmd := &cobra.Command{
		Use:   "list --vault-name V [--maxresults N]",
		Short: "List the certificates of a vault",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			s, c, err := openCertificateVault(cmd, conn, &o.vault)
			if err != nil {
				return err
			}
			list, err := listAll(cmd.Context(), c.NewListCertificatePropertiesPager(nil),
				func(r azcertificates.ListCertificatePropertiesResponse) []*azcertificates.CertificateProperties {
					return r.Value
				},
				nil, o.maxResults)
			if err != nil {
				return err
			}
			out := make([]certificateItemOutput, len(list))
			for i, p := range list {
				out[i] = newCertificateItemOutput(p.Attributes, p.ID, p.Tags, p.X509Thumbprint)
			}
			return s.printer.printValue(out, certificateItemColumns)
		},
	}
	o.addFlags(cmd, "")
	return cmd
}

func newCertificateListVersionsCommand(conn *clientOptions) *cobra.Command {
	return newCertificateObjectCommand(conn, "list-versions (--vault-name V --name N | --id URL)",
		"List the versions of a certificate", false,
		func(cmd *cobra.Command, s *session, c *azcertificates.Client, ref objectRef) error {
			list, err := listAll(cmd.Context(), c.NewListCertificatePropertiesVersionsPager(ref.name, nil),
				func(r azcertificates.ListCertificatePropertiesVersionsResponse) []*azcertificates.CertificateProperties {
					return r.Value
				}, nil, 0)
			if err != nil {
				return err
			}
			out := make([]certificateItemOutput, len(list))
			for i, p := range list {
				out[i] = newCertificateItemOutput(p.Attributes, p.ID, p.Tags, p.X509Thumbprint)
			}
			return s.printer.printValue(out, certificateItemColumns)
		})
}

// newCertificateObjectCommand returns a command on one certificate, named
// by --vault-name and --name or by --id, that runs fn.
func newCertificateObjectCommand(conn *clientOptions, use, short string, withVersion bool,
	fn func(cmd *cobra.Command, s *session, c *azcertificates.Client, ref objectRef) error) *cobra.Command {
	o := &objectOptions{collection: "certificates"}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, ref, err := openCertificate(cmd, conn, o)
			if err != nil {
				return err
			}
			return fn(cmd, s, c, ref)
		},
	}
	o.addFlags(cmd.Flags(), "certificate", withVersion)
	return cmd
}

func newCertificateDownloadCommand(conn *clientOptions) *cobra.Command {
	var file, encoding string
	cmd := newCertificateObjectCommand(conn,
		"download (--vault-name V --name N [--version VER] | --id URL) --file FILE [--encoding PEM|DER]",
		"Write the public certificate to a new file, as PEM or DER", true,
		func(cmd *cobra.Command, s *session, c *azcertificates.Client, ref objectRef) error {
			enc := strings.ToUpper(encoding)
			if enc != "PEM" && enc != "DER" {
				return usageError{fmt.Errorf("invalid --encoding %q: use PEM or DER", encoding)}
			}
			resp, err := c.GetCertificate(cmd.Context(), ref.name, ref.version, nil)
			if err != nil {
				return explain(err)
			}
			data := resp.CER
			if enc == "PEM" {
				data = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: resp.CER})
			}
			return writeNewFile(file, data, 0o644)
		})
	cmd.Flags().StringVarP(&file, "file", "f", "", "file to write the certificate to; it must not exist")
	cmd.Flags().StringVarP(&encoding, "encoding", "e", "PEM", "PEM or DER")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func newDeletedCertificateOutput(d azcertificates.DeletedCertificate) deletedCertificateOutput {
	item := newCertificateItemOutput(d.Attributes, d.ID, d.Tags, d.X509Thumbprint)
	return deletedCertificateOutput{
		certificateOutput: certificateOutput{certificateItemOutput: item, Cer: d.CER, ContentType: d.ContentType,
			KID: idText(d.KID), Policy: newCertPolicyJSON(d.Policy), SID: idText(d.SID)},
		deletionOutput: deletionOutput{DeletedDate: newAzTime(d.DeletedDate), RecoveryID: d.RecoveryID,
			ScheduledPurgeDate: newAzTime(d.ScheduledPurgeDate)},
	}
}

func newCertificateDeleteCommand(conn *clientOptions) *cobra.Command {
	return newCertificateObjectCommand(conn, "delete (--vault-name V --name N | --id URL)",
		"Delete a certificate with its key and secret (a soft delete: recover or purge it later)", false,
		func(cmd *cobra.Command, s *session, c *azcertificates.Client, ref objectRef) error {
			resp, err := c.DeleteCertificate(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newDeletedCertificateOutput(resp.DeletedCertificate), deletedColumns)
		})
}

func newCertificateRecoverCommand(conn *clientOptions) *cobra.Command {
	return newCertificateObjectCommand(conn, "recover (--vault-name V --name N | --id RECOVERY-ID)",
		"Recover a deleted certificate", false,
		func(cmd *cobra.Command, s *session, c *azcertificates.Client, ref objectRef) error {
			resp, err := c.RecoverDeletedCertificate(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newCertificateOutput(resp.Certificate), certificateColumns)
		})
}

func newCertificatePurgeCommand(conn *clientOptions) *cobra.Command {
	return newCertificateObjectCommand(conn, "purge (--vault-name V --name N | --id RECOVERY-ID)",
		"Delete a deleted certificate for good; it prints nothing", false,
		func(cmd *cobra.Command, s *session, c *azcertificates.Client, ref objectRef) error {
			if _, err := c.PurgeDeletedCertificate(cmd.Context(), ref.name, nil); err != nil {
				return explain(err)
			}
			return nil
		})
}

func newCertificatePendingCommand(conn *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pending",
		Short: "Show, merge or delete the pending request of a certificate",
		Args:  cobra.ArbitraryArgs,
		RunE:  runGroup,
	}
	show := newCertificateObjectCommand(conn, "show (--vault-name V --name N | --id URL)",
		"Show the pending operation of a certificate, with its CSR", false,
		func(cmd *cobra.Command, s *session, c *azcertificates.Client, ref objectRef) error {
			resp, err := c.GetCertificateOperation(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newOperationOutput(resp.CertificateOperation, ref.name), operationColumns)
		})
	del := newCertificateObjectCommand(conn, "delete (--vault-name V --name N | --id URL)",
		"Delete the pending operation of a certificate and its CSR", false,
		func(cmd *cobra.Command, s *session, c *azcertificates.Client, ref objectRef) error {
			resp, err := c.DeleteCertificateOperation(cmd.Context(), ref.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newOperationOutput(resp.CertificateOperation, ref.name), operationColumns)
		})
	cmd.AddCommand(show, newCertificateMergeCommand(conn), del)
	return cmd
}

func newCertificateMergeCommand(conn *clientOptions) *cobra.Command {
	f := &certificateCreateFlags{}
	var file string
	cmd := newCertificateObjectCommand(conn, "merge (--vault-name V --name N | --id URL) --file FILE",
		"Complete a pending certificate with the certificate (chain) signed from its CSR", false,
		func(cmd *cobra.Command, s *session, c *azcertificates.Client, ref objectRef) error {
			attrs, err := f.parse(cmd)
			if err != nil {
				return err
			}
			chain, err := readCertificateChain(file)
			if err != nil {
				return err
			}
			params := azcertificates.MergeCertificateParameters{X509Certificates: chain,
				CertificateAttributes: attrs.certificateAttributes(), Tags: attrs.tags}
			resp, err := c.MergeCertificate(cmd.Context(), ref.name, params, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newCertificateOutput(resp.Certificate), certificateColumns)
		})
	cmd.Flags().StringVarP(&file, "file", "f", "",
		"PEM file of the signed certificate and its chain, leaf first, or a DER certificate")
	cmd.Flags().BoolVar(&f.disabled, "disabled", false, "merge the certificate disabled")
	cmd.Flags().StringArrayVar(&f.tags, "tags", nil, "space-separated tags key=value")
	_ = cmd.MarkFlagRequired("file")
	allowSpacedValues(cmd, "tags")
	return cmd
}

// readCertificateChain reads the CERTIFICATE blocks of a PEM file, or one
// DER certificate, as DER.
func readCertificateChain(path string) ([][]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --file: %w", err)
	}
	if !bytes.Contains(raw, []byte("-----BEGIN")) {
		return [][]byte{raw}, nil
	}
	var chain [][]byte
	for rest := raw; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			chain = append(chain, block.Bytes)
		}
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("--file %s has no PEM CERTIFICATE block", path)
	}
	return chain, nil
}

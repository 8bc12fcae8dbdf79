package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// principalsPath is KeyVault's principal administration API, which only the
// administrator may call.
const principalsPath = "/keyvault/principals"

// principal is a principal as the principals API returns it. ClientSecret
// is set only in the response that created it.
type principal struct {
	ClientID     string       `json:"clientId"`
	ObjectID     string       `json:"objectId"`
	TenantID     string       `json:"tenantId"`
	DisplayName  string       `json:"displayName"`
	Admin        bool         `json:"admin,omitempty"`
	Created      string       `json:"created,omitempty"`
	Credentials  []credential `json:"credentials"`
	ClientSecret string       `json:"clientSecret,omitempty"`
}

// credential is a client secret or certificate of a principal. Secret is
// set only in the response that created it.
type credential struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Hint       string `json:"hint,omitempty"`
	Thumbprint string `json:"thumbprint,omitempty"`
	Subject    string `json:"subject,omitempty"`
	NotAfter   string `json:"notAfter,omitempty"`
	Created    string `json:"created,omitempty"`
	Secret     string `json:"secret,omitempty"`
}

func principalRows(list []principal) rows {
	t := rows{header: []string{"DisplayName", "ClientId", "ObjectId", "Admin", "Credentials"}}
	for _, p := range list {
		t.cells = append(t.cells, []string{p.DisplayName, p.ClientID, p.ObjectID, strconv.FormatBool(p.Admin), strconv.Itoa(len(p.Credentials))})
	}
	return t
}

func credentialRows(list []credential) rows {
	t := rows{header: []string{"Id", "Type", "Hint", "Thumbprint", "NotAfter", "Created", "Secret"}}
	for _, c := range list {
		t.cells = append(t.cells, []string{c.ID, c.Type, c.Hint, c.Thumbprint, c.NotAfter, c.Created, c.Secret})
	}
	return t
}

func principalPath(objectID string, rest ...string) string {
	parts := []string{principalsPath, url.PathEscape(objectID)}
	for _, r := range rest {
		parts = append(parts, url.PathEscape(r))
	}
	return strings.Join(parts, "/")
}

func newPrincipalCommand() *cobra.Command {
	conn := &clientOptions{}
	cmd := &cobra.Command{
		Use:   "principal",
		Short: "Manage principals (service principals) and their credentials",
		Long: `Manage the principals that sign in to KeyVault with the client credentials
flow, and their client secrets and certificates. Only the administrator may
manage principals.`,
	}
	conn.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(newPrincipalCreateCommand(conn), newPrincipalListCommand(conn), newPrincipalShowCommand(conn),
		newPrincipalDeleteCommand(conn), newPrincipalCredentialCommand(conn))
	return cmd
}

type principalCreateOptions struct {
	name string
}

func (o *principalCreateOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.name, "name", "", "display name of the principal (at most 120 characters)")
}

func newPrincipalCreateCommand(conn *clientOptions) *cobra.Command {
	o := &principalCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create a principal and print its client id, object id, tenant id and client secret",
		Long: `Create a principal with one client secret. The output is the only place the
secret is shown: store it now.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := conn.connect(cmd)
			if err != nil {
				return err
			}
			var p principal
			body := map[string]string{"displayName": o.name}
			if err := s.do(cmd.Context(), http.MethodPost, principalsPath, nil, body, &p); err != nil {
				return err
			}
			return s.printer.print(p, func() rows {
				return rows{header: []string{"DisplayName", "ClientId", "ObjectId", "TenantId", "ClientSecret"},
					cells: [][]string{{p.DisplayName, p.ClientID, p.ObjectID, p.TenantID, p.ClientSecret}}}
			})
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newPrincipalListCommand(conn *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the principals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := conn.connect(cmd)
			if err != nil {
				return err
			}
			list, err := s.listPrincipals(cmd.Context())
			if err != nil {
				return err
			}
			return s.printer.print(list, func() rows { return principalRows(list) })
		},
	}
}

func (s *session) listPrincipals(ctx context.Context) ([]principal, error) {
	var page struct {
		Value []principal `json:"value"`
	}
	if err := s.do(ctx, http.MethodGet, principalsPath, nil, nil, &page); err != nil {
		return nil, err
	}
	if page.Value == nil {
		page.Value = []principal{}
	}
	return page.Value, nil
}

// resolvePrincipal returns the object id of the principal whose object id
// or client id is id.
func (s *session) resolvePrincipal(ctx context.Context, id string) (string, error) {
	list, err := s.listPrincipals(ctx)
	if err != nil {
		return "", fmt.Errorf("look up principal %s: %w", id, err)
	}
	for _, p := range list {
		if strings.EqualFold(p.ObjectID, id) {
			return p.ObjectID, nil
		}
	}
	for _, p := range list {
		if strings.EqualFold(p.ClientID, id) {
			return p.ObjectID, nil
		}
	}
	return "", fmt.Errorf("no principal has the object id or client id %s (see keyvault principal list)", id)
}

// objectIDOptions names one principal.
type objectIDOptions struct {
	objectID string
}

func (o *objectIDOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.objectID, "object-id", "", "object id of the principal")
}

// newObjectIDCommand returns a command that takes --object-id and runs fn.
func newObjectIDCommand(conn *clientOptions, use, short string, fn func(cmd *cobra.Command, s *session, objectID string) error) *cobra.Command {
	o := &objectIDOptions{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := conn.connect(cmd)
			if err != nil {
				return err
			}
			return fn(cmd, s, o.objectID)
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("object-id")
	return cmd
}

func newPrincipalShowCommand(conn *clientOptions) *cobra.Command {
	return newObjectIDCommand(conn, "show --object-id ID", "Show a principal and its credentials (never a secret)",
		func(cmd *cobra.Command, s *session, objectID string) error {
			var p principal
			if err := s.do(cmd.Context(), http.MethodGet, principalPath(objectID), nil, nil, &p); err != nil {
				return err
			}
			return s.printer.print(p, func() rows { return principalRows([]principal{p}) })
		})
}

func newPrincipalDeleteCommand(conn *clientOptions) *cobra.Command {
	return newObjectIDCommand(conn, "delete --object-id ID", "Delete a principal with its credentials and role assignments",
		func(cmd *cobra.Command, s *session, objectID string) error {
			return s.do(cmd.Context(), http.MethodDelete, principalPath(objectID), nil, nil, nil)
		})
}

func newPrincipalCredentialCommand(conn *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "Manage the client secrets and certificates of a principal",
	}
	cmd.AddCommand(newCredentialAddCommand(conn), newCredentialListCommand(conn),
		newCredentialDeleteCommand(conn), newCredentialResetCommand(conn))
	return cmd
}

type credentialAddOptions struct {
	objectIDOptions
	certFile string
}

func (o *credentialAddOptions) addFlags(fs *pflag.FlagSet) {
	o.objectIDOptions.addFlags(fs)
	fs.StringVar(&o.certFile, "cert", "", "PEM file of a certificate to add (without it, a new client secret is added and printed)")
}

func newCredentialAddCommand(conn *clientOptions) *cobra.Command {
	o := &credentialAddOptions{}
	cmd := &cobra.Command{
		Use:   "add --object-id ID [--cert FILE.pem]",
		Short: "Add a client secret (printed once) or a certificate to a principal",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body := map[string]string{"type": "secret"}
			if o.certFile != "" {
				certs, err := readCertificatePEM(o.certFile)
				if err != nil {
					return err
				}
				body = map[string]string{"type": "certificate", "certificate": certs}
			}
			s, err := conn.connect(cmd)
			if err != nil {
				return err
			}
			var c credential
			if err := s.do(cmd.Context(), http.MethodPost, principalPath(o.objectID, "credentials"), nil, body, &c); err != nil {
				return err
			}
			return s.printer.print(c, func() rows { return credentialRows([]credential{c}) })
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("object-id")
	return cmd
}

// readCertificatePEM returns the CERTIFICATE blocks of a PEM file. Other
// blocks are dropped, so that a file that also holds the private key (as
// AZURE_CLIENT_CERTIFICATE_PATH does) never sends the key to the server.
func readCertificatePEM(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read --cert: %w", err)
	}
	var out []byte
	for rest := raw; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			out = append(out, pem.EncodeToMemory(block)...)
		}
	}
	if len(out) == 0 {
		return "", fmt.Errorf("--cert %s has no PEM CERTIFICATE block", path)
	}
	return string(out), nil
}

func newCredentialListCommand(conn *clientOptions) *cobra.Command {
	return newObjectIDCommand(conn, "list --object-id ID", "List the credentials of a principal (never a secret)",
		func(cmd *cobra.Command, s *session, objectID string) error {
			var p principal
			if err := s.do(cmd.Context(), http.MethodGet, principalPath(objectID, "credentials"), nil, nil, &p); err != nil {
				return err
			}
			if p.Credentials == nil {
				p.Credentials = []credential{}
			}
			return s.printer.print(p.Credentials, func() rows { return credentialRows(p.Credentials) })
		})
}

type credentialDeleteOptions struct {
	objectIDOptions
	credentialID string
}

func (o *credentialDeleteOptions) addFlags(fs *pflag.FlagSet) {
	o.objectIDOptions.addFlags(fs)
	fs.StringVar(&o.credentialID, "credential-id", "", "id of the credential, as credential list shows it")
}

func newCredentialDeleteCommand(conn *clientOptions) *cobra.Command {
	o := &credentialDeleteOptions{}
	cmd := &cobra.Command{
		Use:   "delete --object-id ID --credential-id CID",
		Short: "Delete a client secret or certificate of a principal",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := conn.connect(cmd)
			if err != nil {
				return err
			}
			return s.do(cmd.Context(), http.MethodDelete, principalPath(o.objectID, "credentials", o.credentialID), nil, nil, nil)
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("object-id")
	_ = cmd.MarkFlagRequired("credential-id")
	return cmd
}

func newCredentialResetCommand(conn *clientOptions) *cobra.Command {
	return newObjectIDCommand(conn, "reset --object-id ID",
		"Replace every credential of a principal with one new client secret, printed once",
		func(cmd *cobra.Command, s *session, objectID string) error {
			var c credential
			if err := s.do(cmd.Context(), http.MethodPost, principalPath(objectID, "credentials", "reset"), nil, nil, &c); err != nil {
				return err
			}
			return s.printer.print(c, func() rows { return credentialRows([]credential{c}) })
		})
}

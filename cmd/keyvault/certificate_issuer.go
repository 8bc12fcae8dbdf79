package main

import (
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/spf13/cobra"
)

// issuerOutput is a certificate issuer as az prints it, without the
// account password.
type issuerOutput struct {
	Attributes struct {
		Created *azTime `json:"created"`
		Enabled *bool   `json:"enabled"`
		Updated *azTime `json:"updated"`
	} `json:"attributes"`
	Credentials struct {
		AccountID *string `json:"accountId"`
		Password  *string `json:"password"`
	} `json:"credentials"`
	ID                  *string `json:"id"`
	Name                string  `json:"name"`
	OrganizationDetails struct {
		AdminDetails []adminOutput `json:"adminDetails"`
		ID           *string       `json:"id"`
	} `json:"organizationDetails"`
	Provider *string `json:"provider"`
}

type adminOutput struct {
	Email     *string `json:"email"`
	FirstName *string `json:"firstName"`
	LastName  *string `json:"lastName"`
	Phone     *string `json:"phone"`
}

func newIssuerOutput(i azcertificates.Issuer, name string) issuerOutput {
	out := issuerOutput{ID: i.ID, Name: name, Provider: i.Provider}
	out.OrganizationDetails.AdminDetails = []adminOutput{}
	if a := i.Attributes; a != nil {
		out.Attributes.Created, out.Attributes.Updated = newAzTime(a.Created), newAzTime(a.Updated)
		out.Attributes.Enabled = a.Enabled
	}
	if c := i.Credentials; c != nil {
		out.Credentials.AccountID = c.AccountID
	}
	if od := i.OrganizationDetails; od != nil {
		out.OrganizationDetails.ID = od.ID
		for _, a := range od.AdminContacts {
			if a != nil {
				out.OrganizationDetails.AdminDetails = append(out.OrganizationDetails.AdminDetails,
					adminOutput{Email: a.Email, FirstName: a.FirstName, LastName: a.LastName, Phone: a.Phone})
			}
		}
	}
	return out
}

var issuerColumns = []column{{"Name", "name"}, {"Provider", "provider"}, {"Enabled", "attributes.enabled"},
	{"AccountId", "credentials.accountId"}, {"Id", "id"}}

func newCertificateIssuerCommand(conn *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "issuer",
		Short: "Manage the certificate issuers of a vault",
		Long: `Manage the certificate issuers of a vault. This server stores issuers but
never contacts a provider: a certificate of a third-party issuer waits for a
merge, as one of issuer Unknown does.`,
		Args: cobra.ArbitraryArgs,
		RunE: runGroup,
	}
	cmd.AddCommand(newIssuerSetCommand(conn), newIssuerShowCommand(conn), newIssuerListCommand(conn),
		newIssuerDeleteCommand(conn))
	return cmd
}

type issuerOptions struct {
	vault          vaultOptions
	name           string
	provider       string
	accountID      string
	password       string
	organizationID string
	disabled       bool
}

func (o *issuerOptions) addNameFlags(cmd *cobra.Command) {
	o.vault.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.name, "issuer-name", "", "name of the issuer")
	_ = cmd.MarkFlagRequired("vault-name")
	_ = cmd.MarkFlagRequired("issuer-name")
}

func newIssuerSetCommand(conn *clientOptions) *cobra.Command {
	o := &issuerOptions{}
	cmd := &cobra.Command{
		Use:   "set --vault-name V --issuer-name N --provider-name P [--account-id ID] [--password P] [--organization-id ID] [--disabled]",
		Short: "Create an issuer or replace its settings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, err := openCertificateVault(cmd, conn, &o.vault)
			if err != nil {
				return err
			}
			params := azcertificates.SetIssuerParameters{Provider: &o.provider,
				Attributes: &azcertificates.IssuerAttributes{Enabled: to.Ptr(!o.disabled)}}
			if o.accountID != "" || o.password != "" {
				params.Credentials = &azcertificates.IssuerCredentials{}
				if o.accountID != "" {
					params.Credentials.AccountID = &o.accountID
				}
				if o.password != "" {
					params.Credentials.Password = &o.password
				}
			}
			if o.organizationID != "" {
				params.OrganizationDetails = &azcertificates.OrganizationDetails{ID: &o.organizationID}
			}
			resp, err := c.SetIssuer(cmd.Context(), o.name, params, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newIssuerOutput(resp.Issuer, o.name), issuerColumns)
		},
	}
	o.addNameFlags(cmd)
	fs := cmd.Flags()
	fs.StringVar(&o.provider, "provider-name", "", "certificate provider, such as DigiCert or GlobalSign")
	fs.StringVar(&o.accountID, "account-id", "", "account id at the provider")
	fs.StringVar(&o.password, "password", "", "account password at the provider (stored, never printed)")
	fs.StringVar(&o.organizationID, "organization-id", "", "organization id at the provider")
	fs.BoolVar(&o.disabled, "disabled", false, "create the issuer disabled")
	_ = cmd.MarkFlagRequired("provider-name")
	return cmd
}

func newIssuerShowCommand(conn *clientOptions) *cobra.Command {
	o := &issuerOptions{}
	cmd := &cobra.Command{
		Use:   "show --vault-name V --issuer-name N",
		Short: "Show an issuer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, err := openCertificateVault(cmd, conn, &o.vault)
			if err != nil {
				return err
			}
			resp, err := c.GetIssuer(cmd.Context(), o.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newIssuerOutput(resp.Issuer, o.name), issuerColumns)
		},
	}
	o.addNameFlags(cmd)
	return cmd
}

func newIssuerDeleteCommand(conn *clientOptions) *cobra.Command {
	o := &issuerOptions{}
	cmd := &cobra.Command{
		Use:   "delete --vault-name V --issuer-name N",
		Short: "Delete an issuer; prints it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, err := openCertificateVault(cmd, conn, &o.vault)
			if err != nil {
				return err
			}
			resp, err := c.DeleteIssuer(cmd.Context(), o.name, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(newIssuerOutput(resp.Issuer, o.name), issuerColumns)
		},
	}
	o.addNameFlags(cmd)
	return cmd
}

// issuerItemOutput is an item of az keyvault certificate issuer list.
type issuerItemOutput struct {
	ID       *string `json:"id"`
	Name     string  `json:"name"`
	Provider *string `json:"provider"`
}

func newIssuerListCommand(conn *clientOptions) *cobra.Command {
	o := &vaultOptions{}
	cmd := &cobra.Command{
		Use:   "list --vault-name V",
		Short: "List the issuers of a vault",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, err := openCertificateVault(cmd, conn, o)
			if err != nil {
				return err
			}
			list, err := listAll(cmd.Context(), c.NewListIssuerPropertiesPager(nil),
				func(r azcertificates.ListIssuerPropertiesResponse) []*azcertificates.IssuerProperties { return r.Value }, nil, 0)
			if err != nil {
				return err
			}
			out := make([]issuerItemOutput, len(list))
			for i, p := range list {
				out[i] = issuerItemOutput{ID: p.ID, Provider: p.Provider}
				if p.ID != nil {
					out[i].Name = (*p.ID)[strings.LastIndex(*p.ID, "/")+1:]
				}
			}
			return s.printer.printValue(out, []column{{"Name", "name"}, {"Provider", "provider"}, {"Id", "id"}})
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("vault-name")
	return cmd
}

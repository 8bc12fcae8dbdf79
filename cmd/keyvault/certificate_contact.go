package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/spf13/cobra"
)

// contactOutput is a certificate contact as az prints it.
type contactOutput struct {
	Email *string `json:"email"`
	Name  *string `json:"name"`
	Phone *string `json:"phone"`
}

var contactColumns = []column{{"Email", "email"}, {"Name", "name"}, {"Phone", "phone"}}

func contactsOutput(list []*azcertificates.Contact) []contactOutput {
	out := []contactOutput{}
	for _, c := range list {
		if c != nil {
			out = append(out, contactOutput{Email: c.Email, Name: c.Name, Phone: c.Phone})
		}
	}
	return out
}

// getContacts returns the vault's contacts; a vault without contacts has
// none, which the service reports as 404 ContactsNotFound.
func getContacts(ctx context.Context, c *azcertificates.Client) ([]*azcertificates.Contact, error) {
	resp, err := c.GetContacts(ctx, nil)
	if err != nil {
		var e *apiError
		if err = explain(err); errors.As(err, &e) && e.Status == 404 {
			return nil, nil
		}
		return nil, err
	}
	return resp.ContactList, nil
}

func newCertificateContactCommand(conn *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contact",
		Short: "Manage the contacts that are notified about the certificates of a vault",
		Args:  cobra.ArbitraryArgs,
		RunE:  runGroup,
	}
	cmd.AddCommand(newContactAddCommand(conn), newContactListCommand(conn), newContactDeleteCommand(conn))
	return cmd
}

type contactOptions struct {
	vault vaultOptions
	email string
	name  string
	phone string
}

func newContactAddCommand(conn *clientOptions) *cobra.Command {
	o := &contactOptions{}
	cmd := &cobra.Command{
		Use:   "add --vault-name V --email E [--name N] [--phone P]",
		Short: "Add a contact, or replace the one with the same email; prints all contacts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, err := openCertificateVault(cmd, conn, &o.vault)
			if err != nil {
				return err
			}
			list, err := getContacts(cmd.Context(), c)
			if err != nil {
				return err
			}
			contact := &azcertificates.Contact{Email: &o.email}
			if o.name != "" {
				contact.Name = &o.name
			}
			if o.phone != "" {
				contact.Phone = &o.phone
			}
			updated := []*azcertificates.Contact{}
			for _, existing := range list {
				if existing != nil && !strings.EqualFold(valueOr(existing.Email, ""), o.email) {
					updated = append(updated, existing)
				}
			}
			updated = append(updated, contact)
			resp, err := c.SetContacts(cmd.Context(), azcertificates.Contacts{ContactList: updated}, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(contactsOutput(resp.ContactList), contactColumns)
		},
	}
	fs := cmd.Flags()
	o.vault.addFlags(fs)
	fs.StringVar(&o.email, "email", "", "email address of the contact")
	fs.StringVar(&o.name, "name", "", "name of the contact")
	fs.StringVar(&o.phone, "phone", "", "phone number of the contact")
	_ = cmd.MarkFlagRequired("vault-name")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

func newContactListCommand(conn *clientOptions) *cobra.Command {
	o := &vaultOptions{}
	cmd := &cobra.Command{
		Use:   "list --vault-name V",
		Short: "List the certificate contacts of a vault",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, err := openCertificateVault(cmd, conn, o)
			if err != nil {
				return err
			}
			list, err := getContacts(cmd.Context(), c)
			if err != nil {
				return err
			}
			return s.printer.printValue(contactsOutput(list), contactColumns)
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("vault-name")
	return cmd
}

func newContactDeleteCommand(conn *clientOptions) *cobra.Command {
	o := &contactOptions{}
	cmd := &cobra.Command{
		Use:   "delete --vault-name V --email E",
		Short: "Remove a contact; prints the remaining contacts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, c, err := openCertificateVault(cmd, conn, &o.vault)
			if err != nil {
				return err
			}
			list, err := getContacts(cmd.Context(), c)
			if err != nil {
				return err
			}
			remaining := []*azcertificates.Contact{}
			for _, existing := range list {
				if existing != nil && !strings.EqualFold(valueOr(existing.Email, ""), o.email) {
					remaining = append(remaining, existing)
				}
			}
			if len(remaining) == len(list) {
				return fmt.Errorf("no contact has the email %s (see certificate contact list)", o.email)
			}
			if len(remaining) == 0 {
				if _, err := c.DeleteContacts(cmd.Context(), nil); err != nil {
					return explain(err)
				}
				return s.printer.printValue(remaining, contactColumns)
			}
			resp, err := c.SetContacts(cmd.Context(), azcertificates.Contacts{ContactList: remaining}, nil)
			if err != nil {
				return explain(err)
			}
			return s.printer.printValue(contactsOutput(resp.ContactList), contactColumns)
		},
	}
	o.vault.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.email, "email", "", "email address of the contact to remove")
	_ = cmd.MarkFlagRequired("vault-name")
	_ = cmd.MarkFlagRequired("email")
	return cmd
}

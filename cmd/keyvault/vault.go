package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyvault/keyvault/internal/server"
	"github.com/keyvault/keyvault/internal/vault"
)

// pollOptions is the polling interval of long-running operations. The
// server completes vault operations in the first response, so no command
// waits for a poll.
var pollOptions = &runtime.PollUntilDoneOptions{Frequency: time.Second}

func newVaultCommand() *cobra.Command {
	conn := &clientOptions{}
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Manage vaults, deleted vaults and vault access policies",
		Long: `Manage vaults through the management API (Microsoft.KeyVault/vaults), as
az keyvault does. A vault is found by name across the subscription unless
--resource-group is given.`,
	}
	conn.addFlags(cmd.PersistentFlags())
	cmd.AddCommand(newVaultCreateCommand(conn), newVaultShowCommand(conn), newVaultListCommand(conn),
		newVaultDeleteCommand(conn), newVaultPurgeCommand(conn), newVaultRecoverCommand(conn),
		newVaultListDeletedCommand(conn), newVaultSetPolicyCommand(conn), newVaultDeletePolicyCommand(conn))
	return cmd
}

func vaultRows(list []*armkeyvault.Vault) rows {
	t := rows{header: []string{"Name", "ResourceGroup", "Location", "Sku", "RbacAuthorization", "VaultUri"}}
	for _, v := range list {
		row := []string{deref(v.Name), resourceGroupOf(deref(v.ID)), deref(v.Location), "", "", ""}
		if p := v.Properties; p != nil {
			if p.SKU != nil && p.SKU.Name != nil {
				row[3] = string(*p.SKU.Name)
			}
			row[4] = strconv.FormatBool(p.EnableRbacAuthorization != nil && *p.EnableRbacAuthorization)
			row[5] = deref(p.VaultURI)
		}
		t.cells = append(t.cells, row)
	}
	return t
}

// resourceGroupOf returns the resource group of a resource id, or "".
func resourceGroupOf(id string) string {
	r, err := arm.ParseResourceID(id)
	if err != nil {
		return ""
	}
	return r.ResourceGroupName
}

// isNotFoundError reports whether err is a 404 response of the server.
func isNotFoundError(err error) bool {
	var e *apiError
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// findVault returns the vault name, in resource group rg or, with rg empty,
// wherever it is in the subscription.
func (s *session) findVault(ctx context.Context, c *armkeyvault.VaultsClient, name, rg string) (*armkeyvault.Vault, error) {
	if rg != "" {
		resp, err := c.Get(ctx, rg, name, nil)
		if err != nil {
			return nil, explain(err)
		}
		return &resp.Vault, nil
	}
	pager := c.NewListBySubscriptionPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, explain(err)
		}
		for _, v := range page.Value {
			if strings.EqualFold(deref(v.Name), name) {
				return v, nil
			}
		}
	}
	return nil, &apiError{Status: http.StatusNotFound, Code: "ResourceNotFound",
		Message: fmt.Sprintf("The vault '%s' was not found in subscription %s.", name, s.subscriptionID)}
}

// findDeletedVault returns the soft-deleted vault name, looked up by
// location if one is given.
func findDeletedVault(ctx context.Context, c *armkeyvault.VaultsClient, name, location string) (*armkeyvault.DeletedVault, error) {
	if location != "" {
		resp, err := c.GetDeleted(ctx, name, location, nil)
		if err != nil {
			return nil, explain(err)
		}
		return &resp.DeletedVault, nil
	}
	pager := c.NewListDeletedPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, explain(err)
		}
		for _, v := range page.Value {
			if strings.EqualFold(deref(v.Name), name) {
				return v, nil
			}
		}
	}
	return nil, &apiError{Status: http.StatusNotFound, Code: "ResourceNotFound",
		Message: fmt.Sprintf("The deleted vault '%s' was not found.", name)}
}

// vaultNameOptions names one vault.
type vaultNameOptions struct {
	name          string
	resourceGroup string
}

func (o *vaultNameOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.name, "name", "n", "", "name of the vault")
	fs.StringVarP(&o.resourceGroup, "resource-group", "g", "", "resource group of the vault (default: found by name)")
}

type vaultCreateOptions struct {
	name            string
	resourceGroup   string
	location        string
	sku             string
	retentionDays   int
	purgeProtection bool
	rbac            bool
	tags            []string
}

func (o *vaultCreateOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.name, "name", "n", "", "name of the vault: 3 to 24 letters, digits and hyphens, globally unique")
	fs.StringVarP(&o.resourceGroup, "resource-group", "g", server.DefaultResourceGroup, "resource group of the vault, created if missing")
	fs.StringVarP(&o.location, "location", "l", server.DefaultLocation, "location of the vault")
	fs.StringVar(&o.sku, "sku", vault.SKUStandard, "pricing tier: standard or premium")
	fs.IntVar(&o.retentionDays, "retention-days", vault.DefaultRetentionDays, "days (7 to 90) that deleted vaults and objects stay recoverable; fixed at creation")
	fs.BoolVar(&o.purgeProtection, "enable-purge-protection", false, "refuse purges until the retention period ends (cannot be turned off)")
	fs.BoolVar(&o.rbac, "enable-rbac-authorization", false, "authorize data-plane requests by role assignments instead of access policies")
	fs.StringArrayVar(&o.tags, "tags", nil, "tags as KEY=VALUE, several after one --tags")
}

// parseTags reads KEY=VALUE pairs. As in az, a pair without "=" has an
// empty value.
func parseTags(pairs []string) (map[string]*string, error) {
	tags := map[string]*string{}
	for _, pair := range pairs {
		k, v, _ := strings.Cut(pair, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid --tags %q: use KEY=VALUE", pair)
		}
		tags[k] = to.Ptr(v)
	}
	return tags, nil
}

func newVaultCreateCommand(conn *clientOptions) *cobra.Command {
	o := &vaultCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create --name NAME [--resource-group RG] [--location L] [--sku standard|premium] [flags]",
		Short: "Create a vault",
		Long: `Create a vault. It fails if a vault of that name exists, so that a create
never resets the settings and access policies of an existing vault.`,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, conn) },
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("name")
	allowSpacedValues(cmd, "tags")
	return cmd
}

func (o *vaultCreateOptions) run(cmd *cobra.Command, conn *clientOptions) error {
	sku := strings.ToLower(o.sku)
	if sku != vault.SKUStandard && sku != vault.SKUPremium {
		return fmt.Errorf("invalid --sku %q: use standard or premium", o.sku)
	}
	tags, err := parseTags(o.tags)
	if err != nil {
		return err
	}
	s, err := conn.connect(cmd)
	if err != nil {
		return err
	}
	c, err := s.vaultsClient()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if _, err := c.Get(ctx, o.resourceGroup, o.name, nil); err == nil {
		return fmt.Errorf("vault %s already exists in resource group %s: use vault show, or vault set-policy to change its access policies", o.name, o.resourceGroup)
	} else if err = explain(err); !isNotFoundError(err) {
		return err
	}

	props := &armkeyvault.VaultProperties{
		TenantID:                  to.Ptr(s.tenantID),
		SKU:                       &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUName(sku))},
		AccessPolicies:            []*armkeyvault.AccessPolicyEntry{},
		SoftDeleteRetentionInDays: to.Ptr(int32(o.retentionDays)),
		EnableRbacAuthorization:   to.Ptr(o.rbac),
	}
	if o.purgeProtection {
		props.EnablePurgeProtection = to.Ptr(true)
	}
	params := armkeyvault.VaultCreateOrUpdateParameters{Location: to.Ptr(o.location), Tags: tags, Properties: props}
	poller, err := c.BeginCreateOrUpdate(ctx, o.resourceGroup, o.name, params, nil)
	if err != nil {
		return explain(err)
	}
	resp, err := poller.PollUntilDone(ctx, pollOptions)
	if err != nil {
		return explain(err)
	}
	return s.printer.print(resp.Vault, func() rows { return vaultRows([]*armkeyvault.Vault{&resp.Vault}) })
}

// newVaultNameCommand returns a command that takes --name and
// --resource-group, connects and runs fn with a vaults client.
func newVaultNameCommand(conn *clientOptions, use, short string,
	fn func(ctx context.Context, s *session, c *armkeyvault.VaultsClient, o *vaultNameOptions) error) *cobra.Command {
	o := &vaultNameOptions{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := conn.connect(cmd)
			if err != nil {
				return err
			}
			c, err := s.vaultsClient()
			if err != nil {
				return err
			}
			return fn(cmd.Context(), s, c, o)
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newVaultShowCommand(conn *clientOptions) *cobra.Command {
	return newVaultNameCommand(conn, "show --name NAME [--resource-group RG]", "Show a vault",
		func(ctx context.Context, s *session, c *armkeyvault.VaultsClient, o *vaultNameOptions) error {
			v, err := s.findVault(ctx, c, o.name, o.resourceGroup)
			if err != nil {
				return err
			}
			return s.printer.print(v, func() rows { return vaultRows([]*armkeyvault.Vault{v}) })
		})
}

func newVaultDeleteCommand(conn *clientOptions) *cobra.Command {
	return newVaultNameCommand(conn, "delete --name NAME [--resource-group RG]",
		"Delete a vault: it stays recoverable for its retention period",
		func(ctx context.Context, s *session, c *armkeyvault.VaultsClient, o *vaultNameOptions) error {
			v, err := s.findVault(ctx, c, o.name, o.resourceGroup)
			if err != nil {
				return err
			}
			if _, err := c.Delete(ctx, resourceGroupOf(deref(v.ID)), deref(v.Name), nil); err != nil {
				return explain(err)
			}
			return nil
		})
}

type vaultListOptions struct {
	resourceGroup string
}

func newVaultListCommand(conn *clientOptions) *cobra.Command {
	o := &vaultListOptions{}
	cmd := &cobra.Command{
		Use:   "list [--resource-group RG]",
		Short: "List the vaults of the subscription or of one resource group",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := conn.connect(cmd)
			if err != nil {
				return err
			}
			c, err := s.vaultsClient()
			if err != nil {
				return err
			}
			list, err := listVaults(cmd.Context(), c, o.resourceGroup)
			if err != nil {
				return err
			}
			return s.printer.print(list, func() rows { return vaultRows(list) })
		},
	}
	cmd.Flags().StringVarP(&o.resourceGroup, "resource-group", "g", "", "list only this resource group")
	return cmd
}

func listVaults(ctx context.Context, c *armkeyvault.VaultsClient, rg string) ([]*armkeyvault.Vault, error) {
	list := []*armkeyvault.Vault{}
	if rg != "" {
		pager := c.NewListByResourceGroupPager(rg, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, explain(err)
			}
			list = append(list, page.Value...)
		}
		return list, nil
	}
	pager := c.NewListBySubscriptionPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, explain(err)
		}
		list = append(list, page.Value...)
	}
	return list, nil
}

func deletedVaultRows(list []*armkeyvault.DeletedVault) rows {
	t := rows{header: []string{"Name", "ResourceGroup", "Location", "DeletionDate", "ScheduledPurgeDate", "PurgeProtection"}}
	for _, v := range list {
		row := []string{deref(v.Name), "", "", "", "", "false"}
		if p := v.Properties; p != nil {
			row[1], row[2] = resourceGroupOf(deref(p.VaultID)), deref(p.Location)
			if p.DeletionDate != nil {
				row[3] = p.DeletionDate.UTC().Format(time.RFC3339)
			}
			if p.ScheduledPurgeDate != nil {
				row[4] = p.ScheduledPurgeDate.UTC().Format(time.RFC3339)
			}
			row[5] = strconv.FormatBool(p.PurgeProtectionEnabled != nil && *p.PurgeProtectionEnabled)
		}
		t.cells = append(t.cells, row)
	}
	return t
}

func newVaultListDeletedCommand(conn *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "list-deleted",
		Short: "List the soft-deleted vaults of the subscription",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := conn.connect(cmd)
			if err != nil {
				return err
			}
			c, err := s.vaultsClient()
			if err != nil {
				return err
			}
			list := []*armkeyvault.DeletedVault{}
			pager := c.NewListDeletedPager(nil)
			for pager.More() {
				page, err := pager.NextPage(cmd.Context())
				if err != nil {
					return explain(err)
				}
				list = append(list, page.Value...)
			}
			return s.printer.print(list, func() rows { return deletedVaultRows(list) })
		},
	}
}

// deletedVaultOptions names one soft-deleted vault.
type deletedVaultOptions struct {
	name     string
	location string
}

func (o *deletedVaultOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.name, "name", "n", "", "name of the deleted vault")
	fs.StringVarP(&o.location, "location", "l", "", "location of the deleted vault (default: found by name)")
}

func newVaultPurgeCommand(conn *clientOptions) *cobra.Command {
	o := &deletedVaultOptions{}
	cmd := &cobra.Command{
		Use:   "purge --name NAME [--location L]",
		Short: "Purge a deleted vault and everything in it, for good",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := conn.connect(cmd)
			if err != nil {
				return err
			}
			c, err := s.vaultsClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			d, err := findDeletedVault(ctx, c, o.name, o.location)
			if err != nil {
				return err
			}
			location := o.location
			if location == "" && d.Properties != nil {
				location = deref(d.Properties.Location)
			}
			poller, err := c.BeginPurgeDeleted(ctx, deref(d.Name), location, nil)
			if err != nil {
				return explain(err)
			}
			_, err = poller.PollUntilDone(ctx, pollOptions)
			return explain(err)
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newVaultRecoverCommand(conn *clientOptions) *cobra.Command {
	o := &deletedVaultOptions{}
	cmd := &cobra.Command{
		Use:   "recover --name NAME [--location L]",
		Short: "Recover a deleted vault with its objects, settings and access policies",
		Long: `Recover a deleted vault into the resource group it was deleted from. Its role
assignments were removed with it and are not recovered.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := conn.connect(cmd)
			if err != nil {
				return err
			}
			c, err := s.vaultsClient()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			d, err := findDeletedVault(ctx, c, o.name, o.location)
			if err != nil {
				return err
			}
			if d.Properties == nil {
				return fmt.Errorf("deleted vault %s has no properties in the server's response", o.name)
			}
			// The server keeps the vault's own settings on recovery. tenantId
			// and sku are sent because a create-or-update body requires them.
			params := armkeyvault.VaultCreateOrUpdateParameters{
				Location: d.Properties.Location,
				Properties: &armkeyvault.VaultProperties{
					TenantID:   to.Ptr(s.tenantID),
					SKU:        &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)},
					CreateMode: to.Ptr(armkeyvault.CreateModeRecover),
				},
			}
			poller, err := c.BeginCreateOrUpdate(ctx, resourceGroupOf(deref(d.Properties.VaultID)), deref(d.Name), params, nil)
			if err != nil {
				return explain(err)
			}
			resp, err := poller.PollUntilDone(ctx, pollOptions)
			if err != nil {
				return explain(err)
			}
			return s.printer.print(resp.Vault, func() rows { return vaultRows([]*armkeyvault.Vault{&resp.Vault}) })
		},
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// deref returns *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

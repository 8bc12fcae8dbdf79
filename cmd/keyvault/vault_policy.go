package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyvault/keyvault/internal/authz"
)

// policyIdentityOptions names the principal of an access policy entry.
type policyIdentityOptions struct {
	objectID string
	spn      string
}

func (o *policyIdentityOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.objectID, "object-id", "", "object id of the principal")
	fs.StringVar(&o.spn, "spn", "", "client id of the principal, looked up in the principal list (administrator only)")
}

func markIdentityFlags(cmd *cobra.Command) {
	cmd.MarkFlagsMutuallyExclusive("object-id", "spn")
	cmd.MarkFlagsOneRequired("object-id", "spn")
}

// resolve returns the object id that the flags name.
func (o *policyIdentityOptions) resolve(ctx context.Context, s *session) (string, error) {
	if o.objectID != "" {
		return o.objectID, nil
	}
	return s.resolvePrincipal(ctx, o.spn)
}

type setPolicyOptions struct {
	vaultNameOptions
	policyIdentityOptions
	template               string
	keyPermissions         []string
	secretPermissions      []string
	certificatePermissions []string
}

func (o *setPolicyOptions) addFlags(fs *pflag.FlagSet) {
	o.vaultNameOptions.addFlags(fs)
	o.policyIdentityOptions.addFlags(fs)
	fs.StringVar(&o.template, "template", "", `access-policy template of the portal, such as "Key, Secret, & Certificate Management"`)
	fs.StringSliceVar(&o.keyPermissions, "key-permissions", nil, "key permissions to grant, such as get list sign")
	fs.StringSliceVar(&o.secretPermissions, "secret-permissions", nil, "secret permissions to grant, such as get list set")
	fs.StringSliceVar(&o.certificatePermissions, "certificate-permissions", nil, "certificate permissions to grant, such as get list import")
}

func newVaultSetPolicyCommand(conn *clientOptions) *cobra.Command {
	o := &setPolicyOptions{}
	cmd := &cobra.Command{
		Use:   "set-policy --name NAME (--object-id ID | --spn CLIENTID) [--template T] [--key-permissions P ...] [flags]",
		Short: "Grant a principal permissions in a vault's access policy",
		Long: `Grant a principal the permissions of a template plus those given explicitly.

The permissions are added to the principal's access policy entry (an access
policy "add"), which is created if needed. This differs from az keyvault
set-policy, which replaces the entry's lists: here a permission is never taken
away. To narrow an entry, run delete-policy and then set-policy.

Templates (--template):
  ` + strings.Join(templateNames(), "\n  "),
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, conn) },
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("name")
	markIdentityFlags(cmd)
	allowSpacedValues(cmd, "key-permissions", "secret-permissions", "certificate-permissions")
	return cmd
}

// templateNames returns the names of the access-policy templates, sorted.
func templateNames() []string {
	names := make([]string, 0, len(authz.Templates))
	for name := range authz.Templates {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func quoteAll(list []string) string {
	quoted := make([]string, len(list))
	for i, s := range list {
		quoted[i] = strconv.Quote(s)
	}
	return strings.Join(quoted, ", ")
}

// permissions returns the template's permissions with the explicit ones
// added.
func (o *setPolicyOptions) permissions() (*armkeyvault.Permissions, error) {
	var keys, secrets, certs []string
	if o.template != "" {
		t, ok := authz.Template(o.template)
		if !ok {
			return nil, fmt.Errorf("unknown --template %q: use one of %s", o.template, quoteAll(templateNames()))
		}
		keys, secrets, certs = t.Keys, t.Secrets, t.Certificates
	}
	keys = appendNew(keys, o.keyPermissions)
	secrets = appendNew(secrets, o.secretPermissions)
	certs = appendNew(certs, o.certificatePermissions)
	if len(keys)+len(secrets)+len(certs) == 0 {
		return nil, errors.New("no permissions to grant: pass --template, --key-permissions, --secret-permissions or --certificate-permissions")
	}
	return &armkeyvault.Permissions{
		Keys:         permissionPtrs[armkeyvault.KeyPermissions](keys),
		Secrets:      permissionPtrs[armkeyvault.SecretPermissions](secrets),
		Certificates: permissionPtrs[armkeyvault.CertificatePermissions](certs),
	}, nil
}

// appendNew appends the values of add that list lacks, ignoring case.
func appendNew(list, add []string) []string {
	for _, a := range add {
		if !slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, a) }) {
			list = append(list, a)
		}
	}
	return list
}

func permissionPtrs[T ~string](list []string) []*T {
	out := make([]*T, 0, len(list))
	for _, p := range list {
		out = append(out, to.Ptr(T(p)))
	}
	return out
}

func (o *setPolicyOptions) run(cmd *cobra.Command, conn *clientOptions) error {
	perms, err := o.permissions()
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
	objectID, err := o.policyIdentityOptions.resolve(ctx, s)
	if err != nil {
		return err
	}
	v, err := s.findVault(ctx, c, o.name, o.resourceGroup)
	if err != nil {
		return err
	}
	entry := &armkeyvault.AccessPolicyEntry{TenantID: to.Ptr(s.tenantID), ObjectID: to.Ptr(objectID), Permissions: perms}
	return s.updatePolicies(ctx, c, v, armkeyvault.AccessPolicyUpdateKindAdd, []*armkeyvault.AccessPolicyEntry{entry})
}

// updatePolicies sends an access-policy edit for vault v and prints the
// vault's access policies after it.
func (s *session) updatePolicies(ctx context.Context, c *armkeyvault.VaultsClient, v *armkeyvault.Vault,
	kind armkeyvault.AccessPolicyUpdateKind, entries []*armkeyvault.AccessPolicyEntry) error {
	params := armkeyvault.VaultAccessPolicyParameters{
		Properties: &armkeyvault.VaultAccessPolicyProperties{AccessPolicies: entries},
	}
	resp, err := c.UpdateAccessPolicy(ctx, resourceGroupOf(deref(v.ID)), deref(v.Name), kind, params, nil)
	if err != nil {
		return explain(err)
	}
	policies := []*armkeyvault.AccessPolicyEntry{}
	if resp.Properties != nil && resp.Properties.AccessPolicies != nil {
		policies = resp.Properties.AccessPolicies
	}
	return s.printer.print(policies, func() rows { return policyRows(policies) })
}

func policyRows(list []*armkeyvault.AccessPolicyEntry) rows {
	t := rows{header: []string{"ObjectId", "ApplicationId", "Keys", "Secrets", "Certificates"}}
	for _, p := range list {
		row := []string{deref(p.ObjectID), deref(p.ApplicationID), "", "", ""}
		if perms := p.Permissions; perms != nil {
			row[2], row[3], row[4] = joinPermissions(perms.Keys), joinPermissions(perms.Secrets), joinPermissions(perms.Certificates)
		}
		t.cells = append(t.cells, row)
	}
	return t
}

func joinPermissions[T ~string](list []*T) string {
	out := make([]string, 0, len(list))
	for _, p := range list {
		if p != nil {
			out = append(out, string(*p))
		}
	}
	return strings.Join(out, ",")
}

type deletePolicyOptions struct {
	vaultNameOptions
	policyIdentityOptions
}

func newVaultDeletePolicyCommand(conn *clientOptions) *cobra.Command {
	o := &deletePolicyOptions{}
	cmd := &cobra.Command{
		Use:   "delete-policy --name NAME (--object-id ID | --spn CLIENTID)",
		Short: "Remove a principal's access policy entry from a vault",
		Long: `Remove every access policy entry of a principal from a vault and print the
policies that remain. As in az, a principal without an entry is not an error.`,
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
			objectID, err := o.policyIdentityOptions.resolve(ctx, s)
			if err != nil {
				return err
			}
			v, err := s.findVault(ctx, c, o.name, o.resourceGroup)
			if err != nil {
				return err
			}
			// A remove with no permissions drops the whole entry. Entries
			// are matched on tenant, object and application id, so each of
			// the principal's entries is sent as stored.
			var remove []*armkeyvault.AccessPolicyEntry
			if v.Properties != nil {
				for _, p := range v.Properties.AccessPolicies {
					if strings.EqualFold(deref(p.ObjectID), objectID) {
						remove = append(remove, &armkeyvault.AccessPolicyEntry{TenantID: p.TenantID, ObjectID: p.ObjectID,
							ApplicationID: p.ApplicationID, Permissions: &armkeyvault.Permissions{}})
					}
				}
			}
			if len(remove) == 0 {
				policies := []*armkeyvault.AccessPolicyEntry{}
				if v.Properties != nil && v.Properties.AccessPolicies != nil {
					policies = v.Properties.AccessPolicies
				}
				return s.printer.print(policies, func() rows { return policyRows(policies) })
			}
			return s.updatePolicies(ctx, c, v, armkeyvault.AccessPolicyUpdateKindRemove, remove)
		},
	}
	o.vaultNameOptions.addFlags(cmd.Flags())
	o.policyIdentityOptions.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("name")
	markIdentityFlags(cmd)
	return cmd
}

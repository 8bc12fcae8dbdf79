package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// authorizationAPIVersion is the Microsoft.Authorization api-version of the
// role requests.
const authorizationAPIVersion = "2022-04-01"

const authorizationProvider = "/providers/Microsoft.Authorization"

// roleAssignment is a Microsoft.Authorization/roleAssignments resource.
type roleAssignment struct {
	ID         string                   `json:"id"`
	Name       string                   `json:"name"`
	Type       string                   `json:"type"`
	Properties roleAssignmentProperties `json:"properties"`
}

type roleAssignmentProperties struct {
	RoleDefinitionID string  `json:"roleDefinitionId"`
	PrincipalID      string  `json:"principalId"`
	PrincipalType    string  `json:"principalType,omitempty"`
	Scope            string  `json:"scope,omitempty"`
	Description      *string `json:"description,omitempty"`
	CreatedOn        string  `json:"createdOn,omitempty"`
	UpdatedOn        string  `json:"updatedOn,omitempty"`
	CreatedBy        string  `json:"createdBy,omitempty"`
	UpdatedBy        string  `json:"updatedBy,omitempty"`
}

// roleDefinition is the part of a Microsoft.Authorization/roleDefinitions
// resource that the commands read.
type roleDefinition struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		RoleName string `json:"roleName"`
	} `json:"properties"`
}

func apiVersion() url.Values {
	return url.Values{"api-version": {authorizationAPIVersion}}
}

// roleGUID returns the GUID at the end of a role definition id.
func roleGUID(definitionID string) string {
	return strings.ToLower(path.Base(definitionID))
}

func newRoleCommand() *cobra.Command {
	conn := &clientOptions{}
	cmd := &cobra.Command{
		Use:   "role",
		Short: "Manage role assignments (Azure RBAC)",
	}
	conn.addFlags(cmd.PersistentFlags())
	assignment := &cobra.Command{
		Use:   "assignment",
		Short: "Create, list and delete role assignments",
		Long: `Create, list and delete role assignments, with the flags of az role
assignment. A vault whose access is authorized by RBAC
(--enable-rbac-authorization) grants data-plane access by these.`,
	}
	assignment.AddCommand(newAssignmentCreateCommand(conn), newAssignmentListCommand(conn), newAssignmentDeleteCommand(conn))
	cmd.AddCommand(assignment)
	return cmd
}

// scopeOptions give the scope of role assignments: --scope, or the vault
// of --vault-name.
type scopeOptions struct {
	scope         string
	vaultName     string
	resourceGroup string
}

func (o *scopeOptions) addFlags(fs *pflag.FlagSet, scopeHelp string) {
	fs.StringVar(&o.scope, "scope", "", scopeHelp)
	fs.StringVar(&o.vaultName, "vault-name", "", "name of a vault whose resource id is the scope")
	fs.StringVarP(&o.resourceGroup, "resource-group", "g", "", "resource group of --vault-name (default: found by name)")
}

// resolve returns the scope, "" if neither flag is set.
func (o *scopeOptions) resolve(ctx context.Context, s *session) (string, error) {
	if o.scope != "" && o.vaultName != "" {
		return "", errors.New("pass --scope or --vault-name, not both")
	}
	if o.scope != "" {
		return "/" + strings.Trim(o.scope, "/"), nil
	}
	if o.vaultName == "" {
		return "", nil
	}
	c, err := s.vaultsClient()
	if err != nil {
		return "", err
	}
	v, err := s.findVault(ctx, c, o.vaultName, o.resourceGroup)
	if err != nil {
		return "", err
	}
	return deref(v.ID), nil
}

// assigneeOptions name the principal of role assignments.
type assigneeOptions struct {
	assignee         string
	assigneeObjectID string
}

func (o *assigneeOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.assignee, "assignee", "", "object id or client id of the principal, looked up in the principal list (administrator only)")
	fs.StringVar(&o.assigneeObjectID, "assignee-object-id", "", "object id of the principal, used without a lookup")
}

// resolve returns the principal's object id, "" if neither flag is set.
func (o *assigneeOptions) resolve(ctx context.Context, s *session) (string, error) {
	switch {
	case o.assignee != "" && o.assigneeObjectID != "":
		return "", errors.New("pass --assignee or --assignee-object-id, not both")
	case o.assigneeObjectID != "":
		return o.assigneeObjectID, nil
	case o.assignee != "":
		return s.resolvePrincipal(ctx, o.assignee)
	}
	return "", nil
}

// resolveRole returns the role definition named role, or with the GUID role.
func (s *session) resolveRole(ctx context.Context, role string) (*roleDefinition, error) {
	if _, err := uuid.Parse(role); err == nil {
		var d roleDefinition
		err := s.do(ctx, http.MethodGet, authorizationProvider+"/roleDefinitions/"+url.PathEscape(role), apiVersion(), nil, &d)
		if err != nil {
			return nil, err
		}
		return &d, nil
	}
	query := apiVersion()
	query.Set("$filter", "roleName eq '"+strings.ReplaceAll(role, "'", "''")+"'")
	var page struct {
		Value []roleDefinition `json:"value"`
	}
	if err := s.do(ctx, http.MethodGet, authorizationProvider+"/roleDefinitions", query, nil, &page); err != nil {
		return nil, err
	}
	switch len(page.Value) {
	case 0:
		return nil, fmt.Errorf("no role definition is named %q: give a built-in role name such as \"Key Vault Secrets User\", or a role definition GUID", role)
	case 1:
		return &page.Value[0], nil
	}
	return nil, fmt.Errorf("%d role definitions are named %q: give the role definition GUID", len(page.Value), role)
}

// roleNames returns the role names by definition GUID, for table output.
// It returns an empty map if the definitions cannot be read.
func (s *session) roleNames(ctx context.Context) map[string]string {
	names := map[string]string{}
	var page struct {
		Value []roleDefinition `json:"value"`
	}
	if s.do(ctx, http.MethodGet, authorizationProvider+"/roleDefinitions", apiVersion(), nil, &page) != nil {
		return names
	}
	for _, d := range page.Value {
		names[roleGUID(d.ID)] = d.Properties.RoleName
	}
	return names
}

func (s *session) printAssignments(ctx context.Context, v any, list []roleAssignment) error {
	var names map[string]string
	if s.printer.format == formatTable || s.printer.format == formatTSV {
		names = s.roleNames(ctx)
	}
	return s.printer.print(v, func() rows {
		t := rows{header: []string{"Principal", "Role", "Scope", "Name"}}
		for _, a := range list {
			role := names[roleGUID(a.Properties.RoleDefinitionID)]
			if role == "" {
				role = roleGUID(a.Properties.RoleDefinitionID)
			}
			t.cells = append(t.cells, []string{a.Properties.PrincipalID, role, a.Properties.Scope, a.Name})
		}
		return t
	})
}

type assignmentCreateOptions struct {
	scopeOptions
	assigneeOptions
	role          string
	principalType string
	description   string
}

func (o *assignmentCreateOptions) addFlags(fs *pflag.FlagSet) {
	o.scopeOptions.addFlags(fs, "scope of the assignment: a subscription, resource group or vault resource id (default: the vault of --vault-name)")
	o.assigneeOptions.addFlags(fs)
	fs.StringVar(&o.role, "role", "", `role name, such as "Key Vault Secrets User", or role definition GUID`)
	fs.StringVar(&o.principalType, "assignee-principal-type", "ServicePrincipal", "principal type: ServicePrincipal, User or Group")
	fs.StringVar(&o.description, "description", "", "description of the assignment")
}

func newAssignmentCreateCommand(conn *clientOptions) *cobra.Command {
	o := &assignmentCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create --role ROLE --assignee ID (--scope SCOPE | --vault-name NAME)",
		Short: "Assign a role to a principal at a scope",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return o.run(cmd, conn) },
	}
	o.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("role")
	cmd.MarkFlagsOneRequired("assignee", "assignee-object-id")
	cmd.MarkFlagsOneRequired("scope", "vault-name")
	return cmd
}

func (o *assignmentCreateOptions) run(cmd *cobra.Command, conn *clientOptions) error {
	s, err := conn.connect(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	scope, err := o.scopeOptions.resolve(ctx, s)
	if err != nil {
		return err
	}
	principalID, err := o.assigneeOptions.resolve(ctx, s)
	if err != nil {
		return err
	}
	role, err := s.resolveRole(ctx, o.role)
	if err != nil {
		return err
	}
	props := roleAssignmentProperties{RoleDefinitionID: role.ID, PrincipalID: principalID, PrincipalType: o.principalType}
	if o.description != "" {
		props.Description = &o.description
	}
	body := map[string]any{"properties": props}
	var a roleAssignment
	p := scope + authorizationProvider + "/roleAssignments/" + uuid.NewString()
	if err := s.do(ctx, http.MethodPut, p, apiVersion(), body, &a); err != nil {
		return err
	}
	return s.printAssignments(ctx, a, []roleAssignment{a})
}

type assignmentListOptions struct {
	scopeOptions
	assigneeOptions
	role string
}

func newAssignmentListCommand(conn *clientOptions) *cobra.Command {
	o := &assignmentListOptions{}
	cmd := &cobra.Command{
		Use:   "list [--scope SCOPE | --vault-name NAME] [--assignee ID] [--role ROLE]",
		Short: "List the role assignments at, above and below a scope",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := conn.connect(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			scope, err := o.scopeOptions.resolve(ctx, s)
			if err != nil {
				return err
			}
			list, err := o.list(ctx, s, scope)
			if err != nil {
				return err
			}
			return s.printAssignments(ctx, list, list)
		},
	}
	o.scopeOptions.addFlags(cmd.Flags(), "scope to list (default: the subscription)")
	o.assigneeOptions.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.role, "role", "", "list only assignments of this role name or GUID")
	return cmd
}

// list returns the assignments at, above and below scope (the subscription
// if scope is empty), of the assignee and role if given.
func (o *assignmentListOptions) list(ctx context.Context, s *session, scope string) ([]roleAssignment, error) {
	if scope == "" {
		scope = "/subscriptions/" + s.subscriptionID
	}
	principalID, err := o.assigneeOptions.resolve(ctx, s)
	if err != nil {
		return nil, err
	}
	roleID := ""
	if o.role != "" {
		role, err := s.resolveRole(ctx, o.role)
		if err != nil {
			return nil, err
		}
		roleID = roleGUID(role.ID)
	}

	query := apiVersion()
	if principalID != "" {
		query.Set("$filter", "principalId eq '"+principalID+"'")
	}
	var page struct {
		Value []roleAssignment `json:"value"`
	}
	if err := s.do(ctx, http.MethodGet, scope+authorizationProvider+"/roleAssignments", query, nil, &page); err != nil {
		return nil, err
	}
	list := []roleAssignment{}
	for _, a := range page.Value {
		if roleID == "" || roleGUID(a.Properties.RoleDefinitionID) == roleID {
			list = append(list, a)
		}
	}
	return list, nil
}

type assignmentDeleteOptions struct {
	assignmentListOptions
	ids []string
}

func newAssignmentDeleteCommand(conn *clientOptions) *cobra.Command {
	o := &assignmentDeleteOptions{}
	cmd := &cobra.Command{
		Use:   "delete (--ids ID ... | --role ROLE --assignee ID [--scope SCOPE | --vault-name NAME])",
		Short: "Delete role assignments by id, or those matching a role, assignee and scope",
		Long: `Delete role assignments. With --ids, the assignments of those resource ids are
deleted. Otherwise every assignment that matches --role and --assignee is
deleted: at exactly --scope (or the vault of --vault-name) if one is given,
else anywhere in the subscription. A match of nothing is an error.`,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd, conn) },
	}
	o.scopeOptions.addFlags(cmd.Flags(), "scope of the assignments to delete")
	o.assigneeOptions.addFlags(cmd.Flags())
	cmd.Flags().StringVar(&o.role, "role", "", "role name or GUID of the assignments to delete")
	cmd.Flags().StringArrayVar(&o.ids, "ids", nil, "resource ids of role assignments, several after one --ids")
	allowSpacedValues(cmd, "ids")
	return cmd
}

func (o *assignmentDeleteOptions) run(cmd *cobra.Command, conn *clientOptions) error {
	selectors := o.role != "" || o.assignee != "" || o.assigneeObjectID != ""
	if len(o.ids) > 0 && (selectors || o.scope != "" || o.vaultName != "") {
		return errors.New("pass --ids alone, or --role, --assignee and --scope without --ids")
	}
	if len(o.ids) == 0 && !selectors {
		return errors.New("nothing selects the assignments to delete: pass --ids, or --role and --assignee (with --scope)")
	}
	s, err := conn.connect(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	ids := o.ids
	if len(ids) == 0 {
		if ids, err = o.matching(ctx, s); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if err := s.do(ctx, http.MethodDelete, "/"+strings.Trim(id, "/"), apiVersion(), nil, nil); err != nil {
			return fmt.Errorf("delete role assignment %s: %w", id, err)
		}
	}
	return nil
}

// matching returns the ids of the assignments that the role, assignee and
// scope flags select.
func (o *assignmentDeleteOptions) matching(ctx context.Context, s *session) ([]string, error) {
	scope, err := o.scopeOptions.resolve(ctx, s)
	if err != nil {
		return nil, err
	}
	list, err := o.list(ctx, s, scope)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, a := range list {
		if scope == "" || strings.EqualFold(strings.TrimSuffix(a.Properties.Scope, "/"), scope) {
			ids = append(ids, a.ID)
		}
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no role assignment matches role %q, assignee %q and scope %q", o.role, o.assignee+o.assigneeObjectID, scope)
	}
	return ids, nil
}

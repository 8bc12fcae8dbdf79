package authz

import (
	"regexp"
	"strings"
)

// Role is an Azure role definition: the control-plane actions and data-plane
// data actions it grants, with * as a wildcard.
type Role struct {
	ID             string // the role definition's GUID
	Name           string
	Description    string
	Actions        []string
	NotActions     []string
	DataActions    []string
	NotDataActions []string
}

// kvManagementRead is the control-plane block shared by the Key Vault
// Administrator, Reader and Officer roles.
var kvManagementRead = []string{
	"Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*", "Microsoft.Resources/deployments/*",
	"Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*",
	"Microsoft.KeyVault/checkNameAvailability/read", "Microsoft.KeyVault/deletedVaults/read",
	"Microsoft.KeyVault/locations/*/read", "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/operations/read",
}

const kv = "Microsoft.KeyVault/vaults/"

// BuiltinRoles are the built-in roles that apply to vaults, with the ids,
// actions and data actions Azure publishes for them, and the general Owner,
// Contributor, Reader and User Access Administrator roles.
var BuiltinRoles = []Role{
	{ID: "00482a5a-887f-4fb3-b363-3b7fe8e74483", Name: "Key Vault Administrator",
		Description: "Perform all data plane operations on a key vault and all objects in it.",
		Actions:     kvManagementRead, DataActions: []string{kv + "*"}},
	{ID: "21090545-7ca7-4776-b22c-e363652d74d2", Name: "Key Vault Reader",
		Description: "Read metadata of key vaults and its certificates, keys, and secrets.",
		Actions:     kvManagementRead, DataActions: []string{kv + "*/read", kv + "secrets/readMetadata/action"}},
	{ID: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", Name: "Key Vault Secrets Officer",
		Description: "Perform any action on the secrets of a key vault, except manage permissions.",
		Actions:     kvManagementRead, DataActions: []string{kv + "secrets/*"}},
	{ID: "4633458b-17de-408a-b874-0445c86b69e6", Name: "Key Vault Secrets User",
		Description: "Read secret contents.",
		DataActions: []string{kv + "secrets/getSecret/action", kv + "secrets/readMetadata/action"}},
	{ID: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", Name: "Key Vault Crypto Officer",
		Description: "Perform any action on the keys of a key vault, except manage permissions.",
		Actions:     kvManagementRead, DataActions: []string{kv + "keys/*", kv + "keyrotationpolicies/*"}},
	{ID: "12338af0-0e69-4776-bea7-57ae8d297424", Name: "Key Vault Crypto User",
		Description: "Perform cryptographic operations using keys.",
		DataActions: []string{kv + "keys/read", kv + "keys/update/action", kv + "keys/backup/action",
			kv + "keys/encrypt/action", kv + "keys/decrypt/action", kv + "keys/wrap/action", kv + "keys/unwrap/action",
			kv + "keys/sign/action", kv + "keys/verify/action"}},
	{ID: "e147488a-f6f5-4113-8e2d-b22465e65bf6", Name: "Key Vault Crypto Service Encryption User",
		Description: "Read metadata of keys and perform wrap/unwrap operations.",
		Actions: []string{"Microsoft.EventGrid/eventSubscriptions/write", "Microsoft.EventGrid/eventSubscriptions/read",
			"Microsoft.EventGrid/eventSubscriptions/delete"},
		DataActions: []string{kv + "keys/read", kv + "keys/wrap/action", kv + "keys/unwrap/action"}},
	{ID: "08bbd89e-9f13-488c-ac41-acfcb10c90ab", Name: "Key Vault Crypto Service Release User",
		Description: "Release keys.", DataActions: []string{kv + "keys/release/action"}},
	{ID: "a4417e6f-fecd-4de8-b567-7b0420556985", Name: "Key Vault Certificates Officer",
		Description: "Perform any action on the certificates of a key vault, except manage permissions.",
		Actions:     kvManagementRead,
		DataActions: []string{kv + "certificatecas/*", kv + "certificates/*", kv + "certificatecontacts/write"}},
	{ID: "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", Name: "Key Vault Certificate User",
		Description: "Read entire certificate contents including secret and key portion.",
		DataActions: []string{kv + "certificates/read", kv + "secrets/getSecret/action", kv + "secrets/readMetadata/action", kv + "keys/read"}},
	{ID: "f25e0fa2-a7c8-4377-a976-54943a77a395", Name: "Key Vault Contributor",
		Description: "Manage key vaults, but does not allow you to assign roles in Azure RBAC, and does not allow you to access secrets, keys, or certificates.",
		Actions: []string{"Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*", "Microsoft.KeyVault/*",
			"Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*"},
		NotActions: []string{"Microsoft.KeyVault/locations/deletedVaults/purge/action", "Microsoft.KeyVault/hsmPools/*", "Microsoft.KeyVault/managedHsms/*"}},
	{ID: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", Name: "Owner",
		Description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
		Actions:     []string{"*"}},
	{ID: "b24988ac-6180-42a0-ab88-20f7382dd24c", Name: "Contributor",
		Description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
		Actions:     []string{"*"},
		NotActions: []string{"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
			"Microsoft.Authorization/elevateAccess/Action"}},
	{ID: "acdd72a7-3385-48ef-bd42-f606fba81ae7", Name: "Reader",
		Description: "View all resources, but does not allow you to make any changes.", Actions: []string{"*/read"}},
	{ID: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", Name: "User Access Administrator",
		Description: "Lets you manage user access to Azure resources.",
		Actions:     []string{"*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"}},
}

// RoleByID returns the built-in role with the given GUID, or nil.
func RoleByID(id string) *Role {
	for i := range BuiltinRoles {
		if strings.EqualFold(BuiltinRoles[i].ID, id) {
			return &BuiltinRoles[i]
		}
	}
	return nil
}

// RoleByName returns the built-in role with the given name (any case), or nil.
func RoleByName(name string) *Role {
	for i := range BuiltinRoles {
		if strings.EqualFold(BuiltinRoles[i].Name, name) {
			return &BuiltinRoles[i]
		}
	}
	return nil
}

// RoleDefinitionID returns the tenant-level id of a role definition, the
// form Azure returns for built-in roles.
func RoleDefinitionID(roleID string) string {
	return "/providers/Microsoft.Authorization/roleDefinitions/" + roleID
}

// patternCache holds compiled action patterns.
var patternCache = map[string]*regexp.Regexp{}

func init() {
	for _, r := range BuiltinRoles {
		for _, list := range [][]string{r.Actions, r.NotActions, r.DataActions, r.NotDataActions} {
			for _, p := range list {
				patternCache[p] = compilePattern(p)
			}
		}
	}
}

// compilePattern turns an action pattern into a case-insensitive regular
// expression in which * matches any run of characters, as in Azure.
func compilePattern(p string) *regexp.Regexp {
	parts := strings.Split(p, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("(?i)^" + strings.Join(parts, ".*") + "$")
}

func matchesAny(patterns []string, action string) bool {
	for _, p := range patterns {
		re := patternCache[p]
		if re == nil {
			re = compilePattern(p)
		}
		if re.MatchString(action) {
			return true
		}
	}
	return false
}

// AllowsAction reports whether the role grants the control-plane action.
func (r *Role) AllowsAction(action string) bool {
	return matchesAny(r.Actions, action) && !matchesAny(r.NotActions, action)
}

// AllowsDataAction reports whether the role grants the data action.
func (r *Role) AllowsDataAction(action string) bool {
	return matchesAny(r.DataActions, action) && !matchesAny(r.NotDataActions, action)
}

package authz

import (
	"strings"

	"github.com/keyvault/keyvault/internal/vault"
)

// Permission lists of the portal's access-policy templates. The management
// templates follow Terraform's copy of the portal lists (terraform-provider-
// azurerm, key_vault_access_policy_data_source.go). The certificate list adds
// recover, backup and restore, which the current portal groups with the
// certificate management operations.
//
// NOTE: the portal's own lists are not published. These are the closest
// public copy, and newer portals may also tick the rotation-policy
// permissions.
var (
	templateKeys    = []string{"get", "list", "update", "create", "import", "delete", "recover", "backup", "restore"}
	templateSecrets = []string{"get", "list", "set", "delete", "recover", "backup", "restore"}
	templateCerts   = []string{"get", "list", "update", "create", "import", "delete", "recover", "backup", "restore",
		"managecontacts", "manageissuers", "getissuers", "listissuers", "setissuers", "deleteissuers"}
)

// Templates maps the portal's access-policy template names to the
// permissions they grant.
var Templates = map[string]vault.Permissions{
	"Key, Secret, & Certificate Management":    {Keys: templateKeys, Secrets: templateSecrets, Certificates: templateCerts},
	"Key & Secret Management":                  {Keys: templateKeys, Secrets: templateSecrets},
	"Secret & Certificate Management":          {Secrets: templateSecrets, Certificates: templateCerts},
	"Key & Certificate Management":             {Keys: templateKeys, Certificates: templateCerts},
	"Key Management":                           {Keys: templateKeys},
	"Secret Management":                        {Secrets: templateSecrets},
	"Certificate Management":                   {Certificates: templateCerts},
	"SQL Server Connector":                     {Keys: []string{"get", "list", "wrapKey", "unwrapKey"}},
	"Azure Data Lake Storage or Azure Storage": {Keys: []string{"get", "list", "unwrapKey"}},
	"Azure Backup":                             {Keys: []string{"get", "list", "backup"}, Secrets: []string{"get", "list", "backup"}},
	"Exchange Online Customer Key":             {Keys: []string{"get", "list", "wrapKey", "unwrapKey"}},
	"SharePoint Online Customer Key":           {Keys: []string{"get", "list", "wrapKey", "unwrapKey"}},
	"Azure Information BYOK":                   {Keys: []string{"get", "decrypt", "sign"}},
}

// Template returns the permissions of a template by name. Case, "&" versus
// "and", and the comma before "&" do not matter, so "Key, Secret &
// Certificate Management" finds the first template.
func Template(name string) (vault.Permissions, bool) {
	norm := func(s string) string {
		s = strings.ToLower(s)
		s = strings.ReplaceAll(s, " and ", " & ")
		s = strings.ReplaceAll(s, ",", "")
		return strings.Join(strings.Fields(s), " ")
	}
	for k, p := range Templates {
		if norm(k) == norm(name) {
			return vault.Permissions{Keys: clone(p.Keys), Secrets: clone(p.Secrets), Certificates: clone(p.Certificates)}, true
		}
	}
	return vault.Permissions{}, false
}

func clone(s []string) []string { return append([]string(nil), s...) }

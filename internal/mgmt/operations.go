package mgmt

import (
	"net/http"
	"strings"
)

// OperationName returns the audit operation name of a management request
// and the status of its success response. Vault operations use Azure's
// names (VaultPut, VaultGet, ...); the rest are named in the same style.
func OperationName(method, path string) (string, int) {
	p := strings.ToLower(strings.Trim(path, "/"))
	segs := strings.Split(p, "/")
	switch {
	case strings.HasPrefix(p, "keyvault/principals"):
		switch {
		case strings.HasSuffix(p, "/reset"):
			return "PrincipalCredentialReset", http.StatusOK
		case strings.Contains(p, "/credentials") && method == http.MethodPost:
			return "PrincipalCredentialAdd", http.StatusCreated
		case strings.Contains(p, "/credentials/") && method == http.MethodDelete:
			return "PrincipalCredentialDelete", http.StatusNoContent
		case method == http.MethodPost:
			return "PrincipalCreate", http.StatusCreated
		case method == http.MethodDelete:
			return "PrincipalDelete", http.StatusOK
		}
		return "PrincipalGet", http.StatusOK
	case strings.Contains(p, "providers/microsoft.authorization/roleassignments"):
		switch method {
		case http.MethodPut:
			return "RoleAssignmentWrite", http.StatusCreated
		case http.MethodDelete:
			return "RoleAssignmentDelete", http.StatusOK
		}
		return "RoleAssignmentGet", http.StatusOK
	case strings.Contains(p, "providers/microsoft.authorization/roledefinitions"):
		return "RoleDefinitionGet", http.StatusOK
	case strings.Contains(p, "/accesspolicies/"):
		return "VaultAccessPolicyUpdate", http.StatusOK
	case strings.Contains(p, "/deletedvaults/") && strings.HasSuffix(p, "/purge"):
		return "VaultPurge", http.StatusOK
	case strings.Contains(p, "deletedvaults"):
		return "DeletedVaultGet", http.StatusOK
	case strings.HasSuffix(p, "checknameavailability"):
		return "VaultCheckNameAvailability", http.StatusOK
	case strings.Contains(p, "providers/microsoft.keyvault/vaults/"):
		switch method {
		case http.MethodPut:
			return "VaultPut", http.StatusOK
		case http.MethodPatch:
			return "VaultPatch", http.StatusOK
		case http.MethodDelete:
			return "VaultDelete", http.StatusOK
		}
		return "VaultGet", http.StatusOK
	case strings.HasSuffix(p, "providers/microsoft.keyvault/vaults") || strings.HasSuffix(p, "/resources"):
		return "VaultList", http.StatusOK
	case len(segs) >= 4 && segs[2] == "resourcegroups":
		if method == http.MethodPut {
			return "ResourceGroupPut", http.StatusCreated
		}
		return "ResourceGroupGet", http.StatusOK
	}
	return "SubscriptionGet", http.StatusOK
}

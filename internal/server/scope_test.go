package server_test

import (
	"net/http"
	"testing"
)

func TestMgmtRoleAssignmentScopes(t *testing.T) {
	e := startAccEnv(t)
	p := e.createPrincipal(t, "scoped")
	body := `{"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6","principalId":"` + p.ObjectID + `"}}`
	assign := "/providers/Microsoft.Authorization/roleAssignments/0b6cd0a6-8e5c-4a84-9e2b-3b2f6d5e4a11?api-version=2022-04-01"

	bad := []string{
		"/subscriptions/" + e.in.Creds.SubscriptionID + "/resourceGroups/rg/../../other",
		"/subscriptions/" + e.in.Creds.SubscriptionID + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x",
		"/subscriptions/" + e.in.Creds.SubscriptionID + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v/secrets/s/extra",
	}
	for _, scope := range bad {
		if r := e.call(t, http.MethodPut, scope+assign, e.admin, body); r.Status != http.StatusBadRequest {
			t.Errorf("PUT at scope %s: %s, want 400", scope, r)
		}
	}
	good := e.vaultID("default", "default") + "/secrets/s1"
	if r := e.call(t, http.MethodPut, good+assign, e.admin, body); r.Status != http.StatusCreated {
		t.Errorf("PUT at scope %s: %s, want 201", good, r)
	}
}

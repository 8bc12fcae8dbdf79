package server_test

import (
	"context"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keyvault/keyvault/internal/kvtest"
)

func TestManagementSmoke(t *testing.T) {
	in := kvtest.Start(t, kvtest.Options{})
	c := in.VaultsClient(t)
	ctx := context.Background()
	poller, err := c.BeginCreateOrUpdate(ctx, "rg1", "myvault", armkeyvault.VaultCreateOrUpdateParameters{
		Location: to.Ptr("local"),
		Properties: &armkeyvault.VaultProperties{
			TenantID: to.Ptr(in.Creds.TenantID),
			SKU:      &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)},
		},
	}, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	res, err := poller.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	t.Logf("vaultUri %s", *res.Properties.VaultURI)
	pager := c.NewListPager(nil)
	n := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		n += len(page.Value)
	}
	if n != 2 {
		t.Fatalf("listed %d vaults, want 2", n)
	}
	sc := in.SecretsClient(t, "myvault")
	if _, err := sc.SetSecret(ctx, "a", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil); err != nil {
		t.Fatalf("set: %v", err)
	}
}

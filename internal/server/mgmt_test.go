package server_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/uuid"

	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/vault"
)

// mgmtVaultAPIVersion is the Microsoft.KeyVault api-version of the raw
// management requests.
const mgmtVaultAPIVersion = "2023-07-01"

// mgmtNames returns the vault names a pager lists.
func mgmtNames[T any](t *testing.T, more func() bool, next func(context.Context) (T, error), values func(T) []*armkeyvault.Vault) []string {
	t.Helper()
	var names []string
	for more() {
		page, err := next(context.Background())
		if err != nil {
			t.Fatalf("list vaults: %v", err)
		}
		for _, v := range values(page) {
			names = append(names, mgmtStr(v.Name))
		}
	}
	slices.Sort(names)
	return names
}

// TestMgmtVaultNames checks vault name rules, uniqueness across resource
// groups and checkNameAvailability.
func TestMgmtVaultNames(t *testing.T) {
	e := startAccEnv(t)
	ctx := context.Background()
	params := armkeyvault.VaultCreateOrUpdateParameters{
		Location: to.Ptr("local"),
		Properties: &armkeyvault.VaultProperties{
			TenantID: to.Ptr(e.in.Creds.TenantID),
			SKU:      &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)},
		},
	}

	invalid := []struct{ name, value string }{
		{"TooShort", "ab"},
		{"TooLong", "a234567890123456789012345"},
		{"DigitFirst", "1vault"},
		{"HyphenFirst", "-vault"},
		{"HyphenLast", "vault-"},
		{"DoubleHyphen", "my--vault"},
		{"Underscore", "my_vault"},
		{"Dot", "my.vault"},
	}
	for _, c := range invalid {
		t.Run("Invalid "+c.name, func(t *testing.T) {
			_, err := e.vaults.BeginCreateOrUpdate(ctx, "rg1", c.value, params, nil)
			accWantError(t, err, http.StatusBadRequest, "BadParameter", "")
			res, err := e.vaults.CheckNameAvailability(ctx, armkeyvault.VaultCheckNameAvailabilityParameters{
				Name: to.Ptr(c.value), Type: to.Ptr("Microsoft.KeyVault/vaults")}, nil)
			if err != nil {
				t.Fatalf("CheckNameAvailability: %v", err)
			}
			if mgmtBool(res.NameAvailable) || res.Reason == nil || *res.Reason != armkeyvault.ReasonAccountNameInvalid {
				t.Errorf("CheckNameAvailability(%q) = available %v, reason %v; want false, AccountNameInvalid", c.value, mgmtBool(res.NameAvailable), res.Reason)
			}
		})
	}

	t.Run("LengthBounds", func(t *testing.T) {
		for _, name := range []string{"abc", "a23456789012345678901234", "a-b-c"} {
			e.createVault(t, "rg1", name, nil)
		}
	})

	check := func(t *testing.T, name string, wantAvailable bool) {
		t.Helper()
		res, err := e.vaults.CheckNameAvailability(ctx, armkeyvault.VaultCheckNameAvailabilityParameters{
			Name: to.Ptr(name), Type: to.Ptr("Microsoft.KeyVault/vaults")}, nil)
		if err != nil {
			t.Fatalf("CheckNameAvailability(%q): %v", name, err)
		}
		if mgmtBool(res.NameAvailable) != wantAvailable {
			t.Fatalf("CheckNameAvailability(%q).nameAvailable = %v, want %v", name, mgmtBool(res.NameAvailable), wantAvailable)
		}
		if wantAvailable {
			if res.Reason != nil {
				t.Errorf("CheckNameAvailability(%q).reason = %q, want none", name, *res.Reason)
			}
			return
		}
		if res.Reason == nil || *res.Reason != armkeyvault.ReasonAlreadyExists || mgmtStr(res.Message) == "" {
			t.Errorf("CheckNameAvailability(%q) = reason %v, message %q; want AlreadyExists with a message", name, res.Reason, mgmtStr(res.Message))
		}
	}

	t.Run("Availability", func(t *testing.T) {
		check(t, "taken-vault", true)
		e.createVault(t, "rg1", "taken-vault", nil)
		check(t, "taken-vault", false)
		check(t, "TAKEN-VAULT", false)
		check(t, "default", false)
		if _, err := e.vaults.Delete(ctx, "rg1", "taken-vault", nil); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		check(t, "taken-vault", false)
	})

	t.Run("DuplicateInOtherGroup", func(t *testing.T) {
		e.createVault(t, "rg1", "unique-vault", nil)
		_, err := e.vaults.BeginCreateOrUpdate(ctx, "rg2", "unique-vault", params, nil)
		accWantError(t, err, http.StatusConflict, "VaultAlreadyExists", "")
		_, err = e.vaults.BeginCreateOrUpdate(ctx, "rg2", "Unique-Vault", params, nil)
		accWantError(t, err, http.StatusConflict, "VaultAlreadyExists", "")
		// A soft-deleted vault keeps its name reserved too.
		_, err = e.vaults.BeginCreateOrUpdate(ctx, "rg2", "taken-vault", params, nil)
		accWantError(t, err, http.StatusConflict, "VaultAlreadyExists", "")
	})

	t.Run("CreateThenUpdateStatus", func(t *testing.T) {
		body := `{"location":"local","properties":{"tenantId":"` + e.in.Creds.TenantID + `","sku":{"family":"A","name":"standard"}}}`
		path := e.vaultID("rg1", "status-vault") + "?api-version=" + mgmtVaultAPIVersion
		if r := e.call(t, http.MethodPut, path, e.admin, body); r.Status != http.StatusCreated {
			t.Errorf("first PUT: %v, want status 201", r)
		}
		if r := e.call(t, http.MethodPut, path, e.admin, body); r.Status != http.StatusOK {
			t.Errorf("second PUT: %v, want status 200", r)
		}
	})

	t.Run("MissingSKU", func(t *testing.T) {
		body := `{"location":"local","properties":{"tenantId":"` + e.in.Creds.TenantID + `"}}`
		r := e.call(t, http.MethodPut, e.vaultID("rg1", "no-sku")+"?api-version="+mgmtVaultAPIVersion, e.admin, body)
		if r.Status != http.StatusBadRequest {
			t.Errorf("PUT without sku: %v, want status 400", r)
		}
	})
}

// TestMgmtVaultUpdate checks Get and Update (PATCH) of a vault, and the
// settings that cannot change.
func TestMgmtVaultUpdate(t *testing.T) {
	e := startAccEnv(t)
	ctx := context.Background()
	e.createVault(t, "rg1", "patch-vault", func(p *armkeyvault.VaultProperties) {
		p.SoftDeleteRetentionInDays = to.Ptr(int32(30))
	})
	e.createVault(t, "rg1", "locked-vault", func(p *armkeyvault.VaultProperties) {
		p.EnablePurgeProtection = to.Ptr(true)
	})

	got, err := e.vaults.Get(ctx, "rg1", "patch-vault", nil)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	props := got.Properties
	if mgmtStr(got.Name) != "patch-vault" || mgmtStr(got.Type) != "Microsoft.KeyVault/vaults" || mgmtStr(got.Location) != "local" {
		t.Errorf("Get = name %q, type %q, location %q; want patch-vault, Microsoft.KeyVault/vaults, local",
			mgmtStr(got.Name), mgmtStr(got.Type), mgmtStr(got.Location))
	}
	if mgmtStr(props.TenantID) != e.in.Creds.TenantID {
		t.Errorf("tenantId = %q, want %q", mgmtStr(props.TenantID), e.in.Creds.TenantID)
	}
	if !mgmtBool(props.EnableSoftDelete) || props.SoftDeleteRetentionInDays == nil || *props.SoftDeleteRetentionInDays != 30 {
		t.Errorf("enableSoftDelete = %v, retention = %v; want true, 30", mgmtBool(props.EnableSoftDelete), props.SoftDeleteRetentionInDays)
	}
	if mgmtBool(props.EnableRbacAuthorization) || mgmtBool(props.EnablePurgeProtection) {
		t.Errorf("rbac = %v, purge protection = %v; want both false", mgmtBool(props.EnableRbacAuthorization), mgmtBool(props.EnablePurgeProtection))
	}
	if props.ProvisioningState == nil || *props.ProvisioningState != armkeyvault.VaultProvisioningStateSucceeded {
		t.Errorf("provisioningState = %v, want Succeeded", props.ProvisioningState)
	}

	t.Run("Tags", func(t *testing.T) {
		res, err := e.vaults.Update(ctx, "rg1", "patch-vault", armkeyvault.VaultPatchParameters{
			Tags: map[string]*string{"env": to.Ptr("test"), "team": to.Ptr("infra")},
		}, nil)
		if err != nil {
			t.Fatalf("Update tags: %v", err)
		}
		if len(res.Tags) != 2 || mgmtStr(res.Tags["env"]) != "test" || mgmtStr(res.Tags["team"]) != "infra" {
			t.Errorf("tags = %v, want env=test, team=infra", res.Tags)
		}
		if mgmtStr(res.Properties.VaultURI) != "https://patch-vault.vault.localhost:"+e.in.Port+"/" {
			t.Errorf("vaultUri after PATCH = %q", mgmtStr(res.Properties.VaultURI))
		}
		again, err := e.vaults.Get(ctx, "rg1", "patch-vault", nil)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if len(again.Tags) != 2 || mgmtStr(again.Tags["env"]) != "test" {
			t.Errorf("Get tags = %v, want env=test, team=infra", again.Tags)
		}
	})

	t.Run("PatchKeepsPolicies", func(t *testing.T) {
		p := e.createPrincipal(t, "kept")
		e.editPolicy(t, "rg1", "patch-vault", armkeyvault.AccessPolicyUpdateKindAdd, p.ObjectID, vault.Permissions{Secrets: []string{"get"}})
		res, err := e.vaults.Update(ctx, "rg1", "patch-vault", armkeyvault.VaultPatchParameters{
			Properties: &armkeyvault.VaultPatchProperties{EnabledForDeployment: to.Ptr(true)},
		}, nil)
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if _, found := accPolicyOf(res.Properties.AccessPolicies, p.ObjectID); !found {
			t.Errorf("PATCH without accessPolicies dropped the entry of %s", p.ObjectID)
		}
		if !mgmtBool(res.Properties.EnabledForDeployment) {
			t.Errorf("enabledForDeployment = false, want true")
		}
		if len(res.Tags) != 2 {
			t.Errorf("PATCH without tags changed them to %v", res.Tags)
		}
	})

	t.Run("SoftDeleteOff", func(t *testing.T) {
		_, err := e.vaults.Update(ctx, "rg1", "patch-vault", armkeyvault.VaultPatchParameters{
			Properties: &armkeyvault.VaultPatchProperties{EnableSoftDelete: to.Ptr(false)},
		}, nil)
		accWantError(t, err, http.StatusBadRequest, "BadParameter", "")
	})

	t.Run("RetentionChange", func(t *testing.T) {
		_, err := e.vaults.Update(ctx, "rg1", "patch-vault", armkeyvault.VaultPatchParameters{
			Properties: &armkeyvault.VaultPatchProperties{SoftDeleteRetentionInDays: to.Ptr(int32(60))},
		}, nil)
		accWantError(t, err, http.StatusBadRequest, "BadParameter", "")
	})

	t.Run("PurgeProtectionOff", func(t *testing.T) {
		_, err := e.vaults.Update(ctx, "rg1", "locked-vault", armkeyvault.VaultPatchParameters{
			Properties: &armkeyvault.VaultPatchProperties{EnablePurgeProtection: to.Ptr(false)},
		}, nil)
		accWantError(t, err, http.StatusBadRequest, "BadParameter", "")
	})

	t.Run("PurgeProtectionOn", func(t *testing.T) {
		res, err := e.vaults.Update(ctx, "rg1", "patch-vault", armkeyvault.VaultPatchParameters{
			Properties: &armkeyvault.VaultPatchProperties{EnablePurgeProtection: to.Ptr(true)},
		}, nil)
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		if !mgmtBool(res.Properties.EnablePurgeProtection) {
			t.Errorf("enablePurgeProtection = false, want true")
		}
	})

	t.Run("Unchanged", func(t *testing.T) {
		after, err := e.vaults.Get(ctx, "rg1", "patch-vault", nil)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !mgmtBool(after.Properties.EnableSoftDelete) || *after.Properties.SoftDeleteRetentionInDays != 30 {
			t.Errorf("after refused updates: enableSoftDelete %v, retention %d; want true, 30",
				mgmtBool(after.Properties.EnableSoftDelete), *after.Properties.SoftDeleteRetentionInDays)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		_, err := e.vaults.Get(ctx, "rg1", "no-such-vault", nil)
		accWantError(t, err, http.StatusNotFound, "ResourceNotFound", "")
		_, err = e.vaults.Get(ctx, "rg2", "patch-vault", nil)
		accWantError(t, err, http.StatusNotFound, "ResourceNotFound", "")
		_, err = e.vaults.Update(ctx, "rg1", "no-such-vault", armkeyvault.VaultPatchParameters{Tags: map[string]*string{}}, nil)
		accWantError(t, err, http.StatusNotFound, "ResourceNotFound", "")
	})
}

// TestMgmtVaultLists checks the three vault lists of armkeyvault.
func TestMgmtVaultLists(t *testing.T) {
	e := startAccEnv(t)
	e.createVault(t, "rg-a", "list-a1", nil)
	e.createVault(t, "rg-a", "list-a2", nil)
	e.createVault(t, "rg-b", "list-b1", nil)

	t.Run("ByResourceGroup", func(t *testing.T) {
		p := e.vaults.NewListByResourceGroupPager("rg-a", nil)
		got := mgmtNames(t, p.More, p.NextPage, func(r armkeyvault.VaultsClientListByResourceGroupResponse) []*armkeyvault.Vault { return r.Value })
		if want := []string{"list-a1", "list-a2"}; !slices.Equal(got, want) {
			t.Errorf("rg-a lists %v, want %v", got, want)
		}
		p = e.vaults.NewListByResourceGroupPager("rg-none", nil)
		got = mgmtNames(t, p.More, p.NextPage, func(r armkeyvault.VaultsClientListByResourceGroupResponse) []*armkeyvault.Vault { return r.Value })
		if len(got) != 0 {
			t.Errorf("rg-none lists %v, want none", got)
		}
	})

	t.Run("BySubscription", func(t *testing.T) {
		p := e.vaults.NewListBySubscriptionPager(nil)
		got := mgmtNames(t, p.More, p.NextPage, func(r armkeyvault.VaultsClientListBySubscriptionResponse) []*armkeyvault.Vault { return r.Value })
		if want := []string{"default", "list-a1", "list-a2", "list-b1"}; !slices.Equal(got, want) {
			t.Errorf("subscription lists %v, want %v", got, want)
		}
	})

	t.Run("Resources", func(t *testing.T) {
		p := e.vaults.NewListPager(nil)
		var names []string
		for p.More() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatalf("NewListPager: %v", err)
			}
			for _, r := range page.Value {
				names = append(names, mgmtStr(r.Name))
				if mgmtStr(r.Type) != "Microsoft.KeyVault/vaults" {
					t.Errorf("resource %s type = %q, want Microsoft.KeyVault/vaults", mgmtStr(r.Name), mgmtStr(r.Type))
				}
				if !strings.HasSuffix(mgmtStr(r.ID), "/providers/Microsoft.KeyVault/vaults/"+mgmtStr(r.Name)) {
					t.Errorf("resource %s id = %q", mgmtStr(r.Name), mgmtStr(r.ID))
				}
			}
		}
		slices.Sort(names)
		if want := []string{"default", "list-a1", "list-a2", "list-b1"}; !slices.Equal(names, want) {
			t.Errorf("resources list %v, want %v", names, want)
		}
	})

	t.Run("Top", func(t *testing.T) {
		// Pages of one vault each, followed through nextLink by the SDK.
		top := to.Ptr[int32](1)
		p := e.vaults.NewListBySubscriptionPager(&armkeyvault.VaultsClientListBySubscriptionOptions{Top: top})
		pages, names := 0, []string{}
		for p.More() {
			page, err := p.NextPage(context.Background())
			if err != nil {
				t.Fatalf("NewListBySubscriptionPager with $top: %v", err)
			}
			pages++
			if len(page.Value) > 1 {
				t.Errorf("page %d has %d vaults, want at most 1", pages, len(page.Value))
			}
			for _, v := range page.Value {
				names = append(names, mgmtStr(v.Name))
			}
		}
		if want := []string{"default", "list-a1", "list-a2", "list-b1"}; !slices.Equal(names, want) || pages != 4 {
			t.Errorf("$top=1 lists %v in %d pages, want %v in 4", names, pages, want)
		}
		rg := e.vaults.NewListByResourceGroupPager("rg-a", &armkeyvault.VaultsClientListByResourceGroupOptions{Top: top})
		got := mgmtNames(t, rg.More, rg.NextPage, func(r armkeyvault.VaultsClientListByResourceGroupResponse) []*armkeyvault.Vault { return r.Value })
		if want := []string{"list-a1", "list-a2"}; !slices.Equal(got, want) {
			t.Errorf("rg-a with $top=1 lists %v, want %v", got, want)
		}
		res := e.vaults.NewListPager(&armkeyvault.VaultsClientListOptions{Top: to.Ptr[int32](3)})
		count := 0
		for res.More() {
			page, err := res.NextPage(context.Background())
			if err != nil {
				t.Fatalf("NewListPager with $top: %v", err)
			}
			count += len(page.Value)
		}
		if count != 4 {
			t.Errorf("resources with $top=3 list %d vaults, want 4", count)
		}

		base := "https://localhost:" + e.in.Port + "/subscriptions/" + e.in.Creds.SubscriptionID +
			"/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01"
		for _, bad := range []string{"&$top=0", "&$top=x", "&$top=2&$skiptoken=!!"} {
			r := e.in.Do(t, http.MethodGet, base+bad, e.admin, "")
			if r.Status != http.StatusBadRequest {
				t.Errorf("list with %s: %v, want 400", bad, r)
			}
		}
	})

	t.Run("DeletedNotListed", func(t *testing.T) {
		if _, err := e.vaults.Delete(context.Background(), "rg-b", "list-b1", nil); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		p := e.vaults.NewListBySubscriptionPager(nil)
		got := mgmtNames(t, p.More, p.NextPage, func(r armkeyvault.VaultsClientListBySubscriptionResponse) []*armkeyvault.Vault { return r.Value })
		if want := []string{"default", "list-a1", "list-a2"}; !slices.Equal(got, want) {
			t.Errorf("subscription lists %v after a delete, want %v", got, want)
		}
	})
}

// mgmtDeletedNames returns the names NewListDeletedPager lists.
func mgmtDeletedNames(t *testing.T, e *accEnv) []string {
	t.Helper()
	var names []string
	p := e.vaults.NewListDeletedPager(nil)
	for p.More() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("NewListDeletedPager: %v", err)
		}
		for _, d := range page.Value {
			names = append(names, mgmtStr(d.Name))
		}
	}
	slices.Sort(names)
	return names
}

// TestMgmtVaultDeleteRecover checks soft delete of a vault and its recovery
// with createMode recover, objects included.
func TestMgmtVaultDeleteRecover(t *testing.T) {
	e := startAccEnv(t)
	ctx := context.Background()
	e.createVault(t, "rg1", "gone-vault", nil)
	sc := e.in.SecretsClient(t, "gone-vault")
	kc := e.in.KeysClient(t, "gone-vault")
	if _, err := sc.SetSecret(ctx, "kept", azsecrets.SetSecretParameters{Value: to.Ptr("still here")}, nil); err != nil {
		t.Fatalf("SetSecret: %v", err)
	}
	if _, err := kc.CreateKey(ctx, "kept-key", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}

	if _, err := e.vaults.Delete(ctx, "rg1", "gone-vault", nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}

	t.Run("DataPlaneGone", func(t *testing.T) {
		_, err := sc.GetSecret(ctx, "kept", "", nil)
		accWantError(t, err, http.StatusNotFound, "VaultNotFound", "")
		_, err = kc.GetKey(ctx, "kept-key", "", nil)
		accWantError(t, err, http.StatusNotFound, "VaultNotFound", "")
	})

	t.Run("ManagementGone", func(t *testing.T) {
		_, err := e.vaults.Get(ctx, "rg1", "gone-vault", nil)
		accWantError(t, err, http.StatusNotFound, "ResourceNotFound", "")
	})

	t.Run("Deleted", func(t *testing.T) {
		if got := mgmtDeletedNames(t, e); !slices.Equal(got, []string{"gone-vault"}) {
			t.Errorf("deleted vaults = %v, want [gone-vault]", got)
		}
		d, err := e.vaults.GetDeleted(ctx, "gone-vault", "local", nil)
		if err != nil {
			t.Fatalf("GetDeleted: %v", err)
		}
		props := d.Properties
		if mgmtStr(props.VaultID) != e.vaultID("rg1", "gone-vault") || mgmtStr(props.Location) != "local" {
			t.Errorf("deleted vault = vaultId %q, location %q; want %q, local", mgmtStr(props.VaultID), mgmtStr(props.Location), e.vaultID("rg1", "gone-vault"))
		}
		if props.DeletionDate == nil || props.ScheduledPurgeDate == nil {
			t.Fatalf("deletionDate = %v, scheduledPurgeDate = %v; want both", props.DeletionDate, props.ScheduledPurgeDate)
		}
		if days := props.ScheduledPurgeDate.Sub(*props.DeletionDate).Hours() / 24; days != 90 {
			t.Errorf("scheduled purge is %v days after deletion, want 90", days)
		}
		_, err = e.vaults.GetDeleted(ctx, "default", "local", nil)
		accWantError(t, err, http.StatusNotFound, "ResourceNotFound", "")
	})

	t.Run("RecoverInOtherGroup", func(t *testing.T) {
		_, err := e.vaults.BeginCreateOrUpdate(ctx, "rg2", "gone-vault", armkeyvault.VaultCreateOrUpdateParameters{
			Location: to.Ptr("local"),
			Properties: &armkeyvault.VaultProperties{
				TenantID:   to.Ptr(e.in.Creds.TenantID),
				SKU:        &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)},
				CreateMode: to.Ptr(armkeyvault.CreateModeRecover),
			},
		}, nil)
		accWantError(t, err, http.StatusBadRequest, "BadParameter", "")
	})

	t.Run("Recover", func(t *testing.T) {
		v := e.createVault(t, "rg1", "gone-vault", func(p *armkeyvault.VaultProperties) {
			p.CreateMode = to.Ptr(armkeyvault.CreateModeRecover)
		})
		if mgmtStr(v.Properties.VaultURI) != "https://gone-vault.vault.localhost:"+e.in.Port+"/" {
			t.Errorf("vaultUri = %q", mgmtStr(v.Properties.VaultURI))
		}
		got, err := sc.GetSecret(ctx, "kept", "", nil)
		if err != nil {
			t.Fatalf("GetSecret after recover: %v", err)
		}
		if mgmtStr(got.Value) != "still here" {
			t.Errorf("secret after recover = %q, want %q", mgmtStr(got.Value), "still here")
		}
		if _, err := kc.GetKey(ctx, "kept-key", "", nil); err != nil {
			t.Errorf("GetKey after recover: %v", err)
		}
		if got := mgmtDeletedNames(t, e); len(got) != 0 {
			t.Errorf("deleted vaults after recover = %v, want none", got)
		}
	})

	t.Run("RecoverNothing", func(t *testing.T) {
		_, err := e.vaults.BeginCreateOrUpdate(ctx, "rg1", "never-deleted", armkeyvault.VaultCreateOrUpdateParameters{
			Location: to.Ptr("local"),
			Properties: &armkeyvault.VaultProperties{
				TenantID:   to.Ptr(e.in.Creds.TenantID),
				SKU:        &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)},
				CreateMode: to.Ptr(armkeyvault.CreateModeRecover),
			},
		}, nil)
		accWantError(t, err, http.StatusNotFound, "ResourceNotFound", "")
	})
}

// TestMgmtVaultPurge checks purging a soft-deleted vault, the reuse of its
// name, and purge protection.
func TestMgmtVaultPurge(t *testing.T) {
	e := startAccEnv(t)
	ctx := context.Background()
	e.createVault(t, "rg1", "purged-vault", nil)
	sc := e.in.SecretsClient(t, "purged-vault")
	if _, err := sc.SetSecret(ctx, "old", azsecrets.SetSecretParameters{Value: to.Ptr("old value")}, nil); err != nil {
		t.Fatalf("SetSecret: %v", err)
	}
	if _, err := sc.SetSecret(ctx, "deleted-old", azsecrets.SetSecretParameters{Value: to.Ptr("x")}, nil); err != nil {
		t.Fatalf("SetSecret: %v", err)
	}
	if _, err := sc.DeleteSecret(ctx, "deleted-old", nil); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	if _, err := e.vaults.Delete(ctx, "rg1", "purged-vault", nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}

	poller, err := e.vaults.BeginPurgeDeleted(ctx, "purged-vault", "local", nil)
	if err != nil {
		t.Fatalf("BeginPurgeDeleted: %v", err)
	}
	if _, err := poller.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("BeginPurgeDeleted: poll: %v", err)
	}
	if got := mgmtDeletedNames(t, e); len(got) != 0 {
		t.Errorf("deleted vaults after purge = %v, want none", got)
	}
	_, err = e.vaults.GetDeleted(ctx, "purged-vault", "local", nil)
	accWantError(t, err, http.StatusNotFound, "ResourceNotFound", "")
	res, err := e.vaults.CheckNameAvailability(ctx, armkeyvault.VaultCheckNameAvailabilityParameters{
		Name: to.Ptr("purged-vault"), Type: to.Ptr("Microsoft.KeyVault/vaults")}, nil)
	if err != nil || !mgmtBool(res.NameAvailable) {
		t.Errorf("CheckNameAvailability after purge = %v, err %v; want available", mgmtBool(res.NameAvailable), err)
	}

	t.Run("RecreateIsEmpty", func(t *testing.T) {
		e.createVault(t, "rg2", "purged-vault", nil)
		_, err := sc.GetSecret(ctx, "old", "", nil)
		accWantError(t, err, http.StatusNotFound, "SecretNotFound", "")
		_, err = sc.GetDeletedSecret(ctx, "deleted-old", nil)
		accWantError(t, err, http.StatusNotFound, "SecretNotFound", "")
		page, err := accFirstPage(sc.NewListSecretPropertiesPager(nil))
		if err != nil {
			t.Fatalf("list secrets: %v", err)
		}
		if len(page.Value) != 0 {
			t.Errorf("recreated vault lists %d secrets, want 0", len(page.Value))
		}
		if _, err := sc.SetSecret(ctx, "old", azsecrets.SetSecretParameters{Value: to.Ptr("new value")}, nil); err != nil {
			t.Fatalf("SetSecret in the recreated vault: %v", err)
		}
		pager := sc.NewListSecretPropertiesVersionsPager("old", nil)
		versions, err := accFirstPage(pager)
		if err != nil {
			t.Fatalf("list versions: %v", err)
		}
		if len(versions.Value) != 1 {
			t.Errorf("secret old has %d versions in the recreated vault, want 1", len(versions.Value))
		}
	})

	t.Run("PurgeNotDeleted", func(t *testing.T) {
		_, err := e.vaults.BeginPurgeDeleted(ctx, "default", "local", nil)
		accWantError(t, err, http.StatusNotFound, "ResourceNotFound", "")
	})

	t.Run("PurgeProtected", func(t *testing.T) {
		e.createVault(t, "rg1", "protected-vault", func(p *armkeyvault.VaultProperties) {
			p.EnablePurgeProtection = to.Ptr(true)
			p.SoftDeleteRetentionInDays = to.Ptr(int32(7))
		})
		if _, err := e.vaults.Delete(ctx, "rg1", "protected-vault", nil); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		d, err := e.vaults.GetDeleted(ctx, "protected-vault", "local", nil)
		if err != nil {
			t.Fatalf("GetDeleted: %v", err)
		}
		if !mgmtBool(d.Properties.PurgeProtectionEnabled) {
			t.Errorf("purgeProtectionEnabled = false, want true")
		}
		_, err = e.vaults.BeginPurgeDeleted(ctx, "protected-vault", "local", nil)
		accWantError(t, err, http.StatusConflict, "VaultPurgeProtected", "")
		if got := mgmtDeletedNames(t, e); !slices.Equal(got, []string{"protected-vault"}) {
			t.Errorf("deleted vaults after a refused purge = %v, want [protected-vault]", got)
		}
	})
}

// TestMgmtBackupAcrossVaults restores a secret and a key backed up in one
// vault into another vault of the same server.
func TestMgmtBackupAcrossVaults(t *testing.T) {
	e := startAccEnv(t)
	ctx := context.Background()
	e.createVault(t, "rg1", "source-vault", nil)
	e.createVault(t, "rg2", "target-vault", nil)
	srcSecrets, dstSecrets := e.in.SecretsClient(t, "source-vault"), e.in.SecretsClient(t, "target-vault")
	srcKeys, dstKeys := e.in.KeysClient(t, "source-vault"), e.in.KeysClient(t, "target-vault")

	t.Run("Secret", func(t *testing.T) {
		set, err := srcSecrets.SetSecret(ctx, "moving", azsecrets.SetSecretParameters{Value: to.Ptr("portable"), ContentType: to.Ptr("text/plain")}, nil)
		if err != nil {
			t.Fatalf("SetSecret: %v", err)
		}
		backup, err := srcSecrets.BackupSecret(ctx, "moving", nil)
		if err != nil {
			t.Fatalf("BackupSecret: %v", err)
		}
		restored, err := dstSecrets.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: backup.Value}, nil)
		if err != nil {
			t.Fatalf("RestoreSecret into another vault: %v", err)
		}
		if !strings.HasPrefix(string(*restored.ID), "https://target-vault.vault.localhost:"+e.in.Port+"/secrets/moving/") {
			t.Errorf("restored id = %q, want it in target-vault", *restored.ID)
		}
		got, err := dstSecrets.GetSecret(ctx, "moving", set.ID.Version(), nil)
		if err != nil {
			t.Fatalf("GetSecret in the target vault: %v", err)
		}
		if mgmtStr(got.Value) != "portable" || mgmtStr(got.ContentType) != "text/plain" {
			t.Errorf("restored secret = value %q, content type %q; want portable, text/plain", mgmtStr(got.Value), mgmtStr(got.ContentType))
		}
		if _, err := srcSecrets.GetSecret(ctx, "moving", "", nil); err != nil {
			t.Errorf("source secret after the restore elsewhere: %v", err)
		}
	})

	t.Run("Key", func(t *testing.T) {
		created, err := srcKeys.CreateKey(ctx, "moving-key", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr(int32(2048))}, nil)
		if err != nil {
			t.Fatalf("CreateKey: %v", err)
		}

		backup, err := srcKeys.BackupKey(ctx, "moving-key", nil)
		if err != nil {
			t.Fatalf("BackupKey: %v", err)
		}
		restored, err := dstKeys.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: backup.Value}, nil)
		if err != nil {
			t.Fatalf("RestoreKey into another vault: %v", err)
		}
		if restored.Key.KID.Version() != created.Key.KID.Version() {
			t.Errorf("restored version = %q, want %q", restored.Key.KID.Version(), created.Key.KID.Version())
		}
		if !strings.HasPrefix(string(*restored.Key.KID), "https://target-vault.vault.localhost:"+e.in.Port+"/keys/moving-key/") {
			t.Errorf("restored kid = %q, want it in target-vault", *restored.Key.KID)
		}
		// Ciphertext of the source key opens with the restored key, so the
		// key material is the same.
		enc, err := srcKeys.Encrypt(ctx, "moving-key", "", azkeys.KeyOperationParameters{
			Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: []byte("across vaults")}, nil)
		if err != nil {
			t.Fatalf("Encrypt in the source vault: %v", err)
		}
		dec, err := dstKeys.Decrypt(ctx, "moving-key", "", azkeys.KeyOperationParameters{
			Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: enc.Result}, nil)
		if err != nil {
			t.Fatalf("Decrypt in the target vault: %v", err)
		}
		if string(dec.Result) != "across vaults" {
			t.Errorf("Decrypt = %q, want %q", dec.Result, "across vaults")
		}
	})

	t.Run("TargetHasName", func(t *testing.T) {
		backup, err := srcSecrets.BackupSecret(ctx, "moving", nil)
		if err != nil {
			t.Fatalf("BackupSecret: %v", err)
		}
		_, err = dstSecrets.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: backup.Value}, nil)
		accWantError(t, err, http.StatusConflict, "Conflict", "")
	})
}

// TestMgmtPrincipalAPI checks principal creation, listing and deletion, and
// that only the administrator may use the principal API.
func TestMgmtPrincipalAPI(t *testing.T) {
	e := startAccEnv(t)
	in := e.in
	p := e.createPrincipal(t, "ci-pipeline")

	t.Run("Created", func(t *testing.T) {
		if p.DisplayName != "ci-pipeline" || p.TenantID != in.Creds.TenantID || p.Admin {
			t.Errorf("principal = %+v, want displayName ci-pipeline, tenant %s, not admin", p, in.Creds.TenantID)
		}
		if len(p.Credentials) != 1 || p.Credentials[0].Type != "secret" || p.Credentials[0].Hint != p.ClientSecret[:3] {
			t.Errorf("credentials = %+v, want one secret with hint %q", p.Credentials, p.ClientSecret[:3])
		}
		if p.Credentials[0].Secret != "" {
			t.Errorf("the credential entry repeats the secret")
		}
		accToken(t, in, p.ClientID, p.ClientSecret, in.Creds.Resource)
	})

	t.Run("GetHidesSecret", func(t *testing.T) {
		for _, path := range []string{"/keyvault/principals/" + p.ObjectID, "/keyvault/principals/" + p.ObjectID + "/credentials", "/keyvault/principals"} {
			r := e.call(t, http.MethodGet, path, e.admin, "")
			if r.Status != http.StatusOK {
				t.Fatalf("GET %s: %v", path, r)
			}
			if strings.Contains(string(r.Body), p.ClientSecret) || strings.Contains(string(r.Body), "clientSecret") {
				t.Errorf("GET %s shows the client secret: %s", path, r.Body)
			}
		}
	})

	t.Run("List", func(t *testing.T) {
		r := e.call(t, http.MethodGet, "/keyvault/principals", e.admin, "")
		var list struct {
			Value []accPrincipal `json:"value"`
		}
		r.JSON(t, &list)
		found, admins := false, 0
		for _, q := range list.Value {
			if q.ObjectID == p.ObjectID && q.ClientID == p.ClientID {
				found = true
			}
			if q.Admin {
				admins++
				if q.ClientID != in.Creds.ClientID {
					t.Errorf("admin clientId = %q, want %q", q.ClientID, in.Creds.ClientID)
				}
			}
		}
		if !found || admins != 1 || len(list.Value) != 2 {
			t.Errorf("list = %s, want the new principal and one admin", r.Body)
		}
	})

	t.Run("NonAdminForbidden", func(t *testing.T) {
		token := accToken(t, in, p.ClientID, p.ClientSecret, in.Creds.ManagementResource)
		requests := []struct{ method, path, body string }{
			{http.MethodGet, "/keyvault/principals", ""},
			{http.MethodPost, "/keyvault/principals", `{"displayName":"sneaky"}`},
			{http.MethodGet, "/keyvault/principals/" + p.ObjectID, ""},
			{http.MethodPost, "/keyvault/principals/" + p.ObjectID + "/credentials", `{"type":"secret"}`},
			{http.MethodPost, "/keyvault/principals/" + p.ObjectID + "/credentials/reset", ""},
			{http.MethodDelete, "/keyvault/principals/" + p.ObjectID, ""},
		}
		for _, req := range requests {
			r := e.call(t, req.method, req.path, token, req.body)
			if r.Status != http.StatusForbidden {
				t.Errorf("%s %s as a principal: %v, want status 403", req.method, req.path, r)
				continue
			}
			if code, _ := r.ErrorCode(); code != "AuthorizationFailed" {
				t.Errorf("%s %s as a principal: code %q, want AuthorizationFailed", req.method, req.path, code)
			}
		}
		r := e.call(t, http.MethodGet, "/keyvault/principals/"+p.ObjectID, e.admin, "")
		if r.Status != http.StatusOK {
			t.Errorf("principal after refused requests: %v, want status 200", r)
		}
	})

	t.Run("BadRequests", func(t *testing.T) {
		cases := []struct {
			name, method, path, body string
			status                   int
			code                     string
		}{
			{"EmptyName", http.MethodPost, "/keyvault/principals", `{"displayName":"  "}`, http.StatusBadRequest, "BadRequest"},
			{"LongName", http.MethodPost, "/keyvault/principals", `{"displayName":"` + strings.Repeat("n", 121) + `"}`, http.StatusBadRequest, "BadRequest"},
			{"NoBody", http.MethodPost, "/keyvault/principals", "", http.StatusBadRequest, "InvalidRequestContent"},
			{"UnknownPrincipal", http.MethodGet, "/keyvault/principals/00000000-0000-4000-8000-000000000000", "", http.StatusNotFound, "PrincipalNotFound"},
			{"UnknownCredentialType", http.MethodPost, "/keyvault/principals/" + p.ObjectID + "/credentials", `{"type":"password"}`, http.StatusBadRequest, "BadRequest"},
			{"NotPEM", http.MethodPost, "/keyvault/principals/" + p.ObjectID + "/credentials", `{"type":"certificate","certificate":"hello"}`, http.StatusBadRequest, "InvalidCredential"},
			{"UnknownCredential", http.MethodDelete, "/keyvault/principals/" + p.ObjectID + "/credentials/00000000-0000-4000-8000-000000000000", "", http.StatusNotFound, "PrincipalNotFound"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.call(t, c.method, c.path, e.admin, c.body)
				if r.Status != c.status {
					t.Fatalf("%s %s: %v, want status %d", c.method, c.path, r, c.status)
				}
				if code, _ := r.ErrorCode(); code != c.code {
					t.Errorf("%s %s: code %q, want %q", c.method, c.path, code, c.code)
				}
			})
		}
	})

	t.Run("AdminNotDeletable", func(t *testing.T) {
		r := e.call(t, http.MethodGet, "/keyvault/principals", e.admin, "")
		var list struct {
			Value []accPrincipal `json:"value"`
		}
		r.JSON(t, &list)
		adminObjectID := ""
		for _, q := range list.Value {
			if q.Admin {
				adminObjectID = q.ObjectID
			}
		}
		if adminObjectID == "" {
			t.Fatalf("no admin in %s", r.Body)
		}
		r = e.call(t, http.MethodDelete, "/keyvault/principals/"+adminObjectID, e.admin, "")
		if r.Status != http.StatusBadRequest {
			t.Errorf("DELETE admin: %v, want status 400", r)
		}
		accToken(t, in, in.Creds.ClientID, in.Creds.ClientSecret, in.Creds.Resource)
		if r := e.call(t, http.MethodGet, "/keyvault/principals/"+adminObjectID, e.admin, ""); r.Status != http.StatusOK {
			t.Errorf("GET admin after the refused delete: %v, want status 200", r)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		q := e.createPrincipal(t, "temporary")
		r := e.call(t, http.MethodDelete, "/keyvault/principals/"+q.ObjectID, e.admin, "")
		if r.Status != http.StatusOK {
			t.Fatalf("DELETE: %v, want status 200", r)
		}
		if strings.Contains(string(r.Body), q.ClientSecret) {
			t.Errorf("DELETE response shows the client secret")
		}
		if r := e.call(t, http.MethodGet, "/keyvault/principals/"+q.ObjectID, e.admin, ""); r.Status != http.StatusNotFound {
			t.Errorf("GET deleted principal: %v, want status 404", r)
		}
		if r := e.call(t, http.MethodDelete, "/keyvault/principals/"+q.ObjectID, e.admin, ""); r.Status != http.StatusNotFound {
			t.Errorf("DELETE deleted principal: %v, want status 404", r)
		}
		if r := accPostForm(t, in, accSecretForm(q.ClientID, q.ClientSecret, in.Creds.Resource)); r.Status != http.StatusUnauthorized {
			t.Errorf("token for a deleted principal: %v, want status 401", r)
		}
	})
}

// TestMgmtPrincipalCredentials checks adding, listing, deleting and
// resetting a principal's credentials.
func TestMgmtPrincipalCredentials(t *testing.T) {
	e := startAccEnv(t)
	in := e.in
	p := e.createPrincipal(t, "rotating")
	base := "/keyvault/principals/" + p.ObjectID + "/credentials"
	signsIn := func(secret string) bool {
		return accPostForm(t, in, accSecretForm(p.ClientID, secret, in.Creds.Resource)).Status == http.StatusOK
	}

	r := e.call(t, http.MethodPost, base, e.admin, `{"type":"secret"}`)
	if r.Status != http.StatusCreated {
		t.Fatalf("add secret: %v, want status 201", r)
	}
	var second accCredential
	r.JSON(t, &second)
	if second.Type != "secret" || second.Secret == "" || second.Hint != second.Secret[:3] {
		t.Fatalf("added secret = %+v, want type secret with the secret and its hint", second)
	}

	cert, _, certPEM := accSelfSigned(t, "rotating-cert")
	body, _ := json.Marshal(map[string]string{"type": "certificate", "certificate": certPEM})
	r = e.call(t, http.MethodPost, base, e.admin, string(body))
	if r.Status != http.StatusCreated {
		t.Fatalf("add certificate: %v, want status 201", r)
	}
	var certCred accCredential
	r.JSON(t, &certCred)
	sum := sha1.Sum(cert.Raw)
	if certCred.Thumbprint != strings.ToUpper(hex.EncodeToString(sum[:])) {
		t.Errorf("thumbprint = %q, want %X", certCred.Thumbprint, sum)
	}

	t.Run("DuplicateCertificate", func(t *testing.T) {
		r := e.call(t, http.MethodPost, base, e.admin, string(body))
		if r.Status != http.StatusBadRequest {
			t.Errorf("add the same certificate again: %v, want status 400", r)
		}
	})

	t.Run("List", func(t *testing.T) {
		r := e.call(t, http.MethodGet, base, e.admin, "")
		var got accPrincipal
		r.JSON(t, &got)
		var types []string
		for _, c := range got.Credentials {
			types = append(types, c.Type)
			if c.Secret != "" {
				t.Errorf("credential %s shows its secret", c.ID)
			}
		}
		slices.Sort(types)
		if want := []string{"certificate", "secret", "secret"}; !slices.Equal(types, want) {
			t.Errorf("credential types = %v, want %v", types, want)
		}
	})

	t.Run("BothSecretsWork", func(t *testing.T) {
		if !signsIn(p.ClientSecret) || !signsIn(second.Secret) {
			t.Errorf("sign-in: first secret %v, second secret %v; want both to work", signsIn(p.ClientSecret), signsIn(second.Secret))
		}
	})

	t.Run("DeleteSecret", func(t *testing.T) {
		r := e.call(t, http.MethodDelete, base+"/"+second.ID, e.admin, "")
		if r.Status != http.StatusNoContent {
			t.Fatalf("delete credential: %v, want status 204", r)
		}
		if signsIn(second.Secret) {
			t.Errorf("the deleted secret still signs in")
		}
		if !signsIn(p.ClientSecret) {
			t.Errorf("the remaining secret no longer signs in")
		}
	})

	t.Run("Reset", func(t *testing.T) {
		token := accToken(t, in, p.ClientID, p.ClientSecret, in.Creds.ManagementResource)
		r := e.call(t, http.MethodPost, base+"/reset", e.admin, "")
		if r.Status != http.StatusOK {
			t.Fatalf("reset: %v, want status 200", r)
		}
		var fresh accCredential
		r.JSON(t, &fresh)
		if fresh.Secret == "" || fresh.Secret == p.ClientSecret {
			t.Fatalf("reset returned secret %q, want a new one", fresh.Secret)
		}
		if signsIn(p.ClientSecret) {
			t.Errorf("the old secret still signs in after reset")
		}
		if !signsIn(fresh.Secret) {
			t.Errorf("the new secret does not sign in")
		}
		r = e.call(t, http.MethodGet, base, e.admin, "")
		var got accPrincipal
		r.JSON(t, &got)
		if len(got.Credentials) != 1 || got.Credentials[0].ID != fresh.ID {
			t.Errorf("credentials after reset = %+v, want only %s", got.Credentials, fresh.ID)
		}
		// Tokens issued before the reset stay valid until they expire,
		// because the reset replaces credentials and keeps the principal.
		if r := e.call(t, http.MethodGet, "/subscriptions?api-version=2022-12-01", token, ""); r.Status != http.StatusOK {
			t.Errorf("token issued before the reset: %v, want status 200", r)
		}
	})
}

// mgmtStr returns *p, or "" for nil.
func mgmtStr[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

// mgmtBool returns *p, or false for nil.
func mgmtBool(p *bool) bool {
	return p != nil && *p
}

// TestMgmtControlPlaneRoles checks which management requests the built-in
// control-plane roles allow a principal that is not the administrator.
func TestMgmtControlPlaneRoles(t *testing.T) {
	e := startAccEnv(t)
	in := e.in
	e.createVault(t, "rg-ops", "ops-vault", nil)
	groupScope := "/subscriptions/" + in.Creds.SubscriptionID + "/resourceGroups/rg-ops"
	vaultPath := func(name string) string { return e.vaultID("rg-ops", name) + "?api-version=" + mgmtVaultAPIVersion }
	newVault := `{"location":"local","properties":{"tenantId":"` + in.Creds.TenantID + `","sku":{"family":"A","name":"standard"}}}`
	signIn := func(t *testing.T, p accPrincipal) string {
		t.Helper()
		return accToken(t, in, p.ClientID, p.ClientSecret, in.Creds.ManagementResource)
	}
	want := func(t *testing.T, r *kvtest.Response, status int, code string) {
		t.Helper()
		if r.Status != status {
			t.Errorf("%v, want status %d", r, status)
			return
		}
		if got, _ := r.ErrorCode(); got != code {
			t.Errorf("error code = %q, want %q", got, code)
		}
	}

	t.Run("NoRole", func(t *testing.T) {
		token := signIn(t, e.createPrincipal(t, "no-role"))
		want(t, e.call(t, http.MethodGet, vaultPath("ops-vault"), token, ""), http.StatusForbidden, "AuthorizationFailed")
		want(t, e.call(t, http.MethodPut, vaultPath("mine"), token, newVault), http.StatusForbidden, "AuthorizationFailed")
		want(t, e.call(t, http.MethodDelete, vaultPath("ops-vault"), token, ""), http.StatusForbidden, "AuthorizationFailed")
		want(t, e.call(t, http.MethodGet, "/subscriptions/"+in.Creds.SubscriptionID+"/providers/Microsoft.KeyVault/vaults?api-version="+mgmtVaultAPIVersion, token, ""),
			http.StatusForbidden, "AuthorizationFailed")
		if _, err := e.vaults.Get(context.Background(), "rg-ops", "ops-vault", nil); err != nil {
			t.Errorf("ops-vault after refused requests: %v", err)
		}
	})

	t.Run("Reader", func(t *testing.T) {
		p := e.createPrincipal(t, "reader")
		e.assignRole(t, e.vaultID("rg-ops", "ops-vault"), "Reader", p.ObjectID)
		token := signIn(t, p)
		want(t, e.call(t, http.MethodGet, vaultPath("ops-vault"), token, ""), http.StatusOK, "")
		want(t, e.call(t, http.MethodPatch, vaultPath("ops-vault"), token, `{"tags":{"a":"b"}}`), http.StatusForbidden, "AuthorizationFailed")
		want(t, e.call(t, http.MethodPut, e.vaultID("rg-ops", "ops-vault")+"/accessPolicies/add?api-version="+mgmtVaultAPIVersion, token,
			`{"properties":{"accessPolicies":[{"tenantId":"`+in.Creds.TenantID+`","objectId":"`+p.ObjectID+`","permissions":{"secrets":["get"]}}]}}`),
			http.StatusForbidden, "AuthorizationFailed")
	})

	t.Run("KeyVaultContributor", func(t *testing.T) {
		p := e.createPrincipal(t, "contributor")
		e.assignRole(t, groupScope, "Key Vault Contributor", p.ObjectID)
		token := signIn(t, p)
		want(t, e.call(t, http.MethodPut, vaultPath("team-vault"), token, newVault), http.StatusCreated, "")
		want(t, e.call(t, http.MethodPatch, vaultPath("team-vault"), token, `{"tags":{"owner":"team"}}`), http.StatusOK, "")
		r := e.call(t, http.MethodGet, "/subscriptions/"+in.Creds.SubscriptionID+"/resourceGroups/rg-ops/providers/Microsoft.KeyVault/vaults?api-version="+mgmtVaultAPIVersion, token, "")
		want(t, r, http.StatusOK, "")

		// The role manages vaults but reads no data.
		sc := accSecretsClient(t, in, "team-vault", in.SecretCredential(t, p.ClientID, p.ClientSecret))
		_, err := accFirstPage(sc.NewListSecretPropertiesPager(nil))
		accForbidden(t, err, "AccessDenied")

		// It may not assign roles, nor create vaults in other groups.
		body, _ := json.Marshal(map[string]any{"properties": map[string]string{
			"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/00482a5a-887f-4fb3-b363-3b7fe8e74483",
			"principalId":      p.ObjectID,
		}})
		want(t, e.call(t, http.MethodPut, e.vaultID("rg-ops", "team-vault")+"/providers/Microsoft.Authorization/roleAssignments/"+
			"7d1f3c2a-9b8e-4f6d-a5c4-3e2b1a0f9d8c?api-version="+accRoleAPIVersion, token, string(body)), http.StatusForbidden, "AuthorizationFailed")
		want(t, e.call(t, http.MethodPut, e.vaultID("rg-elsewhere", "far-vault")+"?api-version="+mgmtVaultAPIVersion, token, newVault),
			http.StatusForbidden, "AuthorizationFailed")

		// It may delete, but purge is in its NotActions.
		want(t, e.call(t, http.MethodDelete, vaultPath("team-vault"), token, ""), http.StatusOK, "")
		want(t, e.call(t, http.MethodPost, "/subscriptions/"+in.Creds.SubscriptionID+"/providers/Microsoft.KeyVault/locations/local/deletedVaults/team-vault/purge?api-version="+mgmtVaultAPIVersion, token, ""),
			http.StatusForbidden, "AuthorizationFailed")
	})

	t.Run("UserAccessAdministrator", func(t *testing.T) {
		p := e.createPrincipal(t, "access-admin")
		e.assignRole(t, e.vaultID("rg-ops", "ops-vault"), "User Access Administrator", p.ObjectID)
		token := signIn(t, p)
		grantee := e.createPrincipal(t, "grantee")
		body, _ := json.Marshal(map[string]any{"properties": map[string]string{
			"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6",
			"principalId":      grantee.ObjectID,
		}})
		at := func(scope string) string {
			return scope + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString() + "?api-version=" + accRoleAPIVersion
		}
		want(t, e.call(t, http.MethodPut, at(e.vaultID("rg-ops", "ops-vault")+"/secrets/s1"), token, string(body)), http.StatusCreated, "")
		// Its assignment at vault scope reaches neither the resource group nor another vault.
		want(t, e.call(t, http.MethodPut, at(groupScope), token, string(body)), http.StatusForbidden, "AuthorizationFailed")
		want(t, e.call(t, http.MethodPut, at(e.vaultID("rg-ops", "ops-vault-2")), token, string(body)), http.StatusForbidden, "AuthorizationFailed")
	})
}

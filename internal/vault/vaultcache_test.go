package vault

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/keyvault/keyvault/internal/storage"
)

// viewHookStore runs a function once, right after the next View returns.
type viewHookStore struct {
	storage.Store
	hook atomic.Pointer[func()]
}

func (h *viewHookStore) View(ctx context.Context, fn func(storage.Tx) error) error {
	err := h.Store.View(ctx, fn)
	if f := h.hook.Swap(nil); f != nil {
		(*f)()
	}
	return err
}

// TestGetVaultRacingDelete deletes a vault between GetVault's store read
// and its cache update: the deleted vault must not be served afterwards.
func TestGetVaultRacingDelete(t *testing.T) {
	ctx := context.Background()
	store := &viewHookStore{Store: mustOpenStore(t)}
	svc, _ := newTestService(t, store, mustRootKey(t))
	set := VaultSettings{RetentionDays: 7, TenantID: "00000000-0000-0000-0000-000000000001", SKU: "standard"}
	v, _, err := svc.PutVault(ctx, "sub", "rg", "racing-vault", set, false, "test")
	if err != nil {
		t.Fatal(err)
	}
	svc.vaults.Delete(v.ID()) // as after a restart
	del := func() {
		if err := svc.DeleteVault(ctx, "sub", "rg", "racing-vault"); err != nil {
			t.Errorf("DeleteVault: %v", err)
		}
	}
	store.hook.Store(&del)
	if _, err := svc.GetVault(ctx, "racing-vault"); err != nil {
		t.Fatalf("GetVault that read before the delete: %v", err)
	}
	_, err = svc.GetVault(ctx, "racing-vault")
	wantError(t, "GetVault after the delete", err, KindNotFound, "VaultNotFound")
}

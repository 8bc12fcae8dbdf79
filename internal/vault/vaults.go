package vault

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
)

// bucketDeletedVaults holds soft-deleted vaults: vault id -> Vault (JSON).
const bucketDeletedVaults = "deleted-vaults"

// MaxAccessPolicies is the most access-policy entries a vault may have.
const MaxAccessPolicies = 1024

// SKU names.
const (
	SKUStandard = "standard"
	SKUPremium  = "premium"
)

// vaultDataBuckets lists every bucket whose keys start with a vault id and a
// NUL byte; purging a vault empties its range in each.
var vaultDataBuckets = []string{
	secretKind.heads, secretKind.versions, secretKind.deleted,
	keyKind.heads, keyKind.versions, keyKind.deleted,
	bucketKeyPolicies,
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// permissionNames are the access-policy permission names of each family, in
// the spelling of the management API's enums.
var permissionNames = map[string][]string{
	"keys": {"all", "encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify", "get", "list", "create",
		"update", "import", "delete", "backup", "restore", "recover", "purge", "release", "rotate",
		"getrotationpolicy", "setrotationpolicy"},
	"secrets": {"all", "get", "list", "set", "delete", "backup", "restore", "recover", "purge"},
	"certificates": {"all", "get", "list", "delete", "create", "import", "update", "managecontacts", "getissuers",
		"listissuers", "setissuers", "deleteissuers", "manageissuers", "recover", "purge", "backup", "restore"},
	"storage": {"all", "get", "list", "delete", "set", "update", "regeneratekey", "recover", "purge", "backup",
		"restore", "setsas", "listsas", "getsas", "deletesas"},
}

// canonicalPermissions checks names against the family's permissions
// (without regard to case) and returns them in canonical spelling.
func canonicalPermissions(family string, names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		i := slices.IndexFunc(permissionNames[family], func(p string) bool { return strings.EqualFold(p, n) })
		if i < 0 {
			return nil, badParameter("Invalid %s permission '%s'. Valid permissions are: %s.", family, n, strings.Join(permissionNames[family], ", "))
		}
		if !slices.Contains(out, permissionNames[family][i]) {
			out = append(out, permissionNames[family][i])
		}
	}
	return out, nil
}

// NormalizeAccessPolicy validates an access-policy entry and puts its
// permission names in canonical spelling.
func NormalizeAccessPolicy(p *AccessPolicy) error {
	if !uuidPattern.MatchString(p.TenantID) {
		return badParameter("Access policy tenantId '%s' is not a valid GUID.", p.TenantID)
	}
	if p.ObjectID == "" {
		return badParameter("Access policy objectId is required.")
	}
	if p.ApplicationID != "" && !uuidPattern.MatchString(p.ApplicationID) {
		return badParameter("Access policy applicationId '%s' is not a valid GUID.", p.ApplicationID)
	}
	var err error
	perms := &p.Permissions
	for family, list := range map[string]*[]string{"keys": &perms.Keys, "secrets": &perms.Secrets, "certificates": &perms.Certificates, "storage": &perms.Storage} {
		if *list, err = canonicalPermissions(family, *list); err != nil {
			return err
		}
	}
	return nil
}

// samePolicyIdentity reports whether two entries are for the same identity,
// which access-policy edits match on.
func samePolicyIdentity(a, b *AccessPolicy) bool {
	return strings.EqualFold(a.TenantID, b.TenantID) && strings.EqualFold(a.ObjectID, b.ObjectID) &&
		strings.EqualFold(a.ApplicationID, b.ApplicationID)
}

// VaultSettings are the writable settings of a vault in a create or update.
type VaultSettings struct {
	Location                     string
	TenantID                     string
	SKU                          string
	Tags                         map[string]string
	AccessPolicies               []AccessPolicy
	RBAC                         bool
	RetentionDays                int // 0 means 90
	PurgeProtection              bool
	SoftDeleteDisabled           bool // enableSoftDelete: false, which is refused
	EnabledForDeployment         bool
	EnabledForDiskEncryption     bool
	EnabledForTemplateDeployment bool
	PublicNetworkAccess          string
}

func (set *VaultSettings) validate() error {
	if set.SoftDeleteDisabled {
		return badParameter("Soft delete cannot be disabled: every vault keeps deleted objects for its retention period.")
	}
	if set.RetentionDays == 0 {
		set.RetentionDays = DefaultRetentionDays
	}
	if set.RetentionDays < MinRetentionDays || set.RetentionDays > MaxRetentionDays {
		return badParameter("softDeleteRetentionInDays must be from %d to %d, got %d.", MinRetentionDays, MaxRetentionDays, set.RetentionDays)
	}
	if !uuidPattern.MatchString(set.TenantID) {
		return badParameter("The vault's tenantId '%s' is not a valid GUID.", set.TenantID)
	}
	switch strings.ToLower(set.SKU) {
	case SKUStandard, SKUPremium:
		set.SKU = strings.ToLower(set.SKU)
	default:
		return badParameter("The SKU name '%s' is invalid: use standard or premium.", set.SKU)
	}
	if len(set.AccessPolicies) > MaxAccessPolicies {
		return badParameter("A vault can have at most %d access policies, got %d.", MaxAccessPolicies, len(set.AccessPolicies))
	}
	for i := range set.AccessPolicies {
		if err := NormalizeAccessPolicy(&set.AccessPolicies[i]); err != nil {
			return err
		}
	}
	return validateTags(set.Tags)
}

func vaultConflict(format string, args ...any) *Error {
	return &Error{Kind: KindConflict, Code: "VaultAlreadyExists", Message: fmt.Sprintf(format, args...)}
}

func vaultNotFound(name string) *Error {
	return &Error{Kind: KindNotFound, Code: "ResourceNotFound", Message: fmt.Sprintf("The vault '%s' was not found.", name)}
}

// PutVault creates the vault name in subscription sub and resource group rg,
// or replaces the settings of the vault there, as ARM's create-or-update
// does. created reports which. Soft delete cannot be turned off, purge
// protection cannot be turned off once on, and the retention period cannot
// change after creation. With recover set, a soft-deleted vault of that name
// is recovered instead.
func (s *Service) PutVault(ctx context.Context, sub, rg, name string, set VaultSettings, recover bool, by string) (v *Vault, created bool, err error) {
	if err := ValidateVaultName(name); err != nil {
		return nil, false, err
	}
	if recover {
		v, err := s.RecoverVault(ctx, sub, rg, name)
		return v, false, err
	}
	if err := set.validate(); err != nil {
		return nil, false, err
	}
	now := s.Now().Unix()
	var stored Vault
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		id := []byte(strings.ToLower(name))
		deleted, err := tx.Get(bucketDeletedVaults, id)
		if err != nil {
			return err
		}
		if deleted != nil {
			return vaultConflict("A vault named '%s' exists in the deleted state. Recover it (createMode recover) or purge it before creating a vault of that name.", name)
		}
		found, err := getJSON(tx, bucketVaults, id, &stored)
		if err != nil {
			return err
		}
		created = !found
		if found {
			if !strings.EqualFold(stored.SubscriptionID, sub) || !strings.EqualFold(stored.ResourceGroup, rg) {
				return vaultConflict("The vault name '%s' is already in use by another resource group or subscription.", name)
			}
			if stored.PurgeProtection && !set.PurgeProtection {
				return badParameter("Purge protection cannot be disabled once enabled on vault '%s'.", name)
			}
			if set.RetentionDays != stored.RetentionDays {
				return badParameter("softDeleteRetentionInDays cannot change after the vault is created (vault '%s' keeps %d days).", name, stored.RetentionDays)
			}
		} else {
			stored = Vault{Name: name, SubscriptionID: sub, ResourceGroup: rg, Created: now, CreatedBy: by}
		}
		applySettings(&stored, &set)
		stored.Updated, stored.UpdatedBy = now, by
		return putJSON(tx, bucketVaults, id, &stored)
	})
	if err != nil {
		return nil, false, err
	}
	s.vaults.Delete(stored.ID()) // the next GetVault reads it back
	return &stored, created, nil
}

func applySettings(v *Vault, set *VaultSettings) {
	v.Location, v.TenantID, v.SKU, v.Tags = set.Location, set.TenantID, set.SKU, set.Tags
	v.AccessPolicies, v.RBAC = set.AccessPolicies, set.RBAC
	v.RetentionDays, v.PurgeProtection = set.RetentionDays, set.PurgeProtection
	v.EnabledForDeployment, v.EnabledForDiskEncryption = set.EnabledForDeployment, set.EnabledForDiskEncryption
	v.EnabledForTemplateDeployment, v.PublicNetworkAccess = set.EnabledForTemplateDeployment, set.PublicNetworkAccess
}

// SettingsOf returns the writable settings of v, the starting point of a
// partial update.
func SettingsOf(v *Vault) VaultSettings {
	return VaultSettings{
		Location: v.Location, TenantID: v.TenantID, SKU: v.SKU, Tags: v.Tags, AccessPolicies: slices.Clone(v.AccessPolicies),
		RBAC: v.RBAC, RetentionDays: v.RetentionDays, PurgeProtection: v.PurgeProtection,
		EnabledForDeployment: v.EnabledForDeployment, EnabledForDiskEncryption: v.EnabledForDiskEncryption,
		EnabledForTemplateDeployment: v.EnabledForTemplateDeployment, PublicNetworkAccess: v.PublicNetworkAccess,
	}
}

// GetVaultIn returns the live vault name if it belongs to sub and rg.
func (s *Service) GetVaultIn(ctx context.Context, sub, rg, name string) (*Vault, error) {
	v, err := s.GetVault(ctx, name)
	if IsKind(err, KindNotFound) || (err == nil && (!strings.EqualFold(v.SubscriptionID, sub) || !strings.EqualFold(v.ResourceGroup, rg))) {
		return nil, vaultNotFound(name)
	}
	return v, err
}

// ListVaults returns the live vaults of subscription sub, and of resource
// group rg unless rg is empty, in name order.
func (s *Service) ListVaults(ctx context.Context, sub, rg string) ([]*Vault, error) {
	return s.scanVaults(ctx, bucketVaults, func(v *Vault) bool {
		return strings.EqualFold(v.SubscriptionID, sub) && (rg == "" || strings.EqualFold(v.ResourceGroup, rg))
	})
}

// ListDeletedVaults returns the soft-deleted vaults of subscription sub.
func (s *Service) ListDeletedVaults(ctx context.Context, sub string) ([]*Vault, error) {
	return s.scanVaults(ctx, bucketDeletedVaults, func(v *Vault) bool { return strings.EqualFold(v.SubscriptionID, sub) })
}

func (s *Service) scanVaults(ctx context.Context, bucket string, keep func(*Vault) bool) ([]*Vault, error) {
	var out []*Vault
	err := s.store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(bucket, nil, nil, func(_, value []byte) (bool, error) {
			v := new(Vault)
			if err := jsonUnmarshal(value, v); err != nil {
				return false, err
			}
			if keep(v) {
				out = append(out, v)
			}
			return true, nil
		})
	})
	return out, err
}

// GetDeletedVault returns the soft-deleted vault name of subscription sub.
func (s *Service) GetDeletedVault(ctx context.Context, sub, name string) (*Vault, error) {
	var v Vault
	found := false
	err := s.store.View(ctx, func(tx storage.Tx) error {
		var err error
		found, err = getJSON(tx, bucketDeletedVaults, []byte(strings.ToLower(name)), &v)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found || !strings.EqualFold(v.SubscriptionID, sub) {
		return nil, &Error{Kind: KindNotFound, Code: "ResourceNotFound", Message: fmt.Sprintf("The deleted vault '%s' was not found.", name)}
	}
	return &v, nil
}

// DeleteVault soft-deletes the vault name with everything in it. Its objects
// stay in the store until the vault is purged, by request or when its
// retention period ends, and come back if it is recovered.
func (s *Service) DeleteVault(ctx context.Context, sub, rg, name string) error {
	v, err := s.GetVaultIn(ctx, sub, rg, name)
	if err != nil {
		return err
	}
	now := s.Now()
	d := *v
	d.DeletedDate = now.Unix()
	d.ScheduledPurgeDate = now.Add(time.Duration(v.RetentionDays) * 24 * time.Hour).Unix()
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Delete(bucketVaults, []byte(v.ID())); err != nil {
			return err
		}
		if err := putJSON(tx, bucketDeletedVaults, []byte(v.ID()), &d); err != nil {
			return err
		}
		return tx.Put(bucketPurgeSchedule, scheduleKey(d.ScheduledPurgeDate, "vault", v.ID(), ""), nil)
	})
	if err != nil {
		return err
	}
	s.vaults.Delete(v.ID())
	return nil
}

// RecoverVault brings back the soft-deleted vault name with its objects.
func (s *Service) RecoverVault(ctx context.Context, sub, rg, name string) (*Vault, error) {
	d, err := s.GetDeletedVault(ctx, sub, name)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(d.ResourceGroup, rg) {
		return nil, badParameter("The deleted vault '%s' belongs to resource group '%s'; recover it there.", name, d.ResourceGroup)
	}
	v := *d
	v.DeletedDate, v.ScheduledPurgeDate = 0, 0
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Delete(bucketDeletedVaults, []byte(v.ID())); err != nil {
			return err
		}
		if err := tx.Delete(bucketPurgeSchedule, scheduleKey(d.ScheduledPurgeDate, "vault", v.ID(), "")); err != nil {
			return err
		}
		return putJSON(tx, bucketVaults, []byte(v.ID()), &v)
	})
	if err != nil {
		return nil, err
	}
	s.vaults.Delete(v.ID()) // the next GetVault reads it back
	return &v, nil
}

// PurgeDeletedVault removes the soft-deleted vault name and everything in it
// for good. Purge protection refuses it until the retention period ends.
func (s *Service) PurgeDeletedVault(ctx context.Context, sub, name string) error {
	d, err := s.GetDeletedVault(ctx, sub, name)
	if err != nil {
		return err
	}
	if d.PurgeProtection {
		return &Error{Kind: KindConflict, Code: "VaultPurgeProtected",
			Message: fmt.Sprintf("The vault '%s' has purge protection enabled: it is purged automatically when its retention period ends, on %s.",
				name, time.Unix(d.ScheduledPurgeDate, 0).UTC().Format(time.RFC3339))}
	}
	hsm, err := s.newHSMPurge(ctx, d.ID())
	if err != nil {
		return err
	}
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		if err := hsm.collect(tx, ""); err != nil {
			return err
		}
		return purgeVaultInTx(tx, d.ID(), d.ScheduledPurgeDate)
	})
	if err != nil {
		return err
	}
	hsm.destroy()
	s.afterVaultPurge(d.ID())
	return nil
}

func (s *Service) afterVaultPurge(vaultID string) {
	s.keys.Forget(vaultID)
	s.keyMaterial.forgetVault(vaultID)
	s.vaults.Delete(vaultID)
}

// purgeVaultInTx deletes a soft-deleted vault's record, objects, schedule
// entries and data keys.
func purgeVaultInTx(tx storage.Tx, vaultID string, scheduled int64) error {
	if err := tx.Delete(bucketDeletedVaults, []byte(vaultID)); err != nil {
		return err
	}
	prefix := []byte(vaultID + "\x00")
	for _, bucket := range vaultDataBuckets {
		if err := deleteRange(tx, bucket, prefix, nil); err != nil {
			return err
		}
	}
	// Schedule keys start with the time, so filter the whole bucket.
	marker := []byte("\x00" + vaultID + "\x00")
	if err := deleteRange(tx, bucketPurgeSchedule, nil, func(key []byte) bool {
		return len(key) > 8 && bytes.Contains(key[8:], marker)
	}); err != nil {
		return err
	}
	if err := tx.Delete(bucketPurgeSchedule, scheduleKey(scheduled, "vault", vaultID, "")); err != nil {
		return err
	}
	return seal.DeleteScopeKeys(tx, vaultID)
}

// deleteRange deletes the keys of bucket that start with prefix and, when
// match is set, satisfy it.
func deleteRange(tx storage.Tx, bucket string, prefix []byte, match func([]byte) bool) error {
	var keys [][]byte
	err := tx.Scan(bucket, prefix, nil, func(key, _ []byte) (bool, error) {
		if match == nil || match(key) {
			keys = append(keys, bytes.Clone(key))
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(bucket, k); err != nil {
			return err
		}
	}
	return nil
}

// VaultNameAvailable reports whether name can be used for a new vault, and
// if not, why: names are unique on the server, soft-deleted vaults included.
func (s *Service) VaultNameAvailable(ctx context.Context, name string) (available bool, reason, message string, err error) {
	if verr := ValidateVaultName(name); verr != nil {
		return false, "AccountNameInvalid", AsError(verr).Message, nil
	}
	id := []byte(strings.ToLower(name))
	err = s.store.View(ctx, func(tx storage.Tx) error {
		live, err := tx.Get(bucketVaults, id)
		if err != nil {
			return err
		}
		deleted, err := tx.Get(bucketDeletedVaults, id)
		if err != nil {
			return err
		}
		switch {
		case live != nil:
			reason, message = "AlreadyExists", fmt.Sprintf("The vault name '%s' is already in use.", name)
		case deleted != nil:
			reason, message = "AlreadyExists", fmt.Sprintf("The vault name '%s' is held by a soft-deleted vault; recover or purge it.", name)
		default:
			available = true
		}
		return nil
	})
	return available, reason, message, err
}

// AccessPolicyEdit is how UpdateAccessPolicies changes a vault's policies.
type AccessPolicyEdit string

// Access-policy edits, as the management API names them.
const (
	PolicyAdd     AccessPolicyEdit = "add"
	PolicyReplace AccessPolicyEdit = "replace"
	PolicyRemove  AccessPolicyEdit = "remove"
)

// UpdateAccessPolicies edits the access policies of a vault: add merges the
// permissions into the entry of the same identity (creating it if needed),
// replace sets that entry's permissions, remove deletes the listed
// permissions from it and drops the entry once it has none.
func (s *Service) UpdateAccessPolicies(ctx context.Context, sub, rg, name string, edit AccessPolicyEdit, policies []AccessPolicy, by string) (*Vault, error) {
	// Checked here as well as in the loop below, which an empty list skips.
	if edit != PolicyAdd && edit != PolicyReplace && edit != PolicyRemove {
		return nil, badParameter("The access policy operation '%s' is invalid: use add, replace or remove.", edit)
	}
	for i := range policies {
		if err := NormalizeAccessPolicy(&policies[i]); err != nil {
			return nil, err
		}
	}
	v, err := s.GetVaultIn(ctx, sub, rg, name)
	if err != nil {
		return nil, err
	}
	set := SettingsOf(v)
	for _, p := range policies {
		i := slices.IndexFunc(set.AccessPolicies, func(q AccessPolicy) bool { return samePolicyIdentity(&p, &q) })
		switch edit {
		case PolicyAdd:
			if i < 0 {
				set.AccessPolicies = append(set.AccessPolicies, p)
				continue
			}
			q := &set.AccessPolicies[i].Permissions
			q.Keys = union(q.Keys, p.Permissions.Keys)
			q.Secrets = union(q.Secrets, p.Permissions.Secrets)
			q.Certificates = union(q.Certificates, p.Permissions.Certificates)
			q.Storage = union(q.Storage, p.Permissions.Storage)
		case PolicyReplace:
			if i < 0 {
				set.AccessPolicies = append(set.AccessPolicies, p)
			} else {
				set.AccessPolicies[i].Permissions = p.Permissions
			}
		case PolicyRemove:
			if i < 0 {
				continue
			}
			q := &set.AccessPolicies[i].Permissions
			q.Keys = minus(q.Keys, p.Permissions.Keys)
			q.Secrets = minus(q.Secrets, p.Permissions.Secrets)
			q.Certificates = minus(q.Certificates, p.Permissions.Certificates)
			q.Storage = minus(q.Storage, p.Permissions.Storage)
			empty := len(p.Permissions.Keys)+len(p.Permissions.Secrets)+len(p.Permissions.Certificates)+len(p.Permissions.Storage) == 0
			if empty || len(q.Keys)+len(q.Secrets)+len(q.Certificates)+len(q.Storage) == 0 {
				set.AccessPolicies = slices.Delete(set.AccessPolicies, i, i+1)
			}
		default:
			return nil, badParameter("The access policy operation '%s' is invalid: use add, replace or remove.", edit)
		}
	}
	updated, _, err := s.PutVault(ctx, sub, rg, name, set, false, by)
	return updated, err
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func minus(a, b []string) []string {
	return slices.DeleteFunc(slices.Clone(a), func(x string) bool { return slices.Contains(b, x) })
}

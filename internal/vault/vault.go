// Package vault is KeyVault's domain: vaults and the objects they hold, their
// versions, attributes, soft delete, recovery, purge and backup. It does not
// import HTTP: the api package translates requests into calls here.
package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
)

// Retention limits for soft-deleted objects, in days, as Azure enforces them.
const (
	MinRetentionDays     = 7
	MaxRetentionDays     = 90
	DefaultRetentionDays = 90
)

const bucketVaults = "vaults" // lower-case vault name -> Vault (JSON)

var vaultNamePattern = regexp.MustCompile(`^[a-zA-Z](?:[a-zA-Z0-9]|-[a-zA-Z0-9])*$`)

// Vault is a named container of secrets, keys and certificates, with the
// settings of an Azure Resource Manager Microsoft.KeyVault/vaults resource.
type Vault struct {
	Name            string `json:"name"`
	RetentionDays   int    `json:"softDeleteRetentionInDays"`
	PurgeProtection bool   `json:"enablePurgeProtection"`
	Created         int64  `json:"created"`

	SubscriptionID string            `json:"subscriptionId,omitempty"`
	ResourceGroup  string            `json:"resourceGroup,omitempty"`
	Location       string            `json:"location,omitempty"`
	TenantID       string            `json:"tenantId,omitempty"`
	SKU            string            `json:"sku,omitempty"` // standard or premium
	Tags           map[string]string `json:"tags,omitempty"`
	// RBAC selects role-based access control instead of access policies.
	RBAC           bool           `json:"enableRbacAuthorization,omitempty"`
	AccessPolicies []AccessPolicy `json:"accessPolicies,omitempty"`

	EnabledForDeployment         bool   `json:"enabledForDeployment,omitempty"`
	EnabledForDiskEncryption     bool   `json:"enabledForDiskEncryption,omitempty"`
	EnabledForTemplateDeployment bool   `json:"enabledForTemplateDeployment,omitempty"`
	PublicNetworkAccess          string `json:"publicNetworkAccess,omitempty"`
	CreatedBy                    string `json:"createdBy,omitempty"`
	Updated                      int64  `json:"updated,omitempty"`
	UpdatedBy                    string `json:"updatedBy,omitempty"`

	// Set while the vault is soft-deleted.
	DeletedDate        int64 `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64 `json:"scheduledPurgeDate,omitempty"`
}

// AccessPolicy grants one identity permissions on a vault's objects.
type AccessPolicy struct {
	TenantID      string      `json:"tenantId"`
	ObjectID      string      `json:"objectId"`
	ApplicationID string      `json:"applicationId,omitempty"`
	Permissions   Permissions `json:"permissions"`
}

// Permissions are access-policy permission names per object family, as the
// management API spells them (get, list, set, wrapKey, all, ...).
type Permissions struct {
	Keys         []string `json:"keys,omitempty"`
	Secrets      []string `json:"secrets,omitempty"`
	Certificates []string `json:"certificates,omitempty"`
	Storage      []string `json:"storage,omitempty"`
}

// ID returns the vault's storage id: its lower-case name. Vault names are
// unique without regard to case, as DNS names are.
func (v *Vault) ID() string { return strings.ToLower(v.Name) }

// RecoveryLevel returns the deletion recovery level that objects of this
// vault report, as Azure derives it from the vault's settings: "Customized"
// below 90 days of retention, and "+Purgeable" unless purge protection is on.
func (v *Vault) RecoveryLevel() string {
	level := "Recoverable"
	if v.RetentionDays < MaxRetentionDays {
		level = "CustomizedRecoverable"
	}
	if !v.PurgeProtection {
		level += "+Purgeable"
	}
	return level
}

// ValidateVaultName checks Azure's vault name rules: 3 to 24 letters, digits
// and hyphens, starting with a letter, ending with a letter or digit, with no
// two hyphens in a row.
func ValidateVaultName(name string) error {
	if len(name) < 3 || len(name) > 24 || !vaultNamePattern.MatchString(name) {
		return badParameter("The vault name '%s' is invalid. A vault name must be 3 to 24 characters long, contain only letters, digits and hyphens, start with a letter, end with a letter or digit, and not contain consecutive hyphens.", name)
	}
	return nil
}

// Service implements the vault domain on a store.
type Service struct {
	store  storage.Store
	keys   *seal.Keyring
	backup backupKeyState

	// vaults caches vault records by id, as *cachedVault. An entry is used
	// only while no transaction has written the bucket of vaults since it
	// was read (writes.vaults).
	vaults sync.Map

	// jobs serializes runs of the time-driven jobs (the ticker and test-clock
	// advances may both start them).
	jobs sync.Mutex

	keyMaterial keyCache
	writes      writeCounts

	// HSM, if set, generates -HSM key types inside a hardware security
	// module and runs their private operations there.
	HSM HSM
	// RejectSoftwareHSM makes premium vaults refuse -HSM key types while
	// HSM is nil. When false they are software keys, as in tests.
	RejectSoftwareHSM bool

	// Now returns the current time. Tests replace it to move time forward.
	Now func() time.Time

	// Log receives the domain's own events, such as notifications that
	// have no receiver. It discards them unless set.
	Log *slog.Logger

	// OnEvent, if set, is told of what the time-driven jobs do on their
	// own (rotations, renewals, notifications, purges), so the server can
	// audit them. operation is an audit operation name; object is the
	// object's path in its vault, such as "keys/k1".
	OnEvent func(operation, vault, object, details string)
}

// NewService returns a Service that keeps its data in store, sealed by keys.
func NewService(store storage.Store, keys *seal.Keyring) *Service {
	s := &Service{keys: keys, Now: time.Now, keyMaterial: keyCache{max: DefaultKeyCacheSize},
		Log: slog.New(slog.DiscardHandler)}
	s.store = writeCountingStore{Store: store, counts: &s.writes}
	return s
}

// GetVault returns the vault named name (without regard to case).
func (s *Service) GetVault(ctx context.Context, name string) (*Vault, error) {
	writes := s.writes.vaults.Load() // before the store is read
	if e, ok := s.vaults.Load(strings.ToLower(name)); ok && e.(*cachedVault).writes == writes {
		return e.(*cachedVault).vault, nil
	}
	var v *Vault
	err := s.store.View(ctx, func(tx storage.Tx) error {
		raw, err := tx.Get(bucketVaults, []byte(strings.ToLower(name)))
		if err != nil || raw == nil {
			return err
		}
		v = new(Vault)
		return json.Unmarshal(raw, v)
	})
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, &Error{Kind: KindNotFound, Code: "VaultNotFound", Message: fmt.Sprintf("The vault '%s' was not found on this server.", name)}
	}
	s.vaults.Store(v.ID(), &cachedVault{vault: v, writes: writes})
	return v, nil
}

// cachedVault is an entry of Service.vaults: a vault as read when the count
// of vault writes was writes.
type cachedVault struct {
	vault  *Vault
	writes uint64
}

// EnsureVault creates the vault v if no vault of that name exists and returns
// the stored vault. Purge protection, which can only ever be switched on, is
// switched on in an existing vault when v has it set.
func (s *Service) EnsureVault(ctx context.Context, v Vault) (*Vault, error) {
	if err := ValidateVaultName(v.Name); err != nil {
		return nil, err
	}
	if v.RetentionDays < MinRetentionDays || v.RetentionDays > MaxRetentionDays {
		return nil, badParameter("softDeleteRetentionInDays must be between %d and %d, got %d", MinRetentionDays, MaxRetentionDays, v.RetentionDays)
	}
	var stored Vault
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		key := []byte(v.ID())
		raw, err := tx.Get(bucketVaults, key)
		if err != nil {
			return err
		}
		if raw != nil {
			if err := json.Unmarshal(raw, &stored); err != nil {
				return err
			}
			changed := false
			if v.PurgeProtection && !stored.PurgeProtection {
				stored.PurgeProtection, changed = true, true
			}
			// Vaults made before vaults had management fields get them.
			if stored.SubscriptionID == "" {
				stored.SubscriptionID, stored.ResourceGroup, stored.Location = v.SubscriptionID, v.ResourceGroup, v.Location
				stored.TenantID, stored.SKU, stored.PublicNetworkAccess = v.TenantID, v.SKU, v.PublicNetworkAccess
				changed = true
			}
			if !changed {
				return nil
			}
		} else {
			stored = v
			stored.Created = s.Now().Unix()
		}
		raw, err = json.Marshal(stored)
		if err != nil {
			return err
		}
		return tx.Put(bucketVaults, key, raw)
	})
	if err != nil {
		return nil, err
	}
	s.vaults.Delete(stored.ID()) // the next GetVault reads it back
	return &stored, nil
}

// event reports a job's action to OnEvent, if set.
func (s *Service) event(operation, vault, object, details string) {
	if s.OnEvent != nil {
		s.OnEvent(operation, vault, object, details)
	}
}

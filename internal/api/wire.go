package api

import (
	"github.com/keyvault/keyvault/internal/vault"
)

// attributesJSON is the wire form of object attributes. Unset times are left
// out, never sent as null.
type attributesJSON struct {
	Enabled         *bool  `json:"enabled,omitempty"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         *int64 `json:"created,omitempty"`
	Updated         *int64 `json:"updated,omitempty"`
	RecoverableDays *int   `json:"recoverableDays,omitempty"`
	RecoveryLevel   string `json:"recoveryLevel,omitempty"`
}

// secretBundle is SecretBundle, and with the deletion fields set,
// DeletedSecretBundle. SecretItem and DeletedSecretItem are the same shapes
// without a value.
type secretBundle struct {
	RecoveryID         string            `json:"recoveryId,omitempty"`
	DeletedDate        int64             `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64             `json:"scheduledPurgeDate,omitempty"`
	Value              *string           `json:"value,omitempty"`
	ID                 string            `json:"id"`
	ContentType        string            `json:"contentType,omitempty"`
	Attributes         attributesJSON    `json:"attributes"`
	Tags               map[string]string `json:"tags,omitempty"`
	Kid                string            `json:"kid,omitempty"`
	Managed            bool              `json:"managed,omitempty"`
}

// setSecretRequest is SecretSetParameters. Fields are pointers so that a
// missing value can be distinguished from an empty one.
type setSecretRequest struct {
	Value       *string            `json:"value"`
	ContentType *string            `json:"contentType"`
	Tags        map[string]string  `json:"tags"`
	Attributes  *requestAttributes `json:"attributes"`
}

// updateSecretRequest is SecretUpdateParameters.
type updateSecretRequest struct {
	ContentType *string            `json:"contentType"`
	Tags        *map[string]string `json:"tags"`
	Attributes  *requestAttributes `json:"attributes"`
}

// requestAttributes are the attributes a client may set. Read-only ones
// (created, updated, recoveryLevel) are ignored if sent.
type requestAttributes struct {
	Enabled   *bool  `json:"enabled"`
	NotBefore *int64 `json:"nbf"`
	Expires   *int64 `json:"exp"`
}

// backupBlob is BackupSecretResult and SecretRestoreParameters: the blob
// as unpadded base64url, the encoding Azure uses for every binary field.
type backupBlob struct {
	Value string `json:"value"`
}

// attributes renders the attributes of an object in v. withRecovery adds the
// recovery level and days, which bundles carry and list items leave out.
func attributes(a vault.Attributes, v *vault.Vault, withRecovery bool) attributesJSON {
	enabled := a.Enabled
	out := attributesJSON{Enabled: &enabled, NotBefore: a.NotBefore, Expires: a.Expires, Created: &a.Created, Updated: &a.Updated}
	if withRecovery {
		days := v.RetentionDays
		out.RecoverableDays = &days
		out.RecoveryLevel = v.RecoveryLevel()
	}
	return out
}

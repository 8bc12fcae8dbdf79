package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"unicode/utf16"
)

// Limits on secrets, as Azure Key Vault enforces them.
const (
	MaxSecretValueLength = 25600 // UTF-16 code units, as the service counts them
	MaxContentTypeLength = 255
)

// Secret is one version of a secret.
type Secret struct {
	Name        string // as first created; lookups ignore case
	Version     string
	Value       string
	ContentType string
	Tags        map[string]string
	Attributes  Attributes
	Managed     bool   // the secret backs a certificate
	KeyID       string // the key of the certificate the secret backs
}

// DeletedSecret is a soft-deleted secret's latest version and its dates.
type DeletedSecret struct {
	Secret
	DeletedDate        int64
	ScheduledPurgeDate int64
}

// SecretParams are the inputs of SetSecret.
type SecretParams struct {
	Value       string
	ContentType string
	Tags        map[string]string
	Enabled     *bool // nil means enabled
	NotBefore   *int64
	Expires     *int64
}

// SecretUpdate lists the changes UpdateSecret applies. Nil fields are left
// as they are; Tags replaces all tags when SetTags is true.
type SecretUpdate struct {
	ContentType *string
	SetTags     bool
	Tags        map[string]string
	Enabled     *bool
	NotBefore   *int64
	Expires     *int64
}

// secretData is the sealed content of one secret version.
type secretData struct {
	Value       string            `json:"v"`
	ContentType string            `json:"ct,omitempty"`
	Tags        map[string]string `json:"t,omitempty"`
	Enabled     bool              `json:"e"`
	NotBefore   *int64            `json:"nbf,omitempty"`
	Expires     *int64            `json:"exp,omitempty"`
	Created     int64             `json:"c"`
	Updated     int64             `json:"u"`
	Managed     bool              `json:"m,omitempty"`
	KeyID       string            `json:"kid,omitempty"`
}

func (d *secretData) secret(name, version string) *Secret {
	return &Secret{
		Name: name, Version: version, Value: d.Value, ContentType: d.ContentType, Tags: d.Tags,
		Managed: d.Managed, KeyID: d.KeyID,
		Attributes: Attributes{Enabled: d.Enabled, NotBefore: d.NotBefore, Expires: d.Expires, Created: d.Created, Updated: d.Updated},
	}
}

// decodeSecret turns a decrypted version into a Secret, with its value only
// when withValue is set.
func decodeSecret(obj *object, withValue bool) (*Secret, error) {
	var d secretData
	if err := json.Unmarshal(obj.Content, &d); err != nil {
		return nil, err
	}
	if !withValue {
		d.Value = ""
	}
	return d.secret(obj.Name, obj.Version), nil
}

func validateContentType(ct string) error {
	if len(ct) > MaxContentTypeLength {
		return badParameter("Property has invalid value: contentType is %d characters long, the maximum is %d.", len(ct), MaxContentTypeLength)
	}
	return nil
}

func validateSecretParams(name string, p *SecretParams) error {
	if err := ValidateObjectName(name); err != nil {
		return err
	}
	if n := len(utf16.Encode([]rune(p.Value))); n > MaxSecretValueLength {
		return badParameter("The secret value is %d characters long, beyond the maximum permitted length of %d.", n, MaxSecretValueLength)
	}
	if err := validateContentType(p.ContentType); err != nil {
		return err
	}
	if err := validateTags(p.Tags); err != nil {
		return err
	}
	return validateWindow(p.NotBefore, p.Expires)
}

// SetSecret stores a new version of the secret name, creating the secret if
// it does not exist, and returns it.
func (s *Service) SetSecret(ctx context.Context, v *Vault, name string, p SecretParams) (*Secret, error) {
	if err := validateSecretParams(name, &p); err != nil {
		return nil, err
	}
	now := s.Now().Unix()
	d := &secretData{
		Value: p.Value, ContentType: p.ContentType, Tags: p.Tags, Enabled: p.Enabled == nil || *p.Enabled,
		NotBefore: p.NotBefore, Expires: p.Expires, Created: now, Updated: now,
	}
	content, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	version := newVersion()
	display, err := s.createVersion(ctx, v, secretKind, name, version, content)
	if err != nil {
		return nil, err
	}
	return d.secret(display, version), nil
}

// GetSecret returns a version of the secret name, or its latest version when
// version is empty. A disabled version is refused with SecretDisabled; the
// nbf and exp attributes do not restrict reading, as in Azure.
func (s *Service) GetSecret(ctx context.Context, v *Vault, name, version string) (*Secret, error) {
	obj, err := s.readVersion(ctx, v, secretKind, name, version)
	if err != nil {
		return nil, err
	}
	sec, err := decodeSecret(obj, true)
	if err != nil {
		return nil, err
	}
	if !sec.Attributes.Enabled {
		return nil, &Error{Kind: KindForbidden, Code: "Forbidden", Inner: "SecretDisabled",
			Message: "Operation get is not allowed on a disabled secret."}
	}
	return sec, nil
}

// UpdateSecret changes the attributes, content type or tags of a version of
// the secret name (the latest when version is empty). The value never
// changes: a new value is a new version, made by SetSecret.
func (s *Service) UpdateSecret(ctx context.Context, v *Vault, name, version string, u SecretUpdate) (*Secret, error) {
	if u.ContentType != nil {
		if err := validateContentType(*u.ContentType); err != nil {
			return nil, err
		}
	}
	if u.SetTags {
		if err := validateTags(u.Tags); err != nil {
			return nil, err
		}
	}
	now := s.Now().Unix()
	obj, err := s.updateVersion(ctx, v, secretKind, name, version, func(old []byte) ([]byte, error) {
		var d secretData
		if err := json.Unmarshal(old, &d); err != nil {
			return nil, err
		}
		applySecretUpdate(&d, &u)
		if err := validateWindow(d.NotBefore, d.Expires); err != nil {
			return nil, err
		}
		d.Updated = now
		return json.Marshal(&d)
	})
	if err != nil {
		return nil, err
	}
	return decodeSecret(obj, false)
}

func applySecretUpdate(d *secretData, u *SecretUpdate) {
	if u.ContentType != nil {
		d.ContentType = *u.ContentType
	}
	if u.SetTags {
		d.Tags = u.Tags
	}
	if u.Enabled != nil {
		d.Enabled = *u.Enabled
	}
	if u.NotBefore != nil {
		d.NotBefore = u.NotBefore
	}
	if u.Expires != nil {
		d.Expires = u.Expires
	}
}

// ListSecrets returns up to max secrets of v in name order, each its latest
// version without the value, starting after cursor (empty for the first
// page). next is the cursor of the following page, or empty at the end.
func (s *Service) ListSecrets(ctx context.Context, v *Vault, cursor string, max int) ([]*Secret, string, error) {
	objs, next, err := s.listLatest(ctx, v, secretKind, cursor, max)
	if err != nil {
		return nil, "", err
	}
	items, err := decodeSecrets(objs)
	return items, next, err
}

// ListSecretVersions returns up to max versions of the secret name without
// their values, in version-id order, starting after cursor.
func (s *Service) ListSecretVersions(ctx context.Context, v *Vault, name, cursor string, max int) ([]*Secret, string, error) {
	objs, next, err := s.listVersions(ctx, v, secretKind, name, cursor, max)
	if err != nil {
		return nil, "", err
	}
	items, err := decodeSecrets(objs)
	return items, next, err
}

func decodeSecrets(objs []*object) ([]*Secret, error) {
	items := make([]*Secret, len(objs))
	for i, obj := range objs {
		var err error
		if items[i], err = decodeSecret(obj, false); err != nil {
			return nil, err
		}
	}
	return items, nil
}

func decodeDeletedSecret(d *deletedObject) (*DeletedSecret, error) {
	sec, err := decodeSecret(&d.object, false)
	if err != nil {
		return nil, err
	}
	return &DeletedSecret{Secret: *sec, DeletedDate: d.DeletedDate, ScheduledPurgeDate: d.ScheduledPurgeDate}, nil
}

// DeleteSecret soft-deletes the secret name with all its versions.
func (s *Service) DeleteSecret(ctx context.Context, v *Vault, name string) (*DeletedSecret, error) {
	d, err := s.deleteObject(ctx, v, secretKind, name)
	if err != nil {
		return nil, err
	}
	return decodeDeletedSecret(d)
}

// GetDeletedSecret returns the soft-deleted secret name, without its value.
func (s *Service) GetDeletedSecret(ctx context.Context, v *Vault, name string) (*DeletedSecret, error) {
	d, err := s.getDeleted(ctx, v, secretKind, name)
	if err != nil {
		return nil, err
	}
	return decodeDeletedSecret(d)
}

// ListDeletedSecrets returns up to max soft-deleted secrets in name order,
// starting after cursor.
func (s *Service) ListDeletedSecrets(ctx context.Context, v *Vault, cursor string, max int) ([]*DeletedSecret, string, error) {
	objs, next, err := s.listDeleted(ctx, v, secretKind, cursor, max)
	if err != nil {
		return nil, "", err
	}
	items := make([]*DeletedSecret, len(objs))
	for i, d := range objs {
		if items[i], err = decodeDeletedSecret(d); err != nil {
			return nil, "", err
		}
	}
	return items, next, nil
}

// RecoverDeletedSecret brings the soft-deleted secret name back with all its
// versions and returns its latest version without the value.
func (s *Service) RecoverDeletedSecret(ctx context.Context, v *Vault, name string) (*Secret, error) {
	obj, err := s.recoverObject(ctx, v, secretKind, name)
	if err != nil {
		return nil, err
	}
	return decodeSecret(obj, false)
}

// PurgeDeletedSecret removes the soft-deleted secret name for good.
func (s *Service) PurgeDeletedSecret(ctx context.Context, v *Vault, name string) error {
	return s.purgeObject(ctx, v, secretKind, name)
}

// BackupSecret returns a blob holding every version of the secret name,
// sealed under the server's backup key.
func (s *Service) BackupSecret(ctx context.Context, v *Vault, name string) ([]byte, error) {
	h, versions, err := s.backupObject(ctx, v, secretKind, name)
	if err != nil {
		return nil, err
	}
	return s.sealBackup(ctx, &backupPayload{Kind: secretKind.name, Name: h.Name, Latest: h.Latest, Versions: versions})
}

// RestoreSecret restores a secret with all its versions from a blob made by
// BackupSecret, into v. It fails with Conflict if the name is in use.
func (s *Service) RestoreSecret(ctx context.Context, v *Vault, blob []byte) (*Secret, error) {
	b, err := s.openBackup(ctx, blob, secretKind)
	if err != nil {
		return nil, err
	}
	var latest secretData
	if err := json.Unmarshal(b.Versions[b.Latest], &latest); err != nil || latest.Created == 0 {
		return nil, invalidBackup("its latest version is unreadable")
	}
	if err := s.restoreObject(ctx, v, secretKind, head{Name: b.Name, Latest: b.Latest}, b.Versions, nil); err != nil {
		return nil, err
	}
	latest.Value = ""
	return latest.secret(b.Name, b.Latest), nil
}

// String keeps the value out of logs and formatted errors.
func (s Secret) String() string {
	return fmt.Sprintf("Secret{Name: %s, Version: %s, Value: REDACTED}", s.Name, s.Version)
}

// LogValue keeps the value out of structured logs.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", s.Name), slog.String("version", s.Version), slog.String("value", "REDACTED"))
}

package vault

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/keyvault/keyvault/internal/storage"
)

func secretDeletedConflict(name string) *Error {
	return &Error{Kind: KindConflict, Code: "Conflict", Inner: "ObjectIsDeletedButRecoverable",
		Message: fmt.Sprintf("Secret %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.", name)}
}

// SetSecret stores a new version of the secret name, creating the secret if
// it does not exist, and returns it.
func (s *Service) SetSecret(ctx context.Context, v *Vault, name string, p SecretParams) (*Secret, error) {
	if err := validateSecretParams(name, &p); err != nil {
		return nil, err
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}

	// Seal before the transaction, so that the encryption of concurrent
	// writes runs in parallel and the commit holds only storage work.
	now := s.Now().Unix()
	lname, version := lower(name), newVersion()
	d := &secretData{
		Value: p.Value, ContentType: p.ContentType, Tags: p.Tags, Enabled: p.Enabled == nil || *p.Enabled,
		NotBefore: p.NotBefore, Expires: p.Expires, Created: now, Updated: now,
	}
	record, err := sealSecret(sealer, v.ID(), lname, version, d)
	if err != nil {
		return nil, err
	}

	var h head
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		deleted, err := tx.Get(bucketDeletedSecrets, secretKey(v.ID(), lname))
		if err != nil {
			return err
		}
		if deleted != nil {
			return secretDeletedConflict(name)
		}
		h = head{Name: name}
		if _, err := getJSON(tx, bucketSecrets, secretKey(v.ID(), lname), &h); err != nil {
			return err
		}
		h.Latest = version
		if err := putJSON(tx, bucketSecrets, secretKey(v.ID(), lname), &h); err != nil {
			return err
		}
		return tx.Put(bucketSecretVersions, versionKey(v.ID(), lname, version), record)
	})
	if err != nil {
		return nil, err
	}
	return d.secret(h.Name, version), nil
}

// GetSecret returns a version of the secret name, or its latest version when
// version is empty. A disabled version is refused with SecretDisabled; the
// nbf and exp attributes do not restrict reading, as in Azure.
func (s *Service) GetSecret(ctx context.Context, v *Vault, name, version string) (*Secret, error) {
	sec, err := s.readSecret(ctx, v, name, version)
	if err != nil {
		return nil, err
	}
	if !sec.Attributes.Enabled {
		return nil, &Error{Kind: KindForbidden, Code: "Forbidden", Inner: "SecretDisabled",
			Message: "Operation get is not allowed on a disabled secret."}
	}
	return sec, nil
}

// readSecret returns a version of a live secret whether or not it is enabled.
func (s *Service) readSecret(ctx context.Context, v *Vault, name, version string) (*Secret, error) {
	if ValidateObjectName(name) != nil || (version != "" && !versionPattern.MatchString(lower(version))) {
		return nil, secretNotFound(name)
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	lname, version := lower(name), lower(version)
	var sec *Secret
	err = s.store.View(ctx, func(tx storage.Tx) error {
		var h head
		found, err := getJSON(tx, bucketSecrets, secretKey(v.ID(), lname), &h)
		if err != nil || !found {
			return err
		}
		if version == "" {
			version = h.Latest
		}
		record, err := tx.Get(bucketSecretVersions, versionKey(v.ID(), lname, version))
		if err != nil || record == nil {
			return err
		}
		d, err := openSecret(sealer, v.ID(), lname, version, record)
		if err != nil {
			return fmt.Errorf("open secret %s/%s: %w", name, version, err)
		}
		sec = d.secret(h.Name, version)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sec == nil {
		return nil, secretNotFound(name)
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
	if ValidateObjectName(name) != nil || (version != "" && !versionPattern.MatchString(lower(version))) {
		return nil, secretNotFound(name)
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	lname, version := lower(name), lower(version)
	now := s.Now().Unix()
	var sec *Secret
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		sec = nil
		var h head
		found, err := getJSON(tx, bucketSecrets, secretKey(v.ID(), lname), &h)
		if err != nil || !found {
			return err
		}
		ver := version
		if ver == "" {
			ver = h.Latest
		}
		key := versionKey(v.ID(), lname, ver)
		record, err := tx.Get(bucketSecretVersions, key)
		if err != nil || record == nil {
			return err
		}
		d, err := openSecret(sealer, v.ID(), lname, ver, record)
		if err != nil {
			return fmt.Errorf("open secret %s/%s: %w", name, ver, err)
		}
		applySecretUpdate(d, &u)
		if err := validateWindow(d.NotBefore, d.Expires); err != nil {
			return err
		}
		d.Updated = now
		record, err = sealSecret(sealer, v.ID(), lname, ver, d)
		if err != nil {
			return err
		}
		if err := tx.Put(bucketSecretVersions, key, record); err != nil {
			return err
		}
		sec = d.secret(h.Name, ver)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sec == nil {
		return nil, secretNotFound(name)
	}
	return sec, nil
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
func (s *Service) ListSecrets(ctx context.Context, v *Vault, cursor string, max int) (items []*Secret, next string, err error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, "", err
	}
	prefix := []byte(v.ID() + "\x00")
	var afterKey []byte
	if after != "" {
		afterKey = secretKey(v.ID(), after)
	}
	err = s.store.View(ctx, func(tx storage.Tx) error {
		items, next = nil, ""
		return tx.Scan(bucketSecrets, prefix, afterKey, func(key, value []byte) (bool, error) {
			lname := string(key[len(prefix):])
			if len(items) == max {
				next = encodeCursor(items[len(items)-1].Name)
				return false, nil
			}
			var h head
			if err := jsonUnmarshal(value, &h); err != nil {
				return false, err
			}
			record, err := tx.Get(bucketSecretVersions, versionKey(v.ID(), lname, h.Latest))
			if err != nil {
				return false, err
			}
			if record == nil {
				return false, fmt.Errorf("secret %s: latest version %s is missing", h.Name, h.Latest)
			}
			d, err := openSecret(sealer, v.ID(), lname, h.Latest, record)
			if err != nil {
				return false, fmt.Errorf("open secret %s/%s: %w", h.Name, h.Latest, err)
			}
			sec := d.secret(h.Name, h.Latest)
			sec.Value = ""
			items = append(items, sec)
			return true, nil
		})
	})
	return items, next, err
}

// ListSecretVersions returns up to max versions of the secret name without
// their values, in version-id order, starting after cursor.
func (s *Service) ListSecretVersions(ctx context.Context, v *Vault, name, cursor string, max int) (items []*Secret, next string, err error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	if ValidateObjectName(name) != nil {
		return nil, "", secretNotFound(name)
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, "", err
	}
	lname := lower(name)
	prefix := []byte(v.ID() + "\x00" + lname + "\x00")
	var afterKey []byte
	if after != "" {
		afterKey = versionKey(v.ID(), lname, after)
	}
	found := false
	err = s.store.View(ctx, func(tx storage.Tx) error {
		items, next = nil, ""
		var h head
		var err error
		if found, err = getJSON(tx, bucketSecrets, secretKey(v.ID(), lname), &h); err != nil || !found {
			return err
		}
		return tx.Scan(bucketSecretVersions, prefix, afterKey, func(key, value []byte) (bool, error) {
			version := string(key[len(prefix):])
			if len(items) == max {
				next = encodeCursor(items[len(items)-1].Version)
				return false, nil
			}
			d, err := openSecret(sealer, v.ID(), lname, version, value)
			if err != nil {
				return false, fmt.Errorf("open secret %s/%s: %w", h.Name, version, err)
			}
			sec := d.secret(h.Name, version)
			sec.Value = ""
			items = append(items, sec)
			return true, nil
		})
	})
	if err == nil && !found {
		return nil, "", secretNotFound(name)
	}
	return items, next, err
}

// encodeCursor makes the opaque continuation token of a list: the encoded
// name (or version) of the last item returned. Lists resume at the first
// key after it, so paging stays correct while objects are added or removed.
func encodeCursor(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("1:" + lower(last)))
}

func decodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) < 3 || string(raw[:2]) != "1:" {
		return "", badParameter("The $skiptoken %q is invalid: pass the nextLink of the previous page unchanged.", cursor)
	}
	return string(raw[2:]), nil
}

package vault

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"time"

	"github.com/keyvault/keyvault/internal/storage"
)

// bucketPurgeSchedule orders soft-deleted objects by the time they are due
// to be purged, so the purge job reads only what is due:
// purge time (8 bytes, big-endian Unix seconds) | kind \x00 vault \x00 name -> empty.
const bucketPurgeSchedule = "purge-schedule"

func scheduleKey(at int64, kind, vaultID, lname string) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(at))
	return append(k, kind+"\x00"+vaultID+"\x00"+lname...)
}

// DeleteSecret soft-deletes the secret name with all its versions. It stays
// recoverable for the vault's retention period and is purged after it.
func (s *Service) DeleteSecret(ctx context.Context, v *Vault, name string) (*DeletedSecret, error) {
	if ValidateObjectName(name) != nil {
		return nil, secretNotFound(name)
	}
	lname := lower(name)
	now := s.Now()
	dh := deletedHead{
		DeletedDate:        now.Unix(),
		ScheduledPurgeDate: now.Add(time.Duration(v.RetentionDays) * 24 * time.Hour).Unix(),
	}
	found := false
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		var err error
		if found, err = getJSON(tx, bucketSecrets, secretKey(v.ID(), lname), &dh.head); err != nil || !found {
			return err
		}
		if err := tx.Delete(bucketSecrets, secretKey(v.ID(), lname)); err != nil {
			return err
		}
		if err := putJSON(tx, bucketDeletedSecrets, secretKey(v.ID(), lname), &dh); err != nil {
			return err
		}
		return tx.Put(bucketPurgeSchedule, scheduleKey(dh.ScheduledPurgeDate, "secret", v.ID(), lname), nil)
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, secretNotFound(name)
	}
	return s.deletedSecretVersion(ctx, v, lname, &dh)
}

// deletedSecretVersion reads the latest version of a deleted secret, without
// its value.
func (s *Service) deletedSecretVersion(ctx context.Context, v *Vault, lname string, dh *deletedHead) (*DeletedSecret, error) {
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	var d *secretData
	err = s.store.View(ctx, func(tx storage.Tx) error {
		record, err := tx.Get(bucketSecretVersions, versionKey(v.ID(), lname, dh.Latest))
		if err != nil {
			return err
		}
		if record == nil {
			return fmt.Errorf("deleted secret %s: latest version %s is missing", dh.Name, dh.Latest)
		}
		d, err = openSecret(sealer, v.ID(), lname, dh.Latest, record)
		return err
	})
	if err != nil {
		return nil, err
	}
	sec := d.secret(dh.Name, dh.Latest)
	sec.Value = ""
	return &DeletedSecret{Secret: *sec, DeletedDate: dh.DeletedDate, ScheduledPurgeDate: dh.ScheduledPurgeDate}, nil
}

// GetDeletedSecret returns the soft-deleted secret name.
func (s *Service) GetDeletedSecret(ctx context.Context, v *Vault, name string) (*DeletedSecret, error) {
	if ValidateObjectName(name) != nil {
		return nil, deletedSecretNotFound(name)
	}
	lname := lower(name)
	var dh deletedHead
	found := false
	err := s.store.View(ctx, func(tx storage.Tx) error {
		var err error
		found, err = getJSON(tx, bucketDeletedSecrets, secretKey(v.ID(), lname), &dh)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, deletedSecretNotFound(name)
	}
	return s.deletedSecretVersion(ctx, v, lname, &dh)
}

// ListDeletedSecrets returns up to max soft-deleted secrets in name order,
// starting after cursor.
func (s *Service) ListDeletedSecrets(ctx context.Context, v *Vault, cursor string, max int) (items []*DeletedSecret, next string, err error) {
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
		return tx.Scan(bucketDeletedSecrets, prefix, afterKey, func(key, value []byte) (bool, error) {
			lname := string(key[len(prefix):])
			if len(items) == max {
				next = encodeCursor(items[len(items)-1].Name)
				return false, nil
			}
			var dh deletedHead
			if err := jsonUnmarshal(value, &dh); err != nil {
				return false, err
			}
			record, err := tx.Get(bucketSecretVersions, versionKey(v.ID(), lname, dh.Latest))
			if err != nil || record == nil {
				return false, fmt.Errorf("deleted secret %s: latest version %s is unreadable: %v", dh.Name, dh.Latest, err)
			}
			d, err := openSecret(sealer, v.ID(), lname, dh.Latest, record)
			if err != nil {
				return false, fmt.Errorf("open secret %s/%s: %w", dh.Name, dh.Latest, err)
			}
			sec := d.secret(dh.Name, dh.Latest)
			sec.Value = ""
			items = append(items, &DeletedSecret{Secret: *sec, DeletedDate: dh.DeletedDate, ScheduledPurgeDate: dh.ScheduledPurgeDate})
			return true, nil
		})
	})
	return items, next, err
}

// RecoverDeletedSecret brings the soft-deleted secret name back with all its
// versions and returns its latest version without the value.
func (s *Service) RecoverDeletedSecret(ctx context.Context, v *Vault, name string) (*Secret, error) {
	if ValidateObjectName(name) != nil {
		return nil, deletedSecretNotFound(name)
	}
	lname := lower(name)
	var dh deletedHead
	found := false
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		var err error
		if found, err = getJSON(tx, bucketDeletedSecrets, secretKey(v.ID(), lname), &dh); err != nil || !found {
			return err
		}
		if err := tx.Delete(bucketDeletedSecrets, secretKey(v.ID(), lname)); err != nil {
			return err
		}
		if err := tx.Delete(bucketPurgeSchedule, scheduleKey(dh.ScheduledPurgeDate, "secret", v.ID(), lname)); err != nil {
			return err
		}
		return putJSON(tx, bucketSecrets, secretKey(v.ID(), lname), &dh.head)
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, deletedSecretNotFound(name)
	}
	sec, err := s.readSecret(ctx, v, dh.Name, dh.Latest)
	if err != nil {
		return nil, err
	}
	sec.Value = ""
	return sec, nil
}

// PurgeDeletedSecret removes the soft-deleted secret name for good. Vaults
// with purge protection refuse it: their deleted secrets are purged only when
// the retention period ends.
func (s *Service) PurgeDeletedSecret(ctx context.Context, v *Vault, name string) error {
	if v.PurgeProtection {
		return &Error{Kind: KindForbidden, Code: "Forbidden",
			Message: fmt.Sprintf("Operation \"purge\" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge secret %s after the retention period has passed.", name)}
	}
	if ValidateObjectName(name) != nil {
		return deletedSecretNotFound(name)
	}
	found := false
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		var err error
		found, err = purgeSecret(tx, v.ID(), lower(name))
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return deletedSecretNotFound(name)
	}
	return nil
}

// purgeSecret removes a deleted secret's entry, schedule and versions.
func purgeSecret(tx storage.Tx, vaultID, lname string) (bool, error) {
	var dh deletedHead
	found, err := getJSON(tx, bucketDeletedSecrets, secretKey(vaultID, lname), &dh)
	if err != nil || !found {
		return false, err
	}
	if err := tx.Delete(bucketDeletedSecrets, secretKey(vaultID, lname)); err != nil {
		return false, err
	}
	if err := tx.Delete(bucketPurgeSchedule, scheduleKey(dh.ScheduledPurgeDate, "secret", vaultID, lname)); err != nil {
		return false, err
	}
	var keys [][]byte
	err = tx.Scan(bucketSecretVersions, []byte(vaultID+"\x00"+lname+"\x00"), nil, func(key, _ []byte) (bool, error) {
		keys = append(keys, bytes.Clone(key))
		return true, nil
	})
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		if err := tx.Delete(bucketSecretVersions, k); err != nil {
			return false, err
		}
	}
	return true, nil
}

// PurgeDue purges every soft-deleted object whose scheduled purge date has
// passed, and returns how many it purged.
func (s *Service) PurgeDue(ctx context.Context) (int, error) {
	now := s.Now().Unix()
	var due [][]byte
	err := s.store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(bucketPurgeSchedule, nil, nil, func(key, _ []byte) (bool, error) {
			if int64(binary.BigEndian.Uint64(key[:8])) > now {
				return false, nil
			}
			due = append(due, bytes.Clone(key))
			return true, nil
		})
	})
	if err != nil {
		return 0, err
	}
	purged := 0
	for _, key := range due {
		parts := bytes.SplitN(key[8:], []byte{0}, 3)
		if len(parts) != 3 || string(parts[0]) != "secret" {
			continue
		}
		err := s.store.Update(ctx, func(tx storage.Tx) error {
			_, err := purgeSecret(tx, string(parts[1]), string(parts[2]))
			return err
		})
		if err != nil {
			return purged, err
		}
		purged++
	}
	return purged, nil
}

// RunPurger calls PurgeDue every interval until ctx ends, logging what it
// purges and every failure.
func (s *Service) RunPurger(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.PurgeDue(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error("purge of soft-deleted objects failed", "error", err)
		} else if n > 0 {
			log.Info("purged soft-deleted objects whose retention ended", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

package vault

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"

	"github.com/keyvault/keyvault/internal/storage"
)

// PurgeDue purges every soft-deleted object whose scheduled purge date has
// passed, and returns how many it purged.
func (s *Service) PurgeDue(ctx context.Context) (int, error) {
	now := s.Now().Unix()
	var due [][]byte
	err := s.store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(bucketPurgeSchedule, nil, nil, func(key, _ []byte) (bool, error) {
			if len(key) < 8 || int64(binary.BigEndian.Uint64(key[:8])) > now {
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
		if len(parts) != 3 {
			continue
		}
		if string(parts[0]) == "vault" {
			n, err := s.purgeDueVault(ctx, key, string(parts[1]))
			if err != nil {
				return purged, err
			}
			purged += n
			continue
		}
		k, ok := kindsByName[string(parts[0])]
		if !ok {
			continue
		}
		at := int64(binary.BigEndian.Uint64(key[:8]))
		vaultID, lname := string(parts[1]), string(parts[2])
		var hsm *hsmPurge
		if k.name == keyKind.name {
			var err error
			if hsm, err = s.newHSMPurge(ctx, vaultID); err != nil {
				return purged, err
			}
		}
		done := false
		err := s.store.Update(ctx, func(tx storage.Tx) error {
			// The object may have been recovered since the scan, or
			// recovered and deleted again with a later date. So purge it
			// only while it is deleted with this entry's date, and drop an
			// entry that no longer matches.
			var dh deletedHead
			found, err := getJSON(tx, k.deleted, headKey(vaultID, lname), &dh)
			if err != nil {
				return err
			}
			if !found || dh.ScheduledPurgeDate != at {
				done = false
				return tx.Delete(bucketPurgeSchedule, key)
			}
			if err := hsm.collect(tx, lname); err != nil {
				return err
			}
			done, err = purgeInTx(tx, k, vaultID, lname)
			return err
		})
		if err != nil {
			return purged, err
		}
		if done {
			hsm.destroy()
			purged++
			s.event(strings.ToUpper(k.name[:1])+k.name[1:]+"Purge", vaultID, k.name+"s/"+lname, "purged when its retention period ended")
			if k.name == keyKind.name {
				s.keyMaterial.forget(vaultID, lname)
			}
		}
	}
	return purged, nil
}

// purgeDueVault purges a soft-deleted vault whose retention ended, unless it
// was recovered (or deleted again) since the schedule entry was read.
func (s *Service) purgeDueVault(ctx context.Context, key []byte, vaultID string) (int, error) {
	at := int64(binary.BigEndian.Uint64(key[:8]))
	hsm, err := s.newHSMPurge(ctx, vaultID)
	if err != nil {
		return 0, err
	}
	done := false
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		var d Vault
		found, err := getJSON(tx, bucketDeletedVaults, []byte(vaultID), &d)
		if err != nil {
			return err
		}
		if !found || d.ScheduledPurgeDate != at {
			done = false
			return tx.Delete(bucketPurgeSchedule, key)
		}
		done = true
		if err := hsm.collect(tx, ""); err != nil {
			return err
		}
		return purgeVaultInTx(tx, vaultID, at)
	})
	if err != nil || !done {
		return 0, err
	}
	hsm.destroy()
	s.afterVaultPurge(vaultID)
	return 1, nil
}

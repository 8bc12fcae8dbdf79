package vault

import (
	"bytes"
	"context"
	"encoding/binary"

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
		k, ok := kindsByName[string(parts[0])]
		if !ok {
			continue
		}
		err := s.store.Update(ctx, func(tx storage.Tx) error {
			_, err := purgeInTx(tx, k, string(parts[1]), string(parts[2]))
			return err
		})
		if err != nil {
			return purged, err
		}
		purged++
	}
	return purged, nil
}

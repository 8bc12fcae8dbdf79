package seal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keyvault/keyvault/internal/storage"
)

// bucketRotation holds the progress of the latest data-key rotation under
// keyRotationProgress, so that re-encryption resumes after a restart.
const (
	bucketRotation      = "datakeys-rotation"
	keyRotationProgress = "progress"
)

// ErrRotationRunning is returned by RotateDataKeys while the records of an
// earlier rotation are still being re-encrypted.
var ErrRotationRunning = errors.New("seal: a data-key rotation is still re-encrypting records")

// passDone is the cursor bucket after the last bucket of a pass; no bucket
// has this name.
const passDone = "\x00done"

// maxReencryptPasses bounds the passes over every sealed bucket. A pass
// after the first finds only records that requests sealed with a sealer
// fetched before the rotation, so two passes are the usual case.
const maxReencryptPasses = 5

// SealedBucket names a bucket whose records Sealer.Seal made, for the
// re-encryption that follows a data-key rotation.
type SealedBucket struct {
	Name string
	// Locate returns the keyring scope and the additional authenticated
	// data of the record stored under key. ok is false for keys that
	// contain no sealed record.
	Locate func(key []byte) (scope string, aad []byte, ok bool)
}

// RotationProgress is the stored state of a data-key rotation.
type RotationProgress struct {
	ID          string `json:"id"`
	Started     int64  `json:"started"`            // Unix seconds
	Finished    int64  `json:"finished,omitempty"` // Unix seconds; 0 while running
	Scopes      int    `json:"scopes"`             // scopes that got a new data key
	Pass        int    `json:"pass"`               // 1 for the first pass over the buckets
	Bucket      string `json:"bucket,omitempty"`   // bucket being re-encrypted; empty before the first
	After       []byte `json:"after,omitempty"`    // last key of Bucket done
	Reencrypted int64  `json:"reencrypted"`        // records re-encrypted in all passes
	PassCount   int64  `json:"passReencrypted"`    // records re-encrypted in this pass
	Skipped     int64  `json:"skipped"`            // records that did not open, left as they are
}

// Running reports whether records are still being re-encrypted.
func (p *RotationProgress) Running() bool { return p != nil && p.Finished == 0 }

// RotateRootKey re-wraps every data key under next in one transaction and
// then makes next the keyring's root key. Data keys, and so records, do not
// change. It returns the number of data keys re-wrapped. On error the store
// and the keyring still use the old root key.
func (k *Keyring) RotateRootKey(ctx context.Context, next RootKey) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if next.ID() == k.root.ID() {
		return 0, fmt.Errorf("seal: the new root key has the id %s of the current one", next.ID())
	}

	// Unwrap and wrap outside the write transaction, so that slow root keys
	// (an HSM) do not hold up other commits. Data keys change only under
	// k.mu or by DeleteScopeKeys, which the transaction below detects.
	type rewrap struct{ key, old, new []byte }
	var items []rewrap
	err := k.store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(bucketDataKeys, nil, nil, func(key, value []byte) (bool, error) {
			var w wrappedKey
			if err := json.Unmarshal(value, &w); err != nil {
				return false, fmt.Errorf("data key %q: %w", key, err)
			}
			if w.RootKeyID != k.root.ID() {
				return false, fmt.Errorf("%w: data key %q is wrapped by root key %s, the loaded root key is %s",
					ErrWrongRootKey, key, w.RootKeyID, k.root.ID())
			}
			aad := AAD("datakey", string(key))
			raw, err := k.root.Unwrap(w.Wrapped, aad)
			if err != nil {
				return false, fmt.Errorf("%w: unwrap data key %q", ErrWrongRootKey, key)
			}
			wrapped, err := next.Wrap(raw, aad)
			if err != nil {
				return false, fmt.Errorf("wrap data key %q under the new root key: %w", key, err)
			}
			value2, err := json.Marshal(wrappedKey{RootKeyID: next.ID(), Wrapped: wrapped, Created: w.Created})
			if err != nil {
				return false, err
			}
			items = append(items, rewrap{key: bytes.Clone(key), old: bytes.Clone(value), new: value2})
			return true, nil
		})
	})
	if err != nil {
		return 0, err
	}
	err = k.store.Update(ctx, func(tx storage.Tx) error {
		for _, it := range items {
			current, err := tx.Get(bucketDataKeys, it.key)
			if err != nil {
				return err
			}
			if current == nil {
				continue // its vault was purged meanwhile
			}
			if !bytes.Equal(current, it.old) {
				return fmt.Errorf("seal: data key %q changed during the root-key rotation; try again", it.key)
			}
			if err := tx.Put(bucketDataKeys, it.key, it.new); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	k.root = next
	return len(items), nil
}

// RotateDataKeys gives every scope that has data keys a new current data
// key, in one transaction, and records a new rotation whose records
// Reencrypt then moves to the new keys. Old data keys stay in the store, so
// every record stays readable whether it was re-encrypted yet or not.
func (k *Keyring) RotateDataKeys(ctx context.Context, now time.Time) (*RotationProgress, error) {
	k.mu.Lock()
	defer k.mu.Unlock()

	var scopes []string
	err := k.store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(bucketCurrent, nil, nil, func(key, _ []byte) (bool, error) {
			scopes = append(scopes, string(key))
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	type newKey struct {
		scope, id string
		value     []byte
	}
	keys := make([]newKey, 0, len(scopes))
	for _, scope := range scopes {
		id, value, err := k.newDataKey(scope, now)
		if err != nil {
			return nil, err
		}
		keys = append(keys, newKey{scope: scope, id: id, value: value})
	}
	idBytes := make([]byte, 8)
	if _, err := rand.Read(idBytes); err != nil {
		return nil, err
	}
	progress := &RotationProgress{ID: hex.EncodeToString(idBytes), Started: now.Unix(), Scopes: len(keys), Pass: 1}

	err = k.store.Update(ctx, func(tx storage.Tx) error {
		var previous RotationProgress
		if found, err := getProgress(tx, &previous); err != nil {
			return err
		} else if found && previous.Running() {
			return ErrRotationRunning
		}
		for _, nk := range keys {
			if cur, err := tx.Get(bucketCurrent, []byte(nk.scope)); err != nil {
				return err
			} else if cur == nil {
				continue // its vault was purged meanwhile
			}
			if err := tx.Put(bucketDataKeys, []byte(nk.scope+"\x00"+nk.id), nk.value); err != nil {
				return err
			}
			if err := tx.Put(bucketCurrent, []byte(nk.scope), []byte(nk.id)); err != nil {
				return err
			}
		}
		return putProgress(tx, progress)
	})
	if err != nil {
		return nil, err
	}

	// Sealers are immutable: replace the cached ones, so that new records
	// are sealed under the new keys from now on.
	for scope := range k.sealers {
		s, err := k.load(ctx, scope)
		if err != nil {
			return nil, err
		}
		k.sealers[scope] = s
	}
	return progress, nil
}

// newDataKey makes a random data key for scope and returns its id and its
// stored form, wrapped by the root key.
func (k *Keyring) newDataKey(scope string, now time.Time) (id string, value []byte, err error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	idBytes := make([]byte, 8)
	if _, err := rand.Read(idBytes); err != nil {
		return "", nil, err
	}
	id = hex.EncodeToString(idBytes)
	wrapped, err := k.root.Wrap(raw, AAD("datakey", scope+"\x00"+id))
	if err != nil {
		return "", nil, fmt.Errorf("wrap data key: %w", err)
	}
	value, err = json.Marshal(wrappedKey{RootKeyID: k.root.ID(), Wrapped: wrapped, Created: now.Unix()})
	return id, value, err
}

// Rotation returns the progress of the latest data-key rotation, or nil if
// there has been none.
func (k *Keyring) Rotation(ctx context.Context) (*RotationProgress, error) {
	var p RotationProgress
	var found bool
	err := k.store.View(ctx, func(tx storage.Tx) error {
		var err error
		found, err = getProgress(tx, &p)
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	return &p, nil
}

func getProgress(tx storage.Tx, p *RotationProgress) (bool, error) {
	raw, err := tx.Get(bucketRotation, []byte(keyRotationProgress))
	if err != nil || raw == nil {
		return false, err
	}
	return true, json.Unmarshal(raw, p)
}

func putProgress(tx storage.Tx, p *RotationProgress) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return tx.Put(bucketRotation, []byte(keyRotationProgress), raw)
}

// ReencryptOptions tune Reencrypt. Zero values mean the defaults.
type ReencryptOptions struct {
	BatchSize  int // records read per transaction; default 64
	MaxBatches int // stop after this many batches, as a crash would; 0 means no limit
	Now        func() time.Time
}

// Reencrypt moves the records of buckets to the current data key of their
// scope, resuming from the stored cursor of the running rotation. It
// returns nil at once when no rotation is running. Each batch commits the
// re-encrypted records together with the new cursor, so a crash loses no
// progress beyond the batch in flight. A record changed by a request while
// its batch ran is left to the next pass. A record that does not open is
// counted as skipped and left as it is.
func (k *Keyring) Reencrypt(ctx context.Context, buckets []SealedBucket, opts ReencryptOptions) error {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 64
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p, err := k.Rotation(ctx)
	if err != nil || !p.Running() {
		return err
	}
	for batches := 0; opts.MaxBatches == 0 || batches < opts.MaxBatches; batches++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		index := bucketIndex(buckets, p.Bucket)
		if index == len(buckets) {
			// The pass is over: finish, or go over every bucket again to
			// catch records sealed by requests that began before rotation.
			if p.PassCount == 0 || p.Pass >= maxReencryptPasses {
				p.Finished = opts.Now().Unix()
			} else {
				p.Pass++
				p.PassCount = 0
			}
			p.Bucket, p.After = "", nil
			if p.Finished == 0 && len(buckets) > 0 {
				p.Bucket = buckets[0].Name
			}
			if err := k.saveProgress(ctx, p); err != nil {
				return err
			}
			if p.Finished != 0 {
				return nil
			}
			continue
		}
		if err := k.reencryptBatch(ctx, buckets, index, p, opts.BatchSize); err != nil {
			return err
		}
	}
	return nil
}

// bucketIndex returns the position of the named bucket in buckets: 0 for
// the empty name (the first batch of a pass) and len(buckets) past the last.
func bucketIndex(buckets []SealedBucket, name string) int {
	if name == "" {
		return 0
	}
	for i, b := range buckets {
		if b.Name == name {
			return i
		}
	}
	return len(buckets) // a bucket no longer known: the pass is over
}

type reencryptItem struct {
	key, old []byte
	scope    string
	aad      []byte
}

// reencryptBatch re-encrypts up to size records of buckets[index] after the
// cursor and commits them with the advanced cursor.
func (k *Keyring) reencryptBatch(ctx context.Context, buckets []SealedBucket, index int, p *RotationProgress, size int) error {
	b := buckets[index]
	var items []reencryptItem
	var last []byte
	scanned := 0
	err := k.store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(b.Name, nil, p.After, func(key, value []byte) (bool, error) {
			scanned++
			last = bytes.Clone(key)
			if scope, aad, ok := b.Locate(key); ok {
				items = append(items, reencryptItem{key: bytes.Clone(key), old: bytes.Clone(value), scope: scope, aad: aad})
			}
			return scanned < size, nil
		})
	})
	if err != nil {
		return err
	}

	sealed := make(map[string][]byte, len(items))
	var skipped int64
	for _, it := range items {
		s, err := k.existingSealer(ctx, it.scope)
		if err != nil {
			return err
		}
		if s == nil || recordKeyID(it.old) == s.current {
			continue
		}
		plain, err := s.Open(it.old, it.aad)
		if err != nil {
			skipped++
			continue
		}
		if sealed[string(it.key)], err = s.Seal(plain, it.aad); err != nil {
			return err
		}
	}

	next := *p
	next.Bucket, next.After = b.Name, last
	if scanned < size {
		next.After = nil
		next.Bucket = passDone
		if index+1 < len(buckets) {
			next.Bucket = buckets[index+1].Name
		}
	}
	next.Skipped += skipped
	err = k.store.Update(ctx, func(tx storage.Tx) error {
		done := int64(0)
		for _, it := range items {
			record, ok := sealed[string(it.key)]
			if !ok {
				continue
			}
			current, err := tx.Get(b.Name, it.key)
			if err != nil {
				return err
			}
			if !bytes.Equal(current, it.old) {
				continue // changed or deleted by a request meanwhile
			}
			if err := tx.Put(b.Name, it.key, record); err != nil {
				return err
			}
			done++
		}
		stored := next
		stored.Reencrypted += done
		stored.PassCount += done
		return putProgress(tx, &stored)
	})
	if err != nil {
		return err
	}
	// Read back what was committed: Update may run its function again.
	committed, err := k.Rotation(ctx)
	if err != nil {
		return err
	}
	*p = *committed
	return nil
}

func (k *Keyring) saveProgress(ctx context.Context, p *RotationProgress) error {
	return k.store.Update(ctx, func(tx storage.Tx) error { return putProgress(tx, p) })
}

// existingSealer returns the sealer of scope, or nil if the scope has no
// data key (its vault was purged); unlike Sealer it never creates one.
func (k *Keyring) existingSealer(ctx context.Context, scope string) (*Sealer, error) {
	k.mu.RLock()
	s := k.sealers[scope]
	k.mu.RUnlock()
	if s != nil {
		return s, nil
	}
	var exists bool
	err := k.store.View(ctx, func(tx storage.Tx) error {
		cur, err := tx.Get(bucketCurrent, []byte(scope))
		exists = cur != nil
		return err
	})
	if err != nil || !exists {
		return nil, err
	}
	return k.Sealer(ctx, scope)
}

// recordKeyID returns the id of the data key that sealed record, or "" for
// a record of an unknown format.
func recordKeyID(record []byte) string {
	if len(record) < 2 || record[0] != recordFormat || len(record) < 2+int(record[1]) {
		return ""
	}
	return string(record[2 : 2+int(record[1])])
}

// HasDataKeys reports whether store holds any data key, that is, whether a
// root key has already sealed something in it.
func HasDataKeys(ctx context.Context, store storage.Store) (bool, error) {
	found := false
	err := store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(bucketDataKeys, nil, nil, func(_, _ []byte) (bool, error) {
			found = true
			return false, nil
		})
	})
	return found, err
}

// Package bolt implements storage.Store on bbolt, the embedded B+tree store.
//
// Writes go through a group commit: Update calls that arrive while a commit is
// being written to disk queue up and are committed together in the next
// transaction, with one fsync for all of them. Durability per call is the same
// as committing each alone, but throughput no longer pays one fsync per write.
package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/keyvault/keyvault/internal/storage"
)

// maxGroup caps how many Update calls share one transaction, so that a failed
// function (which forces the rest of its group to run again) costs a bounded
// amount of repeated work.
const maxGroup = 256

// Options configures Open. The zero value is usable.
type Options struct {
	// LockTimeout is how long Open waits for another process to release the
	// file lock. Zero means one second.
	LockTimeout time.Duration
}

// Store is a storage.Store on one bbolt file.
type Store struct {
	db      *bolt.DB
	queue   chan *update
	closing chan struct{}
	done    chan struct{}
	once    sync.Once

	// beforeCommit, if set, runs once per group after every function and
	// before the commit; an error aborts the whole group.
	beforeCommit atomic.Pointer[func() error]

	// mu is held for reading while an Update queues and for writing while
	// Close closes closing, so no update enters the queue after the commit
	// loop has drained it for the last time.
	mu sync.RWMutex
}

var _ storage.Store = (*Store)(nil)

type update struct {
	fn     func(storage.Tx) error
	result chan error
}

// Open opens or creates the bbolt file at path, which must not be in use by
// another process.
func Open(path string, opts Options) (*Store, error) {
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = time.Second
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: timeout,
		// The freelist is rebuilt by scanning at open instead of being
		// written on every commit, which halves the pages each commit syncs.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s: the file is locked by another process (is another keyvault server running on this data directory?)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{
		db:      db,
		queue:   make(chan *update, maxGroup),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.commitLoop()
	return s, nil
}

// SetBeforeCommit installs fn to run in every write transaction after its
// functions and before it commits, such as a flush of records that must be
// durable before the data they describe. If fn fails, no update of the
// group is applied and each gets fn's error.
func (s *Store) SetBeforeCommit(fn func() error) {
	s.beforeCommit.Store(&fn)
}

// View implements storage.Store.
func (s *Store) View(ctx context.Context, fn func(storage.Tx) error) error {
	select {
	case <-s.closing:
		return storage.ErrClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(btx *bolt.Tx) error {
		return fn(tx{btx})
	})
}

// Update implements storage.Store.
func (s *Store) Update(ctx context.Context, fn func(storage.Tx) error) error {
	u := &update{fn: fn, result: make(chan error, 1)}
	s.mu.RLock()
	select {
	case <-s.closing:
		s.mu.RUnlock()
		return storage.ErrClosed
	default:
	}
	select {
	case s.queue <- u:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	// Once queued, the write may commit, so wait for the outcome even if
	// ctx is cancelled: returning early would hide a write that happened.
	return <-u.result
}

// Close implements storage.Store. Updates already queued are committed first.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		close(s.closing)
		s.mu.Unlock()
	})
	<-s.done
	return s.db.Close()
}

func (s *Store) commitLoop() {
	defer close(s.done)
	for {
		select {
		case u := <-s.queue:
			s.commitGroup(s.collect(u))
		case <-s.closing:
			// Drain what was queued before Close so no caller waits forever.
			for {
				select {
				case u := <-s.queue:
					s.commitGroup(s.collect(u))
				default:
					return
				}
			}
		}
	}
}

// collect gathers first and every update already waiting, up to maxGroup.
func (s *Store) collect(first *update) []*update {
	group := []*update{first}
	for len(group) < maxGroup {
		select {
		case u := <-s.queue:
			group = append(group, u)
		default:
			return group
		}
	}
	return group
}

// commitGroup commits group in one transaction. When one function fails, it
// gets its error, the transaction is rolled back and the others run again
// without it.
func (s *Store) commitGroup(group []*update) {
	for len(group) > 0 {
		failed := -1
		var fnErr error
		err := s.db.Update(func(btx *bolt.Tx) error {
			for i, u := range group {
				if err := runFn(u.fn, tx{btx}); err != nil {
					failed, fnErr = i, err
					return err
				}
			}
			if hook := s.beforeCommit.Load(); hook != nil {
				return (*hook)()
			}
			return nil
		})
		if failed >= 0 {
			group[failed].result <- fnErr
			group = append(group[:failed:failed], group[failed+1:]...)
			continue
		}
		for _, u := range group {
			u.result <- err
		}
		return
	}
}

// runFn calls fn and turns a panic into an error, so that one bad function
// cannot take down the commit loop and every caller waiting on it.
func runFn(fn func(storage.Tx) error, t storage.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("storage: update function panicked: %v", p)
		}
	}()
	return fn(t)
}

type tx struct{ b *bolt.Tx }

func (t tx) Get(bucket string, key []byte) ([]byte, error) {
	b := t.b.Bucket([]byte(bucket))
	if b == nil {
		return nil, nil
	}
	v := b.Get(key)
	if v == nil {
		return nil, nil
	}
	return bytes.Clone(v), nil
}

func (t tx) Put(bucket string, key, value []byte) error {
	b, err := t.b.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	// bbolt keeps references to key and value until commit.
	return b.Put(bytes.Clone(key), bytes.Clone(value))
}

func (t tx) Delete(bucket string, key []byte) error {
	b := t.b.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	return b.Delete(key)
}

func (t tx) Scan(bucket string, prefix, after []byte, fn func(key, value []byte) (bool, error)) error {
	b := t.b.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	c := b.Cursor()
	var k, v []byte
	if after != nil && bytes.Compare(after, prefix) >= 0 {
		k, v = c.Seek(after)
		if k != nil && bytes.Equal(k, after) {
			k, v = c.Next()
		}
	} else {
		k, v = c.Seek(prefix)
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

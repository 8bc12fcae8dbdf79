// Package storage defines the ordered, transactional key-value interface that
// every KeyVault store implements. Keys are byte strings ordered bytewise inside
// named buckets; a bucket springs into existence on its first Put.
//
// The interface is small on purpose so that an embedded engine (bbolt) and a
// SQL database (a table of bucket, key and value) can both implement it without
// the layers above noticing which one runs.
package storage

import (
	"context"
	"errors"
)

// ErrClosed is returned by every method once Close has been called.
var ErrClosed = errors.New("storage: store is closed")

// Store is an ordered, transactional key-value store.
type Store interface {
	// View runs fn in a read-only transaction that sees one consistent
	// snapshot. Several View calls may run at the same time.
	View(ctx context.Context, fn func(Tx) error) error

	// Update runs fn in a read-write transaction and commits it durably
	// (the data has reached stable storage) before returning nil. If fn
	// returns an error, none of its writes are applied and Update returns
	// that error unchanged.
	//
	// Concurrent Update calls may be committed together in one transaction
	// (group commit), and fn may then be called more than once if another
	// function in the group fails, so fn must have no effects outside tx.
	// Transactions are serializable: each fn sees every write committed
	// before it started and the writes of the functions run before it in
	// the same group.
	Update(ctx context.Context, fn func(Tx) error) error

	// Close waits for pending updates to commit and releases the store.
	Close() error
}

// Tx is a transaction. It must not be used after the function it was passed
// to returns.
type Tx interface {
	// Get returns a copy of the value stored under key, or nil and no error
	// when the key or the bucket does not exist.
	Get(bucket string, key []byte) ([]byte, error)

	// Put stores value under key, replacing any earlier value. It fails in a
	// read-only transaction. The store keeps its own copy of key and value.
	Put(bucket string, key, value []byte) error

	// Delete removes key. Deleting a missing key is not an error.
	Delete(bucket string, key []byte) error

	// Scan calls fn for every key that starts with prefix, in ascending
	// byte order, beginning after the key after (exclusive) when after is
	// not nil. It stops when fn returns false or an error. The key and value
	// passed to fn are valid only during that call.
	Scan(bucket string, prefix, after []byte, fn func(key, value []byte) (bool, error)) error
}

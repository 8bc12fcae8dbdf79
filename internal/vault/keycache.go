package vault

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keyvault/keyvault/internal/keys"
	"github.com/keyvault/keyvault/internal/storage"
)

// DefaultKeyCacheSize is the number of key versions a Service keeps ready
// for operations in memory by default.
const DefaultKeyCacheSize = 1024

// keyCache keeps what a key operation needs of recently used key versions:
// the parsed private material and the attributes that decide whether the
// operation is allowed. It saves each operation a store read, an unseal,
// two JSON decodings and the parse of the material. Building an RSA-2048
// private key from its stored form costs about a sixth of a signature, even
// with the CRT parameters stored.
//
// A version's material never changes, but its attributes do (update,
// delete, recover, purge, a certificate's changes). Every entry therefore
// carries the count of key writes (writeCounts.keys) read before the store
// was, and it is used only while that count is unchanged. Entries are dropped
// when their key is deleted or purged, so that material does not outlive
// its key in memory.
type keyCache struct {
	mu      sync.RWMutex
	max     int
	entries map[string]*keyEntry
}

// keyEntry is one cached key version, addressed by its version or, for the
// versionless path, by "" (the latest version when it was read).
type keyEntry struct {
	writes   uint64 // writeCounts.keys before the version was read
	version  string
	meta     keyMeta // JWK left out: material holds it parsed
	material *keys.Key
}

func cacheKey(vaultID, lname, version string) string {
	return vaultID + "\x00" + lname + "\x00" + version
}

// get returns the entry of id if it was read at write count writes.
func (c *keyCache) get(id string, writes uint64) *keyEntry {
	c.mu.RLock()
	e := c.entries[id]
	c.mu.RUnlock()
	if e == nil || e.writes != writes {
		return nil
	}
	return e
}

// materialOf returns the cached parsed material of a version, whatever
// write count it was read at, since material never changes.
func (c *keyCache) materialOf(id, version string) *keys.Key {
	c.mu.RLock()
	e := c.entries[id]
	c.mu.RUnlock()
	if e == nil || e.version != version {
		return nil
	}
	return e.material
}

func (c *keyCache) put(id string, e *keyEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max <= 0 {
		return
	}
	if c.entries == nil || len(c.entries) >= c.max {
		// Starting over is simpler than LRU bookkeeping and costs one read
		// per key in use.
		c.entries = make(map[string]*keyEntry)
	}
	c.entries[id] = e
}

// forget drops every cached version of a key.
func (c *keyCache) forget(vaultID, lname string) {
	c.forgetPrefix(vaultID + "\x00" + lname + "\x00")
}

// forgetVault drops every cached key of a vault.
func (c *keyCache) forgetVault(vaultID string) {
	c.forgetPrefix(vaultID + "\x00")
}

func (c *keyCache) forgetPrefix(prefix string) {
	c.mu.Lock()
	for id := range c.entries {
		if strings.HasPrefix(id, prefix) {
			delete(c.entries, id)
		}
	}
	c.mu.Unlock()
}

// SetKeyCacheSize sets how many key versions stay in memory; 0 reads and
// parses the stored key for every operation.
func (s *Service) SetKeyCacheSize(n int) {
	s.keyMaterial.mu.Lock()
	s.keyMaterial.max = n
	s.keyMaterial.entries = nil
	s.keyMaterial.mu.Unlock()
}

// operationKey returns a key version ready for an operation: from the cache
// while no key was written since it was read, else from the store.
func (s *Service) operationKey(ctx context.Context, v *Vault, name, version string) (*keyEntry, error) {
	lname, lversion := lower(name), lower(version)
	id := cacheKey(v.ID(), lname, lversion)
	writes := s.writes.keys.Load() // before the store is read; see keyCache
	// Only names that passed validation are cached, under their lower-case
	// form. An ASCII name with the same lower-case form is valid too, but
	// strings.ToLower also maps some other characters to ASCII letters
	// (KELVIN SIGN to k), so any other name goes to readVersion, which
	// rejects it.
	if isASCII(name) && isASCII(version) {
		if e := s.keyMaterial.get(id, writes); e != nil {
			return e, nil
		}
	}
	obj, err := s.readVersion(ctx, v, keyKind, name, version)
	if err != nil {
		return nil, err
	}
	var d keyMeta
	if err := json.Unmarshal(obj.Content, &d); err != nil {
		return nil, storedKeyError(obj, err)
	}
	material := s.keyMaterial.materialOf(id, obj.Version)
	if material == nil {
		var jwk keys.JSONWebKey
		if err := json.Unmarshal(d.JWK, &jwk); err != nil {
			return nil, storedKeyError(obj, err)
		}
		if material, err = s.loadMaterial(&jwk, d.HSM); err != nil {
			return nil, storedKeyError(obj, err)
		}
	}
	d.JWK = nil
	e := &keyEntry{writes: writes, version: obj.Version, meta: d, material: material}
	s.keyMaterial.put(id, e)
	return e, nil
}

// isASCII reports whether every byte of s is below 0x80.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// writeCounts counts the committed write transactions that changed a
// bucket of keys, and those that changed the bucket of live vaults. Update
// adds one after the commit. A reader that loads a count before reading the
// store, and finds it unchanged later, can therefore use what it read.
type writeCounts struct {
	keys   atomic.Uint64
	vaults atomic.Uint64
}

// writeCountingStore is the Service's store: it passes everything through
// and counts the writes to keys and to vaults.
type writeCountingStore struct {
	storage.Store
	counts *writeCounts
}

func (w writeCountingStore) Update(ctx context.Context, fn func(storage.Tx) error) error {
	var touched touchedBuckets // fn may run more than once (group commit)
	err := w.Store.Update(ctx, func(tx storage.Tx) error {
		return fn(countingTx{Tx: tx, touched: &touched})
	})
	if touched.keys.Load() {
		w.counts.keys.Add(1)
	}
	if touched.vaults.Load() {
		w.counts.vaults.Add(1)
	}
	return err
}

// touchedBuckets records which counted buckets a transaction wrote.
type touchedBuckets struct {
	keys, vaults atomic.Bool
}

// countingTx notes whether a transaction wrote to a bucket of keys or to
// the bucket of vaults.
type countingTx struct {
	storage.Tx
	touched *touchedBuckets
}

func (t countingTx) Put(bucket string, key, value []byte) error {
	t.note(bucket)
	return t.Tx.Put(bucket, key, value)
}

func (t countingTx) Delete(bucket string, key []byte) error {
	t.note(bucket)
	return t.Tx.Delete(bucket, key)
}

func (t countingTx) note(bucket string) {
	switch bucket {
	case keyKind.heads, keyKind.versions, keyKind.deleted:
		t.touched.keys.Store(true)
	case bucketVaults:
		t.touched.vaults.Store(true)
	}
}

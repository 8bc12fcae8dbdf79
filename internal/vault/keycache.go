package vault

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/keyvault/keyvault/internal/keys"
)

// DefaultKeyCacheSize is the number of parsed key versions a Service keeps
// in memory by default.
const DefaultKeyCacheSize = 1024

// keyCache keeps the parsed private material of recently used key versions.
// A version's material never changes, so entries need no invalidation for
// correctness. They are dropped when the key is deleted or purged, so that
// material does not outlive its key in memory.
//
// Parsing is worth caching: building an RSA-2048 private key from its stored
// form costs about a sixth of a signature even with the CRT parameters
// stored, and checking it fully costs more than the signature.
type keyCache struct {
	mu      sync.RWMutex
	max     int
	entries map[string]*keys.Key
}

func cacheKey(vaultID, lname, version string) string {
	return vaultID + "\x00" + lname + "\x00" + version
}

// material returns the parsed key of a version, building it on a cache miss
// with load from rawJWK (a JWK made by PrivateJWK).
func (c *keyCache) material(vaultID, lname, version string, rawJWK json.RawMessage, load func(*keys.JSONWebKey) (*keys.Key, error)) (*keys.Key, error) {
	id := cacheKey(vaultID, lname, version)
	c.mu.RLock()
	k := c.entries[id]
	c.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	var jwk keys.JSONWebKey
	if err := json.Unmarshal(rawJWK, &jwk); err != nil {
		return nil, err
	}
	k, err := load(&jwk)
	if err != nil {
		return nil, err
	}
	if c.max <= 0 {
		return k, nil
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= c.max {
		// Starting over is simpler than LRU bookkeeping and costs one parse
		// per key in use.
		c.entries = make(map[string]*keys.Key)
	}
	c.entries[id] = k
	c.mu.Unlock()
	return k, nil
}

// forget drops every cached version of a key.
func (c *keyCache) forget(vaultID, lname string) {
	prefix := vaultID + "\x00" + lname + "\x00"
	c.mu.Lock()
	for id := range c.entries {
		if strings.HasPrefix(id, prefix) {
			delete(c.entries, id)
		}
	}
	c.mu.Unlock()
}

// SetKeyCacheSize sets how many parsed key versions stay in memory; 0 parses
// the stored key for every operation.
func (s *Service) SetKeyCacheSize(n int) {
	s.keyMaterial.mu.Lock()
	s.keyMaterial.max = n
	s.keyMaterial.entries = nil
	s.keyMaterial.mu.Unlock()
}

// forgetVault drops every cached key of a vault.
func (c *keyCache) forgetVault(vaultID string) {
	prefix := vaultID + "\x00"
	c.mu.Lock()
	for id := range c.entries {
		if strings.HasPrefix(id, prefix) {
			delete(c.entries, id)
		}
	}
	c.mu.Unlock()
}

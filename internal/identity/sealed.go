package identity

import "github.com/keyvault/keyvault/internal/seal"

// SealedBuckets lists the sealed records of this package, the token-signing
// key, for the re-encryption that follows a data-key rotation.
func SealedBuckets() []seal.SealedBucket {
	return []seal.SealedBucket{{Name: bucketIdentity, Locate: func(key []byte) (string, []byte, bool) {
		if string(key) != keySigningKey {
			return "", nil, false
		}
		return seal.ServerScope, seal.AAD("server", keySigningKey), true
	}}}
}

package vault

import (
	"strings"

	"github.com/keyvault/keyvault/internal/seal"
)

// SealedBuckets lists the buckets of this package whose records are
// sealed, with the scope and AAD of each record, for the re-encryption that
// follows a data-key rotation. A bucket added here later must be listed
// too, or its records stay under the data keys that sealed them.
func (s *Service) SealedBuckets() []seal.SealedBucket {
	buckets := make([]seal.SealedBucket, 0, 6)
	for _, k := range []objectKind{secretKind, keyKind, certKind} {
		buckets = append(buckets, seal.SealedBucket{Name: k.versions, Locate: func(key []byte) (string, []byte, bool) {
			parts := strings.Split(string(key), "\x00")
			if len(parts) != 3 {
				return "", nil, false
			}
			return parts[0], k.aad(parts[0], parts[1], parts[2]), true
		}})
	}
	for bucket, label := range map[string]string{bucketCertOps: "certificate-op", bucketCertIssuers: "certificate-issuer"} {
		buckets = append(buckets, seal.SealedBucket{Name: bucket, Locate: func(key []byte) (string, []byte, bool) {
			vaultID, lname, ok := strings.Cut(string(key), "\x00")
			if !ok {
				return "", nil, false
			}
			return vaultID, seal.AAD(label, vaultID, lname), true
		}})
	}
	buckets = append(buckets, seal.SealedBucket{Name: bucketServer, Locate: func(key []byte) (string, []byte, bool) {
		return seal.ServerScope, seal.AAD("server", string(key)), true
	}})
	return buckets
}

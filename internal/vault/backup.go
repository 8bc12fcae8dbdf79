package vault

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
)

const (
	bucketServer  = "server" // server-wide records, each sealed under seal.ServerScope
	backupKeyName = "backup-key"
	backupMagic   = "KVBACKUP"
	backupFormat  = 1
)

// backupKey encrypts backup blobs. It is server-wide, so a blob restores into
// any vault of the server, and of any server that shares the store.
type backupKey struct {
	id   string
	aead cipher.AEAD
}

type backupKeyState struct {
	mu  sync.Mutex
	key *backupKey
}

type storedBackupKey struct {
	ID  string `json:"id"`
	Key []byte `json:"key"`
}

// loadBackupKey returns the server's backup key, creating it on first use.
func (s *Service) loadBackupKey(ctx context.Context) (*backupKey, error) {
	s.backup.mu.Lock()
	defer s.backup.mu.Unlock()
	if s.backup.key != nil {
		return s.backup.key, nil
	}
	sealer, err := s.keys.Sealer(ctx, seal.ServerScope)
	if err != nil {
		return nil, err
	}
	aad := seal.AAD("server", backupKeyName)
	var stored storedBackupKey
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		record, err := tx.Get(bucketServer, []byte(backupKeyName))
		if err != nil {
			return err
		}
		if record != nil {
			plain, err := sealer.Open(record, aad)
			if err != nil {
				return fmt.Errorf("open backup key: %w", err)
			}
			return json.Unmarshal(plain, &stored)
		}
		id := make([]byte, 8)
		stored.Key = make([]byte, 32)
		if _, err := rand.Read(id); err != nil {
			return err
		}
		if _, err := rand.Read(stored.Key); err != nil {
			return err
		}
		stored.ID = hex.EncodeToString(id)
		plain, err := json.Marshal(&stored)
		if err != nil {
			return err
		}
		record, err = sealer.Seal(plain, aad)
		if err != nil {
			return err
		}
		return tx.Put(bucketServer, []byte(backupKeyName), record)
	})
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(stored.Key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s.backup.key = &backupKey{id: stored.ID, aead: aead}
	return s.backup.key, nil
}

// secretBackup is the plaintext inside a secret backup blob.
type secretBackup struct {
	Kind     string                `json:"kind"`
	Name     string                `json:"name"`
	Latest   string                `json:"latest"`
	Versions map[string]secretData `json:"versions"`
}

// sealBackup makes a backup blob:
//
//	"KVBACKUP" | format (1 byte) | len(key id) (1 byte) | key id | nonce (12) | AES-256-GCM ciphertext | tag
//
// The header is the additional authenticated data, so any change to the blob,
// its header included, makes restore fail.
func (k *backupKey) seal(payload []byte) ([]byte, error) {
	header := append([]byte(backupMagic), backupFormat, byte(len(k.id)))
	header = append(header, k.id...)
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append(bytes.Clone(header), nonce...)
	return k.aead.Seal(out, nonce, payload, header), nil
}

func invalidBackup(reason string) *Error {
	return badParameter("The backup blob is invalid: %s.", reason)
}

func (k *backupKey) open(blob []byte) ([]byte, error) {
	n := len(backupMagic)
	if len(blob) < n+2 || string(blob[:n]) != backupMagic || blob[n] != backupFormat {
		return nil, invalidBackup("it is not a KeyVault backup")
	}
	idLen := int(blob[n+1])
	headerLen := n + 2 + idLen
	if len(blob) < headerLen+k.aead.NonceSize()+k.aead.Overhead() {
		return nil, invalidBackup("it is truncated")
	}
	if id := string(blob[n+2 : headerLen]); id != k.id {
		return nil, invalidBackup(fmt.Sprintf("it was made with backup key %s, which this server does not hold", id))
	}
	nonce := blob[headerLen : headerLen+k.aead.NonceSize()]
	plain, err := k.aead.Open(nil, nonce, blob[headerLen+k.aead.NonceSize():], blob[:headerLen])
	if err != nil {
		return nil, invalidBackup("it was modified or damaged")
	}
	return plain, nil
}

// BackupSecret returns a blob holding every version of the secret name,
// sealed under the server's backup key.
func (s *Service) BackupSecret(ctx context.Context, v *Vault, name string) ([]byte, error) {
	if ValidateObjectName(name) != nil {
		return nil, secretNotFound(name)
	}
	key, err := s.loadBackupKey(ctx)
	if err != nil {
		return nil, err
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	lname := lower(name)
	b := secretBackup{Kind: "secret", Versions: make(map[string]secretData)}
	found := false
	err = s.store.View(ctx, func(tx storage.Tx) error {
		var h head
		var err error
		if found, err = getJSON(tx, bucketSecrets, secretKey(v.ID(), lname), &h); err != nil || !found {
			return err
		}
		b.Name, b.Latest = h.Name, h.Latest
		prefix := []byte(v.ID() + "\x00" + lname + "\x00")
		return tx.Scan(bucketSecretVersions, prefix, nil, func(k, value []byte) (bool, error) {
			version := string(k[len(prefix):])
			d, err := openSecret(sealer, v.ID(), lname, version, value)
			if err != nil {
				return false, fmt.Errorf("open secret %s/%s: %w", h.Name, version, err)
			}
			b.Versions[version] = *d
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, secretNotFound(name)
	}
	payload, err := json.Marshal(&b)
	if err != nil {
		return nil, err
	}
	return key.seal(payload)
}

// RestoreSecret restores a secret with all its versions from a blob made by
// BackupSecret, into v. It fails with Conflict if the name is in use, by a
// live or a soft-deleted secret.
func (s *Service) RestoreSecret(ctx context.Context, v *Vault, blob []byte) (*Secret, error) {
	key, err := s.loadBackupKey(ctx)
	if err != nil {
		return nil, err
	}
	payload, err := key.open(blob)
	if err != nil {
		return nil, err
	}
	var b secretBackup
	if err := json.Unmarshal(payload, &b); err != nil || b.Kind != "secret" {
		return nil, invalidBackup("it does not hold a secret")
	}
	if ValidateObjectName(b.Name) != nil || b.Versions[b.Latest].Created == 0 {
		return nil, invalidBackup("it holds no valid secret")
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}

	lname := lower(b.Name)
	records := make(map[string][]byte, len(b.Versions))
	for version, d := range b.Versions {
		if !versionPattern.MatchString(version) {
			return nil, invalidBackup("it holds an invalid version id")
		}
		record, err := sealSecret(sealer, v.ID(), lname, version, &d)
		if err != nil {
			return nil, err
		}
		records[version] = record
	}
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		for _, bucket := range []string{bucketSecrets, bucketDeletedSecrets} {
			existing, err := tx.Get(bucket, secretKey(v.ID(), lname))
			if err != nil {
				return err
			}
			if existing != nil {
				return &Error{Kind: KindConflict, Code: "Conflict",
					Message: fmt.Sprintf("Secret %s already exists in this vault (live or soft-deleted). Delete and purge it before restoring.", b.Name)}
			}
		}
		for version, record := range records {
			if err := tx.Put(bucketSecretVersions, versionKey(v.ID(), lname, version), record); err != nil {
				return err
			}
		}
		return putJSON(tx, bucketSecrets, secretKey(v.ID(), lname), &head{Name: b.Name, Latest: b.Latest})
	})
	if err != nil {
		return nil, err
	}
	d := b.Versions[b.Latest]
	sec := d.secret(b.Name, b.Latest)
	sec.Value = ""
	return sec, nil
}

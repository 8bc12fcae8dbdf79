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

// backupPayload is the plaintext inside a backup blob: an object's head and
// the content of every version.
type backupPayload struct {
	Kind     string            `json:"kind"`
	Name     string            `json:"name"`
	Latest   string            `json:"latest"`
	Versions map[string][]byte `json:"versions"`
	// Extra holds records a family keeps beside its versions, such as a
	// key's rotation policy.
	Extra map[string][]byte `json:"extra,omitempty"`
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

func (s *Service) sealBackup(ctx context.Context, b *backupPayload) ([]byte, error) {
	key, err := s.loadBackupKey(ctx)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	return key.seal(payload)
}

// openBackup decrypts a blob made by sealBackup and checks that it holds an
// object of kind k.
func (s *Service) openBackup(ctx context.Context, blob []byte, k objectKind) (*backupPayload, error) {
	key, err := s.loadBackupKey(ctx)
	if err != nil {
		return nil, err
	}
	payload, err := key.open(blob)
	if err != nil {
		return nil, err
	}
	var b backupPayload
	if err := json.Unmarshal(payload, &b); err != nil || b.Kind != k.name {
		return nil, invalidBackup(fmt.Sprintf("it does not hold a %s", k.name))
	}
	if ValidateObjectName(b.Name) != nil || b.Versions[b.Latest] == nil {
		return nil, invalidBackup(fmt.Sprintf("it holds no valid %s", k.name))
	}
	return &b, nil
}

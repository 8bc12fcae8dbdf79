package vault

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
)

// objectKind describes one family of versioned objects (secrets, keys): its
// storage buckets and its names in messages. The operations in this file
// work on the sealed content of versions as opaque bytes; each family's file
// encodes and decodes its own content.
type objectKind struct {
	name     string // "secret": the AAD label and purge-schedule kind
	title    string // "Secret": in messages
	notFound string // Azure error code for a missing object, such as SecretNotFound

	heads    string // vault \x00 name -> head (JSON)
	versions string // vault \x00 name \x00 version -> sealed content
	deleted  string // vault \x00 name -> deletedHead (JSON)
}

var secretKind = objectKind{
	name: "secret", title: "Secret", notFound: "SecretNotFound",
	heads: "secrets", versions: "secret-versions", deleted: "deleted-secrets",
}

var keyKind = objectKind{
	name: "key", title: "Key", notFound: "KeyNotFound",
	heads: "keys", versions: "key-versions", deleted: "deleted-keys",
}

// kindsByName maps purge-schedule kinds to their families.
var kindsByName = map[string]objectKind{secretKind.name: secretKind, keyKind.name: keyKind}

// head is the plaintext index entry of a live object.
type head struct {
	Name    string `json:"n"`           // the name as first written
	Latest  string `json:"l"`           // the current version
	Managed bool   `json:"m,omitempty"` // a key or secret that backs a certificate
}

// deletedHead is the index entry of a soft-deleted object.
type deletedHead struct {
	head
	DeletedDate        int64 `json:"d"`
	ScheduledPurgeDate int64 `json:"p"`
}

// object is one version of an object with its decrypted content.
type object struct {
	Name    string
	Version string
	Content []byte
}

// deletedObject is the latest version of a soft-deleted object.
type deletedObject struct {
	object
	DeletedDate        int64
	ScheduledPurgeDate int64
}

func (k objectKind) errNotFound(name string) *Error {
	return &Error{Kind: KindNotFound, Code: k.notFound,
		Message: fmt.Sprintf("A %s with (name/id) %s was not found in this key vault.", k.name, name)}
}

func (k objectKind) errDeletedNotFound(name string) *Error {
	return &Error{Kind: KindNotFound, Code: k.notFound,
		Message: fmt.Sprintf("Deleted %s not found: %s", k.title, name)}
}

// errManaged refuses an operation on a key or secret that backs a
// certificate: such objects change only through the certificate.
func (k objectKind) errManaged(name, op string) *Error {
	return &Error{Kind: KindForbidden, Code: "Forbidden", Inner: "ObjectIsManaged",
		Message: fmt.Sprintf("Operation %s is not allowed on %s %s because it backs a certificate; use the certificate of that name instead.", op, k.name, name)}
}

func (k objectKind) errDeletedConflict(name string) *Error {
	return &Error{Kind: KindConflict, Code: "Conflict", Inner: "ObjectIsDeletedButRecoverable",
		Message: fmt.Sprintf("%s %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the %s can only be recovered or purged.", k.title, name, k.name)}
}

func headKey(vaultID, lname string) []byte { return []byte(vaultID + "\x00" + lname) }

func versionKey(vaultID, lname, version string) []byte {
	return []byte(vaultID + "\x00" + lname + "\x00" + version)
}

// aad binds sealed content to its vault, family, name and version, so that no
// record can be moved to another place in the store and still open.
func (k objectKind) aad(vaultID, lname, version string) []byte {
	return seal.AAD(k.name, vaultID, lname, version)
}

// validName reports whether name and version (which may be empty) can name
// an object; anything else is simply not found.
func validName(name, version string) bool {
	return ValidateObjectName(name) == nil && (version == "" || versionPattern.MatchString(lower(version)))
}

// createVersion stores content as a new version of the object name and makes
// it the latest. It fails with Conflict while the name is soft-deleted. The
// returned name is the one the object was first created with.
func (s *Service) createVersion(ctx context.Context, v *Vault, k objectKind, name, version string, content []byte) (string, error) {
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return "", err
	}
	// Seal before the transaction, so that the encryption of concurrent
	// writes runs in parallel and the commit holds only storage work.
	lname := lower(name)
	record, err := sealer.Seal(content, k.aad(v.ID(), lname, version))
	if err != nil {
		return "", err
	}
	var h head
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		deleted, err := tx.Get(k.deleted, headKey(v.ID(), lname))
		if err != nil {
			return err
		}
		if deleted != nil {
			return k.errDeletedConflict(name)
		}
		h = head{Name: name}
		if _, err := getJSON(tx, k.heads, headKey(v.ID(), lname), &h); err != nil {
			return err
		}
		if h.Managed {
			return k.errManaged(name, "set")
		}
		h.Latest = version
		if err := putJSON(tx, k.heads, headKey(v.ID(), lname), &h); err != nil {
			return err
		}
		return tx.Put(k.versions, versionKey(v.ID(), lname, version), record)
	})
	return h.Name, err
}

// readVersion returns a version of a live object, or its latest version when
// version is empty.
func (s *Service) readVersion(ctx context.Context, v *Vault, k objectKind, name, version string) (*object, error) {
	if !validName(name, version) {
		return nil, k.errNotFound(name)
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	lname, version := lower(name), lower(version)
	var obj *object
	err = s.store.View(ctx, func(tx storage.Tx) error {
		var h head
		found, err := getJSON(tx, k.heads, headKey(v.ID(), lname), &h)
		if err != nil || !found {
			return err
		}
		if version == "" {
			version = h.Latest
		}
		obj, err = openVersion(tx, sealer, v, k, h.Name, lname, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, k.errNotFound(name)
	}
	return obj, nil
}

// openVersion reads and decrypts one version inside tx; it returns nil and no
// error when the version does not exist.
func openVersion(tx storage.Tx, sealer *seal.Sealer, v *Vault, k objectKind, name, lname, version string) (*object, error) {
	record, err := tx.Get(k.versions, versionKey(v.ID(), lname, version))
	if err != nil || record == nil {
		return nil, err
	}
	content, err := sealer.Open(record, k.aad(v.ID(), lname, version))
	if err != nil {
		return nil, fmt.Errorf("open %s %s/%s: %w", k.name, name, version, err)
	}
	return &object{Name: name, Version: version, Content: content}, nil
}

// updateVersion replaces the content of a version of a live object (the
// latest when version is empty) with what change returns for the old one.
func (s *Service) updateVersion(ctx context.Context, v *Vault, k objectKind, name, version string, change func(old []byte) ([]byte, error)) (*object, error) {
	return s.updateVersionOf(ctx, v, k, name, version, false, change)
}

// updateVersionOf is updateVersion; allowManaged lets a certificate update
// the key and secret it owns.
func (s *Service) updateVersionOf(ctx context.Context, v *Vault, k objectKind, name, version string, allowManaged bool, change func(old []byte) ([]byte, error)) (*object, error) {
	if !validName(name, version) {
		return nil, k.errNotFound(name)
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	var obj *object
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		var err error
		obj, err = updateVersionInTx(tx, sealer, v, k, name, version, allowManaged, change)
		return err
	})
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, k.errNotFound(name)
	}
	return obj, nil
}

// updateVersionInTx is the transaction of updateVersionOf. It returns nil
// and no error when the object or version does not exist.
func updateVersionInTx(tx storage.Tx, sealer *seal.Sealer, v *Vault, k objectKind, name, version string, allowManaged bool, change func(old []byte) ([]byte, error)) (*object, error) {
	lname, version := lower(name), lower(version)
	var h head
	found, err := getJSON(tx, k.heads, headKey(v.ID(), lname), &h)
	if err != nil || !found {
		return nil, err
	}
	if h.Managed && !allowManaged {
		return nil, k.errManaged(name, "update")
	}
	if version == "" {
		version = h.Latest
	}
	old, err := openVersion(tx, sealer, v, k, h.Name, lname, version)
	if err != nil || old == nil {
		return nil, err
	}
	content, err := change(old.Content)
	if err != nil {
		return nil, err
	}
	record, err := sealer.Seal(content, k.aad(v.ID(), lname, version))
	if err != nil {
		return nil, err
	}
	if err := tx.Put(k.versions, versionKey(v.ID(), lname, version), record); err != nil {
		return nil, err
	}
	return &object{Name: h.Name, Version: version, Content: content}, nil
}

// listLatest returns up to max live objects of v in name order, each at its
// latest version, starting after cursor. next is the cursor of the following
// page, or empty at the end.
func (s *Service) listLatest(ctx context.Context, v *Vault, k objectKind, cursor string, max int) (items []*object, next string, err error) {
	return s.listHeads(ctx, v, k, k.heads, cursor, max, func(tx storage.Tx, sealer *seal.Sealer, lname string, raw []byte) (*object, error) {
		var h head
		if err := jsonUnmarshal(raw, &h); err != nil {
			return nil, err
		}
		return mustOpenLatest(tx, sealer, v, k, h, lname)
	})
}

func mustOpenLatest(tx storage.Tx, sealer *seal.Sealer, v *Vault, k objectKind, h head, lname string) (*object, error) {
	obj, err := openVersion(tx, sealer, v, k, h.Name, lname, h.Latest)
	if err == nil && obj == nil {
		err = fmt.Errorf("%s %s: latest version %s is missing", k.name, h.Name, h.Latest)
	}
	return obj, err
}

// listHeads pages through the index bucket of k, calling load for each entry.
func (s *Service) listHeads(ctx context.Context, v *Vault, k objectKind, bucket, cursor string, max int,
	load func(tx storage.Tx, sealer *seal.Sealer, lname string, raw []byte) (*object, error)) (items []*object, next string, err error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, "", err
	}
	prefix := []byte(v.ID() + "\x00")
	var afterKey []byte
	if after != "" {
		afterKey = headKey(v.ID(), after)
	}
	err = s.store.View(ctx, func(tx storage.Tx) error {
		items, next = nil, ""
		return tx.Scan(bucket, prefix, afterKey, func(key, value []byte) (bool, error) {
			if len(items) == max {
				next = encodeCursor(items[len(items)-1].Name)
				return false, nil
			}
			obj, err := load(tx, sealer, string(key[len(prefix):]), value)
			if err != nil {
				return false, err
			}
			items = append(items, obj)
			return true, nil
		})
	})
	return items, next, err
}

// listVersions returns up to max versions of the live object name, in
// version-id order, starting after cursor.
func (s *Service) listVersions(ctx context.Context, v *Vault, k objectKind, name, cursor string, max int) (items []*object, next string, err error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	if !validName(name, "") {
		return nil, "", k.errNotFound(name)
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, "", err
	}
	lname := lower(name)
	prefix := []byte(v.ID() + "\x00" + lname + "\x00")
	var afterKey []byte
	if after != "" {
		afterKey = versionKey(v.ID(), lname, after)
	}
	found := false
	err = s.store.View(ctx, func(tx storage.Tx) error {
		items, next = nil, ""
		var h head
		var err error
		if found, err = getJSON(tx, k.heads, headKey(v.ID(), lname), &h); err != nil || !found {
			return err
		}
		return tx.Scan(k.versions, prefix, afterKey, func(key, value []byte) (bool, error) {
			version := string(key[len(prefix):])
			if len(items) == max {
				next = encodeCursor(items[len(items)-1].Version)
				return false, nil
			}
			content, err := sealer.Open(value, k.aad(v.ID(), lname, version))
			if err != nil {
				return false, fmt.Errorf("open %s %s/%s: %w", k.name, h.Name, version, err)
			}
			items = append(items, &object{Name: h.Name, Version: version, Content: content})
			return true, nil
		})
	})
	if err == nil && !found {
		return nil, "", k.errNotFound(name)
	}
	return items, next, err
}

// bucketPurgeSchedule orders soft-deleted objects by the time they are due
// to be purged, so the purge job reads only what is due:
// purge time (8 bytes, big-endian Unix seconds) | kind \x00 vault \x00 name -> empty.
const bucketPurgeSchedule = "purge-schedule"

func scheduleKey(at int64, kind, vaultID, lname string) []byte {
	k := make([]byte, 8, 8+len(kind)+len(vaultID)+len(lname)+2)
	for i := range 8 {
		k[i] = byte(uint64(at) >> (56 - 8*i))
	}
	return append(k, kind+"\x00"+vaultID+"\x00"+lname...)
}

// deleteObject soft-deletes the object name with all its versions. It stays
// recoverable for the vault's retention period and is purged after it.
func (s *Service) deleteObject(ctx context.Context, v *Vault, k objectKind, name string) (*deletedObject, error) {
	if !validName(name, "") {
		return nil, k.errNotFound(name)
	}
	lname := lower(name)
	now := s.Now()
	dh := deletedHead{
		DeletedDate:        now.Unix(),
		ScheduledPurgeDate: now.Add(time.Duration(v.RetentionDays) * 24 * time.Hour).Unix(),
	}
	found := false
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		var err error
		found, err = deleteInTx(tx, k, v.ID(), lname, &dh)
		if found && dh.Managed {
			return k.errManaged(name, "delete")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, k.errNotFound(name)
	}
	return s.openDeleted(ctx, v, k, lname, &dh)
}

// deleteInTx moves a live object's index entry to the deleted bucket with
// the dates in dh, and schedules its purge. It reports whether the object
// existed; dh.head receives its index entry.
func deleteInTx(tx storage.Tx, k objectKind, vaultID, lname string, dh *deletedHead) (bool, error) {
	found, err := getJSON(tx, k.heads, headKey(vaultID, lname), &dh.head)
	if err != nil || !found {
		return false, err
	}
	if err := tx.Delete(k.heads, headKey(vaultID, lname)); err != nil {
		return false, err
	}
	if err := putJSON(tx, k.deleted, headKey(vaultID, lname), dh); err != nil {
		return false, err
	}
	return true, tx.Put(bucketPurgeSchedule, scheduleKey(dh.ScheduledPurgeDate, k.name, vaultID, lname), nil)
}

// recoverInTx moves a deleted object's index entry back to the live bucket
// and drops its purge schedule. dh receives the deleted entry.
func recoverInTx(tx storage.Tx, k objectKind, vaultID, lname string, dh *deletedHead) (bool, error) {
	found, err := getJSON(tx, k.deleted, headKey(vaultID, lname), dh)
	if err != nil || !found {
		return false, err
	}
	if err := tx.Delete(k.deleted, headKey(vaultID, lname)); err != nil {
		return false, err
	}
	if err := tx.Delete(bucketPurgeSchedule, scheduleKey(dh.ScheduledPurgeDate, k.name, vaultID, lname)); err != nil {
		return false, err
	}
	return true, putJSON(tx, k.heads, headKey(vaultID, lname), &dh.head)
}

func (s *Service) openDeleted(ctx context.Context, v *Vault, k objectKind, lname string, dh *deletedHead) (*deletedObject, error) {
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	var obj *object
	err = s.store.View(ctx, func(tx storage.Tx) error {
		obj, err = mustOpenLatest(tx, sealer, v, k, dh.head, lname)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &deletedObject{object: *obj, DeletedDate: dh.DeletedDate, ScheduledPurgeDate: dh.ScheduledPurgeDate}, nil
}

// getDeleted returns the latest version of the soft-deleted object name.
func (s *Service) getDeleted(ctx context.Context, v *Vault, k objectKind, name string) (*deletedObject, error) {
	if !validName(name, "") {
		return nil, k.errDeletedNotFound(name)
	}
	lname := lower(name)
	var dh deletedHead
	found := false
	err := s.store.View(ctx, func(tx storage.Tx) error {
		var err error
		found, err = getJSON(tx, k.deleted, headKey(v.ID(), lname), &dh)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, k.errDeletedNotFound(name)
	}
	return s.openDeleted(ctx, v, k, lname, &dh)
}

// listDeleted returns up to max soft-deleted objects in name order.
func (s *Service) listDeleted(ctx context.Context, v *Vault, k objectKind, cursor string, max int) ([]*deletedObject, string, error) {
	var dates []deletedHead
	items, next, err := s.listHeads(ctx, v, k, k.deleted, cursor, max, func(tx storage.Tx, sealer *seal.Sealer, lname string, raw []byte) (*object, error) {
		var dh deletedHead
		if err := jsonUnmarshal(raw, &dh); err != nil {
			return nil, err
		}
		dates = append(dates, dh)
		return mustOpenLatest(tx, sealer, v, k, dh.head, lname)
	})
	if err != nil {
		return nil, "", err
	}
	out := make([]*deletedObject, len(items))
	for i, obj := range items {
		out[i] = &deletedObject{object: *obj, DeletedDate: dates[i].DeletedDate, ScheduledPurgeDate: dates[i].ScheduledPurgeDate}
	}
	return out, next, nil
}

// recoverObject brings the soft-deleted object name back with all its
// versions and returns its latest version.
func (s *Service) recoverObject(ctx context.Context, v *Vault, k objectKind, name string) (*object, error) {
	if !validName(name, "") {
		return nil, k.errDeletedNotFound(name)
	}
	lname := lower(name)
	var dh deletedHead
	found := false
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		var err error
		found, err = recoverInTx(tx, k, v.ID(), lname, &dh)
		if found && dh.Managed {
			return k.errManaged(name, "recover")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, k.errDeletedNotFound(name)
	}
	return s.readVersion(ctx, v, k, dh.Name, dh.Latest)
}

// purgeObject removes the soft-deleted object name for good. Vaults with
// purge protection refuse: their deleted objects are purged only when the
// retention period ends.
func (s *Service) purgeObject(ctx context.Context, v *Vault, k objectKind, name string) error {
	if v.PurgeProtection {
		return &Error{Kind: KindForbidden, Code: "Forbidden",
			Message: fmt.Sprintf("Operation \"purge\" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge %s %s after the retention period has passed.", k.name, name)}
	}
	if !validName(name, "") {
		return k.errDeletedNotFound(name)
	}
	var hsm *hsmPurge
	if k.name == keyKind.name {
		var err error
		if hsm, err = s.newHSMPurge(ctx, v.ID()); err != nil {
			return err
		}
	}
	found := false
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		var dh deletedHead
		managed, err := getJSON(tx, k.deleted, headKey(v.ID(), lower(name)), &dh)
		if err != nil {
			return err
		}
		if managed && dh.Managed {
			return k.errManaged(name, "purge")
		}
		if managed {
			if err := hsm.collect(tx, lower(name)); err != nil {
				return err
			}
		}
		found, err = purgeInTx(tx, k, v.ID(), lower(name))
		return err
	})
	if err != nil {
		return err
	}
	if !found {
		return k.errDeletedNotFound(name)
	}
	hsm.destroy()
	return nil
}

// purgeHooks run inside the purge transaction of an object, to remove the
// records a family keeps beside its versions (a key's rotation policy).
var purgeHooks = map[string]func(tx storage.Tx, vaultID, lname string) error{}

// purgeInTx removes a deleted object's entry, schedule entry and versions.
func purgeInTx(tx storage.Tx, k objectKind, vaultID, lname string) (bool, error) {
	var dh deletedHead
	found, err := getJSON(tx, k.deleted, headKey(vaultID, lname), &dh)
	if err != nil || !found {
		return false, err
	}
	if err := tx.Delete(k.deleted, headKey(vaultID, lname)); err != nil {
		return false, err
	}
	if err := tx.Delete(bucketPurgeSchedule, scheduleKey(dh.ScheduledPurgeDate, k.name, vaultID, lname)); err != nil {
		return false, err
	}
	var keys [][]byte
	err = tx.Scan(k.versions, []byte(vaultID+"\x00"+lname+"\x00"), nil, func(key, _ []byte) (bool, error) {
		keys = append(keys, bytes.Clone(key))
		return true, nil
	})
	if err != nil {
		return false, err
	}
	for _, key := range keys {
		if err := tx.Delete(k.versions, key); err != nil {
			return false, err
		}
	}
	if hook := purgeHooks[k.name]; hook != nil {
		if err := hook(tx, vaultID, lname); err != nil {
			return false, err
		}
	}
	return true, nil
}

// backupObject returns the head and the decrypted content of every version of
// the live object name.
func (s *Service) backupObject(ctx context.Context, v *Vault, k objectKind, name string) (head, map[string][]byte, error) {
	return s.backupObjectOf(ctx, v, k, name, false)
}

// backupObjectOf is backupObject; allowManaged lets a certificate back up
// the key and secret it owns.
func (s *Service) backupObjectOf(ctx context.Context, v *Vault, k objectKind, name string, allowManaged bool) (head, map[string][]byte, error) {
	var h head
	if !validName(name, "") {
		return h, nil, k.errNotFound(name)
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return h, nil, err
	}
	lname := lower(name)
	versions := make(map[string][]byte)
	found := false
	err = s.store.View(ctx, func(tx storage.Tx) error {
		var err error
		if found, err = getJSON(tx, k.heads, headKey(v.ID(), lname), &h); err != nil || !found {
			return err
		}
		if h.Managed && !allowManaged {
			return k.errManaged(name, "backup")
		}
		prefix := []byte(v.ID() + "\x00" + lname + "\x00")
		return tx.Scan(k.versions, prefix, nil, func(key, value []byte) (bool, error) {
			version := string(key[len(prefix):])
			content, err := sealer.Open(value, k.aad(v.ID(), lname, version))
			if err != nil {
				return false, fmt.Errorf("open %s %s/%s: %w", k.name, h.Name, version, err)
			}
			versions[version] = content
			return true, nil
		})
	})
	if err != nil {
		return h, nil, err
	}
	if !found {
		return h, nil, k.errNotFound(name)
	}
	return h, versions, nil
}

// restoreObject stores every version of a backed-up object in v under its
// original version ids. It fails with Conflict if the name is in use by a
// live or a soft-deleted object. extra, if set, runs in the same transaction.
func (s *Service) restoreObject(ctx context.Context, v *Vault, k objectKind, h head, versions map[string][]byte, extra func(tx storage.Tx) error) error {
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return err
	}
	lname := lower(h.Name)
	records := make(map[string][]byte, len(versions))
	for version, content := range versions {
		if !versionPattern.MatchString(version) {
			return invalidBackup("it holds an invalid version id")
		}
		if records[version], err = sealer.Seal(content, k.aad(v.ID(), lname, version)); err != nil {
			return err
		}
	}
	return s.store.Update(ctx, func(tx storage.Tx) error {
		for _, bucket := range []string{k.heads, k.deleted} {
			existing, err := tx.Get(bucket, headKey(v.ID(), lname))
			if err != nil {
				return err
			}
			if existing != nil {
				return &Error{Kind: KindConflict, Code: "Conflict",
					Message: fmt.Sprintf("%s %s already exists in this vault (live or soft-deleted). Delete and purge it before restoring.", k.title, h.Name)}
			}
		}
		for version, record := range records {
			if err := tx.Put(k.versions, versionKey(v.ID(), lname, version), record); err != nil {
				return err
			}
		}
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		return putJSON(tx, k.heads, headKey(v.ID(), lname), &h)
	})
}

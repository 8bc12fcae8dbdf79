package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/keyvault/keyvault/internal/keys"
	"github.com/keyvault/keyvault/internal/storage"
)

// bucketKeyPolicies holds rotation policies: vault \x00 key name -> policy (JSON).
const bucketKeyPolicies = "key-policies"

// Lifetime action types of a rotation policy.
const (
	ActionRotate = "Rotate"
	ActionNotify = "Notify"
)

// Limits Azure applies to rotation policies.
const (
	minExpiryTime      = 28 * 24 * time.Hour
	minRotationSpacing = 7 * 24 * time.Hour
	defaultNotifyText  = "P30D"
)

// LifetimeAction is one trigger of a rotation policy. Exactly one of
// TimeAfterCreate and TimeBeforeExpiry is set (ISO 8601 durations).
type LifetimeAction struct {
	TimeAfterCreate  string `json:"timeAfterCreate,omitempty"`
	TimeBeforeExpiry string `json:"timeBeforeExpiry,omitempty"`
	Type             string `json:"type"` // Rotate or Notify
}

// RotationPolicy defines when a key rotates by itself and the expiry that
// new versions get.
type RotationPolicy struct {
	LifetimeActions []LifetimeAction `json:"actions"`
	ExpiryTime      string           `json:"expiryTime,omitempty"`
	Created         int64            `json:"created,omitempty"`
	Updated         int64            `json:"updated,omitempty"`
	// NotifiedVersion is the latest version a Notify action has fired for,
	// so each version is announced once.
	NotifiedVersion string `json:"notified,omitempty"`
}

// defaultRotationPolicy returns the policy of a key that has none stored: a
// notification 30 days before expiry, as Azure reports it.
func defaultRotationPolicy() *RotationPolicy {
	return &RotationPolicy{LifetimeActions: []LifetimeAction{{TimeBeforeExpiry: defaultNotifyText, Type: ActionNotify}}}
}

func policyError(format string, args ...any) *Error {
	return badParameter("Invalid rotation policy: "+format, args...)
}

// normalize validates p as Azure does and canonicalizes action types.
func (p *RotationPolicy) normalize(now time.Time) error {
	var expiry *isoDuration
	if p.ExpiryTime != "" {
		d, err := parseISODuration(p.ExpiryTime)
		if err != nil {
			return policyError("expiryTime %v.", err)
		}
		if !d.atLeast(minExpiryTime, now) {
			return policyError("expiryTime %s is shorter than the minimum of 28 days.", p.ExpiryTime)
		}
		expiry = &d
	}
	if len(p.LifetimeActions) > 2 {
		return policyError("at most two lifetime actions are allowed, one Rotate and one Notify.")
	}
	seen := map[string]bool{}
	for i := range p.LifetimeActions {
		a := &p.LifetimeActions[i]
		switch {
		case strings.EqualFold(a.Type, ActionRotate):
			a.Type = ActionRotate
		case strings.EqualFold(a.Type, ActionNotify):
			a.Type = ActionNotify
		default:
			return policyError("action type '%s' is not Rotate or Notify.", a.Type)
		}
		if seen[a.Type] {
			return policyError("more than one %s action.", a.Type)
		}
		seen[a.Type] = true
		if (a.TimeAfterCreate == "") == (a.TimeBeforeExpiry == "") {
			return policyError("each trigger needs exactly one of timeAfterCreate and timeBeforeExpiry.")
		}
		if err := checkTrigger(a, expiry, now); err != nil {
			return err
		}
	}
	return nil
}

func checkTrigger(a *LifetimeAction, expiry *isoDuration, now time.Time) error {
	if a.TimeAfterCreate != "" {
		if a.Type == ActionNotify {
			return policyError("a Notify action takes timeBeforeExpiry, not timeAfterCreate.")
		}
		d, err := parseISODuration(a.TimeAfterCreate)
		if err != nil {
			return policyError("timeAfterCreate %v.", err)
		}
		if !d.atLeast(minRotationSpacing, now) {
			return policyError("timeAfterCreate %s is shorter than the minimum of 7 days.", a.TimeAfterCreate)
		}
		if expiry != nil && expiry.addTo(now).Sub(d.addTo(now)) < minRotationSpacing {
			return policyError("rotation at %s after creation is less than 7 days before the expiry of %s.", a.TimeAfterCreate, expiry.text)
		}
		return nil
	}
	d, err := parseISODuration(a.TimeBeforeExpiry)
	if err != nil {
		return policyError("timeBeforeExpiry %v.", err)
	}
	if expiry == nil {
		return policyError("timeBeforeExpiry needs attributes.expiryTime in the policy.")
	}
	if !d.atLeast(minRotationSpacing, now) {
		return policyError("timeBeforeExpiry %s is shorter than the minimum of 7 days.", a.TimeBeforeExpiry)
	}
	if d.subtractFrom(expiry.addTo(now)).Sub(now) < minRotationSpacing {
		return policyError("rotation %s before an expiry of %s is less than 7 days after creation.", a.TimeBeforeExpiry, expiry.text)
	}
	return nil
}

func init() {
	purgeHooks[keyKind.name] = func(tx storage.Tx, vaultID, lname string) error {
		return tx.Delete(bucketKeyPolicies, headKey(vaultID, lname))
	}
}

// GetKeyRotationPolicy returns the rotation policy of the key name, or the
// default policy when none was set.
func (s *Service) GetKeyRotationPolicy(ctx context.Context, v *Vault, name string) (*RotationPolicy, error) {
	if _, err := s.readVersion(ctx, v, keyKind, name, ""); err != nil {
		return nil, err
	}
	var p RotationPolicy
	found := false
	err := s.store.View(ctx, func(tx storage.Tx) error {
		var err error
		found, err = getJSON(tx, bucketKeyPolicies, headKey(v.ID(), lower(name)), &p)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return defaultRotationPolicy(), nil
	}
	return &p, nil
}

// UpdateKeyRotationPolicy validates and stores p as the rotation policy of
// the key name.
func (s *Service) UpdateKeyRotationPolicy(ctx context.Context, v *Vault, name string, p RotationPolicy) (*RotationPolicy, error) {
	now := s.Now()
	if err := p.normalize(now); err != nil {
		return nil, err
	}
	if _, err := s.readVersion(ctx, v, keyKind, name, ""); err != nil {
		return nil, err
	}
	key := headKey(v.ID(), lower(name))
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		var old RotationPolicy
		found, err := getJSON(tx, bucketKeyPolicies, key, &old)
		if err != nil {
			return err
		}
		p.Created, p.NotifiedVersion = now.Unix(), ""
		if found {
			p.Created, p.NotifiedVersion = old.Created, old.NotifiedVersion
		}
		p.Updated = now.Unix()
		return putJSON(tx, bucketKeyPolicies, key, &p)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// RotateKey makes a new version of the key name with new material of the
// same type, size or curve, the same key_ops and tags, and an expiry of now
// plus the policy's expiryTime when the policy sets one.
func (s *Service) RotateKey(ctx context.Context, v *Vault, name string) (*Key, error) {
	obj, err := s.readVersion(ctx, v, keyKind, name, "")
	if err != nil {
		return nil, err
	}
	d, err := decodeKeyData(obj)
	if err != nil {
		return nil, err
	}
	if d.Managed {
		return nil, &Error{Kind: KindForbidden, Code: "Forbidden", Inner: "ObjectIsManaged",
			Message: fmt.Sprintf("Key %s backs a certificate and cannot be rotated; renew the certificate instead.", name)}
	}
	old, err := s.loadMaterial(&d.JWK, d.HSM)
	if err != nil {
		return nil, err
	}
	version, hsmRef := newVersion(), ""
	var material *keys.Key
	if old.InHSM() {
		material, hsmRef, err = s.HSM.Generate(old.Kty(), old.Bits(), old.Curve(), hsmLabel(v, obj.Name, version))
	} else {
		material, err = keys.Generate(old.Kty(), old.Bits(), 0, old.Curve())
	}
	if err != nil {
		return nil, keyError(err)
	}
	policy, err := s.GetKeyRotationPolicy(ctx, v, name)
	if err != nil {
		return nil, err
	}
	var exp *int64
	if policy.ExpiryTime != "" {
		dur, err := parseISODuration(policy.ExpiryTime)
		if err != nil {
			return nil, err
		}
		e := dur.addTo(s.Now()).Unix()
		exp = &e
	}
	enabled := true
	return s.storeKeyVersion(ctx, v, obj.Name, version, material, hsmRef, d.KeyOps, &enabled, nil, exp, d.Tags)
}

// RotateDue runs every rotation policy whose time has come: it rotates keys
// whose Rotate trigger has passed and logs each Notify trigger once per
// version. It returns how many keys it rotated.
func (s *Service) RotateDue(ctx context.Context, log *slog.Logger) (int, error) {
	type entry struct {
		vaultID, lname string
		policy         RotationPolicy
	}
	var entries []entry
	err := s.store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(bucketKeyPolicies, nil, nil, func(key, value []byte) (bool, error) {
			vaultID, lname, _ := bytes.Cut(key, []byte{0})
			e := entry{vaultID: string(vaultID), lname: string(lname)}
			if err := json.Unmarshal(value, &e.policy); err != nil {
				return false, err
			}
			entries = append(entries, e)
			return true, nil
		})
	})
	if err != nil {
		return 0, err
	}
	rotated := 0
	var failed error
	for _, e := range entries {
		v, err := s.GetVault(ctx, e.vaultID)
		if err != nil {
			continue // the vault is gone; its policies go with it
		}
		did, err := s.runPolicy(ctx, v, e.lname, &e.policy, log)
		if err != nil {
			// One key that cannot rotate must not hold up the others.
			failed = errors.Join(failed, fmt.Errorf("rotation policy of key %s in vault %s: %w", e.lname, v.Name, err))
			continue
		}
		if did {
			rotated++
		}
	}
	return rotated, failed
}

func (s *Service) runPolicy(ctx context.Context, v *Vault, lname string, p *RotationPolicy, log *slog.Logger) (bool, error) {
	obj, err := s.readVersion(ctx, v, keyKind, lname, "")
	if IsKind(err, KindNotFound) {
		return false, nil // soft-deleted keys do not rotate
	}
	if err != nil {
		return false, err
	}
	d, err := decodeKeyData(obj)
	if err != nil {
		return false, err
	}
	now := s.Now()
	created := time.Unix(d.Created, 0)
	for _, a := range p.LifetimeActions {
		due, err := actionDue(a, created, d.Expires, now)
		if err != nil || !due {
			continue
		}
		switch a.Type {
		case ActionRotate:
			k, err := s.RotateKey(ctx, v, obj.Name)
			if err != nil {
				return false, err
			}
			log.Info("rotated key by its rotation policy", "vault", v.Name, "key", k.Name, "oldVersion", obj.Version, "newVersion", k.Version)
			s.event("KeyRotateIfDue", v.Name, "keys/"+k.Name+"/"+k.Version, "rotated by the key's rotation policy")
			return true, nil
		case ActionNotify:
			if p.NotifiedVersion == obj.Version {
				continue
			}
			// NOTE: nothing is sent anywhere: the notification is this log
			// line (and an audit record once the audit log exists).
			log.Info("key nears expiry (Notify action of its rotation policy)", "vault", v.Name, "key", obj.Name, "version", obj.Version, "expires", *d.Expires)
			s.event("KeyNearExpiryEventGridNotification", v.Name, "keys/"+obj.Name+"/"+obj.Version, "Notify action of the rotation policy; nothing is sent")
			if err := s.markNotified(ctx, v, lname, obj.Version); err != nil {
				return false, err
			}
		}
	}
	return false, nil
}

func actionDue(a LifetimeAction, created time.Time, exp *int64, now time.Time) (bool, error) {
	if a.TimeAfterCreate != "" {
		d, err := parseISODuration(a.TimeAfterCreate)
		if err != nil {
			return false, err
		}
		return !now.Before(d.addTo(created)), nil
	}
	if exp == nil {
		return false, nil
	}
	d, err := parseISODuration(a.TimeBeforeExpiry)
	if err != nil {
		return false, err
	}
	return !now.Before(d.subtractFrom(time.Unix(*exp, 0))), nil
}

func (s *Service) markNotified(ctx context.Context, v *Vault, lname, version string) error {
	key := headKey(v.ID(), lname)
	return s.store.Update(ctx, func(tx storage.Tx) error {
		var p RotationPolicy
		found, err := getJSON(tx, bucketKeyPolicies, key, &p)
		if err != nil || !found {
			return err
		}
		p.NotifiedVersion = version
		return putJSON(tx, bucketKeyPolicies, key, &p)
	})
}

// BackupKey returns a blob with every version of the key name and its
// rotation policy, sealed under the server's backup key.
func (s *Service) BackupKey(ctx context.Context, v *Vault, name string) ([]byte, error) {
	h, versions, err := s.backupObject(ctx, v, keyKind, name)
	if err != nil {
		return nil, err
	}
	b := &backupPayload{Kind: keyKind.name, Name: h.Name, Latest: h.Latest, Versions: versions}
	err = s.store.View(ctx, func(tx storage.Tx) error {
		policy, err := tx.Get(bucketKeyPolicies, headKey(v.ID(), lower(name)))
		if policy != nil {
			b.Extra = map[string][]byte{"rotationPolicy": policy}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.keepBackedUpHSMKeys(ctx, h.Name, versions); err != nil {
		return nil, err
	}
	return s.sealBackup(ctx, b)
}

// RestoreKey restores a key with all its versions and its rotation policy
// from a blob made by BackupKey.
func (s *Service) RestoreKey(ctx context.Context, v *Vault, blob []byte) (*Key, error) {
	b, err := s.openBackup(ctx, blob, keyKind)
	if err != nil {
		return nil, err
	}
	latest, err := decodeKey(&object{Name: b.Name, Version: b.Latest, Content: b.Versions[b.Latest]})
	if err != nil {
		return nil, invalidBackup("its latest version is unreadable")
	}
	extra := func(tx storage.Tx) error {
		if policy := b.Extra["rotationPolicy"]; policy != nil {
			return tx.Put(bucketKeyPolicies, headKey(v.ID(), lower(b.Name)), policy)
		}
		return nil
	}
	if err := s.restoreObject(ctx, v, keyKind, head{Name: b.Name, Latest: b.Latest}, b.Versions, extra); err != nil {
		return nil, err
	}
	return latest, nil
}

// RunJobs runs the time-driven jobs (purge of expired soft-deleted objects,
// policy-driven key rotation) every interval until ctx ends.
func (s *Service) RunJobs(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.RunDueJobs(ctx, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunDueJobs runs each time-driven job once, logging what it did and every
// failure.
func (s *Service) RunDueJobs(ctx context.Context, log *slog.Logger) {
	s.jobs.Lock()
	defer s.jobs.Unlock()
	if n, err := s.PurgeDue(ctx); err != nil && ctx.Err() == nil {
		log.Error("purge of soft-deleted objects failed", "error", err)
	} else if n > 0 {
		log.Info("purged soft-deleted objects whose retention ended", "count", n)
	}
	if _, err := s.RotateDue(ctx, log); err != nil && ctx.Err() == nil {
		log.Error("policy-driven key rotation failed", "error", err)
	}
	if _, err := s.RenewDue(ctx, log); err != nil && ctx.Err() == nil {
		log.Error("certificate renewal failed", "error", err)
	}
}

package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyvault/keyvault/internal/certs"
	"github.com/keyvault/keyvault/internal/keys"
	"github.com/keyvault/keyvault/internal/storage"
)

// GetCertificate returns a version of the certificate name (the latest when
// version is empty).
func (s *Service) GetCertificate(ctx context.Context, v *Vault, name, version string) (*Certificate, error) {
	obj, err := s.readVersion(ctx, v, certKind, name, version)
	if err != nil {
		return nil, err
	}
	c, err := decodeCertificate(obj)
	if err != nil {
		return nil, err
	}
	return s.withCurrentPolicy(ctx, v, c)
}

// withCurrentPolicy replaces the policy that a version was issued under with
// the certificate's current policy, which a certificate bundle shows: a
// policy update applies to every version, not only to later ones.
func (s *Service) withCurrentPolicy(ctx context.Context, v *Vault, c *Certificate) (*Certificate, error) {
	p, err := s.storedPolicy(ctx, v, lower(c.Name))
	if err != nil {
		return nil, err
	}
	if p != nil {
		c.Policy = p
	}
	return c, nil
}

// CertificateUpdate lists the changes UpdateCertificate applies.
type CertificateUpdate struct {
	Enabled *bool
	SetTags bool
	Tags    map[string]string
}

// UpdateCertificate changes the enabled attribute or tags of a certificate
// version, and the same of its key and secret.
func (s *Service) UpdateCertificate(ctx context.Context, v *Vault, name, version string, u CertificateUpdate) (*Certificate, error) {
	if u.SetTags {
		if err := validateTags(u.Tags); err != nil {
			return nil, err
		}
	}
	if !validName(name, version) {
		return nil, certKind.errNotFound(name)
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	now := s.Now().Unix()
	var obj *object
	// The certificate and its managed key and secret of the same version
	// change in one transaction, so that they never disagree.
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		var err error
		obj, err = updateVersionInTx(tx, sealer, v, certKind, name, version, false, changeContent(func(d *certData) {
			u.apply(&d.Enabled, &d.Tags, &d.Updated, now)
		}))
		if err != nil || obj == nil {
			return err
		}
		if _, err := updateVersionInTx(tx, sealer, v, keyKind, obj.Name, obj.Version, true, changeContent(func(d *keyData) {
			u.apply(&d.Enabled, &d.Tags, &d.Updated, now)
		})); err != nil {
			return err
		}
		_, err = updateVersionInTx(tx, sealer, v, secretKind, obj.Name, obj.Version, true, changeContent(func(d *secretData) {
			u.apply(&d.Enabled, &d.Tags, &d.Updated, now)
		}))
		return err
	})
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, certKind.errNotFound(name)
	}
	c, err := decodeCertificate(obj)
	if err != nil {
		return nil, err
	}
	return s.withCurrentPolicy(ctx, v, c)
}

// apply sets the attributes u changes, and the update time.
func (u CertificateUpdate) apply(enabled *bool, tags *map[string]string, updated *int64, now int64) {
	if u.Enabled != nil {
		*enabled = *u.Enabled
	}
	if u.SetTags {
		*tags = u.Tags
	}
	*updated = now
}

// changeContent returns a change function for updateVersionInTx that
// decodes a version's content as a T, lets apply change it, and encodes it.
func changeContent[T any](apply func(*T)) func(old []byte) ([]byte, error) {
	return func(old []byte) ([]byte, error) {
		var d T
		if err := json.Unmarshal(old, &d); err != nil {
			return nil, err
		}
		apply(&d)
		return json.Marshal(&d)
	}
}

func decodeCertificates(objs []*object) ([]*Certificate, error) {
	out := make([]*Certificate, len(objs))
	for i, obj := range objs {
		var err error
		if out[i], err = decodeCertificate(obj); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ListCertificates returns up to max certificates at their latest versions.
func (s *Service) ListCertificates(ctx context.Context, v *Vault, cursor string, max int) ([]*Certificate, string, error) {
	objs, next, err := s.listLatest(ctx, v, certKind, cursor, max)
	if err != nil {
		return nil, "", err
	}
	out, err := decodeCertificates(objs)
	return out, next, err
}

// ListCertificateVersions returns up to max versions of the certificate name.
func (s *Service) ListCertificateVersions(ctx context.Context, v *Vault, name, cursor string, max int) ([]*Certificate, string, error) {
	objs, next, err := s.listVersions(ctx, v, certKind, name, cursor, max)
	if err != nil {
		return nil, "", err
	}
	out, err := decodeCertificates(objs)
	return out, next, err
}

// DeleteCertificate soft-deletes the certificate name with its key and
// secret, in one transaction.
func (s *Service) DeleteCertificate(ctx context.Context, v *Vault, name string) (*DeletedCertificate, error) {
	if !validName(name, "") {
		return nil, certKind.errNotFound(name)
	}
	lname, now := lower(name), s.Now()
	dh := deletedHead{DeletedDate: now.Unix(), ScheduledPurgeDate: now.Add(time.Duration(v.RetentionDays) * 24 * time.Hour).Unix()}
	found := false
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		var err error
		if found, err = deleteInTx(tx, certKind, v.ID(), lname, &dh); err != nil || !found {
			return err
		}
		for _, k := range []objectKind{keyKind, secretKind} {
			other := dh
			if _, err := deleteInTx(tx, k, v.ID(), lname, &other); err != nil {
				return err
			}
		}
		return tx.Delete(bucketCertOps, headKey(v.ID(), lname))
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, certKind.errNotFound(name)
	}
	s.keyMaterial.forget(v.ID(), lname)
	d, err := s.openDeleted(ctx, v, certKind, lname, &dh)
	if err != nil {
		return nil, err
	}
	return s.decodeDeletedWithPolicy(ctx, v, d)
}

func decodeDeletedCertificate(d *deletedObject) (*DeletedCertificate, error) {
	c, err := decodeCertificate(&d.object)
	if err != nil {
		return nil, err
	}
	return &DeletedCertificate{Certificate: *c, DeletedDate: d.DeletedDate, ScheduledPurgeDate: d.ScheduledPurgeDate}, nil
}

// GetDeletedCertificate returns the soft-deleted certificate name.
func (s *Service) GetDeletedCertificate(ctx context.Context, v *Vault, name string) (*DeletedCertificate, error) {
	d, err := s.getDeleted(ctx, v, certKind, name)
	if err != nil {
		return nil, err
	}
	return s.decodeDeletedWithPolicy(ctx, v, d)
}

// decodeDeletedWithPolicy decodes a deleted certificate with its current
// policy, which stays stored until the certificate is purged.
func (s *Service) decodeDeletedWithPolicy(ctx context.Context, v *Vault, d *deletedObject) (*DeletedCertificate, error) {
	dc, err := decodeDeletedCertificate(d)
	if err != nil {
		return nil, err
	}
	if _, err := s.withCurrentPolicy(ctx, v, &dc.Certificate); err != nil {
		return nil, err
	}
	return dc, nil
}

// ListDeletedCertificates returns up to max soft-deleted certificates.
func (s *Service) ListDeletedCertificates(ctx context.Context, v *Vault, cursor string, max int) ([]*DeletedCertificate, string, error) {
	objs, next, err := s.listDeleted(ctx, v, certKind, cursor, max)
	if err != nil {
		return nil, "", err
	}
	out := make([]*DeletedCertificate, len(objs))
	for i, d := range objs {
		if out[i], err = decodeDeletedCertificate(d); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// RecoverDeletedCertificate brings back the certificate name with its key
// and secret.
func (s *Service) RecoverDeletedCertificate(ctx context.Context, v *Vault, name string) (*Certificate, error) {
	if !validName(name, "") {
		return nil, certKind.errDeletedNotFound(name)
	}
	lname := lower(name)
	found := false
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		var dh deletedHead
		var err error
		if found, err = recoverInTx(tx, certKind, v.ID(), lname, &dh); err != nil || !found {
			return err
		}
		for _, k := range []objectKind{keyKind, secretKind} {
			var other deletedHead
			if _, err := recoverInTx(tx, k, v.ID(), lname, &other); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, certKind.errDeletedNotFound(name)
	}
	return s.GetCertificate(ctx, v, name, "")
}

// PurgeDeletedCertificate removes the soft-deleted certificate name, its key,
// secret and policy for good.
func (s *Service) PurgeDeletedCertificate(ctx context.Context, v *Vault, name string) error {
	if v.PurgeProtection {
		return &Error{Kind: KindForbidden, Code: "Forbidden",
			Message: fmt.Sprintf("Operation \"purge\" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge certificate %s after the retention period has passed.", name)}
	}
	if !validName(name, "") {
		return certKind.errDeletedNotFound(name)
	}
	lname := lower(name)
	found := false
	err := s.store.Update(ctx, func(tx storage.Tx) error {
		var err error
		if found, err = purgeInTx(tx, certKind, v.ID(), lname); err != nil || !found {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !found {
		return certKind.errDeletedNotFound(name)
	}
	s.keyMaterial.forget(v.ID(), lname)
	return nil
}

func init() {
	// Purging a certificate, by request or when its retention ends, takes
	// its key, secret, policy and request records with it.
	purgeHooks[certKind.name] = func(tx storage.Tx, vaultID, lname string) error {
		for _, k := range []objectKind{keyKind, secretKind} {
			if _, err := purgeInTx(tx, k, vaultID, lname); err != nil {
				return err
			}
		}
		for _, b := range []string{bucketCertPolicies, bucketCertOps, bucketCertNotified} {
			if err := tx.Delete(b, headKey(vaultID, lname)); err != nil {
				return err
			}
		}
		return nil
	}
}

// GetCertificatePolicy returns the current policy of the certificate name.
func (s *Service) GetCertificatePolicy(ctx context.Context, v *Vault, name string) (*certs.Policy, error) {
	if !validName(name, "") {
		return nil, certKind.errNotFound(name)
	}
	p, err := s.storedPolicy(ctx, v, lower(name))
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, certKind.errNotFound(name)
	}
	return p, nil
}

// UpdateCertificatePolicy merges the given policy members into the current
// policy of the certificate name, which new versions follow. A member left
// out of in, at any depth, keeps its current value, as a PATCH does.
func (s *Service) UpdateCertificatePolicy(ctx context.Context, v *Vault, name string, in *certs.Policy) (*certs.Policy, error) {
	cur, err := s.GetCertificatePolicy(ctx, v, name)
	if err != nil {
		return nil, err
	}
	merged := mergePolicy(cur, in)
	full, err := s.certPolicyFor(v, merged)
	if err != nil {
		return nil, err
	}
	now := s.Now().Unix()
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		return putPolicy(tx, v, lower(name), full, now)
	})
	return full, err
}

// mergePolicy returns a copy of cur with the members that in sets.
func mergePolicy(cur, in *certs.Policy) *certs.Policy {
	merged := *cur
	if n := in.KeyProps; n != nil {
		kp := certs.KeyProps{}
		if cur.KeyProps != nil {
			kp = *cur.KeyProps
		}
		if n.Kty != "" && keys.Family(n.Kty) != keys.Family(kp.Kty) {
			// Another key type takes its own size or curve, or the default.
			kp.KeySize, kp.Curve = 0, ""
		}
		if n.Kty != "" {
			kp.Kty = n.Kty
		}
		if n.KeySize != 0 {
			kp.KeySize = n.KeySize
		}
		if n.Curve != "" {
			kp.Curve = n.Curve
		}
		if n.Exportable != nil {
			kp.Exportable = n.Exportable
		}
		if n.ReuseKey != nil {
			kp.ReuseKey = n.ReuseKey
		}
		merged.KeyProps = &kp
	}
	if in.SecretProps != nil && in.SecretProps.ContentType != "" {
		merged.SecretProps = &certs.SecretProps{ContentType: in.SecretProps.ContentType}
	}
	if n := in.X509Props; n != nil {
		xp := certs.X509Props{}
		if cur.X509Props != nil {
			xp = *cur.X509Props
		}
		if n.Subject != "" {
			xp.Subject = n.Subject
		}
		if n.EKUs != nil {
			xp.EKUs = n.EKUs
		}
		if n.SANs != nil {
			xp.SANs = n.SANs
		}
		if n.KeyUsage != nil {
			xp.KeyUsage = n.KeyUsage
		}
		if n.ValidityMonths != 0 {
			xp.ValidityMonths = n.ValidityMonths
		}
		merged.X509Props = &xp
	}
	if in.LifetimeActions != nil {
		merged.LifetimeActions = in.LifetimeActions
	}
	if n := in.Issuer; n != nil {
		ip := certs.IssuerParams{}
		if cur.Issuer != nil {
			ip = *cur.Issuer
		}
		if n.Name != "" {
			ip.Name = n.Name
		}
		if n.CertificateType != "" {
			ip.CertificateType = n.CertificateType
		}
		if n.CertTransparency != nil {
			ip.CertTransparency = n.CertTransparency
		}
		merged.Issuer = &ip
	}
	if in.Attributes != nil && in.Attributes.Enabled != nil {
		merged.Attributes = &certs.PolicyAttrs{Enabled: in.Attributes.Enabled}
	}
	return &merged
}

// BackupCertificate returns a blob with every version of the certificate
// name, its key and secret versions, and its policy.
func (s *Service) BackupCertificate(ctx context.Context, v *Vault, name string) ([]byte, error) {
	h, versions, err := s.backupObject(ctx, v, certKind, name)
	if err != nil {
		return nil, err
	}
	b := &backupPayload{Kind: certKind.name, Name: h.Name, Latest: h.Latest, Versions: versions, Extra: map[string][]byte{}}
	for _, k := range []objectKind{keyKind, secretKind} {
		kh, kv, err := s.backupObjectOf(ctx, v, k, name, true)
		if err != nil {
			return nil, err
		}
		raw, err := json.Marshal(map[string]any{"latest": kh.Latest, "versions": kv})
		if err != nil {
			return nil, err
		}
		b.Extra[k.name] = raw
	}
	err = s.store.View(ctx, func(tx storage.Tx) error {
		policy, err := tx.Get(bucketCertPolicies, headKey(v.ID(), lower(name)))
		if policy != nil {
			b.Extra["policy"] = policy
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.sealBackup(ctx, b)
}

// RestoreCertificate restores a certificate with its key, secret and policy
// from a blob made by BackupCertificate.
func (s *Service) RestoreCertificate(ctx context.Context, v *Vault, blob []byte) (*Certificate, error) {
	b, err := s.openBackup(ctx, blob, certKind)
	if err != nil {
		return nil, err
	}
	latest, err := decodeCertificate(&object{Name: b.Name, Version: b.Latest, Content: b.Versions[b.Latest]})
	if err != nil {
		return nil, invalidBackup("its latest version is unreadable")
	}
	type family struct {
		Latest   string            `json:"latest"`
		Versions map[string][]byte `json:"versions"`
	}
	families := map[string]family{}
	for _, k := range []objectKind{keyKind, secretKind} {
		var f family
		if err := json.Unmarshal(b.Extra[k.name], &f); err != nil || f.Versions[f.Latest] == nil {
			return nil, invalidBackup("it lacks the certificate's " + k.name)
		}
		families[k.name] = f
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	lname := lower(b.Name)
	type write struct {
		kind    objectKind
		h       head
		records map[string][]byte
	}
	writes := []write{{kind: certKind, h: head{Name: b.Name, Latest: b.Latest}, records: map[string][]byte{}}}
	for _, k := range []objectKind{keyKind, secretKind} {
		f := families[k.name]
		writes = append(writes, write{kind: k, h: head{Name: b.Name, Latest: f.Latest, Managed: true}, records: map[string][]byte{}})
	}
	sources := map[string]map[string][]byte{certKind.name: b.Versions, keyKind.name: families[keyKind.name].Versions, secretKind.name: families[secretKind.name].Versions}
	for _, w := range writes {
		for version, content := range sources[w.kind.name] {
			if !versionPattern.MatchString(version) {
				return nil, invalidBackup("it holds an invalid version id")
			}
			if w.records[version], err = sealer.Seal(content, w.kind.aad(v.ID(), lname, version)); err != nil {
				return nil, err
			}
		}
	}
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		for _, k := range []objectKind{certKind, keyKind, secretKind} {
			for _, bucket := range []string{k.heads, k.deleted} {
				existing, err := tx.Get(bucket, headKey(v.ID(), lname))
				if err != nil {
					return err
				}
				if existing != nil {
					return &Error{Kind: KindConflict, Code: "Conflict",
						Message: fmt.Sprintf("The name %s is in use in this vault by a %s (live or soft-deleted). Delete and purge it before restoring.", b.Name, k.name)}
				}
			}
		}
		for _, w := range writes {
			for version, record := range w.records {
				if err := tx.Put(w.kind.versions, versionKey(v.ID(), lname, version), record); err != nil {
					return err
				}
			}
			if err := putJSON(tx, w.kind.heads, headKey(v.ID(), lname), &w.h); err != nil {
				return err
			}
		}
		if policy := b.Extra["policy"]; policy != nil {
			return tx.Put(bucketCertPolicies, headKey(v.ID(), lname), policy)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.withCurrentPolicy(ctx, v, latest)
}

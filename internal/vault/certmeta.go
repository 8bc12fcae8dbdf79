package vault

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/keyvault/keyvault/internal/certs"
	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
)

// Contact is a certificate contact: someone to tell about expiring
// certificates.
type Contact struct {
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
}

func contactsKey(v *Vault) []byte { return []byte(v.ID() + "\x00") }

// GetCertificateContacts returns the vault's certificate contacts.
func (s *Service) GetCertificateContacts(ctx context.Context, v *Vault) ([]Contact, error) {
	var list []Contact
	found := false
	err := s.store.View(ctx, func(tx storage.Tx) error {
		var err error
		found, err = getJSON(tx, bucketCertContacts, contactsKey(v), &list)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &Error{Kind: KindNotFound, Code: "ContactsNotFound", Message: "No certificate contacts are set for this vault."}
	}
	return list, nil
}

// SetCertificateContacts replaces the vault's certificate contacts.
func (s *Service) SetCertificateContacts(ctx context.Context, v *Vault, list []Contact) ([]Contact, error) {
	if len(list) == 0 {
		return nil, badParameter("contacts must list at least one contact.")
	}
	for _, c := range list {
		if c.Email == "" || !strings.Contains(c.Email, "@") {
			return nil, badParameter("Each contact needs a valid email address; got '%s'.", c.Email)
		}
	}
	err := s.store.Update(ctx, func(tx storage.Tx) error { return putJSON(tx, bucketCertContacts, contactsKey(v), list) })
	return list, err
}

// DeleteCertificateContacts removes the vault's certificate contacts and
// returns them.
func (s *Service) DeleteCertificateContacts(ctx context.Context, v *Vault) ([]Contact, error) {
	list, err := s.GetCertificateContacts(ctx, v)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx storage.Tx) error { return tx.Delete(bucketCertContacts, contactsKey(v)) })
	return list, err
}

// Issuer is a certificate issuer: a provider and the account used with it.
// The account password is sealed at rest like a secret value.
type Issuer struct {
	Name      string          `json:"name"`
	Provider  string          `json:"provider"`
	AccountID string          `json:"accountId,omitempty"`
	Password  string          `json:"pwd,omitempty"`
	OrgID     string          `json:"orgId,omitempty"`
	Admins    []IssuerAdmin   `json:"admins,omitempty"`
	Enabled   bool            `json:"enabled"`
	Created   int64           `json:"created"`
	Updated   int64           `json:"updated"`
	Extra     json.RawMessage `json:"-"`
}

// IssuerAdmin is an administrator of an issuer's organization.
type IssuerAdmin struct {
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Email     string `json:"email,omitempty"`
	Phone     string `json:"phone,omitempty"`
}

func issuerAAD(v *Vault, lname string) []byte { return seal.AAD("certificate-issuer", v.ID(), lname) }

func issuerNotFound(name string) *Error {
	return &Error{Kind: KindNotFound, Code: "CertificateIssuerNotFound", Message: fmt.Sprintf("Issuer not found: %s", name)}
}

// SetCertificateIssuer creates or replaces the issuer name. With merge set,
// fields left empty in in keep their stored values (an update). enabled sets
// the enabled attribute, and nil means true for a new issuer or, with merge,
// the stored value. in.Enabled is ignored.
func (s *Service) SetCertificateIssuer(ctx context.Context, v *Vault, name string, in Issuer, enabled *bool, merge bool) (*Issuer, error) {
	if err := ValidateObjectName(name); err != nil {
		return nil, err
	}
	if strings.EqualFold(name, certs.IssuerSelf) || strings.EqualFold(name, certs.IssuerUnknown) {
		return nil, badParameter("The issuer names Self and Unknown are reserved.")
	}
	if !merge && in.Provider == "" {
		return nil, badParameter("An issuer needs a provider.")
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	lname, now := lower(name), s.Now().Unix()
	var out Issuer
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		old, err := loadIssuerTx(tx, sealer, v, lname)
		if err != nil {
			return err
		}
		if merge && old == nil {
			return issuerNotFound(name)
		}
		out = in
		out.Name, out.Created, out.Updated, out.Enabled = name, now, now, true
		if old != nil {
			out.Name, out.Created = old.Name, old.Created
			if merge {
				mergeIssuer(&out, old)
				out.Enabled = old.Enabled
			}
		}
		if enabled != nil {
			out.Enabled = *enabled
		}
		raw, err := json.Marshal(&out)
		if err != nil {
			return err
		}
		record, err := sealer.Seal(raw, issuerAAD(v, lname))
		if err != nil {
			return err
		}
		return tx.Put(bucketCertIssuers, headKey(v.ID(), lname), record)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

func mergeIssuer(out, old *Issuer) {
	if out.Provider == "" {
		out.Provider = old.Provider
	}
	if out.AccountID == "" {
		out.AccountID = old.AccountID
	}
	if out.Password == "" {
		out.Password = old.Password
	}
	if out.OrgID == "" {
		out.OrgID = old.OrgID
	}
	if out.Admins == nil {
		out.Admins = old.Admins
	}
}

func loadIssuerTx(tx storage.Tx, sealer *seal.Sealer, v *Vault, lname string) (*Issuer, error) {
	record, err := tx.Get(bucketCertIssuers, headKey(v.ID(), lname))
	if err != nil || record == nil {
		return nil, err
	}
	raw, err := sealer.Open(record, issuerAAD(v, lname))
	if err != nil {
		return nil, fmt.Errorf("open issuer %s: %w", lname, err)
	}
	var is Issuer
	return &is, json.Unmarshal(raw, &is)
}

// GetCertificateIssuer returns the issuer name.
func (s *Service) GetCertificateIssuer(ctx context.Context, v *Vault, name string) (*Issuer, error) {
	if ValidateObjectName(name) != nil {
		return nil, issuerNotFound(name)
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	var is *Issuer
	err = s.store.View(ctx, func(tx storage.Tx) error {
		is, err = loadIssuerTx(tx, sealer, v, lower(name))
		return err
	})
	if err != nil {
		return nil, err
	}
	if is == nil {
		return nil, issuerNotFound(name)
	}
	return is, nil
}

// ListCertificateIssuers returns every issuer of the vault.
func (s *Service) ListCertificateIssuers(ctx context.Context, v *Vault) ([]*Issuer, error) {
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	var out []*Issuer
	prefix := []byte(v.ID() + "\x00")
	err = s.store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(bucketCertIssuers, prefix, nil, func(key, _ []byte) (bool, error) {
			is, err := loadIssuerTx(tx, sealer, v, string(key[len(prefix):]))
			if err != nil {
				return false, err
			}
			out = append(out, is)
			return true, nil
		})
	})
	return out, err
}

// DeleteCertificateIssuer removes the issuer name and returns it.
func (s *Service) DeleteCertificateIssuer(ctx context.Context, v *Vault, name string) (*Issuer, error) {
	is, err := s.GetCertificateIssuer(ctx, v, name)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx storage.Tx) error { return tx.Delete(bucketCertIssuers, headKey(v.ID(), lower(name))) })
	return is, err
}

// RenewDue runs the lifetime actions of every certificate whose trigger has
// passed: AutoRenew issues a new version (or, for issuers other than Self, a
// new request to merge), EmailContacts is logged once per version. It
// returns how many certificates it renewed.
func (s *Service) RenewDue(ctx context.Context, log *slog.Logger) (int, error) {
	type entry struct{ vaultID, lname string }
	var entries []entry
	err := s.store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(certKind.heads, nil, nil, func(key, _ []byte) (bool, error) {
			vaultID, lname, _ := strings.Cut(string(key), "\x00")
			entries = append(entries, entry{vaultID, lname})
			return true, nil
		})
	})
	if err != nil {
		return 0, err
	}
	renewed := 0
	var failed error
	for _, e := range entries {
		v, err := s.GetVault(ctx, e.vaultID)
		if err != nil {
			continue
		}
		did, err := s.renewIfDue(ctx, v, e.lname, log)
		if err != nil {
			failed = fmt.Errorf("renewal of certificate %s in vault %s: %w", e.lname, v.Name, err)
			log.Error("certificate renewal failed", "vault", v.Name, "certificate", e.lname, "error", err)
			continue
		}
		if did {
			renewed++
		}
	}
	return renewed, failed
}

func (s *Service) renewIfDue(ctx context.Context, v *Vault, lname string, log *slog.Logger) (bool, error) {
	c, err := s.GetCertificate(ctx, v, lname, "")
	if err != nil {
		return false, err
	}
	policy, err := s.storedPolicy(ctx, v, lname)
	if err != nil || policy == nil {
		return false, err
	}
	leaf, err := x509.ParseCertificate(c.CER)
	if err != nil {
		return false, err
	}
	now := s.Now()
	for _, a := range policy.LifetimeActions {
		if !triggerDue(a.Trigger, leaf.NotBefore, leaf.NotAfter, now) {
			continue
		}
		switch a.Action.ActionType {
		case certs.ActionAutoRenew:
			if op, err := s.loadOp(ctx, v, lname); err == nil && op.Status == "inProgress" {
				continue // a renewal already waits for its merge
			}
			enabled := true
			op, err := s.CreateCertificate(ctx, v, c.Name, CertificateParams{Enabled: &enabled, Tags: c.Tags})
			if err != nil {
				return false, err
			}
			s.event("CertificateRenew", v.Name, "certificates/"+c.Name, "AutoRenew lifetime action; status "+op.Status)
			log.Info("renewed certificate by its AutoRenew lifetime action", "vault", v.Name, "certificate", c.Name,
				"oldVersion", c.Version, "status", op.Status, "newVersion", op.Target)
			return true, nil
		case certs.ActionEmailContacts:
			if s.notified(ctx, v, lname) == c.Version {
				continue
			}
			// NOTE: no e-mail is sent: the notification is this log line.
			s.event("CertificateNearExpiryEventGridNotification", v.Name, "certificates/"+c.Name+"/"+c.Version, "EmailContacts lifetime action; no e-mail is sent")
			log.Info("certificate nears expiry (EmailContacts lifetime action); no e-mail is sent",
				"vault", v.Name, "certificate", c.Name, "version", c.Version, "expires", leaf.NotAfter.UTC())
			err := s.store.Update(ctx, func(tx storage.Tx) error {
				return tx.Put(bucketCertNotified, headKey(v.ID(), lname), []byte(c.Version))
			})
			if err != nil {
				return false, err
			}
		}
	}
	return false, nil
}

func (s *Service) notified(ctx context.Context, v *Vault, lname string) string {
	var version []byte
	_ = s.store.View(ctx, func(tx storage.Tx) error {
		var err error
		version, err = tx.Get(bucketCertNotified, headKey(v.ID(), lname))
		return err
	})
	return string(version)
}

// triggerDue reports whether a lifetime trigger has passed for a
// certificate valid from nbf to exp.
func triggerDue(t certs.Trigger, nbf, exp, now time.Time) bool {
	if t.LifetimePercentage > 0 {
		at := nbf.Add(exp.Sub(nbf) * time.Duration(t.LifetimePercentage) / 100)
		return !now.Before(at)
	}
	return !now.Before(exp.AddDate(0, 0, -t.DaysBeforeExpiry))
}

package identity

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyvault/keyvault/internal/storage"
)

// ErrPrincipalNotFound is returned for an unknown principal.
var ErrPrincipalNotFound = fmt.Errorf("principal not found")

// ErrInvalidCredential is returned for a certificate that cannot be used.
var ErrInvalidCredential = fmt.Errorf("invalid credential")

// BootstrapAdmin makes sure the store has a tenant id, a default
// subscription id and an administrator principal, and returns the
// administrator's credentials. If previous holds credentials that still sign
// in, they are returned unchanged; otherwise the administrator gets a new
// client secret, replacing the old one. This is how an operator resets a
// lost secret: delete credentials.json and restart.
func BootstrapAdmin(ctx context.Context, store storage.Store, previous *Credentials) (*Credentials, error) {
	var creds Credentials
	now := time.Now()
	err := store.Update(ctx, func(tx storage.Tx) error {
		tenant, err := getOrCreate(tx, keyTenantID)
		if err != nil {
			return err
		}
		sub, err := getOrCreate(tx, keySubscription)
		if err != nil {
			return err
		}
		creds = Credentials{TenantID: tenant, SubscriptionID: sub}

		var admin Principal
		clientID, err := tx.Get(bucketIdentity, []byte(keyAdminClientID))
		if err != nil {
			return err
		}
		if clientID != nil {
			found, err := getJSON(tx, bucketPrincipals, clientID, &admin)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("administrator principal %s is missing from the store", clientID)
			}
		} else {
			admin = Principal{ClientID: newID(), ObjectID: newID(), DisplayName: "keyvault-admin", Admin: true, Created: now.Unix()}
			if err := tx.Put(bucketIdentity, []byte(keyAdminClientID), []byte(admin.ClientID)); err != nil {
				return err
			}
		}
		creds.ClientID = admin.ClientID

		if previous != nil && previous.ClientID == admin.ClientID && admin.secretMatches(previous.ClientSecret) {
			creds.ClientSecret = previous.ClientSecret
			return nil
		}
		cred, secret := newSecretCredential(now)
		creds.ClientSecret = secret
		admin.Secrets = []SecretCredential{cred}
		return putPrincipal(tx, &admin)
	})
	if err != nil {
		return nil, err
	}
	return &creds, nil
}

func getOrCreate(tx storage.Tx, key string) (string, error) {
	v, err := tx.Get(bucketIdentity, []byte(key))
	if err != nil || v != nil {
		return string(v), err
	}
	id := newID()
	return id, tx.Put(bucketIdentity, []byte(key), []byte(id))
}

func getJSON(tx storage.Tx, bucket string, key []byte, v any) (bool, error) {
	raw, err := tx.Get(bucket, key)
	if err != nil || raw == nil {
		return false, err
	}
	return true, json.Unmarshal(raw, v)
}

func putPrincipal(tx storage.Tx, p *Principal) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := tx.Put(bucketObjectIDs, []byte(strings.ToLower(p.ObjectID)), []byte(p.ClientID)); err != nil {
		return err
	}
	return tx.Put(bucketPrincipals, []byte(p.ClientID), raw)
}

func lookupPrincipal(ctx context.Context, store storage.Store, clientID string) (*Principal, error) {
	var p *Principal
	err := store.View(ctx, func(tx storage.Tx) error {
		var q Principal
		found, err := getJSON(tx, bucketPrincipals, []byte(clientID), &q)
		if found {
			p = &q
		}
		return err
	})
	return p, err
}

// CreatePrincipal creates a service principal with one client secret, which
// is returned only here.
func (s *Service) CreatePrincipal(ctx context.Context, displayName string) (*Principal, string, error) {
	now := s.opts.Now()
	cred, secret := newSecretCredential(now)
	p := &Principal{ClientID: newID(), ObjectID: newID(), DisplayName: displayName, Secrets: []SecretCredential{cred}, Created: now.Unix()}
	err := s.opts.Store.Update(ctx, func(tx storage.Tx) error { return putPrincipal(tx, p) })
	if err != nil {
		return nil, "", err
	}
	return p, secret, nil
}

// ListPrincipals returns every principal, the administrator included.
func (s *Service) ListPrincipals(ctx context.Context) ([]*Principal, error) {
	var out []*Principal
	err := s.opts.Store.View(ctx, func(tx storage.Tx) error {
		return tx.Scan(bucketPrincipals, nil, nil, func(_, value []byte) (bool, error) {
			p := new(Principal)
			if err := json.Unmarshal(value, p); err != nil {
				return false, err
			}
			out = append(out, p)
			return true, nil
		})
	})
	return out, err
}

// GetPrincipal returns the principal with the given object id.
func (s *Service) GetPrincipal(ctx context.Context, objectID string) (*Principal, error) {
	var p *Principal
	err := s.opts.Store.View(ctx, func(tx storage.Tx) error {
		clientID, err := tx.Get(bucketObjectIDs, []byte(strings.ToLower(objectID)))
		if err != nil || clientID == nil {
			return err
		}
		var q Principal
		found, err := getJSON(tx, bucketPrincipals, clientID, &q)
		if found {
			p = &q
		}
		return err
	})
	if err == nil && p == nil {
		err = fmt.Errorf("%w: object id %s", ErrPrincipalNotFound, objectID)
	}
	return p, err
}

// updatePrincipal applies change to the principal with the given object id.
func (s *Service) updatePrincipal(ctx context.Context, objectID string, change func(p *Principal) error) (*Principal, error) {
	var p Principal
	err := s.opts.Store.Update(ctx, func(tx storage.Tx) error {
		clientID, err := tx.Get(bucketObjectIDs, []byte(strings.ToLower(objectID)))
		if err != nil {
			return err
		}
		if clientID == nil {
			return fmt.Errorf("%w: object id %s", ErrPrincipalNotFound, objectID)
		}
		if _, err := getJSON(tx, bucketPrincipals, clientID, &p); err != nil {
			return err
		}
		if err := change(&p); err != nil {
			return err
		}
		return putPrincipal(tx, &p)
	})
	if err != nil {
		return nil, err
	}
	s.forgetTokens(p.ClientID)
	return &p, nil
}

// DeletePrincipal deletes a principal; its tokens stop working at once. The
// administrator cannot be deleted.
func (s *Service) DeletePrincipal(ctx context.Context, objectID string) (*Principal, error) {
	p, err := s.GetPrincipal(ctx, objectID)
	if err != nil {
		return nil, err
	}
	if p.Admin {
		return nil, fmt.Errorf("%w: the administrator cannot be deleted", ErrInvalidCredential)
	}
	err = s.opts.Store.Update(ctx, func(tx storage.Tx) error {
		if err := tx.Delete(bucketObjectIDs, []byte(strings.ToLower(p.ObjectID))); err != nil {
			return err
		}
		return tx.Delete(bucketPrincipals, []byte(p.ClientID))
	})
	if err != nil {
		return nil, err
	}
	s.forgetTokens(p.ClientID)
	return p, nil
}

// AddSecret adds a client secret to a principal and returns it; the secret
// is shown only here.
func (s *Service) AddSecret(ctx context.Context, objectID string) (*SecretCredential, string, error) {
	cred, secret := newSecretCredential(s.opts.Now())
	_, err := s.updatePrincipal(ctx, objectID, func(p *Principal) error {
		p.Secrets = append(p.Secrets, cred)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return &cred, secret, nil
}

// ResetCredentials removes every credential of a principal and gives it one
// new client secret.
func (s *Service) ResetCredentials(ctx context.Context, objectID string) (*SecretCredential, string, error) {
	cred, secret := newSecretCredential(s.opts.Now())
	_, err := s.updatePrincipal(ctx, objectID, func(p *Principal) error {
		p.Secrets, p.Certificates = []SecretCredential{cred}, nil
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return &cred, secret, nil
}

// AddCertificate adds a certificate credential from PEM text holding one
// certificate (a private key in the text is ignored and never stored).
func (s *Service) AddCertificate(ctx context.Context, objectID string, pemText []byte) (*CertificateCredential, error) {
	cert, err := firstCertificate(pemText)
	if err != nil {
		return nil, err
	}
	sha1sum := sha1.Sum(cert.Raw)
	sha256sum := sha256.Sum256(cert.Raw)
	cred := CertificateCredential{
		ID: newID(), Thumbprint: strings.ToUpper(hex.EncodeToString(sha1sum[:])), SHA256: hex.EncodeToString(sha256sum[:]),
		PEM:     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})),
		Subject: cert.Subject.String(), NotBefore: cert.NotBefore.Unix(), NotAfter: cert.NotAfter.Unix(),
		Created: s.opts.Now().Unix(),
	}
	_, err = s.updatePrincipal(ctx, objectID, func(p *Principal) error {
		if slices.ContainsFunc(p.Certificates, func(c CertificateCredential) bool { return c.SHA256 == cred.SHA256 }) {
			return fmt.Errorf("%w: the principal already has certificate %s", ErrInvalidCredential, cred.Thumbprint)
		}
		p.Certificates = append(p.Certificates, cred)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &cred, nil
}

func firstCertificate(pemText []byte) (*x509.Certificate, error) {
	for rest := pemText; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%w: no PEM CERTIFICATE block found", ErrInvalidCredential)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: the certificate cannot be parsed: %v", ErrInvalidCredential, err)
		}
		return cert, nil
	}
}

// DeleteCredential removes the secret or certificate credential credID.
func (s *Service) DeleteCredential(ctx context.Context, objectID, credID string) error {
	_, err := s.updatePrincipal(ctx, objectID, func(p *Principal) error {
		n := len(p.Secrets) + len(p.Certificates)
		p.Secrets = slices.DeleteFunc(p.Secrets, func(c SecretCredential) bool { return strings.EqualFold(c.ID, credID) })
		p.Certificates = slices.DeleteFunc(p.Certificates, func(c CertificateCredential) bool { return strings.EqualFold(c.ID, credID) })
		if len(p.Secrets)+len(p.Certificates) == n {
			return fmt.Errorf("%w: credential %s of principal %s", ErrPrincipalNotFound, credID, objectID)
		}
		return nil
	})
	return err
}

// Package identity is KeyVault's token service: an OAuth 2.0 authorization
// server with the endpoints the Azure identity libraries call (OpenID
// discovery, JWKS, client-credentials token), the principals it issues tokens
// to, and the verification of those tokens on every request.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/keyvault/keyvault/internal/storage"
)

const (
	bucketPrincipals = "principals" // client (application) id -> principal (JSON)
	bucketIdentity   = "identity"   // server-wide identity settings
	keyTenantID      = "tenant-id"
	keyAdminClientID = "admin-client-id"
	keySigningKey    = "token-signing-key" // sealed PKCS #8 private key
)

// Principal is a service principal: an application that signs in with a
// client secret and gets tokens for the vault.
type Principal struct {
	ClientID    string `json:"clientId"` // the application id
	ObjectID    string `json:"objectId"`
	DisplayName string `json:"displayName"`
	// SecretHashes are SHA-256 digests of the principal's client secrets.
	// The secrets are 256-bit random strings, so a fast hash is enough: no
	// dictionary attack applies to them.
	SecretHashes []string `json:"secretHashes"`
	Admin        bool     `json:"admin,omitempty"`
}

// Caller is the authenticated identity behind a request.
type Caller struct {
	TenantID      string
	ObjectID      string
	ApplicationID string
	Admin         bool
}

// Credentials are the administrator's sign-in details written to
// credentials.json.
type Credentials struct {
	TenantID     string `json:"tenantId"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// String keeps the client secret out of logs and formatted errors.
func (c Credentials) String() string {
	return fmt.Sprintf("Credentials{TenantID: %s, ClientID: %s, ClientSecret: REDACTED}", c.TenantID, c.ClientID)
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func (p *Principal) secretMatches(secret string) bool {
	h := hashSecret(secret)
	ok := 0
	for _, stored := range p.SecretHashes {
		ok |= subtle.ConstantTimeCompare([]byte(h), []byte(stored))
	}
	return ok == 1
}

func newClientSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// BootstrapAdmin makes sure the store has a tenant id and an administrator
// principal and returns the administrator's credentials. If previous holds
// credentials that still sign in, they are returned unchanged; otherwise the
// administrator gets a new client secret, replacing the old one. This is how
// an operator resets a lost secret: delete credentials.json and restart.
func BootstrapAdmin(ctx context.Context, store storage.Store, previous *Credentials) (*Credentials, error) {
	var creds Credentials
	err := store.Update(ctx, func(tx storage.Tx) error {
		tenant, err := tx.Get(bucketIdentity, []byte(keyTenantID))
		if err != nil {
			return err
		}
		if tenant == nil {
			tenant = []byte(uuid.NewString())
			if err := tx.Put(bucketIdentity, []byte(keyTenantID), tenant); err != nil {
				return err
			}
		}
		creds = Credentials{TenantID: string(tenant)}

		var admin Principal
		clientID, err := tx.Get(bucketIdentity, []byte(keyAdminClientID))
		if err != nil {
			return err
		}
		if clientID != nil {
			raw, err := tx.Get(bucketPrincipals, clientID)
			if err != nil {
				return err
			}
			if raw == nil {
				return fmt.Errorf("administrator principal %s is missing from the store", clientID)
			}
			if err := json.Unmarshal(raw, &admin); err != nil {
				return err
			}
		} else {
			admin = Principal{ClientID: uuid.NewString(), ObjectID: uuid.NewString(), DisplayName: "keyvault-admin", Admin: true}
			if err := tx.Put(bucketIdentity, []byte(keyAdminClientID), []byte(admin.ClientID)); err != nil {
				return err
			}
		}
		creds.ClientID = admin.ClientID

		if previous != nil && previous.ClientID == admin.ClientID && admin.secretMatches(previous.ClientSecret) {
			creds.ClientSecret = previous.ClientSecret
			return nil
		}
		creds.ClientSecret = newClientSecret()
		admin.SecretHashes = []string{hashSecret(creds.ClientSecret)}
		raw, err := json.Marshal(&admin)
		if err != nil {
			return err
		}
		return tx.Put(bucketPrincipals, []byte(admin.ClientID), raw)
	})
	if err != nil {
		return nil, err
	}
	return &creds, nil
}

func lookupPrincipal(ctx context.Context, store storage.Store, clientID string) (*Principal, error) {
	var p *Principal
	err := store.View(ctx, func(tx storage.Tx) error {
		raw, err := tx.Get(bucketPrincipals, []byte(clientID))
		if err != nil || raw == nil {
			return err
		}
		p = new(Principal)
		return json.Unmarshal(raw, p)
	})
	return p, err
}

// Package identity is KeyVault's token service: an OAuth 2.0 authorization
// server with the endpoints the Azure identity libraries call (OpenID
// discovery, JWKS, client-credentials token), the principals it issues tokens
// to, and the verification of those tokens on every request.
package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"
)

const (
	bucketPrincipals = "principals"        // client (application) id -> Principal (JSON)
	bucketObjectIDs  = "principal-objects" // object id -> client id
	bucketIdentity   = "identity"          // server-wide identity settings
	keyTenantID      = "tenant-id"
	keySubscription  = "subscription-id"
	keyAdminClientID = "admin-client-id"
	keySigningKey    = "token-signing-key" // sealed PKCS #8 private key
)

// Principal is a service principal: an application that signs in with a
// client secret or a certificate and gets tokens for vaults.
type Principal struct {
	ClientID     string                  `json:"clientId"` // the application id
	ObjectID     string                  `json:"objectId"`
	DisplayName  string                  `json:"displayName"`
	Secrets      []SecretCredential      `json:"secrets,omitempty"`
	Certificates []CertificateCredential `json:"certificates,omitempty"`
	Admin        bool                    `json:"admin,omitempty"`
	Created      int64                   `json:"created"`
}

// SecretCredential is a client secret, stored as its SHA-256 digest. The
// secrets are 256-bit random strings, so a fast hash is enough: no
// dictionary attack applies to them.
type SecretCredential struct {
	ID      string `json:"id"`
	Hash    string `json:"hash"`
	Hint    string `json:"hint"` // the first three characters, to tell secrets apart
	Created int64  `json:"created"`
}

// CertificateCredential is a certificate whose private key signs the client
// assertions the principal signs in with.
type CertificateCredential struct {
	ID         string `json:"id"`
	Thumbprint string `json:"thumbprint"` // SHA-1 of the DER certificate, upper-case hex, as Azure shows it
	SHA256     string `json:"sha256"`     // SHA-256 of the DER certificate, hex
	PEM        string `json:"pem"`        // the certificate (public part only)
	Subject    string `json:"subject"`
	NotBefore  int64  `json:"notBefore"`
	NotAfter   int64  `json:"notAfter"`
	Created    int64  `json:"created"`
}

// Caller is the authenticated identity behind a request.
type Caller struct {
	TenantID      string
	ObjectID      string
	ApplicationID string
	Admin         bool
	Audience      string // the resource the token was issued for
}

// Credentials are the administrator's sign-in details written to
// credentials.json.
type Credentials struct {
	TenantID       string `json:"tenantId"`
	SubscriptionID string `json:"subscriptionId"`
	ClientID       string `json:"clientId"`
	ClientSecret   string `json:"clientSecret"`
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
	for _, c := range p.Secrets {
		ok |= subtle.ConstantTimeCompare([]byte(h), []byte(c.Hash))
	}
	return ok == 1
}

// newSecretCredential returns a new client secret and its stored form.
func newSecretCredential(now time.Time) (SecretCredential, string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	return SecretCredential{ID: newID(), Hash: hashSecret(secret), Hint: secret[:3], Created: now.Unix()}, secret
}

func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	b[6] = b[6]&0x0f | 0x40 // UUID version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

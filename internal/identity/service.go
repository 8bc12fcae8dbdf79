package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
)

// TokenLifetime is how long an access token is valid.
const TokenLifetime = time.Hour

// maxCachedTokens bounds the verified-token cache; past it the cache starts
// over, which costs one signature check per token.
const maxCachedTokens = 100000

// Options configures a Service.
type Options struct {
	Store    storage.Store
	Keyring  *seal.Keyring
	TenantID string
	// Scheme is "https", or "http" when the server runs without TLS.
	Scheme string
	// Resources are the audiences tokens may be issued for, such as
	// "https://vault.localhost:8443". The first is the vault resource that
	// 401 challenges name.
	Resources []string
	// HostAllowed reports whether a host (with port) is one this server
	// serves. Token issuers are accepted only for such hosts.
	HostAllowed func(host string) bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Service issues and verifies access tokens.
type Service struct {
	opts   Options
	key    *rsa.PrivateKey
	keyID  string
	parser *jwt.Parser

	mu    sync.RWMutex
	cache map[string]cachedToken

	replays replayCache
}

type cachedToken struct {
	caller  *Caller
	expires time.Time
}

// claims are the claims of an access token, shaped as Microsoft Entra ID
// v2.0 app tokens so that tools which read Azure tokens understand them.
type claims struct {
	jwt.RegisteredClaims
	TenantID string `json:"tid"`
	ObjectID string `json:"oid"`
	AppID    string `json:"appid"`
	AZP      string `json:"azp"`
	IDType   string `json:"idtyp"`
	Version  string `json:"ver"`
}

// issuedClaims are the claims of a token being issued. Entra ID writes aud
// as a single string, but golang-jwt writes a one-element array. So this
// field is encoded in its place: it is shallower than
// RegisteredClaims.Audience, which stays empty. Verify still parses into
// claims, whose ClaimStrings accepts both forms.
type issuedClaims struct {
	claims
	Audience string `json:"aud"`
}

// New loads the token-signing key from the store, creating it on first start.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Scheme == "" {
		opts.Scheme = "https"
	}
	for i, r := range opts.Resources {
		opts.Resources[i] = normalizeResource(r)
	}
	key, err := loadSigningKey(ctx, opts.Store, opts.Keyring)
	if err != nil {
		return nil, fmt.Errorf("token-signing key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	s := &Service{
		opts:  opts,
		key:   key,
		keyID: base64.RawURLEncoding.EncodeToString(sum[:12]),
		cache: make(map[string]cachedToken),
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{"RS256"}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(30*time.Second),
			jwt.WithTimeFunc(opts.Now),
		),
	}
	return s, nil
}

// TenantID returns the tenant this service issues tokens in.
func (s *Service) TenantID() string { return s.opts.TenantID }

// VaultResource returns the audience of vault data-plane tokens.
func (s *Service) VaultResource() string { return s.opts.Resources[0] }

// ManagementResource returns the audience of management-API tokens, or ""
// when the service issues none.
func (s *Service) ManagementResource() string {
	if len(s.opts.Resources) < 2 {
		return ""
	}
	return s.opts.Resources[1]
}

// forgetTokens drops the cached verifications of one client's tokens, so
// that the next request checks the principal again.
func (s *Service) forgetTokens(clientID string) {
	s.mu.Lock()
	for token, c := range s.cache {
		if c.caller.ApplicationID == clientID {
			delete(s.cache, token)
		}
	}
	s.mu.Unlock()
}

func loadSigningKey(ctx context.Context, store storage.Store, keys *seal.Keyring) (*rsa.PrivateKey, error) {
	sealer, err := keys.Sealer(ctx, seal.ServerScope)
	if err != nil {
		return nil, err
	}
	aad := seal.AAD("server", keySigningKey)
	var key *rsa.PrivateKey
	err = store.Update(ctx, func(tx storage.Tx) error {
		record, err := tx.Get(bucketIdentity, []byte(keySigningKey))
		if err != nil {
			return err
		}
		if record != nil {
			der, err := sealer.Open(record, aad)
			if err != nil {
				return err
			}
			k, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return err
			}
			var ok bool
			if key, ok = k.(*rsa.PrivateKey); !ok {
				return errors.New("stored key is not an RSA key")
			}
			return nil
		}
		// RS256 with a 2048-bit key is what Entra ID signs tokens with, and
		// RSA verification is cheaper than ECDSA verification.
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		record, err = sealer.Seal(der, aad)
		if err != nil {
			return err
		}
		return tx.Put(bucketIdentity, []byte(keySigningKey), record)
	})
	return key, err
}

// normalizeResource lower-cases a resource URI and drops a trailing slash,
// so "https://vault.localhost:8443/" and "https://Vault.localhost:8443" match.
func normalizeResource(r string) string {
	return strings.TrimSuffix(strings.ToLower(r), "/")
}

func (s *Service) resourceAllowed(r string) (string, bool) {
	r = normalizeResource(r)
	for _, allowed := range s.opts.Resources {
		if r == allowed {
			return allowed, true
		}
	}
	return "", false
}

func (s *Service) issuer(host string) string {
	return s.opts.Scheme + "://" + host + "/" + s.opts.TenantID + "/v2.0"
}

// adfsIssuer is the issuer of tokens from the ADFS-style endpoints at host.
func (s *Service) adfsIssuer(host string) string {
	return s.opts.Scheme + "://" + host + "/adfs"
}

// Issue returns a signed access token for p with audience resource, issued
// by the token endpoint at host.
func (s *Service) Issue(p *Principal, resource, host string) (string, time.Time, error) {
	return s.issue(p, resource, s.issuer(host))
}

func (s *Service) issue(p *Principal, resource, issuer string) (string, time.Time, error) {
	now := s.opts.Now()
	exp := now.Add(TokenLifetime)
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", time.Time{}, err
	}
	c := issuedClaims{
		claims: claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer:    issuer,
				Subject:   p.ObjectID,
				ExpiresAt: jwt.NewNumericDate(exp),
				NotBefore: jwt.NewNumericDate(now),
				IssuedAt:  jwt.NewNumericDate(now),
				ID:        base64.RawURLEncoding.EncodeToString(jti),
			},
			TenantID: s.opts.TenantID, ObjectID: p.ObjectID, AppID: p.ClientID, AZP: p.ClientID,
			IDType: "app", Version: "2.0",
		},
		Audience: resource,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = s.keyID
	signed, err := t.SignedString(s.key)
	return signed, exp, err
}

// ErrInvalidToken is wrapped by every Verify failure.
var ErrInvalidToken = errors.New("invalid access token")

// Verify checks an access token's signature, issuer, audience, expiry and
// not-before time, and returns its caller. A verified token is cached until
// it expires.
func (s *Service) Verify(ctx context.Context, token string) (*Caller, error) {
	now := s.opts.Now()
	s.mu.RLock()
	c, ok := s.cache[token]
	s.mu.RUnlock()
	if ok && now.Before(c.expires) {
		return c.caller, nil
	}

	var cl claims
	_, err := s.parser.ParseWithClaims(token, &cl, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != s.keyID {
			return nil, fmt.Errorf("unknown signing key %q", kid)
		}
		return &s.key.PublicKey, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if err := s.checkIssuer(cl.Issuer); err != nil {
		return nil, err
	}
	audience := ""
	for _, aud := range cl.Audience {
		if r, ok := s.resourceAllowed(aud); ok {
			audience = r
		}
	}
	if audience == "" {
		return nil, fmt.Errorf("%w: audience %v is not a resource of this server", ErrInvalidToken, cl.Audience)
	}
	if cl.TenantID != s.opts.TenantID {
		return nil, fmt.Errorf("%w: tenant %q is not this server's tenant", ErrInvalidToken, cl.TenantID)
	}
	p, err := lookupPrincipal(ctx, s.opts.Store, cl.AppID)
	if err != nil {
		return nil, err
	}
	if p == nil || p.ObjectID != cl.ObjectID {
		return nil, fmt.Errorf("%w: principal %s no longer exists", ErrInvalidToken, cl.AppID)
	}
	caller := &Caller{TenantID: cl.TenantID, ObjectID: cl.ObjectID, ApplicationID: cl.AppID, Admin: p.Admin, Audience: audience}

	s.mu.Lock()
	if len(s.cache) >= maxCachedTokens {
		s.cache = make(map[string]cachedToken)
	}
	s.cache[token] = cachedToken{caller: caller, expires: cl.ExpiresAt.Time}
	s.mu.Unlock()
	return caller, nil
}

// checkIssuer accepts the issuers of this server's two token endpoints,
// https://{host}/{tenant}/v2.0 and https://{host}/adfs, on hosts it serves.
func (s *Service) checkIssuer(iss string) error {
	u, err := url.Parse(iss)
	if err != nil || u.Scheme != s.opts.Scheme || (u.Path != "/"+s.opts.TenantID+"/v2.0" && u.Path != "/adfs") || !s.opts.HostAllowed(u.Host) {
		return fmt.Errorf("%w: issuer %q is not this server", ErrInvalidToken, iss)
	}
	return nil
}

// jwks returns the JSON Web Key Set that verifies this service's tokens.
func (s *Service) jwks() map[string]any {
	pub := s.key.PublicKey
	return map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": s.keyID,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}}
}

package identity

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clientAssertionType is the client_assertion_type of a JWT client
// assertion (RFC 7523, section 2.2).
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionAlgorithms are the signature algorithms accepted on assertions.
var assertionAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// replayCache remembers the jti of every assertion until it expires, so an
// intercepted assertion cannot be used twice.
type replayCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (c *replayCache) firstUse(jti string, exp, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = make(map[string]time.Time)
	}
	if len(c.seen) > 100000 {
		for k, e := range c.seen {
			if now.After(e) {
				delete(c.seen, k)
			}
		}
	}
	if e, ok := c.seen[jti]; ok && now.Before(e) {
		return false
	}
	c.seen[jti] = exp
	return true
}

// verifyAssertion checks a client assertion, a JWT signed with the private
// key of one of the principal's certificates, as MSAL's certificate
// credential sends it. The header names the certificate by its SHA-1 (x5t)
// or SHA-256 (x5t#S256) thumbprint or sends it whole (x5c). iss and sub are
// the client id, and aud is this token endpoint. It returns the principal.
func (s *Service) verifyAssertion(ctx context.Context, clientID, assertion string) (*Principal, error) {
	now := s.opts.Now()
	var p *Principal
	var claims jwt.RegisteredClaims
	parser := jwt.NewParser(jwt.WithValidMethods(assertionAlgorithms), jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Minute), jwt.WithTimeFunc(s.opts.Now))
	_, err := parser.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		id := clientID
		if id == "" {
			id, _ = t.Claims.GetIssuer()
		}
		var err error
		if p, err = lookupPrincipal(ctx, s.opts.Store, id); err != nil {
			return nil, err
		}
		if p == nil {
			return nil, fmt.Errorf("application %q does not exist", id)
		}
		cert, err := p.assertionCertificate(t.Header, now)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	})
	if err != nil {
		return nil, err
	}
	if claims.Issuer != p.ClientID || claims.Subject != p.ClientID {
		return nil, fmt.Errorf("the assertion's iss and sub must be the client id %s", p.ClientID)
	}
	if !s.audienceIsTokenEndpoint(claims.Audience) {
		return nil, fmt.Errorf("the assertion's audience %v is not this token endpoint", claims.Audience)
	}
	if claims.ID != "" && !s.replays.firstUse(claims.ID, claims.ExpiresAt.Time, now) {
		return nil, fmt.Errorf("the assertion %s was already used", claims.ID)
	}
	return p, nil
}

func (s *Service) audienceIsTokenEndpoint(aud jwt.ClaimStrings) bool {
	for _, a := range aud {
		u, err := url.Parse(a)
		if err != nil || !s.opts.HostAllowed(u.Host) {
			continue
		}
		if strings.EqualFold(strings.TrimSuffix(u.Path, "/"), "/"+s.opts.TenantID+"/oauth2/v2.0/token") {
			return true
		}
	}
	return false
}

// assertionCertificate finds the certificate credential an assertion's
// header names, valid at now.
func (p *Principal) assertionCertificate(header map[string]any, now time.Time) (*x509.Certificate, error) {
	match := func(c *CertificateCredential) bool { return false }
	switch {
	case header["x5t#S256"] != nil:
		want, err := headerThumbprint(header["x5t#S256"])
		if err != nil {
			return nil, err
		}
		match = func(c *CertificateCredential) bool { return strings.EqualFold(c.SHA256, want) }
	case header["x5t"] != nil:
		want, err := headerThumbprint(header["x5t"])
		if err != nil {
			return nil, err
		}
		match = func(c *CertificateCredential) bool { return strings.EqualFold(c.Thumbprint, want) }
	case header["x5c"] != nil:
		chain, ok := header["x5c"].([]any)
		if !ok || len(chain) == 0 {
			return nil, fmt.Errorf("x5c is not an array of certificates")
		}
		first, _ := chain[0].(string)
		der, err := base64.StdEncoding.DecodeString(first)
		if err != nil {
			return nil, fmt.Errorf("x5c[0] is not base64")
		}
		sum := sha256.Sum256(der)
		want := hex.EncodeToString(sum[:])
		match = func(c *CertificateCredential) bool { return c.SHA256 == want }
	default:
		return nil, fmt.Errorf("the assertion header names no certificate (x5t, x5t#S256 or x5c)")
	}
	for i := range p.Certificates {
		c := &p.Certificates[i]
		if !match(c) {
			continue
		}
		if now.Unix() < c.NotBefore || now.Unix() > c.NotAfter {
			return nil, fmt.Errorf("certificate %s is not valid now", c.Thumbprint)
		}
		block, _ := pem.Decode([]byte(c.PEM))
		if block == nil {
			return nil, fmt.Errorf("stored certificate %s is unreadable", c.Thumbprint)
		}
		return x509.ParseCertificate(block.Bytes)
	}
	return nil, fmt.Errorf("no certificate credential of application %s matches the assertion", p.ClientID)
}

// headerThumbprint decodes a thumbprint from a JWT header into hex. RFC 7515
// says base64url, but MSAL for Go (v1.8.0 and v1.10.1 read) sends x5t#S256
// in standard base64, so both alphabets are accepted, with or without
// padding.
func headerThumbprint(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("the thumbprint in the assertion header is not a string")
	}
	s = strings.TrimRight(s, "=")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil || (len(raw) != sha1.Size && len(raw) != sha256.Size) {
		return "", fmt.Errorf("the thumbprint in the assertion header is not base64 of a SHA-1 or SHA-256 digest")
	}
	return hex.EncodeToString(raw), nil
}

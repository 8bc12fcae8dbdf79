package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// subjectAttributes maps the attribute names a subject may use to their
// object identifiers (RFC 4519 and PKCS #9 for E).
var subjectAttributes = map[string]asn1.ObjectIdentifier{
	"CN": {2, 5, 4, 3}, "C": {2, 5, 4, 6}, "L": {2, 5, 4, 7}, "S": {2, 5, 4, 8}, "ST": {2, 5, 4, 8},
	"STREET": {2, 5, 4, 9}, "O": {2, 5, 4, 10}, "OU": {2, 5, 4, 11}, "SERIALNUMBER": {2, 5, 4, 5},
	"DC": {0, 9, 2342, 19200300, 100, 1, 25}, "E": {1, 2, 840, 113549, 1, 9, 1}, "EMAIL": {1, 2, 840, 113549, 1, 9, 1},
}

// ParseSubject parses an X.500 name such as "CN=example.com, O=Contoso" (RFC
// 4514 order, commas escaped with a backslash) into a pkix.Name.
func ParseSubject(s string) (pkix.Name, error) {
	var rdns pkix.RDNSequence
	var cur strings.Builder
	var parts []string
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == ',' || r == ';':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	parts = append(parts, cur.String())
	for _, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, value, ok := strings.Cut(part, "=")
		key, value = strings.ToUpper(strings.TrimSpace(key)), strings.Trim(strings.TrimSpace(value), `"`)
		oid, known := subjectAttributes[key]
		if !ok || !known || value == "" {
			return pkix.Name{}, bad("The subject '%s' is invalid: '%s' is not an attribute such as CN=name, O=organization.", s, part)
		}
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{Type: oid, Value: value}})
	}
	if len(rdns) == 0 {
		return pkix.Name{}, bad("The subject '%s' is empty.", s)
	}
	var name pkix.Name
	name.FillFromRDNSequence(&rdns)
	name.ExtraNames = nil
	// Keep every attribute, in order, including ones FillFromRDNSequence
	// has no field for (e-mail, DC).
	for _, rdn := range rdns {
		name.ExtraNames = append(name.ExtraNames, rdn...)
	}
	return name, nil
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("invalid object identifier %q", s)
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 {
		return nil, fmt.Errorf("invalid object identifier %q", s)
	}
	return oid, nil
}

var keyUsageBits = map[string]x509.KeyUsage{
	"digitalSignature": x509.KeyUsageDigitalSignature, "nonRepudiation": x509.KeyUsageContentCommitment,
	"keyEncipherment": x509.KeyUsageKeyEncipherment, "dataEncipherment": x509.KeyUsageDataEncipherment,
	"keyAgreement": x509.KeyUsageKeyAgreement, "keyCertSign": x509.KeyUsageCertSign, "cRLSign": x509.KeyUsageCRLSign,
	"encipherOnly": x509.KeyUsageEncipherOnly, "decipherOnly": x509.KeyUsageDecipherOnly,
}

// upnOID is the otherName type of a user principal name (Microsoft).
var upnOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}

// applySANs adds the policy's subject alternative names to tmpl. User
// principal names need an otherName entry, which crypto/x509 cannot write,
// so they are refused.
func applySANs(tmpl *x509.Certificate, sans *SANs) error {
	if sans == nil {
		return nil
	}
	tmpl.DNSNames = sans.DNSNames
	tmpl.EmailAddresses = sans.Emails
	for _, u := range sans.URIs {
		parsed, err := url.Parse(u)
		if err != nil || parsed.Scheme == "" {
			return bad("The subject alternative name URI '%s' is invalid.", u)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	for _, ip := range sans.IPAddresses {
		parsed := net.ParseIP(ip)
		if parsed == nil {
			return bad("The subject alternative name IP address '%s' is invalid.", ip)
		}
		tmpl.IPAddresses = append(tmpl.IPAddresses, parsed)
	}
	if len(sans.UPNs) > 0 {
		// NOTE: user principal names (otherName 1.3.6.1.4.1.311.20.2.3) are
		// not written: crypto/x509 has no otherName support.
		return bad("Subject alternative names of type upns are not supported by this server.")
	}
	return nil
}

// Template builds the certificate a policy describes, valid from now.
func Template(p *Policy, now time.Time) (*x509.Certificate, error) {
	xp := p.X509Props
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.AddDate(0, xp.ValidityMonths, 0),
	}
	if xp.Subject != "" {
		if tmpl.Subject, err = ParseSubject(xp.Subject); err != nil {
			return nil, err
		}
	}
	for _, u := range xp.KeyUsage {
		tmpl.KeyUsage |= keyUsageBits[u]
	}
	for _, e := range xp.EKUs {
		oid, err := parseOID(e)
		if err != nil {
			return nil, bad("The extended key usage '%s' is invalid.", e)
		}
		tmpl.UnknownExtKeyUsage = append(tmpl.UnknownExtKeyUsage, oid)
	}
	if tmpl.KeyUsage&x509.KeyUsageCertSign != 0 {
		tmpl.BasicConstraintsValid, tmpl.IsCA = true, true
	}
	return tmpl, applySANs(tmpl, xp.SANs)
}

// SelfSign issues the certificate a policy describes, signed by its own key.
func SelfSign(p *Policy, signer crypto.Signer, now time.Time) ([]byte, error) {
	tmpl, err := Template(p, now)
	if err != nil {
		return nil, err
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
}

// CSR makes the PKCS #10 certificate signing request of a policy.
func CSR(p *Policy, signer crypto.Signer) ([]byte, error) {
	tmpl, err := Template(p, time.Now())
	if err != nil {
		return nil, err
	}
	req := &x509.CertificateRequest{
		Subject: tmpl.Subject, DNSNames: tmpl.DNSNames, EmailAddresses: tmpl.EmailAddresses,
		IPAddresses: tmpl.IPAddresses, URIs: tmpl.URIs,
	}
	return x509.CreateCertificateRequest(rand.Reader, req, signer)
}

// Thumbprint returns the SHA-1 digest of a DER certificate, which Key Vault
// reports as x5t.
func Thumbprint(der []byte) []byte {
	sum := sha1.Sum(der)
	return sum[:]
}

// CheckMerge parses the chain a caller merges into a pending certificate
// (leaf first) and checks that the leaf carries the pending key.
func CheckMerge(chain [][]byte, pub crypto.PublicKey) ([]*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, bad("x5c must hold the signed certificate and, optionally, its chain.")
	}
	certs := make([]*x509.Certificate, 0, len(chain))
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, bad("x5c[%d] is not a DER certificate: %v.", i, err)
		}
		certs = append(certs, c)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := certs[0].PublicKey.(equaler); !ok || !e.Equal(pub) {
		return nil, bad("The public key of the merged certificate does not match the key of the pending request.")
	}
	return certs, nil
}

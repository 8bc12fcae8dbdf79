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
	"unicode"
	"unicode/utf8"
)

// subjectAttributes maps the attribute names a subject may use to their
// object identifiers (RFC 4519, and PKCS #9 for E and EMAILADDRESS).
var subjectAttributes = map[string]asn1.ObjectIdentifier{
	"CN": {2, 5, 4, 3}, "C": {2, 5, 4, 6}, "L": {2, 5, 4, 7}, "S": {2, 5, 4, 8}, "ST": {2, 5, 4, 8},
	"STREET": {2, 5, 4, 9}, "O": {2, 5, 4, 10}, "OU": {2, 5, 4, 11}, "SERIALNUMBER": {2, 5, 4, 5},
	"POSTALCODE": {2, 5, 4, 17}, "DC": {0, 9, 2342, 19200300, 100, 1, 25},
	"E": {1, 2, 840, 113549, 1, 9, 1}, "EMAIL": {1, 2, 840, 113549, 1, 9, 1}, "EMAILADDRESS": {1, 2, 840, 113549, 1, 9, 1},
}

// subjectNames are the attribute names FormatSubject writes, by object
// identifier.
var subjectNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.9": "STREET", "2.5.4.10": "O",
	"2.5.4.11": "OU", "2.5.4.5": "SERIALNUMBER", "2.5.4.17": "POSTALCODE", "0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1": "E",
}

// ParseSubject parses an X.500 name such as "CN=example.com, O=Contoso" into
// a pkix.Name. The text is in RFC 4514 order: the most specific attribute
// comes first and is the last one of the DER sequence. Commas or semicolons
// separate attributes, a backslash escapes the next character, and a value
// in double quotes may contain separators. An attribute type is a name of
// subjectAttributes or a dotted object identifier, optionally prefixed with
// "OID.". Multi-valued RDNs ("+") are not supported: a plus sign is part of
// the value.
func ParseSubject(s string) (pkix.Name, error) {
	if !utf8.ValidString(s) {
		return pkix.Name{}, bad("The subject is not valid UTF-8 text.")
	}
	attrs, err := splitSubject(s)
	if err != nil {
		return pkix.Name{}, err
	}
	if len(attrs) == 0 {
		return pkix.Name{}, bad("The subject '%s' is empty.", s)
	}

	rdns := make(pkix.RDNSequence, 0, len(attrs))
	for i := len(attrs) - 1; i >= 0; i-- {
		a := attrs[i]
		oid, ok := subjectAttributeType(a.key)
		if !ok || a.value == "" {
			return pkix.Name{}, bad("The subject '%s' is invalid: '%s' is not an attribute such as CN=name, O=organization.", s, a.text)
		}
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{Type: oid, Value: a.value}})
	}

	var name pkix.Name
	name.FillFromRDNSequence(&rdns)
	// ExtraNames holds every attribute in DER order, including ones that
	// FillFromRDNSequence has no field for (e-mail, DC). Marshaling writes
	// ExtraNames in place of the fields with the same types, so the
	// certificate gets exactly these attributes in this order.
	name.ExtraNames = nil
	for _, rdn := range rdns {
		name.ExtraNames = append(name.ExtraNames, rdn...)
	}
	return name, nil
}

// subjectAttr is one "key=value" of a subject. text is the attribute as
// written, for error messages.
type subjectAttr struct {
	key, value, text string
}

// splitSubject splits a subject into its attributes, resolving escapes and
// quotes. Empty parts (",,") are skipped.
func splitSubject(s string) ([]subjectAttr, error) {
	var attrs []subjectAttr
	var key, value []rune
	var literal []bool // per rune of value: escaped or quoted, so never trimmed
	var text strings.Builder
	inValue, quoted, closed, escaped := false, false, false, false
	flush := func() error {
		a := subjectAttr{key: strings.TrimSpace(string(key)), value: trimUnescaped(value, literal), text: strings.TrimSpace(text.String())}
		hadValue := inValue
		key, value, literal, inValue, closed = key[:0], value[:0], literal[:0], false, false
		text.Reset()
		if !hadValue && a.key == "" {
			return nil
		}
		if !hadValue {
			return bad("The subject '%s' is invalid: '%s' is not an attribute such as CN=name, O=organization.", s, a.text)
		}
		attrs = append(attrs, a)
		return nil
	}
	for _, r := range s {
		if r != ',' && r != ';' || escaped || quoted {
			text.WriteRune(r)
		}
		switch {
		case escaped:
			escaped = false
			switch {
			case closed:
				return nil, bad("The subject '%s' is invalid: text follows a quoted value.", s)
			case inValue:
				value, literal = append(value, r), append(literal, true)
			default:
				key = append(key, r)
			}
		case r == '\\':
			escaped = true
		case quoted:
			if r == '"' {
				quoted, closed = false, true
			} else {
				value, literal = append(value, r), append(literal, true)
			}
		case r == ',' || r == ';':
			if err := flush(); err != nil {
				return nil, err
			}
		case closed:
			if !unicode.IsSpace(r) {
				return nil, bad("The subject '%s' is invalid: text follows a quoted value.", s)
			}
		case !inValue:
			if r == '=' {
				inValue = true
			} else {
				key = append(key, r)
			}
		case r == '"' && trimUnescaped(value, literal) == "":
			quoted, value, literal = true, value[:0], literal[:0]
		default:
			value, literal = append(value, r), append(literal, false)
		}
	}
	if escaped {
		return nil, bad("The subject '%s' is invalid: it ends with a backslash.", s)
	}
	if quoted {
		return nil, bad("The subject '%s' is invalid: a quoted value is not closed.", s)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return attrs, nil
}

// trimUnescaped removes the white space at both ends of value that was
// neither escaped nor quoted.
func trimUnescaped(value []rune, literal []bool) string {
	start, end := 0, len(value)
	for start < end && !literal[start] && unicode.IsSpace(value[start]) {
		start++
	}
	for end > start && !literal[end-1] && unicode.IsSpace(value[end-1]) {
		end--
	}
	return string(value[start:end])
}

func subjectAttributeType(key string) (asn1.ObjectIdentifier, bool) {
	upper := strings.ToUpper(key)
	if oid, ok := subjectAttributes[upper]; ok {
		return oid, true
	}
	oid, err := parseOID(strings.TrimPrefix(upper, "OID."))
	return oid, err == nil
}

// FormatSubject writes an RDN sequence (DER order) in the text form that
// ParseSubject reads, in RFC 4514 order. Attribute types are the names of
// subjectNames or dotted object identifiers. A backslash escapes separators,
// quotes, backslashes and white space at either end of a value. The
// attributes of a multi-valued RDN become separate attributes.
func FormatSubject(rdns pkix.RDNSequence) string {
	var parts []string
	for i := len(rdns) - 1; i >= 0; i-- {
		for j := len(rdns[i]) - 1; j >= 0; j-- {
			atv := rdns[i][j]
			value, ok := atv.Value.(string)
			if !ok {
				continue
			}
			name := subjectNames[atv.Type.String()]
			if name == "" {
				name = atv.Type.String()
			}
			parts = append(parts, name+"="+escapeSubjectValue(value))
		}
	}
	return strings.Join(parts, ", ")
}

func escapeSubjectValue(v string) string {
	runes := []rune(v)
	var b strings.Builder
	for i, r := range runes {
		edge := i == 0 || i == len(runes)-1
		if strings.ContainsRune(`\,;"`, r) || edge && unicode.IsSpace(r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// CertificateSubject returns the subject of c in the text form that
// ParseSubject reads, such as "CN=example.com, O=Contoso".
func CertificateSubject(c *x509.Certificate) string {
	rdns := make(pkix.RDNSequence, 0, len(c.Subject.Names))
	for _, atv := range c.Subject.Names {
		rdns = append(rdns, pkix.RelativeDistinguishedNameSET{atv})
	}
	return FormatSubject(rdns)
}

// parseOID parses a dotted object identifier. The arcs must be decimal
// numbers, and the first two must be encodable in DER (X.690, section
// 8.19.4): the first arc is 0, 1 or 2, and the second is below 40 unless
// the first is 2.
func parseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	for _, p := range strings.Split(s, ".") {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return nil, fmt.Errorf("invalid object identifier %q", s)
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("invalid object identifier %q", s)
		}
		oid = append(oid, n)
	}
	if len(oid) < 2 || oid[0] > 2 || oid[0] < 2 && oid[1] >= 40 {
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

// Object identifiers of the key usage and extended key usage extensions
// (RFC 5280, sections 4.2.1.3 and 4.2.1.12).
var (
	oidExtensionKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtensionExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// usageExtensions encodes the key usage (critical) and extended key usage
// extensions byte for byte as crypto/x509 (Go 1.26) writes KeyUsage and
// UnknownExtKeyUsage in certificates, so that certificates and CSRs share
// one encoding. An empty key usage or OID list leaves its extension out.
func usageExtensions(usage x509.KeyUsage, ekus []asn1.ObjectIdentifier) ([]pkix.Extension, error) {
	var exts []pkix.Extension
	if usage != 0 {
		// Bit n of x509.KeyUsage is bit n of the named bit list. DER numbers
		// the bits of each byte from the most significant one and drops
		// trailing zero bits.
		var bits asn1.BitString
		for n := 0; usage>>n != 0; n++ {
			if n%8 == 0 {
				bits.Bytes = append(bits.Bytes, 0)
			}
			if usage&(1<<n) != 0 {
				bits.Bytes[n/8] |= 0x80 >> (n % 8)
				bits.BitLength = n + 1
			}
		}
		value, err := asn1.Marshal(bits)
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: oidExtensionKeyUsage, Critical: true, Value: value})
	}
	if len(ekus) > 0 {
		value, err := asn1.Marshal(ekus)
		if err != nil {
			return nil, bad("The extended key usages %v cannot be encoded: %v.", ekus, err)
		}
		exts = append(exts, pkix.Extension{Id: oidExtensionExtKeyUsage, Value: value})
	}
	return exts, nil
}

// upnOID is the otherName type of a user principal name (Microsoft).
var upnOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}

// applySANs adds the policy's subject alternative names to tmpl. DNS names,
// e-mail addresses and URIs are IA5Strings (RFC 5280, section 4.2.1.6), so
// they must be ASCII: internationalized names go in their punycode form.
// User principal names need an otherName entry, which crypto/x509 cannot
// write, so they are rejected.
func applySANs(tmpl *x509.Certificate, sans *SANs) error {
	if sans == nil {
		return nil
	}
	for _, name := range sans.DNSNames {
		if !isVisibleASCII(name) {
			return bad("The subject alternative name DNS name '%s' is invalid: use ASCII without spaces, and the punycode (xn--) form of internationalized names.", name)
		}
	}
	for _, email := range sans.Emails {
		local, domain, ok := strings.Cut(email, "@")
		if !isVisibleASCII(email) || !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
			return bad("The subject alternative name e-mail address '%s' is invalid: use an ASCII address such as name@example.com.", email)
		}
	}
	tmpl.DNSNames = sans.DNSNames
	tmpl.EmailAddresses = sans.Emails
	for _, u := range sans.URIs {
		parsed, err := url.Parse(u)
		if err != nil || parsed.Scheme == "" || !isVisibleASCII(u) || parsed.Host != "" && !isVisibleASCII(parsed.Host) {
			return bad("The subject alternative name URI '%s' is invalid: use an absolute ASCII URI such as https://example.com/path.", u)
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

// isVisibleASCII reports whether s is not empty and has only visible ASCII
// characters (0x21 to 0x7e).
func isVisibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
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
	// The extensions go in ExtraExtensions, where crypto/x509 uses them in
	// place of its own encoding of KeyUsage and UnknownExtKeyUsage, so that
	// CSR can put the same bytes into the certificate signing request.
	if tmpl.ExtraExtensions, err = usageExtensions(tmpl.KeyUsage, tmpl.UnknownExtKeyUsage); err != nil {
		return nil, err
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
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return nil, err
	}
	// crypto/x509 writes some names that it refuses to read back, such as
	// a URI whose host ends with a dot. Every read of the stored
	// certificate would then fail, so reject the policy instead.
	if _, err := x509.ParseCertificate(der); err != nil {
		return nil, bad("The policy describes a certificate that cannot be read back: %v.", err)
	}
	return der, nil
}

// CSR makes the PKCS #10 certificate signing request of a policy. It
// requests the subject alternative names, key usage and extended key usage
// that SelfSign would write into the certificate.
func CSR(p *Policy, signer crypto.Signer) ([]byte, error) {
	tmpl, err := Template(p, time.Now())
	if err != nil {
		return nil, err
	}
	req := &x509.CertificateRequest{
		Subject: tmpl.Subject, DNSNames: tmpl.DNSNames, EmailAddresses: tmpl.EmailAddresses,
		IPAddresses: tmpl.IPAddresses, URIs: tmpl.URIs, ExtraExtensions: tmpl.ExtraExtensions,
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, req, signer)
	if err != nil {
		return nil, err
	}
	if _, err := x509.ParseCertificateRequest(der); err != nil {
		return nil, bad("The policy describes a certificate request that cannot be read back: %v.", err)
	}
	return der, nil
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

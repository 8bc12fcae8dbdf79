package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Object identifiers of the attributes and extended key usages the tests
// name (RFC 4519, PKCS #9 and RFC 5280).
var (
	oidCN         = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidC          = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO          = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU         = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidDC         = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidEmail      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidPostalCode = asn1.ObjectIdentifier{2, 5, 4, 17}
)

// testKeys caches one key of each kind, because RSA key generation is slow
// and no test depends on a fresh key.
var testKeys struct {
	once                    sync.Once
	err                     error
	rsa, rsa2               *rsa.PrivateKey
	p256, p384, ca, interCA *ecdsa.PrivateKey
}

func loadTestKeys(tb testing.TB) {
	tb.Helper()
	testKeys.once.Do(func() {
		genEC := func(c elliptic.Curve) *ecdsa.PrivateKey {
			k, err := ecdsa.GenerateKey(c, rand.Reader)
			testKeys.err = errors.Join(testKeys.err, err)
			return k
		}
		genRSA := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			testKeys.err = errors.Join(testKeys.err, err)
			return k
		}
		testKeys.rsa, testKeys.rsa2 = genRSA(), genRSA()
		testKeys.p256, testKeys.p384 = genEC(elliptic.P256()), genEC(elliptic.P384())
		testKeys.ca, testKeys.interCA = genEC(elliptic.P256()), genEC(elliptic.P256())
	})
	if testKeys.err != nil {
		tb.Fatalf("generate test keys: %v", testKeys.err)
	}
}

func rsaKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	loadTestKeys(tb)
	return testKeys.rsa
}

func otherRSAKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	loadTestKeys(tb)
	return testKeys.rsa2
}

func p256Key(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	loadTestKeys(tb)
	return testKeys.p256
}

func p384Key(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	loadTestKeys(tb)
	return testKeys.p384
}

// issue signs a certificate for pub with the common name cn. A nil parent
// makes it self-signed by signer, and isCA makes it a CA certificate.
func issue(tb testing.TB, cn string, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer, isCA bool) *x509.Certificate {
	tb.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"KeyVault Tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{strings.ReplaceAll(cn, " ", "-") + ".example.test"},
	}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		tmpl.DNSNames = nil
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		tb.Fatalf("create certificate %q: %v", cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("parse certificate %q: %v", cn, err)
	}
	return c
}

// testChain issues root -> intermediate -> leaf, the leaf for leafKey, and
// returns the three certificates.
func testChain(tb testing.TB, leafKey crypto.Signer) (leaf, intermediate, root *x509.Certificate) {
	tb.Helper()
	loadTestKeys(tb)
	caKey, intKey := testKeys.ca, testKeys.interCA
	root = issue(tb, "Test Root", caKey.Public(), nil, caKey, true)
	intermediate = issue(tb, "Test Intermediate", intKey.Public(), root, caKey, true)
	leaf = issue(tb, "leaf", leafKey.Public(), intermediate, intKey, false)
	return leaf, intermediate, root
}

func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func pkcs8PEM(tb testing.TB, key crypto.PrivateKey) string {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatalf("marshal PKCS #8 key: %v", err)
	}
	return pemBlock("PRIVATE KEY", der)
}

// wantError fails t unless err is an *Error with the given code.
func wantError(t *testing.T, err error, code string) {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want *Error with code %s", err, err, code)
	}
	if ce.Code != code {
		t.Errorf("error code = %s (%s), want %s", ce.Code, ce.Message, code)
	}
	if ce.Message == "" {
		t.Errorf("error %s has an empty message", ce.Code)
	}
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestWithDefaults(t *testing.T) {
	defaultActions := []LifetimeAction{{Trigger: Trigger{LifetimePercentage: 80}, Action: Action{ActionType: ActionAutoRenew}}}
	tests := []struct {
		name string
		in   *Policy
		want *Policy
	}{
		{
			name: "NilPolicy",
			in:   nil,
			want: &Policy{
				KeyProps:        &KeyProps{Exportable: boolPtr(true), Kty: "RSA", KeySize: 2048, ReuseKey: boolPtr(false)},
				SecretProps:     &SecretProps{ContentType: ContentTypePKCS12},
				X509Props:       &X509Props{ValidityMonths: 12, KeyUsage: []string{"digitalSignature", "keyEncipherment"}},
				LifetimeActions: defaultActions,
				Issuer:          &IssuerParams{Name: IssuerSelf},
				Attributes:      &PolicyAttrs{Enabled: boolPtr(true)},
			},
		},
		{
			name: "CurveImpliesEC",
			in:   &Policy{KeyProps: &KeyProps{Curve: "P-384"}, X509Props: &X509Props{Subject: "CN=ec"}},
			want: &Policy{
				KeyProps:        &KeyProps{Exportable: boolPtr(true), Kty: "EC", Curve: "P-384", ReuseKey: boolPtr(false)},
				SecretProps:     &SecretProps{ContentType: ContentTypePKCS12},
				X509Props:       &X509Props{Subject: "CN=ec", ValidityMonths: 12, KeyUsage: []string{"digitalSignature", "keyEncipherment"}},
				LifetimeActions: defaultActions,
				Issuer:          &IssuerParams{Name: IssuerSelf},
				Attributes:      &PolicyAttrs{Enabled: boolPtr(true)},
			},
		},
		{
			name: "ECWithoutCurve",
			in:   &Policy{KeyProps: &KeyProps{Kty: "EC-HSM"}},
			want: &Policy{
				KeyProps:        &KeyProps{Exportable: boolPtr(true), Kty: "EC-HSM", Curve: "P-256", ReuseKey: boolPtr(false)},
				SecretProps:     &SecretProps{ContentType: ContentTypePKCS12},
				X509Props:       &X509Props{ValidityMonths: 12, KeyUsage: []string{"digitalSignature", "keyEncipherment"}},
				LifetimeActions: defaultActions,
				Issuer:          &IssuerParams{Name: IssuerSelf},
				Attributes:      &PolicyAttrs{Enabled: boolPtr(true)},
			},
		},
		{
			name: "GivenValuesKept",
			in: &Policy{
				KeyProps:    &KeyProps{Exportable: boolPtr(false), Kty: "RSA-HSM", KeySize: 4096, ReuseKey: boolPtr(true)},
				SecretProps: &SecretProps{ContentType: ContentTypePEM},
				X509Props: &X509Props{Subject: "CN=kept", ValidityMonths: 36, KeyUsage: []string{"keyCertSign"},
					EKUs: []string{"1.3.6.1.5.5.7.3.1"}},
				LifetimeActions: []LifetimeAction{{Trigger: Trigger{DaysBeforeExpiry: 30}, Action: Action{ActionType: ActionEmailContacts}}},
				Issuer:          &IssuerParams{Name: "Self", CertificateType: "OV-SSL"},
				Attributes:      &PolicyAttrs{Enabled: boolPtr(false)},
			},
			want: &Policy{
				KeyProps:    &KeyProps{Exportable: boolPtr(false), Kty: "RSA-HSM", KeySize: 4096, ReuseKey: boolPtr(true)},
				SecretProps: &SecretProps{ContentType: ContentTypePEM},
				X509Props: &X509Props{Subject: "CN=kept", ValidityMonths: 36, KeyUsage: []string{"keyCertSign"},
					EKUs: []string{"1.3.6.1.5.5.7.3.1"}},
				LifetimeActions: []LifetimeAction{{Trigger: Trigger{DaysBeforeExpiry: 30}, Action: Action{ActionType: ActionEmailContacts}}},
				Issuer:          &IssuerParams{Name: "Self", CertificateType: "OV-SSL"},
				Attributes:      &PolicyAttrs{Enabled: boolPtr(false)},
			},
		},
		{
			name: "OtherIssuerEmailsContacts",
			in:   &Policy{Issuer: &IssuerParams{Name: "Unknown"}, X509Props: &X509Props{Subject: "CN=csr"}},
			want: &Policy{
				KeyProps:    &KeyProps{Exportable: boolPtr(true), Kty: "RSA", KeySize: 2048, ReuseKey: boolPtr(false)},
				SecretProps: &SecretProps{ContentType: ContentTypePKCS12},
				X509Props:   &X509Props{Subject: "CN=csr", ValidityMonths: 12, KeyUsage: []string{"digitalSignature", "keyEncipherment"}},
				LifetimeActions: []LifetimeAction{
					{Trigger: Trigger{LifetimePercentage: 80}, Action: Action{ActionType: ActionEmailContacts}}},
				Issuer:     &IssuerParams{Name: "Unknown"},
				Attributes: &PolicyAttrs{Enabled: boolPtr(true)},
			},
		},
		{
			name: "EmptyIssuerNameIsSelf",
			in:   &Policy{Issuer: &IssuerParams{CertificateType: "EV-SSL"}, Attributes: &PolicyAttrs{Created: 7}},
			want: &Policy{
				KeyProps:        &KeyProps{Exportable: boolPtr(true), Kty: "RSA", KeySize: 2048, ReuseKey: boolPtr(false)},
				SecretProps:     &SecretProps{ContentType: ContentTypePKCS12},
				X509Props:       &X509Props{ValidityMonths: 12, KeyUsage: []string{"digitalSignature", "keyEncipherment"}},
				LifetimeActions: defaultActions,
				Issuer:          &IssuerParams{Name: IssuerSelf, CertificateType: "EV-SSL"},
				Attributes:      &PolicyAttrs{Enabled: boolPtr(true), Created: 7},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := asJSON(tt.in)
			got := WithDefaults(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("WithDefaults(%s)\n got %s\nwant %s", before, asJSON(got), asJSON(tt.want))
			}
			if after := asJSON(tt.in); after != before {
				t.Errorf("WithDefaults changed its input: got %s, want %s", after, before)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	valid := func() *Policy { return WithDefaults(&Policy{X509Props: &X509Props{Subject: "CN=valid"}}) }
	tests := []struct {
		name string
		edit func(p *Policy)
		code string // empty when the policy is valid
	}{
		{name: "Defaults", edit: func(p *Policy) {}},
		{name: "RSA3072", edit: func(p *Policy) { p.KeyProps.KeySize = 3072 }},
		{name: "RSA4096HSM", edit: func(p *Policy) { p.KeyProps.Kty, p.KeyProps.KeySize = "RSA-HSM", 4096 }},
		{name: "RSA1024", edit: func(p *Policy) { p.KeyProps.KeySize = 1024 }, code: "BadParameter"},
		{name: "RSAWithCurve", edit: func(p *Policy) { p.KeyProps.Curve = "P-256" }, code: "BadParameter"},
		{name: "ECP521", edit: func(p *Policy) { p.KeyProps.Kty, p.KeyProps.KeySize, p.KeyProps.Curve = "EC", 0, "P-521" }},
		{name: "ECUnknownCurve", edit: func(p *Policy) { p.KeyProps.Kty, p.KeyProps.Curve = "EC", "P-224" }, code: "KeyCurveNotSupported"},
		{name: "OctKey", edit: func(p *Policy) { p.KeyProps.Kty = "oct" }, code: "BadParameter"},
		{name: "PEMContentType", edit: func(p *Policy) { p.SecretProps.ContentType = ContentTypePEM }},
		{name: "TextContentType", edit: func(p *Policy) { p.SecretProps.ContentType = "text/plain" }, code: "BadParameter"},
		{name: "ValidityZero", edit: func(p *Policy) { p.X509Props.ValidityMonths = 0 }, code: "BadParameter"},
		{name: "Validity1200", edit: func(p *Policy) { p.X509Props.ValidityMonths = 1200 }},
		{name: "Validity1201", edit: func(p *Policy) { p.X509Props.ValidityMonths = 1201 }, code: "BadParameter"},
		{name: "AllKeyUsages", edit: func(p *Policy) { p.X509Props.KeyUsage = slices.Clone(keyUsageNames) }},
		{name: "UnknownKeyUsage", edit: func(p *Policy) { p.X509Props.KeyUsage = []string{"signEverything"} }, code: "BadParameter"},
		{name: "ServerAuthEKU", edit: func(p *Policy) { p.X509Props.EKUs = []string{"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"} }},
		{name: "EKUNotOID", edit: func(p *Policy) { p.X509Props.EKUs = []string{"serverAuth"} }, code: "BadParameter"},
		{name: "EKUOneArc", edit: func(p *Policy) { p.X509Props.EKUs = []string{"1"} }, code: "BadParameter"},
		// X.690 allows first arcs 0, 1 and 2 only, and second arcs below 40
		// under 0 and 1: such identifiers cannot be encoded in a certificate.
		{name: "EKUFirstArc3", edit: func(p *Policy) { p.X509Props.EKUs = []string{"3.1.2"} }, code: "BadParameter"},
		{name: "EKUSecondArc40", edit: func(p *Policy) { p.X509Props.EKUs = []string{"1.40.1"} }, code: "BadParameter"},
		{name: "SANsWithoutSubject", edit: func(p *Policy) {
			p.X509Props.Subject, p.X509Props.SANs = "", &SANs{DNSNames: []string{"only.example"}}
		}},
		{name: "NoSubjectNoSANs", edit: func(p *Policy) { p.X509Props.Subject, p.X509Props.SANs = "", &SANs{} }, code: "BadParameter"},
		{name: "BadSubject", edit: func(p *Policy) { p.X509Props.Subject = "example.com" }, code: "BadParameter"},
		{name: "DaysBeforeExpiry", edit: func(p *Policy) {
			p.LifetimeActions = []LifetimeAction{{Trigger: Trigger{DaysBeforeExpiry: 30}, Action: Action{ActionType: ActionAutoRenew}}}
		}},
		{name: "BothTriggers", edit: func(p *Policy) {
			p.LifetimeActions[0].Trigger = Trigger{LifetimePercentage: 50, DaysBeforeExpiry: 10}
		}, code: "BadParameter"},
		{name: "NoTrigger", edit: func(p *Policy) { p.LifetimeActions[0].Trigger = Trigger{} }, code: "BadParameter"},
		{name: "Percentage99", edit: func(p *Policy) { p.LifetimeActions[0].Trigger.LifetimePercentage = 99 }},
		{name: "Percentage100", edit: func(p *Policy) { p.LifetimeActions[0].Trigger.LifetimePercentage = 100 }, code: "BadParameter"},
		{name: "NegativePercentage", edit: func(p *Policy) { p.LifetimeActions[0].Trigger.LifetimePercentage = -5 }, code: "BadParameter"},
		{name: "DaysAtLimit", edit: func(p *Policy) { p.LifetimeActions[0].Trigger = Trigger{DaysBeforeExpiry: 12 * 27} }},
		{name: "DaysPastValidity", edit: func(p *Policy) { p.LifetimeActions[0].Trigger = Trigger{DaysBeforeExpiry: 12*27 + 1} }, code: "BadParameter"},
		{name: "NegativeDays", edit: func(p *Policy) { p.LifetimeActions[0].Trigger = Trigger{DaysBeforeExpiry: -1} }, code: "BadParameter"},
		{name: "UnknownAction", edit: func(p *Policy) { p.LifetimeActions[0].Action.ActionType = "Rotate" }, code: "BadParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := valid()
			tt.edit(p)
			err := Validate(p)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Validate(%s) = %v, want nil", asJSON(p), err)
				}
				return
			}
			wantError(t, err, tt.code)
		})
	}
}

// rdnStrings lists the attributes of name in DER order as "oid=value".
func rdnStrings(name pkix.Name) []string {
	var out []string
	for _, rdn := range name.ToRDNSequence() {
		for _, atv := range rdn {
			s, _ := atv.Value.(string)
			out = append(out, atv.Type.String()+"="+s)
		}
	}
	return out
}

func TestParseSubject(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		want    []string // attributes in DER order: the last one written comes first
		check   func(t *testing.T, n pkix.Name)
	}{
		{
			name:    "CommonName",
			subject: "CN=example.com",
			want:    []string{oidCN.String() + "=example.com"},
			check: func(t *testing.T, n pkix.Name) {
				if n.CommonName != "example.com" {
					t.Errorf("CommonName = %q, want example.com", n.CommonName)
				}
			},
		},
		{
			name:    "FourAttributes",
			subject: "CN=www.contoso.com, OU=IT, O=Contoso, C=US",
			want: []string{oidC.String() + "=US", oidO.String() + "=Contoso", oidOU.String() + "=IT",
				oidCN.String() + "=www.contoso.com"},
			check: func(t *testing.T, n pkix.Name) {
				if n.CommonName != "www.contoso.com" || !slices.Equal(n.Organization, []string{"Contoso"}) ||
					!slices.Equal(n.OrganizationalUnit, []string{"IT"}) || !slices.Equal(n.Country, []string{"US"}) {
					t.Errorf("name = %+v, want CN www.contoso.com, O Contoso, OU IT, C US", n)
				}
				if got, want := n.String(), "CN=www.contoso.com,OU=IT,O=Contoso,C=US"; got != want {
					t.Errorf("String() = %q, want %q", got, want)
				}
			},
		},
		{
			name:    "EscapedComma",
			subject: `CN=Doe\, John, O=Contoso`,
			want:    []string{oidO.String() + "=Contoso", oidCN.String() + "=Doe, John"},
		},
		{
			name:    "QuotedComma",
			subject: `O="Contoso, Inc.", CN=quoted`,
			want:    []string{oidCN.String() + "=quoted", oidO.String() + "=Contoso, Inc."},
		},
		{
			name:    "EscapedBackslashAndQuote",
			subject: `CN=back\\slash \"q\"`,
			want:    []string{oidCN.String() + `=back\slash "q"`},
		},
		{
			name:    "EscapedSpaceKept",
			subject: `CN=\ padded\ `,
			want:    []string{oidCN.String() + "= padded "},
		},
		{
			name:    "Email",
			subject: "CN=Jane, E=jane@example.com",
			want:    []string{oidEmail.String() + "=jane@example.com", oidCN.String() + "=Jane"},
		},
		{
			name:    "EmailLongName",
			subject: "emailAddress=jane@example.com",
			want:    []string{oidEmail.String() + "=jane@example.com"},
		},
		{
			name:    "LowerCaseSemicolons",
			subject: " cn = lower ; o = semi ",
			want:    []string{oidO.String() + "=semi", oidCN.String() + "=lower"},
		},
		{
			name:    "DomainComponents",
			subject: "CN=host, DC=example, DC=com",
			want:    []string{oidDC.String() + "=com", oidDC.String() + "=example", oidCN.String() + "=host"},
		},
		{
			name:    "DottedOID",
			subject: "CN=x, 2.5.4.17=98052, OID.2.5.4.17=98053",
			want:    []string{oidPostalCode.String() + "=98053", oidPostalCode.String() + "=98052", oidCN.String() + "=x"},
		},
		{
			name:    "EqualsInValue",
			subject: "CN=a=b",
			want:    []string{oidCN.String() + "=a=b"},
		},
		{
			name:    "EmptyPartsSkipped",
			subject: "CN=a,,O=b,",
			want:    []string{oidO.String() + "=b", oidCN.String() + "=a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := ParseSubject(tt.subject)
			if err != nil {
				t.Fatalf("ParseSubject(%q): %v", tt.subject, err)
			}
			if got := rdnStrings(n); !slices.Equal(got, tt.want) {
				t.Errorf("ParseSubject(%q) attributes = %q, want %q", tt.subject, got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, n)
			}
		})
	}
}

func TestParseSubjectErrors(t *testing.T) {
	for _, subject := range []string{
		"", "   ", ",;,", "CN", "example.com", "X=1", "CN=", "CN=  ", `CN=""`, "=value",
		`CN="unterminated`, `CN="a"b`, `CN=trailing\`, "CN=\xff", "5.100=bad-oid", "1.2.x=bad-oid",
	} {
		t.Run(subject, func(t *testing.T) {
			_, err := ParseSubject(subject)
			wantError(t, err, "BadParameter")
		})
	}
}

func TestFormatSubjectRoundTrip(t *testing.T) {
	loadTestKeys(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject: pkix.Name{
			CommonName: "Doe, John", Organization: []string{`Quote "Co"; Ltd`}, Country: []string{"US"},
			PostalCode: []string{"98052"},
			ExtraNames: nil,
		},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
	}
	tmpl.Subject.ExtraNames = []pkix.AttributeTypeAndValue{{Type: oidEmail, Value: "jane@example.com"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, testKeys.ca.Public(), testKeys.ca)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	s := CertificateSubject(c)
	n, err := ParseSubject(s)
	if err != nil {
		t.Fatalf("ParseSubject(CertificateSubject) = %v for %q", err, s)
	}
	raw, err := asn1.Marshal(n.ToRDNSequence())
	if err != nil {
		t.Fatalf("marshal parsed subject: %v", err)
	}
	if !bytes.Equal(raw, c.RawSubject) {
		t.Errorf("subject %q parses to %x, want the certificate's %x", s, raw, c.RawSubject)
	}
	for _, part := range []string{`CN=Doe\, John`, "E=jane@example.com", "C=US", "POSTALCODE=98052"} {
		if !strings.Contains(s, part) {
			t.Errorf("CertificateSubject = %q, want it to contain %q", s, part)
		}
	}
}

func TestTemplateKeyUsage(t *testing.T) {
	want := map[string]x509.KeyUsage{
		"digitalSignature": x509.KeyUsageDigitalSignature, "nonRepudiation": x509.KeyUsageContentCommitment,
		"keyEncipherment": x509.KeyUsageKeyEncipherment, "dataEncipherment": x509.KeyUsageDataEncipherment,
		"keyAgreement": x509.KeyUsageKeyAgreement, "keyCertSign": x509.KeyUsageCertSign, "cRLSign": x509.KeyUsageCRLSign,
		"encipherOnly": x509.KeyUsageEncipherOnly, "decipherOnly": x509.KeyUsageDecipherOnly,
	}
	if len(want) != len(keyUsageNames) {
		t.Fatalf("test covers %d key usages, want all %d", len(want), len(keyUsageNames))
	}
	for _, name := range keyUsageNames {
		t.Run(name, func(t *testing.T) {
			p := WithDefaults(&Policy{X509Props: &X509Props{Subject: "CN=ku", KeyUsage: []string{name}}})
			tmpl, err := Template(p, time.Now())
			if err != nil {
				t.Fatalf("Template: %v", err)
			}
			if tmpl.KeyUsage != want[name] {
				t.Errorf("KeyUsage = %b, want %b", tmpl.KeyUsage, want[name])
			}
			if isCA := name == "keyCertSign"; tmpl.IsCA != isCA || tmpl.BasicConstraintsValid != isCA {
				t.Errorf("IsCA = %v, BasicConstraintsValid = %v, want both %v", tmpl.IsCA, tmpl.BasicConstraintsValid, isCA)
			}
		})
	}
}

func TestTemplateIssuedCertificate(t *testing.T) {
	key := p256Key(t)
	now := time.Date(2030, 1, 31, 12, 0, 0, 0, time.UTC)
	p := WithDefaults(&Policy{X509Props: &X509Props{
		Subject:        "CN=svc.example.com, O=Contoso",
		EKUs:           []string{"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.311.20.2.2"},
		ValidityMonths: 13,
		SANs: &SANs{
			DNSNames: []string{"svc.example.com", "*.svc.example.com"}, Emails: []string{"ops@example.com"},
			IPAddresses: []string{"127.0.0.1", "::1"}, URIs: []string{"spiffe://example.com/svc"},
		},
	}})
	der, err := SelfSign(p, key, now)
	if err != nil {
		t.Fatalf("SelfSign: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if got, want := c.Subject.String(), "CN=svc.example.com,O=Contoso"; got != want {
		t.Errorf("subject = %q, want %q", got, want)
	}
	if !bytes.Equal(c.RawSubject, c.RawIssuer) {
		t.Errorf("issuer %q differs from subject %q in a self-signed certificate", c.Issuer, c.Subject)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Errorf("self signature: %v", err)
	}
	if got, want := c.KeyUsage, x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment; got != want {
		t.Errorf("KeyUsage = %b, want %b", got, want)
	}
	if want := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}; !slices.Equal(c.ExtKeyUsage, want) {
		t.Errorf("ExtKeyUsage = %v, want %v", c.ExtKeyUsage, want)
	}
	smartcard := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 2}
	if len(c.UnknownExtKeyUsage) != 1 || !c.UnknownExtKeyUsage[0].Equal(smartcard) {
		t.Errorf("UnknownExtKeyUsage = %v, want [%v]", c.UnknownExtKeyUsage, smartcard)
	}
	if want := []string{"svc.example.com", "*.svc.example.com"}; !slices.Equal(c.DNSNames, want) {
		t.Errorf("DNSNames = %q, want %q", c.DNSNames, want)
	}
	if want := []string{"ops@example.com"}; !slices.Equal(c.EmailAddresses, want) {
		t.Errorf("EmailAddresses = %q, want %q", c.EmailAddresses, want)
	}
	if len(c.IPAddresses) != 2 || !c.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || !c.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IPAddresses = %v, want [127.0.0.1 ::1]", c.IPAddresses)
	}
	if len(c.URIs) != 1 || c.URIs[0].String() != "spiffe://example.com/svc" {
		t.Errorf("URIs = %v, want [spiffe://example.com/svc]", c.URIs)
	}
	if want := now.Add(-5 * time.Minute); !c.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", c.NotBefore, want)
	}
	// January 31 plus 13 months normalizes to March 3 (February has 28 days
	// in 2031), as time.AddDate does.
	if want := time.Date(2031, 3, 3, 12, 0, 0, 0, time.UTC); !c.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", c.NotAfter, want)
	}
	if c.IsCA {
		t.Errorf("IsCA = true without keyCertSign")
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		name string
		x509 X509Props
	}{
		{name: "UPN", x509: X509Props{SANs: &SANs{UPNs: []string{"jane@contoso.com"}}}},
		{name: "BadIP", x509: X509Props{SANs: &SANs{IPAddresses: []string{"300.1.1.1"}}}},
		{name: "URIWithoutScheme", x509: X509Props{SANs: &SANs{URIs: []string{"example.com/path"}}}},
		{name: "URINonASCIIHost", x509: X509Props{SANs: &SANs{URIs: []string{"https://bücher.example/"}}}},
		{name: "URIEscapedNonASCIIHost", x509: X509Props{SANs: &SANs{URIs: []string{"https://b%C3%BCcher.example/"}}}},
		{name: "DNSNonASCII", x509: X509Props{SANs: &SANs{DNSNames: []string{"bücher.example"}}}},
		{name: "DNSEmpty", x509: X509Props{SANs: &SANs{DNSNames: []string{""}}}},
		{name: "DNSWithSpace", x509: X509Props{SANs: &SANs{DNSNames: []string{"a b.example"}}}},
		{name: "EmailNonASCII", x509: X509Props{SANs: &SANs{Emails: []string{"jané@example.com"}}}},
		{name: "EmailWithoutAt", x509: X509Props{SANs: &SANs{Emails: []string{"jane.example.com"}}}},
		{name: "EmailTwoAts", x509: X509Props{SANs: &SANs{Emails: []string{"a@b@example.com"}}}},
		{name: "BadEKU", x509: X509Props{Subject: "CN=x", EKUs: []string{"1.3.6.x"}}},
		{name: "BadSubject", x509: X509Props{Subject: "CN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := WithDefaults(&Policy{X509Props: &tt.x509})
			_, err := Template(p, time.Now())
			wantError(t, err, "BadParameter")
			// Validate rejects the same policies, so that no stored
			// policy fails only later, at renewal.
			wantError(t, Validate(p), "BadParameter")
		})
	}
}

// crypto/x509 writes a URI whose host ends with a dot but refuses to parse
// it back, so SelfSign and CSR must reject the policy rather than return a
// certificate that no later read can parse.
func TestSelfSignUnreadableName(t *testing.T) {
	p := WithDefaults(&Policy{X509Props: &X509Props{Subject: "CN=x", SANs: &SANs{URIs: []string{"https://example./"}}}})
	_, err := SelfSign(p, p256Key(t), time.Now())
	wantError(t, err, "BadParameter")
	_, err = CSR(p, p256Key(t))
	wantError(t, err, "BadParameter")
}

func TestCSR(t *testing.T) {
	key := rsaKey(t)
	p := WithDefaults(&Policy{X509Props: &X509Props{
		Subject: "CN=csr.example.com, O=Contoso",
		SANs:    &SANs{DNSNames: []string{"csr.example.com"}, IPAddresses: []string{"10.0.0.1"}},
	}})
	req := mustCSR(t, p, key)
	if got, want := req.Subject.String(), "CN=csr.example.com,O=Contoso"; got != want {
		t.Errorf("CSR subject = %q, want %q", got, want)
	}
	if !slices.Equal(req.DNSNames, []string{"csr.example.com"}) {
		t.Errorf("CSR DNSNames = %q, want [csr.example.com]", req.DNSNames)
	}
	if len(req.IPAddresses) != 1 || !req.IPAddresses[0].Equal(net.ParseIP("10.0.0.1")) {
		t.Errorf("CSR IPAddresses = %v, want [10.0.0.1]", req.IPAddresses)
	}
	if !key.PublicKey.Equal(req.PublicKey) {
		t.Errorf("CSR public key differs from the signer's")
	}
}

// Extended key usage OIDs of the usage tests: TLS server and client
// (RFC 5280), smart card logon (Microsoft), and a private OID that
// crypto/x509 has no name for.
var (
	oidServerAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	oidClientAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
	oidSmartcard  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 2}
	oidCustomEKU  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 2, 3}
)

// findExtension returns the extension id of exts, or nil without one.
// mustCSR makes the CSR of p with key, parses it and checks its signature.
func mustCSR(t *testing.T, p *Policy, key crypto.Signer) *x509.CertificateRequest {
	t.Helper()
	der, err := CSR(p, key)
	if err != nil {
		t.Fatalf("CSR: %v", err)
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatalf("parse CSR: %v", err)
	}
	if err := req.CheckSignature(); err != nil {
		t.Errorf("CSR signature: %v", err)
	}
	return req
}

// findExtension returns the extension id of exts, or nil.
func findExtension(exts []pkix.Extension, id asn1.ObjectIdentifier) *pkix.Extension {
	for i := range exts {
		if exts[i].Id.Equal(id) {
			return &exts[i]
		}
	}
	return nil
}

// certificateFromCSR issues a certificate whose extensions are those req
// requests, as a CA that copies requested extensions does, so that
// crypto/x509 parses them into KeyUsage, ExtKeyUsage and the SAN fields.
func certificateFromCSR(t *testing.T, req *x509.CertificateRequest) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: req.Subject, ExtraExtensions: req.Extensions,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, req.PublicKey, p256Key(t))
	if err != nil {
		t.Fatalf("issue a certificate from the CSR: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse the certificate issued from the CSR: %v", err)
	}
	return c
}

func TestUsageExtensionsMatchX509(t *testing.T) {
	key := p256Key(t)
	usages := []x509.KeyUsage{0, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		x509.KeyUsageEncipherOnly | x509.KeyUsageDecipherOnly, 1<<9 - 1}
	for bit := range 9 {
		usages = append(usages, 1<<bit)
	}
	ekuLists := [][]asn1.ObjectIdentifier{nil, {oidServerAuth}, {oidClientAuth, oidSmartcard, oidServerAuth, oidCustomEKU}}
	for _, usage := range usages {
		for _, ekus := range ekuLists {
			t.Run(fmt.Sprintf("KeyUsage%09b/%dEKUs", usage, len(ekus)), func(t *testing.T) {
				tmpl := &x509.Certificate{
					SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "usage"},
					NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
					KeyUsage: usage, UnknownExtKeyUsage: ekus,
				}
				der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
				if err != nil {
					t.Fatalf("CreateCertificate: %v", err)
				}
				c, err := x509.ParseCertificate(der)
				if err != nil {
					t.Fatalf("ParseCertificate: %v", err)
				}
				got, err := usageExtensions(usage, ekus)
				if err != nil {
					t.Fatalf("usageExtensions: %v", err)
				}
				found := 0
				for _, id := range []asn1.ObjectIdentifier{oidExtensionKeyUsage, oidExtensionExtKeyUsage} {
					want, have := findExtension(c.Extensions, id), findExtension(got, id)
					if want == nil {
						if have != nil {
							t.Errorf("extension %v = %x, want none, as crypto/x509 writes", id, have.Value)
						}
						continue
					}
					found++
					if have == nil {
						t.Errorf("extension %v is missing, want %x, as crypto/x509 writes", id, want.Value)
						continue
					}
					if !bytes.Equal(have.Value, want.Value) {
						t.Errorf("extension %v = %x, want %x, as crypto/x509 writes", id, have.Value, want.Value)
					}
					if have.Critical != want.Critical {
						t.Errorf("extension %v critical = %v, want %v, as crypto/x509 writes", id, have.Critical, want.Critical)
					}
				}
				if len(got) != found {
					t.Errorf("usageExtensions returned %d extensions, want %d", len(got), found)
				}
			})
		}
	}
}

// The CSR of a policy requests the key usage, extended key usage and
// subject alternative names that the self-signed certificate of the same
// policy carries.
func TestCSRUsageExtensions(t *testing.T) {
	tests := []struct {
		name      string
		x509      X509Props
		wantUsage x509.KeyUsage
		wantEKUs  []asn1.ObjectIdentifier
	}{
		{
			name:      "DefaultKeyUsage",
			x509:      X509Props{Subject: "CN=defaults.example.com"},
			wantUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		},
		{
			name: "PolicyUsagesAndCustomEKU",
			x509: X509Props{
				Subject:  "CN=usage.example.com",
				SANs:     &SANs{DNSNames: []string{"usage.example.com"}, Emails: []string{"ops@example.com"}},
				KeyUsage: []string{"digitalSignature", "nonRepudiation", "keyAgreement", "decipherOnly"},
				EKUs:     []string{"1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.311.20.2.2", "1.3.6.1.5.5.7.3.1", "1.3.6.1.4.1.99999.1.2.3"},
			},
			wantUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyAgreement | x509.KeyUsageDecipherOnly,
			wantEKUs:  []asn1.ObjectIdentifier{oidClientAuth, oidSmartcard, oidServerAuth, oidCustomEKU},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := rsaKey(t)
			p := WithDefaults(&Policy{X509Props: &tt.x509})
			req := mustCSR(t, p, key)

			ku := findExtension(req.Extensions, oidExtensionKeyUsage)
			if ku == nil {
				t.Errorf("CSR requests no key usage extension, want %09b", tt.wantUsage)
			} else if !ku.Critical {
				t.Errorf("CSR key usage extension is not critical")
			}
			issued := certificateFromCSR(t, req)
			if issued.KeyUsage != tt.wantUsage {
				t.Errorf("CSR key usage = %09b, want %09b", issued.KeyUsage, tt.wantUsage)
			}

			eku := findExtension(req.Extensions, oidExtensionExtKeyUsage)
			switch {
			case len(tt.wantEKUs) == 0 && eku != nil:
				t.Errorf("CSR requests extended key usages %x, want none", eku.Value)
			case len(tt.wantEKUs) > 0 && eku == nil:
				t.Errorf("CSR requests no extended key usage, want %v", tt.wantEKUs)
			case eku != nil:
				var oids []asn1.ObjectIdentifier
				if rest, err := asn1.Unmarshal(eku.Value, &oids); err != nil || len(rest) != 0 {
					t.Fatalf("CSR extended key usage %x is not a sequence of OIDs: %v", eku.Value, err)
				}
				if !slices.EqualFunc(oids, tt.wantEKUs, asn1.ObjectIdentifier.Equal) {
					t.Errorf("CSR extended key usages = %v, want %v in policy order", oids, tt.wantEKUs)
				}
				if eku.Critical {
					t.Errorf("CSR extended key usage extension is critical, want non-critical")
				}
			}

			if sans := tt.x509.SANs; sans != nil {
				if !slices.Equal(issued.DNSNames, sans.DNSNames) || !slices.Equal(issued.EmailAddresses, sans.Emails) {
					t.Errorf("CSR SANs = %q %q, want %q %q", issued.DNSNames, issued.EmailAddresses, sans.DNSNames, sans.Emails)
				}
			}

			// The self-signed certificate of the policy has the same bytes.
			selfDER, err := SelfSign(p, key, time.Now())
			if err != nil {
				t.Fatalf("SelfSign: %v", err)
			}
			self, err := x509.ParseCertificate(selfDER)
			if err != nil {
				t.Fatalf("parse self-signed certificate: %v", err)
			}
			for _, id := range []asn1.ObjectIdentifier{oidExtensionKeyUsage, oidExtensionExtKeyUsage} {
				inCSR, inCert := findExtension(req.Extensions, id), findExtension(self.Extensions, id)
				if (inCSR == nil) != (inCert == nil) {
					t.Errorf("extension %v of the CSR = %+v, want %+v as in the self-signed certificate", id, inCSR, inCert)
					continue
				}
				if inCSR == nil {
					continue
				}
				if !bytes.Equal(inCSR.Value, inCert.Value) {
					t.Errorf("extension %v of the CSR = %x, want %x as in the self-signed certificate", id, inCSR.Value, inCert.Value)
				}
				if inCSR.Critical != inCert.Critical {
					t.Errorf("extension %v of the CSR critical = %v, want %v as in the self-signed certificate", id, inCSR.Critical, inCert.Critical)
				}
			}
		})
	}
}

func TestCheckMerge(t *testing.T) {
	key := rsaKey(t)
	leaf, intermediate, _ := testChain(t, key)

	t.Run("LeafAndChain", func(t *testing.T) {
		got, err := CheckMerge([][]byte{leaf.Raw, intermediate.Raw}, key.Public())
		if err != nil {
			t.Fatalf("CheckMerge: %v", err)
		}
		if len(got) != 2 || !got[0].Equal(leaf) || !got[1].Equal(intermediate) {
			t.Errorf("CheckMerge returned %d certificates, want leaf and intermediate", len(got))
		}
	})
	t.Run("OtherKey", func(t *testing.T) {
		_, err := CheckMerge([][]byte{leaf.Raw}, otherRSAKey(t).Public())
		wantError(t, err, "BadParameter")
	})
	t.Run("ChainFirst", func(t *testing.T) {
		_, err := CheckMerge([][]byte{intermediate.Raw, leaf.Raw}, key.Public())
		wantError(t, err, "BadParameter")
	})
	t.Run("Empty", func(t *testing.T) {
		_, err := CheckMerge(nil, key.Public())
		wantError(t, err, "BadParameter")
	})
	t.Run("NotDER", func(t *testing.T) {
		_, err := CheckMerge([][]byte{leaf.Raw, []byte("not a certificate")}, key.Public())
		wantError(t, err, "BadParameter")
	})
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	tests := []struct {
		name        string
		key         crypto.Signer
		contentType string
	}{
		{name: "RSAPKCS12", key: rsaKey(t), contentType: ContentTypePKCS12},
		{name: "ECP256PKCS12", key: p256Key(t), contentType: ContentTypePKCS12},
		{name: "ECP384PKCS12", key: p384Key(t), contentType: ContentTypePKCS12},
		{name: "RSAPEM", key: rsaKey(t), contentType: ContentTypePEM},
		{name: "ECP256PEM", key: p256Key(t), contentType: ContentTypePEM},
		{name: "ECP384PEM", key: p384Key(t), contentType: ContentTypePEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf, intermediate, _ := testChain(t, tt.key)
			value, err := Encode(tt.contentType, tt.key, []*x509.Certificate{leaf, intermediate})
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if tt.contentType == ContentTypePEM {
				want := pkcs8PEM(t, tt.key) + pemBlock("CERTIFICATE", leaf.Raw) + pemBlock("CERTIFICATE", intermediate.Raw)
				if value != want {
					t.Errorf("PEM value:\n%s\nwant the PKCS #8 key, the leaf and the intermediate:\n%s", value, want)
				}
			} else {
				raw, err := base64.StdEncoding.DecodeString(value)
				if err != nil {
					t.Fatalf("PKCS #12 value is not standard base64: %v", err)
				}
				key, c, cas, err := pkcs12.DecodeChain(raw, "")
				if err != nil {
					t.Fatalf("DecodeChain with the empty password: %v", err)
				}
				if !c.Equal(leaf) || len(cas) != 1 || !cas[0].Equal(intermediate) {
					t.Errorf("PKCS #12 holds %d CA certificates and leaf %q, want the leaf and the intermediate", len(cas), c.Subject)
				}
				if !tt.key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.(crypto.Signer).Public()) {
					t.Errorf("PKCS #12 key differs from the encoded key")
				}
			}

			imp, err := Decode(value, "")
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if imp.ContentType != tt.contentType {
				t.Errorf("ContentType = %q, want %q", imp.ContentType, tt.contentType)
			}
			if len(imp.Chain) != 2 || !imp.Chain[0].Equal(leaf) || !imp.Chain[1].Equal(intermediate) {
				t.Errorf("Decode chain has %d certificates, want leaf then intermediate", len(imp.Chain))
			}
			signer, ok := imp.Key.(crypto.Signer)
			if !ok || !tt.key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(signer.Public()) {
				t.Errorf("Decode key %T differs from the encoded key", imp.Key)
			}
		})
	}
}

func TestEncodeWithoutKey(t *testing.T) {
	leaf, intermediate, _ := testChain(t, rsaKey(t))
	chain := []*x509.Certificate{leaf, intermediate}

	t.Run("PEM", func(t *testing.T) {
		value, err := Encode(ContentTypePEM, nil, chain)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if want := pemBlock("CERTIFICATE", leaf.Raw) + pemBlock("CERTIFICATE", intermediate.Raw); value != want {
			t.Errorf("PEM value without a key:\n%s\nwant only the two certificates", value)
		}
		_, err = Decode(value, "")
		wantError(t, err, "BadParameter")
	})
	t.Run("PKCS12", func(t *testing.T) {
		value, err := Encode(ContentTypePKCS12, nil, chain)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			t.Fatalf("base64: %v", err)
		}
		certs, err := pkcs12.DecodeTrustStore(raw, "")
		if err != nil {
			t.Fatalf("DecodeTrustStore: %v", err)
		}
		if len(certs) != 2 || !certs[0].Equal(leaf) || !certs[1].Equal(intermediate) {
			t.Errorf("trust store holds %d certificates, want leaf and intermediate", len(certs))
		}
		_, err = Decode(value, "")
		wantError(t, err, "BadParameter")
	})
}

func TestDecodePKCS12Password(t *testing.T) {
	key := rsaKey(t)
	leaf, intermediate, _ := testChain(t, key)
	pfx, err := pkcs12.Modern.Encode(key, leaf, []*x509.Certificate{intermediate}, "s3cret")
	if err != nil {
		t.Fatalf("encode PKCS #12: %v", err)
	}
	value := base64.StdEncoding.EncodeToString(pfx)

	t.Run("Right", func(t *testing.T) {
		imp, err := Decode(value, "s3cret")
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if len(imp.Chain) != 2 || !imp.Chain[0].Equal(leaf) || !imp.Chain[1].Equal(intermediate) {
			t.Errorf("chain has %d certificates, want leaf then intermediate", len(imp.Chain))
		}
	})
	t.Run("Wrong", func(t *testing.T) {
		_, err := Decode(value, "guess")
		wantError(t, err, "BadParameter")
		if !strings.Contains(err.Error(), "password") {
			t.Errorf("error %q does not mention the password", err)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		_, err := Decode(value, "")
		wantError(t, err, "BadParameter")
	})
	t.Run("LineWrappedBase64", func(t *testing.T) {
		var wrapped strings.Builder
		for i := 0; i < len(value); i += 64 {
			wrapped.WriteString(value[i:min(i+64, len(value))] + "\r\n")
		}
		if _, err := Decode(wrapped.String(), "s3cret"); err != nil {
			t.Errorf("Decode of line-wrapped base64: %v", err)
		}
	})
	t.Run("URLBase64", func(t *testing.T) {
		if _, err := Decode(base64.RawURLEncoding.EncodeToString(pfx), "s3cret"); err != nil {
			t.Errorf("Decode of unpadded base64url: %v", err)
		}
	})
}

// Windows and some tools write the CA certificates of a PKCS #12 file before
// the certificate of its key, so the first certificate is not always the leaf.
func TestDecodePKCS12CAFirst(t *testing.T) {
	key := rsaKey(t)
	leaf, intermediate, root := testChain(t, key)
	pfx, err := pkcs12.Modern.Encode(key, root, []*x509.Certificate{intermediate, leaf}, "pw")
	if err != nil {
		t.Fatalf("encode PKCS #12: %v", err)
	}
	imp, err := Decode(base64.StdEncoding.EncodeToString(pfx), "pw")
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(imp.Chain) != 3 {
		t.Fatalf("chain has %d certificates, want 3", len(imp.Chain))
	}
	if !imp.Chain[0].Equal(leaf) {
		t.Errorf("Chain[0] = %q, want the leaf whose key the file holds", imp.Chain[0].Subject)
	}
	if !imp.Chain[1].Equal(root) || !imp.Chain[2].Equal(intermediate) {
		t.Errorf("Chain[1:] = %q, %q, want the others in file order (root, intermediate)", imp.Chain[1].Subject, imp.Chain[2].Subject)
	}

	t.Run("NoMatchingCertificate", func(t *testing.T) {
		pfx, err := pkcs12.Modern.Encode(otherRSAKey(t), leaf, []*x509.Certificate{intermediate}, "pw")
		if err != nil {
			t.Fatalf("encode PKCS #12: %v", err)
		}
		_, err = Decode(base64.StdEncoding.EncodeToString(pfx), "pw")
		wantError(t, err, "BadParameter")
	})
}

func TestDecodePEMLeafFirst(t *testing.T) {
	key := p256Key(t)
	leaf, intermediate, root := testChain(t, key)
	// The key's certificate comes last in the file, after the key.
	value := pemBlock("CERTIFICATE", root.Raw) + pemBlock("CERTIFICATE", intermediate.Raw) + pkcs8PEM(t, key) +
		pemBlock("CERTIFICATE", leaf.Raw)
	imp, err := Decode(value, "")
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if imp.ContentType != ContentTypePEM {
		t.Errorf("ContentType = %q, want %q", imp.ContentType, ContentTypePEM)
	}
	if len(imp.Chain) != 3 {
		t.Fatalf("chain has %d certificates, want 3", len(imp.Chain))
	}
	if !imp.Chain[0].Equal(leaf) || !imp.Chain[1].Equal(root) || !imp.Chain[2].Equal(intermediate) {
		t.Errorf("chain = %q, %q, %q, want leaf first, then root and intermediate in file order",
			imp.Chain[0].Subject, imp.Chain[1].Subject, imp.Chain[2].Subject)
	}
}

func TestDecodePEMKeyFormats(t *testing.T) {
	rk, ek := rsaKey(t), p256Key(t)
	rsaLeaf, _, _ := testChain(t, rk)
	ecLeaf, _, _ := testChain(t, ek)
	ecDER, err := x509.MarshalECPrivateKey(ek)
	if err != nil {
		t.Fatalf("marshal EC key: %v", err)
	}
	tests := []struct {
		name  string
		value string
		leaf  *x509.Certificate
	}{
		{name: "PKCS8", value: pkcs8PEM(t, rk) + pemBlock("CERTIFICATE", rsaLeaf.Raw), leaf: rsaLeaf},
		{name: "PKCS1", value: pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)) + pemBlock("CERTIFICATE", rsaLeaf.Raw), leaf: rsaLeaf},
		{name: "SEC1", value: pemBlock("EC PRIVATE KEY", ecDER) + pemBlock("CERTIFICATE", ecLeaf.Raw), leaf: ecLeaf},
		{name: "CRLF", value: strings.ReplaceAll(pkcs8PEM(t, ek)+pemBlock("CERTIFICATE", ecLeaf.Raw), "\n", "\r\n"), leaf: ecLeaf},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imp, err := Decode(tt.value, "")
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(imp.Chain) != 1 || !imp.Chain[0].Equal(tt.leaf) {
				t.Errorf("chain has %d certificates, want only the leaf", len(imp.Chain))
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	key := rsaKey(t)
	leaf, intermediate, _ := testChain(t, key)
	certPEM := pemBlock("CERTIFICATE", leaf.Raw)
	tests := []struct {
		name  string
		value string
	}{
		{name: "Empty", value: ""},
		{name: "NotBase64", value: "%%% not base64 %%%"},
		{name: "Base64NotPKCS12", value: base64.StdEncoding.EncodeToString([]byte("hello, world"))},
		{name: "PEMWithoutKey", value: certPEM + pemBlock("CERTIFICATE", intermediate.Raw)},
		{name: "PEMKeyWithoutCertificate", value: pkcs8PEM(t, key)},
		{name: "PEMTwoKeys", value: pkcs8PEM(t, key) + pkcs8PEM(t, p256Key(t)) + certPEM},
		{name: "PEMEncryptedKey", value: pemBlock("ENCRYPTED PRIVATE KEY", []byte{0x30, 0x00}) + certPEM},
		{name: "PEMKeyMatchesNoCertificate", value: pkcs8PEM(t, otherRSAKey(t)) + certPEM},
		{name: "PEMBadCertificate", value: pkcs8PEM(t, key) + pemBlock("CERTIFICATE", []byte("junk"))},
		{name: "PEMBadKey", value: pemBlock("PRIVATE KEY", []byte("junk")) + certPEM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.value, "")
			wantError(t, err, "BadParameter")
		})
	}
}

func TestThumbprint(t *testing.T) {
	// SHA-1 of the empty input (FIPS 180-4 test vector).
	want := []byte{0xda, 0x39, 0xa3, 0xee, 0x5e, 0x6b, 0x4b, 0x0d, 0x32, 0x55, 0xbf, 0xef, 0x95, 0x60, 0x18, 0x90, 0xaf, 0xd8, 0x07, 0x09}
	if got := Thumbprint(nil); !bytes.Equal(got, want) {
		t.Errorf("Thumbprint(empty) = %x, want %x", got, want)
	}
}

// FuzzDecode feeds arbitrary values and passwords to Decode. It must never
// panic, every failure must be an *Error, and a success must return a chain
// whose first certificate carries the public key of the returned private key.
func FuzzDecode(f *testing.F) {
	key := rsaKey(f)
	ek := p256Key(f)
	leaf, intermediate, root := testChain(f, key)
	ecLeaf, _, _ := testChain(f, ek)
	pfx, err := pkcs12.Modern.Encode(key, leaf, []*x509.Certificate{intermediate}, "pw")
	if err != nil {
		f.Fatalf("encode PKCS #12: %v", err)
	}
	caFirst, err := pkcs12.Modern.Encode(ek, root, []*x509.Certificate{ecLeaf}, "")
	if err != nil {
		f.Fatalf("encode PKCS #12: %v", err)
	}
	legacy, err := pkcs12.LegacyRC2.Encode(key, leaf, nil, "legacy")
	if err != nil {
		f.Fatalf("encode PKCS #12: %v", err)
	}
	f.Add(base64.StdEncoding.EncodeToString(pfx), "pw")
	f.Add(base64.StdEncoding.EncodeToString(pfx), "wrong")
	f.Add(base64.StdEncoding.EncodeToString(caFirst), "")
	f.Add(base64.StdEncoding.EncodeToString(legacy), "legacy")
	f.Add(pkcs8PEM(f, key)+pemBlock("CERTIFICATE", leaf.Raw)+pemBlock("CERTIFICATE", intermediate.Raw), "")
	f.Add(pemBlock("CERTIFICATE", root.Raw)+pkcs8PEM(f, ek)+pemBlock("CERTIFICATE", ecLeaf.Raw), "")
	f.Add(pkcs8PEM(f, ek)+pemBlock("CERTIFICATE", leaf.Raw), "")
	f.Add("-----BEGIN", "")
	f.Add("", "")
	f.Add("MIIB", "\x00")

	f.Fuzz(func(t *testing.T, value, password string) {
		imp, err := Decode(value, password)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Decode error %v is a %T, want *Error", err, err)
			}
			return
		}
		if len(imp.Chain) == 0 {
			t.Fatalf("Decode succeeded with an empty chain")
		}
		signer, ok := imp.Key.(crypto.Signer)
		if !ok {
			t.Fatalf("Decode key is a %T, want a crypto.Signer", imp.Key)
		}
		pub, ok := imp.Chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(signer.Public()) {
			t.Fatalf("Chain[0] (%q) does not carry the public key of the decoded private key", imp.Chain[0].Subject)
		}
		if imp.ContentType != ContentTypePKCS12 && imp.ContentType != ContentTypePEM {
			t.Fatalf("ContentType = %q, want %q or %q", imp.ContentType, ContentTypePKCS12, ContentTypePEM)
		}
	})
}

// FuzzParseSubject feeds arbitrary text to ParseSubject. It must never panic,
// every failure must be an *Error, and a parsed subject must encode as DER
// and read back unchanged through FormatSubject.
func FuzzParseSubject(f *testing.F) {
	for _, seed := range []string{
		"CN=example.com", "CN=www.contoso.com, OU=IT, O=Contoso, C=US", `CN=Doe\, John`, `O="Contoso, Inc."`,
		"E=jane@example.com", "cn=a;o=b", "DC=example,DC=com", "OID.2.5.4.17=98052", `CN=\ x\ `, `CN="a\"b"`,
		"CN=", "=", ",", `\`, `"`, "CN=a=b", "1.2.840.113549.1.9.1=x", "CN=\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := ParseSubject(s)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("ParseSubject(%q) error %v is a %T, want *Error", s, err, err)
			}
			return
		}
		rdns := name.ToRDNSequence()
		if len(rdns) == 0 {
			t.Fatalf("ParseSubject(%q) succeeded with no attributes", s)
		}
		for _, rdn := range rdns {
			for _, atv := range rdn {
				if v, ok := atv.Value.(string); !ok || v == "" {
					t.Fatalf("ParseSubject(%q) attribute %v has value %#v, want a non-empty string", s, atv.Type, atv.Value)
				}
			}
		}
		der, err := asn1.Marshal(rdns)
		if err != nil {
			t.Fatalf("ParseSubject(%q) gives a name that does not encode: %v", s, err)
		}
		formatted := FormatSubject(rdns)
		again, err := ParseSubject(formatted)
		if err != nil {
			t.Fatalf("ParseSubject(FormatSubject) of %q = %v for %q", s, err, formatted)
		}
		der2, err := asn1.Marshal(again.ToRDNSequence())
		if err != nil {
			t.Fatalf("marshal reparsed subject: %v", err)
		}
		if !bytes.Equal(der, der2) {
			t.Fatalf("subject %q reads back from %q as %q, want %q", s, formatted, rdnStrings(again), rdnStrings(name))
		}
	})
}

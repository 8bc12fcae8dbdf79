// Package certs implements certificate policies and issuance for the
// Certificates API: policy defaults and validation, self-signed
// certificates, certificate signing requests and merging, and PKCS #12 and
// PEM import and export. It holds no state; the vault package stores
// certificates and calls these functions.
package certs

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
)

// Content types of a certificate's secret.
const (
	ContentTypePKCS12 = "application/x-pkcs12"
	ContentTypePEM    = "application/x-pem-file"
)

// Issuer names with a built-in meaning.
const (
	IssuerSelf    = "Self"    // self-signed, issued at once
	IssuerUnknown = "Unknown" // the caller signs the CSR elsewhere and merges the result
)

// Lifetime action types.
const (
	ActionAutoRenew     = "AutoRenew"
	ActionEmailContacts = "EmailContacts"
)

// Policy is a certificate policy in the wire shape of the Key Vault API.
type Policy struct {
	ID              string           `json:"id,omitempty"`
	KeyProps        *KeyProps        `json:"key_props,omitempty"`
	SecretProps     *SecretProps     `json:"secret_props,omitempty"`
	X509Props       *X509Props       `json:"x509_props,omitempty"`
	LifetimeActions []LifetimeAction `json:"lifetime_actions,omitempty"`
	Issuer          *IssuerParams    `json:"issuer,omitempty"`
	Attributes      *PolicyAttrs     `json:"attributes,omitempty"`
}

// KeyProps are a policy's key properties.
type KeyProps struct {
	Exportable *bool  `json:"exportable,omitempty"`
	Kty        string `json:"kty,omitempty"`
	KeySize    int    `json:"key_size,omitempty"`
	ReuseKey   *bool  `json:"reuse_key,omitempty"`
	Curve      string `json:"crv,omitempty"`
}

// SecretProps are a policy's secret properties.
type SecretProps struct {
	ContentType string `json:"contentType,omitempty"`
}

// X509Props are a policy's certificate properties.
type X509Props struct {
	Subject        string   `json:"subject,omitempty"`
	EKUs           []string `json:"ekus,omitempty"`
	SANs           *SANs    `json:"sans,omitempty"`
	KeyUsage       []string `json:"key_usage,omitempty"`
	ValidityMonths int      `json:"validity_months,omitempty"`
}

// SANs are subject alternative names.
type SANs struct {
	Emails      []string `json:"emails,omitempty"`
	DNSNames    []string `json:"dns_names,omitempty"`
	UPNs        []string `json:"upns,omitempty"`
	URIs        []string `json:"uris,omitempty"`
	IPAddresses []string `json:"ipAddresses,omitempty"`
}

// LifetimeAction runs Action when Trigger is reached.
type LifetimeAction struct {
	Trigger Trigger `json:"trigger"`
	Action  Action  `json:"action"`
}

// Trigger is a point in a certificate's life: a percentage of its lifetime,
// or a number of days before it expires.
type Trigger struct {
	LifetimePercentage int `json:"lifetime_percentage,omitempty"`
	DaysBeforeExpiry   int `json:"days_before_expiry,omitempty"`
}

// Action is a lifetime action's type: AutoRenew or EmailContacts.
type Action struct {
	ActionType string `json:"action_type"`
}

// IssuerParams name the issuer of a policy's certificates.
type IssuerParams struct {
	Name             string `json:"name,omitempty"`
	CertificateType  string `json:"cty,omitempty"`
	CertTransparency *bool  `json:"cert_transparency,omitempty"`
}

// PolicyAttrs are a policy's attributes.
type PolicyAttrs struct {
	Enabled *bool `json:"enabled,omitempty"`
	Created int64 `json:"created,omitempty"`
	Updated int64 `json:"updated,omitempty"`
}

// keyUsageNames are the key usages a policy may name.
var keyUsageNames = []string{"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
	"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}

func bad(format string, args ...any) error {
	return &Error{Code: "BadParameter", Message: fmt.Sprintf(format, args...)}
}

// Error is invalid input. Code is the Azure error code to return.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func boolPtr(b bool) *bool { return &b }

// WithDefaults returns a copy of p with Azure's defaults for missing fields.
// The defaults are an exportable RSA-2048 key that is not reused, PKCS #12
// secrets, 12 months of validity, digitalSignature and keyEncipherment key
// usage, and the Self issuer. The lifetime action is AutoRenew at 80% of the
// lifetime, or EmailContacts for issuers other than Self, which cannot renew
// by themselves.
func WithDefaults(p *Policy) *Policy {
	out := Policy{}
	if p != nil {
		out = *p
	}
	kp := KeyProps{}
	if out.KeyProps != nil {
		kp = *out.KeyProps
	}
	if kp.Kty == "" {
		kp.Kty = "RSA"
		if kp.Curve != "" {
			kp.Kty = "EC"
		}
	}
	if strings.HasPrefix(kp.Kty, "RSA") && kp.KeySize == 0 {
		kp.KeySize = 2048
	}
	if strings.HasPrefix(kp.Kty, "EC") && kp.Curve == "" {
		kp.Curve = "P-256"
	}
	if kp.Exportable == nil {
		kp.Exportable = boolPtr(true)
	}
	if kp.ReuseKey == nil {
		kp.ReuseKey = boolPtr(false)
	}
	out.KeyProps = &kp

	sp := SecretProps{ContentType: ContentTypePKCS12}
	if out.SecretProps != nil && out.SecretProps.ContentType != "" {
		sp.ContentType = out.SecretProps.ContentType
	}
	out.SecretProps = &sp

	xp := X509Props{}
	if out.X509Props != nil {
		xp = *out.X509Props
	}
	if xp.ValidityMonths == 0 {
		xp.ValidityMonths = 12
	}
	if len(xp.KeyUsage) == 0 {
		xp.KeyUsage = []string{"digitalSignature", "keyEncipherment"}
	}
	out.X509Props = &xp

	ip := IssuerParams{Name: IssuerSelf}
	if out.Issuer != nil {
		ip = *out.Issuer
		if ip.Name == "" {
			ip.Name = IssuerSelf
		}
	}
	out.Issuer = &ip

	if out.LifetimeActions == nil {
		action := ActionAutoRenew
		if !strings.EqualFold(ip.Name, IssuerSelf) {
			action = ActionEmailContacts
		}
		out.LifetimeActions = []LifetimeAction{{Trigger: Trigger{LifetimePercentage: 80}, Action: Action{ActionType: action}}}
	}
	attrs := PolicyAttrs{Enabled: boolPtr(true)}
	if out.Attributes != nil {
		attrs = *out.Attributes
		if attrs.Enabled == nil {
			attrs.Enabled = boolPtr(true)
		}
	}
	out.Attributes = &attrs
	return &out
}

// Validate checks a policy with defaults applied.
func Validate(p *Policy) error {
	kp := p.KeyProps
	switch kp.Kty {
	case "RSA", "RSA-HSM":
		if kp.KeySize != 2048 && kp.KeySize != 3072 && kp.KeySize != 4096 {
			return bad("key_props.key_size %d is not supported for RSA; use 2048, 3072 or 4096.", kp.KeySize)
		}
		if kp.Curve != "" {
			return bad("key_props.crv is only for EC keys.")
		}
	case "EC", "EC-HSM":
		if !slices.Contains([]string{"P-256", "P-384", "P-521", "P-256K"}, kp.Curve) {
			return &Error{Code: "KeyCurveNotSupported", Message: fmt.Sprintf("key_props.crv '%s' is not supported; use P-256, P-384, P-521 or P-256K.", kp.Curve)}
		}
	default:
		return bad("key_props.kty '%s' is not supported for certificates; use RSA, RSA-HSM, EC or EC-HSM.", kp.Kty)
	}
	if ct := p.SecretProps.ContentType; ct != ContentTypePKCS12 && ct != ContentTypePEM {
		return bad("secret_props.contentType '%s' is not supported; use %s or %s.", ct, ContentTypePKCS12, ContentTypePEM)
	}
	xp := p.X509Props
	if xp.ValidityMonths < 1 || xp.ValidityMonths > 1200 {
		return bad("x509_props.validity_months must be from 1 to 1200, got %d.", xp.ValidityMonths)
	}
	for _, u := range xp.KeyUsage {
		if !slices.Contains(keyUsageNames, u) {
			return bad("x509_props.key_usage '%s' is invalid; valid values are %s.", u, strings.Join(keyUsageNames, ", "))
		}
	}
	for _, e := range xp.EKUs {
		if _, err := parseOID(e); err != nil {
			return bad("x509_props.ekus '%s' is not an object identifier such as 1.3.6.1.5.5.7.3.1.", e)
		}
	}
	if xp.Subject == "" && (xp.SANs == nil || len(xp.SANs.DNSNames)+len(xp.SANs.Emails)+len(xp.SANs.UPNs)+len(xp.SANs.URIs)+len(xp.SANs.IPAddresses) == 0) {
		return bad("A certificate policy needs x509_props.subject or subject alternative names.")
	}
	if xp.Subject != "" {
		if _, err := ParseSubject(xp.Subject); err != nil {
			return err
		}
	}
	if err := applySANs(&x509.Certificate{}, xp.SANs); err != nil {
		return err
	}
	for _, a := range p.LifetimeActions {
		t := a.Trigger
		if (t.LifetimePercentage == 0) == (t.DaysBeforeExpiry == 0) {
			return bad("Each lifetime action trigger needs exactly one of lifetime_percentage and days_before_expiry.")
		}
		if t.LifetimePercentage != 0 && (t.LifetimePercentage < 1 || t.LifetimePercentage > 99) {
			return bad("lifetime_percentage must be from 1 to 99, got %d.", t.LifetimePercentage)
		}
		if t.DaysBeforeExpiry < 0 || t.DaysBeforeExpiry > xp.ValidityMonths*27 {
			return bad("days_before_expiry %d must be positive and shorter than the validity period.", t.DaysBeforeExpiry)
		}
		if a.Action.ActionType != ActionAutoRenew && a.Action.ActionType != ActionEmailContacts {
			return bad("lifetime action_type '%s' is invalid; use AutoRenew or EmailContacts.", a.Action.ActionType)
		}
	}
	return nil
}

// Package keys implements Azure Key Vault's key types and the JSON Web
// Algorithms it offers: key generation and import as JSON Web Keys (RFC 7517),
// encryption, key wrapping, signing and verification. It holds no state and
// does no I/O; the vault package stores keys and calls these operations.
package keys

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// Base64URL is binary data that JSON carries as unpadded base64url, the
// encoding of every binary field of the Key Vault API (RFC 7515, section 2).
// Padded input and the standard alphabet are accepted too.
type Base64URL []byte

// MarshalJSON implements json.Marshaler.
func (b Base64URL) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *Base64URL) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("expected a base64url string")
	}
	raw, err := DecodeBase64URL(s)
	if err != nil {
		return err
	}
	*b = raw
	return nil
}

// DecodeBase64URL decodes unpadded or padded base64url, and standard base64
// as some clients send it.
func DecodeBase64URL(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if raw, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return raw, nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid base64url")
	}
	return raw, nil
}

// JSONWebKey is a JSON Web Key as Key Vault sends and receives it. Private
// members (d, p, q, dp, dq, qi, k) are only ever read from import requests
// and never written to responses.
type JSONWebKey struct {
	Kid    string    `json:"kid,omitempty"`
	Kty    string    `json:"kty,omitempty"`
	KeyOps []string  `json:"key_ops,omitempty"`
	N      Base64URL `json:"n,omitempty"`
	E      Base64URL `json:"e,omitempty"`
	D      Base64URL `json:"d,omitempty"`
	DP     Base64URL `json:"dp,omitempty"`
	DQ     Base64URL `json:"dq,omitempty"`
	QI     Base64URL `json:"qi,omitempty"`
	P      Base64URL `json:"p,omitempty"`
	Q      Base64URL `json:"q,omitempty"`
	K      Base64URL `json:"k,omitempty"`
	T      Base64URL `json:"key_hsm,omitempty"`
	Crv    string    `json:"crv,omitempty"`
	X      Base64URL `json:"x,omitempty"`
	Y      Base64URL `json:"y,omitempty"`
}

// Public returns a copy of j without its private members (d, p, q, dp, dq,
// qi, k, key_hsm). It does not check the key.
func (j *JSONWebKey) Public() *JSONWebKey {
	pub := *j
	pub.D, pub.P, pub.Q, pub.DP, pub.DQ, pub.QI, pub.K, pub.T = nil, nil, nil, nil, nil, nil, nil, nil
	pub.KeyOps = append([]string(nil), j.KeyOps...)
	return &pub
}

// String prints only the public members, so private key material never
// reaches a log or an error message through fmt.
func (j JSONWebKey) String() string {
	pub := j.Public()
	return fmt.Sprintf("JSONWebKey{Kid: %s, Kty: %s, Crv: %s, KeyOps: %v, private members REDACTED}", pub.Kid, pub.Kty, pub.Crv, pub.KeyOps)
}

// LogValue keeps private members out of structured logs.
func (j JSONWebKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", j.Kid), slog.String("kty", j.Kty), slog.String("crv", j.Crv))
}

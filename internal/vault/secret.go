package vault

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
	"unicode/utf16"

	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
)

// Limits on secrets, as Azure Key Vault enforces them.
const (
	MaxSecretValueLength = 25600 // UTF-16 code units, as the service counts them
	MaxContentTypeLength = 255
	MaxTags              = 15
	MaxTagLength         = 256 // for tag names and values
)

// Storage buckets of secrets. Names and version ids are the plaintext keys;
// every version's contents are sealed.
const (
	bucketSecrets        = "secrets"         // vault \x00 name -> head (JSON)
	bucketSecretVersions = "secret-versions" // vault \x00 name \x00 version -> sealed secretData
	bucketDeletedSecrets = "deleted-secrets" // vault \x00 name -> deletedHead (JSON)
)

var objectNamePattern = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)
var versionPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Attributes are the management attributes of an object version. Times are
// Unix seconds; NotBefore and Expires are nil when unset.
type Attributes struct {
	Enabled   bool
	NotBefore *int64
	Expires   *int64
	Created   int64
	Updated   int64
}

// Secret is one version of a secret.
type Secret struct {
	Name        string // as first created; lookups ignore case
	Version     string
	Value       string
	ContentType string
	Tags        map[string]string
	Attributes  Attributes
	Managed     bool   // the secret backs a certificate
	KeyID       string // the key of the certificate the secret backs
}

// DeletedSecret is a soft-deleted secret's latest version and its dates.
type DeletedSecret struct {
	Secret
	DeletedDate        int64
	ScheduledPurgeDate int64
}

// SecretParams are the inputs of SetSecret.
type SecretParams struct {
	Value       string
	ContentType string
	Tags        map[string]string
	Enabled     *bool // nil means enabled
	NotBefore   *int64
	Expires     *int64
}

// SecretUpdate lists the changes UpdateSecret applies. Nil fields are left
// as they are; Tags replaces all tags when SetTags is true.
type SecretUpdate struct {
	ContentType *string
	SetTags     bool
	Tags        map[string]string
	Enabled     *bool
	NotBefore   *int64
	Expires     *int64
}

// head is the unsealed index entry of a live secret.
type head struct {
	Name   string `json:"n"`
	Latest string `json:"l"`
}

// deletedHead is the index entry of a soft-deleted secret.
type deletedHead struct {
	head
	DeletedDate        int64 `json:"d"`
	ScheduledPurgeDate int64 `json:"p"`
}

// secretData is the sealed content of one secret version.
type secretData struct {
	Value       string            `json:"v"`
	ContentType string            `json:"ct,omitempty"`
	Tags        map[string]string `json:"t,omitempty"`
	Enabled     bool              `json:"e"`
	NotBefore   *int64            `json:"nbf,omitempty"`
	Expires     *int64            `json:"exp,omitempty"`
	Created     int64             `json:"c"`
	Updated     int64             `json:"u"`
	Managed     bool              `json:"m,omitempty"`
	KeyID       string            `json:"kid,omitempty"`
}

func (d *secretData) secret(name, version string) *Secret {
	return &Secret{
		Name: name, Version: version, Value: d.Value, ContentType: d.ContentType, Tags: d.Tags,
		Managed: d.Managed, KeyID: d.KeyID,
		Attributes: Attributes{Enabled: d.Enabled, NotBefore: d.NotBefore, Expires: d.Expires, Created: d.Created, Updated: d.Updated},
	}
}

// ValidateObjectName checks Azure's object name rule: 1 to 127 letters,
// digits and hyphens.
func ValidateObjectName(name string) error {
	if !objectNamePattern.MatchString(name) {
		return badParameter("The request URI contains an invalid name: %q. Object names must be 1 to 127 characters long and contain only 0-9, a-z, A-Z and -.", name)
	}
	return nil
}

func validateContentType(ct string) error {
	if len(ct) > MaxContentTypeLength {
		return badParameter("Property has invalid value: contentType is %d characters long, the maximum is %d.", len(ct), MaxContentTypeLength)
	}
	return nil
}

func validateTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return badParameter("Property has invalid value: %d tags were given, the maximum is %d.", len(tags), MaxTags)
	}
	for k, v := range tags {
		if k == "" || len(k) > MaxTagLength || len(v) > MaxTagLength {
			return badParameter("Property has invalid value: tag names must be 1 to %d characters and tag values at most %d characters.", MaxTagLength, MaxTagLength)
		}
	}
	return nil
}

func validateWindow(nbf, exp *int64) error {
	if nbf != nil && exp != nil && *exp < *nbf {
		return badParameter("Property has invalid value: the expiry time (exp) must not be earlier than the activation time (nbf).")
	}
	return nil
}

func validateSecretParams(name string, p *SecretParams) error {
	if err := ValidateObjectName(name); err != nil {
		return err
	}
	if n := len(utf16.Encode([]rune(p.Value))); n > MaxSecretValueLength {
		return badParameter("The secret value is %d characters long, beyond the maximum permitted length of %d.", n, MaxSecretValueLength)
	}
	if err := validateContentType(p.ContentType); err != nil {
		return err
	}
	if err := validateTags(p.Tags); err != nil {
		return err
	}
	return validateWindow(p.NotBefore, p.Expires)
}

// newVersion returns a random version id of 32 lower-case hex characters.
func newVersion() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// secretKey is the storage key of a secret's index entry.
func secretKey(vaultID, lname string) []byte {
	return []byte(vaultID + "\x00" + lname)
}

// versionKey is the storage key of one sealed version.
func versionKey(vaultID, lname, version string) []byte {
	return []byte(vaultID + "\x00" + lname + "\x00" + version)
}

// secretAAD binds a sealed version to its vault, name and version, so that
// no record can be moved to another place in the store and still open.
func secretAAD(vaultID, lname, version string) []byte {
	return seal.AAD("secret", vaultID, lname, version)
}

func sealSecret(s *seal.Sealer, vaultID, lname, version string, d *secretData) ([]byte, error) {
	plain, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return s.Seal(plain, secretAAD(vaultID, lname, version))
}

func openSecret(s *seal.Sealer, vaultID, lname, version string, record []byte) (*secretData, error) {
	plain, err := s.Open(record, secretAAD(vaultID, lname, version))
	if err != nil {
		return nil, err
	}
	d := new(secretData)
	return d, json.Unmarshal(plain, d)
}

func getJSON(tx storage.Tx, bucket string, key []byte, v any) (bool, error) {
	raw, err := tx.Get(bucket, key)
	if err != nil || raw == nil {
		return false, err
	}
	return true, json.Unmarshal(raw, v)
}

func putJSON(tx storage.Tx, bucket string, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(bucket, key, raw)
}

func lower(name string) string { return strings.ToLower(name) }

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }

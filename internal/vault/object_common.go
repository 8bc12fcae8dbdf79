package vault

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/keyvault/keyvault/internal/storage"
)

// Limits on tags of every object, as Azure Key Vault enforces them.
const (
	MaxTags      = 15
	MaxTagLength = 256 // for tag names and values
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

// ValidateObjectName checks Azure's object name rule: 1 to 127 letters,
// digits and hyphens.
func ValidateObjectName(name string) error {
	if !objectNamePattern.MatchString(name) {
		return badParameter("The request URI contains an invalid name: %q. Object names must be 1 to 127 characters long and contain only 0-9, a-z, A-Z and -.", name)
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

// newVersion returns a random version id of 32 lower-case hex characters.
func newVersion() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

// encodeCursor makes the opaque continuation token of a list: the encoded
// name (or version) of the last item returned. Lists resume at the first
// key after it, so paging stays correct while objects are added or removed.
func encodeCursor(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("1:" + lower(last)))
}

func decodeCursor(cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(raw) < 3 || string(raw[:2]) != "1:" {
		return "", badParameter("The $skiptoken %q is invalid: pass the nextLink of the previous page unchanged.", cursor)
	}
	return string(raw[2:]), nil
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

func jsonUnmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }

func lower(name string) string { return strings.ToLower(name) }

package vault

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/keyvault/keyvault/internal/keys"
)

// Key is one version of a key: its public JWK and attributes. The private
// material stays sealed in the store and is only opened for an operation.
type Key struct {
	Name       string
	Version    string
	Public     *keys.JSONWebKey // kid is left for the API layer to fill in
	KeyOps     []string
	Attributes Attributes
	Exportable bool
	Tags       map[string]string
	Managed    bool // the key backs a certificate
}

// DeletedKey is a soft-deleted key's latest version and its dates.
type DeletedKey struct {
	Key
	DeletedDate        int64
	ScheduledPurgeDate int64
}

// KeyParams are the inputs of CreateKey. Size, Exponent and Curve are zero
// for the type's defaults; nil KeyOps means the type's default operations.
type KeyParams struct {
	Kty       string
	Size      int
	Exponent  int
	Curve     string
	KeyOps    []string
	Enabled   *bool
	NotBefore *int64
	Expires   *int64
	Tags      map[string]string
}

// ImportParams are the inputs of ImportKey.
type ImportParams struct {
	JWK       *keys.JSONWebKey // with the private material
	HSM       bool             // import as an -HSM key type
	Enabled   *bool
	NotBefore *int64
	Expires   *int64
	Tags      map[string]string
}

// KeyUpdate lists the changes UpdateKey applies; nil fields stay as they are.
type KeyUpdate struct {
	KeyOps    *[]string
	SetTags   bool
	Tags      map[string]string
	Enabled   *bool
	NotBefore *int64
	Expires   *int64
}

// keyData is the sealed content of one key version.
type keyData struct {
	JWK       keys.JSONWebKey   `json:"jwk"` // private JWK
	KeyOps    []string          `json:"ops"`
	Enabled   bool              `json:"e"`
	NotBefore *int64            `json:"nbf,omitempty"`
	Expires   *int64            `json:"exp,omitempty"`
	Created   int64             `json:"c"`
	Updated   int64             `json:"u"`
	Tags      map[string]string `json:"t,omitempty"`
	Managed   bool              `json:"m,omitempty"`
	// HSM is the reference of the key in the hardware security module; the
	// JWK then holds only the public key.
	HSM string `json:"hsm,omitempty"`
}

func (d *keyData) key(name, version string) (*Key, error) {
	pub := d.JWK.Public()
	pub.KeyOps = d.KeyOps
	return &Key{
		Name: name, Version: version, Public: pub, KeyOps: d.KeyOps, Tags: d.Tags, Managed: d.Managed,
		Attributes: Attributes{Enabled: d.Enabled, NotBefore: d.NotBefore, Expires: d.Expires, Created: d.Created, Updated: d.Updated},
	}, nil
}

func decodeKeyData(obj *object) (*keyData, error) {
	var d keyData
	if err := json.Unmarshal(obj.Content, &d); err != nil {
		return nil, fmt.Errorf("stored key %s/%s: %w", obj.Name, obj.Version, err)
	}
	return &d, nil
}

func decodeKey(obj *object) (*Key, error) {
	d, err := decodeKeyData(obj)
	if err != nil {
		return nil, err
	}
	return d.key(obj.Name, obj.Version)
}

// keyError turns a keys.Error into a BadParameter (or more specific) error.
func keyError(err error) error {
	if ke, ok := err.(*keys.Error); ok {
		return &Error{Kind: KindInvalid, Code: ke.Code, Message: ke.Message}
	}
	return err
}

func validateKeyAttributes(ops []string, nbf, exp *int64, tags map[string]string) error {
	if err := keys.ValidateOps(ops); err != nil {
		return keyError(err)
	}
	if err := validateTags(tags); err != nil {
		return err
	}
	return validateWindow(nbf, exp)
}

// CreateKey generates a new key version. A new version of an existing key
// may have another type or size, as in Azure.
func (s *Service) CreateKey(ctx context.Context, v *Vault, name string, p KeyParams) (*Key, error) {
	if err := ValidateObjectName(name); err != nil {
		return nil, err
	}
	if err := validateKeyAttributes(p.KeyOps, p.NotBefore, p.Expires, p.Tags); err != nil {
		return nil, err
	}
	if err := s.checkKeyType(v, p.Kty); err != nil {
		return nil, err
	}
	ops := p.KeyOps
	if ops == nil {
		ops = keys.DefaultOps(p.Kty)
	}
	if s.inHSM(p.Kty) {
		if p.Exponent != 0 && p.Exponent != 65537 {
			return nil, badParameter("RSA public exponent %d is not supported. Use 65537.", p.Exponent)
		}
		version := newVersion()
		material, ref, err := s.HSM.Generate(p.Kty, p.Size, p.Curve, hsmLabel(v, name, version))
		if err != nil {
			return nil, keyError(err)
		}
		return s.storeKeyVersion(ctx, v, name, version, material, ref, ops, p.Enabled, p.NotBefore, p.Expires, p.Tags)
	}
	material, err := keys.Generate(p.Kty, p.Size, p.Exponent, p.Curve)
	if err != nil {
		return nil, keyError(err)
	}
	return s.storeKey(ctx, v, name, material, ops, p.Enabled, p.NotBefore, p.Expires, p.Tags)
}

// checkKeyType refuses key types the vault does not offer.
func (s *Service) checkKeyType(v *Vault, kty string) error {
	if keys.Family(kty) == "" {
		return &Error{Kind: KindInvalid, Code: "BadParameter",
			Message: fmt.Sprintf("Key type '%s' is not supported. Use RSA, RSA-HSM, EC, EC-HSM, oct or oct-HSM.", kty)}
	}
	if strings.HasSuffix(kty, "-HSM") && v.SKU == SKUStandard {
		return &Error{Kind: KindInvalid, Code: "BadParameter",
			Message: fmt.Sprintf("Key type '%s' needs a premium vault; vault '%s' is standard. Use %s, or a premium vault.", kty, v.Name, strings.TrimSuffix(kty, "-HSM"))}
	}
	if strings.HasSuffix(kty, "-HSM") && s.HSM == nil && s.RejectSoftwareHSM {
		return &Error{Kind: KindInvalid, Code: "BadParameter",
			Message: fmt.Sprintf("Key type '%s' needs a hardware security module, and this server has none: start it with --seal pkcs11 to keep -HSM keys in a PKCS#11 token, or with --allow-software-hsm to keep them as software keys. Or use %s.", kty, strings.TrimSuffix(kty, "-HSM"))}
	}
	return nil
}

// ImportKey stores an imported key as a new version of name.
func (s *Service) ImportKey(ctx context.Context, v *Vault, name string, p ImportParams) (*Key, error) {
	if err := ValidateObjectName(name); err != nil {
		return nil, err
	}
	if p.JWK == nil {
		return nil, badParameter("The request body must have a 'key' property holding a JsonWebKey.")
	}
	if err := validateKeyAttributes(p.JWK.KeyOps, p.NotBefore, p.Expires, p.Tags); err != nil {
		return nil, err
	}
	jwk := *p.JWK
	if p.HSM && !slices.Contains([]string{keys.KtyRSAHSM, keys.KtyECHSM, keys.KtyOctHSM}, jwk.Kty) {
		jwk.Kty += "-HSM"
	}
	if err := s.checkKeyType(v, jwk.Kty); err != nil {
		return nil, err
	}
	if s.inHSM(jwk.Kty) {
		return nil, badParameter("Importing a key as %s is not supported: this server generates -HSM keys inside its PKCS#11 token and cannot import private keys into it. Import it as %s.",
			jwk.Kty, strings.TrimSuffix(jwk.Kty, "-HSM"))
	}
	material, err := keys.FromJWK(&jwk)
	if err != nil {
		return nil, keyError(err)
	}
	ops := p.JWK.KeyOps
	if ops == nil {
		ops = keys.DefaultOps(jwk.Kty)
	}
	return s.storeKey(ctx, v, name, material, ops, p.Enabled, p.NotBefore, p.Expires, p.Tags)
}

func (s *Service) storeKey(ctx context.Context, v *Vault, name string, material *keys.Key, ops []string, enabled *bool, nbf, exp *int64, tags map[string]string) (*Key, error) {
	return s.storeKeyVersion(ctx, v, name, newVersion(), material, "", ops, enabled, nbf, exp, tags)
}

// storeKeyVersion stores material as version of the key name; hsmRef is the
// reference of a key held in the HSM, or "".
func (s *Service) storeKeyVersion(ctx context.Context, v *Vault, name, version string, material *keys.Key, hsmRef string, ops []string, enabled *bool, nbf, exp *int64, tags map[string]string) (*Key, error) {
	now := s.Now().Unix()
	d := &keyData{
		JWK: *material.PrivateJWK(), KeyOps: ops, Enabled: enabled == nil || *enabled,
		NotBefore: nbf, Expires: exp, Created: now, Updated: now, Tags: tags, HSM: hsmRef,
	}
	content, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	display, err := s.createVersion(ctx, v, keyKind, name, version, content)
	if err != nil {
		return nil, err
	}
	k, err := d.key(display, version)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// GetKey returns a version of the key name (the latest when version is
// empty). Reading a disabled key is refused, as for secrets.
func (s *Service) GetKey(ctx context.Context, v *Vault, name, version string) (*Key, error) {
	obj, err := s.readVersion(ctx, v, keyKind, name, version)
	if err != nil {
		return nil, err
	}
	k, err := decodeKey(obj)
	if err != nil {
		return nil, err
	}
	if !k.Attributes.Enabled {
		return nil, &Error{Kind: KindForbidden, Code: "Forbidden", Inner: "KeyDisabled",
			Message: "Operation get is not allowed on a disabled key."}
	}
	return k, nil
}

// UpdateKey changes the key_ops, attributes or tags of a key version.
func (s *Service) UpdateKey(ctx context.Context, v *Vault, name, version string, u KeyUpdate) (*Key, error) {
	if u.KeyOps != nil {
		if err := keys.ValidateOps(*u.KeyOps); err != nil {
			return nil, keyError(err)
		}
	}
	if u.SetTags {
		if err := validateTags(u.Tags); err != nil {
			return nil, err
		}
	}
	now := s.Now().Unix()
	obj, err := s.updateVersion(ctx, v, keyKind, name, version, func(old []byte) ([]byte, error) {
		var d keyData
		if err := json.Unmarshal(old, &d); err != nil {
			return nil, err
		}
		if d.Managed {
			return nil, &Error{Kind: KindForbidden, Code: "Forbidden",
				Message: fmt.Sprintf("Key %s backs a certificate: update the certificate instead.", name)}
		}
		if u.KeyOps != nil {
			d.KeyOps = *u.KeyOps
		}
		if u.SetTags {
			d.Tags = u.Tags
		}
		if u.Enabled != nil {
			d.Enabled = *u.Enabled
		}
		if u.NotBefore != nil {
			d.NotBefore = u.NotBefore
		}
		if u.Expires != nil {
			d.Expires = u.Expires
		}
		if err := validateWindow(d.NotBefore, d.Expires); err != nil {
			return nil, err
		}
		d.Updated = now
		return json.Marshal(&d)
	})
	if err != nil {
		return nil, err
	}
	return decodeKey(obj)
}

func decodeKeys(objs []*object) ([]*Key, error) {
	items := make([]*Key, len(objs))
	for i, obj := range objs {
		var err error
		if items[i], err = decodeKey(obj); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// ListKeys returns up to max keys in name order, each at its latest version.
func (s *Service) ListKeys(ctx context.Context, v *Vault, cursor string, max int) ([]*Key, string, error) {
	objs, next, err := s.listLatest(ctx, v, keyKind, cursor, max)
	if err != nil {
		return nil, "", err
	}
	items, err := decodeKeys(objs)
	return items, next, err
}

// ListKeyVersions returns up to max versions of the key name.
func (s *Service) ListKeyVersions(ctx context.Context, v *Vault, name, cursor string, max int) ([]*Key, string, error) {
	objs, next, err := s.listVersions(ctx, v, keyKind, name, cursor, max)
	if err != nil {
		return nil, "", err
	}
	items, err := decodeKeys(objs)
	return items, next, err
}

func decodeDeletedKey(d *deletedObject) (*DeletedKey, error) {
	k, err := decodeKey(&d.object)
	if err != nil {
		return nil, err
	}
	return &DeletedKey{Key: *k, DeletedDate: d.DeletedDate, ScheduledPurgeDate: d.ScheduledPurgeDate}, nil
}

// DeleteKey soft-deletes the key name with all its versions.
func (s *Service) DeleteKey(ctx context.Context, v *Vault, name string) (*DeletedKey, error) {
	d, err := s.deleteObject(ctx, v, keyKind, name)
	if err != nil {
		return nil, err
	}
	s.keyMaterial.forget(v.ID(), lower(name))
	return decodeDeletedKey(d)
}

// GetDeletedKey returns the soft-deleted key name.
func (s *Service) GetDeletedKey(ctx context.Context, v *Vault, name string) (*DeletedKey, error) {
	d, err := s.getDeleted(ctx, v, keyKind, name)
	if err != nil {
		return nil, err
	}
	return decodeDeletedKey(d)
}

// ListDeletedKeys returns up to max soft-deleted keys in name order.
func (s *Service) ListDeletedKeys(ctx context.Context, v *Vault, cursor string, max int) ([]*DeletedKey, string, error) {
	objs, next, err := s.listDeleted(ctx, v, keyKind, cursor, max)
	if err != nil {
		return nil, "", err
	}
	items := make([]*DeletedKey, len(objs))
	for i, d := range objs {
		if items[i], err = decodeDeletedKey(d); err != nil {
			return nil, "", err
		}
	}
	return items, next, nil
}

// RecoverDeletedKey brings the soft-deleted key name back.
func (s *Service) RecoverDeletedKey(ctx context.Context, v *Vault, name string) (*Key, error) {
	obj, err := s.recoverObject(ctx, v, keyKind, name)
	if err != nil {
		return nil, err
	}
	return decodeKey(obj)
}

// PurgeDeletedKey removes the soft-deleted key name for good.
func (s *Service) PurgeDeletedKey(ctx context.Context, v *Vault, name string) error {
	s.keyMaterial.forget(v.ID(), lower(name))
	return s.purgeObject(ctx, v, keyKind, name)
}

package vault

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/keyvault/keyvault/internal/certs"
	"github.com/keyvault/keyvault/internal/keys"
	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
)

var certKind = objectKind{
	name: "certificate", title: "Certificate", notFound: "CertificateNotFound",
	heads: "certificates", versions: "certificate-versions", deleted: "deleted-certificates",
}

func init() {
	kindsByName[certKind.name] = certKind
	vaultDataBuckets = append(vaultDataBuckets, certKind.heads, certKind.versions, certKind.deleted,
		bucketCertPolicies, bucketCertOps, bucketCertIssuers, bucketCertContacts, bucketCertNotified)
}

// Storage buckets of certificates besides their versions.
const (
	bucketCertPolicies = "certificate-policies" // vault \x00 name -> certs.Policy (JSON)
	bucketCertOps      = "certificate-ops"      // vault \x00 name -> sealed pendingOp
	bucketCertIssuers  = "certificate-issuers"  // vault \x00 name -> sealed Issuer
	bucketCertContacts = "certificate-contacts" // vault \x00 -> []Contact (JSON)
	bucketCertNotified = "certificate-notified" // vault \x00 name -> version an EmailContacts action fired for
)

// Certificate is one version of a certificate.
type Certificate struct {
	Name        string
	Version     string
	CER         []byte   // the leaf, DER
	Chain       [][]byte // its issuers, DER
	Policy      *certs.Policy
	ContentType string
	Attributes  Attributes
	Tags        map[string]string
}

// DeletedCertificate is a soft-deleted certificate and its dates.
type DeletedCertificate struct {
	Certificate
	DeletedDate        int64
	ScheduledPurgeDate int64
}

// certData is the sealed content of a certificate version.
type certData struct {
	CER         []byte            `json:"cer"`
	Chain       [][]byte          `json:"chain,omitempty"`
	Policy      certs.Policy      `json:"policy"`
	ContentType string            `json:"ct"`
	Enabled     bool              `json:"e"`
	Created     int64             `json:"c"`
	Updated     int64             `json:"u"`
	Tags        map[string]string `json:"t,omitempty"`
}

func (d *certData) certificate(name, version string) (*Certificate, error) {
	leaf, err := x509.ParseCertificate(d.CER)
	if err != nil {
		return nil, fmt.Errorf("stored certificate %s/%s: %w", name, version, err)
	}
	nbf, exp := leaf.NotBefore.Unix(), leaf.NotAfter.Unix()
	p := d.Policy
	return &Certificate{
		Name: name, Version: version, CER: d.CER, Chain: d.Chain, Policy: &p, ContentType: d.ContentType, Tags: d.Tags,
		Attributes: Attributes{Enabled: d.Enabled, NotBefore: &nbf, Expires: &exp, Created: d.Created, Updated: d.Updated},
	}, nil
}

func decodeCertificate(obj *object) (*Certificate, error) {
	var d certData
	if err := json.Unmarshal(obj.Content, &d); err != nil {
		return nil, err
	}
	return d.certificate(obj.Name, obj.Version)
}

// PendingOperation is the state of a certificate request, as the
// certificate's /pending resource shows it.
type PendingOperation struct {
	Name                  string
	Issuer                certs.IssuerParams
	CSR                   []byte
	CancellationRequested bool
	Status                string // inProgress, completed, cancelled or failed
	StatusDetails         string
	Target                string // the version made, once completed
	RequestID             string
	ErrorCode             string
	ErrorMessage          string
}

// pendingOp is the sealed record of a certificate request.
type pendingOp struct {
	Issuer        certs.IssuerParams `json:"issuer"`
	CSR           []byte             `json:"csr,omitempty"`
	Cancellation  bool               `json:"cancel,omitempty"`
	Status        string             `json:"status"`
	StatusDetails string             `json:"details,omitempty"`
	Target        string             `json:"target,omitempty"`
	RequestID     string             `json:"requestId"`
	ErrorCode     string             `json:"errCode,omitempty"`
	ErrorMessage  string             `json:"errMessage,omitempty"`
	Policy        certs.Policy       `json:"policy"`
	Key           *keys.JSONWebKey   `json:"key,omitempty"` // the pending private key, until merged
	Enabled       bool               `json:"enabled"`
	Tags          map[string]string  `json:"tags,omitempty"`
}

func (op *pendingOp) public(name string) *PendingOperation {
	return &PendingOperation{
		Name: name, Issuer: op.Issuer, CSR: op.CSR, CancellationRequested: op.Cancellation, Status: op.Status,
		StatusDetails: op.StatusDetails, Target: op.Target, RequestID: op.RequestID,
		ErrorCode: op.ErrorCode, ErrorMessage: op.ErrorMessage,
	}
}

func certError(err error) error {
	if ce, ok := err.(*certs.Error); ok {
		return &Error{Kind: KindInvalid, Code: ce.Code, Message: ce.Message}
	}
	return keyError(err)
}

// CertificateParams are the inputs of CreateCertificate and
// ImportCertificate. Policy may be nil to reuse the stored policy.
type CertificateParams struct {
	Policy  *certs.Policy
	Enabled *bool
	Tags    map[string]string
}

// keyOpsForUsage returns the key operations a certificate key allows,
// derived from the policy's key usage as Azure derives them.
func keyOpsForUsage(kty string, usage []string) []string {
	var ops []string
	add := func(o ...string) {
		for _, x := range o {
			if !slices.Contains(ops, x) {
				ops = append(ops, x)
			}
		}
	}
	for _, u := range usage {
		switch u {
		case "digitalSignature", "nonRepudiation", "keyCertSign", "cRLSign":
			add(keys.OpSign, keys.OpVerify)
		case "keyEncipherment":
			if keys.Family(kty) == keys.KtyRSA {
				add(keys.OpWrapKey, keys.OpUnwrapKey)
			}
		case "dataEncipherment":
			if keys.Family(kty) == keys.KtyRSA {
				add(keys.OpEncrypt, keys.OpDecrypt)
			}
		}
	}
	if ops == nil {
		ops = []string{keys.OpSign, keys.OpVerify}
	}
	return ops
}

// certPolicyFor applies defaults and validates a create or import policy,
// and checks that the vault offers its key type.
func (s *Service) certPolicyFor(v *Vault, p *certs.Policy) (*certs.Policy, error) {
	full := certs.WithDefaults(p)
	if err := certs.Validate(full); err != nil {
		return nil, certError(err)
	}
	if full.KeyProps.Curve == keys.CurveP256K {
		return nil, &Error{Kind: KindInvalid, Code: "KeyCurveNotSupported",
			Message: "Certificates with P-256K keys are not supported: X.509 signing with secp256k1 is not available here."}
	}
	if err := s.checkCertKeyType(v, full.KeyProps.Kty); err != nil {
		return nil, err
	}
	full.ID = ""
	return full, nil
}

func (s *Service) storedPolicy(ctx context.Context, v *Vault, lname string) (*certs.Policy, error) {
	var p certs.Policy
	found := false
	err := s.store.View(ctx, func(tx storage.Tx) error {
		var err error
		found, err = getJSON(tx, bucketCertPolicies, headKey(v.ID(), lname), &p)
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	return &p, nil
}

// CreateCertificate starts issuing a new version of the certificate name. A
// Self-issued certificate is signed at once and the returned operation is
// completed. Any other issuer leaves the operation in progress with a CSR
// until MergeCertificate. Without a policy the stored one is used.
func (s *Service) CreateCertificate(ctx context.Context, v *Vault, name string, p CertificateParams) (*PendingOperation, error) {
	if err := ValidateObjectName(name); err != nil {
		return nil, err
	}
	if err := validateTags(p.Tags); err != nil {
		return nil, err
	}
	lname := lower(name)
	policy := p.Policy
	if policy == nil {
		stored, err := s.storedPolicy(ctx, v, lname)
		if err != nil {
			return nil, err
		}
		if stored == nil {
			return nil, badParameter("The request body must have a policy: certificate %s has none yet.", name)
		}
		policy = stored
	}
	full, err := s.certPolicyFor(v, policy)
	if err != nil {
		return nil, err
	}
	issuer := full.Issuer.Name
	if !strings.EqualFold(issuer, certs.IssuerSelf) && !strings.EqualFold(issuer, certs.IssuerUnknown) {
		if _, err := s.GetCertificateIssuer(ctx, v, issuer); err != nil {
			return nil, badParameter("The issuer '%s' does not exist in this vault: use Self, Unknown, or create the issuer first.", issuer)
		}
	}
	enabled := p.Enabled == nil || *p.Enabled
	material, err := s.certKeyMaterial(ctx, v, lname, full)
	if err != nil {
		return nil, err
	}

	op := &pendingOp{Issuer: *full.Issuer, Status: "inProgress", RequestID: strings.ReplaceAll(newVersion(), "-", ""),
		Policy: *full, Enabled: enabled, Tags: p.Tags}
	if strings.EqualFold(issuer, certs.IssuerSelf) {
		if pending, err := s.loadOp(ctx, v, name); err == nil && pending.Status == "inProgress" {
			return nil, &Error{Kind: KindConflict, Code: "Conflict",
				Message: fmt.Sprintf("A request for certificate %s is already in progress: merge, cancel or delete it first.", name)}
		}
		return s.issueSelfSigned(ctx, v, name, material, op)
	}
	op.CSR, err = certs.CSR(full, material.Signer())
	if err != nil {
		return nil, certError(err)
	}
	op.Key = material.PrivateJWK()
	op.StatusDetails = "Pending certificate created. Please perform the merge to complete the request."
	if err := s.putPendingOp(ctx, v, name, op, full, true); err != nil {
		return nil, err
	}
	if !strings.EqualFold(issuer, certs.IssuerUnknown) {
		// NOTE: third-party issuers are never contacted: the request waits
		// for a merge, as with Unknown, and is only logged and audited.
		s.Log.Info("certificate request for a third-party issuer waits for a merge; no provider is contacted",
			"vault", v.Name, "certificate", name, "issuer", issuer)
		s.event("CertificateEnroll", v.Name, "certificates/"+name, "issuer "+issuer+" was not contacted; the request waits for a merge")
	}
	return op.public(name), nil
}

// certKeyMaterial returns the key of a new version: the current version's
// key when the policy reuses keys, otherwise a new one.
func (s *Service) certKeyMaterial(ctx context.Context, v *Vault, lname string, p *certs.Policy) (*keys.Key, error) {
	if *p.KeyProps.ReuseKey {
		if obj, err := s.readVersion(ctx, v, keyKind, lname, ""); err == nil {
			d, err := decodeKeyData(obj)
			if err != nil {
				return nil, err
			}
			if k, err := keys.FromStoredJWK(&d.JWK); err == nil && k.Signer() != nil && k.Kty() == p.KeyProps.Kty {
				return k, nil
			}
		}
	}
	k, err := keys.Generate(p.KeyProps.Kty, p.KeyProps.KeySize, 0, p.KeyProps.Curve)
	if err != nil {
		return nil, keyError(err)
	}
	return k, nil
}

func (s *Service) issueSelfSigned(ctx context.Context, v *Vault, name string, material *keys.Key, op *pendingOp) (*PendingOperation, error) {
	der, err := certs.SelfSign(&op.Policy, material.Signer(), s.Now())
	if err != nil {
		return nil, certError(err)
	}
	version, err := s.storeCertificate(ctx, v, name, material, [][]byte{der}, &op.Policy, op.Enabled, op.Tags, op)
	if err != nil {
		return nil, err
	}
	op.Target = version
	return op.public(name), nil
}

// storeCertificate writes a new certificate version with its managed key
// and secret (same name and version) in one transaction, and records the
// policy and, when op is set, the completed operation.
func (s *Service) storeCertificate(ctx context.Context, v *Vault, name string, material *keys.Key, chain [][]byte,
	policy *certs.Policy, enabled bool, tags map[string]string, op *pendingOp) (string, error) {
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return "", certError(fmt.Errorf("parse certificate: %w", err))
	}
	parsed := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		if parsed[i], err = x509.ParseCertificate(der); err != nil {
			return "", badParameter("Certificate %d of the chain is invalid: %v.", i, err)
		}
	}
	now := s.Now().Unix()
	version, lname := newVersion(), lower(name)
	nbf, exp := leaf.NotBefore.Unix(), leaf.NotAfter.Unix()

	var secretKey any
	if *policy.KeyProps.Exportable {
		secretKey = material.Signer()
	}
	value, err := certs.Encode(policy.SecretProps.ContentType, secretKey, parsed)
	if err != nil {
		return "", err
	}
	cert, err := json.Marshal(&certData{CER: chain[0], Chain: chain[1:], Policy: *policy, ContentType: policy.SecretProps.ContentType,
		Enabled: enabled, Created: now, Updated: now, Tags: tags})
	if err != nil {
		return "", err
	}
	key, err := json.Marshal(&keyData{JWK: *material.PrivateJWK(), KeyOps: keyOpsForUsage(material.Kty(), policy.X509Props.KeyUsage),
		Enabled: enabled, NotBefore: &nbf, Expires: &exp, Created: now, Updated: now, Tags: tags, Managed: true})
	if err != nil {
		return "", err
	}
	secret, err := json.Marshal(&secretData{Value: value, ContentType: policy.SecretProps.ContentType, Enabled: enabled,
		NotBefore: &nbf, Expires: &exp, Created: now, Updated: now, Tags: tags, Managed: true,
		KeyID: "keys/" + name + "/" + version})
	if err != nil {
		return "", err
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return "", err
	}
	writes := []versionWrite{{kind: certKind, content: cert}, {kind: keyKind, content: key}, {kind: secretKind, content: secret}}
	for i := range writes {
		if writes[i].record, err = sealer.Seal(writes[i].content, writes[i].kind.aad(v.ID(), lname, version)); err != nil {
			return "", err
		}
	}
	var opRecord []byte
	if op != nil {
		op.Status, op.Target, op.Key, op.StatusDetails = "completed", version, nil, ""
		if opRecord, err = sealOp(sealer, v, lname, op); err != nil {
			return "", err
		}
	}
	storedPolicy := *policy
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		if err := s.checkCertificateName(tx, v, name, lname); err != nil {
			return err
		}
		for _, w := range writes {
			h := head{Name: name, Managed: w.kind != certKind}
			var old head
			found, err := getJSON(tx, w.kind.heads, headKey(v.ID(), lname), &old)
			if err != nil {
				return err
			}
			if found {
				h.Name = old.Name
			}
			h.Latest = version
			if err := putJSON(tx, w.kind.heads, headKey(v.ID(), lname), &h); err != nil {
				return err
			}
			if err := tx.Put(w.kind.versions, versionKey(v.ID(), lname, version), w.record); err != nil {
				return err
			}
		}
		if opRecord != nil {
			if err := tx.Put(bucketCertOps, headKey(v.ID(), lname), opRecord); err != nil {
				return err
			}
		}
		return putPolicy(tx, v, lname, &storedPolicy, now)
	})
	return version, err
}

type versionWrite struct {
	kind    objectKind
	content []byte
	record  []byte
}

// checkCertificateName refuses a certificate version while the name is
// soft-deleted in any family, or taken by a key or secret that no
// certificate owns.
func (s *Service) checkCertificateName(tx storage.Tx, v *Vault, name, lname string) error {
	for _, k := range []objectKind{certKind, keyKind, secretKind} {
		deleted, err := tx.Get(k.deleted, headKey(v.ID(), lname))
		if err != nil {
			return err
		}
		if deleted != nil {
			return k.errDeletedConflict(name)
		}
	}
	for _, k := range []objectKind{keyKind, secretKind} {
		var h head
		found, err := getJSON(tx, k.heads, headKey(v.ID(), lname), &h)
		if err != nil {
			return err
		}
		if found && !h.Managed {
			return &Error{Kind: KindConflict, Code: "Conflict",
				Message: fmt.Sprintf("A %s named %s already exists and is not managed by a certificate; choose another certificate name.", k.name, name)}
		}
	}
	return nil
}

func putPolicy(tx storage.Tx, v *Vault, lname string, p *certs.Policy, now int64) error {
	var old certs.Policy
	found, err := getJSON(tx, bucketCertPolicies, headKey(v.ID(), lname), &old)
	if err != nil {
		return err
	}
	attrs := certs.PolicyAttrs{Created: now, Updated: now}
	if p.Attributes != nil {
		attrs.Enabled = p.Attributes.Enabled
	}
	if found && old.Attributes != nil && old.Attributes.Created != 0 {
		attrs.Created = old.Attributes.Created
	}
	p.Attributes = &attrs
	return putJSON(tx, bucketCertPolicies, headKey(v.ID(), lname), p)
}

func opAAD(v *Vault, lname string) []byte { return seal.AAD("certificate-op", v.ID(), lname) }

func sealOp(sealer *seal.Sealer, v *Vault, lname string, op *pendingOp) ([]byte, error) {
	raw, err := json.Marshal(op)
	if err != nil {
		return nil, err
	}
	return sealer.Seal(raw, opAAD(v, lname))
}

// putPendingOp stores an in-progress request and its policy. With fresh set
// it refuses while another request of the name is in progress.
func (s *Service) putPendingOp(ctx context.Context, v *Vault, name string, op *pendingOp, policy *certs.Policy, fresh bool) error {
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return err
	}
	lname := lower(name)
	record, err := sealOp(sealer, v, lname, op)
	if err != nil {
		return err
	}
	now := s.Now().Unix()
	return s.store.Update(ctx, func(tx storage.Tx) error {
		if err := s.checkCertificateName(tx, v, name, lname); err != nil {
			return err
		}
		if fresh {
			old, err := s.loadOpTx(tx, sealer, v, lname)
			if err != nil {
				return err
			}
			if old != nil && old.Status == "inProgress" {
				return &Error{Kind: KindConflict, Code: "Conflict",
					Message: fmt.Sprintf("A request for certificate %s is already in progress: merge, cancel or delete it first.", name)}
			}
		}
		if err := tx.Put(bucketCertOps, headKey(v.ID(), lname), record); err != nil {
			return err
		}
		p := *policy
		return putPolicy(tx, v, lname, &p, now)
	})
}

func (s *Service) loadOpTx(tx storage.Tx, sealer *seal.Sealer, v *Vault, lname string) (*pendingOp, error) {
	record, err := tx.Get(bucketCertOps, headKey(v.ID(), lname))
	if err != nil || record == nil {
		return nil, err
	}
	raw, err := sealer.Open(record, opAAD(v, lname))
	if err != nil {
		return nil, fmt.Errorf("open certificate operation %s: %w", lname, err)
	}
	var op pendingOp
	return &op, json.Unmarshal(raw, &op)
}

func (s *Service) loadOp(ctx context.Context, v *Vault, name string) (*pendingOp, error) {
	if ValidateObjectName(name) != nil {
		return nil, opNotFound(name)
	}
	sealer, err := s.keys.Sealer(ctx, v.ID())
	if err != nil {
		return nil, err
	}
	var op *pendingOp
	err = s.store.View(ctx, func(tx storage.Tx) error {
		op, err = s.loadOpTx(tx, sealer, v, lower(name))
		return err
	})
	if err != nil {
		return nil, err
	}
	if op == nil {
		return nil, opNotFound(name)
	}
	return op, nil
}

func opNotFound(name string) *Error {
	return &Error{Kind: KindNotFound, Code: "PendingCertificateNotFound",
		Message: fmt.Sprintf("Pending certificate not found: %s", name)}
}

// GetCertificateOperation returns the latest request of the certificate name.
func (s *Service) GetCertificateOperation(ctx context.Context, v *Vault, name string) (*PendingOperation, error) {
	op, err := s.loadOp(ctx, v, name)
	if err != nil {
		return nil, err
	}
	return op.public(name), nil
}

// CancelCertificateOperation marks an in-progress request cancelled.
func (s *Service) CancelCertificateOperation(ctx context.Context, v *Vault, name string) (*PendingOperation, error) {
	op, err := s.loadOp(ctx, v, name)
	if err != nil {
		return nil, err
	}
	if op.Status == "inProgress" {
		op.Cancellation, op.Status, op.Key = true, "cancelled", nil
		op.StatusDetails = "The request was cancelled."
		if err := s.putPendingOp(ctx, v, name, op, &op.Policy, false); err != nil {
			return nil, err
		}
	}
	return op.public(name), nil
}

// DeleteCertificateOperation removes the request record of name and its
// pending key, and returns the operation as it was.
func (s *Service) DeleteCertificateOperation(ctx context.Context, v *Vault, name string) (*PendingOperation, error) {
	op, err := s.loadOp(ctx, v, name)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		return tx.Delete(bucketCertOps, headKey(v.ID(), lower(name)))
	})
	if err != nil {
		return nil, err
	}
	return op.public(name), nil
}

// MergeCertificate completes an in-progress request with the certificate
// (and chain) its issuer signed, leaf first, and returns the new version.
func (s *Service) MergeCertificate(ctx context.Context, v *Vault, name string, chain [][]byte, p CertificateParams) (*Certificate, error) {
	op, err := s.loadOp(ctx, v, name)
	if err != nil {
		return nil, err
	}
	if op.Status != "inProgress" || op.Key == nil {
		return nil, &Error{Kind: KindForbidden, Code: "Forbidden",
			Message: fmt.Sprintf("Certificate %s has no request in progress to merge (status %s).", name, op.Status)}
	}
	material, err := keys.FromStoredJWK(op.Key)
	if err != nil {
		return nil, err
	}
	if _, err := certs.CheckMerge(chain, material.Signer().Public()); err != nil {
		return nil, certError(err)
	}
	if p.Tags != nil {
		if err := validateTags(p.Tags); err != nil {
			return nil, err
		}
		op.Tags = p.Tags
	}
	if p.Enabled != nil {
		op.Enabled = *p.Enabled
	}
	version, err := s.storeCertificate(ctx, v, name, material, chain, &op.Policy, op.Enabled, op.Tags, op)
	if err != nil {
		return nil, err
	}
	return s.GetCertificate(ctx, v, name, version)
}

// ImportCertificate stores an imported certificate (PKCS #12 or PEM with
// its private key) as a new version. The import password is not kept: the
// secret holds a PKCS #12 file with the empty password, or PEM.
func (s *Service) ImportCertificate(ctx context.Context, v *Vault, name, value, password string, p CertificateParams) (*Certificate, error) {
	if err := ValidateObjectName(name); err != nil {
		return nil, err
	}
	if err := validateTags(p.Tags); err != nil {
		return nil, err
	}
	imp, err := certs.Decode(value, password)
	if err != nil {
		return nil, certError(err)
	}
	leaf := imp.Chain[0]
	policy := certs.WithDefaults(policyFromCertificate(leaf, imp, p.Policy))
	if err := certs.Validate(policy); err != nil {
		return nil, certError(err)
	}
	if err := s.checkCertKeyType(v, policy.KeyProps.Kty); err != nil {
		return nil, err
	}
	material, err := keys.FromPrivateKey(policy.KeyProps.Kty, imp.Key)
	if err != nil {
		return nil, keyError(err)
	}
	chain := make([][]byte, len(imp.Chain))
	for i, c := range imp.Chain {
		chain[i] = c.Raw
	}
	version, err := s.storeCertificate(ctx, v, name, material, chain, policy, p.Enabled == nil || *p.Enabled, p.Tags, nil)
	if err != nil {
		return nil, err
	}
	return s.GetCertificate(ctx, v, name, version)
}

// policyFromCertificate derives a policy from an imported certificate,
// filling what the caller's policy leaves open.
func policyFromCertificate(leaf *x509.Certificate, imp *certs.Imported, given *certs.Policy) *certs.Policy {
	p := certs.Policy{}
	if given != nil {
		p = *given
	}
	kp := certs.KeyProps{}
	if p.KeyProps != nil {
		kp = *p.KeyProps
	}
	switch pub := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		if keys.Family(kp.Kty) != keys.KtyRSA {
			kp.Kty = keys.KtyRSA
		}
		kp.KeySize, kp.Curve = pub.N.BitLen(), ""
	case *ecdsa.PublicKey:
		if keys.Family(kp.Kty) != keys.KtyEC {
			kp.Kty = keys.KtyEC
		}
		kp.KeySize, kp.Curve = 0, pub.Curve.Params().Name
	}
	p.KeyProps = &kp
	sp := certs.SecretProps{ContentType: imp.ContentType}
	if p.SecretProps != nil && p.SecretProps.ContentType != "" {
		sp.ContentType = p.SecretProps.ContentType
	}
	p.SecretProps = &sp
	// CertificateSubject, unlike pkix.Name.String, writes every attribute
	// (e-mail, DC) in the form ParseSubject reads back.
	xp := certs.X509Props{Subject: certs.CertificateSubject(leaf)}
	if p.X509Props != nil {
		xp = *p.X509Props
		if xp.Subject == "" {
			xp.Subject = certs.CertificateSubject(leaf)
		}
	}
	if xp.ValidityMonths == 0 {
		months := int(leaf.NotAfter.Sub(leaf.NotBefore).Hours()/24/30 + 0.5)
		xp.ValidityMonths = max(months, 1)
	}
	if xp.SANs == nil && (len(leaf.DNSNames)+len(leaf.EmailAddresses)+len(leaf.IPAddresses)+len(leaf.URIs)) > 0 {
		sans := &certs.SANs{DNSNames: leaf.DNSNames, Emails: leaf.EmailAddresses}
		for _, ip := range leaf.IPAddresses {
			sans.IPAddresses = append(sans.IPAddresses, ip.String())
		}
		for _, u := range leaf.URIs {
			sans.URIs = append(sans.URIs, u.String())
		}
		xp.SANs = sans
	}
	if xp.Subject == "" && xp.SANs == nil {
		xp.Subject = "CN=" + leaf.SerialNumber.String()
	}
	p.X509Props = &xp

	// Another CA issued the certificate, so the issuer is Unknown unless
	// the caller names one. It is set before WithDefaults runs, so that the
	// default lifetime action is EmailContacts: the vault cannot renew it.
	ip := certs.IssuerParams{Name: certs.IssuerUnknown}
	if p.Issuer != nil {
		ip = *p.Issuer
		if ip.Name == "" {
			ip.Name = certs.IssuerUnknown
		}
	}
	p.Issuer = &ip
	return &p
}

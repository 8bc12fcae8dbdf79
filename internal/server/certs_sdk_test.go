package server_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/keyvault/keyvault/internal/kvtest"
)

// These tests drive the Certificates API through the Azure SDK for Go
// (azcertificates v1.4.0) against a real server over TLS, and check the key
// and secret that back each certificate through azkeys and azsecrets. Every
// certificate, PKCS #12 file and signature is checked locally with the
// standard library, go-pkcs12 and, where installed, the openssl command.
// Helpers shared with the other SDK tests (sdkDeref, sdkWantError,
// sdkInnerCode, sdkKeyOps, sdkKeyLog, startSDKKeyClockVault) live in
// secrets_sdk_test.go and keys_sdk_test.go.

// certAPIVersion is the api-version of raw requests, the one that
// azcertificates v1.4.0 sends.
const certAPIVersion = "7.6"

// Extended key usages of TLS servers and clients (RFC 5280, section 4.2.1.12).
const (
	certServerAuth = "1.3.6.1.5.5.7.3.1"
	certClientAuth = "1.3.6.1.5.5.7.3.2"
)

// certVault bundles a server with certificates, keys and secrets clients for
// its default vault and an administrator token for raw requests.
type certVault struct {
	in      *kvtest.Instance
	c       *azcertificates.Client
	keys    *azkeys.Client
	secrets *azsecrets.Client
	base    string // https://default.vault.localhost:PORT
	token   string
}

func startCertVault(t *testing.T, opts kvtest.Options) *certVault {
	t.Helper()
	return newCertVault(t, kvtest.Start(t, opts))
}

func newCertVault(t *testing.T, in *kvtest.Instance) *certVault {
	t.Helper()
	return &certVault{in: in, c: in.CertificatesClient(t, "default"), keys: in.KeysClient(t, "default"),
		secrets: in.SecretsClient(t, "default"), base: in.VaultURL("default"), token: in.Token(t)}
}

// raw sends a request to the default vault with the administrator token.
// path must not have a query string, because raw appends the api-version.
func (v *certVault) raw(t *testing.T, method, path, body string) *kvtest.Response {
	t.Helper()
	return v.in.Do(t, method, v.base+path+"?api-version="+certAPIVersion, v.token, body)
}

// certSelfPolicy returns a Self-issued policy with subject and nothing else,
// so that the server fills in every default.
func certSelfPolicy(subject string) *azcertificates.CertificatePolicy {
	return &azcertificates.CertificatePolicy{
		IssuerParameters:          &azcertificates.IssuerParameters{Name: to.Ptr("Self")},
		X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr(subject)},
	}
}

// create starts a certificate with policy, waits for its operation to
// complete and returns the new certificate version.
func (v *certVault) create(t *testing.T, name string, policy *azcertificates.CertificatePolicy) azcertificates.Certificate {
	t.Helper()
	ctx := context.Background()
	if _, err := v.c.CreateCertificate(ctx, name, azcertificates.CreateCertificateParameters{CertificatePolicy: policy}, nil); err != nil {
		t.Fatalf("CreateCertificate(%q): %v", name, err)
	}
	op := v.wait(t, name)
	if got := sdkDeref(op.Status); got != "completed" {
		t.Fatalf("operation of %q ended with status %q (%s), want completed", name, got, sdkDeref(op.StatusDetails))
	}
	return v.get(t, name, "")
}

// wait polls the pending operation of name, as the SDK's callers do, until
// it leaves inProgress, and fails the test after 50 polls.
func (v *certVault) wait(t *testing.T, name string) azcertificates.CertificateOperation {
	t.Helper()
	for range 50 {
		resp, err := v.c.GetCertificateOperation(context.Background(), name, nil)
		if err != nil {
			t.Fatalf("GetCertificateOperation(%q): %v", name, err)
		}
		if sdkDeref(resp.Status) != "inProgress" {
			return resp.CertificateOperation
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("operation of %q is still in progress after 50 polls", name)
	return azcertificates.CertificateOperation{}
}

// operation reads the pending operation of name once.
func (v *certVault) operation(t *testing.T, name string) azcertificates.CertificateOperation {
	t.Helper()
	resp, err := v.c.GetCertificateOperation(context.Background(), name, nil)
	if err != nil {
		t.Fatalf("GetCertificateOperation(%q): %v", name, err)
	}
	return resp.CertificateOperation
}

func (v *certVault) get(t *testing.T, name, version string) azcertificates.Certificate {
	t.Helper()
	resp, err := v.c.GetCertificate(context.Background(), name, version, nil)
	if err != nil {
		t.Fatalf("GetCertificate(%q, %q): %v", name, version, err)
	}
	return resp.Certificate
}

// versions lists the version ids of the certificate name, sorted.
func (v *certVault) versions(t *testing.T, name string) []string {
	t.Helper()
	var ids []string
	pager := v.c.NewListCertificatePropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list versions of %q: %v", name, err)
		}
		for _, item := range page.Value {
			ids = append(ids, item.ID.Version())
		}
	}
	slices.Sort(ids)
	return ids
}

// secretVersions lists the version ids of the secret name, sorted.
func (v *certVault) secretVersions(t *testing.T, name string) []string {
	t.Helper()
	var ids []string
	pager := v.secrets.NewListSecretPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list secret versions of %q: %v", name, err)
		}
		for _, item := range page.Value {
			ids = append(ids, item.ID.Version())
		}
	}
	slices.Sort(ids)
	return ids
}

// keyVersions lists the version ids of the key name, sorted.
func (v *certVault) keyVersions(t *testing.T, name string) []string {
	t.Helper()
	var ids []string
	pager := v.keys.NewListKeyPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list key versions of %q: %v", name, err)
		}
		for _, item := range page.Value {
			ids = append(ids, item.KID.Version())
		}
	}
	slices.Sort(ids)
	return ids
}

// certParse parses the cer of a certificate bundle.
func certParse(t *testing.T, cer []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(cer)
	if err != nil {
		t.Fatalf("parse cer: %v", err)
	}
	return c
}

// certPublicEqual reports whether two public keys are the same key.
func certPublicEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// checkBundleIDs checks the id, kid, sid and x5t of a certificate bundle of
// name: all three ids carry the same version, and x5t is the SHA-1 of cer.
func (v *certVault) checkBundleIDs(t *testing.T, c azcertificates.Certificate, name string) string {
	t.Helper()
	if c.ID == nil || c.KID == nil || c.SID == nil {
		t.Fatalf("bundle of %q lacks id, kid or sid: %v %v %v", name, c.ID, c.KID, c.SID)
	}
	version := c.ID.Version()
	if !sdkVersionPattern.MatchString(version) {
		t.Fatalf("id = %q, want %s/certificates/%s/<32 hex digits>", *c.ID, v.base, name)
	}
	for _, id := range []struct{ got, want string }{
		{string(*c.ID), v.base + "/certificates/" + name + "/" + version},
		{string(*c.KID), v.base + "/keys/" + name + "/" + version},
		{string(*c.SID), v.base + "/secrets/" + name + "/" + version},
	} {
		if id.got != id.want {
			t.Errorf("id = %q, want %q", id.got, id.want)
		}
	}
	sum := sha1.Sum(c.CER)
	if !bytes.Equal(c.X509Thumbprint, sum[:]) {
		t.Errorf("x5t = %x, want SHA-1 of cer %x", c.X509Thumbprint, sum)
	}
	return version
}

// secretPKCS12 reads a version of the secret name and opens it as a PKCS #12
// file with the empty password.
func (v *certVault) secretPKCS12(t *testing.T, name, version string) (crypto.PrivateKey, *x509.Certificate, []*x509.Certificate, []byte) {
	t.Helper()
	s := sdkGet(t, v.secrets, name, version)
	if got := sdkDeref(s.ContentType); got != "application/x-pkcs12" {
		t.Errorf("secret contentType = %q, want application/x-pkcs12", got)
	}
	raw, err := base64.StdEncoding.DecodeString(sdkDeref(s.Value))
	if err != nil {
		t.Fatalf("secret value is not base64: %v", err)
	}
	key, leaf, cas, err := pkcs12.DecodeChain(raw, "")
	if err != nil {
		t.Fatalf("open PKCS #12 with the empty password: %v", err)
	}
	return key, leaf, cas, raw
}

// certPEMBlocks splits PEM text into its blocks and fails on trailing text
// that is not PEM.
func certPEMBlocks(t *testing.T, text string) []*pem.Block {
	t.Helper()
	var blocks []*pem.Block
	rest := []byte(text)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Errorf("PEM text ends with %d bytes that are not PEM", len(rest))
	}
	return blocks
}

// certPEMContents returns the private key and the certificates, in order, of
// PEM text.
func certPEMContents(t *testing.T, text string) (crypto.Signer, []*x509.Certificate) {
	t.Helper()
	var key crypto.Signer
	var chain []*x509.Certificate
	for _, b := range certPEMBlocks(t, text) {
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				t.Fatalf("parse PEM private key: %v", err)
			}
			key = k.(crypto.Signer)
		case "CERTIFICATE":
			chain = append(chain, certParse(t, b.Bytes))
		default:
			t.Errorf("unexpected PEM block %q", b.Type)
		}
	}
	return key, chain
}

// certOpenSSL returns the path of the openssl command. Without it the test
// is skipped, except in CI, where it must be installed.
func certOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("openssl is not installed: %v", err)
		}
		t.Skipf("openssl is not installed: %v", err)
	}
	return path
}

func certRunOpenSSL(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(certOpenSSL(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// certTestCA makes a CA certificate and key for tests that sign CSRs.
func certTestCA(t *testing.T, cn string, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate CA key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	return certIssue(t, tmpl, parent, key.Public(), parentKey), key
}

func certIssue(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("create certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return certParse(t, der)
}

// certLeafTemplate returns a TLS server certificate template for cn.
func certLeafTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"Contoso"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(0, 6, 0), DNSNames: []string{cn},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
}

// checkSigns signs a digest with a version of the managed key name and
// checks the signature with the public key of cert.
func (v *certVault) checkSigns(t *testing.T, name, version string, cert *x509.Certificate) {
	t.Helper()
	var alg azkeys.SignatureAlgorithm
	var digest []byte
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		sum := sha256.Sum256([]byte("signed by " + name))
		alg, digest = azkeys.SignatureAlgorithmRS256, sum[:]
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			sum := sha256.Sum256([]byte("signed by " + name))
			alg, digest = azkeys.SignatureAlgorithmES256, sum[:]
		case elliptic.P384():
			sum := sha512.Sum384([]byte("signed by " + name))
			alg, digest = azkeys.SignatureAlgorithmES384, sum[:]
		default:
			t.Fatalf("no signature algorithm for curve %s", pub.Curve.Params().Name)
		}
	default:
		t.Fatalf("certificate key is a %T", cert.PublicKey)
	}
	resp, err := v.keys.Sign(context.Background(), name, version, sdkKeySignParams(alg, digest), nil)
	if err != nil {
		t.Fatalf("Sign(%s) with the managed key: %v", alg, err)
	}
	sig := resp.Result
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig); err != nil {
			t.Errorf("%s signature does not verify with the certificate's key: %v", alg, err)
		}
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			t.Fatalf("%s signature has %d bytes, want r||s of %d", alg, len(sig), 2*size)
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(pub, digest, r, s) {
			t.Errorf("%s signature does not verify with the certificate's key", alg)
		}
	}
}

func TestCertsCreateDefaults(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	before := time.Now()

	// The raw response shows the 202 and the operation's wire shape.
	r := v.raw(t, http.MethodPost, "/certificates/defaults/create",
		`{"policy":{"issuer":{"name":"Self"},"x509_props":{"subject":"CN=defaults.example.com"}}}`)
	if r.Status != http.StatusAccepted {
		t.Fatalf("create: %v, want 202", r)
	}
	if got, want := r.Header.Get("Location"), v.base+"/certificates/defaults/pending?api-version="+certAPIVersion; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	var op struct {
		ID                    string          `json:"id"`
		Issuer                map[string]any  `json:"issuer"`
		Status                string          `json:"status"`
		Target                string          `json:"target"`
		RequestID             string          `json:"request_id"`
		CancellationRequested *bool           `json:"cancellation_requested"`
		Error                 json.RawMessage `json:"error"`
	}
	r.JSON(t, &op)
	if op.ID != v.base+"/certificates/defaults/pending" {
		t.Errorf("operation id = %q, want %s/certificates/defaults/pending", op.ID, v.base)
	}
	if op.Issuer["name"] != "Self" {
		t.Errorf("operation issuer = %v, want name Self", op.Issuer)
	}
	// Azure responds to a create with inProgress and no target, even when the
	// certificate is ready by the first poll (see the Pending subtest).
	if op.Status != "inProgress" || op.Target != "" {
		t.Errorf("operation status %q target %q, want inProgress and no target", op.Status, op.Target)
	}
	if op.RequestID == "" || op.CancellationRequested == nil || *op.CancellationRequested || op.Error != nil {
		t.Errorf("operation request_id %q, cancellation_requested %v, error %s: want an id, false and no error",
			op.RequestID, op.CancellationRequested, op.Error)
	}

	t.Run("Pending", func(t *testing.T) {
		got := v.wait(t, "defaults")
		if sdkDeref(got.Status) != "completed" || sdkDeref(got.Target) != v.base+"/certificates/defaults" {
			t.Errorf("GET pending: status %q target %q, want completed and the certificate", sdkDeref(got.Status), sdkDeref(got.Target))
		}
		if got.ID == nil || string(*got.ID) != v.base+"/certificates/defaults/pending" {
			t.Errorf("GET pending id = %v, want %s/certificates/defaults/pending", got.ID, v.base)
		}
	})

	cert := v.get(t, "defaults", "")
	version := v.checkBundleIDs(t, cert, "defaults")
	leaf := certParse(t, cert.CER)
	done := time.Now()

	t.Run("Policy", func(t *testing.T) {
		resp, err := v.c.GetCertificatePolicy(ctx, "defaults", nil)
		if err != nil {
			t.Fatalf("GetCertificatePolicy: %v", err)
		}
		for _, p := range []*azcertificates.CertificatePolicy{&resp.CertificatePolicy, cert.Policy} {
			kp, sp, xp := p.KeyProperties, p.SecretProperties, p.X509CertificateProperties
			if kp == nil || sp == nil || xp == nil || p.IssuerParameters == nil {
				t.Fatalf("policy lacks key, secret, x509 or issuer properties")
			}
			if sdkDeref(kp.KeyType) != azcertificates.KeyTypeRSA || sdkDeref(kp.KeySize) != 2048 ||
				!sdkDeref(kp.Exportable) || kp.ReuseKey == nil || *kp.ReuseKey {
				t.Errorf("key_props = kty %q size %d exportable %v reuse_key %v, want RSA 2048 true false",
					sdkDeref(kp.KeyType), sdkDeref(kp.KeySize), sdkDeref(kp.Exportable), kp.ReuseKey)
			}
			if got := sdkDeref(sp.ContentType); got != "application/x-pkcs12" {
				t.Errorf("secret_props.contentType = %q, want application/x-pkcs12", got)
			}
			if sdkDeref(xp.ValidityInMonths) != 12 || sdkDeref(xp.Subject) != "CN=defaults.example.com" {
				t.Errorf("x509_props validity %d subject %q, want 12 and CN=defaults.example.com",
					sdkDeref(xp.ValidityInMonths), sdkDeref(xp.Subject))
			}
			var usage []string
			for _, u := range xp.KeyUsage {
				usage = append(usage, string(sdkDeref(u)))
			}
			if !slices.Equal(usage, []string{"digitalSignature", "keyEncipherment"}) {
				t.Errorf("key_usage = %v, want [digitalSignature keyEncipherment]", usage)
			}
			if len(p.LifetimeActions) != 1 || sdkDeref(p.LifetimeActions[0].Trigger.LifetimePercentage) != 80 ||
				sdkDeref(p.LifetimeActions[0].Action.ActionType) != azcertificates.CertificatePolicyActionAutoRenew {
				t.Errorf("lifetime_actions = %s, want one AutoRenew at 80%%", certJSON(p.LifetimeActions))
			}
			if got := sdkDeref(p.IssuerParameters.Name); got != "Self" {
				t.Errorf("issuer = %q, want Self", got)
			}
			if p.ID == nil || string(*p.ID) != v.base+"/certificates/defaults/policy" {
				t.Errorf("policy id = %v, want %s/certificates/defaults/policy", p.ID, v.base)
			}
		}
	})

	t.Run("Certificate", func(t *testing.T) {
		if got := leaf.Subject.String(); got != "CN=defaults.example.com" {
			t.Errorf("subject = %q, want CN=defaults.example.com", got)
		}
		if !bytes.Equal(leaf.RawIssuer, leaf.RawSubject) {
			t.Errorf("issuer %q, want the subject: Self issues self-signed certificates", leaf.Issuer)
		}
		if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
			t.Errorf("self signature: %v", err)
		}
		if pub, ok := leaf.PublicKey.(*rsa.PublicKey); !ok || pub.N.BitLen() != 2048 {
			t.Errorf("public key %T, want RSA 2048", leaf.PublicKey)
		}
		if want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment; leaf.KeyUsage != want {
			t.Errorf("KeyUsage = %b, want %b", leaf.KeyUsage, want)
		}
		if got, want := leaf.NotAfter.Sub(leaf.NotBefore), 365*24*time.Hour; got < want || got > want+25*time.Hour {
			t.Errorf("validity = %v, want 12 months", got)
		}
		a := cert.Attributes
		if a == nil || !sdkDeref(a.Enabled) || a.NotBefore == nil || !a.NotBefore.Equal(leaf.NotBefore) ||
			a.Expires == nil || !a.Expires.Equal(leaf.NotAfter) {
			t.Errorf("attributes = %s, want enabled with nbf and exp of the certificate", certJSON(a))
		}
		sdkCheckRecent(t, "created", a.Created, before, done)
		if got := sdkDeref(a.RecoveryLevel); got != "Recoverable+Purgeable" {
			t.Errorf("recoveryLevel = %q, want Recoverable+Purgeable", got)
		}
		if got := sdkDeref(cert.ContentType); got != "application/x-pkcs12" {
			t.Errorf("contentType = %q, want application/x-pkcs12", got)
		}
	})

	t.Run("ManagedKey", func(t *testing.T) {
		resp, err := v.keys.GetKey(ctx, "defaults", "", nil)
		if err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		if !sdkDeref(resp.Managed) {
			t.Errorf("key managed = false, want true")
		}
		if got := string(*resp.Key.KID); got != v.base+"/keys/defaults/"+version {
			t.Errorf("key kid = %q, want the certificate's kid", got)
		}
		ops := sdkKeyOps(resp.Key.KeyOps)
		for _, want := range []string{"sign", "verify", "wrapKey", "unwrapKey"} {
			if !slices.Contains(ops, want) {
				t.Errorf("key_ops = %v, want it to include %s", ops, want)
			}
		}
		if n := new(big.Int).SetBytes(resp.Key.N); n.Cmp(leaf.PublicKey.(*rsa.PublicKey).N) != 0 {
			t.Errorf("key modulus differs from the certificate's")
		}
		v.checkSigns(t, "defaults", version, leaf)
	})

	t.Run("ManagedSecret", func(t *testing.T) {
		s := sdkGet(t, v.secrets, "defaults", "")
		if !sdkDeref(s.Managed) {
			t.Errorf("secret managed = false, want true")
		}
		if s.KID == nil || string(*s.KID) != v.base+"/keys/defaults/"+version {
			t.Errorf("secret kid = %v, want %s/keys/defaults/%s", s.KID, v.base, version)
		}
		if got := sdkCheckID(t, s.ID, v.base, "defaults"); got != version {
			t.Errorf("secret version = %s, want the certificate's %s", got, version)
		}
		key, pfxLeaf, cas, _ := v.secretPKCS12(t, "defaults", version)
		if !pfxLeaf.Equal(leaf) || len(cas) != 0 {
			t.Errorf("PKCS #12 holds %q and %d CA certificates, want the certificate alone", pfxLeaf.Subject, len(cas))
		}
		if signer, ok := key.(crypto.Signer); !ok || !certPublicEqual(leaf.PublicKey, signer.Public()) {
			t.Errorf("PKCS #12 key does not match the certificate")
		}
	})
}

// certJSON renders v for failure messages.
func certJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

func TestCertsCreateKeyTypes(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	tests := []struct {
		name    string
		props   *azcertificates.KeyProperties
		wantOps []string
		check   func(t *testing.T, pub crypto.PublicKey)
	}{
		{
			name:    "ec-p256",
			props:   &azcertificates.KeyProperties{KeyType: to.Ptr(azcertificates.KeyTypeEC), Curve: to.Ptr(azcertificates.CurveNameP256)},
			wantOps: []string{"sign", "verify"},
			check: func(t *testing.T, pub crypto.PublicKey) {
				if k, ok := pub.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
					t.Errorf("public key %T, want ECDSA P-256", pub)
				}
			},
		},
		{
			name:    "ec-p384",
			props:   &azcertificates.KeyProperties{KeyType: to.Ptr(azcertificates.KeyTypeEC), Curve: to.Ptr(azcertificates.CurveNameP384)},
			wantOps: []string{"sign", "verify"},
			check: func(t *testing.T, pub crypto.PublicKey) {
				if k, ok := pub.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P384() {
					t.Errorf("public key %T, want ECDSA P-384", pub)
				}
			},
		},
		{
			name:    "rsa-3072",
			props:   &azcertificates.KeyProperties{KeyType: to.Ptr(azcertificates.KeyTypeRSA), KeySize: to.Ptr(int32(3072))},
			wantOps: []string{"sign", "verify", "wrapKey", "unwrapKey"},
			check: func(t *testing.T, pub crypto.PublicKey) {
				if k, ok := pub.(*rsa.PublicKey); !ok || k.N.BitLen() != 3072 {
					t.Errorf("public key %T, want RSA 3072", pub)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := certSelfPolicy("CN=" + tt.name)
			p.KeyProperties = tt.props
			cert := v.create(t, tt.name, p)
			version := v.checkBundleIDs(t, cert, tt.name)
			leaf := certParse(t, cert.CER)
			tt.check(t, leaf.PublicKey)

			key, err := v.keys.GetKey(ctx, tt.name, version, nil)
			if err != nil {
				t.Fatalf("GetKey: %v", err)
			}
			if got := sdkKeyOps(key.Key.KeyOps); !slices.Equal(got, tt.wantOps) {
				t.Errorf("key_ops = %v, want %v", got, tt.wantOps)
			}
			if got, want := string(sdkDeref(key.Key.Kty)), string(sdkDeref(tt.props.KeyType)); got != want {
				t.Errorf("kty = %q, want %q", got, want)
			}
			if tt.props.Curve != nil && string(sdkDeref(key.Key.Crv)) != string(*tt.props.Curve) {
				t.Errorf("crv = %q, want %q", sdkDeref(key.Key.Crv), *tt.props.Curve)
			}
			v.checkSigns(t, tt.name, version, leaf)

			pk, pfxLeaf, _, _ := v.secretPKCS12(t, tt.name, version)
			if signer, ok := pk.(crypto.Signer); !ok || !certPublicEqual(leaf.PublicKey, signer.Public()) || !pfxLeaf.Equal(leaf) {
				t.Errorf("PKCS #12 key or certificate does not match the certificate")
			}
			policy, err := v.c.GetCertificatePolicy(ctx, tt.name, nil)
			if err != nil {
				t.Fatalf("GetCertificatePolicy: %v", err)
			}
			if got := policy.KeyProperties; sdkDeref(got.KeyType) != sdkDeref(tt.props.KeyType) ||
				sdkDeref(got.Curve) != sdkDeref(tt.props.Curve) {
				t.Errorf("policy key_props = %s, want %s", certJSON(got), certJSON(tt.props))
			}
		})
	}

	t.Run("Invalid", func(t *testing.T) {
		for _, body := range []string{
			`{"policy":{"key_props":{"kty":"RSA","key_size":1024},"x509_props":{"subject":"CN=x"}}}`,
			`{"policy":{"key_props":{"kty":"oct"},"x509_props":{"subject":"CN=x"}}}`,
			`{"policy":{"x509_props":{"subject":"not a subject"}}}`,
			`{"policy":{"x509_props":{}}}`,
			`{"policy":{"x509_props":{"subject":"CN=x","ekus":["serverAuth"]}}}`,
			`{"policy":{"x509_props":{"subject":"CN=x","ekus":["5.1"]}}}`,
			`{"policy":{"x509_props":{"subject":"CN=x","validity_months":0,"key_usage":["everything"]}}}`,
			`{"policy":{"secret_props":{"contentType":"text/plain"},"x509_props":{"subject":"CN=x"}}}`,
			`{"policy":{"x509_props":{"subject":"CN=x"},"lifetime_actions":[{"trigger":{"lifetime_percentage":100},"action":{"action_type":"AutoRenew"}}]}}`,
			`{"policy":{"x509_props":{"subject":"CN=x","sans":{"upns":["a@contoso.com"]}}}}`,
			`{"policy":{"x509_props":{"subject":"CN=x","sans":{"dns_names":["bücher.example"]}}}}`,
			`{"policy":{"x509_props":{"subject":"CN=x","sans":{"emails":["jané@example.com"]}}}}`,
			`{"policy":{"x509_props":{"subject":"CN=x","sans":{"uris":["https://bücher.example/"]}}}}`,
			`{"policy":{"x509_props":{"subject":"CN=x","sans":{"uris":["https://example./"]}}}}`,
			`{"policy":{"issuer":{"name":"Unknown"},"x509_props":{"subject":"CN=x","sans":{"uris":["https://example./"]}}}}`,
			`{}`,
		} {
			r := v.raw(t, http.MethodPost, "/certificates/invalid/create", body)
			checkAzureError(t, r, http.StatusBadRequest, "BadParameter", "")
		}
		for _, crv := range []string{"P-224", "P-256K"} {
			r := v.raw(t, http.MethodPost, "/certificates/invalid/create",
				`{"policy":{"key_props":{"kty":"EC","crv":"`+crv+`"},"x509_props":{"subject":"CN=x"}}}`)
			checkAzureError(t, r, http.StatusBadRequest, "KeyCurveNotSupported", "")
		}
		if _, err := v.c.GetCertificate(ctx, "invalid", "", nil); err == nil {
			t.Errorf("GetCertificate after failed creates succeeded, want 404")
		}
	})
}

func TestCertsCreateSANsAndEKUs(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	body := `{"policy":{"issuer":{"name":"Self"},"x509_props":{
		"subject":"CN=sans.example.com, O=Contoso, C=US",
		"sans":{"dns_names":["sans.example.com","*.sans.example.com"],"emails":["ops@example.com"],
			"ipAddresses":["127.0.0.1","::1"],"uris":["spiffe://example.com/svc"]},
		"ekus":["` + certServerAuth + `","` + certClientAuth + `"],
		"key_usage":["digitalSignature","keyEncipherment","nonRepudiation"]}}}`
	r := v.raw(t, http.MethodPost, "/certificates/sans/create", body)
	if r.Status != http.StatusAccepted {
		t.Fatalf("create: %v, want 202", r)
	}
	cert := v.get(t, "sans", "")
	leaf := certParse(t, cert.CER)

	if got, want := leaf.Subject.String(), "CN=sans.example.com,O=Contoso,C=US"; got != want {
		t.Errorf("subject = %q, want %q", got, want)
	}
	if want := []string{"sans.example.com", "*.sans.example.com"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNSNames = %q, want %q", leaf.DNSNames, want)
	}
	if want := []string{"ops@example.com"}; !slices.Equal(leaf.EmailAddresses, want) {
		t.Errorf("EmailAddresses = %q, want %q", leaf.EmailAddresses, want)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || !leaf.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IPAddresses = %v, want [127.0.0.1 ::1]", leaf.IPAddresses)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://example.com/svc" {
		t.Errorf("URIs = %v, want [spiffe://example.com/svc]", leaf.URIs)
	}
	if want := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}; !slices.Equal(leaf.ExtKeyUsage, want) {
		t.Errorf("ExtKeyUsage = %v, want %v", leaf.ExtKeyUsage, want)
	}
	if want := x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageContentCommitment; leaf.KeyUsage != want {
		t.Errorf("KeyUsage = %b, want %b", leaf.KeyUsage, want)
	}

	// The policy keeps every SAN type, including the two the SDK has no
	// field for.
	r = v.raw(t, http.MethodGet, "/certificates/sans/policy", "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET policy: %v", r)
	}
	var policy struct {
		X509 struct {
			SANs map[string][]string `json:"sans"`
			EKUs []string            `json:"ekus"`
		} `json:"x509_props"`
	}
	r.JSON(t, &policy)
	wantSANs := map[string][]string{"dns_names": {"sans.example.com", "*.sans.example.com"}, "emails": {"ops@example.com"},
		"ipAddresses": {"127.0.0.1", "::1"}, "uris": {"spiffe://example.com/svc"}}
	if certJSON(policy.X509.SANs) != certJSON(wantSANs) {
		t.Errorf("policy sans = %s, want %s", certJSON(policy.X509.SANs), certJSON(wantSANs))
	}
	if !slices.Equal(policy.X509.EKUs, []string{certServerAuth, certClientAuth}) {
		t.Errorf("policy ekus = %v, want [%s %s]", policy.X509.EKUs, certServerAuth, certClientAuth)
	}

	t.Run("SDKPolicy", func(t *testing.T) {
		p := certSelfPolicy("CN=sdk.example.com")
		p.X509CertificateProperties.SubjectAlternativeNames = &azcertificates.SubjectAlternativeNames{
			DNSNames: []*string{to.Ptr("sdk.example.com")}, Emails: []*string{to.Ptr("sdk@example.com")},
		}
		p.X509CertificateProperties.EnhancedKeyUsage = []*string{to.Ptr(certClientAuth)}
		leaf := certParse(t, v.create(t, "sdk-sans", p).CER)
		if !slices.Equal(leaf.DNSNames, []string{"sdk.example.com"}) || !slices.Equal(leaf.EmailAddresses, []string{"sdk@example.com"}) {
			t.Errorf("SANs = %q %q, want sdk.example.com and sdk@example.com", leaf.DNSNames, leaf.EmailAddresses)
		}
		if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
			t.Errorf("ExtKeyUsage = %v, want [clientAuth]", leaf.ExtKeyUsage)
		}
		got, err := v.c.GetCertificatePolicy(ctx, "sdk-sans", nil)
		if err != nil {
			t.Fatalf("GetCertificatePolicy: %v", err)
		}
		if sans := got.X509CertificateProperties.SubjectAlternativeNames; sans == nil || len(sans.DNSNames) != 1 || *sans.DNSNames[0] != "sdk.example.com" {
			t.Errorf("policy SANs = %s, want dns_names [sdk.example.com]", certJSON(sans))
		}
	})

	t.Run("OpenSSL", func(t *testing.T) {
		certOpenSSL(t)
		path := filepath.Join(t.TempDir(), "sans.pem")
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.CER}), 0o600); err != nil {
			t.Fatal(err)
		}
		text := certRunOpenSSL(t, "x509", "-in", path, "-noout", "-text")
		for _, want := range []string{
			"Subject: C = US, O = Contoso, CN = sans.example.com",
			"DNS:sans.example.com", "DNS:*.sans.example.com", "email:ops@example.com",
			"IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1", "URI:spiffe://example.com/svc",
			"TLS Web Server Authentication, TLS Web Client Authentication",
			"Digital Signature, Non Repudiation, Key Encipherment",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("openssl x509 -text lacks %q:\n%s", want, text)
			}
		}
	})
}

func TestCertsGetByVersion(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	first := v.create(t, "versioned", certSelfPolicy("CN=versioned"))
	second := v.create(t, "versioned", nil) // a create without a policy reuses the stored one
	v1, v2 := v.checkBundleIDs(t, first, "versioned"), v.checkBundleIDs(t, second, "versioned")
	if v1 == v2 {
		t.Fatalf("two creates made the same version %s", v1)
	}
	if bytes.Equal(first.CER, second.CER) {
		t.Errorf("second version has the same cer as the first")
	}
	if got := certParse(t, second.CER).Subject.String(); got != "CN=versioned" {
		t.Errorf("second version subject = %q, want CN=versioned from the stored policy", got)
	}

	for _, tt := range []struct {
		name, version string
		want          azcertificates.Certificate
	}{
		{name: "Latest", version: "", want: second},
		{name: "First", version: v1, want: first},
		{name: "Second", version: v2, want: second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := v.get(t, "versioned", tt.version)
			if *got.ID != *tt.want.ID || *got.KID != *tt.want.KID || *got.SID != *tt.want.SID {
				t.Errorf("ids = %s %s %s, want %s %s %s", *got.ID, *got.KID, *got.SID, *tt.want.ID, *tt.want.KID, *tt.want.SID)
			}
			if !bytes.Equal(got.CER, tt.want.CER) || !bytes.Equal(got.X509Thumbprint, tt.want.X509Thumbprint) {
				t.Errorf("cer or x5t of version %q differ from the created version", tt.version)
			}
			v.checkBundleIDs(t, got, "versioned")
		})
	}

	t.Run("VersionsOfKeyAndSecret", func(t *testing.T) {
		want := []string{v1, v2}
		slices.Sort(want)
		if got := v.versions(t, "versioned"); !slices.Equal(got, want) {
			t.Errorf("certificate versions = %v, want %v", got, want)
		}
		if got := v.keyVersions(t, "versioned"); !slices.Equal(got, want) {
			t.Errorf("key versions = %v, want %v", got, want)
		}
		if got := v.secretVersions(t, "versioned"); !slices.Equal(got, want) {
			t.Errorf("secret versions = %v, want %v", got, want)
		}
		_, pfxLeaf, _, _ := v.secretPKCS12(t, "versioned", v1)
		if !bytes.Equal(pfxLeaf.Raw, first.CER) {
			t.Errorf("secret version %s holds another certificate than certificate version %s", v1, v1)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		_, err := v.c.GetCertificate(ctx, "versioned", "0123456789abcdef0123456789abcdef", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
		_, err = v.c.GetCertificate(ctx, "no-such-cert", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
		_, err = v.c.GetCertificateOperation(ctx, "no-such-cert", nil)
		sdkWantError(t, err, http.StatusNotFound, "PendingCertificateNotFound")
		_, err = v.c.GetCertificatePolicy(ctx, "no-such-cert", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
	})
}

func TestCertsSecretFormats(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	p := certSelfPolicy("CN=pfx.example.com")
	p.X509CertificateProperties.SubjectAlternativeNames = &azcertificates.SubjectAlternativeNames{DNSNames: []*string{to.Ptr("pfx.example.com")}}
	pfxCert := v.create(t, "pfx", p)
	pfxLeaf := certParse(t, pfxCert.CER)

	t.Run("PKCS12OpenSSL", func(t *testing.T) {
		certOpenSSL(t)
		_, _, _, raw := v.secretPKCS12(t, "pfx", "")
		dir := t.TempDir()
		pfxPath := filepath.Join(dir, "f.pfx")
		if err := os.WriteFile(pfxPath, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		out := certRunOpenSSL(t, "pkcs12", "-in", pfxPath, "-nodes", "-passin", "pass:")
		var key crypto.Signer
		var certs []*x509.Certificate
		for _, b := range certPEMBlocks(t, out) {
			switch b.Type {
			case "PRIVATE KEY":
				k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
				if err != nil {
					t.Fatalf("parse key from openssl: %v", err)
				}
				key = k.(crypto.Signer)
			case "CERTIFICATE":
				certs = append(certs, certParse(t, b.Bytes))
			}
		}
		if key == nil || len(certs) != 1 {
			t.Fatalf("openssl pkcs12 printed key %v and %d certificates, want a key and one certificate:\n%s", key != nil, len(certs), out)
		}
		if !certs[0].Equal(pfxLeaf) || !certPublicEqual(pfxLeaf.PublicKey, key.Public()) {
			t.Errorf("openssl's certificate or key does not match the certificate")
		}
		certPath := filepath.Join(dir, "leaf.pem")
		if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certs[0].Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		text := certRunOpenSSL(t, "x509", "-in", certPath, "-noout", "-text")
		for _, want := range []string{"Subject: CN = pfx.example.com", "DNS:pfx.example.com", "Public-Key: (2048 bit)"} {
			if !strings.Contains(text, want) {
				t.Errorf("openssl x509 -text lacks %q:\n%s", want, text)
			}
		}
	})

	t.Run("PEM", func(t *testing.T) {
		p := certSelfPolicy("CN=pem.example.com")
		p.SecretProperties = &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pem-file")}
		p.KeyProperties = &azcertificates.KeyProperties{KeyType: to.Ptr(azcertificates.KeyTypeEC), Curve: to.Ptr(azcertificates.CurveNameP256)}
		cert := v.create(t, "pem", p)
		if got := sdkDeref(cert.ContentType); got != "application/x-pem-file" {
			t.Errorf("certificate contentType = %q, want application/x-pem-file", got)
		}
		s := sdkGet(t, v.secrets, "pem", "")
		if got := sdkDeref(s.ContentType); got != "application/x-pem-file" {
			t.Errorf("secret contentType = %q, want application/x-pem-file", got)
		}
		value := sdkDeref(s.Value)
		if !strings.HasPrefix(value, "-----BEGIN PRIVATE KEY-----\n") {
			t.Errorf("PEM secret starts with %.30q, want the private key first", value)
		}
		key, chain := certPEMContents(t, value)
		if key == nil || len(chain) != 1 || !bytes.Equal(chain[0].Raw, cert.CER) {
			t.Fatalf("PEM secret holds key %v and %d certificates, want a key and the certificate", key != nil, len(chain))
		}
		if !certPublicEqual(chain[0].PublicKey, key.Public()) {
			t.Errorf("PEM key does not match the certificate")
		}
	})

	t.Run("ConvertToPEM", func(t *testing.T) {
		resp, err := v.secrets.GetSecret(ctx, "pfx", "", &azsecrets.GetSecretOptions{OutContentType: to.Ptr(azsecrets.ContentTypePEM)})
		if err != nil {
			t.Fatalf("GetSecret with outContentType PEM: %v", err)
		}
		if got := sdkDeref(resp.ContentType); got != "application/x-pem-file" {
			t.Errorf("converted contentType = %q, want application/x-pem-file", got)
		}
		key, chain := certPEMContents(t, sdkDeref(resp.Value))
		if key == nil || len(chain) != 1 || !chain[0].Equal(pfxLeaf) || !certPublicEqual(pfxLeaf.PublicKey, key.Public()) {
			t.Errorf("converted PEM does not hold the certificate and its key")
		}
	})

	t.Run("NotExportable", func(t *testing.T) {
		p := certSelfPolicy("CN=sealed")
		p.KeyProperties = &azcertificates.KeyProperties{Exportable: to.Ptr(false)}
		cert := v.create(t, "sealed", p)
		s := sdkGet(t, v.secrets, "sealed", "")
		raw, err := base64.StdEncoding.DecodeString(sdkDeref(s.Value))
		if err != nil {
			t.Fatalf("secret value is not base64: %v", err)
		}
		if _, _, _, err := pkcs12.DecodeChain(raw, ""); err == nil {
			t.Errorf("PKCS #12 of a non-exportable key holds a private key")
		}
		certs, err := pkcs12.DecodeTrustStore(raw, "")
		if err != nil || len(certs) != 1 || !bytes.Equal(certs[0].Raw, cert.CER) {
			t.Errorf("PKCS #12 trust store = %d certificates (%v), want the certificate alone", len(certs), err)
		}
		v.checkSigns(t, "sealed", cert.ID.Version(), certParse(t, cert.CER))
	})
}

// certSignCSR issues a certificate for the CSR of a pending operation,
// signed by ca.
func certSignCSR(t *testing.T, csrDER []byte, ca *x509.Certificate, caKey crypto.Signer) *x509.Certificate {
	t.Helper()
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		t.Fatalf("parse CSR: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("CSR signature: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: csr.Subject, DNSNames: csr.DNSNames,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().AddDate(0, 3, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return certIssue(t, tmpl, ca, csr.PublicKey, caKey)
}

// startPending creates a certificate with issuer and returns its operation.
func (v *certVault) startPending(t *testing.T, name, issuer string) azcertificates.CertificateOperation {
	t.Helper()
	p := certSelfPolicy("CN=" + name + ".example.com")
	p.IssuerParameters.Name = to.Ptr(issuer)
	p.X509CertificateProperties.SubjectAlternativeNames = &azcertificates.SubjectAlternativeNames{DNSNames: []*string{to.Ptr(name + ".example.com")}}
	resp, err := v.c.CreateCertificate(context.Background(), name, azcertificates.CreateCertificateParameters{CertificatePolicy: p}, nil)
	if err != nil {
		t.Fatalf("CreateCertificate(%q, issuer %s): %v", name, issuer, err)
	}
	return resp.CertificateOperation
}

func TestCertsMerge(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	root, rootKey := certTestCA(t, "Merge Root", nil, nil)
	ca, caKey := certTestCA(t, "Merge Issuing CA", root, rootKey)

	op := v.startPending(t, "merged", "Unknown")
	if got := sdkDeref(op.Status); got != "inProgress" {
		t.Fatalf("operation status = %q, want inProgress", got)
	}
	if got := sdkDeref(op.IssuerParameters.Name); got != "Unknown" {
		t.Errorf("operation issuer = %q, want Unknown", got)
	}
	if op.Target != nil || sdkDeref(op.CancellationRequested) {
		t.Errorf("in-progress operation has target %v or cancellation_requested true", op.Target)
	}
	csr, err := x509.ParseCertificateRequest(op.CSR)
	if err != nil {
		t.Fatalf("parse CSR: %v", err)
	}
	if got := csr.Subject.String(); got != "CN=merged.example.com" || !slices.Equal(csr.DNSNames, []string{"merged.example.com"}) {
		t.Errorf("CSR subject %q DNS %q, want CN=merged.example.com with the same DNS name", got, csr.DNSNames)
	}
	if got := v.operation(t, "merged"); sdkDeref(got.Status) != "inProgress" || !bytes.Equal(got.CSR, op.CSR) {
		t.Fatalf("GET pending = status %q, want inProgress with the CSR of the create response", sdkDeref(got.Status))
	}

	t.Run("RawPending", func(t *testing.T) {
		r := v.raw(t, http.MethodGet, "/certificates/merged/pending", "")
		if r.Status != http.StatusOK {
			t.Fatalf("GET pending: %v", r)
		}
		var body map[string]any
		r.JSON(t, &body)
		if body["status"] != "inProgress" || body["csr"] != base64.StdEncoding.EncodeToString(op.CSR) {
			t.Errorf("GET pending = %s, want status inProgress and the CSR", r.Body)
		}
		if _, ok := body["target"]; ok {
			t.Errorf("GET pending has a target before the merge: %s", r.Body)
		}
		_, err := v.c.GetCertificate(ctx, "merged", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
	})

	t.Run("SecondCreateConflicts", func(t *testing.T) {
		p := certSelfPolicy("CN=again")
		p.IssuerParameters.Name = to.Ptr("Unknown")
		_, err := v.c.CreateCertificate(ctx, "merged", azcertificates.CreateCertificateParameters{CertificatePolicy: p}, nil)
		sdkWantError(t, err, http.StatusConflict, "Conflict")
	})

	t.Run("OtherKey", func(t *testing.T) {
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		wrong := certIssue(t, certLeafTemplate("merged.example.com"), ca, other.Public(), caKey)
		_, err = v.c.MergeCertificate(ctx, "merged", azcertificates.MergeCertificateParameters{X509Certificates: [][]byte{wrong.Raw, ca.Raw}}, nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		_, err = v.c.MergeCertificate(ctx, "merged", azcertificates.MergeCertificateParameters{X509Certificates: [][]byte{[]byte("junk")}}, nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		if got := v.operation(t, "merged"); sdkDeref(got.Status) != "inProgress" {
			t.Errorf("status after failed merges = %q, want inProgress", sdkDeref(got.Status))
		}
	})

	leaf := certSignCSR(t, op.CSR, ca, caKey)
	r := v.raw(t, http.MethodPost, "/certificates/merged/pending/merge", certJSON(map[string]any{
		"x5c": []string{base64.StdEncoding.EncodeToString(leaf.Raw), base64.StdEncoding.EncodeToString(ca.Raw)},
	}))
	if r.Status != http.StatusCreated {
		t.Fatalf("merge: %v, want 201", r)
	}
	var merged struct {
		ID  string `json:"id"`
		Cer string `json:"cer"`
	}
	r.JSON(t, &merged)
	if merged.Cer != base64.StdEncoding.EncodeToString(leaf.Raw) {
		t.Errorf("merge response cer is not the merged leaf")
	}
	cert := v.get(t, "merged", "")
	version := v.checkBundleIDs(t, cert, "merged")
	if !bytes.Equal(cert.CER, leaf.Raw) || string(*cert.ID) != merged.ID {
		t.Errorf("GetCertificate after merge = %s, want the merged leaf %s", *cert.ID, merged.ID)
	}

	t.Run("Completed", func(t *testing.T) {
		got := v.wait(t, "merged")
		if sdkDeref(got.Status) != "completed" || sdkDeref(got.Target) != v.base+"/certificates/merged" {
			t.Errorf("operation after merge: status %q target %q, want completed and the certificate",
				sdkDeref(got.Status), sdkDeref(got.Target))
		}
		_, err := v.c.MergeCertificate(ctx, "merged", azcertificates.MergeCertificateParameters{X509Certificates: [][]byte{leaf.Raw}}, nil)
		sdkWantError(t, err, http.StatusForbidden, "Forbidden")
	})

	t.Run("ChainKept", func(t *testing.T) {
		key, pfxLeaf, cas, _ := v.secretPKCS12(t, "merged", version)
		if !pfxLeaf.Equal(leaf) || len(cas) != 1 || !cas[0].Equal(ca) {
			t.Fatalf("PKCS #12 holds %q and %d CA certificates, want the leaf and the issuing CA", pfxLeaf.Subject, len(cas))
		}
		if signer, ok := key.(crypto.Signer); !ok || !certPublicEqual(leaf.PublicKey, signer.Public()) {
			t.Errorf("PKCS #12 key does not match the merged leaf")
		}
		pool := x509.NewCertPool()
		pool.AddCert(root)
		inter := x509.NewCertPool()
		inter.AddCert(cas[0])
		if _, err := pfxLeaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: "merged.example.com"}); err != nil {
			t.Errorf("merged chain does not verify to the test root: %v", err)
		}
		v.checkSigns(t, "merged", version, leaf)
		k, err := v.keys.GetKey(ctx, "merged", "", nil)
		if err != nil || !sdkDeref(k.Managed) {
			t.Errorf("GetKey after merge: managed %v, err %v; want a managed key", k.Managed, err)
		}
	})

	t.Run("SDKMerge", func(t *testing.T) {
		op := v.startPending(t, "sdk-merged", "Unknown")
		leaf := certSignCSR(t, op.CSR, ca, caKey)
		resp, err := v.c.MergeCertificate(ctx, "sdk-merged", azcertificates.MergeCertificateParameters{
			X509Certificates: [][]byte{leaf.Raw}, Tags: map[string]*string{"merged": to.Ptr("yes")},
		}, nil)
		if err != nil {
			t.Fatalf("MergeCertificate: %v", err)
		}
		if !bytes.Equal(resp.CER, leaf.Raw) || sdkDeref(resp.Tags["merged"]) != "yes" {
			t.Errorf("merged bundle cer or tags differ: tags %v", sdkTags(resp.Tags))
		}
	})
}

// Object identifiers of the usage extensions (RFC 5280) and of the extended
// key usages that crypto/x509 has no name for: smart card logon (Microsoft)
// and a private OID.
var (
	certOIDKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 15}
	certOIDExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	certOIDSmartcard   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 2}
	certOIDCustomEKU   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 2, 3}
)

// certExtension returns the extension id of exts, or nil without one.
func certExtension(exts []pkix.Extension, id asn1.ObjectIdentifier) *pkix.Extension {
	for i := range exts {
		if exts[i].Id.Equal(id) {
			return &exts[i]
		}
	}
	return nil
}

// certIssueRequested issues a certificate for a CSR with exactly the
// extensions it requests, as a CA that copies requested extensions does.
func certIssueRequested(t *testing.T, csr *x509.CertificateRequest, ca *x509.Certificate, caKey crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: csr.Subject, ExtraExtensions: csr.Extensions,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().AddDate(0, 3, 0),
	}
	return certIssue(t, tmpl, ca, csr.PublicKey, caKey)
}

// The CSR of a pending operation requests the key usage (critical) and the
// extended key usages of the policy, as a self-signed certificate carries
// them, so that a CA that honors the request issues a certificate for the
// same purposes.
func TestCertsPendingCSRUsages(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ca, caKey := certTestCA(t, "Usage Issuing CA", nil, nil)

	tests := []struct {
		name      string
		x509Props string
		wantUsage x509.KeyUsage
		wantEKUs  []asn1.ObjectIdentifier
		wantDNS   []string
		openssl   []string
		// EKUs of the issued certificate as crypto/x509 parses them, split
		// into the ones it names and the others.
		issuedEKUs      []x509.ExtKeyUsage
		issuedOtherEKUs []asn1.ObjectIdentifier
	}{
		{
			// Without key_usage the policy gets the default key usage of
			// self-signed certificates, digitalSignature and
			// keyEncipherment, and no EKUs.
			name:      "DefaultKeyUsage",
			x509Props: `{"subject":"CN=csr-defaults.example.com"}`,
			wantUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			openssl:   []string{"X509v3 Key Usage: critical", "Digital Signature, Key Encipherment"},
		},
		{
			name: "PolicyUsagesAndCustomEKU",
			x509Props: `{"subject":"CN=csr-usages.example.com","sans":{"dns_names":["csr-usages.example.com"]},
				"key_usage":["digitalSignature","nonRepudiation","keyEncipherment"],
				"ekus":["` + certServerAuth + `","` + certClientAuth + `","1.3.6.1.4.1.311.20.2.2","1.3.6.1.4.1.99999.1.2.3"]}`,
			wantUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment,
			wantEKUs: []asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 1}, {1, 3, 6, 1, 5, 5, 7, 3, 2},
				certOIDSmartcard, certOIDCustomEKU},
			wantDNS:         []string{"csr-usages.example.com"},
			issuedEKUs:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			issuedOtherEKUs: []asn1.ObjectIdentifier{certOIDSmartcard, certOIDCustomEKU},
			openssl: []string{
				"X509v3 Key Usage: critical", "Digital Signature, Non Repudiation, Key Encipherment",
				"X509v3 Extended Key Usage:",
				"TLS Web Server Authentication, TLS Web Client Authentication, Microsoft Smartcard Login, 1.3.6.1.4.1.99999.1.2.3",
				"DNS:csr-usages.example.com",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ToLower(tt.name)
			r := v.raw(t, http.MethodPost, "/certificates/"+name+"/create",
				`{"policy":{"issuer":{"name":"Unknown"},"x509_props":`+tt.x509Props+`}}`)
			if r.Status != http.StatusAccepted {
				t.Fatalf("create: %v, want 202", r)
			}
			var op struct {
				Status string `json:"status"`
				CSR    string `json:"csr"`
			}
			r.JSON(t, &op)
			if op.Status != "inProgress" {
				t.Fatalf("operation status = %q, want inProgress", op.Status)
			}
			der, err := base64.StdEncoding.DecodeString(op.CSR)
			if err != nil {
				t.Fatalf("csr is not base64: %v", err)
			}
			csr, err := x509.ParseCertificateRequest(der)
			if err != nil {
				t.Fatalf("parse CSR: %v", err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Errorf("CSR signature: %v", err)
			}
			if got := v.operation(t, name); !bytes.Equal(got.CSR, der) {
				t.Errorf("GetCertificateOperation returns another CSR than the create response")
			}

			ku := certExtension(csr.Extensions, certOIDKeyUsage)
			if ku == nil {
				t.Errorf("CSR requests no key usage, want %09b", tt.wantUsage)
			} else if !ku.Critical {
				t.Errorf("CSR key usage is not critical")
			}
			eku := certExtension(csr.Extensions, certOIDExtKeyUsage)
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
			}
			if !slices.Equal(csr.DNSNames, tt.wantDNS) {
				t.Errorf("CSR DNSNames = %q, want %q", csr.DNSNames, tt.wantDNS)
			}

			// A CA that copies the requested extensions issues a certificate
			// that crypto/x509 reads with the policy's usages, and the
			// server merges it.
			leaf := certIssueRequested(t, csr, ca, caKey)
			if leaf.KeyUsage != tt.wantUsage {
				t.Errorf("issued KeyUsage = %09b, want %09b", leaf.KeyUsage, tt.wantUsage)
			}
			if !slices.Equal(leaf.ExtKeyUsage, tt.issuedEKUs) {
				t.Errorf("issued ExtKeyUsage = %v, want %v", leaf.ExtKeyUsage, tt.issuedEKUs)
			}
			if !slices.EqualFunc(leaf.UnknownExtKeyUsage, tt.issuedOtherEKUs, asn1.ObjectIdentifier.Equal) {
				t.Errorf("issued UnknownExtKeyUsage = %v, want %v", leaf.UnknownExtKeyUsage, tt.issuedOtherEKUs)
			}
			_, err = v.c.MergeCertificate(context.Background(), name, azcertificates.MergeCertificateParameters{
				X509Certificates: [][]byte{leaf.Raw, ca.Raw}}, nil)
			if err != nil {
				t.Fatalf("MergeCertificate: %v", err)
			}
			if merged := certParse(t, v.get(t, name, "").CER); merged.KeyUsage != tt.wantUsage {
				t.Errorf("merged certificate KeyUsage = %09b, want %09b", merged.KeyUsage, tt.wantUsage)
			}

			t.Run("OpenSSL", func(t *testing.T) {
				certOpenSSL(t)
				path := filepath.Join(t.TempDir(), name+".csr")
				if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o600); err != nil {
					t.Fatal(err)
				}
				text := certRunOpenSSL(t, "req", "-in", path, "-noout", "-text")
				for _, want := range tt.openssl {
					if !strings.Contains(text, want) {
						t.Errorf("openssl req -text lacks %q:\n%s", want, text)
					}
				}
				if len(tt.wantEKUs) == 0 && strings.Contains(text, "Extended Key Usage") {
					t.Errorf("openssl req -text shows an extended key usage, want none:\n%s", text)
				}
			})
		})
	}
}

func TestCertsCancelOperation(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()

	t.Run("Cancel", func(t *testing.T) {
		op := v.startPending(t, "cancelled", "Unknown")
		resp, err := v.c.UpdateCertificateOperation(ctx, "cancelled",
			azcertificates.UpdateCertificateOperationParameter{CancellationRequested: to.Ptr(true)}, nil)
		if err != nil {
			t.Fatalf("UpdateCertificateOperation: %v", err)
		}
		if !sdkDeref(resp.CancellationRequested) || sdkDeref(resp.Status) != "cancelled" {
			t.Errorf("cancel: cancellation_requested %v status %q, want true and cancelled",
				sdkDeref(resp.CancellationRequested), sdkDeref(resp.Status))
		}
		got := v.wait(t, "cancelled")
		if !sdkDeref(got.CancellationRequested) || sdkDeref(got.Status) != "cancelled" {
			t.Errorf("GET pending after cancel: %q, want cancelled", sdkDeref(got.Status))
		}
		ca, caKey := certTestCA(t, "Cancel CA", nil, nil)
		leaf := certSignCSR(t, op.CSR, ca, caKey)
		_, err = v.c.MergeCertificate(ctx, "cancelled", azcertificates.MergeCertificateParameters{X509Certificates: [][]byte{leaf.Raw}}, nil)
		sdkWantError(t, err, http.StatusForbidden, "Forbidden")

		// A cancelled request no longer blocks a new one.
		v.create(t, "cancelled", certSelfPolicy("CN=after-cancel"))
	})

	t.Run("CancelBodyRequired", func(t *testing.T) {
		v.startPending(t, "cancel-body", "Unknown")
		r := v.raw(t, http.MethodPatch, "/certificates/cancel-body/pending", `{"cancellation_requested": false}`)
		checkAzureError(t, r, http.StatusBadRequest, "BadParameter", "")
		if got := v.operation(t, "cancel-body"); sdkDeref(got.Status) != "inProgress" {
			t.Errorf("status after a refused cancel = %q, want inProgress", sdkDeref(got.Status))
		}
	})

	t.Run("Delete", func(t *testing.T) {
		op := v.startPending(t, "dropped", "Unknown")
		resp, err := v.c.DeleteCertificateOperation(ctx, "dropped", nil)
		if err != nil {
			t.Fatalf("DeleteCertificateOperation: %v", err)
		}
		if sdkDeref(resp.Status) != "inProgress" || !bytes.Equal(resp.CSR, op.CSR) {
			t.Errorf("deleted operation = status %q, want the in-progress operation with its CSR", sdkDeref(resp.Status))
		}
		_, err = v.c.GetCertificateOperation(ctx, "dropped", nil)
		sdkWantError(t, err, http.StatusNotFound, "PendingCertificateNotFound")
		_, err = v.c.DeleteCertificateOperation(ctx, "dropped", nil)
		sdkWantError(t, err, http.StatusNotFound, "PendingCertificateNotFound")
		ca, caKey := certTestCA(t, "Delete CA", nil, nil)
		leaf := certSignCSR(t, op.CSR, ca, caKey)
		_, err = v.c.MergeCertificate(ctx, "dropped", azcertificates.MergeCertificateParameters{X509Certificates: [][]byte{leaf.Raw}}, nil)
		sdkWantError(t, err, http.StatusNotFound, "PendingCertificateNotFound")
	})

	t.Run("DeleteCompleted", func(t *testing.T) {
		v.create(t, "done", certSelfPolicy("CN=done"))
		resp, err := v.c.DeleteCertificateOperation(ctx, "done", nil)
		if err != nil {
			t.Fatalf("DeleteCertificateOperation: %v", err)
		}
		if sdkDeref(resp.Status) != "completed" {
			t.Errorf("deleted operation status = %q, want completed", sdkDeref(resp.Status))
		}
		v.get(t, "done", "") // the certificate stays
	})
}

// certImportChain issues root -> intermediate -> leaf for leafKey, the leaf
// with subject, and returns leaf and intermediate.
func certImportChain(t *testing.T, leafKey crypto.Signer, subject pkix.Name) (*x509.Certificate, *x509.Certificate) {
	t.Helper()
	root, rootKey := certTestCA(t, "Import Root", nil, nil)
	inter, interKey := certTestCA(t, "Import Intermediate", root, rootKey)
	tmpl := certLeafTemplate("import.example.com")
	tmpl.Subject = subject
	return certIssue(t, tmpl, inter, leafKey.Public(), interKey), inter
}

func TestCertsImport(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	leaf, inter := certImportChain(t, rsaKey, pkix.Name{CommonName: "import.example.com", Organization: []string{"Contoso"}})

	t.Run("PKCS12WithPassword", func(t *testing.T) {
		pfx, err := pkcs12.Modern.Encode(rsaKey, leaf, []*x509.Certificate{inter}, "import-password")
		if err != nil {
			t.Fatalf("encode PKCS #12: %v", err)
		}
		resp, err := v.c.ImportCertificate(ctx, "imported", azcertificates.ImportCertificateParameters{
			Base64EncodedCertificate: to.Ptr(base64.StdEncoding.EncodeToString(pfx)), Password: to.Ptr("import-password"),
			CertificatePolicy: &azcertificates.CertificatePolicy{SecretProperties: &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pkcs12")}},
			Tags:              map[string]*string{"source": to.Ptr("pfx")},
		}, nil)
		if err != nil {
			t.Fatalf("ImportCertificate: %v", err)
		}
		version := v.checkBundleIDs(t, resp.Certificate, "imported")
		if !bytes.Equal(resp.CER, leaf.Raw) {
			t.Errorf("imported cer is not the leaf")
		}
		if sdkDeref(resp.Tags["source"]) != "pfx" {
			t.Errorf("tags = %v, want source=pfx", sdkTags(resp.Tags))
		}
		p := resp.Policy
		if p == nil || p.KeyProperties == nil || p.X509CertificateProperties == nil || p.IssuerParameters == nil {
			t.Fatalf("imported policy = %s, want one derived from the certificate", certJSON(p))
		}
		if sdkDeref(p.KeyProperties.KeyType) != azcertificates.KeyTypeRSA || sdkDeref(p.KeyProperties.KeySize) != 2048 {
			t.Errorf("policy key_props = %s, want RSA 2048", certJSON(p.KeyProperties))
		}
		if got := sdkDeref(p.X509CertificateProperties.Subject); got != "CN=import.example.com, O=Contoso" {
			t.Errorf("policy subject = %q, want CN=import.example.com, O=Contoso", got)
		}
		if got := sdkDeref(p.IssuerParameters.Name); got != "Unknown" {
			t.Errorf("policy issuer = %q, want Unknown", got)
		}
		// Key Vault cannot renew a certificate that another CA issued, so
		// the default lifetime action only e-mails the contacts.
		if len(p.LifetimeActions) != 1 || sdkDeref(p.LifetimeActions[0].Action.ActionType) != azcertificates.CertificatePolicyActionEmailContacts ||
			sdkDeref(p.LifetimeActions[0].Trigger.LifetimePercentage) != 80 {
			t.Errorf("policy lifetime_actions = %s, want EmailContacts at 80%%", certJSON(p.LifetimeActions))
		}

		key, pfxLeaf, cas, raw := v.secretPKCS12(t, "imported", version)
		if !pfxLeaf.Equal(leaf) || len(cas) != 1 || !cas[0].Equal(inter) {
			t.Errorf("secret PKCS #12 holds %q and %d CA certificates, want the leaf and the intermediate", pfxLeaf.Subject, len(cas))
		}
		if !certPublicEqual(rsaKey.Public(), key.(crypto.Signer).Public()) {
			t.Errorf("secret PKCS #12 key differs from the imported key")
		}
		if _, _, _, err := pkcs12.DecodeChain(raw, "import-password"); err == nil {
			t.Errorf("secret PKCS #12 opens with the import password, want it stored without one")
		}
		k, err := v.keys.GetKey(ctx, "imported", "", nil)
		if err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		if !sdkDeref(k.Managed) || new(big.Int).SetBytes(k.Key.N).Cmp(rsaKey.N) != 0 {
			t.Errorf("imported key: managed %v, or modulus differs from the imported key", sdkDeref(k.Managed))
		}
		v.checkSigns(t, "imported", version, leaf)
	})

	t.Run("PKCS12CAFirst", func(t *testing.T) {
		// Some tools write the CA certificate before the key's certificate.
		pfx, err := pkcs12.Modern.Encode(rsaKey, inter, []*x509.Certificate{leaf}, "pw")
		if err != nil {
			t.Fatalf("encode PKCS #12: %v", err)
		}
		resp, err := v.c.ImportCertificate(ctx, "ca-first", azcertificates.ImportCertificateParameters{
			Base64EncodedCertificate: to.Ptr(base64.StdEncoding.EncodeToString(pfx)), Password: to.Ptr("pw"),
		}, nil)
		if err != nil {
			t.Fatalf("ImportCertificate: %v", err)
		}
		if !bytes.Equal(resp.CER, leaf.Raw) {
			t.Errorf("imported cer = %q, want the leaf whose key the file holds", certParse(t, resp.CER).Subject)
		}
		_, pfxLeaf, cas, _ := v.secretPKCS12(t, "ca-first", "")
		if !pfxLeaf.Equal(leaf) || len(cas) != 1 || !cas[0].Equal(inter) {
			t.Errorf("secret PKCS #12 holds %q and %d CA certificates, want the leaf first", pfxLeaf.Subject, len(cas))
		}
	})

	t.Run("PEMChain", func(t *testing.T) {
		der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
		if err != nil {
			t.Fatal(err)
		}
		text := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})) +
			string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})) +
			string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: inter.Raw}))
		resp, err := v.c.ImportCertificate(ctx, "imported-pem", azcertificates.ImportCertificateParameters{
			Base64EncodedCertificate: to.Ptr(text),
			CertificatePolicy:        &azcertificates.CertificatePolicy{SecretProperties: &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pem-file")}},
		}, nil)
		if err != nil {
			t.Fatalf("ImportCertificate: %v", err)
		}
		if got := sdkDeref(resp.ContentType); got != "application/x-pem-file" {
			t.Errorf("certificate contentType = %q, want application/x-pem-file", got)
		}
		if got := sdkDeref(resp.Policy.SecretProperties.ContentType); got != "application/x-pem-file" {
			t.Errorf("policy contentType = %q, want application/x-pem-file", got)
		}
		s := sdkGet(t, v.secrets, "imported-pem", "")
		if got := sdkDeref(s.ContentType); got != "application/x-pem-file" {
			t.Errorf("secret contentType = %q, want application/x-pem-file", got)
		}
		key, chain := certPEMContents(t, sdkDeref(s.Value))
		if key == nil || len(chain) != 2 || !chain[0].Equal(leaf) || !chain[1].Equal(inter) {
			t.Fatalf("PEM secret holds key %v and %d certificates, want the key, the leaf and the intermediate", key != nil, len(chain))
		}
		if !certPublicEqual(rsaKey.Public(), key.Public()) {
			t.Errorf("PEM secret key differs from the imported key")
		}
	})

	t.Run("WrongPassword", func(t *testing.T) {
		pfx, err := pkcs12.Modern.Encode(rsaKey, leaf, nil, "right")
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.c.ImportCertificate(ctx, "wrong-password", azcertificates.ImportCertificateParameters{
			Base64EncodedCertificate: to.Ptr(base64.StdEncoding.EncodeToString(pfx)), Password: to.Ptr("wrong"),
		}, nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		_, err = v.c.GetCertificate(ctx, "wrong-password", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
		_, err = v.secrets.GetSecret(ctx, "wrong-password", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")
	})

	t.Run("PEMWithoutKey", func(t *testing.T) {
		text := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))
		_, err := v.c.ImportCertificate(ctx, "no-key", azcertificates.ImportCertificateParameters{Base64EncodedCertificate: to.Ptr(text)}, nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
	})

	t.Run("BadValues", func(t *testing.T) {
		for _, body := range []string{`{"value":""}`, `{"value":"bm90IGEgcGZ4"}`, `{"value":"%%%"}`, `{}`} {
			r := v.raw(t, http.MethodPost, "/certificates/bad-import/import", body)
			checkAzureError(t, r, http.StatusBadRequest, "BadParameter", "")
		}
	})

	t.Run("ECCertificate", func(t *testing.T) {
		ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ecLeaf, ecInter := certImportChain(t, ecKey, pkix.Name{CommonName: "ec.example.com"})
		pfx, err := pkcs12.Modern.Encode(ecKey, ecLeaf, []*x509.Certificate{ecInter}, "")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := v.c.ImportCertificate(ctx, "imported-ec", azcertificates.ImportCertificateParameters{
			Base64EncodedCertificate: to.Ptr(base64.StdEncoding.EncodeToString(pfx)),
		}, nil)
		if err != nil {
			t.Fatalf("ImportCertificate: %v", err)
		}
		kp := resp.Policy.KeyProperties
		if sdkDeref(kp.KeyType) != azcertificates.KeyTypeEC || sdkDeref(kp.Curve) != azcertificates.CurveNameP384 {
			t.Errorf("policy key_props = %s, want EC P-384", certJSON(kp))
		}
		k, err := v.keys.GetKey(ctx, "imported-ec", "", nil)
		if err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		if sdkDeref(k.Key.Kty) != azkeys.KeyTypeEC || sdkDeref(k.Key.Crv) != azkeys.CurveNameP384 {
			t.Errorf("key kty %q crv %q, want EC P-384", sdkDeref(k.Key.Kty), sdkDeref(k.Key.Crv))
		}
		if got := sdkKeyOps(k.Key.KeyOps); !slices.Equal(got, []string{"sign", "verify"}) {
			t.Errorf("key_ops = %v, want [sign verify]", got)
		}
		v.checkSigns(t, "imported-ec", resp.ID.Version(), ecLeaf)
	})

	t.Run("SubjectWithEmail", func(t *testing.T) {
		// crypto/x509 prints attributes it has no name for, such as the
		// e-mail address, as dotted object identifiers with hex values.
		ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		subject := pkix.Name{CommonName: "Jane Doe, Ops", ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: []int{1, 2, 840, 113549, 1, 9, 1}, Value: "jane@example.com"},
		}}
		leaf, _ := certImportChain(t, ecKey, subject)
		der, err := x509.MarshalPKCS8PrivateKey(ecKey)
		if err != nil {
			t.Fatal(err)
		}
		text := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})) +
			string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}))
		resp, err := v.c.ImportCertificate(ctx, "imported-email", azcertificates.ImportCertificateParameters{Base64EncodedCertificate: to.Ptr(text)}, nil)
		if err != nil {
			t.Fatalf("ImportCertificate: %v", err)
		}
		if got, want := sdkDeref(resp.Policy.X509CertificateProperties.Subject), `E=jane@example.com, CN=Jane Doe\, Ops`; got != want {
			t.Errorf("policy subject = %q, want %q", got, want)
		}
		// The derived policy is valid: it can issue the next version.
		p := certSelfPolicy(sdkDeref(resp.Policy.X509CertificateProperties.Subject))
		next := certParse(t, v.create(t, "imported-email", p).CER)
		if !bytes.Equal(next.RawSubject, leaf.RawSubject) {
			t.Errorf("next version subject %q, want the imported %q", next.Subject, leaf.Subject)
		}
	})
}

func TestCertsList(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	a := v.create(t, "list-a", certSelfPolicy("CN=a"))
	v.create(t, "list-b", certSelfPolicy("CN=b"))
	b2 := v.create(t, "list-b", nil)
	if _, err := v.secrets.SetSecret(ctx, "plain-secret", azsecrets.SetSecretParameters{Value: to.Ptr("x")}, nil); err != nil {
		t.Fatalf("SetSecret: %v", err)
	}
	v.startPending(t, "list-pending", "Unknown")
	latest := map[string]azcertificates.Certificate{"list-a": a, "list-b": b2}

	var names []string
	pager := v.c.NewListCertificatePropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list certificates: %v", err)
		}
		for _, item := range page.Value {
			name := item.ID.Name()
			names = append(names, name)
			if got, want := string(*item.ID), v.base+"/certificates/"+name; got != want {
				t.Errorf("item id = %q, want the versionless %q", got, want)
			}
			if !bytes.Equal(item.X509Thumbprint, latest[name].X509Thumbprint) {
				t.Errorf("item %s x5t = %x, want the latest version's %x", name, item.X509Thumbprint, latest[name].X509Thumbprint)
			}
			if item.Attributes == nil || item.Attributes.RecoveryLevel != nil || !sdkDeref(item.Attributes.Enabled) {
				t.Errorf("item %s attributes = %s, want enabled and no recoveryLevel", name, certJSON(item.Attributes))
			}
		}
	}
	if want := []string{"list-a", "list-b"}; !slices.Equal(names, want) {
		t.Errorf("listed certificates = %v, want %v (one item per certificate, no pending or plain secret)", names, want)
	}

	t.Run("RawItems", func(t *testing.T) {
		r := v.raw(t, http.MethodGet, "/certificates", "")
		if r.Status != http.StatusOK {
			t.Fatalf("list: %v", r)
		}
		var page struct {
			Value []map[string]json.RawMessage `json:"value"`
		}
		r.JSON(t, &page)
		if len(page.Value) != 2 {
			t.Fatalf("list has %d items, want 2: %s", len(page.Value), r.Body)
		}
		for _, item := range page.Value {
			for _, member := range []string{"kid", "sid", "cer", "policy"} {
				if _, ok := item[member]; ok {
					t.Errorf("list item has %q, want only id, x5t, attributes and tags", member)
				}
			}
			if bytes.Contains(item["attributes"], []byte("recoveryLevel")) {
				t.Errorf("list item attributes %s have recoveryLevel", item["attributes"])
			}
		}
	})

	t.Run("Versions", func(t *testing.T) {
		pager := v.c.NewListCertificatePropertiesVersionsPager("list-b", nil)
		var ids []string
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list versions: %v", err)
			}
			for _, item := range page.Value {
				ids = append(ids, string(*item.ID))
				if !sdkVersionPattern.MatchString(item.ID.Version()) {
					t.Errorf("version item id = %q, want a versioned id", *item.ID)
				}
			}
		}
		if len(ids) != 2 || !slices.Contains(ids, string(*b2.ID)) {
			t.Errorf("versions of list-b = %v, want 2 including %s", ids, *b2.ID)
		}
		_, err := v.c.NewListCertificatePropertiesVersionsPager("no-such-cert", nil).NextPage(ctx)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
	})

	t.Run("ManagedInOtherLists", func(t *testing.T) {
		managed := map[string]bool{}
		spager := v.secrets.NewListSecretPropertiesPager(nil)
		for spager.More() {
			page, err := spager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list secrets: %v", err)
			}
			for _, item := range page.Value {
				managed[item.ID.Name()] = sdkDeref(item.Managed)
			}
		}
		want := map[string]bool{"list-a": true, "list-b": true, "plain-secret": false}
		if certJSON(managed) != certJSON(want) {
			t.Errorf("secret list managed flags = %v, want %v", managed, want)
		}
		kpager := v.keys.NewListKeyPropertiesPager(nil)
		var keyNames []string
		for kpager.More() {
			page, err := kpager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list keys: %v", err)
			}
			for _, item := range page.Value {
				keyNames = append(keyNames, item.KID.Name())
				if !sdkDeref(item.Managed) {
					t.Errorf("key item %s managed = false, want true", item.KID.Name())
				}
			}
		}
		if !slices.Equal(keyNames, []string{"list-a", "list-b"}) {
			t.Errorf("key list = %v, want [list-a list-b]", keyNames)
		}
	})
}

func TestCertsUpdate(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	cert := v.create(t, "updated", certSelfPolicy("CN=updated"))
	version := cert.ID.Version()

	resp, err := v.c.UpdateCertificate(ctx, "updated", "", azcertificates.UpdateCertificateParameters{
		CertificateAttributes: &azcertificates.CertificateAttributes{Enabled: to.Ptr(false)},
		Tags:                  map[string]*string{"env": to.Ptr("test")},
	}, nil)
	if err != nil {
		t.Fatalf("UpdateCertificate: %v", err)
	}
	if sdkDeref(resp.Attributes.Enabled) || sdkDeref(resp.Tags["env"]) != "test" || resp.ID.Version() != version {
		t.Errorf("update response: enabled %v tags %v version %s, want false, env=test, %s",
			sdkDeref(resp.Attributes.Enabled), sdkTags(resp.Tags), resp.ID.Version(), version)
	}
	if got := v.get(t, "updated", version); sdkDeref(got.Attributes.Enabled) || sdkDeref(got.Tags["env"]) != "test" {
		t.Errorf("GetCertificate after update: enabled %v tags %v", sdkDeref(got.Attributes.Enabled), sdkTags(got.Tags))
	}

	t.Run("KeyAndSecretFollow", func(t *testing.T) {
		_, err := v.keys.GetKey(ctx, "updated", version, nil)
		re := sdkWantError(t, err, http.StatusForbidden, "Forbidden")
		if got := sdkInnerCode(t, re); got != "KeyDisabled" {
			t.Errorf("GetKey inner code = %q, want KeyDisabled", got)
		}
		_, err = v.secrets.GetSecret(ctx, "updated", version, nil)
		re = sdkWantError(t, err, http.StatusForbidden, "Forbidden")
		if got := sdkInnerCode(t, re); got != "SecretDisabled" {
			t.Errorf("GetSecret inner code = %q, want SecretDisabled", got)
		}
		page, err := v.secrets.NewListSecretPropertiesVersionsPager("updated", nil).NextPage(ctx)
		if err != nil || len(page.Value) != 1 {
			t.Fatalf("list secret versions: %v", err)
		}
		if item := page.Value[0]; sdkDeref(item.Attributes.Enabled) || sdkDeref(item.Tags["env"]) != "test" {
			t.Errorf("secret version enabled %v tags %v, want false and env=test", sdkDeref(item.Attributes.Enabled), sdkTags(item.Tags))
		}
		kpage, err := v.keys.NewListKeyPropertiesVersionsPager("updated", nil).NextPage(ctx)
		if err != nil || len(kpage.Value) != 1 {
			t.Fatalf("list key versions: %v", err)
		}
		if item := kpage.Value[0]; sdkDeref(item.Attributes.Enabled) || sdkDeref(item.Tags["env"]) != "test" {
			t.Errorf("key version enabled %v tags %v, want false and env=test", sdkDeref(item.Attributes.Enabled), sdkTags(item.Tags))
		}
	})

	t.Run("Reenable", func(t *testing.T) {
		if _, err := v.c.UpdateCertificate(ctx, "updated", version, azcertificates.UpdateCertificateParameters{
			CertificateAttributes: &azcertificates.CertificateAttributes{Enabled: to.Ptr(true)},
		}, nil); err != nil {
			t.Fatalf("UpdateCertificate: %v", err)
		}
		k, err := v.keys.GetKey(ctx, "updated", "", nil)
		if err != nil {
			t.Fatalf("GetKey after re-enabling: %v", err)
		}
		if sdkDeref(k.Tags["env"]) != "test" {
			t.Errorf("key tags = %v, want env=test kept", sdkTags(k.Tags))
		}
		if s := sdkGet(t, v.secrets, "updated", ""); !sdkDeref(s.Attributes.Enabled) {
			t.Errorf("secret still disabled after re-enabling the certificate")
		}
	})

	t.Run("Missing", func(t *testing.T) {
		_, err := v.c.UpdateCertificate(ctx, "no-such-cert", "", azcertificates.UpdateCertificateParameters{Tags: map[string]*string{}}, nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
		_, err = v.c.UpdateCertificate(ctx, "updated", "0123456789abcdef0123456789abcdef", azcertificates.UpdateCertificateParameters{Tags: map[string]*string{}}, nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
	})

	t.Run("TooManyTags", func(t *testing.T) {
		_, err := v.c.UpdateCertificate(ctx, "updated", "", azcertificates.UpdateCertificateParameters{Tags: sdkManyTags(16)}, nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
	})
}

func TestCertsPolicy(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	v.create(t, "policy", certSelfPolicy("CN=policy.example.com"))

	resp, err := v.c.UpdateCertificatePolicy(ctx, "policy", azcertificates.CertificatePolicy{
		X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr("CN=policy.example.com"), ValidityInMonths: to.Ptr(int32(24))},
		LifetimeActions: []*azcertificates.LifetimeAction{{
			Trigger: &azcertificates.LifetimeActionTrigger{DaysBeforeExpiry: to.Ptr(int32(30))},
			Action:  &azcertificates.LifetimeActionType{ActionType: to.Ptr(azcertificates.CertificatePolicyActionEmailContacts)},
		}},
	}, nil)
	if err != nil {
		t.Fatalf("UpdateCertificatePolicy: %v", err)
	}
	check := func(t *testing.T, p azcertificates.CertificatePolicy) {
		t.Helper()
		if got := sdkDeref(p.X509CertificateProperties.ValidityInMonths); got != 24 {
			t.Errorf("validity_months = %d, want 24", got)
		}
		if len(p.LifetimeActions) != 1 || sdkDeref(p.LifetimeActions[0].Trigger.DaysBeforeExpiry) != 30 ||
			sdkDeref(p.LifetimeActions[0].Action.ActionType) != azcertificates.CertificatePolicyActionEmailContacts {
			t.Errorf("lifetime_actions = %s, want EmailContacts 30 days before expiry", certJSON(p.LifetimeActions))
		}
		if sdkDeref(p.KeyProperties.KeyType) != azcertificates.KeyTypeRSA || sdkDeref(p.IssuerParameters.Name) != "Self" {
			t.Errorf("untouched key_props or issuer changed: %s %s", certJSON(p.KeyProperties), certJSON(p.IssuerParameters))
		}
		if p.Attributes == nil || p.Attributes.Created == nil || p.Attributes.Updated == nil {
			t.Errorf("policy attributes = %s, want created and updated", certJSON(p.Attributes))
		}
	}
	check(t, resp.CertificatePolicy)
	got, err := v.c.GetCertificatePolicy(ctx, "policy", nil)
	if err != nil {
		t.Fatalf("GetCertificatePolicy: %v", err)
	}
	check(t, got.CertificatePolicy)

	t.Run("BundleShowsCurrentPolicy", func(t *testing.T) {
		cert := v.get(t, "policy", "")
		check(t, *cert.Policy)
		if got := string(*cert.Policy.ID); got != v.base+"/certificates/policy/policy" {
			t.Errorf("bundle policy id = %q, want %s/certificates/policy/policy", got, v.base)
		}
	})

	t.Run("UpdateWithPolicy", func(t *testing.T) {
		version := v.get(t, "policy", "").ID.Version()
		resp, err := v.c.UpdateCertificate(ctx, "policy", version, azcertificates.UpdateCertificateParameters{
			CertificatePolicy: &azcertificates.CertificatePolicy{
				X509CertificateProperties: &azcertificates.X509CertificateProperties{ValidityInMonths: to.Ptr(int32(24))},
				SecretProperties:          &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pem-file")},
			},
		}, nil)
		if err != nil {
			t.Fatalf("UpdateCertificate with a policy: %v", err)
		}
		if got := sdkDeref(resp.Policy.SecretProperties.ContentType); got != "application/x-pem-file" {
			t.Errorf("updated bundle policy contentType = %q, want application/x-pem-file", got)
		}
		check(t, *resp.Policy)

		// A request for a missing version fails before it changes the policy.
		_, err = v.c.UpdateCertificate(ctx, "policy", "0123456789abcdef0123456789abcdef", azcertificates.UpdateCertificateParameters{
			CertificatePolicy: &azcertificates.CertificatePolicy{
				X509CertificateProperties: &azcertificates.X509CertificateProperties{ValidityInMonths: to.Ptr(int32(3))},
			},
		}, nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
		got, err := v.c.GetCertificatePolicy(ctx, "policy", nil)
		if err != nil {
			t.Fatalf("GetCertificatePolicy: %v", err)
		}
		check(t, got.CertificatePolicy)

		if _, err := v.c.UpdateCertificatePolicy(ctx, "policy", azcertificates.CertificatePolicy{
			SecretProperties: &azcertificates.SecretProperties{ContentType: to.Ptr("application/x-pkcs12")},
		}, nil); err != nil {
			t.Fatalf("UpdateCertificatePolicy: %v", err)
		}
	})

	t.Run("NewVersionFollows", func(t *testing.T) {
		leaf := certParse(t, v.create(t, "policy", nil).CER)
		if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 730*24*time.Hour || d > 732*24*time.Hour {
			t.Errorf("new version is valid for %v, want 24 months", d)
		}
	})

	t.Run("PartialPatch", func(t *testing.T) {
		r := v.raw(t, http.MethodPatch, "/certificates/policy/policy", `{"x509_props":{"validity_months":6}}`)
		if r.Status != http.StatusOK {
			t.Fatalf("PATCH policy with only validity_months: %v", r)
		}
		got, err := v.c.GetCertificatePolicy(ctx, "policy", nil)
		if err != nil {
			t.Fatalf("GetCertificatePolicy: %v", err)
		}
		xp := got.X509CertificateProperties
		if sdkDeref(xp.ValidityInMonths) != 6 || sdkDeref(xp.Subject) != "CN=policy.example.com" || len(xp.KeyUsage) != 2 {
			t.Errorf("x509_props after a partial PATCH = %s, want validity 6 and the other members kept", certJSON(xp))
		}
		r = v.raw(t, http.MethodPatch, "/certificates/policy/policy", `{"key_props":{"reuse_key":true}}`)
		if r.Status != http.StatusOK {
			t.Fatalf("PATCH policy with only reuse_key: %v", r)
		}
		got, err = v.c.GetCertificatePolicy(ctx, "policy", nil)
		if err != nil {
			t.Fatalf("GetCertificatePolicy: %v", err)
		}
		kp := got.KeyProperties
		if !sdkDeref(kp.ReuseKey) || sdkDeref(kp.KeyType) != azcertificates.KeyTypeRSA || sdkDeref(kp.KeySize) != 2048 || !sdkDeref(kp.Exportable) {
			t.Errorf("key_props after a partial PATCH = %s, want reuse_key true and the other members kept", certJSON(kp))
		}
	})

	t.Run("ReuseKey", func(t *testing.T) {
		before := certParse(t, v.get(t, "policy", "").CER)
		after := certParse(t, v.create(t, "policy", nil).CER)
		if !certPublicEqual(before.PublicKey, after.PublicKey) {
			t.Errorf("new version has a new key, want the reused one")
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		_, err := v.c.UpdateCertificatePolicy(ctx, "policy", azcertificates.CertificatePolicy{
			KeyProperties: &azcertificates.KeyProperties{KeyType: to.Ptr(azcertificates.KeyTypeRSA), KeySize: to.Ptr(int32(1024))},
		}, nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		_, err = v.c.UpdateCertificatePolicy(ctx, "no-such-cert", azcertificates.CertificatePolicy{}, nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
	})
}

// deletedKeyNames lists the names of the vault's soft-deleted keys.
func (v *certVault) deletedKeyNames(t *testing.T) []string {
	t.Helper()
	var names []string
	pager := v.keys.NewListDeletedKeyPropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list deleted keys: %v", err)
		}
		for _, item := range page.Value {
			names = append(names, item.KID.Name())
		}
	}
	return names
}

// deletedSecretNames lists the names of the vault's soft-deleted secrets.
func (v *certVault) deletedSecretNames(t *testing.T) []string {
	t.Helper()
	var names []string
	pager := v.secrets.NewListDeletedSecretPropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list deleted secrets: %v", err)
		}
		for _, item := range page.Value {
			names = append(names, item.ID.Name())
		}
	}
	return names
}

func TestCertsDeleteRecoverPurge(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	cert := v.create(t, "doomed", certSelfPolicy("CN=doomed"))
	before := time.Now()

	d, err := v.c.DeleteCertificate(ctx, "doomed", nil)
	if err != nil {
		t.Fatalf("DeleteCertificate: %v", err)
	}
	done := time.Now()
	if got, want := sdkDeref(d.RecoveryID), v.base+"/deletedcertificates/doomed"; got != want {
		t.Errorf("recoveryId = %q, want %q", got, want)
	}
	if *d.ID != *cert.ID || !bytes.Equal(d.CER, cert.CER) {
		t.Errorf("deleted bundle id %s, want %s with the same cer", *d.ID, *cert.ID)
	}
	sdkCheckRecent(t, "deletedDate", d.DeletedDate, before, done)
	sdkCheckRecent(t, "scheduledPurgeDate", d.ScheduledPurgeDate, before.Add(sdkDefaultRetention), done.Add(sdkDefaultRetention))

	t.Run("AllThreeDeleted", func(t *testing.T) {
		_, err := v.c.GetCertificate(ctx, "doomed", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
		_, err = v.keys.GetKey(ctx, "doomed", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		_, err = v.secrets.GetSecret(ctx, "doomed", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")

		got, err := v.c.GetDeletedCertificate(ctx, "doomed", nil)
		if err != nil {
			t.Fatalf("GetDeletedCertificate: %v", err)
		}
		if !bytes.Equal(got.CER, cert.CER) || sdkDeref(got.RecoveryID) != sdkDeref(d.RecoveryID) {
			t.Errorf("GetDeletedCertificate = %s, want the deleted certificate", certJSON(got.DeletedCertificate))
		}
		if got.Policy == nil || sdkDeref(got.Policy.X509CertificateProperties.Subject) != "CN=doomed" {
			t.Errorf("deleted certificate policy = %s, want subject CN=doomed", certJSON(got.Policy))
		}
		var names []string
		pager := v.c.NewListDeletedCertificatePropertiesPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list deleted certificates: %v", err)
			}
			for _, item := range page.Value {
				names = append(names, item.ID.Name())
				if sdkDeref(item.RecoveryID) != v.base+"/deletedcertificates/doomed" || item.DeletedDate == nil {
					t.Errorf("deleted item = %s, want recoveryId and deletedDate", certJSON(item))
				}
			}
		}
		if !slices.Equal(names, []string{"doomed"}) {
			t.Errorf("deleted certificates = %v, want [doomed]", names)
		}
		if _, err := v.keys.GetDeletedKey(ctx, "doomed", nil); err != nil {
			t.Errorf("GetDeletedKey: %v, want the managed key in the deleted keys", err)
		}
		if _, err := v.secrets.GetDeletedSecret(ctx, "doomed", nil); err != nil {
			t.Errorf("GetDeletedSecret: %v, want the managed secret in the deleted secrets", err)
		}
		if got := v.deletedKeyNames(t); !slices.Equal(got, []string{"doomed"}) {
			t.Errorf("deleted keys = %v, want [doomed]", got)
		}
		if got := v.deletedSecretNames(t); !slices.Equal(got, []string{"doomed"}) {
			t.Errorf("deleted secrets = %v, want [doomed]", got)
		}
	})

	t.Run("NameHeld", func(t *testing.T) {
		_, err := v.c.CreateCertificate(ctx, "doomed", azcertificates.CreateCertificateParameters{CertificatePolicy: certSelfPolicy("CN=doomed")}, nil)
		re := sdkWantError(t, err, http.StatusConflict, "Conflict")
		if got := sdkInnerCode(t, re); got != "ObjectIsDeletedButRecoverable" {
			t.Errorf("inner code = %q, want ObjectIsDeletedButRecoverable", got)
		}
		_, err = v.secrets.RecoverDeletedSecret(ctx, "doomed", nil)
		re = sdkWantError(t, err, http.StatusForbidden, "Forbidden")
		if got := sdkInnerCode(t, re); got != "ObjectIsManaged" {
			t.Errorf("RecoverDeletedSecret inner code = %q, want ObjectIsManaged", got)
		}
		_, err = v.keys.PurgeDeletedKey(ctx, "doomed", nil)
		re = sdkWantError(t, err, http.StatusForbidden, "Forbidden")
		if got := sdkInnerCode(t, re); got != "ObjectIsManaged" {
			t.Errorf("PurgeDeletedKey inner code = %q, want ObjectIsManaged", got)
		}
	})

	t.Run("Recover", func(t *testing.T) {
		resp, err := v.c.RecoverDeletedCertificate(ctx, "doomed", nil)
		if err != nil {
			t.Fatalf("RecoverDeletedCertificate: %v", err)
		}
		if *resp.ID != *cert.ID || !bytes.Equal(resp.CER, cert.CER) {
			t.Errorf("recovered %s, want %s", *resp.ID, *cert.ID)
		}
		v.get(t, "doomed", "")
		if k, err := v.keys.GetKey(ctx, "doomed", "", nil); err != nil || !sdkDeref(k.Managed) {
			t.Errorf("GetKey after recovery: %v", err)
		}
		if _, _, _, raw := v.secretPKCS12(t, "doomed", ""); len(raw) == 0 {
			t.Errorf("secret after recovery is empty")
		}
		_, err = v.c.GetDeletedCertificate(ctx, "doomed", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
		if _, err := v.c.GetCertificatePolicy(ctx, "doomed", nil); err != nil {
			t.Errorf("GetCertificatePolicy after recovery: %v", err)
		}
	})

	t.Run("Purge", func(t *testing.T) {
		if _, err := v.c.DeleteCertificate(ctx, "doomed", nil); err != nil {
			t.Fatalf("DeleteCertificate: %v", err)
		}
		r := v.raw(t, http.MethodDelete, "/deletedcertificates/doomed", "")
		if r.Status != http.StatusNoContent {
			t.Fatalf("purge: %v, want 204", r)
		}
		_, err := v.c.GetDeletedCertificate(ctx, "doomed", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
		_, err = v.keys.GetDeletedKey(ctx, "doomed", nil)
		sdkWantError(t, err, http.StatusNotFound, "KeyNotFound")
		_, err = v.secrets.GetDeletedSecret(ctx, "doomed", nil)
		sdkWantError(t, err, http.StatusNotFound, "SecretNotFound")
		_, err = v.c.PurgeDeletedCertificate(ctx, "doomed", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
		if got := v.deletedKeyNames(t); len(got) != 0 {
			t.Errorf("deleted keys after purge = %v, want none", got)
		}
		if got := v.deletedSecretNames(t); len(got) != 0 {
			t.Errorf("deleted secrets after purge = %v, want none", got)
		}

		// The name is free again, and the old policy is gone with it.
		_, err = v.c.CreateCertificate(ctx, "doomed", azcertificates.CreateCertificateParameters{}, nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		again := v.create(t, "doomed", certSelfPolicy("CN=reborn"))
		if got := v.versions(t, "doomed"); !slices.Equal(got, []string{again.ID.Version()}) {
			t.Errorf("versions after purge and create = %v, want only %s", got, again.ID.Version())
		}
		if got := v.keyVersions(t, "doomed"); !slices.Equal(got, []string{again.ID.Version()}) {
			t.Errorf("key versions after purge and create = %v, want only %s", got, again.ID.Version())
		}
	})

	t.Run("Missing", func(t *testing.T) {
		_, err := v.c.DeleteCertificate(ctx, "no-such-cert", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
		_, err = v.c.RecoverDeletedCertificate(ctx, "no-such-cert", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
	})
}

func TestCertsBackupRestore(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	first := v.create(t, "saved", certSelfPolicy("CN=saved"))
	if _, err := v.c.UpdateCertificatePolicy(ctx, "saved", azcertificates.CertificatePolicy{
		X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr("CN=saved"), ValidityInMonths: to.Ptr(int32(6))},
	}, nil); err != nil {
		t.Fatalf("UpdateCertificatePolicy: %v", err)
	}
	second := v.create(t, "saved", nil)
	secretBefore := sdkGet(t, v.secrets, "saved", first.ID.Version())
	versions := v.versions(t, "saved")

	backup, err := v.c.BackupCertificate(ctx, "saved", nil)
	if err != nil {
		t.Fatalf("BackupCertificate: %v", err)
	}
	if len(backup.Value) == 0 {
		t.Fatalf("backup blob is empty")
	}

	_, err = v.c.RestoreCertificate(ctx, azcertificates.RestoreCertificateParameters{CertificateBackup: backup.Value}, nil)
	sdkWantError(t, err, http.StatusConflict, "Conflict")

	if _, err := v.c.DeleteCertificate(ctx, "saved", nil); err != nil {
		t.Fatalf("DeleteCertificate: %v", err)
	}
	_, err = v.c.RestoreCertificate(ctx, azcertificates.RestoreCertificateParameters{CertificateBackup: backup.Value}, nil)
	sdkWantError(t, err, http.StatusConflict, "Conflict")
	if _, err := v.c.PurgeDeletedCertificate(ctx, "saved", nil); err != nil {
		t.Fatalf("PurgeDeletedCertificate: %v", err)
	}

	restored, err := v.c.RestoreCertificate(ctx, azcertificates.RestoreCertificateParameters{CertificateBackup: backup.Value}, nil)
	if err != nil {
		t.Fatalf("RestoreCertificate: %v", err)
	}
	if *restored.ID != *second.ID || !bytes.Equal(restored.CER, second.CER) {
		t.Errorf("restored %s, want the latest version %s", *restored.ID, *second.ID)
	}
	if got := v.versions(t, "saved"); !slices.Equal(got, versions) {
		t.Errorf("restored certificate versions = %v, want %v", got, versions)
	}
	if got := v.keyVersions(t, "saved"); !slices.Equal(got, versions) {
		t.Errorf("restored key versions = %v, want %v", got, versions)
	}
	if got := v.secretVersions(t, "saved"); !slices.Equal(got, versions) {
		t.Errorf("restored secret versions = %v, want %v", got, versions)
	}
	if got := sdkGet(t, v.secrets, "saved", first.ID.Version()); sdkDeref(got.Value) != sdkDeref(secretBefore.Value) || !sdkDeref(got.Managed) {
		t.Errorf("restored secret of the first version differs from the backed-up one, or is not managed")
	}
	k, err := v.keys.GetKey(ctx, "saved", "", nil)
	if err != nil || !sdkDeref(k.Managed) || k.Key.KID.Version() != second.ID.Version() {
		t.Errorf("restored key: %v, want the managed key of version %s", err, second.ID.Version())
	}
	v.checkSigns(t, "saved", second.ID.Version(), certParse(t, second.CER))
	p, err := v.c.GetCertificatePolicy(ctx, "saved", nil)
	if err != nil {
		t.Fatalf("GetCertificatePolicy: %v", err)
	}
	if got := sdkDeref(p.X509CertificateProperties.ValidityInMonths); got != 6 {
		t.Errorf("restored policy validity_months = %d, want 6", got)
	}
	_, err = v.secrets.SetSecret(ctx, "saved", azsecrets.SetSecretParameters{Value: to.Ptr("x")}, nil)
	sdkWantError(t, err, http.StatusForbidden, "Forbidden")

	t.Run("BadBlob", func(t *testing.T) {
		_, err := v.c.RestoreCertificate(ctx, azcertificates.RestoreCertificateParameters{CertificateBackup: []byte("not a backup")}, nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		_, err = v.c.BackupCertificate(ctx, "no-such-cert", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
	})
}

func TestCertsContacts(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()

	_, err := v.c.GetContacts(ctx, nil)
	sdkWantError(t, err, http.StatusNotFound, "ContactsNotFound")

	list := []*azcertificates.Contact{
		{Email: to.Ptr("ops@example.com"), Name: to.Ptr("Ops"), Phone: to.Ptr("+1 555 0100")},
		{Email: to.Ptr("sec@example.com")},
	}
	set, err := v.c.SetContacts(ctx, azcertificates.Contacts{ContactList: list}, nil)
	if err != nil {
		t.Fatalf("SetContacts: %v", err)
	}
	want := certJSON(list)
	if got := certJSON(set.ContactList); got != want {
		t.Errorf("SetContacts = %s, want %s", got, want)
	}
	if got := sdkDeref(set.ID); got != v.base+"/certificates/contacts" {
		t.Errorf("contacts id = %q, want %s/certificates/contacts", got, v.base)
	}
	got, err := v.c.GetContacts(ctx, nil)
	if err != nil {
		t.Fatalf("GetContacts: %v", err)
	}
	if certJSON(got.ContactList) != want {
		t.Errorf("GetContacts = %s, want %s", certJSON(got.ContactList), want)
	}

	_, err = v.c.SetContacts(ctx, azcertificates.Contacts{ContactList: []*azcertificates.Contact{{Name: to.Ptr("no e-mail")}}}, nil)
	sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
	if got, err := v.c.GetContacts(ctx, nil); err != nil || certJSON(got.ContactList) != want {
		t.Errorf("contacts after a refused set = %s (%v), want %s", certJSON(got.ContactList), err, want)
	}

	deleted, err := v.c.DeleteContacts(ctx, nil)
	if err != nil {
		t.Fatalf("DeleteContacts: %v", err)
	}
	if certJSON(deleted.ContactList) != want {
		t.Errorf("DeleteContacts = %s, want the deleted list %s", certJSON(deleted.ContactList), want)
	}
	_, err = v.c.GetContacts(ctx, nil)
	sdkWantError(t, err, http.StatusNotFound, "ContactsNotFound")
	_, err = v.c.DeleteContacts(ctx, nil)
	sdkWantError(t, err, http.StatusNotFound, "ContactsNotFound")
}

func TestCertsIssuers(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	admins := []*azcertificates.AdministratorContact{{FirstName: to.Ptr("Jane"), LastName: to.Ptr("Doe"), Email: to.Ptr("jane@example.com"), Phone: to.Ptr("555")}}

	set, err := v.c.SetIssuer(ctx, "digicert", azcertificates.SetIssuerParameters{
		Provider:            to.Ptr("DigiCert"),
		Credentials:         &azcertificates.IssuerCredentials{AccountID: to.Ptr("account-1"), Password: to.Ptr("issuer-password")},
		OrganizationDetails: &azcertificates.OrganizationDetails{ID: to.Ptr("org-1"), AdminContacts: admins},
	}, nil)
	if err != nil {
		t.Fatalf("SetIssuer: %v", err)
	}
	checkIssuer := func(t *testing.T, is azcertificates.Issuer, provider, account string, enabled bool) {
		t.Helper()
		if got := sdkDeref(is.ID); got != v.base+"/certificates/issuers/digicert" {
			t.Errorf("issuer id = %q, want %s/certificates/issuers/digicert", got, v.base)
		}
		if sdkDeref(is.Provider) != provider {
			t.Errorf("provider = %q, want %q", sdkDeref(is.Provider), provider)
		}
		if is.Credentials == nil || sdkDeref(is.Credentials.AccountID) != account {
			t.Errorf("credentials = %s, want account_id %q", certJSON(is.Credentials), account)
		}
		if is.Credentials != nil && is.Credentials.Password != nil {
			t.Errorf("issuer response has the password, want it never returned")
		}
		if is.OrganizationDetails == nil || sdkDeref(is.OrganizationDetails.ID) != "org-1" || certJSON(is.OrganizationDetails.AdminContacts) != certJSON(admins) {
			t.Errorf("org_details = %s, want org-1 with the admins", certJSON(is.OrganizationDetails))
		}
		if is.Attributes == nil || sdkDeref(is.Attributes.Enabled) != enabled || is.Attributes.Created == nil {
			t.Errorf("attributes = %s, want enabled %v with created", certJSON(is.Attributes), enabled)
		}
	}
	checkIssuer(t, set.Issuer, "DigiCert", "account-1", true)
	got, err := v.c.GetIssuer(ctx, "digicert", nil)
	if err != nil {
		t.Fatalf("GetIssuer: %v", err)
	}
	checkIssuer(t, got.Issuer, "DigiCert", "account-1", true)
	if r := v.raw(t, http.MethodGet, "/certificates/issuers/digicert", ""); bytes.Contains(r.Body, []byte("issuer-password")) || bytes.Contains(r.Body, []byte(`"pwd"`)) {
		t.Errorf("raw GET issuer shows the password: %s", r.Body)
	}

	t.Run("List", func(t *testing.T) {
		if _, err := v.c.SetIssuer(ctx, "globalsign", azcertificates.SetIssuerParameters{Provider: to.Ptr("GlobalSign")}, nil); err != nil {
			t.Fatalf("SetIssuer: %v", err)
		}
		providers := map[string]string{}
		pager := v.c.NewListIssuerPropertiesPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("list issuers: %v", err)
			}
			for _, item := range page.Value {
				providers[sdkDeref(item.ID)] = sdkDeref(item.Provider)
			}
		}
		want := map[string]string{v.base + "/certificates/issuers/digicert": "DigiCert", v.base + "/certificates/issuers/globalsign": "GlobalSign"}
		if certJSON(providers) != certJSON(want) {
			t.Errorf("issuers = %v, want %v", providers, want)
		}
	})

	t.Run("Update", func(t *testing.T) {
		if _, err := v.c.UpdateIssuer(ctx, "digicert", azcertificates.UpdateIssuerParameters{
			Attributes: &azcertificates.IssuerAttributes{Enabled: to.Ptr(false)},
		}, nil); err != nil {
			t.Fatalf("UpdateIssuer (disable): %v", err)
		}
		upd, err := v.c.UpdateIssuer(ctx, "digicert", azcertificates.UpdateIssuerParameters{
			Credentials: &azcertificates.IssuerCredentials{AccountID: to.Ptr("account-2")},
		}, nil)
		if err != nil {
			t.Fatalf("UpdateIssuer: %v", err)
		}
		// Members the update leaves out keep their values, the enabled
		// attribute included.
		checkIssuer(t, upd.Issuer, "DigiCert", "account-2", false)
		got, err := v.c.GetIssuer(ctx, "digicert", nil)
		if err != nil {
			t.Fatalf("GetIssuer: %v", err)
		}
		checkIssuer(t, got.Issuer, "DigiCert", "account-2", false)
		_, err = v.c.UpdateIssuer(ctx, "no-such-issuer", azcertificates.UpdateIssuerParameters{Provider: to.Ptr("X")}, nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateIssuerNotFound")
		if _, err := v.c.UpdateIssuer(ctx, "digicert", azcertificates.UpdateIssuerParameters{
			Attributes: &azcertificates.IssuerAttributes{Enabled: to.Ptr(true)},
		}, nil); err != nil {
			t.Fatalf("UpdateIssuer (enable): %v", err)
		}
	})

	t.Run("IssuerBackedCreate", func(t *testing.T) {
		op := v.startPending(t, "via-issuer", "digicert")
		if sdkDeref(op.Status) != "inProgress" || sdkDeref(op.IssuerParameters.Name) != "digicert" || len(op.CSR) == 0 {
			t.Errorf("operation = status %q issuer %q csr %d bytes, want inProgress, digicert and a CSR",
				sdkDeref(op.Status), sdkDeref(op.IssuerParameters.Name), len(op.CSR))
		}
		// No provider is contacted: the request waits for a merge.
		if got := v.operation(t, "via-issuer"); sdkDeref(got.Status) != "inProgress" {
			t.Errorf("operation status = %q, want still inProgress", sdkDeref(got.Status))
		}
		_, err := v.c.GetCertificate(ctx, "via-issuer", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")

		p := certSelfPolicy("CN=x")
		p.IssuerParameters.Name = to.Ptr("no-such-issuer")
		_, err = v.c.CreateCertificate(ctx, "bad-issuer", azcertificates.CreateCertificateParameters{CertificatePolicy: p}, nil)
		sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
	})

	t.Run("ReservedNames", func(t *testing.T) {
		for _, name := range []string{"Self", "unknown"} {
			_, err := v.c.SetIssuer(ctx, name, azcertificates.SetIssuerParameters{Provider: to.Ptr("X")}, nil)
			sdkWantError(t, err, http.StatusBadRequest, "BadParameter")
		}
		r := v.raw(t, http.MethodPut, "/certificates/issuers/no-provider", `{}`)
		checkAzureError(t, r, http.StatusBadRequest, "BadParameter", "")
	})

	t.Run("Delete", func(t *testing.T) {
		del, err := v.c.DeleteIssuer(ctx, "digicert", nil)
		if err != nil {
			t.Fatalf("DeleteIssuer: %v", err)
		}
		checkIssuer(t, del.Issuer, "DigiCert", "account-2", true)
		_, err = v.c.GetIssuer(ctx, "digicert", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateIssuerNotFound")
		_, err = v.c.DeleteIssuer(ctx, "digicert", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateIssuerNotFound")
	})
}

func TestCertsManagedObjects(t *testing.T) {
	v := startCertVault(t, kvtest.Options{})
	ctx := context.Background()
	cert := v.create(t, "owned", certSelfPolicy("CN=owned"))
	version := cert.ID.Version()

	wantManaged := func(t *testing.T, err error) {
		t.Helper()
		re := sdkWantError(t, err, http.StatusForbidden, "Forbidden")
		if got := sdkInnerCode(t, re); got != "ObjectIsManaged" {
			t.Errorf("inner code = %q, want ObjectIsManaged", got)
		}
	}
	t.Run("Secret", func(t *testing.T) {
		_, err := v.secrets.SetSecret(ctx, "owned", azsecrets.SetSecretParameters{Value: to.Ptr("overwrite")}, nil)
		wantManaged(t, err)
		_, err = v.secrets.UpdateSecretProperties(ctx, "owned", version, azsecrets.UpdateSecretPropertiesParameters{
			SecretAttributes: &azsecrets.SecretAttributes{Enabled: to.Ptr(false)},
		}, nil)
		wantManaged(t, err)
		_, err = v.secrets.DeleteSecret(ctx, "owned", nil)
		wantManaged(t, err)
		_, err = v.secrets.BackupSecret(ctx, "owned", nil)
		wantManaged(t, err)
	})
	t.Run("Key", func(t *testing.T) {
		_, err := v.keys.UpdateKey(ctx, "owned", version, azkeys.UpdateKeyParameters{KeyOps: sdkKeyOpParams("verify")}, nil)
		wantManaged(t, err)
		_, err = v.keys.DeleteKey(ctx, "owned", nil)
		wantManaged(t, err)
		_, err = v.keys.BackupKey(ctx, "owned", nil)
		wantManaged(t, err)
		_, err = v.keys.CreateKey(ctx, "owned", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil)
		wantManaged(t, err)
		_, err = v.keys.RotateKey(ctx, "owned", nil)
		sdkWantError(t, err, http.StatusForbidden, "Forbidden")
	})
	t.Run("Unchanged", func(t *testing.T) {
		if got := v.secretVersions(t, "owned"); !slices.Equal(got, []string{version}) {
			t.Errorf("secret versions = %v, want only %s", got, version)
		}
		if got := v.keyVersions(t, "owned"); !slices.Equal(got, []string{version}) {
			t.Errorf("key versions = %v, want only %s", got, version)
		}
		if s := sdkGet(t, v.secrets, "owned", ""); !sdkDeref(s.Attributes.Enabled) {
			t.Errorf("secret was disabled by a refused update")
		}
		v.get(t, "owned", "")
	})
	t.Run("NameTakenByPlainObject", func(t *testing.T) {
		if _, err := v.secrets.SetSecret(ctx, "plain", azsecrets.SetSecretParameters{Value: to.Ptr("mine")}, nil); err != nil {
			t.Fatalf("SetSecret: %v", err)
		}
		_, err := v.c.CreateCertificate(ctx, "plain", azcertificates.CreateCertificateParameters{CertificatePolicy: certSelfPolicy("CN=plain")}, nil)
		sdkWantError(t, err, http.StatusConflict, "Conflict")
		if s := sdkGet(t, v.secrets, "plain", ""); sdkDeref(s.Value) != "mine" || sdkDeref(s.Managed) {
			t.Errorf("plain secret changed by a refused create: value %q managed %v", sdkDeref(s.Value), sdkDeref(s.Managed))
		}
		if _, err := v.keys.CreateKey(ctx, "plain-key", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		_, err = v.c.CreateCertificate(ctx, "plain-key", azcertificates.CreateCertificateParameters{CertificatePolicy: certSelfPolicy("CN=plain")}, nil)
		sdkWantError(t, err, http.StatusConflict, "Conflict")
		_, err = v.c.GetCertificate(ctx, "plain-key", "", nil)
		sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
	})
}

func TestCertsAutoRenew(t *testing.T) {
	const day = 24 * time.Hour

	t.Run("LifetimePercentage", func(t *testing.T) {
		kv, logs := startSDKKeyClockVault(t)
		v := newCertVault(t, kv.in)
		ctx := context.Background()
		start := time.Now()
		p := certSelfPolicy("CN=renewed.example.com")
		original := v.create(t, "renewed", p)
		if _, err := v.c.UpdateCertificate(ctx, "renewed", "", azcertificates.UpdateCertificateParameters{
			Tags: map[string]*string{"team": to.Ptr("ops")},
		}, nil); err != nil {
			t.Fatalf("UpdateCertificate: %v", err)
		}
		bystander := v.create(t, "manual", &azcertificates.CertificatePolicy{
			IssuerParameters:          &azcertificates.IssuerParameters{Name: to.Ptr("Self")},
			X509CertificateProperties: &azcertificates.X509CertificateProperties{Subject: to.Ptr("CN=manual"), ValidityInMonths: to.Ptr(int32(36))},
		})

		// AutoRenew at 80% of 12 months is due after about 292 days.
		kv.advance(t, 270*day)
		if got := v.versions(t, "renewed"); len(got) != 1 {
			t.Fatalf("versions after 270 days = %v, want only the original", got)
		}
		kv.advance(t, 30*day)
		done := time.Now()
		versions := v.versions(t, "renewed")
		if len(versions) != 2 {
			t.Fatalf("versions after 300 days = %v, want 2", versions)
		}
		latest := v.get(t, "renewed", "")
		newVersion := latest.ID.Version()
		if newVersion == original.ID.Version() {
			t.Fatalf("latest version is still the original after renewal")
		}
		leaf := certParse(t, latest.CER)
		if got := leaf.Subject.String(); got != "CN=renewed.example.com" {
			t.Errorf("renewed subject = %q, want CN=renewed.example.com", got)
		}
		// The new version is issued on the object clock, 300 days ahead.
		lo, hi := start.Add(300*day-6*time.Minute), done.Add(300*day)
		if leaf.NotBefore.Before(lo) || leaf.NotBefore.After(hi) {
			t.Errorf("renewed NotBefore = %v, want between %v and %v", leaf.NotBefore, lo, hi)
		}
		if certPublicEqual(leaf.PublicKey, certParse(t, original.CER).PublicKey) {
			t.Errorf("renewed certificate reuses the key, want a new one (reuse_key false)")
		}
		if sdkDeref(latest.Tags["team"]) != "ops" {
			t.Errorf("renewed tags = %v, want team=ops kept", sdkTags(latest.Tags))
		}
		if k, err := v.keys.GetKey(ctx, "renewed", "", nil); err != nil || k.Key.KID.Version() != newVersion {
			t.Errorf("latest key version = %v (%v), want %s", k.Key, err, newVersion)
		}
		key, pfxLeaf, _, _ := v.secretPKCS12(t, "renewed", "")
		if !pfxLeaf.Equal(leaf) || !certPublicEqual(leaf.PublicKey, key.(crypto.Signer).Public()) {
			t.Errorf("latest secret does not hold the renewed certificate and its key")
		}
		v.checkSigns(t, "renewed", newVersion, leaf)
		if got := logs.lines("renewed certificate by its AutoRenew lifetime action", "certificate=renewed"); len(got) != 1 {
			t.Errorf("renewal log lines = %q, want one", got)
		}
		if got := v.versions(t, "manual"); !slices.Equal(got, []string{bystander.ID.Version()}) {
			t.Errorf("versions of a 36-month certificate = %v, want only the original", got)
		}

		// The next renewal is due 80% into the new version's lifetime.
		kv.advance(t, day)
		if got := v.versions(t, "renewed"); len(got) != 2 {
			t.Errorf("versions a day after renewal = %v, want still 2", got)
		}
	})

	t.Run("DaysBeforeExpiry", func(t *testing.T) {
		kv, _ := startSDKKeyClockVault(t)
		v := newCertVault(t, kv.in)
		p := certSelfPolicy("CN=days.example.com")
		p.X509CertificateProperties.ValidityInMonths = to.Ptr(int32(2))
		p.LifetimeActions = []*azcertificates.LifetimeAction{{
			Trigger: &azcertificates.LifetimeActionTrigger{DaysBeforeExpiry: to.Ptr(int32(20))},
			Action:  &azcertificates.LifetimeActionType{ActionType: to.Ptr(azcertificates.CertificatePolicyActionAutoRenew)},
		}}
		original := v.create(t, "days", p)
		exp := certParse(t, original.CER).NotAfter

		// Renewal is due 20 days before exp.
		untilDue := time.Until(exp.AddDate(0, 0, -20))
		kv.advance(t, untilDue-2*day)
		if got := v.versions(t, "days"); len(got) != 1 {
			t.Fatalf("versions 22 days before exp = %v, want only the original", got)
		}
		kv.advance(t, 3*day)
		if got := v.versions(t, "days"); len(got) != 2 {
			t.Errorf("versions 19 days before exp = %v, want 2", got)
		}
	})

	t.Run("EmailContactsOnlyLogs", func(t *testing.T) {
		kv, logs := startSDKKeyClockVault(t)
		v := newCertVault(t, kv.in)
		p := certSelfPolicy("CN=notify.example.com")
		p.LifetimeActions = []*azcertificates.LifetimeAction{{
			Trigger: &azcertificates.LifetimeActionTrigger{LifetimePercentage: to.Ptr(int32(50))},
			Action:  &azcertificates.LifetimeActionType{ActionType: to.Ptr(azcertificates.CertificatePolicyActionEmailContacts)},
		}}
		original := v.create(t, "notify", p)
		const message = "certificate nears expiry (EmailContacts lifetime action)"

		kv.advance(t, 170*day)
		if got := logs.lines(message, "certificate=notify"); len(got) != 0 {
			t.Errorf("notification logged before 50%% of the lifetime: %q", got)
		}
		kv.advance(t, 20*day)
		if got := logs.lines(message, "certificate=notify", "version="+original.ID.Version()); len(got) != 1 {
			t.Errorf("notification lines after 50%% of the lifetime = %q, want one naming the version", got)
		}
		kv.advance(t, 10*day)
		if got := logs.lines(message, "certificate=notify"); len(got) != 1 {
			t.Errorf("notification lines after more jobs = %d, want still one per version", len(got))
		}
		if got := v.versions(t, "notify"); !slices.Equal(got, []string{original.ID.Version()}) {
			t.Errorf("versions = %v, want only the original: EmailContacts never renews", got)
		}
		if got := logs.lines("renewed certificate"); len(got) != 0 {
			t.Errorf("renewal logged for an EmailContacts policy: %q", got)
		}
	})

	t.Run("UnknownIssuerRenewalWaitsForMerge", func(t *testing.T) {
		kv, _ := startSDKKeyClockVault(t)
		v := newCertVault(t, kv.in)
		ctx := context.Background()
		p := certSelfPolicy("CN=csr-renew.example.com")
		p.IssuerParameters.Name = to.Ptr("Unknown")
		p.LifetimeActions = []*azcertificates.LifetimeAction{{
			Trigger: &azcertificates.LifetimeActionTrigger{LifetimePercentage: to.Ptr(int32(50))},
			Action:  &azcertificates.LifetimeActionType{ActionType: to.Ptr(azcertificates.CertificatePolicyActionAutoRenew)},
		}}
		resp, err := v.c.CreateCertificate(ctx, "csr-renew", azcertificates.CreateCertificateParameters{CertificatePolicy: p}, nil)
		if err != nil {
			t.Fatalf("CreateCertificate: %v", err)
		}
		ca, caKey := certTestCA(t, "Renewal CA", nil, nil)
		leaf := certSignCSR(t, resp.CSR, ca, caKey)
		if _, err := v.c.MergeCertificate(ctx, "csr-renew", azcertificates.MergeCertificateParameters{X509Certificates: [][]byte{leaf.Raw}}, nil); err != nil {
			t.Fatalf("MergeCertificate: %v", err)
		}
		// The test CA issued the leaf for 3 months: 50% is about 46 days.
		kv.advance(t, 50*day)
		op := v.operation(t, "csr-renew")
		if sdkDeref(op.Status) != "inProgress" || len(op.CSR) == 0 {
			t.Fatalf("operation after the trigger = %q, want a new request in progress with a CSR", sdkDeref(op.Status))
		}
		if bytes.Equal(op.CSR, resp.CSR) {
			t.Errorf("renewal CSR is the first one, want a new request")
		}
		if got := v.versions(t, "csr-renew"); len(got) != 1 {
			t.Errorf("versions before the merge = %v, want only the merged one", got)
		}
		kv.advance(t, day)
		if again := v.operation(t, "csr-renew"); !bytes.Equal(again.CSR, op.CSR) {
			t.Errorf("a second job run replaced the waiting request")
		}
	})
}

func TestCertsPurgedAfterRetention(t *testing.T) {
	const day = 24 * time.Hour
	kv, _ := startSDKKeyClockVault(t)
	v := newCertVault(t, kv.in)
	ctx := context.Background()
	v.create(t, "expired", certSelfPolicy("CN=expired"))
	if _, err := v.c.DeleteCertificate(ctx, "expired", nil); err != nil {
		t.Fatalf("DeleteCertificate: %v", err)
	}

	// The default vault keeps deleted objects for 90 days.
	kv.advance(t, 89*day)
	if _, err := v.c.GetDeletedCertificate(ctx, "expired", nil); err != nil {
		t.Fatalf("GetDeletedCertificate after 89 days: %v", err)
	}
	kv.advance(t, 2*day)
	_, err := v.c.GetDeletedCertificate(ctx, "expired", nil)
	sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
	if got := v.deletedKeyNames(t); len(got) != 0 {
		t.Errorf("deleted keys after the retention period = %v, want none", got)
	}
	if got := v.deletedSecretNames(t); len(got) != 0 {
		t.Errorf("deleted secrets after the retention period = %v, want none", got)
	}
	_, err = v.c.GetCertificatePolicy(ctx, "expired", nil)
	sdkWantError(t, err, http.StatusNotFound, "CertificateNotFound")
	again := v.create(t, "expired", certSelfPolicy("CN=again"))
	if got := v.keyVersions(t, "expired"); !slices.Equal(got, []string{again.ID.Version()}) {
		t.Errorf("key versions of the new certificate = %v, want only %s", got, again.ID.Version())
	}
}

package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/uuid"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/keyvault/keyvault/internal/audit"
	"github.com/keyvault/keyvault/internal/authz"
	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/server"
)

// audAPIVersion and audMgmtAPIVersion are the api-versions of the raw
// data-plane and management requests of these tests.
const (
	audAPIVersion     = "7.5"
	audMgmtAPIVersion = "2023-07-01"
	audRoleAPIVersion = "2022-04-01"
)

// audLog is a concurrency-safe buffer for a server's log lines.
type audLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *audLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *audLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// audServer is a server running in the test process whose log is kept.
type audServer struct {
	in       *kvtest.Instance
	dataDir  string
	auditDir string
	logs     *audLog
	stop     func() // stops the server and waits for it; safe to call twice
}

// audStart starts a server as kvtest.Start does, but with its log, and the
// process-wide slog default that the token service logs to, written to a
// buffer. An empty dataDir means a new temporary one.
func audStart(t *testing.T, dataDir string, configure func(*server.Config)) *audServer {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir = dataDir
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Addr = "127.0.0.1:0"
	if configure != nil {
		configure(&cfg)
	}
	logs := &audLog{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	previous := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() {
		// slog.SetDefault also redirected the log package; undo both.
		slog.SetDefault(previous)
		log.SetOutput(os.Stderr)
		log.SetFlags(log.LstdFlags)
	})

	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, cfg, logger)
	if err != nil {
		cancel()
		t.Fatalf("open server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server shutdown: %v", err)
			}
		})
	}
	t.Cleanup(stop)

	auditDir := cfg.AuditDir
	if auditDir == "" {
		auditDir = filepath.Join(cfg.DataDir, "audit")
	}
	return &audServer{in: kvtest.Load(t, cfg.DataDir, srv.Addr().String()), dataDir: cfg.DataDir,
		auditDir: auditDir, logs: logs, stop: stop}
}

// audPublicKey reads the audit checkpoint key a server wrote to dataDir.
func audPublicKey(t *testing.T, dataDir string) ed25519.PublicKey {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, server.AuditKeyFile))
	if err != nil {
		t.Fatalf("read audit public key: %v", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		t.Fatalf("%s contains no PEM block", server.AuditKeyFile)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatalf("parse audit public key: %v", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		t.Fatalf("audit public key is %T, want ed25519.PublicKey", key)
	}
	return pub
}

// audVerify checks the audit chain of dir with the key of dataDir and
// returns the report.
func audVerify(t *testing.T, dir, dataDir string) *audit.Report {
	t.Helper()
	files, err := audit.Files(dir)
	if err != nil {
		t.Fatalf("list audit files: %v", err)
	}
	if len(files) == 0 {
		t.Fatalf("no audit files in %s", dir)
	}
	rep, err := audit.Verify(files, audPublicKey(t, dataDir))
	if err != nil {
		t.Fatalf("audit.Verify: %v", err)
	}
	return rep
}

// audReadFiles returns the content of every audit file of dir, in order.
func audReadFiles(t *testing.T, dir string) []byte {
	t.Helper()
	files, err := audit.Files(dir)
	if err != nil {
		t.Fatalf("list audit files: %v", err)
	}
	var all []byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read audit file: %v", err)
		}
		all = append(all, data...)
	}
	return all
}

// audEvents returns the AuditEvent records of dir, without checkpoints.
func audEvents(t *testing.T, dir string) []audit.Record {
	t.Helper()
	var out []audit.Record
	for _, line := range bytes.Split(audReadFiles(t, dir), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r audit.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("parse audit record %s: %v", line, err)
		}
		if r.Category == audit.CategoryAuditEvent {
			out = append(out, r)
		}
	}
	return out
}

// audCaller is who a token names: the oid and appid claims.
type audCaller struct {
	oid, appid string
}

// audClaims reads the oid and appid claims of an access token without
// verifying it.
func audClaims(t *testing.T, token string) audCaller {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode token payload: %v", err)
	}
	var c struct {
		OID   string `json:"oid"`
		AppID string `json:"appid"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("parse token payload: %v", err)
	}
	if c.OID == "" || c.AppID == "" {
		t.Fatalf("token payload %s has no oid or appid", raw)
	}
	return audCaller{oid: c.OID, appid: c.AppID}
}

// audExpect is the audit record a request must leave.
type audExpect struct {
	op     string
	status int
	caller *audCaller // nil: the record names no identity
	// resource is the upper-case vault resource id; "" means none.
	resource string
	// authorized, if set, is the outcome of the permission check that
	// isAccessPolicyMatch or isRbacAuthorized records.
	authorized *bool
}

// audCall is a request sent by audClient and what its record must hold.
type audCall struct {
	label         string
	method, uri   string
	correlationID string
	userAgent     string
	want          audExpect
}

// audClient sends raw requests, each with its own x-ms-client-request-id
// and User-Agent, and remembers them to match them with audit records.
type audClient struct {
	in    *kvtest.Instance
	http  *http.Client
	calls []audCall
}

func newAudClient(in *kvtest.Instance) *audClient {
	return &audClient{in: in, http: in.HTTPClient()}
}

// send sends a request without expectations and returns its response.
// Bodies of token endpoint requests are sent as forms, others as JSON.
func (c *audClient) send(t *testing.T, method, uri, token, body string) (*kvtest.Response, string, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, uri, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		if strings.HasSuffix(req.URL.Path, "/oauth2/v2.0/token") {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	correlationID := uuid.NewString()
	userAgent := "audit-test/" + correlationID[:8]
	req.Header.Set("x-ms-client-request-id", correlationID)
	req.Header.Set("User-Agent", userAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return &kvtest.Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, correlationID, userAgent
}

// call sends a request, checks its status and remembers what its audit
// record must hold.
func (c *audClient) call(t *testing.T, label string, want audExpect, method, uri, token, body string) *kvtest.Response {
	t.Helper()
	r, correlationID, userAgent := c.send(t, method, uri, token, body)
	if r.Status != want.status {
		t.Errorf("%s: %s %s: %v, want status %d", label, method, uri, r, want.status)
	}
	c.calls = append(c.calls, audCall{label: label, method: method, uri: uri, correlationID: correlationID,
		userAgent: userAgent, want: want})
	return r
}

// audTokenForm is a client-credentials token request body.
func audTokenForm(clientID, secret, resource string) string {
	return url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID},
		"client_secret": {secret}, "scope": {resource + "/.default"},
	}.Encode()
}

// audToken returns the access token of a successful token response.
func audToken(t *testing.T, r *kvtest.Response) string {
	t.Helper()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	r.JSON(t, &body)
	if body.AccessToken == "" {
		t.Fatalf("token response has no access_token: %v", r)
	}
	return body.AccessToken
}

// audVaultID returns the ARM id of a vault of the default subscription.
func audVaultID(in *kvtest.Instance, rg, name string) string {
	return "/subscriptions/" + in.Creds.SubscriptionID + "/resourceGroups/" + rg + "/providers/Microsoft.KeyVault/vaults/" + name
}

// audRoleDefinition returns the role definition id of a built-in role in
// the default subscription.
func audRoleDefinition(in *kvtest.Instance, name string) string {
	role := authz.RoleByName(name)
	if role == nil {
		panic("no built-in role " + name)
	}
	return "/subscriptions/" + in.Creds.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + role.ID
}

// audKeyVersion returns the version of the key a key bundle response names.
func audKeyVersion(t *testing.T, r *kvtest.Response) string {
	t.Helper()
	var bundle struct {
		Key struct {
			KID string `json:"kid"`
		} `json:"key"`
	}
	r.JSON(t, &bundle)
	i := strings.LastIndex(bundle.Key.KID, "/")
	if i < 0 {
		t.Fatalf("key bundle has no kid: %v", r)
	}
	return bundle.Key.KID[i+1:]
}

// audPFX returns a PKCS#12 file, protected by password, with a new
// self-signed EC certificate, and the certificate's private scalar.
func audPFX(t *testing.T, password string) ([]byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "audit-import"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := pkcs12.Modern.Encode(key, cert, nil, password)
	if err != nil {
		t.Fatalf("encode PFX: %v", err)
	}
	scalar, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return pfx, scalar
}

// audCertPolicy is a self-signed certificate policy in wire form.
const audCertPolicy = `{"policy":{"key_props":{"kty":"EC","crv":"P-256","exportable":true},` +
	`"secret_props":{"contentType":"application/x-pkcs12"},"x509_props":{"subject":"CN=audit-create","validity_months":12},` +
	`"issuer":{"name":"Self"}}}`

func TestAuditOneRecordPerRequest(t *testing.T) {
	s := audStart(t, "", nil)
	in := s.in
	c := newAudClient(in)
	vaultBase := in.VaultURL("default")
	q := "?api-version=" + audAPIVersion
	mgmtBase := "https://localhost:" + in.Port
	tokenURL := mgmtBase + "/" + in.Creds.TenantID + "/oauth2/v2.0/token"
	defaultVault := strings.ToUpper(audVaultID(in, "default", "default"))
	yes, no := to.Ptr(true), to.Ptr(false)

	// Token service.
	r := c.call(t, "admin vault token", audExpect{op: "Authentication", status: 200}, http.MethodPost, tokenURL, "",
		audTokenForm(in.Creds.ClientID, in.Creds.ClientSecret, in.Creds.Resource))
	vaultToken := audToken(t, r)
	admin := audClaims(t, vaultToken)
	r = c.call(t, "admin management token", audExpect{op: "Authentication", status: 200}, http.MethodPost, tokenURL, "",
		audTokenForm(in.Creds.ClientID, in.Creds.ClientSecret, in.Creds.ManagementResource))
	mgmtToken := audToken(t, r)
	c.call(t, "wrong client secret", audExpect{op: "Authentication", status: 401}, http.MethodPost, tokenURL, "",
		audTokenForm(in.Creds.ClientID, "not-the-secret", in.Creds.Resource))

	// Secrets, with the failures 401, 400, 404 and 409.
	adminOK := func(op string, status int) audExpect {
		return audExpect{op: op, status: status, caller: &admin, resource: defaultVault, authorized: yes}
	}
	c.call(t, "set secret", adminOK("SecretSet", 200), http.MethodPut, vaultBase+"/secrets/aud-secret"+q, vaultToken, `{"value":"v1"}`)
	c.call(t, "get secret", adminOK("SecretGet", 200), http.MethodGet, vaultBase+"/secrets/aud-secret"+q, vaultToken, "")
	c.call(t, "get missing secret", adminOK("SecretGet", 404), http.MethodGet, vaultBase+"/secrets/aud-missing"+q, vaultToken, "")
	c.call(t, "set secret without token", audExpect{op: "SecretSet", status: 401, resource: defaultVault}, http.MethodPut,
		vaultBase+"/secrets/aud-secret"+q, "", `{"value":"v2"}`)
	c.call(t, "set secret with a broken body", audExpect{op: "SecretSet", status: 400, caller: &admin, resource: defaultVault},
		http.MethodPut, vaultBase+"/secrets/aud-secret"+q, vaultToken, `{"value":`)
	c.call(t, "set doomed secret", adminOK("SecretSet", 200), http.MethodPut, vaultBase+"/secrets/aud-gone"+q, vaultToken, `{"value":"x"}`)
	c.call(t, "delete secret", adminOK("SecretDelete", 200), http.MethodDelete, vaultBase+"/secrets/aud-gone"+q, vaultToken, "")
	c.call(t, "set deleted secret", adminOK("SecretSet", 409), http.MethodPut, vaultBase+"/secrets/aud-gone"+q, vaultToken, `{"value":"y"}`)
	c.call(t, "get deleted secret", adminOK("SecretGetDeleted", 200), http.MethodGet, vaultBase+"/deletedsecrets/aud-gone"+q, vaultToken, "")
	c.call(t, "purge secret", adminOK("SecretPurge", 204), http.MethodDelete, vaultBase+"/deletedsecrets/aud-gone"+q, vaultToken, "")

	// Keys, with a signature and an encryption.
	r = c.call(t, "create EC key", adminOK("KeyCreate", 200), http.MethodPost, vaultBase+"/keys/aud-ec/create"+q, vaultToken,
		`{"kty":"EC","crv":"P-256"}`)
	ecVersion := audKeyVersion(t, r)
	digest := sha256.Sum256([]byte("audit"))
	c.call(t, "sign", adminOK("KeySign", 200), http.MethodPost, vaultBase+"/keys/aud-ec/"+ecVersion+"/sign"+q, vaultToken,
		`{"alg":"ES256","value":"`+base64.RawURLEncoding.EncodeToString(digest[:])+`"}`)
	r = c.call(t, "create RSA key", adminOK("KeyCreate", 200), http.MethodPost, vaultBase+"/keys/aud-rsa/create"+q, vaultToken,
		`{"kty":"RSA","key_size":2048}`)
	rsaVersion := audKeyVersion(t, r)
	c.call(t, "encrypt", adminOK("KeyEncrypt", 200), http.MethodPost, vaultBase+"/keys/aud-rsa/"+rsaVersion+"/encrypt"+q, vaultToken,
		`{"alg":"RSA-OAEP-256","value":"`+base64.RawURLEncoding.EncodeToString([]byte("plaintext"))+`"}`)

	// Certificates: a created one and an imported PFX.
	c.call(t, "create certificate", adminOK("CertificateCreate", 202), http.MethodPost, vaultBase+"/certificates/aud-cert/create"+q,
		vaultToken, audCertPolicy)
	pfx, _ := audPFX(t, "import-password")
	c.call(t, "import certificate", adminOK("CertificateImport", 200), http.MethodPost, vaultBase+"/certificates/aud-imp/import"+q,
		vaultToken, `{"value":"`+base64.StdEncoding.EncodeToString(pfx)+`","pwd":"import-password"}`)

	// Management API: a vault, a principal and a role assignment, with the
	// failures 404 and 401 (a token for the vault resource).
	newVault := audVaultID(in, "default", "aud-vault")
	vaultBody := `{"location":"local","properties":{"tenantId":"` + in.Creds.TenantID + `","sku":{"family":"A","name":"standard"}}}`
	mgmtAs := func(op string, status int, resource string) audExpect {
		return audExpect{op: op, status: status, caller: &admin, resource: resource}
	}
	c.call(t, "create vault", mgmtAs("VaultPut", 201, strings.ToUpper(newVault)), http.MethodPut,
		mgmtBase+newVault+"?api-version="+audMgmtAPIVersion, mgmtToken, vaultBody)
	c.call(t, "get vault", mgmtAs("VaultGet", 200, strings.ToUpper(newVault)), http.MethodGet,
		mgmtBase+newVault+"?api-version="+audMgmtAPIVersion, mgmtToken, "")
	missingVault := audVaultID(in, "default", "aud-missing")
	c.call(t, "get missing vault", mgmtAs("VaultGet", 404, strings.ToUpper(missingVault)), http.MethodGet,
		mgmtBase+missingVault+"?api-version="+audMgmtAPIVersion, mgmtToken, "")
	c.call(t, "get vault with a vault token", audExpect{op: "VaultGet", status: 401, resource: strings.ToUpper(newVault)},
		http.MethodGet, mgmtBase+newVault+"?api-version="+audMgmtAPIVersion, vaultToken, "")
	r = c.call(t, "create principal", mgmtAs("PrincipalCreate", 201, ""), http.MethodPost, mgmtBase+"/keyvault/principals",
		mgmtToken, `{"displayName":"aud-reader"}`)
	var reader struct {
		ClientID     string `json:"clientId"`
		ObjectID     string `json:"objectId"`
		ClientSecret string `json:"clientSecret"`
	}
	r.JSON(t, &reader)
	assignment := newVault + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString()
	c.call(t, "assign role", mgmtAs("RoleAssignmentWrite", 201, strings.ToUpper(newVault)), http.MethodPut,
		mgmtBase+assignment+"?api-version="+audRoleAPIVersion, mgmtToken,
		`{"properties":{"roleDefinitionId":"`+audRoleDefinition(in, "Key Vault Secrets User")+`",`+
			`"principalId":"`+reader.ObjectID+`","principalType":"ServicePrincipal"}}`)

	// A principal without permissions gets 403 on both APIs.
	r = c.call(t, "reader vault token", audExpect{op: "Authentication", status: 200}, http.MethodPost, tokenURL, "",
		audTokenForm(reader.ClientID, reader.ClientSecret, in.Creds.Resource))
	readerToken := audToken(t, r)
	readerCaller := audClaims(t, readerToken)
	if readerCaller.oid != reader.ObjectID {
		t.Errorf("reader token oid = %s, want the principal's object id %s", readerCaller.oid, reader.ObjectID)
	}
	c.call(t, "get secret without permission", audExpect{op: "SecretGet", status: 403, caller: &readerCaller,
		resource: defaultVault, authorized: no}, http.MethodGet, vaultBase+"/secrets/aud-secret"+q, readerToken, "")
	r = c.call(t, "reader management token", audExpect{op: "Authentication", status: 200}, http.MethodPost, tokenURL, "",
		audTokenForm(reader.ClientID, reader.ClientSecret, in.Creds.ManagementResource))
	readerMgmt := audToken(t, r)
	c.call(t, "create principal without permission", audExpect{op: "PrincipalCreate", status: 403, caller: &readerCaller},
		http.MethodPost, mgmtBase+"/keyvault/principals", readerMgmt, `{"displayName":"aud-denied"}`)

	// Health checks and metrics are not audited.
	if r := in.Do(t, http.MethodGet, mgmtBase+"/healthz", "", ""); r.Status != http.StatusOK {
		t.Errorf("GET /healthz: %v", r)
	}

	events := audEvents(t, s.auditDir)
	audCheckRecords(t, c.calls, events, in.Creds.TenantID)
	audVerify(t, s.auditDir, s.dataDir)

	// After a clean shutdown the chain ends with a signed checkpoint.
	s.stop()
	rep := audVerify(t, s.auditDir, s.dataDir)
	if rep.Unsigned != 0 {
		t.Errorf("after shutdown %d records follow the last checkpoint, want 0", rep.Unsigned)
	}
	if rep.Records != uint64(len(c.calls)) {
		t.Errorf("audit.Verify counted %d event records, want %d (one per request)", rep.Records, len(c.calls))
	}
}

// audCheckRecords checks that every call left exactly one record with the
// expected fields, and that no other event records exist.
func audCheckRecords(t *testing.T, calls []audCall, events []audit.Record, tenantID string) {
	t.Helper()
	if len(events) != len(calls) {
		t.Errorf("the audit log has %d event records, want %d (one per request)", len(events), len(calls))
	}
	byCorrelation := map[string][]audit.Record{}
	for _, e := range events {
		byCorrelation[e.CorrelationID] = append(byCorrelation[e.CorrelationID], e)
	}
	for _, call := range calls {
		recs := byCorrelation[call.correlationID]
		if len(recs) != 1 {
			t.Errorf("%s: %d audit records with correlationId %s, want 1: %+v", call.label, len(recs), call.correlationID, recs)
			continue
		}
		audCheckRecord(t, call, recs[0], tenantID)
	}
}

func audCheckRecord(t *testing.T, call audCall, rec audit.Record, tenantID string) {
	t.Helper()
	w := call.want
	if rec.OperationName != w.op {
		t.Errorf("%s: operationName = %q, want %q", call.label, rec.OperationName, w.op)
	}
	if rec.Properties.HTTPStatusCode != w.status {
		t.Errorf("%s: httpStatusCode = %d, want %d", call.label, rec.Properties.HTTPStatusCode, w.status)
	}
	if want := http.StatusText(w.status); rec.ResultSignature != want {
		t.Errorf("%s: resultSignature = %q, want %q", call.label, rec.ResultSignature, want)
	}
	if w.status >= 400 && rec.ResultDescription == "" {
		t.Errorf("%s: resultDescription is empty, want the error message", call.label)
	}
	if rec.CallerIPAddress != "127.0.0.1" {
		t.Errorf("%s: callerIpAddress = %q, want 127.0.0.1", call.label, rec.CallerIPAddress)
	}
	if rec.Properties.ClientInfo != call.userAgent {
		t.Errorf("%s: clientInfo = %q, want the User-Agent %q", call.label, rec.Properties.ClientInfo, call.userAgent)
	}
	if rec.Properties.RequestURI != call.uri {
		t.Errorf("%s: requestUri = %q, want %q", call.label, rec.Properties.RequestURI, call.uri)
	}
	if rec.ResourceID != w.resource {
		t.Errorf("%s: resourceId = %q, want %q", call.label, rec.ResourceID, w.resource)
	}
	if rec.Time == "" || rec.DurationMs == "" {
		t.Errorf("%s: time %q, durationMs %q, want both set", call.label, rec.Time, rec.DurationMs)
	}
	if _, err := strconv.Atoi(rec.DurationMs); err != nil {
		t.Errorf("%s: durationMs = %q, want whole milliseconds", call.label, rec.DurationMs)
	}

	switch {
	case w.caller == nil && rec.Identity != nil:
		t.Errorf("%s: identity = %v, want none", call.label, rec.Identity.Claim)
	case w.caller != nil && rec.Identity == nil:
		t.Errorf("%s: no identity, want oid %s", call.label, w.caller.oid)
	case w.caller != nil:
		claims := rec.Identity.Claim
		if claims["oid"] != w.caller.oid || claims["appid"] != w.caller.appid || claims["tid"] != tenantID {
			t.Errorf("%s: identity claims = %v, want oid %s, appid %s, tid %s", call.label, claims, w.caller.oid, w.caller.appid, tenantID)
		}
	}

	if w.authorized != nil {
		got := rec.Properties.IsAccessPolicyMatch
		if got == nil {
			got = rec.Properties.IsRbacAuthorized
		}
		if got == nil || *got != *w.authorized {
			t.Errorf("%s: isAccessPolicyMatch = %v, isRbacAuthorized = %v; want one of them %v",
				call.label, rec.Properties.IsAccessPolicyMatch, rec.Properties.IsRbacAuthorized, *w.authorized)
		}
	}
}

// audPlanted is a set of values that must appear in no log line and no
// audit record, in any common encoding.
type audPlanted struct {
	values map[string][]byte // description -> raw value
}

func (p *audPlanted) add(what string, value []byte) {
	if len(value) < 12 {
		panic("planted value " + what + " is too short to search for")
	}
	p.values[what] = value
}

// forms returns value as text and in standard and URL-safe base64, padded
// and not, and in hex.
func (p *audPlanted) forms(value []byte) map[string]string {
	return map[string]string{
		"raw":                string(value),
		"base64":             base64.StdEncoding.EncodeToString(value),
		"base64 unpadded":    base64.RawStdEncoding.EncodeToString(value),
		"base64url":          base64.URLEncoding.EncodeToString(value),
		"base64url unpadded": base64.RawURLEncoding.EncodeToString(value),
		"hex":                hex.EncodeToString(value),
	}
}

// find returns "what (form)" for every planted value found in text, with
// the text around it.
func (p *audPlanted) find(text string) map[string]string {
	found := map[string]string{}
	for what, value := range p.values {
		for form, s := range p.forms(value) {
			if i := strings.Index(text, s); i >= 0 {
				start, end := max(0, i-120), min(len(text), i+len(s)+40)
				found[what+" ("+form+")"] = text[start:end]
			}
		}
	}
	return found
}

// check reports every planted value found in text, which is named where.
func (p *audPlanted) check(t *testing.T, where, text string) {
	t.Helper()
	for what, context := range p.find(text) {
		t.Errorf("%s contains the %s: ...%s...", where, what, context)
	}
}

// mustFind fails unless find detects what in text: a check that the search
// works at all.
func (p *audPlanted) mustFind(t *testing.T, where, text, what string) {
	t.Helper()
	if _, ok := p.find(text)[what]; !ok {
		t.Errorf("the search does not find the %s in %s", what, where)
	}
}

// audRandom returns a random planted value that starts with prefix, as
// URL-safe text so that JSON carries it unescaped.
func audRandom(prefix string) []byte {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return []byte(prefix + base64.RawURLEncoding.EncodeToString(b))
}

// audJWK returns the JWK of an RSA key with its private members.
func audJWK(t *testing.T, key *rsa.PrivateKey) string {
	t.Helper()
	key.Precompute()
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	jwk := map[string]any{
		"kty": "RSA", "key_ops": []string{"sign", "verify", "encrypt", "decrypt", "wrapKey", "unwrapKey"},
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()), "d": b64(key.D.Bytes()),
		"p": b64(key.Primes[0].Bytes()), "q": b64(key.Primes[1].Bytes()),
		"dp": b64(key.Precomputed.Dp.Bytes()), "dq": b64(key.Precomputed.Dq.Bytes()), "qi": b64(key.Precomputed.Qinv.Bytes()),
	}
	raw, err := json.Marshal(map[string]any{"key": jwk})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// audStep is one request of the planted-secrets test.
type audStep struct {
	label               string
	method, path, token string
	body                string
	status              int // 0: any status
}

func TestAuditNoSecretsInLogs(t *testing.T) {
	s := audStart(t, "", func(c *server.Config) { c.TestClock, c.AccessLog = true, true })
	in := s.in
	c := newAudClient(in)
	planted := &audPlanted{values: map[string][]byte{}}
	vaultBase := in.VaultURL("default")
	mgmtBase := "https://localhost:" + in.Port
	tokenURL := mgmtBase + "/" + in.Creds.TenantID + "/oauth2/v2.0/token"
	q := "?api-version=" + audAPIVersion
	mq := "?api-version=" + audMgmtAPIVersion

	// Planted values: the administrator's client secret and every token,
	// a secret value, key material, plaintext and a PFX password.
	planted.add("administrator client secret", []byte(in.Creds.ClientSecret))
	secretValue := audRandom("secret-value-")
	planted.add("secret value", secretValue)
	plaintext := audRandom("plaintext-")
	planted.add("plaintext", plaintext)
	pfxPassword := audRandom("pfx-password-")
	planted.add("PFX password", pfxPassword)
	pfx, pfxScalar := audPFX(t, string(pfxPassword))
	planted.add("PFX private key", pfxScalar)
	planted.add("PFX file", pfx)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	planted.add("imported JWK d", rsaKey.D.Bytes())
	planted.add("imported JWK p", rsaKey.Primes[0].Bytes())
	wrongSecret := audRandom("wrong-client-secret-")
	planted.add("wrong client secret", wrongSecret)

	token := func(label, clientID, secret, resource string) string {
		t.Helper()
		r, _, _ := c.send(t, http.MethodPost, tokenURL, "", audTokenForm(clientID, secret, resource))
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %v", label, r)
		}
		tok := audToken(t, r)
		planted.add("access token ("+label+")", []byte(tok))
		planted.add("access token signature ("+label+")", []byte(tok[strings.LastIndex(tok, ".")+1:]))
		return tok
	}
	vaultToken := token("administrator, vault", in.Creds.ClientID, in.Creds.ClientSecret, in.Creds.Resource)
	mgmtToken := token("administrator, management", in.Creds.ClientID, in.Creds.ClientSecret, in.Creds.ManagementResource)

	run := func(steps []audStep) map[string]*kvtest.Response {
		t.Helper()
		out := map[string]*kvtest.Response{}
		for _, st := range steps {
			r, _, _ := c.send(t, st.method, st.path, st.token, st.body)
			if st.status != 0 && r.Status != st.status {
				t.Errorf("%s: %s %s: %v, want status %d", st.label, st.method, st.path, r, st.status)
			}
			out[st.label] = r
		}
		return out
	}
	jsonValue := func(v []byte) string { raw, _ := json.Marshal(string(v)); return string(raw) }
	b64url := func(v []byte) string { return base64.RawURLEncoding.EncodeToString(v) }

	// Secrets: every operation, and failures whose body holds the value.
	sec := vaultBase + "/secrets/planted"
	res := run([]audStep{
		{"set", http.MethodPut, sec + q, vaultToken, `{"value":` + jsonValue(secretValue) + `}`, 200},
		{"get", http.MethodGet, sec + q, vaultToken, "", 200},
		{"versions", http.MethodGet, sec + "/versions" + q, vaultToken, "", 200},
		{"list", http.MethodGet, vaultBase + "/secrets" + q, vaultToken, "", 200},
		{"backup", http.MethodPost, sec + "/backup" + q, vaultToken, "", 200},
		{"wrong type", http.MethodPut, vaultBase + "/secrets/other" + q, vaultToken,
			`{"value":` + jsonValue(secretValue) + `,"attributes":"` + string(secretValue) + `"}`, 400},
		{"bad name", http.MethodPut, vaultBase + "/secrets/bad_name" + q, vaultToken, `{"value":` + jsonValue(secretValue) + `}`, 400},
		{"bad json", http.MethodPut, vaultBase + "/secrets/other" + q, vaultToken, `{"value":"` + string(secretValue) + `}`, 400},
		{"no token", http.MethodPut, vaultBase + "/secrets/other" + q, "", `{"value":` + jsonValue(secretValue) + `}`, 401},
	})
	planted.mustFind(t, "the GetSecret response", string(res["get"].Body), "secret value (raw)")
	var backup struct {
		Value string `json:"value"`
	}
	res["backup"].JSON(t, &backup)
	planted.add("secret backup", []byte(backup.Value))
	var setBundle struct {
		ID string `json:"id"`
	}
	res["set"].JSON(t, &setBundle)
	run([]audStep{
		{"update", http.MethodPatch, setBundle.ID + q, vaultToken, `{"contentType":"text/plain"}`, 200},
		{"delete", http.MethodDelete, sec + q, vaultToken, "", 200},
		{"get deleted", http.MethodGet, vaultBase + "/deletedsecrets/planted" + q, vaultToken, "", 200},
		{"recover", http.MethodPost, vaultBase + "/deletedsecrets/planted/recover" + q, vaultToken, "", 200},
	})
	run([]audStep{
		{"delete again", http.MethodDelete, sec + q, vaultToken, "", 200},
		{"purge", http.MethodDelete, vaultBase + "/deletedsecrets/planted" + q, vaultToken, "", 204},
		{"restore", http.MethodPost, vaultBase + "/secrets/restore" + q, vaultToken, `{"value":"` + backup.Value + `"}`, 200},
		{"get restored", http.MethodGet, sec + q, vaultToken, "", 200},
	})

	// Keys: an imported RSA JWK and every operation on it.
	key := vaultBase + "/keys/planted-key"
	digest := sha256.Sum256(plaintext)
	res = run([]audStep{
		{"import", http.MethodPut, key + q, vaultToken, audJWK(t, rsaKey), 200},
		{"get", http.MethodGet, key + q, vaultToken, "", 200},
		{"sign", http.MethodPost, key + "/sign" + q, vaultToken, `{"alg":"RS256","value":"` + b64url(digest[:]) + `"}`, 200},
		{"encrypt", http.MethodPost, key + "/encrypt" + q, vaultToken, `{"alg":"RSA-OAEP-256","value":"` + b64url(plaintext) + `"}`, 200},
		{"wrap", http.MethodPost, key + "/wrapkey" + q, vaultToken, `{"alg":"RSA-OAEP-256","value":"` + b64url(plaintext) + `"}`, 200},
		{"bad alg", http.MethodPost, key + "/encrypt" + q, vaultToken, `{"alg":"A256GCM","value":"` + b64url(plaintext) + `"}`, 400},
		{"backup", http.MethodPost, key + "/backup" + q, vaultToken, "", 200},
		{"random bytes", http.MethodPost, vaultBase + "/rng" + q, vaultToken, `{"count":32}`, 200},
	})
	var signature, ciphertext, wrapped, keyBackup struct {
		Value string `json:"value"`
	}
	res["sign"].JSON(t, &signature)
	res["encrypt"].JSON(t, &ciphertext)
	res["wrap"].JSON(t, &wrapped)
	res["backup"].JSON(t, &keyBackup)
	planted.add("key backup", []byte(keyBackup.Value))
	res = run([]audStep{
		{"verify", http.MethodPost, key + "/verify" + q, vaultToken,
			`{"alg":"RS256","digest":"` + b64url(digest[:]) + `","value":"` + signature.Value + `"}`, 200},
		{"decrypt", http.MethodPost, key + "/decrypt" + q, vaultToken, `{"alg":"RSA-OAEP-256","value":"` + ciphertext.Value + `"}`, 200},
		{"unwrap", http.MethodPost, key + "/unwrapkey" + q, vaultToken, `{"alg":"RSA-OAEP-256","value":"` + wrapped.Value + `"}`, 200},
		{"rotation policy", http.MethodPut, key + "/rotationpolicy" + q, vaultToken,
			`{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P90D"}}`, 200},
		{"rotate", http.MethodPost, key + "/rotate" + q, vaultToken, "", 200},
		{"delete", http.MethodDelete, key + q, vaultToken, "", 200},
	})
	planted.mustFind(t, "the decrypt response", string(res["decrypt"].Body), "plaintext (base64url unpadded)")
	run([]audStep{
		{"purge", http.MethodDelete, vaultBase + "/deletedkeys/planted-key" + q, vaultToken, "", 204},
		{"restore", http.MethodPost, vaultBase + "/keys/restore" + q, vaultToken, `{"value":"` + keyBackup.Value + `"}`, 200},
	})

	// Certificates: a PFX import with its password, a wrong password, a
	// created certificate, and the secret that carries the private key.
	cert := vaultBase + "/certificates/planted-cert"
	run([]audStep{
		{"import wrong password", http.MethodPost, cert + "/import" + q, vaultToken,
			`{"value":"` + base64.StdEncoding.EncodeToString(pfx) + `","pwd":"` + string(wrongSecret) + `"}`, 400},
		{"import", http.MethodPost, cert + "/import" + q, vaultToken,
			`{"value":"` + base64.StdEncoding.EncodeToString(pfx) + `","pwd":"` + string(pfxPassword) + `"}`, 200},
		{"get", http.MethodGet, cert + q, vaultToken, "", 200},
		{"get secret", http.MethodGet, vaultBase + "/secrets/planted-cert" + q, vaultToken, "", 200},
		{"get policy", http.MethodGet, cert + "/policy" + q, vaultToken, "", 200},
		{"create", http.MethodPost, vaultBase + "/certificates/planted-new/create" + q, vaultToken, audCertPolicy, 202},
		{"pending", http.MethodGet, vaultBase + "/certificates/planted-new/pending" + q, vaultToken, "", 200},
		{"backup", http.MethodPost, cert + "/backup" + q, vaultToken, "", 200},
		{"delete", http.MethodDelete, cert + q, vaultToken, "", 200},
	})

	// Management: vaults, access policies, principals and their
	// credentials, role assignments and tokens of a new principal.
	newVault := audVaultID(in, "planted-rg", "planted-vault")
	res = run([]audStep{
		{"resource group", http.MethodPut, mgmtBase + "/subscriptions/" + in.Creds.SubscriptionID + "/resourceGroups/planted-rg" +
			"?api-version=2021-04-01", mgmtToken, `{"location":"local"}`, 0},
		{"vault", http.MethodPut, mgmtBase + newVault + mq, mgmtToken,
			`{"location":"local","properties":{"tenantId":"` + in.Creds.TenantID + `","sku":{"family":"A","name":"standard"}}}`, 0},
		{"get vault", http.MethodGet, mgmtBase + newVault + mq, mgmtToken, "", 200},
		{"list vaults", http.MethodGet, mgmtBase + "/subscriptions/" + in.Creds.SubscriptionID + "/providers/Microsoft.KeyVault/vaults" + mq,
			mgmtToken, "", 200},
		{"principal", http.MethodPost, mgmtBase + "/keyvault/principals", mgmtToken, `{"displayName":"planted-principal"}`, 201},
	})
	if r := res["vault"]; r.Status != http.StatusOK && r.Status != http.StatusCreated {
		t.Fatalf("create vault: %v", r)
	}
	var principal struct {
		ClientID     string `json:"clientId"`
		ObjectID     string `json:"objectId"`
		ClientSecret string `json:"clientSecret"`
	}
	res["principal"].JSON(t, &principal)
	planted.add("new principal's client secret", []byte(principal.ClientSecret))
	planted.mustFind(t, "the principal creation response", string(res["principal"].Body), "new principal's client secret (raw)")
	principalPath := mgmtBase + "/keyvault/principals/" + principal.ObjectID
	res = run([]audStep{
		{"add secret", http.MethodPost, principalPath + "/credentials", mgmtToken, `{"type":"secret"}`, 201},
		{"list principal", http.MethodGet, principalPath, mgmtToken, "", 200},
		{"access policy", http.MethodPut, mgmtBase + newVault + "/accessPolicies/add" + mq, mgmtToken,
			`{"properties":{"accessPolicies":[{"tenantId":"` + in.Creds.TenantID + `","objectId":"` + principal.ObjectID +
				`","permissions":{"secrets":["get","set"]}}]}}`, 200},
		{"role assignment", http.MethodPut, mgmtBase + newVault + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString() +
			"?api-version=" + audRoleAPIVersion, mgmtToken,
			`{"properties":{"roleDefinitionId":"` + audRoleDefinition(in, "Key Vault Secrets User") + `",` +
				`"principalId":"` + principal.ObjectID + `","principalType":"ServicePrincipal"}}`, 201},
	})
	var added struct {
		Secret string `json:"secret"`
	}
	res["add secret"].JSON(t, &added)
	planted.add("added client secret", []byte(added.Secret))
	res = run([]audStep{{"reset", http.MethodPost, principalPath + "/credentials/reset", mgmtToken, "", 200}})
	var reset struct {
		Secret string `json:"secret"`
	}
	res["reset"].JSON(t, &reset)
	planted.add("reset client secret", []byte(reset.Secret))
	principalToken := token("new principal", principal.ClientID, reset.Secret, in.Creds.Resource)

	// Failures that carry a credential: a wrong client secret, a token
	// as a client assertion, a token with a broken signature, and a
	// token of another principal without permission.
	broken := vaultToken[:len(vaultToken)-4] + "AAAA"
	run([]audStep{
		{"wrong secret", http.MethodPost, tokenURL, "", audTokenForm(in.Creds.ClientID, string(wrongSecret), in.Creds.Resource), 401},
		{"token as assertion", http.MethodPost, tokenURL, "", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {principal.ClientID}, "scope": {in.Creds.Resource + "/.default"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {principalToken},
		}.Encode(), 401},
		{"broken signature", http.MethodGet, vaultBase + "/secrets/planted" + q, broken, "", 401},
		{"management broken signature", http.MethodGet, mgmtBase + newVault + mq, broken, "", 401},
		{"token of the wrong audience", http.MethodGet, vaultBase + "/secrets/planted" + q, mgmtToken, "", 401},
		{"no permission", http.MethodGet, vaultBase + "/secrets/planted" + q, principalToken, "", 403},
	})

	// Time-driven jobs: the rotation policy and the purge of the deleted
	// certificate run with the test clock.
	run([]audStep{{"clock", http.MethodPost, vaultBase + "/_test/clock", vaultToken, `{"advanceSeconds": 8640000}`, 200}})

	// The GetSecret requests were recorded, without the value.
	gets := 0
	for _, e := range audEvents(t, s.auditDir) {
		if e.OperationName == "SecretGet" && e.Properties.HTTPStatusCode == http.StatusOK && strings.Contains(e.Properties.ID, "/secrets/planted") {
			gets++
		}
	}
	if gets < 2 {
		t.Errorf("%d successful SecretGet records of the planted secret, want at least 2", gets)
	}

	s.stop()
	logs := s.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Fatalf("the captured log has no request lines:\n%s", logs)
	}
	planted.check(t, "the server log", logs)
	planted.check(t, "the audit log", string(audReadFiles(t, s.auditDir)))
	audVerify(t, s.auditDir, s.dataDir)
}

// Environment of the child server of the fail-closed and fail-open tests.
const (
	audChildDataDir  = "KEYVAULT_AUDIT_CHILD_DATA_DIR"
	audChildAuditDir = "KEYVAULT_AUDIT_CHILD_AUDIT_DIR"
	audChildFailOpen = "KEYVAULT_AUDIT_CHILD_FAIL_OPEN"
	audChildAddr     = "KEYVAULT_AUDIT_CHILD_ADDR "
)

// TestAuditChildServer is not a test: run by audStartChild as a child
// process in its own mount namespace, it serves until its standard input
// closes. It prints the address it listens on to standard output and logs
// to standard error as JSON.
func TestAuditChildServer(t *testing.T) {
	dataDir := os.Getenv(audChildDataDir)
	if dataDir == "" {
		t.Skip("runs only as the child process of the fail-closed and fail-open tests")
	}
	cfg := server.DefaultConfig()
	cfg.DataDir = dataDir
	cfg.AuditDir = os.Getenv(audChildAuditDir)
	cfg.AuditFailOpen = os.Getenv(audChildFailOpen) == "1"
	cfg.Addr = "127.0.0.1:0"
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	slog.SetDefault(logger)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := server.Open(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	fmt.Println(audChildAddr + srv.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := srv.Serve(ctx); err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// audChild is a server in a child process whose audit directory is a
// 512 KiB tmpfs mounted in the child's own mount namespace.
type audChild struct {
	in       *kvtest.Instance
	dataDir  string
	auditDir string // the path in the child's mount namespace
	// mounted is the tmpfs as this process reaches it, through the
	// child's root in /proc.
	mounted string
	logPath string
	stop    func()
}

// audNeedRoot skips the test where a tmpfs cannot be mounted, except in CI,
// where the test must run.
func audNeedRoot(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("in CI this test must run, but %s", reason)
	}
	t.Skipf("skipped: %s", reason)
}

// audStartChild starts this test binary's TestAuditChildServer under
// unshare, with the tmpfs mounted over its audit directory, and waits until
// it listens. The data directory and store stay on the normal file system.
func audStartChild(t *testing.T, dataDir string, failOpen bool) *audChild {
	t.Helper()
	if os.Geteuid() != 0 {
		audNeedRoot(t, "mounting a tmpfs for the audit directory needs root")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		audNeedRoot(t, "the unshare command is not installed")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	auditDir := filepath.Join(t.TempDir(), "audit")
	if err := os.MkdirAll(auditDir, 0o700); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "child.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	const script = `mount -t tmpfs -o size=512k,mode=0700 tmpfs "$0" && exec "$@"`
	cmd := exec.Command(unshare, "-m", "--propagation", "private", "sh", "-c", script, auditDir,
		exe, "-test.run=^TestAuditChildServer$", "-test.count=1", "-test.timeout=10m")
	open := "0"
	if failOpen {
		open = "1"
	}
	cmd.Env = append(os.Environ(), audChildDataDir+"="+dataDir, audChildAuditDir+"="+auditDir, audChildFailOpen+"="+open)
	cmd.Stderr = logFile
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child server: %v", err)
	}
	exited := make(chan error, 1)
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), audChildAddr); ok {
				addrs <- addr
			}
		}
		exited <- cmd.Wait()
	}()

	var once sync.Once
	stop := func() {
		once.Do(func() {
			stdin.Close()
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("child server exited with %v; log:\n%s", err, audTail(logPath))
				}
			case <-time.After(time.Minute):
				_ = cmd.Process.Kill()
				<-exited
				t.Errorf("child server did not stop within a minute; log:\n%s", audTail(logPath))
			}
		})
	}
	t.Cleanup(stop)

	var addr string
	select {
	case addr = <-addrs:
	case err := <-exited:
		log := audTail(logPath)
		if strings.Contains(log, "unshare failed") || strings.Contains(log, "mount:") {
			audNeedRoot(t, "the child could not mount a tmpfs in its own mount namespace: "+log)
		}
		t.Fatalf("child server exited before listening (%v); log:\n%s", err, log)
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("child server did not start within a minute; log:\n%s", audTail(logPath))
	}
	return &audChild{
		in:       kvtest.Load(t, dataDir, addr),
		dataDir:  dataDir,
		auditDir: auditDir,
		mounted:  fmt.Sprintf("/proc/%d/root%s", cmd.Process.Pid, auditDir),
		logPath:  logPath,
		stop:     stop,
	}
}

// audTail returns the last lines of the file at path.
func audTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// exhaust fills the child's tmpfs and then sends reads of probeURI until
// the audit log fails to record one (at most 20), and returns the filler's
// path. A full tmpfs still takes appends that fit in the audit file's last
// page, so filling alone does not make the next append fail. Records of
// requests larger than the probe's fail from then on, because a failed
// append leaves the file as it was.
func (ch *audChild) exhaust(t *testing.T, probeURI, token string) string {
	t.Helper()
	path := filepath.Join(ch.mounted, "filler")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatalf("create filler on the audit tmpfs: %v", err)
	}
	defer f.Close()
	_, err = f.Write(make([]byte, 1<<20)) // twice the tmpfs size
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the audit tmpfs: %v, want ENOSPC", err)
	}

	metricsURL := "https://localhost:" + ch.in.Port + "/metrics"
	for range 20 {
		ch.in.Do(t, http.MethodGet, probeURI, token, "")
		metrics := ch.in.Do(t, http.MethodGet, metricsURL, "", "")
		if audMetric(t, string(metrics.Body), "keyvault_audit_sink_failures_total") > 0 {
			return path
		}
	}
	t.Fatalf("20 requests after the audit tmpfs filled up were all recorded")
	return ""
}

// copyAudit copies the child's audit files to a new directory.
func (ch *audChild) copyAudit(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	files, err := audit.Files(ch.mounted)
	if err != nil {
		t.Fatalf("list the child's audit files: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// audMetric returns the value of a metric series, such as
// keyvault_audit_sink_failures_total, from a /metrics response.
func audMetric(t *testing.T, text, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s has value %q: %v", series, v, err)
			}
			return f
		}
	}
	t.Fatalf("no metric series %s in:\n%s", series, text)
	return 0
}

func TestAuditFailClosed(t *testing.T) {
	dataDir := t.TempDir()
	ch := audStartChild(t, dataDir, false)
	in := ch.in
	token := in.Token(t)
	vaultBase := in.VaultURL("default")
	q := "?api-version=" + audAPIVersion

	if r := in.Do(t, http.MethodPut, vaultBase+"/secrets/before"+q, token, `{"value":"kept"}`); r.Status != http.StatusOK {
		t.Fatalf("set secret before the disk fills: %v", r)
	}
	filler := ch.exhaust(t, vaultBase+"/secrets/before"+q, token)
	metricsURL := "https://localhost:" + in.Port + "/metrics"
	failures := audMetric(t, string(in.Do(t, http.MethodGet, metricsURL, "", "").Body), "keyvault_audit_sink_failures_total")

	// Neither a write nor a read is served without its record. The write's
	// URI is longer than the probe's, so its record does not fit either.
	r := in.Do(t, http.MethodPut, vaultBase+"/secrets/during-the-audit-outage"+q, token, `{"value":"lost"}`)
	checkAzureError(t, r, http.StatusServiceUnavailable, "ServiceUnavailable", "")
	r = in.Do(t, http.MethodGet, vaultBase+"/secrets/before"+q, token, "")
	checkAzureError(t, r, http.StatusServiceUnavailable, "ServiceUnavailable", "")
	if bytes.Contains(r.Body, []byte("kept")) {
		t.Errorf("the refused GetSecret response contains the value: %s", r.Body)
	}
	metrics := in.Do(t, http.MethodGet, metricsURL, "", "")
	if got := audMetric(t, string(metrics.Body), "keyvault_audit_sink_failures_total"); got < failures+2 {
		t.Errorf("keyvault_audit_sink_failures_total = %v, want at least %v (two more refused requests)", got, failures+2)
	}

	// With space again, requests are served and the chain goes on intact:
	// the failed appends left no partial line.
	if err := os.Remove(filler); err != nil {
		t.Fatalf("remove filler: %v", err)
	}
	if r := in.Do(t, http.MethodGet, vaultBase+"/secrets/before"+q, token, ""); r.Status != http.StatusOK {
		t.Errorf("GetSecret after space was freed: %v, want status 200", r)
	}
	copied := ch.copyAudit(t)
	audVerify(t, copied, dataDir)
	for _, e := range audEvents(t, copied) {
		if strings.Contains(e.Properties.RequestURI, "/secrets/during-the-audit-outage") {
			t.Errorf("the refused SetSecret has an audit record: %+v", e)
		}
	}
	ch.stop()
	if log := audTail(ch.logPath); !strings.Contains(log, "audit record could not be written") {
		t.Errorf("the server log does not report the audit failure:\n%s", log)
	}

	// The refused write was not applied: after a restart (the tmpfs is gone
	// with the child) the store has the secret set before, not the other.
	s := audStart(t, dataDir, nil)
	admin := s.in.Token(t)
	if r := s.in.Do(t, http.MethodGet, vaultBase+"/secrets/during-the-audit-outage"+q, admin, ""); r.Status != http.StatusNotFound {
		t.Errorf("GetSecret of the refused write after restart: %v, want status 404", r)
	}
	if r := s.in.Do(t, http.MethodGet, vaultBase+"/secrets/before"+q, admin, ""); r.Status != http.StatusOK {
		t.Errorf("GetSecret of the earlier write after restart: %v, want status 200", r)
	}
}

func TestAuditFailOpen(t *testing.T) {
	dataDir := t.TempDir()
	ch := audStartChild(t, dataDir, true)
	in := ch.in
	token := in.Token(t)
	vaultBase := in.VaultURL("default")
	q := "?api-version=" + audAPIVersion
	ch.exhaust(t, vaultBase+"/secrets/probe"+q, token)

	if r := in.Do(t, http.MethodPut, vaultBase+"/secrets/during"+q, token, `{"value":"served"}`); r.Status != http.StatusOK {
		t.Errorf("SetSecret with a full audit disk and fail-open: %v, want status 200", r)
	}
	r := in.Do(t, http.MethodGet, vaultBase+"/secrets/during"+q, token, "")
	if r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(`"served"`)) {
		t.Errorf("GetSecret with a full audit disk and fail-open: %v, want status 200 and the value", r)
	}
	ch.stop()
	if log := audTail(ch.logPath); !strings.Contains(log, "audit record could not be written") {
		t.Errorf("the server log does not report the audit failure:\n%s", log)
	}

	s := audStart(t, dataDir, nil)
	if r := s.in.Do(t, http.MethodGet, vaultBase+"/secrets/during"+q, s.in.Token(t), ""); r.Status != http.StatusOK {
		t.Errorf("GetSecret after restart: %v, want status 200 (the write was served)", r)
	}
}

// A server whose audit file ends with a torn record, as a power loss during
// a write leaves it, starts. It moves the torn bytes to a quarantine file,
// logs a warning and records the repair in the audit log.
func TestAuditStartOnTornFile(t *testing.T) {
	s := audStart(t, "", nil)
	dataDir, auditDir := s.dataDir, s.auditDir
	s.in.Token(t) // the token request leaves a record before the torn one
	s.stop()
	const torn = `{"time":"2026-01-02T03:04:05.0000000Z","operationName":"Secret`
	f, err := os.OpenFile(filepath.Join(auditDir, audit.CurrentFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(torn); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	s = audStart(t, dataDir, nil)
	if r := s.in.Do(t, http.MethodGet, s.in.VaultURL("default")+"/secrets?api-version="+audAPIVersion, s.in.Token(t), ""); r.Status != http.StatusOK {
		t.Errorf("ListSecrets after the repair: %v, want status 200", r)
	}
	s.stop()

	var warning map[string]any
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["level"] == "WARN" &&
			strings.Contains(fmt.Sprint(entry["msg"]), "torn record") {
			warning = entry
		}
	}
	if warning == nil {
		t.Fatalf("the server log has no warning about the torn record:\n%s", s.logs.String())
	}
	quarantine, _ := warning["quarantineFile"].(string)
	if filepath.Dir(quarantine) != auditDir {
		t.Errorf("warning names quarantine file %q, want a file in %s", quarantine, auditDir)
	}
	if got, err := os.ReadFile(quarantine); err != nil || string(got) != torn {
		t.Errorf("quarantine file contains %q (%v), want the torn bytes %q", got, err, torn)
	}

	var repairs []audit.Record
	for _, e := range audEvents(t, auditDir) {
		if e.OperationName == audit.RepairOperation {
			repairs = append(repairs, e)
		}
	}
	if len(repairs) != 1 {
		t.Fatalf("the audit log has %d %s records, want 1", len(repairs), audit.RepairOperation)
	}
	if want := filepath.Base(quarantine); !strings.Contains(repairs[0].Properties.Details, want) {
		t.Errorf("%s details %q do not name %s", audit.RepairOperation, repairs[0].Properties.Details, want)
	}
	audVerify(t, auditDir, dataDir)
}

func TestAuditThrottling(t *testing.T) {
	// 300 secret creations per 10 s times 0.01 leaves 3.
	s := audStart(t, "", func(c *server.Config) {
		c.Throttle = "azure"
		c.ThrottleScale = 0.01
	})
	in := s.in
	q := "?api-version=" + audAPIVersion

	// The SDK waits for Retry-After and retries, so all six succeed.
	opts := in.ClientOptions()
	opts.Retry = policy.RetryOptions{MaxRetries: 5}
	client, err := azsecrets.NewClient(in.VaultURL("default"), in.Credential(t), &azsecrets.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	for i := range 6 {
		name := fmt.Sprintf("sdk-%d", i)
		if _, err := client.SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil); err != nil {
			t.Fatalf("SetSecret(%s) with retries: %v", name, err)
		}
	}

	// The window the SDK's last sets opened is full, so a raw request gets
	// 429 at once. Reads are another class and still pass.
	token := in.Token(t)
	r := in.Do(t, http.MethodPut, in.VaultURL("default")+"/secrets/raw"+q, token, `{"value":"v"}`)
	checkAzureError(t, r, http.StatusTooManyRequests, "Throttled", "")
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 10 {
		t.Errorf("Retry-After = %q, want whole seconds from 1 to 10", r.Header.Get("Retry-After"))
	}
	if r := in.Do(t, http.MethodGet, in.VaultURL("default")+"/secrets/sdk-0"+q, token, ""); r.Status != http.StatusOK {
		t.Errorf("GetSecret while secret creation is throttled: %v, want status 200", r)
	}

	// Each 429 is audited, and counted.
	throttled := 0
	for _, e := range audEvents(t, s.auditDir) {
		if e.OperationName == "SecretSet" && e.Properties.HTTPStatusCode == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled < 2 {
		t.Errorf("%d SecretSet records with status 429, want at least 2 (the SDK's and the raw request's)", throttled)
	}
	metrics := string(in.Do(t, http.MethodGet, "https://localhost:"+in.Port+"/metrics", "", "").Body)
	if got := audMetric(t, metrics, "keyvault_throttled_requests_total"); got != float64(throttled) {
		t.Errorf("keyvault_throttled_requests_total = %v, want %d", got, throttled)
	}
	if got := audMetric(t, metrics, `keyvault_requests_total{code="429",operation="SecretSet"}`); got != float64(throttled) {
		t.Errorf(`keyvault_requests_total{code="429",operation="SecretSet"} = %v, want %d`, got, throttled)
	}
}

func TestAuditMetrics(t *testing.T) {
	s := audStart(t, "", nil)
	in := s.in
	c := newAudClient(in)
	token := in.Token(t)
	vaultBase := in.VaultURL("default")
	q := "?api-version=" + audAPIVersion
	secretName := "metrics-object-name-7f3a"
	secretValue := string(audRandom("metrics-secret-value-"))

	steps := []audStep{
		{"set", http.MethodPut, vaultBase + "/secrets/" + secretName + q, token, `{"value":"` + secretValue + `"}`, 200},
		{"get", http.MethodGet, vaultBase + "/secrets/" + secretName + q, token, "", 200},
		{"get missing", http.MethodGet, vaultBase + "/secrets/" + secretName + "-missing" + q, token, "", 404},
		{"create key", http.MethodPost, vaultBase + "/keys/" + secretName + "/create" + q, token, `{"kty":"EC","crv":"P-256"}`, 200},
	}
	for _, st := range steps {
		if r, _, _ := c.send(t, st.method, st.path, st.token, st.body); r.Status != st.status {
			t.Fatalf("%s: %v, want status %d", st.label, r, st.status)
		}
	}
	digest := sha256.Sum256([]byte("metrics"))
	if r, _, _ := c.send(t, http.MethodPost, vaultBase+"/keys/"+secretName+"/sign"+q, token,
		`{"alg":"ES256","value":"`+base64.RawURLEncoding.EncodeToString(digest[:])+`"}`); r.Status != http.StatusOK {
		t.Fatalf("sign: %v", r)
	}

	r := in.Do(t, http.MethodGet, "https://localhost:"+in.Port+"/metrics", "", "")
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %v", r)
	}
	text := string(r.Body)
	series := []struct {
		name string
		want float64
	}{
		{`keyvault_requests_total{code="200",operation="SecretSet"}`, 1},
		{`keyvault_requests_total{code="200",operation="SecretGet"}`, 1},
		{`keyvault_requests_total{code="404",operation="SecretGet"}`, 1},
		{`keyvault_requests_total{code="200",operation="KeySign"}`, 1},
		{`keyvault_crypto_operations_total{algorithm="ES256",operation="sign"}`, 1},
		{`keyvault_request_duration_seconds_count{operation="SecretGet"}`, 2},
		{`keyvault_audit_sink_failures_total`, 0},
		{`keyvault_throttled_requests_total`, 0},
	}
	for _, m := range series {
		if got := audMetric(t, text, m.name); got != m.want {
			t.Errorf("%s = %v, want %v", m.name, got, m.want)
		}
	}
	for _, kind := range []string{"view", "update"} {
		if got := audMetric(t, text, `keyvault_storage_duration_seconds_count{kind="`+kind+`"}`); got < 1 {
			t.Errorf("keyvault_storage_duration_seconds_count{kind=%q} = %v, want at least 1", kind, got)
		}
	}
	if got := audMetric(t, text, `keyvault_requests_total{code="200",operation="Authentication"}`); got < 1 {
		t.Errorf(`keyvault_requests_total for Authentication = %v, want at least 1`, got)
	}

	// Labels carry operation names, never object names, values or tokens.
	for what, s := range map[string]string{"object name": secretName, "secret value": secretValue, "access token": token,
		"client secret": in.Creds.ClientSecret, "vault host": "default.vault.localhost"} {
		if strings.Contains(text, s) {
			t.Errorf("/metrics contains the %s %q", what, s)
		}
	}
}

func TestAuditBackgroundJobs(t *testing.T) {
	s := audStart(t, "", func(c *server.Config) { c.TestClock = true })
	in := s.in
	token := in.Token(t)
	vaultBase := in.VaultURL("default")
	q := "?api-version=" + audAPIVersion

	steps := []audStep{
		{"create key", http.MethodPost, vaultBase + "/keys/rotating/create" + q, token, `{"kty":"EC","crv":"P-256"}`, 200},
		{"rotation policy", http.MethodPut, vaultBase + "/keys/rotating/rotationpolicy" + q, token,
			`{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P90D"}}`, 200},
		{"set secret", http.MethodPut, vaultBase + "/secrets/expiring" + q, token, `{"value":"v"}`, 200},
		{"delete secret", http.MethodDelete, vaultBase + "/secrets/expiring" + q, token, "", 200},
	}
	for _, st := range steps {
		if r := in.Do(t, st.method, st.path, st.token, st.body); r.Status != st.status {
			t.Fatalf("%s: %v, want status %d", st.label, r, st.status)
		}
	}
	// The default vault keeps deleted objects 90 days.
	if r := in.Do(t, http.MethodPost, vaultBase+"/_test/clock", token, `{"advanceSeconds": 7862400}`); r.Status != http.StatusOK {
		t.Fatalf("advance the clock 91 days: %v", r)
	}
	if r := in.Do(t, http.MethodGet, vaultBase+"/deletedsecrets/expiring"+q, token, ""); r.Status != http.StatusNotFound {
		t.Fatalf("deleted secret after its retention: %v, want status 404 (purged)", r)
	}

	found := map[string]audit.Record{}
	for _, e := range audEvents(t, s.auditDir) {
		if e.Identity != nil && e.Identity.Claim["idtyp"] == "server" {
			found[e.OperationName] = e
		}
	}
	tests := []struct {
		op     string
		object string
	}{
		{op: "KeyRotateIfDue", object: "keys/rotating/"},
		{op: "SecretPurge", object: "secrets/expiring"},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			rec, ok := found[tt.op]
			if !ok {
				t.Fatalf("no %s record with idtyp server; server records: %v", tt.op, found)
			}
			if rec.Properties.Vault != "default" {
				t.Errorf("vault = %q, want default", rec.Properties.Vault)
			}
			if !strings.Contains(rec.Properties.ID, tt.object) {
				t.Errorf("id = %q, want it to name %s", rec.Properties.ID, tt.object)
			}
			if rec.ResultSignature != "OK" || rec.Properties.Details == "" {
				t.Errorf("resultSignature %q, details %q; want OK and a description", rec.ResultSignature, rec.Properties.Details)
			}
			if len(rec.Identity.Claim) != 1 {
				t.Errorf("identity claims = %v, want only idtyp", rec.Identity.Claim)
			}
		})
	}
	s.stop()
	audVerify(t, s.auditDir, s.dataDir)
}

// audSent is a request whose audit record is checked by correlation id.
type audSent struct {
	label         string
	correlationID string
	status        int
}

// audCheckOnePerRequest checks that each request left exactly one event
// record, with its status, and that there are no other event records.
func audCheckOnePerRequest(t *testing.T, sent []audSent, events []audit.Record) {
	t.Helper()
	if len(events) != len(sent) {
		t.Errorf("the audit log has %d event records, want %d (one per request)", len(events), len(sent))
	}
	byCorrelation := map[string][]audit.Record{}
	for _, e := range events {
		byCorrelation[e.CorrelationID] = append(byCorrelation[e.CorrelationID], e)
	}
	for _, s := range sent {
		recs := byCorrelation[s.correlationID]
		if len(recs) != 1 {
			var ops []string
			for _, r := range recs {
				ops = append(ops, fmt.Sprintf("%s %d %q", r.OperationName, r.Properties.HTTPStatusCode, r.ResultDescription))
			}
			t.Errorf("%s: %d audit records, want 1: %v", s.label, len(recs), ops)
			continue
		}
		if got := recs[0].Properties.HTTPStatusCode; got != s.status {
			t.Errorf("%s: record has httpStatusCode %d, want the response's %d", s.label, got, s.status)
		}
	}
}

// Writes of every API, including those whose success status depends on
// the state (201 or 200), leave one record per request.
func TestAuditOneRecordPerWrite(t *testing.T) {
	s := audStart(t, "", func(c *server.Config) { c.TestClock = true })
	in := s.in
	c := newAudClient(in)
	vaultBase := in.VaultURL("default")
	mgmtBase := "https://localhost:" + in.Port
	tokenURL := mgmtBase + "/" + in.Creds.TenantID + "/oauth2/v2.0/token"
	q := "?api-version=" + audAPIVersion
	mq := "?api-version=" + audMgmtAPIVersion

	var sent []audSent
	do := func(label, method, uri, token, body string, status int) *kvtest.Response {
		t.Helper()
		r, correlationID, _ := c.send(t, method, uri, token, body)
		if r.Status != status {
			t.Errorf("%s: %s %s: %v, want status %d", label, method, uri, r, status)
		}
		sent = append(sent, audSent{label: label, correlationID: correlationID, status: r.Status})
		return r
	}
	field := func(r *kvtest.Response, name string) string {
		t.Helper()
		var m map[string]any
		r.JSON(t, &m)
		v, _ := m[name].(string)
		if v == "" {
			t.Fatalf("response has no %q: %v", name, r)
		}
		return v
	}
	vaultToken := audToken(t, do("vault token", http.MethodPost, tokenURL, "",
		audTokenForm(in.Creds.ClientID, in.Creds.ClientSecret, in.Creds.Resource), 200))
	mgmtToken := audToken(t, do("management token", http.MethodPost, tokenURL, "",
		audTokenForm(in.Creds.ClientID, in.Creds.ClientSecret, in.Creds.ManagementResource), 200))

	// Secrets.
	sec := vaultBase + "/secrets/w-secret"
	id := field(do("set secret", http.MethodPut, sec+q, vaultToken, `{"value":"a"}`, 200), "id")
	do("update secret", http.MethodPatch, id+q, vaultToken, `{"contentType":"text/plain"}`, 200)
	backup := field(do("backup secret", http.MethodPost, sec+"/backup"+q, vaultToken, "", 200), "value")
	do("delete secret", http.MethodDelete, sec+q, vaultToken, "", 200)
	do("recover secret", http.MethodPost, vaultBase+"/deletedsecrets/w-secret/recover"+q, vaultToken, "", 200)
	do("delete secret again", http.MethodDelete, sec+q, vaultToken, "", 200)
	do("purge secret", http.MethodDelete, vaultBase+"/deletedsecrets/w-secret"+q, vaultToken, "", 204)
	do("restore secret", http.MethodPost, vaultBase+"/secrets/restore"+q, vaultToken, `{"value":"`+backup+`"}`, 200)

	// Keys.
	key := vaultBase + "/keys/w-key"
	do("create key", http.MethodPost, key+"/create"+q, vaultToken, `{"kty":"EC","crv":"P-256"}`, 200)
	do("rotate key", http.MethodPost, key+"/rotate"+q, vaultToken, "", 200)
	do("set rotation policy", http.MethodPut, key+"/rotationpolicy"+q, vaultToken,
		`{"lifetimeActions":[{"trigger":{"timeAfterCreate":"P30D"},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P90D"}}`, 200)
	keyBackup := field(do("backup key", http.MethodPost, key+"/backup"+q, vaultToken, "", 200), "value")
	do("delete key", http.MethodDelete, key+q, vaultToken, "", 200)
	do("recover key", http.MethodPost, vaultBase+"/deletedkeys/w-key/recover"+q, vaultToken, "", 200)
	do("delete key again", http.MethodDelete, key+q, vaultToken, "", 200)
	do("purge key", http.MethodDelete, vaultBase+"/deletedkeys/w-key"+q, vaultToken, "", 204)
	do("restore key", http.MethodPost, vaultBase+"/keys/restore"+q, vaultToken, `{"value":"`+keyBackup+`"}`, 200)
	do("random bytes", http.MethodPost, vaultBase+"/rng"+q, vaultToken, `{"count":16}`, 200)

	// Certificates.
	cert := vaultBase + "/certificates/w-cert"
	do("create certificate", http.MethodPost, cert+"/create"+q, vaultToken, audCertPolicy, 202)
	do("get operation", http.MethodGet, cert+"/pending"+q, vaultToken, "", 200)
	do("set contacts", http.MethodPut, vaultBase+"/certificates/contacts"+q, vaultToken,
		`{"contacts":[{"email":"ops@example.com"}]}`, 200)
	do("delete contacts", http.MethodDelete, vaultBase+"/certificates/contacts"+q, vaultToken, "", 200)
	do("delete certificate", http.MethodDelete, cert+q, vaultToken, "", 200)
	do("recover certificate", http.MethodPost, vaultBase+"/deletedcertificates/w-cert/recover"+q, vaultToken, "", 200)
	do("delete certificate again", http.MethodDelete, cert+q, vaultToken, "", 200)
	do("purge certificate", http.MethodDelete, vaultBase+"/deletedcertificates/w-cert"+q, vaultToken, "", 204)

	// Management: writes that return 201 the first time and 200 after.
	group := mgmtBase + "/subscriptions/" + in.Creds.SubscriptionID + "/resourceGroups/w-rg?api-version=2021-04-01"
	do("create resource group", http.MethodPut, group, mgmtToken, `{"location":"local"}`, 201)
	do("update resource group", http.MethodPut, group, mgmtToken, `{"location":"local","tags":{"a":"b"}}`, 200)
	vaultID := audVaultID(in, "w-rg", "w-vault")
	vaultBody := `{"location":"local","properties":{"tenantId":"` + in.Creds.TenantID + `","sku":{"family":"A","name":"standard"}}}`
	do("create vault", http.MethodPut, mgmtBase+vaultID+mq, mgmtToken, vaultBody, 201)
	do("update vault", http.MethodPut, mgmtBase+vaultID+mq, mgmtToken, vaultBody, 200)
	do("patch vault", http.MethodPatch, mgmtBase+vaultID+mq, mgmtToken, `{"tags":{"env":"test"}}`, 200)
	principal := do("create principal", http.MethodPost, mgmtBase+"/keyvault/principals", mgmtToken, `{"displayName":"w-principal"}`, 201)
	objectID := field(principal, "objectId")
	do("add access policy", http.MethodPut, mgmtBase+vaultID+"/accessPolicies/add"+mq, mgmtToken,
		`{"properties":{"accessPolicies":[{"tenantId":"`+in.Creds.TenantID+`","objectId":"`+objectID+`","permissions":{"secrets":["get"]}}]}}`, 200)
	assignment := mgmtBase + vaultID + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString() + "?api-version=" + audRoleAPIVersion
	assignmentBody := `{"properties":{"roleDefinitionId":"` + audRoleDefinition(in, "Key Vault Secrets User") + `","principalId":"` +
		objectID + `","principalType":"ServicePrincipal"}}`
	do("create role assignment", http.MethodPut, assignment, mgmtToken, assignmentBody, 201)
	do("repeat role assignment", http.MethodPut, assignment, mgmtToken, assignmentBody, 200)
	do("delete role assignment", http.MethodDelete, assignment, mgmtToken, "", 200)
	credential := field(do("add credential", http.MethodPost, mgmtBase+"/keyvault/principals/"+objectID+"/credentials", mgmtToken,
		`{"type":"secret"}`, 201), "id")
	do("delete credential", http.MethodDelete, mgmtBase+"/keyvault/principals/"+objectID+"/credentials/"+credential, mgmtToken, "", 204)
	do("reset credentials", http.MethodPost, mgmtBase+"/keyvault/principals/"+objectID+"/credentials/reset", mgmtToken, "", 200)
	do("delete principal", http.MethodDelete, mgmtBase+"/keyvault/principals/"+objectID, mgmtToken, "", 200)
	do("delete vault", http.MethodDelete, mgmtBase+vaultID+mq, mgmtToken, "", 200)
	do("purge vault", http.MethodPost, mgmtBase+"/subscriptions/"+in.Creds.SubscriptionID+
		"/providers/Microsoft.KeyVault/locations/local/deletedVaults/w-vault/purge"+mq, mgmtToken, "", 200)

	// The test clock runs the due jobs inside its own request.
	do("advance clock", http.MethodPost, vaultBase+"/_test/clock", vaultToken, `{"advanceSeconds": 3456000}`, 200)

	var events []audit.Record
	for _, e := range audEvents(t, s.auditDir) {
		if e.Identity == nil || e.Identity.Claim["idtyp"] != "server" { // records of time-driven jobs
			events = append(events, e)
		}
	}
	audCheckOnePerRequest(t, sent, events)
	s.stop()
	audVerify(t, s.auditDir, s.dataDir)
}

// Concurrent writes share store transactions (group commit), and each
// request still leaves one record in an intact chain.
func TestAuditConcurrentRequests(t *testing.T) {
	s := audStart(t, "", nil)
	in := s.in
	token := in.Token(t) // one token request, recorded too
	vaultBase := in.VaultURL("default")
	q := "?api-version=" + audAPIVersion

	const workers, perWorker = 8, 6
	var mu sync.Mutex
	var sent []audSent
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newAudClient(in)
			for i := range perWorker {
				name := fmt.Sprintf("%s/secrets/c-%d-%d%s", vaultBase, w, i/2, q) // set, then get
				method, body, want := http.MethodPut, `{"value":"v"}`, http.StatusOK
				if i%2 == 1 {
					method, body = http.MethodGet, ""
				}
				r, correlationID, _ := c.send(t, method, name, token, body)
				if r.Status != want {
					t.Errorf("%s %s: %v, want status %d", method, name, r, want)
				}
				mu.Lock()
				sent = append(sent, audSent{label: method + " " + name, correlationID: correlationID, status: r.Status})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	events := audEvents(t, s.auditDir)
	if len(events) != len(sent)+1 {
		t.Errorf("the audit log has %d event records, want %d (the token request and %d concurrent requests)",
			len(events), len(sent)+1, len(sent))
	}
	var requests []audit.Record
	for _, e := range events {
		if e.OperationName != "Authentication" {
			requests = append(requests, e)
		}
	}
	audCheckOnePerRequest(t, sent, requests)
	s.stop()
	audVerify(t, s.auditDir, s.dataDir)
}

// TestAuditInvalidUTF8 sends requests whose headers, query, path and host
// carry bytes that are not UTF-8, with and without a token and to both
// APIs. Each must get an ordinary response and one audit record, and the
// log must still verify.
func TestAuditInvalidUTF8(t *testing.T) {
	s := audStart(t, "", nil)
	in := s.in
	token := in.Token(t)
	vaultBase := in.VaultURL("default")
	mgmtBase := "https://localhost:" + in.Port
	r := newAudClient(in).call(t, "management token", audExpect{op: "Authentication", status: 200}, http.MethodPost,
		mgmtBase+"/"+in.Creds.TenantID+"/oauth2/v2.0/token", "",
		audTokenForm(in.Creds.ClientID, in.Creds.ClientSecret, in.Creds.ManagementResource))
	mgmtToken := audToken(t, r)
	q := "?api-version=" + audAPIVersion
	client := in.HTTPClient()
	tests := []struct {
		label, uri, token string
		header            map[string]string
		status            int
	}{
		{label: "user agent", uri: vaultBase + "/secrets/x" + q, header: map[string]string{"User-Agent": "bad\xff\xfeagent"}, status: 401},
		{label: "client request id", uri: vaultBase + "/secrets/x" + q, token: token,
			header: map[string]string{"x-ms-client-request-id": "id-\xc3\x28"}, status: 404},
		{label: "raw query bytes", uri: vaultBase + "/secrets/x" + q + "&a=%FF", token: token, status: 404},
		{label: "object name", uri: vaultBase + "/secrets/x%FFy" + q, token: token, status: 404},
		{label: "management path", uri: mgmtBase + "/subscriptions/%FF%FF%FF%FF/resourceGroups/y/providers/Microsoft.KeyVault/vaults/v" +
			"?api-version=2023-07-01", status: 401},
		{label: "management path with a token", uri: mgmtBase + "/subscriptions/%FF%FF%FF%FF/resourceGroups/y/providers/Microsoft.KeyVault/vaults/v" +
			"?api-version=2023-07-01", token: mgmtToken, status: 404},
	}
	for _, tt := range tests {
		req, err := http.NewRequest(http.MethodGet, tt.uri, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.label, err)
		}
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		for k, v := range tt.header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.label, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d", tt.label, resp.StatusCode, tt.status)
		}
	}
	// Go's client rewrites a host that is not ASCII, so the host goes over
	// a TLS connection of its own. KELVIN SIGN lowers to k, so the second
	// host would name the vault "kelvin" if lowered before the check.
	for _, host := range []string{"a\xffb.vault.localhost", "\u212aelvin.vault.localhost"} {
		conn, err := tls.Dial("tcp", in.Addr, &tls.Config{RootCAs: in.CAPool, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET /secrets/x%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", q, host, token)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("host %q: %v", host, err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("host %q: status %d, want 404 (not a vault) or 400", host, resp.StatusCode)
		}
	}

	s.stop()
	rep := audVerify(t, s.auditDir, s.dataDir)
	if rep.Records < uint64(len(tests)) {
		t.Errorf("the audit log has %d records, want at least one per request (%d)", rep.Records, len(tests))
	}
	if strings.Contains(s.logs.String(), "panic") {
		t.Errorf("the server log reports a panic:\n%s", s.logs.String())
	}
}

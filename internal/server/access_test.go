package server_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/keyvault/keyvault/internal/authz"
	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/vault"
)

// accRoleAPIVersion is the Microsoft.Authorization api-version that the
// raw role-assignment requests send.
const accRoleAPIVersion = "2022-04-01"

// Every permission name of each access-policy family, without "all", as the
// management API spells them.
var (
	accSecretPermissions = []string{"get", "list", "set", "delete", "backup", "restore", "recover", "purge"}
	accKeyPermissions    = []string{"encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify", "get", "list",
		"create", "update", "import", "delete", "backup", "restore", "recover", "purge", "release", "rotate",
		"getrotationpolicy", "setrotationpolicy"}
	accCertificatePermissions = []string{"get", "list", "delete", "create", "import", "update", "managecontacts",
		"getissuers", "listissuers", "setissuers", "deleteissuers", "manageissuers", "recover", "purge", "backup", "restore"}
)

// accEnv is a running server with the administrator's armkeyvault client
// and management-API token.
type accEnv struct {
	in     *kvtest.Instance
	vaults *armkeyvault.VaultsClient
	admin  string
}

func startAccEnv(t *testing.T) *accEnv {
	t.Helper()
	in := kvtest.Start(t, kvtest.Options{})
	return &accEnv{
		in:     in,
		vaults: in.VaultsClient(t),
		admin:  accToken(t, in, in.Creds.ClientID, in.Creds.ClientSecret, in.Creds.ManagementResource),
	}
}

// accTokenURL returns the server's token endpoint.
func accTokenURL(in *kvtest.Instance) string {
	return "https://localhost:" + in.Port + "/" + in.Creds.TenantID + "/oauth2/v2.0/token"
}

// accPostForm posts a token request form and returns the response.
func accPostForm(t *testing.T, in *kvtest.Instance, form url.Values) *kvtest.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, accTokenURL(in), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("new token request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := in.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read token response: %v", err)
	}
	return &kvtest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// accSecretForm is a client-credentials request with a client secret.
func accSecretForm(clientID, secret, resource string) url.Values {
	return url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID},
		"client_secret": {secret}, "scope": {resource + "/.default"},
	}
}

// accTokenFrom returns the access token of a successful token response.
func accTokenFrom(t *testing.T, r *kvtest.Response) string {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("token request: %v, want status 200", r)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	r.JSON(t, &body)
	if body.AccessToken == "" {
		t.Fatalf("token response has no access_token: %s", r.Body)
	}
	return body.AccessToken
}

// accToken gets an access token for resource with a client secret.
func accToken(t *testing.T, in *kvtest.Instance, clientID, secret, resource string) string {
	t.Helper()
	return accTokenFrom(t, accPostForm(t, in, accSecretForm(clientID, secret, resource)))
}

// call sends a raw request to the management API. The path starts with "/".
func (e *accEnv) call(t *testing.T, method, path, token, body string) *kvtest.Response {
	t.Helper()
	return e.in.Do(t, method, strings.TrimSuffix(e.in.Creds.ManagementEndpoint, "/")+path, token, body)
}

// vaultID returns the ARM resource id of a vault of the default subscription.
func (e *accEnv) vaultID(rg, name string) string {
	return "/subscriptions/" + e.in.Creds.SubscriptionID + "/resourceGroups/" + rg + "/providers/Microsoft.KeyVault/vaults/" + name
}

// accPrincipal is a principal as /keyvault/principals returns it.
type accPrincipal struct {
	ClientID     string          `json:"clientId"`
	ObjectID     string          `json:"objectId"`
	TenantID     string          `json:"tenantId"`
	DisplayName  string          `json:"displayName"`
	Admin        bool            `json:"admin"`
	Credentials  []accCredential `json:"credentials"`
	ClientSecret string          `json:"clientSecret"`
}

// accCredential is a credential as /keyvault/principals returns it.
type accCredential struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Hint       string `json:"hint"`
	Thumbprint string `json:"thumbprint"`
	Subject    string `json:"subject"`
	NotAfter   string `json:"notAfter"`
	Secret     string `json:"secret"`
}

// createPrincipal creates a principal through the principal API as the
// administrator.
func (e *accEnv) createPrincipal(t *testing.T, displayName string) accPrincipal {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"displayName": displayName})
	r := e.call(t, http.MethodPost, "/keyvault/principals", e.admin, string(body))
	if r.Status != http.StatusCreated {
		t.Fatalf("create principal %q: %v, want status 201", displayName, r)
	}
	var p accPrincipal
	r.JSON(t, &p)
	if p.ClientID == "" || p.ObjectID == "" || p.ClientSecret == "" {
		t.Fatalf("create principal %q: clientId, objectId or clientSecret missing: %s", displayName, r.Body)
	}
	return p
}

// createVault creates a standard vault through armkeyvault. A non-nil edit
// changes the properties before the request is sent.
func (e *accEnv) createVault(t *testing.T, rg, name string, edit func(*armkeyvault.VaultProperties)) armkeyvault.Vault {
	t.Helper()
	props := &armkeyvault.VaultProperties{
		TenantID: to.Ptr(e.in.Creds.TenantID),
		SKU:      &armkeyvault.SKU{Family: to.Ptr(armkeyvault.SKUFamilyA), Name: to.Ptr(armkeyvault.SKUNameStandard)},
	}
	if edit != nil {
		edit(props)
	}
	ctx := context.Background()
	poller, err := e.vaults.BeginCreateOrUpdate(ctx, rg, name,
		armkeyvault.VaultCreateOrUpdateParameters{Location: to.Ptr("local"), Properties: props}, nil)
	if err != nil {
		t.Fatalf("create vault %s/%s: %v", rg, name, err)
	}
	res, err := poller.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatalf("create vault %s/%s: poll: %v", rg, name, err)
	}
	return res.Vault
}

// accPolicyEntry converts permission names to an armkeyvault access-policy
// entry for objectID.
func accPolicyEntry(tenantID, objectID string, p vault.Permissions) *armkeyvault.AccessPolicyEntry {
	perms := &armkeyvault.Permissions{}
	for _, k := range p.Keys {
		perms.Keys = append(perms.Keys, to.Ptr(armkeyvault.KeyPermissions(k)))
	}
	for _, s := range p.Secrets {
		perms.Secrets = append(perms.Secrets, to.Ptr(armkeyvault.SecretPermissions(s)))
	}
	for _, c := range p.Certificates {
		perms.Certificates = append(perms.Certificates, to.Ptr(armkeyvault.CertificatePermissions(c)))
	}
	return &armkeyvault.AccessPolicyEntry{TenantID: to.Ptr(tenantID), ObjectID: to.Ptr(objectID), Permissions: perms}
}

// editPolicy changes the access policy of objectID on a vault with
// UpdateAccessPolicy and returns the vault's policies afterwards.
func (e *accEnv) editPolicy(t *testing.T, rg, name string, kind armkeyvault.AccessPolicyUpdateKind, objectID string, p vault.Permissions) []*armkeyvault.AccessPolicyEntry {
	t.Helper()
	res, err := e.vaults.UpdateAccessPolicy(context.Background(), rg, name, kind, armkeyvault.VaultAccessPolicyParameters{
		Properties: &armkeyvault.VaultAccessPolicyProperties{
			AccessPolicies: []*armkeyvault.AccessPolicyEntry{accPolicyEntry(e.in.Creds.TenantID, objectID, p)},
		},
	}, nil)
	if err != nil {
		t.Fatalf("UpdateAccessPolicy(%s, %s): %v", kind, objectID, err)
	}
	if res.Properties == nil {
		t.Fatalf("UpdateAccessPolicy(%s, %s): no properties in the response", kind, objectID)
	}
	return res.Properties.AccessPolicies
}

// accPolicyOf returns the permissions of objectID's entry among policies,
// and whether there is one.
func accPolicyOf(policies []*armkeyvault.AccessPolicyEntry, objectID string) (vault.Permissions, bool) {
	for _, p := range policies {
		if p.ObjectID == nil || !strings.EqualFold(*p.ObjectID, objectID) || p.Permissions == nil {
			continue
		}
		var out vault.Permissions
		for _, k := range p.Permissions.Keys {
			out.Keys = append(out.Keys, string(*k))
		}
		for _, s := range p.Permissions.Secrets {
			out.Secrets = append(out.Secrets, string(*s))
		}
		for _, c := range p.Permissions.Certificates {
			out.Certificates = append(out.Certificates, string(*c))
		}
		return out, true
	}
	return vault.Permissions{}, false
}

// accSameSet reports whether a and b contain the same names, in any order.
func accSameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// assignRole creates a role assignment of the built-in role roleName at
// scope with a raw PUT, as az role assignment create sends it, and returns
// the assignment's name.
func (e *accEnv) assignRole(t *testing.T, scope, roleName, principalID string) string {
	t.Helper()
	role := authz.RoleByName(roleName)
	if role == nil {
		t.Fatalf("no built-in role %q", roleName)
	}
	name := uuid.NewString()
	body, _ := json.Marshal(map[string]any{"properties": map[string]string{
		"roleDefinitionId": "/subscriptions/" + e.in.Creds.SubscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + role.ID,
		"principalId":      principalID,
		"principalType":    "ServicePrincipal",
	}})
	r := e.call(t, http.MethodPut, scope+"/providers/Microsoft.Authorization/roleAssignments/"+name+"?api-version="+accRoleAPIVersion, e.admin, string(body))
	if r.Status != http.StatusCreated {
		t.Fatalf("assign %q at %s: %v, want status 201", roleName, scope, r)
	}
	var got struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		Properties struct {
			RoleDefinitionID string `json:"roleDefinitionId"`
			PrincipalID      string `json:"principalId"`
			Scope            string `json:"scope"`
		} `json:"properties"`
	}
	r.JSON(t, &got)
	if got.Name != name || got.Properties.PrincipalID != principalID || got.Properties.Scope != scope ||
		!strings.HasSuffix(got.Properties.RoleDefinitionID, "/"+role.ID) {
		t.Errorf("assignment = %s, want name %s, principal %s, scope %s, role %s", r.Body, name, principalID, scope, role.ID)
	}
	return name
}

// accSecretsClient returns an azsecrets client for a vault that signs in
// with cred.
func accSecretsClient(t *testing.T, in *kvtest.Instance, vaultName string, cred azcore.TokenCredential) *azsecrets.Client {
	t.Helper()
	c, err := azsecrets.NewClient(in.VaultURL(vaultName), cred, &azsecrets.ClientOptions{ClientOptions: in.ClientOptions()})
	if err != nil {
		t.Fatalf("secrets client: %v", err)
	}
	return c
}

// accKeysClient returns an azkeys client for a vault that signs in with cred.
func accKeysClient(t *testing.T, in *kvtest.Instance, vaultName string, cred azcore.TokenCredential) *azkeys.Client {
	t.Helper()
	c, err := azkeys.NewClient(in.VaultURL(vaultName), cred, &azkeys.ClientOptions{ClientOptions: in.ClientOptions()})
	if err != nil {
		t.Fatalf("keys client: %v", err)
	}
	return c
}

// accWantError checks that err is a response error with the given status,
// error code and inner error code ("" for none).
func accWantError(t *testing.T, err error, status int, code, inner string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Errorf("err = %v, want a response error with status %d and code %s", err, status, code)
		return
	}
	if re.StatusCode != status {
		t.Errorf("status = %d, want %d", re.StatusCode, status)
	}
	if re.ErrorCode != code {
		t.Errorf("error code = %q, want %q", re.ErrorCode, code)
	}
	body, readErr := runtime.Payload(re.RawResponse)
	if readErr != nil {
		t.Fatalf("read error body: %v", readErr)
	}
	resp := kvtest.Response{Body: body}
	if _, got := resp.ErrorCode(); got != inner {
		t.Errorf("inner error code = %q, want %q (body %s)", got, inner, body)
	}
}

// accForbidden checks a data-plane 403 with its inner error code.
func accForbidden(t *testing.T, err error, inner string) {
	t.Helper()
	accWantError(t, err, http.StatusForbidden, "Forbidden", inner)
}

// accFirstPage fetches the first page of a pager.
func accFirstPage[T any](p *runtime.Pager[T]) (T, error) {
	return p.NextPage(context.Background())
}

// accSelfSigned returns a self-signed RSA certificate and its key. The
// certificate is chosen so that the standard base64 of its SHA-256
// thumbprint contains '+' or '/': MSAL sends x5t#S256 in standard base64,
// and those characters are where it differs from base64url.
func accSelfSigned(t *testing.T, commonName string) (*x509.Certificate, *rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate RSA key: %v", err)
	}
	for serial := int64(1); serial <= 100; serial++ {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: commonName},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatalf("create certificate: %v", err)
		}
		sum := sha256.Sum256(der)
		if !strings.ContainsAny(base64.StdEncoding.EncodeToString(sum[:]), "+/") {
			continue
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("parse certificate: %v", err)
		}
		return cert, key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	t.Fatalf("no certificate with '+' or '/' in its SHA-256 thumbprint in 100 tries")
	return nil, nil, ""
}

// accChainCredential is a certificate credential that sends the
// certificate chain (x5c) with its assertions.
func accChainCredential(t *testing.T, in *kvtest.Instance, clientID string, cert *x509.Certificate, key crypto.PrivateKey) *azidentity.ClientCertificateCredential {
	t.Helper()
	opts := in.ClientOptions()
	opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: in.Creds.AuthorityHost}
	cred, err := azidentity.NewClientCertificateCredential(in.Creds.TenantID, clientID, []*x509.Certificate{cert}, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true, SendCertificateChain: true})
	if err != nil {
		t.Fatalf("certificate credential: %v", err)
	}
	return cred
}

// accAssertion signs a client assertion for clientID with key, with the
// given extra header members.
func accAssertion(t *testing.T, in *kvtest.Instance, clientID string, key *rsa.PrivateKey, header map[string]any) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"aud": accTokenURL(in), "iss": clientID, "sub": clientID, "jti": uuid.NewString(),
		"nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	})
	for k, v := range header {
		tok.Header[k] = v
	}
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign assertion: %v", err)
	}
	return signed
}

// accAssertionForm is a client-credentials request with a client assertion.
func accAssertionForm(clientID, assertion, resource string) url.Values {
	return url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "scope": {resource + "/.default"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
}

// TestAccessPortalFlow follows what a portal user does: create a vault,
// create an application, grant it a template policy, then use the vault as
// that application with a client secret and with a certificate.
func TestAccessPortalFlow(t *testing.T) {
	e := startAccEnv(t)
	ctx := context.Background()

	v := e.createVault(t, "rg1", "app-vault", nil)
	if got, want := mgmtStr(v.Properties.VaultURI), "https://app-vault.vault.localhost:"+e.in.Port+"/"; got != want {
		t.Errorf("vaultUri = %q, want %q", got, want)
	}
	if got, want := mgmtStr(v.ID), e.vaultID("rg1", "app-vault"); got != want {
		t.Errorf("id = %q, want %q", got, want)
	}
	if got := *v.Properties.SKU.Name; got != armkeyvault.SKUNameStandard {
		t.Errorf("sku = %q, want standard", got)
	}
	if n := len(v.Properties.AccessPolicies); n != 0 {
		t.Errorf("new vault has %d access policies, want 0", n)
	}

	p := e.createPrincipal(t, "app")
	if p.TenantID != e.in.Creds.TenantID {
		t.Errorf("principal tenantId = %q, want %q", p.TenantID, e.in.Creds.TenantID)
	}
	perms, ok := authz.Template("Key, Secret, & Certificate Management")
	if !ok {
		t.Fatal(`no template "Key, Secret, & Certificate Management"`)
	}
	perms.Keys = append(perms.Keys, "decrypt", "encrypt", "unwrapKey", "wrapKey", "verify", "sign")
	policies := e.editPolicy(t, "rg1", "app-vault", armkeyvault.AccessPolicyUpdateKindAdd, p.ObjectID, perms)
	got, found := accPolicyOf(policies, p.ObjectID)
	if !found {
		t.Fatalf("UpdateAccessPolicy(add) response has no entry for %s", p.ObjectID)
	}
	if !accSameSet(got.Keys, perms.Keys) || !accSameSet(got.Secrets, perms.Secrets) || !accSameSet(got.Certificates, perms.Certificates) {
		t.Errorf("policy = %+v, want %+v", got, perms)
	}
	fetched, err := e.vaults.Get(ctx, "rg1", "app-vault", nil)
	if err != nil {
		t.Fatalf("Get vault: %v", err)
	}
	if got, _ := accPolicyOf(fetched.Properties.AccessPolicies, p.ObjectID); !accSameSet(got.Keys, perms.Keys) {
		t.Errorf("Get vault: policy keys = %v, want %v", got.Keys, perms.Keys)
	}

	cred := e.in.SecretCredential(t, p.ClientID, p.ClientSecret)
	sc := accSecretsClient(t, e.in, "app-vault", cred)
	kc := accKeysClient(t, e.in, "app-vault", cred)
	adminSecrets := e.in.SecretsClient(t, "app-vault")
	adminKeys := e.in.KeysClient(t, "app-vault")

	t.Run("SecretsGranted", func(t *testing.T) {
		if _, err := sc.SetSecret(ctx, "db-password", azsecrets.SetSecretParameters{Value: to.Ptr("hunter2")}, nil); err != nil {
			t.Fatalf("SetSecret: %v", err)
		}
		got, err := sc.GetSecret(ctx, "db-password", "", nil)
		if err != nil {
			t.Fatalf("GetSecret: %v", err)
		}
		if mgmtStr(got.Value) != "hunter2" {
			t.Errorf("GetSecret value = %q, want hunter2", mgmtStr(got.Value))
		}
		page, err := accFirstPage(sc.NewListSecretPropertiesPager(nil))
		if err != nil {
			t.Fatalf("list secrets: %v", err)
		}
		if len(page.Value) != 1 || page.Value[0].ID.Name() != "db-password" {
			t.Errorf("list secrets = %d items, want just db-password", len(page.Value))
		}
		backup, err := sc.BackupSecret(ctx, "db-password", nil)
		if err != nil {
			t.Fatalf("BackupSecret: %v", err)
		}
		if _, err := sc.DeleteSecret(ctx, "db-password", nil); err != nil {
			t.Fatalf("DeleteSecret: %v", err)
		}
		if _, err := sc.GetDeletedSecret(ctx, "db-password", nil); err != nil {
			t.Fatalf("GetDeletedSecret: %v", err)
		}
		if _, err := sc.RecoverDeletedSecret(ctx, "db-password", nil); err != nil {
			t.Fatalf("RecoverDeletedSecret: %v", err)
		}
		if got, err := sc.GetSecret(ctx, "db-password", "", nil); err != nil || mgmtStr(got.Value) != "hunter2" {
			t.Fatalf("GetSecret after recover: value %q, err %v; want hunter2", mgmtStr(got.Value), err)
		}

		// Restore needs a free name. The principal may not purge, so the
		// administrator purges the deleted secret.
		if _, err := sc.DeleteSecret(ctx, "db-password", nil); err != nil {
			t.Fatalf("DeleteSecret: %v", err)
		}
		if _, err := adminSecrets.PurgeDeletedSecret(ctx, "db-password", nil); err != nil {
			t.Fatalf("admin PurgeDeletedSecret: %v", err)
		}
		if _, err := sc.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: backup.Value}, nil); err != nil {
			t.Fatalf("RestoreSecret: %v", err)
		}
		if got, err := sc.GetSecret(ctx, "db-password", "", nil); err != nil || mgmtStr(got.Value) != "hunter2" {
			t.Errorf("GetSecret after restore: value %q, err %v; want hunter2", mgmtStr(got.Value), err)
		}
	})

	t.Run("KeysGranted", func(t *testing.T) {
		created, err := kc.CreateKey(ctx, "app-key", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr(int32(2048))}, nil)
		if err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		version := created.Key.KID.Version()

		if _, err := kc.GetKey(ctx, "app-key", "", nil); err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		if _, err := kc.UpdateKey(ctx, "app-key", "", azkeys.UpdateKeyParameters{Tags: map[string]*string{"env": to.Ptr("test")}}, nil); err != nil {
			t.Fatalf("UpdateKey: %v", err)
		}

		plaintext := []byte("attack at dawn")
		enc, err := kc.Encrypt(ctx, "app-key", version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: plaintext}, nil)
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		dec, err := kc.Decrypt(ctx, "app-key", version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: enc.Result}, nil)
		if err != nil {
			t.Fatalf("Decrypt: %v", err)
		}
		if string(dec.Result) != string(plaintext) {
			t.Errorf("Decrypt = %q, want %q", dec.Result, plaintext)
		}

		cek := make([]byte, 32)
		_, _ = rand.Read(cek)
		wrapped, err := kc.WrapKey(ctx, "app-key", version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP), Value: cek}, nil)
		if err != nil {
			t.Fatalf("WrapKey: %v", err)
		}
		unwrapped, err := kc.UnwrapKey(ctx, "app-key", version, azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP), Value: wrapped.Result}, nil)
		if err != nil {
			t.Fatalf("UnwrapKey: %v", err)
		}
		if hex.EncodeToString(unwrapped.Result) != hex.EncodeToString(cek) {
			t.Errorf("UnwrapKey = %x, want %x", unwrapped.Result, cek)
		}

		digest := sha256.Sum256([]byte("message"))
		sig, err := kc.Sign(ctx, "app-key", version, azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmRS256), Value: digest[:]}, nil)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		ver, err := kc.Verify(ctx, "app-key", version, azkeys.VerifyParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmRS256), Digest: digest[:], Signature: sig.Result}, nil)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if ver.Value == nil || !*ver.Value {
			t.Errorf("Verify = %v, want true", ver.Value)
		}
	})

	t.Run("NotGranted", func(t *testing.T) {
		if _, err := adminSecrets.SetSecret(ctx, "to-purge", azsecrets.SetSecretParameters{Value: to.Ptr("x")}, nil); err != nil {
			t.Fatalf("admin SetSecret: %v", err)
		}
		if _, err := sc.DeleteSecret(ctx, "to-purge", nil); err != nil {
			t.Fatalf("DeleteSecret: %v", err)
		}
		_, err := sc.PurgeDeletedSecret(ctx, "to-purge", nil)
		accForbidden(t, err, "AccessDenied")

		if _, err := adminKeys.CreateKey(ctx, "key-to-purge", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil); err != nil {
			t.Fatalf("admin CreateKey: %v", err)
		}
		if _, err := kc.DeleteKey(ctx, "key-to-purge", nil); err != nil {
			t.Fatalf("DeleteKey: %v", err)
		}
		_, err = kc.PurgeDeletedKey(ctx, "key-to-purge", nil)
		accForbidden(t, err, "AccessDenied")

		_, err = kc.RotateKey(ctx, "app-key", nil)
		accForbidden(t, err, "AccessDenied")
		_, err = kc.GetKeyRotationPolicy(ctx, "app-key", nil)
		accForbidden(t, err, "AccessDenied")

		// The refused purge left the deleted secret in place.
		if _, err := adminSecrets.GetDeletedSecret(ctx, "to-purge", nil); err != nil {
			t.Errorf("admin GetDeletedSecret after a refused purge: %v", err)
		}
	})

	t.Run("CertificateCredential", func(t *testing.T) {
		cert, key, certPEM := accSelfSigned(t, "app-cert")
		body, _ := json.Marshal(map[string]string{"type": "certificate", "certificate": certPEM})
		r := e.call(t, http.MethodPost, "/keyvault/principals/"+p.ObjectID+"/credentials", e.admin, string(body))
		if r.Status != http.StatusCreated {
			t.Fatalf("add certificate credential: %v, want status 201", r)
		}
		var added accCredential
		r.JSON(t, &added)
		sum := sha1.Sum(cert.Raw)
		if want := strings.ToUpper(hex.EncodeToString(sum[:])); added.Thumbprint != want {
			t.Errorf("thumbprint = %q, want %q", added.Thumbprint, want)
		}
		if added.Type != "certificate" || added.Subject != "CN=app-cert" || added.Secret != "" {
			t.Errorf("credential = %+v, want type certificate, subject CN=app-cert, no secret", added)
		}

		use := func(t *testing.T, cred azcore.TokenCredential) {
			t.Helper()
			csc := accSecretsClient(t, e.in, "app-vault", cred)
			ckc := accKeysClient(t, e.in, "app-vault", cred)
			got, err := csc.GetSecret(ctx, "db-password", "", nil)
			if err != nil {
				t.Fatalf("GetSecret: %v", err)
			}
			if mgmtStr(got.Value) != "hunter2" {
				t.Errorf("GetSecret value = %q, want hunter2", mgmtStr(got.Value))
			}
			if _, err := ckc.Encrypt(ctx, "app-key", "", azkeys.KeyOperationParameters{
				Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: []byte("x")}, nil); err != nil {
				t.Errorf("Encrypt: %v", err)
			}
			_, err = ckc.RotateKey(ctx, "app-key", nil)
			accForbidden(t, err, "AccessDenied")
		}

		t.Run("Thumbprint", func(t *testing.T) {
			use(t, e.in.CertificateCredential(t, p.ClientID, []*x509.Certificate{cert}, key))
		})
		t.Run("CertificateChain", func(t *testing.T) {
			use(t, accChainCredential(t, e.in, p.ClientID, cert, key))
		})

		sha1sum := sha1.Sum(cert.Raw)
		sha256sum := sha256.Sum256(cert.Raw)
		headers := []struct {
			name   string
			header map[string]any
		}{
			{name: "x5t", header: map[string]any{"x5t": base64.RawURLEncoding.EncodeToString(sha1sum[:])}},
			{name: "x5t#S256", header: map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(sha256sum[:])}},
			{name: "x5c", header: map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(cert.Raw)}}},
		}
		for _, h := range headers {
			t.Run("Header "+h.name, func(t *testing.T) {
				assertion := accAssertion(t, e.in, p.ClientID, key, h.header)
				token := accTokenFrom(t, accPostForm(t, e.in, accAssertionForm(p.ClientID, assertion, e.in.Creds.Resource)))
				r := e.in.Do(t, http.MethodGet, e.in.VaultURL("app-vault")+"/secrets/db-password?api-version=7.5", token, "")
				if r.Status != http.StatusOK {
					t.Errorf("GET secret with the assertion's token: %v, want status 200", r)
				}
				replay := accPostForm(t, e.in, accAssertionForm(p.ClientID, assertion, e.in.Creds.Resource))
				if replay.Status != http.StatusUnauthorized {
					t.Errorf("replayed assertion: %v, want status 401", replay)
				}
			})
		}

		t.Run("WrongKey", func(t *testing.T) {
			other, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatalf("generate RSA key: %v", err)
			}
			assertion := accAssertion(t, e.in, p.ClientID, other, map[string]any{"x5t": base64.RawURLEncoding.EncodeToString(sha1sum[:])})
			r := accPostForm(t, e.in, accAssertionForm(p.ClientID, assertion, e.in.Creds.Resource))
			if r.Status != http.StatusUnauthorized {
				t.Errorf("assertion signed by another key: %v, want status 401", r)
			}
		})
	})

	t.Run("FreshPrincipal", func(t *testing.T) {
		q := e.createPrincipal(t, "nobody")
		qcred := e.in.SecretCredential(t, q.ClientID, q.ClientSecret)
		for _, vaultName := range []string{"app-vault", "default"} {
			qsc := accSecretsClient(t, e.in, vaultName, qcred)
			qkc := accKeysClient(t, e.in, vaultName, qcred)
			calls := []struct {
				name string
				call func() error
			}{
				{"GetSecret", func() error { _, err := qsc.GetSecret(ctx, "db-password", "", nil); return err }},
				{"SetSecret", func() error {
					_, err := qsc.SetSecret(ctx, "new", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil)
					return err
				}},
				{"ListSecrets", func() error { _, err := accFirstPage(qsc.NewListSecretPropertiesPager(nil)); return err }},
				{"ListDeletedSecrets", func() error {
					_, err := accFirstPage(qsc.NewListDeletedSecretPropertiesPager(nil))
					return err
				}},
				{"DeleteSecret", func() error { _, err := qsc.DeleteSecret(ctx, "db-password", nil); return err }},
				{"GetKey", func() error { _, err := qkc.GetKey(ctx, "app-key", "", nil); return err }},
				{"CreateKey", func() error {
					_, err := qkc.CreateKey(ctx, "new", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil)
					return err
				}},
				{"ListKeys", func() error { _, err := accFirstPage(qkc.NewListKeyPropertiesPager(nil)); return err }},
				{"Encrypt", func() error {
					_, err := qkc.Encrypt(ctx, "app-key", "", azkeys.KeyOperationParameters{
						Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: []byte("x")}, nil)
					return err
				}},
				{"BackupKey", func() error { _, err := qkc.BackupKey(ctx, "app-key", nil); return err }},
			}
			for _, c := range calls {
				t.Run(vaultName+" "+c.name, func(t *testing.T) {
					accForbidden(t, c.call(), "AccessDenied")
				})
			}
		}
		if got, err := adminSecrets.GetSecret(ctx, "db-password", "", nil); err != nil || mgmtStr(got.Value) != "hunter2" {
			t.Errorf("db-password after refused requests: value %q, err %v; want hunter2", mgmtStr(got.Value), err)
		}
	})
}

// accClients are the data-plane clients of one principal on one vault.
type accClients struct {
	secrets *azsecrets.Client
	keys    *azkeys.Client
}

// accMatrixFixture contains the objects the administrator prepares once for
// the permission matrix.
type accMatrixFixture struct {
	admin      accClients
	ciphertext []byte
	wrapped    []byte
	digest     []byte
	signature  []byte
	cek        []byte
	importJWK  *azkeys.JSONWebKey
}

// accMatrixCase is one data-plane operation: prepare creates, as the
// administrator, what the operation needs under the object name n, and
// returns the operation as the principal performs it.
type accMatrixCase struct {
	name    string
	op      authz.Operation
	prepare func(t *testing.T, f *accMatrixFixture, n string) func(t *testing.T, c accClients) error
}

func (f *accMatrixFixture) setSecret(t *testing.T, name string) string {
	t.Helper()
	res, err := f.admin.secrets.SetSecret(context.Background(), name, azsecrets.SetSecretParameters{Value: to.Ptr("value of " + name)}, nil)
	if err != nil {
		t.Fatalf("admin SetSecret(%s): %v", name, err)
	}
	return res.ID.Version()
}

func (f *accMatrixFixture) deleteSecret(t *testing.T, name string) {
	t.Helper()
	if _, err := f.admin.secrets.DeleteSecret(context.Background(), name, nil); err != nil {
		t.Fatalf("admin DeleteSecret(%s): %v", name, err)
	}
}

func (f *accMatrixFixture) createKey(t *testing.T, name string) string {
	t.Helper()
	res, err := f.admin.keys.CreateKey(context.Background(), name, azkeys.CreateKeyParameters{
		Kty: to.Ptr(azkeys.KeyTypeEC), Curve: to.Ptr(azkeys.CurveNameP256)}, nil)
	if err != nil {
		t.Fatalf("admin CreateKey(%s): %v", name, err)
	}
	return res.Key.KID.Version()
}

func (f *accMatrixFixture) deleteKey(t *testing.T, name string) {
	t.Helper()
	if _, err := f.admin.keys.DeleteKey(context.Background(), name, nil); err != nil {
		t.Fatalf("admin DeleteKey(%s): %v", name, err)
	}
}

// accMatrixCases covers every secret and key operation of authz, through
// every route that maps to it.
func accMatrixCases() []accMatrixCase {
	ctx := context.Background()
	return []accMatrixCase{
		{name: "GetSecret", op: authz.SecretGet, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.setSecret(t, n)
			return func(t *testing.T, c accClients) error {
				got, err := c.secrets.GetSecret(ctx, n, "", nil)
				if err == nil && mgmtStr(got.Value) != "value of "+n {
					t.Errorf("GetSecret value = %q, want %q", mgmtStr(got.Value), "value of "+n)
				}
				return err
			}
		}},
		{name: "GetSecretVersion", op: authz.SecretGet, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			version := f.setSecret(t, n)
			return func(t *testing.T, c accClients) error {
				_, err := c.secrets.GetSecret(ctx, n, version, nil)
				return err
			}
		}},
		{name: "ListSecrets", op: authz.SecretList, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				_, err := accFirstPage(c.secrets.NewListSecretPropertiesPager(nil))
				return err
			}
		}},
		{name: "ListSecretVersions", op: authz.SecretList, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.setSecret(t, n)
			return func(t *testing.T, c accClients) error {
				_, err := accFirstPage(c.secrets.NewListSecretPropertiesVersionsPager(n, nil))
				return err
			}
		}},
		{name: "ListDeletedSecrets", op: authz.SecretList, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				_, err := accFirstPage(c.secrets.NewListDeletedSecretPropertiesPager(nil))
				return err
			}
		}},
		{name: "GetDeletedSecret", op: authz.SecretList, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.setSecret(t, n)
			f.deleteSecret(t, n)
			return func(t *testing.T, c accClients) error { _, err := c.secrets.GetDeletedSecret(ctx, n, nil); return err }
		}},
		{name: "SetSecret", op: authz.SecretSet, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				_, err := c.secrets.SetSecret(ctx, n, azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil)
				return err
			}
		}},
		{name: "UpdateSecret", op: authz.SecretUpdate, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.setSecret(t, n)
			return func(t *testing.T, c accClients) error {
				_, err := c.secrets.UpdateSecretProperties(ctx, n, "", azsecrets.UpdateSecretPropertiesParameters{ContentType: to.Ptr("text/plain")}, nil)
				return err
			}
		}},
		{name: "DeleteSecret", op: authz.SecretDelete, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.setSecret(t, n)
			return func(t *testing.T, c accClients) error { _, err := c.secrets.DeleteSecret(ctx, n, nil); return err }
		}},
		{name: "RecoverSecret", op: authz.SecretRecover, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.setSecret(t, n)
			f.deleteSecret(t, n)
			return func(t *testing.T, c accClients) error {
				_, err := c.secrets.RecoverDeletedSecret(ctx, n, nil)
				return err
			}
		}},
		{name: "PurgeSecret", op: authz.SecretPurge, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.setSecret(t, n)
			f.deleteSecret(t, n)
			return func(t *testing.T, c accClients) error {
				_, err := c.secrets.PurgeDeletedSecret(ctx, n, nil)
				return err
			}
		}},
		{name: "BackupSecret", op: authz.SecretBackup, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.setSecret(t, n)
			return func(t *testing.T, c accClients) error { _, err := c.secrets.BackupSecret(ctx, n, nil); return err }
		}},
		{name: "RestoreSecret", op: authz.SecretRestore, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.setSecret(t, n)
			backup, err := f.admin.secrets.BackupSecret(ctx, n, nil)
			if err != nil {
				t.Fatalf("admin BackupSecret: %v", err)
			}
			f.deleteSecret(t, n)
			if _, err := f.admin.secrets.PurgeDeletedSecret(ctx, n, nil); err != nil {
				t.Fatalf("admin PurgeDeletedSecret: %v", err)
			}
			return func(t *testing.T, c accClients) error {
				_, err := c.secrets.RestoreSecret(ctx, azsecrets.RestoreSecretParameters{SecretBackup: backup.Value}, nil)
				return err
			}
		}},

		{name: "CreateKey", op: authz.KeyCreate, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				_, err := c.keys.CreateKey(ctx, n, azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil)
				return err
			}
		}},
		{name: "ImportKey", op: authz.KeyImport, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				_, err := c.keys.ImportKey(ctx, n, azkeys.ImportKeyParameters{Key: f.importJWK}, nil)
				return err
			}
		}},
		{name: "GetKey", op: authz.KeyGet, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.createKey(t, n)
			return func(t *testing.T, c accClients) error { _, err := c.keys.GetKey(ctx, n, "", nil); return err }
		}},
		{name: "GetKeyVersion", op: authz.KeyGet, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			version := f.createKey(t, n)
			return func(t *testing.T, c accClients) error { _, err := c.keys.GetKey(ctx, n, version, nil); return err }
		}},
		{name: "ListKeys", op: authz.KeyList, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				_, err := accFirstPage(c.keys.NewListKeyPropertiesPager(nil))
				return err
			}
		}},
		{name: "ListKeyVersions", op: authz.KeyList, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.createKey(t, n)
			return func(t *testing.T, c accClients) error {
				_, err := accFirstPage(c.keys.NewListKeyPropertiesVersionsPager(n, nil))
				return err
			}
		}},
		{name: "ListDeletedKeys", op: authz.KeyList, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				_, err := accFirstPage(c.keys.NewListDeletedKeyPropertiesPager(nil))
				return err
			}
		}},
		{name: "GetDeletedKey", op: authz.KeyList, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.createKey(t, n)
			f.deleteKey(t, n)
			return func(t *testing.T, c accClients) error { _, err := c.keys.GetDeletedKey(ctx, n, nil); return err }
		}},
		{name: "UpdateKey", op: authz.KeyUpdate, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.createKey(t, n)
			return func(t *testing.T, c accClients) error {
				_, err := c.keys.UpdateKey(ctx, n, "", azkeys.UpdateKeyParameters{Tags: map[string]*string{"a": to.Ptr("b")}}, nil)
				return err
			}
		}},
		{name: "DeleteKey", op: authz.KeyDelete, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.createKey(t, n)
			return func(t *testing.T, c accClients) error { _, err := c.keys.DeleteKey(ctx, n, nil); return err }
		}},
		{name: "RecoverKey", op: authz.KeyRecover, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.createKey(t, n)
			f.deleteKey(t, n)
			return func(t *testing.T, c accClients) error { _, err := c.keys.RecoverDeletedKey(ctx, n, nil); return err }
		}},
		{name: "PurgeKey", op: authz.KeyPurge, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.createKey(t, n)
			f.deleteKey(t, n)
			return func(t *testing.T, c accClients) error { _, err := c.keys.PurgeDeletedKey(ctx, n, nil); return err }
		}},
		{name: "BackupKey", op: authz.KeyBackup, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.createKey(t, n)
			return func(t *testing.T, c accClients) error { _, err := c.keys.BackupKey(ctx, n, nil); return err }
		}},
		{name: "RestoreKey", op: authz.KeyRestore, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.createKey(t, n)
			backup, err := f.admin.keys.BackupKey(ctx, n, nil)
			if err != nil {
				t.Fatalf("admin BackupKey: %v", err)
			}
			f.deleteKey(t, n)
			if _, err := f.admin.keys.PurgeDeletedKey(ctx, n, nil); err != nil {
				t.Fatalf("admin PurgeDeletedKey: %v", err)
			}
			return func(t *testing.T, c accClients) error {
				_, err := c.keys.RestoreKey(ctx, azkeys.RestoreKeyParameters{KeyBackup: backup.Value}, nil)
				return err
			}
		}},
		{name: "Encrypt", op: authz.KeyEncrypt, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				_, err := c.keys.Encrypt(ctx, "m-rsa", "", azkeys.KeyOperationParameters{
					Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: []byte("plain")}, nil)
				return err
			}
		}},
		{name: "Decrypt", op: authz.KeyDecrypt, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				res, err := c.keys.Decrypt(ctx, "m-rsa", "", azkeys.KeyOperationParameters{
					Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: f.ciphertext}, nil)
				if err == nil && string(res.Result) != "plain" {
					t.Errorf("Decrypt = %q, want plain", res.Result)
				}
				return err
			}
		}},
		{name: "WrapKey", op: authz.KeyWrap, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				_, err := c.keys.WrapKey(ctx, "m-rsa", "", azkeys.KeyOperationParameters{
					Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP), Value: f.cek}, nil)
				return err
			}
		}},
		{name: "UnwrapKey", op: authz.KeyUnwrap, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				res, err := c.keys.UnwrapKey(ctx, "m-rsa", "", azkeys.KeyOperationParameters{
					Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP), Value: f.wrapped}, nil)
				if err == nil && hex.EncodeToString(res.Result) != hex.EncodeToString(f.cek) {
					t.Errorf("UnwrapKey = %x, want %x", res.Result, f.cek)
				}
				return err
			}
		}},
		{name: "Sign", op: authz.KeySign, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				_, err := c.keys.Sign(ctx, "m-ec", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmES256), Value: f.digest}, nil)
				return err
			}
		}},
		{name: "Verify", op: authz.KeyVerify, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			return func(t *testing.T, c accClients) error {
				res, err := c.keys.Verify(ctx, "m-ec", "", azkeys.VerifyParameters{
					Algorithm: to.Ptr(azkeys.SignatureAlgorithmES256), Digest: f.digest, Signature: f.signature}, nil)
				if err == nil && (res.Value == nil || !*res.Value) {
					t.Errorf("Verify = %v, want true", res.Value)
				}
				return err
			}
		}},
		{name: "RotateKey", op: authz.KeyRotate, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.createKey(t, n)
			return func(t *testing.T, c accClients) error { _, err := c.keys.RotateKey(ctx, n, nil); return err }
		}},
		{name: "GetRotationPolicy", op: authz.KeyGetRotationPolicy, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.createKey(t, n)
			return func(t *testing.T, c accClients) error { _, err := c.keys.GetKeyRotationPolicy(ctx, n, nil); return err }
		}},
		{name: "SetRotationPolicy", op: authz.KeySetRotationPolicy, prepare: func(t *testing.T, f *accMatrixFixture, n string) func(*testing.T, accClients) error {
			f.createKey(t, n)
			return func(t *testing.T, c accClients) error {
				_, err := c.keys.UpdateKeyRotationPolicy(ctx, n, azkeys.KeyRotationPolicy{
					LifetimeActions: []*azkeys.LifetimeAction{{
						Action:  &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionRotate)},
						Trigger: &azkeys.LifetimeActionTrigger{TimeAfterCreate: to.Ptr("P30D")},
					}},
					Attributes: &azkeys.KeyRotationPolicyAttributes{ExpiryTime: to.Ptr("P90D")},
				}, nil)
				return err
			}
		}},
	}
}

// accWithout returns names without name (compared without regard to case).
func accWithout(names []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool { return strings.EqualFold(n, name) })
}

// accDenyPolicy returns every permission of every family except the one op
// needs.
func accDenyPolicy(op authz.Operation) vault.Permissions {
	p := vault.Permissions{Keys: accKeyPermissions, Secrets: accSecretPermissions, Certificates: accCertificatePermissions}
	switch op.Family {
	case "keys":
		p.Keys = accWithout(p.Keys, op.Permission)
	case "secrets":
		p.Secrets = accWithout(p.Secrets, op.Permission)
	}
	return p
}

// accAllowPolicy returns only the permission op needs.
func accAllowPolicy(op authz.Operation) vault.Permissions {
	if op.Family == "keys" {
		return vault.Permissions{Keys: []string{op.Permission}}
	}
	return vault.Permissions{Secrets: []string{op.Permission}}
}

// TestAccessPolicyMatrix checks every secret and key operation in
// access-policy mode: all other permissions are not enough, and its own
// permission alone is.
func TestAccessPolicyMatrix(t *testing.T) {
	e := startAccEnv(t)
	ctx := context.Background()
	e.createVault(t, "rg-matrix", "matrix", nil)
	p := e.createPrincipal(t, "matrix-app")
	cred := e.in.SecretCredential(t, p.ClientID, p.ClientSecret)
	principal := accClients{secrets: accSecretsClient(t, e.in, "matrix", cred), keys: accKeysClient(t, e.in, "matrix", cred)}

	f := &accMatrixFixture{admin: accClients{secrets: e.in.SecretsClient(t, "matrix"), keys: e.in.KeysClient(t, "matrix")}}
	if _, err := f.admin.keys.CreateKey(ctx, "m-rsa", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr(int32(2048))}, nil); err != nil {
		t.Fatalf("admin CreateKey(m-rsa): %v", err)
	}
	f.createKey(t, "m-ec")
	enc, err := f.admin.keys.Encrypt(ctx, "m-rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: []byte("plain")}, nil)
	if err != nil {
		t.Fatalf("admin Encrypt: %v", err)
	}
	f.ciphertext = enc.Result
	f.cek = make([]byte, 32)
	_, _ = rand.Read(f.cek)
	wrapped, err := f.admin.keys.WrapKey(ctx, "m-rsa", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP), Value: f.cek}, nil)
	if err != nil {
		t.Fatalf("admin WrapKey: %v", err)
	}
	f.wrapped = wrapped.Result
	sum := sha256.Sum256([]byte("signed message"))
	f.digest = sum[:]
	sig, err := f.admin.keys.Sign(ctx, "m-ec", "", azkeys.SignParameters{Algorithm: to.Ptr(azkeys.SignatureAlgorithmES256), Value: f.digest}, nil)
	if err != nil {
		t.Fatalf("admin Sign: %v", err)
	}
	f.signature = sig.Result
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate EC key: %v", err)
	}
	f.importJWK = &azkeys.JSONWebKey{
		Kty: to.Ptr(azkeys.KeyTypeEC), Crv: to.Ptr(azkeys.CurveNameP256),
		X: ecKey.X.FillBytes(make([]byte, 32)), Y: ecKey.Y.FillBytes(make([]byte, 32)), D: ecKey.D.FillBytes(make([]byte, 32)),
	}

	cases := accMatrixCases()
	covered := map[string]bool{}
	for i, c := range cases {
		covered[c.op.Family+" "+c.op.Permission+" "+c.op.DataAction] = true
		t.Run(c.name, func(t *testing.T) {
			call := c.prepare(t, f, fmt.Sprintf("m%02d", i))

			e.editPolicy(t, "rg-matrix", "matrix", armkeyvault.AccessPolicyUpdateKindReplace, p.ObjectID, accDenyPolicy(c.op))
			err := call(t, principal)
			accForbidden(t, err, "AccessDenied")
			if err != nil && !strings.Contains(err.Error(), c.op.Name) {
				t.Errorf("403 message does not name the operation %q: %v", c.op.Name, err)
			}

			e.editPolicy(t, "rg-matrix", "matrix", armkeyvault.AccessPolicyUpdateKindReplace, p.ObjectID, accAllowPolicy(c.op))
			if err := call(t, principal); err != nil {
				t.Errorf("with only %s %s: %v", c.op.Family, c.op.Permission, err)
			}
		})
	}

	ops := []authz.Operation{authz.SecretGet, authz.SecretList, authz.SecretSet, authz.SecretUpdate, authz.SecretDelete,
		authz.SecretRecover, authz.SecretPurge, authz.SecretBackup, authz.SecretRestore,
		authz.KeyCreate, authz.KeyImport, authz.KeyGet, authz.KeyList, authz.KeyUpdate, authz.KeyDelete, authz.KeyRecover,
		authz.KeyPurge, authz.KeyBackup, authz.KeyRestore, authz.KeyEncrypt, authz.KeyDecrypt, authz.KeyWrap, authz.KeyUnwrap,
		authz.KeySign, authz.KeyVerify, authz.KeyRotate, authz.KeyGetRotationPolicy, authz.KeySetRotationPolicy}
	for _, op := range ops {
		if !covered[op.Family+" "+op.Permission+" "+op.DataAction] {
			t.Errorf("operation %s (%s) has no matrix case", op.Name, op.DataAction)
		}
	}
}

// TestAccessPolicyEdits checks how add, replace and remove change a
// principal's access, and the "all" permission.
func TestAccessPolicyEdits(t *testing.T) {
	e := startAccEnv(t)
	ctx := context.Background()
	e.createVault(t, "rg-edit", "edit-vault", nil)
	p := e.createPrincipal(t, "edit-app")
	cred := e.in.SecretCredential(t, p.ClientID, p.ClientSecret)
	sc := accSecretsClient(t, e.in, "edit-vault", cred)
	kc := accKeysClient(t, e.in, "edit-vault", cred)
	admin := e.in.SecretsClient(t, "edit-vault")
	if _, err := admin.SetSecret(ctx, "s", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil); err != nil {
		t.Fatalf("admin SetSecret: %v", err)
	}
	get := func() error { _, err := sc.GetSecret(ctx, "s", "", nil); return err }
	list := func() error { _, err := accFirstPage(sc.NewListSecretPropertiesPager(nil)); return err }

	t.Run("AddMerges", func(t *testing.T) {
		e.editPolicy(t, "rg-edit", "edit-vault", armkeyvault.AccessPolicyUpdateKindAdd, p.ObjectID, vault.Permissions{Secrets: []string{"get"}})
		policies := e.editPolicy(t, "rg-edit", "edit-vault", armkeyvault.AccessPolicyUpdateKindAdd, p.ObjectID, vault.Permissions{Secrets: []string{"list"}})
		got, _ := accPolicyOf(policies, p.ObjectID)
		if !accSameSet(got.Secrets, []string{"get", "list"}) {
			t.Errorf("secrets permissions = %v, want [get list]", got.Secrets)
		}
		if err := get(); err != nil {
			t.Errorf("GetSecret: %v", err)
		}
		if err := list(); err != nil {
			t.Errorf("list: %v", err)
		}
	})

	t.Run("RemoveSome", func(t *testing.T) {
		policies := e.editPolicy(t, "rg-edit", "edit-vault", armkeyvault.AccessPolicyUpdateKindRemove, p.ObjectID, vault.Permissions{Secrets: []string{"get"}})
		got, found := accPolicyOf(policies, p.ObjectID)
		if !found || !accSameSet(got.Secrets, []string{"list"}) {
			t.Errorf("secrets permissions = %v (entry found %v), want [list]", got.Secrets, found)
		}
		accForbidden(t, get(), "AccessDenied")
		if err := list(); err != nil {
			t.Errorf("list: %v", err)
		}
	})

	t.Run("CanonicalSpelling", func(t *testing.T) {
		policies := e.editPolicy(t, "rg-edit", "edit-vault", armkeyvault.AccessPolicyUpdateKindReplace, p.ObjectID,
			vault.Permissions{Keys: []string{"WRAPKEY", "Get"}, Secrets: []string{"GET"}})
		got, _ := accPolicyOf(policies, p.ObjectID)
		if !accSameSet(got.Keys, []string{"wrapKey", "get"}) || !accSameSet(got.Secrets, []string{"get"}) {
			t.Errorf("permissions = %+v, want keys [wrapKey get] and secrets [get]", got)
		}
		if err := get(); err != nil {
			t.Errorf("GetSecret: %v", err)
		}
	})

	t.Run("InvalidPermission", func(t *testing.T) {
		_, err := e.vaults.UpdateAccessPolicy(ctx, "rg-edit", "edit-vault", armkeyvault.AccessPolicyUpdateKindAdd, armkeyvault.VaultAccessPolicyParameters{
			Properties: &armkeyvault.VaultAccessPolicyProperties{AccessPolicies: []*armkeyvault.AccessPolicyEntry{
				accPolicyEntry(e.in.Creds.TenantID, p.ObjectID, vault.Permissions{Secrets: []string{"fly"}}),
			}},
		}, nil)
		accWantError(t, err, http.StatusBadRequest, "BadParameter", "")
	})

	t.Run("UnknownKind", func(t *testing.T) {
		path := e.vaultID("rg-edit", "edit-vault") + "/accessPolicies/grant?api-version=2023-07-01"
		entry := `{"tenantId":"` + e.in.Creds.TenantID + `","objectId":"` + p.ObjectID + `","permissions":{"secrets":["get"]}}`
		for _, list := range []string{"", entry} {
			r := e.call(t, http.MethodPut, path, e.admin, `{"properties":{"accessPolicies":[`+list+`]}}`)
			if r.Status != http.StatusBadRequest {
				t.Errorf("PUT accessPolicies/grant with [%s]: %v, want status 400", list, r)
				continue
			}
			if code, _ := r.ErrorCode(); code != "BadParameter" {
				t.Errorf("PUT accessPolicies/grant: code %q, want BadParameter", code)
			}
		}
	})

	t.Run("All", func(t *testing.T) {
		e.editPolicy(t, "rg-edit", "edit-vault", armkeyvault.AccessPolicyUpdateKindReplace, p.ObjectID,
			vault.Permissions{Keys: []string{"all"}, Secrets: []string{"all"}})
		if _, err := kc.CreateKey(ctx, "k", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil); err != nil {
			t.Fatalf("CreateKey: %v", err)
		}
		if _, err := kc.RotateKey(ctx, "k", nil); err != nil {
			t.Errorf("RotateKey: %v", err)
		}
		if _, err := sc.DeleteSecret(ctx, "s", nil); err != nil {
			t.Fatalf("DeleteSecret: %v", err)
		}
		if _, err := sc.PurgeDeletedSecret(ctx, "s", nil); err != nil {
			t.Errorf("PurgeDeletedSecret: %v", err)
		}
	})

	t.Run("OtherApplication", func(t *testing.T) {
		// A compound entry applies only to the application it names.
		policies := e.editPolicy(t, "rg-edit", "edit-vault", armkeyvault.AccessPolicyUpdateKindRemove, p.ObjectID, vault.Permissions{})
		if _, found := accPolicyOf(policies, p.ObjectID); found {
			t.Fatalf("remove without permissions left the entry of %s", p.ObjectID)
		}
		compound := func(kind armkeyvault.AccessPolicyUpdateKind, perms []*armkeyvault.SecretPermissions) []*armkeyvault.AccessPolicyEntry {
			t.Helper()
			res, err := e.vaults.UpdateAccessPolicy(ctx, "rg-edit", "edit-vault", kind, armkeyvault.VaultAccessPolicyParameters{
				Properties: &armkeyvault.VaultAccessPolicyProperties{AccessPolicies: []*armkeyvault.AccessPolicyEntry{{
					TenantID: to.Ptr(e.in.Creds.TenantID), ObjectID: to.Ptr(p.ObjectID), ApplicationID: to.Ptr("4f2e8bc1-52a7-4b8e-9d0c-7a3b1c6d5e90"),
					Permissions: &armkeyvault.Permissions{Secrets: perms},
				}}},
			}, nil)
			if err != nil {
				t.Fatalf("UpdateAccessPolicy(%s, compound): %v", kind, err)
			}
			return res.Properties.AccessPolicies
		}
		compound(armkeyvault.AccessPolicyUpdateKindAdd, []*armkeyvault.SecretPermissions{to.Ptr(armkeyvault.SecretPermissionsList)})
		accForbidden(t, list(), "AccessDenied")
		policies = compound(armkeyvault.AccessPolicyUpdateKindRemove, nil)
		if _, found := accPolicyOf(policies, p.ObjectID); found {
			t.Errorf("compound entry of %s is still there after remove", p.ObjectID)
		}
	})

	t.Run("RemoveAll", func(t *testing.T) {
		e.editPolicy(t, "rg-edit", "edit-vault", armkeyvault.AccessPolicyUpdateKindReplace, p.ObjectID, vault.Permissions{Secrets: []string{"list"}})
		policies := e.editPolicy(t, "rg-edit", "edit-vault", armkeyvault.AccessPolicyUpdateKindRemove, p.ObjectID, vault.Permissions{Secrets: []string{"list"}})
		if _, found := accPolicyOf(policies, p.ObjectID); found {
			t.Errorf("entry of %s is still there after its last permission was removed", p.ObjectID)
		}
		accForbidden(t, list(), "AccessDenied")
	})
}

// accRBACVaults are the clients of one principal on two RBAC vaults.
type accRBACVaults struct {
	vault accClients
	other accClients
}

// TestAccessRBACRoles checks each built-in data role on a vault that uses
// Azure RBAC, with role assignments at vault scope.
func TestAccessRBACRoles(t *testing.T) {
	e := startAccEnv(t)
	ctx := context.Background()
	rbac := func(p *armkeyvault.VaultProperties) { p.EnableRbacAuthorization = to.Ptr(true) }
	v := e.createVault(t, "rg-rbac", "rbac-vault", rbac)
	if v.Properties.EnableRbacAuthorization == nil || !*v.Properties.EnableRbacAuthorization {
		t.Errorf("enableRbacAuthorization = %v, want true", v.Properties.EnableRbacAuthorization)
	}
	e.createVault(t, "rg-rbac", "rbac-other", rbac)
	adminSecrets := e.in.SecretsClient(t, "rbac-vault")
	adminKeys := e.in.KeysClient(t, "rbac-vault")
	if _, err := adminSecrets.SetSecret(ctx, "s1", azsecrets.SetSecretParameters{Value: to.Ptr("one")}, nil); err != nil {
		t.Fatalf("admin SetSecret: %v", err)
	}
	if _, err := adminKeys.CreateKey(ctx, "k1", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeRSA), KeySize: to.Ptr(int32(2048))}, nil); err != nil {
		t.Fatalf("admin CreateKey: %v", err)
	}
	if _, err := e.in.SecretsClient(t, "rbac-other").SetSecret(ctx, "s1", azsecrets.SetSecretParameters{Value: to.Ptr("other")}, nil); err != nil {
		t.Fatalf("admin SetSecret on rbac-other: %v", err)
	}

	getSecret := func(c accRBACVaults) error { _, err := c.vault.secrets.GetSecret(ctx, "s1", "", nil); return err }
	setSecret := func(c accRBACVaults) error {
		_, err := c.vault.secrets.SetSecret(ctx, "set-by-role", azsecrets.SetSecretParameters{Value: to.Ptr("v")}, nil)
		return err
	}
	getKey := func(c accRBACVaults) error { _, err := c.vault.keys.GetKey(ctx, "k1", "", nil); return err }
	createKey := func(c accRBACVaults) error {
		_, err := c.vault.keys.CreateKey(ctx, "created-by-role", azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyTypeEC)}, nil)
		return err
	}
	encrypt := func(c accRBACVaults) error {
		_, err := c.vault.keys.Encrypt(ctx, "k1", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP256), Value: []byte("x")}, nil)
		return err
	}
	wrap := func(c accRBACVaults) error {
		_, err := c.vault.keys.WrapKey(ctx, "k1", "", azkeys.KeyOperationParameters{Algorithm: to.Ptr(azkeys.EncryptionAlgorithmRSAOAEP), Value: make([]byte, 32)}, nil)
		return err
	}

	cases := []struct {
		role          string
		allowedName   string
		allowed       func(accRBACVaults) error
		deniedName    string
		denied        func(accRBACVaults) error
		deniedAction  string
		deniedOnOther bool // the denied call goes to rbac-other
	}{
		{role: "Key Vault Secrets Officer", allowedName: "SetSecret", allowed: setSecret,
			deniedName: "GetKey", denied: getKey, deniedAction: "keys/read"},
		{role: "Key Vault Secrets User", allowedName: "GetSecret", allowed: getSecret,
			deniedName: "SetSecret", denied: setSecret, deniedAction: "secrets/setSecret/action"},
		{role: "Key Vault Crypto Officer", allowedName: "CreateKey", allowed: createKey,
			deniedName: "GetSecret", denied: getSecret, deniedAction: "secrets/getSecret/action"},
		{role: "Key Vault Crypto User", allowedName: "Encrypt", allowed: encrypt,
			deniedName: "CreateKey", denied: createKey, deniedAction: "keys/create/action"},
		{role: "Key Vault Crypto Service Encryption User", allowedName: "WrapKey", allowed: wrap,
			deniedName: "Encrypt", denied: encrypt, deniedAction: "keys/encrypt/action"},
		{role: "Key Vault Reader", allowedName: "ListSecrets", allowed: func(c accRBACVaults) error {
			_, err := accFirstPage(c.vault.secrets.NewListSecretPropertiesPager(nil))
			return err
		}, deniedName: "GetSecret", denied: getSecret, deniedAction: "secrets/getSecret/action"},
		{role: "Key Vault Administrator", allowedName: "CreateKey", allowed: createKey,
			deniedName: "GetSecret on another vault", denied: func(c accRBACVaults) error {
				_, err := c.other.secrets.GetSecret(ctx, "s1", "", nil)
				return err
			}, deniedAction: "secrets/getSecret/action", deniedOnOther: true},
	}
	scope := e.vaultID("rg-rbac", "rbac-vault")
	for _, c := range cases {
		t.Run(c.role, func(t *testing.T) {
			p := e.createPrincipal(t, c.role)
			e.assignRole(t, scope, c.role, p.ObjectID)
			cred := e.in.SecretCredential(t, p.ClientID, p.ClientSecret)
			clients := accRBACVaults{
				vault: accClients{secrets: accSecretsClient(t, e.in, "rbac-vault", cred), keys: accKeysClient(t, e.in, "rbac-vault", cred)},
				other: accClients{secrets: accSecretsClient(t, e.in, "rbac-other", cred), keys: accKeysClient(t, e.in, "rbac-other", cred)},
			}
			if err := c.allowed(clients); err != nil {
				t.Errorf("%s: %v", c.allowedName, err)
			}
			err := c.denied(clients)
			accForbidden(t, err, "ForbiddenByRbac")
			resource := strings.ToLower(scope)
			if c.deniedOnOther {
				resource = strings.ToLower(e.vaultID("rg-rbac", "rbac-other"))
			}
			if err != nil {
				msg := err.Error()
				if !strings.Contains(msg, "Microsoft.KeyVault/vaults/"+c.deniedAction) || !strings.Contains(msg, resource) {
					t.Errorf("%s: 403 message does not name action %s on %s: %s", c.deniedName, c.deniedAction, resource, msg)
				}
			}
		})
	}
}

// TestAccessRBACScopes checks role assignments below and above a vault,
// their removal, and that each vault uses one permission model only.
func TestAccessRBACScopes(t *testing.T) {
	e := startAccEnv(t)
	ctx := context.Background()
	rbac := func(p *armkeyvault.VaultProperties) { p.EnableRbacAuthorization = to.Ptr(true) }
	e.createVault(t, "rg-scope", "scope-vault", rbac)
	e.createVault(t, "rg-scope", "scope-other", rbac)
	e.createVault(t, "rg-policy", "policy-vault", nil)
	for _, name := range []string{"s1", "s2", "s1-extra"} {
		if _, err := e.in.SecretsClient(t, "scope-vault").SetSecret(ctx, name, azsecrets.SetSecretParameters{Value: to.Ptr(name)}, nil); err != nil {
			t.Fatalf("admin SetSecret(%s): %v", name, err)
		}
	}
	for _, vaultName := range []string{"scope-other", "policy-vault", "default"} {
		if _, err := e.in.SecretsClient(t, vaultName).SetSecret(ctx, "s1", azsecrets.SetSecretParameters{Value: to.Ptr("s1")}, nil); err != nil {
			t.Fatalf("admin SetSecret(%s/s1): %v", vaultName, err)
		}
	}
	vaultScope := e.vaultID("rg-scope", "scope-vault")

	signIn := func(t *testing.T, p accPrincipal, vaultName string) *azsecrets.Client {
		t.Helper()
		return accSecretsClient(t, e.in, vaultName, e.in.SecretCredential(t, p.ClientID, p.ClientSecret))
	}
	get := func(c *azsecrets.Client, name string) error { _, err := c.GetSecret(ctx, name, "", nil); return err }

	t.Run("SecretScope", func(t *testing.T) {
		p := e.createPrincipal(t, "secret-scope")
		e.assignRole(t, vaultScope+"/secrets/s1", "Key Vault Secrets User", p.ObjectID)
		c := signIn(t, p, "scope-vault")
		if err := get(c, "s1"); err != nil {
			t.Errorf("GetSecret(s1): %v", err)
		}
		accForbidden(t, get(c, "s2"), "ForbiddenByRbac")
		accForbidden(t, get(c, "s1-extra"), "ForbiddenByRbac")
		_, err := accFirstPage(c.NewListSecretPropertiesPager(nil))
		accForbidden(t, err, "ForbiddenByRbac")
	})

	t.Run("ResourceGroupScope", func(t *testing.T) {
		p := e.createPrincipal(t, "group-scope")
		e.assignRole(t, "/subscriptions/"+e.in.Creds.SubscriptionID+"/resourceGroups/rg-scope", "Key Vault Secrets User", p.ObjectID)
		for _, vaultName := range []string{"scope-vault", "scope-other"} {
			if err := get(signIn(t, p, vaultName), "s1"); err != nil {
				t.Errorf("GetSecret(%s/s1): %v", vaultName, err)
			}
		}
		// policy-vault is in another resource group and uses access policies.
		accForbidden(t, get(signIn(t, p, "policy-vault"), "s1"), "AccessDenied")
	})

	t.Run("SubscriptionScope", func(t *testing.T) {
		p := e.createPrincipal(t, "subscription-scope")
		e.assignRole(t, "/subscriptions/"+e.in.Creds.SubscriptionID, "Key Vault Secrets User", p.ObjectID)
		if err := get(signIn(t, p, "scope-other"), "s1"); err != nil {
			t.Errorf("GetSecret(scope-other/s1): %v", err)
		}
	})

	t.Run("AssignmentDeleted", func(t *testing.T) {
		p := e.createPrincipal(t, "deleted-assignment")
		name := e.assignRole(t, vaultScope, "Key Vault Secrets User", p.ObjectID)
		c := signIn(t, p, "scope-vault")
		if err := get(c, "s1"); err != nil {
			t.Fatalf("GetSecret before the assignment is deleted: %v", err)
		}
		path := vaultScope + "/providers/Microsoft.Authorization/roleAssignments/" + name + "?api-version=" + accRoleAPIVersion
		if r := e.call(t, http.MethodDelete, path, e.admin, ""); r.Status != http.StatusOK {
			t.Fatalf("delete assignment: %v, want status 200", r)
		}
		if r := e.call(t, http.MethodGet, path, e.admin, ""); r.Status != http.StatusNotFound {
			t.Errorf("GET deleted assignment: %v, want status 404", r)
		}
		accForbidden(t, get(c, "s1"), "ForbiddenByRbac")
	})

	t.Run("ListByPrincipal", func(t *testing.T) {
		p := e.createPrincipal(t, "listed")
		name := e.assignRole(t, vaultScope+"/secrets/s2", "Key Vault Secrets User", p.ObjectID)
		filter := url.QueryEscape("principalId eq '" + p.ObjectID + "'")
		r := e.call(t, http.MethodGet, vaultScope+"/providers/Microsoft.Authorization/roleAssignments?api-version="+accRoleAPIVersion+"&$filter="+filter, e.admin, "")
		if r.Status != http.StatusOK {
			t.Fatalf("list assignments: %v", r)
		}
		var list struct {
			Value []struct {
				Name string `json:"name"`
			} `json:"value"`
		}
		r.JSON(t, &list)
		if len(list.Value) != 1 || list.Value[0].Name != name {
			t.Errorf("assignments of %s = %s, want just %s", p.ObjectID, r.Body, name)
		}
	})

	t.Run("AccessPoliciesIgnored", func(t *testing.T) {
		p := e.createPrincipal(t, "policy-on-rbac")
		e.editPolicy(t, "rg-scope", "scope-vault", armkeyvault.AccessPolicyUpdateKindAdd, p.ObjectID,
			vault.Permissions{Secrets: []string{"all"}, Keys: []string{"all"}})
		accForbidden(t, get(signIn(t, p, "scope-vault"), "s1"), "ForbiddenByRbac")
	})

	t.Run("RolesIgnoredWithPolicies", func(t *testing.T) {
		p := e.createPrincipal(t, "role-on-policy")
		e.assignRole(t, e.vaultID("rg-policy", "policy-vault"), "Key Vault Administrator", p.ObjectID)
		accForbidden(t, get(signIn(t, p, "policy-vault"), "s1"), "AccessDenied")
	})

	t.Run("VaultDeleteDropsAssignments", func(t *testing.T) {
		p := e.createPrincipal(t, "recovered")
		otherScope := e.vaultID("rg-scope", "scope-other")
		name := e.assignRole(t, otherScope, "Key Vault Secrets User", p.ObjectID)
		c := signIn(t, p, "scope-other")
		if err := get(c, "s1"); err != nil {
			t.Fatalf("GetSecret before the vault is deleted: %v", err)
		}
		if _, err := e.vaults.Delete(ctx, "rg-scope", "scope-other", nil); err != nil {
			t.Fatalf("Delete vault: %v", err)
		}
		e.createVault(t, "rg-scope", "scope-other", func(p *armkeyvault.VaultProperties) {
			p.CreateMode = to.Ptr(armkeyvault.CreateModeRecover)
		})
		r := e.call(t, http.MethodGet, otherScope+"/providers/Microsoft.Authorization/roleAssignments/"+name+"?api-version="+accRoleAPIVersion, e.admin, "")
		if r.Status != http.StatusNotFound {
			t.Errorf("assignment after the vault was deleted and recovered: %v, want status 404", r)
		}
		accForbidden(t, get(c, "s1"), "ForbiddenByRbac")
	})
}

// accBreakSignature inverts the first byte of a JWT's signature.
func accBreakSignature(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("decode signature: %v", err)
	}
	sig[0] ^= 0xff
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestAccessUnauthorized checks the tokens both APIs reject with 401.
func TestAccessUnauthorized(t *testing.T) {
	e := startAccEnv(t)
	in := e.in
	e.createVault(t, "rg-auth", "auth-vault", nil)
	p := e.createPrincipal(t, "short-lived")
	e.editPolicy(t, "rg-auth", "auth-vault", armkeyvault.AccessPolicyUpdateKindAdd, p.ObjectID, vault.Permissions{Secrets: []string{"list"}})
	dataURL := in.VaultURL("auth-vault") + "/secrets?api-version=7.5"
	mgmtPath := "/subscriptions/" + in.Creds.SubscriptionID + "/resourceGroups/rg-auth/providers/Microsoft.KeyVault/vaults/auth-vault?api-version=2023-07-01"
	adminData := accToken(t, in, in.Creds.ClientID, in.Creds.ClientSecret, in.Creds.Resource)

	wantData401 := func(t *testing.T, token string) {
		t.Helper()
		r := in.Do(t, http.MethodGet, dataURL, token, "")
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("data plane: %v, want status 401", r)
		}
		if code, _ := r.ErrorCode(); code != "Unauthorized" {
			t.Errorf("data plane error code = %q, want Unauthorized", code)
		}
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("data plane WWW-Authenticate = %q, want a Bearer challenge", r.Header.Get("WWW-Authenticate"))
		}
	}
	wantMgmt401 := func(t *testing.T, token, code string) {
		t.Helper()
		r := e.call(t, http.MethodGet, mgmtPath, token, "")
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("management API: %v, want status 401", r)
		}
		if got, _ := r.ErrorCode(); got != code {
			t.Errorf("management API error code = %q, want %q", got, code)
		}
	}

	t.Run("Baseline", func(t *testing.T) {
		if r := in.Do(t, http.MethodGet, dataURL, adminData, ""); r.Status != http.StatusOK {
			t.Errorf("data plane with a data-plane token: %v, want status 200", r)
		}
		if r := e.call(t, http.MethodGet, mgmtPath, e.admin, ""); r.Status != http.StatusOK {
			t.Errorf("management API with a management token: %v, want status 200", r)
		}
	})

	t.Run("ManagementTokenOnDataPlane", func(t *testing.T) {
		wantData401(t, e.admin)
	})

	t.Run("DataTokenOnManagement", func(t *testing.T) {
		wantMgmt401(t, adminData, "InvalidAuthenticationTokenAudience")
	})

	t.Run("BrokenSignature", func(t *testing.T) {
		wantData401(t, accBreakSignature(t, adminData))
		wantMgmt401(t, accBreakSignature(t, e.admin), "InvalidAuthenticationToken")
	})

	t.Run("DeletedPrincipal", func(t *testing.T) {
		data := accToken(t, in, p.ClientID, p.ClientSecret, in.Creds.Resource)
		mgmtToken := accToken(t, in, p.ClientID, p.ClientSecret, in.Creds.ManagementResource)
		if r := in.Do(t, http.MethodGet, dataURL, data, ""); r.Status != http.StatusOK {
			t.Fatalf("data plane before the principal is deleted: %v, want status 200", r)
		}
		if r := e.call(t, http.MethodDelete, "/keyvault/principals/"+p.ObjectID, e.admin, ""); r.Status != http.StatusOK {
			t.Fatalf("delete principal: %v, want status 200", r)
		}
		wantData401(t, data)
		wantMgmt401(t, mgmtToken, "InvalidAuthenticationToken")
		if r := accPostForm(t, in, accSecretForm(p.ClientID, p.ClientSecret, in.Creds.Resource)); r.Status != http.StatusUnauthorized {
			t.Errorf("token request of a deleted principal: %v, want status 401", r)
		}
	})
}

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keyvault/keyvault/internal/authz"
	"github.com/keyvault/keyvault/internal/kvtest"
	"github.com/keyvault/keyvault/internal/server"
)

// Role definition GUIDs of the built-in roles the tests assign.
const (
	secretsOfficerRole = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
	secretsUserRole    = "4633458b-17de-408a-b874-0445c86b69e6"
	noSuchObjectID     = "00000000-0000-0000-0000-00000000abcd"
)

// cli runs keyvault client commands in-process against one test server.
type cli struct {
	in          *kvtest.Instance
	credentials string // the server's credentials.json
}

// newCLI starts a server and clears the environment variables that would
// change which server or identity the commands use.
func newCLI(t *testing.T) *cli {
	t.Helper()
	clearClientEnv(t)
	in := kvtest.Start(t, kvtest.Options{})
	return &cli{in: in, credentials: filepath.Join(in.DataDir, server.CredentialsFile)}
}

func clearClientEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
		"AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_CLIENT_CERTIFICATE_PASSWORD", envCredentials, envCAFile} {
		t.Setenv(name, "")
	}
}

// execute runs the keyvault command line with args and returns what it
// printed and its error.
func execute(args ...string) (string, error) {
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// run runs a command with --credentials of the test server.
func (c *cli) run(args ...string) (string, error) {
	return execute(append(slices.Clone(args), "--credentials", c.credentials)...)
}

// ok runs a command that must succeed and returns its output.
func (c *cli) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.run(args...)
	if err != nil {
		t.Fatalf("keyvault %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// json runs a command that must succeed and decodes its JSON output into v.
func (c *cli) json(t *testing.T, v any, args ...string) {
	t.Helper()
	out := c.ok(t, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("keyvault %s: decode output %q: %v", strings.Join(args, " "), out, err)
	}
}

// fails runs a command that must fail and returns its error.
func (c *cli) fails(t *testing.T, args ...string) error {
	t.Helper()
	out, err := c.run(args...)
	if err == nil {
		t.Fatalf("keyvault %s succeeded with output %q, want an error", strings.Join(args, " "), out)
	}
	return err
}

// wantAPIError checks that err is the server's error response of status
// and code.
func wantAPIError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var e *apiError
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want a server error %d %s", err, status, code)
	}
	if e.Status != status || e.Code != code {
		t.Errorf("server error = %d %s (%s), want %d %s", e.Status, e.Code, e.Message, status, code)
	}
	if e.Message == "" {
		t.Errorf("server error %s has no message", e.Code)
	}
}

// wantErrorText checks that err's message contains text.
func wantErrorText(t *testing.T, err error, text string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), text) {
		t.Errorf("error = %v, want one containing %q", err, text)
	}
}

// createPrincipal creates a principal through the CLI.
func (c *cli) createPrincipal(t *testing.T, name string) principal {
	t.Helper()
	var p principal
	c.json(t, &p, "principal", "create", "--name", name)
	if p.ObjectID == "" || p.ClientID == "" || p.ClientSecret == "" {
		t.Fatalf("principal create = %+v, want object id, client id and secret", p)
	}
	return p
}

// signIn gets a management token as clientID with secret.
func signIn(t *testing.T, in *kvtest.Instance, clientID, secret string) error {
	t.Helper()
	cred := in.SecretCredential(t, clientID, secret)
	_, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{in.Creds.ManagementResource + "/.default"}})
	return err
}

// secretsClientAs returns an azsecrets client for vault signed in as p.
func secretsClientAs(t *testing.T, in *kvtest.Instance, vault string, p principal) *azsecrets.Client {
	t.Helper()
	client, err := azsecrets.NewClient(in.VaultURL(vault), in.SecretCredential(t, p.ClientID, p.ClientSecret),
		&azsecrets.ClientOptions{ClientOptions: in.ClientOptions()})
	if err != nil {
		t.Fatalf("secrets client: %v", err)
	}
	return client
}

// wantForbidden checks that err is a data-plane 403 response.
func wantForbidden(t *testing.T, err error, step string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("%s: error = %v, want a 403 response", step, err)
	}
	if re.StatusCode != http.StatusForbidden || re.ErrorCode != "Forbidden" {
		t.Errorf("%s: response = %d %s, want 403 Forbidden", step, re.StatusCode, re.ErrorCode)
	}
}

// writeCertificate writes a self-signed RSA certificate and its PKCS #8 key
// to one PEM file, as AZURE_CLIENT_CERTIFICATE_PATH expects.
func writeCertificate(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	template := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "cli-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write certificate: %v", err)
	}
	return cert
}

func TestCLIPrincipalCommands(t *testing.T) {
	c := newCLI(t)

	// create prints the four values a client needs, and the secret works.
	var created map[string]any
	c.json(t, &created, "principal", "create", "--name", "build-agent")
	for _, key := range []string{"clientId", "objectId", "tenantId", "clientSecret"} {
		if s, _ := created[key].(string); s == "" {
			t.Errorf("principal create output has no %s: %v", key, created)
		}
	}
	if created["tenantId"] != c.in.Creds.TenantID {
		t.Errorf("tenantId = %v, want %s", created["tenantId"], c.in.Creds.TenantID)
	}
	objectID, _ := created["objectId"].(string)
	clientID, _ := created["clientId"].(string)
	firstSecret, _ := created["clientSecret"].(string)
	if err := signIn(t, c.in, clientID, firstSecret); err != nil {
		t.Fatalf("sign in with the created secret: %v", err)
	}

	t.Run("list", func(t *testing.T) {
		var list []principal
		c.json(t, &list, "principal", "list")
		i := slices.IndexFunc(list, func(p principal) bool { return p.ObjectID == objectID })
		if i < 0 {
			t.Fatalf("principal list = %+v, want %s in it", list, objectID)
		}
		if list[i].DisplayName != "build-agent" || list[i].ClientID != clientID || list[i].ClientSecret != "" {
			t.Errorf("listed principal = %+v, want build-agent with client id %s and no secret", list[i], clientID)
		}
		if !slices.ContainsFunc(list, func(p principal) bool { return p.Admin && p.ClientID == c.in.Creds.ClientID }) {
			t.Errorf("principal list = %+v, want the administrator in it", list)
		}
	})

	t.Run("show", func(t *testing.T) {
		var p principal
		c.json(t, &p, "principal", "show", "--object-id", objectID)
		if p.ObjectID != objectID || p.ClientID != clientID || p.DisplayName != "build-agent" {
			t.Errorf("principal show = %+v, want object id %s, client id %s", p, objectID, clientID)
		}
		if len(p.Credentials) != 1 || p.Credentials[0].Type != "secret" || p.Credentials[0].Secret != "" {
			t.Errorf("credentials = %+v, want one secret without its value", p.Credentials)
		}
	})

	var addedSecret credential
	t.Run("credential add secret", func(t *testing.T) {
		c.json(t, &addedSecret, "principal", "credential", "add", "--object-id", objectID)
		if addedSecret.Type != "secret" || addedSecret.Secret == "" || addedSecret.ID == "" {
			t.Fatalf("credential add = %+v, want a secret with its value and id", addedSecret)
		}
		if err := signIn(t, c.in, clientID, addedSecret.Secret); err != nil {
			t.Errorf("sign in with the added secret: %v", err)
		}
	})

	t.Run("credential add certificate", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "client.pem")
		cert := writeCertificate(t, path)
		var added credential
		c.json(t, &added, "principal", "credential", "add", "--object-id", objectID, "--cert", path)
		sum := sha1.Sum(cert.Raw)
		if want := strings.ToUpper(hex.EncodeToString(sum[:])); added.Type != "certificate" || added.Thumbprint != want {
			t.Errorf("credential add --cert = %+v, want a certificate with thumbprint %s", added, want)
		}
		if added.Secret != "" {
			t.Errorf("certificate credential has a secret %q", added.Secret)
		}
	})

	t.Run("credential list", func(t *testing.T) {
		var list []credential
		c.json(t, &list, "principal", "credential", "list", "--object-id", objectID)
		var types []string
		for _, cr := range list {
			types = append(types, cr.Type)
			if cr.Secret != "" {
				t.Errorf("credential list shows the value of %s", cr.ID)
			}
		}
		if want := []string{"secret", "secret", "certificate"}; !slices.Equal(types, want) {
			t.Errorf("credential types = %v, want %v", types, want)
		}
	})

	t.Run("credential delete", func(t *testing.T) {
		out := c.ok(t, "principal", "credential", "delete", "--object-id", objectID, "--credential-id", addedSecret.ID)
		if out != "" {
			t.Errorf("credential delete printed %q, want nothing", out)
		}
		var list []credential
		c.json(t, &list, "principal", "credential", "list", "--object-id", objectID)
		if len(list) != 2 || slices.ContainsFunc(list, func(cr credential) bool { return cr.ID == addedSecret.ID }) {
			t.Errorf("credentials after delete = %+v, want 2 without %s", list, addedSecret.ID)
		}
		if err := signIn(t, c.in, clientID, addedSecret.Secret); err == nil {
			t.Errorf("sign in with the deleted secret succeeded")
		}
	})

	t.Run("credential reset", func(t *testing.T) {
		var reset credential
		c.json(t, &reset, "principal", "credential", "reset", "--object-id", objectID)
		if reset.Type != "secret" || reset.Secret == "" {
			t.Fatalf("credential reset = %+v, want a new secret with its value", reset)
		}
		var list []credential
		c.json(t, &list, "principal", "credential", "list", "--object-id", objectID)
		if len(list) != 1 || list[0].ID != reset.ID {
			t.Errorf("credentials after reset = %+v, want only %s", list, reset.ID)
		}
		if err := signIn(t, c.in, clientID, firstSecret); err == nil {
			t.Errorf("sign in with the secret from before the reset succeeded")
		}
		if err := signIn(t, c.in, clientID, reset.Secret); err != nil {
			t.Errorf("sign in with the reset secret: %v", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if out := c.ok(t, "principal", "delete", "--object-id", objectID); out != "" {
			t.Errorf("principal delete printed %q, want nothing", out)
		}
		err := c.fails(t, "principal", "show", "--object-id", objectID)
		wantAPIError(t, err, http.StatusNotFound, "PrincipalNotFound")
	})
}

func TestCLIPrincipalErrors(t *testing.T) {
	c := newCLI(t)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		// The error is the server's, of status and code, if code is set,
		// and else an error whose message contains text.
		status int
		code   string
		text   string
	}{
		{name: "create without name", args: []string{"principal", "create"}, text: `required flag(s) "name" not set`},
		{name: "show without object id", args: []string{"principal", "show"}, text: `required flag(s) "object-id" not set`},
		{name: "show unknown object id", args: []string{"principal", "show", "--object-id", noSuchObjectID},
			status: http.StatusNotFound, code: "PrincipalNotFound"},
		{name: "delete unknown object id", args: []string{"principal", "delete", "--object-id", noSuchObjectID},
			status: http.StatusNotFound, code: "PrincipalNotFound"},
		{name: "credential add unknown object id", args: []string{"principal", "credential", "add", "--object-id", noSuchObjectID},
			status: http.StatusNotFound, code: "PrincipalNotFound"},
		{name: "credential list unknown object id", args: []string{"principal", "credential", "list", "--object-id", noSuchObjectID},
			status: http.StatusNotFound, code: "PrincipalNotFound"},
		{name: "credential reset unknown object id", args: []string{"principal", "credential", "reset", "--object-id", noSuchObjectID},
			status: http.StatusNotFound, code: "PrincipalNotFound"},
		{name: "credential delete without id", args: []string{"principal", "credential", "delete", "--object-id", noSuchObjectID},
			text: `required flag(s) "credential-id" not set`},
		{name: "credential add file without PEM", args: []string{"principal", "credential", "add", "--object-id", noSuchObjectID, "--cert", notPEM},
			text: "has no PEM CERTIFICATE block"},
		{name: "credential add missing file", args: []string{"principal", "credential", "add", "--object-id", noSuchObjectID, "--cert", notPEM + ".missing"},
			text: "read --cert"},
		{name: "unknown output format", args: []string{"principal", "list", "--output", "xml"}, text: `invalid --output "xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.fails(t, tt.args...)
			if tt.code != "" {
				wantAPIError(t, err, tt.status, tt.code)
				return
			}
			wantErrorText(t, err, tt.text)
		})
	}
}

func TestCLIOutputFormats(t *testing.T) {
	c := newCLI(t)
	p := c.createPrincipal(t, "formats")

	t.Run("json", func(t *testing.T) {
		out := c.ok(t, "principal", "show", "--object-id", p.ObjectID)
		if !strings.HasPrefix(out, "{\n  \"clientId\": ") || !strings.HasSuffix(out, "}\n") {
			t.Errorf("json output = %q, want an indented object", out)
		}
	})

	t.Run("table", func(t *testing.T) {
		out := c.ok(t, "principal", "show", "--object-id", p.ObjectID, "--output", "table")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("table = %q, want a header, a rule and one row", out)
		}
		if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"DisplayName", "ClientId", "ObjectId", "Admin", "Credentials"}) {
			t.Errorf("header = %v", got)
		}
		if got := strings.Fields(lines[2]); !slices.Equal(got, []string{"formats", p.ClientID, p.ObjectID, "false", "1"}) {
			t.Errorf("row = %v", got)
		}
		// Columns are aligned: each starts at the same offset in every line.
		if strings.Index(lines[0], "ObjectId") != strings.Index(lines[2], p.ObjectID) {
			t.Errorf("table columns are not aligned:\n%s", out)
		}
	})

	t.Run("tsv", func(t *testing.T) {
		out := c.ok(t, "principal", "show", "--object-id", p.ObjectID, "-o", "tsv")
		want := strings.Join([]string{"formats", p.ClientID, p.ObjectID, "false", "1"}, "\t") + "\n"
		if out != want {
			t.Errorf("tsv = %q, want %q", out, want)
		}
	})

	t.Run("none", func(t *testing.T) {
		if out := c.ok(t, "principal", "create", "--name", "quiet", "--output", "none"); out != "" {
			t.Errorf("--output none printed %q", out)
		}
	})
}

func TestCLIVaultCommands(t *testing.T) {
	c := newCLI(t)

	var v armkeyvault.Vault
	c.json(t, &v, "vault", "create", "--name", "cli-vault", "--resource-group", "rg1", "--location", "westeurope",
		"--sku", "premium", "--retention-days", "30", "--enable-rbac-authorization", "--tags", "env=dev", "team=core")
	vaultID := "/subscriptions/" + c.in.Creds.SubscriptionID + "/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/cli-vault"
	if deref(v.ID) != vaultID || deref(v.Location) != "westeurope" {
		t.Errorf("created vault id %s location %s, want %s westeurope", deref(v.ID), deref(v.Location), vaultID)
	}
	p := v.Properties
	if p == nil || p.SKU == nil || *p.SKU.Name != armkeyvault.SKUNamePremium || *p.SoftDeleteRetentionInDays != 30 ||
		!*p.EnableRbacAuthorization || p.TenantID == nil || *p.TenantID != c.in.Creds.TenantID {
		t.Errorf("created vault properties = %+v, want premium, 30 days, RBAC, tenant %s", p, c.in.Creds.TenantID)
	}
	if p != nil && !strings.HasPrefix(deref(p.VaultURI), "https://cli-vault.vault.localhost:") {
		t.Errorf("vaultUri = %s", deref(p.VaultURI))
	}
	if len(v.Tags) != 2 || deref(v.Tags["env"]) != "dev" || deref(v.Tags["team"]) != "core" {
		t.Errorf("tags = %v, want env=dev team=core", v.Tags)
	}

	t.Run("show", func(t *testing.T) {
		for _, args := range [][]string{{"--name", "cli-vault"}, {"--name", "cli-vault", "--resource-group", "rg1"}} {
			var got armkeyvault.Vault
			c.json(t, &got, append([]string{"vault", "show"}, args...)...)
			if deref(got.ID) != vaultID {
				t.Errorf("vault show %v = %s, want %s", args, deref(got.ID), vaultID)
			}
		}
		err := c.fails(t, "vault", "show", "--name", "cli-vault", "--resource-group", "rg2")
		wantAPIError(t, err, http.StatusNotFound, "ResourceNotFound")
		err = c.fails(t, "vault", "show", "--name", "no-such-vault")
		wantAPIError(t, err, http.StatusNotFound, "ResourceNotFound")
	})

	t.Run("list", func(t *testing.T) {
		var inGroup, all []armkeyvault.Vault
		c.json(t, &inGroup, "vault", "list", "--resource-group", "rg1")
		if len(inGroup) != 1 || deref(inGroup[0].Name) != "cli-vault" {
			t.Errorf("vault list -g rg1 = %d vaults, want cli-vault only", len(inGroup))
		}
		c.json(t, &all, "vault", "list")
		var names []string
		for _, v := range all {
			names = append(names, deref(v.Name))
		}
		slices.Sort(names)
		if want := []string{"cli-vault", "default"}; !slices.Equal(names, want) {
			t.Errorf("vault list = %v, want %v", names, want)
		}
		out := c.ok(t, "vault", "list", "-g", "rg1", "-o", "tsv")
		if !strings.HasPrefix(out, "cli-vault\trg1\twesteurope\tpremium\ttrue\thttps://cli-vault.vault.localhost:") {
			t.Errorf("vault list tsv = %q", out)
		}
	})

	t.Run("create errors", func(t *testing.T) {
		err := c.fails(t, "vault", "create", "--name", "cli-vault", "--resource-group", "rg1")
		wantErrorText(t, err, "vault cli-vault already exists in resource group rg1")
		wantErrorText(t, c.fails(t, "vault", "create", "--name", "other", "--sku", "basic"), `invalid --sku "basic"`)
		wantErrorText(t, c.fails(t, "vault", "create", "--name", "other", "--tags", "=x"), `invalid --tags "=x"`)
		wantErrorText(t, c.fails(t, "vault", "create", "--sku", "standard"), `required flag(s) "name" not set`)
		err = c.fails(t, "vault", "create", "--name", "other", "--retention-days", "3")
		wantAPIError(t, err, http.StatusBadRequest, "BadParameter")
	})

	t.Run("delete recover purge", func(t *testing.T) {
		if out := c.ok(t, "vault", "delete", "--name", "cli-vault"); out != "" {
			t.Errorf("vault delete printed %q", out)
		}
		wantAPIError(t, c.fails(t, "vault", "show", "--name", "cli-vault"), http.StatusNotFound, "ResourceNotFound")
		wantAPIError(t, c.fails(t, "vault", "delete", "--name", "cli-vault"), http.StatusNotFound, "ResourceNotFound")

		var deleted []armkeyvault.DeletedVault
		c.json(t, &deleted, "vault", "list-deleted")
		if len(deleted) != 1 || deref(deleted[0].Name) != "cli-vault" || deref(deleted[0].Properties.Location) != "westeurope" ||
			deref(deleted[0].Properties.VaultID) != vaultID {
			t.Fatalf("list-deleted = %+v, want cli-vault in westeurope", deleted)
		}

		var recovered armkeyvault.Vault
		c.json(t, &recovered, "vault", "recover", "--name", "cli-vault")
		if deref(recovered.ID) != vaultID || *recovered.Properties.SoftDeleteRetentionInDays != 30 || deref(recovered.Tags["env"]) != "dev" {
			t.Errorf("recovered vault = %s, retention %d, tags %v; want its old settings", deref(recovered.ID),
				*recovered.Properties.SoftDeleteRetentionInDays, recovered.Tags)
		}
		c.ok(t, "vault", "show", "--name", "cli-vault")

		c.ok(t, "vault", "delete", "--name", "cli-vault", "--resource-group", "rg1")
		if out := c.ok(t, "vault", "purge", "--name", "cli-vault"); out != "" {
			t.Errorf("vault purge printed %q", out)
		}
		c.json(t, &deleted, "vault", "list-deleted")
		if len(deleted) != 0 {
			t.Errorf("list-deleted after purge = %d vaults, want 0", len(deleted))
		}
		wantAPIError(t, c.fails(t, "vault", "purge", "--name", "cli-vault"), http.StatusNotFound, "ResourceNotFound")
		wantAPIError(t, c.fails(t, "vault", "recover", "--name", "cli-vault"), http.StatusNotFound, "ResourceNotFound")
		wantAPIError(t, c.fails(t, "vault", "purge", "--name", "cli-vault", "--location", "westeurope"), http.StatusNotFound, "ResourceNotFound")
	})

	t.Run("purge protection", func(t *testing.T) {
		c.ok(t, "vault", "create", "--name", "kept-vault", "--enable-purge-protection")
		c.ok(t, "vault", "delete", "--name", "kept-vault")
		out := c.ok(t, "vault", "list-deleted", "-o", "table")
		if !strings.Contains(out, "kept-vault") || !strings.Contains(out, "PurgeProtection") {
			t.Errorf("list-deleted table = %q, want kept-vault", out)
		}
		err := c.fails(t, "vault", "purge", "--name", "kept-vault", "--location", server.DefaultLocation)
		wantAPIError(t, err, http.StatusConflict, "VaultPurgeProtected")
	})
}

// policyOf returns the access policy entry of objectID, or nil.
func policyOf(list []armkeyvault.AccessPolicyEntry, objectID string) *armkeyvault.AccessPolicyEntry {
	for i := range list {
		if strings.EqualFold(deref(list[i].ObjectID), objectID) {
			return &list[i]
		}
	}
	return nil
}

// sortedNames returns permission names in lower case, sorted.
func sortedNames[T ~string](list []*T) []string {
	out := []string{}
	for _, p := range list {
		out = append(out, strings.ToLower(string(*p)))
	}
	slices.Sort(out)
	return out
}

func sortedLower(list []string) []string {
	out := []string{}
	for _, s := range list {
		out = append(out, strings.ToLower(s))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestCLIVaultPolicies(t *testing.T) {
	c := newCLI(t)
	p := c.createPrincipal(t, "policy-app")
	c.ok(t, "vault", "create", "--name", "pol-vault")

	t.Run("errors", func(t *testing.T) {
		err := c.fails(t, "vault", "set-policy", "--name", "pol-vault", "--object-id", p.ObjectID, "--template", "Key Magic")
		wantErrorText(t, err, `unknown --template "Key Magic"`)
		wantErrorText(t, err, `"Key, Secret, & Certificate Management"`)
		wantErrorText(t, err, `"Secret Management"`)

		err = c.fails(t, "vault", "set-policy", "--name", "pol-vault", "--template", "Secret Management")
		wantErrorText(t, err, "[object-id spn]")
		err = c.fails(t, "vault", "set-policy", "--name", "pol-vault", "--object-id", p.ObjectID, "--spn", p.ClientID, "--template", "Secret Management")
		wantErrorText(t, err, "[object-id spn]")
		err = c.fails(t, "vault", "set-policy", "--object-id", p.ObjectID, "--template", "Secret Management")
		wantErrorText(t, err, `required flag(s) "name" not set`)
		err = c.fails(t, "vault", "set-policy", "--name", "pol-vault", "--object-id", p.ObjectID)
		wantErrorText(t, err, "no permissions to grant")
		err = c.fails(t, "vault", "set-policy", "--name", "pol-vault", "--spn", noSuchObjectID, "--secret-permissions", "get")
		wantErrorText(t, err, "no principal has the object id or client id "+noSuchObjectID)
		err = c.fails(t, "vault", "set-policy", "--name", "no-such-vault", "--object-id", p.ObjectID, "--secret-permissions", "get")
		wantAPIError(t, err, http.StatusNotFound, "ResourceNotFound")
		err = c.fails(t, "vault", "set-policy", "--name", "pol-vault", "--object-id", p.ObjectID, "--key-permissions", "fly")
		wantAPIError(t, err, http.StatusBadRequest, "BadParameter")
		err = c.fails(t, "vault", "set-policy", "--name", "pol-vault", "--object-id", p.ObjectID, "--secret-permissions", "get", "stray", "--", "extra")
		wantErrorText(t, err, "extra")
		err = c.fails(t, "vault", "delete-policy", "--name", "pol-vault")
		wantErrorText(t, err, "[object-id spn]")
	})

	t.Run("explicit permissions by client id", func(t *testing.T) {
		var policies []armkeyvault.AccessPolicyEntry
		c.json(t, &policies, "vault", "set-policy", "--name", "pol-vault", "--spn", p.ClientID,
			"--key-permissions", "get", "list", "--secret-permissions", "get")
		entry := policyOf(policies, p.ObjectID)
		if entry == nil {
			t.Fatalf("policies = %+v, want an entry for %s", policies, p.ObjectID)
		}
		if deref(entry.TenantID) != c.in.Creds.TenantID {
			t.Errorf("entry tenant = %s, want %s", deref(entry.TenantID), c.in.Creds.TenantID)
		}
		perms := entry.Permissions
		if got := sortedNames(perms.Keys); !slices.Equal(got, []string{"get", "list"}) {
			t.Errorf("keys = %v, want [get list]", got)
		}
		if got := sortedNames(perms.Secrets); !slices.Equal(got, []string{"get"}) {
			t.Errorf("secrets = %v, want [get]", got)
		}
		if got := sortedNames(perms.Certificates); len(got) != 0 {
			t.Errorf("certificates = %v, want none", got)
		}
	})

	t.Run("template adds to the entry", func(t *testing.T) {
		var policies []armkeyvault.AccessPolicyEntry
		c.json(t, &policies, "vault", "set-policy", "--name", "pol-vault", "--object-id", p.ObjectID,
			"--template", "secret management", "--certificate-permissions", "get")
		entry := policyOf(policies, p.ObjectID)
		if entry == nil {
			t.Fatalf("policies = %+v, want an entry for %s", policies, p.ObjectID)
		}
		if got := sortedNames(entry.Permissions.Keys); !slices.Equal(got, []string{"get", "list"}) {
			t.Errorf("keys = %v, want [get list] kept", got)
		}
		want := sortedLower(authz.Templates["Secret Management"].Secrets)
		if got := sortedNames(entry.Permissions.Secrets); !slices.Equal(got, want) {
			t.Errorf("secrets = %v, want %v", got, want)
		}
		if got := sortedNames(entry.Permissions.Certificates); !slices.Equal(got, []string{"get"}) {
			t.Errorf("certificates = %v, want [get]", got)
		}
		var v armkeyvault.Vault
		c.json(t, &v, "vault", "show", "--name", "pol-vault")
		if policyOf(derefEntries(v.Properties.AccessPolicies), p.ObjectID) == nil {
			t.Errorf("vault show has no access policy for %s", p.ObjectID)
		}
		out := c.ok(t, "vault", "set-policy", "--name", "pol-vault", "--object-id", p.ObjectID, "--secret-permissions", "get", "-o", "table")
		if !strings.Contains(out, "ObjectId") || !strings.Contains(out, p.ObjectID) {
			t.Errorf("set-policy table = %q, want the entry of %s", out, p.ObjectID)
		}
	})

	t.Run("delete policy", func(t *testing.T) {
		for range 2 { // a second delete finds no entry, which is not an error
			var policies []armkeyvault.AccessPolicyEntry
			c.json(t, &policies, "vault", "delete-policy", "--name", "pol-vault", "--object-id", p.ObjectID)
			if policyOf(policies, p.ObjectID) != nil {
				t.Errorf("policies after delete-policy = %+v, want none for %s", policies, p.ObjectID)
			}
		}
		var v armkeyvault.Vault
		c.json(t, &v, "vault", "show", "--name", "pol-vault")
		if policyOf(derefEntries(v.Properties.AccessPolicies), p.ObjectID) != nil {
			t.Errorf("vault show still has an access policy for %s", p.ObjectID)
		}
	})
}

func derefEntries(list []*armkeyvault.AccessPolicyEntry) []armkeyvault.AccessPolicyEntry {
	out := make([]armkeyvault.AccessPolicyEntry, 0, len(list))
	for _, e := range list {
		out = append(out, *e)
	}
	return out
}

// TestCLIPortalFlow follows the portal's steps with the CLI: a new
// principal, a new vault and a template access policy, which then governs
// what the principal may do through the Azure SDK.
func TestCLIPortalFlow(t *testing.T) {
	c := newCLI(t)
	p := c.createPrincipal(t, "web-app")
	c.ok(t, "vault", "create", "--name", "portal-vault")
	c.ok(t, "vault", "set-policy", "--name", "portal-vault", "--object-id", p.ObjectID,
		"--template", "Key, Secret, & Certificate Management")

	ctx := context.Background()
	client := secretsClientAs(t, c.in, "portal-vault", p)
	if _, err := client.SetSecret(ctx, "db-password", azsecrets.SetSecretParameters{Value: to.Ptr("s3cret")}, nil); err != nil {
		t.Fatalf("set secret as the principal: %v", err)
	}
	got, err := client.GetSecret(ctx, "db-password", "", nil)
	if err != nil || deref(got.Value) != "s3cret" {
		t.Fatalf("get secret = %q, %v; want s3cret", deref(got.Value), err)
	}
	if _, err := client.DeleteSecret(ctx, "db-password", nil); err != nil {
		t.Fatalf("delete secret as the principal: %v", err)
	}
	_, err = client.PurgeDeletedSecret(ctx, "db-password", nil)
	wantForbidden(t, err, "purge deleted secret, which the template does not grant")

	// The policy applies to its own vault only.
	other := secretsClientAs(t, c.in, "default", p)
	_, err = other.SetSecret(ctx, "x", azsecrets.SetSecretParameters{Value: to.Ptr("y")}, nil)
	wantForbidden(t, err, "set secret in a vault without a policy")
}

func TestCLIRoleAssignments(t *testing.T) {
	c := newCLI(t)
	p := c.createPrincipal(t, "rbac-app")
	var v armkeyvault.Vault
	c.json(t, &v, "vault", "create", "--name", "rbac-vault", "--enable-rbac-authorization")
	vaultID := deref(v.ID)

	ctx := context.Background()
	client := secretsClientAs(t, c.in, "rbac-vault", p)
	setSecret := func() error {
		_, err := client.SetSecret(ctx, "api-key", azsecrets.SetSecretParameters{Value: to.Ptr("v1")}, nil)
		return err
	}
	wantForbidden(t, setSecret(), "set secret before any role assignment")

	t.Run("create by name allows", func(t *testing.T) {
		var a roleAssignment
		c.json(t, &a, "role", "assignment", "create", "--role", "Key Vault Secrets Officer", "--assignee", p.ClientID, "--vault-name", "rbac-vault")
		if a.Properties.PrincipalID != p.ObjectID || !strings.EqualFold(a.Properties.Scope, vaultID) ||
			roleGUID(a.Properties.RoleDefinitionID) != secretsOfficerRole || a.Properties.PrincipalType != "ServicePrincipal" {
			t.Errorf("assignment = %+v, want Secrets Officer for %s at %s", a.Properties, p.ObjectID, vaultID)
		}
		if a.ID != vaultID+"/providers/Microsoft.Authorization/roleAssignments/"+a.Name {
			t.Errorf("assignment id = %s", a.ID)
		}
		if err := setSecret(); err != nil {
			t.Errorf("set secret with the role: %v", err)
		}
	})

	t.Run("list", func(t *testing.T) {
		var list []roleAssignment
		c.json(t, &list, "role", "assignment", "list", "--vault-name", "rbac-vault", "--assignee", p.ObjectID)
		if len(list) != 1 || roleGUID(list[0].Properties.RoleDefinitionID) != secretsOfficerRole {
			t.Errorf("list --vault-name --assignee = %+v, want the Secrets Officer assignment", list)
		}
		c.json(t, &list, "role", "assignment", "list", "--scope", vaultID, "--role", "Key Vault Reader")
		if len(list) != 0 {
			t.Errorf("list --role Key Vault Reader = %d assignments, want 0", len(list))
		}
		c.json(t, &list, "role", "assignment", "list")
		if !slices.ContainsFunc(list, func(a roleAssignment) bool { return a.Properties.PrincipalID == p.ObjectID }) {
			t.Errorf("list at the subscription = %+v, want the vault's assignment below it", list)
		}
		out := c.ok(t, "role", "assignment", "list", "--scope", vaultID, "-o", "table")
		if !strings.Contains(out, "Key Vault Secrets Officer") || !strings.Contains(out, p.ObjectID) {
			t.Errorf("list table = %q, want the role name and principal", out)
		}
	})

	t.Run("delete by role and assignee denies", func(t *testing.T) {
		out := c.ok(t, "role", "assignment", "delete", "--role", "Key Vault Secrets Officer", "--assignee", p.ClientID, "--vault-name", "rbac-vault")
		if out != "" {
			t.Errorf("delete printed %q", out)
		}
		var list []roleAssignment
		c.json(t, &list, "role", "assignment", "list", "--vault-name", "rbac-vault", "--assignee", p.ObjectID)
		if len(list) != 0 {
			t.Errorf("assignments after delete = %+v, want none", list)
		}
		wantForbidden(t, setSecret(), "set secret after the assignment was deleted")
	})

	t.Run("create by GUID and delete by id", func(t *testing.T) {
		var a roleAssignment
		c.json(t, &a, "role", "assignment", "create", "--role", secretsUserRole, "--assignee-object-id", p.ObjectID, "--scope", vaultID)
		if _, err := client.GetSecret(ctx, "api-key", "", nil); err != nil {
			t.Errorf("get secret as Secrets User: %v", err)
		}
		wantForbidden(t, setSecret(), "set secret as Secrets User")
		c.ok(t, "role", "assignment", "delete", "--ids", a.ID)
		_, err := client.GetSecret(ctx, "api-key", "", nil)
		wantForbidden(t, err, "get secret after delete --ids")
	})

	t.Run("errors", func(t *testing.T) {
		err := c.fails(t, "role", "assignment", "create", "--role", "Key Vault Wizard", "--assignee", p.ObjectID, "--vault-name", "rbac-vault")
		wantErrorText(t, err, `no role definition is named "Key Vault Wizard"`)
		err = c.fails(t, "role", "assignment", "create", "--role", noSuchObjectID, "--assignee", p.ObjectID, "--vault-name", "rbac-vault")
		wantAPIError(t, err, http.StatusNotFound, "RoleDefinitionDoesNotExist")
		err = c.fails(t, "role", "assignment", "create", "--role", "Key Vault Reader", "--assignee", p.ObjectID)
		wantErrorText(t, err, "[scope vault-name]")
		err = c.fails(t, "role", "assignment", "create", "--role", "Key Vault Reader", "--vault-name", "rbac-vault")
		wantErrorText(t, err, "[assignee assignee-object-id]")
		err = c.fails(t, "role", "assignment", "create", "--assignee", p.ObjectID, "--vault-name", "rbac-vault")
		wantErrorText(t, err, `required flag(s) "role" not set`)
		err = c.fails(t, "role", "assignment", "create", "--role", "Key Vault Reader", "--assignee", noSuchObjectID, "--vault-name", "rbac-vault")
		wantErrorText(t, err, "no principal has the object id or client id")
		err = c.fails(t, "role", "assignment", "create", "--role", "Key Vault Reader", "--assignee", p.ObjectID, "--vault-name", "no-such-vault")
		wantAPIError(t, err, http.StatusNotFound, "ResourceNotFound")
		err = c.fails(t, "role", "assignment", "create", "--role", "Key Vault Reader", "--assignee", p.ObjectID, "--vault-name", "rbac-vault", "--scope", vaultID)
		wantErrorText(t, err, "pass --scope or --vault-name, not both")
		err = c.fails(t, "role", "assignment", "delete")
		wantErrorText(t, err, "nothing selects the assignments to delete")
		err = c.fails(t, "role", "assignment", "delete", "--ids", "x", "--role", "Key Vault Reader")
		wantErrorText(t, err, "pass --ids alone")
		err = c.fails(t, "role", "assignment", "delete", "--role", "Key Vault Secrets Officer", "--assignee", p.ObjectID, "--vault-name", "rbac-vault")
		wantErrorText(t, err, "no role assignment matches")
	})
}

func TestCLIConnectionSettings(t *testing.T) {
	c := newCLI(t)

	t.Run("credentials from environment", func(t *testing.T) {
		t.Setenv(envCredentials, c.credentials)
		out, err := execute("vault", "show", "--name", "default", "-o", "tsv")
		if err != nil || !strings.HasPrefix(out, "default\tdefault\tlocal\t") {
			t.Errorf("vault show with %s = %q, %v; want the default vault", envCredentials, out, err)
		}
	})

	t.Run("missing credentials file", func(t *testing.T) {
		_, err := execute("vault", "list", "--credentials", filepath.Join(t.TempDir(), "credentials.json"))
		wantErrorText(t, err, "read credentials file")
	})

	t.Run("untrusted CA", func(t *testing.T) {
		otherCA := filepath.Join(t.TempDir(), "other-ca.pem")
		writeCertificate(t, otherCA)
		wantErrorText(t, c.fails(t, "vault", "list", "--ca-file", otherCA), "certificate signed by unknown authority")
		t.Setenv(envCAFile, otherCA)
		wantErrorText(t, c.fails(t, "vault", "list"), "certificate signed by unknown authority")
	})

	t.Run("client secret from environment", func(t *testing.T) {
		p := c.createPrincipal(t, "env-app")
		t.Setenv("AZURE_CLIENT_ID", p.ClientID)
		t.Setenv("AZURE_CLIENT_SECRET", p.ClientSecret)
		err := c.fails(t, "principal", "list")
		wantAPIError(t, err, http.StatusForbidden, "AuthorizationFailed")
	})

	t.Run("client id without secret", func(t *testing.T) {
		t.Setenv("AZURE_CLIENT_ID", noSuchObjectID)
		wantErrorText(t, c.fails(t, "vault", "list"), "AZURE_CLIENT_ID is set without AZURE_CLIENT_SECRET")
	})

	t.Run("wrong client secret", func(t *testing.T) {
		t.Setenv("AZURE_CLIENT_SECRET", "not-the-secret")
		wantErrorText(t, c.fails(t, "vault", "list"), "sign-in failed: invalid_client")
	})

	t.Run("client certificate from environment", func(t *testing.T) {
		p := c.createPrincipal(t, "cert-app")
		path := filepath.Join(t.TempDir(), "cert-app.pem")
		writeCertificate(t, path)
		c.ok(t, "principal", "credential", "add", "--object-id", p.ObjectID, "--cert", path)
		c.ok(t, "role", "assignment", "create", "--role", "Reader", "--assignee-object-id", p.ObjectID,
			"--scope", "/subscriptions/"+c.in.Creds.SubscriptionID)

		t.Setenv("AZURE_CLIENT_ID", p.ClientID)
		t.Setenv("AZURE_CLIENT_CERTIFICATE_PATH", path)
		var list []armkeyvault.Vault
		c.json(t, &list, "vault", "list")
		if len(list) != 1 || deref(list[0].Name) != "default" {
			t.Errorf("vault list as the certificate principal = %d vaults, want default", len(list))
		}
		wantAPIError(t, c.fails(t, "principal", "list"), http.StatusForbidden, "AuthorizationFailed")
	})

	t.Run("other hosts refused", func(t *testing.T) {
		client := newHTTPClient(nil, "localhost:"+c.in.Port)
		_, err := client.Get("https://other.vault.localhost:" + c.in.Port + "/")
		wantErrorText(t, err, "refused: the client connects only to the server of the credentials file")
	})
}

func TestCLISpreadValues(t *testing.T) {
	names := []string{"tags", "ids"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "one value", args: []string{"--tags", "a=1"}, want: []string{"--tags", "a=1"}},
		{name: "several values", args: []string{"--tags", "a=1", "b=2", "--name", "n"},
			want: []string{"--tags", "a=1", "--tags", "b=2", "--name", "n"}},
		{name: "equals form", args: []string{"--ids=x", "y"}, want: []string{"--ids=x", "--ids", "y"}},
		{name: "other flags untouched", args: []string{"--name", "n", "extra"}, want: []string{"--name", "n", "extra"}},
		{name: "stops at double dash", args: []string{"--ids", "x", "--", "y"}, want: []string{"--ids", "x", "--", "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := spreadValues(tt.args, names); !slices.Equal(got, tt.want) {
				t.Errorf("spreadValues(%q) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

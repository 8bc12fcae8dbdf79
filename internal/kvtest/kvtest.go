// Package kvtest starts real KeyVault servers for tests, in the test process
// or as a child process, and builds clients that reach them: HTTP clients
// that trust the server's CA and Azure SDK clients with a client-secret
// credential. Every connection goes to the server's loopback address through
// a custom dialer, so vault host names such as default.vault.localhost are
// never looked up in DNS.
package kvtest

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keyvault/keyvault/internal/pki"
	"github.com/keyvault/keyvault/internal/server"
)

// Instance is a running server as a client sees it.
type Instance struct {
	DataDir string
	Addr    string // 127.0.0.1:port
	Port    string
	Creds   server.CredentialsJSON
	CAPool  *x509.CertPool
}

// Options changes the server configuration of Start.
type Options struct {
	// Configure, if set, edits the configuration before the server opens.
	Configure func(*server.Config)
	// DataDir reuses a data directory; empty means a new temporary one.
	DataDir string
}

// Start runs a server in the test process on a random loopback port and
// stops it (gracefully) when the test ends.
func Start(tb testing.TB, opts Options) *Instance {
	tb.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir = opts.DataDir
	if cfg.DataDir == "" {
		cfg.DataDir = tb.TempDir()
	}
	cfg.Addr = "127.0.0.1:0"
	// The default vault is premium: its -HSM key types stay software keys
	// in tests that start no PKCS#11 token.
	cfg.AllowSoftwareHSM = true
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("KEYVAULT_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Open(ctx, cfg, log)
	if err != nil {
		cancel()
		tb.Fatalf("open server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("server shutdown: %v", err)
		}
	})
	return Load(tb, cfg.DataDir, srv.Addr().String())
}

// Load reads the credentials and CA of a server already running at addr
// with data directory dir.
func Load(tb testing.TB, dir, addr string) *Instance {
	tb.Helper()
	in := &Instance{DataDir: dir, Addr: addr}
	_, in.Port, _ = net.SplitHostPort(addr)
	raw, err := os.ReadFile(filepath.Join(dir, server.CredentialsFile))
	if err != nil {
		tb.Fatalf("read credentials: %v", err)
	}
	if err := json.Unmarshal(raw, &in.Creds); err != nil {
		tb.Fatalf("parse credentials: %v", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, pki.CAFile))
	if err != nil {
		tb.Fatalf("read CA: %v", err)
	}
	in.CAPool = x509.NewCertPool()
	if !in.CAPool.AppendCertsFromPEM(caPEM) {
		tb.Fatalf("no certificate in %s", pki.CAFile)
	}
	return in
}

// VaultURL returns the URL of vault by host name, such as
// https://default.vault.localhost:PORT.
func (in *Instance) VaultURL(vault string) string {
	return "https://" + vault + ".vault.localhost:" + in.Port
}

// Transport returns an HTTP transport that trusts the server's CA and
// connects every request to the server's address, whatever its host name.
// TLS still checks the certificate against the host name in the URL.
func (in *Instance) Transport() *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, in.Addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: in.CAPool},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 64,
	}
}

// HTTPClient returns a client with Transport.
func (in *Instance) HTTPClient() *http.Client {
	return &http.Client{Transport: in.Transport(), Timeout: 60 * time.Second}
}

// ClientOptions returns Azure SDK client options that use Transport and
// retry little, so that failures show quickly.
func (in *Instance) ClientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Transport: in.HTTPClient(),
		Retry:     policy.RetryOptions{MaxRetries: 1, RetryDelay: 10 * time.Millisecond},
		Telemetry: policy.TelemetryOptions{Disabled: true},
	}
}

// Credential returns an azidentity.ClientSecretCredential for the
// administrator, pointed at the server's token service.
func (in *Instance) Credential(tb testing.TB) *azidentity.ClientSecretCredential {
	tb.Helper()
	opts := in.ClientOptions()
	opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: in.Creds.AuthorityHost}
	cred, err := azidentity.NewClientSecretCredential(in.Creds.TenantID, in.Creds.ClientID, in.Creds.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		tb.Fatalf("credential: %v", err)
	}
	return cred
}

// SecretsClient returns an azsecrets client for vault, reached by its host
// name, with the SDK's challenge-resource verification left on.
func (in *Instance) SecretsClient(tb testing.TB, vault string) *azsecrets.Client {
	tb.Helper()
	c, err := azsecrets.NewClient(in.VaultURL(vault), in.Credential(tb), &azsecrets.ClientOptions{ClientOptions: in.ClientOptions()})
	if err != nil {
		tb.Fatalf("secrets client: %v", err)
	}
	return c
}

// Token returns an access token for the vault resource, fetched from the
// token endpoint with the administrator's client secret.
func (in *Instance) Token(tb testing.TB) string {
	tb.Helper()
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {in.Creds.ClientID},
		"client_secret": {in.Creds.ClientSecret}, "scope": {in.Creds.Resource + "/.default"},
	}
	resp, err := in.HTTPClient().PostForm("https://localhost:"+in.Port+"/"+in.Creds.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		tb.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		tb.Fatalf("token request: status %d, err %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// Response is a raw HTTP response with its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *Response) JSON(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ErrorCode returns error.code of an Azure error body, and the inner code.
func (r *Response) ErrorCode() (code, inner string) {
	var e struct {
		Error struct {
			Code       string `json:"code"`
			InnerError *struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	if e.Error.InnerError != nil {
		inner = e.Error.InnerError.Code
	}
	return e.Error.Code, inner
}

// Do sends a raw request to rawURL with an optional bearer token and body.
func (in *Instance) Do(tb testing.TB, method, rawURL, token string, body string) *Response {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		tb.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := in.HTTPClient().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// String describes a response for failure messages.
func (r *Response) String() string {
	return fmt.Sprintf("status %d: %s", r.Status, r.Body)
}

// KeysClient returns an azkeys client for vault, reached by its host name.
func (in *Instance) KeysClient(tb testing.TB, vault string) *azkeys.Client {
	tb.Helper()
	c, err := azkeys.NewClient(in.VaultURL(vault), in.Credential(tb), &azkeys.ClientOptions{ClientOptions: in.ClientOptions()})
	if err != nil {
		tb.Fatalf("keys client: %v", err)
	}
	return c
}

// ARMClientOptions returns Azure Resource Manager client options for the
// server's management API: a custom cloud whose authority, endpoint and
// audience are the server's.
func (in *Instance) ARMClientOptions() *arm.ClientOptions {
	opts := in.ClientOptions()
	opts.Cloud = cloud.Configuration{
		ActiveDirectoryAuthorityHost: in.Creds.AuthorityHost,
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: in.Creds.ManagementEndpoint, Audience: in.Creds.ManagementResource},
		},
	}
	return &arm.ClientOptions{ClientOptions: opts}
}

// VaultsClient returns an armkeyvault client for the default subscription,
// signed in as the administrator.
func (in *Instance) VaultsClient(tb testing.TB) *armkeyvault.VaultsClient {
	tb.Helper()
	c, err := armkeyvault.NewVaultsClient(in.Creds.SubscriptionID, in.Credential(tb), in.ARMClientOptions())
	if err != nil {
		tb.Fatalf("vaults client: %v", err)
	}
	return c
}

// SecretCredential returns a client-secret credential for another principal.
func (in *Instance) SecretCredential(tb testing.TB, clientID, secret string) *azidentity.ClientSecretCredential {
	tb.Helper()
	opts := in.ClientOptions()
	opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: in.Creds.AuthorityHost}
	cred, err := azidentity.NewClientSecretCredential(in.Creds.TenantID, clientID, secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		tb.Fatalf("credential: %v", err)
	}
	return cred
}

// CertificateCredential returns a certificate credential for a principal.
func (in *Instance) CertificateCredential(tb testing.TB, clientID string, certs []*x509.Certificate, key crypto.PrivateKey) *azidentity.ClientCertificateCredential {
	tb.Helper()
	opts := in.ClientOptions()
	opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: in.Creds.AuthorityHost}
	cred, err := azidentity.NewClientCertificateCredential(in.Creds.TenantID, clientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		tb.Fatalf("certificate credential: %v", err)
	}
	return cred
}

// CertificatesClient returns an azcertificates client for vault, reached by
// its host name.
func (in *Instance) CertificatesClient(tb testing.TB, vault string) *azcertificates.Client {
	tb.Helper()
	c, err := azcertificates.NewClient(in.VaultURL(vault), in.Credential(tb), &azcertificates.ClientOptions{ClientOptions: in.ClientOptions()})
	if err != nil {
		tb.Fatalf("certificates client: %v", err)
	}
	return c
}

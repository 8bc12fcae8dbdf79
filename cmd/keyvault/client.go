package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyvault/keyvault/internal/pki"
	"github.com/keyvault/keyvault/internal/server"
)

// Environment variables that set --credentials and --ca-file when the flag
// is not given, and the default credentials file.
const (
	envCredentials = "KEYVAULT_CREDENTIALS"
	envCAFile      = "KEYVAULT_CA_FILE"

	defaultCredentialsFile = "keyvault-data/credentials.json"
)

// maxResponseBytes bounds a management API response read into memory.
const maxResponseBytes = 32 << 20

// clientOptions are the connection and output settings shared by every
// client command.
type clientOptions struct {
	credentialsFile string
	caFile          string
	profile         string
	output          string
	query           string
}

func (o *clientOptions) addFlags(fs *pflag.FlagSet) {
	o.addConnectionFlags(fs)
	fs.StringVar(&o.profile, "profile", "",
		"profile saved by keyvault login to connect with when neither --credentials nor "+envCredentials+" is set (default: the profile of the last login)")
	o.addOutputFlags(fs)
}

func (o *clientOptions) addConnectionFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.credentialsFile, "credentials", defaultCredentialsFile,
		"credentials.json written by keyvault serve: management endpoint, authority, tenant, subscription, client id and secret (env "+envCredentials+")")
	fs.StringVar(&o.caFile, "ca-file", "",
		"PEM file of the CA that issued the server's TLS certificate (default: ca.pem beside the credentials file; env "+envCAFile+")")
}

func (o *clientOptions) addOutputFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.output, "output", "o", formatJSON, "output format: json, table, tsv or none")
	fs.StringVar(&o.query, "query", "", "JMESPath query applied to the JSON result before it is printed, as in az (\"[].name\")")
}

// session is a connection to the management API: the server named in the
// credentials file, signed in as the administrator or as the principal of
// the AZURE_* environment variables.
type session struct {
	endpoint       *url.URL // management endpoint
	scope          string   // token scope, managementResource + "/.default"
	vaultScope     string   // token scope of the vaults, resource + "/.default"
	authorityHost  string
	tenantID       string
	subscriptionID string
	clientID       string

	// Vaults are at https://{vault}.{dnsSuffix}:{vaultPort}/.
	dnsSuffix string
	vaultPort string

	httpClient *http.Client
	cred       azcore.TokenCredential
	printer    printer
}

// connect reads the connection settings and signs in lazily: no request is
// sent until a command calls the server. The settings come from
// --credentials, else KEYVAULT_CREDENTIALS, else the profile of --profile or
// of the last keyvault login, else the default credentials file.
func (o *clientOptions) connect(cmd *cobra.Command) (*session, error) {
	t, err := o.resolveTarget(cmd, true)
	if err != nil {
		return nil, err
	}
	return o.connectTarget(cmd, t)
}

// connectTarget is connect to the server of t.
func (o *clientOptions) connectTarget(cmd *cobra.Command, t target) (*session, error) {
	p, err := newPrinter(cmd.OutOrStdout(), o.output)
	if err != nil {
		return nil, usageError{err}
	}
	if p.query, err = compileQuery(o.query); err != nil {
		return nil, usageError{err}
	}
	credsPath := t.credentialsFile
	creds, err := loadCredentials(credsPath)
	if err != nil {
		return nil, err
	}
	endpoint, err := url.Parse(creds.ManagementEndpoint)
	if err != nil || endpoint.Host == "" {
		return nil, fmt.Errorf("credentials file %s: managementEndpoint %q is not a URL", credsPath, creds.ManagementEndpoint)
	}
	authority, err := url.Parse(creds.AuthorityHost)
	if err != nil || authority.Host == "" {
		return nil, fmt.Errorf("credentials file %s: authorityHost %q is not a URL", credsPath, creds.AuthorityHost)
	}
	if endpoint.Scheme != "https" || authority.Scheme != "https" {
		return nil, fmt.Errorf("credentials file %s: the client sends tokens only over https, and the server is at %s (started with --plain-http?)", credsPath, creds.ManagementEndpoint)
	}

	pool, err := o.rootCAs(credsPath, t.caFile)
	if err != nil {
		return nil, err
	}
	s := &session{
		endpoint: endpoint, scope: strings.TrimSuffix(creds.ManagementResource, "/") + "/.default",
		vaultScope:    strings.TrimSuffix(creds.Resource, "/") + "/.default",
		authorityHost: creds.AuthorityHost, subscriptionID: creds.SubscriptionID, printer: p,
	}
	s.setVaultHosts(creds, t.profile)
	r := router{named: []string{hostPort(endpoint), hostPort(authority)}, vaultServer: hostPort(authority),
		dnsSuffix: s.dnsSuffix, vaultPort: s.vaultPort}
	if t.profile != nil {
		r.server, r.vaultServer = t.profile.Server, t.profile.Server
	}
	s.httpClient = newRoutedHTTPClient(pool, r.route, r.allowed())
	if t.profile != nil {
		creds = t.profile.apply(creds)
	}
	if err := s.signIn(creds); err != nil {
		return nil, err
	}
	return s, nil
}

// target is the connection of a client command: a credentials file, a CA
// file ("" for the default search) and the profile that named them, if any.
type target struct {
	credentialsFile string
	caFile          string
	profile         *profile
}

// resolveTarget picks the credentials file: --credentials, else
// KEYVAULT_CREDENTIALS, else (with useProfile) the profile of --profile or
// of the last login, else the default file.
func (o *clientOptions) resolveTarget(cmd *cobra.Command, useProfile bool) (target, error) {
	explicit := false
	if f := cmd.Flag("credentials"); f != nil && f.Changed {
		explicit = true
	}
	profileFlag := cmd.Flag("profile")
	if useProfile && explicit && profileFlag != nil && profileFlag.Changed {
		return target{}, usageError{errors.New("--profile and --credentials cannot be used together: pass one of them")}
	}
	if explicit {
		return target{credentialsFile: o.credentialsFile}, nil
	}
	if v := os.Getenv(envCredentials); v != "" {
		return target{credentialsFile: v}, nil
	}
	if useProfile {
		p, err := findProfile(o.profile)
		if err != nil {
			return target{}, err
		}
		if p != nil {
			return target{credentialsFile: p.CredentialsFile, caFile: p.CAFile, profile: p}, nil
		}
	}
	return target{credentialsFile: o.credentialsFile}, nil
}

func loadCredentials(path string) (server.CredentialsJSON, error) {
	var c server.CredentialsJSON
	raw, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read credentials file: %w (pass --credentials or set %s to the credentials.json of keyvault serve)", err, envCredentials)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, fmt.Errorf("credentials file %s: %w", path, err)
	}
	for field, value := range map[string]string{
		"managementEndpoint": c.ManagementEndpoint, "managementResource": c.ManagementResource,
		"authorityHost": c.AuthorityHost, "subscriptionId": c.SubscriptionID,
	} {
		if value == "" {
			return c, fmt.Errorf("credentials file %s has no %s: restart keyvault serve to rewrite it", path, field)
		}
	}
	return c, nil
}

// rootCAs returns the CA pool that verifies the server, read from the file
// that caFilePath picks, or nil for the system pool.
func (o *clientOptions) rootCAs(credsPath, profileCAFile string) (*x509.CertPool, error) {
	path := o.caFilePath(credsPath, profileCAFile)
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("CA file %s has no PEM certificate", path)
	}
	return pool, nil
}

// caFilePath returns the CA file that verifies the server: --ca-file, else
// KEYVAULT_CA_FILE, else the profile's CA file, else ca.pem beside the
// credentials file if it exists, else "" for the system pool.
func (o *clientOptions) caFilePath(credsPath, profileCAFile string) string {
	for _, path := range []string{o.caFile, os.Getenv(envCAFile), profileCAFile} {
		if path != "" {
			return path
		}
	}
	beside := filepath.Join(filepath.Dir(credsPath), pki.CAFile)
	if _, err := os.Stat(beside); err != nil {
		return ""
	}
	return beside
}

// hostPort returns the host:port that a URL connects to.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return strings.ToLower(u.Host)
	}
	return strings.ToLower(net.JoinHostPort(u.Hostname(), "443"))
}

// newHTTPClient returns a client that connects only to the allowed
// host:port addresses, so a redirect or a token endpoint elsewhere cannot
// make the CLI send a request to another host. It uses no proxy.
func newHTTPClient(pool *x509.CertPool, allowed ...string) *http.Client {
	route := func(addr string) (string, bool) {
		return addr, slices.Contains(allowed, addr)
	}
	return newRoutedHTTPClient(pool, route, allowed)
}

// newRoutedHTTPClient returns a client that dials the address route returns
// for each host:port it connects to, and refuses a connection that route
// rejects. TLS still verifies the host name of the URL, so a vault host
// name can be dialled at the server's address without a DNS lookup. allowed
// describes the accepted addresses in the refusal's message. The client
// uses no proxy.
func newRoutedHTTPClient(pool *x509.CertPool, route func(addr string) (string, bool), allowed []string) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		addr = strings.ToLower(addr)
		to, ok := route(addr)
		if !ok {
			return nil, &otherHostError{addr: addr, allowed: allowed}
		}
		host, port, err := net.SplitHostPort(to)
		if err != nil || host != "localhost" {
			return dialer.DialContext(ctx, network, to)
		}
		// localhost names the loopback interface, so it is dialled
		// without a name lookup: IPv4 first, then IPv6.
		conn, err := dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		if err == nil {
			return conn, nil
		}
		if conn6, err6 := dialer.DialContext(ctx, network, net.JoinHostPort("::1", port)); err6 == nil {
			return conn6, nil
		}
		return nil, err
	}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         dial,
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2:   true,
			TLSHandshakeTimeout: 10 * time.Second,
			// secret import and export keep up to 64 requests in flight.
			MaxIdleConnsPerHost: maxWorkers,
		},
		Timeout: time.Minute,
	}
}

// router routes the connections of a session. The management endpoint and
// the authority dial server (or themselves when server is empty), and a
// vault host {vault}.{dnsSuffix}:{vaultPort} dials vaultServer. Every other
// address is refused.
type router struct {
	named       []string
	server      string
	vaultServer string
	dnsSuffix   string
	vaultPort   string
}

func (r router) route(addr string) (string, bool) {
	if slices.Contains(r.named, addr) {
		if r.server != "" {
			return r.server, true
		}
		return addr, true
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || r.dnsSuffix == "" || port != r.vaultPort {
		return "", false
	}
	vault, ok := strings.CutSuffix(host, "."+r.dnsSuffix)
	if !ok || !validVaultName(vault) {
		return "", false
	}
	return r.vaultServer, true
}

func (r router) allowed() []string {
	return append(slices.Clone(r.named), "*."+r.dnsSuffix+":"+r.vaultPort)
}

// otherHostError is the error of a connection to a host that is not the
// server's, which the client rejects.
type otherHostError struct {
	addr    string
	allowed []string
}

func (e *otherHostError) Error() string {
	return fmt.Sprintf("connection to %s refused: the client connects only to the server of the credentials file (%s)",
		e.addr, strings.Join(e.allowed, ", "))
}

// shouldRetry retries a request after a transport error or a status that a
// retry may fix (408, 429, 500, 502, 503, 504), but not after a failed
// certificate check or a refused host, which a retry cannot change.
func shouldRetry(resp *http.Response, err error) bool {
	if err != nil {
		var verify *tls.CertificateVerificationError
		var other *otherHostError
		return !errors.As(err, &verify) && !errors.As(err, &other)
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// clientOptions returns Azure SDK options that send through the session's
// HTTP client, with telemetry off and at most two retries, so that a
// command against a stopped server fails within seconds.
func (s *session) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.authorityHost},
		Transport: s.httpClient,
		Telemetry: policy.TelemetryOptions{Disabled: true},
		Retry:     policy.RetryOptions{MaxRetries: 2, ShouldRetry: shouldRetry},
	}
}

// signIn builds the token credential: the administrator of the credentials
// file, with AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and
// AZURE_CLIENT_CERTIFICATE_PATH (with AZURE_CLIENT_CERTIFICATE_PASSWORD)
// overriding it where set.
func (s *session) signIn(creds server.CredentialsJSON) error {
	s.tenantID = envOr("AZURE_TENANT_ID", creds.TenantID)
	s.clientID = envOr("AZURE_CLIENT_ID", creds.ClientID)
	secret := os.Getenv("AZURE_CLIENT_SECRET")
	certPath := os.Getenv("AZURE_CLIENT_CERTIFICATE_PATH")
	if secret == "" && certPath == "" {
		if s.clientID != creds.ClientID {
			return errors.New("AZURE_CLIENT_ID is set without AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH: set one of them, or unset AZURE_CLIENT_ID to sign in as the administrator")
		}
		secret = creds.ClientSecret
		if secret == "" {
			return fmt.Errorf("missing client secret for client %s: the credentials file contains the secret of another client, so set AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH", s.clientID)
		}
	}

	opts := s.clientOptions()
	var err error
	if certPath != "" {
		raw, rerr := os.ReadFile(certPath)
		if rerr != nil {
			return fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %w", rerr)
		}
		certs, key, perr := azidentity.ParseCertificates(raw, []byte(os.Getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD")))
		if perr != nil {
			return fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH %s: %w", certPath, perr)
		}
		s.cred, err = azidentity.NewClientCertificateCredential(s.tenantID, s.clientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	} else {
		s.cred, err = azidentity.NewClientSecretCredential(s.tenantID, s.clientID, secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	}
	if err != nil {
		return fmt.Errorf("credential for client %s: %w", s.clientID, err)
	}
	return nil
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// vaultsClient returns an armkeyvault client for the subscription of the
// credentials file, on a custom cloud whose Resource Manager is the server.
func (s *session) vaultsClient() (*armkeyvault.VaultsClient, error) {
	opts := s.clientOptions()
	opts.Cloud.Services = map[cloud.ServiceName]cloud.ServiceConfiguration{
		cloud.ResourceManager: {Endpoint: s.endpoint.String(), Audience: strings.TrimSuffix(s.scope, "/.default")},
	}
	c, err := armkeyvault.NewVaultsClient(s.subscriptionID, s.cred, &arm.ClientOptions{ClientOptions: opts})
	if err != nil {
		return nil, fmt.Errorf("vaults client: %w", err)
	}
	return c, nil
}

// do sends a JSON request to path (which starts with "/") on the management
// endpoint and decodes a JSON response into out, if out is not nil. An error
// response becomes an *apiError.
func (s *session) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	token, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.scope}})
	if err != nil {
		return explain(err)
	}
	u := *s.endpoint
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	u.RawQuery = query.Encode()

	var reader io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), reader)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, u.Path, err)
	}
	if resp.StatusCode >= 400 {
		return parseAPIError(resp.StatusCode, data)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, u.Path, err)
	}
	return nil
}

// apiError is an error response of the server: its status, error code and
// message.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

func parseAPIError(status int, body []byte) *apiError {
	var wire struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &apiError{Status: status, Code: http.StatusText(status)}
	if json.Unmarshal(body, &wire) == nil && wire.Error.Code != "" {
		e.Code, e.Message = wire.Error.Code, wire.Error.Message
		return e
	}
	e.Message = strings.TrimSpace(string(body))
	if e.Message == "" {
		e.Message = "the response has no error body"
	}
	return e
}

// explain turns an Azure SDK error into the server's error code and
// message, which the SDK's own message buries in a dump of the request and
// response.
func explain(err error) error {
	var respErr *azcore.ResponseError
	if errors.As(err, &respErr) && respErr.RawResponse != nil {
		body, rerr := runtime.Payload(respErr.RawResponse)
		if rerr == nil {
			return parseAPIError(respErr.StatusCode, body)
		}
		return &apiError{Status: respErr.StatusCode, Code: respErr.ErrorCode, Message: http.StatusText(respErr.StatusCode)}
	}
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) && authErr.RawResponse != nil {
		body, rerr := runtime.Payload(authErr.RawResponse)
		var wire struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if rerr == nil && json.Unmarshal(body, &wire) == nil && wire.Error != "" {
			return fmt.Errorf("sign-in failed: %s: %s (HTTP %d)", wire.Error, wire.Description, authErr.RawResponse.StatusCode)
		}
	}
	return err
}

// setVaultHosts sets the DNS suffix and port of vault host names from the
// credentials file's vault resource (https://{suffix}:{port}), with the
// profile's DNS suffix, if set, in place of the resource's host. A file
// without a resource leaves them empty, which only data-plane commands need.
func (s *session) setVaultHosts(creds server.CredentialsJSON, p *profile) {
	if u, err := url.Parse(creds.Resource); err == nil && u.Host != "" {
		s.dnsSuffix = strings.ToLower(u.Hostname())
		s.vaultPort = u.Port()
		if s.vaultPort == "" {
			s.vaultPort = "443"
		}
	}
	if p != nil && p.DNSSuffix != "" {
		s.dnsSuffix = strings.ToLower(p.DNSSuffix)
	}
}

// validVaultName reports whether name can be the first label of a vault
// host name: letters, digits and hyphens, 1 to 63 characters.
func validVaultName(name string) bool {
	if name == "" || len(name) > 63 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// vaultURL returns the data-plane URL of the named vault,
// https://{vault}.{dnsSuffix}:{port}/.
func (s *session) vaultURL(vault string) (string, error) {
	if s.dnsSuffix == "" {
		return "", errors.New("the credentials file has no resource, so vault host names are unknown: restart keyvault serve to rewrite it")
	}
	if !validVaultName(vault) {
		return "", usageError{fmt.Errorf("invalid --vault-name %q: use letters, digits and hyphens", vault)}
	}
	host := strings.ToLower(vault) + "." + s.dnsSuffix
	if s.vaultPort != "443" {
		host += ":" + s.vaultPort
	}
	return "https://" + host + "/", nil
}

// objectOptions name one object of a vault, as az does: --vault-name and
// --name (with --version where it applies), or --id, the object's URL.
type objectOptions struct {
	collection string // secrets, keys or certificates
	vaultName  string
	name       string
	id         string
	version    string
}

func (o *objectOptions) addFlags(fs *pflag.FlagSet, noun string, withVersion bool) {
	fs.StringVar(&o.vaultName, "vault-name", "", "name of the vault")
	fs.StringVarP(&o.name, "name", "n", "", "name of the "+noun)
	fs.StringVar(&o.id, "id", "", "URL of the "+noun+", in place of --vault-name and --name: https://{vault}.{suffix}:{port}/"+o.collection+"/{name}[/{version}]")
	if withVersion {
		fs.StringVar(&o.version, "version", "", "version of the "+noun+" (default: the current version)")
	}
}

// objectRef is a resolved object address.
type objectRef struct {
	vaultURL string
	name     string
	version  string
}

// resolve returns the object that the flags name. The --id host must be a
// vault host of the server; its path may name the object or its deleted
// form (/deleted{collection}/{name}, a recoveryId).
func (o *objectOptions) resolve(s *session) (objectRef, error) {
	if o.id == "" {
		if o.vaultName == "" || o.name == "" {
			return objectRef{}, usageError{errors.New("pass --vault-name and --name, or --id")}
		}
		u, err := s.vaultURL(o.vaultName)
		return objectRef{vaultURL: u, name: o.name, version: o.version}, err
	}
	if o.vaultName != "" || o.name != "" {
		return objectRef{}, usageError{errors.New("--id names the vault and the object: leave out --vault-name and --name")}
	}

	// The host must be a vault host of this server.
	u, err := url.Parse(o.id)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return objectRef{}, usageError{fmt.Errorf("invalid --id %q: want https://{vault}.{suffix}:{port}/%s/{name}", o.id, o.collection)}
	}
	vault, ok := strings.CutSuffix(strings.ToLower(u.Hostname()), "."+s.dnsSuffix)
	port := u.Port()
	if port == "" {
		port = "443"
	}
	if !ok || s.dnsSuffix == "" || !validVaultName(vault) || port != s.vaultPort {
		return objectRef{}, usageError{fmt.Errorf("--id %s is not on this server: its vaults are at https://{vault}.%s:%s/", o.id, s.dnsSuffix, s.vaultPort)}
	}

	// The path is /{collection}/{name}[/{version}].
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	collection := strings.ToLower(parts[0])
	if (collection != o.collection && collection != "deleted"+o.collection) || len(parts) < 2 || len(parts) > 3 || parts[1] == "" {
		return objectRef{}, usageError{fmt.Errorf("--id %s names no object of %s: want https://{vault}.%s:%s/%s/{name}[/{version}]",
			o.id, o.collection, s.dnsSuffix, s.vaultPort, o.collection)}
	}
	ref := objectRef{vaultURL: "https://" + u.Host + "/", name: parts[1], version: o.version}
	if len(parts) == 3 {
		if o.version != "" && o.version != parts[2] {
			return objectRef{}, usageError{errors.New("--version differs from the version in --id: pass one of them")}
		}
		ref.version = parts[2]
	}
	return ref, nil
}

// vaultOptions name a vault, for commands on a whole vault.
type vaultOptions struct {
	vaultName string
}

func (o *vaultOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.vaultName, "vault-name", "", "name of the vault")
}

// listAll reads every page of pager and returns the items that keep accepts
// (all when keep is nil), at most max of them when max > 0. The result is
// never nil, so that an empty list prints as [].
func listAll[R, T any](ctx context.Context, pager *runtime.Pager[R], items func(R) []T, keep func(T) bool, max int) ([]T, error) {
	out := []T{}
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, explain(err)
		}
		for _, item := range items(page) {
			if keep != nil && !keep(item) {
				continue
			}
			out = append(out, item)
			if max > 0 && len(out) == max {
				return out, nil
			}
		}
	}
	return out, nil
}

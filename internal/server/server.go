package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keyvault/keyvault/internal/api"
	"github.com/keyvault/keyvault/internal/audit"
	"github.com/keyvault/keyvault/internal/authz"
	"github.com/keyvault/keyvault/internal/identity"
	"github.com/keyvault/keyvault/internal/mgmt"
	"github.com/keyvault/keyvault/internal/pki"
	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
	"github.com/keyvault/keyvault/internal/storage/bolt"
	"github.com/keyvault/keyvault/internal/vault"
)

// File names in the data directory.
const (
	StoreFile       = "keyvault.db"
	CredentialsFile = "credentials.json"
)

// CredentialsJSON is the content of credentials.json: everything a client
// needs to sign in as the administrator and reach the default vault.
type CredentialsJSON struct {
	TenantID           string `json:"tenantId"`
	SubscriptionID     string `json:"subscriptionId"`
	ClientID           string `json:"clientId"`
	ClientSecret       string `json:"clientSecret"`
	AuthorityHost      string `json:"authorityHost"`
	Resource           string `json:"resource"`
	VaultURL           string `json:"vaultUrl"`
	ManagementEndpoint string `json:"managementEndpoint"`
	ManagementResource string `json:"managementResource"`
}

// Server is a running KeyVault server.
type Server struct {
	cfg    Config
	log    *slog.Logger
	store  storage.Store
	keys   *seal.Keyring
	vaults *vault.Service
	ident  *identity.Service
	authz  *authz.Service
	api    *api.Handler
	mgmt   *mgmt.Handler
	http   *http.Server

	listener net.Listener
	scheme   string
	ready    atomic.Bool
	unsealed atomic.Bool       // the store, keyring and services are open
	token    *seal.PKCS11Token // nil unless --seal pkcs11
	sealing  sealState
	clock    *testClock // nil unless --test-clock

	bolt       *bolt.Store
	auditStore *auditedStore
	audit      *audit.Logger
	metrics    *metrics
	throttle   *throttle // nil when throttling is off
}

// Open prepares a server: it loads the root key, opens the store, makes sure
// the default vault and the administrator exist, binds the listener and
// writes credentials.json. Serve then serves requests. A passphrase seal
// without a passphrase binds the listener only, and the rest happens at
// unseal. On error, everything opened so far is closed.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	s := &Server{cfg: cfg, log: log, scheme: "https", metrics: newMetrics()}
	if cfg.Throttle == "azure" {
		s.throttle = newThrottle(cfg.ThrottleScale)
	}
	if cfg.PlainHTTP {
		s.scheme = "http"
	}
	defer func() {
		if err != nil {
			s.closeResources()
		}
	}()

	// Root of trust: the root key must unwrap the store's data keys. A
	// passphrase seal without a passphrase leaves the server sealed: it
	// listens, but opens the store only when POST /_operator/unseal brings
	// the passphrase.
	unsealed, err := s.openRootOfTrust(ctx)
	if err != nil {
		return nil, err
	}

	// Network: bind first, so credentials.json names the port really bound.
	s.listener, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	tlsConfig, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	s.http = &http.Server{
		Handler:           s,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if cfg.NoHTTP2 {
		s.http.Protocols = new(http.Protocols)
		s.http.Protocols.SetHTTP1(true)
	}
	if unsealed {
		if err := s.openServices(ctx); err != nil {
			return nil, err
		}
		s.unsealed.Store(true)
	} else {
		s.metrics.sealed.Set(1)
		log.Warn("the server is sealed: send the passphrase with keyvault operator unseal (POST /_operator/unseal) to open it",
			"addr", s.listener.Addr().String())
	}
	s.ready.Store(true)
	return s, nil
}

// openStore opens the store and the keyring with the first of candidates
// that unwraps the store's data keys, finishes that candidate's pending
// file change, and opens the audit log and the vault domain. resolve runs
// after the store is open, so that it can see whether the store is empty.
func (s *Server) openStore(ctx context.Context, resolve func(storage.Store) ([]rootCandidate, error)) error {
	// A nil *bolt.Store must not reach s.store: as a non-nil interface it
	// would make closeResources call Close on nil.
	store, err := bolt.Open(filepath.Join(s.cfg.DataDir, StoreFile), bolt.Options{})
	if err != nil {
		return err
	}
	s.bolt = store
	s.auditStore = &auditedStore{Store: store, metrics: s.metrics}
	s.store = s.auditStore
	candidates, err := resolve(s.store)
	if err != nil {
		return err
	}
	if err := s.checkRootCandidates(ctx, candidates); err != nil {
		return err
	}
	if err := s.openAudit(ctx); err != nil {
		return err
	}

	// Domain: the default vault exists from the first start on.
	s.vaults = vault.NewService(s.store, s.keys)
	s.vaults.Log = s.log
	s.vaults.OnEvent = s.auditEvent
	s.configureHSM()
	if s.cfg.TestClock {
		s.clock = &testClock{}
		s.vaults.Now = s.clock.Now
		s.log.Warn("the test clock is on: the administrator can move object time forward with POST /_test/clock")
	}
	return nil
}

// openServices opens what needs the unsealed store and the bound port: the
// token service, the default vault, the request handlers and
// credentials.json.
func (s *Server) openServices(ctx context.Context) error {
	port := s.port()
	creds, err := s.openIdentity(ctx, port)
	if err != nil {
		return err
	}
	if err := s.ensureDefaultVault(ctx, creds); err != nil {
		return err
	}

	// Request handling: authorization, the data plane and the management API.
	s.authz = authz.New(s.store)
	s.api = &api.Handler{Vaults: s.vaults, Authz: s.authz, OnCrypto: func(op, alg string) {
		s.metrics.crypto.WithLabelValues(op, alg).Inc()
	}}
	s.mgmt = &mgmt.Handler{
		Vaults: s.vaults, Authz: s.authz, Identity: s.ident, TenantID: creds.TenantID, SubscriptionID: creds.SubscriptionID,
		VaultURI: func(name string) string { return s.vaultURL(name, port) }, Log: s.log,
	}
	return s.writeCredentials(creds, port)
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.listener.Addr() }

// Serve serves requests until ctx is cancelled, then stops accepting
// connections, finishes the requests in flight (for at most the shutdown
// timeout) and closes the store. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context) error {
	jobs, stopJobs := context.WithCancel(context.Background())
	defer stopJobs()
	s.startJobs(jobs)

	serveErr := make(chan error, 1)
	go func() {
		if s.cfg.PlainHTTP {
			serveErr <- s.http.Serve(s.listener)
		} else {
			serveErr <- s.http.ServeTLS(s.listener, "", "")
		}
	}()
	s.log.Info("serving", "addr", s.listener.Addr().String(), "scheme", s.scheme,
		"vaultUrl", s.vaultURL(s.cfg.DefaultVault, s.port()))

	var err error
	select {
	case err = <-serveErr:
		s.log.Error("server stopped unexpectedly", "error", err)
	case <-ctx.Done():
		s.log.Info("shutting down: finishing requests in flight", "timeout", s.cfg.ShutdownTimeout.String())
		s.ready.Store(false)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		err = s.http.Shutdown(shutdownCtx)
		cancel()
		if err != nil {
			s.log.Error("graceful shutdown did not finish in time", "error", err)
		}
	}
	stopJobs()
	err = errors.Join(err, s.closeSealed())
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		s.log.Info("stopped")
		return nil
	}
	return err
}

// closeResources releases what Open acquired when Open fails.
func (s *Server) closeResources() {
	if s.listener != nil {
		s.listener.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
	if s.audit != nil {
		s.audit.Close()
	}
	if s.token != nil {
		s.token.Close()
	}
}

func (s *Server) port() string {
	_, port, _ := net.SplitHostPort(s.listener.Addr().String())
	return port
}

// hostPort appends the port to host unless it is the scheme's default.
func (s *Server) hostPort(host, port string) string {
	if (s.scheme == "https" && port == "443") || (s.scheme == "http" && port == "80") {
		return host
	}
	return host + ":" + port
}

func (s *Server) vaultURL(name, port string) string {
	return s.scheme + "://" + s.hostPort(name+"."+s.cfg.DNSSuffix, port) + "/"
}

func (s *Server) openIdentity(ctx context.Context, port string) (*identity.Credentials, error) {
	var previous *identity.Credentials
	if raw, err := os.ReadFile(filepath.Join(s.cfg.DataDir, CredentialsFile)); err == nil {
		var c CredentialsJSON
		if json.Unmarshal(raw, &c) == nil {
			previous = &identity.Credentials{TenantID: c.TenantID, ClientID: c.ClientID, ClientSecret: c.ClientSecret}
		}
	}
	creds, err := identity.BootstrapAdmin(ctx, s.store, previous)
	if err != nil {
		return nil, fmt.Errorf("administrator principal: %w", err)
	}
	if previous != nil && previous.ClientSecret != creds.ClientSecret {
		s.log.Warn("credentials.json was missing or stale: the administrator got a new client secret")
	}
	resource := s.scheme + "://" + s.hostPort(s.cfg.DNSSuffix, port)
	s.ident, err = identity.New(ctx, identity.Options{
		Store: s.store, Keyring: s.keys, TenantID: creds.TenantID, Scheme: s.scheme,
		Resources: []string{resource, ManagementResource}, HostAllowed: s.hostAllowed,
	})
	return creds, err
}

// ManagementResource is the audience of management-API tokens. It names no
// host that is ever contacted: clients only ask for tokens with it.
const ManagementResource = "https://management.localhost"

// ensureDefaultVault creates the default vault on first start, in the
// default subscription and resource group "default". If an administrator
// soft-deleted it, it stays deleted until recovered or purged.
func (s *Server) ensureDefaultVault(ctx context.Context, creds *identity.Credentials) error {
	cfg := s.cfg
	if _, err := s.vaults.GetDeletedVault(ctx, creds.SubscriptionID, cfg.DefaultVault); err == nil {
		s.log.Warn("the default vault is soft-deleted: recover it through the management API, or purge it to have it created again",
			"vault", cfg.DefaultVault)
		return nil
	}
	if _, _, err := s.vaults.EnsureResourceGroup(ctx, creds.SubscriptionID, DefaultResourceGroup, DefaultLocation, nil); err != nil {
		return err
	}
	dv, err := s.vaults.EnsureVault(ctx, vault.Vault{
		Name: cfg.DefaultVault, RetentionDays: cfg.DefaultVaultRetentionDays, PurgeProtection: cfg.DefaultVaultPurgeProtection,
		SubscriptionID: creds.SubscriptionID, ResourceGroup: DefaultResourceGroup, Location: DefaultLocation,
		TenantID: creds.TenantID, SKU: vault.SKUPremium, PublicNetworkAccess: "Enabled",
	})
	if err != nil {
		return fmt.Errorf("default vault: %w", err)
	}
	if dv.RetentionDays != cfg.DefaultVaultRetentionDays {
		s.log.Warn("default-vault-retention-days applies only when the vault is created; the vault keeps its retention",
			"vault", dv.Name, "retentionDays", dv.RetentionDays, "configured", cfg.DefaultVaultRetentionDays)
	}
	return nil
}

// The default vault's resource group and location.
const (
	DefaultResourceGroup = "default"
	DefaultLocation      = "local"
)

func (s *Server) tlsConfig() (*tls.Config, error) {
	if s.cfg.PlainHTTP {
		s.log.Warn("serving plain HTTP without TLS: tokens and secret values cross the network in the clear")
		return nil, nil
	}
	var cert tls.Certificate
	var err error
	if s.cfg.TLSCert != "" {
		cert, err = tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("load tls-cert and tls-key: %w", err)
		}
	} else {
		cert, err = pki.LoadOrCreate(s.cfg.DataDir, s.cfg.DNSSuffix)
		if err != nil {
			return nil, fmt.Errorf("TLS certificate: %w", err)
		}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

func (s *Server) writeCredentials(creds *identity.Credentials, port string) error {
	c := CredentialsJSON{
		TenantID: creds.TenantID, SubscriptionID: creds.SubscriptionID, ClientID: creds.ClientID, ClientSecret: creds.ClientSecret,
		AuthorityHost:      s.scheme + "://" + s.hostPort("localhost", port) + "/",
		Resource:           s.ident.VaultResource(),
		VaultURL:           s.vaultURL(s.cfg.DefaultVault, port),
		ManagementEndpoint: s.scheme + "://" + s.hostPort("localhost", port) + "/",
		ManagementResource: ManagementResource,
	}
	raw, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(s.cfg.DataDir, CredentialsFile)
	if err := pki.WriteFileAtomic(path, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	s.log.Info("administrator credentials written", "path", path, "clientId", c.ClientID, "tenantId", c.TenantID)
	return nil
}

// vaultForHost returns the name of the vault a host addresses: the default
// vault for localhost and the loopback addresses, {vault} for
// {vault}.{dns-suffix}. ok is false for any other host.
func (s *Server) vaultForHost(host string) (name string, ok bool) {
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			// strings.ToLower would map some letters to ASCII (KELVIN SIGN
			// to k), making another name of a vault. Host names are ASCII.
			return "", false
		}
	}
	h := strings.ToLower(hostOnly(host))
	switch h {
	case "localhost", "127.0.0.1", "::1":
		return s.cfg.DefaultVault, true
	}
	label, found := strings.CutSuffix(h, "."+strings.ToLower(s.cfg.DNSSuffix))
	if !found || label == "" || strings.Contains(label, ".") {
		return "", false
	}
	return label, true
}

// hostAllowed reports whether host is one this server answers to.
func (s *Server) hostAllowed(host string) bool {
	if _, ok := s.vaultForHost(host); ok {
		return true
	}
	return strings.EqualFold(hostOnly(host), s.cfg.DNSSuffix)
}

func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.Trim(host, "[]")
}

// String keeps the client secret out of logs and formatted errors.
func (c CredentialsJSON) String() string {
	return fmt.Sprintf("CredentialsJSON{TenantID: %s, ClientID: %s, ClientSecret: REDACTED}", c.TenantID, c.ClientID)
}

// LogValue keeps the client secret out of structured logs.
func (c CredentialsJSON) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenantId", c.TenantID), slog.String("clientId", c.ClientID), slog.String("clientSecret", "REDACTED"))
}

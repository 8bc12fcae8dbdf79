package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keyvault/keyvault/internal/audit"
	"github.com/keyvault/keyvault/internal/identity"
	"github.com/keyvault/keyvault/internal/mgmt"
	"github.com/keyvault/keyvault/internal/pki"
	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
)

// AuditKeyFile is the public key that verifies audit checkpoints, written
// to the data directory at every start.
const AuditKeyFile = "audit-key.pub"

const (
	bucketServerKeys = "server-keys"
	keyAuditSigning  = "audit-signing-key" // sealed Ed25519 seed
)

// newAuditRequest starts the audit record of a request with the fields the
// request itself carries: caller address, correlation id, client and URI.
func (s *Server) newAuditRequest(r *http.Request, start time.Time) *audit.Request {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	rec := &audit.Request{
		Start:   start,
		Write:   r.Method != http.MethodGet && r.Method != http.MethodHead,
		Success: http.StatusOK,
		Record: audit.Record{
			Category:        audit.CategoryAuditEvent,
			CallerIPAddress: ip,
			CorrelationID:   r.Header.Get("x-ms-client-request-id"),
			Properties: audit.Properties{
				ClientInfo: r.UserAgent(),
				RequestURI: s.scheme + "://" + r.Host + r.URL.RequestURI(),
				TLSVersion: tlsVersion(r.TLS),
			},
		},
	}
	return rec
}

// managementVaultID returns the resource id of the vault a management path
// is about, in upper case as data-plane records have it, or "" for paths
// about no vault (principals, subscriptions, lists).
func managementVaultID(path string) string {
	const marker = "/providers/microsoft.keyvault/vaults/"
	i := mgmt.IndexFold(path, marker)
	if i < 0 {
		return ""
	}
	end := i + len(marker)
	name, _, _ := strings.Cut(path[end:], "/")
	if name == "" {
		return ""
	}
	return strings.ToUpper(path[:end] + name)
}

func tlsVersion(state *tls.ConnectionState) string {
	if state == nil {
		return ""
	}
	switch state.Version {
	case tls.VersionTLS12:
		return "TLS1_2"
	case tls.VersionTLS13:
		return "TLS1_3"
	}
	return tls.VersionName(state.Version)
}

// identityClaims returns the token claims an audit record keeps: ids only,
// never the token.
func identityClaims(c *identity.Caller) *audit.Identity {
	return &audit.Identity{Claim: map[string]string{
		"oid": c.ObjectID, "appid": c.ApplicationID, "tid": c.TenantID, "idtyp": "app",
	}}
}

// errorMessage extracts the error message of an error response body, for
// the record's resultDescription.
func errorMessage(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
		Desc  string          `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	var detail struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(e.Error, &detail) == nil && detail.Message != "" {
		return detail.Message
	}
	return e.Desc
}

// bufferedWriter holds a response until its audit record is written, so
// that a request the audit log cannot record gets 503 instead.
type bufferedWriter struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (w *bufferedWriter) Header() http.Header { return w.header }

func (w *bufferedWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
}

func (w *bufferedWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.body.Write(b)
}

// reset drops the response so far.
func (w *bufferedWriter) reset() {
	w.body.Reset()
	w.status, w.wrote = http.StatusOK, false
	for _, k := range []string{"Content-Type", "Content-Length", "Location", "Www-Authenticate", "Retry-After"} {
		w.header.Del(k)
	}
}

func (w *bufferedWriter) flushTo(rw http.ResponseWriter) {
	rw.WriteHeader(w.status)
	_, _ = rw.Write(w.body.Bytes())
}

// auditedStore makes the first write transaction of each request append the
// request's audit record before it commits. The store's before-commit hook
// then syncs the audit file, so no write is applied without its record.
type auditedStore struct {
	storage.Store
	log     atomic.Pointer[audit.Logger]
	metrics *metrics
	// failOpen commits a write whose record could not be appended, when
	// Config.AuditFailOpen is set. ServeHTTP then tries the record again and
	// logs and counts the failure.
	failOpen bool
}

// View implements storage.Store, timing the transaction.
func (a *auditedStore) View(ctx context.Context, fn func(storage.Tx) error) error {
	start := time.Now()
	err := a.Store.View(ctx, fn)
	a.metrics.storage.WithLabelValues("view").Observe(time.Since(start).Seconds())
	return err
}

// Update implements storage.Store.
func (a *auditedStore) Update(ctx context.Context, fn func(storage.Tx) error) error {
	start := time.Now()
	defer func() { a.metrics.storage.WithLabelValues("update").Observe(time.Since(start).Seconds()) }()
	req := audit.FromContext(ctx)
	l := a.log.Load()
	if req == nil || !req.Write || l == nil {
		return a.Store.Update(ctx, fn)
	}
	return a.Store.Update(ctx, func(tx storage.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if err := req.AppendInTransaction(l); err != nil && !a.failOpen {
			return err
		}
		return nil
	})
}

// openAudit loads (or creates) the audit signing key, writes its public key
// beside the store, and opens the audit log.
func (s *Server) openAudit(ctx context.Context) error {
	key, err := loadAuditKey(ctx, s.store, s.keys)
	if err != nil {
		return fmt.Errorf("audit key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if err := pki.WriteFileAtomic(filepath.Join(s.cfg.DataDir, AuditKeyFile), pubPEM, 0o644); err != nil {
		return err
	}
	dir := s.cfg.AuditDir
	if dir == "" {
		dir = filepath.Join(s.cfg.DataDir, "audit")
	}
	opts := audit.Options{Dir: dir, MaxFileBytes: s.cfg.AuditMaxFileBytes, Key: key}
	if s.cfg.AuditStdout {
		opts.Stdout = os.Stdout
	}
	l, err := audit.Open(opts)
	if err != nil {
		return err
	}
	if rep := l.Repair(); rep != nil {
		s.log.Warn("audit file ended with a torn record; moved it to a quarantine file and continued the chain after an "+audit.RepairOperation+" record",
			"file", rep.File, "quarantineFile", rep.Quarantine, "bytes", rep.Bytes, "seq", rep.Seq)
	}
	s.audit = l
	s.auditStore.failOpen = s.cfg.AuditFailOpen
	s.auditStore.log.Store(l)
	if s.cfg.AuditFailOpen {
		s.log.Warn("audit is fail-open: requests are served even when the audit log cannot record them", "auditDir", dir)
	}
	s.bolt.SetBeforeCommit(func() error {
		if err := l.Sync(); err != nil {
			s.metrics.auditFailures.Inc()
			if s.cfg.AuditFailOpen {
				s.log.Error("audit sync failed; the write goes ahead because audit is fail-open", "error", err)
				return nil
			}
			return err
		}
		return nil
	})
	s.log.Info("audit log open", "dir", dir, "publicKey", filepath.Join(s.cfg.DataDir, AuditKeyFile))
	return nil
}

func loadAuditKey(ctx context.Context, store storage.Store, keys *seal.Keyring) (ed25519.PrivateKey, error) {
	sealer, err := keys.Sealer(ctx, seal.ServerScope)
	if err != nil {
		return nil, err
	}
	aad := seal.AAD("server", keyAuditSigning)
	var seed []byte
	err = store.Update(ctx, func(tx storage.Tx) error {
		record, err := tx.Get(bucketServerKeys, []byte(keyAuditSigning))
		if err != nil {
			return err
		}
		if record != nil {
			seed, err = sealer.Open(record, aad)
			return err
		}
		seed = make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return err
		}
		record, err = sealer.Seal(seed, aad)
		if err != nil {
			return err
		}
		return tx.Put(bucketServerKeys, []byte(keyAuditSigning), record)
	})
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// auditEvent records an action a time-driven job took by itself. Such
// records have no caller: the identity is the server.
func (s *Server) auditEvent(operation, vaultName, object, details string) {
	if s.audit == nil {
		return
	}
	rec := &audit.Record{
		Category: audit.CategoryAuditEvent, OperationName: operation, ResultType: "Success", ResultSignature: "OK",
		Identity:   &audit.Identity{Claim: map[string]string{"idtyp": "server"}},
		Properties: audit.Properties{Vault: vaultName, ID: object, Details: details},
	}
	if err := s.audit.Append(rec, true); err != nil {
		s.metrics.auditFailures.Inc()
		s.log.Error("audit record of a background job could not be written", "operation", operation, "vault", vaultName, "error", err)
	}
}

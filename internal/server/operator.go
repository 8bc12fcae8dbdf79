package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/keyvault/keyvault/internal/api"
	"github.com/keyvault/keyvault/internal/audit"
	"github.com/keyvault/keyvault/internal/seal"
)

// Operator endpoints. Unseal takes no token, because nothing can verify
// one while the store is sealed; the others need the administrator.
const (
	pathUnseal         = "/_operator/unseal"
	pathRotateRootKey  = "/_operator/rotate-root-key"
	pathRotateDataKeys = "/_operator/rotate-data-keys"
	pathRotation       = "/_operator/rotation"
)

// Unseal attempts with a wrong passphrase: after unsealFreeFailures in a
// row, each further failure locks unsealing for unsealLockout, doubled per
// failure up to unsealMaxLockout. Argon2id already makes each attempt cost
// about a quarter of a second, and attempts run one at a time.
const (
	unsealFreeFailures = 5
	unsealLockout      = 30 * time.Second
	unsealMaxLockout   = 15 * time.Minute
)

// writeSealed writes the 503 response to a request that needs the store
// while the server is sealed.
func (s *Server) writeSealed(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "30")
	api.WriteErrorDetail(w, http.StatusServiceUnavailable, api.ErrorDetail{Code: "ServiceUnavailable",
		Message:    "The server is sealed: an operator must unseal it (keyvault operator unseal) before it serves requests.",
		InnerError: &api.ErrorDetail{Code: "Sealed"}})
}

// serveUnseal serves POST /_operator/unseal {"passphrase": "..."}.
func (s *Server) serveUnseal(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		api.WriteErrorDetail(w, http.StatusMethodNotAllowed, api.ErrorDetail{Code: "MethodNotAllowed", Message: "Use POST on " + pathUnseal + "."})
		return
	}
	if s.cfg.Seal != seal.KindPassphrase {
		api.WriteErrorDetail(w, http.StatusConflict, api.ErrorDetail{Code: "Conflict",
			Message: fmt.Sprintf("This server runs with --seal %s, which has no passphrase to unseal with.", s.cfg.Seal)})
		return
	}
	if s.unsealed.Load() {
		api.WriteErrorDetail(w, http.StatusConflict, api.ErrorDetail{Code: "Conflict", Message: "The server is already unsealed."})
		return
	}
	var body struct {
		Passphrase string `json:"passphrase"`
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Passphrase == "" {
		api.WriteErrorDetail(w, http.StatusBadRequest, api.ErrorDetail{Code: "BadParameter",
			Message: `The body must be {"passphrase": "..."} with a non-empty passphrase.`})
		return
	}

	s.sealing.mu.Lock()
	defer s.sealing.mu.Unlock()
	switch now := time.Now(); {
	case s.sealing.closed:
		s.writeSealed(w)
		return
	case s.unsealed.Load():
		api.WriteErrorDetail(w, http.StatusConflict, api.ErrorDetail{Code: "Conflict", Message: "The server is already unsealed."})
		return
	case now.Before(s.sealing.lockedUntil):
		wait := s.sealing.lockedUntil.Sub(now)
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		api.WriteErrorDetail(w, http.StatusTooManyRequests, api.ErrorDetail{Code: "Throttled",
			Message: fmt.Sprintf("Unsealing is locked for %s after %d wrong passphrases in a row.", wait.Round(time.Second), s.sealing.failures)})
		return
	}

	err := s.unseal(context.WithoutCancel(r.Context()), body.Passphrase)
	switch {
	case errors.Is(err, seal.ErrWrongPassphrase):
		s.sealing.failures++
		if extra := s.sealing.failures - unsealFreeFailures; extra >= 0 {
			lockout := unsealMaxLockout
			if extra < 10 && unsealLockout<<extra < unsealMaxLockout {
				lockout = unsealLockout << extra
			}
			s.sealing.lockedUntil = time.Now().Add(lockout)
		}
		s.log.Warn("unseal rejected: wrong passphrase", "remoteAddr", r.RemoteAddr, "failuresInARow", s.sealing.failures)
		api.WriteErrorDetail(w, http.StatusForbidden, api.ErrorDetail{Code: "Forbidden", Message: "The passphrase is wrong.",
			InnerError: &api.ErrorDetail{Code: "WrongPassphrase"}})
	case err != nil:
		s.log.Error("unseal failed", "remoteAddr", r.RemoteAddr, "error", err)
		api.WriteErrorDetail(w, http.StatusInternalServerError, api.ErrorDetail{Code: "UnsealFailed",
			Message: "The server could not be unsealed: " + err.Error()})
	default:
		s.sealing.failures = 0
		writeOperatorJSON(w, http.StatusOK, map[string]any{"sealed": false, "rootKeyId": s.keys.RootKeyID()})
	}
}

// serveOperator serves the administrator's operator endpoints on an
// unsealed server: root-key rotation, data-key rotation and its progress.
func (s *Server) serveOperator(w http.ResponseWriter, r *http.Request, rec *audit.Request) {
	caller, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	rec.Record.Identity = identityClaims(caller)
	if !caller.Admin {
		api.WriteErrorDetail(w, http.StatusForbidden, api.ErrorDetail{Code: "Forbidden",
			Message: "Only the administrator may use " + r.URL.Path + "."})
		return
	}
	want := http.MethodPost
	if r.URL.Path == pathRotation {
		want = http.MethodGet
	}
	if r.Method != want {
		w.Header().Set("Allow", want)
		api.WriteErrorDetail(w, http.StatusMethodNotAllowed, api.ErrorDetail{Code: "MethodNotAllowed",
			Message: "Use " + want + " on " + r.URL.Path + "."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	switch r.URL.Path {
	case pathRotateRootKey:
		s.serveRotateRootKey(w, r)
	case pathRotateDataKeys:
		s.serveRotateDataKeys(w, r)
	case pathRotation:
		p, err := s.keys.Rotation(r.Context())
		if err != nil {
			api.WriteError(w, r, err)
			return
		}
		writeOperatorJSON(w, http.StatusOK, rotationBody(p))
	default:
		api.WriteErrorDetail(w, http.StatusNotFound, api.ErrorDetail{Code: "NotFound", Message: "No operator endpoint " + r.URL.Path + "."})
	}
}

// operatorOperation returns the audit operation name of an operator path.
func operatorOperation(path string) string {
	switch path {
	case pathRotateRootKey:
		return "RootKeyRotate"
	case pathRotateDataKeys:
		return "DataKeysRotate"
	case pathRotation:
		return "DataKeysRotationGet"
	}
	return "Operator"
}

// serveRotateRootKey re-wraps every data key under a new root key of the
// same kind: a new key file, a key derived from {"newPassphrase": "..."},
// or a new token key.
func (s *Server) serveRotateRootKey(w http.ResponseWriter, r *http.Request) {
	var body struct {
		NewPassphrase string `json:"newPassphrase"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			api.WriteErrorDetail(w, http.StatusBadRequest, api.ErrorDetail{Code: "BadParameter", Message: "The body is not valid JSON: " + err.Error()})
			return
		}
	}
	if s.cfg.Seal == seal.KindPassphrase && body.NewPassphrase == "" {
		api.WriteErrorDetail(w, http.StatusBadRequest, api.ErrorDetail{Code: "BadParameter",
			Message: `A passphrase seal needs the new passphrase: send {"newPassphrase": "..."}.`})
		return
	}

	s.sealing.mu.Lock()
	defer s.sealing.mu.Unlock()
	previous := s.keys.RootKeyID()
	n, err := s.rotateRootKey(r.Context(), body.NewPassphrase)
	if err != nil {
		s.log.Error("root-key rotation failed; the previous root key stays in use", "rootKeyId", previous, "error", err)
		api.WriteErrorDetail(w, http.StatusInternalServerError, api.ErrorDetail{Code: "RotationFailed",
			Message: "The root key was not rotated, and the previous one stays in use: " + err.Error()})
		return
	}
	s.log.Info("root key rotated", "previousRootKeyId", previous, "rootKeyId", s.keys.RootKeyID(), "dataKeys", n)
	writeOperatorJSON(w, http.StatusOK, map[string]any{"rootKeyId": s.keys.RootKeyID(), "previousRootKeyId": previous, "dataKeys": n})
}

// rotateRootKey writes the new key's file as a pending file, re-wraps the
// data keys in one transaction and then renames the pending file over the
// current one. A crash between the commit and the rename is finished at the
// next start, which tries the pending file when the current one does not
// match the store. The caller holds s.sealing.mu.
func (s *Server) rotateRootKey(ctx context.Context, newPassphrase string) (int, error) {
	var next seal.RootKey
	var path, oldSuffix string
	switch s.cfg.Seal {
	case seal.KindPassphrase:
		params, err := seal.NewPassphraseParams()
		if err != nil {
			return 0, err
		}
		key, err := seal.DerivePassphraseRootKey(params, newPassphrase)
		if err != nil {
			return 0, err
		}
		path, next = s.cfg.sealFilePath(), key
		if err := seal.WriteSealFile(path+seal.PendingSuffix, &seal.SealFile{Kind: seal.KindPassphrase, Passphrase: params}); err != nil {
			return 0, err
		}
	case seal.KindPKCS11:
		label := nextKeyLabel(s.sealing.source.key.(*seal.PKCS11RootKey).Label())
		key, _, err := s.token.RootKey(label, true)
		if err != nil {
			return 0, err
		}
		path, next = s.cfg.sealFilePath(), key
		state := &seal.PKCS11State{TokenLabel: s.token.TokenLabel(), KeyLabel: label}
		if err := seal.WriteSealFile(path+seal.PendingSuffix, &seal.SealFile{Kind: seal.KindPKCS11, PKCS11: state}); err != nil {
			return 0, err
		}
	default:
		path, oldSuffix = s.cfg.rootKeyPath(), ".old"
		key, err := seal.WriteNewFileRootKey(path + seal.PendingSuffix)
		if err != nil {
			return 0, err
		}
		next = key
	}

	n, err := s.keys.RotateRootKey(ctx, next)
	if err != nil {
		os.Remove(path + seal.PendingSuffix)
		return 0, err
	}
	if err := seal.CommitPending(path, oldSuffix); err != nil {
		// The store is already wrapped by the new key: the next start
		// finds it in the pending file.
		return n, fmt.Errorf("the data keys are wrapped by the new root key, but renaming %s failed (the next start finishes it): %w",
			path+seal.PendingSuffix, err)
	}
	s.sealing.source = rootCandidate{key: next, source: s.sealing.source.source}
	return n, nil
}

var labelSuffix = regexp.MustCompile(`^(.*)\.([0-9]+)$`)

// nextKeyLabel returns the label of the token key after label: "root"
// becomes "root.2", "root.2" becomes "root.3".
func nextKeyLabel(label string) string {
	if m := labelSuffix.FindStringSubmatch(label); m != nil {
		if n, err := strconv.Atoi(m[2]); err == nil {
			return m[1] + "." + strconv.Itoa(n+1)
		}
	}
	return label + ".2"
}

// serveRotateDataKeys gives every scope a new data key and starts the
// background re-encryption of records. It returns 202 with the progress.
func (s *Server) serveRotateDataKeys(w http.ResponseWriter, r *http.Request) {
	s.sealing.mu.Lock()
	defer s.sealing.mu.Unlock()
	p, err := s.keys.RotateDataKeys(r.Context(), time.Now())
	if errors.Is(err, seal.ErrRotationRunning) {
		api.WriteErrorDetail(w, http.StatusConflict, api.ErrorDetail{Code: "Conflict",
			Message: "A data-key rotation is still re-encrypting records; see GET " + pathRotation + "."})
		return
	}
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	s.log.Info("data keys rotated; re-encrypting records in the background", "rotationId", p.ID, "scopes", p.Scopes)
	s.startReencryptLocked()
	w.Header().Set("Location", pathRotation)
	writeOperatorJSON(w, http.StatusAccepted, rotationBody(p))
}

// startReencryptLocked starts the background re-encryption of a running
// rotation unless it already runs or Serve has not started the jobs yet.
// The caller holds s.sealing.mu.
func (s *Server) startReencryptLocked() {
	if s.sealing.jobs == nil || s.sealing.reencrypting || s.sealing.closed {
		return
	}
	p, err := s.keys.Rotation(s.sealing.jobs)
	if err != nil || !p.Running() {
		if err != nil {
			s.log.Error("reading the data-key rotation progress failed", "error", err)
		}
		return
	}
	s.sealing.reencrypting = true
	s.sealing.background.Add(1)
	jobs, keys, buckets := s.sealing.jobs, s.keys, s.sealedBuckets()
	go func() {
		defer s.sealing.background.Done()
		err := keys.Reencrypt(jobs, buckets, seal.ReencryptOptions{})
		s.sealing.mu.Lock()
		s.sealing.reencrypting = false
		s.sealing.mu.Unlock()
		switch {
		case err == nil:
			p, _ := keys.Rotation(jobs)
			if p != nil {
				s.log.Info("data-key rotation finished", "rotationId", p.ID, "reencrypted", p.Reencrypted, "skipped", p.Skipped, "passes", p.Pass)
			}
		case errors.Is(err, context.Canceled):
			s.log.Info("data-key re-encryption paused by shutdown; it resumes at the next start")
		default:
			s.log.Error("data-key re-encryption failed; it resumes at the next start", "error", err)
		}
	}()
}

// rotationBody is the JSON form of a rotation's progress.
func rotationBody(p *seal.RotationProgress) map[string]any {
	if p == nil {
		return map[string]any{"state": "none"}
	}
	state := "finished"
	if p.Running() {
		state = "running"
	}
	bucket := p.Bucket
	if strings.HasPrefix(bucket, "\x00") {
		bucket = ""
	}
	return map[string]any{
		"id": p.ID, "state": state, "started": p.Started, "finished": p.Finished, "scopes": p.Scopes,
		"pass": p.Pass, "bucket": bucket, "reencrypted": p.Reencrypted, "skipped": p.Skipped,
	}
}

func writeOperatorJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

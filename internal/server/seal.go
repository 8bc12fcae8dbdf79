package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/keyvault/keyvault/internal/identity"
	"github.com/keyvault/keyvault/internal/seal"
	"github.com/keyvault/keyvault/internal/storage"
)

// sealState is the server's root-of-trust state besides the keyring.
type sealState struct {
	// mu serializes unsealing, root-key rotation and the shutdown's
	// closing of the store.
	mu     sync.Mutex
	closed bool
	jobs   context.Context // the context of background jobs, nil until Serve starts
	source rootCandidate   // the root key in use and where it came from

	// Wrong passphrases in a row, and the time before which unseal
	// requests are rejected because of them.
	failures    int
	lockedUntil time.Time

	reencrypting bool
	background   sync.WaitGroup
}

// rootCandidate is a root key that may unwrap the store's data keys, with
// the file change that makes it the current one once the store accepts it.
type rootCandidate struct {
	key    seal.RootKey
	source string       // names the key in errors, such as "root key /data/root.key"
	accept func() error // nil, or writes seal.json or finishes an interrupted rotation
}

// openRootOfTrust loads the root key that --seal selects and opens the
// store with it. It returns false, and opens nothing, for a passphrase seal
// without a passphrase: the server then starts sealed.
func (s *Server) openRootOfTrust(ctx context.Context) (bool, error) {
	if err := s.checkSealKind(); err != nil {
		return false, err
	}
	switch s.cfg.Seal {
	case seal.KindPassphrase:
		if s.cfg.Passphrase == "" {
			return false, nil
		}
		return true, s.openPassphrase(ctx, s.cfg.Passphrase)
	case seal.KindPKCS11:
		token, err := seal.OpenPKCS11(s.cfg.PKCS11)
		if err != nil {
			return false, err
		}
		s.token = token
		return true, s.openStore(ctx, func(store storage.Store) ([]rootCandidate, error) {
			return s.pkcs11Candidates(ctx, store)
		})
	}
	candidates, err := s.fileCandidates()
	if err != nil {
		return false, err
	}
	return true, s.openStore(ctx, func(storage.Store) ([]rootCandidate, error) { return candidates, nil })
}

// checkSealKind rejects a --seal other than the one that seal.json records,
// before anything is created for the wrong kind.
func (s *Server) checkSealKind() error {
	sf, err := seal.ReadSealFile(s.cfg.sealFilePath())
	if err != nil {
		return err
	}
	kind := s.cfg.Seal
	if kind == "" {
		kind = seal.KindFile
	}
	if sf != nil && sf.Kind != kind {
		return fmt.Errorf("the data directory %s is sealed with --seal %s (see %s), not --seal %s",
			s.cfg.DataDir, sf.Kind, s.cfg.sealFilePath(), kind)
	}
	return nil
}

// fileCandidates loads the root key file, creating it on first start, and
// the key a root-key rotation left beside it if it stopped between its
// commit and the renaming of the files.
func (s *Server) fileCandidates() ([]rootCandidate, error) {
	path := s.cfg.rootKeyPath()
	root, created, err := seal.LoadOrCreateFileRootKey(path)
	if err != nil {
		return nil, err
	}
	if created {
		s.log.Info("created a new root key; back it up, the store cannot be read without it", "path", path, "rootKeyId", root.ID())
	}
	candidates := []rootCandidate{{key: root, source: "root key " + path}}
	pending := path + seal.PendingSuffix
	if _, err := os.Stat(pending); err == nil {
		next, _, err := seal.LoadOrCreateFileRootKey(pending)
		if err != nil {
			return nil, err
		}
		candidates = append(candidates, rootCandidate{key: next, source: "root key " + pending,
			accept: func() error { return seal.CommitPending(path, ".old") }})
	}
	return candidates, nil
}

// openPassphrase derives the root key from passphrase with the parameters
// of seal.json, or with new ones on first start, and opens the store with
// it. A wrong passphrase returns an error wrapping seal.ErrWrongPassphrase
// before the store is opened.
func (s *Server) openPassphrase(ctx context.Context, passphrase string) error {
	path := s.cfg.sealFilePath()
	sf, err := seal.ReadSealFile(path)
	if err != nil {
		return err
	}
	var candidates []rootCandidate
	if sf == nil {
		params, err := seal.NewPassphraseParams()
		if err != nil {
			return err
		}
		key, err := seal.DerivePassphraseRootKey(params, passphrase)
		if err != nil {
			return err
		}
		candidates = append(candidates, rootCandidate{key: key, source: "passphrase root key " + key.ID(),
			accept: func() error {
				s.log.Info("created the passphrase seal; back up seal.json with the store", "path", path, "rootKeyId", key.ID())
				return seal.WriteSealFile(path, &seal.SealFile{Kind: seal.KindPassphrase, Passphrase: params})
			}})
	} else {
		key, err := seal.DerivePassphraseRootKey(sf.Passphrase, passphrase)
		if err != nil && !errors.Is(err, seal.ErrWrongPassphrase) {
			return err
		}
		if err == nil {
			candidates = append(candidates, rootCandidate{key: key, source: "passphrase root key " + key.ID()})
		}
		// A rotation that stopped after its commit left the new parameters
		// in seal.json.new, and the new passphrase derives that key.
		pending, perr := seal.ReadSealFile(path + seal.PendingSuffix)
		if perr == nil && pending != nil && pending.Kind == seal.KindPassphrase {
			if next, err := seal.DerivePassphraseRootKey(pending.Passphrase, passphrase); err == nil {
				candidates = append(candidates, rootCandidate{key: next, source: "passphrase root key " + next.ID(),
					accept: func() error { return seal.CommitPending(path, "") }})
			}
		}
		if len(candidates) == 0 {
			return fmt.Errorf("%w: it does not derive the root key that %s records", seal.ErrWrongPassphrase, path)
		}
	}
	return s.openStore(ctx, func(storage.Store) ([]rootCandidate, error) { return candidates, nil })
}

// pkcs11Candidates finds the root key in the token: the key seal.json
// names, or on first start the key labelled KEYVAULT_PKCS11_KEY_LABEL,
// which is created if missing while the store has no data keys.
func (s *Server) pkcs11Candidates(ctx context.Context, store storage.Store) ([]rootCandidate, error) {
	path := s.cfg.sealFilePath()
	tokenLabel := s.token.TokenLabel()
	sf, err := seal.ReadSealFile(path)
	if err != nil {
		return nil, err
	}
	if sf == nil {
		hasKeys, err := seal.HasDataKeys(ctx, store)
		if err != nil {
			return nil, err
		}
		label := s.cfg.PKCS11.KeyLabel
		key, created, err := s.token.RootKey(label, !hasKeys)
		if err != nil {
			if hasKeys {
				return nil, fmt.Errorf("%w; the store already has data keys, so no new root key was created", err)
			}
			return nil, err
		}
		if created {
			s.log.Info("created the root key in the PKCS#11 token", "token", tokenLabel, "keyLabel", label, "rootKeyId", key.ID())
		}
		return []rootCandidate{{key: key, source: fmt.Sprintf("PKCS#11 root key %q in token %q", label, tokenLabel),
			accept: func() error {
				return seal.WriteSealFile(path, &seal.SealFile{Kind: seal.KindPKCS11,
					PKCS11: &seal.PKCS11State{TokenLabel: tokenLabel, KeyLabel: label}})
			}}}, nil
	}

	if sf.PKCS11.TokenLabel != tokenLabel {
		return nil, fmt.Errorf("%s names PKCS#11 token %q, but %s is %q", path, sf.PKCS11.TokenLabel, seal.EnvPKCS11TokenLabel, tokenLabel)
	}
	label := sf.PKCS11.KeyLabel
	if label != s.cfg.PKCS11.KeyLabel {
		s.log.Info("using the root key label that seal.json records, not KEYVAULT_PKCS11_KEY_LABEL (root-key rotation changes it)",
			"keyLabel", label, "configured", s.cfg.PKCS11.KeyLabel)
	}
	var candidates []rootCandidate
	key, _, keyErr := s.token.RootKey(label, false)
	if keyErr == nil {
		candidates = append(candidates, rootCandidate{key: key, source: fmt.Sprintf("PKCS#11 root key %q in token %q", label, tokenLabel)})
	}
	pending, perr := seal.ReadSealFile(path + seal.PendingSuffix)
	if perr == nil && pending != nil && pending.Kind == seal.KindPKCS11 {
		if next, _, err := s.token.RootKey(pending.PKCS11.KeyLabel, false); err == nil {
			candidates = append(candidates, rootCandidate{key: next,
				source: fmt.Sprintf("PKCS#11 root key %q in token %q", pending.PKCS11.KeyLabel, tokenLabel),
				accept: func() error { return seal.CommitPending(path, "") }})
		}
	}
	if len(candidates) == 0 {
		return nil, keyErr
	}
	return candidates, nil
}

// checkRootCandidates makes the first candidate that unwraps the store's
// data keys the keyring's root key and runs its accept step. If none does,
// it returns the first candidate's error, and nothing on disk has changed.
func (s *Server) checkRootCandidates(ctx context.Context, candidates []rootCandidate) error {
	var first error
	for i, c := range candidates {
		keys := seal.NewKeyring(s.store, c.key)
		err := keys.CheckRootKey(ctx)
		if err == nil {
			if c.accept != nil {
				if err := c.accept(); err != nil {
					return fmt.Errorf("%s: %w", c.source, err)
				}
			}
			if i > 0 {
				s.log.Warn("finished a root-key rotation that was interrupted after its commit", "rootKeyId", c.key.ID())
			}
			s.keys = keys
			s.sealing.source = rootCandidate{key: c.key, source: c.source}
			return nil
		}
		if first == nil {
			first = fmt.Errorf("%s: %w", c.source, err)
		}
		if !errors.Is(err, seal.ErrWrongRootKey) {
			break
		}
	}
	return first
}

// startJobs starts the time-driven jobs and any data-key re-encryption
// left unfinished, now if the server is unsealed, else at unseal.
func (s *Server) startJobs(jobs context.Context) {
	s.sealing.mu.Lock()
	defer s.sealing.mu.Unlock()
	s.sealing.jobs = jobs
	if s.unsealed.Load() {
		s.runJobsLocked()
	}
}

func (s *Server) runJobsLocked() {
	go s.vaults.RunJobs(s.sealing.jobs, s.cfg.PurgeInterval, s.log)
	s.startReencryptLocked()
}

// unseal opens the store with the passphrase and then the services, and
// starts the background jobs if Serve runs. The caller holds s.sealing.mu.
// On error everything opened is closed again, so that another attempt can
// follow.
func (s *Server) unseal(ctx context.Context, passphrase string) error {
	err := s.openPassphrase(ctx, passphrase)
	if err == nil {
		err = s.openServices(ctx)
	}
	if err != nil {
		s.closeStoreLocked()
		return err
	}
	s.unsealed.Store(true)
	s.metrics.sealed.Set(0)
	s.log.Info("unsealed", "rootKeyId", s.keys.RootKeyID())
	if s.sealing.jobs != nil {
		s.runJobsLocked()
	}
	return nil
}

// closeStoreLocked closes what openStore opened and forgets it.
func (s *Server) closeStoreLocked() {
	if s.audit != nil {
		s.audit.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
	s.audit, s.store, s.bolt, s.auditStore, s.keys, s.vaults, s.clock, s.ident = nil, nil, nil, nil, nil, nil, nil, nil
}

// closeSealed waits for background re-encryption and closes the store, the
// audit log and the token at shutdown.
func (s *Server) closeSealed() error {
	s.sealing.mu.Lock()
	s.sealing.closed = true
	s.sealing.mu.Unlock()
	s.sealing.background.Wait()

	var err error
	if s.store != nil {
		if cerr := s.store.Close(); cerr != nil {
			s.log.Error("closing the store failed", "error", cerr)
			err = errors.Join(err, cerr)
		}
	}
	if s.audit != nil {
		if cerr := s.audit.Close(); cerr != nil {
			s.log.Error("closing the audit log failed", "error", cerr)
			err = errors.Join(err, cerr)
		}
	}
	if s.token != nil {
		if cerr := s.token.Close(); cerr != nil {
			s.log.Error("closing the PKCS#11 token failed", "error", cerr)
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// sealedBuckets lists every bucket of sealed records, for re-encryption
// after a data-key rotation.
func (s *Server) sealedBuckets() []seal.SealedBucket {
	buckets := s.vaults.SealedBuckets()
	buckets = append(buckets, identity.SealedBuckets()...)
	return append(buckets, seal.SealedBucket{Name: bucketServerKeys, Locate: func(key []byte) (string, []byte, bool) {
		return seal.ServerScope, seal.AAD("server", string(key)), true
	}})
}

// configureHSM tells the vault domain how to keep -HSM key types: in the
// PKCS#11 token when there is one, else as software keys only with
// --allow-software-hsm.
func (s *Server) configureHSM() {
	s.vaults.RejectSoftwareHSM = !s.cfg.AllowSoftwareHSM
	if s.token != nil {
		s.vaults.HSM = s.token
	}
}

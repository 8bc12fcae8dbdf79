package seal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/keyvault/keyvault/internal/fsutil"
)

// SealFileName is the file in the data directory that records how a
// passphrase or PKCS#11 root key is found. File root keys need none.
const SealFileName = "seal.json"

// PendingSuffix names the file that a root-key rotation writes before its
// commit (seal.json.new, root.key.new). A start that finds one after a crash
// tries it when the current file does not match the store.
const PendingSuffix = ".new"

// Seal kinds, as --seal names them.
const (
	KindFile       = "file"
	KindPassphrase = "passphrase"
	KindPKCS11     = "pkcs11"
)

// SealFile is the content of seal.json.
type SealFile struct {
	Kind       string            `json:"kind"` // passphrase or pkcs11
	Passphrase *PassphraseParams `json:"passphrase,omitempty"`
	PKCS11     *PKCS11State      `json:"pkcs11,omitempty"`
}

// PKCS11State names the token key that is the current root key. Rotation
// creates a key with a new label, so the label configured at first start
// stops being the current one.
type PKCS11State struct {
	TokenLabel string `json:"tokenLabel"`
	KeyLabel   string `json:"keyLabel"`
}

// ReadSealFile reads seal.json at path. It returns nil and no error when the
// file does not exist.
func ReadSealFile(path string) (*SealFile, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var sf SealFile
	if err := json.Unmarshal(raw, &sf); err != nil {
		return nil, fmt.Errorf("%s is invalid: %w", path, err)
	}
	switch {
	case sf.Kind == KindPassphrase && sf.Passphrase == nil:
		return nil, fmt.Errorf("%s is invalid: kind passphrase without passphrase parameters", path)
	case sf.Kind == KindPKCS11 && (sf.PKCS11 == nil || sf.PKCS11.KeyLabel == ""):
		return nil, fmt.Errorf("%s is invalid: kind pkcs11 without a key label", path)
	case sf.Kind != KindPassphrase && sf.Kind != KindPKCS11:
		return nil, fmt.Errorf("%s is invalid: unknown kind %q", path, sf.Kind)
	}
	return &sf, nil
}

// WriteSealFile writes sf to path atomically with mode 0600.
func WriteSealFile(path string, sf *SealFile) error {
	raw, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(raw, '\n'))
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, so that a crash leaves either the old or the new
// content. The directory is synced too, so the rename survives a power loss.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return fsutil.SyncDir(dir)
}

// CommitPending renames path+PendingSuffix over path. When oldSuffix is not
// empty, the replaced content is first copied to path+oldSuffix. path exists
// at every moment, so a crash never leaves the data directory without it.
func CommitPending(path, oldSuffix string) error {
	if oldSuffix != "" {
		current, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err == nil {
			if err := writeFileAtomic(path+oldSuffix, current); err != nil {
				return err
			}
		}
	}
	if err := os.Rename(path+PendingSuffix, path); err != nil {
		return err
	}
	return fsutil.SyncDir(filepath.Dir(path))
}

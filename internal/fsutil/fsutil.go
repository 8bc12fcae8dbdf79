// Package fsutil holds file system steps that several packages need to
// make their files survive a crash.
package fsutil

import (
	"errors"
	"os"
)

// SyncDir syncs the directory dir, so that the entries of files created,
// renamed or removed in it survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

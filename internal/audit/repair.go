package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/keyvault/keyvault/internal/fsutil"
)

// Names of quarantine files, which contain a torn last line that Open moved
// out of the current file. Files never lists them, because they do not end
// in rotatedSuffix, so Verify does not read them.
const (
	quarantinePrefix = "audit-torn-"
	quarantineSuffix = ".partial"
)

// RepairOperation is the operation name of the record that notes a repair.
const RepairOperation = "AuditRepair"

// Repair describes a torn last line that Open moved out of the current
// audit file. A write(2) cut short by a power loss or a full disk leaves
// such a line: it has no trailing newline and does not decode as a record.
type Repair struct {
	File       string // the current audit file, cut back to its last complete line
	Quarantine string // the new file beside it that contains the torn bytes
	Bytes      int    // length of the torn line
	Seq        uint64 // the RepairOperation record that notes the repair in the log
}

// Repair returns the repair Open made to the current file, or nil if it
// made none.
func (l *Logger) Repair() *Repair { return l.repair }

// splitTornLine splits data, the content of the current file at path, into
// its complete lines and a torn last line. A last line without its newline
// that decodes as a record is complete: the write stopped just before the
// newline, which is then added to the file, so that the next record does
// not join that line.
func splitTornLine(path string, data []byte) (complete, torn []byte, err error) {
	end := bytes.LastIndexByte(data, '\n') + 1
	tail := data[end:]
	if len(tail) == 0 {
		return data, nil, nil
	}
	var r Record
	if json.Unmarshal(tail, &r) != nil {
		return data[:end], tail, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("audit file %s: add the newline missing after its last record: %w", path, err)
	}
	_, err = f.Write([]byte{'\n'})
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, nil, fmt.Errorf("audit file %s: add the newline missing after its last record: %w", path, err)
	}
	return append(data, '\n'), nil, nil
}

// quarantineTornLine moves torn, the bytes of the current file at path from
// offset keep to its end, to a new quarantine file in the same directory.
// The quarantine file and its directory entry are synced before the current
// file is cut, so a crash at any step leaves the torn bytes in one of the
// two files or in both. If the process stops before the cut, the next Open
// copies them again, to another quarantine file.
func quarantineTornLine(path string, keep int64, torn []byte, now time.Time) (*Repair, error) {
	dir := filepath.Dir(path)
	pattern := quarantinePrefix + now.UTC().Format("20060102T150405Z") + "-*" + quarantineSuffix
	q, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("audit file %s ends with a torn record, and creating a quarantine file for it in %s failed; check that %s is writable and has free space, and start again: %w",
			path, dir, dir, err)
	}
	_, err = q.Write(torn)
	if err == nil {
		err = q.Sync()
	}
	if err = errors.Join(err, q.Close()); err == nil {
		err = fsutil.SyncDir(dir)
	}
	if err != nil {
		os.Remove(q.Name()) // the torn bytes are still in path
		return nil, fmt.Errorf("audit file %s ends with a torn record, and writing it to %s failed; free space in %s and start again: %w",
			path, q.Name(), dir, err)
	}
	if err := truncateFile(path, keep); err != nil {
		return nil, fmt.Errorf("audit file %s: cutting off its torn record, already copied to %s, failed; start again to retry: %w",
			path, q.Name(), err)
	}
	return &Repair{File: path, Quarantine: q.Name(), Bytes: len(torn)}, nil
}

func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// recordRepair appends the record that notes l.repair, followed by a
// checkpoint that signs it, and syncs both. It is the first write after
// the repair, so the record follows the last complete record.
//
// NOTE: if the process stops between the repair and this write, the next
// Open finds no torn line and the log gets no record of the repair. The
// quarantine file is then its only trace.
func (l *Logger) recordRepair() error {
	rep := l.repair
	r := &Record{
		OperationName:   RepairOperation,
		Category:        CategoryAuditEvent,
		ResultType:      "Success",
		ResultSignature: "OK",
		Identity:        &Identity{Claim: map[string]string{"idtyp": "server"}},
		Properties: Properties{Details: fmt.Sprintf(
			"the last line of %s was a torn record (no trailing newline, not a valid record); its %d bytes were moved to %s",
			filepath.Base(rep.File), rep.Bytes, filepath.Base(rep.Quarantine))},
	}
	if err := l.Append(r, false); err != nil {
		return fmt.Errorf("write the %s record: %w", RepairOperation, err)
	}
	rep.Seq = r.Seq

	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.sinceCheckpoint > 0 { // Append may have written one already
		err = l.checkpoint()
	}
	if err == nil {
		err = l.drain()
	}
	if err == nil {
		err = l.sync()
	}
	if err != nil {
		return fmt.Errorf("write the checkpoint after the %s record: %w", RepairOperation, err)
	}
	return nil
}

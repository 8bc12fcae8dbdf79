package audit

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tornLine is the start of a record line, as a write(2) cut short leaves it.
const tornLine = `{"time":"2026-01-02T03:04:05.0000000Z","operationName":"SecretGet","category":"Audit`

// writeCrashedLog writes n event records to dir, leaves the logger without
// closing it, as a crash would, and appends tail to the current file. It
// returns the content of the current file before tail.
func writeCrashedLog(t *testing.T, dir string, key ed25519.PrivateKey, n int, tail string) []byte {
	t.Helper()
	l := openLogger(t, dir, key, 1<<20, 1000)
	appendEvents(t, l, 0, n)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.file.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, CurrentFile)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(slices.Clone(before), tail...), 0o600); err != nil {
		t.Fatal(err)
	}
	return before
}

// quarantineFiles lists the quarantine files of dir.
func quarantineFiles(t *testing.T, dir string) []string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(dir, quarantinePrefix+"*"+quarantineSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// checkRepairRecord checks that line is the record of rep that follows the
// record with hash prevHash.
func checkRepairRecord(t *testing.T, line []byte, rep *Repair, prevHash string) {
	t.Helper()
	r := parseRecord(t, line)
	if r.OperationName != RepairOperation {
		t.Errorf("record after the repair has operationName %s, want %s", r.OperationName, RepairOperation)
	}
	if r.Category != CategoryAuditEvent {
		t.Errorf("repair record has category %s, want %s", r.Category, CategoryAuditEvent)
	}
	if r.Seq != rep.Seq {
		t.Errorf("repair record has seq %d, Repair().Seq = %d", r.Seq, rep.Seq)
	}
	if r.PrevHash != prevHash {
		t.Errorf("repair record has prevHash %q, want %q, the hash of the last complete record", r.PrevHash, prevHash)
	}
	if !strings.Contains(r.Properties.Details, filepath.Base(rep.Quarantine)) {
		t.Errorf("repair details %q do not name the quarantine file %s", r.Properties.Details, filepath.Base(rep.Quarantine))
	}
	if want := fmt.Sprintf("%d bytes", rep.Bytes); !strings.Contains(r.Properties.Details, want) {
		t.Errorf("repair details %q do not contain %q", r.Properties.Details, want)
	}
}

// A torn last line is moved to a quarantine file, and the chain goes on
// from the last complete record with a record of the repair.
func TestAuditRepairTornLine(t *testing.T) {
	key := testKey(1)
	dir := t.TempDir()
	path := filepath.Join(dir, CurrentFile)
	before := writeCrashedLog(t, dir, key, 5, tornLine)
	lastHash := parseRecord(t, readFileLines(t, path)[4]).Hash

	l := openLogger(t, dir, key, 1<<20, 1000)
	rep := l.Repair()
	if rep == nil {
		t.Fatal("Repair() = nil after Open on a torn last line")
	}
	if rep.File != path {
		t.Errorf("Repair().File = %s, want %s", rep.File, path)
	}
	if rep.Bytes != len(tornLine) {
		t.Errorf("Repair().Bytes = %d, want %d", rep.Bytes, len(tornLine))
	}
	if rep.Seq != 6 {
		t.Errorf("Repair().Seq = %d, want 6, after the 5 complete records", rep.Seq)
	}
	if got := quarantineFiles(t, dir); len(got) != 1 || got[0] != rep.Quarantine {
		t.Fatalf("quarantine files %v, want only %s", got, rep.Quarantine)
	}
	moved, err := os.ReadFile(rep.Quarantine)
	if err != nil {
		t.Fatal(err)
	}
	if string(moved) != tornLine {
		t.Errorf("quarantine file contains %q, want the torn bytes %q", moved, tornLine)
	}
	info, err := os.Stat(rep.Quarantine)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("quarantine file mode %v, want 0600", mode)
	}
	if files, _ := Files(dir); len(files) != 1 || files[0] != path {
		t.Errorf("Files(dir) = %v, want only %s", files, path)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, before) {
		t.Fatalf("the complete records changed in the repair:\nbefore %q\nafter  %q", before, data)
	}
	lines := readFileLines(t, path)
	if len(lines) != 7 {
		t.Fatalf("the file has %d lines after Open, want 5 records, the repair record and a checkpoint", len(lines))
	}
	checkRepairRecord(t, lines[5], rep, lastHash)
	if r := parseRecord(t, lines[6]); r.Category != CategoryCheckpoint {
		t.Errorf("record after the repair record is a %s, want a checkpoint that signs it", r.Category)
	}

	r := eventRecord(5)
	if err := l.Append(r, true); err != nil {
		t.Fatal(err)
	}
	if r.Seq != 8 {
		t.Errorf("first event after the repair has seq %d, want 8", r.Seq)
	}
	report, _ := closeAndVerify(t, l, dir, key)
	if report.Records != 7 || report.Checkpoints != 2 || report.Unsigned != 0 {
		t.Errorf("report = %+v, want 7 records (6 events and the repair), 2 checkpoints, 0 unsigned", *report)
	}

	// The repaired log opens as it is.
	l = openLogger(t, dir, key, 1<<20, 1000)
	if rep := l.Repair(); rep != nil {
		t.Errorf("Repair() = %+v on reopening a repaired log, want nil", *rep)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := quarantineFiles(t, dir); len(got) != 1 {
		t.Errorf("quarantine files after reopening: %v, want only the first one", got)
	}
}

// Each torn line gets its own quarantine file, even when two repairs run
// at the same time of day.
func TestAuditRepairTwice(t *testing.T) {
	key := testKey(1)
	dir := t.TempDir()
	path := filepath.Join(dir, CurrentFile)
	writeCrashedLog(t, dir, key, 3, tornLine)
	l := openLogger(t, dir, key, 1<<20, 1000)
	first := l.Repair()
	if first == nil {
		t.Fatal("Repair() = nil after the first torn line")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(tornLine[:10]); err != nil {
		t.Fatal(err)
	}
	f.Close()

	l = openLogger(t, dir, key, 1<<20, 1000)
	second := l.Repair()
	if second == nil {
		t.Fatal("Repair() = nil after the second torn line")
	}
	if second.Quarantine == first.Quarantine {
		t.Errorf("both repairs wrote %s", first.Quarantine)
	}
	if got, _ := os.ReadFile(first.Quarantine); string(got) != tornLine {
		t.Errorf("first quarantine file contains %q after the second repair, want %q", got, tornLine)
	}
	if got, _ := os.ReadFile(second.Quarantine); string(got) != tornLine[:10] {
		t.Errorf("second quarantine file contains %q, want %q", got, tornLine[:10])
	}
	closeAndVerify(t, l, dir, key)
}

// A complete line that does not decode is damage or tampering, not a torn
// write: Open rejects the log and changes nothing.
func TestAuditOpenDamagedLastLine(t *testing.T) {
	tests := []struct {
		name string
		tail string
	}{
		{"complete line", `{"time":"2026-01-02T03:04:05` + "\n"},
		{"complete line then torn line", `{"time":"2026-01-02T03:04:05` + "\n" + tornLine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, CurrentFile)
			writeCrashedLog(t, dir, testKey(1), 3, tt.tail)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			_, err = Open(Options{Dir: dir, Key: testKey(1)})
			if err == nil {
				t.Fatal("Open on a file whose last complete line is not a record: nil error, want an error")
			}
			if !strings.Contains(err.Error(), "damaged record") || !strings.Contains(err.Error(), path) {
				t.Errorf("Open error = %q, want it to name %s and a damaged record", err, path)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Errorf("Open changed the rejected file:\nbefore %q\nafter  %q", before, after)
			}
			if got := quarantineFiles(t, dir); len(got) != 0 {
				t.Errorf("Open rejected the log but created quarantine files %v", got)
			}
		})
	}
}

// An empty current file needs no repair, and the chain starts at 1.
func TestAuditOpenEmptyFile(t *testing.T) {
	key := testKey(1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, CurrentFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	l := openLogger(t, dir, key, 1<<20, 1000)
	if rep := l.Repair(); rep != nil {
		t.Errorf("Repair() = %+v on an empty file, want nil", *rep)
	}
	r := eventRecord(0)
	if err := l.Append(r, true); err != nil {
		t.Fatal(err)
	}
	if r.Seq != 1 {
		t.Errorf("first record has seq %d, want 1", r.Seq)
	}
	closeAndVerify(t, l, dir, key)
	if got := quarantineFiles(t, dir); len(got) != 0 {
		t.Errorf("quarantine files %v, want none", got)
	}
}

// A current file whose only line is torn is cut to empty, and the chain
// goes on from the newest rotated file, or starts at 1 if there is none.
func TestAuditRepairOnlyLineTorn(t *testing.T) {
	key := testKey(1)

	t.Run("no rotated files", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, CurrentFile)
		if err := os.WriteFile(path, []byte(tornLine), 0o600); err != nil {
			t.Fatal(err)
		}
		l := openLogger(t, dir, key, 1<<20, 1000)
		rep := l.Repair()
		if rep == nil {
			t.Fatal("Repair() = nil after Open on a file whose only line is torn")
		}
		if rep.Seq != 1 {
			t.Errorf("repair record has seq %d, want 1", rep.Seq)
		}
		if got, _ := os.ReadFile(rep.Quarantine); string(got) != tornLine {
			t.Errorf("quarantine file contains %q, want %q", got, tornLine)
		}
		checkRepairRecord(t, readFileLines(t, path)[0], rep, "")
		closeAndVerify(t, l, dir, key)
	})

	t.Run("after rotated files", func(t *testing.T) {
		dir := t.TempDir()
		next := rotateByHand(t, dir, key, []byte(tornLine))
		lines := readFileLines(t, next)
		last := parseRecord(t, lines[len(lines)-1])

		l := openLogger(t, dir, key, rotatedMaxBytes, rotatedEvery)
		rep := l.Repair()
		if rep == nil {
			t.Fatal("Repair() = nil after Open on a file whose only line is torn")
		}
		if rep.Seq != last.Seq+1 {
			t.Errorf("repair record has seq %d, want %d", rep.Seq, last.Seq+1)
		}
		checkRepairRecord(t, readFileLines(t, filepath.Join(dir, CurrentFile))[0], rep, last.Hash)
		closeAndVerify(t, l, dir, key)
	})
}

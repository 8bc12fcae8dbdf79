package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testKey returns a fixed Ed25519 key, so fuzz seeds stay valid.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// fixedNow keeps every record the same length, so file sizes and rotation
// points do not depend on when the test runs.
func fixedNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// openLogger opens a logger on dir with the checkpoint key key.
func openLogger(t *testing.T, dir string, key ed25519.PrivateKey, maxFileBytes int64, checkpointEvery int) *Logger {
	t.Helper()
	l, err := Open(Options{Dir: dir, Key: key, MaxFileBytes: maxFileBytes, CheckpointEvery: checkpointEvery, Now: fixedNow})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return l
}

// eventRecord returns the i-th event record of a test log.
func eventRecord(i int) *Record {
	return &Record{
		OperationName:   "SecretGet",
		Category:        CategoryAuditEvent,
		ResultType:      "Success",
		ResultSignature: "OK",
		CallerIPAddress: "127.0.0.1",
		Identity:        &Identity{Claim: map[string]string{"oid": "00000000-0000-0000-0000-000000000001", "appid": "app"}},
		Properties: Properties{
			ID:             fmt.Sprintf("https://default.vault.localhost/secrets/s%03d", i),
			HTTPStatusCode: 200,
			RequestURI:     fmt.Sprintf("https://default.vault.localhost/secrets/s%03d?api-version=7.5", i),
		},
	}
}

// appendEvents appends the event records from..to-1.
func appendEvents(t *testing.T, l *Logger, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := l.Append(eventRecord(i), i%7 == 0); err != nil {
			t.Fatalf("Append(record %d): %v", i, err)
		}
	}
}

// Sizes of the rotated test log: about 9 records fit in a file, and a
// checkpoint follows every 10 records, so checkpoints fall both inside
// files and at their ends.
const (
	rotatedMaxBytes   = 4096
	rotatedEvery      = 10
	rotatedEventCount = 60
)

// writeRotatedLog writes rotatedEventCount records with rotation, closes
// the logger and returns the files in order.
func writeRotatedLog(t *testing.T, dir string, key ed25519.PrivateKey) []string {
	t.Helper()
	l := openLogger(t, dir, key, rotatedMaxBytes, rotatedEvery)
	appendEvents(t, l, 0, rotatedEventCount)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	files, err := Files(dir)
	if err != nil {
		t.Fatalf("Files: %v", err)
	}
	if len(files) < 4 {
		t.Fatalf("the log has %d files, want at least 4 to test rotation: %v", len(files), files)
	}
	return files
}

func readFileLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

func writeFileLines(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	data := append(bytes.Join(lines, []byte("\n")), '\n')
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

func parseRecord(t *testing.T, line []byte) Record {
	t.Helper()
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatalf("parse record %s: %v", line, err)
	}
	return r
}

// lineSeq returns the sequence number of line (1-based) of path.
func lineSeq(t *testing.T, path string, line int) uint64 {
	t.Helper()
	return parseRecord(t, readFileLines(t, path)[line-1]).Seq
}

// wantProblem checks that err is a *Problem at file:line for sequence
// number seq whose reason contains reason.
func wantProblem(t *testing.T, err error, file string, line int, seq uint64, reason string) {
	t.Helper()
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("Verify error = %v, want a *Problem at %s:%d", err, filepath.Base(file), line)
	}
	if p.File != file || p.Line != line || p.Seq != seq {
		t.Errorf("problem at %s:%d record %d, want %s:%d record %d (%v)",
			filepath.Base(p.File), p.Line, p.Seq, filepath.Base(file), line, seq, p)
	}
	if !strings.Contains(p.Reason, reason) {
		t.Errorf("problem reason = %q, want it to contain %q", p.Reason, reason)
	}
	want := fmt.Sprintf("%s:%d: record %d: ", file, line, seq)
	if !strings.HasPrefix(p.Error(), want) {
		t.Errorf("problem message = %q, want prefix %q", p.Error(), want)
	}
}

func TestAuditRotatedChainVerifies(t *testing.T) {
	key := testKey(1)
	dir := t.TempDir()
	files := writeRotatedLog(t, dir, key)

	// Rotated files are numbered from 1 and the current file comes last.
	for i, f := range files[:len(files)-1] {
		if want := fmt.Sprintf("audit-%06d.jsonl", i+1); filepath.Base(f) != want {
			t.Errorf("file %d = %s, want %s", i, filepath.Base(f), want)
		}
	}
	if got := filepath.Base(files[len(files)-1]); got != CurrentFile {
		t.Errorf("last file = %s, want %s", got, CurrentFile)
	}

	// Sequence numbers run on across files, every rotated file ends with a
	// checkpoint, and no file is much larger than the limit.
	var seq uint64
	var events, checkpoints uint64
	for _, f := range files {
		lines := readFileLines(t, f)
		for i, line := range lines {
			r := parseRecord(t, line)
			seq++
			if r.Seq != seq {
				t.Fatalf("%s:%d: seq %d, want %d", filepath.Base(f), i+1, r.Seq, seq)
			}
			if r.Category == CategoryCheckpoint {
				checkpoints++
			} else {
				events++
			}
		}
		last := parseRecord(t, lines[len(lines)-1])
		if last.Category != CategoryCheckpoint {
			t.Errorf("%s ends with a %s record, want a checkpoint", filepath.Base(f), last.Category)
		}
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() > rotatedMaxBytes+1024 {
			t.Errorf("%s has %d bytes, want at most about %d", filepath.Base(f), info.Size(), rotatedMaxBytes)
		}
	}
	if events != rotatedEventCount {
		t.Errorf("the files hold %d event records, want %d", events, rotatedEventCount)
	}

	rep, err := Verify(files, key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != rotatedEventCount || rep.Checkpoints != checkpoints || rep.LastSeq != seq || rep.Unsigned != 0 {
		t.Errorf("report = %+v, want %d records, %d checkpoints, last seq %d, 0 unsigned",
			*rep, rotatedEventCount, checkpoints, seq)
	}
	lines := readFileLines(t, files[len(files)-1])
	if last := parseRecord(t, lines[len(lines)-1]); rep.LastHash != last.Hash {
		t.Errorf("report last hash = %s, want %s", rep.LastHash, last.Hash)
	}
}

func TestAuditVerifyDetectsTampering(t *testing.T) {
	key := testKey(1)
	pub := key.Public().(ed25519.PublicKey)

	// Each case tampers with the files of a fresh log and returns the files
	// to verify, with the position and reason Verify must report. Line 3 of
	// the second file is an event record in every layout of this log.
	type want struct {
		file   string
		line   int
		seq    uint64
		reason string
	}
	tests := []struct {
		name   string
		tamper func(t *testing.T, files []string) ([]string, want)
	}{
		{
			name: "edited field",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				f := files[1]
				lines := readFileLines(t, f)
				lines[2] = bytes.Replace(lines[2], []byte(`"SecretGet"`), []byte(`"SecretSet"`), 1)
				seq := parseRecord(t, lines[2]).Seq
				writeFileLines(t, f, lines)
				return files, want{f, 3, seq, "the record was changed"}
			},
		},
		{
			name: "deleted record",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				f := files[1]
				seq := lineSeq(t, f, 3)
				lines := readFileLines(t, f)
				writeFileLines(t, f, slices.Delete(lines, 2, 3))
				return files, want{f, 3, seq, "1 record(s) before it were removed"}
			},
		},
		{
			name: "inserted copy",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				f := files[1]
				lines := readFileLines(t, f)
				seq := parseRecord(t, lines[2]).Seq
				lines = slices.Insert(lines, 3, slices.Clone(lines[1]))
				writeFileLines(t, f, lines)
				return files, want{f, 4, seq + 1, "the record was inserted or moved"}
			},
		},
		{
			name: "swapped records",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				f := files[1]
				lines := readFileLines(t, f)
				seq := parseRecord(t, lines[2]).Seq
				lines[2], lines[3] = lines[3], lines[2]
				writeFileLines(t, f, lines)
				return files, want{f, 3, seq, "record(s) before it were removed"}
			},
		},
		{
			name: "rotated file cut mid-line",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				f := files[1]
				lines := readFileLines(t, f)
				n := len(lines)
				seq := parseRecord(t, lines[n-1]).Seq
				lines[n-1] = lines[n-1][:len(lines[n-1])/2]
				data := bytes.Join(lines, []byte("\n")) // no newline after the cut line
				if err := os.WriteFile(f, data, 0o600); err != nil {
					t.Fatal(err)
				}
				return files, want{f, n, seq, "cut short"}
			},
		},
		{
			name: "current file cut mid-line",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				f := files[len(files)-1]
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				n := len(readFileLines(t, f))
				seq := lineSeq(t, f, n)
				cut := bytes.LastIndexByte(data[:len(data)-1], '\n') + 40
				if err := os.WriteFile(f, data[:cut], 0o600); err != nil {
					t.Fatal(err)
				}
				return files, want{f, n, seq, "cut short"}
			},
		},
		{
			name: "middle file removed",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				removed := len(readFileLines(t, files[1]))
				first := lineSeq(t, files[1], 1)
				if err := os.Remove(files[1]); err != nil {
					t.Fatal(err)
				}
				rest := slices.Delete(slices.Clone(files), 1, 2)
				return rest, want{files[2], 1, first, fmt.Sprintf("%d record(s) before it were removed", removed)}
			},
		},
		{
			name: "files out of order",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				out := slices.Clone(files)
				out[0], out[1] = out[1], out[0]
				next := uint64(len(readFileLines(t, files[1]))) + lineSeq(t, files[1], 1)
				return out, want{files[0], 1, next, "the record was inserted or moved"}
			},
		},
		{
			name: "checkpoint signature changed",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				f := files[1]
				lines := readFileLines(t, f)
				n := len(lines)
				r := parseRecord(t, lines[n-1])
				sig := []byte(r.Signature)
				sig[5] ^= 0x01 // still base64, but another signature
				r.Signature = string(sig)
				lines[n-1], _ = json.Marshal(&r)
				writeFileLines(t, f, lines)
				return files, want{f, n, r.Seq, "the checkpoint signature is not valid"}
			},
		},
		{
			// An attacker edits a record and recomputes every hash after
			// it. Only the next checkpoint's signature detects that.
			name: "edited record with chain rehashed",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				prev := ""
				var at want
				edited := false
				for fi, f := range files {
					lines := readFileLines(t, f)
					for i := range lines {
						r := parseRecord(t, lines[i])
						if fi == 1 && i == 2 {
							r.Properties.ID = "https://default.vault.localhost/secrets/forged"
							edited = true
						}
						if edited && prev != "" {
							r.PrevHash = prev
						}
						if edited && r.Category == CategoryCheckpoint && at.file == "" {
							at = want{f, i + 1, r.Seq, "the checkpoint signature is not valid"}
						}
						h, err := chainHash(&r)
						if err != nil {
							t.Fatal(err)
						}
						r.Hash = h
						lines[i], _ = json.Marshal(&r)
						prev = r.Hash
					}
					writeFileLines(t, f, lines)
				}
				return files, at
			},
		},
		{
			// JSON keys match struct fields without regard to case and the
			// last duplicate wins, so a line could show tools that read keys
			// exactly a forged operationName while hashing as the original.
			name: "duplicate key in another case",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				f := files[1]
				lines := readFileLines(t, f)
				seq := parseRecord(t, lines[2]).Seq
				lines[2] = bytes.Replace(lines[2], []byte(`"operationName":"SecretGet"`),
					[]byte(`"operationName":"SecretPurge","OperationName":"SecretGet"`), 1)
				writeFileLines(t, f, lines)
				return files, want{f, 3, seq, "not in the form the logger writes"}
			},
		},
		{
			name: "unknown field added",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				f := files[1]
				lines := readFileLines(t, f)
				seq := parseRecord(t, lines[2]).Seq
				lines[2] = bytes.Replace(lines[2], []byte(`{"time"`), []byte(`{"comment":"approved","time"`), 1)
				writeFileLines(t, f, lines)
				return files, want{f, 3, seq, "not in the form the logger writes"}
			},
		},
		{
			name: "blank line inserted",
			tamper: func(t *testing.T, files []string) ([]string, want) {
				f := files[1]
				lines := readFileLines(t, f)
				seq := parseRecord(t, lines[2]).Seq
				writeFileLines(t, f, slices.Insert(lines, 2, []byte{}))
				return files, want{f, 3, seq, "not a valid record"}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := writeRotatedLog(t, t.TempDir(), key)
			if _, err := Verify(files, pub); err != nil {
				t.Fatalf("Verify before tampering: %v", err)
			}
			tampered, w := tt.tamper(t, files)
			if w.file == "" {
				t.Fatal("the case found no position to expect")
			}
			rep, err := Verify(tampered, pub)
			if err == nil {
				t.Fatalf("Verify after tampering = %+v, nil error; want a problem at %s:%d", *rep, filepath.Base(w.file), w.line)
			}
			wantProblem(t, err, w.file, w.line, w.seq, w.reason)
		})
	}
}

func TestAuditVerifyCheckpointKey(t *testing.T) {
	files := writeRotatedLog(t, t.TempDir(), testKey(1))
	lines := readFileLines(t, files[0])
	first := 0
	for i, line := range lines {
		if parseRecord(t, line).Category == CategoryCheckpoint {
			first = i + 1
			break
		}
	}
	if first == 0 {
		t.Fatalf("%s has no checkpoint", files[0])
	}
	seq := lineSeq(t, files[0], first)

	tests := []struct {
		name string
		pub  ed25519.PublicKey
	}{
		{name: "another key", pub: testKey(2).Public().(ed25519.PublicKey)},
		{name: "no key", pub: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(files, tt.pub)
			wantProblem(t, err, files[0], first, seq, "the checkpoint signature is not valid")
		})
	}
}

func TestAuditVerifyOldFilesRemoved(t *testing.T) {
	key := testKey(1)
	files := writeRotatedLog(t, t.TempDir(), key)
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(files[1:], key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatalf("Verify without the oldest file: %v", err)
	}
	if rep.LastSeq == 0 || rep.Records == 0 || rep.Records >= rotatedEventCount {
		t.Errorf("report = %+v, want some but not all %d records", *rep, rotatedEventCount)
	}
}

// Records removed whole from the end, with the final checkpoint, leave a
// chain that verifies. The report counts the records after the last
// checkpoint, which no signature covers.
func TestAuditVerifyUnsignedTail(t *testing.T) {
	key := testKey(1)
	dir := t.TempDir()
	l := openLogger(t, dir, key, 1<<20, 10)
	appendEvents(t, l, 0, 25)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := Files(dir)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	rep, err := Verify(files, pub)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != 25 || rep.Checkpoints != 3 || rep.Unsigned != 0 {
		t.Errorf("report = %+v, want 25 records, 3 checkpoints, 0 unsigned", *rep)
	}

	// Drop the final checkpoint and the last two records.
	lines := readFileLines(t, files[0])
	writeFileLines(t, files[0], lines[:len(lines)-3])
	rep, err = Verify(files, pub)
	if err != nil {
		t.Fatalf("Verify after cutting whole records: %v", err)
	}
	if rep.Records != 23 || rep.Unsigned != 3 {
		t.Errorf("report = %+v, want 23 records, 3 unsigned", *rep)
	}
}

func TestAuditResumeAfterReopen(t *testing.T) {
	key := testKey(1)
	dir := t.TempDir()
	l := openLogger(t, dir, key, 1<<20, 1000)
	appendEvents(t, l, 0, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Close wrote checkpoint 11; the next record must be 12.
	l = openLogger(t, dir, key, 1<<20, 1000)
	r := eventRecord(10)
	if err := l.Append(r, true); err != nil {
		t.Fatal(err)
	}
	if r.Seq != 12 {
		t.Errorf("first record after reopen has seq %d, want 12", r.Seq)
	}
	appendEvents(t, l, 11, 15)
	rep, _ := closeAndVerify(t, l, dir, key)
	if rep.Records != 15 || rep.Checkpoints != 2 || rep.LastSeq != 17 {
		t.Errorf("report = %+v, want 15 records, 2 checkpoints, last seq 17", *rep)
	}
}

// A logger that was never closed (the process died) is continued by the
// next Open from its last complete record.
func TestAuditResumeAfterCrash(t *testing.T) {
	key := testKey(1)
	dir := t.TempDir()
	l := openLogger(t, dir, key, 1<<20, 1000)
	appendEvents(t, l, 0, 5)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.file.Close(); err != nil { // abandon it without a checkpoint
		t.Fatal(err)
	}

	l = openLogger(t, dir, key, 1<<20, 1000)
	appendEvents(t, l, 5, 8)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := Files(dir)
	rep, err := Verify(files, key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != 8 || rep.Checkpoints != 1 || rep.LastSeq != 9 {
		t.Errorf("report = %+v, want 8 records, 1 checkpoint, last seq 9", *rep)
	}
}

// rotateByHand writes a rotated log in dir, renames its current file as
// the next rotation would, and starts a current file with content. It
// returns the path of the file it renamed.
func rotateByHand(t *testing.T, dir string, key ed25519.PrivateKey, content []byte) string {
	t.Helper()
	files := writeRotatedLog(t, dir, key)
	current := files[len(files)-1]
	next := filepath.Join(dir, fmt.Sprintf("audit-%06d.jsonl", len(files)))
	if err := os.Rename(current, next); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(current, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return next
}

// When the current file is empty (the process died right after a
// rotation), Open continues from the newest rotated file.
func TestAuditResumeFromRotatedFile(t *testing.T) {
	key := testKey(1)
	dir := t.TempDir()
	next := rotateByHand(t, dir, key, nil)
	lastSeq := lineSeq(t, next, len(readFileLines(t, next)))

	l := openLogger(t, dir, key, rotatedMaxBytes, rotatedEvery)
	r := eventRecord(100)
	if err := l.Append(r, true); err != nil {
		t.Fatal(err)
	}
	if r.Seq != lastSeq+1 {
		t.Errorf("first record after reopen has seq %d, want %d", r.Seq, lastSeq+1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	all, _ := Files(dir)
	if _, err := Verify(all, key.Public().(ed25519.PublicKey)); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// A write cut short just before the newline leaves a whole record without
// it. Open adds the newline, so the next record starts a line of its own.
func TestAuditResumeMissingNewline(t *testing.T) {
	key := testKey(1)
	dir := t.TempDir()
	l := openLogger(t, dir, key, 1<<20, 1000)
	appendEvents(t, l, 0, 3)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.file.Close(); err != nil { // abandon it without a checkpoint
		t.Fatal(err)
	}
	path := filepath.Join(dir, CurrentFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.TrimSuffix(data, []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}

	l = openLogger(t, dir, key, 1<<20, 1000)
	if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
		t.Errorf("after Open the file has %d bytes ending in %q, want the %d bytes written, ending in a newline",
			len(got), got[max(0, len(got)-8):], len(data))
	}
	r := eventRecord(3)
	if err := l.Append(r, true); err != nil {
		t.Fatal(err)
	}
	if r.Seq != 4 {
		t.Errorf("first record after reopen has seq %d, want 4", r.Seq)
	}
	if got := quarantineFiles(t, dir); len(got) != 0 {
		t.Errorf("quarantine files %v for a whole last record, want none", got)
	}
	rep, _ := closeAndVerify(t, l, dir, key)
	if rep.Records != 4 || rep.LastSeq != 5 {
		t.Errorf("report = %+v, want 4 records, last seq 5", *rep)
	}
}

// Rotation after an operator removed the oldest files (retention) must
// not reuse the number of a file that still exists.
func TestAuditRotationAfterOldFilesRemoved(t *testing.T) {
	key := testKey(1)
	dir := t.TempDir()
	files := writeRotatedLog(t, dir, key)
	kept := files[1 : len(files)-1]
	before := map[string][]byte{}
	for _, f := range kept {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		before[f] = data
	}
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}

	l := openLogger(t, dir, key, rotatedMaxBytes, rotatedEvery)
	appendEvents(t, l, 100, 120)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range kept {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("rotated file %s: %v", filepath.Base(f), err)
		}
		if !bytes.Equal(data, before[f]) {
			t.Errorf("rotated file %s was overwritten by a later rotation", filepath.Base(f))
		}
	}
	after, _ := Files(dir)
	if _, err := Verify(after, key.Public().(ed25519.PublicKey)); err != nil {
		t.Errorf("Verify after rotating with the oldest file removed: %v", err)
	}
}

// An append whose write fails leaves the file as it was, and the chain
// goes on from the last record written.
func TestAuditWriteFailureNoPartialLine(t *testing.T) {
	key := testKey(1)
	pub := key.Public().(ed25519.PublicKey)

	t.Run("file closed", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, CurrentFile)
		l := openLogger(t, dir, key, 1<<20, 1000)
		appendEvents(t, l, 0, 3)
		before, _ := os.ReadFile(path)
		l.file.Close()

		err := l.Append(eventRecord(3), true)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Append on a closed file = %v, want ErrUnavailable", err)
		}
		if got := l.Failures(); got != 1 {
			t.Errorf("Failures() = %d, want 1", got)
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(after, before) {
			t.Errorf("the file changed after a failed append:\nbefore %q\nafter  %q", before, after)
		}
		if err := l.Close(); err == nil {
			t.Error("Close with the file closed under it: nil error, want the failure")
		}

		l = openLogger(t, dir, key, 1<<20, 1000)
		r := eventRecord(4)
		if err := l.Append(r, true); err != nil {
			t.Fatal(err)
		}
		if r.Seq != 4 {
			t.Errorf("record after the failure has seq %d, want 4", r.Seq)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := Verify([]string{path}, pub); err != nil {
			t.Errorf("Verify: %v", err)
		}
	})

	// RLIMIT_FSIZE makes the kernel write part of the line and then fail,
	// as a full disk does.
	t.Run("short write", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, CurrentFile)
		l := openLogger(t, dir, key, 1<<20, 1000)
		appendEvents(t, l, 0, 3)
		before, _ := os.ReadFile(path)

		var old syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Fatal(err)
		}
		limited := old
		limited.Cur = uint64(len(before) + 40)
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited); err != nil {
			t.Skipf("cannot lower RLIMIT_FSIZE: %v", err)
		}
		err := l.Append(eventRecord(3), false)
		if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); rerr != nil {
			t.Fatalf("restore RLIMIT_FSIZE: %v", rerr)
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Append past the file size limit = %v, want ErrUnavailable", err)
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(after, before) {
			t.Errorf("a partial line is left after a failed append: %q", after[len(before):])
		}

		r := eventRecord(4)
		if err := l.Append(r, true); err != nil {
			t.Fatalf("Append after the limit was lifted: %v", err)
		}
		if r.Seq != 4 {
			t.Errorf("record after the failure has seq %d, want 4", r.Seq)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		rep, err := Verify([]string{path}, pub)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if rep.Records != 4 {
			t.Errorf("report = %+v, want 4 records", *rep)
		}
	})
}

func TestAuditStdoutCopy(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, Key: testKey(1), Stdout: &out, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, l, 0, 3)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, CurrentFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Errorf("standard output copy differs from the file:\ncopy %q\nfile %q", out.Bytes(), data)
	}
}

func FuzzAuditVerify(f *testing.F) {
	key := testKey(1)
	pub := key.Public().(ed25519.PublicKey)

	// Seeds: a valid log with checkpoints, and damaged forms of it.
	dir := f.TempDir()
	l, err := Open(Options{Dir: dir, Key: key, CheckpointEvery: 2, Now: fixedNow})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 5 {
		if err := l.Append(eventRecord(i), false); err != nil {
			f.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(filepath.Join(dir, CurrentFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(bytes.Replace(valid, []byte("SecretGet"), []byte("SecretSet"), 1))
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"seq":0}` + "\n"))
	f.Add([]byte(`{"seq":18446744073709551615,"category":"AuditCheckpoint"}` + "\n"))
	f.Add([]byte(`{"category":"AuditCheckpoint","signature":"!!"}` + "\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), CurrentFile)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		lines := 0
		if len(data) > 0 {
			lines = bytes.Count(data, []byte("\n"))
			if data[len(data)-1] != '\n' {
				lines++
			}
		}
		rep, err := Verify([]string{path}, pub)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("Verify error %v is not a *Problem", err)
			}
			if p.Line < 1 || p.Line > lines {
				t.Fatalf("problem at line %d of a file with %d lines", p.Line, lines)
			}
			return
		}
		if got := rep.Records + rep.Checkpoints; got != uint64(lines) {
			t.Fatalf("Verify accepted %d records of a file with %d lines", got, lines)
		}
	})
}

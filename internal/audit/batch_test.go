package audit

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// appendConcurrently appends the event records from..to-1 from one
// goroutine each and returns the error of each Append, by record index.
func appendConcurrently(l *Logger, from, to int) map[int]error {
	var mu sync.Mutex
	errs := map[int]error{}
	var wg sync.WaitGroup
	for i := from; i < to; i++ {
		wg.Go(func() {
			err := l.Append(eventRecord(i), false)
			mu.Lock()
			errs[i] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return errs
}

// TestConcurrentAppendsChain checks that records appended from many
// goroutines, and so written in shared batches, form one valid chain that
// holds each record once, across rotations.
func TestConcurrentAppendsChain(t *testing.T) {
	dir := t.TempDir()
	key := testKey(1)
	l := openLogger(t, dir, key, 16<<10, 50) // rotates about ten times
	for i, err := range appendConcurrently(l, 0, 400) {
		if err != nil {
			t.Fatalf("Append(record %d): %v", i, err)
		}
	}
	rep, files := closeAndVerify(t, l, dir, key)
	if len(files) < 5 {
		t.Errorf("the log has %d files, want at least 5: the test should rotate while batches are written", len(files))
	}
	if rep.Records != 400 {
		t.Errorf("Verify counted %d event records, want 400", rep.Records)
	}
	seen := map[string]int{}
	for _, line := range readAllLines(t, files) {
		seen[line.Properties.ID]++
	}
	for i := range 400 {
		if id := eventRecord(i).Properties.ID; seen[id] != 1 {
			t.Errorf("record %d is in the log %d times, want once", i, seen[id])
		}
	}
}

// TestFailedBatchWrite makes one batch write fail and checks that every
// Append of the batch returns an error, that none of its records is left in
// the file, and that the chain goes on from the last record written.
func TestFailedBatchWrite(t *testing.T) {
	dir := t.TempDir()
	key := testKey(1)
	l := openLogger(t, dir, key, 0, 1000)
	appendEvents(t, l, 0, 10)

	// A read-only descriptor of the same file makes every write fail.
	l.mu.Lock()
	good := l.file
	readOnly, err := os.Open(filepath.Join(dir, CurrentFile))
	if err != nil {
		l.mu.Unlock()
		t.Fatal(err)
	}
	l.file = readOnly
	l.mu.Unlock()
	for i, err := range appendConcurrently(l, 10, 20) {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("Append(record %d) with a failing file = %v, want ErrUnavailable", i, err)
		}
	}
	l.mu.Lock()
	l.file = good
	l.mu.Unlock()
	readOnly.Close()

	appendEvents(t, l, 20, 30)
	rep, files := closeAndVerify(t, l, dir, key)
	if rep.Records != 20 {
		t.Errorf("Verify counted %d event records, want 20 (0-9 and 20-29)", rep.Records)
	}
	for _, line := range readAllLines(t, files) {
		for i := 10; i < 20; i++ {
			if line.Properties.ID == eventRecord(i).Properties.ID {
				t.Errorf("record %d, whose Append failed, is in the log", i)
			}
		}
	}
}

// readAllLines decodes every line of files.
func readAllLines(t *testing.T, files []string) []Record {
	t.Helper()
	var out []Record
	for _, f := range files {
		lines, _, err := readLines(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range lines {
			var r Record
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, r)
		}
	}
	return out
}

// closeAndVerify closes l and verifies the files of dir with key's public
// key. It returns the report and the files.
func closeAndVerify(t *testing.T, l *Logger, dir string, key ed25519.PrivateKey) (*Report, []string) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := Files(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(files, key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep, files
}

package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// File names in the audit directory: the current file, and rotated files
// numbered in the order they were written.
const (
	CurrentFile   = "audit.jsonl"
	rotatedPrefix = "audit-"
	rotatedSuffix = ".jsonl"
)

// timeLayout is the layout of a record's time, as Azure writes it.
const timeLayout = "2006-01-02T15:04:05.0000000Z"

// ErrUnavailable is returned when no sink could record an event.
var ErrUnavailable = errors.New("audit: no sink could record the event")

// Options configures a Logger.
type Options struct {
	Dir             string             // the audit directory
	MaxFileBytes    int64              // rotate the current file past this size; 0 means 100 MiB
	CheckpointEvery int                // records between signed checkpoints; 0 means 1000
	Key             ed25519.PrivateKey // signs checkpoints
	Stdout          io.Writer          // if set, every record is also written here
	Now             func() time.Time   // nil means time.Now
}

// Logger appends records to the audit files. It is safe for concurrent use.
//
// Records of concurrent requests are written together: a record is chained
// and added to a pending batch under mu, and its Append returns once a
// write(2) has taken the batch that holds it. One goroutine at a time
// writes a batch, outside mu, while others add to the next one.
type Logger struct {
	opts Options

	mu              sync.Mutex
	written         sync.Cond // signalled, with mu, when a batch write ends
	file            *os.File
	size            int64  // bytes written to the current file
	seq             uint64 // the last record chained, pending or written
	last            string // hash of record seq
	sinceCheckpoint int
	dirty           bool // written since the last fsync

	pending   []byte // lines chained but not yet written, in order
	spare     []byte // the buffer of the last batch, for reuse
	writing   bool   // a goroutine is writing a batch without holding mu
	wroteSeq  uint64 // the last record written to the file
	wroteHash string // hash of record wroteSeq

	// A failed batch write starts a new epoch. The records of the batch,
	// and the pending ones chained after them, are dropped, and the chain
	// goes on from the last record written. epochEnds[e] is the last
	// record written in epoch e, and writeErr the last write error.
	epoch     int
	epochEnds []uint64
	writeErr  error

	failures atomic.Uint64
	repair   *Repair // set by Open and not changed after
}

// Open opens the audit directory, continuing the chain of its last record.
// It moves a torn last line of the current file to a quarantine file and
// records that in the log, and Logger.Repair then describes the repair.
func Open(opts Options) (*Logger, error) {
	if opts.MaxFileBytes == 0 {
		opts.MaxFileBytes = 100 << 20
	}
	if opts.CheckpointEvery == 0 {
		opts.CheckpointEvery = 1000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit directory: %w", err)
	}
	l := &Logger{opts: opts}
	l.written.L = &l.mu
	if err := l.resume(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(opts.Dir, CurrentFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open audit file: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	l.file, l.size = f, info.Size()
	if l.repair != nil {
		if err := l.recordRepair(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return l, nil
}

// resume reads the last record written, in the current file or else the
// newest rotated one, so the chain goes on across restarts. It first
// moves a torn last line out of the current file (see Repair).
func (l *Logger) resume() error {
	files, err := Files(l.opts.Dir)
	if err != nil {
		return err
	}
	var current string
	var keep int64
	var torn []byte
	for i := len(files) - 1; i >= 0; i-- {
		data, err := os.ReadFile(files[i])
		if err != nil {
			return err
		}
		if filepath.Base(files[i]) == CurrentFile {
			if data, torn, err = splitTornLine(files[i], data); err != nil {
				return err
			}
			current, keep = files[i], int64(len(data))
		}
		r, err := lastRecord(files[i], data)
		if err != nil {
			return err
		}
		if r != nil {
			l.seq, l.last = r.Seq, r.Hash
			l.wroteSeq, l.wroteHash = r.Seq, r.Hash
			break
		}
	}
	if len(torn) == 0 {
		return nil
	}
	// The torn line is moved only once the record before it decoded, so
	// that a log that Open rejects is left as it was.
	l.repair, err = quarantineTornLine(current, keep, torn, l.opts.Now())
	return err
}

// lastRecord decodes the last line of data, the content of the audit file
// at path. It returns nil if data has no line.
func lastRecord(path string, data []byte) (*Record, error) {
	data = bytes.TrimRight(data, "\n")
	if len(data) == 0 {
		return nil, nil
	}
	line := data[bytes.LastIndexByte(data, '\n')+1:]
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("audit file %s ends with a damaged record; run keyvault audit verify: %w", path, err)
	}
	return &r, nil
}

// Files lists the audit files of dir in the order they were written: the
// rotated files by number, then the current file.
func Files(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rotated []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, rotatedPrefix) && strings.HasSuffix(n, rotatedSuffix) {
			rotated = append(rotated, filepath.Join(dir, n))
		}
	}
	sort.Strings(rotated) // zero-padded numbers sort in order
	if _, err := os.Stat(filepath.Join(dir, CurrentFile)); err == nil {
		rotated = append(rotated, filepath.Join(dir, CurrentFile))
	}
	return rotated, nil
}

// Append chains r to the log and writes it. With durable set it is on
// stable storage (fsync) before Append returns. On error nothing of r is
// left in the file.
func (l *Logger) Append(r *Record, durable bool) error {
	if r.Time == "" {
		r.Time = l.opts.Now().UTC().Format(timeLayout)
	}
	r.makeValidUTF8()
	// Everything but the chain is encoded before the lock is taken.
	var body []byte
	if r.Signature == "" {
		body = appendBody(make([]byte, 0, 1024), r)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.append(r, body); err != nil {
		l.failures.Add(1)
		return err
	}
	if l.sinceCheckpoint >= l.opts.CheckpointEvery {
		if err := l.checkpoint(); err != nil {
			l.failures.Add(1)
			return err
		}
	}
	if err := l.awaitWritten(l.epoch, l.seq); err != nil {
		l.failures.Add(1)
		return err
	}
	if durable {
		return l.sync()
	}
	return nil
}

// awaitWritten returns once record seq of epoch is in the file, writing the
// pending batch itself when no other goroutine is writing one. It returns
// an error if the record was dropped by a failed write. l.mu is held, and
// released while waiting and writing.
func (l *Logger) awaitWritten(epoch int, seq uint64) error {
	yielded := false
	for {
		if epoch != l.epoch {
			if seq <= l.epochEnds[epoch] {
				return nil
			}
			return fmt.Errorf("%w: %v", ErrUnavailable, l.writeErr)
		}
		if l.wroteSeq >= seq {
			return nil
		}
		if l.file == nil {
			return fmt.Errorf("%w: the audit log is closed", ErrUnavailable)
		}
		if l.writing {
			l.written.Wait()
			continue
		}
		if !yielded {
			// Let requests that are ready to run add their records first,
			// so that one write takes several. With one CPU they would
			// otherwise never run before this goroutine writes.
			yielded = true
			l.mu.Unlock()
			runtime.Gosched()
			l.mu.Lock()
			continue
		}
		l.writeBatch(true)
	}
}

// drain writes every pending line while holding l.mu throughout, after any
// batch another goroutine is writing. Rotation and Close use it, so that no
// write to the file can start before they are done with it.
func (l *Logger) drain() error {
	for l.writing {
		l.written.Wait()
	}
	epoch := l.epoch
	l.writeBatch(false)
	if l.epoch != epoch {
		return fmt.Errorf("%w: %v", ErrUnavailable, l.writeErr)
	}
	return nil
}

// writeBatch writes the pending lines in one write(2), releasing l.mu
// during the write when unlock is set. On failure it cuts the file back to
// the last record written and starts a new epoch.
func (l *Logger) writeBatch(unlock bool) {
	if len(l.pending) == 0 || l.file == nil {
		return
	}
	batch, end, endHash := l.pending, l.seq, l.last
	file, size := l.file, l.size
	l.pending, l.writing = l.spare[:0], true
	if unlock {
		l.mu.Unlock()
	}

	_, err := file.Write(batch)
	if err != nil {
		// Cut off a partial batch so the file stays a sequence of records.
		_ = file.Truncate(size)
	} else if l.opts.Stdout != nil {
		_, _ = l.opts.Stdout.Write(batch)
	}
	if unlock {
		l.mu.Lock()
	}

	l.writing = false
	if err == nil {
		l.size += int64(len(batch))
		l.wroteSeq, l.wroteHash, l.dirty = end, endHash, true
	} else {
		// The pending records chain on the lost ones, so they go too.
		l.writeErr = err
		l.epochEnds = append(l.epochEnds, l.wroteSeq)
		l.epoch++
		l.pending = l.pending[:0]
		l.seq, l.last = l.wroteSeq, l.wroteHash
	}
	l.spare = batch[:0]
	l.written.Broadcast()
}

// Sync makes every record appended so far durable.
func (l *Logger) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.drain(); err != nil {
		l.failures.Add(1)
		return err
	}
	return l.sync()
}

func (l *Logger) sync() error {
	if !l.dirty {
		return nil
	}
	if err := l.file.Sync(); err != nil {
		l.failures.Add(1)
		return fmt.Errorf("%w: sync: %v", ErrUnavailable, err)
	}
	l.dirty = false
	return nil
}

// append chains r to the log and adds its line to the pending batch. body
// is r's encoding from appendBody, or nil to encode r here.
func (l *Logger) append(r *Record, body []byte) error {
	if l.file == nil {
		return fmt.Errorf("%w: the audit log is closed", ErrUnavailable)
	}
	if r.Time == "" {
		r.Time = l.opts.Now().UTC().Format(timeLayout)
	}
	encode := func() ([]byte, error) {
		r.Seq, r.PrevHash = l.seq+1, l.last
		if body == nil {
			return encodeRecord(r)
		}
		line, hash := chainLine(body, r.Seq, r.PrevHash)
		r.Hash = hash
		return line, nil
	}
	line, err := encode()
	if err != nil {
		return err
	}
	full := func() bool {
		used := l.size + int64(len(l.pending))
		return used+int64(len(line)) > l.opts.MaxFileBytes && used > 0
	}
	if r.Category != CategoryCheckpoint && full() {
		if err := l.rotate(full); err != nil {
			return err
		}
		// The chain goes on, but r now follows the rotation checkpoint.
		if line, err = encode(); err != nil {
			return err
		}
	}
	l.pending = append(l.pending, line...)
	l.seq, l.last = r.Seq, r.Hash
	l.sinceCheckpoint++
	return nil
}

// encodeRecord sets r.Hash and returns r's line. The JSON that the hash
// covers differs from the line only in the hash value (for records without a
// signature), so one encoding serves both: Hash is the last field written,
// and its empty value is replaced by the hash.
func encodeRecord(r *Record) ([]byte, error) {
	c := *r
	c.Hash, c.Signature = "", ""
	raw, err := json.Marshal(&c)
	if err != nil {
		return nil, err
	}
	r.Hash = hashLine(r.PrevHash, raw)
	const emptyTail = `""}`
	if r.Signature != "" || !bytes.HasSuffix(raw, []byte(`"hash":`+emptyTail)) {
		line, err := json.Marshal(r)
		return append(line, '\n'), err
	}
	line := append(raw[:len(raw)-len(emptyTail)], '"')
	line = append(line, r.Hash...)
	return append(line, '"', '}', '\n'), nil
}

// checkpoint writes a record that signs the chain up to the last record.
func (l *Logger) checkpoint() error {
	if l.opts.Key == nil {
		l.sinceCheckpoint = 0
		return nil
	}
	sig := ed25519.Sign(l.opts.Key, checkpointMessage(l.seq, l.last))
	r := &Record{OperationName: "AuditCheckpoint", Category: CategoryCheckpoint,
		Signature: base64.StdEncoding.EncodeToString(sig)}
	if err := l.append(r, nil); err != nil {
		return err
	}
	l.sinceCheckpoint = 0
	return nil
}

// rotate checkpoints and closes the current file, renames it to the next
// number and starts a new current file. It first writes the pending
// records, which may wait for another goroutine's batch and so let another
// rotation run first. It rotates only if full still reports true after
// that.
func (l *Logger) rotate(full func() bool) error {
	if err := l.drain(); err != nil {
		return err
	}
	if !full() {
		return nil
	}
	if err := l.checkpoint(); err != nil {
		return err
	}
	if err := l.drain(); err != nil {
		return err
	}
	if err := l.file.Sync(); err != nil {
		return fmt.Errorf("%w: sync: %v", ErrUnavailable, err)
	}
	if err := l.file.Close(); err != nil {
		return err
	}
	files, err := Files(l.opts.Dir)
	if err != nil {
		return err
	}
	next := fmt.Sprintf("%s%06d%s", rotatedPrefix, lastRotatedNumber(files)+1, rotatedSuffix)
	if err := os.Rename(filepath.Join(l.opts.Dir, CurrentFile), filepath.Join(l.opts.Dir, next)); err != nil {
		return fmt.Errorf("%w: rotate: %v", ErrUnavailable, err)
	}
	f, err := os.OpenFile(filepath.Join(l.opts.Dir, CurrentFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		l.file = nil
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	l.file, l.size, l.dirty = f, 0, false
	return nil
}

// lastRotatedNumber returns the highest number among the rotated files of
// files, or 0. The count of files is not enough: once an operator removes
// the oldest files, it names a file that still exists, which the rename
// would replace.
func lastRotatedNumber(files []string) int {
	last := 0
	for _, f := range files {
		name := filepath.Base(f)
		digits, ok := strings.CutPrefix(strings.TrimSuffix(name, rotatedSuffix), rotatedPrefix)
		if !ok || name == CurrentFile {
			continue
		}
		if n, err := strconv.Atoi(digits); err == nil && n > last {
			last = n
		}
	}
	return last
}

// Failures counts the appends and syncs that failed.
func (l *Logger) Failures() uint64 { return l.failures.Load() }

// Close writes a final checkpoint, syncs and closes the current file.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	err := l.drain()
	if err == nil {
		err = l.checkpoint()
	}
	if err == nil {
		err = l.drain()
	}
	err = errors.Join(err, l.sync(), l.file.Close())
	l.file = nil
	return err
}

// readRecords reads the lines of one audit file.
func readLines(path string) ([][]byte, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	var lines [][]byte
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			lines = append(lines, bytes.TrimRight(line, "\n"))
		} else if len(line) > 0 {
			// A last line without its newline was cut short.
			lines = append(lines, line)
			return lines, true, nil
		}
		if err == io.EOF {
			return lines, false, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
}

package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/spf13/cobra"
)

// Limits of secret import and export.
const (
	defaultWorkers = 16
	maxWorkers     = 64
	// maxReportedErrors bounds the row errors listed in a summary.
	maxReportedErrors = 20
	// checkpointInterval is how often secret import rewrites its
	// checkpoint while it runs; it also writes it when it stops.
	checkpointInterval = time.Second
	progressInterval   = 500 * time.Millisecond
)

// checkpointSuffix is appended to the CSV file's name to name the
// checkpoint of secret import.
const checkpointSuffix = ".progress"

// rowError is a row that could not be imported or exported.
type rowError struct {
	Row   int    `json:"row,omitempty"`
	Name  string `json:"name"`
	Error string `json:"error"`
}

// importSummary is the output of secret import.
type importSummary struct {
	Rows       int        `json:"rows"`
	Written    int        `json:"written"`
	Skipped    int        `json:"skipped"`
	Failed     int        `json:"failed"`
	Checkpoint string     `json:"checkpoint"`
	Errors     []rowError `json:"errors"`
}

type importOptions struct {
	vault   vaultOptions
	file    string
	workers int
}

func newSecretImportCommand(conn *clientOptions) *cobra.Command {
	o := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import --vault-name V --file FILE.csv [--workers N]",
		Short: "Set many secrets from a CSV file of name,value rows, resumably",
		Long: `Set one secret per row of a CSV file of name,value rows, with --workers
requests in flight. A first row "name,value" is a header and is skipped.

The import is resumable. It keeps a checkpoint, FILE.csv.progress, that lists
the rows (CSV records, counted from 1) already written and the rows whose
request was in flight when it stopped. Run the same command again after an
interruption (Ctrl-C, an error, a lost connection): rows already written are
skipped, and an in-flight row is read back and written only if the vault does
not hold its value, so that no secret gets a second version. The checkpoint
records the file's SHA-256 and is rejected if the file changed; delete it to
import the whole file again.

On a terminal, a progress line is shown on stderr. At the end the command
prints the rows written, skipped and failed, and exits with status 1 if any
row failed or the import was interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, conn)
		},
	}
	o.vault.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&o.file, "file", "f", "", "CSV file of name,value rows")
	cmd.Flags().IntVar(&o.workers, "workers", defaultWorkers, "requests in flight, 1 to 64")
	_ = cmd.MarkFlagRequired("vault-name")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func checkWorkers(n int) error {
	if n < 1 || n > maxWorkers {
		return usageError{fmt.Errorf("invalid --workers %d: use 1 to %d", n, maxWorkers)}
	}
	return nil
}

func (o *importOptions) run(cmd *cobra.Command, conn *clientOptions) error {
	if err := checkWorkers(o.workers); err != nil {
		return err
	}
	sum, rowCount, err := scanCSV(o.file)
	if err != nil {
		return err
	}
	cpPath := o.file + checkpointSuffix
	prev, err := loadCheckpoint(cpPath, sum)
	if err != nil {
		return err
	}
	s, c, err := openSecretVault(cmd, conn, &o.vault)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st := newImportState(sum, rowCount, prev)
	imp := &importer{client: c, state: st, prev: prev, path: cpPath}
	runErr := imp.run(ctx, o.file, o.workers, progressWriter(cmd.ErrOrStderr()))

	summary := st.summary(cpPath)
	if err := s.printer.printValue(summary, []column{{"Rows", "rows"}, {"Written", "written"},
		{"Skipped", "skipped"}, {"Failed", "failed"}, {"Checkpoint", "checkpoint"}}); err != nil {
		return err
	}
	switch {
	case runErr != nil:
		return runErr
	case ctx.Err() != nil:
		return fmt.Errorf("import interrupted after %d of %d rows: run the same command again to resume from %s",
			summary.Written+summary.Skipped, summary.Rows, cpPath)
	case summary.Failed > 0:
		return fmt.Errorf("%d of %d rows failed (the first are listed in the output): run the same command again to retry them",
			summary.Failed, summary.Rows)
	}
	return nil
}

// scanCSV returns the SHA-256 of a CSV file and its number of data rows,
// and rejects a file that is not valid CSV before anything is written.
func scanCSV(path string) (string, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("open --file: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	r := newCSVReader(io.TeeReader(bufio.NewReader(f), h))
	rows := 0
	for row := 1; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", 0, fmt.Errorf("--file %s: %w", path, err)
		}
		if row > 1 || !isHeader(rec) {
			rows++
		}
	}
	return hex.EncodeToString(h.Sum(nil)), rows, nil
}

func newCSVReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // a row with another field count fails alone
	cr.ReuseRecord = true
	return cr
}

// isHeader reports whether the first row of a file is the header
// name,value.
func isHeader(rec []string) bool {
	return len(rec) == 2 && strings.EqualFold(strings.TrimSpace(rec[0]), "name") &&
		strings.EqualFold(strings.TrimSpace(rec[1]), "value")
}

// checkpoint is the content of FILE.progress.
type checkpoint struct {
	sha256  string
	done    map[int]bool
	pending map[int]bool
}

// loadCheckpoint reads the checkpoint at path, or returns nil if there is
// none. A checkpoint of another version of the file is an error.
func loadCheckpoint(path, sum string) (*checkpoint, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	cp, err := parseCheckpoint(string(raw))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w (delete it to import the whole file again)", path, err)
	}
	if cp.sha256 != sum {
		return nil, fmt.Errorf("checkpoint %s belongs to another version of the file (SHA-256 %s, the file's is %s): "+
			"delete it to import the whole file again", path, cp.sha256, sum)
	}
	return cp, nil
}

func parseCheckpoint(text string) (*checkpoint, error) {
	cp := &checkpoint{done: map[int]bool{}, pending: map[int]bool{}}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, _ := strings.Cut(line, " ")
		var err error
		switch key {
		case "sha256":
			cp.sha256 = strings.TrimSpace(value)
		case "done":
			err = parseRanges(value, cp.done)
		case "pending":
			err = parseRanges(value, cp.pending)
		default:
			err = fmt.Errorf("unknown key %q", key)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
	}
	if cp.sha256 == "" {
		return nil, errors.New("no sha256 line")
	}
	return cp, nil
}

// parseRanges adds the rows of "1-30000,30002" to set.
func parseRanges(text string, set map[int]bool) error {
	for _, part := range strings.Split(strings.TrimSpace(text), ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		last := first
		if err == nil && isRange {
			last, err = strconv.Atoi(hi)
		}
		if err != nil || first < 1 || last < first {
			return fmt.Errorf("invalid row range %q", part)
		}
		for row := first; row <= last; row++ {
			set[row] = true
		}
	}
	return nil
}

// formatRanges returns the rows of set as ascending ranges, "1-30000,30002".
func formatRanges(set map[int]bool, maxRow int) string {
	var b strings.Builder
	for row := 1; row <= maxRow; row++ {
		if !set[row] {
			continue
		}
		last := row
		for set[last+1] {
			last++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(row))
		if last > row {
			b.WriteString("-" + strconv.Itoa(last))
		}
		row = last
	}
	return b.String()
}

func (cp *checkpoint) format(maxRow int) string {
	return "# keyvault secret import checkpoint: rows (CSV records, counted from 1) written,\n" +
		"# and rows in flight when it was written\n" +
		"sha256 " + cp.sha256 + "\n" +
		"done " + formatRanges(cp.done, maxRow) + "\n" +
		"pending " + formatRanges(cp.pending, maxRow) + "\n"
}

// writeAtomic replaces path with text through a temporary file and a
// rename, so that an interrupted write leaves the previous checkpoint.
func writeAtomic(path, text string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write checkpoint: %w", err)
	}
	return nil
}

// importState is the progress of an import, shared by its workers.
type importState struct {
	mu      sync.Mutex
	cp      checkpoint // done: written or skipped; pending: in flight
	maxRow  int
	total   int
	written int
	skipped int
	failed  int
	errors  []rowError
}

// newImportState returns the state of an import that starts from the
// checkpoint prev (nil on a first run). The rows that prev lists stay in
// the checkpoint until this run reaches them, so an interrupted rerun loses
// none of them.
func newImportState(sum string, total int, prev *checkpoint) *importState {
	st := &importState{cp: checkpoint{sha256: sum, done: map[int]bool{}, pending: map[int]bool{}}, total: total}
	if prev == nil {
		return st
	}
	for row := range prev.done {
		st.cp.done[row] = true
		st.maxRow = max(st.maxRow, row)
	}
	for row := range prev.pending {
		st.cp.pending[row] = true
		st.maxRow = max(st.maxRow, row)
	}
	return st
}

func (st *importState) start(row int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.cp.pending[row] = true
}

// finish records the outcome of a row that was started.
func (st *importState) finish(row int, name string, written bool, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.cp.pending, row)
	switch {
	case err != nil:
		st.fail(row, name, err)
	case written:
		st.written++
		st.cp.done[row] = true
	default:
		st.skipped++
		st.cp.done[row] = true
	}
}

// fail counts a failed row; st.mu must be held.
func (st *importState) fail(row int, name string, err error) {
	st.failed++
	if len(st.errors) < maxReportedErrors {
		st.errors = append(st.errors, rowError{Row: row, Name: name, Error: err.Error()})
	}
}

func (st *importState) snapshot() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cp.format(st.maxRow)
}

func (st *importState) summary(path string) importSummary {
	st.mu.Lock()
	defer st.mu.Unlock()
	errs := append([]rowError{}, st.errors...)
	return importSummary{Rows: st.total, Written: st.written, Skipped: st.skipped, Failed: st.failed,
		Checkpoint: path, Errors: errs}
}

func (st *importState) progress() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return fmt.Sprintf("%d of %d rows: %d written, %d skipped, %d failed",
		st.written+st.skipped+st.failed, st.total, st.written, st.skipped, st.failed)
}

// importJob is one row to set. With verify set, the secret is read first,
// because the row's request was in flight when the previous run stopped.
type importJob struct {
	row    int
	name   string
	value  string
	verify bool
}

// importer runs one import.
type importer struct {
	client *azsecrets.Client
	state  *importState
	prev   *checkpoint // nil on a first run
	path   string      // checkpoint file
}

// run reads the file and sets its rows with workers requests in flight,
// until the end of the file or until ctx is done. It writes the checkpoint
// every checkpointInterval and when it returns.
func (imp *importer) run(ctx context.Context, path string, workers int, progress io.Writer) error {
	// A checkpoint that cannot be written fails the import before it starts.
	if err := writeAtomic(imp.path, imp.state.snapshot()); err != nil {
		return err
	}
	jobs := make(chan importJob, workers*2)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			imp.work(ctx, jobs)
		}()
	}
	stopTicker := imp.tick(progress)
	readErr := imp.read(ctx, path, jobs)
	close(jobs)
	wg.Wait()
	stopTicker()
	if err := writeAtomic(imp.path, imp.state.snapshot()); err != nil {
		return err
	}
	return readErr
}

// tick rewrites the checkpoint and the progress line (if progress is not
// nil) at their intervals until the returned function is called.
func (imp *importer) tick(progress io.Writer) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		cpTicker := time.NewTicker(checkpointInterval)
		defer cpTicker.Stop()
		progTicker := time.NewTicker(progressInterval)
		defer progTicker.Stop()
		for {
			select {
			case <-done:
				if progress != nil {
					fmt.Fprintf(progress, "\r\033[K%s\n", imp.state.progress())
				}
				return
			case <-cpTicker.C:
				// A failed write is retried at the next tick and at the end.
				_ = writeAtomic(imp.path, imp.state.snapshot())
			case <-progTicker.C:
				if progress != nil {
					fmt.Fprintf(progress, "\r\033[K%s", imp.state.progress())
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// read sends a job for every row that is not done yet, until the end of the
// file or until ctx is done.
func (imp *importer) read(ctx context.Context, path string, jobs chan<- importJob) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open --file: %w", err)
	}
	defer f.Close()
	r := newCSVReader(bufio.NewReader(f))
	st := imp.state
	for row := 1; ctx.Err() == nil; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("--file %s: %w", path, err)
		}
		st.mu.Lock()
		st.maxRow = max(st.maxRow, row)
		st.mu.Unlock()
		if row == 1 && isHeader(rec) {
			st.mu.Lock()
			st.cp.done[row] = true
			st.mu.Unlock()
			continue
		}
		if imp.prev != nil && imp.prev.done[row] {
			st.finish(row, "", false, nil)
			continue
		}
		if len(rec) != 2 {
			st.mu.Lock()
			st.fail(row, "", fmt.Errorf("row %d has %d fields: want name,value", row, len(rec)))
			st.mu.Unlock()
			continue
		}
		job := importJob{row: row, name: rec[0], value: rec[1], verify: imp.prev != nil && imp.prev.pending[row]}
		select {
		case jobs <- job:
		case <-ctx.Done():
		}
	}
	return nil
}

func (imp *importer) work(ctx context.Context, jobs <-chan importJob) {
	for job := range jobs {
		if ctx.Err() != nil {
			continue // left undone: a rerun sends it
		}
		imp.state.start(job.row)
		written, err := imp.set(ctx, job)
		if err != nil && ctx.Err() != nil {
			continue // stays pending: the request may have been committed
		}
		imp.state.finish(job.row, job.name, written, err)
	}
}

// set writes a row's secret and reports whether it wrote it. A verified row
// is not written when the vault contains its value already.
func (imp *importer) set(ctx context.Context, job importJob) (bool, error) {
	if job.verify {
		resp, err := imp.client.GetSecret(ctx, job.name, "", nil)
		if err == nil && resp.Value != nil && *resp.Value == job.value {
			return false, nil
		}
	}
	value := job.value
	if _, err := imp.client.SetSecret(ctx, job.name, azsecrets.SetSecretParameters{Value: &value}, nil); err != nil {
		return false, explain(err)
	}
	return true, nil
}

// progressWriter returns w if it is a terminal, else nil: the progress
// line is only for people watching.
func progressWriter(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	info, err := f.Stat()
	if err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return f
}

// exportSummary is the output of secret export.
type exportSummary struct {
	Exported int        `json:"exported"`
	Skipped  int        `json:"skipped"`
	Failed   int        `json:"failed"`
	File     string     `json:"file"`
	Errors   []rowError `json:"errors"`
}

type exportOptions struct {
	vault          vaultOptions
	file           string
	workers        int
	includeManaged bool
}

func newSecretExportCommand(conn *clientOptions) *cobra.Command {
	o := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export --vault-name V --file OUT.csv [--workers N] [--include-managed]",
		Short: "Write the current value of every secret of a vault to a new CSV file",
		Long: `Write one name,value row per secret of a vault, in list order, to a new CSV
file (mode 0600) that secret import reads. The list is read page by page and
the values with --workers requests in flight. Disabled secrets, whose values
cannot be read, and the secrets that back certificates (unless
--include-managed) are skipped. The file appears only when the export
finishes; an interrupted export leaves no file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd, conn)
		},
	}
	o.vault.addFlags(cmd.Flags())
	cmd.Flags().StringVarP(&o.file, "file", "f", "", "CSV file to write; it must not exist")
	cmd.Flags().IntVar(&o.workers, "workers", defaultWorkers, "requests in flight, 1 to 64")
	cmd.Flags().BoolVar(&o.includeManaged, "include-managed", false, "also export the secrets that back certificates")
	_ = cmd.MarkFlagRequired("vault-name")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// exportJob is the secret at position index of the list.
type exportJob struct {
	index int
	name  string
}

type exportResult struct {
	exportJob
	value string
	err   error
}

func (o *exportOptions) run(cmd *cobra.Command, conn *clientOptions) error {
	if err := checkWorkers(o.workers); err != nil {
		return err
	}
	if _, err := os.Lstat(o.file); err == nil {
		return fmt.Errorf("file %s already exists: remove it or choose another --file", o.file)
	}
	s, c, err := openSecretVault(cmd, conn, &o.vault)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	tmp, err := os.CreateTemp(filepath.Dir(o.file), filepath.Base(o.file)+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("create --file: %w", err)
	}
	defer os.Remove(tmp.Name())
	summary := exportSummary{File: o.file, Errors: []rowError{}}
	err = o.export(ctx, cancel, c, tmp, &summary)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", tmp.Name(), cerr)
	}
	if err == nil && ctx.Err() != nil {
		err = errors.New("export interrupted: no file was written")
	}
	if err != nil {
		return err
	}
	if err := publish(tmp.Name(), o.file); err != nil {
		return err
	}
	if err := s.printer.printValue(summary, []column{{"Exported", "exported"}, {"Skipped", "skipped"},
		{"Failed", "failed"}, {"File", "file"}}); err != nil {
		return err
	}
	if summary.Failed > 0 {
		return fmt.Errorf("%d secrets could not be read (the first are listed in the output) and are missing from %s",
			summary.Failed, o.file)
	}
	return nil
}

// publish gives the finished file at tmp its final name. A hard link fails
// if the name was taken meanwhile; where the file system has no hard
// links, a rename is the fallback.
func publish(tmp, path string) error {
	err := os.Link(tmp, path)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("file %s already exists: remove it or choose another --file", path)
	}
	if err != nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("create --file: %w", err)
	}
	return nil
}

// export lists the vault's secrets, reads them with o.workers requests in
// flight and writes them to w in list order. After a write error it calls
// cancel and drains the workers before it returns.
func (o *exportOptions) export(ctx context.Context, cancel context.CancelFunc, c *azsecrets.Client, w io.Writer,
	summary *exportSummary) error {
	jobs := make(chan exportJob, o.workers*2)
	results := make(chan exportResult, o.workers*2)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range jobs {
				resp, err := c.GetSecret(ctx, job.name, "", nil)
				r := exportResult{exportJob: job, err: err}
				if err == nil {
					r.value = valueOr(resp.Value, "")
				}
				results <- r
			}
		}()
	}
	listErr := make(chan error, 1)
	go func() {
		listErr <- o.list(ctx, c, jobs, summary)
		close(jobs)
		wg.Wait()
		close(results)
	}()

	// Results arrive out of order; they are written in list order.
	out := csv.NewWriter(w)
	waiting := map[int]exportResult{}
	next := 0
	var writeErr error
	for r := range results {
		if writeErr != nil {
			continue
		}
		waiting[r.index] = r
		for {
			r, ok := waiting[next]
			if !ok {
				break
			}
			delete(waiting, next)
			next++
			if r.err != nil {
				if ctx.Err() == nil {
					summary.Failed++
					if len(summary.Errors) < maxReportedErrors {
						summary.Errors = append(summary.Errors, rowError{Name: r.name, Error: explain(r.err).Error()})
					}
				}
				continue
			}
			if err := out.Write([]string{r.name, r.value}); err != nil {
				writeErr = fmt.Errorf("write --file: %w", err)
				cancel()
				break
			}
			summary.Exported++
		}
	}
	if writeErr != nil {
		<-listErr
		return writeErr
	}
	out.Flush()
	if err := out.Error(); err != nil {
		return fmt.Errorf("write --file: %w", err)
	}
	return <-listErr
}

// list sends a job for every secret to export and counts the skipped ones
// in summary.Skipped. No other goroutine writes that field, and the caller
// reads it only after list has returned.
func (o *exportOptions) list(ctx context.Context, c *azsecrets.Client, jobs chan<- exportJob, summary *exportSummary) error {
	pager := c.NewListSecretPropertiesPager(nil)
	index := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return explain(err)
		}
		for _, p := range page.Value {
			managed := valueOr(p.Managed, false)
			enabled := p.Attributes == nil || valueOr(p.Attributes.Enabled, true)
			if (managed && !o.includeManaged) || !enabled {
				summary.Skipped++
				continue
			}
			select {
			case jobs <- exportJob{index: index, name: p.ID.Name()}:
				index++
			case <-ctx.Done():
				return nil
			}
		}
	}
	return nil
}

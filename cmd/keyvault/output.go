package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jmespath/go-jmespath"
	"github.com/spf13/cobra"
)

// Output formats of the client commands.
const (
	formatJSON  = "json"
	formatTable = "table"
	formatTSV   = "tsv"
	formatNone  = "none"
)

// printer writes command results in the format of --output, after the
// --query expression, if any, has selected from them.
type printer struct {
	w      io.Writer
	format string
	query  *jmespath.JMESPath
}

func newPrinter(w io.Writer, format string) (printer, error) {
	switch format {
	case formatJSON, formatTable, formatTSV, formatNone:
		return printer{w: w, format: format}, nil
	}
	return printer{}, fmt.Errorf("invalid --output %q: use json, table, tsv or none", format)
}

// rows is the table form of a result: a header and one row per item.
type rows struct {
	header []string
	cells  [][]string
}

// print writes v as indented JSON, or the table that toRows builds from it
// as aligned columns (table) or as tab-separated values without a header
// (tsv).
func (p printer) print(v any, toRows func() rows) error {
	if p.query != nil {
		return p.printValue(v, nil)
	}
	switch p.format {
	case formatNone:
		return nil
	case formatJSON:
		raw, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		_, err = fmt.Fprintf(p.w, "%s\n", raw)
		return err
	}
	return p.writeRows(toRows())
}

// writeRows writes t as aligned columns under a header (table) or as
// tab-separated values without a header (tsv).
func (p printer) writeRows(t rows) error {
	if p.format == formatTSV {
		for _, r := range t.cells {
			if _, err := fmt.Fprintln(p.w, strings.Join(r, "\t")); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	rule := make([]string, len(t.header))
	for i, h := range t.header {
		rule[i] = strings.Repeat("-", len(h))
	}
	fmt.Fprintln(tw, strings.Join(rule, "\t"))
	for _, r := range t.cells {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// allowSpacedValues lets the named list flags of cmd take several values
// after one flag name, as the az CLI's do: "--key-permissions get list" is
// read as "--key-permissions get --key-permissions list". Cobra cannot do
// this itself, so cmd parses its own flags.
func allowSpacedValues(cmd *cobra.Command, names ...string) {
	run := cmd.RunE
	cmd.DisableFlagParsing = true
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		c.DisableFlagParsing = false
		if err := c.ParseFlags(spreadValues(args, names)); err != nil {
			return usageError{err}
		}
		if help, _ := c.Flags().GetBool("help"); help {
			return c.Help()
		}
		if err := cobra.NoArgs(c, c.Flags().Args()); err != nil {
			return usageError{err}
		}
		if err := c.ValidateRequiredFlags(); err != nil {
			return usageError{err}
		}
		if err := c.ValidateFlagGroups(); err != nil {
			return usageError{err}
		}
		return run(c, c.Flags().Args())
	}
}

// spreadValues repeats a list flag's name before each further value that
// follows its first one, up to the next flag or "--".
func spreadValues(args, names []string) []string {
	out := make([]string, 0, len(args))
	current := ""
	for i, a := range args {
		switch {
		case a == "--":
			return append(out, args[i:]...)
		case strings.HasPrefix(a, "-"):
			current = ""
			for _, n := range names {
				if a == "--"+n || strings.HasPrefix(a, "--"+n+"=") {
					current = "--" + n
				}
			}
			out = append(out, a)
		case current != "" && len(out) > 0 && out[len(out)-1] != current:
			out = append(out, current, a)
		default:
			out = append(out, a)
		}
	}
	return out
}

// compileQuery compiles the JMESPath expression of --query; "" means no
// query.
func compileQuery(expr string) (*jmespath.JMESPath, error) {
	if expr == "" {
		return nil, nil
	}
	q, err := jmespath.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid --query %q: %v", expr, err)
	}
	return q, nil
}

// column is a table column: its header and the dotted path of its value in
// the JSON form of a result ("attributes.enabled").
type column struct {
	header string
	path   string
}

// printValue writes v as the data-plane commands do. JSON output has
// sorted keys, as az prints it. Table and tsv output have the given
// columns, or, after a --query, a column per scalar field of the result.
func (p printer) printValue(v any, columns []column) error {
	if p.format == formatNone {
		return nil
	}
	data, err := toJSONValue(v)
	if err != nil {
		return err
	}
	if p.query != nil {
		if data, err = p.query.Search(data); err != nil {
			return fmt.Errorf("--query: %w", err)
		}
		columns = nil
	}
	if p.format == formatJSON {
		// Like az, the output keeps <, > and & as they are.
		enc := json.NewEncoder(p.w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(data)
	}
	if columns == nil {
		return p.writeRows(inferRows(data))
	}
	return p.writeRows(columnRows(data, columns))
}

// toJSONValue returns v as the maps, slices and scalars of its JSON form.
func toJSONValue(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode output: %w", err)
	}
	var data any
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, fmt.Errorf("encode output: %w", err)
	}
	return data, nil
}

// columnRows builds a row per item of a JSON array, or one row for any
// other value.
func columnRows(data any, columns []column) rows {
	t := rows{}
	for _, c := range columns {
		t.header = append(t.header, c.header)
	}
	items, ok := data.([]any)
	if !ok {
		items = []any{data}
	}
	for _, item := range items {
		row := make([]string, len(columns))
		for i, c := range columns {
			row[i] = cellText(lookupPath(item, c.path))
		}
		t.cells = append(t.cells, row)
	}
	return t
}

func lookupPath(v any, path string) any {
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// inferRows builds the table of a query result as az does. Objects give a
// column per scalar field, with the field name capitalized. Other values
// give one "Result" column.
func inferRows(data any) rows {
	items, ok := data.([]any)
	if !ok {
		items = []any{data}
	}
	var keys []string
	if first, ok := firstObject(items); ok {
		for k, v := range first {
			if isScalar(v) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
	}
	if keys == nil {
		t := rows{header: []string{"Result"}}
		for _, item := range items {
			t.cells = append(t.cells, []string{cellText(item)})
		}
		return t
	}
	t := rows{}
	for _, k := range keys {
		t.header = append(t.header, strings.ToUpper(k[:1])+k[1:])
	}
	for _, item := range items {
		m, _ := item.(map[string]any)
		row := make([]string, len(keys))
		for i, k := range keys {
			row[i] = cellText(m[k])
		}
		t.cells = append(t.cells, row)
	}
	return t
}

func firstObject(items []any) (map[string]any, bool) {
	if len(items) == 0 {
		return nil, false
	}
	m, ok := items[0].(map[string]any)
	return m, ok
}

func isScalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

// cellText formats a JSON value for a table cell: null is empty, an array of
// scalars is comma-separated, and an object is compact JSON.
func cellText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []any:
		parts := make([]string, len(v))
		for i, item := range v {
			parts[i] = cellText(item)
		}
		return strings.Join(parts, ", ")
	}
	raw, _ := json.Marshal(v)
	return string(raw)
}

// azTime is a time in az's output form: UTC, ISO 8601, whole seconds and a
// "+00:00" offset (2025-10-31T10:40:56+00:00).
type azTime time.Time

func (t azTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(t).UTC().Format("2006-01-02T15:04:05+00:00"))
}

// newAzTime returns t as an azTime, or nil when t is nil.
func newAzTime(t *time.Time) *azTime {
	if t == nil {
		return nil
	}
	v := azTime(*t)
	return &v
}

// writeNewFile writes data to a file that must not exist yet, so that a
// download or backup never replaces a file.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("file %s already exists: remove it or choose another --file", path)
	}
	if err != nil {
		return fmt.Errorf("create --file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

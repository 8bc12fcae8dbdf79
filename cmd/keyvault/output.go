package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// Output formats of the client commands.
const (
	formatJSON  = "json"
	formatTable = "table"
	formatTSV   = "tsv"
	formatNone  = "none"
)

// printer writes command results in the format of --output.
type printer struct {
	w      io.Writer
	format string
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
	t := toRows()
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
			return err
		}
		if help, _ := c.Flags().GetBool("help"); help {
			return c.Help()
		}
		if err := cobra.NoArgs(c, c.Flags().Args()); err != nil {
			return err
		}
		if err := c.ValidateRequiredFlags(); err != nil {
			return err
		}
		if err := c.ValidateFlagGroups(); err != nil {
			return err
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

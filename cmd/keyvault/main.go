// Command keyvault is KeyVault's single binary: `keyvault serve` runs the
// server; client commands follow.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit statuses, as az uses them.
const (
	exitOK     = 0
	exitFailed = 1 // the command failed, such as on an error response of the server
	exitUsage  = 2 // invalid usage: an unknown command or flag, or an invalid flag value
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit status. An error is
// printed to stderr; an error response of the server prints as
// "CODE: message (HTTP status)".
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	started := trackRun(root)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "keyvault: error:", err)
	var usage usageError
	if !*started || errors.As(err, &usage) {
		if cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitUsage
	}
	return exitFailed
}

// trackRun wraps the RunE of every command under root so that the returned
// flag is set once a command starts to run. Cobra reports an unknown
// command, a flag it cannot parse, a missing required flag or wrong
// arguments before that, so an error while the flag is unset is a usage
// error.
func trackRun(root *cobra.Command) *bool {
	started := new(bool)
	var wrap func(c *cobra.Command)
	wrap = func(c *cobra.Command) {
		if inner := c.RunE; inner != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				*started = true
				return inner(cmd, args)
			}
		}
		for _, sub := range c.Commands() {
			wrap(sub)
		}
	}
	wrap(root)
	return started
}

// usageError is an invalid use of a command that cobra cannot detect, such
// as an invalid flag value or two flags that exclude each other. The
// command exits with status 2.
type usageError struct {
	err error
}

func (e usageError) Error() string { return e.err.Error() }

func (e usageError) Unwrap() error { return e.err }

// runGroup is the RunE of a command group. It prints the group's help, or
// rejects an unknown subcommand, for which cobra would otherwise print the
// help and exit with status 0.
func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
	}
	return cmd.Help()
}

package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keyvault/keyvault/internal/audit"
	"github.com/keyvault/keyvault/internal/server"
)

type auditVerifyOptions struct {
	dataDir  string
	keyFile  string
	auditDir string
}

func newAuditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Work with the audit log"}
	cmd.AddCommand(newAuditVerifyCommand())
	return cmd
}

func newAuditVerifyCommand() *cobra.Command {
	o := &auditVerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify [FILE...]",
		Short: "Check that audit files were not changed, cut short, reordered or had records removed or inserted",
		Long: `Check the hash chain of audit files and the signature of every checkpoint.

Without FILE arguments, the files of DATA_DIR/audit (or --audit-dir, for a
server run with its own) are checked in the order they were written. Files given as arguments must be in that order (rotated
files by number, then audit.jsonl). The checkpoint public key is
DATA_DIR/audit-key.pub unless --key names another file.

Quarantine files (audit-torn-*.partial) are not checked. The server creates
one at start when audit.jsonl ends with a torn record, moves the torn bytes
into it and notes that in an AuditRepair record, which is checked.

The command prints a summary and exits 0 when the chain is intact; otherwise
it prints the file, line and sequence number of the first problem and exits 1.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args)
		},
	}
	cmd.Flags().StringVar(&o.dataDir, "data-dir", "keyvault-data", "data directory of the server whose audit files to check")
	cmd.Flags().StringVar(&o.auditDir, "audit-dir", "", "directory of the audit files, for a server run with --audit-dir (default DATA_DIR/audit)")
	cmd.Flags().StringVar(&o.keyFile, "key", "", "PEM public key that verifies checkpoints (default DATA_DIR/audit-key.pub)")
	return cmd
}

func (o *auditVerifyOptions) run(cmd *cobra.Command, files []string) error {
	keyFile := o.keyFile
	if keyFile == "" {
		keyFile = filepath.Join(o.dataDir, server.AuditKeyFile)
	}
	pub, err := readEd25519PublicKey(keyFile)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		dir := o.auditDir
		if dir == "" {
			dir = filepath.Join(o.dataDir, "audit")
		}
		if files, err = audit.Files(dir); err != nil {
			return err
		}
		if len(files) == 0 {
			return fmt.Errorf("no audit files in %s", dir)
		}
	}
	rep, err := audit.Verify(files, pub)
	if err != nil {
		return fmt.Errorf("audit chain broken: %w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "ok: %d records and %d signed checkpoints in %d files; last record %d\n",
		rep.Records, rep.Checkpoints, len(files), rep.LastSeq)
	if rep.Unsigned > 0 {
		fmt.Fprintf(cmd.OutOrStdout(), "note: the last %d records follow the last checkpoint; records removed from the end after them would not be detected\n", rep.Unsigned)
	}
	return nil
}

func readEd25519PublicKey(path string) (ed25519.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read audit public key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s contains no PEM public key", path)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s is not an Ed25519 public key", path)
	}
	return pub, nil
}

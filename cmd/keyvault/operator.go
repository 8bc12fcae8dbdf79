package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newOperatorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Operate a running server: unseal it",
	}
	cmd.AddCommand(newOperatorUnsealCommand())
	return cmd
}

type operatorUnsealOptions struct {
	server string
	caFile string
}

func newOperatorUnsealCommand() *cobra.Command {
	o := &operatorUnsealOptions{}
	cmd := &cobra.Command{
		Use:   "unseal",
		Short: "Unseal a server started with --seal passphrase, reading the passphrase from standard input",
		Long: `Unseal a server started with --seal passphrase and no KEYVAULT_PASSPHRASE.

The passphrase is read from the first line of standard input, so it never
appears in the process list or the shell history:

    keyvault operator unseal --server https://localhost:8443 --ca-file keyvault-data/ca.pem < passphrase.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.server, "server", "https://localhost:8443", "URL of the server")
	cmd.Flags().StringVar(&o.caFile, "ca-file", "", "PEM file of the CA that issued the server's TLS certificate (default: the system roots; env "+envCAFile+")")
	return cmd
}

func (o *operatorUnsealOptions) run(in io.Reader, out io.Writer) error {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read the passphrase from standard input: %w", err)
	}
	passphrase := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if passphrase == "" {
		return errors.New("no passphrase on standard input: write it as the first line")
	}
	client, err := o.httpClient()
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"passphrase": passphrase})
	url := strings.TrimSuffix(o.server, "/") + "/_operator/unseal"
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("unseal: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("unseal: %s (HTTP %d)", e.Error.Message, resp.StatusCode)
		}
		return fmt.Errorf("unseal: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	fmt.Fprintln(out, "unsealed")
	return nil
}

func (o *operatorUnsealOptions) httpClient() (*http.Client, error) {
	caFile := o.caFile
	if caFile == "" {
		caFile = os.Getenv(envCAFile)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pemData, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read --ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("--ca-file %s contains no PEM certificate", caFile)
		}
		tlsConfig.RootCAs = pool
	}
	// Unsealing runs Argon2id and opens the store, which can take seconds.
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: tlsConfig}}, nil
}

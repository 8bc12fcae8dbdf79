package main

import (
	"github.com/spf13/cobra"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "keyvault",
		Short: "A self-hosted key and secret vault with the Azure Key Vault API",
		Long: `KeyVault is a self-hosted key and secret vault whose HTTP API is wire-compatible
with Azure Key Vault, so the Azure SDKs and tools work against it unchanged.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCommand(), newPrincipalCommand(), newVaultCommand(), newRoleCommand(), newAuditCommand(),
		newLoginCommand(), newSecretCommand(), newKeyCommand(), newCertificateCommand(), newOperatorCommand())
	return root
}

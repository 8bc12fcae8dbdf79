// Command keyvault is KeyVault's single binary: `keyvault serve` runs the
// server; client commands follow.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "keyvault: error:", err)
		os.Exit(1)
	}
}

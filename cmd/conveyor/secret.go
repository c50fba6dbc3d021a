package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/secret/vault"
)

func newSecretCmd() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Manage secrets in the embedded vault",
		Long: `Manage secrets in the embedded vault: <data>/vault.json, encrypted with
AES-256-GCM under the key in $CONVEYOR_VAULT_KEY (base64 of 32 bytes) or, when
that is unset, <data>/vault.key (created with mode 0600 on first use).`,
	}
	cmd.PersistentFlags().StringVar(&data, "data", "", "data folder (default $CONVEYOR_DATA or ~/.local/share/conveyor)")
	open := func() (*vault.Embedded, error) { return openVault(data) }
	cmd.AddCommand(newSecretSetCmd(open), newSecretGetCmd(open), newSecretListCmd(open), newSecretRmCmd(open))
	return cmd
}

// openVault opens the embedded vault in dir (default ~/.local/share/conveyor).
func openVault(dir string) (*vault.Embedded, error) {
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, usageError("no --data and no home folder: %w", err)
		}
		dir = filepath.Join(home, ".local", "share", "conveyor")
	}
	key, err := vault.ResolveKey(os.Getenv(vault.KeyEnv), dir)
	if err != nil {
		return nil, vaultError(err)
	}
	e, err := vault.Open(dir, key)
	if err != nil {
		return nil, vaultError(err)
	}
	return e, nil
}

// vaultError maps a vault error to its exit code: bad input 2, otherwise 1.
func vaultError(err error) error {
	if errors.Is(err, vault.ErrInvalidName) || errors.Is(err, vault.ErrBadKey) {
		return &exitError{code: exitBadUser, err: err}
	}
	return &exitError{code: exitFailed, err: err}
}

func newSecretSetCmd(open func() (*vault.Embedded, error)) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Set a secret (value from stdin or --file, never from a flag)",
		Long: `Store a new version of secret NAME. The value is read from --file verbatim or,
without --file, from standard input with one trailing newline ("\n" or "\r\n")
removed, so "echo value | conveyor secret set NAME" stores "value".`,
		Args: secretArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := vault.ValidateName(name); err != nil {
				return usageError("%w", err)
			}
			var value []byte
			var err error
			if file != "" {
				value, err = os.ReadFile(file)
				if err != nil {
					return usageError("--file: %w", err)
				}
			} else {
				value, err = io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return &exitError{code: exitFailed, err: fmt.Errorf("reading the value from stdin: %w", err)}
				}
				value = trimNewline(value)
			}
			if len(value) == 0 {
				return usageError("secret %q: empty value (pipe it on stdin or pass --file)", name)
			}
			e, err := open()
			if err != nil {
				return err
			}
			v, err := e.Set(cmd.Context(), name, value)
			if err != nil {
				return vaultError(err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "secret %q version %d stored\n", name, v)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "read the value from this file (verbatim)")
	return cmd
}

// trimNewline removes one trailing "\n" or "\r\n".
func trimNewline(b []byte) []byte {
	if b, ok := bytes.CutSuffix(b, []byte("\n")); ok {
		b, _ = bytes.CutSuffix(b, []byte("\r"))
		return b
	}
	return b
}

func newSecretGetCmd(open func() (*vault.Embedded, error)) *cobra.Command {
	var version int
	cmd := &cobra.Command{
		Use:   "get NAME",
		Short: "Print a secret's value (the latest version, or --version N) to stdout",
		Long:  "Print a secret's value to stdout verbatim, with no newline added, so\n\"conveyor secret get NAME > file\" round-trips with \"secret set NAME --file file\".",
		Args:  secretArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := vault.ValidateName(name); err != nil {
				return usageError("%w", err)
			}
			if version < 0 || cmd.Flags().Changed("version") && version == 0 {
				return usageError("--version %d: versions start at 1", version)
			}
			e, err := open()
			if err != nil {
				return err
			}
			value, err := e.GetVersion(cmd.Context(), name, version)
			if err != nil {
				return vaultError(err)
			}
			_, err = cmd.OutOrStdout().Write(value)
			return err
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "print this version instead of the latest")
	return cmd
}

func newSecretListCmd(open func() (*vault.Embedded, error)) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List secret names with version counts and timestamps (never values)",
		Args:  secretArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageError("--output %q: want text or json", output)
			}
			e, err := open()
			if err != nil {
				return err
			}
			list, err := e.List(cmd.Context())
			if err != nil {
				return vaultError(err)
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSIONS\tCREATED\tUPDATED")
			for _, s := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, strconv.Itoa(s.Versions),
					s.Created.Format(time.RFC3339), s.Updated.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newSecretRmCmd(open func() (*vault.Embedded, error)) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a secret and all its versions",
		Args:  secretArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := vault.ValidateName(name); err != nil {
				return usageError("%w", err)
			}
			e, err := open()
			if err != nil {
				return err
			}
			if err := e.Delete(cmd.Context(), name); err != nil {
				return vaultError(err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "secret %q removed\n", name)
			return nil
		},
	}
}

// secretArgs is cobra.ExactArgs with exit code 2.
func secretArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError("%s: %w", cmd.CommandPath(), err)
		}
		return nil
	}
}

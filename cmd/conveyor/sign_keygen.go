package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/supplychain"
)

// newGenerateKeyPairCmd is `conveyor sign generate-key-pair`, cosign's
// generate-key-pair: an ECDSA P-256 key pair in cosign's formats, the
// private half either in files or in the embedded vault.
func newGenerateKeyPairCmd() *cobra.Command {
	var key, pub, data string
	cmd := &cobra.Command{
		Use:   "generate-key-pair --key KEY",
		Short: "Make a signing key pair (cosign's formats)",
		Long: `Make an ECDSA P-256 key pair the way "cosign generate-key-pair" does.

KEY is either a file name prefix (KEY.key, encrypted with $COSIGN_PASSWORD or an
empty password, and KEY.pub) or vault://<vault>/<secret>: the encrypted private
key is stored as <secret> in the embedded vault of --data, with a random
password stored beside it as <secret>-password, which is where sign, Docker@2
and ContainerScan@1 look for it. The public key is written to --pub (default
KEY.pub for files, standard output for the vault).

An existing key is never overwritten.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if key == "" {
				return usageError("%s: --key is required (a file prefix or vault://<vault>/<secret>)", cmd.CommandPath())
			}
			ctx := cmd.Context()
			_, secret, inVault := supplychain.ParseKeyRef(key)
			password := []byte(os.Getenv("COSIGN_PASSWORD"))
			if inVault && secret == "" {
				return usageError("--key %q: name the secret, as in vault://default/cosign-key", key)
			}
			if inVault {
				b := make([]byte, 24)
				if _, err := rand.Read(b); err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				password = []byte(hex.EncodeToString(b))
			}
			priv, pubPEM, err := supplychain.GenerateKeyPair(password)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			if inVault {
				v, err := openVault(data)
				if err != nil {
					return err
				}
				if _, err := v.Get(ctx, secret); err == nil {
					return usageError("generate-key-pair: secret %q already exists in %s: remove it first with conveyor secret rm", secret, v.Path())
				}
				if _, err := v.Set(ctx, secret+"-password", password); err != nil {
					return vaultError(err)
				}
				if _, err := v.Set(ctx, secret, priv); err != nil {
					return vaultError(err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "private key stored as %s (password %s-password) in %s\n", secret, secret, v.Path())
			} else {
				if err := writeNew(key+".key", priv, 0o600); err != nil {
					return err
				}
				if pub == "" {
					pub = key + ".pub"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "private key written to %s\n", key+".key")
			}
			if pub == "" {
				_, err := cmd.OutOrStdout().Write(pubPEM)
				return err
			}
			if err := writeNew(pub, pubPEM, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "public key written to %s\n", pub)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "where the private key goes: a file prefix or vault://<vault>/<secret>")
	cmd.Flags().StringVar(&pub, "pub", "", "file for the public key (default KEY.pub, or standard output for a vault key)")
	cmd.Flags().StringVar(&data, "data", "", "data folder of the embedded vault for vault:// keys (default $CONVEYOR_DATA or ~/.local/share/conveyor)")
	return cmd
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if os.IsExist(err) {
			return usageError("%s already exists: choose another --key or remove it", path)
		}
		return &exitError{code: exitFailed, err: err}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return &exitError{code: exitFailed, err: err}
	}
	if err := f.Close(); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}

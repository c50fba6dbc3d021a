package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/supplychain"
)

// keyFlags are the flags of sign and verify.
type keyFlags struct {
	key      string
	data     string
	insecure bool
	output   string
}

func (f *keyFlags) add(cmd *cobra.Command, keyHelp string) {
	cmd.Flags().StringVar(&f.key, "key", "", keyHelp)
	cmd.Flags().StringVar(&f.data, "data", "", "data folder of the embedded vault for vault:// keys (default $CONVEYOR_DATA or ~/.local/share/conveyor)")
	cmd.Flags().BoolVar(&f.insecure, "insecure", false, "allow plain HTTP to the registry (loopback and private networks use it anyway)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: text or json")
}

// secrets reads vault:// keys from the embedded vault of the data folder;
// any vault name is accepted there.
func (f *keyFlags) secrets() supplychain.SecretFunc {
	return func(ctx context.Context, _ string, name string) ([]byte, error) {
		v, err := openVault(f.data)
		if err != nil {
			return nil, err
		}
		return v.Get(ctx, name)
	}
}

func (f *keyFlags) check(cmd *cobra.Command) error {
	if f.key == "" {
		return usageError("%s: --key is required", cmd.CommandPath())
	}
	if f.output != "text" && f.output != "json" {
		return usageError("--output %q: use text or json", f.output)
	}
	return nil
}

func (f *keyFlags) print(cmd *cobra.Command, v any, text string) error {
	if f.output == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprintln(cmd.OutOrStdout(), text)
	return err
}

func newSignCmd() *cobra.Command {
	var f keyFlags
	var annotations []string
	cmd := &cobra.Command{
		Use:   "sign IMAGE --key KEY",
		Short: "Sign an image (cosign-compatible)",
		Long: `Sign an image the way "cosign sign --key" does: a simple-signing payload naming
the image's digest, signed with an ECDSA key in cosign's encrypted format, stored
as an OCI referrer of the image and under cosign's tag sha256-<hex>.sig. No
transparency log is written (verify with cosign's --insecure-ignore-tlog).

KEY is a cosign.key file or vault://<vault>/<secret> (the embedded vault of
--data). Its password is $COSIGN_PASSWORD, or for a vault key the secret
<secret>-password, else empty.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(cmd); err != nil {
				return err
			}
			ann := map[string]string{}
			for _, a := range annotations {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return usageError("--annotation %q: use key=value", a)
				}
				ann[k] = v
			}
			var password []byte
			if pw, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
				password = []byte(pw)
			}
			signer, _, err := supplychain.LoadSigner(cmd.Context(), f.key, password, f.secrets())
			if err != nil {
				return keyError(err)
			}
			sig, err := supplychain.Sign(cmd.Context(), args[0], signer, supplychain.SignOptions{
				Options: supplychain.Options{Insecure: f.insecure}, Annotations: ann,
			})
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			return f.print(cmd, sig, fmt.Sprintf("signed %s (signature %s, tag %s)", sig.Image, sig.Manifest, sig.Tag))
		},
	}
	f.add(cmd, "private key: a cosign.key file or vault://<vault>/<secret>")
	cmd.Flags().StringArrayVarP(&annotations, "annotation", "a", nil, "key=value added to the signed payload (repeatable)")
	cmd.AddCommand(newGenerateKeyPairCmd())
	return cmd
}

func newVerifyCmd() *cobra.Command {
	var f keyFlags
	var requireScan bool
	cmd := &cobra.Command{
		Use:   "verify IMAGE --key PUB",
		Short: "Verify an image signature (cosign-compatible)",
		Long: `Verify that IMAGE has a cosign signature (a referrer or the sha256-<hex>.sig tag,
made by conveyor sign or cosign sign --key) that verifies with the public key PUB
(cosign.pub, or vault://<vault>/<secret>) and names the image's digest. With
--require-scan the image's latest vulnerability scan attestation signed with the
same key must also have passed. Exits 1 when verification fails.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(cmd); err != nil {
				return err
			}
			pub, err := supplychain.LoadPublicKey(cmd.Context(), f.key, f.secrets())
			if err != nil {
				return keyError(err)
			}
			opts := supplychain.Options{Insecure: f.insecure}
			v, err := supplychain.Verify(cmd.Context(), args[0], pub, opts)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			out := map[string]any{"image": v.Image, "signature": v.Manifest, "annotations": v.Optional}
			text := fmt.Sprintf("verified %s (signature %s)", v.Image, v.Manifest)
			if requireScan {
				res, err := supplychain.VerifyScan(cmd.Context(), v.Image, pub, opts)
				if err != nil {
					return &exitError{code: exitFailed, err: err}
				}
				out["scan"] = map[string]any{"passed": res.Passed, "threshold": res.Threshold, "scannedAt": res.ScannedAt, "findings": len(res.Findings)}
				text += fmt.Sprintf("; scan passed at %s on %s", res.Threshold, res.ScannedAt.Format("2006-01-02T15:04:05Z"))
			}
			return f.print(cmd, out, text)
		},
	}
	f.add(cmd, "public key: a cosign.pub file or vault://<vault>/<secret>")
	cmd.Flags().BoolVar(&requireScan, "require-scan", false, "also require a passed vulnerability scan attestation signed with the key")
	return cmd
}

// keyError: a missing file, a bad key or a wrong password is the user's to fix.
func keyError(err error) error {
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, supplychain.ErrWrongPassword) || strings.Contains(err.Error(), "key") {
		return &exitError{code: exitBadUser, err: err}
	}
	return &exitError{code: exitFailed, err: err}
}

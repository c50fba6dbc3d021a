package main

import "github.com/spf13/cobra"

// Commands of the CLI contract whose capability has not landed yet. Each says
// so and exits 2; the issue that fills one moves it into its own file.

func stub(use, short string, sub ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return notImplemented(cmd)
		},
	}
	cmd.AddCommand(sub...)
	return cmd
}

func newApproveCmd(verb string) *cobra.Command {
	return stub(verb+" RUN", "Record a decision ("+verb+") on a waiting approval")
}

func newSignCmd() *cobra.Command {
	return stub("sign IMAGE", "Sign an image (cosign-compatible)")
}

func newVerifyCmd() *cobra.Command {
	return stub("verify IMAGE", "Verify an image signature (cosign-compatible)")
}

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

func newServerCmd() *cobra.Command {
	return stub("server", "Serve the API, web UI, webhooks, scheduler, embedded registries and vault")
}

func newAgentCmd() *cobra.Command {
	return stub("agent", "Run a remote runner that leases jobs from a server")
}

func newApproveCmd(verb string) *cobra.Command {
	return stub(verb+" RUN", "Record a decision ("+verb+") on a waiting approval")
}

func newTokenCmd() *cobra.Command {
	return stub("token", "Manage API tokens", stub("create", "Create an API token"))
}

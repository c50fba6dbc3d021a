package main

import "github.com/spf13/cobra"

func newLintCmd() *cobra.Command {
	return stub("lint", "Validate a pipeline; every problem as file:line:col: message")
}

func newPlanCmd() *cobra.Command {
	return stub("plan", "Print the compiled plan of a pipeline")
}

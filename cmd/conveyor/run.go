package main

import "github.com/spf13/cobra"

func newRunCmd() *cobra.Command {
	return stub("run", "Run a pipeline of the current git repository locally")
}

func newRunsCmd() *cobra.Command {
	return stub("runs", "Operate runs",
		stub("list", "List runs"),
		stub("show RUN", "Show a run"),
		stub("logs RUN", "Print a run's logs"),
		stub("cancel RUN", "Cancel a run"),
		stub("retry RUN", "Retry a run"))
}

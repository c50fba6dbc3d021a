package main

import "github.com/spf13/cobra"

func newClusterCmd() *cobra.Command {
	return stub("cluster", "A real local Kubernetes control plane",
		stub("up", "Start the local control plane"),
		stub("down", "Stop the local control plane and remove its state"),
		stub("env", "Print the environment for the local control plane"))
}

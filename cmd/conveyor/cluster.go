package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/kubeenv"
)

func newClusterCmd() *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "A real local Kubernetes control plane",
		Long: "A real local Kubernetes control plane on loopback (etcd, kube-apiserver, controller-manager,\n" +
			"scheduler) with one real node (kubelet + containerd), run in the background under a state folder.",
	}
	cmd.PersistentFlags().StringVar(&state, "state", "", "state folder (default ${XDG_STATE_HOME:-$HOME/.local/state}/conveyor/cluster)")
	stateDir := func() (string, error) {
		if state != "" {
			return filepath.Abs(state)
		}
		return kubeenv.DefaultStateDir()
	}

	up := &cobra.Command{
		Use:   "up",
		Short: "Start the local control plane",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := stateDir()
			if err != nil {
				return err
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("cluster up: %w", err)
			}
			res, err := kubeenv.Up(cmd.Context(), dir, []string{exe, "cluster", "serve", "--state", dir}, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if res.AlreadyRunning {
				fmt.Fprintf(cmd.ErrOrStderr(), "cluster already running (state %s)\n", dir)
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "cluster up in %.1fs: node %s Ready (state %s)\n", res.Elapsed.Seconds(), kubeenv.RealNodeName, dir)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "export KUBECONFIG=%s\n", res.Kubeconfig)
			return nil
		},
	}
	down := &cobra.Command{
		Use:   "down",
		Short: "Stop the local control plane and remove its state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := stateDir()
			if err != nil {
				return err
			}
			was, err := kubeenv.Down(cmd.Context(), dir)
			if err != nil {
				return err
			}
			if was {
				fmt.Fprintf(cmd.ErrOrStderr(), "cluster stopped, state %s removed\n", dir)
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "no cluster running (state %s)\n", dir)
			}
			return nil
		},
	}
	env := &cobra.Command{
		Use:   "env",
		Short: "Print the environment for the local control plane",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := stateDir()
			if err != nil {
				return err
			}
			if !kubeenv.ClusterRunning(dir) {
				return &exitError{code: exitFailed, err: fmt.Errorf("no cluster running (state %s): start one with conveyor cluster up", dir)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "export KUBECONFIG=%s\n", kubeenv.ClusterKubeconfig(dir))
			return nil
		},
	}
	serve := &cobra.Command{
		Use:    "serve",
		Short:  "Run the cluster in the foreground (the supervisor started by up)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := stateDir()
			if err != nil {
				return err
			}
			return kubeenv.Serve(cmd.Context(), dir)
		},
	}
	cmd.AddCommand(up, down, env, serve)
	return cmd
}

package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/executor/kubernetes"
	"conveyor.dev/conveyor/internal/image"
)

// newExecutorCmd holds the commands of the kubernetes executor backend: the
// runner image, and the hidden in-pod halves (install, wait, step).
func newExecutorCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "executor",
		Short: "Tools of the kubernetes executor backend (the runner image)",
	}
	var busybox, bash string
	runnerImage := &cobra.Command{
		Use:   "runner-image REF",
		Short: "Build the runner image of job pods from this binary and push it to REF",
		Long: `Pack this conveyor binary (it must be static: CGO_ENABLED=0) with a static
busybox and bash (Debian's busybox-static and bash-static) into the runner
image of the kubernetes backend, push it to REF (a tag or repository) and
print its digest reference: pass that to conveyor agent --runner-image.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := kubernetes.DefaultRunnerBinaries()
			if err != nil {
				return err
			}
			if busybox != "" {
				b.Busybox = busybox
			}
			if bash != "" {
				b.Bash = bash
			}
			img, err := kubernetes.RunnerImage(b)
			if err != nil {
				return usageError("%w", err)
			}
			_, ref, err := image.Push(cmd.Context(), img, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), ref)
			return nil
		},
	}
	runnerImage.Flags().StringVar(&busybox, "busybox", "", "static busybox to pack (default /bin/busybox)")
	runnerImage.Flags().StringVar(&bash, "bash", "", "static bash to pack (default /bin/bash-static)")

	install := &cobra.Command{
		Use:    "install DIR [WORKSPACE-DIR]...",
		Short:  "Copy the step runner into DIR and make the workspace folders (a job pod's init container)",
		Hidden: true,
		Args:   cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return kubernetes.Install(args[0], args[1:])
		},
	}
	wait := &cobra.Command{
		Use:    "wait",
		Short:  "Keep a job pod up and reap orphaned processes (its main process)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return kubernetes.Wait(cmd.Context())
		},
	}
	step := &cobra.Command{
		Use:    "step",
		Short:  "Run one step read from stdin, writing its events to stdout (exec'd into a job pod)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The events own stdout: whatever else this process would
			// print there goes to stderr instead.
			events := os.Stdout
			os.Stdout = os.Stderr
			return kubernetes.ServeStep(cmd.Context(), os.Stdin, events)
		},
	}
	cmd.AddCommand(runnerImage, install, wait, step)
	return cmd
}

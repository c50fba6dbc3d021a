// Command conveyor is the Conveyor CLI: it runs pipelines locally, serves the
// API, runs agents, and drives the local Kubernetes control plane.
//
// This package holds flag parsing and wiring only; the logic lives under
// internal/.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit codes shared by every command (DESIGN.md, CLI contract).
const (
	exitOK      = 0
	exitFailed  = 1 // the run failed, lint found problems
	exitBadUser = 2 // bad input or not implemented
)

// exitError carries an exit code out of a command. A nil err prints nothing.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks bad input from the user: exit code 2.
func usageError(format string, a ...any) error {
	return &exitError{code: exitBadUser, err: fmt.Errorf(format, a...)}
}

func main() {
	ctx, stop := signal.NotifyContext(rootContext(), os.Interrupt, syscall.SIGTERM)
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "conveyor:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "conveyor:", err)
	return exitFailed
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "conveyor",
		Short:         "Conveyor: CI/CD for Kubernetes apps, from pull request to production",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitBadUser, err: err}
	})
	root.AddCommand(
		newVersionCmd(),
		newRunCmd(),
		newLintCmd(),
		newPlanCmd(),
		newServerCmd(),
		newAgentCmd(),
		newExecutorCmd(),
		newRunsCmd(),
		newApproveCmd("approve"),
		newApproveCmd("reject"),
		newPromoteCmd(),
		newRegistryCmd(),
		newSecretCmd(),
		newSignCmd(),
		newVerifyCmd(),
		newVulnDBCmd(),
		newTokenCmd(),
		newClusterCmd(),
		newDemoCmd(),
		newGitOpsCmd(),
	)
	return root
}

// applyEnv sets every flag the user did not pass from CONVEYOR_<FLAG> in the
// environment (dashes become underscores, upper case): CONVEYOR_OUTPUT=json.
func applyEnv(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		name := "CONVEYOR_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		if err := cmd.Flags().Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", name, err))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return &exitError{code: exitBadUser, err: err}
	}
	return nil
}

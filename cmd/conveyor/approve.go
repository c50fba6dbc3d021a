package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/store"
)

// newApproveCmd is `conveyor approve|reject RUN [--stage S] [--comment C]`
// against the local store of the data folder.
func newApproveCmd(verb string) *cobra.Command {
	decision := store.DecisionApprove
	if verb == "reject" {
		decision = store.DecisionReject
	}
	var data, stage, comment, who, cfgFile, output, server, token string
	cmd := &cobra.Command{
		Use:   verb + " RUN",
		Short: "Record a decision (" + verb + ") on a waiting approval of a run",
		Long: "Record a decision (" + verb + ") on the pending approval of RUN: an environment's approval check of a stage,\n" +
			"or a ManualValidation step. With several pending approvals, --stage names the stage (or the job) to decide.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageError("--output %q: use text or json", output)
			}
			if server != "" {
				return approveOnServer(cmd, server, token, verb, args[0], stage, comment)
			}
			ctx := cmd.Context()
			if who == "" {
				u, err := user.Current()
				if err != nil {
					return usageError("%s: who decides? pass --user NAME: %v", verb, err)
				}
				who = u.Username
			}
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			cfg, err := loadConfig(gitRoot(wd), cfgFile)
			if err != nil {
				return err
			}
			st, err := openLocalStore(ctx, data)
			if err != nil {
				return err
			}
			defer st.Close()
			run, err := findRun(ctx, st, args[0])
			if err != nil {
				return err
			}
			svc, err := approval.NewService(st, approval.WithUsers(approval.UsersOf(cfg)))
			if err != nil {
				return err
			}
			a, err := pickApproval(ctx, svc, run, stage)
			if err != nil {
				return err
			}
			got, err := svc.Decide(ctx, a.ID, who, decision, comment)
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return err
				}
				return &exitError{code: exitBadUser, err: err}
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(got)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s recorded %s on approval %s (%s) of run %s #%d: it is %s\n",
				verb, who, decision, got.ID, describeGate(got), run.ID, run.Number, got.State)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "data folder (default .conveyor in the repository root)")
	cmd.Flags().StringVar(&stage, "stage", "", "the stage (or job) whose approval to decide, when the run waits on several")
	cmd.Flags().StringVar(&comment, "comment", "", "a comment recorded with the decision")
	cmd.Flags().StringVar(&who, "user", "", "who decides (default the current OS user)")
	cmd.Flags().StringVar(&cfgFile, "config", "", "conveyor.yaml giving users and their groups (default the repository's)")
	cmd.Flags().StringVar(&output, "output", "text", "output format: text or json")
	cmd.Flags().StringVar(&server, "server", "", "decide on this server (URL) instead of the local store; the token is --token or CONVEYOR_TOKEN")
	cmd.Flags().StringVar(&token, "token", "", "API token for --server")
	return cmd
}

// pickApproval returns the pending approval of run to decide: the only
// one, or the one of stage (a stage name, or a job or step record ID).
func pickApproval(ctx context.Context, svc *approval.Service, run store.Run, stage string) (store.Approval, error) {
	pending, err := svc.Pending(ctx, run.ID)
	if err != nil {
		return store.Approval{}, err
	}
	var match []store.Approval
	for _, a := range pending {
		if stage == "" || strings.EqualFold(a.Gate, stage) || strings.HasPrefix(strings.ToLower(a.Gate), strings.ToLower(stage)+".") {
			match = append(match, a)
		}
	}
	switch {
	case len(match) == 1:
		return match[0], nil
	case len(match) == 0 && stage != "":
		return store.Approval{}, usageError("run %s #%d has no pending approval for %s: see its state with conveyor runs show %s", run.ID, run.Number, stage, run.ID)
	case len(match) == 0:
		return store.Approval{}, usageError("run %s #%d waits on no approval: see its state with conveyor runs show %s", run.ID, run.Number, run.ID)
	}
	var gates []string
	for _, a := range match {
		gates = append(gates, a.Gate)
	}
	return store.Approval{}, usageError("run %s #%d waits on %d approvals (%s): name one with --stage", run.ID, run.Number, len(match), strings.Join(gates, ", "))
}

func describeGate(a store.Approval) string {
	if a.Kind == store.ApprovalKindManualValidation {
		return "manual validation " + a.Gate
	}
	return "environment " + a.Environment + " for stage " + a.Gate
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/server/client"
)

// approveOnServer records verb (approve or reject) on the pending approvals
// of run RUN through a server's API: the one of --stage when given, else
// the only pending one. `conveyor approve|reject RUN --server URL` calls it
// when --server (CONVEYOR_SERVER) is set; the local mode is approve.go's.
func approveOnServer(cmd *cobra.Command, serverURL, token, verb, runRef, stage, comment string) error {
	c, err := client.New(serverURL, token)
	if err != nil {
		return usageError("%w", err)
	}
	r, err := serverRun(c, cmd, runRef)
	if err != nil {
		return err
	}
	pending, err := c.ListApprovals(cmd.Context(), r.ID, "pending")
	if err != nil {
		return err
	}
	var match []client.Approval
	for _, a := range pending {
		if stage == "" || a.Gate == stage {
			match = append(match, a)
		}
	}
	switch {
	case len(match) == 0 && stage != "":
		return &exitError{code: exitBadUser, err: fmt.Errorf("run %s has no pending approval at stage %s", r.ID, stage)}
	case len(match) == 0:
		return &exitError{code: exitBadUser, err: fmt.Errorf("run %s has no pending approval", r.ID)}
	case len(match) > 1:
		var gates []string
		for _, a := range match {
			gates = append(gates, a.Gate)
		}
		return &exitError{code: exitBadUser, err: fmt.Errorf("run %s has %d pending approvals (%v): pass --stage", r.ID, len(match), gates)}
	}
	id := match[0].ID
	out, err := c.Decide(cmd.Context(), id, verb, comment)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "approval %s of run %s: %s (%s)\n", id, r.ID, verb, out.State)
	return nil
}

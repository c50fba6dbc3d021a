package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/server/client"
)

// addServerMode gives `conveyor runs …` a --server mode: with --server (or
// CONVEYOR_SERVER) and --token (or CONVEYOR_TOKEN) each subcommand asks the
// server's API instead of the local data folder.
func addServerMode(runs *cobra.Command) {
	var serverURL, token string
	var follow bool
	runs.PersistentFlags().StringVar(&serverURL, "server", "", "ask this server (http://host:port) instead of the local data folder")
	runs.PersistentFlags().StringVar(&token, "token", "", "API token for --server (conveyor token create)")
	modes := map[string]func(c *client.Client, cmd *cobra.Command, args []string) error{
		"list": serverRunsList,
		"show": serverRunsShow,
		"logs": func(c *client.Client, cmd *cobra.Command, args []string) error {
			return serverRunsLogs(c, cmd, args, follow)
		},
		"cancel": serverRunsCancel,
		"retry":  serverRunsRetry,
		"start":  serverRunsStart,
	}
	for _, sub := range runs.Commands() {
		mode, ok := modes[sub.Name()]
		if !ok {
			continue
		}
		if sub.Name() == "logs" {
			sub.Flags().BoolVarP(&follow, "follow", "f", false, "with --server: follow the logs of a running run live")
		}
		local := sub.RunE
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			if serverURL == "" {
				return local(cmd, args)
			}
			c, err := client.New(serverURL, token)
			if err != nil {
				return usageError("%w", err)
			}
			return mode(c, cmd, args)
		}
	}
}

func outputJSON(cmd *cobra.Command) bool {
	o, _ := cmd.Flags().GetString("output")
	return o == "json"
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func serverRunsList(c *client.Client, cmd *cobra.Command, _ []string) error {
	runs, err := c.ListRuns(cmd.Context(), client.RunFilter{})
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if outputJSON(cmd) {
		if runs == nil {
			runs = []client.Run{}
		}
		return writeJSON(w, runs)
	}
	fmt.Fprintf(w, "%-26s  %-5s  %-20s  %-10s  %-20s  %-20s  %s\n", "ID", "#", "PIPELINE", "STATE", "RESULT", "BRANCH", "CREATED")
	for _, r := range runs {
		fmt.Fprintf(w, "%-26s  %-5d  %-20s  %-10s  %-20s  %-20s  %s\n", r.ID, r.Number, r.Pipeline, r.State, orDash(r.Result), r.Branch, r.CreatedAt.Local().Format(time.DateTime))
	}
	return nil
}

// serverRun resolves RUN on the server: an ID, or a run number (#N).
func serverRun(c *client.Client, cmd *cobra.Command, ref string) (client.Run, error) {
	r, err := c.GetRun(cmd.Context(), ref)
	if err == nil {
		return r, nil
	}
	runs, lerr := c.ListRuns(cmd.Context(), client.RunFilter{})
	if lerr != nil {
		return client.Run{}, lerr
	}
	refs := make([]runRef, len(runs))
	for i, r := range runs {
		refs[i] = runRef{ID: r.ID, Pipeline: r.Pipeline, Number: r.Number}
	}
	i, err := pickRun(ref, refs)
	if err != nil {
		return client.Run{}, err
	}
	return runs[i], nil
}

func serverRunsShow(c *client.Client, cmd *cobra.Command, args []string) error {
	r, err := serverRun(c, cmd, args[0])
	if err != nil {
		return err
	}
	recs, err := c.Records(cmd.Context(), r.ID)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if outputJSON(cmd) {
		return writeJSON(w, map[string]any{"run": r, "records": recs})
	}
	fmt.Fprintf(w, "run %s #%d of %s: %s %s\n", r.ID, r.Number, r.Pipeline, r.State, orDash(r.Result))
	fmt.Fprintf(w, "commit %s on %s (%s)\n", r.Commit, r.Branch, r.Event)
	for _, rec := range recs {
		indent := map[string]string{"stage": "", "job": "  ", "phase": "    ", "step": "    "}[rec.Type]
		d := time.Duration(0)
		if !rec.StartedAt.IsZero() && !rec.FinishedAt.IsZero() {
			d = rec.FinishedAt.Sub(rec.StartedAt).Round(time.Millisecond)
		}
		name := rec.DisplayName
		if name == "" {
			name = rec.Name
		}
		fmt.Fprintf(w, "%s%s: %s (%s)\n", indent, name, orDash(rec.Result), d)
		for _, is := range rec.Issues {
			fmt.Fprintf(w, "%s  %s: %s\n", indent, is.Type, is.Message)
		}
	}
	return nil
}

func serverRunsLogs(c *client.Client, cmd *cobra.Command, args []string, follow bool) error {
	r, err := serverRun(c, cmd, args[0])
	if err != nil {
		return err
	}
	record, _ := cmd.Flags().GetString("record")
	w := cmd.OutOrStdout()
	if follow {
		if record == "" {
			return usageError("--follow needs --record STEP (a record ID from conveyor runs show)")
		}
		return c.FollowLog(cmd.Context(), r.ID, record, 0, func(l client.LogLine) error {
			_, err := fmt.Fprintf(w, "%s %s\n", l.Time.Local().Format("15:04:05.000"), l.Text)
			return err
		})
	}
	logs, err := c.Logs(cmd.Context(), r.ID)
	if err != nil {
		return err
	}
	for _, l := range logs {
		if record != "" && l.Record != record {
			continue
		}
		fmt.Fprintf(w, "== %s (attempt %d): %s\n", l.Record, l.Attempt, orDash(l.Result))
		for _, line := range l.Lines {
			fmt.Fprintf(w, "%s %s\n", line.Time.Local().Format("15:04:05.000"), line.Text)
		}
	}
	return nil
}

func serverRunsCancel(c *client.Client, cmd *cobra.Command, args []string) error {
	r, err := serverRun(c, cmd, args[0])
	if err != nil {
		return err
	}
	if _, err := c.Cancel(cmd.Context(), r.ID); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "run %s: cancel requested\n", r.ID)
	return nil
}

func serverRunsRetry(c *client.Client, cmd *cobra.Command, args []string) error {
	r, err := serverRun(c, cmd, args[0])
	if err != nil {
		return err
	}
	nr, err := c.Retry(cmd.Context(), r.ID)
	if err != nil {
		return err
	}
	if outputJSON(cmd) {
		return writeJSON(cmd.OutOrStdout(), nr)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "run %s #%d started (retry of %s)\n", nr.ID, nr.Number, r.ID)
	return nil
}

// newRunsStartCmd is `conveyor runs start PIPELINE --server …`: a manual run
// on the server, as Azure's "Run pipeline" (az pipelines run). Without
// --server there is no server to ask; conveyor run runs a pipeline locally.
func newRunsStartCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start PIPELINE --server URL [--repository R] [--branch B] [--var K=V]… [--wait]",
		Short: "Start a manual run of a pipeline on a server",
		Long: `Start a manual run of PIPELINE (its name under the repository's pipelines in the
server's conveyor.yaml) at the head of --branch (default: the repository's default
branch), with queue-time variables. --repository may be left out when the server
has one repository. With --wait it follows the run to its end and exits 0 when it
succeeded, 1 otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError("runs start needs --server URL (or CONVEYOR_SERVER): to run a pipeline here, use conveyor run -f FILE")
		},
	}
	cmd.Flags().String("repository", "", "the repository's name in the server's conveyor.yaml")
	cmd.Flags().String("branch", "", "the branch to run (default: the repository's default branch)")
	cmd.Flags().StringArray("var", nil, "queue-time variable K=V (repeatable)")
	cmd.Flags().Bool("wait", false, "wait for the run to end; exit 1 unless it succeeded")
	return cmd
}

func serverRunsStart(c *client.Client, cmd *cobra.Command, args []string) error {
	repo, _ := cmd.Flags().GetString("repository")
	branch, _ := cmd.Flags().GetString("branch")
	kvs, _ := cmd.Flags().GetStringArray("var")
	wait, _ := cmd.Flags().GetBool("wait")
	vars, err := keyValues("--var", kvs)
	if err != nil {
		return err
	}
	r, err := c.StartRun(cmd.Context(), repo, args[0], branch, vars)
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) && ce.Status < 500 {
			return &exitError{code: exitBadUser, err: err}
		}
		return err
	}
	w := cmd.OutOrStdout()
	if !wait {
		if outputJSON(cmd) {
			return writeJSON(w, r)
		}
		fmt.Fprintf(w, "run %s #%d of %s started on %s\n", r.ID, r.Number, r.Pipeline, orDash(r.Branch))
		return nil
	}
	if !outputJSON(cmd) {
		fmt.Fprintf(cmd.ErrOrStderr(), "run %s #%d of %s started on %s; waiting for its end\n", r.ID, r.Number, r.Pipeline, orDash(r.Branch))
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for r.State != "completed" {
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-tick.C:
		}
		if r, err = c.GetRun(cmd.Context(), r.ID); err != nil {
			return err
		}
	}
	if outputJSON(cmd) {
		if err := writeJSON(w, r); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "run %s #%d of %s: %s\n", r.ID, r.Number, r.Pipeline, r.Result)
	}
	if r.Result != "succeeded" && r.Result != "succeededWithIssues" {
		return &exitError{code: exitFailed, err: fmt.Errorf("run %s #%d of %s: %s", r.ID, r.Number, r.Pipeline, r.Result)}
	}
	return nil
}

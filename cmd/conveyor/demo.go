package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"conveyor.dev/conveyor/internal/demo"
)

func newDemoCmd() *cobra.Command {
	var (
		o      demo.Options
		output string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole reference flow on embedded defaults with the sample app",
		Long: `Run the whole reference flow with examples/webapp: bring up the local cluster
(building it on first use), start the server with its embedded registries and
vault, open a pull request (the PR pipeline runs), merge it (CI runs, then CD:
staging deploy, acceptance tests), stop at the production approval and ask
(--yes approves on its own), then promote to prod and deploy to production,
and print a summary. --keep leaves the cluster and the server running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return usageError("--output %q: want text or json", output)
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			o.Exe = exe
			o.Out = cmd.ErrOrStderr()
			o.In = cmd.InOrStdin()
			if f, ok := o.In.(*os.File); ok && !o.Yes && !term.IsTerminal(int(f.Fd())) {
				return usageError("demo: no terminal to ask for the production approval on: pass --yes to approve it on your own")
			}
			sum, err := demo.Run(cmd.Context(), o)
			if sum != nil {
				if output == "json" {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					_ = enc.Encode(sum)
				} else {
					printDemoSummary(cmd.OutOrStdout(), sum, o.Keep)
				}
			}
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.Yes, "yes", false, "approve the production deployment without asking")
	f.BoolVar(&o.Keep, "keep", false, "leave the cluster and the server running at the end")
	f.StringVar(&o.Dir, "dir", "", "the demo's folder (default: a new temporary folder)")
	f.StringVar(&o.ClusterState, "cluster-state", "", "the local cluster's state folder (default <dir>/cluster)")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "how long to wait for each pipeline")
	f.StringVar(&output, "output", "text", "output format: text or json")
	return cmd
}

func printDemoSummary(w io.Writer, s *demo.Summary, keep bool) {
	fmt.Fprintln(w, "\nConveyor demo — summary")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PIPELINE\tRUN\tRESULT\tDURATION")
	for _, p := range s.Pipelines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Pipeline, p.RunID, p.Result, p.Duration.Round(time.Millisecond))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nImage digest  nonprod: %s\n              prod:    %s\n", orDash(s.NonprodRef), orDash(s.ProdRef))
	if s.Digest != "" && s.Digest == s.ProdDigest {
		fmt.Fprintf(w, "              the same bytes in both registries (%s)\n", s.Digest)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tDEPLOYMENT\tREADY\tAVAILABLE\tIMAGE")
	for _, wl := range s.Workloads {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%v\t%s\n", wl.Namespace, wl.Name, wl.Ready, wl.Available, wl.Image)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nMerge → production: %s (without the %s approval wait)\n", s.MergeToProduction.Round(time.Millisecond), s.ApprovalWait.Round(time.Millisecond))
	fmt.Fprintf(w, "Acceptance tests passed on staging before the approval was requested: %v\n", s.AcceptanceBeforeApproval)
	fmt.Fprintf(w, "Acceptance tests passed on production after its deploy: %v\n", s.ProductionVerified)
	fmt.Fprintf(w, "Approval recorded in the audit log: %v\n", s.ApprovalAudited)
	if keep {
		fmt.Fprintf(w, "\nServer: %s (data %s)\n  CONVEYOR_TOKEN=$(cat %s/admin-token) conveyor runs list --server %s\n", s.ServerURL, s.DataDir, s.DataDir, s.ServerURL)
		fmt.Fprintf(w, "  conveyor runs list --data %s      # the same, from the store\n", s.DataDir)
		fmt.Fprintf(w, "  eval \"$(conveyor cluster --state %s env)\" && kubectl get pods -A\n", s.ClusterState)
		fmt.Fprintf(w, "  %s/metrics                         # Prometheus metrics\n", s.ServerURL)
	} else {
		fmt.Fprintln(w, "\nThe server and the cluster are stopped; `conveyor demo --keep` leaves them running to look around (server URL, conveyor runs list --server …).")
	}
}

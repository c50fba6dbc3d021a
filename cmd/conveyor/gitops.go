package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/gitops"
)

func newGitOpsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gitops",
		Short: "The pull mode: clusters reconcile desired state from git or OCI artifacts",
		Long: `The pull mode: each entry of conveyor.yaml's gitops section keeps a cluster
equal to a folder of a git repository or of an OCI artifact — fetch, render
(plain YAML, kustomize or helm), server-side apply, prune, health wait — every
interval, reverting manual edits and recreating deleted objects.`,
	}
	cmd.AddCommand(newGitOpsPushCmd(), newGitOpsReconcileCmd(), newGitOpsStatusCmd())
	return cmd
}

func checkOutput(output string) error {
	if output != "text" && output != "json" {
		return usageError("--output %q: use text or json", output)
	}
	return nil
}

func newGitOpsPushCmd() *cobra.Command {
	var (
		cfgFile, output, source, revision string
		insecure                          bool
	)
	cmd := &cobra.Command{
		Use:   "push DIR oci://HOST/REPOSITORY:TAG",
		Short: "Publish a folder of manifests as an OCI artifact (Flux's media types)",
		Long: `Pack the files of DIR (hidden folders left out) into an OCI artifact with
Flux's media types and push it; prints the artifact by digest. The same folder
always gives the same digest. Credentials and plain HTTP come from the registry
of the same host in conveyor.yaml, else the docker config.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			dir, ref := args[0], args[1]
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usageError("gitops push: %s is not a folder", dir)
			}
			if !strings.HasPrefix(ref, "oci://") {
				return usageError("gitops push: %s: give the destination as oci://host/repository:tag", ref)
			}
			cfg, err := serverConfig(cfgFile)
			if err != nil {
				return err
			}
			o := gitops.PushOptions{Insecure: insecure, Source: source, Revision: revision}
			host, _, _ := strings.Cut(strings.TrimPrefix(ref, "oci://"), "/")
			if reg, ok := cfg.RegistryByHost(host); ok {
				o.Insecure = o.Insecure || reg.Insecure
				if reg.Username != "" || reg.Password != "" {
					o.Auth = authn.FromConfig(authn.AuthConfig{Username: reg.Username, Password: reg.Password})
				}
			}
			p, err := gitops.Push(cmd.Context(), dir, ref, o)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(cmd.OutOrStdout(), p)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), p.Ref)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgFile, "config", "", "configuration file for registry credentials (default conveyor.yaml in the current directory)")
	f.BoolVar(&insecure, "insecure", false, "allow plain HTTP to the registry")
	f.StringVar(&source, "source", "", "where the manifests come from (annotation org.opencontainers.image.source)")
	f.StringVar(&revision, "revision", "", "their revision, e.g. main@sha1:<commit> (annotation org.opencontainers.image.revision)")
	f.StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// gitopsFlags are the flags reconcile and status share.
type gitopsFlags struct {
	cfgFile, data, output string
	names                 []string
}

func (g *gitopsFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&g.cfgFile, "config", "", "configuration file (default conveyor.yaml in the current directory)")
	f.StringVar(&g.data, "data", "", "data folder for git mirrors and the embedded vault (default ~/.local/share/conveyor)")
	f.StringSliceVar(&g.names, "name", nil, "only the gitops entries of these names (repeat or comma-separate)")
	f.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
}

// reconcilers loads the configuration and builds its reconcilers.
func (g *gitopsFlags) reconcilers(ctx context.Context) ([]*gitops.Reconciler, error) {
	if err := checkOutput(g.output); err != nil {
		return nil, err
	}
	cfg, err := serverConfig(g.cfgFile)
	if err != nil {
		return nil, err
	}
	if len(cfg.GitOps) == 0 {
		return nil, usageError("no gitops entries in %s: add a gitops section (see README, GitOps pull mode)", configName(cfg))
	}
	if g.data == "" {
		if g.data, err = defaultUserData(); err != nil {
			return nil, usageError("no --data and no home folder: %w", err)
		}
	}
	kf := keyFlags{data: g.data}
	recs, err := gitops.FromConfig(ctx, cfg, gitops.SetupOptions{DataDir: g.data, Names: g.names, Secrets: kf.secrets()})
	if err != nil {
		return nil, &exitError{code: exitBadUser, err: err}
	}
	return recs, nil
}

func configName(cfg *config.Config) string {
	if cfg.File == "" {
		return "the embedded defaults (no conveyor.yaml)"
	}
	return cfg.File
}

// resultPrinter prints results as lines of text or JSON, one at a time.
type resultPrinter struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
}

func (p *resultPrinter) print(res gitops.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		b, err := json.Marshal(res)
		if err == nil {
			fmt.Fprintf(p.w, "%s\n", b)
		}
		return
	}
	fmt.Fprintln(p.w, res.String())
}

func newGitOpsReconcileCmd() *cobra.Command {
	var (
		g    gitopsFlags
		once bool
	)
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Reconcile the gitops entries of conveyor.yaml, in the foreground or --once",
		Long: `Reconcile every entry of conveyor.yaml's gitops section (or those --name
gives): at once, then every interval until interrupted, one line per
reconcile (a JSON object per line with --output json). With --once each
entry is reconciled one time and the exit code is 1 when any failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			recs, err := g.reconcilers(ctx)
			if err != nil {
				return err
			}
			p := &resultPrinter{w: cmd.OutOrStdout(), json: g.output == "json"}
			c, err := gitops.NewController(recs, p.print)
			if err != nil {
				return err
			}
			if !once {
				c.Run(ctx)
				return nil
			}
			failed := 0
			for _, res := range c.ReconcileAll(ctx) {
				if res.Err != nil {
					failed++
				}
			}
			if failed > 0 {
				return &exitError{code: exitFailed, err: fmt.Errorf("%d of %d gitops reconciles failed", failed, len(recs))}
			}
			return nil
		},
	}
	g.add(cmd)
	cmd.Flags().BoolVar(&once, "once", false, "reconcile each entry once and exit")
	return cmd
}

func newGitOpsStatusCmd() *cobra.Command {
	var g gitopsFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what each gitops entry last did, as recorded in its cluster",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			recs, err := g.reconcilers(ctx)
			if err != nil {
				return err
			}
			var all []json.RawMessage
			var errs []error
			for _, r := range recs {
				inv, found, err := r.Inventory(ctx)
				switch {
				case err != nil:
					errs = append(errs, err)
					continue
				case !found || len(inv.Result) == 0:
					inv.Result, _ = json.Marshal(map[string]string{"name": r.Name(), "status": "never reconciled"})
				}
				all = append(all, json.RawMessage(inv.Result))
				if g.output == "text" {
					var v struct {
						Name, Revision, Health, Error, Status string
						Started                               string
					}
					_ = json.Unmarshal(inv.Result, &v)
					line := fmt.Sprintf("%s: revision %s, %s, at %s", r.Name(), orNone(v.Revision), strings.ToLower(orNone(v.Health)), orNone(v.Started))
					if v.Status != "" {
						line = r.Name() + ": " + v.Status
					}
					if v.Error != "" {
						line += ": " + v.Error
					}
					fmt.Fprintln(cmd.OutOrStdout(), line)
				}
			}
			if g.output == "json" {
				if err := writeJSON(cmd.OutOrStdout(), all); err != nil {
					return err
				}
			}
			return errors.Join(errs...)
		},
	}
	g.add(cmd)
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

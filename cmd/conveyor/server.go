package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/deploy"
	"conveyor.dev/conveyor/internal/gitops"
	"conveyor.dev/conveyor/internal/server"
)

func newServerCmd() *cobra.Command {
	var (
		cfgFile, data, listen, database, logLevel, publicURL string
		grace, leaseTTL                                      time.Duration
		localAgents                                          int
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Serve the API, webhooks, embedded registries and vault, with a built-in local agent",
		Long: `Serve the REST API (/api/v1, described by /api/v1/openapi.json), the webhook
endpoints, /metrics and /healthz; the embedded registries (nonprod, prod with
immutable tags) and vault; and run jobs on a built-in local agent and on remote
agents (conveyor agent). On the first start with an empty data folder an admin
token is written to <data>/admin-token (mode 0600). SIGTERM stops accepting,
lets running steps finish for --grace and leaves the runs to resume at the next
start; runs of a killed server resume too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := serverConfig(cfgFile)
			if err != nil {
				return err
			}
			if data == "" {
				if data, err = defaultUserData(); err != nil {
					return usageError("no --data and no home folder: %w", err)
				}
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError("--log-level %q: want debug, info, warn or error", logLevel)
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			app, err := server.Start(ctx, server.Options{Config: cfg, DataDir: data, Listen: listen, Database: database,
				Logger: log, Grace: grace, LeaseTTL: leaseTTL, LocalAgents: localAgents, PublicURL: publicURL})
			if err != nil {
				return err
			}
			if err := startGitOps(ctx, app.Done(), cfg, data, log); err != nil {
				app.Close()
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "conveyor server listening on %s (data %s)\n", app.URL(), data)
			fmt.Fprintf(cmd.ErrOrStderr(), "web UI at %s/ui/ (sign in with an API token)\n", app.URL())
			if app.AdminToken != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "admin token written to %s\n", server.AdminTokenFile(data))
			}
			return app.Wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgFile, "config", "", "configuration file (default conveyor.yaml in the current directory, else the embedded defaults)")
	f.StringVar(&data, "data", "", "data folder (default ~/.local/share/conveyor)")
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address of the API")
	f.StringVar(&database, "database", "", "store: a SQLite file, sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=… (default <data>/conveyor.db)")
	f.DurationVar(&grace, "grace", 30*time.Second, "how long a stopping server lets running steps finish")
	f.DurationVar(&leaseTTL, "lease-ttl", 30*time.Second, "how long an agent keeps a job without a heartbeat")
	f.IntVar(&localAgents, "local-agents", 0, "jobs the built-in agent runs at once (default: the number of CPUs; -1: none)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&publicURL, "public-url", "", "the server's URL as people reach it, for links in commit statuses (default: the --listen address)")
	return cmd
}

// startGitOps runs the reconcilers of conveyor.yaml's gitops section in the
// background until done is closed (the server stopped), logging each result.
func startGitOps(ctx context.Context, done <-chan struct{}, cfg *config.Config, data string, log *slog.Logger) error {
	if len(cfg.GitOps) == 0 {
		return nil
	}
	kf := keyFlags{data: data}
	recs, err := gitops.FromConfig(ctx, cfg, gitops.SetupOptions{DataDir: data, Secrets: kf.secrets()})
	if err != nil {
		return &exitError{code: exitBadUser, err: err}
	}
	c, err := gitops.NewController(recs, func(res gitops.Result) {
		if res.Err != nil {
			log.Error("gitops reconcile", slog.String("gitops", res.Name), slog.String("revision", res.Revision), slog.Any("err", res.Err))
			return
		}
		level := slog.LevelInfo
		if res.Applied.Count(deploy.Created)+res.Applied.Count(deploy.Configured)+len(res.Pruned.Entries) == 0 {
			level = slog.LevelDebug // nothing changed: the steady state, every interval
		}
		log.Log(ctx, level, "gitops reconcile", slog.String("gitops", res.Name), slog.String("revision", res.Revision), slog.String("result", res.String()))
	})
	if err != nil {
		return err
	}
	gctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-done:
		case <-gctx.Done():
		}
		cancel()
	}()
	go c.Run(gctx)
	return nil
}

// serverConfig reads --config, else conveyor.yaml of the current
// directory, else the embedded defaults.
func serverConfig(file string) (*config.Config, error) {
	var (
		cfg *config.Config
		err error
	)
	if file != "" {
		cfg, err = config.Load(file)
	} else {
		wd, werr := os.Getwd()
		if werr != nil {
			return nil, werr
		}
		cfg, err = config.Find(wd)
	}
	if err != nil {
		return nil, &exitError{code: exitBadUser, err: err}
	}
	return cfg, nil
}

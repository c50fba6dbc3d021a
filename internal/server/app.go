package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"conveyor.dev/conveyor/internal/agent"
	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/executor/local"
	"conveyor.dev/conveyor/internal/forge"
	"conveyor.dev/conveyor/internal/observe"
	"conveyor.dev/conveyor/internal/secret"
	"conveyor.dev/conveyor/internal/secret/vault"
	"conveyor.dev/conveyor/internal/server/dispatch"
	"conveyor.dev/conveyor/internal/services"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/trigger"
)

// Options configure a whole server process (Start).
type Options struct {
	// Config is conveyor.yaml (default: the embedded defaults).
	Config *config.Config
	// DataDir holds the database, logs, workspaces, mirrors, the embedded
	// registries and vault, and admin-token. Required.
	DataDir string
	// Listen is the API's address (default 127.0.0.1:8080; port 0 picks one).
	Listen string
	// Database is the store: a SQLite file path or sqlite:// URL (default
	// <data>/conveyor.db), or a postgres:// URL (see OpenDatabase).
	Database string
	// Logger receives the server's diagnostics (default: none).
	Logger *slog.Logger
	// LeaseTTL is how long an agent's lease lasts without a heartbeat
	// (default 30s).
	LeaseTTL time.Duration
	// Clock decides lease expiry (default: the system clock).
	Clock dispatch.Clock
	// Grace is how long a stopping server lets running steps finish
	// (default 30s).
	Grace time.Duration
	// LocalAgents is how many jobs the built-in local agent runs at once
	// (default: the number of CPUs, at least 2; negative: no built-in agent).
	LocalAgents int
	// Observer is told about runs besides the metrics (tests, the web UI).
	Observer engine.Observer
	// Resume continues the runs a previous server process left running and
	// returns them. It is the hook for the engine's resume API; when nil,
	// such runs are marked interrupted instead.
	Resume func(ctx context.Context, eng *engine.Engine) ([]*engine.Started, error)
	// Webhooks are the trigger handlers by provider (github, gitea,
	// azure-repos), built once the runner exists.
	Webhooks func(starter *Runner, cfg *config.Config) (map[string]WebhookHandler, error)
	// Approvals and Deployments back their endpoints and pages (default:
	// the approval service and the deployments in the store).
	Approvals   Approvals
	Deployments Deployments
	// PublicURL is the server's URL as people reach it, for the links in
	// commit statuses to the web UI's run pages (default: the URL of
	// Listen).
	PublicURL string
	// Reporter sets the commit statuses of runs (default: the forge
	// settings of conveyor.yaml's repositories).
	Reporter StatusReporter
}

// WebhookHandler serves one provider's webhook deliveries.
type WebhookHandler = http.Handler

// App is a running server: the API, the embedded services, the engine and
// the built-in agent.
type App struct {
	Store   *store.DB
	Engine  *engine.Engine
	Broker  *dispatch.Broker
	Runner  *Runner
	Server  *Server
	Metrics *Metrics
	// AdminToken is the admin token created at the first start ("" later).
	AdminToken string

	addr       net.Addr
	poller     *trigger.Poller
	dispatcher *trigger.Dispatcher
	rt         *services.Runtime
	log        *slog.Logger
	grace      time.Duration
	cancel     context.CancelFunc
	done       chan struct{}
	err        error
	closeMu    sync.Once
	obs        observers
}

// Addr is where the API listens.
func (a *App) Addr() net.Addr { return a.addr }

// URL is the API's base URL.
func (a *App) URL() string { return "http://" + a.addr.String() }

// AdminTokenFile is where the first start writes the admin token.
func AdminTokenFile(dataDir string) string { return filepath.Join(dataDir, "admin-token") }

// OpenDatabase opens the store named by dsn: "" for <data>/conveyor.db, a
// SQLite file path or sqlite://PATH, or a postgres:// (postgresql://) URL.
// Step logs go to <data>/logs either way. The caller must Close the store.
func OpenDatabase(ctx context.Context, dsn, dataDir string) (*store.DB, error) {
	switch {
	case dsn == "":
		dsn = filepath.Join(dataDir, "conveyor.db")
	case strings.HasPrefix(dsn, "sqlite://"):
		dsn = strings.TrimPrefix(dsn, "sqlite://")
	case store.IsPostgresURL(dsn):
	case strings.Contains(dsn, "://"):
		scheme, _, _ := strings.Cut(dsn, "://")
		return nil, fmt.Errorf("--database %s://…: unknown database: use a SQLite file path, sqlite://PATH or postgres://USER:PASSWORD@HOST/DB", scheme)
	}
	return store.Open(ctx, dsn, store.WithLogDir(filepath.Join(dataDir, "logs")))
}

// Start starts a server: it opens the store, creates the admin token on
// the first start, serves the embedded registries and vault, starts the
// engine with the remote executor, the built-in local agent and the API,
// and resumes what a previous process left. It serves until ctx ends or
// Close; then it stops accepting, lets running steps finish for up to
// Options.Grace and leaves the rest resumable.
func Start(ctx context.Context, o Options) (*App, error) {
	if o.DataDir == "" {
		return nil, errors.New("server: no data folder: pass --data DIR")
	}
	data, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("server: data folder %s: %w", data, err)
	}
	if o.Config == nil {
		o.Config = config.Default()
	}
	if o.PublicURL != "" {
		if u, err := url.Parse(o.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("server: public URL %q: want http(s)://host[:port][/path]", o.PublicURL)
		}
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Grace == 0 {
		o.Grace = 30 * time.Second
	}
	ttl := o.LeaseTTL
	if ttl == 0 {
		ttl = 30 * time.Second
	}
	a := &App{log: o.Logger, grace: o.Grace, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			a.cleanup()
		}
	}()
	if a.Store, err = OpenDatabase(ctx, o.Database, data); err != nil {
		return nil, err
	}
	if a.AdminToken, err = ensureAdminToken(ctx, a.Store, data); err != nil {
		return nil, err
	}
	if _, err := a.Store.AbandonLeases(ctx); err != nil {
		return nil, err
	}
	if a.rt, err = services.Start(ctx, o.Config, services.Options{DataDir: data, VaultDir: data, Logger: o.Logger, OpenVault: vault.Opener(data)}); err != nil {
		return nil, err
	}
	// KubernetesManifest@1 keeps deployment revisions in the server's store
	// (automatic rollback, prune).
	a.rt.Services.Revisions = a.Store
	bopts := []dispatch.Option{dispatch.WithLeaseTTL(ttl)}
	if o.Clock != nil {
		bopts = append(bopts, dispatch.WithClock(o.Clock))
	}
	if a.Broker, err = dispatch.New(a.Store, bopts...); err != nil {
		return nil, err
	}
	a.Metrics = observe.NewMetrics(observe.WithQueueDepth(a.Broker.QueueDepth), observe.WithBusyAgents(a.Broker.Busy))
	follow := newFollowUps(a.Store, o.Config.Repositories, o.Logger)
	observers := observe.Fanout{a.Metrics, follow}
	more, err := a.startObserve(ctx, o.Config, a.Store, o.Logger)
	if err != nil {
		return nil, err
	}
	for _, m := range more {
		observers = append(observers, m)
	}
	if o.Observer != nil {
		observers = append(observers, o.Observer)
	}
	svc, err := approval.NewService(a.Store, approval.WithUsers(approvalUsers(o.Config)))
	if err != nil {
		return nil, err
	}
	if o.Approvals == nil {
		o.Approvals = approvalAPI{svc: svc}
	}
	if a.Engine, err = engine.New(a.Store, a.Broker,
		engine.WithApprovals(svc), engine.WithEnvironments(approvalChecks(o.Config)),
		engine.WithVariableGroups(secret.NewGroups(a.rt.Services.Config, a.rt.Services.Secrets)),
		engine.WithObserver(observers),
		engine.WithCounters(engine.NewFileCounters(filepath.Join(data, "counters.json"))),
		engine.WithLogger(o.Logger)); err != nil {
		return nil, err
	}
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	_ = cancelRuns // runs outlive a stopping server: they resume at the next start
	a.Runner = NewRunner(runCtx, a.Engine, a.Store, o.Config.Repositories, data, o.Logger)
	var users []string
	for name := range o.Config.Users {
		users = append(users, name)
	}
	sort.Strings(users)
	a.Runner.SetUsers(users)

	sopts := []Option{WithMetrics(a.Metrics), WithLogger(o.Logger), WithEnvironments(environments(o.Config))}
	if o.Approvals != nil {
		sopts = append(sopts, WithApprovals(o.Approvals))
	}
	if o.Deployments == nil {
		o.Deployments = storeDeployments{a.Store}
	}
	sopts = append(sopts, WithDeployments(o.Deployments))
	hooks := o.Webhooks
	if hooks == nil {
		hooks = a.triggers(data)
	}
	hs, err := hooks(a.Runner, o.Config)
	if err != nil {
		return nil, err
	}
	for p, h := range hs {
		sopts = append(sopts, WithWebhook(p, h))
	}
	if a.Server, err = New(a.Store, a.Runner, a.Broker, sopts...); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: listen on %s: %w", o.Listen, err)
	}
	a.addr = l.Addr()
	// What a run's change causes outside the engine: commit statuses,
	// completion triggers.
	if follow.reporter = o.Reporter; follow.reporter == nil {
		public := strings.TrimSuffix(o.PublicURL, "/")
		if public == "" {
			public = a.URL()
		}
		follow.reporter = forge.NewReporter(o.Config, func(id string) string { return public + RunPagePath(id) }, nil)
	}
	if a.dispatcher != nil {
		follow.completions = a.dispatcher
		if err := follow.recoverMissed(ctx); err != nil {
			o.Logger.Error("follow up runs completed before the server stopped", slog.Any("err", err))
		}
	}

	sctx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	var wg sync.WaitGroup
	agentCtx, stopAgents := context.WithCancel(context.WithoutCancel(ctx))
	if o.LocalAgents >= 0 {
		n := o.LocalAgents
		if n == 0 {
			n = max(2, runtime.NumCPU())
		}
		ex, err := local.New(data, local.WithServices(a.rt.Services))
		if err != nil {
			l.Close()
			stopAgents()
			return nil, err
		}
		var caps []map[string]string
		for i := range n {
			ag, err := agent.New(a.Broker, ex, fmt.Sprintf("builtin-%d", i+1), agent.WithLogger(o.Logger),
				agent.WithCapabilities(map[string]string{ServicesCapability: "yes"}))
			if err != nil {
				l.Close()
				stopAgents()
				return nil, err
			}
			caps = append(caps, ag.Capabilities())
			wg.Add(1)
			go func() { defer wg.Done(); ag.Run(agentCtx) }()
		}
		a.Runner.SetBuiltinAgents(caps)
	}
	wg.Add(1)
	go func() { defer wg.Done(); a.Broker.RunExpiry(sctx, max(ttl/4, 10*time.Millisecond)) }()

	// What a previous process left running continues here.
	if o.Resume != nil {
		started, err := o.Resume(ctx, a.Engine)
		if err != nil {
			o.Logger.Error("resume runs", slog.Any("err", err))
		}
		for _, st := range started {
			a.Runner.track(st, nil)
		}
	} else if ids, err := a.Runner.ResumeOrphans(ctx, a.Store, store.LocalOwnerAlive); err != nil {
		o.Logger.Error("resume runs of a stopped server", slog.Any("err", err))
	} else if len(ids) > 0 {
		o.Logger.Info("resumed runs of a stopped server", slog.Any("runs", ids))
	}
	if o.Webhooks == nil && a.poller != nil {
		wg.Add(1)
		go func() { defer wg.Done(); a.poller.Run(sctx) }()
	}

	followCtx, stopFollow := context.WithCancel(context.WithoutCancel(ctx))
	followDrain, stopDrain := context.WithCancel(context.WithoutCancel(ctx))
	followDone := make(chan struct{})
	go func() { defer close(followDone); follow.run(followCtx, followDrain) }()
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- a.Server.Serve(httpCtx, l, min(a.grace, 5*time.Second)) }()
	go func() {
		defer close(a.done)
		select {
		case <-sctx.Done():
		case err := <-served: // the listener failed
			served <- err
		}
		// Take no new work; let running steps finish (remote agents still
		// report them over the API); leave the rest to resume.
		a.Server.StopAccepting()
		a.Broker.Drain()
		gctx, cancel := context.WithTimeout(context.Background(), a.grace)
		if err := a.Broker.WaitIdle(gctx); err != nil {
			o.Logger.Warn("steps still running at the end of the grace period: they run again at the next start", slog.Int("steps", a.Broker.Busy()))
			a.Broker.Abandon()
		}
		cancel()
		stopAgents()
		wg.Wait()
		stopHTTP()
		a.err = <-served
		// Statuses and triggers of runs that ended meanwhile still go out,
		// for a little while.
		stopFollow()
		t := time.AfterFunc(5*time.Second, stopDrain)
		<-followDone
		t.Stop()
		stopDrain()
		a.cleanup()
	}()
	ok = true
	return a, nil
}

// Done is closed when the server has stopped.
func (a *App) Done() <-chan struct{} { return a.done }

// Wait waits until the server has stopped and returns why.
func (a *App) Wait() error { <-a.done; return a.err }

// Close stops the server as SIGTERM does and waits for it.
func (a *App) Close() error {
	a.cancel()
	return a.Wait()
}

func (a *App) cleanup() {
	a.closeMu.Do(func() {
		a.stopObserve()
		if a.rt != nil {
			a.rt.Close()
		}
		if a.Store != nil {
			a.Store.Close()
		}
	})
}

// ensureAdminToken creates an admin token and writes it to
// <data>/admin-token (0600) when the store has no token yet.
func ensureAdminToken(ctx context.Context, st TokenStore, data string) (string, error) {
	ts, err := st.ListTokens(ctx)
	if err != nil {
		return "", err
	}
	if len(ts) > 0 {
		return "", nil
	}
	secret, err := CreateToken(ctx, st, "admin", RoleAdmin)
	if err != nil {
		return "", err
	}
	path := AdminTokenFile(data)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the admin token to %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return "", err
	}
	return secret, nil
}

// environments lists conveyor.yaml's environments for the API.
func environments(c *config.Config) []Environment {
	var out []Environment
	for name, e := range c.Environments {
		env := Environment{Name: name, Cluster: e.Cluster, Namespace: e.Namespace}
		if ap := e.Checks.Approvals; ap != nil {
			env.Checks = append(env.Checks, fmt.Sprintf("approvals: %d of %s", max(1, ap.MinApprovers), strings.Join(ap.Approvers, ", ")))
		}
		if bc := e.Checks.BranchControl; bc != nil {
			env.Checks = append(env.Checks, "branch control: "+strings.Join(bc.AllowedBranches, ", "))
		}
		if el := e.Checks.ExclusiveLock; el != nil {
			env.Checks = append(env.Checks, "exclusive lock: "+orDefault(el.LockBehavior, "sequential"))
		}
		out = append(out, env)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// triggers builds the webhook receivers and the poller of conveyor.yaml's
// repositories on the trigger package, starting runs with the runner.
func (a *App) triggers(data string) func(*Runner, *config.Config) (map[string]WebhookHandler, error) {
	return func(r *Runner, cfg *config.Config) (map[string]WebhookHandler, error) {
		d, err := trigger.NewDispatcher(cfg, trigger.NewGit(filepath.Join(data, "trigger-repos")), r,
			trigger.WithCanceler(r), trigger.WithActiveRuns(r, a.Store))
		if err != nil {
			return nil, err
		}
		a.dispatcher = d
		w := trigger.NewWebhooks(d, a.Store)
		a.poller = trigger.NewPoller(d, a.Store, trigger.RealTicker)
		return map[string]WebhookHandler{
			"github": w.Handler("github"), "gitea": w.Handler("gitea"), "azure-repos": w.Handler("azure-repos"),
		}, nil
	}
}

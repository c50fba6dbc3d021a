package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/observe"
	"conveyor.dev/conveyor/internal/store"
)

// observers is what the server runs of internal/observe: the metrics with
// the DORA collector, the deployment outcome recorder and, when an OTLP
// endpoint is set, the tracer.
type observers struct {
	recorder *observe.Recorder
	watcher  *observe.Watcher
	tp       *sdktrace.TracerProvider
}

// startObserve registers the DORA collector in a.Metrics and returns the
// engine observers of internal/observe.
func (a *App) startObserve(ctx context.Context, cfg *config.Config, st *store.DB, log *slog.Logger) ([]engine.Observer, error) {
	dopts := []observe.DORAOption{observe.WithDORALogger(log)}
	if cfg.Observe.DORAWindow > 0 {
		dopts = append(dopts, observe.WithDORAWindow(cfg.Observe.DORAWindow))
	}
	if err := a.Metrics.Register(observe.NewDORACollector(st, dopts...)); err != nil {
		return nil, err
	}
	ropts := []observe.RecorderOption{observe.WithRecorderMetrics(a.Metrics), observe.WithRecorderLogger(log),
		observe.WithCommitTime(a.commitTime(cfg))}
	// The post-deploy watch, when an environment asks for one (watch: 5m).
	for _, env := range cfg.Environments {
		if env.Watch > 0 {
			a.obs.watcher = observe.NewWatcher(st, observe.ClustersOf(a.rt.Services.Config),
				observe.WithWatcherMetrics(a.Metrics), observe.WithWatcherLogger(log))
			ropts = append(ropts, observe.WithPostDeployWatch(a.obs.watcher, func(environment string) time.Duration {
				return cfg.Environments[environment].Watch
			}))
			if err := a.obs.watcher.Resume(ctx, st); err != nil {
				log.Error("resume the post-deploy watches", slog.Any("err", err))
			}
			break
		}
	}
	a.obs.recorder = observe.NewRecorder(st, ropts...)
	out := []engine.Observer{a.obs.recorder}
	endpoint, fromEnv := observe.TraceEndpoint(cfg.Observe.OTLP, os.Getenv)
	if endpoint != "" || fromEnv {
		tp, err := observe.NewOTLPTracerProvider(ctx, endpoint)
		if err != nil {
			return nil, err
		}
		a.obs.tp = tp
		out = append(out, observe.NewTracer(tp))
	}
	return out, nil
}

// stopObserve waits for the outcomes being written, stops the watches
// (they resume at the next start) and flushes the traces.
func (a *App) stopObserve() {
	if a.obs.recorder != nil {
		a.obs.recorder.Close()
	}
	if a.obs.watcher != nil {
		a.obs.watcher.Close()
	}
	if a.obs.tp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.obs.tp.Shutdown(ctx); err != nil {
			a.log.Warn("flush traces", slog.Any("err", err))
		}
	}
}

// commitTime reads a commit's date in the runner's mirror of the
// repository (a path of the local disk is read where it is), for the lead
// time of changes.
func (a *App) commitTime(cfg *config.Config) observe.CommitTimeFunc {
	return func(ctx context.Context, repository, commit string) (time.Time, error) {
		for _, repo := range cfg.Repositories {
			if repo.URL == repository && a.Runner != nil {
				mirror := filepath.Join(a.Runner.git.repos, url.PathEscape(repo.Name)+".git")
				if t, err := observe.GitCommitTime(ctx, mirror, commit); err == nil {
					return t, nil
				}
			}
		}
		if fi, err := os.Stat(repository); err == nil && fi.IsDir() {
			return observe.GitCommitTime(ctx, repository, commit)
		}
		return time.Time{}, fmt.Errorf("commit time of %s: no clone of %s", commit, repository)
	}
}

package server

import (
	"context"
	"log/slog"
	"os"
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
	tp       *sdktrace.TracerProvider
}

// startObserve registers the DORA collector in a.Metrics and returns the
// engine observers of internal/observe.
func (a *App) startObserve(ctx context.Context, cfg *config.Config, st *store.SQLite, log *slog.Logger) ([]engine.Observer, error) {
	dopts := []observe.DORAOption{observe.WithDORALogger(log)}
	if cfg.Observe.DORAWindow > 0 {
		dopts = append(dopts, observe.WithDORAWindow(cfg.Observe.DORAWindow))
	}
	if err := a.Metrics.Register(observe.NewDORACollector(st, dopts...)); err != nil {
		return nil, err
	}
	a.obs.recorder = observe.NewRecorder(st, observe.WithRecorderMetrics(a.Metrics), observe.WithRecorderLogger(log))
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

// stopObserve flushes the traces and waits for the outcomes being
// written.
func (a *App) stopObserve() {
	if a.obs.recorder != nil {
		a.obs.recorder.Close()
	}
	if a.obs.tp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.obs.tp.Shutdown(ctx); err != nil {
			a.log.Warn("flush traces", slog.Any("err", err))
		}
	}
}

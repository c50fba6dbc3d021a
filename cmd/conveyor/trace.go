package main

import (
	"context"
	"os"
	"time"

	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/observe"
	"conveyor.dev/conveyor/internal/task"
)

// withTracer adds the OpenTelemetry tracer of runs to view when an OTLP
// endpoint is set (conveyor.yaml observe.otlp, CONVEYOR_OTEL_ENDPOINT or
// the OTEL_EXPORTER_OTLP_* variables); stop flushes the spans.
func withTracer(ctx context.Context, svc *task.Services, view engine.Observer) (obs engine.Observer, stop func(), err error) {
	configured := ""
	if svc != nil && svc.Config != nil {
		configured = svc.Config.Observe.OTLP
	}
	endpoint, fromEnv := observe.TraceEndpoint(configured, os.Getenv)
	if endpoint == "" && !fromEnv {
		return view, func() {}, nil
	}
	tp, err := observe.NewOTLPTracerProvider(ctx, endpoint)
	if err != nil {
		return nil, nil, err
	}
	return observe.Fanout{view, observe.NewTracer(tp)}, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tp.Shutdown(sctx) // a collector that is down loses the spans, not the run
	}, nil
}

package observe

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"conveyor.dev/conveyor/internal/store"
)

// TraceEndpoint decides where runs are traced: configured (conveyor.yaml
// observe.otlp), else CONVEYOR_OTEL_ENDPOINT; both are base URLs such as
// http://collector:4318. fromEnv is true when neither is set but
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is:
// the exporter reads those itself. An empty endpoint and false mean no
// traces.
func TraceEndpoint(configured string, getenv func(string) string) (endpoint string, fromEnv bool) {
	if configured != "" {
		return configured, false
	}
	if v := getenv("CONVEYOR_OTEL_ENDPOINT"); v != "" {
		return v, false
	}
	return "", getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// NewOTLPTracerProvider returns a tracer provider that batches spans to
// the OTLP/HTTP endpoint (a base URL: /v1/traces is added), or to what
// the OTEL_EXPORTER_OTLP_* variables say when endpoint is empty. The
// caller must Shutdown it to flush the last spans.
func NewOTLPTracerProvider(ctx context.Context, endpoint string) (*sdktrace.TracerProvider, error) {
	var opts []otlptracehttp.Option
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("otlp endpoint %q: want an http(s) URL such as http://collector:4318", endpoint)
		}
		if !strings.HasSuffix(u.Path, "/v1/traces") {
			u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", "conveyor")))
	if err != nil {
		return nil, err
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// Tracer is the engine observer that traces runs: a span per run, with a
// child per stage, job (and deployment hook) and step, timed by the
// records' start and finish. Spans carry names, numbers, results and the
// commit; never variables, inputs or log lines. Safe for concurrent use.
type Tracer struct {
	tracer trace.Tracer

	mu   sync.Mutex
	runs map[string]*runTrace
}

type runTrace struct {
	root    trace.Span
	ctx     context.Context
	records map[string]*recordSpan // by record ID: the latest attempt
}

type recordSpan struct {
	span    trace.Span
	ctx     context.Context
	attempt int
	ended   bool
}

// NewTracer traces runs with tp's tracer "conveyor.dev/conveyor".
func NewTracer(tp trace.TracerProvider) *Tracer {
	return &Tracer{tracer: tp.Tracer("conveyor.dev/conveyor"), runs: map[string]*runTrace{}}
}

// RunChanged starts a run's span when it runs and ends it when it
// completes.
func (t *Tracer) RunChanged(r store.Run) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rt := t.runs[r.ID]
	switch r.State {
	case store.StateRunning, store.StateWaiting:
		if rt != nil {
			return
		}
		start := r.StartedAt
		if start.IsZero() {
			start = r.CreatedAt
		}
		ctx, span := t.tracer.Start(context.Background(), fmt.Sprintf("run %s #%d", r.Pipeline, r.Number),
			trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("cicd.pipeline.name", r.Pipeline),
				attribute.String("cicd.pipeline.run.id", r.ID),
				attribute.Int64("conveyor.run.number", r.Number),
				attribute.String("conveyor.run.event", string(r.Event)),
				attribute.String("vcs.ref.head.revision", r.Commit),
				attribute.String("vcs.ref.head.name", r.Branch),
			))
		t.runs[r.ID] = &runTrace{root: span, ctx: ctx, records: map[string]*recordSpan{}}
	case store.StateCompleted:
		if rt == nil {
			return
		}
		delete(t.runs, r.ID)
		end := r.FinishedAt
		if end.IsZero() {
			end = time.Now()
		}
		for _, rs := range rt.records {
			if !rs.ended {
				rs.span.End(trace.WithTimestamp(end))
			}
		}
		rt.root.SetAttributes(attribute.String("cicd.pipeline.result", string(r.Result)))
		setStatus(rt.root, r.Result)
		rt.root.End(trace.WithTimestamp(end))
	}
}

// RecordChanged starts a record's span when it starts and ends it when it
// completes; a record completed without starting (skipped) gets a span of
// no length.
func (t *Tracer) RecordChanged(rec store.Record) {
	if rec.State == store.StateQueued {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rt := t.runs[rec.RunID]
	if rt == nil {
		return
	}
	rs := rt.records[rec.ID]
	if rs == nil || rs.attempt != rec.Attempt {
		if rs != nil && !rs.ended {
			rs.span.End()
		}
		parent := rt.ctx
		if p := rt.records[rec.ParentID]; rec.ParentID != "" && p != nil {
			parent = p.ctx
		}
		start := rec.StartedAt
		if start.IsZero() {
			start = rec.FinishedAt
		}
		if start.IsZero() {
			start = time.Now()
		}
		ctx, span := t.tracer.Start(parent, string(rec.Type)+" "+rec.Name, trace.WithTimestamp(start),
			trace.WithAttributes(
				attribute.String("cicd.pipeline.task.name", rec.DisplayName),
				attribute.String("conveyor.record.id", rec.ID),
				attribute.String("conveyor.record.type", string(rec.Type)),
				attribute.Int("conveyor.record.attempt", rec.Attempt),
			))
		rs = &recordSpan{span: span, ctx: ctx, attempt: rec.Attempt}
		rt.records[rec.ID] = rs
	}
	if rec.State != store.StateCompleted || rs.ended {
		return
	}
	rs.ended = true
	rs.span.SetAttributes(attribute.String("cicd.pipeline.task.run.result", string(rec.Result)))
	setStatus(rs.span, rec.Result)
	end := rec.FinishedAt
	if end.IsZero() {
		end = time.Now()
	}
	rs.span.End(trace.WithTimestamp(end))
}

// Line does nothing: log lines stay out of traces.
func (t *Tracer) Line(store.Record, time.Time, string) {}

func setStatus(s trace.Span, r store.Result) {
	switch r {
	case store.ResultFailed, store.ResultInterrupted:
		s.SetStatus(codes.Error, string(r))
	case store.ResultSucceeded, store.ResultSucceededWithIssues:
		s.SetStatus(codes.Ok, "")
	}
}

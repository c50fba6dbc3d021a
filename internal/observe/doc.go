// Package observe watches pipelines and what they deploy: Prometheus
// metrics of runs, stages, jobs, steps, the queue and approvals; the DORA
// metrics (deployment frequency, lead time for changes, change failure
// rate, time to restore) computed from the store's deployment outcomes;
// OpenTelemetry traces of runs (run → stage → job → step) exported over
// OTLP/HTTP; and the post-deploy watch that marks a deployment degraded
// when its workload crash-loops or becomes unavailable.
//
// Metrics, the outcome Recorder and the Tracer are engine observers (they
// have the engine.Observer methods); the server fans engine events out to
// them. Metric labels are bounded (pipeline, environment, result): never
// run IDs or commits. Traces carry no secret: only names, numbers,
// results and the commit.
//
// observe must not import the engine, executors, tasks, the server, the
// agent or triggers: it reads the store and the Kubernetes API only.
package observe

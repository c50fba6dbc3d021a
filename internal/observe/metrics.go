package observe

import (
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"conveyor.dev/conveyor/internal/store"
)

// durationBuckets suit stages, jobs and steps: a tenth of a second to an
// hour.
var durationBuckets = []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600}

// waitBuckets suit approvals and checks: seconds to days.
var waitBuckets = []float64{1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600}

// Metrics are Conveyor's Prometheus metrics of pipelines. It is an engine
// observer: give it to the engine (engine.WithObserver) to count runs and
// time stages, jobs and steps. Safe for concurrent use.
type Metrics struct {
	reg        *prometheus.Registry
	clock      func() time.Time
	collectors []prometheus.Collector // Conveyor's own, for Names

	runsStarted   *prometheus.CounterVec
	runsFinished  *prometheus.CounterVec
	runDuration   *prometheus.HistogramVec
	stageDuration *prometheus.HistogramVec
	jobDuration   *prometheus.HistogramVec
	stepDuration  *prometheus.HistogramVec
	firstStep     prometheus.Histogram
	approvalWait  *prometheus.HistogramVec
	deployments   *prometheus.CounterVec

	mu      sync.Mutex
	runs    map[string]*runInfo  // by run ID, while the run is running
	waiting map[string]time.Time // record key → when it started waiting
}

type runInfo struct {
	pipeline  string
	created   time.Time
	firstSeen bool
}

// MetricsOption configures NewMetrics.
type MetricsOption func(*metricsOptions)

type metricsOptions struct {
	queueDepth func() int
	busy       func() int
	clock      func() time.Time
	process    bool
}

// WithQueueDepth reports the jobs waiting for an agent when scraped.
func WithQueueDepth(f func() int) MetricsOption {
	return func(o *metricsOptions) { o.queueDepth = f }
}

// WithBusyAgents reports the jobs agents are running when scraped.
func WithBusyAgents(f func() int) MetricsOption { return func(o *metricsOptions) { o.busy = f } }

// WithMetricsClock sets the clock that times approval waits (default:
// the system clock).
func WithMetricsClock(now func() time.Time) MetricsOption {
	return func(o *metricsOptions) { o.clock = now }
}

// WithoutProcessMetrics leaves out the Go runtime and process collectors
// (tests that compare whole expositions).
func WithoutProcessMetrics() MetricsOption { return func(o *metricsOptions) { o.process = false } }

// NewMetrics registers the pipeline metrics in a registry of their own.
func NewMetrics(opts ...MetricsOption) *Metrics {
	o := metricsOptions{clock: time.Now, process: true}
	for _, f := range opts {
		f(&o)
	}
	m := &Metrics{reg: prometheus.NewRegistry(), clock: o.clock,
		runs: map[string]*runInfo{}, waiting: map[string]time.Time{}}
	m.runsStarted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "conveyor_runs_started_total", Help: "Runs started, by pipeline.",
	}, []string{"pipeline"})
	m.runsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "conveyor_runs_finished_total", Help: "Runs finished, by pipeline and result.",
	}, []string{"pipeline", "result"})
	hist := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	}
	m.runDuration = hist("conveyor_run_duration_seconds", "Duration of runs, from creation to end, by pipeline and result.", durationBuckets, "pipeline", "result")
	m.stageDuration = hist("conveyor_stage_duration_seconds", "Duration of stages, from start to end, by pipeline and result.", durationBuckets, "pipeline", "result")
	m.jobDuration = hist("conveyor_job_duration_seconds", "Duration of jobs, from start to end, by pipeline and result.", durationBuckets, "pipeline", "result")
	m.stepDuration = hist("conveyor_step_duration_seconds", "Duration of steps, from start to end, by pipeline and result.", durationBuckets, "pipeline", "result")
	m.approvalWait = hist("conveyor_approval_wait_seconds", "Time stages and jobs waited on checks and approvals (environment approvals, ManualValidation, locks), by pipeline.", waitBuckets, "pipeline")
	m.firstStep = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "conveyor_run_first_step_latency_seconds", Help: "Time from a run's creation to the start of its first step.",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	})
	m.deployments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "conveyor_deployments_total", Help: "Deployment jobs finished, by environment, pipeline and status: succeeded or failed when the job ends; degraded, later, when the post-deploy watch finds a succeeded deploy's workload unhealthy.",
	}, []string{"environment", "pipeline", "status"})
	gauge := func(name, help string, f func() int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			if f == nil {
				return 0
			}
			return float64(f())
		})
	}
	m.collectors = []prometheus.Collector{m.runsStarted, m.runsFinished, m.runDuration, m.stageDuration, m.jobDuration, m.stepDuration,
		m.firstStep, m.approvalWait, m.deployments,
		gauge("conveyor_queue_depth", "Jobs waiting for an agent.", o.queueDepth),
		gauge("conveyor_agent_jobs_running", "Jobs agents are running.", o.busy)}
	m.reg.MustRegister(m.collectors...)
	if o.process {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Register adds a collector (the DORA collector) to the registry served
// by Handler.
func (m *Metrics) Register(c prometheus.Collector) error {
	if err := m.reg.Register(c); err != nil {
		return err
	}
	m.collectors = append(m.collectors, c)
	return nil
}

// fqName reads a descriptor's name: client_golang keeps it unexported and
// prints it as fqName: "...".
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Names lists the names of Conveyor's metrics (not the Go runtime's),
// sorted; a histogram's series add _bucket, _sum and _count to its name.
// Dashboards and rules are checked against it.
func (m *Metrics) Names() []string {
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range m.collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		if sm := fqName.FindStringSubmatch(d.String()); sm != nil {
			out = append(out, sm[1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Gatherer is the registry, for tests and embedding.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// RunChanged counts started and finished runs.
func (m *Metrics) RunChanged(r store.Run) {
	switch r.State {
	case store.StateRunning, store.StateWaiting:
		m.mu.Lock()
		_, known := m.runs[r.ID]
		if !known {
			m.runs[r.ID] = &runInfo{pipeline: r.Pipeline, created: r.CreatedAt}
		}
		m.mu.Unlock()
		if !known && r.State == store.StateRunning {
			m.runsStarted.WithLabelValues(r.Pipeline).Inc()
		}
	case store.StateCompleted:
		m.mu.Lock()
		delete(m.runs, r.ID)
		m.mu.Unlock()
		m.runsFinished.WithLabelValues(r.Pipeline, string(r.Result)).Inc()
		if !r.FinishedAt.IsZero() && !r.CreatedAt.IsZero() {
			m.runDuration.WithLabelValues(r.Pipeline, string(r.Result)).Observe(r.FinishedAt.Sub(r.CreatedAt).Seconds())
		}
	}
}

// RecordChanged times finished stages, jobs and steps, the wait of
// records held by checks, and a run's first step.
func (m *Metrics) RecordChanged(rec store.Record) {
	key := rec.RunID + "\x00" + rec.ID
	m.mu.Lock()
	info := m.runs[rec.RunID]
	pipeline := ""
	if info != nil {
		pipeline = info.pipeline
	}
	var waited time.Duration
	waitedOK := false
	if rec.State == store.StateWaiting {
		if _, ok := m.waiting[key]; !ok {
			m.waiting[key] = m.clock()
		}
	} else if since, ok := m.waiting[key]; ok {
		delete(m.waiting, key)
		waited, waitedOK = m.clock().Sub(since), true
	}
	var firstStep time.Duration
	firstOK := false
	if rec.Type == store.RecordStep && rec.State == store.StateRunning && info != nil && !info.firstSeen {
		info.firstSeen = true
		firstStep, firstOK = rec.StartedAt.Sub(info.created), !rec.StartedAt.IsZero()
	}
	m.mu.Unlock()

	if waitedOK {
		m.approvalWait.WithLabelValues(pipeline).Observe(waited.Seconds())
	}
	if firstOK {
		m.firstStep.Observe(firstStep.Seconds())
	}
	if rec.State != store.StateCompleted || rec.StartedAt.IsZero() || rec.FinishedAt.IsZero() {
		return
	}
	var h *prometheus.HistogramVec
	switch rec.Type {
	case store.RecordStage:
		h = m.stageDuration
	case store.RecordJob:
		h = m.jobDuration
	case store.RecordStep:
		h = m.stepDuration
	default:
		return
	}
	h.WithLabelValues(pipeline, string(rec.Result)).Observe(rec.FinishedAt.Sub(rec.StartedAt).Seconds())
}

// Line does nothing: metrics do not count lines.
func (m *Metrics) Line(store.Record, time.Time, string) {}

// DeploymentFinished counts one deployment outcome (the Recorder and the
// Watcher call it).
func (m *Metrics) DeploymentFinished(environment, pipeline string, status store.DeployStatus) {
	m.deployments.WithLabelValues(environment, pipeline, string(status)).Inc()
}

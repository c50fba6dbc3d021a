package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"conveyor.dev/conveyor/internal/store"
)

// Metrics are the server's Prometheus metrics. It is an engine observer:
// give it to the engine (engine.WithObserver) to count runs and time jobs.
type Metrics struct {
	reg         *prometheus.Registry
	runsStarted prometheus.Counter
	runsEnded   *prometheus.CounterVec
	jobDuration *prometheus.HistogramVec
	firstStep   prometheus.Histogram
}

// NewMetrics registers the metrics; queueDepth reports the jobs waiting for
// an agent when scraped.
func NewMetrics(queueDepth func() int) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.runsStarted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "conveyor_runs_started_total", Help: "Runs started.",
	})
	m.runsEnded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "conveyor_runs_finished_total", Help: "Runs finished, by result.",
	}, []string{"result"})
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "conveyor_job_duration_seconds", Help: "Duration of jobs, from start to end, by result.",
		Buckets: []float64{0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600},
	}, []string{"result"})
	m.firstStep = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "conveyor_run_first_step_latency_seconds", Help: "Time from a run's creation to the start of its first step.",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	})
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "conveyor_queue_depth", Help: "Jobs waiting for an agent.",
	}, func() float64 {
		if queueDepth == nil {
			return 0
		}
		return float64(queueDepth())
	})
	m.reg.MustRegister(m.runsStarted, m.runsEnded, m.jobDuration, m.firstStep, queue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// RunChanged counts started and finished runs.
func (m *Metrics) RunChanged(r store.Run) {
	switch r.State {
	case store.StateRunning:
		m.runsStarted.Inc()
	case store.StateCompleted:
		m.runsEnded.WithLabelValues(string(r.Result)).Inc()
	}
}

// RecordChanged times finished jobs.
func (m *Metrics) RecordChanged(rec store.Record) {
	if rec.Type == store.RecordJob && rec.State == store.StateCompleted && !rec.StartedAt.IsZero() {
		m.jobDuration.WithLabelValues(string(rec.Result)).Observe(rec.FinishedAt.Sub(rec.StartedAt).Seconds())
	}
}

// Line does nothing: metrics do not count lines.
func (m *Metrics) Line(store.Record, time.Time, string) {}

// ObserveFirstStep records the latency from a run's creation to its first
// step.
func (m *Metrics) ObserveFirstStep(d time.Duration) { m.firstStep.Observe(d.Seconds()) }

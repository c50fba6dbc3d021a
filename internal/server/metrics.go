package server

import "conveyor.dev/conveyor/internal/observe"

// Metrics are the server's Prometheus metrics (internal/observe): an
// engine observer counting runs and timing stages, jobs and steps, with
// the DORA collector registered by Start.
type Metrics = observe.Metrics

// NewMetrics registers the pipeline metrics; queueDepth reports the jobs
// waiting for an agent when scraped.
func NewMetrics(queueDepth func() int) *Metrics {
	return observe.NewMetrics(observe.WithQueueDepth(queueDepth))
}

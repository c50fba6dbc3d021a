package observe

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"conveyor.dev/conveyor/internal/store"
)

// doraBuckets suit lead times and restore times: a minute to a month.
var doraBuckets = []float64{60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 2 * 24 * 3600, 7 * 24 * 3600, 30 * 24 * 3600}

// DORACollector exposes the DORA metrics of a sliding window as
// Prometheus gauges and histograms by environment and pipeline, computed
// from the store when scraped (at most once per refresh interval).
type DORACollector struct {
	st      OutcomeLister
	window  time.Duration
	refresh time.Duration
	now     func() time.Time
	log     *slog.Logger

	mu       sync.Mutex
	computed time.Time
	last     []DORA
	up       bool

	deployments, failures, total, perDay, cfr, unrestored, windowSec, upDesc *prometheus.Desc
	leadTime, restore                                                        *prometheus.Desc
}

// DORAOption configures NewDORACollector.
type DORAOption func(*DORACollector)

// WithDORAWindow sets the window the metrics cover (default 30 days).
func WithDORAWindow(d time.Duration) DORAOption { return func(c *DORACollector) { c.window = d } }

// WithDORARefresh sets how long a computation is reused across scrapes
// (default 30s; 0 computes at every scrape).
func WithDORARefresh(d time.Duration) DORAOption { return func(c *DORACollector) { c.refresh = d } }

// WithDORAClock sets the clock that ends the window.
func WithDORAClock(now func() time.Time) DORAOption { return func(c *DORACollector) { c.now = now } }

// WithDORALogger sets where a failed computation is logged.
func WithDORALogger(l *slog.Logger) DORAOption { return func(c *DORACollector) { c.log = l } }

// NewDORACollector returns the collector of st's DORA metrics.
func NewDORACollector(st OutcomeLister, opts ...DORAOption) *DORACollector {
	c := &DORACollector{st: st, window: 30 * 24 * time.Hour, refresh: 30 * time.Second, now: time.Now,
		log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(c)
	}
	labels := []string{"environment", "pipeline"}
	desc := func(name, help string, l []string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, l, nil)
	}
	w := " over the DORA window (conveyor_dora_window_seconds)"
	c.deployments = desc("conveyor_dora_deployments", "Deployments that reached the environment (succeeded or degraded)"+w+".", labels)
	c.failures = desc("conveyor_dora_failed_deployments", "Deployments that failed or were degraded"+w+".", labels)
	c.total = desc("conveyor_dora_deployment_attempts", "Deployment attempts (succeeded, degraded and failed)"+w+".", labels)
	c.perDay = desc("conveyor_dora_deployment_frequency_per_day", "Deployment frequency: deployments per day"+w+".", labels)
	c.cfr = desc("conveyor_dora_change_failure_rate", "Change failure rate: failed or degraded deployments over all deployment attempts"+w+".", labels)
	c.unrestored = desc("conveyor_dora_unrestored_failures", "Failed or degraded deployments not yet followed by a successful one"+w+".", labels)
	c.leadTime = desc("conveyor_dora_lead_time_seconds", "Lead time for changes: from a change's commit to its deployment"+w+".", labels)
	c.restore = desc("conveyor_dora_time_to_restore_seconds", "Time to restore: from a failed or degraded deployment to the next successful one"+w+".", labels)
	c.windowSec = desc("conveyor_dora_window_seconds", "The length of the window the DORA metrics cover.", nil)
	c.upDesc = desc("conveyor_dora_up", "1 when the last computation of the DORA metrics read the store, 0 when it failed.", nil)
	return c
}

// Describe sends the descriptors of the DORA metrics.
func (c *DORACollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.deployments, c.failures, c.total, c.perDay, c.cfr, c.unrestored, c.leadTime, c.restore, c.windowSec, c.upDesc} {
		ch <- d
	}
}

// Collect computes the metrics (or reuses a recent computation) and sends
// them. A failed computation keeps the previous values and sets
// conveyor_dora_up to 0.
func (c *DORACollector) Collect(ch chan<- prometheus.Metric) {
	ds, up := c.current()
	for _, d := range ds {
		l := []string{d.Environment, d.Pipeline}
		ch <- prometheus.MustNewConstMetric(c.deployments, prometheus.GaugeValue, float64(d.Deployments), l...)
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.GaugeValue, float64(d.Failures), l...)
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(d.Total), l...)
		ch <- prometheus.MustNewConstMetric(c.perDay, prometheus.GaugeValue, d.DeploymentsPerDay, l...)
		ch <- prometheus.MustNewConstMetric(c.cfr, prometheus.GaugeValue, d.ChangeFailureRate, l...)
		ch <- prometheus.MustNewConstMetric(c.unrestored, prometheus.GaugeValue, float64(d.Unrestored), l...)
		ch <- constHistogram(c.leadTime, d.leadSamples, l)
		ch <- constHistogram(c.restore, d.restoreSamples, l)
	}
	ch <- prometheus.MustNewConstMetric(c.windowSec, prometheus.GaugeValue, c.window.Seconds())
	v := 0.0
	if up {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(c.upDesc, prometheus.GaugeValue, v)
}

func (c *DORACollector) current() ([]DORA, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.computed.IsZero() && c.refresh > 0 && now.Sub(c.computed) < c.refresh {
		return c.last, c.up
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	outs, err := c.st.ListDeployOutcomes(ctx, store.DeployOutcomeFilter{Since: now.Add(-c.window), Until: now})
	c.computed = now
	if err != nil {
		c.log.Error("compute the DORA metrics", slog.Any("err", err))
		c.up = false
		return c.last, false
	}
	c.last, c.up = Compute(outs, c.window, true), true
	return c.last, true
}

// constHistogram is a histogram of samples (seconds) over doraBuckets.
func constHistogram(d *prometheus.Desc, samples []float64, labels []string) prometheus.Metric {
	counts := make(map[float64]uint64, len(doraBuckets))
	sum := 0.0
	for _, s := range samples {
		sum += s
		for _, b := range doraBuckets {
			if s <= b {
				counts[b]++
			}
		}
	}
	return prometheus.MustNewConstHistogram(d, uint64(len(samples)), sum, counts, labels...)
}

package trigger

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkWebhookLoad measures the webhook receiver under the load of
// TestWebhookLoad (500 signed pushes, 100 replays, 50 bad signatures; 8
// senders over loopback HTTP; SQLite delivery ids): one op is one such
// round. It reports deliveries/s and the p50/p99 handler round trip.
func BenchmarkWebhookLoad(b *testing.B) {
	lf := newLoadFixture(b)
	var lat []time.Duration
	var n int
	var busy time.Duration
	for i := 0; b.Loop(); i++ {
		res := lf.round(b, fmt.Sprintf("r%d-", i), 500, 50)
		lat = append(lat, res.latencies...)
		n += res.deliveries
		busy += res.elapsed
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(float64(n)/busy.Seconds(), "deliveries/s")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

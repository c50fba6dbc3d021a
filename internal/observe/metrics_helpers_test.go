package observe_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"conveyor.dev/conveyor/internal/observe"
)

// gatherText is the exposition of m's registry in the text format.
func gatherText(t testing.TB, m *observe.Metrics) string {
	t.Helper()
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// counterOf finds one series of a counter by its label values, in the
// order the metric declares them.
func counterOf(t testing.TB, m *observe.Metrics, name string, values []string) prometheus.Collector {
	t.Helper()
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, metric := range mf.GetMetric() {
			match := len(metric.GetLabel()) == len(values)
			for i, l := range metric.GetLabel() {
				match = match && i < len(values) && l.GetValue() == values[i]
			}
			if match {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name}, func() float64 { return metric.GetCounter().GetValue() })
			}
		}
	}
	t.Fatalf("no series %s%v", name, values)
	return nil
}

func TestNames(t *testing.T) {
	m := observe.NewMetrics()
	if err := m.Register(observe.NewDORACollector(nil)); err != nil {
		t.Fatal(err)
	}
	names := m.Names()
	for _, want := range []string{"conveyor_runs_finished_total", "conveyor_job_duration_seconds", "conveyor_queue_depth", "conveyor_dora_change_failure_rate", "conveyor_dora_lead_time_seconds"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() lacks %s: %v", want, names)
		}
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "conveyor_") {
			t.Errorf("Names() has %s, not Conveyor's", n)
		}
	}
}

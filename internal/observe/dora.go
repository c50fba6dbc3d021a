package observe

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"conveyor.dev/conveyor/internal/store"
)

// OutcomeLister is what the DORA metrics read of the store.
type OutcomeLister interface {
	// ListDeployOutcomes returns the outcomes matching f, oldest first.
	ListDeployOutcomes(ctx context.Context, f store.DeployOutcomeFilter) ([]store.DeployOutcome, error)
}

// DORA holds the four key metrics of one environment (and, when Pipeline
// is set, one pipeline) over a window.
//
// A deployment is a deployment job's outcome. It reached the environment
// unless it failed; it counts as a change failure when it failed (the
// rollout failed, rolled back or not) or was degraded (the post-deploy
// watch saw it crash-loop or become unavailable). Time to restore runs
// from a pipeline's first failure in an environment to its next deploy
// there that succeeded.
type DORA struct {
	Environment string `json:"environment"`
	Pipeline    string `json:"pipeline,omitempty"`
	// Deployments reached the environment (succeeded or degraded).
	Deployments int `json:"deployments"`
	// Failures failed or were degraded.
	Failures int `json:"failures"`
	// Total is every deployment attempt: succeeded, degraded and failed.
	Total int `json:"total"`
	// DeploymentsPerDay is Deployments over the window's days.
	DeploymentsPerDay float64 `json:"deploymentsPerDay"`
	// LeadTime is from a change's commit (its committer date when the
	// server has the repository, else its commit's first run) to its
	// deployment, for the deployments that reached the environment.
	LeadTime Durations `json:"leadTime"`
	// ChangeFailureRate is Failures over Total; 0 without deployments.
	ChangeFailureRate float64 `json:"changeFailureRate"`
	// TimeToRestore is from a failure to the next successful deployment.
	TimeToRestore Durations `json:"timeToRestore"`
	// Unrestored counts failures not followed by a success yet.
	Unrestored int `json:"unrestored"`

	leadSamples, restoreSamples []float64
}

// Durations summarises a set of durations in seconds.
type Durations struct {
	Count         int     `json:"count"`
	MedianSeconds float64 `json:"medianSeconds"`
	P90Seconds    float64 `json:"p90Seconds"`
	MeanSeconds   float64 `json:"meanSeconds"`
}

// Report is the DORA metrics of each environment over a window.
type Report struct {
	From         time.Time `json:"from"`
	To           time.Time `json:"to"`
	Window       string    `json:"window"`
	Environments []DORA    `json:"environments"`
}

// Query selects what a Report covers.
type Query struct {
	Environment string        // "" for every environment
	Pipeline    string        // "" for every pipeline, summed per environment
	Window      time.Duration // how far back from Now; must be positive
	Now         time.Time     // the window's end (default: time.Now)
}

// ReportDORA reads the outcomes of q's window and computes the DORA
// metrics per environment.
func ReportDORA(ctx context.Context, st OutcomeLister, q Query) (Report, error) {
	if q.Window <= 0 {
		return Report{}, fmt.Errorf("dora: window %v: must be positive", q.Window)
	}
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	from := q.Now.Add(-q.Window)
	outs, err := st.ListDeployOutcomes(ctx, store.DeployOutcomeFilter{Environment: q.Environment, Pipeline: q.Pipeline, Since: from, Until: q.Now})
	if err != nil {
		return Report{}, fmt.Errorf("dora: %w", err)
	}
	r := Report{From: from.UTC(), To: q.Now.UTC(), Window: FormatWindow(q.Window),
		Environments: Compute(outs, q.Window, q.Pipeline != "")}
	if r.Environments == nil {
		r.Environments = []DORA{}
	}
	return r, nil
}

// Compute returns the DORA metrics of outcomes (oldest first, all inside
// a window of the given length) per environment, or per environment and
// pipeline when byPipeline, sorted by environment then pipeline.
func Compute(outcomes []store.DeployOutcome, window time.Duration, byPipeline bool) []DORA {
	type key struct{ env, pipeline string }
	groups := map[key]*DORA{}
	// Incidents are followed per environment and pipeline whatever the
	// grouping: one service's success does not restore another's failure.
	open := map[key]time.Time{}
	var order []key
	for _, o := range outcomes {
		k := key{o.Environment, ""}
		if byPipeline {
			k.pipeline = o.Pipeline
		}
		d := groups[k]
		if d == nil {
			d = &DORA{Environment: k.env, Pipeline: k.pipeline}
			groups[k] = d
			order = append(order, k)
		}
		d.Total++
		incident := key{o.Environment, o.Pipeline}
		switch o.Status {
		case store.DeployFailed, store.DeployDegraded:
			d.Failures++
			if o.Status == store.DeployDegraded {
				d.Deployments++
				d.addLead(o)
			}
			if _, ok := open[incident]; !ok {
				open[incident] = o.FinishedAt
			}
		default:
			d.Deployments++
			d.addLead(o)
			if since, ok := open[incident]; ok {
				d.restoreSamples = append(d.restoreSamples, o.FinishedAt.Sub(since).Seconds())
				delete(open, incident)
			}
		}
	}
	for incident := range open {
		k := key{incident.env, ""}
		if byPipeline {
			k.pipeline = incident.pipeline
		}
		groups[k].Unrestored++
	}
	days := window.Hours() / 24
	out := make([]DORA, 0, len(order))
	for _, k := range order {
		d := groups[k]
		if days > 0 {
			d.DeploymentsPerDay = float64(d.Deployments) / days
		}
		if d.Total > 0 {
			d.ChangeFailureRate = float64(d.Failures) / float64(d.Total)
		}
		d.LeadTime, d.TimeToRestore = summarise(d.leadSamples), summarise(d.restoreSamples)
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b DORA) int {
		if c := strings.Compare(a.Environment, b.Environment); c != 0 {
			return c
		}
		return strings.Compare(a.Pipeline, b.Pipeline)
	})
	return out
}

func (d *DORA) addLead(o store.DeployOutcome) {
	if !o.CommitAt.IsZero() && !o.FinishedAt.Before(o.CommitAt) {
		d.leadSamples = append(d.leadSamples, o.FinishedAt.Sub(o.CommitAt).Seconds())
	}
}

// summarise returns the count, median (nearest rank), 90th percentile and
// mean of samples.
func summarise(samples []float64) Durations {
	if len(samples) == 0 {
		return Durations{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	rank := func(p float64) float64 { return s[max(0, int(math.Ceil(p*float64(len(s))))-1)] }
	return Durations{Count: len(s), MedianSeconds: rank(0.5), P90Seconds: rank(0.9), MeanSeconds: sum / float64(len(s))}
}

// ParseWindow reads a window length: a number of days ("30d"), weeks
// ("2w") or a Go duration ("12h", "90m").
func ParseWindow(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	var err error
	switch {
	case strings.HasSuffix(s, "d") || strings.HasSuffix(s, "w"):
		unit := 24 * time.Hour
		if strings.HasSuffix(s, "w") {
			unit *= 7
		}
		var n int
		n, err = strconv.Atoi(s[:len(s)-1])
		d = time.Duration(n) * unit
		if err == nil && n > 3660 {
			err = fmt.Errorf("too long")
		}
	default:
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("window %q: want a positive length such as 30d, 2w or 12h", s)
	}
	return d, nil
}

// FormatWindow writes d as ParseWindow reads it: whole days as "30d".
func FormatWindow(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

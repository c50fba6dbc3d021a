package trigger

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// manualTicker ticks when the test says so.
type manualTicker struct{ c chan time.Time }

func (m *manualTicker) C() <-chan time.Time { return m.c }
func (m *manualTicker) Stop()               {}

func TestPollLocalRepository(t *testing.T) {
	f := newFixture(t)
	repo := f.cfg.Repositories[0]
	p := NewPoller(f.d, f.state, RealTicker)

	// The first look records the refs and starts nothing.
	if out, err := p.Poll(t.Context(), repo); err != nil || len(out.Started) != 0 {
		t.Fatalf("first poll = %+v, %v; want nothing started", out, err)
	}
	c := f.repo.commit("new", map[string]string{"src/app.go": "package app // new\n"})
	out, err := p.Poll(t.Context(), repo)
	if err != nil {
		t.Fatal(err)
	}
	got := f.rec.take()
	want := []Request{{Repository: "webapp", Pipeline: "ci", File: "ci.yml", Event: "push", Commit: c,
		Branch: "refs/heads/main", Title: "new", Requester: "Ann", Reason: "push to refs/heads/main by Ann"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests after a new commit (-want +got):\n%s\noutcome %+v", diff, out)
	}
	// Nothing new: nothing started, twice over.
	for i := range 2 {
		if _, err := p.Poll(t.Context(), repo); err != nil {
			t.Fatal(err)
		}
		if got := f.rec.take(); len(got) != 0 {
			t.Errorf("poll %d without changes started %v", i, started(got))
		}
	}
	// A docs-only commit moves the ref but the path filter holds the run.
	f.repo.commit("docs", map[string]string{"docs/readme.md": "changed\n"})
	if _, err := p.Poll(t.Context(), repo); err != nil {
		t.Fatal(err)
	}
	if got := f.rec.take(); len(got) != 0 {
		t.Errorf("docs-only commit started %v", started(got))
	}
	// A new poller on the same state (a restart) starts nothing again.
	p2 := NewPoller(f.d, f.state, RealTicker)
	if _, err := p2.Poll(t.Context(), repo); err != nil {
		t.Fatal(err)
	}
	if got := f.rec.take(); len(got) != 0 {
		t.Errorf("restarted poller started %v", started(got))
	}
}

func TestPollerRunTicks(t *testing.T) {
	f := newFixture(t)
	f.cfg.Repositories[0].Poll = time.Minute
	tick := &manualTicker{c: make(chan time.Time)}
	var intervals []time.Duration
	p := NewPoller(f.d, f.state, func(d time.Duration) Ticker { intervals = append(intervals, d); return tick })
	polls := make(chan Outcome)
	p.OnPoll = func(_ string, out Outcome, err error) {
		if err != nil {
			t.Errorf("poll: %v", err)
		}
		polls <- out
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	<-polls // the first look
	c := f.repo.commit("tick", map[string]string{"src/app.go": "package app // tick\n"})
	tick.c <- time.Now()
	if out := <-polls; len(out.Started) != 1 {
		t.Errorf("tick after a commit started %+v, want ci", out)
	}
	tick.c <- time.Now()
	if out := <-polls; len(out.Started) != 0 {
		t.Errorf("tick without change started %+v", out)
	}
	cancel()
	<-done
	if got := f.rec.take(); len(got) != 1 || got[0].Commit != c {
		t.Errorf("requests %+v, want one for %s", got, c)
	}
	if diff := cmp.Diff([]time.Duration{time.Minute}, intervals); diff != "" {
		t.Errorf("ticker intervals (-want +got):\n%s", diff)
	}
}

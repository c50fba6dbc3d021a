package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/agent"
	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/executor/local"
	"conveyor.dev/conveyor/internal/store"
)

// fakeClock is a lease clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// httpAgent runs an agent over HTTP against app until the test ends.
func httpAgent(t *testing.T, app *App, name string, wrap func(agent.Conn) agent.Conn, opts ...agent.Option) {
	t.Helper()
	token, err := CreateToken(t.Context(), app.Store, name, RoleAgent)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := agent.NewHTTPConn(app.URL(), token, nil)
	if err != nil {
		t.Fatal(err)
	}
	var conn agent.Conn = hc
	if wrap != nil {
		conn = wrap(hc)
	}
	ex, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(conn, ex, name, append([]agent.Option{agent.WithFlushInterval(5 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

const twoStepPipeline = `
pool:
  demands: [remote]
steps:
- script: echo built > artifact.txt && echo step one
  displayName: one
- script: cat artifact.txt && echo step two
  displayName: two
`

func TestRemoteAgentRunsAJobOverHTTP(t *testing.T) {
	repo := gitRepo(t, map[string]string{"ci.yml": twoStepPipeline})
	app, ends := testServer(t, []config.Repository{{Name: "webapp", URL: repo, Pipelines: map[string]string{"ci": "ci.yml"}}}, nil)
	// The built-in agents lack "remote": only this one can take the job.
	httpAgent(t, app, "remote-1", nil, agent.WithCapabilities(map[string]string{"remote": "yes"}))
	var run RunView
	if st := api(t, app, app.AdminToken, "POST", "/api/v1/runs", map[string]any{"pipeline": "ci"}, &run); st != 201 {
		t.Fatalf("POST runs: %d", st)
	}
	if r := ends.wait(t, run.ID); r.Result != store.ResultSucceeded {
		t.Fatalf("run = %s, want succeeded", r.Result)
	}
	var logs []LogView
	api(t, app, app.AdminToken, "GET", "/api/v1/runs/"+run.ID+"/logs", nil, &logs)
	text := logTexts(logs)
	for _, want := range []string{"step one", "built", "step two"} {
		if n := count(text, want); n != 1 {
			t.Errorf("line %q appears %d times, want once; logs: %q", want, n, text)
		}
	}
	var leases []LeaseView
	api(t, app, app.AdminToken, "GET", "/api/v1/leases", nil, &leases)
	if len(leases) != 1 || leases[0].Agent != "remote-1" || leases[0].State != store.LeaseDone {
		t.Errorf("leases = %+v, want one done by remote-1", leases)
	}
}

func logTexts(logs []LogView) []string {
	var out []string
	for _, l := range logs {
		for _, line := range l.Lines {
			out = append(out, line.Text)
		}
	}
	return out
}

func count(lines []string, s string) int {
	n := 0
	for _, l := range lines {
		if l == s {
			n++
		}
	}
	return n
}

// dyingConn stops answering (every call blocks until its context ends)
// once its first step has been reported done: an agent that died.
type dyingConn struct {
	agent.Conn
	dead chan struct{}
	once sync.Once
}

func (c *dyingConn) block(ctx context.Context) error {
	select {
	case <-c.dead:
		<-ctx.Done()
		return ctx.Err()
	default:
		return nil
	}
}

func (c *dyingConn) Next(ctx context.Context, t agent.Ticket) (agent.Instruction, error) {
	if err := c.block(ctx); err != nil {
		return agent.Instruction{}, err
	}
	return c.Conn.Next(ctx, t)
}

func (c *dyingConn) Report(ctx context.Context, t agent.Ticket, r agent.StepReport) (agent.Reply, error) {
	if err := c.block(ctx); err != nil {
		return agent.Reply{}, err
	}
	rep, err := c.Conn.Report(ctx, t, r)
	if r.Done {
		c.once.Do(func() { close(c.dead) })
	}
	return rep, err
}

func (c *dyingConn) Heartbeat(ctx context.Context, t agent.Ticket) (agent.Reply, error) {
	if err := c.block(ctx); err != nil {
		return agent.Reply{}, err
	}
	return c.Conn.Heartbeat(ctx, t)
}

func TestExpiredLeaseGoesToASecondAgentRecordedOnce(t *testing.T) {
	repo := gitRepo(t, map[string]string{"ci.yml": twoStepPipeline})
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	app, ends := testServer(t, []config.Repository{{Name: "webapp", URL: repo, Pipelines: map[string]string{"ci": "ci.yml"}}},
		func(o *Options) { o.Clock, o.LeaseTTL, o.LocalAgents = clock, 30*time.Second, -1 })
	remote := map[string]string{"remote": "yes"}
	granted := make(chan agent.Grant, 1)
	httpAgent(t, app, "dies", func(c agent.Conn) agent.Conn { return &dyingConn{Conn: c, dead: make(chan struct{})} },
		agent.WithCapabilities(remote), agent.WithGrantHook(func(g agent.Grant) { granted <- g }))
	var run RunView
	if st := api(t, app, app.AdminToken, "POST", "/api/v1/runs", map[string]any{"pipeline": "ci"}, &run); st != 201 {
		t.Fatalf("POST runs: %d", st)
	}
	<-granted
	// The first agent runs the checkout and dies. Step one waits for it;
	// once the lease is past its TTL the second agent gets the job, replays
	// the checkout without recording it and runs steps one and two.
	httpAgent(t, app, "survives", nil, agent.WithCapabilities(remote))
	ends.waitRecords(t, run.ID, func(recs map[string]store.Record) bool {
		return recs["Checkout self"].Result == store.ResultSucceeded && recs["one"].State == store.StateRunning
	})
	clock.Add(31 * time.Second)
	if err := app.Broker.Expire(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := ends.wait(t, run.ID); r.Result != store.ResultSucceeded {
		t.Fatalf("run = %s, want succeeded", r.Result)
	}
	var recs []RecordView
	api(t, app, app.AdminToken, "GET", "/api/v1/runs/"+run.ID+"/records", nil, &recs)
	jobs, steps := 0, 0
	for _, r := range recs {
		switch r.Type {
		case store.RecordJob:
			jobs++
		case store.RecordStep:
			steps++
		}
	}
	if jobs != 1 || steps != 3 { // checkout, one, two
		t.Errorf("records: %d jobs, %d steps; want 1 job with 3 steps, each once: %+v", jobs, steps, recs)
	}
	var logs []LogView
	api(t, app, app.AdminToken, "GET", "/api/v1/runs/"+run.ID+"/logs", nil, &logs)
	text := logTexts(logs)
	for _, want := range []string{"step one", "built", "step two"} {
		if n := count(text, want); n != 1 {
			t.Errorf("line %q appears %d times, want once; logs: %q", want, n, text)
		}
	}
	var leases []LeaseView
	api(t, app, app.AdminToken, "GET", "/api/v1/leases", nil, &leases)
	if len(leases) != 1 || leases[0].Agent != "survives" || leases[0].Attempt != 2 || leases[0].State != store.LeaseDone {
		t.Errorf("leases = %+v, want one done by survives at attempt 2", leases)
	}
}

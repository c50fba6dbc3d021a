package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/agent"
	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/executor/local"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/server/dispatch"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
	"conveyor.dev/conveyor/internal/task"
)

// fakeClock is a clock tests move by hand.
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

// output collects a step's lines.
type output struct {
	mu    sync.Mutex
	lines []string
	vars  map[string]string
}

func (o *output) step(id, script string) executor.Step {
	return executor.Step{ID: id, Task: "CmdLine@2", Inputs: map[string]string{"script": script}, KillGrace: time.Second,
		Output: func(_ time.Time, l string) { o.mu.Lock(); o.lines = append(o.lines, l); o.mu.Unlock() },
		SetVariable: func(n, v string, _ task.VarOptions) error {
			o.mu.Lock()
			defer o.mu.Unlock()
			if o.vars == nil {
				o.vars = map[string]string{}
			}
			o.vars[n] = v
			return nil
		},
	}
}

func (o *output) get() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.lines...)
}

// newRun stores a run whose plan has one job, Build.Job, with demands.
func newRun(t *testing.T, st *store.SQLite, demands []string) string {
	t.Helper()
	p := plan.Plan{Stages: []plan.Stage{{Name: "Build", Jobs: []plan.Job{{Name: "Job", Pool: &plan.Pool{Demands: demands}}}}}}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	r := store.Run{Pipeline: "ci", State: store.StateRunning, Plan: raw}
	if err := st.CreateRun(t.Context(), &r); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

func newAgent(t *testing.T, conn agent.Conn, name string, opts ...agent.Option) *agent.Agent {
	t.Helper()
	ex, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(conn, ex, name, append([]agent.Option{agent.WithFlushInterval(5 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// runAgent runs a until the test ends.
func runAgent(t *testing.T, a *agent.Agent) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestJobRunsOnAnAgentThatMeetsItsDemands(t *testing.T) {
	st := storetest.NewTestStore(t)
	b, err := dispatch.New(st, dispatch.WithPollWait(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	runID := newRun(t, st, []string{"docker", "Agent.OS -equals Linux"})
	// The first agent lacks docker; the second has it.
	runAgent(t, newAgent(t, b, "plain"))
	runAgent(t, newAgent(t, b, "docker", agent.WithCapabilities(map[string]string{"docker": "yes"})))

	job, err := b.StartJob(t.Context(), executor.JobSpec{RunID: runID, Pipeline: "ci", JobID: "Build.Job"})
	if err != nil {
		t.Fatal(err)
	}
	var out output
	res, err := job.RunStep(t.Context(), out.step("Build.Job.s1", "echo one\necho two\necho '##vso[task.setvariable variable=x]y'\necho $AGENT_NAME_CHECK"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != task.Succeeded {
		t.Errorf("result = %+v, want Succeeded", res)
	}
	if err := job.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []string{"one", "two", "##vso[task.setvariable variable=x]y", ""}
	if diff := cmp.Diff(want, out.get()); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	leases, err := st.ListLeases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(leases) != 1 || leases[0].Agent != "docker" || leases[0].State != store.LeaseDone {
		t.Errorf("leases = %+v, want one done by agent docker", leases)
	}
}

// stallingConn passes calls through until stall is closed; then every call
// blocks until its context ends, as with an agent that died or lost its
// network.
type stallingConn struct {
	agent.Conn
	stall chan struct{}
	once  sync.Once
}

func (c *stallingConn) stop() { c.once.Do(func() { close(c.stall) }) }

func (c *stallingConn) block(ctx context.Context) error {
	select {
	case <-c.stall:
		<-ctx.Done()
		return ctx.Err()
	default:
		return nil
	}
}

func (c *stallingConn) Next(ctx context.Context, t agent.Ticket) (agent.Instruction, error) {
	if err := c.block(ctx); err != nil {
		return agent.Instruction{}, err
	}
	return c.Conn.Next(ctx, t)
}

func (c *stallingConn) Report(ctx context.Context, t agent.Ticket, r agent.StepReport) (agent.Reply, error) {
	if err := c.block(ctx); err != nil {
		return agent.Reply{}, err
	}
	rep, err := c.Conn.Report(ctx, t, r)
	if r.Done {
		c.stop() // dies right after its first step
	}
	return rep, err
}

func (c *stallingConn) Heartbeat(ctx context.Context, t agent.Ticket) (agent.Reply, error) {
	if err := c.block(ctx); err != nil {
		return agent.Reply{}, err
	}
	return c.Conn.Heartbeat(ctx, t)
}

func TestExpiredLeaseIsRetriedOnceOnAnotherAgent(t *testing.T) {
	st := storetest.NewTestStore(t)
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b, err := dispatch.New(st, dispatch.WithClock(clock), dispatch.WithLeaseTTL(30*time.Second), dispatch.WithPollWait(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	runID := newRun(t, st, nil)
	dying := &stallingConn{Conn: b, stall: make(chan struct{})}
	granted := make(chan agent.Grant, 1)
	runAgent(t, newAgent(t, dying, "a", agent.WithGrantHook(func(g agent.Grant) { granted <- g })))

	job, err := b.StartJob(t.Context(), executor.JobSpec{RunID: runID, Pipeline: "ci", JobID: "Build.Job"})
	if err != nil {
		t.Fatal(err)
	}
	if g := <-granted; g.Attempt != 1 {
		t.Fatalf("first grant attempt = %d, want 1", g.Attempt)
	}
	var first, second output
	res, err := job.RunStep(t.Context(), first.step("Build.Job.s1", "echo made > marker\necho first"))
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("step 1 = %+v, %v", res, err)
	}
	// Agent a is now silent. The second step waits; after the TTL the
	// lease goes to agent b, which replays step 1 (the marker file) and runs
	// step 2.
	type stepEnd struct {
		res task.Result
		err error
	}
	ended := make(chan stepEnd, 1)
	go func() {
		res, err := job.RunStep(t.Context(), second.step("Build.Job.s2", "cat marker\necho second"))
		ended <- stepEnd{res, err}
	}()
	runAgent(t, newAgent(t, b, "b"))
	if err := b.Expire(t.Context()); err != nil { // not yet expired: nothing happens
		t.Fatal(err)
	}
	clock.Add(31 * time.Second)
	if err := b.Expire(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := <-ended
	if e.err != nil || e.res.Status != task.Succeeded {
		t.Fatalf("step 2 = %+v, %v", e.res, e.err)
	}
	if err := job.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"first"}, first.get()); diff != "" {
		t.Errorf("step 1 lines (recorded once) (-want +got):\n%s", diff)
	}
	got := second.get()
	if len(got) != 3 || got[1] != "made" || got[2] != "second" {
		t.Errorf("step 2 lines = %q, want the agent-lost warning, made, second", got)
	}
	l, err := st.ListLeases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 1 || l[0].Attempt != 2 || l[0].Agent != "b" || l[0].State != store.LeaseDone {
		t.Errorf("lease = %+v, want done by b at attempt 2", l)
	}
	// The lost agent's late calls are refused.
	if _, err := b.Heartbeat(t.Context(), agent.Ticket{Lease: l[0].ID, Token: "old"}); !errors.Is(err, agent.ErrLeaseLost) {
		t.Errorf("heartbeat with a lost ticket: %v, want ErrLeaseLost", err)
	}
}

func TestStartJobGivesUpWhenCanceled(t *testing.T) {
	st := storetest.NewTestStore(t)
	b, err := dispatch.New(st)
	if err != nil {
		t.Fatal(err)
	}
	runID := newRun(t, st, []string{"gpu"})
	// No agent offers gpu: the job waits until its context ends.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.StartJob(ctx, executor.JobSpec{RunID: runID, JobID: "Build.Job"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("StartJob with no agent until ctx ended: %v, want context.DeadlineExceeded", err)
	}
	if d := b.QueueDepth(); d != 0 {
		t.Errorf("queue depth = %d after cancel, want 0", d)
	}
}

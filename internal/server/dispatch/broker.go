package dispatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"conveyor.dev/conveyor/internal/agent"
	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/task"
)

// Store is what the broker needs of persistence.
type Store interface {
	EnqueueLease(ctx context.Context, l *store.Lease) error
	AcquireLease(ctx context.Context, id, agent, token string, expires time.Time) (store.Lease, error)
	RenewLease(ctx context.Context, id, token string, expires time.Time) error
	FinishLease(ctx context.Context, id, token string, state store.LeaseState) error
	ExpireLeases(ctx context.Context, now time.Time, maxAttempts int) ([]store.Lease, error)
	GetRun(ctx context.Context, id string) (store.Run, error)
}

// Clock tells the time; leases expire by it.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Broker queues jobs for agents and relays their steps. Safe for concurrent
// use.
type Broker struct {
	st          Store
	clock       Clock
	ttl         time.Duration
	poll        time.Duration
	maxAttempts int

	mu       sync.Mutex
	jobs     map[string]*job
	seq      int64
	wake     chan struct{} // closed and replaced when a job is queued
	ended    chan struct{} // closed and replaced when a step ends
	draining bool
	// abandoned: the server stopped waiting for running steps (Abandon).
	abandoned bool
}

// Option configures a Broker.
type Option func(*Broker) error

// WithClock sets the clock leases expire by.
func WithClock(c Clock) Option {
	return func(b *Broker) error {
		if c == nil {
			return fmt.Errorf("dispatch: nil clock")
		}
		b.clock = c
		return nil
	}
}

// WithLeaseTTL sets how long a lease lasts without a heartbeat (default 30s).
func WithLeaseTTL(d time.Duration) Option {
	return func(b *Broker) error {
		if d <= 0 {
			return fmt.Errorf("dispatch: lease TTL %v: must be positive", d)
		}
		b.ttl = d
		return nil
	}
}

// WithPollWait sets how long Lease and Next wait before answering "nothing
// yet" (default 25s).
func WithPollWait(d time.Duration) Option {
	return func(b *Broker) error {
		if d <= 0 {
			return fmt.Errorf("dispatch: poll wait %v: must be positive", d)
		}
		b.poll = d
		return nil
	}
}

// New returns a broker keeping its leases in st.
func New(st Store, opts ...Option) (*Broker, error) {
	if st == nil {
		return nil, fmt.Errorf("dispatch: a store is required")
	}
	b := &Broker{st: st, clock: systemClock{}, ttl: 30 * time.Second, poll: 25 * time.Second, maxAttempts: 2,
		jobs: map[string]*job{}, wake: make(chan struct{}), ended: make(chan struct{})}
	for _, o := range opts {
		if err := o(b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// TTL is how long a lease lasts without a heartbeat.
func (b *Broker) TTL() time.Duration { return b.ttl }

// QueueDepth is the number of jobs waiting for an agent.
func (b *Broker) QueueDepth() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, j := range b.jobs {
		if j.state == store.LeaseQueued {
			n++
		}
	}
	return n
}

// job is the broker's state of one lease. Fields below mu are guarded by
// Broker.mu.
type job struct {
	id      string
	spec    executor.JobSpec
	demands []string
	seq     int64

	state    store.LeaseState
	agent    string
	token    string
	attempt  int
	excluded map[string]bool
	started  bool
	dirs     task.Dirs // of the first grant: what the engine sees
	grantDir task.Dirs // of the current grant
	failErr  error
	change   chan struct{} // closed and replaced on every change
	queue    []*exchange   // instructions not yet delivered
	inflight map[int]*exchange
	nextN    int
	history  []*exchange // the engine's finished steps, in order
	cur      *exchange   // the engine's running step
	closing  bool
	// handedBack: a step ended and the engine has not yet asked for the
	// next one or closed the job (it is recording the end).
	handedBack bool

	reportMu sync.Mutex // one report of the job is applied at a time
}

// exchange is one step instruction and its progress.
type exchange struct {
	step     executor.Step
	replay   bool // a finished step run again on a new agent: events dropped
	n        int
	nextSeq  int64
	done     chan struct{} // closed when the step ended (not for replays)
	res      task.Result
	err      error
	cancel   bool
	finished bool
}

// signal wakes everyone waiting on the job. The caller holds b.mu.
func (j *job) signal() {
	close(j.change)
	j.change = make(chan struct{})
}

// wakeAgents wakes every waiting Lease. The caller holds b.mu.
func (b *Broker) wakeAgents() {
	close(b.wake)
	b.wake = make(chan struct{})
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// demandsOf reads the pool demands of the job from its run's plan: the
// job's pool, else its stage's, else none.
func (b *Broker) demandsOf(ctx context.Context, spec executor.JobSpec) ([]string, error) {
	r, err := b.st.GetRun(ctx, spec.RunID)
	if err != nil {
		return nil, err
	}
	if len(r.Plan) == 0 {
		return nil, nil
	}
	var p plan.Plan
	if err := json.Unmarshal(r.Plan, &p); err != nil {
		return nil, fmt.Errorf("plan of run %s: %w", spec.RunID, err)
	}
	for _, st := range p.Stages {
		for _, j := range st.Jobs {
			if st.Name+"."+j.Name != spec.JobID {
				continue
			}
			switch {
			case j.Pool != nil:
				return j.Pool.Demands, nil
			case st.Pool != nil:
				return st.Pool.Demands, nil
			}
			return nil, nil
		}
	}
	return nil, nil
}

var _ interface {
	StartJob(ctx context.Context, spec executor.JobSpec) (executor.Job, error)
} = (*Broker)(nil)

// StartJob queues the job for an agent and returns once an agent has
// leased it and set up its workspace, or with an error when ctx ends first
// or the job could not be given to an agent.
func (b *Broker) StartJob(ctx context.Context, spec executor.JobSpec) (executor.Job, error) {
	demands, err := b.demandsOf(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("job %s: pool demands: %w", spec.JobID, err)
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", spec.JobID, err)
	}
	l := store.Lease{RunID: spec.RunID, JobID: spec.JobID, Spec: raw, Demands: demands}
	if err := b.st.EnqueueLease(ctx, &l); err != nil {
		return nil, fmt.Errorf("job %s: %w", spec.JobID, err)
	}
	b.mu.Lock()
	b.seq++
	j := &job{id: l.ID, spec: spec, demands: demands, seq: b.seq, state: store.LeaseQueued, excluded: map[string]bool{},
		change: make(chan struct{}), inflight: map[int]*exchange{}}
	b.jobs[j.id] = j
	b.wakeAgents()
	b.mu.Unlock()
	for {
		b.mu.Lock()
		started, failErr, ch := j.started, j.failErr, j.change
		b.mu.Unlock()
		if failErr != nil {
			b.drop(j)
			return nil, fmt.Errorf("job %s: %w", spec.JobID, failErr)
		}
		if started {
			return &remoteJob{b: b, j: j}, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			b.mu.Lock()
			j.state, j.failErr = store.LeaseFailed, ctx.Err()
			j.signal()
			b.mu.Unlock()
			b.drop(j)
			_ = b.st.FinishLease(context.WithoutCancel(ctx), j.id, "", store.LeaseFailed)
			return nil, fmt.Errorf("job %s: waiting for an agent: %w", spec.JobID, ctx.Err())
		}
	}
}

// drop forgets a job.
func (b *Broker) drop(j *job) {
	b.mu.Lock()
	delete(b.jobs, j.id)
	b.mu.Unlock()
}

// Expire takes back the leases whose agents stopped heartbeating: each is
// granted once more to another agent, or its job fails.
func (b *Broker) Expire(ctx context.Context) error {
	changed, err := b.st.ExpireLeases(ctx, b.clock.Now(), b.maxAttempts)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range changed {
		j := b.jobs[l.ID]
		if j == nil {
			continue
		}
		lostBy := j.agent
		j.excluded[lostBy] = true
		j.token, j.queue, j.inflight = "", nil, map[int]*exchange{}
		if l.State == store.LeaseQueued {
			j.state = store.LeaseQueued
		} else {
			j.state = store.LeaseFailed
			j.failErr = fmt.Errorf("agent %s stopped answering and the job was already retried once on another agent", lostBy)
		}
		j.signal()
	}
	if len(changed) > 0 {
		b.wakeAgents()
	}
	return nil
}

// RunExpiry calls Expire every interval until ctx ends.
func (b *Broker) RunExpiry(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = b.Expire(ctx)
		}
	}
}

// holder returns the job the ticket holds; ErrLeaseLost otherwise. The
// caller holds b.mu.
func (b *Broker) holder(t agent.Ticket) (*job, error) {
	j := b.jobs[t.Lease]
	if j == nil || j.token == "" || j.token != t.Token || j.state != store.LeaseLeased {
		return nil, fmt.Errorf("lease %s: %w", t.Lease, agent.ErrLeaseLost)
	}
	return j, nil
}

var _ agent.Conn = (*Broker)(nil)

// Lease grants the oldest queued job whose demands the agent meets and that
// it did not lose before; ok is false when none came within the poll wait.
func (b *Broker) Lease(ctx context.Context, req agent.LeaseRequest) (agent.Grant, bool, error) {
	if req.Agent == "" {
		return agent.Grant{}, false, fmt.Errorf("lease: the agent has no name")
	}
	timer := time.NewTimer(b.poll)
	defer timer.Stop()
	for {
		b.mu.Lock()
		if b.draining {
			b.mu.Unlock()
			return agent.Grant{}, false, nil
		}
		var cands []*job
		for _, j := range b.jobs {
			if j.state == store.LeaseQueued && !j.excluded[req.Agent] && agent.Satisfies(req.Capabilities, j.demands) {
				cands = append(cands, j)
			}
		}
		wake := b.wake
		b.mu.Unlock()
		sort.Slice(cands, func(x, y int) bool { return cands[x].seq < cands[y].seq })
		for _, j := range cands {
			g, ok, err := b.grant(ctx, j, req.Agent)
			if err != nil || ok {
				return g, ok, err
			}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return agent.Grant{}, false, nil
		case <-timer.C:
			return agent.Grant{}, false, nil
		}
	}
}

// grant tries to give j to the agent; ok is false when another agent was
// faster.
func (b *Broker) grant(ctx context.Context, j *job, agentName string) (agent.Grant, bool, error) {
	token := newToken()
	l, err := b.st.AcquireLease(ctx, j.id, agentName, token, b.clock.Now().Add(b.ttl))
	if errors.Is(err, store.ErrLeaseLost) {
		return agent.Grant{}, false, nil
	}
	if err != nil {
		return agent.Grant{}, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if j.state != store.LeaseQueued {
		return agent.Grant{}, false, nil
	}
	previous := j.agent
	j.state, j.agent, j.token, j.attempt = store.LeaseLeased, agentName, token, l.Attempt
	j.queue, j.inflight, j.nextN = nil, map[int]*exchange{}, 0
	if j.attempt > 1 {
		// Set the new workspace up as the lost one was, then run the
		// interrupted step again.
		for _, h := range j.history {
			j.queue = append(j.queue, &exchange{step: h.step, replay: true})
		}
		if c := j.cur; c != nil && !c.finished && c.cancel {
			// Canceled while its agent was lost: it ends here.
			c.finished, c.res = true, task.Result{Status: task.Failed, Message: "canceled while its agent was lost"}
			close(c.done)
		} else if c != nil && !c.finished {
			c.nextSeq = 0
			j.queue = append(j.queue, c)
			if c.step.Output != nil {
				c.step.Output(b.clock.Now(), fmt.Sprintf("##[warning]agent %s stopped answering: the job continues on agent %s (attempt %d), which runs this step again", previous, agentName, j.attempt))
			}
		}
	}
	j.signal()
	return agent.Grant{Ticket: agent.Ticket{Lease: j.id, Token: token}, Spec: j.spec, TTL: b.ttl, Attempt: j.attempt}, true, nil
}

// Started records the workspace of the grant.
func (b *Broker) Started(ctx context.Context, t agent.Ticket, dirs task.Dirs) error {
	b.mu.Lock()
	j, err := b.holder(t)
	if err != nil {
		b.mu.Unlock()
		return err
	}
	if !j.started {
		j.started, j.dirs = true, dirs
	}
	j.grantDir = dirs
	j.signal()
	b.mu.Unlock()
	return b.renew(ctx, t)
}

func (b *Broker) renew(ctx context.Context, t agent.Ticket) error {
	err := b.st.RenewLease(ctx, t.Lease, t.Token, b.clock.Now().Add(b.ttl))
	if errors.Is(err, store.ErrLeaseLost) {
		return fmt.Errorf("lease %s: %w", t.Lease, agent.ErrLeaseLost)
	}
	return err
}

// Next hands the agent the job's next step, or close.
func (b *Broker) Next(ctx context.Context, t agent.Ticket) (agent.Instruction, error) {
	timer := time.NewTimer(b.poll)
	defer timer.Stop()
	for {
		b.mu.Lock()
		j := b.jobs[t.Lease]
		if j != nil && j.closing && j.token == t.Token {
			b.mu.Unlock()
			return agent.Instruction{Kind: agent.InstructionClose}, nil
		}
		j, err := b.holder(t)
		if err != nil {
			b.mu.Unlock()
			return agent.Instruction{}, err
		}
		if len(j.queue) > 0 && !b.draining {
			ex := j.queue[0]
			j.queue = j.queue[1:]
			ex.n = j.nextN
			j.nextN++
			j.inflight[ex.n] = ex
			in := agent.Instruction{Kind: agent.InstructionStep, N: ex.n, Step: remap(ex.step.Spec(), j.dirs, j.grantDir)}
			b.mu.Unlock()
			return in, nil
		}
		ch := j.change
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return agent.Instruction{Kind: agent.InstructionNone}, nil
		case <-timer.C:
			return agent.Instruction{Kind: agent.InstructionNone}, nil
		}
	}
}

// remap rewrites the paths of the first grant's workspace (which the engine
// expanded into the step) to those of the current grant's.
func remap(s agent.StepSpec, from, to task.Dirs) agent.StepSpec {
	if from == to {
		return s
	}
	var pairs []string
	for _, p := range [][2]string{{from.Pipeline, to.Pipeline}, {from.Temp, to.Temp}, {from.Tools, to.Tools},
		{from.Artifacts, to.Artifacts}, {from.Work, to.Work}} {
		if p[0] != "" && p[0] != p[1] {
			pairs = append(pairs, p[0], p[1])
		}
	}
	// Longer paths first: the workspace lies under the work folder.
	type pair struct{ old, new string }
	var ps []pair
	for i := 0; i < len(pairs); i += 2 {
		ps = append(ps, pair{pairs[i], pairs[i+1]})
	}
	sort.Slice(ps, func(a, b int) bool { return len(ps[a].old) > len(ps[b].old) })
	flat := make([]string, 0, len(pairs))
	for _, p := range ps {
		flat = append(flat, p.old, p.new)
	}
	r := strings.NewReplacer(flat...)
	m := func(in map[string]string) map[string]string {
		if in == nil {
			return nil
		}
		out := make(map[string]string, len(in))
		for k, v := range in {
			out[k] = r.Replace(v)
		}
		return out
	}
	s.Inputs, s.Variables, s.Env = m(s.Inputs), m(s.Variables), m(s.Env)
	pp := make([]string, len(s.PathPrepend))
	for i, p := range s.PathPrepend {
		pp[i] = r.Replace(p)
	}
	s.PathPrepend = pp
	return s
}

// Report applies a step's events in order, once each, and its end.
func (b *Broker) Report(ctx context.Context, t agent.Ticket, rep agent.StepReport) (agent.Reply, error) {
	b.mu.Lock()
	j, err := b.holder(t)
	if err != nil {
		b.mu.Unlock()
		return agent.Reply{}, err
	}
	b.mu.Unlock()
	j.reportMu.Lock()
	defer j.reportMu.Unlock()
	b.mu.Lock()
	if _, err := b.holder(t); err != nil {
		b.mu.Unlock()
		return agent.Reply{}, err
	}
	ex := j.inflight[rep.N]
	b.mu.Unlock()
	if ex == nil {
		return agent.Reply{}, fmt.Errorf("lease %s: no step instruction %d", t.Lease, rep.N)
	}
	for _, e := range rep.Events {
		if e.Seq < ex.nextSeq {
			continue // sent again after an error: applied already
		}
		if e.Seq > ex.nextSeq {
			return agent.Reply{}, fmt.Errorf("lease %s: step %s: event %d arrived before event %d", t.Lease, ex.step.ID, e.Seq, ex.nextSeq)
		}
		ex.nextSeq++
		if ex.replay {
			continue
		}
		switch e.Kind {
		case agent.EventLine:
			if ex.step.Output != nil {
				ex.step.Output(e.Time, e.Text)
			}
		case agent.EventVar:
			if ex.step.SetVariable != nil {
				_ = ex.step.SetVariable(e.Name, e.Value, e.Opts)
			}
		case agent.EventSummary:
			if ex.step.AddSummary != nil {
				ex.step.AddSummary(e.Text)
			}
		}
	}
	b.mu.Lock()
	if rep.Done && b.abandoned {
		// The agent stopped the step because the server is going away:
		// its end is not the step's; the run resumes at the next start.
		b.mu.Unlock()
		return agent.Reply{}, fmt.Errorf("lease %s: %w: the server stopped waiting for the step", t.Lease, agent.ErrLeaseLost)
	}
	if rep.Done && !ex.finished {
		ex.finished = true
		ex.res = rep.Result
		if rep.Error != "" {
			ex.err = fmt.Errorf("step %s on agent %s: %s", ex.step.ID, j.agent, rep.Error)
		}
		if !ex.replay {
			close(ex.done)
			j.handedBack = true
		}
		close(b.ended)
		b.ended = make(chan struct{})
	}
	reply := agent.Reply{Cancel: ex.cancel}
	b.mu.Unlock()
	// A step's end is applied even when the engine closed the job at once
	// (its lease is then done, and renewing it fails).
	if err := b.renew(ctx, t); err != nil && !rep.Done {
		return agent.Reply{}, err
	}
	return reply, nil
}

// Heartbeat renews the lease and says whether the running step is to be
// canceled.
func (b *Broker) Heartbeat(ctx context.Context, t agent.Ticket) (agent.Reply, error) {
	b.mu.Lock()
	j, err := b.holder(t)
	if err != nil {
		b.mu.Unlock()
		return agent.Reply{}, err
	}
	cancel := false
	for _, ex := range j.inflight {
		if !ex.finished && ex.cancel {
			cancel = true
		}
	}
	b.mu.Unlock()
	if err := b.renew(ctx, t); err != nil {
		return agent.Reply{}, err
	}
	return agent.Reply{Cancel: cancel}, nil
}

// Closed ends the grant: a job that could not start fails; a closing job
// is forgotten.
func (b *Broker) Closed(ctx context.Context, t agent.Ticket, errText string) error {
	b.mu.Lock()
	j := b.jobs[t.Lease]
	if j == nil || j.token != t.Token {
		b.mu.Unlock()
		return fmt.Errorf("lease %s: %w", t.Lease, agent.ErrLeaseLost)
	}
	if b.abandoned {
		b.mu.Unlock()
		return nil // the lease stays as it is, for the next start
	}
	closing := j.closing
	if !closing && errText != "" {
		j.state, j.failErr = store.LeaseFailed, fmt.Errorf("agent %s: %s", j.agent, errText)
		j.signal()
	}
	if closing {
		delete(b.jobs, j.id)
	}
	b.mu.Unlock()
	state := store.LeaseDone
	if !closing {
		state = store.LeaseFailed
	}
	if err := b.st.FinishLease(ctx, t.Lease, t.Token, state); err != nil && !errors.Is(err, store.ErrLeaseLost) {
		return err
	}
	return nil
}

// remoteJob is the engine's handle on a leased job.
type remoteJob struct {
	b *Broker
	j *job
}

func (r *remoteJob) Dirs() task.Dirs {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	return r.j.dirs
}

// RunStep hands the step to the job's agent and waits for its end. When ctx
// ends the agent is asked to cancel the step; a step not yet delivered ends
// at once, failed.
func (r *remoteJob) RunStep(ctx context.Context, s executor.Step) (task.Result, error) {
	b, j := r.b, r.j
	ex := &exchange{step: s, done: make(chan struct{})}
	b.mu.Lock()
	b.takeBack(j)
	if j.failErr != nil {
		err := j.failErr
		b.mu.Unlock()
		return task.Result{}, fmt.Errorf("step %s: %w", s.ID, err)
	}
	j.cur = ex
	j.queue = append(j.queue, ex)
	j.signal()
	b.mu.Unlock()
	ctxDone := ctx.Done()
	for {
		b.mu.Lock()
		ch, failErr := j.change, j.failErr
		b.mu.Unlock()
		if failErr != nil {
			return task.Result{}, fmt.Errorf("step %s: %w", s.ID, failErr)
		}
		select {
		case <-ex.done:
			b.mu.Lock()
			j.history = append(j.history, ex)
			j.cur = nil
			b.mu.Unlock()
			return ex.res, ex.err
		case <-ctxDone:
			ctxDone = nil
			b.mu.Lock()
			ex.cancel = true
			for i, q := range j.queue {
				if q == ex {
					// Never delivered: nothing runs; it ends here.
					j.queue = append(j.queue[:i:i], j.queue[i+1:]...)
					ex.finished = true
					j.cur = nil
					b.mu.Unlock()
					return task.Result{Status: task.Failed, Message: "canceled before it started"}, nil
				}
			}
			b.mu.Unlock()
		case <-ch:
		}
	}
}

// Close ends the job: the agent is told to release its workspace.
func (r *remoteJob) Close(ctx context.Context) error {
	b, j := r.b, r.j
	b.mu.Lock()
	b.takeBack(j)
	j.closing = true
	failed := j.failErr != nil
	if failed {
		delete(b.jobs, j.id)
	}
	j.signal()
	b.mu.Unlock()
	if failed {
		return nil
	}
	if err := b.st.FinishLease(ctx, j.id, "", store.LeaseDone); err != nil && !errors.Is(err, store.ErrLeaseLost) {
		return err
	}
	return nil
}

// Drain stops handing out jobs and steps: agents finish the steps they run,
// and the rest stays queued (in the store, for a resumed run).
func (b *Broker) Drain() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.draining = true
	b.wakeAgents()
	for _, j := range b.jobs {
		j.signal()
	}
}

// Abandon is for a stopping server whose grace period ended, before it
// stops its agents: from then on no step ends and no job closes, so the
// steps the agents stop (and their jobs) do not fail their runs, which
// resume at the next start as if the server had been killed. Lines,
// variables and summaries reported still apply. It drains too.
func (b *Broker) Abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.draining, b.abandoned = true, true
	b.wakeAgents()
	for _, j := range b.jobs {
		j.signal()
	}
}

// takeBack notes that the engine is done with the job's last step end.
// The caller holds b.mu.
func (b *Broker) takeBack(j *job) {
	if j.handedBack {
		j.handedBack = false
		close(b.ended)
		b.ended = make(chan struct{})
	}
}

// Busy is the number of steps agents are running, and of step ends the
// engine is recording.
func (b *Broker) Busy() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.busy()
}

func (b *Broker) busy() int {
	n := 0
	for _, j := range b.jobs {
		if j.handedBack {
			n++
		}
		if j.state != store.LeaseLeased {
			continue
		}
		for _, ex := range j.inflight {
			if !ex.finished {
				n++
			}
		}
	}
	return n
}

// WaitIdle waits until no agent runs a step and the engine has taken every
// step end in (it asked for the next step or closed the job), or ctx ends.
func (b *Broker) WaitIdle(ctx context.Context) error {
	for {
		b.mu.Lock()
		n, ch := b.busy(), b.ended
		b.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

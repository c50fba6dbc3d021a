package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/task"
)

// Executor is the backend that runs a leased job's steps (executor/local).
type Executor interface {
	StartJob(ctx context.Context, spec executor.JobSpec) (executor.Job, error)
}

// Agent leases jobs from a server and runs them, one at a time.
type Agent struct {
	conn    Conn
	exec    Executor
	name    string
	caps    map[string]string
	log     *slog.Logger
	flush   time.Duration
	batch   int
	retry   time.Duration
	beat    time.Duration // 0: a third of the grant's TTL
	onGrant func(Grant)
}

// Option configures an Agent.
type Option func(*Agent) error

// WithCapabilities adds capabilities offered to pool demands (besides
// Agent.Name, Agent.OS and Agent.OSArchitecture).
func WithCapabilities(caps map[string]string) Option {
	return func(a *Agent) error {
		for k, v := range caps {
			a.caps[k] = v
		}
		return nil
	}
}

// WithLogger sets the logger of the agent's own diagnostics.
func WithLogger(l *slog.Logger) Option { return func(a *Agent) error { a.log = l; return nil } }

// WithFlushInterval sets how long step output may wait before it is sent
// (default 50ms); a full batch is sent at once.
func WithFlushInterval(d time.Duration) Option {
	return func(a *Agent) error {
		if d <= 0 {
			return fmt.Errorf("agent: flush interval %v: must be positive", d)
		}
		a.flush = d
		return nil
	}
}

// WithHeartbeat sets how often a held lease is renewed (default: a third
// of its TTL).
func WithHeartbeat(d time.Duration) Option {
	return func(a *Agent) error {
		if d <= 0 {
			return fmt.Errorf("agent: heartbeat %v: must be positive", d)
		}
		a.beat = d
		return nil
	}
}

// WithGrantHook calls fn with every job the agent is granted, before it
// starts it (tests use it to stop an agent mid-job).
func WithGrantHook(fn func(Grant)) Option { return func(a *Agent) error { a.onGrant = fn; return nil } }

// New returns an agent named name that leases through conn and runs jobs on
// exec.
func New(conn Conn, exec Executor, name string, opts ...Option) (*Agent, error) {
	if conn == nil || exec == nil || name == "" {
		return nil, fmt.Errorf("agent: a connection, an executor and a name are required")
	}
	a := &Agent{conn: conn, exec: exec, name: name, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		flush: 50 * time.Millisecond, batch: 500, retry: 500 * time.Millisecond,
		caps: map[string]string{"Agent.Name": name, "Agent.OS": executor.AgentOS(), "Agent.OSArchitecture": executor.AgentArch()}}
	for _, o := range opts {
		if err := o(a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Capabilities returns what the agent offers to demands.
func (a *Agent) Capabilities() map[string]string {
	out := make(map[string]string, len(a.caps))
	for k, v := range a.caps {
		out[k] = v
	}
	return out
}

// Run leases and runs jobs until ctx ends; it returns nil then. A running
// job's step is canceled when ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	req := LeaseRequest{Agent: a.name, Capabilities: a.Capabilities()}
	for ctx.Err() == nil {
		g, ok, err := a.conn.Lease(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			a.log.Warn("lease a job", slog.Any("err", err))
			if !a.wait(ctx) {
				return nil
			}
			continue
		}
		if !ok {
			continue
		}
		if a.onGrant != nil {
			a.onGrant(g)
		}
		a.runJob(ctx, g)
	}
	return nil
}

// RunOnce leases one job, runs it and returns; ok is false when ctx ended
// before a job came.
func (a *Agent) RunOnce(ctx context.Context) (ok bool, err error) {
	req := LeaseRequest{Agent: a.name, Capabilities: a.Capabilities()}
	for {
		g, got, err := a.conn.Lease(ctx, req)
		if err != nil {
			return false, err
		}
		if got {
			if a.onGrant != nil {
				a.onGrant(g)
			}
			a.runJob(ctx, g)
			return true, nil
		}
		if ctx.Err() != nil {
			return false, nil
		}
	}
}

// wait pauses before a retry after a connection error; false when ctx ended.
func (a *Agent) wait(ctx context.Context) bool {
	t := time.NewTimer(a.retry)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// runJob runs one granted job to its close.
func (a *Agent) runJob(ctx context.Context, g Grant) {
	log := a.log.With(slog.String("run", g.Spec.RunID), slog.String("job", g.Spec.JobID))
	job, err := a.exec.StartJob(ctx, g.Spec)
	if err != nil {
		log.Error("start job", slog.Any("err", err))
		_ = a.conn.Closed(context.WithoutCancel(ctx), g.Ticket, err.Error())
		return
	}
	closeJob := func(reason string) {
		errText := reason
		if err := job.Close(context.WithoutCancel(ctx)); err != nil && errText == "" {
			errText = err.Error()
		}
		if err := a.conn.Closed(context.WithoutCancel(ctx), g.Ticket, errText); err != nil && !errors.Is(err, ErrLeaseLost) {
			log.Warn("report job closed", slog.Any("err", err))
		}
	}
	if err := a.conn.Started(ctx, g.Ticket, job.Dirs()); err != nil {
		log.Error("report job started", slog.Any("err", err))
		closeJob("")
		return
	}
	jctx, stop := context.WithCancel(ctx)
	defer stop()
	cancelStep := make(chan struct{}, 1)
	lost := make(chan struct{})
	var lostOnce sync.Once
	markLost := func() { lostOnce.Do(func() { close(lost); stop() }) }
	go a.heartbeat(jctx, g, cancelStep, markLost, log)
	for {
		in, err := a.conn.Next(jctx, g.Ticket)
		if err != nil {
			if errors.Is(err, ErrLeaseLost) {
				markLost()
			}
			if jctx.Err() != nil || errors.Is(err, ErrLeaseLost) {
				closeJob("")
				return
			}
			log.Warn("next instruction", slog.Any("err", err))
			if !a.wait(jctx) {
				closeJob("")
				return
			}
			continue
		}
		if jctx.Err() != nil {
			closeJob("")
			return
		}
		switch in.Kind {
		case InstructionClose:
			closeJob("")
			return
		case InstructionStep:
			if !a.runStep(jctx, g, job, in, cancelStep, markLost, log) {
				closeJob("")
				return
			}
		}
	}
}

// heartbeat renews the lease until ctx ends; a reply asking to cancel is
// passed on to the running step.
func (a *Agent) heartbeat(ctx context.Context, g Grant, cancelStep chan<- struct{}, lost func(), log *slog.Logger) {
	every := a.beat
	if every == 0 {
		// Often enough to pass a cancel on quickly, and well within the TTL.
		every = max(min(g.TTL/3, 2*time.Second), 10*time.Millisecond)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r, err := a.conn.Heartbeat(ctx, g.Ticket)
		switch {
		case errors.Is(err, ErrLeaseLost):
			lost()
			return
		case err != nil:
			if ctx.Err() == nil {
				log.Warn("heartbeat", slog.Any("err", err))
			}
		case r.Cancel:
			select {
			case cancelStep <- struct{}{}:
			default:
			}
		}
	}
}

// runStep runs one step, streaming its events; false when the lease was
// lost (the job must stop).
func (a *Agent) runStep(ctx context.Context, g Grant, job executor.Job, in Instruction, cancelStep chan struct{}, lost func(), log *slog.Logger) bool {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Drain a cancel meant for an earlier step.
	select {
	case <-cancelStep:
	default:
	}
	rep := &reporter{a: a, t: g.Ticket, n: in.N, cancel: cancel, wake: make(chan struct{}, 1)}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		select {
		case <-cancelStep:
			cancel()
		case <-done:
		}
	}()
	go func() { defer wg.Done(); rep.loop(sctx, done) }()
	s := in.Step.Step()
	s.Output = func(ts time.Time, line string) { rep.add(Event{Kind: EventLine, Time: ts, Text: line}) }
	s.SetVariable = func(name, value string, opts task.VarOptions) error {
		rep.add(Event{Kind: EventVar, Name: name, Value: value, Opts: opts})
		return nil
	}
	s.AddSummary = func(text string) { rep.add(Event{Kind: EventSummary, Text: text}) }
	res, err := job.RunStep(sctx, s)
	close(done)
	wg.Wait()
	final := StepReport{Done: true, Result: res}
	if err != nil {
		final.Error = err.Error()
	}
	if err := rep.send(context.WithoutCancel(ctx), final); err != nil {
		if errors.Is(err, ErrLeaseLost) {
			lost()
		}
		log.Warn("report step end", slog.String("step", s.ID), slog.Any("err", err))
		return false
	}
	return !rep.isLost()
}

// reporter batches a step's events and sends them in order.
type reporter struct {
	a      *Agent
	t      Ticket
	n      int
	cancel func()
	wake   chan struct{}

	mu      sync.Mutex
	pending []Event
	next    int64
	sendMu  sync.Mutex
	lost    bool
}

func (r *reporter) add(e Event) {
	r.mu.Lock()
	e.Seq = r.next
	r.next++
	r.pending = append(r.pending, e)
	full := len(r.pending) >= r.a.batch
	r.mu.Unlock()
	if full {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

func (r *reporter) isLost() bool {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	return r.lost
}

// loop sends pending events every flush interval (or when a batch is
// full) until done.
func (r *reporter) loop(ctx context.Context, done <-chan struct{}) {
	t := time.NewTicker(r.a.flush)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		case <-r.wake:
		}
		if err := r.send(context.WithoutCancel(ctx), StepReport{}); err != nil {
			if errors.Is(err, ErrLeaseLost) {
				r.cancel()
				return
			}
		}
	}
}

// send sends every pending event and, when rep.Done, the step's end,
// retrying a failed connection until ctx ends. Events stay pending until
// the server acknowledged them.
func (r *reporter) send(ctx context.Context, rep StepReport) error {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	if r.lost {
		return ErrLeaseLost
	}
	for {
		r.mu.Lock()
		events := append([]Event(nil), r.pending...)
		r.mu.Unlock()
		if len(events) == 0 && !rep.Done {
			return nil
		}
		rep.N, rep.Events = r.n, events
		reply, err := r.a.conn.Report(ctx, r.t, rep)
		if errors.Is(err, ErrLeaseLost) {
			r.lost = true
			return err
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			r.a.log.Warn("report step events", slog.Any("err", err))
			t := time.NewTimer(r.a.retry)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			continue
		}
		r.mu.Lock()
		r.pending = r.pending[len(events):]
		r.mu.Unlock()
		if reply.Cancel {
			r.cancel()
		}
		return nil
	}
}

// DefaultName is a name for an agent of this host: "<host>-<pid>".
func DefaultName() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

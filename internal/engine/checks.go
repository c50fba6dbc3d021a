package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

// Approvals is what the engine needs to hold stages and agentless jobs on
// the checks of environments and on manual validations
// (approval.Service has it).
type Approvals interface {
	// Request returns the approval of a run's gate, asking for it the first time.
	Request(ctx context.Context, req approval.Request) (store.Approval, error)
	// Check returns the verdict on an approval now.
	Check(ctx context.Context, id string) (approval.Verdict, store.Approval, error)
	// Lock asks for the exclusive lock of an environment.
	Lock(ctx context.Context, req store.LockRequest) (approval.Verdict, error)
	// Unlock releases or withdraws a lock request.
	Unlock(ctx context.Context, environment, runID, gate string) error
	// Cancel cancels the pending approvals of a run.
	Cancel(ctx context.Context, runID, reason string) error
	// Record appends to the audit log.
	Record(ctx context.Context, e store.AuditEntry) error
	// Changed is closed at the next change of an approval or lock.
	Changed() <-chan struct{}
}

// Waker is a Clock that can also wake a waiting run at a given time (a
// fake clock in tests); with any other Clock the engine uses a timer.
type Waker interface {
	WakeAt(t time.Time) <-chan struct{}
}

// WithApprovals sets the service that keeps approvals, locks and the audit
// log; without it a run that meets a check fails saying so.
func WithApprovals(a Approvals) Option { return func(e *Engine) error { e.approvals = a; return nil } }

// WithEnvironments sets the checks of environments by name (conveyor.yaml
// environments); a deployment to an environment not listed has no checks.
func WithEnvironments(envs map[string]approval.Checks) Option {
	return func(e *Engine) error { e.envs = envs; return nil }
}

// wakeAt returns a channel closed at t by the clock, and a stop function.
func (e *Engine) wakeAt(t time.Time) (<-chan struct{}, func()) {
	if w, ok := e.clock.(Waker); ok {
		return w.WakeAt(t), func() {}
	}
	ch := make(chan struct{})
	tm := time.AfterFunc(max(0, t.Sub(e.clock.Now())), func() { close(ch) })
	return ch, func() { tm.Stop() }
}

// await asks check until it is no longer pending; meanwhile the gate's
// record and the run are in state waiting. A check is asked again on every
// change of approvals and locks and after the RetryAfter it gives; no
// goroutine sleeps. A run canceled meanwhile ends the wait as canceled.
func (rs *runState) await(gates []string, check func(ctx context.Context) (approval.Verdict, error)) (approval.Verdict, error) {
	waiting := false
	defer func() {
		if waiting {
			rs.setWaiting(gates, false)
		}
	}()
	for {
		// The change channel and the time are taken before asking, so a
		// change or a clock step made meanwhile still wakes this wait.
		changed := rs.e.approvals.Changed()
		now := rs.e.clock.Now()
		v, err := check(rs.ctx)
		if err != nil {
			if rs.ctx.Err() != nil {
				return approval.Verdict{Status: approval.Canceled, Message: "the run was canceled while it waited"}, nil
			}
			return v, err
		}
		if v.Status != approval.Pending {
			return v, nil
		}
		if !waiting {
			waiting = true
			rs.setWaiting(gates, true)
		}
		wake, stop := (<-chan struct{})(nil), func() {}
		if v.RetryAfter > 0 {
			wake, stop = rs.e.wakeAt(now.Add(v.RetryAfter))
		}
		select {
		case <-changed:
		case <-wake:
		case <-rs.ctx.Done():
		}
		stop()
		if rs.ctx.Err() != nil {
			return approval.Verdict{Status: approval.Canceled, Message: "the run was canceled while it waited"}, nil
		}
	}
}

// setWaiting moves a gate's record (and the run, while any gate waits) to
// waiting and back to running.
func (rs *runState) setWaiting(gates []string, on bool) {
	rs.mu.Lock()
	if on {
		rs.waiting++
	} else {
		rs.waiting--
	}
	state := store.StateRunning
	if rs.waiting > 0 {
		state = store.StateWaiting
	}
	changed := rs.run.State != state
	rs.run.State = state
	run := rs.run
	rs.mu.Unlock()
	// The run first, so that who sees a waiting record sees a waiting run.
	if changed {
		if err := rs.e.store.UpdateRun(context.WithoutCancel(rs.ctx), rs.run.ID, func(r *store.Run) error {
			if r.State != store.StateCompleted {
				r.State = state
			}
			return nil
		}); err != nil {
			rs.e.log.Error("record run state", slog.String("run", rs.run.ID), slog.Any("err", err))
		}
		rs.e.observer.RunChanged(run)
	}
	for _, gate := range gates {
		rec := rs.record(gate)
		if on {
			rec.State = store.StateWaiting
		} else {
			rec.State = store.StateRunning
		}
		rs.putRecord(rec)
	}
}

// stageEnvironments lists the environments of a stage's deployment jobs
// that have checks, in order, once each.
func (rs *runState) stageEnvironments(st plan.Stage) []string {
	var out []string
	for _, j := range st.Jobs {
		if j.Environment == nil || j.Environment.Name == "" {
			continue
		}
		name := j.Environment.Name
		if _, ok := rs.e.envs[name]; !ok {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == name
		}
		if !dup {
			out = append(out, name)
		}
	}
	return out
}

// sourceBranch is the branch the run builds, as branch control sees it
// (Build.SourceBranch).
func (rs *runState) sourceBranch() string {
	if rs.in.Event == store.EventPR {
		return fmt.Sprintf("refs/pull/%d/merge", max(1, rs.in.PullRequestID))
	}
	return refBranch(rs.in.Branch)
}

// stageChecks runs the checks of the environments a stage deploys to, in
// Azure's order: branch control, then approvals, then exclusive locks. It
// returns the result to end the stage with (empty when every check passed),
// with a message, and the locks taken, which the caller releases when the
// stage ends.
func (rs *runState) stageChecks(st plan.Stage, envs []string) (store.Result, string, []string) {
	if rs.e.approvals == nil {
		return store.ResultFailed, fmt.Sprintf("environment %s has checks but this runner keeps no approvals: run the pipeline on a Conveyor server, or remove the checks from conveyor.yaml",
			strings.Join(envs, ", ")), nil
	}
	ctx := context.WithoutCancel(rs.ctx)
	for _, env := range envs {
		bc := rs.e.envs[env].BranchControl
		if bc == nil {
			continue
		}
		if err := approval.CheckBranch(env, *bc, rs.sourceBranch()); err != nil {
			rs.audit(ctx, store.AuditEntry{Action: "branchControl.refused", Subject: env, Detail: st.Name + ": " + err.Error()})
			return store.ResultFailed, err.Error(), nil
		}
		rs.audit(ctx, store.AuditEntry{Action: "branchControl.passed", Subject: env, Detail: st.Name + ": " + rs.sourceBranch()})
	}
	for _, env := range envs {
		ap := rs.e.envs[env].Approvals
		if ap == nil {
			continue
		}
		a, err := rs.e.approvals.Request(ctx, approval.Request{RunID: rs.run.ID, Gate: st.Name, Kind: store.ApprovalKindEnvironment,
			Environment: env, Requester: rs.in.RequestedFor, Policy: ap.Policy()})
		if err != nil {
			return store.ResultFailed, fmt.Sprintf("environment %s: ask approval: infrastructure: %v", env, err), nil
		}
		v, err := rs.await([]string{st.Name}, func(ctx context.Context) (approval.Verdict, error) {
			v, _, err := rs.e.approvals.Check(ctx, a.ID)
			return v, err
		})
		if res, msg, done := verdictResult(env, v, err); done {
			return res, msg, nil
		}
	}
	var locked []string
	for _, env := range envs {
		lk := rs.e.envs[env].ExclusiveLock
		if lk == nil {
			continue
		}
		behavior := lk.LockBehavior
		if st.LockBehavior != "" {
			behavior = st.LockBehavior
		} else if rs.plan.LockBehavior != "" {
			behavior = rs.plan.LockBehavior
		}
		req := store.LockRequest{Environment: env, RunID: rs.run.ID, Gate: st.Name, Behavior: behavior}
		locked = append(locked, env)
		v, err := rs.await([]string{st.Name}, func(ctx context.Context) (approval.Verdict, error) {
			return rs.e.approvals.Lock(ctx, req)
		})
		if res, msg, done := verdictResult(env, v, err); done {
			return res, msg, locked
		}
	}
	return "", "", locked
}

// verdictResult turns a final verdict into the stage's result; done is
// false when the check passed.
func verdictResult(env string, v approval.Verdict, err error) (store.Result, string, bool) {
	switch {
	case err != nil:
		return store.ResultFailed, fmt.Sprintf("environment %s: check: infrastructure: %v", env, err), true
	case v.Status == approval.Passed:
		return "", "", false
	case v.Status == approval.Canceled:
		return store.ResultCanceled, v.Message, true
	}
	return store.ResultFailed, v.Message, true
}

// unlock releases the locks a stage took.
func (rs *runState) unlock(envs []string, gate string) {
	for _, env := range envs {
		if err := rs.e.approvals.Unlock(context.WithoutCancel(rs.ctx), env, rs.run.ID, gate); err != nil {
			rs.e.log.Error("release environment lock", slog.String("run", rs.run.ID), slog.String("env", env), slog.Any("err", err))
		}
	}
}

func (rs *runState) audit(ctx context.Context, e store.AuditEntry) {
	e.RunID = rs.run.ID
	if err := rs.e.approvals.Record(ctx, e); err != nil {
		rs.e.log.Error("audit", slog.String("run", rs.run.ID), slog.Any("err", err))
	}
}

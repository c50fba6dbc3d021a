package approval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"conveyor.dev/conveyor/internal/store"
)

// Store is what the service needs of persistence (store.DB has it).
type Store interface {
	GetRun(ctx context.Context, id string) (store.Run, error)
	ListRecords(ctx context.Context, runID string) ([]store.Record, error)
	CreateApproval(ctx context.Context, a *store.Approval, ev store.AuditEntry) error
	GetApproval(ctx context.Context, id string) (store.Approval, error)
	ListApprovals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error)
	UpdateApproval(ctx context.Context, id string, fn func(*store.Approval) (store.ApprovalChange, error)) error
	AppendAudit(ctx context.Context, e store.AuditEntry) error
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
	AcquireEnvLock(ctx context.Context, req store.LockRequest) (store.Lock, error)
	ReleaseEnvLock(ctx context.Context, environment, runID, gate string) error
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Actor is the audit actor of the engine's own decisions (timeouts, locks,
// requests).
const Actor = "conveyor"

// Service keeps approvals and locks in the store, decides them by policy,
// writes every decision to the audit log and tells waiting runs in this
// process of every change (Changed). Safe for concurrent use.
type Service struct {
	st    Store
	clock Clock
	users Users
	poll  time.Duration

	mu      sync.Mutex
	changed chan struct{}
}

// Option configures a Service.
type Option func(*Service) error

// WithClock sets the clock that decides timeouts.
func WithClock(c Clock) Option {
	return func(s *Service) error {
		if c == nil {
			return fmt.Errorf("approval: nil clock")
		}
		s.clock = c
		return nil
	}
}

// WithUsers sets the users and their groups (conveyor.yaml users), which
// make a group listed as approver stand for its members.
func WithUsers(u Users) Option { return func(s *Service) error { s.users = u; return nil } }

// WithPoll bounds how long a waiting check waits before it looks at the
// store again, to see decisions made by another process (default 5s; 0:
// only on changes in this process and timeouts).
func WithPoll(d time.Duration) Option {
	return func(s *Service) error {
		if d < 0 {
			return fmt.Errorf("approval: poll %v: must not be negative", d)
		}
		s.poll = d
		return nil
	}
}

// NewService returns a service keeping its state in st.
func NewService(st Store, opts ...Option) (*Service, error) {
	if st == nil {
		return nil, fmt.Errorf("approval: a store is required")
	}
	s := &Service{st: st, clock: systemClock{}, poll: 5 * time.Second, changed: make(chan struct{})}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Changed returns a channel closed at the next change of any approval or
// lock made through this service. Take it before looking at the state, then
// wait on it, and no change is missed.
func (s *Service) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *Service) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Request is what a gate asks approval for.
type Request struct {
	RunID       string
	Gate        string // the stage or job record held
	Kind        string // store.ApprovalKindEnvironment or store.ApprovalKindManualValidation
	Environment string
	Requester   string
	Policy      store.ApprovalPolicy
}

// Request returns the approval of req's run and gate, asking for it when
// there is none yet (so a resumed run keeps waiting on the same approval).
// The new approval records what the run has produced so far (ReleaseOf) and
// expires after the policy's timeout.
func (s *Service) Request(ctx context.Context, req Request) (store.Approval, error) {
	existing, err := s.st.ListApprovals(ctx, store.ApprovalFilter{RunID: req.RunID, Gate: req.Gate})
	if err != nil {
		return store.Approval{}, err
	}
	for i := len(existing) - 1; i >= 0; i-- {
		if existing[i].Kind == req.Kind && existing[i].Environment == req.Environment && existing[i].State != store.ApprovalCanceled {
			return existing[i], nil
		}
	}
	rel, err := s.release(ctx, req.RunID)
	if err != nil {
		return store.Approval{}, err
	}
	now := s.clock.Now().UTC()
	a := store.Approval{RunID: req.RunID, Gate: req.Gate, Kind: req.Kind, Environment: req.Environment, Requester: req.Requester,
		Policy: req.Policy, Release: rel, State: store.ApprovalPending, CreatedAt: now}
	if req.Policy.Timeout > 0 {
		a.ExpiresAt = now.Add(req.Policy.Timeout)
	}
	detail := fmt.Sprintf("%s; approvers %s, at least %d", describe(a), orAnyone(a.Policy.Approvers), max(1, a.Policy.MinApprovers))
	if len(rel.Digests) > 0 || rel.ManifestsHash != "" {
		detail += "; releases " + releaseText(rel)
	}
	if err := s.st.CreateApproval(ctx, &a, store.AuditEntry{At: now, Actor: Actor, Action: "approval.requested", Detail: detail}); err != nil {
		return store.Approval{}, err
	}
	s.notify()
	return a, nil
}

func releaseText(r store.Release) string {
	var parts []string
	for k, v := range r.Digests {
		parts = append(parts, k+"="+v)
	}
	if r.ManifestsHash != "" {
		parts = append(parts, "manifests="+r.ManifestsHash)
	}
	return strings.Join(parts, ", ")
}

// release computes what run has produced so far.
func (s *Service) release(ctx context.Context, runID string) (store.Release, error) {
	r, err := s.st.GetRun(ctx, runID)
	if err != nil {
		return store.Release{}, err
	}
	recs, err := s.st.ListRecords(ctx, runID)
	if err != nil {
		return store.Release{}, err
	}
	return ReleaseOf(r.Variables, recs), nil
}

// Decide records user's decision (store.DecisionApprove or
// store.DecisionReject) on the approval id and returns the approval after
// it. A refused decision is audited too and returns an error wrapping
// ErrNotApprover, ErrRequesterCannotApprove, ErrAlreadyDecided,
// ErrDigestChanged or ErrBadDecision (and store.ErrNotFound for an unknown
// id).
func (s *Service) Decide(ctx context.Context, id, user, decision, comment string) (store.Approval, error) {
	now := s.clock.Now().UTC()
	a, err := s.st.GetApproval(ctx, id)
	if err != nil {
		return store.Approval{}, fmt.Errorf("decide approval %s: %w", id, err)
	}
	refuse := func(err error) (store.Approval, error) {
		err = fmt.Errorf("%s approval %s of run %s: %w", decision, id, a.RunID, err)
		if aerr := s.st.AppendAudit(ctx, store.AuditEntry{At: now, Actor: user, Action: "approval.refused", RunID: a.RunID, Subject: id, Detail: err.Error()}); aerr != nil {
			return a, errors.Join(err, aerr)
		}
		return a, err
	}
	if decision != store.DecisionApprove && decision != store.DecisionReject {
		return refuse(fmt.Errorf("%q: use approve or reject: %w", decision, ErrBadDecision))
	}
	// A pending approval past its time is timed out first.
	if a.State == store.ApprovalPending && Tally(a, now) == store.ApprovalTimedOut {
		if a, err = s.settle(ctx, a, now); err != nil {
			return a, err
		}
	}
	if a.State != store.ApprovalPending {
		return refuse(fmt.Errorf("it is %s already: %w", a.State, ErrAlreadyDecided))
	}
	if err := CanDecide(a.Policy, a.Requester, user, s.users); err != nil {
		return refuse(err)
	}
	for _, d := range a.Decisions {
		if strings.EqualFold(d.User, user) {
			return refuse(fmt.Errorf("%s decided it already (%s at %s): %w", user, d.Decision, d.At.Format(time.RFC3339), ErrAlreadyDecided))
		}
	}
	if decision == store.DecisionApprove {
		cur, err := s.release(ctx, a.RunID)
		if err != nil {
			return a, fmt.Errorf("decide approval %s: %w", id, err)
		}
		if ch := ReleaseChanges(a.Release, cur); len(ch) > 0 {
			return refuse(fmt.Errorf("the run's images or manifests changed since approval was asked (%s): this approval cannot release them; rerun the stage to ask again: %w",
				strings.Join(ch, "; "), ErrDigestChanged))
		}
	}
	var out store.Approval
	err = s.st.UpdateApproval(ctx, id, func(x *store.Approval) (store.ApprovalChange, error) {
		if x.State != store.ApprovalPending {
			return store.ApprovalChange{}, fmt.Errorf("it is %s already: %w", x.State, ErrAlreadyDecided)
		}
		for _, d := range x.Decisions {
			if strings.EqualFold(d.User, user) {
				return store.ApprovalChange{}, fmt.Errorf("%s decided it already: %w", user, ErrAlreadyDecided)
			}
		}
		d := store.ApprovalDecision{User: user, Decision: decision, Comment: comment, At: now, Release: x.Release}
		x.Decisions = append(x.Decisions, d)
		ch := store.ApprovalChange{Decision: &d, Audit: []store.AuditEntry{{At: now, Actor: user, Action: "approval." + decision, Detail: comment}}}
		if st := Tally(*x, now); st != store.ApprovalPending {
			x.State, x.DecidedAt = st, now
			detail := describe(*x) + " " + string(st)
			if st == store.ApprovalApproved && (len(x.Release.Digests) > 0 || x.Release.ManifestsHash != "") {
				detail += "; releases " + releaseText(x.Release)
			}
			ch.Audit = append(ch.Audit, store.AuditEntry{At: now, Actor: Actor, Action: "approval." + string(st), Detail: detail})
		}
		out = *x
		return ch, nil
	})
	if err != nil {
		if errors.Is(err, ErrAlreadyDecided) {
			return refuse(errors.Unwrap(err))
		}
		return a, fmt.Errorf("decide approval %s: %w", id, err)
	}
	s.notify()
	return out, nil
}

// settle records the timeout of a pending approval past its time.
func (s *Service) settle(ctx context.Context, a store.Approval, now time.Time) (store.Approval, error) {
	var out store.Approval
	err := s.st.UpdateApproval(ctx, a.ID, func(x *store.Approval) (store.ApprovalChange, error) {
		out = *x
		if x.State != store.ApprovalPending || Tally(*x, now) != store.ApprovalTimedOut {
			return store.ApprovalChange{}, nil
		}
		x.State, x.DecidedAt = store.ApprovalTimedOut, now
		out = *x
		onTimeout := x.Policy.OnTimeout
		if onTimeout == "" {
			onTimeout = OnTimeoutReject
		}
		return store.ApprovalChange{Audit: []store.AuditEntry{{At: now, Actor: Actor, Action: "approval.timedOut",
			Detail: fmt.Sprintf("%s timed out after %v; onTimeout: %s", describe(*x), x.Policy.Timeout, onTimeout)}}}, nil
	})
	if err != nil {
		return a, fmt.Errorf("time out approval %s: %w", a.ID, err)
	}
	if out.State != a.State {
		s.notify()
	}
	return out, nil
}

// Check returns the verdict on the approval id now, recording its timeout
// when it has passed.
func (s *Service) Check(ctx context.Context, id string) (Verdict, store.Approval, error) {
	a, err := s.st.GetApproval(ctx, id)
	if err != nil {
		return Verdict{}, a, fmt.Errorf("check approval %s: %w", id, err)
	}
	now := s.clock.Now()
	if a.State == store.ApprovalPending && Tally(a, now) == store.ApprovalTimedOut {
		if a, err = s.settle(ctx, a, now); err != nil {
			return Verdict{}, a, err
		}
	}
	return Judge(a, now, s.poll), a, nil
}

// Cancel cancels every pending approval of the run (the run was canceled or
// superseded), auditing each.
func (s *Service) Cancel(ctx context.Context, runID, reason string) error {
	as, err := s.st.ListApprovals(ctx, store.ApprovalFilter{RunID: runID, State: store.ApprovalPending})
	if err != nil {
		return err
	}
	now := s.clock.Now().UTC()
	for _, a := range as {
		err := s.st.UpdateApproval(ctx, a.ID, func(x *store.Approval) (store.ApprovalChange, error) {
			if x.State != store.ApprovalPending {
				return store.ApprovalChange{}, nil
			}
			x.State, x.DecidedAt = store.ApprovalCanceled, now
			return store.ApprovalChange{Audit: []store.AuditEntry{{At: now, Actor: Actor, Action: "approval.canceled", Detail: reason}}}, nil
		})
		if err != nil {
			return fmt.Errorf("cancel approval %s: %w", a.ID, err)
		}
	}
	if len(as) > 0 {
		s.notify()
	}
	return nil
}

// Pending returns every pending approval of a run still going, oldest
// first (those of runID only, when not empty).
func (s *Service) Pending(ctx context.Context, runID string) ([]store.Approval, error) {
	as, err := s.st.ListApprovals(ctx, store.ApprovalFilter{RunID: runID, State: store.ApprovalPending})
	if err != nil {
		return nil, err
	}
	// Approvals of runs that ended without deciding them (an interrupted
	// run) wait for nothing.
	out := as[:0]
	ended := map[string]bool{}
	for _, a := range as {
		e, ok := ended[a.RunID]
		if !ok {
			r, err := s.st.GetRun(ctx, a.RunID)
			if err != nil {
				return nil, err
			}
			e = r.State == store.StateCompleted
			ended[a.RunID] = e
		}
		if !e {
			out = append(out, a)
		}
	}
	return out, nil
}

// Get returns one approval with its decisions.
func (s *Service) Get(ctx context.Context, id string) (store.Approval, error) {
	return s.st.GetApproval(ctx, id)
}

// List returns the approvals matching f, oldest first.
func (s *Service) List(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	return s.st.ListApprovals(ctx, f)
}

// Audit returns the audit log entries matching f, in order.
func (s *Service) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	return s.st.ListAudit(ctx, f)
}

// Record appends an entry to the audit log (branch control refusals and
// other decisions of the engine).
func (s *Service) Record(ctx context.Context, e store.AuditEntry) error {
	if e.Actor == "" {
		e.Actor = Actor
	}
	if e.At.IsZero() {
		e.At = s.clock.Now().UTC()
	}
	return s.st.AppendAudit(ctx, e)
}

// Lock asks for the exclusive lock of an environment for a run's gate:
// Passed when held, Pending while another run holds it or an older one
// waits first, Canceled when a newer run superseded this one (runLatest).
// Runs it supersedes are told through Changed.
func (s *Service) Lock(ctx context.Context, req store.LockRequest) (Verdict, error) {
	l, err := s.st.AcquireEnvLock(ctx, req)
	if err != nil {
		return Verdict{}, err
	}
	now := s.clock.Now().UTC()
	for _, r := range l.Superseded {
		if err := s.st.AppendAudit(ctx, store.AuditEntry{At: now, Actor: Actor, Action: "lock.superseded", RunID: r, Subject: req.Environment,
			Detail: fmt.Sprintf("run %s is newer and the environment's lockBehavior is runLatest", req.RunID)}); err != nil {
			return Verdict{}, err
		}
	}
	if len(l.Superseded) > 0 {
		s.notify()
	}
	switch l.State {
	case store.LockHeld:
		return Verdict{Status: Passed, Message: "exclusive lock of environment " + req.Environment + " acquired"}, nil
	case store.LockCanceled:
		return Verdict{Status: Canceled, Message: fmt.Sprintf("a newer run took the exclusive lock of environment %s (lockBehavior: runLatest): this run's deployment is canceled", req.Environment)}, nil
	case store.LockReleased:
		return Verdict{Status: Failed, Message: "the exclusive lock of environment " + req.Environment + " was already released by this stage"}, nil
	}
	return Verdict{Status: Pending, RetryAfter: s.poll,
		Message: fmt.Sprintf("waits for the exclusive lock of environment %s, held or first asked by run %s (%s)", req.Environment, l.HolderRun, l.HolderGate)}, nil
}

// Unlock releases a run's gate's lock of an environment (or withdraws its
// request) and wakes the runs waiting for it.
func (s *Service) Unlock(ctx context.Context, environment, runID, gate string) error {
	if err := s.st.ReleaseEnvLock(ctx, environment, runID, gate); err != nil {
		return err
	}
	s.notify()
	return nil
}

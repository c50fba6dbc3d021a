package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

func newRun(t *testing.T, s *store.DB) string {
	t.Helper()
	r := store.Run{Pipeline: "p", State: store.StateRunning}
	if err := s.CreateRun(t.Context(), &r); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

func TestApprovalLifecycle(t *testing.T) { eachDB(t, testApprovalLifecycle) }

func testApprovalLifecycle(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	run := newRun(t, s)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := store.Approval{RunID: run, Gate: "Deploy", Kind: store.ApprovalKindEnvironment, Environment: "production", Requester: "alice",
		Policy:    store.ApprovalPolicy{Approvers: []string{"bob", "ops"}, MinApprovers: 2, RequesterCannotApprove: true, Timeout: 30 * time.Minute, OnTimeout: "reject"},
		Release:   store.Release{Digests: map[string]string{"Build.J.push.imageDigest": "sha256:aa"}, ManifestsHash: "sha256:mm"},
		CreatedAt: t0, ExpiresAt: t0.Add(30 * time.Minute)}
	if err := s.CreateApproval(ctx, &a, store.AuditEntry{Actor: "conveyor", Action: "approval.requested"}); err != nil {
		t.Fatal(err)
	}
	if a.ID == "" || a.State != store.ApprovalPending {
		t.Fatalf("created approval %+v", a)
	}
	got, err := s.GetApproval(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	d := store.ApprovalDecision{User: "bob", Decision: store.DecisionApprove, Comment: "ok", At: t0.Add(time.Minute), Release: a.Release}
	err = s.UpdateApproval(ctx, a.ID, func(x *store.Approval) (store.ApprovalChange, error) {
		x.State, x.DecidedAt = store.ApprovalApproved, d.At
		return store.ApprovalChange{Decision: &d, Audit: []store.AuditEntry{{Actor: "bob", Action: "approval.approved", At: d.At}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err = s.GetApproval(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.ApprovalDecision{d}, got.Decisions); diff != "" {
		t.Errorf("decisions (-want +got):\n%s", diff)
	}
	if got.State != store.ApprovalApproved || !got.DecidedAt.Equal(d.At) {
		t.Errorf("state %s decided %v", got.State, got.DecidedAt)
	}
	// A failing callback changes nothing.
	boom := errors.New("boom")
	if err := s.UpdateApproval(ctx, a.ID, func(x *store.Approval) (store.ApprovalChange, error) {
		x.State = store.ApprovalRejected
		return store.ApprovalChange{}, boom
	}); !errors.Is(err, boom) {
		t.Errorf("update error %v, want boom", err)
	}
	if _, err := s.GetApproval(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing approval: %v", err)
	}
	pending, err := s.ListApprovals(ctx, store.ApprovalFilter{State: store.ApprovalPending})
	if err != nil || len(pending) != 0 {
		t.Errorf("pending = %v, %v; want none", pending, err)
	}
	byRun, err := s.ListApprovals(ctx, store.ApprovalFilter{RunID: run, Gate: "Deploy"})
	if err != nil || len(byRun) != 1 || byRun[0].State != store.ApprovalApproved {
		t.Errorf("by run = %+v, %v", byRun, err)
	}
	audit, err := s.ListAudit(ctx, store.AuditFilter{RunID: run})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Actor+" "+e.Action+" "+e.Subject)
	}
	if diff := cmp.Diff([]string{"conveyor approval.requested " + a.ID, "bob approval.approved " + a.ID}, actions); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestEnvLockSequential(t *testing.T) { eachDB(t, testEnvLockSequential) }

func testEnvLockSequential(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	r1, r2 := newRun(t, s), newRun(t, s)
	acquire := func(run string) store.Lock {
		t.Helper()
		l, err := s.AcquireEnvLock(ctx, store.LockRequest{Environment: "prod", RunID: run, Gate: "Deploy"})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := acquire(r1); l.State != store.LockHeld {
		t.Fatalf("first request: %+v", l)
	}
	if diff := cmp.Diff(store.Lock{State: store.LockWaiting, HolderRun: r1, HolderGate: "Deploy"}, acquire(r2)); diff != "" {
		t.Errorf("second request (-want +got):\n%s", diff)
	}
	if l := acquire(r1); l.State != store.LockHeld {
		t.Errorf("asking again: %+v", l)
	}
	if err := s.ReleaseEnvLock(ctx, "prod", r1, "Deploy"); err != nil {
		t.Fatal(err)
	}
	if l := acquire(r2); l.State != store.LockHeld {
		t.Errorf("after release: %+v", l)
	}
}

func TestEnvLockRunLatest(t *testing.T) { eachDB(t, testEnvLockRunLatest) }

func testEnvLockRunLatest(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	r1, r2, r3 := newRun(t, s), newRun(t, s), newRun(t, s)
	req := func(run string) store.LockRequest {
		return store.LockRequest{Environment: "prod", RunID: run, Gate: "Deploy", Behavior: store.LockRunLatest}
	}
	for _, r := range []string{r1, r2} {
		if _, err := s.AcquireEnvLock(ctx, req(r)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.AcquireEnvLock(ctx, req(r3))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(store.Lock{State: store.LockWaiting, HolderRun: r1, HolderGate: "Deploy", Superseded: []string{r2}}, l); diff != "" {
		t.Errorf("third request (-want +got):\n%s", diff)
	}
	if l, _ := s.AcquireEnvLock(ctx, req(r2)); l.State != store.LockCanceled {
		t.Errorf("superseded request: %+v", l)
	}
	if err := s.ReleaseEnvLock(ctx, "prod", r1, "Deploy"); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.AcquireEnvLock(ctx, req(r3)); l.State != store.LockHeld {
		t.Errorf("latest after release: %+v", l)
	}
}

func TestRunInput(t *testing.T) { eachDB(t, testRunInput) }

func testRunInput(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := context.Background()
	run := newRun(t, s)
	if _, err := s.RunInput(ctx, run); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("before save: %v", err)
	}
	for _, in := range []string{`{"a":1}`, `{"a":2}`} {
		if err := s.SaveRunInput(ctx, run, []byte(in)); err != nil {
			t.Fatal(err)
		}
		got, err := s.RunInput(ctx, run)
		if err != nil || string(got) != in {
			t.Errorf("RunInput = %s, %v; want %s", got, err, in)
		}
	}
}

func TestEnvLockOfEndedRunHoldsNothing(t *testing.T) { eachDB(t, testEnvLockOfEndedRunHoldsNothing) }

func testEnvLockOfEndedRunHoldsNothing(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	r1, r2 := newRun(t, s), newRun(t, s)
	if l, err := s.AcquireEnvLock(ctx, store.LockRequest{Environment: "prod", RunID: r1, Gate: "Deploy"}); err != nil || l.State != store.LockHeld {
		t.Fatalf("first: %+v, %v", l, err)
	}
	// r1's process died and its run was reconciled as interrupted.
	if err := s.UpdateRun(ctx, r1, func(r *store.Run) error {
		r.State, r.Result = store.StateCompleted, store.ResultInterrupted
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if l, err := s.AcquireEnvLock(ctx, store.LockRequest{Environment: "prod", RunID: r2, Gate: "Deploy"}); err != nil || l.State != store.LockHeld {
		t.Errorf("after the holder ended: %+v, %v", l, err)
	}
}

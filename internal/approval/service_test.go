package approval_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	st    *store.SQLite
	svc   *approval.Service
	clock *fakeClock
	run   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	f.st = storetest.NewTestStore(t, store.WithClock(f.clock.Now))
	var err error
	f.svc, err = approval.NewService(f.st, approval.WithClock(f.clock), approval.WithPoll(0),
		approval.WithUsers(approval.Users{"bob": {"release-team"}, "dave": {"release-team"}, "alice": {"release-team"}}))
	if err != nil {
		t.Fatal(err)
	}
	r := store.Run{Pipeline: "cd", State: store.StateRunning, Variables: map[string]string{"base.digest": "sha256:base"}}
	if err := f.st.CreateRun(t.Context(), &r); err != nil {
		t.Fatal(err)
	}
	f.run = r.ID
	if err := f.st.UpsertRecord(t.Context(), store.Record{RunID: r.ID, ID: "Build.Push", Type: store.RecordJob, Attempt: 1,
		State: store.StateCompleted, Result: store.ResultSucceeded, Outputs: map[string]string{"push.imageDigest": "sha256:aa"}}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) request(t *testing.T, p store.ApprovalPolicy) store.Approval {
	t.Helper()
	a, err := f.svc.Request(t.Context(), approval.Request{RunID: f.run, Gate: "Deploy", Kind: store.ApprovalKindEnvironment,
		Environment: "production", Requester: "alice", Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestServiceApprovalFlow(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a := f.request(t, store.ApprovalPolicy{Approvers: []string{"ops-lead", "release-team"}, MinApprovers: 2, RequesterCannotApprove: true})
	if diff := cmp.Diff(store.Release{Digests: map[string]string{"Build.Push.push.imageDigest": "sha256:aa", "base.digest": "sha256:base"}}, a.Release); diff != "" {
		t.Errorf("release (-want +got):\n%s", diff)
	}
	// Asking again (a resumed run) returns the same approval.
	if again := f.request(t, store.ApprovalPolicy{}); again.ID != a.ID {
		t.Errorf("second request made approval %s, want %s", again.ID, a.ID)
	}
	changed := f.svc.Changed()
	for _, tc := range []struct {
		user, decision string
		want           error
	}{
		{"alice", store.DecisionApprove, approval.ErrRequesterCannotApprove},
		{"carol", store.DecisionApprove, approval.ErrNotApprover},
		{"bob", "maybe", approval.ErrBadDecision},
	} {
		if _, err := f.svc.Decide(ctx, a.ID, tc.user, tc.decision, ""); !errors.Is(err, tc.want) {
			t.Errorf("Decide by %s = %v, want %v", tc.user, err, tc.want)
		}
	}
	got, err := f.svc.Decide(ctx, a.ID, "bob", store.DecisionApprove, "looks good")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.ApprovalPending {
		t.Errorf("after one of two approvals: %s", got.State)
	}
	select {
	case <-changed:
	default:
		t.Error("Changed not closed by a decision")
	}
	if _, err := f.svc.Decide(ctx, a.ID, "bob", store.DecisionApprove, ""); !errors.Is(err, approval.ErrAlreadyDecided) {
		t.Errorf("second vote by bob: %v", err)
	}
	if v, _, err := f.svc.Check(ctx, a.ID); err != nil || v.Status != approval.Pending {
		t.Errorf("Check after one vote = %+v, %v", v, err)
	}
	got, err = f.svc.Decide(ctx, a.ID, "ops-lead", store.DecisionApprove, "")
	if err != nil || got.State != store.ApprovalApproved {
		t.Fatalf("second approver: %+v, %v", got, err)
	}
	if v, _, _ := f.svc.Check(ctx, a.ID); v.Status != approval.Passed {
		t.Errorf("Check after approval = %+v", v)
	}
	if _, err := f.svc.Decide(ctx, a.ID, "dave", store.DecisionReject, ""); !errors.Is(err, approval.ErrAlreadyDecided) {
		t.Errorf("decision on approved: %v", err)
	}
	audit, err := f.svc.Audit(ctx, store.AuditFilter{RunID: f.run})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range audit {
		lines = append(lines, e.Actor+" "+e.Action)
	}
	want := []string{
		"conveyor approval.requested",
		"alice approval.refused", "carol approval.refused", "bob approval.refused",
		"bob approval.approve",
		"bob approval.refused",
		"ops-lead approval.approve", "conveyor approval.approved",
		"dave approval.refused",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
}

func TestServiceRejectAndDigestChange(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	a := f.request(t, store.ApprovalPolicy{Approvers: []string{"release-team"}})
	// A rebuild changes the digest after approval was asked.
	if err := f.st.UpsertRecord(ctx, store.Record{RunID: f.run, ID: "Build.Push", Type: store.RecordJob, Attempt: 2,
		State: store.StateCompleted, Outputs: map[string]string{"push.imageDigest": "sha256:evil"}}); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Decide(ctx, a.ID, "bob", store.DecisionApprove, "")
	if !errors.Is(err, approval.ErrDigestChanged) {
		t.Fatalf("approve after digest change: %v", err)
	}
	// Rejecting is still possible.
	got, err := f.svc.Decide(ctx, a.ID, "dave", store.DecisionReject, "not this one")
	if err != nil || got.State != store.ApprovalRejected {
		t.Fatalf("reject: %+v, %v", got, err)
	}
	v, _, _ := f.svc.Check(ctx, a.ID)
	if v.Status != approval.Failed || v.Message != "approval of environment production for Deploy rejected by dave (dave: not this one)" {
		t.Errorf("verdict %+v", v)
	}
}

func TestServiceTimeout(t *testing.T) {
	for _, tc := range []struct {
		onTimeout string
		want      approval.Status
	}{{"reject", approval.Failed}, {"", approval.Failed}, {"resume", approval.Passed}} {
		t.Run("onTimeout="+tc.onTimeout, func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			a := f.request(t, store.ApprovalPolicy{Timeout: 30 * time.Minute, OnTimeout: tc.onTimeout})
			v, _, err := f.svc.Check(ctx, a.ID)
			if err != nil || v.Status != approval.Pending || v.RetryAfter != 30*time.Minute {
				t.Fatalf("before timeout: %+v, %v", v, err)
			}
			f.clock.Advance(30 * time.Minute)
			v, got, err := f.svc.Check(ctx, a.ID)
			if err != nil || v.Status != tc.want || got.State != store.ApprovalTimedOut {
				t.Fatalf("after timeout: %+v %s, %v", v, got.State, err)
			}
			if _, err := f.svc.Decide(ctx, a.ID, "bob", store.DecisionApprove, ""); !errors.Is(err, approval.ErrAlreadyDecided) {
				t.Errorf("approve after timeout: %v", err)
			}
			audit, _ := f.svc.Audit(ctx, store.AuditFilter{RunID: f.run, Subject: a.ID})
			var actions []string
			for _, e := range audit {
				actions = append(actions, e.Action)
			}
			if diff := cmp.Diff([]string{"approval.requested", "approval.timedOut", "approval.refused"}, actions); diff != "" {
				t.Errorf("audit (-want +got):\n%s", diff)
			}
		})
	}
}

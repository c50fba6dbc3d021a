package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

func TestLeaseLifecycle(t *testing.T) { eachDB(t, testLeaseLifecycle) }

func testLeaseLifecycle(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := store.Lease{RunID: "R1", JobID: "Build.Job", Spec: []byte(`{"jobId":"Build.Job"}`), Demands: []string{"go", "os -equals linux"}}
	if err := s.EnqueueLease(ctx, &l); err != nil {
		t.Fatal(err)
	}
	queued, err := s.ListLeases(ctx, store.LeaseQueued)
	if err != nil {
		t.Fatal(err)
	}
	if len(queued) != 1 || queued[0].ID != l.ID || string(queued[0].Spec) != `{"jobId":"Build.Job"}` {
		t.Fatalf("queued leases = %+v, want the one enqueued", queued)
	}
	if diff := cmp.Diff(l.Demands, queued[0].Demands); diff != "" {
		t.Errorf("demands (-want +got):\n%s", diff)
	}

	got, err := s.AcquireLease(ctx, l.ID, "agent-a", "tok1", t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.LeaseLeased || got.Agent != "agent-a" || got.Attempt != 1 {
		t.Errorf("acquired lease = %+v, want leased by agent-a attempt 1", got)
	}
	if _, err := s.AcquireLease(ctx, l.ID, "agent-b", "tok2", t0.Add(time.Minute)); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("second AcquireLease: error = %v, want ErrLeaseLost", err)
	}
	if err := s.RenewLease(ctx, l.ID, "tok1", t0.Add(2*time.Minute)); err != nil {
		t.Errorf("RenewLease by the holder: %v", err)
	}
	if err := s.RenewLease(ctx, l.ID, "wrong", t0.Add(2*time.Minute)); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("RenewLease with another token: error = %v, want ErrLeaseLost", err)
	}

	// Not expired yet at 1m59s.
	if ch, err := s.ExpireLeases(ctx, t0.Add(119*time.Second), 2); err != nil || len(ch) != 0 {
		t.Fatalf("ExpireLeases before the expiry = %v, %v; want nothing", ch, err)
	}
	ch, err := s.ExpireLeases(ctx, t0.Add(2*time.Minute), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 1 || ch[0].State != store.LeaseQueued || !cmp.Equal(ch[0].Excluded, []string{"agent-a"}) {
		t.Fatalf("expired = %+v, want queued again excluding agent-a", ch)
	}
	if err := s.RenewLease(ctx, l.ID, "tok1", t0.Add(3*time.Minute)); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("RenewLease after expiry: error = %v, want ErrLeaseLost", err)
	}
	if _, err := s.AcquireLease(ctx, l.ID, "agent-a", "tok3", t0.Add(3*time.Minute)); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("AcquireLease by the agent that lost it: error = %v, want ErrLeaseLost", err)
	}
	got, err = s.AcquireLease(ctx, l.ID, "agent-b", "tok4", t0.Add(3*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got.Attempt != 2 {
		t.Errorf("attempt = %d, want 2", got.Attempt)
	}
	if err := s.FinishLease(ctx, l.ID, "tok1", store.LeaseDone); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("FinishLease with the old token: error = %v, want ErrLeaseLost", err)
	}
	if err := s.FinishLease(ctx, l.ID, "tok4", store.LeaseDone); err != nil {
		t.Fatal(err)
	}
	final, err := s.GetLease(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.State != store.LeaseDone {
		t.Errorf("state = %s, want done", final.State)
	}
}

func TestLeaseExpiresTooOftenFails(t *testing.T) { eachDB(t, testLeaseExpiresTooOftenFails) }

func testLeaseExpiresTooOftenFails(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := store.Lease{RunID: "R1", JobID: "J"}
	if err := s.EnqueueLease(ctx, &l); err != nil {
		t.Fatal(err)
	}
	for i, agent := range []string{"a", "b"} {
		if _, err := s.AcquireLease(ctx, l.ID, agent, agent, t0); err != nil {
			t.Fatal(err)
		}
		ch, err := s.ExpireLeases(ctx, t0, 2)
		if err != nil {
			t.Fatal(err)
		}
		want := store.LeaseQueued
		if i == 1 {
			want = store.LeaseFailed
		}
		if len(ch) != 1 || ch[0].State != want {
			t.Fatalf("after loss %d: %+v, want state %s", i+1, ch, want)
		}
	}
}

func TestAbandonLeases(t *testing.T) { eachDB(t, testAbandonLeases) }

func testAbandonLeases(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	var ids []string
	for range 3 {
		l := store.Lease{RunID: "R1", JobID: "J"}
		if err := s.EnqueueLease(ctx, &l); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	if _, err := s.AcquireLease(ctx, ids[1], "a", "t", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishLease(ctx, ids[2], "", store.LeaseFailed); err != nil {
		t.Fatal(err)
	}
	n, err := s.AbandonLeases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("abandoned %d, want 2 (the queued and the leased one)", n)
	}
}

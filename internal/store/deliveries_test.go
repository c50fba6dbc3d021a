package store_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

func TestClaimDelivery(t *testing.T) { eachDB(t, testClaimDelivery) }

func testClaimDelivery(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	for _, tt := range []struct {
		provider, id string
		want         bool
	}{
		{"github", "a", true},
		{"github", "a", false}, // replay
		{"gitea", "a", true},   // another provider's id space
		{"github", "b", true},
	} {
		got, err := s.ClaimDelivery(ctx, tt.provider, tt.id)
		if err != nil || got != tt.want {
			t.Errorf("ClaimDelivery(%s, %s) = %v, %v; want %v", tt.provider, tt.id, got, err, tt.want)
		}
	}
	if err := s.ReleaseDelivery(ctx, "github", "a"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClaimDelivery(ctx, "github", "a"); err != nil || !got {
		t.Errorf("claim after release = %v, %v; want true", got, err)
	}
}

func TestClaimDeliveryConcurrently(t *testing.T) { eachDB(t, testClaimDeliveryConcurrently) }

func testClaimDeliveryConcurrently(t *testing.T, open storetest.Opener) {
	s := open(t)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.ClaimDelivery(t.Context(), "github", fmt.Sprint("d", i%4))
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 4 {
		t.Errorf("%d claims won, want 4 (one per delivery id)", wins.Load())
	}
}

func TestPruneDeliveries(t *testing.T) { eachDB(t, testPruneDeliveries) }

func testPruneDeliveries(t *testing.T, open storetest.Opener) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := open(t, store.WithClock(func() time.Time { return now }))
	ctx := t.Context()
	s.ClaimDelivery(ctx, "github", "old")
	now = now.Add(72 * time.Hour)
	s.ClaimDelivery(ctx, "github", "new")
	n, err := s.PruneDeliveries(ctx, now.Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PruneDeliveries = %d, %v; want 1", n, err)
	}
	if ok, _ := s.ClaimDelivery(ctx, "github", "new"); ok {
		t.Error("the recent delivery was pruned")
	}
}

func TestTriggerState(t *testing.T) { eachDB(t, testTriggerState) }

func testTriggerState(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	if _, ok, err := s.GetTriggerState(ctx, "poll/webapp"); ok || err != nil {
		t.Fatalf("missing key: ok=%v err=%v", ok, err)
	}
	for _, v := range []string{`{"refs/heads/main":"a"}`, `{"refs/heads/main":"b"}`} {
		if err := s.PutTriggerState(ctx, "poll/webapp", v); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := s.GetTriggerState(ctx, "poll/webapp"); !ok || err != nil || got != v {
			t.Errorf("get = %q, %v, %v; want %q", got, ok, err, v)
		}
	}
	if err := s.DeleteTriggerState(ctx, "poll/webapp"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTriggerState(ctx, "poll/webapp"); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
	if _, ok, _ := s.GetTriggerState(ctx, "poll/webapp"); ok {
		t.Error("key still there after delete")
	}
}

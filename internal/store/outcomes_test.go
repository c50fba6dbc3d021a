package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

func TestDeployOutcomes(t *testing.T) { eachDB(t, testDeployOutcomes) }

func testDeployOutcomes(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	first := store.DeployOutcome{Environment: "production", Pipeline: "cd", RunID: "r1", Job: "Prod.Deploy", Commit: "c1",
		CommitAt: t0.Add(-time.Hour), Status: store.DeployFailed, Reason: "rollout of Deployment/web failed",
		StartedAt: t0, FinishedAt: t0.Add(time.Minute)}
	if err := s.RecordDeployOutcome(ctx, &first); err != nil {
		t.Fatal(err)
	}
	staging := store.DeployOutcome{Environment: "staging", Pipeline: "cd", RunID: "r1", Job: "Staging.Deploy", Status: store.DeploySucceeded, FinishedAt: t0}
	if err := s.RecordDeployOutcome(ctx, &staging); err != nil {
		t.Fatal(err)
	}
	// A retried job replaces its outcome, keeping the ID.
	retried := first
	retried.ID, retried.Status, retried.Reason, retried.FinishedAt = 0, store.DeploySucceeded, "", t0.Add(5*time.Minute)
	retried.WatchUntil = t0.Add(10 * time.Minute)
	if err := s.RecordDeployOutcome(ctx, &retried); err != nil {
		t.Fatal(err)
	}
	if retried.ID != first.ID {
		t.Errorf("retried outcome got ID %d, want the first's %d", retried.ID, first.ID)
	}
	got, err := s.ListDeployOutcomes(ctx, store.DeployOutcomeFilter{Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.DeployOutcome{retried}, got); diff != "" {
		t.Errorf("production outcomes (-want +got):\n%s", diff)
	}
	all, err := s.ListDeployOutcomes(ctx, store.DeployOutcomeFilter{Since: t0, Until: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Environment != "staging" {
		t.Errorf("outcomes finished in [t0, t0+1m): %+v, want the staging one", all)
	}

	watched, err := s.WatchedDeployOutcomes(ctx, t0.Add(6*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(watched) != 1 || watched[0].ID != first.ID {
		t.Errorf("watched outcomes: %+v, want the production one", watched)
	}
	if err := s.SetDeployOutcomeStatus(ctx, first.ID, store.DeployDegraded, "pod web-1 crash-looping"); err != nil {
		t.Fatal(err)
	}
	if watched, _ := s.WatchedDeployOutcomes(ctx, t0.Add(6*time.Minute)); len(watched) != 0 {
		t.Errorf("a degraded outcome is still watched: %+v", watched)
	}
	got, _ = s.ListDeployOutcomes(ctx, store.DeployOutcomeFilter{Environment: "production"})
	if got[0].Status != store.DeployDegraded || got[0].Reason != "pod web-1 crash-looping" {
		t.Errorf("after SetDeployOutcomeStatus: %+v", got[0])
	}
	if err := s.SetDeployOutcomeStatus(ctx, 999, store.DeployDegraded, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetDeployOutcomeStatus of a missing outcome: %v, want ErrNotFound", err)
	}
	if err := s.RecordDeployOutcome(ctx, &store.DeployOutcome{Environment: "x"}); err == nil {
		t.Error("an outcome without run, job, status and finish time was stored")
	}
}

func TestFirstRunOfCommit(t *testing.T) { eachDB(t, testFirstRunOfCommit) }

func testFirstRunOfCommit(t *testing.T, open storetest.Opener) {
	s := open(t)
	ctx := t.Context()
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i, p := range []string{"ci", "cd"} {
		r := store.Run{Pipeline: p, Commit: "abc", State: store.StateRunning, CreatedAt: t0.Add(time.Duration(i) * time.Hour)}
		if err := s.CreateRun(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.FirstRunOfCommit(ctx, "abc")
	if err != nil || !got.Equal(t0) {
		t.Errorf("FirstRunOfCommit(abc) = %v, %v; want %v", got, err, t0)
	}
	if _, err := s.FirstRunOfCommit(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FirstRunOfCommit of an unknown commit: %v, want ErrNotFound", err)
	}
}

package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/store"
	"conveyor.dev/conveyor/internal/store/storetest"
)

func TestDeployments(t *testing.T) { eachDB(t, testDeployments) }

func testDeployments(t *testing.T, open storetest.Opener) {
	clock := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s := open(t, store.WithClock(func() time.Time { return clock }))
	ctx := t.Context()

	if _, err := s.LastDeployment(ctx, "staging", "web", "cd"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LastDeployment on an empty store: %v, want ErrNotFound", err)
	}
	first := store.Deployment{Environment: "staging", Namespace: "web", Pipeline: "cd", RunID: "r1", Commit: "c1",
		Manifests: []byte("kind: ConfigMap\n"), Objects: []store.DeployedObject{{Kind: "ConfigMap", Namespace: "web", Name: "a"}},
		Images: []string{"reg/web@sha256:1"}}
	if err := s.AddDeployment(ctx, &first); err != nil {
		t.Fatal(err)
	}
	second := first
	second.RunID, second.Commit, second.Images = "r2", "c2", nil
	second.Objects = []store.DeployedObject{{Group: "apps", Kind: "Deployment", Namespace: "web", Name: "web"}}
	if err := s.AddDeployment(ctx, &second); err != nil {
		t.Fatal(err)
	}
	other := store.Deployment{Environment: "production", Namespace: "web", Pipeline: "cd", Manifests: []byte("x")}
	if err := s.AddDeployment(ctx, &other); err != nil {
		t.Fatal(err)
	}
	if first.Revision != 1 || second.Revision != 2 || other.Revision != 1 {
		t.Errorf("revisions %d, %d, %d; want 1, 2 and 1 (per environment)", first.Revision, second.Revision, other.Revision)
	}
	got, err := s.LastDeployment(ctx, "staging", "web", "cd")
	if err != nil {
		t.Fatal(err)
	}
	want := second
	want.CreatedAt = clock
	want.Images = []string{}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LastDeployment (-want +got):\n%s", diff)
	}
	all, err := s.ListDeployments(ctx, store.DeploymentFilter{Namespace: "web"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, d := range all {
		ids = append(ids, d.ID)
	}
	if diff := cmp.Diff([]int64{other.ID, second.ID, first.ID}, ids); diff != "" {
		t.Errorf("ListDeployments newest first (-want +got):\n%s", diff)
	}
	if err := s.AddDeployment(ctx, &store.Deployment{Namespace: "x"}); err == nil {
		t.Error("AddDeployment without environment: no error")
	}
}

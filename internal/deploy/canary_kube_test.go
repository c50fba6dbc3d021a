package deploy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type workloadState struct {
	Replicas int32
	Image    string
	Version  string // the azure-pipelines/version label of the pod template
}

func workloads(t *testing.T, ns string) map[string]workloadState {
	t.Helper()
	ds, err := env.Client().AppsV1().Deployments(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]workloadState{}
	for _, d := range ds.Items {
		out[d.Name] = workloadState{*d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image, d.Spec.Template.Labels[VersionLabel]}
	}
	return out
}

func TestCanaryDeployPromoteReject(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := namespace(t)
	repo := testRegistry() + "/shop"
	d1 := pushImage(t, "shop", "v1")
	d2 := pushImage(t, "shop", "v2")
	d3 := pushImage(t, "shop", "v3")
	var log syncWriter
	dep := &Deployer{Manager: newManager(t), Revisions: &MemoryRevisions{}, Resolver: resolver(), Progress: &log}
	req := Request{Target: Target{Environment: "prod", Namespace: ns, Pipeline: "shop"},
		Objects: parse(t, webApp(repo+":v1", 4, "", 600)), Timeout: time.Minute, Rollback: true}
	if _, err := dep.Deploy(t.Context(), req); err != nil {
		t.Fatal(err)
	}

	// deploy with strategy canary at 25% of 4 replicas: one canary, one
	// baseline running the stable spec.
	req.Containers = []string{repo + ":v2"}
	if _, err := dep.DeployCanary(t.Context(), req, Canary{Percentage: 25}); err != nil {
		t.Fatalf("canary: %v\n%s", err, log.String())
	}
	want := map[string]workloadState{
		"web":          {4, repo + "@" + d1, ""},
		"web-canary":   {1, repo + "@" + d2, VersionCanary},
		"web-baseline": {1, repo + "@" + d1, VersionBaseline},
	}
	if diff := cmp.Diff(want, workloads(t, ns)); diff != "" {
		t.Errorf("after canary deploy (-want +got):\n%s", diff)
	}
	for _, name := range []string{"web-canary", "web-baseline"} {
		if d := deployment(t, ns, name); !available(d) {
			t.Errorf("%s not available after the canary deploy", name)
		}
	}

	// promote: v2 becomes stable, canary and baseline go.
	res, err := dep.Promote(t.Context(), req)
	if err != nil {
		t.Fatalf("promote: %v\n%s", err, log.String())
	}
	want = map[string]workloadState{"web": {4, repo + "@" + d2, VersionStable}}
	if diff := cmp.Diff(want, workloads(t, ns)); diff != "" {
		t.Errorf("after promote (-want +got):\n%s", diff)
	}
	if !available(deployment(t, ns, "web")) || res.Revision.Number != 2 {
		t.Errorf("after promote: available %v, revision %d; want available, revision 2", available(deployment(t, ns, "web")), res.Revision.Number)
	}

	// A second canary, with baselineAndCanaryReplicas 2, then reject.
	req.Containers = []string{repo + ":v3"}
	if _, err := dep.DeployCanary(t.Context(), req, Canary{Percentage: 25, Replicas: 2}); err != nil {
		t.Fatalf("canary 2: %v", err)
	}
	want = map[string]workloadState{
		"web":          {4, repo + "@" + d2, VersionStable},
		"web-canary":   {2, repo + "@" + d3, VersionCanary},
		"web-baseline": {2, repo + "@" + d2, VersionBaseline},
	}
	if diff := cmp.Diff(want, workloads(t, ns)); diff != "" {
		t.Errorf("after the second canary deploy (-want +got):\n%s", diff)
	}
	cs, err := dep.Reject(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Count(Deleted) != 2 {
		t.Errorf("reject deleted %d objects, want 2:\n%s", cs.Count(Deleted), cs)
	}
	want = map[string]workloadState{"web": {4, repo + "@" + d2, VersionStable}}
	if diff := cmp.Diff(want, workloads(t, ns)); diff != "" {
		t.Errorf("after reject (-want +got):\n%s", diff)
	}
}

func TestCanaryWithoutStableHasNoBaseline(t *testing.T) {
	ns := namespace(t)
	repo := testRegistry() + "/fresh"
	d1 := pushImage(t, "fresh", "v1")
	dep := &Deployer{Manager: newManager(t), Resolver: resolver()}
	req := Request{Target: Target{Environment: "prod", Namespace: ns, Pipeline: "fresh"},
		Objects: parse(t, webApp(repo+":v1", 10, "", 600)), Timeout: time.Minute}
	if _, err := dep.DeployCanary(t.Context(), req, Canary{Percentage: 30}); err != nil {
		t.Fatal(err)
	}
	want := map[string]workloadState{"web-canary": {3, repo + "@" + d1, VersionCanary}}
	if diff := cmp.Diff(want, workloads(t, ns)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

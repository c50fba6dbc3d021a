package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
)

func deployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := env.Client().AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func available(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == corev1.ConditionTrue && d.Status.AvailableReplicas == *d.Spec.Replicas && d.Status.UpdatedReplicas == *d.Spec.Replicas
		}
	}
	return false
}

func TestDeployCreatesUpdatesAndWaits(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := namespace(t)
	repo := testRegistry() + "/web"
	d1 := pushImage(t, "web", "v1")
	d2 := pushImage(t, "web", "v2")
	var log syncWriter
	dep := &Deployer{Manager: newManager(t), Revisions: &MemoryRevisions{}, Resolver: resolver(), Progress: &log}
	req := Request{
		Target:   Target{Environment: "staging", Namespace: ns, Pipeline: "webapp"},
		Objects:  parse(t, webApp(repo+":v1", 2, "", 600)),
		Metadata: Metadata{Pipeline: "webapp", Run: "run-1", RunNumber: 1, Commit: "c0ffee1"},
		Timeout:  time.Minute, Rollback: true,
	}
	res, err := dep.Deploy(t.Context(), req)
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, log.String())
	}
	want := []ChangeSetEntry{
		{ObjectRef{"", "ConfigMap", ns, "web-config"}, Created},
		{ObjectRef{"", "Service", ns, "web"}, Created},
		{ObjectRef{"apps", "Deployment", ns, "web"}, Created},
	}
	if diff := cmp.Diff(want, res.Applied.Entries); diff != "" {
		t.Errorf("first apply (-want +got):\n%s", diff)
	}
	live := deployment(t, ns, "web")
	if !available(live) {
		t.Errorf("Deployment not available when Deploy returned: %+v", live.Status)
	}
	if got, want := live.Spec.Template.Spec.Containers[0].Image, repo+"@"+d1; got != want {
		t.Errorf("live image %s, want %s", got, want)
	}
	wantAnn := map[string]string{AnnotationPipeline: "webapp", AnnotationRun: "run-1", AnnotationRunNum: "1", AnnotationCommit: "c0ffee1", AnnotationImages: repo + "@" + d1}
	for k, v := range wantAnn {
		if live.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, live.Annotations[k], v)
		}
	}
	if res.Revision.Number != 1 || !strings.Contains(string(res.Revision.Manifests), repo+"@"+d1) {
		t.Errorf("revision %d with manifests\n%s\nwant number 1 with the digest", res.Revision.Number, res.Revision.Manifests)
	}

	// The update: a new image by tag through the containers input.
	req.Containers = []string{repo + ":v2"}
	req.Metadata.Run = "run-2"
	res, err = dep.Deploy(t.Context(), req)
	if err != nil {
		t.Fatalf("update: %v\n%s", err, log.String())
	}
	actions := map[string]Action{}
	for _, e := range res.Applied.Entries {
		actions[e.Ref.String()] = e.Action
	}
	// The ConfigMap and Service get the new run annotation: configured.
	if diff := cmp.Diff(map[string]Action{"ConfigMap/web-config": Configured, "Service/web": Configured, "Deployment/web": Configured}, actions); diff != "" {
		t.Errorf("update (-want +got):\n%s", diff)
	}
	live = deployment(t, ns, "web")
	if got, want := live.Spec.Template.Spec.Containers[0].Image, repo+"@"+d2; got != want || !available(live) {
		t.Errorf("after update: image %s available %v, want %s available", got, available(live), want)
	}
	// A repeat of the same deploy changes nothing.
	res, err = dep.Deploy(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Applied.Count(Unchanged); n != 3 {
		t.Errorf("repeat: %d unchanged, want 3:\n%s", n, res.Applied)
	}
	if !strings.Contains(log.String(), "Deployment/web: Current") {
		t.Errorf("progress lacks the Deployment turning Current:\n%s", log.String())
	}
}

func TestDeployRollsBackAFailedRollout(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := namespace(t)
	repo := testRegistry() + "/api"
	d1 := pushImage(t, "api", "v1")
	d2 := pushImage(t, "api", "v2")
	var log syncWriter
	dep := &Deployer{Manager: newManager(t), Revisions: &MemoryRevisions{}, Resolver: resolver(), Progress: &log}
	target := Target{Environment: "staging", Namespace: ns, Pipeline: "api"}
	good := Request{Target: target, Objects: parse(t, webApp(repo+":v1", 2, "", 3)),
		Metadata: Metadata{Run: "run-1", Commit: "1111111"}, Timeout: time.Minute, Rollback: true}
	if _, err := dep.Deploy(t.Context(), good); err != nil {
		t.Fatalf("good deploy: %v\n%s", err, log.String())
	}
	stableRS := currentReplicaSet(t, ns, "web")

	bad := good
	bad.Objects = parse(t, webApp(repo+":v2", 2, `{kubeenv.conveyor.dev/behavior: unready}`, 3))
	bad.Metadata = Metadata{Run: "run-2", Commit: "2222222"}
	_, err := dep.Deploy(t.Context(), bad)
	var derr *DeployError
	if !errors.As(err, &derr) {
		t.Fatalf("bad deploy: error %v, want a *DeployError\n%s", err, log.String())
	}
	if derr.Restored == nil || derr.Restored.Number != 1 || derr.RollbackErr != nil {
		t.Fatalf("bad deploy: %v: want revision 1 restored", err)
	}
	for _, want := range []string{"Deployment/web Failed: progress deadline exceeded", "rolled back to revision 1 (run run-1, commit 1111111", "healthy again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	live := deployment(t, ns, "web")
	if got, want := live.Spec.Template.Spec.Containers[0].Image, repo+"@"+d1; got != want || !available(live) {
		t.Errorf("after rollback: image %s available %v, want %s available", got, available(live), want)
	}
	if _, ok := live.Spec.Template.Annotations["kubeenv.conveyor.dev/behavior"]; ok {
		t.Error("after rollback the pod template still has the failing annotation")
	}
	if rs := currentReplicaSet(t, ns, "web"); rs.Name != stableRS.Name || rs.Status.ReadyReplicas != 2 {
		t.Errorf("serving ReplicaSet %s (%d ready), want the first one %s with 2 ready", rs.Name, rs.Status.ReadyReplicas, stableRS.Name)
	}
	_ = d2
	if testing.Verbose() {
		t.Logf("step log:\n%s", log.String())
	}

	// Opting out leaves the failed rollout in place.
	bad.Rollback = false
	_, err = dep.Deploy(t.Context(), bad)
	if err == nil || !strings.Contains(err.Error(), "not rolled back: rollbackOnFailure is off") {
		t.Errorf("deploy without rollback: %v", err)
	}
	if got := deployment(t, ns, "web").Spec.Template.Spec.Containers[0].Image; got != repo+"@"+d2 {
		t.Errorf("without rollback the live image is %s, want the failed %s", got, d2)
	}
}

// currentReplicaSet returns the ReplicaSet of the Deployment's current
// pod template.
func currentReplicaSet(t *testing.T, ns, name string) appsv1.ReplicaSet {
	t.Helper()
	d := deployment(t, ns, name)
	rss, err := env.Client().AppsV1().ReplicaSets(ns).List(t.Context(), metav1.ListOptions{LabelSelector: labels.SelectorFromSet(d.Spec.Selector.MatchLabels).String()})
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range rss.Items {
		if rs.Annotations["deployment.kubernetes.io/revision"] == d.Annotations["deployment.kubernetes.io/revision"] {
			return rs
		}
	}
	t.Fatalf("no ReplicaSet at the revision of Deployment %s", name)
	return appsv1.ReplicaSet{}
}

func TestDeployPrunesRemovedObjects(t *testing.T) {
	ns := namespace(t)
	dep := &Deployer{Manager: newManager(t), Revisions: &MemoryRevisions{}}
	two := `apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
`
	req := Request{Target: Target{Environment: "e", Namespace: ns, Pipeline: "p"}, Objects: parse(t, two), Timeout: time.Minute, Prune: true}
	if _, err := dep.Deploy(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	// Not applied by Conveyor: never pruned.
	if _, err := env.Client().CoreV1().ConfigMaps(ns).Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "manual"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	req.Objects = parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
	res, err := dep.Deploy(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ChangeSetEntry{{ObjectRef{"", "ConfigMap", ns, "b"}, Deleted}}, res.Pruned.Entries); diff != "" {
		t.Errorf("pruned (-want +got):\n%s", diff)
	}
	cms, _ := env.Client().CoreV1().ConfigMaps(ns).List(t.Context(), metav1.ListOptions{})
	var names []string
	for _, cm := range cms.Items {
		names = append(names, cm.Name)
	}
	if diff := cmp.Diff([]string{"a", "kube-root-ca.crt", "manual"}, names); diff != "" {
		t.Errorf("config maps (-want +got):\n%s", diff)
	}
}

func TestApplyNamespacesAndCRDsFirst(t *testing.T) {
	ns := strings.ToLower("crdfirst-" + time.Now().Format("150405"))
	y := `apiVersion: stable.conveyor.dev/v1
kind: Widget
metadata: {name: w1, namespace: ` + ns + `}
spec: {size: 3}
---
apiVersion: v1
kind: Namespace
metadata: {name: ` + ns + `}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.stable.conveyor.dev}
spec:
  group: stable.conveyor.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`
	m := newManager(t)
	objs := parse(t, y)
	cs, err := m.Apply(t.Context(), objs, ApplyOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	want := []ChangeSetEntry{
		{ObjectRef{"", "Namespace", "", ns}, Created},
		{ObjectRef{"apiextensions.k8s.io", "CustomResourceDefinition", "", "widgets.stable.conveyor.dev"}, Created},
		{ObjectRef{"stable.conveyor.dev", "Widget", ns, "w1"}, Created},
	}
	if diff := cmp.Diff(want, cs.Entries); diff != "" {
		t.Errorf("apply (-want +got):\n%s", diff)
	}
	if err := m.Wait(t.Context(), refsOf(objs), WaitOptions{Timeout: 30 * time.Second}); err != nil {
		t.Error(err)
	}
	t.Cleanup(func() {
		_, _ = m.Delete(t.Context(), []ObjectRef{want[1].Ref})
	})
}

func TestApplyErrorNamesTheObject(t *testing.T) {
	ns := namespace(t)
	m := newManager(t)
	_, err := m.Apply(t.Context(), parse(t, "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {ports: [{port: 99999}]}\n"), ApplyOptions{Namespace: ns})
	if err == nil || !strings.HasPrefix(err.Error(), "apply Service/bad: ") {
		t.Errorf("error %v, want one starting with apply Service/bad: ", err)
	}
	_, err = m.Apply(t.Context(), parse(t, "apiVersion: nope.dev/v1\nkind: Gadget\nmetadata: {name: g}\n"), ApplyOptions{Namespace: ns})
	if err == nil || !strings.Contains(err.Error(), "apply Gadget/g: kind Gadget.nope.dev is not served by the cluster") {
		t.Errorf("error %v, want an unknown kind named", err)
	}
}

func TestWaitTimesOutWithPodReasons(t *testing.T) {
	ns := namespace(t)
	m := newManager(t)
	objs := parse(t, webApp("registry.invalid/app@sha256:"+strings.Repeat("a", 64), 1, `{kubeenv.conveyor.dev/behavior: unready}`, 600))
	if _, err := m.Apply(t.Context(), objs, ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	var log syncWriter
	err := m.Wait(t.Context(), refsOf(objs), WaitOptions{Timeout: 8 * time.Second, Progress: &log})
	var werr *WaitError
	if !errors.As(err, &werr) || !werr.Timeout {
		t.Fatalf("wait: %v, want a timeout", err)
	}
	if len(werr.Pending) != 1 || werr.Pending[0].Ref.Kind != "Deployment" {
		t.Errorf("pending %+v, want the Deployment alone", werr.Pending)
	}
	if !strings.Contains(err.Error(), "ContainersNotReady") && !strings.Contains(err.Error(), "not ready") {
		t.Errorf("error lacks the pods' reason: %v", err)
	}
	if !strings.Contains(log.String(), "Deployment/web: pods: pod web-") {
		t.Errorf("progress lacks the pods' reason:\n%s", log.String())
	}
}

// cancelOnWrite cancels a context at the first progress line.
type cancelOnWrite struct{ cancel func() }

func (c cancelOnWrite) Write(p []byte) (int, error) { c.cancel(); return len(p), nil }

func TestWaitCanceledIsNotATimeout(t *testing.T) {
	ns := namespace(t)
	m := newManager(t)
	objs := parse(t, webApp("registry.invalid/app@sha256:"+strings.Repeat("c", 64), 1, `{kubeenv.conveyor.dev/behavior: unready}`, 600))
	if _, err := m.Apply(t.Context(), objs, ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	err := m.Wait(ctx, refsOf(objs), WaitOptions{Timeout: time.Minute, Progress: cancelOnWrite{cancel}})
	var werr *WaitError
	if err == nil || errors.As(err, &werr) || !errors.Is(err, context.Canceled) {
		t.Errorf("wait canceled by its caller: %v, want context.Canceled and no *WaitError", err)
	}
}

// lineSignal is a progress writer that signals when a line containing
// each of its substrings has been written.
type lineSignal struct {
	syncWriter
	want map[string]chan struct{}
}

func (l *lineSignal) Write(p []byte) (int, error) {
	n, err := l.syncWriter.Write(p)
	for sub, ch := range l.want {
		if strings.Contains(string(p), sub) {
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
	}
	return n, err
}

func TestWaitReportsWarningEvents(t *testing.T) {
	ns := namespace(t)
	m := newManager(t)
	objs := parse(t, webApp("registry.invalid/app@sha256:"+strings.Repeat("d", 64), 1, `{kubeenv.conveyor.dev/behavior: unready}`, 600))
	if _, err := m.Apply(t.Context(), objs, ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	podsSeen, eventSeen := make(chan struct{}), make(chan struct{})
	log := &lineSignal{want: map[string]chan struct{}{"pods: pod web-": podsSeen, "event Unhealthy: Readiness probe failed": eventSeen}}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Wait(ctx, refsOf(objs), WaitOptions{Timeout: time.Minute, Progress: log}) }()
	select {
	case <-podsSeen:
	case err := <-done:
		t.Fatalf("wait ended before reporting the pods: %v\n%s", err, log.String())
	}
	pods, err := env.Client().CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods: %v (%d)", err, len(pods.Items))
	}
	p := pods.Items[0]
	now := metav1.Now()
	_, err = env.Client().CoreV1().Events(ns).Create(t.Context(), &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: p.Name + ".probe"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: p.Name, UID: p.UID, APIVersion: "v1"},
		Type:           corev1.EventTypeWarning, Reason: "Unhealthy", Message: "Readiness probe failed: connection refused",
		FirstTimestamp: now, LastTimestamp: now, Count: 1, Source: corev1.EventSource{Component: "kubelet"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-eventSeen:
	case err := <-done:
		t.Fatalf("wait ended before reporting the event: %v\n%s", err, log.String())
	}
	cancel()
	<-done
	if !strings.Contains(log.String(), "Deployment/web: pod "+p.Name+": event Unhealthy: Readiness probe failed: connection refused") {
		t.Errorf("progress:\n%s", log.String())
	}
}

func TestWaitFailsFastWhenNotAllowedToWatch(t *testing.T) {
	ns := namespace(t)
	if _, err := newManager(t).Apply(t.Context(), parse(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"), ApplyOptions{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	m, err := NewResourceManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = m.Wait(t.Context(), []ObjectRef{{Kind: "ConfigMap", Namespace: ns, Name: "a"}}, WaitOptions{Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), "must be allowed to get, list and watch") {
		t.Errorf("wait without rights: %v, want a forbidden error at once", err)
	}
}

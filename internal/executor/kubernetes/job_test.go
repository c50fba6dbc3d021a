package kubernetes_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/executor/kubernetes"
	"conveyor.dev/conveyor/internal/image"
	"conveyor.dev/conveyor/internal/task"
)

type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) add(_ time.Time, s string) { l.mu.Lock(); l.all = append(l.all, s); l.mu.Unlock() }
func (l *lines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all...)
}

func startJob(t *testing.T, e *kubernetes.Executor, spec executor.JobSpec) executor.Job {
	t.Helper()
	j, err := e.StartJob(t.Context(), spec)
	if err != nil {
		t.Fatalf("start job %s: %v", spec.JobID, err)
	}
	t.Cleanup(func() { j.Close(t.Context()) })
	return j
}

func script(id, src string, out *lines) executor.Step {
	return executor.Step{ID: id, Task: "Bash@3", Inputs: map[string]string{"targetType": "inline", "script": src}, KillGrace: time.Second, Output: out.add}
}

// shellLessImage pushes an image with one file and no shell, no busybox,
// no PATH.
func shellLessImage(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := "hello from a shell-less image\n"
	if err := tw.WriteHeader(&tar.Header{Name: "greeting.txt", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(body))
	tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	_, ref, err := image.Push(t.Context(), img, regHost+"/test/shell-less:1")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestScriptRunsInTheJobContainerWithoutAShell(t *testing.T) {
	env.DumpLogsOnFailure(t)
	e := newExecutor(t, namespace(t))
	ref := shellLessImage(t)
	j := startJob(t, e, executor.JobSpec{RunID: "r1", Pipeline: "p", JobID: "Build.Container", Container: ref})
	if cj, ok := j.(executor.ContainerJob); !ok || !cj.RunsInContainer() {
		t.Errorf("a job with a container: does not report running in it")
	}
	var out lines
	res, err := j.RunStep(t.Context(), script("s", `cat /greeting.txt; test -e /bin/sh && echo "image has sh" || echo "no sh in image"; echo "$BASH_VERSION" | cut -d. -f1`, &out))
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("%+v %v %q", res, err, out.get())
	}
	want := []string{"hello from a shell-less image", "no sh in image", "5"}
	if got := out.get(); !slices.Equal(got, want) {
		t.Errorf("output %q, want %q", got, want)
	}
}

func TestUnpullableImageIsAnInfraError(t *testing.T) {
	env.DumpLogsOnFailure(t)
	e := newExecutor(t, namespace(t), kubernetes.WithStartTimeout(2*time.Minute))
	_, err := e.StartJob(t.Context(), executor.JobSpec{RunID: "r1", Pipeline: "p", JobID: "Build.Missing", Container: regHost + "/test/missing:1"})
	var ie *executor.InfraError
	if !errors.As(err, &ie) {
		t.Fatalf("StartJob = %v, want an *executor.InfraError", err)
	}
	t.Logf("StartJob: %v", err)
	for _, want := range []string{"Build.Missing", "cannot pull the job image", "test/missing:1", "check the image reference"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestTaskNeedingServicesIsRefused(t *testing.T) {
	env.DumpLogsOnFailure(t)
	e := newExecutor(t, namespace(t))
	j := startJob(t, e, executor.JobSpec{RunID: "r1", Pipeline: "p", JobID: "Build.Docker"})
	var out lines
	_, err := j.RunStep(t.Context(), executor.Step{ID: "s", Task: "Docker@2", Inputs: map[string]string{"command": "build"}, Output: out.add})
	if err == nil || !strings.Contains(err.Error(), "task Docker@2 is not available on the kubernetes backend yet") {
		t.Errorf("error %v, want one saying Docker@2 is not available on the kubernetes backend", err)
	}
}

// TestArtifactsReachTheArtifactsVolume publishes a pipeline artifact in the
// pod onto a hostPath artifacts volume and reads it on this machine.
func TestArtifactsReachTheArtifactsVolume(t *testing.T) {
	env.DumpLogsOnFailure(t)
	host := t.TempDir()
	if err := os.Chmod(host, 0o777); err != nil {
		t.Fatal(err)
	}
	e := newExecutor(t, namespace(t), kubernetes.WithArtifactsVolume(corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: host}}))
	j := startJob(t, e, executor.JobSpec{RunID: "run-7", Pipeline: "p", JobID: "Build.Publish"})
	var out lines
	if res, err := j.RunStep(t.Context(), script("build", `mkdir -p out && echo built > out/app.txt`, &out)); err != nil || res.Status != task.Succeeded {
		t.Fatalf("build: %+v %v %q", res, err, out.get())
	}
	res, err := j.RunStep(t.Context(), executor.Step{ID: "publish", Task: "PublishPipelineArtifact@1",
		Inputs: map[string]string{"targetPath": "out", "artifact": "drop"}, Output: out.add})
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("publish: %+v %v %q", res, err, out.get())
	}
	b, err := os.ReadFile(filepath.Join(host, "run-7", "drop", "app.txt"))
	if err != nil || string(b) != "built\n" {
		t.Errorf("artifact on the host: %q, %v; want built", b, err)
	}
}

func TestUnschedulablePodIsAnInfraError(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := namespace(t)
	e := newExecutor(t, ns, kubernetes.WithNodeSelector(map[string]string{"pool": "gpu"}), kubernetes.WithStartTimeout(5*time.Second))
	_, err := e.StartJob(t.Context(), executor.JobSpec{RunID: "r1", Pipeline: "p", JobID: "Build.Gpu"})
	var ie *executor.InfraError
	if !errors.As(err, &ie) {
		t.Fatalf("StartJob = %v, want an *executor.InfraError", err)
	}
	t.Logf("StartJob: %v", err)
	for _, want := range []string{"Build.Gpu", "was not scheduled", "node selector"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// The pod that could not run is deleted.
	pods, err := env.Client().CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: kubernetes.LabelJob + "=Build.Gpu"})
	if err != nil || len(pods.Items) != 0 {
		t.Errorf("pods left: %v %v", pods, err)
	}
}

// TestPodDeletedMidStepIsAnInfraError deletes the job's pod while a step
// runs: RunStep reports the infrastructure failure, not a step result.
func TestPodDeletedMidStepIsAnInfraError(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := namespace(t)
	e := newExecutor(t, ns)
	j := startJob(t, e, executor.JobSpec{RunID: "r1", Pipeline: "p", JobID: "Build.Evicted"})
	var out lines
	s := script("s", "echo started; sleep 120", &out)
	s.Output = func(ts time.Time, line string) {
		out.add(ts, line)
		if line == "started" {
			zero := int64(0)
			go env.Client().CoreV1().Pods(ns).Delete(context.Background(), j.(*kubernetes.Job).Pod(), metav1.DeleteOptions{GracePeriodSeconds: &zero})
		}
	}
	res, err := j.RunStep(t.Context(), s)
	var ie *executor.InfraError
	if !errors.As(err, &ie) {
		t.Fatalf("RunStep = %+v, %v; want an *executor.InfraError", res, err)
	}
	t.Logf("RunStep: %v", err)
	if !strings.Contains(err.Error(), "run the job again") {
		t.Errorf("error %q does not say what to do", err)
	}
}

func TestCheckoutWithoutGitSaysWhatToDo(t *testing.T) {
	env.DumpLogsOnFailure(t)
	e := newExecutor(t, namespace(t))
	j := startJob(t, e, executor.JobSpec{RunID: "r1", Pipeline: "p", JobID: "Build.Checkout"})
	var out lines
	res, err := j.RunStep(t.Context(), executor.Step{ID: "checkout", Task: task.CheckoutTask,
		Inputs: map[string]string{"url": "https://example.com/app.git", "commit": "0123456789abcdef0123456789abcdef01234567"}, Output: out.add})
	if err != nil || res.Status != task.Failed || !strings.Contains(res.Message, "checkout needs git") {
		t.Errorf("RunStep = %+v, %v; want Failed saying checkout needs git in the image", res, err)
	}
}

// TestHostNetworkReachesThisMachine: with WithHostNetwork a step reaches a
// service on the node's loopback (a development server, an embedded
// registry).
func TestHostNetworkReachesThisMachine(t *testing.T) {
	env.DumpLogsOnFailure(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello from the host\n") }))
	defer srv.Close()
	e := newExecutor(t, namespace(t), kubernetes.WithHostNetwork(true))
	j := startJob(t, e, executor.JobSpec{RunID: "r1", Pipeline: "p", JobID: "Build.Host"})
	var out lines
	res, err := j.RunStep(t.Context(), script("s", "wget -q -O- "+srv.URL+"/", &out))
	if err != nil || res.Status != task.Succeeded {
		t.Fatalf("%+v %v %q", res, err, out.get())
	}
	if got := out.get(); !slices.Equal(got, []string{"hello from the host"}) {
		t.Errorf("output %q, want the host's answer", got)
	}
}

// TestSweepRemovesTheOrphansOfAnAgent: a new process of an agent removes
// the pods its predecessor left, and no pod of another agent.
func TestSweepRemovesTheOrphansOfAnAgent(t *testing.T) {
	env.DumpLogsOnFailure(t)
	ns := namespace(t)
	dead := newExecutor(t, ns, kubernetes.WithAgent("builder-1"))
	orphan := startJob(t, dead, executor.JobSpec{RunID: "r1", Pipeline: "p", JobID: "Build.Orphan"})
	other := startJob(t, newExecutor(t, ns, kubernetes.WithAgent("builder-2")), executor.JobSpec{RunID: "r1", Pipeline: "p", JobID: "Build.Other"})

	n, err := newExecutor(t, ns, kubernetes.WithAgent("builder-1")).Sweep(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 pod removed", n, err)
	}
	pods := env.Client().CoreV1().Pods(ns)
	if p, err := pods.Get(t.Context(), orphan.(*kubernetes.Job).Pod(), metav1.GetOptions{}); err == nil && p.DeletionTimestamp == nil {
		t.Errorf("the orphaned pod %s is not being deleted", p.Name)
	}
	if p, err := pods.Get(t.Context(), other.(*kubernetes.Job).Pod(), metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Errorf("the pod of another agent was touched: %v", err)
	}
}

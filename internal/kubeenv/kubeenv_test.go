package kubeenv_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"conveyor.dev/conveyor/internal/kubeenv"
)

var env *kubeenv.Env

// supervisorEnv makes the test binary act as conveyor cluster serve.
const supervisorEnv = "KUBEENV_TEST_SUPERVISOR_STATE"

func TestMain(m *testing.M) {
	if state := os.Getenv(supervisorEnv); state != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := kubeenv.Serve(ctx, state)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(kubeenv.Main(m, kubeenv.Options{KwokNodes: 2, RealNode: true}, &env))
}

func TestClusterUpDown(t *testing.T) {
	state := filepath.Join(t.TempDir(), "cluster")
	t.Setenv(supervisorEnv, state)
	supervisor := []string{os.Args[0], "-test.run=^$"}
	t.Cleanup(func() { _, _ = kubeenv.Down(context.Background(), state) })

	res, err := kubeenv.Up(t.Context(), state, supervisor, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster up: node Ready %v after the supervisor started", res.Elapsed)
	if res.AlreadyRunning || res.Kubeconfig != kubeenv.ClusterKubeconfig(state) {
		t.Errorf("Up = %+v, want a fresh start with kubeconfig %s", res, kubeenv.ClusterKubeconfig(state))
	}
	if !kubeenv.ClusterRunning(state) {
		t.Error("ClusterRunning = false after Up")
	}
	bin, err := kubeenv.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(bin, "kubectl"), "--kubeconfig", res.Kubeconfig, "get", "node", kubeenv.RealNodeName,
		"-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`).CombinedOutput()
	if err != nil || string(out) != "True" {
		t.Errorf("kubectl get node %s: %v: %q, want Ready True", kubeenv.RealNodeName, err, out)
	}
	again, err := kubeenv.Up(t.Context(), state, supervisor, io.Discard)
	if err != nil || !again.AlreadyRunning {
		t.Errorf("second Up = %+v, %v; want AlreadyRunning", again, err)
	}

	was, err := kubeenv.Down(t.Context(), state)
	if err != nil || !was {
		t.Fatalf("Down = %v, %v; want true, nil", was, err)
	}
	if pids := kubeenv.OwnedProcesses(state); len(pids) > 0 {
		t.Errorf("processes left after Down: %v", pids)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state %s left after Down (err %v)", state, err)
	}
	if was, err := kubeenv.Down(t.Context(), state); err != nil || was {
		t.Errorf("Down again = %v, %v; want false, nil", was, err)
	}
}

func TestVersionMatchesBuildScript(t *testing.T) {
	b, err := os.ReadFile("../../tools/kube/build.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^KUBE_VERSION=(\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("tools/kube/build.sh: no KUBE_VERSION= line")
	}
	if got := string(m[1]); got != kubeenv.Version {
		t.Errorf("tools/kube/build.sh KUBE_VERSION=%s, kubeenv.Version=%s: keep them equal", got, kubeenv.Version)
	}
}

func namespace(t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	ns, err := c.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func deployment(name string, replicas int32, behavior string, image string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "app", Image: image}},
				},
			},
		},
	}
	if behavior != "" {
		d.Spec.Template.Annotations = map[string]string{kubeenv.BehaviorAnnotation: behavior}
	}
	return d
}

// waitDeployment polls the Deployment until cond holds.
func waitDeployment(t *testing.T, c kubernetes.Interface, ns, name string, timeout time.Duration, cond func(*appsv1.Deployment) bool) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		d, err = c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return cond(d), nil
	})
	if err != nil {
		t.Fatalf("deployment %s/%s: %v; status: %+v", ns, name, err, d.Status)
	}
	return d
}

func condition(d *appsv1.Deployment, typ appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == typ {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func available(d *appsv1.Deployment) bool {
	c := condition(d, appsv1.DeploymentAvailable)
	return d.Status.ObservedGeneration >= d.Generation && c != nil && c.Status == corev1.ConditionTrue &&
		d.Status.UpdatedReplicas == *d.Spec.Replicas && d.Status.AvailableReplicas == *d.Spec.Replicas
}

func TestKwokDeployments(t *testing.T) {
	env.DumpLogsOnFailure(t)
	c := env.Client()
	ns := namespace(t, c)

	t.Run("ready", func(t *testing.T) {
		d := deployment("web", 3, "", "example.invalid/web:1")
		kubeenv.OnKwok(&d.Spec.Template.Spec)
		start := time.Now()
		if _, err := c.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitDeployment(t, c, ns, "web", time.Minute, available)
		t.Logf("3 replicas Available on kwok nodes in %v", time.Since(start))
		for name, rss := range env.RSS() {
			t.Logf("RSS %-24s %4d MiB", name, rss>>20)
		}
		pods, err := c.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if !strings.HasPrefix(p.Spec.NodeName, "kwok-node-") || p.Status.Phase != corev1.PodRunning {
				t.Errorf("pod %s: node %q phase %s, want a kwok node and Running", p.Name, p.Spec.NodeName, p.Status.Phase)
			}
		}
	})

	t.Run("unready", func(t *testing.T) {
		d := deployment("stuck", 2, kubeenv.BehaviorUnready, "example.invalid/web:1")
		kubeenv.OnKwok(&d.Spec.Template.Spec)
		deadline := int32(2)
		d.Spec.ProgressDeadlineSeconds = &deadline
		start := time.Now()
		if _, err := c.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := waitDeployment(t, c, ns, "stuck", time.Minute, func(d *appsv1.Deployment) bool {
			p := condition(d, appsv1.DeploymentProgressing)
			return p != nil && p.Status == corev1.ConditionFalse && p.Reason == "ProgressDeadlineExceeded"
		})
		t.Logf("ProgressDeadlineExceeded after %v", time.Since(start))
		if got.Status.ReadyReplicas != 0 {
			t.Errorf("ready replicas = %d, want 0", got.Status.ReadyReplicas)
		}
		pods, err := c.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=stuck"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning {
				t.Errorf("pod %s phase %s, want Running", p.Name, p.Status.Phase)
			}
		}
	})

	t.Run("crash", func(t *testing.T) {
		d := deployment("crasher", 1, kubeenv.BehaviorCrash, "example.invalid/web:1")
		kubeenv.OnKwok(&d.Spec.Template.Spec)
		if _, err := c.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var last corev1.ContainerStatus
		err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=crasher"})
			if err != nil {
				return false, err
			}
			for _, p := range pods.Items {
				for _, cs := range p.Status.ContainerStatuses {
					last = cs
					if cs.RestartCount >= 2 && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" {
						return true, nil
					}
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("no crash-looping container: %v; last status %+v", err, last)
		}
		if last.Ready || last.LastTerminationState.Terminated == nil || last.LastTerminationState.Terminated.ExitCode != 1 {
			t.Errorf("container status %+v, want not ready, last terminated with exit code 1", last)
		}
		got, err := c.AppsV1().Deployments(ns).Get(t.Context(), "crasher", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.AvailableReplicas != 0 {
			t.Errorf("available replicas = %d, want 0", got.Status.AvailableReplicas)
		}
	})
}

// helloImage builds testdata/hello as a static binary, layers it on an
// empty image and pushes it to a registry on 127.0.0.1; it returns the
// image reference by digest.
func helloImage(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hello")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testdata/hello")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hello: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config = v1.Config{Entrypoint: []string{"/hello"}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, err := name.ParseReference(host + "/hello:test")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return host + "/hello@" + digest.String()
}

func TestRealNodeServesHTTP(t *testing.T) {
	env.DumpLogsOnFailure(t)
	c := env.Client()
	ns := namespace(t, c)
	image := helloImage(t)

	for _, tc := range []struct {
		name        string
		hostNetwork bool
	}{
		{"pod-network", false},
		{"host-network", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := deployment("hello-"+tc.name, 1, "", image)
			spec := &d.Spec.Template.Spec
			spec.NodeSelector = map[string]string{kubeenv.NodeKindLabel: kubeenv.NodeKindReal}
			port := "8080"
			if tc.hostNetwork {
				spec.HostNetwork = true
				l, err := net.Listen("tcp", ":0")
				if err != nil {
					t.Fatal(err)
				}
				port = fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
				l.Close()
			}
			spec.Containers[0].Env = []corev1.EnvVar{{Name: "PORT", Value: port}}
			start := time.Now()
			if _, err := c.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			waitDeployment(t, c, ns, d.Name, 2*time.Minute, available)
			t.Logf("Deployment Available on the real node in %v", time.Since(start))
			pods, err := c.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=" + d.Name})
			if err != nil {
				t.Fatal(err)
			}
			if len(pods.Items) != 1 || pods.Items[0].Spec.NodeName != kubeenv.RealNodeName || pods.Items[0].Status.PodIP == "" {
				t.Fatalf("pods %+v: want one on %s with an IP", pods.Items, kubeenv.RealNodeName)
			}
			url := "http://" + net.JoinHostPort(pods.Items[0].Status.PodIP, port) + "/"
			var body []byte
			err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return false, nil
				}
				defer resp.Body.Close()
				body, _ = io.ReadAll(resp.Body)
				return resp.StatusCode == http.StatusOK, nil
			})
			if err != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			if !strings.HasPrefix(string(body), "hello from ") {
				t.Errorf("GET %s = %q, want hello from …", url, body)
			}
			t.Logf("GET %s = %q", url, strings.TrimSpace(string(body)))

			target, err := strconv.Atoi(port)
			if err != nil {
				t.Fatal(err)
			}
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: d.Name},
				Spec: corev1.ServiceSpec{
					Selector: map[string]string{"app": d.Name},
					Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt(target)}},
				},
			}
			if _, err := c.CoreV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			var addr string
			err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
				addr, err = env.ServiceAddress(ctx, ns, svc.Name, 80)
				return err == nil, nil
			})
			if err != nil {
				t.Fatalf("service address: %v", err)
			}
			if want := net.JoinHostPort(pods.Items[0].Status.PodIP, port); addr != want {
				t.Errorf("ServiceAddress = %s, want %s", addr, want)
			}
		})
	}
}

func TestStopLeavesNothing(t *testing.T) {
	e, err := kubeenv.Start(t.Context(), kubeenv.Options{KwokNodes: 1, RealNode: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := e.Dir
	t.Cleanup(func() { _ = e.Stop() })
	e.DumpLogsOnFailure(t)
	c := e.Client()
	d := deployment("hello", 2, "", helloImage(t))
	d.Spec.Template.Spec.NodeSelector = map[string]string{kubeenv.NodeKindLabel: kubeenv.NodeKindReal}
	if _, err := c.AppsV1().Deployments("default").Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeployment(t, c, "default", "hello", 2*time.Minute, available)
	if pids := kubeenv.OwnedProcesses(dir); len(pids) < 8 {
		t.Errorf("owned processes before Stop = %v, want the components, shims and containers", pids)
	}
	bridge := ""
	if b, err := os.ReadFile(filepath.Join(dir, "node", "bridge")); err == nil {
		bridge = string(b)
	}

	start := time.Now()
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Stop took %v", time.Since(start))
	if pids := kubeenv.OwnedProcesses(dir); len(pids) > 0 {
		t.Errorf("processes left after Stop: %v", pids)
	}
	if mounts := kubeenv.OwnedMounts(dir); len(mounts) > 0 {
		t.Errorf("mounts left after Stop: %v", mounts)
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mountinfo), dir) {
		t.Errorf("/proc/self/mountinfo still mentions %s", dir)
	}
	if bridge != "" {
		if _, err := net.InterfaceByName(bridge); err == nil {
			t.Errorf("bridge %s left after Stop", bridge)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary folder %s left after Stop (err %v)", dir, err)
	}
}

func TestKwokOnly(t *testing.T) {
	e, err := kubeenv.Start(t.Context(), kubeenv.Options{KwokNodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Error(err)
		}
	})
	e.DumpLogsOnFailure(t)
	if e.RealNode != "" || len(e.KwokNodes) != 1 {
		t.Fatalf("nodes: real %q, kwok %v; want kwok-node-0 only", e.RealNode, e.KwokNodes)
	}
	c := e.Client()
	// Without a real node the kwok nodes are not tainted: a plain manifest runs.
	if _, err := c.AppsV1().Deployments("default").Create(t.Context(), deployment("plain", 2, "", "example.invalid/x:1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitDeployment(t, c, "default", "plain", time.Minute, available)
}

func TestEnsureBinariesBuildsIntoAnEmptyCache(t *testing.T) {
	if testing.Short() {
		t.Skip("links every binary again: about 20 s with a warm Go build cache, minutes without")
	}
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOCACHE", strings.TrimSpace(string(gocache))) // keep the warm Go build cache
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("CONVEYOR_KUBE_BIN", "")
	var progress bytes.Buffer
	dir, err := kubeenv.EnsureBinaries(t.Context(), &progress)
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	want, err := kubeenv.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	if dir != want {
		t.Errorf("EnsureBinaries = %s, want %s", dir, want)
	}
	for _, b := range kubeenv.Binaries {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("%s: not an executable in %s (%v)", b, dir, err)
		}
	}
	if !strings.Contains(progress.String(), "kube build: done") {
		t.Errorf("progress = %q, want the builder's output", progress.String())
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(dir, "kubectl"), "version", "--client").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "v1.37.2") {
		t.Errorf("kubectl version --client: %v: %s", err, out)
	}
	// Idempotent: a second call finds everything in place.
	progress.Reset()
	if _, err := kubeenv.EnsureBinaries(t.Context(), &progress); err != nil || progress.Len() != 0 {
		t.Errorf("second EnsureBinaries: %v, progress %q; want nil and no build", err, progress.String())
	}
}

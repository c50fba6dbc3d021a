package kubernetes_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"conveyor.dev/conveyor/internal/executor"
	"conveyor.dev/conveyor/internal/executor/kubernetes"
	"conveyor.dev/conveyor/internal/image"
	"conveyor.dev/conveyor/internal/kubeenv"
	"conveyor.dev/conveyor/internal/registry"
)

var (
	env *kubeenv.Env
	// runnerRef is the runner image, built from this tree's cmd/conveyor
	// and pushed to regHost.
	runnerRef string
	// conveyorBin is that conveyor binary.
	conveyorBin string
	// regHost is the embedded registry (host:port on loopback) the real
	// node pulls from.
	regHost string
)

// TestMain builds conveyor (CGO_ENABLED=0), packs it with Debian's static
// busybox and bash into the runner image, pushes that to an embedded
// registry and runs the tests against a control plane with a real node.
func TestMain(m *testing.M) {
	os.Exit(func() int {
		tmp, err := os.MkdirTemp("", "kubeexec-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		reg, err := registry.New(filepath.Join(tmp, "registry"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		srv := httptest.NewServer(reg)
		defer srv.Close()
		regHost = strings.TrimPrefix(srv.URL, "http://")
		if runnerRef, err = buildRunner(tmp); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return kubeenv.Main(m, kubeenv.Options{RealNode: true}, &env)
	}())
}

func buildRunner(tmp string) (string, error) {
	bin := filepath.Join(tmp, "conveyor")
	conveyorBin = bin
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/conveyor")
	cmd.Dir = "../../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/conveyor: %w\n%s", err, out)
	}
	img, err := kubernetes.RunnerImage(kubernetes.RunnerBinaries{Conveyor: bin, Busybox: "/bin/busybox", Bash: "/bin/bash-static"})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, ref, err := image.Push(ctx, img, regHost+"/conveyor/runner:test")
	return ref, err
}

// namespace makes a namespace for the test, deleted at its end.
func namespace(t testing.TB) string {
	t.Helper()
	ns, err := env.Client().CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "kubeexec-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client().CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	// Pods wait for the namespace's default service account.
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := env.Client().CoreV1().ServiceAccounts(ns.Name).Get(t.Context(), "default", metav1.GetOptions{})
		if err == nil {
			break
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			t.Fatalf("default service account of %s: %v", ns.Name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ns.Name
}

func newExecutor(t testing.TB, ns string, opts ...kubernetes.Option) *kubernetes.Executor {
	t.Helper()
	e, err := kubernetes.New(env.Config, ns, runnerRef, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// podGone fails t unless the job's pod is gone (Close waits for that) and,
// the real node being this machine, no process of this machine is the
// step's background process: a process in a PID namespace whose innermost
// PID is pid, running "sleep 300".
func podGone(t *testing.T, ns string) func(t *testing.T, j executor.Job, pid int) {
	return func(t *testing.T, j executor.Job, pid int) {
		name := j.(*kubernetes.Job).Pod()
		_, err := env.Client().CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("pod %s (with background process %d) still there after Close: %v", name, pid, err)
		}
		procs, _ := filepath.Glob("/proc/[0-9]*/status")
		for _, p := range procs {
			status, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(status), "\n") {
				f := strings.Fields(strings.TrimPrefix(line, "NSpid:"))
				if !strings.HasPrefix(line, "NSpid:") || len(f) < 2 || f[len(f)-1] != fmt.Sprint(pid) {
					continue
				}
				cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
				if string(cmdline) == "sleep\x00300\x00" && !strings.Contains(string(status), "State:\tZ") {
					t.Errorf("the pod's background process %d still runs on the node as %s", pid, filepath.Dir(p))
				}
			}
		}
	}
}

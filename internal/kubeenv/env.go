package kubeenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options says what to start. The zero value starts a control plane with no
// node.
type Options struct {
	// KwokNodes is the number of kwok fake nodes, named kwok-node-0, -1, ….
	KwokNodes int
	// RealNode starts a kubelet with its own containerd on this machine
	// (needs root, Debian's containerd, runc and containernetworking-plugins).
	RealNode bool
	// Dir holds the environment's state; empty means a new temporary folder
	// that Stop removes. A given Dir is kept by Stop (Down removes it).
	Dir string
	// BinDir holds the binaries; empty means EnsureBinaries.
	BinDir string
	// Progress receives the progress of a binary build; nil means os.Stderr.
	Progress io.Writer
	// Timeout bounds Start; zero means two minutes.
	Timeout time.Duration
	// HostNetworkOnly leaves the real node without a pod bridge: only
	// hostNetwork pods can run on it.
	HostNetworkOnly bool
}

// Labels, annotations and taints that tests and manifests may use.
const (
	// BehaviorAnnotation on a pod (template) tells kwok how its pods behave.
	BehaviorAnnotation = "kubeenv.conveyor.dev/behavior"
	// BehaviorUnready keeps kwok pods Running but never Ready.
	BehaviorUnready = "unready"
	// BehaviorCrash makes kwok pods crash-loop: Running, never Ready, their
	// containers waiting in CrashLoopBackOff with a growing restart count.
	BehaviorCrash = "crash"
	// NodeKindLabel is on every node: NodeKindKwok or NodeKindReal.
	NodeKindLabel = "kubeenv.conveyor.dev/node"
	// NodeKindKwok marks kwok fake nodes.
	NodeKindKwok = "kwok"
	// NodeKindReal marks the real node.
	NodeKindReal = "real"
	// KwokTaintKey is the NoSchedule taint on kwok nodes when a real node is
	// present too, so ordinary pods land on the real node; see OnKwok.
	KwokTaintKey = "kwok.x-k8s.io/node"
	// RealNodeName is the name of the real node.
	RealNodeName = "conveyor-node"
	// ContextName is the context (and cluster and user) of Env.Kubeconfig.
	ContextName = "local"
)

// Env is a running environment. Stop it when done.
type Env struct {
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file for Config (context ContextName).
	Kubeconfig string
	// Dir holds the state, the logs (Dir/logs) and the kubeconfig.
	Dir string
	// BinDir holds the binaries, kubectl among them.
	BinDir string
	// KwokNodes are the names of the kwok nodes.
	KwokNodes []string
	// RealNode is the name of the real node, empty without one.
	RealNode string
	// PodSubnet is the real node's pod bridge subnet, empty when
	// HostNetworkOnly.
	PodSubnet string

	opts       Options
	removeDir  bool
	pdeathsig  syscall.Signal
	components []*component
	bridge     string
	stopOnce   sync.Once
	stopErr    error
	client     kubernetes.Interface
	pki        *pki
	server     string
}

// Start starts an environment and waits until it serves: the API server is
// ready, the default service account exists and every node is Ready. On
// error everything started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.Progress == nil {
		opts.Progress = os.Stderr
	}
	e := &Env{opts: opts, Dir: opts.Dir, pdeathsig: syscall.SIGKILL}
	if e.BinDir = opts.BinDir; e.BinDir == "" {
		if e.BinDir, err = EnsureBinaries(ctx, opts.Progress); err != nil {
			return nil, err
		}
	}
	if e.Dir == "" {
		if err := sweepStale(os.TempDir()); err != nil {
			return nil, fmt.Errorf("kubeenv: sweep environments of ended processes: %w", err)
		}
		if e.Dir, err = os.MkdirTemp("", "kubeenv-"); err != nil {
			return nil, fmt.Errorf("kubeenv: %w", err)
		}
		e.removeDir = true
		if err := writeOwner(e.Dir); err != nil {
			return nil, fmt.Errorf("kubeenv: %w", err)
		}
	} else if err := os.MkdirAll(e.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("kubeenv: %w", err)
	}
	if e.Dir, err = filepath.Abs(e.Dir); err != nil {
		return nil, fmt.Errorf("kubeenv: %w", err)
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("kubeenv: start: %w (logs in %s)", err, filepath.Join(e.Dir, "logs"))
			if e.removeDir {
				e.removeDir = false // keep the logs for the message above
				defer func() { e.removeDir = true }()
			}
			_ = e.Stop()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if err := e.startControlPlane(ctx); err != nil {
		return nil, err
	}
	if opts.KwokNodes > 0 {
		if err := e.startKwok(ctx); err != nil {
			return nil, err
		}
	}
	if opts.RealNode {
		if err := e.startRealNode(ctx); err != nil {
			return nil, err
		}
	}
	if err := e.waitServiceAccount(ctx); err != nil {
		return nil, err
	}
	if err := e.waitNodesReady(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Client returns a clientset for Config.
func (e *Env) Client() kubernetes.Interface { return e.client }

// Stop kills every process of the environment (its own only: those it
// started and those that mention its folder, such as containerd shims and
// containers), unmounts what they left mounted under Dir and, for a
// temporary Dir, removes it. Safe to call more than once.
func (e *Env) Stop() error {
	e.stopOnce.Do(func() {
		var errs []error
		errs = append(errs, e.killAll(30*time.Second))
		if e.bridge != "" {
			errs = append(errs, deleteLink(e.bridge))
		}
		errs = append(errs, unmountAll(e.Dir))
		if e.removeDir && errors.Join(errs...) == nil {
			if err := os.RemoveAll(e.Dir); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", e.Dir, err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			e.stopErr = fmt.Errorf("kubeenv: stop: %w", err)
		}
	})
	return e.stopErr
}

// Logs returns the components' logs, each file's last lines (all lines when
// lines ≤ 0), with a header per component.
func (e *Env) Logs(lines int) string {
	var b strings.Builder
	for _, c := range e.components {
		fmt.Fprintf(&b, "===== %s (%s)\n", c.name, c.logPath)
		if lines > 0 {
			b.WriteString(tail(c.logPath, lines))
		} else if data, err := os.ReadFile(c.logPath); err == nil {
			b.Write(data)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TB is the part of testing.TB that DumpLogsOnFailure uses.
type TB interface {
	Helper()
	Failed() bool
	Logf(format string, args ...any)
	Cleanup(func())
}

// DumpLogsOnFailure logs the components' last log lines at the end of t when
// t has failed.
func (e *Env) DumpLogsOnFailure(t TB) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kubeenv component logs (last 60 lines each):\n%s", e.Logs(60))
		}
	})
}

// RSS maps each running component to its resident memory in bytes.
func (e *Env) RSS() map[string]int64 {
	m := map[string]int64{}
	for name, pid := range e.PIDs() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				m[name] = kb * 1024
			}
		}
	}
	return m
}

// PIDs maps each running component to its process id.
func (e *Env) PIDs() map[string]int {
	m := map[string]int{}
	for _, c := range e.components {
		if done, _ := c.exited(); !done {
			m[c.name] = c.cmd.Process.Pid
		}
	}
	return m
}

func (e *Env) bin(name string) string { return filepath.Join(e.BinDir, name) }

func (e *Env) startControlPlane(ctx context.Context) error {
	p, err := newPKI(filepath.Join(e.Dir, "pki"))
	if err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]
	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)

	// etcd
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	etcd, err := e.startComponent("etcd", []string{e.bin("etcd"),
		"--name=kubeenv",
		"--data-dir=" + filepath.Join(e.Dir, "etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=kubeenv=" + peerURL,
		"--unsafe-no-fsync", "--log-level=warn",
		"--quota-backend-bytes=2147483648",
	}, nil)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, "etcd", time.Minute, []*component{etcd}, func(ctx context.Context) (bool, error) {
		return httpOK(ctx, etcdURL+"/health")
	}); err != nil {
		return err
	}

	// kube-apiserver
	hosts := []string{"127.0.0.1", "localhost", "10.96.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	serving, err := p.issue("apiserver", "kube-apiserver", nil, hosts)
	if err != nil {
		return err
	}
	kubeletClient, err := p.issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil)
	if err != nil {
		return err
	}
	saKey, saPub, err := p.serviceAccountKey()
	if err != nil {
		return err
	}
	api, err := e.startComponent("kube-apiserver", []string{e.bin("kube-apiserver"),
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--tls-cert-file=" + serving.certFile, "--tls-private-key-file=" + serving.keyFile,
		"--client-ca-file=" + p.caFile(),
		"--kubelet-client-certificate=" + kubeletClient.certFile, "--kubelet-client-key=" + kubeletClient.keyFile,
		// The real node's name does not resolve: reach its kubelet (exec,
		// logs, port-forward) at its address.
		"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + saPub, "--service-account-signing-key-file=" + saKey,
		"--service-cluster-ip-range=10.96.0.0/16",
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"--v=1",
	}, nil)
	if err != nil {
		return err
	}
	admin, err := p.issue("admin", "kubeenv-admin", []string{"system:masters"}, nil)
	if err != nil {
		return err
	}
	e.Kubeconfig = filepath.Join(e.Dir, "kubeconfig")
	if err := writeKubeconfig(e.Kubeconfig, server, ContextName, p.caPEM, admin); err != nil {
		return err
	}
	if e.Config, err = clientcmd.BuildConfigFromFlags("", e.Kubeconfig); err != nil {
		return fmt.Errorf("load %s: %w", e.Kubeconfig, err)
	}
	e.Config.QPS, e.Config.Burst = 200, 400
	if e.client, err = kubernetes.NewForConfig(e.Config); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if err := waitFor(ctx, "kube-apiserver", time.Minute, []*component{etcd, api}, func(ctx context.Context) (bool, error) {
		body, err := e.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", err
	}); err != nil {
		return err
	}

	// kube-controller-manager and kube-scheduler
	// The controllers share the manager's identity instead of a service
	// account each (--use-service-account-credentials makes the manager
	// create and wait for one per controller: seconds longer to start), so
	// that identity must be allowed everything the controllers do.
	kcm, err := p.issue("kube-controller-manager", "system:kube-controller-manager", []string{"system:masters"}, nil)
	if err != nil {
		return err
	}
	kcmConfig := filepath.Join(e.Dir, "kube-controller-manager.kubeconfig")
	if err := writeKubeconfig(kcmConfig, server, "kubeenv", p.caPEM, kcm); err != nil {
		return err
	}
	_, err = e.startComponent("kube-controller-manager", []string{e.bin("kube-controller-manager"),
		"--kubeconfig=" + kcmConfig,
		"--bind-address=127.0.0.1", "--secure-port=0",
		"--leader-elect=false",
		"--service-account-private-key-file=" + saKey,
		"--root-ca-file=" + p.caFile(),
		"--cluster-signing-cert-file=" + p.caFile(), "--cluster-signing-key-file=" + p.caKeyFile(),
		"--controllers=*,-nodeipam",
		"--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
		"--profiling=false",
		"--v=1",
	}, nil)
	if err != nil {
		return err
	}
	sched, err := p.issue("kube-scheduler", "system:kube-scheduler", nil, nil)
	if err != nil {
		return err
	}
	schedConfig := filepath.Join(e.Dir, "kube-scheduler.kubeconfig")
	if err := writeKubeconfig(schedConfig, server, "kubeenv", p.caPEM, sched); err != nil {
		return err
	}
	_, err = e.startComponent("kube-scheduler", []string{e.bin("kube-scheduler"),
		"--kubeconfig=" + schedConfig,
		"--bind-address=127.0.0.1", "--secure-port=0",
		"--leader-elect=false",
		"--profiling=false",
		"--v=1",
	}, nil)
	if err != nil {
		return err
	}
	e.pki = p
	e.server = server
	return nil
}

// waitServiceAccount waits for the default service account, made by the
// controller manager: pods can be created from then on.
func (e *Env) waitServiceAccount(ctx context.Context) error {
	return waitFor(ctx, "the default service account", time.Minute, e.components, func(ctx context.Context) (bool, error) {
		_, err := e.client.CoreV1().ServiceAccounts(metav1.NamespaceDefault).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
}

func (e *Env) waitNodesReady(ctx context.Context) error {
	want := append([]string(nil), e.KwokNodes...)
	if e.RealNode != "" {
		want = append(want, e.RealNode)
	}
	if len(want) == 0 {
		return nil
	}
	return waitFor(ctx, "nodes "+strings.Join(want, ", ")+" Ready", time.Minute, e.components, func(ctx context.Context) (bool, error) {
		for _, name := range want {
			n, err := e.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			if !NodeReady(n) {
				return false, nil
			}
		}
		return true, nil
	})
}

// NodeReady reports whether the node's Ready condition is True.
func NodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func httpOK(ctx context.Context, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK, nil
}

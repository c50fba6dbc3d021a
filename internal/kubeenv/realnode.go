package kubeenv

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// PauseImage is the sandbox image of the real node, built from the pause
// binary and imported into its containerd; it is never pulled.
const PauseImage = "conveyor.local/kubeenv/pause:1"

// The Debian packages' programs the real node runs.
var (
	containerdBin = "containerd"
	ctrBin        = "ctr"
	cniBinDir     = "/usr/lib/cni"
)

// realNode holds the paths of the real node's state.
type realNode struct {
	dir, containerdDir, socket, certsDir, cniConfDir, kubeletDir string
}

func (e *Env) realNodePaths() realNode {
	d := filepath.Join(e.Dir, "node")
	return realNode{
		dir:           d,
		containerdDir: filepath.Join(d, "containerd"),
		socket:        filepath.Join(d, "containerd", "containerd.sock"),
		certsDir:      filepath.Join(d, "containerd", "certs.d"),
		cniConfDir:    filepath.Join(d, "cni", "net.d"),
		kubeletDir:    filepath.Join(d, "kubelet"),
	}
}

// startRealNode starts containerd and a kubelet that registers the node
// RealNodeName. Both run in a private mount namespace (created for
// containerd, entered by the kubelet), with private tmpfs on privateDirs, so
// whatever they mount disappears with their processes.
func (e *Env) startRealNode(ctx context.Context) error {
	for _, prog := range []string{containerdBin, ctrBin, "runc", "unshare", "nsenter", "ip"} {
		if _, err := exec.LookPath(prog); err != nil {
			return fmt.Errorf("real node: %s is missing: install the Debian packages containerd, runc, containernetworking-plugins, iptables (see .ci/install-packages)", prog)
		}
	}
	if _, err := os.Stat(filepath.Join(cniBinDir, "bridge")); err != nil && !e.opts.HostNetworkOnly {
		return fmt.Errorf("real node: %s/bridge is missing: install the Debian package containernetworking-plugins", cniBinDir)
	}
	p := e.realNodePaths()
	for _, d := range []string{p.containerdDir, p.certsDir, p.cniConfDir, p.kubeletDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("real node: %w", err)
		}
	}

	// containerd
	cfg := filepath.Join(p.containerdDir, "config.toml")
	if err := os.WriteFile(cfg, []byte(containerdConfig(p)), 0o644); err != nil {
		return fmt.Errorf("real node: %w", err)
	}
	containerd, err := e.startComponent("containerd", []string{"unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", privateDirsScript,
		containerdBin, "--config", cfg, "--log-level", "warn",
	}, nil)
	if err != nil {
		return err
	}
	if err := waitFor(ctx, "containerd", time.Minute, []*component{containerd}, func(ctx context.Context) (bool, error) {
		out, err := exec.CommandContext(ctx, ctrBin, "--address", p.socket, "version").CombinedOutput()
		if err != nil {
			return false, fmt.Errorf("ctr version: %w: %s", err, out)
		}
		return true, nil
	}); err != nil {
		return err
	}

	// The sandbox image, from the pause binary.
	pauseTar := filepath.Join(p.dir, "pause.tar")
	if err := writePauseImage(e.bin("pause"), pauseTar); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, ctrBin, "--address", p.socket, "--namespace", "k8s.io", "images", "import", pauseTar).CombinedOutput(); err != nil {
		return fmt.Errorf("real node: import %s: %w: %s", PauseImage, err, out)
	}

	// The pod network: a bridge with its own subnet, or none.
	if e.opts.HostNetworkOnly {
		if err := os.WriteFile(filepath.Join(p.cniConfDir, "10-kubeenv.conflist"), []byte(hostOnlyCNI), 0o644); err != nil {
			return fmt.Errorf("real node: %w", err)
		}
	} else {
		subnet, err := pickSubnet()
		if err != nil {
			return fmt.Errorf("real node: %w", err)
		}
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix)
		e.bridge = "kve" + hex.EncodeToString(suffix)
		e.PodSubnet = subnet
		if err := os.WriteFile(filepath.Join(p.dir, "bridge"), []byte(e.bridge), 0o644); err != nil {
			return fmt.Errorf("real node: %w", err)
		}
		if err := os.WriteFile(filepath.Join(p.cniConfDir, "10-kubeenv.conflist"), []byte(bridgeCNI(e.bridge, subnet, filepath.Join(p.dir, "cni", "ipam"))), 0o644); err != nil {
			return fmt.Errorf("real node: %w", err)
		}
	}

	// kubelet
	kp, err := e.pki.issue("kubelet", "system:node:"+RealNodeName, []string{"system:nodes"}, nil)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(p.kubeletDir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, e.server, "kubeenv", e.pki.caPEM, kp); err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	kcfg := filepath.Join(p.kubeletDir, "config.yaml")
	if err := os.WriteFile(kcfg, []byte(kubeletConfig(p, e.pki.caFile(), ports[0])), 0o644); err != nil {
		return fmt.Errorf("real node: %w", err)
	}
	if _, err := e.startComponent("kubelet", []string{"nsenter", "--mount=/proc/" + strconv.Itoa(containerd.cmd.Process.Pid) + "/ns/mnt", "--",
		e.bin("kubelet"),
		"--config=" + kcfg,
		"--kubeconfig=" + kubeconfig,
		"--root-dir=" + p.kubeletDir,
		"--cert-dir=" + filepath.Join(p.kubeletDir, "pki"),
		"--hostname-override=" + RealNodeName,
		"--node-labels=" + NodeKindLabel + "=" + NodeKindReal,
		"--v=1",
	}, nil); err != nil {
		return err
	}
	e.RealNode = RealNodeName
	return nil
}

// privateDirs are the fixed host folders where containerd, its shims, the
// CNI plugins and the kubelet keep files of their own (network namespaces,
// shim sockets, CNI result cache, device plugin sockets). The real node's
// mount namespace gets a private tmpfs on each, so instances do not collide
// and nothing of theirs is left on the host (but the empty folders).
var privateDirs = []string{"/run/netns", "/run/containerd", "/var/lib/cni", "/var/lib/kubelet"}

// privateDirsScript mounts the private folders, then runs its arguments.
var privateDirsScript = func() string {
	var b strings.Builder
	for _, d := range privateDirs {
		fmt.Fprintf(&b, "mkdir -p %[1]s && mount -t tmpfs -o mode=0755 kubeenv %[1]s && ", d)
	}
	b.WriteString(`exec "$0" "$@"`)
	return b.String()
}()

// TrustRegistry lets the real node pull from host (host:port) over plain
// HTTP. Registries on 127.0.0.1 and localhost need no call: containerd uses
// HTTP for them already.
func (e *Env) TrustRegistry(host string) error {
	if e.RealNode == "" {
		return fmt.Errorf("kubeenv: trust registry %s: no real node", host)
	}
	d := filepath.Join(e.realNodePaths().certsDir, host)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("kubeenv: trust registry %s: %w", host, err)
	}
	toml := fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n", "http://"+host, "http://"+host)
	if err := os.WriteFile(filepath.Join(d, "hosts.toml"), []byte(toml), 0o644); err != nil {
		return fmt.Errorf("kubeenv: trust registry %s: %w", host, err)
	}
	return nil
}

func containerdConfig(p realNode) string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = %[6]q
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[7]q
    conf_dir = %[8]q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[9]q
`, filepath.Join(p.containerdDir, "root"), filepath.Join(p.containerdDir, "state"), p.socket, p.socket+".ttrpc",
		PauseImage, filepath.Join(p.containerdDir, "runc"), cniBinDir, p.cniConfDir, p.certsDir)
}

func kubeletConfig(p realNode, caFile string, port int) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
containerRuntimeEndpoint: unix://%[1]s
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
address: 0.0.0.0
port: %[2]d
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %[3]q
authorization:
  mode: Webhook
failSwapOn: false
oomScoreAdj: 0
podLogsDir: %[4]q
resolvConf: ""
clusterDomain: cluster.local
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%%"
  nodefs.inodesFree: "1%%"
  imagefs.available: "1%%"
volumeStatsAggPeriod: 0s
nodeStatusReportFrequency: 10s
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
`, p.socket, port, caFile, filepath.Join(p.dir, "pod-logs"))
}

// hostOnlyCNI is a network with loopback only: the node is Ready and
// hostNetwork pods run; others cannot start.
const hostOnlyCNI = `{"cniVersion": "0.4.0", "name": "kubeenv", "plugins": [{"type": "loopback"}]}`

func bridgeCNI(bridge, subnet, ipamDir string) string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "kubeenv",
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    }
  ]
}
`, bridge, subnet, ipamDir)
}

// pickSubnet picks a /24 in 10.201.0.0–10.250.255.0 that overlaps no address
// of this machine.
func pickSubnet() (string, error) {
	var used []*net.IPNet
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("pick pod subnet: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			used = append(used, n)
		}
	}
	for range 100 {
		r, err := rand.Int(rand.Reader, big.NewInt(50*256))
		if err != nil {
			return "", fmt.Errorf("pick pod subnet: %w", err)
		}
		v := int(r.Int64())
		_, cand, _ := net.ParseCIDR(fmt.Sprintf("10.%d.%d.0/24", 201+v/256, v%256))
		free := true
		for _, u := range used {
			if u.Contains(cand.IP) || cand.Contains(u.IP) {
				free = false
				break
			}
		}
		if free {
			return cand.String(), nil
		}
	}
	return "", fmt.Errorf("pick pod subnet: no free /24 in 10.201.0.0/16–10.250.0.0/16")
}

func deleteLink(name string) error {
	out, err := exec.Command("ip", "link", "del", name).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "Cannot find device") {
		return fmt.Errorf("delete link %s: %w: %s", name, err, out)
	}
	return nil
}

// writePauseImage packs the pause binary as a one-layer image tagged
// PauseImage into a docker-archive tarball at dst.
func writePauseImage(pauseBin, dst string) error {
	bin, err := os.ReadFile(pauseBin)
	if err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	if _, err := tw.Write(bin); err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config = v1.Config{Entrypoint: []string{"/pause"}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	ref, err := name.NewTag(PauseImage)
	if err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	if err := tarball.WriteToFile(dst, ref, img); err != nil {
		return fmt.Errorf("pause image: %w", err)
	}
	return nil
}

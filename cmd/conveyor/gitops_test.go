package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/kubeenv"
	"conveyor.dev/conveyor/internal/registry"
)

func TestGitOpsBadConfigIsBadInput(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "conveyor.yaml")
	if err := os.WriteFile(cfg, []byte("gitops:\n- name: web\n  source:\n    oci: {url: 'h:5000/r'}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := cli(t, "gitops", "reconcile", "--once", "--config", cfg, "--data", t.TempDir())
	if code != exitBadUser || !strings.Contains(out, cfg+":4:16: gitops[0].source.oci.url") {
		t.Errorf("exit %d, output %q; want 2 and the file:line:col of the bad url", code, out)
	}
	if err := os.WriteFile(cfg, []byte("registries: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := cli(t, "gitops", "reconcile", "--once", "--config", cfg); code != exitBadUser || !strings.Contains(out, "no gitops entries") {
		t.Errorf("no entries: exit %d, %q", code, out)
	}
}

// TestGitOpsPushReconcileStatus drives the commands against a real API
// server, a real git repository and the embedded registry.
func TestGitOpsPushReconcileStatus(t *testing.T) {
	kube, err := kubeenv.Start(t.Context(), kubeenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kube.Stop() })
	reg, err := registry.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("repo/deploy/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-git}\ndata: {a: b}\n")
	write("artifact/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-oci}\ndata: {a: b}\n")
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "m"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = filepath.Join(dir, "repo")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}

	out, code := cli(t, "gitops", "push", filepath.Join(dir, "artifact"), "oci://"+host+"/manifests/app:v1", "--insecure", "--output", "json", "--config", filepath.Join(dir, "none.yaml"))
	if code == exitOK {
		t.Fatalf("push with a missing --config succeeded: %s", out)
	}
	write("conveyor.yaml", `registries:
  manifests: {url: `+host+`, insecure: true}
clusters:
  test: {kubeconfig: `+kube.Kubeconfig+`, context: local}
gitops:
- name: from-git
  source:
    git: {url: ./repo, path: deploy}
  cluster: test
  namespace: gitops-cli
  prune: true
- name: from-oci
  source:
    oci: {url: oci://`+host+`/manifests/app, ref: v1}
  cluster: test
  namespace: gitops-cli
`)
	cfg := filepath.Join(dir, "conveyor.yaml")
	out, code = cli(t, "gitops", "push", filepath.Join(dir, "artifact"), "oci://"+host+"/manifests/app:v1", "--output", "json", "--config", cfg)
	var pushed struct{ Ref, Digest string }
	if code != exitOK || json.Unmarshal([]byte(out), &pushed) != nil || !strings.HasPrefix(pushed.Ref, host+"/manifests/app@sha256:") {
		t.Fatalf("push: exit %d, %q", code, out)
	}

	data := t.TempDir()
	out, code = cli(t, "gitops", "reconcile", "--once", "--config", cfg, "--data", data, "--output", "json")
	if code != exitOK {
		t.Fatalf("reconcile: exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one JSON line per entry, got:\n%s", out)
	}
	for i, want := range []struct{ name, rev, obj string }{{"from-git", "main@sha1:", "from-git"}, {"from-oci", "v1@" + pushed.Digest, "from-oci"}} {
		var res struct {
			Name, Revision, Health string
			Applied                []struct{ Kind, Name, Action string }
		}
		if err := json.Unmarshal([]byte(lines[i]), &res); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, lines[i])
		}
		if res.Name != want.name || !strings.HasPrefix(res.Revision, want.rev) || res.Health != "Healthy" ||
			len(res.Applied) != 1 || res.Applied[0].Name != want.obj || res.Applied[0].Action != "created" {
			t.Errorf("result %d = %+v, want %s at %s… with %s created and healthy", i, res, want.name, want.rev, want.obj)
		}
		if _, err := kube.Client().CoreV1().ConfigMaps("gitops-cli").Get(t.Context(), want.obj, metav1.GetOptions{}); err != nil {
			t.Errorf("ConfigMap %s: %v", want.obj, err)
		}
	}

	out, code = cli(t, "gitops", "status", "--config", cfg, "--data", data, "--name", "from-oci")
	if code != exitOK || !strings.Contains(out, "from-oci: revision v1@"+pushed.Digest+", healthy") {
		t.Errorf("status: exit %d, %q", code, out)
	}
	out, code = cli(t, "gitops", "reconcile", "--once", "--config", cfg, "--data", data, "--name", "nope")
	if code != exitBadUser || !strings.Contains(out, `no entry named "nope"`) {
		t.Errorf("unknown --name: exit %d, %q", code, out)
	}

	// The server's background loops: each entry reconciles at once and
	// logs its result; they stop when the server does.
	loaded, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	done := make(chan struct{})
	defer close(done)
	if err := startGitOps(t.Context(), done, loaded, data, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !(strings.Contains(logs.String(), "gitops=from-git") && strings.Contains(logs.String(), "gitops=from-oci")) {
		if time.Now().After(deadline) {
			t.Fatalf("no result of both entries logged within a minute:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the log for a condition, with a deadline
	}
	if strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "1 unchanged") {
		t.Errorf("background reconciles:\n%s", logs.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes and reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

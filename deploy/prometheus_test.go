package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/server"
	"conveyor.dev/conveyor/internal/store"
)

// tool finds a Debian prometheus binary.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: run .ci/install-packages (Debian package prometheus)", name)
	}
	return p
}

func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), tool(t, "promtool"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPrometheusRules(t *testing.T) {
	out := promtool(t, "prometheus", "check", "rules", "conveyor.rules.yml")
	if !strings.Contains(out, "SUCCESS: 11 rules found") {
		t.Errorf("promtool check rules: %s", out)
	}
	if out := promtool(t, "prometheus", "test", "rules", "conveyor.rules.test.yml"); !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules: %s", out)
	}
	promtool(t, "prometheus", "check", "config", "prometheus.yml")
}

// A broken rules file fails the check: the test above can fail.
func TestPromtoolRefusesABrokenRule(t *testing.T) {
	dir := t.TempDir()
	bad := "groups:\n- name: x\n  rules:\n  - record: conveyor:x\n    expr: sum by (pipeline (conveyor_runs_started_total)\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), tool(t, "promtool"), "check", "rules", filepath.Join(dir, "bad.yml")).CombinedOutput()
	if err == nil {
		t.Fatalf("promtool accepted a broken expression:\n%s", out)
	}
}

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestPrometheusScrapesConveyor runs a real conveyor server with
// deployment outcomes in its store and a real Prometheus (Debian's)
// scraping its /metrics with deploy/prometheus's rules, then reads a DORA
// series and a recording rule through Prometheus's HTTP API.
func TestPrometheusScrapesConveyor(t *testing.T) {
	bin := tool(t, "prometheus")
	app, err := server.Start(t.Context(), server.Options{Config: config.Default(), DataDir: t.TempDir(), Listen: "127.0.0.1:0", LocalAgents: -1, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	now := time.Now().UTC()
	for i, s := range []store.DeployStatus{store.DeploySucceeded, store.DeployFailed, store.DeploySucceeded, store.DeployDegraded} {
		o := store.DeployOutcome{Environment: "production", Pipeline: "webapp-cd", RunID: fmt.Sprintf("run%d", i), Job: "Prod.Deploy",
			Status: s, CommitAt: now.Add(-3 * time.Hour), FinishedAt: now.Add(time.Duration(i-4) * time.Hour)}
		if err := app.Store.RecordDeployOutcome(t.Context(), &o); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	rules, err := os.ReadFile("prometheus/conveyor.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	// Evaluate the rules every second for the test (the file says 1m).
	rules = []byte(strings.Replace(string(rules), "interval: 1m", "interval: 1s", 1))
	if err := os.WriteFile(filepath.Join(dir, "conveyor.rules.yml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [conveyor.rules.yml]\nscrape_configs:\n- job_name: conveyor\n  static_configs:\n  - targets: [%q]\n",
		strings.TrimPrefix(app.URL(), "http://"))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen, "--web.console.templates="+dir, "--web.console.libraries="+dir)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})

	query := func(q string) (float64, bool) {
		resp, err := http.Get("http://" + listen + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false // not up yet
		}
		defer resp.Body.Close()
		var body struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" || len(body.Data.Result) != 1 {
			return 0, false
		}
		var v float64
		fmt.Sscan(body.Data.Result[0].Value[1].(string), &v)
		return v, true
	}
	// Poll Prometheus until it has scraped and evaluated (deadline, no
	// sleeping for synchronisation).
	wait := func(q string) float64 {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			if v, ok := query(q); ok {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("Prometheus has no single result for %s after 60s", q)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if v := wait(`conveyor_dora_change_failure_rate{environment="production",pipeline="webapp-cd"}`); v != 0.5 {
		t.Errorf("change failure rate scraped: %v, want 0.5 (a failed and a degraded deploy in 4)", v)
	}
	if v := wait(`conveyor_dora_deployments{environment="production"}`); v != 3 {
		t.Errorf("deployments scraped: %v, want 3 (succeeded and degraded)", v)
	}
	if v := wait(`conveyor:dora_change_failure_rate:environment{environment="production"}`); v != 0.5 {
		t.Errorf("recording rule: %v, want 0.5", v)
	}
	if v := wait(`up{job="conveyor"}`); v != 1 {
		t.Errorf("up = %v", v)
	}
}

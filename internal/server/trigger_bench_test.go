package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/trigger"
)

// BenchmarkTriggerToFirstStep measures, on a whole server (SQLite store,
// built-in agents with the local executor), the time from sending a
// signed Gitea push delivery over loopback HTTP to the start of the first
// step of the run it starts. Each op pushes a new commit (made before the
// clock starts), so the server fetches it as it would a real push; runs
// go one at a time. It reports the p50/p99 in ms (target: ≤ 100 ms).
func BenchmarkTriggerToFirstStep(b *testing.B) {
	const secret = "bench-secret"
	dir := b.TempDir()
	git := func(args ...string) string {
		b.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ann", "GIT_AUTHOR_EMAIL=ann@example.com",
			"GIT_COMMITTER_NAME=Ann", "GIT_COMMITTER_EMAIL=ann@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main")
	write("ci.yml", "trigger: [main]\nsteps:\n- script: echo hello\n  displayName: hello\n")
	write("app.txt", "0\n")
	git("add", "-A")
	git("commit", "-q", "-m", "first")
	head := git("rev-parse", "HEAD")

	cfg := config.Default()
	cfg.Repositories = []config.Repository{{Name: "webapp", URL: dir, WebhookSecret: secret, Pipelines: map[string]string{"ci": "ci.yml"}}}
	ends := newRunEnds()
	app, err := Start(b.Context(), Options{Config: cfg, DataDir: b.TempDir(), Listen: "127.0.0.1:0", Observer: ends, LocalAgents: 2, Grace: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { app.Close() })
	hc := &http.Client{}

	var lat, hand []time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		write("app.txt", fmt.Sprintln(i+1))
		git("commit", "-q", "-am", fmt.Sprint("change ", i+1))
		next := git("rev-parse", "HEAD")
		body, _ := json.Marshal(map[string]any{"ref": "refs/heads/main", "before": head, "after": next,
			"commits":     []any{map[string]any{"id": next, "message": "change", "modified": []string{"app.txt"}}},
			"head_commit": map[string]any{"id": next, "message": "change"},
			"repository":  map[string]any{"full_name": "ann/webapp", "clone_url": dir},
			"pusher":      map[string]any{"login": "ann"}})
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		req, _ := http.NewRequest(http.MethodPost, app.URL()+"/webhooks/gitea", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Gitea-Event", "push")
		req.Header.Set("X-Gitea-Delivery", fmt.Sprint("bench-", i))
		req.Header.Set("X-Gitea-Signature", hex.EncodeToString(mac.Sum(nil)))
		head = next
		b.StartTimer()

		sent := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var out trigger.Response
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusAccepted || len(out.Started) != 1 {
			b.Fatalf("delivery %d: %d %+v %v", i, resp.StatusCode, out, err)
		}
		answered := time.Since(sent)
		id := out.Started[0].RunID
		first := ends.firstStepAt(b, id)
		lat = append(lat, first.Sub(sent))
		hand = append(hand, answered)

		b.StopTimer()
		ends.wait(b, id)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	slices.Sort(hand)
	q := func(l []time.Duration, p float64) float64 {
		return float64(l[int(p*float64(len(l)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(lat, 0.50), "p50-ms")
	b.ReportMetric(q(lat, 0.99), "p99-ms")
	// The webhook's answer comes once the run is recorded: the rest is
	// the engine handing the first step to an agent.
	b.ReportMetric(q(hand, 0.50), "answer-p50-ms")
}

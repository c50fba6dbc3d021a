package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/store"
)

// gitRepo makes a real git repository with files committed on main and
// returns its path.
func gitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("init", "-q", "-b", "main")
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("add", "-A")
	run("commit", "-q", "-m", "first")
	return dir
}

// runEnds collects run ends and first steps, for tests to wait on.
type runEnds struct {
	mu        sync.Mutex
	ended     map[string]store.Run
	firstStep map[string]time.Time
	records   map[string]map[string]store.Record // run → display name → latest
	ch        chan struct{}
}

func newRunEnds() *runEnds {
	return &runEnds{ended: map[string]store.Run{}, firstStep: map[string]time.Time{}, records: map[string]map[string]store.Record{}, ch: make(chan struct{})}
}

func (r *runEnds) signal() { close(r.ch); r.ch = make(chan struct{}) }

func (r *runEnds) RunChanged(run store.Run) {
	if run.State != store.StateCompleted {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended[run.ID] = run
	r.signal()
}

func (r *runEnds) RecordChanged(rec store.Record) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.records[rec.RunID] == nil {
		r.records[rec.RunID] = map[string]store.Record{}
	}
	r.records[rec.RunID][rec.DisplayName] = rec
	if _, ok := r.firstStep[rec.RunID]; !ok && rec.Type == store.RecordStep && rec.State == store.StateRunning {
		r.firstStep[rec.RunID] = now
	}
	r.signal()
}

// waitRecords waits until ok holds for the run's latest records by
// display name.
func (r *runEnds) waitRecords(t *testing.T, id string, ok func(map[string]store.Record) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		r.mu.Lock()
		done := ok(r.records[id])
		ch := r.ch
		r.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("run %s: records did not reach the state awaited", id)
		}
	}
}

func (r *runEnds) Line(store.Record, time.Time, string) {}

// wait waits until the run has ended and returns it.
func (r *runEnds) wait(t testing.TB, id string) store.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for {
		r.mu.Lock()
		run, ok := r.ended[id]
		ch := r.ch
		r.mu.Unlock()
		if ok {
			return run
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("run %s did not end", id)
		}
	}
}

// firstStepAt waits until the run's first step started and returns when.
func (r *runEnds) firstStepAt(t testing.TB, id string) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		r.mu.Lock()
		at, ok := r.firstStep[id]
		ch := r.ch
		r.mu.Unlock()
		if ok {
			return at
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("run %s: no step started", id)
		}
	}
}

// testServer starts a whole server on a free loopback port with the
// repositories given and returns it with an observer of its runs.
func testServer(t *testing.T, repos []config.Repository, mod func(*Options)) (*App, *runEnds) {
	t.Helper()
	cfg := config.Default()
	cfg.Repositories = repos
	ends := newRunEnds()
	o := Options{Config: cfg, DataDir: t.TempDir(), Listen: "127.0.0.1:0", Observer: ends, LocalAgents: 2, Grace: 5 * time.Second}
	if mod != nil {
		mod(&o)
	}
	app, err := Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app, ends
}

// api calls the server with a token and decodes a JSON answer into out
// (when not nil); it returns the status.
func api(t *testing.T, app *App, token, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, app.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: answer %s: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

// sseEvent is one server-sent event.
type sseEvent struct {
	ID, Event, Data string
}

// readSSE reads events from a stream until an "end" event or EOF.
func readSSE(t *testing.T, app *App, token, path, lastID string) []sseEvent {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, app.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s: %s", path, resp.Status, resp.Header.Get("Content-Type"), b)
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			out = append(out, cur)
			if cur.Event == "end" {
				return out
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Data = strings.TrimPrefix(line, "data: ")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sseTexts returns the text of each line event.
func sseTexts(t *testing.T, evs []sseEvent) []string {
	t.Helper()
	var out []string
	for _, e := range evs {
		if e.Event != "line" {
			continue
		}
		var l LogLineView
		if err := json.Unmarshal([]byte(e.Data), &l); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(l.N) != e.ID {
			t.Errorf("event id %s for line %d", e.ID, l.N)
		}
		out = append(out, l.Text)
	}
	return out
}

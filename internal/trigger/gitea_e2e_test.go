package trigger

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/forge"
	"conveyor.dev/conveyor/internal/forge/giteatest"
)

// e2eStarter plays the server: it records each Request and reports the
// run to the forge as pending, then success.
type e2eStarter struct {
	t        *testing.T
	reporter *forge.Reporter
	mu       sync.Mutex
	n        int
	requests chan Request
}

func (s *e2eStarter) Start(ctx context.Context, r Request) (string, error) {
	s.mu.Lock()
	s.n++
	id := fmt.Sprintf("run-%d", s.n)
	s.mu.Unlock()
	for _, st := range []forge.Run{
		{Repository: r.Repository, Pipeline: r.Pipeline, RunID: id, Commit: r.Commit, State: "running"},
		{Repository: r.Repository, Pipeline: r.Pipeline, RunID: id, Commit: r.Commit, State: "completed", Result: "succeeded"},
	} {
		if err := s.reporter.RunChanged(ctx, st); err != nil {
			return "", err
		}
	}
	s.requests <- r
	return id, nil
}

// next waits for the next Request.
func (s *e2eStarter) next(t *testing.T, what string) Request {
	t.Helper()
	select {
	case r := <-s.requests:
		return r
	case <-time.After(60 * time.Second):
		t.Fatalf("no Request for %s within 60 s", what)
		return Request{}
	}
}

// TestGiteaEndToEnd runs against a real Gitea: a pull request opened in
// Gitea reaches the webhook handler, starts the PR pipeline, whose pending
// and success statuses the reporter posts and Gitea shows; merging it
// starts the CI pipeline.
func TestGiteaEndToEnd(t *testing.T) {
	g := giteatest.Start(t)
	token := g.Token(t, g.Admin, g.Password, "write:repository")
	g.API(t, "POST", "/user/repos", map[string]any{"name": "webapp", "default_branch": "main"}, nil)

	// The repository's history, pushed with real git once the webhook is there.
	local := newGitRepo(t, map[string]string{
		"pr.yml":     "trigger: none\npr:\n  branches:\n    include: [main]\nsteps:\n- script: echo pr\n",
		"ci.yml":     "trigger:\n  branches:\n    include: [main]\npr: none\nsteps:\n- script: echo ci\n",
		"src/app.go": "package app\n",
	})
	remote := g.PushURL("ann", "webapp", g.Admin, g.Password)

	// Conveyor's side: conveyor.yaml, the webhook handler on loopback, the reporter.
	const secret = "e2e-webhook-secret"
	cfg := &config.Config{Repositories: []config.Repository{{
		Name: "webapp", URL: g.CloneURL("ann", "webapp"), WebhookSecret: secret,
		Pipelines: map[string]string{"pr": "pr.yml", "ci": "ci.yml"},
		Forge:     config.Forge{Type: "gitea", API: g.URL, Token: token},
	}}}
	hooks := httptest.NewServer(nil)
	defer hooks.Close()
	starter := &e2eStarter{t: t, requests: make(chan Request, 10),
		reporter: forge.NewReporter(cfg, func(id string) string { return hooks.URL + "/runs/" + id }, nil)}
	d, err := NewDispatcher(cfg, NewGit(t.TempDir()), starter)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	webhooks := NewWebhooks(d, NewMemoryState())
	mux.Handle("POST /webhooks/gitea", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		webhooks.Handler("gitea").ServeHTTP(rec, r)
		if rec.Code >= 300 {
			t.Errorf("webhook answered %d: %s", rec.Code, rec.Body.String())
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	hooks.Config.Handler = mux

	g.API(t, "POST", "/repos/ann/webapp/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"push", "pull_request"},
		"config": map[string]string{"url": hooks.URL + "/webhooks/gitea", "content_type": "json", "secret": secret},
	}, nil)

	// The first push to main starts CI.
	gitCmd(t, local.dir, "push", "--quiet", remote, "main")
	if got := starter.next(t, "the first push to main"); got.Pipeline != "ci" || got.Commit != local.head() || got.Branch != "refs/heads/main" {
		t.Fatalf("first push request = %+v; want pipeline ci at %s", got, local.head())
	}

	// A pull request.
	local.checkout("-b", "feature")
	head := local.commit("feature: greet", map[string]string{"src/greet.go": "package app\n"})
	gitCmd(t, local.dir, "push", "--quiet", remote, "feature")
	var pr struct {
		Number int `json:"number"`
	}
	g.API(t, "POST", "/repos/ann/webapp/pulls", map[string]any{"head": "feature", "base": "main", "title": "Greet"}, &pr)

	got := starter.next(t, "the pull request")
	if got.Pipeline != "pr" || got.Event != "pr" || got.Commit != head || got.PullRequest != pr.Number ||
		got.Branch != "refs/heads/feature" || got.TargetBranch != "refs/heads/main" || got.DeliveryID == "" {
		t.Fatalf("PR request = %+v; want pipeline pr at %s for PR %d", got, head, pr.Number)
	}

	// The statuses Gitea shows for the PR head: pending, then success.
	var statuses []struct {
		State     string `json:"status"`
		Context   string `json:"context"`
		TargetURL string `json:"target_url"`
	}
	g.API(t, "GET", "/repos/ann/webapp/statuses/"+head+"?sort=oldest", nil, &statuses)
	var states []string
	for _, s := range statuses {
		if s.Context != "conveyor/pr" || !strings.HasSuffix(s.TargetURL, "/runs/run-2") {
			t.Errorf("status %+v: want context conveyor/pr linking to run-2", s)
		}
		states = append(states, s.State)
	}
	if strings.Join(states, ",") != "pending,success" {
		t.Errorf("statuses of %s = %v, want pending then success", head, states)
	}
	var combined struct {
		State string `json:"state"`
	}
	g.API(t, "GET", "/repos/ann/webapp/commits/"+head+"/status", nil, &combined)
	if combined.State != "success" {
		t.Errorf("combined status of %s = %q, want success", head, combined.State)
	}

	// Merging the PR pushes to main: the CI pipeline starts.
	g.API(t, "POST", fmt.Sprintf("/repos/ann/webapp/pulls/%d/merge", pr.Number), map[string]any{"Do": "merge"}, nil)
	got = starter.next(t, "the merge to main")
	if got.Pipeline != "ci" || got.Event != "push" || got.Branch != "refs/heads/main" || got.Commit == head {
		t.Fatalf("merge request = %+v; want pipeline ci on main at the merge commit", got)
	}
	// main's head from the git ref: Gitea's branch API reads a table its
	// push queue updates later.
	mainHead, _, _ := strings.Cut(gitCmd(t, local.dir, "ls-remote", remote, "refs/heads/main"), "\t")
	if got.Commit != mainHead {
		t.Errorf("CI commit %s, want main's head %s", got.Commit, mainHead)
	}
	// No other Request came (the feature push, the PR close after merge).
	select {
	case r := <-starter.requests:
		t.Errorf("unexpected request %+v", r)
	default:
	}
}

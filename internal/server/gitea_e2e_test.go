package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/forge/giteatest"
	"conveyor.dev/conveyor/internal/store"
)

// allRuns keeps the latest state of every run of a server, for tests to
// wait on a run they do not know the ID of yet (started by a webhook or a
// completion trigger).
type allRuns struct {
	mu   sync.Mutex
	runs map[string]store.Run
	ch   chan struct{}
}

func newAllRuns() *allRuns { return &allRuns{runs: map[string]store.Run{}, ch: make(chan struct{})} }

func (a *allRuns) RunChanged(r store.Run) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r.Plan = nil
	a.runs[r.ID] = r
	close(a.ch)
	a.ch = make(chan struct{})
}

func (a *allRuns) RecordChanged(store.Record)           {}
func (a *allRuns) Line(store.Record, time.Time, string) {}

// wait waits until a run satisfies ok and returns it.
func (a *allRuns) wait(t *testing.T, what string, ok func(store.Run) bool) store.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for {
		a.mu.Lock()
		ch := a.ch
		var found []store.Run
		for _, r := range a.runs {
			if ok(r) {
				found = append(found, r)
			}
		}
		a.mu.Unlock()
		if len(found) == 1 {
			return found[0]
		}
		if len(found) > 1 {
			t.Fatalf("%s: %d runs match, want one: %+v", what, len(found), found)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			a.mu.Lock()
			defer a.mu.Unlock()
			t.Fatalf("%s: no such run within 2 minutes; runs: %+v", what, a.runs)
		}
	}
}

// count returns how many runs of pipeline there are.
func (a *allRuns) count(pipeline string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range a.runs {
		if r.Pipeline == pipeline {
			n++
		}
	}
	return n
}

// localGit is a working copy to push to Gitea from.
type localGit struct {
	t   *testing.T
	dir string
}

func (g localGit) git(args ...string) string {
	g.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ann", "GIT_AUTHOR_EMAIL=ann@example.com",
		"GIT_COMMITTER_NAME=Ann", "GIT_COMMITTER_EMAIL=ann@example.com", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		g.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (g localGit) commit(msg string, files map[string]string) string {
	g.t.Helper()
	for name, body := range files {
		p := filepath.Join(g.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			g.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			g.t.Fatal(err)
		}
	}
	g.git("add", "-A")
	g.git("commit", "-q", "-m", msg)
	return g.git("rev-parse", "HEAD")
}

// waitStatuses polls Gitea (another process) until the commit's statuses
// of context satisfy ok, and returns them.
func waitStatuses(t *testing.T, g *giteatest.Server, commit, context string, ok func([]giteatest.Status) bool) []giteatest.Status {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var got []giteatest.Status
		for _, s := range g.Statuses(t, "ann", "webapp", commit) {
			if s.Context == context {
				got = append(got, s)
			}
		}
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("statuses %s of %.12s = %+v: not what was awaited within a minute", context, commit, got)
		}
		<-tick.C
	}
}

func states(ss []giteatest.Status) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.State)
	}
	return out
}

const (
	e2ePRPipeline = `trigger: none
pr:
  branches:
    include: [main]
steps:
- script: echo checking the pull request
  displayName: check
`
	e2eCIPipeline = `trigger:
  branches:
    include: [main]
pr: none
steps:
- script: echo building $(Build.SourceVersion) for $(Build.RequestedFor)
  displayName: build
`
	e2eCDPipeline = `trigger: none
pr: none
resources:
  pipelines:
  - pipeline: ci
    source: ci
    trigger:
      branches:
        include: [main]
stages:
- stage: Production
  jobs:
  - deployment: Deploy
    environment: production
    strategy:
      runOnce:
        deploy:
          steps:
          - script: echo deploying CI run $(resources.pipeline.ci.runID) requested for $(Build.RequestedFor)
            displayName: deploy
`
)

// TestGiteaPullRequestToProduction is the delivery flow against a real
// Gitea and a whole server: a pull request opened in Gitea reaches the
// server's webhook, runs the PR pipeline and shows its commit status
// (pending, then success, linking to the run) in Gitea; merging it runs CI
// on main, whose completion triggers CD (resources.pipelines), whose
// production deployment waits for approval: the merger (the requester)
// is refused, another approver releases it, and the audit log has both.
func TestGiteaPullRequestToProduction(t *testing.T) {
	g := giteatest.Start(t)
	g.CreateUser(t, "bob", "conveyor-test-pw2")
	forgeToken := g.Token(t, g.Admin, g.Password, "write:repository")
	g.API(t, "POST", "/user/repos", map[string]any{"name": "webapp", "default_branch": "main"}, nil)

	// main holds the three pipelines; it is pushed before the webhook
	// exists, so nothing runs yet. Gitea handles a push in a queue after
	// the push returns, and sends the webhooks that exist by then: the
	// test waits until its branch table shows the push before adding the
	// webhook, and below waits for runs of the commits it expects, so a
	// late push event of this commit cannot stand in for the merge's.
	local := localGit{t, t.TempDir()}
	local.git("init", "-q", "-b", "main")
	initial := local.commit("pipelines", map[string]string{"pr.yml": e2ePRPipeline, "ci.yml": e2eCIPipeline, "cd.yml": e2eCDPipeline, "src/app.go": "package app\n"})
	push := g.PushURL("ann", "webapp", g.Admin, g.Password)
	local.git("push", "-q", push, "main")
	waitBranch(t, g, "main", initial)

	const secret = "e2e-webhook-secret"
	cfgFile := filepath.Join(t.TempDir(), "conveyor.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
environments:
  production:
    checks:
      approvals:
        approvers: [ann, bob]
        requesterCannotApprove: true
        instructions: check the staging dashboards first
repositories:
- name: webapp
  url: %s
  webhookSecret: ${E2E_WEBHOOK_SECRET}
  pipelines: {pr: pr.yml, ci: ci.yml, cd: cd.yml}
  forge: {type: gitea, api: %s, token: %s}
users:
  ann: {role: approver}
  bob: {role: approver}
`, g.CloneURL("ann", "webapp"), g.URL, forgeToken)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("E2E_WEBHOOK_SECRET", secret)
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	runs := newAllRuns()
	app, err := Start(t.Context(), Options{Config: cfg, DataDir: t.TempDir(), Listen: "127.0.0.1:0", Observer: runs, LocalAgents: 2, Grace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	tokens := map[string]string{}
	for _, u := range []string{"ann", "bob"} {
		if tokens[u], err = CreateToken(t.Context(), app.Store, u, RoleApprover); err != nil {
			t.Fatal(err)
		}
	}

	g.API(t, "POST", "/repos/ann/webapp/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"push", "pull_request"},
		"config": map[string]string{"url": app.URL() + "/webhooks/gitea", "content_type": "json", "secret": secret},
	}, nil)

	// A pull request from a feature branch runs the PR pipeline.
	local.git("checkout", "-q", "-b", "feature")
	head := local.commit("greet", map[string]string{"src/greet.go": "package app\n"})
	local.git("push", "-q", push, "feature")
	var pr struct {
		Number int `json:"number"`
	}
	g.API(t, "POST", "/repos/ann/webapp/pulls", map[string]any{"head": "feature", "base": "main", "title": "Greet"}, &pr)
	prRun := runs.wait(t, "the PR run", func(r store.Run) bool {
		return r.Pipeline == "pr" && r.State == store.StateCompleted
	})
	if prRun.Result != store.ResultSucceeded || prRun.Event != store.EventPR || prRun.Commit != head {
		t.Fatalf("PR run = %s %s at %.12s, want a succeeded pr run at %.12s", prRun.Event, prRun.Result, prRun.Commit, head)
	}
	// Gitea shows its status: pending, then success, linking to the run.
	prStatuses := waitStatuses(t, g, head, "conveyor/pr", func(ss []giteatest.Status) bool {
		return len(ss) > 0 && ss[len(ss)-1].State == "success"
	})
	if diff := slices.Compact(states(prStatuses)); !slices.Equal(diff, []string{"pending", "success"}) {
		t.Errorf("statuses of the PR head = %v, want pending then success", states(prStatuses))
	}
	for _, s := range prStatuses {
		if want := app.URL() + "/ui/runs/" + prRun.ID; s.TargetURL != want {
			t.Errorf("status %s links to %q, want %q", s.State, s.TargetURL, want)
		}
	}

	// ann merges it: CI runs on main for ann, and its completion starts CD.
	g.API(t, "POST", fmt.Sprintf("/repos/ann/webapp/pulls/%d/merge", pr.Number), map[string]any{"Do": "merge"}, nil)
	// Gitea's branch API reads a table its push queue updates later, so
	// the merge commit is read from the git ref itself, which the merge
	// call has written before it returns.
	merge, _, _ := strings.Cut(local.git("ls-remote", push, "refs/heads/main"), "\t")
	local.git("fetch", "-q", push, "main")
	if parents := strings.Fields(local.git("rev-list", "--parents", "-n1", merge)); !slices.Contains(parents[1:], head) {
		t.Fatalf("main after the merge = %.12s with parents %v, want a merge of the PR head %.12s", merge, parents[1:], head)
	}
	ciRun := runs.wait(t, "the CI run of the merge", func(r store.Run) bool {
		return r.Pipeline == "ci" && r.State == store.StateCompleted && r.Commit == merge
	})
	if ciRun.Result != store.ResultSucceeded || ciRun.Event != store.EventPush || ciRun.Commit != merge || ciRun.Branch != "refs/heads/main" {
		t.Fatalf("CI run = %s %s at %.12s on %s, want a succeeded push run at %.12s on main", ciRun.Event, ciRun.Result, ciRun.Commit, ciRun.Branch, merge)
	}
	if got := logText(t, app, app.AdminToken, ciRun.ID, "build"); !strings.Contains(got, "building "+merge+" for ann") {
		t.Errorf("CI build log = %q, want it built for ann, the merger", got)
	}
	waitStatuses(t, g, merge, "conveyor/ci", func(ss []giteatest.Status) bool { return len(ss) > 0 && ss[len(ss)-1].State == "success" })

	cdRun := runs.wait(t, "the CD run waiting for approval", func(r store.Run) bool {
		return r.Pipeline == "cd" && r.State == store.StateWaiting && r.Commit == merge
	})
	if cdRun.Event != store.EventPipeline || cdRun.Commit != merge {
		t.Errorf("CD run = %s at %.12s, want a pipeline-triggered run at %.12s", cdRun.Event, cdRun.Commit, merge)
	}
	var pending []store.Approval
	if st := api(t, app, tokens["bob"], "GET", "/api/v1/approvals?state=pending&run="+cdRun.ID, nil, &pending); st != http.StatusOK || len(pending) != 1 {
		t.Fatalf("pending approvals of the CD run: %d %+v, want one", st, pending)
	}
	ap := pending[0]
	if ap.Environment != "production" || ap.Requester != "ann" {
		t.Errorf("approval = environment %q requested by %q, want production requested by ann (who merged)", ap.Environment, ap.Requester)
	}

	// ann asked for the run: she may not approve it.
	var refusal apiError
	if st := apiCall(t, app, tokens["ann"], "POST", "/api/v1/approvals/"+ap.ID+"/approve", map[string]string{"comment": "lgtm"}, &refusal); st != http.StatusForbidden ||
		!strings.Contains(refusal.Error, "requester cannot approve") || !strings.Contains(refusal.Error, "ask another approver") {
		t.Fatalf("approval by the requester = %d %q, want 403 saying the requester cannot approve", st, refusal.Error)
	}
	if r := runs.wait(t, "the CD run still waiting", func(r store.Run) bool { return r.ID == cdRun.ID }); r.State != store.StateWaiting {
		t.Fatalf("CD run after the refusal = %s %s, want still waiting", r.State, r.Result)
	}
	// bob may.
	var decided store.Approval
	if st := api(t, app, tokens["bob"], "POST", "/api/v1/approvals/"+ap.ID+"/approve", map[string]string{"comment": "dashboards green"}, &decided); st != http.StatusOK || decided.State != store.ApprovalApproved {
		t.Fatalf("approval by bob = %d %s, want 200 approved", st, decided.State)
	}
	cdEnd := runs.wait(t, "the CD run's end", func(r store.Run) bool { return r.ID == cdRun.ID && r.State == store.StateCompleted })
	if cdEnd.Result != store.ResultSucceeded {
		t.Fatalf("CD run = %s, want succeeded", cdEnd.Result)
	}
	if got := logText(t, app, app.AdminToken, cdRun.ID, "deploy"); !strings.Contains(got, "deploying CI run "+ciRun.ID+" requested for ann") {
		t.Errorf("CD deploy log = %q, want the CI run's ID and ann", got)
	}
	waitStatuses(t, g, merge, "conveyor/cd", func(ss []giteatest.Status) bool { return len(ss) > 0 && ss[len(ss)-1].State == "success" })

	// The audit log has both decisions.
	var audit []store.AuditEntry
	if st := api(t, app, tokens["bob"], "GET", "/api/v1/audit", nil, &audit); st != http.StatusOK {
		t.Fatalf("GET audit: %d", st)
	}
	var refused, approved bool
	for _, e := range audit {
		switch {
		case e.Actor == "ann" && e.Action == "approval.refused" && e.RunID == cdRun.ID && strings.Contains(e.Detail, "requester cannot approve"):
			refused = true
		case e.Actor == "bob" && e.Action == "approval.approve" && e.Detail == "dashboards green":
			approved = true
		}
	}
	if !refused || !approved {
		t.Errorf("audit log (refusal by ann %v, approval by bob %v):\n%+v", refused, approved, audit)
	}
	// Each pipeline ran once: no second CD, no CI for the feature branch.
	for _, p := range []string{"pr", "ci", "cd"} {
		if n := runs.count(p); n != 1 {
			t.Errorf("%d runs of %s, want 1", n, p)
		}
	}
}

// apiCall calls the API with a token and decodes the answer, success or
// error, into out; it returns the status.
func apiCall(t *testing.T, app *App, token, method, path string, body, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, app.URL()+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s %s: %d: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode
}

// logText returns the text of the log of the step displayed as name in
// the run.
func logText(t *testing.T, app *App, token, runID, name string) string {
	t.Helper()
	var recs []RecordView
	if api(t, app, token, "GET", "/api/v1/runs/"+runID+"/records", nil, &recs) != http.StatusOK {
		t.Fatal("GET records")
	}
	id := stepID(recs, name)
	if id == "" {
		t.Fatalf("run %s has no step %q", runID, name)
	}
	var log LogView
	if st := api(t, app, token, "GET", "/api/v1/runs/"+runID+"/logs/"+id, nil, &log); st != http.StatusOK {
		t.Fatalf("GET log of %s: %d", name, st)
	}
	var b strings.Builder
	for _, l := range log.Lines {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

// waitBranch waits until Gitea's branch API shows branch at commit: its
// push queue has handled the push.
func waitBranch(t *testing.T, g *giteatest.Server, branch, commit string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for g.BranchCommit(t, "ann", "webapp", branch) != commit {
		if time.Now().After(deadline) {
			t.Fatalf("Gitea's branch %s did not reach %.12s within a minute", branch, commit)
		}
		<-tick.C
	}
}

package trigger

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"conveyor.dev/conveyor/internal/config"
)

// gitRepo is a real git repository in a temp folder.
type gitRepo struct {
	t   testing.TB
	dir string
}

func gitCmd(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=Ann", "GIT_AUTHOR_EMAIL=ann@example.com",
		"GIT_COMMITTER_NAME=Ann", "GIT_COMMITTER_EMAIL=ann@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func newGitRepo(t testing.TB, files map[string]string) *gitRepo {
	t.Helper()
	r := &gitRepo{t: t, dir: t.TempDir()}
	gitCmd(t, r.dir, "init", "--quiet", "--initial-branch=main")
	r.commit("initial", files)
	return r
}

// commit writes files ("" deletes) and commits them; it returns the commit.
func (r *gitRepo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, filepath.FromSlash(name))
		if content == "" {
			os.Remove(p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	gitCmd(r.t, r.dir, "add", "-A")
	gitCmd(r.t, r.dir, "commit", "--quiet", "--allow-empty", "-m", msg)
	return r.head()
}

func (r *gitRepo) head() string { return gitCmd(r.t, r.dir, "rev-parse", "HEAD") }

func (r *gitRepo) checkout(args ...string) {
	r.t.Helper()
	gitCmd(r.t, r.dir, append([]string{"checkout", "--quiet"}, args...)...)
}

// The test pipelines: pr.yml runs for PRs into main (no drafts, not for
// docs), ci.yml for pushes to main and releases/* and v* tags (not docs),
// cd.yml after a successful ci run on main.
var testPipelines = map[string]string{
	"pr.yml": `trigger: none
pr:
  branches:
    include: [main]
  paths:
    exclude: [docs]
  drafts: false
steps:
- script: echo pr
`,
	"ci.yml": `trigger:
  branches:
    include: [main, releases/*]
    exclude: [releases/old]
  paths:
    exclude: [docs]
  tags:
    include: [v*]
pr: none
steps:
- script: echo ci
`,
	"cd.yml": `trigger: none
pr: none
resources:
  pipelines:
  - pipeline: build
    source: ci
    trigger:
      branches:
        include: [main]
steps:
- script: echo cd
`,
	"src/app.go":     "package app\n",
	"docs/readme.md": "# docs\n",
}

const testSecret = "s3cret"

// recorder is a Starter and Canceler that records what it is asked.
type recorder struct {
	mu       sync.Mutex
	requests []Request
	cancels  []string
	active   bool
	gitDirs  []string // GitDir of each request
}

func (r *recorder) Start(_ context.Context, req Request) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Where the commit can be read is checked on its own
	// (TestRequestsSayWhereTheCommitIs); requests are compared without it.
	r.gitDirs = append(r.gitDirs, req.GitDir)
	req.GitDir = ""
	r.requests = append(r.requests, req)
	return fmt.Sprintf("run-%d", len(r.requests)), nil
}

func (r *recorder) CancelPullRequest(_ context.Context, repo, pipeline string, pr int, except string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancels = append(r.cancels, fmt.Sprintf("%s/%s#%d except %q", repo, pipeline, pr, except))
	return 1, nil
}

func (r *recorder) Active(context.Context, string, string, string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.active, nil
}

func (r *recorder) take() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.requests
	r.requests = nil
	return out
}

// fixture is a repository in conveyor.yaml, a dispatcher and webhooks.
type fixture struct {
	repo     *gitRepo
	cfg      *config.Config
	rec      *recorder
	state    *MemoryState
	d        *Dispatcher
	webhooks *Webhooks
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	repo := newGitRepo(t, testPipelines)
	cfg := &config.Config{Repositories: []config.Repository{{
		Name: "webapp", URL: repo.dir, WebhookSecret: testSecret,
		Pipelines: map[string]string{"pr": "pr.yml", "ci": "ci.yml", "cd": "cd.yml"},
	}}}
	rec := &recorder{}
	state := NewMemoryState()
	d, err := NewDispatcher(cfg, NewGit(t.TempDir()), rec, WithCanceler(rec), WithActiveRuns(rec, state))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{repo: repo, cfg: cfg, rec: rec, state: state, d: d, webhooks: NewWebhooks(d, state)}
}

// delivery is one webhook delivery to send.
type delivery struct {
	provider string
	header   http.Header
	body     []byte
}

func hmacHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// sign signs d for its provider with secret ("" leaves it unsigned).
func (d delivery) sign(secret string) delivery {
	h := d.header.Clone()
	if secret != "" {
		switch d.provider {
		case "github":
			h.Set("X-Hub-Signature-256", "sha256="+hmacHex(secret, d.body))
		case "gitea":
			h.Set("X-Gitea-Signature", hmacHex(secret, d.body))
		case "azure-repos":
			r := http.Request{Header: h}
			r.SetBasicAuth("azure", secret)
		}
	}
	return delivery{d.provider, h, d.body}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// pushDelivery is a push of ref from before to after, by provider.
func pushDelivery(provider, id, url, ref, before, after string, changed []string) delivery {
	h := http.Header{}
	if provider == "azure-repos" {
		body := map[string]any{"id": id, "eventType": "git.push", "resource": map[string]any{
			"refUpdates": []any{map[string]any{"name": ref, "oldObjectId": before, "newObjectId": after}},
			"repository": map[string]any{"name": "webapp", "remoteUrl": url, "project": map[string]any{"name": "proj"}},
			"pushedBy":   map[string]any{"uniqueName": "ann@example.com"},
			"commits":    []any{map[string]any{"commitId": after, "comment": "change"}},
		}}
		return delivery{provider, h, mustJSON(body)}
	}
	prefix := map[string]string{"github": "X-GitHub", "gitea": "X-Gitea"}[provider]
	h.Set(prefix+"-Event", "push")
	h.Set(prefix+"-Delivery", id)
	var commits []any
	if changed != nil {
		commits = []any{map[string]any{"id": after, "message": "change\n\nbody", "modified": changed}}
	}
	body := map[string]any{"ref": ref, "before": before, "after": after, "commits": commits,
		"head_commit": map[string]any{"id": after, "message": "change\n\nbody"},
		"repository":  map[string]any{"full_name": "ann/webapp", "clone_url": url},
		"pusher":      map[string]any{"login": "ann"}}
	return delivery{provider, h, mustJSON(body)}
}

// prDelivery is a pull request event.
func prDelivery(provider, id, url, action string, number int, head, source, target string, draft bool) delivery {
	h := http.Header{}
	if provider == "azure-repos" {
		event := map[string]string{ActionOpened: "git.pullrequest.created", ActionSynchronize: "git.pullrequest.updated", ActionClosed: "git.pullrequest.updated"}[action]
		status := "active"
		if action == ActionClosed {
			status = "abandoned"
		}
		body := map[string]any{"id": id, "eventType": event, "message": map[string]any{"text": "Ann updated the source branch of pull request"},
			"resource": map[string]any{
				"repository":    map[string]any{"name": "webapp", "remoteUrl": url, "project": map[string]any{"name": "proj"}},
				"pullRequestId": number, "status": status, "title": "a change", "isDraft": draft,
				"sourceRefName": "refs/heads/" + source, "targetRefName": "refs/heads/" + target,
				"createdBy":             map[string]any{"uniqueName": "ann@example.com"},
				"lastMergeSourceCommit": map[string]any{"commitId": head},
			}}
		return delivery{provider, h, mustJSON(body)}
	}
	prefix := map[string]string{"github": "X-GitHub", "gitea": "X-Gitea"}[provider]
	h.Set(prefix+"-Event", "pull_request")
	h.Set(prefix+"-Delivery", id)
	if provider == "gitea" && action == ActionSynchronize {
		action = "synchronized"
	}
	body := map[string]any{"action": action, "number": number,
		"pull_request": map[string]any{"number": number, "title": "a change", "draft": draft,
			"head": map[string]any{"ref": source, "sha": head}, "base": map[string]any{"ref": target}},
		"repository": map[string]any{"full_name": "ann/webapp", "clone_url": url},
		"sender":     map[string]any{"login": "ann"}}
	return delivery{provider, h, mustJSON(body)}
}

// send delivers d to the webhooks and decodes the answer.
func (f *fixture) send(t testing.TB, d delivery) (int, Response) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/"+d.provider, bytes.NewReader(d.body))
	req.Header = d.header
	rw := httptest.NewRecorder()
	f.webhooks.ServeHTTP(rw, req)
	var resp Response
	if err := json.Unmarshal(rw.Body.Bytes(), &resp); err != nil {
		t.Fatalf("webhook answer %q: %v", rw.Body.String(), err)
	}
	return rw.Code, resp
}

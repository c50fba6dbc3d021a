package trigger

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/forge"
)

// moduleRoot is the folder of the module's go.mod above the test.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "tools", "gitea", "build.sh")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("tools/gitea/build.sh not found above the test's folder")
		}
	}
}

// giteaBinary builds (or finds in the cache) the pinned Gitea with
// tools/gitea/build.sh and returns it with its static root (templates,
// options).
func giteaBinary(t testing.TB) (bin, static string) {
	t.Helper()
	script := filepath.Join(moduleRoot(t), "tools", "gitea", "build.sh")
	run := func(args ...string) string {
		cmd := exec.Command("bash", append([]string{script}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", script, strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	return run(), run("--static-root")
}

// giteaServer is a real Gitea on loopback with an admin user.
type giteaServer struct {
	url, user, password string
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startGitea(t *testing.T) *giteaServer {
	t.Helper()
	bin, static := giteaBinary(t)
	work := t.TempDir()
	port := freePort(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	root := ""
	if u.Uid == "0" {
		root = "I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true\n"
	}
	ini := fmt.Sprintf(`APP_NAME = conveyor-e2e
RUN_MODE = prod
RUN_USER = %[1]s
WORK_PATH = %[2]s
%[5]s
[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[3]d
ROOT_URL = http://127.0.0.1:%[3]d/
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false
APP_DATA_PATH = %[2]s/data
STATIC_ROOT_PATH = %[4]s

[database]
DB_TYPE = sqlite3
PATH = %[2]s/data/gitea.db

[repository]
ROOT = %[2]s/repos

[security]
INSTALL_LOCK = true
SECRET_KEY = conveyor-e2e-secret-key-0123456789
PASSWORD_HASH_ALGO = pbkdf2_hi

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true

[webhook]
ALLOWED_HOST_LIST = loopback,private
DELIVER_TIMEOUT = 10

[queue]
TYPE = channel

[indexer]
ISSUE_INDEXER_TYPE = db
REPO_INDEXER_ENABLED = false

[cron]
ENABLED = false

[session]
PROVIDER = memory

[cache]
ADAPTER = memory

[picture]
DISABLE_GRAVATAR = true

[mailer]
ENABLED = false

[log]
MODE = console
LEVEL = warn
ROOT_PATH = %[2]s/log
`, u.Username, work, port, static, root)
	conf := filepath.Join(work, "custom", "conf", "app.ini")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GITEA_WORK_DIR="+work, "HOME="+work, "GIT_CONFIG_NOSYSTEM=1")
	gitea := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--config", conf, "--work-path", work}, args...)...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gitea %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	gitea("migrate")
	g := &giteaServer{url: fmt.Sprintf("http://127.0.0.1:%d", port), user: "ann", password: "conveyor-e2e-pw1"}
	gitea("admin", "user", "create", "--username", g.user, "--password", g.password, "--email", "ann@example.com", "--admin", "--must-change-password=false")

	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config", conf, "--work-path", work, "web")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &syncWriter{w: &logs}, &syncWriter{w: &logs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("gitea log:\n%s", logs.String())
		}
	})
	// Wait for the API to answer.
	ready := time.NewTicker(100 * time.Millisecond)
	defer ready.Stop()
	deadline := time.After(60 * time.Second)
	for {
		resp, err := http.Get(g.url + "/api/v1/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("gitea exited before answering: %v\n%s", err, logs.String())
		case <-deadline:
			t.Fatalf("gitea did not answer on %s within 60 s\n%s", g.url, logs.String())
		case <-ready.C:
		}
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// api calls Gitea's API as the admin and decodes the answer into out.
func (g *giteaServer) api(t testing.TB, method, path string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		body = bytes.NewReader(mustJSON(in))
	}
	req, err := http.NewRequest(method, g.url+"/api/v1"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(g.user, g.password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("gitea %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("gitea %s %s: %v: %s", method, path, err, b)
		}
	}
}

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
	g := startGitea(t)

	var token struct {
		SHA1 string `json:"sha1"`
	}
	g.api(t, "POST", "/users/ann/tokens", map[string]any{"name": "conveyor", "scopes": []string{"write:repository"}}, &token)
	g.api(t, "POST", "/user/repos", map[string]any{"name": "webapp", "default_branch": "main"}, nil)

	// The repository's history, pushed with real git once the webhook is there.
	local := newGitRepo(t, map[string]string{
		"pr.yml":     "trigger: none\npr:\n  branches:\n    include: [main]\nsteps:\n- script: echo pr\n",
		"ci.yml":     "trigger:\n  branches:\n    include: [main]\npr: none\nsteps:\n- script: echo ci\n",
		"src/app.go": "package app\n",
	})
	remote := strings.Replace(g.url, "http://", "http://ann:"+g.password+"@", 1) + "/ann/webapp.git"

	// Conveyor's side: conveyor.yaml, the webhook handler on loopback, the reporter.
	const secret = "e2e-webhook-secret"
	cfg := &config.Config{Repositories: []config.Repository{{
		Name: "webapp", URL: g.url + "/ann/webapp.git", WebhookSecret: secret,
		Pipelines: map[string]string{"pr": "pr.yml", "ci": "ci.yml"},
		Forge:     config.Forge{Type: "gitea", API: g.url, Token: token.SHA1},
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

	g.api(t, "POST", "/repos/ann/webapp/hooks", map[string]any{
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
	g.api(t, "POST", "/repos/ann/webapp/pulls", map[string]any{"head": "feature", "base": "main", "title": "Greet"}, &pr)

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
	g.api(t, "GET", "/repos/ann/webapp/statuses/"+head+"?sort=oldest", nil, &statuses)
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
	g.api(t, "GET", "/repos/ann/webapp/commits/"+head+"/status", nil, &combined)
	if combined.State != "success" {
		t.Errorf("combined status of %s = %q, want success", head, combined.State)
	}

	// Merging the PR pushes to main: the CI pipeline starts.
	g.api(t, "POST", fmt.Sprintf("/repos/ann/webapp/pulls/%d/merge", pr.Number), map[string]any{"Do": "merge"}, nil)
	got = starter.next(t, "the merge to main")
	if got.Pipeline != "ci" || got.Event != "push" || got.Branch != "refs/heads/main" || got.Commit == head {
		t.Fatalf("merge request = %+v; want pipeline ci on main at the merge commit", got)
	}
	var branch struct {
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}
	g.api(t, "GET", "/repos/ann/webapp/branches/main", nil, &branch)
	if got.Commit != branch.Commit.ID {
		t.Errorf("CI commit %s, want main's head %s", got.Commit, branch.Commit.ID)
	}
	// No other Request came (the feature push, the PR close after merge).
	select {
	case r := <-starter.requests:
		t.Errorf("unexpected request %+v", r)
	default:
	}
}

// Package giteatest starts a real Gitea server on loopback for tests: the
// pinned Gitea built (or found in the cache) by tools/gitea/build.sh, with
// SQLite, no SSH, webhooks allowed to loopback and an admin user. Tests use
// its REST API to make users, repositories, webhooks and pull requests,
// and push to it with real git.
//
// It is a test helper: it imports the standard library and testing only,
// and nothing of the module.
package giteatest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/toolscript"
)

// Server is a running Gitea with an admin user.
type Server struct {
	// URL is the server's base URL (http://127.0.0.1:PORT).
	URL string
	// Admin and Password are the admin user's credentials.
	Admin, Password string
}

// Binary builds (or finds in the cache) the pinned Gitea with
// tools/gitea/build.sh and returns it with its static root (templates,
// options).
func Binary(t testing.TB) (bin, static string) {
	t.Helper()
	script, err := toolscript.Find("gitea")
	if err != nil {
		t.Fatalf("giteatest: %v", err)
	}
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

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts Gitea in a temporary folder with the admin user ann and
// stops it when the test ends (printing its log when the test failed).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, static := Binary(t)
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
	ini := fmt.Sprintf(`APP_NAME = conveyor-test
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
SECRET_KEY = conveyor-test-secret-key-0123456789
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
	g := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Admin: "ann", Password: "conveyor-test-pw1"}
	gitea("admin", "user", "create", "--username", g.Admin, "--password", g.Password, "--email", "ann@example.com", "--admin", "--must-change-password=false")

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
	// Wait for the API to answer: Gitea is another process.
	ready := time.NewTicker(100 * time.Millisecond)
	defer ready.Stop()
	deadline := time.After(60 * time.Second)
	for {
		resp, err := http.Get(g.URL + "/api/v1/version")
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
			t.Fatalf("gitea did not answer on %s within 60 s\n%s", g.URL, logs.String())
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

// API calls Gitea's API (path under /api/v1) as the admin and decodes the
// answer into out (when not nil); a non-2xx answer fails the test.
func (g *Server) API(t testing.TB, method, path string, in, out any) {
	t.Helper()
	g.APIAs(t, g.Admin, g.Password, method, path, in, out)
}

// APIAs calls Gitea's API as user with password.
func (g *Server) APIAs(t testing.TB, user, password, method, path string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.URL+"/api/v1"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("gitea %s %s as %s: %s: %s", method, path, user, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("gitea %s %s: %v: %s", method, path, err, b)
		}
	}
}

// BranchCommit returns the commit Gitea's branch API shows for branch,
// or "" while it shows none. Gitea updates that table from its push queue
// after a push returns, so it lags behind the git ref.
func (g *Server) BranchCommit(t testing.TB, owner, repo, branch string) string {
	t.Helper()
	req, err := http.NewRequest("GET", g.URL+"/api/v1/repos/"+owner+"/"+repo+"/branches/"+branch, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(g.Admin, g.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return ""
	}
	var b struct {
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}
	if resp.StatusCode/100 != 2 {
		t.Fatalf("gitea GET branch %s of %s/%s: %s", branch, owner, repo, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatalf("gitea GET branch %s of %s/%s: %v", branch, owner, repo, err)
	}
	return b.Commit.ID
}

// CreateUser makes a user with password (not an admin).
func (g *Server) CreateUser(t testing.TB, name, password string) {
	t.Helper()
	g.API(t, "POST", "/admin/users", map[string]any{"username": name, "password": password, "email": name + "@example.com",
		"must_change_password": false}, nil)
}

// Token makes an access token of user with the scopes given (e.g.
// write:repository) and returns it.
func (g *Server) Token(t testing.TB, user, password string, scopes ...string) string {
	t.Helper()
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	g.APIAs(t, user, password, "POST", "/users/"+user+"/tokens", map[string]any{"name": "conveyor-" + fmt.Sprint(time.Now().UnixNano()), "scopes": scopes}, &tok)
	return tok.SHA1
}

// CloneURL is the clone URL of owner/repo without credentials.
func (g *Server) CloneURL(owner, repo string) string {
	return g.URL + "/" + owner + "/" + repo + ".git"
}

// PushURL is the clone URL of owner/repo with user's credentials in it,
// for git push.
func (g *Server) PushURL(owner, repo, user, password string) string {
	u, _ := url.Parse(g.CloneURL(owner, repo))
	u.User = url.UserPassword(user, password)
	return u.String()
}

// Status is a commit status as Gitea shows it.
type Status struct {
	State       string `json:"status"`
	Context     string `json:"context"`
	TargetURL   string `json:"target_url"`
	Description string `json:"description"`
}

// Statuses returns the statuses of commit in owner/repo, oldest first.
func (g *Server) Statuses(t testing.TB, owner, repo, commit string) []Status {
	t.Helper()
	var out []Status
	g.API(t, "GET", fmt.Sprintf("/repos/%s/%s/statuses/%s?sort=oldest&limit=50", owner, repo, commit), nil, &out)
	return out
}

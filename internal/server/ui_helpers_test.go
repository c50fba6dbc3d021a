package server

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/observe"
	"conveyor.dev/conveyor/internal/store"
)

// uiPipeline builds, with a step that writes a line, waits until the
// file %[1]s exists (the test's go-ahead) and writes another, then
// deploys to production, which waits for approval.
const uiPipeline = `trigger: none
pr: none
stages:
- stage: Build
  jobs:
  - job: Compile
    steps:
    - script: |
        echo "first line of the build"
        while [ ! -f '%[1]s' ]; do sleep 0.05; done
        echo "second line <b>after</b> the go-ahead"
      displayName: wait for go
- stage: Production
  jobs:
  - deployment: Deploy
    environment: production
    strategy:
      runOnce:
        deploy:
          steps:
          - script: echo deploying
            displayName: deploy
`

// uiFixture is a whole server with a run of uiPipeline requested by ann,
// tokens of every role, and the go-ahead file of the run's build step.
type uiFixture struct {
	app    *App
	runs   *allRuns
	lines  *stepLines
	tokens map[string]string // user → token: ann, bob (approvers), vic (viewer), oli (operator), agent
	run    RunView
	goFile string
}

func newUIFixture(t *testing.T) *uiFixture {
	t.Helper()
	goFile := filepath.Join(t.TempDir(), "go")
	repo := gitRepo(t, map[string]string{"deliver.yml": fmt.Sprintf(uiPipeline, goFile)})
	cfgFile := filepath.Join(t.TempDir(), "conveyor.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
environments:
  production:
    namespace: prod
    checks:
      approvals:
        approvers: [ann, bob]
        requesterCannotApprove: true
        instructions: check the staging dashboards first
repositories:
- name: webapp
  url: %s
  pipelines: {deliver: deliver.yml}
users:
  ann: {role: approver}
  bob: {role: approver}
  vic: {role: viewer}
  oli: {role: operator}
`, repo)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	f := &uiFixture{runs: newAllRuns(), lines: &stepLines{lines: map[string][]string{}, ch: make(chan struct{})}, tokens: map[string]string{}, goFile: goFile}
	f.app, err = Start(t.Context(), Options{Config: cfg, DataDir: t.TempDir(), Listen: "127.0.0.1:0", Observer: observe.Fanout{f.runs, f.lines},
		LocalAgents: 2, Grace: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.app.Close() })
	for user, role := range map[string]Role{"ann": RoleApprover, "bob": RoleApprover, "vic": RoleViewer, "oli": RoleOperator, "agent": RoleAgent} {
		if f.tokens[user], err = CreateToken(t.Context(), f.app.Store, user, role); err != nil {
			t.Fatal(err)
		}
	}
	if st := api(t, f.app, f.tokens["ann"], "POST", "/api/v1/runs", map[string]any{"pipeline": "deliver"}, &f.run); st != http.StatusCreated {
		t.Fatalf("ann starts the run: %d", st)
	}
	return f
}

// stepLines keeps the log lines of every step by run and display name,
// for tests to wait on.
type stepLines struct {
	mu    sync.Mutex
	lines map[string][]string // run, display name → lines
	ids   map[string]string   // run, display name → record ID
	ch    chan struct{}
}

func (l *stepLines) RunChanged(store.Run)       {}
func (l *stepLines) RecordChanged(store.Record) {}

func (l *stepLines) Line(rec store.Record, _ time.Time, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := rec.RunID + "\x00" + rec.DisplayName
	l.lines[key] = append(l.lines[key], text)
	if l.ids == nil {
		l.ids = map[string]string{}
	}
	l.ids[key] = rec.ID
	close(l.ch)
	l.ch = make(chan struct{})
}

// wait waits until the step named step of the run wrote a line containing
// text and returns the step's record ID.
func (l *stepLines) wait(t *testing.T, runID, step, text string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	key := runID + "\x00" + step
	for {
		l.mu.Lock()
		ch, id := l.ch, l.ids[key]
		found := slices.ContainsFunc(l.lines[key], func(s string) bool { return strings.Contains(s, text) })
		l.mu.Unlock()
		if found {
			return id
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("run %s: step %q wrote no line with %q", runID, step, text)
		}
	}
}

// goAhead lets the build step finish.
func (f *uiFixture) goAhead(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(f.goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitState waits until the fixture's run (or the run id) is in state.
func (f *uiFixture) waitState(t *testing.T, id string, state store.State) store.Run {
	t.Helper()
	return f.runs.wait(t, "run "+id+" "+string(state), func(r store.Run) bool { return r.ID == id && r.State == state })
}

// pendingApproval returns the run's one pending approval.
func (f *uiFixture) pendingApproval(t *testing.T, runID string) store.Approval {
	t.Helper()
	var pending []store.Approval
	if st := api(t, f.app, f.tokens["bob"], "GET", "/api/v1/approvals?state=pending&run="+runID, nil, &pending); st != http.StatusOK || len(pending) != 1 {
		t.Fatalf("pending approvals of run %s: %d %+v, want one", runID, st, pending)
	}
	return pending[0]
}

// browser is a web client with a cookie jar that does not follow
// redirects, so tests see them.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
	// site is the Sec-Fetch-Site header of its requests: same-origin, as
	// a browser moving within the UI sends ("" for none).
	site string
}

func newBrowser(t *testing.T, app *App) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: app.URL(), site: "same-origin", c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is an answer of the web UI.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	if b.site != "" {
		req.Header.Set("Sec-Fetch-Site", b.site)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodGet, b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the first form of p.
func (p page) csrf(t *testing.T) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", p.body)
	}
	return html.UnescapeString(m[1])
}

// signIn signs b in with token and returns the page it lands on (a 303).
func (b *browser) signIn(token, next string) page {
	b.t.Helper()
	login := b.get("/ui/login")
	if login.status != http.StatusOK {
		b.t.Fatalf("GET /ui/login: %d", login.status)
	}
	return b.post("/ui/login", url.Values{"csrf": {login.csrf(b.t)}, "token": {token}, "next": {next}})
}

// signedIn returns a browser signed in with token.
func signedIn(t *testing.T, app *App, token string) *browser {
	t.Helper()
	b := newBrowser(t, app)
	if p := b.signIn(token, ""); p.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d\n%s", p.status, p.body)
	}
	return b
}

// csrfFor returns the CSRF token of b's session, read from a page.
func (b *browser) csrfFor() string {
	b.t.Helper()
	return b.get("/ui/runs").csrf(b.t)
}

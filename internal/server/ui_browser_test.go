package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"conveyor.dev/conveyor/internal/store"
)

// chromium returns the path of a Chromium to drive. Without one the test
// is skipped on a developer's machine and fails in CI (CI=true), which
// installs Debian's chromium (.ci/install-packages).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH: CI installs Debian's chromium (.ci/install-packages); the browser test must run there")
	}
	t.Skip("no chromium on PATH: apt-get install chromium to run the browser test")
	return ""
}

// TestUIInBrowser drives the web UI in a real headless Chromium: sign in
// with a token, find the run, open its running step's log and see the
// next line arrive live, approve the pending approval by clicking, and
// see the run succeed.
func TestUIInBrowser(t *testing.T) {
	exe := chromium(t)
	f := newUIFixture(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox) // root in CI and in containers
	alloc, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	// The browser starts with ctx (a step's own deadline would end it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	// fail reports what went wrong with the page the browser is on.
	fail := func(what string, err error) {
		t.Helper()
		lctx, lcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer lcancel()
		loc, _ := chromedp.Run(lctx, chromedp.Location())
		body, _ := chromedp.Run(lctx, chromedp.OuterHTML(chromedp.CSS("html")))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			fail(what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			fail("read "+sel, err)
		}
		return s
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Minute))); err != nil {
			fail(what, err)
		}
	}

	// Signing in from the runs page comes back to it.
	do("sign in",
		chromedp.Navigate(f.app.URL()+"/ui/runs"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), f.tokens["bob"]),
		chromedp.Click(chromedp.CSS("form.login button")),
		chromedp.WaitVisible(chromedp.CSS("#who")))
	if who := text("#who"); who != "bob (approver)" {
		t.Errorf("signed in as %q, want bob (approver)", who)
	}

	// The run is listed; its page shows the step waiting for the
	// go-ahead; its log page shows the first line.
	stepID := f.lines.wait(t, f.run.ID, "wait for go", "first line of the build")
	step := `li[id="rec-` + stepID + `"] > a`
	do("open the run's step log",
		chromedp.Navigate(f.app.URL()+"/ui/runs"),
		chromedp.WaitVisible(chromedp.CSS(`tr[id="run-`+f.run.ID+`"] td:nth-child(2) a`)),
		chromedp.Click(chromedp.CSS(`tr[id="run-`+f.run.ID+`"] td:nth-child(2) a`)),
		chromedp.WaitVisible(chromedp.CSS(step)),
		chromedp.Click(chromedp.CSS(step)),
		chromedp.WaitVisible(chromedp.CSS("#log")))
	if log := text("#log"); !strings.Contains(log, "first line of the build") || strings.Contains(log, "second line") {
		t.Errorf("log page = %q, want the first line only", log)
	}

	// The next line arrives without a reload, as text, and the page says
	// when the log ends.
	f.goAhead(t)
	poll("follow the log live", `document.getElementById("log").textContent.includes("second line <b>after</b> the go-ahead")`)
	poll("see the end of the log", `document.getElementById("log-state").textContent === "End of log."`)
	if markup, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#log b") !== null`)); err != nil || markup {
		t.Errorf("a log line became markup (%v)", err)
	}

	// Approve by clicking, with a comment.
	f.waitState(t, f.run.ID, store.StateWaiting)
	ap := f.pendingApproval(t, f.run.ID)
	sel := `div[id="approval-` + ap.ID + `"]`
	do("approve",
		chromedp.Navigate(f.app.URL()+"/ui/approvals"),
		chromedp.WaitVisible(chromedp.CSS(sel+` input[name="comment"]`)),
		chromedp.SendKeys(chromedp.CSS(sel+` input[name="comment"]`), "ship it"),
		chromedp.Click(chromedp.CSS(sel+` button.approve`)),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	if flash := text("#flash"); !strings.Contains(flash, "You approved Production of run "+f.run.ID) {
		t.Errorf("message after approving = %q", flash)
	}

	// The run goes on and succeeds; its page says so.
	if end := f.waitState(t, f.run.ID, store.StateCompleted); end.Result != store.ResultSucceeded {
		t.Fatalf("the approved run = %s, want succeeded", end.Result)
	}
	// A forge's commit status links to the run's page from another site
	// (localhost is not 127.0.0.1's site): the signed-in browser lands on
	// the page, not on the sign-in form.
	forge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><a id="status" href="%s">conveyor/deliver</a>`, f.app.URL()+RunPagePath(f.run.ID))
	}))
	defer forge.Close()
	do("follow the forge's link",
		chromedp.Navigate(strings.Replace(forge.URL, "127.0.0.1", "localhost", 1)),
		chromedp.Click(chromedp.CSS("#status")),
		chromedp.WaitVisible(chromedp.CSS("h1 .status")))
	status, decisions := text("h1 .status"), text(sel+" .decisions")
	if status != "succeeded" || !strings.Contains(decisions, "bob approved") || !strings.Contains(decisions, "ship it") {
		t.Errorf("run page: status %q, decisions %q; want succeeded, approved by bob with his comment", status, decisions)
	}
}

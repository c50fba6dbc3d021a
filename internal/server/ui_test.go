package server

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/store"
)

func TestUISignInAndOut(t *testing.T) {
	app, _ := testServer(t, nil, func(o *Options) { o.LocalAgents = -1 })
	viewer, err := CreateToken(t.Context(), app.Store, "vic", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	agentToken, err := CreateToken(t.Context(), app.Store, "robot", RoleAgent)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, app)

	for _, path := range []string{"/", "/ui/", "/ui"} {
		if p := b.get(path); p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/runs" {
			t.Errorf("GET %s = %d to %q, want 303 to /ui/runs", path, p.status, p.header.Get("Location"))
		}
	}
	// Every page sends a browser without a session to sign in, and back.
	for _, path := range []string{"/ui/runs?state=running", "/ui/runs/NORUN", "/ui/runs/NORUN/logs/Build.Job.step1", "/ui/approvals", "/ui/environments", "/ui/audit"} {
		p := b.get(path)
		if want := "/ui/login?next=" + url.QueryEscape(path); p.status != http.StatusSeeOther || p.header.Get("Location") != want {
			t.Errorf("GET %s without a session = %d to %q, want 303 to %s", path, p.status, p.header.Get("Location"), want)
		}
	}
	// A link from another site (a forge's commit status) comes without the
	// SameSite=Strict cookie: a hop from this site's page brings it.
	for _, site := range []string{"cross-site", ""} {
		b.site = site
		p := b.get("/ui/runs/NORUN")
		if want := `<meta http-equiv="refresh" content="0; url=/ui/login?next=%2Fui%2Fruns%2FNORUN">`; p.status != http.StatusOK || !strings.Contains(p.body, want) {
			t.Errorf("GET a run page from %q without a session = %d, want 200 with %s:\n%s", site, p.status, want, p.body)
		}
	}
	b.site = "same-origin"
	// Forms and the live log answer 401 without a session.
	for _, rt := range app.Server.uiRoutes() {
		if rt.role == "" {
			continue
		}
		path := strings.NewReplacer("{run}", "NORUN", "{record}", "Build.Job.step1", "{approval}", "NOAPPROVAL").Replace(rt.pattern)
		var p page
		if rt.method == "POST" {
			p = b.post(path, url.Values{"csrf": {"x"}})
		} else if strings.HasSuffix(path, "/stream") {
			p = b.get(path)
		} else {
			continue
		}
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "sign in again") {
			t.Errorf("%s %s without a session = %d, want 401 asking to sign in", rt.method, path, p.status)
		}
	}

	// The stylesheet and the log follower are served to anyone; the
	// folder is not listed.
	for path, want := range map[string]string{"/ui/static/style.css": "text/css", "/ui/static/log.js": "text/javascript"} {
		if p := b.get(path); p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), want) {
			t.Errorf("GET %s = %d %s, want 200 %s", path, p.status, p.header.Get("Content-Type"), want)
		}
	}
	if p := b.get("/ui/static/"); p.status != http.StatusNotFound {
		t.Errorf("GET /ui/static/ = %d, want 404", p.status)
	}

	login := b.get("/ui/login")
	if csp := login.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if !strings.Contains(login.body, `type="password"`) {
		t.Errorf("the login page has no token field:\n%s", login.body)
	}
	csrf := login.csrf(t)
	tests := []struct {
		name   string
		form   url.Values
		status int
		says   string
	}{
		{"no CSRF token", url.Values{"token": {viewer}}, http.StatusForbidden, "did not come from this site"},
		{"a wrong CSRF token", url.Values{"token": {viewer}, "csrf": {"forged"}}, http.StatusForbidden, "did not come from this site"},
		{"no token", url.Values{"csrf": {csrf}}, http.StatusUnauthorized, "conveyor token create"},
		{"a malformed token", url.Values{"csrf": {csrf}, "token": {"hunter2"}}, http.StatusUnauthorized, "API tokens start with cvy_"},
		{"an unknown token", url.Values{"csrf": {csrf}, "token": {"cvy_unknown"}}, http.StatusUnauthorized, "unknown or revoked token"},
		{"an agent token", url.Values{"csrf": {csrf}, "token": {agentToken}}, http.StatusForbidden, "role agent, which may not use the web UI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t, app)
			l := b.get("/ui/login")
			if tt.form.Get("csrf") == csrf {
				tt.form.Set("csrf", l.csrf(t))
			}
			p := b.post("/ui/login", tt.form)
			if p.status != tt.status || !strings.Contains(html.UnescapeString(p.body), tt.says) {
				t.Errorf("sign in with %s = %d, want %d saying %q:\n%s", tt.name, p.status, tt.status, tt.says, p.body)
			}
			if strings.Contains(p.body, "nav") && strings.Contains(p.body, "Sign out") {
				t.Errorf("sign in with %s shows a signed-in page", tt.name)
			}
		})
	}

	// A good token: back to where the browser was going, with a session
	// cookie that is not the token.
	p := b.signIn(viewer, "/ui/audit")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/audit" {
		t.Fatalf("sign in = %d to %q, want 303 to /ui/audit", p.status, p.header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/ui" {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/ui", session)
	}
	if strings.Contains(session.Value, strings.TrimPrefix(viewer, TokenPrefix)) || strings.Contains(session.Value, HashToken(viewer)) {
		t.Errorf("the session cookie holds the token")
	}
	runs := b.get("/ui/runs")
	if runs.status != http.StatusOK || !strings.Contains(runs.body, "vic (viewer)") || !strings.Contains(runs.body, "No runs") {
		t.Errorf("runs page = %d:\n%s", runs.status, runs.body)
	}
	if runs.header.Get("Cache-Control") != "no-store" {
		t.Errorf("a page's Cache-Control = %q, want no-store", runs.header.Get("Cache-Control"))
	}
	if p := b.get("/ui/login?next=/ui/approvals"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/approvals" {
		t.Errorf("the login page when signed in = %d to %q, want 303 to /ui/approvals", p.status, p.header.Get("Location"))
	}
	// The next page is always one of the UI's.
	for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/api/v1/tokens", "/ui/login", "/ui/../api/v1/tokens"} {
		if p := newBrowser(t, app).signIn(viewer, next); p.header.Get("Location") != "/ui/runs" {
			t.Errorf("sign in with next %q goes to %q, want /ui/runs", next, p.header.Get("Location"))
		}
	}

	// Signing out needs the session's CSRF token and ends the session.
	if p := b.post("/ui/logout", url.Values{"csrf": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("sign out with a forged CSRF token = %d, want 403", p.status)
	}
	if p := b.post("/ui/logout", url.Values{"csrf": {runs.csrf(t)}}); p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/login" {
		t.Errorf("sign out = %d to %q, want 303 to /ui/login", p.status, p.header.Get("Location"))
	}
	if p := b.get("/ui/runs"); p.status != http.StatusSeeOther {
		t.Errorf("the runs page after signing out = %d, want 303 to sign in", p.status)
	}
	// The old cookie is worth nothing either.
	replay := newBrowser(t, app)
	u, _ := url.Parse(app.URL() + "/ui/")
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: session.Value, Path: "/ui"}})
	if p := replay.get("/ui/runs"); p.status != http.StatusSeeOther {
		t.Errorf("the runs page with a signed-out session's cookie = %d, want 303 to sign in", p.status)
	}

	// Revoking the token ends its sessions.
	b2 := signedIn(t, app, viewer)
	toks, err := app.Store.ListTokens(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if tok.User == "vic" {
			if err := app.Store.RevokeToken(t.Context(), tok.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if p := b2.get("/ui/runs"); p.status != http.StatusSeeOther {
		t.Errorf("the runs page once the token is revoked = %d, want 303 to sign in", p.status)
	}
}

// TestUIRunsApprovalsAndRoles walks every page with a real run that waits
// for a go-ahead and then for approval: what each role sees and may do,
// CSRF refusals, the requester's refused approval, another approver's
// approval recorded in the audit log, retry and cancel.
func TestUIRunsApprovalsAndRoles(t *testing.T) {
	f := newUIFixture(t)
	vic, ann, bob, oli := signedIn(t, f.app, f.tokens["vic"]), signedIn(t, f.app, f.tokens["ann"]), signedIn(t, f.app, f.tokens["bob"]), signedIn(t, f.app, f.tokens["oli"])
	runPath := "/ui/runs/" + f.run.ID

	// The runs list, filtered.
	list := vic.get("/ui/runs?pipeline=deliver")
	for _, want := range []string{`href="` + runPath + `"`, ">deliver<", "#1", ">manual<", ">refs/heads/main<", "<td>ann</td>", f.run.Commit[:12]} {
		if !strings.Contains(list.body, want) {
			t.Errorf("runs of deliver: no %q in\n%s", want, list.body)
		}
	}
	if p := vic.get("/ui/runs?pipeline=other"); !strings.Contains(p.body, "No runs match") || strings.Contains(p.body, runPath) {
		t.Errorf("runs of another pipeline show the run:\n%s", p.body)
	}
	if p := vic.get("/ui/runs?state=completed"); strings.Contains(p.body, runPath+`"`) {
		t.Errorf("completed runs show the running run")
	}
	if p := vic.get("/ui/runs?state=bogus"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "want queued, running, waiting or completed") {
		t.Errorf("runs in state bogus = %d:\n%s", p.status, p.body)
	}

	// The build step waits: its log page shows the log so far and
	// follows the rest live.
	stepID := f.lines.wait(t, f.run.ID, "wait for go", "first line of the build")
	logPage := vic.get("/ui/runs/" + f.run.ID + "/logs/" + stepID)
	if !strings.Contains(logPage.body, "first line of the build") || strings.Contains(logPage.body, "second line") {
		t.Errorf("the waiting step's log page does not show its first line only:\n%s", logPage.body)
	}
	if !strings.Contains(logPage.body, `data-stream="/ui/runs/`+f.run.ID+`/logs/`+stepID+`/stream?attempt=1&amp;from=`) || !strings.Contains(logPage.body, `src="/ui/static/log.js"`) {
		t.Errorf("the running step's log page does not follow it:\n%s", logPage.body)
	}
	f.goAhead(t)
	// The live tail (the API's stream behind the session) from the line
	// after those the page shows.
	m := regexp.MustCompile(`data-stream="([^"]+)"`).FindStringSubmatch(logPage.body)
	if m == nil {
		t.Fatalf("no live tail on the running step's log page:\n%s", logPage.body)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.app.URL()+html.UnescapeString(m[1]), nil)
	stream := vic.do(req)
	if stream.status != http.StatusOK || !strings.HasPrefix(stream.header.Get("Content-Type"), "text/event-stream") ||
		!strings.Contains(stream.body, `second line \u003cb\u003eafter\u003c/b\u003e the go-ahead`) || strings.Contains(stream.body, "first line") || !strings.Contains(stream.body, "event: end") {
		t.Errorf("the live log after the page's lines = %d %s:\n%s", stream.status, stream.header.Get("Content-Type"), stream.body)
	}

	f.waitState(t, f.run.ID, store.StateWaiting)
	ap := f.pendingApproval(t, f.run.ID)
	logPage = vic.get("/ui/runs/" + f.run.ID + "/logs/" + stepID)
	if strings.Contains(logPage.body, "data-stream") || strings.Contains(logPage.body, "<script") ||
		!strings.Contains(logPage.body, "second line &lt;b&gt;after&lt;/b&gt; the go-ahead") || !strings.Contains(logPage.body, "End of log.") {
		t.Errorf("the finished step's log page:\n%s", logPage.body)
	}
	if p := vic.get("/ui/runs/" + f.run.ID + "/logs/NOSTEP"); p.status != http.StatusNotFound {
		t.Errorf("the log page of no step = %d, want 404", p.status)
	}

	// The run page: its tree, its approval; buttons only for those who
	// may use them.
	viewed := vic.get(runPath)
	for _, want := range []string{"Build", "Compile", "wait for go", "Production", "Deploy", "check the staging dashboards first", "the requester cannot approve",
		`href="/ui/runs/` + f.run.ID + `/logs/` + stepID + `?attempt=1"`, "s-succeeded", "s-pending"} {
		if !strings.Contains(viewed.body, want) {
			t.Errorf("run page: no %q in\n%s", want, viewed.body)
		}
	}
	if strings.Contains(viewed.body, "/cancel") || strings.Contains(viewed.body, "/approve") {
		t.Errorf("the viewer's run page offers to cancel or approve:\n%s", viewed.body)
	}
	if p := oli.get(runPath); !strings.Contains(p.body, "Cancel run") || strings.Contains(p.body, "/approve") {
		t.Errorf("the operator's run page: want a cancel button and no approval form:\n%s", p.body)
	}
	if p := bob.get(runPath); !strings.Contains(p.body, `action="/ui/approvals/`+ap.ID+`/approve"`) || strings.Contains(p.body, `http-equiv="refresh"`) {
		t.Errorf("the approver's run page: want an approval form and no refresh:\n%s", p.body)
	}
	if p := vic.get("/ui/runs/NORUN"); p.status != http.StatusNotFound {
		t.Errorf("the page of no run = %d, want 404", p.status)
	}

	// Roles are the API's: a viewer may neither cancel nor approve.
	vicCSRF := vic.csrfFor()
	if p := vic.post(runPath+"/cancel", url.Values{"csrf": {vicCSRF}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "user vic has role viewer; this needs operator") {
		t.Errorf("the viewer cancels = %d:\n%s", p.status, p.body)
	}
	if p := oli.post("/ui/approvals/"+ap.ID+"/approve", url.Values{"csrf": {oli.csrfFor()}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "this needs approver") {
		t.Errorf("the operator approves = %d:\n%s", p.status, p.body)
	}
	// A form without the session's CSRF token is refused, even from an
	// approver.
	bobCSRF := bob.csrfFor()
	for _, form := range []url.Values{{"comment": {"lgtm"}}, {"comment": {"lgtm"}, "csrf": {vicCSRF}}} {
		if p := bob.post("/ui/approvals/"+ap.ID+"/approve", form); p.status != http.StatusForbidden || !strings.Contains(p.body, "did not come from this site") {
			t.Errorf("approve with CSRF %q = %d, want 403", form.Get("csrf"), p.status)
		}
	}
	if p := oli.post(runPath+"/cancel", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("cancel without a CSRF token = %d, want 403", p.status)
	}

	// ann asked for the run: her approval is refused with the reason.
	refused := ann.post("/ui/approvals/"+ap.ID+"/approve", url.Values{"csrf": {ann.csrfFor()}, "comment": {"mine"}, "next": {runPath}})
	if body := html.UnescapeString(refused.body); refused.status != http.StatusForbidden || !strings.Contains(body, "Your approve was not recorded") || !strings.Contains(body, "requester cannot approve") {
		t.Errorf("ann approves her own run = %d, want 403 saying the requester cannot approve:\n%s", refused.status, refused.body)
	}
	if f.pendingApproval(t, f.run.ID).State != store.ApprovalPending {
		t.Fatal("the refused approval changed the approval")
	}

	// The approvals page lists it; bob approves with a comment.
	approvals := bob.get("/ui/approvals")
	if !strings.Contains(approvals.body, `id="approval-`+ap.ID+`"`) || !strings.Contains(approvals.body, "deliver #1") {
		t.Errorf("approvals page:\n%s", approvals.body)
	}
	done := bob.post("/ui/approvals/"+ap.ID+"/approve", url.Values{"csrf": {bobCSRF}, "comment": {"dashboards <green>"}, "next": {"/ui/approvals"}})
	if done.status != http.StatusSeeOther || done.header.Get("Location") != "/ui/approvals" {
		t.Fatalf("bob approves = %d to %q:\n%s", done.status, done.header.Get("Location"), done.body)
	}
	after := bob.get("/ui/approvals")
	if !strings.Contains(after.body, "You approved Production of run "+f.run.ID+"; the approval is now approved.") ||
		!strings.Contains(after.body, "Nothing is waiting for approval") || !strings.Contains(after.body, "bob approved") ||
		!strings.Contains(after.body, "dashboards &lt;green&gt;") {
		t.Errorf("approvals page after approving:\n%s", after.body)
	}
	if again := bob.get("/ui/approvals"); strings.Contains(again.body, `id="flash"`) {
		t.Errorf("the message shows twice")
	}
	if p := bob.post("/ui/approvals/"+ap.ID+"/reject", url.Values{"csrf": {bobCSRF}}); p.status != http.StatusConflict || !strings.Contains(p.body, "not recorded") {
		t.Errorf("rejecting a decided approval = %d, want 409 with the reason:\n%s", p.status, p.body)
	}
	end := f.waitState(t, f.run.ID, store.StateCompleted)
	if end.Result != store.ResultSucceeded {
		t.Errorf("the approved run = %s, want succeeded", end.Result)
	}

	// The audit log has ann's refusal and bob's approval.
	audit := vic.get("/ui/audit")
	for _, want := range []string{">approval.refused<", "the requester cannot approve", ">ann<", ">approval.approve<", ">bob<", "dashboards &lt;green&gt;"} {
		if !strings.Contains(audit.body, want) {
			t.Errorf("audit page: no %q in\n%s", want, audit.body)
		}
	}
	if strings.Index(audit.body, `id="audit-3"`) > strings.Index(audit.body, `id="audit-2"`) {
		t.Errorf("the audit page is not newest first:\n%s", audit.body)
	}

	// Environments with their checks.
	envs := vic.get("/ui/environments")
	if !strings.Contains(envs.body, `id="env-production"`) || !strings.Contains(envs.body, "approvals: 1 of ann, bob") || !strings.Contains(envs.body, "Nothing deployed here yet") {
		t.Errorf("environments page:\n%s", envs.body)
	}

	// An operator retries the run, then cancels the retry.
	oliCSRF := oli.csrfFor()
	retried := oli.post(runPath+"/retry", url.Values{"csrf": {oliCSRF}})
	newPath := retried.header.Get("Location")
	if retried.status != http.StatusSeeOther || !strings.HasPrefix(newPath, "/ui/runs/") || newPath == runPath {
		t.Fatalf("retry = %d to %q, want 303 to a new run", retried.status, newPath)
	}
	newID := strings.TrimPrefix(newPath, "/ui/runs/")
	if p := oli.get(newPath); !strings.Contains(p.body, "Retry started as this run.") || !strings.Contains(p.body, "deliver</a> #2") {
		t.Errorf("the retry's page:\n%s", p.body)
	}
	if p := oli.post(newPath+"/cancel", url.Values{"csrf": {oliCSRF}}); p.status != http.StatusSeeOther || p.header.Get("Location") != newPath {
		t.Errorf("cancel = %d to %q, want 303 to the run", p.status, p.header.Get("Location"))
	}
	if r := f.waitState(t, newID, store.StateCompleted); r.Result != store.ResultCanceled {
		t.Errorf("the canceled run = %s, want canceled", r.Result)
	}
	if p := oli.get(newPath); !strings.Contains(p.body, "s-canceled") || !strings.Contains(p.body, "Retry run") {
		t.Errorf("the canceled run's page:\n%s", p.body)
	}
}

// TestUIRoleMatrix: every page and form of the web UI needs the role the
// same thing needs in the API; a signed-in user whose role is too small
// gets 403, anyone else gets past the check.
func TestUIRoleMatrix(t *testing.T) {
	app, _ := testServer(t, nil, func(o *Options) { o.LocalAgents = -1 })
	browsers := map[Role]*browser{}
	for _, r := range []Role{RoleViewer, RoleOperator, RoleApprover, RoleAdmin} {
		secret, err := CreateToken(t.Context(), app.Store, "user-"+string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		browsers[r] = signedIn(t, app, secret)
	}
	// Each form needs the role of the API route that does the same.
	apiRole := map[string]Role{}
	for _, rt := range app.Server.routes {
		apiRole[rt.method+" "+rt.pattern] = rt.role
	}
	for _, rt := range app.Server.uiRoutes() {
		same, ok := map[string]string{"/ui/runs/{run}/cancel": "/api/v1/runs/{run}/cancel", "/ui/runs/{run}/retry": "/api/v1/runs/{run}/retry",
			"/ui/approvals/{approval}/approve": "/api/v1/approvals/{approval}/approve", "/ui/approvals/{approval}/reject": "/api/v1/approvals/{approval}/reject",
			"/ui/runs": "/api/v1/runs", "/ui/runs/{run}": "/api/v1/runs/{run}", "/ui/runs/{run}/logs/{record}": "/api/v1/runs/{run}/logs/{record}",
			"/ui/runs/{run}/logs/{record}/stream": "/api/v1/runs/{run}/logs/{record}/stream", "/ui/approvals": "/api/v1/approvals",
			"/ui/environments": "/api/v1/environments", "/ui/audit": "/api/v1/audit"}[rt.pattern]
		if want := apiRole[rt.method+" "+same]; ok && rt.role != want {
			t.Errorf("%s %s needs %s; %s in the API needs %s", rt.method, rt.pattern, rt.role, same, want)
		}
	}
	for _, rt := range app.Server.uiRoutes() {
		if rt.role == "" || rt.pattern == "/ui/logout" {
			continue // signing out is for every role, and ends the session
		}
		for who, b := range browsers {
			name := rt.method + " " + rt.pattern + " as " + string(who)
			path := strings.NewReplacer("{run}", "NORUN", "{record}", "Build.Job.step1", "{approval}", "NOAPPROVAL").Replace(rt.pattern)
			var p page
			if rt.method == "POST" {
				p = b.post(path, url.Values{"csrf": {b.csrfFor()}})
			} else {
				p = b.get(path)
			}
			switch {
			case !who.allows(rt.role):
				if p.status != http.StatusForbidden || !strings.Contains(p.body, "this needs "+string(rt.role)) {
					t.Errorf("%s: %d, want 403 saying it needs %s", name, p.status, rt.role)
				}
			case p.status == http.StatusForbidden || p.status == http.StatusUnauthorized || p.status >= 500:
				t.Errorf("%s: %d, want access:\n%s", name, p.status, p.body)
			}
		}
	}
}

func TestUIEscapesHostileNames(t *testing.T) {
	app, _ := testServer(t, nil, func(o *Options) { o.LocalAgents = -1 })
	token, err := CreateToken(t.Context(), app.Store, "vic", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	const hostile = `<script>alert("x")</script>`
	const attr = `"><img src=x onerror=alert(1)>`
	run := store.Run{Pipeline: hostile, Branch: attr, Commit: "0123456789abcdef", Event: store.EventPush, Reason: hostile,
		State: store.StateCompleted, Result: store.ResultFailed, Tags: []string{attr}, Params: map[string]string{"p": hostile}}
	if err := app.Store.CreateRun(t.Context(), &run); err != nil {
		t.Fatal(err)
	}
	for _, rec := range []store.Record{
		{RunID: run.ID, ID: "Build", Type: store.RecordStage, Name: "Build", DisplayName: hostile, Order: 1, Attempt: 1, State: store.StateCompleted, Result: store.ResultFailed},
		{RunID: run.ID, ID: "Build.J", ParentID: "Build", Type: store.RecordJob, Name: "J", DisplayName: attr, Order: 1, Attempt: 1, State: store.StateCompleted, Result: store.ResultFailed},
		{RunID: run.ID, ID: "Build.J.s1", ParentID: "Build.J", Type: store.RecordStep, Name: "s1", DisplayName: hostile, Order: 1, Attempt: 1,
			State: store.StateCompleted, Result: store.ResultFailed, Issues: []store.Issue{{Type: store.IssueError, Message: hostile}}, Outputs: map[string]string{"o": attr}},
	} {
		if err := app.Store.UpsertRecord(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	lw, err := app.Store.OpenLog(t.Context(), run.ID, "Build.J.s1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := lw.WriteLine(time.Now(), hostile); err != nil {
		t.Fatal(err)
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	b := signedIn(t, app, token)
	for _, path := range []string{"/ui/runs", "/ui/runs?pipeline=" + url.QueryEscape(hostile), "/ui/runs/" + run.ID, "/ui/runs/" + run.ID + "/logs/Build.J.s1"} {
		p := b.get(path)
		if p.status != http.StatusOK {
			t.Errorf("GET %s = %d", path, p.status)
		}
		if strings.Contains(p.body, hostile) || strings.Contains(p.body, "<img") || strings.Contains(p.body, `<script>alert`) {
			t.Errorf("GET %s renders markup from names:\n%s", path, p.body)
		}
		if !strings.Contains(p.body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("GET %s does not show the hostile name escaped:\n%s", path, p.body)
		}
	}
}

// TestUIEnvironmentsShowDeployments: the environments page shows what
// runs in each environment (the latest deployment of each namespace and
// pipeline, by digest) and the recent ones; neither it nor the API shows
// the applied manifests, which may hold Secrets.
func TestUIEnvironmentsShowDeployments(t *testing.T) {
	app, _ := testServer(t, nil, func(o *Options) {
		o.LocalAgents = -1
		o.Config.Environments = map[string]config.Environment{"staging": {Cluster: "local", Namespace: "staging"}}
	})
	token, err := CreateToken(t.Context(), app.Store, "vic", RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	const secretData = "c3VwZXJzZWNyZXQ=" // a Secret's data in the manifests
	old, cur := "nonprod/webapp@sha256:"+strings.Repeat("1", 64), "nonprod/webapp@sha256:"+strings.Repeat("2", 64)
	for _, img := range []string{old, cur} {
		d := store.Deployment{Environment: "staging", Namespace: "staging", Pipeline: "cd", RunID: "01RUN" + img[len(img)-1:], Commit: strings.Repeat("a", 40),
			Images: []string{img}, Objects: []store.DeployedObject{{Kind: "Deployment", Name: "webapp"}},
			Manifests: []byte("kind: Secret\ndata: {password: " + secretData + "}\n")}
		if err := app.Store.AddDeployment(t.Context(), &d); err != nil {
			t.Fatal(err)
		}
	}
	p := signedIn(t, app, token).get("/ui/environments")
	now, recent, _ := strings.Cut(p.body, "Recent deployments")
	if !strings.Contains(now, cur) || strings.Contains(now, old) || !strings.Contains(recent, old) || !strings.Contains(recent, cur) {
		t.Errorf("environments page: want %s running now and both in the recent deployments:\n%s", cur, p.body)
	}
	if !strings.Contains(p.body, "cluster local · namespace staging") {
		t.Errorf("environments page does not show staging's cluster and namespace:\n%s", p.body)
	}
	var ds []DeploymentView
	if st := api(t, app, token, "GET", "/api/v1/deployments?environment=staging", nil, &ds); st != http.StatusOK || len(ds) != 2 || ds[0].Images[0] != cur || ds[0].Revision != 2 {
		t.Errorf("GET /api/v1/deployments = %d %+v, want both, newest first", st, ds)
	}
	raw, _ := json.Marshal(ds)
	if strings.Contains(p.body, secretData) || strings.Contains(string(raw), secretData) {
		t.Errorf("the applied manifests are shown")
	}
}

package server

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"conveyor.dev/conveyor/internal/store"
)

// The web UI: server-rendered pages under /ui/ over the same store and
// services as the API, signed in with API tokens (ui_session.go). Pages
// work without JavaScript; a few lines of it follow a running step's log.

//go:embed ui/templates/*.html ui/static/*
var uiFiles embed.FS

// RunPagePath is the path of the web UI's page of the run id; commit
// statuses link to it.
func RunPagePath(id string) string { return "/ui/runs/" + url.PathEscape(id) }

// uiRoutes lists the web UI's pages and forms with the role each needs
// ("" for none). They are apart from the API's routes (and its OpenAPI
// document).
func (s *Server) uiRoutes() []route {
	static, err := fs.Sub(uiFiles, "ui/static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix("/ui/static/", http.FileServer(http.FS(static)))
	return []route{
		{"GET", "/{$}", "", redirectTo("/ui/runs")},
		{"GET", "/ui/{$}", "", redirectTo("/ui/runs")},
		{"GET", "/ui", "", redirectTo("/ui/runs")},
		{"GET", "/ui/static/{file}", "", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=3600")
			files.ServeHTTP(w, r)
		}},
		{"GET", "/ui/login", "", s.uiLoginPage},
		{"POST", "/ui/login", "", s.uiLogin},
		{"POST", "/ui/logout", RoleViewer, s.uiLogout},

		{"GET", "/ui/runs", RoleViewer, s.uiRuns},
		{"GET", "/ui/runs/{run}", RoleViewer, s.uiRun},
		{"POST", "/ui/runs/{run}/cancel", RoleOperator, s.uiCancel},
		{"POST", "/ui/runs/{run}/retry", RoleOperator, s.newWork(s.uiRetry)},
		{"GET", "/ui/runs/{run}/logs/{record}", RoleViewer, s.uiLog},
		{"GET", "/ui/runs/{run}/logs/{record}/stream", RoleViewer, s.stream(s.streamLog)},
		{"GET", "/ui/approvals", RoleViewer, s.uiApprovals},
		{"POST", "/ui/approvals/{approval}/approve", RoleApprover, s.uiDecide(decisionApprove)},
		{"POST", "/ui/approvals/{approval}/reject", RoleApprover, s.uiDecide(decisionReject)},
		{"GET", "/ui/environments", RoleViewer, s.uiEnvironments},
		{"GET", "/ui/audit", RoleViewer, s.uiAudit},
	}
}

const (
	decisionApprove = store.DecisionApprove
	decisionReject  = store.DecisionReject
)

// uiHandler wraps every web UI answer: security headers, a bound on form
// bodies, and the role check of rt.
func (s *Server) uiHandler(rt route) http.HandlerFunc {
	h := rt.handler
	if rt.role != "" {
		h = s.uiRequire(rt.role, h)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		}
		h(w, r)
	}
}

func redirectTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, path, http.StatusSeeOther) }
}

// uiPage is what every page template gets: who is signed in, the CSRF
// token of its forms, a message, and the page's own Data.
type uiPage struct {
	Title string
	Nav   string // the navigation entry to highlight
	User  string
	Role  Role
	CSRF  string
	Flash string // a message about what was just done
	Error string // what went wrong, for people
	Data  any
}

// Can reports whether the signed-in user's role allows need (templates
// show only the buttons that will work).
func (p uiPage) Can(need string) bool { return p.User != "" && p.Role.allows(Role(need)) }

// uiTemplates are the parsed pages, each the layout with its content.
type uiTemplates map[string]*template.Template

var uiFuncs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"duration": func(start, end time.Time) string {
		if start.IsZero() {
			return "—"
		}
		if end.IsZero() {
			end = time.Now()
		}
		d := end.Sub(start)
		if d < time.Minute {
			return d.Round(100 * time.Millisecond).String()
		}
		return d.Round(time.Second).String()
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"status":   statusLabel,
	"runName":  runName,
	"runPath":  RunPagePath,
	"logPath":  logPagePath,
	"join":     strings.Join,
	"pipeline": func(p string) string { return "/ui/runs?pipeline=" + url.QueryEscape(p) },
	"past": func(d string) string {
		return map[string]string{decisionApprove: "approved", decisionReject: "rejected"}[d]
	},
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict: odd number of arguments")
		}
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
}

// statusLabel is what a run or record shows of its life: its result once
// completed, else its state.
func statusLabel(state store.State, result store.Result) string {
	if state == store.StateCompleted && result != "" {
		return string(result)
	}
	return string(state)
}

// logPagePath is the web UI's page of a record attempt's log.
func logPagePath(runID, recordID string, attempt int) string {
	return fmt.Sprintf("/ui/runs/%s/logs/%s?attempt=%d", url.PathEscape(runID), url.PathEscape(recordID), attempt)
}

func parseUITemplates() (uiTemplates, error) {
	pages, err := fs.Glob(uiFiles, "ui/templates/*.html")
	if err != nil {
		return nil, err
	}
	out := uiTemplates{}
	for _, p := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "ui/templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(uiFuncs).ParseFS(uiFiles, "ui/templates/layout.html", p)
		if err != nil {
			return nil, fmt.Errorf("web UI template %s: %w", p, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes the page name with status. The signed-in user, the CSRF
// token and any message waiting in the session are filled in.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, page uiPage) {
	if sess := sessionOf(r.Context()); sess != nil {
		p := principalOf(r.Context())
		page.User, page.Role, page.CSRF = p.User, p.Role, sess.csrf
		if flash := s.sessions.takeFlash(sess); flash != "" && page.Flash == "" {
			page.Flash = flash
		}
	}
	t, ok := s.pages[name]
	var buf bytes.Buffer
	if !ok {
		s.log.Error("web UI: no template", slog.String("page", name))
		http.Error(w, "internal error: see the server log", http.StatusInternalServerError)
		return
	}
	if err := t.Execute(&buf, page); err != nil {
		s.log.Error("web UI: render", slog.String("page", name), slog.Any("err", err))
		http.Error(w, "internal error: see the server log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// uiError shows msg on an error page with status.
func (s *Server) uiError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", uiPage{Title: http.StatusText(status), Error: msg})
}

// uiFail shows err as the API's fail would answer it: its status from
// what it wraps; the unexpected (500) is logged and not shown.
func (s *Server) uiFail(w http.ResponseWriter, r *http.Request, status int, err error) {
	status = statusOf(err, status)
	msg := err.Error()
	if status >= 500 {
		s.log.Error("web UI", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
		msg = "Something went wrong on the server; its log says what."
	}
	s.uiError(w, r, status, msg)
}

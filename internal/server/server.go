package server

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"conveyor.dev/conveyor/internal/server/dispatch"
	"conveyor.dev/conveyor/internal/store"
)

// Store is what the HTTP layer reads of persistence.
type Store interface {
	TokenStore
	GetRun(ctx context.Context, id string) (store.Run, error)
	ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error)
	ListRecords(ctx context.Context, runID string) ([]store.Record, error)
	ReadLog(ctx context.Context, runID, recordID string, attempt int, from int64) ([]store.LogLine, error)
	TailLog(ctx context.Context, runID, recordID string, attempt int, from int64, fn func(store.LogLine) error) error
	ListLeases(ctx context.Context, states ...store.LeaseState) ([]store.Lease, error)
	// RunInput is what started a run (the engine's encoded input): the web
	// UI reads who asked for it.
	RunInput(ctx context.Context, runID string) ([]byte, error)
}

// Runs starts, cancels and retries runs (Runner).
type Runs interface {
	StartManual(ctx context.Context, req ManualRun) (runID string, err error)
	Cancel(ctx context.Context, runID string) error
	Retry(ctx context.Context, runID, requester string) (newRunID string, err error)
}

// Approvals is what the API and the web UI need of the approval service:
// list pending and past approvals, record decisions, read the audit log.
// Errors wrapping store.ErrNotFound answer 404, ErrForbidden 403,
// ErrConflict 409.
type Approvals interface {
	// ListApprovals returns the approvals in state (all when "") of the
	// run runID (all when ""), oldest first.
	ListApprovals(ctx context.Context, state, runID string) ([]store.Approval, error)
	Decide(ctx context.Context, id, user, decision, comment string) (store.Approval, error)
	// Audit returns the first limit entries of the audit log in order (all
	// when limit is 0).
	Audit(ctx context.Context, limit int) ([]store.AuditEntry, error)
}

// Deployments lists what was deployed where.
type Deployments interface {
	// ListDeployments returns the deployments to environment (all when
	// ""), newest first.
	ListDeployments(ctx context.Context, environment string) ([]store.Deployment, error)
}

// ErrForbidden is wrapped by a service refusing a caller (an approver not
// in the list, the requester approving their own run): 403.
var ErrForbidden = errors.New("forbidden")

// ErrConflict is wrapped when the request does not fit the state (an
// approval already decided, a run already ended): 409.
var ErrConflict = errors.New("conflict")

// ErrBadRequest is wrapped by errors caused by the request's content: 400.
var ErrBadRequest = errors.New("bad request")

// Environment is an environment as the API shows it.
type Environment struct {
	Name      string `json:"name"`
	Cluster   string `json:"cluster,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// Checks describes the checks in words (approvals, branch control, lock).
	Checks []string `json:"checks,omitempty"`
}

// Server serves the API. Build it with New; it is an http.Handler.
type Server struct {
	st           Store
	tokens       TokenStore
	runs         Runs
	broker       *dispatch.Broker
	approvals    Approvals
	deployments  Deployments
	environments []Environment
	webhooks     map[string]http.Handler
	metrics      *Metrics
	log          *slog.Logger
	mux          *http.ServeMux
	routes       []route
	pages        uiTemplates // the web UI's pages
	sessions     *uiSessions // the web UI's signed-in browsers

	stopOnce, closeOnce sync.Once
	stopping            chan struct{} // closed by StopAccepting
	closing             chan struct{} // closed when Serve shuts the listener down
}

// Option configures a Server.
type Option func(*Server) error

// WithApprovals sets the approval service.
func WithApprovals(a Approvals) Option { return func(s *Server) error { s.approvals = a; return nil } }

// WithDeployments sets where deployments are read.
func WithDeployments(d Deployments) Option {
	return func(s *Server) error { s.deployments = d; return nil }
}

// WithEnvironments sets the environments of conveyor.yaml.
func WithEnvironments(envs []Environment) Option {
	return func(s *Server) error { s.environments = envs; return nil }
}

// WithWebhook mounts h at POST /webhooks/<provider> (github, gitea,
// azure-repos); a provider without a handler answers 503.
func WithWebhook(provider string, h http.Handler) Option {
	return func(s *Server) error {
		if _, ok := s.webhooks[provider]; !ok {
			return fmt.Errorf("server: webhook provider %q: want github, gitea or azure-repos", provider)
		}
		s.webhooks[provider] = h
		return nil
	}
}

// WithMetrics sets the metrics served at /metrics.
func WithMetrics(m *Metrics) Option { return func(s *Server) error { s.metrics = m; return nil } }

// WithLogger sets the logger of the server's own diagnostics.
func WithLogger(l *slog.Logger) Option { return func(s *Server) error { s.log = l; return nil } }

// New returns the API and the web UI over st, starting runs with runs and
// handing jobs to agents through broker.
func New(st Store, runs Runs, broker *dispatch.Broker, opts ...Option) (*Server, error) {
	if st == nil || runs == nil || broker == nil {
		return nil, fmt.Errorf("server: a store, a runner and a broker are required")
	}
	s := &Server{st: st, tokens: st, runs: runs, broker: broker,
		webhooks: map[string]http.Handler{"github": nil, "gitea": nil, "azure-repos": nil},
		log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		stopping: make(chan struct{}), closing: make(chan struct{})}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if s.metrics == nil {
		s.metrics = NewMetrics(broker.QueueDepth)
	}
	var err error
	if s.pages, err = parseUITemplates(); err != nil {
		return nil, err
	}
	s.sessions = newUISessions()
	s.mux = http.NewServeMux()
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		h := rt.handler
		if rt.role != "" {
			h = s.require(rt.role, h)
		}
		s.mux.HandleFunc(rt.method+" "+rt.pattern, h)
	}
	for _, rt := range s.uiRoutes() {
		s.mux.HandleFunc(rt.method+" "+rt.pattern, s.uiHandler(rt))
	}
	return s, nil
}

// ServeHTTP serves the API and the web UI.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// route is one endpoint: the role it needs ("" for none) and its handler.
type route struct {
	method, pattern string
	role            Role
	handler         http.HandlerFunc
}

// routeTable lists every endpoint; the OpenAPI document lists the same.
func (s *Server) routeTable() []route {
	return []route{
		{"GET", "/healthz", "", s.healthz},
		{"GET", "/metrics", "", s.metrics.Handler().ServeHTTP},
		{"GET", "/api/v1/openapi.json", "", serveOpenAPI},
		{"POST", "/webhooks/github", "", s.newWork(s.webhook("github"))},
		{"POST", "/webhooks/gitea", "", s.newWork(s.webhook("gitea"))},
		{"POST", "/webhooks/azure-repos", "", s.newWork(s.webhook("azure-repos"))},

		{"GET", "/api/v1/runs", RoleViewer, s.listRuns},
		{"POST", "/api/v1/runs", RoleOperator, s.newWork(s.createRun)},
		{"GET", "/api/v1/runs/{run}", RoleViewer, s.getRun},
		{"POST", "/api/v1/runs/{run}/cancel", RoleOperator, s.cancelRun},
		{"POST", "/api/v1/runs/{run}/retry", RoleOperator, s.newWork(s.retryRun)},
		{"GET", "/api/v1/runs/{run}/records", RoleViewer, s.listRecords},
		{"GET", "/api/v1/runs/{run}/logs", RoleViewer, s.runLogs},
		{"GET", "/api/v1/runs/{run}/logs/{record}", RoleViewer, s.recordLog},
		{"GET", "/api/v1/runs/{run}/logs/{record}/stream", RoleViewer, s.stream(s.streamLog)},

		{"GET", "/api/v1/approvals", RoleViewer, s.listApprovals},
		{"POST", "/api/v1/approvals/{approval}/approve", RoleApprover, s.decide("approve")},
		{"POST", "/api/v1/approvals/{approval}/reject", RoleApprover, s.decide("reject")},
		{"GET", "/api/v1/environments", RoleViewer, s.listEnvironments},
		{"GET", "/api/v1/deployments", RoleViewer, s.listDeployments},
		{"GET", "/api/v1/dora", RoleViewer, s.dora},
		{"GET", "/api/v1/audit", RoleViewer, s.audit},

		{"GET", "/api/v1/tokens", RoleAdmin, s.listTokens},
		{"POST", "/api/v1/tokens", RoleAdmin, s.createToken},
		{"GET", "/api/v1/leases", RoleViewer, s.listLeases},

		{"POST", "/api/v1/agent/lease", RoleAgent, until(s.closing, s.agentLease)},
		{"POST", "/api/v1/agent/leases/{lease}/started", RoleAgent, s.agentStarted},
		{"POST", "/api/v1/agent/leases/{lease}/next", RoleAgent, until(s.closing, s.agentNext)},
		{"POST", "/api/v1/agent/leases/{lease}/report", RoleAgent, s.agentReport},
		{"POST", "/api/v1/agent/leases/{lease}/heartbeat", RoleAgent, s.agentHeartbeat},
		{"POST", "/api/v1/agent/leases/{lease}/closed", RoleAgent, s.agentClosed},
	}
}

// routeTableForDoc lists "METHOD pattern" of every route.
func (s *Server) routeTableForDoc() []string {
	if s.metrics == nil {
		s.metrics = NewMetrics(nil)
	}
	var out []string
	for _, rt := range s.routeTable() {
		out = append(out, rt.method+" "+rt.pattern)
	}
	return out
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPI)
}

// webhook serves POST /webhooks/<provider> with its handler, 503 until one
// is mounted.
func (s *Server) webhook(provider string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := s.webhooks[provider]
		if h == nil {
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("webhooks from %s are not served by this server yet", provider))
			return
		}
		h.ServeHTTP(w, r)
	}
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// fail answers an error: its status from what it wraps, 500 (logged) for
// the unexpected.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	status = statusOf(err, status)
	if status >= 500 {
		s.log.Error("api", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	}
	writeError(w, status, err.Error())
}

// statusOf is the HTTP status of err: from what it wraps (not found,
// forbidden, conflict, bad request), else def.
func statusOf(err error, def int) int {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	}
	return def
}

// decodeJSON reads the request body into v; an empty body leaves v as is.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("request body: %w: %w", ErrBadRequest, err)
	}
	return nil
}

// StopAccepting makes the server refuse new work: starting or retrying
// runs and webhook deliveries answer 503 with Retry-After (forges deliver
// again later), and live log streams end (clients resume them with
// Last-Event-ID). The rest of the API keeps working, so agents report the
// steps they finish. Serve calls it when its context ends; a stopping
// server calls it first.
func (s *Server) StopAccepting() {
	s.stopOnce.Do(func() { close(s.stopping) })
}

// newWork wraps a handler that starts runs: 503 once the server stops
// accepting work.
func (s *Server) newWork(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-s.stopping:
			w.Header().Set("Retry-After", "30")
			writeError(w, http.StatusServiceUnavailable, "the server is stopping and starts no new runs: try again once it is back")
			return
		default:
		}
		h(w, r)
	}
}

// stream wraps a live log stream: it ends when the server stops
// accepting work, and a stopping server answers new streams 503 with
// Retry-After (clients follow again once it is back).
func (s *Server) stream(h http.HandlerFunc) http.HandlerFunc {
	h = until(s.stopping, h)
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-s.stopping:
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusServiceUnavailable, "the server is stopping: follow the log again once it is back")
			return
		default:
		}
		h(w, r)
	}
}

// until wraps a long-lived handler (a log stream, an agent's long poll)
// so that its request ends when ch closes.
func until(ch <-chan struct{}, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-ch:
				cancel()
			case <-ctx.Done():
			}
		}()
		h(w, r.WithContext(ctx))
	}
}

// Serve serves the API on l until ctx ends. Then it stops accepting new
// work (StopAccepting), ends long polls, closes the listener and gives the
// requests in flight up to grace to end before closing their connections.
// Requests in flight are not canceled when ctx ends: a decision being
// recorded is recorded.
func (s *Server) Serve(ctx context.Context, l net.Listener, grace time.Duration) error {
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return base }}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.StopAccepting()
	s.closeOnce.Do(func() { close(s.closing) })
	sctx, cancel := context.WithTimeout(base, grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		cancelBase()
		err = hs.Close()
	}
	<-errc
	return err
}

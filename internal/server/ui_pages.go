package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"conveyor.dev/conveyor/internal/store"
)

// uiRunRow is one line of the runs list.
type uiRunRow struct {
	store.Run
	Requester string
}

type uiRunsData struct {
	Pipeline string
	State    string
	States   []store.State
	Runs     []uiRunRow
	Limit    int
}

// uiRunLimit is how many runs the list shows.
const uiRunLimit = 100

// uiRuns lists the newest runs, filtered by pipeline and state.
func (s *Server) uiRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := uiRunsData{Pipeline: strings.TrimSpace(q.Get("pipeline")), State: q.Get("state"), Limit: uiRunLimit,
		States: []store.State{store.StateQueued, store.StateRunning, store.StateWaiting, store.StateCompleted}}
	if d.State != "" && !slices.Contains(d.States, store.State(d.State)) {
		s.uiError(w, r, http.StatusBadRequest, fmt.Sprintf("state %q: want queued, running, waiting or completed", d.State))
		return
	}
	runs, err := s.st.ListRuns(r.Context(), store.RunFilter{Pipeline: d.Pipeline, State: store.State(d.State), Limit: uiRunLimit})
	if err != nil {
		s.uiFail(w, r, http.StatusInternalServerError, err)
		return
	}
	for _, run := range runs {
		run.Plan = nil
		d.Runs = append(d.Runs, uiRunRow{Run: run, Requester: s.requesterOf(r.Context(), run.ID)})
	}
	s.render(w, r, http.StatusOK, "runs", uiPage{Title: "Runs", Nav: "runs", Data: d})
}

// requesterOf is who asked for the run ("" when unknown).
func (s *Server) requesterOf(ctx context.Context, runID string) string {
	in, err := readRunInput(ctx, s.st, runID)
	if err != nil {
		return ""
	}
	return in.RequestedFor
}

// uiNode is a timeline record with its children, latest attempts only.
type uiNode struct {
	store.Record
	// Attempts are the record's attempts, oldest first (logs of earlier
	// ones stay readable).
	Attempts []int
	Children []*uiNode
}

// timeline builds the tree of the run's records: stages, jobs (and their
// phases), steps, each at its latest attempt, siblings in order.
func timeline(recs []store.Record) []*uiNode {
	nodes := map[string]*uiNode{}
	var ids []string
	for _, rec := range recs {
		n, ok := nodes[rec.ID]
		if !ok {
			n = &uiNode{Record: rec}
			nodes[rec.ID] = n
			ids = append(ids, rec.ID)
		} else if rec.Attempt > n.Attempt {
			n.Record = rec
		}
		n.Attempts = append(n.Attempts, rec.Attempt)
	}
	var roots []*uiNode
	for _, id := range ids {
		n := nodes[id]
		slices.Sort(n.Attempts)
		n.Attempts = slices.Compact(n.Attempts)
		if p, ok := nodes[n.ParentID]; ok && n.ParentID != "" {
			p.Children = append(p.Children, n)
		} else {
			roots = append(roots, n)
		}
	}
	var order func([]*uiNode)
	order = func(ns []*uiNode) {
		sort.SliceStable(ns, func(i, j int) bool { return ns[i].Order < ns[j].Order })
		for _, n := range ns {
			order(n.Children)
		}
	}
	order(roots)
	return roots
}

// uiApproval is an approval with the run it holds.
type uiApproval struct {
	store.Approval
	Run store.Run
}

type uiRunData struct {
	Run       store.Run
	Requester string
	Timeline  []*uiNode
	Approvals []uiApproval
	Running   bool // the page refreshes itself while the run goes on
}

// uiRun shows a run: its details, approvals and timeline.
func (s *Server) uiRun(w http.ResponseWriter, r *http.Request) {
	run, recs, err := s.runWithRecords(r.Context(), r.PathValue("run"))
	if err != nil {
		s.uiFail(w, r, http.StatusInternalServerError, err)
		return
	}
	run.Plan = nil
	aps, err := s.listApprovalsOf(r.Context(), "", run.ID)
	if err != nil {
		s.uiFail(w, r, http.StatusInternalServerError, err)
		return
	}
	d := uiRunData{Run: run, Requester: s.requesterOf(r.Context(), run.ID), Timeline: timeline(recs),
		Running: run.State != store.StateCompleted}
	for _, a := range aps {
		d.Approvals = append(d.Approvals, uiApproval{Approval: a, Run: run})
		if a.State == store.ApprovalPending && principalOf(r.Context()).Role.allows(RoleApprover) {
			d.Running = false // no refresh under a form being filled in
		}
	}
	s.render(w, r, http.StatusOK, "run", uiPage{Title: fmt.Sprintf("%s #%s", run.Pipeline, runName(run)), Nav: "runs", Data: d})
}

// uiCancel cancels a run and shows it.
func (s *Server) uiCancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("run")
	if err := s.runs.Cancel(r.Context(), id); err != nil {
		s.uiFail(w, r, http.StatusInternalServerError, err)
		return
	}
	s.sessions.setFlash(sessionOf(r.Context()), "Cancel requested: the run stops its running steps.")
	http.Redirect(w, r, RunPagePath(id), http.StatusSeeOther)
}

// uiRetry starts the run again and shows the new run.
func (s *Server) uiRetry(w http.ResponseWriter, r *http.Request) {
	id, err := s.runs.Retry(r.Context(), r.PathValue("run"), principalOf(r.Context()).User)
	if err != nil {
		s.uiFail(w, r, http.StatusInternalServerError, err)
		return
	}
	s.sessions.setFlash(sessionOf(r.Context()), "Retry started as this run.")
	http.Redirect(w, r, RunPagePath(id), http.StatusSeeOther)
}

type uiLogData struct {
	Run      store.Run
	Record   store.Record
	Attempt  int
	Attempts []int
	Lines    []store.LogLine
	// Stream is the live tail's URL while the step goes on ("" once it
	// is over: the page holds the whole log).
	Stream string
}

// uiLog shows a step's log so far; while the step runs, log.js follows
// the rest over server-sent events.
func (s *Server) uiLog(w http.ResponseWriter, r *http.Request) {
	run, recs, err := s.runWithRecords(r.Context(), r.PathValue("run"))
	if err != nil {
		s.uiFail(w, r, http.StatusInternalServerError, err)
		return
	}
	run.Plan = nil
	recID := r.PathValue("record")
	d := uiLogData{Run: run, Attempt: latestAttempt(recs, recID)}
	if a := r.URL.Query().Get("attempt"); a != "" {
		if d.Attempt, err = strconv.Atoi(a); err != nil || d.Attempt < 1 {
			s.uiError(w, r, http.StatusBadRequest, fmt.Sprintf("attempt %q: want a number from 1", a))
			return
		}
	}
	found := false
	for _, rec := range recs {
		if rec.ID != recID {
			continue
		}
		d.Attempts = append(d.Attempts, rec.Attempt)
		if rec.Attempt == d.Attempt {
			d.Record, found = rec, true
		}
	}
	if !found {
		s.uiFail(w, r, http.StatusNotFound, fmt.Errorf("step %s attempt %d of run %s: %w", recID, d.Attempt, run.ID, store.ErrNotFound))
		return
	}
	slices.Sort(d.Attempts)
	d.Lines, err = s.st.ReadLog(r.Context(), run.ID, recID, d.Attempt, 0)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.uiFail(w, r, http.StatusInternalServerError, err)
		return
	}
	if d.Record.State != store.StateCompleted {
		d.Stream = fmt.Sprintf("/ui/runs/%s/logs/%s/stream?attempt=%d&from=%d", url.PathEscape(run.ID), url.PathEscape(recID), d.Attempt, len(d.Lines))
	}
	name := d.Record.DisplayName
	if name == "" {
		name = d.Record.Name
	}
	s.render(w, r, http.StatusOK, "log", uiPage{Title: fmt.Sprintf("%s — %s #%s", name, run.Pipeline, runName(run)), Nav: "runs", Data: d})
}

type uiApprovalsData struct {
	Pending []uiApproval
	Decided []uiApproval // the latest decided ones, newest first
}

// uiDecidedShown is how many decided approvals the approvals page shows.
const uiDecidedShown = 20

// withRuns pairs approvals with their runs (read once each).
func (s *Server) withRuns(ctx context.Context, aps []store.Approval) ([]uiApproval, error) {
	runs := map[string]store.Run{}
	var out []uiApproval
	for _, a := range aps {
		run, ok := runs[a.RunID]
		if !ok {
			var err error
			run, err = s.st.GetRun(ctx, a.RunID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			run.Plan = nil
			runs[a.RunID] = run
		}
		out = append(out, uiApproval{Approval: a, Run: run})
	}
	return out, nil
}

// uiApprovals lists the pending approvals, with forms for approvers, and
// the latest decided ones.
func (s *Server) uiApprovals(w http.ResponseWriter, r *http.Request) {
	s.renderApprovals(w, r, http.StatusOK, "")
}

func (s *Server) renderApprovals(w http.ResponseWriter, r *http.Request, status int, problem string) {
	all, err := s.listApprovalsOf(r.Context(), "", "")
	if err != nil {
		s.uiFail(w, r, http.StatusInternalServerError, err)
		return
	}
	var pending, decided []store.Approval
	for _, a := range all {
		if a.State == store.ApprovalPending {
			pending = append(pending, a)
		} else {
			decided = append(decided, a)
		}
	}
	sort.SliceStable(decided, func(i, j int) bool { return decided[i].DecidedAt.After(decided[j].DecidedAt) })
	decided = decided[:min(len(decided), uiDecidedShown)]
	var d uiApprovalsData
	if d.Pending, err = s.withRuns(r.Context(), pending); err != nil {
		s.uiFail(w, r, http.StatusInternalServerError, err)
		return
	}
	if d.Decided, err = s.withRuns(r.Context(), decided); err != nil {
		s.uiFail(w, r, http.StatusInternalServerError, err)
		return
	}
	s.render(w, r, status, "approvals", uiPage{Title: "Approvals", Nav: "approvals", Error: problem, Data: d})
}

// uiDecide records the signed-in user's decision with the form's comment.
// A refusal (the requester approving their own run, an approver not in
// the list, an approval already decided) is shown on the approvals page
// with its status.
func (s *Server) uiDecide(decision string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user := principalOf(r.Context()).User
		a, err := s.decideApproval(r.Context(), r.PathValue("approval"), user, decision, strings.TrimSpace(r.PostFormValue("comment")))
		if err != nil {
			status := statusOf(err, http.StatusInternalServerError)
			if status >= 500 {
				s.uiFail(w, r, status, err)
				return
			}
			s.renderApprovals(w, r, status, fmt.Sprintf("Your %s was not recorded: %v", decision, err))
			return
		}
		verb := map[string]string{decisionApprove: "approved", decisionReject: "rejected"}[decision]
		msg := fmt.Sprintf("You %s %s of run %s; the approval is now %s.", verb, a.Gate, a.RunID, a.State)
		s.sessions.setFlash(sessionOf(r.Context()), msg)
		http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
	}
}

// uiEnvironment is an environment with what was deployed to it.
type uiEnvironment struct {
	Environment
	// Current is the latest deployment of each namespace and pipeline.
	Current     []DeploymentView
	Deployments []DeploymentView // newest first, at most uiDeploymentsShown
}

const uiDeploymentsShown = 10

// uiEnvironments lists conveyor.yaml's environments (and any that only
// the deployments name) with their current and recent deployments.
func (s *Server) uiEnvironments(w http.ResponseWriter, r *http.Request) {
	ds, err := s.listDeploymentsOf(r.Context(), "")
	if err != nil {
		s.uiFail(w, r, http.StatusInternalServerError, err)
		return
	}
	byEnv := map[string]*uiEnvironment{}
	var envs []*uiEnvironment
	for _, e := range s.environments {
		ue := &uiEnvironment{Environment: e}
		byEnv[e.Name] = ue
		envs = append(envs, ue)
	}
	seen := map[string]bool{}
	for _, d := range ds {
		ue, ok := byEnv[d.Environment]
		if !ok {
			ue = &uiEnvironment{Environment: Environment{Name: d.Environment}}
			byEnv[d.Environment] = ue
			envs = append(envs, ue)
		}
		if key := d.Environment + "\x00" + d.Namespace + "\x00" + d.Pipeline; !seen[key] {
			seen[key] = true
			ue.Current = append(ue.Current, d)
		}
		if len(ue.Deployments) < uiDeploymentsShown {
			ue.Deployments = append(ue.Deployments, d)
		}
	}
	s.render(w, r, http.StatusOK, "environments", uiPage{Title: "Environments", Nav: "environments", Data: envs})
}

// uiAuditShown is how many entries the audit page shows, newest first.
const uiAuditShown = 200

// uiAudit shows the latest audit log entries, newest first.
func (s *Server) uiAudit(w http.ResponseWriter, r *http.Request) {
	all, err := s.auditLog(r.Context(), 0)
	if err != nil {
		s.uiFail(w, r, http.StatusInternalServerError, err)
		return
	}
	out := make([]store.AuditEntry, 0, min(len(all), uiAuditShown))
	for i := len(all) - 1; i >= 0 && len(out) < uiAuditShown; i-- {
		out = append(out, all[i])
	}
	s.render(w, r, http.StatusOK, "audit", uiPage{Title: "Audit log", Nav: "audit", Data: out})
}

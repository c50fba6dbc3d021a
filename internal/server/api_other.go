package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"conveyor.dev/conveyor/internal/store"
)

func (s *Server) listApprovals(w http.ResponseWriter, r *http.Request) {
	out, err := s.listApprovalsOf(r.Context(), r.URL.Query().Get("state"), r.URL.Query().Get("run"))
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// listApprovalsOf returns the approvals in state of the run runID ("" for
// any), never nil.
func (s *Server) listApprovalsOf(ctx context.Context, state, runID string) ([]store.Approval, error) {
	if s.approvals == nil {
		return []store.Approval{}, nil
	}
	out, err := s.approvals.ListApprovals(ctx, state, runID)
	if out == nil {
		out = []store.Approval{}
	}
	return out, err
}

// decideApproval records user's decision on the approval id.
func (s *Server) decideApproval(ctx context.Context, id, user, decision, comment string) (store.Approval, error) {
	if s.approvals == nil {
		return store.Approval{}, fmt.Errorf("approval %s: %w", id, store.ErrNotFound)
	}
	return s.approvals.Decide(ctx, id, user, decision, comment)
}

// Decision is the body of approve and reject.
type Decision struct {
	Comment string `json:"comment,omitempty"`
}

func (s *Server) decide(decision string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var d Decision
		if err := decodeJSON(r, &d); err != nil {
			s.fail(w, r, http.StatusBadRequest, err)
			return
		}
		out, err := s.decideApproval(r.Context(), r.PathValue("approval"), principalOf(r.Context()).User, decision, d.Comment)
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (s *Server) listEnvironments(w http.ResponseWriter, _ *http.Request) {
	out := s.environments
	if out == nil {
		out = []Environment{}
	}
	writeJSON(w, http.StatusOK, out)
}

// DeploymentView is a deployment as the API shows it: what went where,
// never the applied manifests (they may hold Secrets).
type DeploymentView struct {
	Environment string                 `json:"environment"`
	Namespace   string                 `json:"namespace"`
	Pipeline    string                 `json:"pipeline,omitempty"`
	Revision    int64                  `json:"revision"`
	Run         string                 `json:"run,omitempty"`
	Commit      string                 `json:"commit,omitempty"`
	Images      []string               `json:"images,omitempty"`
	Objects     []store.DeployedObject `json:"objects,omitempty"`
	CreatedAt   time.Time              `json:"createdAt"`
}

// listDeploymentsOf returns the deployments to environment ("" for all),
// newest first, never nil.
func (s *Server) listDeploymentsOf(ctx context.Context, environment string) ([]DeploymentView, error) {
	out := []DeploymentView{}
	if s.deployments == nil {
		return out, nil
	}
	ds, err := s.deployments.ListDeployments(ctx, environment)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		out = append(out, DeploymentView{Environment: d.Environment, Namespace: d.Namespace, Pipeline: d.Pipeline, Revision: d.Revision,
			Run: d.RunID, Commit: d.Commit, Images: d.Images, Objects: d.Objects, CreatedAt: d.CreatedAt})
	}
	return out, nil
}

func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	out, err := s.listDeploymentsOf(r.Context(), r.URL.Query().Get("environment"))
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want a number of entries from 1", l))
			return
		}
		limit = n
	}
	out, err := s.auditLog(r.Context(), limit)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// auditLog returns the first limit audit entries (all for 0), never nil.
func (s *Server) auditLog(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	if s.approvals == nil {
		return []store.AuditEntry{}, nil
	}
	out, err := s.approvals.Audit(ctx, limit)
	if out == nil {
		out = []store.AuditEntry{}
	}
	return out, err
}

// TokenView is a token as the API lists it: never its secret.
type TokenView struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"createdAt"`
	RevokedAt time.Time `json:"revokedAt,omitzero"`
}

// NewTokenRequest is the body of POST /api/v1/tokens.
type NewTokenRequest struct {
	User string `json:"user"`
	Role string `json:"role"`
}

// NewTokenResponse carries the new token's secret, shown this once.
type NewTokenResponse struct {
	User  string `json:"user"`
	Role  string `json:"role"`
	Token string `json:"token"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.tokens.ListTokens(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	out := make([]TokenView, 0, len(ts))
	for _, t := range ts {
		out = append(out, TokenView{ID: t.ID, User: t.User, Role: t.Role, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req NewTokenRequest
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	role, err := ParseRole(req.Role)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.User == "" {
		writeError(w, http.StatusBadRequest, "user: required")
		return
	}
	secret, err := CreateToken(r.Context(), s.tokens, req.User, role)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusCreated, NewTokenResponse{User: req.User, Role: string(role), Token: secret})
}

// LeaseView is a job handed to agents.
type LeaseView struct {
	ID        string           `json:"id"`
	Run       string           `json:"run"`
	Job       string           `json:"job"`
	State     store.LeaseState `json:"state"`
	Agent     string           `json:"agent,omitempty"`
	Attempt   int              `json:"attempt"`
	Demands   []string         `json:"demands,omitempty"`
	CreatedAt time.Time        `json:"createdAt"`
}

func (s *Server) listLeases(w http.ResponseWriter, r *http.Request) {
	var states []store.LeaseState
	if st := r.URL.Query().Get("state"); st != "" {
		states = append(states, store.LeaseState(st))
	}
	ls, err := s.st.ListLeases(r.Context(), states...)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	out := make([]LeaseView, 0, len(ls))
	for _, l := range ls {
		out = append(out, LeaseView{ID: l.ID, Run: l.RunID, Job: l.JobID, State: l.State, Agent: l.Agent, Attempt: l.Attempt,
			Demands: l.Demands, CreatedAt: l.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

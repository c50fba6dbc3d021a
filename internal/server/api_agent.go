package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"conveyor.dev/conveyor/internal/agent"
	"conveyor.dev/conveyor/internal/task"
)

// The agent protocol over HTTP: each call of agent.Conn is a POST with a
// JSON body; the lease token travels in the X-Conveyor-Lease-Token header.
// A lost lease answers 409 Conflict; "no job yet" answers 204.

// LeaseTokenHeader carries the secret of a lease grant.
const LeaseTokenHeader = "X-Conveyor-Lease-Token"

func ticketOf(r *http.Request) agent.Ticket {
	return agent.Ticket{Lease: r.PathValue("lease"), Token: r.Header.Get(LeaseTokenHeader)}
}

// agentFail answers a protocol error: 409 for a lost lease.
func (s *Server) agentFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, agent.ErrLeaseLost) {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	s.fail(w, r, http.StatusInternalServerError, err)
}

func (s *Server) agentLease(w http.ResponseWriter, r *http.Request) {
	var req agent.LeaseRequest
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if req.Agent == "" {
		writeError(w, http.StatusBadRequest, "agent: required: the agent's unique name")
		return
	}
	// A remote agent: it cannot run the tasks that need the server's
	// services, whatever it claims.
	req.Capabilities = withoutServicesCapability(req.Capabilities)
	g, ok, err := s.broker.Lease(r.Context(), req)
	if err != nil {
		s.agentFail(w, r, err)
		return
	}
	if ok {
		why, err := s.remoteRefusal(r.Context(), g.Spec.RunID, g.Spec.JobID)
		if err != nil {
			s.log.Warn("agent lease: read the job's plan", slog.Any("err", err))
		}
		if why != "" {
			// The job fails with the reason; the agent waits for another.
			if err := s.broker.Closed(context.WithoutCancel(r.Context()), g.Ticket, why); err != nil {
				s.agentFail(w, r, err)
				return
			}
			ok = false
		}
	}
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, g)
}

func (s *Server) agentStarted(w http.ResponseWriter, r *http.Request) {
	var dirs task.Dirs
	if err := decodeJSON(r, &dirs); err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if err := s.broker.Started(r.Context(), ticketOf(r), dirs); err != nil {
		s.agentFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) agentNext(w http.ResponseWriter, r *http.Request) {
	in, err := s.broker.Next(r.Context(), ticketOf(r))
	if err != nil {
		s.agentFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, in)
}

func (s *Server) agentReport(w http.ResponseWriter, r *http.Request) {
	var rep agent.StepReport
	if err := decodeJSON(r, &rep); err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	reply, err := s.broker.Report(r.Context(), ticketOf(r), rep)
	if err != nil {
		s.agentFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, reply)
}

func (s *Server) agentHeartbeat(w http.ResponseWriter, r *http.Request) {
	reply, err := s.broker.Heartbeat(r.Context(), ticketOf(r))
	if err != nil {
		s.agentFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, reply)
}

// closedBody is the body of the closed call.
type closedBody struct {
	Error string `json:"error,omitempty"`
}

func (s *Server) agentClosed(w http.ResponseWriter, r *http.Request) {
	var b closedBody
	if err := decodeJSON(r, &b); err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if err := s.broker.Closed(r.Context(), ticketOf(r), b.Error); err != nil {
		s.agentFail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"conveyor.dev/conveyor/internal/store"
)

// ManualRun asks for a run of a pipeline of a configured repository.
type ManualRun struct {
	// Repository is the repository's name in conveyor.yaml; may be empty
	// when there is only one.
	Repository string `json:"repository,omitempty"`
	// Pipeline is the pipeline's name in the repository's pipelines.
	Pipeline string `json:"pipeline"`
	// Branch is the branch to build (default: the repository's default
	// branch); Commit, when set, the exact commit.
	Branch string `json:"branch,omitempty"`
	Commit string `json:"commit,omitempty"`
	// Variables are queue-time variables.
	Variables map[string]string `json:"variables,omitempty"`
	// Requester is who asked: the token's user (not read from the body).
	Requester string `json:"-"`
}

// RunView is a run as the API shows it.
type RunView struct {
	ID         string            `json:"id"`
	Number     int64             `json:"number"`
	Pipeline   string            `json:"pipeline"`
	File       string            `json:"file,omitempty"`
	Repository string            `json:"repository,omitempty"`
	Commit     string            `json:"commit,omitempty"`
	Branch     string            `json:"branch,omitempty"`
	Event      store.Event       `json:"event"`
	Reason     string            `json:"reason,omitempty"`
	State      store.State       `json:"state"`
	Result     store.Result      `json:"result,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
	Variables  map[string]string `json:"variables,omitempty"`
	CreatedAt  time.Time         `json:"createdAt"`
	StartedAt  time.Time         `json:"startedAt,omitzero"`
	FinishedAt time.Time         `json:"finishedAt,omitzero"`
	Tags       []string          `json:"tags,omitempty"`
}

func runView(r store.Run) RunView {
	return RunView{ID: r.ID, Number: r.Number, Pipeline: r.Pipeline, File: r.File, Repository: r.Repository, Commit: r.Commit,
		Branch: r.Branch, Event: r.Event, Reason: r.Reason, State: r.State, Result: r.Result, Params: r.Params,
		Variables: r.Variables, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Tags: r.Tags}
}

// RecordView is a timeline record as the API shows it.
type RecordView struct {
	ID            string            `json:"id"`
	ParentID      string            `json:"parentId,omitempty"`
	Type          store.RecordType  `json:"type"`
	Name          string            `json:"name"`
	DisplayName   string            `json:"displayName,omitempty"`
	Order         int               `json:"order"`
	Attempt       int               `json:"attempt"`
	State         store.State       `json:"state"`
	Result        store.Result      `json:"result,omitempty"`
	StartedAt     time.Time         `json:"startedAt,omitzero"`
	FinishedAt    time.Time         `json:"finishedAt,omitzero"`
	Outputs       map[string]string `json:"outputs,omitempty"`
	SecretOutputs []string          `json:"secretOutputs,omitempty"`
	Issues        []IssueView       `json:"issues,omitempty"`
	LogLines      int64             `json:"logLines,omitempty"`
}

// IssueView is an error or warning of a record.
type IssueView struct {
	Type    store.IssueType `json:"type"`
	Message string          `json:"message"`
	File    string          `json:"file,omitempty"`
	Line    int             `json:"line,omitempty"`
}

func recordView(r store.Record) RecordView {
	v := RecordView{ID: r.ID, ParentID: r.ParentID, Type: r.Type, Name: r.Name, DisplayName: r.DisplayName, Order: r.Order,
		Attempt: r.Attempt, State: r.State, Result: r.Result, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Outputs: r.Outputs, SecretOutputs: r.SecretOutputs, LogLines: r.LogLines}
	for _, is := range r.Issues {
		v.Issues = append(v.Issues, IssueView{Type: is.Type, Message: is.Message, File: is.File, Line: is.Line})
	}
	return v
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.RunFilter{Pipeline: q.Get("pipeline"), State: store.State(q.Get("state")), Tag: q.Get("tag")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want a number of runs", l))
			return
		}
		f.Limit = n
	}
	runs, err := s.st.ListRuns(r.Context(), f)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	out := make([]RunView, 0, len(runs))
	for _, run := range runs {
		out = append(out, runView(run))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createRun(w http.ResponseWriter, r *http.Request) {
	var req ManualRun
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if req.Pipeline == "" {
		writeError(w, http.StatusBadRequest, "pipeline: required: name one of the repository's pipelines in conveyor.yaml")
		return
	}
	req.Requester = principalOf(r.Context()).User
	id, err := s.runs.StartManual(r.Context(), req)
	if err != nil {
		s.fail(w, r, http.StatusUnprocessableEntity, err)
		return
	}
	s.writeRun(w, r, http.StatusCreated, id)
}

// writeRun answers the run id as a RunView with status; a 201 Created
// also names the run in its Location header.
func (s *Server) writeRun(w http.ResponseWriter, r *http.Request, status int, id string) {
	run, err := s.st.GetRun(r.Context(), id)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", "/api/v1/runs/"+id)
	}
	writeJSON(w, status, runView(run))
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	s.writeRun(w, r, http.StatusOK, r.PathValue("run"))
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("run")
	if err := s.runs.Cancel(r.Context(), id); err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	s.writeRun(w, r, http.StatusAccepted, id)
}

func (s *Server) retryRun(w http.ResponseWriter, r *http.Request) {
	id, err := s.runs.Retry(r.Context(), r.PathValue("run"), principalOf(r.Context()).User)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	s.writeRun(w, r, http.StatusCreated, id)
}

// runRecords returns the timeline records of the run id; when the run or
// its records cannot be read it answers the error and returns false.
func (s *Server) runRecords(w http.ResponseWriter, r *http.Request, id string) ([]store.Record, bool) {
	_, recs, err := s.runWithRecords(r.Context(), id)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return nil, false
	}
	return recs, true
}

// runWithRecords returns the run id and its timeline records.
func (s *Server) runWithRecords(ctx context.Context, id string) (store.Run, []store.Record, error) {
	run, err := s.st.GetRun(ctx, id)
	if err != nil {
		return store.Run{}, nil, err
	}
	recs, err := s.st.ListRecords(ctx, id)
	if err != nil {
		return store.Run{}, nil, err
	}
	return run, recs, nil
}

func (s *Server) listRecords(w http.ResponseWriter, r *http.Request) {
	recs, ok := s.runRecords(w, r, r.PathValue("run"))
	if !ok {
		return
	}
	out := make([]RecordView, 0, len(recs))
	for _, rec := range recs {
		out = append(out, recordView(rec))
	}
	writeJSON(w, http.StatusOK, out)
}

// LogLineView is one line of a step log.
type LogLineView struct {
	N    int64     `json:"n"`
	Time time.Time `json:"time"`
	Text string    `json:"text"`
}

// LogView is the log of one record attempt.
type LogView struct {
	Record  string        `json:"record"`
	Attempt int           `json:"attempt"`
	Result  store.Result  `json:"result,omitempty"`
	Lines   []LogLineView `json:"lines"`
}

func lineViews(lines []store.LogLine) []LogLineView {
	out := make([]LogLineView, 0, len(lines))
	for _, l := range lines {
		out = append(out, LogLineView{N: l.N, Time: l.Time, Text: l.Text})
	}
	return out
}

// runLogs answers every step log of the run, in timeline order.
func (s *Server) runLogs(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("run")
	recs, ok := s.runRecords(w, r, id)
	if !ok {
		return
	}
	out := []LogView{}
	for _, rec := range recs {
		if rec.Type != store.RecordStep {
			continue
		}
		lines, err := s.st.ReadLog(r.Context(), id, rec.ID, rec.Attempt, 0)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			s.fail(w, r, http.StatusInternalServerError, err)
			return
		}
		out = append(out, LogView{Record: rec.ID, Attempt: rec.Attempt, Result: rec.Result, Lines: lineViews(lines)})
	}
	writeJSON(w, http.StatusOK, out)
}

// attemptOf returns the attempt asked for by ?attempt=, else the latest
// attempt of the record (1 when it has none yet).
func (s *Server) attemptOf(r *http.Request, runID, recordID string) (int, error) {
	if a := r.URL.Query().Get("attempt"); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("attempt %q: %w: want a number from 1", a, ErrBadRequest)
		}
		return n, nil
	}
	recs, err := s.st.ListRecords(r.Context(), runID)
	if err != nil {
		return 0, err
	}
	return latestAttempt(recs, recordID), nil
}

// latestAttempt is the latest attempt of the record id among recs (1 when
// it has none yet).
func latestAttempt(recs []store.Record, id string) int {
	attempt := 1
	for _, rec := range recs {
		if rec.ID == id && rec.Attempt > attempt {
			attempt = rec.Attempt
		}
	}
	return attempt
}

func (s *Server) recordLog(w http.ResponseWriter, r *http.Request) {
	runID, recID := r.PathValue("run"), r.PathValue("record")
	attempt, err := s.attemptOf(r, runID, recID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	var from int64
	if f := r.URL.Query().Get("from"); f != "" {
		if from, err = strconv.ParseInt(f, 10, 64); err != nil || from < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("from %q: want a line number from 0", f))
			return
		}
	}
	lines, err := s.st.ReadLog(r.Context(), runID, recID, attempt, from)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, LogView{Record: recID, Attempt: attempt, Lines: lineViews(lines)})
}

// streamLog follows a step log as server-sent events: one "line" event per
// line, its id the line number, then an "end" event when the log is
// finished. It starts at line ?from= (default 0); a client reconnecting
// with Last-Event-ID resumes after that line. The web UI's live log is the
// same handler behind its session.
func (s *Server) streamLog(w http.ResponseWriter, r *http.Request) {
	runID, recID := r.PathValue("run"), r.PathValue("record")
	if _, err := s.st.GetRun(r.Context(), runID); err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	attempt, err := s.attemptOf(r, runID, recID)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	var from int64
	if f := r.URL.Query().Get("from"); f != "" {
		if from, err = strconv.ParseInt(f, 10, 64); err != nil || from < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("from %q: want a line number from 0", f))
			return
		}
	}
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Last-Event-ID %q: want the number of the last line received", last))
			return
		}
		from = n + 1
	}
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	err = s.st.TailLog(r.Context(), runID, recID, attempt, from, func(l store.LogLine) error {
		data, _ := json.Marshal(LogLineView{N: l.N, Time: l.Time, Text: l.Text})
		if _, err := fmt.Fprintf(w, "id: %d\nevent: line\ndata: %s\n\n", l.N, data); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	})
	if err != nil {
		return // the client went away or the server stops
	}
	fmt.Fprintf(w, "event: end\ndata: {}\n\n")
	if flusher != nil {
		flusher.Flush()
	}
}

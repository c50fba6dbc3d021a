// Package client is the Go client of a Conveyor server's REST API, used by
// the CLI's --server mode (conveyor runs, approve, reject, token).
//
// It must not import the server's implementation, the engine or the store.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound is wrapped by errors of 404 answers.
var ErrNotFound = errors.New("not found")

// Error is an error answer of the server.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", http.StatusText(e.Status), e.Message)
}

// Is lets errors.Is(err, ErrNotFound) match a 404.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// Client calls one server with one token.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client of the server at baseURL authenticating with token.
func New(baseURL, token string) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host:port", baseURL)
	}
	if token == "" {
		return nil, fmt.Errorf("no API token for %s: pass --token or set CONVEYOR_TOKEN (conveyor token create)", baseURL)
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: &http.Client{}}, nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.base+path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e struct{ Error string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return &Error{Status: resp.StatusCode, Message: e.Error}
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("%s %s: answer: %w", method, path, err)
		}
	}
	return nil
}

// Run is a run as the API shows it.
type Run struct {
	ID         string            `json:"id"`
	Number     int64             `json:"number"`
	Pipeline   string            `json:"pipeline"`
	File       string            `json:"file,omitempty"`
	Repository string            `json:"repository,omitempty"`
	Commit     string            `json:"commit,omitempty"`
	Branch     string            `json:"branch,omitempty"`
	Event      string            `json:"event"`
	Reason     string            `json:"reason,omitempty"`
	State      string            `json:"state"`
	Result     string            `json:"result,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
	Variables  map[string]string `json:"variables,omitempty"`
	CreatedAt  time.Time         `json:"createdAt"`
	StartedAt  time.Time         `json:"startedAt,omitzero"`
	FinishedAt time.Time         `json:"finishedAt,omitzero"`
	Tags       []string          `json:"tags,omitempty"`
}

// Record is a timeline record.
type Record struct {
	ID          string            `json:"id"`
	ParentID    string            `json:"parentId,omitempty"`
	Type        string            `json:"type"`
	Name        string            `json:"name"`
	DisplayName string            `json:"displayName,omitempty"`
	Order       int               `json:"order"`
	Attempt     int               `json:"attempt"`
	State       string            `json:"state"`
	Result      string            `json:"result,omitempty"`
	StartedAt   time.Time         `json:"startedAt,omitzero"`
	FinishedAt  time.Time         `json:"finishedAt,omitzero"`
	Outputs     map[string]string `json:"outputs,omitempty"`
	Issues      []struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"issues,omitempty"`
}

// LogLine is one line of a step log.
type LogLine struct {
	N    int64     `json:"n"`
	Time time.Time `json:"time"`
	Text string    `json:"text"`
}

// Log is the log of one record attempt.
type Log struct {
	Record  string    `json:"record"`
	Attempt int       `json:"attempt"`
	Result  string    `json:"result,omitempty"`
	Lines   []LogLine `json:"lines"`
}

// RunFilter selects runs.
type RunFilter struct {
	Pipeline, State string
	Limit           int
}

// ListRuns lists runs, newest first.
func (c *Client) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	q := url.Values{}
	if f.Pipeline != "" {
		q.Set("pipeline", f.Pipeline)
	}
	if f.State != "" {
		q.Set("state", f.State)
	}
	if f.Limit > 0 {
		q.Set("limit", fmt.Sprint(f.Limit))
	}
	path := "/api/v1/runs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []Run
	return out, c.do(ctx, "GET", path, nil, &out)
}

// GetRun returns a run.
func (c *Client) GetRun(ctx context.Context, id string) (Run, error) {
	var out Run
	return out, c.do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(id), nil, &out)
}

// StartRun starts a manual run of pipeline (of repository, when several).
func (c *Client) StartRun(ctx context.Context, repository, pipeline, branch string, vars map[string]string) (Run, error) {
	var out Run
	return out, c.do(ctx, "POST", "/api/v1/runs", map[string]any{"repository": repository, "pipeline": pipeline, "branch": branch, "variables": vars}, &out)
}

// Records returns the run's timeline.
func (c *Client) Records(ctx context.Context, id string) ([]Record, error) {
	var out []Record
	return out, c.do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(id)+"/records", nil, &out)
}

// Logs returns every step log of the run.
func (c *Client) Logs(ctx context.Context, id string) ([]Log, error) {
	var out []Log
	return out, c.do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(id)+"/logs", nil, &out)
}

// Cancel asks the server to cancel a run.
func (c *Client) Cancel(ctx context.Context, id string) (Run, error) {
	var out Run
	return out, c.do(ctx, "POST", "/api/v1/runs/"+url.PathEscape(id)+"/cancel", nil, &out)
}

// Retry starts the run's plan again as a new run.
func (c *Client) Retry(ctx context.Context, id string) (Run, error) {
	var out Run
	return out, c.do(ctx, "POST", "/api/v1/runs/"+url.PathEscape(id)+"/retry", nil, &out)
}

// FollowLog calls fn for each line of a step log from line from, following
// it live (server-sent events) until the log ends or ctx ends. A dropped
// connection, or a server that is stopping or restarting, is resumed after
// the last line received, after a pause that grows from 100 ms to 5 s
// while nothing comes.
func (c *Client) FollowLog(ctx context.Context, runID, record string, from int64, fn func(LogLine) error) error {
	last := from - 1
	pause := 100 * time.Millisecond
	for {
		before := last
		done, err := c.followOnce(ctx, runID, record, &last, fn)
		if done || ctx.Err() != nil {
			return err
		}
		if last != before {
			pause = 100 * time.Millisecond
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, 5*time.Second)
	}
}

func (c *Client) followOnce(ctx context.Context, runID, record string, last *int64, fn func(LogLine) error) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/runs/"+url.PathEscape(runID)+"/logs/"+url.PathEscape(record)+"/stream", nil)
	if err != nil {
		return true, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	if *last >= 0 {
		req.Header.Set("Last-Event-ID", fmt.Sprint(*last))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		// A stopping server: follow again once it is back.
		return resp.StatusCode != http.StatusServiceUnavailable, &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "end" {
				return true, nil
			}
			if event == "line" {
				var l LogLine
				if err := json.Unmarshal([]byte(data), &l); err != nil {
					return true, err
				}
				if err := fn(l); err != nil {
					return true, err
				}
				*last = l.N
			}
			event, data = "", ""
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
	return false, sc.Err()
}

// Approval is an approval as the API shows it.
type Approval struct {
	ID          string
	RunID       string
	Gate        string // the stage (environment checks) or job (ManualValidation) it holds
	Kind        string
	Environment string
	Requester   string
	State       string // pending, approved, rejected, timedOut, canceled
	Release     struct {
		Digests       map[string]string `json:"digests,omitempty"`
		ManifestsHash string            `json:"manifestsHash,omitempty"`
	}
	CreatedAt, ExpiresAt, DecidedAt time.Time
	Decisions                       []struct {
		User, Decision, Comment string
		At                      time.Time
	}
}

// AuditEntry is one entry of the append-only audit log.
type AuditEntry struct {
	Seq     int64
	At      time.Time
	Actor   string
	Action  string // e.g. approval.requested, approval.approved
	RunID   string
	Subject string
	Detail  string
}

// Audit lists the newest audit entries (limit 0: the server's default).
func (c *Client) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	path := "/api/v1/audit"
	if limit > 0 {
		path += "?limit=" + strconv.Itoa(limit)
	}
	var out []AuditEntry
	return out, c.do(ctx, "GET", path, nil, &out)
}

// As returns a client of the same server authenticating with token.
func (c *Client) As(token string) *Client {
	cp := *c
	cp.token = token
	return &cp
}

// ListApprovals lists approvals, optionally of one run and in one state.
func (c *Client) ListApprovals(ctx context.Context, runID, state string) ([]Approval, error) {
	q := url.Values{}
	if runID != "" {
		q.Set("run", runID)
	}
	if state != "" {
		q.Set("state", state)
	}
	var out []Approval
	return out, c.do(ctx, "GET", "/api/v1/approvals?"+q.Encode(), nil, &out)
}

// Decide approves or rejects an approval (decision "approve" or "reject").
func (c *Client) Decide(ctx context.Context, id, decision, comment string) (Approval, error) {
	var out Approval
	return out, c.do(ctx, "POST", "/api/v1/approvals/"+url.PathEscape(id)+"/"+decision, map[string]string{"comment": comment}, &out)
}

// CreateToken creates an API token (admin) and returns its secret.
func (c *Client) CreateToken(ctx context.Context, user, role string) (string, error) {
	var out struct{ Token string }
	return out.Token, c.do(ctx, "POST", "/api/v1/tokens", map[string]string{"user": user, "role": role}, &out)
}

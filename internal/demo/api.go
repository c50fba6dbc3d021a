package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// client speaks the server's REST API (/api/v1) with one token.
type client struct {
	base  string
	token string
	http  *http.Client
}

// run is the part of the API's run view the demo reads.
type run struct {
	ID         string            `json:"id"`
	Number     int64             `json:"number"`
	Pipeline   string            `json:"pipeline"`
	Commit     string            `json:"commit"`
	Branch     string            `json:"branch"`
	Event      string            `json:"event"`
	State      string            `json:"state"`
	Result     string            `json:"result"`
	Variables  map[string]string `json:"variables"`
	CreatedAt  time.Time         `json:"createdAt"`
	StartedAt  time.Time         `json:"startedAt"`
	FinishedAt time.Time         `json:"finishedAt"`
}

// record is the part of a timeline record the demo reads.
type record struct {
	ID         string            `json:"id"`
	ParentID   string            `json:"parentId"`
	Type       string            `json:"type"`
	Name       string            `json:"name"`
	State      string            `json:"state"`
	Result     string            `json:"result"`
	StartedAt  time.Time         `json:"startedAt"`
	FinishedAt time.Time         `json:"finishedAt"`
	Outputs    map[string]string `json:"outputs"`
}

// approval is a pending or decided approval (the store's shape).
type approval struct {
	ID          string
	RunID       string
	Gate        string
	Environment string
	Requester   string
	State       string
	Release     struct {
		Digests map[string]string `json:"digests"`
	}
	CreatedAt time.Time
}

// auditEntry is one line of the audit log.
type auditEntry struct {
	At      time.Time
	Actor   string
	Action  string
	RunID   string
	Subject string
	Detail  string
}

func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
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
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &apiError{Status: resp.StatusCode, Method: method, Path: path, Body: string(bytes.TrimSpace(data))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// apiError is a non-2xx answer.
type apiError struct {
	Status       int
	Method, Path string
	Body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d: %s", e.Method, e.Path, e.Status, e.Body)
}

func (c *client) runs(ctx context.Context) ([]run, error) {
	var out []run
	err := c.do(ctx, http.MethodGet, "/api/v1/runs", nil, &out)
	return out, err
}

func (c *client) records(ctx context.Context, id string) ([]record, error) {
	var out []record
	err := c.do(ctx, http.MethodGet, "/api/v1/runs/"+url.PathEscape(id)+"/records", nil, &out)
	return out, err
}

func (c *client) approvals(ctx context.Context) ([]approval, error) {
	var out []approval
	err := c.do(ctx, http.MethodGet, "/api/v1/approvals", nil, &out)
	return out, err
}

func (c *client) decide(ctx context.Context, id, decision, comment string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/approvals/"+url.PathEscape(id)+"/"+decision, map[string]string{"comment": comment}, nil)
}

func (c *client) audit(ctx context.Context) ([]auditEntry, error) {
	var out []auditEntry
	err := c.do(ctx, http.MethodGet, "/api/v1/audit", nil, &out)
	return out, err
}

func (c *client) createToken(ctx context.Context, user, role string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	err := c.do(ctx, http.MethodPost, "/api/v1/tokens", map[string]string{"user": user, "role": role}, &out)
	return out.Token, err
}

func (c *client) as(token string) *client {
	cc := *c
	cc.token = token
	return &cc
}

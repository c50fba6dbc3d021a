package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"conveyor.dev/conveyor/internal/task"
)

// leaseTokenHeader carries the secret of a lease grant (the server's
// LeaseTokenHeader).
const leaseTokenHeader = "X-Conveyor-Lease-Token"

// HTTPConn speaks the agent protocol to a server's /api/v1/agent endpoints
// with an API token of role agent (or admin).
type HTTPConn struct {
	base   string
	token  string
	client *http.Client
}

var _ Conn = (*HTTPConn)(nil)

// NewHTTPConn returns a connection to the server at baseURL
// (http://host:port) authenticating with token. A nil client means
// http.DefaultClient.
func NewHTTPConn(baseURL, token string, client *http.Client) (*HTTPConn, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host:port", baseURL)
	}
	if token == "" {
		return nil, fmt.Errorf("no API token: pass --token or set CONVEYOR_TOKEN (conveyor token create --role agent)")
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &HTTPConn{base: strings.TrimRight(baseURL, "/"), token: token, client: client}, nil
}

// call POSTs in as JSON to path and decodes a 200 answer into out; it
// returns the status.
func (c *HTTPConn) call(ctx context.Context, path string, t *Ticket, in, out any) (int, error) {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	if t != nil {
		req.Header.Set(leaseTokenHeader, t.Token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusConflict:
		return resp.StatusCode, fmt.Errorf("%s: %w", path, ErrLeaseLost)
	case resp.StatusCode == http.StatusNoContent:
		return resp.StatusCode, nil
	case resp.StatusCode != http.StatusOK:
		var e struct{ Error string }
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return resp.StatusCode, fmt.Errorf("%s: %s: %s", path, resp.Status, e.Error)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s: answer: %w", path, err)
		}
	}
	return resp.StatusCode, nil
}

func leasePath(t Ticket, verb string) string {
	return "/api/v1/agent/leases/" + url.PathEscape(t.Lease) + "/" + verb
}

// Lease asks for a job; ok is false when the server had none (204).
func (c *HTTPConn) Lease(ctx context.Context, req LeaseRequest) (Grant, bool, error) {
	var g Grant
	status, err := c.call(ctx, "/api/v1/agent/lease", nil, req, &g)
	if err != nil {
		if ctx.Err() != nil {
			return Grant{}, false, nil
		}
		return Grant{}, false, err
	}
	return g, status == http.StatusOK, nil
}

// Started reports the job's workspace.
func (c *HTTPConn) Started(ctx context.Context, t Ticket, dirs task.Dirs) error {
	_, err := c.call(ctx, leasePath(t, "started"), &t, dirs, nil)
	return err
}

// Next waits for the next instruction.
func (c *HTTPConn) Next(ctx context.Context, t Ticket) (Instruction, error) {
	var in Instruction
	_, err := c.call(ctx, leasePath(t, "next"), &t, nil, &in)
	return in, err
}

// Report sends a step's events.
func (c *HTTPConn) Report(ctx context.Context, t Ticket, r StepReport) (Reply, error) {
	var rep Reply
	_, err := c.call(ctx, leasePath(t, "report"), &t, r, &rep)
	return rep, err
}

// Heartbeat renews the lease.
func (c *HTTPConn) Heartbeat(ctx context.Context, t Ticket) (Reply, error) {
	var rep Reply
	_, err := c.call(ctx, leasePath(t, "heartbeat"), &t, nil, &rep)
	return rep, err
}

// Closed says the workspace is released.
func (c *HTTPConn) Closed(ctx context.Context, t Ticket, errText string) error {
	_, err := c.call(ctx, leasePath(t, "closed"), &t, struct {
		Error string `json:"error,omitempty"`
	}{errText}, nil)
	return err
}

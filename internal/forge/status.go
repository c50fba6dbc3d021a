package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// State is a commit status state, as GitHub and Gitea name them.
type State string

// The commit status states.
const (
	StatePending State = "pending"
	StateSuccess State = "success"
	StateFailure State = "failure"
	StateError   State = "error"
)

// Status is one commit status.
type Status struct {
	Commit      string // the full commit SHA
	State       State
	Context     string // "conveyor/<pipeline>"; a newer status with the same context replaces the older
	TargetURL   string // where the run can be seen
	Description string
}

// Client sets commit statuses on one forge.
type Client interface {
	// SetStatus creates the status on commit of repo ("owner/name").
	SetStatus(ctx context.Context, repo string, s Status) error
}

// Forge types.
const (
	TypeGitHub = "github"
	TypeGitea  = "gitea"
)

// httpClient is a Client speaking one forge's statuses API.
type httpClient struct {
	kind   string
	base   string // API base URL without a trailing slash
	token  string
	client *http.Client
}

// NewClient returns the Client for a forge of type github or gitea (forgejo
// too) whose API is at apiURL ("" means https://api.github.com for GitHub;
// for Gitea the server's URL, with or without /api/v1), authenticating
// with token. hc may be nil (a client with a 30 s timeout).
func NewClient(kind, apiURL, token string, hc *http.Client) (Client, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	base := strings.TrimSuffix(apiURL, "/")
	switch kind {
	case TypeGitHub:
		if base == "" {
			base = "https://api.github.com"
		}
	case TypeGitea, "forgejo":
		if base == "" {
			return nil, errors.New("gitea forge: url is empty: set the Gitea server's URL")
		}
		if !strings.HasSuffix(base, "/api/v1") {
			base += "/api/v1"
		}
		kind = TypeGitea
	default:
		return nil, fmt.Errorf("forge type %q: want github or gitea", kind)
	}
	if _, err := url.Parse(base); err != nil {
		return nil, fmt.Errorf("%s forge url: %w", kind, err)
	}
	return &httpClient{kind: kind, base: base, token: token, client: hc}, nil
}

// SetStatus implements Client.
func (c *httpClient) SetStatus(ctx context.Context, repo string, s Status) error {
	owner, name, ok := strings.Cut(strings.Trim(repo, "/"), "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("%s status for %q: repository must be owner/name", c.kind, repo)
	}
	if s.Commit == "" {
		return fmt.Errorf("%s status for %s: no commit", c.kind, repo)
	}
	body, err := json.Marshal(map[string]string{
		"state": string(s.State), "target_url": s.TargetURL, "description": truncate(s.Description, 140), "context": s.Context,
	})
	if err != nil {
		return err
	}
	u := fmt.Sprintf("%s/repos/%s/%s/statuses/%s", c.base, url.PathEscape(owner), url.PathEscape(name), url.PathEscape(s.Commit))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s status for %s@%s: %w", c.kind, repo, s.Commit, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		if c.kind == TypeGitHub {
			req.Header.Set("Accept", "application/vnd.github+json")
			req.Header.Set("Authorization", "Bearer "+c.token)
		} else {
			req.Header.Set("Authorization", "token "+c.token)
		}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s status for %s@%s: %w", c.kind, repo, s.Commit, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if resp.StatusCode/100 != 2 {
		hint := ""
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusNotFound {
			hint = ": check the forge token in conveyor.yaml has write access to commit statuses of " + repo
		}
		return fmt.Errorf("%s status for %s@%s: %s: %s%s", c.kind, repo, s.Commit, resp.Status, strings.TrimSpace(string(msg)), hint)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

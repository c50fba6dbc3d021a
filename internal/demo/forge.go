package demo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// forge sends the webhooks a Gitea server would send for the demo's
// repository, signed with the repository's webhook secret.
type forge struct {
	url      string // the server's /webhooks/gitea
	secret   string
	cloneURL string
	client   *http.Client
}

type giteaRepo struct {
	FullName string `json:"full_name"`
	Name     string `json:"name"`
	CloneURL string `json:"clone_url"`
	HTMLURL  string `json:"html_url"`
	Owner    struct {
		Login string `json:"login"`
	} `json:"owner"`
	DefaultBranch string `json:"default_branch"`
}

type giteaUser struct {
	Login    string `json:"login"`
	Username string `json:"username"`
	Email    string `json:"email"`
}

func (f *forge) repository() giteaRepo {
	r := giteaRepo{FullName: "demo/webapp", Name: "webapp", CloneURL: f.cloneURL, HTMLURL: f.cloneURL, DefaultBranch: "main"}
	r.Owner.Login = "demo"
	return r
}

func user(name string) giteaUser {
	return giteaUser{Login: name, Username: name, Email: name + "@example.com"}
}

// pullRequest sends a pull_request event (action opened, synchronized…).
func (f *forge) pullRequest(ctx context.Context, action string, number int, title, branch, head, baseSHA string) error {
	type ref struct {
		Ref  string    `json:"ref"`
		Sha  string    `json:"sha"`
		Repo giteaRepo `json:"repo"`
	}
	payload := map[string]any{
		"action": action,
		"number": number,
		"pull_request": map[string]any{
			"number": number, "title": title, "state": "open", "draft": false,
			"user": user("dev"),
			"head": ref{Ref: branch, Sha: head, Repo: f.repository()},
			"base": ref{Ref: "main", Sha: baseSHA, Repo: f.repository()},
		},
		"repository": f.repository(),
		"sender":     user("dev"),
	}
	return f.send(ctx, "pull_request", payload)
}

// push sends a push event of ref from before to after.
func (f *forge) push(ctx context.Context, ref, before, after, message string, files []string) error {
	payload := map[string]any{
		"ref": ref, "before": before, "after": after,
		"commits": []map[string]any{{
			"id": after, "message": message, "author": user("dev"), "committer": user("dev"),
			"added": []string{}, "removed": []string{}, "modified": files,
		}},
		"head_commit": map[string]any{"id": after, "message": message},
		"repository":  f.repository(),
		"pusher":      user("dev"),
		"sender":      user("dev"),
	}
	return f.send(ctx, "push", payload)
}

func (f *forge) send(ctx context.Context, event string, payload any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte(f.secret))
	mac.Write(body)
	var id [16]byte
	_, _ = rand.Read(id[:])
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gitea-Event", event)
	req.Header.Set("X-Gitea-Event-Type", event)
	req.Header.Set("X-Gitea-Delivery", hex.EncodeToString(id[:]))
	req.Header.Set("X-Gitea-Signature", hex.EncodeToString(mac.Sum(nil)))
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", event, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s: server answered %s: %s", event, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

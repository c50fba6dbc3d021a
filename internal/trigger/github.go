package trigger

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// errUnauthorized is wrapped by every verification failure; the handler
// answers 401 for it.
var errUnauthorized = errors.New("unauthorized")

// checkHMAC verifies a hex HMAC-SHA256 of body under secret.
func checkHMAC(header, got string, body []byte, secret string) error {
	if got == "" {
		return fmt.Errorf("%s missing: %w", header, errUnauthorized)
	}
	sig, err := hex.DecodeString(got)
	if err != nil {
		return fmt.Errorf("%s is not hex: %w", header, errUnauthorized)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return fmt.Errorf("%s does not match the body signed with the repository's webhookSecret: %w", header, errUnauthorized)
	}
	return nil
}

// github reads GitHub webhooks: X-GitHub-Event, X-GitHub-Delivery and
// X-Hub-Signature-256 ("sha256=" + hex HMAC-SHA256 of the body).
type github struct{}

func (github) name() string { return "github" }

func (github) verify(h http.Header, body []byte, secret string) error {
	v := h.Get("X-Hub-Signature-256")
	sig, ok := strings.CutPrefix(v, "sha256=")
	if v != "" && !ok {
		return fmt.Errorf("X-Hub-Signature-256 does not start with sha256=: %w", errUnauthorized)
	}
	return checkHMAC("X-Hub-Signature-256", sig, body, secret)
}

// hubRepo is the repository object of GitHub's and Gitea's payloads.
type hubRepo struct {
	FullName string `json:"full_name"`
	CloneURL string `json:"clone_url"`
	SSHURL   string `json:"ssh_url"`
	HTMLURL  string `json:"html_url"`
	GitURL   string `json:"git_url"`
}

func (r *hubRepo) ref() RepoRef {
	if r == nil {
		return RepoRef{}
	}
	var urls []string
	for _, u := range []string{r.CloneURL, r.SSHURL, r.HTMLURL, r.GitURL} {
		if u != "" {
			urls = append(urls, u)
		}
	}
	return RepoRef{FullName: r.FullName, URLs: urls}
}

type hubUser struct {
	Login    string `json:"login"`
	Name     string `json:"name"`
	Username string `json:"username"`
}

func (u *hubUser) id() string {
	if u == nil {
		return ""
	}
	for _, s := range []string{u.Login, u.Username, u.Name} {
		if s != "" {
			return s
		}
	}
	return ""
}

// hubPush is GitHub's and Gitea's push payload.
type hubPush struct {
	Ref        string          `json:"ref"`
	Before     string          `json:"before"`
	After      string          `json:"after"`
	Commits    []payloadCommit `json:"commits"`
	HeadCommit *payloadCommit  `json:"head_commit"`
	Repository *hubRepo        `json:"repository"`
	Pusher     *hubUser        `json:"pusher"`
	Sender     *hubUser        `json:"sender"`
}

// hubPull is GitHub's and Gitea's pull_request payload.
type hubPull struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest *struct {
		Number int      `json:"number"`
		Title  string   `json:"title"`
		Draft  bool     `json:"draft"`
		Merged bool     `json:"merged"`
		User   *hubUser `json:"user"`
		Head   struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
			SHA string `json:"sha"`
		} `json:"base"`
	} `json:"pull_request"`
	Repository *hubRepo `json:"repository"`
	Sender     *hubUser `json:"sender"`
}

// maxPayloadCommits is how many commits GitHub lists in a push payload at
// most; a push with that many may have more, so git decides the changes.
const maxPayloadCommits = 20

func parseHubPush(provider, delivery string, body []byte) (Event, error) {
	var p hubPush
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, fmt.Errorf("%s push payload: %w", provider, err)
	}
	ev := Event{
		Provider: provider, DeliveryID: delivery, Kind: KindPush,
		Repo: p.Repository.ref(), Ref: p.Ref, Before: p.Before, After: p.After, Commit: p.After,
		Requester: p.Pusher.id(),
	}
	if ev.Requester == "" {
		ev.Requester = p.Sender.id()
	}
	if len(p.Commits) < maxPayloadCommits && !ev.Created() {
		ev.ChangedFiles = changedFromCommits(p.Commits)
	}
	if p.HeadCommit != nil {
		ev.Title = firstLine(p.HeadCommit.Message)
	}
	return ev, nil
}

func parseHubPull(provider, delivery string, body []byte) (Event, error) {
	var p hubPull
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, fmt.Errorf("%s pull_request payload: %w", provider, err)
	}
	if p.PullRequest == nil {
		return Event{}, fmt.Errorf("%s pull_request payload: no pull_request object", provider)
	}
	pr := p.PullRequest
	n := p.Number
	if n == 0 {
		n = pr.Number
	}
	action := p.Action
	switch action {
	case "synchronized": // Gitea
		action = ActionSynchronize
	}
	return Event{
		Provider: provider, DeliveryID: delivery, Kind: KindPullRequest,
		Repo: p.Repository.ref(), Action: action, Number: n, Draft: pr.Draft, Merged: pr.Merged,
		SourceBranch: branchRef(pr.Head.Ref), TargetBranch: branchRef(pr.Base.Ref),
		BaseCommit: pr.Base.SHA, Commit: pr.Head.SHA, Title: pr.Title, Requester: p.Sender.id(),
	}, nil
}

func (g github) parse(h http.Header, body []byte) (Event, error) {
	delivery := h.Get("X-GitHub-Delivery")
	switch kind := h.Get("X-GitHub-Event"); kind {
	case "push":
		return parseHubPush(g.name(), delivery, body)
	case "pull_request":
		return parseHubPull(g.name(), delivery, body)
	case "":
		return Event{}, fmt.Errorf("github delivery: X-GitHub-Event header missing")
	default:
		ev, err := parseRepoOnly(g.name(), delivery, body)
		return ev, err
	}
}

// parseRepoOnly reads only the repository of an event Conveyor ignores
// (ping, issues, …), so its signature can still be checked.
func parseRepoOnly(provider, delivery string, body []byte) (Event, error) {
	var p struct {
		Repository *hubRepo `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, fmt.Errorf("%s payload: %w", provider, err)
	}
	return Event{Provider: provider, DeliveryID: delivery, Repo: p.Repository.ref()}, nil
}

package trigger

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// azureRepos reads Azure Repos service hooks (git.push,
// git.pullrequest.created, git.pullrequest.updated,
// git.pullrequest.merged). Azure signs nothing: the service hook is set up
// with basic authentication whose password is the repository's
// webhookSecret (any user name), or with the HTTP header
// "X-Conveyor-Webhook-Secret: <secret>". The delivery id is the payload's
// event id, which Azure keeps when it retries.
type azureRepos struct{}

func (azureRepos) name() string { return "azure-repos" }

// AzureSecretHeader is the header an Azure Repos service hook may carry the
// shared secret in, instead of basic authentication.
const AzureSecretHeader = "X-Conveyor-Webhook-Secret"

func (azureRepos) verify(h http.Header, body []byte, secret string) error {
	got := h.Get(AzureSecretHeader)
	where := AzureSecretHeader
	if got == "" {
		where = "basic authentication password"
		r := http.Request{Header: h}
		_, pass, ok := r.BasicAuth()
		if !ok {
			return fmt.Errorf("no basic authentication and no %s header: %w", AzureSecretHeader, errUnauthorized)
		}
		got = pass
	}
	// Compare digests so the comparison takes the same time for any length.
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return fmt.Errorf("%s is not the repository's webhookSecret: %w", where, errUnauthorized)
	}
	return nil
}

type azureRepo struct {
	Name      string `json:"name"`
	RemoteURL string `json:"remoteUrl"`
	SSHURL    string `json:"sshUrl"`
	WebURL    string `json:"webUrl"`
	Project   struct {
		Name string `json:"name"`
	} `json:"project"`
}

func (r *azureRepo) ref() RepoRef {
	if r == nil {
		return RepoRef{}
	}
	ref := RepoRef{FullName: r.Name}
	if r.Project.Name != "" {
		ref.FullName = r.Project.Name + "/" + r.Name
	}
	for _, u := range []string{r.RemoteURL, r.SSHURL, r.WebURL} {
		if u != "" {
			ref.URLs = append(ref.URLs, u)
		}
	}
	return ref
}

type azureIdentity struct {
	DisplayName string `json:"displayName"`
	UniqueName  string `json:"uniqueName"`
}

func (i *azureIdentity) id() string {
	if i == nil {
		return ""
	}
	if i.UniqueName != "" {
		return i.UniqueName
	}
	return i.DisplayName
}

type azurePayload struct {
	ID        string `json:"id"`
	EventType string `json:"eventType"`
	Message   struct {
		Text string `json:"text"`
	} `json:"message"`
	Resource struct {
		Repository *azureRepo `json:"repository"`
		// push
		Commits []struct {
			CommitID string `json:"commitId"`
			Comment  string `json:"comment"`
		} `json:"commits"`
		RefUpdates []struct {
			Name        string `json:"name"`
			OldObjectID string `json:"oldObjectId"`
			NewObjectID string `json:"newObjectId"`
		} `json:"refUpdates"`
		PushedBy *azureIdentity `json:"pushedBy"`
		// pull request
		PullRequestID         int            `json:"pullRequestId"`
		Status                string         `json:"status"`
		Title                 string         `json:"title"`
		IsDraft               bool           `json:"isDraft"`
		SourceRefName         string         `json:"sourceRefName"`
		TargetRefName         string         `json:"targetRefName"`
		CreatedBy             *azureIdentity `json:"createdBy"`
		LastMergeSourceCommit *struct {
			CommitID string `json:"commitId"`
		} `json:"lastMergeSourceCommit"`
		LastMergeTargetCommit *struct {
			CommitID string `json:"commitId"`
		} `json:"lastMergeTargetCommit"`
	} `json:"resource"`
}

func (a azureRepos) parse(h http.Header, body []byte) (Event, error) {
	var p azurePayload
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, fmt.Errorf("azure-repos payload: %w", err)
	}
	r := p.Resource
	ev := Event{Provider: a.name(), DeliveryID: p.ID, Repo: r.Repository.ref()}
	switch p.EventType {
	case "git.push":
		if len(r.RefUpdates) == 0 {
			return Event{}, fmt.Errorf("azure-repos git.push payload: no resource.refUpdates")
		}
		// A push event carries one ref update per ref; Conveyor builds the first.
		u := r.RefUpdates[0]
		ev.Kind, ev.Ref, ev.Before, ev.After, ev.Commit = KindPush, u.Name, u.OldObjectID, u.NewObjectID, u.NewObjectID
		ev.Requester = r.PushedBy.id()
		for _, c := range r.Commits {
			if c.CommitID == u.NewObjectID {
				ev.Title = firstLine(c.Comment)
			}
		}
		if ev.Title == "" && len(r.Commits) > 0 {
			ev.Title = firstLine(r.Commits[0].Comment)
		}
	case "git.pullrequest.created", "git.pullrequest.updated", "git.pullrequest.merged":
		ev.Kind = KindPullRequest
		ev.Number, ev.Title, ev.Draft = r.PullRequestID, r.Title, r.IsDraft
		ev.SourceBranch, ev.TargetBranch = branchRef(r.SourceRefName), branchRef(r.TargetRefName)
		ev.Requester = r.CreatedBy.id()
		if r.LastMergeSourceCommit != nil {
			ev.Commit = r.LastMergeSourceCommit.CommitID
		}
		if r.LastMergeTargetCommit != nil {
			ev.BaseCommit = r.LastMergeTargetCommit.CommitID
		}
		switch {
		case r.Status == "completed" || r.Status == "abandoned" || p.EventType == "git.pullrequest.merged":
			ev.Action, ev.Merged = ActionClosed, r.Status == "completed"
		case p.EventType == "git.pullrequest.created":
			ev.Action = ActionOpened
		case p.Message.Text == "" || strings.Contains(p.Message.Text, "source branch"):
			ev.Action = ActionSynchronize
		default:
			ev.Action = "edited"
		}
	}
	return ev, nil
}

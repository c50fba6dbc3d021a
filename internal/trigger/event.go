package trigger

import (
	"strings"
)

// Event kinds: what a forge reported, normalised across providers.
const (
	KindPush        = "push"
	KindPullRequest = "pull_request"
)

// Pull request actions, normalised across providers.
const (
	ActionOpened      = "opened"
	ActionSynchronize = "synchronize"
	ActionReopened    = "reopened"
	ActionClosed      = "closed"
)

// Event is one repository event, normalised from a provider's payload (or
// found by polling).
type Event struct {
	Provider   string // github, gitea, azure-repos or poll
	DeliveryID string // the provider's delivery id; "" when it has none
	Kind       string // KindPush or KindPullRequest; "" for events Conveyor ignores
	// Repo names the repository as the provider knows it.
	Repo RepoRef
	// Push
	Ref    string // refs/heads/… or refs/tags/…
	Before string // the ref's commit before the push; all zeros when created
	After  string // the ref's commit after the push; all zeros when deleted
	// ChangedFiles lists the paths the push changed, from the payload; nil
	// when the payload does not say (then git tells).
	ChangedFiles []string
	// Pull request
	Action       string // one of the Action* constants, or the provider's own word
	Number       int
	Draft        bool
	Merged       bool
	SourceBranch string // refs/heads/…
	TargetBranch string // refs/heads/…
	BaseCommit   string // the target branch's commit the PR is based on, when known
	// Both
	Commit    string // the commit to build: After for a push, the PR head
	Title     string // head commit's first line, or the PR title
	Requester string // who pushed or acted
}

// RepoRef names a repository as a forge's payload does: a full name
// ("owner/repo") and clone URLs.
type RepoRef struct {
	FullName string
	URLs     []string
}

// Deleted reports whether the push deleted its ref.
func (e Event) Deleted() bool { return isZeroSHA(e.After) }

// Created reports whether the push created its ref.
func (e Event) Created() bool { return isZeroSHA(e.Before) }

func isZeroSHA(s string) bool {
	return s == "" || strings.Trim(s, "0") == ""
}

// firstLine is the first line of a commit message.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}

// branchRef makes a branch name a full ref.
func branchRef(b string) string {
	if b == "" || strings.HasPrefix(b, "refs/") {
		return b
	}
	return "refs/heads/" + b
}

// changedFromCommits merges the added, removed and modified paths of a
// push's commits; nil when the payload lists no commits.
func changedFromCommits(commits []payloadCommit) []string {
	if len(commits) == 0 {
		return nil
	}
	seen := map[string]bool{}
	out := []string{}
	for _, c := range commits {
		for _, l := range [][]string{c.Added, c.Removed, c.Modified} {
			for _, p := range l {
				if !seen[p] {
					seen[p] = true
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// payloadCommit is a commit in GitHub's and Gitea's push payloads.
type payloadCommit struct {
	ID       string   `json:"id"`
	Message  string   `json:"message"`
	Added    []string `json:"added"`
	Removed  []string `json:"removed"`
	Modified []string `json:"modified"`
}

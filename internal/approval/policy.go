package approval

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"conveyor.dev/conveyor/internal/store"
)

// Errors a decision can be refused with; Decide wraps them with the
// approval, the user and what to do.
var (
	// ErrNotApprover: the user is neither an approver nor in an approver group.
	ErrNotApprover = errors.New("not an approver")
	// ErrRequesterCannotApprove: the policy forbids who asked for the run to approve it.
	ErrRequesterCannotApprove = errors.New("the requester cannot approve")
	// ErrAlreadyDecided: the approval is no longer pending, or this user already decided it.
	ErrAlreadyDecided = errors.New("already decided")
	// ErrDigestChanged: the run's image digests or manifests changed since the approval was asked.
	ErrDigestChanged = errors.New("digest changed")
	// ErrBadDecision: the decision is neither approve nor reject.
	ErrBadDecision = errors.New("bad decision")
)

// The onTimeout behaviors.
const (
	OnTimeoutReject = "reject"
	OnTimeoutResume = "resume"
)

// Checks are the checks of one environment, evaluated in Azure's order:
// branch control (and other checks), then approvals, then the exclusive
// lock last.
type Checks struct {
	Approvals     *Approvals
	BranchControl *BranchControl
	ExclusiveLock *ExclusiveLock
}

// Approvals is an environment's approval check.
type Approvals struct {
	// Approvers are user names or group names; a user in a listed group may
	// approve.
	Approvers              []string
	MinApprovers           int
	RequesterCannotApprove bool
	Instructions           string
	Timeout                time.Duration
	// OnTimeout is reject (default) or resume.
	OnTimeout string
}

// BranchControl lets only the listed branches deploy.
type BranchControl struct {
	// AllowedBranches are full refs or patterns: refs/heads/main,
	// refs/heads/release/*, or * for every branch.
	AllowedBranches []string
}

// ExclusiveLock lets one run at a time use the environment.
type ExclusiveLock struct {
	// LockBehavior is sequential (default: runs go in the order they asked)
	// or runLatest (a newer run cancels the older waiting ones).
	LockBehavior string
}

// Policy returns the stored policy of an environment's approval check.
func (a Approvals) Policy() store.ApprovalPolicy {
	return store.ApprovalPolicy{Approvers: a.Approvers, MinApprovers: a.MinApprovers, RequesterCannotApprove: a.RequesterCannotApprove,
		Instructions: a.Instructions, Timeout: a.Timeout, OnTimeout: a.OnTimeout}
}

// Users maps a user name to the groups the user belongs to (conveyor.yaml
// users).
type Users map[string][]string

// CanDecide reports whether user may decide an approval with policy p that
// requester asked for: nil, or an error wrapping ErrNotApprover or
// ErrRequesterCannotApprove.
func CanDecide(p store.ApprovalPolicy, requester, user string, users Users) error {
	if strings.TrimSpace(user) == "" {
		return fmt.Errorf("no user given: %w", ErrNotApprover)
	}
	if p.RequesterCannotApprove && strings.EqualFold(user, requester) {
		return fmt.Errorf("%s asked for this run and the policy says the requester cannot approve it: ask another approver (%s): %w",
			user, orAnyone(p.Approvers), ErrRequesterCannotApprove)
	}
	if len(p.Approvers) == 0 {
		return nil
	}
	names := append([]string{user}, users[user]...)
	for _, a := range p.Approvers {
		for _, n := range names {
			if strings.EqualFold(a, n) {
				return nil
			}
		}
	}
	return fmt.Errorf("%s is not one of the approvers (%s) nor in one of their groups: %w", user, orAnyone(p.Approvers), ErrNotApprover)
}

func orAnyone(approvers []string) string {
	if len(approvers) == 0 {
		return "anyone"
	}
	return strings.Join(approvers, ", ")
}

// Status is the answer of a check.
type Status string

// The answers of a check.
const (
	Pending Status = "pending"
	Passed  Status = "passed"
	Failed  Status = "failed"
	// Canceled: the check will never pass (a newer run superseded this one).
	Canceled Status = "canceled"
)

// Verdict is what a check says now: passed, failed (with a message for
// the user), or pending — ask again after RetryAfter (0: on the next
// change only).
type Verdict struct {
	Status     Status
	Message    string
	RetryAfter time.Duration
}

// Tally returns the state an approval reaches given its decisions and the
// time: rejected on any rejection, approved once enough distinct users
// approved, timed out at ExpiresAt, else pending. A final state is kept.
func Tally(a store.Approval, now time.Time) store.ApprovalState {
	if a.State != store.ApprovalPending && a.State != "" {
		return a.State
	}
	var approvers []string
	for _, d := range a.Decisions {
		switch d.Decision {
		case store.DecisionReject:
			return store.ApprovalRejected
		case store.DecisionApprove:
			if !slices.ContainsFunc(approvers, func(u string) bool { return strings.EqualFold(u, d.User) }) {
				approvers = append(approvers, d.User)
			}
		}
	}
	if len(approvers) >= max(1, a.Policy.MinApprovers) {
		return store.ApprovalApproved
	}
	if !a.ExpiresAt.IsZero() && !now.Before(a.ExpiresAt) {
		return store.ApprovalTimedOut
	}
	return store.ApprovalPending
}

// Judge turns an approval into a check verdict at time now; poll bounds the
// RetryAfter of a pending approval (0: no bound) so that decisions made by
// another process are seen.
func Judge(a store.Approval, now time.Time, poll time.Duration) Verdict {
	what := describe(a)
	switch Tally(a, now) {
	case store.ApprovalApproved:
		return Verdict{Status: Passed, Message: what + " approved by " + deciders(a, store.DecisionApprove)}
	case store.ApprovalRejected:
		return Verdict{Status: Failed, Message: what + " rejected by " + deciders(a, store.DecisionReject) + comments(a)}
	case store.ApprovalTimedOut:
		if a.Policy.OnTimeout == OnTimeoutResume {
			return Verdict{Status: Passed, Message: fmt.Sprintf("%s timed out after %v and resumed (onTimeout: resume)", what, a.Policy.Timeout)}
		}
		return Verdict{Status: Failed, Message: fmt.Sprintf("%s timed out after %v and was rejected (onTimeout: reject)", what, a.Policy.Timeout)}
	case store.ApprovalCanceled:
		return Verdict{Status: Canceled, Message: what + " was canceled"}
	}
	v := Verdict{Status: Pending, RetryAfter: poll,
		Message: fmt.Sprintf("%s waits for %d approval(s) from %s: approve with conveyor approve %s", what, max(1, a.Policy.MinApprovers), orAnyone(a.Policy.Approvers), a.RunID)}
	if !a.ExpiresAt.IsZero() {
		if left := a.ExpiresAt.Sub(now); v.RetryAfter == 0 || left < v.RetryAfter {
			v.RetryAfter = left
		}
	}
	return v
}

func describe(a store.Approval) string {
	if a.Kind == store.ApprovalKindManualValidation {
		return "manual validation " + a.Gate
	}
	return fmt.Sprintf("approval of environment %s for %s", a.Environment, a.Gate)
}

func deciders(a store.Approval, decision string) string {
	var us []string
	for _, d := range a.Decisions {
		if d.Decision == decision && !slices.Contains(us, d.User) {
			us = append(us, d.User)
		}
	}
	return strings.Join(us, ", ")
}

func comments(a store.Approval) string {
	var cs []string
	for _, d := range a.Decisions {
		if d.Decision == store.DecisionReject && d.Comment != "" {
			cs = append(cs, d.User+": "+d.Comment)
		}
	}
	if len(cs) == 0 {
		return ""
	}
	return " (" + strings.Join(cs, "; ") + ")"
}

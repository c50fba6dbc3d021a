package server

import (
	"context"
	"errors"
	"fmt"

	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/store"
)

// approvalChecks turns conveyor.yaml's environments into the engine's
// checks.
func approvalChecks(c *config.Config) map[string]approval.Checks {
	out := map[string]approval.Checks{}
	for name, e := range c.Environments {
		var ch approval.Checks
		if a := e.Checks.Approvals; a != nil {
			ch.Approvals = &approval.Approvals{Approvers: a.Approvers, MinApprovers: a.MinApprovers,
				RequesterCannotApprove: a.RequesterCannotApprove, Instructions: a.Instructions, Timeout: a.Timeout, OnTimeout: a.OnTimeout}
		}
		if b := e.Checks.BranchControl; b != nil {
			ch.BranchControl = &approval.BranchControl{AllowedBranches: b.AllowedBranches}
		}
		if l := e.Checks.ExclusiveLock; l != nil {
			ch.ExclusiveLock = &approval.ExclusiveLock{LockBehavior: l.LockBehavior}
		}
		out[name] = ch
	}
	return out
}

// approvalUsers are conveyor.yaml's users with their groups.
func approvalUsers(c *config.Config) approval.Users {
	u := approval.Users{}
	for name, user := range c.Users {
		u[name] = user.Groups
	}
	return u
}

// approvalAPI adapts approval.Service to the API's Approvals.
type approvalAPI struct {
	svc *approval.Service
}

func (a approvalAPI) ListApprovals(ctx context.Context, state, runID string) ([]store.Approval, error) {
	return a.svc.List(ctx, store.ApprovalFilter{RunID: runID, State: store.ApprovalState(state)})
}

func (a approvalAPI) Decide(ctx context.Context, id, user, decision, comment string) (store.Approval, error) {
	out, err := a.svc.Decide(ctx, id, user, decision, comment)
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, approval.ErrNotApprover), errors.Is(err, approval.ErrRequesterCannotApprove):
		return store.Approval{}, fmt.Errorf("%w: %w", ErrForbidden, err)
	case errors.Is(err, approval.ErrAlreadyDecided), errors.Is(err, approval.ErrDigestChanged):
		return store.Approval{}, fmt.Errorf("%w: %w", ErrConflict, err)
	case errors.Is(err, approval.ErrBadDecision):
		return store.Approval{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return store.Approval{}, err
}

func (a approvalAPI) Audit(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	return a.svc.Audit(ctx, store.AuditFilter{Limit: limit})
}

// storeDeployments reads deployments from the store.
type storeDeployments struct {
	st interface {
		ListDeployments(ctx context.Context, f store.DeploymentFilter) ([]store.Deployment, error)
	}
}

func (d storeDeployments) ListDeployments(ctx context.Context, environment string) ([]store.Deployment, error) {
	return d.st.ListDeployments(ctx, store.DeploymentFilter{Environment: environment})
}

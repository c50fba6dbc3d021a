package approval

import (
	"time"

	"conveyor.dev/conveyor/internal/config"
)

// DefaultTimeout is how long an environment approval waits when
// conveyor.yaml gives no timeout (30 days, as Azure).
const DefaultTimeout = 30 * 24 * time.Hour

// EnvironmentsOf returns the checks of every environment of cfg that has
// any, by name, for engine.WithEnvironments.
func EnvironmentsOf(cfg *config.Config) map[string]Checks {
	out := map[string]Checks{}
	if cfg == nil {
		return out
	}
	for name, env := range cfg.Environments {
		c := ChecksOf(env.Checks)
		if c.Approvals != nil || c.BranchControl != nil || c.ExclusiveLock != nil {
			out[name] = c
		}
	}
	return out
}

// ChecksOf converts an environment's checks from conveyor.yaml.
func ChecksOf(c config.Checks) Checks {
	var out Checks
	if a := c.Approvals; a != nil {
		out.Approvals = &Approvals{Approvers: a.Approvers, MinApprovers: a.MinApprovers, RequesterCannotApprove: a.RequesterCannotApprove,
			Instructions: a.Instructions, Timeout: a.Timeout, OnTimeout: a.OnTimeout}
		if out.Approvals.Timeout == 0 {
			out.Approvals.Timeout = DefaultTimeout
		}
	}
	if b := c.BranchControl; b != nil {
		out.BranchControl = &BranchControl{AllowedBranches: b.AllowedBranches}
	}
	if l := c.ExclusiveLock; l != nil {
		out.ExclusiveLock = &ExclusiveLock{LockBehavior: l.LockBehavior}
	}
	return out
}

// UsersOf returns the users of cfg with their groups, for WithUsers.
func UsersOf(cfg *config.Config) Users {
	out := Users{}
	if cfg == nil {
		return out
	}
	for name, u := range cfg.Users {
		out[name] = u.Groups
	}
	return out
}

package approval_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/config"
)

func TestEnvironmentsOf(t *testing.T) {
	cfg := &config.Config{
		Environments: map[string]config.Environment{
			"staging": {Namespace: "staging"},
			"production": {Checks: config.Checks{
				Approvals:     &config.Approvals{Approvers: []string{"ops-lead", "release-team"}, MinApprovers: 1, RequesterCannotApprove: true, OnTimeout: "reject"},
				BranchControl: &config.BranchControl{AllowedBranches: []string{"refs/heads/main"}},
				ExclusiveLock: &config.ExclusiveLock{LockBehavior: "runLatest"},
			}},
		},
		Users: map[string]config.User{"bob": {Role: "approver", Groups: []string{"release-team"}}},
	}
	want := map[string]approval.Checks{"production": {
		Approvals: &approval.Approvals{Approvers: []string{"ops-lead", "release-team"}, MinApprovers: 1, RequesterCannotApprove: true,
			OnTimeout: "reject", Timeout: 30 * 24 * time.Hour},
		BranchControl: &approval.BranchControl{AllowedBranches: []string{"refs/heads/main"}},
		ExclusiveLock: &approval.ExclusiveLock{LockBehavior: "runLatest"},
	}}
	if diff := cmp.Diff(want, approval.EnvironmentsOf(cfg)); diff != "" {
		t.Errorf("EnvironmentsOf (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(approval.Users{"bob": {"release-team"}}, approval.UsersOf(cfg)); diff != "" {
		t.Errorf("UsersOf (-want +got):\n%s", diff)
	}
}

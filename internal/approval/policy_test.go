package approval_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/store"
)

func TestCanDecide(t *testing.T) {
	users := approval.Users{"bob": {"release-team"}, "carol": nil, "alice": {"release-team"}}
	p := store.ApprovalPolicy{Approvers: []string{"ops-lead", "release-team"}, RequesterCannotApprove: true}
	for _, tc := range []struct {
		name, user string
		policy     store.ApprovalPolicy
		want       error
	}{
		{"listed user", "ops-lead", p, nil},
		{"via group", "bob", p, nil},
		{"case-insensitive", "OPS-LEAD", p, nil},
		{"not listed", "carol", p, approval.ErrNotApprover},
		{"requester", "alice", p, approval.ErrRequesterCannotApprove},
		{"requester allowed", "alice", store.ApprovalPolicy{Approvers: []string{"release-team"}}, nil},
		{"anyone", "carol", store.ApprovalPolicy{}, nil},
		{"no user", "", store.ApprovalPolicy{}, approval.ErrNotApprover},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := approval.CanDecide(tc.policy, "alice", tc.user, users)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("CanDecide(%s) = %v, want %v", tc.user, err, tc.want)
			}
		})
	}
}

func TestTally(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	approve := func(u string) store.ApprovalDecision {
		return store.ApprovalDecision{User: u, Decision: store.DecisionApprove}
	}
	for _, tc := range []struct {
		name string
		a    store.Approval
		now  time.Time
		want store.ApprovalState
	}{
		{"none yet", store.Approval{State: store.ApprovalPending}, t0, store.ApprovalPending},
		{"one of one", store.Approval{State: store.ApprovalPending, Decisions: []store.ApprovalDecision{approve("bob")}}, t0, store.ApprovalApproved},
		{"one of two", store.Approval{State: store.ApprovalPending, Policy: store.ApprovalPolicy{MinApprovers: 2}, Decisions: []store.ApprovalDecision{approve("bob")}}, t0, store.ApprovalPending},
		{"same user twice", store.Approval{State: store.ApprovalPending, Policy: store.ApprovalPolicy{MinApprovers: 2}, Decisions: []store.ApprovalDecision{approve("bob"), approve("Bob")}}, t0, store.ApprovalPending},
		{"two of two", store.Approval{State: store.ApprovalPending, Policy: store.ApprovalPolicy{MinApprovers: 2}, Decisions: []store.ApprovalDecision{approve("bob"), approve("ops")}}, t0, store.ApprovalApproved},
		{"reject wins", store.Approval{State: store.ApprovalPending, Policy: store.ApprovalPolicy{MinApprovers: 2}, Decisions: []store.ApprovalDecision{approve("bob"), {User: "x", Decision: store.DecisionReject}}}, t0, store.ApprovalRejected},
		{"expired", store.Approval{State: store.ApprovalPending, ExpiresAt: t0}, t0, store.ApprovalTimedOut},
		{"not yet expired", store.Approval{State: store.ApprovalPending, ExpiresAt: t0.Add(time.Second)}, t0, store.ApprovalPending},
		{"final kept", store.Approval{State: store.ApprovalRejected}, t0, store.ApprovalRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := approval.Tally(tc.a, tc.now); got != tc.want {
				t.Errorf("Tally = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestJudgeTimeout(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := store.Approval{State: store.ApprovalPending, Environment: "prod", Gate: "Deploy", ExpiresAt: t0.Add(30 * time.Minute),
		Policy: store.ApprovalPolicy{Timeout: 30 * time.Minute}}
	if v := approval.Judge(a, t0, 5*time.Second); v.Status != approval.Pending || v.RetryAfter != 5*time.Second {
		t.Errorf("pending with poll: %+v", v)
	}
	if v := approval.Judge(a, t0, 0); v.Status != approval.Pending || v.RetryAfter != 30*time.Minute {
		t.Errorf("pending without poll: %+v", v)
	}
	if v := approval.Judge(a, t0.Add(time.Hour), 0); v.Status != approval.Failed {
		t.Errorf("timed out, reject: %+v", v)
	}
	a.Policy.OnTimeout = approval.OnTimeoutResume
	if v := approval.Judge(a, t0.Add(time.Hour), 0); v.Status != approval.Passed {
		t.Errorf("timed out, resume: %+v", v)
	}
}

func TestBranchAllowed(t *testing.T) {
	allowed := []string{"refs/heads/main", "refs/heads/release/*", "hotfix-*"}
	for branch, want := range map[string]bool{
		"main": true, "refs/heads/main": true, "refs/heads/release/1.2": true, "release/1.2/rc": true,
		"hotfix-7": true, "feature/x": false, "refs/heads/mainline": false, "": false, "refs/tags/v1": false,
	} {
		if got := approval.BranchAllowed(allowed, branch); got != want {
			t.Errorf("BranchAllowed(%q) = %v, want %v", branch, got, want)
		}
	}
	if !approval.BranchAllowed([]string{"*"}, "refs/heads/anything") {
		t.Error("* should allow every branch")
	}
	err := approval.CheckBranch("production", approval.BranchControl{AllowedBranches: allowed}, "feature/x")
	want := "environment production: branch refs/heads/feature/x may not deploy here: the allowed branches are refs/heads/main, refs/heads/release/*, hotfix-* (environments.production.checks.branchControl.allowedBranches in conveyor.yaml): deploy from one of them"
	if err == nil || err.Error() != want {
		t.Errorf("CheckBranch error:\n got %v\nwant %s", err, want)
	}
}

func TestReleaseOf(t *testing.T) {
	const pinned = "reg:5000/webapp@sha256:a02adbf8ec7c74bda279cbf1d5da2516dabbce34075507f7cdee5dd4ef70ddd2"
	recs := []store.Record{
		{ID: "Build.Push", Type: store.RecordJob, Attempt: 1, Outputs: map[string]string{"push.imageDigest": "sha256:old", "push.tag": "v1"}},
		{ID: "Build.Push", Type: store.RecordJob, Attempt: 2, Outputs: map[string]string{"push.imageDigest": "sha256:aa", "push.tag": "v1"}},
		{ID: "Build.Render", Type: store.RecordJob, Attempt: 1, Outputs: map[string]string{"render.manifestsHash": "sha256:mm"}},
		{ID: "Stage.Deploy", Type: store.RecordJob, Attempt: 1, Outputs: map[string]string{
			"Deploy.release.image": pinned, "Deploy.release.tagged": "reg:5000/webapp:7", "Deploy.release.two": pinned + "," + pinned}},
		{ID: "Build.Push.push", Type: store.RecordStep, Attempt: 1, Outputs: map[string]string{"x.digest": "ignored"}},
	}
	got := approval.ReleaseOf(map[string]string{"base.digest": "sha256:bb", "other": "x"}, recs)
	want := store.Release{Digests: map[string]string{"Build.Push.push.imageDigest": "sha256:aa", "base.digest": "sha256:bb",
		"Stage.Deploy.Deploy.release.image": pinned}, ManifestsHash: "sha256:mm"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReleaseOf (-want +got):\n%s", diff)
	}
	cur := want
	cur.Digests = map[string]string{"Build.Push.push.imageDigest": "sha256:cc", "new.digest": "sha256:dd", "Stage.Deploy.Deploy.release.image": pinned}
	if diff := cmp.Diff([]string{
		"Build.Push.push.imageDigest changed from sha256:aa to sha256:cc",
		"base.digest was sha256:bb and is gone",
	}, approval.ReleaseChanges(want, cur)); diff != "" {
		t.Errorf("ReleaseChanges (-want +got):\n%s", diff)
	}
	if ch := approval.ReleaseChanges(want, want); len(ch) != 0 {
		t.Errorf("no change: %v", ch)
	}
}

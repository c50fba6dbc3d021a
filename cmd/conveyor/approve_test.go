package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"conveyor.dev/conveyor/internal/approval"
	"conveyor.dev/conveyor/internal/store"
)

func TestApproveAndReject(t *testing.T) {
	data := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(data, "conveyor.db"))
	if err != nil {
		t.Fatal(err)
	}
	mk := func() store.Run {
		r := store.Run{Pipeline: "cd", State: store.StateWaiting, Owner: store.LocalOwner()}
		if err := st.CreateRun(t.Context(), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	waiting, idle := mk(), mk()
	svc, err := approval.NewService(st)
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.Request(t.Context(), approval.Request{RunID: waiting.ID, Gate: "Deploy", Kind: store.ApprovalKindEnvironment,
		Environment: "production", Requester: "alice", Policy: store.ApprovalPolicy{Approvers: []string{"release-team"}, RequesterCannotApprove: true}})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	cfg := filepath.Join(t.TempDir(), "conveyor.yaml")
	if err := os.WriteFile(cfg, []byte("users:\n  bob: {role: approver, groups: [release-team]}\n  alice: {role: approver, groups: [release-team]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"requester", []string{"approve", waiting.ID, "--user", "alice"}, exitBadUser, "the requester cannot approve"},
		{"stranger", []string{"approve", waiting.ID, "--user", "carol"}, exitBadUser, "not an approver"},
		{"unknown stage", []string{"approve", waiting.ID, "--user", "bob", "--stage", "Test"}, exitBadUser, "no pending approval for Test"},
		{"nothing to approve", []string{"approve", idle.ID, "--user", "bob"}, exitBadUser, "waits on no approval"},
		{"approver via group", []string{"approve", waiting.ID, "--user", "bob", "--stage", "deploy", "--comment", "ship it"}, exitOK, "it is approved"},
		{"already decided", []string{"reject", waiting.ID, "--user", "bob"}, exitBadUser, "no approval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := execute(t, append(tc.args, "--data", data, "--config", cfg)...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d; output %q, want it to contain %q", code, tc.code, out, tc.want)
			}
		})
	}
	st, err = store.Open(context.Background(), filepath.Join(data, "conveyor.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.GetApproval(t.Context(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.ApprovalApproved || len(got.Decisions) != 1 || got.Decisions[0].User != "bob" || got.Decisions[0].Comment != "ship it" {
		t.Errorf("approval %+v", got)
	}
	audit, err := st.ListAudit(t.Context(), store.AuditFilter{RunID: waiting.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Actor+" "+e.Action)
	}
	if want := "conveyor approval.requested,alice approval.refused,carol approval.refused,bob approval.approve,conveyor approval.approved"; strings.Join(actions, ",") != want {
		t.Errorf("audit %v, want %s", actions, want)
	}
}

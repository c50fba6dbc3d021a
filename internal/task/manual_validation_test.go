package task_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/task"
)

func TestParseManualValidation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		inputs  map[string]string
		want    task.ManualValidation
		wantErr bool
	}{
		{"defaults", map[string]string{"notifyUsers": "bob"},
			task.ManualValidation{NotifyUsers: []string{"bob"}, AllowApproversToApproveTheirOwnRuns: true, OnTimeout: "reject"}, false},
		{"all", map[string]string{"notifyUsers": "a@x, b@x", "approvers": "ops;release-team\ncarol", "instructions": "check it",
			"allowApproversToApproveTheirOwnRuns": "False", "onTimeout": "Resume"},
			task.ManualValidation{NotifyUsers: []string{"a@x", "b@x"}, Approvers: []string{"ops", "release-team", "carol"},
				Instructions: "check it", OnTimeout: "resume"}, false},
		{"notify no one", map[string]string{"NOTIFYUSERS": ""},
			task.ManualValidation{AllowApproversToApproveTheirOwnRuns: true, OnTimeout: "reject"}, false},
		{"notifyUsers missing", map[string]string{"approvers": "ops"}, task.ManualValidation{}, true},
		{"bad onTimeout", map[string]string{"notifyUsers": "", "onTimeout": "later"}, task.ManualValidation{}, true},
		{"bad bool", map[string]string{"notifyUsers": "", "allowApproversToApproveTheirOwnRuns": "perhaps"}, task.ManualValidation{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := task.ParseManualValidation(tc.inputs)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if !task.Known("ManualValidation@0") || !task.Known("ManualValidation@1") || !task.Agentless("manualvalidation@1") {
		t.Error("ManualValidation@0/1 should be known, agentless tasks")
	}
}

package engine

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/store"
)

func TestGraphStatus(t *testing.T) {
	results := map[string]store.Result{
		"ok": store.ResultSucceeded, "issues": store.ResultSucceededWithIssues, "bad": store.ResultFailed,
		"skip": store.ResultSkipped, "stop": store.ResultCanceled,
	}
	tests := []struct {
		name     string
		all      []string
		canceled bool
		fn       string
		args     []string
		want     string
	}{
		{name: "always", fn: "always", canceled: true, want: "true"},
		{name: "canceled run", fn: "canceled", canceled: true, want: "true"},
		{name: "not canceled", fn: "Canceled", want: "false"},
		{name: "succeeded all", fn: "succeeded", all: []string{"ok", "issues"}, want: "true"},
		{name: "succeeded none", fn: "succeeded", want: "true"},
		{name: "succeeded one failed", fn: "succeeded", all: []string{"ok", "bad"}, want: "false"},
		{name: "succeeded skipped", fn: "succeeded", all: []string{"skip"}, want: "false"},
		{name: "succeeded canceled run", fn: "succeeded", all: []string{"ok"}, canceled: true, want: "false"},
		{name: "succeeded named in canceled run", fn: "succeeded", args: []string{"OK"}, canceled: true, want: "false"}, // "False if the pipeline is canceled",
		{name: "failed any", fn: "failed", all: []string{"ok", "bad"}, want: "true"},
		{name: "failed none", fn: "failed", want: "false"},
		{name: "failed not", fn: "failed", all: []string{"ok", "skip"}, want: "false"},
		{name: "failed named", fn: "failed", all: []string{"ok"}, args: []string{"bad"}, want: "true"},
		{name: "failed canceled run", fn: "failed", all: []string{"bad"}, canceled: true, want: "false"},
		{name: "succeededOrFailed", fn: "succeededOrFailed", all: []string{"ok", "bad", "issues"}, want: "true"},
		{name: "succeededOrFailed skipped", fn: "succeededorfailed", all: []string{"ok", "skip"}, want: "false"},
		{name: "succeededOrFailed stopped", fn: "succeededOrFailed", all: []string{"stop"}, want: "false"},
		{name: "succeededOrFailed canceled run", fn: "succeededOrFailed", all: []string{"ok"}, canceled: true, want: "false"},
		{name: "unknown dependency", fn: "succeeded", args: []string{"nope"}, want: "error: succeeded('nope'): nope is not a dependency: add it to dependsOn"},
		{name: "unknown dependency after a failure", fn: "failed", args: []string{"bad", "nope"}, want: "true"},
		{name: "unknown function", fn: "sometimes", canceled: true, want: "error: unknown status function sometimes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := &graphStatus{results: results, all: tc.all, canceled: tc.canceled}
			ok, err := g.status(tc.fn, tc.args)
			got := fmt.Sprint(ok)
			if err != nil {
				got = "error: " + err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s(%q) (-want +got):\n%s", tc.fn, tc.args, diff)
			}
		})
	}
}

package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line string
		want Command
		ok   bool
	}{
		{"##vso[task.setvariable variable=x;isOutput=true;issecret=true;isreadonly=true]value",
			Command{Area: "task", Action: "setvariable", Properties: map[string]string{"variable": "x", "isoutput": "true", "issecret": "true", "isreadonly": "true"}, Data: "value"}, true},
		{"  ##vso[task.setsecret]v", Command{Area: "task", Action: "setsecret", Properties: map[string]string{}, Data: "v"}, true},
		{"##vso[task.logissue type=error;sourcepath=src/a.go;linenumber=12;]bad thing",
			Command{Area: "task", Action: "logissue", Properties: map[string]string{"type": "error", "sourcepath": "src/a.go", "linenumber": "12"}, Data: "bad thing"}, true},
		{"##vso[task.complete result=SucceededWithIssues;]done",
			Command{Area: "task", Action: "complete", Properties: map[string]string{"result": "SucceededWithIssues"}, Data: "done"}, true},
		{"##vso[task.prependpath]/opt/tool/bin", Command{Area: "task", Action: "prependpath", Properties: map[string]string{}, Data: "/opt/tool/bin"}, true},
		{"##vso[build.addbuildtag]release", Command{Area: "build", Action: "addbuildtag", Properties: map[string]string{}, Data: "release"}, true},
		{"##vso[task.uploadsummary]/tmp/s.md", Command{Area: "task", Action: "uploadsummary", Properties: map[string]string{}, Data: "/tmp/s.md"}, true},
		{"##vso[task.setvariable variable=a%3Bb]x%0Ay%25z%5D", Command{Area: "task", Action: "setvariable", Properties: map[string]string{"variable": "a;b"}, Data: "x\ny%z]"}, true},
		{"##vso[TASK.SetVariable Variable=x]", Command{Area: "task", Action: "setvariable", Properties: map[string]string{"variable": "x"}}, true},
		{"echo ##vso[task.setvariable variable=x]1", Command{}, false},
		{"##vso[task.setvariable variable=x", Command{}, false},
		{"##vso[nodot]x", Command{}, false},
		{"plain output", Command{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, ok := ParseCommand(tt.line)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); ok && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		line string
		want Format
		ok   bool
	}{
		{"##[group]Build", Format{"group", "Build"}, true},
		{"##[endgroup]", Format{"endgroup", ""}, true},
		{"##[warning]careful", Format{"warning", "careful"}, true},
		{"##[error]broken", Format{"error", "broken"}, true},
		{"##[section]Starting", Format{"section", "Starting"}, true},
		{"##[command]git fetch", Format{"command", "git fetch"}, true},
		{"##[unknown]x", Format{}, false},
		{"text ##[error]x", Format{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, ok := ParseFormat(tt.line)
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParseFormat(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestExpandMacros(t *testing.T) {
	vars := map[string]string{"a": "1", "b.c": "2", "Build.BuildId": "7"}
	lookup := func(n string) (string, bool) {
		for k, v := range vars {
			if k == n || (len(k) == len(n) && EnvName(k) == EnvName(n)) {
				return v, true
			}
		}
		return "", false
	}
	tests := map[string]string{
		"$(a)-$(b.c)":         "1-2",
		"$(unknown) stays":    "$(unknown) stays",
		"$(build.buildid)":    "7",
		"$(a":                 "$(a",
		"$(a b)$(x$(a))":      "$(a b)$(x1)", // the agent rescans after an unknown "$("
		"$(cat $(b.c)/f)":     "$(cat 2/f)",
		"no macros":           "no macros",
		"$[ runtime ] $(a)":   "$[ runtime ] 1",
		"$(echo hi | tr a b)": "$(echo hi | tr a b)",
	}
	for in, want := range tests {
		if got := expandMacros(in, lookup); got != want {
			t.Errorf("expandMacros(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{"Build.SourcesDirectory": "BUILD_SOURCESDIRECTORY", "my var": "MY_VAR", "step.out": "STEP_OUT"} {
		if got := EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

package pipeline

import (
	"testing"

	"conveyor.dev/conveyor/internal/plan"
)

func TestMatchTrigger(t *testing.T) {
	no := false
	tests := []struct {
		name string
		f    *plan.Filter
		ev   TriggerEvent
		want bool
	}{
		{"default matches any branch", nil, TriggerEvent{Ref: "feature/x"}, true},
		{"default ignores tags", nil, TriggerEvent{Ref: "refs/tags/v1"}, false},
		{"none", &plan.Filter{None: true}, TriggerEvent{Ref: "main"}, false},
		{"exact short", &plan.Filter{BranchesInclude: []string{"main"}}, TriggerEvent{Ref: "refs/heads/main"}, true},
		{"exact full pattern", &plan.Filter{BranchesInclude: []string{"refs/heads/main"}}, TriggerEvent{Ref: "main"}, true},
		{"other branch", &plan.Filter{BranchesInclude: []string{"main"}}, TriggerEvent{Ref: "dev"}, false},
		{"no partial name", &plan.Filter{BranchesInclude: []string{"main"}}, TriggerEvent{Ref: "maintenance"}, false},
		{"prefix folder", &plan.Filter{BranchesInclude: []string{"releases"}}, TriggerEvent{Ref: "releases/1.0"}, true},
		{"wildcard", &plan.Filter{BranchesInclude: []string{"releases/*"}}, TriggerEvent{Ref: "refs/heads/releases/2.0"}, true},
		{"wildcard nested", &plan.Filter{BranchesInclude: []string{"feature/*"}}, TriggerEvent{Ref: "feature/a/b"}, true},
		{"wildcard mid", &plan.Filter{BranchesInclude: []string{"rel*-x"}}, TriggerEvent{Ref: "release-x"}, true},
		{"question mark", &plan.Filter{BranchesInclude: []string{"v?"}}, TriggerEvent{Ref: "v1"}, true},
		{"star all", &plan.Filter{BranchesInclude: []string{"*"}}, TriggerEvent{Ref: "anything/here"}, true},
		{"exclude wins", &plan.Filter{BranchesInclude: []string{"releases/*"}, BranchesExclude: []string{"releases/old*"}}, TriggerEvent{Ref: "releases/old-1"}, false},
		{"exclude only", &plan.Filter{BranchesExclude: []string{"dev"}}, TriggerEvent{Ref: "main"}, true},
		{"exclude only excluded", &plan.Filter{BranchesExclude: []string{"dev"}}, TriggerEvent{Ref: "dev"}, false},
		{"tag include", &plan.Filter{TagsInclude: []string{"v2.*"}}, TriggerEvent{Ref: "refs/tags/v2.1"}, true},
		{"tag not included", &plan.Filter{TagsInclude: []string{"v2.*"}}, TriggerEvent{Ref: "refs/tags/v3.0"}, false},
		{"tag filter only: branches do not trigger", &plan.Filter{TagsInclude: []string{"v*"}}, TriggerEvent{Ref: "main"}, false},
		{"tag exclude", &plan.Filter{TagsInclude: []string{"*"}, TagsExclude: []string{"v1*"}}, TriggerEvent{Ref: "refs/tags/v1.2"}, false},
		{"tag via branches", &plan.Filter{BranchesInclude: []string{"refs/tags/v*"}}, TriggerEvent{Ref: "refs/tags/v1"}, true},
		{"branch filter does not take tags", &plan.Filter{BranchesInclude: []string{"main"}}, TriggerEvent{Ref: "refs/tags/v1"}, false},
		{"path include", &plan.Filter{BranchesInclude: []string{"main"}, PathsInclude: []string{"docs"}}, TriggerEvent{Ref: "main", ChangedFiles: []string{"docs/readme.md"}}, true},
		{"path include miss", &plan.Filter{BranchesInclude: []string{"main"}, PathsInclude: []string{"docs"}}, TriggerEvent{Ref: "main", ChangedFiles: []string{"src/a.go"}}, false},
		{"path exclude all", &plan.Filter{PathsExclude: []string{"docs/*"}}, TriggerEvent{Ref: "main", ChangedFiles: []string{"docs/a.md", "docs/b.md"}}, false},
		{"path exclude some", &plan.Filter{PathsExclude: []string{"docs"}}, TriggerEvent{Ref: "main", ChangedFiles: []string{"docs/a.md", "main.go"}}, true},
		{"path case sensitive", &plan.Filter{PathsInclude: []string{"Docs"}}, TriggerEvent{Ref: "main", ChangedFiles: []string{"docs/a.md"}}, false},
		{"path wildcard", &plan.Filter{PathsInclude: []string{"src/*.go"}}, TriggerEvent{Ref: "main", ChangedFiles: []string{"src/x/y.go"}}, true},
		{"deeper include wins", &plan.Filter{PathsInclude: []string{"tools/trigger-runs-on-these"}, PathsExclude: []string{"tools"}}, TriggerEvent{Ref: "main", ChangedFiles: []string{"tools/trigger-runs-on-these/a.sh"}}, true},
		{"deeper exclude wins", &plan.Filter{PathsInclude: []string{"src"}, PathsExclude: []string{"src/docs"}}, TriggerEvent{Ref: "main", ChangedFiles: []string{"src/docs/a.md"}}, false},
		{"paths unknown", &plan.Filter{PathsInclude: []string{"docs"}}, TriggerEvent{Ref: "main"}, true},
		{"draft excluded", &plan.Filter{Drafts: &no}, TriggerEvent{Ref: "main", PR: true, Draft: true}, false},
		{"draft default", &plan.Filter{}, TriggerEvent{Ref: "main", PR: true, Draft: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchTrigger(tt.f, tt.ev); got != tt.want {
				t.Errorf("MatchTrigger(%+v, %+v) = %v, want %v", tt.f, tt.ev, got, tt.want)
			}
		})
	}
}

func TestMatchPipelineTrigger(t *testing.T) {
	tests := []struct {
		name string
		f    *plan.Filter
		run  PipelineRun
		want bool
	}{
		{"no trigger", nil, PipelineRun{Branch: "main"}, false},
		{"trigger: true", &plan.Filter{}, PipelineRun{Branch: "feature/x"}, true},
		{"branch included", &plan.Filter{BranchesInclude: []string{"main", "releases/*"}}, PipelineRun{Branch: "refs/heads/releases/1"}, true},
		{"branch excluded", &plan.Filter{BranchesInclude: []string{"*"}, BranchesExclude: []string{"features/experimental/*"}}, PipelineRun{Branch: "features/experimental/a"}, false},
		{"branch not included", &plan.Filter{BranchesInclude: []string{"main"}}, PipelineRun{Branch: "develop"}, false},
		{"stages completed", &plan.Filter{StagesInclude: []string{"PreProduction", "Production"}}, PipelineRun{Branch: "main", Stages: []string{"Build", "PreProduction", "Production"}}, true},
		{"stage missing", &plan.Filter{StagesInclude: []string{"PreProduction", "Production"}}, PipelineRun{Branch: "main", Stages: []string{"PreProduction"}}, false},
		{"tags all present", &plan.Filter{TagsInclude: []string{"Verified", "Signed"}}, PipelineRun{Branch: "main", Tags: []string{"signed", "verified"}}, true},
		{"tag missing", &plan.Filter{TagsInclude: []string{"Verified", "Signed"}}, PipelineRun{Branch: "main", Tags: []string{"Verified"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchPipelineTrigger(tt.f, tt.run); got != tt.want {
				t.Errorf("MatchPipelineTrigger = %v, want %v", got, tt.want)
			}
		})
	}
}

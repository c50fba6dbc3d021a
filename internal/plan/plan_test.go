package plan

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestJSONRoundTrip checks that a plan survives JSON, the form the store
// keeps and `conveyor plan --output json` prints.
func TestJSONRoundTrip(t *testing.T) {
	yes := true
	p := Plan{
		File:      "azure-pipelines.yml",
		Variables: []Variable{{Name: "a", Value: "$[ counter('x', 0) ]", Pos: Pos{File: "f", Line: 1, Col: 2}}},
		Triggers:  Triggers{CI: &Filter{BranchesInclude: []string{"main"}, AutoCancel: &yes}},
		Stages: []Stage{{
			Name:      "Deploy",
			DependsOn: []string{"Build"},
			Trigger:   "manual",
			Jobs: []Job{{
				Name:        "web",
				Kind:        KindDeployment,
				DependsOn:   []string{},
				Environment: &Environment{Name: "prod", ResourceName: "web"},
				Strategy:    "canary",
				Hooks: []Hook{
					{Name: HookDeploy, Increment: 10, Steps: []Step{{Kind: StepTask, Task: "KubernetesManifest@1", Enabled: true}}},
					{Name: HookOnSuccess, Steps: []Step{{Kind: StepCheckout, Checkout: &Checkout{Repository: "self"}, Enabled: true}}},
				},
				Expansion: &Expansion{Job: "web", Leg: "a", Position: 1, Total: 2},
			}},
		}},
		Warnings: []Warning{{Msg: "m"}},
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got Plan
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, got) {
		t.Errorf("round trip changed the plan:\nwant %+v\ngot  %+v", p, got)
	}
}

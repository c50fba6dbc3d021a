package engine_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/engine"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/secret"
	"conveyor.dev/conveyor/internal/secret/vault"
	"conveyor.dev/conveyor/internal/store"
)

// oneVault serves one embedded vault under every name.
type oneVault struct{ p vault.Provider }

func (o oneVault) Vault(context.Context, string) (vault.Provider, error) { return o.p, nil }

func TestVariableGroups(t *testing.T) {
	e, err := vault.Open(t.TempDir(), bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	const dbPass = "group-secret-Zq81-value"
	if _, err := e.Set(t.Context(), "db-password", []byte(dbPass)); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.VariableGroups = map[string]config.VariableGroup{
		"shared": {Secrets: []string{"db-password"}, Variables: map[string]string{"region": "eu", "tier": "gold", "owner": "group"}},
		"broken": {Secrets: []string{"no-such-secret"}},
	}
	h := newHarness(t, engine.WithVariableGroups(secret.NewGroups(cfg, oneVault{e})))

	t.Run("variables and secrets", func(t *testing.T) {
		p := single(job("j",
			plan.Step{Kind: plan.StepTask, Name: "show", Task: "CmdLine@2", Enabled: true,
				Inputs: map[string]string{"script": "echo region=$(region) tier=$(tier) owner=$(owner) env=$REGION; echo pass=$(db-password) env=[$DB_PASSWORD]; echo mapped=$MAPPED"},
				Env:    map[string]string{"MAPPED": "$(db-password)"}},
		))
		p.Variables = []plan.Variable{
			{Name: "tier", Value: "silver"}, // before the group: the group wins
			{Group: "shared"},
			{Name: "owner", Value: "pipeline"}, // after the group: wins
		}
		out, recs := h.run(p)
		if out.Result != store.ResultSucceeded {
			t.Fatalf("result %s: %+v", out.Result, recs["__default.j"].Issues)
		}
		got := h.log(out.RunID, "__default.j.show", 1)
		want := []string{"region=eu tier=gold owner=pipeline env=eu", "pass=*** env=[]", "mapped=***"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("log (-want +got):\n%s", diff)
		}
	})
	t.Run("queue-time variables win", func(t *testing.T) {
		p := single(job("j", script("show", "echo region=$(region)")))
		p.Variables = []plan.Variable{{Group: "shared"}}
		in := h.input()
		in.Variables = map[string]string{"REGION": "us"}
		out, _ := h.runCtx(t.Context(), p, in)
		if got := h.log(out.RunID, "__default.j.show", 1); !slices.Equal(got, []string{"region=us"}) {
			t.Errorf("log %q, want region=us", got)
		}
	})
	t.Run("a group that cannot be resolved fails the job", func(t *testing.T) {
		for _, g := range []string{"broken", "undefined"} {
			p := single(job("j", script("show", "echo ran")))
			p.Stages[0].Jobs[0].Variables = []plan.Variable{{Group: g}}
			out, recs := h.run(p)
			if out.Result != store.ResultFailed {
				t.Fatalf("group %s: result %s, want failed", g, out.Result)
			}
			if recs["__default.j.show"].Result != store.ResultSkipped {
				t.Errorf("group %s: step result %s, want skipped", g, recs["__default.j.show"].Result)
			}
			issues := recs["__default.j"].Issues
			if len(issues) == 0 || !strings.Contains(issues[0].Message, "variable group "+g) {
				t.Errorf("group %s: issues %+v, want one naming the group", g, issues)
			}
		}
	})
}

func TestVariableGroupWithoutResolver(t *testing.T) {
	h := newHarness(t)
	p := single(job("j", script("show", "echo ran")))
	p.Variables = []plan.Variable{{Group: "shared"}}
	out, recs := h.run(p)
	if out.Result != store.ResultSucceededWithIssues && out.Result != store.ResultSucceeded {
		t.Fatalf("result %s", out.Result)
	}
	issues := recs["__default.j"].Issues
	if len(issues) != 1 || issues[0].Type != store.IssueWarning || !strings.Contains(issues[0].Message, "variable group shared is not available") {
		t.Errorf("issues %+v, want a warning", issues)
	}
}

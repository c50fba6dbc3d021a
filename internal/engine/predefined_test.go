package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

// TestBuildNumberRev follows "Run and build numbers": $(Rev:r) starts at 1,
// goes up by one while the rest of the build number stays the same, and
// restarts when another part changes; more r's pad with zeros and
// $(Rev:.r) puts a dot before it.
func TestBuildNumberRev(t *testing.T) {
	h := newHarness(t)
	for i, tc := range []struct{ name, want string }{
		{"1.0.$(Rev:r)", "1.0.1"},
		{"1.0.$(Rev:r)", "1.0.2"},
		{"1.1.$(Rev:r)", "1.1.1"},
		{"1.0.$(Rev:r)", "1.0.3"},
		{"v$(Rev:rr)", "v01"},
		{"v$(Rev:rr)", "v02"},
		{"$(Build.DefinitionName)_$(SourceBranchName)$(Rev:.r)", "test_main.1"},
		{"$(Build.DefinitionName)_$(SourceBranchName)$(Rev:.r)", "test_main.2"},
	} {
		p := single(job("J", script("s", "echo $(Build.BuildNumber) $BUILD_BUILDNUMBER")))
		p.Name = tc.name
		out, recs := h.run(p)
		if out.Result != store.ResultSucceeded {
			t.Fatalf("run %d: result %s, records %+v", i, out.Result, recs)
		}
		if diff := cmp.Diff([]string{tc.want + " " + tc.want}, h.log(out.RunID, "__default.J.s", 1)); diff != "" {
			t.Errorf("run %d name %q: build number (-want +got):\n%s", i, tc.name, diff)
		}
	}
}

// TestBuildNumberTokens checks the unpadded time tokens of the documented
// token table ($(Month) is 8, $(Minutes) 7) against the run's own start.
func TestBuildNumberTokens(t *testing.T) {
	h := newHarness(t)
	p := single(job("J", script("s", "echo $(Build.BuildNumber)")))
	p.Name = "$(Year:yyyy)-$(Month)-$(DayOfMonth)-$(Hours)-$(Minutes)-$(Seconds)-$(DayOfYear)-$(Build.BuildId)-$(TeamProject)-$(myVar)"
	p.Variables = append(p.Variables, plan.Variable{Name: "myVar", Value: "mine"})
	out, recs := h.run(p)
	if out.Result != store.ResultSucceeded {
		t.Fatalf("result %s, records %+v", out.Result, recs)
	}
	start := recs["__default"].StartedAt // at or after the run's creation, in the same second or later
	got := h.log(out.RunID, "__default.J.s", 1)
	if len(got) != 1 {
		t.Fatalf("log %q", got)
	}
	var y, mo, d, hh, mi, s, yd, id int
	var rest string
	if _, err := fmt.Sscanf(strings.ReplaceAll(got[0], "-", " "), "%d %d %d %d %d %d %d %d %s", &y, &mo, &d, &hh, &mi, &s, &yd, &id, &rest); err != nil {
		t.Fatalf("build number %q: %v", got[0], err)
	}
	near := func(loc *time.Location) bool {
		created := time.Date(y, time.Month(mo), d, hh, mi, s, 0, loc)
		return !created.After(start) && start.Sub(created) < time.Minute && created.YearDay() == yd
	}
	if !near(time.UTC) && !near(time.Local) {
		t.Errorf("build number %q does not match the run's start %v", got[0], start)
	}
	for _, part := range strings.Split(got[0], "-")[1:6] {
		if len(part) > 1 && part[0] == '0' {
			t.Errorf("build number %q: %q is zero-padded", got[0], part)
		}
	}
	if id != 1 || !strings.HasSuffix(got[0], "-repo-mine") {
		t.Errorf("build number %q, want ...-1-repo-mine", got[0])
	}
}

// TestTFBuild: "Use predefined variables" says TF_BUILD is True in the
// environment of scripts a pipeline runs.
func TestTFBuild(t *testing.T) {
	h := newHarness(t)
	out, recs := h.run(single(job("J", script("s", "echo TF_BUILD=$TF_BUILD"))))
	if out.Result != store.ResultSucceeded {
		t.Fatalf("result %s, records %+v", out.Result, recs)
	}
	if diff := cmp.Diff([]string{"TF_BUILD=True"}, h.log(out.RunID, "__default.J.s", 1)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// TestDeploymentOutputNames follows "Deployment jobs", "Support for output
// variables": a runOnce job's outputs are read as <job>.<step>.<var>, with
// an environment resource also as Deploy_<resource>.<step>.<var>, and a
// canary or rolling hook's as <hook>_<increment>.<step>.<var>.
func TestDeploymentOutputNames(t *testing.T) {
	h := newHarness(t)
	set := script("setvarStep", "echo '##vso[task.setvariable variable=myOutputVar;isOutput=true]'$(Strategy.CycleName)-$(Environment.ResourceName)")
	once := plan.Job{Name: "A", Kind: plan.KindDeployment, Strategy: "runOnce",
		Environment: &plan.Environment{Name: "vmtest", ResourceName: "vmsfortesting", ResourceType: "VirtualMachine"},
		Hooks:       []plan.Hook{{Name: plan.HookDeploy, Steps: []plan.Step{set}}}}
	canary := plan.Job{Name: "C", Kind: plan.KindDeployment, Strategy: "canary", Environment: &plan.Environment{Name: "staging"},
		Hooks: []plan.Hook{{Name: plan.HookDeploy, Increment: 10, Steps: []plan.Step{set}}}}
	b := job("B", script("show", "echo $(byJob) $(byResource) $(byIncrement)"))
	b.DependsOn = []string{"A", "C"}
	b.Variables = []plan.Variable{
		{Name: "byJob", Value: "$[ dependencies.A.outputs['A.setvarStep.myOutputVar'] ]"},
		{Name: "byResource", Value: "$[ dependencies.A.outputs['Deploy_vmsfortesting.setvarStep.myOutputVar'] ]"},
		{Name: "byIncrement", Value: "$[ dependencies.C.outputs['Deploy_10.setvarStep.myOutputVar'] ]"},
	}
	out, recs := h.run(single(once, canary, b))
	if out.Result != store.ResultSucceeded {
		t.Fatalf("result %s, records %+v", out.Result, recs)
	}
	want := []string{"Iteration-vmsfortesting Iteration-vmsfortesting Iteration-"}
	if diff := cmp.Diff(want, h.log(out.RunID, "__default.B.show", 1)); diff != "" {
		t.Errorf("outputs read by B (-want +got):\n%s", diff)
	}
}

// TestReservedVariablePrefixes: "Define variables" says variables whose
// names start with endpoint, input, secret, path or securefile (in any
// case) are not available to scripts; others map to upper-case names with
// '.' as '_'.
func TestReservedVariablePrefixes(t *testing.T) {
	h := newHarness(t)
	p := single(job("J", script("s", `echo "[$PATHTOFILE][$SECRETWORD][$ENDPOINT_URL][$INPUTX][$SECUREFILENAME] [$MYPATH][$MY_DOTTED_NAME] $(pathToFile)"`)))
	for _, n := range []string{"pathToFile", "SecretWord", "Endpoint.Url", "inputX", "secureFileName", "myPath", "my.dotted.name"} {
		p.Variables = append(p.Variables, plan.Variable{Name: n, Value: "v"})
	}
	out, recs := h.run(p)
	if out.Result != store.ResultSucceeded {
		t.Fatalf("result %s, records %+v", out.Result, recs)
	}
	if diff := cmp.Diff([]string{"[][][][][] [v][v] v"}, h.log(out.RunID, "__default.J.s", 1)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// TestPipelineStartTime follows the documented counter and format
// examples: pipeline.startTime is a date-time in runtime expressions and
// conditions.
func TestPipelineStartTime(t *testing.T) {
	h := newHarness(t)
	s := script("s", "echo $(daily) $(day)")
	s.Condition = "ne(format('{0:yyyy}', pipeline.startTime), '')"
	p := single(job("J", s))
	p.Variables = []plan.Variable{
		{Name: "daily", Value: "$[counter(format('{0:yyyyMMdd}', pipeline.startTime), 100)]"},
		{Name: "day", Value: "$[ format('{0:yyyyMMdd}', pipeline.startTime) ]"},
	}
	for _, want := range []string{"100", "101"} {
		out, recs := h.run(p)
		if out.Result != store.ResultSucceeded {
			t.Fatalf("result %s, records %+v", out.Result, recs)
		}
		start := recs["__default"].StartedAt
		got := h.log(out.RunID, "__default.J.s", 1)
		if len(got) != 1 || (got[0] != want+" "+start.UTC().Format("20060102") && got[0] != want+" "+start.Local().Format("20060102")) {
			t.Errorf("log %q, want %q", got, want+" "+start.Format("20060102"))
		}
	}
}

// TestSourceVersionMessage: Build.SourceVersionMessage is the commit
// message's first line, at most 200 characters.
func TestSourceVersionMessage(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ msg, want string }{
		{"Fix the thing\n\nLonger body.", "Fix the thing"},
		{strings.Repeat("x", 250), strings.Repeat("x", 200)},
	} {
		in := h.input()
		in.CommitMessage = tc.msg
		out, recs := h.runCtx(t.Context(), single(job("J", script("s", "echo \"$BUILD_SOURCEVERSIONMESSAGE\""))), in)
		if out.Result != store.ResultSucceeded {
			t.Fatalf("result %s, records %+v", out.Result, recs)
		}
		if diff := cmp.Diff([]string{tc.want}, h.log(out.RunID, "__default.J.s", 1)); diff != "" {
			t.Errorf("message %.20q (-want +got):\n%s", tc.msg, diff)
		}
	}
}

// TestManualStage: "Stages" says a stage with trigger: manual does not run
// with the pipeline; a stage that depends on it is skipped, others run.
func TestManualStage(t *testing.T) {
	h := newHarness(t)
	p := &plan.Plan{File: "p.yml", Stages: []plan.Stage{
		{Name: "A", Jobs: []plan.Job{job("J", script("s", "true"))}},
		{Name: "B", DependsOn: []string{"A"}, Trigger: "manual", Jobs: []plan.Job{job("J", script("s", "true"))}},
		{Name: "C", DependsOn: []string{"B"}, Jobs: []plan.Job{job("J", script("s", "true"))}},
		{Name: "D", DependsOn: []string{"A"}, Jobs: []plan.Job{job("J", script("s", "true"))}},
	}}
	out, recs := h.run(p)
	want := map[string]store.Result{"A": store.ResultSucceeded, "B": store.ResultSkipped, "B.J": store.ResultSkipped,
		"C": store.ResultSkipped, "D": store.ResultSucceeded}
	if diff := cmp.Diff(want, results(recs, "A", "B", "B.J", "C", "D")); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if out.Result != store.ResultSucceeded {
		t.Errorf("run result %s", out.Result)
	}
	if r := recs["B"]; r.WarningCount != 1 || len(r.Issues) != 1 || !strings.Contains(r.Issues[0].Message, "trigger: manual") {
		t.Errorf("stage B record: %+v", r)
	}
}

// TestQueueVariablesReadOnly: queue-time variables (--var) are read-only,
// as "Use variables and parameters securely" documents: a step's
// task.setvariable cannot change one, and says why.
func TestQueueVariablesReadOnly(t *testing.T) {
	h := newHarness(t)
	p := single(job("J",
		script("set", "echo '##vso[task.setvariable variable=target]changed'"),
		script("show", "echo $(target) $TARGET")))
	in := h.input()
	in.Variables = map[string]string{"target": "queued"}
	out, recs := h.runCtx(t.Context(), p, in)
	if out.Result != store.ResultSucceeded && out.Result != store.ResultSucceededWithIssues {
		t.Fatalf("result %s, records %+v", out.Result, recs)
	}
	if diff := cmp.Diff([]string{"queued queued"}, h.log(out.RunID, "__default.J.show", 1)); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	var said bool
	for _, is := range recs["__default.J.set"].Issues {
		said = said || strings.Contains(is.Message, "read-only")
	}
	if !said {
		t.Errorf("the set step's issues %+v do not say the variable is read-only", recs["__default.J.set"].Issues)
	}
}

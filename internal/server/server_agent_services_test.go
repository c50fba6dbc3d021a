package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/agent"
	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/plan"
	"conveyor.dev/conveyor/internal/store"
)

func TestRouteToServices(t *testing.T) {
	docker := []plan.Step{{Kind: plan.StepTask, Task: "Docker@2"}}
	script := []plan.Step{{Kind: plan.StepTask, Task: "CmdLine@2"}}
	p := &plan.Plan{Stages: []plan.Stage{
		{Name: "Build", Jobs: []plan.Job{
			{Name: "Image", Steps: docker},
			{Name: "Test", Steps: script},
			{Name: "Linux", Pool: &plan.Pool{Name: "p", Demands: []string{"Agent.OS -equals Linux"}}, Steps: docker},
			{Name: "Remote", Pool: &plan.Pool{Demands: []string{"gpu"}}, Steps: docker},
			{Name: "Gate", Pool: &plan.Pool{Server: true}},
		}},
		{Name: "Deploy", Pool: &plan.Pool{Demands: []string{"Agent.OS"}}, Jobs: []plan.Job{
			{Name: "Prod", Hooks: []plan.Hook{{Name: "deploy", Steps: []plan.Step{{Kind: plan.StepTask, Task: "KubernetesManifest@1"}}}}},
		}},
	}}
	builtin := []map[string]string{{"Agent.Name": "builtin-1", "Agent.OS": "Linux", ServicesCapability: "yes"}}
	routeToServices(p, builtin)
	got := map[string]*plan.Pool{}
	for _, st := range p.Stages {
		for _, j := range st.Jobs {
			got[st.Name+"."+j.Name] = j.Pool
		}
	}
	want := map[string]*plan.Pool{
		"Build.Image":  {Demands: []string{ServicesCapability}},
		"Build.Test":   nil,
		"Build.Linux":  {Name: "p", Demands: []string{"Agent.OS -equals Linux", ServicesCapability}},
		"Build.Remote": {Demands: []string{"gpu"}}, // only remote agents meet it: refused at lease
		"Build.Gate":   {Server: true},
		"Deploy.Prod":  {Demands: []string{"Agent.OS", ServicesCapability}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pools (-want +got):\n%s", diff)
	}
	if d := p.Stages[1].Pool.Demands; len(d) != 1 {
		t.Errorf("the stage's pool changed: %v", d)
	}
}

const keyVaultJob = `
pool:
  demands: [%s]
steps:
- checkout: none
- task: AzureKeyVault@2
  inputs: {azureSubscription: kv, KeyVaultName: default, SecretsFilter: '*'}
`

// TestRemoteAgentsDoNotRunServiceTasks: a job using AzureKeyVault@2 goes
// to a built-in agent, though a remote agent claiming the services
// capability waits too; a job that only a remote agent may take fails at
// once with an error naming the task and what remote agents lack.
func TestRemoteAgentsDoNotRunServiceTasks(t *testing.T) {
	repo := gitRepo(t, map[string]string{
		"any.yml":    strings.Replace(keyVaultJob, "demands: [%s]", "demands: [Agent.OS]", 1),
		"remote.yml": strings.Replace(keyVaultJob, "%s", "remote", 1),
	})
	app, ends := testServer(t, []config.Repository{{Name: "webapp", URL: repo, Pipelines: map[string]string{"any": "any.yml", "remote": "remote.yml"}}}, nil)
	httpAgent(t, app, "remote-1", nil, agent.WithCapabilities(map[string]string{"remote": "yes", ServicesCapability: "yes"}))

	var run RunView
	if st := api(t, app, app.AdminToken, "POST", "/api/v1/runs", map[string]any{"pipeline": "any"}, &run); st != http.StatusCreated {
		t.Fatalf("POST runs: %d", st)
	}
	ends.wait(t, run.ID)
	var leases []LeaseView
	api(t, app, app.AdminToken, "GET", "/api/v1/leases", nil, &leases)
	if len(leases) != 1 || !strings.HasPrefix(leases[0].Agent, "builtin-") {
		t.Errorf("leases = %+v, want the job on a built-in agent", leases)
	}

	if st := api(t, app, app.AdminToken, "POST", "/api/v1/runs", map[string]any{"pipeline": "remote"}, &run); st != http.StatusCreated {
		t.Fatalf("POST runs: %d", st)
	}
	if end := ends.wait(t, run.ID); end.Result != store.ResultFailed {
		t.Fatalf("run on a remote agent = %s, want failed", end.Result)
	}
	var recs []RecordView
	api(t, app, app.AdminToken, "GET", "/api/v1/runs/"+run.ID+"/records", nil, &recs)
	var msgs []string
	for _, r := range recs {
		if r.Type == store.RecordJob {
			for _, is := range r.Issues {
				msgs = append(msgs, is.Message)
			}
		}
	}
	text := strings.Join(msgs, "\n")
	for _, want := range []string{"uses AzureKeyVault@2", "remote agents (conveyor agent) do not have them", "built-in agent"} {
		if !strings.Contains(text, want) {
			t.Errorf("job issues %q lack %q", text, want)
		}
	}
}

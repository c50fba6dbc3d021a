package server

import (
	"encoding/json"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/store"
)

const helloPipeline = `
trigger: [main]
steps:
- script: |
    echo hello
    echo from $(Build.Repository.Name)
    echo done
  displayName: Say hello
`

func TestManualRunThroughTheAPI(t *testing.T) {
	repo := gitRepo(t, map[string]string{"azure-pipelines.yml": helloPipeline})
	app, ends := testServer(t, []config.Repository{{Name: "webapp", URL: repo, Pipelines: map[string]string{"ci": "azure-pipelines.yml"}}}, nil)
	token := app.AdminToken

	asked := time.Now()
	var run RunView
	if st := api(t, app, token, "POST", "/api/v1/runs", map[string]any{"pipeline": "ci"}, &run); st != http.StatusCreated {
		t.Fatalf("POST /api/v1/runs: %d", st)
	}
	first := ends.firstStepAt(t, run.ID)
	t.Logf("trigger → first step: %v", first.Sub(asked))
	if run.Pipeline != "ci" || run.Event != store.EventManual || len(run.Commit) != 40 {
		t.Errorf("run = %+v, want a manual run of ci at a full commit", run)
	}

	// The step's log, followed live until it ends.
	var recs []RecordView
	for {
		// The step record exists once the job started; wait for the end
		// of the run if needed (no sleeping: the observer says when).
		if api(t, app, token, "GET", "/api/v1/runs/"+run.ID+"/records", nil, &recs) != http.StatusOK {
			t.Fatal("GET records")
		}
		if stepID(recs, "Say hello") != "" {
			break
		}
		ends.firstStepAt(t, run.ID)
	}
	step := stepID(recs, "Say hello")
	path := "/api/v1/runs/" + run.ID + "/logs/" + step + "/stream"
	evs := readSSE(t, app, token, path, "")
	got := sseTexts(t, evs)
	var body []string
	for _, l := range got {
		if !strings.HasPrefix(l, "##[") {
			body = append(body, l)
		}
	}
	if diff := cmp.Diff([]string{"hello", "from webapp", "done"}, body); diff != "" {
		t.Errorf("streamed lines (-want +got):\n%s", diff)
	}
	// Reconnecting with Last-Event-ID resumes after that line.
	resumed := sseTexts(t, readSSE(t, app, token, path, "0"))
	if diff := cmp.Diff(got[1:], resumed); diff != "" {
		t.Errorf("lines after Last-Event-ID 0 (-want +got):\n%s", diff)
	}

	end := ends.wait(t, run.ID)
	if end.Result != store.ResultSucceeded {
		t.Errorf("run result = %s, want succeeded", end.Result)
	}
	var again RunView
	api(t, app, token, "GET", "/api/v1/runs/"+run.ID, nil, &again)
	if again.State != store.StateCompleted || again.Result != store.ResultSucceeded {
		t.Errorf("GET run = %s %s, want completed succeeded", again.State, again.Result)
	}
	var logs []LogView
	if st := api(t, app, token, "GET", "/api/v1/runs/"+run.ID+"/logs", nil, &logs); st != http.StatusOK || len(logs) == 0 {
		t.Errorf("GET logs = %d, %d logs", st, len(logs))
	}
	var list []RunView
	if api(t, app, token, "GET", "/api/v1/runs", nil, &list); len(list) != 1 || list[0].ID != run.ID {
		t.Errorf("GET runs = %+v, want the one run", list)
	}
	// The job went through the broker to the built-in agent.
	var leases []LeaseView
	api(t, app, token, "GET", "/api/v1/leases", nil, &leases)
	if len(leases) != 1 || leases[0].State != store.LeaseDone || !strings.HasPrefix(leases[0].Agent, "builtin-") {
		t.Errorf("leases = %+v, want one done by a built-in agent", leases)
	}
	// Retry starts a new run of the same plan.
	var retried RunView
	if st := api(t, app, token, "POST", "/api/v1/runs/"+run.ID+"/retry", nil, &retried); st != http.StatusCreated {
		t.Fatalf("retry: %d", st)
	}
	if r := ends.wait(t, retried.ID); r.Result != store.ResultSucceeded || r.Commit != run.Commit {
		t.Errorf("retried run = %s at %s, want succeeded at %s", r.Result, r.Commit, run.Commit)
	}
}

// stepID returns the ID of the step record displayed as name.
func stepID(recs []RecordView, name string) string {
	for _, r := range recs {
		if r.Type == store.RecordStep && r.DisplayName == name {
			return r.ID
		}
	}
	return ""
}

func TestBadManualRuns(t *testing.T) {
	repo := gitRepo(t, map[string]string{"ci.yml": helloPipeline, "broken.yml": "steps:\n- scrip: x\n"})
	app, _ := testServer(t, []config.Repository{{Name: "webapp", URL: repo, Pipelines: map[string]string{"ci": "ci.yml", "broken": "broken.yml"}}}, nil)
	tests := []struct {
		name string
		body map[string]any
		want int
		say  string
	}{
		{"no pipeline", map[string]any{}, http.StatusBadRequest, "pipeline: required"},
		{"unknown pipeline", map[string]any{"pipeline": "cd"}, http.StatusNotFound, `pipeline "cd"`},
		{"unknown repository", map[string]any{"pipeline": "ci", "repository": "nope"}, http.StatusNotFound, `repository "nope"`},
		{"unknown branch", map[string]any{"pipeline": "ci", "branch": "nope"}, http.StatusUnprocessableEntity, "refs/heads/nope"},
		{"pipeline does not compile", map[string]any{"pipeline": "broken"}, http.StatusBadRequest, "broken.yml"},
		{"unknown field", map[string]any{"pipeline": "ci", "colour": "red"}, http.StatusBadRequest, "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e apiError
			req, _ := json.Marshal(tt.body)
			resp, err := http.Post(app.URL()+"/api/v1/runs", "application/json", strings.NewReader(string(req)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("without a token: %d, want 401", resp.StatusCode)
			}
			st := apiErr(t, app, app.AdminToken, tt.body, &e)
			if st != tt.want || !strings.Contains(e.Error, tt.say) {
				t.Errorf("POST runs %v = %d %q, want %d saying %q", tt.body, st, e.Error, tt.want, tt.say)
			}
		})
	}
}

func apiErr(t *testing.T, app *App, token string, body any, e *apiError) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", app.URL()+"/api/v1/runs", strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(e)
	return resp.StatusCode
}

func TestAdminTokenWrittenOnceWithMode0600(t *testing.T) {
	data := t.TempDir()
	app, err := Start(t.Context(), Options{DataDir: data, Listen: "127.0.0.1:0", LocalAgents: -1})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(AdminTokenFile(data))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin-token mode = %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(AdminTokenFile(data))
	token := strings.TrimSpace(string(b))
	if !strings.HasPrefix(token, TokenPrefix) || len(token) != len(TokenPrefix)+43 || token != app.AdminToken {
		t.Errorf("admin token %q: want cvy_ and 43 base64url characters", token)
	}
	var tokens []TokenView
	if st := api(t, app, token, "GET", "/api/v1/tokens", nil, &tokens); st != http.StatusOK || len(tokens) != 1 || tokens[0].Role != "admin" {
		t.Errorf("GET tokens with the admin token = %d %+v", st, tokens)
	}
	raw, _ := json.Marshal(tokens)
	if strings.Contains(string(raw), token) {
		t.Errorf("token list shows the secret")
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	// The second start keeps the token.
	app2, err := Start(t.Context(), Options{DataDir: data, Listen: "127.0.0.1:0", LocalAgents: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer app2.Close()
	if app2.AdminToken != "" {
		t.Errorf("second start made another admin token")
	}
	if st := api(t, app2, token, "GET", "/api/v1/tokens", nil, nil); st != http.StatusOK {
		t.Errorf("the first token after a restart: %d", st)
	}
}

func TestRoleMatrix(t *testing.T) {
	app, _ := testServer(t, nil, func(o *Options) { o.LocalAgents = -1 })
	tokens := map[string]string{"": "", "bad": "cvy_notatoken", "malformed": "abc"}
	for _, r := range []Role{RoleViewer, RoleOperator, RoleApprover, RoleAdmin, RoleAgent} {
		secret, err := CreateToken(t.Context(), app.Store, "user-"+string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		tokens[string(r)] = secret
	}
	callers := []string{"", "bad", "malformed", "viewer", "operator", "approver", "admin", "agent"}
	for _, rt := range app.Server.routes {
		for _, who := range callers {
			want := http.StatusOK // anything but 401 and 403
			switch {
			case rt.role == "":
			case who == "" || who == "bad" || who == "malformed":
				want = http.StatusUnauthorized
			case !Role(who).allows(rt.role):
				want = http.StatusForbidden
			}
			if rt.pattern == "/metrics" || strings.HasPrefix(rt.pattern, "/webhooks/") {
				continue // not authenticated by token; checked elsewhere
			}
			name := rt.method + " " + rt.pattern + " as " + who
			t.Run(name, func(t *testing.T) {
				path := strings.NewReplacer("{run}", "NORUN", "{record}", "Build.Job.step1", "{approval}", "NOAPPROVAL", "{lease}", "NOLEASE").Replace(rt.pattern)
				st := api(t, app, tokens[who], rt.method, path, nil, nil)
				switch want {
				case http.StatusOK:
					if st == http.StatusUnauthorized || st == http.StatusForbidden {
						t.Errorf("%s: %d, want access", name, st)
					}
					if rt.method == "GET" && !strings.Contains(rt.pattern, "{") && st != http.StatusOK {
						t.Errorf("%s: %d, want 200", name, st)
					}
				default:
					if st != want {
						t.Errorf("%s: %d, want %d", name, st, want)
					}
				}
			})
		}
	}
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	var inDoc []string
	for p, ops := range doc.Paths {
		for m := range ops {
			inDoc = append(inDoc, strings.ToUpper(m)+" "+p)
		}
	}
	s := &Server{}
	served := s.routeTableForDoc()
	sort.Strings(inDoc)
	sort.Strings(served)
	if diff := cmp.Diff(served, inDoc); diff != "" {
		t.Errorf("routes served (-) vs described in openapi.json (+):\n%s", diff)
	}
}

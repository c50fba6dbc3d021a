package task

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/deploy"
	"github.com/google/go-cmp/cmp"
)

// helmTestChart copies the deploy package's test chart into the sources of
// env and returns its path relative to them.
func helmTestChart(t *testing.T, env *Env) string {
	t.Helper()
	if _, err := copyTree(filepath.Join("..", "deploy", "testdata", "helm"), filepath.Join(env.Dirs.Sources, "charts")); err != nil {
		t.Fatal(err)
	}
	return "charts/web"
}

// helmCaptureVars records what a task sets, plain names only.
func helmCaptureVars(env *Env) map[string]string {
	vars := map[string]string{}
	env.SetVariable = func(name, value string, o VarOptions) error {
		if !o.Output {
			vars[name] = value
		}
		return nil
	}
	return vars
}

func TestHelmDeployTemplate(t *testing.T) {
	env, log := testEnv(t, map[string]string{
		"command":        "template",
		"chartType":      "FilePath",
		"releaseName":    "shop",
		"namespace":      "staging",
		"overrideValues": "replicaCount=4\nimage.tag=2.0.0",
		"arguments":      "--set message=hi",
	})
	env.Inputs["chartPath"] = helmTestChart(t, env)
	vars := helmCaptureVars(env)
	res, err := runHelmDeploy(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Succeeded {
		t.Fatalf("status %s: %s\n%s", res.Status, res.Message, log)
	}
	if vars["helmExitCode"] != "0" {
		t.Errorf("helmExitCode = %q, want 0", vars["helmExitCode"])
	}
	for _, want := range []string{"name: shop-web", "namespace: staging", "replicas: 4", `image: "registry.example/web:2.0.0"`, `value: "hi"`} {
		if !strings.Contains(vars["helmOutput"], want) {
			t.Errorf("helmOutput lacks %q:\n%s", want, vars["helmOutput"])
		}
	}
	if !strings.Contains(log.String(), "[command]helm template shop ") {
		t.Errorf("log lacks the command line:\n%s", log)
	}
}

func TestHelmDeployPackage(t *testing.T) {
	env, log := testEnv(t, map[string]string{"command": "package", "chartVersion": "1.2.3", "arguments": "--app-version 9.9"})
	env.Inputs["chartPath"] = helmTestChart(t, env)
	vars := helmCaptureVars(env)
	res, err := runHelmDeploy(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Succeeded {
		t.Fatalf("status %s: %s\n%s", res.Status, res.Message, log)
	}
	want := filepath.Join(env.Dirs.ArtifactStaging, "web-1.2.3.tgz")
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("packaged chart: %v\n%s", err, log)
	}
	if got := vars["helmOutput"]; !strings.Contains(got, want) {
		t.Errorf("helmOutput = %q, want it to name %s", got, want)
	}
}

func TestHelmDeployFailures(t *testing.T) {
	cfg := config.Default()
	tests := []struct {
		name     string
		inputs   map[string]string
		services *Services
		want     string
	}{
		{"unknown flags", map[string]string{"command": "install", "arguments": "--atomic --post-renderer ./x --frob"}, nil,
			"unknown helm flag(s) --post-renderer, --frob"},
		{"unsupported command", map[string]string{"command": "init"}, nil, "helm init is not supported"},
		{"default command ls", map[string]string{}, nil, "helm ls: input kubernetesServiceConnection is required"},
		{"unknown command", map[string]string{"command": "explode"}, nil, `unknown helm command "explode"`},
		{"no connection", map[string]string{"command": "install", "chartType": "FilePath", "chartPath": "charts/web"}, nil,
			"input kubernetesServiceConnection is required"},
		{"arm connection", map[string]string{"command": "install", "chartType": "FilePath", "chartPath": "charts/web", "connectionType": "Azure Resource Manager"}, nil,
			"Azure Resource Manager connections are not supported"},
		{"no services", map[string]string{"command": "upgrade", "chartType": "FilePath", "chartPath": "charts/web", "releaseName": "web", "kubernetesServiceConnection": "aks"}, nil,
			"no conveyor.yaml services"},
		{"unknown connection", map[string]string{"command": "upgrade", "chartType": "FilePath", "chartPath": "charts/web", "releaseName": "web", "kubernetesServiceConnection": "aks"}, &Services{Config: cfg},
			`service connection "aks" is not defined`},
		{"repo chart", map[string]string{"command": "install", "chartName": "stable/mysql", "kubernetesServiceConnection": "local"}, &Services{Config: cfg},
			"chart repositories (repo/chart) are not supported"},
		{"missing chart path", map[string]string{"command": "install", "chartType": "FilePath"}, nil, "input chartPath is required"},
		{"upgrade without release", map[string]string{"command": "upgrade", "chartType": "FilePath", "chartPath": "charts/web"}, nil, "input releaseName is required"},
		{"rollback without release", map[string]string{"command": "rollback"}, nil, "name the release"},
		{"rollback bad revision", map[string]string{"command": "rollback", "arguments": "web two"}, nil, `revision "two"`},
		{"bad wait", map[string]string{"command": "install", "chartType": "FilePath", "chartPath": "charts/web", "waitForExecution": "sometimes"}, nil,
			"input waitForExecution"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := testEnv(t, tt.inputs)
			env.Task = "HelmDeploy@1"
			helmTestChart(t, env)
			env.Services = tt.services
			vars := helmCaptureVars(env)
			res, err := runHelmDeploy(t.Context(), env)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != Failed || !strings.Contains(res.Message, tt.want) || !strings.HasPrefix(res.Message, "HelmDeploy@1: ") {
				t.Fatalf("result %s %q, want Failed naming HelmDeploy@1 with %q", res.Status, res.Message, tt.want)
			}
			if diff := cmp.Diff(map[string]string{"helmExitCode": "1", "helmOutput": res.Message}, vars); diff != "" {
				t.Errorf("variables (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHelmDeployRegistered(t *testing.T) {
	for _, name := range []string{"HelmDeploy@0", "HelmDeploy@1", "helmdeploy@0"} {
		if !Known(name) {
			t.Errorf("Known(%q) = false", name)
		}
	}
}

func TestHelmPullOptions(t *testing.T) {
	cfg, err := config.Parse("conveyor.yaml", []byte(`registries:
  charts: {url: "127.0.0.1:5005", insecure: true, username: u, password: p}
  secure: {url: "charts.example"}
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		chart string
		args  deploy.HelmArgs
		want  deploy.HelmPullOptions
	}{
		{"oci://127.0.0.1:5005/charts/web", deploy.HelmArgs{}, deploy.HelmPullOptions{PlainHTTP: true, Username: "u", Password: "p"}},
		{"oci://127.0.0.1:5005/charts/web", deploy.HelmArgs{Username: "me", Password: "pw"}, deploy.HelmPullOptions{PlainHTTP: true, Username: "me", Password: "pw"}},
		{"oci://charts.example/web", deploy.HelmArgs{}, deploy.HelmPullOptions{}},
		{"oci://other.example/web", deploy.HelmArgs{PlainHTTP: true}, deploy.HelmPullOptions{PlainHTTP: true}},
		{"charts/web", deploy.HelmArgs{}, deploy.HelmPullOptions{}},
	}
	for _, tt := range tests {
		env, _ := testEnv(t, nil)
		env.Services = &Services{Config: cfg}
		if diff := cmp.Diff(tt.want, helmPullOptions(env, tt.chart, tt.args)); diff != "" {
			t.Errorf("helmPullOptions(%s) (-want +got):\n%s", tt.chart, diff)
		}
	}
}

// TestHelmDeployValues follows HelmDeploy's reference for values:
// overrideValues as key1=val1,key2=val2 (or one a line) and valueFile (here
// two files, one a line, the later winning); overrideValues beats files.
func TestHelmDeployValues(t *testing.T) {
	env, log := testEnv(t, map[string]string{
		"command":        "template",
		"chartType":      "FilePath",
		"releaseName":    "shop",
		"valueFile":      "values-a.yaml\nvalues-b.yaml",
		"overrideValues": "image.tag=3.1.0,message=from-set",
	})
	env.Inputs["chartPath"] = helmTestChart(t, env)
	writeFiles(t, env.Dirs.Sources, map[string]string{
		"values-a.yaml": "replicaCount: 2\nmessage: from-a\n",
		"values-b.yaml": "replicaCount: 5\n",
	})
	vars := helmCaptureVars(env)
	res, err := runHelmDeploy(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != Succeeded {
		t.Fatalf("status %s: %s\n%s", res.Status, res.Message, log)
	}
	for _, want := range []string{"replicas: 5", `image: "registry.example/web:3.1.0"`, `value: "from-set"`} {
		if !strings.Contains(vars["helmOutput"], want) {
			t.Errorf("helmOutput lacks %q:\n%s", want, vars["helmOutput"])
		}
	}
}

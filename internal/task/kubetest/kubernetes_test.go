package kubetest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/kubeenv"
	"conveyor.dev/conveyor/internal/task"
)

var env *kubeenv.Env

func TestMain(m *testing.M) { os.Exit(kubeenv.Main(m, kubeenv.Options{KwokNodes: 1}, &env)) }

// syncBuffer is a log safe for the task's writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newEnv returns a task.Env for name whose services point at the test
// cluster through the connection "staging" (namespace staging).
func newEnv(t *testing.T, name string, inputs map[string]string) (*task.Env, map[string]string, *syncBuffer) {
	t.Helper()
	text := "clusters:\n  local: {kubeconfig: " + env.Kubeconfig + "}\nserviceConnections:\n  staging: {cluster: local, namespace: staging}\n"
	cfg, err := config.Parse("conveyor.yaml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	vars := map[string]string{}
	log := &syncBuffer{}
	e := &task.Env{
		Task:      name,
		Inputs:    inputs,
		Variables: map[string]string{},
		Environ:   []string{"PATH=/usr/bin:/bin", "HOME=" + dir},
		Dirs:      task.Dirs{Sources: dir, Temp: filepath.Join(dir, "tmp")},
		Log:       log,
		SetVariable: func(name, value string, _ task.VarOptions) error {
			vars[name] = value
			return nil
		},
		Now:      time.Now,
		Services: &task.Services{Config: cfg, DataDir: dir},
	}
	return e, vars, log
}

func runTask(t *testing.T, e *task.Env) task.Result {
	t.Helper()
	tk, ok := task.Lookup(e.Task)
	if !ok {
		t.Fatalf("task %s not registered", e.Task)
	}
	res, err := tk.Run(t.Context(), e)
	if err != nil {
		t.Fatalf("%s: %v", e.Task, err)
	}
	return res
}

func TestKubernetesTaskAppliesAndReadsBack(t *testing.T) {
	if _, err := env.Client().CoreV1().Namespaces().Create(t.Context(), namespace("staging"), createOpts); err != nil {
		t.Fatal(err)
	}
	e, _, log := newEnv(t, "Kubernetes@1", nil)
	manifest := filepath.Join(e.Dirs.Sources, "cm.yaml")
	if err := os.WriteFile(manifest, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {greeting: hello}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.Inputs = map[string]string{
		"connectionType":            "Kubernetes Service Connection",
		"kubernetesServiceEndpoint": "staging",
		"command":                   "apply",
		"useConfigurationFile":      "true",
		"configuration":             "cm.yaml",
		"outputFormat":              "name",
	}
	if res := runTask(t, e); res.Status != task.Succeeded {
		t.Fatalf("apply: %+v\n%s", res, log)
	}
	cm, err := env.Client().CoreV1().ConfigMaps("staging").Get(t.Context(), "settings", getOpts)
	if err != nil {
		t.Fatalf("the ConfigMap is not in namespace staging: %v", err)
	}
	if cm.Data["greeting"] != "hello" {
		t.Errorf("data = %v", cm.Data)
	}

	// configurationType inline applies the YAML of the inline input.
	e, _, log = newEnv(t, "Kubernetes@1", map[string]string{
		"kubernetesServiceEndpoint": "staging",
		"command":                   "apply",
		"useConfigurationFile":      "true",
		"configurationType":         "inline",
		"inline":                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: inline-settings}\ndata: {from: inline}\n",
	})
	if res := runTask(t, e); res.Status != task.Succeeded {
		t.Fatalf("apply inline: %+v\n%s", res, log)
	}
	if cm, err := env.Client().CoreV1().ConfigMaps("staging").Get(t.Context(), "inline-settings", getOpts); err != nil || cm.Data["from"] != "inline" {
		t.Errorf("inline ConfigMap: %v %v", cm, err)
	}
	if left, _ := os.ReadDir(e.Dirs.Temp); len(left) != 0 {
		t.Errorf("the inline configuration was left in the temp folder: %v", left)
	}
	e, _, _ = newEnv(t, "Kubernetes@1", map[string]string{"kubernetesServiceEndpoint": "staging", "command": "apply",
		"useConfigurationFile": "true", "configurationType": "inline"})
	if res := runTask(t, e); res.Status != task.Failed || !strings.Contains(res.Message, "input inline is required") {
		t.Errorf("inline without YAML = %+v", res)
	}

	e, vars, log := newEnv(t, "Kubernetes@1", map[string]string{
		"kubernetesServiceEndpoint": "staging",
		"command":                   "get",
		"arguments":                 "configmap settings -o jsonpath={.data.greeting}",
	})
	if res := runTask(t, e); res.Status != task.Succeeded {
		t.Fatalf("get: %+v\n%s", res, log)
	}
	if got := vars["KubectlOutput"]; got != "hello" {
		t.Errorf("KubectlOutput = %q, want hello (log:\n%s)", got, log)
	}
	if !strings.Contains(log.String(), "[command]kubectl get -n staging configmap settings") {
		t.Errorf("log does not show the command:\n%s", log)
	}

	// secretName/configMapName are created before the command; the secret's
	// data reaches kubectl on stdin, not on its command line.
	e, _, log = newEnv(t, "Kubernetes@1", map[string]string{
		"kubernetesServiceEndpoint": "staging",
		"command":                   "get",
		"arguments":                 "configmap settings",
		"secretType":                "generic",
		"secretName":                "app-secret",
		"secretArguments":           "--from-literal=token=s3cr3t-value",
		"configMapName":             "app-config",
		"configMapArguments":        "--from-literal=mode=blue",
	})
	if res := runTask(t, e); res.Status != task.Succeeded {
		t.Fatalf("secret and configmap: %+v\n%s", res, log)
	}
	sec, err := env.Client().CoreV1().Secrets("staging").Get(t.Context(), "app-secret", getOpts)
	if err != nil || string(sec.Data["token"]) != "s3cr3t-value" {
		t.Errorf("secret app-secret: %v %v", sec, err)
	}
	if strings.Contains(log.String(), "s3cr3t-value") {
		t.Errorf("the secret value reached the log:\n%s", log)
	}
	if cm, err := env.Client().CoreV1().ConfigMaps("staging").Get(t.Context(), "app-config", getOpts); err != nil || cm.Data["mode"] != "blue" {
		t.Errorf("configmap app-config: %v %v", cm, err)
	}
	// forceUpdateConfigMap false (the default) keeps an existing ConfigMap;
	// forceUpdate true (the default) replaces the secret's data.
	e, _, log = newEnv(t, "Kubernetes@1", map[string]string{
		"kubernetesServiceEndpoint": "staging", "command": "get", "arguments": "configmap settings",
		"secretType": "generic", "secretName": "app-secret", "secretArguments": "--from-literal=token=rotated-value",
		"configMapName": "app-config", "configMapArguments": "--from-literal=mode=green",
	})
	if res := runTask(t, e); res.Status != task.Succeeded {
		t.Fatalf("second run: %+v\n%s", res, log)
	}
	if sec, err := env.Client().CoreV1().Secrets("staging").Get(t.Context(), "app-secret", getOpts); err != nil || string(sec.Data["token"]) != "rotated-value" {
		t.Errorf("secret after forceUpdate: %v %v", sec, err)
	}
	if cm, err := env.Client().CoreV1().ConfigMaps("staging").Get(t.Context(), "app-config", getOpts); err != nil || cm.Data["mode"] != "blue" {
		t.Errorf("configmap without forceUpdateConfigMap: %v %v", cm, err)
	}
	e, _, _ = newEnv(t, "Kubernetes@1", map[string]string{"kubernetesServiceEndpoint": "staging", "command": "get",
		"arguments": "configmap settings", "secretName": "reg", "secretType": "dockerRegistry"})
	if res := runTask(t, e); res.Status != task.Failed || !strings.Contains(res.Message, "input dockerRegistryEndpoint is required") {
		t.Errorf("dockerRegistry secret without a registry = %+v", res)
	}

	// login sets KUBECONFIG for later steps: a kubectl of a later step
	// (connectionType None) reaches the cluster in the connection's namespace.
	e, vars, log = newEnv(t, "Kubernetes@1", map[string]string{"kubernetesServiceEndpoint": "staging", "command": "login"})
	if res := runTask(t, e); res.Status != task.Succeeded {
		t.Fatalf("login: %+v\n%s", res, log)
	}
	kc := vars["KUBECONFIG"]
	if st, err := os.Stat(kc); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("KUBECONFIG %q: %v", kc, err)
	}
	later, vars2, log2 := newEnv(t, "Kubernetes@1", map[string]string{"connectionType": "None", "command": "get",
		"arguments": "configmap settings -o jsonpath={.data.greeting}"})
	later.Environ = append(later.Environ, "KUBECONFIG="+kc)
	if res := runTask(t, later); res.Status != task.Succeeded || vars2["KubectlOutput"] != "hello" {
		t.Errorf("kubectl after login: %+v %q\n%s", res, vars2["KubectlOutput"], log2)
	}
	e.Inputs = map[string]string{"kubernetesServiceEndpoint": "staging", "command": "logout"}
	if res := runTask(t, e); res.Status != task.Succeeded {
		t.Fatalf("logout: %+v", res)
	}
	if _, err := os.Stat(kc); !os.IsNotExist(err) {
		t.Errorf("logout left %s (%v)", kc, err)
	}

	e, _, _ = newEnv(t, "Kubernetes@1", map[string]string{"kubernetesServiceEndpoint": "staging", "command": "get", "arguments": "configmap nope"})
	if res := runTask(t, e); res.Status != task.Failed || !strings.Contains(res.Message, "exited with code 1") {
		t.Errorf("get of a missing object = %+v, want Failed with the exit code", res)
	}
	e, _, _ = newEnv(t, "Kubernetes@1", map[string]string{"kubernetesServiceEndpoint": "nope", "command": "get"})
	if res := runTask(t, e); res.Status != task.Failed || !strings.Contains(res.Message, `service connection "nope" is not defined`) {
		t.Errorf("unknown connection = %+v", res)
	}
}

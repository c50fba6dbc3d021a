package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/kubeenv"
)

const manifests = "kubernetes/conveyor.yaml"

type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Template struct {
			Metadata struct {
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []struct {
					Args []string `yaml:"args"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func readObjects(t *testing.T) []object {
	t.Helper()
	b, err := os.ReadFile(manifests)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []object
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", manifests, err)
		}
		out = append(out, o)
	}
}

// TestKubernetesManifests reads the manifests: the objects a Conveyor
// server needs, the scrape annotations, and a conveyor.yaml that Conveyor
// itself accepts.
func TestKubernetesManifests(t *testing.T) {
	objs := readObjects(t)
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.Kind+"/"+o.Metadata.Name)
		if o.Kind != "Namespace" && o.Metadata.Namespace != "conveyor" {
			t.Errorf("%s/%s is not in namespace conveyor", o.Kind, o.Metadata.Name)
		}
		switch o.Kind {
		case "Deployment":
			a := o.Spec.Template.Metadata.Annotations
			if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != "8080" || a["prometheus.io/path"] != "/metrics" {
				t.Errorf("the pod template's scrape annotations: %v", a)
			}
			if args := strings.Join(o.Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(args, "server --config /etc/conveyor/conveyor.yaml --data /data") {
				t.Errorf("the server's arguments: %s", args)
			}
		case "ConfigMap":
			if _, err := config.Parse("conveyor.yaml", []byte(o.Data["conveyor.yaml"]), func(string) (string, bool) { return "http://collector:4318", true }); err != nil {
				t.Errorf("the ConfigMap's conveyor.yaml: %v", err)
			}
		}
	}
	want := []string{"Namespace/conveyor", "ServiceAccount/conveyor", "ConfigMap/conveyor-config", "PersistentVolumeClaim/conveyor-data", "Deployment/conveyor", "Service/conveyor"}
	if !slices.Equal(kinds, want) {
		t.Errorf("objects %v, want %v", kinds, want)
	}
}

// TestKubernetesManifestsDryRun applies the manifests with a server-side
// dry run on a real API server (internal/kubeenv, no node): the API
// server validates every field against its schemas.
func TestKubernetesManifestsDryRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	env, err := kubeenv.Start(ctx, kubeenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	kubectl := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(env.BinDir, "kubectl"), append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// The namespace exists for real: a dry run does not create it for the
	// objects inside.
	if out, err := kubectl("create", "namespace", "conveyor"); err != nil {
		t.Fatalf("create namespace: %v\n%s", err, out)
	}
	out, err := kubectl("apply", "--server-side", "--dry-run=server", "--field-manager=conveyor-test", "-f", manifests)
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, out)
	}
	for _, o := range []string{"deployment.apps/conveyor", "service/conveyor", "persistentvolumeclaim/conveyor-data", "configmap/conveyor-config"} {
		if !strings.Contains(out, o+" serverside-applied (server dry run)") {
			t.Errorf("kubectl did not apply %s:\n%s", o, out)
		}
	}
	// And it can fail: an unknown field is refused.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: conveyor}\nspec: {portz: []}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl("apply", "--server-side", "--dry-run=server", "-f", bad); err == nil {
		t.Errorf("an unknown field passed the dry run:\n%s", out)
	}
}

package task

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"conveyor.dev/conveyor/internal/deploy"
)

// runManifestBake is KubernetesManifest@1 with action: bake. It renders
// manifests without a cluster and writes them to one file under the agent
// temp folder, whose path it sets in the output variable manifestsBundle,
// as Azure does. Inputs: renderType (helm, the default, or helm2 | kustomize
// | kompose, which is not supported), helmChart (a chart folder, a .tgz or
// oci://host/repo/chart[:version]), releaseName, namespace, overrideFiles
// (one values file per line), overrides (one key:value per line),
// kustomizationPath, and containers (one image per line: it replaces the
// images of the same repository in the bundle, as Azure's bake does).
func runManifestBake(ctx context.Context, env *Env) (Result, error) {
	renderType := strings.ToLower(strings.TrimSpace(env.Input("renderType", "helm")))
	var (
		out []byte
		err error
	)
	switch renderType {
	case "helm", "helm2", "helm3":
		out, err = bakeHelm(ctx, env)
	case "kustomize":
		dir := env.Input("kustomizationPath", "")
		if dir == "" {
			return Result{Status: Failed, Message: "bake: input kustomizationPath is required when renderType is kustomize: the folder holding kustomization.yaml"}, nil
		}
		dir = helmPath(env, dir)
		env.Logf("[command]kustomize build %s", dir)
		out, err = deploy.RenderKustomize(dir)
	case "kompose":
		return Result{Status: Failed, Message: "bake: renderType kompose is not supported by Conveyor: convert the Docker Compose file once with kompose and commit the manifests (or a kustomization), then bake with renderType kustomize"}, nil
	default:
		return Result{Status: Failed, Message: fmt.Sprintf("bake: input renderType %q: use helm or kustomize", renderType)}, nil
	}
	if err != nil {
		return Result{Status: Failed, Message: "bake: " + err.Error()}, nil
	}
	if images := helmLines(env.Input("containers", "")); len(images) > 0 {
		if out, err = bakeSubstituteImages(env, out, images); err != nil {
			return Result{Status: Failed, Message: "bake: " + err.Error()}, nil
		}
	}
	path, err := bakeWriteBundle(env.Dirs.Temp, out)
	if err != nil {
		return Result{}, fmt.Errorf("bake: %w", err)
	}
	env.Logf("baked %d manifest(s) into %s", bakeCountDocuments(out), path)
	for _, opts := range []VarOptions{{}, {Output: true}} {
		if env.SetVariable == nil {
			break
		}
		if err := env.SetVariable("manifestsBundle", path, opts); err != nil {
			return Result{}, fmt.Errorf("bake: set manifestsBundle: %w", err)
		}
	}
	return Result{Status: Succeeded}, nil
}

func bakeHelm(ctx context.Context, env *Env) ([]byte, error) {
	chart := env.Input("helmChart", "")
	if chart == "" {
		return nil, fmt.Errorf("input helmChart is required when renderType is helm: a chart folder, a packaged .tgz or an oci:// reference")
	}
	chart = helmPath(env, chart)
	var files []string
	for _, f := range helmLines(env.Input("overrideFiles", "")) {
		files = append(files, helmPath(env, f))
	}
	overrides, err := bakeOverrides(env.Input("overrides", ""))
	if err != nil {
		return nil, err
	}
	o := deploy.HelmRenderOptions{
		Chart:       chart,
		ReleaseName: env.Input("releaseName", ""),
		Namespace:   env.Input("namespace", ""),
		ValueFiles:  files,
		Overrides:   overrides,
		Pull:        helmPullOptions(env, chart, deploy.HelmArgs{}),
	}
	env.Logf("[command]helm template %s %s", o.ReleaseName, chart)
	return deploy.RenderHelm(ctx, o)
}

// bakeOverrides turns the overrides input (one name:value per line; the value
// may hold colons) into helm --set expressions.
func bakeOverrides(s string) ([]string, error) {
	var out []string
	for _, l := range helmLines(s) {
		name, value, ok := strings.Cut(l, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("input overrides: %q is not name:value (one per line, e.g. replicaCount:2)", l)
		}
		// --set splits on commas; a comma in a value is escaped so each line
		// stays one value, as Azure passes each override on its own.
		out = append(out, name+"="+strings.ReplaceAll(strings.TrimSpace(value), ",", `\,`))
	}
	return out, nil
}

// bakeWriteBundle writes the manifests to <dir>/baked-template-<random>.yaml.
func bakeWriteBundle(dir string, manifests []byte) (string, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "baked-template-"+hex.EncodeToString(id[:])+".yaml")
	if err := os.WriteFile(path, manifests, 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// bakeCountDocuments counts the non-empty YAML documents of a stream.
func bakeCountDocuments(b []byte) int {
	n := 0
	for _, doc := range strings.Split("\n"+string(b), "\n---") {
		for _, l := range strings.Split(doc, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				n++
				break
			}
		}
	}
	return n
}

// bakeSubstituteImages replaces the images of the rendered manifests whose
// repository matches one of images; the bundle is re-encoded then.
func bakeSubstituteImages(env *Env, manifests []byte, images []string) ([]byte, error) {
	objs, err := deploy.ParseManifests([]deploy.Manifest{{Name: "baked bundle", Data: manifests}})
	if err != nil {
		return nil, err
	}
	n := deploy.SubstituteImages(objs, images)
	env.Logf("containers: %d image(s) replaced", n)
	return deploy.EncodeManifests(objs)
}

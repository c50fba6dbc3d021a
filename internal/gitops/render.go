package gitops

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"conveyor.dev/conveyor/internal/config"
	"conveyor.dev/conveyor/internal/deploy"
)

// RenderOptions say how a folder becomes objects.
type RenderOptions struct {
	// Type is config.RenderAuto (or empty), RenderPlain, RenderKustomize
	// or RenderHelm.
	Type string
	// ReleaseName, Values (files relative to the folder) and Set
	// (key=value) are helm's; ReleaseName defaults to the reconciler's name.
	ReleaseName string
	Values      []string
	Set         []string
	// Namespace is helm's .Release.Namespace.
	Namespace string
}

// renderType decides auto: kustomize when dir has a kustomization file,
// helm when it has Chart.yaml, else plain.
func renderType(dir, t string) string {
	if t != "" && t != config.RenderAuto {
		return t
	}
	for _, k := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := os.Stat(filepath.Join(dir, k)); err == nil {
			return config.RenderKustomize
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err == nil {
		return config.RenderHelm
	}
	return config.RenderPlain
}

// Render turns the folder dir into objects, as kubectl apply -f -R,
// kustomize build or helm template would. Errors name the file.
func Render(ctx context.Context, dir string, o RenderOptions) ([]*unstructured.Unstructured, error) {
	var ms []deploy.Manifest
	switch t := renderType(dir, o.Type); t {
	case config.RenderKustomize:
		out, err := deploy.RenderKustomize(dir)
		if err != nil {
			return nil, err
		}
		ms = []deploy.Manifest{{Name: "kustomize build", Data: out}}
	case config.RenderHelm:
		values := make([]string, len(o.Values))
		for i, v := range o.Values {
			values[i] = filepath.Join(dir, filepath.FromSlash(v))
		}
		out, err := deploy.RenderHelm(ctx, deploy.HelmRenderOptions{Chart: dir, ReleaseName: o.ReleaseName, Namespace: o.Namespace, ValueFiles: values, Overrides: o.Set})
		if err != nil {
			return nil, err
		}
		ms = []deploy.Manifest{{Name: "helm template", Data: out}}
	case config.RenderPlain:
		var err error
		if ms, err = plainManifests(dir); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("render type %q: use auto, plain, kustomize or helm", t)
	}
	return deploy.ParseManifests(ms)
}

// plainManifests reads every .yaml, .yml and .json file under dir, in path
// order; hidden folders and kustomization files are skipped.
func plainManifests(dir string) ([]deploy.Manifest, error) {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "kustomization.yaml" || d.Name() == "kustomization.yml" {
			return nil // kustomize's own file, not an object
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	ms := make([]deploy.Manifest, 0, len(names))
	for _, p := range names {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, p)
		ms = append(ms, deploy.Manifest{Name: filepath.ToSlash(rel), Data: data})
	}
	return ms, nil
}

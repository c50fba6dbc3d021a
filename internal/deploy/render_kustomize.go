package deploy

import (
	"fmt"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// RenderKustomize builds the kustomization in dir (a folder holding
// kustomization.yaml) as kubectl kustomize does, with kustomize's default
// options: files only from under dir, no plugins, no helm inflation. It
// returns the resources as one multi-document YAML stream.
func RenderKustomize(dir string) ([]byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("render kustomization %s: %w", dir, err)
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("render kustomization %s: %w", dir, err)
	}
	return out, nil
}

package task

import "context"

// runManifestBake is KubernetesManifest@1 with action bake. This build has
// no renderer (helm, kompose, kustomize); the full implementation replaces
// this file.
func runManifestBake(_ context.Context, _ *Env) (Result, error) {
	return Result{Status: Failed, Message: "KubernetesManifest@1: action bake is not available in this build: render the manifests in an earlier step (helm template, kustomize build) and deploy the files"}, nil
}

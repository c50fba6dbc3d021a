// Package helmkube holds the tests of Helm releases, Helm and kustomize
// rendering and the HelmDeploy and KubernetesManifest bake tasks against a
// real local control plane (internal/kubeenv) and the embedded OCI registry.
// It has no code of its own: it exists so these tests get their own TestMain
// and cluster.
//
// It must not import the engine, the executors, the server or the store.
package helmkube

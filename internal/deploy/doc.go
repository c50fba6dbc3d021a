// Package deploy takes manifests to a Kubernetes cluster: it renders them
// (plain YAML, kustomize, Helm charts), applies them, waits for the rollout
// to be healthy, rolls back, and runs canary/promote/reject. It also runs
// Helm releases (install, upgrade, rollback, uninstall) through the Helm SDK.
//
// Rendering is pure (no cluster); everything that talks to a cluster takes a
// context first and returns what it did as a value. The package logs nothing
// unless given a writer.
//
// It must not import the engine, the executors, the tasks, the server or the
// store.
package deploy

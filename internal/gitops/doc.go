// Package gitops is Conveyor's pull mode: a cluster reconciles itself from
// desired state kept in a git repository or an OCI artifact, as Flux's
// GitRepository/OCIRepository + Kustomization and Argo CD's Application do,
// kept small.
//
// A Reconciler runs one reconcile as named phases and returns what it did
// as a Result (revision, ChangeSets, health, error):
//
//	fetch (Source: GitSource, OCISource with an optional cosign signature
//	check) → render (plain YAML, kustomize or helm, by internal/deploy)
//	→ apply (server-side apply, field manager "conveyor", conflicts forced:
//	manual edits of the fields the source sets are reverted, deleted objects
//	recreated) → prune (objects of the previous inventory that the source no
//	longer holds) → health (internal/deploy's watch-based wait) → record (the
//	inventory and the last result in a ConfigMap next to the objects).
//
// A Controller runs the reconcilers of conveyor.yaml's gitops section in
// loops, one per entry, every Interval (an injected Clock decides when) or
// when triggered; a suspended reconciler does nothing. Push publishes a
// folder of manifests as an OCI artifact with Flux's media types, so that a
// CD pipeline can hand desired state to clusters that pull it.
//
// Files, one per doer: source_git.go, source_oci.go, push.go, render.go,
// inventory.go, reconciler.go, controller.go, setup.go (from conveyor.yaml).
//
// It logs nothing; results are values handed to the caller. It must not
// import the engine, executor, task, server, agent or store packages: the
// server and the CLI start it, not the other way round.
package gitops

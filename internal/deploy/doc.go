// Package deploy puts Kubernetes manifests on a cluster the way a pipeline's
// deploy step needs: it parses plain YAML manifests, substitutes the images a
// step names and resolves every image tag to its registry digest, annotates
// each object with the pipeline, run, commit and images, applies with
// server-side apply (field manager "conveyor"; namespaces and CRDs first),
// waits on watches until every applied object is healthy (kstatus-style
// rules), rolls back to the last successful revision when the wait fails,
// prunes objects removed since that revision, and runs Azure's pod-split
// canary (deploy, promote, reject).
//
// The pieces, in the order a deploy runs them:
//   - objects.go, images.go, annotate.go, canary.go, secret.go: pure
//     functions on unstructured objects (table and golden tests);
//   - resolver.go: image tags to digests with go-containerregistry;
//   - status.go: the health rules per kind;
//   - ResourceManager (manager*.go): one verb per file — Apply returns a
//     ChangeSet, Wait watches, Prune and Delete remove, Patch and Scale;
//   - Deployer (deploy.go, canary_deploy.go): the phases build → apply →
//     wait → rollback or record → prune, with its RevisionStore
//     (revision.go; MemoryRevisions for runs without a database).
//
// It logs nothing: progress goes to the writer a caller passes in.
//
// It must not import the engine, executor, task, server or store packages:
// tasks call it, and the store is reached through RevisionStore.
package deploy

// Package registry is Conveyor's embedded OCI registry and its promotion of
// images between registries.
//
// [New] returns an http.Handler that serves the OCI distribution API (pull,
// push, chunked and monolithic uploads, cross-repository mounts, tag listing,
// catalog, deletes, and the OCI 1.1 referrers API) from a folder on disk, with
// optional basic/token auth and tag immutability for the prod registry.
// [Registry.GC] removes blobs and manifests nothing refers to. [Promote] copies
// an image or index by digest, with every referrer (signatures, SBOMs,
// attestations), from any OCI registry to any other.
//
// The protocol layer is our own, on go-containerregistry's types; the client
// side of promotion is go-containerregistry's remote package.
//
// It is a leaf of the flow: it must not import internal/engine,
// internal/executor, internal/task or internal/server (they use it, not the
// other way round), and it logs nothing unless given a logger.
package registry

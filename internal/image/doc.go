// Package image builds and pushes container images without a Docker daemon.
//
// Build builds a Dockerfile: FROM (any registry, scratch, earlier stages),
// COPY and ADD of build-context files (honouring .dockerignore) or of other
// stages' files, and the instructions that only change the image config. Its
// layers are reproducible (sorted entries, fixed owners, mtime
// SOURCE_DATE_EPOCH) and cached by content under a cache folder. A
// Dockerfile that needs RUN goes to a BuildKit daemon (buildctl) when one is
// configured, and fails naming the line otherwise.
//
// BuildGo compiles a Go main package (CGO off, -trimpath, no VCS stamping)
// and packs the binary into a single reproducible layer on top of a base
// image, the way ko does: the same sources, options and SOURCE_DATE_EPOCH
// give the same image digest on every machine. Push writes an image to a
// registry and returns its digest reference.
//
// It is a leaf library built on go-containerregistry: it logs nothing (a
// build writes progress only to the writer it is given) and must not import
// the flow packages (internal/engine, internal/executor, internal/task,
// internal/server, internal/store).
package image

// Package image builds and pushes container images without a Docker daemon.
//
// BuildGo compiles a Go main package (CGO off, -trimpath, no VCS stamping)
// and packs the binary into a single reproducible layer on top of a base
// image, the way ko does: the same sources, options and SOURCE_DATE_EPOCH
// give the same image digest on every machine. Push writes an image to a
// registry and returns its digest reference.
//
// It is a leaf library built on go-containerregistry: it logs nothing and must
// not import the flow packages (internal/engine, internal/executor,
// internal/task, internal/server, internal/store).
package image

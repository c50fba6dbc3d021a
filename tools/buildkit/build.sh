#!/usr/bin/env bash
# Builds BuildKit's daemon and client (buildkitd, buildctl) from the Go module
# proxy into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/buildkit/<version>/bin
# and prints that folder on stdout. Idempotent, interrupt-safe and serialised
# between concurrent callers: see tools/lib.sh.
#
# The version is pinned by tools/buildkit/go.mod (`tool` lines);
# BUILDKIT_VERSION names the cache folder and must change with the pin
# (internal/image holds the same string; a test checks they agree).
# buildkitd runs containers with runc, which it finds on PATH (Debian: `apt-get
# install -y runc`).
set -euo pipefail

BUILDKIT_VERSION=v0.34.2

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tools/lib.sh
. "$here/../lib.sh"
tool_init buildkit "$BUILDKIT_VERSION" dir buildkitd buildctl
tool_begin "$@"

export CGO_ENABLED=0
ldflags="-s -w -X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION"
for b in "${BINARIES[@]}"; do
	[ -x "$bin/$b" ] && continue
	log "building $b $BUILDKIT_VERSION (a few minutes on a cold cache)"
	(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$tmp/$b" "github.com/moby/buildkit/cmd/$b")
	tool_install "$b"
done
tool_end

#!/usr/bin/env bash
# Builds BuildKit's daemon and client (buildkitd, buildctl) from the Go module
# proxy into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/buildkit/<version>/bin
# and prints that folder on stdout. Idempotent: returns at once when both
# binaries are present. Each binary is built under a temporary name and
# renamed into place, so an interrupted build never leaves a half binary.
# Concurrent callers (parallel test packages) serialise on a lock file.
#
# The version is pinned by tools/buildkit/go.mod (`tool` lines);
# BUILDKIT_VERSION names the cache folder and must change with the pin
# (internal/image holds the same string; a test checks they agree).
# buildkitd runs containers with runc, which it finds on PATH (Debian: `apt-get
# install -y runc`).
set -euo pipefail

BUILDKIT_VERSION=v0.34.2
BINARIES=(buildkitd buildctl)

here="$(cd "$(dirname "$0")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/buildkit/$BUILDKIT_VERSION"
bin="$cache/bin"

all_present() {
	local b
	for b in "${BINARIES[@]}"; do
		[ -x "$bin/$b" ] || return 1
	done
}

if [ "${1:-}" = "--version" ]; then
	echo "$BUILDKIT_VERSION"
	exit 0
fi

if all_present; then
	echo "$bin"
	exit 0
fi

mkdir -p "$bin"
exec 9>"$cache/.build.lock"
flock 9
if all_present; then # another builder finished while we waited
	echo "$bin"
	exit 0
fi

log() { echo "buildkit build: $*" >&2; }

tmp="$(mktemp -d "$cache/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

export CGO_ENABLED=0
start=$SECONDS
ldflags="-s -w -X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION"
for b in "${BINARIES[@]}"; do
	[ -x "$bin/$b" ] && continue
	log "building $b $BUILDKIT_VERSION (a few minutes on a cold cache)"
	(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$tmp/$b" "github.com/moby/buildkit/cmd/$b")
	mv -f "$tmp/$b" "$bin/$b"
done
log "done in $((SECONDS - start))s: $bin"
echo "$bin"

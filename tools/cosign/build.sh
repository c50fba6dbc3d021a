#!/usr/bin/env bash
# Builds the cosign CLI pinned by tools/cosign/go.mod (a module of its own, so
# cosign's large graph never reaches Conveyor's go.mod) from the Go module
# proxy into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/cosign/<version>/cosign
# and prints that path on stdout. Idempotent: returns at once when the binary
# is there. It is built under a temporary name and renamed into place;
# concurrent callers serialise on a lock file. Only the supply-chain
# interoperability tests use it (internal/supplychain).
set -euo pipefail

COSIGN_VERSION=v2.6.5

here="$(cd "$(dirname "$0")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/cosign/$COSIGN_VERSION"
bin="$cache/cosign"

if [ "${1:-}" = "--version" ]; then
	echo "$COSIGN_VERSION"
	exit 0
fi
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock 9
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

start=$SECONDS
echo "cosign build: building cosign $COSIGN_VERSION (several minutes on a cold cache)" >&2
tmp="$(mktemp "$cache/.cosign.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
pkg=sigs.k8s.io/release-utils/version
(cd "$here" && CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X $pkg.gitVersion=$COSIGN_VERSION -X $pkg.gitTreeState=clean" \
	-o "$tmp" github.com/sigstore/cosign/v2/cmd/cosign)
mv -f "$tmp" "$bin"
echo "cosign build: done in $((SECONDS - start))s: $bin" >&2
echo "$bin"

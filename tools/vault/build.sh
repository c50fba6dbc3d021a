#!/usr/bin/env bash
# Builds HashiCorp Vault's server (the `vault` binary, which runs
# `vault server -dev`) from the Go module proxy into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/vault/<version>/vault
# and prints the binary's path on stdout. Idempotent: returns at once when the
# binary is present. The binary is built under a temporary name and renamed
# into place, so an interrupted build never leaves a half binary behind.
# Concurrent callers (parallel test packages) serialise on a lock file.
#
# The version is pinned by tools/vault/go.mod; VAULT_VERSION names the cache
# folder and must change with the pin (internal/secret/vault/vaulttest holds
# the same string; a test checks they agree).
set -euo pipefail

VAULT_VERSION=v1.21.4

here="$(cd "$(dirname "$0")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/vault/$VAULT_VERSION"
bin="$cache/vault"

if [ "${1:-}" = "--version" ]; then
	echo "$VAULT_VERSION"
	exit 0
fi

if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock 9
if [ -x "$bin" ]; then # another builder finished while we waited
	echo "$bin"
	exit 0
fi

log() { echo "vault build: $*" >&2; }

tmp="$(mktemp -d "$cache/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

export CGO_ENABLED=0
start=$SECONDS
log "building HashiCorp Vault $VAULT_VERSION (long on a cold Go build cache)"
# No build tags: the open-source server without the web UI, which the
# module zip does not carry (the `ui` tag would embed it).
(cd "$here" && go build -trimpath \
	-ldflags "-s -w -X github.com/hashicorp/vault/version.Version=${VAULT_VERSION#v}" \
	-o "$tmp/vault" github.com/hashicorp/vault)
mv -f "$tmp/vault" "$bin"
log "done in $((SECONDS - start))s: $bin"
echo "$bin"

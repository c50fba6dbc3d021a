#!/usr/bin/env bash
# Builds Gitea (code.gitea.io/gitea, pinned by tools/gitea/go.mod) from the Go
# module proxy with SQLite support into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/gitea/<version>/gitea
# and prints that path on stdout. Idempotent: returns at once when the binary
# is present. The binary is built under a temporary name and renamed into
# place, so an interrupted build never leaves a half binary behind.
# Concurrent callers (parallel test packages) serialise on a lock file.
#
# The binary is built without the bindata tag: it reads templates, locales and
# options from disk. `build.sh --static-root` prints the folder holding them
# (Gitea's module source in the module cache); pass it as [server]
# STATIC_ROOT_PATH. The API and webhooks need nothing else.
#
# GITEA_VERSION names the cache folder and must change whenever the pin in
# go.mod changes; internal/trigger's Gitea test reads it through --version.
set -euo pipefail

GITEA_VERSION=v1.26.0
TAGS="sqlite sqlite_unlock_notify"

here="$(cd "$(dirname "$0")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/gitea/$GITEA_VERSION"
bin="$cache/gitea"

case "${1:-}" in
--version)
	echo "$GITEA_VERSION"
	exit 0
	;;
--static-root)
	(cd "$here" && go mod download -json "code.gitea.io/gitea@$GITEA_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	exit 0
	;;
esac

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

log() { echo "gitea build: $*" >&2; }

tmp="$(mktemp -d "$cache/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

start=$SECONDS
log "building Gitea $GITEA_VERSION (several minutes on a cold cache)"
(cd "$here" && CGO_ENABLED=1 go build -trimpath -tags "$TAGS" \
	-ldflags "-s -w -X 'main.Version=${GITEA_VERSION#v}' -X 'main.Tags=$TAGS'" \
	-o "$tmp/gitea" code.gitea.io/gitea)
mv -f "$tmp/gitea" "$bin"
log "done in $((SECONDS - start))s: $bin"
echo "$bin"

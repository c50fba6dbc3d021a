#!/usr/bin/env bash
# Builds Gitea (code.gitea.io/gitea, pinned by tools/gitea/go.mod) from the Go
# module proxy with SQLite support into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/gitea/<version>/gitea
# and prints that path on stdout. Idempotent, interrupt-safe and serialised
# between concurrent callers: see tools/lib.sh.
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
# shellcheck source=tools/lib.sh
. "$here/../lib.sh"
tool_init gitea "$GITEA_VERSION" file gitea

if [ "${1:-}" = "--static-root" ]; then
	(cd "$here" && go mod download -json "code.gitea.io/gitea@$GITEA_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	exit 0
fi
tool_begin "$@"

log "building Gitea $GITEA_VERSION (several minutes on a cold cache)"
(cd "$here" && CGO_ENABLED=1 go build -trimpath -tags "$TAGS" \
	-ldflags "-s -w -X 'main.Version=${GITEA_VERSION#v}' -X 'main.Tags=$TAGS'" \
	-o "$tmp/gitea" code.gitea.io/gitea)
tool_install gitea
tool_end

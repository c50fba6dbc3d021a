#!/usr/bin/env bash
# Builds the cosign CLI pinned by tools/cosign/go.mod (a module of its own, so
# cosign's large graph never reaches Conveyor's go.mod) from the Go module
# proxy into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/cosign/<version>/cosign
# and prints that path on stdout. Idempotent, interrupt-safe and serialised
# between concurrent callers: see tools/lib.sh. Only the supply-chain
# interoperability tests use it (internal/supplychain).
set -euo pipefail

COSIGN_VERSION=v2.6.5

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tools/lib.sh
. "$here/../lib.sh"
tool_init cosign "$COSIGN_VERSION" file cosign
tool_begin "$@"

log "building cosign $COSIGN_VERSION (several minutes on a cold cache)"
pkg=sigs.k8s.io/release-utils/version
(cd "$here" && CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X $pkg.gitVersion=$COSIGN_VERSION -X $pkg.gitTreeState=clean" \
	-o "$tmp/cosign" github.com/sigstore/cosign/v2/cmd/cosign)
tool_install cosign
tool_end

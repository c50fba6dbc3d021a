#!/usr/bin/env bash
# Builds HashiCorp Vault's server (the `vault` binary, which runs
# `vault server -dev`) from the Go module proxy into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/vault/<version>/vault
# and prints the binary's path on stdout. Idempotent, interrupt-safe and
# serialised between concurrent callers: see tools/lib.sh.
#
# The version is pinned by tools/vault/go.mod; VAULT_VERSION names the cache
# folder and must change with the pin (internal/secret/vault/vaulttest holds
# the same string; a test checks they agree).
set -euo pipefail

VAULT_VERSION=v1.21.4

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tools/lib.sh
. "$here/../lib.sh"
tool_init vault "$VAULT_VERSION" file vault
tool_begin "$@"

export CGO_ENABLED=0

# Vault's own go.mod builds against its in-tree ./sdk, a replace that does
# not apply to a dependent module; the published sdk it names (v0.21.0) was
# cut from a newer tree in which framework.Backend.ActivationFunc takes one
# more argument (the flag name) and keysutil's RestorePolicy returns one
# value less; no published sdk matches the v1.21.4 tree. So the module's
# source, as the Go module proxy serves it, is copied and those three call
# sites are adapted; everything else is as published.
src="$(cd "$here" && go mod download -json "github.com/hashicorp/vault@$VAULT_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$src" ] || { log "cannot locate github.com/hashicorp/vault@$VAULT_VERSION in the module cache"; exit 1; }
cp -R "$src" "$tmp/vault-src"
chmod -R u+w "$tmp/vault-src"
patch_file() { # file, from, to: a literal replacement that must apply once
	local f="$tmp/vault-src/$1"
	grep -qF -- "$2" "$f" || { log "patch: $1 no longer holds: $2"; exit 1; }
	FROM="$2" TO="$3" perl -0pi -e 's/\Q$ENV{FROM}\E/$ENV{TO}/' "$f"
}
patch_file vault/identity_store.go \
	'ActivationFunc: iStore.activateDeduplication,' \
	'ActivationFunc: func(ctx context.Context, req *logical.Request, _ string) error { return iStore.activateDeduplication(ctx, req) },'
patch_file vault/logical_system_activation_flags.go \
	'b.idStoreBackend.ActivationFunc(ctx, nil)' \
	'b.idStoreBackend.ActivationFunc(ctx, nil, "")'
# The in-tree sdk's keysutil also returns the restored key's name (used for
# an audit observation only); the published one does not.
patch_file builtin/logical/transit/path_restore.go \
	'restoredKeyName, err := b.lm.RestorePolicy(ctx, req.Storage, keyName, backupB64, force)' \
	'restoredKeyName := keyName
	err := b.lm.RestorePolicy(ctx, req.Storage, keyName, backupB64, force)'
cp "$here/go.mod" "$here/go.sum" "$tmp/"
go mod edit -modfile="$tmp/go.mod" -replace "github.com/hashicorp/vault=$tmp/vault-src"

log "building HashiCorp Vault $VAULT_VERSION (long on a cold Go build cache)"
# No build tags: the open-source server without the web UI, which the
# module zip does not carry (the `ui` tag would embed it).
(cd "$here" && go build -modfile="$tmp/go.mod" -trimpath \
	-ldflags "-s -w -X github.com/hashicorp/vault/version.Version=${VAULT_VERSION#v}" \
	-o "$tmp/vault" github.com/hashicorp/vault)
tool_install vault
tool_end

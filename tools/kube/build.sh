#!/usr/bin/env bash
# Builds the pinned Kubernetes binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kubectl), etcd, kwok and the real node's sandbox
# program (pause) from the Go module proxy into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/kube/<version>/bin
# and prints that folder on stdout. Idempotent: returns at once when every
# binary is present. Each binary is built under a temporary name and renamed
# into place, so an interrupted build never leaves a half binary behind.
# Concurrent callers (parallel test packages) serialise on a lock file.
#
# The versions are pinned by tools/kube/go.mod (Kubernetes, etcd) and
# tools/kube/kwok/go.mod (kwok, its own module graph). KUBE_VERSION names the
# cache folder and must change whenever a pin changes; internal/kubeenv holds
# the same string (a test checks they agree).
set -euo pipefail

KUBE_VERSION=v1.37.2-etcd3.7.0-kwok0.8.0
K8S_VERSION=v1.37.2
KWOK_VERSION=v0.8.0
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl etcd kwok pause)

here="$(cd "$(dirname "$0")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/kube/$KUBE_VERSION"
bin="$cache/bin"

all_present() {
	local b
	for b in "${BINARIES[@]}"; do
		[ -x "$bin/$b" ] || return 1
	done
}

if [ "${1:-}" = "--version" ]; then
	echo "$KUBE_VERSION"
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

log() { echo "kube build: $*" >&2; }

tmp="$(mktemp -d "$cache/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

major="${K8S_VERSION#v}"
major="${major%%.*}"
minor="${K8S_VERSION#v*.}"
minor="${minor%%.*}"
date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
done

export CGO_ENABLED=0
start=$SECONDS

missing=()
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
	[ -x "$bin/$b" ] || missing+=("k8s.io/kubernetes/cmd/$b")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "building Kubernetes $K8S_VERSION: ${missing[*]##*/} (several minutes on a cold cache)"
	(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${missing[@]}")
	for p in "${missing[@]}"; do
		mv -f "$tmp/${p##*/}" "$bin/${p##*/}"
	done
fi

if [ ! -x "$bin/etcd" ]; then
	log "building etcd"
	(cd "$here" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
	mv -f "$tmp/etcd" "$bin/etcd"
fi

if [ ! -x "$bin/kwok" ]; then
	log "building kwok $KWOK_VERSION"
	(cd "$here/kwok" && go build -trimpath \
		-ldflags "-s -w" \
		-o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok)
	mv -f "$tmp/kwok" "$bin/kwok"
fi

if [ ! -x "$bin/pause" ]; then
	log "building pause"
	(cd "$here" && go build -trimpath -ldflags "-s -w" -o "$tmp/pause" ./pause)
	mv -f "$tmp/pause" "$bin/pause"
fi

log "done in $((SECONDS - start))s: $bin"
echo "$bin"

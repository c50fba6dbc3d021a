#!/usr/bin/env bash
# Builds the pinned Kubernetes binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kubectl), etcd, kwok and the real node's sandbox
# program (pause) from the Go module proxy into
#   ${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/kube/<version>/bin
# and prints that folder on stdout. Idempotent, interrupt-safe and serialised
# between concurrent callers: see tools/lib.sh.
#
# The versions are pinned by tools/kube/go.mod (Kubernetes, etcd) and
# tools/kube/kwok/go.mod (kwok, its own module graph). KUBE_VERSION names the
# cache folder and must change whenever a pin changes; internal/kubeenv holds
# the same string (a test checks they agree).
set -euo pipefail

KUBE_VERSION=v1.37.2-etcd3.7.0-kwok0.8.0
K8S_VERSION=v1.37.2
KWOK_VERSION=v0.8.0

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tools/lib.sh
. "$here/../lib.sh"
tool_init kube "$KUBE_VERSION" dir kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl etcd kwok pause
tool_begin "$@"

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

missing=()
for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
	[ -x "$bin/$b" ] || missing+=("k8s.io/kubernetes/cmd/$b")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "building Kubernetes $K8S_VERSION: ${missing[*]##*/} (several minutes on a cold cache)"
	(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${missing[@]}")
	tool_install "${missing[@]##*/}"
fi

if [ ! -x "$bin/etcd" ]; then
	log "building etcd"
	(cd "$here" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
	tool_install etcd
fi

if [ ! -x "$bin/kwok" ]; then
	log "building kwok $KWOK_VERSION"
	(cd "$here/kwok" && go build -trimpath \
		-ldflags "-s -w" \
		-o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok)
	tool_install kwok
fi

if [ ! -x "$bin/pause" ]; then
	log "building pause"
	(cd "$here" && go build -trimpath -ldflags "-s -w" -o "$tmp/pause" ./pause)
	tool_install pause
fi

tool_end

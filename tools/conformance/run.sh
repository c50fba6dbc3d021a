#!/usr/bin/env bash
# Runs the OCI distribution-spec conformance suite (pinned in go.mod here)
# against `conveyor registry serve` on a free loopback port. Every API and
# every data shape is enabled, referrers included; exits non-zero on any
# failure. Results (results.yaml, junit.xml, report.html) go to
# $OCI_RESULTS_DIR (default: a temp folder, printed at the end).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
bin="${CONFORMANCE_BIN:-$work/bin}"
mkdir -p "$bin"

echo "== build conveyor and the conformance suite"
(cd "$root" && go build -o "$bin/conveyor" ./cmd/conveyor)
# The suite is a main package; upstream deprecated running it via `go test`.
(cd "$here" && go build -o "$bin/conformance" github.com/opencontainers/distribution-spec/conformance)

pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work/data"
}
trap cleanup EXIT

echo "== start the registry"
mkfifo "$work/addr"
"$bin/conveyor" registry serve --listen 127.0.0.1:0 --data "$work/data" --name nonprod >"$work/addr" 2>"$work/registry.log" &
pid=$!
read -r addr <"$work/addr"
echo "registry at $addr (log: $work/registry.log)"

echo "== conformance"
results="${OCI_RESULTS_DIR:-$work/results}"
status=0
env OCI_REGISTRY="$addr" OCI_TLS=disabled \
	OCI_REPO1=conformance/repo1 OCI_REPO2=conformance/repo2 \
	OCI_RESULTS_DIR="$results" OCI_VERSION=1.1 OCI_LOG=warn \
	OCI_API_PULL=true OCI_API_PUSH=true \
	OCI_API_BLOBS_ATOMIC=true OCI_API_BLOBS_DELETE=true OCI_API_BLOBS_DIGEST_HEADER=true \
	OCI_API_BLOBS_MOUNT_ANONYMOUS=true OCI_API_BLOBS_UPLOAD_CANCEL=true \
	OCI_API_MANIFESTS_ATOMIC=true OCI_API_MANIFESTS_DELETE=true OCI_API_MANIFESTS_DIGEST_HEADER=true \
	OCI_API_MANIFESTS_TAG_PARAM=true \
	OCI_API_TAGS_ATOMIC=true OCI_API_TAGS_DELETE=true OCI_API_TAGS_LIST=true \
	OCI_API_REFERRER=true \
	"$bin/conformance" || status=$?
if [ ! -s "$results/results.yaml" ]; then
	echo "conformance: no results written (the suite could not start)" >&2
	status=1
fi
echo "results in $results"
exit "$status"

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

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$work"/data-*
}
trap cleanup EXIT

# conformance NAME [registry serve flags…]: one pass of the suite against a
# fresh registry; OCI_USERNAME/OCI_PASSWORD come from the caller's env.
status=0
conformance() {
	local pass="$1"
	shift
	echo "== conformance ($pass)"
	mkfifo "$work/addr-$pass"
	"$bin/conveyor" registry serve --listen 127.0.0.1:0 --data "$work/data-$pass" --name nonprod "$@" \
		>"$work/addr-$pass" 2>"$work/registry-$pass.log" &
	pids+=($!)
	local addr
	read -r addr <"$work/addr-$pass"
	echo "registry at $addr (log: $work/registry-$pass.log)"
	local results="${OCI_RESULTS_DIR:-$work/results}/$pass"
	local rc=0
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
		"$bin/conformance" >"$work/conformance-$pass.txt" 2>&1 || rc=$?
	sed -n '/^OCI Conformance Result/,$p' "$work/conformance-$pass.txt"
	if [ ! -s "$results/results.yaml" ]; then
		echo "conformance ($pass): no results written (the suite could not start):" >&2
		tail -20 "$work/conformance-$pass.txt" >&2
		rc=1
	fi
	echo "results in $results"
	if [ "$rc" -ne 0 ]; then status=1; fi
}

conformance anonymous
token="conformance-$(od -An -tx8 -N16 /dev/urandom | tr -d ' \n')"
# The token reaches the registry through CONVEYOR_TOKEN (not argv) and the
# suite as a basic-auth password.
OCI_USERNAME=ci OCI_PASSWORD="$token" CONVEYOR_TOKEN="$token" conformance token
exit "$status"

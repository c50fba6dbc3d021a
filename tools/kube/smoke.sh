#!/usr/bin/env bash
# Smoke test of the local cluster (make demo until the demo lands): starts
# `conveyor cluster up` in a temporary state folder, applies a Deployment on
# the real node with our kubectl, checks that its pod answers HTTP from this
# host, and takes the cluster down again.
set -euo pipefail
conveyor="${1:-./bin/conveyor}"
here="$(cd "$(dirname "$0")" && pwd)"
bin="$("$here/build.sh")"
kubectl="$bin/kubectl"
state="$(mktemp -d)"
trap '"$conveyor" cluster down --state "$state"' EXIT

eval "$("$conveyor" cluster up --state "$state")"
echo "KUBECONFIG=$KUBECONFIG"
"$kubectl" get nodes -o wide
"$kubectl" apply -f "$here/smoke.yaml"
"$kubectl" rollout status deployment/smoke --timeout=120s
ip="$("$kubectl" get pods -l app=smoke -o jsonpath='{.items[0].status.podIP}')"
answer="$(curl -fsS --max-time 5 "http://$ip:8080/")"
echo "smoke pod $ip answers: $answer"
[ "$answer" = "pause ok" ]

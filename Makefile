# Conveyor — the two set-up commands of the README are `make demo` and `make test`.
GO ?= go
GOFLAGS_TEST ?=

.PHONY: demo test vet build kube-binaries tool-binaries

build:
	$(GO) build -o bin/conveyor ./cmd/conveyor

# The main job on embedded defaults. Until the demo lands: a smoke test of the
# local cluster (conveyor cluster up, a Deployment answering HTTP on the real
# node, conveyor cluster down).
demo: build kube-binaries
	./tools/kube/smoke.sh ./bin/conveyor

# Every test of the module; needs the kube binaries and the peers the tests
# run for real (Gitea, HashiCorp Vault, cosign, BuildKit), each built from the
# Go module proxy on first use and cached under ~/.cache/conveyor.
test: kube-binaries tool-binaries
	$(GO) test $(GOFLAGS_TEST) -count=1 -timeout 30m ./...

tool-binaries:
	@for s in tools/*/build.sh; do \
		case $$s in tools/kube/*) continue;; esac; \
		echo "== $$s"; ./$$s >/dev/null || exit 1; \
	done

kube-binaries:
	./tools/kube/build.sh

vet:
	$(GO) vet ./...

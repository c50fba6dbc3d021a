# Conveyor — the two set-up commands of the README are `make demo` and `make test`.
GO ?= go
GOFLAGS_TEST ?=

.PHONY: demo test vet build kube-binaries tool-binaries

build:
	$(GO) build -o bin/conveyor ./cmd/conveyor

# The main job on embedded defaults: conveyor demo, the whole reference flow
# with examples/webapp (PR → CI → CD with staging, acceptance tests, the
# production approval asked on the terminal, promotion, production).
# DEMO_FLAGS=--yes approves on its own; DEMO_FLAGS=--keep leaves it running.
DEMO_FLAGS ?=
demo: build kube-binaries
	./bin/conveyor demo $(DEMO_FLAGS)

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

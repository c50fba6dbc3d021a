# Conveyor — the two set-up commands of the README are `make demo` and `make test`.
GO ?= go
GOFLAGS_TEST ?=

.PHONY: demo test vet build kube-binaries

build:
	$(GO) build -o bin/conveyor ./cmd/conveyor

# The main job on embedded defaults. Until the demo lands: a smoke test of the
# local cluster (conveyor cluster up, a Deployment answering HTTP on the real
# node, conveyor cluster down).
demo: build kube-binaries
	./tools/kube/smoke.sh ./bin/conveyor

# Every test of the module; needs the kube binaries (built on first use).
test: kube-binaries
	$(GO) test $(GOFLAGS_TEST) -count=1 ./...

kube-binaries:
	./tools/kube/build.sh

vet:
	$(GO) vet ./...

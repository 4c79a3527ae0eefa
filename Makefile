# headroom — capacity planning and autoscaling for Kubernetes.
# `make help` lists the targets.

GO        ?= go
BIN       := bin
TRACES    ?= testdata/traces
PKGS      := ./...
# Packages with goroutines run under the race detector.
RACE_PKGS := ./actuator/... ./cmd/... ./metrics/store/... ./runner/... ./simulator/... ./report/... ./policy/...

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/headroom.
	$(GO) build -o $(BIN)/headroom ./cmd/headroom

.PHONY: test
test: ## Unit tests (race detector on concurrent packages), then integration tests when the kube binaries are built.
	$(GO) test -count=1 $(PKGS)
	$(GO) test -count=1 -race $(RACE_PKGS)
	@if [ -x test/kube/bin/kube-apiserver ]; then $(MAKE) test-integration; \
	 else echo "test/kube/bin/kube-apiserver not built: skipping integration tests (make kube-bin)"; fi

.PHONY: test-integration
test-integration: ## Integration tests against a real kube-apiserver + etcd (needs `make kube-bin`).
	cd test/kube && HEADROOM_REQUIRE_KUBE=$${HEADROOM_REQUIRE_KUBE:-1} $(GO) test -count=1 -timeout 30m ./...

.PHONY: kube-bin
kube-bin: ## Build the kube-apiserver used by the integration tests into test/kube/bin (about 15 min the first time).
	cd test/kube && v=$$($(GO) list -modfile=kube-apiserver.mod -m -f '{{.Version}}' k8s.io/kubernetes) && \
	  $(GO) build -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$$v \
	    -X k8s.io/component-base/version.gitMajor=$$(echo $$v | cut -d. -f1 | tr -d v) \
	    -X k8s.io/component-base/version.gitMinor=$$(echo $$v | cut -d. -f2) \
	    -X k8s.io/component-base/version.gitTreeState=clean" \
	  -modfile=kube-apiserver.mod -o bin/kube-apiserver ./cmd/kube-apiserver

.PHONY: bench
bench: ## Go benchmarks (speed and allocations).
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

.PHONY: lint
lint: ## go vet and gofmt (fails when gofmt would change a file).
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

.PHONY: eval
eval: build ## Backtest every shipped trace: MASE, sMAPE, coverage per model and the automatic choice.
	$(BIN)/headroom eval --traces $(TRACES)

.PHONY: demo
demo: build ## The main job on shipped traces, no cluster: a forecast, a plan, a what-if simulation with a zone loss, and its report (bin/report.html).
	@echo "== headroom forecast: the next 6 hours of NYC taxi demand, with calibrated quantiles"
	$(BIN)/headroom forecast --input $(TRACES)/nab-realKnownCause-nyc_taxi.csv --horizon 6h -o table
	@echo; echo "== headroom plan: replicas, node pools and cost for the example plan (changes nothing)"
	$(BIN)/headroom plan --config testdata/plans/example.yaml
	@echo; echo "== headroom simulate: predictive vs reactive vs static vs scheduled, losing a zone and a node"
	$(BIN)/headroom simulate --config testdata/plans/example.yaml --scenario testdata/scenarios/zone-loss.yaml --report $(BIN)/report.html
	@echo; echo "== the capacity-review report of that simulation: $(BIN)/report.html (one self-contained file; open it in a browser)"

.PHONY: fuzz
fuzz: ## Fuzz the trace reader for 30 s.
	$(GO) test -run '^$$' -fuzz FuzzRead -fuzztime 30s ./metrics/trace

.PHONY: clean
clean: ## Remove build output.
	rm -rf $(BIN)

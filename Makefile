# Scantron build, test and dev targets. `make help` lists them.
#
# Tools (temporal, versitygw, staticcheck) live in ./bin, the dev stack's
# state in ./.data; both are git-ignored.

SHELL := /bin/bash
GO    ?= go

.DEFAULT_GOAL := help

.PHONY: help tools test-tools temporal-server build run test lint fuzz chaos flaky bench bench-sweep clean-data package

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  \1\t/' | expand -t 18

tools: ## install missing packages and tools (idempotent; quiet when all present)
	@./scripts/install-tools.sh

test-tools: ## tools, plus what only the tests need (chromium)
	@./scripts/install-tools.sh --tests

# Temporal with Scantron's authorizer and claim mapper, built from its own
# module (temporal-config/server) so the server's dependencies stay out of
# go.mod. Rebuilt only when its sources or go.sum change (the hash of them is
# kept beside the binary); a cold build takes several minutes.
TSERVER_SRC = $(sort $(wildcard temporal-config/server/*.go)) temporal-config/server/go.mod temporal-config/server/go.sum

temporal-server: ## build bin/scantron-temporal (the authorizing Temporal server) when its sources changed
	@sum="$$(cat $(TSERVER_SRC) | sha256sum | cut -c1-64)"; \
	if [ -x bin/scantron-temporal ] && [ "$$(cat bin/scantron-temporal.sum 2>/dev/null)" = "$$sum" ]; then exit 0; fi; \
	echo "building bin/scantron-temporal (several minutes when cold)"; \
	mkdir -p bin; \
	(cd temporal-config/server && $(GO) build -o ../../bin/scantron-temporal.new .) && \
	mv bin/scantron-temporal.new bin/scantron-temporal && echo "$$sum" > bin/scantron-temporal.sum

build: ## build bin/scantron
	$(GO) build -o bin/scantron ./cmd/scantron

# The .deb's version: VERSION, or 0.0.0+git<commit> between releases.
VERSION ?= 0.0.0+git$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIST    ?= dist
DEB_ARCH ?= $(shell $(GO) env GOARCH)

# BINARY packages a scantron binary built elsewhere instead of building one.
BINARY  ?=
STAGE   := $(DIST)/.stage

package: ## build $(DIST)/scantron_<version>_<arch>.deb: the binary and hardened systemd units for agent and server
	@./scripts/install-tools.sh --package
	@rm -rf $(STAGE) && mkdir -p $(STAGE)
ifeq ($(BINARY),)
	CGO_ENABLED=0 GOARCH=$(DEB_ARCH) $(GO) build -trimpath -ldflags='-s -w -X main.version=$(VERSION)' -o $(STAGE)/scantron ./cmd/scantron
else
	cp $(BINARY) $(STAGE)/scantron
endif
	cp packaging/nfpm.yaml packaging/*.service packaging/*.sh $(STAGE)/
	cd $(STAGE) && SCANTRON_VERSION='$(VERSION)' SCANTRON_ARCH='$(DEB_ARCH)' $(CURDIR)/bin/nfpm package --config nfpm.yaml --packager deb --target ..
	@rm -rf $(STAGE)

run: tools build ## start PostgreSQL, S3, Temporal, server and a local agent (state in .data; Ctrl-C stops)
	./bin/scantron dev

test: lint temporal-server ## lint, build the authorizing Temporal server, run every package's tests, fuzz the parsers briefly, then the fault-injection suite
	$(GO) test -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory chaos

# The fault-injection suite (chaos/) runs only with SCANTRON_CHAOS set, so
# that `go test ./...` above does not run it too.
chaos: tools ## kill and restart agent, server, PostgreSQL, S3, Temporal under runs; print the figures
	SCANTRON_CHAOS=1 $(GO) test -count=1 -v -timeout 40m ./chaos/

# The integration suites again and again under CPU contention (a burner on
# every core, then GOMAXPROCS=1 too), to catch tests that pass only on an
# idle machine. Long: not part of `make test`. ROUNDS, COUNT, PKGS, RUN,
# BURNERS, PARALLEL and TIMEOUT tune it (see scripts/flaky.sh).
flaky: tools ## run the integration suites ROUNDS times under CPU contention; report each failing test
	ROUNDS=$(ROUNDS) COUNT=$(COUNT) PKGS="$(PKGS)" RUN="$(RUN)" BURNERS=$(BURNERS) PARALLEL=$(PARALLEL) TIMEOUT=$(TIMEOUT) ./scripts/flaky.sh

# Every parser of untrusted input, fuzzed for a bounded time each (FUZZTIME):
# every Fuzz function under scan/ (the parsers, and each scanner driver's
# output reader), found rather than listed, so a new driver's is included.
# Go before 1.27 can fail a target with a bare "context deadline exceeded"
# as -fuzztime ends on a busy machine (go.dev/issue/75804): that, with no
# failing input written, is reported and not counted as a finding.
FUZZTIME ?= 15s
FUZZ_TARGETS := $(shell grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' scan | sed 's|^\(.*\)/[^/]*_test.go:func |./\1:|' | sort)

fuzz: ## fuzz each parser of untrusted input for FUZZTIME (default 15s)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn ($$pkg, $(FUZZTIME))"; \
		if ! $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg > .fuzz-$$fn.log 2>&1; then \
			if ! grep -q 'Failing input written' .fuzz-$$fn.log && grep -q '^    context deadline exceeded$$' .fuzz-$$fn.log; then \
				echo "fuzz $$fn: Go's fuzz coordinator raced its own -fuzztime deadline (go.dev/issue/75804, fixed in Go 1.27); no failing input, not a finding"; \
			else cat .fuzz-$$fn.log; rm -f .fuzz-$$fn.log; exit 1; fi; \
		else tail -n 1 .fuzz-$$fn.log; fi; \
		rm -f .fuzz-$$fn.log; \
	done

lint: test-tools ## gofmt, go vet, staticcheck, docker-compose config
	@unformatted="$$(git ls-files -co --exclude-standard -- '*.go' | xargs -r gofmt -l)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	./bin/staticcheck ./...
	@if command -v docker-compose >/dev/null 2>&1; then \
		echo "docker-compose -f docker-compose.yml config -q"; \
		noenv="$$(mktemp)"; trap 'rm -f "$$noenv"' EXIT; \
		if env -u SCANTRON_POSTGRES_PASSWORD -u SCANTRON_S3_PASSWORD -u SCANTRON_ADMIN_PASSWORD -u SCANTRON_TEMPORAL_POSTGRES_PASSWORD \
			docker-compose -f docker-compose.yml --env-file "$$noenv" config -q >/dev/null 2>&1; then \
			echo "docker-compose.yml starts without passwords set: it must refuse"; exit 1; \
		fi; \
		SCANTRON_POSTGRES_PASSWORD=lint SCANTRON_S3_PASSWORD=lint-secret SCANTRON_ADMIN_PASSWORD=lint-password SCANTRON_TEMPORAL_POSTGRES_PASSWORD=lint-temporal \
			docker-compose -f docker-compose.yml --env-file "$$noenv" config -q; \
	fi

# Sizes of the generated files the parser comparison runs on.
BENCH_SIZES ?= 10MB,100MB,1GB

bench: temporal-server ## run the benchmarks (among them every list page and API list over 1,000 seeded scans and 100,000 runs, against 200 ms; the schedule load harness: 1,000 scheduled scans, 50 simulated agents, a burst of 200 fires; the /16 ingest pipeline: bare COPY, batched INSERT and ours over the same 524,288 port rows, then each stage against 10 s), the XML parser comparison on BENCH_SIZES files, and the pool harness (1, 2, 4 agents)
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./scan/report/internal/benchparse -sizes $(BENCH_SIZES)
	set -o pipefail; SCANTRON_BENCH_POOL=1 $(GO) test -count=1 -run '^TestPoolScaling$$' -v ./e2e/ | grep -E '^(agents=|no network|--- |ok|FAIL)'

bench-sweep: ## the sweep SIMULATION: one run of a /8 (65,536 shards; SWEEP=16 for a /16) through PostgreSQL, S3 and Temporal with 24 in-process agents whose scanner is a stand-in; wall time, events per history, CPU and RSS. Long: about an hour for the /8 on a 2-core machine
	SCANTRON_BENCH_SWEEP=$(or $(SWEEP),8) $(GO) test -count=1 -run '^$$' -bench '^BenchmarkSweepSimulation$$' -benchtime 1x -timeout 8h ./workers/

clean-data: ## delete .data (the dev stack's state); stops nothing, so stop `make run` first
	rm -rf .data

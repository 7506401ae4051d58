# credtrace: two commands a new user needs: `make run` and `make test`.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build run test vet lint fmt-check bench bench-short bench-validity soak browser-deps

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/credtrace ./cmd/credtrace

## run: build and start the service on the embedded SQLite store in ./data
run: build
	./bin/credtrace serve

## test: formatting, vet, lint, and the whole suite (SQLite and MongoDB backends; the MongoDB tests
## start an embedded FerretDB unless CREDTRACE_TEST_MONGO_URI points at a real server)
test: fmt-check vet lint browser-deps
	$(GO) test -count=1 -timeout 14m ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=2000x

## fuzz: each fuzz target in turn (FUZZTIME each; make test runs 2,000 inputs of each, a long
## session is e.g. make fuzz FUZZTIME=10m). make test counts inputs rather than seconds: Go 1.26's
## fuzz coordinator can fail a duration-bounded run with a bare "context deadline exceeded"
## when the machine is loaded (golang/go#75804, fixed in Go 1.27), and a count has no deadline.
## A crash is written to the package's testdata/fuzz/ and fails
## the run; commit it there and it becomes a regression test of the ordinary suite.
FUZZTIME ?= 2m
FUZZ_TARGETS := courier:FuzzCheckUSCC courier:FuzzCheckResidentID courier:FuzzCursor scoring:FuzzParseMethod \
	httpapi:FuzzEventBodies httpapi:FuzzDashboardForms
.PHONY: fuzz
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$pkg >/tmp/credtrace-fuzz.$$$$.log 2>&1 || { tail -30 /tmp/credtrace-fuzz.$$$$.log; exit 1; }; \
		tail -1 /tmp/credtrace-fuzz.$$$$.log; rm -f /tmp/credtrace-fuzz.$$$$.log; \
	done

## browser-deps: Debian's chromium (and a CJK font for the screenshots) for the dashboard's
## browser test, installed when missing and when this user may (CI runs as root)
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s fonts-wqy-microhei >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium and fonts-wqy-microhei for the browser test"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
		else echo "chromium missing and not root: the browser test will skip (it fails under CI)"; fi; \
	fi

vet:
	$(GO) vet ./...

## lint: staticcheck, pinned in go.mod as a tool (go tool staticcheck: built from the module
## proxy on first use, no install step)
lint:
	$(GO) tool staticcheck ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## bench: the full bench on this machine (several minutes); prints the table and keeps the raw
## output in $(BENCH_OUT)/latest.txt and latest.json, outside the tracked tree so that the work
## tree stays clean. To keep a run as the project's record, copy both over bench/latest.* and
## commit them with the README's "Measured" table: make bench BENCH_OUT=bench does both files.
BENCH_OUT ?= bin/bench
bench: build
	@mkdir -p $(BENCH_OUT)
	./bin/credtrace bench -out $(BENCH_OUT)/latest.json 2>&1 | tee $(BENCH_OUT)/latest.txt
	@echo "MongoDB backend against the embedded FerretDB test server (functional only: FerretDB scans instead of using indexes):" | tee -a $(BENCH_OUT)/latest.txt
	$(GO) test -run '^$$' -bench Mongo -benchtime 20x ./store/mongodb 2>&1 | grep -E '^Benchmark' | tee -a $(BENCH_OUT)/latest.txt
	@$(MAKE) --no-print-directory bench-validity BENCH_OUT=$(BENCH_OUT)

## bench-validity: the validity bench (a few minutes): three synthetic worlds written through an
## in-process service, scored, and compared with their truth (Spearman of true quality and
## score, each manipulation detector's precision and recall, tiny subjects graded insufficient,
## grades against true-quality bands); prints the table and keeps it in $(BENCH_OUT)/validity.*
bench-validity: build
	@mkdir -p $(BENCH_OUT)
	./bin/credtrace bench -validity -out $(BENCH_OUT)/validity.json 2>&1 | tee $(BENCH_OUT)/validity.txt

## soak: ingestion, trace lookups, SSE subscribers, webhook deliveries and scoring runs at once
## against a child `credtrace serve` for SOAK_TIME, after ingesting 110,000 parcels first (about
## three minutes here; not part of make test); prints resident
## memory, goroutines, open files and p99 latencies per minute and fails when one of them
## trends up past the bounds it prints (see the README's "Soak")
SOAK_TIME ?= 20m
soak: build
	./bin/credtrace bench -soak $(SOAK_TIME)

## bench-short: the same figures at a small scale, in under two minutes; prints them and writes
## nothing
bench-short: build
	./bin/credtrace bench -short
	$(GO) test -run '^$$' -bench Mongo -benchtime 5x ./store/mongodb 2>&1 | grep -E '^Benchmark'

## demo: build, start the service on a fresh temporary data directory with a fixed regulator
## token, fill it with a small district (credtrace gen --size small), print where it listens and
## how to sign in, and keep it running in the foreground until Ctrl-C
DEMO_ADDR  ?= 127.0.0.1:8080
DEMO_TOKEN ?= ct_demo-regulator-token-0123456789
.PHONY: demo
demo: build
	@dir=$$(mktemp -d "$${TMPDIR:-/tmp}/credtrace-demo.XXXXXX"); \
	CREDTRACE_ADMIN_TOKEN='$(DEMO_TOKEN)' ./bin/credtrace serve --addr '$(DEMO_ADDR)' --data "$$dir" --address-checks 1000000 >"$$dir/serve.log" 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid; echo "demo stopped; its data stays in $$dir"; exit 0' INT TERM; \
	if ! ./bin/credtrace gen --wait 30s --size small --url 'http://$(DEMO_ADDR)' --token '$(DEMO_TOKEN)'; then \
		kill $$pid 2>/dev/null; echo "demo: gen failed; the service's log ($$dir/serve.log) ends with:"; tail -n 5 "$$dir/serve.log"; exit 1; \
	fi; \
	echo; \
	echo "credtrace demo listening on http://$(DEMO_ADDR) (data $$dir, log $$dir/serve.log)"; \
	echo "dashboard: open http://$(DEMO_ADDR)/ui/ and sign in with the token below"; \
	echo "sign in with the regulator token: $(DEMO_TOKEN)"; \
	echo "try: curl -H 'Authorization: Bearer $(DEMO_TOKEN)' http://$(DEMO_ADDR)/v1/firms"; \
	echo "Ctrl-C stops the service"; \
	wait $$pid

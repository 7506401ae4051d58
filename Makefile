# credtrace: two commands a new user needs: `make run` and `make test`.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build run test vet fmt-check bench bench-short

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/credtrace ./cmd/credtrace

## run: build and start the service on the embedded SQLite store in ./data
run: build
	./bin/credtrace serve

## test: formatting, vet, and the whole suite (SQLite and MongoDB backends; the MongoDB tests
## start an embedded FerretDB unless CREDTRACE_TEST_MONGO_URI points at a real server)
test: fmt-check vet
	$(GO) test -count=1 -timeout 14m ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## bench: the full bench on this machine (several minutes); prints the table and keeps the raw
## output in bench/latest.txt and bench/latest.json so runs can be compared
bench: build
	@mkdir -p bench
	./bin/credtrace bench -out bench/latest.json 2>&1 | tee bench/latest.txt
	@echo "MongoDB backend against the embedded FerretDB test server (functional only: FerretDB scans instead of using indexes):" | tee -a bench/latest.txt
	$(GO) test -run '^$$' -bench Mongo -benchtime 20x ./store/mongodb 2>&1 | grep -E '^Benchmark' | tee -a bench/latest.txt

## bench-short: the same figures at a small scale, in under two minutes
bench-short: build
	./bin/credtrace bench -short
	$(GO) test -run '^$$' -bench Mongo -benchtime 5x ./store/mongodb 2>&1 | grep -E '^Benchmark'

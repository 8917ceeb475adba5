# Set-up: `make run` (the main job) and `make test` (every check and test).
# See README.md.

GO ?= go
STATICCHECK_VERSION := v0.8.2
# staticcheck is installed into the repository (bin/ is git-ignored), in a
# directory named after its version so that a version bump reinstalls it.
STATICCHECK_BIN := $(CURDIR)/bin/staticcheck-$(STATICCHECK_VERSION)
STATICCHECK := $(STATICCHECK_BIN)/staticcheck
TEST_TIMEOUT ?= 30m
BENCH ?= .

.PHONY: run test generate check-generated sync check-lexicons lint fmt-check vet staticcheck bench

## run: the main job: the example web app (examples/webapp), a loopback
## development client on http://127.0.0.1:8080 with its SQLite store in ./data.
run:
	$(GO) run ./examples/webapp

## test: every check and every test (what CI runs through .ci/run).
test: lint check-generated check-lexicons
	$(GO) test -timeout $(TEST_TIMEOUT) ./...

## generate: regenerate the Go code from lexicons/.
generate:
	$(GO) run ./cmd/lexgen

## check-generated: fail, naming every stale or missing file, if the
## generated code differs from what lexicons/ generates.
check-generated:
	$(GO) run ./cmd/lexgen -check

## sync: copy the lexicons of the indigo version pinned in go.mod into lexicons/.
sync:
	$(GO) run ./cmd/lexgen sync

## check-lexicons: fail if lexicons/ differs from the pinned indigo module.
check-lexicons:
	$(GO) run ./cmd/lexgen sync -check

## lint: gofmt, go vet and staticcheck.
lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(find . \( -path ./.git -o -path ./bin -o -path ./.cache -o -name node_modules \) -prune \
		-o -name '*.go' -type f -print | xargs -r gofmt -l); \
	if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(STATICCHECK_BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## bench: every benchmark, with allocations, then the same-run comparisons
## with indigo (bench/README.md).
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -timeout $(TEST_TIMEOUT) ./...
	$(GO) run ./bench/lexgen
	$(GO) run ./bench/decode

# Every target that needs a database goes through scripts/pg.sh, which finds
# or starts a PostgreSQL server (see the script's header). `make` alone lists
# the targets.

GO          ?= go
# Extra flags for go test, e.g. make test GOTESTFLAGS='-run TestCreate -v'
GOTESTFLAGS ?=
# RACE=1 turns on the race detector (several times slower on small machines).
RACE        ?=
# Benchmark pattern for `make bench`, e.g. make bench BENCH=Migrate
BENCH       ?= .

RACEFLAG := $(if $(filter 1,$(RACE)),-race,)

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

.PHONY: test
test: lint ## Run every test against a real PostgreSQL
	scripts/pg.sh test -- $(GO) test -count=1 $(RACEFLAG) -timeout 20m $(GOTESTFLAGS) ./...

.PHONY: lint
lint: ## Check formatting (gofmt) and go vet
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

.PHONY: bench
bench: ## Run the benchmarks
	scripts/pg.sh test -- $(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count 1 -timeout 30m ./tenancy/...

.PHONY: demo
demo: ## Database up, migrated, seeded, API served on 127.0.0.1:8000
	scripts/pg.sh demo -- scripts/demo.sh

.PHONY: example
example: ## Run examples/library against a throwaway database
	scripts/pg.sh test -- $(GO) run ./examples/library

.PHONY: build
build: ## Compile every package
	$(GO) build ./...

.PHONY: tidy
tidy: ## Tidy go.mod and go.sum
	$(GO) mod tidy

.PHONY: clean
clean: ## Stop the demo cluster, remove .pg and bin
	-scripts/pg.sh stop demo
	rm -rf .pg bin

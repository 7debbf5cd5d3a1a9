# Every target that needs a database goes through pgenv
# (internal/pgcluster/cmd/pgenv), which finds or starts a PostgreSQL server
# (README, "Databases"). `make` alone lists the targets.

GO          ?= go
# Extra flags for go test, e.g. make test GOTESTFLAGS='-run TestCreate -v'
GOTESTFLAGS ?=
# RACE=1 turns on the race detector (several times slower on small machines).
RACE        ?=
# Benchmarks of `make bench` (a regexp of their names), e.g. make bench BENCH=fleet
BENCH       ?=
# small: a quick run (< 2 minutes); full: 10,000 tenants (over 20 minutes)
BENCH_SCALE ?= full

# Flags of pgenv, e.g. make test PGENVFLAGS=--no-system (a private cluster
# even where a server runs on 5432)
PGENVFLAGS  ?=

RACEFLAG := $(if $(filter 1,$(RACE)),-race,)
# Built, not `go run`: go run would turn the command's exit status into 1.
PGENV = $(GO) build -o bin/pgenv ./internal/pgcluster/cmd/pgenv && bin/pgenv $(PGENVFLAGS)

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

.PHONY: test
test: lint ## Run every test against a real PostgreSQL, then fuzz each target briefly
	$(PGENV) test -- sh -c '$(GO) test -count=1 $(RACEFLAG) -timeout 20m $(GOTESTFLAGS) ./... && \
		$(if $(GOTESTFLAGS),true,$(call fuzz_loop,$(FUZZTIME_BRIEF)))'


.PHONY: lint
lint: ## Check formatting (gofmt), go vet and staticcheck
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

.PHONY: bench
bench: ## Benchmarks vs PostgreSQL's floor on a throwaway fsync-on cluster, into BENCHMARKS.md (BENCH_SCALE=small: < 2 min)
	$(GO) run ./internal/bench/cmd/benchrun -scale '$(BENCH_SCALE)' -only '$(filter-out .,$(BENCH))' -out BENCHMARKS.md

# Budget of each fuzz target in `make fuzz`, and in `make test`'s brief
# pass (skipped when GOTESTFLAGS narrows the run). The brief pass counts
# executions: a duration races Go 1.26's fuzz coordinator at its deadline
# on a loaded machine ("context deadline exceeded" with no failing input,
# golang/go#75804, fixed in Go 1.27), and a red CI must mean a finding.
FUZZTIME    ?= 60s
FUZZTIME_BRIEF ?= 3000x
FUZZ_TARGETS = pkg/api:FuzzCenterBody pkg/api:FuzzUserBody pkg/api:FuzzSampleBody \
	pkg/api:FuzzListQuery pkg/api:FuzzPathSegment pkg/domain:FuzzCheckJSONObject \
	pkg/domain:FuzzCheckText pkg/domain:FuzzOrderBy pkg/domain:FuzzEscapeLike \
	tenancy:FuzzParseSchemaName tenancy:FuzzParseID internal/sqlsplit:FuzzSplit

# One fuzz run per target, in sequence, FUZZTIME each; used by fuzz and test.
fuzz_loop = for t in $(FUZZ_TARGETS); do echo "== fuzz $$t $(1)"; \
	$(GO) test ./$${t%%:*}/ -run "^$$" -fuzz="^$${t\#\#*:}$$" -fuzztime=$(1) || exit 1; done

.PHONY: fuzz
fuzz: ## Fuzz every target for FUZZTIME each (go fuzzes one target per run)
	$(PGENV) test -- sh -c '$(call fuzz_loop,$(FUZZTIME))'

.PHONY: soak
soak: ## Long reliability runs: 1,000,000 API requests, 20 restarts, bigger races (see RELIABILITY.md)
	TENANTCTL_LOAD_REQUESTS=1000000 TENANTCTL_LOAD_TENANTS=1000 \
	TENANTCTL_RESTART_CYCLES=20 TENANTCTL_FAULT_FLEET=200 \
	TENANTCTL_RACE_ROUNDS=200 TENANTCTL_MIGRATE_CENTERS=500 \
	$(PGENV) test -- $(GO) test -count=1 -timeout 3h -v \
		-run 'TestIsolationUnderLoad|TestPostgresRestartUnderLoad|TestFleetMigrateBackendTerminated|TestCenterCreateRace|TestConcurrentCenterMigrateAll|TestClusterRestarts' \
		./internal/... ./tenancy/... ./pkg/domain/... ./pkg/cli/...

.PHONY: demo
demo: ## Database up, migrated, seeded, API and web console served on 127.0.0.1:8000
	$(PGENV) demo -- scripts/demo.sh

.PHONY: example
example: ## Run examples/library against a throwaway database
	$(PGENV) test -- $(GO) run ./examples/library

# The container image (Dockerfile, compose.yaml; README, "Containers"):
# both binaries compiled here, static, copied into an image FROM scratch,
# so no base image is pulled. ENGINE builds it: podman if installed, else
# docker.
IMAGE      ?= tenantctl:latest
ENGINE     ?= $(if $(shell command -v podman 2>/dev/null),podman,docker)
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# SPDX identifier of the image's licence label; the repository names none yet.
LICENSES   ?= NOASSERTION

.PHONY: image-context
image-context: ## Stage bin/image/ for the Dockerfile: static binaries, CA bundle, passwd/group
	rm -rf bin/image
	mkdir -p bin/image/etc/ssl/certs
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o bin/image/ ./cmd/apiserver ./cmd/tenantctl
	cp /etc/ssl/certs/ca-certificates.crt bin/image/etc/ssl/certs/
	printf 'root:x:0:0:root:/:/sbin/nologin\ntenantctl:x:65532:65532:tenantctl:/:/sbin/nologin\n' >bin/image/etc/passwd
	printf 'root:x:0:\ntenantctl:x:65532:\n' >bin/image/etc/group

.PHONY: image
image: image-context ## Build the container image $(IMAGE) (podman, else docker)
	$(ENGINE) build $(if $(filter podman,$(notdir $(ENGINE))),--format docker,) -t $(IMAGE) \
		--build-arg VERSION='$(VERSION)' --build-arg REVISION='$(REVISION)' --build-arg LICENSES='$(LICENSES)' .
	$(ENGINE) image ls $(IMAGE)

.PHONY: image-test
image-test: image-context ## Build the image with podman (installed as root if missing) and run it against a test database
	$(PGENV) test -- env TENANTCTL_IMAGE_TEST=1 TENANTCTL_IMAGE_VERSION='$(VERSION)' TENANTCTL_IMAGE_REVISION='$(REVISION)' \
		$(GO) test -count=1 -v -timeout 15m -run '^TestImage$$' ./internal/container/

.PHONY: build
build: ## Compile every package
	$(GO) build ./...

.PHONY: tidy
tidy: ## Tidy go.mod and go.sum
	$(GO) mod tidy

.PHONY: clean
clean: ## Stop the demo cluster, remove .pg and bin
	-$(PGENV) stop demo
	rm -rf .pg bin

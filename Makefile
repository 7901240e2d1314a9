GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# One static binary: no cgo (the pure-Go resolver and user lookup), so it
# runs on any Linux, distroless static included. Release builds drop the
# symbol table and DWARF (-s -w); `make build DEBUG=1` keeps them for
# debuggers and symbolized core dumps (panics name functions either way).
# Only builds: tests need cgo for -race.
CGO_ENABLED ?= 0
STRIP_FLAGS := $(if $(DEBUG),,-s -w)

# `make image` tags the image $(IMAGE):$(VERSION).
IMAGE ?= fastgate/gateway

# The alerting rules `make test` checks with promtool (scripts/promtool.sh
# fetches it from Debian's prometheus package when it is not installed).
PROMTOOL    ?= promtool
ALERT_RULES := configs/prometheus/gateway-alerts.yml

# Services that `make test` starts on loopback when they are not up yet
# (any of: redis nats rabbitmq etcd pebble); see scripts/services.sh.
TEST_SERVICES ?= redis etcd nats rabbitmq pebble

STATICCHECK_VERSION := v0.8.2
GOBIN_DIR   := $(or $(shell $(GO) env GOBIN),$(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin)
STATICCHECK := $(GOBIN_DIR)/staticcheck

.PHONY: all build run test test-allocs services services-stop lint fmt-check vet staticcheck rules image bench soak clean

all: build

build:
	CGO_ENABLED=$(CGO_ENABLED) $(GO) build -trimpath -ldflags "$(STRIP_FLAGS) $(LDFLAGS)" -o bin/gateway ./cmd/gateway
	CGO_ENABLED=$(CGO_ENABLED) $(GO) build -trimpath -ldflags "$(STRIP_FLAGS) $(LDFLAGS)" -o bin/demo-upstream ./cmd/demo-upstream
	CGO_ENABLED=$(CGO_ENABLED) $(GO) build -trimpath -ldflags "$(STRIP_FLAGS) $(LDFLAGS)" -o bin/demo-grpc ./cmd/demo-grpc

# docs/config-reference.md from the config types' doc comments; a test in
# internal/configdoc fails when the checked-in file differs.
.PHONY: docs
docs:
	$(GO) run ./internal/configdoc -o docs/config-reference.md

# What configs/publish.yaml publishes to, made on the local brokers.
.PHONY: demo-brokers
demo-brokers:
	$(GO) run ./cmd/demo-setup

# A throwaway CA and a certificate for localhost and 127.0.0.1 signed by
# it, made with openssl into $(TLS_DEMO_DIR): ca.crt (what curl --cacert
# trusts), localhost.crt and localhost.key (what tls.certificates names).
# For trying TLS out only; see docs/tls.md.
TLS_DEMO_DIR ?= /tmp/gateway-tls-demo
.PHONY: tls-demo-certs
tls-demo-certs:
	mkdir -p $(TLS_DEMO_DIR)
	cd $(TLS_DEMO_DIR) && \
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj "/CN=gateway demo CA" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign -keyout ca.key -out ca.crt 2>/dev/null && \
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
		-keyout localhost.key -out localhost.csr 2>/dev/null && \
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > localhost.ext && \
	openssl x509 -req -in localhost.csr -CA ca.crt -CAkey ca.key -set_serial 0x$$(openssl rand -hex 8) \
		-days 30 -extfile localhost.ext -out localhost.crt 2>/dev/null && \
	rm -f localhost.csr localhost.ext ca.key
	@echo "wrote $(TLS_DEMO_DIR)/ca.crt, localhost.crt and localhost.key"

# The demo upstream in the background and the gateway in the foreground;
# Ctrl-C stops both.
run: build
	scripts/run.sh

# REQUIRE_SERVICES makes a test that cannot reach its service fail instead
# of skipping: run by hand without it, such tests skip.
# -pgo=off: tests check behaviour, and cmd/gateway's default.pgo would
# have its test binary's every dependency compiled a second time.
test: services lint rules
	REQUIRE_SERVICES=1 $(GO) test -pgo=off -race -shuffle=on -count=1 ./...
	$(MAKE) --no-print-directory test-allocs
	scripts/services_test.sh

# The allocation budgets, and the streams of a whole gigabyte, live in
# files built only without the race detector (//go:build !race), so the
# -race run above skips them: run exactly the tests of those files here,
# without -race. Both lists are read from the files, so a new test of that
# kind cannot be left out.
ALLOC_FILES := $(shell grep -rlE --include='*_test.go' '^//go:build .*!race' . | sort)
ALLOC_SED   := s/^func \(Test[A-Za-z0-9_]*\)[(].*/\1/p
ALLOC_TESTS := ^($(shell sed -n '$(ALLOC_SED)' $(ALLOC_FILES) | sort -u | paste -sd'|' -))$$
ALLOC_PKGS  := $(sort $(dir $(ALLOC_FILES)))
test-allocs:
	REQUIRE_SERVICES=1 $(GO) test -pgo=off -count=1 -run '$(ALLOC_TESTS)' $(ALLOC_PKGS)

# Starts what TEST_SERVICES lists unless it already runs, and says what it
# started; services-stop stops only those (by their pid files).
services:
	scripts/services.sh $(TEST_SERVICES)

services-stop:
	scripts/services.sh stop $(TEST_SERVICES)

lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck: $(STATICCHECK)
	GOFLAGS=-pgo=off $(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(GOBIN_DIR) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# The alerting rules: syntax (promtool check rules) and their unit tests
# (promtool test rules). scripts/promtool.sh finds promtool or unpacks it
# from Debian's prometheus package into a cache directory; where neither
# works (no apt-get) this step says so and passes.
rules:
	@if promtool=$$(PROMTOOL=$(PROMTOOL) scripts/promtool.sh); then \
		$$promtool check rules $(ALERT_RULES) && \
		$$promtool test rules $(ALERT_RULES:.yml=.test.yml); \
	else \
		echo "promtool unavailable: skipped checking $(ALERT_RULES) (Debian: apt-get install prometheus)"; \
	fi

# The container image (see Dockerfile); needs a Docker engine.
image:
	@command -v docker >/dev/null 2>&1 || { echo "make image: docker is not installed; install Docker (or a compatible engine) to build the image" >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make image: docker cannot reach a Docker engine (is the daemon running? DOCKER_HOST?)" >&2; exit 1; }
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t $(IMAGE):$(VERSION) .

# Good traffic mixed with hostile requests for SOAK_DURATION (default 10m);
# goroutines and heap must stay flat. Not part of make test.
SOAK_DURATION ?= 10m
soak:
	GATEWAY_SOAK=$(SOAK_DURATION) $(GO) test -count=1 -run '^TestSoak$$' -timeout 0 -v ./gateway/

# Go benchmarks, then the loopback load test against nginx
# (BENCH_DURATION=10s per run by default).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	scripts/loadbench.sh

clean:
	rm -rf bin

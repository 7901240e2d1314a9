GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# Services that `make test` starts on loopback when they are not up yet
# (any of: redis nats rabbitmq etcd); see scripts/services.sh.
TEST_SERVICES ?= redis etcd nats rabbitmq

STATICCHECK_VERSION := v0.8.2
GOBIN_DIR   := $(or $(shell $(GO) env GOBIN),$(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin)
STATICCHECK := $(GOBIN_DIR)/staticcheck

.PHONY: all build run test services lint fmt-check vet staticcheck bench clean

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/gateway ./cmd/gateway
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/demo-upstream ./cmd/demo-upstream

# The demo upstream in the background and the gateway in the foreground;
# Ctrl-C stops both.
run: build
	scripts/run.sh

# REQUIRE_SERVICES makes a test that cannot reach its service fail instead
# of skipping: run by hand without it, such tests skip.
test: services lint
	REQUIRE_SERVICES=1 $(GO) test -race -shuffle=on -count=1 ./...

services:
	scripts/services.sh $(TEST_SERVICES)

lint: fmt-check vet staticcheck

fmt-check:
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(GOBIN_DIR) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Go benchmarks, then the loopback load test against nginx
# (BENCH_DURATION=10s per run by default).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	scripts/loadbench.sh

clean:
	rm -rf bin

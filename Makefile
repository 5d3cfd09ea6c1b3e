# Sextant — build, run, test.
GO        ?= go
BIN       := bin/sextant
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
# Debian packages the tests and benchmarks drive as real peers.
TEST_DEBS := bind9-dnsutils dnsperf zookeeper netcat-openbsd iproute2 python3 curl procps unbound iputils-ping nftables iperf3 util-linux dnsmasq-base haproxy wrk openssl chromium
RUN_DEBS  := python3 bind9-dnsutils

.PHONY: all build run test test-short bench fuzz lint deps-test deps-run clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/sextant

# Installs what is missing (as root), builds, and starts a whole single-node
# cluster with the example apps.
run: deps-run build
	./$(BIN) up --apps examples

# The whole test suite, as CI runs it. Installs the real peers the tests use
# (dig, dnsperf, ZooKeeper, …) when missing and we are root.
test: deps-test
	@unformatted=$$(gofmt -l cmd internal bench examples 2>/dev/null); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) build -o $(BIN) ./cmd/sextant
	SEXTANT_BIN=$(CURDIR)/$(BIN) $(GO) test -race -timeout 15m -count=1 ./...

test-short:
	$(GO) test -short -count=1 ./...

bench: deps-test build
	SEXTANT_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

# Runs every fuzz target for FUZZTIME each (default 20s).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; done

lint:
	@test -z "$$(gofmt -l cmd internal bench examples)" || (gofmt -l cmd internal bench examples; exit 1)
	$(GO) vet ./...

deps-test:
	@sh scripts/install-debs.sh $(TEST_DEBS)

deps-run:
	@sh scripts/install-debs.sh $(RUN_DEBS)

clean:
	rm -rf bin

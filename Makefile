# gomha: build, test, demo. `make test` and `make demo` install what they
# need on a fresh Debian machine (scripts/setup-debian.sh).

GO        ?= go
PREFIX    ?= /usr/local
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
MHA_NAMES := masterha_check_repl masterha_check_ssh masterha_check_status masterha_manager masterha_master_switch masterha_stop masterha_conf_host
DEMO_DIR  ?= /tmp/gomha-demo
TESTFLAGS ?= -count=1 -timeout 25m

.PHONY: all build install test unit lint demo demo-down bench bench-scale setup clean

all: build

setup:
	./scripts/setup-debian.sh

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/gomha ./cmd/gomha
	@for n in $(MHA_NAMES); do ln -sf gomha $(BIN)/$$n; done

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/gomha $(DESTDIR)$(PREFIX)/bin/gomha
	@for n in $(MHA_NAMES); do ln -sf gomha $(DESTDIR)$(PREFIX)/bin/$$n; done

# Everything: unit tests and integration tests on real sandbox clusters
# (mariadbd + sshd on 127.0.0.x). Packages run one at a time: their clusters
# use distinct addresses, but a 2-core machine is busy enough with one.
test: setup
	$(GO) vet ./...
	$(GO) test -p 1 $(TESTFLAGS) ./...

# Pure logic only (no servers).
unit:
	$(GO) test -count=1 -short ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

demo: setup build
	./scripts/demo.sh $(DEMO_DIR)

# Figures, not pass/fail: binlog parsing and extraction throughput (Go
# benchmarks), failover scenarios repeated on real 3-host sandboxes, one
# 1 GiB transaction salvaged by the gomha binary (time and its peak RSS),
# many simulated clusters watched by one manager process (CPU, memory,
# detection; simulated MariaDB servers on 127.0.4.x, in a helper process),
# and switchovers.
BENCH_RUNS ?= 5
BENCH_BIG_MIB ?= 1024
BENCH_SCALE ?= 100,500,1000
BENCH_SCALE_RUNS ?= 3
bench: setup build
	$(GO) build -o $(BIN)/simmysql ./internal/simmysql/cmd/simmysql
	$(GO) test -run '^$$' -bench 'Scan|ExtractBigTransaction' -benchtime 2s ./binlog/
	$(GO) run ./internal/bench -runs $(BENCH_RUNS) -big $(BENCH_BIG_MIB) -gomha $(BIN)/gomha -scale $(BENCH_SCALE) -scale-runs $(BENCH_SCALE_RUNS) -simmysql $(BIN)/simmysql
	GOMHA_BENCH_SWITCHES=$(BENCH_RUNS) $(GO) test -count=1 -run '^$$' -bench 'SwitchoverSandbox' -benchtime 1x ./manager/

# The scale table alone (no sandbox, no root): simulated clusters only.
bench-scale:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/simmysql ./internal/simmysql/cmd/simmysql
	$(GO) run ./internal/bench -only scale -scale $(BENCH_SCALE) -scale-runs $(BENCH_SCALE_RUNS) -simmysql $(BIN)/simmysql

demo-down: build
	-$(BIN)/gomha stop --conf $(DEMO_DIR)/app1.cnf
	$(BIN)/gomha sandbox down --dir $(DEMO_DIR)

clean:
	rm -rf $(BIN)

# gomha: build, test, demo. `make test` and `make demo` install what they
# need on a fresh Debian machine (scripts/setup-debian.sh).

GO        ?= go
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
# systemd looks for units in /usr/local/lib/systemd/system and
# /usr/lib/systemd/system, and for sysusers.d files in /usr/local/lib/sysusers.d
# and /usr/lib/sysusers.d; with another PREFIX, set these to
# /etc/systemd/system and /etc/sysusers.d.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
SYSTEMD_UNITS  := gomha-manager@.service gomha-manager.service
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
MHA_NAMES := masterha_check_repl masterha_check_ssh masterha_check_status masterha_manager masterha_master_switch masterha_stop masterha_conf_host
DEMO_DIR  ?= /tmp/gomha-demo
DEMO_HA_DIR ?= /tmp/gomha-demo-ha
TESTFLAGS ?= -count=1 -timeout 25m

.PHONY: all build install test unit lint demo demo-down demo-ha demo-ha-down bench bench-scale setup clean

all: build

setup:
	./scripts/setup-debian.sh

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/gomha ./cmd/gomha
	@for n in $(MHA_NAMES); do ln -sf gomha $(BIN)/$$n; done

# The binary, its MHA names, the systemd units (ExecStart names BINDIR) and
# the gomha user's sysusers.d file. No user is created and no unit enabled:
# see "Running under systemd" in the README.
install: build
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BIN)/gomha $(DESTDIR)$(BINDIR)/gomha
	@for n in $(MHA_NAMES); do ln -sf gomha $(DESTDIR)$(BINDIR)/$$n; done
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	@for u in $(SYSTEMD_UNITS); do \
		echo "install contrib/systemd/$$u -> $(DESTDIR)$(SYSTEMDUNITDIR)/$$u"; \
		sed 's|@BINDIR@|$(BINDIR)|g' contrib/systemd/$$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp && \
		mv $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done
	install -d $(DESTDIR)$(SYSUSERSDIR)
	install -m 0644 contrib/systemd/gomha.sysusers $(DESTDIR)$(SYSUSERSDIR)/gomha.conf

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

# Two managers on a 3-member etcd (127.0.8.x, apart from demo and the
# tests): the leader killed, the other taking over, then failing over.
demo-ha: setup build
	./scripts/demo-ha.sh $(DEMO_HA_DIR)

# Figures, not pass/fail: binlog parsing and extraction throughput (Go
# benchmarks), failover scenarios repeated on real 3-host sandboxes, the
# write downtime seen through HAProxy (docs/haproxy.cfg) beside the direct
# one for a crash and a switchover, one 1 GiB transaction salvaged by the
# gomha binary (time and its peak RSS), many simulated clusters watched by
# one manager process (CPU, memory, detection; simulated MariaDB servers on
# 127.0.4.x, in a helper process), and switchovers.
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

# Stops the managers demo-ha started (by the pids it recorded), then its
# sandbox and its etcd; their data stay until the next demo-ha.
demo-ha-down: build
	./scripts/demo-ha.sh --down $(DEMO_HA_DIR)

clean:
	rm -rf $(BIN)

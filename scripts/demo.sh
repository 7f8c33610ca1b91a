#!/usr/bin/env bash
# gomha demo on a local sandbox (see internal/demo): a 3-host MariaDB
# cluster, the checks, a manager (with --http on 127.0.0.1: it prints the
# status page's URL), a writer, the master killed, the failover report, the
# new topology, the rows compared and the metrics. The sandbox keeps
# running; `make demo-down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./internal/demo -dir "${1:-/tmp/gomha-demo}" -gomha bin/gomha

#!/usr/bin/env bash
# gomha demo of several managers on etcd (see internal/demoha): a 3-member
# etcd and a 3-host MariaDB cluster on 127.0.8.x, two managers, the leading
# one killed and the other taking over, then the master killed and the
# failover, the rows compared. Everything keeps running; `make demo-ha-down`
# (this script with --down) stops it.
#   scripts/demo-ha.sh [--down] [DIR]     DIR defaults to /tmp/gomha-demo-ha
set -euo pipefail
cd "$(dirname "$0")/.."
down=()
if [ "${1:-}" = "--down" ]; then
  down=(-down)
  shift
fi
exec go run ./internal/demoha -dir "${1:-/tmp/gomha-demo-ha}" -gomha bin/gomha "${down[@]}"

#!/usr/bin/env bash
# gomha demo on a local sandbox: deploy a 3-host MariaDB replication cluster,
# check SSH and replication, show the topology. Leaves the sandbox running;
# `make demo-down` stops it.
set -euo pipefail
dir=${1:-/tmp/gomha-demo}
gomha=${GOMHA:-$(dirname "$0")/../bin/gomha}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -f "$dir/sandbox.json" ]; then
  step "stopping the previous demo sandbox in $dir"
  "$gomha" sandbox down --dir "$dir" --remove
fi

step "gomha sandbox up --hosts 3 --dir $dir"
"$gomha" sandbox up --hosts 3 --dir "$dir"

step "masterha_check_ssh --conf=$dir/app1.cnf"
"$(dirname "$gomha")/masterha_check_ssh" --conf="$dir/app1.cnf"

step "masterha_check_repl --conf=$dir/app1.cnf"
"$(dirname "$gomha")/masterha_check_repl" --conf="$dir/app1.cnf"

step "gomha sandbox status --dir $dir"
"$gomha" sandbox status --dir "$dir"

printf '\nThe sandbox keeps running: try `%s check repl --conf %s/app1.cnf`,\n`%s sandbox kill-mysqld host2 --dir %s`, then `make demo-down`.\n' "$gomha" "$dir" "$gomha" "$dir"

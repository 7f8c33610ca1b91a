#!/usr/bin/env bash
# Installs what gomha's demo and tests need on a Debian machine, only when it
# is missing: MariaDB server and client (mariadbd, mariadb, mariadb-binlog),
# OpenSSH server and client, nftables/iptables for the sandbox's network
# faults, and etcd (etcd-server's /usr/bin/etcd for the 3-member etcd that
# tests and demos start, etcd-client's etcdctl to look into it), and
# promtool (from Debian's prometheus package) that checks gomha's /metrics
# in the tests, Debian's chromium (with a font) that loads the status page
# headless in its test, and HAProxy, which the routing test starts in the
# foreground with a configuration of its own. Services are not started: the
# sandboxes run their own processes, and no Prometheus or HAProxy server is
# wanted.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have mariadbd || need+=(mariadb-server)
have mariadb || need+=(mariadb-client)
have mariadb-binlog || need+=(mariadb-client)
have sshd || need+=(openssh-server)
have ssh-keygen || need+=(openssh-client)
have ssh || need+=(openssh-client)
have nft || need+=(nftables)
have iptables || need+=(iptables)
have ip || need+=(iproute2)
have pgrep || need+=(procps)
have etcd || need+=(etcd-server)
have etcdctl || need+=(etcd-client)
have promtool || need+=(prometheus)
have chromium || need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
have haproxy || need+=(haproxy)

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: need root (or sudo) to install: ${need[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "setup: installing ${need[*]}"
  # Keep package scripts from starting the system's mariadb/ssh/etcd/
  # prometheus/haproxy services: the sandboxes start their own, on addresses of their own.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap 'if [ "$created_policy" = 1 ]; then $sudo rm -f /usr/sbin/policy-rc.d; fi' EXIT
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # An etcd installed here is for the sandbox only: keep the system's
  # unit from starting it at the next boot too.
  if [[ " ${need[*]} " == *" etcd-server "* ]] && command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable etcd >/dev/null 2>&1 || true
  fi
  # prometheus is installed for promtool alone: no server at boot either.
  if [[ " ${need[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable prometheus >/dev/null 2>&1 || true
  fi
  # haproxy likewise: the test runs /usr/sbin/haproxy itself, on 127.0.6.x,
  # and the package's default configuration must not take port 80 or a
  # stats socket at boot.
  if [[ " ${need[*]} " == *" haproxy "* ]] && command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable haproxy >/dev/null 2>&1 || true
  fi
fi

command -v go >/dev/null 2>&1 || { echo "setup: Go 1.26 or newer is required (go not found in PATH)" >&2; exit 1; }
gover=$(go env GOVERSION | sed 's/^go//')
case "$gover" in
  1.2[6-9]*|1.[3-9]*|[2-9].*) ;;
  *) echo "setup: Go 1.26 or newer is required, found $gover" >&2; exit 1 ;;
esac
echo "setup: ok ($(mariadbd --version 2>/dev/null | awk '{print $3}' || /usr/sbin/mariadbd --version | awk '{print $3}'), etcd $(etcd --version 2>/dev/null | awk 'NR==1 {print $3}'), haproxy $(/usr/sbin/haproxy -v 2>/dev/null | awk 'NR==1 {print $3}'), go $gover)"

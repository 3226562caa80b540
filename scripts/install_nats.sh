#!/usr/bin/env bash
# Install nats-server (Debian package `nats-server`), which the replication
# tests and benchmark start on 127.0.0.1. Idempotent: does nothing when
# nats-server is already on PATH (or in /usr/sbin, where Debian puts it).
#   scripts/install_nats.sh          install, or fail saying how
#   scripts/install_nats.sh --quiet  install where possible, else say nothing (bootstrap)
set -euo pipefail
quiet=false
[ "${1:-}" = "--quiet" ] && quiet=true
if command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ]; then exit 0; fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "install_nats: installing nats-server with apt-get" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >&2
  # The package enables a system service; the tests start their own servers.
  if command -v systemctl >/dev/null && systemctl is-active --quiet nats-server 2>/dev/null; then
    systemctl disable --now nats-server >&2 || true
  fi
  exit 0
fi
$quiet && exit 0
echo "install_nats: nats-server is missing; install it as root: apt-get install nats-server" >&2
exit 2

#!/usr/bin/env bash
# Install the Debian packages the test suite needs, where missing (idempotent,
# quiet; CI runs it before the tests, and developers may run it once):
#   chromium   the headless browser tests/serve_page_test.ts drives (DevTools protocol)
# With --bench, also what `deno task bench:peers` compares against:
#   libopenhft-chronicle-queue-java and a JDK (Chronicle Queue, the JVM peer)
# Without root or apt-get it only says what is missing; the tests that need a
# package then fail naming it.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ "${1:-}" = "--bench" ]; then
  [ -f /usr/share/java/openhft-chronicle-3.6.0.jar ] || need+=(libopenhft-chronicle-queue-java)
  command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
fi
[ "${#need[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system_deps: missing ${need[*]}: install with apt-get install -y ${need[*]}" >&2
  exit 0
fi
echo "system_deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${need[@]}" >/dev/null

#!/usr/bin/env bash
# Install the pinned toolchain into ./.tools (idempotent, no root needed):
#   Deno  from the npm registry   (package `deno`)
#   zig   from PyPI               (package `ziglang`, used as `zig cc`)
# and, when running as root on Debian, nats-server for the replication tests
# (scripts/install_nats.sh; without root it says how, from the tests).
# Versions are pinned so FFI benchmarks stay comparable between runs: FFI
# performance has regressed between Deno releases before.
set -euo pipefail
DENO_VERSION="2.9.6"
ZIG_VERSION="0.15.2"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools/bin"

have_deno() { [ -x "$tools/node_modules/.bin/deno" ] && "$tools/node_modules/.bin/deno" --version 2>/dev/null | head -1 | grep -q " $DENO_VERSION "; }
if ! have_deno; then
  command -v npm >/dev/null || { echo "bootstrap: npm is required to install Deno $DENO_VERSION (apt-get install npm)" >&2; exit 2; }
  echo "bootstrap: installing deno@$DENO_VERSION from npm into .tools" >&2
  npm install --silent --no-save --no-audit --no-fund --prefix "$tools" "deno@$DENO_VERSION" >&2
  have_deno || { echo "bootstrap: deno@$DENO_VERSION did not install" >&2; exit 2; }
fi
ln -sf "$tools/node_modules/.bin/deno" "$tools/bin/deno"

have_zig() { [ -x "$tools/bin/zig" ] && [ "$("$tools/bin/zig" version 2>/dev/null)" = "$ZIG_VERSION" ]; }
if ! have_zig; then
  command -v python3 >/dev/null || { echo "bootstrap: python3 is required to install zig $ZIG_VERSION (pip package ziglang)" >&2; exit 2; }
  echo "bootstrap: installing ziglang==$ZIG_VERSION from PyPI into .tools" >&2
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --target "$tools/py" "ziglang==$ZIG_VERSION" >&2
  cat > "$tools/bin/zig" <<SHIM
#!/usr/bin/env bash
PYTHONPATH="$tools/py\${PYTHONPATH:+:\$PYTHONPATH}" exec python3 -m ziglang "\$@"
SHIM
  chmod +x "$tools/bin/zig"
  have_zig || { echo "bootstrap: zig $ZIG_VERSION did not install" >&2; exit 2; }
fi

bash "$root/scripts/install_nats.sh" --quiet

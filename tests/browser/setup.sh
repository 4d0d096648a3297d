#!/usr/bin/env bash
# Set-up for the JupyterLab browser test (tests/browser/test_jupyterlab.py), idempotent:
#   - Debian's chromium at /usr/bin/chromium (apt-get; Playwright's own browser download is not used),
#   - playwright-core, pinned in package.json / package-lock.json, into tests/browser/node_modules.
# JupyterLab itself comes from tests/requirements.txt (`make setup`).
# Run as root on a fresh Debian machine (this is what CI does): bash tests/browser/setup.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ -x /usr/bin/chromium ]; then
    echo "setup.sh: /usr/bin/chromium is present: $(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown')"
else
    echo "setup.sh: /usr/bin/chromium is missing: installing Debian's chromium with apt-get"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
    echo "setup.sh: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup.sh: node and npm are needed (Node 18 or newer): install them, e.g. apt-get install nodejs npm" >&2
    exit 1
fi

if [ -f "$HERE/node_modules/playwright-core/package.json" ]; then
    echo "setup.sh: playwright-core $(node -p "require('$HERE/node_modules/playwright-core/package.json').version") is in tests/browser/node_modules"
else
    echo "setup.sh: tests/browser/node_modules is missing: npm ci (playwright-core, pinned in package-lock.json)"
    # playwright-core has no install script that downloads browsers; this keeps it that way anyway.
    (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
echo "setup.sh: done"

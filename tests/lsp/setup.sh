#!/usr/bin/env bash
# Set-up for the language-server tests in tests/lsp, idempotent:
#   - Debian's neovim (0.7.2 on bookworm) for test_neovim.py, installed with apt-get if `nvim` is missing;
#   - pytest-lsp and friends come from tests/requirements.txt (`make setup`), not from here.
# Run as root on a fresh Debian machine (this is what CI does): bash tests/lsp/setup.sh
set -euo pipefail

if command -v nvim >/dev/null 2>&1; then
    echo "setup.sh: $(nvim --version | head -n 1) is present"
else
    echo "setup.sh: nvim is missing: installing Debian's neovim with apt-get"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends neovim
    echo "setup.sh: installed $(nvim --version | head -n 1)"
fi
echo "setup.sh: done"

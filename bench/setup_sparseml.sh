#!/usr/bin/env bash
# Creates /work/main/.venv-sparseml (the repository's .venv-sparseml): Python 3.11 with SparseML 1.7.0
# and ONNX Runtime 1.16.3, the peer that bench/analysis.py compares prunekit's analysis against.
#
# Idempotent: a stamp file inside the venv records the hash of the requirement files; when it matches,
# nothing is done. Set FORCE=1 (or pass --force) to rebuild from scratch.
#
#   bash bench/setup_sparseml.sh            # or: PYTHON=python3.11 bash bench/setup_sparseml.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${SPARSEML_VENV:-$root/.venv-sparseml}"
python="${PYTHON:-python3}"
req="$here/requirements-sparseml.txt"
lock="$here/requirements-sparseml.lock"
stamp="$venv/.prunekit-bench-stamp"
force="${FORCE:-0}"
[[ "${1:-}" == "--force" ]] && force=1

say() { echo "setup_sparseml: $*"; }

want="$(cat "$req" "$lock" | sha256sum | cut -d' ' -f1)"
if [[ "$force" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/python" ]]; then
    say "$venv is already set up (stamp matches $(basename "$req") + $(basename "$lock")); nothing to do"
    exit 0
fi

pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ "$pyver" != "3.11" ]]; then
    say "warning: $python is Python $pyver; SparseML 1.7.0 was tested here with 3.11 (set PYTHON=python3.11)"
fi

if [[ -d "$venv" ]]; then
    say "removing the stale or incomplete $venv"
    rm -rf "$venv"
fi
say "creating $venv with $python (Python $pyver)"
"$python" -m venv "$venv"

say "installing $(grep -v '^\s*#' "$req" | grep -v '^\s*$' | tr '\n' ' ')(constraints: $(basename "$lock"))"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req" -c "$lock"

say "checking that 'from sparseml.onnx.optim import ModelAnalyzer' works (torch is not installed)"
NM_DISABLE_ANALYTICS=1 "$venv/bin/python" -W ignore - <<'PY'
import importlib.util, sys
from sparseml.onnx.optim import ModelAnalyzer  # noqa: F401
import onnx, onnxruntime, numpy, sparseml
assert importlib.util.find_spec("torch") is None, "torch should not be needed"
print("setup_sparseml: ok: sparseml %s, onnx %s, onnxruntime %s, numpy %s, Python %s"
      % (sparseml.__version__, onnx.__version__, onnxruntime.__version__, numpy.__version__,
         sys.version.split()[0]))
PY

echo "$want" > "$stamp"
say "done; the venv's python is $venv/bin/python"

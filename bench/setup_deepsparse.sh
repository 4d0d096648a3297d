#!/usr/bin/env bash
# Creates .venv-deepsparse (in the repository root): Python 3.11 with DeepSparse 1.8.0 and ONNX
# Runtime, the engines that bench/sparse_engine.py times side by side. DeepSparse is discontinued and
# under Neural Magic's community licence: it is a bench peer only, never a dependency of the product
# or of `make test`.
#
# Idempotent: a stamp file inside the venv records the hash of the requirement file; when it
# matches, nothing is done. Set FORCE=1 (or pass --force) to rebuild from scratch.
#
#   bash bench/setup_deepsparse.sh            # or: PYTHON=/path/to/python3.11 bash bench/setup_deepsparse.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${DEEPSPARSE_VENV:-$root/.venv-deepsparse}"
python="${PYTHON:-python3.11}"
req="$here/requirements-deepsparse.txt"
stamp="$venv/.prunekit-bench-stamp"
force="${FORCE:-0}"
[[ "${1:-}" == "--force" ]] && force=1

say() { echo "setup_deepsparse: $*"; }

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ "$force" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/python" ]]; then
    say "$venv is already set up (stamp matches $(basename "$req")); nothing to do"
    exit 0
fi

if ! command -v "$python" >/dev/null; then
    say "error: $python was not found; DeepSparse 1.8.0 needs Python 3.11 (set PYTHON=...)"
    exit 1
fi
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ "$pyver" != "3.11" ]]; then
    say "error: $python is Python $pyver; deepsparse 1.8.0 has wheels for 3.8-3.11 only (set PYTHON=python3.11)"
    exit 1
fi
if [[ "$(uname -sm)" != "Linux x86_64" ]]; then
    say "error: DeepSparse runs on x86-64 Linux only (this is $(uname -sm))"
    exit 1
fi

if [[ -d "$venv" ]]; then
    say "removing the stale or incomplete $venv"
    rm -rf "$venv"
fi
say "creating $venv with $python (Python $pyver)"
"$python" -m venv "$venv"

say "installing $(grep -v '^\s*#' "$req" | grep -v '^\s*$' | tr '\n' ' ')"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req"

say "checking that DeepSparse compiles and runs a one-layer model"
NM_DISABLE_ANALYTICS=1 "$venv/bin/python" -W ignore - <<'PY'
import sys, tempfile, os
import numpy as np, onnx, onnxruntime
from onnx import helper, TensorProto, numpy_helper
import deepsparse
w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32), "w")
g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])], [w])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
path = os.path.join(tempfile.mkdtemp(), "one.onnx")
onnx.save(m, path)
engine = deepsparse.compile_model(path, batch_size=1, num_cores=1)
x = np.ones((1, 8), np.float32)
got = engine.run([x])[0]
assert np.allclose(got, x @ numpy_helper.to_array(w), atol=1e-4), "DeepSparse computed a wrong result"
print("setup_deepsparse: ok: deepsparse %s, onnx %s, onnxruntime %s, numpy %s, Python %s"
      % (deepsparse.__version__, onnx.__version__, onnxruntime.__version__, np.__version__,
         sys.version.split()[0]))
PY

echo "$want" > "$stamp"
say "done; the venv's python is $venv/bin/python"

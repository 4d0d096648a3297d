#!/usr/bin/env bash
# Creates .venv-recipes: SparseML 1.7.0 with PyTorch, the judge that bench/recipe_corpus.py asks
# whether each corpus recipe loads (tests/recipes/corpus/verdicts.json).
#
# Why Python 3.10 and torch 1.12.1: SparseML 1.7.0 wants torch >=1.7,<2.2. On PyPI (the only index
# reachable here) every torch >= 1.13 for Linux pulls 2-3 GB of separate NVIDIA wheels that
# `import torch` cannot do without; torch 1.12.1 is one wheel with its CUDA libraries inside, and
# its newest Python is 3.10. Nothing here needs a GPU: recipes are only parsed and their modifiers
# constructed.
#
# Idempotent (a stamp records this script's hash). FORCE=1 rebuilds.
#   bash bench/setup_recipes.sh          # PYTHON=/path/to/python3.10 to choose the interpreter
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${RECIPES_VENV:-$root/.venv-recipes}"
stamp="$venv/.prunekit-recipes-stamp"
want="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"

say() { echo "setup_recipes: $*"; }

if [[ "${FORCE:-0}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    say "$venv is already set up; nothing to do"
    exit 0
fi

python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    for p in python3.10 "$HOME/.pyenv/versions/3.10.13/bin/python3.10"; do
        if "$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
            python="$p"; break
        fi
    done
fi
[[ -n "$python" ]] || { say "no Python 3.10 found: set PYTHON=/path/to/python3.10"; exit 1; }

df_avail_gb="$(df -BG --output=avail "$root" | tail -1 | tr -dc 0-9)"
if (( df_avail_gb < 6 )); then
    say "only ${df_avail_gb} GB free under $root; torch 1.12.1 needs about 4 GB: not installing"
    exit 1
fi

rm -rf "$venv"
say "creating $venv with $python"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q)
say "installing torch 1.12.1, sparseml 1.7.0 (and numpy<2, which both were built against)"
"${pip[@]}" "torch==1.12.1" "sparseml==1.7.0" "numpy<2" "setuptools<=59.5.0"

NM_DISABLE_ANALYTICS=1 "$venv/bin/python" -W ignore - <<'PY'
import sparseml, torch
from sparseml.pytorch.optim import ScheduledModifierManager  # noqa: F401
from sparseml.core.recipe import Recipe  # noqa: F401
print("setup_recipes: ok: sparseml %s, torch %s" % (sparseml.__version__, torch.__version__))
PY
# SparseML 1.8.0 (the last release, June 2024) for staged recipes written after 1.7.0: it needs
# pydantic 2, which 1.7.0 refuses, so it lives in its own folder that bench/recipe_corpus.py puts
# first on PYTHONPATH in a second process; torch and the rest come from the venv.
say "installing sparseml 1.8.0 with pydantic 2 and compressed-tensors into $venv/sparseml-1.8"
"${pip[@]}" --no-deps --target "$venv/sparseml-1.8" "sparseml==1.8.0" "pydantic==2.7.4" \
    "pydantic-core==2.18.4" "annotated-types==0.7.0" "typing-extensions==4.12.2" \
    "compressed-tensors==0.4.0" "transformers==4.40.2" "tokenizers==0.19.1" \
    "huggingface-hub==0.23.4" "safetensors==0.4.3" "regex==2024.5.15" "fsspec==2024.6.0" \
    "filelock==3.15.4"
PYTHONPATH="$venv/sparseml-1.8" NM_DISABLE_ANALYTICS=1 "$venv/bin/python" -W ignore - <<'PY'
import sparseml
from sparseml.core.recipe import Recipe  # noqa: F401
# the modifier factory skips a module that fails to import: import the quantizing ones here
from sparseml.modifiers.quantization.gptq.pytorch import GPTQModifierPyTorch  # noqa: F401
from sparseml.modifiers.quantization.quantization.pytorch import QuantizationModifierPyTorch  # noqa: F401
print("setup_recipes: ok: sparseml %s beside it" % sparseml.__version__)
PY

echo "$want" > "$stamp"
say "done; the venv's python is $venv/bin/python"

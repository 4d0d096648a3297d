"""Verdicts on the recipe corpus from the real tools: tests/recipes/corpus/verdicts.json.

Each recipe in tests/recipes/corpus/SOURCES.json is loaded the way a user of the tool it targets
loads it, and its modifiers are constructed:

- sparseml-legacy: `ScheduledModifierManager.from_yaml(path)` (SparseML 1.7.0, PyTorch);
- sparseml-core-staged: `sparseml.core.recipe.Recipe.create_instance(path)`, then
  `recipe.create_modifier(Framework.pytorch)` (what a one-shot or fine-tune session does first);
- llm-compressor: judged from its source (recipe_corpus_llmc.py), since its torch would not fit.

A recipe is accepted when that raises nothing, rejected with the tool's message otherwise.
Run inside .venv-recipes (bash bench/setup_recipes.sh); `make bench-recipes` does both.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("NM_DISABLE_ANALYTICS", "1")
os.environ.setdefault("SPARSEZOO_DISABLE_ANALYTICS", "1")
warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "recipes" / "corpus"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def judge_legacy(path: Path) -> None:
    from sparseml.pytorch.optim import ScheduledModifierManager

    ScheduledModifierManager.from_yaml(str(path))


def judge_staged(path: Path) -> None:
    from sparseml.core.framework import Framework
    from sparseml.core.recipe import Recipe

    recipe = Recipe.create_instance(str(path))
    recipe.create_modifier(Framework.pytorch)


def one_sentence(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 600 else text[:600] + "..."


def main() -> None:
    import sparseml
    import torch

    sources = json.loads((CORPUS / "SOURCES.json").read_text())
    judges = {
        "sparseml-legacy": (judge_legacy, f"ScheduledModifierManager.from_yaml (sparseml "
                            f"{sparseml.__version__}, torch {torch.__version__})"),
        "sparseml-core-staged": (judge_staged, f"Recipe.create_instance + create_modifier(pytorch) "
                                 f"(sparseml {sparseml.__version__})"),
    }
    verdicts = {}
    slowest = 0.0
    for entry in sources:
        path = CORPUS / entry["file"]
        if entry["tool"] == "llm-compressor":
            from recipe_corpus_llmc import judge_llmc

            verdicts[entry["file"]] = judge_llmc(path, entry)
            continue
        judge, how = judges[entry["tool"]]
        start = time.perf_counter()
        try:
            judge(path)
            verdict = {"verdict": "accepted"}
        except BaseException as error:  # noqa: BLE001 - a recipe may make the tool raise anything
            if isinstance(error, KeyboardInterrupt):
                raise
            verdict = {"verdict": "rejected", "error": one_sentence(error)}
        slowest = max(slowest, time.perf_counter() - start)
        verdict["how"] = how
        verdicts[entry["file"]] = verdict
    (CORPUS / "verdicts.json").write_text(json.dumps(verdicts, indent=1, sort_keys=True) + "\n")
    counts: dict[str, int] = {}
    for entry in sources:
        key = f"{entry['tool']} {verdicts[entry['file']]['verdict']}"
        counts[key] = counts.get(key, 0) + 1
    for key in sorted(counts):
        print(f"{key}: {counts[key]}")
    print(f"slowest SparseML load: {slowest:.2f} s")


if __name__ == "__main__":
    main()

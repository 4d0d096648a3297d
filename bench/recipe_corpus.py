"""Verdicts on the recipe corpus from the real tools: tests/recipes/corpus/verdicts.json.

Each recipe in tests/recipes/corpus/SOURCES.json is loaded the way a user of the tool it targets
loads it, and its modifiers are constructed:

- sparseml-legacy: `ScheduledModifierManager.from_yaml(path)` (SparseML 1.7.0, PyTorch), then
  SparseML's own matcher on each `params` pattern, as initializing on a model does;
- sparseml-core-staged: `sparseml.core.recipe.Recipe.create_instance(path)`, then
  `recipe.create_modifier(Framework.pytorch)` (what a one-shot or fine-tune session does first),
  in SparseML 1.7.0 and in 1.8.0 (a second process; the release that replaced the quantization
  modifiers with compressed-tensors' and added GPTQModifier; SOURCES.json's `release` says which
  one the recipe was written for);
- llm-compressor: judged from its source (recipe_corpus_llmc.py), since its torch would not fit.

A recipe is accepted when that raises nothing, rejected with the tool's message otherwise. A
staged recipe (SparseML's core layout or llm-compressor's) is judged by all three, since nothing in
it says which one reads it: accepted when any of them loads it (`accepted_by`).
Run inside .venv-recipes (bash bench/setup_recipes.sh); `make bench-recipes` does both.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
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
    from sparseml.pytorch.utils.helpers import any_str_or_regex_matches_param_name

    manager = ScheduledModifierManager.from_yaml(str(path))
    # Initializing a modifier on a model matches each of its `params` against every weight name
    # with this function (a `re:` pattern goes to `re.match`): run it once per pattern, so that a
    # pattern Python's `re` cannot compile fails here as it would at the start of training.
    for modifier in manager.iter_modifiers():
        params = getattr(modifier, "params", None)
        for pattern in [params] if isinstance(params, str) else params or []:
            if isinstance(pattern, str):
                any_str_or_regex_matches_param_name("model.weight", [pattern])


def judge_staged(path: Path) -> None:
    from sparseml.core.framework import Framework
    from sparseml.core.recipe import Recipe

    recipe = Recipe.create_instance(str(path))
    recipe.create_modifier(Framework.pytorch)


def one_sentence(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 600 else text[:600] + "..."


# which loader reads a recipe: llm-compressor's recipes are staged like SparseML's core ones
LAYOUT = {"sparseml-legacy": "sparseml-legacy", "sparseml-core-staged": "sparseml-core-staged",
          "llm-compressor": "sparseml-core-staged"}


def judge_all(entries: list[dict]) -> tuple[dict[str, dict], float]:
    """Verdicts from the SparseML importable in this process, and the slowest load in seconds."""
    import sparseml
    import torch

    versions = f"sparseml {sparseml.__version__}, torch {torch.__version__}"
    judges = {
        "sparseml-legacy": (judge_legacy, "ScheduledModifierManager.from_yaml + "
                            f"any_str_or_regex_matches_param_name per params pattern ({versions})"),
        "sparseml-core-staged": (judge_staged, "Recipe.create_instance + "
                                 f"create_modifier(Framework.pytorch) ({versions})"),
    }
    verdicts, slowest = {}, 0.0
    for entry in entries:
        judge, how = judges[LAYOUT[entry["tool"]]]
        start = time.perf_counter()
        try:
            judge(CORPUS / entry["file"])
            verdict = {"verdict": "accepted"}
        except Exception as error:  # noqa: BLE001 - a recipe may make the tool raise anything
            verdict = {"verdict": "rejected", "error": one_sentence(error)}
        slowest = max(slowest, time.perf_counter() - start)
        verdict["how"] = how
        verdicts[entry["file"]] = verdict
    return verdicts, slowest


def judge_with_sparseml_18(entries: list[dict]) -> tuple[dict[str, dict], float]:
    """The same judges in a second process that imports SparseML 1.8.0 (pydantic 2) first."""
    venv = Path(sys.executable).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(Path(sys.prefix) / "sparseml-1.8"))
    proc = subprocess.run([sys.executable, __file__, "--judge"], input=json.dumps(entries),
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"recipe_corpus: the SparseML 1.8.0 process failed ({venv}):\n{proc.stderr}")
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer["verdicts"], answer["slowest"]


def main() -> None:
    if sys.argv[1:] == ["--judge"]:  # the second process: entries on stdin, verdicts on stdout
        verdicts, slowest = judge_all(json.loads(sys.stdin.read()))
        print(json.dumps({"verdicts": verdicts, "slowest": slowest}))
        return
    from recipe_corpus_llmc import judge_llmc

    sources = json.loads((CORPUS / "SOURCES.json").read_text())
    staged = [e for e in sources if LAYOUT[e["tool"]] == "sparseml-core-staged"]
    verdicts, slowest = judge_all(sources)
    newer, slowest_18 = judge_with_sparseml_18(staged)
    for entry in staged:
        # A staged recipe does not say which tool reads it, and a checker cannot tell: it is
        # accepted when any of them loads it (SparseML 1.7.0, 1.8.0, llm-compressor today).
        judged = {"SparseML 1.7.0": verdicts[entry["file"]], "SparseML 1.8.0": newer[entry["file"]],
                  "llm-compressor": judge_llmc(CORPUS / entry["file"], entry)}
        accepted = [name for name, v in judged.items() if v["verdict"] == "accepted"]
        verdict = {"verdict": "accepted" if accepted else "rejected",
                   "how": "; ".join(f"{v['how']}: {v['verdict']}" for v in judged.values())}
        if not accepted:
            verdict["error"] = " / ".join(f"{name}: {v['error']}" for name, v in judged.items())
        else:
            verdict["accepted_by"] = accepted
        verdicts[entry["file"]] = verdict
    (CORPUS / "verdicts.json").write_text(json.dumps(verdicts, indent=1, sort_keys=True) + "\n")
    counts: dict[str, int] = {}
    for entry in sources:
        key = f"{entry['tool']} {verdicts[entry['file']]['verdict']}"
        counts[key] = counts.get(key, 0) + 1
    for key in sorted(counts):
        print(f"{key}: {counts[key]}")
    print(f"slowest SparseML load: {max(slowest, slowest_18):.2f} s")


if __name__ == "__main__":
    main()

"""`prunekit-lsp check` on real recipes from public repositories (tests/recipes/corpus).

Every recipe there is kept verbatim with its source and licence (SOURCES.json) and the verdict of
the tool it was written for (verdicts.json, from `make bench-recipes`: SparseML 1.7/1.8 loading it
and constructing its modifiers, or llm-compressor's loader read from its source). The checker must
raise no error on a recipe that tool accepts, and at least one on a recipe it rejects.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from prunekit_cli import REPO_ROOT

CORPUS = REPO_ROOT / "tests" / "recipes" / "corpus"
LSP_BIN = REPO_ROOT / "target" / "release" / "prunekit-lsp"
PERMISSIVE = {"Apache-2.0", "MIT", "BSD-3-Clause", "BSD-2-Clause"}
TOOLS = {"sparseml-legacy", "sparseml-core-staged", "llm-compressor"}


def load_corpus() -> tuple[list[dict], dict[str, dict]]:
    sources = json.loads((CORPUS / "SOURCES.json").read_text())
    verdicts = json.loads((CORPUS / "verdicts.json").read_text())
    return sources, verdicts


def check(path: Path) -> tuple[list[dict], float]:
    """The diagnostics `prunekit-lsp check --format json` gives, and the seconds it took."""
    start = time.perf_counter()
    proc = subprocess.run([str(LSP_BIN), "check", str(path.relative_to(REPO_ROOT)), "--format",
                           "json"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - start
    assert proc.returncode in (0, 1), f"check {path.name} exited {proc.returncode}: {proc.stderr}"
    return json.loads(proc.stdout)["diagnostics"], seconds


def test_corpus_sources_are_complete_and_permissive():
    sources, verdicts = load_corpus()
    assert len(sources) >= 150
    files = {p.relative_to(CORPUS).as_posix() for p in CORPUS.glob("*/*")}
    assert files == {e["file"] for e in sources}, "SOURCES.json and the corpus folder differ"
    for entry in sources:
        assert entry["licence"] in PERMISSIVE, entry
        assert entry["tool"] in TOOLS, entry
        assert len(entry["commit"]) == 40, entry
        assert verdicts[entry["file"]]["verdict"] in ("accepted", "rejected"), entry["file"]
        assert (CORPUS / entry["file"]).stat().st_size <= 200_000, entry["file"]


def test_check_agrees_with_the_tools_on_every_corpus_recipe():
    if not LSP_BIN.is_file():
        pytest.fail("target/release/prunekit-lsp is missing: run `make release` first",
                    pytrace=False)
    sources, verdicts = load_corpus()
    false_errors: Counter[str] = Counter()  # by diagnostic code, on recipes the tool accepts
    missed: Counter[str] = Counter()  # by the tool's error type, on recipes the tool rejects
    wrong: list[str] = []
    counts: Counter[str] = Counter()
    errors_total = warnings_total = 0
    slowest = (0.0, "")
    for entry in sources:
        verdict = verdicts[entry["file"]]
        diagnostics, seconds = check(CORPUS / entry["file"])
        slowest = max(slowest, (seconds, entry["file"]))
        errors = [d for d in diagnostics if d["severity"] == "error"]
        errors_total += len(errors)
        warnings_total += sum(d["severity"] == "warning" for d in diagnostics)
        counts[f"{entry['tool']} {verdict['verdict']}"] += 1
        if verdict["verdict"] == "accepted" and errors:
            false_errors.update(d["code"] for d in errors)
            first = errors[0]
            wrong.append(f"false error on {entry['file']} ({entry['tool']}): {len(errors)} errors, "
                         f"first {first['code']} at line {first['range']['start']['line'] + 1}: "
                         f"{first['message']}")
        elif verdict["verdict"] == "rejected" and not errors:
            kind = re.search(r"\w+(Error|Exception)", verdict["error"])
            missed[kind.group(0) if kind else "other"] += 1
            wrong.append(f"missed {entry['file']} ({entry['tool']}), which the tool rejects: "
                         f"{verdict['error'][:200]}")
    summary = [f"{len(sources)} recipes ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))});"
               f" {errors_total} errors, {sum(false_errors.values())} false "
               f"({', '.join(f'{k}: {v}' for k, v in false_errors.most_common()) or 'none'}), "
               f"{sum(missed.values())} rejected recipes missed "
               f"({', '.join(f'{k}: {v}' for k, v in missed.most_common()) or 'none'}); "
               f"{warnings_total} warnings; slowest check {slowest[0] * 1000:.0f} ms ({slowest[1]})"]
    print("\n".join(summary))
    assert not wrong, "\n".join(summary + wrong)

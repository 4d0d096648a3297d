"""Recipes and paths that used to take all memory or hang: YAML alias bombs, an overlap storm,
special files (a FIFO, /dev/zero, a directory) as the recipe or as its model, and huge recipes.
Each runs `prunekit-lsp check` (or the server) with a timeout, and the memory-hungry ones under a
1 GiB address-space limit, so a hang or a blow-up fails the test rather than the machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from lsp_harness import LSP_BIN, REPO_ROOT
from raw_client import RawServer, did_open, request

MEMORY_LIMIT = 1 << 30
EPOCHS = "modifiers:\n  - !EpochRangeModifier\n    start_epoch: 0.0\n    end_epoch: 1.0\n"
DIGITS = REPO_ROOT / "tests" / "fixtures" / "digits_cnn.onnx"


def run_check(*args: str, limit_memory: bool = False, timeout: float = 30) -> tuple[subprocess.CompletedProcess, float]:
    command = [str(LSP_BIN), "check", *args]
    if limit_memory:
        prlimit = shutil.which("prlimit")
        if prlimit is None:
            pytest.skip("prlimit (util-linux) is not installed")
        command = [prlimit, f"--as={MEMORY_LIMIT}", "--", *command]
    started = time.monotonic()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{' '.join(args)}` did not finish within {timeout} s")
    return proc, time.monotonic() - started


def billion_laughs() -> str:
    lines = ['lol0: &lol0 "lol"']
    for i in range(1, 10):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n" + EPOCHS


def nested_aliases() -> str:
    """About 500 bytes: nine-item lists of the previous level's alias, eight levels deep."""
    lines = ["version: 1.1.0", "a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefg", "bcdefgh"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n" + EPOCHS


@pytest.mark.parametrize("make", [billion_laughs, nested_aliases], ids=["billion-laughs", "nested-aliases"])
def test_alias_bombs_get_one_diagnostic(tmp_path, make):
    recipe = tmp_path / "bomb.recipe.yaml"
    recipe.write_text(make())
    proc, seconds = run_check(str(recipe), "--format", "json", limit_memory=True)
    assert proc.returncode == 1, f"exit {proc.returncode}\n{proc.stderr[-2000:]}"
    diagnostics = json.loads(proc.stdout)["diagnostics"]
    limits = [d for d in diagnostics if d["code"] == "alias-limit"]
    assert len(limits) == 1, diagnostics
    message = limits[0]["message"]
    assert "nest fewer aliases" in message and ". " not in message, message
    assert seconds < 10, f"{seconds:.1f} s"


def test_an_overlap_storm_stays_small(tmp_path):
    modifier = ("  - !GMPruningModifier\n    params: [a.weight, b.weight]\n    init_sparsity: 0.05\n"
                "    final_sparsity: 0.8\n    start_epoch: 0.0\n    end_epoch: 10.0\n    update_frequency: 1.0\n")
    recipe = tmp_path / "storm.recipe.yaml"
    recipe.write_text("modifiers:\n" + modifier * 1600)
    proc, seconds = run_check(str(recipe), limit_memory=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    overlaps = [line for line in proc.stdout.splitlines() if "[param-overlap]" in line]
    assert 1 < len(overlaps) <= 101, len(overlaps)
    assert "the rest are not listed" in overlaps[-1]
    assert seconds < 10, f"{seconds:.1f} s"


def test_a_hundred_thousand_keys_check_quickly(tmp_path):
    recipe = tmp_path / "keys.recipe.yaml"
    recipe.write_text("".join(f"k{i}: {i}\n" for i in range(100_000)) + EPOCHS)
    proc, seconds = run_check(str(recipe), limit_memory=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert seconds < 20, f"{seconds:.1f} s"


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.onnx"
    os.mkfifo(path)
    return path


def _one_sentence(text: str) -> str:
    line = text.strip()
    assert "\n" not in line and line.endswith(".") and "panicked" not in line, text
    return line


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "directory"])
def test_check_refuses_a_recipe_that_is_not_a_file(special, fifo, tmp_path):
    path = {"fifo": str(fifo), "/dev/zero": "/dev/zero", "directory": str(tmp_path)}[special]
    proc, seconds = run_check(path, timeout=10)
    assert proc.returncode == 2, proc
    kind = "is a directory, not" if special == "directory" else "is not"
    assert _one_sentence(proc.stderr) == (
        f"prunekit-lsp: {path} {kind} a regular file; give the path of a recipe file.")
    assert seconds < 5


def test_check_refuses_a_huge_recipe(tmp_path):
    recipe = tmp_path / "huge.recipe.yaml"
    with recipe.open("wb") as f:
        f.truncate(9 << 20)
    proc, _ = run_check(str(recipe), timeout=10)
    assert proc.returncode == 2, proc
    assert _one_sentence(proc.stderr).endswith(
        "huge.recipe.yaml is 9.0 MiB, more than the 8 MiB prunekit checks; split it into smaller recipes.")


@pytest.mark.parametrize("how", ["modeline", "--model"])
@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_a_model_that_is_not_a_file_is_refused(special, how, fifo, tmp_path):
    model = str(fifo) if special == "fifo" else "/dev/zero"
    recipe = tmp_path / "r.recipe.yaml"
    modeline = f"# prunekit: model={model}\n" if how == "modeline" else ""
    recipe.write_text(modeline + EPOCHS)
    extra = ["--model", model] if how == "--model" else []
    proc, seconds = run_check(str(recipe), "--format", "json", *extra, timeout=10)
    assert proc.returncode == 0, proc
    diagnostics = json.loads(proc.stdout)["diagnostics"]
    assert [(d["code"], d["message"]) for d in diagnostics] == [
        ("model", f"{model} is not a regular file; give the path of an .onnx model.")]
    assert seconds < 5


def test_the_server_refuses_a_fifo_model_and_keeps_answering(fifo, tmp_path):
    server = RawServer()
    try:
        server.initialize()
        uri, opened = did_open(tmp_path / "r.recipe.yaml", f"# prunekit: model={fifo}\n" + EPOCHS)
        server.send(opened)
        diagnostics = server.until_diagnostics(uri, timeout=10)
        assert [d["message"] for d in diagnostics] == [
            f"{fifo} is not a regular file; give the path of an .onnx model."]
        server.send(request(2, "prunekit/model", {"uri": uri}))
        response, _ = server.until_response(2, timeout=10)
        assert response["result"]["message"] == (
            f"{fifo} is not a regular file; give the path of an .onnx model."), response
        assert server.shutdown_and_exit(3) == 0
    finally:
        server.close()


def test_a_regular_model_still_loads(tmp_path):
    recipe = tmp_path / "r.recipe.yaml"
    recipe.write_text(f"# prunekit: model={DIGITS}\n" + EPOCHS)
    proc, _ = run_check(str(recipe), "--format", "json", timeout=30)
    assert proc.returncode == 0, proc
    report = json.loads(proc.stdout)
    assert report["diagnostics"] == [] and Path(report["model"]) == DIGITS

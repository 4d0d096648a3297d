"""`benchmark` as a user runs it: every batch and thread count asked for gets a timed run with its
latency percentiles and throughput, a comparison with an optimization's pruned model says plainly
that ONNX Runtime's dense kernels give about 1x, and the result lands in the project file."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from prunekit_cli import FIXTURES, PRUNEKIT_BIN


def run(folder, *commands: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(PRUNEKIT_BIN), "run", "--format", "json", *commands], cwd=folder,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture()
def digits(tmp_path):
    shutil.copy(FIXTURES / "digits_cnn.onnx", tmp_path / "digits_cnn.onnx")
    return tmp_path


def test_every_configuration_is_timed_and_saved(digits):
    proc = run(digits, "load digits_cnn.onnx", "optimize --sparsity 0.7",
               "benchmark --batch 1,16 --threads 1,auto --iterations 12 --warmup 2 --optimization default")
    assert proc.returncode == 0, proc.stderr
    bench = json.loads(proc.stdout.splitlines()[-1])
    runs = bench["runs"]
    configs = {(r["model"], r["batch"], r["threads"]) for r in runs}
    assert configs == {(m, b, t) for m in ("dense", "pruned") for b in (1, 16) for t in (1, None)}
    for r in runs:
        lat = r["ms_per_batch"]
        assert len(r["ms"]) == r["iterations"] == 12
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] and lat["mean"] > 0
        assert r["items_per_second"] == pytest.approx(r["batch"] * 1000 / lat["mean"])
        assert r["ms_per_item"] == pytest.approx(lat["mean"] / r["batch"])
    assert any("dense" in note for note in bench["notes"]), bench["notes"]
    assert "estimated_speedup" in bench  # null here: no perf profile was taken
    speedups = {(s["batch"], s["threads"]): s["measured"] for s in bench["speedups"]}
    assert set(speedups) == {(1, 1), (1, None), (16, 1), (16, None)}
    for (batch, threads), measured in speedups.items():
        [dense] = [r for r in runs if (r["model"], r["batch"], r["threads"]) == ("dense", batch, threads)]
        [pruned] = [r for r in runs if (r["model"], r["batch"], r["threads"]) == ("pruned", batch, threads)]
        assert measured == pytest.approx(dense["ms_per_item"] / pruned["ms_per_item"])
    project = json.loads((digits / "digits_cnn.onnx.prunekit.json").read_text())
    assert project["benchmarks"]["default"]["runs"] == runs


def test_default_iterations_follow_sparsifys_rule(digits):
    proc = run(digits, "load digits_cnn.onnx", "benchmark --batch 1,64 --warmup 0")
    assert proc.returncode == 0, proc.stderr
    runs = json.loads(proc.stdout.splitlines()[-1])["runs"]
    # round(5 + 25·e^(1 − batch^0.25)): 30 at batch 1, 9 at batch 64.
    assert [r["iterations"] for r in runs] == [30, 9]


def test_a_time_budget_decides_the_runs(digits):
    proc = run(digits, "load digits_cnn.onnx", "benchmark --batch 1 --seconds 0.3 --warmup 1")
    assert proc.returncode == 0, proc.stderr
    [r] = json.loads(proc.stdout.splitlines()[-1])["runs"]
    # The digits CNN runs in well under a millisecond: a 0.3 s budget gives far more than the
    # 30 runs of Sparsify's rule. No run starts once the budget is spent, so the timed runs add
    # up to at most the budget and the last run (on a loaded machine one run can be slow).
    assert 30 < r["iterations"] == len(r["ms"]) <= 10_000
    assert sum(r["ms"]) <= 300 + max(r["ms"])


@pytest.mark.parametrize("flags", ["--batch 0", "--threads two", "--optimization nope",
                                   "--iterations 0", "--seconds 0", "--seconds 1 --iterations 3"])
def test_bad_flags_are_one_sentence(digits, flags):
    proc = run(digits, "load digits_cnn.onnx", f"benchmark {flags}")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prunekit: "), proc.stderr

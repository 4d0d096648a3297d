"""The bench's copy of the perf profile's cost model (bench/sparse_engine_fit.py, which fits its
constants to DeepSparse) is the Rust one (core/src/profile/perf/estimate.rs) term for term: on real
profiles of the fixtures, every prunable layer's estimated time at every level is the same, over
every kind of kernel the model tells apart, and `optimize` reads each layer's estimate at the layer's own
sparsity as the fit does. The fit itself needs DeepSparse's measurements and runs
in `make bench-sparse-engine`, not here.
"""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

from prunekit_cli import FIXTURES, REPO_ROOT, run_in

sys.path.insert(0, str(REPO_ROOT / "bench"))
import sparse_engine_fit as fit  # noqa: E402

# digits_cnn: a first Conv on one channel (dense), a 3x3 Conv (spatial), Gemms; grouped_convs:
# depthwise and grouped Convs (dense), a 1x1 Conv; transformer_block: MatMuls.
MODELS = ["digits_cnn.onnx", "grouped_convs.onnx", "transformer_block.onnx"]


# Sparsities between the profile's levels (0.4, 0.6, 0.7): past the MatMul switch and on either
# side of the Conv one.
OFF_LEVEL = [0.55, 0.62]


def profiled(tmp_path, model: str) -> tuple[dict, list[dict]]:
    """The fit script's view of a model (its analysis and a measured perf profile, as
    bench/sparse_engine.py records them), and `optimize`'s plan with every prunable layer pinned at
    each of OFF_LEVEL."""
    shutil.copy(FIXTURES / model, tmp_path / model)
    pinned = [f"override re:.* {s}" for s in OFF_LEVEL]
    proc = run_in(tmp_path, f"load {model}", "profile perf --batch 1 --iterations 3 --warmup 1",
                  "optimize --sparsity 0.5", *pinned)
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    analysis = next(r for r in results if "n_prunable" in r.get("model", {}))
    perf = next(r for r in results if r.get("kind") == "measured")
    plans = results[-len(pinned):]
    return {"analysis": analysis["layers"], "perf": perf}, plans


def test_the_fit_scripts_cost_model_is_the_products(tmp_path):
    kinds = set()
    for model in MODELS:
        folder = tmp_path / model.removesuffix(".onnx")
        folder.mkdir()
        entry, plans = profiled(folder, model)
        layers = [l for l in fit.prunable_layers(entry) if l["ms"] and l["flops"]]
        assert layers, model
        raw = {l["name"]: l for l in entry["perf"]["layers"]}
        cost = fit.CostModel(layers, **fit.CONSTANTS)
        for layer, python in zip(layers, cost.at_levels()):
            rust = [layer["estimated_ms"][key] for key in sorted(layer["estimated_ms"], key=float)]
            assert len(rust) == len(fit.LEVELS), (model, layer["name"])
            np.testing.assert_allclose(rust, python, rtol=1e-9, atol=1e-12,
                                       err_msg=f"{model}: {layer['name']} ({layer['kernel']})")
            # The fit's kernel, read from the weight's shape, is the one the product recorded.
            assert raw[layer["name"]]["kernel"] == layer["kernel"], (model, layer["name"])
            kinds.add((layer["op_type"] == "Conv", layer["kernel"]))
        # `optimize` reads each layer at its own sparsity, as the fit does, not between levels.
        assert len(plans) == len(OFF_LEVEL), model
        for s, plan in zip(OFF_LEVEL, plans):
            planned = {l["name"]: l for l in plan["layers"]}
            python = cost.at(np.full(len(layers), s))
            for layer, want in zip(layers, python):
                got = planned[layer["name"]]
                assert got["sparsity"] == pytest.approx(s), (model, layer["name"])
                assert got["estimated_ms"] == pytest.approx(want, rel=1e-9, abs=1e-12), \
                    f"{model}: {layer['name']} ({layer['kernel']}) at {s}"
    # A dense-only Conv, a spatial Conv, a 1x1 Conv and a MatMul/Gemm: every branch of the model.
    assert kinds >= {(True, "dense"), (True, "spatial"), (True, "pointwise"), (False, "matmul")}, kinds


def test_the_error_band_every_estimate_shows_is_the_one_measured(tmp_path):
    """The band the product prints beside its estimates (`MEASURED_ERROR`) is what the fit gives on
    the DeepSparse runs kept in bench/measured, with the product's constants."""
    runs = sorted((REPO_ROOT / "bench" / "measured").glob("sparse_engine_*.json.gz"))
    assert runs
    report = fit.merged([fit.read_run(str(p)) for p in runs])
    rows = fit.evaluate(report, fit.prepare(report), dict(fit.CONSTANTS), ranking=False)
    errors = [r["error"] for r in rows]
    within = sum(abs(e) <= 0.15 for e in errors)
    shutil.copy(FIXTURES / "digits_cnn.onnx", tmp_path / "digits_cnn.onnx")
    proc = run_in(tmp_path, "load digits_cnn.onnx", "profile perf --batch 1 --iterations 2 --warmup 1")
    perf = next(r for r in map(json.loads, proc.stdout.splitlines()) if r.get("kind") == "measured")
    band = (f"measured {round(-100 * min(errors))}% under to {round(100 * max(errors))}% over "
            f"DeepSparse 1.8.0's speedups on three bench models, {within} of {len(errors)} within 15%")
    assert any(band in note for note in perf["notes"]), (band, perf["notes"])


def test_the_pooled_ranking_reads_every_run_and_ranks_each_uniform_plan(capsys):
    """`--pooled-ranking` ranks the estimate against DeepSparse's median saving per cluster over
    the committed runs that took three analyses each (runs 3 on): every uniform plan that changes
    three clusters or more gets a figure, and MobileNet-shaped ones rank as docs/benchmarks.md
    says."""
    runs = sorted((REPO_ROOT / "bench" / "measured").glob("sparse_engine_*_fastest_run*.json.gz"),
                  key=lambda p: int(p.name.rsplit("run", 1)[1].split(".")[0]))[2:]
    assert len(runs) >= 2
    fit.pooled_ranking([fit.read_run(str(p)) for p in runs], dict(fit.CONSTANTS))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 15, lines
    ranked = {line.split(":")[0].split("ranking ")[1]: line for line in lines if "not ranked" not in line}
    assert len(ranked) == 13, lines
    low = float(ranked["mobilenet uniform-0.9"].split(": ")[1].split(" to ")[0])
    assert low >= 0.9, ranked["mobilenet uniform-0.9"]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))

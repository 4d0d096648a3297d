"""Weights stored in `Constant` nodes, as Paddle's and old PyTorch's exporters write every weight,
go through every command as initializers do (`prunekit-kernel run`):

* the digits CNN rebuilt here with every weight in a `Constant` node (some read through one
  `Identity`, one through two), and a copy that mixes both forms, load, list their layers, take
  performance and loss profiles (magnitude, one-shot, int8 sensitivity) equal to the original's;
* `optimize` and `export recipe`, `export model` (pruned: each weight written back into the node
  it lives in, with the planned zeros, computing what numpy's pruning of it computes),
  `export model --quantize static|dynamic` (int8 models that agree with the float one on the
  held-out digits), the pruned int8 model, and `benchmark` of every variant;
* the transformer block fixture, whose `ffn.fc2.weight` is a `Constant` node: optimize, export,
  and both quantizations.

Expectations are checked with tools that are not prunekit's: onnx reads the graphs, ONNX Runtime
runs them, numpy prunes and compares.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from prunekit_cli import FIXTURES, PRUNEKIT_BIN

pytestmark = pytest.mark.timeout(240)

DIGITS_WEIGHTS = ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"]
BENCH_FLAGS = "--batch 8 --threads 1 --iterations 5 --warmup 1"
# How many Identity nodes each constant is read through; the others are read directly.
IDENTITIES = {"conv2.weight": 1, "fc1.bias": 1, "bn1.running_var": 1, "fc2.weight": 2}
# The two forms of the model: every weight in a Constant node, or some kept as initializers.
FORMS = {"constant": set(), "mixed": {"conv1.weight", "fc1.weight", "bn2.bias"}}


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------


def constant_copy(src: Path, dst: Path, keep: set[str]) -> None:
    """`src` with every initializer not in `keep` turned into a Constant node (before the other
    nodes), read through the Identity nodes `IDENTITIES` asks for."""
    model = onnx.load(src)
    graph = model.graph
    nodes, reads = [], {}
    for tensor in graph.initializer:
        if tensor.name in keep:
            continue
        nodes.append(helper.make_node("Constant", [], [tensor.name], value=tensor))
        read = tensor.name
        for k in range(IDENTITIES.get(tensor.name, 0)):
            nodes.append(helper.make_node("Identity", [read], [f"{tensor.name}/read{k}"]))
            read = f"{tensor.name}/read{k}"
        reads[tensor.name] = read
    kept = [t for t in graph.initializer if t.name in keep]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    for node in graph.node:
        node.input[:] = [reads.get(v, v) for v in node.input]
    rest = list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes + rest)
    onnx.checker.check_model(model)
    onnx.save(model, dst)


def stored(model: onnx.ModelProto, value: str) -> tuple[np.ndarray, str] | None:
    """The constant `value` is (through Identity nodes), and where it lives: 'initializer' or
    'constant'; None when it is computed or absent."""
    producers = {out: n for n in model.graph.node for out in n.output}
    for _ in range(8):
        for t in model.graph.initializer:
            if t.name == value:
                return numpy_helper.to_array(t), "initializer"
        node = producers.get(value)
        if node is None:
            return None
        if node.op_type == "Constant":
            return numpy_helper.to_array(node.attribute[0].t), "constant"
        if node.op_type != "Identity":
            return None
        value = node.input[0]
    return None


def magnitude_pruned(w: np.ndarray, sparsity: float) -> np.ndarray:
    """The round(s·N) smallest magnitudes zeroed, ties broken by position (numpy's own)."""
    flat = w.ravel().copy()
    order = np.argsort(np.abs(flat), kind="stable")
    flat[order[:round(sparsity * flat.size)]] = 0
    return flat.reshape(w.shape)


def with_weights(model: onnx.ModelProto, weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A copy of `model` with each named constant replaced where it lives."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for t in model.graph.initializer:
        if t.name in weights:
            t.CopyFrom(numpy_helper.from_array(weights[t.name], t.name))
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] in weights:
            node.attribute[0].t.CopyFrom(numpy_helper.from_array(weights[node.output[0]]))
    return model


def logits(model, x: np.ndarray) -> np.ndarray:
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def prunekit(folder: Path, *commands: str) -> list[dict]:
    """The commands' JSON results, one per result line; fails the test on a non-zero exit."""
    proc = subprocess.run([str(PRUNEKIT_BIN), "run", "--format", "json", *commands], cwd=folder,
                          capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, f"{commands} exited {proc.returncode}:\n{proc.stderr}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def op_counts(path: Path) -> Counter:
    return Counter(node.op_type for node in onnx.load(path).graph.node)


@pytest.fixture(params=list(FORMS))
def work(request, tmp_path: Path) -> Path:
    """A folder with the original digits CNN, its copy in one of the forms as `weights.onnx`,
    and the digits data."""
    for name in ("digits_cnn.onnx", "digits_train.npz", "digits_test.npz"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    constant_copy(FIXTURES / "digits_cnn.onnx", tmp_path / "weights.onnx", FORMS[request.param])
    return tmp_path


# ------------------------------------------------------------------------------------------------
# 1. Analysis and profiles
# ------------------------------------------------------------------------------------------------


def test_the_copy_computes_what_the_original_does(work):
    model = onnx.load(work / "weights.onnx")
    kinds = {stored(model, w)[1] for w in DIGITS_WEIGHTS}
    assert "constant" in kinds
    x = np.load(work / "digits_test.npz")["input"]
    np.testing.assert_array_equal(logits(work / "weights.onnx", x),
                                  logits(work / "digits_cnn.onnx", x))


PROFILES = ("layers", "profile perf --iterations 3 --warmup 1", "profile loss",
            "profile loss --method one-shot --data digits_train.npz --samples 64 --quantization")


def test_load_layers_and_profiles_match_the_original(work):
    loaded, layers, perf, magnitude, one_shot = prunekit(work, "load weights.onnx", *PROFILES)
    _, _, _, magnitude_0, one_shot_0 = prunekit(work, "load digits_cnn.onnx", *PROFILES)

    prunable = {l["name"]: (l["weight"], l["prunable_params"])
                for l in loaded["layers"] if l["prunable"]}
    assert [w for w, _ in prunable.values()] == DIGITS_WEIGHTS
    assert [l for l in layers["layers"] if l["prunable"]] == \
        [l for l in loaded["layers"] if l["prunable"]]
    assert {l["name"] for l in perf["layers"] if l["prunable"]} == set(prunable)

    def values(profile):
        return {l["name"]: l["values"] for l in profile["layers"]}

    assert magnitude["skipped"] == [] and one_shot["skipped"] == []
    assert values(magnitude) == values(magnitude_0)
    # The one-shot runs prune the same weights the same way: the same figures.
    for name, got in values(one_shot).items():
        assert got == pytest.approx(values(one_shot_0)[name], rel=1e-4, abs=1e-7), name
    quant, quant_0 = one_shot["quantization"], one_shot_0["quantization"]
    assert [(l["name"], l["weight"]) for l in quant["layers"]] == \
        [(l["name"], l["weight"]) for l in quant_0["layers"]]
    assert [l["weight"] for l in quant["layers"]] == DIGITS_WEIGHTS
    for got, want in zip(quant["layers"], quant_0["layers"]):
        assert got["value"] == pytest.approx(want["value"], rel=0.05, abs=1e-6), got["name"]


# ------------------------------------------------------------------------------------------------
# 2. int8 exports
# ------------------------------------------------------------------------------------------------


def test_quantized_exports_agree_with_the_float_model(work):
    _, static, dynamic = prunekit(
        work, "load weights.onnx",
        "export model out/static.onnx --quantize static --calibration-data digits_train.npz "
        "--data digits_test.npz",
        "export model out/dynamic.onnx --quantize dynamic --data digits_test.npz")
    data = np.load(work / "digits_test.npz")
    float_top1 = logits(work / "weights.onnx", data["input"]).argmax(1)

    for out, path, quantized in ((static, "static.onnx", DIGITS_WEIGHTS),
                                 (dynamic, "dynamic.onnx", DIGITS_WEIGHTS[2:])):
        quant = out["quantization"]
        assert len(quant["layers"]) == len(quantized), quant
        assert all(layer["per_channel"] for layer in quant["layers"])
        written = onnx.load(work / "out" / path)
        for weight in quantized:
            # Only the int8 form is left: no float copy in an initializer or a Constant node.
            assert stored(written, weight) is None, (path, weight)
            q = next(t for t in written.graph.initializer if t.name == f"{weight}_quantized")
            assert q.data_type == onnx.TensorProto.INT8
        top1 = logits(work / "out" / path, data["input"]).argmax(1)
        agreement = float(np.mean(top1 == float_top1))
        print(f"{path}: top-1 agreement with float {agreement:.4f}")
        assert agreement >= 0.95, (path, agreement)
        assert out["accuracy"]["after"] == pytest.approx(float(np.mean(top1 == data["labels"])))

    ops = op_counts(work / "out" / "static.onnx")
    assert "BatchNormalization" not in ops, "both BatchNormalizations fold into their Conv"
    assert "Identity" not in ops and "Constant" not in ops, ops
    assert any("2 BatchNormalizations were folded" in n for n in static["quantization"]["notes"])


# ------------------------------------------------------------------------------------------------
# 3. Pruning, recipes, the pruned int8 model and benchmarks
# ------------------------------------------------------------------------------------------------


def test_pruned_export_writes_each_weight_where_it_was(work):
    _, plan, recipe, pruned, both, sparsegpt = prunekit(
        work, "load weights.onnx", "optimize --sparsity 0.7", "export recipe out/r.recipe.yaml",
        "export model out/pruned.onnx --data digits_test.npz --method magnitude",
        "export model out/pq.onnx --quantize static --calibration-data digits_train.npz "
        "--method magnitude",
        "export model out/sgpt.onnx --calibration-data digits_train.npz")
    planned = {l["weight"]: l["sparsity"] for l in plan["layers"] if l["sparsity"]}
    assert len(planned) >= 2, plan["layers"]
    assert sorted(recipe["layers_pruned"]) == sorted(planned)
    assert {l["weight"] for l in pruned["layers"]} == set(planned)

    original = onnx.load(work / "weights.onnx")
    written = onnx.load(work / "out" / "pruned.onnx")
    assert [(n.op_type, list(n.output)) for n in written.graph.node] == \
        [(n.op_type, list(n.output)) for n in original.graph.node], "nodes stay where they were"
    assert [t.name for t in written.graph.initializer] == \
        [t.name for t in original.graph.initializer], "no weight moves to an initializer"
    expected = {}
    for weight in DIGITS_WEIGHTS:
        before, home = stored(original, weight)
        after, home_after = stored(written, weight)
        assert home_after == home, weight
        want = magnitude_pruned(before, planned[weight]) if weight in planned else before
        np.testing.assert_array_equal(after, want, err_msg=weight)
        expected[weight] = want
        if weight in planned:
            zeros = float(np.mean(after == 0))
            measured = next(l["sparsity"] for l in pruned["layers"] if l["weight"] == weight)
            assert zeros == pytest.approx(measured)
            assert abs(zeros - planned[weight]) <= 1 / after.size, (weight, zeros)

    # SparseGPT writes each weight (and the BatchNormalization statistics it repairs) where it
    # was too, at the planned sparsity.
    assert sparsegpt["pruning"]["method"] == "sparsegpt"
    reconstructed = onnx.load(work / "out" / "sgpt.onnx")
    assert [t.name for t in reconstructed.graph.initializer] == \
        [t.name for t in original.graph.initializer]
    for weight in planned:
        after, home_after = stored(reconstructed, weight)
        assert home_after == stored(original, weight)[1], weight
        assert abs(float(np.mean(after == 0)) - planned[weight]) <= 1 / after.size, weight

    x = np.load(work / "digits_test.npz")["input"]
    np.testing.assert_allclose(logits(work / "out" / "pruned.onnx", x),
                               logits(with_weights(original, expected), x), rtol=1e-5, atol=1e-5)

    # Pruned, then int8: the zeros stay zeros in the int8 weights.
    assert len(both["quantization"]["layers"]) == 4
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(work / "out" / "pq.onnx").graph.initializer}
    for weight, sparsity in planned.items():
        q = inits[f"{weight}_quantized"]
        assert sparsity - 1 / q.size <= float(np.mean(q == 0)) <= sparsity + 0.02, weight
    assert np.isfinite(logits(work / "out" / "pq.onnx", x)).all()

    _, _, bench = prunekit(work, "load weights.onnx", "optimize --sparsity 0.7 --quantize static",
                           f"benchmark --optimization default {BENCH_FLAGS}")
    assert {r["model"] for r in bench["runs"]} == {"dense", "pruned", "quantized",
                                                  "pruned+quantized"}
    assert all(s["measured"] > 0 for s in bench["speedups"])


# ------------------------------------------------------------------------------------------------
# 4. The transformer block: one weight in a Constant node among initializers
# ------------------------------------------------------------------------------------------------


def test_transformer_block_prunes_and_quantizes_its_constant_weight(tmp_path):
    shutil.copy(FIXTURES / "transformer_block.onnx", tmp_path / "block.onnx")
    original = onnx.load(tmp_path / "block.onnx")
    assert stored(original, "ffn.fc2.weight")[1] == "constant"
    _, plan, pruned, static, dynamic = prunekit(
        tmp_path, "load block.onnx --dim sequence=4", "optimize",
        "export model out/pruned.onnx", "export model out/static.onnx --quantize static",
        "export model out/dynamic.onnx --quantize dynamic")
    sparsity = next(l["sparsity"] for l in plan["layers"] if l["weight"] == "ffn.fc2.weight")
    assert sparsity, plan["layers"]

    before, _ = stored(original, "ffn.fc2.weight")
    after, home = stored(onnx.load(tmp_path / "out" / "pruned.onnx"), "ffn.fc2.weight")
    assert home == "constant"
    np.testing.assert_array_equal(after, magnitude_pruned(before, sparsity))

    fc2 = "/ffn/fc2/MatMul_output_0"
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 64)).astype(np.float32)
    want = ort.InferenceSession(str(tmp_path / "out" / "pruned.onnx")).run(None, {"hidden": x})[0]
    for out, path in ((static, "static.onnx"), (dynamic, "dynamic.onnx")):
        assert fc2 in [layer["name"] for layer in out["quantization"]["layers"]], path
        written = onnx.load(tmp_path / "out" / path)
        assert stored(written, "ffn.fc2.weight") is None, path
        got = ort.InferenceSession(str(tmp_path / "out" / path)).run(None, {"hidden": x})[0]
        assert got.shape == want.shape and np.isfinite(got).all()
        if path == "dynamic.onnx":
            rel = np.linalg.norm(got - want) / np.linalg.norm(want)
            assert rel < 0.1, f"relative L2 error {rel:.4f}"

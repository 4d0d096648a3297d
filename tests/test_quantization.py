"""Quantization end to end, as a user drives it from the cell language (`prunekit-kernel run`):

* `export model --quantize static` on the dense digits CNN: a QDQ model with int8 weights that
  ONNX Runtime runs at the float model's accuracy;
* `export model --quantize dynamic` on the transformer block: MatMulInteger with
  DynamicQuantizeLinear, outputs close to the float block's;
* `profile loss --quantization`: each layer in int8 alone, ranked, checked against a model
  exported and run here, saved in the project file, drawn as a third chart (through a real
  Jupyter kernel, which is where charts go);
* `optimize --quantize static`: a recipe with a QuantizationModifier that the language server
  accepts, and a pruned + quantized model that keeps the plan's zeros and runs;
* `benchmark --quantize` and `benchmark --optimization` with a quantizing optimization: the int8
  models are timed beside the dense (and pruned) one;
* bad quantization input gets one sentence on stderr, no panic.

Every expectation is checked with tools that are not prunekit's: onnx reads the graphs, ONNX
Runtime runs them, numpy computes accuracies and errors, PyYAML reads the recipe.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml
from onnx import TensorProto, numpy_helper

from prunekit_cli import FIXTURES, PRUNEKIT_BIN, REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tests" / "kernel"))
from kernel_harness import execute_ok, hermetic_kernelspec, running_kernel  # noqa: E402

pytestmark = pytest.mark.timeout(120)

LSP_BIN = REPO_ROOT / "target" / "release" / "prunekit-lsp"

# The digits CNN's prunable layers (layer name -> weight), in graph order.
DIGITS_LAYERS = {
    "/conv1/Conv_output_0": "conv1.weight",
    "/conv2/Conv_output_0": "conv2.weight",
    "/fc1/Gemm_output_0": "fc1.weight",
    "logits": "fc2.weight",
}
BENCH_FLAGS = "--batch 8 --threads 1 --iterations 5 --warmup 1"


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------


def prunekit(folder: Path, *commands: str) -> subprocess.CompletedProcess:
    """`prunekit-kernel run --format json COMMANDS...` in folder, not checked."""
    return subprocess.run([str(PRUNEKIT_BIN), "run", "--format", "json", *commands], cwd=folder,
                          capture_output=True, text=True, timeout=120)


def run(folder: Path, *commands: str) -> list[dict]:
    """The commands' JSON results, one per result line; fails the test on a non-zero exit."""
    proc = prunekit(folder, *commands)
    assert proc.returncode == 0, f"{commands} exited {proc.returncode}:\n{proc.stderr}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def op_counts(path: Path) -> Counter:
    return Counter(node.op_type for node in onnx.load(path).graph.node)


def initializers(path: Path) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}


def logits(path: Path, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(path)).run(None, {"input": x})[0]


def accuracy(path: Path, data) -> float:
    return float(np.mean(logits(path, data["input"]).argmax(1) == data["labels"]))


def mean_kl(p_logits: np.ndarray, q_logits: np.ndarray) -> float:
    """Mean over samples of KL(softmax(p) || softmax(q))."""
    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    lp, lq = log_softmax(p_logits.astype(np.float64)), log_softmax(q_logits.astype(np.float64))
    return float(np.mean(np.sum(np.exp(lp) * (lp - lq), axis=1)))


def recipe_modifiers(text: str) -> list[dict]:
    """The recipe's modifiers, each a mapping with its tag under `__class__`."""
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: {
        "__class__": suffix, **loader.construct_mapping(node, deep=True)})
    return yaml.load(text, Loader=Loader)["modifiers"]


def check_one_sentence(proc: subprocess.CompletedProcess, what: str, needles: list[str]) -> str:
    assert proc.returncode != 0, f"{what}: exit code 0"
    for bad in ("panicked", "RUST_BACKTRACE", "Traceback", "internal error"):
        assert bad not in proc.stderr, f"{what}: {bad!r} on stderr:\n{proc.stderr}"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prunekit: "), (what, proc.stderr)
    missing = [n for n in needles if n.lower() not in lines[0].lower()]
    assert not missing, f"{what}: the message does not mention {missing}: {lines[0]!r}"
    return lines[0]


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    """A folder with private copies of the fixtures, so project files and exports land there."""
    for name in ("digits_cnn.onnx", "digits_train.npz", "digits_test.npz",
                 "transformer_block.onnx", "quantized_conv.onnx"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    return tmp_path


@pytest.fixture(scope="module")
def kernelspec(tmp_path_factory: pytest.TempPathFactory):
    with hermetic_kernelspec(tmp_path_factory.mktemp("jupyter")) as spec_dir:
        yield spec_dir


# ------------------------------------------------------------------------------------------------
# 1. Static export of the dense model
# ------------------------------------------------------------------------------------------------


def test_static_export_of_the_dense_model_keeps_its_accuracy(work):
    _, out = run(work, "load digits_cnn.onnx",
                 "export model out/q.onnx --quantize static --data digits_test.npz "
                 "--calibration-data digits_train.npz")
    path = work / "out" / "q.onnx"
    assert path.is_file()

    quant = out["quantization"]
    assert quant["mode"] == "static"
    assert [layer["name"] for layer in quant["layers"]] == list(DIGITS_LAYERS)
    assert all(layer["per_channel"] for layer in quant["layers"])
    assert quant["float"] == []
    assert quant["calibration"]["source"] == "digits_train.npz"
    assert quant["calibration"]["samples"] == 256

    ops = op_counts(path)
    assert ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > 0, ops
    assert "BatchNormalization" not in ops, "the BatchNormalizations should be folded"
    inits = {t.name: t for t in onnx.load(path).graph.initializer}
    int8 = {name for name, t in inits.items() if t.data_type == TensorProto.INT8}
    for weight in DIGITS_LAYERS.values():
        assert f"{weight}_quantized" in int8, (weight, sorted(int8))
    assert not any(w in inits for w in DIGITS_LAYERS.values()), "float weights left in the graph"

    data = np.load(work / "digits_test.npz")
    float_acc, int8_acc = accuracy(work / "digits_cnn.onnx", data), accuracy(path, data)
    assert abs(int8_acc - float_acc) <= 0.01, (float_acc, int8_acc)
    assert out["accuracy"]["before"] == pytest.approx(float_acc)
    assert out["accuracy"]["after"] == pytest.approx(int8_acc)
    assert out["accuracy"]["samples"] == len(data["labels"])


# ------------------------------------------------------------------------------------------------
# 2. Dynamic export of the transformer block
# ------------------------------------------------------------------------------------------------


def test_dynamic_export_of_the_transformer_block_stays_close(work):
    _, out = run(work, "load transformer_block.onnx --dim sequence=4",
                 "export model out/d.onnx --quantize dynamic")
    path = work / "out" / "d.onnx"
    quant = out["quantization"]
    assert quant["mode"] == "dynamic" and quant["calibration"] is None
    assert quant["layers"] and all(layer["op_type"] == "MatMul" for layer in quant["layers"])
    # Every MatMul left float is listed with its reason.
    assert {f["name"] for f in quant["float"]} >= {"/attn/scores/MatMul_output_0",
                                                   "/attn/context/MatMul_output_0"}

    ops = op_counts(path)
    assert ops["MatMulInteger"] == len(quant["layers"]), ops
    assert ops["DynamicQuantizeLinear"] > 0, ops

    # Symbolic dims survive: other batch and sequence sizes than the loaded ones run too.
    float_block = ort.InferenceSession(str(work / "transformer_block.onnx"))
    int8_block = ort.InferenceSession(str(path))
    rng = np.random.default_rng(0)
    for shape in ((2, 4, 64), (3, 7, 64)):
        x = rng.standard_normal(shape).astype(np.float32)
        want = float_block.run(None, {"hidden": x})[0]
        got = int8_block.run(None, {"hidden": x})[0]
        assert got.shape == want.shape
        rel = np.linalg.norm(got - want) / np.linalg.norm(want)
        assert rel < 0.1, f"relative L2 error {rel:.4f} at {shape}"


# ------------------------------------------------------------------------------------------------
# 3. The quantization loss profile
# ------------------------------------------------------------------------------------------------


def test_quantization_profile_ranks_layers_and_is_saved(work):
    _, profile, exported = run(
        work, "load digits_cnn.onnx", "profile loss --quantization --data digits_test.npz",
        # The profile calibrates on --data; the same calibration, exported, is its "all at once".
        "export model out/all.onnx --quantize static --calibration-data digits_test.npz")
    quant = profile["quantization"]
    assert quant["mode"] == "static" and quant["data"]["source"] == "digits_test.npz"
    layers = quant["layers"]
    assert [(layer["name"], layer["weight"]) for layer in layers] == list(DIGITS_LAYERS.items())
    assert sorted(layer["rank"] for layer in layers) == [1, 2, 3, 4]
    by_rank = sorted(layers, key=lambda layer: layer["rank"])
    values = [layer["value"] for layer in by_rank]
    assert values == sorted(values, reverse=True), "rank 1 is the layer int8 hurts most"
    assert all(v >= 0 for v in values)

    data = np.load(work / "digits_test.npz")
    float_logits = logits(work / "digits_cnn.onnx", data["input"])
    float_acc = float(np.mean(float_logits.argmax(1) == data["labels"]))
    assert quant["float_accuracy"] == pytest.approx(float_acc)
    for layer in layers:
        assert abs(layer["accuracy"] - float_acc) <= 0.01, layer

    assert exported["quantization"]["calibration"]["samples"] == len(data["labels"])
    int8_logits = logits(work / "out" / "all.onnx", data["input"])
    assert quant["model"]["accuracy"] == pytest.approx(
        float(np.mean(int8_logits.argmax(1) == data["labels"])))
    assert quant["metric"] == "kl_divergence"
    assert quant["model"]["value"] == pytest.approx(mean_kl(float_logits, int8_logits), rel=0.01)

    project = json.loads((work / "digits_cnn.onnx.prunekit.json").read_text())
    saved = project["loss_profiles"][profile["name"]]
    assert saved["quantization"] == quant


def test_quantization_profile_draws_a_third_chart(work, kernelspec):
    def charts(kc, command: str) -> int:
        _, outputs = execute_ok(kc, command, timeout=60)
        return sum(1 for o in outputs if o["msg_type"] == "display_data"
                   and "image/png" in o["content"]["data"])

    with running_kernel(cwd=work) as (_km, kc):
        execute_ok(kc, "load digits_cnn.onnx", timeout=30)
        assert charts(kc, "profile loss") == 2
        assert charts(kc, "profile loss --quantization --data digits_test.npz") == 3


# ------------------------------------------------------------------------------------------------
# 4, 5. An optimization that quantizes: its recipe and its model
# ------------------------------------------------------------------------------------------------


def test_quantizing_optimization_exports_a_valid_recipe(work):
    _, plan, recipe_out = run(work, "load digits_cnn.onnx", "optimize --quantize static",
                              "export recipe out/r.recipe.yaml")
    quant = plan["quantization"]
    assert quant["mode"] == "static" and quant["per_channel"]
    assert quant["start_epoch"] < quant["freeze_bn_epoch"] < quant["observer_end_epoch"]

    text = (work / "out" / "r.recipe.yaml").read_text()
    assert "!QuantizationModifier" in text
    check = subprocess.run([str(LSP_BIN), "check", "out/r.recipe.yaml"], cwd=work,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr

    modifiers = recipe_modifiers(text)
    assert recipe_out["modifiers"] == len(modifiers)
    [qm] = [m for m in modifiers if m["__class__"] == "QuantizationModifier"]
    assert qm["start_epoch"] == quant["start_epoch"]
    assert qm["freeze_bn_stats_epoch"] == quant["freeze_bn_epoch"]
    assert qm["disable_quantization_observer_epoch"] == quant["observer_end_epoch"]
    # Quantization-aware training starts after pruning ends and finishes inside the schedule.
    pruning_end = max(m["end_epoch"] for m in modifiers if m["__class__"] == "GMPruningModifier")
    [epochs] = [m for m in modifiers if m["__class__"] == "EpochRangeModifier"]
    assert pruning_end <= qm["start_epoch"] < qm["disable_quantization_observer_epoch"] \
        <= epochs["end_epoch"]


def test_pruned_and_quantized_model_keeps_the_zeros_and_runs(work):
    _, plan, out = run(work, "load digits_cnn.onnx", "optimize --quantize static",
                       "export model out/pq.onnx --data digits_test.npz")
    path = work / "out" / "pq.onnx"
    assert [layer["name"] for layer in out["quantization"]["layers"]] == list(DIGITS_LAYERS)
    ops = op_counts(path)
    assert ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > 0, ops

    inits = initializers(path)
    planned = {layer["weight"]: layer["sparsity"] for layer in plan["layers"] if layer["sparsity"]}
    assert planned, "the optimization pruned nothing"
    for weight, sparsity in planned.items():
        q = inits[f"{weight}_quantized"]
        assert q.dtype == np.int8
        # Pruned weights stay exactly zero in int8 (rounding may zero a few more).
        zeros = float(np.mean(q == 0))
        assert sparsity - 1 / q.size <= zeros <= sparsity + 0.02, (weight, sparsity, zeros)

    data = np.load(work / "digits_test.npz")
    result = logits(path, data["input"])
    assert result.shape == (len(data["labels"]), 10) and np.isfinite(result).all()
    assert out["accuracy"]["after"] == pytest.approx(
        float(np.mean(result.argmax(1) == data["labels"])))


# ------------------------------------------------------------------------------------------------
# 6. Benchmarks of the int8 models
# ------------------------------------------------------------------------------------------------


def check_speedups(bench: dict, models: set[str]) -> None:
    runs = {r["model"]: r for r in bench["runs"]}
    assert set(runs) == models | {"dense"}, sorted(runs)
    assert all(r["batch"] == 8 and r["threads"] == 1 and r["iterations"] == 5
               for r in bench["runs"])
    speedups = {s["model"]: s["measured"] for s in bench["speedups"]}
    assert set(speedups) == models
    for model, measured in speedups.items():
        assert measured > 0
        assert measured == pytest.approx(runs["dense"]["ms_per_item"] / runs[model]["ms_per_item"])


def test_benchmark_times_the_int8_models(work):
    _, bench = run(work, "load digits_cnn.onnx", f"benchmark --quantize static {BENCH_FLAGS}")
    check_speedups(bench, {"quantized"})

    _, _, bench = run(work, "load digits_cnn.onnx", "optimize --quantize static",
                      f"benchmark --optimization default {BENCH_FLAGS}")
    check_speedups(bench, {"quantized", "pruned", "pruned+quantized"})
    project = json.loads((work / "digits_cnn.onnx.prunekit.json").read_text())
    assert project["benchmarks"][bench["name"]]["runs"] == bench["runs"]


# ------------------------------------------------------------------------------------------------
# 7. Bad input
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model, command, needles", [
    ("digits_cnn.onnx", "optimize --quantize int2", ["--quantize", "int2", "static", "dynamic", "int4"]),
    ("digits_cnn.onnx", "export model x.onnx --quantize static --calibration percentile:120",
     ["--calibration", "percentile:120", "minmax"]),
    ("digits_cnn.onnx", "profile loss --calibration minmax", ["--calibration", "--quantization"]),
    # Conv only (conv1 already int8, conv2 float): nothing that dynamic quantization covers.
    ("quantized_conv.onnx", "export model x.onnx --quantize dynamic", ["dynamic", "static"]),
    ("digits_cnn.onnx", "export model x.onnx --quantize static --calibration-data missing.npz",
     ["missing.npz"]),
    # Dynamic quantization measures its ranges as it runs: calibration flags would do nothing.
    ("digits_cnn.onnx", "export model x.onnx --quantize dynamic --calibration-data digits_train.npz",
     ["--calibration-data", "static"]),
    ("digits_cnn.onnx", "optimize --quantize dynamic --calibration percentile", ["--calibration", "static"]),
], ids=["quantize-int2", "percentile-120", "calibration-without-quantization",
        "dynamic-on-convs", "missing-calibration-data", "dynamic-with-calibration-data",
        "dynamic-with-calibration"])
def test_bad_quantization_input_is_one_sentence(work, model, command, needles):
    proc = prunekit(work, f"load {model}", command)
    check_one_sentence(proc, command, needles)
    assert not (work / "x.onnx").exists(), f"{command}: a failed export left a file"
    project = json.loads((work / f"{model}.prunekit.json").read_text())
    assert not project.get("optimizations") and not project.get("loss_profiles"), (
        f"{command}: a failed command was saved")

"""A decoder-only transformer LLM end to end: the tiny preset of `bench/make_llm.py` (the generator
of the 1.3-billion-parameter bench model, weights in an external data file) analysed, profiled
(performance in ONNX Runtime, magnitude loss), optimized, its recipe exported and the pruned
model written. The layer list must hold exactly the q/k/v/o, gate/up/down projections of every
layer and lm_head, with their parameter counts; the attention products of two activations, the
embedding and the norms must never be reported as prunable layers."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml
from onnx import numpy_helper

from prunekit_cli import REPO_ROOT, prunekit_analyze, results_in
from reference.analysis import analyze as reference_analyze
from reference.compare import (compare_layers, compare_shapes_with_onnxruntime, compare_totals,
                               onnxruntime_shapes)

spec = importlib.util.spec_from_file_location("make_llm", REPO_ROOT / "bench" / "make_llm.py")
make_llm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_llm)

SIZES = make_llm.PRESETS["tiny"]
LAYERS, HIDDEN, MLP, VOCAB = SIZES["layers"], SIZES["hidden"], SIZES["mlp"], SIZES["vocab"]
SEQUENCE = 8


def projections() -> dict[str, tuple[str, list[int]]]:
    """Layer name -> (weight name, weight shape) for every projection the model has."""
    out = {}
    for i in range(LAYERS):
        for part, module, shape in (
            ("self_attn", "q_proj", [HIDDEN, HIDDEN]),
            ("self_attn", "k_proj", [HIDDEN, HIDDEN]),
            ("self_attn", "v_proj", [HIDDEN, HIDDEN]),
            ("self_attn", "o_proj", [HIDDEN, HIDDEN]),
            ("mlp", "gate_proj", [HIDDEN, MLP]),
            ("mlp", "up_proj", [HIDDEN, MLP]),
            ("mlp", "down_proj", [MLP, HIDDEN]),
        ):
            out[f"/model/layers.{i}/{part}/{module}/MatMul_output_0"] = (
                f"model.layers.{i}.{part}.{module}.weight", shape)
    out["logits"] = ("lm_head.weight", [HIDDEN, VOCAB])
    return out


def attention_products() -> set[str]:
    return {f"/model/layers.{i}/self_attn/{what}/MatMul_output_0"
            for i in range(LAYERS) for what in ("scores", "context")}


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llm")
    n = make_llm.build(str(folder / "llm.onnx"), **SIZES)
    assert n == make_llm.parameter_count(**SIZES)
    assert (folder / "llm.onnx.data").stat().st_size >= 4 * n
    return folder


def test_the_generated_model_is_valid_and_runs_in_onnx_runtime(llm):
    peak = make_llm.check(str(llm / "llm.onnx"), VOCAB)
    assert 0 < peak < 1e4


def test_analysis_lists_every_projection_and_no_attention_product(llm):
    (loaded,) = results_in(llm, f"load llm.onnx --dim sequence={SEQUENCE}")
    layers = {layer["name"]: layer for layer in loaded["layers"]}
    expected = projections()
    prunable = {name for name, layer in layers.items() if layer["prunable"]}
    assert prunable == set(expected)
    for name, (weight, shape) in expected.items():
        layer = layers[name]
        assert (layer["op_type"], layer["weight"], layer["weight_shape"]) == ("MatMul", weight, shape)
        assert layer["params"] == layer["prunable_params"] == shape[0] * shape[1]
        assert layer["zeroed_params"] == 0
        # Every token of the sequence goes through the projection.
        assert layer["macs"] == SEQUENCE * shape[0] * shape[1]
    for name in attention_products():
        layer = layers[name]
        assert not layer["prunable"] and layer["params"] == 0, layer
        assert "two activations" in layer["not_prunable_reason"]
    heads = SIZES["heads"]
    scores = layers[f"/model/layers.0/self_attn/scores/MatMul_output_0"]
    assert scores["output_shapes"] == [[1, heads, SEQUENCE, SEQUENCE]]
    assert scores["macs"] == heads * SEQUENCE * SEQUENCE * (HIDDEN // heads)
    embedding = layers["/model/embed_tokens/Gather_output_0"]
    assert embedding["params"] == VOCAB * HIDDEN and not embedding["prunable"]
    norm = layers["/model/layers.0/input_layernorm/scale/Mul_output_0"]
    assert norm["params"] == HIDDEN and not norm["prunable"]
    model = loaded["model"]
    assert model["prunable_params"] == sum(s[0] * s[1] for _, s in expected.values())
    # Every weight once, plus the five float scalars (2 for Pow, eps, the mask's two fills, the
    # attention scale): int64 shapes and axes are not parameters.
    assert model["params"] == make_llm.parameter_count(**SIZES) + 5
    assert loaded["layers"][-1]["output_shapes"] == [[1, SEQUENCE, VOCAB]]


def test_analysis_agrees_with_the_reference_and_onnx_runtime_shapes(llm):
    """The independent Python analysis (docs/analysis.md) and the shapes ONNX Runtime produces."""
    path = str(llm / "llm.onnx")
    dims = ("--dim", f"sequence={SEQUENCE}", "--dim", "batch=2")
    got = prunekit_analyze(path, dims)
    want = reference_analyze(path, dims={"sequence": SEQUENCE, "batch": 2})
    # onnx's shape inference cannot size Range's output (it depends on a value), so the reference
    # leaves the causal mask's shapes unknown where prunekit folds the sequence length through
    # Shape -> Gather -> Range; ONNX Runtime's shapes below check prunekit's there.
    where = next(la for la in got["layers"] if la["name"] == "/model/mask/Where_output_0")
    want["model"]["flops"] += where["flops"]
    mismatches = [m for m in compare_totals(got, want) + compare_layers(got, want)
                  if not re.search(r"expected (None|\[None|\[.*None\])", m)]
    assert not mismatches, "\n".join(mismatches)
    actual = onnxruntime_shapes(onnx.load(path), {"input_ids": [2, SEQUENCE]})
    mismatches = compare_shapes_with_onnxruntime(got, actual)
    assert not mismatches, "\n".join(mismatches)


def test_profiles_fit_and_exports_treat_only_the_projections_as_layers(llm):
    loaded, perf, loss, plan, recipe, exported = results_in(
        llm,
        f"load llm.onnx --dim sequence={SEQUENCE}",
        "profile perf --iterations 3 --warmup 1",
        "profile loss --method magnitude",
        "optimize --sparsity 0.6",
        "export recipe recipe.yaml",
        "export model pruned.onnx",
    )
    expected = projections()
    perf_layers = {layer["name"]: layer for layer in perf["layers"]}
    assert {n for n, layer in perf_layers.items() if layer["prunable"]} == set(expected)
    for name in expected:
        assert perf_layers[name]["estimated_ms"], name
    for name in attention_products():
        assert not perf_layers[name]["prunable"]

    assert {layer["name"] for layer in loss["layers"]} == set(expected)
    assert attention_products() <= {s["name"] for s in loss["skipped"]}
    for layer in loss["layers"]:
        assert len(layer["values"]) == 100 and np.isfinite(layer["integral"])
        # Mean |w| removed grows with the level for N(0, 1/fan_in) weights.
        assert layer["values"][90] > layer["values"][10] > 0

    assert {layer["name"] for layer in plan["layers"]} == set(expected)
    assert abs(plan["achieved"] - 0.6) <= 0.01, plan["notes"]

    text = (llm / "recipe.yaml").read_text()
    text = re.sub(r"!\s*([A-Z][A-Za-z]*Modifier)", r"!pytorch.\1", text)

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: {
        "__class__": suffix, **loader.construct_mapping(node, deep=True)})
    modifiers = yaml.load(text, Loader=Loader)["modifiers"]
    params = [p for m in modifiers if m["__class__"].endswith("GMPruningModifier") for p in m["params"]]
    weights = {weight for weight, _ in expected.values()}
    assert set(params) <= weights and len(params) == len(set(params))
    assert len(set(recipe["layers_pruned"])) == len(params)

    # The pruned model: the planned weights hold the planned share of zeros, ONNX Runtime runs it.
    pruned = onnx.load(str(llm / "pruned.onnx"))
    values = {t.name: numpy_helper.to_array(t) for t in pruned.graph.initializer}
    # A layer the fit left dense (the first one) has no sparsity.
    sparsity = {layer["weight"]: layer["sparsity"] or 0.0 for layer in plan["layers"]}
    for weight, planned in sparsity.items():
        zeros = float(np.mean(values[weight] == 0))
        assert abs(zeros - planned) < 0.01, (weight, zeros, planned)
    assert {layer["weight"] for layer in exported["layers"]} <= weights
    session = ort.InferenceSession(str(llm / "pruned.onnx"), providers=["CPUExecutionProvider"])
    ids = np.arange(SEQUENCE, dtype=np.int64).reshape(1, SEQUENCE)
    (logits,) = session.run(None, {"input_ids": ids})
    assert logits.shape == (1, SEQUENCE, VOCAB) and np.isfinite(logits).all()


def test_attention_heads_leave_every_layer_that_reads_the_shared_heads_shape(llm):
    """The generator, like real exporters, gives every layer's q/k/v Reshape one shared
    `[0, 0, heads, head size]` constant: a cut of heads is one group over the layers that read
    it, and the constant's heads entry loses the heads removed once, not once per Reshape."""
    profile, plan, written = results_in(
        llm,
        f"load llm.onnx --dim sequence={SEQUENCE}",
        "profile loss --structure channel --samples 8 --levels 0.25,0.5",
        "optimize --structure channel --flops-reduction 1.3 --name heads",
        "export model heads.onnx --optimization heads",
    )[1:]
    heads = SIZES["heads"]
    cut = {g["name"]: g for g in plan["channels"]["groups"] if g["kept"] < g["channels"]}
    attention = [g for name, g in cut.items() if "self_attn/q_proj" in name]
    assert attention and attention[0]["channels"] == heads, cut
    kept = attention[0]["kept"]
    model = onnx.load(str(llm / "heads.onnx"))
    constants = {t.name: numpy_helper.to_array(t).tolist() for t in model.graph.initializer}
    assert constants["const.heads_shape"] == [0, 0, kept, HIDDEN // heads], constants
    assert written["pruning"]["channels"]["macs_after"] < written["pruning"]["channels"]["macs_before"]
    session = ort.InferenceSession(str(llm / "heads.onnx"), providers=["CPUExecutionProvider"])
    ids = np.arange(SEQUENCE, dtype=np.int64).reshape(1, SEQUENCE)
    (logits,) = session.run(None, {"input_ids": ids})
    assert logits.shape == (1, SEQUENCE, VOCAB) and np.isfinite(logits).all()

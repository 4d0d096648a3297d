"""prunekit's analysis (`prunekit-kernel analyze --format json`) against docs/analysis.md.

Every fixture model is analyzed by the prunekit binary and by an independent Python implementation
of the contract (tests/reference/analysis.py, built on `onnx` and numpy); totals and every layer
must agree exactly.  Shapes are also checked against what ONNX Runtime actually produces, and a few
expectations are computed by hand here so that a wrong definition shared by both implementations
would still be caught.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import onnx
import pytest

from prunekit_cli import FIXTURES, prunekit_analyze, run_prunekit
from reference.analysis import analyze as reference_analyze
from reference.compare import (compare_layers, compare_shapes_with_onnxruntime, compare_totals,
                               onnxruntime_shapes)

# ------------------------------------------------------------------------------------------------
# What is analyzed: every fixture with defaults, plus a few runs with explicit sizes
# ------------------------------------------------------------------------------------------------

FIXTURE_MODELS = sorted(p.name for p in FIXTURES.glob("*.onnx"))


class Case:
    """One prunekit invocation: a fixture model and its CLI size arguments."""

    def __init__(self, model: str, dims: dict[str, int] | None = None,
                 inputs: dict[str, list[int]] | None = None):
        self.model = model
        self.dims = dims or {}
        self.inputs = inputs or {}

    @property
    def rel_path(self) -> str:
        return f"tests/fixtures/{self.model}"

    @property
    def args(self) -> tuple[str, ...]:
        out: list[str] = []
        for sym, size in self.dims.items():
            out += ["--dim", f"{sym}={size}"]
        for name, shape in self.inputs.items():
            out += ["--input", f"{name}={','.join(str(d) for d in shape)}"]
        return tuple(out)

    @property
    def id(self) -> str:
        extra = [f"{k}={v}" for k, v in self.dims.items()]
        extra += [f"{k}={'x'.join(map(str, v))}" for k, v in self.inputs.items()]
        return "-".join([self.model.removesuffix(".onnx"), *extra])


CASES = [Case(m) for m in FIXTURE_MODELS] + [
    Case("transformer_block.onnx", dims={"batch": 2, "sequence": 7}),
    Case("digits_cnn.onnx", inputs={"input": [4, 1, 8, 8]}),
]
CASE_IDS = [c.id for c in CASES]


@functools.cache
def _reference(case_id: str) -> dict:
    case = _case(case_id)
    return reference_analyze(FIXTURES / case.model, input_shapes=case.inputs, dims=case.dims)


def _case(case_id: str) -> Case:
    return next(c for c in CASES if c.id == case_id)


def reference(case: Case) -> dict:
    return _reference(case.id)


def prunekit(case: Case) -> dict:
    return prunekit_analyze(case.rel_path, case.args)


def layers_by_name(report: dict) -> dict[str, dict]:
    return {layer["name"]: layer for layer in report["layers"]}


def layer(report: dict, name: str) -> dict:
    by_name = layers_by_name(report)
    assert name in by_name, f"no layer named {name!r}; layers: {sorted(by_name)}"
    return by_name[name]


# ------------------------------------------------------------------------------------------------
# ONNX Runtime: the shapes every node output really has
# ------------------------------------------------------------------------------------------------


@functools.cache
def _onnxruntime_shapes(case_id: str) -> dict[str, list[int]]:
    """Every node output's actual shape when ONNX Runtime runs the case's concrete input shapes."""
    case = _case(case_id)
    model = onnx.load(str(FIXTURES / case.model))  # external data is loaded into the proto
    concrete = {i["name"]: i["shape"] for i in reference(case)["model"]["inputs"]}
    return onnxruntime_shapes(model, concrete)


# ------------------------------------------------------------------------------------------------
# prunekit against the reference
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_model_totals(case: Case):
    mismatches = compare_totals(prunekit(case), reference(case))
    assert not mismatches, f"{case.id}:\n" + "\n".join(mismatches)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_model_metadata(case: Case):
    got, want = prunekit(case)["model"], reference(case)["model"]
    for key in ["opset", "ir_version", "producer"]:
        assert got[key] == want[key], f"{case.id}: model.{key}"
    assert Path(got["path"]).name == case.model
    assert isinstance(got["warnings"], list)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_model_inputs_outputs_and_defaults(case: Case):
    got, want = prunekit(case)["model"], reference(case)["model"]
    assert got["inputs"] == want["inputs"], f"{case.id}: model.inputs"
    assert [(o["name"], o["dtype"], o["shape"]) for o in got["outputs"]] == \
        [(o["name"], o["dtype"], o["shape"]) for o in want["outputs"]], f"{case.id}: model.outputs"
    key = lambda d: d["symbol"]  # noqa: E731
    assert sorted(got["defaults"], key=key) == sorted(want["defaults"], key=key), \
        f"{case.id}: model.defaults"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_layers(case: Case):
    mismatches = compare_layers(prunekit(case), reference(case))
    assert not mismatches, f"{case.id}: {len(mismatches)} mismatches\n" + "\n".join(mismatches)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_layer_json_types(case: Case):
    """Every layer has every documented field, with the documented JSON types."""
    for la in prunekit(case)["layers"]:
        assert isinstance(la["name"], str) and isinstance(la["node_name"], str)
        assert len(la["input_shapes"]) == len(la["inputs"]), la["name"]
        assert len(la["output_shapes"]) == len(la["outputs"]), la["name"]
        for shape, tensor in zip(la["input_shapes"], la["inputs"]):
            assert (shape is None) if tensor == "" else isinstance(shape, list), la["name"]
        assert isinstance(la["attributes"], dict)
        for key in ["params", "prunable_params", "zeroed_params"]:
            assert isinstance(la[key], int) and not isinstance(la[key], bool), (la["name"], key)
        for key in ["macs", "flops"]:
            assert la[key] is None or (isinstance(la[key], int) and la[key] >= 0), (la["name"], key)
        if la["macs"] is not None and la["flops"] is not None and la["macs"] > 0:
            assert la["flops"] == 2 * la["macs"], la["name"]


# ------------------------------------------------------------------------------------------------
# Shapes against ONNX Runtime
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_reference_shapes_match_onnxruntime(case: Case):
    """Self-check of the reference (runs without the prunekit binary)."""
    mismatches = compare_shapes_with_onnxruntime(reference(case), _onnxruntime_shapes(case.id))
    assert not mismatches, f"{case.id} (reference):\n" + "\n".join(mismatches)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_output_shapes_match_onnxruntime(case: Case):
    mismatches = compare_shapes_with_onnxruntime(prunekit(case), _onnxruntime_shapes(case.id))
    assert not mismatches, f"{case.id}:\n" + "\n".join(mismatches)


# ------------------------------------------------------------------------------------------------
# Hand-computed expectations (independent of both implementations)
# ------------------------------------------------------------------------------------------------


def _case_for(model: str, **kw) -> Case:
    wanted = Case(model, **kw).id
    return _case(wanted)


def test_defaults_are_reported():
    cnn = prunekit(_case_for("digits_cnn.onnx"))["model"]
    assert cnn["defaults"] == [{"symbol": "batch", "size": 1}]
    assert cnn["inputs"][0]["declared"] == ["batch", 1, 8, 8]
    assert cnn["inputs"][0]["shape"] == [1, 1, 8, 8]

    tr = prunekit(_case_for("transformer_block.onnx"))["model"]
    assert sorted((d["symbol"], d["size"]) for d in tr["defaults"]) == [("batch", 1),
                                                                        ("sequence", 1)]
    assert tr["inputs"][0]["shape"] == [1, 1, 64]

    tr27 = prunekit(_case_for("transformer_block.onnx", dims={"batch": 2, "sequence": 7}))
    assert tr27["model"]["defaults"] == []
    assert tr27["model"]["inputs"][0]["shape"] == [2, 7, 64]

    cnn4 = prunekit(_case_for("digits_cnn.onnx", inputs={"input": [4, 1, 8, 8]}))["model"]
    assert cnn4["defaults"] == []
    assert cnn4["inputs"][0]["shape"] == [4, 1, 8, 8]


def test_digits_cnn_by_hand():
    r = prunekit(_case_for("digits_cnn.onnx"))
    # conv1: output [1, 8, 8, 8], weight [8, 1, 3, 3]: 1*8*8*8 outputs x 1*3*3 MACs each.
    conv1 = layer(r, "/conv1/Conv_output_0")
    assert (conv1["macs"], conv1["flops"]) == (1 * 8 * 8 * 8 * 1 * 3 * 3, 2 * 4608)
    assert conv1["params"] == 8 * 1 * 3 * 3 + 8
    # conv2: output [1, 16, 4, 4], weight [16, 8, 3, 3].
    assert layer(r, "/conv2/Conv_output_0")["macs"] == 16 * 4 * 4 * 8 * 9
    # fc1: [1, 64] x [64, 32] (stored [32, 64], transB).
    assert layer(r, "/fc1/Gemm_output_0")["macs"] == 64 * 32
    # MaxPool 2x2: output [1, 8, 4, 4] x 4.
    assert layer(r, "/pool1/MaxPool_output_0")["flops"] == 8 * 4 * 4 * 4
    assert layer(r, "/relu1/Relu_output_0")["flops"] == 8 * 8 * 8
    assert layer(r, "/Flatten_output_0")["flops"] == 0
    assert r["model"]["params"] == (72 + 8) + 4 * 8 + 16 * 8 * 9 + 4 * 16 + (64 * 32 + 32) + (
        32 * 10 + 10)
    assert r["model"]["n_prunable"] == 4

    # Batch 4 scales every per-sample count by 4 (the batch is counted).
    r4 = prunekit(_case_for("digits_cnn.onnx", inputs={"input": [4, 1, 8, 8]}))
    assert layer(r4, "/conv1/Conv_output_0")["macs"] == 4 * 4608
    assert layer(r4, "/conv1/Conv_output_0")["output_shapes"] == [[4, 8, 8, 8]]
    assert layer(r4, "logits")["macs"] == 4 * 32 * 10
    assert r4["model"]["macs"] == 4 * r["model"]["macs"]
    assert r4["model"]["flops"] == 4 * r["model"]["flops"]
    assert r4["model"]["params"] == r["model"]["params"]


def test_grouped_convs_by_hand():
    r = prunekit(_case_for("grouped_convs.onnx"))
    n = 1
    # Depthwise: 8 -> 8 channels, group 8, 3x3, pad 1: output [1, 8, 16, 16]; each output reads
    # C_in / group = 1 channel x 3 x 3.
    dw = layer(r, "/dw/Conv_output_0")
    assert dw["output_shapes"] == [[n, 8, 16, 16]]
    assert dw["macs"] == n * 8 * 16 * 16 * (8 // 8) * 3 * 3 == 18432
    assert dw["flops"] == 2 * dw["macs"]
    # Grouped: 8 -> 16 channels, group 2, 3x3, stride 2, pad 1, no kernel_shape attribute:
    # output [1, 16, 8, 8]; each output reads C_in / group = 4 channels x 3 x 3.
    g = layer(r, "/gconv/Conv_output_0")
    assert "kernel_shape" not in g["attributes"]
    assert g["output_shapes"] == [[n, 16, 8, 8]]
    assert g["macs"] == n * 16 * 8 * 8 * (8 // 2) * 3 * 3 == 36864
    assert g["flops"] == 2 * g["macs"]
    assert g["prunable"] and g["weight"] == "gconv.weight" and g["bias"] is None
    # Pointwise 16 -> 16, 1x1.
    assert layer(r, "/pw/Conv_output_0")["macs"] == n * 16 * 8 * 8 * 16
    # AveragePool 2x2 -> [1, 16, 4, 4], 4 ops per output; GlobalAveragePool reads [1, 16, 4, 4].
    assert layer(r, "/pool/AveragePool_output_0")["flops"] == 16 * 4 * 4 * 4
    assert layer(r, "/gap/GlobalAveragePool_output_0")["flops"] == 16 * 4 * 4
    assert layer(r, "logits")["macs"] == 16 * 4


def test_quantized_conv_by_hand():
    r = prunekit(_case_for("quantized_conv.onnx"))
    conv1 = layer(r, "/conv1/Conv_output_0")
    assert conv1["prunable"] is False
    assert conv1["not_prunable_reason"] and "DequantizeLinear" in conv1["not_prunable_reason"]
    assert conv1["weight"] is None
    assert (conv1["prunable_params"], conv1["zeroed_params"]) == (0, 0)
    # The conv still does its work: output [1, 8, 8, 8] x 3*3*3.
    assert conv1["macs"] == 8 * 8 * 8 * 3 * 3 * 3
    conv2 = layer(r, "/conv2/Conv_output_0")
    assert conv2["prunable"] and conv2["weight"] == "conv2.weight"
    assert conv2["prunable_params"] == 16 * 8 * 3 * 3
    assert r["model"]["n_prunable"] == 1
    assert r["model"]["prunable_params"] == 16 * 8 * 3 * 3
    # int8 weights and zero points are parameters; every constant here counts once.
    assert r["model"]["params"] == 8 * 27 + 8 + 8 + 8 + 16 * 72 + 16


def test_transformer_by_hand():
    r = prunekit(_case_for("transformer_block.onnx"))
    for name in ["/attn/scores/MatMul_output_0", "/attn/context/MatMul_output_0"]:
        la = layer(r, name)
        assert la["prunable"] is False, name
        assert la["not_prunable_reason"], name
        assert la["weight"] is None and la["params"] == 0, name

    out_proj = layer(r, "/attn/out_proj/MatMul_output_0")
    assert out_proj["prunable"] is True
    assert out_proj["weight"] == "attn.out_proj.weight"  # the root, not the Transpose's output
    assert out_proj["weight_shape"] == [64, 64]
    assert out_proj["params"] == 64 * 64
    assert layer(r, "/attn/out_proj/Transpose_output_0")["params"] == 0

    fc2 = layer(r, "/ffn/fc2/MatMul_output_0")
    assert fc2["prunable"] is True
    assert fc2["weight"] == "ffn.fc2.weight"  # a Constant node's output
    assert fc2["weight_shape"] == [256, 64]
    assert fc2["prunable_params"] == 256 * 64
    assert layer(r, "ffn.fc2.weight")["op_type"] == "Constant"

    # The int64 reshape targets are not parameters; the four float scalars are.
    assert r["model"]["params"] == (4 * 64) + 4 * (64 * 64 + 64) + (64 * 256 + 256) + (
        256 * 64 + 64) + 4
    assert r["model"]["n_prunable"] == 6
    assert r["model"]["prunable_params"] == 4 * 64 * 64 + 2 * 64 * 256

    # batch 2, sequence 7: the rows of the weight MatMuls and the attention products count.
    b, s, h, d = 2, 7, 4, 16
    r27 = prunekit(_case_for("transformer_block.onnx", dims={"batch": b, "sequence": s}))
    assert layer(r27, "/attn/q_proj/MatMul_output_0")["macs"] == b * s * 64 * 64
    scores = layer(r27, "/attn/scores/MatMul_output_0")
    assert scores["output_shapes"] == [[b, h, s, s]]
    assert scores["macs"] == b * h * s * d * s
    assert layer(r27, "/attn/context/MatMul_output_0")["macs"] == b * h * s * s * d
    assert layer(r27, "/attn/Softmax_output_0")["flops"] == b * h * s * s
    assert layer(r27, "/ffn/fc1/MatMul_output_0")["macs"] == b * s * 64 * 256
    assert layer(r27, "/attn/context/Reshape_output_0")["output_shapes"] == [[b, s, 64]]
    assert layer(r27, "out")["output_shapes"] == [[b, s, 64]]


@pytest.mark.parametrize("model", ["mlp.onnx", "external_data.onnx"])
def test_mlp_existing_sparsity(model: str):
    r = prunekit(_case_for(model))
    fc1 = layer(r, "/fc1/Gemm_output_0")
    assert fc1["weight"] == "fc1.weight" and fc1["bias"] == "fc1.bias"
    assert fc1["prunable_params"] == 128 * 64
    assert fc1["zeroed_params"] == 2458
    fc2 = layer(r, "/fc2/MatMul_output_0")
    assert fc2["prunable"] and fc2["bias"] is None and fc2["zeroed_params"] == 0
    total = 128 * 64 + 128 * 64 + 10 * 64
    assert r["model"]["prunable_params"] == total
    assert r["model"]["zeroed_params"] == 2458
    assert r["model"]["sparsity"] == pytest.approx(2458 / total)
    assert r["model"]["params"] == total + 128 + 64 + 10


# ------------------------------------------------------------------------------------------------
# Bad input through the CLI: a clear one-line error, never a panic
# ------------------------------------------------------------------------------------------------


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    out = {}
    out["missing"] = tmp / "does_not_exist.onnx"
    (tmp / "a_directory.onnx").mkdir()
    out["directory"] = tmp / "a_directory.onnx"
    out["text"] = tmp / "notes.onnx"
    out["text"].write_text("this is not an ONNX model\n" * 20)
    out["empty"] = tmp / "empty.onnx"
    out["empty"].write_bytes(b"")
    data = (FIXTURES / "digits_cnn.onnx").read_bytes()
    out["truncated"] = tmp / "truncated.onnx"
    out["truncated"].write_bytes(data[: len(data) // 2])
    ext = tmp / "ext"
    ext.mkdir()
    shutil.copy(FIXTURES / "external_data.onnx", ext / "external_data.onnx")  # no .data file
    out["external_data_missing"] = ext / "external_data.onnx"
    return out


BAD_KINDS = ["missing", "directory", "text", "empty", "truncated", "external_data_missing"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_input_is_a_clean_error(kind: str, tmp_path: Path):
    path = _bad_inputs(tmp_path)[kind]
    proc = run_prunekit(["analyze", str(path), "--format", "json"])
    assert proc.returncode != 0, f"{kind}: exit code 0\nstdout:\n{proc.stdout[:2000]}"
    for text in (proc.stdout, proc.stderr):
        assert "panicked" not in text and "RUST_BACKTRACE" not in text, \
            f"{kind}: panic\n{proc.stderr}"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"{kind}: expected one line on stderr, got {len(lines)}:\n{proc.stderr}"
    assert str(path) in lines[0], f"{kind}: stderr does not name {path}: {lines[0]!r}"


def test_reference_is_independent_of_the_binary():
    """The reference runs on every fixture (a quick smoke test that needs no build)."""
    for case in CASES:
        r = reference(case)
        assert r["model"]["n_layers"] == len(r["layers"]) > 0


BAD_ARGS = {
    "dim_not_a_number": ["--dim", "batch=abc"],
    "dim_without_size": ["--dim", "batch"],
    "dim_zero": ["--dim", "batch=0"],
    "dim_unknown_symbol": ["--dim", "nosuch=3"],
    "input_unknown_name": ["--input", "nosuch=1,2"],
    "input_wrong_rank": ["--input", "input=1,1,8"],
    "input_not_numbers": ["--input", "input=a,b,c,d"],
    "input_contradicts_fixed_dim": ["--input", "input=4,3,8,8"],
    "format_unknown": ["--format", "xml"],
    "unknown_flag": ["--bogus"],
}


@pytest.mark.parametrize("kind", list(BAD_ARGS))
def test_bad_arguments_are_a_clean_error(kind: str):
    proc = run_prunekit(["analyze", "tests/fixtures/digits_cnn.onnx", "--format", "json",
                         *BAD_ARGS[kind]])
    assert proc.returncode != 0, f"{kind}: exit code 0"
    assert "panicked" not in proc.stderr and "RUST_BACKTRACE" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"{kind}: expected one line on stderr, got:\n{proc.stderr}"

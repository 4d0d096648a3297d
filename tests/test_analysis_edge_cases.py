"""The analysis contract (docs/analysis.md) on small models built here, one corner each.

The fixture models (test_analysis.py) cover the common cases; these cover the rest of the
contract's rules: 1-D and broadcast MatMuls, Gemm with `transA` or a constant first input,
ConvTranspose, 1-D convs, weights reached through Reshape / Cast views, a weight shared by two
layers, Constant nodes with `value_floats`, int8 parameters, optional empty inputs, a
`Shape → Gather → Concat → Reshape` chain, pools, reductions, multi-output ops and an op with no
FLOP rule.  Each model is analyzed by prunekit and by the reference (tests/reference/analysis.py),
and its shapes are checked against ONNX Runtime; a few numbers are also computed by hand.
"""

from __future__ import annotations

import functools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from prunekit_cli import prunekit_analyze
from reference.analysis import analyze as reference_analyze
from reference.compare import (compare_layers, compare_shapes_with_onnxruntime, compare_totals,
                               onnxruntime_shapes)

OPSET = 17
F = TensorProto.FLOAT


def _rand(rng, *shape, dtype=np.float32):
    return rng.uniform(-1, 1, size=shape).astype(dtype)


def _model(nodes, inputs, outputs, inits) -> onnx.ModelProto:
    """A checked model; graph outputs get the (symbolic) types that onnx infers for them."""
    graph = helper.make_graph(nodes, "edge", inputs, [], inits)
    model = helper.make_model(graph, producer_name="prunekit-tests",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    inferred = {vi.name: vi for vi in
                onnx.shape_inference.infer_shapes(model, strict_mode=True).graph.value_info}
    model.graph.output.extend(inferred[name] for name in outputs)
    onnx.checker.check_model(model, full_check=True)
    return model


def _init(name, array) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def _vi(name, shape, dtype=F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def _out(name) -> str:
    return name


def _node(op, inputs, output, **attrs) -> onnx.NodeProto:
    outputs = output if isinstance(output, list) else [output]
    return helper.make_node(op, inputs, outputs, name=f"/{outputs[0]}/{op}", **attrs)


# ------------------------------------------------------------------------------------------------
# The models
# ------------------------------------------------------------------------------------------------


def build_matmuls() -> onnx.ModelProto:
    rng = np.random.default_rng(10)
    inits = [
        _init("w", _rand(rng, 6, 7)),
        _init("w_vec", _rand(rng, 7)),
        _init("w_batched", _rand(rng, 2, 1, 7, 4)),
        _init("u_vec", _rand(rng, 6)),
        _init("u_mat", _rand(rng, 6, 3)),
    ]
    nodes = [
        # [N, 5, 6] x [6, 7]: the N rows count (SparseML counts 6*7*2 for N=2).
        _node("MatMul", ["x", "w"], "rows"),
        # [N, 5, 7] x [7]: a 1-D right operand is a column vector; output [N, 5].
        _node("MatMul", ["rows", "w_vec"], "colvec"),
        # [N, 5, 7] x [2, 1, 7, 4]: batch dims broadcast to [2, N]; output [2, N, 5, 4].
        _node("MatMul", ["rows", "w_batched"], "bcast"),
        # [6] x [6, 3], both constants: not prunable; output [3].
        _node("MatMul", ["u_vec", "u_mat"], "both_const"),
        # [N, 5, 7] x [N, 7, 5]: two activations.
        _node("Transpose", ["rows"], "rows_t", perm=[0, 2, 1]),
        _node("MatMul", ["rows", "rows_t"], "gram"),
        # [6] (activation) x [6, 7]: a 1-D left operand is a row vector; output [7].
        _node("ReduceMean", ["x"], "x_mean", axes=[0, 1], keepdims=0),
        _node("MatMul", ["x_mean", "w"], "rowvec"),
    ]
    outs = [_out(n) for n in ["colvec", "bcast", "both_const", "gram", "rowvec"]]
    return _model(nodes, [_vi("x", ["N", 5, 6])], outs, inits)


def build_gemms() -> onnx.ModelProto:
    rng = np.random.default_rng(11)
    inits = [
        _init("b", _rand(rng, 6, 4)),
        _init("b_bias", _rand(rng, 4)),
        _init("a_const", _rand(rng, 5, 4)),
        _init("a_bias", _rand(rng, 5, 1)),
        _init("p", _rand(rng, 2, 3)),
        _init("q", _rand(rng, 3, 2)),
        _init("pq_bias", _rand(rng, 2)),
        _init("bt", _rand(rng, 4, 4)),
    ]
    nodes = [
        # A is stored [K, M] = [6, N] and transposed: M=N, K=6, N=4.
        _node("Gemm", ["xt", "b", "b_bias"], "ta", transA=1),
        # The weight is the first input: [5, 4] x [4, N].
        _node("Transpose", ["ta"], "ta_t", perm=[1, 0]),
        _node("Gemm", ["a_const", "ta_t", "a_bias"], "const_a", alpha=0.5),
        # Both inputs constant: not prunable, but its bias is still reported.
        _node("Gemm", ["p", "q", "pq_bias"], "both_const"),
        # transA and transB together, no bias: [4, N]^T x [4, 4]^T.
        _node("Gemm", ["ta_t", "bt"], "tab", transA=1, transB=1),
    ]
    outs = [_out(n) for n in ["const_a", "both_const", "tab"]]
    return _model(nodes, [_vi("xt", [6, "N"])], outs, inits)


def build_convs() -> onnx.ModelProto:
    rng = np.random.default_rng(12)
    inits = [
        _init("ct.weight", _rand(rng, 4, 2, 3, 3)),
        _init("ct.bias", _rand(rng, 2)),
        _init("gct.weight", _rand(rng, 4, 1, 3, 3)),
        _init("c1d.weight", _rand(rng, 6, 3, 3)),
        _init("flat.weight", _rand(rng, 8 * 4)),
        _init("flat.shape", np.array([8, 4, 1, 1], np.int64)),
        _init("half.weight", _rand(rng, 4, 4, 1, 1, dtype=np.float16)),
        _init("act.weight", _rand(rng, 8, 4, 3, 3)),
        _init("zero.weight", np.zeros((2, 2, 1, 1), np.float32)),
    ]
    nodes = [
        # ConvTranspose 4 -> 2 channels, stride 2: [N, 4, 5, 5] -> [N, 2, 11, 11].
        _node("ConvTranspose", ["x", "ct.weight", "ct.bias"], "ct", strides=[2, 2]),
        # Grouped ConvTranspose, group 2: W [4, 1, 3, 3], C_out = 2: [N, 2, 7, 7].
        _node("ConvTranspose", ["x", "gct.weight"], "gct", group=2),
        # 1-D conv with dilation 2 and pads: [N, 3, 10] -> [N, 6, 10].
        _node("Conv", ["s", "c1d.weight"], "c1d", dilations=[2], pads=[2, 2]),
        # The same weight with SAME_UPPER padding and stride 3: [N, 3, 10] -> [N, 6, 4].
        _node("Conv", ["s", "c1d.weight"], "c1d_same", strides=[3], auto_pad="SAME_UPPER"),
        # Weight reached through Reshape of a flat [32] constant.
        _node("Reshape", ["flat.weight", "flat.shape"], "flat.view"),
        _node("Conv", ["x", "flat.view"], "reshaped_w"),
        # A float16 weight reached through Cast(to float).
        _node("Cast", ["half.weight"], "half.view", to=F),
        _node("Conv", ["x", "half.view"], "cast_w"),
        # A weight computed from an activation (scaled by a graph input): not prunable.
        _node("Mul", ["act.weight", "scale"], "act.scaled"),
        _node("Conv", ["x", "act.scaled"], "act_w", pads=[1, 1, 1, 1]),
        # An all-zero weight: zeroed_params == prunable_params.
        _node("Conv", ["gct", "zero.weight"], "zero_w"),
    ]
    outs = [_out(n) for n in ["ct", "c1d", "c1d_same", "reshaped_w", "cast_w", "act_w", "zero_w"]]
    inputs = [_vi("x", ["N", 4, 5, 5]), _vi("s", ["N", 3, 10]), _vi("scale", [1])]
    return _model(nodes, inputs, outs, inits)


def build_params() -> onnx.ModelProto:
    rng = np.random.default_rng(13)
    inits = [
        _init("shared.weight", _rand(rng, 8, 8)),
        _init("q.int8", np.array([1, -2, 0], np.int8)),
        _init("bias3", _rand(rng, 3)),
        _init("axes0", np.array([0], np.int64)),
        _init("half_a", _rand(rng, 1)),
        _init("half_b", _rand(rng, 2)),
        _init("clip_max", np.array(0.5, np.float32)),
        _init("unused.weight", _rand(rng, 5)),
        _init("unused.int", np.array([1, 2], np.int32)),
    ]
    nodes = [
        # One weight read by two MatMuls: counts in both layers, once in the model totals.
        _node("MatMul", ["x", "shared.weight"], "mm1"),
        _node("MatMul", ["mm1", "shared.weight"], "mm2"),
        # Constant nodes: value_floats is a parameter, value_ints is not.
        helper.make_node("Constant", [], ["cf"], name="/cf/Constant", value_floats=[1.0, 2.0, 3.0]),
        helper.make_node("Constant", [], ["ci"], name="/ci/Constant", value_ints=[1, 3]),
        _node("Add", ["z", "cf"], "add_cf"),
        # An int8 constant is a parameter, also through a Cast view.
        _node("Cast", ["q.int8"], "q.float", to=F),
        _node("Mul", ["add_cf", "q.float"], "mul_q"),
        # Unsqueeze (axes as an input) and Identity views of a float constant.
        _node("Unsqueeze", ["bias3", "axes0"], "bias3.u"),
        _node("Identity", ["bias3.u"], "bias3.ui"),
        _node("Add", ["mul_q", "bias3.ui"], "add_u"),
        # Concat of two constants is not a pass-through: the Concat reads both.
        _node("Concat", ["half_a", "half_b"], "cat", axis=0),
        _node("Add", ["add_u", "cat"], "add_cat"),
        # Clip with an empty optional `min`.
        _node("Clip", ["add_cat", "", "clip_max"], "clipped"),
        # Reshape driven by the int64 Constant node.
        _node("Reshape", ["clipped", "ci"], "reshaped"),
    ]
    outs = [_out("mm2"), _out("reshaped")]
    return _model(nodes, [_vi("x", ["N", 8]), _vi("z", [1, 3])], outs, inits)


def build_shape_chain() -> onnx.ModelProto:
    rng = np.random.default_rng(14)
    inits = [
        _init("idx0", np.array(0, np.int64)),
        _init("axes0", np.array([0], np.int64)),
        _init("rest", np.array([16], np.int64)),
        _init("fc.weight", _rand(rng, 5, 16)),
        _init("fc.bias", _rand(rng, 5)),
    ]
    nodes = [
        _node("Shape", ["x"], "shape"),
        _node("Gather", ["shape", "idx0"], "batch", axis=0),
        _node("Unsqueeze", ["batch", "axes0"], "batch1"),
        _node("Concat", ["batch1", "rest"], "target", axis=0),
        _node("Reshape", ["x", "target"], "flat"),
        _node("Gemm", ["flat", "fc.weight", "fc.bias"], "fc", transB=1),
    ]
    return _model(nodes, [_vi("x", ["N", 4, 4])], [_out("fc")], inits)


def build_misc_ops() -> onnx.ModelProto:
    rng = np.random.default_rng(15)
    inits = [
        _init("k", np.array([2], np.int64)),
        _init("split", np.array([1, 3], np.int64)),
        _init("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)),
        _init("starts", np.array([1], np.int64)),
        _init("ends", np.array([5], np.int64)),
        _init("axes2", np.array([2], np.int64)),
        _init("two", np.array(2.0, np.float32)),
        _init("zero", np.array(0.0, np.float32)),
        _init("in.scale", _rand(rng, 4)),
        _init("in.bias", _rand(rng, 4)),
        _init("reduce_axes", np.array([2, 3], np.int64)),
    ]
    nodes = [
        _node("MaxPool", ["x"], "maxpool", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        _node("LpPool", ["x"], "lppool", kernel_shape=[2, 2]),
        _node("AveragePool", ["x"], "avgpool", kernel_shape=[3, 3], strides=[2, 2]),
        _node("GlobalMaxPool", ["x"], "gmp"),
        _node("ReduceSum", ["x", "reduce_axes"], "rsum", keepdims=1),
        _node("ArgMax", ["x"], "argmax", axis=1, keepdims=0),
        _node("Split", ["x", "split"], ["split_a", "split_b"], axis=1),
        _node("Dropout", ["split_b"], ["drop", "drop_mask"]),
        _node("TopK", ["x", "k"], ["topk_v", "topk_i"], axis=-1),
        _node("Pad", ["x", "pads"], "padded"),
        _node("Slice", ["padded", "starts", "ends", "axes2"], "sliced"),
        _node("Pow", ["sliced", "two"], "pow"),
        _node("Greater", ["sliced", "zero"], "positive"),
        _node("Where", ["positive", "sliced", "pow"], "where"),
        _node("LeakyRelu", ["where"], "leaky", alpha=0.1),
        _node("HardSwish", ["leaky"], "hswish"),
        _node("InstanceNormalization", ["hswish", "in.scale", "in.bias"], "inorm"),
        _node("LRN", ["inorm"], "lrn", size=3),
        _node("LogSoftmax", ["lrn"], "logsoftmax", axis=1),
        _node("Sqrt", ["gmp"], "sqrt_gmp"),
    ]
    outs = [_out(n) for n in ["maxpool", "lppool", "avgpool", "rsum", "argmax", "split_a", "drop",
                              "drop_mask", "topk_v", "topk_i", "logsoftmax", "sqrt_gmp"]]
    return _model(nodes, [_vi("x", ["N", 4, 6, 6])], outs, inits)


def build_quantized_matmul() -> onnx.ModelProto:
    rng = np.random.default_rng(16)
    inits = [
        _init("w_q", rng.integers(-127, 128, size=(8, 4)).astype(np.int8)),
        _init("w_scale", np.array(0.02, np.float32)),
        _init("w_zp", np.array(0, np.int8)),
    ]
    nodes = [
        _node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], "w_dq"),
        _node("MatMul", ["x", "w_dq"], "mm"),
    ]
    return _model(nodes, [_vi("x", ["N", 8])], [_out("mm")], inits)


def _custom_op_model(value_info: bool, declared_out=(None, 3), rows=2) -> onnx.ModelProto:
    """An op from a custom domain (no shape rule, no FLOP rule) feeding a MatMul; with
    `value_info`, the model states the custom op's output shape.  ONNX Runtime cannot run it."""
    w = _init("w", np.arange(12, dtype=np.float32).reshape(4, 3))
    nodes = [helper.make_node("Foo", ["x"], ["f"], name="/foo/Foo", domain="my.ops"),
             _node("MatMul", ["f", "w"], "y")]
    vi = [helper.make_tensor_value_info("f", F, [rows, 4])] if value_info else []
    graph = helper.make_graph(nodes, "custom", [_vi("x", [rows, 4])],
                              [helper.make_tensor_value_info("y", F, list(declared_out))], [w],
                              value_info=vi)
    model = helper.make_model(graph, producer_name="prunekit-tests",
                              opset_imports=[helper.make_opsetid("", OPSET),
                                             helper.make_opsetid("my.ops", 1)])
    model.ir_version = 8
    return model


# name -> (builder, --dim sizes)
MODELS = {
    "matmuls": (build_matmuls, {"N": 2}),
    "gemms": (build_gemms, {"N": 3}),
    "convs": (build_convs, {"N": 2}),
    "params": (build_params, {}),
    "shape_chain": (build_shape_chain, {"N": 3}),
    "misc_ops": (build_misc_ops, {"N": 2}),
    "quantized_matmul": (build_quantized_matmul, {}),
    "custom_op_value_info": (lambda: _custom_op_model(value_info=True), {}),
    "custom_op_no_value_info": (lambda: _custom_op_model(value_info=False), {}),
    "custom_op_declared_output": (lambda: _custom_op_model(False, declared_out=(2, 3)), {}),
    # Exporters write value_info with the inputs' symbols: sized by --dim, they are known.
    "custom_op_symbolic_value_info": (lambda: _custom_op_model(True, rows="batch"), {"batch": 5}),
}
RUNNABLE = [name for name in MODELS if not name.startswith("custom_op")]


@pytest.fixture(scope="module")
def edge_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("edge_models")
    for name, (build, _) in MODELS.items():
        onnx.save_model(build(), d / f"{name}.onnx")
    return d


@functools.cache
def _reports(edge_dir_str: str, name: str):
    path = f"{edge_dir_str}/{name}.onnx"
    dims = MODELS[name][1]
    args = tuple(a for sym, size in dims.items() for a in ("--dim", f"{sym}={size}"))
    want = reference_analyze(path, dims=dims)
    return path, dims, want, args


def reference_report(edge_dir, name: str) -> dict:
    return _reports(str(edge_dir), name)[2]


def prunekit_report(edge_dir, name: str) -> dict:
    path, _, _, args = _reports(str(edge_dir), name)
    return prunekit_analyze(path, args)


def layer(report: dict, name: str) -> dict:
    by_name = {la["name"]: la for la in report["layers"]}
    assert name in by_name, f"no layer {name!r}; layers: {sorted(by_name)}"
    return by_name[name]


# ------------------------------------------------------------------------------------------------
# prunekit against the reference, and shapes against ONNX Runtime
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", RUNNABLE)
def test_reference_shapes_match_onnxruntime(name: str, edge_dir):
    want = reference_report(edge_dir, name)
    concrete = {i["name"]: i["shape"] for i in want["model"]["inputs"]}
    actual = onnxruntime_shapes(onnx.load(str(edge_dir / f"{name}.onnx")), concrete)
    mismatches = compare_shapes_with_onnxruntime(want, actual)
    assert not mismatches, f"{name} (reference):\n" + "\n".join(mismatches)


@pytest.mark.parametrize("name", list(MODELS))
def test_matches_reference(name: str, edge_dir):
    got, want = prunekit_report(edge_dir, name), reference_report(edge_dir, name)
    mismatches = compare_totals(got, want) + compare_layers(got, want)
    assert not mismatches, f"{name}: {len(mismatches)} mismatches\n" + "\n".join(mismatches)


@pytest.mark.parametrize("name", RUNNABLE)
def test_shapes_match_onnxruntime(name: str, edge_dir):
    got = prunekit_report(edge_dir, name)
    concrete = {i["name"]: i["shape"] for i in reference_report(edge_dir, name)["model"]["inputs"]}
    actual = onnxruntime_shapes(onnx.load(str(edge_dir / f"{name}.onnx")), concrete)
    mismatches = compare_shapes_with_onnxruntime(got, actual)
    assert not mismatches, f"{name}:\n" + "\n".join(mismatches)


# ------------------------------------------------------------------------------------------------
# By hand
# ------------------------------------------------------------------------------------------------


def test_matmuls_by_hand(edge_dir):
    r = prunekit_report(edge_dir, "matmuls")
    n = 2
    assert layer(r, "rows")["macs"] == n * 5 * 6 * 7 == 420  # docs/analysis.md's example
    assert layer(r, "colvec")["output_shapes"] == [[n, 5]]
    assert layer(r, "colvec")["macs"] == n * 5 * 7
    assert layer(r, "colvec")["prunable"] and layer(r, "colvec")["weight"] == "w_vec"
    assert layer(r, "bcast")["output_shapes"] == [[2, n, 5, 4]]
    assert layer(r, "bcast")["macs"] == 2 * n * 5 * 7 * 4
    both = layer(r, "both_const")
    assert not both["prunable"] and both["not_prunable_reason"] and both["weight"] is None
    assert both["macs"] == 6 * 3 and both["params"] == 6 + 18
    gram = layer(r, "gram")
    assert not gram["prunable"] and gram["macs"] == n * 5 * 7 * 5
    assert layer(r, "rowvec")["output_shapes"] == [[7]]
    assert layer(r, "rowvec")["macs"] == 6 * 7
    assert layer(r, "x_mean")["flops"] == n * 5 * 6
    # Model totals: the shared weight `w` is read by two prunable layers but counted once.
    assert r["model"]["prunable_params"] == 42 + 7 + 56
    assert r["model"]["n_prunable"] == 4


def test_gemms_by_hand(edge_dir):
    r = prunekit_report(edge_dir, "gemms")
    n = 3
    ta = layer(r, "ta")
    assert ta["output_shapes"] == [[n, 4]] and ta["macs"] == n * 6 * 4
    const_a = layer(r, "const_a")
    assert const_a["prunable"] and const_a["weight"] == "a_const" and const_a["bias"] == "a_bias"
    assert const_a["macs"] == 5 * 4 * n
    both = layer(r, "both_const")
    assert not both["prunable"] and both["weight"] is None and both["bias"] == "pq_bias"
    assert both["macs"] == 2 * 3 * 2 and both["params"] == 6 + 6 + 2
    tab = layer(r, "tab")
    assert tab["output_shapes"] == [[n, 4]] and tab["macs"] == n * 4 * 4 and tab["bias"] is None


def test_convs_by_hand(edge_dir):
    r = prunekit_report(edge_dir, "convs")
    n = 2
    ct = layer(r, "ct")
    assert ct["output_shapes"] == [[n, 2, 11, 11]]
    assert ct["macs"] == (n * 4 * 5 * 5) * 2 * 3 * 3  # ∏ input × C_out/group × ∏ kernel
    assert ct["flops"] == 2 * ct["macs"]
    gct = layer(r, "gct")
    assert gct["output_shapes"] == [[n, 2, 7, 7]]
    assert gct["macs"] == (n * 4 * 5 * 5) * 1 * 3 * 3
    assert layer(r, "c1d")["output_shapes"] == [[n, 6, 10]]
    assert layer(r, "c1d")["macs"] == n * 6 * 10 * 3 * 3
    assert layer(r, "c1d_same")["output_shapes"] == [[n, 6, 4]]
    assert layer(r, "c1d_same")["macs"] == n * 6 * 4 * 3 * 3
    rw = layer(r, "reshaped_w")
    assert rw["prunable"] and rw["weight"] == "flat.weight" and rw["weight_shape"] == [32]
    assert rw["macs"] == n * 8 * 5 * 5 * 4 and rw["params"] == 32
    assert layer(r, "flat.view")["params"] == 0
    cw = layer(r, "cast_w")
    assert cw["prunable"] and cw["weight"] == "half.weight" and cw["prunable_params"] == 16
    aw = layer(r, "act_w")
    assert not aw["prunable"] and aw["not_prunable_reason"] and aw["weight"] is None
    assert aw["macs"] == n * 8 * 5 * 5 * 4 * 3 * 3 and aw["params"] == 0
    zw = layer(r, "zero_w")
    assert zw["prunable_params"] == zw["zeroed_params"] == 4
    # ConvTranspose is not a prunable op (only Conv, Gemm, MatMul are), and has no `bias`.
    assert not ct["prunable"] and ct["weight"] is None and ct["bias"] is None
    assert ct["params"] == 72 + 2
    # c1d (shared by two layers: counted once), flat, half, zero.
    assert r["model"]["prunable_params"] == 54 + 32 + 16 + 4
    assert r["model"]["zeroed_params"] == 4
    assert r["model"]["n_prunable"] == 5


def test_params_by_hand(edge_dir):
    r = prunekit_report(edge_dir, "params")
    assert layer(r, "mm1")["params"] == layer(r, "mm2")["params"] == 64
    assert r["model"]["prunable_params"] == 64 and r["model"]["n_prunable"] == 2
    assert layer(r, "add_cf")["params"] == 3  # Constant value_floats
    assert layer(r, "cf")["params"] == 0 and layer(r, "ci")["params"] == 0
    assert layer(r, "mul_q")["params"] == 3  # int8, through Cast
    assert layer(r, "q.float")["params"] == 0
    assert layer(r, "add_u")["params"] == 3  # through Unsqueeze and Identity
    assert layer(r, "cat")["params"] == 3 and layer(r, "add_cat")["params"] == 0
    clipped = layer(r, "clipped")
    assert clipped["input_shapes"] == [[1, 3], None, []] and clipped["params"] == 1
    assert layer(r, "reshaped")["params"] == 0 and layer(r, "reshaped")["output_shapes"] == [[1, 3]]
    # shared 64 + cf 3 + int8 3 + bias3 3 + 1 + 2 + clip_max 1 + unused.weight 5 (int32 and the
    # int64 Constant are not parameters).
    assert r["model"]["params"] == 64 + 3 + 3 + 3 + 1 + 2 + 1 + 5


def test_shape_chain_by_hand(edge_dir):
    r = prunekit_report(edge_dir, "shape_chain")
    assert layer(r, "flat")["output_shapes"] == [[3, 16]]
    assert layer(r, "fc")["macs"] == 3 * 16 * 5


def test_misc_ops_by_hand(edge_dir):
    r = prunekit_report(edge_dir, "misc_ops")
    n = 2
    assert layer(r, "maxpool")["flops"] == n * 4 * 6 * 6 * 9
    assert layer(r, "lppool")["flops"] == n * 4 * 5 * 5 * 4
    assert layer(r, "avgpool")["flops"] == n * 4 * 2 * 2 * 9
    assert layer(r, "gmp")["flops"] == n * 4 * 6 * 6
    assert layer(r, "rsum")["flops"] == n * 4 * 6 * 6
    assert layer(r, "argmax")["flops"] == n * 4 * 6 * 6
    assert layer(r, "split_a")["output_shapes"] == [[n, 1, 6, 6], [n, 3, 6, 6]]
    assert layer(r, "drop")["output_shapes"] == [[n, 3, 6, 6], [n, 3, 6, 6]]
    topk = layer(r, "topk_v")
    assert topk["flops"] is None and topk["output_shapes"] == [[n, 4, 6, 2], [n, 4, 6, 2]]
    assert r["model"]["unknown_flops_ops"] == ["TopK"]
    for name in ["pow", "where", "leaky", "hswish", "inorm", "lrn", "logsoftmax"]:
        assert layer(r, name)["flops"] == n * 4 * 4 * 8, name
        assert layer(r, name)["macs"] == 0, name
    assert layer(r, "padded")["flops"] == 0 and layer(r, "sliced")["output_shapes"] == [
        [n, 4, 4, 8]]


def test_quantized_matmul_by_hand(edge_dir):
    r = prunekit_report(edge_dir, "quantized_matmul")
    mm = layer(r, "mm")
    assert not mm["prunable"] and "DequantizeLinear" in mm["not_prunable_reason"]
    assert mm["macs"] == 8 * 4
    assert layer(r, "w_dq")["params"] == 32 + 1 + 1
    assert r["model"]["params"] == 34 and r["model"]["prunable_params"] == 0
    assert r["model"]["sparsity"] == 0


def test_value_info_is_used_where_an_op_has_no_rule(edge_dir):
    r = prunekit_report(edge_dir, "custom_op_value_info")
    foo = layer(r, "f")
    assert foo["output_shapes"] == [[2, 4]]
    assert foo["flops"] is None and r["model"]["unknown_flops_ops"] == ["Foo"]
    y = layer(r, "y")
    assert y["output_shapes"] == [[2, 3]] and y["macs"] == 2 * 4 * 3 and y["prunable"]


def test_symbolic_value_info_takes_the_sizes_of_the_inputs_symbols(edge_dir):
    r = prunekit_report(edge_dir, "custom_op_symbolic_value_info")
    assert layer(r, "f")["output_shapes"] == [[5, 4]]
    assert layer(r, "y")["macs"] == 5 * 4 * 3


def test_unknown_shape_is_null(edge_dir):
    r = prunekit_report(edge_dir, "custom_op_no_value_info")
    assert layer(r, "f")["output_shapes"] == [None]
    y = layer(r, "y")
    assert y["output_shapes"] == [None]
    assert y["macs"] is None and y["flops"] is None
    assert y["prunable"] and y["prunable_params"] == 12  # prunability does not need shapes
    assert r["model"]["macs"] == 0 and r["model"]["flops"] == 0
    assert r["model"]["warnings"], "an unknown shape should be reported in model.warnings"


def test_declared_graph_output_shape_is_used_where_inference_stops(edge_dir):
    r = prunekit_report(edge_dir, "custom_op_declared_output")
    assert layer(r, "f")["output_shapes"] == [None]
    y = layer(r, "y")
    assert y["output_shapes"] == [[2, 3]]
    assert y["macs"] is None  # the MatMul's K comes from its unknown input

"""Graphs that are not valid ONNX are refused by the analysis, so by every command, in one
ModelError sentence that names the node, says what is wrong and says to re-export; graphs that
ONNX allows (subgraphs reading outer values, empty optional inputs, initializers listed as inputs,
unsorted nodes) still analyze. ONNX Runtime is the independent judge of both lists: it must refuse
every invalid model here and load every valid one."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from prunekit_cli import FIXTURES, run_prunekit

INVALID = "the model is invalid: re-export it."


def _node(model: onnx.ModelProto, name: str) -> onnx.NodeProto:
    return next(n for n in model.graph.node if n.name == name)


def _set(node: onnx.NodeProto, name: str, value) -> None:
    for a in list(node.attribute):
        if a.name == name:
            node.attribute.remove(a)
    node.attribute.append(helper.make_attribute(name, value))


def drop_initializer(m):
    m.graph.initializer.remove(next(t for t in m.graph.initializer if t.name == "conv2.weight"))


def dangling_input(m):
    _node(m, "/relu1/Relu").input[0] = "nowhere"


def cycle(m):
    _node(m, "/relu1/Relu").input[0] = _node(m, "/fc1/Gemm").output[0]


def self_loop(m):
    relu = _node(m, "/relu2/Relu")
    relu.input[0] = relu.output[0]


def stride_0(m):
    _set(_node(m, "/conv1/Conv"), "strides", [0, 0])


def group_0(m):
    _set(_node(m, "/dw/Conv"), "group", 0)


def group_not_dividing(m):
    _set(_node(m, "/gconv/Conv"), "group", 3)


def group_channels_mismatch(m):
    _set(_node(m, "/gconv/Conv"), "group", 4)


def duplicate_output(m):
    _node(m, "/relu2/Relu").output[0] = _node(m, "/relu1/Relu").output[0]


def output_not_produced(m):
    m.graph.output[0].name = "never_made"


def raw_data_short(m):
    t = next(t for t in m.graph.initializer if t.name == "conv1.bias")
    t.raw_data = t.raw_data[:-4]


INVALID_CASES = {
    # name: (fixture, edit, what the sentence must say)
    "missing_initializer": ("digits_cnn.onnx", drop_initializer,
                            "node '/conv2/Conv' (Conv) reads 'conv2.weight', which no graph input, "
                            "initializer or node provides"),
    "dangling_input": ("digits_cnn.onnx", dangling_input,
                       "node '/relu1/Relu' (Relu) reads 'nowhere'"),
    "cycle": ("digits_cnn.onnx", cycle, "depends on its own output through a cycle"),
    "self_loop": ("digits_cnn.onnx", self_loop, "node '/relu2/Relu' (Relu) reads its own output"),
    "stride_0": ("digits_cnn.onnx", stride_0, "node '/conv1/Conv' (Conv) has a stride of 0"),
    "group_0": ("grouped_convs.onnx", group_0, "node '/dw/Conv' (Conv) has a group of 0"),
    "group_not_dividing": ("grouped_convs.onnx", group_not_dividing,
                           "node '/gconv/Conv' (Conv) has a group of 3, which does not divide the "
                           "16 output channels of its weight"),
    "group_channels_mismatch": ("grouped_convs.onnx", group_channels_mismatch,
                                "node '/gconv/Conv' (Conv) gets 8 input channels, but its weight "
                                "expects 16"),
    "duplicate_output": ("digits_cnn.onnx", duplicate_output, "is the output of two nodes"),
    "output_not_produced": ("mlp.onnx", output_not_produced,
                            "the graph output 'never_made' is not produced"),
    "raw_data_short": ("digits_cnn.onnx", raw_data_short,
                       "the initializer 'conv1.bias' holds 28 bytes, but its dims [8] of float32 "
                       "need 32"),
}


def _write(tmp_path, fixture: str, edit) -> str:
    model = onnx.load(str(FIXTURES / fixture))
    edit(model)
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return str(path)


def _one_error_line(proc, what: str) -> str:
    assert proc.returncode == 1, (f"{what}: exit {proc.returncode}\n{proc.stdout[:500]}\n"
                                  f"{proc.stderr}")
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"{what}: expected one line on stderr:\n{proc.stderr}"
    assert "panicked" not in proc.stderr and "internal error" not in proc.stderr
    return lines[0]


def _ort_runs(path: str) -> None:
    """Builds an ONNX Runtime session and runs it once on zeros (free dims 1): raises if either
    step fails, as some invalid models (a bad group) only fail when run."""
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in i.shape]
        feeds[i.name] = np.zeros(shape, dtype=np.float32)
    session.run(None, feeds)


@pytest.mark.parametrize("case", list(INVALID_CASES))
def test_invalid_graph_is_one_model_error(case: str, tmp_path):
    fixture, edit, says = INVALID_CASES[case]
    path = _write(tmp_path, fixture, edit)
    # The independent judge agrees that the model is invalid.
    with pytest.raises(Exception):
        _ort_runs(path)
    line = _one_error_line(run_prunekit(["analyze", path]), case)
    assert line.startswith(f"prunekit: {path}: "), line
    assert says in line and line.endswith(INVALID), line
    # `load` (so every command after it) gets the same sentence.
    line = _one_error_line(run_prunekit(["run", f"load {path}"]), case)
    assert says in line and line.endswith(INVALID), line


def subgraph_reading_outer_values(m):
    """The last Gemm moves into both branches of an If; the branches read the outer graph's
    activation and initializers."""
    last = m.graph.node[-1]
    out = last.output[0]
    branches = []
    for tag in ("then", "else"):
        inner = onnx.NodeProto()
        inner.CopyFrom(last)
        inner.name = f"{last.name}_{tag}"
        inner.output[0] = f"{out}_{tag}"
        branches.append(helper.make_graph(
            [inner], tag, [], [helper.make_tensor_value_info(inner.output[0], TensorProto.FLOAT,
                                                             None)]))
    m.graph.initializer.append(helper.make_tensor("cond", TensorProto.BOOL, [], [True]))
    m.graph.node.remove(last)
    m.graph.node.append(helper.make_node("If", ["cond"], [out], name="if",
                                         then_branch=branches[0], else_branch=branches[1]))


def empty_optional_input(m):
    # Conv's bias is optional; an empty name says "not given".
    _node(m, "/conv2/Conv").input.append("")


def initializers_listed_as_inputs(m):
    for t in m.graph.initializer:
        m.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))


def unsorted_nodes(m):
    nodes = list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(reversed(nodes))


VALID_CASES = {
    "subgraph_reading_outer_values": ("mlp.onnx", subgraph_reading_outer_values),
    "empty_optional_input": ("digits_cnn.onnx", empty_optional_input),
    "initializers_listed_as_inputs": ("mlp.onnx", initializers_listed_as_inputs),
    "unsorted_nodes": ("digits_cnn.onnx", unsorted_nodes),
}


@pytest.mark.parametrize("case", list(VALID_CASES))
def test_what_onnx_allows_still_analyzes(case: str, tmp_path):
    fixture, edit = VALID_CASES[case]
    path = _write(tmp_path, fixture, edit)
    # ONNX Runtime loads and runs it (unsorted nodes included: it sorts them itself).
    _ort_runs(path)
    proc = run_prunekit(["analyze", path, "--format", "json"])
    assert proc.returncode == 0, f"{case}: {proc.stderr}"
    proc = run_prunekit(["run", f"load {path}", "profile perf --iterations 1 --warmup 0"])
    assert proc.returncode == 0, f"{case}: {proc.stderr}"

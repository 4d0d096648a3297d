"""Comparison helpers shared by the analysis tests: prunekit's JSON against the reference, and
shapes against what ONNX Runtime produces."""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

MODEL_TOTALS = ["params", "prunable_params", "zeroed_params", "macs", "flops", "n_layers",
                "n_prunable"]

LAYER_FIELDS = [
    "node_name", "op_type", "inputs", "outputs", "input_shapes", "output_shapes",
    "params", "prunable", "weight", "weight_shape", "bias", "bias_shape",
    "prunable_params", "zeroed_params", "macs", "flops",
]


def compare_totals(got: dict, want: dict) -> list[str]:
    """Model-level totals, exact (sparsity to rounding)."""
    g, w = got["model"], want["model"]
    out = [f"model.{k}: expected {w[k]!r}, got {g.get(k)!r}"
           for k in MODEL_TOTALS if g.get(k) != w[k]]
    if not math.isclose(g.get("sparsity", -1), w["sparsity"], rel_tol=1e-12, abs_tol=1e-15):
        out.append(f"model.sparsity: expected {w['sparsity']!r}, got {g.get('sparsity')!r}")
    for k in ["op_types", "unknown_flops_ops"]:
        if g.get(k) != w[k]:
            out.append(f"model.{k}: expected {w[k]!r}, got {g.get(k)!r}")
    return out


def _attributes_match(got: dict, want: dict) -> list[str]:
    if set(got) != set(want):
        return [f"attribute names: expected {sorted(want)}, got {sorted(got)}"]
    out = []
    for name, w in want.items():
        g = got[name]
        if w is None:  # tensor / graph attribute: its JSON encoding is not compared
            continue
        if isinstance(w, float) or (isinstance(w, list) and w and isinstance(w[0], float)):
            ws, gs = (w, g) if isinstance(w, list) else ([w], [g])
            ok = isinstance(gs, list) and len(gs) == len(ws) and all(
                isinstance(x, (int, float)) and math.isclose(x, y, rel_tol=1e-6)
                for x, y in zip(gs, ws))
        else:
            ok = g == w
        if not ok:
            out.append(f"attribute {name}: expected {w!r}, got {g!r}")
    return out


def compare_layers(got: dict, want: dict) -> list[str]:
    """Every layer, matched by name: every field of LAYER_FIELDS exactly, plus attributes."""
    g_by = {la["name"]: la for la in got["layers"]}
    w_by = {la["name"]: la for la in want["layers"]}
    if sorted(g_by) != sorted(w_by):
        return [f"layer names: missing {sorted(set(w_by) - set(g_by))}, "
                f"unexpected {sorted(set(g_by) - set(w_by))}"]
    out = []
    for name, w in w_by.items():
        g = g_by[name]
        for key in LAYER_FIELDS:
            if g.get(key) != w[key]:
                out.append(f"{name} ({w['op_type']}).{key}: expected {w[key]!r}, "
                           f"got {g.get(key)!r}")
        if g.get("prunable") and g.get("not_prunable_reason") is not None:
            out.append(f"{name}: prunable but not_prunable_reason is "
                       f"{g['not_prunable_reason']!r}")
        if w["op_type"] in ("Conv", "Gemm", "MatMul") and not w["prunable"] \
                and not g.get("not_prunable_reason"):
            out.append(f"{name}: not prunable but no not_prunable_reason")
        out += [f"{name}: {m}" for m in _attributes_match(g.get("attributes", {}),
                                                          w["attributes"])]
    return out


def onnxruntime_shapes(model: onnx.ModelProto, concrete_inputs: dict[str, list[int]],
                       seed: int = 1234) -> dict[str, list[int]]:
    """Run `model` (with external data already loaded) on seeded random inputs of the given
    shapes, with every node output exposed as a graph output; returns name -> actual shape."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    declared = {o.name for o in model.graph.output}
    for node in model.graph.node:
        for out in node.output:
            if out and out not in declared:
                model.graph.output.append(onnx.ValueInfoProto(name=out))
                declared.add(out)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    init_names = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in init_names:
            continue
        dtype = helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)
        shape = concrete_inputs[vi.name]
        if np.issubdtype(dtype, np.floating):
            feeds[vi.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[vi.name] = rng.integers(0, 4, size=shape).astype(dtype)
    results = sess.run(None, feeds)
    return {o.name: list(r.shape) for o, r in zip(sess.get_outputs(), results)}


def compare_shapes_with_onnxruntime(report: dict, actual: dict[str, list[int]]) -> list[str]:
    out = []
    for la in report["layers"]:
        for name, shape in zip(la["outputs"], la["output_shapes"]):
            if name and shape != actual[name]:
                out.append(f"{la['name']}: output {name}: onnxruntime {actual[name]}, "
                           f"reported {shape}")
    for o in report["model"]["outputs"]:
        if o["shape"] != actual[o["name"]]:
            out.append(f"model output {o['name']}: onnxruntime {actual[o['name']]}, "
                       f"reported {o['shape']}")
    return out

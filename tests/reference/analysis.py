"""Independent reference implementation of docs/analysis.md, on top of the `onnx` package and numpy.

This module does not use prunekit's code or output.  It recomputes, from the ONNX file alone, every
number that ``prunekit-kernel analyze --format json`` reports (layers, shapes, params, prunable
weights, zeroed params, MACs and FLOPs), so the test suite can compare the two.

Shapes come from ``onnx.shape_inference.infer_shapes(strict_mode=True, data_prop=True)`` after the
graph inputs' symbolic dimensions have been replaced by concrete sizes:

1. ``input_shapes[name]``: the whole shape of that input;
2. ``dims[symbol]``: every dimension named ``symbol``;
3. otherwise 1 (and the default is reported in ``model["defaults"]``).

Usage from the command line (prints the JSON)::

    .venv/bin/python tests/reference/analysis.py MODEL [--dim SYMBOL=SIZE ...] [--input NAME=D0,D1,...]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections import Counter

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# ------------------------------------------------------------------------------------------------
# The contract's tables
# ------------------------------------------------------------------------------------------------

PARAM_DTYPES = {
    TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16,
    TensorProto.INT8, TensorProto.UINT8,
}
FLOAT_DTYPES = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16}

# Ops whose output, when computed only from constants, is a view of the data input's root constant.
PASS_THROUGH = {"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Cast"}

PRUNABLE_OPS = {"Conv", "Gemm", "MatMul"}
MAC_OPS = {"Conv", "ConvTranspose", "Gemm", "MatMul"}

ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Mod", "PRelu", "Where",
    "Clip", "Sqrt", "Reciprocal", "Exp", "Log", "Neg", "Abs", "Erf", "Floor", "Ceil", "Round",
    "Sign", "Sin", "Cos",
}
ACTIVATIONS = {
    "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Celu",
    "Gelu", "Softplus", "Softsign", "Mish", "ThresholdedRelu",
}
NORMALIZATIONS = {
    "BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
    "LpNormalization", "LRN", "Softmax", "LogSoftmax",
}
POOLS = {"MaxPool", "AveragePool", "LpPool"}
GLOBAL_POOLS = {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}
REDUCTIONS = {
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp", "ArgMax", "ArgMin",
}
ZERO_FLOPS = {
    "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Concat", "Split", "Slice",
    "Gather", "Shape", "Size", "Constant", "ConstantOfShape", "Identity", "Cast", "Dropout",
    "Expand", "Tile", "Pad", "Range", "Equal", "Less", "Greater", "Not", "And", "Or",
    "QuantizeLinear", "DequantizeLinear",
}

DTYPE_NAMES = {
    TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64", TensorProto.FLOAT16: "float16",
    TensorProto.BFLOAT16: "bfloat16", TensorProto.INT8: "int8", TensorProto.UINT8: "uint8",
    TensorProto.INT16: "int16", TensorProto.UINT16: "uint16", TensorProto.INT32: "int32",
    TensorProto.UINT32: "uint32", TensorProto.INT64: "int64", TensorProto.UINT64: "uint64",
    TensorProto.BOOL: "bool", TensorProto.STRING: "string",
}


def prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


# ------------------------------------------------------------------------------------------------
# Constants
# ------------------------------------------------------------------------------------------------


class Constant:
    """A root constant: an initializer or the output of a Constant node."""

    def __init__(self, name: str, dtype: int, shape: list[int], values: np.ndarray | None):
        self.name = name
        self.dtype = dtype
        self.shape = [int(d) for d in shape]
        self.values = values

    @property
    def size(self) -> int:
        return prod(self.shape)

    @property
    def is_param(self) -> bool:
        return self.dtype in PARAM_DTYPES

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    def zeros(self) -> int:
        return int(np.count_nonzero(self.values == 0))


def _constant_node_value(node: onnx.NodeProto) -> Constant:
    """The value of a Constant node, whichever of its (exactly one) attributes holds it."""
    name = node.output[0]
    attr = node.attribute[0]
    if attr.name == "value":
        t = attr.t
        return Constant(name, t.data_type, list(t.dims), numpy_helper.to_array(t))
    if attr.name == "sparse_value":
        sp = attr.sparse_tensor
        dense = numpy_helper.to_array(sp.values)
        arr = np.zeros(prod(sp.dims), dtype=dense.dtype)
        idx = numpy_helper.to_array(sp.indices)
        if idx.ndim == 2:  # [NNZ, rank] coordinates
            idx = np.ravel_multi_index(tuple(idx.T), tuple(sp.dims))
        arr[idx] = dense
        return Constant(name, sp.values.data_type, list(sp.dims), arr.reshape(tuple(sp.dims)))
    if attr.name == "value_float":
        return Constant(name, TensorProto.FLOAT, [], np.array(attr.f, np.float32))
    if attr.name == "value_floats":
        return Constant(name, TensorProto.FLOAT, [len(attr.floats)],
                        np.array(list(attr.floats), np.float32))
    if attr.name == "value_int":
        return Constant(name, TensorProto.INT64, [], np.array(attr.i, np.int64))
    if attr.name == "value_ints":
        return Constant(name, TensorProto.INT64, [len(attr.ints)],
                        np.array(list(attr.ints), np.int64))
    if attr.name == "value_string":
        return Constant(name, TensorProto.STRING, [], None)
    if attr.name == "value_strings":
        return Constant(name, TensorProto.STRING, [len(attr.strings)], None)
    raise ValueError(f"Constant node {node.name!r}: unsupported attribute {attr.name!r}")


# ------------------------------------------------------------------------------------------------
# Shapes
# ------------------------------------------------------------------------------------------------


def _declared(vi: onnx.ValueInfoProto) -> list | None:
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    out = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            out.append(d.dim_param)
        else:
            out.append(None)
    return out


def _concrete(vi: onnx.ValueInfoProto, symbols=None) -> list[int] | None:
    """The shape of a value-info if every dimension is a known number (or a symbol whose size the
    inputs fixed, given in `symbols`), else None."""
    tt = vi.type
    if not tt.HasField("tensor_type") or not tt.tensor_type.HasField("shape"):
        return None
    dims = []
    for d in tt.tensor_type.shape.dim:
        if d.HasField("dim_param") and d.dim_param in (symbols or {}):
            dims.append(int(symbols[d.dim_param]))
            continue
        if not d.HasField("dim_value"):
            return None
        dims.append(int(d.dim_value))
    return dims


def resolve_inputs(model: onnx.ModelProto, input_shapes=None, dims=None):
    """Concrete shapes of the (non-initializer) graph inputs, and the defaults that were used."""
    input_shapes = dict(input_shapes or {})
    dims = dict(dims or {})
    init_names = {t.name for t in model.graph.initializer}
    concrete: dict[str, list[int]] = {}
    defaults: dict[str, int] = {}
    for vi in model.graph.input:
        if vi.name in init_names:
            continue
        declared = _declared(vi) or []
        if vi.name in input_shapes:
            concrete[vi.name] = [int(d) for d in input_shapes[vi.name]]
            continue
        shape = []
        for d in declared:
            if isinstance(d, int):
                shape.append(d)
            elif isinstance(d, str) and d in dims:
                shape.append(int(dims[d]))
            else:
                shape.append(1)
                if isinstance(d, str):
                    defaults.setdefault(d, 1)
        concrete[vi.name] = shape
    return concrete, defaults


def infer_shapes(model: onnx.ModelProto, concrete_inputs: dict[str, list[int]], symbols=None):
    """Every tensor's concrete shape (None where unknown) after onnx shape inference."""
    m = copy.deepcopy(model)
    for vi in m.graph.input:
        if vi.name in concrete_inputs:
            tt = vi.type.tensor_type
            tt.ClearField("shape")
            tt.shape.SetInParent()
            for size in concrete_inputs[vi.name]:
                tt.shape.dim.add().dim_value = int(size)
    # The declared graph outputs keep their symbolic shapes; let inference produce the real ones.
    for vi in m.graph.output:
        if vi.type.HasField("tensor_type"):
            vi.type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True,
                                                 data_prop=True)
    shapes: dict[str, list[int] | None] = {}
    types: dict[str, int] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(
            inferred.graph.input):
        shapes[vi.name] = _concrete(vi, symbols)
        if vi.type.HasField("tensor_type"):
            types[vi.name] = vi.type.tensor_type.elem_type
    for t in inferred.graph.initializer:
        shapes[t.name] = [int(d) for d in t.dims]
        types[t.name] = t.data_type
    # Where inference found nothing, the model's own value_info (or a graph output's declared
    # shape) is used when it is fully known.
    # Symbols sized by the inputs (`--dim`, or the default 1) count as known there.
    for vi in list(model.graph.value_info) + list(model.graph.output):
        if shapes.get(vi.name) is None and _concrete(vi, symbols) is not None:
            shapes[vi.name] = _concrete(vi, symbols)
    return shapes, types


# ------------------------------------------------------------------------------------------------
# MACs / FLOPs
# ------------------------------------------------------------------------------------------------


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _macs(node, in_shapes, out_shapes):
    """MACs of a Conv / ConvTranspose / Gemm / MatMul; None when a needed shape is unknown."""
    op = node.op_type
    if op == "Conv":
        out, w = out_shapes[0], in_shapes[1]
        if out is None or w is None:
            return None
        # W is [C_out, C_in / group, k...]: the group is already divided out of W[1].
        return prod(out) * w[1] * prod(w[2:])
    if op == "ConvTranspose":
        x, w = in_shapes[0], in_shapes[1]
        if x is None or w is None:
            return None
        # W is [C_in, C_out / group, k...].
        return prod(x) * w[1] * prod(w[2:])
    if op == "Gemm":
        a, b = in_shapes[0], in_shapes[1]
        if a is None or b is None:
            return None
        m, k = (a[1], a[0]) if _attr(node, "transA", 0) else (a[0], a[1])
        n = b[0] if _attr(node, "transB", 0) else b[1]
        return m * k * n
    if op == "MatMul":
        a, b = in_shapes[0], in_shapes[1]
        if a is None or b is None:
            return None
        a, b = list(a), list(b)
        if len(a) == 1:
            a = [1] + a  # a row vector
        if len(b) == 1:
            b = b + [1]  # a column vector
        batch = np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2]))
        m, k, n = a[-2], a[-1], b[-1]
        return prod(batch) * m * k * n
    raise AssertionError(op)


def _flops_no_macs(node, in_shapes, out_shapes):
    """FLOPs of a layer without MACs; returns (known, flops)."""
    op = node.op_type
    out0 = out_shapes[0] if out_shapes else None
    in0 = in_shapes[0] if in_shapes else None
    if op in ZERO_FLOPS:
        return True, 0
    if op in ELEMENTWISE or op in ACTIVATIONS or op in NORMALIZATIONS:
        return True, (None if out0 is None else prod(out0))
    if op in POOLS:
        ks = _attr(node, "kernel_shape")
        if out0 is None or ks is None:
            return True, None
        return True, prod(out0) * prod(ks)
    if op in GLOBAL_POOLS or op in REDUCTIONS:
        return True, (None if in0 is None else prod(in0))
    return False, None


# ------------------------------------------------------------------------------------------------
# The analysis
# ------------------------------------------------------------------------------------------------


def _json_attr(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [_json_attr(v) for v in value]
    if isinstance(value, (int, float, str)):
        return value
    return None  # tensors, graphs: not compared


def analyze(path, input_shapes=None, dims=None) -> dict:
    model = onnx.load(str(path))  # loads external data too
    graph = model.graph

    concrete_inputs, defaults = resolve_inputs(model, input_shapes, dims)
    shapes, types = infer_shapes(model, concrete_inputs, {**defaults, **dict(dims or {})})

    # Root constants.
    roots: dict[str, Constant] = {}
    for t in graph.initializer:
        values = numpy_helper.to_array(t) if t.data_type != TensorProto.STRING else None
        roots[t.name] = Constant(t.name, t.data_type, list(t.dims), values)
    for node in graph.node:
        if node.op_type == "Constant":
            c = _constant_node_value(node)
            roots[c.name] = c

    # Views: tensor name -> root constant name.  Nodes are in topological order in a valid model.
    root_of: dict[str, str] = {name: name for name in roots}
    for node in graph.node:
        if node.op_type in PASS_THROUGH and node.input and node.input[0] in root_of:
            others = [i for i in node.input[1:] if i]
            if all(i in root_of for i in others):
                root_of[node.output[0]] = root_of[node.input[0]]

    def shape_of(name):
        if not name:
            return None
        s = shapes.get(name)
        return None if s is None else list(s)

    # Where each tensor comes from (for not-prunable reasons).
    producer = {o: n for n in graph.node for o in n.output if o}

    def producers_upstream(name, seen=None):
        """Op types of every node upstream of tensor `name`."""
        seen = set() if seen is None else seen
        ops = set()
        stack = [name]
        while stack:
            t = stack.pop()
            if t in seen or t not in producer:
                continue
            seen.add(t)
            n = producer[t]
            ops.add(n.op_type)
            stack.extend(i for i in n.input if i)
        return ops

    layers = []
    for node in graph.node:
        op = node.op_type
        in_shapes = [shape_of(i) if i else None for i in node.input]
        out_shapes = [shape_of(o) if o else None for o in node.output]

        # Params: distinct root constants of a parameter dtype read by the node, through views.
        is_view_node = op in PASS_THROUGH and node.output and node.output[0] in root_of \
            and op != "Constant"
        read_roots = []
        if not is_view_node:
            for i in node.input:
                if i and i in root_of and root_of[i] not in read_roots:
                    read_roots.append(root_of[i])
        params = sum(roots[r].size for r in read_roots if roots[r].is_param)

        # Prunable.
        prunable = False
        reason = None
        weight = bias = None
        if op in PRUNABLE_OPS:
            inputs = list(node.input) + [""] * 3
            if op == "Conv":
                w_in = inputs[1]
                if w_in in root_of and roots[root_of[w_in]].is_float:
                    weight = root_of[w_in]
                elif w_in in root_of:
                    reason = f"weight {root_of[w_in]} is not a float constant"
                elif "DequantizeLinear" in producers_upstream(w_in):
                    reason = "weight is produced by DequantizeLinear (quantized model)"
                else:
                    reason = "weight is computed from activations"
            else:
                const = [i for i in inputs[:2] if i in root_of]
                if len(const) == 2:
                    reason = "both inputs are constants"
                elif len(const) == 0:
                    ups = producers_upstream(inputs[0]) | producers_upstream(inputs[1])
                    if "DequantizeLinear" in ups:
                        reason = "weight is produced by DequantizeLinear (quantized model)"
                    else:
                        reason = "both inputs are activations"
                else:
                    r = root_of[const[0]]
                    if roots[r].is_float:
                        weight = r
                    else:
                        reason = f"weight {r} is not a float constant"
            # Conv and Gemm: the bias is input 2 when it is a float constant, prunable or not.
            if op in ("Conv", "Gemm") and inputs[2] in root_of \
                    and roots[root_of[inputs[2]]].is_float:
                bias = root_of[inputs[2]]
            prunable = weight is not None

        # MACs and FLOPs.
        if op in MAC_OPS:
            macs = _macs(node, in_shapes, out_shapes)
            flops = None if macs is None else 2 * macs
            known = True
        else:
            known, flops = _flops_no_macs(node, in_shapes, out_shapes)
            macs = 0 if (known and flops is not None) else None

        wc = roots[weight] if weight else None
        bc = roots[bias] if bias else None
        layers.append({
            "name": node.output[0] if node.output else "",
            "node_name": node.name,
            "op_type": op,
            "inputs": list(node.input),
            "outputs": list(node.output),
            "input_shapes": in_shapes,
            "output_shapes": out_shapes,
            "attributes": {a.name: _json_attr(helper.get_attribute_value(a))
                           for a in node.attribute},
            "params": params,
            "prunable": prunable,
            "not_prunable_reason": None if prunable else reason,
            "weight": weight if prunable else None,
            "weight_shape": wc.shape if (prunable and wc) else None,
            "bias": bias,
            "bias_shape": bc.shape if bc else None,
            "prunable_params": wc.size if prunable else 0,
            "zeroed_params": wc.zeros() if prunable else 0,
            "macs": macs,
            "flops": flops,
            "_known_flops": known,
        })

    # Model totals.
    prunable_weights = {}
    for layer in layers:
        if layer["prunable"]:
            prunable_weights[layer["weight"]] = roots[layer["weight"]]
    prunable_params = sum(c.size for c in prunable_weights.values())
    zeroed_params = sum(c.zeros() for c in prunable_weights.values())
    unknown = sorted({la["op_type"] for la in layers if not la["_known_flops"]})
    for la in layers:
        del la["_known_flops"]

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    init_names = {t.name for t in graph.initializer}
    return {
        "model": {
            "path": str(path),
            "opset": opset,
            "ir_version": model.ir_version,
            "producer": model.producer_name,
            "params": sum(c.size for c in roots.values() if c.is_param),
            "prunable_params": prunable_params,
            "zeroed_params": zeroed_params,
            "sparsity": (zeroed_params / prunable_params) if prunable_params else 0.0,
            "macs": sum(la["macs"] for la in layers if la["macs"] is not None),
            "flops": sum(la["flops"] for la in layers if la["flops"] is not None),
            "n_layers": len(layers),
            "n_prunable": sum(1 for la in layers if la["prunable"]),
            "inputs": [{"name": vi.name,
                        "dtype": DTYPE_NAMES.get(vi.type.tensor_type.elem_type, "unknown"),
                        "declared": _declared(vi),
                        "shape": concrete_inputs[vi.name]}
                       for vi in graph.input if vi.name not in init_names],
            "outputs": [{"name": vi.name,
                         "dtype": DTYPE_NAMES.get(vi.type.tensor_type.elem_type, "unknown"),
                         "shape": shape_of(vi.name)}
                        for vi in graph.output],
            "defaults": [{"symbol": s, "size": v} for s, v in defaults.items()],
            "op_types": dict(Counter(la["op_type"] for la in layers)),
            "unknown_flops_ops": unknown,
            "warnings": [],
        },
        "layers": layers,
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="Reference analysis (docs/analysis.md) in Python.")
    p.add_argument("model")
    p.add_argument("--dim", action="append", default=[], help="SYMBOL=SIZE")
    p.add_argument("--input", action="append", default=[], help="NAME=D0,D1,...")
    args = p.parse_args(argv)
    dims = {k: int(v) for k, v in (d.split("=", 1) for d in args.dim)}
    inputs = {k: [int(x) for x in v.split(",")] for k, v in (d.split("=", 1) for d in args.input)}
    json.dump(analyze(args.model, inputs, dims), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

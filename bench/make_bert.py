#!/usr/bin/env python3
"""Writes bench/models/bert.onnx: a BERT-shaped encoder (BERT-base width, 4 layers) with random weights.

The MatMul/Gemm bench model of bench/sparse_engine.py, laid out as torch.onnx.export writes a
Hugging Face BERT: `input_ids` [batch, 128] (int64) -> word and position embeddings -> LayerNorm ->
4 encoder layers (self-attention with 12 heads of 64: query, key, value and output projections as
MatMul by a constant [in, out] weight plus Add of the bias; a GELU feed-forward 768 -> 3072 -> 768;
residual adds and LayerNormalization) -> the pooler (Gemm + Tanh on the first token), output `output`
[batch, 768]. BERT-base has 12 layers; 4 keep a run near the ResNet-50's ~8 GFLOPs so that the bench
fits its time, and the layers are the same shape. Weights are BERT's initialisation (normal, std
0.02; LayerNorm 1 and 0) from a fixed seed: not trained, only timings mean anything. Opset 17, IR 8.

    .venv/bin/python bench/make_bert.py            # skips when the file exists
    .venv/bin/python bench/make_bert.py --force    # regenerates
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "models", "bert.onnx")
VERSION = "v1"
OPSET = 17
IR_VERSION = 8
HIDDEN, HEADS, FFN, LAYERS, SEQ, VOCAB = 768, 12, 3072, 4, 128, 30522


class Builder:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def init(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, path: str, inputs: list[str], **attrs) -> str:
        name = f"{path}/{op}"
        if any(n.name == name for n in self.nodes):
            self.count += 1
            name = f"{name}_{self.count}"
        out = f"{name}_output_0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def const(self, name: str, values, dtype=np.int64) -> str:
        return self.init(name, np.array(values, dtype=dtype))

    def linear(self, x: str, module: str, n_in: int, n_out: int) -> str:
        # torch.onnx.export writes nn.Linear on a 3-D input as MatMul by W^T ([in, out]) then Add.
        path = "/" + module.replace(".", "/")
        w = self.init(f"{module}.weight_t", (self.rng.standard_normal((n_in, n_out)) * 0.02).astype(np.float32))
        b = self.init(f"{module}.bias", np.zeros(n_out, np.float32))
        return self.node("Add", path, [self.node("MatMul", path, [x, w]), b])

    def layer_norm(self, x: str, module: str) -> str:
        g = self.init(f"{module}.weight", np.ones(HIDDEN, np.float32))
        b = self.init(f"{module}.bias", np.zeros(HIDDEN, np.float32))
        return self.node("LayerNormalization", "/" + module.replace(".", "/"), [x, g, b], axis=-1, epsilon=1e-12)

    def heads(self, x: str, path: str, key: bool) -> str:
        # [b, s, 768] -> [b, s, 12, 64] -> [b, 12, s, 64] (the key: [b, 12, 64, s])
        y = self.node("Reshape", path, [x, "shape_heads"])
        return self.node("Transpose", path, [y], perm=[0, 2, 3, 1] if key else [0, 2, 1, 3])

    def encoder_layer(self, x: str, i: int) -> str:
        m = f"encoder.layer.{i}"
        p = "/" + m.replace(".", "/")
        q = self.heads(self.linear(x, f"{m}.attention.self.query", HIDDEN, HIDDEN), f"{p}/attention/q", False)
        k = self.heads(self.linear(x, f"{m}.attention.self.key", HIDDEN, HIDDEN), f"{p}/attention/k", True)
        v = self.heads(self.linear(x, f"{m}.attention.self.value", HIDDEN, HIDDEN), f"{p}/attention/v", False)
        scores = self.node("Div", f"{p}/attention", [self.node("MatMul", f"{p}/attention/scores", [q, k]), "scale"])
        probs = self.node("Softmax", f"{p}/attention", [scores], axis=-1)
        ctx = self.node("MatMul", f"{p}/attention/context", [probs, v])
        ctx = self.node("Reshape", f"{p}/attention", [self.node("Transpose", f"{p}/attention", [ctx], perm=[0, 2, 1, 3]), "shape_hidden"])
        attn = self.linear(ctx, f"{m}.attention.output.dense", HIDDEN, HIDDEN)
        x = self.layer_norm(self.node("Add", f"{p}/attention/output", [attn, x]), f"{m}.attention.output.LayerNorm")
        h = self.linear(x, f"{m}.intermediate.dense", HIDDEN, FFN)
        # GELU as BERT exports it: 0.5 * h * (1 + erf(h / sqrt(2)))
        e = self.node("Erf", f"{p}/intermediate", [self.node("Div", f"{p}/intermediate", [h, "sqrt2"])])
        h = self.node("Mul", f"{p}/intermediate", [self.node("Mul", f"{p}/intermediate", [h, self.node("Add", f"{p}/intermediate", [e, "one"])]), "half"])
        out = self.linear(h, f"{m}.output.dense", FFN, HIDDEN)
        return self.layer_norm(self.node("Add", f"{p}/output", [out, x]), f"{m}.output.LayerNorm")


def build(seed: int) -> onnx.ModelProto:
    b = Builder(seed)
    b.const("shape_heads", [0, 0, HEADS, HIDDEN // HEADS])
    b.const("shape_hidden", [0, 0, HIDDEN])
    for name, value in [("scale", np.sqrt(HIDDEN // HEADS)), ("sqrt2", np.sqrt(2.0)), ("one", 1.0), ("half", 0.5)]:
        b.const(name, value, np.float32)
    words = b.init("embeddings.word_embeddings.weight", (b.rng.standard_normal((VOCAB, HIDDEN)) * 0.02).astype(np.float32))
    positions = b.init("embeddings.position_embeddings", (b.rng.standard_normal((1, SEQ, HIDDEN)) * 0.02).astype(np.float32))
    x = b.node("Gather", "/embeddings/word_embeddings", [words, "input_ids"], axis=0)
    x = b.layer_norm(b.node("Add", "/embeddings", [x, positions]), "embeddings.LayerNorm")
    for i in range(LAYERS):
        x = b.encoder_layer(x, i)
    first = b.node("Gather", "/pooler", [x, b.const("zero", 0)], axis=1)
    w = b.init("pooler.dense.weight", (b.rng.standard_normal((HIDDEN, HIDDEN)) * 0.02).astype(np.float32))
    bias = b.init("pooler.dense.bias", np.zeros(HIDDEN, np.float32))
    pooled = b.node("Gemm", "/pooler/dense", [first, w, bias], transB=1)
    b.nodes.append(helper.make_node("Tanh", [pooled], ["output"], name="/pooler/activation/Tanh"))
    graph = helper.make_graph(
        b.nodes, "bert",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", SEQ])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", HIDDEN])],
        initializer=b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="prunekit-bench",
                              producer_version="1",
                              doc_string=f"BERT-base-width encoder, {LAYERS} layers, random weights (seed {seed}), made by bench/make_bert.py {VERSION}")
    model.ir_version = IR_VERSION
    return model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="regenerate even if the file exists")
    args = ap.parse_args()
    if os.path.exists(args.out) and not args.force and VERSION in onnx.load(args.out, load_external_data=False).doc_string:
        print(f"make_bert: {args.out} exists; skipping (--force to redo)")
        return 0
    model = build(args.seed)
    onnx.checker.check_model(model, full_check=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    onnx.save_model(model, args.out + ".tmp")
    os.replace(args.out + ".tmp", args.out)
    import onnxruntime as ort

    ids = np.random.default_rng(1).integers(0, VOCAB, (1, SEQ), dtype=np.int64)
    y = ort.InferenceSession(args.out, providers=["CPUExecutionProvider"]).run(None, {"input_ids": ids})[0]
    if y.shape != (1, HIDDEN) or not np.isfinite(y).all():
        raise SystemExit(f"make_bert: inference gave shape {y.shape}, finite={np.isfinite(y).all()}")
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(f"make_bert: wrote {args.out}: {len(model.graph.node)} nodes, {params:,} params; onnxruntime ran it")
    return 0


if __name__ == "__main__":
    sys.exit(main())

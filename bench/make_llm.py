#!/usr/bin/env python3
"""Writes a decoder-only transformer LLM with random weights, as torch.onnx exports a Llama.

The model is prunekit's large-model bench input (and, at `--preset tiny`, a test model). It is built
from numpy and the `onnx` package only, opset 17, IR version 8:

- input `input_ids` int64 [batch, sequence] (both dims free), output `logits` float32
  [batch, sequence, vocab];
- token embedding: `Gather` of `model.embed_tokens.weight` [vocab, hidden];
- per layer, pre-norm: RMSNorm as exporters decompose it (Pow, ReduceMean, Add eps, Sqrt,
  Reciprocal, Mul, Mul by the norm weight), attention with q/k/v/o projections (`MatMul` by a
  constant [hidden, hidden] weight, stored [in, out] as exporters transpose `nn.Linear`), heads by
  Reshape and Transpose, scores `MatMul` of two activations scaled by 1/sqrt(head dim), a causal
  mask (Shape, Gather, Range, Unsqueeze, Greater, Where) added, Softmax, the `MatMul` of the
  probabilities and v, the heads merged back; a residual Add; RMSNorm; the SiLU-gated MLP (gate and
  up `MatMul` [hidden, mlp], SiLU as Sigmoid and Mul, their product, down `MatMul` [mlp, hidden]);
  a residual Add;
- a final RMSNorm and `lm_head` (`MatMul` [hidden, vocab]).

Names follow Hugging Face's (`model.layers.3.self_attn.q_proj.weight`) and torch.onnx's node
scopes (`/model/layers.3/self_attn/q_proj/MatMul`, output `.../MatMul_output_0`). RoPE is left out.

Every weight is written to one external data file beside the model (`NAME.onnx.data`), tensor by
tensor and in chunks, each tensor's offset aligned to 64 KiB (so ONNX Runtime and prunekit can map
it), so the generator holds at most one chunk of weights in memory whatever the model's size.
Weights are float32 from a fixed seed: projections N(0, 1/fan_in) so each keeps its input's scale,
the embedding N(0, 1), norm weights 1. The RMSNorms keep activations finite at any depth.

    .venv/bin/python bench/make_llm.py --preset tiny OUT.onnx     # 658 k weights, 3 MB, < 1 s
    .venv/bin/python bench/make_llm.py --preset 1.3b               # bench/models/llm-1.3b.onnx,
                                                                   # 1.36e9 weights, 5.5 GB
    .venv/bin/python bench/make_llm.py --preset 1.3b --no-check    # skip the ONNX Runtime run

It checks the file with `onnx.checker` and runs it once in ONNX Runtime (logits must be finite)
unless `--no-check`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17
IR_VERSION = 8
ALIGN = 64 * 1024
# Elements generated and written at a time: 16 Mi float32 = 64 MiB.
CHUNK = 16 * 1024 * 1024

PRESETS = {
    # layers, hidden, heads, mlp, vocab
    "tiny": dict(layers=2, hidden=128, heads=4, mlp=352, vocab=1000),
    "1.3b": dict(layers=24, hidden=2048, heads=16, mlp=5632, vocab=32000),
}


def parameter_count(layers: int, hidden: int, mlp: int, vocab: int, **_) -> int:
    """The weights' elements: embedding, per layer 4 attention and 3 MLP projections and 2 norm
    weights, the final norm and lm_head (the few scalar constants are not counted here)."""
    per_layer = 4 * hidden * hidden + 3 * hidden * mlp + 2 * hidden
    return vocab * hidden + layers * per_layer + hidden + hidden * vocab


class Writer:
    """Builds the graph; weights go straight to the external data file."""

    def __init__(self, data_path: str, seed: int):
        self.rng = np.random.default_rng(seed)
        self.data_name = os.path.basename(data_path)
        self.data = open(data_path, "wb")
        self.offset = 0
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.params = 0

    def close(self) -> None:
        self.data.close()

    def weight(self, name: str, shape: tuple[int, ...], std: float | None) -> str:
        """A float32 weight N(0, std²) (ones when std is None), written in chunks."""
        pad = (-self.offset) % ALIGN
        if pad:
            self.data.write(b"\0" * pad)
            self.offset += pad
        n = int(np.prod(shape))
        left = n
        while left:
            k = min(left, CHUNK)
            if std is None:
                chunk = np.ones(k, dtype=np.float32)
            else:
                chunk = self.rng.standard_normal(k, dtype=np.float32)
                chunk *= np.float32(std)
            self.data.write(chunk.astype("<f4", copy=False).tobytes())
            left -= k
        length = 4 * n
        tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(shape))
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", self.data_name), ("offset", str(self.offset)), ("length", str(length))):
            entry = tensor.external_data.add()
            entry.key = key
            entry.value = value
        self.offset += length
        self.inits.append(tensor)
        self.params += n
        return name

    def const(self, name: str, array: np.ndarray) -> str:
        """A small constant stored inline (shapes, axes, eps, the mask's fill values)."""
        self.inits.append(onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, scope: str, inputs: list[str], n_out: int = 1, **attrs) -> str:
        name = f"{scope}/{op}"
        outs = [f"{name}_output_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=name, **attrs))
        return outs[0]


def rms_norm(w: Writer, x: str, scope: str, weight_name: str, hidden: int) -> str:
    """RMSNorm as torch.onnx decomposes it: x · 1/sqrt(mean(x²) + eps) · weight."""
    sq = w.node("Pow", scope, [x, "const.two"])
    mean = w.node("ReduceMean", scope, [sq], axes=[-1], keepdims=1)
    shifted = w.node("Add", scope, [mean, "const.eps"])
    root = w.node("Sqrt", scope, [shifted])
    inv = w.node("Reciprocal", scope, [root])
    normed = w.node("Mul", scope, [x, inv])
    gain = w.weight(weight_name, (hidden,), None)
    return w.node("Mul", scope + "/scale", [normed, gain])


def linear(w: Writer, x: str, scope: str, weight_name: str, fan_in: int, fan_out: int) -> str:
    weight = w.weight(weight_name, (fan_in, fan_out), 1.0 / np.sqrt(fan_in))
    return w.node("MatMul", scope, [x, weight])


def causal_mask(w: Writer) -> str:
    """[sequence, sequence]: 0 on and below the diagonal, -1e9 above it, from the input's length."""
    scope = "/model/mask"
    shape = w.node("Shape", scope, ["input_ids"])
    seq = w.node("Gather", scope, [shape, "const.one_index"], axis=0)
    pos = w.node("Range", scope, ["const.zero_index", seq, "const.one_index"])
    row = w.node("Unsqueeze", scope + "/row", [pos, "const.axis1"])
    col = w.node("Unsqueeze", scope + "/col", [pos, "const.axis0"])
    future = w.node("Greater", scope, [col, row])
    return w.node("Where", scope, [future, "const.mask_fill", "const.zero"])


def attention(w: Writer, x: str, i: int, hidden: int, heads: int, mask: str) -> str:
    scope = f"/model/layers.{i}/self_attn"
    prefix = f"model.layers.{i}.self_attn"
    head_dim = hidden // heads
    q = linear(w, x, f"{scope}/q_proj", f"{prefix}.q_proj.weight", hidden, hidden)
    k = linear(w, x, f"{scope}/k_proj", f"{prefix}.k_proj.weight", hidden, hidden)
    v = linear(w, x, f"{scope}/v_proj", f"{prefix}.v_proj.weight", hidden, hidden)
    # [batch, seq, hidden] -> [batch, heads, seq, head_dim]; k as [batch, heads, head_dim, seq].
    q = w.node("Reshape", scope + "/q", [q, "const.heads_shape"])
    q = w.node("Transpose", scope + "/q", [q], perm=[0, 2, 1, 3])
    k = w.node("Reshape", scope + "/k", [k, "const.heads_shape"])
    k = w.node("Transpose", scope + "/k", [k], perm=[0, 2, 3, 1])
    v = w.node("Reshape", scope + "/v", [v, "const.heads_shape"])
    v = w.node("Transpose", scope + "/v", [v], perm=[0, 2, 1, 3])
    scores = w.node("MatMul", scope + "/scores", [q, k])
    scores = w.node("Mul", scope + "/scores", [scores, "const.attn_scale"])
    scores = w.node("Add", scope + "/mask", [scores, mask])
    probs = w.node("Softmax", scope, [scores], axis=-1)
    context = w.node("MatMul", scope + "/context", [probs, v])
    context = w.node("Transpose", scope + "/context", [context], perm=[0, 2, 1, 3])
    context = w.node("Reshape", scope + "/context", [context, "const.hidden_shape"])
    assert head_dim * heads == hidden
    return linear(w, context, f"{scope}/o_proj", f"{prefix}.o_proj.weight", hidden, hidden)


def mlp(w: Writer, x: str, i: int, hidden: int, inner: int) -> str:
    scope = f"/model/layers.{i}/mlp"
    prefix = f"model.layers.{i}.mlp"
    gate = linear(w, x, f"{scope}/gate_proj", f"{prefix}.gate_proj.weight", hidden, inner)
    up = linear(w, x, f"{scope}/up_proj", f"{prefix}.up_proj.weight", hidden, inner)
    # SiLU as torch.onnx writes it below opset 20: x · sigmoid(x).
    sig = w.node("Sigmoid", scope + "/act_fn", [gate])
    act = w.node("Mul", scope + "/act_fn", [gate, sig])
    both = w.node("Mul", scope, [act, up])
    return linear(w, both, f"{scope}/down_proj", f"{prefix}.down_proj.weight", inner, hidden)


def build(path: str, layers: int, hidden: int, heads: int, mlp: int, vocab: int, seed: int = 0) -> int:
    """Writes the model to `path` and its weights to `path + '.data'`; returns the weights' count."""
    data_path = path + ".data"
    w = Writer(data_path, seed)
    try:
        head_dim = hidden // heads
        w.const("const.two", np.array(2.0, dtype=np.float32))
        w.const("const.eps", np.array(1e-6, dtype=np.float32))
        w.const("const.zero", np.array(0.0, dtype=np.float32))
        w.const("const.mask_fill", np.array(-1e9, dtype=np.float32))
        w.const("const.attn_scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
        w.const("const.zero_index", np.array(0, dtype=np.int64))
        w.const("const.one_index", np.array(1, dtype=np.int64))
        w.const("const.axis0", np.array([0], dtype=np.int64))
        w.const("const.axis1", np.array([1], dtype=np.int64))
        w.const("const.heads_shape", np.array([0, 0, heads, head_dim], dtype=np.int64))
        w.const("const.hidden_shape", np.array([0, 0, hidden], dtype=np.int64))

        embed = w.weight("model.embed_tokens.weight", (vocab, hidden), 1.0)
        x = w.node("Gather", "/model/embed_tokens", [embed, "input_ids"], axis=0)
        mask = causal_mask(w)
        for i in range(layers):
            scope = f"/model/layers.{i}"
            h = rms_norm(w, x, scope + "/input_layernorm", f"model.layers.{i}.input_layernorm.weight", hidden)
            x = w.node("Add", scope + "/attn_residual", [x, attention(w, h, i, hidden, heads, mask)])
            h = rms_norm(
                w, x, scope + "/post_attention_layernorm", f"model.layers.{i}.post_attention_layernorm.weight", hidden
            )
            x = w.node("Add", scope + "/mlp_residual", [x, globals()["mlp"](w, h, i, hidden, mlp)])
        x = rms_norm(w, x, "/model/norm", "model.norm.weight", hidden)
        head = w.weight("lm_head.weight", (hidden, vocab), 1.0 / np.sqrt(hidden))
        w.nodes.append(helper.make_node("MatMul", [x, head], ["logits"], name="/lm_head/MatMul"))
    finally:
        w.close()

    graph = helper.make_graph(
        w.nodes,
        "llm",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", vocab])],
        initializer=w.inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="prunekit-bench-make_llm"
    )
    model.ir_version = IR_VERSION
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(model.SerializeToString())
    os.replace(tmp, path)
    return w.params


def check(path: str, vocab: int) -> float:
    """onnx.checker on the file (external data included), then one ONNX Runtime run; returns the
    largest |logit|."""
    onnx.checker.check_model(path)
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ids = np.random.default_rng(1).integers(0, vocab, size=(2, 7), dtype=np.int64)
    (logits,) = session.run(None, {"input_ids": ids})
    if logits.shape != (2, 7, vocab):
        raise SystemExit(f"ONNX Runtime gave logits of shape {logits.shape}, not (2, 7, {vocab})")
    if not np.isfinite(logits).all():
        raise SystemExit("ONNX Runtime gave non-finite logits")
    return float(np.abs(logits).max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", help="the .onnx path (default bench/models/llm-PRESET.onnx)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-check", action="store_true", help="skip onnx.checker and the ONNX Runtime run")
    args = parser.parse_args()
    sizes = PRESETS[args.preset]
    out = args.out or os.path.join(HERE, "models", f"llm-{args.preset}.onnx")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    start = time.perf_counter()
    n = build(out, seed=args.seed, **sizes)
    assert n == parameter_count(**sizes), (n, parameter_count(**sizes))
    size = os.path.getsize(out) + os.path.getsize(out + ".data")
    print(f"wrote {out} (+ .data): {n:,} weights, {size / 1e9:.2f} GB in {time.perf_counter() - start:.1f} s")
    if not args.no_check:
        start = time.perf_counter()
        peak = check(out, sizes["vocab"])
        print(f"checked: ONNX Runtime logits finite (max |logit| {peak:.3g}) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

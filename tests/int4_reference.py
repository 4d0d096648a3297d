"""Int4 block quantization written from its definition in numpy, a transformer-like MatMul model
to quantize, and onnxruntime's own MatMulNBitsQuantizer (RTN and GPTQ) to compare with.

Shared by tests/test_int4.py and bench/int4.py. The definition (docs/analysis.md, "Int4
weight-only quantization"): a weight [K, N] is read as N rows of K, cut along K into blocks of
`block` (the last padded with zeros); a code q in 0..15 stands for (q - zero_point) * scale.
Symmetric: the value of largest magnitude m gets code 0 (scale = m / -8, zero point 8). With zero
points: [min(w, 0), max(w, 0)] spans 15 steps. Rounding to nearest, ties to even, in float32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = np.float32


def block_quantize(weight_kn: np.ndarray, block: int, symmetric: bool):
    """(codes [N, kb, block] uint8, scales [N, kb] f32, zero points [N, kb] uint8)."""
    k, n = weight_kn.shape
    kb = -(-k // block)
    w = np.zeros((n, kb * block), F32)
    w[:, :k] = weight_kn.T.astype(F32)
    blocks = w.reshape(n, kb, block)
    if symmetric:
        first_largest = np.abs(blocks).argmax(axis=-1)[..., None]
        extreme = np.take_along_axis(blocks, first_largest, axis=-1)[..., 0]
        scales = np.where(extreme == 0, F32(1), extreme / F32(-8)).astype(F32)
        zero = np.full((n, kb), 8, np.uint8)
    else:
        low = np.minimum(blocks.min(axis=-1), F32(0))
        high = np.maximum(blocks.max(axis=-1), F32(0))
        flat = high == low
        scales = np.where(flat, F32(1), (high - low) / F32(15)).astype(F32)
        zero = np.where(flat, F32(0), np.clip(np.rint(-low / scales), 0, 15)).astype(np.uint8)
    codes = np.clip(np.rint(blocks / scales[..., None]) + zero[..., None].astype(F32), 0, 15)
    return codes.astype(np.uint8), scales, zero


def pack(codes: np.ndarray, zero: np.ndarray, symmetric: bool):
    """MatMulNBits' B [N, kb, block/2] (low nibble first), and zero points [N * ceil(kb/2)]."""
    b = (codes[..., 0::2] | (codes[..., 1::2] << 4)).astype(np.uint8)
    if symmetric:
        return b, None
    n, kb = zero.shape
    z = np.zeros((n, kb + kb % 2), np.uint8)
    z[:, :kb] = zero
    return b, (z[:, 0::2] | (z[:, 1::2] << 4)).reshape(-1).astype(np.uint8)


def dequantize(codes, scales, zero, k: int) -> np.ndarray:
    """The weight [K, N] the codes stand for."""
    n, kb, block = codes.shape
    w = (codes.astype(F32) - zero[..., None].astype(F32)) * scales[..., None]
    return w.reshape(n, kb * block)[:, :k].T


def make_model(path: Path, d_model: int = 192, d_ff: int = 768, seed: int = 0) -> dict:
    """A transformer MLP block: x [batch, seq, d] -> q-like projection with bias -> up (GELU)
    -> down, plus the residual; MatMul weights stored [K, N] as exporters write them, a few
    input channels with outlier weights as LLMs have. Returns the weights by name."""
    rng = np.random.default_rng(seed)

    def weight(k, n):
        w = rng.standard_normal((k, n)).astype(F32) / np.sqrt(k).astype(F32)
        w[rng.choice(k, max(1, k // 64), replace=False)] *= F32(6)
        return w

    w = {
        "proj.weight": weight(d_model, d_model),
        "proj.bias": (rng.standard_normal(d_model) * 0.1).astype(F32),
        "up.weight": weight(d_model, d_ff),
        "down.weight": weight(d_ff, d_model),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "proj.weight"], ["proj"], name="proj/MatMul"),
        helper.make_node("Add", ["proj", "proj.bias"], ["proj_b"], name="proj/Add"),
        helper.make_node("MatMul", ["proj_b", "up.weight"], ["up"], name="up/MatMul"),
        helper.make_node("Gelu", ["up"], ["act"], name="act/Gelu"),
        helper.make_node("MatMul", ["act", "down.weight"], ["down"], name="down/MatMul"),
        helper.make_node("Add", ["x", "down"], ["out"], name="residual/Add"),
    ]
    graph = helper.make_graph(
        nodes, "int4_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", d_model])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", "seq", d_model])],
        [numpy_helper.from_array(v, k) for k, v in w.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)],
                              producer_name="prunekit-tests")
    model.ir_version = 10
    onnx.save(model, str(path))
    return w


def samples(n: int, seq: int, d_model: int, seed: int) -> np.ndarray:
    """Inputs with correlated features and a few large channels, as activations are."""
    # The features' correlation is the model's, the same for every set of samples.
    mix = np.random.default_rng(1234).standard_normal((d_model, d_model)).astype(F32)
    mix /= np.sqrt(d_model).astype(F32)
    x = np.random.default_rng(seed).standard_normal((n, seq, d_model)).astype(F32) @ mix
    x[..., : max(1, d_model // 32)] *= F32(8)
    return x.astype(F32)


def ort_quantize(model: Path, out: Path, block: int, symmetric: bool,
                 calibration: np.ndarray | None = None) -> None:
    """onnxruntime's MatMulNBitsQuantizer: RTN (its default config) or, given calibration
    inputs, GPTQ."""
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig, GPTQWeightOnlyQuantConfig, MatMulNBitsQuantizer)

    if calibration is None:
        config = DefaultWeightOnlyQuantConfig(block_size=block, is_symmetric=symmetric)
    else:
        class Reader:
            def __init__(self):
                # Bare arrays, not {name: array}: onnxruntime's GPTQ converts a dict's values
                # through torch, which this project does not install; one input needs no name.
                self.items = [calibration[i:i + 1] for i in range(len(calibration))]

            def get_next(self):
                return self.items.pop(0) if self.items else None

            def __iter__(self):
                while self.items:
                    yield self.items.pop(0)

        config = GPTQWeightOnlyQuantConfig(calibration_data_reader=Reader())
    q = MatMulNBitsQuantizer(str(model), block_size=block, is_symmetric=symmetric,
                             algo_config=config)
    q.process()
    q.model.save_model_to_file(str(out), False)


def run(model: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def nmse(got: np.ndarray, want: np.ndarray) -> float:
    """Squared error over the reference's energy."""
    return float(((got.astype(np.float64) - want) ** 2).sum() / (want.astype(np.float64) ** 2).sum())

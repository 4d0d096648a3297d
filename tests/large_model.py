"""A generated model over protobuf's 2 GB limit, for the large-model test: made once with numpy,
tensor by tensor, into ~/.cache/prunekit/large (outside the clone), and reused.

The graph is a wide MLP classifier, input[batch, 1024] -> Gemm(1024 -> HIDDEN) -> Relu ->
Gemm(HIDDEN -> 1024) -> Relu -> MatMul(1024 -> 16) -> logits: two float32 weights of about 1.08 GB
each (2.16 GB in all), stored with ONNX's external data layout (one data file beside the model).
Its hidden channels can be removed (a structured export), and every layer's input is small enough
for calibration and quantization to stay quick.

Run it directly to make the model: `.venv/bin/python tests/large_model.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from onnx.external_data_helper import set_external_data

WIDTH = 1024
# 2 * 1024 * HIDDEN * 4 bytes just over 2 GiB (2,147,483,648): 2,164,260,864.
HIDDEN = 258 * 1024
CLASSES = 16
# The version is in the name: a change to the graph makes a new file, not a stale reuse.
CACHE = Path(os.environ.get("PRUNEKIT_CACHE", Path.home() / ".cache" / "prunekit")) / "large"
MODEL = CACHE / "wide_mlp_v1.onnx"
ALIGN = 4096
# Rows generated at a time: the generator never holds a whole weight (64 MB at a time).
CHUNK_ROWS = 16384


def _write_tensor(data, name: str, shape: tuple[int, ...], scale: float, rng,
                  location: str) -> TensorProto:
    """Appends a float32 tensor of uniform values of standard deviation `scale` to the open data
    file, row chunk by row chunk, and returns its TensorProto pointing there."""
    pad = (-data.tell()) % ALIGN
    data.write(b"\0" * pad)
    offset = data.tell()
    rows, cols = shape[0], int(np.prod(shape[1:])) if len(shape) > 1 else 1
    for start in range(0, rows, CHUNK_ROWS):
        n = min(CHUNK_ROWS, rows - start)
        block = rng.random((n, cols), dtype=np.float32)
        block -= np.float32(0.5)
        block *= np.float32(scale * np.sqrt(12))
        data.write(block.tobytes())
    tensor = TensorProto()
    tensor.name = name
    tensor.data_type = TensorProto.FLOAT
    tensor.dims.extend(shape)
    tensor.raw_data = b""
    set_external_data(tensor, location=location, offset=offset, length=rows * cols * 4)
    tensor.ClearField("raw_data")
    return tensor


def _small(name: str, values: np.ndarray) -> TensorProto:
    return onnx.numpy_helper.from_array(values.astype(np.float32), name)


def make(path: Path = MODEL) -> Path:
    """Writes the model and its data file (to temporary names, renamed when complete)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    location = path.name + ".data"
    tmp_data = path.parent / f".{location}.{os.getpid()}.tmp"
    tmp_model = path.parent / f".{path.name}.{os.getpid()}.tmp"
    rng = np.random.default_rng(19)
    try:
        with open(tmp_data, "wb") as data:
            w1 = _write_tensor(data, "fc1.weight", (HIDDEN, WIDTH), 1 / np.sqrt(WIDTH), rng,
                               location)
            w2 = _write_tensor(data, "fc2.weight", (WIDTH, HIDDEN), 1 / np.sqrt(HIDDEN), rng,
                               location)
    except BaseException:
        tmp_data.unlink(missing_ok=True)
        raise
    b1 = _small("fc1.bias", rng.standard_normal(HIDDEN) * 0.01)
    b2 = _small("fc2.bias", rng.standard_normal(WIDTH) * 0.01)
    w3 = _small("head.weight", rng.standard_normal((WIDTH, CLASSES)) / np.sqrt(WIDTH) * 4)
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.weight", "fc1.bias"], ["h1"], name="fc1",
                         transB=1),
        helper.make_node("Relu", ["h1"], ["a1"], name="relu1"),
        helper.make_node("Gemm", ["a1", "fc2.weight", "fc2.bias"], ["h2"], name="fc2",
                         transB=1),
        helper.make_node("Relu", ["h2"], ["a2"], name="relu2"),
        helper.make_node("MatMul", ["a2", "head.weight"], ["logits"], name="head"),
    ]
    graph = helper.make_graph(
        nodes, "wide_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", WIDTH])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])],
        initializer=[w1, b1, w2, b2, w3])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    tmp_model.write_bytes(model.SerializeToString())
    os.replace(tmp_data, path.parent / location)
    os.replace(tmp_model, path)
    return path


def wide_mlp() -> Path:
    """The cached model, made first if it is missing or incomplete."""
    data = MODEL.parent / (MODEL.name + ".data")
    expected = 2 * HIDDEN * WIDTH * 4
    if not (MODEL.is_file() and data.is_file() and data.stat().st_size >= expected):
        make(MODEL)
    return MODEL


def samples(n: int, seed: int = 0) -> np.ndarray:
    """Inputs the model is checked on: non-negative, as after a Relu of the layer before."""
    return np.abs(np.random.default_rng(seed).standard_normal((n, WIDTH), dtype=np.float32))


if __name__ == "__main__":
    print(wide_mlp())

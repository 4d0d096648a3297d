#!/usr/bin/env python3
"""Writes bench/models/resnet50.onnx: a ResNet-50 (v1, stride on the 3x3 conv) with random weights.

The model is the benchmark input for bench/analysis.py. It is built from numpy and the `onnx` package
only (no torch): opset 17, IR version 8, input `input` of shape [batch, 3, 224, 224] with a symbolic
batch dimension, output `output` [batch, 1000]. BatchNormalization nodes are kept (not folded into
the convolutions), and initializers are named as PyTorch names them (`layer1.0.conv1.weight`,
`layer1.0.bn1.running_var`, `fc.weight`, ...). Weights are float32, He-normal, from a fixed seed, so
the file is the same on every run.

    .venv/bin/python bench/make_resnet50.py            # skips when the file exists
    .venv/bin/python bench/make_resnet50.py --force    # regenerates
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "models", "resnet50.onnx")
# Bumped whenever the weights change, so an older generated file is made again.
VERSION = "v2"

OPSET = 17
IR_VERSION = 8
STAGES = [(64, 3), (128, 4), (256, 6), (512, 3)]  # (width, blocks); stride 2 from stage 2 on
EXPANSION = 4
NUM_CLASSES = 1000


class Builder:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def _init(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def _node(self, op: str, path: str, inputs: list[str], **attrs) -> str:
        # PyTorch-exporter-like names: node "/layer1/layer1.0/conv1/Conv", output ".../Conv_output_0".
        name = f"{path}/{op}"
        out = f"{name}_output_0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    @staticmethod
    def _path(module: str) -> str:
        # "layer1.0.conv1" -> "/layer1/layer1.0/conv1", as torch.onnx.export scopes it
        parts = module.split(".")
        scopes = []
        for i, part in enumerate(parts):
            scopes.append(".".join(parts[: i + 1]) if part.isdigit() else part)
        return "/" + "/".join(scopes)

    def conv(self, x: str, module: str, c_in: int, c_out: int, k: int, stride: int) -> str:
        fan_in = c_in * k * k
        w = self.rng.standard_normal((c_out, c_in, k, k), dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        self._init(f"{module}.weight", w)
        pad = k // 2
        return self._node(
            "Conv",
            self._path(module),
            [x, f"{module}.weight"],
            dilations=[1, 1],
            group=1,
            kernel_shape=[k, k],
            pads=[pad, pad, pad, pad],
            strides=[stride, stride],
        )

    def bn(self, x: str, module: str, c: int, gamma: tuple[float, float] = (0.8, 1.2)) -> str:
        rng = self.rng
        self._init(f"{module}.weight", rng.uniform(*gamma, c))
        self._init(f"{module}.bias", rng.normal(0.0, 0.05, c))
        self._init(f"{module}.running_mean", rng.normal(0.0, 0.1, c))
        self._init(f"{module}.running_var", rng.uniform(0.5, 1.5, c))  # strictly positive
        return self._node(
            "BatchNormalization",
            self._path(module),
            [x, f"{module}.weight", f"{module}.bias", f"{module}.running_mean", f"{module}.running_var"],
            epsilon=1e-5,
            momentum=0.9,
        )

    def relu(self, x: str, path: str) -> str:
        return self._node("Relu", path, [x])

    def bottleneck(self, x: str, module: str, c_in: int, width: int, stride: int, project: bool) -> str:
        c_out = width * EXPANSION
        p = self._path(module)
        y = self.relu(self.bn(self.conv(x, f"{module}.conv1", c_in, width, 1, 1), f"{module}.bn1", width), f"{p}/relu")
        y = self.relu(
            self.bn(self.conv(y, f"{module}.conv2", width, width, 3, stride), f"{module}.bn2", width), f"{p}/relu_1"
        )
        # A small scale on the residual branch's last BN (as trained ResNets end up, and as
        # zero-init-residual training starts): without it the 16 residual additions grow the
        # activations ~250x and the logits into the thousands, where softmax is one-hot and a
        # one-shot loss profile measures nothing.
        y = self.bn(self.conv(y, f"{module}.conv3", width, c_out, 1, 1), f"{module}.bn3", c_out, gamma=(0.1, 0.3))
        if project:
            sc = self.conv(x, f"{module}.downsample.0", c_in, c_out, 1, stride)
            sc = self.bn(sc, f"{module}.downsample.1", c_out)
        else:
            sc = x
        y = self._node("Add", p, [y, sc])
        return self.relu(y, f"{p}/relu_2")


def build(seed: int) -> onnx.ModelProto:
    b = Builder(seed)
    x = "input"
    x = b.relu(b.bn(b.conv(x, "conv1", 3, 64, 7, 2), "bn1", 64), "/relu")
    x = b._node("MaxPool", "/maxpool", [x], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    c_in = 64
    for s, (width, blocks) in enumerate(STAGES):
        for i in range(blocks):
            stride = 2 if (s > 0 and i == 0) else 1
            x = b.bottleneck(x, f"layer{s + 1}.{i}", c_in, width, stride, project=(i == 0))
            c_in = width * EXPANSION
    x = b._node("GlobalAveragePool", "/avgpool", [x])
    x = b._node("Flatten", "", [x], axis=1)
    bound = 1.0 / np.sqrt(c_in)
    b._init("fc.weight", b.rng.uniform(-bound, bound, (NUM_CLASSES, c_in)))
    b._init("fc.bias", b.rng.uniform(-bound, bound, NUM_CLASSES))
    gemm = helper.make_node("Gemm", [x, "fc.weight", "fc.bias"], ["output"], name="/fc/Gemm", alpha=1.0, beta=1.0, transB=1)
    b.nodes.append(gemm)

    graph = helper.make_graph(
        b.nodes,
        "resnet50",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", NUM_CLASSES])],
        initializer=b.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="prunekit-bench",
        producer_version="1",
        doc_string=f"ResNet-50 v1 with random weights (seed {seed}), made by bench/make_resnet50.py {VERSION}",
    )
    model.ir_version = IR_VERSION
    return model


def verify(path: str) -> None:
    onnx.checker.check_model(path, full_check=True)
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal((2, 3, 224, 224), dtype=np.float32)
    (y,) = sess.run(None, {"input": x})
    if y.shape != (2, NUM_CLASSES) or not np.isfinite(y).all():
        raise SystemExit(f"make_resnet50: inference gave shape {y.shape}, finite={np.isfinite(y).all()}")
    print(f"make_resnet50: checker ok; onnxruntime {ort.__version__} ran batch 2 -> {list(y.shape)}, finite")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output path (default: bench/models/resnet50.onnx)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="regenerate even if the file exists")
    ap.add_argument("--no-verify", action="store_true", help="skip the checker and the onnxruntime run")
    args = ap.parse_args()

    if os.path.exists(args.out) and not args.force and VERSION in onnx.load(args.out, load_external_data=False).doc_string:
        print(f"make_resnet50: {args.out} exists ({os.path.getsize(args.out) / 1e6:.1f} MB); skipping (--force to redo)")
        return 0

    t0 = time.perf_counter()
    model = build(args.seed)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    onnx.save_model(model, tmp)
    os.replace(tmp, args.out)
    print(
        f"make_resnet50: wrote {args.out}: {len(model.graph.node)} nodes, {len(model.graph.initializer)} "
        f"initializers, {params:,} params, {os.path.getsize(args.out) / 1e6:.1f} MB "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    if not args.no_verify:
        verify(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

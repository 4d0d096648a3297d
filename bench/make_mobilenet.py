#!/usr/bin/env python3
"""Writes bench/models/mobilenet.onnx: a MobileNet (v1, width 1.0, 224x224) with random weights.

The depthwise-separable bench model of bench/sparse_engine.py: a 3x3 stride-2 convolution, then 13
blocks of a depthwise 3x3 convolution (group = channels) and a pointwise 1x1 convolution, each
followed by BatchNormalization and ReLU, global average pooling and a 1000-way Gemm. Built from numpy
and `onnx` only, with the ResNet-50 generator's builder (same node and initializer names as
torch.onnx.export gives, He-normal weights from a fixed seed, BatchNormalization kept): opset 17, IR
version 8, input `input` [batch, 3, 224, 224], output `output` [batch, 1000]. The weights are not
trained; only timings mean anything.

    .venv/bin/python bench/make_mobilenet.py            # skips when the file exists
    .venv/bin/python bench/make_mobilenet.py --force    # regenerates
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_resnet50 import IR_VERSION, OPSET, Builder  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "models", "mobilenet.onnx")
VERSION = "v1"
NUM_CLASSES = 1000
# (output channels, stride) of the 13 depthwise-separable blocks of MobileNet v1.
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


class MobileNetBuilder(Builder):
    def depthwise(self, x: str, module: str, c: int, stride: int) -> str:
        # fan-in of a depthwise 3x3 is 9: He-normal on that keeps the activations' scale.
        w = self.rng.standard_normal((c, 1, 3, 3), dtype=np.float32) * np.float32(np.sqrt(2.0 / 9))
        self._init(f"{module}.weight", w)
        return self._node("Conv", self._path(module), [x, f"{module}.weight"], dilations=[1, 1], group=c,
                          kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[stride, stride])


def build(seed: int) -> onnx.ModelProto:
    b = MobileNetBuilder(seed)
    x = b.relu(b.bn(b.conv("input", "conv1", 3, 32, 3, 2), "bn1", 32), "/relu")
    c_in = 32
    for i, (c_out, stride) in enumerate(BLOCKS):
        m = f"blocks.{i}"
        p = b._path(m)
        x = b.relu(b.bn(b.depthwise(x, f"{m}.dw", c_in, stride), f"{m}.dw_bn", c_in), f"{p}/relu")
        x = b.relu(b.bn(b.conv(x, f"{m}.pw", c_in, c_out, 1, 1), f"{m}.pw_bn", c_out), f"{p}/relu_1")
        c_in = c_out
    x = b._node("GlobalAveragePool", "/avgpool", [x])
    x = b._node("Flatten", "", [x], axis=1)
    bound = 1.0 / np.sqrt(c_in)
    b._init("fc.weight", b.rng.uniform(-bound, bound, (NUM_CLASSES, c_in)))
    b._init("fc.bias", b.rng.uniform(-bound, bound, NUM_CLASSES))
    b.nodes.append(helper.make_node("Gemm", [x, "fc.weight", "fc.bias"], ["output"], name="/fc/Gemm", transB=1))
    graph = helper.make_graph(
        b.nodes, "mobilenet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", NUM_CLASSES])],
        initializer=b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="prunekit-bench",
                              producer_version="1",
                              doc_string=f"MobileNet v1 with random weights (seed {seed}), made by bench/make_mobilenet.py {VERSION}")
    model.ir_version = IR_VERSION
    return model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--force", action="store_true", help="regenerate even if the file exists")
    args = ap.parse_args()
    if os.path.exists(args.out) and not args.force and VERSION in onnx.load(args.out, load_external_data=False).doc_string:
        print(f"make_mobilenet: {args.out} exists; skipping (--force to redo)")
        return 0
    model = build(args.seed)
    onnx.checker.check_model(model, full_check=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    onnx.save_model(model, args.out + ".tmp")
    os.replace(args.out + ".tmp", args.out)
    import onnxruntime as ort

    y = ort.InferenceSession(args.out, providers=["CPUExecutionProvider"]).run(
        None, {"input": np.random.default_rng(1).standard_normal((1, 3, 224, 224), dtype=np.float32)})[0]
    if y.shape != (1, NUM_CLASSES) or not np.isfinite(y).all():
        raise SystemExit(f"make_mobilenet: inference gave shape {y.shape}, finite={np.isfinite(y).all()}")
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(f"make_mobilenet: wrote {args.out}: {len(model.graph.node)} nodes, {params:,} params; onnxruntime ran it")
    return 0


if __name__ == "__main__":
    sys.exit(main())

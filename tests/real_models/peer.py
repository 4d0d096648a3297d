"""The peer the int8 figures are compared with: onnxruntime's own static quantizer
(`quantize_static`), set up as its documentation advises for a CNN on x86 and at its best for
these models: the model converted to opset 13 where it is older (per-channel DequantizeLinear
needs 13), `quant_pre_process`, then QDQ with uint8 activations and int8 weights, per channel
unless asked otherwise, calibrated on the given samples in batches of `batch`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

METHODS = [CalibrationMethod.MinMax, CalibrationMethod.Entropy, CalibrationMethod.Percentile]


class _Batches(CalibrationDataReader):
    def __init__(self, input_name: str, samples: np.ndarray, batch: int):
        self.batches = iter([{input_name: samples[i:i + batch]} for i in range(0, len(samples), batch)])

    def get_next(self):
        return next(self.batches, None)


def quantize(model_file: Path, out: Path, samples: np.ndarray, input_name: str, batch: int,
             method: CalibrationMethod = CalibrationMethod.MinMax, per_channel: bool = True,
             upgrade: bool = True) -> None:
    """onnxruntime's static int8 model of `model_file`, written to `out`."""
    with tempfile.TemporaryDirectory() as tmp:
        source = model_file
        if upgrade:
            model = onnx.load(str(model_file))
            default = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
            if default < 13:
                source = Path(tmp) / "opset13.onnx"
                onnx.save(version_converter.convert_version(model, 13), str(source))
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(out), _Batches(input_name, samples, batch),
                        quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=method)

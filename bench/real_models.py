#!/usr/bin/env python3
"""int8 on real trained OCR models: prunekit's static int8 against onnxruntime's `quantize_static`,
measured as the character error rate (CER) on text rendered by the tests' own renderer
(tests/real_models/ocr.py: strings from the model's character set, DejaVu Sans, the string is the
label), from the models `make setup-models` keeps in ~/.cache/prunekit/models.

For each OCR model:

* float: the model as shipped.
* prunekit: `prunekit-kernel run 'load MODEL DIMS' 'export model OUT --quantize static
  --calibration-data CAL.npz'` on the rendered calibration samples and on generated samples (no
  --calibration-data); the first line of its output says whether the written model still agrees
  with the original.
* onnxruntime: the model upgraded to opset 13 where it is older (per-channel DequantizeLinear needs
  13), `quant_pre_process`, then `quantize_static(QDQ, per_channel=True, QUInt8 activations, QInt8
  weights)` with each calibration method (MinMax, Entropy, Percentile) on the same samples; the
  best is reported with the others beside it.

    .venv/bin/python bench/real_models.py [--samples 200] [--json bench/out/real_models.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import version_converter
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import real_models  # noqa: E402
from real_models import ocr  # noqa: E402

KERNEL = REPO / "target" / "release" / "prunekit-kernel"
CALIBRATION_SAMPLES = 32

# (model, its load flags for prunekit, the batch the eval runs in)
MODELS = [
    (ocr.ddddocr_common, "--dim image_width=192", 1),
    (ocr.ppocr_rec, "--input x=8,3,48,192", 8),
]


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def prunekit_int8(model_file: Path, load: str, out: Path, npz: Path | None) -> tuple[str | None, float, list[str]]:
    """prunekit's static int8 model: (None or the error sentence, seconds, notes)."""
    command = f"export model {out.name} --quantize static"
    if npz is not None:
        command += f" --calibration-data {npz.name}"
    start = time.perf_counter()
    proc = subprocess.run([str(KERNEL), "run", "--format", "json", f"load {model_file.name} {load}", command],
                          cwd=model_file.parent, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        return proc.stderr.strip().removeprefix("prunekit: "), seconds, []
    result = json.loads(proc.stdout.splitlines()[-1])
    return None, seconds, [result["agreement"]["verdict"], *result["quantization"]["notes"]]


def ort_int8(model_file: Path, out: Path, calibration: np.ndarray, input_name: str, batch: int,
             method: CalibrationMethod) -> float:
    """onnxruntime's static QDQ per-channel int8 model; the seconds it took."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model = onnx.load(str(model_file))
        default = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        if default < 13:
            model = version_converter.convert_version(model, 13)
        upgraded = Path(tmp) / "opset13.onnx"
        onnx.save(model, str(upgraded))
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(upgraded), str(pre), skip_symbolic_shape=True)

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.batches = iter([{input_name: calibration[i:i + batch]}
                                     for i in range(0, len(calibration), batch)])

            def get_next(self):
                return next(self.batches, None)

        quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=method)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="rendered strings the CER is measured on")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if real_models.missing():
        sys.exit(real_models.MISSING.format(where=real_models.MODELS))
    if not KERNEL.is_file():
        sys.exit("target/release/prunekit-kernel is missing: run `make release` first")

    report = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
              "onnxruntime": ort.__version__, "samples": args.samples, "models": []}
    for make, load, batch in MODELS:
        model = make()
        texts = ocr.labels(model, args.samples, seed=1)
        x = ocr.images(model, texts)
        calibration = ocr.images(model, ocr.labels(model, CALIBRATION_SAMPLES, seed=2))

        def cer_of(path: Path) -> float:
            return ocr.cer(texts, ocr.read(session(path), model, x, batch))

        row: dict = {"model": model.file, "float_cer": cer_of(real_models.path(model.file)), "prunekit": [],
                     "onnxruntime": []}
        print(f"{model.file}: float CER {row['float_cer']:.2%} on {len(texts)} rendered strings", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            local = folder / model.file
            local.write_bytes(real_models.path(model.file).read_bytes())
            np.savez(folder / "cal.npz", **{model.input: calibration})
            for label, npz in [("rendered", folder / "cal.npz"), ("generated", None)]:
                samples = CALIBRATION_SAMPLES if npz else 128
                out = folder / f"prunekit-{label}.onnx"
                error, seconds, notes = prunekit_int8(local, load, out, npz)
                entry = {"calibration": f"{samples} {label}", "seconds": round(seconds, 1), "notes": notes}
                if error:
                    entry["error"] = error
                    print(f"  prunekit int8 ({entry['calibration']}): fails: {error}", flush=True)
                else:
                    entry["cer"] = cer_of(out)
                    print(f"  prunekit int8 ({entry['calibration']}): CER {entry['cer']:.2%} ({seconds:.1f} s); "
                          f"{notes[0]}", flush=True)
                row["prunekit"].append(entry)
            sets = [(CALIBRATION_SAMPLES, calibration)]
            for count, samples in sets:
                for method in (CalibrationMethod.MinMax, CalibrationMethod.Entropy, CalibrationMethod.Percentile):
                    out = folder / f"ort-{count}-{method.name}.onnx"
                    entry = {"calibration": f"{count} rendered", "method": method.name}
                    try:
                        entry["seconds"] = round(ort_int8(local, out, samples, model.input, batch, method), 1)
                        entry["cer"] = cer_of(out)
                        print(f"  onnxruntime int8 ({count} rendered, {method.name}): CER {entry['cer']:.2%} "
                              f"({entry['seconds']:.1f} s)", flush=True)
                    except Exception as e:  # the quantizer's own failure is a figure too
                        entry["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
                        print(f"  onnxruntime int8 ({count} rendered, {method.name}): fails: {entry['error']}",
                              flush=True)
                    row["onnxruntime"].append(entry)
        report["models"].append(row)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

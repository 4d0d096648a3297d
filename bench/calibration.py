#!/usr/bin/env python3
"""Calibration methods on real trained OCR models: prunekit's static int8 calibrated by min-max,
percentiles (99.99) and the entropy (KL divergence) threshold search, against onnxruntime's
`quantize_static` with CalibrationMethod.MinMax, Percentile and Entropy (its defaults for each),
measured as the character error rate (CER) on text rendered by the tests' own renderer
(tests/real_models/ocr.py), from the models `make setup-models` keeps in ~/.cache/prunekit/models.

Both tools quantize the same way: QDQ, int8 weights with one scale per tensor (`--per-tensor`;
`per_channel=False`: both models are opset 12, which predates per-channel DequantizeLinear, and no
opset upgrade is done here), uint8 activations, calibrated on the same 32 rendered strings (other
strings than the 200 the CER is measured on).  Then prunekit's quantization loss profile
(`profile loss --quantization --data CAL.npz`) on the same calibration samples, which measures the
three methods on the whole model in int8 and picks one: is its pick the one with the best CER?

    .venv/bin/python bench/calibration.py [--samples 200] [--json bench/out/calibration.json]
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
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import real_models  # noqa: E402
from real_models import ocr  # noqa: E402

KERNEL = REPO / "target" / "release" / "prunekit-kernel"
# The calibrators' own sessions warn on ddddocr's declared output shape at every run.
ort.set_default_logger_severity(3)
CALIBRATION_SAMPLES = 32
PRUNEKIT_METHODS = ["minmax", "percentile", "entropy"]
ORT_METHODS = [CalibrationMethod.MinMax, CalibrationMethod.Percentile, CalibrationMethod.Entropy]

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


def kernel(folder: Path, *commands: str) -> dict:
    """The last JSON result of `prunekit-kernel run --format json COMMANDS` in folder."""
    proc = subprocess.run([str(KERNEL), "run", "--format", "json", *commands], cwd=folder,
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().removeprefix("prunekit: "))
    return json.loads(proc.stdout.splitlines()[-1])


def ort_int8(model_file: Path, out: Path, calibration: np.ndarray, input_name: str, batch: int,
             method: CalibrationMethod) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(model_file), str(pre), skip_symbolic_shape=True)

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.batches = iter([{input_name: calibration[i:i + batch]}
                                     for i in range(0, len(calibration), batch)])

            def get_next(self):
                return next(self.batches, None)

        quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=False,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=method)


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
              "onnxruntime": ort.__version__, "samples": args.samples,
              "calibration_samples": CALIBRATION_SAMPLES, "models": []}
    for make, load, batch in MODELS:
        model = make()
        texts = ocr.labels(model, args.samples, seed=1)
        x = ocr.images(model, texts)
        calibration = ocr.images(model, ocr.labels(model, CALIBRATION_SAMPLES, seed=2))

        def cer_of(path: Path) -> float:
            return ocr.cer(texts, ocr.read(session(path), model, x, batch))

        row: dict = {"model": model.file, "float_cer": cer_of(real_models.path(model.file)),
                     "prunekit": {}, "onnxruntime": {}}
        print(f"{model.file}: float CER {row['float_cer']:.2%} on {len(texts)} rendered strings", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            local = folder / model.file
            local.write_bytes(real_models.path(model.file).read_bytes())
            np.savez(folder / "cal.npz", **{model.input: calibration})
            loaded = f"load {model.file} {load}"
            for method in PRUNEKIT_METHODS:
                out = folder / f"prunekit-{method}.onnx"
                start = time.perf_counter()
                try:
                    kernel(folder, loaded, f"export model {out.name} --quantize static --per-tensor "
                                           f"--calibration {method} --calibration-data cal.npz")
                    entry = {"cer": cer_of(out), "seconds": round(time.perf_counter() - start, 1)}
                    print(f"  prunekit {method}: CER {entry['cer']:.2%} ({entry['seconds']} s)", flush=True)
                except RuntimeError as e:
                    entry = {"error": str(e)}
                    print(f"  prunekit {method}: fails: {e}", flush=True)
                row["prunekit"][method] = entry
            start = time.perf_counter()
            profile = kernel(folder, loaded, "profile loss --quantization --per-tensor --data cal.npz")
            q = profile["quantization"]
            row["profile"] = {
                "metric": q["metric"],
                "measured": {c["calibration"]["method"]: c["value"] for c in q["calibrations"]},
                "best": q["best_calibration"]["method"],
                "seconds": round(time.perf_counter() - start, 1),
            }
            print(f"  prunekit profile ({row['profile']['seconds']} s): {q['metric']} "
                  + ", ".join(f"{m} {v:.4g}" for m, v in row["profile"]["measured"].items())
                  + f"; picks {row['profile']['best']}", flush=True)
            for method in ORT_METHODS:
                out = folder / f"ort-{method.name}.onnx"
                start = time.perf_counter()
                try:
                    ort_int8(local, out, calibration, model.input, batch, method)
                    entry = {"cer": cer_of(out), "seconds": round(time.perf_counter() - start, 1)}
                    print(f"  onnxruntime {method.name}: CER {entry['cer']:.2%} ({entry['seconds']} s)",
                          flush=True)
                except Exception as e:  # the quantizer's own failure is a figure too
                    entry = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"}
                    print(f"  onnxruntime {method.name}: fails: {entry['error']}", flush=True)
                row["onnxruntime"][method.name] = entry
        report["models"].append(row)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

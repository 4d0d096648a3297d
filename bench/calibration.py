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
The models and samples are set up as bench/real_models.py sets them up (bench/ocr_setup.py).

    .venv/bin/python bench/calibration.py [--samples 200] [--json bench/out/calibration.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import onnxruntime as ort
from onnxruntime.quantization import CalibrationMethod

from ocr_setup import CALIBRATION_SAMPLES, benches, kernel, peer, require

PRUNEKIT_METHODS = ["minmax", "percentile", "entropy"]
ORT_METHODS = [CalibrationMethod.MinMax, CalibrationMethod.Percentile, CalibrationMethod.Entropy]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="rendered strings the CER is measured on")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    require()

    report = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
              "onnxruntime": ort.__version__, "samples": args.samples,
              "calibration_samples": CALIBRATION_SAMPLES, "models": []}
    for bench in benches(args.samples):
        row: dict = {"model": bench.model.file, "float_cer": bench.measure(bench.local)["cer"],
                     "prunekit": {}, "onnxruntime": {}}
        print(f"{bench.model.file}: float CER {row['float_cer']:.2%} on {len(bench.texts)} rendered strings",
              flush=True)
        for method in PRUNEKIT_METHODS:
            out = bench.folder / f"prunekit-{method}.onnx"
            start = time.perf_counter()
            try:
                kernel(bench.folder, bench.loaded, f"export model {out.name} --quantize static --per-tensor "
                                                   f"--calibration {method} --calibration-data cal.npz")
                entry = {"cer": bench.measure(out)["cer"], "seconds": round(time.perf_counter() - start, 1)}
                print(f"  prunekit {method}: CER {entry['cer']:.2%} ({entry['seconds']} s)", flush=True)
            except RuntimeError as e:
                entry = {"error": str(e)}
                print(f"  prunekit {method}: fails: {e}", flush=True)
            row["prunekit"][method] = entry
        start = time.perf_counter()
        profile = kernel(bench.folder, bench.loaded, "profile loss --quantization --per-tensor --data cal.npz")
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
            out = bench.folder / f"ort-{method.name}.onnx"
            start = time.perf_counter()
            try:
                peer.quantize(bench.local, out, bench.calibration, bench.model.input, bench.batch, method,
                              per_channel=False, upgrade=False)
                entry = {"cer": bench.measure(out)["cer"], "seconds": round(time.perf_counter() - start, 1)}
                print(f"  onnxruntime {method.name}: CER {entry['cer']:.2%} ({entry['seconds']} s)", flush=True)
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

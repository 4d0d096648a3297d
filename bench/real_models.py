#!/usr/bin/env python3
"""int8 on real trained OCR models: prunekit's static int8 against onnxruntime's `quantize_static`,
measured as the character error rate (CER) on text rendered by the tests' own renderer
(tests/real_models/ocr.py: strings from the model's character set, DejaVu Sans, the string is the
label), and as how close each int8 model's class scores stay to the float model's (the share of
positions whose best class is kept, and the normalized MSE), from the models `make setup-models`
keeps in ~/.cache/prunekit/models.

For each OCR model:

* float: the model as shipped.
* prunekit: `prunekit-kernel run 'load MODEL DIMS' 'export model OUT --quantize static
  --calibration-data CAL.npz'` on the rendered calibration samples and on generated samples (no
  --calibration-data); the first line of its output says whether the written model still agrees
  with the original.
* onnxruntime: the model upgraded to opset 13 where it is older (per-channel DequantizeLinear needs
  13), `quant_pre_process`, then `quantize_static(QDQ, per_channel=True, QUInt8 activations, QInt8
  weights)` with each calibration method (MinMax, Entropy, Percentile) on the same samples
  (tests/real_models/peer.py).

    .venv/bin/python bench/real_models.py [--samples 200] [--json bench/out/real_models.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import onnxruntime as ort

from ocr_setup import CALIBRATION_SAMPLES, benches, figures, kernel, peer, require


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="rendered strings the CER is measured on")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    require()

    report = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
              "onnxruntime": ort.__version__, "samples": args.samples, "models": []}
    for bench in benches(args.samples):
        model = bench.model
        row: dict = {"model": model.file, "float": bench.measure(bench.local), "prunekit": [], "onnxruntime": []}
        print(f"{model.file}: float CER {row['float']['cer']:.2%} on {len(bench.texts)} rendered strings",
              flush=True)
        for label, npz in [("rendered", "cal.npz"), ("generated", None)]:
            samples = CALIBRATION_SAMPLES if npz else 128
            out = bench.folder / f"prunekit-{label}.onnx"
            command = f"export model {out.name} --quantize static"
            if npz is not None:
                command += f" --calibration-data {npz}"
            entry: dict = {"calibration": f"{samples} {label}"}
            start = time.perf_counter()
            try:
                result = kernel(bench.folder, bench.loaded, command, timeout=600)
            except RuntimeError as e:
                entry["error"] = str(e)
                print(f"  prunekit int8 ({entry['calibration']}): fails: {e}", flush=True)
                row["prunekit"].append(entry)
                continue
            entry["seconds"] = round(time.perf_counter() - start, 1)
            agreement = result["agreement"]
            verdict = agreement["verdict"] or {True: "agrees with the original",
                                               None: "not vouched for: checked on generated samples only"
                                               }.get(agreement["agrees"], "no longer agrees")
            entry["notes"] = [verdict, *result["quantization"]["notes"]]
            entry["activations"] = result["quantization"]["activations"]
            entry.update(bench.measure(out))
            print(f"  prunekit int8 ({entry['calibration']}): {figures(entry)} ({entry['seconds']:.1f} s); "
                  f"{entry['notes'][0]}", flush=True)
            row["prunekit"].append(entry)
        for method in peer.METHODS:
            out = bench.folder / f"ort-{method.name}.onnx"
            entry = {"calibration": f"{CALIBRATION_SAMPLES} rendered", "method": method.name}
            start = time.perf_counter()
            try:
                peer.quantize(bench.local, out, bench.calibration, model.input, bench.batch, method)
                entry["seconds"] = round(time.perf_counter() - start, 1)
                entry.update(bench.measure(out))
                print(f"  onnxruntime int8 ({entry['calibration']}, {method.name}): {figures(entry)} "
                      f"({entry['seconds']:.1f} s)", flush=True)
            except Exception as e:  # the quantizer's own failure is a figure too
                entry["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
                print(f"  onnxruntime int8 ({entry['calibration']}, {method.name}): fails: {entry['error']}",
                      flush=True)
            row["onnxruntime"].append(entry)
        report["models"].append(row)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Side-by-side benchmark of int8 quantization: prunekit's against onnxruntime's own quantizer.

The questions (docs/benchmarks.md): how much faster is the quantized ResNet-50-shaped model than the
dense one on this CPU, does prunekit's int8 model run as fast as the one onnxruntime's Python
quantizer makes, and does it keep as much of the float model's accuracy?

For each model both tools make a static int8 model of the same kind: QDQ, int8 weights with one
scale per output channel, uint8 activations calibrated by min-max on the same samples:

* prunekit: `prunekit-kernel run 'load MODEL' 'export model OUT --quantize static [--calibration-data
  TRAIN.npz]'` (BatchNormalization folded into the Conv, ReLU folded into the Q/DQ pair, residual
  Adds quantized). Without calibration data it calibrates on 128 seeded random samples.
* onnxruntime: `quant_pre_process` (ONNX shape inference and ORT's graph optimizations, which fold the
  BatchNormalizations: the documented first step) then `quantize_static(per_channel=True,
  quant_format=QDQ, activation_type=QUInt8, weight_type=QInt8, calibrate_method=MinMax)` on the same
  samples (128 numpy-random ones in [0, 1), or TRAIN.npz).

Each tool's wall time to quantize (its whole process) is reported. Then the dense, prunekit int8 and
onnxruntime int8 models are timed by the same onnxruntime Python harness as bench/runtime.py (one
child process per model and round, 2 intra-op threads, seeded inputs), in `--rounds` rounds that
rotate the order; the report gives each model's median ms per batch over the rounds and the speedup
over dense. Quality: for the digits CNN, top-1 accuracy on its held-out set (digits_test.npz) of the
float model and of both int8 models (both calibrated on digits_train.npz); for ResNet-50 (random
weights, so no accuracy) the relative L2 error of the int8 logits against the float ones on 16
random inputs, and how often the top-1 class agrees.

    .venv/bin/python bench/make_resnet50.py
    .venv/bin/python bench/quantize.py
    .venv/bin/python bench/quantize.py --rounds 3 --json bench/out/quantize.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import runtime as rt  # noqa: E402  (the timing harness and its helpers, shared)

ROOT = rt.ROOT
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
DIGITS_TRAIN = os.path.join(FIXTURES, "digits_train.npz")
DIGITS_TEST = os.path.join(FIXTURES, "digits_test.npz")
CALIBRATION_SAMPLES = 128

# name -> (model, calibration npz or None, held-out npz or None, batches timed, iterations, warmup)
MODELS = {
    "resnet50": (rt.RESNET, None, None, (1, 8), (30, 8), (5, 2)),
    "digits": (rt.DIGITS, DIGITS_TRAIN, DIGITS_TEST, (64,), (2000,), (200,)),
}

# Runs in the onnxruntime venv. argv: MODEL OUT CALIBRATION_NPZ_OR_- SAMPLES SEED.
ORT_QUANTIZE = r"""
import sys, tempfile, os
import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

model, out, npz, samples, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0]
if npz != "-":
    data = np.load(npz)[inp.name].astype(np.float32)
else:
    shape = [samples] + [d for d in inp.shape[1:]]
    data = np.random.default_rng(seed).random(shape, dtype=np.float32)

class Reader(CalibrationDataReader):
    def __init__(self):
        self.batches = iter([{inp.name: data[i:i + 16]} for i in range(0, len(data), 16)])
    def get_next(self):
        return next(self.batches, None)

with tempfile.TemporaryDirectory() as tmp:
    pre = os.path.join(tmp, "pre.onnx")
    quant_pre_process(model, pre, skip_symbolic_shape=True)
    quantize_static(pre, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax)
print("ok")
"""

# argv: FLOAT INT8_A INT8_B NPZ_OR_- SEED. Prints JSON: accuracy (with labels) or error/agreement.
ORT_QUALITY = r"""
import json, sys
import numpy as np
import onnxruntime as ort

paths, npz, seed = sys.argv[1:4], sys.argv[4], int(sys.argv[5])
sessions = [ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in paths]
inp = sessions[0].get_inputs()[0]
if npz != "-":
    d = np.load(npz)
    x, labels = d[inp.name].astype(np.float32), d["labels"]
else:
    x = np.random.default_rng(seed).random([16] + list(inp.shape[1:]), dtype=np.float32)
    labels = None
outs = [s.run(None, {inp.name: x})[0] for s in sessions]
result = []
for o in outs:
    r = {"rel_error": float(np.linalg.norm(o - outs[0]) / np.linalg.norm(outs[0])),
         "top1_agreement": float((o.argmax(1) == outs[0].argmax(1)).mean())}
    if labels is not None:
        r["accuracy"] = float((o.argmax(1) == labels).mean())
    result.append(r)
print(json.dumps(result))
"""


def cpu_flags() -> dict:
    flags, name = set(), platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
                elif line.startswith("model name") and name in ("", platform.processor()):
                    name = line.split(":", 1)[1].strip()
    except OSError:
        pass
    wanted = ["avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "amx_int8"]
    return {"cpu": name, "int8_flags": [f for f in wanted if f in flags]}


def quantize_prunekit(binary: str, model: str, out: str, calibration: str | None) -> float:
    # A copy in a temporary folder: no project file lands next to the original.
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, os.path.basename(model))
        os.symlink(model, copy)
        cmd = f"export model {rt.quoted(out)} --quantize static"
        if calibration:
            cmd += f" --calibration-data {rt.quoted(calibration)}"
        p = rt.spawn([binary, "run", "--format", "json", f"load {rt.quoted(copy)}", cmd])
    if p["rc"] != 0:
        raise rt.BenchError(f"prunekit's quantization failed (exit {p['rc']}):\n{p['stdout'][-2000:]}{p['stderr'][-2000:]}")
    return p["wall_s"]


def quantize_ort(python: str, model: str, out: str, calibration: str | None, seed: int) -> float:
    p = rt.spawn([python, "-c", ORT_QUANTIZE, model, out, calibration or "-", str(CALIBRATION_SAMPLES), str(seed)])
    if p["rc"] != 0:
        raise rt.BenchError(f"onnxruntime's quantization failed (exit {p['rc']}):\n{p['stderr'][-3000:]}")
    return p["wall_s"]


def quality(python: str, paths: list[str], held_out: str | None, seed: int) -> list[dict]:
    p = rt.spawn([python, "-c", ORT_QUALITY, *paths, held_out or "-", str(seed)])
    if p["rc"] != 0:
        raise rt.BenchError(f"the quality run failed (exit {p['rc']}):\n{p['stderr'][-3000:]}")
    return json.loads(p["stdout"].strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", choices=list(MODELS), help="default: all")
    ap.add_argument("--rounds", type=int, default=5, help="timing rounds per model and batch (default: 5)")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads (default: 2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-load", type=float, default=1.0)
    ap.add_argument("--wait", type=float, default=60.0)
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON to OUT")
    ap.add_argument("--binary", default=rt.DEFAULT_BINARY)
    ap.add_argument("--ort-python", default=rt.DEFAULT_ORT_PYTHON)
    args = ap.parse_args()

    machine = cpu_flags()
    print(f"prunekit:  {rt.prunekit_info(args.binary)}")
    print(f"machine:   {machine['cpu']}, {os.cpu_count()} CPUs; int8-relevant flags: {', '.join(machine['int8_flags']) or 'none'}")
    report = {"machine": machine, "threads": args.threads, "rounds": args.rounds, "models": {}}
    rows = []
    with tempfile.TemporaryDirectory() as out_dir:
        for name in args.model or list(MODELS):
            model, calib, held_out, batches, iterations, warmups = MODELS[name]
            if not os.path.exists(model):
                print(f"{name}: {model} is missing; run `.venv/bin/python bench/make_resnet50.py` first", file=sys.stderr)
                return 2
            ours = os.path.join(out_dir, f"{name}-prunekit-int8.onnx")
            theirs = os.path.join(out_dir, f"{name}-ort-int8.onnx")
            t_ours = quantize_prunekit(args.binary, model, ours, calib)
            t_theirs = quantize_ort(args.ort_python, model, theirs, calib, args.seed)
            q = quality(args.ort_python, [model, ours, theirs], held_out, args.seed)
            entry = {"quantize_seconds": {"prunekit": t_ours, "onnxruntime": t_theirs},
                     "bytes": {k: os.path.getsize(p) for k, p in (("dense", model), ("prunekit", ours), ("onnxruntime", theirs))},
                     "quality": dict(zip(("dense", "prunekit", "onnxruntime"), q)), "timing": {}}
            print(f"\n{name}: quantized in {t_ours:.2f} s (prunekit) and {t_theirs:.2f} s (onnxruntime, pre-process included)")
            for k, label in (("prunekit", "prunekit int8"), ("onnxruntime", "onnxruntime int8")):
                qk = entry["quality"][k]
                acc = f", accuracy {qk['accuracy']:.1%} (float {entry['quality']['dense']['accuracy']:.1%})" if "accuracy" in qk else ""
                print(f"  {label}: relative error {qk['rel_error']:.4f}, top-1 agreement {qk['top1_agreement']:.1%}{acc}")
            variants = [("dense", model), ("prunekit", ours), ("onnxruntime", theirs)]
            for batch, iters, warm in zip(batches, iterations, warmups):
                ms = {k: [] for k, _ in variants}
                for r in range(args.rounds):
                    rt.wait_quiet(args.max_load, args.wait)
                    order = variants[r % 3:] + variants[:r % 3]
                    for k, path in order:
                        res = rt.run_ort(args.ort_python, path, batch, args.threads, iters, warm, args.seed)
                        ms[k].append(res["ms_per_batch"]["p50"])
                med = {k: statistics.median(v) for k, v in ms.items()}
                entry["timing"][f"b{batch}"] = {"median_p50_ms": med, "rounds_p50_ms": ms,
                                               "speedup": {k: med["dense"] / med[k] for k in med}}
                print(f"  batch {batch}: dense {med['dense']:.2f} ms, prunekit int8 {med['prunekit']:.2f} ms "
                      f"({med['dense'] / med['prunekit']:.2f}x), onnxruntime int8 {med['onnxruntime']:.2f} ms "
                      f"({med['dense'] / med['onnxruntime']:.2f}x)")
                rows.append((name, batch, med, entry))
            report["models"][name] = entry

    print("\n| model | batch | dense ms | prunekit int8 ms | speedup | onnxruntime int8 ms | speedup | prunekit / onnxruntime time |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, batch, med, _ in rows:
        print(f"| {name} | {batch} | {med['dense']:.2f} | {med['prunekit']:.2f} | {med['dense'] / med['prunekit']:.2f}x "
              f"| {med['onnxruntime']:.2f} | {med['dense'] / med['onnxruntime']:.2f}x | {med['prunekit'] / med['onnxruntime']:.2f} |")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except rt.BenchError as err:
        print(f"quantize.py: {err}", file=sys.stderr)
        sys.exit(1)

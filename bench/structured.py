#!/usr/bin/env python3
"""Structured pruning speed: the ResNet-50-shaped bench model (bench/make_resnet50.py) with whole
channels removed to about 2x fewer FLOPs, timed in ONNX Runtime's Python API (the peer) beside the
dense model, in one run: 2 threads, batch 1 and 8, alternating rounds, medians. Also the int8
models (prunekit's static int8 of the dense and of the structured model), and prunekit's own
estimate of the speedup from the perf profile's layer times.

The path is prunekit's, through `prunekit-kernel run`: profile perf, the channel loss profile
(generated samples: the bench model's weights are random, so only the timing means anything),
`optimize --structure channel --flops-reduction 2`, `export model`, `export model --quantize static`.

    .venv/bin/python bench/structured.py [--reduction 2] [--threads 2] [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "prunekit-kernel"


def run_prunekit(folder: Path, commands: list[str]) -> list[dict]:
    proc = subprocess.run([str(BIN), "run", "--format", "json", *commands], cwd=folder,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"prunekit-kernel run failed: {proc.stderr[-3000:] or proc.stdout[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def timings(models: dict[str, Path], threads: int, batch: int, rounds: int) -> dict[str, float]:
    """Median ms per batch of each model, rounds alternating between the models."""
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    sessions = {name: session(path, threads) for name, path in models.items()}
    for s in sessions.values():
        for _ in range(3):
            s.run(None, {"input": x})
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, s in sessions.items():
            t = time.perf_counter()
            s.run(None, {"input": x})
            times[name].append((time.perf_counter() - t) * 1e3)
    return {name: statistics.median(v) for name, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reduction", type=float, default=2.0, help="FLOPs reduction to fit")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--samples", type=int, default=8, help="samples of the channel profile")
    args = parser.parse_args()
    if not BIN.exists():
        sys.exit("target/release/prunekit-kernel is missing: run `make release` first.")
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_resnet50.py")], check=True)
    model = ROOT / "bench" / "models" / "resnet50.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "resnet50.onnx").symlink_to(model)
        started = time.perf_counter()
        results = run_prunekit(folder, [
            "load resnet50.onnx --dim batch=8", f"settings threads={args.threads}",
            f"profile perf --batch 8 --threads {args.threads}",
            f"profile loss --structure channel --samples {args.samples} --levels 0.25,0.5,0.75",
            f"optimize --structure channel --flops-reduction {args.reduction}",
            "export model structured.onnx",
            "export model structured-int8.onnx --quantize static",
        ])
        prunekit_seconds = time.perf_counter() - started
        plan = next(r for r in results if r.get("channels"))
        # The dense model in int8 (a project of its own, with no optimization): prunekit's
        # quantizer with the same settings.
        (folder / "dense").mkdir()
        (folder / "dense" / "resnet50.onnx").symlink_to(model)
        run_prunekit(folder / "dense", ["load resnet50.onnx --dim batch=8",
                                        "export model ../dense-int8.onnx --quantize static"])
        models = {
            "dense": model,
            "structured": folder / "structured.onnx",
            "dense-int8": folder / "dense-int8.onnx",
            "structured-int8": folder / "structured-int8.onnx",
        }
        rows = {batch: timings(models, args.threads, batch, args.rounds) for batch in (1, 8)}
    estimate = plan["model"]["estimated_speedup"]
    flops = plan["model"]["flops_reduction"]
    print(f"ResNet-50-shaped, whole channels removed to {args.reduction}x fewer FLOPs "
          f"(prunekit: {flops:.2f}x fewer FLOPs, estimated {estimate:.2f}x faster from the layer times); "
          f"ONNX Runtime {ort.__version__} Python API, {args.threads} threads, median of {args.rounds} "
          f"alternating rounds")
    print(f"  prunekit profile, fit and exports: {prunekit_seconds:.0f} s")
    print(f"  {'batch':>5} {'model':<16} {'ms/batch':>9} {'speedup':>8}")
    for batch, t in rows.items():
        for name, ms in t.items():
            print(f"  {batch:>5} {name:<16} {ms:>9.1f} {t['dense'] / ms:>7.2f}x")
    measured = {b: t["dense"] / t["structured"] for b, t in rows.items()}
    for b, m in measured.items():
        print(f"  batch {b}: estimate {estimate:.2f}x against measured {m:.2f}x "
              f"({100 * (estimate - m) / m:+.0f}%)")
    # The plan's own timing of its architecture, made by `optimize` at the perf profile's batch.
    timed = (plan.get("channels") or {}).get("measured")
    if timed:
        b = timed["batch"]
        m = measured.get(b)
        against = f" against measured {m:.2f}x here ({100 * (timed['speedup'] - m) / m:+.0f}%)" if m else ""
        print(f"  batch {b}: the plan timed itself at {timed['speedup']:.2f}x when fitted{against}")


if __name__ == "__main__":
    main()

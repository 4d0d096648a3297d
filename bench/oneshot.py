#!/usr/bin/env python3
"""One-shot pruning speed: SparseGPT on the ResNet-50-shaped bench model (bench/make_resnet50.py),
every prunable layer at 50%, reconstructed from 64 calibration samples, through
`prunekit-kernel run ... export model --method sparsegpt`. Prints the seconds, the FLOPs of the
Hessians, factorizations and updates (prunekit's count), this machine's f64 matrix-product rate
(numpy's BLAS on the same cores, measured here), the bound those give, and the peak memory.

    .venv/bin/python bench/oneshot.py [--samples 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "prunekit-kernel"


def matmul_rate(threads: int, n: int = 1024, seconds: float = 2.0) -> float:
    """f64 FLOP/s of numpy's matrix product on `threads` cores, the median of repeated runs."""
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    a = np.random.default_rng(0).standard_normal((n, n))
    b = a.T.copy()
    rates = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(rates) < 3:
        t = time.perf_counter()
        a @ b
        rates.append(2 * n**3 / (time.perf_counter() - t))
    return float(np.median(rates))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_resnet50.py")], check=True)
    model = ROOT / "bench" / "models" / "resnet50.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "resnet50.onnx").symlink_to(model)
        x = np.random.default_rng(1).standard_normal((args.samples, 3, 224, 224)).astype(np.float32)
        np.savez(folder / "cal.npz", input=x)
        commands = ["load resnet50.onnx", f"settings threads={args.threads}",
                    "optimize --sparsity 0.5 --perf flops --loss approx", "override re:.* 0.5",
                    f"export model out.onnx --method sparsegpt --calibration-data cal.npz "
                    f"--samples {args.samples}"]
        started = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-v", str(BIN), "run", "--format", "json", *commands],
                              cwd=folder, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(proc.stderr[-2000:])
        export = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")][-1]
        rss = next(int(line.split()[-1]) for line in proc.stderr.splitlines()
                   if "Maximum resident set size" in line)
    pruning = export["pruning"]
    rate = matmul_rate(args.threads)
    bound = pruning["flops"] / rate
    print(f"ResNet-50-shaped, {len(export['layers'])} layers at 50%, SparseGPT from {args.samples} samples, "
          f"{args.threads} threads")
    print(f"  pruning step      {pruning['seconds']:.1f} s (whole command {wall:.1f} s)")
    print(f"  FLOPs counted     {pruning['flops'] / 1e9:.1f} GFLOP (XᵀX's lower triangle, "
          f"factorizations, updates)")
    print(f"  matmul rate       {rate / 1e9:.1f} GFLOP/s (numpy f64, {args.threads} threads)")
    print(f"  bound             {bound:.1f} s; the run took {pruning['seconds'] / bound:.2f}x it "
          f"(the rest: ONNX Runtime computing each round's inputs, im2col)")
    print(f"  statistics held   {pruning['peak_bytes'] / 2**20:.0f} MiB; peak RSS {rss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

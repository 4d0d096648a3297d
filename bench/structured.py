#!/usr/bin/env python3
"""Structured pruning speed: the ResNet-50-shaped bench model (bench/make_resnet50.py) with whole
channels removed to about 2x fewer FLOPs, timed in ONNX Runtime's Python API (the peer) beside the
dense model, in one run: 2 threads, batch 1 and 8, rounds rotating the order, each model in a
process of its own (bench/runtime.py's harness), medians. Also the int8 models (prunekit's static
int8 of the dense and of the structured model), and prunekit's own estimate of the speedup from the
perf profile's layer times, with the plan's own timing of itself. A second plan per batch is fitted
for int8 (`optimize --structure channel --speedup X --quantize static`: fitted on the int8 model's
layer times, measured by prunekit when it fits) and timed beside them.

The path is prunekit's, through `prunekit-kernel run`, once per batch: profile perf at that batch,
the channel loss profile (generated samples: the bench model's weights are random, so only the
timing means anything), `optimize --structure channel --flops-reduction 2`, `export model`,
`export model --quantize static`; then the int8 plan and its export.

    .venv/bin/python bench/structured.py [--reduction 2] [--int8-speedup 2] [--threads 2] [--rounds 7] [--batches 1,8]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
import runtime as rt  # noqa: E402  (the peer harness: one child process per model and round)

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "prunekit-kernel"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reduction", type=float, default=2.0, help="FLOPs reduction to fit")
    parser.add_argument("--int8-speedup", type=float, default=2.0,
                        help="speedup over the dense int8 model the int8 plan is fitted to")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batches", default="1,8", help="a plan is fitted and timed at each")
    parser.add_argument("--samples", type=int, default=8, help="samples of the channel profile")
    parser.add_argument("--keep", metavar="DIR", help="write the models into DIR (kept) instead of a temporary folder")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if not BIN.exists():
        sys.exit("target/release/prunekit-kernel is missing: run `make release` first.")
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_resnet50.py")], check=True)
    model = ROOT / "bench" / "models" / "resnet50.onnx"
    plans, int8_plans, rows = {}, {}, {}
    with (contextlib.nullcontext(args.keep) if args.keep else tempfile.TemporaryDirectory()) as tmp:
        folder = Path(tmp)
        if folder.exists() and args.keep:
            shutil.rmtree(folder)
        started = time.perf_counter()
        # The dense model in int8 (a project of its own, with no optimization): prunekit's
        # quantizer with the same settings.
        (folder / "dense").mkdir(parents=True)
        (folder / "dense" / "resnet50.onnx").symlink_to(model)
        rt.run_commands(folder / "dense", ["load resnet50.onnx --dim batch=8",
                                        "export model ../dense-int8.onnx --quantize static"])
        # A plan per batch, fitted on a perf profile at that batch (as a user deploying at that
        # batch would), so each estimate is compared at the batch it was made for.
        for batch in batches:
            work = folder / f"b{batch}"
            work.mkdir()
            (work / "resnet50.onnx").symlink_to(model)
            results = rt.run_commands(work, [
                f"load resnet50.onnx --dim batch={batch}", f"settings threads={args.threads}",
                f"profile perf --batch {batch} --threads {args.threads}",
                f"profile loss --structure channel --samples {args.samples} --levels 0.25,0.5,0.75",
                f"optimize --structure channel --flops-reduction {args.reduction}",
                "export model structured.onnx",
                "export model structured-int8.onnx --quantize static",
                f"optimize --structure channel --speedup {args.int8_speedup} --quantize static --name int8",
                "export model int8-fit.onnx --optimization int8",
            ])
            fitted = [r for r in results if r.get("channels")]
            plans[batch], int8_plans[batch] = fitted[0], fitted[-1]
        prunekit_seconds = time.perf_counter() - started
        for batch in batches:
            models = {
                "dense": model,
                "structured": folder / f"b{batch}" / "structured.onnx",
                "dense-int8": folder / "dense-int8.onnx",
                "structured-int8": folder / f"b{batch}" / "structured-int8.onnx",
                "int8-fit": folder / f"b{batch}" / "int8-fit.onnx",
            }
            rows[batch] = rt.median_ms(models, args.threads, batch, args.rounds)
    print(f"ResNet-50-shaped, whole channels removed to {args.reduction}x fewer FLOPs, a plan fitted at "
          f"each batch; ONNX Runtime {ort.__version__} Python API, {args.threads} threads, median of "
          f"{args.rounds} rounds, each model in a process of its own")
    print(f"  prunekit profiles, fits and exports: {prunekit_seconds:.0f} s")
    print(f"  {'batch':>5} {'model':<16} {'ms/batch':>9} {'speedup':>8}")
    for batch, t in rows.items():
        for name, ms in t.items():
            print(f"  {batch:>5} {name:<16} {ms:>9.1f} {t['dense'] / ms:>7.2f}x")
    for batch, t in rows.items():
        plan = plans[batch]
        measured = t["dense"] / t["structured"]
        estimate = plan["model"]["estimated_speedup"]
        flops = plan["model"]["flops_reduction"]
        line = (f"  batch {batch}: {flops:.2f}x fewer FLOPs; estimate {estimate:.2f}x against measured "
                f"{measured:.2f}x ({100 * (estimate - measured) / measured:+.0f}%)")
        # The plan's own timing of its architecture, made by `optimize` at the profile's batch.
        timed = (plan.get("channels") or {}).get("measured")
        if timed:
            line += (f"; the plan timed itself at {timed['speedup']:.2f}x when fitted "
                     f"({100 * (timed['speedup'] - measured) / measured:+.0f}%)")
        print(line)
        # The int8 plan: its estimate and its own timing are over the dense int8 model.
        plan = int8_plans[batch]
        measured = t["dense-int8"] / t["int8-fit"]
        estimate = plan["model"]["estimated_speedup"]
        timed = plan["channels"].get("measured") or {}
        print(f"  batch {batch}, int8 plan: {plan['model']['flops_reduction']:.2f}x fewer FLOPs, "
              f"{t['dense'] / t['int8-fit']:.2f}x over the float dense model; over the dense int8 "
              f"model estimate {estimate:.2f}x against measured {measured:.2f}x "
              f"({100 * (estimate - measured) / measured:+.0f}%); the plan timed itself at "
              f"{timed.get('speedup', float('nan')):.2f}x over int8, "
              f"{timed.get('over_float', float('nan')):.2f}x over float when fitted")


if __name__ == "__main__":
    main()

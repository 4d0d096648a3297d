"""Int4 weight-only quantization, prunekit beside onnxruntime's MatMulNBitsQuantizer, on the same
transformer MLP block (tests/int4_reference.py: projection with bias, up, GELU, down, residual;
outlier input channels) and the same samples.

For each of RTN (symmetric and with zero points) and GPTQ (with zero points), at blocks of 32 and
128: the wall time of each quantizer (median of --runs: prunekit's quantization step, as its JSON
reports it, and its whole `prunekit-kernel run "load" "export model --quantize int4"` command,
which loads, analyses, quantizes, writes and checks the agreement on 128 samples;
onnxruntime's is its quantizer's load, process and save) and the output error of the
written model on held-out samples, nmse against the float model.

    .venv/bin/python bench/int4.py [--d-model 512] [--d-ff 2048] [--runs 3] [--gptq-runs 1]
        [--calibration 128] [--only rtn|gptq]
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from int4_reference import make_model, nmse, ort_quantize, run, samples  # noqa: E402

PRUNEKIT = REPO / "target" / "release" / "prunekit-kernel"


def timed(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d-model", type=int, default=512)
    parser.add_argument("--d-ff", type=int, default=2048)
    parser.add_argument("--seq", type=int, default=32)
    parser.add_argument("--calibration", type=int, default=128, help="calibration samples")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gptq-runs", type=int, default=1,
                        help="runs of each GPTQ (onnxruntime's takes minutes)")
    parser.add_argument("--only", choices=("rtn", "gptq"), help="one rounding only")
    args = parser.parse_args()
    import logging
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = folder / "mlp.onnx"
        make_model(model, args.d_model, args.d_ff)
        cal = samples(args.calibration, args.seq, args.d_model, seed=1)
        np.savez(folder / "cal.npz", x=cal)
        held_out = samples(32, args.seq, args.d_model, seed=2)
        want = run(model, held_out)
        load = f"load mlp.onnx --dim batch=1 --dim seq={args.seq}"
        params = args.d_model * args.d_model + 2 * args.d_model * args.d_ff
        print(f"MLP block d_model={args.d_model} d_ff={args.d_ff} ({params / 1e6:.2f}M weights), "
              f"{args.calibration} calibration samples of {args.seq} tokens, 32 held out; "
              f"median of {args.runs} runs ({args.gptq_runs} of GPTQ)")
        print(f"{'rounding':<10}{'block':>6}{'zero pts':>10}{'prunekit s':>12}{'command':>10}"
              f"{'ORT s':>10}"
              f"{'prunekit nmse':>15}{'ORT nmse':>12}")
        for rounding, symmetric in (("rtn", True), ("rtn", False), ("gptq", False)):
            if args.only not in (None, rounding):
                continue
            runs = args.gptq_runs if rounding == "gptq" else args.runs
            for block in (32, 128):
                flags = f"--quantize int4 --block {block} --rounding {rounding}"
                flags += " --symmetric" if symmetric else ""
                if rounding == "gptq":
                    flags += " --calibration-data cal.npz"

                step = []

                def ours():
                    proc = subprocess.run(
                        [str(PRUNEKIT), "run", "--format", "json", load,
                         f"export model pk.onnx {flags}"],
                        cwd=folder, check=True, capture_output=True, text=True)
                    written = json.loads(proc.stdout.splitlines()[-1])
                    step.append(written["quantization"]["seconds"])

                def theirs():
                    ort_quantize(model, folder / "ort.onnx", block, symmetric,
                                 calibration=cal if rounding == "gptq" else None)

                t_command, t_theirs = timed(runs, ours), timed(runs, theirs)
                t_ours = statistics.median(step)
                e_ours = nmse(run(folder / "pk.onnx", held_out), want)
                e_theirs = nmse(run(folder / "ort.onnx", held_out), want)
                print(f"{rounding:<10}{block:>6}{'no' if symmetric else 'yes':>10}"
                      f"{t_ours:>12.3f}{t_command:>10.2f}{t_theirs:>10.3f}"
                      f"{e_ours:>15.3e}{e_theirs:>12.3e}",
                      flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Structured pruning on real trained OCR models: whole channels removed to a measured speedup in
ONNX Runtime, the character error rate (CER) with and without repair on calibration samples, on
text rendered by the tests' own renderer (tests/real_models/ocr.py: the string is the label), from
the models `make setup-models` keeps in ~/.cache/prunekit/models.

For each model, through `prunekit-kernel run`: `profile perf`, the channel loss profile on the
rendered calibration samples, `optimize --structure channel --speedup X`, then `export model` with
the calibration samples (channels chosen by the error they cause, the model repaired) and without
(weight norms, no repair). The speedup is measured here with ONNX Runtime's Python API (2 threads,
the model's batch, alternating rounds, medians).

    .venv/bin/python bench/structured_real.py [--speedup 1.3] [--samples 200] [--models ppocrv4,ddddocr]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import real_models  # noqa: E402
sys.path.insert(0, str(REPO / "bench"))
import runtime as rt  # noqa: E402  (the one prunekit-kernel runner)
from real_models import ocr  # noqa: E402

KERNEL = REPO / "target" / "release" / "prunekit-kernel"
CALIBRATION_SAMPLES = 128

# (model, its load flags for prunekit, the batch the eval runs in)
MODELS = [
    (ocr.ppocr_rec, "--input x=8,3,48,192", 8),
    (ocr.ddddocr_common, "--dim image_width=192", 1),
]


def session(path: Path, threads: int = 2) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def speedup(dense: Path, small: Path, x: np.ndarray, rounds: int = 15) -> float:
    """Median time of `dense` over `small`, rounds alternating. Each round runs one model five
    times in a row and times the last three: after a run a session's pool threads spin a while on
    the cores the other session's run needs, so single runs alternating slow whichever runs
    second (as `optimize`'s own timing does, core/src/workflow/channel_timing.rs)."""
    a, b = session(dense), session(small)
    name = a.get_inputs()[0].name
    ta, tb = [], []
    for _ in range(rounds):
        for s, times in ((a, ta), (b, tb)):
            for i in range(5):
                t = time.perf_counter()
                s.run(None, {name: x})
                if i >= 2:
                    times.append(time.perf_counter() - t)
    return statistics.median(ta) / statistics.median(tb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speedup", type=float, default=1.3)
    parser.add_argument("--samples", type=int, default=200, help="rendered strings the CER is measured on")
    parser.add_argument("--models", default="ppocrv4,ddddocr", help="which of ppocrv4, ddddocr")
    args = parser.parse_args()
    wanted = set(args.models.split(","))
    if real_models.missing():
        sys.exit(real_models.MISSING.format(where=real_models.MODELS))
    if not KERNEL.is_file():
        sys.exit("target/release/prunekit-kernel is missing: run `make release` first")
    for make, load, batch in MODELS:
        model = make()
        if not any(model.file.startswith(w) for w in wanted):
            continue
        texts = ocr.labels(model, args.samples, seed=1)
        x = ocr.images(model, texts)
        calibration = ocr.images(model, ocr.labels(model, CALIBRATION_SAMPLES, seed=2))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            local = folder / model.file
            local.write_bytes(real_models.path(model.file).read_bytes())
            np.savez(folder / "cal.npz", **{model.input: calibration})
            started = time.perf_counter()
            out = rt.run_commands(folder, [
                f"load {model.file} {load}", "settings threads=2",
                f"profile perf --batch {batch}",
                "profile loss --structure channel --data cal.npz --samples 64 --levels 0.125,0.25,0.5,0.75",
                f"optimize --structure channel --speedup {args.speedup}",
                "export model repaired.onnx --calibration-data cal.npz",
                "export model plain.onnx",
            ])
            seconds = time.perf_counter() - started
            profile = next(r for r in out if r.get("structure") == "channel")
            plan = next(r for r in out if r.get("channels"))
            repaired = next(r for r in out if r.get("kind") == "model")
            cer = {name: ocr.cer(texts, ocr.read(session(path), model, x, batch))
                   for name, path in (("float", local), ("repaired", folder / "repaired.onnx"),
                                      ("plain", folder / "plain.onnx"))}
            timing_x = x[:batch] if batch > 1 else x[:1]
            measured = speedup(local, folder / "repaired.onnx", timing_x)
            channels = plan["channels"]
            pruned = [g for g in channels["groups"] if g["kept"] < g["channels"]]
            removal = repaired["pruning"]["channels"]
            print(f"{model.file}: {len(channels['groups'])} channel groups "
                  f"({len(profile['skipped'])} cannot lose channels), {len(pruned)} lose channels; "
                  f"{removal['macs_before'] / removal['macs_after']:.2f}x fewer MACs; "
                  f"prunekit {seconds:.0f} s")
            print(f"  speedup: estimated {plan['model']['estimated_speedup']:.2f}x, measured "
                  f"{measured:.2f}x (ONNX Runtime {ort.__version__}, 2 threads, batch {batch})")
            print(f"  CER on {len(texts)} rendered strings: float {cer['float']:.2%}, "
                  f"repaired {cer['repaired']:.2%}, without repair {cer['plain']:.2%}")
            print(f"  agreement (repaired): {repaired['agreement']}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Structured pruning on trained models: whole channels removed to a measured speedup in ONNX
Runtime, and the task's score with and without repair on calibration samples. The real OCR models
`make setup-models` keeps in ~/.cache/prunekit/models are scored by character error rate (CER) on
text rendered by the tests' own renderer (tests/real_models/ocr.py: the string is the label); the
digits CNN of tests/fixtures by held-out accuracy on its test digits.

For each model, through `prunekit-kernel run`: `profile perf`, the channel loss profile on the
rendered calibration samples, `optimize --structure channel --speedup X`, then `export model` with
the calibration samples (channels chosen by the error they cause, the model repaired) and without
(weight norms, no repair). The speedup is measured here with ONNX Runtime's Python API (2 threads,
the model's batch, each model in a process of its own, rotating rounds, medians: bench/runtime.py's
median_ms).

    .venv/bin/python bench/structured_real.py [--speedup 1.3] [--samples 200] [--models ppocrv4,ddddocr,digits]
"""

from __future__ import annotations

import argparse
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
ROUNDS = 7

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


def prunekit_path(folder: Path, load: str, batch: int, speedup: float, profile_samples: int,
                  repair_samples: int, levels: str = "") -> list[dict]:
    """prunekit's whole path in `folder` (the model and cal.npz in it): perf profile at the batch,
    the channel loss profile on the calibration samples, the fit, the repaired export and the
    plain one (weight norms, no repair)."""
    return rt.run_commands(folder, [
        load, "settings threads=2",
        f"profile perf --batch {batch}",
        f"profile loss --structure channel --data cal.npz --samples {profile_samples}" + (f" --levels {levels}" if levels else ""),
        f"optimize --structure channel --speedup {speedup}",
        f"export model repaired.onnx --calibration-data cal.npz --samples {repair_samples}",
        "export model plain.onnx",
    ])


def report(name: str, out: list[dict], seconds: float, batch: int, measured: float, metric: str,
           scores: dict[str, float]) -> None:
    profile = next(r for r in out if r.get("structure") == "channel")
    plan = next(r for r in out if r.get("channels"))
    repaired = next(r for r in out if r.get("kind") == "model")
    channels = plan["channels"]
    pruned = [g for g in channels["groups"] if g["kept"] < g["channels"]]
    removal = repaired["pruning"]["channels"]
    print(f"{name}: {len(channels['groups'])} channel groups ({len(profile['skipped'])} cannot lose "
          f"channels), {len(pruned)} lose channels: "
          + ", ".join(f"{g['name']} {g['kept']}/{g['channels']}" for g in pruned)
          + f"; {removal['macs_before'] / removal['macs_after']:.2f}x fewer MACs; prunekit {seconds:.0f} s")
    print(f"  speedup: estimated {plan['model']['estimated_speedup']:.2f}x, measured {measured:.2f}x "
          f"(ONNX Runtime {ort.__version__}, 2 threads, batch {batch}, each model in a process of its "
          f"own, median of {ROUNDS} rounds)")
    print(f"  {metric}: " + ", ".join(f"{k} {v:.2%}" for k, v in scores.items()))
    print(f"  agreement (repaired): {repaired['agreement']}")


def measured_speedup(dense: Path, small: Path, batch: int, iterations: int = 0,
                     shape: list[int] | None = None) -> float:
    t = rt.median_ms({"dense": dense, "small": small}, 2, batch, ROUNDS, iterations, shape)
    return t["dense"] / t["small"]


def ocr_model(make, load: str, batch: int, args) -> None:
    model = make()
    texts = ocr.labels(model, args.samples, seed=1)
    x = ocr.images(model, texts)
    calibration = ocr.images(model, ocr.labels(model, CALIBRATION_SAMPLES, seed=2))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        local = folder / model.file
        local.write_bytes(real_models.path(model.file).read_bytes())
        np.savez(folder / "cal.npz", **{model.input: calibration})
        started = time.perf_counter()
        out = prunekit_path(folder, f"load {model.file} {load}", batch, args.speedup, 64, CALIBRATION_SAMPLES,
                            "0.125,0.25,0.5,0.75")
        seconds = time.perf_counter() - started
        cer = {name: ocr.cer(texts, ocr.read(session(path), model, x, batch))
               for name, path in (("float", local), ("repaired", folder / "repaired.onnx"),
                                  ("without repair", folder / "plain.onnx"))}
        measured = measured_speedup(local, folder / "repaired.onnx", batch, 0, [batch, *x.shape[1:]])
        report(model.file, out, seconds, batch, measured, f"CER on {len(texts)} rendered strings", cer)


def digits_cnn(args) -> None:
    """The digits CNN at batch 1024: its 25 k MACs per image are too few to set its time at small
    batches. Held-out accuracy on the fixture's 450 test digits, repaired on its 256 training ones."""
    fixtures = REPO / "tests" / "fixtures"
    test = np.load(fixtures / "digits_test.npz")
    batch = 1024
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for f in ("digits_cnn.onnx",):
            (folder / f).write_bytes((fixtures / f).read_bytes())
        (folder / "cal.npz").write_bytes((fixtures / "digits_train.npz").read_bytes())
        started = time.perf_counter()
        out = prunekit_path(folder, "load digits_cnn.onnx", batch, args.speedup, 256, 256)
        seconds = time.perf_counter() - started
        accuracy = {}
        for name, path in (("float", "digits_cnn.onnx"), ("repaired", "repaired.onnx"),
                           ("without repair", "plain.onnx")):
            logits = session(folder / path).run(None, {"input": test["input"]})[0]
            accuracy[name] = float((logits.argmax(1) == test["labels"]).mean())
        measured = measured_speedup(folder / "digits_cnn.onnx", folder / "repaired.onnx", batch, 200)
        report("digits_cnn.onnx", out, seconds, batch, measured,
               f"held-out accuracy on {len(test['labels'])} digits", accuracy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speedup", type=float, default=1.3)
    parser.add_argument("--samples", type=int, default=200, help="rendered strings the CER is measured on")
    parser.add_argument("--models", default="ppocrv4,ddddocr,digits", help="which of ppocrv4, ddddocr, digits")
    args = parser.parse_args()
    wanted = set(args.models.split(","))
    if real_models.missing():
        sys.exit(real_models.MISSING.format(where=real_models.MODELS))
    if not KERNEL.is_file():
        sys.exit("target/release/prunekit-kernel is missing: run `make release` first")
    for make, load, batch in MODELS:
        if make().file.split("-")[0] in wanted:
            ocr_model(make, load, batch, args)
    if "digits" in wanted:
        digits_cnn(args)

if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Side-by-side benchmark: prunekit's loss profiles against SparseML 1.7.0's sensitivity analyses.

Two benchmarks on one ONNX model (default bench/models/resnet50.onnx), each in rounds that alternate
which tool goes first:

* magnitude (`--rounds`, default 5, after `--warmup` 1): SparseML's
  `sparseml.onnx.optim.sensitivity_pruning.pruning_loss_sens_magnitude(model)` at its default 100
  levels, against `prunekit-kernel run --format json 'load MODEL' 'profile loss --method magnitude'`.
* one-shot (`--oneshot-rounds`, default 1, no warm-up: SparseML takes minutes):
  `pruning_loss_sens_one_shot(model, data, batch_size=4, steps_per_measurement=1,
  sparsity_levels=[0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99])` on one batch of 4 from its own
  random data loader (`DataLoader.from_model_random`, uniform [0, 1) float32, numpy seeded with
  `--seed`), against `prunekit-kernel run --format json 'load MODEL' 'profile loss --method one-shot
  --data bench/out/oneshot_input.npz --batch 4'` on exactly those inputs: the batch is saved once to
  the .npz (one array named after the model input) and every SparseML run checks, untimed, that its
  loader made the same arrays.

How each side is timed:

* SparseML: `.venv-sparseml/bin/python -c SCRIPT ...` imports sparseml, runs `onnx.load`, builds the
  data loader (one-shot), then times the sensitivity call alone with `time.perf_counter()`
  (interpreter start-up, imports, the load and the data are excluded: kind to SparseML). Its
  per-layer results are printed as JSON after the timed region. The whole process is timed too.
* prunekit: the whole process from spawn to exit (start-up, the model load and the JSON included:
  strict on prunekit), and the profile's own `seconds` field from its JSON (the profile line). The
  model is copied into a temporary folder and its `<model>.prunekit.json` project file is deleted
  before every run, so each run starts from the same state and bench/models stays clean.

The ratio the issue counts is SparseML's function time / prunekit's whole-process time (target: at
least 3x); the ratio to prunekit's profile seconds is shown too. A cross-check compares the per-layer
results, matched by node id (SparseML's `id`, the node's first output, is prunekit's layer `name`):
for magnitude the integrals must agree up to float error (the max relative difference is printed);
for one-shot the metrics differ (SparseML's KL helper shifts and clips the outputs), so only the
Spearman rank correlation of the per-layer integrals is reported, not asserted.

torch is not needed: `sparseml.onnx.optim.sensitivity_pruning` imports without it (the child reports
whether torch is installed). Peak RSS of every child is its `ru_maxrss` from `os.wait4`; the harness
imports only the standard library, so the floor a child inherits from it is small (printed).

    .venv/bin/python bench/profiles.py                              # both benchmarks
    .venv/bin/python bench/profiles.py --benchmark magnitude --rounds 9
    .venv/bin/python bench/profiles.py --only prunekit              # no SparseML timings
    .venv/bin/python bench/profiles.py --json bench/out/profiles.json --check
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_MODEL = os.path.join(HERE, "models", "resnet50.onnx")
DEFAULT_BINARY = os.path.join(ROOT, "target", "release", "prunekit-kernel")
DEFAULT_SPARSEML_PYTHON = os.path.join(ROOT, ".venv-sparseml", "bin", "python")
DEFAULT_DATA = os.path.join(HERE, "out", "oneshot_input.npz")

ONESHOT_LEVELS = [0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99]  # SparseML's loss defaults
TARGET_RATIO = 3.0
BENCHMARKS = ("magnitude", "one-shot")

# Runs inside .venv-sparseml. argv: MODE MODEL [NPZ SEED BATCH LEVELS_JSON]. Prints one JSON line.
SPARSEML_SCRIPT = r"""
import importlib.util, json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy, onnx, onnxruntime
import sparseml
from sparseml.onnx.optim.sensitivity_pruning import (
    pruning_loss_sens_magnitude, pruning_loss_sens_one_shot)
from sparseml.onnx.utils import DataLoader

mode, path = sys.argv[1], sys.argv[2]
info = {
    "sparseml_version": sparseml.__version__,
    "onnx_version": onnx.__version__,
    "onnxruntime_version": onnxruntime.__version__,
    "numpy_version": numpy.__version__,
    "torch_installed": importlib.util.find_spec("torch") is not None,
}

def layers(analysis):
    return [{"id": r.id_, "name": r.name, "index": r.index, "sparse_integral": r.sparse_integral,
             "levels": list(r.averages.keys()), "averages": list(r.averages.values())}
            for r in analysis.results]

t0 = time.perf_counter()
model = onnx.load(path)
load_s = time.perf_counter() - t0

if mode == "magnitude":
    t1 = time.perf_counter()
    analysis = pruning_loss_sens_magnitude(model)
    t2 = time.perf_counter()
else:
    npz, seed, batch, levels = sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), json.loads(sys.argv[6])
    # SparseML's own random loader: uniform [0, 1) in the model input's dtype, one step of `batch`.
    numpy.random.seed(seed)
    data = DataLoader.from_model_random(model, batch, iter_steps=1, num_samples=batch)
    inputs, _ = next(iter(data))  # the loader resets when the runner iterates it again
    if mode == "oneshot-data":
        numpy.savez(npz, **inputs)
        print(json.dumps(dict(info, inputs={k: [list(v.shape), str(v.dtype)] for k, v in inputs.items()})))
        sys.exit(0)
    saved = numpy.load(npz)
    if sorted(saved.files) != sorted(inputs) or not all(numpy.array_equal(saved[k], v) for k, v in inputs.items()):
        sys.exit(f"the inputs SparseML's loader made (seed {seed}) differ from {npz}; delete it and rerun")
    t1 = time.perf_counter()
    analysis = pruning_loss_sens_one_shot(model, data, batch_size=batch, steps_per_measurement=1,
                                          sparsity_levels=levels)
    t2 = time.perf_counter()

print(json.dumps(dict(info, seconds=t2 - t1, load_seconds=load_s,
                      maxrss_self_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      layers=layers(analysis))))
"""


class BenchError(Exception):
    pass


def spawn(argv: list[str], stdout, env: dict | None = None) -> tuple[float, int, int, str]:
    """Runs argv to completion; returns (wall seconds, exit status, peak RSS in KiB, stderr text)."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err, env=env)
        _, status, rusage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait again
        err.seek(0)
        return wall, proc.returncode, rusage.ru_maxrss, err.read().decode(errors="replace")


def sparseml_env() -> dict:
    return dict(os.environ, NM_DISABLE_ANALYTICS="1", PYTHONWARNINGS="ignore")


def run_sparseml(python: str, mode: str, model: str, extra: list[str]) -> dict:
    with tempfile.TemporaryFile() as out:
        wall, rc, maxrss_kb, err = spawn([python, "-c", SPARSEML_SCRIPT, mode, model, *extra], out, sparseml_env())
        out.seek(0)
        text = out.read().decode(errors="replace")
    if rc != 0:
        raise BenchError(f"the SparseML {mode} run failed (exit {rc}):\n{err[-3000:]}")
    try:
        res = json.loads(text.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise BenchError(f"the SparseML {mode} run printed no JSON; its output ended:\n{text[-2000:]}{err[-2000:]}")
    res["process_seconds"] = wall
    res["maxrss_kb"] = maxrss_kb
    return res


def quoted(path: str) -> str:
    if '"' in path:
        raise BenchError(f"the path {path} contains a double quote, which a prunekit command cannot take")
    return f'"{path}"'


def run_prunekit(binary: str, model_copy: str, profile_cmd: str) -> dict:
    project = model_copy + ".prunekit.json"
    if os.path.exists(project):
        os.remove(project)
    argv = [binary, "run", "--format", "json", f"load {quoted(model_copy)}", profile_cmd]
    with tempfile.TemporaryFile() as out:
        wall, rc, maxrss_kb, err = spawn(argv, out)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if rc != 0:
        raise BenchError(f"`prunekit-kernel run ... '{profile_cmd}'` failed (exit {rc}):\n{err[-3000:]}")
    docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    profiles = [d for d in docs if isinstance(d, dict) and "method" in d and "layers" in d]
    if not profiles:
        raise BenchError(f"`prunekit-kernel run ... '{profile_cmd}'` printed no profile JSON:\n{text[-2000:]}")
    prof = profiles[-1]
    return {"seconds": wall, "profile_seconds": prof["seconds"], "maxrss_kb": maxrss_kb, "profile": prof}


def prunekit_version(binary: str) -> str | None:
    """`prunekit-kernel info`'s first two lines: its version and the ONNX Runtime it loaded."""
    try:
        p = subprocess.run([binary, "info"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [line.split(":")[0].strip() for line in p.stdout.decode(errors="replace").splitlines()[:2]]
    return ", ".join(line for line in lines if line) or None if p.returncode == 0 else None


def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "all": values}


# ---- cross-checks (pure Python: the harness imports nothing heavy) ----

def rel_diff(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def ranks(values: list[float]) -> list[float]:
    """1-based ranks, ties given their average rank (as scipy.stats.rankdata)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rho: Pearson's correlation of the tie-averaged ranks; None when one side is constant."""
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.fmean(ra), statistics.fmean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    return None if va == 0 or vb == 0 else cov / math.sqrt(va * vb)


def match_layers(sm_layers: list[dict], pk_layers: list[dict]) -> tuple[list[tuple[dict, dict]], list[str], list[str]]:
    pk = {layer["name"]: layer for layer in pk_layers}
    sm_ids = {layer["id"] for layer in sm_layers}
    pairs = [(s, pk[s["id"]]) for s in sm_layers if s["id"] in pk]
    return pairs, sorted(sm_ids - set(pk)), sorted(set(pk) - sm_ids)


def order_by_integral(named: list[tuple[str, float]]) -> list[str]:
    return [n for n, _ in sorted(named, key=lambda t: (-t[1], t[0]))]


def cross_check(kind: str, sm_layers: list[dict], pk_profile: dict) -> dict:
    pairs, only_sm, only_pk = match_layers(sm_layers, pk_profile["layers"])
    sm_int = [s["sparse_integral"] for s, _ in pairs]
    pk_int = [p["integral"] for _, p in pairs]
    res: dict = {
        "matched_layers": len(pairs),
        "sparseml_only": only_sm,
        "prunekit_only": only_pk,
        "spearman_integral": spearman(sm_int, pk_int) if len(pairs) > 1 else None,
        "layers": [{"id": s["id"], "sparseml_integral": s["sparse_integral"], "prunekit_integral": p["integral"]}
                   for s, p in pairs],
    }
    if kind == "magnitude":
        res["max_rel_diff_integral"] = max((rel_diff(a, b) for a, b in zip(sm_int, pk_int)), default=None)
        level_diffs = []
        levels_agree = True
        for s, p in pairs:
            if len(s["levels"]) != len(pk_profile["levels"]) or any(
                    abs(a - b) > 1e-12 for a, b in zip(s["levels"], pk_profile["levels"])):
                levels_agree = False
                continue
            level_diffs.extend(rel_diff(a, b) for a, b in zip(s["averages"], p["values"]))
        res["levels_agree"] = levels_agree
        res["max_rel_diff_values"] = max(level_diffs, default=None)
        sm_order = order_by_integral([(s["id"], s["sparse_integral"]) for s, _ in pairs])
        pk_order = order_by_integral([(p["name"], p["integral"]) for _, p in pairs])
        res["same_ranking"] = sm_order == pk_order
        res["ranking_positions_differing"] = sum(1 for a, b in zip(sm_order, pk_order) if a != b)
    else:
        res["sparseml_zero_integral_layers"] = sum(1 for v in sm_int if v == 0)
        res["prunekit_zero_integral_layers"] = sum(1 for v in pk_int if v == 0)
        res["top5_sparseml"] = order_by_integral([(s["id"], s["sparse_integral"]) for s, _ in pairs])[:5]
        res["top5_prunekit"] = order_by_integral([(p["name"], p["integral"]) for _, p in pairs])[:5]
    return res


# ---- formatting ----

def fnum(v, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def fratio(v) -> str:
    return "n/a" if v is None else f"{v:.1f}x"


def fsci(v) -> str:
    return "n/a" if v is None else f"{v:.2e}"


def main() -> int:
    ap = argparse.ArgumentParser(
        description="prunekit loss profiles vs SparseML pruning_loss_sens_magnitude / _one_shot, side by side.")
    ap.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="ONNX model (default: %(default)s)")
    ap.add_argument("--benchmark", choices=BENCHMARKS, help="run one benchmark only (default: both)")
    ap.add_argument("--rounds", type=int, default=5, help="magnitude: timed rounds per tool (default: 5)")
    ap.add_argument("--warmup", type=int, default=1, help="magnitude: untimed rounds per tool first (default: 1)")
    ap.add_argument("--oneshot-rounds", type=int, default=1,
                    help="one-shot: timed rounds per tool, no warm-up (default: 1; SparseML takes minutes)")
    ap.add_argument("--batch", type=int, default=4, help="one-shot: samples in the one batch (default: 4)")
    ap.add_argument("--seed", type=int, default=0, help="one-shot: numpy seed for SparseML's random loader (default: 0)")
    ap.add_argument("--data", default=DEFAULT_DATA, help="one-shot: where the inputs are saved (default: %(default)s)")
    ap.add_argument("--only", choices=["sparseml", "prunekit"], help="run one tool only")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON to OUT")
    ap.add_argument("--check", action="store_true", help=f"exit 1 when a {TARGET_RATIO:.0f}x target is missed")
    ap.add_argument("--binary", default=DEFAULT_BINARY, help="prunekit-kernel (default: %(default)s)")
    ap.add_argument("--sparseml-python", default=DEFAULT_SPARSEML_PYTHON, help="default: %(default)s")
    args = ap.parse_args()

    benches = [args.benchmark] if args.benchmark else list(BENCHMARKS)
    use_sparseml = args.only in (None, "sparseml")
    use_prunekit = args.only in (None, "prunekit")
    have_sparseml = os.access(args.sparseml_python, os.X_OK)
    if not os.path.isfile(args.model):
        if os.path.abspath(args.model) == DEFAULT_MODEL:
            sys.exit(f"profiles: {args.model} is missing; make it with `.venv/bin/python bench/make_resnet50.py`.")
        sys.exit(f"profiles: the model {args.model} does not exist.")
    if use_prunekit and not os.access(args.binary, os.X_OK):
        sys.exit(f"profiles: the prunekit binary {args.binary} is missing; build it with `make release`.")
    if use_sparseml and not have_sparseml:
        sys.exit(f"profiles: the SparseML venv ({args.sparseml_python}) is missing; "
                 "create it with `bash bench/setup_sparseml.sh`.")
    if "one-shot" in benches and not have_sparseml and not os.path.isfile(args.data):
        sys.exit(f"profiles: the one-shot inputs {args.data} do not exist and are made by SparseML's data loader, "
                 "whose venv is missing; create it with `bash bench/setup_sparseml.sh`.")
    if args.rounds < 1 or args.oneshot_rounds < 1 or args.batch < 1:
        sys.exit("profiles: --rounds, --oneshot-rounds and --batch must be at least 1.")

    model = os.path.abspath(args.model)
    data_path = os.path.abspath(args.data)
    size = os.path.getsize(model)
    tools = [t for t, on in (("sparseml", use_sparseml), ("prunekit", use_prunekit)) if on]
    floor_kb = spawn(["/bin/true"], subprocess.DEVNULL)[2]
    out: dict = {
        "model": {"path": model, "file_bytes": size},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "settings": {"rounds": args.rounds, "warmup": args.warmup, "oneshot_rounds": args.oneshot_rounds,
                     "batch": args.batch, "seed": args.seed, "oneshot_levels": ONESHOT_LEVELS,
                     "data": data_path, "tools": tools},
        "rss_floor_mb": floor_kb * 1024 / 1e6,
        "prunekit_version": prunekit_version(args.binary) if use_prunekit else None,
    }
    print(f"model: {model} ({size / 1e6:.1f} MB); tools: {', '.join(tools)}; benchmarks: {', '.join(benches)}",
          flush=True)

    tmp = tempfile.mkdtemp(prefix="prunekit-bench-profiles-")
    try:
        model_copy = os.path.join(tmp, os.path.basename(model))
        if use_prunekit:
            shutil.copyfile(model, model_copy)  # the project file lands in tmp, not in bench/models

        calls = {
            "magnitude": {
                "sparseml": ("magnitude", []),
                "prunekit": "profile loss --method magnitude --name bench",
            },
            "one-shot": {
                "sparseml": ("oneshot", [data_path, str(args.seed), str(args.batch), json.dumps(ONESHOT_LEVELS)]),
                "prunekit": f"profile loss --method one-shot --data {quoted(data_path)} --batch {args.batch} --name bench",
            },
        }
        out["calls"] = {
            "sparseml": {
                "magnitude": "model = onnx.load(MODEL); pruning_loss_sens_magnitude(model)  # timed: the call only",
                "one-shot": (f"model = onnx.load(MODEL); numpy.random.seed({args.seed}); "
                             f"data = DataLoader.from_model_random(model, {args.batch}, iter_steps=1, "
                             f"num_samples={args.batch}); pruning_loss_sens_one_shot(model, data, "
                             f"batch_size={args.batch}, steps_per_measurement=1, "
                             f"sparsity_levels={ONESHOT_LEVELS})  # timed: the call only"),
            },
            "prunekit": {b: f"prunekit-kernel run --format json 'load MODEL' '{calls[b]['prunekit']}'"
                         for b in benches},
        }

        def run(bench: str, tool: str) -> dict:
            if tool == "sparseml":
                mode, extra = calls[bench]["sparseml"]
                return run_sparseml(args.sparseml_python, mode, model, extra)
            return run_prunekit(args.binary, model_copy, calls[bench]["prunekit"])

        for bench in benches:
            print(f"\n== {bench} ==", flush=True)
            if bench == "one-shot":
                if have_sparseml:
                    os.makedirs(os.path.dirname(data_path), exist_ok=True)
                    made = run_sparseml(args.sparseml_python, "oneshot-data", model,
                                        calls["one-shot"]["sparseml"][1])
                    out["oneshot_inputs"] = made["inputs"]
                    print(f"  inputs from SparseML's DataLoader.from_model_random (seed {args.seed}): "
                          f"{made['inputs']} -> {data_path}", flush=True)
                else:
                    print(f"  reusing the inputs in {data_path} (no SparseML venv to remake them)", flush=True)
                rounds, warmup = args.oneshot_rounds, 0
            else:
                rounds, warmup = args.rounds, args.warmup
            for _ in range(warmup):
                for t in tools:
                    run(bench, t)
            results: dict[str, list[dict]] = {t: [] for t in tools}
            for i in range(rounds):
                order = tools if i % 2 == 0 else tools[::-1]
                line = []
                for t in order:
                    r = run(bench, t)
                    results[t].append(r)
                    if t == "sparseml":
                        line.append(f"sparseml {r['seconds']:.3f} s (process {r['process_seconds']:.3f} s)")
                    else:
                        line.append(f"prunekit {r['seconds']:.3f} s (profile {r['profile_seconds']:.3f} s)")
                print(f"  round {i + 1}/{rounds}: " + "; ".join(line), flush=True)

            res: dict = {"rounds": rounds, "warmup": warmup}
            if use_sparseml:
                sm = results["sparseml"]
                last = sm[-1]
                res["sparseml"] = {
                    "timed": "the sensitivity call alone, inside the process (start-up, imports, onnx.load "
                             "and the data loader excluded)",
                    "call": out["calls"]["sparseml"][bench],
                    "function_s": stats([r["seconds"] for r in sm]),
                    "process_s": stats([r["process_seconds"] for r in sm]),
                    "load_s": stats([r["load_seconds"] for r in sm]),
                    "peak_rss_mb": max(r["maxrss_kb"] for r in sm) * 1024 / 1e6,
                    "layers": len(last["layers"]),
                    "versions": {k: last[k] for k in ("sparseml_version", "onnx_version", "onnxruntime_version",
                                                      "numpy_version")},
                    "torch_installed": last["torch_installed"],
                }
            if use_prunekit:
                pk = results["prunekit"]
                prof = pk[-1]["profile"]
                res["prunekit"] = {
                    "timed": "the whole process, spawn to exit (start-up, model load and JSON included)",
                    "call": out["calls"]["prunekit"][bench],
                    "process_s": stats([r["seconds"] for r in pk]),
                    "profile_s": stats([r["profile_seconds"] for r in pk]),
                    "peak_rss_mb": max(r["maxrss_kb"] for r in pk) * 1024 / 1e6,
                    "layers": len(prof["layers"]),
                    "levels": len(prof["levels"]),
                    "metric": prof.get("metric"),
                    "data": prof.get("data"),
                    "notes": prof.get("notes", []),
                    "skipped": prof.get("skipped", []),
                    "compute_bound": next((n for n in prof.get("notes", []) if n.startswith("Compute bound:")), None),
                }
            if use_sparseml and use_prunekit:
                fn = res["sparseml"]["function_s"]["median"]
                res["ratio_function_over_process"] = fn / res["prunekit"]["process_s"]["median"]
                res["ratio_function_over_profile"] = fn / res["prunekit"]["profile_s"]["median"]
                res["target"] = {"ratio": TARGET_RATIO, "value": res["ratio_function_over_process"],
                                 "met": res["ratio_function_over_process"] >= TARGET_RATIO}
                res["cross_check"] = cross_check(bench, results["sparseml"][-1]["layers"], results["prunekit"][-1]["profile"])
            out[bench.replace("-", "_")] = res
    except BenchError as e:
        sys.exit(f"profiles: {e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # ---- details ----
    print()
    for bench in benches:
        res = out[bench.replace("-", "_")]
        print(f"{bench}:")
        if "sparseml" in res:
            s = res["sparseml"]
            print(f"  SparseML {s['versions']['sparseml_version']} (onnx {s['versions']['onnx_version']}, onnxruntime "
                  f"{s['versions']['onnxruntime_version']}, torch {'installed' if s['torch_installed'] else 'not installed'}): "
                  f"{s['call']}")
            print(f"    call median {s['function_s']['median']:.3f} s (min {s['function_s']['min']:.3f}, max "
                  f"{s['function_s']['max']:.3f}); whole process {s['process_s']['median']:.3f} s; onnx.load "
                  f"{s['load_s']['median']:.3f} s; peak RSS {s['peak_rss_mb']:.0f} MB; {s['layers']} layers")
        if "prunekit" in res:
            p = res["prunekit"]
            print(f"  {out['prunekit_version'] or 'prunekit'}: {p['call']}")
            print(f"    process median {p['process_s']['median']:.3f} s (min {p['process_s']['min']:.3f}, max "
                  f"{p['process_s']['max']:.3f}); profile `seconds` {p['profile_s']['median']:.3f} s; peak RSS "
                  f"{p['peak_rss_mb']:.0f} MB; {p['layers']} layers x {p['levels']} levels, metric {p['metric']}"
                  + (f"; skipped {len(p['skipped'])}" if p["skipped"] else ""))
            if p["compute_bound"]:
                print(f"    {p['compute_bound']}")
        cc = res.get("cross_check")
        if cc:
            extra = ""
            if cc["sparseml_only"] or cc["prunekit_only"]:
                extra = f" (unmatched: SparseML {cc['sparseml_only']}, prunekit {cc['prunekit_only']})"
            if bench == "magnitude":
                print(f"  cross-check: {cc['matched_layers']} layers matched by id{extra}; max relative difference "
                      f"of the integrals {fsci(cc['max_rel_diff_integral'])}, of the per-level values "
                      f"{fsci(cc['max_rel_diff_values'])}"
                      + ("" if cc["levels_agree"] else " (the levels differ for some layers)")
                      + f"; ranking by integral {'identical' if cc['same_ranking'] else 'DIFFERS'}"
                      + ("" if cc["same_ranking"] else f" ({cc['ranking_positions_differing']} positions)")
                      + f"; Spearman {fnum(cc['spearman_integral'], 4)}")
            else:
                print(f"  cross-check (ranking only; SparseML's KL shifts and clips, prunekit's does not): "
                      f"{cc['matched_layers']} layers matched by id{extra}; Spearman rank correlation of the "
                      f"per-layer integrals {fnum(cc['spearman_integral'], 3)}; layers with a zero integral: "
                      f"SparseML {cc['sparseml_zero_integral_layers']}, prunekit {cc['prunekit_zero_integral_layers']}")
                print(f"    most sensitive, SparseML: {', '.join(cc['top5_sparseml'])}")
                print(f"    most sensitive, prunekit: {', '.join(cc['top5_prunekit'])}")
    print(f"(RSS floor inherited from this harness, measured with /bin/true: {out['rss_floor_mb']:.1f} MB; "
          f"{os.cpu_count()} CPUs)")

    # ---- the table ----
    print()
    print("| benchmark | rounds | SparseML call s | SparseML process s | prunekit process s | prunekit profile s "
          "| call / process | call / profile | target 3x |")
    print("|---|---|---|---|---|---|---|---|---|")
    for bench in benches:
        res = out[bench.replace("-", "_")]
        s, p = res.get("sparseml"), res.get("prunekit")
        tgt = res.get("target")
        print(f"| {bench} | {res['rounds']} "
              f"| {fnum(s and s['function_s']['median'])} | {fnum(s and s['process_s']['median'])} "
              f"| {fnum(p and p['process_s']['median'])} | {fnum(p and p['profile_s']['median'])} "
              f"| {fratio(res.get('ratio_function_over_process'))} | {fratio(res.get('ratio_function_over_profile'))} "
              f"| {'n/a' if not tgt else ('met' if tgt['met'] else 'MISSED')} |")
    print("\n(medians; the target is SparseML's call time / prunekit's whole process)")

    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")
    if args.check and not all(out[b.replace("-", "_")].get("target", {"met": True})["met"] for b in benches):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

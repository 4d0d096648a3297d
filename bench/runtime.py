#!/usr/bin/env python3
"""Side-by-side benchmark: prunekit's `benchmark` command against onnxruntime's own Python API.

The question (docs/benchmarks.md): is prunekit's harness honest? For one model, batch and thread
count, the throughput prunekit measures should be within 5% of what `InferenceSession.run` measures
on the same machine, in the same run of this script.

Configurations (default; `--config NAME` picks some):

* resnet50-b1:  bench/models/resnet50.onnx, batch 1, 2 intra-op threads
* resnet50-b8:  bench/models/resnet50.onnx, batch 8, 2 intra-op threads
* digits-b64:   tests/fixtures/digits_cnn.onnx, batch 64, 1 thread (a tiny model: the per-call
                overhead of each harness dominates)

Each configuration runs in `--rounds` rounds (default 5) that alternate which tool goes first. In
every round each tool runs once, in its own child process (the two never share a process, and the
harness itself imports only the standard library):

* prunekit: `prunekit-kernel run --format json 'load MODEL' 'benchmark --batch B --threads T
  --iterations N --warmup W'`. One session with T intra-op threads (ORT's default graph
  optimizations), inputs made once (seeded uniform [0, 1) float32), W untimed runs, then N runs each
  timed alone with a wall clock around `session.run`. The model is a copy in a temporary folder, so
  no project file lands in bench/models or tests/fixtures.
* onnxruntime: `.venv/bin/python -c SCRIPT` with onnxruntime 1.31.1 (the library prunekit loads):
  `so = SessionOptions(); so.intra_op_num_threads = T`, `InferenceSession(MODEL, so,
  providers=['CPUExecutionProvider'])`, the inputs made once (numpy uniform [0, 1) float32, batch
  dimension set to B), W untimed runs, then N runs each timed with `time.perf_counter()` around
  `sess.run(None, feed)`.

Both sides count items/s the same way: B * 1000 / mean ms per batch. Per configuration the report
gives each tool's median items/s over the rounds, the ratio prunekit / onnxruntime and a verdict
(within 5% or not), then a Markdown table.

Quiet machine: before each round the harness samples /proc/stat for one second while nothing of its
own runs and, if more than `--max-load` cores (default 1.0) are busy, waits (up to `--wait` s,
default 60) for them to calm down. The 1-minute load average is reported too, but not used to
decide: it includes the harness's own two-thread runs of the minute before, so it would never fall
below ~1 between rounds. During every child run the CPU time used by everything else on the machine
(system busy time minus the child's own rusage) is recorded as "others" (cores busy on average).

    .venv/bin/python bench/runtime.py
    .venv/bin/python bench/runtime.py --rounds 9 --config digits-b64
    .venv/bin/python bench/runtime.py --json bench/out/runtime.json --check
"""

from __future__ import annotations

import argparse
import json
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
DEFAULT_BINARY = os.path.join(ROOT, "target", "release", "prunekit-kernel")
DEFAULT_ORT_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
RESNET = os.path.join(HERE, "models", "resnet50.onnx")
DIGITS = os.path.join(ROOT, "tests", "fixtures", "digits_cnn.onnx")

TOLERANCE = 0.05

# name -> (model, batch, threads, iterations, warmup)
CONFIGS = {
    "resnet50-b1": (RESNET, 1, 2, 40, 5),
    "resnet50-b8": (RESNET, 8, 2, 12, 2),
    "digits-b64": (DIGITS, 64, 1, 3000, 200),
}

# Runs in the onnxruntime venv. argv: MODEL BATCH THREADS ITERATIONS WARMUP SEED. Prints one JSON line.
ORT_SCRIPT = r"""
import json, sys, time
import numpy as np
import onnxruntime as ort

path, batch, threads, iterations, warmup, seed = sys.argv[1], *map(int, sys.argv[2:7])
given = json.loads(sys.argv[7]) if len(sys.argv) > 7 else None  # one input's whole shape
so = ort.SessionOptions()
so.intra_op_num_threads = threads
t0 = time.perf_counter()
sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
load_s = time.perf_counter() - t0
rng = np.random.default_rng(seed)
feed = {}
for i in sess.get_inputs():
    if i.type != "tensor(float)":
        sys.exit(f"input {i.name} is {i.type}; this benchmark only makes float inputs")
    shape = list(given or i.shape)
    if shape and not isinstance(shape[0], int):
        shape[0] = batch
    if any(not isinstance(d, int) for d in shape):
        sys.exit(f"input {i.name} has a symbolic dimension besides the batch: {i.shape}")
    feed[i.name] = rng.random(shape, dtype=np.float32)
for _ in range(warmup):
    sess.run(None, feed)
ms = []
for _ in range(iterations):
    t = time.perf_counter()
    sess.run(None, feed)
    ms.append((time.perf_counter() - t) * 1000.0)
print(json.dumps({"ms": ms, "load_seconds": load_s, "onnxruntime_version": ort.__version__,
                  "onnxruntime_file": ort.__file__, "numpy_version": np.__version__,
                  "providers": sess.get_providers()}))
"""


class BenchError(Exception):
    pass


def cpu_times() -> tuple[float, float]:
    """(busy seconds, total seconds) summed over all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return (total - idle) / hz, total / hz


def busy_cores(seconds: float = 1.0) -> float:
    b0, _ = cpu_times()
    t0 = time.monotonic()
    time.sleep(seconds)
    b1, _ = cpu_times()
    return (b1 - b0) / (time.monotonic() - t0)


def loadavg1() -> float:
    return os.getloadavg()[0]


def wait_quiet(max_load: float, wait_s: float) -> dict:
    """Waits until at most max_load cores are busy (1 s samples), up to wait_s seconds."""
    started = time.monotonic()
    busy = busy_cores()
    while busy > max_load and time.monotonic() - started < wait_s:
        busy = busy_cores(2.0)
    return {"busy_cores": busy, "loadavg1": loadavg1(), "waited_s": time.monotonic() - started,
            "quiet": busy <= max_load}


def spawn(argv: list[str], env: dict | None = None) -> dict:
    """Runs argv; returns its output, wall time, exit code and the CPU others used meanwhile."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        b0, _ = cpu_times()
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        b1, _ = cpu_times()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        own = ru.ru_utime + ru.ru_stime
        return {"rc": proc.returncode, "stdout": out.read().decode(errors="replace"),
                "stderr": err.read().decode(errors="replace"), "wall_s": wall, "cpu_s": own,
                "others_cores": max(0.0, (b1 - b0) - own) / wall, "maxrss_kb": ru.ru_maxrss}


def percentile(sorted_ms: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default, as prunekit does)."""
    if not sorted_ms:
        return 0.0
    pos = q * (len(sorted_ms) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_ms) - 1)
    return sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * (pos - lo)


def summarize(ms: list[float], batch: int) -> dict:
    s = sorted(ms)
    mean = sum(ms) / len(ms)
    return {"iterations": len(ms), "mean": mean, "p50": percentile(s, 0.5), "p90": percentile(s, 0.9),
            "p99": percentile(s, 0.99), "items_per_second": batch * 1000.0 / mean}


def quoted(path: str) -> str:
    if '"' in path:
        raise BenchError(f"the path {path} contains a double quote, which a prunekit command cannot take")
    return f'"{path}"'


def run_commands(folder, commands: list[str], binary: str = DEFAULT_BINARY) -> list[dict]:
    """`prunekit-kernel run --format json COMMANDS...` in `folder`: each command's JSON result, in
    order; exits with the tool's own message when it fails."""
    proc = subprocess.run([binary, "run", "--format", "json", *commands], cwd=folder,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"prunekit-kernel run failed: {proc.stderr[-3000:] or proc.stdout[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def run_prunekit(binary: str, model: str, batch: int, threads: int, iterations: int, warmup: int) -> dict:
    project = model + ".prunekit.json"
    if os.path.exists(project):
        os.remove(project)
    cmd = f"benchmark --batch {batch} --threads {threads} --iterations {iterations} --warmup {warmup}"
    p = spawn([binary, "run", "--format", "json", f"load {quoted(model)}", cmd])
    if os.path.exists(project):
        os.remove(project)
    if p["rc"] != 0:
        raise BenchError(f"`prunekit-kernel run ... '{cmd}'` failed (exit {p['rc']}):\n{p['stdout'][-2000:]}{p['stderr'][-2000:]}")
    docs = []
    for line in p["stdout"].splitlines():
        try:
            docs.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    benches = [d for d in docs if isinstance(d, dict) and isinstance(d.get("runs"), list) and d["runs"]]
    if not benches:
        raise BenchError(f"`prunekit-kernel run ... '{cmd}'` printed no benchmark JSON:\n{p['stdout'][-2000:]}")
    run = benches[-1]["runs"][0]
    if run["batch"] != batch or run.get("threads") != threads or run["iterations"] != iterations:
        raise BenchError(f"prunekit ran batch {run['batch']}, threads {run.get('threads')}, "
                         f"{run['iterations']} iterations; asked for {batch}, {threads}, {iterations}")
    mine = summarize(run["ms"], batch)
    return {"items_per_second": run["items_per_second"], "ms_per_batch": run["ms_per_batch"],
            "recomputed": mine, "ms": run["ms"], "process_s": p["wall_s"], "cpu_s": p["cpu_s"],
            "others_cores": p["others_cores"], "maxrss_kb": p["maxrss_kb"]}


def run_ort(python: str, model: str, batch: int, threads: int, iterations: int, warmup: int, seed: int,
            shape: list[int] | None = None) -> dict:
    """onnxruntime's own timing of `model` in a child process; `shape` gives a one-input model's
    whole input shape where it has symbolic dimensions besides the batch."""
    p = spawn([python, "-c", ORT_SCRIPT, model, str(batch), str(threads), str(iterations), str(warmup), str(seed)]
              + ([json.dumps(shape)] if shape else []))
    if p["rc"] != 0:
        raise BenchError(f"the onnxruntime run failed (exit {p['rc']}):\n{p['stderr'][-3000:]}")
    try:
        res = json.loads(p["stdout"].strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise BenchError(f"the onnxruntime run printed no JSON:\n{p['stdout'][-2000:]}{p['stderr'][-2000:]}")
    s = summarize(res["ms"], batch)
    return {"items_per_second": s["items_per_second"],
            "ms_per_batch": {k: s[k] for k in ("mean", "p50", "p90", "p99")}, "ms": res["ms"],
            "load_seconds": res["load_seconds"], "process_s": p["wall_s"], "cpu_s": p["cpu_s"],
            "others_cores": p["others_cores"], "maxrss_kb": p["maxrss_kb"],
            "versions": {k: res[k] for k in ("onnxruntime_version", "onnxruntime_file", "numpy_version", "providers")}}


def median_ms(models: dict, threads: int, batch: int, rounds: int, iterations: int = 0,
              shape: list[int] | None = None) -> dict:
    """Median over rounds of each model's p50 ms per batch, every model in a child process of its
    own in each round (sessions sharing a process would share the machine with each other's
    spinning thread pools), the order rotating between rounds, each round started on a quiet
    machine. The structured-pruning benches' timing; `iterations` timed runs per process (0: 30 at
    batch 1, else 10)."""
    names = list(models)
    ms: dict = {name: [] for name in names}
    warmup = 5 if batch == 1 else 2
    iterations = iterations or (30 if batch == 1 else 10)
    for r in range(rounds):
        wait_quiet(1.0, 60.0)
        for name in names[r % len(names):] + names[:r % len(names)]:
            run = run_ort(DEFAULT_ORT_PYTHON, str(models[name]), batch, threads, iterations, warmup, 0, shape)
            ms[name].append(run["ms_per_batch"]["p50"])
    return {name: statistics.median(v) for name, v in ms.items()}


def prunekit_info(binary: str) -> str | None:
    try:
        p = subprocess.run([binary, "info"], capture_output=True, timeout=30, check=False, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if p.returncode != 0:
        return None
    lines = [line.strip() for line in p.stdout.decode(errors="replace").splitlines()[:2]]
    return "; ".join(line for line in lines if line) or None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", action="append", choices=list(CONFIGS),
                    help="run this configuration (repeatable; default: all)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds per configuration (default: 5)")
    ap.add_argument("--iterations", type=int, help="timed runs per tool and round (default: per configuration)")
    ap.add_argument("--warmup", type=int, help="untimed runs first (default: per configuration)")
    ap.add_argument("--seed", type=int, default=0, help="onnxruntime side's numpy seed (default: 0)")
    ap.add_argument("--max-load", type=float, default=1.0,
                    help="cores others may keep busy before a round waits (default: 1.0)")
    ap.add_argument("--wait", type=float, default=60.0, help="most seconds to wait for quiet (default: 60)")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON to OUT")
    ap.add_argument("--check", action="store_true", help="exit 1 when a configuration is off by more than 5%%")
    ap.add_argument("--binary", default=DEFAULT_BINARY, help="prunekit-kernel (default: %(default)s)")
    ap.add_argument("--ort-python", default=DEFAULT_ORT_PYTHON, help="default: %(default)s")
    args = ap.parse_args()

    names = args.config or list(CONFIGS)
    for tool in (args.binary, args.ort_python):
        if not os.access(tool, os.X_OK):
            sys.exit(f"{tool} is missing; run `make setup release`")
    for name in names:
        if not os.path.exists(CONFIGS[name][0]):
            sys.exit(f"{CONFIGS[name][0]} is missing (bench/models/resnet50.onnx: `.venv/bin/python bench/make_resnet50.py`)")

    tmp_dir = tempfile.TemporaryDirectory(prefix="prunekit-runtime-")
    tmp = tmp_dir.name
    # A snapshot of the binary, so a build finishing mid-run cannot swap it between rounds (it still
    # finds the project .venv's libonnxruntime: the children run in the repository root).
    binary = shutil.copy(args.binary, os.path.join(tmp, "prunekit-kernel"))
    info = prunekit_info(binary)
    print(f"prunekit:  {info or args.binary}")
    print(f"machine:   {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}")
    print(f"rounds:    {args.rounds} per configuration, alternating which tool goes first; "
          f"quiet = at most {args.max_load} cores busy (waits up to {args.wait:.0f} s)")

    results = []
    versions = None
    failed = False
    with tmp_dir:
        copies: dict[str, str] = {}
        for name in names:
            model, batch, threads, iterations, warmup = CONFIGS[name]
            iterations = args.iterations or iterations
            warmup = args.warmup if args.warmup is not None else warmup
            if model not in copies:
                sub = os.path.join(tmp, f"m{len(copies)}")
                os.makedirs(sub)
                copies[model] = shutil.copy(model, sub)
            copy = copies[model]
            print(f"\n== {name}: {os.path.relpath(model, ROOT)}, batch {batch}, {threads} thread(s), "
                  f"{iterations} timed runs after {warmup} warm-up")
            rounds = []
            for r in range(args.rounds):
                quiet = wait_quiet(args.max_load, args.wait)
                order = ["prunekit", "onnxruntime"] if r % 2 == 0 else ["onnxruntime", "prunekit"]
                row = {"round": r + 1, "order": order, "before": quiet}
                for tool in order:
                    if tool == "prunekit":
                        row[tool] = run_prunekit(binary, copy, batch, threads, iterations, warmup)
                    else:
                        row[tool] = run_ort(args.ort_python, copy, batch, threads, iterations, warmup, args.seed)
                        versions = row[tool]["versions"]
                pk, ox = row["prunekit"], row["onnxruntime"]
                note = "" if quiet["quiet"] else "  (NOT quiet: gave up waiting)"
                print(f"  round {r + 1} ({order[0]} first; before: {quiet['busy_cores']:.2f} cores busy, "
                      f"load {quiet['loadavg1']:.2f}, waited {quiet['waited_s']:.0f} s){note}: "
                      f"prunekit {pk['items_per_second']:.2f} items/s (p50 {pk['ms_per_batch']['p50']:.3f} ms, "
                      f"others {pk['others_cores']:.2f}), "
                      f"onnxruntime {ox['items_per_second']:.2f} items/s (p50 {ox['ms_per_batch']['p50']:.3f} ms, "
                      f"others {ox['others_cores']:.2f}), ratio {pk['items_per_second'] / ox['items_per_second']:.3f}")
                rounds.append(row)
            pk_med = statistics.median(r["prunekit"]["items_per_second"] for r in rounds)
            ox_med = statistics.median(r["onnxruntime"]["items_per_second"] for r in rounds)
            pk_p50 = statistics.median(r["prunekit"]["ms_per_batch"]["p50"] for r in rounds)
            ox_p50 = statistics.median(r["onnxruntime"]["ms_per_batch"]["p50"] for r in rounds)
            ratio = pk_med / ox_med
            within = abs(ratio - 1.0) <= TOLERANCE
            failed |= not within
            res = {"config": name, "model": os.path.relpath(model, ROOT), "batch": batch, "threads": threads,
                   "iterations": iterations, "warmup": warmup,
                   "prunekit_items_per_second": pk_med, "onnxruntime_items_per_second": ox_med,
                   "prunekit_p50_ms": pk_p50, "onnxruntime_p50_ms": ox_p50,
                   "ratio": ratio, "within_5pct": within,
                   "round_ratios": [r["prunekit"]["items_per_second"] / r["onnxruntime"]["items_per_second"] for r in rounds],
                   "max_busy_cores_before": max(r["before"]["busy_cores"] for r in rounds),
                   "max_loadavg1_before": max(r["before"]["loadavg1"] for r in rounds),
                   "max_others_cores_during": max(max(r["prunekit"]["others_cores"], r["onnxruntime"]["others_cores"]) for r in rounds),
                   "rounds": rounds}
            print(f"  median: prunekit {pk_med:.2f} items/s, onnxruntime {ox_med:.2f} items/s, "
                  f"ratio {ratio:.3f} -> {'within' if within else 'NOT within'} 5%")
            results.append(res)

    print("\n| Configuration | Model | Batch | Threads | prunekit items/s | onnxruntime items/s | "
          "prunekit / ORT | Within 5% | p50 ms (pk / ORT) | Busy cores before (max) | Others during (max) |")
    print("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    for r in results:
        print(f"| {r['config']} | {os.path.basename(r['model'])} | {r['batch']} | {r['threads']} | "
              f"{r['prunekit_items_per_second']:.2f} | {r['onnxruntime_items_per_second']:.2f} | "
              f"{r['ratio']:.3f} | {'yes' if r['within_5pct'] else 'NO'} | "
              f"{r['prunekit_p50_ms']:.3f} / {r['onnxruntime_p50_ms']:.3f} | "
              f"{r['max_busy_cores_before']:.2f} | {r['max_others_cores_during']:.2f} |")
    print(f"\nMedians over {args.rounds} rounds; items/s = batch x 1000 / mean ms per batch on both sides. "
          f"Load average (1 min) before rounds peaked at {max(r['max_loadavg1_before'] for r in results):.2f}.")

    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"prunekit": info, "onnxruntime": versions, "machine": {
                "cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]},
                "tolerance": TOLERANCE, "rounds": args.rounds, "results": results}, f, indent=1)
        print(f"wrote {args.json}")
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"error: {exc}")

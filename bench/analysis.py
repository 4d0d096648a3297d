#!/usr/bin/env python3
"""Side-by-side benchmark: prunekit's model analysis against SparseML 1.7.0's ModelAnalyzer.

For one ONNX model (default bench/models/resnet50.onnx) it runs, N rounds, alternating which tool goes
first in each round:

* SparseML: `.venv-sparseml/bin/python` runs a small script that imports sparseml, then times
  `onnx.load(path)` + `ModelAnalyzer(model)` together inside the process (interpreter start-up and
  imports are excluded, which favours SparseML) and prints the seconds as JSON.
* prunekit: `target/release/prunekit-kernel analyze MODEL --format json > /dev/null`, timed as a
  whole process from spawn to exit (process start-up included, which is stricter for prunekit).

Peak RSS of both is the child's `ru_maxrss` from `os.wait4`. On Linux a child's ru_maxrss can never
be below the harness's own RSS at spawn time (exec records the old address space's high-water
mark), so this harness imports nothing heavy and reports that floor, measured with `/bin/true`.

    .venv/bin/python bench/analysis.py                      # 7 rounds on bench/models/resnet50.onnx
    .venv/bin/python bench/analysis.py --only sparseml      # the peer alone (no Rust binary needed)
    .venv/bin/python bench/analysis.py --rounds 11 --json bench/out/analysis.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

# Runs inside .venv-sparseml. Prints one JSON line on stdout.
SPARSEML_SCRIPT = r"""
import json, os, resource, sys, time, warnings, logging
warnings.filterwarnings("ignore")
import onnx
import sparseml
from sparseml.onnx.optim import ModelAnalyzer

path = sys.argv[1]
import_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
model = onnx.load(path)
t1 = time.perf_counter()
analyzer = ModelAnalyzer(model)
t2 = time.perf_counter()
maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

# Outside the timed region: the figures it reports.
nodes = analyzer.nodes
init_params = 0
for t in model.graph.initializer:
    n = 1
    for d in t.dims:
        n *= d
    init_params += n
print(json.dumps({
    "seconds": t2 - t0,
    "load_seconds": t1 - t0,
    "analyze_seconds": t2 - t1,
    "maxrss_self_kb": maxrss_kb,
    "maxrss_after_imports_kb": import_rss_kb,
    "nodes": len(nodes),
    "nodes_with_output_shapes": sum(1 for n in nodes if n.output_shapes),
    "params": sum(n.params for n in nodes),
    # (prunable_params is -1 on a node that is not prunable)
    "prunable_params": sum(n.prunable_params for n in nodes if n.prunable),
    "prunable_params_zeroed": sum(n.prunable_params_zeroed for n in nodes if n.prunable),
    "prunable_nodes": sum(1 for n in nodes if n.prunable),
    "flops": int(sum((n.flops or 0) for n in nodes)),
    "initializer_params": init_params,
    "sparseml_version": sparseml.__version__,
    "onnx_version": onnx.__version__,
}))
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


def run_sparseml(python: str, model: str) -> dict:
    env = dict(os.environ, NM_DISABLE_ANALYTICS="1", PYTHONWARNINGS="ignore")
    with tempfile.TemporaryFile() as out:
        wall, rc, maxrss_kb, err = spawn([python, "-c", SPARSEML_SCRIPT, model], out, env)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if rc != 0:
        raise BenchError(f"the SparseML run failed (exit {rc}):\n{err[-3000:]}")
    res = json.loads(text.strip().splitlines()[-1])
    res["process_seconds"] = wall
    res["maxrss_kb"] = maxrss_kb
    res["stderr"] = err
    return res


def run_prunekit(binary: str, model: str) -> dict:
    wall, rc, maxrss_kb, err = spawn([binary, "analyze", model, "--format", "json"], subprocess.DEVNULL)
    if rc != 0:
        raise BenchError(f"`{binary} analyze {model} --format json` failed (exit {rc}):\n{err[-3000:]}")
    return {"seconds": wall, "maxrss_kb": maxrss_kb}


def prunekit_report(binary: str, model: str) -> dict:
    """One untimed run whose JSON is read, for the figures prunekit reports."""
    proc = subprocess.run([binary, "analyze", model, "--format", "json"], capture_output=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"prunekit analyze failed (exit {proc.returncode}):\n{proc.stderr.decode()[-3000:]}")
    doc = json.loads(proc.stdout)
    m = doc.get("model", {})
    return {
        "params": m.get("params"),
        "prunable_params": m.get("prunable_params"),
        "macs": m.get("macs"),
        "flops": m.get("flops"),
        "layers": len(doc.get("layers", [])),
    }


def prunekit_version(binary: str) -> str | None:
    try:
        p = subprocess.run([binary, "--version"], capture_output=True, timeout=10, check=False)
        return p.stdout.decode().strip() or None if p.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def summary(rounds: list[dict]) -> dict:
    secs = [r["seconds"] for r in rounds]
    rss = [r["maxrss_kb"] for r in rounds]
    return {
        "median_s": statistics.median(secs),
        "min_s": min(secs),
        "max_s": max(secs),
        "peak_rss_mb": max(rss) * 1024 / 1e6,
        "median_rss_mb": statistics.median(rss) * 1024 / 1e6,
        "seconds": secs,
        "maxrss_kb": rss,
    }


def fmt_int(v) -> str:
    return f"{v:,}" if isinstance(v, int) else "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description="prunekit analyze vs SparseML ModelAnalyzer, side by side.")
    ap.add_argument("model", nargs="?", default=DEFAULT_MODEL, help="ONNX model (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=7, help="timed rounds per tool (default: 7)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds per tool first (default: 1)")
    ap.add_argument("--only", choices=["sparseml", "prunekit"], help="run one tool only")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON to OUT")
    ap.add_argument("--binary", default=DEFAULT_BINARY, help="prunekit-kernel (default: %(default)s)")
    ap.add_argument("--sparseml-python", default=DEFAULT_SPARSEML_PYTHON, help="default: %(default)s")
    args = ap.parse_args()

    use_sparseml = args.only in (None, "sparseml")
    use_prunekit = args.only in (None, "prunekit")
    if not os.path.isfile(args.model):
        if os.path.abspath(args.model) == DEFAULT_MODEL:
            sys.exit(f"analysis: {args.model} is missing; make it with `.venv/bin/python bench/make_resnet50.py`.")
        sys.exit(f"analysis: the model {args.model} does not exist.")
    if use_prunekit and not os.access(args.binary, os.X_OK):
        sys.exit(f"analysis: the prunekit binary {args.binary} is missing; build it with `make release`.")
    if use_sparseml and not os.access(args.sparseml_python, os.X_OK):
        sys.exit(
            f"analysis: the SparseML venv ({args.sparseml_python}) is missing; "
            "create it with `bash bench/setup_sparseml.sh`."
        )
    if args.rounds < 1:
        sys.exit("analysis: --rounds must be at least 1.")

    model = os.path.abspath(args.model)
    size = os.path.getsize(model)
    tools = [t for t, on in (("sparseml", use_sparseml), ("prunekit", use_prunekit)) if on]
    run = {
        "sparseml": lambda: run_sparseml(args.sparseml_python, model),
        "prunekit": lambda: run_prunekit(args.binary, model),
    }

    # The RSS floor every child inherits from this harness (see the module docstring).
    floor_kb = spawn(["/bin/true"], subprocess.DEVNULL)[2]

    print(f"model: {model} ({size / 1e6:.1f} MB); tools: {', '.join(tools)}; "
          f"{args.warmup} warm-up + {args.rounds} timed rounds each, alternating", flush=True)
    try:
        for _ in range(args.warmup):
            for t in tools:
                run[t]()
        results: dict[str, list[dict]] = {t: [] for t in tools}
        for i in range(args.rounds):
            order = tools if i % 2 == 0 else tools[::-1]
            line = []
            for t in order:
                r = run[t]()
                results[t].append(r)
                line.append(f"{t} {r['seconds']:.3f} s / {r['maxrss_kb'] * 1024 / 1e6:.0f} MB")
            print(f"  round {i + 1}/{args.rounds}: " + "; ".join(line), flush=True)
        pk_figures = prunekit_report(args.binary, model) if use_prunekit else None
    except BenchError as e:
        sys.exit(f"analysis: {e}")

    out: dict = {
        "model": {"path": model, "file_bytes": size},
        "rounds": args.rounds,
        "warmup": args.warmup,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "rss_floor_mb": floor_kb * 1024 / 1e6,
    }
    if use_sparseml:
        sm = results["sparseml"]
        last = sm[-1]
        s = summary(sm)
        s.update({
            "timed": "onnx.load + ModelAnalyzer inside the process (start-up and imports excluded)",
            "median_load_s": statistics.median(r["load_seconds"] for r in sm),
            "median_analyze_s": statistics.median(r["analyze_seconds"] for r in sm),
            "median_process_s": statistics.median(r["process_seconds"] for r in sm),
            "peak_rss_self_mb": max(r["maxrss_self_kb"] for r in sm) * 1024 / 1e6,
            "rss_after_imports_mb": max(r["maxrss_after_imports_kb"] for r in sm) * 1024 / 1e6,
            "version": last["sparseml_version"],
            "onnx_version": last["onnx_version"],
            "reports": {k: last[k] for k in ("nodes", "nodes_with_output_shapes", "params", "prunable_params",
                                             "prunable_params_zeroed", "prunable_nodes", "flops", "initializer_params")},
        })
        if last["stderr"].strip():
            s["stderr_tail"] = last["stderr"][-2000:]
        out["sparseml"] = s
    if use_prunekit:
        s = summary(results["prunekit"])
        s.update({
            "timed": "whole process: prunekit-kernel analyze MODEL --format json > /dev/null",
            "version": prunekit_version(args.binary),
            "rss_over_file_size": s["peak_rss_mb"] * 1e6 / size,
            "reports": pk_figures,
        })
        out["prunekit"] = s
    if use_sparseml and use_prunekit:
        out["speedup_median"] = out["sparseml"]["median_s"] / out["prunekit"]["median_s"]

    # ---- the table ----
    print()
    print(f"model file: {size / 1e6:.1f} MB ({size:,} bytes)")
    if use_sparseml:
        rep = out["sparseml"]["reports"]
        print(f"initializer elements (all constants): {fmt_int(rep['initializer_params'])}")
    print()
    hdr = f"{'tool':<10} {'median s':>9} {'min s':>8} {'max s':>8} {'peak RSS MB':>12} {'RSS / file':>11}"
    print(hdr)
    print("-" * len(hdr))
    for t in tools:
        s = out[t]
        ratio = f"{s['peak_rss_mb'] * 1e6 / size:.2f}x"
        print(f"{t:<10} {s['median_s']:>9.3f} {s['min_s']:>8.3f} {s['max_s']:>8.3f} {s['peak_rss_mb']:>12.1f} {ratio:>11}")
    if "speedup_median" in out:
        print(f"\nspeedup (median SparseML / median prunekit): {out['speedup_median']:.1f}x")
    print(f"(RSS floor inherited from this harness, measured with /bin/true: {out['rss_floor_mb']:.1f} MB)")

    print()
    if use_sparseml:
        s = out["sparseml"]
        rep = s["reports"]
        print(f"SparseML {s['version']} (onnx {s['onnx_version']}): timed onnx.load + ModelAnalyzer in-process; "
              f"median load {s['median_load_s']:.3f} s + analysis {s['median_analyze_s']:.3f} s; "
              f"whole process median {s['median_process_s']:.3f} s; "
              f"RSS after imports, before the load: {s['rss_after_imports_mb']:.0f} MB")
        print(f"  reports: {rep['nodes']} nodes ({rep['nodes_with_output_shapes']} with shapes), "
              f"params {fmt_int(rep['params'])} (prunable layers' weights + biases only), "
              f"prunable_params {fmt_int(rep['prunable_params'])} in {rep['prunable_nodes']} layers "
              f"({fmt_int(rep['prunable_params_zeroed'])} zero), flops {fmt_int(rep['flops'])} "
              "(its own FLOPs definition, batch 1)")
        if "stderr_tail" in s:
            print("  its stderr said: " + s["stderr_tail"].strip().replace("\n", "\n    "))
    if use_prunekit:
        s = out["prunekit"]
        rep = s["reports"] or {}
        print(f"prunekit{(' ' + s['version']) if s['version'] else ''}: timed the whole process "
              f"(start-up included); peak RSS {s['rss_over_file_size']:.2f}x the model file")
        print(f"  reports: {rep.get('layers')} layers, params {fmt_int(rep.get('params'))}, "
              f"prunable_params {fmt_int(rep.get('prunable_params'))}, macs {fmt_int(rep.get('macs'))}, "
              f"flops {fmt_int(rep.get('flops'))}")

    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Side-by-side benchmark: the prunekit Jupyter kernel against ipykernel, as jupyter_client sees them.

Both kernels run in one hermetic Jupyter set-up in a temporary folder (docs: jupyter.md §2.3):
`prunekit-kernel install --prefix TMP` and `python -m ipykernel install --prefix TMP`, with
JUPYTER_PATH, JUPYTER_DATA_DIR, JUPYTER_RUNTIME_DIR, JUPYTER_CONFIG_DIR and IPYTHONDIR inside it.

(a) Start to ready, N rounds (default 10, after 1 untimed warm-up), the two kernels alternating
    which goes first. Each start is what a frontend does:

        km = KernelManager(kernel_name=...)        # clock starts before start_kernel()
        km.start_kernel(); kc = km.client(); kc.start_channels(); kc.wait_for_ready()

    Two times are taken in the same start:
      * ready:  when jupyter_client accepts the kernel_info_reply *and* has seen an iopub message
                (the kernel answers and iopub is connected). This is the kernel's start-up.
      * wait_for_ready() returned: ready + jupyter_client's fixed iopub flush, which returns only
                after 0.2 s with no iopub message (jupyter_client 8.10 `_async_wait_for_ready`).
                That 0.2 s is the client's, the same for every kernel, so this figure can never be
                below 0.2 s and its ratio is squeezed towards 1.
    Then the kernel is shut down (kc.stop_channels(); km.shutdown_kernel()), timed separately.

(b) A trivial cell's round trip, with one started kernel of each kind: `echo hi` (prunekit) and
    `pass` (ipykernel), sent with `kc.execute_interactive(code)`, which returns after the iopub
    `idle` for the request and the execute_reply. 5 warm-ups, then 200 cells each, interleaved one
    by one and alternating which kernel goes first. p50 and p90.

    .venv/bin/python bench/kernel.py                        # both, defaults
    .venv/bin/python bench/kernel.py --json bench/out/kernel.json
    .venv/bin/python bench/kernel.py --only ipykernel       # the peer alone (no prunekit binary)

Targets (from the kernel issue): ready at least 3x faster than ipykernel; trivial-cell p50 at most
10 ms. `--check` exits 1 when a target is missed.
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

TRIVIAL_CELL = {"prunekit": "echo hi", "python3": "pass"}
LABEL = {"prunekit": "prunekit", "python3": "ipykernel"}
START_TARGET_RATIO = 3.0
CELL_TARGET_P50_MS = 10.0


def die(msg: str) -> None:
    print(f"bench/kernel.py: {msg}", file=sys.stderr)
    sys.exit(1)


def hermetic(root: str) -> dict[str, str]:
    data = os.path.join(root, "share", "jupyter")
    env = {
        "JUPYTER_PATH": data,
        "JUPYTER_DATA_DIR": data,
        "JUPYTER_RUNTIME_DIR": os.path.join(root, "runtime"),
        "JUPYTER_CONFIG_DIR": os.path.join(root, "config"),
        "IPYTHONDIR": os.path.join(root, "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    for k, v in env.items():
        if k != "JUPYTER_PLATFORM_DIRS":
            os.makedirs(v, exist_ok=True)
    for k in [k for k in os.environ if k.startswith("JUPYTER")]:
        del os.environ[k]
    os.environ.update(env)
    return env


def install_specs(root: str, kernels: list[str], binary: str) -> dict[str, dict]:
    specs = {}
    for name in kernels:
        if name == "prunekit":
            cmd = [binary, "install", "--prefix", root]
        else:
            cmd = [sys.executable, "-m", "ipykernel", "install", "--prefix", root]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        path = os.path.join(root, "share", "jupyter", "kernels", name, "kernel.json")
        if proc.returncode != 0 or not os.path.isfile(path):
            die(f"`{' '.join(cmd)}` did not install the {name} kernelspec (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[:500]}")
        with open(path) as f:
            specs[name] = json.load(f)
    return specs


KERNEL_LOGS: dict[str, str] = {}


def kernel_output(name: str) -> dict:
    """The kernel's stdout and stderr go to one log file per kind (ipykernel warns on every start)."""
    f = open(KERNEL_LOGS[name], "ab")
    return {"stdout": f, "stderr": f}


def ready_or_die(kc, name: str) -> None:
    try:
        kc.wait_for_ready(timeout=60)
    except RuntimeError as e:
        with open(KERNEL_LOGS[name], "rb") as f:
            tail = f.read()[-2000:].decode(errors="replace")
        die(f"the {LABEL[name]} kernel did not become ready ({e}); its output:\n{tail}")


def start_once(name: str) -> dict:
    """One start to ready of kernel `name`, then its shutdown; seconds."""
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name=name)
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    km.start_kernel(cwd=ROOT, **kernel_output(name))
    t_spawned = time.perf_counter()
    kc = km.client()
    handle = kc._handle_kernel_info_reply  # called once kernel_info_reply + an iopub message arrived

    def mark_ready(msg, _handle=handle):
        marks.setdefault("ready", time.perf_counter())
        return _handle(msg)

    kc._handle_kernel_info_reply = mark_ready
    kc.start_channels()
    try:
        ready_or_die(kc, name)
        t_returned = time.perf_counter()
    finally:
        t_down0 = time.perf_counter()
        kc.stop_channels()
        km.shutdown_kernel()
        t_down1 = time.perf_counter()
    return {
        "start_kernel": t_spawned - t0,
        "ready": marks.get("ready", t_returned) - t0,
        "wait_for_ready_returned": t_returned - t0,
        "shutdown": t_down1 - t_down0,
    }


class Started:
    """A started kernel with a connected blocking client, for the round trips."""

    def __init__(self, name: str):
        from jupyter_client import KernelManager

        self.name = name
        self.km = KernelManager(kernel_name=name)
        self.km.start_kernel(cwd=ROOT, **kernel_output(name))
        self.kc = self.km.client()
        self.kc.start_channels()
        ready_or_die(self.kc, name)
        self.outputs: list[dict] = []

    def cell(self, code: str) -> tuple[float, dict]:
        self.outputs = []
        t0 = time.perf_counter()
        reply = self.kc.execute_interactive(code, timeout=30, allow_stdin=False,
                                            output_hook=self.outputs.append)
        return time.perf_counter() - t0, reply

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel()


def pct(xs: list[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation."""
    s = sorted(xs)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(xs: list[float]) -> dict:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs),
            "p50": pct(xs, 50), "p90": pct(xs, 90), "n": len(xs)}


def describe_outputs(outputs: list[dict]) -> list[str]:
    seen = []
    for m in outputs:
        t = m["header"]["msg_type"]
        if t in ("status", "execute_input"):
            continue
        c = m["content"]
        if t == "stream":
            seen.append(f"stream/{c.get('name')}: {c.get('text', '')[:60]!r}")
        elif t in ("execute_result", "display_data"):
            seen.append(f"{t}: {sorted(c.get('data', {}))}")
        elif t == "error":
            seen.append(f"error: {c.get('ename')}: {c.get('evalue')}")
        else:
            seen.append(t)
    return seen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10, help="start-to-ready rounds (default 10)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed start rounds first (default 1)")
    ap.add_argument("--cells", type=int, default=200, help="trivial cells per kernel (default 200)")
    ap.add_argument("--cell-warmup", type=int, default=5, help="untimed cells first (default 5)")
    ap.add_argument("--binary", default=DEFAULT_BINARY, help="the prunekit-kernel binary")
    ap.add_argument("--only", choices=["prunekit", "ipykernel"], help="run one kernel alone")
    ap.add_argument("--json", metavar="OUT", help="write every figure and sample to OUT")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()

    kernels = ["prunekit", "python3"]
    if args.only == "prunekit":
        kernels = ["prunekit"]
    elif args.only == "ipykernel":
        kernels = ["python3"]
    if "prunekit" in kernels and not os.path.isfile(args.binary):
        die(f"{os.path.relpath(args.binary, ROOT)} is missing: run `make release` first.")
    try:
        import ipykernel  # noqa: F401
        import jupyter_client
    except ImportError as e:
        die(f"{e.name} is not importable by {sys.executable}: run `make setup` and use .venv/bin/python.")

    root = tempfile.mkdtemp(prefix="prunekit-bench-kernel-")
    try:
        env = hermetic(root)
        specs = install_specs(root, kernels, args.binary)
        for k in kernels:
            KERNEL_LOGS[k] = os.path.join(root, f"{k}.log")
        versions = {"jupyter_client": jupyter_client.__version__,
                    "ipykernel": __import__("ipykernel").__version__,
                    "python": platform.python_version()}
        if "prunekit" in kernels:
            info = subprocess.run([args.binary, "info"], capture_output=True, text=True, timeout=30)
            versions["prunekit"] = (info.stdout.splitlines() or ["?"])[0]
        print(f"kernels: {', '.join(LABEL[k] for k in kernels)}; hermetic Jupyter dirs in {root}")
        print(f"versions: {versions}")

        # (a) start to ready
        starts: dict[str, list[dict]] = {k: [] for k in kernels}
        total = args.warmup + args.rounds
        for r in range(total):
            order = kernels if r % 2 == 0 else kernels[::-1]
            for name in order:
                s = start_once(name)
                if r >= args.warmup:
                    starts[name].append(s)
            tag = "warm-up" if r < args.warmup else f"round {r - args.warmup + 1}/{args.rounds}"
            print(f"  start {tag}: " + ", ".join(
                f"{LABEL[k]} ready {starts[k][-1]['ready']:.3f}s" if r >= args.warmup else LABEL[k]
                for k in kernels), flush=True)

        # (b) trivial cell round trips
        rtt: dict[str, list[float]] = {k: [] for k in kernels}
        first_outputs: dict[str, list[str]] = {}
        bad_replies: dict[str, list[str]] = {k: [] for k in kernels}
        started = {}
        try:
            for name in kernels:
                started[name] = Started(name)
            for name in kernels:
                for _ in range(args.cell_warmup):
                    _, reply = started[name].cell(TRIVIAL_CELL[name])
                first_outputs[name] = describe_outputs(started[name].outputs)
            for i in range(args.cells):
                order = kernels if i % 2 == 0 else kernels[::-1]
                for name in order:
                    dt, reply = started[name].cell(TRIVIAL_CELL[name])
                    rtt[name].append(dt)
                    status = reply["content"].get("status")
                    if status != "ok" and len(bad_replies[name]) < 5:
                        bad_replies[name].append(json.dumps(reply["content"])[:300])
        finally:
            for k in started.values():
                k.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    # Report
    res = {k: {
        "ready": summary([s["ready"] for s in starts[k]]),
        "wait_for_ready_returned": summary([s["wait_for_ready_returned"] for s in starts[k]]),
        "start_kernel": summary([s["start_kernel"] for s in starts[k]]),
        "shutdown": summary([s["shutdown"] for s in starts[k]]),
        "cell": summary(rtt[k]),
    } for k in kernels}

    cols = [LABEL[k] for k in kernels] + (["ipykernel / prunekit"] if len(kernels) == 2 else [])
    rows = [
        ("start to ready, median (s)", "ready", "median", 1.0, "{:.3f}"),
        ("  min (s)", "ready", "min", 1.0, "{:.3f}"),
        ("  max (s)", "ready", "max", 1.0, "{:.3f}"),
        ("wait_for_ready() returned, median (s)", "wait_for_ready_returned", "median", 1.0, "{:.3f}"),
        ("  of which start_kernel(), median (s)", "start_kernel", "median", 1.0, "{:.3f}"),
        ("shutdown_kernel(), median (s)", "shutdown", "median", 1.0, "{:.3f}"),
        ("trivial cell round trip p50 (ms)", "cell", "p50", 1000.0, "{:.2f}"),
        ("trivial cell round trip p90 (ms)", "cell", "p90", 1000.0, "{:.2f}"),
    ]
    w0 = max(len(r[0]) for r in rows)
    print()
    print(f"{'':<{w0}}  " + "  ".join(f"{c:>20}" for c in cols))
    for label, key, stat, scale, fmt in rows:
        vals = [res[k][key][stat] * scale for k in kernels]
        cells = [fmt.format(v) for v in vals]
        if len(kernels) == 2:
            cells.append(f"{vals[1] / vals[0]:.1f}x" if vals[0] > 0 else "-")
        print(f"{label:<{w0}}  " + "  ".join(f"{c:>20}" for c in cells))
    print(f"\n(start rounds: {args.rounds} after {args.warmup} warm-up; cells: {args.cells} each after "
          f"{args.cell_warmup} warm-ups; cell code: " +
          ", ".join(f"{LABEL[k]} {TRIVIAL_CELL[k]!r}" for k in kernels) + ")")
    for k in kernels:
        print(f"{LABEL[k]} outputs for {TRIVIAL_CELL[k]!r}: {first_outputs.get(k) or 'none'}")
        if bad_replies[k]:
            print(f"{LABEL[k]}: execute_reply status was not ok: {bad_replies[k]}")

    verdict = {}
    if "prunekit" in kernels:
        p50 = res["prunekit"]["cell"]["p50"] * 1000
        verdict["cell_p50_ms"] = {"value": p50, "target": CELL_TARGET_P50_MS,
                                  "met": p50 <= CELL_TARGET_P50_MS}
        if len(kernels) == 2:
            ratio = res["python3"]["ready"]["median"] / res["prunekit"]["ready"]["median"]
            ratio_wfr = (res["python3"]["wait_for_ready_returned"]["median"]
                         / res["prunekit"]["wait_for_ready_returned"]["median"])
            verdict["start_ratio"] = {"value": ratio, "target": START_TARGET_RATIO,
                                      "met": ratio >= START_TARGET_RATIO,
                                      "wait_for_ready_returned_ratio": ratio_wfr}
            print(f"\ntarget start to ready >= {START_TARGET_RATIO:.0f}x ipykernel: "
                  f"{ratio:.1f}x -> {'met' if ratio >= START_TARGET_RATIO else 'MISSED'} "
                  f"(wait_for_ready() return: {ratio_wfr:.1f}x, includes the client's 0.2 s flush)")
        print(f"target trivial cell p50 <= {CELL_TARGET_P50_MS:.0f} ms: {p50:.2f} ms -> "
              f"{'met' if p50 <= CELL_TARGET_P50_MS else 'MISSED'}")

    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        out = {
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                        "processor": platform.processor() or platform.machine()},
            "versions": versions,
            "kernelspecs": specs,
            "hermetic_env": sorted(env),
            "settings": {"rounds": args.rounds, "warmup": args.warmup, "cells": args.cells,
                         "cell_warmup": args.cell_warmup, "cell_code": {LABEL[k]: TRIVIAL_CELL[k]
                                                                        for k in kernels}},
            "results": {LABEL[k]: res[k] for k in kernels},
            "samples": {LABEL[k]: {"starts": starts[k], "cell_seconds": rtt[k]} for k in kernels},
            "trivial_cell_outputs": {LABEL[k]: first_outputs.get(k) for k in kernels},
            "non_ok_replies": {LABEL[k]: bad_replies[k] for k in kernels},
            "targets": verdict,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.json}")

    if args.check and not all(v["met"] for v in verdict.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()

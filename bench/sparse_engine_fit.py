#!/usr/bin/env python3
"""Fits the perf profile's cost model (core/src/profile/perf/estimate.rs) to DeepSparse's measured
speedups, and checks it: model-level error per plan and the ranking of layers by time saved.

Reads what bench/sparse_engine.py wrote (the perf profile's layer times and FLOPs, each plan's
sparsities, DeepSparse's model and per-layer times). The cost model here is the Rust one, term for
term (docs/analysis.md, "Performance profile"), evaluated at the profile's levels and interpolated
linearly between them as `optimize` does; `--fit` searches its constants (the least worst-case
error over every plan of every model), else it uses the constants the Rust code has now.

    .venv-deepsparse/bin/python bench/sparse_engine_fit.py bench/out/sparse_engine.json [--fit]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
from pathlib import Path

# The profile's levels (PERF_LEVELS in core/src/profile/mod.rs).
LEVELS = [0.0, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99]

# The constants of core/src/profile/perf/estimate.rs (kept equal by hand; --fit prints new ones).
CONSTANTS = {"efficiency": 0.44, "half_columns": 0.0, "rate_share": 1.0, "threshold": 0.65, "faster": False,
             "winograd": 9.0}

import numpy as np  # noqa: E402


class CostModel:
    """t(s) = t − c · (1 − (1 − s) / e) from sparsity `threshold` on, t below it: c the layer's
    compute part (its FLOPs at `rate_share` of the best FLOP rate measured, at most t) and e the
    sparse kernel's efficiency per kept weight, `efficiency · n / (n + half_columns)` for a layer
    whose weight multiplies n columns (output pixels or tokens per weight row: a sparse kernel runs
    its vectors along them, so few columns waste it). With `faster` the engine keeps the dense
    kernel where it is quicker; without, the saving goes negative (the layer slower)."""

    def __init__(self, layers: list[dict], efficiency: float, half_columns: float, rate_share: float,
                 threshold: float, faster: bool, winograd: float = 1.0):
        self.threshold, self.faster = threshold, faster
        self.t = np.array([l["ms"] or 0.0 for l in layers])
        f = np.array([l["flops"] or 0.0 for l in layers])
        rates = f / np.where(self.t > 0, self.t, np.inf)
        rate = rates.max() * rate_share if len(rates) else 0.0
        self.c = np.minimum(self.t, f / rate) if rate > 0 else np.zeros_like(self.t)
        n = np.array([l.get("columns") or 1e9 for l in layers], dtype=float)
        self.e = efficiency * n / (n + half_columns)
        # A dense engine runs 3x3 stride-1 convolutions by Winograd's algorithm, `winograd` times
        # fewer multiplications than their FLOPs: the sparse kernel competes against that.
        self.e = self.e / np.array([winograd if l.get("winograd") else 1.0 for l in layers])

    def at_levels(self) -> np.ndarray:
        """Layer times at each level, [layers, levels]."""
        lv = np.array(LEVELS)[None, :]
        gain = 1.0 - (1.0 - lv) / self.e[:, None]
        if self.faster:
            gain = np.maximum(gain, 0.0)
        gain = np.where(lv >= self.threshold, gain, 0.0)
        return self.t[:, None] - self.c[:, None] * gain


def is_winograd(layer: dict, info: dict) -> bool:
    """A Conv a dense engine runs by Winograd's algorithm: 3x3 kernel, stride 1, one group."""
    a = info.get("attributes") or {}
    return (layer["op_type"] == "Conv" and list(a.get("kernel_shape") or []) == [3, 3]
            and all(x == 1 for x in (a.get("strides") or [1, 1])) and int(a.get("group", 1) or 1) == 1)


def columns(layer: dict, weight_shape) -> float | None:
    """How many columns the layer's weight multiplies (output pixels times batch for a Conv,
    token rows for a MatMul): FLOPs / (2 · weights), as `columns` in estimate.rs."""
    if not weight_shape or not layer.get("flops") or any(d <= 0 for d in weight_shape):
        return None
    return layer["flops"] / (2 * math.prod(weight_shape))


def reduction_size(layer: dict) -> int | None:
    """The length of the dot product behind each output of a Conv/Gemm/MatMul (its weight's dims
    past the first for a Conv; the inner dimension of a Gemm/MatMul): what a sparse kernel skips in.
    As `reduction_size` in estimate.rs."""
    shape = layer.get("weight_shape")
    if not shape or any(d <= 0 for d in shape):
        return None
    attrs = layer.get("attributes") or {}
    if layer["op_type"] == "Conv":
        return int(math.prod(shape[1:]))
    if layer["op_type"] == "Gemm":
        return int(shape[1] if int(attrs.get("transB", 0) or 0) == 1 else shape[0])
    return int(shape[-2])


def interpolation(sparsity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per layer, the level index below its sparsity and the weight of the one above (linear
    interpolation between levels, as `optimize` reads the profile)."""
    lv = np.array(LEVELS)
    i = np.clip(np.searchsorted(lv, sparsity, side="right") - 1, 0, len(lv) - 2)
    w = np.clip((sparsity - lv[i]) / (lv[i + 1] - lv[i]), 0.0, 1.0)
    return i, w


def prunable_layers(entry: dict) -> list[dict]:
    shapes = {l["name"]: l for l in entry["analysis"]}
    out = []
    for layer in entry["perf"]["layers"]:
        if not layer["prunable"]:
            continue
        info = shapes.get(layer["name"], {})
        out.append(layer | {"weight_shape": info.get("weight_shape"), "attributes": info.get("attributes"),
                            "columns": columns(layer, info.get("weight_shape")),
                            "winograd": is_winograd(layer, info)})
    return out


def estimate(entry: dict, layers: list[dict], cost: CostModel, plan: dict, table=None) -> tuple[float, dict]:
    total = entry["perf"]["ms_per_batch"]
    table = cost.at_levels() if table is None else table
    i, w = plan["_interp"]
    rows = np.arange(len(layers))
    at = table[rows, i] * (1 - w) + table[rows, i + 1] * w
    saved = cost.t - at
    return total / (total - saved.sum()), {l["name"]: v for l, v in zip(layers, saved)}


def ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2
        i = j + 1
    return out


def spearman(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3:
        return None
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    sa = math.sqrt(sum((x - ma) ** 2 for x in ra))
    sb = math.sqrt(sum((y - mb) ** 2 for y in rb))
    return cov / (sa * sb) if sa and sb else None


def clusters(dense: list[dict], pruned: list[dict]) -> list[tuple[set, float, float]]:
    """DeepSparse fuses layers into groups that differ between the dense and the pruned model:
    merges the units of both runs that share a prunable layer, so that each cluster has a time in
    both. Returns (layers, dense ms, pruned ms) per cluster with at least one prunable layer."""
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for unit in dense + pruned:
        for a, b in zip(unit["layers"], unit["layers"][1:]):
            parent[find(a)] = find(b)
    groups: dict = {}
    for which, units in ((0, dense), (1, pruned)):
        for unit in units:
            if unit["layers"]:
                g = groups.setdefault(find(unit["layers"][0]), [set(), 0.0, 0.0])
                g[0].update(unit["layers"])
                g[1 + which] += unit["ms"]
    return [tuple(g) for g in groups.values()]


def layer_ranking(entry: dict, saved: dict, variant: str) -> tuple[float | None, int]:
    units = entry["deepsparse_layers"]
    rows = [(sum(saved.get(n, 0.0) for n in names), d - p) for names, d, p in clusters(units["dense"], units[variant])]
    return spearman([r[0] for r in rows], [r[1] for r in rows]), len(rows)


def prepare(report: dict) -> dict:
    """Per model its prunable layers, and per plan the interpolation of its sparsities."""
    prepared = {}
    for name, entry in report["models"].items():
        layers = [l for l in prunable_layers(entry)]
        for plan in entry["plans"].values():
            plan["_interp"] = interpolation(np.array([plan["sparsity"].get(l["name"], 0.0) for l in layers]))
        prepared[name] = layers
    return prepared


def evaluate(report: dict, prepared: dict, params: dict, ranking: bool = True) -> list[dict]:
    out = []
    for name, entry in report["models"].items():
        layers = prepared[name]
        cost = CostModel(layers, **params)
        table = cost.at_levels()
        for variant, plan in entry["plans"].items():
            est, saved = estimate(entry, layers, cost, plan, table)
            measured = entry["timing"]["deepsparse"][variant]["speedup"]
            rho, n = layer_ranking(entry, saved, variant) if ranking else (None, 0)
            out.append({"model": name, "variant": variant, "estimate": est, "measured": measured,
                        "onnxruntime": entry["timing"]["onnxruntime"][variant]["speedup"],
                        "reported": plan["estimated_speedup"], "error": (est - measured) / measured,
                        "spearman": rho, "clusters": n})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="?", default=str(Path(__file__).resolve().parent / "out" / "sparse_engine.json"))
    parser.add_argument("--fit", action="store_true", help="search the constants instead of using the code's")
    parser.add_argument("--markdown", action="store_true", help="also print the table as markdown")
    args = parser.parse_args()
    report = json.loads(Path(args.json).read_text())
    prepared = prepare(report)
    params = dict(CONSTANTS)
    if args.fit:
        grid = itertools.product([x / 50 for x in range(5, 31)], [0], [x / 10 for x in range(2, 11)],
                                 [0.0, 0.55, 0.65], [True, False], [1.0, 2.25, 4.0, 6.0, 9.0])
        keys = ("efficiency", "half_columns", "rate_share", "threshold", "faster", "winograd")
        # The least mean |log(estimate / measured)| over every plan of every model (a worst-case
        # objective chases the noisiest plan). `threshold` with `faster` off: the engine runs its
        # sparse kernels from that sparsity on, slower or not, as DeepSparse does.
        def misfit(p):
            rows = evaluate(report, prepared, dict(zip(keys, p)), False)
            return statistics.mean(abs(math.log(r["estimate"] / r["measured"])) for r in rows)

        best = min(grid, key=misfit)
        params = dict(zip(keys, best))
    rows = evaluate(report, prepared, params)
    print(f"{report['cpu']}; DeepSparse {report['deepsparse']}; batch {report['batch']}, {report['threads']} threads")
    print("cost model: " + ", ".join(f"{k} {v:g}" for k, v in params.items()))
    print(f"  {'model':<10} {'plan':<14} {'estimate':>8} {'(binary)':>8} {'DeepSparse':>10} {'ORT':>6} {'error':>6} {'layers rho':>10}")
    for r in rows:
        rho = "" if r["spearman"] is None else f"{r['spearman']:.2f} ({r['clusters']})"
        print(f"  {r['model']:<10} {r['variant']:<14} {r['estimate']:>7.2f}x {r['reported']:>7.2f}x "
              f"{r['measured']:>9.2f}x {r['onnxruntime']:>5.2f}x {100 * r['error']:>+5.0f}% {rho:>10}")
    worst = max(abs(r["error"]) for r in rows)
    rhos = [r["spearman"] for r in rows if r["spearman"] is not None]
    print(f"worst model-level error {100 * worst:.0f}%; layer ranking Spearman min {min(rhos):.2f}, "
          f"median {statistics.median(rhos):.2f}" if rhos else f"worst model-level error {100 * worst:.0f}%")
    errors = [r["error"] for r in rows]
    print(f"error band: {100 * min(errors):+.0f}% to {100 * max(errors):+.0f}%; within 15%: "
          f"{sum(abs(e) <= 0.15 for e in errors)} of {len(errors)}")
    if args.markdown:
        print("\n| model | pruned | estimate | DeepSparse measured | ONNX Runtime measured | error | layers' Spearman (clusters) |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for r in rows:
            rho = "—" if r["spearman"] is None else f"{r['spearman']:.2f} ({r['clusters']})"
            print(f"| {r['model']} | {r['variant']} | {r['estimate']:.2f}× | {r['measured']:.2f}× | "
                  f"{r['onnxruntime']:.2f}× | {100 * r['error']:+.0f}% | {rho} |")
    sys.exit(0)


if __name__ == "__main__":
    main()

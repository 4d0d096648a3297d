#!/usr/bin/env python3
"""Fits the perf profile's cost model (core/src/profile/perf/estimate.rs) to DeepSparse's measured
speedups, and checks it: model-level error per plan and the ranking of layers by time saved.

Reads what bench/sparse_engine.py wrote (the perf profile's layer times and FLOPs, each plan's
sparsities, DeepSparse's model and per-layer times). The cost model here is the Rust one, term for
term (docs/analysis.md, "Performance profile"), evaluated at each layer's own sparsity as
`optimize` reads it; `--fit` searches its constants (`misfit`: the mean error
over every plan of every model), else it uses the constants the Rust code has now;
`--leave-one-out` (several runs) fits on all runs but one and shows the error on that one.

    .venv-deepsparse/bin/python bench/sparse_engine_fit.py bench/out/sparse_engine.json [--fit] \
        [--leave-one-out] [--markdown]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import statistics
import sys
from pathlib import Path

# The profile's levels (PERF_LEVELS in core/src/profile/mod.rs).
LEVELS = [0.0, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99]

# The constants of core/src/profile/perf/estimate.rs (kept equal by hand; --fit prints new ones).
CONSTANTS = {"threshold": 0.601, "matmul_threshold": 0.5, "per_kept_weight": 8.0,
             "pointwise_efficiency": 0.66, "pointwise_overhead": 0.048,
             "spatial_efficiency": 0.51, "spatial_overhead": 0.19,
             "matmul_efficiency": 0.69, "matmul_overhead": 0.0}
# Not fitted by --fit: the model-level error cannot tell it (--scan-per-kept-weight shows the
# ranking of layers that chose it).
NOT_FITTED = ("threshold", "matmul_threshold", "per_kept_weight")
# The kernels the engine runs sparse, each with its fitted efficiency and overhead.
SPARSE_KERNELS = ("pointwise", "spatial", "matmul")
# A Conv with at most this many input channels per group runs the engine's dense kernel at any
# sparsity (DENSE_INPUT_CHANNELS in estimate.rs): not fitted.
DENSE_INPUT_CHANNELS = 4

import numpy as np  # noqa: E402


class CostModel:
    """From sparsity `threshold` on (`matmul_threshold` for a MatMul or Gemm),
    t(s) = (t − c) + c · (o + (1 − s) · (1 / e + w / n)); below it, and for a layer the engine
    always runs dense, t(s) = t. c is the layer's compute part (its FLOPs at the best FLOP rate any
    prunable layer reached in the profile, at most t); e the sparse kernel's efficiency per kept
    weight against the dense kernel and o its fixed cost, each kernel's own (`KIND_efficiency`,
    `KIND_overhead`); w each kept weight's own cost (`per_kept_weight`, Conv kernels only) in
    output positions' worth, spread over the layer's n output positions."""

    def __init__(self, layers: list[dict], threshold: float, matmul_threshold: float,
                 per_kept_weight: float, **kernels: float):
        self.threshold = np.array([threshold if l["op_type"] == "Conv" else matmul_threshold for l in layers])
        self.t = np.array([l["ms"] or 0.0 for l in layers])
        f = np.array([l["flops"] or 0.0 for l in layers])
        rates = f / np.where(self.t > 0, self.t, np.inf)
        rate = rates.max() if len(rates) else 0.0
        self.c = np.minimum(self.t, f / rate) if rate > 0 else np.zeros_like(self.t)
        self.dense = np.array([l["kernel"] == "dense" for l in layers])
        own = lambda l, what: kernels[f"{l['kernel']}_{what}"] if l["kernel"] != "dense" else 1.0  # noqa: E731
        self.e = np.array([own(l, "efficiency") for l in layers])
        self.o = np.array([own(l, "overhead") for l in layers])
        once = lambda l: per_kept_weight / l["positions"] if l["kernel"] in ("pointwise", "spatial") else 0.0  # noqa: E731
        self.w = np.array([once(l) for l in layers])

    def at(self, sparsity: np.ndarray) -> np.ndarray:
        """Each layer's time at its own sparsity (`sparsity` per layer, or [layers, k] for k each)."""
        s = np.asarray(sparsity, dtype=float)
        col = (lambda a: a[:, None]) if s.ndim == 2 else (lambda a: a)
        share = col(self.o) + (1.0 - s) * (1.0 / col(self.e) + col(self.w))
        sparse = col(self.t) - col(self.c) * (1.0 - share)
        return np.where((s >= col(self.threshold)) & ~col(self.dense), sparse, col(self.t))

    def at_levels(self) -> np.ndarray:
        """Layer times at each level, [layers, levels]."""
        return self.at(np.broadcast_to(np.array(LEVELS), (len(self.t), len(LEVELS))))


def kernel(layer: dict, info: dict) -> str:
    """Which kernel the engine runs for a prunable layer (`Kernel` in estimate.rs): "dense" for a
    Conv with at most DENSE_INPUT_CHANNELS input channels per group (a first layer on RGB, a
    depthwise Conv), "spatial" for another Conv with a kernel larger than 1x1 or a stride above 1,
    "pointwise" for a 1x1 Conv with stride 1, "matmul" for a MatMul or Gemm."""
    shape = info.get("weight_shape") or []
    if layer["op_type"] != "Conv":
        return "matmul"
    if len(shape) >= 3 and 0 < shape[1] <= DENSE_INPUT_CHANNELS:
        return "dense"
    strided = any(s > 1 for s in (info.get("attributes") or {}).get("strides") or [])
    return "spatial" if (len(shape) >= 3 and math.prod(shape[2:]) > 1) or strided else "pointwise"


def positions(layer: dict, info: dict) -> float:
    """The output positions per batch each weight is applied at (`layer_positions` in estimate.rs):
    the layer's FLOPs over two per weight, whole as the Rust code rounds it; unknown (no weight, no
    FLOPs) reads as a large map, as there."""
    weights = math.prod(info.get("weight_shape") or [0])
    n = int(layer["flops"] or 0) // (2 * weights) if weights > 0 else 0
    return float(n) if n > 0 else math.inf


def prunable_layers(entry: dict) -> list[dict]:
    shapes = {l["name"]: l for l in entry["analysis"]}
    out = []
    for layer in entry["perf"]["layers"]:
        if not layer["prunable"]:
            continue
        info = shapes.get(layer["name"], {})
        out.append(layer | {"kernel": kernel(layer, info), "positions": positions(layer, info)})
    return out


def estimate(entry: dict, layers: list[dict], cost: CostModel, plan: dict) -> tuple[float, dict]:
    total = entry["perf"]["ms_per_batch"]
    saved = cost.t - cost.at(plan["_sparsity"])
    return total / (total - saved.sum()), {l["name"]: v for l, v in zip(layers, saved)}


def ranks(values: list[float]) -> list[float]:
    """Mid-ranks, values within floating-point rounding of each other tied (identical layers' savings
    computed in a different order differ in the last bits, and ranking those would rank noise)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and math.isclose(values[order[j + 1]], values[order[i]], rel_tol=1e-9, abs_tol=1e-12):
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
    """Spearman's rho between the clusters' estimated and measured time saved, and the number of
    clusters. None where the estimate changes fewer than 3 clusters (all others tie at 0): that
    ranks the measurement noise of unchanged layers, not the estimate."""
    units = entry["deepsparse_layers"]
    rows = [(sum(saved.get(n, 0.0) for n in names), d - p) for names, d, p in clusters(units["dense"], units[variant])]
    if sum(abs(r[0]) > 1e-9 for r in rows) < 3:
        return None, len(rows)
    return spearman([r[0] for r in rows], [r[1] for r in rows]), len(rows)


def prepare(report: dict) -> dict:
    """Per model its prunable layers, and per plan each one's sparsity."""
    prepared = {}
    for name, entry in report["models"].items():
        layers = [l for l in prunable_layers(entry)]
        for plan in entry["plans"].values():
            plan["_sparsity"] = np.array([plan["sparsity"].get(l["name"], 0.0) for l in layers])
        prepared[name] = layers
    return prepared


def evaluate(report: dict, prepared: dict, params: dict, ranking: bool = True, models=None) -> list[dict]:
    out = []
    for name, entry in report["models"].items():
        if models and name not in models:
            continue
        layers = prepared[name]
        cost = CostModel(layers, **params)
        for variant, plan in entry["plans"].items():
            est, saved = estimate(entry, layers, cost, plan)
            timing = entry["timing"]["deepsparse"]
            measured = timing[variant]["speedup"]
            rho, n = layer_ranking(entry, saved, variant) if ranking else (None, 0)
            out.append({"model": name, "variant": variant, "estimate": est, "measured": measured,
                        "paired": timing[variant].get("paired_speedup"),
                        "onnxruntime": entry["timing"]["onnxruntime"][variant]["speedup"],
                        "reported": plan["estimated_speedup"], "error": (est - measured) / measured,
                        "spearman": rho, "clusters": n})
    return out


def misfit(report: dict, prepared: dict, params: dict, models=None) -> float:
    """What --fit minimises: the mean |log(estimate / measured)| over the plans (not the worst
    plan's: that chases the noisiest)."""
    rows = evaluate(report, prepared, params, False, models)
    return statistics.mean(abs(math.log(r["estimate"] / r["measured"])) for r in rows)


FITTED = tuple(f"{kind}_{what}" for kind in SPARSE_KERNELS for what in ("efficiency", "overhead"))


def nelder_mead(f, x0: np.ndarray, step: float = 0.3, iterations: int = 2000) -> tuple[float, np.ndarray]:
    """The minimum of f near x0 by Nelder and Mead's simplex search (numpy only: the bench's venv
    has no scipy)."""
    points = [x0] + [x0 + step * np.eye(len(x0))[i] for i in range(len(x0))]
    values = [f(p) for p in points]
    for _ in range(iterations):
        order = np.argsort(values)
        points, values = [points[i] for i in order], [values[i] for i in order]
        if values[-1] - values[0] < 1e-9:
            break
        centre = np.mean(points[:-1], axis=0)
        reflected = 2 * centre - points[-1]
        fr = f(reflected)
        if fr < values[0]:
            expanded = 3 * centre - 2 * points[-1]
            fe = f(expanded)
            points[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            points[-1], values[-1] = reflected, fr
        else:
            contracted = (centre + points[-1]) / 2
            fc = f(contracted)
            if fc < values[-1]:
                points[-1], values[-1] = contracted, fc
            else:
                points = [points[0] + (p - points[0]) / 2 for p in points]
                values = [f(p) for p in points]
    best = int(np.argmin(values))
    return values[best], points[best]


def kernel_share(layers: list[dict], kind: str) -> float:
    """The share of a model's prunable layer time in layers on `kind` kernels."""
    total = sum(l["ms"] or 0.0 for l in layers)
    return sum(l["ms"] or 0.0 for l in layers if l["kernel"] == kind) / total if total else 0.0


def fit(report: dict, prepared: dict, models=None, given: dict | None = None) -> dict:
    """The constants that minimise `misfit` (on `models` only, when given), searched in logs from a
    few starts. The thresholds are not fitted but read off DeepSparse's kernel names: it ran its
    sparse MatMul/Gemm kernels from 0.5 on, its sparse convolutions from above 0.600 (a Conv at
    60.0% ran dense, one at 60.3% sparse, in the planned models). Nor is `per_kept_weight`
    (`scan_per_kept_weight`); `given` overrides these. Where no model in `models` spends a quarter of its prunable time on one
    kind of kernel, that kernel's constants cannot be fitted and keep the code's values."""
    fixed = {k: CONSTANTS[k] for k in NOT_FITTED} | (given or {})
    fitted = list(FITTED)
    for kind in SPARSE_KERNELS:
        if not any(kernel_share(prepared[name], kind) >= 0.25 for name in (models or prepared)):
            for constant in (f"{kind}_efficiency", f"{kind}_overhead"):
                fixed[constant] = CONSTANTS[constant]
                fitted.remove(constant)
    starts = {k: ((0.5, 0.3, 1.0) if k.endswith("efficiency") else (0.1, 0.3, 0.02)) for k in fitted}
    best = None
    for start in zip(*(starts[k] for k in fitted)):
        f = lambda x: misfit(report, prepared, fixed | dict(zip(fitted, np.exp(x))), models)  # noqa: E731
        value, x = nelder_mead(f, np.log(start))
        value, x = nelder_mead(f, x, step=0.1)
        if best is None or value < best[0]:
            best = (value, x)
    return fixed | {k: float(f"{v:.2g}") for k, v in zip(fitted, np.exp(best[1]))}


def ranked(rows: list[dict]) -> str:
    rhos = [r["spearman"] for r in rows if r["spearman"] is not None]
    return f"layer ranking Spearman at least 0.8 in {sum(r >= 0.8 for r in rhos)} of {len(rhos)}"


def scan_per_kept_weight(report: dict, prepared: dict) -> None:
    """Fits the other constants with each of a few values of `per_kept_weight` and shows both
    figures: the model-level error barely moves, so the value is the one that ranks the layers by
    time saved as DeepSparse's per-layer times do."""
    for w in (0.0, 4.0, 8.0, 16.0, 24.0):
        params = fit(report, prepared, given={"per_kept_weight": w})
        rows = evaluate(report, prepared, params)
        print(f"per_kept_weight {w:g}: {within(rows)}; {ranked(rows)}")


def within(rows: list[dict]) -> str:
    errors = [r["error"] for r in rows]
    return (f"{sum(abs(e) <= 0.15 for e in errors)} of {len(errors)} within 15%, "
            f"band {100 * min(errors):+.0f}% to {100 * max(errors):+.0f}%")


def read_run(path: str) -> dict:
    """One run's JSON, gzipped or not (bench/measured keeps the runs behind the constants, gzipped)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return json.load(f)


def merged(reports: list[dict]) -> dict:
    """Several runs as one report: each run's models named `model#run` (one run stays as it is)."""
    if len(reports) == 1:
        return reports[0]
    return reports[0] | {"models": {f"{name}#{i + 1}": entry for i, r in enumerate(reports)
                                    for name, entry in r["models"].items()}}


def leave_one_out(report: dict, prepared: dict) -> None:
    """Fits on every run but one and shows the error on that one: whether constants fitted on some
    runs carry to a run with its own perf profiles, plans and engine timings. (Each kernel's
    constants are fitted on the models that run on it, so leaving a model out would leave its
    kernel's constants unfitted.)"""
    run = lambda n: n.partition("#")[2]  # noqa: E731
    runs = list(dict.fromkeys(run(n) for n in report["models"]))
    if len(runs) < 2:
        print("leave one out: give at least two runs")
        return
    for held in runs:
        train = [n for n in report["models"] if run(n) != held]
        tested = [n for n in report["models"] if run(n) == held]
        params = fit(report, prepared, train)
        rows = evaluate(report, prepared, params, False, tested)
        print(f"fitted without run {held}: " + ", ".join(f"{k} {v:g}" for k, v in params.items()))
        print(f"  on run {held}: {within(rows)}")


def pooled_ranking(reports: list[dict], params: dict) -> None:
    """Ranks each uniform plan's layers against DeepSparse's median saving per cluster over the
    runs: the uniform models are the same files in every run, so the median takes out the per-layer
    timing noise of any one run. Each run's estimate is ranked against it; they barely differ, since
    a run's profile scales every layer alike. Clusters that DeepSparse formed differently in some run
    are left out."""
    for name in reports[0]["models"]:
        for variant in [v for v in reports[0]["models"][name]["plans"] if v.startswith("uniform")]:
            measured: dict = {}
            for rep in reports:
                units = rep["models"][name]["deepsparse_layers"]
                for names, dense, pruned in clusters(units["dense"], units[variant]):
                    measured.setdefault(frozenset(names), []).append(dense - pruned)
            pooled = {k: statistics.median(v) for k, v in measured.items() if len(v) == len(reports)}
            rhos = []
            for rep in reports:
                layers, entry = prepare(rep)[name], rep["models"][name]
                _, saved = estimate(entry, layers, CostModel(layers, **params), entry["plans"][variant])
                est = [sum(saved.get(n, 0.0) for n in names) for names in pooled]
                if sum(abs(e) > 1e-9 for e in est) >= 3:
                    rhos.append(spearman(est, list(pooled.values())))
            shown = f"{min(rhos):.3f} to {max(rhos):.3f}" if rhos else "not ranked (fewer than 3 clusters change)"
            print(f"  pooled ranking {name} {variant}: {shown} ({len(pooled)} clusters, {len(reports)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="*", default=[str(Path(__file__).resolve().parent / "out" / "sparse_engine.json")],
                        help="one or more runs of bench/sparse_engine.py, fitted together")
    parser.add_argument("--fit", action="store_true", help="search the constants instead of using the code's")
    parser.add_argument("--leave-one-out", action="store_true",
                        help="also fit on all runs but one and show the error on that one (two runs or more)")
    parser.add_argument("--scan-per-kept-weight", action="store_true",
                        help="also fit with each of a few values of per_kept_weight and show both figures")
    parser.add_argument("--pooled-ranking", action="store_true",
                        help="also rank each uniform plan's layers against DeepSparse's median saving over the runs")
    parser.add_argument("--markdown", action="store_true", help="also print the table as markdown")
    args = parser.parse_args()
    reports = [read_run(p) for p in args.json]
    report = merged(reports)
    prepared = prepare(report)
    params = fit(report, prepared) if args.fit else dict(CONSTANTS)
    rows = evaluate(report, prepared, params)
    print(f"{report['cpu']}; DeepSparse {report['deepsparse']}; batch {report['batch']}, {report['threads']} threads")
    print("cost model: " + ", ".join(f"{k} {v:g}" for k, v in params.items())
          + f"; misfit {misfit(report, prepared, params):.3f}")
    print(f"  {'model':<10} {'plan':<14} {'estimate':>8} {'(binary)':>8} {'DeepSparse':>10} {'(paired)':>9} {'ORT':>6} {'error':>6} {'layers rho':>10}")
    for r in rows:
        rho = "" if r["spearman"] is None else f"{r['spearman']:.2f} ({r['clusters']})"
        paired = "" if r["paired"] is None else f"{r['paired']:.2f}x"
        print(f"  {r['model']:<10} {r['variant']:<14} {r['estimate']:>7.2f}x {r['reported']:>7.2f}x "
              f"{r['measured']:>9.2f}x {paired:>9} {r['onnxruntime']:>5.2f}x {100 * r['error']:>+5.0f}% {rho:>10}")
    worst = max(abs(r["error"]) for r in rows)
    rhos = [r["spearman"] for r in rows if r["spearman"] is not None]
    print(f"worst model-level error {100 * worst:.0f}%; layer ranking Spearman min {min(rhos):.2f}, "
          f"median {statistics.median(rhos):.2f}, at least 0.8 in {sum(r >= 0.8 for r in rhos)} of {len(rhos)}"
          if rhos else f"worst model-level error {100 * worst:.0f}%")
    print(f"error: {within(rows)}")
    paired = [r | {"error": (r["estimate"] - r["paired"]) / r["paired"]} for r in rows if r["paired"]]
    if paired:
        # The median of per-round ratios: far from the fastest samples' where the run was contended.
        print(f"against the paired rounds' reading: {within(paired)}")
    if args.leave_one_out:
        leave_one_out(report, prepared)
    if args.scan_per_kept_weight:
        scan_per_kept_weight(report, prepared)
    if args.pooled_ranking:
        pooled_ranking(reports, params)
    if args.markdown:
        print("\n| model | pruned | estimate | DeepSparse measured | (paired rounds) | ONNX Runtime measured | error | layers' Spearman (clusters) |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            rho = "—" if r["spearman"] is None else f"{r['spearman']:.2f} ({r['clusters']})"
            paired = "—" if r["paired"] is None else f"{r['paired']:.2f}×"
            print(f"| {r['model']} | {r['variant']} | {r['estimate']:.2f}× | {r['measured']:.2f}× | {paired} | "
                  f"{r['onnxruntime']:.2f}× | {100 * r['error']:+.0f}% | {rho} |")
    sys.exit(0)


if __name__ == "__main__":
    main()

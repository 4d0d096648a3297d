"""Loss and performance profiles (`profile loss`, `profile perf`, `profiles`) against the spec.

shared/reference/sparsify.md §3.2 (approximated sensitivity), §3.3 (weight-magnitude sensitivity),
§3.4 (one-shot) and §4 (integral, value at 0.9, ranks).  Every expected number here is computed
independently in Python from the ONNX file (onnx + numpy, ONNX Runtime for accuracies); only the
per-layer activation shapes are taken from prunekit's `load` result (shape inference is tested in
test_analysis.py).  prunekit runs through `prunekit-kernel run --format json`, and, for
cancellation, through a real Jupyter kernel.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from prunekit_cli import FIXTURES, MISSING_BINARY, PRUNEKIT_BIN, REPO_ROOT, run_prunekit

sys.path.insert(0, str(REPO_ROOT / "tests" / "kernel"))
from kernel_harness import (  # noqa: E402
    hermetic_kernelspec,
    control_reply,
    execute_ok,
    iopub_until_idle,
    iopub_wait_for,
    outputs_of,
    results,
    running_kernel,
    send_control,
    shell_reply,
    structured,
)

pytestmark = pytest.mark.timeout(120)

REL_TOL = 1e-5
DIGITS_TEST = FIXTURES / "digits_test.npz"

# Fixtures with prunable layers, and the `load` arguments each needs.
PROFILED = {
    "digits_cnn": [],
    "mlp": [],
    "grouped_convs": [],
    "transformer_block": ["--dim", "sequence=4"],
    "external_data": [],
}

PRUNABLE_OPS = ("Conv", "Gemm", "MatMul")
# Ops a weight may pass through on its way to a Gemm/MatMul (§3.1: Reshape/Transpose).
VIEW_OPS = ("Transpose", "Reshape")


# ------------------------------------------------------------------------------------------------
# Helpers: running prunekit
# ------------------------------------------------------------------------------------------------


def copy_model(name: str, dest: Path) -> Path:
    """A private copy of a fixture model (and its external data), so project files land in dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in FIXTURES.glob(f"{name}.onnx*"):
        if f.name.endswith(".prunekit.json"):
            continue
        shutil.copy(f, dest / f.name)
    return dest / f"{name}.onnx"


def project_file(model: Path) -> Path:
    return model.with_name(model.name + ".prunekit.json")


def run_json(commands: list[str], timeout: float = 120) -> list[dict]:
    """`prunekit-kernel run --format json COMMANDS...`: one parsed result per stdout line."""
    proc = run_prunekit(["run", "--format", "json", *commands], timeout=timeout)
    assert proc.returncode == 0, (
        f"prunekit run {commands} exited {proc.returncode}\nstderr:\n{proc.stderr[-3000:]}")
    try:
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        pytest.fail(f"prunekit run {commands}: stdout is not JSON lines ({e}):\n"
                    f"{proc.stdout[:2000]}")


def run_raw(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    """run_prunekit without newline translation: stderr keeps its carriage returns, which is how
    progress lines are told from messages."""
    if not PRUNEKIT_BIN.is_file():
        pytest.fail(MISSING_BINARY, pytrace=False)
    proc = subprocess.run([str(PRUNEKIT_BIN), *args], cwd=REPO_ROOT, capture_output=True,
                          timeout=timeout)
    proc.stdout = proc.stdout.decode("utf-8", "replace")
    proc.stderr = proc.stderr.decode("utf-8", "replace")
    return proc


def error_lines(stderr: str) -> list[str]:
    """stderr without progress output: progress lines start with a carriage return and are
    redrawn in place; everything else is a message."""
    return [line for line in stderr.split("\n") if line.strip() and not line.startswith("\r")]


def load_command(model: Path, args: list[str]) -> str:
    return " ".join([f"load {model}", *args])


def close(a: float, b: float, rel: float = REL_TOL) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


# ------------------------------------------------------------------------------------------------
# Independent reference: prunable layers and their weights, straight from the ONNX graph
# ------------------------------------------------------------------------------------------------


class Layer:
    def __init__(self, node: onnx.NodeProto, weight_index: int, weight_name: str,
                 weight: np.ndarray, bias: np.ndarray | None):
        self.node = node
        self.name = node.output[0]  # the node id (§3.1)
        self.weight_index = weight_index
        self.weight_name = weight_name
        self.weight = weight
        self.bias = bias

    @property
    def params(self) -> int:
        return int(self.weight.size + (self.bias.size if self.bias is not None else 0))

    def activation_indices(self) -> list[int]:
        """Inputs that are activations: not the weight, not the Conv/Gemm bias (input 2)."""
        skip = {self.weight_index}
        if self.node.op_type in ("Conv", "Gemm") and len(self.node.input) > 2:
            skip.add(2)
        return [i for i, name in enumerate(self.node.input) if name and i not in skip]


def reference_layers(model_path: Path) -> tuple[list[Layer], list[str], onnx.ModelProto]:
    """Prunable layers per §3.1 (Conv weight = input 1; Gemm/MatMul: exactly one of inputs 0, 1
    is a constant, possibly through Reshape/Transpose), plus the Conv/Gemm/MatMul node ids that
    are not prunable."""
    model = onnx.load(str(model_path))  # reads external data from beside the file
    graph = model.graph
    consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer: dict[str, onnx.NodeProto] = {}
    for node in graph.node:
        for out in node.output:
            producer[out] = node
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    consts[node.output[0]] = numpy_helper.to_array(attr.t)

    def root(name: str) -> str | None:
        for _ in range(16):
            if name in consts:
                return name
            node = producer.get(name)
            if node is None or node.op_type not in VIEW_OPS:
                return None
            name = node.input[0]
        return None

    layers, not_prunable = [], []
    for node in graph.node:
        if node.op_type not in PRUNABLE_OPS:
            continue
        if node.op_type == "Conv":
            candidates = [1]
        else:
            candidates = [i for i in (0, 1) if root(node.input[i]) is not None]
        if len(candidates) != 1:
            not_prunable.append(node.output[0])
            continue
        index = candidates[0]
        name = root(node.input[index])
        if name is None or consts[name].dtype.kind != "f":
            not_prunable.append(node.output[0])
            continue
        bias = None
        if node.op_type in ("Conv", "Gemm") and len(node.input) > 2 and node.input[2]:
            bias_root = root(node.input[2])
            assert bias_root is not None, f"{node.output[0]}: bias is not a constant"
            bias = consts[bias_root]
        layers.append(Layer(node, index, name, consts[name], bias))
    return layers, not_prunable, model


def volume(shapes: list[list | None]) -> int:
    """Product of the known, non-zero dims of all the shapes together; 0 if there are none."""
    dims = [d for s in shapes if s for d in s if isinstance(d, int) and d > 0]
    return math.prod(dims) if dims else 0


def approx_sensitivity(in_vol: int, out_vol: int, params: int) -> float:
    """SparseML's `pruning_loss_sens_approx` (§3.2)."""
    if params == 0:
        return 0.0
    if in_vol == 0 or out_vol == 0:
        m = 1.0
    else:
        m = max(in_vol / out_vol, out_vol / in_vol)
    return (in_vol + out_vol) / params * m


def magnitude_levels() -> list[float]:
    return [i / 100 for i in range(100)]


def magnitude_sensitivities(weight: np.ndarray, levels: list[float]) -> list[float]:
    """SparseML's `pruning_loss_sens_magnitude` (§3.3): a full sort and Python's round."""
    v = np.sort(np.abs(weight.astype(np.float64)).ravel())
    n = v.size
    prev, out = 0, []
    for s in levels:
        i = min(round(s * n), n - 1)  # Python round: half to even
        if s <= 1e-9:
            out.append(0.0)
        elif i > prev:
            out.append(float(v[prev:i].mean()))
            prev = i
        else:
            out.append(float(v[i]))
            prev = i + 1
    return out


def trapezoid(levels: list[float], values: list[float]) -> float:
    """SparseML's `sparse_integral` (§4): a single point returns its value."""
    if len(levels) == 1:
        return values[0]
    return sum((values[i] + values[i + 1]) / 2 * (levels[i + 1] - levels[i])
               for i in range(len(levels) - 1))


def value_at(levels: list[float], values: list[float], s: float) -> float:
    return float(np.interp(s, levels, values))


def check_ranks(names: list[str], integrals: list[float], got: dict[str, int]) -> None:
    """1 for the largest integral; layers whose integrals tie may come in either order."""
    n = len(names)
    assert sorted(got[name] for name in names) == list(range(1, n + 1)), (
        f"ranks are not a permutation of 1..{n}: {got}")
    for name, x in zip(names, integrals):
        larger = sum(1 for y in integrals if y > x and not close(x, y, 1e-9))
        tied = sum(1 for y in integrals if close(x, y, 1e-9))
        assert larger + 1 <= got[name] <= larger + tied, (
            f"{name}: rank {got[name]}, expected {larger + 1}"
            + (f"..{larger + tied} (tie)" if tied > 1 else "")
            + f"; integrals {dict(zip(names, integrals))}")


def check_series(what: str, levels: list[float], got: list[float], want: list[float]) -> None:
    assert len(got) == len(want), f"{what}: {len(got)} values for {len(want)} levels"
    bad = [(s, g, w) for s, g, w in zip(levels, got, want) if not close(g, w)]
    assert not bad, f"{what}: {len(bad)} levels differ (level, prunekit, expected): {bad[:6]}"


# ------------------------------------------------------------------------------------------------
# 1. approx and magnitude against the independent computation, on every fixture
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory):
    """Per fixture: (load result, approx profile, magnitude profile, reference layers, model)."""
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            model = copy_model(name, tmp_path_factory.mktemp(name))
            out = run_json([load_command(model, PROFILED[name]),
                            "profile loss --method approx", "profile loss --method magnitude"])
            assert len(out) == 3, f"{name}: expected 3 results, got {len(out)}"
            layers, not_prunable, _ = reference_layers(model)
            cache[name] = (out[0], out[1], out[2], layers, not_prunable)
        return cache[name]

    return get


def check_layer_set(name: str, profile: dict, layers: list[Layer], not_prunable: list[str]):
    got = [l["name"] for l in profile["layers"]]
    assert got == [l.name for l in layers], (
        f"{name}: profiled layers {got}, expected the prunable {[l.name for l in layers]}")
    for l, p in zip(layers, profile["layers"]):
        assert p["weight"] == l.weight_name and p["op_type"] == l.node.op_type, (
            f"{name}/{l.name}: weight/op {p['weight']}/{p['op_type']}, "
            f"expected {l.weight_name}/{l.node.op_type}")
    skipped = {s["name"] for s in profile["skipped"]}
    assert set(not_prunable) <= skipped, (
        f"{name}: non-prunable {not_prunable} not all listed as skipped ({sorted(skipped)})")


@pytest.mark.parametrize("name", list(PROFILED))
def test_approx_matches_the_equation(name: str, profiled) -> None:
    load, profile, _, layers, not_prunable = profiled(name)
    assert profile["method"] == "approx"
    check_layer_set(name, profile, layers, not_prunable)
    assert profile["levels"] == [0.0, 1.0], profile["levels"]
    levels = profile["levels"]
    analysis = {l["name"]: l for l in load["layers"]}

    integrals = []
    for layer, got in zip(layers, profile["layers"]):
        info = analysis[layer.name]
        assert info["inputs"] == list(layer.node.input), (
            f"{name}/{layer.name}: load lists inputs {info['inputs']}, the node has "
            f"{list(layer.node.input)}")
        in_vol = volume([info["input_shapes"][i] for i in layer.activation_indices()])
        out_vol = volume(info["output_shapes"])
        sens = approx_sensitivity(in_vol, out_vol, layer.params)
        want = [0.0, sens]  # the straight line {0: 0, 1: sens} (§3.2)
        what = f"{name}/{layer.name} approx (in {in_vol}, out {out_vol}, params {layer.params})"
        check_series(what, levels, got["values"], want)
        integral = trapezoid(levels, want)
        assert close(got["integral"], integral), f"{what}: integral {got['integral']} != {integral}"
        at_90 = value_at(levels, want, 0.9)
        assert close(got["at_90"], at_90), f"{what}: at_90 {got['at_90']} != {at_90}"
        integrals.append(integral)
    check_ranks([l.name for l in layers], integrals,
                {l["name"]: l["rank"] for l in profile["layers"]})
    model_want = [sum(l["values"][i] for l in profile["layers"]) for i in range(len(levels))]
    check_series(f"{name} approx model", levels, profile["model"]["values"], model_want)


@pytest.mark.parametrize("name", list(PROFILED))
def test_magnitude_matches_a_full_sort(name: str, profiled) -> None:
    _, _, profile, layers, not_prunable = profiled(name)
    assert profile["method"] == "magnitude"
    check_layer_set(name, profile, layers, not_prunable)
    levels = magnitude_levels()
    assert len(profile["levels"]) == 100 and all(
        close(a, b, 1e-12) for a, b in zip(profile["levels"], levels)), profile["levels"]

    integrals, model_want = [], [0.0] * len(levels)
    for layer, got in zip(layers, profile["layers"]):
        want = magnitude_sensitivities(layer.weight, levels)
        what = f"{name}/{layer.name} magnitude (N={layer.weight.size})"
        check_series(what, levels, got["values"], want)
        integral = trapezoid(levels, want)
        assert close(got["integral"], integral), f"{what}: integral {got['integral']} != {integral}"
        at_90 = want[90]
        assert close(got["at_90"], at_90), f"{what}: at_90 {got['at_90']} != {at_90}"
        integrals.append(integral)
        model_want = [a + b for a, b in zip(model_want, want)]
    check_ranks([l.name for l in layers], integrals,
                {l["name"]: l["rank"] for l in profile["layers"]})
    check_series(f"{name} magnitude model", levels, profile["model"]["values"], model_want)


def test_magnitude_worked_example_by_hand() -> None:
    """The reference's own table (§3.3), so a mistake shared by prunekit and the Python
    reference above would still show."""
    w = np.arange(1, 11, dtype=np.float32) / 10
    levels = [0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99]
    want = [0, 0.15, 0.35, 0.55, 0.70, 0.80, 0.90, 1.0, 1.0, 1.0]
    got = magnitude_sensitivities(w, levels)
    assert all(abs(g - x) < 1e-6 for g, x in zip(got, want)), got
    assert close(approx_sensitivity(192, 256, 112), 5.3333333, 1e-6)
    assert close(approx_sensitivity(4, 10, 50), 0.7)
    assert close(approx_sensitivity(30, 35, 42), 65 / 42 * 35 / 30)


def half_way_model(path: Path) -> Path:
    """A model whose weight counts make s·N land half-way between integers at some of the 100
    levels (N = 10 and 50), which no fixture does (their N are multiples of 4): Gemm with
    |W| = 0.1, 0.2, .., 1.0 shuffled and signed, then MatMul [2, 25]."""
    from onnx import TensorProto, helper

    rng = np.random.default_rng(3)
    w1 = (np.arange(1, 11, dtype=np.float32) / 10)[rng.permutation(10)]
    w1 *= np.where(rng.random(10) < 0.5, -1, 1).astype(np.float32)
    w2 = rng.standard_normal((2, 25)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w1"], ["h"], name="/fc1/Gemm", transB=1),
         helper.make_node("MatMul", ["h", "w2"], ["y"], name="/fc2/MatMul")],
        "half_way",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 25])],
        [numpy_helper.from_array(w1.reshape(2, 5), "w1"), numpy_helper.from_array(w2, "w2")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def test_magnitude_rounds_half_to_even(tmp_path: Path) -> None:
    model = half_way_model(tmp_path / "half_way.onnx")
    profile = run_json([f"load {model}", "profile loss --method magnitude"])[1]
    layers, _, _ = reference_layers(model)
    levels = magnitude_levels()
    assert [l["name"] for l in profile["layers"]] == ["h", "y"], profile["layers"]
    for layer, got in zip(layers, profile["layers"]):
        halves = [s for s in levels if (s * layer.weight.size) % 1 == 0.5]
        assert halves, f"{layer.name}: no half-way level; the model does not test rounding"
        check_series(f"{layer.name} magnitude (N={layer.weight.size})", levels, got["values"],
                     magnitude_sensitivities(layer.weight, levels))


# ------------------------------------------------------------------------------------------------
# 2. Done when: one-shot on the trained digits CNN agrees with held-out accuracy drops
# ------------------------------------------------------------------------------------------------


def onnx_accuracy(model: onnx.ModelProto, x: np.ndarray, labels: np.ndarray) -> float:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {session.get_inputs()[0].name: x})
    return float((logits.argmax(axis=1) == labels).mean())


def magnitude_pruned(weight: np.ndarray, level: float) -> np.ndarray:
    """Zero the round(level·N) smallest |w| (ties by position)."""
    flat = weight.ravel().copy()
    k = round(level * flat.size)
    flat[np.argsort(np.abs(flat), kind="stable")[:k]] = 0
    return flat.reshape(weight.shape)


def with_weight(model: onnx.ModelProto, name: str, value: np.ndarray) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for init in copy.graph.initializer:
        if init.name == name:
            init.CopyFrom(numpy_helper.from_array(value.astype(numpy_helper.to_array(init).dtype),
                                                  name))
            return copy
    raise AssertionError(f"{name} is not an initializer")


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.arange(1, len(x) + 1)
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = average_ranks(np.asarray(a, float)), average_ranks(np.asarray(b, float))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / math.sqrt((ra * ra).sum() * (rb * rb).sum()))


def test_one_shot_ranking_agrees_with_held_out_accuracy(tmp_path: Path) -> None:
    model_path = copy_model("digits_cnn", tmp_path)
    out = run_json([f"load {model_path}",
                    f"profile loss --method one-shot --data {DIGITS_TEST}"], timeout=300)
    profile = out[1]
    assert profile["method"] == "one_shot", profile["method"]
    levels = profile["levels"]
    assert profile["data"]["has_labels"] and profile["data"]["samples"] == 450, profile["data"]

    # Sensitivities rise with sparsity.
    mid = len(levels) // 2
    for l in profile["layers"]:
        v = l["values"]
        assert v[0] == 0, f"{l['name']}: value at level {levels[0]} is {v[0]}, not 0"
        assert v[-1] > v[mid] > 0, (
            f"{l['name']}: one-shot values do not rise: at {levels[mid]} {v[mid]}, "
            f"at {levels[-1]} {v[-1]} ({v})")

    # The held-out accuracy drop, measured independently.
    layers, _, model = reference_layers(model_path)
    assert [l.name for l in layers] == [l["name"] for l in profile["layers"]]
    data = np.load(DIGITS_TEST)
    x, labels = data["input"], data["labels"]
    base = onnx_accuracy(model, x, labels)
    drops, accuracy_90 = {}, {}
    for layer in layers:
        pruned = with_weight(model, layer.weight_name, magnitude_pruned(layer.weight, 0.9))
        accuracy_90[layer.name] = onnx_accuracy(pruned, x, labels)
        drops[layer.name] = base - accuracy_90[layer.name]

    names = [l.name for l in layers]
    integrals = {l["name"]: l["integral"] for l in profile["layers"]}
    by_integral = sorted(names, key=lambda n: -integrals[n])
    by_drop = sorted(names, key=lambda n: -drops[n])
    rho = spearman([integrals[n] for n in names], [drops[n] for n in names])
    report = (f"Spearman {rho:.3f}\n"
              f"  prunekit one-shot integral (most sensitive first): "
              f"{[(n, round(integrals[n], 4)) for n in by_integral]}\n"
              f"  Python accuracy drop at 0.9 (largest first), baseline {base:.4f}: "
              f"{[(n, round(drops[n], 4)) for n in by_drop]}")
    print(report)
    assert rho >= 0.8, report

    # prunekit's own accuracy at 0.9 agrees with the independent measurement.
    assert profile["model"]["baseline_accuracy"] is not None
    assert abs(profile["model"]["baseline_accuracy"] - base) <= 0.01, (
        f"baseline accuracy: prunekit {profile['model']['baseline_accuracy']}, Python {base}")
    i90 = next(i for i, s in enumerate(levels) if abs(s - 0.9) < 1e-9)
    for l in profile["layers"]:
        got = l["accuracy"][i90]
        want = accuracy_90[l["name"]]
        assert abs(got - want) <= 0.01, (
            f"{l['name']}: prunekit accuracy at 0.9 {got:.4f}, Python {want:.4f}")


# ------------------------------------------------------------------------------------------------
# 3. Round trip through the project file
# ------------------------------------------------------------------------------------------------


def float_differences(a, b, path: str = "") -> list[str]:
    """Every place two parsed JSON values differ (floats compared exactly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a for d in float_differences(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in float_differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: printed {a!r}, saved {b!r}"]


def test_profiles_round_trip_through_the_project_file(tmp_path: Path) -> None:
    model = copy_model("digits_cnn", tmp_path)
    out = run_json([f"load {model}", "profile loss --method magnitude --name m1",
                    "profile perf --flops"])
    loss, flops = out[1], out[2]
    assert loss["name"] == "m1" and flops["name"] == "flops", (loss["name"], flops["name"])

    project = json.loads(project_file(model).read_text())
    assert project["latest_loss"] == "m1" and project["latest_perf"] == "flops", (
        project["latest_loss"], project["latest_perf"])
    assert set(project["loss_profiles"]) == {"m1"}, list(project["loss_profiles"])
    assert set(project["perf_profiles"]) == {"flops"}, list(project["perf_profiles"])
    # Same numbers, exactly: a profile reread from the project file must be the one printed.
    # (Checked at the end, so that the listing below is checked too when they differ.)
    saved_differs = []
    for printed, saved in ((loss, project["loss_profiles"]["m1"]),
                           (flops, project["perf_profiles"]["flops"])):
        printed = {k: v for k, v in printed.items() if k != "name"}
        assert printed.keys() == saved.keys(), (sorted(printed), sorted(saved))
        assert printed["layers"][0]["name"] == saved["layers"][0]["name"]
        diffs = float_differences(printed, saved)
        if diffs:
            saved_differs.append(
                f"profile '{printed.get('method', printed.get('kind'))}': the project file "
                f"differs from the printed JSON in {len(diffs)} places: " + "; ".join(diffs[:4]))

    listing = run_json([f"load {model}", "profiles"])[1]
    by_name = {p["name"]: p for p in listing["profiles"]}
    assert set(by_name) == {"m1", "flops"}, listing
    m1, fl = by_name["m1"], by_name["flops"]
    assert (m1["kind"], m1["method"], m1["latest"]) == ("loss", "magnitude", True), m1
    assert (fl["kind"], fl["method"], fl["latest"]) == ("perf", "flops", True), fl
    top = next(l["name"] for l in loss["layers"] if l["rank"] == 1)
    assert top in m1["summary"], f"the summary should name the most sensitive layer {top}: {m1}"
    assert isinstance(fl["summary"], str) and fl["summary"], fl

    assert not saved_differs, "\n".join(saved_differs)


# ------------------------------------------------------------------------------------------------
# 4. An interrupted profile leaves the project file untouched (real kernel)
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernelspec(tmp_path_factory: pytest.TempPathFactory):
    """The prunekit kernelspec in a temporary prefix and a hermetic Jupyter environment (as
    tests/kernel/conftest.py sets up for the kernel tests)."""
    with hermetic_kernelspec(tmp_path_factory.mktemp("jupyter")) as spec_dir:
        yield spec_dir


INTERRUPT_AFTER_S = 1.5
# "Within a few seconds": the cell must end this soon after interrupt_request is sent.
INTERRUPT_DEADLINE_S = 3.0


@pytest.mark.timeout(90)
def test_interrupted_profile_leaves_the_project_file_untouched(tmp_path: Path,
                                                               kernelspec: Path) -> None:
    model = copy_model("digits_cnn", tmp_path / "models")
    project = project_file(model)
    with running_kernel(cwd=tmp_path) as (_km, kc):
        execute_ok(kc, f"load {model}", timeout=30)
        execute_ok(kc, "profile loss --method magnitude", timeout=60)
        assert project.is_file(), "the magnitude profile was not saved"
        before = project.read_bytes()
        assert b"magnitude" in before

        sent = time.monotonic()
        msg_id = kc.execute("profile perf --iterations 1000000 --warmup 0")
        # It is running: its progress display has appeared.
        iopub_wait_for(kc, msg_id, lambda m: m["msg_type"] in ("display_data", "error"),
                       timeout=15)
        time.sleep(max(0.0, INTERRUPT_AFTER_S - (time.monotonic() - sent)))

        t0 = time.monotonic()
        interrupt_id = send_control(kc, "interrupt_request")
        reply = shell_reply(kc, msg_id, timeout=30)
        elapsed = time.monotonic() - t0
        ack = control_reply(kc, interrupt_id)
        assert ack["content"]["status"] == "ok", ack

        content = reply["content"]
        assert content["status"] == "error", f"the interrupted profile replied {content}"
        assert content["ename"] == "KeyboardInterrupt", content
        print(f"interrupted profile ended {elapsed:.2f} s after interrupt_request")
        assert elapsed <= INTERRUPT_DEADLINE_S, (
            f"the interrupted profile ended {elapsed:.2f} s after interrupt_request")
        errors = [o["content"] for o in outputs_of(iopub_until_idle(kc, msg_id))
                  if o["msg_type"] == "error"]
        assert [e["ename"] for e in errors] == ["KeyboardInterrupt"], errors

        assert project.read_bytes() == before, "the interrupted profile changed the project file"

        # The kernel carries on, and lists only the profile that completed.
        _, outputs = execute_ok(kc, "profiles", timeout=30)
        (result,) = results(outputs)
        names = [p["name"] for p in structured(result)["profiles"]]
        assert names == ["magnitude"], names
    assert project.read_bytes() == before


# ------------------------------------------------------------------------------------------------
# 5. Bad input gets one sentence
# ------------------------------------------------------------------------------------------------


def bad_npz(kind: str, path: Path) -> tuple[Path, list[str]]:
    """An .npz that does not fit the digits CNN, and words its error must contain."""
    data = np.load(DIGITS_TEST)
    x, labels = data["input"][:20], data["labels"][:20]
    if kind == "wrong_name":
        np.savez(path, pixels=x, labels=labels)
        return path, ["pixels", "input"]
    if kind == "wrong_dtype_int64":
        np.savez(path, input=(x * 16).astype(np.int64), labels=labels)
        return path, ["input", "float"]
    if kind == "wrong_dtype_uint8":
        np.savez(path, input=(x * 16).astype(np.uint8), labels=labels)
        return path, ["input", "type"]
    if kind == "wrong_fixed_dim":
        np.savez(path, input=np.zeros((20, 1, 8, 9), np.float32), labels=labels)
        return path, ["input", "shape", "9"]
    raise AssertionError(kind)


def check_one_sentence(proc, what: str, needles: list[str]) -> str:
    assert proc.returncode != 0, f"{what}: exit code 0"
    for bad in ("panicked", "RUST_BACKTRACE", "Traceback", "internal error"):
        assert bad not in proc.stderr, f"{what}: {bad!r} on stderr:\n{proc.stderr}"
    lines = error_lines(proc.stderr)
    assert len(lines) == 1, f"{what}: expected one message line on stderr, got:\n{proc.stderr!r}"
    line = lines[0]
    missing = [n for n in needles if n.lower() not in line.lower()]
    assert not missing, f"{what}: the message does not mention {missing}: {line!r}"
    return line


@pytest.mark.parametrize("kind", ["wrong_name", "wrong_dtype_int64", "wrong_dtype_uint8",
                                  "wrong_fixed_dim"])
def test_bad_data_is_one_sentence(kind: str, tmp_path: Path) -> None:
    model = copy_model("digits_cnn", tmp_path)
    npz, needles = bad_npz(kind, tmp_path / f"{kind}.npz")
    proc = run_raw(["run", "--format", "json", f"load {model}",
                    f"profile loss --method one-shot --data {npz}"], timeout=60)
    check_one_sentence(proc, kind, [str(npz), *needles])
    project = json.loads(project_file(model).read_text()) if project_file(model).exists() else {}
    assert not project.get("loss_profiles"), f"{kind}: a failed profile was saved"


@pytest.mark.parametrize("command, needles", [
    ("profile loss --method bogus", ["bogus", "method"]),
    (f"profile loss --method one-shot --data {DIGITS_TEST} --levels 0.9,0.5", ["levels"]),
])
def test_bad_flags_are_usage_errors(command: str, needles: list[str], tmp_path: Path) -> None:
    model = copy_model("digits_cnn", tmp_path)
    proc = run_raw(["run", f"load {model}", command], timeout=60)
    check_one_sentence(proc, command, needles)
    assert proc.returncode == 2, f"{command}: a usage error exits 2, got {proc.returncode}"

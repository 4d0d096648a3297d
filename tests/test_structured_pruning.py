"""Structured pruning end to end through `prunekit-kernel run`: the channel loss profile, the fit to
a FLOPs reduction, the smaller model written and repaired on calibration samples, the plan file
a framework script applies, the benchmark of the smaller model, and bad input. The trained digits
CNN is calibrated on its training split and measured on its held-out split."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from prunekit_cli import FIXTURES, refused
from prunekit_cli import results_in as results
from prunekit_cli import run_in as run


def accuracy(model: Path, data: Path) -> float:
    arrays = np.load(data)
    session = ort.InferenceSession(str(model))
    name = session.get_inputs()[0].name
    logits = session.run(None, {name: arrays[name]})[0]
    return float((logits.argmax(1) == arrays["labels"]).mean())


def weights(model: Path) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(model)).graph.initializer}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> tuple[Path, list[dict]]:
    """The digits CNN with a channel profile on its training split and a 1.5x FLOPs fit."""
    folder = tmp_path_factory.mktemp("structured")
    for name in ("digits_cnn.onnx", "digits_train.npz", "digits_test.npz"):
        shutil.copy(FIXTURES / name, folder / name)
    out = results(folder, "load digits_cnn.onnx",
                  "profile loss --structure channel --data digits_train.npz --samples 256",
                  "optimize --structure channel --flops-reduction 1.5")
    return folder, out


def test_channel_profile_measures_every_group_and_lists_the_unprunable_one(fitted):
    _, out = fitted
    profile = out[1]
    assert profile["name"] == "channels" and profile["structure"] == "channel"
    assert profile["levels"] == [0.1, 0.25, 0.5, 0.75, 0.9]
    groups = {layer["name"]: layer["values"] for layer in profile["layers"]}
    assert set(groups) == {"/conv1/Conv_output_0", "/conv2/Conv_output_0", "/fc1/Gemm_output_0"}
    for name, values in groups.items():
        assert values[-1] > values[0] >= 0, (name, values)
    # The classifier's channels are the graph's output: that group stays whole, and says why.
    assert [s["name"] for s in profile["skipped"]] == ["logits"]
    assert "graph output" in profile["skipped"][0]["reason"]


def test_fit_reaches_the_flops_reduction_with_a_channel_plan(fitted):
    _, out = fitted
    plan = out[2]
    channels = plan["channels"]
    assert channels["target"] == {"kind": "flops_reduction", "value": 1.5}
    assert channels["reached"] and channels["estimated_ratio"] >= 1.5
    assert plan["model"]["flops_reduction"] >= 1.5
    kept = {g["name"]: (g["kept"], g["channels"]) for g in channels["groups"]}
    assert any(k < c for k, c in kept.values())
    assert all(1 <= k <= c for k, c in kept.values())
    assert kept["logits"] == (10, 10)


def test_export_writes_a_smaller_model_that_repair_keeps_within_a_point(fitted):
    folder, _ = fitted
    float_accuracy = accuracy(folder / "digits_cnn.onnx", folder / "digits_test.npz")
    repaired, plain = results(
        folder, "load digits_cnn.onnx",
        "export model repaired.onnx --data digits_test.npz --calibration-data digits_train.npz",
        "export model plain.onnx")[1:]
    for written, name in ((repaired, "repaired.onnx"), (plain, "plain.onnx")):
        onnx.checker.check_model(onnx.load(str(folder / name)), full_check=True)
        channels = written["pruning"]["channels"]
        assert channels["macs_before"] / channels["macs_after"] >= 1.4
    assert repaired["pruning"]["channels"]["repaired"]["layers"]
    assert plain["pruning"]["channels"]["repaired"] is None
    after_repair = accuracy(folder / "repaired.onnx", folder / "digits_test.npz")
    without = accuracy(folder / "plain.onnx", folder / "digits_test.npz")
    assert repaired["accuracy"]["after"] == pytest.approx(after_repair, abs=1e-9)
    assert after_repair >= float_accuracy - 0.01, (after_repair, float_accuracy)
    assert after_repair > without + 0.05, (after_repair, without)


def test_plan_file_names_the_channels_the_model_keeps(fitted):
    folder, _ = fitted
    out = results(folder, "load digits_cnn.onnx",
                  "export plan plan.json --calibration-data digits_train.npz",
                  "export model small.onnx --calibration-data digits_train.npz")
    assert out[1]["kind"] == "plan" and out[1]["channels_removed"] > 0
    plan = json.loads((folder / "plan.json").read_text())
    assert plan["structure"] == "channel" and plan["index_base"] == 0
    original, small = weights(folder / "digits_cnn.onnx"), weights(folder / "small.onnx")
    for group in plan["groups"]:
        assert sorted(group["kept"] + group["removed"]) == list(range(group["channels"]))
        for slice_ in group["tensors"]:
            assert {"tensor", "axis", "offset", "block", "role", "node"} <= set(slice_)
    # conv1 reads only the image, so repair leaves it: its weight is the original's rows the plan
    # keeps, exactly.
    conv1 = next(g for g in plan["groups"] if g["name"] == "/conv1/Conv_output_0")
    assert np.array_equal(small["conv1.weight"], original["conv1.weight"][conv1["kept"]])
    assert np.array_equal(small["conv1.bias"], original["conv1.bias"][conv1["kept"]])


def test_benchmark_times_the_smaller_model_beside_the_dense_one(fitted):
    folder, _ = fitted
    bench = results(folder, "load digits_cnn.onnx",
                    "benchmark --optimization default --batch 8 --iterations 20")[1]
    assert bench["structured"] is True
    models = {r["model"] for r in bench["runs"]}
    assert models == {"dense", "pruned"}
    assert any("smaller dense model" in n for n in bench["notes"])


@pytest.mark.parametrize("commands, words", [
    (["optimize --structure channel"], ["--speedup", "--flops-reduction"]),
    (["optimize --speedup 1.5"], ["--structure channel"]),
    (["optimize --structure rows --speedup 1.5"], ["--structure rows", "channel"]),
    (["optimize --structure channel --sparsity 0.5 --speedup 2"], ["--sparsity"]),
    (["optimize --structure channel --speedup 1.5 --flops-reduction 2"], ["not both"]),
    (["optimize --structure channel --flops-reduction 0.5"], ["--flops-reduction"]),
    (["optimize --structure channel --flops-reduction 2"], ["profile loss --structure channel"]),
    (["profile loss --structure channel --prune wanda"], ["--prune"]),
    (["profile loss --structure channel --method magnitude"], ["one-shot"]),
    (["profile loss --structure channel --levels 0.5,1"], ["--levels", "outside [0, 1)"]),
])
def test_bad_input_gets_one_sentence(tmp_path: Path, commands: list[str], words: list[str]):
    shutil.copy(FIXTURES / "digits_cnn.onnx", tmp_path / "digits_cnn.onnx")
    refused(run(tmp_path, "load digits_cnn.onnx", *commands, ok=False), *words)


def test_an_unreachable_target_says_what_can_be_reached(fitted):
    folder, _ = fitted
    message = refused(run(folder, "load digits_cnn.onnx",
                          "optimize --name far --structure channel --flops-reduction 50", ok=False),
                      "cannot be reached")
    assert "give a target below" in message


def test_export_refuses_weight_pruning_flags_for_a_channel_plan(fitted):
    folder, _ = fitted
    refused(run(folder, "load digits_cnn.onnx",
                "export model x.onnx --method sparsegpt --calibration-data digits_train.npz",
                ok=False), "--method", "whole channels")


@pytest.mark.parametrize("command", ["export recipe r.yaml", "export code t.py"])
def test_a_recipe_cannot_carry_a_channel_plan_and_says_what_to_do_instead(fitted, command):
    folder, _ = fitted
    refused(run(folder, "load digits_cnn.onnx", command, ok=False),
            "whole channels", "`export model PATH`", "`export plan PATH.json`")


def test_a_plan_fitted_on_measured_times_is_timed_in_onnx_runtime(tmp_path: Path):
    """With a measured perf profile, the planned architecture is timed against the original at the
    profile's batch, and the plan says so beside the estimate. The target is a FLOPs reduction,
    which the fit reaches whatever the timings: a speedup target on a model of microseconds
    depends on how busy the machine was while the perf profile ran."""
    for name in ("digits_cnn.onnx", "digits_train.npz"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    out = results(tmp_path, "load digits_cnn.onnx", "profile perf --batch 16 --iterations 5",
                  "profile loss --structure channel --data digits_train.npz --samples 64",
                  "optimize --structure channel --flops-reduction 1.3")
    plan = out[-1]
    measured = plan["channels"]["measured"]
    assert measured["batch"] == 16
    assert measured["speedup"] > 0
    assert any(n.startswith("Timed in ONNX Runtime") for n in plan["notes"]), plan["notes"]


def test_a_plan_to_be_quantized_is_fitted_and_timed_in_int8(tmp_path: Path):
    """With `--quantize`, the fit reads the int8 model's layer times, measured then (integer
    kernels gain less from thinner layers than float ones do), and the planned model is timed in
    int8 against the int8 original and against the float one."""
    for name in ("digits_cnn.onnx", "digits_train.npz"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    out = results(tmp_path, "load digits_cnn.onnx", "profile perf --batch 16 --iterations 5",
                  "profile loss --structure channel --data digits_train.npz --samples 64",
                  "optimize --structure channel --flops-reduction 1.3 --name float",
                  "optimize --structure channel --flops-reduction 1.3 --quantize static --name int8")
    perf, float_plan, int8_plan = out[1], out[-2], out[-1]
    # The float fit reads the perf profile; the int8 one a profile of the int8 model.
    assert "timed_as" not in float_plan["channels"], float_plan["channels"]
    assert float_plan["model"]["baseline_ms"] == perf["model"]["ms_per_batch"]
    assert int8_plan["channels"]["timed_as"] == "static"
    assert int8_plan["quantization"]["mode"] == "static"
    assert int8_plan["model"]["baseline_ms"] != perf["model"]["ms_per_batch"]
    measured = int8_plan["channels"]["measured"]
    assert measured["speedup"] > 0 and measured["over_float"] > 0, measured
    assert "over_float" not in float_plan["channels"]["measured"]
    assert any("Timed in ONNX Runtime in static int8" in n for n in int8_plan["notes"]), \
        int8_plan["notes"]

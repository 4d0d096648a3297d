"""Every model `export model` writes is run beside the original and their agreement reported
(`prunekit-kernel run`). A model made to break per tensor must be announced in the first line
with the layer to blame, and `--keep-float auto` must repair it; a healthy int8 export says it
agrees."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from prunekit_cli import FIXTURES, PRUNEKIT_BIN

FEATURES, HIDDEN, CLASSES = 16, 32, 10


def run(folder, *commands: str, text: bool = False) -> list:
    args = [str(PRUNEKIT_BIN), "run", *([] if text else ["--format", "json"]), *commands]
    proc = subprocess.run(args, cwd=folder, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    if text:
        return proc.stdout.splitlines()
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def broken_classifier(folder) -> None:
    """`broken.onnx`, a Gemm-ReLU-Gemm classifier whose first layer has one dead unit: its only
    weight, 500, reads an input feature that is always 0. The unit computes nothing, so the float
    model is fine, and so is one int8 scale per output channel; but one scale for the whole
    tensor is 500/127, which rounds every other weight of the layer (about 0.3) to zero.
    `data.npz` holds 256 samples with that feature 0, labelled by the float model."""
    rng = np.random.default_rng(0)
    w1 = rng.normal(0, 0.3, (HIDDEN, FEATURES)).astype(np.float32)
    w1[0] = 0.0
    w1[0, FEATURES - 1] = 500.0
    b1 = rng.normal(0, 0.1, HIDDEN).astype(np.float32)
    w2 = rng.normal(0, 0.3, (CLASSES, HIDDEN)).astype(np.float32)
    b2 = np.zeros(CLASSES, np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["hidden"], name="fc1",
                          transB=1),
         helper.make_node("Relu", ["hidden"], ["relu"], name="relu"),
         helper.make_node("Gemm", ["relu", "fc2.weight", "fc2.bias"], ["logits"], name="fc2",
                          transB=1)],
        "broken_per_tensor",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", FEATURES])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", CLASSES])],
        [numpy_helper.from_array(a, n) for a, n in
         [(w1, "fc1.weight"), (b1, "fc1.bias"), (w2, "fc2.weight"), (b2, "fc2.bias")]])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, folder / "broken.onnx")
    x = rng.normal(0, 1, (256, FEATURES)).astype(np.float32)
    x[:, FEATURES - 1] = 0.0
    logits = ort.InferenceSession(str(folder / "broken.onnx")).run(None, {"x": x})[0]
    np.savez(folder / "data.npz", x=x, labels=logits.argmax(1).astype(np.int64))


@pytest.fixture()
def broken(tmp_path):
    broken_classifier(tmp_path)
    return tmp_path


def top1_agreement(folder, written: str) -> float:
    data = np.load(folder / "data.npz")
    before = ort.InferenceSession(str(folder / "broken.onnx")).run(None, {"x": data["x"]})[0]
    after = ort.InferenceSession(str(folder / written)).run(None, {"x": data["x"]})[0]
    return float((before.argmax(1) == after.argmax(1)).mean())


def test_a_model_broken_per_tensor_is_announced_first_with_the_layer_to_blame(broken):
    command = "export model int8.onnx --quantize static --per-tensor --data data.npz"
    written = run(broken, "load broken.onnx", command)[1]
    agreement = written["agreement"]
    assert agreement["agrees"] is False
    check = agreement["checks"][0]
    assert check["source"].endswith("data.npz") and check["samples"] == 256
    # The figures: the top class kept on few samples, the KL divergence far past its threshold.
    assert check["top1"] < 0.5, check
    logits = check["outputs"][0]
    assert logits["metric"] == "kl_divergence" and logits["value"] > logits["threshold"], logits
    # prunekit's figure is what ONNX Runtime gives for the file it wrote.
    assert check["top1"] == pytest.approx(top1_agreement(broken, "int8.onnx"))
    assert check["accuracy"]["before"] == 1.0 and check["accuracy"]["after"] < 0.5
    # The int8 sensitivity, measured on the fly (no loss profile), blames fc1 first.
    blamed = agreement["blamed"]
    assert blamed["layers"][0]["weight"] == "fc1.weight", blamed
    assert "measured_samples" in blamed["source"]
    assert written["warning"] == agreement["verdict"]
    assert written["warning"].startswith("The written model no longer agrees with the original")
    assert "--keep-float auto" in written["warning"]

    # In text, the first line says so and names the layer and the fix.
    first = run(broken, "load broken.onnx", command, text=True)[-2]
    assert first.startswith("The written model no longer agrees with the original: "), first
    assert "blames hidden" in first and "--keep-float hidden or --keep-float auto" in first, first

    # One scale per output channel does not crush the layer: the same model agrees.
    per_channel = run(broken, "load broken.onnx",
                      "export model pc.onnx --quantize static --data data.npz")[1]
    assert per_channel["agreement"]["agrees"] is True, per_channel["agreement"]
    assert per_channel["warning"] is None


def test_keep_float_auto_repairs_it(broken):
    written = run(broken, "load broken.onnx",
                  "export model int8.onnx --quantize static --per-tensor --data data.npz "
                  "--keep-float auto")[1]
    agreement = written["agreement"]
    assert agreement["agrees"] is True, agreement
    assert written["warning"] is None
    assert agreement["auto"] is True and agreement["kept_float"] == ["hidden"]
    check = agreement["checks"][0]
    assert check["top1"] >= agreement["min_top1"]
    assert check["outputs"][0]["value"] <= check["outputs"][0]["threshold"]
    assert check["top1"] == pytest.approx(top1_agreement(broken, "int8.onnx"))
    # fc1 stayed float in the file; fc2 is int8.
    quantization = written["quantization"]
    assert [layer["name"] for layer in quantization["layers"]] == ["logits"]
    assert any(f["name"] == "hidden" for f in quantization["float"])
    model = onnx.load(broken / "int8.onnx")
    assert any(t.name == "fc1.weight" and t.data_type == TensorProto.FLOAT
               for t in model.graph.initializer)

    # Naming the layer does the same.
    named = run(broken, "load broken.onnx",
                "export model named.onnx --quantize static --per-tensor --data data.npz "
                "--keep-float fc1.weight")[1]
    assert named["agreement"]["agrees"] is True and named["agreement"]["kept_float"] == ["hidden"]


def test_a_healthy_int8_export_says_it_agrees(tmp_path):
    for name in ("digits_cnn.onnx", "digits_test.npz"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    command = "export model int8.onnx --quantize static --data digits_test.npz"
    written = run(tmp_path, "load digits_cnn.onnx", command)[1]
    agreement = written["agreement"]
    assert agreement["agrees"] is True and written["warning"] is None
    check = agreement["checks"][0]
    assert check["top1"] >= 0.99, check
    assert check["outputs"][0]["value"] < check["outputs"][0]["threshold"] / 10, check
    assert agreement["blamed"] is None and agreement["kept_float"] == []
    text = run(tmp_path, "load digits_cnn.onnx", command, text=True)
    line = text[-1]
    assert line.startswith("Wrote int8.onnx"), text
    assert "It agrees with the original on" in line and "top-1 agreement" in line, line


def test_the_blame_comes_from_the_loss_profile_that_measured_the_same_quantization(broken):
    command = "export model int8.onnx --quantize static --per-tensor --data data.npz"
    # A per-channel profile measured another quantization: the export measures its own.
    out = run(broken, "load broken.onnx", "profile loss --quantization --data data.npz", command)
    assert "measured_samples" in out[2]["agreement"]["blamed"]["source"]
    out = run(broken, "load broken.onnx",
              "profile loss --quantization --per-tensor --data data.npz --name pt", command)
    blamed = out[2]["agreement"]["blamed"]
    assert blamed["source"] == {"profile": "pt"}
    assert blamed["layers"][0]["weight"] == "fc1.weight"
    assert "(the loss profile 'pt') blames hidden" in out[2]["warning"]


def test_close_on_generated_samples_only_is_not_vouched_for(tmp_path):
    # Without --data nor --calibration-data the only samples are generated ones: random inputs
    # hardly exercise what calibration crushed (PP-OCRv4 calibrated on them reads 70% of
    # characters wrong yet stays close to the original on them), so the export does not say
    # plainly that it agrees.
    shutil.copy(FIXTURES / "digits_cnn.onnx", tmp_path / "digits_cnn.onnx")
    command = "export model int8.onnx --quantize static"
    written = run(tmp_path, "load digits_cnn.onnx", command)[1]
    agreement = written["agreement"]
    assert agreement["agrees"] is None and agreement["verified"] is False, agreement
    assert written["warning"] is None
    [check] = agreement["checks"]
    assert check["source"] == "generated" and check["agrees"] is True, check
    line = run(tmp_path, "load digits_cnn.onnx", command, text=True)[-1]
    assert "It agrees" not in line, line
    assert "generated samples only" in line and "cannot vouch for it" in line and "--data" in line, line

    # Real samples vouch for the same export.
    shutil.copy(FIXTURES / "digits_test.npz", tmp_path / "digits_test.npz")
    written = run(tmp_path, "load digits_cnn.onnx", f"{command} --data digits_test.npz")[1]
    assert written["agreement"]["agrees"] is True and written["agreement"]["verified"] is True


def test_a_ruin_random_inputs_cannot_see_is_not_vouched_for(broken):
    # Per tensor the broken classifier reads its real samples wrong, but its dead unit only stays
    # dead on them: on generated samples that feature is not 0 and the int8 copy stays close to
    # the original. Checked on those alone, the export is not vouched for, nor said to agree.
    written = run(broken, "load broken.onnx", "export model int8.onnx --quantize static --per-tensor")[1]
    agreement = written["agreement"]
    assert agreement["agrees"] is None and agreement["verified"] is False, agreement
    assert agreement["checks"][0]["agrees"] is True, agreement
    assert top1_agreement(broken, "int8.onnx") < 0.5

"""Calibration methods end to end, as a user drives them from the cell language (`prunekit-kernel
run`):

* `profile loss --quantization` measures the whole model in int8 with each calibration method
  (minmax, percentile, entropy) from its one calibration pass, shows the comparison with the best
  marked, and saves it; each figure is checked against a model exported with that method alone
  and run here;
* `optimize --quantize static` calibrates with the measured best unless `--calibration` names
  one, and says why;
* `export model --calibration entropy` writes a model that agrees with the float one (digits);
* on a real OCR model (ddddocr, text rendered by the tests) the profile's pick, exported, reads
  text as well as float.

Every expectation is checked with tools that are not prunekit's: onnx reads the graphs, ONNX
Runtime runs them, numpy computes accuracies and divergences.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

import real_models
from prunekit_cli import FIXTURES, PRUNEKIT_BIN
from real_models import ocr

pytestmark = pytest.mark.timeout(300)

METHODS = {"minmax": "min_max", "percentile": "percentile", "entropy": "entropy"}


def prunekit(folder: Path, *commands: str, json_format: bool = True) -> subprocess.CompletedProcess:
    args = ["run", "--format", "json"] if json_format else ["run"]
    return subprocess.run([str(PRUNEKIT_BIN), *args, *commands], cwd=folder, capture_output=True,
                          text=True, timeout=280)


def run(folder: Path, *commands: str) -> list[dict]:
    """The commands' JSON results, one per result line; fails the test on a non-zero exit."""
    proc = prunekit(folder, *commands)
    assert proc.returncode == 0, f"{commands} exited {proc.returncode}:\n{proc.stderr}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def text(folder: Path, *commands: str) -> str:
    proc = prunekit(folder, *commands, json_format=False)
    assert proc.returncode == 0, f"{commands} exited {proc.returncode}:\n{proc.stderr}"
    return proc.stdout


def logits(path: Path, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def mean_kl(p_logits: np.ndarray, q_logits: np.ndarray) -> float:
    """Mean over samples of KL(softmax(p) || softmax(q))."""
    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    lp, lq = log_softmax(p_logits.astype(np.float64)), log_softmax(q_logits.astype(np.float64))
    return float(np.mean(np.sum(np.exp(lp) * (lp - lq), axis=1)))


def activation_scales(path: Path) -> dict[str, float]:
    """Each QuantizeLinear's input and its scale."""
    model = onnx.load(str(path))
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return {n.input[0]: float(constants[n.input[1]]) for n in model.graph.node
            if n.op_type == "QuantizeLinear" and n.input[1] in constants
            and constants[n.input[1]].size == 1}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    if not PRUNEKIT_BIN.is_file():
        pytest.fail("target/release/prunekit-kernel is missing: run `make release` first", pytrace=False)
    for name in ("digits_cnn.onnx", "digits_train.npz", "digits_test.npz"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    return tmp_path


def test_the_loss_profile_measures_each_calibration_as_its_export_does(work):
    _, profile = run(work, "load digits_cnn.onnx", "profile loss --quantization --data digits_train.npz")
    quant = profile["quantization"]
    measured = {c["calibration"]["method"]: c for c in quant["calibrations"]}
    assert sorted(measured) == sorted(METHODS.values())
    assert measured["percentile"]["calibration"]["percentile"] == 99.99

    # Each figure is the model exported with that method alone (its own calibration pass), run
    # here on the same samples: the profile's one pass gives every method the same ranges.
    data = np.load(work / "digits_train.npz")
    x, labels = data["input"][:512], data["labels"][:512]
    float_logits = logits(work / "digits_cnn.onnx", x)
    for flag, method in METHODS.items():
        out = f"out/{flag}.onnx"
        run(work, "load digits_cnn.onnx",
            f"export model {out} --quantize static --calibration {flag} --calibration-data digits_train.npz")
        int8 = logits(work / out, x)
        assert measured[method]["value"] == pytest.approx(mean_kl(float_logits, int8), rel=0.02, abs=1e-7)
        assert measured[method]["accuracy"] == pytest.approx(float(np.mean(int8.argmax(1) == labels)))

    # The best: the most accurate, the smallest divergence among equals.
    best = min(measured.values(), key=lambda c: (-c["accuracy"], c["value"]))
    assert quant["best_calibration"] == best["calibration"]
    saved = json.loads((work / "digits_cnn.onnx.prunekit.json").read_text())
    assert saved["loss_profiles"][profile["name"]]["quantization"]["calibrations"] == quant["calibrations"]

    shown = text(work, "load digits_cnn.onnx", "profile loss --quantization --data digits_train.npz")
    rows = shown[shown.index("int8 with each calibration"):].splitlines()[1:4]
    names = [row.split()[0] for row in rows]
    assert names == ["minmax", "percentile:99.99", "entropy"], shown
    best_name = {"min_max": "minmax", "percentile": "percentile:99.99", "entropy": "entropy"}[
        best["calibration"]["method"]]
    assert [row.split()[0] for row in rows if row.endswith("<- best")] == [best_name], shown


def test_optimize_calibrates_with_the_measured_best_unless_told(work):
    _, profile, plan = run(work, "load digits_cnn.onnx", "profile loss --quantization --data digits_train.npz",
                           "optimize --quantize static")
    best = profile["quantization"]["best_calibration"]
    q = plan["quantization"]
    assert q["calibration"] == best
    source = q["calibration_source"]
    assert source["from"] == "measured" and source["profile"] == profile["name"]
    assert source["calibrations"] == profile["quantization"]["calibrations"]
    shown = text(work, "load digits_cnn.onnx", "optimize --quantize static")
    assert "the best in loss profile" in shown and "kl divergence" in shown, shown

    # Named: kept, and kept again by a re-run that names nothing.
    _, named, again = run(work, "load digits_cnn.onnx", "optimize --quantize static --calibration percentile:99.9",
                          "optimize")
    for p in (named, again):
        assert p["quantization"]["calibration"] == {"method": "percentile", "percentile": 99.9}
        assert p["quantization"]["calibration_source"] == {"from": "named"}


def test_an_entropy_export_agrees_with_float_and_clips_within_min_max(work):
    _, entropy, minmax = run(
        work, "load digits_cnn.onnx",
        "export model out/entropy.onnx --quantize static --calibration entropy "
        "--calibration-data digits_train.npz --data digits_test.npz",
        "export model out/minmax.onnx --quantize static --calibration minmax "
        "--calibration-data digits_train.npz")
    assert entropy["warning"] is None, entropy
    assert any("entropy" in note for note in entropy["quantization"]["notes"]), entropy
    test = np.load(work / "digits_test.npz")
    float_acc = float(np.mean(logits(work / "digits_cnn.onnx", test["input"]).argmax(1) == test["labels"]))
    int8_acc = float(np.mean(logits(work / "out/entropy.onnx", test["input"]).argmax(1) == test["labels"]))
    assert int8_acc >= float_acc - 0.01, (float_acc, int8_acc)
    # Entropy's ranges are clipped min-max ranges: never wider, so no scale is larger.
    e, m = activation_scales(work / "out/entropy.onnx"), activation_scales(work / "out/minmax.onnx")
    assert e.keys() == m.keys() and e
    for name in e:
        assert e[name] <= m[name] * (1 + 1e-6), (name, e[name], m[name])


def test_the_measured_best_reads_rendered_text_as_float_does(tmp_path):
    """ddddocr's OCR model, profiled and calibrated on rendered strings, measured on others: the
    profile compares the three methods, the optimization takes the best, and the model exported
    with it reads text as well as float (within half a point of CER). An entropy export works
    too."""
    if real_models.missing():
        pytest.fail(real_models.MISSING.format(where=real_models.MODELS), pytrace=False)
    model = ocr.ddddocr_common()
    shutil.copy(real_models.path(model.file), tmp_path / model.file)
    np.savez(tmp_path / "cal.npz",
             **{model.input: ocr.images(model, ocr.labels(model, 32, seed=2))})
    load = f"load {model.file} --dim image_width=192"
    _, profile = run(tmp_path, load, "profile loss --quantization --data cal.npz")
    quant = profile["quantization"]
    assert sorted(c["calibration"]["method"] for c in quant["calibrations"]) == sorted(METHODS.values())
    # The dense model quantized with the profile's pick (exported before any optimization, which
    # would prune it too).
    flag = {"min_max": "minmax", "percentile": "percentile", "entropy": "entropy"}[
        quant["best_calibration"]["method"]]
    _, best, entropy, plan = run(
        tmp_path, load,
        f"export model best.onnx --quantize static --calibration {flag} --calibration-data cal.npz",
        "export model entropy.onnx --quantize static --calibration entropy --calibration-data cal.npz",
        "optimize --quantize static")
    assert plan["quantization"]["calibration"] == quant["best_calibration"]
    assert best["warning"] is None, best
    assert entropy["quantization"]["layers"], entropy

    texts = ocr.labels(model, 96, seed=1)
    x = ocr.images(model, texts)

    def cer(path: Path) -> float:
        options = ort.SessionOptions()
        options.log_severity_level = 3
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return ocr.cer(texts, ocr.read(session, model, x, 1))

    float_cer, best_cer = cer(tmp_path / model.file), cer(tmp_path / "best.onnx")
    print(f"ddddocr: {quant['best_calibration']['method']} int8 CER {best_cer:.2%}, "
          f"entropy {cer(tmp_path / 'entropy.onnx'):.2%}, float {float_cer:.2%}")
    assert best_cer <= float_cer + 0.005, (float_cer, best_cer)

"""Every command on real trained models that packages ship in their wheels (tests/real_models:
ddddocr's OCR and text detector, its int8 OCR, NudeNet's YOLOv8n, PaddleOCR's PP-OCRv4 recognizer
as Paddle exports it), through the CLI as a user runs it, on data the tests make: rendered text for
the OCR models (the text is the label: character error rate), shapes on noise for the detectors
(the written model's outputs against the original's).  The models come from `make setup-models`'
cache; nothing is downloaded here.  The figures measured are printed (`pytest -s` shows them)."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort
import pytest

import real_models
from prunekit_cli import MISSING_BINARY, PRUNEKIT_BIN
from real_models import ocr, peer, shapes

# What one-shot work cannot do yet on PP-OCRv4 (weights in Constant nodes, opset 12). strict: a
# test fails loudly once it passes, so the mark comes off.
MAGNITUDE_RUINS_IT = pytest.mark.xfail(
    strict=True, reason="50% magnitude pruning without retraining ruins PP-OCRv4 (CER 100%): "
                        "SparseGPT keeps it (test_export_reconstructed_model)")

OCR_SAMPLES = 96
DETECTOR_SAMPLES = 6
CALIBRATION_SAMPLES = 32


@dataclass(frozen=True)
class Case:
    id: str
    file: str
    load: str
    opset: int
    prunable: int
    batch: int
    # The model declares its batch dim as 1, not as a free dim.
    fixed_batch: bool
    # The OCR model's reading conventions, or None for a detector.
    ocr: Callable[[], ocr.OcrModel] | None = None
    # A detector's square input side.
    side: int = 0
    constant_weights: bool = False
    # Figures today's prunekit reaches, with room for noise (see each test).
    pruned_bound: float = 0.0
    int8_bound: float = 0.0


# The bounds are today's figures with room to spare (measured 2026-12-06): pruned to 50% without
# retraining, the OCR model's CER 0.6% and the detectors' output error 18% and 7%; static int8 (per
# tensor at opsets 11 and 12), CER 0.0% and output errors 4%.  PP-OCRv4's bounds are the issue's
# aim for it (int8 within a few points of float), checked once its weights can be written.
CASES = [
    Case("ddddocr-common", "ddddocr-common.onnx", "--dim image_width=192", 12, 22, 1, True,
         ocr=ocr.ddddocr_common, pruned_bound=0.05, int8_bound=0.03),
    Case("ddddocr-common_old-int8", "ddddocr-common_old.onnx", "--dim image_width=192", 12, 0, 1, True,
         ocr=ocr.ddddocr_common_old),
    Case("ddddocr-common_det", "ddddocr-common_det.onnx", "", 11, 83, 1, True, side=416,
         pruned_bound=0.35, int8_bound=0.10),
    Case("nudenet-320n", "nudenet-320n.onnx", "--dim batch=1 --dim height=320 --dim width=320", 17,
         64, 1, False, side=320, pruned_bound=0.20, int8_bound=0.10),
    Case("ppocrv4-rec", "ppocrv4-rec.onnx", "--input x=8,3,48,192", 12, 47, 8, False,
         ocr=ocr.ppocr_rec, constant_weights=True, pruned_bound=0.5, int8_bound=0.05),
]
PRUNABLE = [c for c in CASES if c.prunable]
OCR = [c for c in CASES if c.ocr]


def ids(cases):
    return [c.id for c in cases]


def writing(cases, ruined_by=None):
    """The cases as pytest params for a command that writes a model from the weights (PP-OCRv4's
    weights live in Constant nodes, as Paddle's exporter writes them); `ruined_by` marks the
    PP-OCRv4 case whose figure is out of reach today."""
    return [pytest.param(c, id=c.id, marks=ruined_by if ruined_by and c.id == "ppocrv4-rec" else ())
            for c in cases]


def cached(name: str) -> Path:
    """The cached model; the test fails, saying what to run, when any of the cache is missing."""
    if real_models.missing():
        pytest.fail(real_models.MISSING.format(where=real_models.MODELS), pytrace=False)
    return real_models.path(name)


@functools.cache
def eval_set(case: Case) -> tuple[np.ndarray, list[str]]:
    """The inputs the written models are measured on, with their labels (OCR only)."""
    if case.ocr:
        model = case.ocr()
        texts = ocr.labels(model, OCR_SAMPLES, seed=1)
        return ocr.images(model, texts), texts
    return shapes.images(DETECTOR_SAMPLES, case.side, seed=1), []


def calibration_set(case: Case) -> np.ndarray:
    """Other samples than eval_set's: what `--calibration-data` reads."""
    if case.ocr:
        model = case.ocr()
        return ocr.images(model, ocr.labels(model, CALIBRATION_SAMPLES, seed=2))
    return shapes.images(DETECTOR_SAMPLES, case.side, seed=2)


def session(model: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # ddddocr's declared output shape is wrong; ORT says so each run
    options.intra_op_num_threads = 2
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def detections(case: Case, model: Path) -> np.ndarray:
    """A detector's first output over the eval set (batch first)."""
    s = session(model)
    x, _ = eval_set(case)
    return np.concatenate([s.run(None, {"images": x[i:i + case.batch]})[0]
                           for i in range(0, len(x), case.batch)])


def measure(case: Case, model: Path) -> float:
    """The OCR model's CER on the rendered text, or the detector's relative output error against
    the original model's."""
    x, texts = eval_set(case)
    if case.ocr:
        return ocr.cer(texts, ocr.read(session(model), case.ocr(), x, case.batch))
    return shapes.relative_error(float_detections(case), detections(case, model))


@functools.cache
def float_detections(case: Case) -> np.ndarray:
    return detections(case, cached(case.file))


@pytest.fixture()
def folder(request, tmp_path):
    """A copy of the case's model (commands write a project file beside it) and its calibration
    samples as cal.npz."""
    case: Case = request.node.callspec.params["case"]
    shutil.copy(cached(case.file), tmp_path / case.file)
    samples = calibration_set(case)
    np.savez(tmp_path / "cal.npz", **{input_name(case): samples})
    return tmp_path


def input_name(case: Case) -> str:
    return case.ocr().input if case.ocr else "images"


def prunekit(case: Case, folder: Path, *commands: str, timeout: float = 120) -> list[dict]:
    """`prunekit-kernel run --format json 'load MODEL ...' COMMANDS...` in the folder; the JSON
    results, one per command after the load."""
    proc = run(case, folder, *commands, timeout=timeout)
    assert proc.returncode == 0, f"{commands} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(commands) + 1, proc.stdout[-2000:]
    return results[1:]


def run(case: Case, folder: Path, *commands: str, timeout: float = 120) -> subprocess.CompletedProcess:
    if not PRUNEKIT_BIN.is_file():
        pytest.fail(MISSING_BINARY, pytrace=False)
    return subprocess.run([str(PRUNEKIT_BIN), "run", "--format", "json",
                           f"load {case.file} {case.load}", *commands],
                          cwd=folder, capture_output=True, text=True, timeout=timeout)


def refused(proc: subprocess.CompletedProcess, why: str) -> None:
    """The command stopped with one sentence that says why."""
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prunekit: ") and why in lines[0], proc.stderr


@pytest.mark.parametrize("case", OCR, ids=ids(OCR))
def test_the_float_model_reads_the_rendered_text(case):
    model = cached(case.file)
    x, texts = eval_set(case)
    read = ocr.read(session(model), case.ocr(), x, case.batch)
    rate = ocr.cer(texts, read)
    print(f"\n{case.id}: float CER {rate:.2%} on {len(texts)} rendered strings")
    # Well under 10%, or the rendering is not what the model was trained to read.
    assert rate < 0.02, list(zip(texts, read))


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_load_and_layers(case, folder):
    proc = run(case, folder, "layers --sort params --top 5")
    assert proc.returncode == 0, proc.stderr
    loaded, layers = [json.loads(line) for line in proc.stdout.splitlines()]
    model = loaded["model"]
    assert (model["opset"], model["n_prunable"]) == (case.opset, case.prunable)
    assert model["n_layers"] == len(loaded["layers"]) > 0
    assert len(layers["layers"]) == 5
    project = json.loads((folder / f"{case.file}.prunekit.json").read_text())
    assert project  # the load was saved beside the copy, never beside the cached model
    assert not real_models.path(case.file).with_name(f"{case.file}.prunekit.json").exists()


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_profile_perf(case, folder):
    [perf] = prunekit(case, folder, "profile perf --iterations 3 --warmup 1")
    assert perf["kind"] == "measured" and perf["layers"]
    assert all(layer["name"] for layer in perf["layers"])


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_profile_loss_magnitude(case, folder):
    [loss] = prunekit(case, folder, "profile loss --method magnitude")
    assert loss["method"] == "magnitude"
    assert len(loss["layers"]) == case.prunable


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_optimize(case, folder):
    if not case.prunable:
        refused(run(case, folder, "optimize"), "no prunable layers")
        return
    [plan] = prunekit(case, folder, "profile loss --method magnitude", "optimize")[1:]
    assert len(plan["layers"]) == case.prunable
    assert plan["achieved"] == pytest.approx(0.85, abs=0.02)


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_export_recipe(case, folder):
    if not case.prunable:
        refused(run(case, folder, "export recipe model.recipe.yaml"), "no optimization yet")
        return
    [_, recipe] = prunekit(case, folder, "optimize", "export recipe model.recipe.yaml")
    assert recipe["modifiers"] > 0 and recipe["layers_pruned"]
    assert "GMPruningModifier" in (folder / "model.recipe.yaml").read_text()


@pytest.mark.parametrize("case", writing(PRUNABLE, MAGNITUDE_RUINS_IT))
def test_export_pruned_model(case, folder):
    # Half the weights, by magnitude and without retraining: a figure to watch, not a goal.
    [_, export] = prunekit(case, folder, "optimize --sparsity 0.5", "export model pruned.onnx")
    assert export["kind"] == "model" and export["layers"]
    figure = measure(case, folder / "pruned.onnx")
    what = "CER" if case.ocr else "relative output error"
    print(f"\n{case.id}: pruned to 50% sparsity, {what} {figure:.2%}")
    assert figure <= case.pruned_bound


@pytest.mark.parametrize("pattern", ["unstructured", "2:4"])
@pytest.mark.parametrize("case", [c for c in OCR if c.prunable], ids=ids([c for c in OCR if c.prunable]))
def test_export_reconstructed_model(case, folder, pattern):
    # Every prunable layer but the first (the optimizer's rule) at half its weights: SparseGPT from
    # the rendered calibration text keeps the reading where magnitude loses it.
    [layers] = prunekit(case, folder, "layers")
    first = next(layer["name"] for layer in layers["layers"] if layer["prunable"])
    *_, export = prunekit(case, folder, "optimize --sparsity 0.5", "override re:.* 0.5",
                          f"override {first} off",
                          f"export model pruned.onnx --calibration-data cal.npz --pattern {pattern}",
                          timeout=600)
    assert export["pruning"]["method"] == "sparsegpt" and export["layers"]
    figure = measure(case, folder / "pruned.onnx")
    base = measure(case, cached(case.file))
    print(f"\n{case.id}: SparseGPT {pattern}, every layer but the first at 50%, CER {figure:.2%} (float {base:.2%}, "
          f"{export['pruning']['seconds']:.1f} s)")
    # Each layer reconstructs the dense model's outputs from its pruned predecessors' inputs:
    # PP-OCRv4 stays within a point of float (measured 0.21% and 0.62%, float 0.41%), ddddocr's
    # smaller CNN within two (0.21% and 1.45%; 1.24% and 2.48% when each layer reconstructed its own
    # outputs), against magnitude's 100% on PP-OCRv4.
    assert figure <= base + (0.01 if case.id == "ppocrv4-rec" else 0.02)


@pytest.mark.parametrize("case", writing(PRUNABLE))
def test_export_int8_model(case, folder):
    data = "cal.npz"
    [export] = prunekit(case, folder, f"export model int8.onnx --quantize static --calibration-data {data}")
    quantization = export["quantization"]
    assert quantization["mode"] == "static" and quantization["layers"]
    assert quantization["calibration"]["source"] != "generated"
    figure = measure(case, folder / "int8.onnx")
    layers = quantization["layers"]
    per = f"{sum(layer['per_channel'] for layer in layers)} of {len(layers)} layers per channel"
    # Per channel at every opset (the quantizer still keeps a few layers per tensor, as it does at
    # opset 17): models older than opset 13 are upgraded to it, and say so.
    assert sum(layer["per_channel"] for layer in layers) > len(layers) // 2, per
    if case.opset < 13:
        assert any(f"opset {case.opset} was upgraded to 13" in note for note in quantization["notes"]), \
            quantization["notes"]
    if case.ocr:
        base = measure(case, cached(case.file))
        print(f"\n{case.id}: static int8 ({per}, calibrated on {data}) CER {figure:.2%}, float {base:.2%}")
        # The aim: int8 within half a point of float.
        assert figure <= base + 0.005
        # A text reader is judged per position (its class scores at every step), not by the NMSE
        # of the whole output: an int8 copy that reads as well as float agrees.
        agreement = export["agreement"]
        assert agreement["agrees"] is True and export["warning"] is None, agreement
        [check] = agreement["checks"]
        assert check["per_position"] and check["outputs"][0]["metric"] == "kl_divergence", check
    else:
        print(f"\n{case.id}: static int8 ({per}, calibrated on {data}) relative output error {figure:.2%}")
    assert figure <= case.int8_bound


def class_scores(case: Case, model: Path) -> np.ndarray:
    """An OCR model's output (its class scores at every position) over the eval set."""
    s = session(model)
    x, _ = eval_set(case)
    return np.concatenate([s.run(None, {input_name(case): x[i:i + case.batch]})[0]
                           for i in range(0, len(x), case.batch)])


@pytest.mark.parametrize("case", [c for c in PRUNABLE if c.id == "ppocrv4-rec"], ids=["ppocrv4-rec"])
def test_int8_stays_as_close_to_float_as_onnxruntimes_quantizer(case, folder):
    # Given the same calibration samples, prunekit's default static int8 keeps the text reader's
    # best class at every position at least as often as onnxruntime's quantize_static at its best
    # (per channel, MinMax here). It did not (96.3% against 97.6%) while only the layers'
    # neighbourhoods had Q/DQ pairs: the rounding errors then grew unchecked through the
    # element-wise arithmetic between the layers (PP-LCNet's scale-and-shift and HardSwish,
    # the neck's LayerNorm and attention).
    prunekit(case, folder, "export model int8.onnx --quantize static --calibration-data cal.npz")
    peer.quantize(folder / case.file, folder / "peer.onnx", calibration_set(case), input_name(case),
                  case.batch)
    reference = class_scores(case, cached(case.file))

    def kept(model: Path) -> float:
        return float((class_scores(case, model).argmax(-1) == reference.argmax(-1)).mean())

    ours, theirs = kept(folder / "int8.onnx"), kept(folder / "peer.onnx")
    print(f"\n{case.id}: best class kept at {ours:.2%} of positions (onnxruntime's int8: {theirs:.2%})")
    assert ours >= theirs


@pytest.mark.parametrize("case", [c for c in PRUNABLE if c.fixed_batch],
                         ids=ids([c for c in PRUNABLE if c.fixed_batch]))
def test_a_batch_one_model_calibrates_on_many_samples(case, folder):
    [export] = prunekit(case, folder, "export model int8.onnx --quantize static --calibration-data cal.npz")
    expected = CALIBRATION_SAMPLES if case.ocr else DETECTOR_SAMPLES
    assert export["quantization"]["calibration"]["samples"] == expected


@pytest.mark.parametrize("case", [c for c in PRUNABLE if c.id == "ppocrv4-rec"], ids=["ppocrv4-rec"])
def test_a_ruined_export_is_announced(case, folder):
    # Per-tensor int8 (asked for: per channel is the default, at every opset) no longer reads the
    # text (CER 99%): the export says so in its first line and its JSON, and blames layers, instead
    # of handing the model over silently.
    [export] = prunekit(case, folder,
                        "export model int8.onnx --quantize static --per-tensor --calibration-data cal.npz")
    agreement = export["agreement"]
    assert agreement["agrees"] is False, agreement
    assert agreement["blamed"], agreement
    assert "--keep-float" in export["warning"], export["warning"]
    assert measure(case, folder / "int8.onnx") > 0.5


@pytest.mark.parametrize("case", [c for c in PRUNABLE if c.id == "ppocrv4-rec"], ids=["ppocrv4-rec"])
def test_an_export_checked_on_generated_samples_only_is_not_vouched_for(case, folder):
    # Calibrated on random inputs, PP-OCRv4's int8 reads 70% of the characters wrong, yet on those
    # random inputs it stays as close to the original as a sound copy does: the export must not
    # say that it agrees, only that real samples are needed to vouch for it.
    command = "export model int8.onnx --quantize static"
    [export] = prunekit(case, folder, command, timeout=300)
    agreement = export["agreement"]
    assert agreement["agrees"] is None and agreement["verified"] is False, agreement
    assert all(c["source"] == "generated" for c in agreement["checks"]), agreement
    figure = measure(case, folder / "int8.onnx")
    print(f"\n{case.id}: static int8 calibrated on generated samples, CER {figure:.2%}")
    assert figure > 0.3


def test_an_int8_model_has_nothing_left_to_quantize(tmp_path):
    [case] = [c for c in CASES if not c.prunable]
    shutil.copy(cached(case.file), tmp_path / case.file)
    refused(run(case, tmp_path, "export model int8.onnx --quantize static"),
            "no Conv, Gemm or MatMul with a float32 constant weight")


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_benchmark(case, folder):
    [bench] = prunekit(case, folder, "benchmark --iterations 3 --warmup 1")
    [dense] = bench["runs"]
    assert dense["model"] == "dense" and len(dense["ms"]) == 3 and dense["items_per_second"] > 0


@pytest.mark.parametrize("case", writing(PRUNABLE))
def test_benchmark_pruned_and_int8(case, folder):
    [_, bench] = prunekit(case, folder, "optimize",
                          "benchmark --iterations 3 --warmup 1 --optimization default --quantize static",
                          timeout=240)
    assert {r["model"] for r in bench["runs"]} >= {"dense", "pruned"}
    assert len(bench["runs"]) >= 3

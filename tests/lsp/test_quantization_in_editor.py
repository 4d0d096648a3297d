"""Quantization in the editor: once the latest loss profile in the model's project file has a
`quantization` section (`profile loss --quantization` in the notebook), hover on a module in a
QuantizationModifier's `ignore` (and on a weight in `params`) shows how much quantizing that layer
alone to int8 hurts, its rank, the accuracy with it quantized, and the whole quantized model's
value, naming the profile. Completion offers the scheme's keys and values, and the model's modules
in `ignore`, the most sensitive first.

The project file is written by hand: its loss profile's shape is `LossProfile` (serde names of
the Rust fields)."""

from __future__ import annotations

import json
import shutil

import pytest
from lsprotocol import types

from lsp_harness import REPO_ROOT, completion_labels, hover_text, position_of, settle
from test_server import _open

FIXTURES = REPO_ROOT / "tests" / "fixtures"

RECIPE = """\
# prunekit: model=digits_cnn.onnx
version: 1.1.0
modifiers:
  - !GMPruningModifier
    params: [fc1.weight]
    init_sparsity: 0.05
    final_sparsity: 0.5
    start_epoch: 0.0
    end_epoch: 2.0
    update_frequency: 1.0

  - !QuantizationModifier
    start_epoch: 2.0
    scheme:
      weights:
        num_bits: 8
        strategy: channel
    ignore: [conv1, Conv2d, layer9]
"""

QUANTIZATION = {
    "mode": "static",
    "calibration": {"method": "percentile", "percentile": 99.99},
    "per_channel": True,
    "metric": "kl_divergence",
    "layers": [
        {"name": "/conv1/Conv", "weight": "conv1.weight", "op_type": "Conv", "value": 0.0123,
         "accuracy": 0.975, "rank": 1},
        {"name": "/conv2/Conv", "weight": "conv2.weight", "op_type": "Conv", "value": 0.004,
         "accuracy": 0.9811, "rank": 2},
        {"name": "/fc1/Gemm", "weight": "fc1.weight", "op_type": "Gemm", "value": 0.0005,
         "rank": 4},
        {"name": "/fc2/Gemm", "weight": "fc2.weight", "op_type": "Gemm", "value": 0.001,
         "accuracy": 0.98, "rank": 3},
    ],
    "model": {"value": 0.02, "accuracy": 0.96},
}


def _loss_layer(weight: str, op: str, value: float, rank: int) -> dict:
    return {"name": f"/{weight.split('.')[0]}/{op}", "weight": weight, "op_type": op,
            "values": [value / 2, value], "integral": value * 0.4, "at_90": value, "rank": rank}


def _project(folder, quantization) -> None:
    """digits_cnn.onnx and a project file whose only loss profile has `quantization` (when not
    None), written as `LossProfile` serializes."""
    shutil.copy(FIXTURES / "digits_cnn.onnx", folder / "digits_cnn.onnx")
    profile = {
        "method": "one_shot",
        "metric": "kl_divergence",
        "levels": [0.4, 0.9],
        "layers": [_loss_layer("conv1.weight", "Conv", 0.9, 1),
                   _loss_layer("conv2.weight", "Conv", 0.3, 2),
                   _loss_layer("fc1.weight", "Gemm", 0.1, 4),
                   _loss_layer("fc2.weight", "Gemm", 0.2, 3)],
        "model": {"values": [0.75, 1.5], "baseline_accuracy": 0.985},
    }
    if quantization is not None:
        profile["quantization"] = quantization
    project = {"schema_version": 1, "model": "digits_cnn.onnx",
               "loss_profiles": {"one-shot": profile}, "latest_loss": "one-shot"}
    (folder / "digits_cnn.onnx.prunekit.json").write_text(json.dumps(project), encoding="utf-8")


async def _hover(client, uri: str, text: str, needle: str, offset: int = 1, occurrence: int = 0):
    at = position_of(text, needle, offset=offset, occurrence=occurrence,
                     encoding=client.position_encoding)
    return hover_text(await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=at)))


async def _open_recipe(client, folder, text: str) -> str:
    recipe = folder / "digits.recipe.yaml"
    recipe.write_text(text, encoding="utf-8")
    uri = recipe.as_uri()
    since = _open(client, uri, text)
    await settle(client, uri, since=since, version=1)
    return uri


@pytest.mark.asyncio
async def test_hover_shows_the_quantization_sensitivity(client, tmp_path):
    _project(tmp_path, QUANTIZATION)
    uri = await _open_recipe(client, tmp_path, RECIPE)

    hover = await _hover(client, uri, RECIPE, "conv1, Conv2d")
    assert "1 module(s) of digits_cnn.onnx, left in float" in hover, hover
    assert "Conv" in hover and "/conv1/Conv" in hover, hover
    assert ("int8 quantization sensitivity 0.0123 (kl divergence), rank 1 of 4 "
            "(1 = most sensitive); accuracy 97.5% quantized alone") in hover, hover
    assert ("whole model quantized (static int8, per-channel weights, percentile:99.99 "
            "calibration): 0.0200, accuracy 96.0% (float 98.5%)") in hover, hover
    assert "from the one-shot loss profile 'one-shot' (kl divergence)" in hover, hover

    # A weight in `params` gets the same line beside its pruning sensitivity.
    hover = await _hover(client, uri, RECIPE, "fc1.weight", offset=2)
    assert "loss sensitivity" in hover, hover
    assert "int8 quantization sensitivity 5.00e-4 (kl divergence), rank 4 of 4" in hover, hover
    assert "quantized alone" not in hover, "fc1 was measured without accuracy: " + hover

    # A module type cannot be resolved from the ONNX model; an unknown name says so.
    hover = await _hover(client, uri, RECIPE, "Conv2d")
    assert "PyTorch module type" in hover and "left in float" in hover, hover
    hover = await _hover(client, uri, RECIPE, "layer9")
    assert "names no module of digits_cnn.onnx" in hover, hover


@pytest.mark.asyncio
async def test_without_a_quantization_section_hover_shows_no_int8_line(client, tmp_path):
    _project(tmp_path, None)
    uri = await _open_recipe(client, tmp_path, RECIPE)
    hover = await _hover(client, uri, RECIPE, "conv1, Conv2d")
    assert "/conv1/Conv" in hover and "int8" not in hover, hover


@pytest.mark.asyncio
async def test_ignore_entries_are_checked_against_the_model(client, tmp_path):
    _project(tmp_path, QUANTIZATION)
    recipe = tmp_path / "digits.recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    since = _open(client, recipe.as_uri(), RECIPE)
    published = await settle(client, recipe.as_uri(), since=since, version=1)
    modules = [d for d in published.diagnostics if d.code == "unknown-module"]
    assert len(modules) == 1, published.diagnostics
    assert modules[0].severity == types.DiagnosticSeverity.Warning
    assert "`layer9`" in modules[0].message and "digits_cnn.onnx" in modules[0].message
    assert not [d for d in published.diagnostics
                if d.severity == types.DiagnosticSeverity.Error], published.diagnostics


@pytest.mark.asyncio
async def test_completion_inside_a_scheme(client, tmp_path):
    _project(tmp_path, QUANTIZATION)
    text = RECIPE.replace("        strategy: channel\n", "        strategy: \n        \n")
    uri = await _open_recipe(client, tmp_path, text)

    async def labels(position: types.Position) -> list[str]:
        return completion_labels(await client.text_document_completion_async(
            types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                   position=position)))

    line = text.splitlines().index("        strategy: ")
    assert await labels(types.Position(line=line, character=18)) == ["tensor", "channel"]
    # A new key under `weights:`: the quantization args' keys.
    assert await labels(types.Position(line=line + 1, character=8)) == [
        "num_bits", "symmetric", "strategy", "kwargs"]
    # A new key under `scheme:` (one level up): the scheme's keys.
    assert await labels(types.Position(line=line + 1, character=6)) == [
        "input_activations", "weights", "output_activations", "target_hardware"]
    # `ignore`: the model's modules, the most sensitive to int8 quantization first.
    ignore = text.splitlines().index("    ignore: [conv1, Conv2d, layer9]")
    assert (await labels(types.Position(line=ignore, character=13)))[:4] == [
        "conv1", "conv2", "fc2", "fc1"]
    # The value of `scheme:` itself: SparseML's aliases.
    scheme = text.splitlines().index("    scheme:")
    assert await labels(types.Position(line=scheme, character=11)) == [
        "default", "deepsparse", "tensorrt"]

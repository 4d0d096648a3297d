"""The editor shows measured profiles: once the notebook's `profile loss` and `profile perf` have
saved profiles in the model's project file, hover names the measured sensitivity, its rank and the
layer's time, completion says the sensitivity is measured, a `sensitivity` hint marks a highly
sensitive layer pruned hard, and a newer profile replaces the shown one when the project file
changes (the server watches `*.prunekit.json`)."""

from __future__ import annotations

import base64
import shutil
import subprocess

import pytest
from lsprotocol import types

from lsp_harness import REPO_ROOT, completion_items, hover_text, position_of, settle
from test_server import _open

KERNEL = REPO_ROOT / "target" / "release" / "prunekit-kernel"
FIXTURES = REPO_ROOT / "tests" / "fixtures"

RECIPE = """\
# prunekit: model=digits_cnn.onnx
version: 1.1.0
modifiers:
  - !GMPruningModifier
    params: [conv1.weight, fc1.weight]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 5.0
    update_frequency: 1.0
"""


def _profile(folder, *commands: str) -> None:
    subprocess.run([str(KERNEL), "run", "load digits_cnn.onnx", *commands], cwd=folder,
                   check=True, capture_output=True, timeout=120)


@pytest.mark.asyncio
async def test_hover_and_completion_show_the_latest_measured_profile(client, tmp_path):
    for name in ("digits_cnn.onnx", "digits_test.npz"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    _profile(tmp_path, "profile loss --method one-shot --data digits_test.npz",
             "profile perf --iterations 3 --warmup 1")
    recipe = tmp_path / "digits.recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    uri = recipe.as_uri()
    since = _open(client, uri, RECIPE)
    published = await settle(client, uri, since=since, version=1)
    # conv1 is far above the others' sensitivity and pruned to 0.8: a hint says so; fc1 is not.
    hints = [d for d in published.diagnostics if d.code == "sensitivity"]
    assert len(hints) == 1 and "conv1.weight" in hints[0].message, published.diagnostics
    assert hints[0].severity == types.DiagnosticSeverity.Hint

    at = position_of(RECIPE, "conv1.weight", offset=2)
    hover = hover_text(await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=at)))
    assert "one-shot loss profile 'one-shot'" in hover, hover
    # On the trained CNN the first conv is the most sensitive layer (see tests/test_profiles.py).
    assert "rank 1 of 4" in hover, hover
    assert "ms per run in ONNX Runtime (performance profile 'baseline'" in hover, hover

    # Completion inside `params` lists the weights with the measured sensitivity.
    at = position_of(RECIPE, "conv1.weight")
    items = completion_items(await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=at)))
    details = {i.label: i.detail or "" for i in items}
    assert "(measured)" in details.get("fc1.weight", ""), details

    # A newer profile becomes the shown one once the project file changes.
    _profile(tmp_path, "profile loss --method magnitude")
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=(tmp_path / "digits_cnn.onnx.prunekit.json").as_uri(),
                        type=types.FileChangeType.Changed)]))
    at = position_of(RECIPE, "conv1.weight", offset=2)
    hover = hover_text(await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=at)))
    assert "magnitude loss profile 'magnitude'" in hover, hover


@pytest.mark.asyncio
async def test_a_code_action_applies_the_latest_optimization(client, tmp_path):
    shutil.copy(FIXTURES / "digits_cnn.onnx", tmp_path / "digits_cnn.onnx")
    _profile(tmp_path, "optimize --sparsity 0.7")
    recipe = tmp_path / "digits.recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    uri = recipe.as_uri()
    since = _open(client, uri, RECIPE)
    await settle(client, uri, since=since, version=1)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
        context=types.CodeActionContext(diagnostics=[])))
    apply = [a for a in actions or [] if a.title.startswith("Apply optimization 'default'")]
    assert len(apply) == 1, [a.title for a in actions or []]
    (edit,) = apply[0].edit.changes[uri]
    # The recipe's own modeline is kept; the modifiers are the plan's.
    assert edit.new_text.startswith("# prunekit: model=digits_cnn.onnx\nversion: 1.1.0\n")
    assert edit.new_text.count("!GMPruningModifier") >= 1 and "conv1.weight" not in edit.new_text


@pytest.mark.asyncio
async def test_model_request_and_sensitivity_chart(client, tmp_path):
    """prunekit's own requests, which the VS Code extension's status bar, "Open the project
    file" and "Show layer sensitivity chart" use."""
    shutil.copy(FIXTURES / "digits_cnn.onnx", tmp_path / "digits_cnn.onnx")
    recipe = tmp_path / "digits.recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    uri = recipe.as_uri()
    since = _open(client, uri, RECIPE)
    await settle(client, uri, since=since, version=1)

    info = await client.protocol.send_request_async("prunekit/model", {"uri": uri})
    assert info.model == str(tmp_path / "digits_cnn.onnx") and info.how == "modeline"
    assert info.exists and info.layers == 4 and info.message is None
    assert info.project is None and info.sensitivity_source is None  # nothing measured yet

    chart = await client.protocol.send_request_async("prunekit/sensitivityChart", {"uri": uri})
    png = base64.b64decode(chart.png)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and chart.width > 0
    assert chart.source.startswith("approximation"), chart.source

    _profile(tmp_path, "profile loss --method magnitude")
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=(tmp_path / "digits_cnn.onnx.prunekit.json").as_uri(),
                        type=types.FileChangeType.Changed)]))
    info = await client.protocol.send_request_async("prunekit/model", {"uri": uri})
    assert info.project == str(tmp_path / "digits_cnn.onnx.prunekit.json")
    assert info.sensitivity_source.startswith("magnitude loss profile 'magnitude'"), info
    chart = await client.protocol.send_request_async("prunekit/sensitivityChart", {"uri": uri})
    assert chart.source.startswith("magnitude loss profile 'magnitude'"), chart.source

    # A recipe whose model is gone: one sentence, for the status bar and as the request's error.
    broken = tmp_path / "gone.recipe.yaml"
    text = RECIPE.replace("model=digits_cnn.onnx", "model=missing.onnx")
    broken.write_text(text, encoding="utf-8")
    info = await client.protocol.send_request_async("prunekit/model", {"uri": broken.as_uri()})
    assert not info.exists and "missing.onnx" in info.message and "does not exist" in info.message
    with pytest.raises(Exception, match="missing.onnx named by the modeline does not exist"):
        await client.protocol.send_request_async("prunekit/sensitivityChart",
                                                 {"uri": broken.as_uri()})

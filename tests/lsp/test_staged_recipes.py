"""The staged recipe layout of llm-compressor and SparseML 1.7 (`<name>_stage: {<group>_modifiers:
{ClassName: {args}}}`) in the editor, through the real server: diagnostics with did-you-mean and
the model's modules, completion of class and field names, hover on classes, fields and `targets`
entries (the layers they select, with their sensitivity), symbols stage > group > modifier; and
`prunekit-lsp check` on the real staged recipes of tests/recipes/staged (no error on those the
tools load)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from lsprotocol import types

from lsp_harness import (LSP_BIN, MISSING_LSP, REPO_ROOT, completion_labels, hover_text,
                         position_of, settle)
from test_server import _open

FIXTURES = REPO_ROOT / "tests" / "fixtures"
STAGED = REPO_ROOT / "tests" / "recipes" / "staged"

RECIPE = """\
# prunekit: model=digits_cnn.onnx
sparsity_stage:
  run_type: oneshot
  sparsity_modifiers:
    SparseGPTModifier:
      sparsity: 1.5
      mask_structure: "2:4"
      targets: [conv1, fc1, 're:fc.*', conv9]
  quant_modifiers:
    GPTQModifer:
      scheme: W4A16
quant_stage:
  quant_modifier:
    QuantizationModifier: {scheme: W8A8}
"""


async def _open_recipe(client, folder, text: str):
    shutil.copy(FIXTURES / "digits_cnn.onnx", folder / "digits_cnn.onnx")
    recipe = folder / "digits.recipe.yaml"
    recipe.write_text(text, encoding="utf-8")
    uri = recipe.as_uri()
    since = _open(client, uri, text)
    published = await settle(client, uri, since=since, version=1)
    return uri, published


def _by_code(diagnostics, code: str):
    return [d for d in diagnostics if d.code == code]


@pytest.mark.asyncio
async def test_staged_diagnostics(client, tmp_path):
    _, published = await _open_recipe(client, tmp_path, RECIPE)
    diagnostics = published.diagnostics
    [unknown] = _by_code(diagnostics, "unknown-modifier")
    assert "did you mean `GPTQModifier`" in unknown.message, unknown.message
    assert unknown.severity == types.DiagnosticSeverity.Error
    [sparsity] = _by_code(diagnostics, "range")
    assert "`sparsity` is 1.5" in sparsity.message, sparsity.message
    [ignored] = _by_code(diagnostics, "staged-ignored")
    assert ignored.severity == types.DiagnosticSeverity.Warning
    assert "rename it `quant_modifiers`" in ignored.message, ignored.message
    # `conv9` is not a module of digits_cnn.onnx; conv1, fc1 and `re:fc.*` are.
    [module] = _by_code(diagnostics, "unknown-module")
    assert "`conv9`" in module.message and "digits_cnn.onnx" in module.message, module.message


@pytest.mark.asyncio
async def test_staged_completion_and_hover(client, tmp_path):
    text = RECIPE.replace("      scheme: W4A16\n", "      scheme: W4A16\n      \n")
    text = text.replace("GPTQModifer", "GPTQModifier")
    uri, _ = await _open_recipe(client, tmp_path, text)
    doc = types.TextDocumentIdentifier(uri=uri)

    async def labels(line: int, character: int) -> list[str]:
        return completion_labels(await client.text_document_completion_async(
            types.CompletionParams(text_document=doc,
                                   position=types.Position(line=line, character=character))))

    lines = text.splitlines()
    blank = lines.index("      ", lines.index("      scheme: W4A16"))
    fields = await labels(blank, 6)
    assert "dampening_frac" in fields and "actorder" in fields, fields
    assert "scheme" not in fields, "already written"
    classes = await labels(blank, 4)
    assert "SparseGPTModifier" in classes and "AWQModifier" in classes, classes

    async def hover(needle: str) -> str:
        at = position_of(text, needle, offset=1, encoding=client.position_encoding)
        return hover_text(await client.text_document_hover_async(
            types.HoverParams(text_document=doc, position=at)))

    class_doc = await hover("SparseGPTModifier")
    assert "**SparseGPTModifier**" in class_doc and "stage `sparsity_stage`" in class_doc, class_doc
    field_doc = await hover("mask_structure")
    assert "**mask_structure**" in field_doc and "\"2:4\"" in field_doc, field_doc
    # A `targets` entry: the layer it selects, with its loss sensitivity (approximated from
    # shapes: the folder has no project file); a pattern lists each layer it selects.
    target_doc = await hover("fc1")
    assert "`fc1` — 1 layer of digits_cnn.onnx, selected (`targets`)" in target_doc, target_doc
    assert "**fc1.weight**" in target_doc and "loss sensitivity" in target_doc, target_doc
    pattern_doc = await hover("re:fc")
    assert "`re:fc.*` — 2 layers of digits_cnn.onnx" in pattern_doc, pattern_doc
    assert pattern_doc.count("loss sensitivity") == 2, pattern_doc


@pytest.mark.asyncio
async def test_staged_symbols(client, tmp_path):
    uri, _ = await _open_recipe(client, tmp_path, RECIPE)
    result = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    stage = next(s for s in result if s.name == "sparsity_stage")
    groups = [g.name for g in stage.children]
    assert groups == ["sparsity_modifiers", "quant_modifiers"], groups
    assert stage.children[0].children[0].name.startswith("SparseGPT 1.5"), stage.children[0]


@pytest.mark.parametrize("folder", ["llm-compressor", "sparseml"])
def test_real_staged_recipes_check_without_errors(folder):
    if not LSP_BIN.is_file():
        pytest.fail(MISSING_LSP, pytrace=False)
    files = sorted((STAGED / folder).glob("*.yaml"))
    assert len(files) >= 20
    for path in files:
        run = subprocess.run([str(LSP_BIN), "check", str(path)], capture_output=True,
                             text=True, timeout=30)
        assert run.returncode == 0, run.stdout + run.stderr


def test_stale_sparseml_recipes_are_flagged():
    if not LSP_BIN.is_file():
        pytest.fail(MISSING_LSP, pytrace=False)
    for path in sorted((STAGED / "rejected").glob("*.yaml")):
        run = subprocess.run([str(LSP_BIN), "check", str(path)], capture_output=True,
                             text=True, timeout=30)
        assert run.returncode == 1, run.stdout
        assert "error[" in run.stdout, run.stdout

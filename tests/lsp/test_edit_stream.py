"""A stream of 1,000 rapid incremental edits, sent without waiting for anything: the server must
apply them in order and end with the diagnostics of the final text (for its version), whatever it
published for the versions in between. Also: rename of an anchor and of a variable, and the code
lens of a pruning modifier."""

from __future__ import annotations

import random

import pytest
from lsprotocol import types

from lsp_harness import RECIPES, apply_edits, settle
from test_server import _open

GMP = RECIPES / "digits_gmp.recipe.yaml"


def _position(text: str, offset: int) -> types.Position:
    """UTF-16 position of a character offset (the fixture text is ASCII where we edit)."""
    line = text.count("\n", 0, offset)
    col = offset - (text.rfind("\n", 0, offset) + 1)
    return types.Position(line=line, character=col)


@pytest.mark.asyncio
async def test_one_thousand_rapid_edits_end_with_the_final_diagnostics(client):
    uri = (RECIPES / "stream.recipe.yaml").as_uri()
    text = GMP.read_text(encoding="utf-8")
    since = _open(client, uri, text)
    await settle(client, uri, since=since, version=1)
    rng = random.Random(7)

    since = len(client.published)
    for version in range(2, 1002):
        # Insert or delete a character in the comment block above the modifiers, or retype
        # a digit of a sparsity: each edit depends on every edit before it.
        if rng.random() < 0.5 or version == 1001:
            at = rng.randrange(0, 40)
            change_text, start, end = "#", at, at
            if version == 1001:
                change_text, start, end = "", 0, 0
        else:
            start = rng.randrange(0, 40)
            end = start
            change_text = " "
        edit = types.TextEdit(
            range=types.Range(start=_position(text, start), end=_position(text, end)), new_text=change_text)
        text = apply_edits(text, [edit], "utf-16")
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=edit.range, text=change_text)]))
    # The last edit makes a real error: a sparsity of 1.0, which must be reported for version 1002.
    at = text.index("final_sparsity: eval(conv_sparsity)")
    value_start = at + len("final_sparsity: ")
    value_end = value_start + len("eval(conv_sparsity)")
    edit = types.TextEdit(range=types.Range(start=_position(text, value_start), end=_position(text, value_end)), new_text="1.0")
    text = apply_edits(text, [edit], "utf-16")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=1002),
        content_changes=[types.TextDocumentContentChangePartial(range=edit.range, text="1.0")]))
    final = await settle(client, uri, since=since, version=1002, timeout=60)
    assert final.version == 1002
    codes = [(d.code, d.range.start.line) for d in final.diagnostics]
    line = text[: text.index("final_sparsity: 1.0")].count("\n")
    assert ("range", line) in codes, f"expected a range error on line {line}, got {codes}"
    # The server's text is the client's: a hover on the new value sees `final_sparsity`.
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=8)))
    assert hover is not None and "final_sparsity" in str(hover.contents)



@pytest.mark.asyncio
async def test_rename_an_anchor_and_a_variable(client):
    uri = (RECIPES / "rename.recipe.yaml").as_uri()
    text = GMP.read_text(encoding="utf-8")
    since = _open(client, uri, text)
    await settle(client, uri, since=since, version=1)
    # The anchor `&num_epochs` and its alias `*num_epochs`.
    at = text.index("*num_epochs") + 2
    edit = await client.text_document_rename_async(types.RenameParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=_position(text, at), new_name="epochs"))
    edits = edit.changes[uri]
    renamed = apply_edits(text, edits, "utf-16")
    assert "&epochs" in renamed and "*epochs" in renamed and "*num_epochs" not in renamed
    # A variable and every eval() that uses it.
    at = text.index("pruning_end:")
    edit = await client.text_document_rename_async(types.RenameParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=_position(text, at + 2), new_name="prune_until"))
    renamed = apply_edits(text, edit.changes[uri], "utf-16")
    assert "prune_until: eval(" in renamed
    assert renamed.count("eval(prune_until)") == text.count("eval(pruning_end)")


@pytest.mark.asyncio
async def test_code_lens_per_pruning_modifier(client):
    uri = (RECIPES / "lens.recipe.yaml").as_uri()
    text = GMP.read_text(encoding="utf-8")
    since = _open(client, uri, text)
    await settle(client, uri, since=since, version=1)
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    titles = [lens.command.title for lens in lenses]
    assert len(titles) == text.count("!GMPruningModifier"), titles
    assert all("removes" in t and "weights" in t for t in titles), titles


@pytest.mark.asyncio
async def test_hover_after_a_syntax_error_uses_the_last_text_that_parsed(client):
    uri = (RECIPES / "typing.recipe.yaml").as_uri()
    text = GMP.read_text(encoding="utf-8")
    since = _open(client, uri, text)
    await settle(client, uri, since=since, version=1)
    # The user starts a flow list in the first modifier and has not closed it yet.
    at = text.index("    start_epoch: 0.0")
    edit = types.TextEdit(range=types.Range(start=_position(text, at), end=_position(text, at)),
                          new_text="    params: [conv1.weight, \n")
    typed = apply_edits(text, [edit], "utf-16")
    since = len(client.published)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(range=edit.range, text=edit.new_text)]))
    published = await settle(client, uri, since=since, version=2)
    assert any(d.code == "syntax" for d in published.diagnostics)
    # A field far below the error still has its documentation.
    field = typed.index("inter_func: cubic")
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=_position(typed, field + 2)))
    assert hover is not None and "inter_func" in str(hover.contents)


@pytest.mark.asyncio
async def test_inlay_hints_and_hover_show_each_weights_sensitivity(client):
    uri = (RECIPES / "sensitivity.recipe.yaml").as_uri()
    text = (RECIPES / "bad_params.recipe.yaml").read_text(encoding="utf-8")
    since = _open(client, uri, text)
    await settle(client, uri, since=since, version=1)
    lines = text.count("\n") + 1
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=lines, character=0))))
    labels = [h.label for h in hints]
    assert labels and all(label.startswith("sens ") and "#" in label for label in labels), labels
    # conv1 is Sparsify's most sensitive kind of layer: few params between big activations.
    at = text.index("- conv1.weight") + 2
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=_position(text, at + 2)))
    assert "loss sensitivity" in str(hover.contents) and "rank" in str(hover.contents)

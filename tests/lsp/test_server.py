"""End-to-end tests of `prunekit-lsp` with pytest-lsp, once with VS Code's and once with Neovim's
captured client capabilities (pytest-lsp also checks every answer against them: a snippet sent to a
client without snippet support fails the test).

Diagnostics come from the fixtures in tests/fixtures/recipes: each broken line names its expected
code (`# expect: CODE`, see lsp_harness.py). Positions are computed in the encoding the server
negotiated (VS Code offers none, so UTF-16; Neovim 0.11 offers utf-8, utf-16 and utf-32)."""

from __future__ import annotations

import re

import pytest
from lsprotocol import types

from lsp_harness import (
    RECIPES, Diag, apply_edits, check_expectations, completion_items, completion_labels,
    definition_locations, diag_from_lsp, end_position, fixture_id, flatten_symbols, hover_text,
    invalid_fixtures, lsp_col, parse_expectations, position_of, settle, valid_fixtures,
    workspace_edit_for,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning"),
]

GMP = RECIPES / "digits_gmp.recipe.yaml"
# The prunable weights of tests/fixtures/digits_cnn.onnx (`prunekit-kernel analyze`).
DIGITS_WEIGHTS = {"conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"}
DIGITS_NOT_PRUNABLE = {"conv1.bias", "bn1.weight", "bn1.running_mean", "fc1.bias", "fc2.bias"}


def _open(client, uri: str, text: str, version: int = 1) -> int:
    """didOpen; returns the index in client.published from which to wait for its diagnostics."""
    since = len(client.published)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id=client.language_id(uri),
                                             version=version, text=text)))
    return since


def _replace_all(client, uri: str, text: str, version: int) -> int:
    since = len(client.published)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
    return since


async def _diagnostics(client, uri: str, text: str):
    since = _open(client, uri, text)
    pub = await settle(client, uri, since=since, version=1)
    return pub.diagnostics


def _edited_gmp(transform) -> tuple[str, str]:
    """A variant of digits_gmp.recipe.yaml opened under its own URI (same directory, so the
    modeline still finds ../digits_cnn.onnx)."""
    text = transform(GMP.read_text(encoding="utf-8"))
    return (RECIPES / "edited.recipe.yaml").as_uri(), text


def _numbers(text: str) -> str:
    """Drop thousands separators so 36,864 / 36 864 / 36_864 all read 36864."""
    return re.sub(r"(?<=\d)[,_'\u00a0\u2009\u202f ](?=\d{3}\b)", "", text)


# --- diagnostics -------------------------------------------------------------------------------

@pytest.mark.parametrize("path", invalid_fixtures(), ids=fixture_id)
async def test_invalid_fixture_gets_expected_diagnostics(client, path):
    text = path.read_text(encoding="utf-8")
    diags = await _diagnostics(client, path.as_uri(), text)
    lines = text.splitlines()
    for d in diags:
        assert d.source == "prunekit", f"diagnostic without source 'prunekit': {d}"
        assert isinstance(d.code, str) and d.code, f"diagnostic without a string code: {d}"
        assert (d.range.start.line, d.range.start.character) <= (d.range.end.line, d.range.end.character)
        assert d.range.start.line < len(lines) + 1, f"diagnostic past the end of the file: {d}"
    problems = check_expectations([diag_from_lsp(d) for d in diags], parse_expectations(text), lines)
    assert not problems, f"{fixture_id(path)} ({client.profile}):\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("path", valid_fixtures(), ids=fixture_id)
async def test_valid_fixture_has_no_errors_or_warnings(client, path):
    diags = await _diagnostics(client, path.as_uri(), path.read_text(encoding="utf-8"))
    bad = [diag_from_lsp(d).short() for d in diags if d.severity in (
        types.DiagnosticSeverity.Error, types.DiagnosticSeverity.Warning)]
    assert not bad, f"{fixture_id(path)} ({client.profile}) should be clean, got:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("fixture,code,needle,suggestion", [
    ("bad_fields.recipe.yaml", "unknown-modifier", "!GMPrunningModifier", "GMPruningModifier"),
    ("bad_fields.recipe.yaml", "unknown-field", "inter_fun:", "inter_func"),
    ("bad_params.recipe.yaml", "unknown-param", "conv3.weight", "conv"),
    ("bad_eval.recipe.yaml", "eval-unknown-variable", "num_epochz", "num_epochz"),
])
async def test_messages_name_the_fix(client, fixture, code, needle, suggestion):
    """Did-you-mean: the message for a near miss names the intended class / field / layer."""
    path = RECIPES / fixture
    text = path.read_text(encoding="utf-8")
    line = next(i for i, l in enumerate(text.splitlines()) if needle in l)
    diags = [d for d in await _diagnostics(client, path.as_uri(), text)
             if d.code == code and d.range.start.line == line]
    assert diags, f"no {code} on line {line + 1} of {fixture}"
    assert any(suggestion in d.message for d in diags), (
        f"{code} message should mention {suggestion!r}: {[d.message for d in diags]}")


# --- hover -------------------------------------------------------------------------------------

async def test_hover_on_modifier_tag(client):
    text = GMP.read_text(encoding="utf-8")
    _open(client, GMP.as_uri(), text)
    h = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=GMP.as_uri()),
        position=position_of(text, "!GMPruningModifier", offset=4, encoding=client.position_encoding)))
    body = hover_text(h)
    assert "GMPruningModifier" in body, f"hover on the tag: {body!r}"
    assert "sparsity" in body.lower() and len(body) > 60, f"hover on the tag has no docs: {body!r}"


@pytest.mark.parametrize("field,must", [
    ("inter_func", ["linear", "cubic", "inverse_cubic"]),
    ("final_sparsity", ["final_sparsity"]),
    ("lr_func", ["linear", "cosine", "cyclic_linear"]),
])
async def test_hover_on_field(client, field, must):
    text = GMP.read_text(encoding="utf-8")
    _open(client, GMP.as_uri(), text)
    h = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=GMP.as_uri()),
        position=position_of(text, f"    {field}:", offset=6, encoding=client.position_encoding)))
    body = hover_text(h)
    assert field in body, f"hover on {field}: {body!r}"
    missing = [m for m in must if m not in body]
    assert not missing and len(body) > len(field) + 20, f"hover on {field} lacks {missing}: {body!r}"


@pytest.mark.parametrize("layer,op,shape,params,flops", [
    # conv2 has no bias: params = prunable params = 16*8*3*3; FLOPs as `prunekit-kernel analyze`.
    ("conv2.weight", "Conv", (16, 8, 3, 3), ["1152"], ["36864", r"36\.\d+\s*[kK]"]),
    ("fc1.weight", "Gemm", (32, 64), ["2080", "2048"], ["4096", r"4\.\d+\s*[kK]"]),
])
async def test_hover_on_layer_name_in_params(client, layer, op, shape, params, flops):
    uri, text = _edited_gmp(lambda t: t.replace(
        "params: eval(prunable_convs)", 'params: ["conv1.weight", "conv2.weight"]'))
    _open(client, uri, text)
    if layer == "conv2.weight":
        needle = 'params: ["conv1.weight", "conv2.weight"]'
        offset = needle.index(layer) + 2
    else:
        needle, offset = f"- {layer}", 4
    h = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=position_of(text, needle, offset=offset, encoding=client.position_encoding)))
    body = hover_text(h)
    flat = _numbers(body)
    assert op in body, f"hover on {layer} should name the op type {op}: {body!r}"
    sep = r"\D{1,4}"
    assert re.search(sep.join(str(d) for d in shape), body), f"hover on {layer} lacks shape {shape}: {body!r}"
    assert any(re.search(rf"(?<![\d.]){p}(?![\d])", flat) for p in params), (
        f"hover on {layer} lacks the parameter count ({' or '.join(params)}): {body!r}")
    assert any(re.search(rf"(?<![\d.]){f}", flat) for f in flops), (
        f"hover on {layer} lacks FLOPs ({' or '.join(flops)}): {body!r}")


# --- completion --------------------------------------------------------------------------------

async def _complete(client, uri: str, text: str, position: types.Position | None = None):
    _open(client, uri, text)
    pos = position or end_position(text, client.position_encoding)
    return await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=pos))


@pytest.mark.parametrize("prefix", ["", "GM"])
async def test_completion_of_modifier_tags(client, prefix):
    uri, text = _edited_gmp(lambda t: t.rstrip("\n") + "\n\n  - !" + prefix)
    labels = [l.lstrip("!") for l in completion_labels(await _complete(client, uri, text))]
    assert "GMPruningModifier" in labels, f"tag completion after `- !{prefix}`: {labels}"
    if not prefix:
        for tag in ("EpochRangeModifier", "LearningRateFunctionModifier", "SetLearningRateModifier",
                    "QuantizationModifier", "ConstantPruningModifier", "MagnitudePruningModifier"):
            assert tag in labels, f"{tag} missing from tag completion: {labels}"
    assert "ASRegModifier" not in labels, "ASRegModifier is not registered with the YAML loader"


@pytest.mark.parametrize("prefix", ["", "in"])
async def test_completion_of_fields_not_yet_present(client, prefix):
    # The last modifier (GMPruning over fc1/fc2) has params, init/final sparsity, start/end epoch
    # and update_frequency; a new line inside it should offer the optional fields only.
    uri, text = _edited_gmp(lambda t: t.rstrip("\n") + "\n    " + prefix)
    labels = completion_labels(await _complete(client, uri, text))
    assert "inter_func" in labels, f"field completion in GMPruningModifier: {labels}"
    if not prefix:
        for f in ("mask_type", "leave_enabled"):
            assert f in labels, f"{f} missing from field completion: {labels}"
    for present in ("params", "init_sparsity", "final_sparsity", "start_epoch", "end_epoch",
                    "update_frequency"):
        assert present not in labels, f"{present} is already in the modifier but was offered: {labels}"
    assert "lr_func" not in labels, f"a LearningRateFunctionModifier field was offered: {labels}"


@pytest.mark.parametrize("line,values", [
    ("    inter_func: cubic", {"linear", "cubic", "inverse_cubic"}),
    ("    lr_func: cosine", {"linear", "cosine", "cyclic_linear"}),
])
async def test_completion_of_enum_values(client, line, values):
    key = line.split(":")[0]
    uri, text = _edited_gmp(lambda t: t.replace(line, key + ": "))
    pos = position_of(text, key + ": ", offset=len(key) + 2, encoding=client.position_encoding)
    labels = {l.strip('"\'') for l in completion_labels(await _complete(client, uri, text, pos))}
    assert values <= labels, f"enum completion for {key.strip()}: missing {values - labels}, got {labels}"


@pytest.mark.parametrize("style", ["block", "flow"])
async def test_completion_of_layer_names_in_params(client, style):
    if style == "block":
        uri, text = _edited_gmp(lambda t: t.replace("      - re:fc2\\.w.*\n", "      - re:fc2\\.w.*\n      - \n"))
        pos = position_of(text, "      - \n", offset=8, encoding=client.position_encoding)
    else:
        uri, text = _edited_gmp(lambda t: t.replace("params: eval(prunable_convs)", "params: [conv1.weight, ]"))
        pos = position_of(text, "[conv1.weight, ]", offset=15, encoding=client.position_encoding)
    items = completion_items(await _complete(client, uri, text, pos))
    by_label = {i.label.strip('"\''): i for i in items}
    missing = DIGITS_WEIGHTS - set(by_label)
    assert not missing, f"layer-name completion ({style}) misses {missing}: {sorted(by_label)}"
    offered = DIGITS_NOT_PRUNABLE & set(by_label)
    assert not offered, f"layer-name completion ({style}) offers weights that are not prunable: {offered}"
    for name in DIGITS_WEIGHTS:
        assert by_label[name].detail, f"completion item {name} has no detail: {by_label[name]}"
    assert re.search(r"16\D{1,4}8\D{1,4}3\D{1,4}3", by_label["conv2.weight"].detail), (
        f"conv2.weight's detail should show its shape [16, 8, 3, 3]: {by_label['conv2.weight'].detail!r}")


# --- symbols, definition, code actions ---------------------------------------------------------

@pytest.mark.parametrize("path", valid_fixtures(), ids=fixture_id)
async def test_document_symbols_one_per_modifier(client, path):
    text = path.read_text(encoding="utf-8")
    _open(client, path.as_uri(), text)
    result = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=types.TextDocumentIdentifier(uri=path.as_uri())))
    symbols = flatten_symbols(result)
    tags = {n: m.group(1) for n, l in enumerate(text.splitlines())
            if (m := re.match(r"\s*-\s*!(\w+)", l))}
    assert tags, "fixture without modifiers"
    on_tag = {}
    for name, rng in symbols:
        if rng.start.line in tags:
            on_tag.setdefault(rng.start.line, []).append(name)
    for line, tag in tags.items():
        names = on_tag.get(line, [])
        short = tag.removesuffix("Modifier")
        assert len(names) == 1 and short in names[0], (
            f"line {line + 1} ({tag}): expected one symbol naming {short}, got {names}; "
            f"all symbols: {[(n, r.start.line + 1) for n, r in symbols]}")


@pytest.mark.parametrize("fixture,alias,anchor", [
    ("digits_gmp.recipe.yaml", "*num_epochs", "&num_epochs"),
    ("mlp_legacy/recipe.yaml", "*prunable", "&prunable"),
    ("mlp_legacy/recipe.yaml", "*pruning_end", "&pruning_end"),
])
async def test_definition_from_alias_to_anchor(client, fixture, alias, anchor):
    path = RECIPES / fixture
    text = path.read_text(encoding="utf-8")
    _open(client, path.as_uri(), text)
    enc = client.position_encoding
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
        position=position_of(text, alias, offset=3, encoding=enc)))
    locs = definition_locations(result)
    target = position_of(text, anchor, offset=1, encoding=enc)
    ok = [r for u, r in locs if u == path.as_uri() and r.start.line == target.line
          and r.start.character <= target.character <= r.end.character]
    assert ok, (f"definition of {alias} should point at {anchor} (line {target.line + 1}, "
                f"character {target.character}): got {[(u, r) for u, r in locs]}")


@pytest.mark.parametrize("code,broken,fixed", [
    ("unknown-field", "inter_fun: linear", "inter_func: linear"),
    ("unknown-modifier", "!GMPrunningModifier", "!GMPruningModifier"),
])
async def test_code_action_applies_did_you_mean(client, code, broken, fixed):
    path = RECIPES / "bad_fields.recipe.yaml"
    uri, text = path.as_uri(), path.read_text(encoding="utf-8")
    line = next(i for i, l in enumerate(text.splitlines()) if broken in l)
    diags = [d for d in await _diagnostics(client, uri, text) if d.code == code and d.range.start.line == line]
    assert diags, f"no {code} diagnostic on line {line + 1}"
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diags[0].range,
        context=types.CodeActionContext(diagnostics=diags,
                                        trigger_kind=types.CodeActionTriggerKind.Invoked)))
    word = fixed.lstrip("!").split(":")[0]
    candidates = [a for a in actions or [] if isinstance(a, types.CodeAction) and a.edit
                  and word in a.title]
    assert candidates, f"no quick fix mentioning {word!r}: {[getattr(a, 'title', a) for a in actions or []]}"
    new_text = apply_edits(text, workspace_edit_for(candidates[0].edit, uri), client.position_encoding)
    assert fixed in new_text.splitlines()[line], f"after the fix: {new_text.splitlines()[line]!r}"
    since = _replace_all(client, uri, new_text, version=2)
    pub = await settle(client, uri, since=since, version=2)
    left = [diag_from_lsp(d).short() for d in pub.diagnostics if d.code == code]
    assert not left, f"{code} still reported after applying the quick fix: {left}"


# --- document synchronisation and positions ----------------------------------------------------

async def test_incremental_edits_are_applied_in_order(client):
    """Type a line character by character (one didChange each, sent without waiting), then send
    one didChange holding three edits whose positions only make sense applied in order. The last
    diagnostics must be those of the final text."""
    uri, text = _edited_gmp(lambda t: t)
    enc = client.position_encoding
    since = _open(client, uri, text)
    await settle(client, uri, since=since, version=1)

    version = 1
    typed = "\n    inter_func: linaer"
    for ch in typed:
        end = end_position(text, enc)
        text += ch
        version += 1
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(start=end, end=end), text=ch)]))

    # In the last modifier: `init_sparsity: 0.05` -> `0.5` -> `10.5` -> `1.5` (out of range).
    line = text.splitlines().index("    init_sparsity: 0.05", text.splitlines().index("      - fc1.weight"))
    col = len("    init_sparsity: ")

    def rng(a, b):
        return types.Range(start=types.Position(line=line, character=a), end=types.Position(line=line, character=b))

    changes = [types.TextDocumentContentChangePartial(range=rng(col, col + 4), text="0.5"),
               types.TextDocumentContentChangePartial(range=rng(col, col), text="1"),
               types.TextDocumentContentChangePartial(range=rng(col + 1, col + 2), text="")]
    version += 1
    since = len(client.published)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=changes))
    final = text.replace("\n    init_sparsity: 0.05\n    final_sparsity: eval(fc_sparsity)",
                         "\n    init_sparsity: 1.5\n    final_sparsity: eval(fc_sparsity)")
    assert final != text

    pub = await settle(client, uri, since=since, version=version, quiet=0.5)
    if pub.version is not None:
        assert pub.version == version, f"last diagnostics are for version {pub.version}, sent {version}"
    lines = final.splitlines()
    got = [diag_from_lsp(d) for d in pub.diagnostics]
    for code, n in (("range", line), ("enum", len(lines) - 1)):
        assert any(d.code == code and d.line == n and d.severity == "error" for d in got), (
            f"after the edits: no {code} error on line {n + 1} ({lines[n]!r}); got {[d.short() for d in got]}")
    # The oracle: the same final text opened fresh under another name in the same folder.
    fresh_uri = (RECIPES / "edited-final.recipe.yaml").as_uri()
    fresh_since = _open(client, fresh_uri, final)
    fresh = [diag_from_lsp(d) for d in (await settle(client, fresh_uri, since=fresh_since, version=1)).diagnostics]
    assert sorted(map(Diag.short, got)) == sorted(map(Diag.short, fresh)), (
        f"diagnostics after the edits differ from those of the final text opened fresh:\n"
        f"  after edits: {sorted(map(Diag.short, got))}\n  fresh:       {sorted(map(Diag.short, fresh))}")


async def test_positions_after_non_ascii_text(client):
    """The utf16 fixture has a non-ASCII comment, then `params: ["🚀.weight", "cönv9.weight",
    "conv2.weight"]`: 🚀 is 2 UTF-16 units (1 in UTF-32, 4 in UTF-8) — columns after it differ
    per encoding, so exact columns catch a server that counts bytes or code points."""
    await _check_non_ascii_positions(client)


@pytest.mark.parametrize("client_one_encoding", ["utf-8", "utf-16", "utf-32"], indirect=True)
async def test_positions_in_each_offered_encoding(client_one_encoding):
    """The same with a client that offers exactly one position encoding (LSP 3.17); the server may
    answer it or utf-16, and its columns must follow what it answered."""
    client = client_one_encoding
    assert client.position_encoding in (client.offered, "utf-16"), (
        f"offered only {client.offered}, the server chose {client.position_encoding}")
    await _check_non_ascii_positions(client)


async def _check_non_ascii_positions(client):
    path = RECIPES / "utf16.recipe.yaml"
    uri, text = path.as_uri(), path.read_text(encoding="utf-8")
    enc = client.position_encoding
    lines = text.splitlines()
    n = next(i for i, l in enumerate(lines) if "🚀.weight" in l)
    line = lines[n]
    diags = [d for d in await _diagnostics(client, uri, text) if d.range.start.line == n]
    for name in ("🚀.weight", "cönv9.weight"):
        q0 = line.index(f'"{name}"')
        q1 = q0 + len(name) + 1  # closing quote
        starts = {lsp_col(line, q0, enc), lsp_col(line, q0 + 1, enc)}
        ends = {lsp_col(line, q1, enc), lsp_col(line, q1 + 1, enc)}
        hits = [d for d in diags if d.code == "unknown-param" and d.range.start.character in starts]
        assert hits, (f"unknown-param for {name!r} should start at {sorted(starts)} ({enc}); got "
                      f"{[diag_from_lsp(d).short() for d in diags]}")
        assert hits[0].range.end.line == n and hits[0].range.end.character in ends, (
            f"unknown-param for {name!r} should end at {sorted(ends)} ({enc}): {diag_from_lsp(hits[0]).short()}")
    # The unknown field `nöte_📈` starts the line after 4 spaces and ends after 📈 (2 UTF-16 units).
    k = next(i for i, l in enumerate(lines) if l.startswith("    nöte_"))
    key_end = lsp_col(lines[k], lines[k].index(":"), enc)
    line_end = lsp_col(lines[k], lines[k].index("  #"), enc)
    field = [d for d in client.diagnostics.get(uri, []) if d.code == "unknown-field" and d.range.start.line == k]
    assert field and field[0].range.start.character == 4 and field[0].range.end.character in (key_end, line_end), (
        f"unknown-field on line {k + 1} should span 4..{key_end} (or ..{line_end}) in {enc}: "
        f"{[diag_from_lsp(d).short() for d in field]}")
    # A request position after the emoji must land on conv2.weight.
    h = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=position_of(text, '"conv2.weight"', offset=3, encoding=enc)))
    assert "Conv" in hover_text(h), f"hover after non-ASCII text ({enc}): {hover_text(h)!r}"


@pytest.mark.parametrize("fixture", ["bad_values.recipe.yaml", "utf16.recipe.yaml", "bad_card.recipe.md"])
async def test_crlf_line_endings_give_the_same_positions(client, fixture):
    """editor.md §3: LSP and YAML both treat \\r\\n as one line break; a CRLF copy of a fixture must
    get exactly the diagnostics of the LF original (same lines, same columns, \\r not counted)."""
    path = RECIPES / fixture
    text = path.read_text(encoding="utf-8")
    lf = [diag_from_lsp(d).short() for d in await _diagnostics(client, path.as_uri(), text)]
    crlf_uri = path.with_name("crlf-" + path.name).as_uri()
    crlf = [diag_from_lsp(d).short() for d in await _diagnostics(client, crlf_uri, text.replace("\n", "\r\n"))]
    assert lf, f"{fixture} should have diagnostics"
    assert sorted(crlf) == sorted(lf), f"CRLF copy of {fixture}:\n  LF:   {sorted(lf)}\n  CRLF: {sorted(crlf)}"

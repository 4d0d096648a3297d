"""`prunekit-lsp check FILE [--model M] [--format json]`: exit codes (0 without errors, 1 with),
the JSON shape, the fixtures' `# expect:` annotations, and the same diagnostics as the language
server sends for the same file (both count characters in UTF-16)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from lsprotocol import types

from lsp_harness import (
    LSP_BIN, MISSING_LSP, REPO_ROOT, check_expectations, diag_from_json, diag_from_lsp, fixture_id,
    index_of_col, invalid_fixtures, lsp_col, parse_expectations, recipe_files, settle,
)

SEVERITIES = {"error", "warning", "info", "hint"}
DIGITS = REPO_ROOT / "tests" / "fixtures" / "digits_cnn.onnx"


def run_check(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    if not LSP_BIN.is_file():
        pytest.fail(MISSING_LSP, pytrace=False)
    return subprocess.run([str(LSP_BIN), "check", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def check_json(path: Path, *extra: str) -> tuple[int, dict]:
    proc = run_check(str(path), "--format", "json", *extra)
    assert proc.returncode in (0, 1), (
        f"check {path} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        pytest.fail(f"check {path} --format json: stdout is not JSON ({e}):\n{proc.stdout[:2000]}")


def assert_shape(report: dict, path: Path) -> None:
    assert set(report) >= {"file", "diagnostics"}, f"top-level keys: {sorted(report)}"
    assert Path(report["file"]).resolve() == path.resolve(), f"file: {report['file']!r} for {path}"
    assert isinstance(report["diagnostics"], list)
    for d in report["diagnostics"]:
        assert set(d) >= {"code", "severity", "message", "range"}, f"diagnostic keys: {sorted(d)}"
        assert isinstance(d["code"], str) and d["code"], d
        assert d["severity"] in SEVERITIES, d
        assert isinstance(d["message"], str) and d["message"], d
        for end in ("start", "end"):
            pos = d["range"][end]
            assert set(pos) == {"line", "character"}, d
            assert all(isinstance(pos[k], int) and pos[k] >= 0 for k in pos), d
        r = d["range"]
        assert (r["start"]["line"], r["start"]["character"]) <= (r["end"]["line"], r["end"]["character"]), d


@pytest.mark.parametrize("path", recipe_files(), ids=fixture_id)
def test_check_json(path):
    rc, report = check_json(path)
    assert_shape(report, path)
    text = path.read_text(encoding="utf-8")
    diags = [diag_from_json(d) for d in report["diagnostics"]]
    expectations = parse_expectations(text)
    if expectations:
        assert rc == 1, f"{fixture_id(path)} has errors, so check must exit 1 (got {rc})"
        problems = check_expectations(diags, expectations, text.splitlines())
        assert not problems, f"check {fixture_id(path)}:\n  " + "\n  ".join(problems)
    else:
        assert rc == 0, f"{fixture_id(path)} is valid, so check must exit 0: {[d.short() for d in diags]}"
        bad = [d.short() for d in diags if d.severity in ("error", "warning")]
        assert not bad, f"{fixture_id(path)} should be clean: {bad}"


@pytest.mark.parametrize("path", invalid_fixtures(), ids=fixture_id)
def test_check_text_output(path):
    """Without --format json: the same exit code, and every expected code is printed."""
    proc = run_check(str(path))
    assert proc.returncode == 1, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    out = proc.stdout + proc.stderr
    codes = {e.code for e in parse_expectations(path.read_text(encoding="utf-8"))}
    missing = {c for c in codes if c not in out}
    assert not missing, f"text output of check {fixture_id(path)} lacks {missing}:\n{out}"
    assert path.name in out, f"text output should name the file:\n{out}"


def _utf16(text: str, line: int, col: int, encoding: str) -> int:
    lines = text.split("\n")
    if line >= len(lines):
        return col
    return lsp_col(lines[line], index_of_col(lines[line], col, encoding), "utf-16")


@pytest.mark.asyncio
@pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")
@pytest.mark.parametrize("path", recipe_files(), ids=fixture_id)
async def test_check_matches_language_server(client, path):
    """Same code, severity, range (converted to UTF-16) and message as publishDiagnostics."""
    text = path.read_text(encoding="utf-8")
    _, report = check_json(path)
    cli = Counter((d.code, d.severity, d.line, d.character, d.end_line, d.end_character, d.message)
                  for d in map(diag_from_json, report["diagnostics"]))
    since = len(client.published)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=path.as_uri(), language_id=client.language_id(path.as_uri()), version=1, text=text)))
    pub = await settle(client, path.as_uri(), since=since, version=1)
    enc = client.position_encoding
    lsp = Counter()
    for d in map(diag_from_lsp, pub.diagnostics):
        lsp[(d.code, d.severity, d.line, _utf16(text, d.line, d.character, enc), d.end_line,
             _utf16(text, d.end_line, d.end_character, enc), d.message)] += 1
    only_cli = sorted((cli - lsp).elements())
    only_lsp = sorted((lsp - cli).elements())
    assert not only_cli and not only_lsp, (
        f"{fixture_id(path)} ({client.profile}, {enc}): check and the server disagree\n"
        f"  only in check: {only_cli}\n  only in the server: {only_lsp}")


BAD_PARAMS_BODY = """version: 1.1.0
modifiers:
  - !GMPruningModifier
    params: ["conv1.weight", "conv3.weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 0.0
    end_epoch: 6.0
    update_frequency: 1.0
"""


def test_check_model_option(tmp_path):
    """No modeline and no model beside the recipe: names are not checked until --model names one."""
    recipe = tmp_path / "nomodel.recipe.yaml"
    recipe.write_text(BAD_PARAMS_BODY, encoding="utf-8")
    rc, report = check_json(recipe)
    assert rc == 0 and not [d for d in report["diagnostics"] if d["code"] == "unknown-param"], (
        f"without a model there is nothing to check names against: {report}")
    rc, report = check_json(recipe, "--model", str(DIGITS))
    hits = [d for d in report["diagnostics"] if d["code"] == "unknown-param"]
    assert rc == 1 and [d["range"]["start"]["line"] for d in hits] == [3], (
        f"--model {DIGITS.name}: expected one unknown-param on line 4: {report}")


def test_check_finds_model_of_the_same_stem(tmp_path):
    """`foo.recipe.yaml` next to `foo.onnx` (DESIGN.md: else an .onnx of the same stem)."""
    shutil.copy(DIGITS, tmp_path / "foo.onnx")
    recipe = tmp_path / "foo.recipe.yaml"
    recipe.write_text(BAD_PARAMS_BODY, encoding="utf-8")
    rc, report = check_json(recipe)
    hits = [d for d in report["diagnostics"] if d["code"] == "unknown-param"]
    assert rc == 1 and len(hits) == 1, f"foo.onnx should be used for foo.recipe.yaml: {report}"


def test_check_modeline_relative_to_the_recipe(tmp_path):
    """The modeline path is relative to the recipe, not to the working directory."""
    (tmp_path / "models").mkdir()
    shutil.copy(DIGITS, tmp_path / "models" / "cnn.onnx")
    (tmp_path / "recipes").mkdir()
    recipe = tmp_path / "recipes" / "prune.recipe.yaml"
    recipe.write_text("# prunekit: model=../models/cnn.onnx\n" + BAD_PARAMS_BODY, encoding="utf-8")
    proc = run_check(str(recipe), "--format", "json", cwd=tmp_path / "models")
    report = json.loads(proc.stdout)
    hits = [d for d in report["diagnostics"] if d["code"] == "unknown-param"]
    assert proc.returncode == 1 and [d["range"]["start"]["line"] for d in hits] == [4], report


def test_check_warnings_only_exit_zero(tmp_path):
    recipe = tmp_path / "lr.recipe.yaml"
    recipe.write_text("modifiers:\n  - !SetLearningRateModifier\n    start_epoch: 0.0\n"
                      "    learning_rate: 1e-7\n", encoding="utf-8")
    rc, report = check_json(recipe)
    codes = [(d["code"], d["severity"]) for d in report["diagnostics"]]
    assert rc == 0 and ("yaml11-trap", "warning") in codes, f"exit {rc}: {codes}"

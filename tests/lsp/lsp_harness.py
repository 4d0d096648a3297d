"""Helpers shared by the language-server tests in tests/lsp: where the server and the recipe
fixtures live, the `# expect: CODE` annotations the invalid fixtures carry, position encodings, a
pytest-lsp client that keeps every publishDiagnostics it receives, and small converters from LSP
results to plain Python values.

The fixtures annotate each broken line with the diagnostics it must get:

    final_sparsity: 1.0  # expect: range(error)
    params: [a, b  # expect[+1]: syntax

`CODE(SEVERITY)` also fixes the severity; `expect[+N]` accepts a diagnostic that starts on this line
or on one of the N lines after it (a YAML scanner reports an unclosed flow list where it notices,
on the next line). Several codes are separated by commas; a code listed twice needs two diagnostics.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types

REPO_ROOT = Path(__file__).resolve().parents[2]
RECIPES = REPO_ROOT / "tests" / "fixtures" / "recipes"
# The server under test, built by `make release`; PRUNEKIT_LSP_BIN points the tests at another build.
LSP_BIN = Path(os.environ.get("PRUNEKIT_LSP_BIN", REPO_ROOT / "target" / "release" / "prunekit-lsp"))
MISSING_LSP = f"{LSP_BIN} is missing: run `make release` first"

SEVERITY_NAMES = {1: "error", 2: "warning", 3: "info", 4: "hint"}

# `# expect: a, b(warning)` / `# expect[+1]: syntax` — the whole rest of the line must match, so
# prose such as `("# expect: CODE")` in a header comment is not taken for an annotation.
_EXPECT = re.compile(r"#\s*expect(?:\[\+(?P<window>\d+)\])?:\s*(?P<codes>.+?)\s*$")
_CODE = re.compile(r"(?P<code>[a-z0-9]+(?:-[a-z0-9]+)*)(?:\((?P<sev>error|warning|info|hint)\))?")


def recipe_files() -> list[Path]:
    """Every recipe fixture, in a stable order (the file patterns the server claims)."""
    found = set()
    for pattern in ("*.recipe.yaml", "*.recipe.yml", "*.recipe.md", "recipe.yaml"):
        found.update(RECIPES.rglob(pattern))
    return sorted(found)


def fixture_id(path: Path) -> str:
    return path.relative_to(RECIPES).as_posix()


@dataclass(frozen=True)
class Expectation:
    line: int          # 0-based
    window: int        # also accept a diagnostic that starts up to this many lines later
    code: str
    severity: str | None
    text: str          # the annotated line, for messages

    def accepts_line(self, line: int) -> bool:
        return self.line <= line <= self.line + self.window

    def describe(self) -> str:
        sev = f"({self.severity})" if self.severity else ""
        where = f"line {self.line + 1}" + (f"..{self.line + 1 + self.window}" if self.window else "")
        return f"{where} `{self.text.strip()}`: expected {self.code}{sev}"


def parse_expectations(text: str) -> list[Expectation]:
    out = []
    for n, line in enumerate(text.splitlines()):
        m = _EXPECT.search(line)
        if not m:
            continue
        items = [s.strip() for s in m.group("codes").split(",")]
        parsed = [_CODE.fullmatch(s) for s in items]
        if not all(parsed):
            continue  # prose, not an annotation
        window = int(m.group("window") or 0)
        for p in parsed:
            out.append(Expectation(n, window, p.group("code"), p.group("sev"), line))
    return out


def invalid_fixtures() -> list[Path]:
    return [p for p in recipe_files() if parse_expectations(p.read_text(encoding="utf-8"))]


def valid_fixtures() -> list[Path]:
    return [p for p in recipe_files() if not parse_expectations(p.read_text(encoding="utf-8"))]


# --- diagnostics as plain values ---------------------------------------------------------------

@dataclass(frozen=True)
class Diag:
    code: str | None
    severity: str
    message: str
    line: int
    character: int
    end_line: int
    end_character: int
    source: str | None = None

    def short(self) -> str:
        return (f"{self.code}({self.severity}) at {self.line + 1}:{self.character}"
                f"-{self.end_line + 1}:{self.end_character} {self.message!r}")


def diag_from_lsp(d: types.Diagnostic) -> Diag:
    sev = SEVERITY_NAMES.get(int(d.severity), "?") if d.severity is not None else "none"
    code = None if d.code is None else str(d.code)
    return Diag(code, sev, d.message, d.range.start.line, d.range.start.character,
                d.range.end.line, d.range.end.character, d.source)


def diag_from_json(d: dict) -> Diag:
    r = d["range"]
    return Diag(d["code"], d["severity"], d["message"], r["start"]["line"], r["start"]["character"],
                r["end"]["line"], r["end"]["character"])


def check_expectations(diags: list[Diag], expectations: list[Expectation],
                       lines: list[str]) -> list[str]:
    """Problems, one sentence each (empty when the diagnostics match the annotations):
    - every expectation needs its own diagnostic (code, severity if given, start line in window);
    - every error-severity diagnostic must be expected at the line it starts on."""
    problems = []
    unused = list(diags)
    for e in expectations:
        match = next((d for d in unused if d.code == e.code and e.accepts_line(d.line)
                      and (e.severity is None or d.severity == e.severity)), None)
        if match is not None:
            unused.remove(match)
            continue
        near = [d.short() for d in diags if e.accepts_line(d.line)]
        problems.append(f"{e.describe()}; got {near or 'no diagnostic there'}")
    for d in diags:
        if d.severity != "error":
            continue
        if not any(e.code == d.code and e.accepts_line(d.line) for e in expectations):
            text = lines[d.line].strip() if 0 <= d.line < len(lines) else "<past the end>"
            problems.append(f"unexpected error {d.short()} on line {d.line + 1} `{text}`")
    return problems


# --- position encodings ------------------------------------------------------------------------

def units(s: str, encoding: str) -> int:
    """Length of `s` in the code units of a negotiated LSP position encoding."""
    if encoding == "utf-8":
        return len(s.encode("utf-8"))
    if encoding == "utf-32":
        return len(s)
    return len(s.encode("utf-16-le")) // 2


def lsp_col(line: str, index: int, encoding: str) -> int:
    """The LSP `character` of the code point at `index` of `line`."""
    return units(line[:index], encoding)


def index_of_col(line: str, col: int, encoding: str) -> int:
    """The code-point index of LSP `character` `col` of `line` (clamped to the line's end)."""
    n = 0
    for i, ch in enumerate(line):
        if n >= col:
            return i
        n += units(ch, encoding)
    return len(line)


def position_of(text: str, needle: str, *, occurrence: int = 0, offset: int = 0,
                encoding: str = "utf-16") -> types.Position:
    """The position of the `occurrence`-th `needle` in `text`, plus `offset` code points."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(needle, start + 1)
    index = start + offset
    line_no = text.count("\n", 0, index)
    line_start = text.rfind("\n", 0, index) + 1
    line = text[line_start:].split("\n", 1)[0]
    return types.Position(line=line_no, character=lsp_col(line, index - line_start, encoding))


def offset_of(text: str, pos: types.Position, encoding: str) -> int:
    lines = text.split("\n")
    if pos.line >= len(lines):
        return len(text)
    base = sum(len(l) + 1 for l in lines[:pos.line])
    return base + index_of_col(lines[pos.line], pos.character, encoding)


def apply_edits(text: str, edits: list[types.TextEdit], encoding: str) -> str:
    """Apply non-overlapping text edits given against the same original text."""
    spans = sorted(((offset_of(text, e.range.start, encoding), offset_of(text, e.range.end, encoding),
                     e.new_text) for e in edits), reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text


def end_position(text: str, encoding: str) -> types.Position:
    lines = text.split("\n")
    return types.Position(line=len(lines) - 1, character=units(lines[-1], encoding))


# --- result converters -------------------------------------------------------------------------

def hover_text(h: types.Hover | None) -> str:
    if h is None:
        return ""
    c = h.contents
    parts = c if isinstance(c, list) else [c]
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        elif hasattr(p, "value"):
            out.append(p.value)
    return "\n".join(out)


def completion_items(result: Any) -> list[types.CompletionItem]:
    if result is None:
        return []
    if isinstance(result, list):
        return result
    return list(result.items)


def completion_labels(result: Any) -> list[str]:
    return [i.label for i in completion_items(result)]


def flatten_symbols(result: Any) -> list[tuple[str, types.Range]]:
    """(name, range) of every symbol, DocumentSymbol trees flattened, SymbolInformation as is."""
    out: list[tuple[str, types.Range]] = []

    def walk(sym):
        if isinstance(sym, types.DocumentSymbol):
            out.append((sym.name, sym.range))
            for child in sym.children or []:
                walk(child)
        else:
            out.append((sym.name, sym.location.range))

    for s in result or []:
        walk(s)
    return out


def definition_locations(result: Any) -> list[tuple[str, types.Range]]:
    if result is None:
        return []
    items = result if isinstance(result, list) else [result]
    out = []
    for it in items:
        if isinstance(it, types.LocationLink):
            out.append((it.target_uri, it.target_selection_range))
        else:
            out.append((it.uri, it.range))
    return out


def workspace_edit_for(edit: types.WorkspaceEdit, uri: str) -> list[types.TextEdit]:
    edits: list[types.TextEdit] = []
    if edit.changes:
        edits.extend(edit.changes.get(uri, []))
    for change in edit.document_changes or []:
        if isinstance(change, types.TextDocumentEdit) and change.text_document.uri == uri:
            edits.extend(e for e in change.edits if isinstance(e, types.TextEdit))
    return edits


# --- waiting for diagnostics -------------------------------------------------------------------

@dataclass
class Published:
    at: float                      # time.perf_counter() when the client handled it
    uri: str
    version: int | None
    diagnostics: list[types.Diagnostic]


async def settle(client, uri: str, *, since: int = 0, version: int | None = None,
                 quiet: float = 0.3, timeout: float = 15.0) -> Published:
    """The last publishDiagnostics for `uri` once they have stopped coming: wait for one that
    arrived after index `since` of `client.published` (and, when the server sends versions and
    `version` is given, one for that version), then until `quiet` seconds pass without another."""
    deadline = time.monotonic() + timeout
    seen = since
    last_change = time.monotonic()
    latest: Published | None = None
    while True:
        fresh = [p for p in client.published[seen:] if p.uri == uri]
        if len(client.published) > seen:
            seen = len(client.published)
        if fresh:
            latest = fresh[-1]
            last_change = time.monotonic()
        ready = latest is not None and (
            version is None or latest.version is None or latest.version >= version)
        now = time.monotonic()
        if ready and now - last_change >= quiet:
            return latest
        if now > deadline:
            got = "nothing" if latest is None else f"version {latest.version}"
            raise AssertionError(
                f"no publishDiagnostics for {uri}"
                + (f" version {version}" if version is not None else "")
                + f" within {timeout:.0f} s (last received: {got})")
        await asyncio.sleep(0.01)

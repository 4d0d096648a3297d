"""prunekit-lsp in a real Neovim (Debian's package, 0.7.2 on bookworm), headless.

A small init.lua, written into a temporary directory, starts the server for recipe files
(`vim.lsp.start` from Neovim 0.8 on, `vim.lsp.start_client` + `vim.lsp.buf_attach_client` before);
a probe script waits for the diagnostics, asks for hover at a given position, writes what Neovim
holds as JSON and quits. Neovim converts LSP positions itself, so the columns the test reads are
Neovim's byte columns: a server that miscounts UTF-16 shows up here too.

Set-up: `bash tests/lsp/setup.sh` (apt-get install neovim). Nothing is skipped: a missing nvim fails
with that command.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lsp_harness import (
    LSP_BIN, RECIPES, REPO_ROOT, Diag, check_expectations, fixture_id, invalid_fixtures,
    parse_expectations,
)

SETUP_HINT = "run `bash tests/lsp/setup.sh` (as root; it apt-installs Debian's neovim)"

INIT_LUA = r"""
-- Start prunekit-lsp for recipe files. Neovim >= 0.8 has vim.lsp.start; 0.7 needs start_client.
local server = os.getenv("PRUNEKIT_LSP")
local function start(buf)
  local config = { name = "prunekit", cmd = { server, "--stdio" }, root_dir = vim.fn.getcwd() }
  if vim.lsp.start then
    vim.lsp.start(config, { bufnr = buf })
  else
    local id = vim.lsp.start_client(config)
    vim.lsp.buf_attach_client(buf, id)
  end
end
vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile" }, {
  pattern = { "*.recipe.yaml", "*.recipe.yml", "recipe.yaml" },
  callback = function(args) start(args.buf) end,
})
"""

PROBE_LUA = r"""
-- Wait for diagnostics, hover at PROBE_HOVER (0-based line, byte column), write JSON, quit.
local out = { diagnostics = {}, hover = vim.NIL, clients = {} }
local v = vim.version()
out.nvim = string.format("%d.%d.%d", v.major, v.minor, v.patch)
local buf = vim.api.nvim_get_current_buf()
local function clients()
  if vim.lsp.get_clients then return vim.lsp.get_clients({ bufnr = buf }) end
  if vim.lsp.get_active_clients then return vim.lsp.get_active_clients({ bufnr = buf }) end
  return vim.lsp.buf_get_clients(buf)
end
local function probe()
  local timeout = tonumber(os.getenv("PROBE_TIMEOUT_MS")) or 15000
  out.attached = vim.wait(timeout, function() return #clients() > 0 end, 20)
  out.got_diagnostics = vim.wait(timeout, function() return #vim.diagnostic.get(buf) > 0 end, 20)
  vim.wait(300) -- a later publish (if any) replaces the first
  for _, c in pairs(clients()) do
    table.insert(out.clients, { name = c.name, offset_encoding = c.offset_encoding })
  end
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    local code = d.code
    if code == nil and d.user_data and d.user_data.lsp then code = d.user_data.lsp.code end
    table.insert(out.diagnostics, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      severity = d.severity, message = d.message, source = d.source, code = code,
    })
  end
  local at = os.getenv("PROBE_HOVER")
  if at and at ~= "" then
    local line, col = at:match("^(%d+):(%d+)$")
    vim.api.nvim_win_set_cursor(0, { tonumber(line) + 1, tonumber(col) })
    local params = vim.lsp.util.make_position_params()
    out.hover_params = params
    local responses = vim.lsp.buf_request_sync(buf, "textDocument/hover", params, 5000) or {}
    local texts = {}
    for _, r in pairs(responses) do
      if r.error then table.insert(texts, "ERROR: " .. vim.inspect(r.error)) end
      if r.result and r.result.contents then
        local lines = vim.lsp.util.convert_input_to_markdown_lines(r.result.contents)
        table.insert(texts, table.concat(lines, "\n"))
      end
    end
    out.hover = table.concat(texts, "\n")
  end
end
local ok, err = pcall(probe)
if not ok then out.error = tostring(err) end
local f = assert(io.open(os.getenv("PROBE_OUT"), "w"))
f:write(vim.fn.json_encode(out))
f:close()
for _, c in pairs(clients()) do vim.lsp.stop_client(c.id) end
vim.wait(500, function() return #clients() == 0 end, 20)
vim.cmd(ok and "qa!" or "cquit 1")
"""

SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}


@pytest.fixture(scope="module")
def nvim() -> str:
    exe = shutil.which("nvim")
    if exe is None:
        pytest.fail(f"nvim is not on PATH: {SETUP_HINT}.", pytrace=False)
    return exe


def run_nvim(nvim: str, tmp_path: Path, recipe: Path, hover: tuple[int, int] | None = None) -> dict:
    (tmp_path / "init.lua").write_text(INIT_LUA, encoding="utf-8")
    (tmp_path / "probe.lua").write_text(PROBE_LUA, encoding="utf-8")
    out = tmp_path / "probe.json"
    env = dict(os.environ, PRUNEKIT_LSP=str(LSP_BIN), PROBE_OUT=str(out),
               PROBE_HOVER=f"{hover[0]}:{hover[1]}" if hover else "",
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_STATE_HOME=str(tmp_path / "state"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    cmd = [nvim, "--headless", "-u", str(tmp_path / "init.lua"), "-i", "NONE", "-n",
           str(recipe), "-c", f"luafile {tmp_path / 'probe.lua'}"]
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"nvim did not quit within 60 s: {' '.join(cmd)}\n{e.stdout}\n{e.stderr}")
    assert out.is_file(), (f"nvim wrote no result (exit {proc.returncode}): {' '.join(cmd)}\n"
                           f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    result = json.loads(out.read_text(encoding="utf-8"))
    assert proc.returncode == 0 and "error" not in result, (
        f"nvim exit {proc.returncode}: {result.get('error')}\n{proc.stderr}")
    assert result["attached"], f"prunekit-lsp never attached to the buffer: {result}"
    return result


def to_diags(result: dict) -> list[Diag]:
    return [Diag(None if d.get("code") is None else str(d["code"]), SEVERITY.get(d["severity"], "?"),
                 d["message"], d["lnum"], d["col"], d.get("end_lnum", d["lnum"]),
                 d.get("end_col", d["col"]), d.get("source")) for d in result["diagnostics"]]


@pytest.mark.parametrize("path", [p for p in invalid_fixtures() if p.name.endswith(".recipe.yaml")],
                         ids=fixture_id)
def test_neovim_shows_expected_diagnostics(nvim, tmp_path, path):
    result = run_nvim(nvim, tmp_path, path)
    assert result["got_diagnostics"], f"no diagnostics reached Neovim {result['nvim']}: {result}"
    text = path.read_text(encoding="utf-8")
    diags = to_diags(result)
    assert all(d.source == "prunekit" for d in diags), [d.source for d in diags]
    problems = check_expectations(diags, parse_expectations(text), text.splitlines())
    assert not problems, f"Neovim {result['nvim']}, {fixture_id(path)}:\n  " + "\n  ".join(problems)


def test_neovim_columns_and_hover_after_non_ascii(nvim, tmp_path):
    """utf16.recipe.yaml: Neovim turns the server's UTF-16 columns into byte columns; they must
    land on the quoted names after 🚀 / ö, and hover sent from a byte column after them must
    reach conv2.weight."""
    path = RECIPES / "utf16.recipe.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    n = next(i for i, l in enumerate(lines) if "🚀.weight" in l)
    line = lines[n]

    def byte_col(index: int) -> int:
        return len(line[:index].encode("utf-8"))

    hover_at = (n, byte_col(line.index('"conv2.weight"') + 3))
    result = run_nvim(nvim, tmp_path, path, hover=hover_at)
    diags = [d for d in to_diags(result) if d.code == "unknown-param" and d.line == n]
    for name in ("🚀.weight", "cönv9.weight"):
        q = line.index(f'"{name}"')
        assert any(d.character in (byte_col(q), byte_col(q + 1)) for d in diags), (
            f"Neovim {result['nvim']}: unknown-param for {name!r} should start at byte "
            f"{byte_col(q)} or {byte_col(q + 1)}: {[d.short() for d in diags]}")
    assert "Conv" in (result.get("hover") or ""), (
        f"Neovim {result['nvim']}: hover at {hover_at} (params {result.get('hover_params')}): "
        f"{result.get('hover')!r}")

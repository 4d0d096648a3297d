"""The VS Code extension in a real VS Code workbench: code-server in Debian's Chromium.

What a person sees: a temporary workspace with the digits CNN, its measured magnitude loss profile
(`prunekit-kernel ... 'profile loss --method magnitude'`) and a broken recipe; code-server (VS Code
1.139) with every directory in a temporary folder (XDG_*, --user-data-dir, --extensions-dir), the
extension installed from `vscode-extension/dist/prunekit-linux-x64.vsix`, served on 127.0.0.1 with
`--auth none`; and `vscode-extension/test/e2e/run_workbench.mjs` (playwright-core driving
/usr/bin/chromium headless) opening the recipe, the Problems panel, a hover on a layer name, the
status bar, and completion of a modifier tag; then, in the same workbench, a broken recipe in
llm-compressor's staged layout (`<name>_stage: {<group>_modifiers: {ClassName: {args}}}`): its
Problems rows, a hover on a `targets` entry, and completion of class names and of a class's
fields. The workbench runs once per module; each test checks one thing it saw. The diagnostics
expected in the Problems panel come from `prunekit-lsp check --format json` on the same file (VS
Code lists errors, warnings and infos there, not hints); the staged classes and fields expected in
completion come from the JSON Schema the extension ships (`schemas/recipe.schema.json`, generated
from the same catalogue by `prunekit-lsp schema`).

Screenshots (`workbench.png`: recipe with squiggles, hover, Problems panel; `completion.png`;
`sensitivity.png`; `staged.png`: the staged recipe with its hover; `staged-completion.png`), the
browser script's JSON and log, code-server's log and the workbench's own logs (the extension's
output channel among them) are kept in vscode-extension/test/e2e/artifacts/.

Needs: `make release` (prunekit-lsp, prunekit-kernel), the .vsix (`cd vscode-extension && npm ci &&
npm run package`) and `bash vscode-extension/test/e2e/setup-code-server.sh` (Node 24 and
code-server in ${PRUNEKIT_CACHE:-~/.cache/prunekit}, chromium, playwright-core). Nothing is
skipped: a missing piece fails with the command to run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from processes import ancestors, cmdline, free_port, kill_leftovers, stop

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
EXT_ROOT = REPO_ROOT / "vscode-extension"
E2E = EXT_ROOT / "test" / "e2e"
RUNNER = E2E / "run_workbench.mjs"
ARTIFACTS = E2E / "artifacts"
VSIX = EXT_ROOT / "dist" / "prunekit-linux-x64.vsix"
SCHEMA = EXT_ROOT / "schemas" / "recipe.schema.json"
EXTENSION_ID = "prunekit.prunekit"
LSP_BIN = REPO_ROOT / "target" / "release" / "prunekit-lsp"
KERNEL_BIN = REPO_ROOT / "target" / "release" / "prunekit-kernel"
MODEL = REPO_ROOT / "tests" / "fixtures" / "digits_cnn.onnx"
CACHE = Path(os.environ.get("PRUNEKIT_CACHE") or Path.home() / ".cache" / "prunekit")
CODE_SERVER = CACHE / "bin" / "code-server"
CHROMIUM = Path("/usr/bin/chromium")
SETUP_HINT = "run `bash vscode-extension/test/e2e/setup-code-server.sh`"

RECIPE_NAME = "broken.recipe.yaml"
HOVER_LAYER = "conv2.weight"  # in `params`, with no diagnostic of its own (a clean hover)
COMPLETE = "GMPruningModifier"
# Invalid on purpose: an unknown layer in params and a schedule that ends before it starts (and a
# `sensitivity` hint on conv1.weight, which VS Code does not list in the Problems panel). The file
# ends with a newline: run_workbench.mjs types `  - !` on that empty last line.
RECIPE = """\
# prunekit: model=digits_cnn.onnx
# Invalid on purpose (tests/vscode/test_workbench.py): an unknown layer and a schedule that ends
# before it starts.
version: 1.1.0

modifiers:
  - !EpochRangeModifier
    start_epoch: 0.0
    end_epoch: 10.0

  - !GMPruningModifier
    params: ["conv1.weight", "conv2.weight", "conv3.weight"]
    init_sparsity: 0.05
    final_sparsity: 0.8
    start_epoch: 5.0
    end_epoch: 2.0
    update_frequency: 1.0
"""
STAGED_NAME = "broken.staged.recipe.yaml"
STAGED_LAYER = "conv2"  # a `targets` entry with no diagnostic of its own; its weight is conv2.weight
STAGED_CLASS = "SparseGPTModifier"  # the class whose mapping ends the recipe
STAGED_FIELD = "dampening_frac"  # accepted from the field completion (the recipe misspells it)
# Invalid on purpose, in llm-compressor's staged layout: a sparsity above 1, a misspelt field, and
# a target the model lacks. The recipe ends with the SparseGPTModifier mapping and a newline:
# run_workbench.mjs indents the empty last line by 4 (the group: class names) and then by 6 (the
# class's mapping: its fields).
STAGED_RECIPE = """\
# prunekit: model=digits_cnn.onnx
# Invalid on purpose (tests/vscode/test_workbench.py): a sparsity above 1, a misspelt field and a
# target the model lacks, in llm-compressor's staged layout.
sparsity_stage:
  sparsity_modifiers:
    SparseGPTModifier:
      sparsity: 1.5
      mask_structure: "2:4"
      dampening_fraction: 0.01
      targets: [conv1, conv2, 're:fc.*', conv9]
"""
# The fields the staged recipe writes (completion offers the others).
STAGED_WRITTEN = {"sparsity", "mask_structure", "dampening_fraction", "targets"}

# What VS Code's Problems panel shows for an LSP severity (hints are not listed there).
PANEL_SEVERITY = {"error": "error", "warning": "warning", "information": "info", "info": "info"}
# The fields GMPruningModifier requires, which its completion snippet fills in.
GMP_REQUIRED = ["params", "init_sparsity", "final_sparsity", "start_epoch", "end_epoch",
                "update_frequency"]

# User settings of the hermetic profile: no welcome page, chat or update checks, no auto-save (so
# the recipe on disk stays the one `prunekit-lsp check` read), a short hover delay.
USER_SETTINGS = {
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "chat.disableAIFeatures": True,
    "security.workspace.trust.enabled": False,
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "update.mode": "none",
    "telemetry.telemetryLevel": "off",
    "files.autoSave": "off",
    "git.enabled": False,
    "editor.minimap.enabled": False,
    "editor.hover.delay": 300,
}

SERVER_START_TIMEOUT = 60.0  # seconds until code-server answers /healthz
BROWSER_TIMEOUT = 150  # run_workbench.mjs's own watchdog (seconds)


def _fail(msg: str) -> None:
    pytest.fail(msg, pytrace=False)


def check_tools() -> None:
    """One sentence with the command to run for anything the test needs and cannot find."""
    if not LSP_BIN.is_file() or not KERNEL_BIN.is_file():
        _fail("target/release/prunekit-lsp or prunekit-kernel is missing: run `make release` first.")
    if not VSIX.is_file():
        _fail(f"{VSIX.relative_to(REPO_ROOT)} is missing: run `cd vscode-extension && npm ci && "
              "npm run package`.")
    if not CODE_SERVER.is_file():
        _fail(f"code-server is not in the cache ({CODE_SERVER} is missing): {SETUP_HINT}.")
    if not CHROMIUM.is_file():
        _fail(f"{CHROMIUM} is missing: {SETUP_HINT} (it installs Debian's chromium).")
    if shutil.which("node") is None:
        _fail(f"node is not on PATH: install Node 20 or newer and {SETUP_HINT}.")
    if not (E2E / "node_modules" / "playwright-core" / "package.json").is_file():
        _fail(f"vscode-extension/test/e2e/node_modules/playwright-core is missing: {SETUP_HINT}.")


# ------------------------------------------------------------------ workspace and environment

def check_json(ws: Path, name: str) -> dict:
    """What `prunekit-lsp check --format json` says about the recipe `name` in `ws`."""
    check = subprocess.run([str(LSP_BIN), "check", name, "--format", "json"], cwd=ws,
                           capture_output=True, text=True, timeout=30)
    if check.returncode not in (0, 1):
        _fail(f"prunekit-lsp check {name} exited {check.returncode}:\n{check.stdout}{check.stderr}")
    return json.loads(check.stdout)


def make_workspace(ws: Path) -> tuple[dict, dict]:
    """The model, its measured magnitude loss profile, and the two broken recipes (tagged and
    staged); returns what `prunekit-lsp check --format json` says about each."""
    ws.mkdir(parents=True)
    shutil.copy2(MODEL, ws / MODEL.name)
    prof = subprocess.run([str(KERNEL_BIN), "run", f"load {ws / MODEL.name}",
                           "profile loss --method magnitude"],
                          cwd=ws, capture_output=True, text=True, timeout=60)
    project = ws / f"{MODEL.name}.prunekit.json"
    if prof.returncode != 0 or not project.is_file():
        _fail(f"prunekit-kernel could not make the magnitude loss profile (exit {prof.returncode}, "
              f"{project.name} {'exists' if project.is_file() else 'missing'}):\n"
              f"{prof.stdout[-2000:]}{prof.stderr[-2000:]}")
    (ws / RECIPE_NAME).write_text(RECIPE)
    (ws / STAGED_NAME).write_text(STAGED_RECIPE)
    return check_json(ws, RECIPE_NAME), check_json(ws, STAGED_NAME)


def hermetic_env(root: Path) -> dict[str, str]:
    """This environment with every code-server directory under `root`, and nothing that would
    point code-server at another instance or set a password."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VSCODE_", "CODE_SERVER", "ELECTRON_"))
           and k not in ("PASSWORD", "HASHED_PASSWORD")}
    for name, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                      ("XDG_CACHE_HOME", "cache")):
        (root / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(root / sub)
    return env


class ServerWatcher(threading.Thread):
    """Records every prunekit-lsp process seen while the workbench runs: pid, the executable it
    runs (/proc/PID/exe), its command line and its ancestors."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: dict[int, dict] = {}
        self._halt = threading.Event()

    def scan(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in self.seen:
                continue
            pid = int(entry.name)
            try:
                exe = os.readlink(entry / "exe")
            except OSError:
                continue
            if Path(exe.removesuffix(" (deleted)")).name != "prunekit-lsp":
                continue
            self.seen[pid] = {"pid": pid, "exe": exe, "cmdline": cmdline(pid),
                              "ancestors": ancestors(pid)}

    def run(self) -> None:
        while not self._halt.is_set():
            self.scan()
            self._halt.wait(0.3)

    def halt(self) -> None:
        if not self._halt.is_set():
            self._halt.set()
            if self.is_alive():
                self.join(timeout=5)
            self.scan()


# ------------------------------------------------------------------ the run

@dataclass
class Workbench:
    root: Path
    workspace: Path
    ext_dir: Path
    expected: dict
    staged_expected: dict
    profile: dict
    result: dict
    server_pid: int
    servers: list[dict] = field(default_factory=list)
    extensions: str = ""


def _code_server(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(CODE_SERVER), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 (127.0.0.1 only)
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _keep_logs(root: Path, user_data: Path) -> None:
    logs = ARTIFACTS / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    if (user_data / "logs").is_dir():
        shutil.copytree(user_data / "logs", logs / "workbench", dirs_exist_ok=True)


def run_workbench(root: Path) -> Workbench:
    check_tools()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ("workbench.png", "completion.png", "sensitivity.png", "staged.png",
                "staged-completion.png", "result.json", "run_workbench.log", "code-server.log"):
        (ARTIFACTS / old).unlink(missing_ok=True)

    ws = root / "ws"
    expected, staged_expected = make_workspace(ws)
    profile = json.loads((ws / f"{MODEL.name}.prunekit.json").read_text())
    env = hermetic_env(root)
    user_data, ext_dir = root / "ud", root / "ext"
    (user_data / "User").mkdir(parents=True)
    (user_data / "User" / "settings.json").write_text(json.dumps(USER_SETTINGS, indent=1))
    dirs = ["--user-data-dir", str(user_data), "--extensions-dir", str(ext_dir)]

    inst = _code_server(env, *dirs, "--install-extension", str(VSIX))
    if inst.returncode != 0:
        _fail(f"code-server --install-extension {VSIX.name} exited {inst.returncode}:\n"
              f"{inst.stdout}{inst.stderr}")
    listed = _code_server(env, *dirs, "--list-extensions", "--show-versions")
    if not re.search(rf"^{re.escape(EXTENSION_ID)}@", listed.stdout, re.MULTILINE):
        _fail(f"after installing {VSIX.name}, code-server --list-extensions does not show "
              f"{EXTENSION_ID}:\n{listed.stdout}{listed.stderr}")

    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    cs_log_path = ARTIFACTS / "code-server.log"
    cs_log = open(cs_log_path, "w")
    server = None
    sessions: list[int] = []  # process groups / sessions this test started
    watcher = ServerWatcher()
    try:
        server = subprocess.Popen(
            [str(CODE_SERVER), "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", *dirs,
             "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
             str(ws)],
            env=env, cwd=root, stdout=cs_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        sessions.append(server.pid)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _healthy(f"{base}healthz"):
            if server.poll() is not None:
                _fail(f"code-server exited with status {server.returncode} before answering; its "
                      f"log ({cs_log_path}):\n{cs_log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                _fail(f"code-server did not answer {base}healthz within {SERVER_START_TIMEOUT:.0f} s;"
                      f" its log ({cs_log_path}):\n{cs_log_path.read_text()[-3000:]}")
            time.sleep(0.2)

        watcher.start()
        cmd = ["node", str(RUNNER), base, str(ws), str(ARTIFACTS), "--recipe", RECIPE_NAME,
               "--layer", HOVER_LAYER, "--problems", str(len(in_panel(expected))),
               "--complete", COMPLETE, "--staged", STAGED_NAME, "--staged-layer", STAGED_LAYER,
               "--staged-problems", str(len(in_panel(staged_expected))),
               "--staged-field", STAGED_FIELD,
               "--user-data-dir", str(root / "chromium-profile"), "--timeout", str(BROWSER_TIMEOUT)]
        # The browser's own XDG directories are the temporary ones too (Chromium makes
        # $XDG_CONFIG_HOME/chromium-headless even with a fresh --user-data-dir).
        browser = subprocess.Popen(cmd, cwd=E2E, env={**env, "NODE_NO_WARNINGS": "1"},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        sessions.append(browser.pid)
        try:
            out, err = browser.communicate(timeout=BROWSER_TIMEOUT + 15)
        except subprocess.TimeoutExpired:
            stop(browser, grace=5.0)
            out, err = browser.communicate()
            err += f"\n[test] run_workbench.mjs did not end within {BROWSER_TIMEOUT + 15} s\n"
        finally:
            stop(browser, grace=5.0)
            watcher.halt()
        (ARTIFACTS / "run_workbench.log").write_text(err)
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        if not lines:
            _fail(f"run_workbench.mjs exited {browser.returncode} without its JSON; its log "
                  f"({ARTIFACTS / 'run_workbench.log'}):\n{err[-3000:]}")
        result = json.loads(lines[-1])
        (ARTIFACTS / "result.json").write_text(json.dumps(result, indent=1))
        if browser.returncode != 0:
            _fail(f"run_workbench.mjs failed (exit {browser.returncode}): "
                  f"{'; '.join(result.get('errors', []))}\nits log: {ARTIFACTS / 'run_workbench.log'}")
        return Workbench(root=root, workspace=ws, ext_dir=ext_dir, expected=expected,
                         staged_expected=staged_expected, profile=profile, result=result, server_pid=server.pid,
                         servers=list(watcher.seen.values()), extensions=listed.stdout)
    finally:
        # Each clean-up step runs even when an earlier one raised.
        for cleanup in (watcher.halt, lambda: stop(server, grace=5.0), cs_log.close):
            try:
                cleanup()
            except Exception as e:  # noqa: BLE001 (keep cleaning up)
                print(f"[vscode] clean-up step failed: {e!r}")
        left = kill_leftovers(str(root), tuple(sessions))
        if left:
            with open(cs_log_path, "a") as f:
                f.write(f"\n[test] killed processes left behind: {left}\n")
        _keep_logs(root, user_data)


@pytest.fixture(scope="module")
def workbench(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    started = time.monotonic()
    wb = run_workbench(tmp_path_factory.mktemp("vscode"))
    print(f"\n[vscode] workbench run took {time.monotonic() - started:.1f} s; "
          f"artifacts in {ARTIFACTS}")
    return wb


def in_panel(check: dict) -> list[dict]:
    """The diagnostics of `check --format json` that VS Code lists in the Problems panel."""
    return [d for d in check["diagnostics"] if d["severity"] in PANEL_SEVERITY]


def step_ok(wb: Workbench, *steps: str, screenshot: str = "workbench.png") -> None:
    """The browser script's steps that this test relies on ran without a timeout."""
    errs = [e for e in wb.result.get("errors", []) if any(f"'{s}'" in e for s in steps)]
    assert not errs, "; ".join(errs) + f" (screenshot: {ARTIFACTS / screenshot})"


def _errors(notifications: list[str]) -> list[str]:
    return [n for n in notifications if n.startswith("error")]


# ------------------------------------------------------------------ the checks

def assert_panel_matches_check(rows: list[dict], check: dict, name: str) -> None:
    """Each diagnostic `check` lists is one Problems row of `name` (message, code, position,
    severity, source), and there are no others."""
    seen = [f"{r['severity']} {r['code']} {r['position']}: {r['message']}" for r in rows]
    for d in in_panel(check):
        pos = f"[Ln {d['range']['start']['line'] + 1}, Col {d['range']['start']['character'] + 1}]"
        match = [r for r in rows if r["message"] == d["message"] and r["code"] == d["code"]
                 and r["position"] == pos and r["severity"] == PANEL_SEVERITY[d["severity"]]
                 and r["source"] == "prunekit" and r["file"] == name]
        assert match, (f"the Problems panel has no row of {name} for {d['severity']} {d['code']} at "
                       f"{pos}: {d['message']!r}; it lists:\n  " + "\n  ".join(seen))
    assert len(rows) == len(in_panel(check)), (
        f"the Problems panel lists {len(rows)} row(s) of {name}, `prunekit-lsp check` "
        f"{len(in_panel(check))} (errors, warnings, infos):\n  " + "\n  ".join(seen))


def test_problems_panel_lists_the_server_diagnostics(workbench: Workbench) -> None:
    wb = workbench
    diags = wb.expected["diagnostics"]
    codes = {d["code"] for d in diags if d["severity"] == "error"}
    assert {"unknown-param", "schedule"} <= codes, (
        f"the fixture recipe should give unknown-param and schedule errors; check says {diags}")
    step_ok(wb, "open recipe", "problems")
    assert_panel_matches_check(wb.result["problems"], wb.expected, RECIPE_NAME)
    assert "squiggly-error" in wb.result.get("squiggles", []), (
        f"the editor shows no error squiggle (screenshot: {ARTIFACTS / 'workbench.png'})")


def assert_hover_shows_sensitivity(hover: str, profile: dict, weight: str) -> None:
    """`hover` names `weight` and shows its sensitivity and rank from the magnitude profile."""
    layers = profile["loss_profiles"]["magnitude"]["layers"]
    layer = next(x for x in layers if x["weight"] == weight)
    assert weight in hover, f"the hover does not name {weight}: {hover!r}"
    assert "sensitivity" in hover, f"the hover on {weight} shows no sensitivity: {hover!r}"
    assert "magnitude loss profile" in hover, (
        f"the hover does not say the sensitivity comes from the magnitude loss profile: {hover!r}")
    value = f"{layer['integral']:.3f}"
    rank = f"rank {layer['rank']} of {len(layers)}"
    assert value in hover and rank in hover, (
        f"the hover should show the profile's sensitivity {value} and {rank} for {weight}: "
        f"{hover!r}")


def test_hover_shows_the_layer_sensitivity_from_the_profile(workbench: Workbench) -> None:
    step_ok(workbench, "hover")
    assert_hover_shows_sensitivity(workbench.result["hover"], workbench.profile, HOVER_LAYER)


def test_completion_offers_a_modifier_snippet(workbench: Workbench) -> None:
    wb = workbench
    step_ok(wb, "completion")
    items = {c["label"]: c for c in wb.result["completions"]}
    assert COMPLETE in items, (
        f"completion after `- !` does not offer {COMPLETE}; it offers {sorted(items)}")
    assert items[COMPLETE]["kind"] == "class", f"{COMPLETE} is not a class item: {items[COMPLETE]}"
    accepted = wb.result["accepted"]
    assert accepted.startswith(f"  - !{COMPLETE}"), f"accepting {COMPLETE} inserted {accepted!r}"
    assert wb.result["snippet"], (
        f"accepting {COMPLETE} did not start a snippet (no placeholders): {accepted!r}")
    missing = [f for f in GMP_REQUIRED if f"{f}:" not in accepted]
    assert not missing, f"the {COMPLETE} snippet lacks the required fields {missing}: {accepted!r}"


def test_completion_snippet_puts_fields_under_the_tag(workbench: Workbench) -> None:
    step_ok(workbench, "completion")
    fields = workbench.result["accepted"].splitlines()[1:]
    indents = {len(f) - len(f.lstrip(" ")) for f in fields if f.strip()}
    assert indents == {4}, (
        f"the snippet's fields should be indented 4 spaces, like the recipe's other modifiers; "
        f"they are {sorted(indents)}:\n{workbench.result['accepted']}")


def test_status_bar_names_the_model(workbench: Workbench) -> None:
    wb = workbench
    step_ok(wb, "statusbar")
    texts = [i["text"] for i in wb.result["statusbar"]]
    assert f"$(circuit-board) {MODEL.name}" in texts, (
        f"no status bar item `$(circuit-board) {MODEL.name}`; the status bar shows {texts}")
    assert "SparseML Recipe" in texts, f"the language is not SparseML Recipe; status bar: {texts}"


def test_status_bar_opens_the_sensitivity_chart(workbench: Workbench) -> None:
    """Clicking the model's status bar item shows the chart the core drew (a 2x PNG) in a
    webview beside the recipe, from the measured profile."""
    wb = workbench
    step_ok(wb, "chart")
    assert wb.result["chartTab"].startswith(f"Sensitivity: {MODEL.name}"), wb.result["chartTab"]
    chart = wb.result["chart"]
    assert chart["width"] > 300 and chart["height"] > 100, chart
    assert "magnitude loss profile 'magnitude'" in chart["caption"], chart


def test_server_spawned_from_the_installed_extension(workbench: Workbench) -> None:
    wb = workbench
    bundled = sorted(wb.ext_dir.glob(f"{EXTENSION_ID}-*/server/prunekit-lsp"))
    assert bundled, f"the installed extension has no server/prunekit-lsp under {wb.ext_dir}"
    ours = [p for p in wb.servers
            if Path(p["exe"].removesuffix(" (deleted)")).resolve() == bundled[0].resolve()
            and wb.server_pid in p["ancestors"]]
    assert ours, (f"no prunekit-lsp process ran {bundled[0]} under code-server (pid "
                  f"{wb.server_pid}); prunekit-lsp processes seen: {wb.servers}")
    # The extension also runs the binary briefly with `--version` (to log it), which the watcher
    # may or may not catch: the server is the one on stdio.
    on_stdio = [p for p in ours if "--stdio" in p["cmdline"].split()]
    assert on_stdio, f"the server was not started on stdio: {ours}"


def test_installed_server_is_this_build(workbench: Workbench, tmp_path: Path) -> None:
    """The .vsix carries target/release/prunekit-lsp (stripped), not an older build: the Problems
    panel is compared with what this build's `prunekit-lsp check` says."""
    bundled = sorted(workbench.ext_dir.glob(f"{EXTENSION_ID}-*/server/prunekit-lsp"))
    assert bundled, f"the installed extension has no server/prunekit-lsp under {workbench.ext_dir}"
    hint = "the .vsix is stale: run `cd vscode-extension && npm run package`"
    if shutil.which("strip"):
        stripped = tmp_path / "prunekit-lsp"
        subprocess.run(["strip", "--strip-all", "-o", str(stripped), str(LSP_BIN)], check=True,
                       capture_output=True, timeout=60)
        assert stripped.read_bytes() == bundled[0].read_bytes(), (
            f"the extension's server/prunekit-lsp is not target/release/prunekit-lsp: {hint}")
    else:
        assert VSIX.stat().st_mtime >= LSP_BIN.stat().st_mtime, (
            f"{VSIX.name} is older than target/release/prunekit-lsp: {hint}")


def test_no_error_notification_while_reading(workbench: Workbench) -> None:
    """Opening the recipe, the Problems panel and a hover raise no error toast."""
    step_ok(workbench, "screenshot")
    errs = _errors(workbench.result["notificationsBeforeEdit"])
    assert not errs, f"the workbench showed error notifications: {errs}"


def test_no_error_notification_while_typing(workbench: Workbench) -> None:
    step_ok(workbench, "completion", "notifications")
    errs = _errors(workbench.result["notifications"])
    assert not errs, f"the workbench showed error notifications while typing: {errs}"


# ------------------------------------------------------------------ the staged recipe

def staged_schema() -> tuple[set[str], set[str]]:
    """The staged class names and the current fields of STAGED_CLASS, from the JSON Schema the
    extension ships (a test of the server checks that it is what `prunekit-lsp schema` writes).
    Fields with a `deprecationMessage` (earlier SparseML releases' `percdamp`, which SparseML 1.7
    drops) validate there but are not offered."""
    defs = json.loads(SCHEMA.read_text())["definitions"]
    classes = set(defs["staged_group"]["properties"])
    fields = {name for name, spec in defs[f"staged.{STAGED_CLASS}"]["properties"].items()
              if "deprecationMessage" not in spec}
    return classes, fields


def test_staged_problems_panel_lists_the_server_diagnostics(workbench: Workbench) -> None:
    wb = workbench
    diags = wb.staged_expected["diagnostics"]
    codes = {d["code"] for d in in_panel(wb.staged_expected)}
    assert {"range", "unknown-field", "unknown-module"} <= codes, (
        f"the staged fixture should give range, unknown-field and unknown-module diagnostics; "
        f"check says {diags}")
    step_ok(wb, "staged close first", "staged open", "staged problems", screenshot="staged.png")
    staged = wb.result["staged"]
    assert_panel_matches_check(staged["problems"], wb.staged_expected, STAGED_NAME)
    assert not staged["otherProblems"], (
        f"after closing {RECIPE_NAME}, the Problems panel still lists rows of other files: "
        f"{staged['otherProblems']}")
    assert "squiggly-error" in staged["squiggles"], (
        f"the staged recipe shows no error squiggle (screenshot: {ARTIFACTS / 'staged.png'})")


def test_staged_hover_on_a_target_shows_the_layer_sensitivity(workbench: Workbench) -> None:
    step_ok(workbench, "staged hover", screenshot="staged.png")
    hover = workbench.result["staged"]["hover"]
    assert f"{STAGED_LAYER} — 1 layer of {MODEL.name}, selected (targets)" in hover, (
        f"the hover on the target {STAGED_LAYER} does not say what it selects: {hover!r}")
    assert_hover_shows_sensitivity(hover, workbench.profile, f"{STAGED_LAYER}.weight")


def test_staged_completion_offers_the_staged_classes(workbench: Workbench) -> None:
    step_ok(workbench, "staged completion", screenshot="staged-completion.png")
    classes, _ = staged_schema()
    items = workbench.result["staged"]["classes"]
    labels = {c["label"] for c in items}
    assert labels == classes, (
        f"completion inside `sparsity_modifiers` should offer exactly the staged classes of the "
        f"schema; missing {sorted(classes - labels)}, extra {sorted(labels - classes)}")
    kinds = {c["kind"] for c in items}
    assert kinds == {"class"}, f"the staged classes are not all class items: {items}"
    assert "GMPruningModifier" not in labels, "a tagged-only class is offered in a staged group"


def test_staged_completion_offers_the_fields_of_the_class(workbench: Workbench) -> None:
    step_ok(workbench, "staged completion", screenshot="staged-completion.png")
    _, fields = staged_schema()
    items = workbench.result["staged"]["fields"]
    labels = {c["label"] for c in items}
    expected = fields - STAGED_WRITTEN
    assert labels == expected, (
        f"completion inside {STAGED_CLASS}'s mapping should offer its fields not yet written; "
        f"missing {sorted(expected - labels)}, extra {sorted(labels - expected)}")
    assert {c["kind"] for c in items} == {"field"}, f"not all field items: {items}"
    accepted = workbench.result["staged"]["accepted"]
    assert accepted.rstrip() == f"      {STAGED_FIELD}:", (
        f"accepting {STAGED_FIELD} inserted {accepted!r}, not the field at the class's indent")

"""examples/quickstart.ipynb run in JupyterLab, in Debian's Chromium, with the prunekit kernel.

What a person sees: a hermetic Jupyter set-up in a temporary folder (docs: jupyter.md §2.3) with
only the prunekit kernelspec (`prunekit-kernel install --prefix`), a copy of the notebook and of the
models it loads (same relative paths), `jupyter lab` on 127.0.0.1 with a random token, and
`run_notebook.mjs` (playwright-core driving /usr/bin/chromium headless) doing Run > Run All Cells.
It passes when every cell ran with no error output, a chart image and a table were rendered, and
the saved notebook holds no error. The screenshot is kept at tests/browser/artifacts/quickstart.png
with the server's and the browser script's logs beside it.

Needs: `make setup` (.venv with jupyterlab), `make release`, and `bash tests/browser/setup.sh`
(chromium and playwright-core). Nothing is skipped: a missing piece fails with the command to run.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from processes import free_port, kill_leftovers, stop

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
VENV_BIN = REPO_ROOT / ".venv" / "bin"
PRUNEKIT_BIN = REPO_ROOT / "target" / "release" / "prunekit-kernel"
NOTEBOOK = REPO_ROOT / "examples" / "quickstart.ipynb"
ARTIFACTS = HERE / "artifacts"
SCREENSHOT = ARTIFACTS / "quickstart.png"
CHROMIUM = Path("/usr/bin/chromium")
RUNNER = HERE / "run_notebook.mjs"
SETUP_HINT = "run `bash tests/browser/setup.sh`"

SERVER_START_TIMEOUT = 30.0  # seconds until the server answers /api/status
BROWSER_TIMEOUT = 60  # the browser script's own watchdog (seconds)


def _fail(msg: str) -> None:
    pytest.fail(msg, pytrace=False)


def check_tools() -> None:
    """One sentence with the command to run for anything the test needs and cannot find."""
    if not CHROMIUM.is_file():
        _fail(f"{CHROMIUM} is missing: {SETUP_HINT} (it installs Debian's chromium).")
    if shutil.which("node") is None:
        _fail(f"node is not on PATH: install Node 20 or newer and {SETUP_HINT}.")
    if not (HERE / "node_modules" / "playwright-core" / "package.json").is_file():
        _fail(f"tests/browser/node_modules/playwright-core is missing: {SETUP_HINT}.")
    if not (VENV_BIN / "jupyter-lab").is_file():
        _fail(".venv/bin/jupyter-lab is missing: run `make setup` (jupyterlab is in "
              "tests/requirements.txt).")


# ------------------------------------------------------------------ hermetic Jupyter set-up

def hermetic_env(root: Path) -> dict[str, str]:
    """Every Jupyter directory inside `root` (jupyter.md §2.3); kernelspecs go in root/share/jupyter."""
    data = root / "share" / "jupyter"
    dirs = {
        "JUPYTER_PATH": data,
        "JUPYTER_DATA_DIR": data,
        "JUPYTER_RUNTIME_DIR": root / "runtime",
        "JUPYTER_CONFIG_DIR": root / "config",
        "IPYTHONDIR": root / "ipython",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JUPYTERLAB_"))}
    env.update({k: str(v) for k, v in dirs.items()})
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def write_config(root: Path, kernel_name: str) -> None:
    """Server config (only `kernel_name` is offered, no news feed) and JupyterLab user settings
    (every cell attached to the DOM, no news or update toasts)."""
    config = root / "config"
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "KernelSpecManager": {"allowed_kernelspecs": [kernel_name], "ensure_native_kernel": False},
        "LabApp": {"news_url": None, "check_for_updates_class":
                   "jupyterlab.handlers.announcements.NeverCheckForUpdate"},
    }, indent=1))
    settings = config / "lab" / "user-settings" / "@jupyterlab"
    for rel, value in {
        "notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
    }.items():
        (settings / rel).parent.mkdir(parents=True, exist_ok=True)
        (settings / rel).write_text(json.dumps(value))


def loaded_paths(notebook: Path) -> list[str]:
    """The relative paths the notebook reads: what `load PATH` and `--data PATH` name."""
    nb = json.loads(notebook.read_text())
    paths = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for line in src.splitlines():
            words = shlex.split(line, comments=True)
            named = []
            if len(words) >= 2 and words[0] == "load":
                named.append(words[1])
            named += [words[i + 1] for i, w in enumerate(words[:-1]) if w == "--data"]
            paths += [p for p in named if not os.path.isabs(p)]
    return paths


def copy_notebook(notebook: Path, repo_root: Path, work: Path) -> Path:
    """Copy the notebook and every file it loads under `work`, keeping their places relative to
    the repository root (so `../tests/fixtures/x.onnx` still resolves from the notebook's folder)."""
    rel_nb = notebook.relative_to(repo_root)
    dest_nb = work / rel_nb
    dest_nb.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(notebook, dest_nb)
    for rel in loaded_paths(notebook):
        src = (notebook.parent / rel).resolve()
        if not src.is_file():
            _fail(f"{rel_nb} loads {rel}, which does not exist ({src}).")
        dest = (dest_nb.parent / rel).resolve()
        if work.resolve() not in dest.parents:
            _fail(f"{rel_nb} loads {rel}, which lies outside the repository.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    return dest_nb


def _get(url: str, timeout: float = 3.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (127.0.0.1 only)
        return json.loads(r.read().decode())


@contextmanager
def jupyterlab(root: Path, work: Path, env: dict[str, str], log_path: Path):
    """`jupyter lab` serving `work` on 127.0.0.1 with a random token; yields (base_url, token).
    Always stopped: /api/shutdown, then SIGTERM/SIGKILL, then any process left that names `root`."""
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    cmd = [str(VENV_BIN / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--allow-root"]
    log = open(log_path, "w")
    proc = None
    try:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                _fail(f"jupyter lab exited with status {proc.returncode} before answering; its log "
                      f"({log_path}):\n{log_path.read_text()[-3000:]}")
            try:
                _get(f"{base}/api/status?token={token}")
                break
            except (urllib.error.URLError, OSError, ValueError):
                if time.monotonic() > deadline:
                    _fail(f"jupyter lab did not answer within {SERVER_START_TIMEOUT:.0f} s; its log "
                          f"({log_path}):\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
        yield base, token
    finally:
        if proc is not None and proc.poll() is None:
            try:
                req = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
                urllib.request.urlopen(req, timeout=5).close()  # noqa: S310
                proc.wait(timeout=10)
            except (urllib.error.URLError, OSError, subprocess.TimeoutExpired):
                pass
            stop(proc, grace=5.0)
        log.close()
        left = kill_leftovers(str(root))
        if left:
            with open(log_path, "a") as f:
                f.write(f"\n[test] killed processes left behind: {left}\n")


def run_notebook_in_lab(notebook: Path, repo_root: Path, kernel_name: str,
                        install_cmd: list[str], root: Path, screenshot: Path,
                        artifacts: Path) -> subprocess.CompletedProcess:
    """The whole flow; returns the browser script's completed process (stdout and stderr merged)."""
    env = hermetic_env(root)
    write_config(root, kernel_name)
    prefix = str(root)
    inst = subprocess.run([*install_cmd, "--prefix", prefix], env=env, capture_output=True,
                          text=True, timeout=30)
    if inst.returncode != 0:
        _fail(f"`{' '.join(install_cmd)} --prefix {prefix}` exited {inst.returncode}:\n"
              f"{inst.stdout}{inst.stderr}")
    spec = root / "share" / "jupyter" / "kernels" / kernel_name / "kernel.json"
    if not spec.is_file():
        _fail(f"`{' '.join(install_cmd)} --prefix {prefix}` did not write {spec}.")

    work = root / "work"
    nb = copy_notebook(notebook, repo_root, work)
    rel_nb = nb.relative_to(work).as_posix()

    artifacts.mkdir(parents=True, exist_ok=True)
    screenshot.unlink(missing_ok=True)
    with jupyterlab(root, work, env, artifacts / "jupyterlab.log") as (base, token):
        specs = _get(f"{base}/api/kernelspecs?token={token}")
        names = sorted(specs["kernelspecs"])
        assert names == [kernel_name], (
            f"the hermetic server should offer only {kernel_name}, it offers {names}")
        url = f"{base}/lab/tree/{urllib.request.pathname2url(rel_nb)}?token={token}"
        cmd = ["node", str(RUNNER), url, str(screenshot), "--kernel", kernel_name,
               "--user-data-dir", str(root / "chromium-profile"),
               "--timeout", str(BROWSER_TIMEOUT)]
        proc = subprocess.Popen(cmd, cwd=HERE, env={**os.environ, "NODE_NO_WARNINGS": "1"},
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=BROWSER_TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            stop(proc, grace=5.0)
            out, _ = proc.communicate()
            out += f"\n[test] run_notebook.mjs did not end within {BROWSER_TIMEOUT + 10} s\n"
        finally:
            stop(proc, grace=5.0)
        (artifacts / "run_notebook.log").write_text(out)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, "")


def test_quickstart_runs_in_jupyterlab(tmp_path: Path) -> None:
    check_tools()
    if not PRUNEKIT_BIN.is_file():
        _fail("target/release/prunekit-kernel is missing: run `make release` first")
    if not NOTEBOOK.is_file():
        _fail("examples/quickstart.ipynb is missing.")

    started = time.monotonic()
    result = run_notebook_in_lab(NOTEBOOK, REPO_ROOT, "prunekit", [str(PRUNEKIT_BIN), "install"],
                                 tmp_path, SCREENSHOT, ARTIFACTS)
    print(result.stdout)
    assert result.returncode == 0, (
        f"JupyterLab run of examples/quickstart.ipynb failed (exit {result.returncode}); "
        f"screenshot {SCREENSHOT}, logs in {ARTIFACTS}:\n{result.stdout[-4000:]}")
    assert SCREENSHOT.is_file() and SCREENSHOT.stat().st_size > 10_000, (
        f"no screenshot at {SCREENSHOT}")
    assert time.monotonic() - started < 90, "the JupyterLab run took more than 90 s"

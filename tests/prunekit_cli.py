"""Where the prunekit binary lives and how the end-to-end tests run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures"

# The CLI under test, built by `make release`.  Tests run it from the repository root.
PRUNEKIT_BIN = REPO_ROOT / "target" / "release" / "prunekit-kernel"
MISSING_BINARY = "target/release/prunekit-kernel is missing: run `make release` first"

# The reference implementation is importable as `reference.analysis`.
sys.path.insert(0, str(REPO_ROOT / "tests"))


def run_prunekit(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the prunekit binary from the repository root; fails the test if it was not built."""
    if not PRUNEKIT_BIN.is_file():
        pytest.fail(MISSING_BINARY, pytrace=False)
    return subprocess.run([str(PRUNEKIT_BIN), *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout)


_ANALYZE_CACHE: dict[tuple[str, ...], dict] = {}


def prunekit_analyze(model: str, args: tuple[str, ...] = ()) -> dict:
    """`prunekit-kernel analyze MODEL --format json ARGS...`, parsed; cached per argument list."""
    key = (model, *args)
    if key not in _ANALYZE_CACHE:
        proc = run_prunekit(["analyze", model, "--format", "json", *args])
        assert proc.returncode == 0, (
            f"prunekit analyze {' '.join(key)} exited {proc.returncode}\nstderr:\n{proc.stderr}")
        try:
            _ANALYZE_CACHE[key] = json.loads(proc.stdout)
        except json.JSONDecodeError as e:
            pytest.fail(f"prunekit analyze {' '.join(key)}: stdout is not JSON ({e}):\n"
                        f"{proc.stdout[:2000]}")
    return _ANALYZE_CACHE[key]


def run_in(folder: Path, *commands: str, ok: bool = True) -> subprocess.CompletedProcess:
    """`prunekit-kernel run --format json COMMANDS...` in `folder`; fails the test when `ok` and it
    does not exit 0."""
    if not PRUNEKIT_BIN.is_file():
        pytest.fail(MISSING_BINARY, pytrace=False)
    proc = subprocess.run([str(PRUNEKIT_BIN), "run", "--format", "json", *commands], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, f"{commands} exited {proc.returncode}:\n{proc.stderr}"
    return proc


def results_in(folder: Path, *commands: str) -> list[dict]:
    """The JSON result of each command `run_in` ran."""
    proc = run_in(folder, *commands)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def refused(proc: subprocess.CompletedProcess, *words: str) -> str:
    """The one sentence a refused command prints: no backtrace, and it names what is wrong."""
    assert proc.returncode != 0, proc.stdout
    message = proc.stderr.strip()
    assert "panicked" not in message and "RUST_BACKTRACE" not in message, message
    assert len(message.splitlines()) == 1, message
    for word in words:
        assert word in message, message
    return message

"""Kernel tests: install the prunekit kernelspec into a temporary prefix and make Jupyter hermetic.

Every Jupyter directory points into one temporary tree (shared/reference/jupyter.md §2.3), so
these tests never read or write the developer's own kernelspecs, runtime files or config, and the
kernel name `prunekit` resolves to the binary under test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernel_harness import DIGITS, KERNEL_BIN, KERNEL_NAME  # noqa: E402


def _missing_binary() -> str:
    return f"{KERNEL_BIN} is missing: run `make release` first"


@pytest.fixture(scope="session", autouse=True)
def jupyter_env(tmp_path_factory: pytest.TempPathFactory):
    """Install the kernelspec with `prunekit-kernel install --prefix` and set the hermetic variables.

    Yields the kernelspec directory. os.environ is restored when the session ends.
    """
    if not KERNEL_BIN.is_file():
        pytest.fail(_missing_binary(), pytrace=False)
    root = tmp_path_factory.mktemp("jupyter")
    prefix = root / "prefix"
    proc = subprocess.run([str(KERNEL_BIN), "install", "--prefix", str(prefix)],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        pytest.fail(f"`prunekit-kernel install --prefix {prefix}` exited {proc.returncode}:\n"
                    f"{proc.stdout}\n{proc.stderr}", pytrace=False)
    spec_dir = prefix / "share" / "jupyter" / "kernels" / KERNEL_NAME
    if not (spec_dir / "kernel.json").is_file():
        pytest.fail(f"`prunekit-kernel install --prefix {prefix}` wrote no {spec_dir}/kernel.json",
                    pytrace=False)

    hermetic = {
        "JUPYTER_PATH": str(prefix / "share" / "jupyter"),
        "JUPYTER_DATA_DIR": str(root / "data"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "IPYTHONDIR": str(root / "ipython"),
    }
    for name in ("data", "runtime", "config", "ipython"):
        (root / name).mkdir()
    saved = {name: os.environ.get(name) for name in hermetic}
    os.environ.update(hermetic)
    try:
        yield spec_dir
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def kernelspec_dir(jupyter_env: Path) -> Path:
    return jupyter_env


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the digits CNN: `load` keeps sizes in a project file beside the model,
    so tests that load the shared fixture could see sizes another run left there."""
    path = tmp_path_factory.mktemp("models") / DIGITS.name
    shutil.copy(DIGITS, path)
    return path

"""Kernel tests: install the prunekit kernelspec into a temporary prefix and make Jupyter hermetic.

Every Jupyter directory points into one temporary tree (shared/reference/jupyter.md §2.3), so
these tests never read or write the developer's own kernelspecs, runtime files or config, and the
kernel name `prunekit` resolves to the binary under test.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernel_harness import DIGITS, hermetic_kernelspec  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def jupyter_env(tmp_path_factory: pytest.TempPathFactory):
    """Install the kernelspec with `prunekit-kernel install --prefix` and set the hermetic variables.

    Yields the kernelspec directory. os.environ is restored when the session ends.
    """
    with hermetic_kernelspec(tmp_path_factory.mktemp("jupyter")) as spec_dir:
        yield spec_dir


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

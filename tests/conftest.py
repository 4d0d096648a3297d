"""Shared pytest fixtures; the helpers they use live in prunekit_cli.py (a plain module, so that
test files can import it without clashing with tests/kernel/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prunekit_cli import FIXTURES, MISSING_BINARY, PRUNEKIT_BIN


@pytest.fixture(scope="session")
def prunekit_bin() -> Path:
    if not PRUNEKIT_BIN.is_file():
        pytest.fail(MISSING_BINARY, pytrace=False)
    return PRUNEKIT_BIN


@pytest.fixture(scope="session", autouse=True)
def fresh_project_files():
    """Loading a fixture writes `<model>.prunekit.json` beside it (sizes, settings), and the next
    load of that model reuses it. Start every test run without the previous run's files."""
    for stale in FIXTURES.glob("*.prunekit.json"):
        stale.unlink()
    yield

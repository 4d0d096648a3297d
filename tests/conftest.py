"""Shared pytest fixtures; the helpers they use live in prunekit_cli.py (a plain module, so that
test files can import it without clashing with tests/kernel/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import zmq

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


@pytest.fixture(scope="session", autouse=True)
def enough_zmq_sockets():
    """The kernel tests open hundreds of ZeroMQ client sockets in this one process (50 clients at
    once, many short-lived kernels), all in jupyter_client's shared context, whose default cap of
    1023 sockets then fails a heartbeat thread with "Too many open files". Raise the cap."""
    zmq.Context.instance().set(zmq.MAX_SOCKETS, 16384)
    yield

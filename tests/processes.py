"""Processes of the browser tests (JupyterLab and the VS Code workbench): a free port on
127.0.0.1, stopping a process group, and killing whatever a test started and left behind, found
through /proc (Linux)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace").strip()
    except OSError:
        return ""


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1 and len(chain) < 64:
        pid = _ppid(pid)
        chain.append(pid)
    return chain


def _pids_mentioning(marker: str) -> list[int]:
    """Processes (other than this one) whose command line contains `marker` (a temporary path
    this test made, so only processes this test started)."""
    return [int(e.name) for e in Path("/proc").iterdir()
            if e.name.isdigit() and int(e.name) != os.getpid() and marker in cmdline(int(e.name))]


def _session_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[4])
    except (OSError, ValueError, IndexError):
        return 0


def kill_leftovers(marker: str, sessions: tuple[int, ...] = ()) -> list[int]:
    """SIGKILL what this test started and is still there: processes whose command line names
    `marker`, and processes in the sessions this test created (start_new_session=True)."""
    pids = set(_pids_mentioning(marker))
    if sessions:
        pids |= {int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()
                 and int(e.name) != os.getpid() and _session_of(int(e.name)) in sessions}
    pids = sorted(pids)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


def stop(proc: subprocess.Popen | None, grace: float) -> None:
    """SIGTERM the process's group, then SIGKILL it after `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue

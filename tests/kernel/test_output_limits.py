"""Huge cells: the kernel streams and caps a cell's output, and frees it once sent.

A cell of half a million `echo` lines (or fifty thousand `help`s) must not hold its outputs in
the kernel: the front end gets the first outputs up to the cap, then one stderr note saying how
many were left out and how big they were; the kernel's peak resident memory (VmHWM) stays small,
and it answers the next request. The `run` CLI prints as it goes, with no cap, under a small
address-space limit.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from kernel_harness import (
    KERNEL_BIN,
    execute_ok,
    iopub_until_idle,
    iopub_wait_for,
    kernel_process,
    outputs_of,
    results,
    running_kernel,
    shell_reply,
)

pytestmark = pytest.mark.timeout(60)

# The kernel's cap (kernel/src/cell/cap.rs): the outputs a front end gets from one cell.
MAX_OUTPUTS = 10_000
MAX_BYTES = 16_000_000

# Generous for a kernel that streams (it peaks near 60 MB on these cells); a kernel that queues
# every output passes a gigabyte.
PEAK_RSS_BOUND_MB = 200

NOTE = re.compile(
    r"^… (?P<count>[\d,]+) more outputs? \((?P<size>[\d.]+ (?:kB|MB|GB)|\d+ B)\) (?:was|were) "
    r"left out; this cell's output is capped at (?P<cap>[\d,]+) outputs or (?P<bytes>[\d.]+ MB)\.\n$")


def memory_mb(pid: int) -> tuple[float, float]:
    """(peak, current) resident memory of a process in MB, from /proc/PID/status."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    kb = lambda name: int(fields[name].split()[0])  # noqa: E731
    return kb("VmHWM") / 1024, kb("VmRSS") / 1024


def size_bytes(text: str) -> float:
    number, unit = text.split()
    return float(number) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[unit]


def run_huge_cell(kc, code: str, pid: int) -> tuple[dict, list[dict], float]:
    """Runs a cell and reads the kernel's peak memory as soon as the reply comes (before draining
    iopub, so a kernel that queues outputs shows it). Returns (reply, outputs, peak MB)."""
    msg_id = kc.execute(code)
    reply = shell_reply(kc, msg_id, timeout=40)
    peak, _ = memory_mb(pid)
    assert peak < PEAK_RSS_BOUND_MB, (
        f"the kernel peaked at {peak:.0f} MB resident running the cell; it should stream its "
        f"outputs and stay under {PEAK_RSS_BOUND_MB} MB")
    outputs = outputs_of(iopub_until_idle(kc, msg_id, timeout=40))
    return reply, outputs, peak


def split_note(outputs: list[dict]) -> tuple[list[dict], dict]:
    """The outputs before the cap's note, and the note's fields; the note comes last, once."""
    notes = [o for o in outputs if o["msg_type"] == "stream" and o["content"]["name"] == "stderr"]
    assert len(notes) == 1, f"expected one stderr note, got {[n['content']['text'] for n in notes]}"
    assert outputs[-1] is notes[0], "the note that outputs were left out must be the last output"
    match = NOTE.match(notes[0]["content"]["text"])
    assert match, f"unexpected note: {notes[0]['content']['text']!r}"
    assert match["cap"] == f"{MAX_OUTPUTS:,}" and match["bytes"] == f"{MAX_BYTES / 1_000_000:.1f} MB"
    return outputs[:-1], match.groupdict()


def test_half_a_million_echo_lines_are_capped_streamed_and_freed() -> None:
    n = 500_000
    code = "\n".join(f"echo line {i}" for i in range(n))
    with running_kernel() as (km, kc):
        pid = kernel_process(km).pid
        started = time.monotonic()
        reply, outputs, peak = run_huge_cell(kc, code, pid)
        elapsed = time.monotonic() - started
        assert reply["content"]["status"] == "ok", reply["content"]

        sent, note = split_note(outputs)
        assert all(o["msg_type"] == "stream" and o["content"]["name"] == "stdout" for o in sent)
        text = "".join(o["content"]["text"] for o in sent)
        assert len(text) <= MAX_BYTES
        lines = text.splitlines()
        # The first outputs, in order and whole, then the count of the rest.
        assert lines == [f"line {i}" for i in range(MAX_OUTPUTS)], (
            f"got {len(lines)} lines: {lines[:2]} ... {lines[-2:]}")
        left_out = int(note["count"].replace(",", ""))
        assert left_out == n - MAX_OUTPUTS
        expected = sum(len(f"line {i}\n") for i in range(MAX_OUTPUTS, n))
        assert abs(size_bytes(note["size"]) - expected) <= 0.05 * expected, (note, expected)
        assert elapsed < 30, f"{n} echo lines took {elapsed:.1f} s"

        # Nothing of the cell stays behind, and the kernel carries on as usual.
        _, rss = memory_mb(pid)
        assert rss < PEAK_RSS_BOUND_MB, f"{rss:.0f} MB resident after the cell (peak {peak:.0f})"
        _, after = execute_ok(kc, "echo after")
        assert [o["content"]["text"] for o in after] == ["after\n"]


def test_many_helps_are_capped_by_bytes() -> None:
    n = 50_000
    with running_kernel() as (km, kc):
        pid = kernel_process(km).pid
        reply, outputs, _ = run_huge_cell(kc, "\n".join(["help"] * n), pid)
        assert reply["content"]["status"] == "ok", reply["content"]
        count = reply["content"]["execution_count"]

        sent, note = split_note(outputs)
        shown = results(sent)
        assert len(shown) == len(sent), [o["msg_type"] for o in sent]
        assert all(r["content"]["execution_count"] == count for r in shown)
        assert shown[0]["content"]["data"]["text/plain"].startswith("prunekit commands")
        sizes = [sum(len(v.encode()) for v in r["content"]["data"].values()) for r in shown]
        # The byte cap stopped it: one more result would not have fit.
        assert sum(sizes) <= MAX_BYTES < sum(sizes) + sizes[0]
        assert int(note["count"].replace(",", "")) == n - len(shown)

        _, after = execute_ok(kc, "help echo")
        assert len(results(after)) == 1 and "echo" in results(after)[0]["content"]["data"]["text/plain"]
        assert not [o for o in after if o["msg_type"] == "stream"], "no note when nothing is left out"


def test_outputs_go_out_as_each_command_finishes() -> None:
    with running_kernel() as (_, kc):
        msg_id = kc.execute("echo first\nsleep 2\necho last")
        started = time.monotonic()
        first, _ = iopub_wait_for(kc, msg_id, lambda m: m["msg_type"] == "stream", timeout=5)
        assert first["content"]["text"] == "first\n"
        assert time.monotonic() - started < 1.5, "the first echo waited for the rest of the cell"
        outputs = outputs_of(iopub_until_idle(kc, msg_id, timeout=10))
        assert [o["content"]["text"] for o in outputs if o["msg_type"] == "stream"] == ["last\n"]


# --- the `run` CLI ------------------------------------------------------------------------------

# An address-space limit (prlimit --as) well under what a kernel holding a million parsed lines
# or their outputs would need; the streaming CLI needs about 50 MB here.
CLI_ADDRESS_SPACE = 120_000_000


def cli(*args: str) -> list[str]:
    return ["prlimit", f"--as={CLI_ADDRESS_SPACE}", str(KERNEL_BIN), "run", *args]


def test_cli_runs_a_million_line_cell_from_stdin_under_a_memory_limit() -> None:
    n = 1_000_000
    code = "".join(f"echo line {i}\n" for i in range(n))
    started = time.monotonic()
    proc = subprocess.run(cli("-"), input=code, capture_output=True, text=True, timeout=40)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == n and lines[0] == "line 0" and lines[-1] == f"line {n - 1}"
    assert elapsed < 30, f"{n} lines took {elapsed:.1f} s"


def test_cli_streams_many_helps_and_stops_quietly_when_the_reader_goes() -> None:
    n = 20_000
    code = "help\n" * n
    proc = subprocess.Popen(cli("-"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdin.write(code.encode())
    proc.stdin.close()
    total = 0
    while chunk := proc.stdout.read(1 << 20):
        total += len(chunk)
    assert proc.wait(timeout=40) == 0, proc.stderr.read().decode()[-2000:]
    one = len(subprocess.run([str(KERNEL_BIN), "run", "help"], capture_output=True).stdout)
    assert total == n * one, f"{total} bytes for {n} helps of {one} bytes"

    # `| head`: the reader closes the pipe after one line; the CLI stops, with no message.
    proc = subprocess.Popen(cli("-"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdin.write(code.encode())
    proc.stdin.close()
    assert proc.stdout.readline().startswith(b"prunekit commands")
    proc.stdout.close()
    assert proc.wait(timeout=20) == 0
    assert proc.stderr.read() == b""


def test_cli_prints_each_command_as_it_finishes() -> None:
    proc = subprocess.Popen(cli("-"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    proc.stdin.write("echo first\nsleep 2\necho last\n")
    proc.stdin.close()
    started = time.monotonic()
    assert proc.stdout.readline() == "first\n"
    assert time.monotonic() - started < 1.5, "the CLI held the first line until the cell ended"
    assert proc.stdout.read() == "last\n"
    assert proc.wait(timeout=10) == 0

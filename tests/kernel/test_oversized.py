"""A request too big for the machine is refused in the notebook, and the kernel lives on.

An allocation that cannot be served aborts a Rust process: before prunekit checked sizes against
the memory there is, `profile perf --batch 1000000000` or a lying `.npz` header took the whole
kernel (and every result in it) down. Here each is one `UsageError` output, and the next cell runs.
"""

from __future__ import annotations

import shutil
import struct
import zipfile
from pathlib import Path

import pytest

from kernel_harness import DIGITS, execute, execute_ok, kernel_process, running_kernel

pytestmark = pytest.mark.timeout(60)


def one_error(outputs: list[dict]) -> dict:
    errors = [o["content"] for o in outputs if o["msg_type"] == "error"]
    assert len(errors) == 1, f"expected one error output, got {[o['msg_type'] for o in outputs]}"
    return errors[0]


def lying_npz(path: Path) -> None:
    """1 KB of data under a header that declares 2^40 samples of 1x8x8 float32."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 1, 8, 8), }" % 2**40
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    member = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("input.npy", member + b"\0" * 1024)


def test_oversized_cells_are_refused_and_the_kernel_lives_on(tmp_path: Path) -> None:
    shutil.copy(DIGITS, tmp_path / "digits_cnn.onnx")
    lying_npz(tmp_path / "lie.npz")
    with running_kernel(cwd=tmp_path) as (km, kc):
        pid = kernel_process(km).pid
        execute_ok(kc, "load digits_cnn.onnx")
        for cell, phrase in [
            ("profile perf --batch 1000000000", "use a batch of at most"),
            ("benchmark --batch 1000000000", "use a batch of at most"),
            ("profile loss --method one-shot --samples 1000000000", "samples of this shape fit"),
            ("profile loss --method one-shot --data lie.npz", "declares shape"),
        ]:
            reply, outputs, _ = execute(kc, cell, timeout=30)
            assert reply["content"]["status"] == "error", cell
            error = one_error(outputs)
            assert error["ename"] == "UsageError", (cell, error)
            assert phrase in error["evalue"], (cell, error["evalue"])
            assert kernel_process(km).poll() is None, f"the kernel died on {cell!r}"
            assert kernel_process(km).pid == pid
        _, outputs = execute_ok(kc, "echo still here")
        assert any("still here" in str(o["content"]) for o in outputs)

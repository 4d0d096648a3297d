"""What a hostile or unlucky input gets: one sentence, never an abort, a hang or a leak.

Each case runs the real `prunekit-kernel run` under a memory cap (`prlimit --as`), so a request that
slips past prunekit's own checks fails here by dying (SIGABRT, "memory allocation ... failed")
rather than by eating the machine. Covered: sizes that would not fit in memory (a batch, a sample
count, a free dim, a dim written in the model), `.npz` files whose headers lie or that inflate to
gigabytes, special files (FIFOs, devices) given as a model or data, and external data that escapes
the model's folder through a symlink or is shorter than its tensor.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest

from prunekit_cli import FIXTURES, PRUNEKIT_BIN, MISSING_BINARY

# Enough for ONNX Runtime and the digits CNN, far less than any oversized request.
MEMORY_CAP = 1024**3
# More than the cap: an array this size that gets read kills the capped process.
PAST_THE_CAP = 3 * 1024**3 // 2


def run_capped(cwd: Path, *cells: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`prunekit-kernel run CELL...` in `cwd` under the memory cap; a hang fails the test."""
    if not PRUNEKIT_BIN.is_file():
        pytest.fail(MISSING_BINARY, pytrace=False)
    return subprocess.run(["prlimit", f"--as={MEMORY_CAP}", str(PRUNEKIT_BIN), "run", *cells],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


def refused(proc: subprocess.CompletedProcess, *expected: str) -> str:
    """The run failed cleanly with one `prunekit:` sentence containing each expected phrase."""
    assert proc.returncode > 0, (
        f"expected a clean failure, got exit {proc.returncode}\nstderr:\n{proc.stderr[-3000:]}")
    errors = [line for line in proc.stderr.splitlines() if line.startswith("prunekit: ")]
    assert len(errors) == 1, f"expected one error sentence, got:\n{proc.stderr[-3000:]}"
    for bad in ("panicked", "memory allocation", "backtrace", "RUST_BACKTRACE"):
        assert bad not in proc.stderr, proc.stderr[-3000:]
    for phrase in expected:
        assert phrase in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def digits(tmp_path: Path) -> Path:
    shutil.copy(FIXTURES / "digits_cnn.onnx", tmp_path / "digits_cnn.onnx")
    return tmp_path


# --- sizes that would not fit -------------------------------------------------------------------

BILLION = 1_000_000_000


@pytest.mark.parametrize("cells", [
    (f"load digits_cnn.onnx --dim batch={BILLION}", "profile perf"),
    ("load digits_cnn.onnx", f"profile perf --batch {BILLION}"),
    ("load digits_cnn.onnx", f"profile loss --method one-shot --samples {BILLION}"),
    ("load digits_cnn.onnx", f"profile loss --method one-shot --batch {BILLION} --samples 64"),
    ("load digits_cnn.onnx", f"benchmark --batch 1,{BILLION}"),
    (f"load digits_cnn.onnx --dim batch={BILLION}", "export model out.onnx --quantize static"),
], ids=["dim-then-perf", "perf-batch", "loss-samples", "loss-batch", "benchmark-batch",
        "export-int8"])
def test_oversized_requests_say_what_fits(digits: Path, cells: tuple[str, ...]) -> None:
    message = refused(run_capped(digits, *cells), "would need", "more than the")
    assert "at most" in message, message
    assert not (digits / "out.onnx").exists()


def test_a_huge_dim_written_in_the_model_is_refused_before_it_runs(digits: Path) -> None:
    model = onnx.load(digits / "digits_cnn.onnx")
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.ClearField("dim_param")
    dim.dim_value = 2**31
    onnx.save(model, digits / "big.onnx")
    for cell in ("profile perf", "benchmark", "profile loss --method one-shot"):
        refused(run_capped(digits, "load big.onnx", cell), "2147483648", "would need")


def test_dims_whose_product_overflows_are_an_error_not_zero(digits: Path) -> None:
    message = refused(run_capped(digits, f"load digits_cnn.onnx --dim batch={2**62}"),
                      "input 'input'", "use smaller --dim")
    assert "over 2^64 elements" in message


# --- .npz files that lie -------------------------------------------------------------------------

def npy_member(descr: str, shape: tuple[int, ...], payload: bytes = b"") -> bytes:
    """A .npy member whose header says `shape`, whatever payload follows."""
    dims = ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "")
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, dims)
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def test_an_npz_header_declaring_a_huge_shape_is_checked_before_reading(digits: Path) -> None:
    with zipfile.ZipFile(digits / "lie.npz", "w") as z:
        z.writestr("input.npy", npy_member("<f4", (2**40, 1, 8, 8), b"\0" * 1024))
    assert (digits / "lie.npz").stat().st_size < 2000
    refused(run_capped(digits, "load digits_cnn.onnx",
                       "profile loss --method one-shot --data lie.npz"),
            "lie.npz", "array 'input' declares shape", "truncated or corrupt")


def test_a_truncated_npz_header_is_called_that(digits: Path) -> None:
    with zipfile.ZipFile(digits / "cut.npz", "w") as z:
        z.writestr("input.npy", npy_member("<f4", (4, 1, 8, 8))[:20])
    refused(run_capped(digits, "load digits_cnn.onnx",
                       "profile loss --method one-shot --data cut.npz"),
            "array 'input'", "truncated or damaged .npy header")


def write_inflating_npz(path: Path, used: np.ndarray, junk_name: str, junk_bytes: int) -> None:
    """`used` as `input`, plus an array of `junk_bytes` zeros that deflate to almost nothing."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        buf = io.BytesIO()
        np.save(buf, used)
        z.writestr("input.npy", buf.getvalue())
        with z.open(f"{junk_name}.npy", "w", force_zip64=True) as member:
            member.write(npy_member("<f4", (junk_bytes // 4,)))
            chunk = b"\0" * (1 << 24)
            for _ in range(junk_bytes // len(chunk)):
                member.write(chunk)


def test_arrays_the_model_does_not_use_are_never_inflated(digits: Path) -> None:
    used = np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32)
    # Zeros past the memory cap in an unused array: reading it would kill the process.
    write_inflating_npz(digits / "bomb.npz", used, "unused", PAST_THE_CAP)
    assert (digits / "bomb.npz").stat().st_size < 10 * 1024**2
    proc = run_capped(digits, "load digits_cnn.onnx",
                      "profile loss --method one-shot --data bomb.npz", timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_a_used_array_larger_than_memory_is_refused_before_reading(digits: Path) -> None:
    # The model's input itself inflates past the cap: consistent, but too big.
    path = digits / "big.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("input.npy", "w", force_zip64=True) as member:
            member.write(npy_member("<f4", (PAST_THE_CAP // 256, 1, 8, 8)))
            chunk = b"\0" * (1 << 24)
            for _ in range(PAST_THE_CAP // len(chunk)):
                member.write(chunk)
    refused(run_capped(digits, "load digits_cnn.onnx",
                       "profile loss --method one-shot --data big.npz", timeout=120),
            "reading the arrays of", "would need", "fewer samples")


# --- special files -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_pipe_or_device_as_model_or_data_is_refused_at_once(digits: Path, kind: str) -> None:
    if kind == "fifo":
        special = digits / "pipe"
        os.mkfifo(special)
    else:
        special = Path("/dev/zero")
    refused(run_capped(digits, f"load {special}", timeout=10), "not a regular file")
    refused(run_capped(digits, "load digits_cnn.onnx",
                       f"profile loss --method one-shot --data {special}", timeout=10),
            "not a regular file")
    refused(run_capped(digits, "load digits_cnn.onnx",
                       f"export model out.onnx --quantize static --calibration-data {special}",
                       timeout=10),
            "not a regular file")


# --- external data -------------------------------------------------------------------------------

@pytest.fixture
def external(tmp_path: Path) -> Path:
    """external_data.onnx and its data file in a folder of their own, and a secret beside it."""
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("external_data.onnx", "external_data.onnx.data"):
        shutil.copy(FIXTURES / name, folder / name)
    secret = tmp_path / "secret.data"
    secret.write_bytes((folder / "external_data.onnx.data").read_bytes())
    return folder


def set_external(model_path: Path, key: str, value: str, tensor: str | None = None) -> None:
    model = onnx.load(model_path, load_external_data=False)
    for init in model.graph.initializer:
        if tensor is None or init.name == tensor:
            for entry in init.external_data:
                if entry.key == key:
                    entry.value = value
    onnx.save(model, model_path)


def test_external_data_behind_a_symlink_never_leaves_the_folder(external: Path) -> None:
    data = external / "external_data.onnx.data"
    data.unlink()
    data.symlink_to(external.parent / "secret.data")
    message = refused(run_capped(external, "load external_data.onnx",
                                 "export model out.onnx"),
                      "outside the model's folder")
    assert "fc1.weight" in message
    assert not (external / "out.onnx").exists()


def test_external_data_through_a_symlinked_folder_is_refused(external: Path) -> None:
    (external / "linked").symlink_to(external.parent, target_is_directory=True)
    set_external(external / "external_data.onnx", "location", "linked/secret.data")
    refused(run_capped(external, "load external_data.onnx", "export model out.onnx"),
            "outside the model's folder")
    assert not (external / "out.onnx").exists()


def test_a_symlink_that_stays_inside_the_folder_is_followed(external: Path) -> None:
    (external / "weights").mkdir()
    (external / "external_data.onnx.data").rename(external / "weights" / "w.data")
    (external / "external_data.onnx.data").symlink_to(external / "weights" / "w.data")
    proc = run_capped(external, "load external_data.onnx", "optimize", "export model out.onnx")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (external / "out.onnx").is_file()


def test_external_data_shorter_than_its_dims_is_an_invalid_model(external: Path) -> None:
    set_external(external / "external_data.onnx", "length", "20", tensor="fc3.bias")
    refused(run_capped(external, "load external_data.onnx", "export model out.onnx"),
            "fc3.bias", "has 20 bytes", "need 40")
    assert not (external / "out.onnx").exists()

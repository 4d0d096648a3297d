"""How prunekit finds ONNX Runtime (`prunekit-kernel info`): the project .venv is found from the
binary's folder, ORT_DYLIB_PATH wins, and a missing or broken runtime is one sentence with the fix."""

import os
import shutil
import subprocess
from pathlib import Path

from prunekit_cli import PRUNEKIT_BIN as BINARY, REPO_ROOT as ROOT


def run_info(env=None, cwd=ROOT, binary=BINARY):
    return subprocess.run([str(binary), "info"], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=60)


def assert_one_sentence(proc, *needles):
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "panicked" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_the_project_venv_runtime_is_found_and_loads():
    env = {k: v for k, v in os.environ.items() if k != "ORT_DYLIB_PATH"}
    proc = run_info(env=env)
    assert proc.returncode == 0, proc.stderr
    assert "ONNX Runtime 1.31.1: " in proc.stdout
    assert ".venv" in proc.stdout and "libonnxruntime.so.1.31.1" in proc.stdout


def test_ort_dylib_path_that_is_not_a_file(tmp_path):
    proc = run_info(env={**os.environ, "ORT_DYLIB_PATH": str(tmp_path / "nope.so")})
    assert_one_sentence(proc, "ORT_DYLIB_PATH", "nope.so")


def test_ort_dylib_path_that_is_not_a_library(tmp_path):
    fake = tmp_path / "libonnxruntime.so"
    fake.write_text("not a library\n")
    proc = run_info(env={**os.environ, "ORT_DYLIB_PATH": str(fake)})
    assert_one_sentence(proc, "could not be loaded", "make setup")


def test_no_runtime_anywhere_says_how_to_install_it(tmp_path):
    # A copy of the binary outside the checkout, run from an empty folder, with no python3 on PATH.
    binary = tmp_path / "bin" / "prunekit-kernel"
    binary.parent.mkdir()
    shutil.copy(BINARY, binary)
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {"PATH": str(empty), "HOME": str(tmp_path)}
    proc = run_info(env=env, cwd=empty, binary=binary)
    assert_one_sentence(proc, "ONNX Runtime was not found", "make setup", "ORT_DYLIB_PATH")

"""Protocol conformance of the prunekit kernel, checked by jupyter_kernel_test 0.7.0.

jupyter_kernel_test validates every message it reads against its msgspec_v5 schema. Its classes are
unittest.TestCase subclasses, which pytest collects; the module imports the package, not the
classes, so pytest does not also collect the base classes (they default to the python3 kernel).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jupyter_kernel_test as jkt
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from kernel_harness import DIGITS, KERNEL_BIN, KERNEL_NAME

pytestmark = pytest.mark.timeout(60)

# A private copy of the model: `load` keeps sizes and settings in a project file beside the model,
# and `settings seed` must read the fresh default, whatever another run left beside the fixture.
_MODELS = Path(tempfile.mkdtemp(prefix="prunekit-conformance-"))
atexit.register(shutil.rmtree, _MODELS, ignore_errors=True)
MODEL = _MODELS / DIGITS.name
shutil.copy(DIGITS, MODEL)
assert not any(c.isspace() for c in str(MODEL)), "the model path is used unquoted in cells"


class PrunekitKernelTests(jkt.KernelTests):
    kernel_name = KERNEL_NAME
    language_name = "prunekit"
    file_extension = ".prunekit"

    code_hello_world = "echo hello, world"

    completion_samples = [
        {"text": "lo", "matches": {"load"}},
        {"text": "layers --s", "matches": {"--sort"}},
        {"text": "he", "matches": {"help"}},
    ]

    complete_code_samples = [
        "echo hi",
        "",
        "# only a comment",
        "layers --sort flops --top 3",
        "load model.onnx\nlayers  # two commands",
        "settings seed",
    ]
    incomplete_code_samples: list[str] = []
    invalid_code_samples = ["frobnicate", "frobnicate --now"]

    code_generate_error = "load nope.onnx"

    code_execute_result = [{"code": "settings seed", "result": "seed = 0"}]

    code_display_data = [
        {"code": f"load {MODEL}\nlayers", "mime": "image/png"},
        {"code": f"load {MODEL}\nlayers", "mime": "text/plain"},
    ]

    code_inspect_sample = "load"

    supported_history_operations = ("tail", "range", "search")
    code_history_pattern = "settings*"


class PrunekitIopubWelcomeTests(jkt.IopubWelcomeTests):
    kernel_name = KERNEL_NAME
    support_iopub_welcome = True


def test_kernelspec_resolves_to_the_installed_spec(kernelspec_dir: Path) -> None:
    """`prunekit` resolves to what `install --prefix` wrote: absolute argv, message interrupts."""
    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    assert Path(spec.resource_dir).resolve() == kernelspec_dir.resolve()
    raw = json.loads((kernelspec_dir / "kernel.json").read_text())
    argv = raw["argv"]
    assert Path(argv[0]).is_absolute(), f"argv[0] must be an absolute path: {argv}"
    assert Path(argv[0]).resolve() == KERNEL_BIN.resolve(), argv
    assert argv[1:] == ["--connection-file", "{connection_file}"], argv
    assert raw["interrupt_mode"] == "message"
    assert raw["language"] == "prunekit"
    assert raw.get("display_name"), "display_name is required"
    assert "supported_encryption" not in raw.get("metadata", {})
    for logo in ("logo-32x32.png", "logo-64x64.png"):
        head = (kernelspec_dir / logo).read_bytes()[:8]
        assert head == b"\x89PNG\r\n\x1a\n", f"{logo} is not a PNG"


def test_install_user_writes_to_the_jupyter_user_data_dir(tmp_path: Path) -> None:
    """`install --user` lands where jupyter_core says the user's data dir is (HOME in tmp)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("JUPYTER_") and k not in ("XDG_DATA_HOME",)}
    env["HOME"] = str(tmp_path / "home")
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    (tmp_path / "home").mkdir()
    expected = subprocess.run(
        [sys.executable, "-c", "from jupyter_core.paths import jupyter_data_dir as d; print(d())"],
        env=env, capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    assert expected.startswith(str(tmp_path)), expected
    proc = subprocess.run([str(KERNEL_BIN), "install", "--user"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    kernel_json = Path(expected) / "kernels" / KERNEL_NAME / "kernel.json"
    assert kernel_json.is_file(), (
        f"install --user wrote no {kernel_json}; files under HOME: "
        f"{sorted(str(p) for p in (tmp_path / 'home').rglob('*'))}")
    assert json.loads(kernel_json.read_text())["interrupt_mode"] == "message"

"""Two processes saving to one project file at once keep every result.

Each save is a read-modify-write of `<model>.prunekit.json`; without a lock around it, a save
that reads before the other process's write and writes after it drops that result (two shells
saving 20 profiles each kept 23 to 39 of 40). Here two shells (`prunekit-kernel run`) and then
two Jupyter kernels each save 20 named profiles of the digits CNN into one project at the same
time, and all 40 must be in the file afterwards. `profile perf --flops` is the quickest command
that saves a named result (it counts FLOPs, running nothing), so the saves come as close
together as they can.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prunekit_cli import FIXTURES, MISSING_BINARY, PRUNEKIT_BIN, REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tests" / "kernel"))
from kernel_harness import (  # noqa: E402
    execute_ok,
    hermetic_kernelspec,
    running_kernel,
    shell_reply,
)

pytestmark = pytest.mark.timeout(120)

MODEL = "digits_cnn.onnx"
EACH = 20
SAVE = "profile perf --flops --name {name}"


def model_in(folder: Path) -> Path:
    shutil.copy(FIXTURES / MODEL, folder / MODEL)
    return folder / MODEL


def saved_names(model: Path) -> set[str]:
    project = json.loads(model.with_name(model.name + ".prunekit.json").read_text())
    return set(project["perf_profiles"])


def check_all_kept(model: Path, expected: set[str], who: str) -> None:
    kept = saved_names(model)
    lost = sorted(expected - kept)
    assert not lost, (f"{who}: {len(expected) - len(lost)} of {len(expected)} profiles kept; "
                      f"lost {lost}")
    # Every temporary file of a save was renamed into place, and no file was moved aside.
    strays = sorted(p.name for p in model.parent.iterdir()
                    if p.name.endswith(".tmp") or ".unreadable-" in p.name)
    assert not strays, f"{who}: left behind {strays}"


def test_two_shells_saving_at_once_keep_every_profile(tmp_path: Path) -> None:
    if not PRUNEKIT_BIN.is_file():
        pytest.fail(MISSING_BINARY, pytrace=False)
    model = model_in(tmp_path)
    expected: set[str] = set()
    procs = []
    for shell in ("a", "b"):
        names = [f"shell-{shell}-{i}" for i in range(EACH)]
        expected.update(names)
        # The commands as arguments: one session, as a notebook cell runs them.
        cell = [f"load {MODEL}", *(SAVE.format(name=n) for n in names)]
        # Output to files, not pipes: a full pipe would stall one shell and part the two.
        out = (tmp_path / f"shell-{shell}.out").open("w")
        err = (tmp_path / f"shell-{shell}.err").open("w")
        procs.append((shell, subprocess.Popen([str(PRUNEKIT_BIN), "run", *cell], cwd=tmp_path,
                                              stdout=out, stderr=err), out, err))
    deadline = time.monotonic() + 60
    for shell, proc, out, err in procs:
        try:
            code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            out.close()
            err.close()
        stderr = (tmp_path / f"shell-{shell}.err").read_text()
        assert code == 0, f"shell {shell} exited {code}:\n{stderr[-2000:]}"
    check_all_kept(model, expected, "two shells")


@pytest.fixture(scope="module")
def kernelspec(tmp_path_factory: pytest.TempPathFactory):
    with hermetic_kernelspec(tmp_path_factory.mktemp("jupyter")) as spec_dir:
        yield spec_dir


def test_two_kernels_saving_at_once_keep_every_profile(tmp_path: Path, kernelspec: Path) -> None:
    model = model_in(tmp_path)
    expected: set[str] = set()
    with running_kernel(cwd=tmp_path) as (_km_a, kc_a), \
            running_kernel(cwd=tmp_path) as (_km_b, kc_b):
        kernels = {"a": kc_a, "b": kc_b}
        for kc in kernels.values():
            execute_ok(kc, f"load {MODEL}", timeout=30)
        # Every cell is sent before any reply is read, to both kernels, as two notebooks run
        # with "Run All": each kernel runs its cells one after another, the two at once.
        sent: dict[str, list[str]] = {k: [] for k in kernels}
        for i in range(EACH):
            for who, kc in kernels.items():
                name = f"kernel-{who}-{i}"
                expected.add(name)
                sent[who].append(kc.execute(SAVE.format(name=name)))
        for who, kc in kernels.items():
            for msg_id in sent[who]:
                reply = shell_reply(kc, msg_id, timeout=60)["content"]
                assert reply["status"] == "ok", (
                    f"kernel {who}: {reply.get('ename')}: {reply.get('evalue')}")
    check_all_kept(model, expected, "two kernels")


def test_a_save_that_finds_a_damaged_project_file_keeps_it_and_says_so(tmp_path: Path) -> None:
    """The file is damaged after `load` read it: the save moves it aside and tells the user."""
    if not PRUNEKIT_BIN.is_file():
        pytest.fail(MISSING_BINARY, pytrace=False)
    model = model_in(tmp_path)
    project = model.with_name(model.name + ".prunekit.json")
    # The sleep leaves a window between load's save and the next one.
    cell = f"load {MODEL}\nsleep 1.5\n" + SAVE.format(name="after")
    proc = subprocess.Popen([str(PRUNEKIT_BIN), "run", "-"], cwd=tmp_path, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(cell)
        proc.stdin.close()
        deadline = time.monotonic() + 20
        while not project.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        project.write_text("{ damaged by another program")
        proc.wait(timeout=60)
        stderr = proc.stderr.read()
    finally:
        proc.kill()
    asides = sorted(tmp_path.glob(f"{project.name}.unreadable-*"))
    assert len(asides) == 1, (sorted(p.name for p in tmp_path.iterdir()), stderr)
    assert asides[0].read_text() == "{ damaged by another program"
    assert f"it was kept as {asides[0].name}" in stderr or str(asides[0]) in stderr, stderr
    assert saved_names(model) == {"after"}

"""examples/quickstart.ipynb run headless with nbclient and with `jupyter nbconvert --execute`.

nbclient applies update_display_data and stores outputs the way a saved notebook has them, so this
checks what a user gets back in the file: charts as 2x PNGs with their 1x size, tables as HTML,
structured results as JSON objects, execution counts 1..n and the kernel's language_info.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from kernel_harness import (
    DIGITS,
    DIGITS_LAYERS,
    DIGITS_PARAMS,
    EXAMPLES,
    KERNEL_NAME,
    REPO_ROOT,
    RESULT_MIME,
    check_chart_bundle,
    check_json_mimes,
    check_table_bundle,
)

pytestmark = pytest.mark.timeout(60)

QUICKSTART = EXAMPLES / "quickstart.ipynb"


def check_executed(nb: nbformat.NotebookNode) -> None:
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code_cells] == list(range(1, len(code_cells) + 1))

    language_info = nb.metadata.get("language_info")
    assert language_info, "the kernel's language_info was not copied into the notebook metadata"
    assert language_info["name"] == "prunekit"
    assert language_info["file_extension"] == ".prunekit"
    assert language_info["mimetype"] == "text/x-prunekit"

    charts = tables = 0
    for cell in code_cells:
        where = f"cell {cell.execution_count} ({cell.source!r})"
        assert cell.outputs, f"{where}: no outputs"
        for out in cell.outputs:
            assert out.output_type != "error", f"{where}: {out.ename}: {out.evalue}"
            if out.output_type == "stream":
                assert out.name != "stderr", f"{where}: stderr output {out.text!r}"
            if out.output_type not in ("display_data", "execute_result"):
                continue
            data, metadata = out.data, out.metadata
            assert "text/plain" in data, f"{where}: no text/plain in {sorted(data)}"
            if out.output_type == "execute_result":
                assert out.execution_count == cell.execution_count, where
            if "image/png" in data:
                check_chart_bundle(data, metadata, where)
                charts += 1
            check_json_mimes(data, where)
            if out.output_type == "execute_result":
                check_table_bundle(data, where)
                tables += 1

    # A chart from each `layers`, three from `profile perf`, three from `profile loss
    # --quantization`, two from `profile loss --prune sparsegpt`, one from `profiles --compare`
    # (magnitude against sparsegpt), two from `optimize` and from `override`, four from
    # `benchmark --quantize` (iterations, batch scaling, dense against pruned, speedups over
    # dense); two from the channel profile, two from the channel plan (channels kept, weights
    # removed per layer), two from its benchmark (iterations, dense against the smaller model); a
    # table from every one of the 20 code cells.
    assert charts == 25, f"expected 1 + 1 + 3 + 3 + 2 + 1 + 2 + 2 + 4 + 2 + 2 + 2 charts, got {charts}"
    assert tables == len(code_cells) == 20, f"expected a table from every code cell, got {tables}"

    load_json = next(o for o in code_cells[0].outputs if o.output_type == "execute_result"
                     ).data[RESULT_MIME]
    assert load_json["model"]["params"] == DIGITS_PARAMS
    assert load_json["model"]["path"].endswith("digits_cnn.onnx")
    assert len(load_json["layers"]) == DIGITS_LAYERS

    top = next(o for o in code_cells[2].outputs if o.output_type == "execute_result"
               ).data[RESULT_MIME]
    flops = [layer["flops"] for layer in top["layers"]]
    assert len(flops) == 5 and flops == sorted(flops, reverse=True), flops

    def result_of(command: str) -> dict:
        # The cell that runs `command`, with flags or without ("profiles" is not "profiles
        # --compare": an exact command is matched first).
        cell = next((c for c in code_cells if c.source == command), None) or next(
            c for c in code_cells if c.source.startswith(command + " "))
        return next(o for o in cell.outputs if o.output_type == "execute_result").data[RESULT_MIME]

    perf = result_of("profile perf")
    assert perf["name"] == "baseline" and perf["model"]["batch"] == 16
    assert perf["model"]["ms_per_batch"] > 0 and perf["fused"], perf["fused"]
    loss = result_of("profile loss")
    assert loss["method"] == "one_shot" and loss["model"]["baseline_accuracy"] > 0.95
    assert [layer["rank"] for layer in loss["layers"]][0] == 1  # conv1 is the most sensitive
    int8 = loss["quantization"]
    assert len(int8["layers"]) == 4
    assert abs(int8["model"]["accuracy"] - int8["float_accuracy"]) <= 0.01, int8["model"]
    sparsegpt = result_of("profile loss --method one-shot --prune sparsegpt")
    assert sparsegpt["pruned_by"] == "sparsegpt"
    compared = result_of("profiles --compare")["compare"]
    assert [p["name"] for p in compared] == ["one-shot", "sparsegpt"]
    # Reconstruction makes pruning cost less, layer by layer, summed over the layers.
    total = [sum(layer["integral"] for layer in p["layers"]) for p in compared]
    assert total[1] < total[0], total
    names = [p["name"] for p in result_of("profiles")["profiles"]]
    assert names == ["baseline", "one-shot", "sparsegpt"], names
    plan = result_of("override")
    assert abs(plan["achieved"] - 0.7) <= 0.01 and plan["schedule"]["end_epoch"] == 53
    exported = result_of("export model")
    assert exported["accuracy"]["before"] > 0.95
    assert exported["pruning"]["method"] == "sparsegpt"
    bench = result_of("benchmark")
    assert {(r["model"], r["batch"]) for r in bench["runs"]} == {
        (m, b) for m in ("dense", "quantized", "pruned", "pruned+quantized") for b in (1, 16)}
    assert {s["model"] for s in bench["speedups"]} == {"quantized", "pruned", "pruned+quantized"}

    channels = result_of("profile loss --structure channel")
    assert channels["structure"] == "channel" and len(channels["layers"]) == 3
    plan = result_of("optimize --name channels")["channels"]
    assert plan["reached"] and plan["estimated_ratio"] >= 1.5
    small = result_of("export model out/digits_cnn.small.onnx")
    assert small["pruning"]["channels"]["repaired"]["layers"]
    assert small["accuracy"]["after"] >= small["accuracy"]["before"] - 0.01, small["accuracy"]
    assert result_of("export plan")["channels_removed"] > 0
    assert result_of("benchmark --optimization channels")["structured"] is True


def test_committed_notebook_has_no_outputs() -> None:
    nb = nbformat.read(QUICKSTART, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == KERNEL_NAME
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert code_cells and nb.cells[0].cell_type == "markdown"
    for cell in code_cells:
        assert cell.outputs == [] and cell.execution_count is None, (
            f"examples/quickstart.ipynb is committed with outputs in {cell.source!r}")


def test_quickstart_runs_with_nbclient(tmp_path: Path) -> None:
    """Run in a copy of the repository layout, so no project file from an earlier `load` of the
    fixture (`digits_cnn.onnx.prunekit.json`, which keeps sizes) changes what the notebook shows."""
    examples = tmp_path / EXAMPLES.relative_to(REPO_ROOT)
    model = tmp_path / DIGITS.relative_to(REPO_ROOT)
    examples.mkdir(parents=True)
    model.parent.mkdir(parents=True)
    shutil.copy(DIGITS, model)
    for data in ("digits_test.npz", "digits_train.npz"):
        shutil.copy(DIGITS.with_name(data), model.with_name(data))
    nb = nbformat.read(QUICKSTART, as_version=4)
    client = NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=30,
                            resources={"metadata": {"path": str(examples)}})
    client.execute()
    check_executed(nb)


def test_quickstart_runs_with_nbconvert(tmp_path: Path) -> None:
    """The notebook where it lives, the way a user runs it; the output goes to tmp_path."""
    proc = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
         f"--ExecutePreprocessor.kernel_name={KERNEL_NAME}", "--ExecutePreprocessor.timeout=30",
         "--output-dir", str(tmp_path), "--output", "quickstart.out", str(QUICKSTART)],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-4000:]
    check_executed(nbformat.read(tmp_path / "quickstart.out.ipynb", as_version=4))

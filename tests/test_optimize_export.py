"""Optimize and Integrate end to end, as a user drives them from the cell language
(`prunekit-kernel run`): a fit that meets its target, overrides kept and marked, and the exports
checked by tools that are not prunekit's: PyYAML loads the recipe the way SparseML's loader does
(tags rewritten), `py_compile` compiles the code, ONNX Runtime loads and runs the pruned model, and
numpy counts its zeros against the plan."""

from __future__ import annotations

import json
import py_compile
import re
import shutil
import subprocess

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml
from onnx import numpy_helper

from prunekit_cli import FIXTURES, PRUNEKIT_BIN, REPO_ROOT

LSP_BIN = REPO_ROOT / "target" / "release" / "prunekit-lsp"


def run(folder, *commands: str) -> list[dict]:
    proc = subprocess.run([str(PRUNEKIT_BIN), "run", "--format", "json", *commands], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


@pytest.fixture()
def digits(tmp_path):
    for name in ("digits_cnn.onnx", "digits_test.npz"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    return tmp_path


def sparseml_load(text: str) -> dict:
    """What SparseML's `load_recipe_yaml_str` does to tags before PyYAML: `!ClassName` becomes
    `!pytorch.ClassName`; a loader that accepts those tags as mappings reads the rest."""
    text = re.sub(r"!\s*([A-Z][A-Za-z]*Modifier)", r"!pytorch.\1", text)

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: {
        "__class__": suffix, **loader.construct_mapping(node, deep=True)})
    return yaml.load(text, Loader=Loader)


def test_fit_meets_the_target_and_overrides_are_kept(digits):
    out = run(digits, "load digits_cnn.onnx", "profile loss --method one-shot --data digits_test.npz",
              "optimize --sparsity 0.7", "override conv2.weight 0.5")
    fitted, overridden = out[2], out[3]
    assert abs(fitted["achieved"] - 0.7) <= 0.01, fitted["notes"]
    assert fitted["loss"] == "one-shot" and fitted["perf"] == "flops"
    first = fitted["layers"][0]
    assert first["sparsity"] is None and "first prunable layer" in first["reason"]
    conv2 = next(layer for layer in overridden["layers"] if layer["weight"] == "conv2.weight")
    assert conv2["overridden"] and conv2["sparsity"] == 0.5
    # The others are refitted so the average still meets the target.
    assert abs(overridden["achieved"] - 0.7) <= 0.01, overridden["notes"]
    # A later `optimize` of the same name keeps the override; a new value for the same layer
    # replaces it.
    again = run(digits, "load digits_cnn.onnx", "optimize")[1]
    assert any(layer["overridden"] for layer in again["layers"])
    replaced = run(digits, "load digits_cnn.onnx", "override conv2.weight 0.6")[1]
    assert replaced["overrides"] == [{"pattern": "conv2.weight", "sparsity": 0.6}]


def test_exports_validate_load_compile_and_carry_the_plan(digits):
    out = run(digits, "load digits_cnn.onnx", "profile loss --method one-shot --data digits_test.npz",
              "settings epochs=90 lr=0.1:0.001", "optimize --sparsity 0.7",
              "export recipe digits_cnn.recipe.yaml", "export code integrate.py",
              "export code train.py --training", "export model pruned.onnx --data digits_test.npz --method magnitude")
    plan, recipe_out, _, _, model_out = out[3], out[4], out[5], out[6], out[7]

    text = (digits / "digits_cnn.recipe.yaml").read_text()
    assert text.startswith("# prunekit: model=digits_cnn.onnx\n")
    check = subprocess.run([str(LSP_BIN), "check", "digits_cnn.recipe.yaml"], cwd=digits,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    recipe = sparseml_load(text)
    mods = recipe["modifiers"]
    assert recipe["version"] == "1.1.0" and mods[-1]["__class__"] != "pytorch.GMPruningModifier"
    pruning = [m for m in mods if m["__class__"] == "pytorch.GMPruningModifier"]
    planned = {layer["weight"]: layer["sparsity"] for layer in plan["layers"] if layer["sparsity"]}
    written = {p: m["final_sparsity"] for m in pruning for p in m["params"]}
    assert written == pytest.approx(planned), (written, planned)
    assert len(pruning) == len(set(planned.values())), "one GMPruningModifier per distinct sparsity"
    assert all(isinstance(m["start_epoch"], float) for m in mods)
    assert recipe_out["layers_pruned"] and recipe_out["modifiers"] == len(mods)

    for name in ("integrate.py", "train.py"):
        py_compile.compile(str(digits / name), doraise=True)
        assert "digits_cnn.recipe.yaml" in (digits / name).read_text()

    pruned = onnx.load(digits / "pruned.onnx")
    original = {t.name: numpy_helper.to_array(t) for t in onnx.load(digits / "digits_cnn.onnx").graph.initializer}
    for t in pruned.graph.initializer:
        array = numpy_helper.to_array(t)
        if t.name in planned:
            assert abs(np.mean(array == 0) - planned[t.name]) <= 1 / array.size + 1e-9, t.name
        else:
            assert np.array_equal(array, original[t.name]), f"{t.name} changed"
    data = np.load(digits / "digits_test.npz")
    logits = ort.InferenceSession(str(digits / "pruned.onnx")).run(None, {"input": data["input"]})[0]
    accuracy = float(np.mean(logits.argmax(1) == data["labels"]))
    assert model_out["accuracy"]["after"] == pytest.approx(accuracy)
    assert model_out["accuracy"]["before"] > 0.95


def test_llm_compressor_recipe_carries_the_one_shot_plan(digits):
    """`export recipe --format llm-compressor`: the staged layout llm-compressor's
    `Recipe.from_dict` reads (`*_stage` > `*_modifiers` > class > arguments), one SparseGPT group
    per planned sparsity naming each pruned layer's module once, the plan's quantization after it,
    and the recipe checker finds nothing wrong with it, the model linked."""
    out = run(digits, "load digits_cnn.onnx", "optimize --sparsity 0.7 --quantize static",
              "export recipe digits.llmc.yaml --format llm-compressor",
              "export recipe digits.24.yaml --format llm-compressor --method wanda --pattern 2:4")
    plan, written, written_24 = out[1], out[2], out[3]
    assert written["format"] == "llm-compressor" and written["method"] == "sparsegpt"
    recipe = yaml.safe_load((digits / "digits.llmc.yaml").read_text())
    assert list(recipe) == ["sparsity_stage", "quantization_stage"]
    planned = {layer["weight"].removesuffix(".weight"): layer["sparsity"]
               for layer in plan["layers"] if layer["sparsity"]}
    targets = {}
    for group, modifiers in recipe["sparsity_stage"].items():
        assert group.endswith("_modifiers") and list(modifiers) == ["SparseGPTModifier"]
        args = modifiers["SparseGPTModifier"]
        assert args["mask_structure"] == "0:0"
        for module in args["targets"]:
            assert module not in targets, f"{module} in two groups"
            targets[module] = args["sparsity"]
    assert targets == pytest.approx(planned)
    quant = recipe["quantization_stage"]["quantization_modifiers"]["QuantizationModifier"]
    assert quant["config_groups"]["group_0"]["input_activations"]["dynamic"] is False
    assert written["modifiers"] == len(recipe["sparsity_stage"]) + 1

    recipe_24 = yaml.safe_load((digits / "digits.24.yaml").read_text())
    (wanda,) = recipe_24["sparsity_stage"].values()
    assert wanda["WandaPruningModifier"]["mask_structure"] == "2:4"
    assert set(wanda["WandaPruningModifier"]["targets"]) == set(planned)
    assert written_24["pattern"] == "2:4"

    for name in ("digits.llmc.yaml", "digits.24.yaml"):
        check = subprocess.run([str(LSP_BIN), "check", name], cwd=digits,
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr


def test_bad_optimize_input_is_one_sentence(digits):
    for command in ("optimize --sparsity 1.5", "optimize --loss nope", "override nothing.weight 0.5",
                    "export recipe x.yaml --optimization nope", "export recipe x.yaml --method wanda",
                    "export recipe x.yaml --format onnx", "export model x.onnx --format llm-compressor"):
        proc = subprocess.run([str(PRUNEKIT_BIN), "run", "load digits_cnn.onnx", "optimize", command],
                              cwd=digits, capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0, command
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("prunekit: "), (command, proc.stderr)

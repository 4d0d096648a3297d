"""The JSON Schema of recipes (`prunekit-lsp schema`, committed at
vscode-extension/schemas/recipe.schema.json and contributed by the VS Code extension through
`yamlValidation`), checked with an independent validator (python-jsonschema, Draft 7): valid
recipes pass, broken ones fail on the field that is wrong, and the committed file is what the
binary prints."""

from __future__ import annotations

import json
import subprocess

import jsonschema
import pytest
import yaml

from lsp_harness import LSP_BIN, MISSING_LSP, REPO_ROOT

SCHEMA_PATH = REPO_ROOT / "vscode-extension" / "schemas" / "recipe.schema.json"
RECIPES = REPO_ROOT / "tests" / "fixtures" / "recipes"


class TagsAsMappings(yaml.SafeLoader):
    """PyYAML that reads `!GMPruningModifier {...}` as its mapping: JSON has no tags, which is
    how yaml-language-server sees a recipe too."""


TagsAsMappings.add_multi_constructor(
    "!", lambda loader, _suffix, node: loader.construct_mapping(node, deep=True))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator, text: str) -> list[jsonschema.ValidationError]:
    return list(validator.iter_errors(yaml.load(text, Loader=TagsAsMappings)))


def test_committed_schema_is_what_the_server_prints():
    if not LSP_BIN.is_file():
        pytest.fail(MISSING_LSP, pytrace=False)
    printed = subprocess.run([str(LSP_BIN), "schema"], capture_output=True, text=True,
                             check=True, timeout=30).stdout
    assert printed == SCHEMA_PATH.read_text(), "run `make schema` to regenerate the schema"


@pytest.mark.parametrize("name", ["digits_gmp.recipe.yaml", "digits_quant.recipe.yaml",
                                  "digits_staged.recipe.yaml"])
def test_valid_recipes_pass(validator, name):
    found = errors(validator, (RECIPES / name).read_text())
    assert not found, [e.message for e in found]


def test_missing_required_field_fails(validator):
    # bad_fields: a GMPruningModifier without final_sparsity matches no class.
    found = errors(validator, (RECIPES / "bad_fields.recipe.yaml").read_text())
    assert found
    text = (RECIPES / "bad_fields.recipe.yaml").read_text()
    assert "final_sparsity" not in text.split("params: [\"conv2.weight\"]")[1].split("- !")[0]


RECIPE = """\
version: 1.1.0
modifiers:
  - !GMPruningModifier
    params: ["conv1.weight"]
    init_sparsity: 0.05
    final_sparsity: {final}
    start_epoch: 0.0
    end_epoch: 5.0
    update_frequency: 1.0
"""


def test_wrong_types_fail(validator):
    assert not errors(validator, RECIPE.format(final=0.8))
    assert not errors(validator, RECIPE.format(final="eval(0.4 * 2)"))
    # Types no class accepts. (An unknown field alone is not enough without the tag:
    # RigLPruningModifier takes **kwargs.)
    good = RECIPE.format(final=0.8)
    for line, bad in (("start_epoch: 0.0", "start_epoch: soon"),
                      ('params: ["conv1.weight"]', "params: 5")):
        assert errors(validator, good.replace(line, bad)), bad


def test_a_class_definition_checks_ranges(validator):
    # Without tags an item may match any class; a tool that reads the tag validates the item
    # against `definitions/<Class>`, which carries SparseML's ranges: final_sparsity in (0, 1).
    schema = dict(validator.schema, **{"$ref": "#/definitions/GMPruningModifier"})
    by_class = jsonschema.Draft7Validator(schema)
    item = lambda final: yaml.load(RECIPE.format(final=final),  # noqa: E731
                                   Loader=TagsAsMappings)["modifiers"][0]
    assert not list(by_class.iter_errors(item(0.8)))
    [error] = by_class.iter_errors(item(1.5))
    assert list(error.path) == ["final_sparsity"]
    assert any("greater than or equal to the maximum of 1.0" in e.message for e in error.context)


def test_field_docs_and_defaults_are_there(validator):
    gm = validator.schema["definitions"]["GMPruningModifier"]
    assert gm["required"] and "params" in gm["required"]
    assert gm["properties"]["inter_func"]["default"] == "cubic"
    assert "sparsity" in gm["properties"]["final_sparsity"]["description"].lower()


QUANTIZATION = """\
version: 1.1.0
modifiers:
  - !QuantizationModifier
    disable_quantization_observer_epoch: 51.0
    end_epoch: -1.0
    freeze_bn_stats_epoch: 50.0
    ignore: ['conv1']
    scheme: {scheme}
    start_epoch: 48.0
"""


def test_a_quantization_scheme_is_checked_inside(validator):
    # What `export recipe` writes for per-channel and per-tensor weights passes; the scheme's
    # own values (strategy, num_bits, alias) are checked by the class definition.
    schema = dict(validator.schema, **{"$ref": "#/definitions/QuantizationModifier"})
    by_class = jsonschema.Draft7Validator(schema)
    item = lambda scheme: yaml.load(QUANTIZATION.format(scheme=scheme),  # noqa: E731
                                    Loader=TagsAsMappings)["modifiers"][0]
    per_channel = ("{input_activations: {num_bits: 8, symmetric: false}, "
                   "weights: {num_bits: 8, symmetric: true, strategy: channel}}")
    for good in (per_channel, "default", "null", "{weights: null}"):
        assert not list(by_class.iter_errors(item(good))), good
    for bad in (per_channel.replace("channel", "per_channel"), per_channel.replace("8,", "16,"),
                "tensorrrt"):
        errors_ = list(by_class.iter_errors(item(bad)))
        assert errors_ and all(list(e.path) == ["scheme"] for e in errors_), bad


STAGED = REPO_ROOT / "tests" / "recipes" / "staged"


@pytest.mark.parametrize("folder", ["llm-compressor", "sparseml"])
def test_real_staged_recipes_pass(validator, folder):
    for path in sorted((STAGED / folder).glob("*.yaml")):
        found = errors(validator, path.read_text())
        assert not found, (path.name, [e.message for e in found])


def test_a_staged_class_checks_its_fields(validator):
    good = "quant_stage:\n  quant_modifiers:\n    GPTQModifier: {scheme: W4A16, actorder: null}\n"
    assert not errors(validator, good)
    for bad in ["GPTQModifier: {schem: W4A16}", "SparseGPTModifier: {sparsity: 1.5}",
                "GPTQModifer: {scheme: W4A16}"]:
        text = f"quant_stage:\n  quant_modifiers:\n    {bad}\n"
        assert errors(validator, text), bad

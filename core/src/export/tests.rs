//! Tests of the export: the recipe against SparseML's layout and prunekit's own checker (and, when
//! the repository's virtual environments exist, against PyYAML and SparseML's tag handling), the
//! pruned model against the plan and ONNX Runtime, and the code templates against `py_compile`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use prost::Message;

use super::recipe::yaml_float;
use super::*;
use crate::error::Error;
use crate::model::tensor::to_f32;
use crate::optimize::plan::{LayerPlan, PruningPlan, Schedule, schedule_e90};
use crate::optimize::schedule::quantization_epochs;
use crate::quantize::{Calibration, IgnoredLayer, QuantMode, QuantizationPlan};
use crate::recipe::{CheckOptions, ModelContext, Severity, check};
use crate::runtime::ModelSession;
use crate::{AnalysisOptions, Model, analyze, load};

use crate::fixtures::fixture;

fn layer(name: &str, weight: &str, sparsity: Option<f64>) -> LayerPlan {
    LayerPlan {
        name: name.into(),
        weight: weight.into(),
        op_type: "Conv".into(),
        sparsity,
        ..Default::default()
    }
}

fn plan(layers: Vec<LayerPlan>, schedule: Schedule) -> PruningPlan {
    PruningPlan {
        target: 0.8,
        achieved: 0.8,
        balance: 0.5,
        perf: "flops".into(),
        loss: "approx".into(),
        filters: Default::default(),
        overrides: Vec::new(),
        layers,
        model: Default::default(),
        schedule,
        notes: Vec::new(),
        quantization: None,
        channels: None,
    }
}

fn digits() -> (Model, ModelContext, PruningPlan) {
    let model = load(&fixture("digits_cnn.onnx")).unwrap();
    let analysis = analyze(&model, &AnalysisOptions::default()).unwrap();
    let sparsities = [
        ("conv1.weight", None),
        ("conv2.weight", Some(0.8)),
        ("fc1.weight", Some(0.9)),
        ("fc2.weight", Some(0.8)),
    ];
    let layers = analysis
        .layers
        .iter()
        .filter(|l| l.is_prunable)
        .map(|l| {
            let weight = l.weight.as_ref().unwrap().name.clone();
            let sparsity = sparsities.iter().find(|(w, _)| *w == weight).unwrap().1;
            LayerPlan {
                name: l.name.clone(),
                weight,
                op_type: l.op_type.clone(),
                params: l.prunable_params,
                sparsity,
                ..Default::default()
            }
        })
        .collect::<Vec<_>>();
    assert_eq!(layers.len(), 4, "the digits CNN has four prunable layers");
    let context = ModelContext::from_analysis(&analysis);
    (model, context, plan(layers, schedule_e90()))
}

#[test]
fn floats_are_yaml_1_1_floats() {
    assert_eq!(yaml_float(0.0), "0.0");
    assert_eq!(yaml_float(-0.0), "0.0");
    assert_eq!(yaml_float(31.0), "31.0");
    assert_eq!(yaml_float(-1.0), "-1.0");
    assert_eq!(yaml_float(0.87), "0.87");
    assert_eq!(yaml_float(1e-7), "0.0000001");
    assert_eq!(yaml_float(0.012625), "0.012625");
    assert_eq!(yaml_float(1e20), "100000000000000000000.0");
    assert_eq!(yaml_float(f64::INFINITY), ".inf");
}

/// Sparsify's example recipe, in prunekit's conventions: YAML flow lists with quoted names,
/// lower-case booleans, PyTorch-only keys (`global_sparsity`, `constant_logging`, `param_groups`)
/// left at their defaults so that Keras and TensorFlow read the recipe too.
#[test]
fn golden_sparsify_example() {
    let plan = plan(
        vec![
            layer("/sections.0/conv", "sections.0.conv.weight", None),
            layer("/sections.1/conv", "sections.1.conv.weight", Some(0.87)),
            layer("/sections.2/conv", "sections.2.conv.weight", Some(0.87)),
        ],
        schedule_e90(),
    );
    let expected = "\
# prunekit: model=models/resnet.onnx
version: 1.1.0

modifiers:
    - !GMPruningModifier
        end_epoch: 31.0
        final_sparsity: 0.87
        init_sparsity: 0.05
        inter_func: cubic
        leave_enabled: true
        mask_type: unstructured
        params: ['sections.1.conv.weight', 'sections.2.conv.weight']
        start_epoch: 1.0
        update_frequency: 0.75

    - !EpochRangeModifier
        end_epoch: 53.0
        start_epoch: 0.0

    - !SetLearningRateModifier
        end_epoch: -1.0
        learning_rate: 0.0505
        start_epoch: 0.0

    - !LearningRateModifier
        end_epoch: -1.0
        init_lr: 0.012625
        lr_class: StepLR
        lr_kwargs: {step_size: 6.0, gamma: 0.25}
        start_epoch: 31.0
        update_frequency: -1.0
";
    assert_eq!(recipe_text(&plan, "models\\resnet.onnx"), expected);
    let checked = check(expected, &CheckOptions::default());
    assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
}

#[test]
fn one_pruning_modifier_per_sparsity_in_sparseml_order() {
    let mut schedule = schedule_e90();
    schedule.lr.clear();
    schedule.update_frequency = 0.0; // "every step": written −1
    let plan = plan(
        vec![
            layer("a", "a.weight", Some(0.9)),
            layer("b", "b.weight", Some(0.5)),
            layer("c", "c.weight", Some(0.9)),
            layer("d", "d.weight", None),
            layer("e", "e.weight", Some(0.0)),
        ],
        schedule,
    );
    let text = recipe_text(&plan, "m.onnx");
    let tags: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- !"))
        .collect();
    assert_eq!(
        tags,
        [
            "GMPruningModifier",
            "GMPruningModifier",
            "EpochRangeModifier"
        ]
    );
    let params: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("params: "))
        .collect();
    assert_eq!(params, ["['b.weight']", "['a.weight', 'c.weight']"]);
    assert!(text.contains("update_frequency: -1.0"));
    assert!(!text.contains("d.weight") && !text.contains("e.weight"));

    // No planned layer: the epoch range alone.
    let dense = super::recipe::recipe_text(
        &PruningPlan {
            layers: vec![layer("a", "a.weight", None)],
            ..plan.clone()
        },
        "m.onnx",
    );
    assert!(!dense.contains("GMPruningModifier"));
    assert!(dense.contains("- !EpochRangeModifier"));
}

#[test]
fn digits_recipe_passes_the_checker() {
    let (_, context, plan) = digits();
    let text = recipe_text(&plan, "digits_cnn.onnx");
    let options = CheckOptions {
        model: Some(&context),
        ..Default::default()
    };
    let checked = check(&text, &options);
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{text}\n{errors:#?}");
    // Nothing in the layout itself is even worth a warning.
    let warnings: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning && d.code != "sensitivity")
        .collect();
    assert!(warnings.is_empty(), "{text}\n{warnings:#?}");
    assert!(text.starts_with("# prunekit: model=digits_cnn.onnx\nversion: 1.1.0\n"));
    assert!(text.contains("params: ['conv2.weight', 'fc2.weight']"));
    assert!(text.contains("params: ['fc1.weight']"));
    assert!(!text.contains("conv1.weight"));
}

#[test]
fn generated_names_are_detected() {
    let plan = plan(
        vec![
            layer("a", "conv1.weight", Some(0.5)),
            layer("b", "onnx::MatMul_123", Some(0.5)),
            layer("c", "2425", Some(0.5)),
            layer("d", "/layer/MatMul", Some(0.5)),
            layer("e", "1234", None),
        ],
        schedule_e90(),
    );
    assert_eq!(
        generated_names(&plan),
        ["onnx::MatMul_123", "2425", "/layer/MatMul"]
    );
}

#[test]
fn names_map_renames_weights_and_refuses_unknown_keys() {
    let mut plan = plan(
        vec![
            layer("/fc1/Gemm_output_0", "onnx::Gemm_12", Some(0.5)),
            layer("/fc2/Gemm_output_0", "onnx::Gemm_13", Some(0.5)),
        ],
        schedule_e90(),
    );
    let map: BTreeMap<String, String> = [
        ("onnx::Gemm_12".to_string(), "fc1.weight".to_string()),
        ("/fc2/Gemm_output_0".to_string(), "fc2.weight".to_string()),
    ]
    .into();
    apply_names(&mut plan, &map).unwrap();
    assert_eq!(plan.layers[0].weight, "fc1.weight");
    assert_eq!(plan.layers[1].weight, "fc2.weight");
    assert!(generated_names(&plan).is_empty());

    let before = plan.clone();
    let bad: BTreeMap<String, String> = [("fc3.weight".to_string(), "x".to_string())].into();
    let err = apply_names(&mut plan, &bad).unwrap_err();
    let Error::Usage(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("'fc3.weight'"), "{message}");
    assert!(
        message.ends_with('.') && message.matches(". ").count() == 0,
        "{message}"
    );
    assert_eq!(plan, before, "a refused map changes nothing");
    let empty: BTreeMap<String, String> = [("fc1.weight".to_string(), " ".to_string())].into();
    assert!(apply_names(&mut plan, &empty).is_err());
    assert_eq!(plan, before);
}

/// A quantization of the e90 schedule's last fine-tuning epochs, leaving `ignored` in float.
fn quantization(mode: QuantMode, per_channel: bool, ignored: &[(&str, &str)]) -> QuantizationPlan {
    let (start_epoch, observer_end_epoch, freeze_bn_epoch) = quantization_epochs(&schedule_e90());
    QuantizationPlan {
        mode,
        calibration: Calibration::MinMax,
        calibration_source: Default::default(),
        per_channel,
        ignore: ignored
            .iter()
            .map(|(name, weight)| IgnoredLayer {
                name: (*name).into(),
                weight: (*weight).into(),
                reason: "too sensitive".into(),
            })
            .collect(),
        start_epoch,
        observer_end_epoch,
        freeze_bn_epoch,
    }
}

/// The modifier blocks of a recipe: each `- !Class` line with the property lines under it.
fn blocks(text: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("- !") {
            out.push(vec![line.trim()]);
        } else if let Some(block) = out.last_mut()
            && !line.trim().is_empty()
        {
            block.push(line.trim());
        }
    }
    out
}

/// Static per-channel quantization: SparseML's current `QuantizationModifier` last (it never
/// ends), properties in alphabetical order, the scheme as a flow mapping and the layers left in
/// float as module names.
#[test]
fn static_quantization_writes_a_quantization_modifier() {
    let mut plan = plan(
        vec![
            layer("/conv1/Conv", "conv1.weight", None),
            layer("/conv2/Conv", "conv2.weight", Some(0.8)),
        ],
        schedule_e90(),
    );
    plan.quantization = Some(quantization(
        QuantMode::Static,
        true,
        &[
            ("/conv1/Conv", "conv1.weight"),
            ("/fc/Gemm", "fc"),
            ("/x", "conv1.weight"),
        ],
    ));
    let text = recipe_text(&plan, "m.onnx");
    let blocks = blocks(&text);
    let tags: Vec<&str> = blocks.iter().map(|b| b[0]).collect();
    assert_eq!(
        tags,
        [
            "- !GMPruningModifier",
            "- !EpochRangeModifier",
            "- !SetLearningRateModifier",
            "- !LearningRateModifier",
            "- !QuantizationModifier"
        ]
    );
    assert_eq!(
        blocks[4][1..],
        [
            "disable_quantization_observer_epoch: 51.0",
            "end_epoch: -1.0",
            "freeze_bn_stats_epoch: 50.0",
            "ignore: ['conv1', 'fc']",
            "scheme: {input_activations: {num_bits: 8, symmetric: false}, weights: {num_bits: 8, symmetric: true, strategy: channel}}",
            "start_epoch: 48.0",
        ]
    );
    let checked = check(&text, &CheckOptions::default());
    assert!(
        checked.diagnostics.is_empty(),
        "{text}\n{:#?}",
        checked.diagnostics
    );
    let quant = &checked.recipe.modifiers[4];
    assert_eq!(quant.number("start_epoch"), Some(48.0));
    assert!(!text.contains("# Dynamic"));
}

#[test]
fn per_tensor_quantization_uses_the_default_scheme() {
    let mut plan = plan(vec![layer("a", "a.weight", Some(0.5))], schedule_e90());
    plan.quantization = Some(quantization(QuantMode::Static, false, &[]));
    let text = recipe_text(&plan, "m.onnx");
    let block = blocks(&text).pop().unwrap();
    assert_eq!(block[0], "- !QuantizationModifier");
    assert!(block.contains(&"scheme: default"), "{text}");
    assert!(
        !text.contains("ignore:"),
        "no ignore without ignored layers: {text}"
    );
    let checked = check(&text, &CheckOptions::default());
    assert!(
        checked.diagnostics.is_empty(),
        "{text}\n{:#?}",
        checked.diagnostics
    );
}

/// Dynamic quantization happens after training (`export model`): no modifier, one comment.
#[test]
fn dynamic_quantization_writes_no_modifier() {
    let mut plan = plan(vec![layer("a", "a.weight", Some(0.5))], schedule_e90());
    let float = recipe_text(&plan, "m.onnx");
    plan.quantization = Some(quantization(QuantMode::Dynamic, true, &[("a", "a.weight")]));
    let text = recipe_text(&plan, "m.onnx");
    assert!(!text.contains("QuantizationModifier\n"), "{text}");
    assert!(!text.contains("ignore"), "{text}");
    let comments: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(comments.len(), 2, "{text}");
    assert!(comments[0].starts_with("# prunekit: model=m.onnx"));
    assert!(comments[1].contains("export model"), "{text}");
    // Apart from the comment, the recipe of the float plan.
    assert_eq!(text.replace(&format!("{}\n", comments[1]), ""), float);
    let checked = check(&text, &CheckOptions::default());
    assert!(
        checked.diagnostics.is_empty(),
        "{text}\n{:#?}",
        checked.diagnostics
    );
    assert!(
        generated_names(&PruningPlan {
            quantization: Some(quantization(
                QuantMode::Dynamic,
                true,
                &[("b", "onnx::Gemm_4")]
            )),
            ..plan.clone()
        })
        .is_empty()
    );
}

/// The names map renames the weights of layers left in float too, and their generated names
/// count: `ignore` must name the framework's modules.
#[test]
fn names_map_and_generated_names_cover_ignored_layers() {
    let mut plan = plan(
        vec![layer("/fc1/Gemm", "onnx::Gemm_12", Some(0.5))],
        schedule_e90(),
    );
    plan.quantization = Some(quantization(
        QuantMode::Static,
        false,
        &[("/fc2/Gemm", "onnx::Gemm_13"), ("/fc3/Gemm", "fc3.weight")],
    ));
    assert_eq!(generated_names(&plan), ["onnx::Gemm_12", "onnx::Gemm_13"]);
    // A key that names only an ignored layer (by layer name) is known.
    let map: BTreeMap<String, String> = [
        ("onnx::Gemm_12".to_string(), "fc1.weight".to_string()),
        ("/fc2/Gemm".to_string(), "fc2.weight".to_string()),
    ]
    .into();
    apply_names(&mut plan, &map).unwrap();
    assert!(generated_names(&plan).is_empty());
    let text = recipe_text(&plan, "m.onnx");
    assert!(text.contains("ignore: ['fc2', 'fc3']"), "{text}");
    assert!(text.contains("params: ['fc1.weight']"), "{text}");
}

/// On the digits CNN, with its model: the quantization modifier passes the checker's model rules
/// (module names in `ignore`) as well.
#[test]
fn digits_quantization_recipe_passes_the_checker_with_the_model() {
    let (_, context, mut plan) = digits();
    plan.quantization = Some(quantization(
        QuantMode::Static,
        true,
        &[("/conv1/Conv", "conv1.weight")],
    ));
    let text = recipe_text(&plan, "digits_cnn.onnx");
    let options = CheckOptions {
        model: Some(&context),
        ..Default::default()
    };
    let problems: Vec<_> = check(&text, &options)
        .diagnostics
        .into_iter()
        .filter(|d| d.severity <= Severity::Warning && d.code != "sensitivity")
        .collect();
    assert!(problems.is_empty(), "{text}\n{problems:#?}");
    assert!(text.contains("ignore: ['conv1']"), "{text}");
}

/// A Python interpreter from the repository's virtual environments, with PyYAML; `None` (and
/// the test is skipped) where neither exists.
fn python(prefer_sparseml: bool) -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut candidates = vec![root.join(".venv/bin/python")];
    if prefer_sparseml {
        candidates.insert(0, root.join(".venv-sparseml/bin/python"));
    }
    let found = candidates.into_iter().find(|p| p.exists());
    if found.is_none() {
        eprintln!("skipped: no virtual environment with Python in the repository");
    }
    found
}

fn run_python(python: &Path, script: &str, stdin: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Loads the recipe the way SparseML does: its container handling and `eval()` pass when SparseML
/// is installed, its tag rewrite (`!Name` → `!pytorch.Name`), then `yaml.safe_load` rules with a
/// constructor that turns each tagged mapping into `{class: {key: [type, value]}}`.
/// A modifier's fields as the loader reports them: name → (Python type name, value).
type Fields = BTreeMap<String, (String, serde_json::Value)>;

const LOAD_LIKE_SPARSEML: &str = r#"
import json, re, sys
import yaml
text = sys.stdin.read()
try:
    from sparseml.optim.helpers import load_recipe_yaml_str, evaluate_recipe_yaml_str_equations
    text = evaluate_recipe_yaml_str_equations(load_recipe_yaml_str(text))
    print("sparseml helpers used", file=sys.stderr)
except ImportError:
    pass
pattern = re.compile(r"!(?P<mod_class>(?!.*\.)[a-zA-Z_][a-zA-Z^._0-9]+)")
text = pattern.sub(r"!pytorch.\g<mod_class>", text)
class Loader(yaml.SafeLoader):
    pass
def construct(loader, suffix, node):
    fields = loader.construct_mapping(node, deep=True)
    return {suffix: {k: [type(v).__name__, v] for k, v in fields.items()}}
Loader.add_multi_constructor("!pytorch.", construct)
doc = yaml.load(text, Loader=Loader)
print(json.dumps(doc["modifiers"]))
"#;

#[test]
fn recipe_loads_in_pyyaml_as_sparseml_reads_it() {
    let Some(python) = python(true) else { return };
    let (_, _, plan) = digits();
    let text = recipe_text(&plan, "digits_cnn.onnx");
    let (ok, out) = run_python(&python, LOAD_LIKE_SPARSEML, &text);
    assert!(ok, "{out}");
    if python.to_string_lossy().contains(".venv-sparseml") {
        assert!(out.contains("sparseml helpers used"), "{out}");
    }
    let json = out.lines().rfind(|l| l.starts_with('[')).unwrap();
    let mods: Vec<BTreeMap<String, Fields>> = serde_json::from_str(json).unwrap();
    let classes: Vec<&str> = mods
        .iter()
        .map(|m| m.keys().next().unwrap().as_str())
        .collect();
    assert_eq!(
        classes,
        [
            "GMPruningModifier",
            "GMPruningModifier",
            "EpochRangeModifier",
            "SetLearningRateModifier",
            "LearningRateModifier"
        ]
    );
    for m in &mods {
        let (class, fields) = m.iter().next().unwrap();
        for (key, (ty, value)) in fields {
            let expected = match key.as_str() {
                "params" => "list",
                "leave_enabled" => "bool",
                "inter_func" | "mask_type" | "lr_class" => "str",
                "lr_kwargs" => "dict",
                _ => "float",
            };
            assert_eq!(ty, expected, "{class}.{key} = {value}");
        }
    }
    let gm = &mods[0]["GMPruningModifier"];
    assert_eq!(gm["final_sparsity"].1, 0.8);
    assert_eq!(
        gm["params"].1,
        serde_json::json!(["conv2.weight", "fc2.weight"])
    );
    let lr = &mods[4]["LearningRateModifier"]["lr_kwargs"].1;
    assert_eq!(lr, &serde_json::json!({"step_size": 6.0, "gamma": 0.25}));
}

/// The quantization modifier as SparseML's loader reads it: epochs as floats, the scheme as a
/// mapping with ints and booleans, `ignore` as a list of str.
#[test]
fn quantization_recipe_loads_in_pyyaml_as_sparseml_reads_it() {
    let Some(python) = python(true) else { return };
    let (_, _, mut plan) = digits();
    plan.quantization = Some(quantization(
        QuantMode::Static,
        true,
        &[("/conv1/Conv", "conv1.weight")],
    ));
    let text = recipe_text(&plan, "digits_cnn.onnx");
    let (ok, out) = run_python(&python, LOAD_LIKE_SPARSEML, &text);
    assert!(ok, "{out}");
    let json = out.lines().rfind(|l| l.starts_with('[')).unwrap();
    let mods: Vec<BTreeMap<String, Fields>> = serde_json::from_str(json).unwrap();
    let quant = &mods.last().unwrap()["QuantizationModifier"];
    for (key, (ty, value)) in quant {
        let expected = match key.as_str() {
            "scheme" => "dict",
            "ignore" => "list",
            _ => "float",
        };
        assert_eq!(ty, expected, "{key} = {value}");
    }
    assert_eq!(
        quant["scheme"].1,
        serde_json::json!({
            "input_activations": {"num_bits": 8, "symmetric": false},
            "weights": {"num_bits": 8, "symmetric": true, "strategy": "channel"}
        })
    );
    assert_eq!(quant["ignore"].1, serde_json::json!(["conv1"]));
    assert_eq!(quant["end_epoch"].1, -1.0);
}

#[test]
fn pruned_model_matches_the_plan_and_runs() {
    let (model, _, plan) = digits();
    let (proto, measured) = pruned_model(&model, &plan).unwrap();
    let graph = proto.graph.as_ref().unwrap();
    let original = model.graph();
    assert_eq!(graph.node, original.node, "nodes are untouched");
    assert_eq!(graph.input, original.input);
    assert_eq!(graph.output, original.output);
    assert_eq!(graph.initializer.len(), original.initializer.len());

    let names: Vec<&str> = measured.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["conv2.weight", "fc1.weight", "fc2.weight"]);
    for (before, after) in original.initializer.iter().zip(&graph.initializer) {
        let name = before.name.as_deref().unwrap();
        assert_eq!(after.name.as_deref(), Some(name));
        let planned = plan
            .layers
            .iter()
            .find(|l| l.weight == name)
            .and_then(|l| l.sparsity);
        let Some(sparsity) = planned else {
            assert_eq!(
                before.encode_to_vec(),
                after.encode_to_vec(),
                "{name} is byte-identical"
            );
            continue;
        };
        assert_eq!(after.dims, before.dims);
        let values = to_f32(after).unwrap();
        let n = values.len() as f64;
        let zeros = values.iter().filter(|v| **v == 0.0).count() as f64;
        let got = measured.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(got, zeros / n);
        assert!(
            (zeros - sparsity * n).abs() <= 1.0,
            "{name}: {zeros} zeros of {n}, planned {sparsity}"
        );
        // The weights kept are the original ones, and the largest magnitudes.
        let old = to_f32(before).unwrap();
        let kept_min = values
            .iter()
            .zip(&old)
            .filter(|(v, _)| **v != 0.0)
            .map(|(v, o)| {
                assert_eq!(v, o);
                o.abs()
            })
            .fold(f32::INFINITY, f32::min);
        let zeroed_max = values
            .iter()
            .zip(&old)
            .filter(|(v, _)| **v == 0.0)
            .map(|(_, o)| o.abs())
            .fold(0.0, f32::max);
        assert!(zeroed_max <= kept_min, "{name}");
    }

    let path = std::env::temp_dir().join(format!("prunekit-export-{}.onnx", std::process::id()));
    crate::save(&proto, &path).unwrap();
    let reloaded = load(&path).unwrap();
    assert_eq!(reloaded.proto, proto);
    let session = ModelSession::from_file(&path, &Default::default());
    let _ = std::fs::remove_file(&path);
    match session {
        Ok(session) => assert_eq!(session.input_names(), ["input"]),
        Err(Error::RuntimeMissing(why)) => eprintln!("skipped the ONNX Runtime load: {why}"),
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn pruned_model_writes_a_constant_node_weight_back_into_its_node() {
    // The transformer block stores ffn.fc2.weight in a Constant node, the others as initializers.
    let model = load(&fixture("transformer_block.onnx")).unwrap();
    let analysis = analyze(&model, &AnalysisOptions::default()).unwrap();
    let layers = analysis
        .layers
        .iter()
        .filter(|l| l.is_prunable)
        .map(|l| LayerPlan {
            name: l.name.clone(),
            weight: l.weight.as_ref().unwrap().name.clone(),
            op_type: l.op_type.clone(),
            params: l.prunable_params,
            sparsity: Some(0.75),
            ..Default::default()
        })
        .collect::<Vec<_>>();
    assert!(layers.iter().any(|l| l.weight == "ffn.fc2.weight"));
    let (proto, measured) = pruned_model(&model, &plan(layers, schedule_e90())).unwrap();
    let graph = proto.graph.as_ref().unwrap();
    let original = model.graph();
    assert_eq!(graph.node.len(), original.node.len());
    assert_eq!(graph.initializer.len(), original.initializer.len());
    assert!(
        measured.iter().all(|(_, s)| (s - 0.75).abs() < 1e-3),
        "{measured:?}"
    );
    let node = graph
        .node
        .iter()
        .find(|n| n.op_type() == "Constant" && n.output[0] == "ffn.fc2.weight")
        .expect("the weight stays in its Constant node");
    let values = to_f32(crate::model::attr::tensor(node, "value").unwrap()).unwrap();
    let zeros = values.iter().filter(|v| **v == 0.0).count();
    assert_eq!(zeros, values.len() * 3 / 4);
}

#[test]
fn pruned_model_refuses_unknown_and_non_float_weights() {
    let (model, _, mut plan) = digits();
    plan.layers[1].weight = "conv9.weight".into();
    let err = pruned_model(&model, &plan).unwrap_err().to_string();
    assert!(
        err.contains("'conv9.weight'") && err.ends_with('.'),
        "{err}"
    );

    let (mut model, _, plan) = digits();
    let graph = model.proto.graph.as_mut().unwrap();
    let fc1 = graph
        .initializer
        .iter_mut()
        .find(|t| t.name.as_deref() == Some("fc1.weight"))
        .unwrap();
    fc1.data_type = Some(crate::model::onnx::data_type::DOUBLE);
    let err = pruned_model(&model, &plan).unwrap_err().to_string();
    assert!(err.contains("float32"), "{err}");
}

#[test]
fn code_templates_compile() {
    let integration = pytorch_integration("digits \"v2\".recipe.yaml");
    let training = pytorch_training("digits.recipe.yaml");
    for text in [&integration, &training] {
        assert!(text.contains("ScheduledModifierManager.from_yaml(RECIPE_PATH)"));
        assert!(text.contains("manager.modify(model, optimizer, steps_per_epoch="));
        assert!(text.contains("named_parameters()"));
        assert!(text.contains("NotImplementedError"));
    }
    assert!(integration.contains(r#"RECIPE_PATH = "digits \"v2\".recipe.yaml""#));
    assert!(training.contains("manager.finalize(model)"));
    assert!(training.contains("export_onnx"));
    let Some(python) = python(false) else { return };
    // py_compile checks the syntax; pyflakes, when installed, also finds undefined names.
    let script = r#"
import sys
source = sys.stdin.read()
compile(source, "template.py", "exec")
# Every name read is bound somewhere in the file or is a builtin (a coarse check, scopes merged).
import ast, builtins
tree = ast.parse(source)
bound, read = set(dir(builtins)), set()
for node in ast.walk(tree):
    if isinstance(node, ast.Name):
        (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
    elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        bound.add(node.name)
    elif isinstance(node, ast.arg):
        bound.add(node.arg)
    elif isinstance(node, ast.alias):
        bound.add((node.asname or node.name).split(".")[0])
if read - bound:
    sys.exit("undefined names: " + ", ".join(sorted(read - bound)))
try:
    import pyflakes.api
    from pyflakes.reporter import Reporter
    import io
    out = io.StringIO()
    if pyflakes.api.check(source, "template.py", Reporter(out, out)):
        sys.exit(out.getvalue())
except ImportError:
    pass
"#;
    for text in [&integration, &training] {
        let (ok, out) = run_python(&python, script, text);
        assert!(ok, "{out}\n{text}");
    }
}

/// llm-compressor's `Recipe.from_dict`: only `*_stage` keys, in them only `*_modifiers` keys,
/// each a mapping of class name to arguments; prints `[[stage, group, class, {arg: [type, value]}]]`.
const LOAD_LIKE_LLM_COMPRESSOR: &str = r#"
import json, sys
import yaml
doc = yaml.safe_load(sys.stdin.read())
out = []
for stage_key, stage in doc.items():
    if stage_key.endswith("_stage") and isinstance(stage, dict):
        for group_key, group in stage.items():
            if group_key.endswith("_modifiers") and isinstance(group, dict):
                for cls, args in group.items():
                    out.append([stage_key[:-6], group_key[:-10], cls,
                                {k: [type(v).__name__, v] for k, v in args.items()}])
print(json.dumps(out))
"#;

type LlmModifier = (String, String, String, Fields);

fn load_like_llm_compressor(text: &str) -> Option<Vec<LlmModifier>> {
    let python = python(false)?;
    let (ok, out) = run_python(&python, LOAD_LIKE_LLM_COMPRESSOR, text);
    assert!(ok, "{out}");
    let json = out.lines().rfind(|l| l.starts_with('[')).unwrap();
    Some(serde_json::from_str(json).unwrap())
}

#[test]
fn llm_compressor_recipe_loads_as_llm_compressor_reads_it() {
    use crate::export::llm_compressor::{self, OneShot};
    let (_, _, mut plan) = digits();
    plan.quantization = Some(quantization(
        QuantMode::Static,
        true,
        &[("/conv1/Conv", "conv1.weight")],
    ));
    let text = llm_compressor::recipe_text(&plan, &OneShot::default(), "digits_cnn.onnx");
    let Some(mods) = load_like_llm_compressor(&text) else {
        return;
    };
    let classes: Vec<(&str, &str, &str)> = mods
        .iter()
        .map(|(s, g, c, _)| (s.as_str(), g.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        classes,
        [
            ("sparsity", "sparsity_80", "SparseGPTModifier"),
            ("sparsity", "sparsity_90", "SparseGPTModifier"),
            ("quantization", "quantization", "QuantizationModifier"),
        ],
        "{text}"
    );
    let sparsegpt = &mods[0].3;
    assert_eq!(
        sparsegpt["sparsity"],
        ("float".into(), serde_json::json!(0.8))
    );
    assert_eq!(sparsegpt["mask_structure"].1, "0:0");
    assert_eq!(sparsegpt["targets"].1, serde_json::json!(["conv2", "fc2"]));
    assert_eq!(sparsegpt["block_size"].0, "int");
    assert_eq!(sparsegpt["dampening_frac"].0, "float");
    let quant = &mods[2].3;
    assert_eq!(
        quant["config_groups"].1,
        serde_json::json!({"group_0": {
            "targets": ["Linear", "Conv2d"],
            "weights": {"num_bits": 8, "type": "int", "symmetric": true, "strategy": "channel", "dynamic": false},
            "input_activations": {"num_bits": 8, "type": "int", "symmetric": false, "strategy": "tensor", "dynamic": false}
        }})
    );
    assert_eq!(quant["ignore"].1, serde_json::json!(["conv1"]));
}

#[test]
fn llm_compressor_magnitude_int4_and_dynamic() {
    use crate::export::llm_compressor::{self, OneShot};
    use crate::quantize::{Int4Settings, Rounding};
    use crate::reconstruct::Method;
    let (_, _, mut plan) = digits();
    // Magnitude prunes while training, on the plan's schedule; GPTQ rounding is GPTQModifier.
    plan.quantization = Some(quantization(QuantMode::Int4, true, &[]));
    let one_shot = OneShot {
        method: Method::Magnitude,
        int4: Int4Settings {
            block: 64,
            rounding: Rounding::Gptq,
            symmetric: true,
        },
        ..Default::default()
    };
    let text = llm_compressor::recipe_text(&plan, &one_shot, "m.onnx");
    assert!(text.contains("train(...)"), "{text}");
    let Some(mods) = load_like_llm_compressor(&text) else {
        return;
    };
    let magnitude = &mods[0].3;
    assert_eq!(mods[0].2, "MagnitudePruningModifier");
    assert_eq!(
        magnitude["start"].1,
        serde_json::json!(plan.schedule.pruning_start)
    );
    assert_eq!(
        magnitude["end"].1,
        serde_json::json!(plan.schedule.pruning_end)
    );
    assert_eq!(magnitude["final_sparsity"].1, serde_json::json!(0.8));
    assert_eq!(magnitude["mask_structure"].1, "unstructured");
    let (_, _, class, gptq) = mods.last().unwrap();
    assert_eq!(class, "GPTQModifier");
    assert_eq!(
        gptq["config_groups"].1["group_0"],
        serde_json::json!({
            "targets": ["Linear"],
            "weights": {"num_bits": 4, "type": "int", "symmetric": true, "strategy": "group", "group_size": 64}
        })
    );

    // Dynamic int8: activations quantized at run time.
    plan.quantization = Some(quantization(QuantMode::Dynamic, false, &[]));
    let text = llm_compressor::recipe_text(&plan, &OneShot::default(), "m.onnx");
    let mods = load_like_llm_compressor(&text).unwrap();
    let (_, _, class, quant) = mods.last().unwrap();
    assert_eq!(class, "QuantizationModifier");
    let group = &quant["config_groups"].1["group_0"];
    assert_eq!(group["input_activations"]["dynamic"], true);
    assert_eq!(group["weights"]["strategy"], "tensor");

    // Nothing pruned and nothing quantized: a recipe of no stages, said in a comment.
    plan.quantization = None;
    for layer in &mut plan.layers {
        layer.sparsity = None;
    }
    let text = llm_compressor::recipe_text(&plan, &OneShot::default(), "m.onnx");
    assert!(text.contains("nothing to run"), "{text}");
    assert_eq!(
        load_like_llm_compressor(&text).unwrap(),
        Vec::<LlmModifier>::new()
    );
}

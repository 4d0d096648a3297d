//! The staged layout's rules on small recipes: one case per diagnostic, and what must stay quiet.

use super::*;
use crate::recipe::context::Weight;
use crate::recipe::{Severity, check};

fn diagnostics_with(text: &str, model: Option<&ModelContext>) -> Vec<Diagnostic> {
    let options = CheckOptions {
        model,
        ..Default::default()
    };
    check(text, &options).diagnostics
}

fn diagnostics(text: &str) -> Vec<Diagnostic> {
    diagnostics_with(text, None)
}

fn codes(ds: &[Diagnostic], severity: Severity) -> Vec<&'static str> {
    ds.iter()
        .filter(|d| d.severity == severity)
        .map(|d| d.code)
        .collect()
}

fn errors(text: &str) -> Vec<&'static str> {
    codes(&diagnostics(text), Severity::Error)
}

fn warnings(text: &str) -> Vec<&'static str> {
    codes(&diagnostics(text), Severity::Warning)
}

const SPARSE: &str = "\
sparsity_stage:
  run_type: oneshot
  sparsity_modifiers:
    SparseGPTModifier:
      sparsity: 0.5
      mask_structure: \"2:4\"
      targets: ['re:model.layers.\\d+$']
";

#[test]
fn a_staged_recipe_lowers_into_modifiers_with_stage_and_group() {
    let checked = check(SPARSE, &CheckOptions::default());
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    let recipe = &checked.recipe;
    assert_eq!(recipe.layout, Layout::Staged);
    let m = &recipe.modifiers[0];
    assert_eq!(m.class, "SparseGPTModifier");
    assert_eq!(m.layout, Layout::Staged);
    assert_eq!(m.stage.as_deref(), Some("sparsity_stage"));
    assert_eq!(m.group, "sparsity");
    assert_eq!(m.tag_span.text(SPARSE), "SparseGPTModifier");
    assert_eq!(m.number("sparsity"), Some(0.5));
    assert_eq!(recipe.stages[0].0, "sparsity_stage");
}

#[test]
fn an_unknown_class_gets_a_did_you_mean() {
    let text = SPARSE.replace("SparseGPTModifier", "SparseGTPModifier");
    let ds = diagnostics(&text);
    let d = ds.iter().find(|d| d.code == "unknown-modifier").unwrap();
    assert!(
        d.message.contains("did you mean `SparseGPTModifier`"),
        "{}",
        d.message
    );
    assert_eq!(d.severity, Severity::Error);
}

#[test]
fn a_tagged_class_in_the_staged_layout_is_named_as_such() {
    let text = SPARSE.replace("SparseGPTModifier", "GMPruningModifier");
    let ds = diagnostics(&text);
    let d = ds.iter().find(|d| d.code == "unknown-modifier").unwrap();
    assert!(d.message.contains("tagged recipes"), "{}", d.message);
}

#[test]
fn an_unknown_field_is_an_error_for_llm_compressor() {
    let text = "\
quant_stage:
  quant_modifiers:
    GPTQModifier:
      scheme: W4A16
      dampning_frac: 0.01
";
    let ds = diagnostics(text);
    let d = ds.iter().find(|d| d.code == "unknown-field").unwrap();
    assert_eq!(d.severity, Severity::Error);
    assert!(
        d.message.contains("did you mean `dampening_frac`"),
        "{}",
        d.message
    );
    assert!(
        d.message.contains("llm-compressor rejects it"),
        "{}",
        d.message
    );
}

#[test]
fn an_earlier_sparseml_field_is_a_warning_in_a_sparseml_recipe() {
    let text = SPARSE.replace(
        "      sparsity: 0.5\n",
        "      sparsity: 0.5\n      percdamp: 0.01\n",
    );
    let ds = diagnostics(&text);
    let d = ds.iter().find(|d| d.code == "unknown-field").unwrap();
    assert_eq!(d.severity, Severity::Warning, "{d:?}");
    assert!(
        d.message.contains("write `dampening_frac`"),
        "{}",
        d.message
    );
}

#[test]
fn a_field_only_sparseml_reads_is_an_error_in_an_llm_compressor_recipe() {
    let text = "\
quant_stage:
  quant_modifiers:
    GPTQModifier:
      scheme: W4A16
      actorder: group
      quantize: true
";
    let ds = diagnostics(text);
    let d = ds
        .iter()
        .find(|d| d.code == "staged-tool" && d.message.contains("`quantize`"));
    // Both tools' own fields: the recipe is mixed, so each is a warning naming the other tool.
    assert_eq!(d.unwrap().severity, Severity::Warning, "{ds:?}");
}

#[test]
fn sparsity_and_mask_structure_follow_the_validators() {
    let text = SPARSE
        .replace("sparsity: 0.5", "sparsity: 1.5")
        .replace("\"2:4\"", "\"4:2\"");
    assert_eq!(errors(&text), ["range", "range"]);
    let text = SPARSE.replace("\"2:4\"", "unstructured");
    assert_eq!(errors(&text), ["enum"]);
    // Unquoted, YAML 1.1 reads 2:4 as the base-60 integer 124.
    let text = SPARSE.replace("\"2:4\"", "2:4");
    assert_eq!(errors(&text), ["yaml11-trap"]);
    let text = SPARSE.replace("SparseGPTModifier", "MagnitudePruningModifier");
    assert!(errors(&text).contains(&"missing-field"));
}

#[test]
fn owl_needs_all_three_fields() {
    let text = SPARSE.replace(
        "sparsity: 0.5",
        "sparsity: 0.5\n      sparsity_profile: owl",
    );
    assert_eq!(errors(&text), ["owl"]);
}

#[test]
fn schemes_are_checked_against_the_presets_and_config_groups_keys() {
    let text = "\
quant_stage:
  quant_modifiers:
    QuantizationModifier:
      scheme: W4A61
      targets: Linear
";
    assert_eq!(errors(text), ["quantization-scheme"]);
    let text = "\
quant_stage:
  quant_modifiers:
    QuantizationModifier:
      config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 4, type: int, symetric: true, strategy: grup}
";
    assert_eq!(errors(text), ["quantization-scheme", "enum"]);
}

#[test]
fn keys_the_loaders_drop_are_warnings() {
    let text = "\
sparsity:
  pruning_modifiers:
    ConstantPruningModifier: {targets: __ALL__}
quant_stage:
  quant_modifier:
    QuantizationModifier: {scheme: W8A8}
  colour: blue
  quant_modifiers:
    GPTQModifier: {scheme: W4A16}
";
    let ds = diagnostics(text);
    let dropped: Vec<&Diagnostic> = ds.iter().filter(|d| d.code == "staged-ignored").collect();
    assert_eq!(dropped.len(), 3, "{ds:?}");
    assert!(dropped.iter().all(|d| d.severity == Severity::Warning));
    assert!(
        dropped[0].message.contains("rename it `sparsity_stage`"),
        "{}",
        dropped[0].message
    );
    assert!(
        dropped[1].message.contains("rename it `quant_modifiers`"),
        "{}",
        dropped[1].message
    );
    assert!(
        dropped[2].message.contains("`colour`"),
        "{}",
        dropped[2].message
    );
    // Only the groups the loaders read become modifiers.
    let recipe = check(text, &CheckOptions::default()).recipe;
    let classes: Vec<&str> = recipe.modifiers.iter().map(|m| m.class.as_str()).collect();
    assert_eq!(classes, ["GPTQModifier"]);
}

#[test]
fn tagged_and_staged_layouts_do_not_mix() {
    let text = "\
modifiers:
  - !GMPruningModifier
    params: __ALL_PRUNABLE__
quant_stage:
  quant_modifiers:
    QuantizationModifier: {scheme: W8A8}
";
    assert!(
        errors(text).contains(&"staged-mix"),
        "{:?}",
        diagnostics(text)
    );
}

#[test]
fn awq_needs_a_quantizer_after_it() {
    let text = "\
quant_stage:
  quant_modifiers:
    AWQModifier: {duo_scaling: both}
";
    assert!(errors(text).contains(&"staged-order"));
    let text = format!("{text}    QuantizationModifier: {{scheme: W4A16_ASYM}}\n");
    assert!(errors(&text).is_empty(), "{:?}", diagnostics(&text));
}

#[test]
fn smoothquant_runs_only_in_one_shot() {
    let text = "\
smooth_stage:
  smooth_modifiers:
    SmoothQuantModifier: {smoothing_strength: 0.8, end: 2.0}
";
    assert_eq!(errors(text), ["schedule"]);
}

#[test]
fn a_run_type_is_oneshot_or_train() {
    let text = SPARSE.replace("run_type: oneshot", "run_type: one-shot");
    assert_eq!(errors(&text), ["enum"]);
}

fn weight(name: &str) -> Weight {
    Weight {
        name: name.into(),
        is_prunable: true,
        ..Default::default()
    }
}

#[test]
fn targets_and_ignore_are_checked_against_the_model() {
    let model = ModelContext {
        name: "m.onnx".into(),
        weights: vec![
            weight("model.layers.0.self_attn.q_proj.weight"),
            weight("model.layers.0.mlp.up_proj.weight"),
            weight("lm_head.weight"),
        ],
        ..Default::default()
    };
    let text = "\
quant_stage:
  quant_modifiers:
    GPTQModifier:
      scheme: W4A16
      targets: [Linear, 're:.*q_proj', model.layers.0, 're:decoder.*']
      ignore: [lm_head, lm_haed]
";
    let ds = diagnostics_with(text, Some(&model));
    let unknown: Vec<&Diagnostic> = ds.iter().filter(|d| d.code == "unknown-module").collect();
    assert_eq!(unknown.len(), 2, "{ds:?}");
    assert!(
        unknown[0]
            .message
            .contains("`re:decoder.*` matches no module"),
        "{}",
        unknown[0].message
    );
    assert!(
        unknown[1].message.contains("did you mean `lm_head`"),
        "{}",
        unknown[1].message
    );
}

#[test]
fn the_did_you_mean_of_a_module_is_always_the_same() {
    let model = ModelContext {
        name: "m.onnx".into(),
        weights: ["conv1.weight", "conv2.weight", "conv3.weight"]
            .map(weight)
            .to_vec(),
        ..Default::default()
    };
    let text = "\
sparsity_stage:
  sparsity_modifiers:
    SparseGPTModifier:
      sparsity: 0.5
      targets: [conv9]
";
    // conv1, conv2 and conv3 are all one edit away: the first in name order, every time.
    for _ in 0..20 {
        let ds = diagnostics_with(text, Some(&model));
        let unknown: Vec<&Diagnostic> = ds.iter().filter(|d| d.code == "unknown-module").collect();
        let [d] = unknown.as_slice() else {
            panic!("{ds:?}")
        };
        assert!(
            d.message.ends_with("did you mean `conv1`?"),
            "{}",
            d.message
        );
    }
}

#[test]
fn target_weights_are_those_under_a_name_or_a_pattern() {
    let model = ModelContext {
        name: "m.onnx".into(),
        weights: vec![
            weight("model.layers.0.self_attn.q_proj.weight"),
            weight("model.layers.0.self_attn.q_proj.bias"),
            weight("model.layers.0.mlp.up_proj.weight"),
            weight("lm_head.weight"),
        ],
        ..Default::default()
    };
    let names = |entry: &str| -> Vec<&str> {
        target_weights(entry, &model)
            .iter()
            .map(|w| w.name.as_str())
            .collect()
    };
    assert_eq!(
        names("model.layers.0.self_attn.q_proj"),
        [
            "model.layers.0.self_attn.q_proj.weight",
            "model.layers.0.self_attn.q_proj.bias"
        ]
    );
    assert_eq!(names("model.layers.0").len(), 3);
    assert_eq!(names("lm_head.weight"), ["lm_head.weight"]);
    assert_eq!(names("re:.*up_proj"), ["model.layers.0.mlp.up_proj.weight"]);
    // Anchored at the start, as re.match; a module name is not a prefix match.
    assert!(names("re:up_proj").is_empty());
    assert!(names("model.layers").len() == 3 && names("model.lay").is_empty());
    assert!(names("Linear").is_empty() && names("re:(").is_empty());
}

#[test]
fn the_target_follows_what_only_one_tool_reads() {
    let recipe = |text: &str| check(text, &CheckOptions::default()).recipe;
    assert_eq!(target(&recipe(SPARSE)), Target::Only(Tool::SparseMl17));
    let plain = SPARSE.replace("  run_type: oneshot\n", "");
    assert_eq!(target(&recipe(&plain)), Target::Either);
    let llmc = plain.replace(
        "      sparsity: 0.5\n",
        "      sparsity: 0.5\n      offload_hessians: true\n",
    );
    assert_eq!(target(&recipe(&llmc)), Target::Only(Tool::LlmCompressor));
}

#[test]
fn warnings_of_a_clean_recipe_are_none() {
    assert!(warnings(SPARSE).is_empty());
}

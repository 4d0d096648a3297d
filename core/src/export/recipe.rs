//! The recipe of a pruning plan, laid out as SparseML serialises one: a modeline naming the
//! model, `version: 1.1.0`, then the modifiers sorted by end epoch (−1 last), start epoch and
//! class, each with its properties in alphabetical order.
//! Unlike SparseML, lists are YAML flow lists with quoted names, booleans are lower case and floats
//! are always decimals with a dot, so that PyYAML's YAML 1.1 rules read every number as a float.
//!
//! A plan with static int8 quantization gets SparseML's (1.4+) `QuantizationModifier` for
//! quantization-aware training at the end of fine-tuning; dynamic quantization needs no training,
//! so its recipe only says, in a comment, that `export model` applies it.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::optimize::plan::{LrModifier, PruningPlan};
use crate::quantize::{QuantMode, QuantizationPlan};
use crate::recipe::check::is_generated_name;
use crate::recipe::quantization::module_name;

/// One modifier before layout: its class, its schedule (for sorting) and its properties.
struct Modifier {
    class: &'static str,
    start: f64,
    end: f64,
    props: Vec<(&'static str, String)>,
}

/// A float as YAML 1.1 reads a float: decimal digits with a dot, never an exponent (`1e-7` is a
/// string for PyYAML) and never a bare integer (`0` is an int, which sparsity fields refuse).
pub fn yaml_float(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            ".nan".into()
        } else if x > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let x = if x == 0.0 { 0.0 } else { x };
    // `Display` for f64 prints the shortest decimal that reads back exactly, with no exponent.
    let text = format!("{x}");
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

/// A YAML single-quoted scalar: only the quote itself needs escaping (doubled).
pub(super) fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A YAML flow list of quoted names.
pub(super) fn flow_list(names: &[&str]) -> String {
    let items: Vec<String> = names.iter().map(|n| quoted(n)).collect();
    format!("[{}]", items.join(", "))
}

/// SparseML's update frequency: 0 (or less) means "every step", written −1.
fn update_frequency(value: f64) -> f64 {
    if value > 0.0 { value } else { -1.0 }
}

/// The planned layers, grouped by sparsity (ascending), each group's weights in plan order.
/// Layers left dense (`None`) or at sparsity 0 are omitted.
pub(super) fn sparsity_groups(plan: &PruningPlan) -> Vec<(f64, Vec<&str>)> {
    let mut groups: Vec<(f64, Vec<&str>)> = Vec::new();
    for layer in &plan.layers {
        let Some(sparsity) = layer.sparsity.filter(|&s| s > 0.0) else {
            continue;
        };
        match groups.iter_mut().find(|(s, _)| *s == sparsity) {
            Some((_, weights)) => weights.push(&layer.weight),
            None => groups.push((sparsity, vec![&layer.weight])),
        }
    }
    groups.sort_by(|a, b| a.0.total_cmp(&b.0));
    groups
}

/// The scheme of the plan: per-channel weights need a mapping (SparseML's aliases are all per
/// tensor); per-tensor weights are exactly the `default` alias (8-bit asymmetric inputs, 8-bit
/// symmetric weights, one scale per tensor).
fn scheme(quantization: &QuantizationPlan) -> String {
    if quantization.per_channel {
        "{input_activations: {num_bits: 8, symmetric: false}, \
         weights: {num_bits: 8, symmetric: true, strategy: channel}}"
            .into()
    } else {
        "default".into()
    }
}

/// The modules of the layers a quantization leaves float, each once, as a flow list; `None` when
/// it leaves none (SparseML and llm-compressor both name modules in `ignore`).
pub(super) fn ignore_list(quantization: &QuantizationPlan) -> Option<String> {
    let mut ignore: Vec<&str> = Vec::new();
    for layer in &quantization.ignore {
        let module = module_name(&layer.weight);
        if !ignore.contains(&module) {
            ignore.push(module);
        }
    }
    (!ignore.is_empty()).then(|| flow_list(&ignore))
}

/// SparseML's `QuantizationModifier` for a static quantization (dynamic quantization has none).
fn quantization_modifier(quantization: &QuantizationPlan) -> Option<Modifier> {
    if quantization.mode != QuantMode::Static {
        return None;
    }
    let mut props = vec![
        (
            "disable_quantization_observer_epoch",
            yaml_float(quantization.observer_end_epoch),
        ),
        // SparseML's class refuses any other end: quantization is never removed once applied.
        ("end_epoch", yaml_float(-1.0)),
        (
            "freeze_bn_stats_epoch",
            yaml_float(quantization.freeze_bn_epoch),
        ),
        ("scheme", scheme(quantization)),
        ("start_epoch", yaml_float(quantization.start_epoch)),
    ];
    if let Some(ignore) = ignore_list(quantization) {
        props.push(("ignore", ignore));
    }
    Some(Modifier {
        class: "QuantizationModifier",
        start: quantization.start_epoch,
        end: -1.0,
        props,
    })
}

fn modifiers(plan: &PruningPlan) -> Vec<Modifier> {
    let schedule = &plan.schedule;
    let mut mods = Vec::new();
    mods.push(Modifier {
        class: "EpochRangeModifier",
        start: schedule.start_epoch,
        end: schedule.end_epoch,
        props: vec![
            ("end_epoch", yaml_float(schedule.end_epoch)),
            ("start_epoch", yaml_float(schedule.start_epoch)),
        ],
    });
    for (sparsity, weights) in sparsity_groups(plan) {
        mods.push(Modifier {
            class: "GMPruningModifier",
            start: schedule.pruning_start,
            end: schedule.pruning_end,
            props: vec![
                ("end_epoch", yaml_float(schedule.pruning_end)),
                ("final_sparsity", yaml_float(sparsity)),
                ("init_sparsity", yaml_float(schedule.init_sparsity)),
                ("inter_func", "cubic".into()),
                ("leave_enabled", "true".into()),
                ("mask_type", "unstructured".into()),
                ("params", flow_list(&weights)),
                ("start_epoch", yaml_float(schedule.pruning_start)),
                (
                    "update_frequency",
                    yaml_float(update_frequency(schedule.update_frequency)),
                ),
            ],
        });
    }
    for lr in &schedule.lr {
        mods.push(match *lr {
            LrModifier::Set {
                start_epoch,
                learning_rate,
            } => Modifier {
                class: "SetLearningRateModifier",
                start: start_epoch,
                end: -1.0,
                props: vec![
                    ("end_epoch", yaml_float(-1.0)),
                    ("learning_rate", yaml_float(learning_rate)),
                    ("start_epoch", yaml_float(start_epoch)),
                ],
            },
            LrModifier::Step {
                start_epoch,
                end_epoch,
                init_lr,
                step_size,
                gamma,
            } => Modifier {
                class: "LearningRateModifier",
                start: start_epoch,
                end: end_epoch,
                props: vec![
                    ("end_epoch", yaml_float(end_epoch)),
                    ("init_lr", yaml_float(init_lr)),
                    ("lr_class", "StepLR".into()),
                    (
                        "lr_kwargs",
                        format!(
                            "{{step_size: {}, gamma: {}}}",
                            yaml_float(step_size),
                            yaml_float(gamma)
                        ),
                    ),
                    ("start_epoch", yaml_float(start_epoch)),
                    ("update_frequency", yaml_float(-1.0)),
                ],
            },
        });
    }
    if let Some(quantization) = plan.quantization.as_ref().and_then(quantization_modifier) {
        mods.push(quantization);
    }
    // SparseML's order: by end epoch with −1 ("never ends") last, then start epoch, then class.
    // Ties between pruning modifiers keep ascending sparsity (SparseML breaks them with an md5 of
    // the properties, which carries no meaning).
    let end_key = |end: f64| if end < 0.0 { f64::INFINITY } else { end };
    mods.sort_by(|a, b| {
        end_key(a.end)
            .total_cmp(&end_key(b.end))
            .then(a.start.total_cmp(&b.start))
            .then(a.class.cmp(b.class))
    });
    for m in &mut mods {
        m.props.sort_by_key(|(key, _)| *key);
    }
    mods
}

/// Why a plan with dynamic quantization has no `QuantizationModifier`, for the recipe's reader.
const DYNAMIC_NOTE: &str = "# Dynamic int8 quantization needs no training: `export model` applies it to the \
     trained model, so this recipe has no QuantizationModifier.\n";

/// Why a plan with int4 weight-only quantization has no `QuantizationModifier`.
const INT4_NOTE: &str = "# Int4 weight-only quantization (MatMul and Gemm weights in 4-bit blocks, ONNX Runtime's \
     MatMulNBits) needs no training: `export model` applies it to the trained model, so this recipe \
     has no QuantizationModifier.\n";

/// The recipe of `plan`, with a modeline naming the model relative to the recipe's folder.
pub fn recipe_text(plan: &PruningPlan, model_relative_path: &str) -> String {
    let mut out = format!(
        "# prunekit: model={}\n",
        model_relative_path.replace('\\', "/")
    );
    if plan
        .quantization
        .as_ref()
        .is_some_and(|q| q.mode == QuantMode::Dynamic)
    {
        out.push_str(DYNAMIC_NOTE);
    }
    if plan
        .quantization
        .as_ref()
        .is_some_and(|q| q.mode == QuantMode::Int4)
    {
        out.push_str(INT4_NOTE);
    }
    out.push_str("version: 1.1.0\n\nmodifiers:\n");
    for (i, m) in modifiers(plan).iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("    - !{}\n", m.class));
        for (key, value) in &m.props {
            out.push_str(&format!("        {key}: {value}\n"));
        }
    }
    out
}

/// Whether an initializer name was made up by an exporter rather than kept from the framework:
/// all digits (`2425`), `onnx::MatMul_99`, or a node-path name such as `/layer/MatMul`.
fn looks_generated(name: &str) -> bool {
    is_generated_name(name) || name.starts_with('/')
}

/// The (layer, weight) names a static quantization's `ignore` writes: empty for none or dynamic.
pub(super) fn ignored_layers(plan: &PruningPlan) -> impl Iterator<Item = (&str, &str)> {
    plan.quantization
        .iter()
        .filter(|q| q.mode == QuantMode::Static)
        .flat_map(|q| &q.ignore)
        .map(|l| (l.name.as_str(), l.weight.as_str()))
}

/// The weight names the recipe would carry that will not match the framework's parameter names
/// (names such as `onnx::Conv_12` that the ONNX exporter made up; Sparsify's issue #58), in plan order (pruned layers, then layers left unquantized);
/// empty when every name looks kept.
pub fn generated_names(plan: &PruningPlan) -> Vec<String> {
    let pruned = plan
        .layers
        .iter()
        .filter(|l| l.sparsity.is_some_and(|s| s > 0.0))
        .map(|l| l.weight.as_str());
    let ignored = ignored_layers(plan).map(|(_, weight)| weight);
    let mut names: Vec<String> = Vec::new();
    for weight in pruned.chain(ignored) {
        if looks_generated(weight) && !names.iter().any(|n| n == weight) {
            names.push(weight.to_string());
        }
    }
    names
}

/// Renames weights for the recipe (`--names MAP.json`): each key is a weight's ONNX initializer
/// name (or its layer's name), each value the framework's parameter name to write in `params`
/// (and, for layers left unquantized, in `ignore` without its `.weight`).
/// Rename a copy of the plan: the pruned model still needs the ONNX names.
pub fn apply_names(plan: &mut PruningPlan, map: &BTreeMap<String, String>) -> Result<()> {
    let unknown: Vec<&str> = map
        .keys()
        .filter(|key| {
            let named = |(layer, weight): (&str, &str)| weight == *key || layer == *key;
            !plan
                .layers
                .iter()
                .map(|l| (l.name.as_str(), l.weight.as_str()))
                .chain(ignored_layers(plan))
                .any(named)
        })
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = plan
            .layers
            .iter()
            .take(3)
            .map(|l| l.weight.as_str())
            .collect();
        return Err(Error::Usage(format!(
            "the names map has {} {} that {} no weight or layer of this plan ({}); its keys must be ONNX initializer names such as {}.",
            unknown.len(),
            if unknown.len() == 1 { "key" } else { "keys" },
            if unknown.len() == 1 { "names" } else { "name" },
            unknown
                .iter()
                .map(|k| quoted(k))
                .collect::<Vec<_>>()
                .join(", "),
            if known.is_empty() {
                "'conv1.weight'".to_string()
            } else {
                known
                    .iter()
                    .map(|k| quoted(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    }
    if let Some((key, _)) = map.iter().find(|(_, value)| value.trim().is_empty()) {
        return Err(Error::Usage(format!(
            "the names map gives an empty name for {}; give the framework's parameter name, such as 'conv1.weight'.",
            quoted(key)
        )));
    }
    for layer in &mut plan.layers {
        if let Some(new) = map.get(&layer.weight).or_else(|| map.get(&layer.name)) {
            layer.weight = new.clone();
        }
    }
    if let Some(quantization) = &mut plan.quantization {
        for layer in &mut quantization.ignore {
            if let Some(new) = map.get(&layer.weight).or_else(|| map.get(&layer.name)) {
                layer.weight = new.clone();
            }
        }
    }
    Ok(())
}

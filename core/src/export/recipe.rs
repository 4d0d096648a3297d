//! The recipe of a pruning plan, laid out as SparseML serialises one (`sparsify.md` §7,
//! `recipes.md` §11): a modeline naming the model, `version: 1.1.0`, then the modifiers sorted by
//! end epoch (−1 last), start epoch and class, each with its properties in alphabetical order.
//! Unlike SparseML, lists are YAML flow lists with quoted names, booleans are lower case and floats
//! are always decimals with a dot, so that PyYAML's YAML 1.1 rules read every number as a float.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::optimize::plan::{LrModifier, PruningPlan};
use crate::recipe::check::is_generated_name;

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
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A YAML flow list of quoted names.
fn flow_list(names: &[&str]) -> String {
    let items: Vec<String> = names.iter().map(|n| quoted(n)).collect();
    format!("[{}]", items.join(", "))
}

/// SparseML's update frequency: 0 (or less) means "every step", written −1.
fn update_frequency(value: f64) -> f64 {
    if value > 0.0 { value } else { -1.0 }
}

/// The planned layers, grouped by sparsity (ascending), each group's weights in plan order.
/// Layers left dense (`None`) or at sparsity 0 are omitted.
fn sparsity_groups(plan: &PruningPlan) -> Vec<(f64, Vec<&str>)> {
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

/// The recipe of `plan`, with a modeline naming the model relative to the recipe's folder.
pub fn recipe_text(plan: &PruningPlan, model_relative_path: &str) -> String {
    let mut out = format!(
        "# prunekit: model={}\nversion: 1.1.0\n\nmodifiers:\n",
        model_relative_path.replace('\\', "/")
    );
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

/// The weight names the recipe would carry that will not match the framework's parameter names
/// (`sparsify.md` §12, issue #58), in plan order; empty when every name looks kept.
pub fn generated_names(plan: &PruningPlan) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for layer in plan
        .layers
        .iter()
        .filter(|l| l.sparsity.is_some_and(|s| s > 0.0))
    {
        if looks_generated(&layer.weight) && !names.contains(&layer.weight) {
            names.push(layer.weight.clone());
        }
    }
    names
}

/// Renames weights for the recipe (`--names MAP.json`): each key is a weight's ONNX initializer
/// name (or its layer's name), each value the framework's parameter name to write in `params`.
/// Rename a copy of the plan: the pruned model still needs the ONNX names.
pub fn apply_names(plan: &mut PruningPlan, map: &BTreeMap<String, String>) -> Result<()> {
    let unknown: Vec<&str> = map
        .keys()
        .filter(|key| {
            !plan
                .layers
                .iter()
                .any(|l| &l.weight == *key || &l.name == *key)
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
        let new = map.get(&layer.weight).or_else(|| map.get(&layer.name));
        if let Some(new) = new {
            layer.weight = new.clone();
        }
    }
    Ok(())
}

//! The recipe of a pruning plan for llm-compressor (SparseML's maintained successor), in its
//! staged layout: `<stage>_stage:` mappings of `<group>_modifiers:` mappings of
//! `ClassName: {arguments}`. llm-compressor reads only keys that end in `_stage` and `_modifiers`,
//! and a class name is a mapping key, so a group holds each class once: the plan's sparsities
//! become one group each.
//!
//! What the plan says and how it is written:
//! - one-shot pruning by SparseGPT or Wanda: `SparseGPTModifier` / `WandaPruningModifier` with
//!   the group's `sparsity`, the `mask_structure` (`"0:0"` unstructured, `"N:M"`) and `targets`
//!   naming the layers' modules (a weight's name without `.weight`);
//! - magnitude pruning, which llm-compressor only runs while training: `MagnitudePruningModifier`
//!   on the plan's schedule (`start`/`end` in epochs, `init_sparsity` to the layer's sparsity);
//! - int8 (static or dynamic) and int4 weight-only quantization: a `QuantizationModifier` (or
//!   `GPTQModifier` for int4 with GPTQ rounding) with explicit `config_groups` that say what
//!   `export model` does in ONNX Runtime: bits, symmetry, per-channel / per-block scales, static
//!   or dynamic activations, and the layers left in float as `ignore`.

use crate::optimize::plan::PruningPlan;
use crate::quantize::{Int4Settings, QuantMode, QuantizationPlan, Rounding};
use crate::recipe::quantization::module_name;
use crate::reconstruct::{Method, Pattern, SparseGptSettings};

use super::recipe::{flow_list, ignore_list, quoted, sparsity_groups, yaml_float};

/// How `export model` would prune and quantize the plan, which the recipe carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneShot {
    pub method: Method,
    pub pattern: Pattern,
    /// For an int4 plan: block size, symmetry, and rounding (RTN or GPTQ).
    pub int4: Int4Settings,
}

impl Default for OneShot {
    fn default() -> Self {
        OneShot {
            method: Method::SparseGpt,
            pattern: Pattern::Unstructured,
            int4: Int4Settings::default(),
        }
    }
}

/// A modifier: its class and its arguments, each already YAML text.
struct Modifier {
    class: &'static str,
    args: Vec<(&'static str, String)>,
}

/// A `<group>_modifiers:` key with its modifiers.
struct Group {
    name: String,
    modifiers: Vec<Modifier>,
}

/// `sparsity_50` for 0.5, `sparsity_72_5` for 0.725, `sparsity_2_4` for a 2:4 pattern: names
/// that say what the group prunes and stay unique per sparsity.
fn group_name(sparsity: f64, pattern: Pattern) -> String {
    match pattern {
        Pattern::NofM { n, m } => format!("sparsity_{n}_{m}"),
        Pattern::Unstructured => {
            let percent = format!("{}", (sparsity * 1e6).round() / 1e4);
            format!("sparsity_{}", percent.replace('.', "_"))
        }
    }
}

fn mask_structure(pattern: Pattern) -> String {
    match pattern {
        Pattern::Unstructured => quoted("0:0"),
        Pattern::NofM { n, m } => quoted(&format!("{n}:{m}")),
    }
}

/// The pruning modifier of one group of layers at one sparsity.
fn pruning_modifier(
    plan: &PruningPlan,
    one_shot: &OneShot,
    sparsity: f64,
    weights: &[&str],
) -> Modifier {
    let targets: Vec<&str> = weights.iter().map(|w| module_name(w)).collect();
    let targets = flow_list(&targets);
    match one_shot.method {
        Method::SparseGpt => Modifier {
            class: "SparseGPTModifier",
            args: vec![
                ("sparsity", yaml_float(sparsity)),
                ("mask_structure", mask_structure(one_shot.pattern)),
                ("targets", targets),
                // prunekit's own SparseGPT settings, which `export model` uses.
                ("block_size", SparseGptSettings::default().block.to_string()),
                (
                    "dampening_frac",
                    yaml_float(SparseGptSettings::default().damp),
                ),
            ],
        },
        Method::Wanda => Modifier {
            class: "WandaPruningModifier",
            args: vec![
                ("sparsity", yaml_float(sparsity)),
                ("mask_structure", mask_structure(one_shot.pattern)),
                ("targets", targets),
            ],
        },
        Method::Magnitude => {
            let schedule = &plan.schedule;
            let structure = match one_shot.pattern {
                Pattern::Unstructured => quoted("unstructured"),
                other => mask_structure(other),
            };
            Modifier {
                class: "MagnitudePruningModifier",
                args: vec![
                    (
                        "init_sparsity",
                        yaml_float(schedule.init_sparsity.min(sparsity)),
                    ),
                    ("final_sparsity", yaml_float(sparsity)),
                    ("mask_structure", structure),
                    ("targets", targets),
                    ("start", yaml_float(schedule.pruning_start)),
                    ("end", yaml_float(schedule.pruning_end)),
                    ("update_scheduler", quoted("cubic")),
                ],
            }
        }
    }
}

/// Pruning groups: one per sparsity, or one for every pruned layer under an N:M pattern (the
/// pattern fixes each layer's sparsity at N/M).
fn pruning_groups(plan: &PruningPlan, one_shot: &OneShot) -> Vec<Group> {
    match one_shot.pattern {
        Pattern::NofM { n, m } => {
            // Every pruned layer, in the plan's order.
            let weights: Vec<&str> = plan
                .layers
                .iter()
                .filter(|l| l.sparsity.is_some_and(|s| s > 0.0))
                .map(|l| l.weight.as_str())
                .collect();
            if weights.is_empty() {
                return Vec::new();
            }
            let sparsity = n as f64 / m as f64;
            vec![Group {
                name: group_name(sparsity, one_shot.pattern),
                modifiers: vec![pruning_modifier(plan, one_shot, sparsity, &weights)],
            }]
        }
        Pattern::Unstructured => sparsity_groups(plan)
            .into_iter()
            .map(|(sparsity, weights)| Group {
                name: group_name(sparsity, one_shot.pattern),
                modifiers: vec![pruning_modifier(plan, one_shot, sparsity, &weights)],
            })
            .collect(),
    }
}

/// PyTorch module classes of the layers a quantization covers: int8 takes convolutions and
/// fully connected layers, int4 only the fully connected ones (ONNX Runtime's MatMulNBits).
fn module_classes(plan: &PruningPlan, mode: QuantMode) -> Vec<&'static str> {
    let mut classes = vec!["Linear"];
    if mode != QuantMode::Int4 && plan.layers.iter().any(|l| l.op_type == "Conv") {
        classes.push("Conv2d");
    }
    classes
}

/// compressed-tensors' quantization arguments as a YAML flow mapping.
fn quantization_args(bits: u32, symmetric: bool, strategy: &str, extra: &str) -> String {
    format!("{{num_bits: {bits}, type: int, symmetric: {symmetric}, strategy: {strategy}{extra}}}")
}

fn quantization_modifier(
    plan: &PruningPlan,
    q: &QuantizationPlan,
    int4: &Int4Settings,
) -> Modifier {
    let targets = flow_list(&module_classes(plan, q.mode));
    let weight_strategy = if q.per_channel { "channel" } else { "tensor" };
    let (class, weights, activations) = match q.mode {
        QuantMode::Static => (
            "QuantizationModifier",
            quantization_args(8, true, weight_strategy, ", dynamic: false"),
            Some(quantization_args(8, false, "tensor", ", dynamic: false")),
        ),
        QuantMode::Dynamic => (
            "QuantizationModifier",
            quantization_args(8, true, weight_strategy, ", dynamic: false"),
            Some(quantization_args(8, false, "tensor", ", dynamic: true")),
        ),
        QuantMode::Int4 => (
            match int4.rounding {
                Rounding::Gptq => "GPTQModifier",
                Rounding::Rtn => "QuantizationModifier",
            },
            quantization_args(
                4,
                int4.symmetric,
                "group",
                &format!(", group_size: {}", int4.block),
            ),
            None,
        ),
    };
    // A block mapping, one line per part, indented under `config_groups:` by the writer.
    let mut group = format!("group_0:\n    targets: {targets}\n    weights: {weights}");
    if let Some(activations) = activations {
        group.push_str(&format!("\n    input_activations: {activations}"));
    }
    let mut args = vec![("config_groups", group)];
    if let Some(ignore) = ignore_list(q) {
        args.push(("ignore", ignore));
    }
    Modifier { class, args }
}

/// What the reader of the recipe needs before running it.
fn header(plan: &PruningPlan, one_shot: &OneShot, model_relative_path: &str) -> String {
    let mut out = format!(
        "# prunekit: model={}\n",
        model_relative_path.replace('\\', "/")
    );
    out.push_str(
        "# For llm-compressor: oneshot(model=..., dataset=..., recipe=\"<this file>\") runs it on the\n\
         # PyTorch model; `targets` name its modules (ONNX weight names without `.weight`).\n",
    );
    if one_shot.method == Method::Magnitude {
        out.push_str(
            "# Magnitude pruning runs while training in llm-compressor (train(...), not oneshot): the\n\
             # schedule's `start` and `end` are epochs.\n",
        );
    }
    if plan
        .quantization
        .as_ref()
        .is_some_and(|q| q.mode == QuantMode::Static)
    {
        out.push_str(
            "# Static int8 quantization calibrates its activation ranges on the dataset.\n",
        );
    }
    out
}

/// The llm-compressor recipe of `plan`, pruned and quantized as `one_shot` says, with a
/// modeline naming the model relative to the recipe's folder.
pub fn recipe_text(plan: &PruningPlan, one_shot: &OneShot, model_relative_path: &str) -> String {
    let mut stages: Vec<(&str, Vec<Group>)> = Vec::new();
    let pruning = pruning_groups(plan, one_shot);
    if !pruning.is_empty() {
        stages.push(("sparsity", pruning));
    }
    if let Some(q) = &plan.quantization {
        stages.push((
            "quantization",
            vec![Group {
                name: "quantization".into(),
                modifiers: vec![quantization_modifier(plan, q, &one_shot.int4)],
            }],
        ));
    }
    let mut out = header(plan, one_shot, model_relative_path);
    if stages.is_empty() {
        // llm-compressor reads a recipe without stages as no modifiers at all.
        out.push_str(
            "# The plan prunes no layer and quantizes nothing: there is nothing to run.\n{}\n",
        );
        return out;
    }
    for (stage, groups) in &stages {
        out.push_str(&format!("{stage}_stage:\n"));
        for group in groups {
            out.push_str(&format!("    {}_modifiers:\n", group.name));
            for modifier in &group.modifiers {
                out.push_str(&format!("        {}:\n", modifier.class));
                for (key, value) in &modifier.args {
                    // A value of several lines is a block mapping under its key.
                    match value.contains('\n') {
                        false => out.push_str(&format!("            {key}: {value}\n")),
                        true => {
                            out.push_str(&format!("            {key}:\n"));
                            for line in value.lines() {
                                out.push_str(&format!("                {line}\n"));
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

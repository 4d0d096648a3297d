//! The accepted string values of enumerated fields (interpolation functions, learning-rate
//! classes, mask types, quantization schemes, ...) and the classes that exist but cannot be used.

use super::types::{Framework, Range};

/// `inter_func` values.
pub const INTER_FUNCS: &[&str] = &["linear", "cubic", "inverse_cubic"];

/// `inter_func` applied to `x = (epoch - start) / (end - start)` in [0, 1]: the fraction of the
/// way from the initial to the final value. `None` for an unknown name.
pub fn inter_func_value(name: &str, x: f64) -> Option<f64> {
    let x = x.clamp(0.0, 1.0);
    match name {
        "linear" => Some(x),
        "cubic" => Some(1.0 - (1.0 - x).powi(3)),
        "inverse_cubic" => Some(1.0 - (1.0 - x).powf(1.0 / 3.0)),
        _ => None,
    }
}

/// An `lr_class` of `LearningRateModifier` and the `lr_kwargs` it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LrClass {
    pub name: &'static str,
    pub required_kwargs: &'static [&'static str],
    pub doc: &'static str,
}

/// `lr_class` names.
pub const LR_CLASS_NAMES: &[&str] = &[
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingWarmRestarts",
];

/// `lr_class` values with their required `lr_kwargs` (optional kwargs are not catalogued).
pub const LR_CLASSES: &[LrClass] = &[
    LrClass {
        name: "StepLR",
        required_kwargs: &["gamma", "step_size"],
        doc: "Multiplies the learning rate by gamma every step_size epochs.",
    },
    LrClass {
        name: "MultiStepLR",
        required_kwargs: &["gamma", "milestones"],
        doc: "Multiplies the learning rate by gamma at each epoch of milestones; milestones must \
              lie strictly between start_epoch and end_epoch.",
    },
    LrClass {
        name: "ExponentialLR",
        required_kwargs: &["gamma"],
        doc: "Multiplies the learning rate by gamma every epoch (rewritten to StepLR with \
              step_size 1.0).",
    },
    LrClass {
        name: "CosineAnnealingWarmRestarts",
        required_kwargs: &["lr_min", "cycle_epochs"],
        doc: "Cosine annealing down to lr_min, restarting every cycle_epochs epochs (mapped to \
              eta_min and T_0).",
    },
];

pub fn lr_class(name: &str) -> Option<&'static LrClass> {
    LR_CLASSES.iter().find(|c| c.name == name)
}

/// `lr_func` values of `LearningRateFunctionModifier`.
pub const LR_FUNCS: &[&str] = &["linear", "cosine", "cyclic_linear"];

/// The fixed strings of PyTorch's `mask_type`; `"N:M"` strings and `[a, b]` lists are
/// accepted too ([`FieldType::MaskType`](super::FieldType::MaskType)).
pub const MASK_TYPES_PYTORCH: &[&str] = &["unstructured", "block4", "tensorrt"];
/// Suggested `"N:M"` value for completion.
pub const MASK_TYPE_N_M_EXAMPLE: &str = "2:4";
/// `StructuredPruningModifier.mask_type`.
pub const MASK_TYPES_STRUCTURED: &[&str] = &["filter", "channel"];
/// `OBSPruningModifier.mask_type`.
pub const MASK_TYPES_OBS: &[&str] = &["unstructured", "block4"];
/// Keras / TF `mask_type` strings; a block list of ints is accepted too.
pub const MASK_TYPES_KERAS_TF: &[&str] = &["unstructured", "channel", "filter"];
/// `LayerThinningModifier.structure_type`.
pub const STRUCTURE_TYPES: &[&str] = &["filter", "channel"];

/// Bare-string tokens of `params` (case-insensitive alone, upper case inside lists).
pub const PARAMS_TOKENS: &[&str] = &["__ALL__", "__ALL_PRUNABLE__"];
/// `init_sparsity: __FROM_PARAM__` starts from the parameter's current sparsity.
pub const FROM_PARAM: &str = "__FROM_PARAM__";
pub(super) const FROM_PARAM_VALUES: &[&str] = &[FROM_PARAM];

/// String aliases of the current `QuantizationModifier.scheme`.
pub const QUANTIZATION_SCHEMES: &[&str] = &["default", "deepsparse", "tensorrt"];
/// Keys of a scheme mapping.
pub const SCHEME_KEYS: &[&str] = &[
    "input_activations",
    "weights",
    "output_activations",
    "target_hardware",
];
/// Keys of one quantization-args mapping inside a scheme.
pub const SCHEME_ARGS_KEYS: &[&str] = &["num_bits", "symmetric", "strategy", "kwargs"];
/// `strategy` values inside quantization args.
pub const QUANTIZATION_STRATEGIES: &[&str] = &["tensor", "channel"];
/// The `num_bits` PyTorch's fake quantization can hold: its observers store int8 / uint8 values
/// (SparseML reads 0 as 8).
pub const QUANTIZATION_BITS: Range = Range::closed(1.0, 8.0);
/// Strings pydantic (v1, which SparseML's scheme classes use) reads as booleans, lower case.
pub const PYDANTIC_BOOL_STRINGS: &[&str] = &[
    "true", "false", "yes", "no", "on", "off", "t", "f", "y", "n", "1", "0",
];

/// Keys every class drops silently since SparseML 0.12.
pub const SILENTLY_DROPPED_FIELDS: &[&str] = &["log_types"];

/// Classes that exist in SparseML's code but cannot be used in a recipe.
pub const UNREGISTERED: &[(&str, Framework, &str)] = &[
    (
        "ASRegModifier",
        Framework::PyTorch,
        "exists in the PyTorch code but is not registered, so it cannot appear in a recipe",
    ),
    (
        "GroupLearningRateModifier",
        Framework::TensorFlow,
        "is internal to TensorFlow v1 (not a recipe class)",
    ),
];

//! The context a recipe is checked against: the model's weights with their layers, shapes and
//! sensitivities, and what the model's project file measured (loss and performance profiles,
//! int8 quantization, saved optimizations). The rules, completion and hover read it; `check`
//! builds it from a model analysis and a project file.

use crate::optimize::PruningPlan;
use crate::profile::loss::{QuantLayerLoss, QuantModelLoss};

/// One weight of the recipe's model, as completion, hover and the `params` rules see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Weight {
    /// The initializer name a recipe's `params` uses.
    pub name: String,
    /// The layer (node) that reads it.
    pub layer: String,
    pub op_type: String,
    pub shape: Vec<i64>,
    pub output_shape: Option<Vec<u64>>,
    pub params: u64,
    pub flops: Option<u64>,
    pub zeroed: u64,
    pub is_prunable: bool,
    /// Why a Conv/Gemm/MatMul weight is not prunable.
    pub reason: Option<String>,
    /// Loss sensitivity of its layer (higher hurts more when pruned): Sparsify's approximated
    /// value from shapes until the model's project file holds a measured loss profile.
    pub sensitivity: Option<f64>,
    /// 1 for the most sensitive prunable weight.
    pub sensitivity_rank: Option<usize>,
    /// Its layer's measured time per run, from the latest performance profile.
    pub ms: Option<f64>,
    /// The estimated time at 90% sparsity on a sparsity-aware engine, from the same profile.
    pub ms_at_90: Option<f64>,
    /// How much quantizing its layer alone to int8 hurts, from the latest loss profile.
    pub quantization: Option<QuantLayerLoss>,
}

/// What the latest loss profile measured of int8 quantization, for the editor.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizationSource {
    /// "one-shot loss profile 'q' (kl divergence)".
    pub source: String,
    /// What the values measure, in words: "kl divergence".
    pub metric: String,
    /// "static int8, per-channel weights, minmax calibration".
    pub setup: String,
    /// The number of layers measured (what ranks count to).
    pub layers: usize,
    /// Every quantizable layer quantized at once.
    pub model: QuantModelLoss,
    /// The float model's accuracy, when the profile's data has labels.
    pub baseline_accuracy: Option<f64>,
}

/// What the recipe's model tells the rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelContext {
    /// For messages: the model's file name.
    pub name: String,
    /// Weights of prunable layers first, then every other named weight or bias.
    pub weights: Vec<Weight>,
    /// Exported without names (`onnx::MatMul_99`, all digits): recipe names may still be right.
    pub has_generated_names: bool,
    /// Where `sensitivity` comes from, when it is measured: "one-shot loss profile 'one-shot'".
    /// `None`: approximated from shapes.
    pub sensitivity_source: Option<String>,
    /// Where `ms` comes from: "performance profile 'baseline' (batch 1)".
    pub perf_source: Option<String>,
    /// The model's optimizations from its project file, the latest first: what the editor's
    /// "apply optimization" action writes.
    pub plans: Vec<(String, PruningPlan)>,
    /// Set when the latest loss profile measured int8 quantization (each weight's
    /// `quantization` then holds its layer's value).
    pub quantization: Option<QuantizationSource>,
}

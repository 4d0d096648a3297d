//! An optimization: the sparsity chosen for each prunable layer, the estimates that follow from it,
//! and the training schedule that gets there. Saved by name in the project file; `export` turns it
//! into a recipe, integration code and a pruned model.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PruningPlan {
    /// The average sparsity asked for, over the prunable params.
    pub target: f64,
    /// The average sparsity reached, over the prunable params (overrides and filters included).
    pub achieved: f64,
    /// 0 optimizes for performance, 1 for loss (Sparsify's `balance_perf_loss`).
    pub balance: f64,
    /// The performance profile used: a profile name, or "flops".
    pub perf: String,
    /// The loss profile used: a profile name, or "approx".
    pub loss: String,
    pub filters: Filters,
    /// User overrides, in the order given; later ones win.
    #[serde(default)]
    pub overrides: Vec<Override>,
    pub layers: Vec<LayerPlan>,
    pub model: ModelEstimate,
    pub schedule: Schedule,
    /// What a reader should know: infeasible targets, layers left out and why.
    #[serde(default)]
    pub notes: Vec<String>,
    /// int8 quantization after pruning (`optimize --quantize`); `None`: the model stays float.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<crate::quantize::QuantizationPlan>,
    /// A structured plan (`optimize` with the channel structure): whole channels removed per
    /// channel group. Its `layers` then give each layer's share of weights removed, and `model`
    /// the estimates of the smaller dense model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<ChannelPlan>,
}

/// Channels removed per channel dependency group, fitted to a speedup or a FLOPs reduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelPlan {
    pub target: super::channels::Target,
    /// Whether the fit reached the target; when not, every group is at its limit.
    pub reached: bool,
    /// The ratio the fit estimates, in the target's unit (time, or FLOPs).
    pub estimated_ratio: f64,
    pub groups: Vec<GroupPlan>,
    /// Groups that cannot be pruned, and why.
    #[serde(default)]
    pub unprunable: Vec<crate::analysis::Skipped>,
    /// The planned architecture timed against the original (with a measured perf profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<MeasuredSpeedup>,
    /// The form whose layer times the fit read: the model quantized this way (the plan's own
    /// int8 quantization), or `None`, the float model. Int8 kernels gain less than float ones from
    /// thin layers, so a plan meant to run in int8 is fitted on int8 times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed_as: Option<crate::quantize::QuantMode>,
}

/// A structured plan's speedup measured in ONNX Runtime: the model with the planned channels
/// removed against the original, at the perf profile's batch and threads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasuredSpeedup {
    /// The planned model over the original, both in the form the fit read (`timed_as`).
    pub speedup: f64,
    pub batch: usize,
    pub threads: Option<usize>,
    /// Where both were quantized: the planned quantized model over the float original.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_float: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupPlan {
    /// The group's name (its first producing layer).
    pub name: String,
    pub channels: usize,
    pub kept: usize,
    /// The loss the group's curve gives at the fraction removed (0 when nothing is removed).
    pub loss: f64,
    /// The layers that compute the channels.
    pub producers: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filters {
    /// Layers whose fitted sparsity is below this are left dense (their share goes to the others).
    pub min_sparsity: Option<f64>,
    /// Layers whose estimated speedup at their sparsity is below this are left dense.
    pub min_speedup: Option<f64>,
    /// Layers whose recovery confidence is below this are left dense.
    pub min_recovery: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    /// A layer name, or `re:PATTERN` matched against layer and weight names.
    pub pattern: String,
    /// `None`: the layer is left dense (`override LAYER off`).
    pub sparsity: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerPlan {
    pub name: String,
    /// The ONNX initializer a recipe's `params` names.
    pub weight: String,
    pub op_type: String,
    /// Prunable params (the weight).
    pub params: u64,
    /// `None`: left dense.
    pub sparsity: Option<f64>,
    pub overridden: bool,
    /// Why a layer is left dense (first prunable layer, grouped conv, a filter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub baseline_ms: Option<f64>,
    pub estimated_ms: Option<f64>,
    pub flops_baseline: Option<u64>,
    pub flops: Option<f64>,
    /// Sparsify's recovery confidence: 1 when pruning costs no more loss than at the loss-only
    /// reference sparsity; below 1 when it costs more.
    pub recovery: Option<f64>,
    /// The loss sensitivity at the chosen sparsity (from the loss series).
    pub loss_sensitivity: Option<f64>,
    /// The layer's estimated `t(0) / t(s)` from the perf profile (its FLOPs ratio under the FLOPs
    /// profile); what `min_speedup` compares.
    #[serde(default)]
    pub speedup: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelEstimate {
    pub baseline_ms: Option<f64>,
    pub estimated_ms: Option<f64>,
    pub estimated_speedup: Option<f64>,
    /// Whole-model FLOPs before and after, and their ratio.
    pub flops_baseline: u64,
    pub flops: f64,
    pub flops_reduction: f64,
    /// Whole-model params before and after, and their ratio.
    pub params_baseline: u64,
    pub params: f64,
    pub compression: f64,
    /// The mean of the layers' recovery confidences.
    pub recovery: Option<f64>,
    /// The same FLOPs and params figures over the prunable layers only (what Sparsify showed).
    #[serde(default)]
    pub prunable_flops_baseline: u64,
    #[serde(default)]
    pub prunable_flops: f64,
    #[serde(default)]
    pub prunable_flops_reduction: f64,
    #[serde(default)]
    pub prunable_params_baseline: u64,
    #[serde(default)]
    pub prunable_params: f64,
    #[serde(default)]
    pub prunable_compression: f64,
}

/// The training schedule (Sparsify's epochs split and LR defaults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub optimizer: String,
    pub epochs: f64,
    pub start_epoch: f64,
    pub end_epoch: f64,
    pub stabilization_epochs: f64,
    pub pruning_start: f64,
    pub pruning_end: f64,
    pub fine_tune_start: f64,
    pub update_frequency: f64,
    pub init_sparsity: f64,
    #[serde(default)]
    pub lr: Vec<LrModifier>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrModifier {
    /// `SetLearningRateModifier`.
    Set {
        start_epoch: f64,
        learning_rate: f64,
    },
    /// `LearningRateModifier` with `lr_class: StepLR`.
    Step {
        start_epoch: f64,
        end_epoch: f64,
        init_lr: f64,
        step_size: f64,
        gamma: f64,
    },
}

/// Sparsify's default schedule for E = 90, L0 = 0.1, Lf = 0.001, written out: the
/// schedule the chart and export tests use.
#[cfg(test)]
pub(crate) fn schedule_e90() -> Schedule {
    Schedule {
        optimizer: "SGD".into(),
        epochs: 90.0,
        start_epoch: 0.0,
        end_epoch: 53.0,
        stabilization_epochs: 1.0,
        pruning_start: 1.0,
        pruning_end: 31.0,
        fine_tune_start: 31.0,
        update_frequency: 0.75,
        init_sparsity: 0.05,
        lr: vec![
            LrModifier::Set {
                start_epoch: 0.0,
                learning_rate: 0.0505,
            },
            LrModifier::Step {
                start_epoch: 31.0,
                end_epoch: -1.0,
                init_lr: 0.012625,
                step_size: 6.0,
                gamma: 0.25,
            },
        ],
    }
}

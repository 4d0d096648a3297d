//! The loss profile: per prunable layer, how much pruning that layer alone to each level hurts.
//! Three methods fill it (`approx`, `magnitude`, `one_shot`); the summaries (integral, value at
//! 0.9, rank, the model series) are computed here, once, for all of them.

use serde::{Deserialize, Serialize};

use super::levels;
pub use crate::analysis::Skipped;
pub use crate::quantize::sensitivity::{QuantLayerLoss, QuantModelLoss, QuantizationLoss};
pub use crate::runtime::DataInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossMethod {
    /// Sparsify's equation from shapes and params (`pruning_loss_sens_approx`).
    Approx,
    /// The mean |w| newly removed at each level (`pruning_loss_sens_magnitude`).
    Magnitude,
    /// Each layer pruned alone by magnitude, the model run on data, the outputs compared.
    OneShot,
}

impl LossMethod {
    pub fn name(self) -> &'static str {
        match self {
            LossMethod::Approx => "approx",
            LossMethod::Magnitude => "magnitude",
            LossMethod::OneShot => "one-shot",
        }
    }

    pub fn parse(text: &str) -> Option<LossMethod> {
        match text {
            "approx" => Some(LossMethod::Approx),
            "magnitude" => Some(LossMethod::Magnitude),
            "one-shot" | "one_shot" | "oneshot" => Some(LossMethod::OneShot),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossProfile {
    pub method: LossMethod,
    /// What `values` measure, in words: "kl_divergence", "nmse", "mean_abs_weight_removed",
    /// "approx_equation".
    pub metric: String,
    pub levels: Vec<f64>,
    pub layers: Vec<LayerLoss>,
    pub model: ModelLoss,
    /// The data a one-shot profile ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataInfo>,
    /// Layers or parts that could not be profiled, and why.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// Anything a reader of the numbers should know (how the run was done, its cost).
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub seconds: f64,
    /// Each layer quantized alone to int8 (`profile loss --quantization`), measured like the
    /// one-shot pruning values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantization: Option<QuantizationLoss>,
    /// How a one-shot profile pruned each layer (`--prune`); `None` (as in profiles written
    /// before the choice existed) is magnitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_by: Option<crate::reconstruct::Method>,
    /// `Some(Channel)`: a channel profile, whose "layers" are channel dependency groups (named
    /// after their first producing layer) and whose levels are fractions of channels removed.
    /// `None`: the unstructured profile of layers and sparsities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structure: Option<Structure>,
}

/// What a structured profile or plan removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Structure {
    /// Whole channels of channel dependency groups.
    Channel,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerLoss {
    pub name: String,
    pub weight: String,
    pub op_type: String,
    /// One value per level of the profile.
    pub values: Vec<f64>,
    /// Held-out accuracy per level, when the data carries `labels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<Vec<f64>>,
    /// Trapezoid integral of `values` over the levels: the layer's sensitivity.
    pub integral: f64,
    /// The value at sparsity 0.9 (interpolated between levels when 0.9 is not one).
    pub at_90: f64,
    /// 1 for the most sensitive layer (largest integral).
    pub rank: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelLoss {
    /// The sum over layers at each level.
    pub values: Vec<f64>,
    /// The unpruned model's accuracy, when the data carries `labels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_accuracy: Option<f64>,
}

/// One layer's measured values before the summaries are added.
pub struct RawLayer {
    pub name: String,
    pub weight: String,
    pub op_type: String,
    pub values: Vec<f64>,
    pub accuracy: Option<Vec<f64>>,
}

impl RawLayer {
    /// The values measured for `layer`, named as the analysis names it.
    pub fn of(layer: &crate::Layer, values: Vec<f64>, accuracy: Option<Vec<f64>>) -> Self {
        RawLayer {
            name: layer.name.clone(),
            weight: layer
                .weight
                .as_ref()
                .map(|w| w.name.clone())
                .unwrap_or_default(),
            op_type: layer.op_type.clone(),
            values,
            accuracy,
        }
    }
}

impl LossProfile {
    /// How the values were obtained, in a few words: "one-shot, pruned by sparsegpt".
    pub fn pruning_words(&self) -> String {
        match self.method {
            LossMethod::OneShot => format!(
                "one-shot, pruned by {}",
                self.pruned_by
                    .unwrap_or(crate::reconstruct::Method::Magnitude)
                    .name()
            ),
            other => other.name().to_string(),
        }
    }

    /// How the editor and charts name where values come from when the profile is saved as
    /// `name`: "one-shot loss profile 'x' (kl divergence)".
    pub fn source(&self, name: &str) -> String {
        format!(
            "{} loss profile '{name}' ({})",
            self.method.name(),
            self.metric.replace('_', " ")
        )
    }

    /// Adds integral, value at 0.9, rank and the model series to raw per-layer values.
    pub fn summarize(
        method: LossMethod,
        metric: &str,
        levels: Vec<f64>,
        raw: Vec<RawLayer>,
    ) -> Self {
        let integrals: Vec<f64> = raw
            .iter()
            .map(|l| levels::integral(&levels, &l.values))
            .collect();
        let ranks = levels::ranks_descending(&integrals);
        let mut model_values = vec![0.0; levels.len()];
        for layer in &raw {
            for (sum, v) in model_values.iter_mut().zip(&layer.values) {
                *sum += v;
            }
        }
        let layers = raw
            .into_iter()
            .zip(integrals.iter().zip(&ranks))
            .map(|(l, (&integral, &rank))| LayerLoss {
                at_90: levels::interpolate(&levels, &l.values, 0.9),
                integral,
                rank,
                name: l.name,
                weight: l.weight,
                op_type: l.op_type,
                values: l.values,
                accuracy: l.accuracy,
            })
            .collect();
        LossProfile {
            method,
            metric: metric.into(),
            levels,
            layers,
            model: ModelLoss {
                values: model_values,
                baseline_accuracy: None,
            },
            data: None,
            skipped: Vec::new(),
            notes: Vec::new(),
            seconds: 0.0,
            quantization: None,
            pruned_by: None,
            structure: None,
        }
    }

    pub fn layer(&self, name: &str) -> Option<&LayerLoss> {
        self.layers.iter().find(|l| l.name == name)
    }

    /// The layer whose weight is `weight`.
    pub fn by_weight(&self, weight: &str) -> Option<&LayerLoss> {
        self.layers.iter().find(|l| l.weight == weight)
    }
}

/// Prunable layers a profile cannot measure, with the reason: every Conv, Gemm or MatMul the
/// analysis found not prunable (quantized or computed weights, two activations).
pub fn not_prunable(analysis: &crate::ModelAnalysis) -> Vec<Skipped> {
    analysis
        .layers
        .iter()
        .filter_map(|l| {
            l.not_prunable_reason.as_ref().map(|reason| Skipped {
                name: l.name.clone(),
                reason: reason.clone(),
            })
        })
        .collect()
}

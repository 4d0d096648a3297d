//! What a quantization asks for, and what an optimization's plan records of it.

use serde::{Deserialize, Serialize};

use super::sensitivity::CalibrationLoss;

/// How activations get their scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuantMode {
    /// QDQ: int8 weights (per channel) and uint8 activations (per tensor) whose ranges are
    /// calibrated once on data; Conv, Gemm, MatMul, Add and Mul become integer kernels in ONNX Runtime.
    Static,
    /// int8 weights of MatMul and Gemm; each activation's range is measured at run time
    /// (`DynamicQuantizeLinear`), so no calibration data is needed.
    Dynamic,
    /// Weight-only int4 of MatMul and Gemm (`int4`): 4-bit weights in blocks along K, each with
    /// its own scale, run by ONNX Runtime's `MatMulNBits`; activations stay float.
    Int4,
}

impl QuantMode {
    pub fn name(self) -> &'static str {
        match self {
            QuantMode::Static => "static",
            QuantMode::Dynamic => "dynamic",
            QuantMode::Int4 => "int4",
        }
    }

    /// The model this mode makes, in words ("static int8").
    pub fn words(self) -> &'static str {
        match self {
            QuantMode::Static => "static int8",
            QuantMode::Dynamic => "dynamic int8",
            QuantMode::Int4 => "int4",
        }
    }

    pub fn parse(text: &str) -> Option<QuantMode> {
        match text {
            "static" => Some(QuantMode::Static),
            "dynamic" => Some(QuantMode::Dynamic),
            "int4" => Some(QuantMode::Int4),
            _ => None,
        }
    }
}

/// How a calibrated activation range is read off the values seen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Calibration {
    /// The smallest and largest value seen.
    MinMax,
    /// The `percentile`-th and `(100 - percentile)`-th percentiles: outliers are clipped.
    Percentile { percentile: f64 },
    /// The range whose uint8 version of the values' histogram is closest to it in KL divergence
    /// (`entropy`): clips a tail when the precision gained in the body outweighs it.
    Entropy,
}

/// The percentile `--calibration percentile` uses when none is given.
pub const DEFAULT_PERCENTILE: f64 = 99.99;

impl Calibration {
    /// The methods the quantization loss profile compares on the whole model.
    pub const COMPARED: [Calibration; 3] = [
        Calibration::MinMax,
        Calibration::Percentile {
            percentile: DEFAULT_PERCENTILE,
        },
        Calibration::Entropy,
    ];

    /// "minmax", "percentile:99.99" or "entropy".
    pub fn name(self) -> String {
        match self {
            Calibration::MinMax => "minmax".into(),
            Calibration::Percentile { percentile } => format!("percentile:{percentile}"),
            Calibration::Entropy => "entropy".into(),
        }
    }

    /// What the ranges are, in words: "minimum and maximum" (of the samples).
    pub fn describe(self) -> String {
        match self {
            Calibration::MinMax => "minimum and maximum".into(),
            Calibration::Percentile { percentile } => {
                format!("{percentile}th percentiles (both tails)")
            }
            Calibration::Entropy => "KL-divergence (entropy) thresholds".into(),
        }
    }

    /// `minmax`, `percentile`, `percentile:P` with 50 < P < 100, or `entropy`.
    pub fn parse(text: &str) -> Option<Calibration> {
        match text.split_once(':') {
            None if text == "minmax" => Some(Calibration::MinMax),
            None if text == "entropy" => Some(Calibration::Entropy),
            None if text == "percentile" => Some(Calibration::Percentile {
                percentile: DEFAULT_PERCENTILE,
            }),
            Some(("percentile", p)) => p
                .parse::<f64>()
                .ok()
                .filter(|p| *p > 50.0 && *p < 100.0)
                .map(|percentile| Calibration::Percentile { percentile }),
            _ => None,
        }
    }
}

/// The quantization an optimization asks for (`optimize --quantize`): what `export model`
/// applies after pruning, `export recipe` writes as a `QuantizationModifier`, and `benchmark`
/// times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizationPlan {
    pub mode: QuantMode,
    pub calibration: Calibration,
    /// Why `calibration`: named, measured best in a loss profile, or the default.
    #[serde(default)]
    pub calibration_source: CalibrationSource,
    /// Weights get one scale per output channel (else one per tensor).
    pub per_channel: bool,
    /// Layers left in float, each with why (too sensitive in the loss profile, or asked).
    #[serde(default)]
    pub ignore: Vec<IgnoredLayer>,
    /// Quantization-aware training in the recipe: from this epoch to the end of the schedule.
    pub start_epoch: f64,
    /// The epoch the observers stop updating the ranges (`disable_quantization_observer_epoch`).
    pub observer_end_epoch: f64,
    /// The epoch batch-norm statistics are frozen (`freeze_bn_stats_epoch`).
    pub freeze_bn_epoch: f64,
}

/// Where a plan's calibration method came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "from")]
pub enum CalibrationSource {
    /// Named in the request; a re-run keeps it. A plan saved before calibrations were measured
    /// says nothing and counts as named, so a re-run keeps what it had.
    #[default]
    Named,
    /// Nothing named, nothing measured: min-max.
    Default,
    /// The best of the methods the quantization loss profile `profile` measured on the whole
    /// model in int8 (`sensitivity::best_of`).
    Measured {
        profile: String,
        /// What the values measure ("kl_divergence", "nmse").
        metric: String,
        calibrations: Vec<CalibrationLoss>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IgnoredLayer {
    pub name: String,
    /// The ONNX initializer of its weight; a recipe's `ignore` names its module (this without
    /// the trailing `.weight`).
    pub weight: String,
    pub reason: String,
}

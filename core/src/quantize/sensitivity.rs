//! The quantization loss profile (`profile loss --quantization`): each layer quantized to int8
//! alone (its weight, and the activations around it with the calibrated ranges), the model run
//! in ONNX Runtime on the data and its outputs compared with the float model's by the one-shot
//! metric; then every layer at once, exactly the model `export model` writes; then (static) every
//! layer at once with each calibration method's ranges, to tell which suits the model.
//!
//! One calibration serves every run (`quantize::prepare`): each method reads its ranges off the
//! same histograms. Each run is a real quantized model, so what is measured includes ONNX
//! Runtime's integer kernels and their rounding.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::onnx::ModelProto;
use crate::progress::{Cancel, Progress};
use crate::quantize::{self, Calibration, QuantMode, QuantizeOptions};
use crate::reconstruct::collect::run_all;
use crate::runtime::metric::Reference;
use crate::runtime::{Batch, DataInfo, SessionOptions, analysis_batch};
use crate::{Model, ModelAnalysis};

/// How much int8 quantization hurts: each layer quantized alone (its weight and the activations
/// around it, with the calibrated ranges), then the whole model quantized as `export model`
/// would, each run in ONNX Runtime (`profile`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizationLoss {
    pub mode: QuantMode,
    pub calibration: Calibration,
    pub per_channel: bool,
    /// What `value` measures: the one-shot metric ("kl_divergence", "nmse").
    pub metric: String,
    pub layers: Vec<QuantLayerLoss>,
    /// Every quantizable layer quantized at once.
    pub model: QuantModelLoss,
    /// The float model's accuracy on the same samples, when they carry `labels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub float_accuracy: Option<f64>,
    /// Samples each run used, and where they came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataInfo>,
    /// Every layer at once with each calibration method (static only): `Calibration::COMPARED`
    /// and the profile's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calibrations: Vec<CalibrationLoss>,
    /// The method of `calibrations` that keeps the model closest to float (`best_of`): what
    /// `optimize --quantize static` calibrates with when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_calibration: Option<Calibration>,
}

/// The whole model in int8 with one calibration method's ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationLoss {
    pub calibration: Calibration,
    /// The metric with every layer quantized.
    pub value: f64,
    /// Accuracy with every layer quantized, when the data carries `labels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
}

/// The best of `measured`: the highest accuracy where every method has one (the metric breaks
/// ties), else the smallest metric. `None` when nothing was measured.
pub fn best_of(measured: &[CalibrationLoss]) -> Option<&CalibrationLoss> {
    let by_accuracy = measured.iter().all(|m| m.accuracy.is_some());
    measured.iter().min_by(|x, y| {
        let accuracy = if by_accuracy {
            let (ax, ay) = (x.accuracy.unwrap_or(0.0), y.accuracy.unwrap_or(0.0));
            ay.total_cmp(&ax)
        } else {
            std::cmp::Ordering::Equal
        };
        accuracy.then(x.value.total_cmp(&y.value))
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantLayerLoss {
    pub name: String,
    pub weight: String,
    pub op_type: String,
    /// The metric with this layer alone quantized.
    pub value: f64,
    /// Held-out accuracy with this layer alone quantized, when the data carries `labels`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// 1 for the most sensitive layer (largest value).
    pub rank: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuantModelLoss {
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
}

/// The float model's outputs on every batch, and how a quantized model is run against them.
struct Runs<'a> {
    batches: &'a [Batch],
    reference: Reference,
    threads: Option<usize>,
}

impl Runs<'_> {
    /// The summed metric over the outputs, and the accuracy when there are labels: from one
    /// session of `proto`, or in parts for a large model (`collect::run_all`).
    fn compare(&self, proto: &ModelProto, cancel: &Cancel) -> Result<(f64, Option<f64>)> {
        let options = SessionOptions {
            threads: self.threads,
        };
        let mut tally = self.reference.tally();
        for (b, outputs) in run_all(proto, self.batches, &options, cancel)?
            .iter()
            .enumerate()
        {
            for (name, out) in outputs {
                tally.add(b, name, out);
            }
        }
        Ok(tally.finish())
    }
}

/// Generated samples each run uses when there is no `--data` (nor `--samples`).
pub const GENERATED_SAMPLES: usize = 32;

/// The quantization section of a loss profile.
pub fn profile(
    model: &Model,
    analysis: &ModelAnalysis,
    options: &QuantizeOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<QuantizationLoss> {
    let unit = analysis_batch(analysis);
    // One model run per layer: without data, fewer generated samples keep big models quick (a
    // ranking on random inputs gains little from more).
    let options = &QuantizeOptions {
        samples: options.samples.or(match options.data {
            None => Some(GENERATED_SAMPLES.div_ceil(unit) * unit),
            Some(_) => None,
        }),
        ..options.clone()
    };
    let mut prepared = quantize::prepare(model, analysis, options, progress, cancel)?;
    // Static quantization calibrated on these samples already; dynamic needs them read.
    let (data, batch) = match prepared.samples.take() {
        Some(samples) => samples,
        None => quantize::calibration_data(analysis, options)?,
    };
    let batches = data.batches(batch);
    // Every layer at once with each other calibration method (the profile's own is measured
    // already).
    let mut methods = Vec::new();
    if options.mode == QuantMode::Static {
        methods.extend(Calibration::COMPARED);
        if !methods.contains(&options.calibration) {
            methods.push(options.calibration);
        }
    }
    let others = methods
        .iter()
        .filter(|&&c| c != options.calibration)
        .count();
    let total = (prepared.targets.len() + 2 + others) as u64;
    progress.report(0, total, "float model");

    let threads = options.threads;
    let outputs = run_all(
        &prepared.proto,
        &batches,
        &SessionOptions { threads },
        cancel,
    )?;
    let names: Vec<String> = prepared
        .proto
        .graph
        .iter()
        .flat_map(|g| &g.output)
        .map(|o| o.name().to_string())
        .collect();
    let labels = batches.iter().map(|b| b.labels.as_deref()).collect();
    let reference = Runs {
        batches: &batches,
        reference: Reference::new(&names, outputs, labels, data.samples),
        threads,
    };
    let metric = reference.reference.metric_names();
    let baseline_accuracy = reference.reference.accuracy();

    let mut layers = Vec::with_capacity(prepared.targets.len());
    for (i, target) in prepared.targets.iter().enumerate() {
        progress.report(i as u64 + 1, total, &target.name);
        let (proto, _) = prepared.rewrite(Some(&target.name))?;
        let (value, accuracy) = reference.compare(&proto, cancel)?;
        layers.push(QuantLayerLoss {
            name: target.name.clone(),
            weight: target.weight.clone(),
            op_type: target.op_type.clone(),
            value,
            accuracy,
            rank: 0,
        });
    }
    let mut step = prepared.targets.len() as u64 + 1;
    progress.report(step, total, "every layer at once");
    let (proto, _) = prepared.rewrite(None)?;
    let (value, accuracy) = reference.compare(&proto, cancel)?;
    let mut calibrations = Vec::with_capacity(methods.len());
    for &calibration in &methods {
        let (value, accuracy) = if calibration == options.calibration {
            (value, accuracy)
        } else {
            step += 1;
            progress.report(
                step,
                total,
                &format!("every layer at once, {} calibration", calibration.name()),
            );
            prepared.recalibrate(calibration);
            let (proto, _) = prepared.rewrite(None)?;
            reference.compare(&proto, cancel)?
        };
        calibrations.push(CalibrationLoss {
            calibration,
            value,
            accuracy,
        });
    }
    progress.report(total, total, "done");

    let mut order: Vec<usize> = (0..layers.len()).collect();
    order.sort_by(|&a, &b| layers[b].value.total_cmp(&layers[a].value));
    for (rank, i) in order.into_iter().enumerate() {
        layers[i].rank = rank + 1;
    }
    Ok(QuantizationLoss {
        mode: options.mode,
        calibration: options.calibration,
        per_channel: options.per_channel,
        metric,
        layers,
        model: QuantModelLoss { value, accuracy },
        float_accuracy: baseline_accuracy,
        data: Some(DataInfo {
            source: data.source.clone(),
            samples: data.samples,
            batch,
            has_labels: data.labels.is_some(),
            seed: options.data.is_none().then_some(options.seed),
        }),
        best_calibration: best_of(&calibrations).map(|b| b.calibration),
        calibrations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(calibration: Calibration, value: f64, accuracy: Option<f64>) -> CalibrationLoss {
        CalibrationLoss {
            calibration,
            value,
            accuracy,
        }
    }

    #[test]
    fn the_best_calibration_is_the_most_accurate_then_the_closest() {
        let [minmax, percentile, entropy] = Calibration::COMPARED;
        let by_value = [
            measured(minmax, 0.03, None),
            measured(percentile, 0.01, None),
            measured(entropy, 0.02, None),
        ];
        assert_eq!(best_of(&by_value).unwrap().calibration, percentile);
        // Accuracy first where every method has one; the metric breaks a tie.
        let by_accuracy = [
            measured(minmax, 0.03, Some(0.9)),
            measured(percentile, 0.01, Some(0.8)),
            measured(entropy, 0.02, Some(0.9)),
        ];
        assert_eq!(best_of(&by_accuracy).unwrap().calibration, entropy);
        assert_eq!(best_of(&[]), None);
    }
}

//! The pruning step of `export model`: the plan's layers pruned by magnitude (no samples), or
//! reconstructed one layer after another from calibration samples (Wanda, SparseGPT), in the
//! pattern asked for (unstructured, or N:M).

use std::path::{Path, PathBuf};

use crate::ModelAnalysis;
use crate::error::{Result, Sentence, Setting};
use crate::export;
use crate::model::Model;
use crate::model::onnx::ModelProto;
use crate::optimize::PruningPlan;
use crate::progress::{Cancel, Progress};
use crate::quantize::CALIBRATION_SAMPLES;
use crate::reconstruct::sequence::{self, LayerOutcome, OneShotPruning};
use crate::reconstruct::{Method, Pattern, SparseGptSettings};
use crate::runtime::batch::dataset;
use crate::runtime::{DataInfo, Dataset};

/// How `export model` prunes the plan's layers.
#[derive(Debug, Clone, PartialEq)]
pub struct PruningRequest {
    /// `None`: SparseGPT when samples are given, else magnitude.
    pub method: Option<Method>,
    pub pattern: Pattern,
    /// The samples reconstruction reads (the first N of the data, or N generated).
    pub samples: Option<usize>,
}

impl Default for PruningRequest {
    fn default() -> Self {
        PruningRequest {
            method: None,
            pattern: Pattern::Unstructured,
            samples: None,
        }
    }
}

/// What pruning did.
#[derive(Debug, Clone, PartialEq)]
pub struct Pruning {
    pub method: Method,
    /// The method was chosen for the user (no `--method`).
    pub method_chosen: bool,
    pub pattern: Pattern,
    /// Each pruned layer (magnitude: its weight, measured sparsity, nothing else).
    pub layers: Vec<LayerOutcome>,
    /// The samples reconstruction read (not for magnitude).
    pub data: Option<DataInfo>,
    pub seconds: f64,
    /// Floating-point operations of the Hessians, factorizations and updates.
    pub flops: f64,
    /// The most bytes of input statistics held at once (SparseGPT's `XᵀX`, Wanda's diagonal of
    /// it, the column sums).
    pub peak_bytes: u64,
    /// A structured plan's channels removed; `layers` is then empty.
    pub channels: Option<crate::workflow::channels::ChannelPruning>,
}

/// Samples reconstruction reads when none are asked for: SparseGPT's papers use 128.
pub const PRUNING_SAMPLES: usize = CALIBRATION_SAMPLES;

/// The first `samples` (default [`PRUNING_SAMPLES`]) of the calibration file at `path`, with the
/// batch they run in: what reconstruction, channel importance and repair read.
pub fn calibration_set(
    analysis: &ModelAnalysis,
    path: &Path,
    samples: Option<usize>,
) -> Result<(Dataset, usize)> {
    // Only real samples are read, so no seed is needed.
    dataset(
        analysis,
        Some(path),
        Some(samples.unwrap_or(PRUNING_SAMPLES)),
        PRUNING_SAMPLES,
        None,
        0,
    )
}

/// `model`'s proto with the plan's layers pruned as `request` asks, reading `data` (the
/// calibration samples) where the method needs samples.
pub fn prune(
    model: &Model,
    analysis: &ModelAnalysis,
    plan: &PruningPlan,
    request: &PruningRequest,
    data: Option<&PathBuf>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(ModelProto, Pruning)> {
    let method = request.method.unwrap_or(if data.is_some() {
        Method::SparseGpt
    } else {
        Method::Magnitude
    });
    let started = std::time::Instant::now();
    if !method.needs_samples() && request.samples.is_some() {
        return Err(Sentence::default()
            .setting(Setting::Samples)
            .text(" applies to pruning that reads samples; magnitude pruning reads none (give ")
            .set(Setting::Method, "sparsegpt")
            .text(" or wanda, or drop ")
            .setting(Setting::Samples)
            .text(").")
            .into());
    }
    // Plain magnitude pruning writes the plan's weights as it always has (no samples, no repair).
    if method == Method::Magnitude && request.pattern == Pattern::Unstructured {
        let (proto, measured) = export::model::pruned_model(model, plan)?;
        let layers = measured
            .into_iter()
            .map(|(weight, sparsity)| LayerOutcome {
                name: plan
                    .layers
                    .iter()
                    .find(|l| l.weight == weight)
                    .map_or_else(|| weight.clone(), |l| l.name.clone()),
                weight,
                sparsity,
                pattern: Pattern::Unstructured,
                note: None,
                damp: None,
                retries: 0,
                dead_columns: 0,
                repaired: None,
                seconds: 0.0,
            })
            .collect();
        return Ok((
            proto,
            Pruning {
                method,
                method_chosen: request.method.is_none(),
                pattern: request.pattern,
                layers,
                data: None,
                seconds: started.elapsed().as_secs_f64(),
                flops: 0.0,
                peak_bytes: 0,
                channels: None,
            },
        ));
    }
    let data = match (method.needs_samples(), data) {
        (true, None) => {
            return Err(Sentence::new(format!(
                "{} reconstructs each layer from the inputs it sees on real samples; give ",
                method.name()
            ))
            .setting(Setting::Data)
            .text(" FILE.npz (or ")
            .setting(Setting::CalibrationData)
            .text("), or prune with ")
            .set(Setting::Method, "magnitude")
            .text(".")
            .into());
        }
        (true, Some(path)) => Some(path),
        (false, _) => None,
    };
    let planned: Vec<(String, f64)> = plan
        .layers
        .iter()
        .filter_map(|l| l.sparsity.filter(|s| *s > 0.0).map(|s| (l.name.clone(), s)))
        .collect();
    let samples = data
        .map(|path| calibration_set(analysis, path, request.samples))
        .transpose()?;
    let info = samples.as_ref().map(|(set, batch)| DataInfo {
        source: set.source.clone(),
        samples: set.samples,
        batch: *batch,
        has_labels: set.labels.is_some(),
        seed: None,
    });
    let options = OneShotPruning {
        method,
        pattern: request.pattern,
        settings: SparseGptSettings::default(),
        repair: true,
    };
    let done = sequence::prune_model(
        model,
        analysis,
        &planned,
        &options,
        samples.as_ref().map(|(set, batch)| (set, *batch)),
        progress,
        cancel,
    )?;
    Ok((
        done.proto,
        Pruning {
            method,
            method_chosen: request.method.is_none(),
            pattern: request.pattern,
            layers: done.layers,
            data: info,
            seconds: started.elapsed().as_secs_f64(),
            flops: done.flops,
            peak_bytes: done.peak_bytes,
            channels: None,
        },
    ))
}

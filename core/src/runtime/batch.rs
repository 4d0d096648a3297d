//! The model's batch: the batch its analysis inferred shapes at, whether its batch dim is fixed,
//! and the samples a run reads together with the batch to run them in. Profiles, quantization,
//! the benchmark and the memory check all ask here, so they agree on what "the batch" is.

use std::path::Path;

use super::dataset::Dataset;
use crate::analysis::{DimDecl, ModelAnalysis, ResolvedInput};
use crate::error::{Result, Sentence, Setting};

/// Samples per run when neither the model nor the user fixes it.
pub const DEFAULT_BATCH: usize = 64;

/// The batch the analysis inferred shapes (and counted FLOPs) at: the first dim of the first
/// input with a shape, at least 1.
pub fn analysis_batch(analysis: &ModelAnalysis) -> usize {
    analysis
        .inputs
        .iter()
        .find_map(|input| input.shape.as_ref()?.first().copied())
        .map_or(1, |d| d.max(1) as usize)
}

/// The input's batch, when the model fixes its first dim; `None` when the dim is free (named,
/// anonymous or undeclared).
pub fn fixed_batch(input: &ResolvedInput) -> Option<usize> {
    match input.declared.as_ref()?.first()? {
        DimDecl::Fixed(n) => Some(*n as usize),
        _ => None,
    }
}

/// The model's batch, when an input fixes it: the first input whose first dim is fixed.
pub fn model_fixed_batch(analysis: &ModelAnalysis) -> Option<usize> {
    analysis.inputs.iter().find_map(fixed_batch)
}

/// The samples to run and the batch to run them in: the first `samples` of `data`, else
/// `default_samples` seeded random ones.
pub fn dataset(
    analysis: &ModelAnalysis,
    data: Option<&Path>,
    samples: Option<usize>,
    default_samples: usize,
    batch: Option<usize>,
    seed: u64,
) -> Result<(Dataset, usize)> {
    let data = match data {
        Some(path) => Dataset::from_npz(path, &analysis.inputs, samples)?,
        None => Dataset::generated(&analysis.inputs, samples.unwrap_or(default_samples), seed)?,
    };
    let batch = batch_size(analysis, &data, batch)?;
    super::memory::check_activations(analysis, batch, "running the model")?;
    Ok((data, batch))
}

/// The model's fixed batch, else the user's, else up to `DEFAULT_BATCH`.
fn batch_size(analysis: &ModelAnalysis, data: &Dataset, wanted: Option<usize>) -> Result<usize> {
    let fixed = model_fixed_batch(analysis);
    match (fixed, wanted) {
        (Some(f), Some(w)) if f != w => Err(Sentence::new(format!(
            "the model's batch dim is fixed at {f}; drop "
        ))
        .setting(Setting::Batch)
        .text(" or give ")
        .set(Setting::Batch, f)
        .text(".")
        .into()),
        (Some(f), _) => {
            if !data.samples.is_multiple_of(f) {
                return Err(Sentence::new(format!(
                    "the model takes batches of exactly {f} but there are {} samples; give ",
                    data.samples
                ))
                .setting(Setting::Samples)
                .text(format!(" as a multiple of {f}."))
                .into());
            }
            Ok(f)
        }
        (None, Some(0)) => Err(Sentence::default()
            .setting(Setting::Batch)
            .text(" must be at least 1.")
            .into()),
        (None, Some(w)) => Ok(w),
        (None, None) => Ok(data.samples.clamp(1, DEFAULT_BATCH)),
    }
}

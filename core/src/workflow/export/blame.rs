//! Which layers to blame when an int8 model no longer agrees: the project's quantization loss
//! profile when it measured the same kind of quantization, else the per-layer int8 sensitivity
//! measured now on a few samples (`quantize::sensitivity`).

use crate::error::Result;
use crate::progress::{Cancel, Progress};
use crate::project::ProjectFile;
use crate::quantize::QuantizeOptions;
use crate::quantize::sensitivity::{self, QuantLayerLoss};
use crate::runtime::analysis_batch;
use crate::{Model, ModelAnalysis};

/// Samples the sensitivity measured on the fly runs on: one model run per layer, so few; the
/// ranking of a broken layer stands out on any.
pub const SENSITIVITY_SAMPLES: usize = 64;

/// Where the ranking came from.
#[derive(Debug, Clone, PartialEq)]
pub enum BlameSource {
    /// The quantization section of the named loss profile.
    Profile(String),
    /// Measured while exporting, on this many samples.
    Measured { samples: usize },
}

/// The quantizable layers, most sensitive first.
#[derive(Debug, Clone, PartialEq)]
pub struct Blame {
    pub source: BlameSource,
    /// What each layer's value measures ("kl_divergence", "nmse").
    pub metric: String,
    pub layers: Vec<QuantLayerLoss>,
}

/// The ranking for quantizing `model` as `options` asks; layers `options` leaves float are left
/// out.
pub fn blame(
    project: &ProjectFile,
    model: &Model,
    analysis: &ModelAnalysis,
    options: &QuantizeOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Blame> {
    let profiled = project.latest_loss_profile().and_then(|(name, profile)| {
        let q = profile.quantization.as_ref()?;
        (q.mode == options.mode && q.per_channel == options.per_channel && !q.layers.is_empty())
            .then(|| (name.to_string(), q))
    });
    let (source, metric, mut layers) = match profiled {
        Some((name, q)) => (
            BlameSource::Profile(name),
            q.metric.clone(),
            q.layers.clone(),
        ),
        None => {
            let unit = analysis_batch(analysis);
            let samples = SENSITIVITY_SAMPLES.div_ceil(unit) * unit;
            let options = QuantizeOptions {
                samples: Some(samples),
                ..options.clone()
            };
            let measured = sensitivity::profile(model, analysis, &options, progress, cancel)?;
            let samples = measured.data.as_ref().map_or(samples, |d| d.samples);
            (
                BlameSource::Measured { samples },
                measured.metric,
                measured.layers,
            )
        }
    };
    layers.retain(|l| !options.ignore.contains(&l.name));
    layers.sort_by(|a, b| b.value.total_cmp(&a.value));
    Ok(Blame {
        source,
        metric,
        layers,
    })
}

//! Which channels go: the one choice of importance criterion that the channel profile, the
//! structured export and the plan file share, so they remove the same channels. With samples,
//! the reconstruction error removing a channel causes at its consumers (what the data says);
//! without, the L2 norm of its producer rows.

use super::group::{ChannelGroup, Keep};
use super::importance::{self, Criterion};
use crate::error::Result;
use crate::progress::{Cancel, Progress};
use crate::runtime::Dataset;
use crate::{Model, ModelAnalysis};

/// The scores of each of `groups`' channels (one list per group, in order): higher matters more.
pub fn scores(
    model: &Model,
    analysis: &ModelAnalysis,
    groups: &[&ChannelGroup],
    data: Option<(&Dataset, usize)>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Vec<Vec<f64>>> {
    match data {
        Some((set, batch)) => {
            importance::reconstruction_scores(model, analysis, groups, set, batch, progress, cancel)
        }
        None => groups
            .iter()
            .map(|g| importance::weight_scores(model, g, Criterion::L2))
            .collect(),
    }
}

/// The criterion `scores` uses, in words.
pub fn words(with_samples: bool) -> &'static str {
    if with_samples {
        "by the error removing each channel causes at its consumers on the samples"
    } else {
        "by the L2 norm of each channel's weights"
    }
}

/// The `Keep` that removes `round(fraction · channels)` of the group's channels, the lowest
/// scored first.
pub fn keep_highest(group: &ChannelGroup, scores: &[f64], fraction: f64) -> Result<Keep> {
    importance::keep_highest(group, scores, fraction)
}

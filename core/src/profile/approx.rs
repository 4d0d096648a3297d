//! The `approx` loss profile: Sparsify's "Approximated" profile, a straight line from 0 at
//! sparsity 0 to the layer's `prunable_equation_sensitivity` at sparsity 1 (no data, no weights).

use super::loss::{LossMethod, LossProfile, RawLayer, not_prunable};
use crate::ModelAnalysis;

pub fn profile(analysis: &ModelAnalysis) -> LossProfile {
    let levels = vec![0.0, 1.0];
    let raw = analysis
        .layers
        .iter()
        .filter(|l| l.is_prunable)
        .map(|l| RawLayer::of(l, vec![0.0, l.approx_sensitivity().unwrap_or(0.0)], None))
        .collect();
    let mut profile = LossProfile::summarize(LossMethod::Approx, "approx_equation", levels, raw);
    profile.skipped = not_prunable(analysis);
    profile.notes.push(
        "Approximated from shapes and parameter counts (Sparsify's equation); no data was used."
            .into(),
    );
    profile
}

//! The estimate: the cost model behind `estimated_ms`, and the FLOPs figures behind
//! `estimated_flops` at each level.

use std::collections::BTreeMap;

use super::assemble::list;
use super::{LayerPerf, PERF_LEVELS};
use crate::analysis::{Layer, ModelAnalysis};
use crate::profile::levels::level_key;

/// The estimate for a sparsity-aware engine (one whose kernels skip pruned weights, as
/// DeepSparse's do), made from one dense measurement. For a prunable layer with measured time
/// `t` and FLOPs `f`:
///
/// - `R`, the highest FLOP rate `f / t` any prunable layer reached in this measurement, stands
///   for the rate of compute-bound work on this machine;
/// - the layer's compute part is `c = min(t, f / R)`; the rest, `t − c`, is memory traffic,
///   kernel overhead and fused element-wise work, which pruning does not remove;
/// - at sparsity `s` the compute part shrinks with the weights: `t(s) = (t − c) + c·(1 − s)`.
///
/// Non-prunable layers keep their time. The model at level `s` is the measured model time less
/// every prunable layer's saving, `T(s) = T − Σ (t(0) − t(s))`: the shape of Sparsify's
/// `est_time`, so `T(0)` is the measurement itself. It is an optimistic bound: sparse
/// kernels run below the dense FLOP rate, and small layers gain less than their FLOPs say.
pub(super) struct CostModel {
    pub(super) flops_per_ms: f64,
    /// The layer that reached `flops_per_ms`.
    pub(super) fastest: String,
}

impl CostModel {
    /// From the (name, ms, FLOPs) of the prunable layers; `None` when none has both.
    pub(super) fn fit(layers: &[(&str, f64, f64)]) -> Option<CostModel> {
        layers
            .iter()
            .filter(|(_, ms, flops)| *ms > 0.0 && *flops > 0.0)
            .map(|(name, ms, flops)| (flops / ms, *name))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(rate, name)| CostModel {
                flops_per_ms: rate,
                fastest: name.to_string(),
            })
    }

    fn compute_ms(&self, ms: f64, flops: f64) -> f64 {
        (flops / self.flops_per_ms).min(ms)
    }

    pub(super) fn layer_ms(&self, ms: f64, flops: f64, sparsity: f64) -> f64 {
        // t(s) = (t − c) + c·(1 − s), written so that t(0) is exactly t.
        ms - self.compute_ms(ms, flops) * sparsity
    }
}

pub(super) fn layer_base(layer: &Layer, flops: Option<u64>) -> LayerPerf {
    LayerPerf {
        name: layer.name.clone(),
        op_type: layer.op_type.clone(),
        weight: layer.weight.as_ref().map(|w| w.name.clone()),
        prunable: layer.is_prunable,
        flops,
        ..LayerPerf::default()
    }
}

pub(super) fn layer_flops_estimates(layer: &Layer, flops: Option<u64>) -> BTreeMap<String, f64> {
    match flops {
        Some(f) if layer.is_prunable => PERF_LEVELS
            .iter()
            .map(|&s| (level_key(s), f as f64 * (1.0 - s)))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Whole-model FLOPs at each level: the total less what pruning removes from prunable layers.
pub(super) fn model_flops_estimates(total: u64, layers: &[LayerPerf]) -> BTreeMap<String, f64> {
    let prunable: f64 = layers
        .iter()
        .filter(|l| l.prunable)
        .filter_map(|l| l.flops)
        .map(|f| f as f64)
        .sum();
    PERF_LEVELS
        .iter()
        .map(|&s| (level_key(s), total as f64 - prunable * s))
        .collect()
}

/// What the FLOPs figures leave out.
pub(super) fn flops_caveats(analysis: &ModelAnalysis) -> Vec<String> {
    let mut notes = Vec::new();
    if analysis.n_prunable() == 0 {
        notes.push(
            "The model has no prunable layers (Conv, Gemm or MatMul with a constant weight): pruning changes nothing.".into(),
        );
    }
    let unknown: Vec<&str> = analysis
        .layers
        .iter()
        .filter(|l| l.is_prunable && l.flops.is_none())
        .map(|l| l.name.as_str())
        .collect();
    if !unknown.is_empty() {
        notes.push(format!(
            "The FLOPs of {} prunable layer(s) are unknown (their shapes are), so their savings are not counted: {}.",
            unknown.len(),
            list(&unknown)
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cost_model_keeps_overhead_and_scales_compute() {
        // conv: 100 FLOPs in 1 ms (the fastest rate); fc: 10 FLOPs in 1 ms, 0.1 ms of compute.
        let cost = CostModel::fit(&[("conv", 1.0, 100.0), ("fc", 1.0, 10.0)]).unwrap();
        assert_eq!(cost.fastest, "conv");
        assert_eq!(cost.layer_ms(1.0, 100.0, 0.0), 1.0);
        assert!((cost.layer_ms(1.0, 100.0, 0.9) - 0.1).abs() < 1e-12);
        assert!((cost.layer_ms(1.0, 10.0, 0.5) - 0.95).abs() < 1e-12);
        assert!(CostModel::fit(&[("x", 0.0, 5.0)]).is_none());
    }
}

//! The estimate: the cost model behind `estimated_ms`, and the FLOPs figures behind
//! `estimated_flops` at each level.

use std::collections::{BTreeMap, HashMap};

use super::assemble::list;
use super::{LayerPerf, PERF_LEVELS};
use crate::analysis::{Layer, ModelAnalysis};
use crate::model::attr::AttrValue;
use crate::profile::levels::level_key;

/// The engine every estimated time stands for, named wherever one is shown.
pub const ENGINE: &str = "a sparsity-aware engine (DeepSparse-like)";

/// How far the model-level estimate was from a real sparsity-aware engine, as measured by
/// `bench/sparse_engine.py` (docs/benchmarks.md, "Sparse engine"): shown beside each estimate.
pub const MEASURED_ERROR: &str = "measured 34% under to 52% over DeepSparse 1.8.0's speedups on the bench models, 18 of 24 within 15% (docs/benchmarks.md, \"Sparse engine\")";

/// The sparse kernel's speed per kept weight against the dense kernel's per weight: sparse kernels
/// skip the pruned weights but run slower per remaining one (irregular access, no register
/// blocking across the pruned dimension). Fitted.
const SPARSE_EFFICIENCY: f64 = 0.44;

/// The share of the best FLOP rate measured in ONNX Runtime that stands for compute-bound work:
/// a layer's compute part is its FLOPs at this rate (at most its time). Fitted.
const RATE_SHARE: f64 = 1.0;

/// How many times more work per weight the sparse kernel does than the engine's dense kernel on
/// a 3×3, stride-1 convolution: the dense engine runs those by Winograd's algorithm (several
/// times fewer multiplications than their FLOPs; ONNX Runtime's CPU kernels, which the layer times
/// come from, do not), with its best-tuned kernels. Fitted.
const DENSE_3X3_ADVANTAGE: f64 = 9.0;

/// The sparsity from which the engine runs a layer's sparse kernel, faster than its dense one or
/// not: DeepSparse 1.8.0 does from between 50% and 70% on (the ResNet-50-shaped bench model with
/// every layer at 70% ran at half its dense speed there), so the estimate says slower where the
/// sparse kernel is. Fitted.
pub(super) const SPARSE_FROM: f64 = 0.65;

/// The estimate for [`ENGINE`], made from one dense measurement in ONNX Runtime and constants fitted
/// to DeepSparse 1.8.0 by `bench/sparse_engine_fit.py` (docs/analysis.md, "Performance profile").
/// For a prunable layer with measured time `t` and FLOPs `f`:
///
/// - `R`, the highest FLOP rate `f / t` any prunable layer reached in this measurement times
///   [`RATE_SHARE`], stands for the rate of compute-bound work on this machine;
/// - the layer's compute part is `c = min(t, f / R)`; the rest, `t − c`, is memory traffic and
///   kernel overhead, which pruning does not remove;
/// - the sparse kernel's efficiency is `e = SPARSE_EFFICIENCY`, divided by
///   [`DENSE_3X3_ADVANTAGE`] for a 3×3 stride-1 convolution;
/// - below [`SPARSE_FROM`] the engine runs the dense kernel, `t(s) = t`; from it on the sparse
///   kernel, which takes `(1 − s) / e` of the compute part: `t(s) = t − c · (1 − (1 − s) / e)`,
///   more than `t` where the sparse kernel is the slower one.
///
/// Non-prunable layers keep their time. The model at level `s` is the measured model time less
/// every prunable layer's saving, `T(s) = T − Σ (t(0) − t(s))`: the shape of Sparsify's
/// `est_time`, so `T(0)` is the measurement itself.
pub(super) struct CostModel {
    pub(super) flops_per_ms: f64,
    /// The layer that reached the best rate.
    pub(super) fastest: String,
}

/// What the cost model reads of a layer besides its time and FLOPs.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LayerShape {
    /// A 3×3, stride-1, ungrouped convolution.
    pub(super) winograd: bool,
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
                flops_per_ms: rate * RATE_SHARE,
                fastest: name.to_string(),
            })
    }

    fn compute_ms(&self, ms: f64, flops: f64) -> f64 {
        (flops / self.flops_per_ms).min(ms)
    }

    /// The sparse kernel's efficiency on a layer of this shape.
    fn efficiency(shape: LayerShape) -> f64 {
        let dense_advantage = if shape.winograd {
            DENSE_3X3_ADVANTAGE
        } else {
            1.0
        };
        SPARSE_EFFICIENCY / dense_advantage
    }

    /// The layer's time at `sparsity`.
    pub(super) fn layer_ms(&self, ms: f64, flops: f64, shape: LayerShape, sparsity: f64) -> f64 {
        if sparsity < SPARSE_FROM {
            return ms;
        }
        let gain = 1.0 - (1.0 - sparsity) / Self::efficiency(shape);
        // Written so that t(0) is exactly t.
        ms - self.compute_ms(ms, flops) * gain
    }
}

/// What the cost model reads of an analysed layer: whether a dense engine would run it by
/// Winograd's algorithm.
pub(super) fn layer_shape(layer: &Layer) -> LayerShape {
    let ints = |name: &str| {
        layer.attributes.iter().find_map(|(n, v)| match v {
            AttrValue::Ints(values) if n == name => Some(values.clone()),
            _ => None,
        })
    };
    let group = layer.attributes.iter().find_map(|(n, v)| match v {
        AttrValue::Int(g) if n == "group" => Some(*g),
        _ => None,
    });
    let kernel = ints("kernel_shape").or_else(|| {
        let w = &layer.weight.as_ref()?.shape;
        (w.len() == 4).then(|| w[2..].to_vec())
    });
    let winograd = layer.op_type == "Conv"
        && kernel.as_deref() == Some(&[3, 3])
        && ints("strides").is_none_or(|s| s.iter().all(|&x| x == 1))
        && group.unwrap_or(1) == 1;
    LayerShape { winograd }
}

/// Fills each prunable layer's `estimated_ms` by `cost`; returns the model's saving at each
/// level and the prunable layers left without an estimate (no time, no FLOPs).
pub(super) fn estimate_layers(
    layers: &mut [LayerPerf],
    analysis: &ModelAnalysis,
    cost: Option<&CostModel>,
) -> (Vec<f64>, Vec<String>) {
    let shapes: HashMap<&str, LayerShape> = analysis
        .layers
        .iter()
        .map(|l| (l.name.as_str(), layer_shape(l)))
        .collect();
    let mut saved = vec![0.0; PERF_LEVELS.len()];
    let mut not_estimated = Vec::new();
    for layer in layers.iter_mut().filter(|l| l.prunable) {
        match (cost, layer.ms, layer.flops) {
            (Some(cost), Some(ms), Some(flops)) if ms > 0.0 => {
                let shape = shapes.get(layer.name.as_str()).copied().unwrap_or_default();
                for (i, &s) in PERF_LEVELS.iter().enumerate() {
                    let at = cost.layer_ms(ms, flops as f64, shape, s);
                    saved[i] += ms - at;
                    layer.estimated_ms.insert(level_key(s), at);
                }
            }
            _ => not_estimated.push(layer.name.clone()),
        }
    }
    (saved, not_estimated)
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
        // conv: 100 FLOPs in 1 ms (the best rate); fc: 10 FLOPs in 1 ms.
        let cost = CostModel::fit(&[("conv", 1.0, 100.0), ("fc", 1.0, 10.0)]).unwrap();
        assert_eq!(cost.fastest, "conv");
        let many = LayerShape::default();
        for s in [0.0, 0.4, 0.6] {
            // Below SPARSE_FROM the engine runs its dense kernel.
            assert!(s < SPARSE_FROM);
            assert_eq!(cost.layer_ms(1.0, 100.0, many, s), 1.0);
        }
        // From it on the sparse one: already faster for this layer (it breaks even at
        // 1 − efficiency), slower for a 3×3 convolution (test below).
        assert!(cost.layer_ms(1.0, 100.0, many, SPARSE_FROM) < 1.0);
        // At 0.95 the sparse kernel takes 0.05 / efficiency of the compute part.
        let want = 0.05 / SPARSE_EFFICIENCY;
        assert!((cost.layer_ms(1.0, 100.0, many, 0.95) - want).abs() < 1e-12);
        // fc's compute part is 10 FLOPs at RATE_SHARE of the best rate, at most its time.
        let c = (10.0 / (100.0 * RATE_SHARE)).min(1.0);
        assert!((cost.layer_ms(1.0, 10.0, many, 0.95) - (1.0 - c * (1.0 - want))).abs() < 1e-12);
        assert!(CostModel::fit(&[("x", 0.0, 5.0)]).is_none());
    }

    #[test]
    fn winograd_convolutions_gain_less() {
        let cost = CostModel::fit(&[("conv", 1.0, 100.0)]).unwrap();
        let plain = LayerShape { winograd: false };
        let winograd = LayerShape { winograd: true };
        let at = |shape, s| cost.layer_ms(1.0, 100.0, shape, s);
        assert!(at(plain, 0.95) < at(winograd, 0.95));
        // Against the dense 3×3 kernel the sparse one wins only past 1 − efficiency / advantage.
        let from = 1.0 - SPARSE_EFFICIENCY / DENSE_3X3_ADVANTAGE;
        assert!(from > SPARSE_FROM);
        assert!(at(winograd, SPARSE_FROM) > 1.0);
        assert!(at(winograd, from - 0.01) > 1.0);
        assert!(at(winograd, (from + 1.0) / 2.0) < 1.0);
    }
}

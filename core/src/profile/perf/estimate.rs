//! The estimate: the cost model behind `estimated_ms`, and the FLOPs figures behind
//! `estimated_flops` at each level.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::assemble::list;
use super::{LayerPerf, PERF_LEVELS, PerfProfile};
use crate::analysis::{Layer, ModelAnalysis};
use crate::model::attr::AttrValue;
use crate::profile::levels::level_key;

/// The engine every estimated time stands for, named wherever one is shown.
pub const ENGINE: &str = "a sparsity-aware engine (DeepSparse-like)";

/// How far the model-level estimate was from a real sparsity-aware engine, as measured by
/// `bench/sparse_engine.py` (docs/benchmarks.md, "Sparse engine"): shown beside each estimate.
pub const MEASURED_ERROR: &str = "measured 16% under to 16% over DeepSparse 1.8.0's speedups on three bench models, 165 of 168 within 15% over seven runs (each engine's uncontended time on one 2-core host; another host's engine can differ more: docs/benchmarks.md, \"Sparse engine\")";

/// What a sparse kernel costs against the engine's dense kernel for the same layer: at sparsity `s`
/// on `n` output positions it takes `overhead + (1 − s) · (1 / efficiency + per_kept_weight / n)`
/// of the layer's dense compute time. `efficiency` is its speed per kept weight and position
/// against the dense kernel's (it skips the pruned weights but runs slower per remaining one:
/// irregular access, no register blocking across the pruned dimension); `per_kept_weight` is what
/// each kept weight costs once, whatever the map (loading it and its index, starting its loop over
/// the positions), in positions' worth of work, so a small map gains less; `overhead` is what it
/// costs whatever the sparsity (writing the whole output). Each kernel has its own, fitted to
/// DeepSparse 1.8.0 by `bench/sparse_engine_fit.py` on the bench model that runs on it
/// (docs/analysis.md, "Estimates").
#[derive(Debug, Clone, Copy)]
struct SparseCost {
    efficiency: f64,
    overhead: f64,
    per_kept_weight: f64,
}

impl SparseCost {
    /// The share of the dense compute time the sparse kernel takes at `sparsity`, on `positions`
    /// output positions per batch (unknown: as on a large map).
    fn share(self, sparsity: f64, positions: Option<f64>) -> f64 {
        let once = positions
            .filter(|&n| n > 0.0)
            .map_or(0.0, |n| self.per_kept_weight / n);
        self.overhead + (1.0 - sparsity) * (1.0 / self.efficiency + once)
    }
}

/// A 1×1 Conv's sparse kernel (the MobileNet- and ResNet-50-shaped bench models).
const POINTWISE: SparseCost = SparseCost {
    efficiency: 0.66,
    overhead: 0.048,
    per_kept_weight: PER_KEPT_WEIGHT,
};

/// A k×k Conv's (the ResNet-50-shaped model's 3×3 ones) and a strided 1×1 Conv's: the engine's
/// dense kernels for these are its best tuned (Winograd's algorithm for 3×3 ones on large maps),
/// and its sparse one has a large fixed cost, so it gains less per pruned weight and nothing until
/// about the sparsity at which the engine switches to it. The most host-dependent: on an earlier
/// host of the same CPU type, where the engine's dense 3×3 kernels ran 2.4× faster, its sparse ones
/// barely paid.
const SPATIAL: SparseCost = SparseCost {
    efficiency: 0.51,
    overhead: 0.19,
    per_kept_weight: PER_KEPT_WEIGHT,
};

/// A MatMul's or Gemm's (the BERT-shaped model's): a kernel of its own, with no fixed cost that the
/// fit could tell from zero. Every bench MatMul ran on 128 rows, so a cost per kept weight could
/// not be told from its efficiency: none is counted.
const MATMUL: SparseCost = SparseCost {
    efficiency: 0.69,
    overhead: 0.0,
    per_kept_weight: 0.0,
};

/// A sparse Conv kernel's cost per kept weight, in output positions' worth of work
/// ([`SparseCost`]): DeepSparse 1.8.0's sparse Convs gained least on the smallest maps, and on
/// 7×7 ones at 70% ran slower than its dense kernels. The model-level error cannot tell this term
/// (on runs 1–4, 96 of 96 plans within 15% with it anywhere from 0 to 24); it is chosen by the
/// ranking of layers by time saved (docs/analysis.md, "Estimates").
const PER_KEPT_WEIGHT: f64 = 8.0;

/// The sparsity from which the engine runs a Conv's sparse kernel, faster than its dense one or
/// not: DeepSparse 1.8.0 ran a Conv at 60.0% on its dense kernel and one at 60.3% on its sparse one
/// (its kernel names in the planned bench models; the ResNet-50-shaped model with every layer at
/// 70% ran at half its dense speed).
/// `optimize` reads each layer at its own sparsity ([`estimate_points`]), so the step is where
/// the engine's is, not smeared between two levels.
pub(super) const SPARSE_FROM: f64 = 0.601;

/// The same for a MatMul or Gemm: DeepSparse 1.8.0 ran its sparse MatMul kernels at 50% already
/// (on all three bench models), its dense Conv kernels still.
pub(super) const MATMUL_SPARSE_FROM: f64 = 0.5;

/// A Conv with at most this many input channels per group runs the engine's dense kernel at any
/// sparsity: an image model's first layer (RGB), a depthwise Conv (one). A sparse kernel skips
/// pruned weights along the input channels, and there are too few to skip (DeepSparse 1.8.0 kept
/// its dense depthwise and first-layer kernels at every sparsity).
pub(super) const DENSE_INPUT_CHANNELS: i64 = 4;

/// The estimate for [`ENGINE`], made from one dense measurement in ONNX Runtime and constants fitted
/// to DeepSparse 1.8.0 by `bench/sparse_engine_fit.py` (docs/analysis.md, "Performance profile").
/// For a prunable layer with measured time `t` and FLOPs `f`:
///
/// - `R`, the highest FLOP rate `f / t` any prunable layer reached in this measurement, stands for
///   the rate of compute-bound work on this machine;
/// - the layer's compute part is `c = min(t, f / R)`; the rest, `t − c`, is memory traffic and
///   kernel overhead, which pruning does not remove;
/// - the engine runs the layer's [`Kernel`]: a dense one at any sparsity, or from [`SPARSE_FROM`]
///   ([`MATMUL_SPARSE_FROM`] for a MatMul or Gemm) a sparse one, which takes
///   `σ = o + (1 − s) · (1 / e + w / n)` of the compute part on `n` output positions per batch
///   ([`SparseCost`], the kernel's own `e`, `o` and `w`): `t(s) = t − c · (1 − σ)`, more than `t`
///   where the sparse kernel is the slower one; below the threshold `t(s) = t`.
///
/// Non-prunable layers keep their time. The model at level `s` is the measured model time less
/// every prunable layer's saving, `T(s) = T − Σ (t(0) − t(s))`: the shape of Sparsify's
/// `est_time`, so `T(0)` is the measurement itself.
pub(super) struct CostModel {
    pub(super) flops_per_ms: f64,
}

/// Which kernel the engine runs for a prunable layer: what the cost model reads of its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kernel {
    /// Dense at any sparsity: a Conv with at most [`DENSE_INPUT_CHANNELS`] input channels per group.
    Dense,
    /// A Conv with a kernel larger than 1×1, or a strided 1×1 one (it gathers its input, and
    /// DeepSparse 1.8.0's strided 1×1 Convs gained what its 3×3 ones did, not what its 1×1 ones did).
    Spatial,
    /// A 1×1 Conv with stride 1.
    Pointwise,
    /// A MatMul or Gemm.
    MatMul,
}

impl Kernel {
    /// The sparsity from which the engine runs the sparse kernel, and that kernel's cost; `None`
    /// when it never does.
    fn sparse(self) -> Option<(f64, SparseCost)> {
        match self {
            Kernel::Dense => None,
            Kernel::Spatial => Some((SPARSE_FROM, SPATIAL)),
            Kernel::Pointwise => Some((SPARSE_FROM, POINTWISE)),
            Kernel::MatMul => Some((MATMUL_SPARSE_FROM, MATMUL)),
        }
    }
}

impl CostModel {
    /// From the (name, ms, FLOPs) of the prunable layers, with the layer that reached the best
    /// rate; `None` when none has both.
    pub(super) fn fit(layers: &[(&str, f64, f64)]) -> Option<(CostModel, String)> {
        layers
            .iter()
            .filter(|(_, ms, flops)| *ms > 0.0 && *flops > 0.0)
            .map(|(name, ms, flops)| (flops / ms, *name))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(rate, name)| {
                let cost = CostModel { flops_per_ms: rate };
                (cost, name.to_string())
            })
    }

    fn compute_ms(&self, ms: f64, flops: f64) -> f64 {
        (flops / self.flops_per_ms).min(ms)
    }

    /// The layer's time at `sparsity`, from its dense `ms` and `flops` and its `positions`; `None`
    /// without a time or FLOPs.
    pub(super) fn layer_ms(&self, layer: &LayerPerf, kernel: Kernel, sparsity: f64) -> Option<f64> {
        let (ms, flops) = (layer.ms.filter(|&t| t > 0.0)?, layer.flops? as f64);
        Some(match kernel.sparse() {
            Some((from, cost)) if sparsity >= from => {
                let share = cost.share(sparsity, layer.positions.map(|n| n as f64));
                ms - self.compute_ms(ms, flops) * (1.0 - share)
            }
            _ => ms,
        })
    }
}

/// The kernel the engine runs for an analysed prunable layer, from its op, weight shape
/// (`[out, in per group, kernel…]` for a Conv) and strides.
pub(super) fn layer_kernel(layer: &Layer) -> Kernel {
    let strided = layer.attributes.iter().any(|(name, value)| {
        name == "strides" && matches!(value, AttrValue::Ints(s) if s.iter().any(|&s| s > 1))
    });
    kernel_of(
        &layer.op_type,
        layer.weight.as_ref().map(|w| w.shape.as_slice()),
        strided,
    )
}

/// The output positions per batch each of a layer's weights is applied at (a Conv's output pixels
/// times the batch, a MatMul's rows): its `flops` over two per weight.
fn layer_positions(layer: &Layer, flops: Option<u64>) -> Option<u64> {
    let weights = layer.weight.as_ref()?.shape.iter().product::<i64>();
    let weights = u64::try_from(weights).ok().filter(|&w| w > 0)?;
    Some(flops? / (2 * weights))
}

/// A prunable layer's estimated time over every sparsity from 0 to 1, as the points between which
/// it is linear: the profile's levels and the sparsities on either side of its kernel's switch to
/// the sparse kernel. `optimize` reads each layer at its own sparsity from these, exactly; between
/// the levels alone, a layer at 62% would be read a fifth of the way from the dense time at 60% to
/// the sparse one at 70%, while the engine runs it on one kernel or the other. `None` for a
/// profile without the cost model's inputs (a FLOPs profile, one written before they were
/// recorded) or a layer without a time, FLOPs or kernel.
pub fn estimate_points(perf: &PerfProfile, layer: &LayerPerf) -> Option<Vec<(f64, f64)>> {
    let cost = CostModel {
        flops_per_ms: perf.model.compute_flops_per_ms.filter(|&r| r > 0.0)?,
    };
    let kernel = layer.kernel?;
    let mut at: Vec<f64> = perf.levels.clone();
    at.extend([0.0, 1.0]);
    if let Some((from, _)) = kernel.sparse() {
        // Just below the switch the dense kernel still runs.
        at.extend([from - 1e-9, from]);
    }
    at.into_iter()
        .map(|s| Some((s, cost.layer_ms(layer, kernel, s)?)))
        .collect()
}

fn kernel_of(op_type: &str, weight_shape: Option<&[i64]>, strided: bool) -> Kernel {
    if op_type != "Conv" {
        return Kernel::MatMul;
    }
    match weight_shape {
        Some([_, inputs, _, ..]) if (1..=DENSE_INPUT_CHANNELS).contains(inputs) => Kernel::Dense,
        Some([_, _, window @ ..]) if window.iter().product::<i64>() > 1 => Kernel::Spatial,
        _ if strided => Kernel::Spatial,
        _ => Kernel::Pointwise,
    }
}

/// What [`estimate_layers`] found besides the layers' estimates.
pub(super) struct Estimated {
    /// The model's saving at each level.
    pub(super) saved: Vec<f64>,
    /// Prunable layers without an estimate (no time, no FLOPs): they keep their time.
    pub(super) not_estimated: Vec<String>,
    /// Prunable layers the engine runs dense at any sparsity ([`Kernel::Dense`]).
    pub(super) dense: Vec<String>,
}

/// Fills each prunable layer's `estimated_ms` by `cost`.
pub(super) fn estimate_layers(
    layers: &mut [LayerPerf],
    analysis: &ModelAnalysis,
    cost: Option<&CostModel>,
) -> Estimated {
    let shapes: HashMap<&str, &Layer> = analysis
        .layers
        .iter()
        .map(|l| (l.name.as_str(), l))
        .collect();
    let mut found = Estimated {
        saved: vec![0.0; PERF_LEVELS.len()],
        not_estimated: Vec::new(),
        dense: Vec::new(),
    };
    for layer in layers.iter_mut().filter(|l| l.prunable) {
        let shape = shapes.get(layer.name.as_str());
        let kernel = shape.map_or_else(
            || kernel_of(&layer.op_type, None, false),
            |l| layer_kernel(l),
        );
        layer.positions = shape.and_then(|l| layer_positions(l, layer.flops));
        // Every level's time, or none: `layer_ms` needs the layer's time and FLOPs.
        let times: Option<Vec<f64>> = cost.and_then(|cost| {
            PERF_LEVELS
                .iter()
                .map(|&s| cost.layer_ms(layer, kernel, s))
                .collect()
        });
        match (times, layer.ms) {
            (Some(times), Some(ms)) => {
                if kernel == Kernel::Dense {
                    found.dense.push(layer.name.clone());
                }
                layer.kernel = Some(kernel);
                for ((saved, &s), at) in found.saved.iter_mut().zip(PERF_LEVELS.iter()).zip(times) {
                    *saved += ms - at;
                    layer.estimated_ms.insert(level_key(s), at);
                }
            }
            _ => found.not_estimated.push(layer.name.clone()),
        }
    }
    found
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

    /// A measured layer: `ms` and `flops` dense, on `positions` output positions per batch.
    fn measured(ms: f64, flops: u64, positions: Option<u64>) -> LayerPerf {
        LayerPerf {
            prunable: true,
            ms: Some(ms),
            flops: Some(flops),
            positions,
            ..LayerPerf::default()
        }
    }

    /// The time of a layer measured at 1 ms for 100 FLOPs (the best rate) on a large map.
    fn at(cost: &CostModel, kernel: Kernel, s: f64) -> f64 {
        cost.layer_ms(&measured(1.0, 100, None), kernel, s).unwrap()
    }

    #[test]
    fn the_cost_model_keeps_overhead_and_scales_compute() {
        // conv: 100 FLOPs in 1 ms (the best rate); fc: 10 FLOPs in 1 ms.
        let (cost, fastest) = CostModel::fit(&[("conv", 1.0, 100.0), ("fc", 1.0, 10.0)]).unwrap();
        assert_eq!(fastest, "conv");
        let conv = Kernel::Pointwise;
        for s in [0.0, 0.4, 0.59] {
            // Below SPARSE_FROM the engine runs its dense kernel.
            assert!(s < SPARSE_FROM);
            assert_eq!(at(&cost, conv, s), 1.0);
        }
        // Exactly at 0.6 too: DeepSparse ran a Conv at 60.0% dense, one at 60.3% sparse.
        assert_eq!(at(&cost, conv, 0.6), 1.0);
        // From it on the sparse one: already faster for this layer, slower for a k×k Conv (test
        // below).
        assert!(at(&cost, conv, SPARSE_FROM) < 1.0);
        // At 0.95 the sparse kernel takes its overhead plus 0.05 / efficiency of the compute part.
        let want = POINTWISE.overhead + 0.05 / POINTWISE.efficiency;
        assert!((at(&cost, conv, 0.95) - want).abs() < 1e-12);
        // fc's compute part is 10 FLOPs at the best rate, a tenth of its time: the rest stays.
        let fc = cost.layer_ms(&measured(1.0, 10, Some(128)), Kernel::MatMul, 0.95);
        let share = MATMUL.overhead + 0.05 / MATMUL.efficiency;
        assert!((fc.unwrap() - (1.0 - 0.1 * (1.0 - share))).abs() < 1e-12);
        assert!(CostModel::fit(&[("x", 0.0, 5.0)]).is_none());
        // No time, no estimate.
        assert!(cost.layer_ms(&LayerPerf::default(), conv, 0.9).is_none());
    }

    #[test]
    fn a_small_map_gains_less_per_pruned_weight() {
        let (cost, _) = CostModel::fit(&[("conv", 1.0, 100.0)]).unwrap();
        let on =
            |positions| cost.layer_ms(&measured(1.0, 100, Some(positions)), Kernel::Pointwise, 0.9);
        // Each kept weight costs PER_KEPT_WEIGHT positions' worth once: on 8 positions that
        // doubles a kept weight's cost; on 12544 (a 112×112 map) it is lost in the noise.
        let small = on(8).unwrap();
        let want = POINTWISE.overhead + 0.1 * (1.0 / POINTWISE.efficiency + PER_KEPT_WEIGHT / 8.0);
        assert!((small - want).abs() < 1e-12, "{small} vs {want}");
        assert!(on(49).unwrap() > on(196).unwrap());
        assert!(on(196).unwrap() > on(12544).unwrap());
        assert!((on(12544).unwrap() - at(&cost, Kernel::Pointwise, 0.9)).abs() < 1e-3);
    }

    #[test]
    fn matmuls_switch_to_the_sparse_kernel_before_convolutions() {
        let (cost, _) = CostModel::fit(&[("fc", 1.0, 100.0)]).unwrap();
        let s = (MATMUL_SPARSE_FROM + SPARSE_FROM) / 2.0;
        assert!(at(&cost, Kernel::MatMul, s) < 1.0);
        assert_eq!(at(&cost, Kernel::Pointwise, s), 1.0);
        assert_eq!(at(&cost, Kernel::MatMul, 0.4), 1.0);
    }

    #[test]
    fn spatial_convolutions_gain_less_and_few_input_channels_none() {
        let (cost, _) = CostModel::fit(&[("conv", 1.0, 100.0)]).unwrap();
        let at = |kernel, s| at(&cost, kernel, s);
        for s in [SPARSE_FROM, 0.7, 0.8, 0.9, 0.95] {
            assert!(at(Kernel::Pointwise, s) < at(Kernel::Spatial, s), "{s}");
        }
        // Against the dense k×k kernel the sparse one wins only past the sparsity where its share
        // of the compute part falls to 1: about where the engine switches to it.
        let even = 1.0 - (1.0 - SPATIAL.overhead) * SPATIAL.efficiency;
        assert!((even - SPARSE_FROM).abs() < 0.05, "{even}");
        assert!(at(Kernel::Spatial, even.max(SPARSE_FROM) + 0.01) < 1.0);
        assert!((at(Kernel::Spatial, 1.0) - SPATIAL.overhead).abs() < 1e-12);
        for s in [0.0, 0.7, 0.99] {
            assert_eq!(at(Kernel::Dense, s), 1.0);
        }
    }

    #[test]
    fn the_points_give_each_layer_its_estimate_at_any_sparsity() {
        use crate::profile::levels::interpolate;
        let perf = PerfProfile {
            kind: super::super::PerfKind::Measured,
            levels: PERF_LEVELS.to_vec(),
            model: super::super::ModelPerf {
                compute_flops_per_ms: Some(100.0),
                ..Default::default()
            },
            layers: Vec::new(),
            op_types: Vec::new(),
            fused: Vec::new(),
            notes: Vec::new(),
            seconds: 0.0,
        };
        let cost = CostModel {
            flops_per_ms: 100.0,
        };
        for kernel in [
            Kernel::Dense,
            Kernel::Spatial,
            Kernel::Pointwise,
            Kernel::MatMul,
        ] {
            let layer = LayerPerf {
                kernel: Some(kernel),
                ..measured(2.0, 150, Some(49))
            };
            let mut points = estimate_points(&perf, &layer).unwrap();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (levels, values): (Vec<f64>, Vec<f64>) = points.into_iter().unzip();
            // Read between the points, every sparsity gets the cost model's own value: a layer
            // just past its switch runs the sparse kernel, one just before it the dense one.
            for i in 0..=1000 {
                let s = i as f64 / 1000.0;
                let want = cost.layer_ms(&layer, kernel, s).unwrap();
                let got = interpolate(&levels, &values, s);
                assert!(
                    (got - want).abs() < 1e-6,
                    "{kernel:?} at {s}: {got} vs {want}"
                );
            }
        }
        // Without the cost model's inputs (an older profile) the levels are all there is.
        let old = LayerPerf {
            kernel: None,
            ms: Some(2.0),
            flops: Some(150),
            ..LayerPerf::default()
        };
        assert!(estimate_points(&perf, &old).is_none());
    }

    #[test]
    fn the_kernel_follows_the_op_and_the_weight_shape() {
        let conv = |shape: &[i64]| kernel_of("Conv", Some(shape), false);
        // A first layer on RGB, a depthwise Conv: dense, strided or not.
        assert_eq!(conv(&[64, 3, 7, 7]), Kernel::Dense);
        assert_eq!(kernel_of("Conv", Some(&[64, 3, 7, 7]), true), Kernel::Dense);
        assert_eq!(conv(&[32, 1, 3, 3]), Kernel::Dense);
        assert_eq!(conv(&[128, 64, 3, 3]), Kernel::Spatial);
        assert_eq!(conv(&[128, 64, 1, 1]), Kernel::Pointwise);
        // A strided 1×1 Conv (a ResNet downsample) gathers its input like a k×k one.
        assert_eq!(
            kernel_of("Conv", Some(&[128, 64, 1, 1]), true),
            Kernel::Spatial
        );
        assert_eq!(conv(&[128, 64, 3]), Kernel::Spatial);
        assert_eq!(kernel_of("Conv", None, false), Kernel::Pointwise);
        assert_eq!(
            kernel_of("Gemm", Some(&[1000, 2048]), false),
            Kernel::MatMul
        );
        assert_eq!(
            kernel_of("MatMul", Some(&[768, 3072]), false),
            Kernel::MatMul
        );
    }
}

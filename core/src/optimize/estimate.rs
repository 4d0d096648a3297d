//! Estimates per layer and for the model, every value an `Option` that stays absent when its
//! input is (Sparsify's estimates crashed on a missing FLOPs or time figure): a FLOPs profile
//! gives no times, a layer without FLOPs no FLOPs figure. FLOPs and params are given for the
//! whole model (what the user sees change) and, as Sparsify showed them, for the prunable layers
//! only.

use super::plan::{LayerPlan, ModelEstimate};
use super::series::{LayerSeries, Series};
use crate::ModelAnalysis;
use crate::profile::{PerfKind, PerfProfile, level_key};

/// Sparsify's recovery confidence: B is the loss sensitivity at the reference sparsity, E at the
/// chosen one. 1 when the layer is unpruned or E == B; 0 when there is no reference (or B is 0);
/// otherwise `(B − E) / B + 1` (B = 0.4, E = 0.5 gives 0.75).
///
/// The reference is the loss-only fit (balance 1, no restrictions or filters) at the *user's*
/// target. Sparsify always used 0.85 for it whatever the target, so at a target of 0.5
/// every layer looked far more recoverable than the loss curve says.
pub fn recovery(loss: &Series, reference: Option<f64>, s: Option<f64>) -> f64 {
    let Some(s) = s.filter(|&s| s > 0.0) else {
        return 1.0;
    };
    let reference = reference.filter(|&r| r > 0.0);
    let e = loss.sensitivity(s);
    let b = reference.map(|r| loss.sensitivity(r));
    match b {
        Some(b) if b == e => 1.0,
        Some(b) if b != 0.0 => (b - e) / b + 1.0,
        _ => 0.0,
    }
}

/// Per-layer plans with their estimates.
pub fn layer_plans(
    layers: &[LayerSeries],
    sparsity: &[Option<f64>],
    overridden: &[bool],
    reasons: &[Option<String>],
    reference: &[Option<f64>],
    perf_kind: PerfKind,
) -> Vec<LayerPlan> {
    layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let s = sparsity[i];
            let at = s.unwrap_or(0.0);
            // Times only from a measured profile's own timings for this layer.
            let timed = (perf_kind == PerfKind::Measured && layer.perf_own)
                .then_some(layer.perf.as_ref())
                .flatten();
            LayerPlan {
                name: layer.name.clone(),
                weight: layer.weight.clone(),
                op_type: layer.op_type.clone(),
                params: layer.params as u64,
                sparsity: s,
                overridden: overridden[i],
                reason: reasons[i].clone(),
                baseline_ms: timed.map(|p| p.baseline()),
                estimated_ms: timed.map(|p| p.value(at)),
                flops_baseline: layer.flops,
                flops: layer.flops.map(|f| f as f64 * (1.0 - at)),
                recovery: Some(recovery(&layer.loss, reference[i], s)),
                loss_sensitivity: s.filter(|&v| v > 0.0).map(|v| layer.loss.sensitivity(v)),
                speedup: layer.perf.as_ref().and_then(|p| p.gain(at)),
            }
        })
        .collect()
}

fn ratio(before: f64, after: f64) -> f64 {
    if before > 0.0 && after > 0.0 {
        before / after
    } else {
        1.0
    }
}

/// The model's estimates from the layer plans.
///
/// Time (measured profiles only): `T_base · (T_0 − Σ (t(0) − t(s))) / T_0`, where `T_base` is the
/// measured time per batch, `T_0` the profile's estimated model time with nothing pruned (level 0;
/// `T_base` when absent) and the sum runs over the layers with their own timings.
pub fn model_estimate(
    analysis: &ModelAnalysis,
    perf: &PerfProfile,
    layers: &[LayerSeries],
    plans: &[LayerPlan],
) -> ModelEstimate {
    let (baseline_ms, estimated_ms) = match (perf.kind, perf.model.ms_per_batch) {
        (PerfKind::Measured, Some(base)) if base > 0.0 => {
            let t0 = perf
                .model
                .estimated_ms
                .get(&level_key(0.0))
                .copied()
                .filter(|&t| t > 0.0)
                .unwrap_or(base);
            let saved: f64 = plans
                .iter()
                .filter_map(|p| Some(p.baseline_ms? - p.estimated_ms?))
                .sum();
            let est = base * (t0 - saved) / t0;
            (Some(base), (est > 0.0).then_some(est))
        }
        _ => (None, None),
    };
    let pruned_flops: f64 = plans
        .iter()
        .filter_map(|p| Some(p.flops_baseline? as f64 - p.flops?))
        .sum();
    let prunable_flops_baseline: u64 = plans.iter().filter_map(|p| p.flops_baseline).sum();
    let pruned_params: f64 = layers
        .iter()
        .zip(plans)
        .map(|(l, p)| l.params * p.sparsity.unwrap_or(0.0))
        .sum();
    let prunable_params_baseline: u64 = plans.iter().map(|p| p.params).sum();
    let flops_baseline = analysis.totals.flops;
    let flops = (flops_baseline as f64 - pruned_flops).max(0.0);
    let params_baseline = analysis.totals.params;
    let params = (params_baseline as f64 - pruned_params).max(0.0);
    let prunable_flops = (prunable_flops_baseline as f64 - pruned_flops).max(0.0);
    let prunable_params = (prunable_params_baseline as f64 - pruned_params).max(0.0);
    let recoveries: Vec<f64> = plans.iter().filter_map(|p| p.recovery).collect();
    ModelEstimate {
        baseline_ms,
        estimated_ms,
        estimated_speedup: baseline_ms.zip(estimated_ms).map(|(b, e)| b / e),
        flops_baseline,
        flops,
        flops_reduction: ratio(flops_baseline as f64, flops),
        params_baseline,
        params,
        compression: ratio(params_baseline as f64, params),
        recovery: (!recoveries.is_empty())
            .then(|| recoveries.iter().sum::<f64>() / recoveries.len() as f64),
        prunable_flops_baseline,
        prunable_flops,
        prunable_flops_reduction: ratio(prunable_flops_baseline as f64, prunable_flops),
        prunable_params_baseline,
        prunable_params,
        prunable_compression: ratio(prunable_params_baseline as f64, prunable_params),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_follows_sparsify() {
        let loss = Series::new([(0.0, 0.0), (1.0, 1.0)], true).unwrap();
        // B = 0.4, E = 0.5 → 0.75.
        assert!((recovery(&loss, Some(0.4), Some(0.5)) - 0.75).abs() < 1e-12);
        assert_eq!(recovery(&loss, Some(0.4), Some(0.4)), 1.0);
        assert_eq!(recovery(&loss, Some(0.4), None), 1.0);
        assert_eq!(recovery(&loss, None, Some(0.5)), 0.0);
        assert_eq!(recovery(&loss, Some(0.0), Some(0.5)), 0.0);
        // Pruning less than the reference is more recoverable than 1.
        assert!((recovery(&loss, Some(0.4), Some(0.2)) - 1.5).abs() < 1e-12);
    }
}

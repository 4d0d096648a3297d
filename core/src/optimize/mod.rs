//! Optimization: the sparsity of each prunable layer, auto-fitted from a performance profile (or
//! FLOPs) and a loss profile (or approx), with its estimates and training schedule — Sparsify's
//! `PruningModelEvaluator` and default schedule, with the defects of both fixed (the module docs of
//! `fit`, `series` and `estimate` say which).
//!
//! The steps of [`optimize`]:
//!
//! 1. [`series`]: a perf series (time, or FLOPs) and a loss series per prunable layer, smoothed,
//!    turned into non-decreasing optimisation values and rescaled globally. A layer a chosen
//!    profile does not list falls back to its estimate (FLOPs or approx) and a note says so.
//! 2. [`fit`]: the loss-only reference fit at the user's target (recovery is measured against
//!    it); then the costs at the user's balance, where a layer that saves more time per weight
//!    costs less; water-filling to the target; overrides, restrictions (first prunable layer,
//!    grouped convs) and filters; and redistribution of what fixed or dropped layers leave over,
//!    so the achieved average meets the target when that is possible (a note says when not).
//! 3. [`estimate`]: per-layer and model estimates (time and speedup, FLOPs, params, recovery).
//! 4. [`schedule()`]: the epochs split and LR modifiers, given by the caller in the options.

pub mod channel_plan;
pub mod channels;
pub mod estimate;
pub mod fit;
pub mod plan;
pub mod quantization;
pub mod schedule;
pub mod series;

pub use fit::{MAX_OVERRIDE, MAX_SPARSITY};
pub use plan::{Filters, LayerPlan, LrModifier, ModelEstimate, Override, PruningPlan, Schedule};
pub use schedule::schedule;

use crate::ModelAnalysis;
use crate::error::{Error, Result};
use crate::profile::{LossProfile, PerfProfile};

/// What the user asks of an optimization.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizeOptions {
    /// Average sparsity over the prunable params, in (0, 0.95].
    pub target: f64,
    /// 0 optimizes for performance, 1 for loss (recovery).
    pub balance: f64,
    pub filters: Filters,
    /// In order; later ones win.
    pub overrides: Vec<Override>,
    pub schedule: Schedule,
}

impl Default for OptimizeOptions {
    /// Sparsify's defaults: target 0.85, balance 1 (loss only), min_sparsity 0.4.
    ///
    /// `min_speedup` is off. Sparsify's `filter_min_perf_gain` (0.6 on the server, 0.75 in the UI)
    /// compared `baseline / value(s)` of a decreasing series, which is at least 1 whenever pruning
    /// does not slow a layer down, so a threshold below 1 never filtered anything. Here
    /// `min_speedup` is that same ratio named for what it is — the layer's estimated time ratio
    /// `t(0) / t(s)` (its FLOPs ratio under the FLOPs profile) — and a useful threshold is above 1
    /// (1.2: keep only layers that get at least 20 % faster); off unless the user sets one.
    /// `min_recovery` is off too: Sparsify's −1 acted only when a layer's loss exceeded three
    /// times its reference, and every filter here is an explicit `Option`.
    fn default() -> Self {
        OptimizeOptions {
            target: 0.85,
            balance: 1.0,
            filters: Filters {
                min_sparsity: Some(0.4),
                min_speedup: None,
                min_recovery: None,
            },
            overrides: Vec::new(),
            schedule: schedule("SGD", schedule::DEFAULT_EPOCHS, None, None),
        }
    }
}

fn check(options: &OptimizeOptions) -> Result<()> {
    let t = options.target;
    if !(t > 0.0 && t <= MAX_SPARSITY) {
        return Err(Error::Usage(format!(
            "target {t} is outside (0, {MAX_SPARSITY}]; give the average sparsity to reach, such as 0.85."
        )));
    }
    let b = options.balance;
    if !(0.0..=1.0).contains(&b) {
        return Err(Error::Usage(format!(
            "balance {b} is outside [0, 1]; give 0 to optimize for performance, 1 for loss, or a value between."
        )));
    }
    let f = &options.filters;
    if let Some(v) = f.min_sparsity
        && !(0.0..=1.0).contains(&v)
    {
        return Err(Error::Usage(format!(
            "min_sparsity {v} is outside [0, 1]; give a sparsity such as 0.4, or leave the filter off."
        )));
    }
    if let Some(v) = f.min_speedup
        && !(v.is_finite() && v >= 0.0)
    {
        return Err(Error::Usage(format!(
            "min_speedup {v} is not a speedup; give a time ratio such as 1.2, or leave the filter off."
        )));
    }
    if let Some(v) = f.min_recovery
        && !v.is_finite()
    {
        return Err(Error::Usage(format!(
            "min_recovery {v} is not a number; give a recovery confidence such as 0.9, or leave the filter off."
        )));
    }
    Ok(())
}

/// Fits the sparsity of every prunable layer and estimates what follows (see the module doc).
pub fn optimize(
    analysis: &ModelAnalysis,
    perf: &PerfProfile,
    perf_name: &str,
    loss: &LossProfile,
    loss_name: &str,
    options: &OptimizeOptions,
) -> Result<PruningPlan> {
    check(options)?;
    let (layers, mut notes) = series::build(analysis, perf, perf_name, loss, loss_name);
    if layers.is_empty() {
        return Err(Error::Usage(
            "the model has no prunable layers (Conv, Gemm or MatMul with a constant weight); there is nothing to optimize.".into(),
        ));
    }
    let overrides = fit::resolve_overrides(&layers, &options.overrides)?;
    let params: Vec<f64> = layers.iter().map(|l| l.params).collect();
    let all: Vec<usize> = (0..layers.len()).collect();
    // The loss-only reference at the user's target (Sparsify used 0.85 whatever the target).
    let reference = fit::water_fill(&fit::costs(&layers, 1.0), &params, &all, options.target);
    let costs = fit::costs(&layers, options.balance);
    let fitted = fit::fit(&fit::FitRequest {
        layers: &layers,
        costs: &costs,
        reference: &reference,
        target: options.target,
        filters: &options.filters,
        overrides: &overrides,
        restrictions: true,
    });
    if let Some(v) = options.filters.min_speedup
        && v < 1.0
    {
        notes.push(format!(
            "min_speedup {v} is below 1: a layer's t(0)/t(s) is at least 1 unless pruning slows it down, so this filter keeps almost every layer (as Sparsify's 0.6 and 0.75 defaults did)."
        ));
    }
    notes.extend(fitted.notes.iter().cloned());
    let layer_plans = estimate::layer_plans(
        &layers,
        &fitted.sparsity,
        &fitted.overridden,
        &fitted.reasons,
        &reference,
        perf.kind,
    );
    let model = estimate::model_estimate(analysis, perf, &layers, &layer_plans);
    Ok(PruningPlan {
        target: options.target,
        achieved: fitted.achieved,
        balance: options.balance,
        perf: perf_name.to_string(),
        loss: loss_name.to_string(),
        filters: options.filters.clone(),
        overrides: options.overrides.clone(),
        layers: layer_plans,
        model,
        schedule: options.schedule.clone(),
        notes,
        quantization: None,
        channels: None,
    })
}

#[cfg(test)]
mod tests;

//! A structured plan from the channel groups, a perf profile and a channel loss profile: the fit
//! of `channels`, turned into the plan every front end already shows (per-layer share of weights
//! removed, model estimates) with the channels kept per group beside it.

use super::channels::{self, GroupCost, LayerCost, Target, ThinnedTimes};
use super::plan::{
    ChannelPlan, Filters, GroupPlan, LayerPlan, ModelEstimate, PruningPlan, Schedule,
};
use super::series::Series;
use crate::ModelAnalysis;
use crate::analysis::Skipped;
use crate::error::{Error, Result};
use crate::model::onnx::GraphProto;
use crate::profile::{LossProfile, PerfKind, PerfProfile};
use crate::quantize::QuantMode;
use crate::structured::ChannelGroup;

/// What a structured fit reads.
pub struct ChannelFitInputs<'a> {
    pub analysis: &'a ModelAnalysis,
    pub graph: &'a GraphProto,
    pub groups: &'a [ChannelGroup],
    pub perf: &'a PerfProfile,
    pub perf_name: &'a str,
    pub loss: &'a LossProfile,
    pub loss_name: &'a str,
    /// Layer times on a thinner copy of the model, which say how much of each layer's time
    /// shrinks with its channels; `None`: all of it.
    pub thinned: Option<&'a ThinnedTimes>,
    /// The quantization `perf` and `thinned` were measured in (`None`: float).
    pub timed_as: Option<QuantMode>,
}

/// Fits the channels removed per group to `target` and estimates the smaller model.
pub fn plan(inputs: &ChannelFitInputs, target: Target, schedule: Schedule) -> Result<PruningPlan> {
    let ratio = match target {
        Target::Speedup(x) | Target::FlopsReduction(x) => x,
    };
    if !(ratio.is_finite() && ratio > 1.0 && ratio <= 100.0) {
        return Err(Error::Usage(format!(
            "a target of {ratio} is not a reduction; give how many times faster or smaller the model should be, such as 1.5 or 2."
        )));
    }
    let measured = inputs.perf.kind == PerfKind::Measured;
    let mut notes = Vec::new();
    // Without measured times a speedup is fitted on FLOPs, and the note says so.
    let fit_target = match target {
        Target::Speedup(x) if !measured => {
            notes.push(format!(
                "There is no measured performance profile, so the {x}× speedup was fitted as a {x}× FLOPs reduction; run a performance profile to fit on measured layer times."
            ));
            Target::FlopsReduction(x)
        }
        t => t,
    };
    let mut unprunable = Vec::new();
    let costs: Vec<GroupCost> = inputs
        .groups
        .iter()
        .map(|g| {
            let curve = inputs.loss.layer(&g.name).and_then(|l| {
                let points = inputs
                    .loss
                    .levels
                    .iter()
                    .copied()
                    .zip(l.values.iter().copied());
                Series::new(std::iter::once((0.0, 0.0)).chain(points), true)
            });
            if let Some(why) = &g.unprunable {
                unprunable.push(Skipped {
                    name: g.name.clone(),
                    reason: why.clone(),
                });
            } else if curve.is_none() {
                unprunable.push(Skipped {
                    name: g.name.clone(),
                    reason: format!("the loss profile '{}' did not measure it", inputs.loss_name),
                });
            }
            GroupCost {
                name: g.name.clone(),
                channels: g.channels,
                loss: curve.filter(|_| g.unprunable.is_none()),
                align: channels::alignment(g.channels),
            }
        })
        .collect();
    if costs.iter().all(|c| c.loss.is_none()) {
        return Err(Error::Usage(format!(
            "no channel group of the model can be pruned with the loss profile '{}': it measured none of them, or none can lose channels.",
            inputs.loss_name
        )));
    }
    let (layers, fixed_ms, fixed_flops) = channels::layer_costs(
        inputs.groups,
        inputs.graph,
        inputs.analysis,
        measured.then_some(inputs.perf),
        inputs.thinned.filter(|_| measured),
    );
    let fixed = match fit_target {
        Target::Speedup(_) => fixed_ms,
        Target::FlopsReduction(_) => fixed_flops,
    };
    let fit = channels::fit(&costs, &layers, fixed, fit_target);
    if !fit.reached {
        // Every group at its limit would ruin the model and still miss: say what can be reached.
        let (what, unit) = match fit_target {
            Target::Speedup(_) => (
                "speedup",
                "of the time does not shrink with channels (the runtime's own work, ops no group reaches, and the part of each layer's time a thinner copy of the model kept)",
            ),
            Target::FlopsReduction(_) => (
                "FLOPs reduction",
                "of the FLOPs are in layers no group reaches",
            ),
        };
        return Err(Error::Usage(format!(
            "a {what} of {ratio}× cannot be reached by removing channels: with {:.0}% of every prunable group's channels removed the estimate is {:.2}×, as {:.0}% {unit}; give a target below {:.2}.",
            channels::MAX_FRACTION * 100.0,
            fit.ratio(),
            100.0 * (fixed + layers.iter().map(|l| l.fixed_ms).sum::<f64>())
                / fit.cost_before.max(f64::MIN_POSITIVE),
            fit.ratio()
        )));
    }
    let fractions: Vec<f64> = costs
        .iter()
        .zip(&fit.removed)
        .map(|(c, &r)| r as f64 / c.channels.max(1) as f64)
        .collect();

    let layer_plans = layer_plans(inputs.analysis, &layers, &fractions, measured);
    let model = model_estimate(inputs, &layers, &fractions, fixed_ms, fixed_flops, measured);
    let params_baseline = inputs.analysis.totals.prunable_params as f64;
    let achieved = if params_baseline > 0.0 {
        1.0 - model.prunable_params / params_baseline
    } else {
        0.0
    };
    let groups = inputs
        .groups
        .iter()
        .zip(&costs)
        .zip(&fit.removed)
        .map(|((g, c), &r)| GroupPlan {
            name: g.name.clone(),
            channels: g.channels,
            kept: g.channels - r,
            loss: c
                .loss
                .as_ref()
                .map_or(0.0, |s| s.value(r as f64 / g.channels.max(1) as f64)),
            producers: g.producers.clone(),
        })
        .collect();
    Ok(PruningPlan {
        target: achieved,
        achieved,
        balance: 1.0,
        perf: inputs.perf_name.to_string(),
        loss: inputs.loss_name.to_string(),
        filters: Filters::default(),
        overrides: Vec::new(),
        layers: layer_plans,
        model,
        schedule,
        notes,
        quantization: None,
        channels: Some(ChannelPlan {
            target,
            reached: fit.reached,
            estimated_ratio: fit.ratio(),
            groups,
            unprunable,
            measured: None,
            timed_as: inputs.timed_as.filter(|_| measured),
        }),
    })
}

/// Each layer's share of weights removed: what stays of its input features times what stays of
/// its output channels.
fn layer_plans(
    analysis: &ModelAnalysis,
    layers: &[LayerCost],
    fractions: &[f64],
    measured: bool,
) -> Vec<LayerPlan> {
    layers
        .iter()
        .filter_map(|cost| {
            let layer = analysis.layer(&cost.name)?;
            let factor = cost.factor(fractions);
            let removed = 1.0 - factor;
            Some(LayerPlan {
                name: layer.name.clone(),
                weight: layer
                    .weight
                    .as_ref()
                    .map(|w| w.name.clone())
                    .unwrap_or_default(),
                op_type: layer.op_type.clone(),
                params: layer.prunable_params,
                sparsity: (removed > 1e-9).then_some(removed),
                overridden: false,
                reason: None,
                baseline_ms: measured.then_some(cost.ms),
                estimated_ms: measured.then_some(cost.ms_at(fractions)),
                flops_baseline: layer.flops,
                flops: layer.flops.map(|f| f as f64 * factor),
                recovery: None,
                loss_sensitivity: None,
                speedup: (factor > 0.0).then(|| 1.0 / factor),
            })
        })
        .collect()
}

fn model_estimate(
    inputs: &ChannelFitInputs,
    layers: &[LayerCost],
    fractions: &[f64],
    fixed_ms: f64,
    fixed_flops: f64,
    measured: bool,
) -> ModelEstimate {
    let analysis = inputs.analysis;
    let ratio = |before: f64, after: f64| if after > 0.0 { before / after } else { 1.0 };
    let layer_ms: f64 = layers.iter().map(|l| l.ms_at(fractions)).sum();
    let layer_flops: f64 = layers.iter().map(|l| l.flops * l.factor(fractions)).sum();
    let baseline_ms = measured.then_some(inputs.perf.model.ms_per_batch).flatten();
    let estimated_ms = baseline_ms.map(|_| fixed_ms + layer_ms);
    let flops = fixed_flops + layer_flops;
    let prunable_flops_baseline: f64 = layers.iter().map(|l| l.flops).sum();
    let params_of = |factor: &dyn Fn(&LayerCost) -> f64| -> f64 {
        layers
            .iter()
            .filter_map(|l| Some(analysis.layer(&l.name)?.prunable_params as f64 * factor(l)))
            .sum()
    };
    let prunable_params_baseline = params_of(&|_| 1.0);
    let prunable_params = params_of(&|l| l.factor(fractions));
    let params_baseline = analysis.totals.params as f64;
    let params = params_baseline - (prunable_params_baseline - prunable_params);
    ModelEstimate {
        baseline_ms,
        estimated_ms,
        estimated_speedup: baseline_ms.zip(estimated_ms).map(|(b, e)| ratio(b, e)),
        flops_baseline: analysis.totals.flops,
        flops,
        flops_reduction: ratio(analysis.totals.flops as f64, flops),
        params_baseline: analysis.totals.params,
        params,
        compression: ratio(params_baseline, params),
        recovery: None,
        prunable_flops_baseline: prunable_flops_baseline as u64,
        prunable_flops: layer_flops,
        prunable_flops_reduction: ratio(prunable_flops_baseline, layer_flops),
        prunable_params_baseline: prunable_params_baseline as u64,
        prunable_params,
        prunable_compression: ratio(prunable_params_baseline, prunable_params),
    }
}

//! The structured fit: how many channels to remove from each channel dependency group so that the
//! model reaches a speedup (or a FLOPs reduction) at the least loss.
//!
//! A layer's cost scales with the fraction of its input features and of its output channels that
//! stay: a convolution that reads group A and writes group B costs `t · k_A · k_B` after removal,
//! where `k` is the fraction kept (for a layer reading several groups, as after a `Concat`,
//! `k_in = 1 − Σ share_g · f_g` with `share_g` the part of its input features group g carries). Time
//! outside the layers (the runtime's own, element-wise ops the perf profile does not attribute)
//! is kept as it is, so the estimate errs on the slow side.
//!
//! The loss of removing a fraction `f` of a group is read off the group's measured curve
//! (linear between the measured fractions), and losses of different groups add, as the
//! unstructured fit assumes for layers. The fit is greedy: it removes channels in steps (the
//! group's alignment, so kept counts stay multiples of what kernels vectorize over), each time the
//! step of any group with the least loss per unit of cost saved, until the target is met.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::series::Series;
use crate::ModelAnalysis;
use crate::analysis::graph::GraphIndex;
use crate::model::onnx::GraphProto;
use crate::profile::PerfProfile;
use crate::structured::{ChannelGroup, Role};

/// The most of a group the fit removes: past it a layer is too thin to learn anything back.
pub const MAX_FRACTION: f64 = 0.9;

/// What the fit aims at.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Target {
    /// The model's estimated time divided by this (from the perf profile's layer times).
    Speedup(f64),
    /// The model's FLOPs divided by this.
    FlopsReduction(f64),
}

/// One channel group as the fit sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCost {
    pub name: String,
    pub channels: usize,
    /// Loss by fraction of channels removed (increasing); `None`: the group is left whole.
    pub loss: Option<Series>,
    /// Channels are removed in multiples of this (kept counts stay multiples of it too, where the
    /// group's size is).
    pub align: usize,
}

/// One layer as the fit sees it: its measured time and FLOPs, and the groups its input features
/// and output channels belong to, with the share of each.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerCost {
    pub name: String,
    pub ms: f64,
    pub flops: f64,
    /// `(group index, share of the layer's input features)`.
    pub inputs: Vec<(usize, f64)>,
    /// `(group index, share of the layer's output channels)`.
    pub outputs: Vec<(usize, f64)>,
    /// The part of `ms` that does not shrink with the layer's channels (kernel set-up, passes
    /// over memory a thinner layer still makes), read off the layer's time in a thinner model
    /// ([`ThinnedTimes`]); 0 without one.
    pub fixed_ms: f64,
    /// The layer's output channels where its kernel computes them in blocks of
    /// [`kernel_block`] (a convolution or matrix product: the count is padded up to the block,
    /// so 16 channels cost what 9 do); 0 where its cost follows the channels kept exactly.
    pub out_channels: usize,
}

/// Layer times measured on a thinner copy of the model: every group that can lose channels with
/// `fractions[g]` of them removed. Against the full model's times they say how much of each
/// layer's time shrinks with its channels: at batch 1 a thin convolution keeps much of its time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ThinnedTimes {
    pub fractions: Vec<f64>,
    /// Each layer's time in the thinner copy and in the full model, profiled one after the
    /// other: their ratio is what the fit reads, so a machine busier during one profile than
    /// during the perf profile does not pass for fixed time.
    pub ms: HashMap<String, (f64, f64)>,
}

impl LayerCost {
    /// The fraction of the layer's work (FLOPs, weights) that stays when each group `g` loses
    /// `fractions[g]`.
    pub fn factor(&self, fractions: &[f64]) -> f64 {
        self.kept(&self.inputs, fractions) * self.kept(&self.outputs, fractions)
    }

    /// The fraction of the layer's time that scales with its channels and stays: as
    /// [`factor`](Self::factor), with its output channels counted in whole kernel blocks.
    fn time_factor(&self, fractions: &[f64]) -> f64 {
        let outputs = self.kept(&self.outputs, fractions);
        self.kept(&self.inputs, fractions) * padded(outputs, self.out_channels, kernel_block())
    }

    fn kept(&self, ties: &[(usize, f64)], fractions: &[f64]) -> f64 {
        (1.0 - ties.iter().map(|&(g, s)| s * fractions[g]).sum::<f64>()).max(0.0)
    }

    /// The layer's time when each group `g` loses `fractions[g]`: the fixed part, and the rest
    /// in proportion to [`time_factor`](Self::time_factor).
    pub fn ms_at(&self, fractions: &[f64]) -> f64 {
        self.fixed_ms + (self.ms - self.fixed_ms) * self.time_factor(fractions)
    }

    /// The fixed part of `ms` that the layer's time `thinned` in a copy thinned by `fractions`,
    /// against its time `full` in the same measurement, implies: the line through the two
    /// times, as a share of `ms`; 0 where the copy barely thinned the layer (the line is then too
    /// steep to trust), at most `ms`.
    fn fixed_from(&self, fractions: &[f64], (thinned, full): (f64, f64)) -> f64 {
        let factor = self.time_factor(fractions);
        if factor > 0.9 || self.ms <= 0.0 || full <= 0.0 {
            return 0.0;
        }
        let share = ((thinned / full - factor) / (1.0 - factor)).clamp(0.0, 1.0);
        share * self.ms
    }
}

/// The fit's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelFit {
    /// Channels removed per group, in the order given.
    pub removed: Vec<usize>,
    /// The estimated loss (the sum of each group's loss at its fraction).
    pub loss: f64,
    /// Cost before and after, in the target's unit (ms or FLOPs), the fixed part included.
    pub cost_before: f64,
    pub cost_after: f64,
    /// Whether the target was reached; when not, every group is at its limit.
    pub reached: bool,
}

impl ChannelFit {
    pub fn ratio(&self) -> f64 {
        if self.cost_after > 0.0 {
            self.cost_before / self.cost_after
        } else {
            f64::INFINITY
        }
    }
}

/// Fits the channels removed per group (see the module doc). `fixed` is the cost outside the
/// layers, in the target's unit.
pub fn fit(groups: &[GroupCost], layers: &[LayerCost], fixed: f64, target: Target) -> ChannelFit {
    let (factor, use_flops) = match target {
        Target::Speedup(x) => (x, false),
        Target::FlopsReduction(x) => (x, true),
    };
    let cost_of = |l: &LayerCost, fractions: &[f64]| {
        if use_flops {
            l.flops * l.factor(fractions)
        } else {
            l.ms_at(fractions)
        }
    };
    let total =
        |fractions: &[f64]| fixed + layers.iter().map(|l| cost_of(l, fractions)).sum::<f64>();
    let loss_at = |g: &GroupCost, removed: usize| {
        g.loss
            .as_ref()
            .map_or(0.0, |s| s.value(removed as f64 / g.channels.max(1) as f64))
    };
    let limit = |g: &GroupCost| -> usize {
        if g.loss.is_none() || g.channels < 2 {
            return 0;
        }
        let most = ((g.channels as f64 * MAX_FRACTION).floor() as usize).min(g.channels - 1);
        most / g.align.max(1) * g.align.max(1)
    };

    let mut removed = vec![0usize; groups.len()];
    let mut fractions = vec![0.0f64; groups.len()];
    let before = total(&fractions);
    let goal = before / factor.max(1.0);
    let mut now = before;
    while now > goal {
        let mut best: Option<(f64, usize, f64)> = None;
        for (g, group) in groups.iter().enumerate() {
            let step = group.align.max(1);
            if removed[g] + step > limit(group) {
                continue;
            }
            let mut trial = fractions.clone();
            trial[g] = (removed[g] + step) as f64 / group.channels as f64;
            let saved = now - total(&trial);
            if saved <= 0.0 {
                continue;
            }
            let extra = (loss_at(group, removed[g] + step) - loss_at(group, removed[g])).max(0.0);
            // Loss per unit of cost saved; ties (free steps) go to the step that saves most.
            let price = extra / saved - saved * 1e-12;
            if best.is_none_or(|(p, _, _)| price < p) {
                best = Some((price, g, saved));
            }
        }
        let Some((_, g, saved)) = best else { break };
        removed[g] += groups[g].align.max(1);
        fractions[g] = removed[g] as f64 / groups[g].channels as f64;
        now -= saved;
    }
    let loss = groups
        .iter()
        .zip(&removed)
        .map(|(g, &r)| loss_at(g, r))
        .sum();
    ChannelFit {
        cost_after: total(&fractions),
        cost_before: before,
        reached: now <= goal * (1.0 + 1e-9),
        removed,
        loss,
    }
}

/// The layers' costs for the fit, from the analysis (FLOPs) and, when given, a measured perf
/// profile (times), with the share of each layer's input features and output channels that each
/// group carries (read off the group's slices of the layer's weight), and each layer's fixed time
/// where `thinned` times a thinner model. Also the fixed cost outside the layers: `(layers, fixed
/// ms, fixed FLOPs)`.
pub fn layer_costs(
    groups: &[ChannelGroup],
    graph: &GraphProto,
    analysis: &ModelAnalysis,
    perf: Option<&PerfProfile>,
    thinned: Option<&ThinnedTimes>,
) -> (Vec<LayerCost>, f64, f64) {
    let index = GraphIndex::new(graph);
    let ms_of: HashMap<&str, f64> = perf
        .map(|p| {
            p.layers
                .iter()
                .filter_map(|l| Some((l.name.as_str(), l.ms?)))
                .collect()
        })
        .unwrap_or_default();
    let mut layers = Vec::new();
    for layer in analysis.layers.iter().filter(|l| l.flops.is_some()) {
        let weight = layer
            .weight_input
            .and_then(|i| layer.inputs.get(i))
            .and_then(|w| index.weight(w));
        let mut inputs: Vec<(usize, f64)> = Vec::new();
        let mut outputs: Vec<(usize, f64)> = Vec::new();
        let mut out_channels = 0;
        if let Some(weight) = weight {
            for (g, group) in groups.iter().enumerate() {
                for slice in group.slices.iter().filter(|s| {
                    (s.node == layer.name || s.node == layer.node_name) && s.tensor == weight.name
                }) {
                    let Some(&dim) = weight.tensor.dims.get(slice.axis) else {
                        continue;
                    };
                    if dim <= 0 {
                        continue;
                    }
                    let share = (group.channels * slice.block) as f64 / dim as f64;
                    let ties = match slice.role {
                        Role::Consumer => &mut inputs,
                        Role::Producer | Role::PerChannel => {
                            out_channels = dim as usize;
                            &mut outputs
                        }
                    };
                    match ties.iter_mut().find(|(h, _)| *h == g) {
                        Some(tie) => tie.1 = tie.1.max(share),
                        None => ties.push((g, share.min(1.0))),
                    }
                }
            }
        }
        // A layer without a weight of its own (BatchNormalization, an activation, pooling)
        // costs in proportion to the channels of its output that stay.
        if inputs.is_empty() && outputs.is_empty() {
            let output = layer.outputs.first();
            let shape = layer.output_shapes.first().and_then(|s| s.as_ref());
            for (g, group) in groups.iter().enumerate() {
                for carrier in group.values.iter().filter(|c| Some(&c.value) == output) {
                    let Some(&dim) = shape.and_then(|s| s.get(carrier.axis)) else {
                        continue;
                    };
                    if dim > 0 && outputs.iter().all(|(h, _)| *h != g) {
                        let share = (group.channels * carrier.block) as f64 / dim as f64;
                        outputs.push((g, share.min(1.0)));
                    }
                }
            }
        }
        let mut cost = LayerCost {
            name: layer.name.clone(),
            ms: ms_of.get(layer.name.as_str()).copied().unwrap_or(0.0),
            flops: layer.flops.unwrap_or(0) as f64,
            inputs,
            outputs,
            fixed_ms: 0.0,
            out_channels,
        };
        if let Some(t) = thinned
            && let Some(&times) = t.ms.get(layer.name.as_str())
        {
            cost.fixed_ms = cost.fixed_from(&t.fractions, times);
        }
        layers.push(cost);
    }
    let layer_ms: f64 = layers.iter().map(|l| l.ms).sum();
    let layer_flops: f64 = layers.iter().map(|l| l.flops).sum();
    let model_ms = perf.and_then(|p| p.model.ms_per_batch).unwrap_or(layer_ms);
    let fixed_ms = (model_ms - layer_ms).max(0.0);
    let fixed_flops = (analysis.totals.flops as f64 - layer_flops).max(0.0);
    (layers, fixed_ms, fixed_flops)
}

/// The channels a kernel computes at once: ONNX Runtime's convolutions run in blocks of 16
/// channels on AVX-512 and of 8 on AVX2 (its NCHWc layout), and its matrix products pack
/// output columns the same way, so a layer's output count costs what the next multiple of the
/// block does. On the digits CNN (conv1 8 channels, conv2 16, at batch 64 and 1024), conv2 with
/// 8 or 4 output channels ran no faster than with 16, and conv1 with 4 no faster than with 8,
/// while halving conv1's channels made conv2, which reads them, 1.4× faster.
pub fn kernel_block() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return 16;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return 8;
        }
    }
    1
}

/// The share of a layer's output cost that stays when `kept` of its `channels` stay, counts
/// padded up to `block`; `kept` itself where `channels` is 0 (not blocked).
fn padded(kept: f64, channels: usize, block: usize) -> f64 {
    if channels == 0 || block <= 1 {
        return kept;
    }
    let up = |n: f64| (n / block as f64 - 1e-9).ceil().max(1.0) * block as f64;
    up(kept * channels as f64) / up(channels as f64)
}

/// The alignment a group's channel count allows: the kernel block ([`kernel_block`]) where the
/// group has at least 4 blocks of channels, else halved until it has (multiples of 16 from 64
/// channels on AVX-512, of 8 from 32, of 4 from 16), 1 below 4. The runtime pads a count to the
/// block, so 56 channels cost what 64 do: on the ResNet-50-shaped bench model at batch 8, a plan
/// in multiples of 8 ran 1.83× faster against 2.01× estimated, one in multiples of 16 1.90×
/// against 1.92×.
pub fn alignment(channels: usize) -> usize {
    let mut align = kernel_block().max(1);
    while align >= 4 && (channels < 4 * align || !channels.is_multiple_of(align)) {
        align /= 2;
    }
    if align >= 4 { align } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, channels: usize, loss_at_half: f64) -> GroupCost {
        GroupCost {
            name: name.into(),
            channels,
            loss: Series::new(
                [(0.0, 0.0), (0.5, loss_at_half), (1.0, 4.0 * loss_at_half)],
                true,
            ),
            align: 1,
        }
    }

    fn chain() -> (Vec<GroupCost>, Vec<LayerCost>) {
        // conv1 writes group 0; conv2 reads 0 and writes 1; fc reads 1.
        let groups = vec![group("a", 16, 0.1), group("b", 16, 1.0)];
        let layers = vec![
            LayerCost {
                name: "conv1".into(),
                ms: 1.0,
                flops: 10.0,
                inputs: vec![],
                outputs: vec![(0, 1.0)],
                fixed_ms: 0.0,
                out_channels: 0,
            },
            LayerCost {
                name: "conv2".into(),
                ms: 4.0,
                flops: 40.0,
                inputs: vec![(0, 1.0)],
                outputs: vec![(1, 1.0)],
                fixed_ms: 0.0,
                out_channels: 0,
            },
            LayerCost {
                name: "fc".into(),
                ms: 1.0,
                flops: 10.0,
                inputs: vec![(1, 1.0)],
                outputs: vec![],
                fixed_ms: 0.0,
                out_channels: 0,
            },
        ];
        (groups, layers)
    }

    #[test]
    fn a_thinner_models_times_give_each_layer_its_fixed_part() {
        let (groups, mut layers) = chain();
        // Both groups at half: conv2 keeps a quarter of its work and took 2 ms of its 4 (a line
        // through (1, 4) and (0.25, 2): 1.33 ms fixed); conv1 keeps half and took its
        // proportional 0.5 ms (nothing fixed).
        // The thinner copy's profile ran on a machine twice as busy: the ratios count.
        let thinned = ThinnedTimes {
            fractions: vec![0.5, 0.5],
            ms: [("conv1", 0.5), ("conv2", 2.0), ("fc", 0.99)]
                .into_iter()
                .zip([1.0, 4.0, 1.0])
                .map(|((n, ms), full)| (n.to_string(), (2.0 * ms, 2.0 * full)))
                .collect(),
        };
        for l in &mut layers {
            l.fixed_ms = l.fixed_from(&thinned.fractions, thinned.ms[&l.name]);
        }
        assert!((layers[1].fixed_ms - 4.0 / 3.0).abs() < 1e-9, "{layers:?}");
        assert!(layers[0].fixed_ms.abs() < 1e-9);
        assert!((layers[1].ms_at(&[0.5, 0.5]) - 2.0).abs() < 1e-9);
        assert!((layers[1].ms_at(&[0.0, 0.0]) - 4.0).abs() < 1e-9);
        // With fixed time, the fit must remove more to reach the same speedup.
        let plain = fit(&groups, &chain().1, 0.0, Target::Speedup(1.5));
        let with_fixed = fit(&groups, &layers, 0.0, Target::Speedup(1.5));
        assert!(plain.reached && with_fixed.reached);
        let sum = |f: &ChannelFit| f.removed.iter().sum::<usize>();
        assert!(sum(&with_fixed) > sum(&plain), "{plain:?} {with_fixed:?}");
        // A thinner time above the full one, or a layer that did not thin, gives no fixed part
        // beyond the layer's own time.
        assert_eq!(layers[0].fixed_from(&[0.5, 0.5], (9.0, 1.0)), layers[0].ms);
        assert_eq!(layers[2].fixed_from(&[0.0, 0.05], (0.5, 1.0)), 0.0);
    }

    #[test]
    fn a_layer_between_two_groups_costs_the_product_of_what_stays() {
        let (_, layers) = chain();
        assert!((layers[1].factor(&[0.5, 0.5]) - 0.25).abs() < 1e-12);
        assert!((layers[0].factor(&[0.5, 0.5]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn the_fit_reaches_the_target_by_pruning_the_cheaper_group_first() {
        let (groups, layers) = chain();
        let fit = fit(&groups, &layers, 0.0, Target::Speedup(1.5));
        assert!(fit.reached, "{fit:?}");
        assert!(fit.ratio() >= 1.5);
        assert!(fit.removed[0] > fit.removed[1], "{fit:?}");
        // Nothing removed beyond the target: one step less would miss it.
        let mut fewer = fit.removed.clone();
        let g = (0..2).max_by_key(|&g| fit.removed[g]).unwrap();
        fewer[g] -= 1;
        let fr: Vec<f64> = fewer.iter().map(|&r| r as f64 / 16.0).collect();
        let cost: f64 = layers.iter().map(|l| l.ms * l.factor(&fr)).sum();
        assert!(6.0 / cost < 1.5, "one step fewer still reaches: {cost}");
    }

    #[test]
    fn an_unreachable_target_stops_at_every_groups_limit_and_says_so() {
        let (groups, layers) = chain();
        let fit = fit(&groups, &layers, 5.0, Target::Speedup(10.0));
        assert!(!fit.reached);
        assert_eq!(fit.removed, vec![14, 14]);
    }

    #[test]
    fn a_group_without_a_loss_curve_is_left_whole() {
        let (mut groups, layers) = chain();
        groups[0].loss = None;
        let fit = fit(&groups, &layers, 0.0, Target::FlopsReduction(1.3));
        assert_eq!(fit.removed[0], 0);
        assert!(fit.removed[1] > 0 && fit.reached);
    }

    #[test]
    fn output_channels_cost_in_whole_kernel_blocks() {
        // 16 channels in blocks of 16: any count kept costs the whole block.
        assert_eq!(padded(0.5, 16, 16), 1.0);
        assert_eq!(padded(0.25, 16, 16), 1.0);
        // 24 channels pad to 32; 16 kept fill one block: half the cost, not two thirds.
        assert!((padded(16.0 / 24.0, 24, 16) - 0.5).abs() < 1e-12);
        assert!((padded(0.5, 64, 16) - 0.5).abs() < 1e-12);
        // Not blocked: the channels kept.
        assert_eq!(padded(0.5, 0, 16), 0.5);
        assert_eq!(padded(0.5, 16, 1), 0.5);
    }

    #[test]
    fn alignment_keeps_counts_in_multiples_of_the_kernels_block() {
        let block = kernel_block();
        if block == 16 {
            assert_eq!(alignment(64), 16);
            assert_eq!(alignment(48), 8);
            assert_eq!(alignment(72), 8);
            assert_eq!(alignment(20), 4);
            assert_eq!(alignment(36), 4);
            assert_eq!(alignment(18), 1);
            assert_eq!(alignment(8), 1);
        }
        for channels in 1..300 {
            let align = alignment(channels);
            assert!(
                align <= block.max(1) && channels.is_multiple_of(align),
                "{channels}"
            );
            assert!(align == 1 || channels >= 4 * align, "{channels}");
        }
        let (mut groups, layers) = chain();
        for g in &mut groups {
            g.channels = 64;
            g.align = alignment(64);
        }
        let fit = fit(&groups, &layers, 0.0, Target::Speedup(1.4));
        assert!(
            fit.removed.iter().all(|r| r % alignment(64) == 0),
            "{fit:?}"
        );
    }
}

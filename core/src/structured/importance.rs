//! How much each channel of a group matters, to choose the ones to remove:
//!
//! - `L1`, `L2`: the norm of the channel's producer rows (every `Producer` slice of rank 2 or
//!   more, so weights and not biases), all producers together: Σ|w|, and √Σw².
//! - `BatchNormScale`: |γ|/√(var + ε) of the BatchNormalizations that carry the channel, summed:
//!   how strongly the normalization passes the channel on.
//! - `Reconstruction`: the squared error removing the channel alone causes at the consumers'
//!   outputs on calibration samples, per input row: Σ over consumers and their output rows of
//!   `w_J (XᵀX)_JJ w_Jᵀ / n`, with J the consumer's input features that hold the channel (its
//!   block of im2col columns, or of a Flatten's features) and `XᵀX` over the consumer's inputs
//!   (`reconstruct::collect`).

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::group::{ChannelGroup, Keep, Role, Slice};
use super::remove::node_named;
use crate::analysis::graph::GraphIndex;
use crate::error::{Error, Result, Sentence, Setting};
use crate::model::attr;
use crate::model::tensor::to_f32;
use crate::progress::{Cancel, Progress};
use crate::reconstruct::collect::{Collector, collect};
use crate::reconstruct::layout::{self, LayerLayout};
use crate::runtime::Dataset;
use crate::{Model, ModelAnalysis};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    L1,
    L2,
    BatchNormScale,
    Reconstruction,
}

/// The scores of `group`'s channels by a criterion that reads weights only (L1, L2, BatchNorm
/// scale).
pub fn weight_scores(
    model: &Model,
    group: &ChannelGroup,
    criterion: Criterion,
) -> Result<Vec<f64>> {
    let index = GraphIndex::new(model.graph());
    let mut scores = vec![0.0; group.channels];
    match criterion {
        Criterion::L1 | Criterion::L2 => {
            let mut any = false;
            for s in group.slices.iter().filter(|s| s.role == Role::Producer) {
                let (values, dims) = values(&index, group, &s.tensor)?;
                if dims.len() < 2 {
                    continue;
                }
                any = true;
                for_each_in_channel(&values, &dims, s, group.channels, |c, v| {
                    scores[c] += if criterion == Criterion::L1 {
                        v.abs()
                    } else {
                        v * v
                    }
                });
            }
            if !any {
                return Err(Error::Usage(format!(
                    "group {} has no producer weight to measure; score it on calibration samples.",
                    group.name
                )));
            }
            if criterion == Criterion::L2 {
                scores.iter_mut().for_each(|s| *s = s.sqrt());
            }
        }
        Criterion::BatchNormScale => {
            let mut any = false;
            for s in group.slices.iter().filter(|s| s.role == Role::PerChannel) {
                let Some(i) = node_named(index.graph, &s.node) else {
                    continue;
                };
                let node = &index.graph.node[i];
                let is_scale = node
                    .input
                    .get(1)
                    .and_then(|v| index.weight(v))
                    .map(|w| w.name)
                    == Some(s.tensor.as_str());
                if node.op_type() != "BatchNormalization" || !is_scale {
                    continue;
                }
                let var_name = node
                    .input
                    .get(4)
                    .and_then(|v| index.weight(v))
                    .map(|w| w.name);
                let (gamma, dims) = values(&index, group, &s.tensor)?;
                let (var, _) = values(&index, group, var_name.unwrap_or(""))?;
                let eps = attr::float(node, "epsilon").unwrap_or(1e-5) as f64;
                any = true;
                let mut gammas = vec![0.0; group.channels];
                for_each_in_channel(&gamma, &dims, s, group.channels, |c, v| {
                    gammas[c] += v.abs()
                });
                let mut vars = vec![0.0; group.channels];
                for_each_in_channel(&var, &dims, s, group.channels, |c, v| vars[c] += v);
                for c in 0..group.channels {
                    scores[c] += gammas[c] / (vars[c].max(0.0) + eps).sqrt();
                }
            }
            if !any {
                return Err(Error::Usage(format!(
                    "group {} passes through no BatchNormalization; score it by weight norm or on calibration samples.",
                    group.name
                )));
            }
        }
        Criterion::Reconstruction => {
            return Err(Error::Usage(
                "reconstruction importance reads calibration samples; score with them.".into(),
            ));
        }
    }
    Ok(scores)
}

/// The values and dims of constant `name` as f64.
fn values(index: &GraphIndex, group: &ChannelGroup, name: &str) -> Result<(Vec<f64>, Vec<usize>)> {
    let tensor = index.constant(name).ok_or_else(|| {
        Error::Usage(format!(
            "group {} slices '{name}', which is not a constant of this model; detect the groups again.",
            group.name
        ))
    })?;
    let values = to_f32(tensor).ok_or_else(|| {
        Error::Usage(format!(
            "constant '{name}' of group {} is not a readable float32 or float64 tensor.",
            group.name
        ))
    })?;
    Ok((
        values.into_iter().map(f64::from).collect(),
        tensor.dims.iter().map(|&d| d.max(0) as usize).collect(),
    ))
}

/// Calls `f(channel, value)` for every element of a stored tensor that lies in one of the
/// group's channels along the slice's axis.
fn for_each_in_channel(
    values: &[f64],
    dims: &[usize],
    slice: &Slice,
    channels: usize,
    mut f: impl FnMut(usize, f64),
) {
    let Some(&len) = dims.get(slice.axis) else {
        return;
    };
    let inner: usize = dims[slice.axis + 1..].iter().product();
    let block = slice.block.max(1);
    for (i, &v) in values.iter().enumerate() {
        let at = i / inner.max(1) % len.max(1);
        if at >= slice.offset {
            let c = (at - slice.offset) / block;
            if c < channels {
                f(c, v);
            }
        }
    }
}

/// One consumer slice read as matrix columns.
struct Reader<'a> {
    group: usize,
    slice: &'a Slice,
    layer: String,
    layout: LayerLayout,
}

/// The reconstruction scores of each of `groups`' channels (one list per group, in order), from
/// the consumers' inputs on `data` run in batches of `batch`.
pub fn reconstruction_scores(
    model: &Model,
    analysis: &ModelAnalysis,
    groups: &[&ChannelGroup],
    data: &Dataset,
    batch: usize,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Vec<Vec<f64>>> {
    let index = GraphIndex::new(model.graph());
    let mut readers = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for s in group.slices.iter().filter(|s| s.role == Role::Consumer) {
            let (layer, layout) = consumer_layout(&index, analysis, group, s)?;
            readers.push(Reader {
                group: g,
                slice: s,
                layer,
                layout,
            });
        }
    }
    // One collector per consumer layer, however many groups it reads.
    let mut layers: Vec<(String, LayerLayout)> = Vec::new();
    for r in &readers {
        if !layers.iter().any(|(l, _)| *l == r.layer) {
            layers.push((r.layer.clone(), r.layout.clone()));
        }
    }
    for (layer, layout) in &layers {
        Collector::fits(
            layer,
            layout,
            crate::reconstruct::Products::Full,
            Sentence::new("rank the channels by their weights instead: give neither ")
                .setting(Setting::Data)
                .text(" nor ")
                .setting(Setting::Samples),
        )?;
    }
    let passes = crate::reconstruct::layout::passes(layers.iter().map(|(_, l)| l));
    let batches = data.batches(batch.max(1));
    let total = (passes.len() * batches.len()) as u64;
    let mut done = 0;
    let mut scores: Vec<Vec<f64>> = groups.iter().map(|g| vec![0.0; g.channels]).collect();
    for pass in passes {
        let mut collectors: Vec<Collector> = pass
            .iter()
            .map(|&l| Collector::new(&layers[l].0, &layers[l].1))
            .collect();
        collect(&model.proto, &mut collectors, &batches, cancel, &mut |_| {
            done += 1;
            progress.report(done, total, "channel importance on calibration samples");
        })?;
        for collector in &collectors {
            let stats = &collector.stats[0];
            for r in readers.iter().filter(|r| r.layer == collector.layer) {
                let weight = matrix(&index, &r.layout, &r.layer)?;
                let columns = channel_columns(&r.layout, r.slice, groups[r.group].channels);
                let n = stats.rows.max(1) as f64;
                for (c, cols) in columns.iter().enumerate() {
                    let mut error = 0.0;
                    for row in weight.rows() {
                        for &i in cols {
                            for &j in cols {
                                error += row[i] as f64 * stats.xtx_at(i, j) * row[j] as f64;
                            }
                        }
                    }
                    scores[r.group][c] += error / n;
                }
            }
        }
    }
    Ok(scores)
}

/// The consumer layer a slice is read by, and its weight as matrices.
pub(crate) fn consumer_layout(
    index: &GraphIndex,
    analysis: &ModelAnalysis,
    group: &ChannelGroup,
    s: &Slice,
) -> Result<(String, LayerLayout)> {
    let unusable = |why: &str| {
        Error::Usage(format!(
            "layer {} reads group {}'s channels but {why}; detect the groups again.",
            s.node, group.name
        ))
    };
    let i = node_named(index.graph, &s.node).ok_or_else(|| unusable("is not in the model"))?;
    let node = &index.graph.node[i];
    let name = node.output.first().cloned().unwrap_or_default();
    let layer = analysis
        .layer(&name)
        .ok_or_else(|| unusable("is not in the model's analysis"))?;
    let layout = layout::of(layer, node, index).map_err(|why| unusable(&why))?;
    if index.weight(&layout.weight).map(|w| w.name) != Some(s.tensor.as_str())
        && layout.weight != s.tensor
    {
        return Err(unusable(&format!("its weight is not '{}'", s.tensor)));
    }
    if layout.layout.groups() != 1 {
        return Err(unusable("it reads them in groups (a grouped convolution)"));
    }
    Ok((name, layout))
}

/// The consumer's weight as one matrix (outputs × input features).
pub(crate) fn matrix(index: &GraphIndex, layout: &LayerLayout, layer: &str) -> Result<Array2<f32>> {
    let values = crate::model::weight::stored(index.graph, layout.home)
        .and_then(|t| to_f32(&t))
        .filter(|v| v.len() == layout.layout.len())
        .ok_or_else(|| {
            Error::Usage(format!(
                "layer {layer}'s weight is not a readable float tensor of {} values.",
                layout.layout.len()
            ))
        })?;
    Ok(layout.layout.to_matrices(&values).remove(0))
}

/// Each of the group's channels' columns in the consumer's matrix: the columns whose stored
/// index along the slice's axis lies in the channel's block.
pub(crate) fn channel_columns(layout: &LayerLayout, s: &Slice, channels: usize) -> Vec<Vec<usize>> {
    let along = axis_index(layout, s.axis);
    let mut columns = vec![Vec::new(); channels];
    for (j, &at) in along.row(0).iter().enumerate() {
        if at >= s.offset {
            let c = (at - s.offset) / s.block.max(1);
            if c < channels {
                columns[c].push(j);
            }
        }
    }
    columns
}

/// For each element of the layout's matrix, its index along stored axis `axis`.
pub(crate) fn axis_index(layout: &LayerLayout, axis: usize) -> Array2<usize> {
    let dims = &layout.dims;
    let inner: usize = dims.get(axis + 1..).map_or(1, |d| d.iter().product());
    let len = dims.get(axis).copied().unwrap_or(1).max(1);
    let tags: Vec<f32> = (0..layout.layout.len())
        .map(|i| (i / inner.max(1) % len) as f32)
        .collect();
    layout
        .layout
        .to_matrices(&tags)
        .remove(0)
        .mapv(|t| t as usize)
}

/// The `Keep` that removes `round(fraction · channels)` of the group's channels, the lowest
/// scored first (the earlier channel on a tie), and keeps at least one.
pub fn keep_highest(group: &ChannelGroup, scores: &[f64], fraction: f64) -> Result<Keep> {
    if scores.len() != group.channels {
        return Err(Error::Usage(format!(
            "group {} has {} channels and {} scores were given; score every channel.",
            group.name,
            group.channels,
            scores.len()
        )));
    }
    if !(0.0..=1.0).contains(&fraction) {
        return Err(Error::Usage(format!(
            "group {}: {fraction} of its channels cannot be removed; give a fraction from 0 to 1.",
            group.name
        )));
    }
    let n = group.channels;
    let remove = ((fraction * n as f64).round() as usize).min(n.saturating_sub(1));
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    let mut channels: Vec<usize> = order[remove..].to_vec();
    channels.sort_unstable();
    Ok(Keep {
        group: group.name.clone(),
        channels,
    })
}

#[cfg(test)]
#[path = "importance/tests.rs"]
mod tests;

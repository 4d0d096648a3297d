//! Repairing a model whose channels were removed, on calibration samples, without training:
//!
//! - **Refit** (channel pruning with reconstruction, He et al. 2017): each consumer of a pruned
//!   group gets the weight (and bias) that best reproduces, from the inputs the pruned model
//!   gives it, what the original layer computed from the original's inputs:
//!   `W' = argmin ‖X_p W'ᵀ + b' − (X_d Wᵀ + b)‖²` over the kept output rows, solved from
//!   `X_pᵀX_p` (dampened by `damp` of its mean diagonal) and the cross term `X_pᵀX_d`. Both
//!   come from one `InputStats` over the rows `[X_p | X_d]` (the two models' inputs to the layer
//!   side by side, im2col for a Conv).
//! - **BatchNormalization statistics**: each BatchNormalization downstream of a change gets
//!   its running mean and variance re-estimated from the pruned model's inputs to it, relative
//!   to the original's on the same samples (the mean moves by the change of the input's mean,
//!   the variance scales by the ratio of the input's variances), so the statistics the model
//!   was trained with are kept where nothing changed; or, with `Calibration`, set to the
//!   pruned model's input statistics outright.
//!
//! The layers go in topological order, in rounds of layers that do not depend on each other;
//! each round runs both models over the samples once, so a layer is repaired from the inputs
//! the already-repaired layers before it give it.

use std::collections::{BTreeSet, HashSet};

use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use ndarray::{ArrayD, Axis, concatenate};
use serde::{Deserialize, Serialize};

use super::group::{ChannelGroup, Keep, Role};
use super::importance::{axis_index, consumer_layout, matrix};
use super::plan::{Plan, plan};
use super::remove::node_named;
use crate::analysis::graph::{GraphIndex, Home};
use crate::error::{Error, Result};
use crate::model::attr;
use crate::model::onnx::GraphProto;
use crate::model::tensor::to_f32;
use crate::model::weight;
use crate::progress::{Cancel, Progress};
use crate::reconstruct::collect::feature_rows;
use crate::reconstruct::layout::{ConvGeometry, InputForm, LayerLayout};
use crate::reconstruct::stats::InputStats;
use crate::runtime::{Batch, Dataset, InputArray, ModelSession, SessionOptions};
use crate::{Model, ModelAnalysis};

/// How BatchNormalization statistics are re-estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchNormStatistics {
    /// Moved by the change the removal made to the input's mean and variance on the samples.
    Relative,
    /// The pruned model's input mean and variance on the samples.
    Calibration,
    /// Left as they are.
    Kept,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RepairOptions {
    /// Refit the consumers of the pruned groups.
    pub refit: bool,
    pub batch_norm: BatchNormStatistics,
    /// Added to `X_pᵀX_p`'s diagonal, as a fraction of its mean.
    pub damp: f64,
    /// Samples per ONNX Runtime run.
    pub batch: usize,
}

impl Default for RepairOptions {
    fn default() -> Self {
        RepairOptions {
            refit: true,
            batch_norm: BatchNormStatistics::Relative,
            damp: 1e-3,
            batch: 64,
        }
    }
}

/// What repair did to one layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerRepair {
    pub layer: String,
    /// "refit" or "batch_norm".
    pub kind: &'static str,
    /// Refit: the layer's squared output error relative to the original's output energy on the
    /// samples, before and after.
    pub error_before: Option<f64>,
    pub error_after: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Repaired {
    pub layers: Vec<LayerRepair>,
    /// Passes of both models over the samples.
    pub rounds: usize,
}

/// One layer to repair.
struct Target {
    node: usize,
    layer: String,
    /// The value the layer reads its activations from.
    input: String,
    kind: Kind,
}

enum Kind {
    Refit {
        layout: Box<LayerLayout>,
        weight: String,
    },
    BatchNorm {
        /// The scale's constant name (its kept channels are the BN's).
        scale: String,
        channels: usize,
    },
}

/// Repairs `pruned`, made from `original` (analyzed as `analysis`) by removing the channels
/// `keep` drops from `groups`, on the samples `data`.
#[allow(clippy::too_many_arguments)]
pub fn repair(
    original: &Model,
    analysis: &ModelAnalysis,
    pruned: &mut Model,
    groups: &[ChannelGroup],
    keep: &[Keep],
    data: &Dataset,
    options: &RepairOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Repaired> {
    let plan = plan(groups, keep)?;
    let index = GraphIndex::new(original.graph());
    let targets = targets(&index, analysis, &plan, options)?;
    let rounds = rounds(&index, &targets);
    let batches = data.batches(options.batch.max(1));
    let total = (rounds.len() * batches.len()) as u64;
    let mut done = 0;
    let mut layers = Vec::new();
    for round in &rounds {
        cancel.check()?;
        let mut accumulators: Vec<Accumulator> = Vec::new();
        let wanted: Vec<String> = round.iter().map(|&t| targets[t].input.clone()).collect();
        let mut dense = session(&original.proto, &wanted)?;
        let mut small = session(&pruned.proto, &wanted)?;
        for batch in &batches {
            cancel.check()?;
            let xd = activations(&mut dense, batch, &wanted)?;
            let xp = activations(&mut small, batch, &wanted)?;
            for (slot, &t) in round.iter().enumerate() {
                if accumulators.len() <= slot {
                    accumulators.push(Accumulator::new(&targets[t], &xp[slot], &xd[slot]));
                }
                accumulators[slot].add(&targets[t], &xp[slot], &xd[slot])?;
            }
            done += 1;
            progress.report(done, total, "structured repair on calibration samples");
        }
        let graph = pruned
            .proto
            .graph
            .as_mut()
            .expect("a loaded model has a graph");
        for (slot, &t) in round.iter().enumerate() {
            let Some(acc) = accumulators.get(slot) else {
                continue;
            };
            layers.push(apply(
                original.graph(),
                graph,
                &plan,
                &targets[t],
                acc,
                options,
            )?);
        }
    }
    Ok(Repaired {
        layers,
        rounds: rounds.len(),
    })
}

/// The layers to repair, in topological order: the pruned groups' consumers, and the
/// BatchNormalizations downstream of any node the removal changed.
fn targets(
    index: &GraphIndex,
    analysis: &ModelAnalysis,
    plan: &Plan,
    options: &RepairOptions,
) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    let mut changed: BTreeSet<usize> = BTreeSet::new();
    let mut refit: HashSet<usize> = HashSet::new();
    for (group, _) in plan.groups.iter().filter(|(_, r)| !r.is_empty()) {
        for s in &group.slices {
            let node = node_named(index.graph, &s.node).ok_or_else(|| {
                Error::Usage(format!(
                    "group {} names node {}, which this model does not have; detect the groups again.",
                    group.name, s.node
                ))
            })?;
            changed.insert(node);
            if s.role == Role::Consumer && options.refit && refit.insert(node) {
                let (layer, layout) = consumer_layout(index, analysis, group, s)?;
                targets.push(Target {
                    node,
                    layer,
                    input: layout.input.clone(),
                    kind: Kind::Refit {
                        weight: s.tensor.clone(),
                        layout: Box::new(layout),
                    },
                });
            }
        }
    }
    if options.batch_norm != BatchNormStatistics::Kept {
        let mut below: BTreeSet<usize> = BTreeSet::new();
        for &n in &changed {
            below.extend(index.downstream(n));
        }
        for n in below {
            let node = &index.graph.node[n];
            if node.op_type() != "BatchNormalization" {
                continue;
            }
            let (Some(input), Some(scale)) = (
                node.input.first(),
                node.input.get(1).and_then(|v| index.weight(v)),
            ) else {
                continue;
            };
            targets.push(Target {
                node: n,
                layer: node.output.first().cloned().unwrap_or_default(),
                input: input.clone(),
                kind: Kind::BatchNorm {
                    scale: scale.name.to_string(),
                    channels: scale.tensor.dims.first().copied().unwrap_or(0).max(0) as usize,
                },
            });
        }
    }
    targets.sort_by_key(|t| index.position(t.node));
    Ok(targets)
}

/// The targets in rounds: each takes those whose input depends on no target still pending.
fn rounds(index: &GraphIndex, targets: &[Target]) -> Vec<Vec<usize>> {
    let below: Vec<HashSet<usize>> = targets
        .iter()
        .map(|t| index.downstream(t.node).into_iter().collect())
        .collect();
    let source: Vec<Option<usize>> = targets
        .iter()
        .map(|t| index.producer_index(&t.input))
        .collect();
    let mut pending: Vec<usize> = (0..targets.len()).collect();
    let mut rounds = Vec::new();
    while !pending.is_empty() {
        let ready: Vec<usize> = pending
            .iter()
            .copied()
            .filter(|&i| {
                source[i].is_none_or(|p| pending.iter().all(|&j| j == i || !below[j].contains(&p)))
            })
            .collect();
        let ready = if ready.is_empty() {
            vec![pending[0]]
        } else {
            ready
        };
        pending.retain(|i| !ready.contains(i));
        rounds.push(ready);
    }
    rounds
}

fn session(proto: &crate::model::onnx::ModelProto, wanted: &[String]) -> Result<ModelSession> {
    ModelSession::from_proto(
        &crate::model::with_outputs(proto, wanted),
        &SessionOptions::default(),
    )
}

/// The values `wanted` on one batch (a model input straight from the batch).
fn activations(
    session: &mut ModelSession,
    batch: &Batch,
    wanted: &[String],
) -> Result<Vec<ArrayD<f32>>> {
    let mut outputs = session.run(&batch.inputs)?;
    wanted
        .iter()
        .map(|name| {
            if let Some((_, InputArray::F32(a))) = batch.inputs.iter().find(|(n, _)| n == name) {
                return Ok(a.clone());
            }
            let i = outputs
                .iter()
                .position(|(n, _)| n == name)
                .ok_or_else(|| Error::Runtime(format!("ONNX Runtime did not return '{name}'.")))?;
            Ok(std::mem::take(&mut outputs[i].1))
        })
        .collect()
}

/// What a round gathers for one target.
enum Accumulator {
    /// `[X_p | X_d]`'s statistics, and how the side-by-side rows are read.
    Joint {
        stats: InputStats,
        form: InputForm,
        pruned_columns: usize,
    },
    /// Per channel: Σx, Σx² and the count, of the pruned and the original input.
    Moments {
        pruned: [Vec<f64>; 2],
        dense: [Vec<f64>; 2],
        count: f64,
    },
}

impl Accumulator {
    fn new(target: &Target, xp: &ArrayD<f32>, xd: &ArrayD<f32>) -> Accumulator {
        match &target.kind {
            Kind::Refit { layout, .. } => {
                let (form, pruned_columns, columns) = joint_form(&layout.form, xp, xd);
                Accumulator::Joint {
                    stats: InputStats::new(columns),
                    form,
                    pruned_columns,
                }
            }
            Kind::BatchNorm { .. } => {
                let c = |x: &ArrayD<f32>| x.shape().get(1).copied().unwrap_or(1);
                Accumulator::Moments {
                    pruned: [vec![0.0; c(xp)], vec![0.0; c(xp)]],
                    dense: [vec![0.0; c(xd)], vec![0.0; c(xd)]],
                    count: 0.0,
                }
            }
        }
    }

    fn add(&mut self, target: &Target, xp: &ArrayD<f32>, xd: &ArrayD<f32>) -> Result<()> {
        match self {
            Accumulator::Joint { stats, form, .. } => {
                let axis = match form {
                    InputForm::Conv(_) => 1,
                    InputForm::Rows => xp.ndim() - 1,
                    InputForm::Columns => xp.ndim().saturating_sub(2),
                };
                let joint = concatenate(Axis(axis), &[xp.view(), xd.view()]).map_err(|_| {
                    Error::Runtime(format!(
                        "layer {}'s inputs in the pruned model {:?} and the original {:?} do not line up.",
                        target.layer,
                        xp.shape(),
                        xd.shape()
                    ))
                })?;
                let columns = stats.columns();
                feature_rows(form, joint.view(), columns, &mut |_, rows| stats.add(rows))
                    .map_err(|why| Error::Runtime(format!("layer {}: {why}.", target.layer)))?;
            }
            Accumulator::Moments {
                pruned,
                dense,
                count,
            } => {
                for (x, sums) in [(xp, pruned), (xd, dense)] {
                    for (c, plane) in x.axis_iter(Axis(1)).enumerate() {
                        for v in plane.iter() {
                            sums[0][c] += *v as f64;
                            sums[1][c] += (*v as f64).powi(2);
                        }
                    }
                }
                *count += (xp.len() / xp.shape().get(1).copied().unwrap_or(1).max(1)) as f64;
            }
        }
        Ok(())
    }
}

/// How the pruned and original inputs side by side are read: a Conv of both channel counts
/// (im2col columns run over the channels first, so the pruned model's columns come first), or
/// rows of both widths; the pruned model's columns and the total.
fn joint_form(form: &InputForm, xp: &ArrayD<f32>, xd: &ArrayD<f32>) -> (InputForm, usize, usize) {
    match form {
        InputForm::Conv(g) => {
            let (cp, cd) = (xp.shape()[1], xd.shape()[1]);
            let joint = ConvGeometry {
                group: 1,
                channels: cp + cd,
                ..g.clone()
            };
            let per = g.kernel.iter().product::<usize>();
            (InputForm::Conv(joint), cp * per, (cp + cd) * per)
        }
        InputForm::Rows => {
            let (p, d) = (
                *xp.shape().last().unwrap_or(&1),
                *xd.shape().last().unwrap_or(&1),
            );
            (InputForm::Rows, p, p + d)
        }
        InputForm::Columns => {
            let at = |x: &ArrayD<f32>| x.shape()[x.ndim().saturating_sub(2)];
            (InputForm::Columns, at(xp), at(xp) + at(xd))
        }
    }
}

/// Writes one target's repair into the pruned graph.
fn apply(
    original: &GraphProto,
    pruned: &mut GraphProto,
    plan: &Plan,
    target: &Target,
    acc: &Accumulator,
    options: &RepairOptions,
) -> Result<LayerRepair> {
    match (&target.kind, acc) {
        (
            Kind::Refit { layout, weight },
            Accumulator::Joint {
                stats,
                pruned_columns,
                ..
            },
        ) => refit(
            original,
            pruned,
            plan,
            target,
            layout,
            weight,
            stats,
            *pruned_columns,
            options,
        ),
        (
            Kind::BatchNorm { scale, channels },
            Accumulator::Moments {
                pruned: p,
                dense: d,
                count,
            },
        ) => {
            let kept = plan.kept(scale, 0, *channels);
            let n = count.max(1.0);
            let node = &pruned.node[target.node];
            let homes: Vec<Option<Home>> = [3, 4]
                .iter()
                .map(|&i| {
                    let index = GraphIndex::new(pruned);
                    node.input
                        .get(i)
                        .and_then(|v| index.weight(v))
                        .map(|w| w.home)
                })
                .collect();
            let (Some(mean_home), Some(var_home)) = (homes[0], homes[1]) else {
                return Err(Error::Usage(format!(
                    "BatchNormalization {} does not read its running mean and variance from constants; it cannot be re-estimated.",
                    target.layer
                )));
            };
            let read = |home| weight::stored(pruned, home).and_then(|t| to_f32(&t));
            let (Some(mut mean), Some(mut var)) = (read(mean_home), read(var_home)) else {
                return Err(Error::Usage(format!(
                    "BatchNormalization {}'s running statistics are not float tensors.",
                    target.layer
                )));
            };
            if mean.len() != p[0].len() || kept.len() != mean.len() {
                return Err(Error::Runtime(format!(
                    "BatchNormalization {} has {} channels in the pruned model but its input has {}.",
                    target.layer,
                    mean.len(),
                    p[0].len()
                )));
            }
            for (i, &c) in kept.iter().enumerate() {
                let (mp, md) = (p[0][i] / n, d[0][c] / n);
                let (vp, vd) = (
                    (p[1][i] / n - mp * mp).max(0.0),
                    (d[1][c] / n - md * md).max(0.0),
                );
                match options.batch_norm {
                    BatchNormStatistics::Relative => {
                        mean[i] += (mp - md) as f32;
                        if vp > 0.0 && vd > 0.0 {
                            var[i] *= (vp / vd) as f32;
                        }
                    }
                    BatchNormStatistics::Calibration => {
                        mean[i] = mp as f32;
                        var[i] = vp as f32;
                    }
                    BatchNormStatistics::Kept => {}
                }
            }
            weight::write_f32(pruned, mean_home, &mean);
            weight::write_f32(pruned, var_home, &var);
            Ok(LayerRepair {
                layer: target.layer.clone(),
                kind: "batch_norm",
                error_before: None,
                error_after: None,
            })
        }
        _ => unreachable!("each target gathers its own kind"),
    }
}

/// The bias a layer adds per output row, where it has one: a Conv's or Gemm's third input, a
/// MatMul's `Add` of a constant; with the scale Gemm puts on it (`beta`).
fn bias_of(graph: &GraphProto, node: usize) -> Option<(Home, String, f64)> {
    let index = GraphIndex::new(graph);
    let n = &graph.node[node];
    match n.op_type() {
        "Conv" | "Gemm" => {
            let w = index.weight(n.input.get(2)?)?;
            let beta = attr::float(n, "beta").unwrap_or(1.0) as f64;
            (w.tensor.dims.len() == 1 && beta != 0.0).then(|| (w.home, w.name.to_string(), beta))
        }
        "MatMul" => {
            let out = n.output.first()?;
            let mut readers = index.consumers(out);
            let add = &graph.node[readers.next().filter(|_| readers.next().is_none())?];
            if add.op_type() != "Add" {
                return None;
            }
            let other = add.input.iter().find(|i| *i != out)?;
            let w = index.weight(other)?;
            (w.tensor.dims.len() == 1).then(|| (w.home, w.name.to_string(), 1.0))
        }
        _ => None,
    }
}

/// Refits one consumer: solves the dampened normal equations of `[X_p 1]` against the
/// original layer's output on the original inputs, for the kept output rows.
#[allow(clippy::too_many_arguments)]
fn refit(
    original: &GraphProto,
    pruned: &mut GraphProto,
    plan: &Plan,
    target: &Target,
    layout: &LayerLayout,
    weight_name: &str,
    stats: &InputStats,
    np: usize,
    options: &RepairOptions,
) -> Result<LayerRepair> {
    let name = &target.layer;
    let index_o = GraphIndex::new(original);
    let w_full = matrix(&index_o, layout, name)?;
    let (rows, nd) = w_full.dim();
    if stats.columns() != np + nd {
        return Err(Error::Runtime(format!(
            "layer {name}'s inputs have {} features side by side where its weight takes {nd}.",
            stats.columns() - np
        )));
    }
    // Which rows and columns of the original matrix the pruned one keeps.
    let mut element_kept = ndarray::Array2::from_elem(w_full.dim(), true);
    for (axis, &len) in layout.dims.iter().enumerate() {
        let kept: HashSet<usize> = plan.kept(weight_name, axis, len).into_iter().collect();
        if kept.len() == len {
            continue;
        }
        let along = axis_index(layout, axis);
        element_kept.zip_mut_with(&along, |k, a| *k &= kept.contains(a));
    }
    let kept_rows: Vec<usize> = (0..rows)
        .filter(|&r| element_kept.row(r).iter().any(|k| *k))
        .collect();
    let kept_cols: Vec<usize> = (0..nd)
        .filter(|&c| element_kept.column(c).iter().any(|k| *k))
        .collect();
    if kept_cols.len() != np {
        return Err(Error::Runtime(format!(
            "layer {name} keeps {} of its input features but the pruned model gives it {np}.",
            kept_cols.len()
        )));
    }
    let node = &original.node[target.node];
    let alpha = if node.op_type() == "Gemm" {
        attr::float(node, "alpha").unwrap_or(1.0) as f64
    } else {
        1.0
    };
    let bias_o = bias_of(original, target.node);
    let bias_values: Option<Vec<f64>> = bias_o
        .as_ref()
        .and_then(|(home, _, beta)| {
            let v = to_f32(weight::stored(original, *home)?.as_ref())?;
            Some(v.iter().map(|b| *b as f64 * beta).collect::<Vec<f64>>())
        })
        .filter(|v| v.len() == rows);
    let has_bias = bias_values.is_some() && alpha != 0.0;
    let k = kept_rows.len();
    // The original's effective kept rows and bias.
    let w = Mat::<f64>::from_fn(k, nd, |i, j| w_full[[kept_rows[i], j]] as f64 * alpha);
    let b: Vec<f64> = kept_rows
        .iter()
        .map(|&r| bias_values.as_ref().map_or(0.0, |v| v[r]))
        .collect();
    let m = np + usize::from(has_bias);
    let n = stats.rows as f64;
    // A = [X_p 1]ᵀ[X_p 1]; R = [X_p 1]ᵀ (X_d Wᵀ + 1 bᵀ).
    let a = Mat::<f64>::from_fn(m, m, |i, j| match (i < np, j < np) {
        (true, true) => stats.xtx_at(i, j),
        (true, false) => stats.sum[i],
        (false, true) => stats.sum[j],
        (false, false) => n,
    });
    let cross = Mat::<f64>::from_fn(m, nd, |i, j| {
        if i < np {
            stats.xtx_at(i, np + j)
        } else {
            stats.sum[np + j]
        }
    });
    let mut r = &cross * w.transpose();
    if has_bias {
        for i in 0..m {
            let si = if i < np { stats.sum[i] } else { n };
            for o in 0..k {
                r[(i, o)] += si * b[o];
            }
        }
    }
    let target_energy = {
        let d = Mat::<f64>::from_fn(nd, nd, |i, j| stats.xtx_at(np + i, np + j));
        let wd = &w * &d;
        let mut e = 0.0;
        for o in 0..k {
            for j in 0..nd {
                e += wd[(o, j)] * w[(o, j)];
            }
            let sd: f64 = (0..nd).map(|j| w[(o, j)] * stats.sum[np + j]).sum();
            e += 2.0 * b[o] * sd + n * b[o] * b[o];
        }
        e
    };
    let error = |theta: &Mat<f64>| -> f64 {
        let at = &a * theta;
        let mut e = target_energy;
        for o in 0..k {
            for i in 0..m {
                e += theta[(i, o)] * (at[(i, o)] - 2.0 * r[(i, o)]);
            }
        }
        e.max(0.0) / target_energy.max(f64::MIN_POSITIVE)
    };
    let before = Mat::<f64>::from_fn(
        m,
        k,
        |i, o| {
            if i < np { w[(o, kept_cols[i])] } else { b[o] }
        },
    );
    let error_before = error(&before);
    let mean_diag = (0..np).map(|i| a[(i, i)]).sum::<f64>() / np.max(1) as f64;
    let mut damp = options.damp;
    let theta = loop {
        let mut dampened = a.clone();
        for i in 0..np {
            dampened[(i, i)] += damp * mean_diag.max(f64::MIN_POSITIVE);
        }
        match dampened.llt(Side::Lower) {
            Ok(llt) => break llt.solve(r.as_ref()),
            Err(_) if damp < 1.0 => damp = (damp * 10.0).max(1e-6),
            Err(_) => {
                return Err(Error::Usage(format!(
                    "layer {name}'s inputs on the calibration samples are degenerate even dampened; give more (or more varied) samples."
                )));
            }
        }
    };
    let error_after = error(&theta);
    if error_after >= error_before {
        // Dampening can cost more than the refit gains where nothing was lost (channels that
        // carried nothing): the layer is left as the removal made it.
        return Ok(LayerRepair {
            layer: name.clone(),
            kind: "refit",
            error_before: Some(error_before),
            error_after: Some(error_before),
        });
    }

    // Write the refit weight and bias where the pruned model keeps them.
    let index_p = GraphIndex::new(pruned);
    let layout_p = LayerLayout {
        home: index_p
            .weight(&layout.weight)
            .map(|w| w.home)
            .unwrap_or(layout.home),
        ..layout.clone()
    };
    let stored =
        weight::stored(pruned, layout_p.home).and_then(|t| to_f32(&t).map(|v| (v, t.dims.clone())));
    let Some((values, dims)) = stored else {
        return Err(Error::Usage(format!(
            "layer {name}'s pruned weight is not a float tensor."
        )));
    };
    let layout_p = crate::reconstruct::layout::LayerLayout {
        dims: dims.iter().map(|&d| d.max(0) as usize).collect(),
        layout: shrunk(&layout.layout, k, np),
        ..layout_p
    };
    if values.len() != k * np {
        return Err(Error::Runtime(format!(
            "layer {name}'s pruned weight has {} values where {k} rows of {np} were expected.",
            values.len()
        )));
    }
    let refit = ndarray::Array2::from_shape_fn((k, np), |(o, i)| (theta[(i, o)] / alpha) as f32);
    let bias_p = bias_of(pruned, target.node);
    drop(index_p);
    weight::write_f32(
        pruned,
        layout_p.home,
        &layout_p.layout.from_matrices(&[refit]),
    );
    if has_bias && let Some((home, _, beta)) = bias_p {
        let values: Vec<f32> = (0..k).map(|o| (theta[(np, o)] / beta) as f32).collect();
        weight::write_f32(pruned, home, &values);
    }
    Ok(LayerRepair {
        layer: name.clone(),
        kind: "refit",
        error_before: Some(error_before),
        error_after: Some(error_after),
    })
}

/// The layout of a one-group weight with `rows` rows of `columns` columns.
fn shrunk(
    layout: &crate::reconstruct::layout::WeightLayout,
    rows: usize,
    columns: usize,
) -> crate::reconstruct::layout::WeightLayout {
    use crate::reconstruct::layout::WeightLayout as L;
    match layout {
        L::Direct { .. } => L::Direct { rows, columns },
        L::Transposed { .. } => L::Transposed { rows, columns },
        L::Grouped { .. } => L::Grouped {
            groups: 1,
            rows,
            columns,
        },
    }
}

#[cfg(test)]
#[path = "repair/tests.rs"]
mod tests;

//! One-shot pruning of a whole model, layer after layer as the papers do it: a layer's inputs
//! come from the model whose earlier layers are already pruned (and repaired).
//!
//! The layers go in rounds. Each round takes the planned layers not yet pruned whose data input
//! does not depend on another of them, collects all their inputs in one ONNX Runtime pass over
//! the samples (`collect`), prunes each weight (`prune_matrix`), writes it back where it is
//! stored, and, with repair on, shifts the layer's bias (or the running mean of the
//! BatchNormalization after it) so that each output's mean on the calibration inputs is kept;
//! a BatchNormalization's running variance follows its input's variance too.
//! Magnitude pruning needs no samples and no run.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use ndarray::Array2;

use super::collect::{Collector, Frontier};
use super::layout::{self, LayerLayout};
use super::{MatrixError, Method, Pattern, Products, SparseGptSettings, prune_matrix};
use crate::analysis::graph::GraphIndex;
use crate::error::{Error, Result, Sentence, Setting};
use crate::model::onnx::{GraphProto, ModelProto, data_type as dt};
use crate::model::tensor::to_f32;
use crate::model::weight::{self, Home};
use crate::progress::{Cancel, Progress};
use crate::runtime::Dataset;
use crate::{Layer, Model, ModelAnalysis};

/// How a model is pruned one-shot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneShotPruning {
    pub method: Method,
    pub pattern: Pattern,
    pub settings: SparseGptSettings,
    /// Keep each output's mean on the calibration inputs (bias or BatchNormalization mean; the
    /// BatchNormalization's variance re-estimated too).
    pub repair: bool,
}

/// What pruning one layer did.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerOutcome {
    pub name: String,
    /// The constant pruned (the initializer's or `Constant` node's name).
    pub weight: String,
    /// The fraction of zeros measured in the weight afterwards.
    pub sparsity: f64,
    /// The pattern applied: the one asked, or unstructured where the layer's width does not take
    /// it.
    pub pattern: Pattern,
    /// Why the layer was pruned otherwise than asked (its width, a shared weight, no repair).
    pub note: Option<String>,
    /// SparseGPT: the highest dampening its groups needed.
    pub damp: Option<f64>,
    pub retries: usize,
    /// SparseGPT: input columns never active on the samples, whose weights were zeroed (beyond
    /// the sparsity asked).
    pub dead_columns: usize,
    /// The tensor repair shifted: the bias, or the BatchNormalization's running mean (its
    /// running variance rescaled beside it).
    pub repaired: Option<String>,
    pub seconds: f64,
}

/// The pruned model and what was done.
#[derive(Debug, Clone)]
pub struct Reconstructed {
    pub proto: ModelProto,
    pub layers: Vec<LayerOutcome>,
    /// Floating-point operations spent on input statistics, factorizations and updates.
    pub flops: f64,
    pub seconds: f64,
    /// The most bytes of input statistics (f64: `XᵀX` or only its diagonal, as each layer's
    /// pruning and repair read, and the column sums) held at once.
    pub peak_bytes: u64,
    /// ONNX Runtime passes over the samples.
    pub rounds: usize,
}

/// Where repair writes a layer's output shift.
#[derive(Debug, Clone)]
enum RepairSite {
    /// A bias added to the outputs, scaled by `scale` (Gemm's `alpha / beta`) per unit of shift.
    Bias {
        name: String,
        home: Home,
        scale: f64,
    },
    /// The running mean (and variance) of the BatchNormalization that reads the outputs.
    BatchNorm {
        name: String,
        home: Home,
        variance: Option<Home>,
    },
}

struct Target<'a> {
    layer: &'a Layer,
    node: usize,
    sparsity: f64,
    layout: LayerLayout,
    weight: String,
    repair: Option<RepairSite>,
}

/// Prunes `layers` (name, sparsity) of `model` with `options`, collecting each layer's inputs on
/// the samples `data` (with the batch to run them in), which magnitude pruning does without (and
/// then repairs nothing).
pub fn prune_model(
    model: &Model,
    analysis: &ModelAnalysis,
    layers: &[(String, f64)],
    options: &OneShotPruning,
    data: Option<(&Dataset, usize)>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Reconstructed> {
    let started = Instant::now();
    let index = GraphIndex::new(model.graph());
    let mut targets: Vec<Target> = Vec::new();
    let mut shared: Vec<(&Layer, String)> = Vec::new();
    let mut first_of_weight: HashMap<Home, String> = HashMap::new();
    for (name, sparsity) in layers {
        let target = target(analysis, &index, name, *sparsity)?;
        let Some(target) = target else { continue };
        if let Some(first) = first_of_weight.get(&target.layout.home) {
            shared.push((target.layer, first.clone()));
            continue;
        }
        first_of_weight.insert(target.layout.home, target.layer.name.clone());
        targets.push(target);
    }
    targets.sort_by_key(|t| index.position(t.node));

    let has_samples = data.is_some_and(|(set, _)| set.samples > 0);
    if options.method.needs_samples() && !has_samples {
        return Err(Sentence::new(format!(
            "{} pruning needs calibration samples; give ",
            options.method.name()
        ))
        .set(Setting::Data, "FILE.npz")
        .text(" or prune by magnitude.")
        .into());
    }
    let run = options.method.needs_samples() || (options.repair && has_samples);
    let rounds = if run {
        rounds(&index, &targets)
    } else {
        vec![(0..targets.len()).collect()]
    };
    let batches = match data {
        Some((set, batch)) if run => set.batches(batch),
        _ => Vec::new(),
    };
    let total = (targets.len() + if run { rounds.len() * batches.len() } else { 0 }) as u64;
    let mut done = 0u64;
    progress.report(0, total, "one-shot pruning");

    let mut proto = model.proto.clone();
    let mut outcomes: Vec<LayerOutcome> = Vec::new();
    let mut flops = 0.0;
    let mut peak_bytes = 0u64;
    if run {
        for target in &targets {
            Collector::fits(
                &target.layer.name,
                &target.layout,
                products_read(options, target),
                Collector::prune_without_samples(),
            )?;
        }
    }
    // Each round runs only the part of the model upstream of its layers' inputs, back to what
    // earlier rounds kept (checked against whole runs: the transformer block's rounds, and
    // PP-OCRv4 pruned and repaired round by round in `frontier_on_a_model_with_pruning_and_repair`).
    let mut frontier = Frontier::new(batches.len());
    // The dense model's inputs to each round's layers (SparseGPT toward the dense outputs): the
    // dense model never changes, so its kept activations are never forgotten and each of its
    // nodes runs once over the whole pruning.
    let mut dense_frontier = Frontier::new(batches.len());
    for (number, round) in rounds.iter().enumerate() {
        cancel.check()?;
        let mut collectors: Vec<Option<Collector>> = vec![None; round.len()];
        if run {
            // After the first round the layers' inputs differ from the dense model's: SparseGPT
            // toward the dense outputs pairs them with the dense model's, recorded first.
            let toward_dense =
                number > 0 && options.method == Method::SparseGpt && options.settings.toward_dense;
            let mut list: Vec<Collector> = if toward_dense {
                let mut dense: Vec<Collector> = round
                    .iter()
                    .map(|&t| Collector::recording(&targets[t].layer.name, &targets[t].layout))
                    .collect();
                dense_frontier.collect(&model.proto, &mut dense, &batches, cancel, &mut |_| {})?;
                dense
                    .into_iter()
                    .zip(round)
                    .map(|(d, &t)| {
                        // Only a BatchNormalization's variance repair reads the dense inputs'
                        // own XᵀX.
                        let variance = repairs_variance(options, &targets[t]);
                        Collector::paired_with(d, &targets[t].layout, variance)
                    })
                    .collect()
            } else {
                round
                    .iter()
                    .map(|&t| {
                        let target = &targets[t];
                        let products = products_read(options, target);
                        Collector::collecting(&target.layer.name, &target.layout, products)
                    })
                    .collect()
            };
            let held: u64 = list
                .iter()
                .flat_map(|c| &c.stats)
                .map(super::InputStats::held_bytes)
                .sum();
            peak_bytes = peak_bytes.max(held);
            let label = format!(
                "inputs of {}",
                round
                    .iter()
                    .map(|&t| targets[t].layer.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            frontier.collect(&proto, &mut list, &batches, cancel, &mut |_| {
                done += 1;
                progress.report(done, total, &label);
            })?;
            flops += list
                .iter()
                .flat_map(|c| &c.stats)
                .map(statistics_flops)
                .sum::<f64>();
            collectors = list.into_iter().map(Some).collect();
        }
        for (slot, &t) in round.iter().enumerate() {
            cancel.check()?;
            let target = &targets[t];
            let graph = proto.graph.as_mut().expect("the model has a graph");
            let stats = collectors[slot].as_ref().map(|c| c.stats.as_slice());
            let (outcome, spent) = prune_layer(graph, target, stats, options)?;
            flops += spent;
            done += 1;
            progress.report(done, total, &target.layer.name);
            outcomes.push(outcome);
        }
        if run {
            // The next round recomputes what this one's pruning and repair changed.
            let changed: Vec<String> = outcomes[outcomes.len() - round.len()..]
                .iter()
                .flat_map(|o| std::iter::once(o.weight.clone()).chain(o.repaired.clone()))
                .collect();
            let nodes: Vec<usize> = round.iter().map(|&t| targets[t].node).collect();
            let graph = proto.graph.as_ref().expect("the model has a graph");
            frontier.invalidate(graph, &changed, &nodes);
        }
    }
    for (layer, first) in shared {
        let Some(of_first) = outcomes.iter().find(|o| o.name == first).cloned() else {
            continue;
        };
        outcomes.push(LayerOutcome {
            name: layer.name.clone(),
            note: Some(format!(
                "shares its weight with layer {first}, pruned once there"
            )),
            repaired: None,
            seconds: 0.0,
            ..of_first
        });
    }
    Ok(Reconstructed {
        proto,
        layers: outcomes,
        flops,
        seconds: started.elapsed().as_secs_f64(),
        peak_bytes,
        rounds: if run { rounds.len() } else { 0 },
    })
}

/// What of `XᵀX` a layer's statistics must hold: what its method reads, or the whole matrix
/// where repair re-estimates a BatchNormalization's running variance (`w Σ wᵀ` reads every
/// product). A bias's or running mean's shift reads only the column sums, always kept.
fn products_read(options: &OneShotPruning, target: &Target) -> Products {
    #[cfg(test)]
    if tests::WHOLE_PRODUCTS.get() {
        return Products::Full;
    }
    if repairs_variance(options, target) {
        Products::Full
    } else {
        options.method.products()
    }
}

/// Whether repair rescales a BatchNormalization's running variance after this layer.
fn repairs_variance(options: &OneShotPruning, target: &Target) -> bool {
    options.repair
        && matches!(
            target.repair,
            Some(RepairSite::BatchNorm {
                variance: Some(_),
                ..
            })
        )
}

/// Floating-point operations spent accumulating `stats`: `XᵀX` is symmetric, so its lower
/// triangle, n·k(k+1) operations, is all it takes (its diagonal alone, 2n·k); paired with the
/// dense inputs, their triangle where kept and the full cross product (2n·k²) too.
fn statistics_flops(stats: &super::InputStats) -> f64 {
    let (n, k) = (stats.rows as f64, stats.columns() as f64);
    let products = |products: Products| match products {
        Products::Full => n * k * (k + 1.0),
        Products::Diagonal => 2.0 * n * k,
        Products::None => 0.0,
    };
    products(stats.products())
        + stats
            .dense
            .as_ref()
            .map_or(0.0, |d| products(d.stats.products()) + 2.0 * n * k * k)
}

/// The planned layer `name`, its layout and where repair writes; `None` when it stays dense.
fn target<'a>(
    analysis: &'a ModelAnalysis,
    index: &GraphIndex,
    name: &str,
    sparsity: f64,
) -> Result<Option<Target<'a>>> {
    let layer = analysis.layer(name).ok_or_else(|| {
        let hint = crate::suggest::did_you_mean(
            name,
            analysis
                .layers
                .iter()
                .filter(|l| l.is_prunable)
                .map(|l| l.name.as_str()),
        )
        .map_or(String::new(), |n| format!(" (did you mean {n}?)"));
        Error::Usage(format!(
            "the model has no layer named {name}{hint}; name the layers as `layers` lists them."
        ))
    })?;
    if !(0.0..=1.0).contains(&sparsity) || sparsity.is_nan() {
        return Err(Error::Usage(format!(
            "layer {name} has sparsity {sparsity}, outside 0 to 1; give a fraction between 0 and 1."
        )));
    }
    if sparsity == 0.0 {
        return Ok(None);
    }
    if !layer.is_prunable {
        return Err(Error::Usage(format!(
            "layer {name} is not prunable ({}); leave it out of the plan.",
            layer
                .not_prunable_reason
                .as_deref()
                .unwrap_or("it has no constant weight")
        )));
    }
    let node = index.node_of(name).ok_or_else(|| {
        Error::Usage(format!(
            "layer {name} is not a node of this model's graph; analyze the model again."
        ))
    })?;
    let layout = layout::of(layer, &index.graph.node[node], index).map_err(|why| {
        Error::Usage(format!(
            "layer {name} cannot be pruned one-shot: {why}; leave it dense or prune by magnitude."
        ))
    })?;
    let weight = index
        .weight(&layout.weight)
        .map(|w| w.name.to_string())
        .or_else(|| layer.weight.as_ref().map(|w| w.name.clone()))
        .unwrap_or_else(|| layout.weight.clone());
    let repair = repair_site(layer, node, &layout, index);
    Ok(Some(Target {
        layer,
        node,
        sparsity,
        layout,
        weight,
        repair,
    }))
}

/// The layers of each round: those whose data input depends on no other layer still to prune.
fn rounds(index: &GraphIndex, targets: &[Target]) -> Vec<Vec<usize>> {
    let below: Vec<HashSet<usize>> = targets
        .iter()
        .map(|t| index.downstream(t.node).into_iter().collect())
        .collect();
    let source: Vec<Option<usize>> = targets
        .iter()
        .map(|t| index.producer_index(&t.layout.input))
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
        // A DAG always has a first layer; a damaged graph with a cycle goes one layer at a time.
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

/// Where a layer's output shift can be compensated, if anywhere.
fn repair_site(
    layer: &Layer,
    node: usize,
    layout: &LayerLayout,
    index: &GraphIndex,
) -> Option<RepairSite> {
    let graph = index.graph;
    let outputs = layout.layout.outputs();
    let constant = |value: &str| -> Option<(String, Home, Vec<i64>)> {
        let w = index.weight(value)?;
        (w.tensor.data_type() == dt::FLOAT)
            .then(|| (w.name.to_string(), w.home, w.tensor.dims.clone()))
    };
    let numel = |dims: &[i64]| dims.iter().map(|&d| d.max(0) as usize).product::<usize>();
    let output = layer.outputs.first()?;
    let mut consumers = index.consumers(output);
    let only = consumers.next().filter(|_| consumers.next().is_none());
    let node_proto = &graph.node[node];
    match layer.op_type.as_str() {
        "Conv" => {
            if let Some(c) = only
                && graph.node[c].op_type() == "BatchNormalization"
                && graph.node[c].input.first() == Some(output)
                && let Some((name, home, dims)) =
                    graph.node[c].input.get(3).and_then(|m| constant(m))
                && numel(&dims) == outputs
            {
                let variance = graph.node[c]
                    .input
                    .get(4)
                    .and_then(|v| constant(v))
                    .filter(|(_, _, dims)| numel(dims) == outputs)
                    .map(|(_, home, _)| home);
                return Some(RepairSite::BatchNorm {
                    name,
                    home,
                    variance,
                });
            }
            let (name, home, dims) = constant(node_proto.input.get(2)?)?;
            (numel(&dims) == outputs).then_some(RepairSite::Bias {
                name,
                home,
                scale: 1.0,
            })
        }
        "Gemm" => {
            let (name, home, dims) = constant(node_proto.input.get(2)?)?;
            let alpha = crate::model::attr::float(node_proto, "alpha").unwrap_or(1.0) as f64;
            let beta = crate::model::attr::float(node_proto, "beta").unwrap_or(1.0) as f64;
            (beta != 0.0 && per_output(&dims, outputs, layout.output_axis_from_end?)).then_some(
                RepairSite::Bias {
                    name,
                    home,
                    scale: alpha / beta,
                },
            )
        }
        "MatMul" => {
            let c = only?;
            let add = &graph.node[c];
            if add.op_type() != "Add" || add.input.len() != 2 {
                return None;
            }
            let other = if add.input[0] == *output {
                &add.input[1]
            } else {
                &add.input[0]
            };
            let (name, home, dims) = constant(other)?;
            per_output(&dims, outputs, layout.output_axis_from_end?).then_some(RepairSite::Bias {
                name,
                home,
                scale: 1.0,
            })
        }
        _ => None,
    }
}

/// Whether a bias of `dims` adds one value per output along the output axis (counted from the
/// end) and broadcasts along every other.
fn per_output(dims: &[i64], outputs: usize, axis_from_end: usize) -> bool {
    if dims.len() < axis_from_end {
        return false;
    }
    let at = dims.len() - axis_from_end;
    dims.iter().enumerate().all(|(i, &d)| {
        if i == at {
            d as usize == outputs
        } else {
            d == 1
        }
    })
}

/// Prunes one layer in `graph`; the outcome, and the FLOPs spent.
fn prune_layer(
    graph: &mut GraphProto,
    target: &Target,
    stats: Option<&[super::InputStats]>,
    options: &OneShotPruning,
) -> Result<(LayerOutcome, f64)> {
    let started = Instant::now();
    let name = &target.layer.name;
    let layout = &target.layout;
    let values = weight::stored(graph, layout.home)
        .filter(|t| t.data_type() == dt::FLOAT)
        .and_then(|t| to_f32(&t))
        .filter(|v| v.len() == layout.layout.len())
        .ok_or_else(|| {
            Error::Usage(format!(
                "weight '{}' of layer {name} is not a float32 tensor of {} values with a readable payload; leave the layer dense.",
                target.weight,
                layout.layout.len()
            ))
        })?;
    let mut matrices = layout.layout.to_matrices(&values);
    // One float copy of the weight at a time: the stored values go once they are matrices.
    drop(values);
    // What repair keeps, measured on the dense weight before it is pruned (no copy of it kept).
    let before = match (&target.repair, stats) {
        (Some(site), Some(stats)) if options.repair => Some(outputs_before(site, &matrices, stats)),
        _ => None,
    };
    let columns = layout.layout.columns();
    let (pattern, sparsity, mut note) = if options.pattern.fits(columns) {
        (
            options.pattern,
            options.pattern.sparsity().unwrap_or(target.sparsity),
            None,
        )
    } else {
        let s = options.pattern.sparsity().unwrap_or(target.sparsity);
        (
            Pattern::Unstructured,
            s,
            Some(format!(
                "layer {name} has {columns} input features per output, not a multiple of {}, so it was pruned unstructured to {}",
                match options.pattern {
                    Pattern::NofM { m, .. } => m,
                    Pattern::Unstructured => 1,
                },
                crate::format::percent(s)
            )),
        )
    };
    let mut damp: Option<f64> = None;
    let mut retries = 0;
    let mut dead_columns = 0;
    let mut flops = 0.0;
    for (g, matrix) in matrices.iter_mut().enumerate() {
        let group_stats = match options.method {
            Method::Magnitude => None,
            _ => stats.and_then(|s| s.get(g)),
        };
        let report = prune_matrix(
            options.method,
            matrix,
            group_stats,
            sparsity,
            pattern,
            &options.settings,
        )
        .map_err(|err| match err {
            MatrixError::Singular { damp } => Error::Usage(format!(
                "layer {name}'s Hessian stayed singular with dampening raised to {damp} of its mean diagonal; give more (or more varied) calibration samples, or prune it by magnitude."
            )),
            other => Error::Usage(format!("layer {name} could not be pruned: {other}.")),
        })?;
        if let Some(d) = report.damp {
            damp = Some(damp.map_or(d, |m: f64| m.max(d)));
        }
        retries += report.retries;
        dead_columns += report.dead_columns;
        flops += report.flops;
    }
    let out = layout.layout.from_matrices(&matrices);
    let zeros = out.iter().filter(|v| **v == 0.0).count();
    let len = out.len();
    let mut repaired = None;
    if let (Some(before), Some(site), Some(stats)) = (&before, &target.repair, stats) {
        repair(graph, site, before, &matrices, stats);
        repaired = Some(match site {
            RepairSite::Bias { name, .. } | RepairSite::BatchNorm { name, .. } => name.clone(),
        });
    }
    drop(matrices);
    weight::write_f32(graph, layout.home, &out);
    drop(out);
    if options.repair && repaired.is_none() {
        match (&target.repair, stats) {
            (Some(_), Some(_)) => {}
            (None, _) => {
                note.get_or_insert_with(|| {
                    format!("layer {name} has no bias or BatchNormalization to repair")
                });
            }
            (Some(_), None) => {
                note.get_or_insert_with(|| {
                    format!("layer {name} was not repaired: there were no calibration samples")
                });
            }
        }
    }
    Ok((
        LayerOutcome {
            name: name.clone(),
            weight: target.weight.clone(),
            sparsity: if len == 0 {
                0.0
            } else {
                zeros as f64 / len as f64
            },
            pattern,
            note,
            damp,
            retries,
            dead_columns,
            repaired,
            seconds: started.elapsed().as_secs_f64(),
        },
        flops,
    ))
}

/// The dense layer's outputs that repair keeps, per weight group.
struct OutputsBefore {
    means: Vec<f64>,
    /// For a BatchNormalization's running variance, where it has one to rescale.
    variances: Option<Vec<f64>>,
}

/// The dense weights' output means (and variances, for a BatchNormalization) on the inputs to
/// match: the dense model's where its inputs were paired in (its mean output is the one to keep).
fn outputs_before(
    site: &RepairSite,
    dense_weights: &[Array2<f32>],
    stats: &[super::InputStats],
) -> Vec<OutputsBefore> {
    dense_weights
        .iter()
        .zip(stats)
        .map(|(w, s)| {
            let dense = s.dense.as_ref().map_or(s, |d| &d.stats);
            OutputsBefore {
                means: super::repair::output_means(w.view(), dense),
                variances: matches!(
                    site,
                    RepairSite::BatchNorm {
                        variance: Some(_),
                        ..
                    }
                )
                .then(|| super::repair::output_variances(w.view(), dense)),
            }
        })
        .collect()
}

/// Writes the repair: a bias grows by each output's mean shift `W·μ − Ŵ·μ` (`W·μ_d − Ŵ·μ` where
/// the dense model's inputs `μ_d` were paired in: the dense model's mean output is the one to
/// keep); a BatchNormalization's running mean drops by it, and its running variance follows the
/// outputs' variance on the calibration inputs (`var · var̂ / var₀`), as re-estimating its
/// statistics would.
fn repair(
    graph: &mut GraphProto,
    site: &RepairSite,
    before: &[OutputsBefore],
    pruned: &[Array2<f32>],
    stats: &[super::InputStats],
) {
    let mut shift = Vec::new();
    let mut ratio = Vec::new();
    for ((b, p), s) in before.iter().zip(pruned).zip(stats) {
        let after = super::repair::output_means(p.view(), s);
        shift.extend(b.means.iter().zip(&after).map(|(b, a)| b - a));
        if let Some(var_before) = &b.variances {
            let var_after = super::repair::output_variances(p.view(), s);
            ratio.extend(
                var_before
                    .iter()
                    .zip(&var_after)
                    .map(|(b, a)| if *b > 0.0 && *a > 0.0 { a / b } else { 1.0 }),
            );
        }
    }
    let update = |graph: &mut GraphProto, home: Home, change: &dyn Fn(usize, f64) -> f64| {
        let Some(mut values) = weight::stored(graph, home).and_then(|t| to_f32(&t)) else {
            return;
        };
        if values.len() != shift.len() {
            return;
        }
        for (i, v) in values.iter_mut().enumerate() {
            *v = change(i, *v as f64) as f32;
        }
        weight::write_f32(graph, home, &values);
    };
    match site {
        RepairSite::Bias { home, scale, .. } => {
            update(graph, *home, &|i, v| v + scale * shift[i]);
        }
        RepairSite::BatchNorm { home, variance, .. } => {
            update(graph, *home, &|i, v| v - shift[i]);
            if let Some(variance) = variance {
                update(graph, *variance, &|i, v| v * ratio[i]);
            }
        }
    }
}

#[cfg(test)]
mod tests;

//! The profile: statistics over runs, each layer's time from its kernels, the model's estimate,
//! the per-op-type totals, and the notes and `fused` lines that explain them.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use super::attribute::{Attribution, Fate, OnnxGraph};
use super::estimate::{
    CostModel, DENSE_INPUT_CHANNELS, ENGINE, Estimated, MEASURED_ERROR, estimate_layers,
    flops_caveats, layer_base, layer_flops_estimates, model_flops_estimates,
};
use super::rounds;
use super::trace::Trace;
use super::{LayerPerf, ModelPerf, OpTypePerf, PERF_LEVELS, PerfKind, PerfOptions, PerfProfile};
use crate::analysis::ModelAnalysis;
use crate::profile::levels::level_key;
use crate::runtime::{analysis_batch, runtime};

#[derive(Debug, Clone, Copy)]
struct Stats {
    mean: f64,
    p50: f64,
    p90: f64,
}

fn stats(values: &[f64]) -> Option<Stats> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(Stats {
        mean: values.iter().sum::<f64>() / values.len() as f64,
        p50: crate::percentile::of_sorted(&sorted, 0.5),
        p90: crate::percentile::of_sorted(&sorted, 0.9),
    })
}

/// The first few names of a list, for a note.
pub(super) fn list(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!(
            "{}, and {} more",
            names[..SHOWN].join(", "),
            names.len() - SHOWN
        )
    }
}

fn round_ms(ms: f64) -> String {
    format!("{ms:.3}")
}

/// Sums per-run times element-wise.
fn add_runs(total: &mut Vec<f64>, runs: &[f64]) {
    if total.len() < runs.len() {
        total.resize(runs.len(), 0.0);
    }
    for (t, r) in total.iter_mut().zip(runs) {
        *t += r;
    }
}

/// Kernel times per run of the fastest round, gathered per ONNX node, and for ONNX Runtime's own
/// kernels apart.
struct KernelSums<'k> {
    node_runs: HashMap<usize, Vec<f64>>,
    /// The kernel ops that ran each node, for the `fused` lines.
    node_ops: HashMap<usize, Vec<&'k str>>,
    /// ONNX Runtime's own kernels' time in each kept run (one entry per run, zero without them).
    runtime_runs: Vec<f64>,
    runtime_ops: Vec<&'k str>,
    runtime_count: usize,
}

impl<'k> KernelSums<'k> {
    /// From the runs at positions `keep` of each kernel's `per_run`.
    fn new(trace: &'k Trace, attribution: &Attribution, keep: &[usize]) -> KernelSums<'k> {
        let mut sums = KernelSums {
            node_runs: HashMap::new(),
            node_ops: HashMap::new(),
            runtime_runs: vec![0.0; keep.len()],
            runtime_ops: Vec::new(),
            runtime_count: 0,
        };
        for (kernel, node) in trace.kernels.iter().zip(&attribution.kernel_node) {
            let runs: Vec<f64> = keep.iter().map(|&k| kernel.per_run[k]).collect();
            let ops = match node {
                Some(node) => {
                    add_runs(sums.node_runs.entry(*node).or_default(), &runs);
                    sums.node_ops.entry(*node).or_default()
                }
                None => {
                    add_runs(&mut sums.runtime_runs, &runs);
                    sums.runtime_count += 1;
                    &mut sums.runtime_ops
                }
            };
            if !ops.contains(&kernel.op.as_str()) {
                ops.push(&kernel.op);
            }
        }
        sums
    }

    /// Mean time per run of every kernel.
    fn kernel_ms(&self) -> Option<f64> {
        let mut total = self.runtime_runs.clone();
        for runs in self.node_runs.values() {
            add_runs(&mut total, runs);
        }
        stats(&total).map(|s| s.mean)
    }
}

/// The profile from the timed runs' wall-clock ms (split into `rounds`) and ONNX Runtime's trace
/// of them. The model's and every layer's time are their means over the fastest round the
/// profiler recorded (`rounds.rs` says why); the percentiles are over every timed run.
pub(super) fn assemble(
    analysis: &ModelAnalysis,
    options: &PerfOptions,
    run_ms: &[f64],
    rounds: &[Range<usize>],
    trace: &Trace,
    graph: &OnnxGraph,
    attribution: &Attribution,
) -> PerfProfile {
    let round_ms = rounds::means(rounds, run_ms);
    let best = rounds::fastest(rounds, &round_ms, &trace.recorded);
    let keep: Vec<usize> = (0..trace.recorded.len())
        .filter(|&k| best.is_some_and(|b| rounds[b].contains(&trace.recorded[k])))
        .collect();
    let sums = KernelSums::new(trace, attribution, &keep);
    let batch_scale = options.batch as f64 / analysis_batch(analysis) as f64;
    let mut layers = layer_times(analysis, graph, attribution, &sums, batch_scale);
    let model_stats = stats(run_ms);
    // Without recorded kernels the layers have no times, and the model's is its fastest round.
    let model_ms = best
        .map(|b| round_ms[b])
        .or_else(|| round_ms.iter().copied().reduce(f64::min))
        .filter(|_| !run_ms.is_empty());
    let cost = CostModel::fit(
        &layers
            .iter()
            .filter(|l| l.prunable)
            .filter_map(|l| Some((l.name.as_str(), l.ms?, l.flops? as f64)))
            .collect::<Vec<_>>(),
    );
    let estimated = estimate_layers(&mut layers, analysis, cost.as_ref().map(|(c, _)| c));
    let total_flops = (analysis.totals.flops as f64 * batch_scale).round() as u64;
    let model = ModelPerf {
        batch: options.batch,
        threads: options.threads,
        iterations: options.iterations,
        warmup: options.warmup,
        ms_per_batch: model_ms,
        p50_ms: model_stats.map(|s| s.p50),
        p90_ms: model_stats.map(|s| s.p90),
        items_per_second: model_ms
            .filter(|&ms| ms > 0.0)
            .map(|ms| options.batch as f64 * 1e3 / ms),
        flops: total_flops,
        estimated_ms: PERF_LEVELS
            .iter()
            .zip(&estimated.saved)
            .map(|(&s, saved)| (level_key(s), model_ms.unwrap_or(0.0) - saved))
            .collect(),
        estimated_flops: model_flops_estimates(total_flops, &layers),
        kernel_ms: sums.kernel_ms(),
        runtime_only_ms: stats(&sums.runtime_runs).map(|s| s.mean),
        compute_flops_per_ms: cost.as_ref().map(|(c, _)| c.flops_per_ms),
        rounds_ms: if rounds.len() > 1 {
            round_ms
        } else {
            Vec::new()
        },
    };

    let mut notes: Vec<String> = model_stats
        .and_then(|s| rounds::busy_note(&model.rounds_ms, s.p50, s.p90))
        .into_iter()
        .collect();
    notes.extend(run_notes(options, rounds.len(), trace, &model, &sums));
    notes.extend(fate_notes(analysis, graph, attribution, trace));
    notes.extend(estimate_notes(cost.as_ref(), &estimated));
    if (batch_scale - 1.0).abs() > f64::EPSILON {
        let at = analysis_batch(analysis);
        notes.push(format!(
            "FLOPs are for a batch of {}: the analysis's counts (batch {at}) scaled by {}/{at}.",
            options.batch, options.batch
        ));
    }
    notes.extend(flops_caveats(analysis));
    PerfProfile {
        kind: PerfKind::Measured,
        levels: PERF_LEVELS.to_vec(),
        model,
        op_types: op_types(&layers),
        fused: fused_lines(graph, attribution, &sums.node_ops),
        layers,
        notes,
        seconds: 0.0,
    }
}

/// Every analysis layer with its time: its kernels' for a timed layer, 0 for a fused or folded
/// one, none for a layer the mapping did not reach (or when no run was recorded).
fn layer_times(
    analysis: &ModelAnalysis,
    graph: &OnnxGraph,
    attribution: &Attribution,
    sums: &KernelSums,
    batch_scale: f64,
) -> Vec<LayerPerf> {
    // Empty when the profiler recorded no run.
    let zero = (!sums.runtime_runs.is_empty()).then_some(0.0);
    analysis
        .layers
        .iter()
        .enumerate()
        .map(|(k, layer)| {
            let flops = layer.flops.map(|f| (f as f64 * batch_scale).round() as u64);
            let mut perf = layer_base(layer, flops);
            perf.estimated_flops = layer_flops_estimates(layer, flops);
            // The analysis lists one layer per node, in the graph index's topological order.
            let node = graph.order().get(k).copied();
            let Some(node) = node.filter(|&n| graph.nodes[n].layer == layer.name) else {
                return perf;
            };
            match attribution.fate[node] {
                Fate::Timed => {
                    let s = sums.node_runs.get(&node).and_then(|runs| stats(runs));
                    (perf.ms, perf.p50_ms, perf.p90_ms) =
                        (s.map(|s| s.mean), s.map(|s| s.p50), s.map(|s| s.p90));
                    perf.fused_from = graph
                        .order()
                        .iter()
                        .filter(|&&n| attribution.fate[n] == Fate::FusedInto(node))
                        .map(|&n| graph.nodes[n].layer.clone())
                        .collect();
                }
                Fate::FusedInto(owner) => {
                    (perf.ms, perf.p50_ms, perf.p90_ms) = (zero, zero, zero);
                    perf.fused_into = Some(graph.nodes[owner].layer.clone());
                }
                Fate::Folded => (perf.ms, perf.p50_ms, perf.p90_ms) = (zero, zero, zero),
                Fate::Unknown => {}
            }
            perf
        })
        .collect()
}

/// How the run was made and how much of its time the kernels explain.
fn run_notes(
    options: &PerfOptions,
    rounds: usize,
    trace: &Trace,
    model: &ModelPerf,
    sums: &KernelSums,
) -> Vec<String> {
    let version = runtime()
        .ok()
        .and_then(|r| r.version())
        .map_or(String::new(), |v| format!(" {v}"));
    let threads = options.threads.map_or("every core".to_string(), |t| {
        format!("{t} thread(s) per operator")
    });
    let runs = if rounds > 1 {
        format!(
            "{} timed runs in {rounds} rounds a second apart; ms_per_batch and each layer's time are their means over the fastest round (rounds_ms has each round's), p50_ms and p90_ms are over every timed run",
            options.iterations
        )
    } else {
        format!(
            "{} timed runs; ms_per_batch and each layer's time are their means",
            options.iterations
        )
    };
    let mut notes = vec![format!(
        "Measured in ONNX Runtime{version} on the CPU: batch {}, {threads}, {} warmup and {runs}; times are wall-clock, with ONNX Runtime's profiler on.",
        options.batch, options.warmup
    )];
    if trace.recorded.len() < trace.timed_runs {
        notes.push(format!(
            "ONNX Runtime's profiler recorded kernels in {} of {} timed runs (it stops at its event limit); layer times come from those runs.",
            trace.recorded.len(),
            trace.timed_runs
        ));
    }
    if let (Some(kernel_ms), Some(model_ms)) = (model.kernel_ms, model.ms_per_batch)
        && model_ms > 0.0
    {
        notes.push(format!(
            "Kernel times add up to {} of {} ms per batch ({:.0}%); the rest is ONNX Runtime's work between kernels (binding inputs, allocating, scheduling).",
            round_ms(kernel_ms),
            round_ms(model_ms),
            kernel_ms / model_ms * 100.0
        ));
    }
    if sums.runtime_count > 0 {
        notes.push(format!(
            "{} ms in {} ONNX Runtime nodes with no ONNX counterpart ({}): layout changes and copies it added itself; no layer includes them.",
            round_ms(model.runtime_only_ms.unwrap_or(0.0)),
            sums.runtime_count,
            sums.runtime_ops.join(", ")
        ));
    }
    notes
}

fn estimate_notes(cost: Option<&(CostModel, String)>, estimated: &Estimated) -> Vec<String> {
    let Some((cost, fastest)) = cost else {
        return vec!["ONNX Runtime's CPU kernels are dense: pruning does not make them faster. No prunable layer has both a time and FLOPs, so estimated_ms is the measured time at every level.".into()];
    };
    let mut notes = vec![format!(
        "ONNX Runtime's CPU kernels are dense: pruning does not make them faster. estimated_ms is an estimate for {ENGINE}, {MEASURED_ERROR}: in each prunable layer, the part of its time that is compute (at {:.1} GFLOP/s, from {}) shrinks with sparsity as a sparse kernel's does, the rest stays (docs/analysis.md, \"Performance profile\").",
        cost.flops_per_ms / 1e6,
        fastest
    )];
    let names = |layers: &[String]| list(&layers.iter().map(String::as_str).collect::<Vec<_>>());
    if !estimated.dense.is_empty() {
        notes.push(format!(
            "{} prunable layer(s) keep their time at every level: Convs with at most {DENSE_INPUT_CHANNELS} input channels per group (a first layer on an image, a depthwise Conv), which the engine runs with its dense kernel at any sparsity: {}.",
            estimated.dense.len(),
            names(&estimated.dense)
        ));
    }
    if !estimated.not_estimated.is_empty() {
        notes.push(format!(
            "No estimate for {} prunable layer(s) without a measured time or known FLOPs; they keep their time: {}.",
            estimated.not_estimated.len(),
            names(&estimated.not_estimated)
        ));
    }
    notes
}

/// One line per kernel that did other nodes' work: "conv includes bn, relu (...)".
fn fused_lines(
    graph: &OnnxGraph,
    attribution: &Attribution,
    kernel_ops: &HashMap<usize, Vec<&str>>,
) -> Vec<String> {
    let mut members: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for &node in graph.order() {
        if let Fate::FusedInto(owner) = attribution.fate[node] {
            members
                .entry(graph.position(owner))
                .or_default()
                .push(&graph.nodes[node].layer);
        }
    }
    members
        .into_iter()
        .map(|(position, fused)| {
            let owner = graph.order()[position];
            let ops = kernel_ops
                .get(&owner)
                .map_or(graph.nodes[owner].op.to_string(), |ops| ops.join(" + "));
            format!(
                "{} includes {} (fused by ONNX Runtime into one {ops} kernel)",
                graph.nodes[owner].layer,
                fused.join(", ")
            )
        })
        .collect()
}

/// Notes on layers without a kernel of their own that were not fused, and on subgraphs.
fn fate_notes(
    analysis: &ModelAnalysis,
    graph: &OnnxGraph,
    attribution: &Attribution,
    trace: &Trace,
) -> Vec<String> {
    let named = |fate: Fate| -> Vec<&str> {
        graph
            .order()
            .iter()
            .filter(|&&n| attribution.fate[n] == fate)
            .map(|&n| graph.nodes[n].layer.as_str())
            .collect()
    };
    let mut notes = Vec::new();
    let folded = named(Fate::Folded);
    if !folded.is_empty() {
        notes.push(format!(
            "{} layer(s) computed from constants alone were folded by ONNX Runtime before the first run and take no time: {}.",
            folded.len(),
            list(&folded)
        ));
    }
    let unknown = named(Fate::Unknown);
    if !unknown.is_empty() {
        notes.push(format!(
            "{} layer(s) have no kernel in ONNX Runtime's profile and none they could be fused into was found, so they have no time: {}.",
            unknown.len(),
            list(&unknown)
        ));
    }
    let control_flow: Vec<&str> = analysis
        .layers
        .iter()
        .filter(|l| matches!(l.op_type.as_str(), "If" | "Loop" | "Scan"))
        .map(|l| l.name.as_str())
        .collect();
    if !control_flow.is_empty() || trace.nested > 0 {
        notes.push(format!(
            "If/Loop/Scan layers are timed whole, their subgraphs' {} kernel(s) included; layers inside subgraphs are not profiled or estimated{}.",
            trace.nested,
            if control_flow.is_empty() {
                String::new()
            } else {
                format!(" ({})", list(&control_flow))
            }
        ));
    }
    notes
}

fn op_types(layers: &[LayerPerf]) -> Vec<OpTypePerf> {
    let mut by_op: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for layer in layers {
        let entry = by_op.entry(&layer.op_type).or_default();
        entry.0 += layer.ms.unwrap_or(0.0);
        entry.1 += 1;
    }
    let mut ops: Vec<OpTypePerf> = by_op
        .into_iter()
        .map(|(op, (ms, count))| OpTypePerf {
            op_type: op.to_string(),
            ms,
            count,
        })
        .collect();
    ops.sort_by(|a, b| b.ms.total_cmp(&a.ms).then(a.op_type.cmp(&b.op_type)));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_the_mean_and_interpolated_percentiles() {
        let s = stats(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(s.mean, 2.5);
        assert_eq!(s.p50, 2.5);
        assert!((s.p90 - 3.7).abs() < 1e-12);
        assert!(stats(&[]).is_none());
    }
}

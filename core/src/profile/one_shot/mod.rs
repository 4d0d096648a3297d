//! The `one-shot` loss profile: each prunable layer pruned alone by magnitude to each level, the
//! model run on data, its outputs compared with the unpruned ones (`metric`).
//!
//! SparseML builds a session per layer and level and reruns the whole model each time. Here one
//! baseline run caches every activation the rest needs; then, per layer, one session of just the
//! layer and what lies downstream of it (`plan`) is built, and each level only feeds it the pruned
//! weight and the cached activations. Layers run in parallel, one session each.
//!
//! A session holds every weight it reads, and the downstream part of a transformer's first layers
//! is the whole model: for a model whose constants pass `IN_PARTS_ABOVE_BYTES`, the baseline and
//! each layer's downstream part run in parts instead (`reconstruct::collect::run_in_parts`, fed
//! the cached activations and the pruned weight where they are), one layer at a time, so that
//! resident memory holds one part's weights and not the model.

pub(crate) mod plan;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use ndarray::ArrayD;
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor, TensorElementType, ValueType};

use self::plan::{Downstream, Planner};
use super::levels;
use super::loss::{DataInfo, LossMethod, LossProfile, RawLayer, Skipped, not_prunable};
use super::prune;
use crate::error::{Error, Result, Sentence, Setting};
use crate::model::tensor;
use crate::progress::{Cancel, Progress};
use crate::reconstruct::collect::{
    Collector, Given, IN_PARTS_ABOVE_BYTES, PART_BYTES, Values, constant_bytes, observe_in_parts,
    run_in_parts,
};
use crate::reconstruct::layout::{self, WeightLayout};
use crate::reconstruct::{self, InputStats, Method, Pattern, SparseGptSettings};
use crate::runtime::batch::{analysis_batch, dataset};
use crate::runtime::metric::Reference;
use crate::runtime::{Batch, build_session, copy_value, to_f32, to_value};
use crate::{Layer, Model, ModelAnalysis};

#[derive(Debug, Clone, PartialEq)]
pub struct OneShotOptions {
    pub levels: Vec<f64>,
    /// A `.npz` of samples (arrays named after the inputs, optional `labels`); seeded random
    /// inputs without it.
    pub data: Option<PathBuf>,
    /// Use only the first N samples (data), or generate N (no data).
    pub samples: Option<usize>,
    /// Samples per run, where the model's batch dim is free.
    pub batch: Option<usize>,
    /// Cores to use; `None` for all.
    pub threads: Option<usize>,
    pub seed: u64,
    /// How each layer is pruned at each level: magnitude, or reconstructed from the inputs the
    /// layer sees on the samples (Wanda, SparseGPT), as `export model --method` will prune it.
    pub prune: Method,
}

pub fn profile(
    model: &Model,
    analysis: &ModelAnalysis,
    options: &OneShotOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<LossProfile> {
    let in_parts = (constant_bytes(&model.proto) > IN_PARTS_ABOVE_BYTES).then_some(PART_BYTES);
    profile_with(model, analysis, options, in_parts, progress, cancel)
}

/// [`profile`], its runs in parts of about `in_parts` bytes of constants each, or each one
/// session.
fn profile_with(
    model: &Model,
    analysis: &ModelAnalysis,
    options: &OneShotOptions,
    in_parts: Option<u64>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<LossProfile> {
    let started = Instant::now();
    levels::validate(&options.levels).map_err(|why| {
        Error::from(
            Sentence::default()
                .setting(Setting::Levels)
                .text(format!(": {why}.")),
        )
    })?;
    if options.prune.needs_samples() && options.data.is_none() {
        return Err(Sentence::new(format!(
            "pruning by {} reads the inputs each layer sees on real samples; give ",
            options.prune.name()
        ))
        .setting(Setting::Data)
        .text(" FILE.npz.")
        .into());
    }
    let mut skipped = not_prunable(analysis);
    let default_samples = analysis_batch(analysis);
    let (data, batch) = dataset(
        analysis,
        options.data.as_deref(),
        options.samples,
        default_samples,
        options.batch,
        options.seed,
    )?;
    let batches = data.batches(batch);

    let graph = model.graph();
    let planner = Planner::new(graph);
    let mut parts: Vec<(&Layer, Downstream)> = Vec::new();
    for layer in analysis.layers.iter().filter(|l| l.is_prunable) {
        let weight = layer.weight_input.and_then(|i| layer.inputs.get(i));
        match (planner.node_of(&layer.name), weight) {
            (Some(node), Some(weight)) => parts.push((layer, planner.downstream(node, weight))),
            _ => skipped.push(Skipped {
                name: layer.name.clone(),
                reason: "its node or weight input could not be found in the graph".into(),
            }),
        }
    }

    // One baseline run per batch caches what the downstream parts read; a weight stored as a
    // constant (an initializer or a `Constant` node, behind `Identity` nodes or not) is read
    // from the model instead.
    let index = planner.index();
    let mut cached: Vec<String> = parts
        .iter()
        .flat_map(|(_, p)| {
            let computed_weight = index.weight(&p.weight).is_none().then_some(&p.weight);
            p.inputs.iter().chain(computed_weight)
        })
        .filter(|v| !planner.is_graph_input(v) && !index.is_initializer(v))
        .cloned()
        .collect();
    cached.sort();
    cached.dedup();
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let total_steps = (parts.len() * options.levels.len()) as u64 + batches.len() as u64;
    progress.report(0, total_steps, "baseline run");
    let output_names: Vec<String> = graph.output.iter().map(|o| o.name().to_string()).collect();
    let (cache, baseline_outputs) = baseline(
        &model.proto,
        &batches,
        &cached,
        &output_names,
        BaselineRun {
            in_parts,
            threads,
            samples: data.samples,
        },
        cancel,
        &mut |done| {
            let steps = (done * batches.len() as f64) as u64;
            progress.report(steps, total_steps, "baseline run")
        },
    )?;

    let labels = batches.iter().map(|b| b.labels.as_deref()).collect();
    let reference = Reference::new(&output_names, baseline_outputs, labels, data.samples);

    let shared = Shared {
        model,
        planner: &planner,
        cache: &cache,
        batches: &batches,
        in_parts,
        reference: &reference,
        levels: &options.levels,
        prune: options.prune,
    };

    // Largest downstream part first, so the last layer to finish is a short one.
    let flops_of = |p: &Downstream| -> u64 {
        p.nodes
            .iter()
            .filter_map(|&n| graph.node[n].output.first())
            .filter_map(|name| analysis.layer(name).and_then(|l| l.flops))
            .sum()
    };
    let mut queue: Vec<usize> = (0..parts.len()).collect();
    queue.sort_by_key(|&i| std::cmp::Reverse(flops_of(&parts[i].1)));
    // In parts, one layer at a time (its parts' sessions use every core): two at once would
    // hold two parts' weights.
    let workers = if in_parts.is_some() {
        1
    } else {
        threads.min(parts.len()).max(1)
    };
    let intra = (threads / workers).max(1);
    // The throughput the workers can reach together: one worker's warm rate, times the workers
    // (not measured in parts: that would take a session of the whole model).
    let warm_run = match in_parts {
        Some(_) => (0.0, 0),
        None => {
            let (seconds, samples) = warm_model_run(&model.proto, &cache, &batches, intra)?;
            (seconds / workers as f64, samples)
        }
    };
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(batches.len() as u64);
    let evaluated_flops = AtomicU64::new(0);
    let results: Mutex<Vec<Option<Result<LayerResult>>>> =
        Mutex::new((0..parts.len()).map(|_| None).collect());
    let last_step = Mutex::new(String::new());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let slot = next.fetch_add(1, Ordering::SeqCst);
                        if slot >= queue.len() || cancel.is_cancelled() {
                            break;
                        }
                        let i = queue[slot];
                        let (layer, part) = &parts[i];
                        let report = |level: f64| {
                            done.fetch_add(1, Ordering::SeqCst);
                            *last_step.lock().unwrap() = format!("{} at {level}", layer.name);
                        };
                        let result = shared.layer(layer, part, intra, cancel, &report);
                        if let Ok(r) = &result {
                            evaluated_flops
                                .fetch_add(flops_of(part) * r.levels_run as u64, Ordering::SeqCst);
                        }
                        results.lock().unwrap()[i] = Some(result);
                    }
                })
            })
            .collect();
        // Progress is reported from this thread: front ends need not be thread-safe.
        while !handles.iter().all(|h| h.is_finished()) {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let label = last_step.lock().unwrap().clone();
            progress.report(done.load(Ordering::SeqCst), total_steps, &label);
        }
    });
    cancel.check()?;

    let mut raw = Vec::new();
    for ((layer, _), result) in parts.iter().zip(results.into_inner().unwrap()) {
        match result {
            Some(Ok(r)) => raw.push(RawLayer::of(layer, r.values, r.accuracy)),
            Some(Err(err)) => skipped.push(Skipped {
                name: layer.name.clone(),
                reason: err.to_string(),
            }),
            None => skipped.push(Skipped {
                name: layer.name.clone(),
                reason: "it was not reached".into(),
            }),
        }
    }
    let mut profile = LossProfile::summarize(
        LossMethod::OneShot,
        &reference.metric_names(),
        options.levels.clone(),
        raw,
    );
    profile.skipped = skipped;
    profile.model.baseline_accuracy = reference.accuracy();
    profile.data = Some(DataInfo {
        source: data.source.clone(),
        samples: data.samples,
        batch,
        has_labels: data.labels.is_some(),
        seed: options.data.is_none().then_some(options.seed),
    });
    let seconds = started.elapsed().as_secs_f64();
    profile.seconds = seconds;
    profile.pruned_by = Some(options.prune);
    profile.notes.push(format!(
        "Each layer was pruned alone by {} and the model run on {} {} sample{} in batches of {batch}; values are the {} of the outputs from the unpruned model's.",
        options.prune.name(),
        data.samples,
        if options.data.is_some() { "given" } else { "generated" },
        if data.samples == 1 { "" } else { "s" },
        reference.metric_names().replace('+', " plus ").replace('_', " ")
    ));
    if let Some(part_bytes) = in_parts {
        profile.notes.push(format!(
            "The model's weights pass {:.0} GB, so the baseline and each layer's downstream part ran in parts of about {} MB of weights each, one layer at a time, reading the weights where they are mapped (a session of the layer and all that follows it would hold every weight it reads).",
            IN_PARTS_ABOVE_BYTES as f64 / 1e9,
            part_bytes >> 20
        ));
    }
    if let Some(note) = compute_bound_note(
        analysis,
        evaluated_flops.load(Ordering::SeqCst),
        data.samples,
        warm_run,
        seconds,
    ) {
        profile.notes.push(note);
    }
    Ok(profile)
}

/// How the baseline runs: in parts of about `in_parts` bytes of constants, or one session of
/// `threads`; `samples` in all (for the cache's size check).
struct BaselineRun {
    in_parts: Option<u64>,
    threads: usize,
    samples: usize,
}

/// Each batch's model outputs as f32, by name.
type ModelOutputs = HashMap<String, ArrayD<f32>>;

/// The baseline run on every batch: each batch's inputs and the `cached` values (sorted) it
/// computes, which the downstream parts read, and the model's outputs. One session of the model
/// asked for the cached values too, or, with `in_parts`, the model run in parts of about that
/// many bytes of constants (`run`). `on_progress` is told the
/// fraction done.
fn baseline(
    proto: &crate::model::onnx::ModelProto,
    batches: &[Batch],
    cached: &[String],
    output_names: &[String],
    run: BaselineRun,
    cancel: &Cancel,
    on_progress: &mut dyn FnMut(f64),
) -> Result<(Vec<Values>, Vec<ModelOutputs>)> {
    let BaselineRun {
        in_parts,
        threads,
        samples,
    } = run;
    let mut cache: Vec<Values> = Vec::with_capacity(batches.len());
    for b in batches {
        let mut values = Values::new();
        for (name, array) in &b.inputs {
            values.insert(name.clone(), to_value(array)?);
        }
        cache.push(values);
    }
    let mut outputs: Vec<ModelOutputs> = vec![HashMap::new(); batches.len()];
    if let Some(part_bytes) = in_parts {
        let mut observed: Vec<String> = cached.iter().chain(output_names).cloned().collect();
        observed.sort();
        observed.dedup();
        // Values arrive part by part, every batch's at once: the cache is measured as it grows.
        let mut bytes = 0.0;
        observe_in_parts(
            proto,
            batches,
            Given::default(),
            &observed,
            part_bytes,
            cancel,
            &mut |done, parts| on_progress(done as f64 / parts.max(1) as f64),
            &mut |b, name, value| {
                if output_names.iter().any(|o| o == name) {
                    outputs[b].insert(name.to_string(), to_f32(name, &value.view())?);
                }
                if cached.binary_search_by(|c| c.as_str().cmp(name)).is_ok() {
                    bytes += value_bytes(value);
                    check_cache_size(bytes, samples)?;
                    cache[b].insert(name.to_string(), copy_value(name, value)?);
                }
                Ok(())
            },
        )?;
        return Ok((cache, outputs));
    }
    let baseline_proto = crate::model::with_outputs(proto, cached);
    let mut session = build_session(&baseline_proto, Some(threads))?;
    for (i, values) in cache.iter_mut().enumerate() {
        cancel.check()?;
        let inputs: Vec<(Cow<str>, SessionInputValue)> = values
            .iter()
            .map(|(n, v)| (Cow::from(n.as_str()), SessionInputValue::from(v)))
            .collect();
        let mut computed = session
            .run(inputs)
            .map_err(|e| Error::Runtime(format!("ONNX Runtime could not run the model: {e}.")))?;
        for name in output_names {
            if let Some(v) = computed.get(name) {
                outputs[i].insert(name.clone(), to_f32(name, &v.view())?);
            }
        }
        for name in cached {
            if let Some(v) = computed.remove(name) {
                values.insert(name.clone(), v);
            }
        }
        drop(computed);
        if i == 0 {
            // The first batch's cache, projected to all of them.
            let first: f64 = values.values().map(value_bytes).sum();
            check_cache_size(first * batches.len() as f64, samples)?;
        }
        on_progress((i + 1) as f64 / batches.len() as f64);
    }
    Ok((cache, outputs))
}

/// What every worker reads.
struct Shared<'a> {
    model: &'a Model,
    planner: &'a Planner<'a>,
    cache: &'a [Values],
    batches: &'a [Batch],
    /// Each layer's downstream part run in parts of about this many bytes of constants, fed the
    /// cached values and the pruned weight; one session per layer without it.
    in_parts: Option<u64>,
    /// The unpruned model's outputs, as the pruned parts are judged against them.
    reference: &'a Reference,
    levels: &'a [f64],
    prune: Method,
}

/// How a layer's downstream part runs: one session, built once for every level, or in parts
/// (sessions built for each level, each reading a part's weights from where they are mapped).
enum Runner<'p> {
    Session(Session),
    Parts(&'p crate::model::onnx::ModelProto, u64),
}

struct LayerResult {
    values: Vec<f64>,
    accuracy: Option<Vec<f64>>,
    /// Levels that needed a run (the others repeat a neighbour or change nothing).
    levels_run: usize,
}

impl Shared<'_> {
    fn layer(
        &self,
        layer: &Layer,
        part: &Downstream,
        intra_threads: usize,
        cancel: &Cancel,
        report: &dyn Fn(f64),
    ) -> Result<LayerResult> {
        let (weights, dims) = self.weight(part)?;
        let (count, zeros) = (weights.len(), weights.iter().filter(|w| **w == 0.0).count());
        let reconstruct = match self.prune {
            Method::Magnitude => None,
            method => Some(self.reconstruction(layer, part, method)?),
        };
        // One ordering serves every level; in parts (a large model) each level reads the weight
        // again and selects in place instead: one copy of it at a time, and no index per weight.
        let (weights, order) = match (&reconstruct, self.in_parts) {
            (None, None) => {
                let order = prune::magnitude_order(&weights);
                (Some(weights), Some(order))
            }
            (None, Some(_)) => (None, None),
            (Some(_), _) => (Some(weights), None),
        };
        let mut types = HashMap::new();
        for name in &part.inputs {
            types.insert(name.clone(), self.input_type(name)?);
        }
        types.insert(
            part.weight.clone(),
            (
                TensorElementType::Float32,
                dims.iter().map(|&d| Some(d)).collect(),
            ),
        );
        let types = types
            .into_iter()
            .map(|(n, (t, d))| (n, (crate::runtime::onnx_type(t), d)))
            .collect();
        let proto = self.planner.sub_model(&self.model.proto, part, &types);
        let mut runner = match self.in_parts {
            Some(part_bytes) => Runner::Parts(&proto, part_bytes),
            None => Runner::Session(build_session(&proto, Some(intra_threads))?),
        };
        let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();

        let baseline_accuracy = self.reference.accuracy();
        let mut values = Vec::with_capacity(self.levels.len());
        let mut accuracy = Vec::with_capacity(self.levels.len());
        let mut previous: Option<(usize, f64, Option<f64>)> = None;
        let mut levels_run = 0;
        for &level in self.levels {
            cancel.check()?;
            let k = prune::pruned_count(level, count);
            let (value, acc) = if k <= zeros {
                // Only weights that are already zero would go: the model is unchanged.
                (0.0, baseline_accuracy)
            } else if let Some((_, pv, pa)) = previous.filter(|p| p.0 == k) {
                (pv, pa)
            } else {
                levels_run += 1;
                let pruned = match (&reconstruct, &weights, &order) {
                    (Some(r), Some(weights), _) => r.pruned(weights, level, &layer.name)?,
                    (None, Some(weights), Some(order)) => prune::pruned(weights, order, level),
                    _ => {
                        let mut weights = self.weight(part)?.0;
                        prune::prune_smallest_in_place(&mut weights, level);
                        weights
                    }
                };
                let tensor = Tensor::from_array((shape.clone(), pruned))
                    .map_err(|e| {
                        Error::Runtime(format!(
                            "ONNX Runtime could not make the pruned weight: {e}."
                        ))
                    })?
                    .into_dyn();
                self.measure(&mut runner, part, &tensor, cancel)?
            };
            previous = Some((k, value, acc));
            values.push(value);
            accuracy.push(acc.unwrap_or(0.0));
            report(level);
        }
        Ok(LayerResult {
            values,
            accuracy: baseline_accuracy.map(|_| accuracy),
            levels_run,
        })
    }

    /// What pruning `layer` by `method` needs: its weight as matrices and the statistics of the
    /// inputs it sees on the samples (those of the unpruned model, from the baseline run).
    fn reconstruction(
        &self,
        layer: &Layer,
        part: &Downstream,
        method: Method,
    ) -> Result<Reconstruction> {
        let node = part.nodes[0];
        let layout = layout::of(layer, &self.model.graph().node[node], self.planner.index())
            .map_err(|why| Error::Usage(format!("{} cannot prune it: {why}", method.name())))?;
        Collector::fits(
            &layer.name,
            &layout,
            method.products(),
            Collector::prune_without_samples(),
        )?;
        let mut collector = Collector::collecting(&layer.name, &layout, method.products());
        for values in self.cache {
            let value = values.get(&layout.input).ok_or_else(|| {
                Error::Runtime(format!(
                    "the baseline run did not keep '{}', the layer's input.",
                    layout.input
                ))
            })?;
            collector.add(to_f32(&layout.input, &value.view())?.view())?;
        }
        Ok(Reconstruction {
            method,
            layout: layout.layout,
            stats: collector.stats,
        })
    }

    /// Runs the part on every batch with `weight` fed in; the summed comparison, and accuracy.
    fn measure(
        &self,
        runner: &mut Runner,
        part: &Downstream,
        weight: &DynValue,
        cancel: &Cancel,
    ) -> Result<(f64, Option<f64>)> {
        let mut tally = self.reference.tally();
        let session = match runner {
            Runner::Session(session) => session,
            Runner::Parts(proto, part_bytes) => {
                let shared = [(part.weight.as_str(), weight)];
                let given = Given {
                    batches: self.cache,
                    shared: &shared,
                };
                let outputs = run_in_parts(proto, self.batches, given, *part_bytes, cancel)?;
                for (b, outputs) in outputs.iter().enumerate() {
                    for (name, value) in outputs {
                        tally.add(b, name, value);
                    }
                }
                return Ok(tally.finish());
            }
        };
        for (b, values) in self.cache.iter().enumerate() {
            let mut inputs: Vec<(Cow<str>, SessionInputValue)> = part
                .inputs
                .iter()
                .map(|n| (Cow::from(n.as_str()), SessionInputValue::from(&values[n])))
                .collect();
            inputs.push((
                Cow::from(part.weight.as_str()),
                SessionInputValue::from(weight),
            ));
            let outputs = session.run(inputs).map_err(|e| {
                Error::Runtime(format!("ONNX Runtime could not run the pruned part: {e}."))
            })?;
            for name in &part.outputs {
                if let Some(value) = outputs.get(name) {
                    tally.add(b, name, &to_f32(name, &value.view())?);
                }
            }
        }
        // A layer that does not reach the classifier leaves its accuracy as it was.
        Ok(tally.finish())
    }

    /// The values and dims of the tensor the layer reads as its weight: the constant it is
    /// stored as, or (a view computed in the graph) what the baseline run computed.
    fn weight(&self, part: &Downstream) -> Result<(Vec<f32>, Vec<i64>)> {
        if let Some(weight) = self.planner.index().weight(&part.weight) {
            let values = tensor::to_f32(weight.tensor).ok_or_else(|| {
                Error::Usage(format!(
                    "its weight '{}' is {}, not float; one-shot pruning reads float weights.",
                    part.weight,
                    tensor::dtype_name(weight.tensor.data_type())
                ))
            })?;
            return Ok((values, weight.tensor.dims.clone()));
        }
        let value = self.cache[0].get(&part.weight).ok_or_else(|| {
            Error::Runtime(format!(
                "the weight '{}' was not computed by the baseline run.",
                part.weight
            ))
        })?;
        let array = to_f32(&part.weight, &value.view())?;
        let dims = array.shape().iter().map(|&d| d as i64).collect();
        Ok((array.into_raw_vec_and_offset().0, dims))
    }

    /// Element type and dims of a cached value; dims that differ between batches are free.
    fn input_type(&self, name: &str) -> Result<(TensorElementType, Vec<Option<i64>>)> {
        let mut result: Option<(TensorElementType, Vec<Option<i64>>)> = None;
        for values in self.cache {
            let value = values.get(name).ok_or_else(|| {
                Error::Runtime(format!("'{name}' was not computed by the baseline run."))
            })?;
            let ValueType::Tensor { ty, shape, .. } = value.dtype() else {
                return Err(Error::Usage(format!(
                    "'{name}' is not a tensor; one-shot profiles read tensor activations only."
                )));
            };
            let dims: Vec<i64> = shape.iter().copied().collect();
            result = Some(match result {
                None => (*ty, dims.into_iter().map(Some).collect()),
                Some((t, known)) => (
                    t,
                    known
                        .iter()
                        .zip(dims.iter().chain(std::iter::repeat(&-1)))
                        .map(|(k, d)| k.filter(|k| k == d))
                        .collect(),
                ),
            });
        }
        result.ok_or_else(|| Error::Usage("there are no samples to run.".into()))
    }
}

/// Seconds of one warm run of the unmodified model on the first batch with a worker's threads,
/// and its samples: the rate ONNX Runtime reaches on this model (the cache run asked for extra
/// outputs, which stops some of its fusions, and paid for its first-run allocations).
fn warm_model_run(
    proto: &crate::model::onnx::ModelProto,
    cache: &[HashMap<String, DynValue>],
    batches: &[crate::runtime::Batch],
    threads: usize,
) -> Result<(f64, usize)> {
    let (Some(values), Some(batch)) = (cache.first(), batches.first()) else {
        return Ok((0.0, 0));
    };
    let mut session = build_session(proto, Some(threads))?;
    let mut seconds = 0.0;
    for _ in 0..2 {
        let inputs: Vec<(Cow<str>, SessionInputValue)> = batch
            .inputs
            .iter()
            .map(|(n, _)| (Cow::from(n.as_str()), SessionInputValue::from(&values[n])))
            .collect();
        let started = Instant::now();
        session
            .run(inputs)
            .map_err(|e| Error::Runtime(format!("ONNX Runtime could not run the model: {e}.")))?;
        seconds = started.elapsed().as_secs_f64();
    }
    Ok((seconds, batch.size()))
}

/// The most memory the cached activations may take: beyond it the run would swap, or be killed.
const CACHE_LIMIT_BYTES: f64 = 8e9;

/// Bytes of a tensor value.
fn value_bytes(value: &DynValue) -> f64 {
    match value.dtype() {
        ValueType::Tensor { ty, shape, .. } => {
            let size = match ty {
                TensorElementType::Float64 | TensorElementType::Int64 => 8.0,
                TensorElementType::Float16 => 2.0,
                TensorElementType::Int8 | TensorElementType::Uint8 | TensorElementType::Bool => 1.0,
                _ => 4.0,
            };
            size * shape.iter().map(|&d| d.max(0) as f64).product::<f64>()
        }
        _ => 0.0,
    }
}

/// Refuses, with the sample count that would fit, a run whose cache (`projected` bytes for every
/// sample) would outgrow the limit.
fn check_cache_size(projected: f64, samples: usize) -> Result<()> {
    if projected > CACHE_LIMIT_BYTES {
        let fits = ((samples as f64) * CACHE_LIMIT_BYTES / projected)
            .floor()
            .max(1.0);
        return Err(Sentence::new(format!(
            "the one-shot profile caches the activations of every sample, {:.1} GB for {samples} samples; give ",
            projected / 1e9
        ))
        .set(Setting::Samples, fits)
        .text(" or fewer.")
        .into());
    }
    Ok(())
}

/// How close the run came to the compute bound: the FLOPs it had to do (downstream parts, levels
/// that ran, all samples) at the rate ONNX Runtime reaches on the whole model with every worker
/// busy: `warm_run.1` samples per `warm_run.0` seconds.
fn compute_bound_note(
    analysis: &ModelAnalysis,
    evaluated_layer_flops: u64,
    samples: usize,
    warm_run: (f64, usize),
    seconds: f64,
) -> Option<String> {
    let per_sample = |flops: u64| flops as f64 / analysis_batch(analysis) as f64;
    let (warm_seconds, warm_samples) = warm_run;
    if analysis.totals.flops == 0 || warm_seconds <= 0.0 || warm_samples == 0 {
        return None;
    }
    let rate = per_sample(analysis.totals.flops) * warm_samples as f64 / warm_seconds;
    let work = per_sample(evaluated_layer_flops) * samples as f64;
    let bound = work / rate;
    Some(format!(
        "Compute bound: {:.1} GFLOP downstream of the pruned layers at {:.1} GFLOP/s (ONNX Runtime's rate on the whole model, every worker busy) is {:.1} s; the profile took {:.1} s ({:.2}x the bound).",
        work / 1e9,
        rate / 1e9,
        bound,
        seconds,
        seconds / bound.max(1e-9)
    ))
}

/// A layer pruned by Wanda or SparseGPT at any level, from its inputs' statistics.
struct Reconstruction {
    method: Method,
    layout: WeightLayout,
    stats: Vec<InputStats>,
}

impl Reconstruction {
    fn pruned(&self, weights: &[f32], level: f64, layer: &str) -> Result<Vec<f32>> {
        let mut matrices = self.layout.to_matrices(weights);
        for (matrix, stats) in matrices.iter_mut().zip(&self.stats) {
            reconstruct::prune_matrix(
                self.method,
                matrix,
                Some(stats),
                level,
                Pattern::Unstructured,
                &SparseGptSettings::default(),
            )
            .map_err(|e| Error::Usage(format!("layer {layer}: {e}")))?;
        }
        Ok(self.layout.from_matrices(&matrices))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{fixture, load_analyzed};
    use crate::progress::NoProgress;

    fn run(name: &str, options: &OneShotOptions) -> Result<LossProfile> {
        let (model, analysis) = load_analyzed(name);
        profile(&model, &analysis, options, &NoProgress, &Cancel::default())
    }

    fn options() -> OneShotOptions {
        OneShotOptions {
            levels: super::super::LOSS_LEVELS.to_vec(),
            data: None,
            samples: None,
            batch: None,
            threads: Some(2),
            seed: 0,
            prune: Method::Magnitude,
        }
    }

    #[test]
    fn digits_cnn_sensitivities_rise_with_sparsity_and_accuracy_falls() {
        let profile = run(
            "digits_cnn.onnx",
            &OneShotOptions {
                data: Some(fixture("digits_test.npz")),
                ..options()
            },
        )
        .unwrap();
        assert_eq!(profile.metric, "kl_divergence");
        assert_eq!(profile.layers.len(), 4);
        let base = profile.model.baseline_accuracy.unwrap();
        assert!(base > 0.9, "{base}");
        for layer in &profile.layers {
            assert_eq!(layer.values[0], 0.0);
            assert!(layer.values[9] > layer.values[3], "{layer:?}");
            let acc = layer.accuracy.as_ref().unwrap();
            assert_eq!(acc[0], base);
            assert!(acc[9] < base, "{layer:?}");
        }
    }

    #[test]
    fn every_fixture_with_prunable_layers_profiles_on_generated_data() {
        for name in [
            "mlp.onnx",
            "grouped_convs.onnx",
            "transformer_block.onnx",
            "external_data.onnx",
        ] {
            let profile = run(
                name,
                &OneShotOptions {
                    samples: Some(3),
                    ..options()
                },
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!profile.layers.is_empty(), "{name}");
            for layer in &profile.layers {
                assert!(
                    layer.values.iter().all(|v| v.is_finite() && *v >= 0.0),
                    "{name}: {layer:?}"
                );
                assert!(layer.values[9] > 0.0, "{name}: {layer:?}");
            }
        }
    }

    #[test]
    fn a_profile_run_in_parts_gives_what_one_session_per_layer_gives() {
        // Parts of at most 1 KB of constants: every weight is a part of its own, so each layer's
        // downstream part runs as several, fed the cached activations and the pruned weight.
        let cases = [
            (
                "digits_cnn.onnx",
                Some("digits_test.npz"),
                Method::Magnitude,
            ),
            ("digits_cnn.onnx", Some("digits_test.npz"), Method::Wanda),
            ("transformer_block.onnx", None, Method::Magnitude),
            ("mlp.onnx", None, Method::Magnitude),
        ];
        for (name, data, prune) in cases {
            let (model, analysis) = load_analyzed(name);
            let options = OneShotOptions {
                data: data.map(fixture),
                samples: Some(8),
                levels: vec![0.0, 0.5, 0.9],
                prune,
                ..options()
            };
            let run = |in_parts| {
                profile_with(
                    &model,
                    &analysis,
                    &options,
                    in_parts,
                    &NoProgress,
                    &Cancel::default(),
                )
                .unwrap_or_else(|e| panic!("{name}: {e}"))
            };
            let (whole, parts) = (run(None), run(Some(1024)));
            let reasons = |p: &LossProfile| -> Vec<(String, String)> {
                p.skipped
                    .iter()
                    .map(|s| (s.name.clone(), s.reason.clone()))
                    .collect()
            };
            assert_eq!(reasons(&whole), reasons(&parts), "{name}");
            assert!(!whole.layers.is_empty(), "{name}");
            assert_eq!(whole.layers.len(), parts.layers.len(), "{name}");
            assert_eq!(
                whole.model.baseline_accuracy, parts.model.baseline_accuracy,
                "{name}"
            );
            for (a, b) in whole.layers.iter().zip(&parts.layers) {
                assert_eq!(a.name, b.name, "{name}");
                assert!(a.values[2] > 0.0, "{name}: {a:?}");
                for (x, y) in a.values.iter().zip(&b.values) {
                    assert!(
                        (x - y).abs() <= 1e-4 * x.abs().max(y.abs()) + 1e-9,
                        "{name} {}: {:?} in one session, {:?} in parts",
                        a.name,
                        a.values,
                        b.values
                    );
                }
                assert_eq!(a.accuracy, b.accuracy, "{name} {}", a.name);
            }
            assert!(parts.notes.iter().any(|n| n.contains("in parts")), "{name}");
            assert!(
                !whole.notes.iter().any(|n| n.contains("in parts")),
                "{name}"
            );
        }
    }

    #[test]
    fn a_quantized_model_says_what_was_skipped() {
        let profile = run("quantized_conv.onnx", &options()).unwrap();
        assert!(!profile.skipped.is_empty());
        assert!(
            profile.skipped[0].reason.contains("quantized"),
            "{:?}",
            profile.skipped
        );
    }

    #[test]
    fn data_that_does_not_fit_is_one_sentence() {
        let err = run(
            "mlp.onnx",
            &OneShotOptions {
                data: Some(fixture("digits_test.npz")),
                ..options()
            },
        )
        .unwrap_err();
        assert_eq!(err.kind_name(), "UsageError");
        assert!(err.to_string().contains("digits_test.npz"), "{err}");
    }

    #[test]
    fn cancelled_profiles_stop() {
        let model = crate::load(&fixture("digits_cnn.onnx")).unwrap();
        let analysis = crate::analyze(&model, &Default::default()).unwrap();
        let cancel = Cancel::default();
        cancel.cancel();
        let err = profile(&model, &analysis, &options(), &NoProgress, &cancel).unwrap_err();
        assert_eq!(err, Error::Cancelled);
    }
}

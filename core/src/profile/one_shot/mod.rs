//! The `one-shot` loss profile: each prunable layer pruned alone by magnitude to each level, the
//! model run on data, its outputs compared with the unpruned ones (`metric`).
//!
//! SparseML builds a session per layer and level and reruns the whole model each time. Here one
//! baseline run caches every activation the rest needs; then, per layer, one session of just the
//! layer and what lies downstream of it (`plan`) is built, and each level only feeds it the pruned
//! weight and the cached activations. Layers run in parallel, one session each.

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
use crate::reconstruct::collect::Collector;
use crate::reconstruct::layout::{self, WeightLayout};
use crate::reconstruct::{self, InputStats, Method, Pattern, SparseGptSettings};
use crate::runtime::batch::{analysis_batch, dataset};
use crate::runtime::metric::Reference;
use crate::runtime::{build_session, to_f32, to_value};
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
    let baseline_proto = crate::model::with_outputs(&model.proto, &cached);
    let mut baseline_session = build_session(&baseline_proto, Some(threads))?;
    let output_names: Vec<String> = graph.output.iter().map(|o| o.name().to_string()).collect();
    let mut cache: Vec<HashMap<String, DynValue>> = Vec::with_capacity(batches.len());
    let mut baseline_outputs: Vec<HashMap<String, ArrayD<f32>>> = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        cancel.check()?;
        let mut values: HashMap<String, DynValue> = HashMap::new();
        for (name, array) in &b.inputs {
            values.insert(name.clone(), to_value(array)?);
        }
        let inputs: Vec<(Cow<str>, SessionInputValue)> = values
            .iter()
            .map(|(n, v)| (Cow::from(n.as_str()), SessionInputValue::from(v)))
            .collect();
        let mut outputs = baseline_session
            .run(inputs)
            .map_err(|e| Error::Runtime(format!("ONNX Runtime could not run the model: {e}.")))?;
        let mut model_outputs = HashMap::new();
        for name in &output_names {
            if let Some(v) = outputs.get(name) {
                model_outputs.insert(name.clone(), to_f32(name, &v.view())?);
            }
        }
        for name in &cached {
            if let Some(v) = outputs.remove(name) {
                values.insert(name.clone(), v);
            }
        }
        drop(outputs);
        if i == 0 {
            check_cache_size(&values, batches.len(), data.samples)?;
        }
        cache.push(values);
        baseline_outputs.push(model_outputs);
        progress.report(i as u64 + 1, total_steps, "baseline run");
    }
    drop(baseline_session);

    let labels = batches.iter().map(|b| b.labels.as_deref()).collect();
    let reference = Reference::new(&output_names, baseline_outputs, labels, data.samples);

    let shared = Shared {
        model,
        planner: &planner,
        cache: &cache,
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
    let workers = threads.min(parts.len()).max(1);
    let intra = (threads / workers).max(1);
    // The throughput the workers can reach together: one worker's warm rate, times the workers.
    let (warm_seconds, warm_samples) = warm_model_run(&model.proto, &cache, &batches, intra)?;
    let warm_run = (warm_seconds / workers as f64, warm_samples);
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

/// What every worker reads.
struct Shared<'a> {
    model: &'a Model,
    planner: &'a Planner<'a>,
    cache: &'a [HashMap<String, DynValue>],
    /// The unpruned model's outputs, as the pruned parts are judged against them.
    reference: &'a Reference,
    levels: &'a [f64],
    prune: Method,
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
        let order = prune::magnitude_order(&weights);
        let reconstruct = match self.prune {
            Method::Magnitude => None,
            method => Some(self.reconstruction(layer, part, method)?),
        };
        let zeros = weights.iter().filter(|w| **w == 0.0).count();
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
        let mut session = build_session(&proto, Some(intra_threads))?;
        let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();

        let baseline_accuracy = self.reference.accuracy();
        let mut values = Vec::with_capacity(self.levels.len());
        let mut accuracy = Vec::with_capacity(self.levels.len());
        let mut previous: Option<(usize, f64, Option<f64>)> = None;
        let mut levels_run = 0;
        for &level in self.levels {
            cancel.check()?;
            let k = prune::pruned_count(level, weights.len());
            let (value, acc) = if k <= zeros {
                // Only weights that are already zero would go: the model is unchanged.
                (0.0, baseline_accuracy)
            } else if let Some((_, pv, pa)) = previous.filter(|p| p.0 == k) {
                (pv, pa)
            } else {
                levels_run += 1;
                let pruned = match &reconstruct {
                    None => prune::pruned(&weights, &order, level),
                    Some(r) => r.pruned(&weights, level, &layer.name)?,
                };
                let tensor = Tensor::from_array((shape.clone(), pruned))
                    .map_err(|e| {
                        Error::Runtime(format!(
                            "ONNX Runtime could not make the pruned weight: {e}."
                        ))
                    })?
                    .into_dyn();
                self.measure(&mut session, part, &tensor)?
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
        Collector::fits(&layer.name, &layout)?;
        let mut collector = Collector::new(&layer.name, &layout);
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
        session: &mut Session,
        part: &Downstream,
        weight: &DynValue,
    ) -> Result<(f64, Option<f64>)> {
        let mut tally = self.reference.tally();
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

/// Refuses, with the sample count that would fit, a run whose cache would outgrow the limit
/// (measured on the first batch, projected to all of them).
fn check_cache_size(
    first: &HashMap<String, DynValue>,
    batches: usize,
    samples: usize,
) -> Result<()> {
    let bytes: f64 = first
        .values()
        .map(|v| match v.dtype() {
            ValueType::Tensor { ty, shape, .. } => {
                let size = match ty {
                    TensorElementType::Float64 | TensorElementType::Int64 => 8.0,
                    TensorElementType::Float16 => 2.0,
                    TensorElementType::Int8
                    | TensorElementType::Uint8
                    | TensorElementType::Bool => 1.0,
                    _ => 4.0,
                };
                size * shape.iter().map(|&d| d.max(0) as f64).product::<f64>()
            }
            _ => 0.0,
        })
        .sum();
    let projected = bytes * batches as f64;
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

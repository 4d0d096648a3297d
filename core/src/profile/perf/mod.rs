//! The performance profile: how long each layer takes in ONNX Runtime, measured with its per-node
//! profiler, and what pruning would save, estimated at Sparsify's levels by a documented cost
//! model for a sparsity-aware engine. `--flops` gives the same shape from FLOPs alone.
//!
//! `measure` runs the model in one ONNX Runtime session with the profiler on, reads the trace (one
//! event per kernel per run), and maps every kernel back to the ONNX node it ran: ONNX Runtime
//! renames and fuses nodes (Conv+BatchNormalization+Relu become one kernel), so the mapping reads
//! its names and, where they say nothing, the optimized graph the session saved. Nodes fused away
//! take no time of their own; they are listed on the layer whose kernel did their work.
//!
//! The estimate (`estimated_ms`) is for an engine whose kernels skip pruned weights (DeepSparse-like),
//! which ONNX Runtime's dense CPU kernels do not: see [`CostModel`](estimate::CostModel), fitted to
//! DeepSparse's measured speedups.
//!
//! The work is split by job: `rounds.rs` splits the timed runs into rounds a second apart and
//! picks the fastest (a busy machine slows some layers more than others), `trace.rs` reads ONNX
//! Runtime's profile and optimized graph, `attribute.rs` maps its kernels back to ONNX nodes,
//! `estimate.rs` holds the cost model and the FLOPs figures, and `assemble.rs` turns it all into a
//! [`PerfProfile`]. This file holds the
//! public types, the two entry points, and the session that is measured.

mod assemble;
mod attribute;
mod estimate;
mod rounds;
mod trace;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ort::session::{Session, SessionInputValue};
use ort::value::DynValue;
use serde::{Deserialize, Serialize};

use self::assemble::assemble;
use self::attribute::{OnnxGraph, attribute};
use self::estimate::{flops_caveats, layer_base, layer_flops_estimates, model_flops_estimates};
use self::trace::{kernel_times, read_optimized, read_trace};
use super::PERF_LEVELS;
use crate::analysis::{DimDecl, ModelAnalysis};
use crate::error::{Error, Result, Sentence, Setting};
use crate::model::Model;
use crate::progress::{Cancel, Progress};
use crate::runtime::batch::fixed_batch;
use crate::runtime::{analysis_batch, generated_inputs, runtime, to_value};
use crate::scratch::ScratchDir;
pub use estimate::{ENGINE, Kernel, MEASURED_ERROR, estimate_points};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerfKind {
    /// Timed in ONNX Runtime.
    Measured,
    /// FLOPs only, nothing run: `estimated_flops` is filled, every time field is absent.
    Flops,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PerfOptions {
    pub batch: usize,
    /// ONNX Runtime threads per operator; `None` uses every core.
    pub threads: Option<usize>,
    pub warmup: usize,
    pub iterations: usize,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerfProfile {
    pub kind: PerfKind,
    /// The sparsity levels of every `estimated_*` map (keys are `level_key(level)`).
    pub levels: Vec<f64>,
    pub model: ModelPerf,
    /// Every layer of the analysis, in graph order.
    pub layers: Vec<LayerPerf>,
    /// Measured time per ONNX op type (after attribution to layers).
    #[serde(default)]
    pub op_types: Vec<OpTypePerf>,
    /// What ONNX Runtime fused, and where that time was attributed.
    #[serde(default)]
    pub fused: Vec<String>,
    /// How the estimate was made, what could not be attributed, and other caveats.
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub seconds: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelPerf {
    pub batch: usize,
    /// `None` when ONNX Runtime chose (every core).
    pub threads: Option<usize>,
    pub iterations: usize,
    pub warmup: usize,
    pub ms_per_batch: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub items_per_second: Option<f64>,
    /// FLOPs of one batch of `batch` items.
    pub flops: u64,
    /// Estimated model time at each level, every prunable layer pruned to it.
    #[serde(default)]
    pub estimated_ms: BTreeMap<String, f64>,
    /// Model FLOPs at each level, every prunable layer pruned to it.
    #[serde(default)]
    pub estimated_flops: BTreeMap<String, f64>,
    /// Mean time per run of every kernel ONNX Runtime ran (layers and its own nodes); the rest of
    /// `ms_per_batch` is spent between kernels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_ms: Option<f64>,
    /// Mean time per run of the kernels ONNX Runtime added itself (layout reorders, copies), which
    /// belong to no layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_only_ms: Option<f64>,
    /// The estimate's rate of compute-bound work, in FLOPs per ms (the best any prunable layer
    /// reached here): with each layer's `kernel`, what reads the estimate at any sparsity
    /// ([`estimate_points`]), not only at `levels`. Absent in profiles written before it was
    /// recorded, and in FLOPs profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_flops_per_ms: Option<f64>,
    /// Each round's mean ms per batch, when the timed runs were taken in several rounds a second
    /// apart: `ms_per_batch` and the layers' times are the fastest round's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds_ms: Vec<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerPerf {
    pub name: String,
    pub op_type: String,
    pub weight: Option<String>,
    pub prunable: bool,
    /// Mean time per run (over the fastest round), fused work included.
    pub ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    /// FLOPs of one batch of the profile's `batch` items.
    pub flops: Option<u64>,
    /// Other nodes whose time ONNX Runtime spent inside this layer's kernel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fused_from: Vec<String>,
    /// The layer whose kernel did this layer's work (its own `ms` is then 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fused_into: Option<String>,
    /// Estimated time at each level (prunable layers only).
    #[serde(default)]
    pub estimated_ms: BTreeMap<String, f64>,
    /// FLOPs at each level (prunable layers only).
    #[serde(default)]
    pub estimated_flops: BTreeMap<String, f64>,
    /// The kernel the estimate's engine runs for this prunable layer, read from its op and
    /// weight shape (measured profiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Kernel>,
    /// The output positions per batch each weight is applied at (a Conv's output pixels times the
    /// batch, a MatMul's rows): what a sparse kernel spreads each kept weight's own cost over.
    /// Absent in profiles written before it was recorded (read as a large map).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positions: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpTypePerf {
    pub op_type: String,
    pub ms: f64,
    pub count: usize,
}

/// Times `model` in ONNX Runtime: `options.warmup` untimed runs, then `options.iterations` timed
/// ones on seeded inputs shaped like the analysis's (the first dim set to `options.batch`), with
/// ONNX Runtime's profiler on. Every layer gets its kernel's time, fused work included; the
/// estimates follow [`CostModel`](estimate::CostModel).
pub fn measure(
    model: &Model,
    analysis: &ModelAnalysis,
    options: &PerfOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<PerfProfile> {
    let started = Instant::now();
    check_options(options)?;
    cancel.check()?;
    // Loads the library first: `ort` panics when a tensor is made before ONNX Runtime is loaded.
    runtime()?;
    crate::runtime::memory::check_activations(analysis, options.batch, "the performance profile")?;
    let specs = input_specs(analysis, options.batch)?;
    let values: Vec<(String, DynValue)> = generated_inputs(&specs, options.seed)?
        .iter()
        .map(|(name, array)| Ok((name.clone(), to_value(array)?)))
        .collect::<Result<_>>()?;
    let rounds = rounds::split(options.iterations);
    let steps = rounds::schedule(options.warmup, &rounds);
    progress.report(0, steps.len() as u64, "starting ONNX Runtime");

    // The scratch folder outlives the session: ONNX Runtime writes the trace when the session is
    // dropped without `end_profiling` (a cancelled run), and the folder's drop deletes it.
    let scratch = ScratchDir::create("perf")?;
    let mut notes = Vec::new();
    let (mut session, optimized_path) =
        open_profiled(model, options.threads, &scratch, &mut notes)?;
    let run_ms = timed_runs(&mut session, &values, &steps, progress, cancel)?;
    let trace_path = session.end_profiling().map_err(|err| {
        Error::Runtime(format!("ONNX Runtime could not write its profile: {err}."))
    })?;
    drop(session);
    let events = read_trace(Path::new(&trace_path))?;
    let optimized = optimized_path.and_then(|path| {
        read_optimized(&path)
            .map_err(|why| {
                notes.push(format!(
                    "ONNX Runtime's optimized graph could not be read ({why}); fused kernels were matched by their names only."
                ))
            })
            .ok()
    });
    drop(scratch);

    let timed: Vec<bool> = steps.iter().map(|step| step.timed).collect();
    let trace = kernel_times(&events, &timed);
    let graph = OnnxGraph::new(model);
    let attribution = attribute(&graph, &trace.kernels, optimized.as_deref());
    let mut profile = assemble(
        analysis,
        options,
        &run_ms,
        &rounds,
        &trace,
        &graph,
        &attribution,
    );
    profile.notes.splice(0..0, notes);
    profile.seconds = started.elapsed().as_secs_f64();
    Ok(profile)
}

/// Runs the session once per step of `steps` ([`rounds::schedule`]), pausing where a step says,
/// checking `cancel` before each run and reporting after it; returns the wall-clock ms of the
/// timed runs. Inputs are made once, so a run's time is ONNX Runtime's alone.
fn timed_runs(
    session: &mut Session,
    values: &[(String, DynValue)],
    steps: &[rounds::Step],
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Vec<f64>> {
    let total = steps.len() as u64;
    let mut run_ms = Vec::new();
    for (run, step) in steps.iter().enumerate() {
        if step.pause_before {
            cancel.sleep(rounds::PAUSE)?;
        }
        cancel.check()?;
        let inputs: Vec<(Cow<str>, SessionInputValue)> = values
            .iter()
            .map(|(name, value)| (Cow::from(name.as_str()), SessionInputValue::from(value)))
            .collect();
        let start = Instant::now();
        let outputs = session.run(inputs).map_err(|err| {
            Error::Runtime(format!("ONNX Runtime could not run the model: {err}."))
        })?;
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        drop(outputs);
        if step.timed {
            run_ms.push(elapsed);
        }
        progress.report(
            run as u64 + 1,
            total,
            &format!("run {} of {total}", run + 1),
        );
    }
    Ok(run_ms)
}

/// The FLOPs-only profile (Sparsify's virtual "FLOPS" profile): nothing is run, every time is
/// absent, and `estimated_flops` assumes each prunable layer's FLOPs fall in proportion to its
/// sparsity. The batch is the analysis's.
pub fn flops_only(analysis: &ModelAnalysis) -> PerfProfile {
    let layers: Vec<LayerPerf> = analysis
        .layers
        .iter()
        .map(|layer| LayerPerf {
            estimated_flops: layer_flops_estimates(layer, layer.flops),
            ..layer_base(layer, layer.flops)
        })
        .collect();
    let mut notes = vec![
        "FLOPs only: nothing was run. estimated_flops counts each prunable layer's FLOPs as falling in proportion to its sparsity; the model figures are whole-model FLOPs (non-prunable layers unchanged).".to_string(),
    ];
    notes.extend(flops_caveats(analysis));
    PerfProfile {
        kind: PerfKind::Flops,
        levels: PERF_LEVELS.to_vec(),
        model: ModelPerf {
            batch: analysis_batch(analysis),
            flops: analysis.totals.flops,
            estimated_flops: model_flops_estimates(analysis.totals.flops, &layers),
            ..ModelPerf::default()
        },
        layers,
        op_types: Vec::new(),
        fused: Vec::new(),
        notes,
        seconds: 0.0,
    }
}

fn check_options(options: &PerfOptions) -> Result<()> {
    if options.batch == 0 {
        return Err(Sentence::default()
            .setting(Setting::Batch)
            .text(" must be 1 or more; give the number of items per run, such as ")
            .set(Setting::Batch, 1)
            .text(".")
            .into());
    }
    if options.iterations == 0 {
        return Err(Sentence::default()
            .setting(Setting::Iterations)
            .text(" must be 1 or more; give the number of timed runs, such as ")
            .set(Setting::Iterations, 20)
            .text(".")
            .into());
    }
    if options.threads == Some(0) {
        return Err(Sentence::default()
            .setting(Setting::Threads)
            .text(" must be 1 or more; leave it out to let ONNX Runtime use every core.")
            .into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// The (name, element type, shape) of each input at `batch`. The batch is the first dim: inputs
/// whose first dim is free get `batch`, and so does every other dim named like a free first dim.
/// A fixed first dim stays as it is when another input has a free one (a broadcast input such as
/// position ids), and is an error when none has: that model's batch is fixed.
fn input_specs(analysis: &ModelAnalysis, batch: usize) -> Result<Vec<(String, i32, Vec<usize>)>> {
    let batch_symbols: HashSet<&str> = analysis
        .inputs
        .iter()
        .filter_map(|input| match input.declared.as_ref()?.first()? {
            DimDecl::Symbol(symbol) => Some(symbol.as_str()),
            _ => None,
        })
        .collect();
    let any_free = analysis.inputs.iter().any(|input| {
        fixed_batch(input).is_none() && input.shape.as_ref().is_some_and(|s| !s.is_empty())
    });
    analysis
        .inputs
        .iter()
        .map(|input| {
            let shape = input.shape.as_ref().ok_or_else(|| {
                Error::from(
                    crate::analysis::no_known_shape(&input.name).text(" and profile again."),
                )
            })?;
            let mut dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
            match fixed_batch(input) {
                Some(size) if size != batch && !any_free => {
                    return Err(Sentence::new(format!(
                        "input '{}' has a fixed batch of {size}; profile it with ",
                        input.name
                    ))
                    .set(Setting::Batch, size)
                    .text(".")
                    .into());
                }
                Some(_) => {}
                None => {
                    if let Some(d) = dims.first_mut() {
                        *d = batch;
                    }
                }
            }
            for (dim, decl) in dims.iter_mut().zip(input.declared.iter().flatten()).skip(1) {
                if matches!(decl, DimDecl::Symbol(s) if batch_symbols.contains(s.as_str())) {
                    *dim = batch;
                }
            }
            Ok((input.name.clone(), input.data_type, dims))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The session
// ---------------------------------------------------------------------------------------------

/// The optimized graph's file in the scratch folder; its weights go to a `.data` file next to
/// it, so the graph itself stays small to read back.
const OPTIMIZED_MODEL: &str = "optimized.onnx";

/// One session with the profiler on, saving the graph it runs after its fusions (which the
/// trace's node names refer to). Saving can fail for models ONNX Runtime can run but not write
/// back; the session is then built without it and the mapping uses names alone.
fn open_profiled(
    model: &Model,
    threads: Option<usize>,
    scratch: &ScratchDir,
    notes: &mut Vec<String>,
) -> Result<(Session, Option<PathBuf>)> {
    let optimized = scratch.path().join(OPTIMIZED_MODEL);
    match open_session(model, threads, scratch, Some(&optimized)) {
        Ok(session) => Ok((session, Some(optimized))),
        Err(first) => {
            let session = open_session(model, threads, scratch, None)?;
            notes.push(format!(
                "ONNX Runtime could not save its optimized graph ({first}); fused kernels were matched by their names only."
            ));
            Ok((session, None))
        }
    }
}

fn open_session(
    model: &Model,
    threads: Option<usize>,
    scratch: &ScratchDir,
    optimized: Option<&Path>,
) -> Result<Session> {
    let fail = |what: &str, err: ort::Error| {
        Error::Runtime(format!("ONNX Runtime could not {what}: {err}."))
    };
    let mut builder = Session::builder(&runtime()?.env).map_err(|e| fail("create a session", e))?;
    if let Some(threads) = threads {
        builder = builder
            .with_intra_threads(threads)
            .map_err(|e| fail("set the thread count", e.into()))?;
    }
    builder = builder
        .with_profiling(scratch.path().join("trace"))
        .map_err(|e| fail("start its profiler", e.into()))?;
    if let Some(path) = optimized {
        let saving = |e: ort::Error<_>| fail("save its optimized graph", e.into());
        builder = builder.with_optimized_model_path(path).map_err(saving)?;
        builder = builder
            .with_config_entry(
                "session.optimized_model_external_initializers_file_name",
                format!("{OPTIMIZED_MODEL}.data"),
            )
            .map_err(saving)?;
        builder = builder
            .with_config_entry(
                "session.optimized_model_external_initializers_min_size_in_bytes",
                "1024",
            )
            .map_err(saving)?;
    }
    // The file on disk is the model (external data resolves next to it); a model that exists
    // only in memory is handed over as bytes.
    if !model.path.is_file() {
        return crate::runtime::commit(builder, &model.proto);
    }
    builder.commit_from_file(&model.path).map_err(|err| {
        Error::Runtime(format!(
            "ONNX Runtime could not load {}: {err}.",
            model.path.display()
        ))
    })
}

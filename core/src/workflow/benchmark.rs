//! `benchmark`: the models to time (the dense one, and the optimization's pruned model and the
//! int8 models the request asks for, built in a scratch folder that goes when the run ends), the
//! timing, and the result saved in the project file.

use std::path::{Path, PathBuf};

use crate::ModelAnalysis;
use crate::benchmark::{self, Benchmark, BenchmarkOptions};
use crate::error::{Action, Error, Result, Sentence};
use crate::export;
use crate::model::onnx::ModelProto;
use crate::model::{self, Model};
use crate::optimize::PruningPlan;
use crate::progress::{Cancel, Progress};
use crate::quantize::{QuantMode, QuantizeOptions, quantize};

use super::fit::QuantizeChoice;
use super::{Step, Steps};
use crate::scratch::ScratchDir;

/// Generated samples that calibrate the quantized models a benchmark times.
pub const CALIBRATION_SAMPLES: usize = 16;

/// Said with every comparison: what ONNX Runtime can and cannot show.
pub const DENSE_KERNELS: &str = "ONNX Runtime's CPU kernels are dense, so an unstructured-pruned model runs at about dense speed there; the estimate is for a sparsity-aware engine (DeepSparse-like), fitted to DeepSparse's measured speedups.";

/// Said with a structured plan's comparison.
pub const SMALLER_DENSE: &str = "The structured model has whole channels removed: it is a smaller dense model, so the measured speedup is what ONNX Runtime (or any runtime) gives, and the estimate comes from the perf profile's layer times.";

/// `benchmark`.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkRequest {
    pub options: BenchmarkOptions,
    /// The optimization whose pruned model is timed against the dense one.
    pub optimization: Option<String>,
    /// `Keep` quantizes as the optimization asks, if it does.
    pub quantize: QuantizeChoice,
    /// ONNX Runtime threads while calibrating the int8 models.
    pub threads: Option<usize>,
    /// The name it is saved under; by default the optimization's, `int8-MODE`, or "dense".
    pub name: Option<String>,
}

/// A benchmark run and saved.
#[derive(Debug, Clone)]
pub struct Benchmarked {
    pub name: String,
    pub benchmark: Benchmark,
    /// The optimization's estimated speedup: on a sparsity-aware engine, or for a structured
    /// plan, of its smaller dense model from the layer times.
    pub estimated: Option<f64>,
    /// The optimization removes whole channels (its pruned model is smaller, not sparse).
    pub structured: bool,
    /// A structured plan's speedup as timed when it was fitted (at the perf profile's batch).
    pub planned: Option<crate::optimize::plan::MeasuredSpeedup>,
    /// The mode of the int8 models timed, if any.
    pub quantized: Option<QuantMode>,
    pub moved_aside: Vec<PathBuf>,
}

/// Times the dense model and the variants the request asks for (see the module doc), and saves
/// the result. Preparing the variants and timing are the steps `steps` hears of.
pub fn run(
    model_path: &Path,
    analysis: &ModelAnalysis,
    request: &BenchmarkRequest,
    steps: &dyn Steps,
    cancel: &Cancel,
) -> Result<Benchmarked> {
    let mut moved_aside = Vec::new();
    let project = super::read_project(model_path, &mut moved_aside)?;
    let plan = match &request.optimization {
        Some(name) => Some(project.optimizations.get(name).ok_or_else(|| {
            let have: Vec<&str> = project.optimizations.keys().map(String::as_str).collect();
            Error::from(
                Sentence::new(format!(
                    "there is no optimization '{name}'; the choices are {} (run ",
                    if have.is_empty() {
                        "none yet".into()
                    } else {
                        have.join(", ")
                    }
                ))
                .action(Action::Optimize(None))
                .text(")."),
            )
        })?),
        None => None,
    };
    let seed = request.options.seed;
    let calibration_samples = calibration_samples(analysis);
    let quantization = quantize_options(request.quantize, plan, seed).map(|q| QuantizeOptions {
        samples: Some(calibration_samples),
        threads: request.threads,
        ..q
    });
    let mut models = vec![("dense", model_path.to_path_buf())];
    // Only the pruned and quantized models need preparing (the dense one is timed from its file).
    let variants = if plan.is_some() || quantization.is_some() {
        let variants = super::run_step(steps, Step::PreparingModels, |progress| {
            prepare_variants(
                model_path,
                analysis,
                plan,
                quantization.as_ref(),
                progress,
                cancel,
            )
        })?;
        models.extend(variants.models.iter().cloned());
        Some(variants)
    } else {
        None
    };
    let refs: Vec<(&str, &Path)> = models.iter().map(|(n, p)| (*n, p.as_path())).collect();
    let runs = super::run_step(steps, Step::Benchmarking, |progress| {
        benchmark::run(&refs, analysis, &request.options, progress, cancel)
    });
    drop(variants);
    let runs = runs?;
    let mut notes = Vec::new();
    match plan {
        Some(p) if p.channels.is_some() => notes.push(SMALLER_DENSE.to_string()),
        Some(_) => notes.push(DENSE_KERNELS.to_string()),
        None => {}
    }
    if let Some(q) = quantization.as_ref().filter(|q| q.mode == QuantMode::Int4) {
        notes.push(format!(
            "The int4 models hold MatMul and Gemm weights as {} (round to nearest: the timing does not depend on how the codes were chosen); ONNX Runtime runs them with MatMulNBits, activations float.",
            q.int4.describe()
        ));
    } else if let Some(q) = &quantization {
        notes.push(format!(
            "The {} int8 models were calibrated on {calibration_samples} generated samples: their ranges do not change how long they take. ONNX Runtime runs them with its integer kernels{}.",
            q.mode.name(),
            cpu_int8_note()
        ));
    }
    let result = Benchmark {
        optimization: request.optimization.clone(),
        runs,
        notes,
    };
    let name = request
        .name
        .clone()
        .or(request.optimization.clone())
        .or(quantization.as_ref().map(|q| match q.mode {
            QuantMode::Int4 => "int4".to_string(),
            mode => format!("int8-{}", mode.name()),
        }))
        .unwrap_or_else(|| "dense".into());
    let saved = result.clone();
    super::save(model_path, &mut moved_aside, |p| {
        p.benchmarks.insert(name.clone(), saved);
    })?;
    Ok(Benchmarked {
        name,
        benchmark: result,
        estimated: plan.and_then(|p| p.model.estimated_speedup),
        structured: plan.is_some_and(|p| p.channels.is_some()),
        planned: plan
            .and_then(|p| p.channels.as_ref())
            .and_then(|c| c.measured.clone()),
        quantized: quantization.map(|q| q.mode),
        moved_aside,
    })
}

/// How many generated samples calibrate the int8 models: timing does not depend on the
/// calibrated ranges, so a few; a whole number of the model's batches, in case its batch dim is
/// fixed.
pub fn calibration_samples(analysis: &ModelAnalysis) -> usize {
    let batch = crate::runtime::analysis_batch(analysis);
    CALIBRATION_SAMPLES.div_ceil(batch) * batch
}

/// The quantization of the int8 models: the mode asked for (with the optimization's settings
/// when it quantizes in that mode), else what the optimization asks for.
fn quantize_options(
    choice: QuantizeChoice,
    plan: Option<&PruningPlan>,
    seed: u64,
) -> Option<QuantizeOptions> {
    let planned = plan.and_then(|p| p.quantization.as_ref());
    match choice {
        QuantizeChoice::Off => None,
        QuantizeChoice::Mode(mode) => Some(match planned {
            Some(q) if q.mode == mode => QuantizeOptions::from_plan(q, None, seed),
            _ => QuantizeOptions {
                seed,
                ..QuantizeOptions::new(mode)
            },
        }),
        QuantizeChoice::Keep => planned.map(|q| QuantizeOptions::from_plan(q, None, seed)),
    }
}

/// The models timed besides the dense one, in files of a scratch folder removed with them.
pub(crate) struct Variants {
    /// "quantized", "pruned", "pruned+quantized", as asked for, with their files.
    pub(crate) models: Vec<(&'static str, PathBuf)>,
    /// Held for its drop: the files go with the variants.
    _scratch: ScratchDir,
}

impl Variants {
    #[cfg(test)]
    pub(crate) fn folder(&self) -> &Path {
        self._scratch.path()
    }
}

/// Builds the int8 model when `quantization` is given, the pruned one with a plan, and the pruned
/// one in int8 with both.
pub(crate) fn prepare_variants(
    model_path: &Path,
    analysis: &ModelAnalysis,
    plan: Option<&PruningPlan>,
    quantization: Option<&QuantizeOptions>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Variants> {
    let scratch = ScratchDir::create("benchmark")?;
    let mut models = Vec::new();
    let mut add = |name: &'static str, proto: &ModelProto| -> Result<()> {
        let path = scratch.path().join(format!("{name}.onnx"));
        model::save(proto, &path)?;
        models.push((name, path));
        Ok(())
    };
    let model = crate::load(model_path)?;
    if let Some(q) = quantization {
        add(
            "quantized",
            &quantize(&model, analysis, q, progress, cancel)?.proto,
        )?;
    }
    if let Some(plan) = plan {
        // A structured plan's model is smaller: its channels are chosen from the weights (the
        // time does not depend on which), and its own analysis serves quantization.
        let (pruned, pruned_analysis) = if plan.channels.is_some() {
            let (pruned, again, _) =
                super::channels::prune_to_plan(&model, analysis, plan, None, progress, cancel)?;
            (pruned, Some(again))
        } else {
            let (proto, _) = export::model::pruned_model(&model, plan)?;
            (Model { proto, ..model }, None)
        };
        add("pruned", &pruned.proto)?;
        if let Some(q) = quantization {
            let analysis = pruned_analysis.as_ref().unwrap_or(analysis);
            add(
                "pruned+quantized",
                &quantize(&pruned, analysis, q, progress, cancel)?.proto,
            )?;
        }
    }
    Ok(Variants {
        models,
        _scratch: scratch,
    })
}

/// Whether this CPU has the instructions ONNX Runtime's int8 kernels are fastest with.
fn cpu_int8_note() -> String {
    let isa = benchmark::int8_isa();
    if isa.is_empty() {
        String::new()
    } else {
        format!(" (this CPU has {})", isa.join(", "))
    }
}

#[cfg(test)]
mod tests;

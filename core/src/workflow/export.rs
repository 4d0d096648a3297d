//! `export`: writing an optimization's recipe, the PyTorch code that trains with it, and the
//! pruned (or quantized) model with its held-out accuracy.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::ModelAnalysis;
use crate::error::{Action, Error, Result, Sentence, Setting};
use crate::export;
use crate::model::{self, ExternalData, Model};
use crate::optimize::PruningPlan;
use crate::project::ProjectFile;
use crate::quantize::CALIBRATION_SAMPLES;
use crate::quantize::{QuantizationPlan, QuantizeOptions, Quantized};
use crate::reconstruct::Method;
use crate::runtime::Dataset;
use crate::runtime::batch::dataset;

use super::{Step, Steps};

mod agreement;
mod blame;
mod prune;

pub use agreement::{
    Agreement, Check, HeldOutAccuracy, MAX_AUTO_KEEP_FLOAT, MAX_KL_DIVERGENCE, MAX_NMSE,
    MIN_TOP1_AGREEMENT, OutputAgreement,
};
pub use blame::{Blame, BlameSource, SENSITIVITY_SAMPLES};
pub use prune::{PRUNING_SAMPLES, Pruning, PruningRequest, calibration_set};

/// The model's path as the recipe's modeline gives it: relative to the recipe's folder, with `/`
/// between parts. Where the two share no root (different drives), the model's absolute path.
pub fn recipe_model_path(model: &Path, recipe: &Path) -> String {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    // A bare file name's parent is "", which `absolute` refuses: that folder is ".".
    let parent = recipe.parent().filter(|p| !p.as_os_str().is_empty());
    let path = relative_path(&abs(model), &abs(parent.unwrap_or(Path::new("."))));
    path.to_string_lossy().replace('\\', "/")
}

/// `model` from `dir`, both absolute: `..` up to their common folder, then down to the model.
fn relative_path(model: &Path, dir: &Path) -> PathBuf {
    let m: Vec<Component> = model.components().collect();
    let d: Vec<Component> = dir.components().collect();
    let common = m.iter().zip(&d).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return model.to_path_buf();
    }
    let mut rel = PathBuf::new();
    for _ in common..d.len() {
        rel.push("..");
    }
    for c in &m[common..] {
        rel.push(c);
    }
    rel
}

/// The optimization an export writes: the named one, else the latest.
pub(super) fn chosen_optimization<'a>(
    project: &'a ProjectFile,
    name: Option<&str>,
) -> Result<&'a PruningPlan> {
    let name = match name.or(project.latest_optimization.as_deref()) {
        Some(n) => n.to_string(),
        None => {
            return Err(Sentence::new("there is no optimization yet; run ")
                .action(Action::Optimize(None))
                .text(" first (or ")
                .action(Action::ExportDenseInt8)
                .text(" for the dense model in int8).")
                .into());
        }
    };
    project.optimizations.get(&name).ok_or_else(|| {
        Error::from(
            Sentence::new(format!("there is no optimization '{name}'; run "))
                .action(Action::ListProfiles)
                .text(" and ")
                .action(Action::Optimize(Some(name.clone())))
                .text("."),
        )
    })
}

/// The tool a recipe is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecipeFormat {
    /// SparseML's tagged layout (`modifiers:` of `!GMPruningModifier`): pruning while training.
    #[default]
    SparseMl,
    /// llm-compressor's staged layout: the one-shot plan (method, sparsity per layer, mask
    /// structure, quantization) in its modifiers.
    LlmCompressor,
}

impl RecipeFormat {
    pub const ALL: [RecipeFormat; 2] = [RecipeFormat::SparseMl, RecipeFormat::LlmCompressor];

    pub fn name(self) -> &'static str {
        match self {
            RecipeFormat::SparseMl => "sparseml",
            RecipeFormat::LlmCompressor => "llm-compressor",
        }
    }

    pub fn parse(text: &str) -> Option<RecipeFormat> {
        RecipeFormat::ALL.into_iter().find(|f| f.name() == text)
    }
}

/// `export recipe`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecipeExport {
    pub path: PathBuf,
    /// The optimization; the latest when `None`.
    pub optimization: Option<String>,
    /// A JSON object of ONNX weight names to the framework's parameter names.
    pub names: Option<PathBuf>,
    pub format: RecipeFormat,
    /// How the llm-compressor recipe prunes and quantizes (the SparseML recipe prunes while
    /// training and ignores it).
    pub one_shot: export::llm_compressor::OneShot,
}

/// A recipe written.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipeWritten {
    pub path: PathBuf,
    pub format: RecipeFormat,
    /// What the llm-compressor recipe runs (not used by the SparseML one).
    pub one_shot: export::llm_compressor::OneShot,
    /// The recipe's modifiers, as the recipe checker reads them back.
    pub modifiers: usize,
    /// The weights pruned, as the recipe names them.
    pub layers_pruned: Vec<String>,
    /// Pruned weight names that look generated by the exporter.
    pub generated_names: Vec<String>,
    /// Whether a name map was applied.
    pub names_given: bool,
    pub quantization: Option<QuantizationPlan>,
    pub moved_aside: Vec<PathBuf>,
}

/// Writes the optimization's recipe to `request.path`, its modeline naming the model relative to
/// the recipe.
pub fn export_recipe(model: &Path, request: &RecipeExport) -> Result<RecipeWritten> {
    let mut moved_aside = Vec::new();
    let project = super::read_project(model, &mut moved_aside)?;
    let mut plan = chosen_optimization(&project, request.optimization.as_deref())?.clone();
    refuse_channel_plan(&plan)?;
    if let Some(map_path) = &request.names {
        let text = crate::user_file::read_to_string(
            map_path,
            64 << 20,
            "a JSON file of ONNX names to framework names",
        )?;
        let map: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|err| {
            Error::Usage(format!(
                "{}: not a JSON object of ONNX name to framework name ({err}); write {{\"onnx::Conv_12\": \"features.0.weight\", ...}}.",
                map_path.display()
            ))
        })?;
        export::recipe::apply_names(&mut plan, &map)?;
    }
    let generated_names = export::recipe::generated_names(&plan);
    let model_path = recipe_model_path(model, &request.path);
    let text = match request.format {
        RecipeFormat::SparseMl => export::recipe::recipe_text(&plan, &model_path),
        RecipeFormat::LlmCompressor => {
            export::llm_compressor::recipe_text(&plan, &request.one_shot, &model_path)
        }
    };
    super::write_file(&request.path, text.as_bytes())?;
    let modifiers = crate::recipe::check(&text, &crate::recipe::CheckOptions::default())
        .recipe
        .modifiers
        .len();
    let layers_pruned = plan
        .layers
        .iter()
        .filter(|l| l.sparsity.is_some_and(|s| s > 0.0))
        .map(|l| l.weight.clone())
        .collect();
    Ok(RecipeWritten {
        path: request.path.clone(),
        format: request.format,
        one_shot: request.one_shot,
        modifiers,
        layers_pruned,
        generated_names,
        names_given: request.names.is_some(),
        quantization: plan.quantization,
        moved_aside,
    })
}

/// A recipe prunes weights during training to a sparsity per layer (SparseML's
/// `GMPruningModifier`); a channel plan removes whole channels once, so a recipe cannot carry
/// it: the smaller model itself (and the plan file for the framework's model) is what to train.
fn refuse_channel_plan(plan: &PruningPlan) -> Result<()> {
    if plan.channels.is_none() {
        return Ok(());
    }
    Err(Sentence::new(
        "this optimization removes whole channels, which a recipe cannot express (the pruning modifiers of SparseML and llm-compressor zero weights inside layers of the same size); write the smaller model with ",
    )
    .action(Action::ExportModel)
    .text(" and the channels kept with ")
    .action(Action::ExportPlan)
    .text(", fine-tune that model, or fit an unstructured optimization for a recipe.")
    .into())
}

/// `export code`.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeExport {
    pub path: PathBuf,
    /// The optimization whose recipe the code trains with; the latest when `None`.
    pub optimization: Option<String>,
    /// The recipe the code loads; by default the name `export recipe` suggests, `<model>.recipe.yaml`.
    pub recipe: Option<String>,
    /// A whole training loop rather than the lines to add to one.
    pub training: bool,
}

/// PyTorch code written.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeWritten {
    pub path: PathBuf,
    pub recipe: String,
    pub training: bool,
    pub moved_aside: Vec<PathBuf>,
}

/// Writes the PyTorch integration code (or training loop) that reads the recipe.
pub fn export_code(model: &Path, request: &CodeExport) -> Result<CodeWritten> {
    let mut moved_aside = Vec::new();
    let project = super::read_project(model, &mut moved_aside)?;
    refuse_channel_plan(chosen_optimization(
        &project,
        request.optimization.as_deref(),
    )?)?;
    let recipe = request.recipe.clone().unwrap_or_else(|| {
        let stem = model.file_stem().unwrap_or_default().to_string_lossy();
        format!("{stem}.recipe.yaml")
    });
    let code = if request.training {
        export::code::pytorch_training(&recipe)
    } else {
        export::code::pytorch_integration(&recipe)
    };
    super::write_file(&request.path, code.as_bytes())?;
    Ok(CodeWritten {
        path: request.path.clone(),
        recipe,
        training: request.training,
        moved_aside,
    })
}

/// `export model`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelExport {
    pub path: PathBuf,
    /// The optimization to prune to; the latest when `None`.
    pub optimization: Option<String>,
    /// The quantization asked for (its data and seed are set here); `None` quantizes as the
    /// optimization asks, if it does. Asked for with no optimization saved and none named, the
    /// dense model is quantized.
    pub quantize: Option<QuantizeOptions>,
    /// Labelled samples the accuracy before and after is measured on (and, without
    /// `calibration_data`, what calibration reads).
    pub data: Option<PathBuf>,
    pub calibration_data: Option<PathBuf>,
    /// Layers to leave float besides those the plan leaves float (quantized exports only).
    pub keep_float: Option<KeepFloat>,
    /// How the plan's layers are pruned.
    pub pruning: PruningRequest,
    pub seed: u64,
    /// Where the written model keeps its large tensors.
    pub external_data: ExternalData,
}

/// Which layers a quantized export keeps float.
#[derive(Debug, Clone, PartialEq)]
pub enum KeepFloat {
    /// These layers (by layer, node or weight name).
    Layers(Vec<String>),
    /// The layers the int8 sensitivity blames, the worst first, one more at a time until the
    /// written model agrees with the original (at most `MAX_AUTO_KEEP_FLOAT`).
    Auto,
}

/// A model written.
#[derive(Debug, Clone)]
pub struct ModelWritten {
    pub path: PathBuf,
    /// The external data file written beside the model (`None`: the model is one file).
    pub data_file: Option<PathBuf>,
    /// How it was pruned to the optimization's plan; `None`: it is the dense model.
    pub pruning: Option<Pruning>,
    /// What quantization did; its `proto` is empty (the model is at `path`).
    pub quantized: Option<Quantized>,
    /// Whether calibration (or reconstruction) read the samples the accuracy is measured on.
    pub calibrated_on_measured: bool,
    /// `None` without `data`, or when the data has no labels.
    pub accuracy: Option<HeldOutAccuracy>,
    /// The written model against the original.
    pub agreement: Agreement,
    pub moved_aside: Vec<PathBuf>,
}

/// Writes the optimization's pruned model (the dense one without an optimization), quantized
/// when the request or the plan asks for it, calibrated on `calibration_data` or else `data`,
/// and checks it against the original (its accuracy on `data`, when labelled). Quantizing is the
/// step `steps` hears of.
pub fn export_model(
    model_path: &Path,
    analysis: &ModelAnalysis,
    request: &ModelExport,
    steps: &dyn Steps,
    cancel: &crate::Cancel,
) -> Result<ModelWritten> {
    let mut moved_aside = Vec::new();
    let project = super::read_project(model_path, &mut moved_aside)?;
    let dense = request.quantize.is_some()
        && request.optimization.is_none()
        && project.latest_optimization.is_none();
    let plan = if dense {
        None
    } else {
        Some(chosen_optimization(
            &project,
            request.optimization.as_deref(),
        )?)
    };
    let quantize = request.quantize.clone().or_else(|| {
        plan.and_then(|p| p.quantization.as_ref())
            .map(|q| QuantizeOptions::from_plan(q, None, request.seed))
    });
    // Pruning that reconstructs layers reads the calibration samples too.
    let reconstructs = plan.is_some() && request.pruning.method != Some(Method::Magnitude);
    if quantize.is_none() {
        let only_quantized = if request.calibration_data.is_some() && !reconstructs {
            Some(Setting::CalibrationData)
        } else {
            request.keep_float.as_ref().map(|_| Setting::KeepFloat)
        };
        if let Some(setting) = only_quantized {
            return Err(Sentence::default()
                .setting(setting)
                .text(" applies to a quantized model only; add ")
                .set(Setting::Quantize, "static")
                .text(" (or ")
                .action(Action::OptimizeQuantized)
                .text(").")
                .into());
        }
    }
    let keep_float = match &request.keep_float {
        Some(KeepFloat::Layers(names)) => keep_float_layers(analysis, names)?,
        _ => Vec::new(),
    };
    if plan.is_none() && request.pruning != PruningRequest::default() {
        return Err(Sentence::default()
            .setting(Setting::Method)
            .text(", ")
            .setting(Setting::Pattern)
            .text(" and ")
            .setting(Setting::Samples)
            .text(" prune to an optimization, and there is none; run ")
            .action(Action::Optimize(None))
            .text(" first.")
            .into());
    }
    let model = crate::load(model_path)?;
    // Pruning reads the calibration samples, else the data accuracy is measured on.
    let samples = request.calibration_data.as_ref().or(request.data.as_ref());
    let (proto, pruning) = match plan {
        Some(plan) => {
            let (proto, pruning) = super::run_step(steps, Step::Pruning, |progress| {
                // A channel plan removes whole channels; any other prunes single weights.
                let prune = if plan.channels.is_some() {
                    super::channels::export_pruning
                } else {
                    prune::prune
                };
                prune(
                    &model,
                    analysis,
                    plan,
                    &request.pruning,
                    samples,
                    progress,
                    cancel,
                )
            })?;
            (proto, Some(pruning))
        }
        None => (model.proto.clone(), None),
    };
    let pruned = Model { proto, ..model };
    // Removing channels changes the shapes quantization and blame read: analyze it again.
    let pruned_analysis = match pruning.as_ref().and_then(|p| p.channels.as_ref()) {
        Some(_) => Some(crate::analyze(
            &pruned,
            &crate::structured::remove::sizes_of(analysis),
        )?),
        None => None,
    };
    let analysis = pruned_analysis.as_ref().unwrap_or(analysis);
    let options = quantize.map(|options| {
        let mut ignore = options.ignore.clone();
        for layer in &keep_float {
            if !ignore.contains(layer) {
                ignore.push(layer.clone());
            }
        }
        QuantizeOptions {
            // Calibration reads the calibration data, else the data accuracy is measured on.
            data: request
                .calibration_data
                .clone()
                .or_else(|| request.data.clone()),
            seed: request.seed,
            ignore,
            ..options
        }
    });
    let write = |options: Option<&QuantizeOptions>| -> Result<Option<Quantized>> {
        let (proto, quantized) = match options {
            None => (pruned.proto.clone(), None),
            Some(options) => {
                let mut quantized = super::run_step(steps, Step::Quantizing, |progress| {
                    crate::quantize::quantize(&pruned, analysis, options, progress, cancel)
                })?;
                (std::mem::take(&mut quantized.proto), Some(quantized))
            }
        };
        super::make_parent(&request.path)?;
        model::save_with(&proto, &request.path, request.external_data)?;
        Ok(quantized)
    };
    let mut quantized = write(options.as_ref())?;
    let scores = pruned
        .proto
        .graph
        .as_ref()
        .map(agreement::class_score_outputs)
        .unwrap_or_default();
    let check_all = |sets: &[(Dataset, usize)]| -> Result<Vec<Check>> {
        sets.iter()
            .map(|(set, batch)| {
                cancel.check()?;
                agreement::check(model_path, &request.path, set, *batch, &scores, cancel)
            })
            .collect()
    };
    let auto = request.keep_float == Some(KeepFloat::Auto);
    // A model that cannot be checked (its samples would not fit in memory, ONNX Runtime cannot
    // run it) is still written, and the front end says why it was not checked; only the
    // automatic choice, asked for, needs the check.
    let checked = check_sets(analysis, request, options.as_ref())
        .and_then(|sets| Ok((check_all(&sets)?, sets)));
    let (checks, sets, unchecked) = match checked {
        Ok((checks, sets)) => (checks, sets, None),
        Err(err) if auto || err == Error::Cancelled => return Err(err),
        Err(err) => (Vec::new(), Vec::new(), Some(err)),
    };
    let calibrated_on_measured = request.calibration_data.is_none() && request.data.is_some();
    let pruning_read_samples = pruning.as_ref().is_some_and(|p| p.data.is_some());
    let data_source = request.data.as_ref().map(|d| d.display().to_string());
    let written = move |quantized: Option<Quantized>, agreement: Agreement| {
        // The held-out accuracy is the data's check's.
        let accuracy = agreement
            .checks
            .iter()
            .filter(|c| data_source.as_deref() == Some(c.source.as_str()))
            .find_map(|c| c.accuracy.clone());
        ModelWritten {
            path: request.path.clone(),
            data_file: Some(model::data_path(&request.path)).filter(|p| p.is_file()),
            pruning,
            calibrated_on_measured: (quantized.is_some() || pruning_read_samples)
                && calibrated_on_measured,
            quantized,
            accuracy,
            agreement,
            moved_aside,
        }
    };
    let mut agreement = Agreement {
        checks,
        unchecked,
        blame: None,
        kept_float: keep_float,
        auto,
        quantized: options.is_some(),
        channels_removed: pruned_analysis.is_some(),
    };
    if let Some(options) = &options
        && agreement.unchecked.is_none()
        && (!agreement.agrees() || agreement.auto)
    {
        let ranking = super::run_step(steps, Step::Quantizing, |progress| {
            blame::blame(&project, &pruned, analysis, options, progress, cancel)
        });
        // Without a ranking the verdict still offers the automatic choice; only that choice,
        // asked for, needs one.
        let ranking = match ranking {
            Ok(ranking) => ranking,
            Err(err) if agreement.auto || err == Error::Cancelled => return Err(err),
            Err(_) => return Ok(written(quantized, agreement)),
        };
        if agreement.auto {
            let order: Vec<String> = ranking.layers.iter().map(|l| l.name.clone()).collect();
            let mut options = options.clone();
            for layer in order.into_iter().take(MAX_AUTO_KEEP_FLOAT) {
                if agreement.agrees() {
                    break;
                }
                options.ignore.push(layer.clone());
                agreement.kept_float.push(layer);
                quantized = write(Some(&options))?;
                agreement.checks = check_all(&sets)?;
            }
        }
        agreement.blame = Some(ranking);
    }
    Ok(written(quantized, agreement))
}

/// The samples the written model is checked on, each with its batch: the calibration samples
/// when they are not `data`'s, `data` when given, else the seeded samples (those calibration
/// read, when it did).
fn check_sets(
    analysis: &ModelAnalysis,
    request: &ModelExport,
    options: Option<&QuantizeOptions>,
) -> Result<Vec<(Dataset, usize)>> {
    let mut sets = Vec::new();
    if let (Some(options), Some(_)) = (options, &request.calibration_data) {
        sets.push(crate::quantize::calibration_data(analysis, options)?);
    }
    if let Some(data) = &request.data {
        sets.push(dataset(
            analysis,
            Some(data),
            None,
            CALIBRATION_SAMPLES,
            None,
            request.seed,
        )?);
    }
    if sets.is_empty() {
        sets.push(match options {
            Some(options) => crate::quantize::calibration_data(analysis, options)?,
            None => dataset(
                analysis,
                None,
                None,
                CALIBRATION_SAMPLES,
                None,
                request.seed,
            )?,
        });
    }
    Ok(sets)
}

/// The quantizable layers `names` mean, by layer, node or weight name, as layer names.
fn keep_float_layers(analysis: &ModelAnalysis, names: &[String]) -> Result<Vec<String>> {
    let quantizable: Vec<&crate::analysis::Layer> = analysis
        .layers
        .iter()
        .filter(|l| matches!(l.op_type.as_str(), "Conv" | "Gemm" | "MatMul"))
        .collect();
    names
        .iter()
        .map(|name| {
            quantizable
                .iter()
                .find(|l| {
                    &l.name == name
                        || &l.node_name == name
                        || l.weight.as_ref().is_some_and(|w| &w.name == name)
                })
                .map(|l| l.name.clone())
                .ok_or_else(|| {
                    let candidates = quantizable.iter().flat_map(|l| {
                        [l.name.as_str(), l.node_name.as_str()]
                            .into_iter()
                            .chain(l.weight.as_ref().map(|w| w.name.as_str()))
                    });
                    Error::Usage(match crate::suggest::did_you_mean(name, candidates) {
                        Some(close) => format!(
                            "there is no Conv, Gemm or MatMul layer '{name}' to keep float; did you mean '{close}'?"
                        ),
                        None => format!(
                            "there is no Conv, Gemm or MatMul layer '{name}' to keep float; the layers are {}.",
                            quantizable
                                .iter()
                                .take(8)
                                .map(|l| l.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    })
                })
        })
        .collect()
}

#[cfg(test)]
mod tests;

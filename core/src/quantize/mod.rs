//! int8 quantization of an ONNX model, done by prunekit itself (no Python): static QDQ with
//! calibrated activation ranges (`calibrate`, `qdq`), dynamic quantization of MatMul and Gemm
//! (`dynamic`), the arithmetic both share (`scale`), which layers they take (`targets`), and how
//! much quantizing each layer alone hurts (`sensitivity`, the loss profile's quantization part).
//! A weight stored in a `Constant` node (behind `Identity` nodes or not) is quantized like an
//! initializer: `prepare` first moves it into an initializer of the same name that its layer reads
//! directly (`constants`), and the written model keeps only its int8 form. Static per-channel
//! quantization of a model older than opset 13 upgrades it to 13 first (`model::opset`).
//! It reads graphs through `analysis::graph` and samples through `runtime`, never `profile`.

mod build;
mod calibrate;
mod constants;
mod dynamic;
mod entropy;
mod fold;
pub mod int4;
mod options;
mod qdq;
mod scale;
pub mod sensitivity;
mod targets;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;

use ort::session::SessionInputValue;
use ort::value::{TensorElementType, ValueType};
use serde::{Deserialize, Serialize};

pub use int4::{Int4Settings, Rounding};
pub use options::{
    Calibration, CalibrationSource, DEFAULT_PERCENTILE, IgnoredLayer, QuantMode, QuantizationPlan,
};
pub use targets::{Target, find as find_targets};

use self::calibrate::Observer;
use self::qdq::Activation;
use self::scale::ActivationParams;
use crate::analysis::Skipped;
use crate::analysis::graph::GraphIndex;
use crate::error::{Error, Result, Sentence, Setting};
use crate::model::onnx::ModelProto;
use crate::model::opset;
use crate::progress::{Cancel, Progress};
use crate::reconstruct::collect;
use crate::runtime::batch::{analysis_batch, dataset, model_fixed_batch};
use crate::runtime::{Batch, DataInfo, Dataset, InputArray, build_session, to_value};
use crate::{Model, ModelAnalysis};

#[derive(Debug, Clone, PartialEq)]
pub struct QuantizeOptions {
    pub mode: QuantMode,
    pub calibration: Calibration,
    /// One weight scale per output channel (else one per tensor).
    pub per_channel: bool,
    /// Layers (by name or node name) left float.
    pub ignore: Vec<String>,
    /// Calibration samples: a `.npz` named after the inputs; seeded random inputs without it.
    pub data: Option<PathBuf>,
    /// Use only the first N samples (data), or generate N (no data).
    pub samples: Option<usize>,
    /// Samples per calibration run, where the model's batch dim is free.
    pub batch: Option<usize>,
    pub threads: Option<usize>,
    pub seed: u64,
    /// Block size, rounding and zero points of `QuantMode::Int4`.
    pub int4: Int4Settings,
}

impl QuantizeOptions {
    pub fn new(mode: QuantMode) -> QuantizeOptions {
        QuantizeOptions {
            mode,
            calibration: Calibration::MinMax,
            per_channel: true,
            ignore: Vec::new(),
            data: None,
            samples: None,
            batch: None,
            threads: None,
            seed: 0,
            int4: Int4Settings::default(),
        }
    }
}

impl QuantizeOptions {
    /// What an optimization's plan asks for, calibrated on `data` (seeded random inputs without).
    pub fn from_plan(plan: &QuantizationPlan, data: Option<PathBuf>, seed: u64) -> QuantizeOptions {
        QuantizeOptions {
            calibration: plan.calibration,
            per_channel: plan.per_channel,
            ignore: plan.ignore.iter().map(|i| i.name.clone()).collect(),
            data,
            seed,
            ..QuantizeOptions::new(plan.mode)
        }
    }
}

/// Calibration samples when none are asked for: enough for stable ranges, few enough to be quick.
pub const CALIBRATION_SAMPLES: usize = 128;
/// Samples per calibration run: every activation of the batch is read back, so keep it modest.
const CALIBRATION_BATCH: usize = 16;

/// A layer whose weight is now int8.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizedLayer {
    pub name: String,
    pub op_type: String,
    pub per_channel: bool,
    /// Its bias became int32 (static only).
    pub int_bias: bool,
}

#[derive(Debug, Clone)]
pub struct Quantized {
    pub proto: ModelProto,
    pub mode: QuantMode,
    pub layers: Vec<QuantizedLayer>,
    /// Layers of a quantizable kind left float, with the reason.
    pub skipped: Vec<Skipped>,
    /// Activations given a Q/DQ pair (static only).
    pub activations: usize,
    /// The calibration data (static, and int4 with GPTQ).
    pub data: Option<DataInfo>,
    pub notes: Vec<String>,
    /// The block size, rounding and zero points of an int4 quantization.
    pub int4: Option<Int4Settings>,
    /// Wall time of the quantization (calibration included), in seconds.
    pub seconds: f64,
}

/// A model made ready to quantize: BatchNormalizations folded, layers chosen, activations
/// calibrated. `rewrite` then quantizes all of its layers, or one at a time (the sensitivity
/// profile), without calibrating again.
pub struct Prepared {
    /// The float model after folding (and the opset upgrade): what the quantized one is compared
    /// with.
    pub proto: ModelProto,
    pub mode: QuantMode,
    per_channel: bool,
    pub targets: Vec<Target>,
    pub skipped: Vec<Skipped>,
    activations: Vec<Activation>,
    /// What calibration saw of each activation (static only): every method's ranges come from it.
    observers: HashMap<String, Observer>,
    /// The method `params` were read off with.
    calibration: Calibration,
    params: HashMap<String, ActivationParams>,
    pub data: Option<DataInfo>,
    /// The calibration samples and their batch (static only), for the sensitivity profile to run
    /// on without reading them again.
    pub samples: Option<(Dataset, usize)>,
    pub notes: Vec<String>,
    int4_settings: Int4Settings,
    /// Int4: each target's packed weight, chosen once (GPTQ's calibration is the costly part).
    int4: HashMap<String, int4::PackedTensors>,
}

/// Folds, picks the layers and (static) calibrates: one progress step per calibration batch.
pub fn prepare(
    model: &Model,
    analysis: &ModelAnalysis,
    options: &QuantizeOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Prepared> {
    let (mut proto, per_channel, opset_note) = per_channel_opset(model, options)?;
    let mut notes = Vec::new();
    let graph = proto.graph.as_mut().ok_or_else(|| {
        Error::model(
            &model.path,
            "has no graph; export it again from the framework.",
        )
    })?;
    // Weights stored in `Constant` nodes become initializers their layers read directly.
    constants::weights_to_initializers(graph);
    if options.mode == QuantMode::Static {
        let folded = fold::batch_norms(graph);
        if folded > 0 {
            notes.push(format!(
                "{folded} BatchNormalization{} folded into the Conv before {}, so the int8 weights hold the normalization.",
                if folded == 1 { " was" } else { "s were" },
                if folded == 1 { "it" } else { "them" }
            ));
        }
    }
    let graph: &crate::model::onnx::GraphProto = graph;
    let (targets, skipped) = find_targets(graph, analysis, &options.ignore, options.mode);
    if targets.is_empty() {
        return Err(match options.mode {
            QuantMode::Dynamic => Sentence::new(format!(
                "{} has no MatMul or Gemm with a float32 weight for dynamic quantization to make int8; try ",
                model.path.display()
            ))
            .set(Setting::Quantize, "static")
            .text(", which covers Conv too.")
            .into(),
            QuantMode::Int4 => Error::Usage(format!(
                "{} has no MatMul or Gemm with a 2-D float32 constant weight for int4 quantization{}.",
                model.path.display(),
                skipped.first().map_or(String::new(), |s| format!(
                    " (layer {}: {})",
                    s.name, s.reason
                ))
            )),
            QuantMode::Static => Error::Usage(format!(
                "{} has no Conv, Gemm or MatMul with a float32 constant weight for static quantization to make int8{}.",
                model.path.display(),
                skipped.first().map_or(String::new(), |s| format!(
                    " (layer {}: {})",
                    s.name, s.reason
                ))
            )),
        });
    }
    notes.extend(opset_note);
    let (activations, observers, data, samples) = match options.mode {
        QuantMode::Dynamic => {
            notes.push(
                "Activations are quantized at run time from their own range: no calibration."
                    .into(),
            );
            (Vec::new(), HashMap::new(), None, None)
        }
        QuantMode::Int4 => (Vec::new(), HashMap::new(), None, None),
        QuantMode::Static => {
            let activations = qdq::activations(graph, &targets, qdq::Around::Everything);
            let (set, batch) = calibration_data(analysis, options)?;
            // A session of a large model would hold every weight: it is run in parts instead.
            let in_parts = (collect::constant_bytes(&proto) > collect::IN_PARTS_ABOVE_BYTES)
                .then_some(collect::PART_BYTES);
            let observers = calibrate(
                &proto,
                &activations,
                options,
                &set.batches(batch),
                in_parts,
                progress,
                cancel,
            )?;
            let data = DataInfo {
                source: set.source.clone(),
                samples: set.samples,
                batch,
                has_labels: set.labels.is_some(),
                seed: options.data.is_none().then_some(options.seed),
            };
            notes.push(format!(
                "Activation ranges are the {} of {}.",
                options.calibration.describe(),
                samples_words(&data),
            ));
            if data.source == "generated" {
                notes.push("Calibrated on random inputs: calibrate on real samples for ranges that match real use.".into());
            }
            (activations, observers, Some(data), Some((set, batch)))
        }
    };
    let params = params_of(&observers, options.calibration);
    let (int4, targets, skipped, data, samples) = if options.mode == QuantMode::Int4 {
        int4_weights(
            &proto, analysis, options, targets, skipped, progress, cancel, &mut notes,
        )?
    } else {
        (HashMap::new(), targets, skipped, data, samples)
    };
    Ok(Prepared {
        proto,
        mode: options.mode,
        per_channel,
        targets,
        skipped,
        activations,
        observers,
        calibration: options.calibration,
        params,
        data,
        samples,
        notes,
        int4_settings: options.int4,
        int4,
    })
}

/// The outcome of choosing the int4 weights: each target's packed weight, the targets and
/// skipped layers after it, and the calibration data GPTQ read.
type Int4Outcome = (
    HashMap<String, int4::PackedTensors>,
    Vec<Target>,
    Vec<Skipped>,
    Option<DataInfo>,
    Option<(Dataset, usize)>,
);

/// Chooses every target's 4-bit weight: round-to-nearest from the weights alone, GPTQ from the
/// layers' inputs on the calibration samples.
#[allow(clippy::too_many_arguments)]
fn int4_weights(
    proto: &ModelProto,
    analysis: &ModelAnalysis,
    options: &QuantizeOptions,
    targets: Vec<Target>,
    mut skipped: Vec<Skipped>,
    progress: &dyn Progress,
    cancel: &Cancel,
    notes: &mut Vec<String>,
) -> Result<Int4Outcome> {
    let settings = &options.int4;
    if !int4::BLOCKS.contains(&settings.block) {
        return Err(Error::Usage(format!(
            "int4 blocks hold 32, 64 or 128 weights, not {}.",
            settings.block
        )));
    }
    let (data, samples) = match settings.rounding {
        int4::Rounding::Rtn => (None, None),
        int4::Rounding::Gptq => {
            let (set, batch) = calibration_data(analysis, options)?;
            let data = DataInfo {
                source: set.source.clone(),
                samples: set.samples,
                batch,
                has_labels: set.labels.is_some(),
                seed: options.data.is_none().then_some(options.seed),
            };
            (Some(data), Some((set, batch)))
        }
    };
    let batches = samples
        .as_ref()
        .map_or(Vec::new(), |(set, batch)| set.batches(*batch));
    let int4::Chosen {
        packed,
        skipped: unread,
        notes: more_notes,
    } = int4::quantize_targets(
        proto, analysis, &targets, settings, &batches, progress, cancel,
    )?;
    let targets: Vec<Target> = targets
        .into_iter()
        .filter(|t| packed.contains_key(&t.name))
        .collect();
    skipped.extend(unread);
    notes.push(format!(
        "Weights are {}: activations stay float and ONNX Runtime's MatMulNBits multiplies by the 4-bit weights.",
        settings.describe()
    ));
    if let Some(d) = &data {
        notes.push(format!(
            "GPTQ compensated each layer's rounding on its inputs over {}.",
            samples_words(d),
        ));
        if d.source == "generated" {
            notes.push(
                "GPTQ ran on random inputs: give real samples for weights that fit real use."
                    .into(),
            );
        }
    }
    let padded: Vec<&str> = targets
        .iter()
        .filter(|t| packed[&t.name].k % settings.block != 0)
        .map(|t| t.name.as_str())
        .collect();
    if !padded.is_empty() {
        notes.push(format!(
            "{} ha{} K not a multiple of {}: the last block is padded with zeros, as MatMulNBits expects.",
            padded.join(", "),
            if padded.len() == 1 { "s" } else { "ve" },
            settings.block
        ));
    }
    notes.extend(more_notes);
    Ok((packed, targets, skipped, data, samples))
}

/// The model to quantize and whether its weights can be per channel. Per-channel
/// DequantizeLinear is opset 13 (MatMulInteger takes per-column zero points earlier): static
/// per-channel quantization of an older model upgrades it to opset 13 first, and falls back to
/// per tensor, with a note saying why, when an operator cannot be converted.
fn per_channel_opset(
    model: &Model,
    options: &QuantizeOptions,
) -> Result<(ModelProto, bool, Option<String>)> {
    let opset = crate::model::default_opset(&model.proto);
    let Some(opset) = opset.filter(|_| options.mode == QuantMode::Static) else {
        return Ok((model.proto.clone(), options.per_channel, None));
    };
    if opset < opset::OLDEST {
        return Err(Error::model(
            &model.path,
            format!(
                "the model uses opset {opset} of the default ONNX domain, which has no QuantizeLinear (opset {}); convert it with onnx.version_converter.convert_version(model, {}) before static quantization.",
                opset::OLDEST,
                opset::TARGET
            ),
        ));
    }
    if !options.per_channel || opset >= opset::TARGET {
        return Ok((model.proto.clone(), options.per_channel, None));
    }
    Ok(match opset::upgrade_to_13(&model.proto) {
        Ok((proto, upgrade)) => {
            let note = format!(
                "The model's opset {} was upgraded to {} ({}) so that weights are quantized per channel.",
                upgrade.from,
                opset::TARGET,
                upgrade.summary()
            );
            (proto, true, Some(note))
        }
        Err(why) => {
            let note = format!(
                "Weights were quantized per tensor: the model's opset {opset} predates per-channel DequantizeLinear (opset 13), and {why}."
            );
            (model.proto.clone(), false, Some(note))
        }
    })
}

/// Each activation's parameters under `calibration`.
fn params_of(
    observers: &HashMap<String, Observer>,
    calibration: Calibration,
) -> HashMap<String, ActivationParams> {
    observers
        .iter()
        .map(|(n, o)| (n.clone(), o.params(calibration)))
        .collect()
}

impl Prepared {
    /// The calibration method the activation ranges are read off with.
    pub fn calibration(&self) -> Calibration {
        self.calibration
    }

    /// Reads the activation ranges off the same calibration pass with another method: what
    /// `rewrite` writes from then on.
    pub fn recalibrate(&mut self, calibration: Calibration) {
        self.params = params_of(&self.observers, calibration);
        self.calibration = calibration;
    }

    /// The model with every chosen layer quantized, or only the layer named `only`.
    pub fn rewrite(&self, only: Option<&str>) -> Result<(ModelProto, Vec<QuantizedLayer>)> {
        let targets: Vec<Target> = self
            .targets
            .iter()
            .filter(|t| only.is_none_or(|o| o == t.name))
            .cloned()
            .collect();
        let mut proto = self.proto.clone();
        let op_of = |name: &str| {
            targets
                .iter()
                .find(|t| t.name == name)
                .map_or(String::new(), |t| t.op_type.clone())
        };
        let layers = match self.mode {
            QuantMode::Dynamic => dynamic::rewrite(&mut proto, &targets, self.per_channel)?
                .into_iter()
                .map(|(name, per_channel)| QuantizedLayer {
                    op_type: op_of(&name),
                    name,
                    per_channel,
                    int_bias: false,
                })
                .collect(),
            QuantMode::Static => {
                let activations = match only {
                    None => self.activations.clone(),
                    Some(_) => {
                        let graph = self
                            .proto
                            .graph
                            .as_ref()
                            .expect("prepare checked the graph");
                        qdq::activations(graph, &targets, qdq::Around::Targets)
                    }
                };
                qdq::rewrite(
                    &mut proto,
                    &targets,
                    &activations,
                    &self.params,
                    self.per_channel,
                )?
                .into_iter()
                .map(|r| QuantizedLayer {
                    op_type: op_of(&r.name),
                    name: r.name,
                    per_channel: r.per_channel,
                    int_bias: r.int_bias,
                })
                .collect()
            }
            QuantMode::Int4 => int4::rewrite(&mut proto, &targets, &self.int4)?
                .into_iter()
                .map(|name| QuantizedLayer {
                    op_type: op_of(&name),
                    name,
                    per_channel: true,
                    int_bias: false,
                })
                .collect(),
        };
        Ok((proto, layers))
    }

    pub fn into_quantized(self) -> Result<Quantized> {
        let (proto, layers) = self.rewrite(None)?;
        Ok(Quantized {
            proto,
            mode: self.mode,
            layers,
            skipped: self.skipped,
            activations: self.params.len(),
            data: self.data,
            notes: self.notes,
            int4: (self.mode == QuantMode::Int4).then_some(self.int4_settings),
            seconds: 0.0,
        })
    }
}

/// Quantizes `model`: the layers `find_targets` takes, as `options` asks. Static quantization
/// first runs the model on the calibration data (one progress step per batch).
pub fn quantize(
    model: &Model,
    analysis: &ModelAnalysis,
    options: &QuantizeOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Quantized> {
    let start = std::time::Instant::now();
    let mut quantized = prepare(model, analysis, options, progress, cancel)?.into_quantized()?;
    quantized.seconds = start.elapsed().as_secs_f64();
    Ok(quantized)
}

/// The samples calibration (and the quantization loss profile) run on, and their batch: the
/// first `--samples` of `--data` (default 512), or `CALIBRATION_SAMPLES` generated ones.
pub fn calibration_data(
    analysis: &ModelAnalysis,
    options: &QuantizeOptions,
) -> Result<(crate::runtime::Dataset, usize)> {
    let fixed_batch = model_fixed_batch(analysis).is_some();
    let batch = options
        .batch
        .or((!fixed_batch).then_some(CALIBRATION_BATCH));
    let unit = analysis_batch(analysis);
    let default_samples = CALIBRATION_SAMPLES.div_ceil(unit) * unit;
    let samples = options
        .samples
        .or(options.data.is_some().then_some(default_samples * 4));
    dataset(
        analysis,
        options.data.as_deref(),
        samples,
        default_samples,
        batch,
        options.seed,
    )
}

/// What calibration saw of each activation that is a float tensor, over `batches`: in one session
/// of the model, or in parts of `in_parts` bytes of constants each
/// (`reconstruct::collect::observe_in_parts`).
fn calibrate(
    proto: &ModelProto,
    activations: &[Activation],
    options: &QuantizeOptions,
    batches: &[Batch],
    in_parts: Option<u64>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<HashMap<String, Observer>> {
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| Error::Usage("the model has no graph to calibrate.".into()))?;
    let index = GraphIndex::new(graph);
    // Graph inputs are fed, not computed: their ranges come from the batches themselves.
    let computed: Vec<String> = activations
        .iter()
        .map(|a| a.name.clone())
        .filter(|n| !index.is_data_input(n))
        .collect();
    let mut observers: HashMap<String, Observer> = activations
        .iter()
        .map(|a| (a.name.clone(), Observer::new()))
        .collect();
    let observe_inputs = |observers: &mut HashMap<String, Observer>, b: &Batch| {
        for (name, array) in &b.inputs {
            if let (Some(o), InputArray::F32(a)) = (observers.get_mut(name), array) {
                o.observe_array(a.view());
            }
        }
    };
    if let Some(part_bytes) = in_parts {
        // Each part's activations observed batch by batch as it computes them: each observer
        // still sees its batches in order, so the ranges are the same.
        for b in batches {
            observe_inputs(&mut observers, b);
        }
        collect::observe_in_parts(
            proto,
            batches,
            collect::Given::default(),
            &computed,
            part_bytes,
            cancel,
            &mut |done, parts| progress.report(done as u64, parts as u64, "calibrating in parts"),
            &mut |_, name, value| observe_value(&mut observers, name, value),
        )?;
        return Ok(observers
            .into_iter()
            .filter(|(_, o)| !o.is_empty())
            .collect());
    }
    let proto = crate::model::with_outputs(proto, &computed);
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut session = build_session(&proto, Some(threads))?;
    for (i, b) in batches.iter().enumerate() {
        cancel.check()?;
        progress.report(i as u64, batches.len() as u64, "calibrating");
        observe_inputs(&mut observers, b);
        let values = b
            .inputs
            .iter()
            .map(|(n, a)| Ok((n.clone(), to_value(a)?)))
            .collect::<Result<Vec<_>>>()?;
        let inputs: Vec<(Cow<str>, SessionInputValue)> = values
            .iter()
            .map(|(n, v)| (Cow::from(n.as_str()), SessionInputValue::from(v)))
            .collect();
        let outputs = session.run(inputs).map_err(|e| {
            Error::Runtime(format!(
                "ONNX Runtime could not run the model on the calibration data: {e}."
            ))
        })?;
        for name in &computed {
            if let Some(value) = outputs.get(name) {
                observe_value(&mut observers, name, value)?;
            }
        }
    }
    progress.report(batches.len() as u64, batches.len() as u64, "calibrating");
    Ok(observers
        .into_iter()
        .filter(|(_, o)| !o.is_empty())
        .collect())
}

/// Adds one computed activation to its observer; one that is not a float tensor (a shape, a
/// mask) stays as it is, and its observer goes.
fn observe_value(
    observers: &mut HashMap<String, Observer>,
    name: &str,
    value: &ort::value::DynValue,
) -> Result<()> {
    let is_f32 = matches!(
        value.dtype(),
        ValueType::Tensor {
            ty: TensorElementType::Float32,
            ..
        }
    );
    if !is_f32 {
        observers.remove(name);
        return Ok(());
    }
    let array = value
        .try_extract_array::<f32>()
        .map_err(|e| Error::Runtime(format!("ONNX Runtime could not read '{name}': {e}.")))?;
    if let Some(o) = observers.get_mut(name) {
        o.observe_array(array);
    }
    Ok(())
}

#[cfg(test)]
mod tests;

/// "128 generated samples", "1 given sample": how many samples calibration read, and whence.
fn samples_words(data: &DataInfo) -> String {
    let whence = if data.source == "generated" {
        "generated"
    } else {
        "given"
    };
    let plural = if data.samples == 1 { "" } else { "s" };
    format!("{} {whence} sample{plural}", data.samples)
}

//! Whether a written model still agrees with the model it was made from: both run in ONNX
//! Runtime on the same samples, their outputs compared by the one-shot metric
//! (`runtime::metric`: KL divergence of class scores, per sample or per position, normalized MSE
//! of anything else), the top class compared sample by sample (or position by position), and,
//! with labels, each model's accuracy. Agreement on generated samples alone does not vouch for
//! the written model: random inputs hardly exercise what calibration crushed.

use std::path::Path;

use ndarray::{ArrayD, IxDyn};

use crate::analysis::graph::GraphIndex;
use crate::error::{Error, Result, Sentence, Setting};
use crate::model::onnx::GraphProto;
use crate::progress::Cancel;
use crate::reconstruct::collect::{Given, run_in_parts};
use crate::runtime::metric::{self, Accumulator, Comparison};
use crate::runtime::{Batch, Dataset, ModelSession, SessionOptions};

use super::blame::{Blame, BlameSource};

/// A written classifier no longer agrees when fewer than this share of samples keep their top
/// class. A healthy int8 copy keeps nearly all of them (the digits fixture in int8, per channel
/// or per tensor, keeps 100%), while a copy whose int8 scales crushed a layer keeps about what
/// chance gives (17% on the test's broken model); 95% leaves room for the few near-ties that
/// rounding flips on a real model, and is the largest loss a user would accept without being
/// told.
pub const MIN_TOP1_AGREEMENT: f64 = 0.95;
/// A written model no longer agrees when one output's KL divergence from the original's (in
/// nats, averaged over samples) is above this. Healthy int8 copies of the digits fixture measure
/// 3e-5 to 3e-4, the broken test model 0.38: the threshold sits between them, at about the
/// divergence of a class probability of 0.5 moving to 0.4.
pub const MAX_KL_DIVERGENCE: f64 = 0.02;
/// The same, for an output with class scores at every position (a CTC text reader's steps),
/// whose KL divergence is per position. A sound int8 copy's mean is far above a classifier's,
/// carried by the few positions at a character's edge where blank and character trade places
/// (which CTC decoding forgives): per-channel int8 of PP-OCRv4 measures 0.30 nats per position
/// on rendered text and ddddocr's 0.082 (both read as well as float), while PP-OCRv4 in int8
/// per tensor, which reads nothing (CER 99%), measures 2.3. One nat sits between them.
pub const MAX_KL_PER_POSITION: f64 = 1.0;
/// The share of positions that must keep their top class, for an output with class scores at
/// every position: the edge positions that flip harmlessly make a sound copy's share lower than
/// a classifier's (PP-OCRv4 per channel 97.5%, ddddocr 98.8% and 99.7%), while PP-OCRv4 per
/// tensor keeps 78.8%.
pub const MIN_TOP1_PER_POSITION: f64 = 0.90;
/// A written model no longer agrees when one output's normalized MSE (error energy over the
/// original output's energy) is above this: the error at a fifth of the signal's RMS (14 dB).
/// Healthy int8 copies of the digits fixture measure 7e-5 to 2e-4 on their logits, the broken
/// test model 0.91: two orders of magnitude of headroom for a real model's larger, sound error.
pub const MAX_NMSE: f64 = 0.04;

/// The most layers `KeepFloat::Auto` keeps float before it stops and says the model still
/// disagrees: past a handful, the trouble is rarely a few layers (calibration data, a model int8
/// does not suit), and each try quantizes and runs the model again.
pub const MAX_AUTO_KEEP_FLOAT: usize = 8;

/// Accuracy on labelled samples of the model read and the model written.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldOutAccuracy {
    pub before: f64,
    pub after: f64,
    pub samples: usize,
}

/// How far one output of the written model is from the original's.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputAgreement {
    pub name: String,
    /// "kl_divergence" or "nmse" (`runtime::metric::Comparison::metric_name`).
    pub metric: &'static str,
    pub value: f64,
    /// The KL divergence is per position (class scores at every position), not per sample.
    pub per_position: bool,
}

impl OutputAgreement {
    /// The largest value of this metric that still agrees.
    pub fn threshold(&self) -> f64 {
        if self.metric == "nmse" {
            MAX_NMSE
        } else if self.per_position {
            MAX_KL_PER_POSITION
        } else {
            MAX_KL_DIVERGENCE
        }
    }

    pub fn agrees(&self) -> bool {
        self.value <= self.threshold()
    }
}

/// The written model against the original on one set of samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The `.npz` read, or "generated" for seeded random inputs.
    pub source: String,
    pub samples: usize,
    /// Each output compared, in the model's output order.
    pub outputs: Vec<OutputAgreement>,
    /// The share of samples whose top class is the same in both, on the first output when it is
    /// a row of class scores per sample; of positions, when it holds class scores at every
    /// position.
    pub top1: Option<f64>,
    /// `top1` counts positions, not samples.
    pub per_position: bool,
    /// When the samples carry labels.
    pub accuracy: Option<HeldOutAccuracy>,
}

impl Check {
    pub fn agrees(&self) -> bool {
        self.outputs.iter().all(OutputAgreement::agrees)
            && self.judged_top1().is_none_or(|t| t >= self.min_top1())
    }

    /// The least top-1 agreement that agrees: per sample, or per position.
    pub fn min_top1(&self) -> f64 {
        if self.per_position {
            MIN_TOP1_PER_POSITION
        } else {
            MIN_TOP1_AGREEMENT
        }
    }

    /// Seeded random inputs, not the user's samples.
    pub fn generated(&self) -> bool {
        self.source == "generated"
    }

    /// Top-1 agreement where it says something about the model: on real samples only. On seeded
    /// random inputs a classifier's scores are near ties that int8 rounding reorders without
    /// harm (ddddocr's OCR model, whose int8 reads rendered text as well as float, keeps its top
    /// class on 91% of noise inputs), so there the output metric alone decides; the figure is
    /// still reported.
    pub fn judged_top1(&self) -> Option<f64> {
        self.top1.filter(|_| !self.generated())
    }
}

/// The graph outputs that hold class scores along their last axis, by what writes them: a
/// linear head (`Gemm`, `MatMul`, or the `Add` of its bias), seen through the shape-only
/// operators that keep the last axis (`Reshape`, `Squeeze`, `Unsqueeze`, `Identity`). A CTC
/// text reader's per-step logits are such an output; a detector's boxes or a feature map are
/// not, although their values cannot tell. (Probabilities, a softmax's output, need no graph:
/// `Comparison::of` knows them by their values.)
pub fn class_score_outputs(graph: &GraphProto) -> Vec<String> {
    let index = GraphIndex::new(graph);
    graph
        .output
        .iter()
        .filter(|output| {
            let mut value = output.name();
            // A bounded walk: shape-only chains are short, and a cycle must not hang.
            for _ in 0..16 {
                let Some(node) = index.producer(value) else {
                    return false;
                };
                match node.op_type() {
                    "Reshape" | "Squeeze" | "Unsqueeze" | "Identity" => {
                        let Some(input) = node.input.first() else {
                            return false;
                        };
                        value = input;
                    }
                    "Gemm" | "MatMul" => return true,
                    "Add" => {
                        return node.input.iter().any(|i| {
                            index
                                .producer(i)
                                .is_some_and(|p| matches!(p.op_type(), "MatMul" | "Gemm"))
                        });
                    }
                    _ => return false,
                }
            }
            false
        })
        .map(|output| output.name().to_string())
        .collect()
}

/// Runs `original` and `written` on `set` in batches of `batch` and compares their outputs;
/// `scores` names the outputs the graph says hold class scores along their last axis
/// (`class_score_outputs`), compared as distributions whatever their values look like.
pub fn check(
    original: &Path,
    written: &Path,
    set: &Dataset,
    batch: usize,
    scores: &[String],
    cancel: &Cancel,
) -> Result<Check> {
    let mut runs = Runs::of(original, written, set, batch, cancel)?;
    let mut comparisons: Vec<(String, Comparison, Accumulator, bool)> = Vec::new();
    let (mut same_top, mut rows_compared) = (0usize, 0usize);
    let (mut correct_before, mut correct_after) = (0usize, 0usize);
    let mut classifier = true;
    let mut start = 0usize;
    for b in set.batches(batch) {
        let n = b.size();
        let (reference, changed) = runs.next(&b)?;
        if comparisons.is_empty() {
            comparisons = reference
                .iter()
                .map(|(name, out)| {
                    let comparison = if scores.contains(name) {
                        Comparison::of_scores(out)
                    } else {
                        Comparison::of(out)
                    };
                    let per_position = comparison != Comparison::Nmse && out.ndim() > 2;
                    (
                        name.clone(),
                        comparison,
                        Accumulator::default(),
                        per_position,
                    )
                })
                .collect();
        }
        for (name, comparison, accumulator, _) in &mut comparisons {
            let (Some((_, r)), Some((_, c))) = (
                reference.iter().find(|(n, _)| n == name),
                changed.iter().find(|(n, _)| n == name),
            ) else {
                continue;
            };
            if r.shape() == c.shape() {
                accumulator.add(*comparison, r, c);
            }
        }
        let (Some((_, r)), Some((_, c))) = (reference.first(), changed.first()) else {
            continue;
        };
        let per_position = comparisons.first().is_some_and(|(_, _, _, p)| *p);
        // Class scores at every position: the top class compared position by position.
        if per_position {
            let (same, compared) = metric::same_top(r, c);
            classifier &= compared > 0;
            same_top += same;
            rows_compared += compared;
            start += n;
            continue;
        }
        // The first output as one row of class scores per sample, whatever its shape.
        let (r, c) = (rows(r, n), rows(c, n));
        classifier &= r.shape()[1] >= 2 && r.shape() == c.shape();
        same_top += tops(&r)
            .iter()
            .zip(tops(&c))
            .filter(|(a, b)| **a == *b)
            .count();
        rows_compared += r.shape()[0];
        if let Some(labels) = &set.labels {
            let labels = &labels[start.min(labels.len())..];
            correct_before += metric::correct(&r, labels);
            correct_after += metric::correct(&c, labels);
        }
        start += n;
    }
    let comparisons_per_position = comparisons.first().is_some_and(|(_, _, _, p)| *p);
    let share = |count: usize, of: usize| count as f64 / of.max(1) as f64;
    Ok(Check {
        source: set.source.clone(),
        samples: set.samples,
        outputs: comparisons
            .into_iter()
            .map(
                |(name, comparison, accumulator, per_position)| OutputAgreement {
                    name,
                    metric: comparison.metric_name(),
                    value: accumulator.value(),
                    per_position,
                },
            )
            .collect(),
        top1: (classifier && rows_compared > 0).then(|| share(same_top, rows_compared)),
        per_position: comparisons_per_position,
        accuracy: set.labels.as_ref().map(|_| HeldOutAccuracy {
            before: share(correct_before, set.samples),
            after: share(correct_after, set.samples),
            samples: set.samples,
        }),
    })
}

/// Models larger than this (their files) are checked in parts, of [`PART_BYTES`] of constants
/// each: a session of the whole model would hold all of its weights, more than writing it needed.
pub use crate::reconstruct::collect::{IN_PARTS_ABOVE_BYTES, PART_BYTES};

/// Each batch's outputs of the original and the written model, batch after batch.
enum Runs {
    /// Sessions of the two models, run on each batch as it comes.
    Sessions(ModelSession, ModelSession),
    /// Both models already run in parts (`reconstruct::collect::run_in_parts`) on every batch,
    /// one after the other: the outputs, in batch order.
    InParts(std::vec::IntoIter<(Outputs, Outputs)>),
}

type Outputs = Vec<(String, ArrayD<f32>)>;

impl Runs {
    fn of(
        original: &Path,
        written: &Path,
        set: &Dataset,
        batch: usize,
        cancel: &Cancel,
    ) -> Result<Runs> {
        let size = |path: &Path| {
            [path.to_path_buf(), crate::model::data_path(path)]
                .iter()
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum::<u64>()
        };
        if size(original).max(size(written)) <= IN_PARTS_ABOVE_BYTES {
            let options = SessionOptions::default();
            return Ok(Runs::Sessions(
                ModelSession::from_file(original, &options)?,
                ModelSession::from_file(written, &options)?,
            ));
        }
        let batches = set.batches(batch);
        let outputs = |path: &Path| -> Result<Vec<Outputs>> {
            let model = crate::load(path)?;
            run_in_parts(&model.proto, &batches, Given::default(), PART_BYTES, cancel)
        };
        let before = outputs(original)?;
        let after = outputs(written)?;
        Ok(Runs::InParts(
            before
                .into_iter()
                .zip(after)
                .collect::<Vec<_>>()
                .into_iter(),
        ))
    }

    fn next(&mut self, batch: &Batch) -> Result<(Outputs, Outputs)> {
        match self {
            Runs::Sessions(before, after) => {
                Ok((before.run(&batch.inputs)?, after.run(&batch.inputs)?))
            }
            Runs::InParts(outputs) => outputs.next().ok_or_else(|| {
                Error::Runtime(
                    "the model run in parts gave fewer batches than it was given.".into(),
                )
            }),
        }
    }
}

/// `values` as `samples` rows (the values of an output that is not one row per sample are cut
/// to whole rows).
fn rows(values: &ArrayD<f32>, samples: usize) -> ArrayD<f32> {
    let classes = (values.len() / samples.max(1)).max(1);
    let mut flat: Vec<f32> = values.iter().copied().collect();
    let n = flat.len() / classes;
    flat.truncate(n * classes);
    ArrayD::from_shape_vec(IxDyn(&[n, classes]), flat).expect("rows times classes values")
}

/// Each row's top class.
fn tops(rows: &ArrayD<f32>) -> Vec<usize> {
    rows.outer_iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i)
        })
        .collect()
}

/// How the written model compares with the original, and what was done about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// One per set of samples: the calibration samples (when quantized on samples other than
    /// `data`), `data` (when given), generated samples (when neither).
    pub checks: Vec<Check>,
    /// Why there are no checks: the samples or the runs failed (the model is written all the
    /// same).
    pub unchecked: Option<Error>,
    /// The layers the int8 sensitivity blames, worst first: measured when a quantized model
    /// disagrees or `KeepFloat::Auto` is asked.
    pub blame: Option<Blame>,
    /// Layers kept float at the request's asking (named, or found by `KeepFloat::Auto`).
    pub kept_float: Vec<String>,
    /// `KeepFloat::Auto` was asked.
    pub auto: bool,
    /// Whether the written model was quantized (the fix is then to keep layers float); else
    /// only pruned (the fix is fine-tuning).
    pub quantized: bool,
    /// The model had whole channels removed (a recipe cannot fine-tune it).
    pub channels_removed: bool,
}

impl Agreement {
    /// No check disagrees (also when none ran: see `unchecked`).
    pub fn agrees(&self) -> bool {
        self.checks.iter().all(Check::agrees)
    }

    /// Whether a check ran on real samples (the calibration data or `data`). Agreement on
    /// generated samples alone does not vouch for the written model: PP-OCRv4 calibrated on
    /// random inputs reads rendered text at 70% character error (float 0.4%), yet on those
    /// random inputs its outputs are as close to the original's as a sound int8 copy's.
    pub fn verified(&self) -> bool {
        self.checks.iter().any(|c| !c.generated())
    }

    /// The written model agrees, on real samples: what the front end may say plainly.
    pub fn vouched(&self) -> bool {
        self.unchecked.is_none() && self.verified() && self.agrees()
    }

    /// The first check that disagrees.
    pub fn failing(&self) -> Option<&Check> {
        self.checks.iter().find(|c| !c.agrees())
    }

    /// What the front end says first when the written model no longer agrees; `None` when it
    /// agrees.
    pub fn verdict(&self) -> Option<Sentence> {
        let check = self.failing()?;
        let mut figures: Vec<String> = Vec::new();
        if let Some(top1) = check.judged_top1().filter(|t| *t < check.min_top1()) {
            figures.push(format!(
                "the top class matches on {} of {} (at least {} agree)",
                crate::format::percent(top1),
                if check.per_position {
                    "positions"
                } else {
                    "samples"
                },
                crate::format::percent(check.min_top1())
            ));
        }
        for output in check.outputs.iter().filter(|o| !o.agrees()) {
            figures.push(format!(
                "output {} has {} {} (at most {} agrees)",
                output.name,
                output.metric.replace('_', " "),
                figure(output.value),
                figure(output.threshold())
            ));
        }
        let on = if check.source == "generated" {
            format!("{} generated samples", check.samples)
        } else {
            format!("{} samples of {}", check.samples, check.source)
        };
        let opening = if self.auto && !self.kept_float.is_empty() {
            format!(
                "The written model still does not agree with the original after keeping {} layer{} float (the most the automatic choice tries is {MAX_AUTO_KEEP_FLOAT}): ",
                self.kept_float.len(),
                if self.kept_float.len() == 1 { "" } else { "s" }
            )
        } else {
            "The written model no longer agrees with the original: ".to_string()
        };
        let sentence = Sentence::new(format!("{opening}{} on {on}.", figures.join("; ")));
        if !self.quantized && self.channels_removed {
            return Some(sentence.text(
                " Its channels were removed in one shot and it was not fine-tuned: fine-tune the smaller model (the plan file gives the same cut for the framework's model), or fit a smaller reduction.",
            ));
        }
        if !self.quantized {
            return Some(sentence.text(
                " It was pruned in one shot and not fine-tuned: fine-tune it with the optimization's recipe.",
            ));
        }
        let Some(blame) = self.blame.as_ref().filter(|b| !b.layers.is_empty()) else {
            return Some(
                sentence
                    .text(" Keep its most int8-sensitive layers float with ")
                    .set(Setting::KeepFloat, "auto")
                    .text("."),
            );
        };
        // The worst layer, and those within a tenth of it: the rest quantize well.
        let worst_value = blame.layers[0].value;
        let worst: Vec<String> = blame
            .layers
            .iter()
            .take(3)
            .filter(|l| l.value >= worst_value / 10.0)
            .map(|l| {
                format!(
                    "{} ({} {})",
                    l.name,
                    blame.metric.replace('_', " "),
                    figure(l.value)
                )
            })
            .collect();
        let source = match &blame.source {
            BlameSource::Profile(name) => format!("the loss profile '{name}'"),
            BlameSource::Measured { samples } => format!("measured on {samples} samples"),
        };
        if self.auto && !self.kept_float.is_empty() {
            // The automatic choice already kept the worst layers float: suggesting them again
            // would send the user round in a circle.
            return Some(
                sentence
                    .text(format!(
                        " The int8 sensitivity ({source}) blamed {}; the trouble is wider than a few layers: calibrate on more real samples, or name more layers to keep float with ",
                        worst.join(", ")
                    ))
                    .set(Setting::KeepFloat, "LAYER,LAYER,..")
                    .text("."),
            );
        }
        Some(
            sentence
                .text(format!(
                    " The int8 sensitivity ({source}) blames {}; keep the worst float with ",
                    worst.join(", ")
                ))
                .set(Setting::KeepFloat, &blame.layers[0].name)
                .text(" or ")
                .set(Setting::KeepFloat, "auto")
                .text("."),
        )
    }
}

/// A metric's value: small ones in scientific notation.
fn figure(value: f64) -> String {
    if value != 0.0 && value.abs() < 0.01 {
        format!("{value:.2e}")
    } else {
        format!("{value:.3}")
    }
}

//! The planned architecture, timed. A structured fit estimates the speedup from the perf
//! profile's layer times, assuming each layer's time shrinks with the channels it keeps. That
//! holds at batch 1 and less at larger batches, where ONNX Runtime's dense kernels already run
//! near their best and thinner layers keep more of their fixed cost (the ResNet-50-shaped bench
//! model at batch 8: 2.00× estimated, 1.63× measured). So after the fit, the model with the
//! planned channels removed is timed against the original in ONNX Runtime, at the perf
//! profile's batch and threads, and the plan carries the measurement beside the estimate.
//!
//! Before the fit, a thinner copy of the model (every group that can lose channels at half its
//! channels) is profiled the way the perf profile was ([`thinned_times`]): against the full
//! model's layer times it says how much of each layer's time shrinks with its channels, and the fit
//! estimates with that (`optimize::channels::ThinnedTimes`).
//!
//! Two sessions in one process disturb each other: after a run, a session's pool threads spin a
//! while waiting for more work, on the cores the other session's run needs. So each round runs one
//! model a few times in a row and times only the last runs (the ResNet-50-shaped bench model at
//! batch 1: 1.49× to 1.86× between alternating single runs, 1.63× in blocks; 1.68× with each model
//! in a process of its own).
//!
//! A plan that will be quantized (`optimize --quantize`) is timed quantized, all through: the
//! layer times it is fitted on, the thinner copy and the planned model. Integer kernels gain less
//! than float ones from thin layers (ONNX Runtime's int8 convolutions on the ResNet-50-shaped
//! bench model: 2× fewer MACs ran 1.69× faster in int8 against 1.8× in float, the thinnest early
//! layers the least), so a plan fitted on float times misjudges its int8 speed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use crate::ModelAnalysis;
use crate::error::Result;
use crate::model::Model;
use crate::model::onnx::ModelProto;
use crate::optimize::PruningPlan;
use crate::optimize::channels::{self, ThinnedTimes};
use crate::optimize::plan::MeasuredSpeedup;
use crate::percentile::median;
use crate::profile::{self, PerfOptions, PerfProfile};
use crate::progress::{Cancel, NoProgress};
use crate::quantize::QuantizeOptions;
use crate::runtime::{ModelSession, SessionOptions, to_value};
use crate::structured::{self, ChannelGroup, Criterion};

/// Timed rounds at least and at most, and the time budget between them: medians of alternating
/// rounds, so a busy machine slows both alike.
const MIN_ROUNDS: usize = 3;
const MAX_ROUNDS: usize = 12;
const BUDGET_SECONDS: f64 = 3.0;
/// Each model's runs per round: untimed ones while the other session's threads settle, then timed.
const SETTLE_RUNS: usize = 2;
const TIMED_RUNS: usize = 3;

/// The share of each group's channels the thinner model of [`thinned_times`] removes.
const THINNED_FRACTION: f64 = 0.5;
/// Rounds of the thinner model's and the full model's profiles at most.
const THINNED_ROUNDS: usize = 3;

/// The form a plan that quantizes is timed in: its quantization, and the original quantized that
/// way once, in memory.
pub struct QuantizedForm {
    pub options: QuantizeOptions,
    pub model: Model,
    pub analysis: ModelAnalysis,
}

impl QuantizedForm {
    pub fn new(
        model: &Model,
        analysis: &ModelAnalysis,
        options: QuantizeOptions,
        cancel: &Cancel,
    ) -> Result<QuantizedForm> {
        let (model, analysis) = quantized(model, analysis, &options, cancel)?;
        Ok(QuantizedForm {
            options,
            model,
            analysis,
        })
    }
}

/// `model` quantized in memory as `options` asks, with its analysis. Calibrated on a few
/// generated samples, as the benchmark's int8 models are: the integer kernels' speed does not
/// depend on the ranges.
fn quantized(
    model: &Model,
    analysis: &ModelAnalysis,
    options: &QuantizeOptions,
    cancel: &Cancel,
) -> Result<(Model, ModelAnalysis)> {
    let options = QuantizeOptions {
        samples: Some(super::benchmark::calibration_samples(analysis)),
        data: None,
        ..options.clone()
    };
    let quantized = crate::quantize::quantize(model, analysis, &options, &NoProgress, cancel)?;
    // In memory only: without a path the profile runs the proto, not the float file.
    let model = Model {
        path: PathBuf::new(),
        proto: quantized.proto,
        file_bytes: model.file_bytes,
    };
    let analysis = crate::analyze(&model, &structured::remove::sizes_of(analysis))?;
    Ok((model, analysis))
}

/// The options `perf` was measured with, for profiles that must compare with it.
fn options_of(perf: &PerfProfile) -> PerfOptions {
    PerfOptions {
        batch: perf.model.batch.max(1),
        threads: perf.model.threads,
        warmup: perf.model.warmup.max(1),
        iterations: perf.model.iterations.max(1),
        seed: 0,
    }
}

/// The perf profile of `model`, measured now as `perf` was.
pub fn profile_like(
    model: &Model,
    analysis: &ModelAnalysis,
    perf: &PerfProfile,
    cancel: &Cancel,
) -> Result<PerfProfile> {
    profile::perf::measure(model, analysis, &options_of(perf), &NoProgress, cancel)
}

/// Layer times of a copy of `model` with [`THINNED_FRACTION`] of every group that can lose
/// channels removed (by weight norm, in the group's alignment), and of `model` itself right
/// after, both profiled like `perf`; both quantized where the plan will be (`form`).
pub fn thinned_times(
    model: &Model,
    analysis: &ModelAnalysis,
    groups: &[ChannelGroup],
    perf: &PerfProfile,
    form: Option<&QuantizedForm>,
    cancel: &Cancel,
) -> Result<ThinnedTimes> {
    let mut fractions = vec![0.0; groups.len()];
    let mut thin: Vec<&ChannelGroup> = Vec::new();
    let mut keep = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let align = channels::alignment(group.channels);
        let removed =
            (group.channels as f64 * THINNED_FRACTION / align as f64).floor() as usize * align;
        if group.unprunable.is_some() || removed == 0 || removed >= group.channels {
            continue;
        }
        let fraction = removed as f64 / group.channels as f64;
        let scores = structured::weight_scores(model, group, Criterion::L2)?;
        keep.push(structured::keep_highest(group, &scores, fraction)?);
        thin.push(group);
        fractions[g] = fraction;
    }
    let thin_groups: Vec<ChannelGroup> = thin.into_iter().cloned().collect();
    let mut thinned = model.clone();
    let (_, thinned_analysis) =
        structured::remove_channels(&mut thinned, analysis, &thin_groups, &keep)?;
    // The copy exists only in memory: without a path the profile runs it, not the file.
    thinned.path = PathBuf::new();
    let thinned_form = match form {
        Some(form) => Some(quantized(
            &thinned,
            &thinned_analysis,
            &form.options,
            cancel,
        )?),
        None => None,
    };
    let ((thinned, thinned_analysis), (model, analysis)) = match (&thinned_form, form) {
        (Some((t, ta)), Some(form)) => ((t, ta), (&form.model, &form.analysis)),
        _ => ((&thinned, &thinned_analysis), (model, analysis)),
    };
    let options = options_of(perf);
    // The full model again, right after: the fit reads each layer's ratio of the two times. In
    // alternating rounds (as many as the time budget allows, at most THINNED_ROUNDS), each
    // layer's median ratio: one pair of profiles of a small model moved the digits CNN's
    // estimate at batch 1024 from 1.32× to 1.45× between runs.
    let mut ratios: HashMap<String, Vec<f64>> = HashMap::new();
    let mut full_ms: HashMap<String, Vec<f64>> = HashMap::new();
    let started = Instant::now();
    for round in 0..THINNED_ROUNDS {
        if round > 0
            && started.elapsed().as_secs_f64() * (round + 1) as f64 / round as f64 > BUDGET_SECONDS
        {
            break;
        }
        let thin =
            profile::perf::measure(thinned, thinned_analysis, &options, &NoProgress, cancel)?;
        let full = profile::perf::measure(model, analysis, &options, &NoProgress, cancel)?;
        let full_of: HashMap<&str, f64> = full
            .layers
            .iter()
            .filter_map(|l| Some((l.name.as_str(), l.ms?)))
            .collect();
        for layer in &thin.layers {
            let (Some(ms), Some(&full)) = (layer.ms, full_of.get(layer.name.as_str())) else {
                continue;
            };
            if full > 0.0 {
                ratios
                    .entry(layer.name.clone())
                    .or_default()
                    .push(ms / full);
                full_ms.entry(layer.name.clone()).or_default().push(full);
            }
        }
    }
    let ms = ratios
        .into_iter()
        .map(|(name, r)| {
            let full = median(full_ms.remove(&name).unwrap_or_default());
            (name, (median(r) * full, full))
        })
        .collect();
    Ok(ThinnedTimes { fractions, ms })
}

/// The measured speedup of `plan`'s architecture over `model` at `perf`'s batch and threads,
/// both quantized where the plan will be (`form`; then the quantized planned model over the
/// float original too). The channels removed are chosen by weight norm: which channels go does not
/// change the time.
pub fn measure(
    model: &Model,
    analysis: &ModelAnalysis,
    plan: &PruningPlan,
    perf: &PerfProfile,
    form: Option<&QuantizedForm>,
) -> Result<MeasuredSpeedup> {
    let cancel = Cancel::default();
    let (pruned, pruned_analysis, _) =
        super::channels::prune_to_plan(model, analysis, plan, None, &NoProgress, &cancel)?;
    let batch = perf.model.batch.max(1);
    let threads = perf.model.threads;
    let (speedup, over_float) = match form {
        None => {
            let [dense, pruned] =
                median_times([&model.proto, &pruned.proto], analysis, batch, threads)?;
            (dense / pruned, None)
        }
        Some(form) => {
            let (pruned_q, _) = quantized(&pruned, &pruned_analysis, &form.options, &cancel)?;
            let [float, dense, pruned] = median_times(
                [&model.proto, &form.model.proto, &pruned_q.proto],
                analysis,
                batch,
                threads,
            )?;
            (dense / pruned, Some(float / pruned))
        }
    };
    Ok(MeasuredSpeedup {
        speedup,
        batch,
        threads,
        over_float,
    })
}

/// Each model's median time per run, rounds alternating, each model run in a block per round
/// (see the module doc). The models share `analysis`'s inputs.
fn median_times<const N: usize>(
    models: [&ModelProto; N],
    analysis: &ModelAnalysis,
    batch: usize,
    threads: Option<usize>,
) -> Result<[f64; N]> {
    let options = SessionOptions { threads };
    let mut sessions = models
        .iter()
        .map(|m| ModelSession::from_proto(m, &options))
        .collect::<Result<Vec<_>>>()?;
    let inputs = crate::benchmark::inputs_at(analysis, batch, 0)?
        .iter()
        .map(|(n, a)| Ok((n.clone(), to_value(a)?)))
        .collect::<Result<Vec<_>>>()?;
    for session in sessions.iter_mut() {
        session.run_values(&inputs)?;
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); N];
    let started = Instant::now();
    let rounds = |t: &Vec<f64>| t.len() / TIMED_RUNS;
    while rounds(&times[0]) < MIN_ROUNDS
        || rounds(&times[0]) < MAX_ROUNDS && started.elapsed().as_secs_f64() < BUDGET_SECONDS
    {
        for (session, t) in sessions.iter_mut().zip(times.iter_mut()) {
            for i in 0..SETTLE_RUNS + TIMED_RUNS {
                let run = Instant::now();
                session.run_values(&inputs)?;
                if i >= SETTLE_RUNS {
                    t.push(run.elapsed().as_secs_f64());
                }
            }
        }
    }
    Ok(std::array::from_fn(|i| {
        median(std::mem::take(&mut times[i])).max(f64::MIN_POSITIVE)
    }))
}

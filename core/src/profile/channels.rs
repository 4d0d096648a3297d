//! The channel loss profile: each channel dependency group pruned alone to each fraction of its
//! channels (the least important first), the smaller model run on the samples, its outputs
//! compared with the original's by the same metric as the one-shot profile.
//!
//! Unlike the unstructured one-shot profile, removing channels changes the shapes of the
//! activations, so each (group, fraction) runs the whole pruned model rather than a cut of it.
//! Saved as a loss profile whose "layers" are the groups (named after their first producing
//! layer) and whose levels are fractions of channels removed, so the charts and tables of loss
//! profiles show it as they are.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use ndarray::ArrayD;

use super::levels;
use super::loss::{DataInfo, LossMethod, LossProfile, RawLayer, Skipped, Structure};
use crate::error::{Error, Result, Sentence, Setting};
use crate::progress::{Cancel, Progress};
use crate::reconstruct::collect::run_all;
use crate::runtime::SessionOptions;
use crate::runtime::batch::{analysis_batch, dataset};
use crate::runtime::metric::Reference;
use crate::structured::{self, ChannelGroup};
use crate::{Model, ModelAnalysis};

/// The fractions of a group's channels removed, by default.
pub const CHANNEL_LEVELS: &[f64] = &[0.1, 0.25, 0.5, 0.75, 0.9];

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelOptions {
    /// Fractions of each group's channels to remove, in (0, 1).
    pub levels: Vec<f64>,
    /// A `.npz` of samples (arrays named after the inputs, optional `labels`); seeded random
    /// inputs without it.
    pub data: Option<PathBuf>,
    pub samples: Option<usize>,
    pub batch: Option<usize>,
    pub threads: Option<usize>,
    pub seed: u64,
}

pub fn profile(
    model: &Model,
    analysis: &ModelAnalysis,
    options: &ChannelOptions,
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
    let groups = structured::channel_groups(model, analysis)?;
    let mut skipped: Vec<Skipped> = groups
        .iter()
        .filter_map(|g| {
            Some(Skipped {
                name: g.name.clone(),
                reason: g.unprunable.clone()?,
            })
        })
        .collect();
    let prunable: Vec<&ChannelGroup> = groups
        .iter()
        .filter(|g| g.unprunable.is_none() && g.channels >= 2)
        .collect();
    if prunable.is_empty() {
        return Err(Error::Usage(format!(
            "no channel group of {} can lose channels{}.",
            model.path.display(),
            skipped
                .first()
                .map(|s| format!(" ({}: {})", s.name, s.reason))
                .unwrap_or_default()
        )));
    }
    let (data, batch) = dataset(
        analysis,
        options.data.as_deref(),
        options.samples,
        analysis_batch(analysis),
        options.batch,
        options.seed,
    )?;
    let batches = data.batches(batch);
    let session_options = SessionOptions {
        threads: options.threads,
    };
    let total = (prunable.len() * options.levels.len() + 1) as u64;
    progress.report(0, total, "baseline run");
    let baseline = run_all(&model.proto, &batches, &session_options, cancel)?;
    let names: Vec<String> = model
        .graph()
        .output
        .iter()
        .map(|o| o.name().to_string())
        .collect();
    let labels = batches.iter().map(|b| b.labels.as_deref()).collect();
    let reference = Reference::new(&names, baseline, labels, data.samples);

    let scores = structured::choose::scores(
        model,
        analysis,
        &prunable,
        options.data.is_some().then_some((&data, batch)),
        progress,
        cancel,
    )?;
    let mut raw = Vec::new();
    let mut step = 1;
    for (group, scores) in prunable.iter().zip(&scores) {
        let mut values = Vec::with_capacity(options.levels.len());
        let mut accuracy = Vec::with_capacity(options.levels.len());
        for &level in &options.levels {
            cancel.check()?;
            progress.report(step, total, &format!("{} at {level}", group.name));
            step += 1;
            let keep = structured::choose::keep_highest(group, scores, level)?;
            let mut pruned = model.clone();
            structured::remove_channels(&mut pruned, analysis, &groups, &[keep])?;
            let outputs = run_all(&pruned.proto, &batches, &session_options, cancel)?;
            let (value, correct) = compare(&reference, &outputs);
            values.push(value);
            accuracy.push(correct.unwrap_or(0.0));
        }
        raw.push(RawLayer {
            name: group.name.clone(),
            weight: group.producers.first().cloned().unwrap_or_default(),
            op_type: "channels".into(),
            values,
            accuracy: reference.accuracy().map(|_| accuracy),
        });
    }
    progress.report(total, total, "done");
    skipped.extend(
        groups
            .iter()
            .filter(|g| g.unprunable.is_none() && g.channels < 2)
            .map(|g| Skipped {
                name: g.name.clone(),
                reason: "it has a single channel".into(),
            }),
    );
    let mut profile = LossProfile::summarize(
        LossMethod::OneShot,
        &reference.metric_names(),
        options.levels.clone(),
        raw,
    );
    profile.structure = Some(Structure::Channel);
    profile.skipped = skipped;
    profile.model.baseline_accuracy = reference.accuracy();
    profile.data = Some(DataInfo {
        source: data.source.clone(),
        samples: data.samples,
        batch,
        has_labels: data.labels.is_some(),
        seed: options.data.is_none().then_some(options.seed),
    });
    profile.seconds = started.elapsed().as_secs_f64();
    profile.notes.push(format!(
        "Each of {} channel groups lost each fraction of its channels alone, the least important first ({}), and the smaller model ran on {} {} sample{}; values are the {} of the outputs from the original model's.",
        prunable.len(),
        structured::choose::words(options.data.is_some()),
        data.samples,
        if options.data.is_some() { "given" } else { "generated" },
        if data.samples == 1 { "" } else { "s" },
        reference.metric_names().replace('+', " plus ").replace('_', " ")
    ));
    Ok(profile)
}

type Outputs = Vec<HashMap<String, ArrayD<f32>>>;

/// A changed model's outputs against the reference: the summed comparison, and the accuracy.
fn compare(reference: &Reference, outputs: &Outputs) -> (f64, Option<f64>) {
    let mut tally = reference.tally();
    for (b, batch) in outputs.iter().enumerate() {
        for (name, values) in batch {
            tally.add(b, name, values);
        }
    }
    tally.finish()
}

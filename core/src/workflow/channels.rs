//! Structured pruning's fit: `optimize` with a channel target. The channel groups come from the
//! model, the loss per group from the latest (or named) channel loss profile, the layer times
//! from the latest measured perf profile (FLOPs without one).

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::ModelAnalysis;
use crate::error::Setting;
use crate::error::{Action, Error, Result, Sentence};
use crate::model::Model;
use crate::model::onnx::ModelProto;
use crate::optimize::PruningPlan;
use crate::optimize::channel_plan::{self, ChannelFitInputs};
use crate::optimize::channels::Target;
use crate::profile::{LossProfile, PerfKind, PerfProfile};
use crate::progress::{Cancel, Progress};
use crate::project::ProjectFile;
use crate::quantize::QuantizeOptions;
use crate::reconstruct::{Method, Pattern};
use crate::runtime::{DataInfo, Dataset};
use crate::structured::repair::{RepairOptions, Repaired};
use crate::structured::{self, ChannelGroup, Keep, Removal};

use super::channel_timing;
use super::export::{Pruning, PruningRequest, calibration_set};
use super::fit::{OptimizeRequest, perf_profile, quantization_plan, schedule_of};

/// The channel loss profile to fit with: the named one, else the latest.
pub fn channel_loss_profile(
    project: &ProjectFile,
    name: Option<&str>,
) -> Result<(String, LossProfile)> {
    match name {
        Some(name) => match project.loss_profiles.get(name) {
            Some(p) if p.structure.is_some() => Ok((name.to_string(), p.clone())),
            Some(_) => Err(Sentence::new(format!(
                "the loss profile '{name}' measures layers, not channel groups; run "
            ))
            .action(Action::ChannelProfile)
            .text(" and fit with that.")
            .into()),
            None => Err(
                Sentence::new(format!("there is no loss profile '{name}'; run "))
                    .action(Action::ChannelProfile)
                    .text(" first.")
                    .into(),
            ),
        },
        None => project
            .latest_channel_profile()
            .map(|(n, p)| (n.to_string(), p.clone()))
            .ok_or_else(|| {
                Sentence::new(
                    "a channel fit needs to know how each channel group's loss grows; run ",
                )
                .action(Action::ChannelProfile)
                .text(" first.")
                .into()
            }),
    }
}

/// Fits the channels removed per group to `target` (see the module doc).
pub fn fit(
    project: &ProjectFile,
    analysis: &ModelAnalysis,
    request: &OptimizeRequest,
    target: Target,
) -> Result<PruningPlan> {
    let earlier = project.optimizations.get(&request.name);
    let earlier_perf = earlier.map(|p| p.perf.as_str());
    let earlier_loss = earlier
        .filter(|p| p.channels.is_some())
        .map(|p| p.loss.as_str());
    let (perf_name, perf) =
        perf_profile(project, analysis, request.perf.as_deref().or(earlier_perf))?;
    let (loss_name, loss) =
        channel_loss_profile(project, request.loss.as_deref().or(earlier_loss))?;
    let model = crate::load(&analysis.path)?;
    let groups = structured::channel_groups(&model, analysis)?;
    if groups.is_empty() {
        return Err(Error::Usage(format!(
            "{} has no channel groups (no convolution, Gemm or MatMul computes channels that another reads); there is nothing to remove.",
            analysis.path.display()
        )));
    }
    let cancel = Cancel::default();
    let measured = perf.kind == PerfKind::Measured;
    let schedule = schedule_of(&request.settings);
    let quantization = quantization_plan(
        &request.quantization,
        project,
        earlier,
        &loss_name,
        &schedule,
    )?;
    // A plan to be quantized is fitted on the quantized model's layer times, measured now as the
    // perf profile was (see `channel_timing`).
    let form = match quantization.as_ref().filter(|_| measured) {
        Some(q) => Some(channel_timing::QuantizedForm::new(
            &model,
            analysis,
            QuantizeOptions::from_plan(q, None, 0),
            &cancel,
        )?),
        None => None,
    };
    let perf = match &form {
        Some(form) => channel_timing::profile_like(&form.model, &form.analysis, &perf, &cancel)?,
        None => perf,
    };
    // How much of each layer's time shrinks with its channels, measured on a thinner copy. A
    // model the probe cannot thin or run is fitted as if all of it did, and the plan says so.
    let mut probe_note = None;
    let thinned = measured
        .then(|| {
            channel_timing::thinned_times(
                &model,
                analysis,
                &groups,
                &perf,
                form.as_ref(),
                &cancel,
            )
            .map_err(|err| {
                probe_note = Some(format!(
                    "A copy with half of each group's channels removed could not be timed ({}), so the estimate assumes each layer's time shrinks in proportion to its channels.",
                    err.to_string().trim_end_matches('.')
                ))
            })
            .ok()
        })
        .flatten();
    let inputs = ChannelFitInputs {
        analysis,
        graph: model.graph(),
        groups: &groups,
        perf: &perf,
        perf_name: &perf_name,
        loss: &loss,
        loss_name: &loss_name,
        thinned: thinned.as_ref(),
        timed_as: form.as_ref().map(|f| f.options.mode),
    };
    let mut plan = channel_plan::plan(&inputs, target, schedule)?;
    plan.notes.extend(probe_note);
    if measured {
        plan = timed(&model, analysis, &perf, plan, target, form.as_ref())?;
    }
    plan.quantization = quantization;
    Ok(plan)
}

/// `plan` with its architecture timed (see `channel_timing`), and a note that compares the
/// measurement with the estimate and the target. The fit is not redone on the measurement: on a
/// busy machine or a model of microseconds the timing is noisy, and a refit chasing it could
/// remove far more channels than asked; the note says what target would reach the goal.
fn timed(
    model: &Model,
    analysis: &ModelAnalysis,
    perf: &PerfProfile,
    mut plan: PruningPlan,
    target: Target,
    form: Option<&channel_timing::QuantizedForm>,
) -> Result<PruningPlan> {
    let measured = channel_timing::measure(model, analysis, &plan, perf, form)?;
    let estimated = plan.model.estimated_speedup;
    let threads = measured
        .threads
        .map_or("all".to_string(), |t| t.to_string());
    let quantized = form.map_or(String::new(), |f| format!(" in {}", f.options.mode.words()));
    let mut note = format!(
        "Timed in ONNX Runtime{quantized}, the planned model runs {} than the original{quantized} at batch {}, {threads} threads{}{}.",
        crate::format::faster(measured.speedup),
        measured.batch,
        estimated.map_or(String::new(), |e| format!(
            " (the layer times estimated {e:.2}×)"
        )),
        measured.over_float.map_or(String::new(), |x| format!(
            "; {} than the float original",
            crate::format::faster(x)
        )),
    );
    if let (Target::Speedup(goal), Some(e)) = (target, estimated)
        && measured.speedup < goal
    {
        note.push_str(&format!(
            " That is short of {goal}×: the estimate runs ahead of the measurement at this batch, so a speedup target of about {:.2} would reach it.",
            goal * e / measured.speedup.max(1e-6)
        ));
    }
    plan.notes.push(note);
    if let Some(channels) = plan.channels.as_mut() {
        channels.measured = Some(measured);
    }
    Ok(plan)
}

/// What removing a structured plan's channels did.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelPruning {
    pub removal: Removal,
    /// The channels kept of each group that lost some.
    pub keep: Vec<Keep>,
    /// How the channels to remove were chosen, in words.
    pub importance: &'static str,
    /// The samples importance and repair read; `None`: weights only, no repair.
    pub data: Option<DataInfo>,
    /// Repair on the samples: the consumers refit, the BatchNormalization statistics
    /// re-estimated.
    pub repaired: Option<Repaired>,
    pub seconds: f64,
}

/// The channels `plan` keeps, chosen by importance: from the consumers' inputs on the samples
/// (`data`), else from the weights.
pub fn kept_channels(
    model: &Model,
    analysis: &ModelAnalysis,
    plan: &PruningPlan,
    data: Option<(&Dataset, usize)>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(Vec<ChannelGroup>, Vec<Keep>)> {
    let Some(channels) = &plan.channels else {
        return Err(Error::Usage(
            "the optimization prunes single weights, not channels; fit one with the channel structure first.".into(),
        ));
    };
    let groups = structured::channel_groups(model, analysis)?;
    let mut pruned: Vec<(&ChannelGroup, usize)> = Vec::new();
    for planned in channels.groups.iter().filter(|g| g.kept < g.channels) {
        let group = groups
            .iter()
            .find(|g| g.name == planned.name && g.channels == planned.channels)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "the plan removes channels of group {} ({} channels), which this model no longer has; fit the optimization again.",
                    planned.name, planned.channels
                ))
            })?;
        pruned.push((group, planned.kept));
    }
    let chosen: Vec<&ChannelGroup> = pruned.iter().map(|(g, _)| *g).collect();
    let scores = structured::choose::scores(model, analysis, &chosen, data, progress, cancel)?;
    let keep = pruned
        .iter()
        .zip(&scores)
        .map(|((group, kept), scores)| {
            let fraction = (group.channels - kept) as f64 / group.channels as f64;
            structured::choose::keep_highest(group, scores, fraction)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((groups, keep))
}

/// `model` with the channels `plan` removes taken out (the least important of each group), with
/// its analysis.
pub fn prune_to_plan(
    model: &Model,
    analysis: &ModelAnalysis,
    plan: &PruningPlan,
    data: Option<(&Dataset, usize)>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(Model, ModelAnalysis, ChannelPruning)> {
    let started = Instant::now();
    let (groups, keep) = kept_channels(model, analysis, plan, data, progress, cancel)?;
    let mut pruned = model.clone();
    let (removal, pruned_analysis) =
        structured::remove_channels(&mut pruned, analysis, &groups, &keep)?;
    let repaired = match data {
        Some((set, batch)) => Some(structured::repair::repair(
            model,
            analysis,
            &mut pruned,
            &groups,
            &keep,
            set,
            &RepairOptions {
                batch,
                ..RepairOptions::default()
            },
            progress,
            cancel,
        )?),
        None => None,
    };
    let info = data.map(|(set, batch)| DataInfo {
        source: set.source.clone(),
        samples: set.samples,
        batch,
        has_labels: set.labels.is_some(),
        seed: None,
    });
    Ok((
        pruned,
        pruned_analysis,
        ChannelPruning {
            removal,
            keep,
            importance: structured::choose::words(data.is_some()),
            data: info,
            repaired,
            seconds: started.elapsed().as_secs_f64(),
        },
    ))
}

/// The pruning step of `export model` for a structured plan: the least important channels of
/// each group removed (chosen on the calibration samples when there are any, else from the
/// weights).
pub fn export_pruning(
    model: &Model,
    analysis: &ModelAnalysis,
    plan: &PruningPlan,
    request: &PruningRequest,
    samples: Option<&PathBuf>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<(ModelProto, Pruning)> {
    if request.method.is_some() || request.pattern != Pattern::Unstructured {
        return Err(Sentence::default()
            .setting(Setting::Method)
            .text(" and ")
            .setting(Setting::Pattern)
            .text(" choose how single weights are pruned; this optimization removes whole channels, so drop them.")
            .into());
    }
    let set = samples
        .map(|path| calibration_set(analysis, path, request.samples))
        .transpose()?;
    let (pruned, _, channels) = prune_to_plan(
        model,
        analysis,
        plan,
        set.as_ref().map(|(s, b)| (s, *b)),
        progress,
        cancel,
    )?;
    Ok((
        pruned.proto,
        Pruning {
            method: Method::Magnitude,
            method_chosen: true,
            pattern: Pattern::Unstructured,
            layers: Vec::new(),
            data: channels.data.clone(),
            seconds: channels.seconds,
            flops: 0.0,
            peak_bytes: 0,
            channels: Some(channels),
        },
    ))
}

/// `export plan`: the channels a structured optimization keeps, per group, with every tensor
/// slice that loses the others, as JSON a framework script can apply to its own model.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanExport {
    pub path: PathBuf,
    /// The optimization; the latest when `None`.
    pub optimization: Option<String>,
    /// Samples that choose the channels (as `export model` would with the same samples).
    pub data: Option<PathBuf>,
    pub samples: Option<usize>,
}

/// A plan file written.
#[derive(Debug, Clone)]
pub struct PlanWritten {
    pub path: PathBuf,
    pub optimization: String,
    pub groups: usize,
    pub channels_removed: usize,
    pub importance: &'static str,
    pub moved_aside: Vec<PathBuf>,
}

/// Writes the plan file `request` asks for (see `PlanExport`).
pub fn export_plan(
    model_path: &Path,
    analysis: &ModelAnalysis,
    request: &PlanExport,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<PlanWritten> {
    let mut moved_aside = Vec::new();
    let project = super::read_project(model_path, &mut moved_aside)?;
    let plan = super::export::chosen_optimization(&project, request.optimization.as_deref())?;
    let name = request
        .optimization
        .clone()
        .or(project.latest_optimization.clone())
        .unwrap_or_default();
    let model = crate::load(model_path)?;
    let set = request
        .data
        .as_deref()
        .map(|path| calibration_set(analysis, path, request.samples))
        .transpose()?;
    let data = set.as_ref().map(|(s, b)| (s, *b));
    let (groups, keep) = kept_channels(&model, analysis, plan, data, progress, cancel)?;
    let mut removed_total = 0;
    let entries: Vec<serde_json::Value> = keep
        .iter()
        .filter_map(|k| {
            let group = groups.iter().find(|g| g.name == k.group)?;
            let removed: Vec<usize> = (0..group.channels)
                .filter(|c| k.channels.binary_search(c).is_err())
                .collect();
            removed_total += removed.len();
            Some(serde_json::json!({
                "name": group.name,
                "channels": group.channels,
                "kept": k.channels,
                "removed": removed,
                "producers": group.producers,
                "consumers": group.consumers,
                "tensors": group.slices,
                "edits": group.edits,
            }))
        })
        .collect();
    let unprunable: Vec<serde_json::Value> = groups
        .iter()
        .filter_map(|g| Some(serde_json::json!({"name": g.name, "reason": g.unprunable.as_ref()?})))
        .collect();
    let importance = structured::choose::words(data.is_some());
    let document = serde_json::json!({
        "model": model_path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "optimization": name,
        "structure": "channel",
        "importance": importance,
        "index_base": 0,
        "groups": entries,
        "unprunable": unprunable,
    });
    super::make_parent(&request.path)?;
    let mut text = serde_json::to_string_pretty(&document).expect("plans serialize");
    text.push('\n');
    crate::atomic_file::write(&request.path, text.as_bytes())?;
    Ok(PlanWritten {
        path: request.path.clone(),
        optimization: name,
        groups: entries.len(),
        channels_removed: removed_total,
        importance,
        moved_aside,
    })
}

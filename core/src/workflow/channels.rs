//! Structured pruning's fit: `optimize` with a channel target. The channel groups come from the
//! model, the loss per group from the latest (or named) channel loss profile, the layer times
//! from the latest measured perf profile (FLOPs without one).

use crate::ModelAnalysis;
use crate::error::{Action, Error, Result, Sentence};
use crate::optimize::PruningPlan;
use crate::optimize::channel_plan::{self, ChannelFitInputs};
use crate::optimize::channels::Target;
use crate::profile::LossProfile;
use crate::project::ProjectFile;
use crate::structured;

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
            None => Err(Sentence::new(format!("there is no loss profile '{name}'; run "))
                .action(Action::ChannelProfile)
                .text(" first.")
                .into()),
        },
        None => project
            .latest_channel_profile()
            .map(|(n, p)| (n.to_string(), p.clone()))
            .ok_or_else(|| {
                Sentence::new("a channel fit needs to know how each channel group's loss grows; run ")
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
    let inputs = ChannelFitInputs {
        analysis,
        graph: model.graph(),
        groups: &groups,
        perf: &perf,
        perf_name: &perf_name,
        loss: &loss,
        loss_name: &loss_name,
    };
    let mut plan = channel_plan::plan(&inputs, target, schedule_of(&request.settings))?;
    plan.quantization = quantization_plan(&request.quantization, project, earlier, &plan)?;
    Ok(plan)
}

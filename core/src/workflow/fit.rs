//! Fitting an optimization (`optimize`) and pinning layers of one (`override`): which profiles a
//! fit uses, what a re-run keeps of the earlier run, and which quantization the plan carries.

use std::path::{Path, PathBuf};

use crate::ModelAnalysis;
use crate::error::{Action, Error, Result, Sentence, Setting};
use crate::optimize::channels::Target;
use crate::optimize::{self, OptimizeOptions, Override, PruningPlan, Schedule};
use crate::profile::{self, LossProfile, PerfProfile};
use crate::project::{ProjectFile, Settings};
use crate::quantize::{Calibration, QuantMode, QuantizationPlan};

/// The performance profile that is not saved: FLOPs counted from the analysis.
pub const FLOPS_PROFILE: &str = "flops";
/// The loss profile that is not saved: the approximation from the analysis.
pub const APPROX_PROFILE: &str = "approx";

/// The performance profile to fit with: the named one, "flops", or by default the latest measured
/// one (FLOPs when no measured profile was saved last).
pub fn perf_profile(
    project: &ProjectFile,
    analysis: &ModelAnalysis,
    name: Option<&str>,
) -> Result<(String, PerfProfile)> {
    let flops = || {
        (
            FLOPS_PROFILE.to_string(),
            profile::perf::flops_only(analysis),
        )
    };
    match name {
        Some(FLOPS_PROFILE) => Ok(flops()),
        Some(name) => project
            .perf_profiles
            .get(name)
            .map(|p| (name.to_string(), p.clone()))
            .ok_or_else(|| {
                missing(
                    "performance",
                    name,
                    project.perf_profiles.keys(),
                    FLOPS_PROFILE,
                )
            }),
        None => Ok(project
            .latest_measured_perf_profile()
            .map_or_else(flops, |(name, p)| (name.to_string(), p.clone()))),
    }
}

/// The loss profile to fit with: the named one, "approx", or by default the latest one.
pub fn loss_profile(
    project: &ProjectFile,
    analysis: &ModelAnalysis,
    name: Option<&str>,
) -> Result<(String, LossProfile)> {
    let approx = || {
        (
            APPROX_PROFILE.to_string(),
            profile::approx::profile(analysis),
        )
    };
    match name {
        Some(APPROX_PROFILE) => Ok(approx()),
        Some(name) => match project.loss_profiles.get(name) {
            Some(p) if p.structure.is_some() => Err(Error::Usage(format!(
                "the loss profile '{name}' measures channel groups, not layers; use it in a structured fit (a speedup or FLOPs-reduction target), or name a profile of layers."
            ))),
            Some(p) => Ok((name.to_string(), p.clone())),
            None => Err(missing(
                "loss",
                name,
                project.loss_profiles.keys(),
                APPROX_PROFILE,
            )),
        },
        None => Ok(project
            .latest_loss_profile()
            .map_or_else(approx, |(name, p)| (name.to_string(), p.clone()))),
    }
}

fn missing<'a>(
    kind: &str,
    name: &str,
    have: impl Iterator<Item = &'a String>,
    virtual_name: &str,
) -> Error {
    let mut names: Vec<&str> = have.map(String::as_str).collect();
    names.push(virtual_name);
    Sentence::new(format!(
        "there is no {kind} profile '{name}'; the choices are {} (run ",
        names.join(", ")
    ))
    .action(Action::ListProfiles)
    .text(").")
    .into()
}

/// The training schedule the project's settings give.
pub fn schedule_of(settings: &Settings) -> Schedule {
    optimize::schedule(
        &settings.optimizer,
        settings
            .epochs
            .unwrap_or(optimize::schedule::DEFAULT_EPOCHS),
        settings.init_lr,
        settings.final_lr,
    )
}

/// What a request says of quantization.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum QuantizeChoice {
    /// Nothing said: what the earlier run (or optimization) asked for.
    #[default]
    Keep,
    Off,
    Mode(QuantMode),
}

/// The quantization part of an `optimize` request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuantizationRequest {
    pub choice: QuantizeChoice,
    /// Given explicitly. Without it a static re-run keeps the calibration it was given; anything
    /// else calibrates with the best the loss profile measured, else min-max
    /// (`optimize::quantization::calibration`).
    pub calibration: Option<Calibration>,
    /// One weight scale per tensor. Without it a re-run keeps its choice; a first run uses one
    /// scale per output channel.
    pub per_tensor: bool,
}

/// The quantization plan of an optimization fitted with the loss profile `loss_name` and
/// `schedule`, again over `earlier` (the plan saved under the same name, if any). Layers the loss
/// profile's quantization section finds too sensitive stay float: that profile's section, else
/// the latest loss profile's, when it measured the same mode.
pub fn quantization_plan(
    request: &QuantizationRequest,
    project: &ProjectFile,
    earlier: Option<&PruningPlan>,
    loss_name: &str,
    schedule: &Schedule,
) -> Result<Option<QuantizationPlan>> {
    let before = earlier.and_then(|p| p.quantization.as_ref());
    let mode = match request.choice {
        QuantizeChoice::Off => None,
        QuantizeChoice::Mode(mode) => Some(mode),
        QuantizeChoice::Keep => before.map(|q| q.mode),
    };
    let Some(mode) = mode else {
        let given = [
            (Setting::Calibration, request.calibration.is_some()),
            (Setting::PerTensor, request.per_tensor),
        ];
        if let Some((setting, _)) = given.iter().find(|(_, given)| *given) {
            return Err(Sentence::default()
                .setting(*setting)
                .text(" applies to quantization only; add ")
                .set(Setting::Quantize, "static")
                .text(" or ")
                .set(Setting::Quantize, "dynamic")
                .text(".")
                .into());
        }
        return Ok(None);
    };
    let per_channel = !request.per_tensor && before.is_none_or(|q| q.per_channel);
    let loss = project
        .loss_profiles
        .get_key_value(loss_name)
        .and_then(|(name, p)| Some((name.as_str(), p.quantization.as_ref()?)))
        .or_else(|| {
            project
                .latest_loss_profile()
                .and_then(|(name, p)| Some((name, p.quantization.as_ref()?)))
        })
        .filter(|(_, q)| q.mode == mode);
    let calibration = optimize::quantization::calibration(mode, request.calibration, before, loss);
    Ok(Some(optimize::quantization::plan(
        mode,
        calibration,
        per_channel,
        loss.map(|(_, q)| q),
        schedule,
    )))
}

/// `optimize`: what to fit, under which name. Anything left `None` keeps the value of the
/// optimization saved under `name` (a re-run), else the default.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizeRequest {
    pub name: String,
    pub target: Option<f64>,
    pub balance: Option<f64>,
    /// `Some(None)` turns a filter off.
    pub min_sparsity: Option<Option<f64>>,
    pub min_speedup: Option<Option<f64>>,
    pub min_recovery: Option<Option<f64>>,
    /// Profile names: saved ones, or "flops" and "approx".
    pub perf: Option<String>,
    pub loss: Option<String>,
    pub quantization: QuantizationRequest,
    /// The training settings the schedule is made from; saved as the project's settings.
    pub settings: Settings,
    /// A structured fit: whole channels removed to this target. Without it a re-run of a
    /// structured optimization stays structured unless a sparsity target is given.
    pub structure: Option<Target>,
}

impl OptimizeRequest {
    /// The default optimization, with everything else left to the defaults or the earlier run.
    pub fn named(name: &str) -> OptimizeRequest {
        OptimizeRequest {
            name: name.to_string(),
            target: None,
            balance: None,
            min_sparsity: None,
            min_speedup: None,
            min_recovery: None,
            perf: None,
            loss: None,
            quantization: QuantizationRequest::default(),
            settings: Settings::default(),
            structure: None,
        }
    }
}

/// A fitted optimization, saved in the project file.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub name: String,
    pub plan: PruningPlan,
    /// Where unreadable project files were moved aside on the way (the user must hear of it).
    pub moved_aside: Vec<PathBuf>,
}

/// Fits the optimization `request` asks for over the project's earlier one of that name.
/// Re-running keeps the earlier overrides, and flags not given keep their earlier values.
pub fn fit_optimization(
    project: &ProjectFile,
    analysis: &ModelAnalysis,
    request: &OptimizeRequest,
) -> Result<PruningPlan> {
    let earlier = project.optimizations.get(&request.name);
    let channel_target = request.structure.or_else(|| {
        earlier
            .and_then(|p| p.channels.as_ref())
            .filter(|_| request.target.is_none())
            .map(|c| c.target)
    });
    if let Some(target) = channel_target {
        return super::channels::fit(project, analysis, request, target);
    }
    let defaults = OptimizeOptions::default();
    let mut filters = earlier.map_or(defaults.filters.clone(), |p| p.filters.clone());
    if let Some(v) = request.min_sparsity {
        filters.min_sparsity = v;
    }
    if let Some(v) = request.min_speedup {
        filters.min_speedup = v;
    }
    if let Some(v) = request.min_recovery {
        filters.min_recovery = v;
    }
    let options = OptimizeOptions {
        target: request
            .target
            .or(earlier.map(|p| p.target))
            .unwrap_or(defaults.target),
        balance: request
            .balance
            .or(earlier.map(|p| p.balance))
            .unwrap_or(defaults.balance),
        filters,
        overrides: earlier.map(|p| p.overrides.clone()).unwrap_or_default(),
        schedule: schedule_of(&request.settings),
    };
    let perf = request.perf.as_deref().or(earlier.map(|p| p.perf.as_str()));
    let loss = request.loss.as_deref().or(earlier.map(|p| p.loss.as_str()));
    let mut plan = fit(project, analysis, perf, loss, &options)?;
    plan.quantization = quantization_plan(
        &request.quantization,
        project,
        earlier,
        &plan.loss,
        &plan.schedule,
    )?;
    Ok(plan)
}

/// `optimize`: fits, then saves the plan (as the latest optimization) and the settings.
pub fn optimize(
    model: &Path,
    analysis: &ModelAnalysis,
    request: &OptimizeRequest,
) -> Result<Fitted> {
    let mut moved_aside = Vec::new();
    let project = super::read_project(model, &mut moved_aside)?;
    let plan = fit_optimization(&project, analysis, request)?;
    save_plan(
        model,
        &request.name,
        &plan,
        Some(request.settings.clone()),
        &mut moved_aside,
    )?;
    Ok(Fitted {
        name: request.name.clone(),
        plan,
        moved_aside,
    })
}

/// `override`: pins layers of an optimization.
#[derive(Debug, Clone, PartialEq)]
pub struct OverrideRequest {
    /// The optimization; the latest one when `None`.
    pub name: Option<String>,
    /// A layer or weight name, or `re:REGEX`.
    pub pattern: String,
    /// `None` leaves the layers dense.
    pub sparsity: Option<f64>,
}

/// The optimization with the override added, refitted (the others to the same target), and its
/// name. A new value for the same layer or pattern replaces the old one.
pub fn fit_override(
    project: &ProjectFile,
    analysis: &ModelAnalysis,
    request: &OverrideRequest,
) -> Result<(String, PruningPlan)> {
    let name = match request
        .name
        .as_deref()
        .or(project.latest_optimization.as_deref())
    {
        Some(name) => name.to_string(),
        None => {
            return Err(Sentence::new("there is no optimization yet; run ")
                .action(Action::Optimize(None))
                .text(" first.")
                .into());
        }
    };
    let earlier = project.optimizations.get(&name).ok_or_else(|| {
        Error::from(
            Sentence::new(format!("there is no optimization '{name}'; run "))
                .action(Action::Optimize(Some(name.clone())))
                .text(" first."),
        )
    })?;
    let mut overrides: Vec<Override> = earlier
        .overrides
        .iter()
        .filter(|o| o.pattern != request.pattern)
        .cloned()
        .collect();
    overrides.push(Override {
        pattern: request.pattern.clone(),
        sparsity: request.sparsity,
    });
    let options = OptimizeOptions {
        target: earlier.target,
        balance: earlier.balance,
        filters: earlier.filters.clone(),
        overrides,
        schedule: earlier.schedule.clone(),
    };
    let mut plan = fit(
        project,
        analysis,
        Some(&earlier.perf),
        Some(&earlier.loss),
        &options,
    )?;
    plan.quantization = earlier.quantization.clone();
    Ok((name, plan))
}

/// `override`: refits, then saves the plan as the latest optimization.
pub fn override_layers(
    model: &Path,
    analysis: &ModelAnalysis,
    request: &OverrideRequest,
) -> Result<Fitted> {
    let mut moved_aside = Vec::new();
    let project = super::read_project(model, &mut moved_aside)?;
    let (name, plan) = fit_override(&project, analysis, request)?;
    save_plan(model, &name, &plan, None, &mut moved_aside)?;
    Ok(Fitted {
        name,
        plan,
        moved_aside,
    })
}

fn fit(
    project: &ProjectFile,
    analysis: &ModelAnalysis,
    perf_name: Option<&str>,
    loss_name: Option<&str>,
    options: &OptimizeOptions,
) -> Result<PruningPlan> {
    let (perf_name, perf) = perf_profile(project, analysis, perf_name)?;
    let (loss_name, loss) = loss_profile(project, analysis, loss_name)?;
    optimize::optimize(analysis, &perf, &perf_name, &loss, &loss_name, options)
}

fn save_plan(
    model: &Path,
    name: &str,
    plan: &PruningPlan,
    settings: Option<Settings>,
    moved_aside: &mut Vec<PathBuf>,
) -> Result<()> {
    super::save(model, moved_aside, |p| {
        p.optimizations.insert(name.to_string(), plan.clone());
        p.latest_optimization = Some(name.to_string());
        if let Some(settings) = settings {
            p.settings = settings;
        }
    })
}

#[cfg(test)]
mod tests;

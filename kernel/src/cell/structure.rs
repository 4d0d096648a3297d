//! `--structure channel`: structured pruning in the cell language. The channel loss profile
//! (`profile loss --structure channel`), and the words the other commands share for it.

use prunekit_core::format::percent;
use prunekit_core::optimize::channels::Target;
use prunekit_core::optimize::plan::{ChannelPlan, PruningPlan};
use prunekit_core::profile::{self, LossMethod, LossProfile, channels::ChannelOptions};
use prunekit_core::{Cancel, Error, Result};

use super::flags::Flags;
use super::output::Sink;
use super::profile::{finish, resolve};
use crate::display::progress::ProgressDisplay;
use crate::session::KernelSession;

/// What `--structure` asks for: `None` when absent (unstructured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    Channel,
}

pub fn structure(flags: &Flags) -> Result<Option<Structure>> {
    match flags.get("--structure") {
        None => Ok(None),
        Some("channel" | "channels") => Ok(Some(Structure::Channel)),
        Some(other) => Err(Error::Usage(format!(
            "--structure {other} is not a structure; use --structure channel (whole channels removed)."
        ))),
    }
}

/// `optimize --structure channel --speedup X | --flops-reduction F`: the structured fit's target.
/// `None` when `--structure` is absent (a re-run of a structured optimization stays structured).
pub fn target(flags: &Flags) -> Result<Option<Target>> {
    let speedup = flags.number("--speedup", 1.0, 100.0)?;
    let flops = flags.number("--flops-reduction", 1.0, 100.0)?;
    if structure(flags)?.is_none() {
        if let Some(flag) = [("--speedup", speedup), ("--flops-reduction", flops)]
            .iter()
            .find_map(|(f, v)| v.map(|_| *f))
        {
            return Err(Error::Usage(format!(
                "{flag} is a target for whole channels removed; add --structure channel."
            )));
        }
        return Ok(None);
    }
    if flags.has("--sparsity") {
        return Err(Error::Usage(
            "--sparsity is the unstructured target; with --structure channel give --speedup X or --flops-reduction F.".into(),
        ));
    }
    match (speedup, flops) {
        (Some(x), None) => Ok(Some(Target::Speedup(x))),
        (None, Some(f)) => Ok(Some(Target::FlopsReduction(f))),
        (None, None) => Err(Error::Usage(
            "--structure channel needs a target: --speedup 1.5 (times faster) or --flops-reduction 2 (times fewer FLOPs).".into(),
        )),
        (Some(_), Some(_)) => Err(Error::Usage(
            "give --speedup or --flops-reduction, not both: the fit reaches one target.".into(),
        )),
    }
}

/// `profile loss --structure channel`: each channel group loses fractions of its channels.
pub fn channel_profile(
    session: &KernelSession,
    flags: &Flags,
    method: LossMethod,
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<LossProfile> {
    if method != LossMethod::OneShot {
        return Err(Error::Usage(format!(
            "--structure channel measures each group by running the smaller model, which is --method one-shot, not {}.",
            method.name()
        )));
    }
    for flag in ["--prune", "--quantization"] {
        if flags.has(flag) {
            return Err(Error::Usage(format!(
                "{flag} applies to the unstructured profile; drop it or --structure channel."
            )));
        }
    }
    let loaded = session.model()?;
    let options = ChannelOptions {
        levels: flags
            .numbers("--levels")?
            .unwrap_or_else(|| profile::channels::CHANNEL_LEVELS.to_vec()),
        data: flags.get("--data").map(|d| resolve(loaded, d)),
        samples: flags.count("--samples", 1)?,
        batch: flags.count("--batch", 1)?,
        threads: session.settings.threads,
        seed: session.settings.seed,
    };
    let model = prunekit_core::load(&loaded.path)?;
    let progress = ProgressDisplay::start(sink, "removing channels of each group");
    let result = profile::channels::profile(&model, &loaded.analysis, &options, &progress, cancel);
    finish(&progress, &result, "group fractions measured");
    result
}

/// The first lines of a structured plan's summary: the target, the estimate, the groups.
pub fn plan_summary(name: &str, plan: &PruningPlan, channels: &ChannelPlan) -> String {
    let target = match channels.target {
        Target::Speedup(x) => format!("{x}x faster"),
        Target::FlopsReduction(x) => format!("{x}x fewer FLOPs"),
    };
    let pruned = channels.groups.iter().filter(|g| g.kept < g.channels).count();
    let mut text = format!(
        "Optimization '{name}' (channels): target {target}, estimated {:.2}x{} (perf from {}, loss from {}).\n  {pruned} of {} channel groups lose channels; {} of the prunable weights removed.\n",
        channels.estimated_ratio,
        if channels.reached { "" } else { ", not reached" },
        plan.perf,
        plan.loss,
        channels.groups.len(),
        percent(plan.achieved),
    );
    for g in channels.groups.iter().filter(|g| g.kept < g.channels) {
        text.push_str(&format!(
            "    {}: {} of {} channels kept (loss {:.4})\n",
            g.name, g.kept, g.channels, g.loss
        ));
    }
    for u in &channels.unprunable {
        text.push_str(&format!("    {} stays whole: {}\n", u.name, u.reason));
    }
    text
}

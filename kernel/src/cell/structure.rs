//! `--structure channel`: structured pruning in the cell language. The channel loss profile
//! (`profile loss --structure channel`), and the words the other commands share for it.

use prunekit_core::format::percent;
use prunekit_core::optimize::channels::Target;
use prunekit_core::optimize::plan::{ChannelPlan, PruningPlan};
use prunekit_core::profile::{self, LossMethod, LossProfile, channels::ChannelOptions};
use std::path::PathBuf;

use prunekit_core::workflow::channels::{self, ChannelPruning, PlanExport};
use prunekit_core::{Cancel, Error, Result};
use serde_json::json;

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
    let pruned = channels
        .groups
        .iter()
        .filter(|g| g.kept < g.channels)
        .count();
    // A plan that quantizes was fitted on the quantized model's times, profiled as `plan.perf` was.
    let perf = match channels.timed_as {
        Some(mode) => format!("the {} model, profiled as {} was", mode.words(), plan.perf),
        None => plan.perf.clone(),
    };
    let mut text = format!(
        "Optimization '{name}' (channels): target {target}, estimated {:.2}x{} (perf from {perf}, loss from {}).\n  {pruned} of {} channel groups lose channels; {} of the prunable weights removed.\n",
        channels.estimated_ratio,
        if channels.reached {
            ""
        } else {
            ", not reached"
        },
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

/// How a structured plan's channels were removed, in a sentence or two.
pub fn removal_words(c: &ChannelPruning) -> String {
    let pruned = c
        .removal
        .groups
        .iter()
        .filter(|g| g.channels_after < g.channels_before)
        .count();
    let mut text = format!(
        "{pruned} channel groups lost channels, chosen {}: {:.2}x fewer MACs, {:.2}x fewer params ({:.1} s).",
        c.importance,
        c.removal.macs_ratio(),
        c.removal.params_before as f64 / c.removal.params_after.max(1) as f64,
        c.seconds
    );
    match (&c.data, &c.repaired) {
        (Some(data), Some(r)) => text.push_str(&format!(
            " Repaired on {} samples of {}: {} layers refit by least squares, {} BatchNormalization statistics re-estimated.",
            data.samples,
            data.source,
            r.layers.iter().filter(|l| l.kind == "refit").count(),
            r.layers.iter().filter(|l| l.kind == "batch_norm").count(),
        )),
        _ => text.push_str(" Give --data (or --calibration-data) samples to choose channels by the error they cause and to repair the model."),
    }
    text
}

/// The JSON of a structured removal: per group, the channels before and after.
pub fn removal_json(c: &ChannelPruning) -> serde_json::Value {
    json!({
        "importance": c.importance,
        "repaired": c.repaired,
        "groups": c.removal.groups,
        "params_before": c.removal.params_before,
        "params_after": c.removal.params_after,
        "macs_before": c.removal.macs_before,
        "macs_after": c.removal.macs_after,
    })
}

/// `export plan PATH.json [--data FILE.npz] [--samples N] [--optimization NAME]`.
pub fn export_plan(
    session: &KernelSession,
    flags: &Flags,
    path: PathBuf,
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<(String, serde_json::Value, Vec<PathBuf>)> {
    for flag in [
        "--quantize",
        "--method",
        "--pattern",
        "--keep-float",
        "--external-data",
        "--names",
        "--recipe",
    ] {
        if flags.has(flag) {
            return Err(Error::Usage(format!(
                "{flag} does not apply to `export plan`, which writes the channels a structured optimization keeps."
            )));
        }
    }
    let loaded = session.model()?;
    let request = PlanExport {
        path,
        optimization: flags.get("--optimization").map(str::to_string),
        data: flags
            .get("--calibration-data")
            .or(flags.get("--data"))
            .map(|d| resolve(loaded, d)),
        samples: flags.count("--samples", 1)?,
    };
    let progress = ProgressDisplay::start(sink, "choosing the channels to keep");
    let result = channels::export_plan(&loaded.path, &loaded.analysis, &request, &progress, cancel);
    finish(&progress, &result, "chosen");
    let w = result?;
    let text = format!(
        "Wrote {}: the channels optimization '{}' keeps in {} groups ({} channels removed, chosen {}), with every tensor that loses the others (ONNX names, axes, offsets), to apply to the framework's model.",
        w.path.display(),
        w.optimization,
        w.groups,
        w.channels_removed,
        w.importance
    );
    let value = json!({"path": w.path, "kind": "plan", "optimization": w.optimization, "groups": w.groups, "channels_removed": w.channels_removed, "importance": w.importance});
    Ok((text, value, w.moved_aside))
}

//! `optimize` and `override`: fitting a sparsity per layer from the saved profiles, and pinning
//! layers by hand. The flags become a request to `workflow::fit`, which saves the optimization by
//! name in the model's project file; `plan_view` shows it.

use prunekit_core::optimize;
use prunekit_core::workflow::fit::{
    self, Fitted, OptimizeRequest, OverrideRequest, QuantizationRequest, QuantizeChoice,
};
use prunekit_core::{Error, Result};

use super::flags::Flags;
use super::output::Sink;
use crate::session::KernelSession;

/// `off`, or a number in `[lo, hi]`.
fn filter_value(flags: &Flags, flag: &str, lo: f64, hi: f64) -> Result<Option<Option<f64>>> {
    match flags.get(flag) {
        None => Ok(None),
        Some("off") => Ok(Some(None)),
        Some(_) => Ok(Some(flags.number(flag, lo, hi)?)),
    }
}

pub fn optimize(session: &mut KernelSession, words: &[String], sink: &dyn Sink) -> Result<()> {
    let flags = Flags::parse(
        "optimize",
        words,
        &[
            "--sparsity",
            "--balance",
            "--min-sparsity",
            "--min-speedup",
            "--min-recovery",
            "--perf",
            "--loss",
            "--epochs",
            "--lr",
            "--name",
            "--quantize",
            "--calibration",
            "--structure",
            "--speedup",
            "--flops-reduction",
        ],
        &["--per-tensor"],
    )?;
    flags.no_positional()?;
    session.model()?;
    let min_sparsity = filter_value(&flags, "--min-sparsity", 0.0, 1.0)?;
    let min_speedup = filter_value(&flags, "--min-speedup", 0.0, 1000.0)?;
    let min_recovery = filter_value(&flags, "--min-recovery", -1000.0, 1000.0)?;
    training_settings(session, &flags)?;
    let request = OptimizeRequest {
        name: flags.get("--name").unwrap_or("default").to_string(),
        target: flags.number("--sparsity", 0.01, optimize::MAX_SPARSITY)?,
        balance: flags.number("--balance", 0.0, 1.0)?,
        min_sparsity,
        min_speedup,
        min_recovery,
        perf: flags.get("--perf").map(str::to_string),
        loss: flags.get("--loss").map(str::to_string),
        quantization: quantization_request(&flags)?,
        settings: session.settings.clone(),
        structure: super::structure::target(&flags)?,
    };
    let loaded = session.model()?;
    let fitted = fit::optimize(&loaded.path, &loaded.analysis, &request)?;
    show(sink, &fitted)
}

/// `--epochs` and `--lr` change the session's training settings, which the schedule is made from.
fn training_settings(session: &mut KernelSession, flags: &Flags) -> Result<()> {
    let settings = &mut session.settings;
    if let Some(epochs) = flags.get("--epochs") {
        settings.epochs = Some(epochs.parse().ok().filter(|&e: &f64| e > 1.0).ok_or_else(
            || {
                Error::Usage(format!(
                    "--epochs {epochs} is not valid; give a number of epochs above 1."
                ))
            },
        )?);
    }
    if let Some(lr) = flags.get("--lr") {
        let parse = |t: &str| t.parse::<f64>().ok().filter(|&l| l > 0.0 && l < 1.0);
        let (init, fin) = match lr.split_once(':') {
            Some((i, f)) => (parse(i), Some(parse(f))),
            None => (parse(lr), None),
        };
        match (init, fin) {
            (Some(i), None) => (settings.init_lr, settings.final_lr) = (Some(i), None),
            (Some(i), Some(Some(f))) if f < i => {
                (settings.init_lr, settings.final_lr) = (Some(i), Some(f))
            }
            _ => {
                return Err(Error::Usage(format!(
                    "--lr {lr} is not valid; give INIT or INIT:FINAL with 0 < FINAL < INIT < 1, such as 0.1:0.001."
                )));
            }
        }
    }
    Ok(())
}

/// `--quantize static|dynamic|off` with `--calibration` and `--per-tensor`; without `--quantize`,
/// what the optimization asked for before.
fn quantization_request(flags: &Flags) -> Result<QuantizationRequest> {
    let choice = match flags.get("--quantize") {
        None => QuantizeChoice::Keep,
        Some("off") => QuantizeChoice::Off,
        Some(text) => QuantizeChoice::Mode(super::quantization::mode("--quantize", text)?),
    };
    if choice == QuantizeChoice::Mode(prunekit_core::quantize::QuantMode::Dynamic) {
        super::quantization::no_calibration_flags(flags, &["--calibration"])?;
    }
    let calibration = match flags.has("--calibration") {
        true => Some(super::quantization::calibration(flags)?),
        false => None,
    };
    Ok(QuantizationRequest {
        choice,
        calibration,
        per_tensor: flags.has("--per-tensor"),
    })
}

/// `override LAYER|re:REGEX SPARSITY|off [--name NAME]`: pins layers of an optimization and
/// refits the others to the same target.
pub fn override_layers(
    session: &mut KernelSession,
    words: &[String],
    sink: &dyn Sink,
) -> Result<()> {
    let flags = Flags::parse("override", words, &["--name"], &[])?;
    let [pattern, value] = flags.positional[..] else {
        return Err(Error::Usage(
            "give a layer (or re:REGEX) and a sparsity or off: `override conv1.weight 0.5`.".into(),
        ));
    };
    let sparsity = match value {
        "off" => None,
        text => Some(
            text.parse::<f64>()
                .ok()
                .filter(|s| (0.0..=optimize::MAX_OVERRIDE).contains(s))
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "'{text}' is not a sparsity; give a number from 0 to {} or off.",
                        optimize::MAX_OVERRIDE
                    ))
                })?,
        ),
    };
    let loaded = session.model()?;
    let request = OverrideRequest {
        name: flags.get("--name").map(str::to_string),
        pattern: pattern.to_string(),
        sparsity,
    };
    let fitted = fit::override_layers(&loaded.path, &loaded.analysis, &request)?;
    show(sink, &fitted)
}

fn show(sink: &dyn Sink, fitted: &Fitted) -> Result<()> {
    super::saving::moved_aside_all(sink, &fitted.moved_aside);
    super::plan_view::show(sink, &fitted.name, &fitted.plan)
}

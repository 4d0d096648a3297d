//! The quantization flags `profile loss`, `optimize` and `benchmark` share, and the lines that
//! describe a quantization in their results.

use prunekit_core::quantize::{Calibration, QuantMode, Quantized};
use prunekit_core::{Error, Result};

use super::flags::Flags;

/// `static` or `dynamic`, named in a sentence when it is neither.
pub fn mode(flag: &str, text: &str) -> Result<QuantMode> {
    QuantMode::parse(text).ok_or_else(|| {
        Error::Usage(format!(
            "{flag} {text} is not a quantization; use static (Conv, Gemm and MatMul, calibrated) or dynamic (MatMul and Gemm, no calibration)."
        ))
    })
}

/// `--calibration minmax|percentile[:P]`, min-max when absent.
pub fn calibration(flags: &Flags) -> Result<Calibration> {
    match flags.get("--calibration") {
        None => Ok(Calibration::MinMax),
        Some(text) => Calibration::parse(text).ok_or_else(|| {
            Error::Usage(format!(
                "--calibration {text} is not a calibration; use minmax, percentile, or percentile:P with 50 < P < 100 (such as percentile:99.99)."
            ))
        }),
    }
}

/// Dynamic quantization measures each activation as it runs: calibration flags would be ignored,
/// so they are refused.
pub fn no_calibration_flags(flags: &Flags, calibration_flags: &[&str]) -> Result<()> {
    match calibration_flags.iter().find(|f| flags.has(f)) {
        Some(flag) => Err(Error::Usage(format!(
            "{flag} applies to static quantization only; dynamic quantization measures each activation's range as it runs, so drop {flag} or use --quantize static."
        ))),
        None => Ok(()),
    }
}

/// What a quantization did, in one line per fact.
pub fn describe(q: &Quantized) -> String {
    let per_channel = q.layers.iter().filter(|l| l.per_channel).count();
    let mut out = format!(
        "{} layers in int8 ({} quantization, {per_channel} with per-channel weight scales{}), {} left float.",
        q.layers.len(),
        q.mode.name(),
        if q.activations > 0 {
            format!(", {} activations calibrated", q.activations)
        } else {
            String::new()
        },
        q.skipped.len()
    );
    for note in &q.notes {
        out.push(' ');
        out.push_str(note);
    }
    out
}

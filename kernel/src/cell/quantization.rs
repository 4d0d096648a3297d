//! The quantization flags `profile loss`, `optimize` and `benchmark` share, and the lines that
//! describe a quantization in their results.

use prunekit_core::format::percent;
use prunekit_core::quantize::sensitivity::CalibrationLoss;
use prunekit_core::quantize::{
    Calibration, CalibrationSource, Int4Settings, QuantMode, QuantizationPlan, Quantized, Rounding,
    int4,
};
use prunekit_core::{Error, Result};

use super::flags::Flags;

/// `static` or `dynamic`, named in a sentence when it is neither.
pub fn mode(flag: &str, text: &str) -> Result<QuantMode> {
    QuantMode::parse(text).ok_or_else(|| {
        Error::Usage(format!(
            "{flag} {text} is not a quantization; use static (Conv, Gemm and MatMul, calibrated), dynamic (MatMul and Gemm, no calibration) or int4 (MatMul and Gemm weights only, 4-bit blocks)."
        ))
    })
}

/// `--block 32|64|128`, `--rounding rtn|gptq` and `--symmetric`: int4's settings, the defaults
/// for those not given; refused with any other quantization. `for_recipe`: they describe the
/// int4 step an llm-compressor recipe writes, so no `--quantize int4` is needed.
pub fn int4_settings(flags: &Flags, for_recipe: bool) -> Result<Int4Settings> {
    let given = ["--block", "--rounding", "--symmetric"]
        .into_iter()
        .find(|f| flags.has(f));
    if let Some(flag) = given
        && !for_recipe
        && flags.get("--quantize") != Some("int4")
    {
        return Err(Error::Usage(format!(
            "{flag} applies to int4 quantization only; add --quantize int4 or drop {flag}."
        )));
    }
    let mut settings = Int4Settings::default();
    if let Some(text) = flags.get("--block") {
        settings.block = text
            .parse()
            .ok()
            .filter(|b| int4::BLOCKS.contains(b))
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--block {text} is not an int4 block size; use 32, 64 or 128 (weights per scale along each input row)."
                ))
            })?;
    }
    if let Some(text) = flags.get("--rounding") {
        settings.rounding = Rounding::parse(text).ok_or_else(|| {
            Error::Usage(format!(
                "--rounding {text} is not a rounding; use rtn (round to nearest, no data) or gptq (error compensation on calibration samples)."
            ))
        })?;
    }
    settings.symmetric = flags.has("--symmetric");
    Ok(settings)
}

/// `--calibration minmax|percentile[:P]|entropy`, min-max when absent.
pub fn calibration(flags: &Flags) -> Result<Calibration> {
    match flags.get("--calibration") {
        None => Ok(Calibration::MinMax),
        Some(text) => Calibration::parse(text).ok_or_else(|| {
            Error::Usage(format!(
                "--calibration {text} is not a calibration; use minmax, percentile, percentile:P with 50 < P < 100 (such as percentile:99.99), or entropy."
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
    if q.mode == QuantMode::Int4 {
        let mut out = format!(
            "{} layers in int4 (weight-only, MatMulNBits), {} left float.",
            q.layers.len(),
            q.skipped.len()
        );
        for note in &q.notes {
            out.push(' ');
            out.push_str(note);
        }
        return out;
    }
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

/// The loss profile's comparison of calibration methods, one row each, the best marked: empty
/// when the profile measured none.
pub fn calibration_rows(
    measured: &[CalibrationLoss],
    best: Option<Calibration>,
    metric: &str,
) -> String {
    if measured.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "  int8 with each calibration (every layer at once; optimize --quantize static uses the best unless --calibration is given):\n",
    );
    for m in measured {
        out.push_str(&format!(
            "    {:<18} {:>10.3e} {}{}{}\n",
            m.calibration.name(),
            m.value,
            metric.replace('_', " "),
            m.accuracy
                .map_or(String::new(), |a| format!(", accuracy {}", percent(a))),
            if best == Some(m.calibration) {
                "  <- best"
            } else {
                ""
            }
        ));
    }
    out
}

/// Why a static plan calibrates as it does, as an indented line; empty when the user named it.
pub fn calibration_reason(q: &QuantizationPlan) -> String {
    if q.mode != QuantMode::Static {
        return String::new();
    }
    match &q.calibration_source {
        CalibrationSource::Named => String::new(),
        CalibrationSource::Default => format!(
            "    calibration: {}, the default; `profile loss --quantization` measures minmax, percentile and entropy on the model and the next optimize uses the best.\n",
            q.calibration.name()
        ),
        CalibrationSource::Measured {
            profile,
            metric,
            calibrations,
        } => {
            let figure = |m: &CalibrationLoss| {
                format!(
                    "{:.3e} {}{}",
                    m.value,
                    metric.replace('_', " "),
                    m.accuracy
                        .map_or(String::new(), |a| format!(", accuracy {}", percent(a)))
                )
            };
            let chosen = calibrations.iter().find(|m| m.calibration == q.calibration);
            let others: Vec<String> = calibrations
                .iter()
                .filter(|m| m.calibration != q.calibration)
                .map(|m| format!("{} {}", m.calibration.name(), figure(m)))
                .collect();
            format!(
                "    calibration: {}, the best in loss profile '{profile}' with every layer in int8{}{}.\n",
                q.calibration.name(),
                chosen.map_or(String::new(), |m| format!(": {}", figure(m))),
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" (against {})", others.join("; "))
                }
            )
        }
    }
}

//! `export recipe PATH [--format sparseml|llm-compressor] | export code PATH [--framework pytorch]
//! [--training] | export model PATH`:
//! the flags become a request to `workflow::export`, and what was written is said in a sentence
//! with its facts as a table under it.

use std::path::PathBuf;

use prunekit_core::model::ExternalData;
use prunekit_core::quantize::QuantizeOptions;
use prunekit_core::workflow::export::{
    self, Agreement, BlameSource, CodeExport, CodeWritten, KeepFloat, ModelExport, ModelWritten,
    RecipeFormat,
};
use prunekit_core::workflow::{Outcome, Step};
use prunekit_core::{Cancel, Error, Result};
use serde_json::json;

use super::flags::Flags;
use super::output::{Output, Sink};
use super::steps::StepDisplay;
use crate::display::bundle::Bundle;
use crate::display::table::{self, Column, escape};
use crate::session::KernelSession;
use prunekit_core::format::percent;

pub fn export(
    session: &mut KernelSession,
    words: &[String],
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<()> {
    let flags = Flags::parse(
        "export",
        words,
        &[
            "--optimization",
            "--names",
            "--framework",
            "--data",
            "--recipe",
            "--calibration-data",
            "--quantize",
            "--calibration",
            "--keep-float",
            "--method",
            "--pattern",
            "--samples",
            "--external-data",
            "--block",
            "--rounding",
            "--format",
        ],
        &["--training", "--per-tensor", "--symmetric"],
    )?;
    let [kind, path] = flags.positional[..] else {
        return Err(Error::Usage(
            "say what to write and where: `export recipe PATH`, `export code PATH`, `export model PATH` or `export plan PATH.json`.".into(),
        ));
    };
    let loaded = session.model()?;
    if flags.get("--quantize") == Some("dynamic") {
        super::quantization::no_calibration_flags(
            &flags,
            &["--calibration", "--calibration-data"],
        )?;
    }
    let for_recipe =
        super::recipe_export::format(&flags, kind)? == Some(RecipeFormat::LlmCompressor);
    let int4 = super::quantization::int4_settings(&flags, for_recipe)?;
    let quantize = match flags.get("--quantize") {
        Some(text) if kind == "model" => Some(QuantizeOptions {
            calibration: super::quantization::calibration(&flags)?,
            per_channel: !flags.has("--per-tensor"),
            int4,
            ..QuantizeOptions::new(super::quantization::mode("--quantize", text)?)
        }),
        Some(_) => {
            return Err(Error::Usage(
                "--quantize applies to `export model`; a recipe takes its quantization from `optimize --quantize`.".into(),
            ));
        }
        None => None,
    };
    let external_data = match flags.get("--external-data") {
        Some(_) if kind != "model" => {
            return Err(Error::Usage(
                "--external-data applies to `export model`, the one export that writes a model."
                    .into(),
            ));
        }
        Some(text) => ExternalData::from_name(text).ok_or_else(|| {
            Error::Usage(format!(
                "--external-data takes always, auto or never, not '{text}'."
            ))
        })?,
        None => ExternalData::Auto,
    };
    let path = PathBuf::from(path);
    let optimization = flags.get("--optimization").map(str::to_string);
    let (text, value, moved_aside) = match kind {
        "recipe" => {
            let request = super::recipe_export::request(&flags, path, optimization, int4)?;
            let written = export::export_recipe(&loaded.path, &request)?;
            let (text, value) = super::recipe_export::written(&written);
            (text, value, written.moved_aside)
        }
        "code" => {
            match flags.get("--framework").unwrap_or("pytorch") {
                "pytorch" => {}
                other => {
                    return Err(Error::Usage(format!(
                        "--framework {other} is not offered; prunekit writes pytorch integration code."
                    )));
                }
            }
            let request = CodeExport {
                path,
                optimization,
                recipe: flags.get("--recipe").map(str::to_string),
                training: flags.has("--training"),
            };
            let written = export::export_code(&loaded.path, &request)?;
            let (text, value) = code_written(&written);
            (text, value, written.moved_aside)
        }
        "model" => {
            let request = ModelExport {
                path,
                optimization,
                quantize,
                data: flags.get("--data").map(PathBuf::from),
                calibration_data: flags.get("--calibration-data").map(PathBuf::from),
                keep_float: flags.get("--keep-float").map(keep_float).transpose()?,
                pruning: super::pruning::request(&flags)?,
                seed: session.settings.seed,
                external_data,
            };
            let steps = StepDisplay::new(sink, step_words);
            let written =
                export::export_model(&loaded.path, &loaded.analysis, &request, &steps, cancel)?;
            let (text, value) = model_written(&written);
            (text, value, written.moved_aside)
        }
        "plan" => super::structure::export_plan(session, &flags, path, sink, cancel)?,
        other => {
            return Err(Error::Usage(format!(
                "'export {other}' is not something prunekit writes; use recipe, code, model or plan."
            )));
        }
    };
    super::saving::moved_aside_all(sink, &moved_aside);
    emit_written(sink, &text, &value);
    Ok(())
}

/// `--keep-float auto` or `--keep-float LAYER,LAYER`.
fn keep_float(text: &str) -> Result<KeepFloat> {
    if text == "auto" {
        return Ok(KeepFloat::Auto);
    }
    let layers: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if layers.is_empty() {
        return Err(Error::Usage(
            "--keep-float takes layer names separated by commas, or auto.".into(),
        ));
    }
    Ok(KeepFloat::Layers(layers))
}

/// What the pruning and quantizing steps' progress display says.
fn step_words(step: Step, outcome: Option<Outcome>) -> &'static str {
    match (step, outcome) {
        (Step::Pruning, None) => "pruning",
        (Step::Pruning, Some(Outcome::Done)) => "pruned",
        (_, None) => "quantizing",
        (_, Some(Outcome::Done)) => "quantized",
        (_, Some(Outcome::Cancelled)) => "interrupted; nothing was written",
        (_, Some(Outcome::Failed)) => "failed",
    }
}

fn code_written(w: &CodeWritten) -> (String, serde_json::Value) {
    let recipe = &w.recipe;
    (
        format!(
            "Wrote {} (PyTorch {}; it reads the recipe {recipe}).",
            w.path.display(),
            if w.training {
                "training loop"
            } else {
                "integration"
            }
        ),
        json!({"path": w.path, "kind": "code", "framework": "pytorch", "training": w.training, "recipe": recipe}),
    )
}

fn model_written(w: &ModelWritten) -> (String, serde_json::Value) {
    let mut message = match &w.pruning {
        Some(p) => format!("Wrote {}: {}", w.path.display(), super::pruning::words(p)),
        None => format!("Wrote {}: the dense model.", w.path.display()),
    };
    if let Some(data) = &w.data_file {
        message.push_str(&format!(
            " Its tensors over {} bytes are in {} (external data: keep it beside the model).",
            prunekit_core::model::EXTERNAL_MIN_BYTES,
            data.display()
        ));
    }
    if let Some(q) = &w.quantized {
        message.push(' ');
        message.push_str(&super::quantization::describe(q));
        if w.calibrated_on_measured {
            message.push_str(" It was calibrated on the samples its accuracy is measured on; give --calibration-data other samples for a held-out figure.");
        }
    }
    message.push(' ');
    message.push_str(&agreement_words(&w.agreement));
    let verdict = w
        .agreement
        .verdict()
        .map(|v| v.words(&crate::wording::Flags));
    if let Some(verdict) = &verdict {
        message = format!("{verdict}\n{message}");
    }
    let mut accuracy = serde_json::Value::Null;
    if let Some(a) = &w.accuracy {
        message.push_str(&format!(
            " Held-out accuracy on {} samples: {} before, {} after (not fine-tuned).",
            a.samples,
            percent(a.before),
            percent(a.after)
        ));
        accuracy = json!({"before": a.before, "after": a.after, "samples": a.samples});
    }
    let channels = w
        .pruning
        .as_ref()
        .and_then(|p| p.channels.as_ref())
        .map(super::structure::removal_json);
    let layers: Vec<serde_json::Value> = w.pruning.iter().flat_map(|p| &p.layers).map(|l| json!({"name": l.name, "weight": l.weight, "sparsity": l.sparsity, "pattern": l.pattern.name(), "damp": l.damp, "retries": l.retries, "note": l.note})).collect();
    let pruning = w.pruning.as_ref().map(|p| {
        json!({
            "method": p.method.name(),
            "pattern": p.pattern.name(),
            "samples": p.data,
            "seconds": p.seconds,
            "flops": p.flops,
            "peak_bytes": p.peak_bytes,
            "channels": channels,
        })
    });
    let quantization = w.quantized.as_ref().map(|q| {
        json!({
            "mode": q.mode,
            "layers": q.layers,
            "float": q.skipped,
            "activations": q.activations,
            "calibration": q.data,
            "int4": q.int4,
            "seconds": q.seconds,
            "notes": q.notes,
        })
    });
    (
        message,
        json!({"path": w.path, "kind": "model", "data_file": w.data_file, "warning": verdict, "agreement": agreement_json(&w.agreement, verdict.as_deref()), "layers": layers, "pruning": pruning, "accuracy": accuracy, "quantization": quantization}),
    )
}

/// The agreement in a sentence: the figures of the failing check, else of the last (the data,
/// when given), and the layers kept float.
fn agreement_words(a: &Agreement) -> String {
    if let Some(err) = &a.unchecked {
        return format!(
            "It was not checked against the original: {}",
            crate::wording::message(err)
        );
    }
    let Some(check) = a.failing().or(a.checks.last()) else {
        return String::new();
    };
    let mut figures: Vec<String> = Vec::new();
    if let Some(top1) = check.top1 {
        figures.push(format!("top-1 agreement {}", percent(top1)));
    }
    for o in &check.outputs {
        figures.push(format!(
            "{} {} {:.2e}",
            o.name,
            o.metric.replace('_', " "),
            o.value
        ));
    }
    let on = if check.source == "generated" {
        format!("{} generated samples", check.samples)
    } else {
        format!("{} samples of {}", check.samples, check.source)
    };
    let figures = figures.join(", ");
    let mut text = match (a.agrees(), a.verified()) {
        (true, false) => format!(
            "It is close to the original on {on} only ({figures}), which cannot vouch for it: check it on real samples with --data."
        ),
        (true, true) => format!("It agrees with the original on {on}: {figures}."),
        (false, _) => format!("It differs from the original on {on}: {figures}."),
    };
    if !a.kept_float.is_empty() {
        text.push_str(&format!(
            " Kept float{}: {}.",
            if a.auto { " (auto)" } else { "" },
            a.kept_float.join(", ")
        ));
    } else if a.auto && a.agrees() {
        text.push_str(" --keep-float auto kept no layer float: none was needed.");
    }
    text
}

fn agreement_json(a: &Agreement, verdict: Option<&str>) -> serde_json::Value {
    let checks: Vec<serde_json::Value> = a
        .checks
        .iter()
        .map(|c| {
            json!({
                "source": c.source,
                "samples": c.samples,
                "agrees": c.agrees(),
                "top1": c.top1,
                "min_top1": c.min_top1(), "per_position": c.per_position,
                "outputs": c.outputs.iter().map(|o| json!({"name": o.name, "metric": o.metric, "per_position": o.per_position, "value": o.value, "threshold": o.threshold(), "agrees": o.agrees()})).collect::<Vec<_>>(),
                "accuracy": c.accuracy.as_ref().map(|x| json!({"before": x.before, "after": x.after, "samples": x.samples})),
            })
        })
        .collect();
    let blamed = a.blame.as_ref().map(|b| {
        json!({
            "source": match &b.source {
                BlameSource::Profile(name) => json!({"profile": name}),
                BlameSource::Measured { samples } => json!({"measured_samples": samples}),
            },
            "metric": b.metric,
            "layers": b.layers.iter().map(|l| json!({"name": l.name, "weight": l.weight, "value": l.value})).collect::<Vec<_>>(),
        })
    });
    json!({
        "agrees": (a.unchecked.is_none() && (a.verified() || !a.agrees())).then(|| a.agrees()), "verified": a.unchecked.is_none() && a.verified(),
        "unchecked": a.unchecked.as_ref().map(crate::wording::message),
        "verdict": verdict,
        "min_top1": export::MIN_TOP1_AGREEMENT,
        "checks": checks,
        "blamed": blamed,
        "kept_float": a.kept_float,
        "auto": a.auto,
    })
}

/// The sentence of what was written, with its facts as a two-column table under it.
fn emit_written(sink: &dyn Sink, text: &str, value: &serde_json::Value) {
    let rows: Vec<Vec<String>> = value
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let shown = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            vec![k.clone(), shown]
        })
        .collect();
    let columns = [
        Column {
            title: "written",
            is_numeric: false,
        },
        Column {
            title: "",
            is_numeric: false,
        },
    ];
    sink.emit(Output::Result(
        Bundle::text(text.to_string())
            .html(format!(
                "<p>{}</p>{}",
                escape(text),
                table::html(None, &columns, &rows)
            ))
            .json(value),
    ));
}

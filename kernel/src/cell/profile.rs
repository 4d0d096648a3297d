//! `profile perf`, `profile loss` and `profiles`: measuring the current model, saving each profile
//! by name in its project file, and showing it as charts, a table and the JSON result.

use std::path::PathBuf;

use prunekit_core::profile::{self, LossMethod, PerfKind, PerfOptions, one_shot::OneShotOptions};
use prunekit_core::project::{self, Found};
use prunekit_core::quantize::{QuantMode, QuantizeOptions};
use prunekit_core::{Cancel, Error, Result, chart};

use super::flags::Flags;
use super::output::{Output, Sink};
use super::profile_view::{
    col, loss_rows, loss_summary, loss_table, mark, ms3, named, perf_summary, perf_table,
    perf_text, quantization_rows, show_chart,
};
use crate::display::bundle::Bundle;
use crate::display::progress::ProgressDisplay;
use crate::display::table::{self, escape};
use crate::session::{KernelSession, LoadedModel};

/// Sparsify's warmup; more timed iterations than its 10, for a steadier p90.
const DEFAULT_WARMUP: usize = 5;
const DEFAULT_ITERATIONS: usize = 20;

pub fn profile(
    session: &mut KernelSession,
    words: &[String],
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<()> {
    match words.first().map(String::as_str) {
        Some("perf") => perf(session, &words[1..], sink, cancel),
        Some("loss") => loss(session, &words[1..], sink, cancel),
        Some(other) => Err(Error::Usage(format!(
            "'profile {other}' is not a profile; use `profile perf` or `profile loss`."
        ))),
        None => Err(Error::Usage(
            "say which profile: `profile perf` or `profile loss`.".into(),
        )),
    }
}

fn perf(
    session: &mut KernelSession,
    words: &[String],
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<()> {
    let flags = Flags::parse(
        "profile",
        words,
        &[
            "--batch",
            "--threads",
            "--iterations",
            "--warmup",
            "--name",
            "--level",
        ],
        &["--flops", "--log"],
    )?;
    flags.no_positional()?;
    let loaded = session.model()?;
    let level = flags.number("--level", 0.0, 0.99)?.unwrap_or(0.9);
    let profile = if flags.has("--flops") {
        profile::perf::flops_only(&loaded.analysis)
    } else {
        let options = PerfOptions {
            batch: flags
                .count("--batch", 1)?
                .unwrap_or_else(|| prunekit_core::runtime::analysis_batch(&loaded.analysis)),
            threads: flags.count("--threads", 1)?.or(session.settings.threads),
            warmup: flags.count("--warmup", 0)?.unwrap_or(DEFAULT_WARMUP),
            iterations: flags
                .count("--iterations", 1)?
                .unwrap_or(DEFAULT_ITERATIONS),
            seed: session.settings.seed,
        };
        let model = prunekit_core::load(&loaded.path)?;
        let progress = ProgressDisplay::start(sink, "timing in ONNX Runtime");
        let result = profile::perf::measure(&model, &loaded.analysis, &options, &progress, cancel);
        finish(&progress, &result, "timed");
        result?
    };
    let default_name = if profile.kind == PerfKind::Flops {
        "flops"
    } else {
        "baseline"
    };
    let name = flags.get("--name").unwrap_or(default_name).to_string();
    // Written into the project file only once the profile is complete.
    super::saving::save(&loaded.path, sink, |p| {
        p.perf_profiles.insert(name.clone(), profile.clone());
        p.latest_perf = Some(name.clone());
    })?;

    for chart in [
        chart::perf_layers(&profile, level, flags.has("--log"), None)?,
        chart::perf_op_types(&profile)?,
        chart::perf_speedup(&profile)?,
    ] {
        show_chart(sink, chart, "performance profile");
    }
    let text = perf_text(&name, &profile, level);
    let html = format!(
        "<pre>{}</pre>{}",
        escape(&perf_summary(&name, &profile, level)),
        perf_table(&profile, level)
    );
    sink.emit(Output::Result(
        Bundle::text(text).html(html).json(&named(&name, &profile)),
    ));
    Ok(())
}

fn loss(
    session: &mut KernelSession,
    words: &[String],
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<()> {
    let flags = Flags::parse(
        "profile",
        words,
        &[
            "--method",
            "--data",
            "--samples",
            "--batch",
            "--levels",
            "--name",
            "--show",
            "--calibration",
            "--prune",
            "--structure",
        ],
        &[
            "--sorted",
            "--quantization",
            "--dynamic",
            "--int4",
            "--per-tensor",
        ],
    )?;
    flags.no_positional()?;
    let loaded = session.model()?;
    let structure = super::structure::structure(&flags)?;
    let method_text = flags.get("--method").unwrap_or(if structure.is_some() {
        "one-shot"
    } else {
        "magnitude"
    });
    let method = LossMethod::parse(method_text).ok_or_else(|| {
        Error::Usage(format!(
            "--method {method_text} is not a method; use approx, magnitude or one-shot."
        ))
    })?;
    let quantization = flags.has("--quantization");
    for flag in ["--calibration", "--dynamic", "--int4", "--per-tensor"] {
        if flags.has(flag) && !quantization {
            return Err(Error::Usage(format!(
                "{flag} applies to the quantization profile only; add --quantization."
            )));
        }
    }
    if flags.has("--dynamic") {
        super::quantization::no_calibration_flags(&flags, &["--calibration"])?;
    }
    if flags.has("--int4")
        && let Some(flag) = ["--dynamic", "--calibration", "--per-tensor"]
            .into_iter()
            .find(|f| flags.has(f))
    {
        return Err(Error::Usage(format!(
            "{flag} does not apply to int4, which quantizes weights only in blocks of 32 (round to nearest); drop {flag} or --int4."
        )));
    }
    if flags.has("--prune") && method != LossMethod::OneShot {
        return Err(Error::Usage(
            "--prune applies to --method one-shot only, which prunes each layer and runs the model."
                .into(),
        ));
    }
    if method != LossMethod::OneShot {
        // The quantization profile runs the model too, on --data or generated samples.
        let data_flags: &[&str] = if quantization {
            &["--levels"]
        } else {
            &["--data", "--samples", "--batch", "--levels"]
        };
        for flag in data_flags {
            if flags.has(flag) {
                return Err(Error::Usage(format!(
                    "{flag} applies to --method one-shot{} only; the {} profile needs no data.",
                    if quantization {
                        ""
                    } else {
                        " or --quantization"
                    },
                    method.name()
                )));
            }
        }
    }
    let mut profile = match method {
        _ if structure.is_some() => {
            super::structure::channel_profile(session, &flags, method, sink, cancel)?
        }
        LossMethod::Approx => profile::approx::profile(&loaded.analysis),
        LossMethod::Magnitude => {
            let model = prunekit_core::load(&loaded.path)?;
            let progress = ProgressDisplay::start(sink, "weight magnitudes");
            let result = profile::magnitude::profile(&model, &loaded.analysis, &progress, cancel);
            finish(&progress, &result, "layers measured");
            result?
        }
        LossMethod::OneShot => {
            let options = OneShotOptions {
                levels: flags
                    .numbers("--levels")?
                    .unwrap_or_else(|| profile::LOSS_LEVELS.to_vec()),
                data: flags.get("--data").map(|d| resolve(loaded, d)),
                samples: flags.count("--samples", 1)?,
                batch: flags.count("--batch", 1)?,
                threads: session.settings.threads,
                seed: session.settings.seed,
                prune: flags
                    .get("--prune")
                    .map(|text| super::pruning::method("--prune", text))
                    .transpose()?
                    .unwrap_or(prunekit_core::reconstruct::Method::Magnitude),
            };
            let model = prunekit_core::load(&loaded.path)?;
            let progress = ProgressDisplay::start(sink, "pruning each layer");
            let result =
                profile::one_shot::profile(&model, &loaded.analysis, &options, &progress, cancel);
            finish(&progress, &result, "layer levels measured");
            result?
        }
    };
    if quantization {
        let options = QuantizeOptions {
            calibration: super::quantization::calibration(&flags)?,
            per_channel: !flags.has("--per-tensor"),
            data: flags.get("--data").map(|d| resolve(loaded, d)),
            samples: flags.count("--samples", 1)?,
            batch: flags.count("--batch", 1)?,
            threads: session.settings.threads,
            seed: session.settings.seed,
            ..QuantizeOptions::new(if flags.has("--dynamic") {
                QuantMode::Dynamic
            } else if flags.has("--int4") {
                QuantMode::Int4
            } else {
                QuantMode::Static
            })
        };
        let model = prunekit_core::load(&loaded.path)?;
        let progress = ProgressDisplay::start(sink, "quantizing each layer");
        let result = prunekit_core::quantize::sensitivity::profile(
            &model,
            &loaded.analysis,
            &options,
            &progress,
            cancel,
        );
        finish(&progress, &result, "layers quantized");
        profile.quantization = Some(result?);
    }
    let name = flags
        .get("--name")
        .unwrap_or(if structure.is_some() {
            "channels"
        } else {
            method.name()
        })
        .to_string();
    // Written into the project file only once the profile is complete.
    super::saving::save(&loaded.path, sink, |p| {
        p.add_loss_profile(&name, profile.clone());
    })?;

    let shown: Vec<&str> = flags
        .get("--show")
        .map(|s| s.split(',').map(str::trim).collect())
        .unwrap_or_default();
    for chart in [
        chart::loss_layers(&profile, flags.has("--sorted"), None)?,
        chart::loss_curves(&profile, &shown)?,
    ] {
        show_chart(sink, chart, "loss profile");
    }
    if profile.quantization.is_some() {
        show_chart(
            sink,
            chart::quantization_layers(&profile)?,
            "int8 sensitivity",
        );
    }
    let text = format!(
        "{}\n{}{}",
        loss_summary(&name, &profile),
        loss_rows(&profile),
        quantization_rows(&profile)
    );
    let quantization = quantization_rows(&profile);
    let html = format!(
        "<pre>{}</pre>{}{}",
        escape(&loss_summary(&name, &profile)),
        loss_table(&profile),
        if quantization.is_empty() {
            String::new()
        } else {
            format!("<pre>{}</pre>", escape(quantization.trim_start()))
        }
    );
    sink.emit(Output::Result(
        Bundle::text(text).html(html).json(&named(&name, &profile)),
    ));
    Ok(())
}

/// `profiles`: every saved profile of the current model.
pub fn list(session: &mut KernelSession, words: &[String], sink: &dyn Sink) -> Result<()> {
    let flags = Flags::parse("profiles", words, &["--compare"], &[])?;
    flags.no_positional()?;
    let loaded = session.model()?;
    let project = match project::read(&loaded.path)? {
        Found::Project(p) => *p,
        _ => project::ProjectFile::new(&loaded.path),
    };
    if let Some(names) = flags.get("--compare") {
        return super::compare::compare(&project, names, sink);
    }
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for (name, p) in &project.perf_profiles {
        let kind = match p.kind {
            PerfKind::Measured => "perf (measured)",
            PerfKind::Flops => "perf (FLOPs)",
        };
        let summary = match p.model.ms_per_batch {
            Some(ms) => format!("{} ms per batch of {}", ms3(ms), p.model.batch),
            None => format!("{} FLOPs", prunekit_core::format::si(p.model.flops)),
        };
        let latest = project.latest_perf.as_deref() == Some(name.as_str());
        rows.push(vec![
            name.clone(),
            kind.into(),
            summary.clone(),
            mark(latest),
        ]);
        json.push(serde_json::json!({"name": name, "kind": "perf", "method": p.kind, "summary": summary, "latest": latest}));
    }
    for (name, p) in &project.loss_profiles {
        let top = p.layers.iter().find(|l| l.rank == 1);
        let summary = match top {
            Some(l) => format!("{} layers; most sensitive: {}", p.layers.len(), l.name),
            None => "no layer measured".into(),
        };
        let latest = project.latest_loss.as_deref() == Some(name.as_str());
        rows.push(vec![
            name.clone(),
            format!("loss ({})", p.method.name()),
            summary.clone(),
            mark(latest),
        ]);
        json.push(serde_json::json!({"name": name, "kind": "loss", "method": p.method, "summary": summary, "latest": latest}));
    }
    let columns = [
        col("name", false),
        col("profile", false),
        col("summary", false),
        col("latest", false),
    ];
    let text = if rows.is_empty() {
        "No profiles yet: run `profile perf` or `profile loss`.".to_string()
    } else {
        rows.iter()
            .map(|r| {
                format!(
                    "{:<16} {:<18} {}{}",
                    r[0],
                    r[1],
                    r[2],
                    if r[3].is_empty() { "" } else { "  (latest)" }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let html = if rows.is_empty() {
        format!("<p>{}</p>", escape(&text))
    } else {
        table::html(None, &columns, &rows)
    };
    sink.emit(Output::Result(
        Bundle::text(text)
            .html(html)
            .json(&serde_json::json!({ "profiles": json })),
    ));
    Ok(())
}

/// A data path relative to the model's folder when it is not found from the working directory.
pub(super) fn resolve(loaded: &LoadedModel, path: &str) -> PathBuf {
    let given = PathBuf::from(path);
    if given.is_relative()
        && !given.exists()
        && let Some(dir) = loaded.path.parent()
        && dir.join(&given).exists()
    {
        return dir.join(&given);
    }
    given
}

pub(super) fn finish<T>(progress: &ProgressDisplay, result: &Result<T>, done: &str) {
    match result {
        Ok(_) => progress.finish(1, 1, done),
        Err(Error::Cancelled) => {
            progress.finish(0, 1, "interrupted; the project file is unchanged")
        }
        Err(_) => progress.finish(0, 1, "failed"),
    }
}

//! `profile perf`, `profile loss` and `profiles`: measuring the current model, saving each profile
//! by name in its project file, and showing it as charts, a table and the JSON result.

use std::path::PathBuf;

use prunekit_core::profile::{
    self, LossMethod, LossProfile, PerfKind, PerfOptions, PerfProfile, level_key,
    one_shot::OneShotOptions,
};
use prunekit_core::project::{self, Found};
use prunekit_core::quantize::{QuantMode, QuantizeOptions};
use prunekit_core::{Cancel, Error, Result, chart};
use serde_json::Value;

use super::flags::Flags;
use super::output::{Output, Sink};
use crate::display::bundle::Bundle;
use crate::display::progress::ProgressDisplay;
use crate::display::table::{self, Column, escape};
use crate::display::text::keep_tail;
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
        ],
        &["--sorted", "--quantization", "--dynamic", "--per-tensor"],
    )?;
    flags.no_positional()?;
    let loaded = session.model()?;
    let method_text = flags.get("--method").unwrap_or("magnitude");
    let method = LossMethod::parse(method_text).ok_or_else(|| {
        Error::Usage(format!(
            "--method {method_text} is not a method; use approx, magnitude or one-shot."
        ))
    })?;
    let quantization = flags.has("--quantization");
    for flag in ["--calibration", "--dynamic", "--per-tensor"] {
        if flags.has(flag) && !quantization {
            return Err(Error::Usage(format!(
                "{flag} applies to the quantization profile only; add --quantization."
            )));
        }
    }
    if flags.has("--dynamic") {
        super::quantization::no_calibration_flags(&flags, &["--calibration"])?;
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
            } else {
                QuantMode::Static
            })
        };
        let model = prunekit_core::load(&loaded.path)?;
        let progress = ProgressDisplay::start(sink, "quantizing each layer");
        let result =
            profile::quant_loss::profile(&model, &loaded.analysis, &options, &progress, cancel);
        finish(&progress, &result, "layers quantized");
        profile.quantization = Some(result?);
    }
    let name = flags.get("--name").unwrap_or(method.name()).to_string();
    // Written into the project file only once the profile is complete.
    super::saving::save(&loaded.path, sink, |p| {
        p.loss_profiles.insert(name.clone(), profile.clone());
        p.latest_loss = Some(name.clone());
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
    Flags::parse("profiles", words, &[], &[])?.no_positional()?;
    let loaded = session.model()?;
    let project = match project::read(&loaded.path)? {
        Found::Project(p) => *p,
        _ => project::ProjectFile::new(&loaded.path),
    };
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

fn mark(latest: bool) -> String {
    if latest { "✓".into() } else { String::new() }
}

fn col(title: &str, is_numeric: bool) -> Column<'_> {
    Column { title, is_numeric }
}

/// A data path relative to the model's folder when it is not found from the working directory.
fn resolve(loaded: &LoadedModel, path: &str) -> PathBuf {
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

fn finish<T>(progress: &ProgressDisplay, result: &Result<T>, done: &str) {
    match result {
        Ok(_) => progress.finish(1, 1, done),
        Err(Error::Cancelled) => {
            progress.finish(0, 1, "interrupted; the project file is unchanged")
        }
        Err(_) => progress.finish(0, 1, "failed"),
    }
}

fn show_chart(sink: &dyn Sink, chart: chart::Chart, what: &str) {
    sink.emit(Output::Display {
        bundle: Bundle::text(format!("[chart: {what}]")).png(&chart.png, chart.width, chart.height),
        display_id: None,
    });
}

/// The profile's JSON with its name first.
fn named(name: &str, profile: &impl serde::Serialize) -> Value {
    let mut value = serde_json::to_value(profile).expect("profiles serialize");
    if let Value::Object(map) = &mut value {
        map.insert("name".into(), Value::String(name.into()));
    }
    value
}

fn ms3(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.1}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}

fn perf_summary(name: &str, p: &PerfProfile, level: f64) -> String {
    let m = &p.model;
    let key = level_key(level);
    let mut out = match (p.kind, m.ms_per_batch) {
        (PerfKind::Measured, Some(ms)) => {
            let threads = m.threads.map_or("auto".into(), |t| t.to_string());
            let mut line = format!(
                "Performance profile '{name}': batch {}, threads {threads}, {} runs after {} warmup.\n  {} ms per batch (p50 {}, p90 {}), {:.0} items per second.\n",
                m.batch,
                m.iterations,
                m.warmup,
                ms3(ms),
                m.p50_ms.map_or("?".into(), ms3),
                m.p90_ms.map_or("?".into(), ms3),
                m.items_per_second.unwrap_or(0.0)
            );
            if let Some(est) = m.estimated_ms.get(&key) {
                line.push_str(&format!(
                    "  Estimated at {:.0}% sparsity on a sparsity-aware engine: {} ms ({:.2}x).\n",
                    level * 100.0,
                    ms3(*est),
                    ms / est.max(1e-12)
                ));
            }
            line
        }
        _ => {
            let mut line = format!(
                "FLOPs profile '{name}' (nothing was run): {} FLOPs at batch {}.\n",
                prunekit_core::format::si(m.flops),
                m.batch
            );
            if let Some(f) = m.estimated_flops.get(&key) {
                line.push_str(&format!(
                    "  At {:.0}% sparsity: {} FLOPs ({:.2}x fewer).\n",
                    level * 100.0,
                    prunekit_core::format::si(*f as u64),
                    m.flops as f64 / f.max(1.0)
                ));
            }
            line
        }
    };
    for note in p.fused.iter().take(8) {
        out.push_str(&format!("  fused: {note}\n"));
    }
    if p.fused.len() > 8 {
        out.push_str(&format!("  fused: ... and {} more\n", p.fused.len() - 8));
    }
    for note in &p.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    out
}

fn perf_text(name: &str, p: &PerfProfile, level: f64) -> String {
    let key = level_key(level);
    let mut out = perf_summary(name, p, level);
    let measured = p.kind == PerfKind::Measured;
    out.push_str(&format!(
        "\n{:<40} {:>18} {:>12} {:>14}\n",
        "layer",
        "op",
        if measured { "ms" } else { "FLOPs" },
        format!("at {}", key)
    ));
    for l in &p.layers {
        let (now, at) = if measured {
            (
                l.ms.map_or("-".into(), ms3),
                l.estimated_ms.get(&key).map_or(String::new(), |v| ms3(*v)),
            )
        } else {
            (
                l.flops.map_or("-".into(), prunekit_core::format::si),
                l.estimated_flops
                    .get(&key)
                    .map_or(String::new(), |v| prunekit_core::format::si(*v as u64)),
            )
        };
        out.push_str(&format!(
            "{:<40} {:>18} {:>12} {:>14}\n",
            keep_tail(&l.name, 40),
            l.op_type,
            now,
            at
        ));
    }
    out
}

fn perf_table(p: &PerfProfile, level: f64) -> String {
    let key = level_key(level);
    let measured = p.kind == PerfKind::Measured;
    let at = format!("estimated at {key}");
    let columns = if measured {
        vec![
            col("layer", false),
            col("op", false),
            col("ms", true),
            col("p90 ms", true),
            col(&at, true),
            col("fused with", false),
        ]
    } else {
        vec![
            col("layer", false),
            col("op", false),
            col("FLOPs", true),
            col(&at, true),
        ]
    };
    let rows: Vec<Vec<String>> = p
        .layers
        .iter()
        .map(|l| {
            if measured {
                vec![
                    l.name.clone(),
                    l.op_type.clone(),
                    l.ms.map_or("-".into(), ms3),
                    l.p90_ms.map_or("-".into(), ms3),
                    l.estimated_ms.get(&key).map_or(String::new(), |v| ms3(*v)),
                    l.fused_from.join(", "),
                ]
            } else {
                vec![
                    l.name.clone(),
                    l.op_type.clone(),
                    l.flops.map_or("-".into(), prunekit_core::format::si),
                    l.estimated_flops
                        .get(&key)
                        .map_or(String::new(), |v| prunekit_core::format::si(*v as u64)),
                ]
            }
        })
        .collect();
    table::html(None, &columns, &rows)
}

fn loss_summary(name: &str, p: &LossProfile) -> String {
    let mut out = format!(
        "Loss profile '{name}' ({}, {}): {} layers over {} levels in {:.1} s.\n",
        p.method.name(),
        p.metric.replace('_', " "),
        p.layers.len(),
        p.levels.len(),
        p.seconds
    );
    if let Some(acc) = p.model.baseline_accuracy {
        out.push_str(&format!("  Unpruned accuracy: {:.1}%.\n", acc * 100.0));
    }
    for s in &p.skipped {
        out.push_str(&format!("  skipped {}: {}\n", s.name, s.reason));
    }
    for note in &p.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    if let Some(q) = &p.quantization {
        out.push_str(&format!(
            "  int8 ({} quantization, {} calibration{}): all {} layers at once cost {:.5} {}{}.\n",
            q.mode.name(),
            q.calibration.name(),
            if q.per_channel {
                ", per-channel weights"
            } else {
                ", per-tensor weights"
            },
            q.layers.len(),
            q.model.value,
            q.metric.replace('_', " "),
            match (q.float_accuracy, q.model.accuracy) {
                (Some(f), Some(a)) =>
                    format!("; accuracy {:.1}% float, {:.1}% int8", f * 100.0, a * 100.0),
                _ => String::new(),
            }
        ));
    }
    out
}

/// The int8 sensitivity of each layer, most sensitive first.
fn quantization_rows(p: &LossProfile) -> String {
    let Some(q) = &p.quantization else {
        return String::new();
    };
    let mut layers: Vec<_> = q.layers.iter().collect();
    layers.sort_by_key(|l| l.rank);
    let mut out = format!(
        "\n{:>4} {:<40} {:>12} {:>10}\n",
        "rank", "layer (int8 alone)", &q.metric, "accuracy"
    );
    for l in layers {
        out.push_str(&format!(
            "{:>4} {:<40} {:>12.6} {:>10}\n",
            l.rank,
            keep_tail(&l.name, 40),
            l.value,
            l.accuracy
                .map_or(String::new(), |a| format!("{:.1}%", a * 100.0))
        ));
    }
    out
}

fn loss_rows(p: &LossProfile) -> String {
    let with_acc = p.layers.iter().any(|l| l.accuracy.is_some());
    let mut out = format!(
        "{:>4} {:<40} {:>12} {:>12}{}\n",
        "rank",
        "layer",
        "integral",
        "at 0.9",
        if with_acc { "  accuracy at 0.9" } else { "" }
    );
    for l in &p.layers {
        out.push_str(&format!(
            "{:>4} {:<40} {:>12.5} {:>12.5}{}\n",
            l.rank,
            keep_tail(&l.name, 40),
            l.integral,
            l.at_90,
            accuracy_at_90(p, l).map_or(String::new(), |a| format!("  {:>15.1}%", a * 100.0))
        ));
    }
    out
}

fn accuracy_at_90(p: &LossProfile, l: &profile::LayerLoss) -> Option<f64> {
    l.accuracy
        .as_ref()
        .map(|acc| profile::levels::interpolate(&p.levels, acc, 0.9))
}

fn loss_table(p: &LossProfile) -> String {
    let with_acc = p.layers.iter().any(|l| l.accuracy.is_some());
    let mut columns = vec![
        col("rank", true),
        col("layer", false),
        col("weight", false),
        col("op", false),
        col("integral", true),
        col("at 0.9", true),
    ];
    if with_acc {
        columns.push(col("accuracy at 0.9", true));
    }
    let rows: Vec<Vec<String>> = p
        .layers
        .iter()
        .map(|l| {
            let mut row = vec![
                l.rank.to_string(),
                l.name.clone(),
                l.weight.clone(),
                l.op_type.clone(),
                format!("{:.5}", l.integral),
                format!("{:.5}", l.at_90),
            ];
            if with_acc {
                row.push(
                    accuracy_at_90(p, l).map_or(String::new(), |a| format!("{:.1}%", a * 100.0)),
                );
            }
            row
        })
        .collect();
    table::html(None, &columns, &rows)
}

//! `benchmark [--batch LIST] [--threads LIST] [--iterations N | --seconds S] [--warmup N] [--optimization NAME]
//! [--name NAME]`: measured latency and throughput in ONNX Runtime, of the dense model alone or
//! against an optimization's pruned model, saved in the project file.

use prunekit_core::benchmark::{self, Benchmark, BenchmarkOptions, BenchmarkRun, Iterations};
use prunekit_core::project::{self, Found, ProjectFile};
use std::path::{Path, PathBuf};

use prunekit_core::model::onnx::ModelProto;
use prunekit_core::quantize::{QuantizeOptions, quantize};
use prunekit_core::{Cancel, Error, Result, chart, export};

use super::flags::Flags;
use super::output::{Output, Sink};
use crate::display::bundle::Bundle;
use crate::display::progress::ProgressDisplay;
use crate::display::table::{self, Column, escape};
use crate::session::KernelSession;

const DEFAULT_WARMUP: usize = 5;
/// Generated samples that calibrate the quantized models a benchmark times.
const BENCHMARK_CALIBRATION_SAMPLES: usize = 16;

/// Said with every comparison: what ONNX Runtime can and cannot show.
const DENSE_KERNELS: &str = "ONNX Runtime's CPU kernels are dense, so an unstructured-pruned model runs at about dense speed there; the estimate is what a sparsity-aware engine would give.";

pub fn benchmark(
    session: &mut KernelSession,
    words: &[String],
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<()> {
    let flags = Flags::parse(
        "benchmark",
        words,
        &[
            "--batch",
            "--threads",
            "--iterations",
            "--seconds",
            "--warmup",
            "--optimization",
            "--name",
            "--quantize",
        ],
        &[],
    )?;
    flags.no_positional()?;
    let loaded = session.model()?;
    let default_batch = loaded
        .analysis
        .inputs
        .first()
        .and_then(|i| i.shape.as_ref())
        .and_then(|s| s.first())
        .map_or(1, |&d| d.max(1) as usize);
    let batches = match flags.get("--batch") {
        Some(text) => list(text, "--batch", |w| {
            w.parse().ok().filter(|&b: &usize| b > 0)
        })?,
        None => vec![default_batch],
    };
    let threads = match flags.get("--threads") {
        Some(text) => list(text, "--threads", |w| match w {
            "auto" | "all" => Some(None),
            n => n.parse().ok().filter(|&t: &usize| t > 0).map(Some),
        })?,
        None => vec![session.settings.threads],
    };
    let options = BenchmarkOptions {
        batches,
        threads,
        iterations: iterations(&flags)?,
        warmup: flags.count("--warmup", 0)?.unwrap_or(DEFAULT_WARMUP),
        seed: session.settings.seed,
    };
    let project = match project::read(&loaded.path)? {
        Found::Project(p) => *p,
        _ => ProjectFile::new(&loaded.path),
    };
    // The pruned and quantized models go to temporary files for the run.
    let mut estimated = None;
    let optimization = flags.get("--optimization").map(str::to_string);
    let plan = match &optimization {
        Some(name) => Some(project.optimizations.get(name).ok_or_else(|| {
            let have: Vec<&str> = project.optimizations.keys().map(String::as_str).collect();
            Error::Usage(format!(
                "there is no optimization '{name}'; the choices are {} (run `optimize`).",
                if have.is_empty() {
                    "none yet".into()
                } else {
                    have.join(", ")
                }
            ))
        })?),
        None => None,
    };
    // --quantize, else what the optimization asks for.
    let quantization: Option<QuantizeOptions> = match flags.get("--quantize") {
        Some("off") => None,
        Some(text) => {
            let mode = super::quantization::mode("--quantize", text)?;
            Some(match plan.and_then(|p| p.quantization.as_ref()) {
                Some(q) if q.mode == mode => QuantizeOptions::from_plan(q, None, options.seed),
                _ => QuantizeOptions {
                    seed: options.seed,
                    ..QuantizeOptions::new(mode)
                },
            })
        }
        None => plan
            .and_then(|p| p.quantization.as_ref())
            .map(|q| QuantizeOptions::from_plan(q, None, options.seed)),
    };
    // Timing does not depend on the calibrated ranges: a few generated samples set them.
    // A whole number of the model's batches, in case its batch dim is fixed.
    let calibration_samples = BENCHMARK_CALIBRATION_SAMPLES.div_ceil(default_batch) * default_batch;
    let quantization = quantization.map(|q| QuantizeOptions {
        samples: Some(calibration_samples),
        threads: session.settings.threads,
        ..q
    });
    let mut models: Vec<(&str, PathBuf)> = vec![("dense", loaded.path.clone())];
    let scratch = |what: &str| {
        std::env::temp_dir().join(format!(
            "prunekit-benchmark-{}-{}-{what}.onnx",
            std::process::id(),
            uuid::Uuid::new_v4()
        ))
    };
    let remove_scratch = |models: &[(&str, PathBuf)]| {
        for (_, path) in models.iter().skip(1) {
            let _ = std::fs::remove_file(path);
        }
    };
    // Only the pruned and quantized models need preparing (the dense one is timed from its file).
    if plan.is_some() || quantization.is_some() {
        let preparing = ProgressDisplay::start(sink, "preparing the models to time");
        let prepared = (|| -> Result<()> {
            let model = prunekit_core::load(&loaded.path)?;
            let mut add = |name: &'static str, proto: &ModelProto| -> Result<()> {
                let path = scratch(name);
                prunekit_core::save(proto, &path)?;
                models.push((name, path));
                Ok(())
            };
            if let Some(q) = &quantization {
                add(
                    "quantized",
                    &quantize(&model, &loaded.analysis, q, &preparing, cancel)?.proto,
                )?;
            }
            if let Some(plan) = plan {
                estimated = plan.model.estimated_speedup;
                let (proto, _) = export::model::pruned_model(&model, plan)?;
                add("pruned", &proto)?;
                if let Some(q) = &quantization {
                    let pruned = prunekit_core::Model { proto, ..model };
                    add(
                        "pruned+quantized",
                        &quantize(&pruned, &loaded.analysis, q, &preparing, cancel)?.proto,
                    )?;
                }
            }
            Ok(())
        })();
        if let Err(err) = prepared {
            preparing.finish(0, 1, "failed");
            remove_scratch(&models);
            return Err(err);
        }
        preparing.finish(1, 1, "ready");
    }
    let model_refs: Vec<(&str, &Path)> = models.iter().map(|(n, p)| (*n, p.as_path())).collect();
    let progress = ProgressDisplay::start(sink, "benchmarking");
    let result = benchmark::run(&model_refs, &loaded.analysis, &options, &progress, cancel);
    remove_scratch(&models);
    match &result {
        Ok(_) => progress.finish(1, 1, "benchmarked"),
        Err(Error::Cancelled) => {
            progress.finish(0, 1, "interrupted; the project file is unchanged")
        }
        Err(_) => progress.finish(0, 1, "failed"),
    }
    let runs = result?;
    let mut notes = Vec::new();
    if optimization.is_some() {
        notes.push(DENSE_KERNELS.to_string());
    }
    if let Some(q) = &quantization {
        notes.push(format!(
            "The {} int8 models were calibrated on {calibration_samples} generated samples: their ranges do not change how long they take. ONNX Runtime runs them with its integer kernels{}.",
            q.mode.name(),
            cpu_int8_note()
        ));
    }
    let result = Benchmark {
        optimization: optimization.clone(),
        runs,
        notes,
    };
    let name = flags
        .get("--name")
        .map(str::to_string)
        .or(optimization.clone())
        .or(quantization
            .as_ref()
            .map(|q| format!("int8-{}", q.mode.name())))
        .unwrap_or_else(|| "dense".into());
    let saved = result.clone();
    super::saving::save(&loaded.path, sink, |p| {
        p.benchmarks.insert(name.clone(), saved);
    })?;

    let mut charts = vec![chart::benchmark_iterations(&result.runs)?];
    if options.batches.len() > 1 {
        charts.push(chart::benchmark_batch_scaling(&result.runs)?);
    }
    if options.threads.len() > 1 {
        charts.push(chart::benchmark_thread_scaling(&result.runs)?);
    }
    if optimization.is_some() {
        charts.push(chart::benchmark_comparison(&result.runs, estimated)?);
    }
    if quantization.is_some() {
        charts.push(chart::benchmark_speedups(&result.runs)?);
    }
    for c in charts {
        sink.emit(Output::Display {
            bundle: Bundle::text("[chart: benchmark]").png(&c.png, c.width, c.height),
            display_id: None,
        });
    }
    let summary = summary(&name, &result, estimated);
    let mut value = serde_json::to_value(&result).expect("benchmarks serialize");
    value["name"] = serde_json::json!(name);
    if optimization.is_some() || quantization.is_some() {
        value["estimated_speedup"] = serde_json::json!(estimated);
        value["speedups"] = serde_json::json!(measured_speedups(&result.runs));
    }
    sink.emit(Output::Result(
        Bundle::text(format!("{summary}\n{}", rows_text(&result.runs)))
            .html(format!(
                "<pre>{}</pre>{}",
                escape(&summary),
                rows_html(&result.runs)
            ))
            .json(&value),
    ));
    Ok(())
}

fn list<T>(text: &str, flag: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>> {
    text.split(',')
        .map(|w| {
            parse(w.trim()).ok_or_else(|| {
                Error::Usage(format!(
                    "{flag} {text}: '{w}' is not valid; give whole numbers above 0 separated by commas, such as 1,8,32{}.",
                    if flag == "--threads" { " (or auto)" } else { "" }
                ))
            })
        })
        .collect()
}

/// Dense against every other model's ms per item, for each configuration timed with both.
fn measured_speedups(runs: &[BenchmarkRun]) -> Vec<serde_json::Value> {
    runs.iter()
        .filter(|r| r.model != "dense")
        .filter_map(|other| {
            let dense = runs.iter().find(|r| {
                r.model == "dense" && r.batch == other.batch && r.threads == other.threads
            })?;
            Some(serde_json::json!({
                "model": other.model,
                "batch": dense.batch,
                "threads": dense.threads,
                "measured": dense.ms_per_item / other.ms_per_item.max(1e-12),
            }))
        })
        .collect()
}

/// Whether this CPU has the instructions ONNX Runtime's int8 kernels are fastest with.
fn cpu_int8_note() -> String {
    let isa = prunekit_core::benchmark::int8_isa();
    if isa.is_empty() {
        String::new()
    } else {
        format!(" (this CPU has {})", isa.join(", "))
    }
}

fn threads_label(t: Option<usize>) -> String {
    t.map_or("auto".into(), |t| t.to_string())
}

fn summary(name: &str, b: &Benchmark, estimated: Option<f64>) -> String {
    let mut out = format!(
        "Benchmark '{name}': {} runs in ONNX Runtime{}.\n",
        b.runs.len(),
        b.optimization.as_ref().map_or(String::new(), |o| format!(
            ", dense against optimization '{o}'"
        ))
    );
    for dense in b.runs.iter().filter(|r| r.model == "dense") {
        for other in b
            .runs
            .iter()
            .filter(|r| r.model != "dense" && r.batch == dense.batch && r.threads == dense.threads)
        {
            out.push_str(&format!(
                "  batch {}, threads {}: {} measured speedup {:.2}x ({:.3} against {:.3} ms per item){}.\n",
                dense.batch,
                threads_label(dense.threads),
                other.model,
                dense.ms_per_item / other.ms_per_item.max(1e-12),
                other.ms_per_item,
                dense.ms_per_item,
                match estimated {
                    Some(e) if other.model == "pruned" =>
                        format!("; estimated on a sparsity-aware engine: {e:.2}x"),
                    _ => String::new(),
                }
            ));
        }
    }
    for note in &b.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    out
}

fn row(r: &BenchmarkRun) -> Vec<String> {
    let l = &r.ms_per_batch;
    vec![
        r.model.clone(),
        r.batch.to_string(),
        threads_label(r.threads),
        r.iterations.to_string(),
        format!("{:.3}", l.mean),
        format!("{:.3}", l.p50),
        format!("{:.3}", l.p90),
        format!("{:.3}", l.p99),
        format!("{:.4}", r.ms_per_item),
        format!("{:.1}", r.items_per_second),
    ]
}

const TITLES: [&str; 10] = [
    "model", "batch", "threads", "runs", "mean ms", "p50 ms", "p90 ms", "p99 ms", "ms/item",
    "items/s",
];

fn rows_text(runs: &[BenchmarkRun]) -> String {
    // The model column fits its longest name ("pruned+quantized"); the numbers take 9.
    let first = runs.iter().map(|r| r.model.len()).max().unwrap_or(0).max(9);
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:>first$}")
                } else {
                    format!("{c:>9}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
            + "\n"
    };
    let mut out = line(TITLES.iter().map(|t| t.to_string()).collect());
    for r in runs {
        out.push_str(&line(row(r)));
    }
    out
}

fn rows_html(runs: &[BenchmarkRun]) -> String {
    let columns: Vec<Column> = TITLES
        .iter()
        .enumerate()
        .map(|(i, t)| Column {
            title: t,
            is_numeric: i > 0,
        })
        .collect();
    let rows: Vec<Vec<String>> = runs.iter().map(row).collect();
    table::html(None, &columns, &rows)
}

/// `--iterations N` or `--seconds S` (a time budget per configuration), else Sparsify's rule.
fn iterations(flags: &Flags) -> Result<Iterations> {
    let runs = flags.count("--iterations", 1)?;
    let seconds = flags.get("--seconds");
    match (runs, seconds) {
        (Some(_), Some(_)) => Err(Error::Usage(
            "give --iterations or --seconds, not both.".into(),
        )),
        (Some(n), None) => Ok(Iterations::Runs(n)),
        (None, Some(text)) => match text.parse::<f64>() {
            Ok(s) if s > 0.0 && s.is_finite() => Ok(Iterations::Seconds(s)),
            _ => Err(Error::Usage(format!(
                "--seconds takes a positive number of seconds per configuration, not '{text}'."
            ))),
        },
        (None, None) => Ok(Iterations::Sparsify),
    }
}

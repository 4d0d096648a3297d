//! `benchmark [--batch LIST] [--threads LIST] [--iterations N | --seconds S] [--warmup N] [--optimization NAME]
//! [--name NAME]`: measured latency and throughput in ONNX Runtime, of the dense model alone or
//! against an optimization's pruned model, saved in the project file.

use prunekit_core::benchmark::{self, Benchmark, BenchmarkOptions, BenchmarkRun, Iterations};
use prunekit_core::project::{self, Found, ProjectFile};
use prunekit_core::{Cancel, Error, Result, chart, export};

use super::flags::Flags;
use super::output::{Output, Sink};
use crate::display::bundle::Bundle;
use crate::display::progress::ProgressDisplay;
use crate::display::table::{self, Column, escape};
use crate::session::KernelSession;

const DEFAULT_WARMUP: usize = 5;

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
    // The pruned model of an optimization goes to a temporary file for the run.
    let scratch = std::env::temp_dir().join(format!(
        "prunekit-benchmark-{}-{}.onnx",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    let mut estimated = None;
    let optimization = flags.get("--optimization").map(str::to_string);
    if let Some(name) = &optimization {
        let plan = project.optimizations.get(name).ok_or_else(|| {
            let have: Vec<&str> = project.optimizations.keys().map(String::as_str).collect();
            Error::Usage(format!(
                "there is no optimization '{name}'; the choices are {} (run `optimize`).",
                if have.is_empty() {
                    "none yet".into()
                } else {
                    have.join(", ")
                }
            ))
        })?;
        estimated = plan.model.estimated_speedup;
        let model = prunekit_core::load(&loaded.path)?;
        let (proto, _) = export::model::pruned_model(&model, plan)?;
        prunekit_core::save(&proto, &scratch)?;
    }
    let mut models = vec![("dense", loaded.path.as_path())];
    if optimization.is_some() {
        models.push(("pruned", scratch.as_path()));
    }
    let progress = ProgressDisplay::start(sink, "benchmarking");
    let result = benchmark::run(&models, &loaded.analysis, &options, &progress, cancel);
    let _ = std::fs::remove_file(&scratch);
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
    let result = Benchmark {
        optimization: optimization.clone(),
        runs,
        notes,
    };
    let name = flags
        .get("--name")
        .map(str::to_string)
        .or(optimization.clone())
        .unwrap_or_else(|| "dense".into());
    let saved = result.clone();
    project::update(&loaded.path, |p| {
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
    for c in charts {
        sink.emit(Output::Display {
            bundle: Bundle::text("[chart: benchmark]").png(&c.png, c.width, c.height),
            display_id: None,
        });
    }
    let summary = summary(&name, &result, estimated);
    let mut value = serde_json::to_value(&result).expect("benchmarks serialize");
    value["name"] = serde_json::json!(name);
    if optimization.is_some() {
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

/// Dense against pruned ms per item, for each configuration timed with both.
fn measured_speedups(runs: &[BenchmarkRun]) -> Vec<serde_json::Value> {
    runs.iter()
        .filter(|r| r.model == "dense")
        .filter_map(|dense| {
            let pruned = runs.iter().find(|r| {
                r.model == "pruned" && r.batch == dense.batch && r.threads == dense.threads
            })?;
            Some(serde_json::json!({
                "batch": dense.batch,
                "threads": dense.threads,
                "measured": dense.ms_per_item / pruned.ms_per_item.max(1e-12),
            }))
        })
        .collect()
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
        if let Some(pruned) = b
            .runs
            .iter()
            .find(|r| r.model == "pruned" && r.batch == dense.batch && r.threads == dense.threads)
        {
            out.push_str(&format!(
                "  batch {}, threads {}: measured speedup {:.2}x ({:.3} against {:.3} ms per item){}.\n",
                dense.batch,
                threads_label(dense.threads),
                dense.ms_per_item / pruned.ms_per_item.max(1e-12),
                pruned.ms_per_item,
                dense.ms_per_item,
                estimated.map_or(String::new(), |e| format!("; estimated on a sparsity-aware engine: {e:.2}x"))
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
    let mut out = TITLES
        .iter()
        .map(|t| format!("{t:>9}"))
        .collect::<Vec<_>>()
        .join(" ")
        + "\n";
    for r in runs {
        out.push_str(
            &(row(r)
                .iter()
                .map(|c| format!("{c:>9}"))
                .collect::<Vec<_>>()
                .join(" ")
                + "\n"),
        );
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

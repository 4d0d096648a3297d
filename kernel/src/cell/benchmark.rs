//! `benchmark [--batch LIST] [--threads LIST] [--iterations N | --seconds S] [--warmup N] [--optimization NAME]
//! [--name NAME]`: measured latency and throughput in ONNX Runtime, of the dense model alone or
//! against an optimization's pruned model, saved in the project file. The flags become a request
//! to `workflow::benchmark`, which builds and times the models.

use prunekit_core::benchmark::{Benchmark, BenchmarkOptions, BenchmarkRun, Iterations};
use prunekit_core::optimize::plan::MeasuredSpeedup;
use prunekit_core::profile::perf::{ENGINE, MEASURED_ERROR};
use prunekit_core::workflow::benchmark::BenchmarkRequest;
use prunekit_core::workflow::fit::QuantizeChoice;
use prunekit_core::workflow::{self, Outcome, Step};
use prunekit_core::{Cancel, Error, Result, chart, format};

use super::flags::Flags;
use super::output::{Output, Sink};
use super::steps::StepDisplay;
use crate::display::bundle::Bundle;
use crate::display::table::{self, Column, escape};
use crate::session::KernelSession;

const DEFAULT_WARMUP: usize = 5;

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
    let default_batch = prunekit_core::runtime::analysis_batch(&loaded.analysis);
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
    let request = BenchmarkRequest {
        options,
        optimization: flags.get("--optimization").map(str::to_string),
        quantize: match flags.get("--quantize") {
            None => QuantizeChoice::Keep,
            Some("off") => QuantizeChoice::Off,
            Some(text) => QuantizeChoice::Mode(super::quantization::mode("--quantize", text)?),
        },
        threads: session.settings.threads,
        name: flags.get("--name").map(str::to_string),
    };
    let steps = StepDisplay::new(sink, step_words);
    let done = workflow::benchmark::run(&loaded.path, &loaded.analysis, &request, &steps, cancel)?;
    super::saving::moved_aside_all(sink, &done.moved_aside);
    let (name, result, estimated) = (&done.name, &done.benchmark, done.estimated);
    let optimization = &request.optimization;
    let options = &request.options;
    let mut charts = vec![chart::benchmark_iterations(&result.runs)?];
    if options.batches.len() > 1 {
        charts.push(chart::benchmark_batch_scaling(&result.runs)?);
    }
    if options.threads.len() > 1 {
        charts.push(chart::benchmark_thread_scaling(&result.runs)?);
    }
    if optimization.is_some() {
        charts.push(chart::benchmark_comparison(
            &result.runs,
            estimated,
            done.structured,
        )?);
    }
    if done.quantized.is_some() {
        charts.push(chart::benchmark_speedups(&result.runs)?);
    }
    for c in charts {
        sink.emit(Output::Display {
            bundle: Bundle::text("[chart: benchmark]").png(&c.png, c.width, c.height),
            display_id: None,
        });
    }
    let summary = summary(name, result, estimated, &done);
    let mut value = serde_json::to_value(result).expect("benchmarks serialize");
    value["name"] = serde_json::json!(name);
    if optimization.is_some() || done.quantized.is_some() {
        value["estimated_speedup"] = serde_json::json!(estimated);
        value["structured"] = serde_json::json!(done.structured);
        value["planned_speedup"] = serde_json::json!(done.planned);
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

/// What the progress displays of preparing and timing say.
fn step_words(step: Step, outcome: Option<Outcome>) -> &'static str {
    match (step, outcome) {
        (Step::PreparingModels, None) => "preparing the models to time",
        (Step::PreparingModels, Some(Outcome::Done)) => "ready",
        (_, None) => "benchmarking",
        (_, Some(Outcome::Done)) => "benchmarked",
        (Step::Benchmarking, Some(Outcome::Cancelled)) => {
            "interrupted; the project file is unchanged"
        }
        (_, Some(_)) => "failed",
    }
}

fn threads_label(t: Option<usize>) -> String {
    t.map_or("auto".into(), |t| t.to_string())
}

fn summary(
    name: &str,
    b: &Benchmark,
    estimated: Option<f64>,
    done: &prunekit_core::workflow::benchmark::Benchmarked,
) -> String {
    let structured = done.structured;
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
                "  batch {}, threads {}: {} measured speedup {:.2}x ({} against {} ms per item){}.\n",
                dense.batch,
                threads_label(dense.threads),
                other.model,
                dense.ms_per_item / other.ms_per_item.max(1e-12),
                format::num(other.ms_per_item),
                format::num(dense.ms_per_item),
                match (estimated, &done.planned) {
                    // A plan fitted in its quantized form was timed, and estimated, quantized.
                    (_, Some(MeasuredSpeedup { over_float: Some(x), speedup, batch, .. })) => {
                        if other.model == "pruned+quantized" && *batch == dense.batch {
                            format!(
                                "; timed when the plan was fitted: {x:.2}x ({speedup:.2}x over the quantized original{})",
                                estimated.map_or(String::new(), |e| format!(", estimated from its layer times: {e:.2}x"))
                            )
                        } else {
                            String::new()
                        }
                    }
                    (_, Some(p)) if other.model == "pruned" && p.batch == dense.batch => format!(
                        "; timed when the plan was fitted: {:.2}x{}",
                        p.speedup,
                        estimated.map_or(String::new(), |e| format!(", estimated from the layer times: {e:.2}x"))
                    ),
                    (Some(e), _) if other.model == "pruned" && structured =>
                        format!("; estimated from the layer times: {e:.2}x"),
                    (Some(e), _) if other.model == "pruned" =>
                        format!("; estimate for {ENGINE}: {e:.2}x ({MEASURED_ERROR})"),
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

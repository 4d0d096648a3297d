//! Benchmarks: measured latency and throughput of the model in ONNX Runtime, for each batch size
//! and thread count asked for, dense alone or dense against an optimization's pruned model.
//!
//! The harness is kept as thin as onnxruntime's own Python API would be: one session per model and
//! thread count, inputs made once per batch size, and a wall clock around each `run` call alone
//! (the docs' benchmark compares it with `InferenceSession.run` side by side).

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::ModelAnalysis;
use crate::error::{Error, Result, Sentence, Setting};
use crate::progress::{Cancel, Progress};
use crate::runtime::{InputArray, ModelSession, SessionOptions, generated_inputs, to_value};

#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkOptions {
    pub batches: Vec<usize>,
    /// `None` in the list: ONNX Runtime's choice (every core).
    pub threads: Vec<Option<usize>>,
    /// How many timed runs each configuration gets.
    pub iterations: Iterations,
    pub warmup: usize,
    pub seed: u64,
}

/// How long each configuration is timed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Iterations {
    /// Sparsify's rule for the batch size ([`default_iterations`]).
    Sparsify,
    /// Exactly this many timed runs.
    Runs(usize),
    /// Timed runs until this many seconds have passed (at least [`MIN_BUDGET_RUNS`], at most
    /// [`MAX_BUDGET_RUNS`]), so a slow
    /// model is not run longer than the user can wait and a fast one gets many samples.
    Seconds(f64),
}

/// The fewest timed runs a time budget gives, so that p50 and p90 mean something.
pub const MIN_BUDGET_RUNS: usize = 3;
/// The most: every run's time is kept (the per-iteration chart, the project file), and p99 is
/// settled long before this on a model fast enough to reach it.
pub const MAX_BUDGET_RUNS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Benchmark {
    /// The optimization whose pruned model was compared, if any.
    pub optimization: Option<String>,
    pub runs: Vec<BenchmarkRun>,
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkRun {
    /// "dense", or "pruned" (the optimization's model).
    pub model: String,
    pub batch: usize,
    pub threads: Option<usize>,
    pub iterations: usize,
    pub warmup: usize,
    pub ms_per_batch: Latency,
    pub ms_per_item: f64,
    pub items_per_second: f64,
    /// Every timed run, in order, for the per-iteration chart.
    pub ms: Vec<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

/// Sparsify's rule: `round(5 + 25·e^(1 − batch^0.25))` timed runs, 30 at batch 1 and fewer for
/// large batches, whose runs take longer.
pub fn default_iterations(batch: usize) -> usize {
    (5.0 + 25.0 * (1.0 - (batch.max(1) as f64).powf(0.25)).exp()).round() as usize
}

/// Times every (model, batch, threads) combination in turn.
pub fn run(
    models: &[(&str, &Path)],
    analysis: &ModelAnalysis,
    options: &BenchmarkOptions,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<Vec<BenchmarkRun>> {
    if options.batches.is_empty() || options.threads.is_empty() {
        return Err(Error::Usage(
            "give at least one batch size and one thread count.".into(),
        ));
    }
    // Progress counts each configuration as PER_CONFIG units, whatever its budget.
    const PER_CONFIG: u64 = 1000;
    let total = (models.len() * options.threads.len() * options.batches.len()) as u64 * PER_CONFIG;
    // Every size is checked before the first is timed, so an oversized batch fails at once.
    for &batch in &options.batches {
        crate::runtime::memory::check_activations(analysis, batch, "the benchmark")?;
    }
    let mut configs_done = 0u64;
    let mut runs = Vec::new();
    for &threads in &options.threads {
        for &(name, path) in models {
            cancel.check()?;
            let mut session = ModelSession::from_file(path, &SessionOptions { threads })?;
            for &batch in &options.batches {
                // Made into ONNX Runtime values once: the timed region is the `run` call alone.
                let inputs = inputs_at(analysis, batch, options.seed)?
                    .iter()
                    .map(|(n, a)| Ok((n.clone(), to_value(a)?)))
                    .collect::<Result<Vec<_>>>()?;
                let label = format!(
                    "{name}, batch {batch}, {} threads",
                    threads.map_or("all".into(), |t| t.to_string())
                );
                let report = |fraction: f64| {
                    let within = (fraction.clamp(0.0, 1.0) * PER_CONFIG as f64) as u64;
                    progress.report(configs_done * PER_CONFIG + within, total, &label);
                };
                for i in 0..options.warmup {
                    cancel.check()?;
                    session.run_values(&inputs)?;
                    report(0.1 * (i + 1) as f64 / options.warmup as f64);
                }
                let mut ms = Vec::new();
                let timed = Instant::now();
                loop {
                    let fraction = match options.iterations {
                        Iterations::Sparsify => ms.len() as f64 / default_iterations(batch) as f64,
                        Iterations::Runs(n) => ms.len() as f64 / n.max(1) as f64,
                        Iterations::Seconds(s) if ms.len() < MIN_BUDGET_RUNS => {
                            (timed.elapsed().as_secs_f64() / s).min(0.99)
                        }
                        Iterations::Seconds(_) if ms.len() >= MAX_BUDGET_RUNS => 1.0,
                        Iterations::Seconds(s) => timed.elapsed().as_secs_f64() / s,
                    };
                    if fraction >= 1.0 {
                        break;
                    }
                    report(0.1 + 0.9 * fraction);
                    cancel.check()?;
                    let started = Instant::now();
                    session.run_values(&inputs)?;
                    ms.push(started.elapsed().as_secs_f64() * 1000.0);
                }
                configs_done += 1;
                progress.report(configs_done * PER_CONFIG, total, &label);
                runs.push(summarize(name, batch, threads, options.warmup, ms));
            }
        }
    }
    Ok(runs)
}

fn summarize(
    model: &str,
    batch: usize,
    threads: Option<usize>,
    warmup: usize,
    ms: Vec<f64>,
) -> BenchmarkRun {
    let mut sorted = ms.clone();
    sorted.sort_by(f64::total_cmp);
    let mean = ms.iter().sum::<f64>() / ms.len().max(1) as f64;
    let latency = Latency {
        mean,
        p50: crate::percentile::of_sorted(&sorted, 0.5),
        p90: crate::percentile::of_sorted(&sorted, 0.9),
        p99: crate::percentile::of_sorted(&sorted, 0.99),
    };
    BenchmarkRun {
        model: model.to_string(),
        batch,
        threads,
        iterations: ms.len(),
        warmup,
        ms_per_item: mean / batch as f64,
        items_per_second: batch as f64 * 1000.0 / mean.max(1e-12),
        ms_per_batch: latency,
        ms,
    }
}

/// Seeded inputs in the analysis's shapes with the first dim set to `batch` where it is free.
pub(crate) fn inputs_at(
    analysis: &ModelAnalysis,
    batch: usize,
    seed: u64,
) -> Result<Vec<(String, InputArray)>> {
    let specs = analysis
        .inputs
        .iter()
        .map(|input| {
            let mut shape: Vec<usize> = input
                .shape
                .as_ref()
                .ok_or_else(|| Error::from(crate::analysis::no_known_shape(&input.name).text(".")))?
                .iter()
                .map(|&d| d as usize)
                .collect();
            let free = crate::runtime::batch::fixed_batch(input).is_none();
            if let Some(first) = shape.first_mut() {
                if free {
                    *first = batch;
                } else if *first != batch {
                    return Err(Sentence::new(format!(
                        "input '{}' has a fixed batch of {first}; benchmark it with ",
                        input.name
                    ))
                    .set(Setting::Batch, *first)
                    .text(".")
                    .into());
                }
            }
            Ok((input.name.clone(), input.data_type, shape))
        })
        .collect::<Result<Vec<_>>>()?;
    generated_inputs(&specs, seed)
}

/// The instruction sets ONNX Runtime's x86 int8 kernels pick from, those this CPU has, best
/// last: AVX2 (u8×s8 via 16-bit products), AVX-512 BW, and VNNI (one instruction per 4 products,
/// the largest int8 speedup). Empty elsewhere.
pub fn int8_isa() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            found.push("AVX2");
        }
        if std::arch::is_x86_feature_detected!("avx512bw") {
            found.push("AVX-512 BW");
        }
        if std::arch::is_x86_feature_detected!("avx512vnni") {
            found.push("AVX-512 VNNI");
        } else if std::arch::is_x86_feature_detected!("avxvnni") {
            found.push("AVX-VNNI");
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    /// The digits CNN fixture and its analysis.
    fn digits() -> (std::path::PathBuf, ModelAnalysis) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/digits_cnn.onnx");
        let model = crate::load(&path).unwrap();
        let analysis = crate::analyze(&model, &Default::default()).unwrap();
        (path, analysis)
    }

    #[test]
    fn sparsify_iterations_rule() {
        assert_eq!(default_iterations(1), 30);
        assert!(default_iterations(64) < default_iterations(8));
        assert!(default_iterations(16384) >= 5);
    }

    #[test]
    fn times_each_configuration_and_stops_when_cancelled() {
        let (path, analysis) = digits();
        let options = BenchmarkOptions {
            batches: vec![1, 8],
            threads: vec![Some(1)],
            iterations: Iterations::Runs(7),
            warmup: 2,
            seed: 0,
        };
        let runs = run(
            &[("dense", &path)],
            &analysis,
            &options,
            &NoProgress,
            &Cancel::default(),
        )
        .unwrap();
        assert_eq!(runs.len(), 2);
        for r in &runs {
            assert_eq!(r.ms.len(), 7);
            let l = &r.ms_per_batch;
            assert!(l.mean > 0.0 && l.p50 <= l.p90 && l.p90 <= l.p99);
            assert!((r.items_per_second - r.batch as f64 * 1000.0 / l.mean).abs() < 1e-6);
        }
        let cancel = Cancel::default();
        cancel.cancel();
        let err = run(
            &[("dense", &path)],
            &analysis,
            &options,
            &NoProgress,
            &cancel,
        )
        .unwrap_err();
        assert_eq!(err, Error::Cancelled);
    }

    #[test]
    fn a_time_budget_runs_until_it_is_spent() {
        let (path, analysis) = digits();
        let options = BenchmarkOptions {
            batches: vec![1],
            threads: vec![Some(1)],
            iterations: Iterations::Seconds(0.2),
            warmup: 1,
            seed: 0,
        };
        let started = Instant::now();
        let runs = run(
            &[("dense", &path)],
            &analysis,
            &options,
            &NoProgress,
            &Cancel::default(),
        )
        .unwrap();
        let spent: f64 = runs[0].ms.iter().sum();
        // A run of the digits CNN takes well under a millisecond: many runs, about 0.2 s in all.
        assert!(
            runs[0].ms.len() > 20 && runs[0].ms.len() <= MAX_BUDGET_RUNS,
            "{} runs",
            runs[0].ms.len()
        );
        // The budget bounds the runs' time; the wall time (sessions, warm-up) only has to stay far
        // from what ignoring the budget would take, with room for a loaded machine.
        let longest = runs[0].ms.iter().copied().fold(0.0, f64::max);
        assert!(spent <= 200.0 + longest && started.elapsed().as_secs_f64() < 10.0);
        // A budget shorter than one run still gives the minimum number of runs.
        let tiny = BenchmarkOptions {
            iterations: Iterations::Seconds(1e-9),
            ..options
        };
        let runs = run(
            &[("dense", &path)],
            &analysis,
            &tiny,
            &NoProgress,
            &Cancel::default(),
        )
        .unwrap();
        assert_eq!(runs[0].ms.len(), MIN_BUDGET_RUNS);
    }
}

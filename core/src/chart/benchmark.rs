//! Charts of a benchmark: the latency of each timed run, throughput against batch size and
//! thread count, and dense against pruned ms per item with the measured and estimated speedups.
//! Same look as the profile charts: a bold title, a muted caption, a framed line chart with its
//! legend on the right, or zebra rows with names on the left.

use plotters::style::RGBColor;

use super::Chart;
use super::kit::axis::{TickFormat, nice_step};
use super::kit::bars::{Aside, Bar, BarChart, BarPanel, BarRow};
use super::kit::lines::{LineChart, Series, XTick};
use super::kit::numbers::{num, tick_num, times};
use super::kit::page::empty_scene;
use super::kit::style::{ACCENT, GREY, LIGHT_ACCENT, MARK_POINTS_UP_TO, SERIES};
use super::render::render;
use crate::Result;
use crate::benchmark::BenchmarkRun;

/// The most lines one chart draws (one colour each).
const MAX_LINES: usize = SERIES.len();
/// The estimated time of a pruned model on a sparsity-aware engine: a light accent.
const ESTIMATE: RGBColor = LIGHT_ACCENT;
/// The most rows of the comparison.
const MAX_ROWS: usize = 40;
/// Room inside both ends of the x axis, so that the end points are not on the axes.
const LINE_INSET: f64 = 12.0;

// ---------------------------------------------------------------------------------------------
// The charts.

/// The latency of every timed run (ms per batch) against its iteration number, one line per
/// benchmark run, labelled "dense, batch 1, 2 threads"; at most 8 lines (the first 8 runs with
/// timings; the caption says so).
pub fn benchmark_iterations(runs: &[BenchmarkRun]) -> Result<Chart> {
    let heading = "latency per timed run";
    let with_ms: Vec<&BenchmarkRun> = runs
        .iter()
        .filter(|r| r.ms.iter().any(|v| v.is_finite()))
        .collect();
    let shown = with_ms.len().min(MAX_LINES);
    let mut caption = match with_ms.first() {
        None if runs.is_empty() => "the benchmark has no runs".to_string(),
        None => "the benchmark's runs have no timings".to_string(),
        Some(_) => {
            let warmups: Vec<usize> = with_ms.iter().map(|r| r.warmup).collect();
            let warmup = if warmups.iter().all(|w| *w == warmups[0]) {
                format!("after {} warmup runs", warmups[0])
            } else {
                "after the warmup runs".to_string()
            };
            format!("ms per batch of each timed run, in order, {warmup}")
        }
    };
    if with_ms.len() > shown {
        caption.push_str(&format!(
            " (the first {shown} of {} runs shown)",
            with_ms.len()
        ));
    }
    if with_ms.is_empty() {
        return render(&empty_scene(heading, &caption, "no timed runs to chart"));
    }
    let series: Vec<Series> = with_ms
        .iter()
        .take(shown)
        .map(|r| {
            let points =
                r.ms.iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, v)| ((i + 1) as f64, *v))
                    .collect();
            (run_label(r), points)
        })
        .collect();
    let n = with_ms
        .iter()
        .take(shown)
        .map(|r| r.ms.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let x_hi = (n as f64).max(2.0);
    let step = nice_step((x_hi - 1.0) / 8.0).max(1.0).round();
    let mut x_ticks: Vec<XTick> = vec![(1.0, Some("1".to_string()))];
    let mut t = step;
    while t <= x_hi + 1e-9 {
        if t > 1.0 + 0.4 * step {
            x_ticks.push((t, Some(tick_num(t))));
        }
        t += step;
    }
    let lines = LineChart {
        heading: heading.to_string(),
        caption,
        y_name: "ms per batch".to_string(),
        x_name: "timed run".to_string(),
        x_lo: 1.0,
        x_hi,
        x_ticks,
        x_inset: LINE_INSET,
        series,
        from_zero: false,
        mark: n <= MARK_POINTS_UP_TO,
    };
    render(&lines.scene())
}

/// Throughput (items per second) against batch size, one line per (model, threads). The batch
/// sizes are evenly spaced across, in increasing order (as on a log2 axis for 1, 2, 4, …). With a
/// single batch size the caption says to run several.
pub fn benchmark_batch_scaling(runs: &[BenchmarkRun]) -> Result<Chart> {
    scaling(
        runs,
        "throughput by batch size",
        "batch size",
        |r| Some(r.batch),
        |b| b.map_or_else(String::new, |b| b.to_string()),
        |r| format!("{}, {}", r.model, threads_text(r.threads)),
        "one batch size was run; run several (such as 1, 8 and 32) to see the curve",
    )
}

/// Throughput (items per second) against thread count ("all": ONNX Runtime's choice, every
/// core), one line per (model, batch). With a single thread count the caption says to run
/// several.
pub fn benchmark_thread_scaling(runs: &[BenchmarkRun]) -> Result<Chart> {
    scaling(
        runs,
        "throughput by thread count",
        "threads",
        |r| r.threads,
        |t| t.map_or_else(|| "all".to_string(), |t| t.to_string()),
        |r| format!("{}, batch {}", r.model, r.batch),
        "one thread count was run; run several (such as 1, 2 and 4) to see the curve",
    )
}

/// The measured speedup of every model over the dense one (ms per item), one row per batch size
/// and thread count, one bar per model: what int8 and pruning buy on this CPU in ONNX Runtime.
pub fn benchmark_speedups(runs: &[BenchmarkRun]) -> Result<Chart> {
    let mut models: Vec<&str> = Vec::new();
    let mut keys: Vec<(usize, Option<usize>)> = Vec::new();
    for r in runs {
        if r.model != "dense" && !models.contains(&r.model.as_str()) {
            models.push(&r.model);
        }
        if !keys.contains(&(r.batch, r.threads)) {
            keys.push((r.batch, r.threads));
        }
    }
    keys.sort_by_key(|&(b, t)| (b, t.is_none(), t));
    keys.truncate(MAX_ROWS);
    let ms = |model: &str, key: (usize, Option<usize>)| {
        runs.iter()
            .find(|r| r.model == model && (r.batch, r.threads) == key)
            .map(|r| r.ms_per_item)
            .filter(|ms| ms.is_finite() && *ms > 0.0)
    };
    let heading = "measured speedup over dense, ms per item".to_string();
    let caption = "each model timed in ONNX Runtime on this CPU; 1× is dense speed".to_string();
    // One bar a row (the bar panel holds at most two a row), coloured by model.
    let mut rows: Vec<BarRow> = Vec::new();
    for &key in &keys {
        let Some(dense) = ms("dense", key) else {
            continue;
        };
        for (i, m) in models.iter().enumerate() {
            if let Some(other) = ms(m, key) {
                rows.push(BarRow {
                    name: format!("batch {}, {}: {m}", key.0, threads_text(key.1)),
                    bars: vec![Some(Bar {
                        value: dense / other,
                        label: format!("{:.2}×", dense / other),
                        color: SERIES[i % SERIES.len()],
                    })],
                });
            }
        }
    }
    rows.truncate(MAX_ROWS);
    if rows.is_empty() || models.is_empty() {
        return render(&empty_scene(
            &heading,
            &caption,
            "no batch size and thread count timed with dense and another model",
        ));
    }
    let legend = models
        .iter()
        .enumerate()
        .map(|(i, m)| (SERIES[i % SERIES.len()], m.to_string()))
        .collect();
    let chart = BarChart {
        heading,
        caption,
        panel: BarPanel {
            aside: Aside::Legend(legend),
            ..BarPanel::new(
                "speedup (dense ms per item over the model's)",
                TickFormat::Number,
            )
        },
        rows,
        note: None,
    };
    render(&chart.scene())
}

/// For each (batch, threads) with both a dense and a pruned run: grouped bars of ms per item,
/// dense grey and pruned blue, the measured speedup (dense ms / pruned ms) written beside the
/// pruned bar. With `estimated_speedup` (from a perf profile's cost model for a sparsity-aware
/// engine), a third, light bar per row shows the dense ms over it, and a note below the rows puts
/// the measured and estimated speedups side by side.
/// A structured model (`structured`) is a smaller dense model: its measured speedup is real on
/// any runtime, and its estimate comes from the layer times, which the caption and note say.
pub fn benchmark_comparison(
    runs: &[BenchmarkRun],
    estimated_speedup: Option<f64>,
    structured: bool,
) -> Result<Chart> {
    let estimate = estimated_speedup.filter(|e| e.is_finite() && *e > 0.0);
    let mut keys: Vec<(usize, Option<usize>)> = Vec::new();
    for r in runs {
        let key = (r.batch, r.threads);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.sort_by_key(|&(b, t)| (b, t.is_none(), t));
    let find = |model: &str, key: (usize, Option<usize>)| {
        runs.iter()
            .find(|r| r.model == model && (r.batch, r.threads) == key && r.ms_per_item.is_finite())
    };
    let mut pairs: Vec<(String, f64, f64)> = keys
        .iter()
        .filter_map(|&key| {
            let dense = find("dense", key)?;
            let pruned = find("pruned", key)?;
            let name = format!("batch {}, {}", key.0, threads_text(key.1));
            Some((name, dense.ms_per_item, pruned.ms_per_item))
        })
        .collect();
    let total = pairs.len();
    pairs.truncate(MAX_ROWS);

    let mut heading = "dense against pruned, ms per item".to_string();
    if pairs.len() < total {
        heading.push_str(&format!(", the first {} of {total}", pairs.len()));
    }
    let caption = if structured {
        "whole channels removed: a smaller dense model, as fast on any runtime; the estimate \
         comes from the perf profile's layer times"
    } else {
        "ONNX Runtime's CPU kernels are dense, so the measured speedup is about 1×; the \
         estimate is for a sparsity-aware (DeepSparse-like) engine"
    }
    .to_string();
    if pairs.is_empty() {
        return render(&empty_scene(
            &heading,
            &caption,
            "no batch size and thread count with both a dense and a pruned run",
        ));
    }

    let speedups: Vec<f64> = pairs
        .iter()
        .map(|(_, d, p)| if *p > 0.0 { d / p } else { f64::NAN })
        .collect();
    let rows: Vec<BarRow> = pairs
        .iter()
        .zip(&speedups)
        .map(|((name, dense, pruned), speedup)| {
            let mut bars = vec![
                Some(Bar {
                    value: *dense,
                    label: format!("{} ms", num(*dense)),
                    color: GREY,
                }),
                Some(Bar {
                    value: *pruned,
                    label: format!("{} ms, measured {}", num(*pruned), times(*speedup)),
                    color: ACCENT,
                }),
            ];
            if let Some(e) = estimate {
                let ms = dense / e;
                bars.push(Some(Bar {
                    value: ms,
                    label: format!("{} ms, estimated {}", num(ms), times(e)),
                    color: ESTIMATE,
                }));
            }
            BarRow {
                name: name.clone(),
                bars,
            }
        })
        .collect();
    let mut legend = vec![
        (GREY, "dense".to_string()),
        (ACCENT, "pruned, measured".to_string()),
    ];
    if estimate.is_some() {
        legend.push((ESTIMATE, "pruned, estimated".to_string()));
    }

    // The two speedups side by side.
    let finite: Vec<f64> = speedups.iter().copied().filter(|s| s.is_finite()).collect();
    let measured = match (
        finite.iter().copied().fold(f64::INFINITY, f64::min),
        finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    ) {
        _ if finite.is_empty() => "measured speedup: n/a".to_string(),
        (lo, hi) if times(lo) == times(hi) => format!("measured speedup: {}", times(lo)),
        (lo, hi) => format!("measured speedup: {}–{}", times(lo), times(hi)),
    };
    let engine = if structured {
        "estimated from the layer times"
    } else {
        "estimate for a DeepSparse-like engine"
    };
    let note = match estimate {
        Some(e) => format!("{measured}; {engine}: {}", times(e)),
        None => format!("{measured} (dense ms / pruned ms)"),
    };
    let chart = BarChart {
        heading,
        caption,
        panel: BarPanel {
            aside: Aside::Legend(legend),
            ..BarPanel::new("ms per item", TickFormat::Number)
        },
        rows,
        note: Some(note),
    };
    render(&chart.scene())
}

// ---------------------------------------------------------------------------------------------
// Scaling: items per second against batch size or thread count.

#[allow(clippy::too_many_arguments)]
fn scaling<K: Ord + Copy>(
    runs: &[BenchmarkRun],
    heading: &str,
    x_label: &str,
    x_of: impl Fn(&BenchmarkRun) -> Option<K>,
    x_text: impl Fn(Option<K>) -> String,
    series_of: impl Fn(&BenchmarkRun) -> String,
    run_several: &str,
) -> Result<Chart> {
    let good: Vec<&BenchmarkRun> = runs
        .iter()
        .filter(|r| r.items_per_second.is_finite() && r.items_per_second > 0.0)
        .collect();
    // The x categories, increasing; `None` ("all") last.
    let mut xs: Vec<Option<K>> = Vec::new();
    for r in &good {
        let x = x_of(r);
        if !xs.contains(&x) {
            xs.push(x);
        }
    }
    xs.sort_by_key(|x| (x.is_none(), *x));

    let mut names: Vec<String> = Vec::new();
    for r in &good {
        let name = series_of(r);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let found = names.len();
    names.truncate(MAX_LINES);

    let mut caption = match xs.len() {
        0 if runs.is_empty() => "the benchmark has no runs".to_string(),
        0 => "the benchmark's runs have no throughput".to_string(),
        1 => run_several.to_string(),
        n => format!("items per second at {n} values of {x_label}"),
    };
    if found > names.len() {
        caption.push_str(&format!(
            " (the first {} of {found} lines shown)",
            names.len()
        ));
    }
    if good.is_empty() {
        return render(&empty_scene(heading, &caption, "no throughput to chart"));
    }

    let series: Vec<Series> = names
        .iter()
        .map(|name| {
            let mut points: Vec<(f64, f64)> = Vec::new();
            for (i, x) in xs.iter().enumerate() {
                // The first run of this line at this x.
                if let Some(r) = good.iter().find(|r| &series_of(r) == name && x_of(r) == *x) {
                    points.push((i as f64, r.items_per_second));
                }
            }
            (name.clone(), points)
        })
        .collect();
    let x_ticks = xs
        .iter()
        .enumerate()
        .map(|(i, x)| (i as f64, Some(x_text(*x))))
        .collect();
    // One category sits in the middle.
    let (x_lo, x_hi) = if xs.len() > 1 {
        (0.0, (xs.len() - 1) as f64)
    } else {
        (-1.0, 1.0)
    };
    let lines = LineChart {
        heading: heading.to_string(),
        caption,
        y_name: "items per second".to_string(),
        x_name: x_label.to_string(),
        x_lo,
        x_hi,
        x_ticks,
        x_inset: LINE_INSET,
        series,
        from_zero: true,
        mark: true,
    };
    render(&lines.scene())
}

// ---------------------------------------------------------------------------------------------
// Shared pieces.

/// "dense, batch 1, 2 threads".
fn run_label(r: &BenchmarkRun) -> String {
    format!(
        "{}, batch {}, {}",
        r.model,
        r.batch,
        threads_text(r.threads)
    )
}

/// "1 thread", "4 threads", "all threads".
fn threads_text(threads: Option<usize>) -> String {
    match threads {
        None => "all threads".to_string(),
        Some(1) => "1 thread".to_string(),
        Some(t) => format!("{t} threads"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::benchmark::Latency;
    use crate::chart::testing::{check, save};

    fn run(model: &str, batch: usize, threads: Option<usize>, ms_per_batch: f64) -> BenchmarkRun {
        let ms: Vec<f64> = (0..12)
            .map(|i| ms_per_batch * (1.0 + 0.05 * ((i * 7 % 5) as f64 - 2.0) / 2.0))
            .collect();
        BenchmarkRun {
            model: model.to_string(),
            batch,
            threads,
            iterations: ms.len(),
            warmup: 3,
            ms_per_batch: Latency {
                mean: ms_per_batch,
                p50: ms_per_batch,
                p90: ms_per_batch * 1.05,
                p99: ms_per_batch * 1.1,
            },
            ms_per_item: ms_per_batch / batch as f64,
            items_per_second: 1000.0 * batch as f64 / ms_per_batch,
            ms,
        }
    }

    fn grid() -> Vec<BenchmarkRun> {
        let mut runs = Vec::new();
        for model in ["dense", "pruned"] {
            for batch in [1, 8, 32] {
                for threads in [Some(1), Some(4), None] {
                    let t = threads.unwrap_or(8) as f64;
                    let ms = (2.0 + 0.5 * batch as f64) / t.sqrt();
                    let ms = if model == "pruned" { ms / 1.02 } else { ms };
                    runs.push(run(model, batch, threads, ms));
                }
            }
        }
        runs
    }

    #[test]
    fn iterations_chart() {
        let runs = vec![
            run("dense", 1, Some(2), 5.0),
            run("pruned", 1, Some(2), 4.9),
        ];
        let chart = benchmark_iterations(&runs).unwrap();
        check(
            &chart,
            &[
                "latency per timed run",
                "dense, batch 1, 2 threads",
                "pruned, batch 1, 2 threads",
                "after 3 warmup runs",
                "<polyline",
            ],
        );
        save(&chart, "benchmark-iterations");

        let many = benchmark_iterations(&grid()).unwrap();
        check(&many, &["the first 8 of 18 runs shown"]);
        assert!(!many.svg.contains("pruned, batch 32"));

        let empty = benchmark_iterations(&[]).unwrap();
        check(&empty, &["the benchmark has no runs", "no timed runs"]);
        let mut bare = run("dense", 1, None, 1.0);
        bare.ms = vec![f64::NAN];
        check(&benchmark_iterations(&[bare]).unwrap(), &["no timings"]);
    }

    #[test]
    fn batch_scaling_chart() {
        let chart = benchmark_batch_scaling(&grid()).unwrap();
        check(
            &chart,
            &[
                "throughput by batch size",
                "dense, 1 thread",
                "pruned, all threads",
                "items per second",
                "32",
                "<polyline",
            ],
        );
        save(&chart, "benchmark-batch-scaling");

        let one = benchmark_batch_scaling(&[run("dense", 1, None, 2.0)]).unwrap();
        check(&one, &["run several (such as 1, 8 and 32)", "<circle"]);
        let empty = benchmark_batch_scaling(&[]).unwrap();
        check(&empty, &["no runs"]);
    }

    #[test]
    fn thread_scaling_chart() {
        let chart = benchmark_thread_scaling(&grid()).unwrap();
        check(
            &chart,
            &[
                "throughput by thread count",
                "dense, batch 8",
                "pruned, batch 32",
                ">\nall\n<",
                "<polyline",
            ],
        );
        save(&chart, "benchmark-thread-scaling");

        let one = benchmark_thread_scaling(&[run("dense", 1, Some(4), 2.0)]).unwrap();
        check(&one, &["one thread count was run"]);
        let mut bad = run("dense", 1, Some(4), 2.0);
        bad.items_per_second = f64::NAN;
        check(
            &benchmark_thread_scaling(&[bad]).unwrap(),
            &["no throughput"],
        );
    }

    #[test]
    fn comparison_chart() {
        let runs = vec![
            run("dense", 1, Some(2), 5.1),
            run("pruned", 1, Some(2), 5.0),
            run("dense", 8, None, 16.0),
            run("pruned", 8, None, 16.0),
            // No pruned partner: left out.
            run("dense", 32, None, 40.0),
        ];
        let chart = benchmark_comparison(&runs, Some(3.1), false).unwrap();
        check(
            &chart,
            &[
                "dense against pruned",
                "batch 1, 2 threads",
                "batch 8, all threads",
                "measured 1.02×",
                "measured 1.00×",
                "estimate for a DeepSparse-like engine: 3.10×",
                "CPU kernels are dense",
                "pruned, estimated",
            ],
        );
        assert!(!chart.svg.contains("batch 32"));
        save(&chart, "benchmark-comparison");

        let plain = benchmark_comparison(&runs, None, false).unwrap();
        check(&plain, &["measured speedup: 1.00×–1.02×"]);
        assert!(!plain.svg.contains("DeepSparse-like engine:"));

        let none = benchmark_comparison(&runs[..1], Some(f64::NAN), false).unwrap();
        check(
            &none,
            &["CPU kernels are dense", "both a dense and a pruned"],
        );
        check(
            &benchmark_comparison(&[], None, false).unwrap(),
            &["both a dense"],
        );
    }

    #[test]
    fn speedups_over_dense_have_a_bar_per_model() {
        let runs = vec![
            run("dense", 1, Some(2), 38.0),
            run("quantized", 1, Some(2), 12.0),
            run("pruned", 1, Some(2), 38.5),
            run("pruned+quantized", 1, Some(2), 11.5),
            run("dense", 8, Some(2), 300.0),
            run("quantized", 8, Some(2), 86.0),
        ];
        let chart = benchmark_speedups(&runs).unwrap();
        check(
            &chart,
            &[
                "measured speedup over dense",
                "batch 1, 2 threads: quantized",
                "batch 8, 2 threads: quantized",
                "3.17×",
                "3.49×",
                "pruned+quantized",
            ],
        );
        save(&chart, "benchmark-speedups");
        let dense_only = benchmark_speedups(&runs[..1]).unwrap();
        check(&dense_only, &["no batch size and thread count"]);
    }
}

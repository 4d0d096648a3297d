//! Charts of a benchmark: the latency of each timed run, throughput against batch size and
//! thread count, and dense against pruned ms per item with the measured and estimated speedups.
//! Same look as the profile charts: a bold title, a muted caption, a framed line chart with its
//! legend on the right, or zebra rows with names on the left.

use plotters::style::RGBColor;

use super::Chart;
use super::layers::{INSET, LABEL_GAP, MAX_LABEL_WIDTH, MIN_LABEL_WIDTH, PAD, ROWS_TOP, WIDTH};
use super::profiles::{
    Bar, BarRow, Bars, TickFormat, axis, bars_scene, caption_line, empty_scene, keep_head,
    nice_step, num, tick_num, title,
};
use super::render::{
    ACCENT, AXIS, Align, GREY, GRID, INK, LABEL_SIZE, MUTED, SMALL_SIZE, Scene, ZEBRA, keep_tail,
    legend, render, text_width,
};
use crate::Result;
use crate::benchmark::BenchmarkRun;

/// The colours of the lines, in order: the accent first.
const SERIES: [RGBColor; 8] = [
    ACCENT,
    RGBColor(0xe0, 0x7a, 0x2f),
    RGBColor(0x2f, 0x9e, 0x6b),
    RGBColor(0xc2, 0x3b, 0x5a),
    RGBColor(0x7d, 0x5b, 0xc6),
    RGBColor(0x1f, 0x9a, 0xb0),
    RGBColor(0x8a, 0x6d, 0x3b),
    MUTED,
];
/// The most lines one chart draws (one colour each).
const MAX_LINES: usize = SERIES.len();
/// Lines with at most this many points have them marked.
const MARK_POINTS_UP_TO: usize = 30;
/// The estimated time of a pruned model on a sparsity-aware engine: a light accent.
const ESTIMATE: RGBColor = RGBColor(0x9c, 0xb8, 0xea);

/// The line charts' size and frame.
const LINE_HEIGHT: u32 = 420;
const FRAME_TOP: f64 = 96.0;
const FRAME_BOTTOM_PAD: f64 = 56.0;

/// The comparison's rows: up to three bars each.
const ROW3: f64 = 38.0;
const BAR3: f64 = 9.0;
const SLOT_GAP: f64 = 2.0;
/// The most rows of the comparison.
const MAX_ROWS: usize = 40;

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
    let series: Vec<(String, Vec<(f64, f64)>)> = with_ms
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
    let mut x_ticks: Vec<(f64, String)> = vec![(1.0, "1".to_string())];
    let mut t = step;
    while t <= x_hi + 1e-9 {
        if t > 1.0 + 0.4 * step {
            x_ticks.push((t, tick_num(t)));
        }
        t += step;
    }
    let lines = Lines {
        heading: heading.to_string(),
        caption,
        y_label: "ms per batch".to_string(),
        x_label: "timed run".to_string(),
        x_lo: 1.0,
        x_hi,
        x_ticks,
        series,
        from_zero: false,
        mark: n <= MARK_POINTS_UP_TO,
    };
    render(&lines_scene(&lines))
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
        "one batch size was run; run several: --batch 1,8,32",
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
        "one thread count was run; run several: --threads 1,2,4",
    )
}

/// For each (batch, threads) with both a dense and a pruned run: grouped bars of ms per item,
/// dense grey and pruned blue, the measured speedup (dense ms / pruned ms) written beside the
/// pruned bar. With `estimated_speedup` (from a perf profile's cost model for a sparsity-aware
/// engine), a third, light bar per row shows the dense ms over it, and a note below the rows puts
/// the measured and estimated speedups side by side.
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
    render(&bars_scene(&Bars {
        heading,
        caption,
        panel: "speedup (dense ms per item over the model's)".into(),
        legend: models
            .iter()
            .enumerate()
            .map(|(i, m)| (SERIES[i % SERIES.len()], m.to_string()))
            .collect(),
        rows,
        ticks: TickFormat::Number,
        log: false,
    }))
}

pub fn benchmark_comparison(
    runs: &[BenchmarkRun],
    estimated_speedup: Option<f64>,
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
    let caption = "ONNX Runtime's CPU kernels are dense, so the measured speedup is about 1×; the \
         estimate assumes a sparsity-aware engine"
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
    let slots = if estimate.is_some() { 3 } else { 2 };
    let row_h = if slots == 3 { ROW3 } else { 26.0 };
    let first_top = (row_h - BAR3 * slots as f64 - SLOT_GAP * (slots - 1) as f64) / 2.0;

    let width = f64::from(WIDTH);
    let rows_bottom = ROWS_TOP + row_h * pairs.len() as f64;
    let height = (rows_bottom + 56.0).ceil() as u32;
    let mut scene = Scene::new(WIDTH, height);
    title(&mut scene, &heading);
    caption_line(&mut scene, &caption, width - 2.0 * PAD);

    let widest = pairs
        .iter()
        .map(|(n, _, _)| text_width(n, LABEL_SIZE))
        .fold(0.0, f64::max);
    let label_width = (widest + 2.0).clamp(MIN_LABEL_WIDTH, MAX_LABEL_WIDTH);
    let panel_x = PAD + INSET + label_width + LABEL_GAP;
    let panel_width = width - PAD - INSET - panel_x;

    scene.bold_text(
        "ms per item",
        panel_x,
        78.0,
        LABEL_SIZE + 1.0,
        INK,
        Align::Left,
    );
    let mut entries = vec![
        (GREY, "dense".to_string()),
        (ACCENT, "pruned, measured".to_string()),
    ];
    if estimate.is_some() {
        entries.push((ESTIMATE, "pruned, estimated".to_string()));
    }
    legend(&mut scene, &entries, width - PAD - INSET, 78.0);
    scene.rect(panel_x, 84.0, panel_x + panel_width, 85.0, AXIS);

    for i in (0..pairs.len()).step_by(2) {
        let y = ROWS_TOP + row_h * i as f64;
        scene.rect(PAD, y, width - PAD, y + row_h, ZEBRA);
    }
    for (i, (name, _, _)) in pairs.iter().enumerate() {
        let baseline = ROWS_TOP + row_h * i as f64 + row_h / 2.0 + 4.0;
        let name = keep_tail(name, LABEL_SIZE, label_width);
        let right = PAD + INSET + label_width;
        scene.text(name, right, baseline, LABEL_SIZE, INK, Align::Right);
    }

    // (value, label, colour) per slot.
    let rows: Vec<Vec<(f64, String, RGBColor)>> = pairs
        .iter()
        .zip(&speedups)
        .map(|((_, dense, pruned), speedup)| {
            let mut bars = vec![
                (*dense, format!("{} ms", num(*dense)), GREY),
                (
                    *pruned,
                    format!("{} ms, measured {}", num(*pruned), times(*speedup)),
                    ACCENT,
                ),
            ];
            if let Some(e) = estimate {
                let ms = dense / e;
                bars.push((
                    ms,
                    format!("{} ms, estimated {}", num(ms), times(e)),
                    ESTIMATE,
                ));
            }
            bars
        })
        .collect();
    let max = rows
        .iter()
        .flatten()
        .map(|b| b.0)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let room = rows
        .iter()
        .flatten()
        .map(|b| text_width(&b.1, SMALL_SIZE))
        .fold(0.0, f64::max)
        + 8.0;
    let span = (panel_width - room).max(20.0);
    let fraction = |v: f64| {
        if max > 0.0 && v.is_finite() && v > 0.0 {
            v / max
        } else {
            0.0
        }
    };

    if max > 0.0 {
        let step = nice_step(max / 4.0);
        let ticks = (0..)
            .map(|k| f64::from(k) * step)
            .take_while(|t| *t <= max * (1.0 + 1e-9));
        for (k, tick) in ticks.enumerate() {
            let x = (panel_x + span * fraction(tick)).round();
            if k > 0 {
                scene.rect(x, ROWS_TOP, x + 1.0, rows_bottom, GRID);
            }
            let (x, align) = if k == 0 {
                (panel_x, Align::Left)
            } else {
                (x + 0.5, Align::Center)
            };
            let label = tick_num(tick);
            scene.text(label, x, rows_bottom + 16.0, SMALL_SIZE, MUTED, align);
        }
    }
    scene.rect(panel_x, ROWS_TOP, panel_x + 1.0, rows_bottom, AXIS);

    for (i, bars) in rows.iter().enumerate() {
        for (slot, (value, label, color)) in bars.iter().enumerate() {
            let top = ROWS_TOP + row_h * i as f64 + first_top + (BAR3 + SLOT_GAP) * slot as f64;
            let drawn = value.is_finite() && *value > 0.0;
            let length = if drawn {
                (span * fraction(*value)).max(1.5)
            } else {
                0.0
            };
            if drawn {
                scene.rect(
                    panel_x + 1.0,
                    top,
                    panel_x + 1.0 + length,
                    top + BAR3,
                    *color,
                );
            }
            scene.text(
                label.as_str(),
                panel_x + 1.0 + length.max(1.5) + 4.0,
                top + BAR3 / 2.0 + 4.0,
                SMALL_SIZE,
                if drawn { INK } else { MUTED },
                Align::Left,
            );
        }
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
    let note = match estimate {
        Some(e) => format!(
            "{measured}; estimated on a sparsity-aware engine: {}",
            times(e)
        ),
        None => format!("{measured} (dense ms / pruned ms)"),
    };
    let note = keep_head(&note, LABEL_SIZE, width - 2.0 * PAD);
    scene.bold_text(note, PAD, rows_bottom + 42.0, LABEL_SIZE, INK, Align::Left);
    render(&scene)
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

    let series: Vec<(String, Vec<(f64, f64)>)> = names
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
        .map(|(i, x)| (i as f64, x_text(*x)))
        .collect();
    // One category sits in the middle.
    let (x_lo, x_hi) = if xs.len() > 1 {
        (0.0, (xs.len() - 1) as f64)
    } else {
        (-1.0, 1.0)
    };
    let lines = Lines {
        heading: heading.to_string(),
        caption,
        y_label: "items per second".to_string(),
        x_label: x_label.to_string(),
        x_lo,
        x_hi,
        x_ticks,
        series,
        from_zero: true,
        mark: true,
    };
    render(&lines_scene(&lines))
}

// ---------------------------------------------------------------------------------------------
// Line charts with a legend column on the right.

struct Lines {
    heading: String,
    caption: String,
    y_label: String,
    x_label: String,
    x_lo: f64,
    x_hi: f64,
    x_ticks: Vec<(f64, String)>,
    series: Vec<(String, Vec<(f64, f64)>)>,
    /// The y axis starts at 0.
    from_zero: bool,
    /// Every point gets a dot (a single point always does).
    mark: bool,
}

fn lines_scene(l: &Lines) -> Scene {
    let values = l.series.iter().flat_map(|(_, p)| p.iter().map(|p| p.1));
    let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (min, max) = if min <= max { (min, max) } else { (0.0, 1.0) };
    let lo = if l.from_zero { min.min(0.0) } else { min };
    let (y_lo, y_hi, y_ticks) = axis(lo, max, false);
    let y_labels: Vec<String> = y_ticks.iter().map(|t| tick_num(*t)).collect();

    let widest = l
        .series
        .iter()
        .map(|(n, _)| text_width(n, LABEL_SIZE))
        .fold(0.0, f64::max);
    let name_width = (widest + 2.0).clamp(100.0, 260.0);
    let legend_width = 28.0 + name_width;

    let mut scene = Scene::new(WIDTH, LINE_HEIGHT);
    title(&mut scene, &l.heading);
    caption_line(&mut scene, &l.caption, f64::from(WIDTH) - 2.0 * PAD);

    let widest_y = y_labels
        .iter()
        .map(|s| text_width(s, SMALL_SIZE))
        .fold(0.0, f64::max);
    let left = (PAD + widest_y + 10.0).max(PAD + 30.0).round();
    let right = (f64::from(WIDTH) - PAD - 16.0 - legend_width - 24.0).round();
    let top = FRAME_TOP;
    let bottom = f64::from(LINE_HEIGHT) - FRAME_BOTTOM_PAD;
    // A little room inside the frame at both ends so the end points are not on the axes.
    let inner = 12.0;
    let x = |v: f64| {
        let t = if l.x_hi > l.x_lo {
            (v - l.x_lo) / (l.x_hi - l.x_lo)
        } else {
            0.5
        };
        left + inner + (right - left - 2.0 * inner) * t
    };
    let y = |v: f64| {
        let t = if y_hi > y_lo {
            (v - y_lo) / (y_hi - y_lo)
        } else {
            0.0
        };
        bottom - (bottom - top) * t
    };

    let y_label = keep_head(&l.y_label, LABEL_SIZE + 1.0, right - PAD);
    scene.bold_text(y_label, PAD, 78.0, LABEL_SIZE + 1.0, INK, Align::Left);
    for (tick, label) in y_ticks.iter().zip(&y_labels) {
        let py = y(*tick).round();
        scene.rect(left, py, right, py + 1.0, GRID);
        scene.text(
            label.as_str(),
            left - 8.0,
            py + 4.5,
            SMALL_SIZE,
            MUTED,
            Align::Right,
        );
    }
    // Tick labels that would overlap the previous one are skipped (the gridline stays).
    let mut last_right = f64::NEG_INFINITY;
    for (v, label) in &l.x_ticks {
        let px = x(*v).round();
        scene.rect(px, top, px + 1.0, bottom, GRID);
        let half = text_width(label, SMALL_SIZE) / 2.0;
        if px - half > last_right + 6.0 {
            scene.text(
                label.as_str(),
                px + 0.5,
                bottom + 16.0,
                SMALL_SIZE,
                MUTED,
                Align::Center,
            );
            last_right = px + half;
        }
    }
    scene.rect(left, top, left + 1.0, bottom + 1.0, AXIS);
    scene.rect(left, bottom, right + 1.0, bottom + 1.0, AXIS);
    scene.text(
        l.x_label.as_str(),
        (left + right) / 2.0,
        bottom + 36.0,
        LABEL_SIZE,
        MUTED,
        Align::Center,
    );

    for ((_, points), color) in l.series.iter().zip(SERIES) {
        let pixels: Vec<(f64, f64)> = points.iter().map(|&(a, b)| (x(a), y(b))).collect();
        if pixels.len() > 1 {
            scene.line(&pixels, 2.0, color);
        }
        if l.mark || pixels.len() == 1 {
            for &(px, py) in &pixels {
                scene.dot(px, py, 3.0, color);
            }
        }
    }
    let legend_left = f64::from(WIDTH) - PAD - legend_width;
    for (i, ((name, _), color)) in l.series.iter().zip(SERIES).enumerate() {
        let baseline = top + 4.0 + 20.0 * i as f64;
        let mid = baseline - 4.0;
        scene.line(&[(legend_left, mid), (legend_left + 20.0, mid)], 2.0, color);
        scene.dot(legend_left + 10.0, mid, 3.0, color);
        let name = keep_tail(name, LABEL_SIZE, name_width);
        scene.text(
            name,
            legend_left + 28.0,
            baseline,
            LABEL_SIZE,
            INK,
            Align::Left,
        );
    }
    scene
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

/// A ratio: 1.02×, 12.3×.
fn times(v: f64) -> String {
    if !v.is_finite() {
        "n/a".to_string()
    } else if v < 10.0 {
        format!("{v:.2}×")
    } else if v < 100.0 {
        format!("{v:.1}×")
    } else {
        format!("{v:.0}×")
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
        check(&one, &["run several: --batch 1,8,32", "<circle"]);
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
        let chart = benchmark_comparison(&runs, Some(3.1)).unwrap();
        check(
            &chart,
            &[
                "dense against pruned",
                "batch 1, 2 threads",
                "batch 8, all threads",
                "measured 1.02×",
                "measured 1.00×",
                "estimated on a sparsity-aware engine: 3.10×",
                "CPU kernels are dense",
                "pruned, estimated",
            ],
        );
        assert!(!chart.svg.contains("batch 32"));
        save(&chart, "benchmark-comparison");

        let plain = benchmark_comparison(&runs, None).unwrap();
        check(&plain, &["measured speedup: 1.00×–1.02×"]);
        assert!(!plain.svg.contains("sparsity-aware engine:"));

        let none = benchmark_comparison(&runs[..1], Some(f64::NAN)).unwrap();
        check(
            &none,
            &["CPU kernels are dense", "both a dense and a pruned"],
        );
        check(&benchmark_comparison(&[], None).unwrap(), &["both a dense"]);
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

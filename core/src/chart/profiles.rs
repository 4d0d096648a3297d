//! Charts of the profiles: time (or FLOPs) per layer and per op type, the estimated speedup by
//! sparsity, and the loss sensitivity of each layer, as bars and as curves. Same look as
//! `params_and_flops`: a bold title, a muted caption, zebra rows with names on the left.

use std::collections::BTreeMap;

use plotters::style::RGBColor;

use super::Chart;
use super::layers::{
    BAR, INSET, LABEL_GAP, MAX_BARS, MAX_LABEL_WIDTH, MIN_LABEL_WIDTH, PAD, ROW, ROWS_BOTTOM_PAD,
    ROWS_TOP, WIDTH,
};
use super::render::{
    ACCENT, AXIS, Align, GREY, GRID, INK, LABEL_SIZE, MUTED, SMALL_SIZE, Scene, TITLE_SIZE, ZEBRA,
    keep_tail, legend, render, text_width,
};
use crate::format::{short_si, si};
use crate::profile::{LossProfile, PerfKind, PerfProfile, level_key};
use crate::{Error, Result};

/// The colours of the curves, in order: the accent first.
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
/// The most curves one loss chart draws (one colour each).
const MAX_CURVES: usize = SERIES.len();
/// How many curves `loss_curves` draws when no layer is named: the most sensitive ones.
const DEFAULT_CURVES: usize = 5;
/// Curves with at most this many points have them marked.
const MARK_POINTS_UP_TO: usize = 30;

/// Rows with two bars: taller, with thinner bars.
const ROW_PAIR: f64 = 26.0;
const BAR_PAIR: f64 = 9.0;

/// The line charts' size and frame.
const LINE_HEIGHT: u32 = 420;
const FRAME_TOP: f64 = 96.0;
const FRAME_BOTTOM_PAD: f64 = 56.0;

// ---------------------------------------------------------------------------------------------
// The charts.

/// Time per layer, in graph order: the measured mean ms per run of each layer (grey) and, beside
/// it, the estimated ms of each prunable layer pruned to `level` (accent), from the profile's cost
/// model for a sparsity-aware engine. A [`PerfKind::Flops`] profile shows FLOPs instead: each
/// layer's FLOPs and its FLOPs at `level`. `log_scale` draws the values on a log axis (zeros get no
/// bar). With `top`, the `top` layers with the largest baseline, largest first; at most
/// [`MAX_BARS`] rows (a profile with more layers shows its top `MAX_BARS`; the title says so).
///
/// `level` must be in [0, 1]; one the profile has no estimates at draws the baseline alone and
/// the caption names the levels it has.
pub fn perf_layers(
    profile: &PerfProfile,
    level: f64,
    log_scale: bool,
    top: Option<usize>,
) -> Result<Chart> {
    check_top(top)?;
    if !(0.0..=1.0).contains(&level) {
        return Err(Error::Usage(format!(
            "the sparsity level to chart must be between 0 and 1, such as 0.9 (not {level})."
        )));
    }
    let key = level_key(level);
    let pct = percent(level);
    let flops = profile.kind == PerfKind::Flops;
    let finite = |v: Option<f64>| v.filter(|v| v.is_finite());

    struct Layer<'a> {
        name: &'a str,
        base: Option<f64>,
        estimate: Option<f64>,
        prunable: bool,
    }
    let all: Vec<Layer> = profile
        .layers
        .iter()
        .map(|l| {
            let base = if flops {
                l.flops.map(|f| f as f64)
            } else {
                finite(l.ms)
            };
            let estimates = if flops {
                &l.estimated_flops
            } else {
                &l.estimated_ms
            };
            Layer {
                name: &l.name,
                base,
                estimate: finite(estimates.get(&key).copied()).filter(|_| l.prunable),
                prunable: l.prunable,
            }
        })
        .filter(|l| l.base.is_some_and(|v| v > 0.0) || l.estimate.is_some_and(|v| v > 0.0))
        .collect();
    let has_estimates = all.iter().any(|l| l.estimate.is_some());
    let total = all.len();
    let (layers, ranked) = rank(all, top, |l| l.base.unwrap_or(0.0));

    let (what, by) = if flops {
        ("FLOPs per layer", "FLOPs")
    } else {
        ("time per layer", "measured ms")
    };
    let heading = ranked_heading(what, by, ranked, layers.len(), total);

    let model = &profile.model;
    let mut caption = Vec::new();
    let model_estimate = finite(if flops {
        model.estimated_flops.get(&key).copied()
    } else {
        model.estimated_ms.get(&key).copied()
    });
    if flops {
        caption.push(format!("{} FLOPs per run", si(model.flops)));
        if let Some(e) = model_estimate {
            let mut text = format!("{} at {pct}", si_f64(e));
            if e > 0.0 && model.flops > 0 {
                text.push_str(&format!(" ({} fewer)", times(model.flops as f64 / e)));
            }
            caption.push(text);
        }
    } else {
        if let Some(ms) = finite(model.ms_per_batch) {
            let mut text = format!("{} ms per batch of {}", num(ms), model.batch);
            if let Some(t) = model.threads {
                text.push_str(&format!(", {t} threads"));
            }
            caption.push(text);
        }
        if let Some(e) = model_estimate {
            let mut text = format!("estimated {} ms at {pct}", num(e));
            if let Some(ms) = finite(model.ms_per_batch).filter(|_| e > 0.0) {
                text.push_str(&format!(" ({} faster)", times(ms / e)));
            }
            caption.push(text);
        }
    }
    if !has_estimates && profile.layers.iter().any(|l| l.prunable) {
        caption.push(format!(
            "no estimates at {pct} (levels: {})",
            levels_text(&profile.levels)
        ));
    }
    if log_scale {
        caption.push("log scale".to_string());
    }
    let caption = caption.join("; ");

    if layers.is_empty() {
        let message = if flops {
            "no layers with FLOPs"
        } else {
            "no layers with a measured time"
        };
        return render(&empty_scene(&heading, &caption, message));
    }

    let value = |v: f64| if flops { si_f64(v) } else { num(v) };
    let rows = layers
        .iter()
        .map(|l| {
            let base = Some(Bar {
                value: l.base.unwrap_or(f64::NAN),
                label: l.base.map_or_else(|| "n/a".to_string(), value),
                color: GREY,
            });
            let estimate = (has_estimates && l.prunable).then(|| Bar {
                value: l.estimate.unwrap_or(f64::NAN),
                label: l.estimate.map_or_else(|| "n/a".to_string(), value),
                color: ACCENT,
            });
            BarRow {
                name: l.name.to_string(),
                bars: if has_estimates {
                    vec![base, estimate]
                } else {
                    vec![base]
                },
            }
        })
        .collect();
    let mut legend = vec![(
        GREY,
        if flops { "FLOPs" } else { "measured ms" }.to_string(),
    )];
    if has_estimates {
        let word = if flops { "FLOPs at" } else { "estimated at" };
        legend.push((ACCENT, format!("{word} {pct}")));
    }
    let bars = Bars {
        heading,
        caption,
        panel: if flops { "FLOPs per run" } else { "ms per run" }.to_string(),
        legend,
        rows,
        ticks: if flops {
            TickFormat::Si
        } else {
            TickFormat::Number
        },
        log: log_scale,
    };
    render(&bars_scene(&bars))
}

/// Time per ONNX op type, largest first, each labelled with how many nodes of that type there
/// are, and its share of the total. A [`PerfKind::Flops`] profile shows the FLOPs of its layers
/// per op type instead. At most [`MAX_BARS`] rows.
pub fn perf_op_types(profile: &PerfProfile) -> Result<Chart> {
    let flops = profile.kind == PerfKind::Flops;
    // (op type, value, count)
    let mut all: Vec<(String, f64, usize)> = if flops {
        let mut by_type: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
        for l in &profile.layers {
            if let Some(f) = l.flops {
                let entry = by_type.entry(&l.op_type).or_default();
                entry.0 += f as f64;
                entry.1 += 1;
            }
        }
        by_type
            .into_iter()
            .map(|(t, (f, n))| (t.to_string(), f, n))
            .collect()
    } else {
        profile
            .op_types
            .iter()
            .map(|o| (o.op_type.clone(), o.ms, o.count))
            .collect()
    };
    all.retain(|(_, v, _)| v.is_finite() && *v > 0.0);
    // Stable: equal values keep their order.
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total_value: f64 = all.iter().map(|o| o.1).sum();
    let total = all.len();
    all.truncate(MAX_BARS);

    let mut heading = if flops {
        "FLOPs per op type".to_string()
    } else {
        "time per op type".to_string()
    };
    if all.len() < total {
        heading.push_str(&format!(", top {} of {total}", all.len()));
    }
    let caption = if flops {
        format!(
            "{} FLOPs per run in {total} op types; counts are layers",
            si_f64(total_value)
        )
    } else {
        let batch = finite_text(profile.model.ms_per_batch, |ms| {
            format!(" ({} ms per batch of {})", num(ms), profile.model.batch)
        });
        format!(
            "{} ms per run in {total} op types{batch}; counts are nodes; fused work counts as its \
             layer's",
            num(total_value)
        )
    };
    if all.is_empty() {
        let message = if flops {
            "no layers with FLOPs"
        } else {
            "no measured time per op type"
        };
        return render(&empty_scene(&heading, &caption, message));
    }
    let rows = all
        .iter()
        .map(|(op_type, v, count)| {
            let value = if flops { si_f64(*v) } else { num(*v) };
            BarRow {
                name: format!("{op_type} ({count})"),
                bars: vec![Some(Bar {
                    value: *v,
                    label: format!("{value}  {}", share(*v, total_value)),
                    color: ACCENT,
                })],
            }
        })
        .collect();
    let bars = Bars {
        heading,
        caption,
        panel: if flops { "FLOPs per run" } else { "ms per run" }.to_string(),
        legend: Vec::new(),
        rows,
        ticks: if flops {
            TickFormat::Si
        } else {
            TickFormat::Number
        },
        log: false,
    };
    render(&bars_scene(&bars))
}

/// The estimated speedup of the whole model against sparsity, every prunable layer pruned to each
/// of the profile's levels: the estimated ms at level 0 (the measured ms per batch when 0 is not a
/// level) over the estimated ms at the level. A [`PerfKind::Flops`] profile gives the ratio of
/// FLOPs instead. A line through the levels, each point marked; the y axis starts at 1×.
pub fn perf_speedup(profile: &PerfProfile) -> Result<Chart> {
    let flops = profile.kind == PerfKind::Flops;
    let model = &profile.model;
    let estimates = if flops {
        &model.estimated_flops
    } else {
        &model.estimated_ms
    };
    let at = |level: f64| {
        estimates
            .get(&level_key(level))
            .copied()
            .filter(|v| v.is_finite() && *v > 0.0)
    };
    let measured = if flops {
        Some(model.flops as f64).filter(|f| *f > 0.0)
    } else {
        model.ms_per_batch.filter(|v| v.is_finite() && *v > 0.0)
    };
    let has_zero = profile.levels.iter().any(|l| level_key(*l) == "0");
    let base = if has_zero { at(0.0) } else { None }.or(measured);

    let mut points: Vec<(f64, f64)> = Vec::new();
    if let Some(base) = base {
        if !has_zero {
            points.push((0.0, 1.0));
        }
        for &level in &profile.levels {
            if let Some(e) = at(level).filter(|_| (0.0..=1.0).contains(&level)) {
                points.push((level, base / e));
            }
        }
    }

    let heading = if flops {
        "estimated speedup (sparsity-aware engine), from FLOPs"
    } else {
        "estimated speedup (sparsity-aware engine)"
    };
    let caption = match base {
        Some(b) if flops => format!(
            "{} FLOPs per run unpruned over the FLOPs with every prunable layer pruned to each level",
            si_f64(b)
        ),
        Some(b) => format!(
            "{} ms per batch unpruned over the estimate with every prunable layer pruned to each \
             level",
            num(b)
        ),
        None if flops => "the profile has no FLOPs to compare".to_string(),
        None => "the profile has no time at sparsity 0 to compare with".to_string(),
    };
    if points.iter().filter(|p| p.0 > 0.0).count() == 0 {
        return render(&empty_scene(
            heading,
            &caption,
            "no estimates at any sparsity level",
        ));
    }

    let max = points.iter().map(|p| p.1).fold(1.0, f64::max);
    let min = points.iter().map(|p| p.1).fold(1.0, f64::min);
    let (y_lo, y_hi, y_ticks) = if min < 1.0 {
        axis(min, max, false)
    } else {
        axis(1.0, max, true)
    };
    let y_labels: Vec<String> = y_ticks
        .iter()
        .map(|t| format!("{}×", tick_num(*t)))
        .collect();

    let mut scene = Scene::new(WIDTH, LINE_HEIGHT);
    title(&mut scene, heading);
    caption_line(&mut scene, &caption, f64::from(WIDTH) - 2.0 * PAD);
    let frame = Frame::new(&y_labels, y_lo, y_hi, 0.0);
    frame.draw(
        &mut scene,
        "speedup",
        "sparsity of every prunable layer",
        &y_ticks,
        &y_labels,
    );
    let pixels: Vec<(f64, f64)> = points
        .iter()
        .map(|&(s, v)| (frame.x(s), frame.y(v)))
        .collect();
    scene.line(&pixels, 2.0, ACCENT);
    for &(x, y) in &pixels {
        scene.dot(x, y, 3.5, ACCENT);
    }
    // Values above the points, from the right, skipping points too close to a labelled one (and
    // the 1× of the unpruned model).
    let mut last_x = f64::INFINITY;
    for (&(x, y), &(s, v)) in pixels.iter().zip(&points).rev() {
        if s <= 0.0 {
            continue;
        }
        let label = times(v);
        let half = text_width(&label, SMALL_SIZE) / 2.0 + 4.0;
        if last_x - x >= 2.0 * half {
            let cx = x.min(f64::from(WIDTH) - PAD - half + 4.0);
            scene.text(label, cx, y - 9.0, SMALL_SIZE, INK, Align::Center);
            last_x = x;
        }
    }
    render(&scene)
}

/// The sensitivity of each layer of a loss profile (the integral of its values over the levels,
/// each layer pruned alone), as bars: in graph order, or largest first with `sorted`. With `top`,
/// the `top` most sensitive layers, largest first; at most [`MAX_BARS`] rows (a profile with more
/// layers shows its `MAX_BARS` most sensitive; the title says so). The title names the method and
/// the metric.
pub fn loss_layers(profile: &LossProfile, sorted: bool, top: Option<usize>) -> Result<Chart> {
    check_top(top)?;
    let total = profile.layers.len();
    let all: Vec<_> = profile.layers.iter().collect();
    let sort_key = |l: &&crate::profile::LayerLoss| {
        if l.integral.is_finite() {
            l.integral
        } else {
            f64::NEG_INFINITY
        }
    };
    let (layers, ranked) = if sorted {
        let mut layers = all;
        layers.sort_by(|a, b| sort_key(b).total_cmp(&sort_key(a)));
        layers.truncate(top.unwrap_or(MAX_BARS).min(MAX_BARS));
        (layers, true)
    } else {
        rank(all, top, sort_key)
    };

    let mut heading = format!(
        "loss sensitivity per layer — {}, {}",
        profile.method.name(),
        profile.metric
    );
    if ranked {
        if layers.len() < total {
            heading.push_str(&format!(", top {} of {total}", layers.len()));
        } else {
            heading.push_str(", largest first");
        }
    }
    let mut caption = format!(
        "the integral of {} over sparsity {}, each layer pruned alone; {total} layers",
        profile.metric,
        range_text(&profile.levels)
    );
    if !profile.skipped.is_empty() {
        caption.push_str(&format!(", {} skipped", profile.skipped.len()));
    }
    if layers.is_empty() {
        return render(&empty_scene(&heading, &caption, "no layers in the profile"));
    }
    let rows = layers
        .iter()
        .map(|l| BarRow {
            name: l.name.clone(),
            bars: vec![Some(Bar {
                value: l.integral,
                label: format!("{}  #{}", num(l.integral), l.rank),
                color: ACCENT,
            })],
        })
        .collect();
    let bars = Bars {
        heading,
        caption,
        panel: "sensitivity (integral)".to_string(),
        legend: Vec::new(),
        rows,
        ticks: TickFormat::Number,
        log: false,
    };
    render(&bars_scene(&bars))
}

/// The int8 sensitivity of each layer (`profile loss --quantization`): the metric with that layer
/// alone quantized, in graph order (the most sensitive first when there are too many to show),
/// with its accuracy when the data has labels.
pub fn quantization_layers(profile: &LossProfile) -> Result<Chart> {
    let Some(q) = &profile.quantization else {
        return Err(Error::Usage(
            "this loss profile has no quantization section; run `profile loss --quantization`."
                .into(),
        ));
    };
    let total = q.layers.len();
    let (layers, ranked) = rank(q.layers.iter().collect(), None, |l| l.value);
    let mut heading = format!(
        "int8 sensitivity per layer — {} quantization, {}",
        q.mode.name(),
        q.metric
    );
    if ranked {
        heading.push_str(&format!(", top {} of {total}", layers.len()));
    }
    let mut caption = format!(
        "each layer quantized alone and run in ONNX Runtime; all {total} at once: {}",
        num(q.model.value)
    );
    if let (Some(float), Some(int8)) = (q.float_accuracy, q.model.accuracy) {
        caption.push_str(&format!(
            ", accuracy {:.1}% float, {:.1}% int8",
            float * 100.0,
            int8 * 100.0
        ));
    }
    if layers.is_empty() {
        return render(&empty_scene(
            &heading,
            &caption,
            "no layer could be quantized",
        ));
    }
    let rows = layers
        .iter()
        .map(|l| BarRow {
            name: l.name.clone(),
            bars: vec![Some(Bar {
                value: l.value,
                label: match l.accuracy {
                    Some(a) => format!("{}  {:.1}%  #{}", num(l.value), a * 100.0, l.rank),
                    None => format!("{}  #{}", num(l.value), l.rank),
                },
                color: ACCENT,
            })],
        })
        .collect();
    let bars = Bars {
        heading,
        caption,
        panel: format!("{} with the layer in int8", q.metric),
        legend: Vec::new(),
        rows,
        ticks: TickFormat::Number,
        log: false,
    };
    render(&bars_scene(&bars))
}

/// The values of a loss profile against sparsity, one curve per layer named in `layers` (in that
/// order; names the profile lacks are left out, and repeats). An empty `layers` draws the 5 most
/// sensitive layers by rank. At most 8 curves, each with its colour in the legend; points are
/// marked when there are few levels.
pub fn loss_curves(profile: &LossProfile, layers: &[&str]) -> Result<Chart> {
    let mut chosen: Vec<&crate::profile::LayerLoss> = Vec::new();
    if layers.is_empty() {
        chosen = profile.layers.iter().collect();
        chosen.sort_by_key(|l| l.rank);
        chosen.truncate(DEFAULT_CURVES);
    } else {
        for name in layers {
            if let Some(l) = profile.layer(name)
                && !chosen.iter().any(|c| c.name == l.name)
            {
                chosen.push(l);
            }
        }
    }
    let found = chosen.len();
    chosen.truncate(MAX_CURVES);

    let heading = format!(
        "loss sensitivity by sparsity — {}, {}",
        profile.method.name(),
        profile.metric
    );
    let mut caption = if layers.is_empty() {
        format!(
            "the {} most sensitive of {} layers, each pruned alone",
            chosen.len(),
            profile.layers.len()
        )
    } else {
        format!(
            "{} of {} named layers, each pruned alone",
            chosen.len(),
            layers.len()
        )
    };
    if found > chosen.len() {
        caption.push_str(&format!(" (the first {MAX_CURVES} of {found} shown)"));
    }

    let series: Vec<(&str, Vec<(f64, f64)>)> = chosen
        .iter()
        .map(|l| {
            let points = profile
                .levels
                .iter()
                .zip(&l.values)
                .filter(|(s, v)| s.is_finite() && v.is_finite())
                .map(|(s, v)| (s.clamp(0.0, 1.0), *v))
                .collect();
            (l.name.as_str(), points)
        })
        .collect();
    let empty = if profile.layers.is_empty() {
        Some((
            "the profile has no layers".to_string(),
            "no layers to chart",
        ))
    } else if chosen.is_empty() {
        let names = layers.len();
        let what = if names == 1 {
            "the named layer is not in the profile".to_string()
        } else {
            format!("none of the {names} named layers is in the profile")
        };
        Some((what, "no layers to chart"))
    } else if series.iter().all(|(_, p)| p.is_empty()) {
        Some((caption.clone(), "no values at any sparsity level"))
    } else {
        None
    };
    if let Some((caption, message)) = empty {
        return render(&empty_scene(&heading, &caption, message));
    }

    let values = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.1));
    let (min, max) = values.fold((0.0f64, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (y_lo, y_hi, y_ticks) = axis(min, max, false);
    let y_labels: Vec<String> = y_ticks.iter().map(|t| tick_num(*t)).collect();

    // The legend is a column right of the frame, as wide as the longest name within limits.
    let widest = series
        .iter()
        .map(|(n, _)| text_width(n, LABEL_SIZE))
        .fold(0.0, f64::max);
    let name_width = (widest + 2.0).clamp(100.0, 260.0);
    let legend_width = 28.0 + name_width;

    let mut scene = Scene::new(WIDTH, LINE_HEIGHT);
    title(&mut scene, &heading);
    caption_line(&mut scene, &caption, f64::from(WIDTH) - 2.0 * PAD);
    let frame = Frame::new(&y_labels, y_lo, y_hi, legend_width + 24.0);
    frame.draw(
        &mut scene,
        &profile.metric,
        "sparsity of the layer",
        &y_ticks,
        &y_labels,
    );
    let mark = profile.levels.len() <= MARK_POINTS_UP_TO;
    for ((_, points), color) in series.iter().zip(SERIES) {
        let pixels: Vec<(f64, f64)> = points
            .iter()
            .map(|&(s, v)| (frame.x(s), frame.y(v)))
            .collect();
        scene.line(&pixels, 2.0, color);
        if mark || pixels.len() == 1 {
            for &(x, y) in &pixels {
                scene.dot(x, y, 3.0, color);
            }
        }
    }
    let legend_left = f64::from(WIDTH) - PAD - legend_width;
    for (i, ((name, _), color)) in series.iter().zip(SERIES).enumerate() {
        let baseline = frame.top + 4.0 + 20.0 * i as f64;
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
    render(&scene)
}

// ---------------------------------------------------------------------------------------------
// Shared pieces.

fn check_top(top: Option<usize>) -> Result<()> {
    if top == Some(0) {
        return Err(Error::Usage(
            "the number of top layers to chart must be at least 1.".to_string(),
        ));
    }
    Ok(())
}

/// The rows to draw: all of them in their order, or, with `top` or more than [`MAX_BARS`], the
/// largest by `key` (stable: ties keep their order), largest first. Also whether they were ranked.
fn rank<T>(mut all: Vec<T>, top: Option<usize>, key: impl Fn(&T) -> f64) -> (Vec<T>, bool) {
    let ranked = top.is_some() || all.len() > MAX_BARS;
    if ranked {
        all.sort_by(|a, b| key(b).total_cmp(&key(a)));
        all.truncate(top.unwrap_or(MAX_BARS).min(MAX_BARS));
    }
    (all, ranked)
}

/// "what", with ", top N of M by X" or ", by X" when the rows were ranked.
fn ranked_heading(what: &str, by: &str, ranked: bool, shown: usize, total: usize) -> String {
    let mut heading = what.to_string();
    if ranked {
        if shown < total {
            heading.push_str(&format!(", top {shown} of {total} by {by}"));
        } else {
            heading.push_str(&format!(", by {by}"));
        }
    }
    heading
}

/// The title line, shortened at its end when it would not fit.
pub(super) fn title(scene: &mut Scene, heading: &str) {
    let text = keep_head(heading, TITLE_SIZE, f64::from(WIDTH) - 2.0 * PAD);
    scene.bold_text(text, PAD, 28.0, TITLE_SIZE, INK, Align::Left);
}

pub(super) fn caption_line(scene: &mut Scene, caption: &str, max_width: f64) {
    let text = keep_head(caption, LABEL_SIZE, max_width);
    scene.text(text, PAD, 48.0, LABEL_SIZE, MUTED, Align::Left);
}

/// `text` if it fits in `max_width`, else its longest head that fits before an ellipsis.
pub(super) fn keep_head(text: &str, size: f64, max_width: f64) -> String {
    if text_width(text, size) <= max_width {
        return text.to_string();
    }
    let ends: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    // Binary search for the longest head that fits.
    let (mut lo, mut hi) = (0, ends.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if text_width(&format!("{}…", &text[..ends[mid]]), size) <= max_width {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    format!("{}…", text[..ends[lo]].trim_end())
}

pub(super) fn empty_scene(heading: &str, caption: &str, message: &str) -> Scene {
    let width = f64::from(WIDTH);
    let mut scene = Scene::new(WIDTH, 130);
    title(&mut scene, heading);
    caption_line(&mut scene, caption, width - 2.0 * PAD);
    scene.rect(PAD, 64.0, width - PAD, 114.0, ZEBRA);
    scene.text(message, width / 2.0, 93.0, LABEL_SIZE, MUTED, Align::Center);
    scene
}

// ---------------------------------------------------------------------------------------------
// Horizontal bars: one panel, one or two bars a row.

pub(super) struct Bar {
    /// The length; not finite or not positive draws no bar.
    pub(super) value: f64,
    pub(super) label: String,
    pub(super) color: RGBColor,
}

pub(super) struct BarRow {
    pub(super) name: String,
    /// One slot per bar of the row; `None` leaves the slot empty.
    pub(super) bars: Vec<Option<Bar>>,
}

#[derive(Clone, Copy)]
pub(super) enum TickFormat {
    /// Plain numbers: 0, 2.5, 0.01.
    Number,
    /// Counts with an SI suffix: 2.5K, 10M.
    Si,
}

impl TickFormat {
    fn format(self, v: f64) -> String {
        match self {
            TickFormat::Si if v >= 1.0 => short_si(v.round() as u64),
            _ => tick_num(v),
        }
    }
}

pub(super) struct Bars {
    pub(super) heading: String,
    pub(super) caption: String,
    /// The bold heading above the bars.
    pub(super) panel: String,
    pub(super) legend: Vec<(RGBColor, String)>,
    pub(super) rows: Vec<BarRow>,
    pub(super) ticks: TickFormat,
    pub(super) log: bool,
}

/// Where a value's bar ends, as a fraction of the span: linear from 0, or by decades.
enum Scale {
    Linear { max: f64 },
    Log { lo: i32, hi: i32 },
}

impl Scale {
    fn of(values: &[f64], log: bool) -> Scale {
        let positive = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0);
        let (min, max) = positive.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
        if !log {
            return Scale::Linear { max };
        }
        if max <= 0.0 {
            return Scale::Log { lo: 0, hi: 1 };
        }
        let lo = min.log10().floor() as i32;
        let hi = (max.log10().ceil() as i32).max(lo + 1);
        Scale::Log { lo, hi }
    }

    fn fraction(&self, v: f64) -> f64 {
        if !(v.is_finite() && v > 0.0) {
            return 0.0;
        }
        match *self {
            Scale::Linear { max } if max > 0.0 => v / max,
            Scale::Linear { .. } => 0.0,
            Scale::Log { lo, hi } => {
                ((v.log10() - f64::from(lo)) / f64::from(hi - lo)).clamp(0.0, 1.0)
            }
        }
    }

    fn ticks(&self) -> Vec<f64> {
        match *self {
            Scale::Linear { max } if max > 0.0 => {
                let step = nice_step(max / 4.0);
                (0..)
                    .map(|k| f64::from(k) * step)
                    .take_while(|t| *t <= max * (1.0 + 1e-9))
                    .collect()
            }
            Scale::Linear { .. } => vec![0.0],
            Scale::Log { lo, hi } => {
                let every = ((hi - lo) as usize).div_ceil(6).max(1);
                (lo..=hi).step_by(every).map(|e| 10f64.powi(e)).collect()
            }
        }
    }
}

pub(super) fn bars_scene(b: &Bars) -> Scene {
    let width = f64::from(WIDTH);
    let slots = b
        .rows
        .iter()
        .map(|r| r.bars.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let (row_h, bar_h) = if slots == 1 {
        (ROW, BAR)
    } else {
        (ROW_PAIR, BAR_PAIR)
    };
    let slot_gap = 2.0;
    let first_top = (row_h - bar_h * slots as f64 - slot_gap * (slots - 1) as f64) / 2.0;

    let rows_bottom = ROWS_TOP + row_h * b.rows.len() as f64;
    let height = (rows_bottom + ROWS_BOTTOM_PAD).ceil() as u32;
    let mut scene = Scene::new(WIDTH, height);
    title(&mut scene, &b.heading);
    caption_line(&mut scene, &b.caption, width - 2.0 * PAD);

    let widest = b
        .rows
        .iter()
        .map(|r| text_width(&r.name, LABEL_SIZE))
        .fold(0.0, f64::max);
    let label_width = (widest + 2.0).clamp(MIN_LABEL_WIDTH, MAX_LABEL_WIDTH);
    let panel_x = PAD + INSET + label_width + LABEL_GAP;
    let panel_width = width - PAD - INSET - panel_x;

    scene.bold_text(
        b.panel.as_str(),
        panel_x,
        78.0,
        LABEL_SIZE + 1.0,
        INK,
        Align::Left,
    );
    legend(&mut scene, &b.legend, width - PAD - INSET, 78.0);
    scene.rect(panel_x, 84.0, panel_x + panel_width, 85.0, AXIS);

    for i in (0..b.rows.len()).step_by(2) {
        let y = ROWS_TOP + row_h * i as f64;
        scene.rect(PAD, y, width - PAD, y + row_h, ZEBRA);
    }
    for (i, row) in b.rows.iter().enumerate() {
        let baseline = ROWS_TOP + row_h * i as f64 + row_h / 2.0 + 4.0;
        let name = keep_tail(&row.name, LABEL_SIZE, label_width);
        let right = PAD + INSET + label_width;
        scene.text(name, right, baseline, LABEL_SIZE, INK, Align::Right);
    }

    let bars = || b.rows.iter().flat_map(|r| r.bars.iter().flatten());
    let values: Vec<f64> = bars().map(|bar| bar.value).collect();
    let scale = Scale::of(&values, b.log);
    // Leave room right of the longest bar for its value.
    let room = bars()
        .map(|bar| text_width(&bar.label, SMALL_SIZE))
        .fold(0.0, f64::max)
        + 8.0;
    let span = (panel_width - room).max(20.0);

    for (k, tick) in scale.ticks().into_iter().enumerate() {
        let x = (panel_x + span * scale.fraction(tick)).round();
        if k > 0 {
            scene.rect(x, ROWS_TOP, x + 1.0, rows_bottom, GRID);
        }
        let (x, align) = if k == 0 {
            (panel_x, Align::Left)
        } else {
            (x + 0.5, Align::Center)
        };
        scene.text(
            b.ticks.format(tick),
            x,
            rows_bottom + 16.0,
            SMALL_SIZE,
            MUTED,
            align,
        );
    }
    scene.rect(panel_x, ROWS_TOP, panel_x + 1.0, rows_bottom, AXIS);

    for (i, row) in b.rows.iter().enumerate() {
        for (slot, bar) in row.bars.iter().enumerate() {
            let Some(bar) = bar else { continue };
            let top = ROWS_TOP + row_h * i as f64 + first_top + (bar_h + slot_gap) * slot as f64;
            let drawn = bar.value.is_finite() && bar.value > 0.0;
            let length = if drawn {
                (span * scale.fraction(bar.value)).max(1.5)
            } else {
                0.0
            };
            if drawn {
                scene.rect(
                    panel_x + 1.0,
                    top,
                    panel_x + 1.0 + length,
                    top + bar_h,
                    bar.color,
                );
            }
            scene.text(
                bar.label.as_str(),
                panel_x + 1.0 + length.max(1.5) + 4.0,
                top + bar_h / 2.0 + 4.0,
                SMALL_SIZE,
                if drawn { INK } else { MUTED },
                Align::Left,
            );
        }
    }
    scene
}

// ---------------------------------------------------------------------------------------------
// Line charts: sparsity 0–100% across, a value up.

struct Frame {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    y_lo: f64,
    y_hi: f64,
}

impl Frame {
    /// The frame of a line chart whose y tick labels are `y_labels`, with `right_room` kept free
    /// at the right (for a legend).
    fn new(y_labels: &[String], y_lo: f64, y_hi: f64, right_room: f64) -> Frame {
        let widest = y_labels
            .iter()
            .map(|l| text_width(l, SMALL_SIZE))
            .fold(0.0, f64::max);
        Frame {
            left: (PAD + widest + 10.0).max(PAD + 30.0).round(),
            right: (f64::from(WIDTH) - PAD - 16.0 - right_room).round(),
            top: FRAME_TOP,
            bottom: f64::from(LINE_HEIGHT) - FRAME_BOTTOM_PAD,
            y_lo,
            y_hi,
        }
    }

    fn x(&self, sparsity: f64) -> f64 {
        self.left + (self.right - self.left) * sparsity
    }

    fn y(&self, v: f64) -> f64 {
        let t = if self.y_hi > self.y_lo {
            (v - self.y_lo) / (self.y_hi - self.y_lo)
        } else {
            0.0
        };
        self.bottom - (self.bottom - self.top) * t
    }

    /// Gridlines, tick labels, the axes and their labels.
    fn draw(
        &self,
        scene: &mut Scene,
        y_label: &str,
        x_label: &str,
        y_ticks: &[f64],
        y_labels: &[String],
    ) {
        let y_label = keep_head(y_label, LABEL_SIZE + 1.0, self.right - PAD);
        scene.bold_text(y_label, PAD, 78.0, LABEL_SIZE + 1.0, INK, Align::Left);
        for (tick, label) in y_ticks.iter().zip(y_labels) {
            let y = self.y(*tick).round();
            scene.rect(self.left, y, self.right, y + 1.0, GRID);
            scene.text(
                label.as_str(),
                self.left - 8.0,
                y + 4.5,
                SMALL_SIZE,
                MUTED,
                Align::Right,
            );
        }
        for k in 0..=10 {
            let s = f64::from(k) / 10.0;
            let x = self.x(s).round();
            scene.rect(x, self.top, x + 1.0, self.bottom, GRID);
            if k % 2 == 0 {
                scene.text(
                    percent(s),
                    x + 0.5,
                    self.bottom + 16.0,
                    SMALL_SIZE,
                    MUTED,
                    Align::Center,
                );
            }
        }
        scene.rect(
            self.left,
            self.top,
            self.left + 1.0,
            self.bottom + 1.0,
            AXIS,
        );
        scene.rect(
            self.left,
            self.bottom,
            self.right + 1.0,
            self.bottom + 1.0,
            AXIS,
        );
        scene.text(
            x_label,
            (self.left + self.right) / 2.0,
            self.bottom + 36.0,
            LABEL_SIZE,
            MUTED,
            Align::Center,
        );
    }
}

/// A value axis over [lo, hi]: its ends and its ticks, steps of 1, 2, 2.5 or 5 times a power of
/// ten. The top is rounded up to a step; the bottom too unless `pinned`, when it stays at `lo`
/// and is a tick itself (the 1× of a speedup).
pub(super) fn axis(lo: f64, hi: f64, pinned: bool) -> (f64, f64, Vec<f64>) {
    let hi = if hi > lo { hi } else { lo + lo.abs().max(1.0) };
    let step = nice_step((hi - lo) / 4.0);
    let top = (hi / step - 1e-9).ceil() * step;
    let bottom = if pinned {
        lo
    } else {
        (lo / step + 1e-9).floor() * step
    };
    let first = (bottom / step - 1e-9).ceil() as i64;
    let last = (top / step + 1e-9).floor() as i64;
    let mut ticks: Vec<f64> = if pinned { vec![lo] } else { Vec::new() };
    ticks.extend(
        (first..=last)
            .map(|k| k as f64 * step)
            .filter(|t| !pinned || *t > lo + 0.3 * step),
    );
    (bottom, top, ticks)
}

/// The round step (1, 2, 2.5 or 5 times a power of ten) at least `rough`.
pub(super) fn nice_step(rough: f64) -> f64 {
    if !(rough.is_finite() && rough > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= rough * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

// ---------------------------------------------------------------------------------------------
// Numbers.

/// A value with three significant digits: 123, 12.3, 1.23, 0.0123; very small or large ones in
/// scientific notation (1.23e-5).
pub(super) fn num(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let a = v.abs();
    if a == 0.0 {
        return "0".to_string();
    }
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    format!("{v:.decimals$}")
}

/// A count given as a float (an estimate of FLOPs) with an SI suffix.
fn si_f64(v: f64) -> String {
    if v.is_finite() && v >= 0.0 {
        si(v.round() as u64)
    } else {
        num(v)
    }
}

/// A tick value: the shortest decimal, free of float noise (0.3, not 0.30000000000000004).
pub(super) fn tick_num(v: f64) -> String {
    let clean: f64 = format!("{v:.12e}").parse().unwrap_or(v);
    if clean == 0.0 {
        "0".to_string()
    } else {
        format!("{clean}")
    }
}

/// A sparsity as a percentage: 90%, 97.5%.
fn percent(level: f64) -> String {
    format!("{}%", tick_num(level * 100.0))
}

/// A ratio: 1.85×, 12.3×.
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

/// `part` as a share of `whole`: 42%, 0.3%, <0.1%.
fn share(part: f64, whole: f64) -> String {
    if whole <= 0.0 {
        return String::new();
    }
    let p = 100.0 * part / whole;
    if p >= 9.95 {
        format!("{p:.0}%")
    } else if p >= 0.05 {
        format!("{p:.1}%")
    } else {
        "<0.1%".to_string()
    }
}

fn finite_text(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.filter(|v| v.is_finite()).map(f).unwrap_or_default()
}

/// The levels, as percentages: "0%, 40%, 90%", or "none".
fn levels_text(levels: &[f64]) -> String {
    if levels.is_empty() {
        return "none".to_string();
    }
    levels
        .iter()
        .map(|l| percent(*l))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The range of the levels: "0%–99%".
fn range_text(levels: &[f64]) -> String {
    match (levels.first(), levels.last()) {
        (Some(a), Some(b)) if a != b => format!("{}–{}", percent(*a), percent(*b)),
        (Some(a), _) => percent(*a),
        _ => "(no levels)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::testing::{check, save};
    use crate::profile::loss::RawLayer;
    use crate::profile::{LayerPerf, LossMethod, ModelPerf, OpTypePerf};

    const LEVELS: [f64; 4] = [0.0, 0.5, 0.9, 0.975];

    fn map(values: &[f64]) -> BTreeMap<String, f64> {
        LEVELS
            .iter()
            .zip(values)
            .map(|(l, v)| (level_key(*l), *v))
            .collect()
    }

    fn layer(name: &str, op_type: &str, ms: f64, flops: u64, prunable: bool) -> LayerPerf {
        let (estimated_ms, estimated_flops) = if prunable {
            (
                map(&[ms, ms * 0.6, ms * 0.25, ms * 0.15]),
                map(&[flops as f64, flops as f64 * 0.5, flops as f64 * 0.1, 0.0]),
            )
        } else {
            Default::default()
        };
        LayerPerf {
            name: name.to_string(),
            op_type: op_type.to_string(),
            weight: prunable.then(|| format!("{name}.weight")),
            prunable,
            ms: Some(ms),
            flops: Some(flops),
            estimated_ms,
            estimated_flops,
            ..Default::default()
        }
    }

    fn perf(kind: PerfKind) -> PerfProfile {
        let layers = vec![
            layer("/conv1/Conv_output_0", "Conv", 0.42, 120_000, true),
            layer("/relu1/Relu_output_0", "Relu", 0.03, 4_000, false),
            layer("/conv2/Conv_output_0", "Conv", 1.37, 2_300_000, true),
            layer("/fc/Gemm_output_0", "Gemm", 0.08, 40_000, true),
        ];
        PerfProfile {
            kind,
            levels: LEVELS.to_vec(),
            model: ModelPerf {
                batch: 1,
                threads: Some(2),
                iterations: 50,
                warmup: 5,
                ms_per_batch: Some(2.1),
                flops: 2_464_000,
                estimated_ms: map(&[2.0, 1.3, 0.6, 0.45]),
                estimated_flops: map(&[2_464_000.0, 1_234_000.0, 250_000.0, 4_000.0]),
                ..Default::default()
            },
            layers,
            op_types: vec![
                OpTypePerf {
                    op_type: "Relu".into(),
                    ms: 0.03,
                    count: 1,
                },
                OpTypePerf {
                    op_type: "Conv".into(),
                    ms: 1.79,
                    count: 2,
                },
                OpTypePerf {
                    op_type: "Gemm".into(),
                    ms: 0.08,
                    count: 1,
                },
            ],
            fused: Vec::new(),
            notes: Vec::new(),
            seconds: 1.0,
        }
    }

    fn empty_perf(kind: PerfKind) -> PerfProfile {
        let mut p = perf(kind);
        p.layers.clear();
        p.op_types.clear();
        p.model = ModelPerf::default();
        p
    }

    fn loss(layers: usize, levels: Vec<f64>) -> LossProfile {
        let raw = (0..layers)
            .map(|i| RawLayer {
                name: format!("/block{i}/conv/Conv_output_0"),
                weight: format!("block{i}.weight"),
                op_type: "Conv".to_string(),
                values: levels
                    .iter()
                    .map(|s| s * s * (1.0 + (i * 7 % 8) as f64) / 10.0)
                    .collect(),
                accuracy: None,
            })
            .collect();
        LossProfile::summarize(LossMethod::OneShot, "kl_divergence", levels, raw)
    }

    #[test]
    fn perf_layers_measured() {
        let p = perf(PerfKind::Measured);
        let chart = perf_layers(&p, 0.9, false, None).unwrap();
        check(
            &chart,
            &[
                "/conv2/Conv_output_0",
                "/relu1/Relu_output_0",
                "time per layer",
                "measured ms",
                "estimated at 90%",
                "1.37",
                "0.343", // 1.37 × 0.25
            ],
        );
        save(&chart, "perf-layers");

        let top = perf_layers(&p, 0.9, false, Some(2)).unwrap();
        check(&top, &["top 2 of 4", "/conv2/Conv_output_0"]);
        assert!(!top.svg.contains("/relu1/"));
        assert!(top.height < chart.height);
        assert!(matches!(
            perf_layers(&p, 0.9, false, Some(0)),
            Err(Error::Usage(_))
        ));
        assert!(matches!(
            perf_layers(&p, f64::NAN, false, None),
            Err(Error::Usage(_))
        ));
        assert!(matches!(
            perf_layers(&p, 1.5, false, None),
            Err(Error::Usage(_))
        ));

        // A level with no estimates: the baseline alone, and the caption says why.
        let missing = perf_layers(&p, 0.8, false, None).unwrap();
        check(&missing, &["no estimates at 80%", "97.5%"]);
        assert!(!missing.svg.contains("estimated at"));
    }

    #[test]
    fn perf_layers_log_scale_with_a_zero() {
        let mut p = perf(PerfKind::Flops);
        p.layers[1].flops = Some(0);
        // The FLOPs profile's estimate at 97.5% is 0 for every prunable layer.
        let chart = perf_layers(&p, 0.975, true, None).unwrap();
        check(
            &chart,
            &["FLOPs per layer", "FLOPs at 97.5%", "log scale", "2.30M"],
        );
        assert!(!chart.svg.contains("NaN") && !chart.svg.contains("inf"));
        save(&chart, "perf-layers-log");

        let measured = perf(PerfKind::Measured);
        let mut zero = measured.clone();
        zero.layers[0].ms = Some(0.0);
        let chart = perf_layers(&zero, 0.5, true, None).unwrap();
        check(&chart, &["/conv1/Conv_output_0", "log scale"]);
        assert!(!chart.svg.contains("NaN") && !chart.svg.contains("inf"));
    }

    #[test]
    fn perf_layers_capped() {
        let mut p = perf(PerfKind::Measured);
        let base = p.layers[0].clone();
        p.layers = (0..MAX_BARS + 5)
            .map(|i| {
                let mut l = base.clone();
                l.name = format!("/blocks/block{i}/conv/Conv_output_0");
                l.ms = Some(0.1 + i as f64 / 100.0);
                l
            })
            .collect();
        let chart = perf_layers(&p, 0.9, false, None).unwrap();
        check(
            &chart,
            &[&format!("top {MAX_BARS} of {}", MAX_BARS + 5), "block64/"],
        );
        assert!(!chart.svg.contains("/block0/"));
    }

    #[test]
    fn perf_op_types_chart() {
        let p = perf(PerfKind::Measured);
        let chart = perf_op_types(&p).unwrap();
        check(
            &chart,
            &["time per op type", "Conv (2)", "Relu (1)", "1.79"],
        );
        // Largest first.
        let conv = chart.svg.find("Conv (2)").unwrap();
        let gemm = chart.svg.find("Gemm (1)").unwrap();
        let relu = chart.svg.find("Relu (1)").unwrap();
        assert!(conv < gemm && gemm < relu);
        save(&chart, "perf-op-types");

        let flops = perf_op_types(&perf(PerfKind::Flops)).unwrap();
        check(&flops, &["FLOPs per op type", "Conv (2)", "2.42M"]);
    }

    #[test]
    fn perf_speedup_chart() {
        let chart = perf_speedup(&perf(PerfKind::Measured)).unwrap();
        check(
            &chart,
            &[
                "estimated speedup (sparsity-aware engine)",
                "1×",
                "4.44×", // 2.0 / 0.45 at 97.5%
                "<polyline",
                "<circle",
            ],
        );
        save(&chart, "perf-speedup");

        // FLOPs: the ratio of FLOPs; huge ratios are fine.
        let flops = perf_speedup(&perf(PerfKind::Flops)).unwrap();
        check(&flops, &["from FLOPs", "616×"]);

        // Without level 0, the measured time is the base.
        let mut p = perf(PerfKind::Measured);
        p.levels = vec![0.9];
        let chart = perf_speedup(&p).unwrap();
        check(&chart, &["3.50×"]); // 2.1 / 0.6
    }

    #[test]
    fn empty_perf_profiles() {
        for kind in [PerfKind::Measured, PerfKind::Flops] {
            let p = empty_perf(kind);
            let layers = perf_layers(&p, 0.9, true, None).unwrap();
            check(&layers, &["no layers with"]);
            let ops = perf_op_types(&p).unwrap();
            check(&ops, &["no "]);
            let speedup = perf_speedup(&p).unwrap();
            check(&speedup, &["no estimates at any sparsity level"]);
        }
        save(
            &perf_speedup(&empty_perf(PerfKind::Measured)).unwrap(),
            "perf-speedup-empty",
        );
    }

    #[test]
    fn quantization_layers_chart() {
        use crate::profile::{QuantLayerLoss, QuantModelLoss, QuantizationLoss};
        use crate::quantize::{Calibration, QuantMode};
        let mut p = loss(3, crate::profile::LOSS_LEVELS.to_vec());
        let err = quantization_layers(&p).unwrap_err().to_string();
        assert!(err.contains("--quantization"), "{err}");
        p.quantization = Some(QuantizationLoss {
            mode: QuantMode::Static,
            calibration: Calibration::MinMax,
            per_channel: true,
            metric: "kl_divergence".into(),
            layers: p
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| QuantLayerLoss {
                    name: l.name.clone(),
                    weight: l.weight.clone(),
                    op_type: l.op_type.clone(),
                    value: 1e-5 * (i + 1) as f64,
                    accuracy: Some(0.976 - 0.002 * i as f64),
                    rank: 3 - i,
                })
                .collect(),
            model: QuantModelLoss {
                value: 4e-5,
                accuracy: Some(0.974),
            },
            float_accuracy: Some(0.976),
            data: None,
        });
        let chart = quantization_layers(&p).unwrap();
        check(
            &chart,
            &[
                "int8 sensitivity per layer — static quantization, kl_divergence",
                "/block2/conv/Conv_output_0",
                "97.6% float, 97.4% int8",
                "#1",
            ],
        );
        save(&chart, "quantization-layers");
    }

    #[test]
    fn loss_layers_chart() {
        let p = loss(6, crate::profile::LOSS_LEVELS.to_vec());
        let chart = loss_layers(&p, false, None).unwrap();
        check(
            &chart,
            &[
                "loss sensitivity per layer — one-shot, kl_divergence",
                "/block0/conv/Conv_output_0",
                "/block5/conv/Conv_output_0",
                "0%–99%",
                "#1",
            ],
        );
        // Graph order.
        assert!(chart.svg.find("/block0/").unwrap() < chart.svg.find("/block5/").unwrap());
        save(&chart, "loss-layers");

        let sorted = loss_layers(&p, true, None).unwrap();
        check(&sorted, &["largest first"]);
        let first = &p.layers.iter().find(|l| l.rank == 1).unwrap().name;
        let last = &p.layers.iter().find(|l| l.rank == 6).unwrap().name;
        assert!(sorted.svg.find(first.as_str()).unwrap() < sorted.svg.find(last.as_str()).unwrap());

        let top = loss_layers(&p, false, Some(2)).unwrap();
        check(&top, &["top 2 of 6", first]);
        assert!(!top.svg.contains(last.as_str()));
        assert!(matches!(
            loss_layers(&p, true, Some(0)),
            Err(Error::Usage(_))
        ));

        let empty = loss(0, crate::profile::LOSS_LEVELS.to_vec());
        let chart = loss_layers(&empty, true, None).unwrap();
        check(&chart, &["no layers in the profile"]);
    }

    #[test]
    fn loss_curves_chart() {
        let p = loss(8, crate::profile::LOSS_LEVELS.to_vec());
        let chart = loss_curves(&p, &[]).unwrap();
        check(
            &chart,
            &["loss sensitivity by sparsity", "kl_divergence", "<polyline"],
        );
        // The 5 most sensitive, in the legend.
        for l in &p.layers {
            assert_eq!(
                chart.svg.contains(l.name.as_str()),
                l.rank <= 5,
                "{}",
                l.name
            );
        }
        save(&chart, "loss-curves");

        let chart = loss_curves(
            &p,
            &[
                "/block3/conv/Conv_output_0",
                "nope",
                "/block3/conv/Conv_output_0",
                "/block1/conv/Conv_output_0",
            ],
        )
        .unwrap();
        check(
            &chart,
            &[
                "/block3/conv/Conv_output_0",
                "/block1/conv/Conv_output_0",
                "2 of 4",
            ],
        );
        assert!(!chart.svg.contains("/block0/"));

        let none = loss_curves(&p, &["nope", "nor/this"]).unwrap();
        check(&none, &["none of the 2 named layers is in the profile"]);

        // 100 levels: no marks, still lines.
        let magnitude = loss(3, crate::profile::magnitude_levels());
        let chart = loss_curves(&magnitude, &[]).unwrap();
        check(&chart, &["<polyline", "/block2/"]);
        assert!(!chart.svg.contains("<circle cx=\"") || chart.svg.matches("<circle").count() <= 3);

        let empty = loss(0, crate::profile::LOSS_LEVELS.to_vec());
        check(&loss_curves(&empty, &[]).unwrap(), &["no layers"]);
        let no_levels = loss(2, Vec::new());
        check(
            &loss_curves(&no_levels, &[]).unwrap(),
            &["no values at any sparsity level"],
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1.37), "1.37");
        assert_eq!(num(0.5), "0.500");
        assert_eq!(num(123.4), "123");
        assert_eq!(num(0.0000123), "1.23e-5");
        assert_eq!(num(f64::NAN), "n/a");
        assert_eq!(percent(0.975), "97.5%");
        assert_eq!(percent(0.7000000000000001), "70%");
        assert_eq!(tick_num(0.1 + 0.2), "0.3");
        assert_eq!(times(4.444), "4.44×");
        assert_eq!(share(1.0, 3.0), "33%");
        assert_eq!(
            axis(1.0, 7.2, true),
            (1.0, 8.0, vec![1.0, 2.0, 4.0, 6.0, 8.0])
        );
        assert_eq!(
            axis(0.0, 0.0, false),
            (0.0, 1.0, vec![0.0, 0.25, 0.5, 0.75, 1.0])
        );
        assert_eq!(keep_head("abcdef", LABEL_SIZE, 1000.0), "abcdef");
        let short = keep_head("the quick brown fox jumps", LABEL_SIZE, 60.0);
        assert!(short.ends_with('…') && short.starts_with("the"), "{short}");
        assert!(text_width(&short, LABEL_SIZE) <= 60.0);
    }
}

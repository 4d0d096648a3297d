//! Charts of a perf profile: time (or FLOPs) per layer and per op type, and the estimated
//! speedup of the whole model by sparsity.

use std::collections::BTreeMap;

use super::{check_top, finite_text, levels_text, rank, ranked_heading, sparsity_ticks};
use crate::chart::Chart;
use crate::chart::kit::axis::{TickFormat, axis};
use crate::chart::kit::bars::{Aside, Bar, BarChart, BarPanel, BarRow};
use crate::chart::kit::lines::LineFrame;
use crate::chart::kit::numbers::{num, percent, share, si_float, tick_num, times};
use crate::chart::kit::page::{caption_line, empty_scene, title};
use crate::chart::kit::style::{ACCENT, GREY, INK, LINE_HEIGHT, MAX_BARS, PAD, SMALL_SIZE, WIDTH};
use crate::chart::render::{Align, Scene, render, text_width};
use crate::format::si;
use crate::profile::{PerfKind, PerfProfile, level_key};
use crate::{Error, Result};

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
            let mut text = format!("{} at {pct}", si_float(e));
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
                text.push_str(&format!(" ({})", crate::format::faster(ms / e)));
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

    let value = |v: f64| if flops { si_float(v) } else { num(v) };
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
    let chart = BarChart {
        heading,
        caption,
        panel: BarPanel {
            heading: if flops { "FLOPs per run" } else { "ms per run" }.to_string(),
            aside: Aside::Legend(legend),
            ticks: if flops {
                TickFormat::Count
            } else {
                TickFormat::Number
            },
            log: log_scale,
        },
        rows,
        note: None,
    };
    render(&chart.scene())
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
            si_float(total_value)
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
            let value = if flops { si_float(*v) } else { num(*v) };
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
    let chart = BarChart {
        heading,
        caption,
        panel: BarPanel {
            heading: if flops { "FLOPs per run" } else { "ms per run" }.to_string(),
            aside: Aside::None,
            ticks: if flops {
                TickFormat::Count
            } else {
                TickFormat::Number
            },
            log: false,
        },
        rows,
        note: None,
    };
    render(&chart.scene())
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
        "estimated speedup (estimate for a DeepSparse-like engine)"
    };
    let caption = match base {
        Some(b) if flops => format!(
            "{} FLOPs per run unpruned over the FLOPs with every prunable layer pruned to each level",
            si_float(b)
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
    let frame = LineFrame::new(&y_labels, 0.0, (0.0, 1.0), (y_lo, y_hi));
    let names = ("speedup", "sparsity of every prunable layer");
    frame.draw(&mut scene, names, (&y_ticks, &y_labels), &sparsity_ticks());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::testing::{check, save};
    use crate::profile::{LayerPerf, ModelPerf, OpTypePerf};

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
                "estimated speedup (estimate for a DeepSparse-like engine)",
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
}

//! Charts of an optimization plan: the sparsity planned for each prunable layer, and the training
//! schedule that gets there. Same look as the profile charts: a bold title, a muted caption, zebra
//! rows with names on the left, a framed line chart.

use plotters::style::RGBColor;

use super::Chart;
use super::kit::axis::{axis, nice_step};
use super::kit::lines::{LineFrame, XTick};
use super::kit::numbers::{num, percent_rounded, tick_num};
use super::kit::page::{caption_line, empty_scene, keep_head, title};
use super::kit::rows::{Rows, panel_heading};
use super::kit::style::{
    ACCENT, AXIS, BLUES, CRIMSON, GREY, GRID, INK, LABEL_SIZE, LINE_HEIGHT, MAX_BARS, MUTED,
    ORANGE, PAD, PANEL_BASELINE, ROWS_TOP, SMALL_SIZE, WIDTH,
};
use super::render::{Align, Scene, render, text_width};
use crate::Result;
use crate::optimize::plan::{LrModifier, PruningPlan, Schedule};

/// The bar shades, from the least to the most loss-sensitive layer.
const SHADES: [RGBColor; 5] = BLUES;
/// The target and achieved averages' lines.
const TARGET: RGBColor = INK;
const ACHIEVED: RGBColor = ORANGE;

/// The stages' bands, light enough for the learning rate line on top.
const STABILIZATION: RGBColor = RGBColor(0xe9, 0xeb, 0xef);
const PRUNING: RGBColor = RGBColor(0xd8, 0xe4, 0xf8);
const FINE_TUNING: RGBColor = RGBColor(0xdb, 0xf0, 0xe4);
/// The learning rate line.
const LR_LINE: RGBColor = CRIMSON;

/// The most step boundaries one LR modifier adds to the line.
const MAX_STEPS: usize = 1000;

// ---------------------------------------------------------------------------------------------
// Planned sparsity per layer.

/// The sparsity planned for each prunable layer, as horizontal bars on a 0–100 % axis, in graph
/// order. Each bar's shade is the layer's loss sensitivity at its planned sparsity, relative to
/// the most sensitive layer (light: insensitive; dark: the most sensitive; grey: no sensitivity);
/// overridden layers say "(override)"; layers left dense have no bar, and their reason instead.
/// Vertical lines mark the target and achieved averages. At most [`MAX_BARS`] rows: a plan with
/// more layers shows its `MAX_BARS` layers with the most params, in graph order; the title says so.
pub fn plan_sparsity(plan: &PruningPlan) -> Result<Chart> {
    let total = plan.layers.len();
    let mut chosen: Vec<usize> = (0..total).collect();
    if total > MAX_BARS {
        // Stable: equal params keep graph order; then back to graph order.
        chosen.sort_by_key(|&i| std::cmp::Reverse(plan.layers[i].params));
        chosen.truncate(MAX_BARS);
        chosen.sort_unstable();
    }
    let layers: Vec<_> = chosen.iter().map(|&i| &plan.layers[i]).collect();

    let mut heading = "planned sparsity per layer".to_string();
    if layers.len() < total {
        heading.push_str(&format!(
            ", {} of {total} with the most params",
            layers.len()
        ));
    }
    let pruned = plan.layers.iter().filter(|l| l.sparsity.is_some()).count();
    let overridden = plan.layers.iter().filter(|l| l.overridden).count();
    let mut caption = format!(
        "target {}, achieved {} (average over the prunable params); {pruned} of {total} layers \
         pruned",
        percent_rounded(plan.target),
        percent_rounded(plan.achieved)
    );
    if overridden > 0 {
        caption.push_str(&format!(", {overridden} overridden"));
    }
    if layers.is_empty() {
        return render(&empty_scene(
            &heading,
            &caption,
            "no prunable layers in the plan",
        ));
    }

    let sensitivity = |s: Option<f64>| s.filter(|v| v.is_finite()).map(|v| v.max(0.0));
    let most = layers
        .iter()
        .filter_map(|l| sensitivity(l.loss_sensitivity))
        .fold(0.0f64, f64::max);
    let any_sensitivity = layers
        .iter()
        .any(|l| l.sparsity.is_some() && sensitivity(l.loss_sensitivity).is_some());
    let shade = |s: Option<f64>| match sensitivity(s) {
        _ if !any_sensitivity => ACCENT,
        None => GREY,
        Some(_) if most <= 0.0 => SHADES[0],
        Some(v) => {
            let k = (v / most * (SHADES.len() - 1) as f64).round() as usize;
            SHADES[k.min(SHADES.len() - 1)]
        }
    };

    let names: Vec<String> = layers
        .iter()
        .map(|l| {
            if l.overridden {
                format!("{} (override)", l.name)
            } else {
                l.name.clone()
            }
        })
        .collect();

    let width = f64::from(WIDTH);
    let layout = Rows::new(names, 1);
    let rows_bottom = layout.bottom();
    let mut scene = Scene::new(WIDTH, layout.height(50.0));
    title(&mut scene, &heading);
    caption_line(&mut scene, &caption, width - 2.0 * PAD);
    layout.draw(&mut scene);

    let (panel_x, right) = (layout.panels_left, layout.panels_right);
    let panel_width = right - panel_x;
    // Room right of a full bar for its value.
    let span = (panel_width - text_width("100%", SMALL_SIZE) - 8.0).max(20.0);
    let x_of = |s: f64| panel_x + 1.0 + span * s.clamp(0.0, 1.0);

    panel_heading(&mut scene, "sparsity", panel_x, right);
    sparsity_legend(&mut scene, plan, any_sensitivity, right, PANEL_BASELINE);

    for k in 0..=5 {
        let s = f64::from(k) / 5.0;
        let x = x_of(s).round();
        if k > 0 {
            scene.rect(x, ROWS_TOP, x + 1.0, rows_bottom, GRID);
        }
        let (x, align) = if k == 0 {
            (panel_x, Align::Left)
        } else {
            (x + 0.5, Align::Center)
        };
        let label = format!("{}%", 20 * k);
        scene.text(label, x, rows_bottom + 16.0, SMALL_SIZE, MUTED, align);
    }
    scene.rect(panel_x, ROWS_TOP, panel_x + 1.0, rows_bottom, AXIS);

    for (i, l) in layers.iter().enumerate() {
        let top = layout.bar_top(i, 0);
        let baseline = layout.bar_baseline(top);
        match l.sparsity {
            Some(s) if s.is_finite() => {
                let end = x_of(s).max(panel_x + 2.5);
                if s > 0.0 {
                    scene.rect(
                        panel_x + 1.0,
                        top,
                        end,
                        top + layout.bar_height,
                        shade(l.loss_sensitivity),
                    );
                }
                scene.text(
                    percent_rounded(s),
                    end + 4.0,
                    baseline,
                    SMALL_SIZE,
                    INK,
                    Align::Left,
                );
            }
            Some(_) => {
                let x = panel_x + 5.0;
                scene.text("n/a", x, baseline, SMALL_SIZE, MUTED, Align::Left);
            }
            None => {
                let text = match l.reason.as_deref().filter(|r| !r.is_empty()) {
                    Some(reason) => format!("dense: {reason}"),
                    None => "dense".to_string(),
                };
                let text = keep_head(&text, SMALL_SIZE, panel_width - 8.0);
                let x = panel_x + 5.0;
                scene.text(text, x, baseline, SMALL_SIZE, MUTED, Align::Left);
            }
        }
    }

    // The averages, over the bars.
    for (value, color) in [(plan.target, TARGET), (plan.achieved, ACHIEVED)] {
        if value.is_finite() {
            let x = x_of(value).round();
            scene.rect(x - 0.5, ROWS_TOP, x + 1.5, rows_bottom, color);
        }
    }

    let note = if any_sensitivity {
        let mut note = format!(
            "bar shade: loss sensitivity at the planned sparsity, light = insensitive, dark = the \
             most sensitive ({})",
            num(most)
        );
        if layers
            .iter()
            .any(|l| l.sparsity.is_some() && sensitivity(l.loss_sensitivity).is_none())
        {
            note.push_str("; grey = no sensitivity");
        }
        note
    } else {
        "no loss sensitivities in the plan: bars are unshaded".to_string()
    };
    let note = keep_head(&note, SMALL_SIZE, width - 2.0 * PAD);
    scene.text(
        note,
        PAD,
        rows_bottom + 38.0,
        SMALL_SIZE,
        MUTED,
        Align::Left,
    );
    render(&scene)
}

/// The shading scale and the two average lines, right-aligned at `right`.
fn sparsity_legend(scene: &mut Scene, plan: &PruningPlan, shaded: bool, right: f64, baseline: f64) {
    let mut x = right;
    let word = |scene: &mut Scene, x: &mut f64, text: &str| {
        scene.text(text, *x, baseline, LABEL_SIZE, MUTED, Align::Right);
        *x -= text_width(text, LABEL_SIZE) + 6.0;
    };
    for (value, color, name) in [
        (plan.achieved, ACHIEVED, "achieved"),
        (plan.target, TARGET, "target"),
    ] {
        word(scene, &mut x, &format!("{name} {}", percent_rounded(value)));
        scene.rect(x - 6.0, baseline - 11.0, x - 4.0, baseline + 2.0, color);
        x -= 6.0 + 16.0;
    }
    if shaded {
        word(scene, &mut x, "most sensitive");
        for color in SHADES.iter().rev() {
            scene.rect(x - 10.0, baseline - 9.5, x, baseline + 0.5, *color);
            x -= 10.0;
        }
        x -= 6.0;
        word(scene, &mut x, "insensitive");
    }
}

// ---------------------------------------------------------------------------------------------
// The schedule.

/// The training schedule over epochs 0 to its end: the stages as coloured, labelled bands
/// (stabilization, pruning, fine-tuning) and the learning rate per epoch as a line (a set LR is
/// constant from its start; a step LR from its start is `init_lr · gamma^floor((e − start) /
/// step_size)`, held after its end). A schedule without LR modifiers draws the bands alone and the
/// caption says so.
pub fn plan_schedule(plan: &PruningPlan) -> Result<Chart> {
    let s = &plan.schedule;
    let heading = "training schedule";
    let fin = |v: f64| v.is_finite().then_some(v);
    let end = fin(s.end_epoch).filter(|e| *e > 0.0).or_else(|| {
        [s.pruning_end, s.fine_tune_start, s.pruning_start, s.epochs]
            .into_iter()
            .filter_map(fin)
            .filter(|e| *e > 0.0)
            .reduce(f64::max)
    });

    let mut caption = vec![format!(
        "E = {}: epochs {}–{}; pruning {}–{} from {} sparsity, updated every {} epochs; \
         fine-tuning {}–{}",
        tick_num(s.epochs),
        tick_num(s.start_epoch),
        tick_num(s.end_epoch),
        tick_num(s.pruning_start),
        tick_num(s.pruning_end),
        percent_rounded(s.init_sparsity),
        tick_num(s.update_frequency),
        tick_num(s.fine_tune_start),
        tick_num(s.end_epoch),
    )];
    if s.lr.is_empty() {
        caption.push("no learning rate set (settings lr=INIT:FINAL)".to_string());
    }
    let caption = caption.join("; ");
    let Some(end) = end else {
        return render(&empty_scene(heading, &caption, "no epochs in the schedule"));
    };

    let bands: Vec<(&str, f64, f64, RGBColor)> = [
        (
            "stabilization",
            s.start_epoch,
            s.pruning_start,
            STABILIZATION,
        ),
        ("pruning", s.pruning_start, s.pruning_end, PRUNING),
        ("fine-tuning", s.fine_tune_start, s.end_epoch, FINE_TUNING),
    ]
    .into_iter()
    .filter(|(_, a, b, _)| a.is_finite() && b.is_finite())
    .map(|(name, a, b, color)| (name, a.clamp(0.0, end), b.clamp(0.0, end), color))
    .filter(|(_, a, b, _)| b > a)
    .collect();

    let segments = lr_segments(s, end);
    let max_lr = segments
        .iter()
        .flatten()
        .map(|p| p.1)
        .fold(0.0f64, f64::max);
    let has_lr = segments.iter().any(|seg| seg.len() >= 2);
    let (y_lo, y_hi, y_ticks) = axis(0.0, max_lr, false);
    let y_labels: Vec<String> = if has_lr {
        y_ticks.iter().map(|t| tick_num(*t)).collect()
    } else {
        Vec::new()
    };

    let mut scene = Scene::new(WIDTH, LINE_HEIGHT);
    title(&mut scene, heading);
    caption_line(&mut scene, &caption, f64::from(WIDTH) - 2.0 * PAD);
    let frame = LineFrame::new(&y_labels, 0.0, (0.0, end), (y_lo, y_hi));

    frame.draw_y_name(&mut scene, if has_lr { "learning rate" } else { "stages" });
    schedule_legend(
        &mut scene,
        &bands,
        has_lr,
        f64::from(WIDTH) - PAD,
        PANEL_BASELINE,
    );

    // The bands first, so that the grid and the line lie on top of them.
    for &(_, a, b, color) in &bands {
        scene.rect(frame.x(a), frame.top, frame.x(b), frame.bottom, color);
    }
    if has_lr {
        frame.draw_y_ticks(&mut scene, &y_ticks, &y_labels);
    }
    let step = nice_step(end / 8.0);
    let epochs: Vec<XTick> = (0..)
        .map(|k| f64::from(k) * step)
        .take_while(|e| *e <= end * (1.0 + 1e-9))
        .map(|e| (e, Some(tick_num(e))))
        .collect();
    frame.draw_x_ticks(&mut scene, &epochs);
    frame.draw_axes(&mut scene, "epoch");

    // The stages' names and epochs, where they fit in their band.
    for &(name, a, b, _) in &bands {
        let room = frame.x(b) - frame.x(a) - 6.0;
        let range = format!("{}–{}", tick_num(a), tick_num(b));
        let cx = (frame.x(a) + frame.x(b)) / 2.0;
        if text_width(name, LABEL_SIZE) <= room {
            scene.text(name, cx, frame.top + 16.0, LABEL_SIZE, INK, Align::Center);
            if text_width(&range, SMALL_SIZE) <= room {
                scene.text(
                    range,
                    cx,
                    frame.top + 30.0,
                    SMALL_SIZE,
                    MUTED,
                    Align::Center,
                );
            }
        }
    }

    // The learning rate: a staircase, its value marked where it changes.
    let mut last_label: Option<(f64, f64)> = None;
    for seg in &segments {
        let pixels: Vec<(f64, f64)> = seg.iter().map(|&(e, v)| (frame.x(e), frame.y(v))).collect();
        scene.line(&pixels, 2.0, LR_LINE);
        for (i, &(e, v)) in seg.iter().enumerate().step_by(2) {
            if i > 0 && seg[i - 1].1 == v {
                continue;
            }
            let (x, y) = (frame.x(e), frame.y(v));
            let label = num(v);
            let w = text_width(&label, SMALL_SIZE);
            let clear = last_label.is_none_or(|(lx, ly)| x - lx > w + 8.0 || (y - ly).abs() > 14.0);
            if clear && x + 4.0 + w <= frame.right {
                scene.text(label, x + 4.0, y - 6.0, SMALL_SIZE, INK, Align::Left);
                last_label = Some((x, y));
            }
        }
    }
    render(&scene)
}

/// The stages' swatches and the LR line's, right-aligned at `right`.
fn schedule_legend(
    scene: &mut Scene,
    bands: &[(&str, f64, f64, RGBColor)],
    lr: bool,
    right: f64,
    baseline: f64,
) {
    let mut x = right;
    if lr {
        let word = "learning rate";
        scene.text(word, x, baseline, LABEL_SIZE, MUTED, Align::Right);
        x -= text_width(word, LABEL_SIZE) + 6.0;
        let mid = baseline - 4.0;
        scene.line(&[(x - 20.0, mid), (x, mid)], 2.0, LR_LINE);
        x -= 20.0 + 16.0;
    }
    for &(name, _, _, color) in bands.iter().rev() {
        scene.text(name, x, baseline, LABEL_SIZE, MUTED, Align::Right);
        x -= text_width(name, LABEL_SIZE) + 6.0;
        scene.rect(x - 10.0, baseline - 9.5, x, baseline + 0.5, color);
        x -= 10.0 + 16.0;
    }
}

/// The learning rate at `epoch`: the value of the modifier that started last at or before it (the
/// later one in the list on a tie); `None` before any starts.
fn lr_at(lr: &[LrModifier], epoch: f64) -> Option<f64> {
    let start = |m: &LrModifier| match *m {
        LrModifier::Set { start_epoch, .. } | LrModifier::Step { start_epoch, .. } => start_epoch,
    };
    let active = lr
        .iter()
        .filter(|m| start(m).is_finite() && start(m) <= epoch)
        .max_by(|a, b| start(a).total_cmp(&start(b)))?;
    let value = match *active {
        LrModifier::Set { learning_rate, .. } => learning_rate,
        LrModifier::Step {
            start_epoch,
            end_epoch,
            init_lr,
            step_size,
            gamma,
        } => {
            let until = if end_epoch > start_epoch {
                epoch.min(end_epoch)
            } else {
                epoch
            };
            let steps = if step_size.is_finite() && step_size > 0.0 {
                ((until - start_epoch) / step_size + 1e-9).floor().max(0.0)
            } else {
                0.0
            };
            if steps == 0.0 {
                init_lr
            } else {
                init_lr * gamma.powf(steps)
            }
        }
    };
    value.is_finite().then_some(value.max(0.0))
}

/// The learning rate over [0, end] as staircase polylines (epoch, lr), broken where it is unset.
fn lr_segments(s: &Schedule, end: f64) -> Vec<Vec<(f64, f64)>> {
    let mut cuts = vec![0.0, end];
    for m in &s.lr {
        match *m {
            LrModifier::Set { start_epoch, .. } => cuts.push(start_epoch),
            LrModifier::Step {
                start_epoch,
                end_epoch,
                step_size,
                ..
            } => {
                cuts.push(start_epoch);
                cuts.push(end_epoch);
                if start_epoch.is_finite() && step_size.is_finite() && step_size > 0.0 {
                    let stop = if end_epoch > start_epoch {
                        end_epoch.min(end)
                    } else {
                        end
                    };
                    cuts.extend(
                        (1..=MAX_STEPS)
                            .map(|k| start_epoch + k as f64 * step_size)
                            .take_while(|e| *e < stop),
                    );
                }
            }
        }
    }
    cuts.retain(|e| e.is_finite() && (0.0..=end).contains(e));
    cuts.sort_by(f64::total_cmp);
    cuts.dedup_by(|a, b| (*a - *b).abs() < 1e-9);

    let mut segments = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        match lr_at(&s.lr, a) {
            Some(v) => {
                current.push((a, v));
                current.push((b, v));
            }
            None => {
                if !current.is_empty() {
                    segments.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::testing::{self, png_size, save};
    use crate::optimize::plan::{Filters, LayerPlan, ModelEstimate, Override, schedule_e90};

    /// A well-formed chart whose SVG has each of `texts` and no NaN or infinity.
    fn check(chart: &Chart, texts: &[&str]) {
        testing::check(chart, texts);
        assert!(!chart.svg.contains("NaN") && !chart.svg.contains("inf"));
    }

    #[allow(clippy::too_many_arguments)]
    fn layer(
        name: &str,
        params: u64,
        sparsity: Option<f64>,
        overridden: bool,
        reason: Option<&str>,
        loss_sensitivity: Option<f64>,
    ) -> LayerPlan {
        LayerPlan {
            name: name.into(),
            weight: format!("{name}.weight"),
            op_type: "Conv".into(),
            params,
            sparsity,
            overridden,
            reason: reason.map(str::to_string),
            baseline_ms: None,
            estimated_ms: None,
            flops_baseline: Some(params * 100),
            flops: sparsity.map(|s| params as f64 * 100.0 * (1.0 - s)),
            recovery: sparsity.map(|_| 1.0),
            loss_sensitivity,
            speedup: None,
        }
    }

    fn plan(layers: Vec<LayerPlan>, schedule: Schedule) -> PruningPlan {
        PruningPlan {
            target: 0.8,
            achieved: 0.7712,
            balance: 0.5,
            perf: "flops".into(),
            loss: "approx".into(),
            filters: Filters {
                min_sparsity: None,
                min_speedup: None,
                min_recovery: None,
            },
            overrides: vec![Override {
                pattern: "/fc/Gemm_output_0".into(),
                sparsity: Some(0.5),
            }],
            layers,
            model: ModelEstimate::default(),
            schedule,
            notes: Vec::new(),
            quantization: None,
            channels: None,
        }
    }

    fn digits_layers() -> Vec<LayerPlan> {
        vec![
            layer(
                "/conv1/Conv_output_0",
                288,
                None,
                false,
                Some("first prunable layer"),
                None,
            ),
            layer(
                "/conv2/Conv_output_0",
                9216,
                Some(0.85),
                false,
                None,
                Some(0.004),
            ),
            layer(
                "/conv3/Conv_output_0",
                36_864,
                Some(0.9),
                false,
                None,
                Some(0.0),
            ),
            layer("/fc/Gemm_output_0", 2560, Some(0.5), true, None, Some(0.02)),
        ]
    }

    #[test]
    fn sparsity_per_layer() {
        let p = plan(digits_layers(), schedule_e90());
        let chart = plan_sparsity(&p).unwrap();
        check(
            &chart,
            &[
                "planned sparsity per layer",
                "/conv1/Conv_output_0",
                "/conv2/Conv_output_0",
                "/fc/Gemm_output_0 (override)",
                "dense: first prunable layer",
                "target 80%",
                "achieved 77.1%",
                "85%",
                "insensitive",
                "most sensitive",
            ],
        );
        // Graph order.
        assert!(chart.svg.find("/conv1/").unwrap() < chart.svg.find("/conv3/").unwrap());
        // The most sensitive layer is the darkest; the least the lightest.
        let darkest = SHADES[SHADES.len() - 1];
        let hex = |c: RGBColor| format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2);
        let svg = chart.svg.to_lowercase();
        assert!(svg.contains(&hex(darkest)), "no darkest bar");
        assert!(svg.contains(&hex(SHADES[0])), "no lightest bar");
        save(&chart, "plan-sparsity");
    }

    #[test]
    fn sparsity_without_sensitivities_or_layers() {
        let mut layers = digits_layers();
        for l in &mut layers {
            l.loss_sensitivity = None;
        }
        layers[2].sparsity = Some(f64::NAN);
        layers[3].reason = None;
        layers[3].sparsity = None;
        let mut p = plan(layers, schedule_e90());
        p.achieved = f64::NAN;
        let chart = plan_sparsity(&p).unwrap();
        check(&chart, &["no loss sensitivities", "n/a", "dense"]);

        p.layers.clear();
        let empty = plan_sparsity(&p).unwrap();
        check(&empty, &["no prunable layers in the plan", "0 of 0 layers"]);
        save(&empty, "plan-sparsity-empty");
    }

    #[test]
    fn sparsity_capped() {
        let base = digits_layers()[1].clone();
        let layers = (0..MAX_BARS + 5)
            .map(|i| {
                let mut l = base.clone();
                l.name = format!("/blocks/block{i}/conv/Conv_output_0");
                l.params = 100 + i as u64;
                l
            })
            .collect();
        let chart = plan_sparsity(&plan(layers, schedule_e90())).unwrap();
        check(
            &chart,
            &[
                &format!("{MAX_BARS} of {} with the most params", MAX_BARS + 5),
                "block64/",
            ],
        );
        assert!(!chart.svg.contains("/block0/"));
        // Graph order within those shown.
        assert!(chart.svg.find("/block5/").unwrap() < chart.svg.find("/block64/").unwrap());
    }

    #[test]
    fn schedule_e90_worked_example() {
        let p = plan(digits_layers(), schedule_e90());
        let chart = plan_schedule(&p).unwrap();
        check(
            &chart,
            &[
                "training schedule",
                "stabilization",
                "pruning",
                "fine-tuning",
                "1–31",
                "31–53",
                "learning rate",
                "0.0505",
                "0.0126",
                "<polyline",
                "E = 90",
            ],
        );
        assert!(!chart.svg.contains("no learning rate set"));
        save(&chart, "plan-schedule");
    }

    #[test]
    fn learning_rate_per_epoch() {
        let s = schedule_e90();
        assert_eq!(lr_at(&s.lr, 0.0), Some(0.0505));
        assert_eq!(lr_at(&s.lr, 30.9), Some(0.0505));
        assert_eq!(lr_at(&s.lr, 31.0), Some(0.012625));
        assert_eq!(lr_at(&s.lr, 36.9), Some(0.012625));
        assert_eq!(lr_at(&s.lr, 37.0), Some(0.012625 * 0.25));
        assert_eq!(lr_at(&s.lr, 43.0), Some(0.012625 * 0.0625));
        assert_eq!(lr_at(&s.lr, 52.0), Some(0.012625 * 0.25f64.powi(3)));
        assert_eq!(lr_at(&[], 3.0), None);
        // A step modifier holds its value after its end.
        let held = [LrModifier::Step {
            start_epoch: 2.0,
            end_epoch: 8.0,
            init_lr: 1.0,
            step_size: 2.0,
            gamma: 0.5,
        }];
        assert_eq!(lr_at(&held, 1.0), None);
        assert_eq!(lr_at(&held, 5.0), Some(0.5));
        assert_eq!(lr_at(&held, 6.0), Some(0.25));
        assert_eq!(lr_at(&held, 20.0), Some(0.125));
        // One staircase from 0 to 53: steps at 31, 37, 43, 49.
        let segments = lr_segments(&s, 53.0);
        assert_eq!(segments.len(), 1);
        let xs: Vec<f64> = segments[0].iter().step_by(2).map(|p| p.0).collect();
        assert_eq!(xs, vec![0.0, 31.0, 37.0, 43.0, 49.0]);
        assert_eq!(segments[0].last(), Some(&(53.0, 0.012625 / 64.0)));
    }

    #[test]
    fn schedule_without_learning_rate() {
        let mut s = schedule_e90();
        s.lr.clear();
        let chart = plan_schedule(&plan(digits_layers(), s)).unwrap();
        check(
            &chart,
            &[
                "no learning rate set (settings lr=INIT:FINAL)",
                "pruning",
                "fine-tuning",
            ],
        );
        assert!(!chart.svg.contains("<polyline"));
        save(&chart, "plan-schedule-no-lr");
    }

    #[test]
    fn degenerate_schedules() {
        let empty = Schedule::default();
        let chart = plan_schedule(&plan(Vec::new(), empty)).unwrap();
        check(&chart, &["no epochs in the schedule"]);

        let mut odd = schedule_e90();
        odd.end_epoch = f64::NAN;
        odd.pruning_start = 40.0;
        odd.pruning_end = 10.0;
        odd.lr = vec![
            LrModifier::Step {
                start_epoch: 5.0,
                end_epoch: -1.0,
                init_lr: f64::INFINITY,
                step_size: 0.0,
                gamma: f64::NAN,
            },
            LrModifier::Step {
                start_epoch: 20.0,
                end_epoch: -1.0,
                init_lr: 0.1,
                step_size: 1e-9,
                gamma: 0.5,
            },
        ];
        let chart = plan_schedule(&plan(Vec::new(), odd)).unwrap();
        assert!(chart.width > 0 && chart.height > 0);
        assert_eq!(png_size(&chart.png), (2 * chart.width, 2 * chart.height));
    }
}

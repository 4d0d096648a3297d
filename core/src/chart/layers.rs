//! Params and FLOPs per layer: two horizontal bar panels side by side, one row per layer.

use std::path::Path;

use super::Chart;
use super::render::{
    ACCENT, AXIS, Align, GREY, GRID, INK, LABEL_SIZE, MUTED, SMALL_SIZE, Scene, TITLE_SIZE, ZEBRA,
    keep_tail, legend, render, text_width,
};
use crate::format::{short_si, si};
use crate::{Error, ModelAnalysis, Result};

/// The most bars one chart shows; a model with more layers shows its top layers by FLOPs.
pub const MAX_BARS: usize = 60;

pub(super) const WIDTH: u32 = 960;
pub(super) const PAD: f64 = 16.0;
pub(super) const ROW: f64 = 20.0;
pub(super) const BAR: f64 = 12.0;
/// Where the first row starts, below the title, the caption and the panel headings.
pub(super) const ROWS_TOP: f64 = 92.0;
/// Room below the last row for the tick labels.
pub(super) const ROWS_BOTTOM_PAD: f64 = 34.0;
pub(super) const MIN_LABEL_WIDTH: f64 = 120.0;
pub(super) const MAX_LABEL_WIDTH: f64 = 300.0;
pub(super) const LABEL_GAP: f64 = 10.0;
const PANEL_GAP: f64 = 28.0;
/// Space between the edges of the zebra stripes and what is drawn on them.
pub(super) const INSET: f64 = 8.0;

/// One row of the chart.
struct Row<'a> {
    name: &'a str,
    params: u64,
    flops: Option<u64>,
    prunable: bool,
}

/// A figure of the parameters and FLOPs of each layer that has either, in graph order; with `top`,
/// the `top` layers with the most FLOPs, most first. At most [`MAX_BARS`] rows: a model with more
/// layers shows its top `MAX_BARS` by FLOPs, and the title says so. Bars of prunable layers are in
/// the accent colour, the others grey.
pub fn params_and_flops(analysis: &ModelAnalysis, top: Option<usize>) -> Result<Chart> {
    if top == Some(0) {
        return Err(Error::Usage(
            "the number of top layers to chart must be at least 1.".to_string(),
        ));
    }
    let all: Vec<Row> = analysis
        .layers
        .iter()
        .filter(|l| l.params > 0 || l.flops.is_some_and(|f| f > 0))
        .map(|l| Row {
            name: &l.name,
            params: l.params,
            flops: l.flops,
            prunable: l.is_prunable,
        })
        .collect();
    let total = all.len();
    let limit = top.unwrap_or(MAX_BARS).min(MAX_BARS);
    let ranked = top.is_some() || total > MAX_BARS;
    let rows: Vec<Row> = if ranked {
        let mut rows = all;
        // Stable: equal FLOPs keep graph order.
        rows.sort_by_key(|r| std::cmp::Reverse(r.flops.unwrap_or(0)));
        rows.truncate(limit);
        rows
    } else {
        all
    };

    let file = file_name(&analysis.path);
    let mut heading = String::from("params and FLOPs per layer");
    if ranked {
        if rows.len() < total {
            heading.push_str(&format!(", top {} of {total} by FLOPs", rows.len()));
        } else {
            heading.push_str(", by FLOPs");
        }
    }
    let t = &analysis.totals;
    let caption = format!(
        "{} params ({} prunable), {} FLOPs per run",
        si(t.params),
        si(t.prunable_params),
        si(t.flops)
    );
    let scene = if rows.is_empty() {
        empty_scene(&file, &heading, &caption)
    } else {
        bars_scene(&file, &heading, &caption, &rows, t.params, t.flops)
    };
    render(&scene)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The title line: the file name, shortened from the left when the whole would not fit.
fn title(scene: &mut Scene, file: &str, heading: &str) {
    let rest = format!(" — {heading}");
    let room = f64::from(WIDTH) - 2.0 * PAD - text_width(&rest, TITLE_SIZE);
    let file = keep_tail(file, TITLE_SIZE, room.max(80.0));
    scene.bold_text(
        format!("{file}{rest}"),
        PAD,
        28.0,
        TITLE_SIZE,
        INK,
        Align::Left,
    );
}

fn empty_scene(file: &str, heading: &str, caption: &str) -> Scene {
    let mut scene = Scene::new(WIDTH, 130);
    title(&mut scene, file, heading);
    scene.text(caption, PAD, 48.0, LABEL_SIZE, MUTED, Align::Left);
    scene.rect(PAD, 64.0, f64::from(WIDTH) - PAD, 114.0, ZEBRA);
    scene.text(
        "no layers with parameters or FLOPs",
        f64::from(WIDTH) / 2.0,
        93.0,
        LABEL_SIZE,
        MUTED,
        Align::Center,
    );
    scene
}

fn bars_scene(
    file: &str,
    heading: &str,
    caption: &str,
    rows: &[Row],
    total_params: u64,
    total_flops: u64,
) -> Scene {
    let width = f64::from(WIDTH);
    let rows_bottom = ROWS_TOP + ROW * rows.len() as f64;
    let height = (rows_bottom + ROWS_BOTTOM_PAD).ceil() as u32;
    let mut scene = Scene::new(WIDTH, height);

    title(&mut scene, file, heading);
    scene.text(caption, PAD, 48.0, LABEL_SIZE, MUTED, Align::Left);
    legend(
        &mut scene,
        &[(ACCENT, "prunable"), (GREY, "not prunable")],
        width - PAD - INSET,
        48.0,
    );

    // The name column is as wide as the longest name, within limits; longer names lose their head.
    let widest = rows
        .iter()
        .map(|r| text_width(r.name, LABEL_SIZE))
        .fold(0.0, f64::max);
    let label_width = (widest + 2.0).clamp(MIN_LABEL_WIDTH, MAX_LABEL_WIDTH);
    let panels_left = PAD + INSET + label_width + LABEL_GAP;
    let panel_width = (width - PAD - INSET - panels_left - PANEL_GAP) / 2.0;

    // Zebra stripes first, so that everything else lies on top of them.
    for i in (0..rows.len()).step_by(2) {
        let y = ROWS_TOP + ROW * i as f64;
        scene.rect(PAD, y, width - PAD, y + ROW, ZEBRA);
    }
    for (i, row) in rows.iter().enumerate() {
        let baseline = ROWS_TOP + ROW * i as f64 + 14.0;
        let name = keep_tail(row.name, LABEL_SIZE, label_width);
        let right = PAD + INSET + label_width;
        scene.text(name, right, baseline, LABEL_SIZE, INK, Align::Right);
    }

    let params: Vec<Option<u64>> = rows.iter().map(|r| Some(r.params)).collect();
    let flops: Vec<Option<u64>> = rows.iter().map(|r| r.flops).collect();
    let panels = [
        ("Params", total_params, &params, panels_left),
        (
            "FLOPs",
            total_flops,
            &flops,
            panels_left + panel_width + PANEL_GAP,
        ),
    ];
    for (label, total, values, x) in panels {
        let panel = Panel {
            x,
            width: panel_width,
            rows_bottom,
        };
        panel.draw(&mut scene, label, total, values, rows);
    }
    scene
}

struct Panel {
    x: f64,
    width: f64,
    rows_bottom: f64,
}

impl Panel {
    fn draw(
        &self,
        scene: &mut Scene,
        label: &str,
        total: u64,
        values: &[Option<u64>],
        rows: &[Row],
    ) {
        scene.bold_text(label, self.x, 78.0, LABEL_SIZE + 1.0, INK, Align::Left);
        let total_text = format!("total {}", si(total));
        scene.text(
            total_text,
            self.x + self.width,
            78.0,
            SMALL_SIZE,
            MUTED,
            Align::Right,
        );
        scene.rect(self.x, 84.0, self.x + self.width, 85.0, AXIS);

        let max = values.iter().flatten().copied().max().unwrap_or(0);
        let labels: Vec<String> = values
            .iter()
            .map(|v| v.map_or_else(|| "n/a".to_string(), si))
            .collect();
        // Leave room right of the longest bar for its value.
        let room = labels
            .iter()
            .map(|l| text_width(l, SMALL_SIZE))
            .fold(0.0, f64::max)
            + 8.0;
        let span = (self.width - room).max(20.0);
        let scale = |v: u64| {
            if max == 0 {
                0.0
            } else {
                span * v as f64 / max as f64
            }
        };

        // Gridlines and their tick labels, then the zero axis.
        for tick in ticks(max) {
            let x = (self.x + scale(tick)).round();
            if tick > 0 {
                scene.rect(x, ROWS_TOP, x + 1.0, self.rows_bottom, GRID);
            }
            let align = if tick == 0 {
                Align::Left
            } else {
                Align::Center
            };
            scene.text(
                short_si(tick),
                if tick == 0 { self.x } else { x + 0.5 },
                self.rows_bottom + 16.0,
                SMALL_SIZE,
                MUTED,
                align,
            );
        }
        scene.rect(self.x, ROWS_TOP, self.x + 1.0, self.rows_bottom, AXIS);

        for (i, (value, row)) in values.iter().zip(rows).enumerate() {
            let top = ROWS_TOP + ROW * i as f64 + (ROW - BAR) / 2.0;
            let baseline = ROWS_TOP + ROW * i as f64 + 14.0;
            let length = value.map_or(0.0, scale);
            let color = if row.prunable { ACCENT } else { GREY };
            if value.is_some_and(|v| v > 0) {
                // Every non-zero value shows at least a sliver.
                scene.rect(
                    self.x + 1.0,
                    top,
                    self.x + 1.0 + length.max(1.5),
                    top + BAR,
                    color,
                );
            }
            let text_color = if value.is_some_and(|v| v > 0) {
                INK
            } else {
                MUTED
            };
            scene.text(
                &labels[i],
                self.x + 1.0 + length.max(1.5) + 4.0,
                baseline - 0.5,
                SMALL_SIZE,
                text_color,
                Align::Left,
            );
        }
    }
}

/// Round tick values from 0 up to at most `max`: steps of 1, 2, 2.5 or 5 times a power of ten,
/// three to five of them.
fn ticks(max: u64) -> Vec<u64> {
    if max == 0 {
        return vec![0];
    }
    let rough = max as f64 / 4.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power)
        .max(1.0);
    let mut out = Vec::new();
    let mut k = 0.0;
    while k * step <= max as f64 + 0.5 {
        out.push((k * step).round() as u64);
        k += 1.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::testing::{png_size, save};
    use std::path::PathBuf;

    fn fixture(name: &str) -> ModelAnalysis {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures")
            .join(name);
        let model = crate::load(&path).unwrap();
        crate::analyze(&model, &Default::default()).unwrap()
    }

    fn check(chart: &Chart, layer_name: &str) {
        let (w, h) = png_size(&chart.png);
        assert_eq!((w, h), (2 * chart.width, 2 * chart.height));
        // Few enough colours for an indexed PNG (a third of the bytes of a truecolour one).
        assert_eq!(chart.png[25], 3, "colour type");
        assert!(chart.svg.contains("<svg"));
        assert!(
            chart.svg.contains(layer_name),
            "{layer_name} not in the SVG"
        );
    }

    #[test]
    fn chart_of_the_digits_cnn() {
        let analysis = fixture("digits_cnn.onnx");
        let chart = params_and_flops(&analysis, None).unwrap();
        check(&chart, "/conv2/Conv_output_0");
        assert!(chart.svg.contains("digits_cnn.onnx"));
        assert!(chart.svg.contains("3.74K"), "total params missing");
        // Relu and MaxPool have FLOPs and no params: they are rows too.
        assert!(chart.svg.contains("/relu1/Relu_output_0"));
        save(&chart, "chart-digits");
    }

    #[test]
    fn chart_of_the_transformer_block() {
        let analysis = fixture("transformer_block.onnx");
        let chart = params_and_flops(&analysis, None).unwrap();
        let prunable = analysis.layers.iter().find(|l| l.is_prunable).unwrap();
        check(&chart, &prunable.name);
        save(&chart, "chart-transformer");
    }

    #[test]
    fn top_layers_by_flops() {
        let analysis = fixture("digits_cnn.onnx");
        let chart = params_and_flops(&analysis, Some(3)).unwrap();
        check(&chart, "/conv2/Conv_output_0");
        assert!(chart.svg.contains("top 3 of"), "the title says top 3");
        assert!(!chart.svg.contains("/relu1/Relu_output_0"));
        let full = params_and_flops(&analysis, None).unwrap();
        assert!(chart.height < full.height);
        assert!(matches!(
            params_and_flops(&analysis, Some(0)),
            Err(Error::Usage(_))
        ));
    }

    #[test]
    fn many_layers_are_capped() {
        let mut analysis = fixture("digits_cnn.onnx");
        let layer = analysis.layers[0].clone();
        analysis.layers = (0..MAX_BARS + 15)
            .map(|i| {
                let mut l = layer.clone();
                l.name = format!(
                    "/a/very/long/path/to/the/blocks/of/the/model/block{i}/conv/Conv_output_0"
                );
                l.flops = Some(1000 + i as u64);
                l
            })
            .collect();
        let chart = params_and_flops(&analysis, None).unwrap();
        check(&chart, "Conv_output_0");
        assert!(
            chart
                .svg
                .contains(&format!("top {MAX_BARS} of {}", MAX_BARS + 15))
        );
        // The highest FLOPs come first and the lowest are left out.
        assert!(chart.svg.contains(&format!("block{}/", MAX_BARS + 14)));
        assert!(!chart.svg.contains("/block0/"));
        assert!(chart.svg.contains('…'), "long names are shortened");
        save(&chart, "chart-capped");
    }

    #[test]
    fn a_model_without_params_or_flops_still_renders() {
        let mut analysis = fixture("digits_cnn.onnx");
        for l in &mut analysis.layers {
            l.params = 0;
            l.flops = None;
        }
        let chart = params_and_flops(&analysis, None).unwrap();
        let (w, h) = png_size(&chart.png);
        assert_eq!((w, h), (2 * chart.width, 2 * chart.height));
        assert!(chart.svg.contains("no layers with parameters or FLOPs"));
        save(&chart, "chart-empty");
        analysis.layers.clear();
        assert!(params_and_flops(&analysis, None).is_ok());
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(0), vec![0]);
        assert_eq!(ticks(36_864), vec![0, 10_000, 20_000, 30_000]);
        assert_eq!(ticks(9216), vec![0, 2500, 5000, 7500]);
        assert_eq!(ticks(3), vec![0, 1, 2, 3]);
    }
}

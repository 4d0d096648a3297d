//! Params and FLOPs per layer: two horizontal bar panels side by side, one row per layer.

use std::path::Path;

use super::Chart;
use super::kit::axis::TickFormat;
use super::kit::bars::{Aside, Bar, BarPanel, Slots};
use super::kit::page::{caption_line, empty_stripe, legend};
use super::kit::rows::Rows;
use super::kit::style::{
    ACCENT, CAPTION_BASELINE, GREY, INK, MAX_BARS, PAD, ROWS_BOTTOM_PAD, TITLE_BASELINE,
    TITLE_SIZE, WIDTH,
};
use super::render::{Align, Scene, keep_tail, render, text_width};
use crate::format::si;
use crate::{Error, ModelAnalysis, Result};

/// Between the two panels.
const PANEL_GAP: f64 = 28.0;

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
        TITLE_BASELINE,
        TITLE_SIZE,
        INK,
        Align::Left,
    );
}

fn empty_scene(file: &str, heading: &str, caption: &str) -> Scene {
    let mut scene = Scene::new(WIDTH, 130);
    title(&mut scene, file, heading);
    caption_line(&mut scene, caption, f64::from(WIDTH) - 2.0 * PAD);
    empty_stripe(&mut scene, "no layers with parameters or FLOPs");
    scene
}

/// The rows, then a panel of params and a panel of FLOPs side by side, each with its total.
fn bars_scene(
    file: &str,
    heading: &str,
    caption: &str,
    rows: &[Row],
    total_params: u64,
    total_flops: u64,
) -> Scene {
    let width = f64::from(WIDTH);
    let layout = Rows::new(rows.iter().map(|r| r.name.to_string()).collect(), 1);
    let mut scene = Scene::new(WIDTH, layout.height(ROWS_BOTTOM_PAD));
    title(&mut scene, file, heading);
    caption_line(&mut scene, caption, width - 2.0 * PAD);
    let entries = [(ACCENT, "prunable"), (GREY, "not prunable")];
    legend(&mut scene, &entries, layout.panels_right, CAPTION_BASELINE);
    layout.draw(&mut scene);

    let bars = |value: &dyn Fn(&Row) -> Option<u64>| -> Vec<Slots> {
        rows.iter()
            .map(|r| {
                let v = value(r);
                vec![Some(Bar {
                    value: v.map_or(f64::NAN, |v| v as f64),
                    label: v.map_or_else(|| "n/a".to_string(), si),
                    color: if r.prunable { ACCENT } else { GREY },
                })]
            })
            .collect()
    };
    let panel_width = (layout.panels_right - layout.panels_left - PANEL_GAP) / 2.0;
    let panels = [
        ("Params", total_params, bars(&|r| Some(r.params))),
        ("FLOPs", total_flops, bars(&|r| r.flops)),
    ];
    for (i, (heading, total, values)) in panels.into_iter().enumerate() {
        let x = layout.panels_left + i as f64 * (panel_width + PANEL_GAP);
        let panel = BarPanel {
            aside: Aside::Note(format!("total {}", si(total))),
            ..BarPanel::new(heading, TickFormat::Count)
        };
        panel.draw(&mut scene, &layout, x, x + panel_width, &values);
    }
    scene
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
}

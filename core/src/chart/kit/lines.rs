//! The line panel: a frame with a value axis up the left and an axis across the bottom, its
//! gridlines and tick labels; series drawn in it in the series colours, named in a legend column
//! on the right; and the line chart most line charts are.

use super::axis::axis;
use super::numbers::tick_num;
use super::page::{caption_line, keep_head, title};
use super::style::{
    AXIS, FRAME_BOTTOM_PAD, FRAME_TOP, GRID, INK, LABEL_SIZE, LINE_HEIGHT, MUTED, PAD,
    PANEL_BASELINE, PANEL_TITLE_SIZE, SERIES, SMALL_SIZE, WIDTH,
};
use crate::chart::render::{Align, Scene, keep_tail, text_width};

/// Where values land in a line chart's frame.
#[derive(Debug, Clone)]
pub struct LineFrame {
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    x_lo: f64,
    x_hi: f64,
    /// Room kept inside both ends across, so that end points are not on the axes.
    inset: f64,
    y_lo: f64,
    y_hi: f64,
}

impl LineFrame {
    /// The frame of a line chart from `x_lo` to `x_hi` across and `y_lo` to `y_hi` up, whose
    /// y tick labels are `y_labels`, with `right_room` kept free at the right (for a legend).
    pub fn new(y_labels: &[String], right_room: f64, x: (f64, f64), y: (f64, f64)) -> LineFrame {
        let widest = y_labels
            .iter()
            .map(|l| text_width(l, SMALL_SIZE))
            .fold(0.0, f64::max);
        LineFrame {
            left: (PAD + widest + 10.0).max(PAD + 30.0).round(),
            right: (f64::from(WIDTH) - PAD - 16.0 - right_room).round(),
            top: FRAME_TOP,
            bottom: f64::from(LINE_HEIGHT) - FRAME_BOTTOM_PAD,
            x_lo: x.0,
            x_hi: x.1,
            inset: 0.0,
            y_lo: y.0,
            y_hi: y.1,
        }
    }

    /// Keeps `inset` pixels free inside both ends across.
    pub fn with_inset(mut self, inset: f64) -> LineFrame {
        self.inset = inset;
        self
    }

    pub fn x(&self, v: f64) -> f64 {
        let t = if self.x_hi > self.x_lo {
            (v - self.x_lo) / (self.x_hi - self.x_lo)
        } else {
            0.5
        };
        self.left + self.inset + (self.right - self.left - 2.0 * self.inset) * t
    }

    pub fn y(&self, v: f64) -> f64 {
        let t = if self.y_hi > self.y_lo {
            (v - self.y_lo) / (self.y_hi - self.y_lo)
        } else {
            0.0
        };
        self.bottom - (self.bottom - self.top) * t
    }

    /// The name of the y axis, bold above the frame.
    pub fn draw_y_name(&self, scene: &mut Scene, name: &str) {
        let name = keep_head(name, PANEL_TITLE_SIZE, self.right - PAD);
        let size = PANEL_TITLE_SIZE;
        scene.bold_text(name, PAD, PANEL_BASELINE, size, INK, Align::Left);
    }

    /// A gridline and a label left of the frame for each y tick.
    pub fn draw_y_ticks(&self, scene: &mut Scene, ticks: &[f64], labels: &[String]) {
        for (tick, label) in ticks.iter().zip(labels) {
            let y = self.y(*tick).round();
            scene.rect(self.left, y, self.right, y + 1.0, GRID);
            let x = self.left - 8.0;
            scene.text(label.as_str(), x, y + 4.5, SMALL_SIZE, MUTED, Align::Right);
        }
    }

    /// A gridline for each x tick, and its label below the frame when it has one and it clears
    /// the previous label (the gridline stays either way).
    pub fn draw_x_ticks(&self, scene: &mut Scene, ticks: &[(f64, Option<String>)]) {
        let mut last_right = f64::NEG_INFINITY;
        for (v, label) in ticks {
            let x = self.x(*v).round();
            scene.rect(x, self.top, x + 1.0, self.bottom, GRID);
            let Some(label) = label else { continue };
            let half = text_width(label, SMALL_SIZE) / 2.0;
            if x - half > last_right + 6.0 {
                let y = self.bottom + 16.0;
                scene.text(label.as_str(), x + 0.5, y, SMALL_SIZE, MUTED, Align::Center);
                last_right = x + half;
            }
        }
    }

    /// The two axes, and the name of the x axis centred below.
    pub fn draw_axes(&self, scene: &mut Scene, x_name: &str) {
        let (left, right, top, bottom) = (self.left, self.right, self.top, self.bottom);
        scene.rect(left, top, left + 1.0, bottom + 1.0, AXIS);
        scene.rect(left, bottom, right + 1.0, bottom + 1.0, AXIS);
        let x = (left + right) / 2.0;
        let y = bottom + 36.0;
        scene.text(x_name, x, y, LABEL_SIZE, MUTED, Align::Center);
    }

    /// The axes' names, ticks and gridlines.
    pub fn draw(
        &self,
        scene: &mut Scene,
        names: (&str, &str),
        y: (&[f64], &[String]),
        x: &[XTick],
    ) {
        self.draw_y_name(scene, names.0);
        self.draw_y_ticks(scene, y.0, y.1);
        self.draw_x_ticks(scene, x);
        self.draw_axes(scene, names.1);
    }

    /// Each series as a line in its colour, its points marked with `mark` (a lone point always).
    pub fn draw_series(&self, scene: &mut Scene, series: &[Series], mark: bool) {
        for ((_, points), color) in series.iter().zip(SERIES) {
            let pixels: Vec<(f64, f64)> = points
                .iter()
                .map(|&(a, b)| (self.x(a), self.y(b)))
                .collect();
            scene.line(&pixels, 2.0, color);
            if mark || pixels.len() == 1 {
                for &(x, y) in &pixels {
                    scene.dot(x, y, 3.0, color);
                }
            }
        }
    }
}

/// A position across and its label, if it has one.
pub type XTick = (f64, Option<String>);
/// A named line through (x, y) points.
pub type Series = (String, Vec<(f64, f64)>);

/// The legend column right of a line chart's frame: a stroke and a name per series, as wide as
/// the longest name within limits.
#[derive(Debug, Clone, Copy)]
pub struct SeriesLegend {
    name_width: f64,
    /// The column's width.
    pub width: f64,
}

impl SeriesLegend {
    pub fn new(series: &[Series]) -> SeriesLegend {
        let widest = series
            .iter()
            .map(|(n, _)| text_width(n, LABEL_SIZE))
            .fold(0.0, f64::max);
        let name_width = (widest + 2.0).clamp(100.0, 260.0);
        SeriesLegend {
            name_width,
            width: 28.0 + name_width,
        }
    }

    /// The room the frame leaves free for the column.
    pub fn room(&self) -> f64 {
        self.width + 24.0
    }

    /// The column, its first entry's baseline a little below `top`.
    pub fn draw(&self, scene: &mut Scene, series: &[Series], top: f64) {
        let left = f64::from(WIDTH) - PAD - self.width;
        for (i, ((name, _), color)) in series.iter().zip(SERIES).enumerate() {
            let baseline = top + 4.0 + 20.0 * i as f64;
            let mid = baseline - 4.0;
            scene.line(&[(left, mid), (left + 20.0, mid)], 2.0, color);
            scene.dot(left + 10.0, mid, 3.0, color);
            let name = keep_tail(name, LABEL_SIZE, self.name_width);
            scene.text(name, left + 28.0, baseline, LABEL_SIZE, INK, Align::Left);
        }
    }
}

/// A line chart: a title, a caption, up to [`SERIES`]`.len()` series in a frame with its axes,
/// and their legend column on the right.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub heading: String,
    pub caption: String,
    pub y_name: String,
    pub x_name: String,
    /// The x range, its ticks, and the room kept inside its ends.
    pub x_lo: f64,
    pub x_hi: f64,
    pub x_ticks: Vec<XTick>,
    pub x_inset: f64,
    pub series: Vec<Series>,
    /// The y axis starts at 0 (or below, for negative values).
    pub from_zero: bool,
    /// Every point gets a dot (a single point always does).
    pub mark: bool,
}

impl LineChart {
    pub fn scene(&self) -> Scene {
        let values = self.series.iter().flat_map(|(_, p)| p.iter().map(|p| p.1));
        let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (min, max) = if min <= max { (min, max) } else { (0.0, 1.0) };
        let lo = if self.from_zero { min.min(0.0) } else { min };
        let (y_lo, y_hi, y_ticks) = axis(lo, max, false);
        let y_labels: Vec<String> = y_ticks.iter().map(|t| tick_num(*t)).collect();
        let legend = SeriesLegend::new(&self.series);

        let mut scene = Scene::new(WIDTH, LINE_HEIGHT);
        title(&mut scene, &self.heading);
        caption_line(&mut scene, &self.caption, f64::from(WIDTH) - 2.0 * PAD);
        let x = (self.x_lo, self.x_hi);
        let frame =
            LineFrame::new(&y_labels, legend.room(), x, (y_lo, y_hi)).with_inset(self.x_inset);
        let names = (self.y_name.as_str(), self.x_name.as_str());
        frame.draw(&mut scene, names, (&y_ticks, &y_labels), &self.x_ticks);
        frame.draw_series(&mut scene, &self.series, self.mark);
        legend.draw(&mut scene, &self.series, frame.top);
        scene
    }
}

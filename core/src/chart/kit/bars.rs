//! The bar panel: horizontal bars over the rows of a [`Rows`] chart, each labelled with its value,
//! on a linear or log scale with round ticks and gridlines; and the one-panel bar chart most
//! charts of rows are.

use plotters::style::RGBColor;

use super::axis::{Scale, TickFormat};
use super::page::{caption_line, keep_head, legend, title};
use super::rows::{Rows, panel_heading};
use super::style::{
    AXIS, GRID, INK, LABEL_SIZE, MUTED, PAD, PANEL_BASELINE, ROWS_BOTTOM_PAD, ROWS_TOP, SMALL_SIZE,
    WIDTH,
};
use crate::chart::render::{Align, Scene, text_width};

/// One bar.
#[derive(Debug, Clone)]
pub struct Bar {
    /// The length; not finite or not positive draws no bar (its label still shows, muted).
    pub value: f64,
    pub label: String,
    pub color: RGBColor,
}

/// One row's bars: one slot per bar of the row; `None` leaves the slot empty.
pub type Slots = Vec<Option<Bar>>;

/// What a panel shows right of its heading.
#[derive(Debug, Clone, Default)]
pub enum Aside {
    #[default]
    None,
    /// Swatches of the bar colours.
    Legend(Vec<(RGBColor, String)>),
    /// A muted note, such as the panel's total.
    Note(String),
}

/// A panel of bars from `x` to `right`, one row of slots per row of the chart.
#[derive(Debug, Clone)]
pub struct BarPanel {
    pub heading: String,
    pub aside: Aside,
    pub ticks: TickFormat,
    pub log: bool,
}

impl BarPanel {
    pub fn new(heading: impl Into<String>, ticks: TickFormat) -> BarPanel {
        BarPanel {
            heading: heading.into(),
            aside: Aside::None,
            ticks,
            log: false,
        }
    }

    /// Draws the heading, the ticks with their gridlines, the zero axis and the bars of `rows`
    /// (one entry per row of `layout`).
    pub fn draw(&self, scene: &mut Scene, layout: &Rows, x: f64, right: f64, rows: &[Slots]) {
        panel_heading(scene, &self.heading, x, right);
        match &self.aside {
            Aside::None => {}
            Aside::Legend(entries) => legend(scene, entries, right, PANEL_BASELINE),
            Aside::Note(note) => {
                let note = note.as_str();
                scene.text(note, right, PANEL_BASELINE, SMALL_SIZE, MUTED, Align::Right);
            }
        }

        let bars = || rows.iter().flat_map(|r| r.iter().flatten());
        let values: Vec<f64> = bars().map(|bar| bar.value).collect();
        let scale = Scale::of(&values, self.log);
        // Leave room right of the longest bar for its value.
        let room = bars()
            .map(|bar| text_width(&bar.label, SMALL_SIZE))
            .fold(0.0, f64::max)
            + 8.0;
        let span = (right - x - room).max(20.0);
        let bottom = layout.bottom();

        for (k, tick) in scale.ticks(self.ticks).into_iter().enumerate() {
            let tx = (x + span * scale.fraction(tick)).round();
            if k > 0 {
                scene.rect(tx, ROWS_TOP, tx + 1.0, bottom, GRID);
            }
            let (tx, align) = if k == 0 {
                (x, Align::Left)
            } else {
                (tx + 0.5, Align::Center)
            };
            let label = self.ticks.format(tick);
            scene.text(label, tx, bottom + 16.0, SMALL_SIZE, MUTED, align);
        }
        scene.rect(x, ROWS_TOP, x + 1.0, bottom, AXIS);

        for (i, row) in rows.iter().enumerate() {
            for (slot, bar) in row.iter().enumerate() {
                let Some(bar) = bar else { continue };
                let top = layout.bar_top(i, slot);
                let drawn = bar.value.is_finite() && bar.value > 0.0;
                // Every positive value shows at least a sliver.
                let length = if drawn {
                    (span * scale.fraction(bar.value)).max(1.5)
                } else {
                    0.0
                };
                if drawn {
                    let end = x + 1.0 + length;
                    scene.rect(x + 1.0, top, end, top + layout.bar_height, bar.color);
                }
                scene.text(
                    bar.label.as_str(),
                    x + 1.0 + length.max(1.5) + 4.0,
                    layout.bar_baseline(top),
                    SMALL_SIZE,
                    if drawn { INK } else { MUTED },
                    Align::Left,
                );
            }
        }
    }
}

/// One row of a [`BarChart`].
#[derive(Debug, Clone)]
pub struct BarRow {
    pub name: String,
    pub bars: Slots,
}

/// A chart of rows with one bar panel: a title, a caption, named rows, and an optional bold note
/// under the tick labels.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub heading: String,
    pub caption: String,
    pub panel: BarPanel,
    pub rows: Vec<BarRow>,
    pub note: Option<String>,
}

impl BarChart {
    pub fn scene(&self) -> Scene {
        let width = f64::from(WIDTH);
        let slots = self.rows.iter().map(|r| r.bars.len()).max().unwrap_or(1);
        let names = self.rows.iter().map(|r| r.name.clone()).collect();
        let layout = Rows::new(names, slots);
        let room = if self.note.is_some() {
            ROWS_BOTTOM_PAD + 22.0
        } else {
            ROWS_BOTTOM_PAD
        };
        let mut scene = Scene::new(WIDTH, layout.height(room));
        title(&mut scene, &self.heading);
        caption_line(&mut scene, &self.caption, width - 2.0 * PAD);
        layout.draw(&mut scene);
        let slots: Vec<Slots> = self.rows.iter().map(|r| r.bars.clone()).collect();
        let (left, right) = (layout.panels_left, layout.panels_right);
        self.panel.draw(&mut scene, &layout, left, right, &slots);
        if let Some(note) = &self.note {
            let note = keep_head(note, LABEL_SIZE, width - 2.0 * PAD);
            let baseline = layout.bottom() + 42.0;
            scene.bold_text(note, PAD, baseline, LABEL_SIZE, INK, Align::Left);
        }
        scene
    }
}

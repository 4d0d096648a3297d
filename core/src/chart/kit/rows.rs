//! Charts of rows: one row per layer (or run), zebra stripes, the names right-aligned in a column
//! on the left, and to their right one or more panels whose bars share the rows' slots.

use super::style::{
    AXIS, BAR, INK, INSET, LABEL_GAP, LABEL_SIZE, MAX_LABEL_WIDTH, MIN_LABEL_WIDTH, PAD,
    PANEL_BASELINE, PANEL_RULE, PANEL_TITLE_SIZE, ROW, ROW_PAIR, ROW_TRIPLE, ROWS_TOP, SLOT_GAP,
    THIN_BAR, WIDTH, ZEBRA,
};
use crate::chart::render::{Align, Scene, keep_tail, text_width};

/// Where the rows, the name column and the panels go.
#[derive(Debug, Clone)]
pub struct Rows {
    names: Vec<String>,
    /// The width of the name column; longer names lose their head.
    pub label_width: f64,
    /// Where the panels start and end, across.
    pub panels_left: f64,
    pub panels_right: f64,
    /// The height of a row, and of each of its bars.
    pub row_height: f64,
    pub bar_height: f64,
    /// Bars a row: 1, 2 or 3.
    pub slots: usize,
}

impl Rows {
    /// The rows of `names`, with `slots` bars each (1 to 3); the name column is as wide as the
    /// longest name, within limits.
    pub fn new(names: Vec<String>, slots: usize) -> Rows {
        let slots = slots.clamp(1, 3);
        let (row_height, bar_height) = match slots {
            1 => (ROW, BAR),
            2 => (ROW_PAIR, THIN_BAR),
            _ => (ROW_TRIPLE, THIN_BAR),
        };
        let widest = names
            .iter()
            .map(|n| text_width(n, LABEL_SIZE))
            .fold(0.0, f64::max);
        let label_width = (widest + 2.0).clamp(MIN_LABEL_WIDTH, MAX_LABEL_WIDTH);
        Rows {
            names,
            label_width,
            panels_left: PAD + INSET + label_width + LABEL_GAP,
            panels_right: f64::from(WIDTH) - PAD - INSET,
            row_height,
            bar_height,
            slots,
        }
    }

    fn len(&self) -> usize {
        self.names.len()
    }

    /// The bottom of the last row.
    pub fn bottom(&self) -> f64 {
        ROWS_TOP + self.row_height * self.len() as f64
    }

    /// The chart's height with `room` below the rows (for tick labels and notes).
    pub fn height(&self, room: f64) -> u32 {
        (self.bottom() + room).ceil() as u32
    }

    /// The top of the bar in `slot` of `row`; the bars of a row are centred in it.
    pub fn bar_top(&self, row: usize, slot: usize) -> f64 {
        let slots = self.slots as f64;
        let first = (self.row_height - self.bar_height * slots - SLOT_GAP * (slots - 1.0)) / 2.0;
        ROWS_TOP + self.row_height * row as f64 + first + (self.bar_height + SLOT_GAP) * slot as f64
    }

    /// The baseline of text beside the bar that starts at `top`.
    pub fn bar_baseline(&self, top: f64) -> f64 {
        top + self.bar_height / 2.0 + 4.0
    }

    /// Zebra stripes under every other row, then the names.
    pub fn draw(&self, scene: &mut Scene) {
        let width = f64::from(WIDTH);
        for i in (0..self.len()).step_by(2) {
            let y = ROWS_TOP + self.row_height * i as f64;
            scene.rect(PAD, y, width - PAD, y + self.row_height, ZEBRA);
        }
        let right = PAD + INSET + self.label_width;
        for (i, name) in self.names.iter().enumerate() {
            let baseline = ROWS_TOP + self.row_height * i as f64 + self.row_height / 2.0 + 4.0;
            let name = keep_tail(name, LABEL_SIZE, self.label_width);
            scene.text(name, right, baseline, LABEL_SIZE, INK, Align::Right);
        }
    }
}

/// A panel's bold heading at `x` and the rule under the headings from `x` to `right`.
pub fn panel_heading(scene: &mut Scene, heading: &str, x: f64, right: f64) {
    scene.bold_text(
        heading,
        x,
        PANEL_BASELINE,
        PANEL_TITLE_SIZE,
        INK,
        Align::Left,
    );
    scene.rect(x, PANEL_RULE, right, PANEL_RULE + 1.0, AXIS);
}

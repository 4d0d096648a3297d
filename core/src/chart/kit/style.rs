//! The look every chart shares: the palette, the text sizes, and the page's sizes and margins.

use plotters::style::RGBColor;

// ---------------------------------------------------------------------------------------------
// The palette: white ground, one accent for what the chart is about (prunable layers, the
// estimate, the first series), a grey for the rest.

pub const ACCENT: RGBColor = RGBColor(0x35, 0x6c, 0xd4);
pub const GREY: RGBColor = RGBColor(0xb3, 0xb9, 0xc2);
pub const INK: RGBColor = RGBColor(0x1f, 0x23, 0x28);
pub const MUTED: RGBColor = RGBColor(0x5f, 0x66, 0x70);
pub const GRID: RGBColor = RGBColor(0xe4, 0xe7, 0xeb);
pub const AXIS: RGBColor = RGBColor(0x9a, 0xa1, 0xab);
pub const ZEBRA: RGBColor = RGBColor(0xf6, 0xf7, 0xf9);

pub const ORANGE: RGBColor = RGBColor(0xe0, 0x7a, 0x2f);
pub const GREEN: RGBColor = RGBColor(0x2f, 0x9e, 0x6b);
pub const CRIMSON: RGBColor = RGBColor(0xc2, 0x3b, 0x5a);
pub const PURPLE: RGBColor = RGBColor(0x7d, 0x5b, 0xc6);
pub const TEAL: RGBColor = RGBColor(0x1f, 0x9a, 0xb0);
pub const BROWN: RGBColor = RGBColor(0x8a, 0x6d, 0x3b);

/// The colours of the series of a chart (lines, models), in order: the accent first.
pub const SERIES: [RGBColor; 8] = [ACCENT, ORANGE, GREEN, CRIMSON, PURPLE, TEAL, BROWN, MUTED];

/// Shades of the accent from light to dark, for a value from low to high.
pub const BLUES: [RGBColor; 5] = [
    RGBColor(0xc6, 0xd6, 0xf2),
    LIGHT_ACCENT,
    RGBColor(0x6b, 0x93, 0xdc),
    ACCENT,
    RGBColor(0x1d, 0x3f, 0x85),
];
/// A light accent: an estimate beside the measured accent.
pub const LIGHT_ACCENT: RGBColor = RGBColor(0x9c, 0xb8, 0xea);

// ---------------------------------------------------------------------------------------------
// Text sizes, in CSS pixels to the em.

pub const TITLE_SIZE: f64 = 15.0;
pub const LABEL_SIZE: f64 = 12.0;
pub const SMALL_SIZE: f64 = 11.0;
/// A panel's bold heading (and a line chart's y-axis name).
pub const PANEL_TITLE_SIZE: f64 = LABEL_SIZE + 1.0;

// ---------------------------------------------------------------------------------------------
// The page: every chart is this wide; its title, caption and panel headings sit on fixed lines.

pub const WIDTH: u32 = 960;
/// The margin around everything.
pub const PAD: f64 = 16.0;
/// Space between the edges of the zebra stripes and what is drawn on them.
pub const INSET: f64 = 8.0;
/// The baselines of the title, the caption and the panel headings.
pub const TITLE_BASELINE: f64 = 28.0;
pub const CAPTION_BASELINE: f64 = 48.0;
pub const PANEL_BASELINE: f64 = 78.0;
/// The rule under the panel headings of a chart of rows.
pub const PANEL_RULE: f64 = 84.0;

// ---------------------------------------------------------------------------------------------
// Charts of rows: zebra rows with names on the left and horizontal bars.

/// The most bars one chart shows; a chart of more layers shows its top layers and says so.
pub const MAX_BARS: usize = 60;
/// Where the first row starts, below the title, the caption and the panel headings.
pub const ROWS_TOP: f64 = 92.0;
/// Room below the last row for the tick labels.
pub const ROWS_BOTTOM_PAD: f64 = 34.0;
/// The name column is as wide as the longest name, within these limits.
pub const MIN_LABEL_WIDTH: f64 = 120.0;
pub const MAX_LABEL_WIDTH: f64 = 300.0;
/// Between the name column and the first panel.
pub const LABEL_GAP: f64 = 10.0;
/// A row and its bar: one bar a row.
pub const ROW: f64 = 20.0;
pub const BAR: f64 = 12.0;
/// Rows with two or three bars: taller, with thinner bars, `SLOT_GAP` apart.
pub const ROW_PAIR: f64 = 26.0;
pub const ROW_TRIPLE: f64 = 38.0;
pub const THIN_BAR: f64 = 9.0;
pub const SLOT_GAP: f64 = 2.0;

// ---------------------------------------------------------------------------------------------
// Line charts: a frame with the y axis on the left, the x axis below.

pub const LINE_HEIGHT: u32 = 420;
pub const FRAME_TOP: f64 = 96.0;
/// Room below the frame for the x tick labels and the x axis's name.
pub const FRAME_BOTTOM_PAD: f64 = 56.0;
/// Lines with at most this many points have them marked.
pub const MARK_POINTS_UP_TO: usize = 30;

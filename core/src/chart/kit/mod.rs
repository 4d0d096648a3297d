//! The chart kit: the parts every chart is drawn with, so that all of them look alike.
//!
//! - [`style`]: the palette, text sizes, and the page's sizes and margins;
//! - [`numbers`]: measurements, ratios and percentages as charts write them (counts come from
//!   `crate::format`, shared with the front ends' tables);
//! - [`axis`]: round steps, line-chart axes, and bar scales with their tick labels;
//! - [`page`]: the title, the caption, swatch legends, the empty chart;
//! - [`rows`] and [`bars`]: charts of named rows and the bar panel drawn over them;
//! - [`lines`]: the line panel (a frame with its axes), series, their legend, the line chart.

pub mod axis;
pub mod bars;
pub mod lines;
pub mod numbers;
pub mod page;
pub mod rows;
pub mod style;

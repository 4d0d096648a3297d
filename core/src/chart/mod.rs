//! Charts of an analysis, rendered in memory as a 2× PNG (sharp on HiDPI screens) plus an SVG.
//!
//! Front ends show `png` with its 1× size declared (`width`, `height`); `svg` is the same picture
//! as vector text for those that can show it. Rendering needs no system fonts: the bitmap text uses
//! DejaVu Sans, embedded in the binary (see `DejaVuSans.LICENSE`).
//!
//! `render` turns a laid-out `Scene` into the PNG and the SVG; `kit` holds what every chart is
//! drawn with (palette, sizes, number formats, axes, the bar and line panels); the other modules
//! are the charts of one subject each.

mod benchmark;
mod channels;
mod kit;
mod layers;
mod plan;
mod profiles;
mod render;
#[cfg(test)]
mod testing;

pub use benchmark::{
    benchmark_batch_scaling, benchmark_comparison, benchmark_iterations, benchmark_speedups,
    benchmark_thread_scaling,
};
pub use channels::channel_plan;
pub use kit::style::MAX_BARS;
pub use layers::params_and_flops;
pub use plan::{plan_schedule, plan_sparsity};
pub use profiles::{
    loss_compare, loss_curves, loss_layers, perf_layers, perf_op_types, perf_speedup,
    quantization_layers,
};

use std::fmt;

/// One rendered chart.
#[derive(Clone, PartialEq, Eq)]
pub struct Chart {
    /// PNG bytes, drawn at 2× pixel density: `2 * width` by `2 * height` pixels.
    pub png: Vec<u8>,
    /// The size to show the chart at, in CSS pixels (1×).
    pub width: u32,
    pub height: u32,
    /// The same chart as an SVG document, `width` by `height` user units.
    pub svg: String,
}

impl fmt::Debug for Chart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chart")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("png_bytes", &self.png.len())
            .field("svg_chars", &self.svg.len())
            .finish()
    }
}

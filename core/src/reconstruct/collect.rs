//! The inputs layers see on calibration samples, through ONNX Runtime: the part of the model
//! that computes them run batch by batch (`frontier`: from what earlier rounds kept), and each
//! batch's activations turned into rows of input features (im2col for Conv) and added to each
//! group's [`InputStats`] at once, in chunks, so that no layer's rows are ever held whole.

mod frontier;

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, Axis, s};

use super::layout::{ConvGeometry, InputForm, LayerLayout};
use super::stats::{InputStats, Products};
use crate::error::{Error, Result, Sentence, Setting};
use crate::model::onnx::{ValueInfoProto, type_proto};
use crate::runtime::Batch;

pub use frontier::{
    Frontier, Given, IN_PARTS_ABOVE_BYTES, MAPPED_PART_ABOVE_BYTES, PART_BYTES, Values,
    constant_bytes, observe_in_parts, run_all, run_in_parts,
};

/// Runs the part of `proto` the collectors' inputs need on every batch, from the model's inputs,
/// and adds each batch's inputs to its collector: one pass that keeps nothing for later
/// (structured pruning's importance and repair, whose passes each stand alone).
pub fn collect(
    proto: &crate::model::onnx::ModelProto,
    collectors: &mut [Collector],
    batches: &[crate::runtime::Batch],
    cancel: &crate::progress::Cancel,
    on_batch: &mut dyn FnMut(usize),
) -> crate::error::Result<()> {
    Frontier::new(batches.len()).collect(proto, collectors, batches, cancel, on_batch)
}

/// Values per chunk of rows handed to [`InputStats::add`] (4 Mi floats: 16 MB, and twice that
/// while it widens them to f64).
const CHUNK_VALUES: usize = 1 << 22;

/// One layer's statistics, one per weight group, filled batch by batch.
#[derive(Debug, Clone)]
pub struct Collector {
    pub layer: String,
    /// The value the layer reads its activations from.
    pub input: String,
    form: InputForm,
    pub stats: Vec<InputStats>,
    /// What the layer is fed, batch by batch, in this mode.
    mode: Mode,
}

/// What a collector does with each batch of inputs it is given.
#[derive(Debug, Clone)]
enum Mode {
    /// Accumulates the statistics.
    Statistics,
    /// Keeps the batches whole, in order (the dense model's inputs, to pair with the pruned
    /// model's later); no statistics.
    Record(Vec<ArrayD<f32>>),
    /// Accumulates the statistics of each batch paired with the dense model's inputs on the same
    /// batch, taken in order from those recorded.
    Paired(std::vec::IntoIter<ArrayD<f32>>),
}

impl Collector {
    /// Refuses a layer whose statistics (`products` of `XᵀX`, f64, per weight group) would not
    /// fit in memory, in one sentence ending with `fix`, before anything runs: the whole matrix of
    /// a layer of hundreds of thousands of inputs would need terabytes (its diagonal, megabytes).
    pub fn fits(
        layer: &str,
        layout: &LayerLayout,
        products: Products,
        fix: Sentence,
    ) -> Result<()> {
        let columns = layout.layout.columns() as u64;
        let need = products
            .bytes(columns)
            .and_then(|n| n.checked_mul(layout.layout.groups() as u64));
        let what = match products {
            Products::Full => "the input statistics (XᵀX)",
            Products::Diagonal => "the input statistics (the diagonal of XᵀX)",
            Products::None => "the input means",
        };
        crate::runtime::memory::check(
            need,
            || format!("{what} of layer {layer}, which reads {columns} columns,"),
            |_| fix,
        )
    }

    /// What to do instead of pruning a layer from samples whose statistics do not fit.
    pub fn prune_without_samples() -> Sentence {
        Sentence::new("prune it with ")
            .set(Setting::Method, "magnitude")
            .text(", which reads no samples, or leave it dense")
    }

    /// A collector of the whole `XᵀX` of each weight group's inputs.
    pub fn new(layer: &str, layout: &LayerLayout) -> Collector {
        Collector::collecting(layer, layout, Products::Full)
    }

    /// A collector of `products` of `XᵀX` (beside the column sums) of each weight group's inputs.
    pub fn collecting(layer: &str, layout: &LayerLayout, products: Products) -> Collector {
        Collector {
            layer: layer.to_string(),
            input: layout.input.clone(),
            form: layout.form.clone(),
            stats: (0..layout.layout.groups())
                .map(|_| InputStats::with(layout.layout.columns(), products))
                .collect(),
            mode: Mode::Statistics,
        }
    }

    /// A collector that keeps the batches of inputs it is given, whole, for
    /// [`Collector::paired_with`].
    pub fn recording(layer: &str, layout: &LayerLayout) -> Collector {
        Collector {
            stats: Vec::new(),
            mode: Mode::Record(Vec::new()),
            ..Collector::new(layer, layout)
        }
    }

    /// A collector of the same layer's inputs in another model (the one being pruned) whose
    /// statistics pair each row with the row `dense` recorded on the same sample; the dense
    /// inputs' own `XᵀX` only with `dense_products` (`InputStats::paired_with`).
    pub fn paired_with(dense: Collector, layout: &LayerLayout, dense_products: bool) -> Collector {
        let batches = match dense.mode {
            Mode::Record(batches) => batches,
            _ => Vec::new(),
        };
        Collector {
            stats: (0..layout.layout.groups())
                .map(|_| InputStats::paired_with(layout.layout.columns(), dense_products))
                .collect(),
            mode: Mode::Paired(batches.into_iter()),
            ..Collector::new(&dense.layer, layout)
        }
    }

    /// Adds one batch of the layer's input activations.
    pub fn add(&mut self, x: ArrayViewD<'_, f32>) -> Result<()> {
        let stats = &mut self.stats;
        let columns = stats.first().map_or(0, InputStats::columns);
        let why = |what: String| {
            Error::Usage(format!(
                "layer {} reads '{}' of shape {:?}, {what}; check that the samples fit the model's inputs.",
                self.layer,
                self.input,
                x.shape()
            ))
        };
        match &mut self.mode {
            Mode::Statistics => feature_rows(&self.form, x.view(), columns, &mut |g, rows| {
                stats[g].add(rows)
            })
            .map_err(why),
            Mode::Record(batches) => {
                batches.push(x.to_owned());
                Ok(())
            }
            Mode::Paired(dense) => {
                let dense = dense
                    .next()
                    .filter(|d| d.shape() == x.shape())
                    .ok_or_else(|| {
                        why("which the dense model's input to it on the same batch is not".into())
                    })?;
                add_paired(&self.form, x.view(), dense.view(), columns, stats).map_err(why)
            }
        }
    }
}

/// Adds the rows of `x` to `stats` paired with those of `dense` (the same shape), a few samples
/// at a time so that both sides' rows (and their chunks, the same for one shape) are in hand
/// together while the dense side's stay small.
fn add_paired(
    form: &InputForm,
    x: ArrayViewD<'_, f32>,
    dense: ArrayViewD<'_, f32>,
    columns: usize,
    stats: &mut [InputStats],
) -> std::result::Result<(), String> {
    // The leading axis is the batch's where there is one beyond the matrix a row or column form
    // reads.
    let batched = x.ndim()
        >= if matches!(form, InputForm::Columns) {
            3
        } else {
            2
        };
    let samples = if batched { x.shape()[0] } else { 1 };
    // Samples per slice: their rows of features (im2col multiplies a sample's values by the
    // kernel's size, 16 at most for most convolutions) within a chunk.
    let per_sample = (x.len() / samples.max(1)).max(1);
    let slice = (CHUNK_VALUES / (16 * per_sample)).max(1);
    for n in (0..samples).step_by(slice) {
        let end = (n + slice).min(samples);
        let (x, dense) = if batched {
            (
                x.slice_axis(Axis(0), (n..end).into()),
                dense.slice_axis(Axis(0), (n..end).into()),
            )
        } else {
            (x.view(), dense.view())
        };
        let mut chunks: Vec<(usize, Array2<f32>)> = Vec::new();
        feature_rows(form, dense, columns, &mut |g, rows| {
            chunks.push((g, rows.to_owned()))
        })?;
        let mut chunks = chunks.into_iter();
        feature_rows(form, x, columns, &mut |g, rows| {
            let (_, d) = chunks.next().expect("one shape, one chunking");
            stats[g].add_paired(rows, d.view());
        })?;
    }
    Ok(())
}

/// Hands the rows of input features in `x` to `sink` (group, rows), in chunks of at most
/// [`CHUNK_VALUES`] values; why not when `x` does not fit a weight of `columns` columns.
pub fn feature_rows(
    form: &InputForm,
    x: ArrayViewD<'_, f32>,
    columns: usize,
    sink: &mut dyn FnMut(usize, ArrayView2<'_, f32>),
) -> std::result::Result<(), String> {
    let features = || format!("but its weight takes {columns} input features");
    match form {
        InputForm::Rows => {
            let k = x.shape().last().copied().unwrap_or(1);
            if k != columns {
                return Err(features());
            }
            let x = x.as_standard_layout();
            let rows = x
                .view()
                .into_shape_with_order((x.len() / k.max(1), k))
                .expect("a standard-layout array reshapes");
            chunked(rows, &mut |r| sink(0, r));
        }
        InputForm::Columns => {
            let nd = x.ndim();
            let k = if nd >= 2 { x.shape()[nd - 2] } else { x.len() };
            if k != columns {
                return Err(features());
            }
            if nd < 2 {
                let row = x.into_shape_with_order((1, k)).expect("one row");
                sink(0, row);
                return Ok(());
            }
            let n = x.shape()[nd - 1];
            let x = x.as_standard_layout();
            let matrices = x
                .view()
                .into_shape_with_order((x.len() / (k * n).max(1), k, n))
                .expect("a standard-layout array reshapes");
            for m in matrices.axis_iter(Axis(0)) {
                chunked(m.reversed_axes(), &mut |r| sink(0, r));
            }
        }
        InputForm::Conv(geometry) => {
            let d = geometry.kernel.len();
            if x.ndim() != d + 2 || x.shape()[1] != geometry.channels {
                return Err(format!(
                    "but its weight takes {} channels of {d}-D inputs",
                    geometry.channels
                ));
            }
            let x = x.as_standard_layout();
            im2col(geometry, x.view(), sink);
        }
    }
    Ok(())
}

/// `rows` in chunks of at most [`CHUNK_VALUES`] values.
fn chunked(rows: ArrayView2<'_, f32>, sink: &mut dyn FnMut(ArrayView2<'_, f32>)) {
    let chunk = (CHUNK_VALUES / rows.ncols().max(1)).max(1);
    let mut start = 0;
    while start < rows.nrows() {
        let end = (start + chunk).min(rows.nrows());
        sink(rows.slice(s![start..end, ..]));
        start = end;
    }
}

/// The im2col rows of a standard-layout Conv input `[N, C, spatial…]`, one row per output
/// position, handed to `sink` (group, rows) in chunks: row columns run over the group's
/// channels, then the kernel's positions in memory order, as the weight's do.
pub fn im2col(
    geometry: &ConvGeometry,
    x: ArrayViewD<'_, f32>,
    sink: &mut dyn FnMut(usize, ArrayView2<'_, f32>),
) {
    let data = x.as_slice().expect("standard layout");
    let shape = x.shape();
    let (batch, channels) = (shape[0], shape[1]);
    let spatial = &shape[2..];
    let d = spatial.len();
    let (begins, out) = geometry.output(spatial);
    let positions: usize = out.iter().product();
    let plane: usize = spatial.iter().product();
    let mut spatial_stride = vec![1usize; d];
    for i in (0..d.saturating_sub(1)).rev() {
        spatial_stride[i] = spatial_stride[i + 1] * spatial[i + 1];
    }
    let kernel_positions: usize = geometry.kernel.iter().product();
    // Each kernel position's offset along each dim, dilated.
    let offsets: Vec<Vec<usize>> = (0..kernel_positions)
        .map(|k| {
            let mut rest = k;
            let mut o = vec![0; d];
            for i in (0..d).rev() {
                o[i] = rest % geometry.kernel[i] * geometry.dilations[i];
                rest /= geometry.kernel[i];
            }
            o
        })
        .collect();
    let per_group = channels / geometry.group;
    let columns = per_group * kernel_positions;
    let rows_total = batch * positions;
    let chunk = (CHUNK_VALUES / columns.max(1)).clamp(1, rows_total.max(1));
    let mut buffer = Array2::<f32>::zeros((chunk, columns));
    let mut origin = vec![0isize; d];
    let mut at = vec![0usize; d];
    for g in 0..geometry.group {
        let mut start = 0;
        while start < rows_total {
            let end = (start + chunk).min(rows_total);
            for r in start..end {
                let (n, mut p) = (r / positions, r % positions);
                for i in (0..d).rev() {
                    origin[i] = (p % out[i] * geometry.strides[i]) as isize - begins[i] as isize;
                    p /= out[i];
                }
                let mut row = buffer.row_mut(r - start);
                let base = (n * channels + g * per_group) * plane;
                for (k, offset) in offsets.iter().enumerate() {
                    let mut inside = true;
                    for i in 0..d {
                        let v = origin[i] + offset[i] as isize;
                        if v < 0 || v as usize >= spatial[i] {
                            inside = false;
                            break;
                        }
                        at[i] = v as usize;
                    }
                    if !inside {
                        for c in 0..per_group {
                            row[c * kernel_positions + k] = 0.0;
                        }
                        continue;
                    }
                    let within: usize = at.iter().zip(&spatial_stride).map(|(a, s)| a * s).sum();
                    for c in 0..per_group {
                        row[c * kernel_positions + k] = data[base + c * plane + within];
                    }
                }
            }
            sink(g, buffer.slice(s![..end - start, ..]));
            start = end;
        }
    }
}

/// One sentence for a run that failed: the samples' shapes beside the model's declared ones.
fn run_error(declared: &[ValueInfoProto], batch: &Batch, why: &str) -> Error {
    let shapes: Vec<String> = batch
        .inputs
        .iter()
        .map(|(name, array)| {
            let model = declared
                .iter()
                .find(|v| v.name() == name)
                .map_or_else(|| "undeclared".to_string(), declared_dims);
            format!(
                "input '{name}' of shape {:?} where the model declares {model}",
                array.shape()
            )
        })
        .collect();
    Error::Runtime(format!(
        "ONNX Runtime could not run the model on the calibration samples ({}): {}; give samples shaped as the model's inputs.",
        shapes.join(", "),
        why.trim_end_matches('.')
    ))
}

fn declared_dims(info: &ValueInfoProto) -> String {
    let Some(type_proto::Value::TensorType(t)) =
        info.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return "no tensor type".into();
    };
    let Some(shape) = &t.shape else {
        return "no shape".into();
    };
    let dims: Vec<String> = shape
        .dim
        .iter()
        .map(|d| match &d.value {
            Some(crate::model::onnx::tensor_shape_proto::dimension::Value::DimValue(v)) => {
                v.to_string()
            }
            Some(crate::model::onnx::tensor_shape_proto::dimension::Value::DimParam(p)) => {
                p.clone()
            }
            None => "?".into(),
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

#[cfg(test)]
mod tests;

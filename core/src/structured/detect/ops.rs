//! How each op moves, ties or ends the channels it reads, looked up by `op_type`: the layers
//! that compute channels are in `layers`, ops that pass them on in `pass`, element-wise ties in
//! `elementwise`, offsets in `offsets`, shape-changing views in `reshape`.

use super::{Map, Part, Walk, elementwise, layers, offsets, pass, reshape};
use crate::analysis::graph::is_default_domain;
use crate::analysis::ops::{BROADCAST, COMPARISONS, PER_ELEMENT, REDUCE};
use crate::model::{attr, tensor};

/// Ops that pass their first input on element by element, besides the math of `PER_ELEMENT`:
/// the channels pass through unchanged.
const PASS_THROUGH: &[&str] = &[
    "Identity", "Cast", "CastLike", "Dropout", "Not", "IsNaN", "IsInf",
];

/// Pooling over the spatial axes of `[N, C, ...]`: each channel pooled alone.
const POOLS: &[&str] = &[
    "MaxPool",
    "AveragePool",
    "LpPool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "GlobalLpPool",
];

/// Ops that keep the channels where the channel axis keeps its size: resizing, padding,
/// slicing or broadcasting other axes.
const SAME_SIZE: &[&str] = &["Resize", "Upsample", "Pad", "Slice", "Expand", "Tile"];

pub(super) fn visit(w: &mut Walk, i: usize) {
    let node = w.node(i);
    let reads_channels = w.index.uses(i).any(|v| w.map(v).is_some());
    let layer = matches!(node.op_type(), "Conv" | "ConvTranspose" | "Gemm" | "MatMul");
    let produces = node.output.first().is_some_and(|o| !o.is_empty());
    if !produces || !(reads_channels || layer && is_default_domain(node)) {
        return;
    }
    if w.index.outer_reads(i).iter().any(|v| w.map(v).is_some()) {
        let reason = format!("{} reads the channels inside a subgraph", w.describe(i));
        w.pin_inputs(i, &reason);
        return;
    }
    if !is_default_domain(node) {
        unknown(w, i);
        return;
    }
    match node.op_type() {
        "Conv" => layers::conv(w, i),
        "ConvTranspose" => layers::conv_transpose(w, i),
        "Gemm" => layers::gemm(w, i),
        "MatMul" => layers::matmul(w, i),
        "BatchNormalization" => pass::normalization(w, i, &[1, 2, 3, 4]),
        "InstanceNormalization" => pass::normalization(w, i, &[1, 2]),
        "LayerNormalization" => elementwise::visit(w, i, Part::PerChannel),
        op if PER_ELEMENT.contains(&op) || PASS_THROUGH.contains(&op) => pass::unary(w, i),
        // Channels at the same position are tied; a constant with one value per channel is a
        // per-channel parameter.
        op if BROADCAST.contains(&op) || COMPARISONS.contains(&op) || op == "Where" => {
            elementwise::visit(w, i, Part::PerChannel)
        }
        op if POOLS.contains(&op) => pass::pool(w, i),
        op if SAME_SIZE.contains(&op) => pass::same_size(w, i),
        op if REDUCE.contains(&op) || op == "ArgMax" || op == "ArgMin" => pass::reduce(w, i),
        "Softmax" | "LogSoftmax" | "Hardmax" => pass::softmax(w, i),
        "Transpose" => pass::transpose(w, i),
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => reshape::visit(w, i),
        "Concat" => offsets::concat(w, i),
        "Split" => offsets::split(w, i),
        "Gather" => offsets::gather(w, i),
        "Shape" => shape_read(w, i),
        _ => unknown(w, i),
    }
}

/// An op whose channel semantics the walk does not know: its channels stay.
pub(super) fn unknown(w: &mut Walk, i: usize) {
    let reason = format!(
        "{} reads the channels, and how it uses them is not known",
        w.describe(i)
    );
    w.pin_inputs(i, &reason);
}

/// A node whose output `slot` has a shape the analysis could not infer: its channels stay.
pub(super) fn shape_unknown(w: &mut Walk, i: usize, slot: usize) {
    let value = w.node(i).output.get(slot).cloned().unwrap_or_default();
    let reason = format!("the shape of {value} is not known");
    w.pin_inputs(i, &reason);
}

/// The map of input `slot` of node `i`, when it has one.
pub(super) fn input_map(w: &Walk, i: usize, slot: usize) -> Option<Map> {
    let value = w.node(i).input.get(slot)?;
    w.map(value).cloned()
}

/// Whether only input 0 carries channels; otherwise the others are pinned and `false` answered.
pub(super) fn only_first_input_mapped(w: &mut Walk, i: usize) -> bool {
    let others = w.node(i).input.iter().skip(1).any(|v| w.map(v).is_some());
    if others {
        unknown(w, i);
    }
    !others
}

/// `Shape` of a value that carries channels: harmless when only other dims are used (a
/// `Gather` or `Slice` of constant indices that miss the channel axis), else the channel count
/// flows into computed shapes and the channels stay.
fn shape_read(w: &mut Walk, i: usize) {
    let Some(map) = input_map(w, i, 0) else {
        return;
    };
    let node = w.node(i);
    let rank = w.shape(&node.input[0]).map_or(0, |s| s.len()) as i64;
    let start = normalize(attr::int(node, "start").unwrap_or(0), rank as usize).unwrap_or(0);
    let end = attr::int(node, "end")
        .map(|e| if e < 0 { e + rank } else { e.min(rank) })
        .unwrap_or(rank)
        .max(0) as usize;
    if !(start..end).contains(&map.axis) {
        return;
    }
    let dim = (map.axis - start) as i64;
    let dims = (end - start) as i64;
    let picked = |value: &str| -> Option<Vec<i64>> {
        let c = w.index.weight(value)?;
        tensor::to_i64(c.tensor, 64)
    };
    let out = &node.output[0];
    let harmless = w.index.reads_of(out).iter().all(|read| {
        let reader = w.node(read.node);
        match (reader.op_type(), read.input) {
            ("Gather", Some(0)) => reader
                .input
                .get(1)
                .and_then(|v| picked(v))
                .is_some_and(|idx| {
                    idx.iter()
                        .all(|&k| (if k < 0 { k + dims } else { k }) != dim)
                }),
            ("Slice", Some(0)) => {
                let starts = reader.input.get(1).and_then(|v| picked(v));
                let ends = reader.input.get(2).and_then(|v| picked(v));
                match (starts, ends) {
                    (Some(s), Some(e)) if s.len() == 1 && e.len() == 1 => {
                        let clamp = |k: i64| {
                            if k < 0 {
                                (k + dims).max(0)
                            } else {
                                k.min(dims)
                            }
                        };
                        !(clamp(s[0])..clamp(e[0])).contains(&dim)
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    });
    if !harmless {
        let reason = format!(
            "{} reads the channel count of {}",
            w.describe(i),
            node.input[0]
        );
        w.pin(&map.elements, reason);
    }
}

/// A possibly negative axis made an index into `rank` axes.
pub(super) fn normalize(axis: i64, rank: usize) -> Option<usize> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    (0..rank as i64).contains(&a).then_some(a as usize)
}

//! How each op moves, ties or ends the channels it reads: one function per op family, looked up
//! by `op_type`. The layers that compute channels are in `layers`, shape-changing views in
//! `reshape`.

use super::{Map, Part, Site, Walk, layers, reshape};
use crate::analysis::graph::is_default_domain;
use crate::analysis::ops::REDUCE;
use crate::model::{attr, tensor};

/// Ops that act on each element alone (or along axes other than the channels') and keep the
/// shape of their first input: the channels pass through unchanged.
const UNARY: &[&str] = &[
    "Identity",
    "Cast",
    "CastLike",
    "Dropout",
    "Relu",
    "LeakyRelu",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Tanh",
    "Elu",
    "Selu",
    "Celu",
    "Softplus",
    "Softsign",
    "Gelu",
    "Erf",
    "Mish",
    "ThresholdedRelu",
    "Shrink",
    "Neg",
    "Abs",
    "Sqrt",
    "Exp",
    "Log",
    "Reciprocal",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Sin",
    "Cos",
    "Not",
    "IsNaN",
    "IsInf",
];

/// Ops that combine inputs element by element, with broadcasting: channels at the same position
/// are tied; a constant with one value per channel is a per-channel parameter.
const ELEMENTWISE: &[&str] = &[
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Max",
    "Min",
    "Sum",
    "Mean",
    "Where",
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
    "And",
    "Or",
    "Xor",
    "Mod",
    "PRelu",
    "Clip",
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
        "BatchNormalization" => normalization(w, i, &[1, 2, 3, 4]),
        "InstanceNormalization" => normalization(w, i, &[1, 2]),
        "LayerNormalization" => elementwise(w, i, Part::PerChannel),
        op if UNARY.contains(&op) => unary(w, i),
        op if ELEMENTWISE.contains(&op) => elementwise(w, i, Part::PerChannel),
        op if POOLS.contains(&op) => pool(w, i),
        op if SAME_SIZE.contains(&op) => same_size(w, i),
        op if REDUCE.contains(&op) || op == "ArgMax" || op == "ArgMin" => reduce(w, i),
        "Softmax" | "LogSoftmax" | "Hardmax" => softmax(w, i),
        "Transpose" => transpose(w, i),
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => reshape::visit(w, i),
        "Concat" => concat(w, i),
        "Split" => split(w, i),
        "Gather" => gather(w, i),
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
fn input_map(w: &Walk, i: usize, slot: usize) -> Option<Map> {
    let value = w.node(i).input.get(slot)?;
    w.map(value).cloned()
}

/// Whether only input 0 carries channels; otherwise the others are pinned and `false` answered.
fn only_first_input_mapped(w: &mut Walk, i: usize) -> bool {
    let others = w.node(i).input.iter().skip(1).any(|v| w.map(v).is_some());
    if others {
        unknown(w, i);
    }
    !others
}

fn unary(w: &mut Walk, i: usize) {
    if !only_first_input_mapped(w, i) {
        return;
    }
    if let Some(map) = input_map(w, i, 0) {
        let out = w.node(i).output[0].clone();
        w.set_map(&out, map);
    }
}

fn pool(w: &mut Walk, i: usize) {
    let Some(map) = input_map(w, i, 0) else {
        return unknown(w, i);
    };
    if map.axis != 1 {
        let reason = format!(
            "{} pools over the axis that holds the channels",
            w.describe(i)
        );
        w.pin(&map.elements, reason);
        return;
    }
    let out = w.node(i).output[0].clone();
    w.set_map(&out, map);
}

/// BatchNormalization and InstanceNormalization: per-channel parameters at `slots`, axis 1.
fn normalization(w: &mut Walk, i: usize, slots: &[usize]) {
    let Some(map) = input_map(w, i, 0).filter(|m| m.axis == 1) else {
        return unknown(w, i);
    };
    if !only_first_input_mapped(w, i) {
        return;
    }
    for &slot in slots {
        let Some(value) = w.node(i).input.get(slot).filter(|v| !v.is_empty()) else {
            continue;
        };
        match w.weight(value) {
            Some((tensor, dims, false)) if dims.first() == Some(&map.elements.len()) => {
                let site = Site::Slice {
                    tensor,
                    axis: 0,
                    part: Part::PerChannel,
                    node: i,
                };
                w.claim(site, &map.elements);
            }
            _ => {
                let reason = format!(
                    "{} takes its per-channel parameter {value} from a computed value",
                    w.describe(i)
                );
                w.pin(&map.elements, reason);
            }
        }
    }
    let out = w.node(i).output[0].clone();
    w.set_map(&out, map);
}

/// Element-by-element ops with broadcasting (numpy rules: shapes aligned from the right).
pub(super) fn elementwise(w: &mut Walk, i: usize, part: Part) {
    let node = w.node(i);
    let Some(out_shape) = w.shape(&node.output[0]) else {
        return shape_unknown(w, i, 0);
    };
    let rank = out_shape.len();
    let inputs: Vec<(usize, String)> = node
        .input
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(s, v)| (s, v.clone()))
        .collect();
    // The output axis each channel-carrying input puts its channels on.
    let mut axis = None;
    for (_, value) in &inputs {
        if let Some(map) = w.map(value) {
            let in_rank = w.shape(value).map_or(rank, |s| s.len());
            let aligned = map.axis + rank.saturating_sub(in_rank);
            if axis.is_some_and(|a| a != aligned) {
                let reason = format!("{} combines channels on different axes", w.describe(i));
                w.pin_inputs(i, &reason);
                return;
            }
            axis = Some(aligned);
        }
    }
    let Some(axis) = axis.filter(|&a| a < rank) else {
        return unknown(w, i);
    };
    let width = out_shape[axis] as usize;
    let mut out: Option<Vec<u32>> = None;
    let mut spread = Vec::new();
    for (_, value) in &inputs {
        let Some(map) = w.map(value).cloned() else {
            continue;
        };
        if map.elements.len() == width {
            match &out {
                None => out = Some(map.elements),
                Some(o) => {
                    let o = o.clone();
                    w.tie(&o, &map.elements);
                }
            }
        } else {
            spread.extend(map.elements);
        }
    }
    // A one-channel input (a spatial attention map) scales every channel of the others: its
    // own channel stays, theirs are free.
    let reason = format!(
        "{} spreads one channel over the {width} channels of another input",
        w.describe(i)
    );
    w.pin(&spread, reason);
    let Some(out) = out else {
        return;
    };
    for (_, value) in &inputs {
        if w.map(value).is_some() {
            continue;
        }
        let Some(shape) = w.shape(value) else {
            let fresh = w.opaque(value, width, i);
            w.tie(&out, &fresh);
            continue;
        };
        let Some(k) = (axis + shape.len()).checked_sub(rank) else {
            continue;
        };
        if shape[k] == 1 {
            continue;
        }
        match w.weight(value) {
            Some((tensor, dims, transposed)) if shape[k] as usize == width => {
                let stored = if transposed { dims.len() - 1 - k } else { k };
                let site = Site::Slice {
                    tensor,
                    axis: stored,
                    part,
                    node: i,
                };
                w.claim(site, &out);
            }
            _ => {
                let fresh = w.opaque(value, width, i);
                w.tie(&out, &fresh);
            }
        }
    }
    if w.node(i).op_type() == "Mul" {
        mark_gates(w, i, &out_shape, axis);
    }
    let out_value = w.node(i).output[0].clone();
    w.set_map(
        &out_value,
        Map {
            axis,
            elements: out,
        },
    );
}

/// A `Mul` of a path by channels that are one value per channel and sample (squeeze and
/// excitation): the layers that computed those channels gate the path rather than produce it.
fn mark_gates(w: &mut Walk, i: usize, out_shape: &[u64], axis: usize) {
    let spread = |shape: &[u64]| -> u64 {
        let offset = out_shape.len() - shape.len();
        (0..shape.len())
            .filter(|&k| k + offset != axis && k + offset != 0)
            .map(|k| shape[k])
            .product()
    };
    if spread(out_shape) <= 1 {
        return;
    }
    let inputs = w.node(i).input.clone();
    for value in &inputs {
        let (Some(map), Some(shape)) = (w.map(value).cloned(), w.shape(value)) else {
            continue;
        };
        if spread(&shape) != 1 {
            continue;
        }
        for e in map.elements {
            let born = w.elements.born(e);
            if born != super::elements::NO_NODE
                && matches!(w.node(born as usize).op_type(), "Conv" | "Gemm" | "MatMul")
            {
                w.gates.insert(born as usize);
            }
        }
    }
}

/// Resize, Pad, Slice, Expand, Tile: the channels pass when the channel axis keeps its size.
fn same_size(w: &mut Walk, i: usize) {
    let Some(map) = input_map(w, i, 0) else {
        return unknown(w, i);
    };
    if !only_first_input_mapped(w, i) {
        return;
    }
    let node = w.node(i);
    let (Some(in_shape), Some(out_shape)) = (w.shape(&node.input[0]), w.shape(&node.output[0]))
    else {
        let reason = format!("the shape of {} is not known", node.output[0]);
        w.pin(&map.elements, reason);
        return;
    };
    let axis = map.axis + out_shape.len().saturating_sub(in_shape.len());
    if out_shape.get(axis) != in_shape.get(map.axis) {
        let reason = format!("{} changes the size of the channel axis", w.describe(i));
        w.pin(&map.elements, reason);
        return;
    }
    // A target shape that spells the channel count out loses an entry per channel removed.
    let target = match node.op_type() {
        "Resize" => node.input.get(3),
        "Expand" => node.input.get(1),
        _ => None,
    };
    if let Some(target) = target.filter(|t| !t.is_empty()) {
        let entries = w
            .index
            .weight(target)
            .and_then(|c| tensor::to_i64(c.tensor, 64).map(|v| (c.name.to_string(), v)));
        match entries {
            Some((tensor, v)) => {
                let k = (axis + v.len()).checked_sub(out_shape.len());
                if let Some(k) = k.filter(|&k| v[k] > 1) {
                    let site = Site::ShapeEntry {
                        tensor,
                        index: k,
                        node: i,
                    };
                    w.claim(site, &map.elements);
                }
            }
            None => {
                let reason = format!(
                    "{} takes its target shape from a computed value",
                    w.describe(i)
                );
                w.pin(&map.elements, reason);
            }
        }
    }
    let out = node.output[0].clone();
    w.set_map(
        &out,
        Map {
            axis,
            elements: map.elements,
        },
    );
}

/// The axes a reduction reduces (all when none are given).
fn reduced_axes(w: &Walk, i: usize, rank: usize) -> Vec<usize> {
    let node = w.node(i);
    let listed: Option<Vec<i64>> = if matches!(node.op_type(), "ArgMax" | "ArgMin") {
        Some(vec![attr::int(node, "axis").unwrap_or(0)])
    } else if let Some(axes) = attr::ints(node, "axes") {
        Some(axes.to_vec())
    } else {
        node.input
            .get(1)
            .filter(|v| !v.is_empty())
            .and_then(|v| w.index.weight(v))
            .and_then(|c| tensor::to_i64(c.tensor, 64))
    };
    match listed {
        Some(axes) if !axes.is_empty() => axes.iter().filter_map(|&a| normalize(a, rank)).collect(),
        _ => (0..rank).collect(),
    }
}

/// Reductions: over the channel axis they end the channels (a statistic over them: removing a
/// channel changes it, it stays valid), except ArgMax/ArgMin, which answer channel indices;
/// over other axes the channels pass on.
fn reduce(w: &mut Walk, i: usize) {
    let Some(map) = input_map(w, i, 0) else {
        return unknown(w, i);
    };
    let node = w.node(i);
    let Some(rank) = w.shape(&node.input[0]).map(|s| s.len()) else {
        return shape_unknown(w, i, 0);
    };
    let axes = reduced_axes(w, i, rank);
    let keep = attr::int(node, "keepdims").unwrap_or(1) != 0;
    if axes.contains(&map.axis) {
        if matches!(node.op_type(), "ArgMax" | "ArgMin") {
            let reason = format!("{} answers channel indices", w.describe(i));
            w.pin(&map.elements, reason);
        }
        return;
    }
    let axis = if keep {
        map.axis
    } else {
        map.axis - axes.iter().filter(|&&a| a < map.axis).count()
    };
    let out = node.output[0].clone();
    w.set_map(
        &out,
        Map {
            axis,
            elements: map.elements,
        },
    );
}

/// Softmax normalizes across its axis (and, before opset 13, every axis after it).
fn softmax(w: &mut Walk, i: usize) {
    let Some(map) = input_map(w, i, 0) else {
        return unknown(w, i);
    };
    let node = w.node(i);
    let Some(rank) = w.shape(&node.input[0]).map(|s| s.len()) else {
        return shape_unknown(w, i, 0);
    };
    let old = w.opset < 13;
    let default = if old { 1 } else { -1 };
    let axis = normalize(attr::int(node, "axis").unwrap_or(default), rank).unwrap_or(0);
    let across = if old {
        map.axis >= axis
    } else {
        map.axis == axis
    };
    if across {
        let reason = format!("{} normalizes across the channels", w.describe(i));
        w.pin(&map.elements, reason);
    }
    let out = node.output[0].clone();
    w.set_map(&out, map);
}

fn transpose(w: &mut Walk, i: usize) {
    let Some(map) = input_map(w, i, 0) else {
        return unknown(w, i);
    };
    let node = w.node(i);
    let rank = w.shape(&node.input[0]).map_or(0, |s| s.len());
    let perm: Vec<usize> = match attr::ints(node, "perm") {
        Some(p) => p.iter().map(|&a| a.max(0) as usize).collect(),
        None => (0..rank).rev().collect(),
    };
    let Some(axis) = perm.iter().position(|&a| a == map.axis) else {
        return shape_unknown(w, i, 0);
    };
    let out = node.output[0].clone();
    w.set_map(
        &out,
        Map {
            axis,
            elements: map.elements,
        },
    );
}

/// Concat along the channel axis puts each input's channels at its offset; along another axis
/// it ties the inputs' channels position by position.
fn concat(w: &mut Walk, i: usize) {
    let node = w.node(i);
    let Some(out_shape) = w.shape(&node.output[0]) else {
        return shape_unknown(w, i, 0);
    };
    let rank = out_shape.len();
    let Some(along) = normalize(attr::int(node, "axis").unwrap_or(0), rank) else {
        return unknown(w, i);
    };
    let inputs: Vec<String> = node
        .input
        .iter()
        .filter(|v| !v.is_empty())
        .cloned()
        .collect();
    let axes: Vec<usize> = inputs
        .iter()
        .filter_map(|v| w.map(v))
        .map(|m| m.axis)
        .collect();
    if axes.windows(2).any(|p| p[0] != p[1]) {
        let reason = format!("{} joins channels on different axes", w.describe(i));
        w.pin_inputs(i, &reason);
        return;
    }
    let axis = axes[0];
    let mut elements = Vec::new();
    if axis == along {
        for value in &inputs {
            match w.map(value).cloned() {
                Some(map) => elements.extend(map.elements),
                None => {
                    let Some(n) = w.shape(value).and_then(|s| s.get(axis).copied()) else {
                        let reason = format!("the shape of {value} is not known");
                        w.pin_inputs(i, &reason);
                        return;
                    };
                    let fresh = w.opaque(value, n as usize, i);
                    elements.extend(fresh);
                }
            }
        }
    } else {
        let width = out_shape[axis] as usize;
        for value in &inputs {
            let part = match w.map(value).cloned() {
                Some(map) => map.elements,
                None => w.opaque(value, width, i),
            };
            if elements.is_empty() {
                elements = part;
            } else {
                let first = elements.clone();
                w.tie(&first, &part);
            }
        }
    }
    let out = node.output[0].clone();
    w.set_map(&out, Map { axis, elements });
}

/// Split along the channel axis gives each output its range; the sizes, when a constant holds
/// them, lose an entry per channel removed. Along another axis every output keeps the map.
fn split(w: &mut Walk, i: usize) {
    let Some(map) = input_map(w, i, 0) else {
        return unknown(w, i);
    };
    let node = w.node(i);
    let rank = w.shape(&node.input[0]).map_or(0, |s| s.len());
    let along = normalize(attr::int(node, "axis").unwrap_or(0), rank);
    let outputs: Vec<String> = node.output.clone();
    if along != Some(map.axis) {
        for out in &outputs {
            w.set_map(out, map.clone());
        }
        return;
    }
    let sizes: Vec<usize> = outputs
        .iter()
        .map(|o| {
            w.shape(o)
                .and_then(|s| s.get(map.axis).copied())
                .unwrap_or(0) as usize
        })
        .collect();
    if sizes.iter().sum::<usize>() != map.elements.len() {
        let reason = format!("the output shapes of {} are not known", w.describe(i));
        w.pin(&map.elements, reason);
        return;
    }
    let constant = node
        .input
        .get(1)
        .filter(|v| !v.is_empty())
        .and_then(|v| w.index.weight(v))
        .map(|c| c.name.to_string());
    match constant {
        Some(tensor) => {
            let mut start = 0;
            for (k, &n) in sizes.iter().enumerate() {
                let site = Site::ShapeEntry {
                    tensor: tensor.clone(),
                    index: k,
                    node: i,
                };
                w.claim(site, &map.elements[start..start + n]);
                start += n;
            }
        }
        None => {
            let reason = if attr::find(node, "split").is_some() {
                format!(
                    "{} keeps its sizes in an attribute (opset below 13)",
                    w.describe(i)
                )
            } else {
                format!("{} splits the channels into equal parts", w.describe(i))
            };
            w.pin(&map.elements, reason);
        }
    }
    let mut start = 0;
    for (out, n) in outputs.iter().zip(sizes) {
        let elements = map.elements[start..start + n].to_vec();
        start += n;
        w.set_map(
            out,
            Map {
                axis: map.axis,
                elements,
            },
        );
    }
}

/// Gather along the channel axis picks channels by index: they stay. Along another axis the
/// channels pass, shifted by the indices' rank.
fn gather(w: &mut Walk, i: usize) {
    if !only_first_input_mapped(w, i) {
        return;
    }
    let Some(map) = input_map(w, i, 0) else {
        return unknown(w, i);
    };
    let node = w.node(i);
    let rank = w.shape(&node.input[0]).map_or(0, |s| s.len());
    let along = normalize(attr::int(node, "axis").unwrap_or(0), rank);
    let indices_rank = node.input.get(1).and_then(|v| w.shape(v)).map(|s| s.len());
    let (Some(along), Some(indices_rank)) = (along, indices_rank) else {
        return unknown(w, i);
    };
    if along == map.axis {
        let reason = format!("{} picks channels by index", w.describe(i));
        w.pin(&map.elements, reason);
        return;
    }
    let axis = if along < map.axis {
        map.axis - 1 + indices_rank
    } else {
        map.axis
    };
    let out = node.output[0].clone();
    w.set_map(
        &out,
        Map {
            axis,
            elements: map.elements,
        },
    );
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

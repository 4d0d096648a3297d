//! Ops that pass channels on: one value in, the channels where they were (or where a
//! Transpose or a reduction over other axes moves them), with per-channel parameters claimed.

use super::ops::{input_map, normalize, only_first_input_mapped, shape_unknown, unknown};
use super::{Map, Part, Site, Walk};
use crate::model::{attr, tensor};

pub(super) fn unary(w: &mut Walk, i: usize) {
    if !only_first_input_mapped(w, i) {
        return;
    }
    if let Some(map) = input_map(w, i, 0) {
        let out = w.node(i).output[0].clone();
        w.set_map(&out, map);
    }
}

pub(super) fn pool(w: &mut Walk, i: usize) {
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
pub(super) fn normalization(w: &mut Walk, i: usize, slots: &[usize]) {
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

/// Resize, Pad, Slice, Expand, Tile: the channels pass when the channel axis keeps its size.
pub(super) fn same_size(w: &mut Walk, i: usize) {
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
pub(super) fn reduce(w: &mut Walk, i: usize) {
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
pub(super) fn softmax(w: &mut Walk, i: usize) {
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

pub(super) fn transpose(w: &mut Walk, i: usize) {
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

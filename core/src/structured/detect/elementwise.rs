//! Element-wise ops with broadcasting: the channels at one position of every operand are tied.

use super::ops::{shape_unknown, unknown};
use super::{Map, Part, Site, Walk};

/// Element-by-element ops with broadcasting (numpy rules: shapes aligned from the right).
pub(super) fn visit(w: &mut Walk, i: usize, part: Part) {
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

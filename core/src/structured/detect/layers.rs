//! The layers that compute channels: Conv, Gemm and MatMul with a constant weight make new
//! channels (their weight rows) and read their input's channels (their weight columns); a
//! depthwise convolution filters each channel alone and passes it on; MatMul of two computed
//! operands (attention) ties or passes the channels of each side.

use super::ops::unknown;
use super::{Map, Part, Site, Walk};
use crate::model::attr;

fn claim_slice(w: &mut Walk, tensor: &str, axis: usize, part: Part, node: usize, e: &[u32]) {
    let site = Site::Slice {
        tensor: tensor.to_string(),
        axis,
        part,
        node,
    };
    w.claim(site, e);
}

/// A bias (input `slot`) with one value per output channel, along `axis` of the stored tensor.
fn bias(w: &mut Walk, i: usize, slot: usize, part: Part, elements: &[u32]) {
    let Some(value) = w.node(i).input.get(slot).filter(|v| !v.is_empty()).cloned() else {
        return;
    };
    match w.weight(&value) {
        Some((tensor, dims, false)) if dims.last() == Some(&elements.len()) => {
            claim_slice(w, &tensor, dims.len() - 1, part, i, elements);
        }
        Some((_, dims, false)) if dims.iter().product::<usize>() == 1 => {}
        _ => {
            let reason = format!("{} adds a bias computed at run time", w.describe(i));
            w.pin(elements, reason);
        }
    }
}

/// The channel map of input `slot`, when it has one.
fn input(w: &Walk, i: usize, slot: usize) -> Option<Map> {
    w.map(w.node(i).input.get(slot)?).cloned()
}

pub(super) fn conv(w: &mut Walk, i: usize) {
    let node = w.node(i);
    let Some((weight, dims, false)) = node.input.get(1).and_then(|v| w.weight(v)) else {
        return unknown(w, i);
    };
    if dims.len() < 3 {
        return unknown(w, i);
    }
    let group = attr::int(node, "group").unwrap_or(1).max(1) as usize;
    let (outputs, per_group) = (dims[0], dims[1]);
    let mut read = input(w, i, 0);
    if let Some(map) = read.as_ref().filter(|m| m.axis != 1) {
        let reason = format!("{} reads the channels along a spatial axis", w.describe(i));
        w.pin(&map.elements.clone(), reason);
        read = None;
    }
    let out_value = node.output[0].clone();
    if group == 1 {
        if let Some(map) = read {
            if map.elements.len() == per_group {
                claim_slice(w, &weight, 1, Part::Consumer, i, &map.elements);
            } else {
                let reason = format!("{} reads a different number of channels", w.describe(i));
                w.pin(&map.elements, reason);
            }
        }
        let out = w.fresh(outputs, i);
        claim_slice(w, &weight, 0, Part::Producer, i, &out);
        bias(w, i, 2, Part::Producer, &out);
        w.set_map(
            &out_value,
            Map {
                axis: 1,
                elements: out,
            },
        );
        return;
    }
    let channels = w
        .shape(&node.input[0])
        .and_then(|s| s.get(1).copied())
        .unwrap_or(0) as usize;
    if per_group == 1 && outputs == group && channels == group {
        // Depthwise: channel c filtered alone by row c; the channels pass through.
        let elements = match read {
            Some(map) => map.elements,
            None => {
                let x = node.input[0].clone();
                w.opaque(&x, group, i)
            }
        };
        claim_slice(w, &weight, 0, Part::PerChannel, i, &elements);
        bias(w, i, 2, Part::PerChannel, &elements);
        w.claim(Site::ConvGroups { node: i }, &elements);
        w.set_map(&out_value, Map { axis: 1, elements });
        return;
    }
    let reason = format!(
        "{} is a grouped convolution (group {group}) whose channels move a whole group at a time",
        w.describe(i)
    );
    if let Some(map) = read {
        w.pin(&map.elements, reason.clone());
    }
    let out = w.fresh(outputs, i);
    w.pin(&out, reason);
    claim_slice(w, &weight, 0, Part::Producer, i, &out);
    bias(w, i, 2, Part::Producer, &out);
    w.set_map(
        &out_value,
        Map {
            axis: 1,
            elements: out,
        },
    );
}

/// ConvTranspose is not pruned: its channels and the channels it reads stay.
pub(super) fn conv_transpose(w: &mut Walk, i: usize) {
    let node = w.node(i);
    let reason = format!(
        "{} is a transposed convolution, which is not pruned",
        w.describe(i)
    );
    w.pin_inputs(i, &reason);
    let Some((weight, dims, false)) = node.input.get(1).and_then(|v| w.weight(v)) else {
        return;
    };
    let group = attr::int(node, "group").unwrap_or(1).max(1) as usize;
    if dims.len() < 3 || group != 1 {
        return;
    }
    let out = w.fresh(dims[1], i);
    w.pin(&out, reason);
    claim_slice(w, &weight, 1, Part::Producer, i, &out);
    bias(w, i, 2, Part::Producer, &out);
    let out_value = node.output[0].clone();
    w.set_map(
        &out_value,
        Map {
            axis: 1,
            elements: out,
        },
    );
}

pub(super) fn gemm(w: &mut Walk, i: usize) {
    let node = w.node(i);
    let Some((weight, dims, transposed)) = node.input.get(1).and_then(|v| w.weight(v)) else {
        return unknown(w, i);
    };
    if dims.len() != 2 || w.index.weight(&node.input[0]).is_some() {
        return unknown(w, i);
    }
    let trans_a = attr::int(node, "transA").unwrap_or(0) != 0;
    let trans_b = attr::int(node, "transB").unwrap_or(0) != 0;
    let stored = |axis: usize| if transposed { 1 - axis } else { axis };
    let (out_axis, in_axis) = if trans_b {
        (stored(0), stored(1))
    } else {
        (stored(1), stored(0))
    };
    if let Some(map) = input(w, i, 0) {
        let features = if trans_a { 0 } else { 1 };
        if map.axis == features && map.elements.len() == dims[in_axis] {
            claim_slice(w, &weight, in_axis, Part::Consumer, i, &map.elements);
        } else {
            let reason = format!("{} reads the channels along its batch axis", w.describe(i));
            w.pin(&map.elements, reason);
        }
    }
    let out = w.fresh(dims[out_axis], i);
    claim_slice(w, &weight, out_axis, Part::Producer, i, &out);
    if let Some(map) = input(w, i, 2) {
        let reason = format!("{} adds channels computed at run time", w.describe(i));
        w.pin(&map.elements, reason);
    } else {
        bias(w, i, 2, Part::Producer, &out);
    }
    let out_value = node.output[0].clone();
    w.set_map(
        &out_value,
        Map {
            axis: 1,
            elements: out,
        },
    );
}

pub(super) fn matmul(w: &mut Walk, i: usize) {
    let node = w.node(i);
    let (Some(a), Some(b)) = (node.input.first().cloned(), node.input.get(1).cloned()) else {
        return unknown(w, i);
    };
    let out_value = node.output[0].clone();
    if let Some((weight, dims, transposed)) = w.weight(&b) {
        if dims.len() != 2 || w.index.weight(&a).is_some() {
            return unknown(w, i);
        }
        let (in_axis, out_axis) = if transposed { (1, 0) } else { (0, 1) };
        if let Some(map) = input(w, i, 0) {
            if Some(map.axis + 1) == rank(w, &a) && map.elements.len() == dims[in_axis] {
                claim_slice(w, &weight, in_axis, Part::Consumer, i, &map.elements);
            } else {
                let reason = format!(
                    "{} reads the channels along an axis it does not contract",
                    w.describe(i)
                );
                w.pin(&map.elements, reason);
            }
        }
        let Some(out_rank) = rank(w, &out_value) else {
            return unknown(w, i);
        };
        let out = w.fresh(dims[out_axis], i);
        claim_slice(w, &weight, out_axis, Part::Producer, i, &out);
        w.set_map(
            &out_value,
            Map {
                axis: out_rank - 1,
                elements: out,
            },
        );
        return;
    }
    let (Some(ra), Some(rb), Some(r)) = (rank(w, &a), rank(w, &b), rank(w, &out_value)) else {
        return unknown(w, i);
    };
    if ra < 2 || rb < 2 || w.index.weight(&a).is_some() {
        return unknown(w, i);
    }
    let (map_a, map_b) = (input(w, i, 0), input(w, i, 1));
    let contracted_a = map_a.as_ref().is_some_and(|m| m.axis == ra - 1);
    let contracted_b = map_b.as_ref().is_some_and(|m| m.axis == rb - 2);
    if contracted_a || contracted_b {
        match (&map_a, &map_b) {
            (Some(x), Some(y))
                if contracted_a && contracted_b && x.elements.len() == y.elements.len() =>
            {
                w.tie(&x.elements, &y.elements);
            }
            _ => {
                let reason = format!(
                    "{} contracts the channels with a value whose channels are not followed",
                    w.describe(i)
                );
                w.pin_inputs(i, &reason);
            }
        }
        return;
    }
    // What each side carries to the output: rows of A, columns of B, or a batch axis of both.
    let mut carried: Vec<(usize, Vec<u32>)> = Vec::new();
    if let Some(m) = map_a {
        let axis = if m.axis == ra - 2 {
            r - 2
        } else {
            m.axis + r - ra
        };
        carried.push((axis, m.elements));
    }
    if let Some(m) = map_b {
        let axis = if m.axis == rb - 1 {
            r - 1
        } else {
            m.axis + r - rb
        };
        carried.push((axis, m.elements));
    }
    let Some((axis, elements)) = carried.first().cloned() else {
        return;
    };
    if let Some((other_axis, other)) = carried.get(1).cloned() {
        if other_axis == axis && other.len() == elements.len() {
            w.tie(&elements, &other);
        } else {
            let reason = format!(
                "{} carries channels on two axes of its output",
                w.describe(i)
            );
            w.pin_inputs(i, &reason);
            return;
        }
    }
    w.set_map(&out_value, Map { axis, elements });
}

fn rank(w: &Walk, value: &str) -> Option<usize> {
    w.shape(value).map(|s| s.len())
}

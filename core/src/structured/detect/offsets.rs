//! Concat, Split and Gather: channels moved to new offsets, or picked.

use super::ops::{input_map, normalize, only_first_input_mapped, shape_unknown, unknown};
use super::{Map, Site, Walk};
use crate::model::attr;

/// Concat along the channel axis puts each input's channels at its offset; along another axis
/// it ties the inputs' channels position by position.
pub(super) fn concat(w: &mut Walk, i: usize) {
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
pub(super) fn split(w: &mut Walk, i: usize) {
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
pub(super) fn gather(w: &mut Walk, i: usize) {
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

//! Reshape, Flatten, Squeeze and Unsqueeze: where the channel axis goes, worked out from the
//! input and output shapes (row-major order is kept).
//!
//! Two mappings keep channels apart. **Merge**: the channel axis is folded with the axes after
//! it into one output axis (a `Flatten` of `[N, C, H, W]` into `[N, C·H·W]`): channel `c`
//! occupies positions `c·block .. (c+1)·block` of that axis, `block` = H·W. **Split**: the channel
//! axis is cut into several output axes (`[N, S, d]` into `[N, S, heads, width]`): the leading one
//! carries the channels from then on, and the channels that share one of its positions (an
//! attention head's columns) are tied. Anything else mixes the channels with another axis.
//! A shape constant that spells the channel count out is an edit of the group.

use super::ops::unknown;
use super::{Map, Site, Walk};
use crate::model::tensor;

/// How the channel axis of the input lands in the output.
#[derive(Debug, PartialEq)]
enum Landing {
    /// On output axis `axis`, each channel over `block` consecutive positions.
    Merge { axis: usize, block: usize },
    /// Cut into output axes starting at `axis`; each position of it holds `per` channels.
    Split { axis: usize, per: usize },
}

/// The product of dims, saturating: a damaged file's sizes never overflow.
fn product(dims: &[u64]) -> u64 {
    dims.iter().fold(1u64, |p, &d| p.saturating_mul(d))
}

/// Where channel axis `a` of shape `input` lands in shape `output`, if it lands cleanly.
fn landing(input: &[u64], output: &[u64], a: usize) -> Option<Landing> {
    let outer = product(&input[..a]);
    let unit = product(&input[a + 1..]);
    let span = unit.saturating_mul(input[a]);
    for b in 0..output.len() {
        let stride = product(&output[b + 1..]);
        if product(&output[..b]) == outer
            && stride.saturating_mul(output[b]) == span
            && stride > 0
            && unit.is_multiple_of(stride)
        {
            return Some(Landing::Merge {
                axis: b,
                block: (unit / stride) as usize,
            });
        }
    }
    let b0 = (0..output.len()).find(|&b| product(&output[..b]) == outer && output[b] > 1)?;
    let last = (b0..output.len()).find(|&b| product(&output[b + 1..]) == unit)?;
    if product(&output[b0..=last]) != input[a] || !input[a].is_multiple_of(output[b0]) {
        return None;
    }
    Some(Landing::Split {
        axis: b0,
        per: (input[a] / output[b0]) as usize,
    })
}

pub(super) fn visit(w: &mut Walk, i: usize) {
    let node = w.node(i);
    let Some(map) = w.map(&node.input[0]).cloned() else {
        return unknown(w, i);
    };
    if node.input.iter().skip(1).any(|v| w.map(v).is_some()) {
        return unknown(w, i);
    }
    let (Some(input), Some(output)) = (w.shape(&node.input[0]), w.shape(&node.output[0])) else {
        let reason = format!("the shape of {} is not known", node.output[0]);
        w.pin(&map.elements, reason);
        return;
    };
    let mixes = |w: &Walk| format!("{} mixes the channel axis with another axis", w.describe(i));
    let Some(landing) = landing(&input, &output, map.axis) else {
        let reason = mixes(w);
        w.pin(&map.elements, reason);
        return;
    };
    let (axis, elements) = match landing {
        Landing::Merge { axis, block } => (
            axis,
            map.elements
                .iter()
                .flat_map(|&e| std::iter::repeat_n(e, block))
                .collect::<Vec<u32>>(),
        ),
        Landing::Split { axis, per } => {
            let heads: Vec<u32> = map.elements.chunks(per).map(|c| c[0]).collect();
            for chunk in map.elements.chunks(per) {
                for &e in &chunk[1..] {
                    w.elements.union(chunk[0], e);
                }
            }
            (axis, heads)
        }
    };
    if node.op_type() == "Reshape" {
        shape_entry(w, i, axis, map.axis, &elements);
    }
    let out = node.output[0].clone();
    w.set_map(&out, Map { axis, elements });
}

/// Records the entry of the Reshape's target shape that counts the channels' axis, or pins the
/// channels when that entry cannot be edited (they are still followed, so that what they meet
/// is kept too).
fn shape_entry(w: &mut Walk, i: usize, axis: usize, from: usize, elements: &[u32]) {
    let target = w.node(i).input.get(1).cloned().unwrap_or_default();
    match entry(w, &target, axis) {
        Some(Entry::Constant {
            tensor,
            index,
            value,
            reader,
        }) => {
            if value > 0 {
                let site = Site::ShapeEntry {
                    tensor,
                    index,
                    node: reader.unwrap_or(i),
                };
                w.claim(site, elements);
            } else if value == 0 && axis != from {
                let reason = format!(
                    "{} copies the size of another axis onto the channel axis",
                    w.describe(i)
                );
                w.pin(elements, reason);
            }
        }
        None => {
            let reason = format!(
                "{} takes the channel count from a computed shape",
                w.describe(i)
            );
            w.pin(elements, reason);
        }
    }
}

enum Entry {
    /// Entry `index` of constant `tensor` (read by `reader`, when a `Concat` assembles the
    /// shape) holds the size, `value`.
    Constant {
        tensor: String,
        index: usize,
        value: i64,
        reader: Option<usize>,
    },
}

/// Where entry `k` of the shape `value` comes from: a constant, or a constant part of a
/// `Concat` of 1-D parts.
fn entry(w: &Walk, value: &str, k: usize) -> Option<Entry> {
    if let Some(c) = w.index.weight(value) {
        let v = tensor::to_i64(c.tensor, 64)?;
        return Some(Entry::Constant {
            tensor: c.name.to_string(),
            index: k,
            value: *v.get(k)?,
            reader: None,
        });
    }
    let concat = w.index.producer_index(value)?;
    let node = w.node(concat);
    if node.op_type() != "Concat" {
        return None;
    }
    let mut start = 0;
    for part in &node.input {
        let n = w.shape(part).filter(|s| s.len() == 1)?[0] as usize;
        if k < start + n {
            let c = w.index.weight(part)?;
            let v = tensor::to_i64(c.tensor, 64)?;
            return Some(Entry::Constant {
                tensor: c.name.to_string(),
                index: k - start,
                value: *v.get(k - start)?,
                reader: Some(concat),
            });
        }
        start += n;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_of_nchw_folds_each_channel_into_a_block() {
        assert_eq!(
            landing(&[1, 8, 3, 3], &[1, 72], 1),
            Some(Landing::Merge { axis: 1, block: 9 })
        );
        assert_eq!(
            landing(&[2, 8, 3, 3], &[2, 8, 9], 1),
            Some(Landing::Merge { axis: 1, block: 1 })
        );
        assert_eq!(
            landing(&[1, 8, 1, 1], &[1, 8], 1),
            Some(Landing::Merge { axis: 1, block: 1 })
        );
    }

    #[test]
    fn splitting_the_hidden_axis_into_heads_lands_on_the_heads_axis() {
        assert_eq!(
            landing(&[1, 4, 64], &[1, 4, 4, 16], 2),
            Some(Landing::Split { axis: 2, per: 16 })
        );
        assert_eq!(
            landing(&[1, 4, 4, 16], &[1, 4, 64], 2),
            Some(Landing::Merge { axis: 2, block: 16 })
        );
    }

    #[test]
    fn folding_the_channels_into_the_batch_mixes_them() {
        assert_eq!(landing(&[2, 8, 3, 3], &[16, 9], 1), None);
        assert_eq!(landing(&[1, 8, 4], &[1, 4, 8], 1), None);
    }
}

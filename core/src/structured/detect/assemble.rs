//! From tied elements to groups: each component of elements is one channel; components that
//! occupy the same sites, with the same number of positions each, side by side, are the channels
//! of one group. Constants read by several nodes tie what each reader claims at one position,
//! and a constant read by a node that claims none of it keeps its channels.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Part, Site, Walk};
use crate::analysis::graph::is_default_domain;
use crate::structured::group::{Carrier, ChannelGroup, Edit, Role, Slice};

pub(super) fn groups(mut w: Walk) -> Vec<ChannelGroup> {
    tie_constant_positions(&mut w);
    pin_foreign_readers(&mut w);
    let components = components(&mut w);
    let mut by_shape: BTreeMap<Vec<(u32, u32)>, Vec<Member>> = BTreeMap::new();
    for (root, occurrences) in components {
        let shape = occurrences.iter().map(|&(s, n, _)| (s, n)).collect();
        let starts = occurrences.iter().map(|&(_, _, start)| start).collect();
        by_shape.entry(shape).or_default().push((root, starts));
    }
    let mut groups = Vec::new();
    for (shape, mut members) in by_shape {
        members.sort_by(|a, b| a.1.cmp(&b.1));
        let mut run: Vec<Member> = Vec::new();
        for member in members {
            let continues = run.last().is_some_and(|(last, starts)| {
                let pinned = |w: &mut Walk, e: u32| w.elements.why(e).is_some();
                pinned(&mut w, *last) == pinned(&mut w, member.0)
                    && shape
                        .iter()
                        .zip(starts.iter().zip(&member.1))
                        .all(|(&(_, n), (&s, &t))| t == s + n)
            });
            if !continues && !run.is_empty() {
                groups.push(group(&mut w, &shape, &std::mem::take(&mut run)));
            }
            run.push(member);
        }
        if !run.is_empty() {
            groups.push(group(&mut w, &shape, &run));
        }
    }
    let order = |g: &(usize, usize, ChannelGroup)| (g.0, g.1);
    let mut keyed: Vec<(usize, usize, ChannelGroup)> = groups;
    keyed.sort_by_key(order);
    let mut taken = BTreeSet::new();
    keyed
        .into_iter()
        .map(|(_, _, mut g)| {
            let base = g.name.clone();
            let mut k = 2;
            while !taken.insert(g.name.clone()) {
                g.name = format!("{base}#{k}");
                k += 1;
            }
            g
        })
        .collect()
}

/// Per component with a producer: its occurrences, each a site, how many consecutive positions
/// it occupies there and the first of them. A channel can occur at one site several times: a
/// `Concat` that joins a value with its own max-pools (a spatial pyramid pool) puts each channel
/// at one position per input, and the consumer loses one column at each.
fn components(w: &mut Walk) -> BTreeMap<u32, Vec<(u32, u32, u32)>> {
    let mut positions: BTreeMap<u32, BTreeMap<u32, Vec<u32>>> = BTreeMap::new();
    let claims = std::mem::take(&mut w.claims);
    for c in &claims {
        let root = w.elements.find(c.element);
        positions
            .entry(root)
            .or_default()
            .entry(c.site)
            .or_default()
            .push(c.position);
    }
    w.claims = claims;
    let mut out = BTreeMap::new();
    for (root, sites) in positions {
        let produced = sites.keys().any(|&s| {
            matches!(
                w.sites[s as usize],
                Site::Slice {
                    part: Part::Producer,
                    ..
                }
            )
        });
        if !produced {
            continue;
        }
        let mut occurrences = Vec::new();
        for (site, mut p) in sites {
            p.sort_unstable();
            p.dedup();
            let mut start = 0;
            for k in 1..=p.len() {
                if k == p.len() || p[k] != p[k - 1] + 1 {
                    occurrences.push((site, (k - start) as u32, p[start]));
                    start = k;
                }
            }
        }
        out.insert(root, occurrences);
    }
    out
}

/// A component (by its root) and where each of its occurrences starts.
type Member = (u32, Vec<u32>);

/// The key of a constant position: tensor, axis (or entry), kind, position.
type ConstantPosition = (String, usize, bool, u32);

/// Readers of one constant that each claim a position claim the same channel there.
fn tie_constant_positions(w: &mut Walk) {
    let mut first: HashMap<ConstantPosition, u32> = HashMap::new();
    for k in 0..w.claims.len() {
        let c = w.claims[k];
        let key = match &w.sites[c.site as usize] {
            Site::Slice { tensor, axis, .. } => (tensor.clone(), *axis, false, c.position),
            Site::ShapeEntry { tensor, index, .. } => (tensor.clone(), *index, true, c.position),
            _ => continue,
        };
        match first.get(&key) {
            Some(&e) => w.elements.union(e, c.element),
            None => {
                first.insert(key, c.element);
            }
        }
    }
}

/// The nodes that read `tensor`, seeing through `Identity` and `Transpose` views of it.
fn readers(w: &Walk, tensor: &str) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    let mut stack = vec![tensor.to_string()];
    let mut depth = 0;
    while let Some(value) = stack.pop() {
        depth += 1;
        if depth > 64 {
            break;
        }
        for read in w.index.reads_of(&value) {
            let node = w.node(read.node);
            let view = is_default_domain(node)
                && matches!(node.op_type(), "Identity" | "Transpose")
                && read.input == Some(0);
            if view {
                stack.extend(node.output.iter().cloned());
            } else {
                out.insert(read.node);
            }
        }
    }
    out
}

/// A constant that a node outside the claims reads, or that its readers slice differently,
/// keeps the channels claimed on it: removing them would change what the other reader sees.
fn pin_foreign_readers(w: &mut Walk) {
    let mut claimed: BTreeMap<String, BTreeMap<usize, BTreeSet<(usize, bool)>>> = BTreeMap::new();
    for site in &w.sites {
        let (tensor, node, axis) = match site {
            Site::Slice {
                tensor, axis, node, ..
            } => (tensor, *node, (*axis, false)),
            Site::ShapeEntry {
                tensor,
                index,
                node,
            } => (tensor, *node, (*index, true)),
            _ => continue,
        };
        claimed
            .entry(tensor.clone())
            .or_default()
            .entry(node)
            .or_default()
            .insert(axis);
    }
    for (tensor, by_node) in claimed {
        let mut reason = None;
        for reader in readers(w, &tensor) {
            if !by_node.contains_key(&reader) {
                reason = Some(format!(
                    "the weight {tensor} is shared with {}, outside the group",
                    w.describe(reader)
                ));
                break;
            }
        }
        let mut axes = by_node.values();
        let first = axes.next();
        if reason.is_none() && axes.any(|a| Some(a) != first) {
            reason = Some(format!("the weight {tensor} is read along different axes"));
        }
        if let Some(reason) = reason {
            let elements: Vec<u32> = w
                .claims
                .iter()
                .filter(|c| match &w.sites[c.site as usize] {
                    Site::Slice { tensor: t, .. } | Site::ShapeEntry { tensor: t, .. } => {
                        *t == tensor
                    }
                    _ => false,
                })
                .map(|c| c.element)
                .collect();
            w.pin(&elements, reason);
        }
    }
}

/// One group from a run of components side by side; with its sort key (topological position
/// of the first producer, offset there).
fn group(w: &mut Walk, shape: &[(u32, u32)], run: &[Member]) -> (usize, usize, ChannelGroup) {
    let (root, starts) = &run[0];
    let channels = run.len();
    let producing: BTreeSet<usize> = shape
        .iter()
        .filter_map(|&(s, _)| match &w.sites[s as usize] {
            Site::Slice {
                part: Part::Producer,
                node,
                ..
            } => Some(*node),
            _ => None,
        })
        .collect();
    // Gates count as per-channel parameters unless nothing else produces the channels.
    let gates: BTreeSet<usize> = if producing.iter().all(|n| w.gates.contains(n)) {
        BTreeSet::new()
    } else {
        producing
            .iter()
            .filter(|n| w.gates.contains(n))
            .copied()
            .collect()
    };
    let mut producers: Vec<usize> = producing.difference(&gates).copied().collect();
    producers.sort_by_key(|&n| w.index.position(n));
    let mut consumers = BTreeSet::new();
    let (mut slices, mut edits, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let (mut first_offset, mut first_block) = (0, 1);
    for (&(site, block), &offset) in shape.iter().zip(starts) {
        let (offset, block) = (offset as usize, block as usize);
        match w.sites[site as usize].clone() {
            Site::Carrier { value, axis } => values.push(Carrier {
                value,
                axis,
                offset,
                block,
            }),
            Site::Slice {
                tensor,
                axis,
                part,
                node,
            } => {
                let role = match part {
                    Part::Producer if gates.contains(&node) => Role::PerChannel,
                    Part::Producer => Role::Producer,
                    Part::PerChannel => Role::PerChannel,
                    Part::Consumer => {
                        consumers.insert(node);
                        Role::Consumer
                    }
                };
                if Some(&node) == producers.first() && role == Role::Producer {
                    first_offset = offset / block.max(1);
                    first_block = block;
                }
                slices.push(Slice {
                    tensor,
                    axis,
                    offset,
                    block,
                    role,
                    node: w.label(node),
                });
            }
            Site::ConvGroups { node } => edits.push(Edit::ConvGroups {
                node: w.label(node),
            }),
            Site::ShapeEntry {
                tensor,
                index,
                node,
            } => edits.push(Edit::ShapeEntry {
                tensor,
                index,
                block,
                node: w.label(node),
            }),
        }
    }
    let mut consumers: Vec<usize> = consumers.into_iter().collect();
    consumers.sort_by_key(|&n| w.index.position(n));
    let first = producers.first().copied().unwrap_or(0);
    let width = w
        .node(first)
        .output
        .first()
        .and_then(|v| w.map(v))
        .map_or(0, |m| m.elements.len());
    let mut name = w.label(first);
    if first_offset != 0 || channels * first_block != width {
        name = format!("{name}[{first_offset}..{}]", first_offset + channels);
    }
    let unprunable = w.elements.why(*root).map(str::to_string);
    let group = ChannelGroup {
        name,
        channels,
        slices,
        edits,
        producers: producers.iter().map(|&n| w.label(n)).collect(),
        consumers: consumers.iter().map(|&n| w.label(n)).collect(),
        values,
        unprunable,
    };
    (w.index.position(first), first_offset, group)
}

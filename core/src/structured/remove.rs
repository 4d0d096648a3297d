//! Removing the channels a plan drops from the ONNX graph: every sliced constant loses its
//! removed indices wherever it is stored (initializer or `Constant` node, whatever its element
//! type: the rewrite moves bytes), depthwise convolutions' `group` attributes and shape constants
//! shrink by the channels removed, and so do the carriers' value-info shapes. Nothing else in the
//! model changes: the nodes, their names and the values they pass stay.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::group::{ChannelGroup, Edit, Keep, Role};
use super::plan::{Plan, plan};
use crate::analysis::graph::{GraphIndex, Home};
use crate::error::{Error, Result};
use crate::model::onnx::{
    GraphProto, NodeProto, TensorProto, ValueInfoProto, attribute_type as at, data_type as dt,
    tensor_shape_proto::dimension::Value as Dim, type_proto,
};
use crate::model::tensor::{elem_size, le_bytes, numel, to_i64};
use crate::model::weight;
use crate::{AnalysisOptions, Model, ModelAnalysis, analyze};

/// What removing the channels did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Removal {
    /// One entry per group a `Keep` named, in the order given.
    pub groups: Vec<GroupRemoval>,
    /// The model's parameters and MACs before and after (the analysis's totals, at the sizes the
    /// original was analyzed at).
    pub params_before: u64,
    pub params_after: u64,
    pub macs_before: u64,
    pub macs_after: u64,
}

impl Removal {
    /// How many times fewer MACs the pruned model computes.
    pub fn macs_ratio(&self) -> f64 {
        self.macs_before as f64 / self.macs_after.max(1) as f64
    }
}

/// One group's channels before and after, and what removing its channels alone removes (a
/// constant two pruned groups slice, a convolution that reads one and computes another, counts
/// in both; the model's totals count it once).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRemoval {
    pub group: String,
    pub channels_before: usize,
    pub channels_after: usize,
    pub params_removed: u64,
    pub macs_removed: u64,
}

/// Removes the channels `keep` drops from `model`, whose analysis is `analysis`, and returns what
/// it did with the smaller model's analysis (at the same sizes, [`sizes_of`]). The model is
/// changed only when every `Keep` and every slice checks out and the pruned graph analyzes
/// cleanly; otherwise one sentence says what is wrong and the model is left as it was.
pub fn remove_channels(
    model: &mut Model,
    analysis: &ModelAnalysis,
    groups: &[ChannelGroup],
    keep: &[Keep],
) -> Result<(Removal, ModelAnalysis)> {
    let plan = plan(groups, keep)?;
    let graph = model.graph();
    let index = GraphIndex::new(graph);
    let mut replacements: Vec<(Home, TensorProto)> = Vec::new();
    for (name, axes) in &plan.tensors {
        let (home, tensor) = constant(&index, name, &plan)?;
        for (&axis, removed) in axes {
            check_slices(&plan, name, tensor, axis, removed)?;
        }
        replacements.push((home, cut(tensor, axes).ok_or_else(|| unreadable(name))?));
    }
    // Per shape constant, per node that reads it: the entries it loses.
    let mut shape_edits: BTreeMap<String, BTreeMap<String, BTreeMap<usize, i64>>> = BTreeMap::new();
    let mut group_edits: BTreeMap<String, i64> = BTreeMap::new();
    for (group, removed) in &plan.groups {
        let r = removed.len() as i64;
        for edit in group.edits.iter().filter(|_| r > 0) {
            match edit {
                Edit::ConvGroups { node } => *group_edits.entry(node.clone()).or_default() += r,
                Edit::ShapeEntry {
                    tensor,
                    index: i,
                    block,
                    node,
                } => {
                    *shape_edits
                        .entry(tensor.clone())
                        .or_default()
                        .entry(node.clone())
                        .or_default()
                        .entry(*i)
                        .or_default() += r * *block as i64
                }
            }
        }
    }
    // A shape constant several nodes read (one `[batch, tokens, heads, head size]` for every
    // attention layer's Reshape) gets a copy per node whose entries change, so a layer that loses
    // heads does not reshape the others; one read by a single node, or changed alike for every
    // node that reads it, is changed in place.
    let mut shape_copies: Vec<(usize, String, TensorProto)> = Vec::new();
    for (name, by_node) in &shape_edits {
        let (home, tensor) = constant(&index, name, &plan)?;
        let shrunk = |entries: &BTreeMap<usize, i64>| {
            shrink_entries(tensor, entries).ok_or_else(|| {
                Error::Usage(format!(
                    "shape constant '{name}' is not a small integer tensor with the entries the groups count; detect the groups again."
                ))
            })
        };
        let readers = graph
            .node
            .iter()
            .filter(|n| n.input.iter().any(|i| i == name))
            .count();
        let mut edits = by_node.values();
        let first = edits.next().expect("an entry per node");
        if by_node.len() == readers && edits.all(|e| e == first) {
            replacements.push((home, shrunk(first)?));
            continue;
        }
        for (node, entries) in by_node {
            let i = node_named(graph, node).ok_or_else(|| missing_node(node))?;
            let mut copy = shrunk(entries)?;
            copy.name = Some(format!("{name}.{node}"));
            shape_copies.push((i, name.clone(), copy));
        }
    }
    let mut conv_groups = Vec::new();
    for (node, r) in &group_edits {
        let i = node_named(graph, node).ok_or_else(|| missing_node(node))?;
        let group = crate::model::attr::int(&graph.node[i], "group").unwrap_or(1);
        if group - r < 1 {
            return Err(Error::Usage(format!(
                "convolution {node} has group {group} and would lose {r}; detect the groups again."
            )));
        }
        conv_groups.push((i, group - r));
    }
    let group_reports = plan
        .groups
        .iter()
        .map(|(g, removed)| alone(g, removed, &index, analysis))
        .collect::<Result<Vec<_>>>()?;
    drop(index);

    let mut pruned = model.clone();
    let graph = pruned
        .proto
        .graph
        .as_mut()
        .expect("a loaded model has a graph");
    for (home, tensor) in replacements {
        weight::replace(graph, home, tensor);
    }
    for (i, group) in conv_groups {
        set_group(&mut graph.node[i], group);
    }
    for (i, name, copy) in shape_copies {
        for input in graph.node[i]
            .input
            .iter_mut()
            .filter(|input| **input == name)
        {
            *input = copy.name().to_string();
        }
        graph.initializer.push(copy);
    }
    shrink_carriers(graph, &plan);

    let after = analyze(&pruned, &sizes_of(analysis)).map_err(|e| {
        Error::Usage(format!(
            "the model with the channels removed does not analyze ({}); the groups do not fit this model: detect them again.",
            e.to_string().trim_end_matches('.')
        ))
    })?;
    let removal = Removal {
        groups: group_reports,
        params_before: analysis.totals.params,
        params_after: after.totals.params,
        macs_before: analysis.totals.macs,
        macs_after: after.totals.macs,
    };
    *model = pruned;
    Ok((removal, after))
}

/// The sizes `analysis` was made at, to analyze a changed model the same way.
pub fn sizes_of(analysis: &ModelAnalysis) -> AnalysisOptions {
    AnalysisOptions {
        input_shapes: analysis
            .inputs
            .iter()
            .filter_map(|i| Some((i.name.clone(), i.shape.clone()?)))
            .collect(),
        skip_zero_count: true,
        ..Default::default()
    }
}

/// The constant `name` and where it is stored.
fn constant<'a>(index: &'a GraphIndex, name: &str, plan: &Plan) -> Result<(Home, &'a TensorProto)> {
    let home = index.home(name);
    match (home, index.constant(name)) {
        (Some(home), Some(tensor)) => Ok((home, tensor)),
        _ => {
            let group = plan
                .groups
                .iter()
                .find(|(g, _)| g.slices.iter().any(|s| s.tensor == name))
                .map_or("a group", |(g, _)| g.name.as_str());
            Err(Error::Usage(format!(
                "group {group} slices '{name}', which is not a constant of this model; detect the groups again."
            )))
        }
    }
}

/// Every slice of a pruned group on (`name`, `axis`) must lie inside the tensor.
fn check_slices(
    plan: &Plan,
    name: &str,
    tensor: &TensorProto,
    axis: usize,
    removed: &BTreeSet<usize>,
) -> Result<()> {
    let dims = &tensor.dims;
    for (group, _) in &plan.groups {
        for s in group
            .slices
            .iter()
            .filter(|s| s.tensor == name && s.axis == axis)
        {
            let end = s.offset + group.channels * s.block;
            if axis >= dims.len() || (dims[axis].max(0) as usize) < end {
                return Err(Error::Usage(format!(
                    "group {} slices indices {}..{end} of axis {axis} of '{name}', which has shape {dims:?}; detect the groups again.",
                    group.name, s.offset
                )));
            }
        }
    }
    if removed.len() as i64 >= dims[axis] {
        return Err(Error::Usage(format!(
            "the groups together remove every index of axis {axis} of '{name}'; keep more channels."
        )));
    }
    Ok(())
}

fn unreadable(name: &str) -> Error {
    Error::Usage(format!(
        "constant '{name}' has a payload that disagrees with its shape or an element type without a fixed size; re-export the model."
    ))
}

fn missing_node(node: &str) -> Error {
    Error::Usage(format!(
        "the groups name node {node}, which this model does not have; detect the groups again."
    ))
}

/// `tensor` without the `removed` indices of each axis, as little-endian `raw_data` of the same
/// element type; `None` for an unreadable payload.
pub fn cut(
    tensor: &TensorProto,
    removed: &BTreeMap<usize, BTreeSet<usize>>,
) -> Option<TensorProto> {
    let size = elem_size(tensor.data_type())?;
    let mut bytes = le_bytes(tensor)?.into_owned();
    // The copy is what is cut; the mapped pages it came from go back (they stay in the page cache).
    if let Some(raw) = tensor.raw_data.as_deref() {
        crate::model::pages::release(raw);
    }
    let mut dims: Vec<usize> = tensor.dims.iter().map(|&d| d.max(0) as usize).collect();
    numel(&tensor.dims)?;
    for (&axis, gone) in removed {
        let len = *dims.get(axis)?;
        let kept: Vec<usize> = (0..len).filter(|i| !gone.contains(i)).collect();
        let outer: usize = dims[..axis].iter().product();
        let inner: usize = dims[axis + 1..].iter().product::<usize>() * size;
        let mut out = Vec::with_capacity(outer * kept.len() * inner);
        for o in 0..outer {
            for &k in &kept {
                let start = (o * len + k) * inner;
                out.extend_from_slice(&bytes[start..start + inner]);
            }
        }
        bytes = out;
        dims[axis] = kept.len();
    }
    Some(TensorProto {
        name: tensor.name.clone(),
        data_type: tensor.data_type,
        dims: dims.iter().map(|&d| d as i64).collect(),
        raw_data: Some(crate::model::spill::bytes(bytes)),
        ..Default::default()
    })
}

/// A shape constant with entries lowered by `by` (an entry of 0 or -1 copies or infers its
/// size, and so follows the data by itself).
fn shrink_entries(tensor: &TensorProto, by: &BTreeMap<usize, i64>) -> Option<TensorProto> {
    let mut values = to_i64(tensor, 64)?;
    for (&i, &r) in by {
        let v = values.get_mut(i)?;
        if *v > 0 {
            *v -= r;
            if *v < 1 {
                return None;
            }
        }
    }
    let raw: Vec<u8> = match tensor.data_type() {
        dt::INT64 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        dt::INT32 => values
            .iter()
            .flat_map(|v| (*v as i32).to_le_bytes())
            .collect(),
        _ => return None,
    };
    Some(TensorProto {
        name: tensor.name.clone(),
        data_type: tensor.data_type,
        dims: tensor.dims.clone(),
        raw_data: Some(raw.into()),
        ..Default::default()
    })
}

/// The node named `name`, or failing that the node whose first output is `name` (a layer's
/// name).
pub(crate) fn node_named(graph: &GraphProto, name: &str) -> Option<usize> {
    graph
        .node
        .iter()
        .position(|n| n.name() == name)
        .or_else(|| {
            graph
                .node
                .iter()
                .position(|n| n.output.first().is_some_and(|o| o == name))
        })
}

fn set_group(node: &mut NodeProto, group: i64) {
    match node.attribute.iter_mut().find(|a| a.name() == "group") {
        Some(a) => a.i = Some(group),
        None => node.attribute.push(crate::model::onnx::AttributeProto {
            name: Some("group".into()),
            r#type: Some(at::INT),
            i: Some(group),
            ..Default::default()
        }),
    }
}

/// Lowers the carriers' dims in the graph's value-info (and output) shapes by the channels
/// removed times their block; symbolic dims stay.
fn shrink_carriers(graph: &mut GraphProto, plan: &Plan) {
    let mut by: BTreeMap<(String, usize), i64> = BTreeMap::new();
    for (group, removed) in &plan.groups {
        for carrier in &group.values {
            *by.entry((carrier.value.clone(), carrier.axis)).or_default() +=
                (removed.len() * carrier.block) as i64;
        }
    }
    let shrink = |info: &mut ValueInfoProto| {
        let name = info.name().to_string();
        let Some(type_proto::Value::TensorType(t)) =
            info.r#type.as_mut().and_then(|t| t.value.as_mut())
        else {
            return;
        };
        let Some(shape) = t.shape.as_mut() else {
            return;
        };
        for (axis, dim) in shape.dim.iter_mut().enumerate() {
            if let Some(&r) = by.get(&(name.clone(), axis))
                && let Some(Dim::DimValue(v)) = dim.value.as_mut()
            {
                *v -= r;
            }
        }
    };
    graph.value_info.iter_mut().for_each(shrink);
    graph.output.iter_mut().for_each(shrink);
}

/// What removing `group`'s `removed` channels alone removes: the elements of its constants
/// that lie in a removed channel's block along any of the group's axes, and the MACs of each
/// layer it slices the weight of, in proportion to the weight's elements removed.
fn alone(
    group: &ChannelGroup,
    removed: &[usize],
    index: &GraphIndex,
    analysis: &ModelAnalysis,
) -> Result<GroupRemoval> {
    // Per tensor, the fraction of its elements kept.
    let mut kept_fraction: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
    for s in &group.slices {
        let Some(tensor) = index.constant(&s.tensor) else {
            continue;
        };
        let n = numel(&tensor.dims).unwrap_or(0);
        let len = tensor.dims.get(s.axis).copied().unwrap_or(0).max(1) as f64;
        let gone = (removed.len() * s.block) as f64;
        kept_fraction.entry(&s.tensor).or_insert((n, 1.0)).1 *= 1.0 - gone / len;
    }
    let params_removed: u64 = kept_fraction
        .values()
        .map(|(n, f)| n - (*n as f64 * f).round() as u64)
        .sum();
    // A layer's MACs scale with its weight, the largest constant the group slices for it.
    let mut layers: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
    for s in group
        .slices
        .iter()
        .filter(|s| s.role != Role::PerChannel || is_conv(index, &s.node))
    {
        let Some(&(n, f)) = kept_fraction.get(s.tensor.as_str()) else {
            continue;
        };
        let entry = layers.entry(&s.node).or_insert((0, 1.0));
        if n > entry.0 {
            *entry = (n, f);
        }
    }
    let mut macs_removed = 0u64;
    for (node, (_, f)) in layers {
        let Some(i) = node_named(index.graph, node) else {
            continue;
        };
        let layer = index.graph.node[i]
            .output
            .first()
            .and_then(|o| analysis.layer(o));
        if let Some(macs) = layer.and_then(|l| l.macs) {
            macs_removed += macs - (macs as f64 * f).round() as u64;
        }
    }
    Ok(GroupRemoval {
        group: group.name.clone(),
        channels_before: group.channels,
        channels_after: group.channels - removed.len(),
        params_removed,
        macs_removed,
    })
}

fn is_conv(index: &GraphIndex, node: &str) -> bool {
    node_named(index.graph, node).is_some_and(|i| index.graph.node[i].op_type() == "Conv")
}

#[cfg(test)]
#[path = "remove/tests.rs"]
mod tests;

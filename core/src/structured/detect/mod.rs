//! Channel dependency groups found on the graph index (`docs/analysis.md`, "Structured pruning:
//! channel groups").
//!
//! The walk visits nodes in topological order and follows, for every activation, which element
//! (a channel as the node that made it numbered it) sits at each position of its channel axis.
//! A layer that computes channels (a Conv, a Gemm, a MatMul with a constant right operand) makes
//! new elements; ops that keep channels apart pass them on (activations, BatchNormalization,
//! pooling, Resize, Pad, Transpose, Reshape with a known mapping); ops that meet two sets of
//! channels tie them (a residual `Add`, an attention `MatMul` over heads); `Concat` and `Split`
//! move them to new offsets. Every tensor position a channel touches (a weight row or column, a
//! BatchNormalization parameter, a shape entry, an activation) is recorded as a claim. Elements
//! claimed by the same constant position are tied too. At the end each component of tied
//! elements is one channel, and components with the same claims side by side are one group
//! (`assemble`).

mod assemble;
mod elements;
mod elementwise;
mod layers;
mod offsets;
mod ops;
mod pass;
mod reshape;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use super::group::ChannelGroup;
use crate::analysis::graph::{GraphIndex, is_default_domain};
use crate::model::attr;
use crate::model::onnx::{GraphProto, NodeProto};
use crate::{Model, ModelAnalysis, Result};
use elements::Elements;

/// The channel dependency groups of a model's main graph, in the order of their first producer.
/// Every group whose channels some layer computes is listed; one that cannot be pruned says why.
pub fn channel_groups(model: &Model, analysis: &ModelAnalysis) -> Result<Vec<ChannelGroup>> {
    let index = GraphIndex::new(model.graph());
    let mut walk = Walk::new(&index, analysis);
    for &node in index.topological_order() {
        ops::visit(&mut walk, node);
    }
    walk.pin_graph_outputs();
    Ok(assemble::groups(walk))
}

/// What a constant position does for the channel at it (the contract's `Role`, orderable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Part {
    Producer,
    PerChannel,
    Consumer,
}

/// A place channels occupy positions in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Site {
    /// An activation, along its channel axis.
    Carrier { value: String, axis: usize },
    /// A constant read by node `node`, along `axis`.
    Slice {
        tensor: String,
        axis: usize,
        part: Part,
        node: usize,
    },
    /// A depthwise convolution's `group` attribute.
    ConvGroups { node: usize },
    /// Entry `index` of a shape constant read by `node`.
    ShapeEntry {
        tensor: String,
        index: usize,
        node: usize,
    },
}

/// Element `element` occupies position `position` of site `site`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Claim {
    pub site: u32,
    pub position: u32,
    pub element: u32,
}

/// Which element sits at each position of a value's channel axis.
#[derive(Debug, Clone)]
pub(super) struct Map {
    pub axis: usize,
    pub elements: Vec<u32>,
}

/// The state of the walk over one graph.
pub(super) struct Walk<'a, 'g> {
    pub index: &'a GraphIndex<'g>,
    pub graph: &'g GraphProto,
    pub opset: i64,
    shapes: HashMap<&'a str, &'a [u64]>,
    pub elements: Elements,
    maps: HashMap<String, Map>,
    pub sites: Vec<Site>,
    site_ids: HashMap<Site, u32>,
    pub claims: Vec<Claim>,
    /// Layers whose output channels gate another path's channels (squeeze-and-excitation):
    /// their rows are per-channel parameters of that path's group, not its producers.
    pub gates: HashSet<usize>,
}

impl<'a, 'g> Walk<'a, 'g> {
    fn new(index: &'a GraphIndex<'g>, analysis: &'a ModelAnalysis) -> Self {
        let mut shapes: HashMap<&str, &[u64]> = HashMap::new();
        for input in &analysis.inputs {
            if let Some(shape) = &input.shape {
                shapes.insert(input.name.as_str(), shape.as_slice());
            }
        }
        for layer in &analysis.layers {
            for (value, shape) in layer.outputs.iter().zip(&layer.output_shapes) {
                if let Some(shape) = shape {
                    shapes.insert(value.as_str(), shape.as_slice());
                }
            }
        }
        Walk {
            index,
            graph: index.graph,
            opset: analysis.opset,
            shapes,
            elements: Elements::default(),
            maps: HashMap::new(),
            sites: Vec::new(),
            site_ids: HashMap::new(),
            claims: Vec::new(),
            gates: HashSet::new(),
        }
    }

    pub fn node(&self, node: usize) -> &'g NodeProto {
        &self.graph.node[node]
    }

    /// A node as the analysis names its layer: its first output.
    pub fn label(&self, node: usize) -> String {
        match self.graph.node[node].output.first() {
            Some(out) if !out.is_empty() => out.clone(),
            _ => format!("node_{node}"),
        }
    }

    /// "Conv conv1": how messages name a node.
    pub fn describe(&self, node: usize) -> String {
        format!("{} {}", self.graph.node[node].op_type(), self.label(node))
    }

    /// The known shape of a value (an activation the analysis sized, or a constant).
    pub fn shape(&self, value: &str) -> Option<Vec<u64>> {
        if let Some(shape) = self.shapes.get(value) {
            return Some(shape.to_vec());
        }
        let tensor = self.index.weight(value)?.tensor;
        tensor.dims.iter().map(|&d| u64::try_from(d).ok()).collect()
    }

    pub fn map(&self, value: &str) -> Option<&Map> {
        self.maps.get(value)
    }

    /// Gives `value` its channel map and records the activation as a carrier.
    pub fn set_map(&mut self, value: &str, map: Map) {
        if value.is_empty() {
            return;
        }
        let site = Site::Carrier {
            value: value.to_string(),
            axis: map.axis,
        };
        self.claim(site, &map.elements);
        self.maps.insert(value.to_string(), map);
    }

    /// Element `elements[p]` occupies position `p` of `site`.
    pub fn claim(&mut self, site: Site, elements: &[u32]) {
        let next = self.sites.len() as u32;
        let id = *self.site_ids.entry(site.clone()).or_insert(next);
        if id == next {
            self.sites.push(site);
        }
        self.claims
            .extend(elements.iter().enumerate().map(|(p, &element)| Claim {
                site: id,
                position: p as u32,
                element,
            }));
    }

    /// Marks every element as unprunable for `reason`.
    pub fn pin(&mut self, elements: &[u32], reason: String) {
        if elements.is_empty() {
            return;
        }
        let reason = self.elements.reason(reason);
        for &e in elements {
            self.elements.pin(e, reason);
        }
    }

    /// Pins the channels of every input of `node` that carries some, for `reason`.
    pub fn pin_inputs(&mut self, node: usize, reason: &str) {
        let mapped: Vec<u32> = self
            .index
            .uses(node)
            .filter_map(|v| self.maps.get(v))
            .flat_map(|m| m.elements.iter().copied())
            .collect();
        self.pin(&mapped, reason.to_string());
    }

    /// Ties two runs of elements position by position.
    pub fn tie(&mut self, a: &[u32], b: &[u32]) {
        for (&x, &y) in a.iter().zip(b) {
            self.elements.union(x, y);
        }
    }

    /// Elements for `n` channels of `value`, which `node` ties to tracked channels but whose own
    /// channels the walk does not follow (a graph input, an op it does not know): they keep
    /// whatever they meet from being removed.
    pub fn opaque(&mut self, value: &str, n: usize, node: usize) -> Vec<u32> {
        let fresh = self.elements.fresh(n, elements::NO_NODE);
        let reason = if self.index.is_data_input(value) {
            format!("the graph input {value} carries the channels")
        } else {
            format!(
                "{} ties the channels to {value}, whose channels are not followed",
                self.describe(node)
            )
        };
        self.pin(&fresh, reason);
        fresh
    }

    /// New channels computed by `node`.
    pub fn fresh(&mut self, n: usize, node: usize) -> Vec<u32> {
        self.elements.fresh(n, node as u32)
    }

    /// The constant a node input reads (directly or through `Identity`), or through a 2-D
    /// `Transpose` of one: its name, its stored dims, and whether it is read transposed.
    pub fn weight(&self, value: &str) -> Option<(String, Vec<usize>, bool)> {
        let dims = |t: &crate::model::onnx::TensorProto| -> Vec<usize> {
            t.dims.iter().map(|&d| d.max(0) as usize).collect()
        };
        if let Some(w) = self.index.weight(value) {
            return Some((w.name.to_string(), dims(w.tensor), false));
        }
        let node = self.index.producer(value)?;
        if is_default_domain(node)
            && node.op_type() == "Transpose"
            && let Some(w) = node.input.first().and_then(|i| self.index.weight(i))
            && w.tensor.dims.len() == 2
            && attr::ints(node, "perm").is_none_or(|p| p == [1, 0])
        {
            return Some((w.name.to_string(), dims(w.tensor), true));
        }
        None
    }

    /// A graph output that carries channels keeps them: the model's callers see that axis.
    fn pin_graph_outputs(&mut self) {
        for output in &self.graph.output {
            if let Some(map) = self.maps.get(output.name()) {
                let elements = map.elements.clone();
                self.pin(
                    &elements,
                    format!("the graph output {} carries the channels", output.name()),
                );
            }
        }
    }
}

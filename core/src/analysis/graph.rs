//! The index over one ONNX graph: which node produces each value and which nodes read it (subgraph
//! reads of outer-scope values included), an order to visit nodes in, what lies downstream of a
//! node, which values are constants, and which are views of a constant (a transposed or reshaped
//! weight). It is the one producer/consumer map of the crate: every pass that walks a graph asks
//! it rather than building its own.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};

use crate::model::onnx::{GraphProto, NodeProto, TensorProto};
pub use crate::model::weight::Home;

/// Ops that only rearrange their first input; applied to a constant, their output is a view of it.
const PASS_THROUGH_OPS: &[&str] = &[
    "Transpose",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Identity",
    "Cast",
];

/// How deep a chain of views may go before we stop following it (corrupt files can loop).
const MAX_VIEW_DEPTH: usize = 16;

/// How deep subgraphs are followed for their outer-scope reads; validation refuses deeper ones.
const MAX_SUBGRAPH_DEPTH: usize = super::validate::MAX_SUBGRAPH_DEPTH;

/// One index over a graph, built once and shared by every pass that walks it: analysis,
/// validation, one-shot planning, perf attribution, BatchNormalization folding and QDQ placement.
/// Reads are kept with the input slot they come through, so a pass can follow one tensor edge
/// (what channel dependency groups for structured pruning need) as well as whole nodes.
pub struct GraphIndex<'g> {
    pub graph: &'g GraphProto,
    /// Node index by output name (the first node that writes it, when a damaged file has two).
    producer: HashMap<&'g str, usize>,
    /// Every read of each value, in node order; a node reading a value twice reads it twice.
    reads: HashMap<&'g str, Vec<Read>>,
    /// Per node, the values of this graph its subgraphs (If, Loop, Scan bodies) read without
    /// naming them as inputs.
    outer_reads: Vec<Vec<&'g str>>,
    /// Initializers and `Constant` node outputs, by value name.
    constants: HashMap<&'g str, Cow<'g, TensorProto>>,
    /// Initializer index by name.
    initializers: HashMap<&'g str, usize>,
    /// Names listed as graph inputs (old files list their initializers there too).
    inputs: HashSet<&'g str>,
    /// Node indices, producers before consumers; the nodes after `n_sorted` are caught in (or
    /// wait on) a cycle and keep file order.
    order: Vec<usize>,
    /// Each node's place in `order`.
    position: Vec<usize>,
    n_sorted: usize,
}

/// One read of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub node: usize,
    /// Which input of the node it is; `None` when a subgraph of the node reads it from the
    /// enclosing graph.
    pub input: Option<usize>,
}

/// A constant weight: the tensor behind a node input, and where it is stored.
#[derive(Debug, Clone, Copy)]
pub struct Weight<'a> {
    /// The constant's own name: the initializer's, or the `Constant` node's output.
    pub name: &'a str,
    pub home: Home,
    pub tensor: &'a TensorProto,
    /// How many `Identity` nodes lie between the input read and the constant (0: read directly).
    pub identities: usize,
}

/// Where a layer's weight input comes from.
pub enum Origin<'g> {
    /// A constant (or a view of one): the root constant's name.
    Constant(&'g str),
    /// Produced by `DequantizeLinear`: a quantized weight.
    Quantized,
    /// Computed from activations at run time.
    Computed,
}

impl<'g> GraphIndex<'g> {
    pub fn new(graph: &'g GraphProto) -> Self {
        let mut producer = HashMap::new();
        let mut constants: HashMap<&str, Cow<TensorProto>> = HashMap::new();
        for tensor in &graph.initializer {
            constants.insert(tensor.name(), Cow::Borrowed(tensor));
        }
        for (i, node) in graph.node.iter().enumerate() {
            for out in &node.output {
                if !out.is_empty() {
                    producer.entry(out.as_str()).or_insert(i);
                }
            }
            if is_default_domain(node)
                && node.op_type() == "Constant"
                && let (Some(out), Some(tensor)) = (node.output.first(), constant_value(node))
            {
                constants.entry(out.as_str()).or_insert(tensor);
            }
        }
        let outer_reads: Vec<Vec<&str>> = graph
            .node
            .iter()
            .map(|node| subgraph_reads(node, 0).into_iter().collect())
            .collect();
        let mut reads: HashMap<&str, Vec<Read>> = HashMap::new();
        for (i, node) in graph.node.iter().enumerate() {
            for (j, input) in node.input.iter().enumerate() {
                if !input.is_empty() {
                    reads.entry(input.as_str()).or_default().push(Read {
                        node: i,
                        input: Some(j),
                    });
                }
            }
            for &value in &outer_reads[i] {
                reads.entry(value).or_default().push(Read {
                    node: i,
                    input: None,
                });
            }
        }
        let (order, n_sorted) = topological_order(graph, &producer);
        let mut position = vec![0; graph.node.len()];
        for (pos, &node) in order.iter().enumerate() {
            position[node] = pos;
        }
        GraphIndex {
            graph,
            producer,
            reads,
            outer_reads,
            constants,
            initializers: graph
                .initializer
                .iter()
                .enumerate()
                .map(|(i, t)| (t.name(), i))
                .collect(),
            inputs: graph.input.iter().map(|i| i.name()).collect(),
            order,
            position,
            n_sorted,
        }
    }

    pub fn producer(&self, value: &str) -> Option<&'g NodeProto> {
        self.producer.get(value).map(|&i| &self.graph.node[i])
    }

    /// The index of the node that produces `value`, if a node does.
    pub fn producer_index(&self, value: &str) -> Option<usize> {
        self.producer.get(value).copied()
    }

    /// The node whose first output is `layer_name`: the node of an analysis layer.
    pub fn node_of(&self, layer_name: &str) -> Option<usize> {
        self.producer_index(layer_name)
            .filter(|&i| self.graph.node[i].output.first().map(String::as_str) == Some(layer_name))
    }

    /// Every read of `value`: as a node's input, or from inside a node's subgraph.
    pub fn reads_of(&self, value: &str) -> &[Read] {
        self.reads.get(value).map_or(&[], Vec::as_slice)
    }

    /// The nodes that read `value` (as an input or from a subgraph), each once, in file order.
    pub fn consumers(&self, value: &str) -> impl Iterator<Item = usize> + '_ {
        let reads = self.reads_of(value);
        reads
            .iter()
            .enumerate()
            .filter(move |&(k, r)| k == 0 || reads[k - 1].node != r.node)
            .map(|(_, r)| r.node)
    }

    /// Whether a subgraph reads `value` from the enclosing graph: renaming it in node inputs
    /// alone would miss that read.
    pub fn read_in_subgraph(&self, value: &str) -> bool {
        self.reads_of(value).iter().any(|r| r.input.is_none())
    }

    /// The values of this graph that node `node`'s subgraphs read, in name order.
    pub fn outer_reads(&self, node: usize) -> &[&'g str] {
        &self.outer_reads[node]
    }

    /// Every value node `node` reads: its (non-empty) inputs, then its subgraphs' outer reads.
    pub fn uses(&self, node: usize) -> impl Iterator<Item = &'g str> + '_ {
        let graph: &'g GraphProto = self.graph;
        graph.node[node]
            .input
            .iter()
            .map(String::as_str)
            .filter(|i| !i.is_empty())
            .chain(self.outer_reads[node].iter().copied())
    }

    /// Node indices in an order where producers come before consumers. ONNX requires graphs to be
    /// sorted, but a damaged or hand-made file may not be; nodes caught in a cycle keep file order
    /// at the end, so the walk always ends. Subgraph reads do not order nodes here.
    pub fn topological_order(&self) -> &[usize] {
        &self.order
    }

    /// Node `node`'s place in `topological_order`.
    pub fn position(&self, node: usize) -> usize {
        self.position[node]
    }

    /// The nodes the topological order could not place: caught in a cycle of inputs, or waiting
    /// on one. Empty for a valid graph.
    pub fn unsorted(&self) -> &[usize] {
        &self.order[self.n_sorted..]
    }

    /// Node `node` and every node that depends on it, through inputs or subgraph reads, in
    /// topological order.
    pub fn downstream(&self, node: usize) -> Vec<usize> {
        self.reachable(vec![node])
    }

    /// Every node that depends on `value`, through inputs or subgraph reads, in topological
    /// order.
    pub fn value_downstream(&self, value: &str) -> Vec<usize> {
        self.reachable(self.consumers(value).collect())
    }

    fn reachable(&self, start: Vec<usize>) -> Vec<usize> {
        let mut seen = vec![false; self.graph.node.len()];
        for &n in &start {
            seen[n] = true;
        }
        let mut stack = start;
        while let Some(n) = stack.pop() {
            for out in &self.graph.node[n].output {
                for c in self.consumers(out) {
                    if !seen[c] {
                        seen[c] = true;
                        stack.push(c);
                    }
                }
            }
        }
        let mut nodes: Vec<usize> = (0..seen.len()).filter(|&i| seen[i]).collect();
        nodes.sort_by_key(|&i| self.position[i]);
        nodes
    }

    pub fn is_initializer(&self, value: &str) -> bool {
        self.initializers.contains_key(value)
    }

    /// Whether `value` is listed among the graph inputs (an initializer may be listed too).
    pub fn is_graph_input(&self, value: &str) -> bool {
        self.inputs.contains(value)
    }

    /// Whether `value` is a graph input fed by the caller: listed, and not an initializer.
    pub fn is_data_input(&self, value: &str) -> bool {
        self.is_graph_input(value) && !self.is_initializer(value)
    }

    pub fn constant(&self, value: &str) -> Option<&TensorProto> {
        self.constants.get(value).map(|t| t.as_ref())
    }

    /// Every root constant: initializers and `Constant` node values, by name.
    pub fn constants(&self) -> impl Iterator<Item = (&'g str, &TensorProto)> + '_ {
        self.constants.iter().map(|(name, t)| (*name, t.as_ref()))
    }

    /// Where the constant named `constant` (an initializer, or a `Constant` node's output) is
    /// stored.
    pub fn home(&self, constant: &str) -> Option<Home> {
        if let Some(&i) = self.initializers.get(constant) {
            return Some(Home::Initializer(i));
        }
        self.constants.get(constant)?;
        let node = self.producer_index(constant)?;
        (self.graph.node[node].op_type() == "Constant").then_some(Home::ConstantNode(node))
    }

    /// The constant tensor that `value` is, read directly or through `Identity` nodes, and where
    /// it is stored: the one notion of a weight that pruning, one-shot profiles, quantization,
    /// BatchNormalization folding and export share. Views that change the layout (Transpose,
    /// Reshape…) are not followed: the tensor answered holds exactly what the reader sees.
    pub fn weight(&self, value: &str) -> Option<Weight<'_>> {
        let mut current = value;
        for identities in 0..MAX_VIEW_DEPTH {
            if let Some((name, tensor)) = self.constants.get_key_value(current) {
                return Some(Weight {
                    name,
                    home: self.home(name)?,
                    tensor: tensor.as_ref(),
                    identities,
                });
            }
            let node = self.producer(current)?;
            if !is_default_domain(node) || node.op_type() != "Identity" {
                return None;
            }
            current = node.input.first().filter(|i| !i.is_empty())?;
        }
        None
    }

    /// The root constant that `value` is (or is a view of), if any.
    pub fn root_constant(&self, value: &str) -> Option<&'g str> {
        match self.origin(value) {
            Origin::Constant(root) => Some(root),
            _ => None,
        }
    }

    /// Follows views back from `value` to the constant or op it comes from.
    pub fn origin(&self, value: &str) -> Origin<'g> {
        let mut current = value;
        for _ in 0..MAX_VIEW_DEPTH {
            if let Some((name, _)) = self.constants.get_key_value(current) {
                return Origin::Constant(name);
            }
            let Some(node) = self.producer(current) else {
                return Origin::Computed;
            };
            if !is_default_domain(node) {
                return Origin::Computed;
            }
            match node.op_type() {
                "DequantizeLinear" => return Origin::Quantized,
                op if PASS_THROUGH_OPS.contains(&op) && self.other_inputs_are_constant(node) => {
                    match node.input.first() {
                        Some(input) if !input.is_empty() => current = input,
                        _ => return Origin::Computed,
                    }
                }
                _ => return Origin::Computed,
            }
        }
        Origin::Computed
    }

    /// A pass-through node whose data input is a constant: part of a view, not a layer with params.
    pub fn is_view(&self, node: &NodeProto) -> bool {
        is_default_domain(node)
            && PASS_THROUGH_OPS.contains(&node.op_type())
            && self.other_inputs_are_constant(node)
            && node
                .input
                .first()
                .is_some_and(|input| self.root_constant(input).is_some())
    }

    /// Reshape's shape, Squeeze's axes: a view needs them fixed too.
    fn other_inputs_are_constant(&self, node: &NodeProto) -> bool {
        node.input
            .iter()
            .skip(1)
            .all(|i| i.is_empty() || self.constants.contains_key(i.as_str()))
    }
}

/// Node indices with producers before consumers (direct inputs only), and how many of them the
/// sort placed; the rest, caught in a cycle, follow in file order.
fn topological_order(graph: &GraphProto, producer: &HashMap<&str, usize>) -> (Vec<usize>, usize) {
    let nodes = &graph.node;
    let mut n_waiting = vec![0usize; nodes.len()];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        for input in node.input.iter().filter(|s| !s.is_empty()) {
            if let Some(&p) = producer.get(input.as_str())
                && p != i
            {
                n_waiting[i] += 1;
                consumers[p].push(i);
            }
        }
    }
    // The lowest ready index goes first, so an already sorted graph keeps its file order.
    let mut ready: BinaryHeap<Reverse<usize>> = (0..nodes.len())
        .filter(|&i| n_waiting[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    let mut done = vec![false; nodes.len()];
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        done[i] = true;
        for &c in &consumers[i] {
            n_waiting[c] -= 1;
            if n_waiting[c] == 0 {
                ready.push(Reverse(c));
            }
        }
    }
    let n_sorted = order.len();
    order.extend((0..nodes.len()).filter(|&i| !done[i]));
    (order, n_sorted)
}

/// The values a node's subgraphs read from the graphs around them: what each subgraph reads that
/// it does not define itself (its inputs, initializers and node outputs), nested subgraphs
/// included. Past `MAX_SUBGRAPH_DEPTH` levels nothing more is followed; validation refuses such
/// models.
fn subgraph_reads(node: &NodeProto, depth: usize) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    if depth > MAX_SUBGRAPH_DEPTH {
        return out;
    }
    for graph in crate::model::subgraphs(node) {
        out.extend(outer_reads(graph, depth));
    }
    out
}

/// The values `graph`, a subgraph, reads that it does not define itself.
fn outer_reads(graph: &GraphProto, depth: usize) -> BTreeSet<&str> {
    let mut defined: HashSet<&str> = graph.input.iter().map(|i| i.name()).collect();
    defined.extend(graph.initializer.iter().map(|t| t.name()));
    let mut reads = BTreeSet::new();
    for node in &graph.node {
        let inputs = node
            .input
            .iter()
            .map(String::as_str)
            .filter(|i| !i.is_empty());
        for value in inputs.chain(subgraph_reads(node, depth + 1)) {
            if !defined.contains(value) {
                reads.insert(value);
            }
        }
        defined.extend(node.output.iter().map(String::as_str));
    }
    reads
}

pub fn is_default_domain(node: &NodeProto) -> bool {
    matches!(node.domain(), "" | "ai.onnx")
}

pub use crate::model::weight::constant_value;

#[cfg(test)]
mod tests;

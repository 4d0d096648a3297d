//! An index over one ONNX graph: which node produces each value, which values are constants, which
//! values are views of a constant (a transposed or reshaped weight), and an order to visit nodes in.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::model::attr;
use crate::model::onnx::{GraphProto, NodeProto, TensorProto, data_type as dt};

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

pub struct GraphIndex<'g> {
    pub graph: &'g GraphProto,
    /// Node index by output name.
    producer: HashMap<&'g str, usize>,
    /// Initializers and `Constant` node outputs, by value name.
    constants: HashMap<&'g str, Cow<'g, TensorProto>>,
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
        GraphIndex {
            graph,
            producer,
            constants,
        }
    }

    pub fn producer(&self, value: &str) -> Option<&'g NodeProto> {
        self.producer.get(value).map(|&i| &self.graph.node[i])
    }

    /// The index of the node that produces `value`, if a node does.
    pub fn producer_index(&self, value: &str) -> Option<usize> {
        self.producer.get(value).copied()
    }

    pub fn constant(&self, value: &str) -> Option<&TensorProto> {
        self.constants.get(value).map(|t| t.as_ref())
    }

    /// Every root constant: initializers and `Constant` node values, by name.
    pub fn constants(&self) -> impl Iterator<Item = (&'g str, &TensorProto)> + '_ {
        self.constants.iter().map(|(name, t)| (*name, t.as_ref()))
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

    /// Node indices in an order where producers come before consumers. ONNX requires graphs to be
    /// sorted, but a damaged or hand-made file may not be; nodes caught in a cycle keep file order
    /// at the end, so the walk always ends.
    pub fn topological_order(&self) -> Vec<usize> {
        let nodes = &self.graph.node;
        let mut n_waiting = vec![0usize; nodes.len()];
        let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            for input in node.input.iter().filter(|s| !s.is_empty()) {
                if let Some(&p) = self.producer.get(input.as_str())
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
        order.extend((0..nodes.len()).filter(|&i| !done[i]));
        order
    }
}

pub fn is_default_domain(node: &NodeProto) -> bool {
    matches!(node.domain(), "" | "ai.onnx")
}

/// The tensor a `Constant` node produces, from whichever of its value attributes it uses.
pub fn constant_value(node: &NodeProto) -> Option<Cow<'_, TensorProto>> {
    if let Some(tensor) = attr::tensor(node, "value") {
        return Some(Cow::Borrowed(tensor));
    }
    let scalar = |data_type, dims: Vec<i64>| TensorProto {
        data_type: Some(data_type),
        dims,
        ..Default::default()
    };
    if let Some(v) = attr::float(node, "value_float") {
        return Some(Cow::Owned(TensorProto {
            float_data: vec![v],
            ..scalar(dt::FLOAT, vec![])
        }));
    }
    if let Some(a) = attr::find(node, "value_floats") {
        let n = a.floats.len() as i64;
        return Some(Cow::Owned(TensorProto {
            float_data: a.floats.clone(),
            ..scalar(dt::FLOAT, vec![n])
        }));
    }
    if let Some(v) = attr::int(node, "value_int") {
        return Some(Cow::Owned(TensorProto {
            int64_data: vec![v],
            ..scalar(dt::INT64, vec![])
        }));
    }
    if let Some(a) = attr::find(node, "value_ints") {
        let n = a.ints.len() as i64;
        return Some(Cow::Owned(TensorProto {
            int64_data: a.ints.clone(),
            ..scalar(dt::INT64, vec![n])
        }));
    }
    None
}

//! Which part of the graph pruning one layer changes, and the sub-model that recomputes just that
//! part: the layer and everything downstream of it. Its inputs are the pruned weight and the
//! activations the rest of the graph feeds it, cached from one baseline run; constants it reads
//! come along as initializers or `Constant` nodes.
//!
//! Control flow (If, Loop, Scan) reads outer-scope values without naming them as inputs; the graph
//! index counts those reads as uses, so a subgraph that reads a pruned layer's output is
//! downstream of it.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::analysis::graph::GraphIndex;
use crate::model::onnx::{GraphProto, ModelProto, NodeProto};

/// The part of the model that one layer's pruning changes.
#[derive(Debug, Clone)]
pub struct Downstream {
    /// The tensor the layer reads as its weight: fed pruned.
    pub weight: String,
    /// Node indices recomputed, in graph order (the layer first).
    pub nodes: Vec<usize>,
    /// Values the recomputed part reads from the rest of the graph: cached, fed as inputs.
    pub inputs: Vec<String>,
    /// The model outputs it produces (the others do not change).
    pub outputs: Vec<String>,
    /// `Constant` nodes it reads, copied in.
    constant_nodes: Vec<usize>,
    /// Initializers it reads, copied in.
    initializers: Vec<String>,
}

pub struct Planner<'g> {
    index: GraphIndex<'g>,
}

impl<'g> Planner<'g> {
    pub fn new(graph: &'g GraphProto) -> Self {
        Planner {
            index: GraphIndex::new(graph),
        }
    }

    /// The graph index the plan is made from.
    pub fn index(&self) -> &GraphIndex<'g> {
        &self.index
    }

    /// The node whose first output is `name`.
    pub fn node_of(&self, layer_name: &str) -> Option<usize> {
        self.index.node_of(layer_name)
    }

    /// The recomputed part for pruning `weight`, read by node `layer`.
    pub fn downstream(&self, layer: usize, weight: &str) -> Downstream {
        let graph = self.index.graph;
        let nodes = self.index.downstream(layer);
        let produced: HashSet<&str> = nodes
            .iter()
            .flat_map(|&i| graph.node[i].output.iter().map(String::as_str))
            .collect();
        let mut inputs = BTreeSet::new();
        let mut initializers = BTreeSet::new();
        let mut constant_nodes = BTreeSet::new();
        for &n in &nodes {
            for value in self.index.uses(n) {
                if produced.contains(value) || value == weight {
                    continue;
                }
                if self.index.is_initializer(value) {
                    initializers.insert(value.to_string());
                } else if let Some(p) = self.index.producer_index(value)
                    && graph.node[p].op_type() == "Constant"
                {
                    constant_nodes.insert(p);
                } else {
                    inputs.insert(value.to_string());
                }
            }
        }
        let outputs = graph
            .output
            .iter()
            .map(|o| o.name().to_string())
            .filter(|o| produced.contains(o.as_str()))
            .collect();
        Downstream {
            weight: weight.to_string(),
            nodes,
            inputs: inputs.into_iter().collect(),
            outputs,
            constant_nodes: constant_nodes.into_iter().collect(),
            initializers: initializers.into_iter().collect(),
        }
    }

    /// Whether a value is a graph input of the model (fed from the data, not cached).
    pub fn is_graph_input(&self, value: &str) -> bool {
        self.index.is_data_input(value)
    }

    /// The sub-model of `part`. `input_types` gives each input's ONNX element type and shape
    /// (`None` for a dim that varies between batches), the weight included.
    pub fn sub_model(
        &self,
        model: &ModelProto,
        part: &Downstream,
        input_types: &HashMap<String, (i32, Vec<Option<i64>>)>,
    ) -> ModelProto {
        let graph = self.index.graph;
        let mut node: Vec<NodeProto> = part
            .constant_nodes
            .iter()
            .map(|&i| graph.node[i].clone())
            .collect();
        node.extend(part.nodes.iter().map(|&i| graph.node[i].clone()));
        let wanted: HashSet<&str> = part.initializers.iter().map(String::as_str).collect();
        let initializer = graph
            .initializer
            .iter()
            .filter(|t| wanted.contains(t.name()))
            .cloned()
            .collect();
        let input = part
            .inputs
            .iter()
            .chain(std::iter::once(&part.weight))
            .map(|name| {
                let (elem_type, dims) = input_types.get(name).cloned().unwrap_or((0, Vec::new()));
                crate::model::tensor_info(name, elem_type, &dims)
            })
            .collect();
        let output = graph
            .output
            .iter()
            .filter(|o| part.outputs.iter().any(|p| p == o.name()))
            .cloned()
            .collect();
        ModelProto {
            graph: Some(GraphProto {
                node,
                name: Some("prunekit_downstream".into()),
                initializer,
                input,
                output,
                ..Default::default()
            }),
            ir_version: model.ir_version,
            opset_import: model.opset_import.clone(),
            functions: model.functions.clone(),
            ..Default::default()
        }
    }
}

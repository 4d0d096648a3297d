//! Before quantizing, the weights the rewrites read are made initializers read directly.
//!
//! A weight can be stored in a `Constant` node (Paddle's and old PyTorch's exporters store every
//! weight that way) and reach its layer through `Identity` nodes. Quantization replaces each
//! weight with an int8 initializer behind a DequantizeLinear and drops the float one, and BN
//! folding rewrites weights and biases; both are simpler, and the written model plainer, when
//! each weight is an initializer its layer reads by name. So the float `Constant` nodes that a
//! Conv, Gemm, MatMul or BatchNormalization reads (directly or through `Identity` nodes) move into
//! initializers of the same name (`model::weight::into_initializers`), and those layers read them
//! directly; the `Identity` nodes nothing reads any more go. The model computes exactly what it did.

use std::collections::{BTreeSet, HashSet};

use crate::analysis::graph::{GraphIndex, Home, is_default_domain};
use crate::model::onnx::GraphProto;
use crate::model::tensor;
use crate::model::weight;

/// The ops whose constant inputs quantization and folding read and rewrite.
const READERS: &[&str] = &["Conv", "Gemm", "MatMul", "BatchNormalization"];

/// Moves the float `Constant` nodes that the layers quantization reads use into initializers,
/// and points those layers' inputs that go through `Identity` nodes at the constant itself.
/// Answers how many `Constant` nodes moved.
pub fn weights_to_initializers(graph: &mut GraphProto) -> usize {
    let mut moved: BTreeSet<usize> = BTreeSet::new();
    let mut rewired: Vec<(usize, usize, String)> = Vec::new();
    {
        let index = GraphIndex::new(graph);
        for (i, node) in graph.node.iter().enumerate() {
            if !is_default_domain(node) || !READERS.contains(&node.op_type()) {
                continue;
            }
            for (slot, input) in node.input.iter().enumerate() {
                let Some(w) = index.weight(input) else {
                    continue;
                };
                if !tensor::is_float(w.tensor.data_type()) {
                    continue;
                }
                if w.identities > 0 {
                    rewired.push((i, slot, w.name.to_string()));
                }
                if let Home::ConstantNode(n) = w.home {
                    moved.insert(n);
                }
            }
        }
    }
    // Node indices hold until the Constant nodes are removed, which comes last.
    for (node, slot, name) in rewired {
        graph.node[node].input[slot] = name;
    }
    let n = weight::into_initializers(graph, moved).len();
    // An `Identity` chain nobody reads any more would count as a reader of the weight.
    drop_unread_nodes(graph);
    n
}

/// Removes `Constant` and `Identity` nodes none of whose outputs is read or a graph output, until
/// none is left: an `Identity` chain goes from its end.
pub(super) fn drop_unread_nodes(graph: &mut GraphProto) {
    loop {
        let unread: HashSet<usize> = {
            let index = GraphIndex::new(graph);
            let outputs: HashSet<&str> = graph.output.iter().map(|o| o.name()).collect();
            graph
                .node
                .iter()
                .enumerate()
                .filter(|(_, n)| {
                    is_default_domain(n) && matches!(n.op_type(), "Constant" | "Identity")
                })
                .filter(|(_, n)| {
                    n.output
                        .iter()
                        .all(|o| index.reads_of(o).is_empty() && !outputs.contains(o.as_str()))
                })
                .map(|(i, _)| i)
                .collect()
        };
        if unread.is_empty() {
            return;
        }
        let mut i = 0;
        graph.node.retain(|_| {
            i += 1;
            !unread.contains(&(i - 1))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::onnx::{
        AttributeProto, NodeProto, TensorProto, attribute_type, data_type as dt,
    };

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
        NodeProto {
            op_type: Some(op.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn constant(out: &str, data_type: i32) -> NodeProto {
        let mut n = node("Constant", &[], &[out]);
        n.attribute.push(AttributeProto {
            name: Some("value".into()),
            r#type: Some(attribute_type::TENSOR),
            t: Some(TensorProto {
                data_type: Some(data_type),
                dims: vec![1],
                raw_data: Some(vec![0; if data_type == dt::FLOAT { 4 } else { 8 }].into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        n
    }

    #[test]
    fn constant_weights_become_initializers_their_layers_read_directly() {
        let mut graph = GraphProto {
            node: vec![
                constant("w", dt::FLOAT),
                constant("shape", dt::INT64),
                constant("v", dt::FLOAT),
                node("Identity", &["v"], &["v_a"]),
                node("Identity", &["v_a"], &["v_b"]),
                node("MatMul", &["x", "w"], &["y"]),
                node("Reshape", &["y", "shape"], &["z"]),
                node("MatMul", &["z", "v_b"], &["out"]),
                node("Add", &["out", "v_a"], &["sum"]),
            ],
            ..Default::default()
        };
        assert_eq!(weights_to_initializers(&mut graph), 2);
        let names: Vec<&str> = graph.initializer.iter().map(|t| t.name()).collect();
        assert_eq!(names, ["w", "v"]);
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type()).collect();
        // The int64 shape is not a weight: it stays a Constant node. The first Identity stays
        // for the Add, which still reads it; the second, which only the MatMul read, goes.
        assert_eq!(
            ops,
            ["Constant", "Identity", "MatMul", "Reshape", "MatMul", "Add"]
        );
        assert_eq!(graph.node[1].input, ["v"]);
        assert_eq!(graph.node[4].input, ["z", "v"]);
        assert_eq!(graph.node[5].input, ["out", "v_a"]);
    }
}

//! Where a constant tensor is stored in a graph, reading it there and writing it back there.
//!
//! A weight is an initializer or a `Constant` node's tensor: real exporters (Paddle's, old
//! PyTorch's) store every weight in a `Constant` node. `analysis::graph::GraphIndex::weight` finds
//! which one a node input is (through `Identity` nodes too) and answers a [`Home`]; the functions
//! here read and replace the tensor at that home, so pruning and BatchNormalization folding write
//! a weight back where it was. Quantization moves the `Constant` nodes it rewrites into
//! initializers first ([`into_initializers`]); docs/analysis.md says which pass does what.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use super::attr;
use super::onnx::{
    AttributeProto, GraphProto, NodeProto, TensorProto, attribute_type as at, data_type as dt,
};

/// Where a constant tensor is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Home {
    /// `graph.initializer[i]`.
    Initializer(usize),
    /// The value of the `Constant` node `graph.node[i]`.
    ConstantNode(usize),
}

/// The attributes a `Constant` node can hold its value in; exactly one is set.
pub const VALUE_ATTRIBUTES: &[&str] = &[
    "value",
    "value_float",
    "value_floats",
    "value_int",
    "value_ints",
    "value_string",
    "value_strings",
    "sparse_value",
];

/// The tensor a `Constant` node produces, from whichever of its value attributes it uses; `None`
/// for a sparse or string value, which no weight is.
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

/// The tensor stored at `home`, if `home` still holds one.
pub fn stored(graph: &GraphProto, home: Home) -> Option<Cow<'_, TensorProto>> {
    match home {
        Home::Initializer(i) => graph.initializer.get(i).map(Cow::Borrowed),
        Home::ConstantNode(i) => graph
            .node
            .get(i)
            .filter(|n| n.op_type() == "Constant")
            .and_then(constant_value),
    }
}

/// Replaces the values of the tensor at `home` with `values` as float32 (little-endian
/// `raw_data`), keeping its name, dims and place: an initializer stays that initializer, a
/// `Constant` node keeps the value in its `value` attribute (one held in `value_float(s)` moves
/// there). The caller keeps the element count; `false` when `home` holds no tensor.
pub fn write_f32(graph: &mut GraphProto, home: Home, values: &[f32]) -> bool {
    match home {
        Home::Initializer(i) => match graph.initializer.get_mut(i) {
            Some(tensor) => {
                set_f32(tensor, values);
                true
            }
            None => false,
        },
        Home::ConstantNode(i) => {
            let Some(node) = graph.node.get_mut(i).filter(|n| n.op_type() == "Constant") else {
                return false;
            };
            if let Some(tensor) = node
                .attribute
                .iter_mut()
                .find(|a| a.name() == "value")
                .and_then(|a| a.t.as_mut())
            {
                set_f32(tensor, values);
                return true;
            }
            let Some(mut tensor) = constant_value(node).map(Cow::into_owned) else {
                return false;
            };
            set_f32(&mut tensor, values);
            set_value(node, tensor);
            true
        }
    }
}

/// Replaces the tensor at `home` with `tensor` (any dims and type), keeping its name and place:
/// an initializer stays that initializer under its name, a `Constant` node holds it in its
/// `value` attribute. For rewrites that change a weight's shape (structured pruning removes
/// rows and columns); `false` when `home` holds no tensor.
pub fn replace(graph: &mut GraphProto, home: Home, mut tensor: TensorProto) -> bool {
    match home {
        Home::Initializer(i) => match graph.initializer.get_mut(i) {
            Some(old) => {
                tensor.name = old.name.clone();
                *old = tensor;
                true
            }
            None => false,
        },
        Home::ConstantNode(i) => {
            let Some(node) = graph
                .node
                .get_mut(i)
                .filter(|n| n.op_type() == "Constant" && constant_value(n).is_some())
            else {
                return false;
            };
            tensor.name = None;
            set_value(node, tensor);
            true
        }
    }
}

/// Rewrites a tensor's payload as float32 `raw_data`.
fn set_f32(tensor: &mut TensorProto, values: &[f32]) {
    tensor.data_type = Some(dt::FLOAT);
    tensor.float_data.clear();
    tensor.double_data.clear();
    tensor.int32_data.clear();
    tensor.int64_data.clear();
    tensor.raw_data = Some(super::spill::f32_bytes(values));
}

/// Makes `tensor` the node's only value attribute, `value`.
fn set_value(node: &mut NodeProto, tensor: TensorProto) {
    node.attribute
        .retain(|a| !VALUE_ATTRIBUTES.contains(&a.name()));
    node.attribute.push(AttributeProto {
        name: Some("value".into()),
        r#type: Some(at::TENSOR),
        t: Some(tensor),
        ..Default::default()
    });
}

/// Moves the tensors of the `Constant` nodes at `nodes` into initializers named after each
/// node's output, and removes the nodes: every reader, subgraphs included, then reads the
/// initializer under the same name. Indices of the nodes after a removed one shift down; indices
/// that are not a `Constant` node with a tensor value are left alone. Answers the names moved.
pub fn into_initializers(
    graph: &mut GraphProto,
    nodes: impl IntoIterator<Item = usize>,
) -> Vec<String> {
    let nodes: BTreeSet<usize> = nodes.into_iter().collect();
    let mut moved = Vec::new();
    let mut removed = HashSet::new();
    for i in nodes {
        let Some(node) = graph.node.get(i).filter(|n| n.op_type() == "Constant") else {
            continue;
        };
        let (Some(out), Some(tensor)) = (node.output.first(), constant_value(node)) else {
            continue;
        };
        let mut tensor = tensor.into_owned();
        tensor.name = Some(out.clone());
        moved.push(out.clone());
        graph.initializer.push(tensor);
        removed.insert(i);
    }
    let mut i = 0;
    graph.node.retain(|_| {
        i += 1;
        !removed.contains(&(i - 1))
    });
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tensor::to_f32;

    fn constant(out: &str, attribute: AttributeProto) -> NodeProto {
        NodeProto {
            op_type: Some("Constant".into()),
            output: vec![out.into()],
            attribute: vec![attribute],
            ..Default::default()
        }
    }

    fn tensor(name: Option<&str>, values: &[f32]) -> TensorProto {
        TensorProto {
            name: name.map(str::to_string),
            data_type: Some(dt::FLOAT),
            dims: vec![values.len() as i64],
            float_data: values.to_vec(),
            ..Default::default()
        }
    }

    fn value(t: TensorProto) -> AttributeProto {
        AttributeProto {
            name: Some("value".into()),
            r#type: Some(at::TENSOR),
            t: Some(t),
            ..Default::default()
        }
    }

    fn graph() -> GraphProto {
        GraphProto {
            initializer: vec![tensor(Some("w"), &[1.0, 2.0])],
            node: vec![
                constant("c", value(tensor(None, &[3.0, 4.0, 5.0]))),
                constant(
                    "f",
                    AttributeProto {
                        name: Some("value_floats".into()),
                        r#type: Some(at::FLOATS),
                        floats: vec![6.0, 7.0],
                        ..Default::default()
                    },
                ),
            ],
            ..Default::default()
        }
    }

    fn values(graph: &GraphProto, home: Home) -> Vec<f32> {
        to_f32(&stored(graph, home).unwrap()).unwrap()
    }

    #[test]
    fn a_weight_is_written_back_where_it_lives() {
        let mut g = graph();
        assert!(write_f32(&mut g, Home::Initializer(0), &[0.0, 2.0]));
        assert_eq!(values(&g, Home::Initializer(0)), [0.0, 2.0]);
        assert_eq!(g.initializer[0].name(), "w");
        assert_eq!(g.initializer[0].dims, [2]);

        assert!(write_f32(&mut g, Home::ConstantNode(0), &[0.0, 4.0, 0.0]));
        assert_eq!(values(&g, Home::ConstantNode(0)), [0.0, 4.0, 0.0]);
        assert_eq!(g.node[0].attribute.len(), 1);
        assert_eq!(g.node[0].attribute[0].t.as_ref().unwrap().dims, [3]);

        // A value held in `value_floats` moves to `value`, the node and its output unchanged.
        assert!(write_f32(&mut g, Home::ConstantNode(1), &[0.0, 7.0]));
        assert_eq!(values(&g, Home::ConstantNode(1)), [0.0, 7.0]);
        assert_eq!(g.node[1].attribute.len(), 1);
        assert_eq!(g.node[1].attribute[0].name(), "value");
        assert_eq!(g.node[1].output, ["f"]);
        assert!(g.initializer.len() == 1 && g.node.len() == 2);

        assert!(!write_f32(&mut g, Home::Initializer(5), &[1.0]));
        assert!(!write_f32(&mut g, Home::ConstantNode(5), &[1.0]));
    }

    #[test]
    fn constant_nodes_move_into_initializers_of_their_output_names() {
        let mut g = graph();
        let moved = into_initializers(&mut g, [1]);
        assert_eq!(moved, ["f"]);
        assert_eq!(g.node.len(), 1);
        assert_eq!(g.node[0].output, ["c"]);
        assert_eq!(g.initializer[1].name(), "f");
        assert_eq!(values(&g, Home::Initializer(1)), [6.0, 7.0]);
        // Not a Constant node: left alone.
        g.node[0].op_type = Some("Identity".into());
        assert!(into_initializers(&mut g, [0]).is_empty());
        assert_eq!(g.node.len(), 1);
    }
}

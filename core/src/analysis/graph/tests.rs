use super::*;
use crate::model::onnx::{AttributeProto, ValueInfoProto, attribute_type, data_type as dt};

fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn value(name: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        ..Default::default()
    }
}

fn initializer(name: &str) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        data_type: Some(dt::FLOAT),
        dims: vec![1],
        float_data: vec![1.0],
        ..Default::default()
    }
}

/// x → conv(w) → a → relu → b → add(b, a) → y, with the nodes listed out of order.
fn diamond() -> GraphProto {
    GraphProto {
        node: vec![
            node("Add", &["b", "a"], &["y"]),
            node("Conv", &["x", "w"], &["a"]),
            node("Relu", &["a"], &["b"]),
        ],
        initializer: vec![initializer("w")],
        input: vec![value("x")],
        output: vec![value("y")],
        ..Default::default()
    }
}

#[test]
fn producers_and_consumers_are_indexed_by_value() {
    let graph = diamond();
    let index = GraphIndex::new(&graph);
    assert_eq!(index.producer_index("a"), Some(1));
    assert_eq!(index.producer_index("x"), None);
    assert_eq!(index.node_of("a"), Some(1));
    assert_eq!(index.consumers("a").collect::<Vec<_>>(), vec![0, 2]);
    assert_eq!(
        index.reads_of("a"),
        &[
            Read {
                node: 0,
                input: Some(1)
            },
            Read {
                node: 2,
                input: Some(0)
            }
        ]
    );
    assert_eq!(index.consumers("y").count(), 0);
    assert!(index.is_initializer("w") && !index.is_graph_input("w"));
    assert!(index.is_graph_input("x") && index.is_data_input("x"));
    assert_eq!(index.uses(1).collect::<Vec<_>>(), vec!["x", "w"]);
}

#[test]
fn a_node_reading_a_value_twice_is_one_consumer_with_two_reads() {
    let graph = GraphProto {
        node: vec![
            node("Relu", &["x"], &["a"]),
            node("Mul", &["a", "a"], &["y"]),
        ],
        ..Default::default()
    };
    let index = GraphIndex::new(&graph);
    assert_eq!(index.consumers("a").collect::<Vec<_>>(), vec![1]);
    assert_eq!(index.reads_of("a").len(), 2);
}

#[test]
fn the_topological_order_puts_producers_first_and_keeps_a_sorted_file_order() {
    let graph = diamond();
    let index = GraphIndex::new(&graph);
    assert_eq!(index.topological_order(), &[1, 2, 0]);
    assert_eq!(index.position(0), 2);
    assert!(index.unsorted().is_empty());

    let sorted = GraphProto {
        node: vec![
            node("Relu", &["x"], &["a"]),
            node("Relu", &["x"], &["b"]),
            node("Add", &["a", "b"], &["y"]),
        ],
        ..Default::default()
    };
    assert_eq!(GraphIndex::new(&sorted).topological_order(), &[0, 1, 2]);
}

#[test]
fn nodes_in_a_cycle_come_last_in_file_order() {
    let graph = GraphProto {
        node: vec![
            node("Relu", &["c"], &["a"]),
            node("Relu", &["x"], &["b"]),
            node("Relu", &["a"], &["c"]),
        ],
        ..Default::default()
    };
    let index = GraphIndex::new(&graph);
    assert_eq!(index.topological_order(), &[1, 0, 2]);
    assert_eq!(index.unsorted(), &[0, 2]);
}

#[test]
fn downstream_is_everything_reachable_in_topological_order() {
    let graph = diamond();
    let index = GraphIndex::new(&graph);
    assert_eq!(index.downstream(1), vec![1, 2, 0]);
    assert_eq!(index.downstream(2), vec![2, 0]);
    assert_eq!(index.downstream(0), vec![0]);
    assert_eq!(index.value_downstream("x"), vec![1, 2, 0]);
    assert_eq!(index.value_downstream("b"), vec![0]);
    assert!(index.value_downstream("y").is_empty());
}

#[test]
fn a_subgraph_reading_an_outer_value_makes_its_node_a_consumer() {
    // The If's branch reads `a` from the enclosing graph and `t` it defines itself; its nested
    // subgraph reads `x` from two levels up.
    let nested = GraphProto {
        node: vec![node("Identity", &["x"], &["n"])],
        output: vec![value("n")],
        ..Default::default()
    };
    let mut inner = node("Loop", &[], &["m"]);
    inner.attribute.push(AttributeProto {
        name: Some("body".into()),
        r#type: Some(attribute_type::GRAPH),
        g: Some(nested),
        ..Default::default()
    });
    let branch = GraphProto {
        node: vec![
            node("Relu", &["a"], &["t"]),
            node("Neg", &["t"], &["u"]),
            inner,
        ],
        output: vec![value("u")],
        ..Default::default()
    };
    let mut control = node("If", &["cond"], &["y"]);
    control.attribute.push(AttributeProto {
        name: Some("then_branch".into()),
        r#type: Some(attribute_type::GRAPH),
        g: Some(branch),
        ..Default::default()
    });
    let graph = GraphProto {
        node: vec![node("Relu", &["x"], &["a"]), control],
        input: vec![value("x"), value("cond")],
        output: vec![value("y")],
        ..Default::default()
    };
    let index = GraphIndex::new(&graph);
    assert_eq!(index.outer_reads(1), &["a", "x"]);
    assert_eq!(index.outer_reads(0), &[] as &[&str]);
    assert_eq!(index.consumers("a").collect::<Vec<_>>(), vec![1]);
    assert!(index.read_in_subgraph("a"));
    assert!(!index.read_in_subgraph("cond"));
    assert_eq!(index.consumers("t").count(), 0);
    assert_eq!(index.consumers("x").collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(index.uses(1).collect::<Vec<_>>(), vec!["cond", "a", "x"]);
    assert_eq!(index.downstream(0), vec![0, 1]);
}

fn constant_node(out: &str) -> NodeProto {
    let mut n = node("Constant", &[], &[out]);
    n.attribute.push(AttributeProto {
        name: Some("value".into()),
        r#type: Some(attribute_type::TENSOR),
        t: Some(TensorProto {
            data_type: Some(dt::FLOAT),
            dims: vec![2],
            float_data: vec![1.0, -2.0],
            ..Default::default()
        }),
        ..Default::default()
    });
    n
}

/// Four MatMuls whose weights are stored each way a weight can be: an initializer, a Constant
/// node, a Constant node behind an Identity, an initializer behind a chain of two Identities; and
/// a fifth whose weight is a transposed view, and a sixth whose weight is computed.
fn weights_every_way() -> GraphProto {
    GraphProto {
        node: vec![
            constant_node("c"),                       // 0
            constant_node("ci"),                      // 1
            node("Identity", &["ci"], &["ci_id"]),    // 2
            node("Identity", &["w2"], &["w2_a"]),     // 3
            node("Identity", &["w2_a"], &["w2_b"]),   // 4
            node("Transpose", &["w"], &["w_t"]),      // 5
            node("Relu", &["x"], &["r"]),             // 6
            node("Identity", &["r"], &["r_id"]),      // 7
            node("MatMul", &["x", "w"], &["y0"]),     // 8
            node("MatMul", &["x", "c"], &["y1"]),     // 9
            node("MatMul", &["x", "ci_id"], &["y2"]), // 10
            node("MatMul", &["x", "w2_b"], &["y3"]),  // 11
            node("MatMul", &["x", "w_t"], &["y4"]),   // 12
            node("MatMul", &["x", "r_id"], &["y5"]),  // 13
        ],
        initializer: vec![initializer("w"), initializer("w2")],
        input: vec![value("x")],
        ..Default::default()
    }
}

#[test]
fn a_weight_resolves_to_its_tensor_and_where_it_is_stored() {
    let graph = weights_every_way();
    let index = GraphIndex::new(&graph);
    let resolved = |v: &str| {
        index
            .weight(v)
            .map(|w| (w.name.to_string(), w.home, w.identities))
    };
    assert_eq!(resolved("w"), Some(("w".into(), Home::Initializer(0), 0)));
    assert_eq!(resolved("c"), Some(("c".into(), Home::ConstantNode(0), 0)));
    assert_eq!(
        resolved("ci_id"),
        Some(("ci".into(), Home::ConstantNode(1), 1))
    );
    assert_eq!(
        resolved("w2_b"),
        Some(("w2".into(), Home::Initializer(1), 2))
    );
    // A view that changes the layout, and a computed value (behind an Identity too), are not
    // weights the reader sees as stored.
    assert_eq!(resolved("w_t"), None);
    assert_eq!(resolved("r_id"), None);
    assert_eq!(resolved("x"), None);
    assert_eq!(
        crate::model::tensor::to_f32(index.weight("ci_id").unwrap().tensor).unwrap(),
        [1.0, -2.0]
    );
    // Each root constant's home, by its own name.
    assert_eq!(index.home("w2"), Some(Home::Initializer(1)));
    assert_eq!(index.home("ci"), Some(Home::ConstantNode(1)));
    assert_eq!(index.home("ci_id"), None);
    assert_eq!(index.home("r"), None);
}

#[test]
fn a_weight_written_where_it_lives_is_what_the_index_then_reads() {
    let mut graph = weights_every_way();
    let homes: Vec<(Home, usize)> = {
        let index = GraphIndex::new(&graph);
        ["w", "c", "ci_id", "w2_b"]
            .iter()
            .map(|v| {
                let w = index.weight(v).unwrap();
                (
                    w.home,
                    crate::model::tensor::to_f32(w.tensor).unwrap().len(),
                )
            })
            .collect()
    };
    for (k, &(home, n)) in homes.iter().enumerate() {
        let values: Vec<f32> = (0..n).map(|i| (10 * k + i) as f32).collect();
        assert!(crate::model::weight::write_f32(&mut graph, home, &values));
    }
    let n_nodes = graph.node.len();
    let index = GraphIndex::new(&graph);
    let read = |v: &str| crate::model::tensor::to_f32(index.weight(v).unwrap().tensor).unwrap();
    assert_eq!(read("w"), [0.0]);
    assert_eq!(read("c"), [10.0, 11.0]);
    assert_eq!(read("ci"), [20.0, 21.0]);
    assert_eq!(read("w2"), [30.0]);
    assert_eq!(n_nodes, 14, "no node added or removed");
    assert_eq!(graph.initializer.len(), 2, "no initializer added");
}

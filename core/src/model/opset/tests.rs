use ndarray::{ArrayD, IxDyn};

use super::*;
use crate::model::onnx::{
    OperatorSetIdProto, TensorShapeProto, TypeProto, ValueInfoProto, tensor_shape_proto,
};
use crate::runtime::{InputArray, ModelSession, SessionOptions};

fn value(name: &str, elem: i32, dims: Option<&[i64]>) -> ValueInfoProto {
    let shape = dims.map(|dims| TensorShapeProto {
        dim: dims
            .iter()
            .map(|&d| tensor_shape_proto::Dimension {
                value: Some(tensor_shape_proto::dimension::Value::DimValue(d)),
                ..Default::default()
            })
            .collect(),
    });
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem),
                shape,
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], outputs: &[&str], attrs: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name: Some(format!("{op}_{}", outputs[0])),
        op_type: Some(op.into()),
        domain: Some(String::new()),
        attribute: attrs,
        ..Default::default()
    }
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_type::INTS),
        ints: values.to_vec(),
        ..Default::default()
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_type::INT),
        i: Some(value),
        ..Default::default()
    }
}

fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_type::FLOAT),
        f: Some(value),
        ..Default::default()
    }
}

fn string(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_type::STRING),
        s: Some(Bytes::from(value.as_bytes().to_vec())),
        ..Default::default()
    }
}

fn graph_attr(name: &str, graph: GraphProto) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(attribute_type::GRAPH),
        g: Some(graph),
        ..Default::default()
    }
}

fn f32_init(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: Some(dt::FLOAT),
        name: Some(name.into()),
        float_data: values.to_vec(),
        ..Default::default()
    }
}

fn i64_init(name: &str, dims: &[i64], values: &[i64]) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: Some(dt::INT64),
        name: Some(name.into()),
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

/// A model at `opset` with one float input `x` of `dims` (rank stated, or not when `typed` is
/// false) and float outputs.
struct Case {
    opset: i64,
    dims: Vec<usize>,
    typed: bool,
    nodes: Vec<NodeProto>,
    outputs: Vec<&'static str>,
    initializers: Vec<TensorProto>,
    extra_inputs: Vec<(ValueInfoProto, InputArray)>,
}

impl Case {
    fn new(opset: i64, dims: &[usize], nodes: Vec<NodeProto>, outputs: &[&'static str]) -> Case {
        Case {
            opset,
            dims: dims.to_vec(),
            typed: true,
            nodes,
            outputs: outputs.to_vec(),
            initializers: Vec::new(),
            extra_inputs: Vec::new(),
        }
    }

    fn proto(&self) -> ModelProto {
        let dims: Vec<i64> = self.dims.iter().map(|&d| d as i64).collect();
        let mut input = vec![value("x", dt::FLOAT, self.typed.then_some(&dims[..]))];
        input.extend(self.extra_inputs.iter().map(|(v, _)| v.clone()));
        ModelProto {
            ir_version: Some(5),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(self.opset),
            }],
            graph: Some(GraphProto {
                name: Some("case".into()),
                node: self.nodes.clone(),
                initializer: self.initializers.clone(),
                input,
                output: self
                    .outputs
                    .iter()
                    .map(|o| value(o, dt::FLOAT, None))
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn inputs(&self) -> Vec<(String, InputArray)> {
        let n: usize = self.dims.iter().product();
        // Distinct values with both signs, so that clipping, padding and sampling all show.
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 23) as f32 / 4.0 - 2.5)
            .collect();
        let mut inputs = vec![(
            "x".to_string(),
            InputArray::F32(ArrayD::from_shape_vec(IxDyn(&self.dims), x).unwrap()),
        )];
        inputs.extend(
            self.extra_inputs
                .iter()
                .map(|(v, a)| (v.name().to_string(), a.clone())),
        );
        inputs
    }
}

fn run(proto: &ModelProto, inputs: &[(String, InputArray)]) -> Vec<(String, ArrayD<f32>)> {
    let mut session =
        ModelSession::from_proto(proto, &SessionOptions { threads: Some(1) }).unwrap();
    session.run(inputs).unwrap()
}

/// Upgrades the case, checks the opset and that ONNX Runtime computes the same before and
/// after, and answers what was converted.
fn upgrade_and_compare(case: &Case) -> (ModelProto, Upgrade) {
    let before = case.proto();
    let (after, upgrade) = upgrade_to_13(&before).unwrap();
    assert_eq!(super::super::default_opset(&after), Some(TARGET));
    assert_eq!(upgrade.from, case.opset);
    let inputs = case.inputs();
    let (old, new) = (run(&before, &inputs), run(&after, &inputs));
    assert_eq!(old.len(), new.len());
    for ((name, a), (_, b)) in old.iter().zip(&new) {
        assert_eq!(a.shape(), b.shape(), "{name} at opset {}", case.opset);
        let diff = a
            .iter()
            .zip(b.iter())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(diff <= 1e-6, "{name} at opset {}: {diff}", case.opset);
    }
    (after, upgrade)
}

fn converted(upgrade: &Upgrade) -> Vec<(&str, usize)> {
    upgrade
        .converted
        .iter()
        .map(|(op, n)| (op.as_str(), *n))
        .collect()
}

fn ops(proto: &ModelProto) -> Vec<String> {
    let graph = proto.graph.as_ref().unwrap();
    graph.node.iter().map(|n| n.op_type().to_string()).collect()
}

#[test]
fn split_squeeze_unsqueeze_and_reduce_sum_take_their_axes_as_inputs() {
    for opset in [10, 11, 12] {
        let case = Case::new(
            opset,
            &[2, 5, 3],
            vec![
                node(
                    "Split",
                    &["x"],
                    &["a", "b"],
                    vec![int("axis", 1), ints("split", &[2, 3])],
                ),
                node("Unsqueeze", &["a"], &["u"], vec![ints("axes", &[0, 3])]),
                node("Squeeze", &["u"], &["s"], vec![ints("axes", &[0, 3])]),
                node(
                    "ReduceSum",
                    &["b"],
                    &["r"],
                    vec![ints("axes", &[1]), int("keepdims", 0)],
                ),
                // No axes: every dim of size 1 goes, and at opset 13 too.
                node("Unsqueeze", &["r"], &["r1"], vec![ints("axes", &[1])]),
                node("Squeeze", &["r1"], &["r2"], vec![]),
                // No axes: the sum of everything, at opset 13 too.
                node("ReduceSum", &["s"], &["all"], vec![]),
            ],
            &["s", "r2", "all"],
        );
        let (after, upgrade) = upgrade_and_compare(&case);
        assert_eq!(
            converted(&upgrade),
            [
                ("ReduceSum", 1),
                ("Split", 1),
                ("Squeeze", 1),
                ("Unsqueeze", 2)
            ]
        );
        assert_eq!(
            upgrade.summary(),
            "1 ReduceSum, 1 Split, 1 Squeeze, 2 Unsqueeze converted"
        );
        let graph = after.graph.as_ref().unwrap();
        assert_eq!(graph.initializer.len(), 5);
        assert!(graph.initializer.iter().all(|t| t.data_type() == dt::INT64));
        assert!(graph.node.iter().all(|n| attr::find(n, "axes").is_none()));
    }
}

#[test]
fn softmax_keeps_its_opset_12_meaning_on_any_axis() {
    for opset in [10, 11, 12] {
        let case = Case::new(
            opset,
            &[2, 3, 4],
            vec![
                // The default axis (1) of a rank-3 input: flattened to 2-D at 1 up to opset 12.
                node("Softmax", &["x"], &["a"], vec![]),
                node("LogSoftmax", &["x"], &["b"], vec![int("axis", 0)]),
                // The last axis of a known rank: the same at opset 13.
                node("Softmax", &["x"], &["c"], vec![int("axis", 2)]),
                // An unknown rank: spelled out, which is right for any rank.
                node("Relu", &["x"], &["relu"], vec![]),
                node("Hardmax", &["relu"], &["d"], vec![int("axis", 1)]),
                node("Softmax", &["relu"], &["e"], vec![int("axis", -1)]),
            ],
            &["a", "b", "c", "d", "e"],
        );
        let (after, upgrade) = upgrade_and_compare(&case);
        assert_eq!(
            converted(&upgrade),
            [("Hardmax", 1), ("LogSoftmax", 1), ("Softmax", 1)]
        );
        assert_eq!(
            ops(&after)
                .iter()
                .filter(|o| *o == "Flatten" || *o == "Reshape")
                .count(),
            6
        );
    }
    // A rank-2 input at the default axis is its last one: only the axis is written out.
    let case = Case::new(
        12,
        &[3, 5],
        vec![node("Softmax", &["x"], &["y"], vec![])],
        &["y"],
    );
    let (after, upgrade) = upgrade_and_compare(&case);
    assert_eq!(converted(&upgrade), [("Softmax", 1)]);
    assert_eq!(ops(&after), ["Softmax"]);
}

#[test]
fn clip_and_pad_at_opset_10_take_their_attributes_as_inputs() {
    let case = Case::new(
        10,
        &[1, 2, 3, 3],
        vec![
            node(
                "Clip",
                &["x"],
                &["both"],
                vec![float("min", -1.0), float("max", 1.5)],
            ),
            node("Clip", &["x"], &["below"], vec![float("max", 0.5)]),
            node("Clip", &["x"], &["above"], vec![float("min", 0.25)]),
            node("Clip", &["x"], &["none"], vec![]),
            node(
                "Pad",
                &["x"],
                &["constant"],
                vec![ints("pads", &[0, 0, 1, 2, 0, 1, 0, 1]), float("value", 1.5)],
            ),
            node(
                "Pad",
                &["x"],
                &["zero"],
                vec![ints("pads", &[0, 0, 1, 1, 0, 0, 1, 1])],
            ),
            node(
                "Pad",
                &["x"],
                &["reflect"],
                vec![
                    ints("pads", &[0, 0, 1, 1, 0, 0, 1, 1]),
                    string("mode", "reflect"),
                ],
            ),
        ],
        &[
            "both", "below", "above", "none", "constant", "zero", "reflect",
        ],
    );
    let (after, upgrade) = upgrade_and_compare(&case);
    assert_eq!(converted(&upgrade), [("Clip", 3), ("Pad", 3)]);
    let graph = after.graph.as_ref().unwrap();
    let below = graph.node.iter().find(|n| n.output[0] == "below").unwrap();
    assert_eq!(below.input[1], "", "{below:?}");
    // Clip and Pad at opset 11 and 12 already read inputs.
    for opset in [11, 12] {
        let mut case = Case::new(
            opset,
            &[2, 3],
            vec![
                node("Clip", &["x", "lo", "hi"], &["c"], vec![]),
                node("Pad", &["x", "pads"], &["p"], vec![]),
            ],
            &["c", "p"],
        );
        case.initializers = vec![
            f32_init("lo", &[], &[-1.0]),
            f32_init("hi", &[], &[1.0]),
            i64_init("pads", &[4], &[1, 0, 0, 1]),
        ];
        let (_, upgrade) = upgrade_and_compare(&case);
        assert!(upgrade.converted.is_empty(), "{upgrade:?}");
        assert_eq!(upgrade.summary(), "no operator needed converting");
    }
}

#[test]
fn resize_at_opset_10_and_upsample_sample_as_they_did() {
    let resize = |op: &str| {
        let mut case = Case::new(
            10,
            &[1, 2, 3, 4],
            vec![
                node(op, &["x", "scales"], &["nearest"], vec![]),
                node(
                    op,
                    &["x", "odd"],
                    &["odd_nearest"],
                    vec![string("mode", "nearest")],
                ),
                node(
                    op,
                    &["x", "scales"],
                    &["linear"],
                    vec![string("mode", "linear")],
                ),
                node(
                    op,
                    &["x", "odd"],
                    &["odd_linear"],
                    vec![string("mode", "linear")],
                ),
            ],
            &["nearest", "odd_nearest", "linear", "odd_linear"],
        );
        case.initializers = vec![
            f32_init("scales", &[4], &[1.0, 1.0, 2.0, 2.0]),
            f32_init("odd", &[4], &[1.0, 1.0, 1.7, 2.5]),
        ];
        case
    };
    let (after, upgrade) = upgrade_and_compare(&resize("Resize"));
    assert_eq!(converted(&upgrade), [("Resize", 4)]);
    assert!(ops(&after).iter().all(|o| o == "Resize"));
    // ONNX Runtime refuses Upsample from opset 10 on (it is deprecated there), so the converted
    // Upsample is compared with opset 10's Resize, which samples as Upsample did.
    let case = resize("Resize");
    let expected = run(&case.proto(), &case.inputs());
    let (after, upgrade) = upgrade_to_13(&resize("Upsample").proto()).unwrap();
    assert_eq!(converted(&upgrade), [("Upsample", 4)]);
    assert_eq!(run(&after, &case.inputs()), expected);
    // Resize at opset 11 and 12 already has its opset-13 inputs.
    let mut case = Case::new(
        11,
        &[1, 2, 3, 4],
        vec![node(
            "Resize",
            &["x", "roi", "scales"],
            &["y"],
            vec![string("mode", "nearest")],
        )],
        &["y"],
    );
    case.initializers = vec![
        f32_init("roi", &[0], &[]),
        f32_init("scales", &[4], &[1.0, 1.0, 2.0, 2.0]),
    ];
    assert!(upgrade_and_compare(&case).1.converted.is_empty());
}

#[test]
fn dropout_and_scatter_are_written_as_opset_13_reads_them() {
    for opset in [10, 11] {
        let case = Case::new(
            opset,
            &[2, 3],
            vec![node("Dropout", &["x"], &["d"], vec![float("ratio", 0.3)])],
            &["d"],
        );
        let (after, upgrade) = upgrade_and_compare(&case);
        assert_eq!(converted(&upgrade), [("Dropout", 1)]);
        let graph = after.graph.as_ref().unwrap();
        assert_eq!(graph.node[0].input.len(), 2);
        assert!(graph.node[0].attribute.is_empty());
    }
    // Scatter is deprecated from opset 11 on (ONNX Runtime refuses it there).
    let mut case = Case::new(
        10,
        &[2, 3],
        vec![node(
            "Scatter",
            &["x", "idx", "upd"],
            &["s"],
            vec![int("axis", 1)],
        )],
        &["s"],
    );
    case.initializers = vec![
        i64_init("idx", &[2, 1], &[2, 0]),
        f32_init("upd", &[2, 1], &[7.0, 9.0]),
    ];
    let (after, upgrade) = upgrade_and_compare(&case);
    assert_eq!(converted(&upgrade), [("Scatter", 1)]);
    assert_eq!(ops(&after), ["ScatterElements"]);
}

#[test]
fn subgraphs_are_converted_with_their_own_initializers() {
    let branch = |name: &str, axes: &[i64]| GraphProto {
        name: Some(name.into()),
        node: vec![node("Unsqueeze", &["x"], &[name], vec![ints("axes", axes)])],
        output: vec![value(name, dt::FLOAT, None)],
        ..Default::default()
    };
    for flag in [true, false] {
        let mut case = Case::new(
            12,
            &[2, 3],
            vec![node(
                "If",
                &["flag"],
                &["y"],
                vec![
                    graph_attr("then_branch", branch("then_out", &[0])),
                    graph_attr("else_branch", branch("else_out", &[0])),
                ],
            )],
            &["y"],
        );
        case.extra_inputs = vec![(
            value("flag", dt::BOOL, Some(&[])),
            InputArray::Bool(ArrayD::from_elem(IxDyn(&[]), flag)),
        )];
        let (after, upgrade) = upgrade_and_compare(&case);
        assert_eq!(converted(&upgrade), [("Unsqueeze", 2)]);
        let graph = after.graph.as_ref().unwrap();
        assert!(graph.initializer.is_empty());
        let names: Vec<&str> = graph.node[0]
            .attribute
            .iter()
            .map(|a| a.g.as_ref().unwrap().initializer[0].name())
            .collect();
        assert_ne!(names[0], names[1]);
    }
}

#[test]
fn new_inputs_get_names_the_model_does_not_use() {
    let mut case = Case::new(
        12,
        &[2, 3],
        vec![node("Unsqueeze", &["x"], &["u"], vec![ints("axes", &[0])])],
        &["u", "Unsqueeze_u_axes"],
    );
    // The name the converter would pick first is taken by a graph input's consumer's output.
    case.nodes
        .push(node("Relu", &["x"], &["Unsqueeze_u_axes"], vec![]));
    let (after, _) = upgrade_and_compare(&case);
    let graph = after.graph.as_ref().unwrap();
    assert_eq!(graph.initializer[0].name(), "Unsqueeze_u_axes_2");
    assert_eq!(graph.node[0].input[1], "Unsqueeze_u_axes_2");
}

#[test]
fn a_model_at_opset_13_or_later_is_left_as_it_is() {
    let case = Case::new(
        13,
        &[2, 3],
        vec![node("Softmax", &["x"], &["y"], vec![])],
        &["y"],
    );
    let proto = case.proto();
    let (after, upgrade) = upgrade_to_13(&proto).unwrap();
    assert_eq!(after, proto);
    assert_eq!(upgrade.from, 13);
    assert!(upgrade.converted.is_empty());
}

#[test]
fn what_cannot_be_converted_is_named_in_one_sentence() {
    let case = Case::new(
        11,
        &[2, 3],
        vec![node("Unsqueeze", &["x"], &["u"], vec![])],
        &["u"],
    );
    let err = upgrade_to_13(&case.proto()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the Unsqueeze node 'Unsqueeze_u' at opset 11 cannot be converted to opset 13: it has no axes attribute"
    );
    let case = Case::new(
        10,
        &[1, 1, 2, 2],
        vec![node(
            "Resize",
            &["x", "s"],
            &["y"],
            vec![string("mode", "cubic")],
        )],
        &["y"],
    );
    let err = upgrade_to_13(&case.proto()).unwrap_err();
    assert!(
        err.to_string()
            .contains("the Resize node 'Resize_y' at opset 10 cannot be converted to opset 13: its mode 'cubic'"),
        "{err}"
    );
    let case = Case::new(9, &[2, 3], vec![], &["x"]);
    assert_eq!(
        upgrade_to_13(&case.proto()).unwrap_err().to_string(),
        "the model's opset 9 predates QuantizeLinear (opset 10); convert it with onnx.version_converter.convert_version(model, 13)"
    );
}

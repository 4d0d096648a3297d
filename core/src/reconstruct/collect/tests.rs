//! im2col and the Gemm/MatMul row forms checked against ONNX Runtime: for every layout, the
//! layer's output is the weight matrices times the rows of input features.

use ndarray::{Array2, ArrayD, Axis, IxDyn};

use super::feature_rows;
use crate::analysis::graph::GraphIndex;
use crate::model::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_type as at, data_type as dt,
    tensor_shape_proto::{Dimension, dimension::Value as DimValue},
    type_proto,
};
use crate::reconstruct::layout::{self, InputForm};
use crate::runtime::{InputArray, ModelSession, SessionOptions, SplitMix64};
use crate::{AnalysisOptions, Model, analyze};

pub(crate) enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Str(&'static str),
}

/// A conv case: input shape, weight shape, attributes.
type ConvCase = (Vec<usize>, Vec<usize>, Vec<(&'static str, Attr)>);
/// A Gemm or MatMul case: op, input shape, weight shape, weight first, attributes, through a
/// Transpose.
type MatrixCase = (
    &'static str,
    Vec<usize>,
    Vec<usize>,
    bool,
    Vec<(&'static str, Attr)>,
    bool,
);

fn attribute(name: &str, value: &Attr) -> AttributeProto {
    let mut a = AttributeProto {
        name: Some(name.into()),
        ..Default::default()
    };
    match value {
        Attr::Int(i) => {
            a.r#type = Some(at::INT);
            a.i = Some(*i);
        }
        Attr::Ints(v) => {
            a.r#type = Some(at::INTS);
            a.ints = v.clone();
        }
        Attr::Str(s) => {
            a.r#type = Some(at::STRING);
            a.s = Some(s.as_bytes().to_vec().into());
        }
    }
    a
}

fn info(name: &str, dims: &[usize]) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(dt::FLOAT),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(DimValue::DimValue(d as i64)),
                            denotation: None,
                        })
                        .collect(),
                }),
            })),
            denotation: None,
        }),
        ..Default::default()
    }
}

pub(crate) fn random(shape: &[usize], seed: u64) -> ArrayD<f32> {
    let mut rng = SplitMix64(seed);
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.unit() * 2.0 - 1.0)
}

/// A model of one `op` node reading `x` (shape `x_shape`) and weight `w`; `weight_first` puts
/// the weight at input 0; `transposed_view` reads it through `Transpose` of a stored `wᵀ`.
fn one_node(
    op: &str,
    x_shape: &[usize],
    w: &ArrayD<f32>,
    weight_first: bool,
    attrs: &[(&str, Attr)],
    transposed_view: bool,
) -> Model {
    let mut nodes = Vec::new();
    let (stored, w_value) = if transposed_view {
        let t = w.view().reversed_axes().as_standard_layout().to_owned();
        nodes.push(NodeProto {
            input: vec!["w".into()],
            output: vec!["w_t".into()],
            op_type: Some("Transpose".into()),
            name: Some("view".into()),
            attribute: vec![attribute("perm", &Attr::Ints(vec![1, 0]))],
            ..Default::default()
        });
        (t, "w_t")
    } else {
        (w.as_standard_layout().to_owned(), "w")
    };
    let inputs = if weight_first {
        vec![w_value.to_string(), "x".into()]
    } else {
        vec!["x".into(), w_value.to_string()]
    };
    nodes.push(NodeProto {
        input: inputs,
        output: vec!["y".into()],
        op_type: Some(op.into()),
        name: Some("layer".into()),
        attribute: attrs.iter().map(|(n, v)| attribute(n, v)).collect(),
        ..Default::default()
    });
    let tensor = TensorProto {
        name: Some("w".into()),
        dims: stored.shape().iter().map(|&d| d as i64).collect(),
        data_type: Some(dt::FLOAT),
        float_data: stored.iter().copied().collect(),
        ..Default::default()
    };
    let proto = ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        graph: Some(GraphProto {
            name: Some("g".into()),
            node: nodes,
            initializer: vec![tensor],
            input: vec![info("x", x_shape)],
            output: vec![ValueInfoProto {
                name: Some("y".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    Model {
        path: "one_node.onnx".into(),
        proto,
        file_bytes: 0,
    }
}

/// Checks `y = matrices · rows` for the model's layer, against ONNX Runtime.
fn check(model: &Model, x_shape: &[usize], seed: u64) {
    let analysis = analyze(model, &AnalysisOptions::default()).unwrap();
    let layer = analysis.layer("y").unwrap();
    assert!(layer.is_prunable, "{:?}", layer.not_prunable_reason);
    let index = GraphIndex::new(model.graph());
    let node = index.node_of("y").unwrap();
    let layout = layout::of(layer, &model.graph().node[node], &index).unwrap();
    assert_eq!(layout.input, "x");
    let stored = index.weight("w").unwrap();
    let values = crate::model::tensor::to_f32(stored.tensor).unwrap();
    let matrices = layout.layout.to_matrices(&values);
    assert_eq!(layout.layout.from_matrices(&matrices), values);

    let x = random(x_shape, seed);
    let mut session = ModelSession::from_proto(&model.proto, &SessionOptions::default()).unwrap();
    let y = session
        .run(&[("x".into(), InputArray::F32(x.clone()))])
        .unwrap()
        .remove(0)
        .1;
    // The output axis last, one row per input row.
    let outputs = layout.layout.outputs();
    let axis = match layout.form {
        InputForm::Conv(_) => 1,
        _ => y.ndim() - layout.output_axis_from_end.unwrap(),
    };
    let mut perm: Vec<usize> = (0..y.ndim()).filter(|&i| i != axis).collect();
    perm.push(axis);
    let y = y.permuted_axes(perm).as_standard_layout().to_owned();
    let n = y.len() / outputs;
    let y = y.into_shape_with_order((n, outputs)).unwrap();

    let mut rows: Vec<Vec<Array2<f32>>> = vec![Vec::new(); layout.layout.groups()];
    feature_rows(
        &layout.form,
        x.view(),
        layout.layout.columns(),
        &mut |g, r| rows[g].push(r.to_owned()),
    )
    .unwrap();
    let per = layout.layout.rows();
    for (g, (matrix, chunks)) in matrices.iter().zip(&rows).enumerate() {
        let views: Vec<_> = chunks.iter().map(|c| c.view()).collect();
        let all = ndarray::concatenate(Axis(0), &views).unwrap();
        let z = all.dot(&matrix.t());
        let expected = y.slice(ndarray::s![.., g * per..(g + 1) * per]);
        assert_eq!(z.dim(), expected.dim(), "group {g}");
        let worst = z
            .iter()
            .zip(expected.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "group {g}: off by {worst}");
    }
}

#[test]
fn conv_rows_reproduce_onnx_runtimes_conv() {
    let cases: Vec<ConvCase> = vec![
        // Grouped, strided, dilated, asymmetric pads.
        (
            vec![2, 4, 9, 8],
            vec![6, 2, 3, 2],
            vec![
                ("group", Attr::Int(2)),
                ("strides", Attr::Ints(vec![2, 1])),
                ("dilations", Attr::Ints(vec![1, 2])),
                ("pads", Attr::Ints(vec![1, 0, 2, 1])),
            ],
        ),
        // Depthwise, no kernel_shape attribute.
        (
            vec![1, 3, 6, 6],
            vec![3, 1, 3, 3],
            vec![
                ("group", Attr::Int(3)),
                ("pads", Attr::Ints(vec![1, 1, 1, 1])),
            ],
        ),
        (
            vec![2, 2, 7, 5],
            vec![4, 2, 4, 3],
            vec![
                ("auto_pad", Attr::Str("SAME_UPPER")),
                ("strides", Attr::Ints(vec![2, 2])),
            ],
        ),
        (
            vec![2, 2, 7, 5],
            vec![4, 2, 4, 3],
            vec![
                ("auto_pad", Attr::Str("SAME_LOWER")),
                ("strides", Attr::Ints(vec![2, 1])),
            ],
        ),
        (
            vec![1, 2, 7, 5],
            vec![3, 2, 3, 3],
            vec![("auto_pad", Attr::Str("VALID"))],
        ),
        // 1-D.
        (
            vec![3, 4, 11],
            vec![4, 2, 3],
            vec![
                ("group", Attr::Int(2)),
                ("strides", Attr::Ints(vec![2])),
                ("dilations", Attr::Ints(vec![2])),
                ("pads", Attr::Ints(vec![2, 1])),
            ],
        ),
    ];
    for (i, (x_shape, w_shape, attrs)) in cases.into_iter().enumerate() {
        let w = random(&w_shape, 100 + i as u64);
        let model = one_node("Conv", &x_shape, &w, false, &attrs, false);
        check(&model, &x_shape, i as u64);
    }
}

#[test]
fn gemm_and_matmul_rows_reproduce_onnx_runtime() {
    let cases: Vec<MatrixCase> = vec![
        ("Gemm", vec![5, 6], vec![6, 4], false, vec![], false),
        (
            "Gemm",
            vec![5, 6],
            vec![4, 6],
            false,
            vec![("transB", Attr::Int(1))],
            false,
        ),
        (
            "Gemm",
            vec![6, 5],
            vec![6, 4],
            false,
            vec![("transA", Attr::Int(1))],
            false,
        ),
        // The weight as A: [M, K]·x[K, N], and transposed either way.
        ("Gemm", vec![6, 5], vec![4, 6], true, vec![], false),
        (
            "Gemm",
            vec![6, 5],
            vec![6, 4],
            true,
            vec![("transA", Attr::Int(1))],
            false,
        ),
        (
            "Gemm",
            vec![5, 6],
            vec![4, 6],
            true,
            vec![("transB", Attr::Int(1))],
            false,
        ),
        ("MatMul", vec![2, 3, 6], vec![6, 4], false, vec![], false),
        ("MatMul", vec![2, 6, 5], vec![4, 6], true, vec![], false),
        ("MatMul", vec![6], vec![6, 4], false, vec![], false),
        ("MatMul", vec![3, 6], vec![6, 4], false, vec![], true),
    ];
    for (i, (op, x_shape, w_shape, first, attrs, view)) in cases.into_iter().enumerate() {
        let w = random(&w_shape, 200 + i as u64);
        let model = one_node(op, &x_shape, &w, first, &attrs, view);
        check(&model, &x_shape, i as u64);
    }
}

#[test]
fn rows_that_do_not_fit_the_weight_are_refused() {
    let x = random(&[2, 5], 1);
    let err = feature_rows(&InputForm::Rows, x.view(), 6, &mut |_, _| {}).unwrap_err();
    assert!(err.contains("6 input features"), "{err}");
}

#[test]
fn a_model_run_in_parts_gives_what_the_whole_model_gives() {
    use crate::runtime::{Dataset, ModelSession, SessionOptions};
    let (model, analysis) = crate::fixtures::load_analyzed("digits_cnn.onnx");
    let data = Dataset::generated(&analysis.inputs, 8, 7).unwrap();
    let batches = data.batches(4);
    let mut whole = ModelSession::from_file(&model.path, &SessionOptions::default()).unwrap();
    // Parts of at most 1 KB of constants: every layer with a weight is a part of its own.
    let parts = super::run_in_parts(
        &model.proto,
        &batches,
        super::Given::default(),
        1024,
        &crate::Cancel::default(),
    )
    .unwrap();
    assert_eq!(parts.len(), batches.len());
    for (batch, outputs) in batches.iter().zip(&parts) {
        let expected = whole.run(&batch.inputs).unwrap();
        assert_eq!(outputs.len(), expected.len());
        for ((name, got), (want_name, want)) in outputs.iter().zip(&expected) {
            assert_eq!(name, want_name);
            assert_eq!(got.shape(), want.shape());
            let err = got
                .iter()
                .zip(want.iter())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(err < 1e-4, "{name}: {err}");
        }
    }
}

//! Small ONNX graphs for the detection tests, built node by node, and the checks every test runs:
//! the model runs in ONNX Runtime, and every group fits the tensors it names.

use std::collections::BTreeMap;

use ndarray::{ArrayD, IxDyn};

use crate::model::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_type as at, data_type as dt,
    tensor_shape_proto::{Dimension, dimension::Value as DimValue},
    type_proto,
};
use crate::runtime::{InputArray, ModelSession, SessionOptions, SplitMix64};
use crate::structured::{ChannelGroup, Role, channel_groups};
use crate::{AnalysisOptions, Model, analyze};

pub enum A {
    I(i64),
    Is(Vec<i64>),
    F(f32),
    S(&'static str),
}

fn attribute(name: &str, value: &A) -> AttributeProto {
    let mut a = AttributeProto {
        name: Some(name.into()),
        ..Default::default()
    };
    match value {
        A::I(i) => {
            a.r#type = Some(at::INT);
            a.i = Some(*i);
        }
        A::Is(v) => {
            a.r#type = Some(at::INTS);
            a.ints = v.clone();
        }
        A::F(f) => {
            a.r#type = Some(at::FLOAT);
            a.f = Some(*f);
        }
        A::S(s) => {
            a.r#type = Some(at::STRING);
            a.s = Some(s.as_bytes().to_vec().into());
        }
    }
    a
}

fn info(name: &str, dims: &[i64]) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(dt::FLOAT),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|&d| Dimension {
                            value: Some(DimValue::DimValue(d)),
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

/// A graph under construction (opset 17, float inputs).
#[derive(Default)]
pub struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    seed: u64,
}

impl Graph {
    pub fn input(&mut self, name: &str, dims: &[i64]) -> &mut Self {
        self.inputs.push(info(name, dims));
        self
    }

    pub fn output(&mut self, name: &str) -> &mut Self {
        self.outputs.push(ValueInfoProto {
            name: Some(name.into()),
            ..Default::default()
        });
        self
    }

    /// A float initializer of seeded values in [0.5, 1.5) (positive, so variances are valid).
    pub fn weight(&mut self, name: &str, dims: &[i64]) -> &mut Self {
        self.seed += 1;
        let mut rng = SplitMix64(self.seed);
        let n: i64 = dims.iter().product();
        self.initializers.push(TensorProto {
            name: Some(name.into()),
            dims: dims.to_vec(),
            data_type: Some(dt::FLOAT),
            float_data: (0..n).map(|_| 0.5 + rng.unit()).collect(),
            ..Default::default()
        });
        self
    }

    pub fn ints(&mut self, name: &str, values: &[i64]) -> &mut Self {
        self.initializers.push(TensorProto {
            name: Some(name.into()),
            dims: vec![values.len() as i64],
            data_type: Some(dt::INT64),
            int64_data: values.to_vec(),
            ..Default::default()
        });
        self
    }

    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        output: &str,
        attrs: &[(&str, A)],
    ) -> &mut Self {
        self.nodes.push(NodeProto {
            op_type: Some(op.into()),
            name: Some(output.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            attribute: attrs.iter().map(|(n, v)| attribute(n, v)).collect(),
            ..Default::default()
        });
        self
    }

    /// A node with several outputs.
    pub fn multi(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: &[(&str, A)],
    ) -> &mut Self {
        self.node(op, inputs, outputs[0], attrs);
        let last = self.nodes.last_mut().unwrap();
        last.output = outputs.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Conv `name` with `out` filters over `inp` channels (k×k, same padding), weight and bias.
    pub fn conv(
        &mut self,
        name: &str,
        x: &str,
        inp: i64,
        out: i64,
        k: i64,
        group: i64,
    ) -> &mut Self {
        let (w, b) = (format!("{name}.weight"), format!("{name}.bias"));
        self.weight(&w, &[out, inp / group, k, k])
            .weight(&b, &[out]);
        self.node(
            "Conv",
            &[x, &w, &b],
            name,
            &[("group", A::I(group)), ("pads", A::Is(vec![k / 2; 4]))],
        )
    }

    pub fn batch_norm(&mut self, name: &str, x: &str, c: i64) -> &mut Self {
        let names: Vec<String> = ["scale", "bias", "mean", "var"]
            .iter()
            .map(|p| format!("{name}.{p}"))
            .collect();
        for n in &names {
            self.weight(n, &[c]);
        }
        let inputs: Vec<&str> = std::iter::once(x)
            .chain(names.iter().map(String::as_str))
            .collect();
        self.node("BatchNormalization", &inputs, name, &[])
    }

    pub fn model(&self) -> Model {
        let proto = ModelProto {
            ir_version: Some(8),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(17),
            }],
            graph: Some(GraphProto {
                name: Some("g".into()),
                node: self.nodes.clone(),
                initializer: self.initializers.clone(),
                input: self.inputs.clone(),
                output: self.outputs.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        Model {
            path: "fixture.onnx".into(),
            proto,
            file_bytes: 0,
        }
    }
}

/// The groups of a model, after checking that ONNX Runtime runs it and that every group fits.
pub fn detect(model: &Model) -> Vec<ChannelGroup> {
    let analysis = analyze(model, &AnalysisOptions::default()).unwrap();
    let mut session = ModelSession::from_proto(&model.proto, &SessionOptions::default()).unwrap();
    let mut rng = SplitMix64(7);
    let feeds: Vec<(String, InputArray)> = analysis
        .inputs
        .iter()
        .map(|input| {
            let shape: Vec<usize> = input
                .shape
                .as_ref()
                .unwrap()
                .iter()
                .map(|&d| d as usize)
                .collect();
            let x = ArrayD::from_shape_simple_fn(IxDyn(&shape), || rng.unit() * 2.0 - 1.0);
            (input.name.clone(), InputArray::F32(x))
        })
        .collect();
    session.run(&feeds).unwrap();
    let groups = channel_groups(model, &analysis).unwrap();
    check(model, &groups);
    groups
}

/// Every slice lies within its tensor, and the producer rows of every weight are covered by
/// the groups exactly once.
pub fn check(model: &Model, groups: &[ChannelGroup]) {
    let index = crate::analysis::graph::GraphIndex::new(model.graph());
    let mut produced: BTreeMap<(String, usize), Vec<(usize, usize)>> = BTreeMap::new();
    for g in groups {
        assert!(g.channels > 0, "{}: no channels", g.name);
        for s in &g.slices {
            let w = index
                .weight(&s.tensor)
                .unwrap_or_else(|| panic!("{}: no constant {}", g.name, s.tensor));
            let dim = w.tensor.dims[s.axis] as usize;
            assert!(
                dim >= s.offset + g.channels * s.block,
                "{}: {} axis {} has {dim}, the slice needs {}",
                g.name,
                s.tensor,
                s.axis,
                s.offset + g.channels * s.block
            );
            if s.role == Role::Producer {
                produced
                    .entry((s.tensor.clone(), s.axis))
                    .or_default()
                    .push((s.offset, s.offset + g.channels * s.block));
            }
        }
        for p in &g.producers {
            assert!(index.node_of(p).is_some(), "{}: no layer {p}", g.name);
        }
    }
    for ((tensor, axis), mut ranges) in produced {
        ranges.sort_unstable();
        ranges.dedup();
        let dim = index.weight(&tensor).unwrap().tensor.dims[axis] as usize;
        let mut at = 0;
        for (start, end) in ranges {
            assert_eq!(
                start, at,
                "{tensor} axis {axis}: rows {at}..{start} in no group"
            );
            at = end;
        }
        assert_eq!(at, dim, "{tensor} axis {axis}: rows {at}.. in no group");
    }
}

/// The group a layer produces (first listed).
pub fn produced_by<'a>(groups: &'a [ChannelGroup], layer: &str) -> &'a ChannelGroup {
    groups
        .iter()
        .find(|g| g.producers.iter().any(|p| p == layer))
        .unwrap_or_else(|| panic!("no group produced by {layer}: {groups:#?}"))
}

/// The slice of `tensor` in a group.
pub fn slice<'a>(group: &'a ChannelGroup, tensor: &str) -> &'a crate::structured::Slice {
    group
        .slices
        .iter()
        .find(|s| s.tensor == tensor)
        .unwrap_or_else(|| panic!("{} has no slice of {tensor}: {group:#?}", group.name))
}

//! Small models built by hand for the structured-pruning tests, each with its channel groups
//! written out as `group.rs`'s slice table says, until detection writes them: a
//! conv-bn-relu-conv chain, a residual block, a concat of two branches, a reshape into a Gemm
//! (and a Gemm into a MatMul), a depthwise-separable block, and the digits CNN.

use std::path::PathBuf;

use ndarray::ArrayD;

use super::group::{Carrier, ChannelGroup, Edit, Role, Slice};
use crate::Model;
use crate::analysis::graph::GraphIndex;
use crate::model::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_type as at, data_type as dt,
    tensor_shape_proto::{Dimension, dimension::Value as Dim},
    type_proto,
};
use crate::model::tensor::to_f32;
use crate::model::weight;
use crate::runtime::{Dataset, InputArray, ModelSession, SessionOptions, SplitMix64};

/// A graph under construction, its weights drawn from a seeded generator.
pub struct Net {
    graph: GraphProto,
    rng: SplitMix64,
}

pub fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(at::INT),
        i: Some(v),
        ..Default::default()
    }
}

pub fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(at::INTS),
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// A float value's info: `batch` first, then `dims`.
pub fn info(name: &str, dims: &[i64]) -> ValueInfoProto {
    let mut dim = vec![Dimension {
        value: Some(Dim::DimParam("batch".into())),
        ..Default::default()
    }];
    dim.extend(dims.iter().map(|&d| Dimension {
        value: Some(Dim::DimValue(d)),
        ..Default::default()
    }));
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(dt::FLOAT),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn tensor(name: &str, dims: &[i64], values: Vec<f32>) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        data_type: Some(dt::FLOAT),
        dims: dims.to_vec(),
        float_data: values,
        ..Default::default()
    }
}

impl Net {
    pub fn new(input: &str, dims: &[i64], seed: u64) -> Net {
        Net {
            graph: GraphProto {
                name: Some("fixture".into()),
                input: vec![info(input, dims)],
                ..Default::default()
            },
            rng: SplitMix64(seed),
        }
    }

    fn normal(&mut self) -> f32 {
        (0..4).map(|_| self.rng.unit()).sum::<f32>() - 2.0
    }

    /// A random initializer, scaled so that a layer keeps its inputs' magnitude.
    pub fn weight(&mut self, name: &str, dims: &[i64]) -> String {
        let n: i64 = dims.iter().product();
        let fan_in = if dims.len() > 1 {
            dims[1..].iter().product::<i64>()
        } else {
            1
        };
        let scale = (2.0 / fan_in as f32).sqrt();
        let values = (0..n).map(|_| scale * self.normal()).collect();
        self.graph.initializer.push(tensor(name, dims, values));
        name.to_string()
    }

    /// A BatchNormalization's four per-channel constants, with a positive variance.
    pub fn batch_norm(&mut self, name: &str, input: &str, output: &str, c: i64) {
        let names: Vec<String> = ["scale", "bias", "mean", "var"]
            .iter()
            .map(|p| format!("{name}.{p}"))
            .collect();
        for (i, p) in names.iter().enumerate() {
            let values: Vec<f32> = (0..c)
                .map(|_| match i {
                    0 => 0.5 + self.rng.unit(),
                    3 => 0.5 + self.rng.unit(),
                    _ => 0.3 * self.normal(),
                })
                .collect();
            self.graph.initializer.push(tensor(p, &[c], values));
        }
        let mut inputs = vec![input];
        inputs.extend(names.iter().map(String::as_str));
        self.node("BatchNormalization", name, &inputs, output, vec![]);
    }

    pub fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        output: &str,
        attribute: Vec<AttributeProto>,
    ) {
        self.graph.node.push(NodeProto {
            op_type: Some(op.into()),
            name: Some(name.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            attribute,
            ..Default::default()
        });
    }

    /// A Conv `name` with a random weight `[out, in/group, k, k]` (padded to keep the size) and
    /// optionally a bias.
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        name: &str,
        input: &str,
        output: &str,
        channels: (i64, i64),
        k: i64,
        group: i64,
        bias: bool,
    ) {
        let (cin, cout) = channels;
        let w = self.weight(&format!("{name}.weight"), &[cout, cin / group, k, k]);
        let mut inputs = vec![input.to_string(), w];
        if bias {
            inputs.push(self.weight(&format!("{name}.bias"), &[cout]));
        }
        let p = k / 2;
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.node(
            "Conv",
            name,
            &inputs,
            output,
            vec![
                ints("kernel_shape", &[k, k]),
                ints("pads", &[p, p, p, p]),
                int("group", group),
            ],
        );
    }

    /// Moves initializer `name` into a `Constant` node, read through an `Identity` when asked,
    /// as Paddle and old PyTorch exporters store weights.
    pub fn move_to_constant_node(&mut self, name: &str, identity: bool) {
        let i = self
            .graph
            .initializer
            .iter()
            .position(|t| t.name() == name)
            .unwrap();
        let mut t = self.graph.initializer.remove(i);
        t.name = None;
        let out = if identity {
            format!("{name}_const")
        } else {
            name.to_string()
        };
        self.graph.node.insert(
            0,
            NodeProto {
                op_type: Some("Constant".into()),
                name: Some(format!("{name}_constant")),
                output: vec![out.clone()],
                attribute: vec![AttributeProto {
                    name: Some("value".into()),
                    r#type: Some(at::TENSOR),
                    t: Some(t),
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        if identity {
            self.graph.node.insert(
                1,
                NodeProto {
                    op_type: Some("Identity".into()),
                    name: Some(format!("{name}_identity")),
                    input: vec![out],
                    output: vec![name.to_string()],
                    ..Default::default()
                },
            );
        }
    }

    pub fn value_info(&mut self, name: &str, dims: &[i64]) {
        self.graph.value_info.push(info(name, dims));
    }

    pub fn finish(mut self, output: &str, dims: &[i64]) -> Model {
        self.graph.output.push(info(output, dims));
        Model {
            path: PathBuf::from("fixture.onnx"),
            proto: ModelProto {
                ir_version: Some(8),
                opset_import: vec![OperatorSetIdProto {
                    domain: Some(String::new()),
                    version: Some(17),
                }],
                producer_name: Some("prunekit tests".into()),
                graph: Some(self.graph),
                ..Default::default()
            },
            file_bytes: 0,
        }
    }
}

pub fn slice(
    tensor: &str,
    axis: usize,
    offset: usize,
    block: usize,
    role: Role,
    node: &str,
) -> Slice {
    Slice {
        tensor: tensor.into(),
        axis,
        offset,
        block,
        role,
        node: node.into(),
    }
}

pub fn carrier(value: &str, offset: usize, block: usize) -> Carrier {
    Carrier {
        value: value.into(),
        axis: 1,
        offset,
        block,
    }
}

fn group(name: &str, channels: usize) -> ChannelGroup {
    ChannelGroup {
        name: name.into(),
        channels,
        slices: vec![],
        edits: vec![],
        producers: vec![],
        consumers: vec![],
        values: vec![],
        unprunable: None,
    }
}

/// A convolution's output channels: its weight rows and bias.
fn conv_rows(name: &str, bias: bool) -> Vec<Slice> {
    let mut s = vec![slice(
        &format!("{name}.weight"),
        0,
        0,
        1,
        Role::Producer,
        name,
    )];
    if bias {
        s.push(slice(
            &format!("{name}.bias"),
            0,
            0,
            1,
            Role::Producer,
            name,
        ));
    }
    s
}

/// A BatchNormalization's scale, bias, mean and variance (`node` reads `prefix.NAME` for each
/// of `names`).
fn bn_slices(node: &str, prefix: &str, names: [&str; 4]) -> Vec<Slice> {
    names
        .iter()
        .map(|p| slice(&format!("{prefix}.{p}"), 0, 0, 1, Role::PerChannel, node))
        .collect()
}

const FIXTURE_BN: [&str; 4] = ["scale", "bias", "mean", "var"];
const TORCH_BN: [&str; 4] = ["weight", "bias", "running_mean", "running_var"];

/// x[3,8,8] → conv1 (8, weight in a `Constant` node behind `Identity`) → bn1 → relu → conv2 (6)
/// → y. Groups: conv1 (8 channels), conv2 (the output's, unprunable).
pub fn chain() -> (Model, Vec<ChannelGroup>) {
    let mut net = Net::new("x", &[3, 8, 8], 1);
    net.conv("conv1", "x", "c1", (3, 8), 3, 1, true);
    net.batch_norm("bn1", "c1", "b1", 8);
    net.node("Relu", "relu1", &["b1"], "r1", vec![]);
    net.conv("conv2", "r1", "y", (8, 6), 3, 1, true);
    net.move_to_constant_node("conv1.weight", true);
    for v in ["c1", "b1", "r1"] {
        net.value_info(v, &[8, 8, 8]);
    }
    let model = net.finish("y", &[6, 8, 8]);
    let mut conv1 = group("conv1", 8);
    conv1.slices = conv_rows("conv1", true);
    // A slice names the constant itself: the Constant node's output, behind the Identity.
    conv1.slices[0].tensor = "conv1.weight_const".into();
    conv1.slices.extend(bn_slices("bn1", "bn1", FIXTURE_BN));
    conv1
        .slices
        .push(slice("conv2.weight", 1, 0, 1, Role::Consumer, "conv2"));
    conv1.producers = vec!["conv1".into()];
    conv1.consumers = vec!["conv2".into()];
    conv1.values = ["c1", "b1", "r1"]
        .iter()
        .map(|v| carrier(v, 0, 1))
        .collect();
    let mut conv2 = group("conv2", 6);
    conv2.slices = conv_rows("conv2", true);
    conv2.producers = vec!["conv2".into()];
    conv2.values = vec![carrier("y", 0, 1)];
    conv2.unprunable = Some("graph output y carries its channels".into());
    (model, vec![conv1, conv2])
}

/// x[4,8,8] → c0 (8) → relu → r0; c1 (8) reads r0; s = c1 + r0 → relu → c2 (5) → y. The
/// residual ties c0's and c1's channels: one group that c1 both computes and reads.
pub fn residual() -> (Model, Vec<ChannelGroup>) {
    let mut net = Net::new("x", &[4, 8, 8], 2);
    net.conv("c0", "x", "c0_out", (4, 8), 3, 1, true);
    net.node("Relu", "relu0", &["c0_out"], "r0", vec![]);
    net.conv("c1", "r0", "c1_out", (8, 8), 3, 1, true);
    net.node("Add", "add", &["c1_out", "r0"], "s", vec![]);
    net.node("Relu", "relu1", &["s"], "r1", vec![]);
    net.conv("c2", "r1", "y", (8, 5), 1, 1, false);
    net.value_info("s", &[8, 8, 8]);
    let model = net.finish("y", &[5, 8, 8]);
    let mut g = group("c0", 8);
    g.slices = conv_rows("c0", true);
    g.slices.extend(conv_rows("c1", true));
    g.slices
        .push(slice("c1.weight", 1, 0, 1, Role::Consumer, "c1"));
    g.slices
        .push(slice("c2.weight", 1, 0, 1, Role::Consumer, "c2"));
    g.producers = vec!["c0".into(), "c1".into()];
    g.consumers = vec!["c1".into(), "c2".into()];
    g.values = ["c0_out", "r0", "c1_out", "s", "r1"]
        .iter()
        .map(|v| carrier(v, 0, 1))
        .collect();
    (model, vec![g])
}

/// x[3,6,6] → ca (4) and cb (6) → concat → relu → cc (5) → y: two groups at offsets 0 and 4
/// of one tensor.
pub fn concat() -> (Model, Vec<ChannelGroup>) {
    let mut net = Net::new("x", &[3, 6, 6], 3);
    net.conv("ca", "x", "a", (3, 4), 3, 1, true);
    net.conv("cb", "x", "b", (3, 6), 3, 1, true);
    net.node(
        "Concat",
        "cat",
        &["a", "b"],
        "cat_out",
        vec![int("axis", 1)],
    );
    net.node("Relu", "relu", &["cat_out"], "r", vec![]);
    net.conv("cc", "r", "y", (10, 5), 3, 1, true);
    net.value_info("cat_out", &[10, 6, 6]);
    net.value_info("r", &[10, 6, 6]);
    let model = net.finish("y", &[5, 6, 6]);
    let branch = |name: &str, channels: usize, offset: usize, out: &str| {
        let mut g = group(name, channels);
        g.slices = conv_rows(name, true);
        g.slices
            .push(slice("cc.weight", 1, offset, 1, Role::Consumer, "cc"));
        g.producers = vec![name.into()];
        g.consumers = vec!["cc".into()];
        g.values = vec![
            carrier(out, 0, 1),
            carrier("cat_out", offset, 1),
            carrier("r", offset, 1),
        ];
        g
    };
    (
        model,
        vec![branch("ca", 4, 0, "a"), branch("cb", 6, 4, "b")],
    )
}

/// x[1,4,4] → conv (4) → relu → maxpool 2 → Reshape [0, 16] → Gemm (10, `transB = 0`) → relu
/// → MatMul W[10, 3] (a `Constant` node) + b → y. Groups: conv (its channels are blocks of 4
/// features of the Gemm, and count in the reshape's shape), gemm (its units are the MatMul's
/// rows), and the MatMul's, unprunable.
pub fn reshape_gemm() -> (Model, Vec<ChannelGroup>) {
    let mut net = Net::new("x", &[1, 4, 4], 4);
    net.conv("conv", "x", "c", (1, 4), 3, 1, true);
    net.node("Relu", "relu0", &["c"], "r0", vec![]);
    net.node(
        "MaxPool",
        "pool",
        &["r0"],
        "p",
        vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
    );
    net.graph.initializer.push(TensorProto {
        name: Some("flat_shape".into()),
        data_type: Some(dt::INT64),
        dims: vec![2],
        int64_data: vec![0, 16],
        ..Default::default()
    });
    net.node("Reshape", "flatten", &["p", "flat_shape"], "f", vec![]);
    let b = net.weight("gemm.B", &[16, 10]);
    let c = net.weight("gemm.C", &[10]);
    net.node("Gemm", "gemm", &["f", &b, &c], "g", vec![int("transB", 0)]);
    net.node("Relu", "relu1", &["g"], "r1", vec![]);
    let w = net.weight("mm.weight", &[10, 3]);
    let bias = net.weight("mm.bias", &[3]);
    net.node("MatMul", "mm", &["r1", &w], "m", vec![]);
    net.node("Add", "mm_bias", &["m", &bias], "y", vec![]);
    net.move_to_constant_node("mm.weight", false);
    net.value_info("p", &[4, 2, 2]);
    net.value_info("f", &[16]);
    let model = net.finish("y", &[3]);
    let mut conv = group("conv", 4);
    conv.slices = conv_rows("conv", true);
    conv.slices
        .push(slice("gemm.B", 0, 0, 4, Role::Consumer, "gemm"));
    conv.edits = vec![Edit::ShapeEntry {
        tensor: "flat_shape".into(),
        index: 1,
        block: 4,
        node: "flatten".into(),
    }];
    conv.producers = vec!["conv".into()];
    conv.consumers = vec!["gemm".into()];
    conv.values = vec![
        carrier("c", 0, 1),
        carrier("r0", 0, 1),
        carrier("p", 0, 1),
        carrier("f", 0, 4),
    ];
    let mut gemm = group("gemm", 10);
    gemm.slices = vec![
        slice("gemm.B", 1, 0, 1, Role::Producer, "gemm"),
        slice("gemm.C", 0, 0, 1, Role::Producer, "gemm"),
        slice("mm.weight", 0, 0, 1, Role::Consumer, "mm"),
    ];
    gemm.producers = vec!["gemm".into()];
    gemm.consumers = vec!["mm".into()];
    gemm.values = vec![carrier("g", 0, 1), carrier("r1", 0, 1)];
    let mut mm = group("mm", 3);
    mm.slices = vec![
        slice("mm.weight", 1, 0, 1, Role::Producer, "mm"),
        slice("mm.bias", 0, 0, 1, Role::PerChannel, "mm_bias"),
    ];
    mm.producers = vec!["mm".into()];
    mm.unprunable = Some("graph output y carries its channels".into());
    (model, vec![conv, gemm, mm])
}

/// x[3,8,8] → c1 (8, 1×1) → relu → dw (depthwise 3×3) → relu → pw (4, 1×1, no bias) → y.
pub fn depthwise() -> (Model, Vec<ChannelGroup>) {
    let mut net = Net::new("x", &[3, 8, 8], 5);
    net.conv("c1", "x", "a", (3, 8), 1, 1, true);
    net.node("Relu", "relu1", &["a"], "r1", vec![]);
    net.conv("dw", "r1", "d", (8, 8), 3, 8, true);
    net.node("Relu", "relu2", &["d"], "r2", vec![]);
    net.conv("pw", "r2", "y", (8, 4), 1, 1, false);
    net.value_info("d", &[8, 8, 8]);
    let model = net.finish("y", &[4, 8, 8]);
    let mut g = group("c1", 8);
    g.slices = conv_rows("c1", true);
    g.slices.extend([
        slice("dw.weight", 0, 0, 1, Role::PerChannel, "dw"),
        slice("dw.bias", 0, 0, 1, Role::PerChannel, "dw"),
        slice("pw.weight", 1, 0, 1, Role::Consumer, "pw"),
    ]);
    g.edits = vec![Edit::ConvGroups { node: "dw".into() }];
    g.producers = vec!["c1".into()];
    g.consumers = vec!["pw".into()];
    g.values = ["a", "r1", "d", "r2"]
        .iter()
        .map(|v| carrier(v, 0, 1))
        .collect();
    (model, vec![g])
}

/// The digits CNN's groups: conv1 (8, through bn1 into conv2), conv2 (16, through bn2 and a
/// Flatten of 2×2 into fc1's 64 features), fc1 (32 units, fc2's inputs), fc2 (the output's).
pub fn digits_groups() -> Vec<ChannelGroup> {
    let mut conv1 = group("/conv1/Conv", 8);
    conv1.slices = conv_rows("conv1", true)
        .into_iter()
        .map(|s| Slice {
            node: "/conv1/Conv".into(),
            ..s
        })
        .collect();
    conv1
        .slices
        .extend(bn_slices("/bn1/BatchNormalization", "bn1", TORCH_BN));
    conv1.slices.push(slice(
        "conv2.weight",
        1,
        0,
        1,
        Role::Consumer,
        "/conv2/Conv",
    ));
    conv1.producers = vec!["/conv1/Conv".into()];
    conv1.consumers = vec!["/conv2/Conv".into()];
    conv1.values = [
        "/conv1/Conv_output_0",
        "/bn1/BatchNormalization_output_0",
        "/relu1/Relu_output_0",
        "/pool1/MaxPool_output_0",
    ]
    .iter()
    .map(|v| carrier(v, 0, 1))
    .collect();
    let mut conv2 = group("/conv2/Conv", 16);
    conv2.slices = vec![slice(
        "conv2.weight",
        0,
        0,
        1,
        Role::Producer,
        "/conv2/Conv",
    )];
    conv2
        .slices
        .extend(bn_slices("/bn2/BatchNormalization", "bn2", TORCH_BN));
    conv2
        .slices
        .push(slice("fc1.weight", 1, 0, 4, Role::Consumer, "/fc1/Gemm"));
    conv2.producers = vec!["/conv2/Conv".into()];
    conv2.consumers = vec!["/fc1/Gemm".into()];
    conv2.values = [
        "/conv2/Conv_output_0",
        "/bn2/BatchNormalization_output_0",
        "/relu2/Relu_output_0",
        "/pool2/MaxPool_output_0",
    ]
    .iter()
    .map(|v| carrier(v, 0, 1))
    .chain([carrier("/Flatten_output_0", 0, 4)])
    .collect();
    let mut fc1 = group("/fc1/Gemm", 32);
    fc1.slices = vec![
        slice("fc1.weight", 0, 0, 1, Role::Producer, "/fc1/Gemm"),
        slice("fc1.bias", 0, 0, 1, Role::Producer, "/fc1/Gemm"),
        slice("fc2.weight", 1, 0, 1, Role::Consumer, "/fc2/Gemm"),
    ];
    fc1.producers = vec!["/fc1/Gemm".into()];
    fc1.consumers = vec!["/fc2/Gemm".into()];
    fc1.values = vec![
        carrier("/fc1/Gemm_output_0", 0, 1),
        carrier("/relu3/Relu_output_0", 0, 1),
    ];
    let mut fc2 = group("/fc2/Gemm", 10);
    fc2.slices = vec![
        slice("fc2.weight", 0, 0, 1, Role::Producer, "/fc2/Gemm"),
        slice("fc2.bias", 0, 0, 1, Role::Producer, "/fc2/Gemm"),
    ];
    fc2.producers = vec!["/fc2/Gemm".into()];
    fc2.values = vec![carrier("logits", 0, 1)];
    fc2.unprunable = Some("graph output logits carries its channels".into());
    vec![conv1, conv2, fc1, fc2]
}

/// Every hand-built fixture with its groups.
pub fn all() -> Vec<(&'static str, Model, Vec<ChannelGroup>)> {
    let named = |name, (m, g)| (name, m, g);
    vec![
        named("chain", chain()),
        named("residual", residual()),
        named("concat", concat()),
        named("reshape_gemm", reshape_gemm()),
        named("depthwise", depthwise()),
    ]
}

/// Seeded samples for a fixture's one input.
pub fn samples(model: &Model, n: usize, seed: u64) -> Dataset {
    let input = &model.graph().input[0];
    let Some(type_proto::Value::TensorType(t)) =
        input.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        unreachable!("fixtures declare their input");
    };
    let mut shape = vec![n];
    shape.extend(
        t.shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .skip(1)
            .map(|d| match d.value {
                Some(Dim::DimValue(v)) => v as usize,
                _ => 1,
            }),
    );
    let mut rng = SplitMix64(seed);
    let array = ArrayD::from_shape_fn(shape, |_| rng.unit() * 2.0 - 0.5);
    Dataset {
        inputs: vec![(input.name().to_string(), InputArray::F32(array))],
        labels: None,
        samples: n,
        source: "generated".into(),
    }
}

/// The model's first output on every sample, batch by batch.
pub fn run(proto: &ModelProto, data: &Dataset) -> Vec<ArrayD<f32>> {
    let mut session = ModelSession::from_proto(proto, &SessionOptions { threads: Some(1) })
        .unwrap_or_else(|e| panic!("ONNX Runtime refused the model: {e}"));
    data.batches(64)
        .iter()
        .map(|b| session.run(&b.inputs).unwrap().remove(0).1)
        .collect()
}

/// The largest absolute difference between two runs' outputs, and the first's largest value.
pub fn max_difference(a: &[ArrayD<f32>], b: &[ArrayD<f32>]) -> (f32, f32) {
    let mut diff = 0f32;
    let mut scale = 0f32;
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.shape(), y.shape());
        for (p, q) in x.iter().zip(y) {
            diff = diff.max((p - q).abs());
            scale = scale.max(p.abs());
        }
    }
    (diff, scale)
}

/// Sets every producer and per-channel slice of `channels` of `group` to zero, so that those
/// channels carry nothing to the consumers.
pub fn silence(model: &mut Model, group: &ChannelGroup, channels: &[usize]) {
    let graph = model.proto.graph.as_mut().unwrap();
    for s in group.slices.iter().filter(|s| s.role != Role::Consumer) {
        let index = GraphIndex::new(graph);
        let w = index.weight(&s.tensor).unwrap();
        let (home, dims) = (w.home, w.tensor.dims.clone());
        let mut values = to_f32(w.tensor).unwrap();
        drop(index);
        let len = dims[s.axis] as usize;
        let inner: usize = dims[s.axis + 1..].iter().product::<i64>() as usize;
        for (i, v) in values.iter_mut().enumerate() {
            let at = i / inner % len;
            if channels
                .iter()
                .any(|&c| (s.offset + c * s.block..s.offset + (c + 1) * s.block).contains(&at))
            {
                *v = 0.0;
            }
        }
        weight::write_f32(graph, home, &values);
    }
}

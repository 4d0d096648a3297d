//! Static quantization as QDQ: a QuantizeLinear/DequantizeLinear pair on each activation the
//! integer kernels read or write, and int8 weights behind a DequantizeLinear. The float model is
//! kept as the pairs' meaning; ONNX Runtime fuses `DQ → Conv → Q` (and Gemm, MatMul, Add) into its
//! integer kernels, and any other runtime can still run the model as written.

use std::collections::{HashMap, HashSet};

use super::build::{self, Names};
use super::scale::{
    ActivationParams, ChannelLayout, quantize_activation, quantize_bias, quantize_weight,
    weight_scales,
};
use super::targets::Target;
use crate::analysis::graph::{GraphIndex, is_default_domain};
use crate::error::{Error, Result};
use crate::model::onnx::{GraphProto, ModelProto, NodeProto, TensorProto, data_type as dt};
use crate::model::tensor;

/// An activation that gets a Q/DQ pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Activation {
    /// The value its consumers read (and whose range calibration measures).
    pub name: String,
    /// The value the QuantizeLinear reads: `name`, or the input of a ReLU folded into the pair.
    pub source: String,
    /// The ReLU node the pair replaces: a uint8 range that starts at 0 clips negatives already.
    pub folded_relu: Option<usize>,
}

/// Element-wise operators whose float output gets a pair of its own (`Around::Everything`).
const ELEMENTWISE: [&str; 2] = ["Add", "Mul"];

/// Which activations get a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Around {
    /// The targets' inputs and outputs and the residual Adds that read them: one layer's
    /// neighbourhood (what the sensitivity profile quantizes to measure one layer alone).
    Targets,
    /// Those, and the output of every Add and Mul that reads an activation. Each pair holds its
    /// value to the calibrated range, which keeps the rounding error of the layers before it
    /// from growing through chains of element-wise arithmetic (the scale-and-shift after each
    /// Conv, HardSwish, LayerNorm, attention's scaling): on PP-OCRv4's recognizer the output
    /// error against float falls from 0.067 to 0.044 (normalized MSE; docs/benchmarks.md,
    /// "int8 on real trained OCR models"). ONNX Runtime's own quantizer does the same.
    Everything,
}

/// The activations around the targets (their inputs and outputs), around each Add of two
/// activations that reads a target's output (so residual additions run in int8 too), and with
/// `Around::Everything` the outputs of every element-wise Add and Mul that reads an activation.
pub fn activations(graph: &GraphProto, targets: &[Target], around: Around) -> Vec<Activation> {
    let graph_outputs: HashSet<&str> = graph.output.iter().map(|o| o.name()).collect();
    let index = GraphIndex::new(graph);
    // Constants (initializers, `Constant` nodes of any value, either behind `Identity` nodes)
    // are not activations.
    let is_activation = |v: &str| {
        !v.is_empty()
            && index.weight(v).is_none()
            && index.producer(v).is_none_or(|n| n.op_type() != "Constant")
    };

    // (node, inputs it reads quantized)
    let mut quantized_nodes: Vec<(usize, Vec<String>)> = targets
        .iter()
        .map(|t| {
            let input = graph.node[t.node].input[t.activation_input].clone();
            (t.node, vec![input])
        })
        .collect();
    // Adds that read a target's output (directly or through the ReLU after it).
    let target_outputs: HashSet<&str> = targets
        .iter()
        .filter_map(|t| graph.node[t.node].output.first())
        .flat_map(|out| {
            let relu_out = index
                .consumers(out)
                .map(|c| &graph.node[c])
                .filter(|n| n.op_type() == "Relu")
                .filter_map(|n| n.output.first().map(String::as_str));
            std::iter::once(out.as_str())
                .chain(relu_out)
                .collect::<Vec<_>>()
        })
        .collect();
    for (i, node) in graph.node.iter().enumerate() {
        if node.op_type() == "Add"
            && is_default_domain(node)
            && node.input.len() == 2
            && node.input.iter().all(|v| is_activation(v))
            && node
                .input
                .iter()
                .any(|v| target_outputs.contains(v.as_str()))
        {
            quantized_nodes.push((i, node.input.clone()));
        }
    }

    // A ReLU that is the only reader of a quantized node's output folds into the output's pair.
    let folds = |value: &str| -> Option<(usize, String)> {
        let readers: Vec<usize> = index.consumers(value).collect();
        let &[relu] = readers.as_slice() else {
            return None;
        };
        let node = &graph.node[relu];
        let out = node.output.first()?;
        let subgraph_reads = index.read_in_subgraph(out);
        (node.op_type() == "Relu"
            && is_default_domain(node)
            && !graph_outputs.contains(value)
            && !graph_outputs.contains(out.as_str())
            && !subgraph_reads)
            .then(|| (relu, out.clone()))
    };
    // One pair per activation; where an input was added before its ReLU was found to fold, the
    // folded one (the pair then starts at the layer's output) replaces it.
    let mut by_name: Vec<Activation> = Vec::new();
    let mut add = |a: Activation| match by_name.iter_mut().find(|b| b.name == a.name) {
        Some(b) if a.folded_relu.is_some() => *b = a,
        Some(_) => {}
        None => by_name.push(a),
    };
    for (node, inputs) in &quantized_nodes {
        for input in inputs.iter().filter(|v| is_activation(v)) {
            add(Activation {
                name: input.clone(),
                source: input.clone(),
                folded_relu: None,
            });
        }
        let Some(out) = graph.node[*node].output.first() else {
            continue;
        };
        if index.reads_of(out).is_empty() {
            continue;
        }
        match folds(out) {
            Some((relu, relu_out)) => add(Activation {
                name: relu_out,
                source: out.clone(),
                folded_relu: Some(relu),
            }),
            None => add(Activation {
                name: out.clone(),
                source: out.clone(),
                folded_relu: None,
            }),
        }
    }
    // The output of the Clip or ReLU that is the only reader of `value`, where it can be paired.
    let clipped_by = |value: &str| -> Option<String> {
        let readers: Vec<usize> = index.consumers(value).collect();
        let &[reader] = readers.as_slice() else {
            return None;
        };
        let node = &graph.node[reader];
        let out = node.output.first()?;
        (matches!(node.op_type(), "Clip" | "Relu")
            && is_default_domain(node)
            && !graph_outputs.contains(value)
            && !graph_outputs.contains(out.as_str())
            && !index.read_in_subgraph(out)
            && !index.reads_of(out).is_empty())
        .then(|| out.clone())
    };
    if around == Around::Everything {
        for node in &graph.node {
            let Some(out) = node.output.first() else {
                continue;
            };
            let elementwise = ELEMENTWISE.contains(&node.op_type()) && is_default_domain(node);
            // Graph outputs stay exact; a value already paired (or a ReLU pair's source) keeps
            // its pair. Pairs on values that turn out not to be float are dropped at calibration.
            if !elementwise
                || !node.input.iter().any(|v| is_activation(v))
                || graph_outputs.contains(out.as_str())
                || index.read_in_subgraph(out)
                || index.reads_of(out).is_empty()
                || by_name.iter().any(|a| &a.name == out || &a.source == out)
            {
                continue;
            }
            // A Clip or ReLU that alone reads the value narrows it: the pair goes after it, so
            // its range is the clipped one (HardSwish's `Clip(x + 3, 0, 6)`: 0..6, not x's).
            let value = clipped_by(out).unwrap_or_else(|| out.clone());
            if by_name.iter().any(|a| a.name == value || a.source == value) {
                continue;
            }
            by_name.push(Activation {
                name: value.clone(),
                source: value,
                folded_relu: None,
            });
        }
    }
    by_name
}

/// What the rewrite did to each target.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewritten {
    pub name: String,
    /// Weight scales were per channel (else per tensor).
    pub per_channel: bool,
    /// The bias became int32 (else it stays float).
    pub int_bias: bool,
}

/// Rewrites `proto` in place: a Q/DQ pair per activation with its calibrated `params`, int8
/// weights per target. Activations missing from `params` (not float, never seen) stay float.
pub fn rewrite(
    proto: &mut ModelProto,
    targets: &[Target],
    activations: &[Activation],
    params: &HashMap<String, ActivationParams>,
    per_channel: bool,
) -> Result<Vec<Rewritten>> {
    let no_graph = || Error::Usage("the model has no graph to quantize.".into());
    // Pairs placed after the node that produces their source; graph inputs' pairs go first.
    let producers: Vec<Option<usize>> = {
        let index = GraphIndex::new(proto.graph.as_ref().ok_or_else(no_graph)?);
        activations
            .iter()
            .map(|a| index.producer_index(&a.source))
            .collect()
    };
    let graph = proto.graph.as_mut().ok_or_else(no_graph)?;
    let mut names = Names::of(graph);
    let mut new_initializers = Vec::new();
    let mut after: HashMap<Option<usize>, Vec<NodeProto>> = HashMap::new();
    let mut renamed: HashMap<String, String> = HashMap::new();
    let mut removed: HashSet<usize> = HashSet::new();
    for (a, &producer) in activations.iter().zip(&producers) {
        let Some(p) = params.get(&a.name) else {
            continue;
        };
        let scale = names.fresh(&a.name, "scale");
        let zero_point = names.fresh(&a.name, "zero_point");
        let quantized = names.fresh(&a.name, "quantized");
        let dequantized = names.fresh(&a.name, "dequantized");
        new_initializers.push(build::f32_tensor(scale.clone(), Vec::new(), &[p.scale]));
        new_initializers.push(build::u8_tensor(
            zero_point.clone(),
            Vec::new(),
            &[p.zero_point],
        ));
        let q = build::node(
            "QuantizeLinear",
            names.fresh(&a.name, "QuantizeLinear"),
            vec![a.source.clone(), scale.clone(), zero_point.clone()],
            vec![quantized.clone()],
        );
        let dq = build::node(
            "DequantizeLinear",
            names.fresh(&a.name, "DequantizeLinear"),
            vec![quantized, scale, zero_point],
            vec![dequantized.clone()],
        );
        after.entry(producer).or_default().extend([q, dq]);
        renamed.insert(a.name.clone(), dequantized);
        if let Some(relu) = a.folded_relu {
            removed.insert(relu);
        }
    }

    // Nothing below changes the graph until every target is read.
    let index = GraphIndex::new(graph);
    let mut weight_nodes = Vec::new();
    let mut node_inputs: HashMap<(usize, usize), String> = HashMap::new();
    let mut done_weights: HashMap<String, (String, Vec<f32>)> = HashMap::new();
    let mut report = Vec::new();
    for t in targets {
        let node = &graph.node[t.node];
        let layout = t
            .channel_axis
            .filter(|_| per_channel)
            .and_then(|axis| ChannelLayout::along(&t.weight_dims, axis))
            .unwrap_or(ChannelLayout::PER_TENSOR);
        let (dequantized, scales) = match done_weights.get(&t.weight) {
            Some(done) => done.clone(),
            None => {
                let values = t.weight_values(graph)?;
                let scales = weight_scales(&values, layout);
                let q = quantize_weight(&values, layout, &scales);
                let dq = dequantize_node(
                    &mut names,
                    &mut new_initializers,
                    &t.weight,
                    Integers::I8(q, t.weight_dims.clone()),
                    &scales,
                    t.channel_axis,
                );
                let out = dq.output[0].clone();
                weight_nodes.push(dq);
                done_weights.insert(t.weight.clone(), (out.clone(), scales.clone()));
                (out, scales)
            }
        };
        node_inputs.insert((t.node, t.weight_input), dequantized);

        // The bias becomes int32 where the input's scale is known and it is one value per channel.
        let input_scale = params.get(&node.input[t.activation_input]).map(|p| p.scale);
        let channels = t
            .channel_axis
            .and_then(|axis| t.weight_dims.get(axis))
            .copied();
        let bias = t
            .bias_input
            .and_then(|i| node.input.get(i))
            .and_then(|b| index.weight(b))
            .map(|b| b.tensor)
            .filter(|b| {
                b.data_type() == dt::FLOAT && b.dims.len() == 1 && Some(b.dims[0]) == channels
            });
        let mut int_bias = false;
        if let (Some(bias), Some(s_in), Some(i)) = (bias, input_scale, t.bias_input)
            && let Some(values) = tensor::to_f32(bias)
        {
            let (q, bias_scales) = quantize_bias(&values, s_in, &scales);
            let name = node.input[i].clone();
            let dq = dequantize_node(
                &mut names,
                &mut new_initializers,
                &name,
                Integers::I32(q, bias.dims.clone()),
                &bias_scales,
                Some(0),
            );
            node_inputs.insert((t.node, i), dq.output[0].clone());
            weight_nodes.push(dq);
            int_bias = true;
        }
        report.push(Rewritten {
            name: t.name.clone(),
            per_channel: scales.len() > 1,
            int_bias,
        });
    }

    // The constant operand of a paired Add or Mul (a scale-and-shift's vector, HardSwish's 3)
    // becomes uint8 too, so that ONNX Runtime runs the node as QLinearAdd / QLinearMul instead
    // of float arithmetic between a DequantizeLinear and a QuantizeLinear.
    let paired_sources: HashSet<&str> = activations
        .iter()
        .filter(|a| params.contains_key(&a.name))
        .map(|a| a.source.as_str())
        .collect();
    for (i, node) in graph.node.iter().enumerate() {
        let paired_output = node
            .output
            .first()
            .is_some_and(|o| paired_sources.contains(o.as_str()));
        if !(ELEMENTWISE.contains(&node.op_type()) && is_default_domain(node) && paired_output) {
            continue;
        }
        let constant = |v: &str| index.weight(v).map(|w| w.tensor);
        let others_paired = node
            .input
            .iter()
            .filter(|v| constant(v).is_none())
            .all(|v| renamed.contains_key(v.as_str()));
        if !others_paired {
            continue;
        }
        for (j, input) in node.input.iter().enumerate() {
            let Some(tensor) = constant(input).filter(|t| t.data_type() == dt::FLOAT) else {
                continue;
            };
            let Some(values) = tensor::to_f32(tensor) else {
                continue;
            };
            let (lo, hi) = values
                .iter()
                .fold((0.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            let p = ActivationParams::of_range(lo, hi);
            let quantized = build::u8_tensor(
                names.fresh(input, "quantized"),
                tensor.dims.clone(),
                &quantize_activation(&values, p),
            );
            let scale = build::f32_tensor(names.fresh(input, "scale"), Vec::new(), &[p.scale]);
            let zero_point = build::u8_tensor(
                names.fresh(input, "zero_point"),
                Vec::new(),
                &[p.zero_point],
            );
            let dq = build::node(
                "DequantizeLinear",
                names.fresh(input, "DequantizeLinear"),
                vec![
                    quantized.name().to_string(),
                    scale.name().to_string(),
                    zero_point.name().to_string(),
                ],
                vec![names.fresh(input, "dequantized")],
            );
            node_inputs.insert((i, j), dq.output[0].clone());
            weight_nodes.push(dq);
            new_initializers.extend([quantized, scale, zero_point]);
        }
    }

    let old_nodes = std::mem::take(&mut graph.node);
    let mut nodes = weight_nodes;
    nodes.extend(after.remove(&None).unwrap_or_default());
    for (i, mut node) in old_nodes.into_iter().enumerate() {
        if removed.contains(&i) {
            continue;
        }
        for (j, input) in node.input.iter_mut().enumerate() {
            if let Some(new) = node_inputs.get(&(i, j)) {
                *input = new.clone();
            } else if let Some(new) = renamed.get(input.as_str()) {
                *input = new.clone();
            }
        }
        nodes.push(node);
        nodes.extend(after.remove(&Some(i)).unwrap_or_default());
    }
    graph.node = nodes;
    graph.initializer.extend(new_initializers);
    drop_unread(graph);
    Ok(report)
}

/// Integer values and their dims: int8 weights, int32 biases.
enum Integers {
    I8(Vec<i8>, Vec<i64>),
    I32(Vec<i32>, Vec<i64>),
}

/// A DequantizeLinear of `values` with `scales` (a scalar, or one per channel along `axis`) and
/// zero points of 0, its initializers added to `initializers`.
fn dequantize_node(
    names: &mut Names,
    initializers: &mut Vec<TensorProto>,
    base: &str,
    values: Integers,
    scales: &[f32],
    axis: Option<usize>,
) -> NodeProto {
    let zp_dims = build::scale_dims(scales.len());
    let zeros = scales.len();
    let (quantized, zero_point) = match values {
        Integers::I8(v, dims) => (
            build::i8_tensor(names.fresh(base, "quantized"), dims, &v),
            build::i8_tensor(names.fresh(base, "zero_point"), zp_dims, &vec![0; zeros]),
        ),
        Integers::I32(v, dims) => (
            build::i32_tensor(names.fresh(base, "quantized"), dims, &v),
            build::i32_tensor(names.fresh(base, "zero_point"), zp_dims, &vec![0; zeros]),
        ),
    };
    let scale = build::f32_tensor(
        names.fresh(base, "scale"),
        build::scale_dims(scales.len()),
        scales,
    );
    let mut node = build::node(
        "DequantizeLinear",
        names.fresh(base, "DequantizeLinear"),
        vec![
            quantized.name().to_string(),
            scale.name().to_string(),
            zero_point.name().to_string(),
        ],
        vec![names.fresh(base, "dequantized")],
    );
    if let Some(axis) = axis.filter(|_| scales.len() > 1) {
        node.attribute
            .push(build::int_attribute("axis", axis as i64));
    }
    initializers.extend([quantized, scale, zero_point]);
    node
}

/// Drops the float initializers (and value infos) nothing reads any more: the weights and biases
/// now stored as integers, the outputs of folded ReLUs; and the `Constant` and `Identity` nodes
/// whose outputs nothing reads (a weight's `Identity` chain once its layer reads the weight
/// directly).
pub(super) fn drop_unread(graph: &mut GraphProto) {
    super::constants::drop_unread_nodes(graph);
    let dropped: HashSet<String> = {
        let index = GraphIndex::new(graph);
        let outputs: HashSet<&str> = graph.output.iter().map(|o| o.name()).collect();
        graph
            .initializer
            .iter()
            .map(|t| t.name())
            .filter(|n| index.reads_of(n).is_empty() && !outputs.contains(n))
            .map(str::to_string)
            .collect()
    };
    let produced: HashSet<String> = graph.node.iter().flat_map(|n| n.output.clone()).collect();
    graph.initializer.retain(|t| !dropped.contains(t.name()));
    // Old models list initializers among the inputs too; a dropped one goes from both.
    graph.input.retain(|i| !dropped.contains(i.name()));
    graph.value_info.retain(|v| produced.contains(v.name()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::graph::Home;
    use crate::model::onnx::ValueInfoProto;

    /// `x → Conv → y`, then HardSwish's arithmetic `m = y · Clip(y + 3, 0, 6)` and an affine
    /// `s = m · k`, read by a second Conv whose output is the graph's.
    fn hardswish_between_two_convs() -> (GraphProto, Vec<Target>) {
        let node = |op: &str, inputs: &[&str], out: &str| {
            build::node(
                op,
                format!("{op}_{out}"),
                inputs.iter().map(|s| s.to_string()).collect(),
                vec![out.to_string()],
            )
        };
        let scalar = |name: &str, v: f32| build::f32_tensor(name.into(), Vec::new(), &[v]);
        let graph = GraphProto {
            input: vec![ValueInfoProto {
                name: Some("x".into()),
                ..Default::default()
            }],
            output: vec![ValueInfoProto {
                name: Some("out".into()),
                ..Default::default()
            }],
            initializer: vec![
                build::f32_tensor("w1".into(), vec![1, 1, 1, 1], &[1.0]),
                build::f32_tensor("w2".into(), vec![1, 1, 1, 1], &[1.0]),
                scalar("three", 3.0),
                scalar("zero", 0.0),
                scalar("six", 6.0),
                scalar("k", 0.5),
            ],
            node: vec![
                node("Conv", &["x", "w1"], "y"),
                node("Add", &["y", "three"], "a"),
                node("Clip", &["a", "zero", "six"], "c"),
                node("Mul", &["y", "c"], "m"),
                node("Mul", &["m", "k"], "s"),
                node("Conv", &["s", "w2"], "out"),
            ],
            ..Default::default()
        };
        let target = |node: usize, weight: &str, home: usize| Target {
            name: graph.node[node].output[0].clone(),
            op_type: "Conv".into(),
            node,
            weight: weight.into(),
            weight_input: 1,
            weight_home: Home::Initializer(home),
            weight_dims: vec![1, 1, 1, 1],
            activation_input: 0,
            channel_axis: Some(0),
            bias_input: None,
            transposed_weight: false,
        };
        let targets = vec![target(0, "w1", 0), target(5, "w2", 1)];
        (graph, targets)
    }

    fn names(activations: &[Activation]) -> Vec<&str> {
        activations.iter().map(|a| a.name.as_str()).collect()
    }

    #[test]
    fn element_wise_outputs_get_pairs_after_the_clip_that_narrows_them() {
        let (graph, targets) = hardswish_between_two_convs();
        let around_targets = activations(&graph, &targets, Around::Targets);
        assert_eq!(names(&around_targets), ["x", "y", "s"]);
        // Without pairs on the arithmetic between the layers, their rounding errors grow through
        // it unchecked (PP-OCRv4 read worse than onnxruntime's int8 for this); the Add read only
        // by the Clip is paired after the Clip, on 0..6, not on its own wider range.
        let everything = activations(&graph, &targets, Around::Everything);
        assert_eq!(names(&everything), ["x", "y", "s", "c", "m"]);
        assert!(everything.iter().all(|a| a.name == a.source));
        // The graph's output stays exact.
        assert!(!names(&everything).contains(&"out"));
    }
}

//! Folding each BatchNormalization into the Conv before it, ahead of static quantization.
//!
//! ONNX Runtime folds them itself when it optimizes a float model, but a Q/DQ pair between the
//! Conv and its BatchNormalization would stop that: the int8 kernel would then compute the
//! unnormalized output, whose range is not the one that matters, and the BatchNormalization would
//! stay a float op. Folded first, the int8 weight already holds the normalization.

use super::build::{self, Names};
use crate::analysis::graph::{GraphIndex, Home, is_default_domain};
use crate::model::onnx::{GraphProto, data_type as dt};
use crate::model::tensor;
use crate::model::{attr, weight};

/// The (Conv, BatchNormalization) node pairs that can be folded: the BatchNormalization reads a
/// Conv's only output, which nothing else reads, and has the Conv's weight and bias to itself.
fn pairs(index: &GraphIndex) -> Vec<(usize, usize)> {
    let graph = index.graph;
    let outputs: Vec<String> = graph.output.iter().map(|o| o.name().to_string()).collect();
    let mut folded: Vec<(usize, usize)> = Vec::new();
    for (bn, node) in graph.node.iter().enumerate() {
        if node.op_type() != "BatchNormalization"
            || !is_default_domain(node)
            || node.output.iter().filter(|o| !o.is_empty()).count() != 1
            || node.input.len() != 5
        {
            continue;
        }
        let Some(conv) = index.producer_index(&node.input[0]) else {
            continue;
        };
        // Its readers will read the Conv instead: each must name it as an input, not read it
        // from inside a subgraph, and it cannot be a model output.
        let out = node.output[0].as_str();
        if outputs.iter().any(|o| o == out) || index.read_in_subgraph(out) {
            continue;
        }
        let c = &graph.node[conv];
        let only_reader = |v: &str| index.reads_of(v).len() == 1;
        if c.op_type() != "Conv"
            || !is_default_domain(c)
            || c.output.first() != Some(&node.input[0])
            || !only_reader(&c.output[0])
            || outputs.contains(&c.output[0])
            || !c.input.iter().skip(1).all(|v| only_reader(v))
            || c.output.len() != 1
        {
            continue;
        }
        folded.push((conv, bn));
    }
    folded
}

/// One fold, read from the graph before anything is written.
struct Fold {
    conv: usize,
    bn: usize,
    /// The Conv's weight (where it is stored, its values) and its bias, if it has one.
    weight: (Home, Vec<f32>),
    bias: Option<(Home, Vec<f32>)>,
    /// The BatchNormalization's scale, B, mean and var.
    params: [Vec<f32>; 4],
    channels: usize,
}

/// What folding the pair needs, when every tensor is a float32 constant of the right size and
/// the Conv's weight and bias are read by it alone (where they are stored, past any `Identity`).
fn read(index: &GraphIndex, conv: usize, bn: usize) -> Option<Fold> {
    let graph = index.graph;
    let float = |value: &str| {
        index
            .weight(value)
            .filter(|w| w.tensor.data_type() == dt::FLOAT)
    };
    let values = |value: &str| float(value).and_then(|w| tensor::to_f32(w.tensor));
    let own = |value: &str| {
        float(value)
            .filter(|w| index.reads_of(w.name).len() == 1)
            .and_then(|w| Some((w.home, tensor::to_f32(w.tensor)?, w.tensor.dims.clone())))
    };
    let bn_node = &graph.node[bn];
    let conv_node = &graph.node[conv];
    let params: [Vec<f32>; 4] = [
        values(&bn_node.input[1])?,
        values(&bn_node.input[2])?,
        values(&bn_node.input[3])?,
        values(&bn_node.input[4])?,
    ];
    let (w_home, w, w_dims) = own(conv_node.input.get(1)?)?;
    let channels = w_dims.first().copied().unwrap_or(0) as usize;
    if channels == 0 || params.iter().any(|p| p.len() != channels) {
        return None;
    }
    let bias = match conv_node.input.get(2).filter(|b| !b.is_empty()) {
        Some(b) => match own(b)? {
            (home, values, _) if values.len() == channels => Some((home, values)),
            _ => return None,
        },
        None => None,
    };
    Some(Fold {
        conv,
        bn,
        weight: (w_home, w),
        bias,
        params,
        channels,
    })
}

/// Folds every Conv → BatchNormalization pair it safely can; returns how many. The weight and
/// bias are written back where they are stored (`model::weight::write_f32`); a Conv without a
/// bias gets a new initializer.
pub fn batch_norms(graph: &mut GraphProto) -> usize {
    let folds: Vec<Fold> = {
        let index = GraphIndex::new(graph);
        pairs(&index)
            .into_iter()
            .filter_map(|(conv, bn)| read(&index, conv, bn))
            .collect()
    };
    let mut names = Names::of(graph);
    let mut removed = Vec::new();
    for fold in &folds {
        let bn_node = graph.node[fold.bn].clone();
        let conv_node = graph.node[fold.conv].clone();
        let channels = fold.channels;
        let (w_home, mut w) = fold.weight.clone();
        let mut bias = fold
            .bias
            .as_ref()
            .map_or_else(|| vec![0.0; channels], |(_, b)| b.clone());
        let epsilon = attr::float(&bn_node, "epsilon").unwrap_or(1e-5);
        let [gamma, beta, mean, var] = &fold.params;
        let per_channel = w.len() / channels;
        for c in 0..channels {
            let s = gamma[c] / (var[c] + epsilon).sqrt();
            for v in &mut w[c * per_channel..(c + 1) * per_channel] {
                *v *= s;
            }
            bias[c] = (bias[c] - mean[c]) * s + beta[c];
        }
        weight::write_f32(graph, w_home, &w);
        match &fold.bias {
            Some((home, _)) => {
                weight::write_f32(graph, *home, &bias);
            }
            None => {
                let name = names.fresh(&conv_node.input[1], "folded_bias");
                graph.initializer.push(build::f32_tensor(
                    name.clone(),
                    vec![channels as i64],
                    &bias,
                ));
                graph.node[fold.conv].input.resize(2, String::new());
                graph.node[fold.conv].input.push(name);
            }
        }
        // The Conv now writes what the BatchNormalization wrote; its readers read the Conv.
        let (from, to) = (bn_node.output[0].clone(), conv_node.output[0].clone());
        for node in &mut graph.node {
            for input in &mut node.input {
                if *input == from {
                    *input = to.clone();
                }
            }
        }
        removed.push(fold.bn);
    }
    let mut index = 0;
    graph.node.retain(|_| {
        index += 1;
        !removed.contains(&(index - 1))
    });
    super::qdq::drop_unread(graph);
    folds.len()
}

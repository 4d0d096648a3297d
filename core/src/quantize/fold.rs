//! Folding each BatchNormalization into the Conv before it, ahead of static quantization.
//!
//! ONNX Runtime folds them itself when it optimizes a float model, but a Q/DQ pair between the
//! Conv and its BatchNormalization would stop that: the int8 kernel would then compute the
//! unnormalized output, whose range is not the one that matters, and the BatchNormalization would
//! stay a float op. Folded first, the int8 weight already holds the normalization.

use super::build::{self, Names};
use crate::analysis::graph::{GraphIndex, is_default_domain};
use crate::model::attr;
use crate::model::onnx::{GraphProto, data_type as dt};
use crate::model::tensor;

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

/// Folds every Conv → BatchNormalization pair it safely can; returns how many.
pub fn batch_norms(graph: &mut GraphProto) -> usize {
    let folded = pairs(&GraphIndex::new(graph));
    let mut names = Names::of(graph);
    let mut done = 0;
    let mut removed = Vec::new();
    for (conv, bn) in folded {
        let find = |name: &str| {
            graph
                .initializer
                .iter()
                .position(|t| t.name() == name && t.data_type() == dt::FLOAT)
        };
        let bn_node = graph.node[bn].clone();
        let params: Option<Vec<Vec<f32>>> = bn_node.input[1..5]
            .iter()
            .map(|n| find(n).and_then(|i| tensor::to_f32(&graph.initializer[i])))
            .collect();
        let conv_node = graph.node[conv].clone();
        let (Some(params), Some(w_index)) = (params, find(&conv_node.input[1])) else {
            continue;
        };
        let w_dims = graph.initializer[w_index].dims.clone();
        let Some(mut w) = tensor::to_f32(&graph.initializer[w_index]) else {
            continue;
        };
        let channels = w_dims.first().copied().unwrap_or(0) as usize;
        if channels == 0 || params.iter().any(|p| p.len() != channels) {
            continue;
        }
        let bias_index = conv_node
            .input
            .get(2)
            .filter(|b| !b.is_empty())
            .map(|b| find(b));
        let mut bias = match bias_index {
            Some(Some(i)) => match tensor::to_f32(&graph.initializer[i]) {
                Some(b) if b.len() == channels => b,
                _ => continue,
            },
            Some(None) => continue,
            None => vec![0.0; channels],
        };
        let epsilon = attr::float(&bn_node, "epsilon").unwrap_or(1e-5);
        let (gamma, beta, mean, var) = (&params[0], &params[1], &params[2], &params[3]);
        let per_channel = w.len() / channels;
        for c in 0..channels {
            let s = gamma[c] / (var[c] + epsilon).sqrt();
            for v in &mut w[c * per_channel..(c + 1) * per_channel] {
                *v *= s;
            }
            bias[c] = (bias[c] - mean[c]) * s + beta[c];
        }
        let w_name = conv_node.input[1].clone();
        graph.initializer[w_index] = build::f32_tensor(w_name, w_dims, &w);
        let bias_tensor = |name: String| build::f32_tensor(name, vec![channels as i64], &bias);
        match bias_index {
            Some(Some(i)) => {
                let name = graph.initializer[i].name().to_string();
                graph.initializer[i] = bias_tensor(name);
            }
            _ => {
                let name = names.fresh(&conv_node.input[1], "folded_bias");
                graph.initializer.push(bias_tensor(name.clone()));
                graph.node[conv].input.resize(2, String::new());
                graph.node[conv].input.push(name);
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
        removed.push(bn);
        done += 1;
    }
    let mut index = 0;
    graph.node.retain(|_| {
        index += 1;
        !removed.contains(&(index - 1))
    });
    super::qdq::drop_unread(graph);
    done
}

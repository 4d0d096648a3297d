//! Which layers a quantization rewrites, and why the others stay float.

use super::options::QuantMode;
use crate::analysis::Skipped;
use crate::analysis::graph::{GraphIndex, Home};
use crate::model::onnx::{GraphProto, data_type as dt};
use crate::model::{attr, weight};
use crate::{Layer, ModelAnalysis};

/// One Conv, Gemm or MatMul whose weight becomes int8.
#[derive(Debug, Clone)]
pub struct Target {
    /// The layer (its node's first output).
    pub name: String,
    pub op_type: String,
    /// Index of the node in the graph.
    pub node: usize,
    /// The float constant the node reads as its weight (its own name: an initializer's, or a
    /// `Constant` node's output), at which input, and where it is stored in the graph the
    /// targets were found in.
    pub weight: String,
    pub weight_input: usize,
    pub weight_home: Home,
    pub weight_dims: Vec<i64>,
    /// The input that carries the activation.
    pub activation_input: usize,
    /// The weight axis that holds the output channels; `None` where there is none to split on.
    pub channel_axis: Option<usize>,
    /// The input that holds the bias (Conv's B, Gemm's C), if the node has one.
    pub bias_input: Option<usize>,
    /// Gemm with `transB = 1`: the weight is stored `[N, K]`.
    pub transposed_weight: bool,
}

impl Target {
    /// The float values of its weight in `graph` (the graph it was found in, or a copy).
    pub fn weight_values(&self, graph: &GraphProto) -> crate::Result<Vec<f32>> {
        weight::stored(graph, self.weight_home)
            .and_then(|t| crate::model::tensor::to_f32(&t))
            .ok_or_else(|| {
                crate::Error::Usage(format!(
                    "weight '{}' of layer {} has an unreadable payload; export the model again.",
                    self.weight, self.name
                ))
            })
    }
}

/// The layers `mode` rewrites, and every prunable-kind layer it leaves float, with the reason.
pub fn find(
    graph: &GraphProto,
    analysis: &ModelAnalysis,
    ignore: &[String],
    mode: QuantMode,
) -> (Vec<Target>, Vec<Skipped>) {
    let index = GraphIndex::new(graph);
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    for layer in &analysis.layers {
        if !matches!(layer.op_type.as_str(), "Conv" | "Gemm" | "MatMul") {
            continue;
        }
        let skip = |reason: String| Skipped {
            name: layer.name.clone(),
            reason,
        };
        if ignore
            .iter()
            .any(|i| i == &layer.name || i == &layer.node_name)
        {
            skipped.push(skip("it is on the ignore list, so it stays float".into()));
            continue;
        }
        match target(&index, layer, mode) {
            Ok(t) => targets.push(t),
            Err(reason) => skipped.push(skip(reason)),
        }
    }
    (targets, skipped)
}

fn target(index: &GraphIndex, layer: &Layer, mode: QuantMode) -> Result<Target, String> {
    let graph = index.graph;
    let op = layer.op_type.as_str();
    if mode == QuantMode::Dynamic && op == "Conv" {
        return Err(
            "dynamic quantization covers MatMul and Gemm; Conv stays float (quantize statically to include it)"
                .into(),
        );
    }
    if mode == QuantMode::Int4 && op == "Conv" {
        return Err(
            "int4 weight-only quantization covers MatMul and Gemm (MatMulNBits); Conv stays float"
                .into(),
        );
    }
    let Some(weight_input) = layer.weight_input.filter(|_| layer.is_prunable) else {
        return Err(match &layer.not_prunable_reason {
            Some(why) => format!("it has no float32 constant weight to quantize; {why}"),
            None => "it has no float32 constant weight to quantize".into(),
        });
    };
    let node = index
        .node_of(&layer.name)
        .ok_or("its node could not be found in the graph")?;
    let n = &graph.node[node];
    let input = n.input.get(weight_input).map_or("", String::as_str);
    let stored = index.weight(input).ok_or_else(|| {
        format!(
            "its weight '{input}' is computed in the graph, not stored as an initializer or a Constant node"
        )
    })?;
    let weight = stored.name.to_string();
    if stored.tensor.data_type() != dt::FLOAT {
        return Err(format!("its weight '{weight}' is not float32"));
    }
    let dims = stored.tensor.dims.clone();
    let int = |name: &str, default: i64| attr::int(n, name).unwrap_or(default);
    let (activation_input, channel_axis, bias_input, transposed) = match op {
        "Conv" => (0, Some(0), (n.input.len() > 2).then_some(2), false),
        "Gemm" => {
            if int("transA", 0) != 0 {
                return Err(
                    "it is a Gemm with transA = 1, which integer kernels do not take".into(),
                );
            }
            let one = |name: &str| attr::float(n, name).unwrap_or(1.0) == 1.0;
            if !one("alpha") || !one("beta") {
                return Err("it is a Gemm with alpha or beta other than 1".into());
            }
            if weight_input != 1 || dims.len() != 2 {
                return Err("its Gemm weight is not the 2-D second input".into());
            }
            let transposed = int("transB", 0) != 0;
            let axis = if transposed { 0 } else { 1 };
            let bias = (n.input.len() > 2 && !n.input[2].is_empty()).then_some(2);
            (0, Some(axis), bias, transposed)
        }
        _ => {
            let activation = 1 - weight_input.min(1);
            if mode != QuantMode::Static && (weight_input != 1 || dims.len() != 2) {
                return Err(format!(
                    "{} quantization takes MatMuls whose weight is the 2-D right-hand input",
                    mode.name()
                ));
            }
            let axis = (weight_input == 1 && dims.len() == 2).then_some(1);
            (activation, axis, None, false)
        }
    };
    Ok(Target {
        name: layer.name.clone(),
        op_type: op.to_string(),
        node,
        weight,
        weight_input,
        weight_home: stored.home,
        weight_dims: dims,
        activation_input,
        channel_axis,
        bias_input,
        transposed_weight: transposed,
    })
}

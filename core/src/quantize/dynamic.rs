//! Dynamic quantization of MatMul and Gemm: int8 weights stored once, each activation quantized
//! to uint8 at run time from its own range (`DynamicQuantizeLinear`), so there is nothing to
//! calibrate. ONNX Runtime fuses the pattern written here (DynamicQuantizeLinear → MatMulInteger →
//! Cast → Mul) into its `DynamicQuantizeMatMul` kernel.

use std::collections::HashMap;

use super::build::{self, Names};
use super::scale::{ChannelLayout, quantize_weight, weight_scales};
use super::targets::Target;
use crate::error::{Error, Result};
use crate::model::onnx::{ModelProto, NodeProto, data_type as dt};

/// Rewrites each target in place; returns each target's name and whether its weight scales are
/// per column.
pub fn rewrite(
    proto: &mut ModelProto,
    targets: &[Target],
    per_channel: bool,
) -> Result<Vec<(String, bool)>> {
    let graph = proto
        .graph
        .as_mut()
        .ok_or_else(|| Error::Usage("the model has no graph to quantize.".into()))?;
    let mut names = Names::of(graph);
    let mut initializers = Vec::new();
    let mut replacement: HashMap<usize, Vec<NodeProto>> = HashMap::new();
    // One DynamicQuantizeLinear per activation, however many layers read it: (x_q, scale, zp).
    let mut quantized_inputs: HashMap<String, [String; 3]> = HashMap::new();
    let mut per_column = Vec::new();
    // In graph order, so a shared DynamicQuantizeLinear comes before every layer that reads it.
    let mut in_order: Vec<&Target> = targets.iter().collect();
    in_order.sort_by_key(|t| t.node);
    for t in in_order {
        let node = &graph.node[t.node];
        let values = t.weight_values(graph)?;
        // MatMulInteger takes the weight as [K, N]: a Gemm with transB stores it as [N, K].
        let (k, n) = (t.weight_dims[0] as usize, t.weight_dims[1] as usize);
        let (values, k, n) = if t.transposed_weight {
            let mut out = vec![0.0; values.len()];
            for row in 0..k {
                for col in 0..n {
                    out[col * k + row] = values[row * n + col];
                }
            }
            (out, n, k)
        } else {
            (values, k, n)
        };
        let dims = vec![k as i64, n as i64];
        let layout = if per_channel {
            ChannelLayout::along(&dims, 1).unwrap_or(ChannelLayout::PER_TENSOR)
        } else {
            ChannelLayout::PER_TENSOR
        };
        let scales = weight_scales(&values, layout);
        let q = quantize_weight(&values, layout, &scales);
        let w_q = names.fresh(&t.weight, "quantized");
        let w_scale = names.fresh(&t.weight, "scale");
        let w_zp = names.fresh(&t.weight, "zero_point");
        initializers.push(build::i8_tensor(w_q.clone(), dims, &q));
        initializers.push(build::f32_tensor(
            w_scale.clone(),
            build::scale_dims(scales.len()),
            &scales,
        ));
        initializers.push(build::i8_tensor(
            w_zp.clone(),
            build::scale_dims(scales.len()),
            &vec![0; scales.len()],
        ));

        let x = node.input[t.activation_input].clone();
        let mut nodes = Vec::new();
        let [x_q, x_scale, x_zp] = match quantized_inputs.get(&x) {
            Some(q) => q.clone(),
            None => {
                let outs = [
                    names.fresh(&x, "quantized"),
                    names.fresh(&x, "scale"),
                    names.fresh(&x, "zero_point"),
                ];
                nodes.push(build::node(
                    "DynamicQuantizeLinear",
                    names.fresh(&x, "DynamicQuantizeLinear"),
                    vec![x.clone()],
                    outs.to_vec(),
                ));
                quantized_inputs.insert(x.clone(), outs.clone());
                outs
            }
        };
        let base = &t.name;
        let product = names.fresh(base, "int32");
        nodes.push(build::node(
            "MatMulInteger",
            names.fresh(base, "MatMulInteger"),
            vec![x_q, w_q, x_zp, w_zp],
            vec![product.clone()],
        ));
        let as_float = names.fresh(base, "float");
        let mut cast = build::node(
            "Cast",
            names.fresh(base, "Cast"),
            vec![product],
            vec![as_float.clone()],
        );
        cast.attribute
            .push(build::int_attribute("to", i64::from(dt::FLOAT)));
        nodes.push(cast);
        let scale = names.fresh(base, "output_scale");
        nodes.push(build::node(
            "Mul",
            names.fresh(base, "scale_Mul"),
            vec![x_scale, w_scale],
            vec![scale.clone()],
        ));
        let output = node.output[0].clone();
        let bias = t
            .bias_input
            .and_then(|i| node.input.get(i))
            .filter(|b| !b.is_empty())
            .cloned();
        let scaled = if bias.is_some() {
            names.fresh(base, "scaled")
        } else {
            output.clone()
        };
        nodes.push(build::node(
            "Mul",
            names.fresh(base, "Mul"),
            vec![as_float, scale],
            vec![scaled.clone()],
        ));
        if let Some(bias) = bias {
            nodes.push(build::node(
                "Add",
                names.fresh(base, "bias_Add"),
                vec![scaled, bias],
                vec![output],
            ));
        }
        replacement.insert(t.node, nodes);
        per_column.push((t.name.clone(), scales.len() > 1));
    }
    let old = std::mem::take(&mut graph.node);
    for (i, node) in old.into_iter().enumerate() {
        match replacement.remove(&i) {
            Some(nodes) => graph.node.extend(nodes),
            None => graph.node.push(node),
        }
    }
    graph.initializer.extend(initializers);
    super::qdq::drop_unread(graph);
    Ok(per_column)
}

//! Each quantized MatMul or Gemm becomes one `com.microsoft::MatMulNBits` node in its place,
//! reading the packed weight, its scales and (with zero points) its zero points; a Gemm's bias
//! becomes the node's bias input when it is a constant of N values, else an `Add` after it. The
//! float weights nothing reads any more are dropped, and the model imports the `com.microsoft`
//! domain.

use std::collections::HashMap;

use super::pack::PackedTensors;
use crate::analysis::graph::GraphIndex;
use crate::error::{Error, Result};
use crate::model::onnx::{ModelProto, NodeProto, OperatorSetIdProto, TensorProto};
use crate::quantize::build::{self, Names};
use crate::quantize::targets::Target;

/// The domain of ONNX Runtime's contrib operators.
pub const DOMAIN: &str = "com.microsoft";
/// Where MatMulNBits reads its bias (after A, B, scales, zero_points and the deprecated g_idx).
const BIAS_INPUT: usize = 5;

/// Replaces each target whose packed weight `packed` holds (by layer name).
pub fn rewrite(
    proto: &mut ModelProto,
    targets: &[Target],
    packed: &HashMap<String, PackedTensors>,
) -> Result<Vec<String>> {
    let graph = proto
        .graph
        .as_mut()
        .ok_or_else(|| Error::Usage("the model has no graph to quantize.".into()))?;
    let mut names = Names::of(graph);
    let mut initializers = Vec::new();
    let mut replacement: HashMap<usize, Vec<NodeProto>> = HashMap::new();
    let mut done = Vec::new();
    {
        let index = GraphIndex::new(graph);
        for t in targets {
            let Some(p) = packed.get(&t.name) else {
                continue;
            };
            let node = &graph.node[t.node];
            let b = names.fresh(&t.weight, "int4");
            let scales = names.fresh(&t.weight, "int4_scales");
            // Clones share the payloads (reference-counted `Bytes`).
            initializers.push(named(&p.b, &b));
            initializers.push(named(&p.scales, &scales));
            let mut inputs = vec![node.input[t.activation_input].clone(), b, scales];
            if let Some(z) = &p.zero_points {
                let zp = names.fresh(&t.weight, "int4_zero_points");
                initializers.push(named(z, &zp));
                inputs.push(zp);
            }
            let bias = t
                .bias_input
                .and_then(|i| node.input.get(i))
                .filter(|b| !b.is_empty())
                .cloned();
            // A constant bias of N values is the node's own input; any other shape (a row, a
            // whole [M, N] matrix) is added after it, as Gemm broadcasts it.
            let fused_bias = bias.clone().filter(|name| {
                index
                    .weight(name)
                    .is_some_and(|w| w.tensor.dims == [p.n as i64] && w.identities == 0)
            });
            let output = node.output[0].clone();
            let product = match (&bias, &fused_bias) {
                (Some(_), None) => names.fresh(&t.name, "int4_product"),
                _ => output.clone(),
            };
            if let Some(bias) = &fused_bias {
                inputs.resize(BIAS_INPUT, String::new());
                inputs.push(bias.clone());
            }
            let mut nodes = vec![matmul_nbits(
                names.fresh(&t.name, "MatMulNBits"),
                inputs,
                product.clone(),
                p,
            )];
            if let (Some(bias), None) = (bias, fused_bias) {
                nodes.push(build::node(
                    "Add",
                    names.fresh(&t.name, "bias_Add"),
                    vec![product, bias],
                    vec![output],
                ));
            }
            replacement.insert(t.node, nodes);
            done.push(t.name.clone());
        }
    }
    let old = std::mem::take(&mut graph.node);
    for (i, node) in old.into_iter().enumerate() {
        match replacement.remove(&i) {
            Some(nodes) => graph.node.extend(nodes),
            None => graph.node.push(node),
        }
    }
    graph.initializer.extend(initializers);
    crate::quantize::qdq::drop_unread(graph);
    if !done.is_empty() {
        import_domain(proto);
    }
    Ok(done)
}

fn named(tensor: &TensorProto, name: &str) -> TensorProto {
    TensorProto {
        name: Some(name.to_string()),
        ..tensor.clone()
    }
}

fn matmul_nbits(name: String, inputs: Vec<String>, output: String, p: &PackedTensors) -> NodeProto {
    let mut node = build::node("MatMulNBits", name, inputs, vec![output]);
    node.domain = Some(DOMAIN.into());
    node.attribute.extend([
        build::int_attribute("K", p.k as i64),
        build::int_attribute("N", p.n as i64),
        build::int_attribute("bits", 4),
        build::int_attribute("block_size", p.block as i64),
    ]);
    node
}

/// Adds `com.microsoft` version 1 to the model's opset imports unless it is there.
fn import_domain(proto: &mut ModelProto) {
    if !proto.opset_import.iter().any(|o| o.domain() == DOMAIN) {
        proto.opset_import.push(OperatorSetIdProto {
            domain: Some(DOMAIN.into()),
            version: Some(1),
        });
    }
}

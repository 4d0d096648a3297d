//! A one-shot pruned copy of the model: each planned layer's weight zeroed by magnitude to its
//! planned sparsity (SparseML's rounding, `profile::prune`), every other byte of the model kept.

use crate::analysis::graph::GraphIndex;
use crate::error::{Error, Result};
use crate::model::onnx::{ModelProto, data_type as dt};
use crate::model::tensor::to_f32;
use crate::model::{Model, weight};
use crate::optimize::plan::PruningPlan;
use crate::reconstruct::magnitude::prune_smallest_in_place;

/// A copy of `model`'s proto with each planned layer's weight pruned by magnitude to its sparsity
/// and written back where it is stored, an initializer or a `Constant` node (as little-endian
/// float32 `raw_data`, `model::weight::write_f32`), and the sparsity measured on
/// each pruned weight (the fraction of zeros, zeros already there included), in plan order.
/// Layers left dense are untouched and not listed. Save it with `crate::save`.
pub fn pruned_model(model: &Model, plan: &PruningPlan) -> Result<(ModelProto, Vec<(String, f64)>)> {
    let mut proto = model.proto.clone();
    let graph = proto.graph.as_mut().ok_or_else(|| {
        Error::model(
            &model.path,
            "has no graph; export it again from the framework.",
        )
    })?;
    // The copy has the same nodes and initializers as the original, so a weight's home in the
    // original is its home in the copy.
    let index = GraphIndex::new(model.graph());
    let mut measured: Vec<(String, f64)> = Vec::new();
    for layer in &plan.layers {
        let Some(sparsity) = layer.sparsity else {
            continue;
        };
        if measured.iter().any(|(name, _)| name == &layer.weight) {
            continue;
        }
        if !(0.0..=1.0).contains(&sparsity) {
            return Err(Error::Usage(format!(
                "layer {} has sparsity {sparsity} in the plan, outside 0 to 1; fit the optimization again.",
                layer.name
            )));
        }
        let Some(weight) = index.weight(&layer.weight) else {
            return Err(Error::Usage(format!(
                "the plan prunes weight '{}' of layer {}, but the model has no constant of that name (an initializer or a Constant node); fit the optimization again on this model.",
                layer.weight, layer.name
            )));
        };
        let mut values = (weight.tensor.data_type() == dt::FLOAT)
            .then(|| to_f32(weight.tensor))
            .flatten()
            .ok_or_else(|| {
                Error::Usage(format!(
                    "weight '{}' of layer {} is not a float32 tensor with a readable payload, so prunekit cannot prune it; leave the layer dense (`override {} off`).",
                    layer.weight, layer.name, layer.name
                ))
            })?;
        // In place: one copy of the weight in memory while it is pruned (the payload it was read
        // from is mapped, its pages handed back as read), spilled out of the heap when written.
        prune_smallest_in_place(&mut values, sparsity);
        let out = values;
        let zeros = out.iter().filter(|v| **v == 0.0).count();
        let fraction = if out.is_empty() {
            0.0
        } else {
            zeros as f64 / out.len() as f64
        };
        weight::write_f32(graph, weight.home, &out);
        measured.push((layer.weight.clone(), fraction));
    }
    Ok((proto, measured))
}

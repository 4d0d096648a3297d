//! A prunable layer's weight values, read from the model's constants.

use crate::Layer;
use crate::analysis::graph::GraphIndex;
use crate::model::tensor;

/// A layer's weight values (its root initializer or `Constant`, before any view) as f32, from an
/// index of the graph's constants; `None` where the weight is not a float tensor prunekit reads.
pub fn value(index: &GraphIndex, layer: &Layer) -> Option<Vec<f32>> {
    tensor::to_f32(index.constant(&layer.weight.as_ref()?.name)?)
}

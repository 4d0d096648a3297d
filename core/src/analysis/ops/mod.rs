//! Static shape inference, one file per op family, looked up by `op_type`. Each rule maps what is
//! known of a node's inputs to what is known of its outputs; an op without a rule answers `None`
//! and the caller falls back to the model's own `value_info`.
//!
//! All arithmetic on dims is checked: a damaged file may claim any size, and the answer is then
//! "unknown", never an overflow or an allocation of what the file claims.

mod constant;
mod conv;
mod elementwise;
mod layout;
mod linear;
mod reduce;

pub use elementwise::{BROADCAST, COMPARISONS, PER_ELEMENT};
pub use linear::{gemm_dims, matmul};
pub use reduce::REDUCE;

use super::graph::GraphIndex;
use crate::model::onnx::NodeProto;
use crate::model::{attr, tensor};

/// A fully known shape. Free dims were given sizes before inference starts.
pub type Shape = Vec<u64>;

/// The most elements of an integer value we fold (shape arithmetic only needs a handful).
pub const MAX_FOLDED_INTS: u64 = 64;

/// What is known about one value of the graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueFacts {
    /// The ONNX element type (0 when unknown).
    pub data_type: i32,
    pub shape: Option<Shape>,
    /// The value itself, for small integer tensors computed from constants (shape arithmetic).
    pub ints: Option<Vec<i64>>,
}

impl ValueFacts {
    pub fn new(data_type: i32, shape: Option<Shape>) -> Self {
        ValueFacts {
            data_type,
            shape,
            ints: None,
        }
    }

    /// Facts from what a rule worked out: maybe a shape, and with it maybe the folded values.
    pub fn from_parts(data_type: i32, parts: Option<(Shape, Option<Vec<i64>>)>) -> Self {
        match parts {
            Some((shape, Some(ints))) => ValueFacts::with_ints(data_type, shape, ints),
            Some((shape, None)) => ValueFacts::new(data_type, Some(shape)),
            None => ValueFacts::new(data_type, None),
        }
    }

    pub fn with_ints(data_type: i32, shape: Shape, ints: Vec<i64>) -> Self {
        // Only keep values that agree with the shape they claim.
        let agrees = numel(&shape) == Some(ints.len() as u64);
        ValueFacts {
            data_type,
            ints: agrees.then_some(ints),
            shape: Some(shape),
        }
    }
}

/// A node and what is known about its inputs.
pub struct OpContext<'a, 'g> {
    pub node: &'g NodeProto,
    pub opset: i64,
    pub inputs: Vec<Option<&'a ValueFacts>>,
    pub index: &'a GraphIndex<'g>,
}

impl OpContext<'_, '_> {
    pub fn facts(&self, i: usize) -> Option<&ValueFacts> {
        self.inputs.get(i).copied().flatten()
    }

    pub fn shape(&self, i: usize) -> Option<&Shape> {
        self.facts(i).and_then(|f| f.shape.as_ref())
    }

    pub fn data_type(&self, i: usize) -> i32 {
        self.facts(i).map_or(0, |f| f.data_type)
    }

    pub fn ints(&self, i: usize) -> Option<&[i64]> {
        self.facts(i).and_then(|f| f.ints.as_deref())
    }

    pub fn has_input(&self, i: usize) -> bool {
        self.node.input.get(i).is_some_and(|s| !s.is_empty())
    }

    /// A constant float input (Resize scales), read from the graph's constants.
    pub fn const_floats(&self, i: usize) -> Option<Vec<f32>> {
        let name = self.node.input.get(i).filter(|s| !s.is_empty())?;
        let tensor = self.index.constant(name)?;
        (tensor::numel(&tensor.dims)? <= MAX_FOLDED_INTS)
            .then(|| tensor::to_f32(tensor))
            .flatten()
    }

    pub fn int_attr(&self, name: &str, default: i64) -> i64 {
        attr::int(self.node, name).unwrap_or(default)
    }

    pub fn ints_attr(&self, name: &str) -> Option<&[i64]> {
        attr::ints(self.node, name)
    }

    /// Axes given as an attribute in older opsets and as an input (at `input`) in newer ones.
    pub fn axes(&self, input: usize) -> Option<Vec<i64>> {
        match self.ints_attr("axes") {
            Some(axes) => Some(axes.to_vec()),
            None => self.ints(input).map(<[i64]>::to_vec),
        }
    }
}

/// Infers the facts of a node's outputs, or `None` when prunekit has no rule for the op.
pub fn infer(ctx: &OpContext) -> Option<Vec<ValueFacts>> {
    if !super::graph::is_default_domain(ctx.node) {
        return None;
    }
    let op = ctx.node.op_type();
    elementwise::infer(op, ctx)
        .or_else(|| conv::infer(op, ctx))
        .or_else(|| linear::infer(op, ctx))
        .or_else(|| layout::infer(op, ctx))
        .or_else(|| constant::infer(op, ctx))
        .or_else(|| reduce::infer(op, ctx))
}

pub fn numel(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
}

/// Normalizes a possibly negative axis against a rank.
pub fn axis(axis: i64, rank: usize) -> Option<usize> {
    let rank = rank as i64;
    let a = if axis < 0 { axis + rank } else { axis };
    (0..rank).contains(&a).then_some(a as usize)
}

/// numpy broadcasting of several shapes.
pub fn broadcast<'s>(shapes: impl IntoIterator<Item = &'s Shape>) -> Option<Shape> {
    let mut out: Shape = Vec::new();
    for shape in shapes {
        if shape.len() > out.len() {
            let mut padded = vec![1; shape.len() - out.len()];
            padded.extend_from_slice(&out);
            out = padded;
        }
        let offset = out.len() - shape.len();
        for (i, &d) in shape.iter().enumerate() {
            let o = &mut out[offset + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return None;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(
            broadcast([&vec![2, 1, 4], &vec![3, 1]]),
            Some(vec![2, 3, 4])
        );
        assert_eq!(broadcast([&vec![5], &vec![]]), Some(vec![5]));
        assert_eq!(broadcast([&vec![2, 3], &vec![4, 3]]), None);
    }

    #[test]
    fn axes_normalize() {
        assert_eq!(axis(-1, 4), Some(3));
        assert_eq!(axis(4, 4), None);
        assert_eq!(axis(-5, 4), None);
    }
}

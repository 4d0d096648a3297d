//! Reductions over axes: Reduce*, ArgMax/ArgMin, TopK.

use super::{OpContext, Shape, ValueFacts, axis};
use crate::model::onnx::data_type as dt;

/// Reductions whose axes moved from an attribute to input 1 (ReduceSum at opset 13, the rest at 18).
pub const REDUCE: &[&str] = &[
    "ReduceMean",
    "ReduceSum",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceSumSquare",
    "ReduceLogSum",
    "ReduceLogSumExp",
];

pub fn infer(op: &str, ctx: &OpContext) -> Option<Vec<ValueFacts>> {
    let data_type = ctx.data_type(0);
    Some(match op {
        _ if REDUCE.contains(&op) => vec![ValueFacts::new(data_type, reduce(ctx))],
        "ArgMax" | "ArgMin" => {
            let shape = ctx.shape(0).and_then(|x| {
                let a = axis(ctx.int_attr("axis", 0), x.len())?;
                Some(reduced(x, &[a], ctx.int_attr("keepdims", 1) != 0))
            });
            vec![ValueFacts::new(dt::INT64, shape)]
        }
        "TopK" => {
            let shape = ctx.shape(0).and_then(|x| {
                let a = axis(ctx.int_attr("axis", -1), x.len())?;
                let k = u64::try_from(*ctx.ints(1)?.first()?).ok()?;
                let mut out = x.clone();
                out[a] = k;
                Some(out)
            });
            vec![
                ValueFacts::new(data_type, shape.clone()),
                ValueFacts::new(dt::INT64, shape),
            ]
        }
        _ => return None,
    })
}

fn reduced(x: &Shape, axes: &[usize], keep_dims: bool) -> Shape {
    x.iter()
        .enumerate()
        .filter_map(|(i, &d)| match (axes.contains(&i), keep_dims) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

fn reduce(ctx: &OpContext) -> Option<Shape> {
    let x = ctx.shape(0)?;
    let keep_dims = ctx.int_attr("keepdims", 1) != 0;
    let axes = match ctx.axes(1) {
        Some(axes) => axes,
        None if ctx.has_input(1) => return None,
        None => vec![],
    };
    if axes.is_empty() {
        if ctx.int_attr("noop_with_empty_axes", 0) != 0 {
            return Some(x.clone());
        }
        return Some(reduced(x, &(0..x.len()).collect::<Vec<_>>(), keep_dims));
    }
    let axes: Vec<usize> = axes
        .iter()
        .map(|&a| axis(a, x.len()))
        .collect::<Option<_>>()?;
    Some(reduced(x, &axes, keep_dims))
}

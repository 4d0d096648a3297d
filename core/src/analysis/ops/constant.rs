//! Ops that make values from attributes or from the shapes of others: Constant, Shape, Size,
//! ConstantOfShape, Range, Cast. They are where shape arithmetic starts, so they fold integers.

use super::{MAX_FOLDED_INTS, OpContext, ValueFacts, numel};
use crate::analysis::graph::constant_value;
use crate::model::onnx::data_type as dt;
use crate::model::{attr, tensor};

pub fn infer(op: &str, ctx: &OpContext) -> Option<Vec<ValueFacts>> {
    Some(vec![match op {
        "Constant" => {
            let value = constant_value(ctx.node)?;
            let shape: Vec<u64> = value
                .dims
                .iter()
                .map(|&d| u64::try_from(d).ok())
                .collect::<Option<_>>()?;
            match tensor::to_i64(&value, MAX_FOLDED_INTS) {
                Some(ints) if !tensor::is_float(value.data_type()) => {
                    ValueFacts::with_ints(value.data_type(), shape, ints)
                }
                _ => ValueFacts::new(value.data_type(), Some(shape)),
            }
        }
        "Shape" => match ctx.shape(0) {
            Some(x) => {
                // Opset 15 added start/end, clamped like Python slicing.
                let rank = x.len() as i64;
                let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
                let start = clamp(ctx.int_attr("start", 0));
                let end = clamp(ctx.int_attr("end", rank));
                let dims: Vec<i64> = x[start..end.max(start)].iter().map(|&d| d as i64).collect();
                ValueFacts::with_ints(dt::INT64, vec![dims.len() as u64], dims)
            }
            None => ValueFacts::new(dt::INT64, None),
        },
        "Size" => match ctx.shape(0).and_then(|x| numel(x)) {
            Some(n) => ValueFacts::with_ints(dt::INT64, vec![], vec![n as i64]),
            None => ValueFacts::new(dt::INT64, Some(vec![])),
        },
        "ConstantOfShape" => {
            let value = attr::tensor(ctx.node, "value");
            let data_type = value.map_or(dt::FLOAT, |v| v.data_type());
            let shape = ctx.ints(0).and_then(|s| {
                s.iter()
                    .map(|&d| u64::try_from(d).ok())
                    .collect::<Option<Vec<_>>>()
            });
            let fill = value
                .and_then(|v| tensor::to_i64(v, 1))
                .and_then(|v| v.first().copied());
            match (shape, fill) {
                (Some(shape), Some(fill))
                    if !tensor::is_float(data_type) && numel(&shape)? <= MAX_FOLDED_INTS =>
                {
                    let n = numel(&shape)? as usize;
                    ValueFacts::with_ints(data_type, shape, vec![fill; n])
                }
                (shape, _) => ValueFacts::new(data_type, shape),
            }
        }
        "Cast" => {
            let to = ctx.int_attr("to", 0) as i32;
            let facts = ValueFacts::new(to, ctx.shape(0).cloned());
            match (ctx.ints(0), ctx.shape(0)) {
                (Some(ints), Some(shape)) if !tensor::is_float(to) => {
                    ValueFacts::with_ints(to, shape.clone(), ints.to_vec())
                }
                _ => facts,
            }
        }
        "CastLike" => ValueFacts::new(ctx.data_type(1), ctx.shape(0).cloned()),
        "Range" => {
            let data_type = ctx.data_type(0);
            let scalar = |i: usize| ctx.ints(i).and_then(|v| v.first().copied());
            match (scalar(0), scalar(1), scalar(2)) {
                (Some(start), Some(limit), Some(delta)) if delta != 0 => {
                    let n = ((limit as i128 - start as i128) + delta as i128
                        - delta.signum() as i128)
                        / delta as i128;
                    ValueFacts::new(data_type, Some(vec![u64::try_from(n.max(0)).ok()?]))
                }
                _ => ValueFacts::new(data_type, None),
            }
        }
        _ => return None,
    }])
}

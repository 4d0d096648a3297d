//! Ops whose output has the shape of their (broadcast) inputs: arithmetic, activations,
//! comparisons, normalizations, quantization.

use super::{OpContext, Shape, ValueFacts, broadcast};
use crate::model::onnx::data_type as dt;

/// One input, each element computed alone: the output has the input's shape and type.
pub const PER_ELEMENT: &[&str] = &[
    "Relu",
    "LeakyRelu",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Tanh",
    "Elu",
    "Selu",
    "Celu",
    "Gelu",
    "Softplus",
    "Softsign",
    "Mish",
    "ThresholdedRelu",
    "Sqrt",
    "Reciprocal",
    "Exp",
    "Log",
    "Neg",
    "Abs",
    "Erf",
    "Floor",
    "Ceil",
    "Round",
    "Sign",
    "Sin",
    "Cos",
    "Tan",
    "Asin",
    "Acos",
    "Atan",
    "Sinh",
    "Cosh",
    "Asinh",
    "Acosh",
    "Atanh",
    "Clip",
    "Shrink",
];

/// One input, output of the same shape and type, computed along axes (softmax, normalizations).
const ALONG_AXES: &[&str] = &[
    "Softmax",
    "LogSoftmax",
    "Hardmax",
    "BatchNormalization",
    "InstanceNormalization",
    "GroupNormalization",
    "LpNormalization",
    "LRN",
    "MeanVarianceNormalization",
];

/// Several inputs broadcast together; the output takes the first input's type.
pub const BROADCAST: &[&str] = &[
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Mod", "PRelu", "BitShift",
];

/// Broadcasting ops whose output is boolean.
pub const COMPARISONS: &[&str] = &[
    "Equal",
    "Less",
    "Greater",
    "LessOrEqual",
    "GreaterOrEqual",
    "And",
    "Or",
    "Xor",
    "Not",
];

pub fn infer(op: &str, ctx: &OpContext) -> Option<Vec<ValueFacts>> {
    let first = ctx.shape(0).cloned();
    Some(match op {
        _ if PER_ELEMENT.contains(&op) || ALONG_AXES.contains(&op) => {
            let mut outs = vec![ValueFacts::new(ctx.data_type(0), first)];
            if op == "BatchNormalization" {
                // Training-mode outputs (running mean and var) have the channel's shape.
                let channels = ctx.shape(1).cloned();
                outs.extend(
                    (1..ctx.node.output.len())
                        .map(|_| ValueFacts::new(ctx.data_type(0), channels.clone())),
                );
            }
            outs
        }
        "IsNaN" | "IsInf" => vec![ValueFacts::new(dt::BOOL, first)],
        "Dropout" => vec![
            ValueFacts::new(ctx.data_type(0), first.clone()),
            ValueFacts::new(dt::BOOL, first),
        ],
        "LayerNormalization" => {
            // Mean and inverse std keep the leading dims and are 1 from `axis` on.
            let stats = first.as_ref().and_then(|s| {
                let axis = super::axis(ctx.int_attr("axis", -1), s.len())?;
                Some(
                    s.iter()
                        .enumerate()
                        .map(|(i, &d)| if i < axis { d } else { 1 })
                        .collect::<Shape>(),
                )
            });
            let stats_type = if ctx.data_type(0) == dt::DOUBLE {
                dt::DOUBLE
            } else {
                dt::FLOAT
            };
            vec![
                ValueFacts::new(ctx.data_type(0), first),
                ValueFacts::new(stats_type, stats.clone()),
                ValueFacts::new(stats_type, stats),
            ]
        }
        _ if BROADCAST.contains(&op) || COMPARISONS.contains(&op) || op == "Where" => {
            let shapes: Option<Vec<&Shape>> =
                (0..ctx.node.input.len()).map(|i| ctx.shape(i)).collect();
            let shape = shapes.and_then(broadcast);
            let data_type = match op {
                "Where" => ctx.data_type(1),
                _ if COMPARISONS.contains(&op) => dt::BOOL,
                _ => ctx.data_type(0),
            };
            let mut out = ValueFacts::new(data_type, shape.clone());
            if let Some(shape) = shape {
                out.ints = fold_ints(op, ctx, &shape);
            }
            vec![out]
        }
        "QuantizeLinear" => {
            let zero_point_type = ctx.data_type(2);
            vec![ValueFacts::new(
                if zero_point_type == 0 {
                    dt::UINT8
                } else {
                    zero_point_type
                },
                first,
            )]
        }
        "DequantizeLinear" => {
            let scale_type = ctx.data_type(1);
            vec![ValueFacts::new(
                if scale_type == 0 {
                    dt::FLOAT
                } else {
                    scale_type
                },
                first,
            )]
        }
        "DynamicQuantizeLinear" => vec![
            ValueFacts::new(dt::UINT8, first),
            ValueFacts::new(dt::FLOAT, Some(vec![])),
            ValueFacts::new(dt::UINT8, Some(vec![])),
        ],
        _ => return None,
    })
}

/// Integer arithmetic on folded shape values (`Shape → Gather → Mul → Reshape` chains).
fn fold_ints(op: &str, ctx: &OpContext, shape: &Shape) -> Option<Vec<i64>> {
    if !matches!(op, "Add" | "Sub" | "Mul" | "Div" | "Max" | "Min") || ctx.node.input.len() != 2 {
        return None;
    }
    let (a, b) = (ctx.ints(0)?, ctx.ints(1)?);
    let n = super::numel(shape)? as usize;
    let pick = |v: &[i64], i: usize| {
        if v.len() == 1 {
            Some(v[0])
        } else {
            v.get(i).copied()
        }
    };
    (0..n)
        .map(|i| {
            let (x, y) = (pick(a, i)?, pick(b, i)?);
            match op {
                "Add" => x.checked_add(y),
                "Sub" => x.checked_sub(y),
                "Mul" => x.checked_mul(y),
                "Div" => x.checked_div(y),
                "Max" => Some(x.max(y)),
                _ => Some(x.min(y)),
            }
        })
        .collect()
}

//! MACs and FLOPs of one layer, as `docs/analysis.md` defines them: FLOPs = 2 × MACs for the
//! layers with multiply-accumulates (batch and sequence dims counted, a grouped conv divided by its
//! group exactly once), one FLOP per output element for element-wise work, pools by kernel size.

use super::ops::{self, OpContext, numel};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub macs: Option<u64>,
    pub flops: Option<u64>,
}

/// How prunekit counts an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostKind {
    /// Multiply-accumulates (Conv, ConvTranspose, Gemm, MatMul).
    Macs,
    /// One FLOP per output element.
    PerOutput,
    /// ∏ output × ∏ kernel.
    Pool,
    /// One FLOP per input element (global pools, reductions).
    PerInput,
    /// Moves data only.
    Free,
    /// prunekit has no count for this op.
    Unknown,
}

const PER_OUTPUT: &[&str] = &[
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Pow",
    "Max",
    "Min",
    "Sum",
    "Mean",
    "Mod",
    "PRelu",
    "Where",
    "Clip",
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
    "BatchNormalization",
    "LayerNormalization",
    "InstanceNormalization",
    "GroupNormalization",
    "LpNormalization",
    "LRN",
    "Softmax",
    "LogSoftmax",
];

/// Global pools; reductions (`ops::REDUCE`, ArgMax, ArgMin) count per input element too.
const GLOBAL_POOLS: &[&str] = &["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"];

const FREE: &[&str] = &[
    "Reshape",
    "Transpose",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Concat",
    "Split",
    "Slice",
    "Gather",
    "Shape",
    "Size",
    "Constant",
    "ConstantOfShape",
    "Identity",
    "Cast",
    "Dropout",
    "Expand",
    "Tile",
    "Pad",
    "Range",
    "Equal",
    "Less",
    "Greater",
    "Not",
    "And",
    "Or",
    "QuantizeLinear",
    "DequantizeLinear",
];

pub fn kind(op_type: &str) -> CostKind {
    match op_type {
        "Conv" | "ConvTranspose" | "Gemm" | "MatMul" => CostKind::Macs,
        "MaxPool" | "AveragePool" | "LpPool" => CostKind::Pool,
        _ if PER_OUTPUT.contains(&op_type) => CostKind::PerOutput,
        "ArgMax" | "ArgMin" => CostKind::PerInput,
        _ if GLOBAL_POOLS.contains(&op_type) || ops::REDUCE.contains(&op_type) => {
            CostKind::PerInput
        }
        _ if FREE.contains(&op_type) => CostKind::Free,
        _ => CostKind::Unknown,
    }
}

/// The cost of a node, given what is known of its inputs and of its first output's shape.
pub fn of(ctx: &OpContext, output: Option<&ops::Shape>) -> Cost {
    let op = ctx.node.op_type();
    let flops_only = |flops: Option<u64>| Cost {
        macs: flops.map(|_| 0),
        flops,
    };
    match kind(op) {
        CostKind::Macs => {
            let macs = macs(op, ctx, output);
            Cost {
                macs,
                flops: macs.and_then(|m| m.checked_mul(2)),
            }
        }
        CostKind::PerOutput => flops_only(output.and_then(|s| numel(s))),
        CostKind::PerInput => flops_only(ctx.shape(0).and_then(|s| numel(s))),
        CostKind::Pool => {
            let kernel = ctx.ints_attr("kernel_shape").and_then(|k| {
                k.iter()
                    .try_fold(1u64, |acc, &d| acc.checked_mul(u64::try_from(d).ok()?))
            });
            flops_only(output.and_then(|s| numel(s)?.checked_mul(kernel?)))
        }
        CostKind::Free => Cost {
            macs: Some(0),
            flops: Some(0),
        },
        CostKind::Unknown => Cost {
            macs: None,
            flops: None,
        },
    }
}

fn macs(op: &str, ctx: &OpContext, output: Option<&ops::Shape>) -> Option<u64> {
    // W[1] × ∏ W[2:] is (C_in / group) × ∏ kernel for Conv and (C_out / group) × ∏ kernel for
    // ConvTranspose: the weight already holds one group's channels, so no further division.
    let per_position = || -> Option<u64> {
        let w = ctx.shape(1).filter(|w| w.len() >= 2)?;
        numel(&w[1..])
    };
    match op {
        "Conv" => numel(output?)?.checked_mul(per_position()?),
        "ConvTranspose" => numel(ctx.shape(0)?)?.checked_mul(per_position()?),
        "Gemm" => {
            let (m, k, n) = super::ops::gemm_dims(ctx)?;
            m.checked_mul(k)?.checked_mul(n)
        }
        "MatMul" => super::ops::matmul(ctx.shape(0), ctx.shape(1))?.macs,
        _ => None,
    }
}

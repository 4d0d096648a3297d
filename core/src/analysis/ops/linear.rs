//! Matrix products: Gemm and MatMul (numpy semantics, broadcast batch dims).

use super::{OpContext, Shape, ValueFacts, broadcast};

pub fn infer(op: &str, ctx: &OpContext) -> Option<Vec<ValueFacts>> {
    let data_type = ctx.data_type(0);
    Some(match op {
        "Gemm" => vec![ValueFacts::new(
            data_type,
            gemm_dims(ctx).map(|(m, _, n)| vec![m, n]),
        )],
        "MatMul" => vec![ValueFacts::new(
            data_type,
            matmul(ctx.shape(0), ctx.shape(1)).map(|p| p.output),
        )],
        _ => return None,
    })
}

/// Gemm's (M, K, N) after `transA` / `transB`.
pub fn gemm_dims(ctx: &OpContext) -> Option<(u64, u64, u64)> {
    let (a, b) = (ctx.shape(0)?, ctx.shape(1)?);
    if a.len() != 2 || b.len() != 2 {
        return None;
    }
    let (m, k) = if ctx.int_attr("transA", 0) != 0 {
        (a[1], a[0])
    } else {
        (a[0], a[1])
    };
    let (k2, n) = if ctx.int_attr("transB", 0) != 0 {
        (b[1], b[0])
    } else {
        (b[0], b[1])
    };
    (k == k2).then_some((m, k, n))
}

pub struct MatMulProduct {
    pub output: Shape,
    /// The broadcast batch dims times M, K and N: the product's multiply-accumulates.
    pub macs: Option<u64>,
}

/// numpy's matmul: a 1-D left operand is a row vector, a 1-D right operand a column vector, and the
/// added dim is removed from the result again.
pub fn matmul(a: Option<&Shape>, b: Option<&Shape>) -> Option<MatMulProduct> {
    let (a, b) = (a?, b?);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let a2: Shape = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.clone()
    };
    let b2: Shape = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.clone()
    };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != k2 {
        return None;
    }
    let batch = broadcast([&a2[..a2.len() - 2].to_vec(), &b2[..b2.len() - 2].to_vec()])?;
    let macs = super::numel(&batch)
        .and_then(|n_batch| n_batch.checked_mul(m)?.checked_mul(k)?.checked_mul(n));
    let mut output = batch;
    if a.len() > 1 {
        output.push(m);
    }
    if b.len() > 1 {
        output.push(n);
    }
    Some(MatMulProduct { output, macs })
}

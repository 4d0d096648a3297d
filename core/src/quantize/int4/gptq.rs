//! GPTQ (Frantar et al. 2022): quantize a layer's weight so that its outputs on the calibration
//! inputs change least, walking the inputs (K) in order and spreading each column's rounding
//! error over the columns still to come.
//!
//! With `H = 2/n · XᵀX` and `U` the upper Cholesky factor of the dampened `H⁻¹` (the factor
//! SparseGPT uses, `reconstruct::sparsegpt::inverse_factor`, inputs never active zeroed): for
//! each column `j`, its weights `w` (one per output) are rounded to `q`, the error
//! `e = (w − q) / U_jj` is subtracted from each later column `l` as `e · U_jl`. Columns go in
//! lazy blocks of 128: within a block the update reaches the block's own later columns at once,
//! and the block's errors reach every column after it in one matrix product. A 4-bit block's
//! scale and zero point are computed when the walk reaches its first column, from the weights
//! compensated so far (a lazy block holds whole quantization blocks: 128 is a multiple of each
//! block size, so those weights are up to date).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

use super::block::BlockParams;
use super::pack::{Packed, pack};
use crate::reconstruct::sparsegpt::inverse_factor;
use crate::reconstruct::{InputStats, MatrixError};

/// Columns whose errors are applied to the rest together.
const LAZY_BLOCK: usize = 128;
/// Dampening of the Hessian's diagonal, a fraction of its mean (the paper's 1%).
pub const DAMP: f64 = 0.01;

/// What GPTQ did to one weight.
#[derive(Debug, Clone, PartialEq)]
pub struct GptqReport {
    /// The dampening that made the Hessian factorizable.
    pub damp: f64,
    /// Inputs never active on the samples: their weights are zeroed.
    pub dead_columns: usize,
}

/// Quantizes a weight given `[N, K]` row-major, with `stats` the statistics of its K inputs.
pub fn quantize(
    weight: &[f32],
    stats: &InputStats,
    k: usize,
    n: usize,
    block: usize,
    symmetric: bool,
) -> Result<(Packed, GptqReport), MatrixError> {
    if stats.columns() != k {
        return Err(MatrixError::StatsShape {
            weight_columns: k,
            stats_columns: stats.columns(),
        });
    }
    let factor = inverse_factor(stats, DAMP)?;
    let u = &factor.upper;
    let mut w = Mat::<f64>::from_fn(n, k, |r, c| {
        if factor.dead[c] {
            0.0
        } else {
            weight[r * k + c] as f64
        }
    });
    let kb = k.div_ceil(block);
    let mut params = vec![
        BlockParams {
            scale: 1.0,
            zero_point: 0
        };
        n * kb
    ];
    let mut codes = vec![0u8; n * k];
    let lazy = LAZY_BLOCK.div_ceil(block) * block;
    let mut err = Mat::<f64>::zeros(n, lazy);
    let mut values = vec![0.0f32; block];
    let mut c0 = 0;
    while c0 < k {
        let c1 = (c0 + lazy).min(k);
        for c in c0..c1 {
            if c % block == 0 {
                let end = (c + block).min(k);
                for r in 0..n {
                    values.fill(0.0);
                    for (v, col) in values.iter_mut().zip(c..end) {
                        *v = w[(r, col)] as f32;
                    }
                    params[r * kb + c / block] = BlockParams::of(&values, symmetric);
                }
            }
            let d = u[(c, c)];
            let column = w.col_as_slice_mut(c);
            let errors = err.col_as_slice_mut(c - c0);
            for r in 0..n {
                let p = params[r * kb + c / block];
                let code = p.code(column[r] as f32);
                codes[r * k + c] = code;
                let q = p.value(code) as f64;
                errors[r] = (column[r] - q) / d;
                column[r] = q;
            }
            let errors = err.col_as_slice(c - c0);
            for l in c + 1..c1 {
                let along = u[(c, l)];
                if along != 0.0 {
                    for (v, e) in w.col_as_slice_mut(l).iter_mut().zip(errors) {
                        *v -= e * along;
                    }
                }
            }
        }
        if c1 < k {
            matmul(
                w.submatrix_mut(0, c1, n, k - c1),
                Accum::Add,
                err.submatrix(0, 0, n, c1 - c0),
                u.submatrix(c0, c1, c1 - c0, k - c1),
                -1.0,
                Par::rayon(0),
            );
        }
        c0 = c1;
    }
    let report = GptqReport {
        damp: factor.damp,
        dead_columns: factor.dead.iter().filter(|d| **d).count(),
    };
    Ok((pack(&codes, &params, k, n, block, symmetric), report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// Σ over the samples of ‖x·(W − Ŵ)ᵀ‖², the error GPTQ minimizes.
    fn output_error(x: &Array2<f32>, weight: &[f32], quantized: &[f32], k: usize) -> f64 {
        let mut total = 0.0;
        for row in x.rows() {
            for (w, q) in weight.chunks(k).zip(quantized.chunks(k)) {
                let d: f64 = (0..k).map(|i| row[i] as f64 * (w[i] - q[i]) as f64).sum();
                total += d * d;
            }
        }
        total
    }

    #[test]
    fn gptq_changes_outputs_less_than_round_to_nearest() {
        // Correlated inputs (a shared factor plus noise), as a layer's activations are.
        let (k, n, rows) = (96, 24, 512);
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f64 / (1u64 << 31) as f64) as f32 - 0.5
        };
        let weight: Vec<f32> = (0..n * k).map(|_| next()).collect();
        let x = Array2::from_shape_fn((rows, k), |_| 0.0f32);
        let x = x.mapv(|_| next());
        let shared: Vec<f32> = (0..rows).map(|_| next()).collect();
        let x = Array2::from_shape_fn((rows, k), |(r, c)| {
            x[[r, c]] + shared[r] * (1.0 + c as f32 / k as f32)
        });
        let mut stats = InputStats::new(k);
        stats.add(x.view());
        for symmetric in [true, false] {
            for block in [32, 64] {
                let rtn = super::super::rtn::quantize(&weight, k, n, block, symmetric);
                let (gptq, report) = quantize(&weight, &stats, k, n, block, symmetric).unwrap();
                assert_eq!(report.dead_columns, 0);
                let e_rtn = output_error(&x, &weight, &rtn.dequantized(), k);
                let e_gptq = output_error(&x, &weight, &gptq.dequantized(), k);
                assert!(
                    e_gptq < 0.8 * e_rtn,
                    "block {block} symmetric {symmetric}: GPTQ {e_gptq} vs RTN {e_rtn}"
                );
            }
        }
    }
}

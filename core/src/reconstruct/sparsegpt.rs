//! SparseGPT (Frantar & Alistarh 2023): prune a layer so that its outputs on the calibration
//! inputs change least, compensating each pruned weight's error on the columns still to come.
//!
//! With `H = 2/n · XᵀX` (dead inputs, `H_jj = 0`, set to 1 and their weights zeroed; the diagonal
//! dampened by `damp · mean(diag H)`), `U` the upper Cholesky factor of `H⁻¹` (`H⁻¹ = UᵀU`):
//! columns are walked in blocks; masks are chosen by `w² / U_jj²` when the walk reaches them, on
//! the weights already compensated (unstructured: the lowest scores of each mask block of
//! columns, across every row; N:M: the N lowest of each group of M of a row), each pruned
//! weight's error `w / U_jj` is subtracted along row `j` of `U` from the block's later columns,
//! and the block's errors are applied to every later column in one matrix product.
//!
//! Unstructured, mask block `[c₀, c₁)` prunes `round(s·rows·c₁) − round(s·rows·c₀)` weights, its
//! share of the matrix's exact `round(s·rows·cols)`: the per-block quantile of the reference
//! implementation, made to add up to the promised count. A mask block never straddles two
//! compensation blocks.
//!
//! Where the statistics pair the layer's inputs with the dense model's (`InputStats::dense`), the
//! walk starts from the weights that best give the dense model's outputs from these inputs
//! (`toward_dense`) instead of the layer's own.
//!
//! `U` comes from one Cholesky factorization and one triangular inverse: if `P` reverses the
//! order of the columns and `P H P = L Lᵀ`, then `H⁻¹ = UᵀU` with `U = P L⁻¹ P`, upper
//! triangular with a positive diagonal, hence the factor (the reference inverts `H` and factors
//! the inverse again: the same `U` for twice the work).

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::matmul::matmul;
use faer::linalg::triangular_inverse::invert_lower_triangular;
use faer::{Accum, Mat, Par};
use ndarray::Array2;

use super::magnitude::pruned_count;
use super::{InputStats, MatrixError, MatrixReport, Pattern, SparseGptSettings, mask};

/// Dampening is raised tenfold after a failed factorization up to this fraction of the mean
/// diagonal; past it the inputs are degenerate and more would only hide it.
pub const MAX_DAMP: f64 = 10.0;
/// The first retry's dampening when none was asked for.
const FIRST_RETRY_DAMP: f64 = 1e-4;
/// A Cholesky pivot below this fraction of the largest diagonal entry is rounding noise on a
/// singular matrix, not information: the factorization counts as failed. (Dampened by the default
/// 0.01 of the mean diagonal, a pivot stays above 0.01/n of the largest, far above this.)
const MIN_PIVOT: f64 = 1e-10;

/// The upper Cholesky factor of the dampened inverse Hessian, and what it took.
pub struct InverseFactor {
    /// `U`, upper triangular, `H⁻¹ = UᵀU`.
    pub upper: Mat<f64>,
    /// The dampening that succeeded.
    pub damp: f64,
    /// The factorizations that failed before.
    pub retries: usize,
    /// Floating-point operations of every attempt.
    pub flops: f64,
    /// Input columns with `H_jj = 0`.
    pub dead: Vec<bool>,
}

/// Factors `H = 2/n · XᵀX` from `stats` (dead inputs set to 1), dampened by `damp` of its mean
/// diagonal, raising the dampening tenfold while the factorization fails.
pub fn inverse_factor(stats: &InputStats, damp: f64) -> Result<InverseFactor, MatrixError> {
    let n = stats.columns();
    let scale = 2.0 / stats.rows.max(1) as f64;
    let dead: Vec<bool> = (0..n).map(|j| stats.xtx[(j, j)] == 0.0).collect();
    let diagonal = |j: usize| {
        if dead[j] {
            1.0
        } else {
            stats.xtx[(j, j)] * scale
        }
    };
    let mean = (0..n).map(diagonal).sum::<f64>() / n.max(1) as f64;
    let largest = (0..n).map(diagonal).fold(0.0, f64::max);
    let par = Par::rayon(0);
    let mut buffer = MemBuffer::new(cholesky_in_place_scratch::<f64>(n, par, Default::default()));
    let cube = (n as f64).powi(3);
    let (mut damp, mut retries, mut flops) = (damp, 0, 0.0);
    loop {
        // H with its columns (and rows) in reverse order, dampened.
        let mut factor = Mat::<f64>::from_fn(n, n, |i, j| {
            let (i, j) = (n - 1 - i, n - 1 - j);
            if i == j {
                diagonal(i) + damp * mean
            } else {
                stats.xtx_at(i, j) * scale
            }
        });
        flops += cube / 3.0;
        let factored = cholesky_in_place(
            factor.as_mut(),
            Default::default(),
            par,
            MemStack::new(&mut buffer),
            Default::default(),
        )
        .is_ok()
            && (0..n).all(|j| {
                let pivot = factor[(j, j)] * factor[(j, j)];
                pivot > MIN_PIVOT * (largest + damp * mean)
            });
        if factored {
            let mut upper = Mat::<f64>::zeros(n, n);
            invert_lower_triangular(upper.as_mut(), factor.as_ref(), par);
            drop(factor);
            flops += cube / 3.0;
            reverse_in_place(&mut upper);
            let sound = (0..n).all(|j| {
                upper[(j, j)] > 0.0 && upper.col_as_slice(j).iter().all(|v| v.is_finite())
            });
            if sound {
                return Ok(InverseFactor {
                    upper,
                    damp,
                    retries,
                    flops,
                    dead,
                });
            }
        }
        if damp >= MAX_DAMP || !damp.is_finite() {
            return Err(MatrixError::Singular { damp });
        }
        damp = (damp * 10.0).clamp(FIRST_RETRY_DAMP, MAX_DAMP);
        retries += 1;
    }
}

/// `P A P` in place, `P` the reversal: element (i, j) swaps with (n−1−i, n−1−j).
fn reverse_in_place(a: &mut Mat<f64>) {
    let n = a.nrows();
    for j in 0..n {
        for i in 0..n {
            let (i2, j2) = (n - 1 - i, n - 1 - j);
            if (j, i) < (j2, i2) {
                let t = a[(i, j)];
                a[(i, j)] = a[(i2, j2)];
                a[(i2, j2)] = t;
            }
        }
    }
}

/// The block width actually walked: N:M groups must not straddle two blocks.
pub fn block_width(block: usize, pattern: Pattern) -> usize {
    match pattern {
        Pattern::Unstructured => block.max(1),
        Pattern::NofM { m, .. } => (block - block % m).max(m),
    }
}

/// Prunes `weight` (rows × columns) in place; see the module documentation.
pub(super) fn prune(
    weight: &mut Array2<f32>,
    stats: &InputStats,
    sparsity: f64,
    pattern: Pattern,
    settings: &SparseGptSettings,
) -> Result<MatrixReport, MatrixError> {
    let (rows, n) = weight.dim();
    if n == 0
        || rows == 0
        || (pattern == Pattern::Unstructured && pruned_count(sparsity, rows * n) == 0)
    {
        return Ok(MatrixReport::default());
    }
    let factor = inverse_factor(stats, settings.damp)?;
    let u = &factor.upper;
    let mut w = Mat::<f64>::from_fn(rows, n, |r, c| weight[[r, c]] as f64);
    let mut flops = factor.flops;
    if let Some(dense) = &stats.dense {
        flops += toward_dense(&mut w, stats, &dense.cross, u);
    }
    for (c, dead) in factor.dead.iter().enumerate() {
        if *dead {
            w.col_mut(c).fill(0.0);
        }
    }
    let block = block_width(settings.block, pattern);
    let mask_block = settings.mask_block.max(1);
    let mut err = Mat::<f64>::zeros(rows, block);
    let mut scores = Vec::with_capacity(rows * block);
    let mut c0 = 0;
    while c0 < n {
        let c1 = (c0 + block).min(n);
        let width = c1 - c0;
        // pruned[j * rows + r]: whether weight (r, c0 + j) goes.
        let mut pruned = vec![false; rows * width];
        for j in 0..width {
            let c = c0 + j;
            if pattern == Pattern::Unstructured && (j == 0 || c % mask_block == 0) {
                // The mask of columns [c, m1), on the weights compensated so far.
                let m1 = ((c / mask_block + 1) * mask_block).min(c1);
                let span = m1 - c;
                scores.clear();
                for r in 0..rows {
                    scores.extend((c..m1).map(|k| score(w[(r, k)], u[(k, k)])));
                }
                let count = pruned_count(sparsity, rows * m1) - pruned_count(sparsity, rows * c);
                for p in mask::lowest(&scores, count) {
                    pruned[(j + p % span) * rows + p / span] = true;
                }
            }
            if let Pattern::NofM { n: zeros, m } = pattern
                && j % m == 0
            {
                for r in 0..rows {
                    let group: Vec<f64> = (c..c + m).map(|k| score(w[(r, k)], u[(k, k)])).collect();
                    for k in mask::lowest(&group, zeros) {
                        pruned[(j + k) * rows + r] = true;
                    }
                }
            }
            let d = u[(c, c)];
            let column = w.col_as_slice_mut(c);
            let errors = err.col_as_slice_mut(j);
            for r in 0..rows {
                if pruned[j * rows + r] {
                    errors[r] = column[r] / d;
                    column[r] = 0.0;
                } else {
                    errors[r] = 0.0;
                }
            }
            let errors = err.col_as_slice(j);
            for k in c + 1..c1 {
                let along = u[(c, k)];
                if along != 0.0 {
                    for (v, e) in w.col_as_slice_mut(k).iter_mut().zip(errors) {
                        *v -= e * along;
                    }
                }
            }
            flops += 2.0 * (rows * (c1 - c - 1)) as f64;
        }
        if c1 < n {
            // The block's errors on every later column at once.
            matmul(
                w.submatrix_mut(0, c1, rows, n - c1),
                Accum::Add,
                err.submatrix(0, 0, rows, width),
                u.submatrix(c0, c1, width, n - c1),
                -1.0,
                Par::rayon(0),
            );
            flops += 2.0 * (rows * width * (n - c1)) as f64;
        }
        c0 = c1;
    }
    for ((r, c), v) in weight.indexed_iter_mut() {
        *v = w[(r, c)] as f32;
    }
    Ok(MatrixReport {
        sparsity: 0.0,
        damp: Some(factor.damp),
        retries: factor.retries,
        flops,
        dead_columns: factor.dead.iter().filter(|d| **d).count(),
    })
}

/// Replaces `w` by the dense weights that best reproduce, from the pruned model's inputs `x_p`,
/// the outputs `w` gives on the dense model's inputs `x_d` (`cross` = Σ x_d x_pᵀ): the minimizer
/// of `‖W X_d − Ŵ X_p‖² + λ‖Ŵ − W‖²` (λ the dampening, which pulls toward `W` rather than
/// toward zero), `Ŵ₀ = W + W (K − H) H_λ⁻¹` with `K = 2/n · Σ x_d x_pᵀ`, `H = 2/n · Σ x_p x_pᵀ`
/// and `H_λ⁻¹ = UᵀU`. Pruning `Ŵ₀` under `H` then minimizes the distance to the dense outputs,
/// since the two objectives differ by a constant. Equal inputs leave `w` as it is. The FLOPs.
///
/// Each row's update reads only that row, so rows go [`UPDATE_ROWS`] at a time: the two
/// intermediate products are a block of rows, not two more copies of the whole weight (a
/// transformer's 32000-row output projection: 1 GB less).
fn toward_dense(w: &mut Mat<f64>, stats: &InputStats, cross: &Mat<f64>, u: &Mat<f64>) -> f64 {
    let (rows, n) = (w.nrows(), w.ncols());
    let scale = 2.0 / stats.rows.max(1) as f64;
    let difference = Mat::<f64>::from_fn(n, n, |i, j| (cross[(i, j)] - stats.xtx_at(i, j)) * scale);
    let block = UPDATE_ROWS.min(rows).max(1);
    let mut delta = Mat::<f64>::zeros(block, n);
    let mut through = Mat::<f64>::zeros(block, n);
    let par = Par::rayon(0);
    let mut r0 = 0;
    while r0 < rows {
        let height = block.min(rows - r0);
        matmul(
            delta.as_mut().submatrix_mut(0, 0, height, n),
            Accum::Replace,
            w.as_ref().submatrix(r0, 0, height, n),
            difference.as_ref(),
            1.0,
            par,
        );
        matmul(
            through.as_mut().submatrix_mut(0, 0, height, n),
            Accum::Replace,
            delta.as_ref().submatrix(0, 0, height, n),
            u.transpose(),
            1.0,
            par,
        );
        matmul(
            w.as_mut().submatrix_mut(r0, 0, height, n),
            Accum::Add,
            through.as_ref().submatrix(0, 0, height, n),
            u.as_ref(),
            1.0,
            par,
        );
        r0 += height;
    }
    6.0 * (rows * n * n) as f64
}

/// Rows of the weight [`toward_dense`] updates at a time: enough for the matrix products to run
/// at full speed on every core, few enough that their intermediates stay small.
const UPDATE_ROWS: usize = 1024;

/// SparseGPT's saliency of a weight: the reconstruction error its removal costs, `w² / U_jj²`.
fn score(w: f64, diagonal: f64) -> f64 {
    w * w / (diagonal * diagonal)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic value in [-1, 1) for each index.
    fn value(i: usize) -> f64 {
        ((i.wrapping_mul(2_654_435_761) % 1000) as f64) / 500.0 - 1.0
    }

    #[test]
    fn toward_dense_in_row_blocks_is_the_whole_product() {
        // More rows than one block, and a last block shorter than the others.
        let (rows, n, samples) = (UPDATE_ROWS + 37, 6, 40);
        let mut stats = InputStats::paired_with(n, false);
        let x = ndarray::Array2::from_shape_fn((samples, n), |(r, c)| value(r * n + c) as f32);
        let xd = ndarray::Array2::from_shape_fn((samples, n), |(r, c)| {
            (value(r * n + c) + 0.3 * value(7 + r * n + c)) as f32
        });
        stats.add_paired(x.view(), xd.view());
        let factor = inverse_factor(&stats, 0.01).unwrap();
        let u = &factor.upper;
        let w0 = Mat::<f64>::from_fn(rows, n, |r, c| value(3 * (r * n + c) + 1));
        let mut blocked = w0.clone();
        let cross = &stats.dense.as_ref().unwrap().cross;
        toward_dense(&mut blocked, &stats, cross, u);
        // W + W (K − H) UᵀU, as one product.
        let scale = 2.0 / stats.rows as f64;
        let difference =
            Mat::<f64>::from_fn(n, n, |i, j| (cross[(i, j)] - stats.xtx_at(i, j)) * scale);
        let whole = &w0 + &w0 * &difference * u.transpose() * u;
        let mut largest = 0.0f64;
        for r in 0..rows {
            for c in 0..n {
                largest = largest.max((blocked[(r, c)] - whole[(r, c)]).abs());
            }
        }
        assert!(largest < 1e-9, "blocked and whole differ by {largest}");
        // The inputs did differ: the weights moved.
        assert!((0..n).any(|c| (blocked[(0, c)] - w0[(0, c)]).abs() > 1e-6));
    }
}

//! Repairing a pruned layer's outputs on the calibration inputs, without training: each output
//! row's mean (a bias correction, the one BatchNormalization re-estimation amounts to when BN is
//! folded into the layer) and optionally its spread (a scale on the row).
//!
//! With `μ` the mean input and `Σ = XᵀX/n − μμᵀ` the inputs' covariance, an output row `w` has
//! mean `w·μ` and variance `w Σ wᵀ` on the samples. Pure functions: the caller writes the weight
//! and bias back.

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, Par};
use ndarray::ArrayView2;

use super::InputStats;

/// How to correct one output row after pruning: multiply the pruned row by `scale`, add `bias`
/// to its bias.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Correction {
    pub scale: f64,
    pub bias: f64,
}

/// Each row's mean output on the calibration inputs, `w·μ` (bias excluded).
pub fn output_means(weight: ArrayView2<'_, f32>, stats: &InputStats) -> Vec<f64> {
    let mean = stats.mean();
    weight
        .rows()
        .into_iter()
        .map(|row| row.iter().zip(&mean).map(|(w, m)| *w as f64 * m).sum())
        .collect()
}

/// Each row's output variance on the calibration inputs, `w Σ wᵀ` (never below 0).
pub fn output_variances(weight: ArrayView2<'_, f32>, stats: &InputStats) -> Vec<f64> {
    assert!(
        stats.has_products(),
        "output variances read the whole XᵀX, which was not accumulated"
    );
    let (rows, cols) = weight.dim();
    let n = stats.rows.max(1) as f64;
    let w = Mat::<f64>::from_fn(rows, cols, |r, c| weight[[r, c]] as f64);
    // W · XᵀX/n, on every core, from the lower triangle XᵀX is kept as: W·L + W·(L − D)ᵀ.
    let mut product = Mat::<f64>::zeros(rows, cols);
    for (accum, rhs, structure) in [
        (
            Accum::Replace,
            stats.xtx.as_ref(),
            BlockStructure::TriangularLower,
        ),
        (
            Accum::Add,
            stats.xtx.transpose(),
            BlockStructure::StrictTriangularUpper,
        ),
    ] {
        triangular::matmul(
            product.as_mut(),
            BlockStructure::Rectangular,
            accum,
            w.as_ref(),
            BlockStructure::Rectangular,
            rhs,
            structure,
            1.0 / n,
            Par::rayon(0),
        );
    }
    let means = output_means(weight, stats);
    (0..rows)
        .map(|r| {
            let second: f64 = (0..cols).map(|c| product[(r, c)] * w[(r, c)]).sum();
            (second - means[r] * means[r]).max(0.0)
        })
        .collect()
}

/// Per row, the bias change `(W_r − Ŵ_r)·μ` that gives the pruned layer the original's mean
/// output on the calibration inputs.
pub fn bias_deltas(
    original: ArrayView2<'_, f32>,
    pruned: ArrayView2<'_, f32>,
    stats: &InputStats,
) -> Vec<f64> {
    let (before, after) = (output_means(original, stats), output_means(pruned, stats));
    before.iter().zip(&after).map(|(b, a)| b - a).collect()
}

/// Per row, the scale and bias that give the pruned layer the original's mean and variance on
/// the calibration inputs: `s = √(var / var̂)` (1 where either is 0: nothing to match), then
/// the bias change `W_r·μ − s·Ŵ_r·μ`.
pub fn corrections(
    original: ArrayView2<'_, f32>,
    pruned: ArrayView2<'_, f32>,
    stats: &InputStats,
) -> Vec<Correction> {
    let (mean_before, mean_after) = (output_means(original, stats), output_means(pruned, stats));
    let (var_before, var_after) = (
        output_variances(original, stats),
        output_variances(pruned, stats),
    );
    (0..mean_before.len())
        .map(|r| {
            let scale = if var_before[r] > 0.0 && var_after[r] > 0.0 {
                (var_before[r] / var_after[r]).sqrt()
            } else {
                1.0
            };
            Correction {
                scale,
                bias: mean_before[r] - scale * mean_after[r],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconstruct::tests::{correlated_inputs, normal};
    use crate::runtime::SplitMix64;
    use ndarray::{Array2, Axis};

    /// Mean and variance of each output column of `x · wᵀ · scale + bias`, computed directly.
    fn moments(x: &Array2<f32>, w: &Array2<f32>, fix: &[Correction]) -> Vec<(f64, f64)> {
        let y = x.mapv(f64::from).dot(&w.mapv(f64::from).t());
        y.axis_iter(Axis(1))
            .zip(fix)
            .map(|(col, c)| {
                let col = col.mapv(|v| v * c.scale + c.bias);
                let mean = col.mean().unwrap();
                (mean, col.mapv(|v| (v - mean).powi(2)).mean().unwrap())
            })
            .collect()
    }

    #[test]
    fn corrections_restore_each_output_mean_and_variance() {
        let mut rng = SplitMix64(4);
        // Inputs with a mean far from zero, as after a ReLU.
        let x = correlated_inputs(&mut rng, 80, 10).mapv(|v| v.abs() + 0.5);
        let w = Array2::from_shape_fn((3, 10), |_| normal(&mut rng));
        let mut pruned = w.clone();
        pruned.slice_mut(ndarray::s![.., ..5]).fill(0.0);
        let mut stats = InputStats::new(10);
        stats.add(x.view());
        let identity = vec![
            Correction {
                scale: 1.0,
                bias: 0.0
            };
            3
        ];
        let before = moments(&x, &w, &identity);

        let deltas = bias_deltas(w.view(), pruned.view(), &stats);
        let shifted: Vec<Correction> = deltas
            .iter()
            .map(|&bias| Correction { scale: 1.0, bias })
            .collect();
        let fixed = corrections(w.view(), pruned.view(), &stats);
        let (plain, mean_only, both) = (
            moments(&x, &pruned, &identity),
            moments(&x, &pruned, &shifted),
            moments(&x, &pruned, &fixed),
        );
        for r in 0..3 {
            assert!(
                (plain[r].0 - before[r].0).abs() > 0.1,
                "pruning moved the mean"
            );
            assert!((mean_only[r].0 - before[r].0).abs() < 1e-9);
            assert!((both[r].0 - before[r].0).abs() < 1e-9);
            assert!((both[r].1 - before[r].1).abs() < 1e-9 * before[r].1.max(1.0));
        }
        let variances = output_variances(w.view(), &stats);
        for r in 0..3 {
            assert!((variances[r] - before[r].1).abs() < 1e-9 * before[r].1.max(1.0));
        }
    }

    #[test]
    fn a_row_pruned_to_nothing_keeps_its_mean_through_the_bias() {
        let x = Array2::from_shape_fn((4, 2), |(i, j)| (i + j) as f32);
        let mut stats = InputStats::new(2);
        stats.add(x.view());
        let w = Array2::from_shape_vec((1, 2), vec![1.0f32, 2.0]).unwrap();
        let zero = Array2::<f32>::zeros((1, 2));
        let fix = corrections(w.view(), zero.view(), &stats);
        // Means 1.5 and 2.5: 1.5 + 2·2.5 = 6.5, no variance left to scale.
        assert_eq!(
            fix,
            vec![Correction {
                scale: 1.0,
                bias: 6.5
            }]
        );
    }
}

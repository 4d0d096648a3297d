//! Wanda (Sun et al. 2023): a weight's score is `|W_ij| · ‖x_j‖₂`, the size of its contribution
//! to its output on the calibration inputs; the lowest scores of each output row are zeroed, and
//! nothing else changes.
//!
//! Unstructured, each row loses its share of the matrix's `round(s · rows · cols)` (rows differ by
//! at most one weight), so the total is exact, as magnitude's is; N:M takes the N lowest of every
//! group of M columns of a row.

use ndarray::Array2;

use super::{Pattern, mask};

/// Prunes `weight` in place given each input column's norm `‖x_j‖₂`.
pub(super) fn prune(weight: &mut Array2<f32>, norms: &[f64], sparsity: f64, pattern: Pattern) {
    let cols = weight.ncols();
    for (r, mut row) in weight.rows_mut().into_iter().enumerate() {
        let scores: Vec<f64> = row
            .iter()
            .zip(norms)
            .map(|(w, x)| w.abs() as f64 * x)
            .collect();
        let chosen = match pattern {
            Pattern::Unstructured => mask::lowest(&scores, mask::share(sparsity, cols, r)),
            Pattern::NofM { n, m } => mask::n_of_m_row(&scores, n, m),
        };
        for j in chosen {
            row[j] = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn scores_by_weight_times_input_norm_per_row() {
        // Column 0's inputs are ten times larger: its small weights outweigh column 1's.
        let mut w = array![[0.2f32, 1.0, 0.5, 0.4], [0.05, 0.3, 0.6, 0.1]];
        let norms = [10.0, 1.0, 1.0, 1.0];
        prune(&mut w, &norms, 0.5, Pattern::Unstructured);
        assert_eq!(w, array![[0.2f32, 1.0, 0.0, 0.0], [0.05, 0.0, 0.6, 0.0]]);
    }

    #[test]
    fn n_of_m_keeps_the_top_of_each_group() {
        let mut w = array![[1.0f32, 1.0, 1.0, 1.0, 3.0, 2.0, 1.0, 4.0]];
        let norms = [1.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0];
        prune(&mut w, &norms, 0.0, Pattern::NofM { n: 2, m: 4 });
        assert_eq!(w, array![[0.0f32, 0.0, 1.0, 1.0, 3.0, 0.0, 0.0, 4.0]]);
    }

    #[test]
    fn the_total_is_exact_when_rows_cannot_split_it_evenly() {
        // 0.5 of 3 columns is 1.5 per row: rows take 2, 1, 1, 2 so that 6 of 12 go.
        let mut w = Array2::from_shape_fn((4, 3), |(i, j)| 1.0 + (i * 3 + j) as f32);
        prune(&mut w, &[1.0; 3], 0.5, Pattern::Unstructured);
        assert_eq!(w.iter().filter(|v| **v == 0.0).count(), 6);
    }
}

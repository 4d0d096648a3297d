//! What a layer's calibration inputs tell about its weight's columns, accumulated batch by batch
//! so that no input matrix is ever held whole: `XᵀX`, the column sums, and the count of rows.

use faer::Mat;
use ndarray::ArrayView2;

/// Statistics of the input rows `x` (one row per input vector, one column per weight column).
#[derive(Debug, Clone)]
pub struct InputStats {
    /// Σ xᵀx over every row seen (columns × columns), in f64.
    pub xtx: Mat<f64>,
    /// Σ x over every row seen.
    pub sum: Vec<f64>,
    /// Rows seen.
    pub rows: u64,
}

impl InputStats {
    pub fn new(columns: usize) -> InputStats {
        InputStats {
            xtx: Mat::zeros(columns, columns),
            sum: vec![0.0; columns],
            rows: 0,
        }
    }

    pub fn columns(&self) -> usize {
        self.sum.len()
    }

    /// Adds a block of input rows (rows × columns).
    pub fn add(&mut self, x: ArrayView2<'_, f32>) {
        assert_eq!(
            x.ncols(),
            self.columns(),
            "input rows have the weight's columns"
        );
        let block = Mat::<f64>::from_fn(x.nrows(), x.ncols(), |i, j| x[[i, j]] as f64);
        // xtx += blockᵀ · block, on every core.
        faer::linalg::matmul::matmul(
            self.xtx.as_mut(),
            faer::Accum::Add,
            block.transpose(),
            block.as_ref(),
            1.0,
            faer::Par::rayon(0),
        );
        for row in x.rows() {
            for (s, v) in self.sum.iter_mut().zip(row) {
                *s += *v as f64;
            }
        }
        self.rows += x.nrows() as u64;
    }

    /// SparseGPT's Hessian of the squared reconstruction error, `2/n · XᵀX`.
    pub fn hessian(&self) -> Mat<f64> {
        let scale = if self.rows == 0 {
            0.0
        } else {
            2.0 / self.rows as f64
        };
        Mat::from_fn(self.columns(), self.columns(), |i, j| {
            self.xtx[(i, j)] * scale
        })
    }

    /// ‖x_j‖₂ of each column over every row seen (Wanda's activation norm).
    pub fn norms(&self) -> Vec<f64> {
        (0..self.columns())
            .map(|j| self.xtx[(j, j)].max(0.0).sqrt())
            .collect()
    }

    /// The mean input row.
    pub fn mean(&self) -> Vec<f64> {
        let n = self.rows.max(1) as f64;
        self.sum.iter().map(|s| s / n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn accumulates_in_blocks_as_in_one() {
        let x = array![[1.0f32, 2.0], [3.0, -1.0], [0.5, 0.0]];
        let mut whole = InputStats::new(2);
        whole.add(x.view());
        let mut parts = InputStats::new(2);
        parts.add(x.slice(ndarray::s![..1, ..]));
        parts.add(x.slice(ndarray::s![1.., ..]));
        assert_eq!(whole.rows, 3);
        for i in 0..2 {
            for j in 0..2 {
                assert!((whole.xtx[(i, j)] - parts.xtx[(i, j)]).abs() < 1e-12);
            }
        }
        assert!((whole.xtx[(0, 1)] - (2.0 - 3.0)).abs() < 1e-12);
        assert!((whole.norms()[1] - 5f64.sqrt()).abs() < 1e-12);
        assert!((whole.mean()[0] - 1.5).abs() < 1e-12);
    }
}

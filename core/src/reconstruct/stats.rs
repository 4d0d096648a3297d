//! What a layer's calibration inputs tell about its weight's columns, accumulated batch by batch
//! so that no input matrix is ever held whole: `XᵀX`, the column sums, and the count of rows.

use std::cell::RefCell;

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};
use ndarray::ArrayView2;

/// From this many columns on, `XᵀX` is accumulated from f32 products of [`F32_ROWS`] rows at a
/// time: each is exact to about √F32_ROWS f32 roundings (1e-6 relative), far under the
/// dampening SparseGPT adds (1e-2 of the mean diagonal); narrower layers cost little in f64.
const F32_FROM_COLUMNS: usize = 128;
/// Rows per f32 product.
const F32_ROWS: usize = 2048;

thread_local! {
    /// The f64 copy of the rows being added.
    static WIDENED: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
    /// A copy of rows not laid out row by row, and one f32 product.
    static PARTIAL: RefCell<(Vec<f32>, Mat<f32>)> = RefCell::new((Vec::new(), Mat::zeros(0, 0)));
}

/// The lower triangle of `into` (+)= blockᵀ · block (half the products of the full matrix:
/// the product is symmetric), on every core.
fn lower_product<T: faer::traits::ComplexField>(
    into: faer::MatMut<'_, T>,
    accum: Accum,
    block: MatRef<'_, T>,
) {
    triangular::matmul(
        into,
        BlockStructure::TriangularLower,
        accum,
        block.transpose(),
        BlockStructure::Rectangular,
        block,
        BlockStructure::Rectangular,
        T::one_impl(),
        Par::rayon(0),
    );
}

/// Statistics of the input rows `x` (one row per input vector, one column per weight column).
#[derive(Debug, Clone)]
pub struct InputStats {
    /// Σ xᵀx over every row seen (columns × columns), in f64: only its lower triangle
    /// (`i ≥ j`) is accumulated and read, the matrix being symmetric.
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
        let (rows, columns) = x.dim();
        if columns >= F32_FROM_COLUMNS {
            self.add_products_f32(x);
        } else {
            self.add_products_f64(x);
        }
        for row in x.rows() {
            for (s, v) in self.sum.iter_mut().zip(row) {
                *s += *v as f64;
            }
        }
        self.rows += rows as u64;
    }

    /// The lower triangle of xtx += xᵀx in f64 throughout.
    fn add_products_f64(&mut self, x: ArrayView2<'_, f32>) {
        let (rows, columns) = x.dim();
        WIDENED.with_borrow_mut(|widened| {
            // The rows widened to f64 once, row-major, in a buffer kept between calls (a fresh
            // one per chunk costs its page faults every time).
            widened.clear();
            widened.reserve(rows * columns);
            match x.as_slice() {
                Some(values) => widened.extend(values.iter().map(|v| *v as f64)),
                None => widened.extend(x.iter().map(|v| *v as f64)),
            }
            let block = MatRef::from_row_major_slice(widened.as_slice(), rows, columns);
            lower_product(self.xtx.as_mut(), Accum::Add, block);
        });
    }

    /// The lower triangle of xtx += xᵀx: the products of at most [`F32_ROWS`] rows at a time
    /// in f32 (twice the rate of f64 products), each added to the f64 sum.
    fn add_products_f32(&mut self, x: ArrayView2<'_, f32>) {
        let columns = x.ncols();
        PARTIAL.with_borrow_mut(|(copy, partial)| {
            if partial.nrows() != columns {
                *partial = Mat::zeros(columns, columns);
            }
            for start in (0..x.nrows()).step_by(F32_ROWS) {
                let part = x.slice(ndarray::s![start..(start + F32_ROWS).min(x.nrows()), ..]);
                let rows = part.nrows();
                let values = match part.to_slice() {
                    Some(values) => values,
                    None => {
                        copy.clear();
                        copy.extend(part.iter().copied());
                        copy.as_slice()
                    }
                };
                let block = MatRef::from_row_major_slice(values, rows, columns);
                lower_product(partial.as_mut(), Accum::Replace, block);
                for j in 0..columns {
                    let from = &partial.col_as_slice(j)[j..];
                    let into = &mut self.xtx.col_as_slice_mut(j)[j..];
                    for (a, b) in into.iter_mut().zip(from) {
                        *a += *b as f64;
                    }
                }
            }
        });
    }

    /// Σ xᵀx at (i, j), read from the accumulated lower triangle.
    pub fn xtx_at(&self, i: usize, j: usize) -> f64 {
        self.xtx[(i.max(j), i.min(j))]
    }

    /// SparseGPT's Hessian of the squared reconstruction error, `2/n · XᵀX`.
    pub fn hessian(&self) -> Mat<f64> {
        let scale = if self.rows == 0 {
            0.0
        } else {
            2.0 / self.rows as f64
        };
        Mat::from_fn(self.columns(), self.columns(), |i, j| {
            self.xtx_at(i, j) * scale
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
                assert!((whole.xtx_at(i, j) - parts.xtx_at(i, j)).abs() < 1e-12);
            }
        }
        assert!((whole.xtx_at(0, 1) - (2.0 - 3.0)).abs() < 1e-12);
        assert!((whole.xtx_at(1, 0) - (2.0 - 3.0)).abs() < 1e-12);
        assert!((whole.norms()[1] - 5f64.sqrt()).abs() < 1e-12);
        assert!((whole.mean()[0] - 1.5).abs() < 1e-12);
    }

    #[test]
    fn wide_inputs_accumulate_from_f32_products_as_in_f64() {
        // Wide enough for the f32 products, in more rows than one product takes.
        let (rows, columns) = (F32_ROWS + 300, F32_FROM_COLUMNS + 5);
        let x = ndarray::Array2::from_shape_fn((rows, columns), |(i, j)| {
            ((i * 7 + j * 13) % 23) as f32 / 23.0 - 0.3
        });
        let mut stats = InputStats::new(columns);
        stats.add(x.view());
        for (i, j) in [
            (0, 0),
            (5, 3),
            (columns - 1, 0),
            (columns - 1, columns - 1),
            (3, 5),
        ] {
            let exact: f64 = (0..rows).map(|r| x[[r, i]] as f64 * x[[r, j]] as f64).sum();
            let got = stats.xtx_at(i, j);
            assert!(
                (got - exact).abs() <= 1e-5 * exact.abs().max(1.0),
                "({i}, {j}): {got} against {exact}"
            );
        }
    }
}

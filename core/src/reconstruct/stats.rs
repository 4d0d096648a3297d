//! What a layer's calibration inputs tell about its weight's columns, accumulated batch by batch
//! so that no input matrix is ever held whole: `XᵀX`, the column sums, and the count of rows;
//! beside them, where the layer is to reproduce the dense model's outputs, what the dense model's
//! inputs to the same layer tell ([`DenseInputs`]).

use std::cell::RefCell;

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};
use ndarray::ArrayView2;

thread_local! {
    /// The f64 copy of the rows being added.
    static WIDENED: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
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
    /// The dense model's inputs to the same layer, row for row beside these (the pruned model's),
    /// when the layer is to reproduce the dense model's outputs rather than its own.
    pub dense: Option<Box<DenseInputs>>,
}

/// The dense model's inputs `x_d` to a layer whose inputs `x_p` in the model being pruned differ
/// (its predecessors are pruned already), on the same samples.
#[derive(Debug, Clone)]
pub struct DenseInputs {
    /// Σ x_d x_pᵀ over every row seen (columns × columns, full: not symmetric), in f64.
    pub cross: Mat<f64>,
    /// The dense inputs' own statistics (their mean and spread, for repair).
    pub stats: InputStats,
}

impl InputStats {
    pub fn new(columns: usize) -> InputStats {
        InputStats {
            xtx: Mat::zeros(columns, columns),
            sum: vec![0.0; columns],
            rows: 0,
            dense: None,
        }
    }

    /// Statistics that also follow the dense model's inputs, given row for row with
    /// [`InputStats::add_paired`].
    pub fn paired(columns: usize) -> InputStats {
        InputStats::paired_with(columns, true)
    }

    /// [`InputStats::paired`], where the dense inputs' own `XᵀX` is accumulated only with
    /// `dense_products` (a BatchNormalization's variance repair reads it; SparseGPT and a bias
    /// read only the cross products and the dense inputs' means): without, a layer of `k` inputs
    /// holds `k²` f64 less (254 MB for a 5632-input projection) and skips a third of the products.
    pub fn paired_with(columns: usize, dense_products: bool) -> InputStats {
        let stats = if dense_products {
            InputStats::new(columns)
        } else {
            InputStats {
                xtx: Mat::zeros(0, 0),
                sum: vec![0.0; columns],
                rows: 0,
                dense: None,
            }
        };
        InputStats {
            dense: Some(Box::new(DenseInputs {
                cross: Mat::zeros(columns, columns),
                stats,
            })),
            ..InputStats::new(columns)
        }
    }

    /// Whether `XᵀX` is accumulated (every statistics but the dense side of a pair made without
    /// its products, [`InputStats::paired_with`]).
    pub fn has_products(&self) -> bool {
        self.xtx.nrows() == self.columns()
    }

    /// Bytes of the f64 matrices held (`XᵀX`, and a pair's cross products and dense `XᵀX`).
    pub fn matrix_bytes(&self) -> u64 {
        let own = (self.xtx.nrows() * self.xtx.ncols() * 8) as u64;
        own + self.dense.as_ref().map_or(0, |d| {
            (d.cross.nrows() * d.cross.ncols() * 8) as u64 + d.stats.matrix_bytes()
        })
    }

    /// Adds a block of the pruned model's input rows `x` and the dense model's rows `dense` on
    /// the same samples (row for row; both rows × columns).
    pub fn add_paired(&mut self, x: ArrayView2<'_, f32>, dense: ArrayView2<'_, f32>) {
        assert_eq!(x.dim(), dense.dim(), "paired rows have one shape");
        self.add(x);
        let Some(d) = self.dense.as_mut() else {
            return;
        };
        d.stats.add(dense);
        let widen = |a: ArrayView2<'_, f32>| {
            Mat::<f64>::from_fn(a.nrows(), a.ncols(), |r, c| a[[r, c]] as f64)
        };
        let (xp, xd) = (widen(x), widen(dense));
        faer::linalg::matmul::matmul(
            d.cross.as_mut(),
            Accum::Add,
            xd.transpose(),
            xp.as_ref(),
            1.0,
            Par::rayon(0),
        );
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
        // f64 throughout: f32 products of even 2048 rows moved ddddocr's SparseGPT 2:4 CER from
        // 2.48% to 4.96% (its nearly singular Hessians magnify the rounding).
        if self.has_products() {
            self.add_products_f64(x);
        }
        let rows = x.nrows();
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
    fn a_pair_without_dense_products_keeps_the_rest_the_same() {
        let x = array![[1.0f32, 2.0], [3.0, -1.0], [0.5, 0.0]];
        let dense = array![[1.5f32, 2.0], [2.0, -1.0], [0.5, 1.0]];
        let mut full = InputStats::paired(2);
        full.add_paired(x.view(), dense.view());
        let mut lean = InputStats::paired_with(2, false);
        lean.add_paired(x.view(), dense.view());
        let (f, l) = (full.dense.as_ref().unwrap(), lean.dense.as_ref().unwrap());
        assert!(f.stats.has_products() && !l.stats.has_products() && lean.has_products());
        assert_eq!(f.cross, l.cross);
        assert_eq!(full.xtx, lean.xtx);
        assert_eq!(f.stats.mean(), l.stats.mean());
        assert_eq!((l.stats.rows, lean.rows), (3, 3));
        assert_eq!(full.matrix_bytes(), 3 * 4 * 8);
        assert_eq!(lean.matrix_bytes(), 2 * 4 * 8);
    }
}

//! What a layer's calibration inputs tell about its weight's columns, accumulated batch by batch
//! so that no input matrix is ever held whole: `XᵀX` (or only its diagonal, or nothing of it:
//! [`Products`], what the layer's pruning and repair read), the column sums, and the count of
//! rows; beside them, where the layer is to reproduce the dense model's outputs, what the dense model's
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

/// How much of `XᵀX` a layer's statistics accumulate: what its pruning and repair read, no more
/// (a layer of `k` inputs: `k²` f64 for the whole, `k` for the diagonal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Products {
    /// Nothing of it: the column sums and the count of rows only (a mean repair reads no more).
    None,
    /// Its diagonal, `Σ x_j²` per column: Wanda's input norms.
    Diagonal,
    /// The whole matrix (its lower triangle): SparseGPT's and GPTQ's Hessian, a
    /// BatchNormalization's variance repair (`w Σ wᵀ`), channel importance.
    Full,
}

impl Products {
    /// Bytes of the f64 statistics one group of `columns` inputs holds with these products (the
    /// column sums included), `None` where the count overflows.
    pub fn bytes(self, columns: u64) -> Option<u64> {
        let products = match self {
            Products::None => 0,
            Products::Diagonal => columns,
            Products::Full => columns.checked_mul(columns)?,
        };
        products.checked_add(columns)?.checked_mul(8)
    }
}

/// Statistics of the input rows `x` (one row per input vector, one column per weight column).
#[derive(Debug, Clone)]
pub struct InputStats {
    /// Σ xᵀx over every row seen (columns × columns), in f64: only its lower triangle
    /// (`i ≥ j`) is accumulated and read, the matrix being symmetric. Empty (0 × 0) unless the
    /// products are [`Products::Full`].
    pub xtx: Mat<f64>,
    /// Σ x_j² per column over every row seen, in f64, where the products are
    /// [`Products::Diagonal`]; empty otherwise (with the whole matrix it is `xtx`'s diagonal).
    pub squares: Vec<f64>,
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
    /// Statistics with the whole `XᵀX`.
    pub fn new(columns: usize) -> InputStats {
        InputStats::with(columns, Products::Full)
    }

    /// Statistics that accumulate `products` of `XᵀX` beside the column sums.
    pub fn with(columns: usize, products: Products) -> InputStats {
        let (matrix, diagonal) = match products {
            Products::None => (0, 0),
            Products::Diagonal => (0, columns),
            Products::Full => (columns, 0),
        };
        InputStats {
            xtx: Mat::zeros(matrix, matrix),
            squares: vec![0.0; diagonal],
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
        let stats = InputStats::with(
            columns,
            if dense_products {
                Products::Full
            } else {
                Products::None
            },
        );
        InputStats {
            dense: Some(Box::new(DenseInputs {
                cross: Mat::zeros(columns, columns),
                stats,
            })),
            ..InputStats::new(columns)
        }
    }

    /// What of `XᵀX` is accumulated.
    pub fn products(&self) -> Products {
        if self.xtx.nrows() == self.columns() {
            Products::Full
        } else if self.squares.len() == self.columns() {
            Products::Diagonal
        } else {
            Products::None
        }
    }

    /// Whether the whole `XᵀX` is accumulated.
    pub fn has_products(&self) -> bool {
        self.products() == Products::Full
    }

    /// Bytes of the f64 statistics held: `XᵀX` or its diagonal, the column sums, and a pair's
    /// cross products and dense statistics.
    pub fn held_bytes(&self) -> u64 {
        let own = self.xtx.nrows() * self.xtx.ncols() + self.squares.len() + self.sum.len();
        (own * 8) as u64
            + self.dense.as_ref().map_or(0, |d| {
                (d.cross.nrows() * d.cross.ncols() * 8) as u64 + d.stats.held_bytes()
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
        match self.products() {
            Products::Full => self.add_products_f64(x),
            Products::Diagonal => self.add_squares(x),
            Products::None => {}
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

    /// squares += Σ x_j² per column, in f64 (each f32 square is exact in f64, so only the order
    /// of the sums can differ from the whole matrix's diagonal: by a rounding, no more).
    fn add_squares(&mut self, x: ArrayView2<'_, f32>) {
        for row in x.rows() {
            for (s, v) in self.squares.iter_mut().zip(row) {
                let v = *v as f64;
                *s += v * v;
            }
        }
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

    /// ‖x_j‖₂ of each column over every row seen (Wanda's activation norm), from the whole
    /// `XᵀX`'s diagonal or the diagonal alone, whichever was accumulated.
    pub fn norms(&self) -> Vec<f64> {
        let squares: Vec<f64> = match self.products() {
            Products::Full => (0..self.columns()).map(|j| self.xtx[(j, j)]).collect(),
            Products::Diagonal => self.squares.clone(),
            Products::None => panic!("input norms read XᵀX's diagonal, which was not accumulated"),
        };
        squares.into_iter().map(|s| s.max(0.0).sqrt()).collect()
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
        // XᵀX, cross products, dense XᵀX and both sides' sums; the lean pair has no dense XᵀX.
        assert_eq!(full.held_bytes(), (3 * 4 + 2 * 2) * 8);
        assert_eq!(lean.held_bytes(), (2 * 4 + 2 * 2) * 8);
    }

    /// Input rows whose columns differ in scale by orders of magnitude, with zeros among them.
    fn uneven_rows(rows: usize, columns: usize) -> ndarray::Array2<f32> {
        let mut rng = crate::runtime::SplitMix64(11);
        ndarray::Array2::from_shape_fn((rows, columns), |(_, j)| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            if u.abs() < 0.05 {
                0.0
            } else {
                (u * 10f64.powi(j as i32 % 7 - 3)) as f32
            }
        })
    }

    #[test]
    fn the_diagonal_alone_gives_the_norms_the_whole_matrix_gives() {
        // In chunks, as the collectors add them: both sides see the same rows in the same blocks.
        let x = uneven_rows(3000, 67);
        let (mut whole, mut diagonal) = (
            InputStats::with(67, Products::Full),
            InputStats::with(67, Products::Diagonal),
        );
        for start in (0..3000).step_by(700) {
            let block = x.slice(ndarray::s![start..(start + 700).min(3000), ..]);
            whole.add(block);
            diagonal.add(block);
        }
        assert_eq!(
            (whole.products(), diagonal.products()),
            (Products::Full, Products::Diagonal)
        );
        assert_eq!(diagonal.xtx.nrows(), 0, "no matrix is held");
        assert_eq!(
            (whole.rows, whole.sum.clone()),
            (diagonal.rows, diagonal.sum.clone())
        );
        for (j, (a, b)) in whole.norms().iter().zip(diagonal.norms()).enumerate() {
            // The same exact squares summed in another order: equal but for roundings.
            assert!((a - b).abs() <= 1e-12 * a, "column {j}: {a} and {b}");
        }
        assert_eq!(diagonal.held_bytes(), Products::Diagonal.bytes(67).unwrap());
        assert_eq!(whole.held_bytes(), Products::Full.bytes(67).unwrap());
        assert_eq!(diagonal.held_bytes(), 2 * 67 * 8);
        // fc2 of the generated 2 GB model: 558 GB whole, 4.2 MB as a diagonal and sums.
        assert_eq!(Products::Diagonal.bytes(264_192), Some(2 * 264_192 * 8));
        assert_eq!(Products::Full.bytes(u64::MAX), None);
    }
}

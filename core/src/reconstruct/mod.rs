//! One-shot pruning of a layer's weight from the inputs it sees on calibration samples:
//! magnitude (no data), Wanda (`|W|·‖x‖₂`, no update) and SparseGPT (the Hessian of the layer's
//! reconstruction error; each pruned weight's error compensated on the columns not yet pruned).
//!
//! A weight is seen here as a matrix with one row per output and one column per input feature,
//! whatever its ONNX layout (Conv through im2col, Gemm either transposed, MatMul with the weight
//! on either side); `stats` holds what the calibration inputs tell about those columns.

pub mod collect;
pub mod layout;
pub mod method;
pub mod pattern;
pub mod sequence;
pub mod stats;

use ndarray::Array2;

pub use method::{Method, SparseGptSettings};
pub use pattern::Pattern;
pub use stats::InputStats;

/// What pruning one weight matrix did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatrixReport {
    /// The fraction of zeros afterwards (zeros already there included).
    pub sparsity: f64,
    /// SparseGPT: the dampening that made the Hessian factorizable (a fraction of its mean
    /// diagonal); higher than asked when a factorization failed and was retried.
    pub damp: Option<f64>,
    /// SparseGPT: the factorizations that failed before one succeeded.
    pub retries: usize,
    /// Floating-point operations spent (Hessian factorization and updates), for the benchmark.
    pub flops: f64,
}

/// Why a matrix could not be pruned as asked.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixError {
    /// The Hessian stayed singular however much it was dampened.
    Singular { damp: f64 },
}

/// Prunes `weight` (outputs × inputs) in place to `sparsity` (N:M patterns fix their own) with
/// `method`; `stats` are the calibration inputs' statistics over its columns (unused by
/// magnitude).
pub fn prune_matrix(
    method: Method,
    weight: &mut Array2<f32>,
    stats: Option<&InputStats>,
    sparsity: f64,
    pattern: Pattern,
    settings: &SparseGptSettings,
) -> Result<MatrixReport, MatrixError> {
    let _ = (method, weight, stats, sparsity, pattern, settings);
    todo!("reconstruct::prune_matrix: filled in by the method implementations")
}

//! One-shot pruning of a layer's weight from the inputs it sees on calibration samples:
//! magnitude (no data), Wanda (`|W|·‖x‖₂`, no update) and SparseGPT (the Hessian of the layer's
//! reconstruction error; each pruned weight's error compensated on the columns not yet pruned).
//!
//! A weight is seen here as a matrix with one row per output and one column per input feature,
//! whatever its ONNX layout (Conv through im2col, Gemm either transposed, MatMul with the weight
//! on either side); `stats` holds what the calibration inputs tell about those columns.
//!
//! Every method removes exactly `round(s · rows · cols)` weights unstructured (half to even, as
//! magnitude pruning always has), and exactly N of every M columns of each row under N:M; ties
//! between equal scores go to the earlier position.

pub mod collect;
pub mod layout;
pub mod magnitude;
mod mask;
pub mod method;
pub mod pattern;
pub mod rate;
pub mod repair;
pub mod sequence;
pub mod sparsegpt;
pub mod stats;
mod wanda;

#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod tests;

use ndarray::Array2;

pub use method::{Method, SparseGptSettings};
pub use pattern::Pattern;
pub use stats::{InputStats, Products};

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
    /// SparseGPT: input columns never active on the samples (`H_jj = 0`), whose weights were
    /// zeroed.
    pub dead_columns: usize,
}

/// Why a matrix could not be pruned as asked.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixError {
    /// The Hessian stayed singular however much it was dampened.
    Singular { damp: f64 },
    /// The method reads calibration inputs and none were given (or none had rows).
    NoSamples { method: Method },
    /// The statistics describe a different number of input columns than the weight has.
    StatsShape {
        weight_columns: usize,
        stats_columns: usize,
    },
    /// An N:M pattern's M does not divide the row's width.
    PatternMisfit { columns: usize, pattern: Pattern },
}

impl std::fmt::Display for MatrixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatrixError::Singular { damp } => write!(
                f,
                "the layer's Hessian could not be factorized even dampened by {damp} of its mean \
                 diagonal; its calibration inputs are degenerate (check the samples)"
            ),
            MatrixError::NoSamples { method } => write!(
                f,
                "{} pruning reads the layer's inputs on calibration samples and none were given",
                method.name()
            ),
            MatrixError::StatsShape {
                weight_columns,
                stats_columns,
            } => write!(
                f,
                "the calibration inputs have {stats_columns} features but the weight has \
                 {weight_columns} input columns"
            ),
            MatrixError::PatternMisfit { columns, pattern } => write!(
                f,
                "the {} pattern needs rows whose width is a multiple of {}, and this layer's rows \
                 have {columns} inputs",
                pattern.name(),
                match pattern {
                    Pattern::NofM { m, .. } => *m,
                    Pattern::Unstructured => 1,
                }
            ),
        }
    }
}

impl std::error::Error for MatrixError {}

/// Prunes `weight` (outputs × inputs) in place to `sparsity` (N:M patterns fix their own) with
/// `method`; `stats` are the calibration inputs' statistics over its columns (unused by
/// magnitude). On error the weight is left as it was.
pub fn prune_matrix(
    method: Method,
    weight: &mut Array2<f32>,
    stats: Option<&InputStats>,
    sparsity: f64,
    pattern: Pattern,
    settings: &SparseGptSettings,
) -> Result<MatrixReport, MatrixError> {
    let columns = weight.ncols();
    if !pattern.fits(columns) {
        return Err(MatrixError::PatternMisfit { columns, pattern });
    }
    let sparsity = pattern.sparsity().unwrap_or(sparsity).clamp(0.0, 1.0);
    let mut report = MatrixReport::default();
    match method {
        Method::Magnitude => match pattern {
            Pattern::Unstructured => magnitude::prune_unstructured(weight, sparsity),
            Pattern::NofM { n, m } => magnitude::prune_n_of_m(weight, n, m),
        },
        Method::Wanda => {
            let stats = samples(method, stats, columns)?;
            wanda::prune(weight, &stats.norms(), sparsity, pattern);
        }
        Method::SparseGpt => {
            let stats = samples(method, stats, columns)?;
            report = sparsegpt::prune(weight, stats, sparsity, pattern, settings)?;
        }
    }
    report.sparsity = zero_fraction(weight);
    Ok(report)
}

/// The statistics a method that reads samples needs, checked against the weight's columns.
fn samples(
    method: Method,
    stats: Option<&InputStats>,
    columns: usize,
) -> Result<&InputStats, MatrixError> {
    let stats = stats
        .filter(|s| s.rows > 0)
        .ok_or(MatrixError::NoSamples { method })?;
    if stats.columns() != columns {
        return Err(MatrixError::StatsShape {
            weight_columns: columns,
            stats_columns: stats.columns(),
        });
    }
    Ok(stats)
}

/// The fraction of exact zeros in a matrix.
pub fn zero_fraction(weight: &Array2<f32>) -> f64 {
    let zeros = weight.iter().filter(|v| **v == 0.0).count();
    zeros as f64 / weight.len().max(1) as f64
}

//! The machine's measured matrix-product rate, against which a pruning run's FLOPs are judged:
//! a run's bound is its FLOPs divided by this rate.

use std::time::{Duration, Instant};

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

/// The side of the square f64 products timed: large enough for faer to reach its blocked
/// kernels on every core, small enough that one product takes milliseconds.
const SIDE: usize = 1024;

/// This machine's f64 matrix-product rate in FLOP/s, with faer on every core, measured over
/// about a second.
pub fn matmul_rate() -> f64 {
    matmul_rate_over(Duration::from_secs(1))
}

/// The rate measured over at least `time` (after one untimed product that warms the threads and
/// caches).
pub fn matmul_rate_over(time: Duration) -> f64 {
    let a = Mat::<f64>::from_fn(SIDE, SIDE, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
    let b = Mat::<f64>::from_fn(SIDE, SIDE, |i, j| ((i * 5 + j) % 13) as f64 - 6.0);
    let mut c = Mat::<f64>::zeros(SIDE, SIDE);
    let mut product = || {
        matmul(
            c.as_mut(),
            Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0,
            Par::rayon(0),
        )
    };
    product();
    let start = Instant::now();
    let mut products = 0u32;
    while products == 0 || start.elapsed() < time {
        product();
        products += 1;
    }
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    2.0 * (SIDE as f64).powi(3) * products as f64 / seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_a_positive_number() {
        let rate = matmul_rate_over(Duration::from_millis(10));
        assert!(rate.is_finite() && rate > 0.0, "{rate}");
    }
}

//! Percentiles of timings, one definition for every figure prunekit reports (benchmark latency,
//! perf profile statistics, the structured fit's timings): linear interpolation between the
//! closest ranks, numpy's default, so the figures compare with the Python peers'.

/// The `q`-th quantile (0 to 1) of values sorted ascending; 0 for none.
pub fn of_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let at = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64)
        }
    }
}

/// The median of `values`, in any order; 0 for none.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    of_sorted(&values, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_numpy() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(of_sorted(&sorted, 0.5), 2.5);
        assert!((of_sorted(&sorted, 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(of_sorted(&[], 0.5), 0.0);
        assert_eq!(of_sorted(&[7.0], 0.99), 7.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}

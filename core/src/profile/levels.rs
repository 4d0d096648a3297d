//! Sparsity levels and what is computed over a series of (level, value) points: interpolation,
//! the trapezoid integral and ranks. One place, so every profile agrees on them.

/// Sparsify's performance sweep (DeepSparse's `imposed_ks`).
pub const PERF_LEVELS: [f64; 10] = [0.0, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99];

/// SparseML's default one-shot levels.
pub const LOSS_LEVELS: [f64; 10] = [0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99];

/// The magnitude profile's 100 levels, 0.00 to 0.99.
pub fn magnitude_levels() -> Vec<f64> {
    (0..100).map(|i| i as f64 / 100.0).collect()
}

/// A level as a JSON key: the shortest decimal that reads back to the same value
/// ("0", "0.4", "0.975").
pub fn level_key(level: f64) -> String {
    let rounded = (level * 1e6).round() / 1e6;
    let text = format!("{rounded}");
    if text == "-0" { "0".into() } else { text }
}

/// Linear interpolation of (levels, values) at `s`, clamped at the ends (never extrapolated:
/// Sparsify's extrapolation made up values beyond the last measured level).
pub fn interpolate(levels: &[f64], values: &[f64], s: f64) -> f64 {
    let n = levels.len().min(values.len());
    if n == 0 {
        return 0.0;
    }
    if s <= levels[0] {
        return values[0];
    }
    for i in 1..n {
        if s <= levels[i] {
            let (x0, x1) = (levels[i - 1], levels[i]);
            let t = if x1 > x0 { (s - x0) / (x1 - x0) } else { 1.0 };
            return values[i - 1] + t * (values[i] - values[i - 1]);
        }
    }
    values[n - 1]
}

/// The trapezoid rule over the points in level order, as SparseML's `sparse_integral`
/// (a single point gives its value).
pub fn integral(levels: &[f64], values: &[f64]) -> f64 {
    let n = levels.len().min(values.len());
    match n {
        0 => 0.0,
        1 => values[0],
        _ => (1..n)
            .map(|i| (values[i - 1] + values[i]) / 2.0 * (levels[i] - levels[i - 1]))
            .sum(),
    }
}

/// 1 for the largest score, ties in input order.
pub fn ranks_descending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut ranks = vec![0; scores.len()];
    for (rank, i) in order.into_iter().enumerate() {
        ranks[i] = rank + 1;
    }
    ranks
}

/// Checks user-given levels: each in [0, 1), strictly ascending.
pub fn validate(levels: &[f64]) -> Result<(), String> {
    if levels.is_empty() {
        return Err("give at least one level, such as 0.5,0.9".into());
    }
    if let Some(bad) = levels.iter().find(|s| !(0.0..1.0).contains(*s)) {
        return Err(format!(
            "level {bad} is outside [0, 1); levels are sparsities such as 0.5 or 0.9"
        ));
    }
    if levels.windows(2).any(|w| w[1] <= w[0]) {
        return Err("levels must be in ascending order with no repeats".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_interpolation_integral_ranks() {
        assert_eq!(level_key(0.0), "0");
        assert_eq!(level_key(0.4), "0.4");
        assert_eq!(level_key(0.975), "0.975");
        assert_eq!(level_key(0.7000000000000001), "0.7");
        let (x, y) = ([0.0, 0.5, 1.0], [0.0, 1.0, 3.0]);
        assert_eq!(interpolate(&x, &y, 0.25), 0.5);
        assert_eq!(interpolate(&x, &y, 0.75), 2.0);
        assert_eq!(interpolate(&x, &y, 2.0), 3.0);
        assert_eq!(integral(&x, &y), 0.25 + 1.0);
        assert_eq!(integral(&[0.3], &[7.0]), 7.0);
        assert_eq!(ranks_descending(&[0.1, 0.5, 0.3]), vec![3, 1, 2]);
        assert!(validate(&[0.5, 0.4]).is_err());
        assert!(validate(&[0.5, 1.0]).is_err());
        assert!(validate(&[0.0, 0.5]).is_ok());
    }
}

//! Magnitude pruning of one weight tensor: the `round(s·N)` values of smallest |w| become zero
//! (ties broken by position, so the count is exact and repeatable). Weights already zero are the
//! smallest, so they count towards the level.

/// How many of `n` weights a level removes, as SparseML rounds it (half to even).
pub fn pruned_count(level: f64, n: usize) -> usize {
    ((level * n as f64).round_ties_even() as usize).min(n)
}

/// The positions of the weights to zero, for each level, ascending levels sharing one ordering:
/// `order[..pruned_count(level)]`.
pub fn magnitude_order(weights: &[f32]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..weights.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        weights[a as usize]
            .abs()
            .total_cmp(&weights[b as usize].abs())
            .then(a.cmp(&b))
    });
    order
}

/// A copy of `weights` with the `pruned_count(level)` smallest magnitudes zeroed.
pub fn pruned(weights: &[f32], order: &[u32], level: f64) -> Vec<f32> {
    let mut out = weights.to_vec();
    for &i in &order[..pruned_count(level, weights.len())] {
        out[i as usize] = 0.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_the_smallest_magnitudes_exactly() {
        let w = [0.5, -0.1, 0.3, -0.9, 0.0, 0.2];
        let order = magnitude_order(&w);
        assert_eq!(pruned(&w, &order, 0.5), vec![0.5, 0.0, 0.3, -0.9, 0.0, 0.0]);
        assert_eq!(pruned(&w, &order, 0.0), w.to_vec());
        // 0.85 · 10 = 8.5 rounds to 8, as SparseML's Python round does.
        assert_eq!(pruned_count(0.85, 10), 8);
        assert_eq!(pruned_count(0.95, 10), 10);
    }
}

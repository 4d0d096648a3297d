//! Magnitude pruning: the smallest |w| become zero, ties broken by position so that the count is
//! exact and repeatable. Weights already zero are the smallest, so they count towards the level.
//! Unstructured pruning ranks the whole tensor (export and the magnitude profiles use these
//! functions on a weight's values in ONNX order); N:M ranks each group of M columns of a row.

use ndarray::Array2;

use super::mask;

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

/// A copy of `weights` with the `pruned_count(level)` smallest magnitudes zeroed: the same ones
/// `pruned` with `magnitude_order` zeroes (`prune_smallest_in_place` on a copy).
pub fn pruned_smallest(weights: &[f32], level: f64) -> Vec<f32> {
    let mut out = weights.to_vec();
    prune_smallest_in_place(&mut out, level);
    out
}

/// Zeroes the `pruned_count(level)` smallest magnitudes of `weights` in place: the same ones
/// `pruned` with `magnitude_order` zeroes (ties at the last magnitude zeroed by position, first
/// ones first). The magnitude at the cut is found by a radix selection on the bits of |w| (for
/// non-negative floats, and NaN after infinity as `total_cmp` puts it, the order of the bits is
/// the order of the values): two counting passes of 2^16 bins, then one pass that zeroes, so no
/// memory beyond the weights themselves. One level needs no full order, and a weight of hundreds
/// of millions of values is pruned in a few passes over it.
pub fn prune_smallest_in_place(weights: &mut [f32], level: f64) {
    let count = pruned_count(level, weights.len());
    if count == 0 {
        return;
    }
    let key = |w: f32| w.to_bits() & 0x7fff_ffff;
    // The high 16 bits of the count-th smallest key, and how many keys lie below that bin.
    let mut bins = vec![0usize; 1 << 16];
    for &w in weights.iter() {
        bins[(key(w) >> 16) as usize] += 1;
    }
    let (high, below_high) = nth_bin(&bins, count);
    bins.iter_mut().for_each(|b| *b = 0);
    for &w in weights.iter() {
        let k = key(w);
        if k >> 16 == high as u32 {
            bins[(k & 0xffff) as usize] += 1;
        }
    }
    let (low, below_low) = nth_bin(&bins, count - below_high);
    let cut = ((high as u32) << 16) | low as u32;
    // Every key below the cut goes; of the keys equal to it, the first ones by position.
    let mut ties = count - below_high - below_low;
    for w in weights.iter_mut() {
        let k = key(*w);
        if k < cut {
            *w = 0.0;
        } else if k == cut && ties > 0 {
            *w = 0.0;
            ties -= 1;
        }
    }
}

/// The bin holding the `nth` (1-based) smallest of the counted values, and how many lie in the
/// bins before it.
fn nth_bin(bins: &[usize], nth: usize) -> (usize, usize) {
    let mut below = 0;
    for (i, &n) in bins.iter().enumerate() {
        if below + n >= nth {
            return (i, below);
        }
        below += n;
    }
    unreachable!("nth is at most the number of values counted")
}

/// Zeroes the `pruned_count(sparsity)` smallest |w| of the whole matrix (row-major positions
/// break ties, as `magnitude_order` on the same values does).
pub(super) fn prune_unstructured(weight: &mut Array2<f32>, sparsity: f64) {
    let values: Vec<f32> = weight.iter().copied().collect();
    let out = pruned_smallest(&values, sparsity);
    for (w, v) in weight.iter_mut().zip(out) {
        *w = v;
    }
}

/// Zeroes the `n` smallest |w| of each group of `m` consecutive columns of every row.
pub(super) fn prune_n_of_m(weight: &mut Array2<f32>, n: usize, m: usize) {
    for mut row in weight.rows_mut() {
        let scores: Vec<f64> = row.iter().map(|w| w.abs() as f64).collect();
        for j in mask::n_of_m_row(&scores, n, m) {
            row[j] = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

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

    #[test]
    fn selection_zeroes_what_the_full_order_zeroes_ties_included() {
        // Magnitudes with many ties (quarter steps), both signs.
        let w: Vec<f32> = (0..997u32)
            .map(|i| ((i * 7919 % 13) as f32 - 6.0) * 0.25)
            .collect();
        let order = magnitude_order(&w);
        for level in [0.0, 0.1, 0.37, 0.5, 0.9, 1.0] {
            assert_eq!(
                pruned_smallest(&w, level),
                pruned(&w, &order, level),
                "{level}"
            );
        }
    }

    #[test]
    fn the_matrix_form_matches_the_flat_one() {
        let mut w = array![[0.5f32, -0.1, 0.3], [-0.9, 0.1, 0.2]];
        let flat: Vec<f32> = w.iter().copied().collect();
        let expected = pruned(&flat, &magnitude_order(&flat), 0.5);
        prune_unstructured(&mut w, 0.5);
        // The tie between -0.1 and 0.1 goes to the earlier position.
        assert_eq!(w.iter().copied().collect::<Vec<_>>(), expected);
        assert_eq!(expected, vec![0.5, 0.0, 0.3, -0.9, 0.0, 0.0]);
    }

    #[test]
    fn n_of_m_prunes_each_group() {
        let mut w = array![[0.4f32, -0.1, 0.3, 0.2, 1.0, 1.0, 1.0, 1.0]];
        prune_n_of_m(&mut w, 2, 4);
        assert_eq!(w, array![[0.4f32, 0.0, 0.3, 0.0, 0.0, 0.0, 1.0, 1.0]]);
    }
}

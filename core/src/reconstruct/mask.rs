//! Choosing which weights to zero from their scores: the lowest first, ties broken by position
//! (so that a mask is exact and repeatable), and how a total count is shared out exactly.

/// The positions of the `count` lowest `scores`, ties to the earlier position.
pub(super) fn lowest(scores: &[f64], count: usize) -> Vec<usize> {
    let count = count.min(scores.len());
    let mut order: Vec<usize> = (0..scores.len()).collect();
    let by_score = |&a: &usize, &b: &usize| scores[a].total_cmp(&scores[b]).then(a.cmp(&b));
    if count > 0 && count < order.len() {
        order.select_nth_unstable_by(count - 1, by_score);
    }
    order.truncate(count);
    order
}

/// In each group of `m` consecutive positions of a row, the `n` lowest scores.
pub(super) fn n_of_m_row(scores: &[f64], n: usize, m: usize) -> Vec<usize> {
    let mut chosen = Vec::with_capacity(scores.len() / m * n);
    for (g, group) in scores.chunks(m).enumerate() {
        chosen.extend(lowest(group, n).into_iter().map(|j| g * m + j));
    }
    chosen
}

/// The share of part `i` (of `unit` weights) in a total of `round(level · unit · parts)`: parts
/// differ by at most one weight and add up to exactly the rounded total.
pub(super) fn share(level: f64, unit: usize, i: usize) -> usize {
    let end = (level * (unit * (i + 1)) as f64).round_ties_even() as usize;
    let start = (level * (unit * i) as f64).round_ties_even() as usize;
    end.saturating_sub(start).min(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_breaks_ties_by_position() {
        let mut got = lowest(&[0.3, 0.1, 0.1, 0.0, 0.1], 3);
        got.sort();
        assert_eq!(got, vec![1, 2, 3]);
        assert!(lowest(&[1.0, 2.0], 0).is_empty());
        assert_eq!(lowest(&[1.0, 2.0], 5).len(), 2);
    }

    #[test]
    fn shares_add_up_to_the_rounded_total() {
        for (level, unit, parts) in [(0.5, 9, 7), (0.7, 13, 5), (0.33, 128, 3), (1.0, 4, 2)] {
            let total: usize = (0..parts).map(|i| share(level, unit, i)).sum();
            let expected = (level * (unit * parts) as f64).round_ties_even() as usize;
            assert_eq!(total, expected, "{level} of {unit} × {parts}");
            for i in 0..parts {
                let s = share(level, unit, i) as f64;
                assert!((s - level * unit as f64).abs() <= 1.0);
            }
        }
    }
}

//! The entropy calibration's threshold search: the clipping range whose uint8 version of an
//! activation's histogram is closest, in KL divergence, to the histogram itself.
//!
//! A candidate range `[-a, b)` (in histogram bins either side of zero) is judged as the quantizer
//! would use it: 256 uint8 levels spread over the range, zero one of them. The reference
//! distribution is the histogram with the values outside the range moved into its end bins (what
//! clipping does to them); the quantized distribution merges the bins that round to the same level
//! and spreads each level's count evenly over its non-empty bins, without the clipped values. A
//! wide range keeps the tails but merges the body into few levels; a narrow one keeps the body
//! fine but piles the tails onto its ends: the divergence weighs the two.
//!
//! Both ends are searched, not one threshold mirrored about zero: a ReLU's output (nothing below
//! zero) keeps all 256 levels for its positive side, and a skewed activation gets a skewed range.
//! The search is coarse to fine (a scan of the range's size with both ends in the proportion the
//! values reach, then each end alone, then single bins around the best) so that a model's hundreds
//! of activations are searched in well under a second.

/// uint8 levels a range is quantized to, less one: the steps between them.
const STEPS: f64 = 255.0;
/// The narrowest range tried, in bins: at least one bin per level, so that merging bins into
/// levels is what the divergence measures.
const MIN_BINS: usize = 256;
/// Candidates per coarse scan.
const SCAN: usize = 128;
/// The quantized distribution's stand-in for zero where the reference has mass it has none of
/// (a clipped tail piled onto an empty end bin): a large but finite penalty.
const EPSILON: f64 = 1e-7;

/// A histogram of an activation: `bins[zero]` is the first bin at or above zero; each bin is
/// `width` wide.
pub struct Histogram<'a> {
    pub bins: &'a [u64],
    pub zero: usize,
    pub width: f64,
    /// Values exactly zero, counted in `bins[zero]`. Every range represents them exactly (zero is
    /// a level), so they are left out: a ReLU's spike of zeros shares its level with the small
    /// positive values, and spreading the spike over them would make every range but the
    /// narrowest look bad.
    pub exact_zeros: u64,
}

impl Histogram<'_> {
    /// The range `(lo, hi)` with the smallest divergence; `None` when the histogram holds no
    /// value but zeros.
    pub fn entropy_range(&self) -> Option<(f64, f64)> {
        let mut bins = self.bins.to_vec();
        if let Some(n) = bins.get_mut(self.zero) {
            *n = n.saturating_sub(self.exact_zeros);
        }
        // The extent counts the spikes: a range may reach out to one.
        let first = bins.iter().position(|&n| n > 0)?;
        let last = bins.iter().rposition(|&n| n > 0)?;
        let spikes = split_spikes(&mut bins);
        // Bins below zero that hold values, and bins from zero up.
        let below = self.zero.saturating_sub(first);
        let above = (last + 1).saturating_sub(self.zero);
        let (a, b) = if below + above <= MIN_BINS {
            (below, above)
        } else {
            Search::new(&bins, &spikes, self.zero).best(below, above)
        };
        Some((-(a as f64) * self.width, b as f64 * self.width))
    }
}

/// Bins around a bin that tell its background.
const SPIKE_NEIGHBORS: usize = 8;
/// A bin is a spike when it holds more than this many times its background (and more than this
/// many values).
const SPIKE_RATIO: u64 = 8;

/// Takes the spikes out of `bins` and returns them: a bin holding many times what the bins on
/// either side of it hold is a value repeated many times (an image's flat background through a
/// convolution gives one per channel), not a density. Like the zeros, each is one value that any
/// range wide enough represents to within half a step, so spreading it over its level's other
/// bins would overstate what a wide range loses; what is left in the bin is its background, and
/// the excess counts only where a range clips it.
fn split_spikes(bins: &mut [u64]) -> Vec<u64> {
    let n = bins.len();
    let mean = |range: std::ops::Range<usize>| {
        let len = range.len().max(1) as u64;
        bins[range].iter().sum::<u64>() / len
    };
    let mut excess = vec![0u64; n];
    for k in 0..n {
        let left = mean(k.saturating_sub(SPIKE_NEIGHBORS)..k);
        let right = mean((k + 1).min(n)..(k + 1 + SPIKE_NEIGHBORS).min(n));
        let background = left.max(right);
        if bins[k] > SPIKE_RATIO * (background + 1) {
            excess[k] = bins[k] - background;
        }
    }
    for (bin, e) in bins.iter_mut().zip(&excess) {
        *bin -= e;
    }
    excess
}

/// The histogram's running sums, for the mass outside a candidate range.
struct Search<'a> {
    bins: &'a [u64],
    zero: usize,
    /// `prefix[i]` is the count in `bins[..i]`.
    prefix: Vec<u64>,
    /// The same over the spikes' excess.
    spike_prefix: Vec<u64>,
}

/// Running sums of `counts`, from 0.
fn running_sums(counts: &[u64]) -> Vec<u64> {
    let mut prefix = Vec::with_capacity(counts.len() + 1);
    prefix.push(0u64);
    for &n in counts {
        prefix.push(prefix.last().copied().unwrap_or(0) + n);
    }
    prefix
}

impl<'a> Search<'a> {
    fn new(bins: &'a [u64], spikes: &[u64], zero: usize) -> Search<'a> {
        Search {
            bins,
            zero,
            prefix: running_sums(bins),
            spike_prefix: running_sums(spikes),
        }
    }

    /// The best `(a, b)` with `a <= below`, `b <= above` and at least `MIN_BINS` bins in all.
    fn best(&self, below: usize, above: usize) -> (usize, usize) {
        let total = below + above;
        let mut best = (below, above, self.divergence(below, above));
        let consider = |a: usize, b: usize, best: &mut (usize, usize, f64)| {
            if a <= below && b <= above && a + b >= MIN_BINS {
                let d = self.divergence(a, b);
                if d < best.2 {
                    *best = (a, b, d);
                }
            }
        };
        // Both ends in the proportion the values reach.
        for step in 0..SCAN {
            let size = MIN_BINS + (total - MIN_BINS) * step / SCAN;
            let a = (below * size).div_ceil(total);
            consider(a, size - a.min(size), &mut best);
        }
        // Each end alone, the other fixed at the best so far.
        let stride_a = below.div_ceil(SCAN).max(1);
        let stride_b = above.div_ceil(SCAN).max(1);
        let b = best.1;
        for a in (0..=below).step_by(stride_a) {
            consider(a, b, &mut best);
        }
        let a = best.0;
        for b in (0..=above).step_by(stride_b) {
            consider(a, b, &mut best);
        }
        // Single bins around the best, each end.
        let stride = stride_a.max(stride_b).max(total.div_ceil(SCAN));
        let (a, b) = (best.0, best.1);
        for a in a.saturating_sub(stride)..=(a + stride).min(below) {
            consider(a, b, &mut best);
        }
        let a = best.0;
        for b in b.saturating_sub(stride)..=(b + stride).min(above) {
            consider(a, b, &mut best);
        }
        (best.0, best.1)
    }

    /// KL(reference ‖ quantized) for the range of `a` bins below zero and `b` from zero up.
    fn divergence(&self, a: usize, b: usize) -> f64 {
        let (lo, hi) = (self.zero - a, self.zero + b);
        let end = self.bins.len();
        // Spikes inside the range are left out; clipped ones pile onto its ends.
        let clipped_low = self.prefix[lo] + self.spike_prefix[lo];
        let clipped_high =
            self.prefix[end] - self.prefix[hi] + self.spike_prefix[end] - self.spike_prefix[hi];
        let kept = (self.prefix[hi] - self.prefix[lo]) as f64;
        let total = kept + (clipped_low + clipped_high) as f64;
        if kept <= 0.0 {
            return f64::INFINITY;
        }
        // Bins per step, and the level zero is (the zero point).
        let per_step = (a + b) as f64 / STEPS;
        let zero_level = (a as f64 / per_step).round();
        let level = |k: usize| {
            let center = (k as f64 - self.zero as f64 + 0.5) / per_step;
            (center.round() + zero_level).clamp(0.0, STEPS) as i64
        };
        let reference = |k: usize| {
            let mut n = self.bins[k];
            if k == lo {
                n += clipped_low;
            }
            if k == hi - 1 {
                n += clipped_high;
            }
            n as f64 / total
        };
        let mut divergence = 0.0;
        let mut start = lo;
        while start < hi {
            let this = level(start);
            let mut end = start + 1;
            while end < hi && level(end) == this {
                end += 1;
            }
            let slice = &self.bins[start..end];
            let sum: u64 = slice.iter().sum();
            let nonzero = slice.iter().filter(|&&n| n > 0).count();
            let spread = if nonzero > 0 {
                sum as f64 / nonzero as f64 / kept
            } else {
                0.0
            };
            for k in start..end {
                let p = reference(k);
                if p > 0.0 {
                    let q = if self.bins[k] > 0 { spread } else { EPSILON };
                    divergence += p * (p / q).ln();
                }
            }
            start = end;
        }
        divergence
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A histogram of `values` over `[-reach, reach)` in `2 * half` bins.
    fn histogram(values: &[f64], reach: f64, half: usize) -> (Vec<u64>, f64) {
        let width = reach / half as f64;
        let mut bins = vec![0u64; 2 * half];
        for v in values {
            let i = ((v + reach) / width).floor() as usize;
            bins[i.min(2 * half - 1)] += 1;
        }
        (bins, width)
    }

    fn range_of(values: &[f64]) -> (f64, f64) {
        let reach = values.iter().fold(0.0f64, |m, v| m.max(v.abs())) * 1.0001;
        let (bins, width) = histogram(values, reach, 4096);
        Histogram {
            bins: &bins,
            zero: 4096,
            width,
            exact_zeros: values.iter().filter(|&&v| v == 0.0).count() as u64,
        }
        .entropy_range()
        .unwrap()
    }

    /// Exponential values of mean 1.
    fn exponential(n: usize, seed: u64) -> Vec<f64> {
        uniform(n, seed).iter().map(|u| -(1.0 - u).ln()).collect()
    }

    /// Deterministic uniform values in [0, 1) (a linear congruential generator).
    fn uniform(n: usize, seed: u64) -> Vec<f64> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    /// Standard normal values (Box-Muller).
    fn normal(n: usize, seed: u64) -> Vec<f64> {
        let u = uniform(2 * n, seed);
        (0..n)
            .map(|i| {
                let (u1, u2) = (u[2 * i].max(1e-300), u[2 * i + 1]);
                (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
            })
            .collect()
    }

    #[test]
    fn a_uniform_distribution_keeps_its_whole_range() {
        // Nothing to gain from clipping: every value is as likely as any other.
        let values: Vec<f64> = uniform(200_000, 1).iter().map(|u| 2.0 * u - 1.0).collect();
        let (lo, hi) = range_of(&values);
        assert!(lo < -0.97 && hi > 0.97, "({lo}, {hi})");
    }

    #[test]
    fn a_relu_output_spends_every_level_above_zero() {
        // Half the values exactly zero, the rest exponential, and a few far out: nothing below
        // zero, so the range starts at zero, and the outliers are clipped.
        let mut values = exponential(200_000, 2);
        let body = values.iter().cloned().fold(0.0, f64::max);
        values.extend(std::iter::repeat_n(0.0, 200_000));
        values.extend([60.0, 70.0, 80.0]);
        let (lo, hi) = range_of(&values);
        eprintln!("relu: ({lo}, {hi}) of {body}");
        assert_eq!(lo, 0.0);
        assert!(
            hi > 0.5 * body && hi < 1.5 * body,
            "hi {hi}, body up to {body}"
        );
    }

    #[test]
    fn a_spike_of_zeros_does_not_narrow_the_range() {
        // The zeros are exact at any range; the exponential alone decides (256 levels over its
        // range are fine enough that clipping its sparse tail gains little).
        let mut values = exponential(200_000, 6);
        let max = values.iter().cloned().fold(0.0, f64::max);
        values.extend(std::iter::repeat_n(0.0, 800_000));
        let (_, hi) = range_of(&values);
        assert!(hi > 0.5 * max, "hi {hi}, max {max}");
    }

    #[test]
    fn repeated_values_do_not_narrow_the_range_but_count_when_clipped() {
        // A normal body and a flat background's values, each repeated many times (one per
        // channel): spikes that every wide range represents well.
        let mut values = normal(100_000, 7);
        for spike in [-3.3, -1.7, 0.9, 2.4, 3.1] {
            values.extend(std::iter::repeat_n(spike, 40_000));
        }
        let (lo, hi) = range_of(&values);
        eprintln!("spikes: ({lo}, {hi})");
        assert!(lo <= -3.3 && hi >= 3.1, "({lo}, {hi}) clips a spike");
        // A spike at the end of the range (an image's white background) is kept too.
        let mut values: Vec<f64> = uniform(100_000, 8);
        values.extend(std::iter::repeat_n(1.0, 300_000));
        let (_, hi) = range_of(&values);
        assert!(hi >= 1.0, "hi {hi} clips the background");
    }

    #[test]
    fn a_normal_distribution_keeps_a_symmetric_range_near_its_extremes() {
        // 256 levels over ±4.5 sigma are a step of 0.035 sigma: too fine for clipping the
        // sparse tails to pay off much.
        let values = normal(400_000, 3);
        let max = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let (lo, hi) = range_of(&values);
        eprintln!("normal: ({lo}, {hi}) of {max}");
        assert!(hi > 3.5 && hi <= max, "hi {hi}, max {max}");
        assert!(lo < -3.5 && lo >= -max, "lo {lo}, max {max}");
        assert!((hi + lo).abs() < 0.15 * hi, "({lo}, {hi}) is lopsided");
    }

    #[test]
    fn rare_outliers_are_clipped() {
        // A normal body and three values five times as far out.
        let mut values = normal(200_000, 4);
        values.extend([20.0, -22.0, 25.0]);
        let (lo, hi) = range_of(&values);
        eprintln!("outliers: ({lo}, {hi})");
        assert!((-6.0..=-3.0).contains(&lo), "lo {lo}");
        assert!((3.0..=6.0).contains(&hi), "hi {hi}");
    }

    #[test]
    fn a_skewed_activation_gets_a_skewed_range() {
        // A long tail and outliers above, a short side below: the short side is kept whole (a
        // range mirrored about zero would clip it as much as the long one), the outliers clipped.
        let mut values: Vec<f64> = exponential(300_000, 5).iter().map(|v| v - 0.5).collect();
        let body = values.iter().cloned().fold(0.0, f64::max);
        values.extend([60.0, 70.0, 80.0]);
        let (lo, hi) = range_of(&values);
        eprintln!("skewed: ({lo}, {hi}) of {body}");
        assert!(lo <= -0.45, "lo {lo}");
        assert!(
            hi > 0.5 * body && hi < 1.5 * body,
            "hi {hi}, body up to {body}"
        );
    }

    #[test]
    fn an_empty_or_narrow_histogram_keeps_what_it_has() {
        let bins = vec![0u64; 64];
        let h = Histogram {
            bins: &bins,
            zero: 32,
            width: 0.1,
            exact_zeros: 0,
        };
        assert_eq!(h.entropy_range(), None);
        let mut bins = vec![0u64; 64];
        bins[30] = 5;
        bins[40] = 5;
        let h = Histogram {
            bins: &bins,
            zero: 32,
            width: 0.5,
            exact_zeros: 0,
        };
        assert_eq!(h.entropy_range(), Some((-1.0, 4.5)));
    }
}

//! Calibration: the range of each activation over the calibration data, read off as min-max or as
//! percentiles.
//!
//! Percentiles need the distribution, not just the extremes, without keeping every value: each
//! tensor keeps a histogram symmetric about zero that doubles its range (merging bin pairs) when
//! a value falls outside it, so one pass over the data is enough whatever the range turns out to be.

use super::options::Calibration;
use super::scale::ActivationParams;

/// Bins on each side of zero.
const HALF_BINS: usize = 2048;

#[derive(Debug, Clone)]
pub struct Observer {
    min: f32,
    max: f32,
    /// The histogram covers `[-reach, reach)`; zero while nothing non-zero was seen.
    reach: f32,
    /// `2 * HALF_BINS` bins; bin `i` covers `[-reach + i·w, -reach + (i+1)·w)`, `w = reach / HALF_BINS`.
    /// Empty for min-max, which needs no histogram.
    bins: Vec<u64>,
    /// Values in the histogram.
    count: u64,
}

impl Observer {
    pub fn new(calibration: Calibration) -> Observer {
        let keep_histogram = matches!(calibration, Calibration::Percentile { .. });
        Observer {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            reach: 0.0,
            bins: if keep_histogram {
                vec![0; 2 * HALF_BINS]
            } else {
                Vec::new()
            },
            count: 0,
        }
    }

    /// Adds the values of an array, copied only when it is not contiguous.
    pub fn observe_array(&mut self, values: ndarray::ArrayViewD<f32>) {
        match values.as_slice() {
            Some(s) => self.observe(s),
            None => self.observe(&values.iter().copied().collect::<Vec<_>>()),
        }
    }

    /// Adds the finite values of one batch.
    pub fn observe(&mut self, values: &[f32]) {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for v in finite.clone() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            return;
        }
        self.min = self.min.min(lo);
        self.max = self.max.max(hi);
        if self.bins.is_empty() {
            return;
        }
        let needed = lo.abs().max(hi.abs());
        if self.reach == 0.0 && needed > 0.0 {
            self.reach = needed * (1.0 + 1e-6);
        }
        while needed >= self.reach && self.reach > 0.0 {
            self.double_reach();
        }
        let width = self.reach / HALF_BINS as f32;
        for v in finite {
            let bin = if width > 0.0 {
                (((v + self.reach) / width) as usize).min(2 * HALF_BINS - 1)
            } else {
                HALF_BINS
            };
            self.bins[bin] += 1;
            self.count += 1;
        }
    }

    /// Doubles the covered range: each pair of bins becomes one, moved toward the middle.
    fn double_reach(&mut self) {
        let mut merged = vec![0u64; 2 * HALF_BINS];
        let quarter = HALF_BINS / 2;
        for k in 0..quarter {
            merged[quarter + k] = self.bins[2 * k] + self.bins[2 * k + 1];
            merged[HALF_BINS + k] = self.bins[HALF_BINS + 2 * k] + self.bins[HALF_BINS + 2 * k + 1];
        }
        self.bins = merged;
        self.reach *= 2.0;
    }

    /// Whether any finite value was seen.
    pub fn is_empty(&self) -> bool {
        self.min > self.max
    }

    /// The calibrated range.
    pub fn range(&self, calibration: Calibration) -> (f32, f32) {
        if self.is_empty() {
            return (0.0, 0.0);
        }
        match calibration {
            Calibration::MinMax => (self.min, self.max),
            Calibration::Percentile { percentile } => {
                if self.reach == 0.0 || self.count == 0 {
                    return (self.min, self.max);
                }
                let width = self.reach / HALF_BINS as f32;
                let tail = ((1.0 - percentile / 100.0) * self.count as f64).floor() as u64;
                // Lower end: the lower edge of the bin where more than `tail` values lie below.
                let mut below = 0u64;
                let mut lo = self.min;
                for (i, &n) in self.bins.iter().enumerate() {
                    below += n;
                    if below > tail {
                        lo = -self.reach + i as f32 * width;
                        break;
                    }
                }
                let mut above = 0u64;
                let mut hi = self.max;
                for (i, &n) in self.bins.iter().enumerate().rev() {
                    above += n;
                    if above > tail {
                        hi = -self.reach + (i + 1) as f32 * width;
                        break;
                    }
                }
                (lo.max(self.min), hi.min(self.max))
            }
        }
    }

    pub fn params(&self, calibration: Calibration) -> ActivationParams {
        let (lo, hi) = self.range(calibration);
        ActivationParams::of_range(lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minmax_is_the_extremes_over_every_batch() {
        let mut o = Observer::new(Calibration::MinMax);
        o.observe(&[0.5, 1.0]);
        o.observe(&[-2.0, f32::NAN]);
        assert_eq!(o.range(Calibration::MinMax), (-2.0, 1.0));
    }

    #[test]
    fn percentiles_clip_rare_outliers_even_after_the_range_grows() {
        let calibration = Calibration::Percentile { percentile: 99.0 };
        let mut o = Observer::new(calibration);
        // Small values first, so the histogram must grow when the outliers arrive.
        let body: Vec<f32> = (0..10_000).map(|i| (i % 100) as f32 / 100.0).collect();
        o.observe(&body);
        o.observe(&[1000.0, -1000.0]);
        let (lo, hi) = o.range(calibration);
        assert!((-0.5..=0.05).contains(&lo), "lo {lo}");
        assert!((0.9..=1.5).contains(&hi), "hi {hi}");
        assert_eq!(o.range(Calibration::MinMax), (-1000.0, 1000.0));
    }

    #[test]
    fn an_all_zero_tensor_gets_a_harmless_range() {
        let calibration = Calibration::Percentile { percentile: 99.99 };
        let mut o = Observer::new(calibration);
        o.observe(&[0.0; 16]);
        assert_eq!(o.range(calibration), (0.0, 0.0));
        assert_eq!(o.params(calibration).scale, 1.0);
    }
}

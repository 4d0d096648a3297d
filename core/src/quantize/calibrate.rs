//! Calibration: the range of each activation over the calibration data, read off as min-max, as
//! percentiles or by the entropy (KL divergence) threshold search (`entropy`).
//!
//! Percentiles and entropy need the distribution, not just the extremes, without keeping every
//! value: each tensor keeps a histogram symmetric about zero that doubles its range (merging bin
//! pairs) when a value falls outside it, so one pass over the data is enough whatever the range
//! turns out to be. Every method reads its range off the same observer, so one pass serves them
//! all (the quantization loss profile compares them on the whole model).

use super::entropy::Histogram;
use super::options::Calibration;
use super::scale::ActivationParams;

/// Bins on each side of zero.
const HALF_BINS: usize = 4096;

#[derive(Debug, Clone)]
pub struct Observer {
    min: f32,
    max: f32,
    /// The histogram covers `[-reach, reach)`; zero while nothing non-zero was seen.
    reach: f32,
    /// `2 * HALF_BINS` bins; bin `i` covers `[-reach + i·w, -reach + (i+1)·w)`, `w = reach / HALF_BINS`.
    bins: Vec<u64>,
    /// Values in the histogram.
    count: u64,
    /// Values exactly zero (in zero's bin too), which any range represents exactly.
    zeros: u64,
}

impl Observer {
    pub fn new() -> Observer {
        Observer {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            reach: 0.0,
            bins: vec![0; 2 * HALF_BINS],
            count: 0,
            zeros: 0,
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
        let needed = lo.abs().max(hi.abs());
        if self.reach == 0.0 && needed > 0.0 {
            self.reach = needed * (1.0 + 1e-6);
        }
        while needed >= self.reach && self.reach > 0.0 {
            self.double_reach();
        }
        let width = self.reach / HALF_BINS as f32;
        for v in finite {
            // Counted from zero's bin, so that zeros (a ReLU's) land exactly in it.
            let bin = if width > 0.0 {
                (HALF_BINS as f32 + (v / width).floor()).clamp(0.0, (2 * HALF_BINS - 1) as f32)
                    as usize
            } else {
                HALF_BINS
            };
            self.bins[bin] += 1;
            self.count += 1;
            self.zeros += u64::from(v == 0.0);
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
            Calibration::Entropy => {
                let histogram = Histogram {
                    bins: &self.bins,
                    zero: HALF_BINS,
                    width: f64::from(self.reach) / HALF_BINS as f64,
                    exact_zeros: self.zeros,
                };
                match histogram.entropy_range() {
                    Some((lo, hi)) if self.reach > 0.0 => {
                        ((lo as f32).max(self.min), (hi as f32).min(self.max))
                    }
                    _ => (self.min, self.max),
                }
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
        let mut o = Observer::new();
        o.observe(&[0.5, 1.0]);
        o.observe(&[-2.0, f32::NAN]);
        assert_eq!(o.range(Calibration::MinMax), (-2.0, 1.0));
    }

    #[test]
    fn percentiles_clip_rare_outliers_even_after_the_range_grows() {
        let calibration = Calibration::Percentile { percentile: 99.0 };
        let mut o = Observer::new();
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
        let mut o = Observer::new();
        o.observe(&[0.0; 16]);
        assert_eq!(o.range(calibration), (0.0, 0.0));
        assert_eq!(o.params(calibration).scale, 1.0);
    }

    #[test]
    fn entropy_reads_a_relu_range_off_the_grown_histogram() {
        let mut o = Observer::new();
        // A ReLU's output: zeros and a decaying body, then far outliers in a later batch (the
        // histogram doubles its range to take them).
        let body: Vec<f32> = (0..20_000)
            .map(|i| {
                if i % 2 == 0 {
                    0.0
                } else {
                    (i % 1000) as f32 / 1000.0
                }
            })
            .map(|v: f32| v * v * 2.0)
            .collect();
        o.observe(&body);
        o.observe(&[50.0, 60.0]);
        let (lo, hi) = o.range(Calibration::Entropy);
        assert_eq!(lo, 0.0);
        assert!((1.5..=6.0).contains(&hi), "hi {hi}");
        // Every level above zero: the zero point is 0.
        assert_eq!(o.params(Calibration::Entropy).zero_point, 0);
        assert_eq!(o.range(Calibration::MinMax), (0.0, 60.0));
    }
}

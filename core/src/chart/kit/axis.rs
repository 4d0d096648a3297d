//! Value axes: round steps, the ends and ticks of a line chart's y axis, and the scale of a bar
//! panel (linear from 0, or by decades) with its tick labels.

use super::numbers::tick_num;
use crate::format::short_si;

/// The round step (1, 2, 2.5 or 5 times a power of ten) at least `rough`.
pub fn nice_step(rough: f64) -> f64 {
    if !(rough.is_finite() && rough > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= rough * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// A value axis over [lo, hi]: its ends and its ticks, steps of 1, 2, 2.5 or 5 times a power of
/// ten. The top is rounded up to a step; the bottom too unless `pinned`, when it stays at `lo`
/// and is a tick itself (the 1× of a speedup).
pub fn axis(lo: f64, hi: f64, pinned: bool) -> (f64, f64, Vec<f64>) {
    let hi = if hi > lo { hi } else { lo + lo.abs().max(1.0) };
    let step = nice_step((hi - lo) / 4.0);
    let top = (hi / step - 1e-9).ceil() * step;
    let bottom = if pinned {
        lo
    } else {
        (lo / step + 1e-9).floor() * step
    };
    let first = (bottom / step - 1e-9).ceil() as i64;
    let last = (top / step + 1e-9).floor() as i64;
    let mut ticks: Vec<f64> = if pinned { vec![lo] } else { Vec::new() };
    ticks.extend(
        (first..=last)
            .map(|k| k as f64 * step)
            .filter(|t| !pinned || *t > lo + 0.3 * step),
    );
    (bottom, top, ticks)
}

/// How a bar panel labels its ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickFormat {
    /// Plain numbers: 0, 2.5, 0.01.
    Number,
    /// Counts with an SI suffix: 2.5K, 10M; steps of at least 1.
    Count,
}

impl TickFormat {
    pub fn format(self, v: f64) -> String {
        match self {
            TickFormat::Count if v >= 1.0 => short_si(v.round() as u64),
            _ => tick_num(v),
        }
    }
}

/// Where a value's bar ends, as a fraction of the span: linear from 0, or by decades.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    Linear { max: f64 },
    Log { lo: i32, hi: i32 },
}

impl Scale {
    /// The scale that fits the positive finite `values` (the others draw no bar).
    pub fn of(values: &[f64], log: bool) -> Scale {
        let positive = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0);
        let (min, max) = positive.fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
        if !log {
            return Scale::Linear { max };
        }
        if max <= 0.0 {
            return Scale::Log { lo: 0, hi: 1 };
        }
        let lo = min.log10().floor() as i32;
        let hi = (max.log10().ceil() as i32).max(lo + 1);
        Scale::Log { lo, hi }
    }

    pub fn fraction(&self, v: f64) -> f64 {
        if !(v.is_finite() && v > 0.0) {
            return 0.0;
        }
        match *self {
            Scale::Linear { max } if max > 0.0 => v / max,
            Scale::Linear { .. } => 0.0,
            Scale::Log { lo, hi } => {
                ((v.log10() - f64::from(lo)) / f64::from(hi - lo)).clamp(0.0, 1.0)
            }
        }
    }

    /// Round tick values from 0 up to at most the largest value, three to five of them (every
    /// decade or so on a log scale); `format` decides whether steps below 1 make sense.
    pub fn ticks(&self, format: TickFormat) -> Vec<f64> {
        match *self {
            Scale::Linear { max } if max > 0.0 => {
                let step = nice_step(max / 4.0);
                let step = if format == TickFormat::Count {
                    step.max(1.0)
                } else {
                    step
                };
                (0..)
                    .map(|k| f64::from(k) * step)
                    .take_while(|t| *t <= max * (1.0 + 1e-9))
                    .collect()
            }
            Scale::Linear { .. } => vec![0.0],
            Scale::Log { lo, hi } => {
                let every = ((hi - lo) as usize).div_ceil(6).max(1);
                (lo..=hi).step_by(every).map(|e| 10f64.powi(e)).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round() {
        assert_eq!(
            axis(1.0, 7.2, true),
            (1.0, 8.0, vec![1.0, 2.0, 4.0, 6.0, 8.0])
        );
        assert_eq!(
            axis(0.0, 0.0, false),
            (0.0, 1.0, vec![0.0, 0.25, 0.5, 0.75, 1.0])
        );
    }

    #[test]
    fn count_ticks_are_round() {
        let ticks = |max: f64| Scale::Linear { max }.ticks(TickFormat::Count);
        assert_eq!(ticks(0.0), vec![0.0]);
        assert_eq!(ticks(36_864.0), vec![0.0, 10_000.0, 20_000.0, 30_000.0]);
        assert_eq!(ticks(9216.0), vec![0.0, 2500.0, 5000.0, 7500.0]);
        assert_eq!(ticks(3.0), vec![0.0, 1.0, 2.0, 3.0]);
        let labels: Vec<String> = ticks(9216.0)
            .into_iter()
            .map(|t| TickFormat::Count.format(t))
            .collect();
        assert_eq!(labels, ["0", "2.5K", "5K", "7.5K"]);
    }

    #[test]
    fn log_scales_span_decades() {
        let scale = Scale::of(&[0.5, 20.0, 0.0, f64::NAN], true);
        assert_eq!(scale, Scale::Log { lo: -1, hi: 2 });
        assert_eq!(scale.fraction(0.0), 0.0);
        assert!((scale.fraction(1.0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(scale.ticks(TickFormat::Number), vec![0.1, 1.0, 10.0, 100.0]);
    }
}

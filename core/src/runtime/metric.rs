//! How far a changed (pruned, quantized) model's outputs are from the unchanged ones. Classifier outputs (rank 2, at
//! least two classes) are compared as distributions: the KL divergence KL(p₀ ‖ p) of their
//! softmax (or of the values themselves when they already are probabilities), averaged over
//! samples. Other outputs use the normalized mean squared error Σ(y − y₀)² / Σy₀². With labels,
//! the first classifier output also gives an accuracy.

use ndarray::{ArrayD, ArrayView2, Axis, Ix2};

/// The kind of comparison one output gets, decided once from the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Comparison {
    /// Log-softmax of logits.
    Logits,
    /// Rows that already sum to 1.
    Probabilities,
    Nmse,
}

impl Comparison {
    pub fn of(baseline: &ArrayD<f32>) -> Comparison {
        let Ok(rows) = baseline.view().into_dimensionality::<Ix2>() else {
            return Comparison::Nmse;
        };
        if rows.ncols() < 2 || rows.nrows() == 0 {
            return Comparison::Nmse;
        }
        let is_probabilities = rows.iter().all(|&v| (0.0..=1.0).contains(&v))
            && rows
                .axis_iter(Axis(0))
                .all(|r| (r.iter().map(|&v| v as f64).sum::<f64>() - 1.0).abs() < 1e-3);
        if is_probabilities {
            Comparison::Probabilities
        } else {
            Comparison::Logits
        }
    }

    pub fn metric_name(self) -> &'static str {
        match self {
            Comparison::Logits | Comparison::Probabilities => "kl_divergence",
            Comparison::Nmse => "nmse",
        }
    }
}

/// Sums over batches of one output's comparison, reduced to one number at the end.
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    /// KL: sum over samples; NMSE: Σ(y − y₀)².
    numerator: f64,
    /// KL: samples; NMSE: Σy₀².
    denominator: f64,
}

impl Accumulator {
    pub fn add(&mut self, comparison: Comparison, baseline: &ArrayD<f32>, pruned: &ArrayD<f32>) {
        match comparison {
            Comparison::Nmse => {
                for (&a, &b) in baseline.iter().zip(pruned.iter()) {
                    let (a, b) = (a as f64, b as f64);
                    self.numerator += (b - a) * (b - a);
                    self.denominator += a * a;
                }
            }
            Comparison::Logits | Comparison::Probabilities => {
                let (Ok(p0), Ok(p)) = (
                    baseline.view().into_dimensionality::<Ix2>(),
                    pruned.view().into_dimensionality::<Ix2>(),
                ) else {
                    return;
                };
                self.numerator += kl_rows(comparison, p0, p);
                self.denominator += p0.nrows() as f64;
            }
        }
    }

    pub fn value(&self) -> f64 {
        if self.denominator > 0.0 {
            self.numerator / self.denominator
        } else {
            self.numerator
        }
    }
}

/// Σ over rows of KL(p₀ ‖ p).
fn kl_rows(comparison: Comparison, p0: ArrayView2<f32>, p: ArrayView2<f32>) -> f64 {
    p0.axis_iter(Axis(0))
        .zip(p.axis_iter(Axis(0)))
        .map(|(a, b)| {
            let (la, lb) = match comparison {
                Comparison::Logits => (log_softmax(a.iter()), log_softmax(b.iter())),
                _ => (log_clamped(a.iter()), log_clamped(b.iter())),
            };
            la.iter()
                .zip(&lb)
                .map(|(&x, &y)| x.exp() * (x - y))
                .sum::<f64>()
                .max(0.0)
        })
        .sum()
}

fn log_softmax<'a>(row: impl Iterator<Item = &'a f32> + Clone) -> Vec<f64> {
    let max = row.clone().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    let log_sum = row
        .clone()
        .map(|&v| (v as f64 - max).exp())
        .sum::<f64>()
        .ln();
    row.map(|&v| v as f64 - max - log_sum).collect()
}

fn log_clamped<'a>(row: impl Iterator<Item = &'a f32>) -> Vec<f64> {
    row.map(|&v| (v as f64).max(1e-12).ln()).collect()
}

/// Correct predictions of a classifier output (argmax per row) against labels.
pub fn correct(output: &ArrayD<f32>, labels: &[i64]) -> usize {
    let Ok(rows) = output.view().into_dimensionality::<Ix2>() else {
        return 0;
    };
    rows.axis_iter(Axis(0))
        .zip(labels)
        .filter(|(row, label)| {
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i as i64);
            best == Some(**label)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn kl_of_identical_outputs_is_zero_and_grows_with_change() {
        let a = arr2(&[[1.0f32, 2.0, 3.0], [0.5, 0.1, -1.0]]).into_dyn();
        let b = arr2(&[[1.0f32, 2.0, 2.0], [0.5, 0.1, -1.0]]).into_dyn();
        let c = arr2(&[[3.0f32, 2.0, 1.0], [0.5, 0.1, -1.0]]).into_dyn();
        let kind = Comparison::of(&a);
        assert_eq!(kind, Comparison::Logits);
        let kl = |x: &ArrayD<f32>| {
            let mut acc = Accumulator::default();
            acc.add(kind, &a, x);
            acc.value()
        };
        assert!(kl(&a).abs() < 1e-12);
        assert!(kl(&b) > 0.0 && kl(&c) > kl(&b));
        // By hand: p0 = softmax(1,2,3), p = softmax(1,2,2), halved over two rows.
        let p0: Vec<f64> = [1.0f64, 2.0, 3.0]
            .iter()
            .map(|v| v.exp() / (1f64.exp() + 2f64.exp() + 3f64.exp()))
            .collect();
        let p: Vec<f64> = [1.0f64, 2.0, 2.0]
            .iter()
            .map(|v| v.exp() / (1f64.exp() + 2.0 * 2f64.exp()))
            .collect();
        let want: f64 = p0
            .iter()
            .zip(&p)
            .map(|(a, b)| a * (a / b).ln())
            .sum::<f64>()
            / 2.0;
        assert!((kl(&b) - want).abs() < 1e-9);
        assert_eq!(correct(&a, &[2, 0]), 2);
    }

    #[test]
    fn nmse_for_other_outputs() {
        let a = ndarray::arr1(&[1.0f32, -1.0, 2.0]).into_dyn();
        let b = ndarray::arr1(&[1.0f32, 0.0, 2.0]).into_dyn();
        assert_eq!(Comparison::of(&a), Comparison::Nmse);
        let mut acc = Accumulator::default();
        acc.add(Comparison::Nmse, &a, &b);
        assert!((acc.value() - 1.0 / 6.0).abs() < 1e-12);
    }
}

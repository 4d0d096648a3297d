//! How far a changed (pruned, quantized) model's outputs are from the unchanged ones. Outputs of
//! class scores are compared as distributions: the KL divergence KL(p₀ ‖ p) of their softmax (or
//! of the values themselves when they already are probabilities), averaged over rows. A rank-2
//! classifier has one row per sample; an output of rank 3 or more whose last axis holds class
//! scores at every position (a CTC text reader's [N, T, classes]) has one row per position, so
//! the figure is the divergence per position averaged over positions and samples. Other outputs
//! use the normalized mean squared error Σ(y − y₀)² / Σy₀². With labels, the first rank-2
//! classifier output also gives an accuracy.

use std::collections::HashMap;

use ndarray::{ArrayD, ArrayView2, Axis, Ix2};

/// The kind of comparison one output gets, decided once from the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Comparison {
    /// Log-softmax of logits along the last axis.
    Logits,
    /// Rows along the last axis that already sum to 1.
    Probabilities,
    Nmse,
}

impl Comparison {
    /// From the values alone: a rank-2 output of at least two columns is a classifier (its rows
    /// probabilities when they sum to 1, else logits). Of a higher rank, only an output whose
    /// last axis is a probability distribution at every position (a softmax over classes) is
    /// compared as one: logits at every position look like any feature map, so they need the
    /// graph's word (`Comparison::of_scores`). Everything else is NMSE.
    pub fn of(baseline: &ArrayD<f32>) -> Comparison {
        match baseline.ndim() {
            2 => Comparison::of_scores(baseline),
            n if n > 2 => match Comparison::of_scores(baseline) {
                Comparison::Probabilities => Comparison::Probabilities,
                _ => Comparison::Nmse,
            },
            _ => Comparison::Nmse,
        }
    }

    /// For an output known to hold class scores along its last axis (at least two classes, at
    /// least one row): probabilities when every row is a distribution, else logits.
    pub fn of_scores(baseline: &ArrayD<f32>) -> Comparison {
        let Some(rows) = score_rows(baseline) else {
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

/// `values` as rows along its last axis (every leading axis flattened): one row per sample of a
/// rank-2 output, one per position of a higher rank. `None` for a scalar or a vector.
pub fn score_rows(values: &ArrayD<f32>) -> Option<ArrayView2<'_, f32>> {
    if values.ndim() < 2 {
        return None;
    }
    let classes = *values.shape().last()?;
    let rows = values.len().checked_div(classes)?;
    values.view().into_shape_with_order((rows, classes)).ok()
}

/// Sums over batches of one output's comparison, reduced to one number at the end.
#[derive(Debug, Clone, Default)]
pub struct Accumulator {
    /// KL: sum over rows; NMSE: Σ(y − y₀)².
    numerator: f64,
    /// KL: rows (samples, or positions of every sample); NMSE: Σy₀².
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
                let (Some(p0), Some(p)) = (score_rows(baseline), score_rows(pruned)) else {
                    return;
                };
                if p0.dim() != p.dim() {
                    return;
                }
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

/// A model's outputs on every batch, as changed models are judged against them: how each output
/// is compared, which one the labels score, and the labels of each batch.
pub struct Reference {
    pub outputs: Vec<HashMap<String, ArrayD<f32>>>,
    pub comparisons: HashMap<String, Comparison>,
    /// The output labels score ([`classifier_output`]), when every batch has labels.
    pub classifier: Option<String>,
    labels: Option<Vec<Vec<i64>>>,
    samples: usize,
}

impl Reference {
    /// `names`: the graph's outputs in order; `outputs`: the unchanged model's, per batch;
    /// `labels`: each batch's, where it has them.
    pub fn new(
        names: &[String],
        outputs: Vec<HashMap<String, ArrayD<f32>>>,
        labels: Vec<Option<&[i64]>>,
        samples: usize,
    ) -> Reference {
        let comparisons: HashMap<String, Comparison> = outputs
            .first()
            .map(|o| {
                o.iter()
                    .map(|(n, a)| (n.clone(), Comparison::of(a)))
                    .collect()
            })
            .unwrap_or_default();
        let classifier = outputs.first().and_then(|o| classifier_output(names, o));
        let labels = labels
            .into_iter()
            .map(|l| l.map(<[i64]>::to_vec))
            .collect::<Option<Vec<_>>>()
            .filter(|_| classifier.is_some());
        let classifier = classifier.filter(|_| labels.is_some());
        Reference {
            outputs,
            comparisons,
            classifier,
            labels,
            samples,
        }
    }

    /// The metrics used, as `kl_divergence`, `nmse` or `kl_divergence+nmse`.
    pub fn metric_names(&self) -> String {
        let mut names: Vec<&str> = self.comparisons.values().map(|c| c.metric_name()).collect();
        names.sort();
        names.dedup();
        names.join("+")
    }

    /// The unchanged model's accuracy on the labels.
    pub fn accuracy(&self) -> Option<f64> {
        let (classifier, labels) = (self.classifier.as_ref()?, self.labels.as_ref()?);
        let correct: usize = self
            .outputs
            .iter()
            .zip(labels)
            .map(|(o, l)| correct(&o[classifier], l))
            .sum();
        Some(correct as f64 / self.samples.max(1) as f64)
    }

    /// An empty tally of a changed model's outputs.
    pub fn tally(&self) -> Tally<'_> {
        Tally {
            reference: self,
            accumulators: HashMap::new(),
            correct: 0,
            scored: false,
        }
    }
}

/// A changed model's outputs compared with a [`Reference`], batch by batch.
pub struct Tally<'r> {
    reference: &'r Reference,
    accumulators: HashMap<String, Accumulator>,
    correct: usize,
    /// Whether the classifier output was among those added.
    scored: bool,
}

impl Tally<'_> {
    /// Adds output `name` of batch `batch`; outputs the reference does not have are ignored.
    pub fn add(&mut self, batch: usize, name: &str, changed: &ArrayD<f32>) {
        let reference = self.reference;
        let (Some(&comparison), Some(base)) = (
            reference.comparisons.get(name),
            reference.outputs.get(batch).and_then(|o| o.get(name)),
        ) else {
            return;
        };
        self.accumulators
            .entry(name.to_string())
            .or_default()
            .add(comparison, base, changed);
        if reference.classifier.as_deref() == Some(name)
            && let Some(labels) = &reference.labels
        {
            self.correct += correct(changed, &labels[batch]);
            self.scored = true;
        }
    }

    /// The summed comparison over the outputs, and the accuracy where there are labels (the
    /// reference's own when the classifier output was not among those added: a change that does
    /// not reach it leaves it as it was).
    pub fn finish(self) -> (f64, Option<f64>) {
        let value = self.accumulators.values().map(Accumulator::value).sum();
        let accuracy = match self.scored {
            true => Some(self.correct as f64 / self.reference.samples.max(1) as f64),
            false => self.reference.accuracy(),
        };
        (value, accuracy)
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

/// Rows (as `score_rows` cuts them) whose top class is the same in both, and the rows compared.
pub fn same_top(baseline: &ArrayD<f32>, changed: &ArrayD<f32>) -> (usize, usize) {
    let (Some(a), Some(b)) = (score_rows(baseline), score_rows(changed)) else {
        return (0, 0);
    };
    if a.dim() != b.dim() {
        return (0, 0);
    }
    let top = |row: ndarray::ArrayView1<f32>| {
        row.iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .map(|(i, _)| i)
    };
    let same = a
        .axis_iter(Axis(0))
        .zip(b.axis_iter(Axis(0)))
        .filter(|(x, y)| top(*x) == top(*y))
        .count();
    (same, a.nrows())
}

/// The output labels are scored against: labels are one class per sample, so only a rank-2
/// output of class scores (logits or probabilities) is what they label; the first such output in
/// the graph's order `names`.
pub fn classifier_output(
    names: &[String],
    outputs: &HashMap<String, ArrayD<f32>>,
) -> Option<String> {
    names
        .iter()
        .find(|n| {
            outputs
                .get(*n)
                .is_some_and(|a| a.ndim() == 2 && Comparison::of(a) != Comparison::Nmse)
        })
        .cloned()
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

    /// [samples, positions, classes] probabilities, each position a softmax of `logits`.
    fn positions(logits: &[[[f32; 3]; 2]]) -> ArrayD<f32> {
        let mut out = ndarray::Array3::<f32>::zeros((logits.len(), 2, 3));
        for (s, sample) in logits.iter().enumerate() {
            for (t, row) in sample.iter().enumerate() {
                let sum: f32 = row.iter().map(|v| v.exp()).sum();
                for (c, v) in row.iter().enumerate() {
                    out[[s, t, c]] = v.exp() / sum;
                }
            }
        }
        out.into_dyn()
    }

    #[test]
    fn a_distribution_at_every_position_is_compared_per_position() {
        let a = positions(&[[[1.0, 2.0, 3.0], [0.5, 0.1, -1.0]]; 2]);
        // One position of one sample changes; the rest are the same.
        let mut b = a.clone();
        let changed = positions(&[[[1.0, 2.0, 2.0], [0.5, 0.1, -1.0]]]);
        b.slice_mut(ndarray::s![0, .., ..])
            .assign(&changed.slice(ndarray::s![0, .., ..]));
        assert_eq!(Comparison::of(&a), Comparison::Probabilities);
        let mut acc = Accumulator::default();
        acc.add(Comparison::Probabilities, &a, &b);
        // The same divergence as the one changed row among four rows of a rank-2 classifier.
        let rows = |x: &ArrayD<f32>| x.clone().into_shape_with_order((4, 3)).unwrap().into_dyn();
        let mut flat = Accumulator::default();
        flat.add(Comparison::Probabilities, &rows(&a), &rows(&b));
        assert!(acc.value() > 0.0 && (acc.value() - flat.value()).abs() < 1e-12);
        assert_eq!(same_top(&a, &a), (4, 4));
        // The first position of the first sample now tops with class 0.
        let flipped = positions(&[
            [[3.0, 2.0, 1.0], [0.5, 0.1, -1.0]],
            [[1.0, 2.0, 3.0], [0.5, 0.1, -1.0]],
        ]);
        assert_eq!(same_top(&a, &flipped), (3, 4));
    }

    #[test]
    fn logits_at_every_position_need_the_graph_s_word() {
        // Rank 3 and not distributions: a feature map for all the values say.
        let a = ndarray::Array3::from_shape_fn((2, 4, 5), |(s, t, c)| (s + t * c) as f32 - 3.0)
            .into_dyn();
        assert_eq!(Comparison::of(&a), Comparison::Nmse);
        assert_eq!(Comparison::of_scores(&a), Comparison::Logits);
        let mut b = a.clone();
        b[[1, 2, 3]] += 1.0;
        let mut acc = Accumulator::default();
        acc.add(Comparison::Logits, &a, &b);
        let rows = |x: &ArrayD<f32>| x.clone().into_shape_with_order((8, 5)).unwrap().into_dyn();
        let mut flat = Accumulator::default();
        flat.add(Comparison::Logits, &rows(&a), &rows(&b));
        assert!(acc.value() > 0.0 && (acc.value() - flat.value()).abs() < 1e-12);
        // One class per position is no classifier.
        let single = ndarray::Array3::<f32>::ones((2, 4, 1)).into_dyn();
        assert_eq!(Comparison::of_scores(&single), Comparison::Nmse);
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

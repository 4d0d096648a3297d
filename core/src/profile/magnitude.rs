//! The `magnitude` loss profile (`pruning_loss_sens_magnitude`): for each prunable layer and each
//! level s = 0.00..0.99, the mean |w| of the weights newly removed since the previous level. Exact
//! to SparseML's numbers, including Python's round-half-to-even.
//!
//! SparseML sorts every weight tensor. Only the order statistics at the ~100 level boundaries
//! matter, and the mean of a segment between two boundaries is a difference of prefix sums, so
//! two passes over a histogram of |w| (see `OrderStatistics`) replace the O(N log N) sort. Layers
//! run on every core.

use super::levels::magnitude_levels;
use super::loss::{LossMethod, LossProfile, RawLayer, not_prunable};
use crate::analysis::graph::GraphIndex;
use crate::error::Result;
use crate::progress::{Cancel, Progress};
use crate::{Model, ModelAnalysis};

pub fn profile(
    model: &Model,
    analysis: &ModelAnalysis,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Result<LossProfile> {
    let started = std::time::Instant::now();
    let levels = magnitude_levels();
    let mut skipped = not_prunable(analysis);
    let layers: Vec<&crate::Layer> = analysis.layers.iter().filter(|l| l.is_prunable).collect();
    let index = GraphIndex::new(model.graph());
    let total = layers.len() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Vec<f64>>> = vec![None; layers.len()];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(layers.len()).max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        if i >= layers.len() || cancel.is_cancelled() {
                            break;
                        }
                        // Each worker reads its own layers' weights: the copy runs in parallel too.
                        if let Some(w) = super::weights::value(&index, layers[i]) {
                            mine.push((i, sensitivities(&w, &levels)));
                        }
                        done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    mine
                })
            })
            .collect();
        // Progress is reported from this thread: front ends need not be thread-safe.
        while !workers.iter().all(|w| w.is_finished()) {
            std::thread::sleep(std::time::Duration::from_millis(20));
            progress.report(
                done.load(std::sync::atomic::Ordering::SeqCst),
                total,
                "layers",
            );
        }
        for worker in workers {
            for (i, values) in worker.join().expect("magnitude worker does not panic") {
                results[i] = Some(values);
            }
        }
    });
    cancel.check()?;
    let mut raw = Vec::new();
    for (layer, values) in layers.iter().zip(results) {
        match values {
            Some(values) => raw.push(RawLayer::of(layer, values, None)),
            None => skipped.push(super::loss::Skipped {
                name: layer.name.clone(),
                reason: "its weight values could not be read as floats".into(),
            }),
        }
    }
    let mut profile = LossProfile::summarize(
        LossMethod::Magnitude,
        "mean_abs_weight_removed",
        levels,
        raw,
    );
    profile.skipped = skipped;
    profile.notes.push(
        "Each value is the mean |w| of the weights newly removed at that level (SparseML's weight-magnitude sensitivity); no data was used."
            .into(),
    );
    profile.seconds = started.elapsed().as_secs_f64();
    Ok(profile)
}

/// SparseML's per-level values for one weight tensor.
pub fn sensitivities(weights: &[f32], levels: &[f64]) -> Vec<f64> {
    let n = weights.len();
    if n == 0 {
        return vec![0.0; levels.len()];
    }
    // The rank each level reads, as SparseML computes it.
    let index = |s: f64| ((s * n as f64).round_ties_even() as usize).min(n - 1);
    // A level reads rank i's value or the sum up to it, and the next level may start at i + 1.
    let mut ranks: Vec<usize> = levels
        .iter()
        .flat_map(|&s| [index(s), index(s) + 1])
        .collect();
    ranks.sort_unstable();
    ranks.dedup();
    let order = OrderStatistics::new(weights, &ranks);

    let mut out = Vec::with_capacity(levels.len());
    let mut prev = 0usize;
    for &s in levels {
        let i = index(s);
        if s <= 1e-9 {
            out.push(0.0);
        } else if i > prev {
            out.push((order.prefix_sum(i) - order.prefix_sum(prev)) / (i - prev) as f64);
            prev = i;
        } else {
            out.push(order.value(i));
            prev = i + 1;
        }
    }
    out
}

/// The order statistics of |w| a profile reads, and the sums of the smallest values up to them,
/// without sorting the tensor: |w| as IEEE bits orders like an integer, so one pass builds a
/// histogram (count and sum) over the top 16 bits, a second gathers the values of the few buckets
/// that hold a wanted rank, and only those are sorted.
struct OrderStatistics {
    /// Values before each bucket: counts and sums, prefix form (`BUCKETS + 1` entries).
    count_before: Vec<usize>,
    sum_before: Vec<f64>,
    /// For each bucket, its place in `sorted` if it holds a wanted rank.
    slot: Vec<u32>,
    /// The sorted values of each bucket holding a wanted rank.
    sorted: Vec<Vec<f32>>,
}

/// `slot` of a bucket holding no wanted rank.
const NO_SLOT: u32 = u32::MAX;

const BUCKET_SHIFT: u32 = 16;
const BUCKETS: usize = 1 << (32 - BUCKET_SHIFT);

impl OrderStatistics {
    /// `ranks` are the 0-based ranks whose value or prefix sum will be asked for.
    fn new(weights: &[f32], ranks: &[usize]) -> Self {
        let bucket = |w: f32| (w.abs().to_bits() >> BUCKET_SHIFT) as usize;
        let mut counts = vec![0usize; BUCKETS];
        let mut sums = vec![0f64; BUCKETS];
        for &w in weights {
            let b = bucket(w);
            counts[b] += 1;
            sums[b] += w.abs() as f64;
        }
        let mut count_before = Vec::with_capacity(BUCKETS + 1);
        let mut sum_before = Vec::with_capacity(BUCKETS + 1);
        let (mut c, mut t) = (0usize, 0f64);
        for b in 0..BUCKETS {
            count_before.push(c);
            sum_before.push(t);
            c += counts[b];
            t += sums[b];
        }
        count_before.push(c);
        sum_before.push(t);
        // A prefix sum up to rank i reads the bucket holding rank i (partly); a value reads it too.
        let mut slot = vec![NO_SLOT; BUCKETS];
        let mut sorted: Vec<Vec<f32>> = Vec::new();
        for &r in ranks.iter().filter(|&&r| r < weights.len()) {
            let b = Self::bucket_of(&count_before, r);
            if slot[b] == NO_SLOT {
                slot[b] = sorted.len() as u32;
                sorted.push(Vec::with_capacity(counts[b]));
            }
        }
        for &w in weights {
            let s = slot[bucket(w)];
            if s != NO_SLOT {
                sorted[s as usize].push(w.abs());
            }
        }
        for values in &mut sorted {
            values.sort_unstable_by(f32::total_cmp);
        }
        OrderStatistics {
            count_before,
            sum_before,
            slot,
            sorted,
        }
    }

    /// The sorted values of the bucket holding a wanted rank.
    fn bucket_values(&self, b: usize) -> &[f32] {
        &self.sorted[self.slot[b] as usize]
    }

    /// The bucket holding rank `r`: the last bucket with fewer than `r + 1` values before it.
    fn bucket_of(count_before: &[usize], r: usize) -> usize {
        count_before.partition_point(|&c| c <= r) - 1
    }

    /// The value of rank `r` (0-based) in ascending |w|.
    fn value(&self, r: usize) -> f64 {
        let b = Self::bucket_of(&self.count_before, r);
        self.bucket_values(b)[r - self.count_before[b]] as f64
    }

    /// The sum of the `r` smallest |w|.
    fn prefix_sum(&self, r: usize) -> f64 {
        if r == 0 {
            return 0.0;
        }
        if r >= self.count_before[BUCKETS] {
            return self.sum_before[BUCKETS];
        }
        let b = Self::bucket_of(&self.count_before, r);
        let within = r - self.count_before[b];
        let partial: f64 = self.bucket_values(b)[..within]
            .iter()
            .map(|&v| v as f64)
            .sum();
        self.sum_before[b] + partial
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_reference(weights: &[f32], levels: &[f64]) -> Vec<f64> {
        let mut v: Vec<f64> = weights.iter().map(|w| w.abs() as f64).collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let mut prev = 0;
        levels
            .iter()
            .map(|&s| {
                let i = ((s * n as f64).round_ties_even() as usize).min(n - 1);
                if s <= 1e-9 {
                    0.0
                } else if i > prev {
                    let m = v[prev..i].iter().sum::<f64>() / (i - prev) as f64;
                    prev = i;
                    m
                } else {
                    let m = v[i];
                    prev = i + 1;
                    m
                }
            })
            .collect()
    }

    #[test]
    fn the_worked_example_of_the_reference() {
        let w: Vec<f32> = (1..=10).map(|i| i as f32 / 10.0).collect();
        let levels = super::super::levels::LOSS_LEVELS;
        let got = sensitivities(&w, &levels);
        let want = [0.0, 0.15, 0.35, 0.55, 0.7, 0.8, 0.9, 1.0, 1.0, 1.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
    }

    #[test]
    fn selection_matches_a_full_sort() {
        let mut rng = crate::runtime::SplitMix64(7);
        for n in [1usize, 2, 3, 17, 100, 1000, 4097, 100_000] {
            let w: Vec<f32> = (0..n)
                .map(|i| if i % 7 == 0 { 0.0 } else { rng.unit() - 0.5 })
                .collect();
            let levels = magnitude_levels();
            let (got, want) = (sensitivities(&w, &levels), sorted_reference(&w, &levels));
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-9, "n={n}: {got:?} vs {want:?}");
            }
        }
        // Every value in one bucket, and a tensor already all zero.
        for w in [vec![0.25f32; 1000], vec![0.0f32; 10]] {
            let levels = magnitude_levels();
            assert_eq!(sensitivities(&w, &levels), sorted_reference(&w, &levels));
        }
    }
}

//! Per-layer series (sparsity → value) read from the chosen profiles, their smoothing and
//! optimisation transform, and the global normalisation, as Sparsify's pruning model evaluator
//! builds them.
//!
//! Every prunable layer gets two series:
//!
//! - **perf** (decreasing): the layer's estimated time at each level of a measured performance
//!   profile, or its FLOPs at each level under the FLOPs profile (`{0: f, 1: 0}` when the profile
//!   has no levels for it);
//! - **loss** (increasing): the loss profile's values at its levels (`approx` is a straight line
//!   from 0 to the layer's approximated sensitivity).
//!
//! A layer that a chosen profile does not list falls back to its estimate series (FLOPs or
//! approx), scaled into the profile's units, and a note says so: Sparsify gave such a layer an
//! empty series, hence cost 0, so it looked free to prune.
//!
//! Smoothing keeps each series' trend (running maximum for increasing series, running minimum for
//! decreasing ones); the optimisation values are the smoothed value for increasing series and
//! "what has been saved so far" (`smoothed[0] − smoothed`) for decreasing ones, so every
//! optimisation series increases with sparsity. A [`Rescaler`] built over all layers maps those
//! values onto [0, 1] with one global minimum and maximum.

use crate::analysis::{Layer, ModelAnalysis};
use crate::model::attr::AttrValue;
use crate::profile::levels::{interpolate, level_key};
use crate::profile::perf::estimate_points;
use crate::profile::{LossProfile, PerfKind, PerfProfile};

/// One series: points in ascending sparsity, with its smoothed and optimisation values.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub levels: Vec<f64>,
    pub values: Vec<f64>,
    pub increasing: bool,
    pub smoothed: Vec<f64>,
    pub optimized: Vec<f64>,
}

impl Series {
    /// A series from (level, value) points; `None` when fewer than two finite points remain
    /// (interpolation needs two; Sparsify failed on a series of one point). Points are sorted by level and a repeated
    /// level keeps its first value.
    pub fn new(points: impl IntoIterator<Item = (f64, f64)>, increasing: bool) -> Option<Series> {
        let mut points: Vec<(f64, f64)> = points
            .into_iter()
            .filter(|(s, v)| s.is_finite() && v.is_finite())
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points.dedup_by(|b, a| a.0 == b.0);
        if points.len() < 2 {
            return None;
        }
        let levels: Vec<f64> = points.iter().map(|p| p.0).collect();
        let values: Vec<f64> = points.iter().map(|p| p.1).collect();
        let mut smoothed = Vec::with_capacity(values.len());
        let mut running = values[0];
        for &v in &values {
            running = if increasing {
                running.max(v)
            } else {
                running.min(v)
            };
            smoothed.push(running);
        }
        let optimized = if increasing {
            smoothed.clone()
        } else {
            // Running minimum: its maximum is the first value.
            smoothed.iter().map(|v| smoothed[0] - v).collect()
        };
        Some(Series {
            levels,
            values,
            increasing,
            smoothed,
            optimized,
        })
    }

    /// The raw value at `s` (linear between levels, clamped at the ends).
    pub fn value(&self, s: f64) -> f64 {
        interpolate(&self.levels, &self.values, s)
    }

    /// The value at sparsity 0 (the smallest level).
    pub fn baseline(&self) -> f64 {
        self.value(0.0)
    }

    /// `baseline / value(s)`: 1 at s = 0; `None` when either is not positive.
    pub fn gain(&self, s: f64) -> Option<f64> {
        let (base, value) = (self.baseline(), self.value(s));
        (base > 0.0 && value > 0.0).then(|| base / value)
    }

    /// How far the raw value has moved from the baseline at `s`, in the series' direction.
    pub fn sensitivity(&self, s: f64) -> f64 {
        if self.increasing {
            self.value(s) - self.baseline()
        } else {
            self.baseline() - self.value(s)
        }
    }

    /// The optimisation value at `s` (interpolated; non-decreasing in `s`).
    pub fn optimized_at(&self, s: f64) -> f64 {
        interpolate(&self.levels, &self.optimized, s)
    }

    pub fn optimized_min(&self) -> f64 {
        self.optimized.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn optimized_max(&self) -> f64 {
        self.optimized
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// The same series with every value multiplied by `factor` (a unit change).
    pub fn scaled(&self, factor: f64) -> Series {
        let points = self.levels.iter().zip(&self.values);
        Series::new(points.map(|(&s, &v)| (s, v * factor)), self.increasing)
            .expect("scaling keeps the points")
    }
}

/// Sparsify's global rescaler: `v → (v − min) / (max − min)` with the minimum and maximum taken
/// over every layer's optimisation values (no division when the range is 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rescaler {
    pub min: f64,
    pub max: f64,
}

impl Rescaler {
    pub fn over<'a>(series: impl IntoIterator<Item = &'a Series>) -> Rescaler {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for s in series {
            min = min.min(s.optimized_min());
            max = max.max(s.optimized_max());
        }
        if !min.is_finite() || !max.is_finite() {
            return Rescaler { min: 0.0, max: 1.0 };
        }
        Rescaler { min, max }
    }

    pub fn apply(&self, v: f64) -> f64 {
        let range = self.max - self.min;
        if range > 0.0 {
            (v - self.min) / range
        } else {
            v - self.min
        }
    }
}

/// What the fit and the estimates know of one prunable layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSeries {
    pub name: String,
    pub node_name: String,
    pub weight: String,
    pub op_type: String,
    /// Prunable params (the weight): what a sparsity applies to.
    pub params: f64,
    pub flops: Option<u64>,
    /// A Conv with `group > 1`.
    pub grouped: bool,
    /// Time (ms) under a measured profile, FLOPs under the FLOPs profile; `None` when neither is
    /// known (no timing and no FLOPs).
    pub perf: Option<Series>,
    /// The perf series is the layer's own: measured timings, or FLOPs under the FLOPs profile
    /// (false when it was estimated from FLOPs because a measured profile lacked the layer).
    pub perf_own: bool,
    pub loss: Series,
}

impl LayerSeries {
    /// A layer from its values, for tests and callers without an analysis.
    pub fn synthetic(name: &str, params: f64, perf: Option<Series>, loss: Series) -> LayerSeries {
        LayerSeries {
            name: name.into(),
            node_name: name.into(),
            weight: format!("{name}.weight"),
            op_type: "Gemm".into(),
            params,
            flops: None,
            grouped: false,
            perf,
            perf_own: true,
            loss,
        }
    }
}

fn is_grouped(layer: &Layer) -> bool {
    layer.op_type == "Conv"
        && layer
            .attributes
            .iter()
            .any(|(name, value)| name == "group" && matches!(value, AttrValue::Int(g) if *g > 1))
}

fn flops_series(flops: Option<u64>) -> Option<Series> {
    let f = flops.filter(|&f| f > 0)? as f64;
    Series::new([(0.0, f), (1.0, 0.0)], false)
}

/// The profile's own perf series for a layer, when it has one: a measured profile's estimate at
/// every sparsity where it carries the cost model's inputs (`estimate_points`), else its values
/// at the levels, read linearly between them.
fn own_perf(perf: &PerfProfile, layer: &Layer) -> Option<Series> {
    let entry = perf.layers.iter().find(|l| l.name == layer.name)?;
    if perf.kind == PerfKind::Measured
        && let Some(points) = estimate_points(perf, entry)
    {
        return Series::new(points, false);
    }
    let map = match perf.kind {
        PerfKind::Measured => &entry.estimated_ms,
        PerfKind::Flops => &entry.estimated_flops,
    };
    let points = perf
        .levels
        .iter()
        .filter_map(|&s| map.get(&level_key(s)).map(|&v| (s, v)));
    Series::new(points, false).or_else(|| match perf.kind {
        PerfKind::Flops => flops_series(entry.flops.or(layer.flops)),
        PerfKind::Measured => None,
    })
}

/// The loss profile's own series for a layer (matched by layer name, then weight name). A profile
/// whose levels do not start at 0 gets the point (0, 0): nothing pruned, nothing lost.
fn own_loss(loss: &LossProfile, layer: &Layer, weight: &str) -> Option<Series> {
    let entry = loss
        .layers
        .iter()
        .find(|l| l.name == layer.name)
        .or_else(|| {
            loss.layers
                .iter()
                .find(|l| !weight.is_empty() && l.weight == weight)
        })?;
    if entry.values.len() != loss.levels.len() {
        return None;
    }
    let mut points: Vec<(f64, f64)> = loss
        .levels
        .iter()
        .copied()
        .zip(entry.values.iter().copied())
        .collect();
    if loss.levels.first().is_some_and(|&s| s > 0.0) {
        points.insert(0, (0.0, 0.0));
    }
    Series::new(points, true)
}

fn approx_series(layer: &Layer) -> Series {
    let sens = layer.approx_sensitivity().unwrap_or(0.0);
    Series::new([(0.0, 0.0), (1.0, sens)], true).expect("two points")
}

/// `Σ own / Σ estimate` at sparsity `at` over the layers that have both: the factor that puts a
/// fallback series into the profile's units (1 when nothing can be compared).
fn unit_factor(pairs: &[(Option<Series>, Option<Series>)], at: f64, decreasing: bool) -> f64 {
    let (mut own, mut est) = (0.0, 0.0);
    for (o, e) in pairs {
        if let (Some(o), Some(e)) = (o, e) {
            if decreasing {
                own += o.baseline();
                est += e.baseline();
            } else {
                own += o.value(at);
                est += e.value(at);
            }
        }
    }
    if own > 0.0 && est > 0.0 && own.is_finite() && est.is_finite() {
        own / est
    } else {
        1.0
    }
}

pub(crate) fn listed(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

/// The series of every prunable layer, in analysis order, and notes on fallbacks.
pub fn build(
    analysis: &ModelAnalysis,
    perf: &PerfProfile,
    perf_name: &str,
    loss: &LossProfile,
    loss_name: &str,
) -> (Vec<LayerSeries>, Vec<String>) {
    let prunable: Vec<&Layer> = analysis.layers.iter().filter(|l| l.is_prunable).collect();
    let weight = |l: &Layer| {
        l.weight
            .as_ref()
            .map(|w| w.name.clone())
            .unwrap_or_default()
    };
    let perf_pairs: Vec<(Option<Series>, Option<Series>)> = prunable
        .iter()
        .map(|l| (own_perf(perf, l), flops_series(l.flops)))
        .collect();
    let loss_pairs: Vec<(Option<Series>, Option<Series>)> = prunable
        .iter()
        .map(|l| (own_loss(loss, l, &weight(l)), Some(approx_series(l))))
        .collect();
    // A measured profile's missing layers are timed from FLOPs at the model's ms per FLOP; a
    // loss profile's from the approximation, scaled to agree at 0.9 on the layers both cover.
    let ms_per_flop = unit_factor(&perf_pairs, 0.0, true);
    let loss_per_approx = unit_factor(&loss_pairs, 0.9, false);

    let mut notes = Vec::new();
    let (mut perf_missing, mut perf_none, mut loss_missing) = (Vec::new(), Vec::new(), Vec::new());
    let mut layers = Vec::with_capacity(prunable.len());
    for ((layer, (own_p, est_p)), (own_l, est_l)) in prunable.iter().zip(perf_pairs).zip(loss_pairs)
    {
        let perf_own = own_p.is_some();
        let perf_series = match (own_p, est_p) {
            (Some(own), _) => Some(own),
            (None, Some(est)) => {
                perf_missing.push(layer.name.clone());
                Some(match perf.kind {
                    PerfKind::Measured => est.scaled(ms_per_flop),
                    PerfKind::Flops => est,
                })
            }
            (None, None) => {
                perf_none.push(layer.name.clone());
                None
            }
        };
        let loss_series = match own_l {
            Some(own) => own,
            None => {
                loss_missing.push(layer.name.clone());
                est_l.expect("approx always exists").scaled(loss_per_approx)
            }
        };
        layers.push(LayerSeries {
            name: layer.name.clone(),
            node_name: layer.node_name.clone(),
            weight: weight(layer),
            op_type: layer.op_type.clone(),
            params: layer.prunable_params as f64,
            flops: layer.flops,
            grouped: is_grouped(layer),
            perf: perf_series,
            perf_own,
            loss: loss_series,
        });
    }
    if !perf_missing.is_empty() && perf.kind == PerfKind::Measured {
        notes.push(format!(
            "{} prunable layer(s) have no timings in perf profile '{perf_name}' ({}); their time is estimated from their FLOPs at the model's average ms per FLOP for the fit, and their time estimates are left blank (Sparsify would have treated them as free to prune).",
            perf_missing.len(),
            listed(&perf_missing)
        ));
    }
    if !perf_none.is_empty() {
        notes.push(format!(
            "{} prunable layer(s) have neither timings nor FLOPs ({}); the fit counts them as saving nothing, and their speedup is unknown.",
            perf_none.len(),
            listed(&perf_none)
        ));
    }
    if !loss_missing.is_empty() && !loss.layers.is_empty() {
        notes.push(format!(
            "{} prunable layer(s) have no entry in loss profile '{loss_name}' ({}); their loss is approximated from shapes (Sparsify's equation), scaled to the profile's units, rather than counted as free to prune.",
            loss_missing.len(),
            listed(&loss_missing)
        ));
    }
    (layers, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_and_optimisation_values() {
        let inc = Series::new([(0.0, 0.0), (0.5, 2.0), (0.8, 1.0), (1.0, 3.0)], true).unwrap();
        assert_eq!(inc.smoothed, vec![0.0, 2.0, 2.0, 3.0]);
        assert_eq!(inc.optimized, inc.smoothed);
        let dec = Series::new([(0.0, 10.0), (0.5, 6.0), (0.8, 7.0), (1.0, 2.0)], false).unwrap();
        assert_eq!(dec.smoothed, vec![10.0, 6.0, 6.0, 2.0]);
        assert_eq!(dec.optimized, vec![0.0, 4.0, 4.0, 8.0]);
        assert_eq!(dec.gain(0.5), Some(10.0 / 6.0));
        assert_eq!(dec.sensitivity(0.5), 4.0);
        assert!(Series::new([(0.0, 1.0)], true).is_none());
        let r = Rescaler::over([&inc, &dec]);
        assert_eq!((r.min, r.max), (0.0, 8.0));
        assert_eq!(r.apply(4.0), 0.5);
    }
}

//! The auto-fit: costs, water-filling, restrictions, filters and redistribution
//! of Sparsify's pruning model evaluator, with four of its defects fixed: the inverted perf cost,
//! the `min_speedup` threshold that never filtered, the target missed after filtering, and a 0
//! threshold read as "off" (each explained below).
//!
//! **Costs.** For every layer and every sparsity s on the grid 0.00, 0.01, …, 0.95:
//!
//! `cost(s) = b · loss(s) + (1 − b) · s · (1 − e)`
//!
//! where `b` is the balance (1 = loss only, Sparsify's `balance_perf_loss`), `loss(s)` the layer's
//! smoothed loss series under the global loss rescaler (so every layer shares one scale), and `e`
//! the layer's *time saved per weight removed* — the rescaled saving of its perf series between
//! sparsity 0 and 0.95 divided by 0.95 × its prunable params — relative to the largest such value
//! of any layer (so `e` is in [0, 1] and the most efficient layer has `e = 1`). The perf term is
//! non-decreasing in s, which the walk below needs, and it is *smaller* for layers that save more
//! time: at b < 1 such layers get more sparsity. Sparsify's own perf term was the rescaled saving
//! itself, which made the layers that save the most the most expensive to prune; under
//! the FLOPs profile it used each layer's whole FLOP count as a constant cost, with the same
//! inverted effect. Saving per weight is the quantity the budget trades: the target is a count of
//! weights, and a weight removed from a layer that saves more per weight buys more speed.
//!
//! **Water-filling.** Pool every (layer, s, cost) entry, sort by cost (stable: ties keep layer
//! order, then s order), and walk the list, raising each entry's layer to its s, until the pruned
//! weights would exceed `target × Σ params`. As each layer's costs rise with s, the walk brings all
//! layers up to one cost level, and cheap layers end sparser. The grid stops at the 0.95 cap
//! (Sparsify walked to 0.99 and clipped afterwards, losing that share of the target).
//!
//! **Restrictions and filters.** The first prunable layer and every grouped Conv are left dense
//! unless overridden (Sparsify's rules: the first layer is almost always among the most sensitive,
//! grouped convs are structurally pruned). Then a layer is left dense when its fitted sparsity is
//! below `min_sparsity`, its speedup `t(0)/t(s)` below `min_speedup`, or its recovery confidence
//! below `min_recovery`. Each filter is an `Option`: `None` is off and any `Some` value is
//! applied, 0 included (Sparsify's Python truthiness turned a 0 threshold off).
//!
//! **Redistribution.** Sparsify left the share of a dropped layer unpruned, so the achieved
//! average fell short of the target. Here the layers that are fixed — overridden,
//! restricted or dropped by a filter — keep their sparsity, and the fit is re-run over the others
//! with the target raised so the whole model still reaches the user's average:
//! `t' = (target · Σ params − Σ fixed pruned weights) / Σ free params`. Filters are applied to
//! each fit one layer at a time — the least sparse failing layer is dropped and the fit re-run —
//! because dropping one raises the others, which may then pass a filter they failed before. A
//! layer below `min_sparsity` whose share the other layers could not carry (they would pass the
//! cap) is raised to `min_sparsity` instead of dropped, which respects the filter's meaning (dense
//! or at least `min_sparsity`) and keeps the target reachable; a note names such layers. Each
//! round fixes a layer or raises a floor once, so the loop ends within 2 × layers rounds. When `t'`
//! exceeds the 0.95 cap every free layer is set to 0.95 and a note says the target is out of
//! reach, names the dense layers and gives the average that was reached.

use regex::Regex;

use super::estimate::recovery;
use super::plan::{Filters, Override};
use super::series::{LayerSeries, Rescaler, listed};
use crate::error::{Error, Result};

/// Sparsify's `MAX_NODE_SPARSITY`: no fitted layer goes above it (an override may).
pub const MAX_SPARSITY: f64 = 0.95;
/// The most an override may ask for.
pub const MAX_OVERRIDE: f64 = 0.99;
/// Grid points 0.00 to 0.95 in steps of 0.01.
const GRID: usize = 96;

pub fn grid(k: usize) -> f64 {
    k as f64 / 100.0
}

/// Each layer's cost at every grid point, for balance `b` (see the module doc).
pub fn costs(layers: &[LayerSeries], balance: f64) -> Vec<Vec<f64>> {
    let loss_scale = Rescaler::over(layers.iter().map(|l| &l.loss));
    let perf_scale = Rescaler::over(layers.iter().filter_map(|l| l.perf.as_ref()));
    let efficiency: Vec<f64> = layers
        .iter()
        .map(|l| match &l.perf {
            Some(p) if l.params > 0.0 => {
                let saved = perf_scale.apply(p.optimized_at(MAX_SPARSITY))
                    - perf_scale.apply(p.optimized_at(0.0));
                (saved / (MAX_SPARSITY * l.params)).max(0.0)
            }
            _ => 0.0,
        })
        .collect();
    let best = efficiency.iter().copied().fold(0.0, f64::max);
    layers
        .iter()
        .zip(&efficiency)
        .map(|(layer, &eff)| {
            let relative = if best > 0.0 { eff / best } else { 0.0 };
            (0..GRID)
                .map(|k| {
                    let s = grid(k);
                    let loss = loss_scale.apply(layer.loss.optimized_at(s));
                    let perf = s * (1.0 - relative);
                    balance * loss + (1.0 - balance) * perf
                })
                .collect()
        })
        .collect()
}

/// Every (cost, layer, grid index) entry, sorted once by cost. `sort_by` is stable: ties keep
/// layer order, then sparsity order.
pub struct Entries(Vec<(f64, usize, usize)>);

impl Entries {
    pub fn new(costs: &[Vec<f64>]) -> Entries {
        let mut entries: Vec<(f64, usize, usize)> = costs
            .iter()
            .enumerate()
            .flat_map(|(i, row)| row.iter().enumerate().map(move |(k, &c)| (c, i, k)))
            .collect();
        entries.sort_by(|a, b| a.0.total_cmp(&b.0));
        Entries(entries)
    }
}

/// The walk over the layers with `member[i]`, each starting at `floors[i]`, to the average
/// `target` of their params; every other layer gets `None`.
fn walk(
    entries: &Entries,
    params: &[f64],
    member: &[bool],
    floors: &[f64],
    target: f64,
) -> Vec<Option<f64>> {
    let n = params.len();
    let mut sparsity = vec![None; n];
    let mut pruned = vec![0.0; n];
    let mut total = 0.0;
    let mut budget = 0.0;
    for i in (0..n).filter(|&i| member[i]) {
        sparsity[i] = Some(floors[i]);
        pruned[i] = floors[i] * params[i];
        total += pruned[i];
        budget += target * params[i];
    }
    let tolerance = 1e-9 * budget.max(1.0);
    for &(_, i, k) in &entries.0 {
        let s = grid(k);
        if !member[i] || s <= floors[i] {
            continue;
        }
        let next = s * params[i];
        total += next - pruned[i];
        pruned[i] = next;
        if total > budget + tolerance {
            break;
        }
        sparsity[i] = Some(s);
    }
    sparsity
}

/// Water-filling over `members` (indices into `costs`/`params`) to the average `target`; every
/// other layer gets `None`. A member the walk never raises stays at 0.
pub fn water_fill(
    costs: &[Vec<f64>],
    params: &[f64],
    members: &[usize],
    target: f64,
) -> Vec<Option<f64>> {
    let mut member = vec![false; costs.len()];
    for &i in members {
        member[i] = true;
    }
    let floors = vec![0.0; costs.len()];
    walk(&Entries::new(costs), params, &member, &floors, target)
}

/// Which override applies to each layer: `None` not overridden, `Some(None)` left dense,
/// `Some(Some(s))` pruned to s. Later overrides win.
pub fn resolve_overrides(
    layers: &[LayerSeries],
    overrides: &[Override],
) -> Result<Vec<Option<Option<f64>>>> {
    let mut resolved = vec![None; layers.len()];
    for o in overrides {
        if let Some(s) = o.sparsity
            && !(0.0..=MAX_OVERRIDE).contains(&s)
        {
            return Err(Error::Usage(format!(
                "override {} asks for sparsity {s}, outside [0, {MAX_OVERRIDE}]; give a sparsity such as 0.8, or off to leave the layer dense.",
                o.pattern
            )));
        }
        let matches: Box<dyn Fn(&LayerSeries) -> bool> = match o.pattern.strip_prefix("re:") {
            Some(pattern) => {
                let re = Regex::new(pattern).map_err(|e| {
                    Error::Usage(format!(
                        "override {} is not a valid regular expression ({}); fix the pattern after re:.",
                        o.pattern,
                        e.to_string().lines().last().unwrap_or("invalid").trim()
                    ))
                })?;
                Box::new(move |l: &LayerSeries| {
                    re.is_match(&l.name) || re.is_match(&l.node_name) || re.is_match(&l.weight)
                })
            }
            None => {
                let name = o.pattern.clone();
                Box::new(move |l: &LayerSeries| {
                    l.name == name || l.node_name == name || l.weight == name
                })
            }
        };
        let mut any = false;
        for (i, layer) in layers.iter().enumerate() {
            if matches(layer) {
                resolved[i] = Some(o.sparsity);
                any = true;
            }
        }
        if !any {
            return Err(Error::Usage(format!(
                "override {} matches no prunable layer; give a prunable layer's name or weight name (see the analysis), or re:PATTERN.",
                o.pattern
            )));
        }
    }
    Ok(resolved)
}

/// The fit's result, per layer in the order of the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub sparsity: Vec<Option<f64>>,
    pub overridden: Vec<bool>,
    pub reasons: Vec<Option<String>>,
    /// The average sparsity reached over the prunable params.
    pub achieved: f64,
    pub notes: Vec<String>,
}

/// What the fit is asked for.
pub struct FitRequest<'a> {
    pub layers: &'a [LayerSeries],
    /// From [`costs`] at the user's balance.
    pub costs: &'a [Vec<f64>],
    /// The loss-only reference fit (recovery is measured against it).
    pub reference: &'a [Option<f64>],
    pub target: f64,
    pub filters: &'a Filters,
    /// From [`resolve_overrides`].
    pub overrides: &'a [Option<Option<f64>>],
    /// Apply Sparsify's restrictions (first prunable layer, grouped convs).
    pub restrictions: bool,
}

/// Why a filter leaves a layer dense, if one does, and whether it is `min_sparsity`.
fn filtered(
    layer: &LayerSeries,
    s: f64,
    reference: Option<f64>,
    filters: &Filters,
) -> Option<(String, bool)> {
    if let Some(min) = filters.min_sparsity
        && s < min
    {
        return Some((
            format!("min_sparsity: fitted sparsity {s:.2} is below {min}"),
            true,
        ));
    }
    if let Some(min) = filters.min_speedup {
        match layer.perf.as_ref().and_then(|p| p.gain(s)) {
            Some(speedup) if speedup < min => {
                return Some((
                    format!(
                        "min_speedup: estimated speedup {speedup:.3}x at {s:.2} is below {min}x"
                    ),
                    false,
                ));
            }
            // A layer whose speedup cannot be estimated is kept: the filter has nothing to judge.
            _ => {}
        }
    }
    if let Some(min) = filters.min_recovery {
        let r = recovery(&layer.loss, reference, Some(s));
        if r < min {
            return Some((
                format!("min_recovery: recovery confidence {r:.3} at {s:.2} is below {min}"),
                false,
            ));
        }
    }
    None
}

/// Restrictions, water-filling, filters and redistribution (see the module doc).
pub fn fit(request: &FitRequest) -> Fitted {
    let layers = request.layers;
    let n = layers.len();
    let params: Vec<f64> = layers.iter().map(|l| l.params).collect();
    let total: f64 = params.iter().sum();
    let mut fixed: Vec<Option<Option<f64>>> = vec![None; n];
    let mut overridden = vec![false; n];
    let mut reasons: Vec<Option<String>> = vec![None; n];
    for i in 0..n {
        if let Some(value) = request.overrides[i] {
            fixed[i] = Some(value);
            overridden[i] = true;
            if value.is_none() {
                reasons[i] = Some("override: off".into());
            }
        } else if request.restrictions && i == 0 {
            fixed[i] = Some(None);
            reasons[i] = Some(
                "first prunable layer: usually among the most sensitive (Sparsify's rule); override it to prune it".into(),
            );
        } else if request.restrictions && layers[i].grouped {
            fixed[i] = Some(None);
            reasons[i] = Some(
                "grouped convolution (group > 1): Sparsify leaves these to structured pruning; override it to prune it".into(),
            );
        }
    }
    let entries = Entries::new(request.costs);
    let mut floors = vec![0.0; n];
    let mut kept_at_min = Vec::new();
    let mut capped_at;
    let mut rounds = 0;
    let sparsity = loop {
        rounds += 1;
        let member: Vec<bool> = fixed.iter().map(Option::is_none).collect();
        let fixed_pruned: f64 = (0..n)
            .filter_map(|i| fixed[i].flatten().map(|s| s * params[i]))
            .sum();
        let free_params: f64 = (0..n).filter(|&i| member[i]).map(|i| params[i]).sum();
        let need = request.target * total - fixed_pruned;
        let raised = if free_params > 0.0 {
            need / free_params
        } else if need > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        capped_at = (raised > MAX_SPARSITY).then_some(raised);
        let fill = walk(
            &entries,
            &params,
            &member,
            &floors,
            raised.clamp(0.0, MAX_SPARSITY),
        );
        // One layer at a time, the least sparse first (then the smallest): dropping it raises
        // the others, which may then pass a filter they failed in this round.
        let worst = (0..n)
            .filter(|&i| member[i])
            .filter_map(|i| {
                let s = fill[i].filter(|&s| s > 0.0)?;
                let failed = filtered(&layers[i], s, request.reference[i], request.filters)?;
                Some((i, s, failed))
            })
            .min_by(|a, b| {
                a.1.total_cmp(&b.1)
                    .then(params[a.0].total_cmp(&params[b.0]))
            });
        let Some((i, _, (reason, min_sparsity))) = worst else {
            break (0..n)
                .map(|i| match fixed[i] {
                    Some(value) => value,
                    None => fill[i],
                })
                .collect::<Vec<_>>();
        };
        // A layer below min_sparsity whose share the others cannot carry (they would pass the
        // cap) is raised to min_sparsity instead: "dense or at least min_sparsity" either way.
        let reachable_without = fixed_pruned + MAX_SPARSITY * (free_params - params[i])
            >= request.target * total * (1.0 - 1e-9);
        let floor = request.filters.min_sparsity.unwrap_or(0.0);
        if min_sparsity && !reachable_without && floor <= MAX_SPARSITY && floors[i] < floor {
            floors[i] = floor;
            kept_at_min.push(layers[i].name.clone());
        } else {
            fixed[i] = Some(None);
            reasons[i] = Some(reason);
        }
    };
    // A free layer the walk never raised is left dense.
    let sparsity: Vec<Option<f64>> = sparsity
        .into_iter()
        .enumerate()
        .map(|(i, s)| match s {
            Some(v) if v <= 0.0 && !overridden[i] => {
                if reasons[i].is_none() {
                    reasons[i] = Some(
                        "the fit gave it no sparsity: it costs more than the other layers at this target".into(),
                    );
                }
                None
            }
            other => other,
        })
        .collect();
    let achieved = if total > 0.0 {
        (0..n)
            .filter_map(|i| sparsity[i].map(|s| s * params[i]))
            .sum::<f64>()
            / total
    } else {
        0.0
    };

    let mut notes = Vec::new();
    kept_at_min.retain(|name| {
        let i = layers
            .iter()
            .position(|l| &l.name == name)
            .expect("a layer");
        sparsity[i].is_some()
    });
    if !kept_at_min.is_empty() {
        notes.push(format!(
            "{} layer(s) below min_sparsity were raised to it rather than left dense, as the other layers could not carry their share of the target: {}.",
            kept_at_min.len(),
            kept_at_min.join(", ")
        ));
    }
    let dense_names: Vec<String> = (0..n)
        .filter(|&i| {
            sparsity[i].is_none()
                && reasons[i]
                    .as_deref()
                    .is_some_and(|r| !r.starts_with("the fit"))
        })
        .map(|i| layers[i].name.clone())
        .collect();
    let left_dense = dense_names.len();
    if capped_at.is_some_and(f64::is_infinite) {
        notes.push(format!(
            "Target {:.2} is out of reach: every prunable layer is left dense or fixed ({}), and the model reaches {achieved:.3}. Override the dense layers, relax the filters or lower the target.",
            request.target,
            listed(&dense_names)
        ));
    } else if let Some(raised) = capped_at {
        notes.push(format!(
            "Target {:.2} is out of reach: with {left_dense} layer(s) left dense ({}) and the overrides kept, the other layers would need {raised:.3} on average, above the {MAX_SPARSITY} cap; they are at the cap and the model reaches {achieved:.3}. Override the dense layers or lower the target.",
            request.target,
            listed(&dense_names)
        ));
    } else if achieved > request.target + 0.01 {
        notes.push(format!(
            "The overrides alone prune more than the target: the model reaches {achieved:.3} against {:.2}, and the other layers are left dense.",
            request.target
        ));
    } else if achieved < request.target - 0.01 {
        notes.push(format!(
            "The model reaches {achieved:.3} against a target of {:.2}: no layer could be raised further.",
            request.target
        ));
    } else if left_dense > 0 {
        notes.push(format!(
            "{left_dense} layer(s) left dense (first prunable layer, grouped convs, filters, overrides off); their share of the target went to the other layers{}.",
            if rounds > 1 {
                format!(", re-fitted {} time(s) as filters dropped layers", rounds - 1)
            } else {
                String::new()
            }
        ));
    }
    Fitted {
        sparsity,
        overridden,
        reasons,
        achieved,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimize::series::Series;

    fn linear(top: f64) -> Series {
        Series::new([(0.0, 0.0), (1.0, top)], true).unwrap()
    }

    fn time(base: f64, at_one: f64) -> Option<Series> {
        Series::new([(0.0, base), (1.0, at_one)], false)
    }

    /// Sparsify's worked example of the walk: A (1000 params, sens 1) and B (100 params, sens 4)
    /// at target 0.5,
    /// loss only: the walk stops at cost 0.135 with A = 0.53 and B = 0.13 (543 weights).
    #[test]
    fn worked_example_before_filters() {
        let layers = vec![
            LayerSeries::synthetic("A", 1000.0, None, linear(1.0)),
            LayerSeries::synthetic("B", 100.0, None, linear(4.0)),
        ];
        let costs = costs(&layers, 1.0);
        assert!((costs[0][40] - 0.1).abs() < 1e-12, "A's cost is s/4");
        assert!((costs[1][40] - 0.4).abs() < 1e-12, "B's cost is s");
        let fill = water_fill(&costs, &[1000.0, 100.0], &[0, 1], 0.5);
        assert_eq!(fill, vec![Some(0.53), Some(0.13)]);

        // With Sparsify's default filters, A is the first layer and B is below min_sparsity 0.4;
        // prunekit redistributes instead of ending unpruned, so with no overrides nothing can be
        // pruned at all (A is restricted, B alone cannot carry 550 of 1100 weights).
        let reference = fill.clone();
        let none = vec![None, None];
        let filters = Filters {
            min_sparsity: Some(0.4),
            ..Filters::default()
        };
        let fitted = fit(&FitRequest {
            layers: &layers,
            costs: &costs,
            reference: &reference,
            target: 0.5,
            filters: &filters,
            overrides: &none,
            restrictions: true,
        });
        assert_eq!(fitted.sparsity, vec![None, Some(0.95)]);
        assert!(
            fitted.notes[0].contains("out of reach"),
            "{:?}",
            fitted.notes
        );
    }

    /// Two layers with equal params and loss curves; B saves twice the time of A. At balance 1
    /// they get the same sparsity; below 1, B (the layer that saves more) gets more.
    #[test]
    fn layers_that_save_more_time_get_more_sparsity() {
        let layers = vec![
            LayerSeries::synthetic("A", 1000.0, time(10.0, 5.0), linear(1.0)),
            LayerSeries::synthetic("B", 1000.0, time(20.0, 10.0), linear(1.0)),
        ];
        let at = |b: f64| water_fill(&costs(&layers, b), &[1000.0, 1000.0], &[0, 1], 0.5);
        assert_eq!(at(1.0), vec![Some(0.5), Some(0.5)]);
        for b in [0.0, 0.25, 0.5, 0.75, 0.9] {
            let fill = at(b);
            let (a, bb) = (fill[0].unwrap(), fill[1].unwrap());
            assert!(bb > a, "balance {b}: A {a}, B {bb}");
            assert!((a + bb) / 2.0 > 0.49, "balance {b}: target kept");
        }
        // Costs stay non-decreasing in s for every balance.
        for b in [0.0, 0.5, 1.0] {
            for row in costs(&layers, b) {
                assert!(row.windows(2).all(|w| w[1] >= w[0]));
            }
        }
    }

    #[test]
    fn filtered_share_goes_to_the_other_layers() {
        let layers: Vec<LayerSeries> = (0..4)
            .map(|i| LayerSeries::synthetic(&format!("L{i}"), 1000.0, None, linear(1.0 + i as f64)))
            .collect();
        let costs = costs(&layers, 1.0);
        let params = vec![1000.0; 4];
        let reference = water_fill(&costs, &params, &[0, 1, 2, 3], 0.6);
        let none = vec![None; 4];
        let fitted = fit(&FitRequest {
            layers: &layers,
            costs: &costs,
            reference: &reference,
            target: 0.6,
            filters: &Filters {
                min_sparsity: Some(0.5),
                ..Filters::default()
            },
            overrides: &none,
            restrictions: true,
        });
        assert_eq!(fitted.sparsity[0], None, "first prunable layer skipped");
        assert!(
            fitted.reasons[0]
                .as_deref()
                .unwrap()
                .starts_with("first prunable")
        );
        assert!((fitted.achieved - 0.6).abs() <= 0.01, "{}", fitted.achieved);
    }

    /// min_recovery Some(0) is active: a layer pushed past twice its reference sparsity has a
    /// recovery below 0 and is dropped; with the filter off it is kept.
    #[test]
    fn min_recovery_zero_drops_a_layer() {
        let layers = vec![
            LayerSeries::synthetic("L0", 100.0, None, linear(1.0)),
            LayerSeries::synthetic("L1", 1000.0, None, linear(1.0)),
            LayerSeries::synthetic("L2", 1000.0, None, linear(10.0)),
        ];
        let costs = costs(&layers, 1.0);
        let reference = vec![Some(0.5), Some(0.9), Some(0.1)];
        let none = vec![None; 3];
        let run = |filters: &Filters| {
            fit(&FitRequest {
                layers: &layers,
                costs: &costs,
                reference: &reference,
                target: 0.6,
                filters,
                overrides: &none,
                restrictions: true,
            })
        };
        let off = run(&Filters::default());
        assert_eq!(off.sparsity[1], Some(0.95));
        let s2 = off.sparsity[2].unwrap();
        assert!((s2 - 0.31).abs() < 0.011, "{off:?}");
        assert!(recovery(&layers[2].loss, reference[2], Some(s2)) < 0.0);
        assert!((off.achieved - 0.6).abs() <= 0.01);

        let zero = run(&Filters {
            min_recovery: Some(0.0),
            ..Filters::default()
        });
        assert_eq!(zero.sparsity, vec![None, Some(0.95), None], "{zero:?}");
        assert!(
            zero.reasons[2]
                .as_deref()
                .unwrap()
                .starts_with("min_recovery")
        );
        assert!(
            zero.notes.iter().any(|n| n.contains("out of reach")),
            "{zero:?}"
        );
    }
}

//! Charts of the profiles: time (or FLOPs) per layer and per op type, the estimated speedup by
//! sparsity ([`perf`]), and the loss sensitivity of each layer, as bars and as curves ([`loss`]).
//! Same look as `params_and_flops`: a bold title, a muted caption, zebra rows with names on the
//! left.

mod loss;
mod perf;

pub use loss::{loss_compare, loss_curves, loss_layers, quantization_layers};
pub use perf::{perf_layers, perf_op_types, perf_speedup};

use super::kit::lines::XTick;
use super::kit::numbers::percent;
use super::kit::style::MAX_BARS;
use crate::{Error, Result};

/// The ticks of a sparsity axis from 0% to 100%: a gridline every 10%, labelled every 20%.
fn sparsity_ticks() -> Vec<XTick> {
    (0..=10)
        .map(|k| {
            let s = f64::from(k) / 10.0;
            (s, (k % 2 == 0).then(|| percent(s)))
        })
        .collect()
}

pub(super) fn check_top(top: Option<usize>) -> Result<()> {
    if top == Some(0) {
        return Err(Error::Usage(
            "the number of top layers to chart must be at least 1.".to_string(),
        ));
    }
    Ok(())
}

/// The rows to draw: all of them in their order, or, with `top` or more than [`MAX_BARS`], the
/// largest by `key` (stable: ties keep their order), largest first. Also whether they were ranked.
pub(super) fn rank<T>(
    mut all: Vec<T>,
    top: Option<usize>,
    key: impl Fn(&T) -> f64,
) -> (Vec<T>, bool) {
    let ranked = top.is_some() || all.len() > MAX_BARS;
    if ranked {
        all.sort_by(|a, b| key(b).total_cmp(&key(a)));
        all.truncate(top.unwrap_or(MAX_BARS).min(MAX_BARS));
    }
    (all, ranked)
}

/// "what", with ", top N of M by X" or ", by X" when the rows were ranked.
pub(super) fn ranked_heading(
    what: &str,
    by: &str,
    ranked: bool,
    shown: usize,
    total: usize,
) -> String {
    let mut heading = what.to_string();
    if ranked {
        if shown < total {
            heading.push_str(&format!(", top {shown} of {total} by {by}"));
        } else {
            heading.push_str(&format!(", by {by}"));
        }
    }
    heading
}

pub(super) fn finite_text(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.filter(|v| v.is_finite()).map(f).unwrap_or_default()
}

/// The levels, as percentages: "0%, 40%, 90%", or "none".
pub(super) fn levels_text(levels: &[f64]) -> String {
    if levels.is_empty() {
        return "none".to_string();
    }
    levels
        .iter()
        .map(|l| percent(*l))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The range of the levels: "0%–99%".
pub(super) fn range_text(levels: &[f64]) -> String {
    match (levels.first(), levels.last()) {
        (Some(a), Some(b)) if a != b => format!("{}–{}", percent(*a), percent(*b)),
        (Some(a), _) => percent(*a),
        _ => "(no levels)".to_string(),
    }
}

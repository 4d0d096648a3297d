//! The chart of a structured plan: per channel group, the channels kept beside the channels it
//! had, in graph order; the caption gives the target and the estimate.

use super::Chart;
use super::kit::axis::TickFormat;
use super::kit::bars::{Aside, Bar, BarChart, BarPanel, BarRow};
use super::kit::numbers::times;
use super::kit::page::empty_scene;
use super::kit::style::{ACCENT, GREY, MAX_BARS};
use super::render::render;
use crate::Result;
use crate::optimize::channels::Target;
use crate::optimize::plan::PruningPlan;

/// Channels kept (blue) over channels before (grey) per group of the plan; groups left whole
/// show their count in grey only. At most [`MAX_BARS`] rows: the groups with the most channels
/// removed, in graph order.
pub fn channel_plan(plan: &PruningPlan) -> Result<Chart> {
    let heading = "channels kept per group".to_string();
    let Some(channels) = &plan.channels else {
        return render(&empty_scene(
            &heading,
            "the plan prunes weights, not channels",
            "not a structured plan",
        ));
    };
    let target = match channels.target {
        Target::Speedup(x) => format!("{} faster", times(x)),
        Target::FlopsReduction(x) => format!("{} fewer FLOPs", times(x)),
    };
    let pruned = channels
        .groups
        .iter()
        .filter(|g| g.kept < g.channels)
        .count();
    let caption = format!(
        "target {target}, estimated {}{}; {pruned} of {} groups lose channels, {} cannot",
        times(channels.estimated_ratio),
        if channels.reached {
            ""
        } else {
            " (not reached)"
        },
        channels.groups.len(),
        channels.unprunable.len()
    );
    let mut chosen: Vec<usize> = (0..channels.groups.len()).collect();
    if chosen.len() > MAX_BARS {
        chosen.sort_by_key(|&i| {
            let g = &channels.groups[i];
            std::cmp::Reverse(g.channels - g.kept)
        });
        chosen.truncate(MAX_BARS);
        chosen.sort_unstable();
    }
    if chosen.is_empty() {
        return render(&empty_scene(&heading, &caption, "no channel groups"));
    }
    let rows = chosen
        .iter()
        .map(|&i| {
            let g = &channels.groups[i];
            BarRow {
                name: g.name.clone(),
                bars: vec![
                    Some(Bar {
                        value: g.channels as f64,
                        label: g.channels.to_string(),
                        color: GREY,
                    }),
                    (g.kept < g.channels).then(|| Bar {
                        value: g.kept as f64,
                        label: format!("{} kept", g.kept),
                        color: ACCENT,
                    }),
                ],
            }
        })
        .collect();
    let chart = BarChart {
        heading,
        caption,
        panel: BarPanel {
            aside: Aside::Legend(vec![(GREY, "before".into()), (ACCENT, "kept".into())]),
            ..BarPanel::new("channels", TickFormat::Count)
        },
        rows,
        note: None,
    };
    render(&chart.scene())
}

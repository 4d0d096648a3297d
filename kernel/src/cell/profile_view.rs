//! How profiles are shown: the summaries, the plain-text rows and the HTML tables of performance
//! and loss profiles, and the pieces the `profiles` listing shares with them.

use prunekit_core::chart;
use prunekit_core::profile::{self, LossProfile, PerfKind, PerfProfile, level_key};
use serde_json::Value;

use super::output::{Output, Sink};
use crate::display::bundle::Bundle;
use crate::display::table::{self, Column};
use crate::display::text::keep_tail;

pub fn show_chart(sink: &dyn Sink, chart: chart::Chart, what: &str) {
    sink.emit(Output::Display {
        bundle: Bundle::text(format!("[chart: {what}]")).png(&chart.png, chart.width, chart.height),
        display_id: None,
    });
}

/// The profile's JSON with its name first.
pub fn named(name: &str, profile: &impl serde::Serialize) -> Value {
    let mut value = serde_json::to_value(profile).expect("profiles serialize");
    if let Value::Object(map) = &mut value {
        map.insert("name".into(), Value::String(name.into()));
    }
    value
}

pub fn ms3(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.1}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}

pub fn perf_summary(name: &str, p: &PerfProfile, level: f64) -> String {
    let m = &p.model;
    let key = level_key(level);
    let mut out = match (p.kind, m.ms_per_batch) {
        (PerfKind::Measured, Some(ms)) => {
            let threads = m.threads.map_or("auto".into(), |t| t.to_string());
            // With rounds, the time is the fastest round's mean and the percentiles span every
            // run, so the mean can read below the median: say which is which.
            let (of, over) = match m.rounds_ms.len() {
                0 | 1 => (String::new(), ""),
                n => (format!(" in the fastest of {n} rounds"), " over every run"),
            };
            let mut line = format!(
                "Performance profile '{name}': batch {}, threads {threads}, {} runs after {} warmup.\n  {} ms per batch{of} (p50 {}, p90 {}{over}), {:.0} items per second.\n",
                m.batch,
                m.iterations,
                m.warmup,
                ms3(ms),
                m.p50_ms.map_or("?".into(), ms3),
                m.p90_ms.map_or("?".into(), ms3),
                m.items_per_second.unwrap_or(0.0)
            );
            if let Some(est) = m.estimated_ms.get(&key) {
                line.push_str(&format!(
                    "  Estimate at {:.0}% sparsity for {}: {} ms ({:.2}x), {}.\n",
                    level * 100.0,
                    profile::perf::ENGINE,
                    ms3(*est),
                    ms / est.max(1e-12),
                    profile::perf::MEASURED_ERROR
                ));
            }
            line
        }
        _ => {
            let mut line = format!(
                "FLOPs profile '{name}' (nothing was run): {} FLOPs at batch {}.\n",
                prunekit_core::format::si(m.flops),
                m.batch
            );
            if let Some(f) = m.estimated_flops.get(&key) {
                line.push_str(&format!(
                    "  At {:.0}% sparsity: {} FLOPs ({:.2}x fewer).\n",
                    level * 100.0,
                    prunekit_core::format::si(*f as u64),
                    m.flops as f64 / f.max(1.0)
                ));
            }
            line
        }
    };
    for note in p.fused.iter().take(8) {
        out.push_str(&format!("  fused: {note}\n"));
    }
    if p.fused.len() > 8 {
        out.push_str(&format!("  fused: ... and {} more\n", p.fused.len() - 8));
    }
    for note in &p.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    out
}

pub fn perf_text(name: &str, p: &PerfProfile, level: f64) -> String {
    let key = level_key(level);
    let mut out = perf_summary(name, p, level);
    let measured = p.kind == PerfKind::Measured;
    out.push_str(&format!(
        "\n{:<40} {:>18} {:>12} {:>14}\n",
        "layer",
        "op",
        if measured { "ms" } else { "FLOPs" },
        format!("at {}", key)
    ));
    for l in &p.layers {
        let (now, at) = if measured {
            (
                l.ms.map_or("-".into(), ms3),
                l.estimated_ms.get(&key).map_or(String::new(), |v| ms3(*v)),
            )
        } else {
            (
                l.flops.map_or("-".into(), prunekit_core::format::si),
                l.estimated_flops
                    .get(&key)
                    .map_or(String::new(), |v| prunekit_core::format::si(*v as u64)),
            )
        };
        out.push_str(&format!(
            "{:<40} {:>18} {:>12} {:>14}\n",
            keep_tail(&l.name, 40),
            l.op_type,
            now,
            at
        ));
    }
    out
}

pub fn perf_table(p: &PerfProfile, level: f64) -> String {
    let key = level_key(level);
    let measured = p.kind == PerfKind::Measured;
    let at = format!("estimated at {key}");
    let columns = if measured {
        vec![
            col("layer", false),
            col("op", false),
            col("ms", true),
            col("p90 ms", true),
            col(&at, true),
            col("fused with", false),
        ]
    } else {
        vec![
            col("layer", false),
            col("op", false),
            col("FLOPs", true),
            col(&at, true),
        ]
    };
    let rows: Vec<Vec<String>> = p
        .layers
        .iter()
        .map(|l| {
            if measured {
                vec![
                    l.name.clone(),
                    l.op_type.clone(),
                    l.ms.map_or("-".into(), ms3),
                    l.p90_ms.map_or("-".into(), ms3),
                    l.estimated_ms.get(&key).map_or(String::new(), |v| ms3(*v)),
                    l.fused_from.join(", "),
                ]
            } else {
                vec![
                    l.name.clone(),
                    l.op_type.clone(),
                    l.flops.map_or("-".into(), prunekit_core::format::si),
                    l.estimated_flops
                        .get(&key)
                        .map_or(String::new(), |v| prunekit_core::format::si(*v as u64)),
                ]
            }
        })
        .collect();
    table::html(None, &columns, &rows)
}

pub fn loss_summary(name: &str, p: &LossProfile) -> String {
    let mut out = format!(
        "Loss profile '{name}' ({}, {}): {} {} over {} levels in {:.1} s.\n",
        p.method.name(),
        p.metric.replace('_', " "),
        p.layers.len(),
        unit(p),
        p.levels.len(),
        p.seconds
    );
    if let Some(acc) = p.model.baseline_accuracy {
        out.push_str(&format!("  Unpruned accuracy: {:.1}%.\n", acc * 100.0));
    }
    for s in &p.skipped {
        out.push_str(&format!("  skipped {}: {}\n", s.name, s.reason));
    }
    for note in &p.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    if let Some(q) = &p.quantization {
        out.push_str(&format!(
            "  int8 ({} quantization, {} calibration{}): all {} layers at once cost {:.5} {}{}.\n",
            q.mode.name(),
            q.calibration.name(),
            if q.per_channel {
                ", per-channel weights"
            } else {
                ", per-tensor weights"
            },
            q.layers.len(),
            q.model.value,
            q.metric.replace('_', " "),
            match (q.float_accuracy, q.model.accuracy) {
                (Some(f), Some(a)) =>
                    format!("; accuracy {:.1}% float, {:.1}% int8", f * 100.0, a * 100.0),
                _ => String::new(),
            }
        ));
        out.push_str(&super::quantization::calibration_rows(
            &q.calibrations,
            q.best_calibration,
            &q.metric,
        ));
    }
    out
}

/// The int8 sensitivity of each layer, most sensitive first.
pub fn quantization_rows(p: &LossProfile) -> String {
    let Some(q) = &p.quantization else {
        return String::new();
    };
    let mut layers: Vec<_> = q.layers.iter().collect();
    layers.sort_by_key(|l| l.rank);
    let header = match q.mode {
        prunekit_core::quantize::QuantMode::Int4 => "layer (int4 alone)",
        _ => "layer (int8 alone)",
    };
    let mut out = format!(
        "\n{:>4} {:<40} {:>12} {:>10}\n",
        "rank", header, &q.metric, "accuracy"
    );
    for l in layers {
        out.push_str(&format!(
            "{:>4} {:<40} {:>12.6} {:>10}\n",
            l.rank,
            keep_tail(&l.name, 40),
            l.value,
            l.accuracy
                .map_or(String::new(), prunekit_core::format::percent)
        ));
    }
    out
}

/// What a loss profile's entries are: layers, or channel groups for a structured one.
fn unit(p: &LossProfile) -> &'static str {
    match (p.structure.is_some(), p.layers.len() == 1) {
        (true, true) => "channel group",
        (true, false) => "channel groups",
        (false, true) => "layer",
        (false, false) => "layers",
    }
}

pub fn loss_rows(p: &LossProfile) -> String {
    let with_acc = p.layers.iter().any(|l| l.accuracy.is_some());
    let mut out = format!(
        "{:>4} {:<40} {:>12} {:>12}{}\n",
        "rank",
        if p.structure.is_some() {
            "channel group"
        } else {
            "layer"
        },
        "integral",
        "at 0.9",
        if with_acc { "  accuracy at 0.9" } else { "" }
    );
    for l in &p.layers {
        out.push_str(&format!(
            "{:>4} {:<40} {:>12.5} {:>12.5}{}\n",
            l.rank,
            keep_tail(&l.name, 40),
            l.integral,
            l.at_90,
            accuracy_at_90(p, l).map_or(String::new(), |a| format!("  {:>15.1}%", a * 100.0))
        ));
    }
    out
}

fn accuracy_at_90(p: &LossProfile, l: &profile::LayerLoss) -> Option<f64> {
    l.accuracy
        .as_ref()
        .map(|acc| profile::levels::interpolate(&p.levels, acc, 0.9))
}

pub fn loss_table(p: &LossProfile) -> String {
    let with_acc = p.layers.iter().any(|l| l.accuracy.is_some());
    let mut columns = vec![
        col("rank", true),
        col("layer", false),
        col("weight", false),
        col("op", false),
        col("integral", true),
        col("at 0.9", true),
    ];
    if with_acc {
        columns.push(col("accuracy at 0.9", true));
    }
    let rows: Vec<Vec<String>> = p
        .layers
        .iter()
        .map(|l| {
            let mut row = vec![
                l.rank.to_string(),
                l.name.clone(),
                l.weight.clone(),
                l.op_type.clone(),
                format!("{:.5}", l.integral),
                format!("{:.5}", l.at_90),
            ];
            if with_acc {
                row.push(
                    accuracy_at_90(p, l).map_or(String::new(), prunekit_core::format::percent),
                );
            }
            row
        })
        .collect();
    table::html(None, &columns, &rows)
}

pub fn mark(latest: bool) -> String {
    if latest { "✓".into() } else { String::new() }
}

pub fn col(title: &str, is_numeric: bool) -> Column<'_> {
    Column { title, is_numeric }
}

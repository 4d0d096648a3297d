//! How an optimization is shown: its sparsity and schedule charts, a summary of the fit and its
//! estimates, and a row per layer.

use prunekit_core::optimize::PruningPlan;
use prunekit_core::profile::perf::{ENGINE, MEASURED_ERROR};
use prunekit_core::{Result, chart};
use serde_json::json;

use super::output::{Output, Sink};
use crate::display::bundle::Bundle;
use crate::display::table::{self, Column, escape};
use crate::display::text::keep_tail;

use prunekit_core::format::{faster, percent};

/// The charts, then the summary and the layer table as the result.
pub fn show(sink: &dyn Sink, name: &str, plan: &PruningPlan) -> Result<()> {
    let charts = match plan.channels {
        Some(_) => [chart::channel_plan(plan)?, chart::plan_sparsity(plan)?],
        None => [chart::plan_sparsity(plan)?, chart::plan_schedule(plan)?],
    };
    for chart in charts {
        sink.emit(Output::Display {
            bundle: Bundle::text("[chart: optimization]").png(
                &chart.png,
                chart.width,
                chart.height,
            ),
            display_id: None,
        });
    }
    let m = &plan.model;
    let mut summary = match &plan.channels {
        Some(c) => super::structure::plan_summary(name, plan, c),
        None => format!(
            "Optimization '{name}': target {} sparsity, achieved {} (balance {}, perf from {}, loss from {}).\n",
            percent(plan.target),
            percent(plan.achieved),
            plan.balance,
            plan.perf,
            plan.loss
        ),
    };
    let measured = plan.channels.as_ref().and_then(|c| c.measured.as_ref());
    if let Some(measured) = measured {
        let why = if measured.speedup > 1.0 {
            ": a smaller dense model, faster on any runtime"
        } else {
            ": its layers are too small for fewer channels to save time at this batch"
        };
        let timed_as = plan.channels.as_ref().and_then(|c| c.timed_as);
        let (form, over_float) = match (timed_as, measured.over_float) {
            (Some(mode), Some(x)) => (
                format!(", both in {}", mode.words()),
                format!("; {} than the float original", faster(x)),
            ),
            _ => (String::new(), String::new()),
        };
        summary.push_str(&format!(
            "  Measured {} in ONNX Runtime (batch {}, the planned model against the original{form}{over_float}){why}.\n",
            faster(measured.speedup),
            measured.batch
        ));
    }
    if let (Some(base), Some(est), Some(speedup)) =
        (m.baseline_ms, m.estimated_ms, m.estimated_speedup)
    {
        let engine = match (&plan.channels, measured) {
            (Some(c), Some(_)) => match c.timed_as {
                Some(mode) => format!("from the {} model's layer times", mode.words()),
                None => "from the layer times".to_string(),
            },
            (Some(_), None) => "on any runtime (a smaller dense model)".to_string(),
            (None, _) => format!("an estimate for {ENGINE}, {MEASURED_ERROR}"),
        };
        summary.push_str(&format!(
            "  Estimated {est:.3} ms per batch against {base:.3} ms: {speedup:.2}x, {engine}.\n"
        ));
    }
    summary.push_str(&format!(
        "  FLOPs {:.2}x fewer, params {:.2}x compressed (whole model); recovery confidence {}.\n",
        m.flops_reduction,
        m.compression,
        m.recovery.map_or("unknown".into(), |r| format!("{r:.2}"))
    ));
    let s = &plan.schedule;
    summary.push_str(&format!(
        "  Schedule: epochs {}..{}, pruning {}..{} every {} epochs, fine-tuning from {}.\n",
        s.start_epoch,
        s.end_epoch,
        s.pruning_start,
        s.pruning_end,
        s.update_frequency,
        s.fine_tune_start
    ));
    if let Some(q) = &plan.quantization {
        summary.push_str(&format!(
            "  Quantization: {} int8 ({} calibration, {} weights), quantization-aware training from epoch {}; {}.\n",
            q.mode.name(),
            q.calibration.name(),
            if q.per_channel { "per-channel" } else { "per-tensor" },
            q.start_epoch,
            if q.ignore.is_empty() {
                "every layer quantized".to_string()
            } else {
                format!("{} left float", q.ignore.len())
            }
        ));
        summary.push_str(&super::quantization::calibration_reason(q));
        for i in &q.ignore {
            summary.push_str(&format!("    float: {} ({})\n", i.name, i.reason));
        }
    }
    for o in &plan.overrides {
        summary.push_str(&format!(
            "  override {} {}\n",
            o.pattern,
            o.sparsity.map_or("off".into(), |s| s.to_string())
        ));
    }
    for note in &plan.notes {
        summary.push_str(&format!("  note: {note}\n"));
    }
    let mut rows_text = format!(
        "\n{:<40} {:>9} {:>12}  note\n",
        "layer", "sparsity", "est. ms"
    );
    let rows: Vec<Vec<String>> = plan
        .layers
        .iter()
        .map(|l| {
            let sparsity = l.sparsity.map_or("dense".into(), percent);
            let ms = l.estimated_ms.map_or(String::new(), |v| format!("{v:.4}"));
            let note = match (&l.reason, l.overridden) {
                (Some(r), _) => r.clone(),
                (None, true) => "override".into(),
                _ => String::new(),
            };
            rows_text.push_str(&format!(
                "{:<40} {:>9} {:>12}  {note}\n",
                keep_tail(&l.name, 40),
                sparsity,
                ms
            ));
            vec![l.name.clone(), l.weight.clone(), sparsity, ms, note]
        })
        .collect();
    let columns = [
        Column {
            title: "layer",
            is_numeric: false,
        },
        Column {
            title: "weight",
            is_numeric: false,
        },
        Column {
            title: "sparsity",
            is_numeric: true,
        },
        Column {
            title: "estimated ms",
            is_numeric: true,
        },
        Column {
            title: "note",
            is_numeric: false,
        },
    ];
    let mut value = serde_json::to_value(plan).expect("plans serialize");
    value["name"] = json!(name);
    sink.emit(Output::Result(
        Bundle::text(format!("{summary}{rows_text}"))
            .html(format!(
                "<pre>{}</pre>{}",
                escape(&summary),
                table::html(None, &columns, &rows)
            ))
            .json(&value),
    ));
    Ok(())
}

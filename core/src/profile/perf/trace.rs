//! ONNX Runtime's side of a measurement: its profile (one trace event per kernel per run), the
//! optimized graph the session saved, and each kernel's time per timed run.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use prost::Message;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::onnx::ModelProto;

/// One event of ONNX Runtime's profile (Chrome trace format); times in microseconds.
#[derive(Debug, Deserialize)]
pub(super) struct TraceEvent {
    #[serde(default)]
    cat: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    ts: f64,
    #[serde(default)]
    dur: f64,
    #[serde(default)]
    args: TraceArgs,
}

#[derive(Debug, Default, Deserialize)]
struct TraceArgs {
    #[serde(default)]
    op_name: String,
    #[serde(default)]
    node_index: String,
}

pub(super) fn read_trace(path: &Path) -> Result<Vec<TraceEvent>> {
    let text = std::fs::read_to_string(path).map_err(|err| Error::io(path, &err))?;
    serde_json::from_str(&text).map_err(|err| {
        Error::Runtime(format!(
            "ONNX Runtime's profile could not be read ({err}); this ONNX Runtime may write a format prunekit does not know."
        ))
    })
}

/// A node of ONNX Runtime's optimized graph.
#[derive(Debug, Clone)]
pub(super) struct OptimizedNode {
    pub(super) name: String,
    pub(super) op_type: String,
    pub(super) inputs: Vec<String>,
    pub(super) outputs: Vec<String>,
}

pub(super) fn read_optimized(path: &Path) -> std::result::Result<Vec<OptimizedNode>, String> {
    let bytes = std::fs::read(path).map_err(|err| err.to_string())?;
    let proto = ModelProto::decode(bytes.as_slice()).map_err(|err| err.to_string())?;
    let graph = proto.graph.ok_or("it has no graph")?;
    Ok(graph
        .node
        .iter()
        .map(|node| OptimizedNode {
            name: node.name().to_string(),
            op_type: node.op_type().to_string(),
            inputs: node.input.clone(),
            outputs: node.output.clone(),
        })
        .collect())
}

/// One kernel ONNX Runtime ran: its node name in the optimized graph (the trace's name without
/// `_kernel_time`), its op, and its time in each timed run.
#[derive(Debug, Clone)]
pub(super) struct KernelTime {
    pub(super) name: String,
    pub(super) op: String,
    pub(super) node_index: i64,
    pub(super) per_run: Vec<f64>,
}

pub(super) struct Trace {
    pub(super) kernels: Vec<KernelTime>,
    /// The timed runs that have kernel events, in order (ONNX Runtime's profiler stops at its
    /// event limit): each kernel's `per_run` has one time for each.
    pub(super) recorded: Vec<usize>,
    pub(super) timed_runs: usize,
    /// Kernels of If/Loop/Scan subgraphs, left out because their time is inside the parent's.
    pub(super) nested: usize,
}

/// Groups the trace's kernel events by node, per timed run. Runs are the `model_run` session
/// events in time order, `timed` saying which of them were timed; the others are dropped. A kernel
/// event inside another one's time span belongs to an If/Loop/Scan subgraph, whose kernel already
/// counts it: it is dropped too.
pub(super) fn kernel_times(events: &[TraceEvent], timed: &[bool]) -> Trace {
    let mut runs: Vec<(f64, f64)> = events
        .iter()
        .filter(|e| e.cat == "Session" && e.name == "model_run")
        .map(|e| (e.ts, e.ts + e.dur))
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let timed: Vec<(f64, f64)> = runs
        .into_iter()
        .zip(timed)
        .filter(|(_, timed)| **timed)
        .map(|(run, _)| run)
        .collect();

    let mut kernel_events: Vec<&TraceEvent> = events
        .iter()
        .filter(|e| e.cat == "Node" && e.name.ends_with("_kernel_time"))
        .collect();
    kernel_events.sort_by(|a, b| a.ts.total_cmp(&b.ts).then(b.dur.total_cmp(&a.dur)));

    let mut kernels: Vec<KernelTime> = Vec::new();
    let mut index: HashMap<(String, i64, String), usize> = HashMap::new();
    let mut has_events = vec![false; timed.len()];
    let mut nested = HashSet::new();
    let mut outer = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    for event in kernel_events {
        let end = event.ts + event.dur;
        if event.ts >= outer.0 && event.ts < outer.1 && end <= outer.1 {
            nested.insert(event.name.clone());
            continue;
        }
        outer = (event.ts, end);
        let run = timed.partition_point(|&(start, _)| start <= event.ts);
        let Some(run) = run.checked_sub(1).filter(|&r| event.ts <= timed[r].1) else {
            continue;
        };
        has_events[run] = true;
        let name = event.name.trim_end_matches("_kernel_time").to_string();
        let node_index = event.args.node_index.parse().unwrap_or(-1);
        let key = (name.clone(), node_index, event.args.op_name.clone());
        let k = *index.entry(key).or_insert_with(|| {
            kernels.push(KernelTime {
                name,
                op: event.args.op_name.clone(),
                node_index,
                per_run: vec![0.0; timed.len()],
            });
            kernels.len() - 1
        });
        kernels[k].per_run[run] += event.dur / 1e3;
    }
    // Runs the profiler did not record would read as zero-time runs: keep only recorded ones.
    for kernel in &mut kernels {
        kernel.per_run = kernel
            .per_run
            .iter()
            .zip(&has_events)
            .filter(|(_, has)| **has)
            .map(|(ms, _)| *ms)
            .collect();
    }
    Trace {
        kernels,
        recorded: (0..timed.len()).filter(|&run| has_events[run]).collect(),
        timed_runs: timed.len(),
        nested: nested.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(cat: &str, name: &str, ts: f64, dur: f64, op: &str) -> TraceEvent {
        TraceEvent {
            cat: cat.into(),
            name: name.into(),
            ts,
            dur,
            args: TraceArgs {
                op_name: op.into(),
                node_index: "0".into(),
            },
        }
    }

    #[test]
    fn the_trace_drops_warmup_runs_and_subgraph_kernels() {
        let events = vec![
            event("Session", "model_run", 0.0, 100.0, ""),
            event("Node", "a_kernel_time", 10.0, 50.0, "Conv"),
            event("Session", "model_run", 200.0, 100.0, ""),
            event("Node", "a_kernel_time", 210.0, 20.0, "Conv"),
            event("Node", "if_kernel_time", 240.0, 40.0, "If"),
            event("Node", "inner_kernel_time", 250.0, 10.0, "MatMul"),
            event("Session", "model_run", 400.0, 100.0, ""),
            event("Node", "a_kernel_time", 410.0, 30.0, "Conv"),
        ];
        let trace = kernel_times(&events, &[false, true, true]);
        assert_eq!(trace.timed_runs, 2);
        assert_eq!(trace.recorded, [0, 1]);
        assert_eq!(trace.nested, 1);
        let names: Vec<&str> = trace.kernels.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["a", "if"]);
        assert_eq!(trace.kernels[0].per_run, [0.02, 0.03]);
        // The If ran in the first timed run only.
        assert_eq!(trace.kernels[1].per_run, [0.04, 0.0]);
    }
}

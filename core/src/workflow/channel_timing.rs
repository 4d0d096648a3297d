//! The planned architecture, timed. A structured fit estimates the speedup from the perf
//! profile's layer times, assuming each layer's time shrinks with the channels it keeps. That
//! holds at batch 1 and less at larger batches, where ONNX Runtime's dense kernels already run
//! near their best and thinner layers keep more of their fixed cost (the ResNet-50-shaped bench
//! model at batch 8: 2.00× estimated, 1.63× measured). So after the fit, the model with the
//! planned channels removed is timed against the original in ONNX Runtime, at the perf
//! profile's batch and threads, and the plan carries the measurement beside the estimate.

use std::time::Instant;

use crate::ModelAnalysis;
use crate::error::Result;
use crate::model::Model;
use crate::model::onnx::ModelProto;
use crate::optimize::PruningPlan;
use crate::optimize::plan::MeasuredSpeedup;
use crate::profile::PerfProfile;
use crate::progress::{Cancel, NoProgress};
use crate::runtime::{ModelSession, SessionOptions, to_value};

/// Timed rounds (one run of each model per round) at least and at most, and the time budget
/// between them: medians of alternating rounds, so a busy machine slows both alike.
const MIN_ROUNDS: usize = 5;
const MAX_ROUNDS: usize = 30;
const BUDGET_SECONDS: f64 = 3.0;

/// The measured speedup of `plan`'s architecture over `model` at `perf`'s batch and threads.
/// The channels removed are chosen by weight norm: which channels go does not change the time.
pub fn measure(
    model: &Model,
    analysis: &ModelAnalysis,
    plan: &PruningPlan,
    perf: &PerfProfile,
) -> Result<MeasuredSpeedup> {
    let (pruned, _) = super::channels::prune_to_plan(
        model,
        analysis,
        plan,
        None,
        &NoProgress,
        &Cancel::default(),
    )?;
    let batch = perf.model.batch.max(1);
    let threads = perf.model.threads;
    let speedup = time_ratio(&model.proto, &pruned.proto, analysis, batch, threads)?;
    Ok(MeasuredSpeedup {
        speedup,
        batch,
        threads,
    })
}

/// The median time of `dense` over the median time of `pruned`, rounds alternating.
fn time_ratio(
    dense: &ModelProto,
    pruned: &ModelProto,
    analysis: &ModelAnalysis,
    batch: usize,
    threads: Option<usize>,
) -> Result<f64> {
    let options = SessionOptions { threads };
    let mut sessions = [
        ModelSession::from_proto(dense, &options)?,
        ModelSession::from_proto(pruned, &options)?,
    ];
    let inputs = crate::benchmark::inputs_at(analysis, batch, 0)?
        .iter()
        .map(|(n, a)| Ok((n.clone(), to_value(a)?)))
        .collect::<Result<Vec<_>>>()?;
    for session in sessions.iter_mut() {
        session.run_values(&inputs)?;
    }
    let mut times = [Vec::new(), Vec::new()];
    let started = Instant::now();
    while times[0].len() < MIN_ROUNDS
        || times[0].len() < MAX_ROUNDS && started.elapsed().as_secs_f64() < BUDGET_SECONDS
    {
        for (session, t) in sessions.iter_mut().zip(times.iter_mut()) {
            let run = Instant::now();
            session.run_values(&inputs)?;
            t.push(run.elapsed().as_secs_f64());
        }
    }
    let [dense_ms, pruned_ms] = times.map(|mut t| {
        t.sort_by(f64::total_cmp);
        t[t.len() / 2]
    });
    Ok(dense_ms / pruned_ms.max(f64::MIN_POSITIVE))
}

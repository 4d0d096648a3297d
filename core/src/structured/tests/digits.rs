//! The trained digits CNN pruned to about 1.3× fewer MACs by reconstruction importance, judged
//! on its held-out samples: accuracy without and with repair against float, and the ONNX
//! Runtime latency of the dense and the pruned model side by side.

use std::time::Instant;

use super::fixtures::digits_groups;
use super::repair::{BatchNormStatistics, RepairOptions, repair};
use super::{
    ChannelGroup, Criterion, Keep, keep_highest, reconstruction_scores, remove_channels,
    weight_scores,
};
use crate::fixtures::{fixture, load_analyzed};
use crate::model::onnx::ModelProto;
use crate::progress::{Cancel, NoProgress};
use crate::runtime::{Dataset, ModelSession, SessionOptions, metric, to_value};
use crate::{Model, ModelAnalysis};

fn accuracy(proto: &ModelProto, test: &Dataset) -> f64 {
    let mut session = ModelSession::from_proto(proto, &SessionOptions::default()).unwrap();
    let mut correct = 0;
    for batch in test.batches(150) {
        let out = session.run(&batch.inputs).unwrap().remove(0).1;
        correct += metric::correct(&out, batch.labels.as_deref().unwrap());
    }
    correct as f64 / test.samples as f64
}

/// The smallest fraction (in steps of 1/32) of every prunable group's lowest-scored channels
/// whose removal gives at least `ratio` times fewer MACs.
fn keep_for_ratio(
    model: &Model,
    analysis: &ModelAnalysis,
    groups: &[ChannelGroup],
    scores: &[Vec<f64>],
    ratio: f64,
) -> (Vec<Keep>, f64) {
    for step in 1..32 {
        let fraction = step as f64 / 32.0;
        let keep: Vec<Keep> = groups
            .iter()
            .zip(scores)
            .map(|(g, s)| keep_highest(g, s, fraction).unwrap())
            .collect();
        let mut pruned = model.clone();
        let (removal, _) = remove_channels(&mut pruned, analysis, groups, &keep).unwrap();
        if removal.macs_ratio() >= ratio {
            return (keep, removal.macs_ratio());
        }
    }
    panic!("no fraction reaches {ratio}x fewer MACs");
}

struct Figures {
    float: f64,
    pruned: f64,
    repaired: f64,
    macs_ratio: f64,
    channels: Vec<(String, usize, usize)>,
    pruned_model: Model,
    dense: Model,
}

fn digits_at(ratio: f64, criterion: Criterion, options: &RepairOptions) -> Figures {
    let (model, analysis) = load_analyzed("digits_cnn.onnx");
    let train = Dataset::from_npz(&fixture("digits_train.npz"), &analysis.inputs, None).unwrap();
    let test = Dataset::from_npz(&fixture("digits_test.npz"), &analysis.inputs, None).unwrap();
    let all = digits_groups();
    let groups: Vec<ChannelGroup> = all
        .iter()
        .filter(|g| g.unprunable.is_none())
        .cloned()
        .collect();
    let refs: Vec<&ChannelGroup> = groups.iter().collect();
    let scores = match criterion {
        Criterion::Reconstruction => reconstruction_scores(
            &model,
            &analysis,
            &refs,
            &train,
            64,
            &NoProgress,
            &Cancel::default(),
        )
        .unwrap(),
        c => groups
            .iter()
            .map(|g| weight_scores(&model, g, c).unwrap())
            .collect(),
    };
    let (keep, macs_ratio) = keep_for_ratio(&model, &analysis, &groups, &scores, ratio);
    let mut pruned = model.clone();
    remove_channels(&mut pruned, &analysis, &all, &keep).unwrap();
    let mut repaired = pruned.clone();
    repair(
        &model,
        &analysis,
        &mut repaired,
        &all,
        &keep,
        &train,
        options,
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap();
    Figures {
        float: accuracy(&model.proto, &test),
        pruned: accuracy(&pruned.proto, &test),
        repaired: accuracy(&repaired.proto, &test),
        macs_ratio,
        channels: groups
            .iter()
            .zip(&keep)
            .map(|(g, k)| (g.name.clone(), g.channels, k.channels.len()))
            .collect(),
        pruned_model: repaired,
        dense: model,
    }
}

#[test]
fn digits_cnn_at_1_3x_fewer_macs_repaired_stays_within_a_point_of_float() {
    let f = digits_at(1.3, Criterion::Reconstruction, &RepairOptions::default());
    assert!(
        f.macs_ratio >= 1.3 && f.macs_ratio < 1.45,
        "{}",
        f.macs_ratio
    );
    assert!(
        f.repaired >= f.float - 0.01,
        "float {} repaired {}",
        f.float,
        f.repaired
    );
    assert!(
        f.repaired >= f.pruned,
        "pruned {} repaired {}",
        f.pruned,
        f.repaired
    );
}

/// Median seconds per run of each model, timed in alternation, 2 threads.
fn latency(models: &[&ModelProto], batch: &Dataset, runs: usize) -> Vec<f64> {
    let inputs: Vec<(String, _)> = batch
        .inputs
        .iter()
        .map(|(n, a)| (n.clone(), to_value(a).unwrap()))
        .collect();
    let mut sessions: Vec<ModelSession> = models
        .iter()
        .map(|p| ModelSession::from_proto(p, &SessionOptions { threads: Some(2) }).unwrap())
        .collect();
    let mut times = vec![Vec::new(); models.len()];
    for s in sessions.iter_mut() {
        for _ in 0..50 {
            s.run_values(&inputs).unwrap();
        }
    }
    for _ in 0..runs {
        for (s, t) in sessions.iter_mut().zip(&mut times) {
            let start = Instant::now();
            s.run_values(&inputs).unwrap();
            t.push(start.elapsed().as_secs_f64());
        }
    }
    times.into_iter().map(crate::percentile::median).collect()
}

/// The figures for docs/analysis.md:
/// `cargo test --release -p prunekit-core --lib structured::digits -- --ignored --nocapture`.
#[test]
#[ignore]
fn digits_cnn_figures() {
    for (criterion, bn) in [
        (Criterion::Reconstruction, BatchNormStatistics::Relative),
        (Criterion::Reconstruction, BatchNormStatistics::Calibration),
        (Criterion::L1, BatchNormStatistics::Relative),
        (Criterion::L2, BatchNormStatistics::Relative),
    ] {
        for ratio in [1.3, 1.6, 2.0] {
            let options = RepairOptions {
                batch_norm: bn,
                ..Default::default()
            };
            let f = digits_at(ratio, criterion, &options);
            println!(
                "{criterion:?} bn {bn:?} target {ratio}: MACs {:.3}x, channels {:?}: float {:.2}%, pruned {:.2}%, repaired {:.2}%",
                f.macs_ratio,
                f.channels,
                100.0 * f.float,
                100.0 * f.pruned,
                100.0 * f.repaired
            );
            if criterion == Criterion::Reconstruction && bn == BatchNormStatistics::Relative {
                let (_, analysis) = load_analyzed("digits_cnn.onnx");
                for size in [1, 64] {
                    let data = Dataset::from_npz(
                        &fixture("digits_test.npz"),
                        &analysis.inputs,
                        Some(size),
                    )
                    .unwrap();
                    let mut rounds: Vec<Vec<f64>> = (0..5)
                        .map(|_| latency(&[&f.dense.proto, &f.pruned_model.proto], &data, 2000))
                        .collect();
                    rounds.sort_by(|a, b| (a[0] / a[1]).total_cmp(&(b[0] / b[1])));
                    let t = &rounds[2];
                    println!(
                        "  batch {size}, 2 threads: dense {:.1} µs, pruned {:.1} µs, ratio {:.3} (the median round of 5, each the medians of 2000 alternated runs; ratios {:?})",
                        1e6 * t[0],
                        1e6 * t[1],
                        t[0] / t[1],
                        rounds
                            .iter()
                            .map(|t| (1000.0 * t[0] / t[1]).round() / 1000.0)
                            .collect::<Vec<_>>()
                    );
                }
            }
        }
    }
}

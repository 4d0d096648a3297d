//! Repair on the hand-built fixtures, through ONNX Runtime: the repaired model is closer to the
//! original than the one only pruned, on samples repair did not see, and a removal that changed
//! nothing is left as it was.

use super::*;
use crate::progress::NoProgress;
use crate::structured::fixtures::{self, max_difference, run, samples, silence};
use crate::structured::{Criterion, keep_highest, remove_channels, weight_scores};
use crate::{AnalysisOptions, analyze};

/// Σ(y − y₀)² / Σy₀² over every output.
fn nmse(base: &[ArrayD<f32>], other: &[ArrayD<f32>]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for (a, b) in base.iter().zip(other) {
        for (x, y) in a.iter().zip(b) {
            num += ((x - y) as f64).powi(2);
            den += (*x as f64).powi(2);
        }
    }
    num / den
}

/// Each prunable group keeps the half of its channels with the largest L1 norm.
fn half(model: &Model, groups: &[ChannelGroup]) -> Vec<Keep> {
    groups
        .iter()
        .filter(|g| g.unprunable.is_none())
        .map(|g| keep_highest(g, &weight_scores(model, g, Criterion::L1).unwrap(), 0.5).unwrap())
        .collect()
}

fn pruned_and_repaired(
    model: &Model,
    groups: &[ChannelGroup],
    keep: &[Keep],
    options: &RepairOptions,
) -> (Model, Model, Repaired) {
    let analysis = analyze(model, &AnalysisOptions::default()).unwrap();
    let mut pruned = model.clone();
    remove_channels(&mut pruned, &analysis, groups, keep).unwrap();
    let mut repaired = pruned.clone();
    let calibration = samples(model, 128, 11);
    let report = repair(
        model,
        &analysis,
        &mut repaired,
        groups,
        keep,
        &calibration,
        options,
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap();
    (pruned, repaired, report)
}

#[test]
fn repair_brings_every_fixture_closer_to_the_original_on_unseen_samples() {
    for (name, model, groups) in fixtures::all() {
        let keep = half(&model, &groups);
        let (pruned, repaired, report) =
            pruned_and_repaired(&model, &groups, &keep, &RepairOptions::default());
        let test = samples(&model, 64, 99);
        let base = run(&model.proto, &test);
        let (plain, fixed) = (
            nmse(&base, &run(&pruned.proto, &test)),
            nmse(&base, &run(&repaired.proto, &test)),
        );
        assert!(
            fixed < plain,
            "{name}: NMSE {plain} pruned, {fixed} repaired; {report:?}"
        );
        for layer in report.layers.iter().filter(|l| l.kind == "refit") {
            let (b, a) = (layer.error_before.unwrap(), layer.error_after.unwrap());
            assert!(a < b, "{name} {}: {b} → {a}", layer.layer);
        }
    }
}

#[test]
fn refit_alone_and_batch_norm_alone_each_help_the_chain() {
    let (model, groups) = fixtures::chain();
    let keep = half(&model, &groups);
    let test = samples(&model, 64, 99);
    let base = run(&model.proto, &test);
    let mut errors = Vec::new();
    for (refit, batch_norm) in [
        (false, BatchNormStatistics::Kept),
        (false, BatchNormStatistics::Relative),
        (true, BatchNormStatistics::Kept),
    ] {
        let options = RepairOptions {
            refit,
            batch_norm,
            ..Default::default()
        };
        let (_, repaired, _) = pruned_and_repaired(&model, &groups, &keep, &options);
        errors.push(nmse(&base, &run(&repaired.proto, &test)));
    }
    // BatchNorm statistics cannot change: conv1's kept channels see the inputs they saw.
    assert!(
        (errors[1] - errors[0]).abs() < 1e-6 * errors[0],
        "{errors:?}"
    );
    assert!(errors[2] < errors[0], "{errors:?}");
}

#[test]
fn refit_folds_removed_duplicate_channels_into_their_twins() {
    // conv1's channels 4..8 compute 0.7 times channels 0..4, and bn1 normalizes them to the
    // same values: after the ReLU they are copies, which conv2 can read from the twins.
    let (mut model, groups) = fixtures::chain();
    let graph = model.proto.graph.as_mut().unwrap();
    let copy = |graph: &mut GraphProto, name: &str, scale: f32| {
        let home = GraphIndex::new(graph).weight(name).unwrap().home;
        let mut v = to_f32(&weight::stored(graph, home).unwrap()).unwrap();
        let half = v.len() / 2;
        for i in 0..half {
            v[half + i] = scale * v[i];
        }
        weight::write_f32(graph, home, &v);
    };
    copy(graph, "conv1.weight_const", 0.7);
    copy(graph, "conv1.bias", 0.7);
    copy(graph, "bn1.scale", 1.0);
    copy(graph, "bn1.bias", 1.0);
    copy(graph, "bn1.mean", 0.7);
    copy(graph, "bn1.var", 0.49);
    let keep = half(&model, &groups);
    assert_eq!(keep[0].channels, [0, 1, 2, 3]);
    let (pruned, repaired, report) =
        pruned_and_repaired(&model, &groups, &keep, &RepairOptions::default());
    let test = samples(&model, 64, 99);
    let base = run(&model.proto, &test);
    let (plain, fixed) = (
        nmse(&base, &run(&pruned.proto, &test)),
        nmse(&base, &run(&repaired.proto, &test)),
    );
    assert!(plain > 1e-3, "{plain}");
    assert!(
        fixed < 1e-4 * plain,
        "NMSE {plain} pruned, {fixed} repaired; {report:?}"
    );
}

#[test]
fn repairing_a_removal_of_silent_channels_changes_nothing() {
    for (name, mut model, groups) in fixtures::all() {
        let prunable: Vec<ChannelGroup> = groups
            .iter()
            .filter(|g| g.unprunable.is_none())
            .cloned()
            .collect();
        let mut keep = Vec::new();
        for g in &prunable {
            silence(&mut model, g, &[1]);
            keep.push(Keep {
                group: g.name.clone(),
                channels: (0..g.channels).filter(|&c| c != 1).collect(),
            });
        }
        let (pruned, repaired, report) =
            pruned_and_repaired(&model, &groups, &keep, &RepairOptions::default());
        let test = samples(&model, 32, 5);
        let base = run(&model.proto, &test);
        let (d, scale) = max_difference(&base, &run(&repaired.proto, &test));
        assert!(d < 2e-3 * scale.max(1.0), "{name}: {d}; {report:?}");
        assert!(max_difference(&base, &run(&pruned.proto, &test)).0 < 1e-4 * scale.max(1.0));
        for layer in report.layers.iter().filter(|l| l.kind == "refit") {
            assert!(layer.error_before.unwrap() < 1e-9, "{name}: {layer:?}");
        }
    }
}

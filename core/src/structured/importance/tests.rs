//! Importance scores against direct computations: norms of the stored rows, BatchNorm scales,
//! and the reconstruction score against the change ONNX Runtime measures when the channel's
//! columns are zeroed in the consumer.

use super::*;
use crate::progress::NoProgress;
use crate::structured::fixtures::{self, run, samples, silence};
use crate::{AnalysisOptions, analyze};

fn stored(model: &Model, name: &str) -> (Vec<f32>, Vec<i64>) {
    let index = GraphIndex::new(model.graph());
    let t = index.constant(name).unwrap();
    (to_f32(t).unwrap(), t.dims.clone())
}

#[test]
fn norms_sum_every_producer_s_rows_and_leave_biases_out() {
    let (model, groups) = fixtures::residual();
    let l1 = weight_scores(&model, &groups[0], Criterion::L1).unwrap();
    let l2 = weight_scores(&model, &groups[0], Criterion::L2).unwrap();
    let (c0, _) = stored(&model, "c0.weight");
    let (c1, _) = stored(&model, "c1.weight");
    for c in 0..8 {
        let rows = c0[c * 36..(c + 1) * 36]
            .iter()
            .chain(&c1[c * 72..(c + 1) * 72]);
        let want1: f64 = rows.clone().map(|v| v.abs() as f64).sum();
        let want2: f64 = rows.map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
        assert!((l1[c] - want1).abs() < 1e-9 * want1, "{c}");
        assert!((l2[c] - want2).abs() < 1e-9 * want2, "{c}");
    }
}

#[test]
fn batch_norm_scale_is_gamma_over_the_standard_deviation() {
    let (model, groups) = fixtures::chain();
    let scores = weight_scores(&model, &groups[0], Criterion::BatchNormScale).unwrap();
    let (gamma, _) = stored(&model, "bn1.scale");
    let (var, _) = stored(&model, "bn1.var");
    for c in 0..8 {
        let want = gamma[c].abs() as f64 / (var[c] as f64 + 1e-5).sqrt();
        assert!((scores[c] - want).abs() < 1e-6 * want);
    }
    let (model, groups) = fixtures::depthwise();
    let err = weight_scores(&model, &groups[0], Criterion::BatchNormScale).unwrap_err();
    assert!(err.to_string().contains("no BatchNormalization"), "{err}");
}

/// Checks the reconstruction scores of group `g` of a fixture whose consumer (a 3×3 Conv with
/// `outputs` rows of `inputs` channels, reading the group at `offset`) writes the graph output,
/// so that ONNX Runtime measures the error directly: channel `silent` costs nothing, and
/// removing the two highest-scored costs what zeroing their columns changes the output by.
fn check_against_the_runtime(
    (mut model, groups): (Model, Vec<ChannelGroup>),
    g: usize,
    consumer: &str,
    (outputs, inputs, offset): (usize, usize, usize),
    silent: usize,
) {
    silence(&mut model, &groups[g], &[silent]);
    let analysis = analyze(&model, &AnalysisOptions::default()).unwrap();
    let data = samples(&model, 16, 3);
    let positions = model.graph().input[0].r#type.as_ref().map_or(0, |_| {
        let out = analysis.layer(model.graph().output[0].name()).unwrap();
        let shape = out.output_shapes[0].as_ref().unwrap();
        (shape[2] * shape[3]) as usize
    });
    let scores = reconstruction_scores(
        &model,
        &analysis,
        &[&groups[g]],
        &data,
        8,
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap()
    .remove(0);
    assert!(
        scores[silent].abs() < 1e-9,
        "a silent channel costs nothing: {scores:?}"
    );
    let before = run(&model.proto, &data);
    let rows = (16 * positions) as f64;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    for &c in &order[..2] {
        let mut without = model.clone();
        let (mut w, _) = stored(&model, consumer);
        for o in 0..outputs {
            let at = (o * inputs + offset + c) * 9;
            w[at..at + 9].fill(0.0);
        }
        let graph = without.proto.graph.as_mut().unwrap();
        let home = GraphIndex::new(graph).home(consumer).unwrap();
        crate::model::weight::write_f32(graph, home, &w);
        let after = run(&without.proto, &data);
        let error: f64 = before
            .iter()
            .zip(&after)
            .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)))
            .sum();
        let score = scores[c] * rows;
        assert!(error > 0.0, "channel {c} changes the output");
        assert!(
            (score - error).abs() < 1e-3 * error,
            "channel {c}: {score} vs {error}"
        );
    }
}

#[test]
fn reconstruction_score_is_the_output_error_removing_the_channel_causes() {
    check_against_the_runtime(fixtures::chain(), 0, "conv2.weight", (6, 8, 0), 3);
    // The second branch of a concat sits at offset 4 of the consumer's channels.
    check_against_the_runtime(fixtures::concat(), 1, "cc.weight", (5, 10, 4), 2);
}

#[test]
fn flattened_blocks_score_their_own_features() {
    // A channel is a block of 4 features of the Gemm: a silenced one scores 0, the others not.
    let (mut model, groups) = fixtures::reshape_gemm();
    silence(&mut model, &groups[0], &[1]);
    let analysis = analyze(&model, &AnalysisOptions::default()).unwrap();
    let data = samples(&model, 16, 3);
    let scores = reconstruction_scores(
        &model,
        &analysis,
        &[&groups[0], &groups[1]],
        &data,
        16,
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap();
    assert!(scores[0][1].abs() < 1e-9, "{scores:?}");
    assert!(
        scores[0].iter().filter(|v| **v > 1e-6).count() == 3,
        "{scores:?}"
    );
    assert!(
        scores[1].iter().filter(|v| **v > 1e-6).count() >= 5,
        "{scores:?}"
    );
}

#[test]
fn keep_highest_removes_the_lowest_scores_and_keeps_one() {
    let (_, groups) = fixtures::chain();
    let g = &groups[0];
    let scores = [5.0, 1.0, 3.0, 1.0, 9.0, 0.5, 7.0, 2.0];
    assert_eq!(
        keep_highest(g, &scores, 0.5).unwrap().channels,
        [0, 2, 4, 6]
    );
    // A tie goes to the earlier channel: 1 is removed before 3.
    assert_eq!(
        keep_highest(g, &scores, 0.25).unwrap().channels,
        [0, 2, 3, 4, 6, 7]
    );
    assert_eq!(keep_highest(g, &scores, 1.0).unwrap().channels, [4]);
    assert_eq!(keep_highest(g, &scores, 0.0).unwrap().channels.len(), 8);
    assert!(keep_highest(g, &scores[..3], 0.5).is_err());
    assert!(keep_highest(g, &scores, 1.5).is_err());
}

//! Channel dependency groups on real trained models (the wheels' models in
//! `~/.cache/prunekit/models`, skipped with a note when absent) and on the committed digits CNN:
//! group counts and unprunable reasons checked against what reading each graph shows, and every
//! group checked to fit the tensors it names. Each prints its table of groups.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prunekit_core::analysis::graph::GraphIndex;
use prunekit_core::structured::{ChannelGroup, Role, channel_groups};
use prunekit_core::{AnalysisOptions, Model, analyze, load};

fn cached(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let path = PathBuf::from(home)
        .join(".cache/prunekit/models")
        .join(name);
    if path.exists() {
        Some(path)
    } else {
        println!(
            "skipped: {} is absent (make setup-models fetches it)",
            path.display()
        );
        None
    }
}

/// The groups of a model analyzed at `input` = `shape`, checked and printed.
fn groups_of(path: &Path, input: &str, shape: &[u64]) -> (Model, Vec<ChannelGroup>) {
    let model = load(path).unwrap();
    let options = AnalysisOptions {
        input_shapes: vec![(input.to_string(), shape.to_vec())],
        skip_zero_count: true,
        ..Default::default()
    };
    let analysis = analyze(&model, &options).unwrap();
    let started = std::time::Instant::now();
    let groups = channel_groups(&model, &analysis).unwrap();
    let took = started.elapsed();
    check(&model, &groups);
    print_table(path, &groups);
    println!("detection took {:.1} ms", took.as_secs_f64() * 1e3);
    (model, groups)
}

fn print_table(path: &Path, groups: &[ChannelGroup]) {
    let name = path.file_name().unwrap().to_string_lossy();
    let prunable = groups.iter().filter(|g| g.unprunable.is_none()).count();
    println!("\n{name}: {} groups, {prunable} prunable", groups.len());
    println!("| group | channels | producers | consumers | slices | edits | unprunable |");
    println!("|---|---|---|---|---|---|---|");
    for g in groups {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            g.name,
            g.channels,
            g.producers.len(),
            g.consumers.len(),
            g.slices.len(),
            g.edits.len(),
            g.unprunable.as_deref().unwrap_or("")
        );
    }
}

/// Every slice lies within its tensor, and every producer weight's rows are covered exactly once.
fn check(model: &Model, groups: &[ChannelGroup]) {
    let index = GraphIndex::new(model.graph());
    let mut produced: BTreeMap<(String, usize), Vec<(usize, usize)>> = BTreeMap::new();
    for g in groups {
        assert!(g.channels > 0);
        for s in &g.slices {
            let dim = index.weight(&s.tensor).unwrap().tensor.dims[s.axis] as usize;
            assert!(
                dim >= s.offset + g.channels * s.block,
                "{}: {}",
                g.name,
                s.tensor
            );
            if s.role == Role::Producer {
                produced
                    .entry((s.tensor.clone(), s.axis))
                    .or_default()
                    .push((s.offset, s.offset + g.channels * s.block));
            }
        }
    }
    for ((tensor, axis), mut ranges) in produced {
        ranges.sort_unstable();
        ranges.dedup();
        let dim = index.weight(&tensor).unwrap().tensor.dims[axis] as usize;
        let mut at = 0;
        for (start, end) in ranges {
            assert_eq!(start, at, "{tensor}: rows {at}..{start} in no group");
            at = end;
        }
        assert_eq!(at, dim, "{tensor}: rows {at}.. in no group");
    }
}

/// How many groups give each reason, with the node names cut off after the reason's verb.
fn reasons(groups: &[ChannelGroup]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for g in groups {
        if let Some(r) = &g.unprunable {
            *out.entry(r.clone()).or_insert(0) += 1;
        }
    }
    out
}

/// The group count, how many are prunable, and each unprunable reason with how many groups give it.
fn assert_summary(
    groups: &[ChannelGroup],
    total: usize,
    prunable: usize,
    expected: &[(&str, usize)],
) {
    let found = reasons(groups);
    let expected: BTreeMap<String, usize> =
        expected.iter().map(|&(r, n)| (r.to_string(), n)).collect();
    assert_eq!(found, expected);
    assert_eq!(groups.len(), total);
    assert_eq!(
        groups.iter().filter(|g| g.unprunable.is_none()).count(),
        prunable
    );
}

/// The ResNet-50-shaped bench model, when `bench/make_resnet50.py` has written it.
fn resnet50() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/models/resnet50.onnx");
    if path.exists() {
        Some(path)
    } else {
        println!(
            "skipped: {} is absent (bench/make_resnet50.py writes it)",
            path.display()
        );
        None
    }
}

/// conv1 → bn → relu → pool → conv2 → bn → relu → pool → Flatten → fc1 → relu → fc2: each
/// conv's channels and fc1's hidden units are groups; the logits are the graph's output.
#[test]
fn structured_groups_of_digits_cnn() {
    let path = common::fixtures_dir().join("digits_cnn.onnx");
    let (_, groups) = groups_of(&path, "input", &[1, 1, 8, 8]);
    assert_summary(
        &groups,
        4,
        3,
        &[("the graph output logits carries the channels", 1)],
    );
    // conv2's channels reach fc1 through the Flatten: 2×2 features each.
    let conv2 = &groups[1];
    let fc1 = conv2
        .slices
        .iter()
        .find(|s| s.tensor == "fc1.weight")
        .unwrap();
    assert_eq!((fc1.axis, fc1.block, fc1.role), (1, 4, Role::Consumer));
}

/// One group for the stem, two per bottleneck (its first two convs), one per stage for the
/// residual stream (the downsample and every block's last conv), and the classifier.
#[test]
fn structured_groups_of_resnet50_bench_model() {
    let Some(path) = resnet50() else { return };
    let (_, groups) = groups_of(&path, "input", &[1, 3, 224, 224]);
    assert_summary(
        &groups,
        1 + 16 * 2 + 4 + 1,
        37,
        &[("the graph output output carries the channels", 1)],
    );
    // The last stage's stream: its downsample and three last convs, read by the next blocks' first
    // convs and the classifier.
    let stage4 = groups
        .iter()
        .find(|g| {
            g.slices
                .iter()
                .any(|s| s.tensor == "layer4.0.downsample.0.weight" && s.role == Role::Producer)
        })
        .unwrap();
    assert_eq!(
        (
            stage4.channels,
            stage4.producers.len(),
            stage4.consumers.len()
        ),
        (2048, 4, 3)
    );
}

#[test]
fn structured_groups_of_ppocrv4_rec() {
    let Some(path) = cached("ppocrv4-rec.onnx") else {
        return;
    };
    let (_, groups) = groups_of(&path, "x", &[1, 3, 48, 192]);
    // The SVTR neck: the tokens' channel count is read back by Shape for the reshape to an
    // image; the fused q/k/v projections are reshaped by shapes built from Cast constants; the
    // classes are normalized by Softmax.
    assert_summary(
        &groups,
        27,
        23,
        &[
            (
                "Reshape reshape2_25.tmp_0 takes the channel count from a computed shape",
                1,
            ),
            (
                "Reshape reshape2_27.tmp_0 takes the channel count from a computed shape",
                1,
            ),
            (
                "Shape p2o.Shape.1 reads the channel count of swish_12.tmp_0",
                1,
            ),
            ("Softmax softmax_11.tmp_0 normalizes across the channels", 1),
        ],
    );
}

#[test]
fn structured_groups_of_ddddocr_common() {
    let Some(path) = cached("ddddocr-common.onnx") else {
        return;
    };
    let (_, groups) = groups_of(&path, "input1", &[1, 1, 64, 192]);
    // The last conv's channels are folded with the height into the LSTM's features by a shape
    // computed from Shape; the classifier's output is reshaped by a computed shape.
    assert_summary(
        &groups,
        14,
        12,
        &[
            ("Shape 216 reads the channel count of 209", 1),
            ("the shape of 387 is not known", 1),
        ],
    );
}

#[test]
fn structured_groups_of_ddddocr_common_det() {
    let Some(path) = cached("ddddocr-common_det.onnx") else {
        return;
    };
    let (_, groups) = groups_of(&path, "images", &[1, 3, 416, 416]);
    // A YOLOX-style decoupled head: box, objectness and class convs of three scales, joined
    // along the anchors into the output; every backbone and neck group is prunable.
    assert_summary(
        &groups,
        70,
        67,
        &[("the graph output output carries the channels", 3)],
    );
}

#[test]
fn structured_groups_of_nudenet_320n() {
    let Some(path) = cached("nudenet-320n.onnx") else {
        return;
    };
    let (_, groups) = groups_of(&path, "images", &[1, 3, 320, 320]);
    // YOLOv8n: each C2f's first conv split in two groups (the Split sizes edited); the head's box
    // channels end in the fixed DFL conv, which reads them along a spatial axis after a
    // transpose; the class channels reach the output through a shape the analysis cannot infer.
    assert_summary(
        &groups,
        54,
        51,
        &[
            (
                "Conv /model.22/dfl/conv/Conv_output_0 reads the channels along a spatial axis",
                1,
            ),
            (
                "Reshape /model.22/dfl/Reshape_1_output_0 takes the channel count from a computed shape",
                1,
            ),
            ("the shape of output0 is not known", 1),
        ],
    );
    let halves = groups
        .iter()
        .filter(|g| g.name.starts_with("/model.2/cv1/conv/Conv_output_0["))
        .count();
    assert_eq!(halves, 2);
}

//! The sequential driver on the committed fixtures, through ONNX Runtime: rounds from the graph,
//! exact sparsity, outputs closer to the dense model's than magnitude pruning leaves them.

use ndarray::ArrayD;

use super::*;
use crate::fixtures::{fixture, load_analyzed};
use crate::model::tensor::to_f32;
use crate::progress::NoProgress;
use crate::runtime::metric::{self, Accumulator, Comparison};
use crate::runtime::{InputArray, ModelSession, SessionOptions};

thread_local! {
    /// Every layer of this thread's pruning collects the whole `XᵀX`, as every layer did before
    /// Wanda's collected only the diagonal it reads.
    pub(super) static WHOLE_PRODUCTS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn options(method: Method, pattern: Pattern, repair: bool) -> OneShotPruning {
    OneShotPruning {
        method,
        pattern,
        settings: SparseGptSettings::default(),
        repair,
    }
}

fn prunable(analysis: &ModelAnalysis, sparsity: f64) -> Vec<(String, f64)> {
    analysis
        .layers
        .iter()
        .filter(|l| l.is_prunable)
        .map(|l| (l.name.clone(), sparsity))
        .collect()
}

fn round_names(model: &str) -> Vec<Vec<String>> {
    let (model, analysis) = load_analyzed(model);
    let index = GraphIndex::new(model.graph());
    let targets: Vec<Target> = prunable(&analysis, 0.5)
        .iter()
        .filter_map(|(n, s)| target(&analysis, &index, n, *s).unwrap())
        .collect();
    rounds(&index, &targets)
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|t| targets[t].layer.name.clone())
                .collect()
        })
        .collect()
}

#[test]
fn rounds_gather_the_layers_that_do_not_depend_on_each_other() {
    assert_eq!(round_names("digits_cnn.onnx").len(), 4);
    let rounds = round_names("transformer_block.onnx");
    assert_eq!(rounds.len(), 4, "{rounds:?}");
    assert_eq!(
        rounds[0].len(),
        3,
        "q, k and v read the same input: {rounds:?}"
    );
    assert!(rounds[1][0].contains("out_proj"), "{rounds:?}");
}

/// The model's outputs on `data`: logits per batch.
fn outputs(proto: &ModelProto, data: &Dataset) -> Vec<ArrayD<f32>> {
    let mut session = ModelSession::from_proto(proto, &SessionOptions::default()).unwrap();
    data.batches(150)
        .iter()
        .map(|b| session.run(&b.inputs).unwrap().remove(0).1)
        .collect()
}

/// KL divergence from the dense outputs, and accuracy.
fn judge(proto: &ModelProto, dense: &[ArrayD<f32>], test: &Dataset) -> (f64, f64) {
    let mut kl = Accumulator::default();
    let mut correct = 0;
    for ((out, base), batch) in outputs(proto, test)
        .iter()
        .zip(dense)
        .zip(test.batches(150))
    {
        kl.add(Comparison::Logits, base, out);
        correct += metric::correct(out, batch.labels.as_deref().unwrap());
    }
    (kl.value(), correct as f64 / test.samples as f64)
}

fn digits() -> (Model, ModelAnalysis, Dataset, Dataset) {
    let (model, analysis) = load_analyzed("digits_cnn.onnx");
    let train = Dataset::from_npz(&fixture("digits_train.npz"), &analysis.inputs, None).unwrap();
    let test = Dataset::from_npz(&fixture("digits_test.npz"), &analysis.inputs, None).unwrap();
    (model, analysis, train, test)
}

#[test]
fn wanda_and_sparsegpt_keep_the_digits_cnn_closer_to_dense_than_magnitude() {
    let (model, analysis, train, test) = digits();
    let dense = outputs(&model.proto, &test);
    for pattern in [Pattern::Unstructured, Pattern::NofM { n: 2, m: 4 }] {
        let mut kl = Vec::new();
        for method in Method::ALL {
            let pruned = prune_model(
                &model,
                &analysis,
                &prunable(&analysis, 0.5),
                &options(method, pattern, false),
                Some((&train, 64)),
                &NoProgress,
                &Cancel::default(),
            )
            .unwrap();
            assert_eq!(pruned.layers.len(), 4);
            for layer in &pruned.layers {
                let l = analysis.layer(&layer.name).unwrap();
                let n = l.prunable_params as f64;
                // SparseGPT zeroes the weights of inputs never active on the samples too.
                let dead =
                    (layer.dead_columns * l.weight.as_ref().unwrap().shape[0] as usize) as f64;
                assert!(
                    layer.sparsity >= 0.5 - 0.5 / n && layer.sparsity <= 0.5 + (dead + 0.5) / n,
                    "{} {}: {} at {}",
                    method.name(),
                    pattern.name(),
                    layer.name,
                    layer.sparsity
                );
            }
            // conv1 has 9 inputs per output: 2:4 cannot apply, and says so.
            let conv1 = &pruned.layers[0];
            assert_eq!(conv1.pattern, Pattern::Unstructured, "{}", conv1.name);
            if pattern != Pattern::Unstructured {
                assert!(conv1.note.as_deref().unwrap().contains("9 input features"));
                assert_eq!(pruned.layers[1].pattern, pattern);
            }
            assert_eq!(
                pruned.rounds,
                if method == Method::Magnitude { 0 } else { 4 }
            );
            kl.push(judge(&pruned.proto, &dense, &test).0);
        }
        assert!(kl[1] < kl[0], "{}: wanda {kl:?}", pattern.name());
        assert!(kl[2] < kl[0], "{}: sparsegpt {kl:?}", pattern.name());
    }
}

/// Held-out accuracy of the digits CNN pruned by each method to `plan`, printed beside dense.
fn accuracy_by_method(what: &str, plan: &[(String, f64)]) -> Vec<f64> {
    let (model, analysis, train, test) = digits();
    let dense = outputs(&model.proto, &test);
    let (_, dense_accuracy) = judge(&model.proto, &dense, &test);
    let mut accuracy = Vec::new();
    for (method, repair) in [
        (Method::Magnitude, false),
        (Method::Wanda, false),
        (Method::Wanda, true),
        (Method::SparseGpt, false),
        (Method::SparseGpt, true),
    ] {
        let pruned = prune_model(
            &model,
            &analysis,
            plan,
            &options(method, Pattern::Unstructured, repair),
            Some((&train, 64)),
            &NoProgress,
            &Cancel::default(),
        )
        .unwrap();
        if repair {
            assert!(
                pruned.layers.iter().all(|l| l.repaired.is_some()),
                "{:?}",
                pruned.layers
            );
        }
        let (kl, acc) = judge(&pruned.proto, &dense, &test);
        eprintln!(
            "digits {what}: {}{}: accuracy {:.2}%, KL {kl:.4} (dense {:.2}%)",
            method.name(),
            if repair { " + repair" } else { "" },
            acc * 100.0,
            dense_accuracy * 100.0
        );
        accuracy.push(acc);
    }
    accuracy
}

#[test]
fn digits_cnn_keeps_more_accuracy_under_sparsegpt_than_magnitude() {
    // Every layer at 70%: conv1 (9 weights per output) too, which magnitude alone breaks.
    let (_, analysis) = load_analyzed("digits_cnn.onnx");
    let uniform = accuracy_by_method("uniform 70%", &prunable(&analysis, 0.7));
    assert!(
        uniform[3] > uniform[0] && uniform[4] > uniform[0],
        "{uniform:?}"
    );
    // The plan `optimize --sparsity 0.7` fits after the one-shot profile on 64 training
    // samples (conv1 left dense), and the quickstart's with fc1 raised to 90%.
    let plan = |fc1: f64| {
        vec![
            ("/conv2/Conv_output_0".to_string(), 0.63),
            ("/fc1/Gemm_output_0".to_string(), fc1),
            ("logits".to_string(), 0.45),
        ]
    };
    let planned = accuracy_by_method("70% plan", &plan(0.8));
    assert!(planned[4] > planned[0], "{planned:?}");
    let quickstart = accuracy_by_method("70% plan, fc1 90%", &plan(0.9));
    assert!(quickstart[4] > quickstart[0], "{quickstart:?}");
}

#[test]
fn sparsegpt_toward_the_dense_outputs_stays_closer_to_them() {
    // The 70% plan of the test above: each layer reconstructing the dense model's outputs from
    // the inputs its pruned predecessors give it ends nearer the dense model than each layer
    // reconstructing its own outputs on those inputs.
    let (model, analysis, train, test) = digits();
    let dense = outputs(&model.proto, &test);
    let plan = vec![
        ("/conv2/Conv_output_0".to_string(), 0.63),
        ("/fc1/Gemm_output_0".to_string(), 0.8),
        ("logits".to_string(), 0.45),
    ];
    let kl = |toward_dense: bool| -> f64 {
        let mut options = options(Method::SparseGpt, Pattern::Unstructured, true);
        options.settings.toward_dense = toward_dense;
        let pruned = prune_model(
            &model,
            &analysis,
            &plan,
            &options,
            Some((&train, 64)),
            &NoProgress,
            &Cancel::default(),
        )
        .unwrap();
        judge(&pruned.proto, &dense, &test).0
    };
    let (own, toward) = (kl(false), kl(true));
    eprintln!(
        "digits 70% plan, SparseGPT: KL {own:.4} on its own outputs, {toward:.4} toward the dense ones"
    );
    assert!(toward < 0.85 * own, "{toward} against {own}");
}

#[test]
fn grouped_convs_and_the_transformer_prune_exactly_and_repair_their_biases() {
    for (name, pattern) in [
        ("grouped_convs.onnx", Pattern::NofM { n: 2, m: 4 }),
        ("transformer_block.onnx", Pattern::Unstructured),
        ("mlp.onnx", Pattern::NofM { n: 2, m: 4 }),
    ] {
        let (model, analysis) = load_analyzed(name);
        let data = Dataset::generated(&analysis.inputs, 32, 7).unwrap();
        let pruned = prune_model(
            &model,
            &analysis,
            &prunable(&analysis, 0.5),
            &options(Method::SparseGpt, pattern, true),
            Some((&data, 16)),
            &NoProgress,
            &Cancel::default(),
        )
        .unwrap();
        for layer in &pruned.layers {
            let l = analysis.layer(&layer.name).unwrap();
            let n = l.prunable_params as f64;
            if l.zeroed_params == 0 {
                // Rounded per group: at most half a weight per group off.
                assert!((layer.sparsity - 0.5).abs() <= 8.0 / n, "{name}: {layer:?}");
            } else {
                // Zeros already there stay; N:M adds its own beside them.
                assert!(layer.sparsity >= 0.5 - 0.5 / n, "{name}: {layer:?}");
            }
        }
        // Every layer with a bias or a BatchNormalization after it was repaired.
        let repaired: Vec<&str> = pruned
            .layers
            .iter()
            .filter_map(|l| l.repaired.as_deref())
            .collect();
        match name {
            "grouped_convs.onnx" => {
                assert_eq!(repaired, ["dw.bias", "bn.running_mean", "fc.bias"]);
                let dw = &pruned.layers[0];
                assert_eq!(dw.pattern, Pattern::Unstructured);
                assert_eq!(pruned.layers[1].pattern, pattern);
            }
            "transformer_block.onnx" => assert_eq!(repaired.len(), 6, "{repaired:?}"),
            _ => assert_eq!(repaired, ["fc1.bias", "fc2.bias", "fc3.bias"]),
        }
        // The pruned model still runs and its weights were written where they live.
        let session_inputs: Vec<(String, InputArray)> = data.batches(32).remove(0).inputs;
        let mut session =
            ModelSession::from_proto(&pruned.proto, &SessionOptions::default()).unwrap();
        session.run(&session_inputs).unwrap();
        let after = crate::analyze(
            &Model {
                proto: pruned.proto.clone(),
                ..model.clone()
            },
            &Default::default(),
        )
        .unwrap();
        for layer in &pruned.layers {
            let l = after.layer(&layer.name).unwrap();
            let measured = l.zeroed_params as f64 / l.prunable_params as f64;
            assert!(
                (measured - layer.sparsity).abs() < 1e-9,
                "{name}: {}",
                layer.name
            );
        }
    }
}

#[test]
fn repair_keeps_each_output_mean_on_the_calibration_inputs() {
    // Wanda does not update the kept weights, so without repair the output means move; with it,
    // the mean of fc1's outputs on the calibration samples is the dense model's.
    let (model, analysis) = load_analyzed("mlp.onnx");
    let data = Dataset::generated(&analysis.inputs, 64, 3).unwrap();
    let layers = vec![("/fc1/Gemm_output_0".to_string(), 0.7)];
    let mean_of = |proto: &ModelProto| -> Vec<f64> {
        let with = crate::model::with_outputs(proto, &["/fc1/Gemm_output_0".into()]);
        let mut s = ModelSession::from_proto(&with, &SessionOptions::default()).unwrap();
        let out = s.run(&data.batches(64).remove(0).inputs).unwrap();
        let y = &out
            .iter()
            .find(|(n, _)| n == "/fc1/Gemm_output_0")
            .unwrap()
            .1;
        y.mean_axis(ndarray::Axis(0))
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect()
    };
    let dense = mean_of(&model.proto);
    let gap = |repair: bool| -> f64 {
        let pruned = prune_model(
            &model,
            &analysis,
            &layers,
            &options(Method::Wanda, Pattern::Unstructured, repair),
            Some((&data, 64)),
            &NoProgress,
            &Cancel::default(),
        )
        .unwrap();
        mean_of(&pruned.proto)
            .iter()
            .zip(&dense)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    };
    let (without, with) = (gap(false), gap(true));
    assert!(without > 1e-3, "pruning moved the means: {without}");
    assert!(with < 1e-4, "repair kept them: {with} (without: {without})");
}

#[test]
fn methods_that_read_samples_refuse_to_run_without_them() {
    let (model, analysis, train, _) = digits();
    let none = train.first(0);
    let err = prune_model(
        &model,
        &analysis,
        &prunable(&analysis, 0.5),
        &options(Method::SparseGpt, Pattern::Unstructured, false),
        Some((&none, 64)),
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("calibration samples"), "{err}");
    let err = prune_model(
        &model,
        &analysis,
        &[("conv9".into(), 0.5)],
        &options(Method::Magnitude, Pattern::Unstructured, false),
        Some((&none, 64)),
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no layer named conv9"), "{err}");
}

#[test]
fn samples_the_model_cannot_take_are_named_with_their_shapes() {
    let (model, analysis, _, _) = digits();
    let data = Dataset {
        inputs: vec![(
            "input".into(),
            InputArray::F32(ArrayD::zeros(ndarray::IxDyn(&[4, 1, 9, 9]))),
        )],
        labels: None,
        samples: 4,
        source: "test".into(),
    };
    let err = prune_model(
        &model,
        &analysis,
        &prunable(&analysis, 0.5),
        &options(Method::Wanda, Pattern::Unstructured, false),
        Some((&data, 4)),
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(
            "input 'input' of shape [4, 1, 9, 9] where the model declares [batch, 1, 8, 8]"
        ),
        "{err}"
    );
}

#[test]
fn repair_keeps_a_batch_normalizations_output_mean_and_variance() {
    // conv2 alone pruned: its BatchNormalization's running mean and variance follow the pruned
    // outputs, so what the BatchNormalization emits keeps its mean and spread per channel.
    let (model, analysis, train, _) = digits();
    let bn = "/bn2/BatchNormalization_output_0";
    let moments = |proto: &ModelProto| -> Vec<(f64, f64)> {
        let with = crate::model::with_outputs(proto, &[bn.into()]);
        let mut s = ModelSession::from_proto(&with, &SessionOptions::default()).unwrap();
        let out = s.run(&train.batches(256).remove(0).inputs).unwrap();
        let y = &out.iter().find(|(n, _)| n == bn).unwrap().1;
        y.axis_iter(ndarray::Axis(1))
            .map(|c| {
                let m = c.iter().map(|&v| v as f64).sum::<f64>() / c.len() as f64;
                let v = c.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / c.len() as f64;
                (m, v)
            })
            .collect()
    };
    let dense = moments(&model.proto);
    let gap = |repair: bool| -> f64 {
        let pruned = prune_model(
            &model,
            &analysis,
            &[("/conv2/Conv_output_0".to_string(), 0.7)],
            &options(Method::Wanda, Pattern::Unstructured, repair),
            Some((&train, 64)),
            &NoProgress,
            &Cancel::default(),
        )
        .unwrap();
        moments(&pruned.proto)
            .iter()
            .zip(&dense)
            .map(|((m, v), (m0, v0))| (m - m0).abs().max((v / v0 - 1.0).abs()))
            .fold(0.0, f64::max)
    };
    let (without, with) = (gap(false), gap(true));
    assert!(without > 0.05, "pruning moved the statistics: {without}");
    assert!(with < 0.01, "repair kept them: {with} (without: {without})");
}

/// One round's inputs collected twice on `proto`: from the activations `frontier` kept, and by
/// a whole run; and for each (layer, input) of the first, the largest relative difference of
/// their XᵀX from the second's (rows must agree).
fn kept_against_whole(
    frontier: &mut Frontier,
    proto: &ModelProto,
    round: &[usize],
    targets: &[Target],
    batches: &[crate::runtime::Batch],
) -> (Vec<Collector>, Vec<(String, f64)>) {
    let cancel = Cancel::default();
    let collectors = || -> Vec<Collector> {
        round
            .iter()
            .map(|&t| Collector::new(&targets[t].layer.name, &targets[t].layout))
            .collect()
    };
    let mut kept = collectors();
    frontier
        .collect(proto, &mut kept, batches, &cancel, &mut |_| {})
        .unwrap();
    let mut whole = collectors();
    Frontier::new(batches.len())
        .collect(proto, &mut whole, batches, &cancel, &mut |_| {})
        .unwrap();
    let mut differences = Vec::new();
    for (k, w) in kept.iter().zip(&whole) {
        for (a, b) in k.stats.iter().zip(&w.stats) {
            assert_eq!(a.rows, b.rows, "{}", k.layer);
            let mut worst: f64 = 0.0;
            for i in 0..a.columns() {
                for j in 0..=i {
                    let (x, y) = (a.xtx_at(i, j), b.xtx_at(i, j));
                    worst = worst.max((x - y).abs() / (1.0 + y.abs()));
                }
            }
            differences.push((k.layer.clone(), worst));
        }
    }
    (whole, differences)
}

#[test]
fn each_round_collects_from_kept_activations_what_a_whole_run_collects() {
    // The transformer block has residual branches: values kept across rounds, some read again
    // after the layer that produced them was pruned.
    let (model, analysis) = load_analyzed("transformer_block.onnx");
    let index = GraphIndex::new(model.graph());
    let targets: Vec<Target> = prunable(&analysis, 0.5)
        .iter()
        .filter_map(|(n, s)| target(&analysis, &index, n, *s).unwrap())
        .collect();
    let data = Dataset::generated(&analysis.inputs, 8, 3).unwrap();
    let batches = data.batches(4);
    let mut proto = model.proto.clone();
    let mut frontier = Frontier::new(batches.len());
    let mut compared = 0;
    for round in rounds(&index, &targets) {
        let (_, differences) =
            kept_against_whole(&mut frontier, &proto, &round, &targets, &batches);
        for (layer, worst) in differences {
            assert!(worst <= 1e-4, "{layer}: {worst:.3e}");
            compared += 1;
        }
        // This round's weights change, as pruning changes them.
        let graph = proto.graph.as_mut().unwrap();
        for &t in &round {
            let home = targets[t].layout.home;
            let values = weight::stored(graph, home)
                .and_then(|w| to_f32(&w))
                .unwrap();
            let halved: Vec<f32> = values.iter().map(|v| v * 0.5).collect();
            weight::write_f32(graph, home, &halved);
        }
        let changed: Vec<String> = round.iter().map(|&t| targets[t].weight.clone()).collect();
        let nodes: Vec<usize> = round.iter().map(|&t| targets[t].node).collect();
        frontier.invalidate(proto.graph.as_ref().unwrap(), &changed, &nodes);
    }
    assert!(compared >= 6, "{compared}");
}

/// The kept-activation rounds against whole runs on any model, with real pruning and repair
/// (PP-OCRv4 passes; too slow for every run):
/// `PRUNEKIT_FRONTIER_MODEL=path cargo test --release frontier_on_a_model -- --ignored`.
#[test]
#[ignore]
fn frontier_on_a_model_with_pruning_and_repair() {
    let Ok(path) = std::env::var("PRUNEKIT_FRONTIER_MODEL") else {
        return;
    };
    let model = crate::load(std::path::Path::new(&path)).unwrap();
    let analysis = crate::analyze(&model, &Default::default()).unwrap();
    let index = GraphIndex::new(model.graph());
    let mut targets: Vec<Target> = prunable(&analysis, 0.5)
        .iter()
        .filter_map(|(n, s)| target(&analysis, &index, n, *s).unwrap())
        .collect();
    targets.sort_by_key(|t| index.position(t.node));
    let data = Dataset::generated(&analysis.inputs, 8, 3).unwrap();
    let batches = data.batches(crate::runtime::batch::analysis_batch(&analysis));
    let mut proto = model.proto.clone();
    let mut frontier = Frontier::new(batches.len());
    let opts = options(Method::SparseGpt, Pattern::Unstructured, true);
    let mut outcomes: Vec<LayerOutcome> = Vec::new();
    for (number, round) in rounds(&index, &targets).into_iter().enumerate() {
        let (whole, differences) =
            kept_against_whole(&mut frontier, &proto, &round, &targets, &batches);
        for (layer, worst) in differences {
            assert!(
                worst <= 1e-3,
                "round {number}: layer {layer} differs by {worst:.3e}"
            );
        }
        let graph = proto.graph.as_mut().unwrap();
        for (slot, &t) in round.iter().enumerate() {
            let (outcome, _) = prune_layer(
                graph,
                &targets[t],
                Some(whole[slot].stats.as_slice()),
                &opts,
            )
            .unwrap();
            outcomes.push(outcome);
        }
        let changed: Vec<String> = outcomes[outcomes.len() - round.len()..]
            .iter()
            .flat_map(|o| std::iter::once(o.weight.clone()).chain(o.repaired.clone()))
            .collect();
        let nodes: Vec<usize> = round.iter().map(|&t| targets[t].node).collect();
        frontier.invalidate(proto.graph.as_ref().unwrap(), &changed, &nodes);
    }
}

/// `model`'s layers pruned by Wanda at 0.6 on `data`, collecting the whole `XᵀX` or not.
fn wanda_with(
    model: &str,
    data: &Dataset,
    pattern: Pattern,
    repair: bool,
    whole: bool,
) -> Reconstructed {
    let (model, analysis) = load_analyzed(model);
    WHOLE_PRODUCTS.set(whole);
    let pruned = prune_model(
        &model,
        &analysis,
        &prunable(&analysis, 0.6),
        &options(Method::Wanda, pattern, repair),
        Some((data, 32)),
        &NoProgress,
        &Cancel::default(),
    );
    WHOLE_PRODUCTS.set(false);
    pruned.unwrap()
}

#[test]
fn wanda_from_the_diagonal_alone_prunes_and_repairs_as_from_the_whole_matrix() {
    let (_, digits) = load_analyzed("digits_cnn.onnx");
    let (_, block) = load_analyzed("transformer_block.onnx");
    let cases = [
        // conv2's BatchNormalization variance repair keeps its whole XᵀX; the rest go diagonal.
        (
            "digits_cnn.onnx",
            Dataset::from_npz(&fixture("digits_train.npz"), &digits.inputs, None).unwrap(),
            Pattern::Unstructured,
            true,
        ),
        (
            "digits_cnn.onnx",
            Dataset::from_npz(&fixture("digits_test.npz"), &digits.inputs, None).unwrap(),
            Pattern::NofM { n: 2, m: 4 },
            false,
        ),
        (
            "transformer_block.onnx",
            Dataset::generated(&block.inputs, 16, 5).unwrap(),
            Pattern::Unstructured,
            true,
        ),
    ];
    for (model, data, pattern, repair) in cases {
        let whole = wanda_with(model, &data, pattern, repair, true);
        let diagonal = wanda_with(model, &data, pattern, repair, false);
        let what = format!("{model}, {}, repair {repair}", pattern.name());
        assert_eq!(whole.layers.len(), diagonal.layers.len(), "{what}");
        assert!(diagonal.layers.iter().all(|l| l.sparsity > 0.4), "{what}");
        let (a, b) = (whole.proto.graph.unwrap(), diagonal.proto.graph.unwrap());
        let mut compared = 0;
        for (x, y) in a.initializer.iter().zip(&b.initializer) {
            assert_eq!(x.name, y.name, "{what}");
            if let (Some(u), Some(v)) = (to_f32(x), to_f32(y)) {
                // Bit for bit: the same mask, the same kept weights, the same repaired biases.
                let same = u.iter().zip(&v).all(|(p, q)| p.to_bits() == q.to_bits());
                assert!(same && u.len() == v.len(), "{what}: {} differs", x.name());
                compared += 1;
            }
        }
        assert!(compared >= 4, "{what}: {compared} tensors compared");
        // The digits CNN's largest statistics are conv2's, whole when its variance is repaired.
        let bn_repaired = model == "digits_cnn.onnx" && repair;
        let (less, equal) = (
            diagonal.peak_bytes < whole.peak_bytes,
            diagonal.peak_bytes == whole.peak_bytes,
        );
        assert!(
            if bn_repaired { equal } else { less },
            "{what}: {} against {} bytes",
            diagonal.peak_bytes,
            whole.peak_bytes
        );
    }
}

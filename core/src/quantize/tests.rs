use super::*;
use crate::fixtures::{fixture, load_analyzed};
use crate::progress::NoProgress;
use crate::runtime::{Dataset, ModelSession, SessionOptions};

fn run_quantize(
    name: &str,
    options: &QuantizeOptions,
) -> Result<(Model, ModelAnalysis, Quantized)> {
    let (model, analysis) = load_analyzed(name);
    let q = quantize(&model, &analysis, options, &NoProgress, &Cancel::default())?;
    Ok((model, analysis, q))
}

fn session(proto: &ModelProto) -> ModelSession {
    ModelSession::from_proto(proto, &SessionOptions { threads: Some(2) }).unwrap()
}

/// The fraction of the digits test set a model classifies right.
fn digits_accuracy(proto: &ModelProto) -> f64 {
    let (_, analysis) = load_analyzed("digits_cnn.onnx");
    let data = Dataset::from_npz(&fixture("digits_test.npz"), &analysis.inputs, None).unwrap();
    let labels = data.labels.clone().unwrap();
    let out = session(proto).run(&data.inputs).unwrap();
    crate::runtime::metric::correct(&out[0].1, &labels) as f64 / labels.len() as f64
}

fn count(proto: &ModelProto, op: &str) -> usize {
    let graph = proto.graph.as_ref().unwrap();
    graph.node.iter().filter(|n| n.op_type() == op).count()
}

#[test]
fn static_digits_cnn_keeps_its_accuracy_within_a_point() {
    for calibration in [
        Calibration::MinMax,
        Calibration::Percentile {
            percentile: DEFAULT_PERCENTILE,
        },
    ] {
        let options = QuantizeOptions {
            calibration,
            data: Some(fixture("digits_train.npz")),
            ..QuantizeOptions::new(QuantMode::Static)
        };
        let (model, analysis, q) = run_quantize("digits_cnn.onnx", &options).unwrap();
        let float = digits_accuracy(&model.proto);
        let int8 = digits_accuracy(&q.proto);
        assert!(float > 0.9, "{float}");
        assert!(
            (float - int8).abs() <= 0.01,
            "{}: float {float}, int8 {int8}",
            calibration.name()
        );
        let convs_and_gemms = analysis.layers.iter().filter(|l| l.is_prunable).count();
        assert_eq!(q.layers.len(), convs_and_gemms);
        assert!(q.layers.iter().all(|l| l.per_channel), "{:?}", q.layers);
        // Biases (conv2 has none: its batch norm follows it) become int32.
        assert!(
            q.layers.iter().filter(|l| l.int_bias).count() >= 3,
            "{:?}",
            q.layers
        );
        assert_eq!(q.data.as_ref().unwrap().samples, 256);
        // Every ReLU after a conv folded into its output's Q/DQ pair.
        assert!(count(&q.proto, "Relu") < count(&model.proto, "Relu"));
        assert!(count(&q.proto, "QuantizeLinear") >= convs_and_gemms);
        // No float weight is left behind.
        let graph = q.proto.graph.as_ref().unwrap();
        for t in &analysis.layers {
            if let Some(w) = t.weight_input.map(|i| &t.inputs[i]) {
                assert!(!graph.initializer.iter().any(|i| i.name() == w), "{w}");
            }
        }
    }
}

#[test]
fn the_saved_quantized_model_loads_in_a_fresh_session_and_is_smaller() {
    let options = QuantizeOptions {
        data: Some(fixture("digits_train.npz")),
        ..QuantizeOptions::new(QuantMode::Static)
    };
    let (model, _, q) = run_quantize("digits_cnn.onnx", &options).unwrap();
    let path = std::env::temp_dir().join(format!("prunekit-int8-{}.onnx", std::process::id()));
    crate::save(&q.proto, &path).unwrap();
    let reloaded = crate::load(&path).unwrap();
    assert!(
        reloaded.file_bytes * 10 < model.file_bytes * 7,
        "{} vs {}",
        reloaded.file_bytes,
        model.file_bytes
    );
    let session = ModelSession::from_file(&path, &SessionOptions { threads: Some(1) }).unwrap();
    assert_eq!(session.output_names(), vec!["logits".to_string()]);
    std::fs::remove_file(&path).unwrap();
}

/// How far the quantized outputs are from the float ones: ‖q − f‖ / ‖f‖ over every output.
fn relative_error(float: &ModelProto, int8: &ModelProto, data: &Dataset) -> f64 {
    let f = session(float).run(&data.inputs).unwrap();
    let q = session(int8).run(&data.inputs).unwrap();
    let (mut diff, mut norm) = (0.0f64, 0.0f64);
    for ((_, a), (_, b)) in f.iter().zip(&q) {
        for (x, y) in a.iter().zip(b.iter()) {
            diff += f64::from(x - y).powi(2);
            norm += f64::from(*x).powi(2);
        }
    }
    (diff / norm.max(1e-30)).sqrt()
}

#[test]
fn onnx_runtime_loads_and_runs_every_quantized_fixture() {
    for name in crate::fixtures::MODELS {
        for mode in [QuantMode::Static, QuantMode::Dynamic] {
            let (model, analysis) = load_analyzed(name);
            let options = QuantizeOptions {
                samples: Some(32),
                ..QuantizeOptions::new(mode)
            };
            let q = match quantize(&model, &analysis, &options, &NoProgress, &Cancel::default()) {
                Ok(q) => q,
                // Conv-only models have nothing for dynamic quantization; the error says so.
                Err(err) if mode == QuantMode::Dynamic && err.is_usage() => {
                    let why = err.to_string();
                    assert!(why.contains("try static quantization"), "{name}: {why}");
                    continue;
                }
                Err(e) => panic!("{name} {}: {e}", mode.name()),
            };
            assert!(!q.layers.is_empty(), "{name}");
            let data = Dataset::generated(&analysis.inputs, 8, 7).unwrap();
            let error = relative_error(&model.proto, &q.proto, &data);
            assert!(
                error < 0.1,
                "{name} {}: relative error {error}",
                mode.name()
            );
        }
    }
}

#[test]
fn dynamic_quantization_rewrites_matmuls_and_leaves_convs_float() {
    let (model, _, q) = run_quantize(
        "transformer_block.onnx",
        &QuantizeOptions::new(QuantMode::Dynamic),
    )
    .unwrap();
    let matmuls = count(&model.proto, "MatMul") + count(&model.proto, "Gemm");
    assert_eq!(count(&q.proto, "MatMulInteger"), q.layers.len());
    assert!(q.layers.len() <= matmuls && !q.layers.is_empty());
    // Projections that read the same activation share one DynamicQuantizeLinear.
    assert!(count(&q.proto, "DynamicQuantizeLinear") < q.layers.len());
    assert!(q.data.is_none());

    let (_, _, q) =
        run_quantize("digits_cnn.onnx", &QuantizeOptions::new(QuantMode::Dynamic)).unwrap();
    assert!(q.layers.iter().all(|l| l.op_type != "Conv"));
    assert!(
        q.skipped
            .iter()
            .any(|s| s.reason.contains("Conv stays float"))
    );
}

#[test]
fn ignored_layers_stay_float() {
    let (_, analysis) = load_analyzed("digits_cnn.onnx");
    let first = analysis.layers.iter().find(|l| l.is_prunable).unwrap();
    let options = QuantizeOptions {
        ignore: vec![first.name.clone()],
        samples: Some(16),
        ..QuantizeOptions::new(QuantMode::Static)
    };
    let (_, _, q) = run_quantize("digits_cnn.onnx", &options).unwrap();
    assert!(q.layers.iter().all(|l| l.name != first.name));
    let skipped = q.skipped.iter().find(|s| s.name == first.name).unwrap();
    assert!(skipped.reason.contains("ignore list"), "{}", skipped.reason);
    let weight = &first.inputs[first.weight_input.unwrap()];
    let graph = q.proto.graph.as_ref().unwrap();
    assert!(graph.initializer.iter().any(|i| i.name() == weight));
}

#[test]
fn bad_calibration_data_is_one_sentence() {
    let options = QuantizeOptions {
        data: Some(fixture("mlp.onnx")),
        ..QuantizeOptions::new(QuantMode::Static)
    };
    let err = run_quantize("digits_cnn.onnx", &options)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a readable .npz"), "{err}");
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn the_quantization_loss_profile_ranks_every_layer_on_real_int8_runs() {
    let (model, analysis) = load_analyzed("digits_cnn.onnx");
    let options = QuantizeOptions {
        data: Some(fixture("digits_test.npz")),
        ..QuantizeOptions::new(QuantMode::Static)
    };
    let loss =
        super::sensitivity::profile(&model, &analysis, &options, &NoProgress, &Cancel::default())
            .unwrap();
    assert_eq!(loss.metric, "kl_divergence");
    assert_eq!(loss.layers.len(), 4);
    let mut ranks: Vec<usize> = loss.layers.iter().map(|l| l.rank).collect();
    ranks.sort();
    assert_eq!(ranks, vec![1, 2, 3, 4]);
    let float_accuracy = loss.float_accuracy.unwrap();
    for l in &loss.layers {
        assert!(l.value > 0.0 && l.value < 0.1, "{l:?}");
        assert!(
            (l.accuracy.unwrap() - float_accuracy).abs() <= 0.02,
            "{l:?}"
        );
    }
    // All layers at once hurt at least as much as the worst one alone, and stay within a point.
    let worst = loss.layers.iter().map(|l| l.value).fold(0.0, f64::max);
    assert!(loss.model.value >= worst * 0.5, "{:?}", loss.model);
    assert!((loss.model.accuracy.unwrap() - float_accuracy).abs() <= 0.01);
}

/// The digits CNN with every weight in a `Constant` node, as Paddle's and old PyTorch's
/// exporters write them; the weights of conv2 and fc2 (and a BatchNormalization's variance) are
/// read through an `Identity` (two for fc2), and conv1's weight stays an initializer, so both
/// forms mix in one model.
fn digits_with_constant_weights() -> (Model, ModelAnalysis) {
    use crate::model::onnx::{AttributeProto, NodeProto, attribute_type};
    let (mut model, _) = load_analyzed("digits_cnn.onnx");
    let graph = model.proto.graph.as_mut().unwrap();
    let mut nodes = Vec::new();
    let identities = |name: &str| match name {
        "conv2.weight" | "bn2.running_var" => 1,
        "fc2.weight" => 2,
        _ => 0,
    };
    for tensor in std::mem::take(&mut graph.initializer) {
        let name = tensor.name().to_string();
        if name == "conv1.weight" {
            graph.initializer.push(tensor);
            continue;
        }
        nodes.push(NodeProto {
            op_type: Some("Constant".into()),
            output: vec![name.clone()],
            attribute: vec![AttributeProto {
                name: Some("value".into()),
                r#type: Some(attribute_type::TENSOR),
                t: Some(tensor),
                ..Default::default()
            }],
            ..Default::default()
        });
        let mut read = name.clone();
        for k in 0..identities(&name) {
            let out = format!("{name}/read{k}");
            nodes.push(NodeProto {
                op_type: Some("Identity".into()),
                input: vec![read],
                output: vec![out.clone()],
                ..Default::default()
            });
            read = out;
        }
        for node in &mut graph.node {
            for input in &mut node.input {
                if *input == name {
                    *input = read.clone();
                }
            }
        }
    }
    nodes.append(&mut graph.node);
    graph.node = nodes;
    let analysis = crate::analyze(&model, &Default::default()).unwrap();
    (model, analysis)
}

#[test]
fn weights_in_constant_nodes_quantize_like_initializers() {
    let (model, analysis) = digits_with_constant_weights();
    let options = QuantizeOptions {
        data: Some(fixture("digits_train.npz")),
        ..QuantizeOptions::new(QuantMode::Static)
    };
    let q = quantize(&model, &analysis, &options, &NoProgress, &Cancel::default()).unwrap();
    assert_eq!(q.layers.len(), 4, "{:?}", q.skipped);
    assert!(q.layers.iter().all(|l| l.per_channel));
    assert!(
        q.notes[0].starts_with("2 BatchNormalizations were folded"),
        "{:?}",
        q.notes
    );
    assert_eq!(count(&q.proto, "BatchNormalization"), 0);
    // No float weight is left: no Constant node, no Identity, no float initializer of a weight.
    assert_eq!(count(&q.proto, "Constant"), 0);
    assert_eq!(count(&q.proto, "Identity"), 0);
    let graph = q.proto.graph.as_ref().unwrap();
    for w in ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"] {
        assert!(!graph.initializer.iter().any(|i| i.name() == w), "{w}");
        assert!(
            graph
                .initializer
                .iter()
                .any(|i| i.name() == format!("{w}_quantized")),
            "{w}"
        );
    }
    let float = digits_accuracy(&model.proto);
    let int8 = digits_accuracy(&q.proto);
    assert!((float - int8).abs() <= 0.01, "float {float}, int8 {int8}");

    let dynamic = quantize(
        &model,
        &analysis,
        &QuantizeOptions::new(QuantMode::Dynamic),
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap();
    assert_eq!(dynamic.layers.len(), 2, "{:?}", dynamic.skipped);
    assert!((digits_accuracy(&dynamic.proto) - float).abs() <= 0.01);
}

/// digits_cnn at opset 12 (every op of it reads the same there), with an Unsqueeze and a
/// Squeeze on its logits that opset 13 reads differently, saved to `path`.
fn digits_cnn_at_opset_12(path: &std::path::Path) -> Model {
    use crate::model::onnx::{AttributeProto, NodeProto, attribute_type};
    let mut proto = crate::load(&fixture("digits_cnn.onnx")).unwrap().proto;
    proto.opset_import[0].version = Some(12);
    let graph = proto.graph.as_mut().unwrap();
    let logits = graph.output[0].name().to_string();
    let last = graph
        .node
        .iter_mut()
        .find(|n| n.output[0] == logits)
        .unwrap();
    last.output[0] = "logits_2d".into();
    let axes = |name: &str, input: &str, output: &str| NodeProto {
        input: vec![input.into()],
        output: vec![output.into()],
        name: Some(name.into()),
        op_type: Some(name.into()),
        attribute: vec![AttributeProto {
            name: Some("axes".into()),
            r#type: Some(attribute_type::INTS),
            ints: vec![1],
            ..Default::default()
        }],
        ..Default::default()
    };
    graph.node.push(axes("Unsqueeze", "logits_2d", "logits_3d"));
    graph.node.push(axes("Squeeze", "logits_3d", &logits));
    crate::save(&proto, path).unwrap();
    crate::load(path).unwrap()
}

#[test]
fn static_int8_of_an_opset_12_model_is_per_channel_at_opset_13_and_says_how() {
    let path = std::env::temp_dir().join(format!("prunekit-opset12-{}.onnx", std::process::id()));
    let model = digits_cnn_at_opset_12(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(model.opset(), 12);
    let analysis = crate::analyze(&model, &Default::default()).unwrap();
    let options = QuantizeOptions {
        data: Some(fixture("digits_train.npz")),
        ..QuantizeOptions::new(QuantMode::Static)
    };
    let q = quantize(&model, &analysis, &options, &NoProgress, &Cancel::default()).unwrap();
    assert!(q.layers.iter().all(|l| l.per_channel), "{:?}", q.layers);
    assert_eq!(crate::model::default_opset(&q.proto), Some(13));
    assert!(
        q.notes.contains(
            &"The model's opset 12 was upgraded to 13 (1 Squeeze, 1 Unsqueeze converted) so that weights are quantized per channel."
                .to_string()
        ),
        "{:?}",
        q.notes
    );
    let (float, int8) = (digits_accuracy(&model.proto), digits_accuracy(&q.proto));
    assert!(
        float > 0.9 && (float - int8).abs() <= 0.01,
        "float {float}, int8 {int8}"
    );

    // Per tensor on request: no upgrade needed, none done.
    let options = QuantizeOptions {
        per_channel: false,
        ..options
    };
    let q = quantize(&model, &analysis, &options, &NoProgress, &Cancel::default()).unwrap();
    assert!(q.layers.iter().all(|l| !l.per_channel), "{:?}", q.layers);
    assert_eq!(crate::model::default_opset(&q.proto), Some(12));
    assert!(
        !q.notes.iter().any(|n| n.contains("opset")),
        "{:?}",
        q.notes
    );
}

#[test]
fn a_model_the_converter_cannot_upgrade_is_quantized_per_tensor_with_the_reason() {
    let (mut model, _) = load_analyzed("mlp.onnx");
    model.proto.opset_import[0].version = Some(11);
    // An Unsqueeze without axes: nothing says which axes opset 13 should be given.
    let graph = model.proto.graph.as_mut().unwrap();
    graph.node.push(crate::model::onnx::NodeProto {
        input: vec![graph.output[0].name().to_string()],
        output: vec!["wider".into()],
        name: Some("widen".into()),
        op_type: Some("Unsqueeze".into()),
        ..Default::default()
    });
    let options = QuantizeOptions::new(QuantMode::Static);
    let (proto, per_channel, note) = per_channel_opset(&model, &options).unwrap();
    assert!(!per_channel);
    assert_eq!(proto, model.proto);
    assert_eq!(
        note.unwrap(),
        "Weights were quantized per tensor: the model's opset 11 predates per-channel DequantizeLinear (opset 13), and the Unsqueeze node 'widen' at opset 11 cannot be converted to opset 13: it has no axes attribute."
    );
    // Before opset 10 there is no QuantizeLinear at all.
    model.proto.opset_import[0].version = Some(9);
    let err = per_channel_opset(&model, &options).unwrap_err();
    assert!(
        err.to_string()
            .contains("the model uses opset 9 of the default ONNX domain, which has no QuantizeLinear (opset 10)"),
        "{err}"
    );
}

/// Calibration run in parts (as a model over 1 GB is) sees the ranges one session sees: every
/// activation of the digits CNN, each layer with a weight a part of its own.
#[test]
fn calibration_in_parts_sees_the_ranges_of_one_session() {
    let (model, analysis) = load_analyzed("digits_cnn.onnx");
    let options = QuantizeOptions::new(QuantMode::Static);
    let graph = model.graph();
    let (targets, _) = find_targets(graph, &analysis, &[], QuantMode::Static);
    let activations = qdq::activations(graph, &targets, qdq::Around::Everything);
    let data = Dataset::generated(&analysis.inputs, 8, 3).unwrap();
    let batches = data.batches(4);
    let observe = |in_parts| {
        let observers = calibrate(
            &model.proto,
            &activations,
            &options,
            &batches,
            in_parts,
            &NoProgress,
            &Cancel::default(),
        )
        .unwrap();
        params_of(&observers, Calibration::MinMax)
    };
    let whole = observe(None);
    let parts = observe(Some(1024));
    assert!(whole.len() >= 4, "{} activations", whole.len());
    assert_eq!(
        whole.keys().collect::<std::collections::BTreeSet<_>>(),
        parts.keys().collect()
    );
    for (name, w) in &whole {
        let p = parts[name];
        assert!(
            (w.scale - p.scale).abs() <= 1e-5 * w.scale.abs()
                && w.zero_point.abs_diff(p.zero_point) <= 1,
            "{name}: {w:?} whole, {p:?} in parts"
        );
    }
}

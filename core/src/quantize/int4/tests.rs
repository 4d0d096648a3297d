//! Int4 models run in ONNX Runtime and compute what their dequantized weights do.

use super::super::*;
use super::*;
use crate::fixtures::load_analyzed;
use crate::model::weight;
use crate::progress::NoProgress;
use crate::runtime::{Dataset, ModelSession, SessionOptions};

fn run(proto: &ModelProto, data: &Dataset) -> Vec<f32> {
    let mut session = ModelSession::from_proto(proto, &SessionOptions { threads: Some(1) })
        .expect("ONNX Runtime loads the model");
    let out = session.run(&data.inputs).expect("ONNX Runtime runs it");
    out[0].1.iter().copied().collect()
}

/// The float model with each quantized weight replaced by what its codes stand for.
fn dequantized_model(prepared: &Prepared) -> ModelProto {
    let mut proto = prepared.proto.clone();
    let graph = proto.graph.as_mut().unwrap();
    for t in &prepared.targets {
        let p = &prepared.int4[&t.name];
        let nk = p.packed().dequantized();
        let stored = if t.transposed_weight {
            nk
        } else {
            let mut kn = vec![0.0; nk.len()];
            for n in 0..p.n {
                for k in 0..p.k {
                    kn[k * p.n + n] = nk[n * p.k + k];
                }
            }
            kn
        };
        assert!(weight::write_f32(graph, t.weight_home, &stored));
    }
    proto
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn int4_models_run_in_onnx_runtime_as_their_dequantized_weights_do() {
    for fixture in ["transformer_block.onnx", "mlp.onnx"] {
        let (model, analysis) = load_analyzed(fixture);
        let (data, _) =
            crate::runtime::batch::dataset(&analysis, None, Some(8), 8, Some(8), 5).unwrap();
        let float = run(&model.proto, &data);
        let scale = float.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for settings in [
            Int4Settings::default(),
            Int4Settings {
                block: 64,
                symmetric: true,
                ..Int4Settings::default()
            },
            Int4Settings {
                block: 128,
                rounding: Rounding::Gptq,
                symmetric: false,
            },
        ] {
            let options = QuantizeOptions {
                int4: settings,
                samples: Some(32),
                ..QuantizeOptions::new(QuantMode::Int4)
            };
            let prepared =
                prepare(&model, &analysis, &options, &NoProgress, &Cancel::default()).unwrap();
            assert!(!prepared.targets.is_empty(), "{fixture}");
            let reference = run(&dequantized_model(&prepared), &data);
            let q = prepared.into_quantized().unwrap();
            let graph = q.proto.graph.as_ref().unwrap();
            let nbits = graph
                .node
                .iter()
                .filter(|n| n.op_type() == "MatMulNBits" && n.domain() == DOMAIN)
                .count();
            assert_eq!(nbits, q.layers.len(), "{fixture} {settings:?}");
            assert!(q.proto.opset_import.iter().any(|o| o.domain() == DOMAIN));
            let int4 = run(&q.proto, &data);
            let agree = max_abs(&int4, &reference);
            assert!(
                agree <= 1e-4 * scale.max(1.0),
                "{fixture} {settings:?}: {agree} from the dequantized model"
            );
            let error = max_abs(&int4, &float);
            assert!(
                error > 0.0 && error < 0.25 * scale,
                "{fixture} {settings:?}: {error} from float (outputs up to {scale})"
            );
        }
    }
}

#[test]
fn convs_and_transposed_weights_are_reported_not_quantized() {
    let (model, analysis) = load_analyzed("transformer_block.onnx");
    let q = quantize(
        &model,
        &analysis,
        &QuantizeOptions::new(QuantMode::Int4),
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap();
    // out_proj reads its weight through a Transpose.
    assert!(
        q.skipped.iter().any(|s| s.name.contains("out_proj")),
        "{:?}",
        q.skipped
    );
    let (model, analysis) = load_analyzed("digits_cnn.onnx");
    let q = quantize(
        &model,
        &analysis,
        &QuantizeOptions::new(QuantMode::Int4),
        &NoProgress,
        &Cancel::default(),
    )
    .unwrap();
    assert!(
        q.skipped
            .iter()
            .any(|s| s.reason.contains("Conv stays float"))
    );
    let bad = QuantizeOptions {
        int4: Int4Settings {
            block: 48,
            ..Int4Settings::default()
        },
        ..QuantizeOptions::new(QuantMode::Int4)
    };
    let err = quantize(&model, &analysis, &bad, &NoProgress, &Cancel::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "int4 blocks hold 32, 64 or 128 weights, not 48."
    );
}

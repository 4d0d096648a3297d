//! ONNX Runtime on real models: the trained digits CNN keeps its accuracy on its held-out split,
//! and every fixture runs on generated inputs with the output shapes the analysis predicted.
//! These tests need the runtime (`make setup` installs it); without it they fail with the
//! `RuntimeMissing` sentence rather than skipping.

mod common;

use prunekit_core::runtime::{
    InputArray, ModelSession, SessionOptions, generated_inputs, read_npz,
};
use prunekit_core::{AnalysisOptions, analyze, load};

#[test]
fn digits_cnn_keeps_its_accuracy_in_onnx_runtime() {
    let dir = common::fixtures_dir();
    let data = read_npz(&dir.join("digits_test.npz"), |_| true)
        .unwrap()
        .arrays;
    let input = data
        .iter()
        .find(|(n, _)| n == "input")
        .map(|(_, a)| a.clone())
        .unwrap();
    let labels = match data.iter().find(|(n, _)| n == "labels").map(|(_, a)| a) {
        Some(InputArray::I64(l)) => l.clone(),
        other => panic!("labels should be int64, got {other:?}"),
    };
    let mut session =
        ModelSession::from_file(&dir.join("digits_cnn.onnx"), &SessionOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
    let outputs = session.run(&[("input".to_string(), input)]).unwrap();
    let logits = &outputs[0].1;
    assert_eq!(logits.shape(), &[labels.len(), 10]);
    let n_correct = logits
        .outer_iter()
        .zip(labels.iter())
        .filter(|(row, label)| {
            let best = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0;
            best as i64 == **label
        })
        .count();
    let accuracy = n_correct as f64 / labels.len() as f64;
    println!("digits_cnn held-out accuracy in ONNX Runtime: {accuracy:.4}");
    assert!(accuracy >= 0.95, "accuracy {accuracy}");
}

#[test]
fn every_fixture_runs_with_the_shapes_the_analysis_predicts() {
    for path in common::fixture_models() {
        let options = AnalysisOptions::default();
        let model = load(&path).unwrap();
        let analysis = analyze(&model, &options).unwrap();
        let specs: Vec<(String, i32, Vec<usize>)> = analysis
            .inputs
            .iter()
            .map(|i| {
                (
                    i.name.clone(),
                    i.data_type,
                    i.shape
                        .clone()
                        .unwrap()
                        .iter()
                        .map(|&d| d as usize)
                        .collect(),
                )
            })
            .collect();
        let inputs = generated_inputs(&specs, 7).unwrap();
        let mut session = ModelSession::from_file(&path, &SessionOptions { threads: Some(1) })
            .unwrap_or_else(|e| panic!("{e}"));
        let outputs = session.run(&inputs).unwrap();
        for (output, (name, array)) in analysis.outputs.iter().zip(&outputs) {
            assert_eq!(&output.name, name);
            let predicted: Vec<usize> = output
                .shape
                .clone()
                .unwrap()
                .iter()
                .map(|&d| d as usize)
                .collect();
            assert_eq!(
                array.shape(),
                predicted.as_slice(),
                "{}: output {name}",
                path.display()
            );
        }
    }
}

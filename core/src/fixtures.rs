//! The committed test models (`tests/fixtures`), as the unit tests load them.

use std::path::PathBuf;

use crate::{AnalysisOptions, Model, ModelAnalysis, analyze, load};

/// Every committed fixture model.
pub const MODELS: [&str; 6] = [
    "digits_cnn.onnx",
    "mlp.onnx",
    "grouped_convs.onnx",
    "transformer_block.onnx",
    "external_data.onnx",
    "quantized_conv.onnx",
];

/// The path of a file in `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

/// A fixture model and its analysis. At sequence length 1 attention ignores its queries, so the
/// transformer gets a longer one.
pub fn load_analyzed(name: &str) -> (Model, ModelAnalysis) {
    let model = load(&fixture(name)).unwrap();
    let sizes = AnalysisOptions {
        dims: if name.starts_with("transformer") {
            vec![("sequence".into(), 4)]
        } else {
            vec![]
        },
        ..Default::default()
    };
    let analysis = analyze(&model, &sizes).unwrap();
    (model, analysis)
}

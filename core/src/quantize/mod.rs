//! int8 quantization of an ONNX model, done by prunekit itself (no Python): static QDQ with
//! calibrated activation ranges (`calibrate`, `qdq`), dynamic quantization of MatMul and Gemm
//! (`dynamic`), and the arithmetic both share (`scale`).

mod options;

pub use options::{
    Calibration, DEFAULT_PERCENTILE, IgnoredLayer, QuantMode, QuantizationPlan,
};

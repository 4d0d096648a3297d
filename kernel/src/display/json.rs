//! The documented JSON output shapes (README, "Output JSON"). Scripts and tests read these, so they
//! change only on purpose: they are separate structs, not serialized core types.

use std::collections::BTreeMap;

use prunekit_core::ModelAnalysis;
use prunekit_core::analysis::DimDecl;
use prunekit_core::model::attr::AttrValue;
use prunekit_core::model::tensor::dtype_name;
use serde::Serialize;
use serde_json::Value;

/// The output of `load` and `layers` (and of `prunekit-kernel analyze --format json`).
#[derive(Serialize)]
pub struct AnalysisJson {
    pub model: ModelJson,
    pub layers: Vec<LayerJson>,
}

#[derive(Serialize)]
pub struct ModelJson {
    pub path: String,
    pub opset: i64,
    pub ir_version: i64,
    pub producer: String,
    pub params: u64,
    pub prunable_params: u64,
    pub zeroed_params: u64,
    pub sparsity: f64,
    pub macs: u64,
    pub flops: u64,
    pub n_layers: usize,
    pub n_prunable: usize,
    pub inputs: Vec<InputJson>,
    pub outputs: Vec<OutputJson>,
    pub defaults: Vec<DefaultJson>,
    pub op_types: BTreeMap<String, usize>,
    pub unknown_flops_ops: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Serialize)]
pub struct InputJson {
    pub name: String,
    pub dtype: &'static str,
    /// Declared dims: sizes, symbol names, or null for unnamed free dims.
    pub declared: Option<Vec<Value>>,
    pub shape: Option<Vec<u64>>,
}

#[derive(Serialize)]
pub struct OutputJson {
    pub name: String,
    pub dtype: &'static str,
    pub shape: Option<Vec<u64>>,
}

#[derive(Serialize)]
pub struct DefaultJson {
    pub symbol: String,
    pub size: u64,
}

#[derive(Serialize)]
pub struct LayerJson {
    pub name: String,
    pub node_name: String,
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub input_shapes: Vec<Option<Vec<u64>>>,
    pub output_shapes: Vec<Option<Vec<u64>>>,
    pub attributes: BTreeMap<String, Value>,
    pub params: u64,
    pub prunable: bool,
    pub not_prunable_reason: Option<String>,
    pub weight: Option<String>,
    pub weight_shape: Option<Vec<i64>>,
    pub bias: Option<String>,
    pub bias_shape: Option<Vec<i64>>,
    pub prunable_params: u64,
    pub zeroed_params: u64,
    pub macs: Option<u64>,
    pub flops: Option<u64>,
}

pub fn analysis(a: &ModelAnalysis) -> AnalysisJson {
    let model = ModelJson {
        path: a.path.display().to_string(),
        opset: a.opset,
        ir_version: a.ir_version,
        producer: a.producer.clone(),
        params: a.totals.params,
        prunable_params: a.totals.prunable_params,
        zeroed_params: a.totals.zeroed_params,
        sparsity: a.totals.sparsity(),
        macs: a.totals.macs,
        flops: a.totals.flops,
        n_layers: a.layers.len(),
        n_prunable: a.n_prunable(),
        inputs: a
            .inputs
            .iter()
            .map(|i| InputJson {
                name: i.name.clone(),
                dtype: dtype_name(i.data_type),
                declared: i.declared.as_ref().map(|dims| {
                    dims.iter()
                        .map(|d| match d {
                            DimDecl::Fixed(n) => Value::from(*n),
                            DimDecl::Symbol(s) => Value::from(s.as_str()),
                            DimDecl::Anonymous => Value::Null,
                        })
                        .collect()
                }),
                shape: i.shape.clone(),
            })
            .collect(),
        outputs: a
            .outputs
            .iter()
            .map(|o| OutputJson {
                name: o.name.clone(),
                dtype: dtype_name(o.data_type),
                shape: o.shape.clone(),
            })
            .collect(),
        defaults: a
            .defaults
            .iter()
            .map(|(symbol, size)| DefaultJson {
                symbol: symbol.clone(),
                size: *size,
            })
            .collect(),
        op_types: a.op_types.clone(),
        unknown_flops_ops: a.unknown_flops_ops.clone(),
        warnings: a.warnings.clone(),
    };
    let layers = a
        .layers
        .iter()
        .map(|l| LayerJson {
            name: l.name.clone(),
            node_name: l.node_name.clone(),
            op_type: l.op_type.clone(),
            inputs: l.inputs.clone(),
            outputs: l.outputs.clone(),
            input_shapes: l.input_shapes.clone(),
            output_shapes: l.output_shapes.clone(),
            attributes: l
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), attr_json(v)))
                .collect(),
            params: l.params,
            prunable: l.is_prunable,
            not_prunable_reason: l.not_prunable_reason.clone(),
            weight: l.weight.as_ref().map(|w| w.name.clone()),
            weight_shape: l.weight.as_ref().map(|w| w.shape.clone()),
            bias: l.bias.as_ref().map(|b| b.name.clone()),
            bias_shape: l.bias.as_ref().map(|b| b.shape.clone()),
            prunable_params: l.prunable_params,
            zeroed_params: l.zeroed_params,
            macs: l.macs,
            flops: l.flops,
        })
        .collect();
    AnalysisJson { model, layers }
}

/// The output of `settings`.
#[derive(Serialize)]
pub struct SettingsJson {
    /// ONNX Runtime threads per operator; null means every core.
    pub threads: Option<usize>,
    pub seed: u64,
    pub optimizer: String,
    /// null: not set (a schedule then assumes Sparsify's 100).
    pub epochs: Option<f64>,
    pub init_lr: Option<f64>,
    pub final_lr: Option<f64>,
}

pub fn settings(s: &prunekit_core::project::Settings) -> SettingsJson {
    SettingsJson {
        threads: s.threads,
        seed: s.seed,
        optimizer: s.optimizer.clone(),
        epochs: s.epochs,
        init_lr: s.init_lr,
        final_lr: s.final_lr,
    }
}

/// A tensor-valued attribute, summarised: `{"tensor": {"dtype", "dims"}}`.
#[derive(Serialize)]
struct TensorAttrJson {
    dtype: &'static str,
    dims: Vec<i64>,
}

fn attr_json(value: &AttrValue) -> Value {
    match value {
        AttrValue::Int(i) => Value::from(*i),
        AttrValue::Float(f) => Value::from(*f),
        AttrValue::String(s) => Value::from(s.as_str()),
        AttrValue::Ints(v) => Value::from(v.clone()),
        AttrValue::Floats(v) => Value::from(v.clone()),
        AttrValue::Strings(v) => Value::from(v.clone()),
        AttrValue::Tensor { data_type, dims } => {
            let tensor = TensorAttrJson {
                dtype: dtype_name(*data_type),
                dims: dims.clone(),
            };
            serde_json::to_value(BTreeMap::from([("tensor", tensor)]))
                .expect("plain data serializes")
        }
        AttrValue::Other => Value::Null,
    }
}

//! ONNX models in and out: the protobuf types, loading (memory-mapped, external data resolved),
//! saving, typed tensor payloads and typed attributes, names new to a graph (`names`) and the
//! upgrade of an older default-domain opset to 13 (`opset`). Knows nothing of analysis.

pub mod attr;
mod load;
pub mod names;
pub mod onnx;
pub mod opset;
pub mod pages;
mod save;
pub mod spill;
pub mod tensor;
pub mod weight;

use std::path::PathBuf;

pub use load::{MIN_OPSET, default_opset, load};
pub use save::{
    EXTERNAL_MIN_BYTES, ExternalData, data_path, referencing_mapped_files, save, save_with,
};

/// A loaded model. Every tensor payload is inline (`raw_data` or a typed field): external data was
/// resolved by `load`, as slices of the memory-mapped data files.
#[derive(Debug, Clone)]
pub struct Model {
    pub path: PathBuf,
    pub proto: onnx::ModelProto,
    /// Bytes read from disk: the model file plus its external data files.
    pub file_bytes: u64,
}

impl Model {
    /// The main graph; `load` refuses models without one.
    pub fn graph(&self) -> &onnx::GraphProto {
        self.proto
            .graph
            .as_ref()
            .expect("load() refuses models without a graph")
    }

    /// The version of the default ONNX domain; `load` refuses models without one below 11.
    pub fn opset(&self) -> i64 {
        default_opset(&self.proto).unwrap_or(0)
    }
}

/// `model` with `extra` values added as graph outputs (those it outputs already stay once): for
/// a run that reads intermediate activations back.
/// The subgraphs a node holds in its attributes (If's branches, Loop's and Scan's bodies).
pub fn subgraphs(node: &onnx::NodeProto) -> impl Iterator<Item = &onnx::GraphProto> {
    node.attribute
        .iter()
        .flat_map(|a| a.g.iter().chain(&a.graphs))
}

pub fn with_outputs(model: &onnx::ModelProto, extra: &[String]) -> onnx::ModelProto {
    let mut proto = model.clone();
    if let Some(graph) = proto.graph.as_mut() {
        let existing: std::collections::HashSet<String> =
            graph.output.iter().map(|o| o.name().to_string()).collect();
        for name in extra.iter().filter(|n| !existing.contains(*n)) {
            graph.output.push(onnx::ValueInfoProto {
                name: Some(name.clone()),
                ..Default::default()
            });
        }
    }
    proto
}

/// A graph input or output declaring a tensor of ONNX element type `elem_type` and `dims`
/// (`None`: a free dim, named `prunekit_dim{i}`).
pub fn tensor_info(name: &str, elem_type: i32, dims: &[Option<i64>]) -> onnx::ValueInfoProto {
    use onnx::{
        TensorShapeProto, TypeProto, ValueInfoProto,
        tensor_shape_proto::{Dimension, dimension::Value as DimValue},
        type_proto,
    };
    let dim = dims
        .iter()
        .enumerate()
        .map(|(i, d)| Dimension {
            value: Some(match d {
                Some(v) => DimValue::DimValue(*v),
                None => DimValue::DimParam(format!("prunekit_dim{i}")),
            }),
            denotation: None,
        })
        .collect();
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(elem_type),
                shape: Some(TensorShapeProto { dim }),
            })),
            denotation: None,
        }),
        ..Default::default()
    }
}

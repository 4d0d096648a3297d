//! Making the nodes and initializers the rewrites add, under names the graph does not use yet.

use crate::model::onnx::{AttributeProto, NodeProto, TensorProto, attribute_type, data_type as dt};

pub use crate::model::names::Names;

pub fn node(op: &str, name: String, inputs: Vec<String>, outputs: Vec<String>) -> NodeProto {
    NodeProto {
        input: inputs,
        output: outputs,
        name: Some(name),
        op_type: Some(op.to_string()),
        domain: Some(String::new()),
        ..Default::default()
    }
}

pub fn int_attribute(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(attribute_type::INT),
        i: Some(value),
        ..Default::default()
    }
}

fn tensor(name: String, data_type: i32, dims: Vec<i64>, raw: Vec<u8>) -> TensorProto {
    TensorProto {
        dims,
        data_type: Some(data_type),
        name: Some(name),
        raw_data: Some(crate::model::spill::bytes(raw)),
        ..Default::default()
    }
}

/// A float32 tensor: a scalar when `dims` is empty.
pub fn f32_tensor(name: String, dims: Vec<i64>, values: &[f32]) -> TensorProto {
    let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    tensor(name, dt::FLOAT, dims, raw)
}

pub fn i8_tensor(name: String, dims: Vec<i64>, values: &[i8]) -> TensorProto {
    let raw = values.iter().map(|&v| v as u8).collect();
    tensor(name, dt::INT8, dims, raw)
}

pub fn u8_tensor(name: String, dims: Vec<i64>, values: &[u8]) -> TensorProto {
    tensor(name, dt::UINT8, dims, values.to_vec())
}

pub fn i32_tensor(name: String, dims: Vec<i64>, values: &[i32]) -> TensorProto {
    let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    tensor(name, dt::INT32, dims, raw)
}

/// The dims of a vector of `n` scales: a scalar for per-tensor.
pub fn scale_dims(n: usize) -> Vec<i64> {
    if n == 1 { Vec::new() } else { vec![n as i64] }
}

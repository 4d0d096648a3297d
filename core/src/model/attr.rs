//! Typed node attributes. Getters answer `None` for a missing attribute or one of another type, so
//! each op rule states its own default, as the ONNX operator docs do.

use super::onnx::{AttributeProto, NodeProto, TensorProto, attribute_type as at};

pub fn find<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name() == name)
}

pub fn int(node: &NodeProto, name: &str) -> Option<i64> {
    find(node, name).and_then(|a| a.i)
}

pub fn ints<'a>(node: &'a NodeProto, name: &str) -> Option<&'a [i64]> {
    find(node, name)
        .filter(|a| a.r#type() == at::INTS || !a.ints.is_empty())
        .map(|a| a.ints.as_slice())
}

pub fn float(node: &NodeProto, name: &str) -> Option<f32> {
    find(node, name).and_then(|a| a.f)
}

pub fn string(node: &NodeProto, name: &str) -> Option<String> {
    find(node, name)
        .and_then(|a| a.s.as_ref())
        .map(|s| String::from_utf8_lossy(s).into_owned())
}

pub fn tensor<'a>(node: &'a NodeProto, name: &str) -> Option<&'a TensorProto> {
    find(node, name).and_then(|a| a.t.as_ref())
}

/// An attribute's value in plain terms, for display.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Int(i64),
    Float(f32),
    String(String),
    Ints(Vec<i64>),
    Floats(Vec<f32>),
    Strings(Vec<String>),
    /// A tensor, summarised by its element type and dims.
    Tensor {
        data_type: i32,
        dims: Vec<i64>,
    },
    /// A subgraph or another kind that prunekit does not display.
    Other,
}

pub fn value(attr: &AttributeProto) -> AttrValue {
    let text = |s: &[u8]| String::from_utf8_lossy(s).into_owned();
    match attr.r#type() {
        at::INT => AttrValue::Int(attr.i()),
        at::FLOAT => AttrValue::Float(attr.f()),
        at::STRING => AttrValue::String(text(attr.s.as_deref().unwrap_or_default())),
        at::INTS => AttrValue::Ints(attr.ints.clone()),
        at::FLOATS => AttrValue::Floats(attr.floats.clone()),
        at::STRINGS => AttrValue::Strings(attr.strings.iter().map(|s| text(s)).collect()),
        at::TENSOR => match &attr.t {
            Some(t) => AttrValue::Tensor {
                data_type: t.data_type(),
                dims: t.dims.clone(),
            },
            None => AttrValue::Other,
        },
        _ => AttrValue::Other,
    }
}

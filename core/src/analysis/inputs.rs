//! Giving the model's inputs concrete shapes: `--input` shapes first, then `--dim` sizes for named
//! free dims, then 1 for every free dim left (each default reported, so nobody is surprised that a
//! transformer was analyzed at sequence length 1).

use std::collections::{HashMap, HashSet};

use super::AnalysisOptions;
use super::graph::GraphIndex;
use super::ops::Shape;
use crate::error::{Action, Result, Sentence, Setting};
use crate::model::onnx::tensor_shape_proto::dimension::Value as DimValue;
use crate::model::onnx::{GraphProto, type_proto};

/// The most elements one input may hold: 2^40 (4 TB of float32) is past any machine that would
/// run the model, and keeps every count derived from the shapes (MACs, FLOPs, bytes) far from
/// overflowing 64 bits, where it would wrap to a silent, wrong number.
pub const MAX_INPUT_ELEMENTS: u64 = 1 << 40;

/// Refuses an input shape whose element count overflows or passes [`MAX_INPUT_ELEMENTS`].
fn check_size(name: &str, shape: &[u64]) -> Result<()> {
    let count = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
    match count {
        Some(count) if count <= MAX_INPUT_ELEMENTS => Ok(()),
        _ => Err(Sentence::new(format!(
            "input '{name}' would have shape {shape:?}, {} elements, more than the 2^40 (about 1.1 trillion) one input may hold; use smaller ",
            count.map_or("over 2^64".to_string(), |c| c.to_string()),
        ))
        .setting(Setting::Dim)
        .text(" or ")
        .setting(Setting::Input)
        .text(" sizes.")
        .into()),
    }
}

/// The start of every refusal of an input whose shape is unknown: "input 'x' has no known shape;
/// size it with <the step that gives it one>"; callers finish the sentence.
pub fn no_known_shape(name: &str) -> Sentence {
    Sentence::new(format!("input '{name}' has no known shape; size it with "))
        .action(Action::SizeInput(name.to_string()))
}

/// The size free dims get when the user names none.
pub const DEFAULT_DIM: u64 = 1;

/// One dim as the model declares it.
#[derive(Debug, Clone, PartialEq)]
pub enum DimDecl {
    Fixed(u64),
    Symbol(String),
    /// A free dim without a name.
    Anonymous,
}

#[derive(Debug, Clone)]
pub struct ResolvedInput {
    pub name: String,
    pub data_type: i32,
    /// `None` when the model declares no shape for this input.
    pub declared: Option<Vec<DimDecl>>,
    pub shape: Option<Shape>,
}

pub(super) struct Resolved {
    pub inputs: Vec<ResolvedInput>,
    pub defaults: Vec<(String, u64)>,
    /// The size every named free dim got (from `--dim` or the default), for `value_info` shapes
    /// written with the same symbols.
    pub symbols: HashMap<String, u64>,
    pub warnings: Vec<String>,
}

pub(super) fn resolve(
    graph: &GraphProto,
    index: &GraphIndex,
    options: &AnalysisOptions,
) -> Result<Resolved> {
    // Old exporters list initializers among the inputs too; those are weights, not inputs.
    let graph_inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| index.constant(i.name()).is_none())
        .collect();
    let names = || {
        graph_inputs
            .iter()
            .map(|i| i.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (name, _) in &options.input_shapes {
        if !graph_inputs.iter().any(|i| i.name() == name) {
            return Err(Sentence::default()
                .setting(Setting::Input)
                .text(format!(
                    " names '{name}', but the model's inputs are: {}.",
                    names()
                ))
                .into());
        }
    }

    let mut inputs = Vec::new();
    let mut defaults: Vec<(String, u64)> = Vec::new();
    let mut warnings = Vec::new();
    let mut symbols_seen = HashSet::new();
    for input in graph_inputs {
        let tensor_type = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
            Some(type_proto::Value::TensorType(t)) => Some(t),
            _ => None,
        };
        let data_type = tensor_type.map_or(0, |t| t.elem_type());
        let declared: Option<Vec<DimDecl>> = tensor_type.and_then(|t| t.shape.as_ref()).map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(DimValue::DimValue(v)) if *v > 0 => DimDecl::Fixed(*v as u64),
                    Some(DimValue::DimParam(p)) if !p.is_empty() => DimDecl::Symbol(p.clone()),
                    _ => DimDecl::Anonymous,
                })
                .collect()
        });
        let given = options
            .input_shapes
            .iter()
            .find(|(n, _)| n == input.name())
            .map(|(_, s)| s);
        let shape = match (given, &declared) {
            (Some(given), Some(declared)) if given.len() != declared.len() => {
                return Err(Sentence::default()
                    .set(Setting::Input, input.name())
                    .text(format!(
                        " gives {} dims, but the model declares that input with {} dims; give all {} sizes.",
                        given.len(),
                        declared.len(),
                        declared.len()
                    ))
                    .into());
            }
            (Some(given), declared) => {
                let fixed = declared
                    .iter()
                    .flatten()
                    .enumerate()
                    .find_map(|(i, d)| match d {
                        DimDecl::Fixed(size) if *size != given[i] => Some((i, *size)),
                        _ => None,
                    });
                if let Some((i, size)) = fixed {
                    return Err(Sentence::default()
                        .set(Setting::Input, input.name())
                        .text(format!(
                            " sets dim {i} to {}, but the model fixes it at {size}; only free dims can be sized.",
                            given[i]
                        ))
                        .into());
                }
                Some(given.clone())
            }
            (None, Some(declared)) => Some(
                declared
                    .iter()
                    .enumerate()
                    .map(|(i, d)| match d {
                        DimDecl::Fixed(v) => *v,
                        DimDecl::Symbol(s) => {
                            symbols_seen.insert(s.clone());
                            match options.dims.iter().find(|(name, _)| name == s) {
                                Some((_, size)) => *size,
                                None => {
                                    if !defaults.iter().any(|(name, _)| name == s) {
                                        defaults.push((s.clone(), DEFAULT_DIM));
                                    }
                                    DEFAULT_DIM
                                }
                            }
                        }
                        DimDecl::Anonymous => {
                            defaults.push((format!("{}[{i}]", input.name()), DEFAULT_DIM));
                            DEFAULT_DIM
                        }
                    })
                    .collect(),
            ),
            (None, None) => {
                // Warnings are stored with the analysis as plain text, so this one names no
                // front end's syntax.
                warnings.push(format!(
                    "input '{}' has no declared shape; give its shape (all its dims) when loading the model.",
                    input.name(),
                ));
                None
            }
        };
        if let Some(shape) = &shape {
            check_size(input.name(), shape)?;
        }
        inputs.push(ResolvedInput {
            name: input.name().to_string(),
            data_type,
            declared,
            shape,
        });
    }
    for (symbol, _) in &options.dims {
        if !symbols_seen.contains(symbol) {
            let mut known: Vec<_> = symbols_seen.iter().cloned().collect();
            known.sort();
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            return Err(Sentence::default()
                .setting(Setting::Dim)
                .text(format!(
                    " names '{symbol}', which no model input uses; the model's free dims are: {known}."
                ))
                .into());
        }
    }
    let mut symbols: HashMap<String, u64> = defaults.iter().cloned().collect();
    symbols.extend(options.dims.iter().cloned());
    Ok(Resolved {
        inputs,
        defaults,
        symbols,
        warnings,
    })
}

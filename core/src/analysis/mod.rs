//! Per-layer analysis of a model: shapes, params, prunability, existing sparsity, MACs and FLOPs,
//! and model totals, as `docs/analysis.md` defines them. Pure: it reads a loaded `Model` and does
//! no I/O.

pub mod cost;
pub mod graph;
mod inputs;
pub mod ops;
mod params;
mod validate;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::model::attr::{self, AttrValue};
use crate::model::onnx::tensor_shape_proto::dimension::Value as DimValue;
use crate::model::onnx::{TypeProto, type_proto};
use crate::model::{Model, tensor};
use graph::GraphIndex;
pub use inputs::{DimDecl, ResolvedInput, no_known_shape};
use ops::{OpContext, Shape, ValueFacts};

/// How free dims are sized. Every free dim not named here is 1.
#[derive(Debug, Clone, Default)]
pub struct AnalysisOptions {
    /// `--input NAME=D0,D1,..`: whole shapes of inputs.
    pub input_shapes: Vec<(String, Vec<u64>)>,
    /// `--dim SYMBOL=SIZE`: sizes of named free dims.
    pub dims: Vec<(String, u64)>,
    /// Leave existing zeros uncounted (`zeroed_params` 0): counting reads every weight byte,
    /// which the language server, re-analyzing on each model change, does not need.
    pub skip_zero_count: bool,
}

#[derive(Debug, Clone)]
pub struct ModelAnalysis {
    pub path: PathBuf,
    pub opset: i64,
    pub ir_version: i64,
    pub producer: String,
    pub inputs: Vec<ResolvedInput>,
    pub outputs: Vec<OutputInfo>,
    /// Free dims that took the default size, as (symbol, size).
    pub defaults: Vec<(String, u64)>,
    pub layers: Vec<Layer>,
    pub totals: Totals,
    /// Op types, with how many layers of each.
    pub op_types: BTreeMap<String, usize>,
    /// Op types whose FLOPs prunekit does not count.
    pub unknown_flops_ops: Vec<String>,
    /// Things the user should know that did not stop the analysis.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub params: u64,
    pub prunable_params: u64,
    pub zeroed_params: u64,
    pub macs: u64,
    pub flops: u64,
}

impl Totals {
    /// The fraction of prunable weights that are already zero.
    pub fn sparsity(&self) -> f64 {
        if self.prunable_params == 0 {
            0.0
        } else {
            self.zeroed_params as f64 / self.prunable_params as f64
        }
    }
}

/// A layer (or part) a pass left out, and why: a profile could not measure it, quantization
/// left it float.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct OutputInfo {
    pub name: String,
    pub data_type: i32,
    pub shape: Option<Shape>,
}

#[derive(Debug, Clone)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct Layer {
    /// The node's first output: unique, and what SparseML calls the node id.
    pub name: String,
    pub node_name: String,
    pub op_type: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub input_shapes: Vec<Option<Shape>>,
    pub output_shapes: Vec<Option<Shape>>,
    pub attributes: Vec<(String, AttrValue)>,
    pub params: u64,
    pub is_prunable: bool,
    pub not_prunable_reason: Option<String>,
    pub weight: Option<Tensor>,
    /// Which input is the weight, for prunable layers; the others are activations (and the bias).
    pub weight_input: Option<usize>,
    pub bias: Option<Tensor>,
    pub prunable_params: u64,
    pub zeroed_params: u64,
    pub macs: Option<u64>,
    pub flops: Option<u64>,
}

pub fn analyze(model: &Model, options: &AnalysisOptions) -> Result<ModelAnalysis> {
    let graph = model.graph();
    let index = GraphIndex::new(graph);
    validate::graph(graph, &index).map_err(|problem| Error::model(&model.path, problem))?;
    let opset = model.opset();
    let mut warnings = Vec::new();

    let resolved = inputs::resolve(graph, &index, options)?;
    // A channel count can only come from a size prunekit chose (a default or --dim) when some
    // input has a free dim past the batch axis; otherwise a Conv whose channels disagree with its
    // weight is the file's fault.
    let channels_are_the_files = resolved.inputs.iter().all(|input| {
        input
            .declared
            .as_ref()
            .is_some_and(|dims| dims.iter().skip(1).all(|d| matches!(d, DimDecl::Fixed(_))))
    });
    let mut facts: HashMap<&str, ValueFacts> = HashMap::new();
    for (name, tensor) in index.constants() {
        let shape = tensor
            .dims
            .iter()
            .map(|&d| u64::try_from(d).ok())
            .collect::<Option<Shape>>();
        let ints = tensor::to_i64(tensor, ops::MAX_FOLDED_INTS)
            .filter(|_| !tensor::is_float(tensor.data_type()));
        facts.insert(
            name,
            ValueFacts::from_parts(tensor.data_type(), shape.map(|s| (s, ints))),
        );
    }
    for input in &resolved.inputs {
        facts.insert(
            input.name.as_str(),
            ValueFacts::new(input.data_type, input.shape.clone()),
        );
    }
    // The model's own shape annotations: the fallback for ops without a rule.
    let declared: HashMap<&str, ValueFacts> = graph
        .value_info
        .iter()
        .chain(&graph.output)
        .filter_map(|vi| {
            Some((
                vi.name(),
                declared_facts(vi.r#type.as_ref()?, &resolved.symbols)?,
            ))
        })
        .collect();

    let mut layers = Vec::with_capacity(graph.node.len());
    let mut unknown_flops_ops = HashSet::new();
    let mut totals = Totals::default();
    let mut counted_weights = HashSet::new();
    for &i in index.topological_order() {
        let node = &graph.node[i];
        let ctx = OpContext {
            node,
            opset,
            inputs: node
                .input
                .iter()
                .map(|name| facts.get(name.as_str()))
                .collect(),
            index: &index,
        };
        if let Some(mismatch) = validate::conv_channels(&ctx, i).map(|m| crate::error::one_line(&m))
        {
            if channels_are_the_files {
                return Err(Error::model(
                    &model.path,
                    format!("{mismatch}; {}.", validate::invalid()),
                ));
            }
            warnings.push(format!(
                "{mismatch} with the sizes used; give the free dims their real sizes when loading the model."
            ));
        }
        let inferred = ops::infer(&ctx);
        let outputs: Vec<ValueFacts> = node
            .output
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let rule = inferred
                    .as_ref()
                    .and_then(|outs| outs.get(j))
                    .cloned()
                    .unwrap_or_default();
                match (rule.shape.is_some(), declared.get(name.as_str())) {
                    (false, Some(d)) => ValueFacts {
                        data_type: if rule.data_type == 0 {
                            d.data_type
                        } else {
                            rule.data_type
                        },
                        ..d.clone()
                    },
                    _ => rule,
                }
            })
            .collect();
        let cost = cost::of(&ctx, outputs.first().and_then(|o| o.shape.as_ref()));
        if cost::kind(node.op_type()) == cost::CostKind::Unknown {
            unknown_flops_ops.insert(node.op_type().to_string());
        }
        let weights = params::of(node, &index);
        let layer = Layer {
            name: node
                .output
                .first()
                .cloned()
                .unwrap_or_else(|| format!("node_{i}")),
            node_name: node.name().to_string(),
            op_type: node.op_type().to_string(),
            inputs: node.input.clone(),
            outputs: node.output.clone(),
            input_shapes: ctx
                .inputs
                .iter()
                .map(|f| f.and_then(|f| f.shape.clone()))
                .collect(),
            output_shapes: outputs.iter().map(|o| o.shape.clone()).collect(),
            attributes: node
                .attribute
                .iter()
                .map(|a| (a.name().to_string(), attr::value(a)))
                .collect(),
            params: weights.params,
            is_prunable: weights.is_prunable,
            not_prunable_reason: weights.not_prunable_reason.clone(),
            weight: weights.weight.clone(),
            weight_input: weights.weight_input,
            bias: weights.bias.clone(),
            prunable_params: weights.prunable_params,
            zeroed_params: 0,
            macs: cost.macs,
            flops: cost.flops,
        };
        if let Some(weight) = &layer.weight
            && layer.is_prunable
            && counted_weights.insert(weight.name.clone())
        {
            totals.prunable_params += layer.prunable_params;
        }
        totals.macs = totals.macs.saturating_add(cost.macs.unwrap_or(0));
        totals.flops = totals.flops.saturating_add(cost.flops.unwrap_or(0));
        for (name, fact) in node.output.iter().zip(outputs) {
            if !name.is_empty() {
                facts.insert(name.as_str(), fact);
            }
        }
        layers.push(layer);
    }
    totals.params = params::model_params(&index);
    if !options.skip_zero_count {
        let names: Vec<&str> = layers
            .iter()
            .filter(|l| l.is_prunable)
            .filter_map(|l| index.root_constant(l.weight.as_ref()?.name.as_str()))
            .collect();
        let zeros = params::zeros(&index, names);
        let mut problems = Vec::new();
        for layer in layers.iter_mut().filter(|l| l.is_prunable) {
            let Some(weight) = &layer.weight else {
                continue;
            };
            match &zeros[weight.name.as_str()] {
                Ok(n) => layer.zeroed_params = *n,
                Err(problem) => problems.push(problem.clone()),
            }
        }
        totals.zeroed_params = zeros.values().filter_map(|z| z.as_ref().ok()).sum();
        problems.dedup();
        warnings.extend(problems);
    }

    let outputs = graph
        .output
        .iter()
        .map(|o| {
            let fact = facts.get(o.name());
            OutputInfo {
                name: o.name().to_string(),
                data_type: fact.map_or(0, |f| f.data_type),
                shape: fact.and_then(|f| f.shape.clone()),
            }
        })
        .collect();
    let n_unknown_shapes = layers
        .iter()
        .filter(|l| l.output_shapes.iter().any(Option::is_none))
        .count();
    if n_unknown_shapes > 0 {
        warnings.push(format!(
            "{n_unknown_shapes} layer(s) have an output shape prunekit could not infer; their FLOPs are not counted."
        ));
    }
    warnings.extend(resolved.warnings);
    let mut op_types = BTreeMap::new();
    for layer in &layers {
        *op_types.entry(layer.op_type.clone()).or_insert(0) += 1;
    }
    let mut unknown_flops_ops: Vec<String> = unknown_flops_ops.into_iter().collect();
    unknown_flops_ops.sort();
    Ok(ModelAnalysis {
        path: model.path.clone(),
        opset,
        ir_version: model.proto.ir_version(),
        producer: [model.proto.producer_name(), model.proto.producer_version()]
            .join(" ")
            .trim()
            .to_string(),
        inputs: resolved.inputs,
        outputs,
        defaults: resolved.defaults,
        layers,
        totals,
        op_types,
        unknown_flops_ops,
        warnings,
    })
}

/// Facts from a `value_info` annotation, when it gives a fully known tensor shape; a symbol the
/// inputs sized (`batch`, `sequence`) counts as known.
fn declared_facts(ty: &TypeProto, symbols: &HashMap<String, u64>) -> Option<ValueFacts> {
    let Some(type_proto::Value::TensorType(t)) = &ty.value else {
        return None;
    };
    let shape = t.shape.as_ref().and_then(|s| {
        s.dim
            .iter()
            .map(|d| match &d.value {
                Some(DimValue::DimValue(v)) => u64::try_from(*v).ok(),
                Some(DimValue::DimParam(symbol)) => symbols.get(symbol).copied(),
                None => None,
            })
            .collect::<Option<Shape>>()
    });
    Some(ValueFacts::new(t.elem_type(), shape))
}

impl Layer {
    /// Sparsify's approximated loss sensitivity of a prunable layer (its virtual "Approximated"
    /// loss profile): `(in + out) / params × max(in/out, out/in)` where `in` and
    /// `out` are the activation volumes (known, non-zero dims) and `params` the weight and bias.
    /// A structural prior from shapes alone, until a measured loss profile exists.
    pub fn approx_sensitivity(&self) -> Option<f64> {
        let weight_input = self.weight_input?;
        let bias = self
            .bias
            .as_ref()
            .map_or(0, |b| b.shape.iter().map(|&d| d.max(0) as u64).product());
        let params = self.prunable_params + bias;
        if params == 0 {
            return Some(0.0);
        }
        let volume = |shapes: &mut dyn Iterator<Item = &Option<Shape>>| -> f64 {
            let dims: Vec<u64> = shapes
                .flatten()
                .flat_map(|s| s.iter().copied())
                .filter(|&d| d > 0)
                .collect();
            if dims.is_empty() {
                0.0
            } else {
                dims.iter().map(|&d| d as f64).product()
            }
        };
        // Activations: every input but the weight and the bias (input 2 of Conv and Gemm).
        let bias_input = if self.bias.is_some() { Some(2) } else { None };
        let in_vol = volume(
            &mut self
                .input_shapes
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != Some(weight_input) && Some(*i) != bias_input)
                .map(|(_, s)| s),
        );
        let out_vol = volume(&mut self.output_shapes.iter().take(1));
        let multiplier = if in_vol > 0.0 && out_vol > 0.0 {
            (in_vol / out_vol).max(out_vol / in_vol)
        } else {
            1.0
        };
        Some((in_vol + out_vol) / params as f64 * multiplier)
    }
}

impl ModelAnalysis {
    pub fn n_prunable(&self) -> usize {
        self.layers.iter().filter(|l| l.is_prunable).count()
    }

    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(
        op: &str,
        inputs: Vec<Option<Shape>>,
        output: Shape,
        weight: Vec<i64>,
        bias: Option<Vec<i64>>,
    ) -> Layer {
        let n_weight: u64 = weight.iter().map(|&d| d as u64).product();
        Layer {
            name: "x".into(),
            node_name: String::new(),
            op_type: op.into(),
            inputs: vec![],
            outputs: vec![],
            input_shapes: inputs,
            output_shapes: vec![Some(output)],
            attributes: vec![],
            params: 0,
            is_prunable: true,
            not_prunable_reason: None,
            weight: Some(Tensor {
                name: "w".into(),
                shape: weight,
            }),
            weight_input: Some(1),
            bias: bias.map(|shape| Tensor {
                name: "b".into(),
                shape,
            }),
            prunable_params: n_weight,
            zeroed_params: 0,
            macs: None,
            flops: None,
        }
    }

    #[test]
    fn approximated_sensitivity_matches_sparsifys_worked_examples() {
        // Sparsify's own example: Conv 3→4, 3×3, 8×8, with bias: (192 + 256) / 112 × 256/192
        // = 5.333.
        let conv = layer(
            "Conv",
            vec![
                Some(vec![1, 3, 8, 8]),
                Some(vec![4, 3, 3, 3]),
                Some(vec![4]),
            ],
            vec![1, 4, 8, 8],
            vec![4, 3, 3, 3],
            Some(vec![4]),
        );
        assert!((conv.approx_sensitivity().unwrap() - 5.333).abs() < 1e-3);
        // Gemm 4→10 with bias: (4 + 10) / 50 × 2.5 = 0.7.
        let gemm = layer(
            "Gemm",
            vec![Some(vec![1, 4]), Some(vec![10, 4]), Some(vec![10])],
            vec![1, 10],
            vec![10, 4],
            Some(vec![10]),
        );
        assert!((gemm.approx_sensitivity().unwrap() - 0.7).abs() < 1e-9);
        // MatMul [N,5,6]·[6,7]: (30 + 35) / 42 × 35/30 = 1.806.
        let matmul = layer(
            "MatMul",
            vec![Some(vec![1, 5, 6]), Some(vec![6, 7])],
            vec![1, 5, 7],
            vec![6, 7],
            None,
        );
        assert!((matmul.approx_sensitivity().unwrap() - 1.806).abs() < 1e-3);
    }
}

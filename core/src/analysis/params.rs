//! Parameters and prunability of a layer, per `docs/analysis.md`: params are root constants of a
//! parameter dtype, a layer is prunable when Conv/Gemm/MatMul reads a float constant weight.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Tensor;
use super::graph::{GraphIndex, Origin, is_default_domain};
use crate::model::onnx::NodeProto;
use crate::model::tensor;

pub(super) struct LayerWeights {
    pub params: u64,
    pub is_prunable: bool,
    /// Why a Conv, Gemm or MatMul is not prunable (other ops never are, and need no reason).
    pub not_prunable_reason: Option<String>,
    pub weight: Option<Tensor>,
    /// Which input of the node is the weight (directly or through a view).
    pub weight_input: Option<usize>,
    pub bias: Option<Tensor>,
    pub prunable_params: u64,
}

pub(super) fn of(node: &NodeProto, index: &GraphIndex) -> LayerWeights {
    let params = if index.is_view(node) {
        0
    } else {
        let mut roots = HashSet::new();
        node.input
            .iter()
            .filter(|i| !i.is_empty())
            .filter_map(|i| index.root_constant(i))
            .filter(|root| roots.insert(*root))
            .filter_map(|root| index.constant(root))
            .filter(|t| tensor::is_parameter_type(t.data_type()))
            .map(|t| tensor::numel(&t.dims).unwrap_or(0))
            .fold(0u64, u64::saturating_add)
    };
    let mut weights = LayerWeights {
        params,
        is_prunable: false,
        not_prunable_reason: None,
        weight_input: None,
        weight: None,
        bias: None,
        prunable_params: 0,
    };
    let op = node.op_type();
    if !is_default_domain(node) || !matches!(op, "Conv" | "Gemm" | "MatMul") {
        return weights;
    }
    let input = |i: usize| {
        node.input
            .get(i)
            .filter(|s| !s.is_empty())
            .map(String::as_str)
    };
    let float_root = |i: usize| match input(i).map(|name| index.origin(name)) {
        Some(Origin::Constant(root))
            if index
                .constant(root)
                .is_some_and(|t| tensor::is_float(t.data_type())) =>
        {
            Some(root)
        }
        _ => None,
    };
    let is_quantized = |i: usize| {
        matches!(
            input(i).map(|name| index.origin(name)),
            Some(Origin::Quantized)
        )
    };
    let weight = match op {
        "Conv" => match float_root(1) {
            Some(w) => Ok(w),
            None if is_quantized(1) => {
                Err("its weight comes from DequantizeLinear (a quantized weight)")
            }
            None => Err("its weight is computed at run time, not a constant"),
        },
        _ => match (float_root(0), float_root(1)) {
            (Some(_), Some(_)) => Err("both of its inputs are constants"),
            (Some(w), None) | (None, Some(w)) => Ok(w),
            (None, None) if is_quantized(0) || is_quantized(1) => {
                Err("its weight comes from DequantizeLinear (a quantized weight)")
            }
            (None, None) => Err("it multiplies two activations; there is no weight to prune"),
        },
    };
    weights.weight_input = match (op, float_root(0)) {
        ("Conv", _) => Some(1),
        (_, Some(_)) => Some(0),
        _ => Some(1),
    }
    .filter(|_| weight.is_ok());
    // The bias is reported whether or not the weight is prunable; MatMul has none.
    let bias = if op == "MatMul" { None } else { float_root(2) };
    let to_tensor = |name: &str| Tensor {
        name: name.to_string(),
        shape: index
            .constant(name)
            .map(|t| t.dims.clone())
            .unwrap_or_default(),
    };
    weights.bias = bias.map(to_tensor);
    match weight {
        Ok(name) => {
            let t = index.constant(name).expect("a root constant exists");
            weights.prunable_params = tensor::numel(&t.dims).unwrap_or(0);
            weights.weight = Some(to_tensor(name));
            weights.is_prunable = true;
        }
        Err(reason) => weights.not_prunable_reason = Some(reason.to_string()),
    }
    weights
}

/// The model's params: every root constant of a parameter dtype, counted once.
pub(super) fn model_params(index: &GraphIndex) -> u64 {
    index
        .constants()
        .filter(|(_, t)| tensor::is_parameter_type(t.data_type()))
        .map(|(_, t)| tensor::numel(&t.dims).unwrap_or(0))
        .fold(0u64, u64::saturating_add)
}

/// The zeros of each named weight, counted on every core (largest weights first), or an `Err`
/// warning for a payload that disagrees with its shape. Counting reads every byte of every weight,
/// which for a large model is most of the analysis's time; each pass hands its mapped pages back
/// as it reads (`model::pages`), so resident memory does not grow with the model.
pub(super) fn zeros<'a>(
    index: &'a GraphIndex,
    names: impl IntoIterator<Item = &'a str>,
) -> HashMap<String, Result<u64, String>> {
    let mut names: Vec<&str> = names
        .into_iter()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let bytes = |name: &str| {
        index
            .constant(name)
            .map_or(0, |t| t.raw_data.as_ref().map_or(0, |r| r.len()))
    };
    names.sort_by_key(|&name| std::cmp::Reverse(bytes(name)));
    let count = |name: &'a str| {
        let t = index.constant(name);
        let zeros = t.and_then(tensor::count_zeros).ok_or_else(|| {
            format!(
                "weight '{name}' has a payload that does not match its shape {:?}; its zeros are not counted.",
                t.map(|t| t.dims.clone()).unwrap_or_default()
            )
        });
        (name.to_string(), zeros)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || names.len() < 2 {
        return names.into_iter().map(count).collect();
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(names.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while let Some(&name) = names.get(next.fetch_add(1, Ordering::Relaxed)) {
                        mine.push(count(name));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("counting zeros does not panic"))
            .collect()
    })
}

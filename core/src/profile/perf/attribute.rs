//! Mapping kernels back to ONNX nodes: which ONNX node each kernel of ONNX Runtime's trace ran,
//! and for every ONNX node whether it was timed, fused into another node's kernel, or folded.

use std::collections::{HashMap, HashSet};

use super::trace::{KernelTime, OptimizedNode};
use crate::analysis::graph::GraphIndex;
use crate::model::Model;

/// How far up the graph a fused node is looked for from where ONNX Runtime's name points
/// (Sparsify maps folded BatchNormalization/Add/Mul ids back at most 3 hops).
const MAX_HOPS: usize = 3;

/// The most ONNX nodes one ONNX Runtime-made kernel is taken to cover; a bigger walk means the
/// optimized graph's boundaries did not hold, and the kernel stays unattributed.
const MAX_COVERED: usize = 32;

/// One node of the model's main graph, as ONNX Runtime's trace may name it.
pub(super) struct OnnxNode<'a> {
    /// The node's name, or `<op>_<index>` for an unnamed node: the name ONNX Runtime gives it.
    key: String,
    /// The analysis's layer name (the first output).
    pub(super) layer: String,
    pub(super) op: &'a str,
    inputs: &'a [String],
}

fn is_constant_node(node: &crate::model::onnx::NodeProto) -> bool {
    node.op_type() == "Constant" && node.domain().is_empty()
}

/// The model's main graph, indexed for the mapping.
pub(super) struct OnnxGraph<'a> {
    pub(super) nodes: Vec<OnnxNode<'a>>,
    by_key: HashMap<String, usize>,
    /// Producers, and the topological order the analysis lists its layers in.
    index: GraphIndex<'a>,
    /// Initializers and values computed from constants alone.
    constant: HashSet<&'a str>,
    /// Nodes computed from constants alone: ONNX Runtime folds them before the first run.
    folded: Vec<bool>,
}

impl<'a> OnnxGraph<'a> {
    pub(super) fn new(model: &'a Model) -> OnnxGraph<'a> {
        let graph = model.graph();
        // ONNX Runtime turns Constant nodes into initializers as it loads a graph, so an unnamed
        // node's index in its names counts the other nodes only.
        let mut runtime_index = 0;
        let nodes: Vec<OnnxNode> = graph
            .node
            .iter()
            .enumerate()
            .map(|(i, node)| OnnxNode {
                key: {
                    let index = runtime_index;
                    if !is_constant_node(node) {
                        runtime_index += 1;
                    }
                    if node.name().is_empty() {
                        format!("{}_{index}", node.op_type())
                    } else {
                        node.name().to_string()
                    }
                },
                layer: node
                    .output
                    .first()
                    .cloned()
                    .unwrap_or_else(|| format!("node_{i}")),
                op: node.op_type(),
                inputs: &node.input,
            })
            .collect();
        let index = GraphIndex::new(graph);
        let mut constant: HashSet<&str> = graph.initializer.iter().map(|t| t.name()).collect();
        let mut folded = vec![false; nodes.len()];
        for &i in index.topological_order() {
            let node = &graph.node[i];
            let inputs: Vec<&String> = node.input.iter().filter(|n| !n.is_empty()).collect();
            let from_constants = node.op_type() == "Constant"
                || (!inputs.is_empty() && inputs.iter().all(|n| constant.contains(n.as_str())));
            if from_constants {
                folded[i] = true;
                constant.extend(node.output.iter().map(String::as_str));
            }
        }
        let mut by_key = HashMap::new();
        for (i, node) in nodes.iter().enumerate() {
            by_key.entry(node.key.clone()).or_insert(i);
        }
        OnnxGraph {
            nodes,
            by_key,
            index,
            constant,
            folded,
        }
    }
}

impl OnnxGraph<'_> {
    /// Node indices in the analysis's (topological) layer order.
    pub(super) fn order(&self) -> &[usize] {
        self.index.topological_order()
    }

    /// Node `node`'s position in `order`.
    pub(super) fn position(&self, node: usize) -> usize {
        self.index.position(node)
    }

    /// The producer of the node's first input that is not a constant: the way back up a chain.
    fn data_producer(&self, node: usize) -> Option<usize> {
        self.nodes[node]
            .inputs
            .iter()
            .filter(|t| !t.is_empty() && !self.constant.contains(t.as_str()))
            .find_map(|t| self.index.producer_index(t))
    }

    /// Whether a value exists in the model as given (not one ONNX Runtime made).
    fn is_model_value(&self, name: &str) -> bool {
        self.index.producer_index(name).is_some() || self.index.is_graph_input(name)
    }
}

/// What the profile says about one ONNX node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Fate {
    /// A kernel ran it: its time is its kernels' time.
    Timed,
    /// Its work ran inside the kernel of this other node.
    FusedInto(usize),
    /// Computed from constants alone, once, before the first run.
    Folded,
    /// No kernel ran it, and none it could belong to was found.
    Unknown,
}

pub(super) struct Attribution {
    /// Per ONNX node (graph index).
    pub(super) fate: Vec<Fate>,
    /// The ONNX node each kernel ran; `None` for ONNX Runtime's own nodes.
    pub(super) kernel_node: Vec<Option<usize>>,
}

/// Whether a kernel of op `kernel` runs an ONNX node of op `onnx`: fusions keep the op behind a
/// `Fused` prefix (FusedConv, FusedGemm, FusedMatMul), and MatMul+Add becomes a Gemm. In an int8
/// model ONNX Runtime runs each float node between its DequantizeLinear and QuantizeLinear as
/// one integer kernel named after the node (QLinearConv for Conv, QGemm for Gemm, QLinearAdd,
/// MatMulInteger, NhwcMaxPool for a MaxPool on its NHWC layout).
fn same_kernel(kernel: &str, onnx: &str) -> bool {
    let kernel = kernel.strip_prefix("Fused").unwrap_or(kernel);
    let integer = kernel
        .strip_prefix("QLinear")
        .or_else(|| kernel.strip_prefix("DynamicQuantize"))
        .or_else(|| kernel.strip_prefix("Nhwc"))
        .or_else(|| kernel.strip_suffix("IntegerToFloat"))
        .or_else(|| kernel.strip_suffix("Integer"))
        .or_else(|| (kernel == "QGemm").then_some("Gemm"));
    let kernel = integer.unwrap_or(kernel);
    kernel == onnx || (kernel == "Gemm" && onnx == "MatMul")
}

/// A kernel's name without the `_token_<n>` ONNX Runtime appends when its layout pass rewrites a
/// node (an int8 convolution moved to NHWC: `/conv1/Conv_token_1` runs `/conv1/Conv`).
fn without_token(name: &str) -> Option<&str> {
    let (base, n) = name.rsplit_once("_token_")?;
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(base)
}

/// Maps every kernel to the ONNX node it ran and every ONNX node to its fate, in four passes,
/// each using what the earlier ones settled:
///
/// 1. names: a kernel keeps its node's name (`<op>_<index>` for an unnamed node), or is named
///    `fused <name>` (FusedConv, FusedGemm), `<name>/<Pass>Fusion` after the node a fusion
///    starts at, or `<name>_token_<n>` after a node its layout pass rewrote;
/// 2. NCHWc kernels are named `<value>_nchwc` after the value their fused chain outputs
///    (`/relu1/Relu_output_0_nchwc` is conv1 with bn1 and relu1): walk up from that value's
///    producer to the node of the kernel's op, at most `MAX_HOPS` nodes;
/// 3. kernels ONNX Runtime named itself (`BiasGelu`) cover the ONNX nodes between their inputs
///    and outputs in the optimized graph;
/// 4. nodes left without a kernel were fused into the kernel of the nearest producer up the graph
///    that has one (at most `MAX_HOPS` hops, first data input first), or folded into constants.
pub(super) fn attribute(
    graph: &OnnxGraph,
    kernels: &[KernelTime],
    optimized: Option<&[OptimizedNode]>,
) -> Attribution {
    let mut state: Vec<Option<Fate>> = vec![None; graph.nodes.len()];
    let mut kernel_node: Vec<Option<usize>> = vec![None; kernels.len()];
    for (k, kernel) in kernels.iter().enumerate() {
        if let Some(node) = by_name(graph, kernel) {
            state[node] = Some(Fate::Timed);
            kernel_node[k] = Some(node);
        }
    }
    for (k, kernel) in kernels.iter().enumerate() {
        if kernel_node[k].is_none()
            && let Some((anchor, passed)) = by_nchwc_name(graph, &state, kernel)
        {
            claim(&mut state, anchor, &passed);
            kernel_node[k] = Some(anchor);
        }
    }
    if let Some(optimized) = optimized {
        for (k, o) in match_optimized(kernels, &kernel_node, optimized) {
            if let Some((anchor, covered)) =
                by_optimized_graph(graph, &state, &kernels[k], &optimized[o])
            {
                claim(&mut state, anchor, &covered);
                kernel_node[k] = Some(anchor);
            }
        }
    }
    for &node in graph.order() {
        if state[node].is_some() {
            continue;
        }
        state[node] = Some(if graph.folded[node] {
            Fate::Folded
        } else {
            match owner_above(graph, &state, node, 1) {
                Some(owner) => Fate::FusedInto(owner),
                None => Fate::Unknown,
            }
        });
    }
    Attribution {
        fate: state
            .into_iter()
            .map(|s| s.unwrap_or(Fate::Unknown))
            .collect(),
        kernel_node,
    }
}

fn claim(state: &mut [Option<Fate>], anchor: usize, covered: &[usize]) {
    state[anchor] = Some(Fate::Timed);
    for &node in covered {
        if state[node].is_none() {
            state[node] = Some(Fate::FusedInto(anchor));
        }
    }
}

fn by_name(graph: &OnnxGraph, kernel: &KernelTime) -> Option<usize> {
    let name = kernel.name.strip_prefix("fused ").unwrap_or(&kernel.name);
    if let Some(&node) = graph.by_key.get(name) {
        return Some(node);
    }
    if let Some(&node) = without_token(name).and_then(|base| graph.by_key.get(base))
        && same_kernel(&kernel.op, graph.nodes[node].op)
    {
        return Some(node);
    }
    // Node names contain '/' themselves (`/fc2/MatMul`): try the longest prefix first, and only
    // accept a node the kernel's op can run.
    name.rmatch_indices('/')
        .map(|(pos, _)| &name[..pos])
        .filter_map(|prefix| graph.by_key.get(prefix).copied())
        .find(|&node| same_kernel(&kernel.op, graph.nodes[node].op))
}

fn by_nchwc_name(
    graph: &OnnxGraph,
    state: &[Option<Fate>],
    kernel: &KernelTime,
) -> Option<(usize, Vec<usize>)> {
    let value = kernel.name.strip_suffix("_nchwc")?;
    let start = graph.index.producer_index(value)?;
    let mut node = start;
    let mut passed = Vec::new();
    for _ in 0..=MAX_HOPS {
        if same_kernel(&kernel.op, graph.nodes[node].op) {
            return Some((node, passed));
        }
        if state[node] == Some(Fate::Timed) {
            break;
        }
        passed.push(node);
        match graph.data_producer(node) {
            Some(up) => node = up,
            None => break,
        }
    }
    Some((start, Vec::new()))
}

/// Pairs each kernel not yet mapped with its node in the optimized graph: by name and op, and
/// where ONNX Runtime gave several nodes one name (`fused ` for unnamed nodes), in node order.
fn match_optimized(
    kernels: &[KernelTime],
    kernel_node: &[Option<usize>],
    optimized: &[OptimizedNode],
) -> Vec<(usize, usize)> {
    let mut candidates: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for (o, node) in optimized.iter().enumerate() {
        candidates
            .entry((node.name.as_str(), node.op_type.as_str()))
            .or_default()
            .push(o);
    }
    let mut open: Vec<usize> = (0..kernels.len())
        .filter(|&k| kernel_node[k].is_none())
        .collect();
    open.sort_by_key(|&k| kernels[k].node_index);
    let mut taken: HashMap<(&str, &str), usize> = HashMap::new();
    open.into_iter()
        .filter_map(|k| {
            let key = (kernels[k].name.as_str(), kernels[k].op.as_str());
            let next = taken.entry(key).or_insert(0);
            let o = *candidates.get(&key)?.get(*next)?;
            *next += 1;
            Some((k, o))
        })
        .collect()
}

/// The ONNX nodes an ONNX Runtime-made kernel covers: up the graph from the producers of its
/// outputs to its inputs. Its anchor is the covered node of its op, else the first in graph
/// order. A kernel none of whose inputs is a model value (a layout reorder) covers nothing.
fn by_optimized_graph(
    graph: &OnnxGraph,
    state: &[Option<Fate>],
    kernel: &KernelTime,
    node: &OptimizedNode,
) -> Option<(usize, Vec<usize>)> {
    let bounded = node
        .inputs
        .iter()
        .any(|t| !graph.constant.contains(t.as_str()) && graph.is_model_value(t));
    if !bounded {
        return None;
    }
    let bounds: HashSet<&str> = node.inputs.iter().map(String::as_str).collect();
    let mut stack: Vec<usize> = node
        .outputs
        .iter()
        .filter_map(|t| graph.index.producer_index(t))
        .collect();
    let mut seen = HashSet::new();
    let mut covered = Vec::new();
    while let Some(n) = stack.pop() {
        if !seen.insert(n) || state[n].is_some() || graph.folded[n] {
            continue;
        }
        covered.push(n);
        if covered.len() > MAX_COVERED {
            return None;
        }
        for t in graph.nodes[n].inputs {
            if t.is_empty() || bounds.contains(t.as_str()) || graph.constant.contains(t.as_str()) {
                continue;
            }
            if let Some(up) = graph.index.producer_index(t) {
                stack.push(up);
            }
        }
    }
    covered.sort_by_key(|&n| graph.position(n));
    let anchor = covered
        .iter()
        .copied()
        .find(|&n| same_kernel(&kernel.op, graph.nodes[n].op))
        .or_else(|| covered.first().copied())?;
    covered.retain(|&n| n != anchor);
    Some((anchor, covered))
}

/// The node whose kernel did a kernel-less node's work: the nearest producer up the graph that
/// has a kernel (or was fused into one), first data input first, at most `MAX_HOPS` hops.
fn owner_above(
    graph: &OnnxGraph,
    state: &[Option<Fate>],
    node: usize,
    hop: usize,
) -> Option<usize> {
    let inputs = graph.nodes[node]
        .inputs
        .iter()
        .filter(|t| !t.is_empty() && !graph.constant.contains(t.as_str()));
    for t in inputs {
        let Some(up) = graph.index.producer_index(t) else {
            continue;
        };
        match state[up] {
            Some(Fate::Timed) => return Some(up),
            Some(Fate::FusedInto(owner)) => return Some(owner),
            _ if hop < MAX_HOPS => {
                if let Some(owner) = owner_above(graph, state, up, hop + 1) {
                    return Some(owner);
                }
            }
            _ => {}
        }
    }
    None
}

//! Upgrading a model's default ONNX domain ("" or "ai.onnx") from opset 10, 11 or 12 to 13, the
//! first opset whose `DequantizeLinear` takes one scale per channel. Every operator whose inputs,
//! attributes or meaning changed between those opsets is rewritten so that the model computes
//! the same at 13, in the main graph and in the subgraphs of If, Loop and Scan nodes:
//!
//! - Split, Squeeze, Unsqueeze, ReduceSum: their `split`/`axes` attribute becomes an input (13).
//! - Softmax, LogSoftmax, Hardmax: up to 12 they flatten the input to 2-D at `axis` (default 1);
//!   at 13 they work on one axis (default -1). Kept as is where `axis` is the last dim (-1, or the
//!   last of a known rank), else wrapped in Flatten → op → Reshape back to the input's shape.
//! - Clip (11): `min`/`max` attributes become inputs. Pad (11): `pads`/`value` become inputs.
//! - Resize at 10 and Upsample: the opset-13 Resize with the opset-10 sampling (asymmetric
//!   coordinates, nearest rounding down).
//! - Dropout (12): the `ratio` attribute becomes an input. Scatter (deprecated at 11):
//!   ScatterElements, which means the same.
//!
//! Every other operator of the default domain kept its inputs, attributes and meaning from 10 to
//! 13 (the versions in between widened types or allowed negative axes). New inputs are
//! initializers of the graph that reads them, under names new to the model.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use bytes::Bytes;

use super::attr;
use super::names::Names;
use super::onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, attribute_type,
    data_type as dt, type_proto,
};

/// The opset the upgrade writes.
pub const TARGET: i64 = 13;
/// The oldest opset it reads: the first with QuantizeLinear.
pub const OLDEST: i64 = 10;
/// Opset 13 needs IR version 7.
const TARGET_IR: i64 = 7;

/// What an upgrade did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Upgrade {
    /// The default domain's opset before.
    pub from: i64,
    /// Nodes rewritten, by their op type before the upgrade.
    pub converted: BTreeMap<String, usize>,
}

impl Upgrade {
    /// "3 Squeeze, 2 Unsqueeze converted", or "no operator needed converting".
    pub fn summary(&self) -> String {
        if self.converted.is_empty() {
            return "no operator needed converting".into();
        }
        let ops: Vec<String> = self
            .converted
            .iter()
            .map(|(op, n)| format!("{n} {op}"))
            .collect();
        format!("{} converted", ops.join(", "))
    }
}

/// Why a model could not be upgraded; `Display` is one sentence.
#[derive(Debug, Clone, PartialEq)]
pub enum UpgradeError {
    /// The model's default-domain opset is not one the upgrade reads.
    Opset(Option<i64>),
    /// A node the converter cannot rewrite.
    Node {
        op: String,
        node: String,
        opset: i64,
        why: String,
    },
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpgradeError::Opset(None) => write!(
                f,
                "the model imports no default ONNX domain, so there is no opset to upgrade"
            ),
            UpgradeError::Opset(Some(opset)) => write!(
                f,
                "the model's opset {opset} predates QuantizeLinear (opset {OLDEST}); convert it with onnx.version_converter.convert_version(model, {TARGET})"
            ),
            UpgradeError::Node {
                op,
                node,
                opset,
                why,
            } => write!(
                f,
                "the {op} node '{node}' at opset {opset} cannot be converted to opset {TARGET}: {why}"
            ),
        }
    }
}

impl std::error::Error for UpgradeError {}

/// `proto` with its default domain at opset 13 (unchanged when it is there already), and what
/// was converted.
pub fn upgrade_to_13(proto: &ModelProto) -> Result<(ModelProto, Upgrade), UpgradeError> {
    let from = super::default_opset(proto);
    let from = match from {
        Some(v) if v >= TARGET => {
            return Ok((
                proto.clone(),
                Upgrade {
                    from: v,
                    ..Default::default()
                },
            ));
        }
        Some(v) if v >= OLDEST => v,
        other => return Err(UpgradeError::Opset(other)),
    };
    let mut proto = proto.clone();
    let Some(graph) = proto.graph.as_mut() else {
        return Err(UpgradeError::Opset(Some(from)));
    };
    let mut upgrader = Upgrader {
        from,
        names: Names::of(graph),
        types: HashMap::new(),
        converted: BTreeMap::new(),
    };
    upgrader.learn_types(graph);
    upgrader.graph(graph)?;
    for import in &mut proto.opset_import {
        if matches!(import.domain(), "" | "ai.onnx") {
            import.version = Some(TARGET);
        }
    }
    proto.ir_version = Some(proto.ir_version.unwrap_or(0).max(TARGET_IR));
    Ok((
        proto,
        Upgrade {
            from,
            converted: upgrader.converted,
        },
    ))
}

struct Upgrader {
    from: i64,
    names: Names,
    /// Element type and rank (where the shape is given) of the values whose type the model states.
    types: HashMap<String, (i32, Option<usize>)>,
    converted: BTreeMap<String, usize>,
}

/// What became of a node: rewritten, or left as opset 13 reads it.
enum Outcome {
    Rewritten(Rewrite),
    Unchanged(NodeProto),
}

/// A rewritten node: the nodes that replace it, in order, and the initializers they read.
#[derive(Default)]
struct Rewrite {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl Upgrader {
    fn learn_types(&mut self, graph: &GraphProto) {
        let infos = graph
            .input
            .iter()
            .chain(&graph.output)
            .chain(&graph.value_info);
        for info in infos {
            if let Some(type_proto::Value::TensorType(t)) =
                info.r#type.as_ref().and_then(|t| t.value.as_ref())
            {
                let rank = t.shape.as_ref().map(|s| s.dim.len());
                self.types
                    .insert(info.name().to_string(), (t.elem_type(), rank));
            }
        }
        for t in &graph.initializer {
            self.types
                .insert(t.name().to_string(), (t.data_type(), Some(t.dims.len())));
        }
        for subgraph in graph.node.iter().flat_map(super::subgraphs) {
            self.learn_types(subgraph);
        }
    }

    fn graph(&mut self, graph: &mut GraphProto) -> Result<(), UpgradeError> {
        let nodes = std::mem::take(&mut graph.node);
        let mut out = Vec::with_capacity(nodes.len());
        for mut node in nodes {
            for a in &mut node.attribute {
                if let Some(g) = a.g.as_mut() {
                    self.graph(g)?;
                }
                for g in &mut a.graphs {
                    self.graph(g)?;
                }
            }
            if !matches!(node.domain(), "" | "ai.onnx") {
                out.push(node);
                continue;
            }
            let op = node.op_type().to_string();
            match self.node(node)? {
                Outcome::Rewritten(rewrite) => {
                    *self.converted.entry(op).or_insert(0) += 1;
                    out.extend(rewrite.nodes);
                    graph.initializer.extend(rewrite.initializers);
                }
                Outcome::Unchanged(unchanged) => out.push(unchanged),
            }
        }
        graph.node = out;
        Ok(())
    }

    /// The node's rewrite, or the node back when opset 13 reads it as it is.
    fn node(&mut self, mut node: NodeProto) -> Result<Outcome, UpgradeError> {
        let mut rewrite = Rewrite::default();
        match node.op_type() {
            "Split" => {
                let Some(split) = attr::ints(&node, "split").map(<[i64]>::to_vec) else {
                    return Ok(Outcome::Unchanged(node));
                };
                remove(&mut node, "split");
                let name = self.i64_input(&node, "split", &split, &mut rewrite);
                set_input(&mut node, 1, name);
            }
            "Squeeze" | "Unsqueeze" | "ReduceSum" => {
                let Some(axes) = attr::ints(&node, "axes").map(<[i64]>::to_vec) else {
                    if node.op_type() == "Unsqueeze" && node.input.len() < 2 {
                        return Err(self.unconvertible(&node, "it has no axes attribute"));
                    }
                    return Ok(Outcome::Unchanged(node));
                };
                remove(&mut node, "axes");
                let name = self.i64_input(&node, "axes", &axes, &mut rewrite);
                set_input(&mut node, 1, name);
            }
            "Softmax" | "LogSoftmax" | "Hardmax" => return Ok(self.softmax(node)),
            "Clip" if self.from < 11 => {
                let (min, max) = (attr::float(&node, "min"), attr::float(&node, "max"));
                if min.is_none() && max.is_none() {
                    return Ok(Outcome::Unchanged(node));
                }
                remove(&mut node, "min");
                remove(&mut node, "max");
                for (slot, value, what) in [(1, min, "min"), (2, max, "max")] {
                    if let Some(value) = value {
                        let name = self.scalar_input(&node, what, value, &mut rewrite)?;
                        set_input(&mut node, slot, name);
                    }
                }
            }
            "Pad" if self.from < 11 => {
                let Some(pads) = attr::ints(&node, "pads").map(<[i64]>::to_vec) else {
                    return Err(self.unconvertible(&node, "it has no pads attribute"));
                };
                let value = attr::float(&node, "value").unwrap_or(0.0);
                let constant = attr::string(&node, "mode").is_none_or(|m| m == "constant");
                remove(&mut node, "pads");
                remove(&mut node, "value");
                let name = self.i64_input(&node, "pads", &pads, &mut rewrite);
                set_input(&mut node, 1, name);
                if constant && value != 0.0 {
                    let name = self.scalar_input(&node, "value", value, &mut rewrite)?;
                    set_input(&mut node, 2, name);
                }
            }
            "Upsample" => self.resize_from_10(&mut node)?,
            "Resize" if self.from < 11 => self.resize_from_10(&mut node)?,
            "Dropout" if self.from < 12 => {
                let Some(ratio) = attr::float(&node, "ratio") else {
                    return Ok(Outcome::Unchanged(node));
                };
                remove(&mut node, "ratio");
                let name = self.names.fresh(&base(&node), "ratio");
                rewrite
                    .initializers
                    .push(scalar(name.clone(), dt::FLOAT, ratio as f64));
                set_input(&mut node, 1, name);
            }
            "Scatter" => node.op_type = Some("ScatterElements".into()),
            _ => return Ok(Outcome::Unchanged(node)),
        }
        rewrite.nodes.push(node);
        Ok(Outcome::Rewritten(rewrite))
    }

    /// Softmax, LogSoftmax or Hardmax: the same axis where it is the last one, else the opset-12
    /// meaning spelled out (flatten to 2-D at `axis`, the op on the last axis, reshape back).
    fn softmax(&mut self, mut node: NodeProto) -> Outcome {
        let explicit = attr::int(&node, "axis");
        let axis = explicit.unwrap_or(1);
        let rank = node
            .input
            .first()
            .and_then(|x| self.types.get(x))
            .and_then(|&(_, rank)| rank);
        let last = axis == -1 || rank.is_some_and(|r| axis == r as i64 - 1);
        if last {
            if explicit.is_some() {
                return Outcome::Unchanged(node);
            }
            // The opset-12 default (1) is the last axis here; opset 13 must be told.
            set_int(&mut node, "axis", axis);
            return Outcome::Rewritten(Rewrite {
                nodes: vec![node],
                initializers: Vec::new(),
            });
        }
        let (Some(x), Some(y)) = (node.input.first().cloned(), node.output.first().cloned()) else {
            return Outcome::Unchanged(node);
        };
        let base = base(&node);
        let flat = self.names.fresh(&base, "flat");
        let shape = self.names.fresh(&base, "shape");
        let inner = self.names.fresh(&base, "2d");
        let mut flatten = new_node("Flatten", self.names.fresh(&base, "flatten"), &[&x], &flat);
        set_int(&mut flatten, "axis", axis);
        let shape_of = new_node("Shape", self.names.fresh(&base, "shape_of"), &[&x], &shape);
        let reshape = new_node(
            "Reshape",
            self.names.fresh(&base, "reshape"),
            &[&inner, &shape],
            &y,
        );
        node.input[0] = flat;
        node.output[0] = inner;
        set_int(&mut node, "axis", -1);
        Outcome::Rewritten(Rewrite {
            nodes: vec![flatten, node, shape_of, reshape],
            initializers: Vec::new(),
        })
    }

    /// Resize at opset 10 or Upsample as the opset-13 Resize that samples the same way: no roi,
    /// asymmetric coordinates, and nearest neighbours rounded down.
    fn resize_from_10(&mut self, node: &mut NodeProto) -> Result<(), UpgradeError> {
        let mode = attr::string(node, "mode").unwrap_or_else(|| "nearest".into());
        if mode != "nearest" && mode != "linear" {
            return Err(self.unconvertible(
                node,
                &format!("its mode '{mode}' is neither nearest nor linear"),
            ));
        }
        let (Some(x), Some(scales)) = (node.input.first().cloned(), node.input.get(1).cloned())
        else {
            return Err(self.unconvertible(node, "it has no scales input"));
        };
        node.op_type = Some("Resize".into());
        node.input = vec![x, String::new(), scales];
        remove(node, "scales");
        set_string(node, "mode", &mode);
        set_string(node, "coordinate_transformation_mode", "asymmetric");
        if mode == "nearest" {
            set_string(node, "nearest_mode", "floor");
        }
        Ok(())
    }

    /// A new int64 vector initializer named after `node` and `what`, returned by name.
    fn i64_input(
        &mut self,
        node: &NodeProto,
        what: &str,
        values: &[i64],
        rewrite: &mut Rewrite,
    ) -> String {
        let name = self.names.fresh(&base(node), what);
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        rewrite.initializers.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: Some(dt::INT64),
            name: Some(name.clone()),
            raw_data: Some(Bytes::from(raw)),
            ..Default::default()
        });
        name
    }

    /// A new scalar initializer of the element type of `node`'s first input (float32 where the
    /// model does not state it: the only type Clip and Pad read at opset 10 besides float16 and
    /// double), returned by name.
    fn scalar_input(
        &mut self,
        node: &NodeProto,
        what: &str,
        value: f32,
        rewrite: &mut Rewrite,
    ) -> Result<String, UpgradeError> {
        let elem = node
            .input
            .first()
            .and_then(|x| self.types.get(x))
            .map_or(dt::FLOAT, |&(elem, _)| elem);
        if elem != dt::FLOAT && elem != dt::DOUBLE {
            return Err(self.unconvertible(
                node,
                &format!(
                    "its input is {}, and the converter writes its {what} as float32 or float64 only",
                    super::tensor::dtype_name(elem)
                ),
            ));
        }
        let name = self.names.fresh(&base(node), what);
        rewrite
            .initializers
            .push(scalar(name.clone(), elem, value as f64));
        Ok(name)
    }

    fn unconvertible(&self, node: &NodeProto, why: &str) -> UpgradeError {
        UpgradeError::Node {
            op: node.op_type().to_string(),
            node: base(node),
            opset: self.from,
            why: why.to_string(),
        }
    }
}

/// The name new values and nodes are named after: the node's name, else its first output.
fn base(node: &NodeProto) -> String {
    match node.name() {
        "" => node
            .output
            .first()
            .cloned()
            .unwrap_or_else(|| node.op_type().to_string()),
        name => name.to_string(),
    }
}

fn new_node(op: &str, name: String, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.to_string()],
        name: Some(name),
        op_type: Some(op.to_string()),
        domain: Some(String::new()),
        ..Default::default()
    }
}

fn scalar(name: String, elem: i32, value: f64) -> TensorProto {
    let raw = if elem == dt::DOUBLE {
        value.to_le_bytes().to_vec()
    } else {
        (value as f32).to_le_bytes().to_vec()
    };
    TensorProto {
        dims: Vec::new(),
        data_type: Some(elem),
        name: Some(name),
        raw_data: Some(Bytes::from(raw)),
        ..Default::default()
    }
}

/// Puts `name` at input `slot`, padding skipped optional inputs with "".
fn set_input(node: &mut NodeProto, slot: usize, name: String) {
    if node.input.len() <= slot {
        node.input.resize(slot + 1, String::new());
    }
    node.input[slot] = name;
}

fn remove(node: &mut NodeProto, name: &str) {
    node.attribute.retain(|a| a.name() != name);
}

fn set_int(node: &mut NodeProto, name: &str, value: i64) {
    remove(node, name);
    node.attribute.push(AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(attribute_type::INT),
        i: Some(value),
        ..Default::default()
    });
}

fn set_string(node: &mut NodeProto, name: &str, value: &str) {
    remove(node, name);
    node.attribute.push(AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(attribute_type::STRING),
        s: Some(Bytes::from(value.as_bytes().to_vec())),
        ..Default::default()
    });
}

#[cfg(test)]
mod tests;

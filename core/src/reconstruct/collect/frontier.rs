//! The activations kept between rounds of sequential pruning, so that each round runs only the
//! part of the model its layers' inputs need, from where the previous rounds stopped, instead of
//! the whole model from its inputs again.
//!
//! A round's run computes the nodes upstream of the values it collects, back to values already
//! kept (or the model's inputs and constants); afterwards every value that a node not yet
//! computed will read is kept, per batch. Pruning a layer (and repairing it) changes constants:
//! every node that reads one, and everything downstream of it, is forgotten, and so are the
//! values they produced; a later round recomputes what it needs of them.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use ort::session::SessionInputValue;
use ort::value::{DynValue, ValueType};

use super::{Collector, run_error};
use crate::analysis::graph::GraphIndex;
use crate::error::{Error, Result};
use crate::model::onnx::{GraphProto, ModelProto, NodeProto};
use crate::progress::Cancel;
use crate::runtime::{
    Batch, InputArray, ModelSession, SessionOptions, build_mapped_session, build_session,
    onnx_type, to_f32, to_value,
};

/// The values kept (or computed) for one batch, by name.
pub type Values = HashMap<String, DynValue>;

/// Values a run is fed besides the batches' input arrays, read where they are (nothing is
/// copied): each batch's own (the activations upstream of a cut of a model, computed before) and
/// some the same for every batch (a weight fed as an input).
#[derive(Clone, Copy, Default)]
pub struct Given<'a> {
    /// Each batch's values by name, in the batches' order; empty for none.
    pub batches: &'a [Values],
    /// Values fed to every batch.
    pub shared: &'a [(&'a str, &'a DynValue)],
}

impl<'a> Given<'a> {
    fn get(&self, batch: usize, name: &str) -> Option<&'a DynValue> {
        self.shared
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .or_else(|| self.batches.get(batch).and_then(|values| values.get(name)))
    }
}

/// One batch's graph outputs as f32, by name.
pub type Outputs = Vec<(String, ndarray::ArrayD<f32>)>;

/// How the sessions of the parts run are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sessions {
    /// From the part's bytes (weights copied into ONNX Runtime, packed for speed), unless the
    /// part reads more than [`MAPPED_PART_ABOVE_BYTES`] of constants: then as `Mapped`.
    InMemory,
    /// With the weights mapped from their files, not copied (`runtime::build_mapped_session`).
    Mapped,
}

/// A part reading more constants than this is run with its weights mapped, not copied: a copy
/// (twice, while ONNX Runtime packs it) of a few decoder layers of a large transformer, or of its
/// embedding, would be most of what a round holds.
pub const MAPPED_PART_ABOVE_BYTES: u64 = 64 << 20;

/// The constants each part reads when a model is run in parts ([`run_in_parts`],
/// [`observe_in_parts`]); a constant larger than this is a part alone. Larger parts are no
/// faster now that a part's weights are mapped from their own files, not copied (the int4
/// export's check of the 1.3b model: 34 s with parts of 128 MB, 32 s of 256 MB, 32 s of 1 GB,
/// docs/benchmarks.md), but each part's weights are resident while it runs (668 MB, 870 MB
/// and 1.2 GB peak): half a 1.3 billion-parameter transformer's decoder layer (206 MB) a part.
pub const PART_BYTES: u64 = 128 << 20;

/// Models whose constants pass this are run in parts (the export's check, int8 calibration): a
/// session of the whole model would hold all of its weights.
pub const IN_PARTS_ABOVE_BYTES: u64 = 1 << 30;

/// The bytes of constants (initializer payloads) `proto` holds.
pub fn constant_bytes(proto: &ModelProto) -> u64 {
    proto.graph.as_ref().map_or(0, |g| {
        g.initializer
            .iter()
            .map(|t| t.raw_data.as_ref().map_or(0, |r| r.len() as u64))
            .sum()
    })
}

/// Values computed on every batch that later rounds read, and the nodes whose outputs are
/// current (computed from the constants as they are now).
pub struct Frontier {
    kept: Vec<Values>,
    current: HashSet<usize>,
}

impl Frontier {
    pub fn new(batches: usize) -> Frontier {
        Frontier {
            kept: (0..batches).map(|_| HashMap::new()).collect(),
            current: HashSet::new(),
        }
    }

    /// Bytes of activations kept.
    pub fn bytes(&self) -> u64 {
        self.kept
            .iter()
            .flat_map(|values| values.values())
            .map(|v| match v.dtype() {
                ValueType::Tensor { ty, shape, .. } => {
                    shape.iter().map(|&d| d.max(0) as u64).product::<u64>()
                        * ty.byte_size(1).unwrap_or(4) as u64
                }
                _ => 0,
            })
            .sum()
    }

    /// Runs the part of `proto` the collectors' inputs need on every batch, adds each batch's
    /// inputs to its collector, and keeps what later rounds will read; `on_batch` is called after
    /// each batch (progress, cancellation).
    pub fn collect(
        &mut self,
        proto: &ModelProto,
        collectors: &mut [Collector],
        batches: &[Batch],
        cancel: &Cancel,
        on_batch: &mut dyn FnMut(usize),
    ) -> Result<()> {
        let wanted: Vec<String> = collectors.iter().map(|c| c.input.clone()).collect();
        let mut feed = |b: usize, computed: &HashMap<String, DynValue>, kept: &Values| {
            let batch = &batches[b];
            for collector in collectors.iter_mut() {
                let name = collector.input.as_str();
                if let Some((_, array)) = batch.inputs.iter().find(|(n, _)| n == name) {
                    match array {
                        InputArray::F32(a) => collector.add(a.view())?,
                        _ => {
                            return Err(Error::Usage(format!(
                                "layer {} reads model input '{name}', which is not float32; give float32 samples for it.",
                                collector.layer
                            )));
                        }
                    }
                    continue;
                }
                let value = computed
                    .get(name)
                    .or_else(|| kept.get(name))
                    .ok_or_else(|| {
                        Error::Runtime(format!(
                            "ONNX Runtime did not return '{name}', the input of layer {}.",
                            collector.layer
                        ))
                    })?;
                let array = to_f32(name, &value.view())?;
                collector.add(array.view())?;
            }
            Ok(())
        };
        self.advance(
            proto,
            &wanted,
            batches,
            Given::default(),
            Sessions::InMemory,
            cancel,
            &mut |b, computed, kept| {
                feed(b, computed, kept)?;
                on_batch(b);
                Ok(())
            },
        )
    }

    /// Runs the part of `proto` that computes `wanted` on every batch, from the values kept, those
    /// `given` and the model's inputs, and hands each batch's computed values (and the kept ones,
    /// before they are updated) to `on_batch`; afterwards keeps what a node not yet computed will
    /// read.
    #[allow(clippy::too_many_arguments)]
    fn advance(
        &mut self,
        proto: &ModelProto,
        wanted: &[String],
        batches: &[Batch],
        given: Given,
        sessions: Sessions,
        cancel: &Cancel,
        on_batch: &mut dyn FnMut(usize, &Values, &Values) -> Result<()>,
    ) -> Result<()> {
        let graph = proto.graph.as_ref().ok_or_else(|| {
            Error::Usage("the model has no graph; export it again from the framework.".into())
        })?;
        let index = GraphIndex::new(graph);
        // Only the model's inputs are taken from `given`: a value a node of `proto` computes is
        // computed (it may depend on what was changed upstream of it).
        let given = |b: usize, v: &str| {
            if index.is_data_input(v) {
                given.get(b, v)
            } else {
                None
            }
        };
        let is_kept =
            |v: &str| self.kept.first().is_some_and(|k| k.contains_key(v)) || given(0, v).is_some();
        // The nodes to run: upstream of the wanted values, back to what is kept or fed.
        let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
        let mut run: HashSet<usize> = HashSet::new();
        let mut fed: Vec<String> = Vec::new();
        let mut stack: Vec<&str> = wanted.clone();
        let mut seen: HashSet<&str> = HashSet::new();
        while let Some(value) = stack.pop() {
            if !seen.insert(value) || value.is_empty() {
                continue;
            }
            if is_kept(value) || index.is_data_input(value) {
                fed.push(value.to_string());
                continue;
            }
            let Some(p) = index.producer_index(value) else {
                continue; // an initializer (or a value nothing produces: ONNX Runtime says so)
            };
            if run.insert(p) {
                stack.extend(index.uses(p));
            }
        }
        // After the run, the nodes computed; what a node not computed reads is kept.
        let computed: HashSet<usize> = self.current.union(&run).copied().collect();
        let keep: Vec<String> = frontier(&index, &computed);
        let produced: HashSet<&str> = run
            .iter()
            .flat_map(|&n| graph.node[n].output.iter().map(String::as_str))
            .collect();
        let mut outputs: Vec<String> = wanted
            .iter()
            .copied()
            .chain(keep.iter().map(String::as_str))
            .filter(|v| produced.contains(v))
            .map(|v| v.to_string())
            .collect();
        outputs.sort();
        outputs.dedup();
        let mut session = if outputs.is_empty() {
            None
        } else {
            let part = self.part(proto, graph, &index, &run, &fed, &outputs, batches)?;
            Some(
                if sessions == Sessions::Mapped || constant_bytes(&part) > MAPPED_PART_ABOVE_BYTES {
                    // A float weight larger than a part is too large to be resident twice while
                    // it is packed (a transformer's output projection): it runs from its mapped
                    // pages. Packed int4 weights stay packed: MatMulNBits unpacked dequantizes
                    // the whole weight to float on every run (6.2 GB for the 2 GB model's).
                    let huge_float = part.graph.as_ref().is_some_and(|g| {
                        g.initializer.iter().any(|t| {
                            t.data_type() == crate::model::onnx::data_type::FLOAT
                                && t.raw_data.as_ref().map_or(0, |r| r.len() as u64) > PART_BYTES
                        })
                    });
                    build_mapped_session(&part, !huge_float)?
                } else {
                    let session = build_session(&part, None)?;
                    // The session holds its own copy: the pages of the mapped weights the copy
                    // was read from go back (every weight of the model, round after round,
                    // would otherwise stay resident: 5.2 GB of SparseGPT on the 1.3b model).
                    if let Some(graph) = part.graph.as_ref() {
                        crate::model::pages::release_constants(graph);
                    }
                    session
                },
            )
        };
        for (b, batch) in batches.iter().enumerate() {
            cancel.check()?;
            let mut computed_values: HashMap<String, DynValue> = HashMap::new();
            if let Some(session) = session.as_mut() {
                // Each fed value from those kept, else those given, else the batch's arrays.
                let held = |name: &str| self.kept[b].get(name).or_else(|| given(b, name));
                let mut values: Vec<(String, DynValue)> = Vec::new();
                for name in fed.iter().filter(|v| held(v).is_none()) {
                    if let Some((_, array)) = batch.inputs.iter().find(|(n, _)| n == name) {
                        values.push((name.clone(), to_value(array)?));
                    }
                }
                let mut inputs: Vec<(Cow<str>, SessionInputValue)> = values
                    .iter()
                    .map(|(n, v)| (Cow::from(n.as_str()), SessionInputValue::from(v)))
                    .collect();
                for name in &fed {
                    if let Some(value) = held(name) {
                        inputs.push((Cow::from(name.as_str()), SessionInputValue::from(value)));
                    }
                }
                let mut out = session
                    .run(inputs)
                    .map_err(|e| run_error(&graph.input, batch, &e.to_string()))?;
                for name in &outputs {
                    if let Some(v) = out.remove(name.as_str()) {
                        computed_values.insert(name.clone(), v);
                    }
                }
            }
            on_batch(b, &computed_values, &self.kept[b])?;
            // What later rounds read: kept values still needed, and the new ones.
            let kept = &mut self.kept[b];
            kept.retain(|name, _| keep.iter().any(|k| k == name));
            for name in &keep {
                if let Some(v) = computed_values.remove(name) {
                    kept.insert(name.clone(), v);
                }
            }
        }
        self.current = computed;
        Ok(())
    }

    /// Forgets every node that reads one of `changed` (constants just rewritten) or is one of
    /// `nodes`, everything downstream of them, and the values they produced.
    pub fn invalidate(&mut self, graph: &GraphProto, changed: &[String], nodes: &[usize]) {
        let index = GraphIndex::new(graph);
        let mut stale: HashSet<usize> = HashSet::new();
        for name in changed {
            stale.extend(index.value_downstream(name));
            if let Some(p) = index.producer_index(name) {
                stale.extend(index.downstream(p));
            }
        }
        for &n in nodes {
            stale.extend(index.downstream(n));
        }
        self.current.retain(|n| !stale.contains(n));
        let gone: HashSet<&str> = stale
            .iter()
            .flat_map(|&n| graph.node[n].output.iter().map(String::as_str))
            .collect();
        for kept in &mut self.kept {
            kept.retain(|name, _| !gone.contains(name.as_str()));
        }
    }

    /// The model of just the nodes `run`, fed `fed` (model inputs, or values kept, typed as
    /// they were computed) and giving `outputs`.
    #[allow(clippy::too_many_arguments)]
    fn part(
        &self,
        proto: &ModelProto,
        graph: &GraphProto,
        index: &GraphIndex,
        run: &HashSet<usize>,
        fed: &[String],
        outputs: &[String],
        batches: &[Batch],
    ) -> Result<ModelProto> {
        let mut order: Vec<usize> = run.iter().copied().collect();
        order.sort_by_key(|&n| index.position(n));
        let node: Vec<NodeProto> = order.iter().map(|&n| graph.node[n].clone()).collect();
        let read: HashSet<&str> = order.iter().flat_map(|&n| index.uses(n)).collect();
        let initializer = graph
            .initializer
            .iter()
            .filter(|t| read.contains(t.name()))
            .cloned()
            .collect();
        let mut input = Vec::new();
        for name in fed {
            if let Some(declared) = graph.input.iter().find(|i| i.name() == name) {
                input.push(declared.clone());
                continue;
            }
            let (ty, dims) = kept_type(&self.kept, name, batches.len())?;
            input.push(crate::model::tensor_info(name, ty, &dims));
        }
        let output = outputs
            .iter()
            .map(|name| crate::model::onnx::ValueInfoProto {
                name: Some(name.clone()),
                ..Default::default()
            })
            .collect();
        Ok(ModelProto {
            graph: Some(GraphProto {
                node,
                name: Some("prunekit_round".into()),
                initializer,
                input,
                output,
                ..Default::default()
            }),
            ir_version: proto.ir_version,
            opset_import: proto.opset_import.clone(),
            functions: proto.functions.clone(),
            ..Default::default()
        })
    }
}

/// `proto`'s graph outputs on every batch, as f32 by name: from one session of it, or, for a
/// model whose constants pass [`IN_PARTS_ABOVE_BYTES`], run in parts of [`PART_BYTES`] as the
/// export's check runs it (a session holds every weight, and one per changed model would copy a
/// 5 GB model into memory each time; in parts, the weights not rewritten are mapped from their
/// files).
pub fn run_all(
    proto: &ModelProto,
    batches: &[Batch],
    options: &SessionOptions,
    cancel: &Cancel,
) -> Result<Vec<HashMap<String, ndarray::ArrayD<f32>>>> {
    if constant_bytes(proto) > IN_PARTS_ABOVE_BYTES {
        return Ok(
            run_in_parts(proto, batches, Given::default(), PART_BYTES, cancel)?
                .into_iter()
                .map(|outputs| outputs.into_iter().collect())
                .collect(),
        );
    }
    let mut session = ModelSession::from_proto(proto, options)?;
    batches
        .iter()
        .map(|b| {
            cancel.check()?;
            Ok(session.run(&b.inputs)?.into_iter().collect())
        })
        .collect()
}

/// Runs the whole of `proto` on every batch in parts, one after another, each reading at most
/// about `part_bytes` of constants (one constant larger than that is a part of its own), and
/// returns each batch's graph outputs as f32, in the graph's output order (`observe_in_parts`).
pub fn run_in_parts(
    proto: &ModelProto,
    batches: &[Batch],
    given: Given,
    part_bytes: u64,
    cancel: &Cancel,
) -> Result<Vec<Outputs>> {
    let graph = proto.graph.as_ref().ok_or_else(|| {
        Error::Usage("the model has no graph; export it again from the framework.".into())
    })?;
    let graph_outputs: Vec<String> = graph.output.iter().map(|o| o.name().to_string()).collect();
    let mut outputs: Vec<Outputs> = vec![Vec::new(); batches.len()];
    observe_in_parts(
        proto,
        batches,
        given,
        &graph_outputs,
        part_bytes,
        cancel,
        &mut |_, _| {},
        &mut |b, name, value| {
            outputs[b].push((name.to_string(), to_f32(name, &value.view())?));
            Ok(())
        },
    )?;
    for batch in &mut outputs {
        batch.sort_by_key(|(name, _)| graph_outputs.iter().position(|o| o == name));
    }
    Ok(outputs)
}

/// Runs the whole of `proto` on every batch in parts, one after another, each reading at most
/// about `part_bytes` of constants, and hands each batch's value of every name in `observed`
/// that a node computes to `on_value` (batch, name, value) as its part computes it; `on_part`
/// is told (parts done, parts) after each part. Each part is a session of its own whose weights
/// ONNX Runtime maps from the files they are in and drops before the next part: resident memory
/// holds one part's weights and the activations that cross between parts, not the model, which
/// a session of a model larger than memory could not. Inputs of `proto` found in `given` are
/// fed from there, the others from the batches' arrays.
#[allow(clippy::too_many_arguments)]
pub fn observe_in_parts(
    proto: &ModelProto,
    batches: &[Batch],
    given: Given,
    observed: &[String],
    part_bytes: u64,
    cancel: &Cancel,
    on_part: &mut dyn FnMut(usize, usize),
    on_value: &mut dyn FnMut(usize, &str, &DynValue) -> Result<()>,
) -> Result<()> {
    let graph = proto.graph.as_ref().ok_or_else(|| {
        Error::Usage("the model has no graph; export it again from the framework.".into())
    })?;
    let index = GraphIndex::new(graph);
    let observed: HashSet<&str> = observed.iter().map(String::as_str).collect();
    // Nodes in topological order, cut where the constants read since the last cut pass the
    // budget.
    let mut parts: Vec<Vec<usize>> = vec![Vec::new()];
    let mut bytes = 0u64;
    let mut counted: HashSet<&str> = HashSet::new();
    for n in constants_beside_readers(&index) {
        let new: u64 = index
            .uses(n)
            .filter(|v| counted.insert(v))
            .filter_map(|v| index.constant(v))
            .map(|t| t.raw_data.as_ref().map_or(0, |r| r.len() as u64))
            .sum();
        let current = parts.last_mut().expect("at least one part");
        if !current.is_empty() && bytes + new > part_bytes {
            // The quantize and dequantize nodes the part ends with go with the next one, to the
            // node that reads them: ONNX Runtime fuses a DequantizeLinear'd activation and weight
            // into one integer node only when both are in its graph, and otherwise folds the
            // weight's DequantizeLinear into a float copy of the weight (4× its int8 size).
            let mut moved = Vec::new();
            while current.len() > 1
                && current.last().is_some_and(|&m| {
                    matches!(
                        graph.node[m].op_type(),
                        "QuantizeLinear" | "DequantizeLinear"
                    )
                })
            {
                moved.push(current.pop().expect("not empty"));
            }
            moved.reverse();
            parts.push(moved);
            bytes = 0;
        }
        bytes += new;
        parts.last_mut().expect("at least one part").push(n);
    }
    let mut frontier = Frontier::new(batches.len());
    let mut done: HashSet<usize> = HashSet::new();
    for (number, part) in parts.iter().enumerate() {
        done.extend(part);
        // What the part hands on: values read after it, and those observed.
        let wanted: Vec<String> = part
            .iter()
            .flat_map(|&n| graph.node[n].output.iter())
            .filter(|v| {
                observed.contains(v.as_str()) || index.consumers(v).any(|c| !done.contains(&c))
            })
            .cloned()
            .collect();
        if !wanted.is_empty() {
            frontier.advance(
                proto,
                &wanted,
                batches,
                given,
                Sessions::Mapped,
                cancel,
                &mut |b, computed, _| {
                    for name in wanted.iter().filter(|v| observed.contains(v.as_str())) {
                        if let Some(value) = computed.get(name) {
                            on_value(b, name, value)?;
                        }
                    }
                    Ok(())
                },
            )?;
        }
        on_part(number + 1, parts.len());
    }
    Ok(())
}

/// The nodes in topological order, except that a node computed from constants alone (a weight's
/// DequantizeLinear, a Reshape of a constant) comes just before the first node that reads it
/// rather than wherever the sort put it: a part then holds the constant with its reader, and
/// never hands a weight computed from it (float, 4× an int8 weight's size) on to the next.
fn constants_beside_readers(index: &GraphIndex) -> Vec<usize> {
    let order = index.topological_order();
    let graph = index.graph;
    let mut from_constants: HashSet<usize> = HashSet::new();
    for &n in order {
        let all_constant = index.uses(n).all(|v| {
            index.constant(v).is_some()
                || index
                    .producer_index(v)
                    .is_some_and(|p| from_constants.contains(&p))
        });
        if all_constant && !graph.node[n].input.is_empty() {
            from_constants.insert(n);
        }
    }
    let mut placed: HashSet<usize> = HashSet::new();
    let mut out = Vec::with_capacity(order.len());
    fn place(
        n: usize,
        index: &GraphIndex,
        from_constants: &HashSet<usize>,
        placed: &mut HashSet<usize>,
        out: &mut Vec<usize>,
    ) {
        if !placed.insert(n) {
            return;
        }
        let producers: Vec<usize> = index
            .uses(n)
            .filter_map(|v| index.producer_index(v))
            .filter(|p| from_constants.contains(p))
            .collect();
        for p in producers {
            place(p, index, from_constants, placed, out);
        }
        out.push(n);
    }
    for &n in order.iter().filter(|n| !from_constants.contains(n)) {
        place(n, index, &from_constants, &mut placed, &mut out);
    }
    // What only constants read, or nothing: last.
    for &n in order {
        place(n, index, &from_constants, &mut placed, &mut out);
    }
    out
}

/// The values produced by `computed` nodes (or fed to the model) that a node not computed reads.
fn frontier(index: &GraphIndex, computed: &HashSet<usize>) -> Vec<String> {
    let graph = index.graph;
    let mut keep: Vec<String> = Vec::new();
    for n in 0..graph.node.len() {
        if computed.contains(&n) {
            continue;
        }
        for value in index.uses(n) {
            let from_computed = index
                .producer_index(value)
                .is_some_and(|p| computed.contains(&p));
            if from_computed {
                keep.push(value.to_string());
            }
        }
    }
    keep.sort();
    keep.dedup();
    keep
}

/// A kept value's ONNX element type and dims; dims that differ between batches are free.
fn kept_type(
    kept: &[HashMap<String, DynValue>],
    name: &str,
    batches: usize,
) -> Result<(i32, Vec<Option<i64>>)> {
    let mut result: Option<(i32, Vec<Option<i64>>)> = None;
    for values in kept.iter().take(batches) {
        let ValueType::Tensor { ty, shape, .. } = values[name].dtype() else {
            return Err(Error::Usage(format!(
                "'{name}' is not a tensor; one-shot pruning reads tensor activations only."
            )));
        };
        let dims: Vec<i64> = shape.iter().copied().collect();
        result = Some(match result {
            None => (onnx_type(*ty), dims.into_iter().map(Some).collect()),
            Some((t, known)) => (
                t,
                known
                    .iter()
                    .zip(dims.iter().chain(std::iter::repeat(&-1)))
                    .map(|(k, d)| k.filter(|k| k == d))
                    .collect(),
            ),
        });
    }
    result.ok_or_else(|| Error::Usage("there are no samples to run.".into()))
}

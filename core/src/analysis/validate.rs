//! Structural validity of a graph, checked before any inference, so that every command (analyze,
//! load, profiles, optimize, export) refuses an invalid model in one sentence instead of analyzing
//! it into "could not infer" and failing later inside ONNX Runtime or the writer.
//!
//! Only what ONNX itself forbids is refused: values read that nothing defines, a value or node name
//! defined twice, cycles, malformed nodes and attributes, tensors whose payload is not what their
//! dims and type say, and windows (Conv, pools) with a stride, dilation, kernel, padding or group
//! that no runtime can execute. Everything ONNX allows passes: nodes out of order, optional inputs
//! left empty, initializers also listed as graph inputs (older exporters), and subgraphs (If,
//! Loop, Scan) reading values of the graphs around them. docs/analysis.md lists the checks.

use std::collections::{HashMap, HashSet};

use super::graph::{GraphIndex, is_default_domain};
use super::ops::OpContext;
use crate::model::onnx::{
    GraphProto, NodeProto, TensorProto, attribute_type as at, data_type as dt,
};
use crate::model::weight::VALUE_ATTRIBUTES;
use crate::model::{attr, tensor};

/// The end of every sentence here: what is wrong is the file, and only its exporter can fix it.
const INVALID: &str = "the model is invalid: re-export it";

/// How deep subgraphs are followed (a corrupt file can nest them arbitrarily).
pub(super) const MAX_SUBGRAPH_DEPTH: usize = 64;

/// Ops with a sliding window over spatial dims, and so strides, dilations and a kernel.
const WINDOW_OPS: &[&str] = &["Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool"];

/// How a node is named in messages: by its name, else by the value it makes, else by position.
fn describe(node: &NodeProto, index: usize) -> String {
    let op = node.op_type();
    if !node.name().is_empty() {
        format!("node '{}' ({op})", node.name())
    } else if let Some(out) = node.output.iter().find(|o| !o.is_empty()) {
        format!("the {op} node that makes '{out}'")
    } else {
        format!("{op} node #{index}")
    }
}

/// The first reason the graph is invalid, as a sentence without the model's path.
pub(super) fn graph(graph: &GraphProto, index: &GraphIndex) -> Result<(), String> {
    definitions(graph, index)?;
    let mut scope: HashSet<&str> = HashSet::new();
    reads(graph, &mut scope, 0)?;
    outputs(graph)?;
    cycles(graph, index)?;
    for tensor in &graph.initializer {
        if let Some(problem) = payload(tensor) {
            return Err(format!(
                "the initializer '{}' {problem}; {INVALID}.",
                tensor.name()
            ));
        }
    }
    for (i, node) in graph.node.iter().enumerate() {
        constant(node, i)?;
        window(node, i, index)?;
    }
    Ok(())
}

/// Every value is defined once: graph inputs, initializers and node outputs are one namespace
/// (static single assignment), except that an initializer may also be listed as a graph input.
/// Node names, when given, are unique too.
fn definitions(graph: &GraphProto, index: &GraphIndex) -> Result<(), String> {
    let inputs: HashSet<&str> = graph.input.iter().map(|i| i.name()).collect();
    if let Some(input) = first_duplicate(graph.input.iter().map(|i| i.name())) {
        return Err(format!(
            "the graph input '{input}' is declared twice; {INVALID}."
        ));
    }
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name()).collect();
    if let Some(name) = first_duplicate(graph.initializer.iter().map(|t| t.name())) {
        return Err(format!(
            "two initializers are named '{name}' (names must be unique); {INVALID}."
        ));
    }
    if let Some(name) = first_duplicate(graph.node.iter().map(|n| n.name())) {
        return Err(format!(
            "two nodes are named '{name}' (names must be unique); {INVALID}."
        ));
    }
    for (i, node) in graph.node.iter().enumerate() {
        for (j, out) in node
            .output
            .iter()
            .enumerate()
            .filter(|(_, o)| !o.is_empty())
        {
            // The index keeps the first node that writes a value: an earlier writer, or this
            // node when an earlier output of its own has the name too, is a second definition.
            let first = index
                .producer_index(out)
                .filter(|&p| p < i || node.output[..j].contains(out));
            let what = if inputs.contains(out.as_str()) {
                "a graph input"
            } else if initializers.contains(out.as_str()) {
                "an initializer"
            } else if let Some(first) = first {
                if first == i {
                    return Err(format!(
                        "{} writes '{out}' twice; {INVALID}.",
                        describe(node, i)
                    ));
                }
                return Err(format!(
                    "'{out}' is the output of two nodes, {} and {} (names must be unique); {INVALID}.",
                    describe(&graph.node[first], first),
                    describe(node, i)
                ));
            } else {
                continue;
            };
            return Err(format!(
                "{} writes '{out}', which is also {what} (names must be unique); {INVALID}.",
                describe(node, i)
            ));
        }
    }
    Ok(())
}

/// The first non-empty name that comes twice.
fn first_duplicate<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = HashSet::new();
    names.filter(|n| !n.is_empty()).find(|n| !seen.insert(*n))
}

/// Every node is well formed and every name it reads is defined: in this graph, or for a
/// subgraph in a graph around it. `scope` holds the names of the enclosing graphs; it comes back
/// as it was given.
fn reads<'g>(
    graph: &'g GraphProto,
    scope: &mut HashSet<&'g str>,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_SUBGRAPH_DEPTH {
        return Err(format!(
            "subgraphs are nested more than {MAX_SUBGRAPH_DEPTH} deep; {INVALID}."
        ));
    }
    let own: Vec<&str> = defined_names(graph)
        .filter(|n| !n.is_empty() && !scope.contains(n))
        .collect();
    scope.extend(own.iter().copied());
    let mut result = Ok(());
    'nodes: for (i, node) in graph.node.iter().enumerate() {
        if let Err(problem) = well_formed(node, i) {
            result = Err(problem);
            break;
        }
        // Empty names are optional inputs left out.
        if let Some(missing) = node
            .input
            .iter()
            .find(|input| !input.is_empty() && !scope.contains(input.as_str()))
        {
            let hint = if depth == 0 {
                "(an initializer or a node is missing)"
            } else {
                "(in a subgraph: nor any value of the graphs around it)"
            };
            result = Err(format!(
                "{} reads '{missing}', which no graph input, initializer or node provides {hint}; {INVALID}.",
                describe(node, i)
            ));
            break;
        }
        for sub in crate::model::subgraphs(node) {
            result = reads(sub, scope, depth + 1);
            if result.is_err() {
                break 'nodes;
            }
        }
    }
    for name in own {
        scope.remove(name);
    }
    result
}

/// What every node must have, whatever its op: an op type, and attributes with distinct names
/// whose declared type is the type of the value they hold.
fn well_formed(node: &NodeProto, i: usize) -> Result<(), String> {
    if node.op_type().is_empty() {
        let who = match (node.name(), node.output.iter().find(|o| !o.is_empty())) {
            ("", Some(out)) => format!("the node that makes '{out}'"),
            ("", None) => format!("node #{i}"),
            (name, _) => format!("node '{name}'"),
        };
        return Err(format!("{who} has no op_type; {INVALID}."));
    }
    let mut names = HashSet::new();
    for a in &node.attribute {
        let name = a.name();
        if name.is_empty() {
            return Err(format!(
                "{} has an attribute without a name; {INVALID}.",
                describe(node, i)
            ));
        }
        if !names.insert(name) {
            return Err(format!(
                "{} has the attribute '{name}' twice; {INVALID}.",
                describe(node, i)
            ));
        }
        // A reference to an attribute of the enclosing function holds no value of its own.
        if a.ref_attr_name.is_some() {
            continue;
        }
        let held: Vec<i32> = [
            (at::FLOAT, a.f.is_some()),
            (at::INT, a.i.is_some()),
            (at::STRING, a.s.is_some()),
            (at::TENSOR, a.t.is_some()),
            (at::GRAPH, a.g.is_some()),
            (SPARSE_TENSOR, a.sparse_tensor.is_some()),
            (TYPE_PROTO, a.tp.is_some()),
            (at::FLOATS, !a.floats.is_empty()),
            (at::INTS, !a.ints.is_empty()),
            (at::STRINGS, !a.strings.is_empty()),
            (TENSORS, !a.tensors.is_empty()),
            (GRAPHS, !a.graphs.is_empty()),
            (SPARSE_TENSORS, !a.sparse_tensors.is_empty()),
            (TYPE_PROTOS, !a.type_protos.is_empty()),
        ]
        .into_iter()
        .filter_map(|(t, present)| present.then_some(t))
        .collect();
        let declared = a.r#type();
        let Some(declared_name) = attribute_type_name(declared) else {
            return Err(format!(
                "the attribute '{name}' of {} has no type or an unknown one ({declared}); {INVALID}.",
                describe(node, i)
            ));
        };
        if let Some(&other) = held.iter().find(|&&t| t != declared) {
            return Err(format!(
                "the attribute '{name}' of {} is declared {declared_name} but its value is of type {}; {INVALID}.",
                describe(node, i),
                attribute_type_name(other).unwrap_or("different")
            ));
        }
        // A list may be empty; a single value must be there.
        let is_list = matches!(
            declared,
            at::FLOATS | at::INTS | at::STRINGS | TENSORS | GRAPHS | SPARSE_TENSORS | TYPE_PROTOS
        );
        if held.is_empty() && !is_list {
            return Err(format!(
                "the attribute '{name}' of {} holds no value; {INVALID}.",
                describe(node, i)
            ));
        }
    }
    Ok(())
}

// The attribute types after the eight the model module names.
const TENSORS: i32 = 9;
const GRAPHS: i32 = 10;
const SPARSE_TENSOR: i32 = 11;
const SPARSE_TENSORS: i32 = 12;
const TYPE_PROTO: i32 = 13;
const TYPE_PROTOS: i32 = 14;

fn attribute_type_name(t: i32) -> Option<&'static str> {
    Some(match t {
        at::FLOAT => "FLOAT",
        at::INT => "INT",
        at::STRING => "STRING",
        at::TENSOR => "TENSOR",
        at::GRAPH => "GRAPH",
        at::FLOATS => "FLOATS",
        at::INTS => "INTS",
        at::STRINGS => "STRINGS",
        TENSORS => "TENSORS",
        GRAPHS => "GRAPHS",
        SPARSE_TENSOR => "SPARSE_TENSOR",
        SPARSE_TENSORS => "SPARSE_TENSORS",
        TYPE_PROTO => "TYPE_PROTO",
        TYPE_PROTOS => "TYPE_PROTOS",
        _ => return None,
    })
}

/// The main graph has outputs, and they exist.
fn outputs(graph: &GraphProto) -> Result<(), String> {
    if graph.output.is_empty() {
        return Err(format!("the graph has no outputs; {INVALID}."));
    }
    let defined: HashSet<&str> = defined_names(graph).collect();
    match graph.output.iter().find(|o| !defined.contains(o.name())) {
        Some(o) if o.name().is_empty() => Err(format!("a graph output has no name; {INVALID}.")),
        Some(o) => Err(format!(
            "the graph output '{}' is not produced by any node, initializer or graph input; {INVALID}.",
            o.name()
        )),
        None => Ok(()),
    }
}

/// No node depends on its own output, directly or through others.
fn cycles(graph: &GraphProto, index: &GraphIndex) -> Result<(), String> {
    let nodes = &graph.node;
    for (i, node) in nodes.iter().enumerate() {
        if let Some(own) = node
            .input
            .iter()
            .find(|s| !s.is_empty() && index.producer_index(s) == Some(i))
        {
            return Err(format!(
                "{} reads its own output '{own}'; {INVALID}.",
                describe(node, i)
            ));
        }
    }
    let Some(&start) = index.unsorted().first() else {
        return Ok(());
    };
    let mut done = vec![true; nodes.len()];
    for &i in index.unsorted() {
        done[i] = false;
    }
    // Every node left waits on another node left, so walking back through producers that are
    // left must come round: the nodes from the first repeat on are the cycle.
    let mut path = vec![start];
    let mut seen = HashMap::from([(start, 0usize)]);
    let mut current = start;
    let cycle = loop {
        let Some(next) = nodes[current]
            .input
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| index.producer_index(s))
            .find(|&p| !done[p])
        else {
            // Unreachable by construction; say so without naming a cycle rather than panic.
            return Err(format!(
                "{} is part of a cycle; {INVALID}.",
                describe(&nodes[start], start)
            ));
        };
        if let Some(&pos) = seen.get(&next) {
            break path[pos..].to_vec();
        }
        seen.insert(next, path.len());
        path.push(next);
        current = next;
    };
    // The walk went against the data flow; name the cycle along it.
    let mut names: Vec<String> = cycle
        .iter()
        .rev()
        .map(|&i| {
            let node = &nodes[i];
            if node.name().is_empty() {
                node.output
                    .first()
                    .cloned()
                    .unwrap_or_else(|| format!("#{i}"))
            } else {
                node.name().to_string()
            }
        })
        .collect();
    names.push(names[0].clone());
    let first = *cycle.last().expect("a cycle has a node");
    Err(format!(
        "{} depends on its own output through a cycle ({}); {INVALID}.",
        describe(&nodes[first], first),
        names.join(" -> ")
    ))
}

/// Why a tensor's payload cannot be what its dims and type say, if it cannot: a runtime refuses
/// such a tensor, and every reader here would have to guess.
fn payload(tensor: &TensorProto) -> Option<String> {
    let data_type = tensor.data_type();
    // FLOAT (1) to the newest types ONNX Runtime reads; 0 is UNDEFINED.
    if !(1..=26).contains(&data_type) {
        return Some(format!("has an unknown element type ({data_type})"));
    }
    if let Some(&d) = tensor.dims.iter().find(|&&d| d < 0) {
        return Some(format!(
            "has a negative dim ({d}) in its dims {:?}",
            tensor.dims
        ));
    }
    let type_name = tensor::dtype_name(data_type);
    let too_big = || {
        format!(
            "has dims {:?}, more elements than any file holds",
            tensor.dims
        )
    };
    let Some(n) = tensor::numel(&tensor.dims) else {
        return Some(too_big());
    };
    if let Some(raw) = &tensor.raw_data {
        // Sub-byte and variable-size types are packed in ways a byte count does not check.
        let size = tensor::elem_size(data_type)?;
        let Some(expected) = n.checked_mul(size as u64) else {
            return Some(too_big());
        };
        return (raw.len() as u64 != expected).then(|| {
            format!(
                "holds {} bytes, but its dims {:?} of {type_name} need {expected}",
                raw.len(),
                tensor.dims
            )
        });
    }
    let stored = match data_type {
        dt::FLOAT => tensor.float_data.len() as u64,
        dt::DOUBLE => tensor.double_data.len() as u64,
        dt::INT64 => tensor.int64_data.len() as u64,
        dt::UINT32 | dt::UINT64 => tensor.uint64_data.len() as u64,
        dt::STRING => tensor.string_data.len() as u64,
        dt::COMPLEX64 if tensor.float_data.len().is_multiple_of(2) => {
            tensor.float_data.len() as u64 / 2
        }
        dt::COMPLEX128 if tensor.double_data.len().is_multiple_of(2) => {
            tensor.double_data.len() as u64 / 2
        }
        dt::INT32
        | dt::INT16
        | dt::INT8
        | dt::UINT16
        | dt::UINT8
        | dt::BOOL
        | dt::FLOAT16
        | dt::BFLOAT16
        | 17..=20 => tensor.int32_data.len() as u64,
        _ => return None,
    };
    (stored != n).then(|| {
        format!(
            "holds {stored} values, but its dims {:?} of {type_name} call for {n}",
            tensor.dims
        )
    })
}

/// Every name a graph defines: its inputs, initializers and node outputs.
fn defined_names(graph: &GraphProto) -> impl Iterator<Item = &str> {
    graph
        .input
        .iter()
        .map(|i| i.name())
        .chain(graph.initializer.iter().map(|t| t.name()))
        .chain(
            graph
                .node
                .iter()
                .flat_map(|n| n.output.iter().map(String::as_str)),
        )
}

/// A Constant node holds a value, and a well-formed one.
fn constant(node: &NodeProto, i: usize) -> Result<(), String> {
    if !is_default_domain(node) || node.op_type() != "Constant" {
        return Ok(());
    }
    if !node
        .attribute
        .iter()
        .any(|a| VALUE_ATTRIBUTES.contains(&a.name()))
    {
        return Err(format!("{} has no value; {INVALID}.", describe(node, i)));
    }
    if let Some(problem) = attr::tensor(node, "value").and_then(payload) {
        return Err(format!(
            "{} holds a tensor that {problem}; {INVALID}.",
            describe(node, i)
        ));
    }
    Ok(())
}

/// Strides, dilations and kernel sizes that are positive and one per spatial dim, pads that are
/// not negative, a padding mode ONNX defines, a kernel that matches the weight, and a group that
/// is positive and splits the weight's channels: anything else has no meaning and no runtime
/// executes it.
fn window(node: &NodeProto, i: usize, index: &GraphIndex) -> Result<(), String> {
    if !is_default_domain(node) || !WINDOW_OPS.contains(&node.op_type()) {
        return Ok(());
    }
    let problem = |what: String| Err(format!("{} has {what}; {INVALID}.", describe(node, i)));
    for (name, what) in [
        ("strides", "a stride"),
        ("dilations", "a dilation"),
        ("kernel_shape", "a kernel size"),
    ] {
        if let Some(&bad) = attr::ints(node, name).and_then(|v| v.iter().find(|&&v| v <= 0)) {
            return problem(format!("{what} of {bad}"));
        }
    }
    if let Some(&bad) = attr::ints(node, "pads").and_then(|v| v.iter().find(|&&v| v < 0)) {
        return problem(format!("a padding of {bad}"));
    }
    if let Some(mode) = attr::string(node, "auto_pad")
        && !matches!(
            mode.as_str(),
            "NOTSET" | "SAME_UPPER" | "SAME_LOWER" | "VALID"
        )
    {
        return problem(format!(
            "auto_pad '{mode}', which ONNX does not define (NOTSET, SAME_UPPER, SAME_LOWER or VALID)"
        ));
    }
    let is_conv = matches!(node.op_type(), "Conv" | "ConvTranspose");
    let kernel = attr::ints(node, "kernel_shape");
    // A constant weight fixes the kernel; otherwise the attribute does (pools must give it).
    let weight = node
        .input
        .get(1)
        .filter(|s| !s.is_empty() && is_conv)
        .and_then(|w| index.constant(w));
    let spatial = match (weight, kernel) {
        (Some(w), _) if w.dims.len() < 3 => {
            return problem(format!(
                "a weight with {} dims, where a convolution's weight has at least 3 (out, in, kernel...)",
                w.dims.len()
            ));
        }
        (Some(w), Some(k)) if k != &w.dims[2..] => {
            return problem(format!(
                "kernel_shape {k:?}, but its weight's kernel is {:?}",
                &w.dims[2..]
            ));
        }
        (Some(w), _) => w.dims.len() - 2,
        (None, Some(k)) => k.len(),
        (None, None) if is_conv => return Ok(()),
        (None, None) => return problem("no kernel_shape, which it requires".to_string()),
    };
    for (name, per_dim) in [
        ("strides", 1),
        ("dilations", 1),
        ("pads", 2),
        ("output_padding", 1),
    ] {
        if let Some(values) = attr::ints(node, name)
            && values.len() != per_dim * spatial
        {
            return problem(format!(
                "{} {name} for its {spatial} spatial dim(s) (it needs {})",
                values.len(),
                per_dim * spatial
            ));
        }
    }
    if !is_conv {
        return Ok(());
    }
    let group = attr::int(node, "group").unwrap_or(1);
    if group <= 0 {
        return problem(format!("a group of {group}"));
    }
    // The weight's channels that the group must split: output channels (dim 0) for Conv, input
    // channels (dim 0 too, as ConvTranspose stores them) for ConvTranspose.
    if let Some(&channels) = weight.and_then(|w| w.dims.first())
        && channels > 0
        && channels % group != 0
    {
        let which = if node.op_type() == "Conv" {
            "output"
        } else {
            "input"
        };
        return problem(format!(
            "a group of {group}, which does not divide the {channels} {which} channels of its weight"
        ));
    }
    Ok(())
}

/// Conv's input against its weight, the same rank and `C = weight channels per group × group`:
/// the mismatch, as the start of a sentence, or `None` when they agree or are not known. The caller
/// decides whether the file is to blame or the sizes prunekit gave the free dims.
pub(super) fn conv_channels(ctx: &OpContext, i: usize) -> Option<String> {
    let node = ctx.node;
    if !is_default_domain(node) || node.op_type() != "Conv" {
        return None;
    }
    let (x, w) = (ctx.shape(0)?, ctx.shape(1)?);
    if x.len() != w.len() {
        return Some(format!(
            "{} gets a {}-D input, but its weight is {}-D (the input needs the weight's rank)",
            describe(node, i),
            x.len(),
            w.len()
        ));
    }
    let (&c, &per_group) = (x.get(1)?, w.get(1)?);
    let group = u64::try_from(attr::int(node, "group").unwrap_or(1)).ok()?;
    let expected = per_group.checked_mul(group)?;
    (c != expected).then(|| {
        let grouping = if group == 1 {
            String::new()
        } else {
            format!(" ({per_group} per group × group {group})")
        };
        format!(
            "{} gets {c} input channels, but its weight expects {expected}{grouping}",
            describe(node, i)
        )
    })
}

/// The end of a sentence that blames the file.
pub(super) fn invalid() -> &'static str {
    INVALID
}

#[cfg(test)]
mod tests {
    use crate::analysis::AnalysisOptions;
    use crate::fixtures::fixture;
    use crate::model::onnx::{
        AttributeProto, GraphProto, NodeProto, TensorProto, TypeProto, ValueInfoProto,
        attribute_type, data_type, tensor_shape_proto, type_proto,
    };

    /// A fixture edited in memory, analyzed: `Ok` with the layer count, or the error's sentence.
    fn analyze_edited(name: &str, edit: impl FnOnce(&mut GraphProto)) -> Result<usize, String> {
        let mut model = crate::load(&fixture(name)).unwrap();
        edit(model.proto.graph.as_mut().unwrap());
        match crate::analyze(&model, &AnalysisOptions::default()) {
            Ok(analysis) => Ok(analysis.layers.len()),
            Err(err) => {
                assert_eq!(err.kind_name(), "ModelError", "{err}");
                let text = err.to_string();
                assert!(!text.contains('\n') && text.ends_with('.'), "{text}");
                Err(text)
            }
        }
    }

    fn node<'g>(graph: &'g mut GraphProto, name: &str) -> &'g mut NodeProto {
        graph
            .node
            .iter_mut()
            .find(|n| n.name() == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    fn set_ints(node: &mut NodeProto, name: &str, values: Vec<i64>) {
        node.attribute.retain(|a| a.name() != name);
        node.attribute.push(AttributeProto {
            name: Some(name.into()),
            r#type: Some(attribute_type::INTS),
            ints: values,
            ..Default::default()
        });
    }

    fn set_int(node: &mut NodeProto, name: &str, value: i64) {
        node.attribute.retain(|a| a.name() != name);
        node.attribute.push(AttributeProto {
            name: Some(name.into()),
            r#type: Some(attribute_type::INT),
            i: Some(value),
            ..Default::default()
        });
    }

    fn expect_invalid(result: Result<usize, String>, needles: &[&str]) {
        let text = result.expect_err("the model is invalid and must be refused");
        for needle in needles {
            assert!(text.contains(needle), "{text:?} does not say {needle:?}");
        }
        assert!(
            text.ends_with("; the model is invalid: re-export it."),
            "{text:?}"
        );
    }

    #[test]
    fn every_fixture_is_valid() {
        for name in crate::fixtures::MODELS {
            assert!(analyze_edited(name, |_| {}).is_ok(), "{name}");
        }
    }

    #[test]
    fn a_missing_initializer_is_named_with_its_reader() {
        let result = analyze_edited("digits_cnn.onnx", |g| {
            g.initializer.retain(|t| t.name() != "conv2.weight");
        });
        expect_invalid(
            result,
            &["node '/conv2/Conv' (Conv) reads 'conv2.weight'", "missing"],
        );
    }

    #[test]
    fn a_dangling_input_is_refused() {
        let result = analyze_edited("mlp.onnx", |g| {
            g.node[1].input[0] = "nowhere".into();
        });
        expect_invalid(result, &["reads 'nowhere'"]);
    }

    #[test]
    fn an_unproduced_graph_output_is_refused() {
        let result = analyze_edited("mlp.onnx", |g| {
            g.output[0].name = Some("never_made".into());
        });
        expect_invalid(result, &["the graph output 'never_made'"]);
    }

    #[test]
    fn cycles_are_named_node_by_node() {
        // Relu -> Gemm -> Relu: the first Relu now reads the Gemm after it.
        let result = analyze_edited("digits_cnn.onnx", |g| {
            let later = node(g, "/fc1/Gemm").output[0].clone();
            node(g, "/relu1/Relu").input[0] = later;
        });
        expect_invalid(
            result,
            &[
                "depends on its own output through a cycle",
                "/relu1/Relu",
                "/fc1/Gemm",
            ],
        );
        let result = analyze_edited("digits_cnn.onnx", |g| {
            let own = node(g, "/relu2/Relu").output[0].clone();
            node(g, "/relu2/Relu").input[0] = own;
        });
        expect_invalid(result, &["node '/relu2/Relu' (Relu) reads its own output"]);
    }

    #[test]
    fn values_defined_twice_are_refused() {
        let result = analyze_edited("digits_cnn.onnx", |g| {
            let first = g.node[0].output[0].clone();
            g.node[2].output[0] = first;
        });
        expect_invalid(result, &["is the output of two nodes"]);
        let result = analyze_edited("mlp.onnx", |g| {
            let copy = g.initializer[0].clone();
            g.initializer.push(copy);
        });
        expect_invalid(result, &["two initializers are named 'fc1.weight'"]);
        let result = analyze_edited("mlp.onnx", |g| {
            g.node[0].output[0] = "x".into();
        });
        expect_invalid(result, &["which is also a graph input"]);
    }

    #[test]
    fn a_payload_that_disagrees_with_its_dims_or_type_is_refused() {
        let result = analyze_edited("digits_cnn.onnx", |g| {
            let t = g
                .initializer
                .iter_mut()
                .find(|t| t.name() == "conv1.bias")
                .unwrap();
            let raw = t.raw_data.take().unwrap();
            t.raw_data = Some(raw.slice(..raw.len() - 1));
        });
        expect_invalid(
            result,
            &["the initializer 'conv1.bias' holds 31 bytes, but its dims [8] of float32 need 32"],
        );
        let result = analyze_edited("digits_cnn.onnx", |g| {
            g.initializer[0].data_type = Some(0);
        });
        expect_invalid(result, &["has an unknown element type (0)"]);
        let result = analyze_edited("mlp.onnx", |g| {
            g.initializer[0].dims = vec![128, -64];
        });
        expect_invalid(result, &["has a negative dim (-64)"]);
        let result = analyze_edited("mlp.onnx", |g| {
            g.initializer[0].dims = vec![1 << 40, 1 << 40];
        });
        expect_invalid(result, &["more elements than any file holds"]);
        // Typed storage: float_data with one value too many.
        let result = analyze_edited("mlp.onnx", |g| {
            let t = &mut g.initializer[1];
            let n = t.raw_data.take().unwrap().len() / 4;
            t.float_data = vec![0.5; n + 1];
        });
        expect_invalid(
            result,
            &["holds 129 values, but its dims [128] of float32 call for 128"],
        );
        // A Constant node's tensor is checked like an initializer, and it must hold something.
        let result = analyze_edited("transformer_block.onnx", |g| {
            let c = g
                .node
                .iter_mut()
                .find(|n| n.op_type() == "Constant")
                .unwrap();
            c.attribute[0].t.as_mut().unwrap().dims.push(2);
        });
        expect_invalid(result, &["(Constant) holds a tensor that holds"]);
        let result = analyze_edited("transformer_block.onnx", |g| {
            let c = g
                .node
                .iter_mut()
                .find(|n| n.op_type() == "Constant")
                .unwrap();
            c.attribute.clear();
        });
        expect_invalid(result, &["(Constant) has no value"]);
    }

    #[test]
    fn malformed_nodes_and_attributes_are_refused() {
        let result = analyze_edited("mlp.onnx", |g| g.node[1].op_type = Some(String::new()));
        expect_invalid(result, &["node '/relu1/Relu' has no op_type"]);
        let result = analyze_edited("digits_cnn.onnx", |g| {
            let conv = node(g, "/conv1/Conv");
            let copy = conv.attribute[0].clone();
            conv.attribute.push(copy);
        });
        expect_invalid(
            result,
            &["node '/conv1/Conv' (Conv) has the attribute", "twice"],
        );
        let result = analyze_edited("digits_cnn.onnx", |g| {
            node(g, "/conv1/Conv").attribute[0].name = Some(String::new());
        });
        expect_invalid(result, &["has an attribute without a name"]);
        let result = analyze_edited("mlp.onnx", |g| {
            let gemm = node(g, "/fc1/Gemm");
            let a = gemm
                .attribute
                .iter_mut()
                .find(|a| a.name() == "transB")
                .unwrap();
            a.r#type = Some(attribute_type::STRING);
        });
        expect_invalid(
            result,
            &[
                "the attribute 'transB' of node '/fc1/Gemm' (Gemm) is declared STRING but its value is of type INT",
            ],
        );
        let result = analyze_edited("mlp.onnx", |g| {
            let gemm = node(g, "/fc1/Gemm");
            let a = gemm
                .attribute
                .iter_mut()
                .find(|a| a.name() == "transB")
                .unwrap();
            a.i = None;
        });
        expect_invalid(
            result,
            &["the attribute 'transB' of node '/fc1/Gemm' (Gemm) holds no value"],
        );
        let result = analyze_edited("mlp.onnx", |g| {
            g.node[0].attribute[0].r#type = Some(0);
        });
        expect_invalid(result, &["has no type or an unknown one (0)"]);
        let result = analyze_edited("mlp.onnx", |g| {
            let first = g.node[0].name.clone();
            g.node[1].name = first;
        });
        expect_invalid(result, &["two nodes are named '/fc1/Gemm'"]);
        // An empty list is a list: INTS with no values is well formed.
        let result = analyze_edited("digits_cnn.onnx", |g| {
            node(g, "/relu1/Relu").attribute.push(AttributeProto {
                name: Some("unused".into()),
                r#type: Some(attribute_type::INTS),
                ..Default::default()
            });
        });
        assert!(result.is_ok(), "{result:?}");
    }

    #[test]
    fn control_characters_in_names_stay_on_one_line() {
        let result = analyze_edited("digits_cnn.onnx", |g| {
            node(g, "/relu1/Relu").input[0] = "bad\nname\x0b\r".into();
        });
        // Line breaks become spaces and other control characters escapes (`Error`'s display).
        expect_invalid(result, &["reads 'bad name\\u{b} '"]);
    }

    #[test]
    fn a_graph_without_outputs_is_refused() {
        expect_invalid(
            analyze_edited("mlp.onnx", |g| g.output.clear()),
            &["the graph has no outputs"],
        );
    }

    #[test]
    fn zero_strides_dilations_kernels_and_groups_are_refused() {
        let result = analyze_edited("digits_cnn.onnx", |g| {
            set_ints(node(g, "/conv1/Conv"), "strides", vec![0, 0]);
        });
        expect_invalid(result, &["node '/conv1/Conv' (Conv) has a stride of 0"]);
        let result = analyze_edited("digits_cnn.onnx", |g| {
            set_ints(node(g, "/pool1/MaxPool"), "strides", vec![1, -2]);
        });
        expect_invalid(result, &["(MaxPool) has a stride of -2"]);
        let result = analyze_edited("digits_cnn.onnx", |g| {
            set_ints(node(g, "/conv2/Conv"), "dilations", vec![0, 1]);
        });
        expect_invalid(result, &["has a dilation of 0"]);
        let result = analyze_edited("digits_cnn.onnx", |g| {
            set_ints(node(g, "/pool2/MaxPool"), "kernel_shape", vec![0, 2]);
        });
        expect_invalid(result, &["has a kernel size of 0"]);
        let result = analyze_edited("grouped_convs.onnx", |g| {
            set_int(node(g, "/dw/Conv"), "group", 0);
        });
        expect_invalid(result, &["node '/dw/Conv' (Conv) has a group of 0"]);
    }

    #[test]
    fn window_attributes_must_fit_the_kernel() {
        let result = analyze_edited("digits_cnn.onnx", |g| {
            set_ints(node(g, "/conv1/Conv"), "strides", vec![1, 1, 1]);
        });
        expect_invalid(
            result,
            &["has 3 strides for its 2 spatial dim(s) (it needs 2)"],
        );
        let result = analyze_edited("digits_cnn.onnx", |g| {
            set_ints(node(g, "/conv1/Conv"), "pads", vec![1, 1]);
        });
        expect_invalid(
            result,
            &["has 2 pads for its 2 spatial dim(s) (it needs 4)"],
        );
        let result = analyze_edited("digits_cnn.onnx", |g| {
            set_ints(node(g, "/conv2/Conv"), "kernel_shape", vec![3, 5]);
        });
        expect_invalid(
            result,
            &["has kernel_shape [3, 5], but its weight's kernel is [3, 3]"],
        );
        let result = analyze_edited("digits_cnn.onnx", |g| {
            node(g, "/pool1/MaxPool")
                .attribute
                .retain(|a| a.name() != "kernel_shape");
        });
        expect_invalid(
            result,
            &["(MaxPool) has no kernel_shape, which it requires"],
        );
        let result = analyze_edited("digits_cnn.onnx", |g| {
            let conv = node(g, "/conv1/Conv");
            conv.attribute.push(AttributeProto {
                name: Some("auto_pad".into()),
                r#type: Some(attribute_type::STRING),
                s: Some(b"NONSENSE".to_vec().into()),
                ..Default::default()
            });
        });
        expect_invalid(
            result,
            &["has auto_pad 'NONSENSE', which ONNX does not define"],
        );
        // A 5-D input into a 4-D weight, with every input dim but the batch fixed.
        let result = analyze_edited("digits_cnn.onnx", |g| {
            let Some(type_proto::Value::TensorType(t)) =
                g.input[0].r#type.as_mut().and_then(|t| t.value.as_mut())
            else {
                panic!("a tensor input")
            };
            t.shape
                .as_mut()
                .unwrap()
                .dim
                .push(tensor_shape_proto::Dimension {
                    value: Some(tensor_shape_proto::dimension::Value::DimValue(2)),
                    denotation: None,
                });
        });
        expect_invalid(result, &["gets a 5-D input, but its weight is 4-D"]);
    }

    #[test]
    fn a_group_must_split_the_channels() {
        // gconv's weight is [16, 4, 3, 3]: group 3 divides neither its 16 outputs nor 8 inputs.
        let result = analyze_edited("grouped_convs.onnx", |g| {
            set_int(node(g, "/gconv/Conv"), "group", 3);
        });
        expect_invalid(
            result,
            &["a group of 3, which does not divide the 16 output channels"],
        );
        // Group 4 divides the 16 outputs, but 4 per group × 4 is not the 8 input channels.
        let result = analyze_edited("grouped_convs.onnx", |g| {
            set_int(node(g, "/gconv/Conv"), "group", 4);
        });
        expect_invalid(
            result,
            &["gets 8 input channels, but its weight expects 16 (4 per group × group 4)"],
        );
    }

    #[test]
    fn channels_from_a_free_dim_are_a_warning_not_an_error() {
        // With the channel dim free, prunekit sized it 1 by default: the mismatch is ours.
        let mut model = crate::load(&fixture("digits_cnn.onnx")).unwrap();
        let input = &mut model.proto.graph.as_mut().unwrap().input[0];
        let Some(type_proto::Value::TensorType(t)) =
            input.r#type.as_mut().and_then(|t| t.value.as_mut())
        else {
            panic!("a tensor input")
        };
        t.shape.as_mut().unwrap().dim[1].value = Some(
            tensor_shape_proto::dimension::Value::DimParam("channels".into()),
        );
        let options = AnalysisOptions {
            dims: vec![("channels".into(), 3)],
            ..Default::default()
        };
        let analysis = crate::analyze(&model, &options).unwrap();
        assert!(
            analysis
                .warnings
                .iter()
                .any(|w| w.contains("gets 3 input channels, but its weight expects 1")),
            "{:?}",
            analysis.warnings
        );
    }

    #[test]
    fn what_onnx_allows_passes() {
        // Nodes out of order.
        assert_eq!(
            analyze_edited("digits_cnn.onnx", |g| g.node.reverse()),
            Ok(12)
        );
        // Initializers also listed as graph inputs, as exporters before IR 4 wrote them.
        let result = analyze_edited("mlp.onnx", |g| {
            let listed: Vec<ValueInfoProto> = g
                .initializer
                .iter()
                .map(|t| ValueInfoProto {
                    name: t.name.clone(),
                    r#type: Some(TypeProto {
                        value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                            elem_type: t.data_type,
                            shape: None,
                        })),
                        denotation: None,
                    }),
                    ..Default::default()
                })
                .collect();
            g.input.extend(listed);
        });
        assert!(result.is_ok(), "{result:?}");
        // An optional input left empty: Conv without a bias, spelled with an empty name.
        let result = analyze_edited("digits_cnn.onnx", |g| {
            node(g, "/conv2/Conv").input.push(String::new());
        });
        assert!(result.is_ok(), "{result:?}");
        // A subgraph reading values of the graph around it (and one of its own).
        let result = analyze_edited("mlp.onnx", |g| {
            let last = g.node.pop().unwrap();
            let out = last.output[0].clone();
            let branch = |tag: &str| {
                let mut inner = last.clone();
                inner.name = Some(format!("{}_{tag}", last.name()));
                inner.output = vec![format!("{out}_{tag}")];
                let relu = NodeProto {
                    input: vec![format!("{out}_{tag}")],
                    output: vec![format!("{out}_{tag}_relu")],
                    op_type: Some("Relu".into()),
                    ..Default::default()
                };
                GraphProto {
                    node: vec![inner, relu],
                    name: Some(tag.into()),
                    output: vec![ValueInfoProto {
                        name: Some(format!("{out}_{tag}_relu")),
                        ..Default::default()
                    }],
                    ..Default::default()
                }
            };
            g.initializer.push(TensorProto {
                name: Some("cond".into()),
                data_type: Some(data_type::BOOL),
                raw_data: Some(vec![1u8].into()),
                ..Default::default()
            });
            g.node.push(NodeProto {
                input: vec!["cond".into()],
                output: vec![out.clone()],
                name: Some("if".into()),
                op_type: Some("If".into()),
                attribute: ["then_branch", "else_branch"]
                    .iter()
                    .map(|name| AttributeProto {
                        name: Some((*name).into()),
                        r#type: Some(attribute_type::GRAPH),
                        g: Some(branch(name)),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            });
        });
        assert!(result.is_ok(), "{result:?}");
    }

    #[test]
    fn a_subgraph_reading_what_nothing_defines_is_refused() {
        let result = analyze_edited("mlp.onnx", |g| {
            let inner = NodeProto {
                input: vec!["nowhere".into()],
                output: vec!["y".into()],
                op_type: Some("Relu".into()),
                name: Some("inner".into()),
                ..Default::default()
            };
            g.node.push(NodeProto {
                input: vec!["x".into()],
                output: vec!["loop_out".into()],
                op_type: Some("Identity".into()),
                name: Some("outer".into()),
                attribute: vec![AttributeProto {
                    name: Some("body".into()),
                    r#type: Some(attribute_type::GRAPH),
                    g: Some(GraphProto {
                        node: vec![inner],
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            });
        });
        expect_invalid(result, &["node 'inner' (Relu) reads 'nowhere'", "subgraph"]);
    }
}

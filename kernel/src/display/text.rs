//! Plain-text summaries, for `text/plain` outputs and the command line.

use std::fmt::Write;

use prunekit_core::model::tensor::dtype_name;
use prunekit_core::{Layer, ModelAnalysis};

use prunekit_core::format::{grouped, si};

fn shape(s: &Option<Vec<u64>>) -> String {
    match s {
        Some(dims) => format!(
            "[{}]",
            dims.iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => "?".into(),
    }
}

/// The last `width` characters of a name, with an ellipsis when cut (the end of a layer name is the
/// part that tells layers apart: `/layer4/layer4.2/conv3/Conv_output_0`).
pub fn keep_tail(name: &str, width: usize) -> String {
    let n_chars = name.chars().count();
    if n_chars <= width {
        return name.to_string();
    }
    let tail: String = name.chars().skip(n_chars + 1 - width).collect();
    format!("…{tail}")
}

/// The summary printed after `load`: model facts, then one line per layer.
pub fn analysis(a: &ModelAnalysis) -> String {
    let mut out = String::new();
    let file = a.path.file_name().map_or_else(
        || a.path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    let producer = if a.producer.is_empty() {
        String::new()
    } else {
        format!(", from {}", a.producer)
    };
    let _ = writeln!(
        out,
        "{file}: opset {}, IR {}{producer}",
        a.opset, a.ir_version
    );
    for input in &a.inputs {
        let _ = writeln!(
            out,
            "  input   {} {} {}",
            input.name,
            dtype_name(input.data_type),
            shape(&input.shape)
        );
    }
    for output in &a.outputs {
        let _ = writeln!(
            out,
            "  output  {} {} {}",
            output.name,
            dtype_name(output.data_type),
            shape(&output.shape)
        );
    }
    if !a.defaults.is_empty() {
        let list: Vec<String> = a.defaults.iter().map(|(s, n)| format!("{s}={n}")).collect();
        let _ = writeln!(
            out,
            "  free dims set by default: {} (change with --dim SYMBOL=SIZE or --input NAME=D0,D1,..)",
            list.join(", ")
        );
    }
    let t = &a.totals;
    let _ = writeln!(
        out,
        "  params  {} ({} prunable in {} layers, {:.1}% already zero)",
        grouped(t.params),
        grouped(t.prunable_params),
        a.n_prunable(),
        100.0 * t.sparsity()
    );
    let _ = writeln!(
        out,
        "  compute {} MACs, {} FLOPs per run",
        si(t.macs),
        si(t.flops)
    );
    let ops: Vec<String> = a
        .op_types
        .iter()
        .map(|(op, n)| format!("{op} {n}"))
        .collect();
    let _ = writeln!(out, "  layers  {}: {}", a.layers.len(), ops.join(", "));
    for warning in &a.warnings {
        let _ = writeln!(out, "  warning: {warning}");
    }
    let _ = writeln!(out);
    out.push_str(&layer_rows(&a.layers));
    out
}

/// One line per layer under a header: name, op, output shape, params, MACs, FLOPs, prunable.
pub fn layer_rows(layers: &[Layer]) -> String {
    let mut out = String::new();
    let width = layers
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 48);
    let _ = writeln!(
        out,
        "  {:<width$}  {:<20} {:<18} {:>8} {:>8} {:>8}  prunable",
        "layer", "op", "output shape", "params", "MACs", "FLOPs"
    );
    for l in layers {
        let name = keep_tail(&l.name, width);
        let opt = |v: Option<u64>| v.map_or("?".to_string(), si);
        let prunable = if l.is_prunable {
            let zero = if l.prunable_params > 0 {
                100.0 * l.zeroed_params as f64 / l.prunable_params as f64
            } else {
                0.0
            };
            if zero > 0.0 {
                format!("yes ({zero:.0}% zero)")
            } else {
                "yes".into()
            }
        } else {
            l.not_prunable_reason
                .as_ref()
                .map_or(String::new(), |r| format!("no: {r}"))
        };
        let row = format!(
            "  {name:<width$}  {:<20} {:<18} {:>8} {:>8} {:>8}  {prunable}",
            l.op_type,
            shape(l.output_shapes.first().unwrap_or(&None)),
            si(l.params),
            opt(l.macs),
            opt(l.flops),
        );
        let _ = writeln!(out, "{}", row.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{keep_tail, layer_rows};
    use prunekit_core::Layer;

    fn layer(params: u64, macs: u64) -> Layer {
        Layer {
            name: "/fc/Gemm_output_0".into(),
            node_name: "/fc/Gemm".into(),
            op_type: "Gemm".into(),
            inputs: Vec::new(),
            outputs: vec!["/fc/Gemm_output_0".into()],
            input_shapes: Vec::new(),
            output_shapes: vec![Some(vec![1, 10])],
            attributes: Vec::new(),
            params,
            is_prunable: false,
            not_prunable_reason: None,
            weight: None,
            weight_input: None,
            bias: None,
            prunable_params: 0,
            zeroed_params: 0,
            macs: Some(macs),
            flops: None,
        }
    }

    #[test]
    fn counts_round_into_the_next_digit_or_suffix_like_the_charts() {
        let rows = layer_rows(&[layer(999_950, 9_999_999)]);
        let row = rows.lines().nth(1).unwrap();
        let cells: Vec<&str> = row.split_whitespace().collect();
        // layer, op, shape (two words), params, MACs, FLOPs.
        assert_eq!(cells[4..7], ["1.00M", "10.0M", "?"], "{row}");
        assert!(
            !rows.contains("1000K") && !rows.contains("10.00M"),
            "{rows}"
        );
    }

    #[test]
    fn long_names_keep_their_tail_on_character_boundaries() {
        assert_eq!(keep_tail("short", 8), "short");
        assert_eq!(keep_tail("/a/very/long/name", 8), "…ng/name");
        assert_eq!(keep_tail("écoulement_ü_ß_名前", 6).chars().count(), 6);
    }
}

//! `layers`: the current model's layers, sorted and filtered, as a chart of params and FLOPs and
//! a table; the table is also what `load` shows.

use prunekit_core::{Error, Result, format};
use regex::Regex;

use super::output::{Output, Sink};
use crate::display::bundle::Bundle;
use crate::display::table::{self, Column};
use crate::display::{json, text};
use crate::session::KernelSession;

/// The analysis's layers as an HTML table.
pub fn layers_table(layers: &[&prunekit_core::Layer]) -> String {
    let columns = [
        Column {
            title: "layer",
            is_numeric: false,
        },
        Column {
            title: "op",
            is_numeric: false,
        },
        Column {
            title: "output shape",
            is_numeric: false,
        },
        Column {
            title: "params",
            is_numeric: true,
        },
        Column {
            title: "MACs",
            is_numeric: true,
        },
        Column {
            title: "FLOPs",
            is_numeric: true,
        },
        Column {
            title: "prunable",
            is_numeric: false,
        },
    ];
    let rows: Vec<Vec<String>> = layers
        .iter()
        .map(|l| {
            let shape = match l.output_shapes.first() {
                Some(Some(dims)) => format!("{dims:?}"),
                _ => "?".into(),
            };
            let opt = |v: Option<u64>| v.map_or("?".to_string(), format::si);
            let prunable = match (&l.is_prunable, &l.not_prunable_reason) {
                (true, _) => "yes".to_string(),
                (false, Some(reason)) => format!("no: {reason}"),
                (false, None) => String::new(),
            };
            vec![
                l.name.clone(),
                l.op_type.clone(),
                shape,
                format::si(l.params),
                opt(l.macs),
                opt(l.flops),
                prunable,
            ]
        })
        .collect();
    table::html(None, &columns, &rows)
}

/// `layers [--sort KEY] [--top N] [--match REGEX]`: a chart and a table of the model's layers.
pub fn layers(session: &mut KernelSession, words: &[String], sink: &dyn Sink) -> Result<()> {
    let loaded = session.model()?;
    // Graph order unless asked otherwise.
    let mut sort = "graph";
    let mut top: Option<usize> = None;
    let mut pattern: Option<Regex> = None;
    let mut it = words.iter();
    while let Some(word) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .ok_or_else(|| Error::Usage(format!("{flag} needs a value; see `help layers`.")))
        };
        match word.as_str() {
            "--sort" => {
                sort = match value("--sort")?.as_str() {
                    "name" => "name",
                    "params" => "params",
                    "flops" => "flops",
                    "macs" => "macs",
                    other => {
                        return Err(Error::Usage(format!(
                            "--sort {other} is not a key; use name, params, flops or macs."
                        )));
                    }
                }
            }
            "--top" => {
                let text = value("--top")?;
                top = Some(
                    text.parse()
                        .ok()
                        .filter(|&n: &usize| n > 0)
                        .ok_or_else(|| {
                            Error::Usage(format!(
                                "--top {text} is not a count; give a whole number above 0."
                            ))
                        })?,
                );
            }
            "--match" => {
                let text = value("--match")?;
                pattern = Some(Regex::new(text).map_err(|err| {
                    Error::Usage(format!(
                        "--match {text} is not a valid regular expression ({err})."
                    ))
                })?);
            }
            other => {
                return Err(Error::Usage(format!(
                    "unexpected '{other}'; see `help layers`."
                )));
            }
        }
    }
    let analysis = &loaded.analysis;
    let mut selected: Vec<&prunekit_core::Layer> = analysis
        .layers
        .iter()
        .filter(|l| {
            pattern.as_ref().is_none_or(|re| {
                re.is_match(&l.name)
                    || re.is_match(&l.op_type)
                    || l.weight.as_ref().is_some_and(|w| re.is_match(&w.name))
            })
        })
        .collect();
    let key = |l: &prunekit_core::Layer| match sort {
        "params" => l.params,
        "flops" => l.flops.unwrap_or(0),
        "macs" => l.macs.unwrap_or(0),
        _ => 0,
    };
    match sort {
        "graph" => {}
        "name" => selected.sort_by(|a, b| a.name.cmp(&b.name)),
        _ => selected.sort_by_key(|l| std::cmp::Reverse(key(l))),
    }
    if let Some(n) = top {
        selected.truncate(n);
    }
    let mut subset = analysis.clone();
    subset.layers = selected.iter().map(|l| (*l).clone()).collect();

    let chart = prunekit_core::chart::params_and_flops(&subset, None)?;
    sink.emit(Output::Display {
        bundle: Bundle::text(format!(
            "[chart: params and FLOPs of {} layers]",
            subset.layers.len()
        ))
        .png(&chart.png, chart.width, chart.height),
        display_id: None,
    });
    let caption = format!(
        "{} of {} layers",
        subset.layers.len(),
        analysis.layers.len()
    );
    let plain = text::layer_rows(&subset.layers);
    let html = format!(
        "<p>{}</p>{}",
        table::escape(&caption),
        layers_table(&selected)
    );
    sink.emit(Output::Result(
        Bundle::text(format!("{caption}\n{plain}"))
            .html(html)
            .json(&json::analysis(&subset)),
    ));
    Ok(())
}

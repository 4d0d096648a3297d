//! `profiles --compare A,B`: saved loss profiles of the current model side by side (for example
//! one pruned by magnitude and one by sparsegpt), as one chart and a table.

use prunekit_core::{Error, Result, chart, project};

use super::output::{Output, Sink};
use super::profile_view::{col, show_chart};
use crate::display::bundle::Bundle;
use crate::display::table::{self, escape};

/// `profiles --compare A,B`: saved loss profiles side by side, one bar per profile per layer, and
/// each layer's sensitivity under each in a table.
pub fn compare(project: &project::ProjectFile, names: &str, sink: &dyn Sink) -> Result<()> {
    let names: Vec<&str> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.len() < 2 {
        return Err(Error::Usage(
            "--compare takes two or more loss profile names separated by commas, such as --compare magnitude,sparsegpt.".into(),
        ));
    }
    let mut profiles = Vec::new();
    for name in &names {
        let profile = project.loss_profiles.get(*name).ok_or_else(|| {
            let known = project.loss_profiles.keys().map(String::as_str);
            Error::Usage(
                match prunekit_core::suggest::did_you_mean(name, known) {
                    Some(close) => {
                        format!("there is no loss profile '{name}'; did you mean '{close}'?")
                    }
                    None => format!(
                        "there is no loss profile '{name}'; the saved ones are {} (`profiles` lists them).",
                        if project.loss_profiles.is_empty() {
                            "none".to_string()
                        } else {
                            project
                                .loss_profiles
                                .keys()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                },
            )
        })?;
        profiles.push((*name, profile));
    }
    show_chart(
        sink,
        chart::loss_compare(&profiles)?,
        "loss profiles compared",
    );
    let (_, first) = profiles[0];
    let mut columns = vec![col("layer", false)];
    columns.extend(names.iter().map(|n| col(n, true)));
    let rows: Vec<Vec<String>> = first
        .layers
        .iter()
        .map(|layer| {
            let mut row = vec![layer.name.clone()];
            row.extend(profiles.iter().map(|(_, p)| {
                p.layer(&layer.name)
                    .map_or(String::new(), |l| format!("{:.5}", l.integral))
            }));
            row
        })
        .collect();
    let summary = format!(
        "Loss sensitivity (the integral of {} over the levels), each layer pruned alone: {}.",
        first.metric,
        profiles
            .iter()
            .map(|(name, p)| format!("{name} ({})", p.pruning_words()))
            .collect::<Vec<_>>()
            .join(" vs ")
    );
    let widths: Vec<usize> = (0..columns.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([columns[c].title.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| {
                if c == 0 {
                    format!("{cell:<w$}")
                } else {
                    format!("  {cell:>w$}")
                }
            })
            .collect::<String>()
    };
    let header: Vec<String> = columns.iter().map(|c| c.title.to_string()).collect();
    let text = std::iter::once(summary.clone())
        .chain([line(&header)])
        .chain(rows.iter().map(|r| line(r)))
        .collect::<Vec<_>>()
        .join("\n");
    let json: Vec<serde_json::Value> = profiles
        .iter()
        .map(|(name, p)| {
            serde_json::json!({
                "name": name,
                "pruned_by": p.pruned_by,
                "method": p.method,
                "metric": p.metric,
                "layers": p.layers.iter().map(|l| serde_json::json!({"name": l.name, "integral": l.integral})).collect::<Vec<_>>(),
            })
        })
        .collect();
    sink.emit(Output::Result(
        Bundle::text(text)
            .html(format!(
                "<p>{}</p>{}",
                escape(&summary),
                table::html(None, &columns, &rows)
            ))
            .json(&serde_json::json!({ "compare": json })),
    ));
    Ok(())
}

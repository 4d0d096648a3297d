//! A code lens above each pruning modifier: how many layers and weights it prunes in the model,
//! the weights it removes at its final sparsity, and the FLOPs-based speedup estimate. Measured
//! timings and loss sensitivities join these when the model's project file has profiles.

use prunekit_core::recipe::lower::Modifier;
use tower_lsp_server::ls_types::{CodeLens, Command};

use crate::line_index::Encoding;
use crate::world::Analysis;

/// "3 layers · removes 2.9K of 3.6K weights · ~1.8× fewer FLOPs", or `None` without a model.
pub fn summary(analysis: &Analysis, m: &Modifier) -> Option<String> {
    let model = analysis.model.as_ref()?;
    let sparsity = m.number("final_sparsity")?;
    let selected: Vec<_> = model.prunable().filter(|w| m.selects(&w.name)).collect();
    if selected.is_empty() {
        return Some("prunes no layer of the model".into());
    }
    let weights: u64 = selected.iter().map(|w| w.params).sum();
    let removed = (weights as f64 * sparsity).round() as u64;
    let total_flops: u64 = model.prunable().filter_map(|w| w.flops).sum();
    let removed_flops: f64 = selected
        .iter()
        .filter_map(|w| w.flops)
        .map(|f| f as f64 * sparsity)
        .sum();
    let speedup = if total_flops > 0 && removed_flops < total_flops as f64 {
        format!(
            " · ~{:.2}× fewer FLOPs in prunable layers",
            total_flops as f64 / (total_flops as f64 - removed_flops)
        )
    } else {
        String::new()
    };
    Some(format!(
        "{} layer(s) · removes {removed} of {weights} weights at {sparsity}{speedup}",
        selected.len()
    ))
}

pub fn lenses(analysis: &Analysis, encoding: Encoding) -> Vec<CodeLens> {
    let convert = analysis.converter(encoding);
    analysis
        .checked
        .recipe
        .modifiers
        .iter()
        .filter(|m| m.field("final_sparsity").is_some())
        .filter_map(|m| {
            let title = summary(analysis, m)?;
            Some(CodeLens {
                range: convert.range(m.tag_span),
                command: Some(Command {
                    title,
                    command: String::new(),
                    arguments: None,
                }),
                data: None,
            })
        })
        .collect()
}

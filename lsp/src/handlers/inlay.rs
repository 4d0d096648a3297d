//! Inlay hints: after each weight named in `params`, its loss sensitivity and rank among the
//! model's prunable weights, so the risky names stand out while the recipe is written.

use tower_lsp_server::ls_types::{InlayHint, InlayHintKind, InlayHintLabel, Range};

use crate::line_index::Encoding;
use crate::world::Analysis;

pub fn hints(analysis: &Analysis, encoding: Encoding, range: Range) -> Vec<InlayHint> {
    let Some(model) = &analysis.model else {
        return Vec::new();
    };
    let convert = analysis.converter(encoding);
    let (start, end) = (convert.offset(range.start), convert.offset(range.end));
    let n_ranked = model
        .prunable()
        .filter(|w| w.sensitivity_rank.is_some())
        .count();
    let mut out = Vec::new();
    for m in &analysis.checked.recipe.modifiers {
        for (entry, span) in m.params() {
            if span.end < start || span.start > end {
                continue;
            }
            let Some(w) = model.weight(&entry).filter(|w| w.is_prunable) else {
                continue;
            };
            let (Some(sensitivity), Some(rank)) = (w.sensitivity, w.sensitivity_rank) else {
                continue;
            };
            out.push(InlayHint {
                position: convert.position(span.end),
                label: InlayHintLabel::String(format!(
                    "sens {sensitivity:.2} · #{rank}/{n_ranked}"
                )),
                kind: Some(InlayHintKind::PARAMETER),
                text_edits: None,
                tooltip: None,
                padding_left: Some(true),
                padding_right: Some(false),
                data: None,
            });
        }
    }
    out
}

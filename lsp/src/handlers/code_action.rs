//! Code actions: the quick fixes the rules attach to their diagnostics (did-you-mean, missing
//! fields, YAML 1.1 rewrites, quoting), offered for diagnostics that touch the requested range;
//! and, when the model's project file holds optimizations, one action per optimization that
//! rewrites the recipe with its per-layer sparsity (what `export recipe` writes).

use std::collections::HashMap;

use tower_lsp_server::ls_types::*;

use crate::line_index::Encoding;
use crate::world::Analysis;

pub fn actions(
    analysis: &Analysis,
    encoding: Encoding,
    uri: &Uri,
    range: Range,
) -> CodeActionResponse {
    let convert = analysis.converter(encoding);
    let (start, end) = (convert.offset(range.start), convert.offset(range.end));
    let mut out = Vec::new();
    for d in &analysis.diagnostics {
        if d.span.end < start || d.span.start > end {
            continue;
        }
        for fix in &d.fixes {
            let edits = fix
                .edits
                .iter()
                .map(|e| TextEdit {
                    range: convert.range(e.span),
                    new_text: e.text.clone(),
                })
                .collect();
            out.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: fix.title.clone(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![convert.diagnostic(uri, d)]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), edits)])),
                    ..Default::default()
                }),
                is_preferred: Some(d.fixes.len() == 1),
                ..Default::default()
            }));
        }
    }
    out.extend(apply_optimizations(analysis, &convert, uri));
    out
}

/// "Apply optimization 'NAME'": the whole recipe rewritten from the plan, keeping the modeline.
/// Not offered for Markdown recipes, whose prose a rewrite would lose.
fn apply_optimizations(
    analysis: &Analysis,
    convert: &crate::convert::Converter,
    uri: &Uri,
) -> Vec<CodeActionOrCommand> {
    let Some(model) = &analysis.model else {
        return Vec::new();
    };
    if uri.as_str().to_ascii_lowercase().ends_with(".md") {
        return Vec::new();
    }
    let text = &analysis.text;
    let modeline = text
        .lines()
        .next()
        .filter(|l| l.trim_start().starts_with("# prunekit:"));
    model
        .plans
        .iter()
        .map(|(name, plan)| {
            let written = prunekit_core::export::recipe::recipe_text(plan, &model.name);
            let new_text = match modeline {
                // The recipe's own modeline knows where the model is relative to it.
                Some(line) => match written.split_once('\n') {
                    Some((_, rest)) => format!("{line}\n{rest}"),
                    None => written.clone(),
                },
                None => written,
            };
            let pruned = plan.layers.iter().filter(|l| l.sparsity.is_some()).count();
            let edit = TextEdit {
                range: convert.range(prunekit_core::recipe::span::Span {
                    start: 0,
                    end: text.len(),
                }),
                new_text,
            };
            CodeActionOrCommand::CodeAction(CodeAction {
                title: format!(
                    "Apply optimization '{name}': {pruned} layers, {:.1}% average sparsity",
                    plan.achieved * 100.0
                ),
                kind: Some(CodeActionKind::SOURCE),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                    ..Default::default()
                }),
                ..Default::default()
            })
        })
        .collect()
}

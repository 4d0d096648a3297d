//! Go to definition, find references and rename, for anchors (`*name` → `&name`) and variables
//! (`eval(name)` → `name:`).

use prunekit_core::recipe::span::Span;
use std::collections::HashMap;

use tower_lsp_server::ls_types::{
    GotoDefinitionResponse, Location, Position, TextEdit, Uri, WorkspaceEdit,
};

use super::context::{At, at};
use crate::line_index::Encoding;
use crate::world::Analysis;

fn definition_span(analysis: &Analysis, target: &At) -> Option<Span> {
    let recipe = &analysis.checked.recipe;
    match target {
        At::Alias(name, _) | At::Anchor(name, _) => recipe
            .anchors
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, span, _)| *span),
        At::EvalName(name, _) | At::Variable(name, _) => recipe
            .variables
            .iter()
            .rev()
            .find(|v| &v.name == name)
            .map(|v| v.key_span),
        _ => None,
    }
}

pub fn definition(
    analysis: &Analysis,
    encoding: Encoding,
    uri: &Uri,
    position: Position,
) -> Option<GotoDefinitionResponse> {
    let convert = analysis.converter(encoding);
    let target = at(analysis, convert.offset(position));
    let span = definition_span(analysis, &target)?;
    Some(GotoDefinitionResponse::Scalar(Location {
        uri: uri.clone(),
        range: convert.range(span),
    }))
}

/// Every use of the anchor or variable under the cursor, with its definition.
pub fn references(
    analysis: &Analysis,
    encoding: Encoding,
    uri: &Uri,
    position: Position,
) -> Option<Vec<Location>> {
    let convert = analysis.converter(encoding);
    let target = at(analysis, convert.offset(position));
    let recipe = &analysis.checked.recipe;
    let mut spans: Vec<Span> = definition_span(analysis, &target).into_iter().collect();
    match &target {
        At::Alias(name, _) | At::Anchor(name, _) => {
            spans.extend(
                recipe
                    .aliases
                    .iter()
                    .filter(|(n, _)| n == name)
                    .map(|(_, s)| *s),
            );
        }
        At::EvalName(name, _) | At::Variable(name, _) => {
            let text = analysis.text.as_str();
            let values = recipe
                .modifiers
                .iter()
                .flat_map(|m| m.fields.iter().map(|f| f.value_span))
                .chain(recipe.variables.iter().map(|v| v.value_span));
            for span in values {
                let source = &text[span.start..span.end];
                if !source.contains("eval(") {
                    continue;
                }
                for (i, _) in source.match_indices(name.as_str()) {
                    let before = source[..i].chars().next_back();
                    let after = source[i + name.len()..].chars().next();
                    let is_word =
                        |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                    if !is_word(before) && !is_word(after) {
                        spans.push(Span {
                            start: span.start + i,
                            end: span.start + i + name.len(),
                        });
                    }
                }
            }
        }
        _ => return None,
    }
    Some(
        spans
            .into_iter()
            .map(|s| Location {
                uri: uri.clone(),
                range: convert.range(s),
            })
            .collect(),
    )
}

/// Renames an anchor (with every `*alias`) or a variable (with every use inside `eval()`).
pub fn rename(
    analysis: &Analysis,
    encoding: Encoding,
    uri: &Uri,
    position: Position,
    new_name: &str,
) -> Option<WorkspaceEdit> {
    let is_name = !new_name.is_empty()
        && new_name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !new_name.starts_with(|c: char| c.is_ascii_digit());
    if !is_name {
        return None;
    }
    let convert = analysis.converter(encoding);
    let offset = convert.offset(position);
    let target = at(analysis, offset);
    // An anchor's text includes its sigil (`&name`, `*name`); the rest are bare names.
    let sigils = matches!(target, At::Alias(..) | At::Anchor(..));
    let mut spans: Vec<Span> = references(analysis, encoding, uri, position)?
        .into_iter()
        .map(|l| Span {
            start: convert.offset(l.range.start),
            end: convert.offset(l.range.end),
        })
        .collect();
    spans.sort_by_key(|s| s.start);
    spans.dedup();
    let edits = spans
        .into_iter()
        .map(|span| {
            let text = &analysis.text[span.start..span.end];
            let sigil = if sigils {
                text.chars().next().filter(|c| *c == '&' || *c == '*')
            } else {
                None
            };
            TextEdit {
                range: convert.range(span),
                new_text: format!("{}{new_name}", sigil.map(String::from).unwrap_or_default()),
            }
        })
        .collect();
    Some(WorkspaceEdit {
        changes: Some(HashMap::from([(uri.clone(), edits)])),
        ..Default::default()
    })
}

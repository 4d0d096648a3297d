//! Go to definition and find references for anchors (`*name` → `&name`) and variables
//! (`eval(name)` → `name:`).

use prunekit_core::recipe::span::Span;
use tower_lsp_server::ls_types::{GotoDefinitionResponse, Location, Position, Uri};

use super::context::{At, at};
use crate::convert::Converter;
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
    let convert = Converter {
        text: &analysis.text,
        index: &analysis.index,
        encoding,
    };
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
    let convert = Converter {
        text: &analysis.text,
        index: &analysis.index,
        encoding,
    };
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

//! Completion: modifier tags after `!` (as snippets with their required fields when the client
//! takes snippets), the fields a modifier does not have yet, enum and boolean values, the `params`
//! tokens and the model's prunable weights (least sensitive first, with op, shape, params and
//! sensitivity as detail), variables inside `eval(...)`, and top-level keys.

use prunekit_core::recipe::catalog::{self, FieldType};
use prunekit_core::recipe::lower::Modifier;
use tower_lsp_server::ls_types::*;

use crate::line_index::Encoding;
use crate::world::Analysis;

fn item(label: &str, kind: CompletionItemKind, detail: Option<String>) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        ..Default::default()
    }
}

/// The modifier whose block the offset is in: the last tag above it with a smaller indent.
fn enclosing_modifier(analysis: &Analysis, offset: usize, indent: usize) -> Option<&Modifier> {
    let text = analysis.text.as_str();
    analysis.checked.recipe.modifiers.iter().rev().find(|m| {
        m.tag_span.start < offset && {
            let line_start = text[..m.tag_span.start].rfind('\n').map_or(0, |i| i + 1);
            let tag_indent = text[line_start..m.tag_span.start]
                .chars()
                .take_while(|c| *c == ' ' || *c == '-')
                .count();
            indent >= tag_indent && (m.span.end >= offset || indent > 0)
        }
    })
}

pub fn complete(
    analysis: &Analysis,
    encoding: Encoding,
    position: Position,
    snippets: bool,
) -> Option<CompletionResponse> {
    let convert = analysis.converter(encoding);
    let text = analysis.text.as_str();
    let offset = convert.offset(position);
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let indent = before.chars().take_while(|c| *c == ' ').count();
    let trimmed = before.trim_start();

    // Inside eval( ... ): variables.
    if let Some(open) = before.rfind("eval(")
        && !before[open..].contains(')')
    {
        let items = analysis
            .checked
            .recipe
            .variables
            .iter()
            .map(|v| {
                item(
                    &v.name,
                    CompletionItemKind::VARIABLE,
                    Some(super::hover::show(&v.value)),
                )
            })
            .collect();
        return Some(CompletionResponse::Array(items));
    }
    // `- !Tag`
    if trimmed
        .strip_prefix('-')
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('!'))
        .is_some()
    {
        return Some(CompletionResponse::Array(tags(indent, snippets)));
    }
    // `field: value`
    if let Some((key, _value)) = trimmed.split_once(':') {
        let key = key.trim();
        let modifier = enclosing_modifier(analysis, offset, indent);
        if key == "params" || trimmed.starts_with("params:") {
            return Some(CompletionResponse::Array(weights(analysis, true)));
        }
        let m = modifier?;
        let spec = catalog::modifier_in_any(&m.class)?;
        let field = spec.field(key)?;
        let mut values: Vec<CompletionItem> = field
            .enum_values
            .iter()
            .map(|v| item(v, CompletionItemKind::ENUM_MEMBER, None))
            .collect();
        if field.ty == FieldType::Bool {
            values.extend(
                ["true", "false"]
                    .iter()
                    .map(|v| item(v, CompletionItemKind::VALUE, None)),
            );
        }
        if let Some(default) = field.default
            && values.is_empty()
        {
            values.push(item(
                default,
                CompletionItemKind::VALUE,
                Some("default".into()),
            ));
        }
        return Some(CompletionResponse::Array(values));
    }
    // A block list item under `params:`.
    if trimmed.starts_with('-') && previous_key(text, line_start) == Some("params") {
        return Some(CompletionResponse::Array(weights(analysis, false)));
    }
    // A key inside a modifier: the fields it does not have yet.
    if indent > 0
        && let Some(m) = enclosing_modifier(analysis, offset, indent)
        && let Some(spec) = catalog::modifier_in_any(&m.class)
    {
        let items = spec
            .fields
            .iter()
            .filter(|f| m.field(f.name).is_none())
            .map(|f| {
                let mut it = item(
                    f.name,
                    CompletionItemKind::FIELD,
                    Some(format!(
                        "{}{}",
                        f.ty.describe(),
                        if f.required { ", required" } else { "" }
                    )),
                );
                it.documentation = Some(Documentation::String(f.doc.to_string()));
                it.insert_text = Some(format!("{}: ", f.name));
                it.sort_text = Some(format!("{}{}", if f.required { "0" } else { "1" }, f.name));
                it
            })
            .collect();
        return Some(CompletionResponse::Array(items));
    }
    if indent == 0 {
        let items = catalog::TOP_LEVEL_KEYS
            .iter()
            .filter(|k| !k.key.starts_with('<'))
            .map(|k| {
                let mut it = item(k.key, CompletionItemKind::KEYWORD, None);
                it.documentation = Some(Documentation::String(k.doc.to_string()));
                it
            })
            .collect();
        return Some(CompletionResponse::Array(items));
    }
    None
}

/// The key of the nearest line above with less indentation (the parent of a list item).
fn previous_key(text: &str, line_start: usize) -> Option<&str> {
    let indent = text[line_start..].chars().take_while(|c| *c == ' ').count();
    text[..line_start].lines().rev().find_map(|line| {
        let line_indent = line.chars().take_while(|c| *c == ' ').count();
        let trimmed = line.trim();
        (line_indent < indent || (line_indent == indent && !trimmed.starts_with('-')))
            .then(|| trimmed.split_once(':').map(|(k, _)| k.trim()))
            .flatten()
            .filter(|k| !k.is_empty())
    })
}

fn tags(indent: usize, snippets: bool) -> Vec<CompletionItem> {
    // Fields sit under the tag, two columns right of the item's `-`. The text carries the whole
    // indentation and says so (`AsIs`): VS Code would otherwise add the line's indentation again.
    let field_indent = " ".repeat(indent + 2);
    catalog::modifiers(catalog::Framework::PyTorch)
        .map(|spec| {
            let mut it = item(
                spec.name,
                CompletionItemKind::CLASS,
                Some(spec.doc.split(". ").next().unwrap_or("").to_string()),
            );
            it.documentation = Some(Documentation::String(spec.doc.to_string()));
            it.insert_text_mode = Some(InsertTextMode::AS_IS);
            let required: Vec<&catalog::Field> = spec.required_fields().collect();
            if snippets && !required.is_empty() {
                let body: String = required
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        format!(
                            "\n{field_indent}{}: ${{{}:{}}}",
                            f.name,
                            i + 1,
                            f.default.unwrap_or("")
                        )
                    })
                    .collect();
                it.insert_text = Some(format!("{}{body}", spec.name));
                it.insert_text_format = Some(InsertTextFormat::SNIPPET);
            } else {
                let body: String = required
                    .iter()
                    .map(|f| format!("\n{field_indent}{}: ", f.name))
                    .collect();
                it.insert_text = Some(format!("{}{body}", spec.name));
                it.insert_text_format = Some(InsertTextFormat::PLAIN_TEXT);
            }
            it
        })
        .collect()
}

/// The `params` tokens, then the model's prunable weights, largest FLOPs first.
fn weights(analysis: &Analysis, with_tokens: bool) -> Vec<CompletionItem> {
    let mut items: Vec<CompletionItem> = if with_tokens {
        catalog::PARAMS_TOKENS
            .iter()
            .map(|t| item(t, CompletionItemKind::CONSTANT, None))
            .collect()
    } else {
        Vec::new()
    };
    if let Some(model) = &analysis.model {
        // The least sensitive first: the best candidates to prune.
        let mut prunable: Vec<_> = model.prunable().collect();
        prunable.sort_by(|a, b| {
            a.sensitivity
                .unwrap_or(f64::MAX)
                .total_cmp(&b.sensitivity.unwrap_or(f64::MAX))
        });
        for (rank, w) in prunable.into_iter().enumerate() {
            // Say which sensitivity it is: a measured profile's, or the approximation.
            let kind = if model.sensitivity_source.is_some() {
                "measured"
            } else {
                "approximated"
            };
            let sensitivity = w
                .sensitivity
                .map_or(String::new(), |s| format!(", sensitivity {s:.3} ({kind})"));
            let time = w.ms.map_or(String::new(), |ms| format!(", {ms:.3} ms"));
            let detail = format!(
                "{} {:?}, {} params, {} FLOPs{sensitivity}{time}",
                w.op_type,
                w.shape,
                w.params,
                w.flops.unwrap_or(0)
            );
            let mut it = item(&w.name, CompletionItemKind::FIELD, Some(detail));
            it.sort_text = Some(format!("{rank:05}"));
            items.push(it);
        }
    }
    items
}

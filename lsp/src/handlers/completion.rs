//! Completion: modifier tags after `!` (as snippets with their required fields when the client
//! takes snippets), the fields a modifier does not have yet, enum and boolean values, the `params`
//! tokens and the model's prunable weights (least sensitive first, with op, shape, params and
//! sensitivity as detail), variables inside `eval(...)`, and top-level keys. Inside a
//! `QuantizationModifier`'s `scheme` (or a `scheme_overrides` entry), the scheme's keys and the
//! values of `strategy`, `symmetric`, `num_bits` and `target_hardware`; in `ignore`, the model's
//! modules, the most sensitive to int8 quantization first.

use prunekit_core::recipe::Weight;
use prunekit_core::recipe::catalog::{self, FieldType};
use prunekit_core::recipe::lower::Modifier;
use prunekit_core::recipe::quantization::module_of;
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
    let parents = parent_keys(text, line_start, indent);
    // `field: value`
    if let Some((key, _value)) = trimmed.split_once(':') {
        let key = key.trim();
        let modifier = enclosing_modifier(analysis, offset, indent);
        if key == "params" || trimmed.starts_with("params:") {
            return Some(CompletionResponse::Array(weights(analysis, true)));
        }
        if key == "ignore" {
            return Some(CompletionResponse::Array(modules(analysis)));
        }
        let m = modifier?;
        if let Some(values) = scheme_values(m, &parents, key) {
            return Some(CompletionResponse::Array(values));
        }
        let keys = m.fields.iter().map(|f| f.name.as_str());
        let spec = catalog::resolve_in_any(&m.class, keys)?;
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
    // A block list item under `params:` or `ignore:`.
    if trimmed.starts_with('-') {
        match previous_key(text, line_start) {
            Some("params") => return Some(CompletionResponse::Array(weights(analysis, false))),
            Some("ignore") => return Some(CompletionResponse::Array(modules(analysis))),
            _ => {}
        }
    }
    // A key inside a scheme mapping.
    if indent > 0
        && let Some(m) = enclosing_modifier(analysis, offset, indent)
        && let Some(keys) = scheme_keys(m, &parents)
    {
        let items = keys
            .iter()
            .map(|k| {
                let mut it = item(k, CompletionItemKind::PROPERTY, None);
                it.insert_text = Some(format!("{k}: "));
                it
            })
            .collect();
        return Some(CompletionResponse::Array(items));
    }
    // A key inside a modifier: the fields it does not have yet.
    if indent > 0
        && let Some(m) = enclosing_modifier(analysis, offset, indent)
        && let Some(spec) =
            catalog::resolve_in_any(&m.class, m.fields.iter().map(|f| f.name.as_str()))
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

/// The keys of the block lines that enclose a line indented by `indent`, nearest first, up to
/// the modifier's tag (`weights`, `scheme` for a line inside `scheme: weights:`).
fn parent_keys(text: &str, line_start: usize, indent: usize) -> Vec<&str> {
    let mut keys = Vec::new();
    let mut below = indent;
    for line in text[..line_start].lines().rev() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let line_indent = line.len() - trimmed.len();
        if line_indent >= below {
            continue;
        }
        if trimmed.starts_with('-') || line_indent == 0 {
            break;
        }
        match trimmed.split_once(':') {
            Some((key, _)) => keys.push(key.trim()),
            None => break,
        }
        below = line_indent;
    }
    keys
}

/// Whether the enclosing keys are a scheme: `scheme`, or an entry of `scheme_overrides`.
fn in_scheme(parents: &[&str]) -> bool {
    matches!(parents, ["scheme", ..] | [_, "scheme_overrides", ..])
}

const ARGS_KEYS: &[&str] = &["input_activations", "weights", "output_activations"];

/// The keys a scheme mapping or its quantization args take, for a `QuantizationModifier` line
/// whose enclosing keys are `parents`.
fn scheme_keys(m: &Modifier, parents: &[&str]) -> Option<&'static [&'static str]> {
    if m.class != "QuantizationModifier" {
        return None;
    }
    if in_scheme(parents) {
        return Some(catalog::SCHEME_KEYS);
    }
    match parents.split_first() {
        Some((args, rest)) if ARGS_KEYS.contains(args) && in_scheme(rest) => {
            Some(catalog::SCHEME_ARGS_KEYS)
        }
        _ => None,
    }
}

/// Values for `key:` inside a scheme (or for a `scheme_overrides` entry: the aliases).
fn scheme_values(m: &Modifier, parents: &[&str], key: &str) -> Option<Vec<CompletionItem>> {
    if m.class != "QuantizationModifier" {
        return None;
    }
    let values: &[&str] = if parents.first() == Some(&"scheme_overrides") {
        catalog::QUANTIZATION_SCHEMES
    } else if scheme_keys(m, parents) == Some(catalog::SCHEME_ARGS_KEYS) {
        match key {
            "strategy" => catalog::QUANTIZATION_STRATEGIES,
            "symmetric" => &["true", "false"],
            "num_bits" => &["8"],
            _ => return None,
        }
    } else if in_scheme(parents) {
        match key {
            "target_hardware" => &["deepsparse", "tensorrt"],
            _ if ARGS_KEYS.contains(&key) => &["null"],
            _ => return None,
        }
    } else {
        return None;
    };
    Some(
        values
            .iter()
            .map(|v| item(v, CompletionItemKind::ENUM_MEMBER, None))
            .collect(),
    )
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

/// The model's modules for `ignore`: the most sensitive to int8 quantization first (the ones to
/// leave in float) when the latest loss profile measured it, else in model order.
fn modules(analysis: &Analysis) -> Vec<CompletionItem> {
    let Some(model) = &analysis.model else {
        return Vec::new();
    };
    let mut weights: Vec<&Weight> = model
        .weights
        .iter()
        .filter(|w| w.name.ends_with(".weight"))
        .collect();
    weights.sort_by_key(|w| w.quantization.as_ref().map_or(usize::MAX, |q| q.rank));
    weights
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            let measured = w.quantization.as_ref().map_or(String::new(), |q| {
                format!(", int8 sensitivity {:.4} (rank {})", q.value, q.rank)
            });
            let detail = format!("{} `{}`{measured}", w.op_type, w.layer);
            let mut it = item(module_of(&w.name), CompletionItemKind::MODULE, Some(detail));
            it.sort_text = Some(format!("{i:05}"));
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

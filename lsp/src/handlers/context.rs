//! What is at an offset of a recipe: a modifier tag, a field's key or value, a `params` entry, a
//! module a `QuantizationModifier` names, a staged modifier's `targets` / `ignore` entry, an
//! alias, a variable, a name inside `eval()`. Hover, completion and navigation share it.

use prunekit_core::recipe::lower::{Field, Layout, Modifier};
use prunekit_core::recipe::quantization::module_entries;
use prunekit_core::recipe::span::Span;

use crate::world::Analysis;

pub enum At<'a> {
    Tag(&'a Modifier),
    FieldKey(&'a Modifier, &'a Field),
    FieldValue(&'a Modifier, &'a Field),
    Param(&'a Modifier, String, Span),
    /// A module name or type in a `QuantizationModifier`'s `ignore`, or a `scheme_overrides` key.
    Module(&'a Modifier, String, Span),
    /// A `targets` or `ignore` entry of a modifier in the staged layout: a module name, a `re:`
    /// pattern or a PyTorch type.
    Target(&'a Modifier, String, Span),
    Alias(String, Span),
    Anchor(String, Span),
    Variable(String, Span),
    /// A name used inside an `eval(...)` string.
    EvalName(String, Span),
    Nothing,
}

fn contains(span: Span, offset: usize) -> bool {
    span.start <= offset && offset <= span.end
}

/// The identifier around `offset` inside `span` of `text`, if the span holds an `eval(...)`.
fn eval_name(text: &str, span: Span, offset: usize) -> Option<(String, Span)> {
    let source = text.get(span.start..span.end)?;
    if !source.contains("eval(") {
        return None;
    }
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let start = text[..offset]
        .rfind(|c: char| !is_ident(c))
        .map_or(0, |i| i + 1)
        .max(span.start);
    let end = text[offset..]
        .find(|c: char| !is_ident(c))
        .map_or(text.len(), |i| offset + i)
        .min(span.end);
    let name = &text[start..end];
    (!name.is_empty() && name != "eval" && !name.chars().next()?.is_ascii_digit())
        .then(|| (name.to_string(), Span { start, end }))
}

/// The entries of a staged modifier's `targets` and `ignore`, which name modules as
/// compressed-tensors matches them (not as SparseML's legacy `ignore` prefixes).
fn targets(m: &Modifier) -> Vec<(String, Span)> {
    if m.layout != Layout::Staged {
        return Vec::new();
    }
    let mut entries = m.strings("targets");
    entries.extend(m.strings("ignore"));
    entries
}

/// The module names of a tagged `QuantizationModifier`: `ignore` entries and `scheme_overrides`
/// keys.
fn modules(m: &Modifier) -> Vec<(String, Span)> {
    if m.class == "QuantizationModifier" && m.layout == Layout::Tagged {
        module_entries(m)
    } else {
        Vec::new()
    }
}

pub fn at(analysis: &Analysis, offset: usize) -> At<'_> {
    let recipe = &analysis.checked.recipe;
    let text = analysis.text.as_str();
    for (name, span) in &recipe.aliases {
        if contains(*span, offset) {
            return At::Alias(name.clone(), *span);
        }
    }
    for (name, span, _) in &recipe.anchors {
        if contains(*span, offset) {
            return At::Anchor(name.clone(), *span);
        }
    }
    for m in &recipe.modifiers {
        if contains(m.tag_span, offset) {
            return At::Tag(m);
        }
        for (entry, span) in m.params() {
            if contains(span, offset) {
                return At::Param(m, entry, span);
            }
        }
        for (entry, span) in targets(m) {
            if contains(span, offset) {
                return At::Target(m, entry, span);
            }
        }
        for (entry, span) in modules(m) {
            if contains(span, offset) {
                return At::Module(m, entry, span);
            }
        }
        for f in &m.fields {
            if contains(f.key_span, offset) {
                return At::FieldKey(m, f);
            }
            if contains(f.value_span, offset) {
                if let Some((name, span)) = eval_name(text, f.value_span, offset) {
                    return At::EvalName(name, span);
                }
                return At::FieldValue(m, f);
            }
        }
    }
    for v in &recipe.variables {
        if contains(v.key_span, offset) {
            return At::Variable(v.name.clone(), v.key_span);
        }
        if contains(v.value_span, offset)
            && let Some((name, span)) = eval_name(text, v.value_span, offset)
        {
            return At::EvalName(name, span);
        }
    }
    At::Nothing
}

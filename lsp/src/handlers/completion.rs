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
use prunekit_core::recipe::staged;
use tower_lsp_server::ls_types::*;

use crate::line_index::Encoding;
use crate::world::Analysis;

pub(super) fn item(
    label: &str,
    kind: CompletionItemKind,
    detail: Option<String>,
) -> CompletionItem {
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
    if let Some(items) = super::staged::complete(analysis, line_start, indent, trimmed) {
        return Some(CompletionResponse::Array(items));
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
        let spec = staged::spec_of(m)?;
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
        && let Some(spec) = staged::spec_of(m)
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

/// The keys of the block lines that enclose a line indented by `indent`, nearest first, each
/// with its indent: up to a list item (a modifier's tag line) or the top-level key, included.
pub(super) fn enclosing_keys(text: &str, line_start: usize, indent: usize) -> Vec<(usize, &str)> {
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
        match trimmed.split_once(':') {
            Some((key, _)) if !trimmed.starts_with('-') => keys.push((line_indent, key.trim())),
            _ => break,
        }
        below = line_indent;
        if line_indent == 0 {
            break;
        }
    }
    keys
}

/// The enclosing keys up to the modifier's tag (`weights`, `scheme` for a line inside `scheme:
/// weights:`), the top-level key left out.
fn parent_keys(text: &str, line_start: usize, indent: usize) -> Vec<&str> {
    enclosing_keys(text, line_start, indent)
        .into_iter()
        .filter(|&(i, _)| i > 0)
        .map(|(_, k)| k)
        .collect()
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
pub(super) fn modules(analysis: &Analysis) -> Vec<CompletionItem> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::fixture::{Model, fixture_with};

    fn items(marked: &str, model: Model, snippets: bool) -> Vec<CompletionItem> {
        let f = fixture_with(marked, model);
        match complete(&f.analysis, Encoding::Utf16, f.position, snippets) {
            Some(CompletionResponse::Array(items)) => items,
            Some(other) => panic!("completion answers an array, not {other:?}"),
            None => panic!("no completion at the cursor of {marked:?}"),
        }
    }

    fn labels(marked: &str, model: Model) -> Vec<String> {
        items(marked, model, false)
            .into_iter()
            .map(|i| i.label)
            .collect()
    }

    /// Labels in the order the editor shows them (by `sort_text`, else the label).
    fn sorted_labels(marked: &str, model: Model) -> Vec<String> {
        let mut items = items(marked, model, false);
        items.sort_by(|a, b| {
            let key = |i: &CompletionItem| i.sort_text.clone().unwrap_or_else(|| i.label.clone());
            key(a).cmp(&key(b))
        });
        items.into_iter().map(|i| i.label).collect()
    }

    const GM_HEAD: &str = "\
modifiers:
  - !GMPruningModifier
    init_sparsity: 0.05
    final_sparsity: 0.9
";

    #[test]
    fn modifier_names_after_the_tag_mark() {
        let all = items("modifiers:\n  - !$0\n", Model::None, false);
        let gm = all
            .iter()
            .find(|i| i.label == "GMPruningModifier")
            .expect("GMPruningModifier is offered");
        assert_eq!(gm.kind, Some(CompletionItemKind::CLASS));
        assert!(all.iter().any(|i| i.label == "QuantizationModifier"));
        assert!(all.iter().any(|i| i.label == "ConstantPruningModifier"));
        // Without snippets, the required fields follow as plain keys, two columns right of `-`.
        assert_eq!(gm.insert_text_format, Some(InsertTextFormat::PLAIN_TEXT));
        assert!(
            gm.insert_text
                .as_deref()
                .unwrap()
                .starts_with("GMPruningModifier\n    init_sparsity: \n    final_sparsity: "),
            "{:?}",
            gm.insert_text
        );
    }

    #[test]
    fn modifier_names_as_snippets_with_their_required_fields() {
        let all = items("modifiers:\n  - !GM$0\n", Model::None, true);
        let gm = all.iter().find(|i| i.label == "GMPruningModifier").unwrap();
        assert_eq!(gm.insert_text_format, Some(InsertTextFormat::SNIPPET));
        assert_eq!(gm.insert_text_mode, Some(InsertTextMode::AS_IS));
        let text = gm.insert_text.as_deref().unwrap();
        assert!(
            text.starts_with(
                "GMPruningModifier\n    init_sparsity: ${1:}\n    final_sparsity: ${2:}"
            ),
            "{text}"
        );
    }

    #[test]
    fn field_names_are_the_ones_not_written_yet_required_first() {
        let names = sorted_labels(&format!("{GM_HEAD}    $0\n"), Model::None);
        assert!(!names.contains(&"init_sparsity".to_string()), "{names:?}");
        assert!(!names.contains(&"final_sparsity".to_string()), "{names:?}");
        // The required ones left, in name order, then the optional ones.
        assert_eq!(
            names[..4],
            ["end_epoch", "params", "start_epoch", "update_frequency"]
        );
        assert!(names.contains(&"inter_func".to_string()), "{names:?}");
        assert!(names.contains(&"leave_enabled".to_string()), "{names:?}");
    }

    #[test]
    fn a_field_name_inserts_its_key() {
        let all = items(&format!("{GM_HEAD}    inter$0\n"), Model::None, false);
        let inter = all.iter().find(|i| i.label == "inter_func").unwrap();
        assert_eq!(inter.insert_text.as_deref(), Some("inter_func: "));
        assert_eq!(inter.kind, Some(CompletionItemKind::FIELD));
        assert_eq!(inter.detail.as_deref(), Some("str"));
        let end = all.iter().find(|i| i.label == "end_epoch").unwrap();
        assert_eq!(end.detail.as_deref(), Some("float, required"));
        assert_eq!(end.sort_text.as_deref(), Some("0end_epoch"));
    }

    #[test]
    fn enum_values() {
        assert_eq!(
            labels(&format!("{GM_HEAD}    inter_func: $0\n"), Model::None),
            ["linear", "cubic", "inverse_cubic"]
        );
    }

    #[test]
    fn boolean_values() {
        assert_eq!(
            labels(&format!("{GM_HEAD}    leave_enabled: $0\n"), Model::None),
            ["true", "false"]
        );
    }

    #[test]
    fn the_default_when_a_field_has_no_listed_values() {
        let all = items(
            "modifiers:\n  - !QuantizationModifier\n    start_epoch: $0\n",
            Model::None,
            false,
        );
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].detail.as_deref(), Some("default"));
    }

    #[test]
    fn layer_names_least_sensitive_first_after_the_tokens() {
        let marked = format!("{GM_HEAD}    params: [$0\n");
        assert_eq!(
            sorted_labels(&marked, Model::DigitsWithProject),
            [
                "conv2.weight",
                "fc1.weight",
                "fc2.weight",
                "conv1.weight",
                "__ALL_PRUNABLE__",
                "__ALL__"
            ]
        );
        let all = items(&marked, Model::DigitsWithProject, false);
        let conv2 = all.iter().find(|i| i.label == "conv2.weight").unwrap();
        let detail = conv2.detail.as_deref().unwrap();
        assert!(detail.starts_with("Conv ["), "{detail}");
        assert!(
            detail.ends_with(", sensitivity 0.067 (measured)"),
            "{detail}"
        );
    }

    #[test]
    fn layer_names_say_when_sensitivity_is_approximated() {
        let all = items(&format!("{GM_HEAD}    params: $0\n"), Model::Digits, false);
        let fc1 = all.iter().find(|i| i.label == "fc1.weight").unwrap();
        assert!(
            fc1.detail.as_deref().unwrap().ends_with("(approximated)"),
            "{:?}",
            fc1.detail
        );
    }

    #[test]
    fn layer_names_in_a_block_list_come_without_the_tokens() {
        let names = labels(
            &format!("{GM_HEAD}    params:\n      - $0\n"),
            Model::Digits,
        );
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names.iter().all(|n| n.ends_with(".weight")), "{names:?}");
    }

    #[test]
    fn without_a_model_params_offers_the_tokens() {
        assert_eq!(
            labels(&format!("{GM_HEAD}    params: [$0\n"), Model::None),
            ["__ALL__", "__ALL_PRUNABLE__"]
        );
    }

    #[test]
    fn variables_inside_eval() {
        let all = items(
            &format!("num_epochs: 10.0\nwarmup: 2.0\n{GM_HEAD}    end_epoch: eval(num$0\n"),
            Model::None,
            false,
        );
        let shown: Vec<(&str, Option<&str>)> = all
            .iter()
            .map(|i| (i.label.as_str(), i.detail.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [("num_epochs", Some("10.0")), ("warmup", Some("2.0"))]
        );
    }

    #[test]
    fn top_level_keys_at_the_margin() {
        let names = labels(&format!("{GM_HEAD}$0\n"), Model::None);
        assert!(names.contains(&"modifiers".to_string()), "{names:?}");
        assert!(!names.iter().any(|n| n.starts_with('<')), "{names:?}");
    }

    #[test]
    fn modules_for_ignore() {
        let names = labels(
            "modifiers:\n  - !QuantizationModifier\n    ignore: [$0\n",
            Model::Digits,
        );
        assert_eq!(names, ["conv1", "conv2", "fc1", "fc2"]);
    }

    #[test]
    fn scheme_keys_and_values() {
        let head = "modifiers:\n  - !QuantizationModifier\n    scheme:\n";
        let keys = labels(&format!("{head}      $0\n"), Model::None);
        assert_eq!(keys, catalog::SCHEME_KEYS);
        let args = labels(&format!("{head}      weights:\n        $0\n"), Model::None);
        assert_eq!(args, catalog::SCHEME_ARGS_KEYS);
        let strategies = labels(
            &format!("{head}      weights:\n        strategy: $0\n"),
            Model::None,
        );
        assert_eq!(strategies, catalog::QUANTIZATION_STRATEGIES);
    }

    #[test]
    fn nothing_for_an_unknown_field_value() {
        let f = fixture_with(&format!("{GM_HEAD}    no_such_field: $0\n"), Model::None);
        assert!(complete(&f.analysis, Encoding::Utf16, f.position, false).is_none());
    }
}

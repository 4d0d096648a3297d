//! Completion where only the staged layout (`<name>_stage: {<group>_modifiers: {ClassName:
//! {args}}}`) has something to offer: stage names at the margin, groups and SparseML 1.7's stage
//! keys inside a stage, class names inside a `*_modifiers` group, preset schemes, the keys of
//! `config_groups` schemes and their quantization arguments. Fields of a class and their values
//! come from the general completion, which reads the staged catalogue through `spec_of`.

use prunekit_core::recipe::catalog::{self, STAGE_KEYS};
use prunekit_core::recipe::lower::Layout;
use tower_lsp_server::ls_types::*;

use super::completion::{enclosing_keys, item, modules};
use crate::world::Analysis;

/// Stage and group names offered where a recipe starts one (any `*_stage` / `*_modifiers` works).
const STAGE_NAMES: &[&str] = &["sparsity_stage", "quant_stage", "train_stage"];
const GROUP_NAMES: &[&str] = &["pruning_modifiers", "sparsity_modifiers", "quant_modifiers"];

/// The keys of the block lines that enclose a line indented by `indent`, nearest first, the
/// top-level key included.
fn ancestors(text: &str, line_start: usize, indent: usize) -> Vec<&str> {
    enclosing_keys(text, line_start, indent)
        .into_iter()
        .map(|(_, k)| k)
        .collect()
}

fn keys(names: &[&str], kind: CompletionItemKind) -> Vec<CompletionItem> {
    names
        .iter()
        .map(|k| {
            let mut it = item(k, kind, None);
            it.insert_text = Some(format!("{k}: "));
            it
        })
        .collect()
}

fn values(names: &[&str]) -> Vec<CompletionItem> {
    names
        .iter()
        .map(|v| item(v, CompletionItemKind::ENUM_MEMBER, None))
        .collect()
}

fn classes(indent: usize) -> Vec<CompletionItem> {
    let field_indent = " ".repeat(indent + 2);
    catalog::STAGED_MODIFIERS
        .iter()
        .map(|class| {
            let spec = &class.spec;
            let tools = match class.tools {
                [tool] => format!("{tool} only"),
                _ => "llm-compressor, SparseML 1.7".to_string(),
            };
            let mut it = item(spec.name, CompletionItemKind::CLASS, Some(tools));
            it.documentation = Some(Documentation::String(spec.doc.to_string()));
            let required: String = spec
                .required_fields()
                .map(|f| format!("\n{field_indent}{}: ", f.name))
                .collect();
            it.insert_text = Some(format!("{}:{required}", spec.name));
            it.insert_text_mode = Some(InsertTextMode::AS_IS);
            it
        })
        .collect()
}

/// Staged completion at a line whose text before the cursor is `trimmed`, indented by `indent`;
/// `None` where the general completion answers.
pub fn complete(
    analysis: &Analysis,
    line_start: usize,
    indent: usize,
    trimmed: &str,
) -> Option<Vec<CompletionItem>> {
    let text = analysis.text.as_str();
    let parents = ancestors(text, line_start, indent);
    let staged = analysis.checked.recipe.layout == Layout::Staged
        || parents.last().is_some_and(|k| catalog::is_stage_key(k));
    if !staged {
        return None;
    }
    if let Some((key, _)) = trimmed.split_once(':') {
        let key = key.trim();
        let in_args = matches!(
            parents.as_slice(),
            [
                "weights" | "input_activations" | "output_activations",
                _,
                "config_groups",
                ..
            ] | ["kv_cache_scheme", ..]
        );
        return match key {
            "scheme" => Some(values(catalog::PRESET_SCHEMES)),
            "run_type" => Some(values(&["oneshot", "train"])),
            "targets" | "ignore" => Some(modules(analysis)),
            "type" if in_args => Some(values(catalog::QUANT_TYPES)),
            "strategy" if in_args => Some(values(catalog::QUANT_STRATEGIES)),
            "actorder" if in_args => Some(values(catalog::ACTIVATION_ORDERINGS)),
            "dynamic" if in_args => Some(values(&["true", "false", "local"])),
            "symmetric" if in_args => Some(values(&["true", "false"])),
            _ => None,
        };
    }
    match parents.as_slice() {
        [group, ..] if catalog::is_staged_group_key(group) => Some(classes(indent)),
        [stage] if catalog::is_stage_key(stage) => {
            let mut items = keys(GROUP_NAMES, CompletionItemKind::MODULE);
            for (key, doc) in STAGE_KEYS {
                let mut it = item(key, CompletionItemKind::KEYWORD, None);
                it.documentation = Some(Documentation::String(doc.to_string()));
                it.insert_text = Some(format!("{key}: "));
                items.push(it);
            }
            Some(items)
        }
        [_, "config_groups", ..] => Some(keys(
            catalog::QUANT_SCHEME_KEYS,
            CompletionItemKind::PROPERTY,
        )),
        [
            "weights" | "input_activations" | "output_activations",
            _,
            "config_groups",
            ..,
        ]
        | ["kv_cache_scheme", ..] => {
            Some(keys(catalog::QUANT_ARGS_KEYS, CompletionItemKind::PROPERTY))
        }
        [] if indent == 0 => Some(keys(STAGE_NAMES, CompletionItemKind::MODULE)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::completion::complete as complete_at;
    use crate::handlers::fixture::{Model, fixture_with};
    use crate::line_index::Encoding;

    fn labels(marked: &str) -> Vec<String> {
        let f = fixture_with(marked, Model::None);
        match complete_at(&f.analysis, Encoding::Utf16, f.position, false) {
            Some(CompletionResponse::Array(items)) => items.into_iter().map(|i| i.label).collect(),
            other => panic!("no completion list at the cursor of {marked:?}: {other:?}"),
        }
    }

    const RECIPE: &str = "\
quant_stage:
  quant_modifiers:
    GPTQModifier:
      scheme: W4A16
";

    #[test]
    fn class_names_under_a_modifiers_group() {
        let all = labels(&format!("{RECIPE}    $0\n"));
        assert!(all.contains(&"SparseGPTModifier".to_string()), "{all:?}");
        assert!(all.contains(&"QuantizationModifier".to_string()));
        assert!(!all.contains(&"GMPruningModifier".to_string()));
    }

    #[test]
    fn field_names_under_a_class_are_the_missing_ones() {
        let all = labels(&format!("{RECIPE}      $0\n"));
        assert!(all.contains(&"dampening_frac".to_string()), "{all:?}");
        assert!(all.contains(&"actorder".to_string()));
        assert!(!all.contains(&"scheme".to_string()), "already written");
    }

    #[test]
    fn values_of_staged_fields() {
        let schemes = labels(
            "quant_stage:\n  quant_modifiers:\n    QuantizationModifier:\n      scheme: $0\n",
        );
        assert!(schemes.contains(&"FP8_DYNAMIC".to_string()), "{schemes:?}");
        let orderings = labels(&format!("{RECIPE}      actorder: $0\n"));
        assert_eq!(orderings, ["group", "weight", "static", "dynamic"]);
    }

    #[test]
    fn groups_and_stage_keys_inside_a_stage() {
        let all = labels("quant_stage:\n  $0\n");
        assert!(all.contains(&"quant_modifiers".to_string()), "{all:?}");
        assert!(all.contains(&"run_type".to_string()));
    }

    #[test]
    fn quantization_arguments_inside_config_groups() {
        let text = "quant_stage:\n  quant_modifiers:\n    QuantizationModifier:\n      config_groups:\n        group_0:\n          weights:\n            $0\n";
        let all = labels(text);
        assert!(all.contains(&"num_bits".to_string()), "{all:?}");
        let keys = labels(
            "quant_stage:\n  quant_modifiers:\n    QuantizationModifier:\n      config_groups:\n        group_0:\n          $0\n",
        );
        assert!(keys.contains(&"input_activations".to_string()), "{keys:?}");
    }

    fn hover_text(marked: &str) -> String {
        let f = fixture_with(marked, Model::None);
        let hover = crate::handlers::hover::hover(&f.analysis, Encoding::Utf16, f.position, true)
            .expect("a hover");
        match hover.contents {
            HoverContents::Markup(m) => m.value,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hover_on_a_class_and_a_field() {
        let class = hover_text(
            "quant_stage:\n  quant_modifiers:\n    GPT$0QModifier:\n      scheme: W4A16\n",
        );
        assert!(class.contains("**GPTQModifier**"), "{class}");
        assert!(
            class.contains("stage `quant_stage` · group `quant`"),
            "{class}"
        );
        let field = hover_text(
            "quant_stage:\n  quant_modifiers:\n    GPTQModifier:\n      act$0order: group\n",
        );
        assert!(field.contains("**actorder**"), "{field}");
        assert!(field.contains("llm-compressor only"), "{field}");
    }

    #[test]
    fn symbols_are_stage_then_group_then_modifier() {
        let f = fixture_with(
            "sparsity_stage:\n  sparsity_modifiers:\n    SparseGPTModifier:\n      sparsity: 0.5\n      mask_structure: \"2:4\"\n  quant_modifiers:\n    GPTQModifier:\n      scheme: W4A16\n$0",
            Model::None,
        );
        let symbols = crate::handlers::symbols::symbols(&f.analysis, Encoding::Utf16);
        assert_eq!(symbols.len(), 1);
        let stage = &symbols[0];
        assert_eq!(stage.name, "sparsity_stage");
        let groups: Vec<&str> = stage
            .children
            .as_ref()
            .unwrap()
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(groups, ["sparsity_modifiers", "quant_modifiers"]);
        let first = &stage.children.as_ref().unwrap()[0]
            .children
            .as_ref()
            .unwrap()[0];
        assert_eq!(first.name, "SparseGPT 0.5 2:4");
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::fixture::{Fixture, Model, fixture_named, fixture_with};

    fn actions_at(f: &Fixture) -> Vec<CodeAction> {
        actions(&f.analysis, Encoding::Utf16, &f.uri, f.range)
            .into_iter()
            .map(|a| match a {
                CodeActionOrCommand::CodeAction(action) => action,
                CodeActionOrCommand::Command(c) => panic!("a command, not an edit: {c:?}"),
            })
            .collect()
    }

    /// The document's text after the action's edits.
    fn applied(f: &Fixture, action: &CodeAction) -> String {
        let changes = action.edit.as_ref().unwrap().changes.as_ref().unwrap();
        assert_eq!(changes.len(), 1, "edits one document");
        let convert = f.analysis.converter(Encoding::Utf16);
        let mut edits: Vec<(usize, usize, &str)> = changes[&f.uri]
            .iter()
            .map(|e| {
                (
                    convert.offset(e.range.start),
                    convert.offset(e.range.end),
                    e.new_text.as_str(),
                )
            })
            .collect();
        edits.sort_by_key(|e| std::cmp::Reverse(e.0));
        let mut text = f.analysis.text.to_string();
        for (start, end, new) in edits {
            text.replace_range(start..end, new);
        }
        text
    }

    /// The only quick fix at the cursor of `marked`, checked for its title; the text it makes.
    fn fix(marked: &str, model: Model, title: &str) -> String {
        let f = fixture_with(marked, model);
        let found = actions_at(&f);
        let titles: Vec<&str> = found.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(titles, [title], "{marked:?}");
        let action = &found[0];
        assert_eq!(action.kind, Some(CodeActionKind::QUICKFIX));
        assert_eq!(action.is_preferred, Some(true));
        let attached = action.diagnostics.as_ref().unwrap();
        assert_eq!(attached.len(), 1);
        applied(&f, action)
    }

    /// A complete GM modifier; `{}` is replaced by extra lines.
    fn gm(extra: &str) -> String {
        format!(
            "modifiers:\n  - !GMPruningModifier\n    init_sparsity: 0.05\n    final_sparsity: 0.9\n    start_epoch: 0.0\n    end_epoch: 10.0\n    update_frequency: 1.0\n    params: __ALL_PRUNABLE__\n{extra}"
        )
    }

    #[test]
    fn did_you_mean_a_modifier() {
        let fixed = fix(
            &gm("").replace("!GMPruningModifier", "!GMPruningModifer$0"),
            Model::None,
            "Change to !GMPruningModifier",
        );
        assert_eq!(fixed, gm(""));
    }

    #[test]
    fn did_you_mean_a_field() {
        let fixed = fix(
            &gm("    inter_fnuc$0: cubic\n"),
            Model::None,
            "Rename to inter_func",
        );
        assert_eq!(fixed, gm("    inter_func: cubic\n"));
    }

    #[test]
    fn did_you_mean_an_enum_value() {
        let fixed = fix(
            &gm("    inter_func: cubc$0\n"),
            Model::None,
            "Change to cubic",
        );
        assert_eq!(fixed, gm("    inter_func: cubic\n"));
    }

    #[test]
    fn did_you_mean_a_layer() {
        let marked = gm("").replace("__ALL_PRUNABLE__", "[conv1.weigth$0]");
        let fixed = fix(&marked, Model::Digits, "Change to conv1.weight");
        assert_eq!(fixed, gm("").replace("__ALL_PRUNABLE__", "[conv1.weight]"));
    }

    #[test]
    fn did_you_mean_a_variable() {
        let marked = format!(
            "num_epochs: 10.0\n{}",
            gm("").replace("end_epoch: 10.0", "end_epoch: eval(num_epoch$0)")
        );
        let fixed = fix(&marked, Model::None, "Use `num_epochs`");
        assert!(fixed.contains("end_epoch: eval(num_epochs)\n"), "{fixed}");
    }

    #[test]
    fn missing_fields_are_added() {
        let marked = "modifiers:\n  - !GMPruningModifier$0\n    init_sparsity: 0.05\n    final_sparsity: 0.9\n";
        let fixed = fix(marked, Model::None, "Add the missing fields");
        assert!(
            fixed.ends_with("    final_sparsity: 0.9\n    start_epoch: \n    end_epoch: \n    update_frequency: \n    params: \n"),
            "{fixed:?}"
        );
    }

    #[test]
    fn an_integer_where_sparseml_wants_a_float() {
        let marked = gm("").replace("init_sparsity: 0.05", "init_sparsity: 0$0");
        let fixed = fix(&marked, Model::None, "Write 0.0");
        assert_eq!(
            fixed,
            gm("").replace("init_sparsity: 0.05", "init_sparsity: 0.0")
        );
    }

    #[test]
    fn a_yaml_1_1_exponent() {
        let marked = gm("").replace("final_sparsity: 0.9", "final_sparsity: 9e-1$0");
        let fixed = fix(&marked, Model::None, "Write 9.0e-1");
        assert_eq!(
            fixed,
            gm("").replace("final_sparsity: 0.9", "final_sparsity: 9.0e-1")
        );
    }

    #[test]
    fn a_bare_layer_name_goes_in_a_list() {
        let marked = gm("").replace("__ALL_PRUNABLE__", "conv1.weight$0");
        let fixed = fix(&marked, Model::None, "Put it in a list");
        assert_eq!(
            fixed,
            gm("").replace("__ALL_PRUNABLE__", "['conv1.weight']")
        );
    }

    #[test]
    fn a_yaml_1_1_boolean_is_written_out() {
        let fixed = fix(&gm("    leave_enabled: yes$0\n"), Model::None, "Write true");
        assert_eq!(fixed, gm("    leave_enabled: true\n"));
    }

    #[test]
    fn a_base_60_lookalike_is_quoted() {
        let fixed = fix(&gm("    mask_type: 2:4$0\n"), Model::None, "Quote \"2:4\"");
        assert_eq!(fixed, gm("    mask_type: \"2:4\"\n"));
    }

    const QUANT: &str = "modifiers:\n  - !QuantizationModifier\n    start_epoch: 0.0\n";

    #[test]
    fn did_you_mean_a_quantization_scheme() {
        let fixed = fix(
            &format!("{QUANT}    scheme: deepspars$0\n"),
            Model::None,
            "Change to deepsparse",
        );
        assert_eq!(fixed, format!("{QUANT}    scheme: deepsparse\n"));
    }

    #[test]
    fn zero_bits_are_written_as_eight() {
        let scheme = "    scheme:\n      weights:\n        num_bits: ";
        let fixed = fix(&format!("{QUANT}{scheme}0$0\n"), Model::None, "Write 8");
        assert_eq!(fixed, format!("{QUANT}{scheme}8\n"));
    }

    #[test]
    fn fixes_are_offered_only_where_their_diagnostic_is() {
        // The misspelt field is on the last line; the cursor is on the tag.
        let f = fixture_with(
            &gm("    inter_fnuc: cubic\n").replace("!GMPruning", "!GM$0Pruning"),
            Model::None,
        );
        assert!(actions_at(&f).is_empty());
        // A selection over both lines reaches it.
        let f = fixture_with(
            &gm("    inter_fnuc: cubic$0\n").replace("!GMPruning", "!GM$0Pruning"),
            Model::None,
        );
        let titles: Vec<String> = actions_at(&f).into_iter().map(|a| a.title).collect();
        assert_eq!(titles, ["Rename to inter_func"]);
    }

    #[test]
    fn apply_optimization_rewrites_the_recipe_and_keeps_the_modeline() {
        let marked = format!(
            "# prunekit: model=digits_cnn.onnx\n{}",
            gm("").replacen("modifiers", "modi$0fiers", 1)
        );
        let f = fixture_with(&marked, Model::DigitsWithProject);
        let found = actions_at(&f);
        assert_eq!(
            found.len(),
            1,
            "{:?}",
            found.iter().map(|a| &a.title).collect::<Vec<_>>()
        );
        let action = &found[0];
        assert_eq!(action.kind, Some(CodeActionKind::SOURCE));
        assert_eq!(
            action.title,
            "Apply optimization 'balanced': 3 layers, 84.9% average sparsity"
        );
        let written = applied(&f, action);
        assert!(
            written.starts_with("# prunekit: model=digits_cnn.onnx\n"),
            "{written}"
        );
        assert!(written.contains("conv2.weight"), "{written}");
        assert_ne!(written, f.analysis.text.as_str());
    }

    #[test]
    fn no_optimization_is_applied_to_markdown_or_without_a_project() {
        let marked = format!("---\n{}---\n# Notes$0\n", gm(""));
        let f = fixture_named("model.recipe.md", &marked, Model::DigitsWithProject);
        assert!(actions_at(&f).is_empty());
        let f = fixture_with(&gm("$0"), Model::Digits);
        assert!(actions_at(&f).is_empty());
    }
}
